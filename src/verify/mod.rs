//! Verification: every address, from every entry point, in every state of a migration —
//! loop-free and lossless, or a counterexample with its trace.
//!
//! A simulator answers one address at a time; [`check`] answers for all of them, the way Batfish
//! checks a whole IP network for forwarding loops. It enumerates every address the topology
//! knows, groups them into **address classes** that route alike, simulates one representative
//! per class from every entry point, and turns the traces into typed [`Finding`]s.
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
//! Property (a) holds by construction: the verifier reports a [`FindingKind::Loop`] for a class
//! exactly when simulating its representative from one of its entry points loops, because the
//! report is made from those very simulations.
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
//! | [`Backscatter`](FindingKind::Backscatter) | `backscatter` | an address without a mailbox, sent from the Internet, is accepted and bounced later instead of rejected at RCPT |
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
//! let trace = loops[0].trace(&topo);
//! assert!(trace.leaves().iter().any(|l| l.disposition.outcome() == "looped"));
//! ```

mod classes;
mod plan;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::net::IpAddr;
use std::rc::Rc;

use serde::Serialize;

pub use classes::{AddressClass, SAMPLE};
pub use plan::{diff, plan, plan_scenario, Change, Diff, PlanReport, StepReport};

use crate::route::index::FxMap;
use crate::route::{
    simulate, simulate_via_host, Disposition, Entry, Node, NodeKind, Topology, Trace,
};

/// Where a verified message enters the topology.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum EntryPoint {
    /// An outside sender following the MX records (best preference; equal ones branch).
    Internet,
    /// An outside sender connecting to this MX host (stale cache, or its pick among equals).
    MxHost(String),
    /// An internal (trusted) sender submitting at this MTA.
    Mta(String),
}

impl EntryPoint {
    /// Simulate `rcpt` entering here.
    pub fn simulate(&self, topo: &Topology, rcpt: &str) -> Trace {
        match self {
            EntryPoint::Internet => simulate(topo, &Entry::Internet, rcpt),
            EntryPoint::MxHost(h) => simulate_via_host(topo, h, rcpt),
            EntryPoint::Mta(m) => simulate(topo, &Entry::Mta(m.clone()), rcpt),
        }
    }

    /// Whether the sender is outside the topology (an untrusted Internet client).
    pub fn is_outside(&self) -> bool {
        !matches!(self, EntryPoint::Mta(_))
    }
}

impl fmt::Display for EntryPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntryPoint::Internet => f.write_str("internet"),
            EntryPoint::MxHost(h) => write!(f, "internet via {h}"),
            EntryPoint::Mta(m) => f.write_str(m),
        }
    }
}

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

/// The kind of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, strum::EnumIter)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// Mail circles between MTAs until a hop limit ends it.
    Loop,
    /// An address with a mailbox somewhere is bounced or rejected.
    LostMail,
    /// One address reaches different mailboxes depending on the entry point, or has mailboxes on
    /// two hosts.
    SplitBrain,
    /// Deferred with no end.
    DeferredForever,
    /// Mail between two MTAs of the topology leaves through the Internet.
    Hairpin,
    /// Unknown recipients accepted and bounced later instead of rejected at RCPT.
    Backscatter,
}

impl FindingKind {
    /// The word a report line starts with: `loop`, `lost`, `split-brain`, `deferred`,
    /// `hairpin`, `backscatter`.
    pub fn label(self) -> &'static str {
        match self {
            FindingKind::Loop => "loop",
            FindingKind::LostMail => "lost",
            FindingKind::SplitBrain => "split-brain",
            FindingKind::DeferredForever => "deferred",
            FindingKind::Hairpin => "hairpin",
            FindingKind::Backscatter => "backscatter",
        }
    }

    /// Every kind, in report order.
    pub const ALL: [FindingKind; 6] = [
        FindingKind::Loop,
        FindingKind::LostMail,
        FindingKind::SplitBrain,
        FindingKind::DeferredForever,
        FindingKind::Hairpin,
        FindingKind::Backscatter,
    ];
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One leaf of a simulated trace, owned: the MTAs on its path, the recipient at each of them, the
/// final recipient and the disposition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// MTA names from the entry to the leaf.
    pub via: Vec<String>,
    /// The recipient address as each MTA of `via` received it.
    pub addresses: Vec<String>,
    /// The final recipient at the leaf.
    pub recipient: String,
    /// How it ends.
    pub disposition: Disposition,
}

