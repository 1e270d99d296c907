//! Verification: every address, from every entry point, in every state of a migration —
//! loop-free and lossless, or a counterexample with its trace.
//!
//! A simulator answers one address at a time; [`check`] answers for all of them, the way Batfish
//! checks a whole IP network for forwarding loops. It enumerates every address the topology
//! knows, groups them into **address classes** that route alike, explores one representative
//! per class from every entry point, and turns what happens to it into typed [`Finding`]s.
//!
//! # Addresses
//!
//! Every address any directory or foreign MTA knows: the keys of each Zimbra MTA's
//! `ldap-*.cf` maps (delivery addresses, aliases, list and group addresses, catch-all and — with
//! `old_address_filter` — old addresses), the LMTP server's account names and aliases, the
//! values of the alias and canonical maps (forwarding targets, list members, canonical
//! addresses), foreign MTAs' mailboxes, alias keys and values and per-address routes; one unknown
//! local part (`no-such-user`) per served domain (every local, alias and `mydestination` domain,
//! every foreign MTA domain, every domain with an MX record — so every catch-all is probed);
//! and `no-such-user@unserved-domain.invalid`, a domain nobody serves.
//!
//! # Address classes
//!
//! Postfix's maps are looked up by the full address, then by `@domain`; lookups by `@domain`
//! are the same for every address of the domain. So an address `local@d` is described by its
//! **routing signature**:
//!
//! 1. its domain `d`, and the *domain closure* of `d`: the domains its mail can be rewritten into
//!    with the local part kept (catch-all `@d → @e` forwarding or canonical, alias domains,
//!    `local@d → local@e` aliases and forwards anywhere in the topology);
//! 2. for every domain `e` of the closure and every MTA, what that MTA's per-address tables
//!    return for `local@e`: for a Zimbra MTA the ldap-canonical.cf value, the ldap-vam.cf values,
//!    the ldap-transport.cf value, whether ldap-vmm.cf and ldap-splitdomain.cf match, and the
//!    LMTP server's view (account status, mail host, mailbox name); for a foreign MTA the alias
//!    rewrite, the per-address route and mailbox membership;
//! 3. every address in those results written *relative to the address*: `local@e` for a domain
//!    `e` of the closure is written `~@e`; any other address is written as **its own class**
//!    (so aliases of equally-routed accounts share a class), or literally when the references
//!    form a cycle; repeated values keep their pattern (a list naming one member twice).
//!
//! Addresses with equal signatures form a class. Two members differ only in their local part,
//! and every lookup the simulator makes for one has the same answer, renamed, for the other —
//! so one simulation per class and entry point stands for every member. Addresses whose local
//! part holds a recipient delimiter of some MTA (`user+ext` lookups) are classes of their own.
//! The representative is the smallest member; a class knows its member count and a sample.
//!
//! Classification runs on [`CheckOptions::threads`] threads and gives the same classes, with
//! the same numbers, whatever their count: the maps are enumerated shard by shard in parallel
//! and the addresses numbered in the order one thread would find them; every address's
//! lookups (its *template*: the signature with holes where other addresses are referred to)
//! are computed in parallel, one hash per address for all the tables; the holes are then
//! filled with classes in enumeration order on one thread, which is where a cycle of
//! references is cut, so the result does not depend on the threads.
//!
//! # Exploring a class: bounded by the topology, not by the paths
//!
//! A trace follows every path of a message; with distribution lists that name each other across
//! MTAs the number of paths grows exponentially with the hop limit. The verifier instead
//! explores the message's **state graph** (see `route`'s module documentation): each state —
//! MTA, previous MTA, recipient — once, at its smallest hop count, with one decision per
//! (MTA, arrival, recipient) shared between all classes a thread checks (a bounded cache).
//! Loops are the cycles of that graph (one finding per strongly connected component, whatever
//! state a path enters it by), and a refusal for too many hops on a path that never circled is
//! found from the set of hop counts each state can be reached with. Each outcome of a class is
//! reported once, with the first (shortest) path as its example, and a class's outcomes are
//! turned into findings and dropped before the next class: memory holds the classification and
//! the findings, not the outcomes (a forwarding chain of N accounts has N²/2 deliveries). Classes
//! run in parallel on scoped threads ([`CheckOptions::threads`]); the report is the same, byte
//! for byte, whatever the number of threads.
//!
//! Property (a) holds by construction: the trace builder asks the same state graph which states
//! lie on a cycle, so the verifier reports a [`FindingKind::Loop`] for a class exactly when a
//! trace of its representative from one of its entry points loops (a property test checks it
//! against the traces).
//!
//! # Entry points
//!
//! For an address of domain `d` ([`entry_points`]): the Internet as the MX records send it
//! ([`EntryPoint::Internet`], with equal-preference alternatives as branches); when `d` has more
//! than one MX host, an outside sender at each listed MX host of the topology separately
//! ([`EntryPoint::MxHost`]: stale caches after an MX switch, a sender's pick among equals); and
//! every MTA for its internal (trusted) senders ([`EntryPoint::Mta`]).
//!
//! # Findings
//!
//! | kind | line | when |
//! |---|---|---|
//! | [`Loop`](FindingKind::Loop) | `loop` | a leaf of the trace loops (`Disposition::Looped`) |
//! | [`LostMail`](FindingKind::LostMail) | `lost` | an address with a mailbox somewhere is bounced or rejected from some entry |
//! | [`SplitBrain`](FindingKind::SplitBrain) | `split-brain` | delivered to different mailboxes depending on the entry point, one mailbox name at two hosts in one trace, or mailboxes on two hosts |
//! | [`DeferredForever`](FindingKind::DeferredForever) | `deferred` | a leaf is deferred (the topology is static: nothing will change) |
//! | [`Hairpin`](FindingKind::Hairpin) | `hairpin` | a hop between two MTAs of the topology, sent from a private address, connects to a name that resolves only to public addresses (the seed's "use internal hostnames") |
//! | [`Backscatter`](FindingKind::Backscatter) | `backscatter` | an address without a mailbox, sent from the Internet, is accepted and bounced later (by the MTA itself or, refused at a later hop, by the one before) instead of rejected at RCPT |
//! | [`Silent`](FindingKind::Silent) | `silent` | mail that is not delivered (bounced, refused after an earlier hop accepted it, looping) and whose DSN never reaches the envelope sender: it is refused, bounces or loops itself (a double bounce) or waits forever — the sender believes the mail was delivered |
//!
//! Findings are aggregated: one per kind and class (per cycle of MTAs for loops, per hop for
//! hairpins), listing the entry points it shows from, with the first outcome as evidence and a
//! count of all ([`Finding::count`]). `loop`, `lost` and `silent` are failing
//! ([`Report::has_failing`]: `route verify` exits 1). The envelope sender of each entry point is
//! [`EntryPoint::sender`]: an outside address for the Internet, a user of the MTA for an MTA.
//!
//! ```
//! use zimbra_prov::model::Directory;
//! use zimbra_prov::route::{ForeignMta, Mta, Topology, UnknownPolicy};
//! use zimbra_prov::verify::{check, FindingKind};
//! let mut dir = Directory::new();
//! zimbra_prov::zmprov::run(&mut dir, "
//!     cs primary.example.org
//!     cd example.org
//!     ca alice@example.org pw
//!     md example.org zimbraMailCatchAllAddress @example.org zimbraMailCatchAllForwardingAddress @example.org
//!     md example.org zimbraMailTransport smtp:exchange.example.org
//! ").unwrap();
//! let mut topo = Topology::new();
//! topo.add(Mta::zimbra("primary", "primary.example.org", &dir, |_| {})).unwrap();
//! topo.add(Mta::foreign("exchange", "exchange.example.org", ForeignMta {
//!     domains: vec!["example.org".into()],
//!     mailboxes: vec!["bob@example.org".into()],
//!     unknown: UnknownPolicy::Relay,
//!     relayhost: Some("primary.example.org".into()),
//!     dns_lookups: true,
//!     hopcount_limit: 50,
//!     ..ForeignMta::default()
//! })).unwrap();
//! topo.dns.mx.insert("example.org".into(), vec![(10, "primary.example.org".into())]);
//! // both sides forward unknown recipients to each other
//! let report = check(&topo);
//! let loops: Vec<_> = report.findings.iter().filter(|f| f.kind() == FindingKind::Loop).collect();
//! assert_eq!(loops.len(), 1);
//! assert_eq!(loops[0].address, "no-such-user@example.org");
//! assert!(report.has_loop_or_lost());
//! // the finding carries what rebuilds its trace
//! let trace = loops[0].trace(&topo).unwrap();
//! assert!(trace.leaves().iter().any(|l| l.disposition.outcome() == "looped"));
//! ```

