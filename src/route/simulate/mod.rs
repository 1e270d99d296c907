//! Multi-hop simulation: a recipient entering the topology, hop by hop, to a disposition per leaf,
//! and the DSN every failure sends back to the envelope sender.
//!
//! - [`expand`]: one MTA's hop-independent handling of one recipient;
//! - [`graph`]: the message's state graph (each state once: bounded by the topology's size);
//! - [`tree`]: the trace tree built from expansions, loops folded, DSNs attached;
//! - [`trace`] and [`dot`]: the result types and their text, JSON and Graphviz forms.

pub(crate) mod dot;
pub(crate) mod expand;
pub(crate) mod graph;
pub(crate) mod trace;
pub(crate) mod tree;

use serde::{Deserialize, Serialize};

use super::topology::{MtaKind, Topology};
use super::RouteError;
pub use trace::{Disposition, Dsn, DsnFate, DsnRoute, Leaf, Node, NodeKind, Trace};

/// The envelope sender of a message from the Internet unless one is given: an outside address
/// (RFC 2606 `.invalid`), so its DSNs leave the topology unless an MTA refuses to relay them.
pub const INTERNET_SENDER: &str = "sender@internet.invalid";

/// Where a simulated message enters the topology.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Entry {
    /// An outside sender: the recipient domain's MX decides the first MTA.
    Internet,
    /// Submitted by a user of this MTA (a trusted client).
    Mta(String),
}

impl Entry {
    /// `"internet"` or an MTA name (checked against a topology by [`simulate`]).
    pub fn parse(s: &str) -> Entry {
        if s.eq_ignore_ascii_case("internet") {
            Entry::Internet
        } else {
            Entry::Mta(s.to_string())
        }
    }
}

impl std::fmt::Display for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Entry::Internet => f.write_str("internet"),
            Entry::Mta(m) => f.write_str(m),
        }
    }
}

/// The address as it would go into `RCPT TO` / `MAIL FROM`: surrounding space and one pair of
/// angle brackets removed. Errors: empty, or holding spaces or control characters (nothing an
/// SMTP client could send).
pub(crate) fn check_address(role: &'static str, a: &str) -> Result<(), RouteError> {
    let bad = |reason: &'static str| RouteError::BadAddress {
        role,
        address: a.to_string(),
        reason,
    };
    let t = a.trim();
    let t = t
        .strip_prefix('<')
        .and_then(|x| x.strip_suffix('>'))
        .unwrap_or(t);
    if t.is_empty() {
        return Err(bad("empty address"));
    }
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("holds spaces or control characters"));
    }
    Ok(())
}

/// The recipient domain the Internet's MX lookup starts from.
fn recipient_domain(rcpt: &str) -> Result<String, RouteError> {
    let d = rcpt
        .trim()
        .trim_end_matches('>')
        .trim_end_matches('.')
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default();
    if d.is_empty() {
        return Err(RouteError::BadAddress {
            role: "recipient",
            address: rcpt.to_string(),
            reason: "no domain for an Internet sender to look up",
        });
    }
    Ok(d)
}

/// The envelope sender [`simulate`] uses for messages entering at `from` (see
/// [`Simulator::sender`]): [`INTERNET_SENDER`] for the Internet; for an MTA, one of its users —
/// the smallest active account of a Zimbra MTA's directory with an `lmtp:` transport (else any
/// active account), the smallest mailbox of a foreign MTA — and [`INTERNET_SENDER`] when it has
/// none (or is not in the topology).
///
/// ```
/// use zimbra_prov::model::Directory;
/// use zimbra_prov::route::{default_sender, Entry, Mta, Topology, INTERNET_SENDER};
/// let mut dir = Directory::new();
/// zimbra_prov::zmprov::run(&mut dir, "cs mx.example.org\ncd example.org\nca b@example.org pw\nca a@example.org pw").unwrap();
/// let mut topo = Topology::new();
/// topo.add(Mta::zimbra("zcs", "mx.example.org", &dir, |_| {})).unwrap();
/// assert_eq!(default_sender(&topo, &Entry::Mta("zcs".into())), "a@example.org");
/// assert_eq!(default_sender(&topo, &Entry::Internet), INTERNET_SENDER);
/// ```
pub fn default_sender(topo: &Topology, from: &Entry) -> String {
    let Entry::Mta(name) = from else {
        return INTERNET_SENDER.to_string();
    };
    let Some(m) = topo.mta(name) else {
        return INTERNET_SENDER.to_string();
    };
    let found = match &m.kind {
        MtaKind::Zimbra(z) => {
            let idx = z.index();
            let mut best: Option<(bool, &str)> = None;
            for (k, l) in idx.lmtp.iter() {
                let active = l.status.is_some_and(|s| s.accepts_mail());
                if !active || !l.name.eq_ignore_ascii_case(k) {
                    continue;
                }
                let lmtp = idx.transport.get(k).is_some_and(|hits| {
                    hits.iter()
                        .filter_map(|h| idx.rec(h.rec))
                        .flat_map(|r| r.transport.iter())
                        .next()
                        .is_some_and(|t| t.to_ascii_lowercase().starts_with("lmtp:"))
                });
                // an lmtp account first, then the smallest name
                let cand = (!lmtp, k);
                if best.is_none_or(|b| cand < b) {
                    best = Some(cand);
                }
            }
            best.map(|(_, k)| k.to_string())
        }
        MtaKind::Foreign(f) => f.mailboxes.iter().min().map(|s| s.to_ascii_lowercase()),
    };
    found.unwrap_or_else(|| INTERNET_SENDER.to_string())
}

