//! Running the classes: each class's representative explored from each of its entry points
//! (state by state, see `route`'s state graph), turned into outcomes and aggregated findings;
//! classes in parallel on scoped threads, results in class order whatever the thread count.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::classes::AddressClass;
use super::report::{EntryPoint, Finding, HairpinHop, Issue, Outcome};
use crate::model::hash::FxSet;
use crate::route::index::FxMap;
use crate::route::simulate::graph::{Explorer, Fact, Graph, Writer, NONE};
use crate::route::simulate::{start_of, via_host};
use crate::route::{Disposition, Dsn, DsnFate, Entry, Topology, INTERNET_SENDER};

/// What one class does from one entry point.
#[derive(Debug, Clone)]
pub(crate) struct EntryRun {
    pub entry: EntryPoint,
    /// Its distinct outcomes, each with one example path (deliveries only when the run was
    /// asked for every outcome: diffs and plans compare them).
    pub outcomes: Vec<Outcome>,
    /// The delivered `(host, mailbox)` pairs, lower case, without `(discarded)`.
    pub delivered: Delivered,
    /// For each outcome: for loops, the MTAs of its cycle's strongly connected component
    /// (sorted): the key that makes one finding per cycle.
    pub loop_keys: Vec<Option<String>>,
    pub hairpins: Vec<HairpinHop>,
}

/// The set of `(host, mailbox)` pairs (lower case) one run delivers to, summarised: a class whose
/// alias expansion reaches thousands of mailboxes is compared between entry points by count and
/// fingerprint, and the sorted pairs are listed only for a split-brain finding, which shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Delivered {
    /// Distinct pairs.
    pub count: usize,
    /// The sum of the pairs' 128-bit hashes (independent of order).
    pub print: u128,
    /// One mailbox name delivered at two hosts.
    pub name_clash: bool,
    /// The sorted pairs, when the run was asked for them.
    pub list: Option<Vec<(String, String)>>,
}

/// Builds a [`Delivered`] without allocating per pair.
#[derive(Default)]
struct DeliveredAcc {
    seen: FxSet<u128>,
    hosts: FxMap<u64, u64>,
    out: Delivered,
    list: Option<BTreeSet<(String, String)>>,
    /// The last host seen and its hashes.
    host: Option<(String, (u64, u64))>,
}

/// Two independent 64-bit hashes of `text` in lower case (multiply-fold mixing of 8-byte
/// words, as wyhash does: fast, and well spread for the fingerprint sums).
fn lc_hash2(text: &str) -> (u64, u64) {
    const P0: u64 = 0xa076_1d64_78bd_642f;
    const P1: u64 = 0xe703_7ed1_a0b4_28db;
    const P2: u64 = 0x8ebc_6af0_9c88_c6e3;
    fn mum(a: u64, b: u64) -> u64 {
        let r = u128::from(a) * u128::from(b);
        (r as u64) ^ ((r >> 64) as u64)
    }
    let bytes = text.as_bytes();
    let (mut h1, mut h2) = (P0, P1);
    for c in bytes.chunks(8) {
        let mut w = [0u8; 8];
        for (d, s) in w.iter_mut().zip(c) {
            *d = s.to_ascii_lowercase();
        }
        let w = u64::from_le_bytes(w);
        h1 = mum(h1 ^ w, P1);
        h2 = mum(h2 ^ w, P2);
    }
    let n = bytes.len() as u64;
    (mum(h1 ^ n, P0), mum(h2 ^ n, P2 ^ P0))
}

impl DeliveredAcc {
    /// Empty, keeping its tables' room (one per runner, reused run after run).
    fn reset(&mut self, lists: bool) {
        self.seen.clear();
        self.hosts.clear();
        self.out = Delivered::default();
        self.list = lists.then(BTreeSet::new);
    }

