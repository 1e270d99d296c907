//! The universe of a classification: every enumerated address (lower case) once, numbered in
//! enumeration order, with its hash — the one every lookup table of the route index uses
//! ([`key_hash`]), so that an address is hashed once.
//!
//! An [`AddrSet`] is split into [`PARTS`] parts by the top bits of the hash, each a text arena
//! with an open-addressing table; an address has a number in its part and a number in the set.
//! The enumeration ([`enumerate`]) reads the maps shard by shard on worker threads, each shard
//! yielding its candidates (every key and value, in order) sorted into the parts; then each
//! part keeps the first occurrence of each of its addresses, the parts on worker threads too
//! (a part is small enough to stay in cache, the whole set is not); finally the parts' first
//! occurrences are merged in enumeration order, which numbers the addresses exactly as one
//! thread adding the candidates one by one would.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use crate::model::hash::FxSet;
use crate::par::parallel;
use crate::route::index::{key_hash, MtaIndex};
use crate::route::{MtaKind, Topology};

use super::classes::{split, UNKNOWN_LOCAL, UNSERVED_DOMAIN};
use super::signature::{rewrite_pair, ForeignIdx, Lookup, MtaRef};

/// Number of parts of an [`AddrSet`] (a power of two).
pub(crate) const PARTS: usize = 16;
/// Bits of a part's number of an address in [`AddrSet::order`].
const LOCAL_BITS: u32 = 28;

/// The part of an address with this hash.
fn part_of(hash: u64) -> usize {
    (hash >> (64 - PARTS.trailing_zeros())) as usize
}

/// One part of an [`AddrSet`].
#[derive(Debug, Clone, Default)]
struct Part {
    /// Its addresses, back to back.
    text: String,
    /// Where address `l` starts in `text` (it ends where `l + 1` starts, or at the end).
    starts: Vec<usize>,
    /// [`key_hash`] of every address.
    hashes: Vec<u64>,
    /// The number in the set of every address.
    global: Vec<u32>,
    /// 0: empty; else the high half of the address's hash and its number in the part + 1 in
    /// the low half (a probe reads the address only when the hashes agree). A power of two,
    /// at most half full.
    slots: Vec<u64>,
}

impl Part {
    fn len(&self) -> usize {
        self.starts.len()
    }

    fn get(&self, l: usize) -> &str {
        let Some(start) = self.starts.get(l).copied() else {
            return "";
        };
        let end = self.starts.get(l + 1).copied().unwrap_or(self.text.len());
        self.text.get(start..end).unwrap_or("")
    }

    /// `Ok(slot)`: `a` is not in the part and would go to `slot`; `Err(l)`: it is number `l`.
    fn probe(&self, a: &str, hash: u64) -> Result<usize, u32> {
        if self.slots.is_empty() {
            return Ok(0);
        }
        let mask = self.slots.len() - 1;
        let mut pos = hash as usize & mask;
        loop {
            match self.slots.get(pos).copied().unwrap_or(0) {
                0 => return Ok(pos),
                s => {
                    let l = (s & 0xffff_ffff) as u32 - 1;
                    if (s ^ hash) >> 32 == 0 && self.get(l as usize) == a {
                        return Err(l);
                    }
                }
            }
            pos = (pos + 1) & mask;
        }
    }

