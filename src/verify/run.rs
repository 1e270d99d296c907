//! Running the classes: each class's representative explored from each of its entry points
//! (state by state, see `route`'s state graph), turned into outcomes and aggregated findings;
//! classes in parallel on scoped threads, results in class order whatever the thread count.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::classes::AddressClass;
use super::report::{EntryPoint, Finding, HairpinHop, Issue, Outcome};
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
    /// The delivered `(host, mailbox)` pairs, lower case, sorted, without `(discarded)`.
    pub delivered: Vec<(String, String)>,
    /// For each outcome: for loops, the MTAs of its cycle's strongly connected component
    /// (sorted): the key that makes one finding per cycle.
    pub loop_keys: Vec<Option<String>>,
    pub hairpins: Vec<HairpinHop>,
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
        let start = match e {
            EntryPoint::Internet => start_of(self.topo, &Entry::Internet, rcpt),
            EntryPoint::Mta(m) => start_of(self.topo, &Entry::Mta(m.clone()), rcpt),
            EntryPoint::MxHost(h) => Ok(via_host(h)),
        };
        let Ok(start) = start else {
            return EntryRun {
                entry: e.clone(),
                outcomes: Vec::new(),
                delivered: Vec::new(),
                loop_keys: Vec::new(),
                hairpins: Vec::new(),
            };
        };
        let g = self.explorer.explore(&start, rcpt);
        let sender = self.sender(e).to_string();
        let facts = g.facts(self.topo);
        let mut outcomes = Vec::with_capacity(facts.len());
        let mut loop_keys = Vec::with_capacity(facts.len());
        // one outcome per (MTA, recipient, disposition, DSN writer): the same leaf reached from
        // several previous MTAs is one outcome, with the first (shortest) path as its example
        let mut seen: FxMap<(usize, &str, &Disposition, Writer), ()> = FxMap::default();
        let mut delivered: BTreeSet<(String, String)> = BTreeSet::new();
        for f in &facts {
            if let Disposition::Delivered { host, mailbox } = &f.disposition {
                if mailbox != "(discarded)" {
                    delivered.insert((host.to_ascii_lowercase(), mailbox.to_ascii_lowercase()));
                }
                if !full {
                    continue;
                }
            }
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
        EntryRun {
            entry: e.clone(),
            outcomes,
            delivered: delivered.into_iter().collect(),
            loop_keys,
            hairpins: self.hairpins(&g),
        }
    }

    /// The class's runs from each of its entry points (`full`: with every outcome).
    pub fn class(&mut self, c: &AddressClass, full: bool) -> ClassRuns {
        let entries = self.entries(&c.domain);
        ClassRuns {
            runs: entries
                .iter()
                .map(|e| self.run(e, &c.representative, full))
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
        if !r.delivered.is_empty() {
            deliveries.push((e.clone(), r.delivered.clone()));
        }
    }
    let distinct: BTreeSet<&Vec<(String, String)>> = deliveries.iter().map(|(_, d)| d).collect();
    let one_name_two_hosts = deliveries.iter().any(|(_, d)| {
        // sorted by (host, mailbox): look for one mailbox at two hosts
        let mut names: FxMap<&str, &str> = FxMap::default();
        d.iter().any(|(h, m)| {
            names
                .insert(m.as_str(), h.as_str())
                .is_some_and(|old| old != h)
        })
    });
    if distinct.len() > 1 || one_name_two_hosts || c.mailbox_hosts.len() > 1 {
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

/// The number of threads to use: `threads`, or (0) the machine's parallelism.
pub(crate) fn thread_count(threads: usize, work: usize) -> usize {
    let n = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    };
    n.clamp(1, work.max(1))
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
    let n = thread_count(threads, items.len());
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