/// Simulations with options: the envelope sender (where DSNs go).
///
/// ```
/// use zimbra_prov::model::Directory;
/// use zimbra_prov::route::{DsnFate, Entry, Mta, Simulator, Topology};
/// let mut dir = Directory::new();
/// zimbra_prov::zmprov::run(&mut dir, "cs mx.example.org\ncd example.org\nca a@example.org pw").unwrap();
/// let mut topo = Topology::new();
/// topo.add(Mta::zimbra("zcs", "mx.example.org", &dir, |_| {})).unwrap();
/// topo.dns.mx.insert("example.org".into(), vec![(10, "mx.example.org".into())]);
/// // a local user writes to an address that loops back to this MTA: the MTA bounces it and
/// // its DSN is delivered to the sender's mailbox
/// let t = Simulator::new(&topo)
///     .sender("a@example.org")
///     .run(&Entry::Mta("zcs".into()), "x@mx.example.org")
///     .unwrap();
/// let leaf = &t.leaves()[0];
/// assert_eq!(leaf.disposition.outcome(), "bounced");
/// let dsn = leaf.dsn.unwrap();
/// assert_eq!(dsn.writer.as_deref(), Some("zcs"));
/// assert!(matches!(&dsn.fate, DsnFate::Delivered { mailbox, .. } if mailbox == "a@example.org"));
/// ```
#[derive(Debug, Clone)]
pub struct Simulator<'t> {
    topo: &'t Topology,
    sender: Option<String>,
}

impl<'t> Simulator<'t> {
    /// Simulations through `topo` with the default sender of each entry point.
    pub fn new(topo: &'t Topology) -> Simulator<'t> {
        Simulator { topo, sender: None }
    }

    /// Use `sender` as the envelope sender.
    pub fn sender(mut self, sender: impl Into<String>) -> Simulator<'t> {
        self.sender = Some(sender.into());
        self
    }

    fn sender_for(&self, from: &Entry) -> Result<String, RouteError> {
        match &self.sender {
            Some(s) => {
                check_address("sender", s)?;
                Ok(s.trim().to_string())
            }
            None => Ok(default_sender(self.topo, from)),
        }
    }

    /// Simulate `rcpt` entering at `from` (see [`simulate`]).
    pub fn run(&self, from: &Entry, rcpt: &str) -> Result<Trace, RouteError> {
        check_address("recipient", rcpt)?;
        let sender = self.sender_for(from)?;
        let mut ex = graph::Explorer::new(self.topo);
        let start = start_of(self.topo, from, rcpt)?;
        Ok(tree::build(
            &mut ex,
            &start,
            &from.to_string(),
            &sender,
            rcpt,
        ))
    }

    /// Simulate `rcpt` sent by an outside client straight to `host` (see [`simulate_via_host`]).
    pub fn run_via_host(&self, host: &str, rcpt: &str) -> Result<Trace, RouteError> {
        check_address("recipient", rcpt)?;
        let sender = self.sender_for(&Entry::Internet)?;
        let mut ex = graph::Explorer::new(self.topo);
        let start = via_host(host);
        Ok(tree::build(
            &mut ex,
            &start,
            &format!("internet via {host}"),
            &sender,
            rcpt,
        ))
    }
}

