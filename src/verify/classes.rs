//! Address classes: every address the topology knows, grouped by a routing signature so that one
//! representative per class stands for all its members.
//!
//! See the [module documentation](super) for the definition of the signature.

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;
use std::rc::Rc;

use crate::model::AccountStatus;
use crate::route::{ForeignMta, MtaKind, Topology, ZimbraMta};

use crate::route::index::FxMap;

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

/// Per-foreign-MTA lookup tables, lower-cased and hashed (the simulator scans them linearly).
struct ForeignIdx {
    mailboxes: HashSet<Box<str>>,
    aliases: FxMap<Box<str>, Box<str>>,
    routes: FxMap<Box<str>, Box<str>>,
    hostname: String,
}

impl ForeignIdx {
    fn new(f: &ForeignMta, hostname: &str) -> ForeignIdx {
        ForeignIdx {
            mailboxes: f
                .mailboxes
                .iter()
                .map(|m| m.to_ascii_lowercase().into())
                .collect(),
            aliases: f
                .aliases
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase().into(), v.as_str().into()))
                .collect(),
            routes: f
                .routes
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase().into(), v.as_str().into()))
                .collect(),
            hostname: hostname.to_ascii_lowercase(),
        }
    }
}

enum MtaRef<'t> {
    Zimbra(&'t ZimbraMta),
    Foreign(ForeignIdx),
}

/// Split at the last `@`.
pub(crate) fn split(a: &str) -> (&str, &str) {
    match a.rfind('@') {
        Some(i) => (&a[..i], &a[i + 1..]),
        None => (a, ""),
    }
}

fn valid_address(a: &str) -> bool {
    let (l, d) = split(a);
    a.contains('@') && !l.is_empty() && !d.is_empty() && !a.contains(char::is_whitespace)
}

/// The classes of a set of topologies (one for `check`, two for `diff`, every stage for
/// `plan`): the signature concatenates every topology's, so a class routes alike in each.
pub(crate) struct Classes {
    pub classes: Vec<AddressClass>,
    pub addresses: u64,
}

/// What [`Classifier::run`] returns: the classes, the universe in enumeration order, each
/// address's position in it, and each address's class.
pub(crate) type Classified = (Classes, Vec<Rc<str>>, FxMap<Rc<str>, u32>, Vec<u32>);

pub(crate) struct Classifier<'t> {
    mtas: Rc<[MtaRef<'t>]>,
    /// The topology of each MTA of `mtas`.
    topo_of: Vec<usize>,
    topos: usize,
    /// Domain graph: a domain → the domains its addresses are rewritten into, local part kept.
    edges: FxMap<Box<str>, BTreeSet<Box<str>>>,
    closure: FxMap<Box<str>, Rc<[Box<str>]>>,
    /// The universe (in enumeration order), each address's position, and the class of each
    /// (`u32::MAX`: not yet).
    universe: Vec<Rc<str>>,
    position: FxMap<Rc<str>, u32>,
    class_idx: Vec<u32>,
    /// Classes of addresses outside the universe (none in practice: every value is enumerated).
    extra: FxMap<Box<str>, u32>,
    by_sig: FxMap<Box<str>, u32>,
    stack: Vec<String>,
    depth_now: usize,
    classes: Vec<AddressClass>,
    synthetic: HashSet<Box<str>>,
}

