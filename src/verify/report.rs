//! What verification reports: entry points, finding kinds, findings with their evidence, and
//! the report with its text and JSON forms.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};

use serde::{Deserialize, Serialize};

use super::classes::AddressClass;
use crate::route::{
    default_sender, Disposition, Dsn, Entry, RouteError, Simulator, Topology, Trace,
    INTERNET_SENDER,
};

/// Where a verified message enters the topology.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
    /// Simulate `rcpt` entering here, with this entry's envelope sender
    /// ([`EntryPoint::sender`]). Errors: an MTA the topology does not have, a bad recipient.
    pub fn simulate(&self, topo: &Topology, rcpt: &str) -> Result<Trace, RouteError> {
        let sim = Simulator::new(topo).sender(self.sender(topo));
        match self {
            EntryPoint::Internet => sim.run(&Entry::Internet, rcpt),
            EntryPoint::MxHost(h) => sim.run_via_host(h, rcpt),
            EntryPoint::Mta(m) => sim.run(&Entry::Mta(m.clone()), rcpt),
        }
    }

    /// The envelope sender of messages entering here (see [`default_sender`]).
    pub fn sender(&self, topo: &Topology) -> String {
        match self {
            EntryPoint::Mta(m) => default_sender(topo, &Entry::Mta(m.clone())),
            _ => INTERNET_SENDER.to_string(),
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

/// The kind of a finding.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumIter,
)]
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
    /// Mail not delivered whose DSN never reaches the sender: the sender believes it was
    /// delivered.
    Silent,
}

impl FindingKind {
    /// The word a report line starts with: `loop`, `lost`, `split-brain`, `deferred`,
    /// `hairpin`, `backscatter`, `silent`.
    pub fn label(self) -> &'static str {
        match self {
            FindingKind::Loop => "loop",
            FindingKind::LostMail => "lost",
            FindingKind::SplitBrain => "split-brain",
            FindingKind::DeferredForever => "deferred",
            FindingKind::Hairpin => "hairpin",
            FindingKind::Backscatter => "backscatter",
            FindingKind::Silent => "silent",
        }
    }

    /// Whether `route verify` fails (exit 1) on it: `loop`, `lost` and `silent`.
    pub fn is_failing(self) -> bool {
        matches!(
            self,
            FindingKind::Loop | FindingKind::LostMail | FindingKind::Silent
        )
    }

    /// Every kind, in report order.
    pub const ALL: [FindingKind; 7] = [
        FindingKind::Loop,
        FindingKind::LostMail,
        FindingKind::SplitBrain,
        FindingKind::DeferredForever,
        FindingKind::Hairpin,
        FindingKind::Backscatter,
        FindingKind::Silent,
    ];
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One leaf of a simulated trace, owned: the MTAs on its path, the recipient at each of them, the
/// final recipient, the disposition and, for a failure, the DSN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// MTA names from the entry to the leaf.
    pub via: Vec<String>,
    /// The recipient address as each MTA of `via` received it.
    pub addresses: Vec<String>,
    /// The final recipient at the leaf.
    pub recipient: String,
    /// How it ends.
    pub disposition: Disposition,
    /// For a failure: who writes the DSN and what becomes of it (no path: see the trace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dsn: Option<Dsn>,
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

    pub(crate) fn key(&self) -> (Vec<String>, String, String) {
        (
            self.via.clone(),
            self.recipient.to_ascii_lowercase(),
            self.disposition.to_string(),
        )
    }

    pub(crate) fn same(a: &[Outcome], b: &[Outcome]) -> bool {
        let mut x: Vec<_> = a.iter().map(Outcome::key).collect();
        let mut y: Vec<_> = b.iter().map(Outcome::key).collect();
        x.sort();
        y.sort();
        x == y
    }
}

/// A hop between two MTAs of the topology that leaves the private network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// A failure whose DSN never reaches the sender (its `dsn` says why).
    Silent {
        /// The failed leaf, with its DSN.
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
            Issue::Silent { .. } => FindingKind::Silent,
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
            Issue::Silent { outcome } => match &outcome.dsn {
                Some(d) => format!("{}; {d}", outcome.describe()),
                None => outcome.describe(),
            },
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
/// Findings are aggregated: one per kind and class (and per cycle of MTAs for loops, per hop
/// for hairpins), with the first example as evidence and a count of all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// What is wrong, with the evidence (the first example).
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
    /// How many outcomes (over all its entry points) show it; the evidence is the first.
    #[serde(default = "one")]
    pub count: u64,
}

fn one() -> u64 {
    1
}

impl Finding {
    /// The kind.
    pub fn kind(&self) -> FindingKind {
        self.issue.kind()
    }

    /// The trace that shows the finding: the representative simulated from the first entry.
    pub fn trace(&self, topo: &Topology) -> Result<Trace, RouteError> {
        self.entries
            .first()
            .unwrap_or(&EntryPoint::Internet)
            .simulate(topo, &self.address)
    }

    /// The report line: `KIND ADDRESS [N addresses] from ENTRIES: DETAIL`, ending with
    /// `(N outcomes)` when more outcomes than entry points show it.
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
        let count = if self.count > self.entries.len() as u64 {
            format!(" ({} outcomes)", self.count)
        } else {
            String::new()
        };
        format!(
            "{} {}{members}{from}: {}{count}",
            self.kind().label(),
            self.address,
            self.issue.describe()
        )
    }
}

/// The result of [`check`](super::check): findings (by kind, domain, address) and what was
/// checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
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

    /// Whether there is a `loop` or `lost` finding.
    pub fn has_loop_or_lost(&self) -> bool {
        self.findings
            .iter()
            .any(|f| matches!(f.kind(), FindingKind::Loop | FindingKind::LostMail))
    }

    /// Whether there is a failing finding — `loop`, `lost` or `silent` — what `route verify`
    /// exits 1 for.
    pub fn has_failing(&self) -> bool {
        self.findings.iter().any(|f| f.kind().is_failing())
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

    /// The report as pretty-printed JSON (the `route verify --json` output).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": {e:?}}}"))
    }

    /// Read a report written by [`Report::to_json`].
    pub fn from_json(text: &str) -> Result<Report, RouteError> {
        serde_json::from_str(text).map_err(|e| RouteError::Json {
            message: e.to_string(),
        })
    }

    /// Assemble a report of `classes` from their findings.
    pub(crate) fn new(
        classes: Vec<AddressClass>,
        addresses: u64,
        mut findings: Vec<Finding>,
        entry_points: BTreeSet<EntryPoint>,
        simulations: usize,
    ) -> Report {
        findings.sort_by(|a, b| {
            (a.kind(), &a.domain, &a.address).cmp(&(b.kind(), &b.domain, &b.address))
        });
        Report {
            findings,
            classes,
            addresses,
            entry_points: entry_points.len(),
            simulations,
        }
    }
}