mod classes;
mod plan;
mod report;
mod run;
mod signature;
mod universe;

use std::collections::BTreeSet;

pub use classes::{AddressClass, SAMPLE};
pub use plan::{
    diff, diff_with, plan, plan_scenario, plan_with, Change, Diff, PlanReport, StepReport,
};
pub use report::{EntryPoint, Finding, FindingKind, HairpinHop, Issue, Outcome, Report};

use crate::route::Topology;
use universe::AddrSet;

/// The entry points for addresses of `domain` (see the [module documentation](self)).
///
/// ```
/// use zimbra_prov::route::{Mta, Topology};
/// use zimbra_prov::verify::{entry_points, EntryPoint};
/// let dir = zimbra_prov::model::Directory::new();
/// let mut t = Topology::new();
/// t.add(Mta::zimbra("a", "a.example.org", &dir, |_| {})).unwrap();
/// t.add(Mta::zimbra("b", "b.example.org", &dir, |_| {})).unwrap();
/// t.dns.mx.insert("example.org".into(), vec![(10, "a.example.org".into()), (20, "b.example.org".into())]);
/// assert_eq!(entry_points(&t, "example.org"), vec![
///     EntryPoint::Internet,
///     EntryPoint::MxHost("a.example.org".into()),
///     EntryPoint::MxHost("b.example.org".into()),
///     EntryPoint::Mta("a".into()),
///     EntryPoint::Mta("b".into()),
/// ]);
/// ```
pub fn entry_points(topo: &Topology, domain: &str) -> Vec<EntryPoint> {
    let mut v = vec![EntryPoint::Internet];
    if let Some(mx) = topo.dns.mx_of(domain) {
        let hosts: BTreeSet<&str> = mx.iter().map(|(_, h)| h.as_str()).collect();
        if hosts.len() > 1 {
            for (_, h) in &mx {
                let e = EntryPoint::MxHost(h.clone());
                if topo.find_host(h).is_some() && !v.contains(&e) {
                    v.push(e);
                }
            }
        }
    }
    v.extend(topo.mtas().iter().map(|m| EntryPoint::Mta(m.name.clone())));
    v
}