    /// Add `a` unless it is there; its number in the part if it is new.
    fn insert(&mut self, a: &str, hash: u64) -> Option<u32> {
        if (self.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let at = self.probe(a, hash).ok()?;
        let l = self.len();
        self.starts.push(self.text.len());
        self.text.push_str(a);
        self.hashes.push(hash);
        self.global.push(u32::MAX);
        if let Some(s) = self.slots.get_mut(at) {
            *s = slot(l, hash);
        }
        Some(l as u32)
    }

    fn grow(&mut self) {
        let cap = (self.slots.len() * 2).max(64);
        let mask = cap - 1;
        let mut slots = vec![0u64; cap];
        for (l, h) in self.hashes.iter().enumerate() {
            let mut pos = *h as usize & mask;
            while slots[pos] != 0 {
                pos = (pos + 1) & mask;
            }
            slots[pos] = slot(l, *h);
        }
        self.slots = slots;
    }
}

/// What a slot holds for address number `l` with hash `hash`.
fn slot(l: usize, hash: u64) -> u64 {
    (hash & !0xffff_ffff) | (l as u64 + 1)
}

/// A set of addresses numbered in insertion order.
#[derive(Debug, Clone)]
pub(crate) struct AddrSet {
    parts: Vec<Part>,
    /// The part and the number in it of every address: `part << LOCAL_BITS | number`.
    order: Vec<u32>,
}

impl Default for AddrSet {
    fn default() -> Self {
        AddrSet {
            parts: vec![Part::default(); PARTS],
            order: Vec::new(),
        }
    }
}

impl AddrSet {
    /// Number of addresses.
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// The part and the number in it of address number `i`.
    fn locate(&self, i: usize) -> Option<(&Part, usize)> {
        let o = *self.order.get(i)?;
        let part = self.parts.get((o >> LOCAL_BITS) as usize)?;
        Some((part, (o & ((1 << LOCAL_BITS) - 1)) as usize))
    }

    /// Address number `i` (empty if there is none).
    pub(crate) fn get(&self, i: usize) -> &str {
        self.locate(i).map_or("", |(p, l)| p.get(l))
    }

    /// The [`key_hash`] of address number `i`.
    pub(crate) fn hash(&self, i: usize) -> u64 {
        self.locate(i)
            .and_then(|(p, l)| p.hashes.get(l).copied())
            .unwrap_or_default()
    }

    /// The number of `a`.
    pub(crate) fn find(&self, a: &str) -> Option<u32> {
        self.find_hashed(a, key_hash(a))
    }

    /// The number of `a`, whose [`key_hash`] is `hash`.
    pub(crate) fn find_hashed(&self, a: &str, hash: u64) -> Option<u32> {
        let part = self.parts.get(part_of(hash))?;
        let l = part.probe(a, hash).err()?;
        part.global.get(l as usize).copied()
    }

    /// Add `a` (already lower case) unless it is there.
    pub(crate) fn insert(&mut self, a: &str) {
        let hash = key_hash(a);
        let p = part_of(hash);
        let i = self.order.len() as u32;
        if let Some(part) = self.parts.get_mut(p) {
            if let Some(l) = part.insert(a, hash) {
                if let Some(g) = part.global.get_mut(l as usize) {
                    *g = i;
                }
                self.order.push(((p as u32) << LOCAL_BITS) | l);
            }
        }
    }

