//! The universe of a classification: every enumerated address (lower case) once, in
//! enumeration order, in one text arena, with its hash and an open-addressing table to find it —
//! one allocation for all the addresses instead of one each, and the hash kept, because it is
//! the one every lookup table of the route index uses ([`key_hash`]): an address is hashed once.
//!
//! The enumeration reads the maps shard by shard ([`enumerate`]): worker threads read the
//! next shards (each into a small set of its own) while the calling thread adds the current
//! ones to the universe in order, so the order is the one a single thread produces.

use std::collections::BTreeSet;

use crate::model::hash::FxSet;
use crate::route::index::{key_hash, parallel, MtaIndex};
use crate::route::{MtaKind, Topology};

use super::classes::{split, UNKNOWN_LOCAL, UNSERVED_DOMAIN};
use super::signature::{rewrite_pair, ForeignIdx, Lookup, MtaRef};

/// A set of addresses numbered in insertion order.
#[derive(Debug, Clone, Default)]
pub(crate) struct AddrSet {
    /// Every address, back to back.
    text: String,
    /// Where address `i` starts in `text` (`starts[i + 1]` or the end of `text`: where it ends).
    starts: Vec<usize>,
    /// [`key_hash`] of every address.
    hashes: Vec<u64>,
    /// 0: empty; else the high half of the address's hash and its number + 1 in the low half
    /// (a probe reads the address only when the hashes agree). A power of two, at most half
    /// full.
    slots: Vec<u64>,
}

/// What a slot holds for address number `i` with hash `hash`.
fn slot(i: usize, hash: u64) -> u64 {
    (hash & !0xffff_ffff) | (i as u64 + 1)
}

impl AddrSet {
    /// Number of addresses.
    pub(crate) fn len(&self) -> usize {
        self.starts.len()
    }

    /// Address number `i` (empty if there is none).
    pub(crate) fn get(&self, i: usize) -> &str {
        let Some(start) = self.starts.get(i).copied() else {
            return "";
        };
        let end = self.starts.get(i + 1).copied().unwrap_or(self.text.len());
        self.text.get(start..end).unwrap_or("")
    }

    /// The [`key_hash`] of address number `i`.
    pub(crate) fn hash(&self, i: usize) -> u64 {
        self.hashes.get(i).copied().unwrap_or_default()
    }

    /// The number of `a`.
    pub(crate) fn find(&self, a: &str) -> Option<u32> {
        self.find_hashed(a, key_hash(a))
    }

    /// The number of `a`, whose [`key_hash`] is `hash`.
    pub(crate) fn find_hashed(&self, a: &str, hash: u64) -> Option<u32> {
        self.probe(a, hash).err()
    }

    /// `Ok(slot)`: `a` is not in the set and would go to `slot`; `Err(number)`: it is.
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
                    let i = (s & 0xffff_ffff) as u32 - 1;
                    if (s ^ hash) >> 32 == 0 && self.get(i as usize) == a {
                        return Err(i);
                    }
                }
            }
            pos = (pos + 1) & mask;
        }
    }

    /// Add `a` (already lower case) unless it is there.
    pub(crate) fn insert(&mut self, a: &str) {
        self.insert_hashed(a, key_hash(a));
    }

    /// [`AddrSet::insert`] with the [`key_hash`] of `a`.
    pub(crate) fn insert_hashed(&mut self, a: &str, hash: u64) {
        if (self.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        if let Ok(at) = self.probe(a, hash) {
            self.starts.push(self.text.len());
            self.text.push_str(a);
            self.hashes.push(hash);
            if let Some(s) = self.slots.get_mut(at) {
                *s = slot(self.starts.len() - 1, hash);
            }
        }
    }

    fn grow(&mut self) {
        let cap = (self.slots.len() * 2).max(64);
        let mask = cap - 1;
        let mut slots = vec![0u64; cap];
        for (i, h) in self.hashes.iter().enumerate() {
            let mut pos = *h as usize & mask;
            while slots[pos] != 0 {
                pos = (pos + 1) & mask;
            }
            slots[pos] = slot(i, *h);
        }
        self.slots = slots;
    }

    /// Every address in number order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// Add the addresses of `other` that are not in `self`, in `other`'s order.
    pub(crate) fn extend(&mut self, other: &AddrSet) {
        for i in 0..other.len() {
            self.insert_hashed(other.get(i), other.hash(i));
        }
    }
}