/// How [`check_with`], [`plan_with`] and [`diff_with`] run.
///
/// ```
/// use zimbra_prov::verify::CheckOptions;
/// assert_eq!(CheckOptions::default().threads, 0); // as many threads as the machine has cores
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckOptions {
    /// Threads that classify the addresses and run classes in parallel; 0 (the default) uses
    /// the machine's available parallelism. The classes and the report are the same, byte for
    /// byte, whatever the count.
    pub threads: usize,
}

impl CheckOptions {
    /// Run on `threads` threads (0: the machine's parallelism).
    pub fn threads(threads: usize) -> CheckOptions {
        CheckOptions { threads }
    }
}

/// Every address class of the topologies (see the [module documentation](self)).
///
/// ```
/// use zimbra_prov::model::Directory;
/// use zimbra_prov::route::{Mta, Topology};
/// let mut dir = Directory::new();
/// zimbra_prov::zmprov::run(&mut dir, "cs mx.example.org\ncd example.org\n\
///     ca a@example.org pw\nca b@example.org pw\nca c@example.org pw zimbraAccountStatus maintenance").unwrap();
/// let mut t = Topology::new();
/// t.add(Mta::zimbra("mx", "mx.example.org", &dir, |_| {})).unwrap();
/// let c = zimbra_prov::verify::classify(&[&t]);
/// // a and b route alike; c (maintenance) does not
/// assert_eq!(c.class_of("b@example.org").unwrap().representative, "a@example.org");
/// assert_eq!(c.class_of("a@example.org").unwrap().members, 2);
/// assert_ne!(c.class_of("c@example.org"), c.class_of("a@example.org"));
/// // plus the unknown probes of example.org and of mydestination's localhost, and the
/// // unserved domain's
/// assert!(c.class_of("no-such-user@example.org").unwrap().synthetic);
/// assert!(c.class_of("no-such-user@localhost").is_some());
/// assert!(c.class_of("no-such-user@unserved-domain.invalid").is_some());
/// assert_eq!(c.classes().len(), 5);
/// ```
pub fn classify(topos: &[&Topology]) -> Classification {
    classify_with(topos, &CheckOptions::default())
}

