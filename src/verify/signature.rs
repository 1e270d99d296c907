//! Routing signatures (see the [module documentation](super)), in two steps.
//!
//! 1. **Templates**, on all cores: what every lookup table of every MTA returns for an address
//!    and the domains of its closure, written relative to the address. A template is a
//!    [`Skel`] (the text, with *holes* where another address is referred to, and where the
//!    members have a mailbox) and the addresses referred to ([`Ref`]s). A template depends on
//!    the address and the topologies only, so templates are computed in any order, on any
//!    number of threads; the few distinct skeletons are interned, an address keeps a skeleton
//!    number and its refs.
//! 2. **Classes**, in enumeration order on one thread (`classes`): a hole becomes the class of
//!    the address it refers to (classified first if it is not yet), or the address itself when
//!    the references form a cycle — which depends on the order, so this step keeps it.

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::model::AccountStatus;
use crate::route::index::{key_hash, FxMap, Hit, LmtpKey, MtaIndex, Table};
use crate::route::{ForeignMta, MtaKind, Topology, ZimbraMta};

use super::classes::split;
use super::universe::AddrSet;

/// Per-foreign-MTA lookup tables, lower-cased and hashed (the simulator scans them linearly).
pub(crate) struct ForeignIdx {
    /// The mailboxes (lower case) in the order the MTA lists them, each once.
    pub mailbox_list: Vec<Box<str>>,
    pub mailboxes: HashSet<Box<str>>,
    pub aliases: FxMap<Box<str>, Box<str>>,
    pub routes: FxMap<Box<str>, Box<str>>,
    hostname: String,
}

impl ForeignIdx {
    fn new(f: &ForeignMta, hostname: &str) -> ForeignIdx {
        let mut mailboxes = HashSet::new();
        let mut mailbox_list = Vec::new();
        for m in &f.mailboxes {
            let m: Box<str> = m.to_ascii_lowercase().into();
            if mailboxes.insert(m.clone()) {
                mailbox_list.push(m);
            }
        }
        ForeignIdx {
            mailbox_list,
            mailboxes,
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

pub(crate) enum MtaRef<'t> {
    Zimbra(&'t ZimbraMta),
    Foreign(ForeignIdx),
}

/// Whether `a` is the first of `list` (by address) with its index: MTAs reading one directory
/// share one index, which is enumerated once.
fn first_with_index(list: &[MtaRef<'_>], at: usize, idx: &MtaIndex) -> bool {
    !list.iter().take(at).any(|m| match m {
        MtaRef::Zimbra(z) => std::ptr::eq(z.index(), idx),
        MtaRef::Foreign(_) => false,
    })
}

/// The domain pair `(from, to)` that the result `v` of a map lookup of `key` adds to the
/// domain graph: a rewrite that keeps the local part (a catch-all `@d → @e`, `local@d →
/// local@e`) links the key's domain to the result's. Most values are the key itself: none.
/// `key` is given split at its last `@`.
pub(crate) fn rewrite_pair<'a>(
    (kl, kd): (&'a str, &'a str),
    v: &'a str,
) -> Option<(&'a str, &'a str)> {
    let (vl, vd) = split(v);
    ((v.starts_with('@') || (!kl.is_empty() && vl.eq_ignore_ascii_case(kl)))
        && !kd.eq_ignore_ascii_case(vd))
    .then_some((kd, vd))
}

/// An address a template refers to: a number of the universe, or (a value that is not an
/// enumerated address) its text in the template's `extra` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ref {
    Pos(u32),
    Extra { start: u32, len: u32 },
}

/// Whether the members have a mailbox, and on which hosts, in each topology.
pub(crate) type PerTopology = Vec<(bool, Vec<String>)>;

/// A signature with holes: the text, where the references go, and where the members have a
/// mailbox (not part of the signature: the class takes it from the address that creates it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct Skel {
    /// The signature text without the references.
    pub sig: String,
    /// Where each reference goes in `sig` (byte offsets, ascending).
    pub holes: Vec<u32>,
    /// See [`PerTopology`].
    pub per: PerTopology,
}

/// A template under construction (one per thread, reused address after address).
#[derive(Default)]
pub(crate) struct Scratch<'t> {
    pub skel: Skel,
    pub refs: Vec<Ref>,
    pub extra: String,
    key: String,
    local_at: String,
    /// The answers of [`Lookup::hit_tables`] to the key being looked up.
    hits: Vec<Option<&'t [Hit]>>,
    /// The answers of [`Lookup::lmtp_tables`].
    lmtp: Vec<Option<&'t [LmtpKey]>>,
}