    fn add(&mut self, host: &str, mailbox: &str) {
        // a run delivers to few hosts: the last host's hashes are kept
        let h = match &self.host {
            Some((last, h)) if last.as_str() == host => *h,
            _ => {
                let h = lc_hash2(host);
                self.host = Some((host.to_string(), h));
                h
            }
        };
        let m = lc_hash2(mailbox);
        let mix = |a: u64, b: u64| (a ^ b.rotate_left(29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let pair = u128::from(mix(h.0, m.0)) << 64 | u128::from(mix(h.1, m.1));
        if !self.seen.insert(pair) {
            return;
        }
        self.out.count += 1;
        self.out.print = self.out.print.wrapping_add(pair);
        if self.hosts.insert(m.0, h.0).is_some_and(|old| old != h.0) {
            self.out.name_clash = true;
        }
        if let Some(l) = &mut self.list {
            l.insert((host.to_ascii_lowercase(), mailbox.to_ascii_lowercase()));
        }
    }

    fn finish(&mut self) -> Delivered {
        Delivered {
            list: self.list.take().map(|l| l.into_iter().collect()),
            ..std::mem::take(&mut self.out)
        }
    }
}

/// The runs of one class from each of its entry points in one topology.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClassRuns {
    pub runs: Vec<EntryRun>,
}

/// Per topology and thread: the explorer (shared decisions, DSN fates), the entry points per
/// domain and the envelope sender per entry point.
pub(crate) struct Runner<'t> {
    pub topo: &'t Topology,
    explorer: Explorer<'t>,
    entries: FxMap<Box<str>, Vec<EntryPoint>>,
    senders: &'t [String],
    /// Per MTA: its addresses when one of them is private (a hairpin can start there).
    private_mtas: Vec<Option<Vec<String>>>,
    /// Per next-hop name: what it resolves to when every address is public.
    public_names: FxMap<std::rc::Rc<str>, Option<Vec<String>>>,
    /// The delivered-set builder, reused run after run.
    acc: DeliveredAcc,
}

/// The envelope sender of each MTA entry (by MTA index), computed once per topology.
pub(crate) fn senders(topo: &Topology) -> Vec<String> {
    topo.mtas()
        .iter()
        .map(|m| crate::route::default_sender(topo, &Entry::Mta(m.name.clone())))
        .collect()
}