    /// Every address in number order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// The set of parts filled independently: each part's addresses with the place (any
    /// increasing key) of their first occurrence; numbered by that place.
    fn merge(parts: Vec<(Part, Vec<u64>)>) -> AddrSet {
        let mut heap: BinaryHeap<Reverse<(u64, usize, usize)>> = parts
            .iter()
            .enumerate()
            .filter_map(|(p, (_, first))| first.first().map(|f| Reverse((*f, p, 0))))
            .collect();
        let total = parts.iter().map(|(p, _)| p.len()).sum();
        let (mut parts, firsts): (Vec<Part>, Vec<Vec<u64>>) = parts.into_iter().unzip();
        let mut order = Vec::with_capacity(total);
        while let Some(Reverse((_, p, l))) = heap.pop() {
            if let Some(g) = parts.get_mut(p).and_then(|part| part.global.get_mut(l)) {
                *g = order.len() as u32;
            }
            order.push(((p as u32) << LOCAL_BITS) | l as u32);
            if let Some(f) = firsts.get(p).and_then(|f| f.get(l + 1)) {
                heap.push(Reverse((*f, p, l + 1)));
            }
        }
        AddrSet { parts, order }
    }
}

/// Whether an enumerated value is an address: `local@domain`, both non-empty, no white space
/// (`char::is_whitespace`). One pass over the bytes of an ASCII value.
fn valid_address(a: &str) -> bool {
    let (mut last_at, mut space, mut ascii) = (None, false, true);
    for (i, b) in a.bytes().enumerate() {
        match b {
            b'@' => last_at = Some(i),
            // the ASCII white space of char::is_whitespace (with U+000B)
            b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' => space = true,
            0x80.. => ascii = false,
            _ => {}
        }
    }
    if !ascii && a.contains(char::is_whitespace) {
        space = true;
    }
    last_at.is_some_and(|i| i > 0 && i + 1 < a.len()) && !space
}

/// Add `a` lower-cased to `set` if it is an address (`lc`: a buffer).
fn add(set: &mut AddrSet, a: &str, lc: &mut String) {
    if a.starts_with('@') || !valid_address(a) {
        return;
    }
    lc.clear();
    lc.push_str(a);
    lc.make_ascii_lowercase();
    set.insert(lc);
}

/// One step of the enumeration.
enum Step<'a> {
    /// Shard `s` of the alias (`false`) or canonical (`true`) map of an index: every key and
    /// every result value of the entries answering it; `@domain` keys are served domains.
    Map(&'a MtaIndex, bool, usize),
    /// Shard `s` of the LMTP server's names and aliases.
    Lmtp(&'a MtaIndex, usize),
    /// A foreign MTA's mailboxes, alias keys and values, per-address route keys.
    Foreign(&'a ForeignIdx),
}

/// An address a step found: its hash, its text in the step's text, its place in the step.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    hash: u64,
    start: u32,
    len: u32,
    at: u32,
}

/// What a step enumerates: its candidates (lower case, in `text`) by part, the served
/// domains and the domain pairs (see [`rewrite_pair`]) it found.
struct Found<'a> {
    text: String,
    parts: Vec<Vec<Candidate>>,
    found: u32,
    served: Vec<String>,
    pairs: FxSet<(&'a str, &'a str)>,
}

impl Found<'_> {
    /// Add `a` if it is an address.
    fn add(&mut self, a: &str) {
        if a.starts_with('@') || !valid_address(a) {
            return;
        }
        let start = self.text.len();
        self.text.push_str(a);
        let Some(lc) = self.text.get_mut(start..) else {
            return;
        };
        lc.make_ascii_lowercase();
        let hash = key_hash(lc);
        if let Some(part) = self.parts.get_mut(part_of(hash)) {
            part.push(Candidate {
                hash,
                start: start as u32,
                len: a.len() as u32,
                at: self.found,
            });
        }
        self.found += 1;
    }

    fn text(&self, c: &Candidate) -> &str {
        self.text
            .get(c.start as usize..(c.start + c.len) as usize)
            .unwrap_or("")
    }
}

impl<'a> Step<'a> {
    fn run(&self) -> Found<'a> {
        let mut f = Found {
            text: String::new(),
            parts: vec![Vec::new(); PARTS],
            found: 0,
            served: Vec::new(),
            pairs: FxSet::default(),
        };
        match *self {
            Step::Map(idx, canonical, s) => {
                let map = if canonical { &idx.canonical } else { &idx.vam };
                for (k, hits) in map.shard_iter(s) {
                    let key = split(k);
                    if let Some(d) = k.strip_prefix('@') {
                        f.served.push(d.to_string());
                    } else {
                        f.add(k);
                    }
                    for h in hits.iter() {
                        if let Some(r) = idx.rec(h.rec) {
                            for (vals, of_map) in [(r.vam, !canonical), (r.canonical, canonical)] {
                                for v in vals.iter() {
                                    // the key itself (a delivery address) is in already
                                    if v != k {
                                        f.add(v);
                                    }
                                    if let Some(p) = of_map.then(|| rewrite_pair(key, v)).flatten()
                                    {
                                        f.pairs.insert(p);
                                    }
                                }
                            }
                        }
                    }
                }
            }
            Step::Lmtp(idx, s) => {
                for k in idx.lmtp.shard_keys(s) {
                    f.add(k);
                }
            }
            Step::Foreign(m) => {
                // in the order the MTA lists them (a hash set's order would change from run
                // to run)
                for a in m.mailbox_list.iter() {
                    f.add(a);
                }
                for (k, v) in m.aliases.iter() {
                    f.add(k);
                    f.add(v);
                }
                for k in m.routes.keys() {
                    f.add(k);
                }
            }
        }
        f
    }
}