/// [`classify`] on [`CheckOptions::threads`] threads: the routing lookups of the addresses run
/// in parallel, the classes are the same (numbers, members, samples) whatever the count.
///
/// ```
/// use zimbra_prov::model::Directory;
/// use zimbra_prov::route::{Mta, Topology};
/// use zimbra_prov::verify::{classify_with, CheckOptions};
/// let mut dir = Directory::new();
/// zimbra_prov::zmprov::run(&mut dir, "cs mx.example.org\ncd example.org\n\
///     ca a@example.org pw\nca b@example.org pw\naaa b@example.org b2@example.org").unwrap();
/// let mut t = Topology::new();
/// t.add(Mta::zimbra("mx", "mx.example.org", &dir, |_| {})).unwrap();
/// let one = classify_with(&[&t], &CheckOptions::threads(1));
/// let two = classify_with(&[&t], &CheckOptions::threads(2));
/// assert_eq!(one.classes(), two.classes());
/// assert!(one.addresses().eq(two.addresses()));
/// ```
pub fn classify_with(topos: &[&Topology], opts: &CheckOptions) -> Classification {
    let threads = crate::par::threads(opts.threads, usize::MAX);
    let mut cl = classes::Classifier::new(topos, threads);
    cl.universe(topos);
    let (classes, universe, class_idx) = cl.run();
    Classification {
        classes: classes.classes,
        addresses: classes.addresses,
        universe,
        class_idx,
    }
}

/// The address classes of one or more topologies and the class of every address.
#[derive(Debug, Clone)]
pub struct Classification {
    classes: Vec<AddressClass>,
    addresses: u64,
    universe: AddrSet,
    class_idx: Vec<u32>,
}

impl Classification {
    /// The classes.
    pub fn classes(&self) -> &[AddressClass] {
        &self.classes
    }

    /// The class of `addr` (case-insensitive), if it is one of the enumerated addresses.
    pub fn class_of(&self, addr: &str) -> Option<&AddressClass> {
        let lc = addr.to_ascii_lowercase();
        let i = self.universe.find(&lc)? as usize;
        self.class_idx
            .get(i)
            .and_then(|c| self.classes.get(*c as usize))
    }

    /// Every enumerated address with its class number (in enumeration order).
    pub fn addresses(&self) -> impl Iterator<Item = (&str, usize)> + '_ {
        self.universe
            .iter()
            .zip(&self.class_idx)
            .map(|(a, c)| (a, *c as usize))
    }

    /// Number of enumerated addresses.
    pub fn address_count(&self) -> u64 {
        self.addresses
    }
}

/// Verify a topology: every address class from every entry point (see the
/// [module documentation](self)). Cost: one classification pass over the addresses (hash lookups)
/// plus, per class and entry point, one exploration of the message's state graph — bounded by
/// the topology's size, not by the number of paths. Classification and classes run in parallel
/// ([`CheckOptions::threads`]).
pub fn check(topo: &Topology) -> Report {
    check_with(topo, &CheckOptions::default())
}

/// [`check`] with options.
///
/// ```
/// use zimbra_prov::model::Directory;
/// use zimbra_prov::route::{Mta, Topology};
/// use zimbra_prov::verify::{check_with, CheckOptions};
/// let mut dir = Directory::new();
/// zimbra_prov::zmprov::run(&mut dir, "cs mx.example.org\ncd example.org\nca a@example.org pw").unwrap();
/// let mut t = Topology::new();
/// t.add(Mta::zimbra("mx", "mx.example.org", &dir, |_| {})).unwrap();
/// let one = check_with(&t, &CheckOptions::threads(1)).to_text();
/// assert_eq!(check_with(&t, &CheckOptions::threads(4)).to_text(), one);
/// ```
pub fn check_with(topo: &Topology, opts: &CheckOptions) -> Report {
    let c = classify_with(&[topo], opts);
    report(topo, &c.classes, 0, c.addresses, opts)
}

/// The report of topology `k` of a (joint) classification.
pub(crate) fn report(
    topo: &Topology,
    classes: &[AddressClass],
    k: usize,
    addresses: u64,
    opts: &CheckOptions,
) -> Report {
    let classes: Vec<AddressClass> = classes.iter().map(|c| c.in_topology(k)).collect();
    let per_class = run::parallel(&[topo], &classes, opts.threads, |rs, c| {
        let Some(r) = rs.first_mut() else {
            return (Vec::new(), Vec::new());
        };
        let runs = r.class(c, false);
        let entries: Vec<EntryPoint> = runs.runs.iter().map(|x| x.entry.clone()).collect();
        (run::class_findings(c, &runs), entries)
    });
    let mut findings = Vec::new();
    let mut entry_points: BTreeSet<EntryPoint> = BTreeSet::new();
    let mut simulations = 0;
    for (f, e) in per_class {
        findings.extend(f);
        simulations += e.len();
        entry_points.extend(e);
    }
    Report::new(classes, addresses, findings, entry_points, simulations)
}