fn private(ip: &str) -> Option<bool> {
    let ip: IpAddr = ip.trim_start_matches("ipv6:").parse().ok()?;
    Some(match ip {
        IpAddr::V4(v) => {
            let o = v.octets();
            v.is_private()
                || v.is_loopback()
                || v.is_link_local()
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(v) => {
            let s = v.segments()[0];
            v.is_loopback() || (s & 0xfe00) == 0xfc00 || (s & 0xffc0) == 0xfe80
        }
    })
}

impl<'t> Runner<'t> {
    pub fn new(topo: &'t Topology, senders: &'t [String]) -> Runner<'t> {
        let private_mtas = topo
            .mtas()
            .iter()
            .map(|m| {
                let a = topo.dns.addresses(&m.hostname);
                a.iter().any(|x| private(x) == Some(true)).then_some(a)
            })
            .collect();
        Runner {
            topo,
            explorer: Explorer::new(topo),
            entries: FxMap::default(),
            senders,
            private_mtas,
            public_names: FxMap::default(),
            acc: DeliveredAcc::default(),
        }
    }

    fn sender(&self, e: &EntryPoint) -> &str {
        match e {
            EntryPoint::Mta(m) => self
                .topo
                .mta_index(m)
                .and_then(|i| self.senders.get(i))
                .map_or(INTERNET_SENDER, |s| s.as_str()),
            _ => INTERNET_SENDER,
        }
    }

    /// The entry points of a domain (remembered).
    pub fn entries(&mut self, domain: &str) -> Vec<EntryPoint> {
        if let Some(v) = self.entries.get(domain) {
            return v.clone();
        }
        let v = super::entry_points(self.topo, domain);
        self.entries.insert(domain.into(), v.clone());
        v
    }

    /// Explore `rcpt` from `e`: its outcomes (with deliveries when `full`), deliveries and
    /// hairpin hops.
    pub fn run(&mut self, e: &EntryPoint, rcpt: &str, full: bool) -> EntryRun {
        self.run_with(e, rcpt, full, false)
    }

    /// [`Runner::run`], listing the delivered pairs when `lists`.
    fn run_with(&mut self, e: &EntryPoint, rcpt: &str, full: bool, lists: bool) -> EntryRun {
        let start = match e {
            EntryPoint::Internet => start_of(self.topo, &Entry::Internet, rcpt),
            EntryPoint::Mta(m) => start_of(self.topo, &Entry::Mta(m.clone()), rcpt),
            EntryPoint::MxHost(h) => Ok(via_host(h)),
        };
        let Ok(start) = start else {
            return EntryRun {
                entry: e.clone(),
                outcomes: Vec::new(),
                delivered: Delivered {
                    list: lists.then(Vec::new),
                    ..Delivered::default()
                },
                loop_keys: Vec::new(),
                hairpins: Vec::new(),
            };
        };
        let g = self.explorer.explore(&start, rcpt);
        let sender = self.sender(e).to_string();
        let mut delivered = std::mem::take(&mut self.acc);
        delivered.reset(lists);
        let mut facts = Vec::new();
        // deliveries are summarised as they are met (a class may reach thousands of mailboxes);
        // only with `full` do they become outcomes too
        g.each_leaf_or(
            self.topo,
            &mut |_, _, d, _| match d {
                Disposition::Delivered { host, mailbox } => {
                    if mailbox != "(discarded)" {
                        delivered.add(host, mailbox);
                    }
                    !full
                }
                _ => false,
            },
            &mut |f| facts.push(f),
        );
        let mut outcomes = Vec::with_capacity(facts.len());
        let mut loop_keys = Vec::with_capacity(facts.len());
        // one outcome per (MTA, recipient, disposition, DSN writer): the same leaf reached from
        // several previous MTAs is one outcome, with the first (shortest) path as its example
        let mut seen: FxMap<(usize, &str, &Disposition, Writer), ()> = FxMap::default();
        for f in &facts {
            let mta = g.state(f.at).map_or(usize::MAX, |s| s.mta);
            if seen
                .insert((mta, f.rcpt.as_str(), &f.disposition, f.writer), ())
                .is_some()
            {
                continue;
            }
            let dsn = self.dsn(f, &sender);
            outcomes.push(outcome(self.topo, &g, f, dsn));
            loop_keys.push(match f.disposition {
                Disposition::Looped { .. } => Some(scc_key(self.topo, &g, f.at)),
                _ => None,
            });
        }
        let run = EntryRun {
            entry: e.clone(),
            outcomes,
            delivered: delivered.finish(),
            loop_keys,
            hairpins: self.hairpins(&g),
        };
        self.acc = delivered;
        run
    }

    /// The class's runs from each of its entry points (`full`: with every outcome).
    /// The delivered pairs are listed when a split-brain finding will show them.
    pub fn class(&mut self, c: &AddressClass, full: bool) -> ClassRuns {
        let entries = self.entries(&c.domain);
        let runs = ClassRuns {
            runs: entries
                .iter()
                .map(|e| self.run_with(e, &c.representative, full, false))
                .collect(),
        };
        if !split_brain(c, &runs) {
            return runs;
        }
        ClassRuns {
            runs: entries
                .iter()
                .map(|e| self.run_with(e, &c.representative, full, true))
                .collect(),
        }
    }

    fn dsn(&mut self, f: &Fact, sender: &str) -> Option<Dsn> {
        match f.writer {
            Writer::None => None,
            Writer::Reply => Some(Dsn {
                writer: None,
                to: sender.to_string(),
                fate: DsnFate::Reply,
                route: None,
            }),
            Writer::Mta(w) => Some(Dsn {
                writer: self.topo.mtas().get(w).map(|m| m.name.clone()),
                to: sender.to_string(),
                fate: self.explorer.dsn_fate(w, sender),
                route: None,
            }),
        }
    }

    fn hairpins(&mut self, g: &Graph) -> Vec<HairpinHop> {
        let topo = self.topo;
        let mut out: Vec<HairpinHop> = Vec::new();
        for st in &g.states {
            if st.exp.is_none() {
                continue;
            }
            let (Some(from), Some(Some(sender))) =
                (topo.mtas().get(st.mta), self.private_mtas.get(st.mta))
            else {
                continue;
            };
            for (t, via) in &st.succ {
                let Some(to) = g.state(*t).and_then(|s| topo.mtas().get(s.mta)) else {
                    continue;
                };
                let public = self.public_names.entry(via.clone()).or_insert_with(|| {
                    let resolved = topo.dns.addresses(via);
                    (!resolved.is_empty() && resolved.iter().all(|a| private(a) == Some(false)))
                        .then_some(resolved)
                });
                if let Some(resolved) = public {
                    let h = HairpinHop {
                        from: from.name.clone(),
                        to: to.name.clone(),
                        next_hop: via.to_string(),
                        resolved: resolved.clone(),
                        sender: sender.clone(),
                    };
                    if !out.contains(&h) {
                        out.push(h);
                    }
                }
            }
        }
        out
    }
}

/// The MTAs of the strongly connected component of state `s`, sorted: one loop finding per
/// such set, whichever state of it a path reaches first.
fn scc_key(topo: &Topology, g: &Graph, s: u32) -> String {
    let Some(scc) = g.state(s).map(|x| x.scc) else {
        return String::new();
    };
    let names: BTreeSet<&str> = g
        .states
        .iter()
        .filter(|x| x.scc == scc)
        .filter_map(|x| topo.mtas().get(x.mta).map(|m| m.name.as_str()))
        .collect();
    names.into_iter().collect::<Vec<_>>().join(">")
}