impl Outcome {
    /// `DISPOSITION (via a > b)`.
    pub fn describe(&self) -> String {
        let who = match self.addresses.first() {
            Some(a) if !a.eq_ignore_ascii_case(&self.recipient) => {
                format!("<{}> ", self.recipient)
            }
            _ => String::new(),
        };
        format!("{who}{} (via {})", self.disposition, self.via.join(" > "))
    }

    fn key(&self) -> (Vec<String>, String, String) {
        (
            self.via.clone(),
            self.recipient.to_ascii_lowercase(),
            self.disposition.to_string(),
        )
    }
}

/// A hop between two MTAs of the topology that leaves the private network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HairpinHop {
    /// The sending MTA.
    pub from: String,
    /// The receiving MTA.
    pub to: String,
    /// The host name the sender connected to.
    pub next_hop: String,
    /// What that name resolves to (all public).
    pub resolved: Vec<String>,
    /// The sender's own (private) addresses.
    pub sender: Vec<String>,
}

/// What a finding shows, by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Issue {
    /// The cycle of MTAs and the addresses along the looping path.
    Loop {
        /// The MTAs of the cycle, in order.
        cycle: Vec<String>,
        /// The looping leaf.
        outcome: Outcome,
    },
    /// The bounce or rejection of an address that has a mailbox.
    LostMail {
        /// The failing leaf.
        outcome: Outcome,
    },
    /// Different mailboxes depending on the entry point, or mailboxes on several hosts.
    SplitBrain {
        /// The delivered `(host, mailbox)` pairs from each entry point that delivers.
        deliveries: Vec<(EntryPoint, Vec<(String, String)>)>,
        /// The hosts holding a mailbox for the address (when two or more).
        mailbox_hosts: Vec<String>,
    },
    /// A deferral with no end.
    DeferredForever {
        /// The deferred leaf.
        outcome: Outcome,
    },
    /// A hop that leaves through the Internet.
    Hairpin {
        /// The hop.
        hop: HairpinHop,
    },
    /// An unknown recipient accepted, then bounced.
    Backscatter {
        /// The bouncing leaf.
        outcome: Outcome,
    },
}

impl Issue {
    /// The kind.
    pub fn kind(&self) -> FindingKind {
        match self {
            Issue::Loop { .. } => FindingKind::Loop,
            Issue::LostMail { .. } => FindingKind::LostMail,
            Issue::SplitBrain { .. } => FindingKind::SplitBrain,
            Issue::DeferredForever { .. } => FindingKind::DeferredForever,
            Issue::Hairpin { .. } => FindingKind::Hairpin,
            Issue::Backscatter { .. } => FindingKind::Backscatter,
        }
    }

    fn describe(&self) -> String {
        match self {
            Issue::Loop { cycle, outcome } => {
                let mut s = format!("cycle {}", cycle.join(" -> "));
                if let Disposition::Looped { hops, by, .. } = &outcome.disposition {
                    let _ = write!(s, ", ended by {by} at hop {hops} (554 5.4.0 too many hops)");
                }
                let mut addrs: Vec<&str> = Vec::new();
                for a in &outcome.addresses {
                    if addrs.last() != Some(&a.as_str()) {
                        addrs.push(a);
                    }
                }
                let _ = write!(s, "; addresses {}", addrs.join(" -> "));
                s
            }
            Issue::LostMail { outcome } | Issue::DeferredForever { outcome } => outcome.describe(),
            Issue::Backscatter { outcome } => format!("accepted, then {}", outcome.describe()),
            Issue::SplitBrain {
                deliveries,
                mailbox_hosts,
            } => {
                let mut parts: Vec<String> = deliveries
                    .iter()
                    .map(|(e, d)| {
                        let at: Vec<String> =
                            d.iter().map(|(h, m)| format!("{m} at {h}")).collect();
                        format!("{e}: {}", at.join(", "))
                    })
                    .collect();
                if mailbox_hosts.len() > 1 {
                    parts.push(format!("mailboxes on {}", mailbox_hosts.join(", ")));
                }
                parts.join("; ")
            }
            Issue::Hairpin { hop } => format!(
                "{} -> {} connects to {} = {} (public) from {} (private): use an internal host name",
                hop.from,
                hop.to,
                hop.next_hop,
                hop.resolved.join(", "),
                hop.sender.join(", ")
            ),
        }
    }
}