/// The per-address tables of a Zimbra MTA's index, in the order of [`Lookup::hit_tables`].
const CANONICAL: usize = 0;
const VAM: usize = 1;
const TRANSPORT: usize = 2;
const VMM: usize = 3;
const SPLIT: usize = 4;
const HIT_TABLES: usize = 5;

fn hit_tables(idx: &MtaIndex) -> [&Table<Hit>; HIT_TABLES] {
    [
        &idx.canonical,
        &idx.vam,
        &idx.transport,
        &idx.vmm,
        &idx.split,
    ]
}

/// Everything a template reads: the MTAs of the topologies, the domain closures and the
/// synthetic probes. Shared (read-only) by the threads.
pub(crate) struct Lookup<'t> {
    pub mtas: Vec<MtaRef<'t>>,
    /// The topology of each MTA of `mtas`.
    topo_of: Vec<usize>,
    /// `"0:"`, `"1:"`, ... for each MTA.
    tags: Vec<String>,
    pub topos: usize,
    /// Domain graph: a domain → the domains its addresses are rewritten into, local part kept.
    edges: FxMap<Box<str>, BTreeSet<Box<str>>>,
    /// The closure of every domain with edges, without the domain itself (sorted).
    closures: FxMap<Box<str>, Box<[Box<str>]>>,
    /// The synthetic unknown-recipient probes.
    pub synthetic: HashSet<Box<str>>,
    /// The per-address tables of the Zimbra MTAs (`HIT_TABLES` each, in MTA order): one key is
    /// looked up in all of them at once ([`Table::get_many`]).
    hit_tables: Vec<&'t Table<Hit>>,
    /// The LMTP key tables of the Zimbra MTAs.
    lmtp_tables: Vec<&'t Table<LmtpKey>>,
    /// The number of each Zimbra MTA among the Zimbra MTAs (its tables' place).
    zimbra_at: Vec<usize>,
}