/// A fact as an outcome: the example path (first-reached parents), around the cycle for loops.
fn outcome(topo: &Topology, g: &Graph, f: &Fact, dsn: Option<Dsn>) -> Outcome {
    let mut states = if f.at == NONE {
        Vec::new()
    } else {
        g.path(f.at)
    };
    states.extend(f.around.iter().copied());
    let mut via = Vec::with_capacity(states.len());
    let mut addresses = Vec::with_capacity(states.len());
    for s in states {
        if let Some(st) = g.state(s) {
            via.push(
                topo.mtas()
                    .get(st.mta)
                    .map(|m| m.name.clone())
                    .unwrap_or_default(),
            );
            addresses.push(st.rcpt.clone());
        }
    }
    Outcome {
        via,
        addresses,
        recipient: f.rcpt.clone(),
        disposition: f.disposition.clone(),
        dsn,
    }
}

/// Whether a DSN is written for this outcome (the topology accepted the message, then gave up).
fn dsn_written(o: &Outcome) -> bool {
    o.dsn.as_ref().is_some_and(|d| d.writer.is_some())
}

/// The findings of one class from its runs.
pub(crate) fn class_findings(c: &AddressClass, runs: &ClassRuns) -> Vec<Finding> {
    struct Acc {
        issue: Issue,
        key: String,
        entries: Vec<EntryPoint>,
        count: u64,
    }
    let mut acc: Vec<Acc> = Vec::new();
    let mut add = |issue: Issue, key: String, e: &EntryPoint| {
        let kind = issue.kind();
        match acc
            .iter_mut()
            .find(|a| a.issue.kind() == kind && a.key == key)
        {
            Some(a) => {
                a.count += 1;
                if !a.entries.contains(e) {
                    a.entries.push(e.clone())
                }
            }
            None => acc.push(Acc {
                issue,
                key,
                entries: vec![e.clone()],
                count: 1,
            }),
        }
    };
    let mut deliveries: Vec<(EntryPoint, Vec<(String, String)>)> = Vec::new();
    let split = split_brain(c, runs);
    for r in &runs.runs {
        let e = &r.entry;
        for (i, o) in r.outcomes.iter().enumerate() {
            match &o.disposition {
                Disposition::Looped { cycle, .. } => {
                    let key = r.loop_keys.get(i).cloned().flatten().unwrap_or_default();
                    add(
                        Issue::Loop {
                            cycle: cycle.clone(),
                            outcome: o.clone(),
                        },
                        key,
                        e,
                    )
                }
                Disposition::Deferred { .. } => add(
                    Issue::DeferredForever { outcome: o.clone() },
                    String::new(),
                    e,
                ),
                Disposition::Bounced { .. } | Disposition::Rejected { .. } if c.exists => {
                    add(Issue::LostMail { outcome: o.clone() }, String::new(), e)
                }
                Disposition::Bounced { .. } | Disposition::Rejected { .. }
                    if !c.exists && e.is_outside() && dsn_written(o) =>
                {
                    add(Issue::Backscatter { outcome: o.clone() }, String::new(), e)
                }
                _ => {}
            }
            if o.disposition.is_failure()
                && o.dsn
                    .as_ref()
                    .is_some_and(|d| d.writer.is_some() && !d.fate.reaches_sender())
            {
                add(Issue::Silent { outcome: o.clone() }, String::new(), e);
            }
        }
        for h in &r.hairpins {
            let key = format!("{}>{}>{}", h.from, h.to, h.next_hop);
            add(Issue::Hairpin { hop: h.clone() }, key, e);
        }
        if split && r.delivered.count > 0 {
            let list = r.delivered.list.clone().unwrap_or_default();
            deliveries.push((e.clone(), list));
        }
    }
    if split {
        let entries: Vec<EntryPoint> = deliveries.iter().map(|(e, _)| e.clone()).collect();
        acc.push(Acc {
            issue: Issue::SplitBrain {
                deliveries,
                mailbox_hosts: if c.mailbox_hosts.len() > 1 {
                    c.mailbox_hosts.clone()
                } else {
                    Vec::new()
                },
            },
            key: String::new(),
            entries,
            count: 1,
        });
    }
    acc.into_iter()
        .map(|a| Finding {
            issue: a.issue,
            class: c.id,
            address: c.representative.clone(),
            domain: c.domain.clone(),
            members: c.members,
            entries: a.entries,
            count: a.count,
        })
        .collect()
}

