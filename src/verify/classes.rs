//! Address classes: every address the topology knows, grouped by a routing signature so that one
//! representative per class stands for all its members.
//!
//! See the [module documentation](super) for the definition of the signature.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::route::index::{key_hash, FxMap};
use crate::route::Topology;

use super::signature::{ref_text, Lookup, PerTopology, Ref, Scratch, Skel, Templates};
use super::universe::{self, AddrSet};

/// Local part of the synthetic "unknown recipient" probed in every served domain.
pub(crate) const UNKNOWN_LOCAL: &str = "no-such-user";
/// The domain nobody serves (RFC 2606 `.invalid`).
pub(crate) const UNSERVED_DOMAIN: &str = "unserved-domain.invalid";
/// Nesting of class references (alias → target → ...) before a literal is used instead.
const MAX_DEPTH: usize = 48;

/// One class of addresses that route alike everywhere in the topology (or topologies).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AddressClass {
    /// Class number (stable for one input).
    pub id: usize,
    /// The smallest member address (lower case): the one simulated.
    pub representative: String,
    /// The representative's domain.
    pub domain: String,
    /// Number of member addresses.
    pub members: u64,
    /// Up to [`SAMPLE`] members, smallest first (the representative is the first).
    pub sample: Vec<String>,
    /// Whether the members have a mailbox somewhere: a Zimbra account (or alias of one) whose
    /// status is not `closed`/`pending`, or a foreign MTA mailbox.
    pub exists: bool,
    /// Whether the members are the synthetic unknown recipient of a domain
    /// (`no-such-user@domain`) or of a domain nobody serves.
    pub synthetic: bool,
    /// The hosts holding a mailbox for the members: Zimbra accounts with an `lmtp:` transport
    /// (by LMTP host) and foreign MTA mailboxes (by host name).
    pub mailbox_hosts: Vec<String>,
    /// `(exists, mailbox_hosts)` in each topology classified (jointly for diffs and plans).
    #[serde(skip)]
    pub(crate) per_topology: Vec<(bool, Vec<String>)>,
}

impl AddressClass {
    /// This class as seen in topology `k` of a joint classification.
    pub(crate) fn in_topology(&self, k: usize) -> AddressClass {
        let mut c = self.clone();
        if let Some((e, h)) = self.per_topology.get(k) {
            c.exists = *e;
            c.mailbox_hosts = h.clone();
        }
        c
    }
}

/// How many members an [`AddressClass`] lists.
pub const SAMPLE: usize = 8;

/// Split at the last `@`.
pub(crate) fn split(a: &str) -> (&str, &str) {
    match a.rfind('@') {
        Some(i) => (&a[..i], &a[i + 1..]),
        None => (a, ""),
    }
}

/// The classes of a set of topologies (one for `check`, two for `diff`, every stage for
/// `plan`): the signature concatenates every topology's, so a class routes alike in each.
pub(crate) struct Classes {
    pub classes: Vec<AddressClass>,
    pub addresses: u64,
}

/// What [`Classifier::run`] returns: the classes, the universe (in enumeration order) and each
/// address's class.
pub(crate) type Classified = (Classes, AddrSet, Vec<u32>);

pub(crate) struct Classifier<'t> {
    look: Lookup<'t>,
    universe: AddrSet,
    threads: usize,
}