impl<'t> Lookup<'t> {
    /// The lookups of `topos`, without domain graph yet (see [`Lookup::set_domain_graph`]).
    pub fn new(topos: &[&'t Topology]) -> Lookup<'t> {
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
        let (mut hits, mut lmtp, mut zimbra_at) = (Vec::new(), Vec::new(), Vec::new());
        for m in &mtas {
            zimbra_at.push(lmtp.len());
            if let MtaRef::Zimbra(z) = m {
                let z: &'t ZimbraMta = z;
                hits.extend(hit_tables(z.index()));
                lmtp.push(z.index().lmtp.key_table());
            }
        }
        Lookup {
            tags: (0..mtas.len()).map(|i| format!("{i}:")).collect(),
            hit_tables: hits,
            lmtp_tables: lmtp,
            zimbra_at,
            mtas,
            topo_of,
            topos: topos.len(),
            edges: FxMap::default(),
            closures: FxMap::default(),
            synthetic: HashSet::new(),
        }
    }

    /// The domain graph from the domain pairs `(from, to)` of every rewrite that keeps the
    /// local part (see [`rewrite_pair`]), and the closure of every domain.
    pub fn set_domain_graph<'p>(&mut self, pairs: impl IntoIterator<Item = (&'p str, &'p str)>) {
        for (from, to) in pairs {
            if from.is_empty() || to.is_empty() || from.eq_ignore_ascii_case(to) {
                continue;
            }
            self.edges
                .entry(from.to_ascii_lowercase().into())
                .or_default()
                .insert(to.to_ascii_lowercase().into());
        }
        self.closures = self
            .edges
            .keys()
            .map(|d| (d.clone(), self.closure_of(d)))
            .collect();
    }

    /// Whether MTA `at` is the first reading its index (the others add nothing new to a set).
    pub fn first_with_index(&self, at: usize, idx: &MtaIndex) -> bool {
        first_with_index(&self.mtas, at, idx)
    }

    /// The domains reachable from `d` through local-part-keeping rewrites, `d` left out.
    fn closure_of(&self, d: &str) -> Box<[Box<str>]> {
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
        seen.into_iter().collect()
    }

    /// The closure of `d` without `d` (sorted): its domains follow `d` in a signature.
    fn closure(&self, d: &str) -> &[Box<str>] {
        self.closures.get(d).map_or(&[], |c| &c[..])
    }

    /// The template of `addr` (lower case; `hash` its [`key_hash`]) into `s`.
    pub fn template(&self, addr: &str, hash: u64, universe: &AddrSet, s: &mut Scratch<'t>) {
        let Scratch {
            skel,
            refs,
            extra,
            key: keybuf,
            local_at,
            hits: found,
            lmtp: found_lmtp,
        } = s;
        skel.sig.clear();
        skel.holes.clear();
        refs.clear();
        extra.clear();
        skel.per.resize_with(self.topos, Default::default);
        for (e, h) in skel.per.iter_mut() {
            *e = false;
            h.clear();
        }
        let (local, domain) = split(addr);
        let more = self.closure(domain);
        let mut out = Out {
            skel,
            refs,
            extra,
            universe,
            local,
            domain,
            more,
        };
        out.skel.sig.push_str(domain);
        out.skel.sig.push('|');
        let mut local_at_hash = None;
        for di in 0..=more.len() {
            let (key, h) = match di.checked_sub(1).and_then(|i| more.get(i)) {
                None => (addr, hash),
                Some(d) => {
                    keybuf.clear();
                    keybuf.push_str(local);
                    keybuf.push('@');
                    keybuf.push_str(d);
                    (keybuf.as_str(), key_hash(keybuf))
                }
            };
            Table::get_many(&self.hit_tables, key, h, found);
            Table::get_many(&self.lmtp_tables, key, h, found_lmtp);
            for (mi, m) in self.mtas.iter().enumerate() {
                let ti = self.topo_of.get(mi).copied().unwrap_or(0);
                let zi = self.zimbra_at.get(mi).copied().unwrap_or(0);
                let hit = |t: usize| found.get(zi * HIT_TABLES + t).copied().flatten();
                out.skel
                    .sig
                    .push_str(self.tags.get(mi).map_or("", |t| t.as_str()));
                match m {
                    MtaRef::Zimbra(z) => {
                        let idx = z.index();
                        let delim = &z.params.recipient_delimiter;
                        if !delim.is_empty()
                            && local.find(|c| delim.contains(c)).is_some_and(|p| p > 0)
                        {
                            // `user+ext` lookups: this address is its own class
                            out.skel.sig.push('!');
                            out.skel.sig.push_str(key);
                        }
                        if let Some(hits) = hit(CANONICAL) {
                            out.skel.sig.push_str("c[");
                            let first = hits
                                .iter()
                                .filter_map(|h| idx.rec(h.rec))
                                .flat_map(|r| r.canonical.iter())
                                .next();
                            if let Some(v) = first {
                                out.value(v);
                            }
                            out.skel.sig.push(']');
                        }
                        if let Some(hits) = hit(VAM) {
                            out.skel.sig.push_str("v[");
                            out.vam_values(
                                hits.iter()
                                    .filter_map(|h| idx.rec(h.rec))
                                    .flat_map(|r| r.vam.iter()),
                            );
                            out.skel.sig.push(']');
                        }
                        let transport = hit(TRANSPORT);
                        if let Some(hits) = transport {
                            out.skel.sig.push_str("t[");
                            for r in hits.iter().filter_map(|h| idx.rec(h.rec)) {
                                for t in r.transport.iter() {
                                    out.skel.sig.push_str(t);
                                    out.skel.sig.push(',');
                                }
                            }
                            out.skel.sig.push(']');
                        }
                        if hit(VMM).is_some() {
                            out.skel.sig.push('m');
                        }
                        if hit(SPLIT).is_some() {
                            out.skel.sig.push('s');
                        }
                        if z.params.split_domain_check {
                            let lh = *local_at_hash.get_or_insert_with(|| {
                                local_at.clear();
                                local_at.push_str(local);
                                local_at.push('@');
                                key_hash(local_at)
                            });
                            if idx.split.get_hashed(local_at, lh).is_some() {
                                out.skel.sig.push('u');
                            }
                        }
                        let l = found_lmtp.get(zi).copied().flatten();
                        if let Some(l) = l.and_then(|a| idx.lmtp.account(a)) {
                            out.skel.sig.push_str("l[");
                            out.skel.sig.push_str(l.status.map_or("-", |s| s.into()));
                            out.skel.sig.push(',');
                            out.push_lower(l.mail_host.as_deref().unwrap_or(""));
                            out.skel.sig.push(',');
                            out.value(&l.name);
                            out.skel.sig.push(']');
                            if di == 0 {
                                let (exists, hosts) = out.per(ti);
                                if !matches!(
                                    l.status,
                                    None | Some(AccountStatus::Closed | AccountStatus::Pending)
                                ) {
                                    *exists = true;
                                }
                                if l.name.eq_ignore_ascii_case(key) {
                                    lmtp_hosts(idx, transport.unwrap_or(&[]), hosts);
                                }
                            }
                        }
                    }
                    MtaRef::Foreign(f) => {
                        if f.aliases.is_empty() {
                        } else if let Some(v) = f.aliases.get(key) {
                            out.skel.sig.push_str("a[");
                            out.value(v);
                            out.skel.sig.push(']');
                        }
                        if f.routes.is_empty() {
                        } else if let Some(r) = f.routes.get(key) {
                            out.skel.sig.push_str("r[");
                            out.skel.sig.push_str(r);
                            out.skel.sig.push(']');
                        }
                        if !f.mailboxes.is_empty() && f.mailboxes.contains(key) {
                            out.skel.sig.push('b');
                            if di == 0 {
                                let (exists, hosts) = out.per(ti);
                                *exists = true;
                                if !hosts.contains(&f.hostname) {
                                    hosts.push(f.hostname.clone());
                                }
                            }
                        }
                    }
                }
                out.skel.sig.push(';');
            }
        }
        if self.synthetic.contains(addr) {
            out.skel.sig.push_str("|probe");
        }
        for (_, h) in out.skel.per.iter_mut() {
            h.sort();
        }
    }
}

/// The LMTP hosts of an account's transports (`lmtp:host:port`), added to `hosts`.
fn lmtp_hosts(idx: &MtaIndex, transport: &[crate::route::index::Hit], hosts: &mut Vec<String>) {
    for r in transport.iter().filter_map(|h| idx.rec(h.rec)) {
        if let Some(rest) = r.transport.first().and_then(|t| t.strip_prefix("lmtp:")) {
            let host = rest
                .trim_start_matches('[')
                .split([':', ']'])
                .next()
                .unwrap_or("");
            if !hosts.iter().any(|x| x.eq_ignore_ascii_case(host)) {
                hosts.push(host.to_ascii_lowercase());
            }
        }
    }
}

/// Where a template is written, and what its values are relative to.
struct Out<'s, 'u> {
    skel: &'s mut Skel,
    refs: &'s mut Vec<Ref>,
    extra: &'s mut String,
    universe: &'u AddrSet,
    local: &'u str,
    domain: &'u str,
    /// The closure of `domain` after `domain`.
    more: &'u [Box<str>],
}

impl Out<'_, '_> {
    fn per(&mut self, ti: usize) -> (&mut bool, &mut Vec<String>) {
        if self.skel.per.len() <= ti {
            self.skel.per.resize_with(ti + 1, Default::default);
        }
        let (e, h) = &mut self.skel.per[ti];
        (e, h)
    }