/// Whether the class is delivered to different mailboxes depending on the entry point, to one
/// mailbox name at two hosts from one entry point, or has mailboxes on two hosts.
fn split_brain(c: &AddressClass, runs: &ClassRuns) -> bool {
    if c.mailbox_hosts.len() > 1 {
        return true;
    }
    let delivered = runs
        .runs
        .iter()
        .map(|r| &r.delivered)
        .filter(|d| d.count > 0);
    let lists: Option<Vec<&Vec<(String, String)>>> =
        delivered.clone().map(|d| d.list.as_ref()).collect();
    match lists {
        // the pairs themselves, when listed: exact
        Some(lists) => {
            let distinct: BTreeSet<&Vec<(String, String)>> = lists.iter().copied().collect();
            distinct.len() > 1
                || lists.iter().any(|d| {
                    // sorted by (host, mailbox): look for one mailbox at two hosts
                    let mut names: FxMap<&str, &str> = FxMap::default();
                    d.iter().any(|(h, m)| {
                        names
                            .insert(m.as_str(), h.as_str())
                            .is_some_and(|old| old != h)
                    })
                })
        }
        // else by count and fingerprint (the class is run again with lists to confirm)
        None => {
            let mut sets = delivered.clone().map(|d| (d.count, d.print));
            let first = sets.next();
            delivered.clone().any(|d| d.name_clash) || sets.any(|s| Some(s) != first)
        }
    }
}

/// `f(runner, item)` for every item, on `threads` scoped threads (each with its own runners,
/// one per topology), results in item order.
pub(crate) fn parallel<T, I, F>(topos: &[&Topology], items: &[I], threads: usize, f: F) -> Vec<T>
where
    T: Send,
    I: Sync,
    F: Fn(&mut [Runner<'_>], &I) -> T + Sync,
{
    let senders: Vec<Vec<String>> = topos.iter().map(|t| senders(t)).collect();
    let n = crate::par::threads(threads, items.len());
    let make = || -> Vec<Runner<'_>> {
        topos
            .iter()
            .zip(&senders)
            .map(|(t, s)| Runner::new(t, s))
            .collect()
    };
    if n <= 1 {
        let mut rs = make();
        return items.iter().map(|i| f(&mut rs, i)).collect();
    }
    const CHUNK: usize = 16;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..n {
            s.spawn(|| {
                let mut rs = make();
                loop {
                    let start = next.fetch_add(CHUNK, Ordering::Relaxed);
                    if start >= items.len() {
                        break;
                    }
                    let end = (start + CHUNK).min(items.len());
                    let done: Vec<(usize, T)> = (start..end)
                        .filter_map(|i| items.get(i).map(|it| (i, f(&mut rs, it))))
                        .collect();
                    let mut r = results.lock().unwrap_or_else(|e| e.into_inner());
                    for (i, t) in done {
                        if let Some(slot) = r.get_mut(i) {
                            *slot = Some(t);
                        }
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)], lists: bool) -> Delivered {
        let mut acc = DeliveredAcc::default();
        acc.reset(lists);
        for (h, m) in pairs {
            acc.add(h, m);
        }
        acc.finish()
    }

    #[test]
    fn delivered_sets_compare_by_content_whatever_the_order_and_case() {
        let a = set(
            &[("mbx1", "ann@x"), ("mbx2", "bob@x"), ("mbx1", "ann@x")],
            false,
        );
        let b = set(&[("MBX2", "Bob@X"), ("mbx1", "ann@x")], false);
        assert_eq!((a.count, a.print), (2, b.print));
        assert_eq!(b.count, 2);
        assert!(!a.name_clash && !b.name_clash);
        // another mailbox, another host, one pair fewer: all differ
        let c = set(&[("mbx1", "ann@x"), ("mbx2", "carl@x")], false);
        let d = set(&[("mbx1", "ann@x"), ("mbx3", "bob@x")], false);
        let e = set(&[("mbx1", "ann@x")], false);
        for o in [&c, &d, &e] {
            assert_ne!((o.count, o.print), (a.count, a.print));
        }
        // pairs are hashed as pairs: host and mailbox text do not run into each other
        let f = set(&[("mbx1a", "nn@x")], false);
        assert_ne!(f.print, e.print);
    }

    #[test]
    fn one_mailbox_at_two_hosts_is_a_clash_and_lists_are_sorted_lower_case() {
        let a = set(
            &[("mbx2", "Ann@x"), ("mbx1", "ann@X"), ("mbx1", "bob@x")],
            true,
        );
        assert!(a.name_clash);
        assert_eq!(a.count, 3);
        assert_eq!(
            a.list.as_deref(),
            Some(
                &[
                    ("mbx1".to_string(), "ann@x".to_string()),
                    ("mbx1".to_string(), "bob@x".to_string()),
                    ("mbx2".to_string(), "ann@x".to_string())
                ][..]
            )
        );
        assert_eq!(set(&[("mbx1", "ann@x")], false).list, None);
    }
}