impl<'t> Classifier<'t> {
    pub fn new(topos: &[&'t Topology]) -> Classifier<'t> {
        let mut mtas = Vec::new();
        let mut topo_of = Vec::new();
        for (ti, t) in topos.iter().enumerate() {
            for m in t.mtas() {
                topo_of.push(ti);
                mtas.push(match &m.kind {
                    MtaKind::Zimbra(z) => MtaRef::Zimbra(z),
                    MtaKind::Foreign(f) => MtaRef::Foreign(ForeignIdx::new(f, &m.hostname)),
                });
            }
        }
        let mut c = Classifier {
            mtas: mtas.into(),
            topo_of,
            topos: topos.len(),
            edges: FxMap::default(),
            closure: FxMap::default(),
            universe: Vec::new(),
            position: FxMap::default(),
            class_idx: Vec::new(),
            extra: FxMap::default(),
            by_sig: FxMap::default(),
            stack: Vec::new(),
            depth_now: 0,
            classes: Vec::new(),
            synthetic: HashSet::new(),
        };
        c.build_edges();
        c
    }

    fn edge(&mut self, from: &str, to: &str) {
        let (from, to) = (from.to_ascii_lowercase(), to.to_ascii_lowercase());
        if from.is_empty() || to.is_empty() || from == to {
            return;
        }
        self.edges.entry(from.into()).or_default().insert(to.into());
    }

    /// Every rewrite that keeps the local part links the key's domain to the result's.
    fn build_edges(&mut self) {
        let mut pending: Vec<(String, String)> = Vec::new();
        for m in self.mtas.iter() {
            match m {
                MtaRef::Zimbra(z) => {
                    let idx = z.index();
                    for (map, canon) in [(&idx.vam, false), (&idx.canonical, true)] {
                        for (key, hits) in map.iter() {
                            let (kl, kd) = split(key);
                            for h in hits.iter() {
                                let Some(rec) = idx.rec(h.rec) else { continue };
                                let vals = if canon { &rec.canonical } else { &rec.vam };
                                for v in vals.iter() {
                                    let (vl, vd) = split(v);
                                    if v.starts_with('@')
                                        || (!kl.is_empty() && vl.eq_ignore_ascii_case(kl))
                                    {
                                        pending.push((kd.to_string(), vd.to_string()));
                                    }
                                }
                            }
                        }
                    }
                    for (a, t) in idx.alias_domains.iter() {
                        pending.push((a.to_string(), t.to_string()));
                    }
                }
                MtaRef::Foreign(f) => {
                    for (k, v) in f.aliases.iter() {
                        let ((kl, kd), (vl, vd)) = (split(k), split(v));
                        if kl.eq_ignore_ascii_case(vl) {
                            pending.push((kd.to_string(), vd.to_string()));
                        }
                    }
                }
            }
        }
        for (a, b) in pending {
            self.edge(&a, &b);
        }
    }

    /// The domains reachable from `d` through local-part-keeping rewrites (sorted, `d` first).
    fn closure(&mut self, d: &str) -> Rc<[Box<str>]> {
        if let Some(c) = self.closure.get(d) {
            return c.clone();
        }
        let mut seen: BTreeSet<Box<str>> = BTreeSet::new();
        let mut todo: Vec<Box<str>> = vec![d.into()];
        while let Some(x) = todo.pop() {
            if !seen.insert(x.clone()) {
                continue;
            }
            if let Some(next) = self.edges.get(&x) {
                todo.extend(next.iter().filter(|n| !seen.contains(*n)).cloned());
            }
        }
        seen.remove(d);
        let mut v: Vec<Box<str>> = vec![d.into()];
        v.extend(seen);
        let rc: Rc<[Box<str>]> = v.into();
        self.closure.insert(d.into(), rc.clone());
        rc
    }

    /// Every address the topologies know, the unknown probes and the unserved-domain probe.
    pub fn universe(&mut self, topos: &[&Topology]) {
        let set: FxMap<Rc<str>, u32> = FxMap::default();
        let list: Vec<Rc<str>> = Vec::new();
        let mut served: BTreeSet<String> = BTreeSet::new();
        let add = |(set, list): &mut (FxMap<Rc<str>, u32>, Vec<Rc<str>>), a: &str| {
            if a.starts_with('@') || !valid_address(a) {
                return;
            }
            let lc;
            let a = if a.bytes().any(|b| b.is_ascii_uppercase()) {
                lc = a.to_ascii_lowercase();
                lc.as_str()
            } else {
                a
            };
            if !set.contains_key(a) {
                let rc: Rc<str> = a.into();
                set.insert(rc.clone(), list.len() as u32);
                list.push(rc);
            }
        };
        let mut set = (set, list);
        for m in self.mtas.iter() {
            match m {
                MtaRef::Zimbra(z) => {
                    let idx = z.index();
                    // every key of ldap-vmm, ldap-transport and ldap-splitdomain is a key of
                    // ldap-vam too (an entry with a delivery or forwarding address has alias-map
                    // results), so the alias and canonical maps list them all
                    for map in [&idx.vam, &idx.canonical] {
                        for (k, hits) in map.iter() {
                            if let Some(d) = k.strip_prefix('@') {
                                served.insert(d.to_string());
                            } else {
                                add(&mut set, k);
                            }
                            for h in hits.iter() {
                                if let Some(r) = idx.rec(h.rec) {
                                    for v in r.vam.iter().chain(r.canonical.iter()) {
                                        add(&mut set, v);
                                    }
                                }
                            }
                        }
                    }
                    for k in idx.lmtp.keys() {
                        add(&mut set, k);
                    }
                    served.extend(idx.vmd.keys().map(|k| k.to_string()));
                    served.extend(idx.vad.keys().map(|k| k.to_string()));
                    served.extend(z.params.mydestination.iter().cloned());
                }
                MtaRef::Foreign(f) => {
                    for a in f.mailboxes.iter() {
                        add(&mut set, a);
                    }
                    for (k, v) in f.aliases.iter() {
                        add(&mut set, k);
                        add(&mut set, v);
                    }
                    for k in f.routes.keys() {
                        add(&mut set, k);
                    }
                }
            }
        }
        for t in topos {
            for m in t.mtas() {
                if let MtaKind::Foreign(f) = &m.kind {
                    served.extend(f.domains.iter().map(|d| d.to_ascii_lowercase()));
                }
            }
            served.extend(t.dns.mx.keys().cloned());
        }
        served.remove("");
        for d in &served {
            let mut local = UNKNOWN_LOCAL.to_string();
            let mut n = 1;
            while set.0.contains_key(format!("{local}@{d}").as_str()) {
                n += 1;
                local = format!("{UNKNOWN_LOCAL}-{n}");
            }
            let a = format!("{local}@{d}");
            self.synthetic.insert(a.as_str().into());
            add(&mut set, &a);
        }
        let mut d = UNSERVED_DOMAIN.to_string();
        while served.contains(&d) {
            d.insert(0, 'x');
        }
        let a = format!("{UNKNOWN_LOCAL}@{d}");
        self.synthetic.insert(a.as_str().into());
        add(&mut set, &a);
        let (position, universe) = set;
        self.position = position;
        self.universe = universe;
    }

    /// Classify every address of the universe; the representative of a class is its smallest
    /// member, and classes are numbered in the order of their representatives.
    pub fn run(mut self) -> Classified {
        self.class_idx = vec![u32::MAX; self.universe.len()];
        for i in 0..self.universe.len() {
            let c = self.class_at(i);
            let Some(a) = self.universe.get(i) else {
                continue;
            };
            if let Some(cls) = self.classes.get_mut(c as usize) {
                if cls.members == 0 || **a < *cls.representative {
                    cls.representative = a.to_string();
                }
                cls.members += 1;
                // the SAMPLE smallest members
                if cls.sample.len() < SAMPLE || cls.sample.last().is_some_and(|l| **a < **l) {
                    let at = cls.sample.partition_point(|x| **x < **a);
                    cls.sample.insert(at, a.to_string());
                    cls.sample.truncate(SAMPLE);
                }
            }
        }
        // number the classes by representative
        let mut order: Vec<usize> = (0..self.classes.len()).collect();
        order.sort_by(|x, y| {
            self.classes[*x]
                .representative
                .cmp(&self.classes[*y].representative)
        });
        let mut renum = vec![0u32; self.classes.len()];
        for (new, old) in order.iter().enumerate() {
            renum[*old] = new as u32;
        }
        let mut classes: Vec<AddressClass> = order
            .iter()
            .filter_map(|o| self.classes.get(*o).cloned())
            .collect();
        for (i, c) in classes.iter_mut().enumerate() {
            c.id = i;
            c.domain = split(&c.representative).1.to_string();
            c.synthetic = self.synthetic.contains(c.representative.as_str());
        }
        for c in self.class_idx.iter_mut() {
            *c = renum.get(*c as usize).copied().unwrap_or(u32::MAX);
        }
        let classes = Classes {
            addresses: self.universe.len() as u64,
            classes,
        };
        (classes, self.universe, self.position, self.class_idx)
    }

    /// The class of universe address number `i`.
    fn class_at(&mut self, i: usize) -> u32 {
        if let Some(c) = self.class_idx.get(i).copied().filter(|c| *c != u32::MAX) {
            return c;
        }
        let Some(addr) = self.universe.get(i).cloned() else {
            return u32::MAX;
        };
        let c = self.classify_new(&addr, 0);
        if let Some(slot) = self.class_idx.get_mut(i) {
            *slot = c;
        }
        c
    }

    /// The class of `addr` (lower case); `None` when `addr` is being classified already (a
    /// cycle of references) or references nest too deep: callers then use the literal address.
    fn class(&mut self, addr: &str, depth: usize) -> Option<u32> {
        let pos = self.position.get(addr).map(|p| *p as usize);
        let known = match pos {
            Some(i) => self.class_idx.get(i).copied().filter(|c| *c != u32::MAX),
            None => self.extra.get(addr).copied(),
        };
        if known.is_some() {
            return known;
        }
        if depth > MAX_DEPTH || self.stack[..self.depth_now].iter().any(|s| s == addr) {
            return None;
        }
        let c = self.classify_new(addr, depth);
        match pos.and_then(|i| self.class_idx.get_mut(i)) {
            Some(slot) => *slot = c,
            None => {
                self.extra.insert(addr.into(), c);
            }
        }
        Some(c)
    }

    fn classify_new(&mut self, addr: &str, depth: usize) -> u32 {
        if self.stack.len() <= self.depth_now {
            self.stack.push(String::new());
        }
        if let Some(slot) = self.stack.get_mut(self.depth_now) {
            slot.clear();
            slot.push_str(addr);
        }
        self.depth_now += 1;
        let (sig, exists) = self.signature(addr, depth);
        self.depth_now -= 1;
        match self.by_sig.get(sig.as_str()) {
            Some(id) => *id,
            None => {
                let id = self.classes.len() as u32;
                self.classes.push(AddressClass {
                    id: id as usize,
                    representative: String::new(),
                    domain: String::new(),
                    members: 0,
                    sample: Vec::new(),
                    exists: exists.iter().any(|(e, _)| *e),
                    synthetic: false,
                    mailbox_hosts: exists
                        .iter()
                        .flat_map(|(_, h)| h.iter().cloned())
                        .collect::<BTreeSet<String>>()
                        .into_iter()
                        .collect(),
                    per_topology: exists,
                });
                self.by_sig.insert(sig.into(), id);
                id
            }
        }
    }

    /// Write value `v` (a lookup result) relative to the address being classified.
    fn value(&mut self, out: &mut String, v: &str, local: &str, dom: &[Box<str>], depth: usize) {
        if v.starts_with('@') {
            let _ = write!(out, "{},", v.to_ascii_lowercase());
            return;
        }
        let (vl, vd) = split(v);
        let vd_lc = vd.to_ascii_lowercase();
        if vl.eq_ignore_ascii_case(local) && dom.iter().any(|d| **d == *vd_lc) {
            let _ = write!(out, "~@{vd_lc},");
            return;
        }
        let v_lc = v.to_ascii_lowercase();
        match self.class(&v_lc, depth + 1) {
            Some(c) => {
                let _ = write!(out, "#{c},");
            }
            None => {
                let _ = write!(out, "={v_lc},");
            }
        }
    }

    /// The routing signature of `addr` (see the module documentation), whether it has a
    /// mailbox somewhere, and where.
    #[allow(clippy::type_complexity)]
    fn signature(&mut self, addr: &str, depth: usize) -> (String, Vec<(bool, Vec<String>)>) {
        let (local, domain) = split(addr);
        let local = local.to_string();
        let dom = self.closure(domain);
        let mut out = String::with_capacity(128);
        let _ = write!(out, "{domain}|");
        let mut exists = vec![false; self.topos];
        let mut hosts: Vec<Vec<String>> = vec![Vec::new(); self.topos];
        let mut key = String::with_capacity(addr.len() + 16);
        let mtas = self.mtas.clone();
        for (di, d) in dom.iter().enumerate() {
            key.clear();
            let _ = write!(key, "{local}@{d}");
            for (mi, m) in mtas.iter().enumerate() {
                let ti = self.topo_of.get(mi).copied().unwrap_or(0);
                let _ = write!(out, "{mi}:");
                match m {
                    MtaRef::Zimbra(z) => {
                        let idx = z.index();
                        let delim = &z.params.recipient_delimiter;
                        if !delim.is_empty()
                            && local.find(|c| delim.contains(c)).is_some_and(|p| p > 0)
                        {
                            // `user+ext` lookups: this address is its own class
                            let _ = write!(out, "!{key}");
                        }
                        if let Some(h) = idx.canonical.get(key.as_str()) {
                            out.push_str("c[");
                            let first = h
                                .iter()
                                .filter_map(|h| idx.rec(h.rec))
                                .flat_map(|r| r.canonical.iter())
                                .next();
                            if let Some(v) = first {
                                self.value(&mut out, v, &local, &dom, depth);
                            }
                            out.push(']');
                        }
                        if let Some(h) = idx.vam.get(key.as_str()) {
                            out.push_str("v[");
                            let vals = || {
                                h.iter()
                                    .filter_map(|h| idx.rec(h.rec))
                                    .flat_map(|r| r.vam.iter())
                            };
                            for (i, v) in vals().enumerate() {
                                match vals().take(i).position(|w| w.eq_ignore_ascii_case(v)) {
                                    Some(first) => {
                                        let _ = write!(out, "^{first},");
                                    }
                                    None => self.value(&mut out, v, &local, &dom, depth),
                                }
                            }
                            out.push(']');
                        }
                        if let Some(h) = idx.transport.get(key.as_str()) {
                            out.push_str("t[");
                            for r in h.iter().filter_map(|h| idx.rec(h.rec)) {
                                for t in r.transport.iter() {
                                    let _ = write!(out, "{t},");
                                }
                            }
                            out.push(']');
                        }
                        if idx.vmm.contains_key(key.as_str()) {
                            out.push('m');
                        }
                        if idx.split.contains_key(key.as_str()) {
                            out.push('s');
                        }
                        if z.params.split_domain_check
                            && idx.split.contains_key(format!("{local}@").as_str())
                        {
                            out.push('u');
                        }
                        if let Some(l) = idx.lmtp.get(key.as_str()) {
                            out.push_str("l[");
                            out.push_str(l.status.map_or("-", |s| s.into()));
                            out.push(',');
                            for b in l.mail_host.as_deref().unwrap_or("").chars() {
                                out.push(b.to_ascii_lowercase());
                            }
                            out.push(',');
                            self.value(&mut out, &l.name, &local, &dom, depth);
                            out.push(']');
                            if di == 0
                                && !matches!(
                                    l.status,
                                    None | Some(AccountStatus::Closed | AccountStatus::Pending)
                                )
                            {
                                if let Some(e) = exists.get_mut(ti) {
                                    *e = true;
                                }
                            }
                            if di == 0 && l.name.eq_ignore_ascii_case(&key) {
                                if let Some(h) = idx.transport.get(key.as_str()) {
                                    for r in h.iter().filter_map(|h| idx.rec(h.rec)) {
                                        if let Some(rest) = r
                                            .transport
                                            .first()
                                            .and_then(|t| t.strip_prefix("lmtp:"))
                                        {
                                            let host = rest
                                                .trim_start_matches('[')
                                                .split([':', ']'])
                                                .next()
                                                .unwrap_or("");
                                            if let Some(hs) = hosts.get_mut(ti) {
                                                if !hs.iter().any(|x| x.eq_ignore_ascii_case(host))
                                                {
                                                    hs.push(host.to_ascii_lowercase());
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    MtaRef::Foreign(f) => {
                        if f.aliases.is_empty() {
                        } else if let Some(v) = f.aliases.get(key.as_str()) {
                            out.push_str("a[");
                            self.value(&mut out, v, &local, &dom, depth);
                            out.push(']');
                        }
                        if f.routes.is_empty() {
                        } else if let Some(r) = f.routes.get(key.as_str()) {
                            let _ = write!(out, "r[{r}]");
                        }
                        if !f.mailboxes.is_empty() && f.mailboxes.contains(key.as_str()) {
                            out.push('b');
                            if di == 0 {
                                if let Some(e) = exists.get_mut(ti) {
                                    *e = true;
                                }
                                if let Some(hs) = hosts.get_mut(ti) {
                                    if !hs.contains(&f.hostname) {
                                        hs.push(f.hostname.clone());
                                    }
                                }
                            }
                        }
                    }
                }
                out.push(';');
            }
        }
        if self.synthetic.contains(addr) {
            out.push_str("|probe");
        }
        let per = exists
            .into_iter()
            .zip(hosts)
            .map(|(e, mut h)| {
                h.sort();
                (e, h)
            })
            .collect();
        (out, per)
    }
}