    fn push_lower(&mut self, v: &str) {
        let from = self.skel.sig.len();
        self.skel.sig.push_str(v);
        if let Some(t) = self.skel.sig.get_mut(from..) {
            t.make_ascii_lowercase();
        }
    }

    /// Write value `v` (a lookup result) relative to the address: `@domain` as is, the local
    /// part in a domain of the closure as `~@domain`, another address as a hole.
    fn value(&mut self, v: &str) {
        if v.starts_with('@') {
            self.push_lower(v);
            self.skel.sig.push(',');
            return;
        }
        let (vl, vd) = split(v);
        if vl.eq_ignore_ascii_case(self.local)
            && (vd.eq_ignore_ascii_case(self.domain)
                || self.more.iter().any(|d| vd.eq_ignore_ascii_case(d)))
        {
            self.skel.sig.push_str("~@");
            self.push_lower(vd);
            self.skel.sig.push(',');
            return;
        }
        self.skel.holes.push(self.skel.sig.len() as u32);
        let found = if v.bytes().any(|b| b.is_ascii_uppercase()) {
            self.universe.find(&v.to_ascii_lowercase())
        } else {
            self.universe.find(v)
        };
        self.refs.push(match found {
            Some(p) => Ref::Pos(p),
            None => {
                let start = self.extra.len();
                self.extra.push_str(v);
                if let Some(t) = self.extra.get_mut(start..) {
                    t.make_ascii_lowercase();
                }
                Ref::Extra {
                    start: start as u32,
                    len: v.len() as u32,
                }
            }
        });
    }