/// Whether an enumerated value is an address: `local@domain`, both non-empty, no white space.
fn valid_address(a: &str) -> bool {
    let (l, d) = split(a);
    let space = if a.is_ascii() {
        // char::is_whitespace on ASCII (with U+000B, which u8::is_ascii_whitespace leaves out)
        a.bytes()
            .any(|b| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
    } else {
        a.contains(char::is_whitespace)
    };
    a.contains('@') && !l.is_empty() && !d.is_empty() && !space
}

/// Add `a` lower-cased to `set` if it is an address (`lc`: a buffer).
fn add(set: &mut AddrSet, a: &str, lc: &mut String) {
    if a.starts_with('@') || !valid_address(a) {
        return;
    }
    if a.bytes().any(|b| b.is_ascii_uppercase()) {
        lc.clear();
        lc.push_str(a);
        lc.make_ascii_lowercase();
        set.insert(lc);
    } else {
        set.insert(a);
    }
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

/// What a step enumerates: its addresses in order (each once), the served domains and the
/// domain pairs (see [`rewrite_pair`]) it found.
#[derive(Default)]
struct Batch<'a> {
    addrs: AddrSet,
    served: Vec<String>,
    pairs: FxSet<(&'a str, &'a str)>,
}

impl<'a> Step<'a> {
    fn run(&self) -> Batch<'a> {
        let mut b = Batch::default();
        let mut lc = String::new();
        match *self {
            Step::Map(idx, canonical, s) => {
                let map = if canonical { &idx.canonical } else { &idx.vam };
                for (k, hits) in map.shard_iter(s) {
                    if let Some(d) = k.strip_prefix('@') {
                        b.served.push(d.to_string());
                    } else {
                        add(&mut b.addrs, k, &mut lc);
                    }
                    for h in hits.iter() {
                        if let Some(r) = idx.rec(h.rec) {
                            for (vals, of_map) in [(r.vam, !canonical), (r.canonical, canonical)] {
                                for v in vals.iter() {
                                    add(&mut b.addrs, v, &mut lc);
                                    if let Some(p) = of_map.then(|| rewrite_pair(k, v)).flatten() {
                                        b.pairs.insert(p);
                                    }
                                }
                            }
                        }
                    }
                }
            }
            Step::Lmtp(idx, s) => {
                for k in idx.lmtp.shard_keys(s) {
                    add(&mut b.addrs, k, &mut lc);
                }
            }
            Step::Foreign(f) => {
                // in the order the MTA lists them (a hash set's order would change from run
                // to run)
                for a in f.mailbox_list.iter() {
                    add(&mut b.addrs, a, &mut lc);
                }
                for (k, v) in f.aliases.iter() {
                    add(&mut b.addrs, k, &mut lc);
                    add(&mut b.addrs, v, &mut lc);
                }
                for k in f.routes.keys() {
                    add(&mut b.addrs, k, &mut lc);
                }
            }
        }
        b
    }
}

/// Run `steps` and hand their batches to `take` in step order: on one thread, or with
/// `threads` threads running the next steps while `take` adds the current ones.
fn pipeline<'a>(steps: &[Step<'a>], threads: usize, mut take: impl FnMut(Batch<'a>)) {
    if threads <= 1 {
        for s in steps {
            take(s.run());
        }
        return;
    }
    let run = |w: &[Step<'a>]| parallel(w.len(), threads, |j| w.get(j).map(Step::run));
    let mut waves = steps.chunks(threads * 2);
    let mut ready = waves.next().map(run);
    while let Some(batches) = ready.take() {
        let next = waves.next();
        ready = std::thread::scope(|sc| {
            let h = next.map(|w| sc.spawn(move || run(w)));
            for b in batches.into_iter().flatten() {
                take(b);
            }
            h.map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
        });
    }
}

/// Every address the topologies know, the unknown probes of every served domain and the
/// unserved-domain probe (added to `look.synthetic`), in enumeration order (see the
/// [module documentation](super)); and, from the same pass over the maps, the domain graph
/// (set in `look`). The maps are read on `threads` threads; the order is the same whatever
/// the number.
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
    let mut set = AddrSet::default();
    pipeline(&steps, threads, |b| {
        set.extend(&b.addrs);
        served.extend(b.served);
        pairs.extend(b.pairs);
    });
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
    use super::AddrSet;

    #[test]
    fn numbers_addresses_in_insertion_order_once() {
        let mut s = AddrSet::default();
        assert_eq!(s.find("a@x"), None);
        let words: Vec<String> = (0..1000)
            .map(|i| format!("u{}@d{}", i % 700, i % 3))
            .collect();
        let mut want: Vec<&str> = Vec::new();
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
        }
        assert_eq!(s.find("u700@d0"), None);
        assert_eq!(s.get(want.len()), "");
    }
}