/// One finding: an issue, the address class it concerns and the entry points it shows from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What is wrong, with the evidence.
    pub issue: Issue,
    /// The class (index into [`Report::classes`]).
    pub class: usize,
    /// The class's representative address (the one simulated).
    pub address: String,
    /// Its domain.
    pub domain: String,
    /// How many addresses the class holds.
    pub members: u64,
    /// The entry points from which it shows (the first one's trace is the counterexample).
    pub entries: Vec<EntryPoint>,
}

impl Finding {
    /// The kind.
    pub fn kind(&self) -> FindingKind {
        self.issue.kind()
    }

    /// The trace that shows the finding: the representative simulated from the first entry.
    pub fn trace(&self, topo: &Topology) -> Trace {
        self.entries
            .first()
            .unwrap_or(&EntryPoint::Internet)
            .simulate(topo, &self.address)
    }

    /// The report line: `KIND ADDRESS [N addresses] from ENTRIES: DETAIL`.
    pub fn line(&self) -> String {
        let entries: Vec<String> = self.entries.iter().map(|e| e.to_string()).collect();
        let members = if self.members > 1 {
            format!(" [{} addresses]", self.members)
        } else {
            String::new()
        };
        let from = if entries.is_empty() {
            String::new()
        } else {
            format!(" from {}", entries.join(", "))
        };
        format!(
            "{} {}{members}{from}: {}",
            self.kind().label(),
            self.address,
            self.issue.describe()
        )
    }
}

/// The result of [`check`]: findings (by kind, domain, address) and what was checked.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The findings, sorted by kind, domain, address.
    pub findings: Vec<Finding>,
    /// The address classes checked.
    pub classes: Vec<AddressClass>,
    /// Number of addresses (all class members).
    pub addresses: u64,
    /// Number of distinct entry points used.
    pub entry_points: usize,
    /// Number of simulations (class × entry point).
    pub simulations: usize,
}

impl Report {
    /// Number of findings of `kind`.
    pub fn count(&self, kind: FindingKind) -> usize {
        self.findings.iter().filter(|f| f.kind() == kind).count()
    }

    /// Whether there is a `loop` or `lost` finding (what `route verify` exits 1 for).
    pub fn has_loop_or_lost(&self) -> bool {
        self.findings
            .iter()
            .any(|f| matches!(f.kind(), FindingKind::Loop | FindingKind::LostMail))
    }

    /// The findings grouped by kind, then domain.
    pub fn by_kind_and_domain(&self) -> BTreeMap<(FindingKind, &str), Vec<&Finding>> {
        let mut m: BTreeMap<(FindingKind, &str), Vec<&Finding>> = BTreeMap::new();
        for f in &self.findings {
            m.entry((f.kind(), f.domain.as_str())).or_default().push(f);
        }
        m
    }

    /// The summary lines: what was checked, and the count of each kind.
    pub fn counts(&self) -> String {
        let counts: Vec<String> = FindingKind::ALL
            .iter()
            .map(|k| format!("{} {}", self.count(*k), k.label()))
            .collect();
        format!(
            "checked {} addresses in {} classes from {} entry points ({} simulations)\nfindings: {}",
            self.addresses,
            self.classes.len(),
            self.entry_points,
            self.simulations,
            counts.join(", ")
        )
    }

    /// One line per finding (grouped by kind and domain), then [`Report::counts`].
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for fs in self.by_kind_and_domain().values() {
            for f in fs {
                s.push_str(&f.line());
                s.push('\n');
            }
        }
        s.push_str(&self.counts());
        s.push('\n');
        s
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
    let mut cl = classes::Classifier::new(topos);
    cl.universe(topos);
    let (classes, universe, position, class_idx) = cl.run();
    Classification {
        classes: classes.classes,
        addresses: classes.addresses,
        universe,
        position,
        class_idx,
    }
}