    /// The alias-map values: each value, or `^n` when it repeats value `n` (a list naming one
    /// member twice).
    fn vam_values<'v>(&mut self, vals: impl Iterator<Item = &'v str> + Clone) {
        // a long list finds repeats by hash (a list of thousands of members)
        const SCAN: usize = 32;
        let mut firsts: Option<FxMap<String, usize>> = None;
        for (i, v) in vals.clone().enumerate() {
            let repeat = if i < SCAN {
                vals.clone().take(i).position(|w| w.eq_ignore_ascii_case(v))
            } else {
                let map = firsts.get_or_insert_with(|| {
                    let mut m = FxMap::default();
                    for (j, w) in vals.clone().take(i).enumerate() {
                        m.entry(w.to_ascii_lowercase()).or_insert(j);
                    }
                    m
                });
                let lc = v.to_ascii_lowercase();
                let r = map.get(&lc).copied();
                map.entry(lc).or_insert(i);
                r
            };
            match repeat {
                Some(first) => {
                    let _ = write!(self.skel.sig, "^{first},");
                }
                None => self.value(v),
            }
        }
    }
}

/// The templates of a chunk of the universe.
#[derive(Default)]
struct Chunk {
    /// The skeleton of each address (the worker's numbers, then the global ones).
    skel: Vec<u32>,
    /// Where the refs of each address end in `refs`.
    ref_end: Vec<u32>,
    refs: Vec<Ref>,
    /// The text of [`Ref::Extra`] refs.
    extra: String,
}

/// Most addresses per chunk (fewer when that leaves threads without work: small universes
/// are split too, so that every thread count runs the same code).
const CHUNK: usize = 1 << 12;

/// The templates of the whole universe.
pub(crate) struct Templates {
    /// Addresses per chunk.
    chunk: usize,
    chunks: Vec<Chunk>,
    /// The distinct skeletons.
    pub skels: Vec<Skel>,
}