/// Add the candidates of `found` (steps `first..`, in order) to the parts (each with the
/// places of its addresses' first occurrences), the parts on `threads` threads.
fn dedup(parts: &mut [(Part, Vec<u64>)], found: &[Found<'_>], first: usize, threads: usize) {
    let fill = |p: usize, (part, places): &mut (Part, Vec<u64>)| {
        for (s, f) in found.iter().enumerate() {
            for c in f.parts.get(p).into_iter().flatten() {
                if part.insert(f.text(c), c.hash).is_some() {
                    places.push(((first + s) as u64) << 32 | u64::from(c.at));
                }
            }
        }
    };
    let per = parts.len().div_ceil(threads.max(1)).max(1);
    if threads <= 1 {
        for (p, part) in parts.iter_mut().enumerate() {
            fill(p, part);
        }
        return;
    }
    std::thread::scope(|sc| {
        for (k, chunk) in parts.chunks_mut(per).enumerate() {
            let fill = &fill;
            sc.spawn(move || {
                for (j, part) in chunk.iter_mut().enumerate() {
                    fill(k * per + j, part);
                }
            });
        }
    });
}

/// Every address the topologies know, the unknown probes of every served domain and the
/// unserved-domain probe (added to `look.synthetic`), in enumeration order (see the
/// [module documentation](super)); and, from the same pass over the maps, the domain graph
/// (set in `look`). The maps are read on `threads` threads; the numbers are the same whatever
/// the number of threads.
pub(crate) fn enumerate(look: &mut Lookup<'_>, topos: &[&Topology], threads: usize) -> AddrSet {
    let mut served: BTreeSet<String> = BTreeSet::new();
    let mut pairs: FxSet<(&str, &str)> = FxSet::default();
    let mut steps = Vec::new();
    for (at, m) in look.mtas.iter().enumerate() {
        match m {
            MtaRef::Zimbra(z) => {
                let idx = z.index();
                // MTAs reading one directory share its index: its addresses are in already
                if look.first_with_index(at, idx) {
                    // every key of ldap-vmm, ldap-transport and ldap-splitdomain is a key of
                    // ldap-vam too (an entry with a delivery or forwarding address has
                    // alias-map results), so the alias and canonical maps list them all
                    for canonical in [false, true] {
                        let map = if canonical { &idx.canonical } else { &idx.vam };
                        steps.extend((0..map.shard_count()).map(|s| Step::Map(idx, canonical, s)));
                    }
                    steps.extend((0..idx.lmtp.shard_count()).map(|s| Step::Lmtp(idx, s)));
                    served.extend(idx.vmd.keys().map(|k| k.to_string()));
                    served.extend(idx.vad.keys().map(|k| k.to_string()));
                    pairs.extend(idx.alias_domains.iter().map(|(a, t)| (&**a, &**t)));
                }
                served.extend(z.params.mydestination.iter().cloned());
            }
            MtaRef::Foreign(f) => {
                steps.push(Step::Foreign(f));
                for (k, v) in f.aliases.iter() {
                    let ((kl, kd), (vl, vd)) = (split(k), split(v));
                    if kl.eq_ignore_ascii_case(vl) {
                        pairs.insert((kd, vd));
                    }
                }
            }
        }
    }
    // a few steps at a time: what they found is held until the parts have it
    let mut parts: Vec<(Part, Vec<u64>)> = vec![Default::default(); PARTS];
    let wave = (threads * 4).max(4);
    for (w, chunk) in steps.chunks(wave).enumerate() {
        let found = parallel(chunk.len(), threads, |j| chunk.get(j).map(Step::run));
        let found: Vec<Found<'_>> = found.into_iter().flatten().collect();
        dedup(&mut parts, &found, w * wave, threads);
        for f in found {
            served.extend(f.served);
            pairs.extend(f.pairs);
        }
    }
    let mut set = AddrSet::merge(parts);
    let pairs: Vec<(String, String)> = pairs
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    look.set_domain_graph(pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())));
    for t in topos {
        for m in t.mtas() {
            if let MtaKind::Foreign(f) = &m.kind {
                served.extend(f.domains.iter().map(|d| d.to_ascii_lowercase()));
            }
        }
        served.extend(t.dns.mx.keys().cloned());
    }
    served.remove("");
    let mut lc = String::new();
    for d in &served {
        let mut local = UNKNOWN_LOCAL.to_string();
        let mut n = 1;
        while set.find(&format!("{local}@{d}")).is_some() {
            n += 1;
            local = format!("{UNKNOWN_LOCAL}-{n}");
        }
        let a = format!("{local}@{d}");
        look.synthetic.insert(a.as_str().into());
        add(&mut set, &a, &mut lc);
    }
    let mut d = UNSERVED_DOMAIN.to_string();
    while served.contains(&d) {
        d.insert(0, 'x');
    }
    let a = format!("{UNKNOWN_LOCAL}@{d}");
    look.synthetic.insert(a.as_str().into());
    add(&mut set, &a, &mut lc);
    set
}