impl<'t> Classifier<'t> {
    /// A classifier of `topos` running on `threads` threads (at least one).
    pub fn new(topos: &[&'t Topology], threads: usize) -> Classifier<'t> {
        Classifier {
            look: Lookup::new(topos),
            universe: AddrSet::default(),
            threads,
        }
    }

    /// Every address the topologies know, the unknown probes and the unserved-domain probe;
    /// the domain graph.
    pub fn universe(&mut self, topos: &[&Topology]) {
        self.universe = universe::enumerate(&mut self.look, topos, self.threads);
    }

    /// Classify every address of the universe (templates on `threads` threads, classes in
    /// enumeration order); the representative of a class is its smallest member, and classes
    /// are numbered in the order of their representatives.
    pub fn run(self) -> Classified {
        let tpl = Templates::build(&self.look, &self.universe, self.threads);
        let mut r = Resolver {
            look: &self.look,
            universe: &self.universe,
            tpl: &tpl,
            class_idx: vec![u32::MAX; self.universe.len()],
            extra: FxMap::default(),
            by_sig: FxMap::default(),
            skel_class: vec![u32::MAX; tpl.skels.len()],
            by_classes: FxMap::default(),
            key: Vec::new(),
            stack: Vec::new(),
            holes: Vec::new(),
            sig: String::new(),
            classes: Vec::new(),
        };
        for i in 0..self.universe.len() {
            let c = r.class_at(i);
            let a = self.universe.get(i);
            if let Some(cls) = r.classes.get_mut(c as usize) {
                if cls.members == 0 || *a < *cls.representative {
                    cls.representative = a.to_string();
                }
                cls.members += 1;
                // the SAMPLE smallest members
                if cls.sample.len() < SAMPLE || cls.sample.last().is_some_and(|l| *a < **l) {
                    let at = cls.sample.partition_point(|x| **x < *a);
                    cls.sample.insert(at, a.to_string());
                    cls.sample.truncate(SAMPLE);
                }
            }
        }
        let (mut class_idx, found) = (r.class_idx, r.classes);
        drop(tpl);
        // number the classes by representative
        let mut order: Vec<usize> = (0..found.len()).collect();
        order.sort_by(|x, y| found[*x].representative.cmp(&found[*y].representative));
        let mut renum = vec![0u32; found.len()];
        for (new, old) in order.iter().enumerate() {
            renum[*old] = new as u32;
        }
        let mut classes: Vec<AddressClass> = order
            .iter()
            .filter_map(|o| found.get(*o).cloned())
            .collect();
        for (i, c) in classes.iter_mut().enumerate() {
            c.id = i;
            c.domain = split(&c.representative).1.to_string();
            c.synthetic = self.look.synthetic.contains(c.representative.as_str());
        }
        for c in class_idx.iter_mut() {
            *c = renum.get(*c as usize).copied().unwrap_or(u32::MAX);
        }
        let classes = Classes {
            addresses: self.universe.len() as u64,
            classes,
        };
        (classes, self.universe, class_idx)
    }
}

/// An address being classified: a universe number or (a value that is not enumerated) its text.
#[derive(Debug, PartialEq, Eq)]
enum Frame {
    Pos(u32),
    Extra(Box<str>),
}

/// Turns templates into classes, in enumeration order (see `signature`).
struct Resolver<'a, 't> {
    look: &'a Lookup<'t>,
    universe: &'a AddrSet,
    tpl: &'a Templates,
    /// The class of each universe address (`u32::MAX`: not yet).
    class_idx: Vec<u32>,
    /// Classes of addresses outside the universe (values that are not addresses, like an empty
    /// forwarding address).
    extra: FxMap<Box<str>, u32>,
    by_sig: FxMap<Box<str>, u32>,
    /// The class of each skeleton without holes, once known (its signature is its text).
    skel_class: Vec<u32>,
    /// The class of a skeleton whose holes are classes, by `[skeleton, classes...]`.
    by_classes: FxMap<Box<[u32]>, u32>,
    key: Vec<u32>,
    /// The addresses being classified (a reference back to one is a cycle).
    stack: Vec<Frame>,
    /// The classes found for the holes of the templates being classified (`None`: literal).
    holes: Vec<Option<u32>>,
    sig: String,
    classes: Vec<AddressClass>,
}

impl Resolver<'_, '_> {
    /// The class of universe address number `i`.
    fn class_at(&mut self, i: usize) -> u32 {
        if let Some(c) = self.class_idx.get(i).copied().filter(|c| *c != u32::MAX) {
            return c;
        }
        let c = self.classify_new(Frame::Pos(i as u32), 0);
        if let Some(slot) = self.class_idx.get_mut(i) {
            *slot = c;
        }
        c
    }

    /// The class of the address `r` refers to; `None` when it is being classified already (a
    /// cycle of references) or references nest too deep: callers then use the literal address.
    fn class(&mut self, r: Ref, extra: &str, depth: usize) -> Option<u32> {
        let text = ref_text(r, self.universe, extra);
        let known = match r {
            Ref::Pos(p) => self
                .class_idx
                .get(p as usize)
                .copied()
                .filter(|c| *c != u32::MAX),
            Ref::Extra { .. } => self.extra.get(text).copied(),
        };
        if known.is_some() {
            return known;
        }
        let frame = match r {
            Ref::Pos(p) => Frame::Pos(p),
            Ref::Extra { .. } => Frame::Extra(text.into()),
        };
        if depth > MAX_DEPTH || self.stack.contains(&frame) {
            return None;
        }
        let c = self.classify_new(frame, depth);
        match r {
            Ref::Pos(p) => {
                if let Some(slot) = self.class_idx.get_mut(p as usize) {
                    *slot = c;
                }
            }
            Ref::Extra { .. } => {
                self.extra.insert(text.into(), c);
            }
        }
        Some(c)
    }

    fn classify_new(&mut self, frame: Frame, depth: usize) -> u32 {
        let (tpl, universe) = (self.tpl, self.universe);
        match frame {
            Frame::Pos(i) => {
                let Some(t) = tpl.get(i as usize) else {
                    return u32::MAX;
                };
                let Some(skel) = tpl.skels.get(t.skel as usize) else {
                    return u32::MAX;
                };
                if skel.holes.is_empty() {
                    if let Some(c) = self.skel_class.get(t.skel as usize) {
                        if *c != u32::MAX {
                            return *c;
                        }
                    }
                }
                let c = self.resolve(skel, Some(t.skel), t.refs, t.extra, frame, depth);
                if skel.holes.is_empty() {
                    if let Some(slot) = self.skel_class.get_mut(t.skel as usize) {
                        *slot = c;
                    }
                }
                c
            }
            Frame::Extra(ref text) => {
                // not enumerated: its template now
                let mut s = Scratch::default();
                self.look.template(text, key_hash(text), universe, &mut s);
                self.resolve(&s.skel, None, &s.refs, &s.extra, frame, depth)
            }
        }
    }

    /// The class of the address `frame` whose template is `skel` (number `id`, if interned)
    /// with `refs`.
    fn resolve(
        &mut self,
        skel: &Skel,
        id: Option<u32>,
        refs: &[Ref],
        extra: &str,
        frame: Frame,
        depth: usize,
    ) -> u32 {
        self.stack.push(frame);
        let base = self.holes.len();
        for r in refs {
            let c = self.class(*r, extra, depth + 1);
            self.holes.push(c);
        }
        self.stack.pop();
        // a skeleton whose holes are classes: its signature is known by the class numbers
        let cached = match (id, self.holes.get(base..)) {
            (Some(id), Some(found)) if !found.is_empty() && found.iter().all(Option::is_some) => {
                self.key.clear();
                self.key.push(id);
                self.key.extend(found.iter().map(|c| c.unwrap_or_default()));
                match self.by_classes.get(self.key.as_slice()) {
                    Some(c) => {
                        self.holes.truncate(base);
                        return *c;
                    }
                    None => true,
                }
            }
            _ => false,
        };
        self.sig.clear();
        let mut at = 0;
        for (k, (h, r)) in skel.holes.iter().zip(refs).enumerate() {
            let h = *h as usize;
            self.sig.push_str(skel.sig.get(at..h).unwrap_or(""));
            at = h;
            match self.holes.get(base + k).copied().flatten() {
                Some(c) => {
                    let _ = write!(self.sig, "#{c},");
                }
                None => {
                    let _ = write!(self.sig, "={},", ref_text(*r, self.universe, extra));
                }
            }
        }
        self.sig.push_str(skel.sig.get(at..).unwrap_or(""));
        self.holes.truncate(base);
        let id = self.class_of_sig(&skel.per);
        if cached {
            self.by_classes.insert(self.key.as_slice().into(), id);
        }
        id
    }

    /// The class of the signature in `self.sig` (a new one, where the members have a mailbox
    /// as `per` says, if it is new).
    fn class_of_sig(&mut self, per: &PerTopology) -> u32 {
        if let Some(id) = self.by_sig.get(self.sig.as_str()) {
            return *id;
        }
        let id = self.classes.len() as u32;
        let per = per.clone();
        self.classes.push(AddressClass {
            id: id as usize,
            representative: String::new(),
            domain: String::new(),
            members: 0,
            sample: Vec::new(),
            exists: per.iter().any(|(e, _)| *e),
            synthetic: false,
            mailbox_hosts: per
                .iter()
                .flat_map(|(_, h)| h.iter().cloned())
                .collect::<BTreeSet<String>>()
                .into_iter()
                .collect(),
            per_topology: per,
        });
        self.by_sig.insert(self.sig.as_str().into(), id);
        id
    }
}