/// One address's template, as [`Templates::get`] returns it.
pub(crate) struct Template<'a> {
    /// The skeleton number.
    pub skel: u32,
    pub refs: &'a [Ref],
    /// The text of the [`Ref::Extra`] refs.
    pub extra: &'a str,
}

/// A worker's skeletons: numbered as they are first seen.
#[derive(Default)]
struct Interner {
    skels: Vec<Skel>,
    ids: FxMap<Skel, u32>,
}

impl Interner {
    fn intern(&mut self, s: &Skel) -> u32 {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        let id = self.skels.len() as u32;
        self.skels.push(s.clone());
        self.ids.insert(s.clone(), id);
        id
    }
}

impl Templates {
    /// The templates of every address of `universe`, on `threads` threads.
    pub fn build(look: &Lookup<'_>, universe: &AddrSet, threads: usize) -> Templates {
        let n = universe.len();
        let chunk = (n / (threads.max(1) * 4)).clamp(1, CHUNK);
        let jobs = n.div_ceil(chunk);
        let workers = threads.clamp(1, jobs.max(1));
        let next = AtomicUsize::new(0);
        let work = || {
            let mut scratch = Scratch::default();
            let mut interner = Interner::default();
            let mut done: Vec<(usize, Chunk)> = Vec::new();
            loop {
                let j = next.fetch_add(1, Ordering::Relaxed);
                if j >= jobs {
                    return (interner, done);
                }
                let mut c = Chunk::default();
                for i in j * chunk..((j + 1) * chunk).min(n) {
                    look.template(universe.get(i), universe.hash(i), universe, &mut scratch);
                    c.skel.push(interner.intern(&scratch.skel));
                    let base = c.extra.len() as u32;
                    c.extra.push_str(&scratch.extra);
                    c.refs.extend(scratch.refs.iter().map(|r| match *r {
                        Ref::Extra { start, len } => Ref::Extra {
                            start: start + base,
                            len,
                        },
                        p => p,
                    }));
                    c.ref_end.push(c.refs.len() as u32);
                }
                done.push((j, c));
            }
        };
        let parts: Vec<(Interner, Vec<(usize, Chunk)>)> = if workers <= 1 {
            vec![work()]
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..workers).map(|_| s.spawn(work)).collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                    .collect()
            })
        };
        // one numbering of the skeletons (which number a skeleton gets does not matter)
        let mut global = Interner::default();
        let mut chunks: Vec<Option<Chunk>> = (0..jobs).map(|_| None).collect();
        for (interner, done) in parts {
            let renum: Vec<u32> = interner.skels.iter().map(|s| global.intern(s)).collect();
            for (j, mut c) in done {
                for s in &mut c.skel {
                    *s = renum.get(*s as usize).copied().unwrap_or_default();
                }
                if let Some(slot) = chunks.get_mut(j) {
                    *slot = Some(c);
                }
            }
        }
        Templates {
            chunk,
            chunks: chunks.into_iter().map(Option::unwrap_or_default).collect(),
            skels: global.skels,
        }
    }

    /// The template of universe address number `i`.
    pub fn get(&self, i: usize) -> Option<Template<'_>> {
        let c = self.chunks.get(i / self.chunk)?;
        let k = i % self.chunk;
        let end = *c.ref_end.get(k)? as usize;
        let start = match k.checked_sub(1) {
            Some(p) => *c.ref_end.get(p)? as usize,
            None => 0,
        };
        Some(Template {
            skel: *c.skel.get(k)?,
            refs: c.refs.get(start..end)?,
            extra: &c.extra,
        })
    }
}

/// The text of a reference.
pub(crate) fn ref_text<'a>(r: Ref, universe: &'a AddrSet, extra: &'a str) -> &'a str {
    match r {
        Ref::Pos(p) => universe.get(p as usize),
        Ref::Extra { start, len } => extra
            .get(start as usize..(start + len) as usize)
            .unwrap_or(""),
    }
}