/// The address classes of one or more topologies and the class of every address.
#[derive(Debug, Clone)]
pub struct Classification {
    classes: Vec<AddressClass>,
    addresses: u64,
    universe: Vec<Rc<str>>,
    position: FxMap<Rc<str>, u32>,
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
        let i = *self.position.get(lc.as_str())? as usize;
        self.class_idx
            .get(i)
            .and_then(|c| self.classes.get(*c as usize))
    }

    /// Every enumerated address with its class number (in enumeration order).
    pub fn addresses(&self) -> impl Iterator<Item = (&str, usize)> + '_ {
        self.universe
            .iter()
            .zip(&self.class_idx)
            .map(|(a, c)| (&**a, *c as usize))
    }

    /// Number of enumerated addresses.
    pub fn address_count(&self) -> u64 {
        self.addresses
    }
}

/// The simulations of one class from each of its entry points in one topology.
#[derive(Debug, Clone)]
pub(crate) struct ClassRuns {
    pub runs: Vec<(EntryPoint, Vec<Outcome>, Vec<HairpinHop>)>,
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

/// The leaves of a trace, and its hairpin hops.
pub(crate) fn outcomes(topo: &Topology, t: &Trace) -> (Vec<Outcome>, Vec<HairpinHop>) {
    struct W<'a> {
        topo: &'a Topology,
        via: Vec<String>,
        addrs: Vec<String>,
        hosts: Vec<Option<&'a str>>,
        out: Vec<Outcome>,
        hair: Vec<HairpinHop>,
    }
    fn walk<'a>(w: &mut W<'a>, n: &'a Node) {
        let mta = n.kind == NodeKind::Mta;
        if mta {
            if let (Some(h), Some(Some(prev_host)), Some(prev)) =
                (&n.reached_as, w.hosts.last(), w.via.last())
            {
                let resolved = w.topo.dns.addresses(h);
                let sender = w.topo.dns.addresses(prev_host);
                let public =
                    !resolved.is_empty() && resolved.iter().all(|a| private(a) == Some(false));
                let from_private = sender.iter().any(|a| private(a) == Some(true));
                if public && from_private {
                    w.hair.push(HairpinHop {
                        from: prev.clone(),
                        to: n.name.clone(),
                        next_hop: h.clone(),
                        resolved,
                        sender,
                    });
                }
            }
            w.via.push(n.name.clone());
            w.addrs.push(n.recipient.clone());
            w.hosts.push(n.host.as_deref());
        }
        if let Some(d) = &n.disposition {
            w.out.push(Outcome {
                via: w.via.clone(),
                addresses: w.addrs.clone(),
                recipient: n.recipient.clone(),
                disposition: d.clone(),
            });
        }
        for c in &n.children {
            walk(w, c);
        }
        if mta {
            w.via.pop();
            w.addrs.pop();
            w.hosts.pop();
        }
    }
    let mut w = W {
        topo,
        via: Vec::new(),
        addrs: Vec::new(),
        hosts: Vec::new(),
        out: Vec::new(),
        hair: Vec::new(),
    };
    walk(&mut w, &t.root);
    (w.out, w.hair)
}

/// Simulate every class's representative from each of its entry points.
pub(crate) fn run_classes(topo: &Topology, classes: &[AddressClass]) -> Vec<ClassRuns> {
    let mut cache: FxMap<Box<str>, Vec<EntryPoint>> = FxMap::default();
    classes
        .iter()
        .map(|c| {
            let entries = cache
                .entry(c.domain.as_str().into())
                .or_insert_with(|| entry_points(topo, &c.domain))
                .clone();
            let runs = entries
                .into_iter()
                .map(|e| {
                    let t = e.simulate(topo, &c.representative);
                    let (o, h) = outcomes(topo, &t);
                    (e, o, h)
                })
                .collect();
            ClassRuns { runs }
        })
        .collect()
}