/// Where the exploration of a message from `from` starts.
pub(crate) fn start_of<'a>(
    topo: &Topology,
    from: &Entry,
    rcpt: &str,
) -> Result<graph::Start<'a>, RouteError> {
    Ok(match from {
        Entry::Internet => graph::Start::Outside {
            name: "internet",
            nexthop: recipient_domain(rcpt)?,
            lookups: true,
        },
        Entry::Mta(name) => match topo.mta_index(name) {
            Some(i) => graph::Start::At {
                mta: i,
                prev: expand::SUBMIT,
            },
            None => {
                return Err(RouteError::UnknownMta {
                    name: name.clone(),
                    known: topo.mtas().iter().map(|m| m.name.clone()).collect(),
                })
            }
        },
    })
}

/// The start of a message an outside client sends straight to `host`.
pub(crate) fn via_host(host: &str) -> graph::Start<'static> {
    graph::Start::Outside {
        name: "internet",
        nexthop: format!("[{}]", host.trim_start_matches('[').trim_end_matches(']')),
        lookups: false,
    }
}

/// Simulate `rcpt` entering the topology at `from`: hop by hop through Zimbra and foreign MTAs,
/// branching where aliases fan out or equal-preference MX hosts are alternatives, to a
/// [`Disposition`] per leaf; every failed leaf carries its [`Dsn`] (who writes it and what
/// becomes of it), with the envelope sender of [`default_sender`]. Deterministic and always
/// terminating (hop limits, loop detection, and a bound on the size of the tree).
///
/// Errors: an MTA name the topology does not have, a recipient that is empty or holds spaces
/// or control characters, or (from the Internet) has no domain.
///
/// ```
/// use zimbra_prov::model::Directory;
/// use zimbra_prov::route::{simulate, Entry, Mta, RouteError, Topology};
/// let mut dir = Directory::new();
/// zimbra_prov::zmprov::run(&mut dir, "cs mx.example.org\ncd example.org\nca a@example.org pw").unwrap();
/// let mut topo = Topology::new();
/// topo.add(Mta::zimbra("zcs", "mx.example.org", &dir, |_| {})).unwrap();
/// topo.dns.mx.insert("example.org".into(), vec![(10, "mx.example.org".into())]);
/// let t = simulate(&topo, &Entry::Internet, "a@example.org").unwrap();
/// assert_eq!(t.leaves()[0].disposition.to_string(), "delivered to a@example.org at mx.example.org");
/// assert!(matches!(simulate(&topo, &Entry::Mta("nosuch".into()), "a@example.org"),
///     Err(RouteError::UnknownMta { .. })));
/// assert!(matches!(simulate(&topo, &Entry::Internet, " "), Err(RouteError::BadAddress { .. })));
/// ```
pub fn simulate(topo: &Topology, from: &Entry, rcpt: &str) -> Result<Trace, RouteError> {
    Simulator::new(topo).run(from, rcpt)
}

/// Simulate `rcpt` sent by an outside (untrusted) client straight to `host`, whatever the MX
/// records say: a sender with a stale MX cache after an MX switch, or one picking a particular
/// host of an equal-preference MX set. `host` is looked up like a `[host]` next hop (no MX
/// lookup); a host outside the topology gives a `LeftTopology` leaf.
///
/// ```
/// use zimbra_prov::model::Directory;
/// use zimbra_prov::route::{simulate_via_host, Mta, Topology};
/// let mut dir = Directory::new();
/// zimbra_prov::zmprov::run(&mut dir, "cs mx.example.org\ncd example.org\nca a@example.org pw").unwrap();
/// let mut topo = Topology::new();
/// topo.add(Mta::zimbra("zcs", "mx.example.org", &dir, |_| {})).unwrap();
/// let t = simulate_via_host(&topo, "mx.example.org", "a@example.org").unwrap();
/// assert_eq!(t.from, "internet via mx.example.org");
/// assert_eq!(t.leaves()[0].disposition.outcome(), "delivered");
/// // an untrusted client may not relay through it
/// let t = simulate_via_host(&topo, "mx.example.org", "x@elsewhere.example").unwrap();
/// assert_eq!(t.leaves()[0].disposition.outcome(), "rejected");
/// ```
pub fn simulate_via_host(topo: &Topology, host: &str, rcpt: &str) -> Result<Trace, RouteError> {
    Simulator::new(topo).run_via_host(host, rcpt)
}