#[cfg(test)]
mod tests {
    use super::{part_of, valid_address, AddrSet, Part, PARTS};
    use crate::route::index::key_hash;

    fn words() -> Vec<String> {
        (0..3000)
            .map(|i| format!("u{}@d{}", (i * 7) % 2100, i % 3))
            .collect()
    }

    #[test]
    fn numbers_addresses_in_insertion_order_once() {
        let mut s = AddrSet::default();
        assert_eq!(s.find("a@x"), None);
        let mut want: Vec<&str> = Vec::new();
        let words = words();
        for w in &words {
            s.insert(w);
            if !want.contains(&w.as_str()) {
                want.push(w);
            }
        }
        s.insert("");
        want.push("");
        assert_eq!(s.len(), want.len());
        assert_eq!(s.iter().collect::<Vec<_>>(), want);
        for (i, w) in want.iter().enumerate() {
            assert_eq!(s.find(w), Some(i as u32), "{w}");
            assert_eq!(s.get(i), *w);
            assert_eq!(s.hash(i), key_hash(w));
        }
        assert_eq!(s.find("u2100@d0"), None);
        assert_eq!(s.get(want.len()), "");
    }

    #[test]
    fn addresses_are_local_at_domain_without_white_space() {
        for a in ["a@b", "a@b@c", "ü@x.org", "a.b+c@d"] {
            assert!(valid_address(a), "{a}");
        }
        for a in [
            "",
            "@",
            "a@",
            "@b",
            "ab",
            "a b@c",
            "a@b\u{b}",
            "a\t@b",
            "a@b\u{a0}",
            "\u{2003}a@b",
        ] {
            assert!(!valid_address(a), "{a:?}");
        }
    }

    #[test]
    fn parts_filled_apart_merge_into_insertion_order() {
        let words = words();
        let mut one = AddrSet::default();
        let mut parts: Vec<(Part, Vec<u64>)> = vec![Default::default(); PARTS];
        for (at, w) in words.iter().enumerate() {
            one.insert(w);
            let h = key_hash(w);
            let (part, places) = &mut parts[part_of(h)];
            if part.insert(w, h).is_some() {
                places.push(at as u64);
            }
        }
        assert!(parts.iter().filter(|(p, _)| p.len() > 0).count() > 1);
        let merged = AddrSet::merge(parts);
        assert_eq!(
            merged.iter().collect::<Vec<_>>(),
            one.iter().collect::<Vec<_>>()
        );
        for w in &words {
            assert_eq!(merged.find(w), one.find(w));
        }
    }
}