/// The findings of one class from its simulations.
pub(crate) fn class_findings(c: &AddressClass, runs: &ClassRuns) -> Vec<Finding> {
    let mut by_key: Vec<(Issue, Vec<EntryPoint>, String)> = Vec::new();
    let mut add = |issue: Issue, key: String, e: &EntryPoint| match by_key
        .iter_mut()
        .find(|(i, _, k)| i.kind() == issue.kind() && *k == key)
    {
        Some((_, es, _)) => {
            if !es.contains(e) {
                es.push(e.clone())
            }
        }
        None => by_key.push((issue, vec![e.clone()], key)),
    };
    let mut deliveries: Vec<(EntryPoint, Vec<(String, String)>)> = Vec::new();
    for (e, outs, hairs) in &runs.runs {
        let mut delivered: BTreeSet<(String, String)> = BTreeSet::new();
        for o in outs {
            match &o.disposition {
                Disposition::Looped { cycle, .. } => {
                    // one finding per cycle, whichever MTA of it the path enters first
                    let start = (0..cycle.len()).min_by_key(|i| cycle.get(*i)).unwrap_or(0);
                    let mut key = cycle.clone();
                    key.rotate_left(start);
                    add(
                        Issue::Loop {
                            cycle: cycle.clone(),
                            outcome: o.clone(),
                        },
                        key.join(">"),
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
                Disposition::Bounced { .. } if !c.exists && e.is_outside() => {
                    add(Issue::Backscatter { outcome: o.clone() }, String::new(), e)
                }
                Disposition::Delivered { host, mailbox } if mailbox != "(discarded)" => {
                    delivered.insert((host.to_ascii_lowercase(), mailbox.to_ascii_lowercase()));
                }
                _ => {}
            }
        }
        for h in hairs {
            let key = format!("{}>{}>{}", h.from, h.to, h.next_hop);
            add(Issue::Hairpin { hop: h.clone() }, key, e);
        }
        if !delivered.is_empty() {
            deliveries.push((e.clone(), delivered.into_iter().collect()));
        }
    }
    let distinct: BTreeSet<&Vec<(String, String)>> = deliveries.iter().map(|(_, d)| d).collect();
    let one_name_two_hosts = deliveries.iter().any(|(_, d)| {
        d.iter()
            .any(|(h, m)| d.iter().any(|(h2, m2)| m == m2 && h != h2))
    });
    if distinct.len() > 1 || one_name_two_hosts || c.mailbox_hosts.len() > 1 {
        let entries: Vec<EntryPoint> = deliveries.iter().map(|(e, _)| e.clone()).collect();
        by_key.push((
            Issue::SplitBrain {
                deliveries,
                mailbox_hosts: if c.mailbox_hosts.len() > 1 {
                    c.mailbox_hosts.clone()
                } else {
                    Vec::new()
                },
            },
            entries,
            String::new(),
        ));
    }
    by_key
        .into_iter()
        .map(|(issue, entries, _)| Finding {
            issue,
            class: c.id,
            address: c.representative.clone(),
            domain: c.domain.clone(),
            members: c.members,
            entries,
        })
        .collect()
}

/// The report of topology `k` of a (joint) classification.
pub(crate) fn report(
    classes: &[AddressClass],
    k: usize,
    addresses: u64,
    runs: &[ClassRuns],
) -> Report {
    let classes: Vec<AddressClass> = classes.iter().map(|c| c.in_topology(k)).collect();
    let mut findings: Vec<Finding> = classes
        .iter()
        .zip(runs)
        .flat_map(|(c, r)| class_findings(c, r))
        .collect();
    findings
        .sort_by(|a, b| (a.kind(), &a.domain, &a.address).cmp(&(b.kind(), &b.domain, &b.address)));
    let entry_points: BTreeSet<&EntryPoint> = runs
        .iter()
        .flat_map(|r| r.runs.iter().map(|(e, _, _)| e))
        .collect();
    let entry_points = entry_points.len();
    let simulations = runs.iter().map(|r| r.runs.len()).sum();
    Report {
        findings,
        classes,
        addresses,
        entry_points,
        simulations,
    }
}

/// Verify a topology: every address class from every entry point (see the
/// [module documentation](self)). Cost: one classification pass over the addresses (hash lookups)
/// plus one simulation per class and entry point.
pub fn check(topo: &Topology) -> Report {
    let c = classify(&[topo]);
    let runs = run_classes(topo, &c.classes);
    report(&c.classes, 0, c.addresses, &runs)
}

impl Outcome {
    pub(crate) fn same(a: &[Outcome], b: &[Outcome]) -> bool {
        let mut x: Vec<_> = a.iter().map(Outcome::key).collect();
        let mut y: Vec<_> = b.iter().map(Outcome::key).collect();
        x.sort();
        y.sort();
        x == y
    }
}
