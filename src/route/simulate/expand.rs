//! One MTA's handling of one recipient, independent of the hop count: its steps, the leaves it
//! decides (delivered, bounced, refused, ...) and the next hops it hands the message to.
//!
//! Both the trace builder ([`super::tree`]) and the state-graph exploration ([`super::graph`])
//! are made of these expansions, so they cannot disagree about a single hop.

use super::super::decide::{Action, Arrival, LmtpReply, Stage, Step, Verdict};
use super::super::topology::{MtaKind, Topology, UnknownPolicy};
use super::trace::{Disposition, Node, NodeKind};
use crate::route::decide::{Memo, Quiet, ZimbraMta};
use std::cell::RefCell;
use std::rc::Rc;

/// `prev` of a message that an outside (untrusted) client sent.
pub(crate) const OUTSIDE: usize = usize::MAX;
/// `prev` of a message that a trusted client (a user of the entry MTA) submitted over SMTP.
pub(crate) const SUBMIT: usize = usize::MAX - 1;
/// `prev` of a message posted locally at the MTA (a DSN written by this MTA's bounce daemon).
pub(crate) const PICKUP: usize = usize::MAX - 2;

/// Whether `prev` is an MTA of the topology (not one of the entry markers).
pub(crate) fn is_mta(prev: usize) -> bool {
    prev < PICKUP
}

/// Decisions record at most this many alias-expansion steps (`decide`'s virtual stage).
const RECORDED_ALIAS_STEPS: usize = 32;

/// A next hop inside an expansion: the placeholder child at `path` (child indices from the
/// expansion's node) stands for the message arriving at MTA `to` for `rcpt`.
#[derive(Debug, Clone)]
pub(crate) struct Next {
    pub path: Vec<u32>,
    pub to: usize,
    pub rcpt: String,
    /// `rcpt` in lower case (the state key).
    pub key: Box<str>,
    /// The host name the sender connected to.
    pub reached_as: std::rc::Rc<str>,
}

/// The node of one MTA (or of the outside sender) with everything it decides, and the next hops
/// still to follow. Hop counts in `node` are 0: the caller sets them.
#[derive(Debug, Clone)]
pub(crate) struct Expansion {
    pub node: Node,
    pub next: Vec<Next>,
    /// Quiet expansions only: the handling of each final recipient, shared between the
    /// expansions that reach it (their leaves and next hops belong to this expansion too,
    /// after `node`'s and `next`'s; their paths are relative to their own node).
    pub shared: Vec<Rc<Expansion>>,
}

impl Expansion {
    fn new(node: Node, next: Vec<Next>) -> Expansion {
        Expansion {
            node,
            next,
            shared: Vec::new(),
        }
    }

    /// Every next hop: its own, then the shared parts'.
    pub fn all_next(&self) -> impl Iterator<Item = &Next> {
        self.next
            .iter()
            .chain(self.shared.iter().flat_map(|p| p.next.iter()))
    }

    /// Every node whose leaves belong to it: its own, then the shared parts'.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        std::iter::once(&self.node).chain(self.shared.iter().map(|p| &p.node))
    }
}

/// What a quiet expander remembers per Zimbra MTA: its decision memo and the handling of each
/// final recipient (by the memo's number; it depends on the MTA and the address only).
#[derive(Default)]
struct MtaMemo {
    decide: Memo,
    finals: Vec<Option<Rc<Expansion>>>,
}

pub(crate) struct Expander<'t> {
    pub topo: &'t Topology,
    /// Record steps (traces) or not (exploration).
    pub record: bool,
    /// Quiet expansions: per MTA, what its decisions remember.
    memos: RefCell<Vec<MtaMemo>>,
}

fn parse_nexthop(nh: &str) -> (String, bool) {
    let nh = nh.trim();
    let nh = nh
        .split_once(':')
        .filter(|(t, _)| matches!(t.to_ascii_lowercase().as_str(), "smtp" | "esmtp" | "relay"))
        .map(|(_, r)| r)
        .unwrap_or(nh);
    if let Some(inner) = nh.strip_prefix('[') {
        let host = inner.split(']').next().unwrap_or("");
        return (host.to_ascii_lowercase(), true);
    }
    let host = nh.split(':').next().unwrap_or("");
    (host.trim_end_matches('.').to_ascii_lowercase(), false)
}

/// Where a message circling through `cycle` (MTA indexes, in order) at `hops` at `cycle[0]` ends:
/// the position in `cycle` of the first MTA whose hop limit the count reaches, and that count.
pub(crate) fn fast_forward(topo: &Topology, cycle: &[usize], hops: u32) -> (usize, u32) {
    let p = cycle.len().max(1);
    let mut h = hops;
    // the path repeats: the k-th further arrival is at cycle[k % p] with h + k hops
    for k in 0..2_000_000usize {
        let Some(i) = cycle.get(k % p) else { break };
        let Some(m) = topo.mtas().get(*i) else { break };
        if h >= m.hopcount_limit() {
            return (k % p, h);
        }
        h = h.saturating_add(1);
    }
    (0, h)
}

impl<'t> Expander<'t> {
    /// An expander for `topo` that records steps (traces) or not (exploration).
    pub fn new(topo: &'t Topology, record: bool) -> Expander<'t> {
        Expander {
            topo,
            record,
            memos: RefCell::new(Vec::new()),
        }
    }

    fn step(&self, node: &mut Node, stage: Stage, text: impl FnOnce() -> String) {
        if self.record {
            node.steps.push(Step::new(stage, text()));
        }
    }

    /// How a message from `prev` reaches MTA `at`.
    pub fn arrival(&self, prev: usize, at: usize) -> Arrival {
        match prev {
            OUTSIDE => Arrival::INTERNET,
            SUBMIT => Arrival::TRUSTED,
            PICKUP => Arrival::PICKUP,
            p if self.topo.trusted(p, at) => Arrival::TRUSTED,
            _ => Arrival::INTERNET,
        }
    }

    /// An outside sender handing `rcpt` to `nexthop` (the recipient domain, or `[host]`).
    pub fn root(&self, name: &str, rcpt: &str, nexthop: &str, lookups: bool) -> Expansion {
        let mut node = Node::new(NodeKind::Entry, name, rcpt, 0);
        let next = self.forward(&mut node, None, rcpt, nexthop, lookups);
        Expansion::new(node, next)
    }

    /// What MTA `at` does with `rcpt` arriving from `prev`.
    pub fn expand(&self, at: usize, prev: usize, rcpt: &str) -> Expansion {
        let topo = self.topo;
        let Some(mta) = topo.mtas().get(at) else {
            let mut node = Node::new(NodeKind::Mta, "?", rcpt, 0);
            node.disposition = Some(Disposition::LeftTopology {
                next_hop: "?".into(),
            });
            return Expansion::new(node, Vec::new());
        };
        let mut node = Node::new(NodeKind::Mta, &mta.name, rcpt, 0);
        node.host = Some(mta.hostname.clone());
        let mut next = Vec::new();
        match &mta.kind {
            MtaKind::Zimbra(z) if !self.record => {
                let arrival = self.arrival(prev, at);
                return self.expand_quiet(z, at, node, rcpt, arrival);
            }
            MtaKind::Zimbra(z) => {
                let arrival = self.arrival(prev, at);
                let d = if self.record {
                    z.decide(rcpt, arrival)
                } else {
                    z.decide_quiet(rcpt, arrival)
                };
                node.steps = d.steps;
                match d.verdict {
                    Verdict::Rejected { reply, .. } => {
                        node.disposition = Some(Disposition::Rejected {
                            by: mta.name.clone(),
                            reply,
                        })
                    }
                    Verdict::Deferred { dsn, text } => {
                        node.disposition = Some(Disposition::Deferred {
                            by: mta.name.clone(),
                            dsn,
                            text,
                        })
                    }
                    Verdict::Accepted { deliveries } => {
                        let alias_steps = node
                            .steps
                            .iter()
                            .filter(|s| s.stage == Stage::Virtual)
                            .count();
                        if alias_steps >= RECORDED_ALIAS_STEPS && deliveries.len() > 1 {
                            let n = deliveries.len();
                            self.step(&mut node, Stage::Virtual, || {
                                format!(
                                    "(at most {RECORDED_ALIAS_STEPS} alias-expansion steps are listed; the expansion continued to {n} final recipients, each followed below)"
                                )
                            });
                        }
                        for del in deliveries {
                            let mut child =
                                Node::new(NodeKind::Recipient, &del.recipient, &del.recipient, 0);
                            child.steps = del.steps;
                            let sub = self.act(&mut child, at, &del.action);
                            let i = node.children.len() as u32;
                            next.extend(sub.into_iter().map(|mut n| {
                                n.path.insert(0, i);
                                n
                            }));
                            node.children.push(child);
                        }
                    }
                }
            }
            MtaKind::Foreign(f) => {
                let mut rcpt = rcpt.to_string();
                if let Some((_, new)) = f
                    .aliases
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(&rcpt))
                {
                    let old = rcpt.clone();
                    self.step(&mut node, Stage::Foreign, || {
                        format!("alias {old} -> {new}")
                    });
                    rcpt = new.clone();
                    node.recipient = new.clone();
                }
                let rcpt = rcpt.as_str();
                let lc = rcpt.to_ascii_lowercase();
                let domain = lc.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
                let route = |key: &str| {
                    f.routes
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(key))
                        .map(|(_, v)| v.clone())
                };
                let own = f.domains.iter().any(|d| d.eq_ignore_ascii_case(domain));
                let mut to: Option<String> = None;
                if let Some(r) = route(&lc) {
                    self.step(&mut node, Stage::Foreign, || format!("route for {lc}: {r}"));
                    to = Some(r);
                } else if own && f.mailboxes.iter().any(|m| m.eq_ignore_ascii_case(&lc)) {
                    self.step(&mut node, Stage::Foreign, || {
                        format!("{rcpt} is a mailbox here")
                    });
                    node.disposition = Some(Disposition::Delivered {
                        host: mta.hostname.clone(),
                        mailbox: rcpt.to_string(),
                    });
                } else if own {
                    self.step(&mut node, Stage::Foreign, || {
                        format!("{rcpt}: unknown user of {domain}, policy {}", f.unknown)
                    });
                    match (f.unknown, f.unknown_relay.as_ref().or(f.relayhost.as_ref())) {
                        (UnknownPolicy::Reject, _) => {
                            node.disposition = Some(Disposition::Rejected {
                                by: mta.name.clone(),
                                reply: format!(
                                    "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown"
                                ),
                            })
                        }
                        (UnknownPolicy::Relay, Some(r)) => to = Some(r.clone()),
                        _ => {
                            node.disposition = Some(Disposition::Bounced {
                                by: mta.name.clone(),
                                dsn: "5.1.1".into(),
                                text: "User unknown".into(),
                            })
                        }
                    }
                } else if let Some(r) = route(domain) {
                    self.step(&mut node, Stage::Foreign, || {
                        format!("route for {domain}: {r}")
                    });
                    to = Some(r);
                } else if let Some(r) = &f.relayhost {
                    self.step(&mut node, Stage::Foreign, || format!("relay host {r}"));
                    to = Some(r.clone());
                } else {
                    self.step(&mut node, Stage::Foreign, || format!("{domain} is remote"));
                    to = Some(domain.to_string());
                }
                if let Some(nh) = to {
                    next = self.forward(&mut node, Some(at), rcpt, &nh, f.dns_lookups);
                }
            }
        }
        Expansion::new(node, next)
    }

    /// A Zimbra MTA's quiet expansion through its memo: the MTA node with its refusal or
    /// deferral, or one shared part per final recipient (what [`Expander::expand`] puts in
    /// `node`'s children, remembered per final recipient).
    fn expand_quiet(
        &self,
        z: &ZimbraMta,
        at: usize,
        mut node: Node,
        rcpt: &str,
        arrival: Arrival,
    ) -> Expansion {
        let Some(mta) = self.topo.mtas().get(at) else {
            return Expansion::new(node, Vec::new());
        };
        let mut memos = self.memos.borrow_mut();
        if memos.len() < self.topo.mtas().len() {
            memos.resize_with(self.topo.mtas().len(), MtaMemo::default);
        }
        let Some(m) = memos.get_mut(at) else {
            return Expansion::new(node, Vec::new());
        };
        if m.decide.trim() {
            m.finals.clear();
        }
        let finals = match z.decide_memo(rcpt, arrival, &mut m.decide) {
            Quiet::Verdict(Verdict::Rejected { reply, .. }) => {
                node.disposition = Some(Disposition::Rejected {
                    by: mta.name.clone(),
                    reply,
                });
                return Expansion::new(node, Vec::new());
            }
            Quiet::Verdict(Verdict::Deferred { dsn, text }) => {
                node.disposition = Some(Disposition::Deferred {
                    by: mta.name.clone(),
                    dsn,
                    text,
                });
                return Expansion::new(node, Vec::new());
            }
            Quiet::Verdict(Verdict::Accepted { .. }) => Vec::new(),
            Quiet::Finals(f) => f,
        };
        if m.finals.len() < m.decide.len() {
            m.finals.resize(m.decide.len(), None);
        }
        let mut shared = Vec::with_capacity(finals.len());
        for f in finals {
            if let Some(Some(part)) = m.finals.get(f as usize) {
                shared.push(part.clone());
                continue;
            }
            let del = z.resolve_quiet(m.decide.name(f));
            let mut child = Node::new(NodeKind::Recipient, &del.recipient, &del.recipient, 0);
            let sub = self.act(&mut child, at, &del.action);
            let part = Rc::new(Expansion::new(child, sub));
            if let Some(slot) = m.finals.get_mut(f as usize) {
                *slot = Some(part.clone());
            }
            shared.push(part);
        }
        Expansion {
            node,
            next: Vec::new(),
            shared,
        }
    }

    /// Carry out `action` for the final recipient of `node` at MTA `at`.
    fn act(&self, node: &mut Node, at: usize, action: &Action) -> Vec<Next> {
        let topo = self.topo;
        let Some(mta) = topo.mtas().get(at) else {
            return Vec::new();
        };
        match action {
            Action::Bounce { dsn, text, .. } => {
                node.disposition = Some(Disposition::Bounced {
                    by: mta.name.clone(),
                    dsn: dsn.clone(),
                    text: text.clone(),
                })
            }
            Action::Defer { dsn, text, .. } => {
                node.disposition = Some(Disposition::Deferred {
                    by: mta.name.clone(),
                    dsn: dsn.clone(),
                    text: text.clone(),
                })
            }
            Action::Discard { .. } => {
                node.disposition = Some(Disposition::Delivered {
                    host: mta.hostname.clone(),
                    mailbox: "(discarded)".into(),
                })
            }
            Action::Relay { transport, nexthop } => {
                let t = transport.to_ascii_lowercase();
                if t == "lmtp" {
                    let (host, _) = parse_nexthop(nexthop);
                    // the mailbox server: a server of this MTA's directory, else of another
                    // Zimbra MTA's, else a Zimbra MTA running on that host
                    let own = match &mta.kind {
                        MtaKind::Zimbra(z) if z.index().has_server(&host) => Some(at),
                        _ => None,
                    };
                    let srv = own
                        .or_else(|| {
                            topo.mtas().iter().position(|m| {
                                matches!(&m.kind, MtaKind::Zimbra(z) if z.index().has_server(&host))
                            })
                        })
                        .or_else(|| {
                            topo.find_host(&host).filter(|i| {
                                matches!(
                                    topo.mtas().get(*i).map(|m| &m.kind),
                                    Some(MtaKind::Zimbra(_))
                                )
                            })
                        });
                    let Some(MtaKind::Zimbra(z)) =
                        srv.and_then(|i| topo.mtas().get(i)).map(|m| &m.kind)
                    else {
                        self.step(node, Stage::Lmtp, || {
                            format!("{host} is not a Zimbra mailbox server of this topology")
                        });
                        node.disposition = Some(Disposition::LeftTopology { next_hop: host });
                        return Vec::new();
                    };
                    let (reply, step) = z.lmtp(&host, &node.recipient);
                    if self.record {
                        node.steps.push(step);
                    }
                    node.disposition = Some(match reply {
                        LmtpReply::Accepted { host, mailbox } => {
                            Disposition::Delivered { host, mailbox }
                        }
                        LmtpReply::Temporary { dsn, reply } => Disposition::Deferred {
                            by: host,
                            dsn,
                            text: reply,
                        },
                        LmtpReply::Permanent { dsn, reply } => Disposition::Bounced {
                            by: host,
                            dsn,
                            text: reply,
                        },
                    });
                } else if t == "local" || t == "virtual" {
                    node.disposition = Some(Disposition::Delivered {
                        host: mta.hostname.clone(),
                        mailbox: node.recipient.clone(),
                    });
                } else {
                    let rcpt = node.recipient.clone();
                    return self.forward(node, Some(at), &rcpt, nexthop, mta.dns_lookups());
                }
            }
        }
        Vec::new()
    }

    /// Send `rcpt` from MTA `from` (or the outside sender) to `nexthop`: DNS steps on `node`,
    /// and either a leaf (left the topology, loops back to myself) or placeholders for the
    /// MTAs it reaches (several: equal-preference alternatives).
    fn forward(
        &self,
        node: &mut Node,
        from: Option<usize>,
        rcpt: &str,
        nexthop: &str,
        lookups: bool,
    ) -> Vec<Next> {
        let topo = self.topo;
        let (host, bracketed) = parse_nexthop(nexthop);
        let mut cands: Vec<(u16, String)> = match topo.dns.mx_of(&host) {
            Some(mx) if lookups && !bracketed && !mx.is_empty() => {
                self.step(node, Stage::Dns, || {
                    let list: Vec<String> = mx.iter().map(|(p, h)| format!("{p} {h}")).collect();
                    format!("MX {host}: {}", list.join(", "))
                });
                mx
            }
            _ => {
                self.step(node, Stage::Dns, || {
                    let why = if bracketed {
                        "[host]: no MX lookup"
                    } else if !lookups {
                        "DNS lookups disabled: host lookup"
                    } else {
                        "no MX record: A lookup"
                    };
                    let addrs = topo.dns.addresses(&host);
                    let shown = if addrs.is_empty() {
                        String::new()
                    } else {
                        format!(" -> {}", addrs.join(", "))
                    };
                    format!("{host}: {why}{shown}")
                });
                vec![(0, host.clone())]
            }
        };
        // loops back to myself: truncate the MX list at my own preference
        if let Some(from) = from {
            let own: Option<u16> = cands
                .iter()
                .filter(|(_, h)| topo.find_host(h) == Some(from))
                .map(|(p, _)| *p)
                .min();
            if let Some(own) = own {
                cands.retain(|(p, _)| *p < own);
                if cands.is_empty() {
                    let by = topo
                        .mtas()
                        .get(from)
                        .map(|m| m.name.clone())
                        .unwrap_or_default();
                    self.step(node, Stage::Smtp, || {
                        format!("{host} is this MTA (best MX or direct host)")
                    });
                    node.disposition = Some(Disposition::Bounced {
                        by,
                        dsn: "5.4.6".into(),
                        text: format!("mail for {host} loops back to myself"),
                    });
                    return Vec::new();
                }
            }
        }
        let best = cands.iter().map(|(p, _)| *p).min().unwrap_or(0);
        let group: Vec<String> = cands
            .into_iter()
            .filter(|(p, _)| *p == best)
            .map(|(_, h)| h)
            .collect();
        node.alternatives = group.len() > 1;
        let mut next = Vec::new();
        for h in group {
            match topo.find_host(&h) {
                None => {
                    if !node.alternatives {
                        node.disposition = Some(Disposition::LeftTopology { next_hop: h });
                    } else {
                        let mut leaf = Node::new(NodeKind::Recipient, rcpt, rcpt, 0);
                        leaf.disposition = Some(Disposition::LeftTopology { next_hop: h });
                        node.children.push(leaf);
                    }
                }
                Some(to) => {
                    let name = topo.mtas().get(to).map(|m| m.name.as_str()).unwrap_or("?");
                    next.push(Next {
                        path: vec![node.children.len() as u32],
                        to,
                        rcpt: rcpt.to_string(),
                        key: rcpt.to_ascii_lowercase().into(),
                        reached_as: h.as_str().into(),
                    });
                    node.children.push(Node::new(NodeKind::Mta, name, rcpt, 0));
                }
            }
        }
        next
    }
}

/// Set the hop count of `node` and everything in it.
pub(crate) fn set_hops(node: &mut Node, hops: u32) {
    node.hops = hops;
    for c in &mut node.children {
        set_hops(c, hops);
    }
}

/// The node at `path` under `node`.
pub(crate) fn node_at<'a>(node: &'a mut Node, path: &[u32]) -> Option<&'a mut Node> {
    let mut n = node;
    for i in path {
        n = n.children.get_mut(*i as usize)?;
    }
    Some(n)
}

#[cfg(all(test, feature = "proptest"))]
mod tests {
    use super::*;
    use crate::route::simulate::trace::walk_leaves;
    use crate::route::{Mta, Topology};
    use crate::strategy::{directory, routable_addresses, shape_addresses, DirectorySpec};
    use proptest::prelude::*;

    /// Leaves `(recipient, disposition)` and next hops `(MTA, recipient, host)` of an
    /// expansion, in order (steps left out: quiet expansions have none).
    fn outline(e: &Expansion) -> (Vec<String>, Vec<String>) {
        let mut leaves = Vec::new();
        for n in e.nodes() {
            walk_leaves(n, &mut Vec::new(), &mut |_, n, d| {
                leaves.push(format!("{} {d:?}", n.recipient))
            });
        }
        let next = e
            .all_next()
            .map(|n| format!("{} {} {} {}", n.to, n.rcpt, n.key, n.reached_as))
            .collect();
        (leaves, next)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

        /// The quiet expansion through the memo (interned addresses, remembered lookups and
        /// final recipients, shared parts) is the recorded expansion without its steps, for
        /// every address of migration-shaped directories, both arrivals, with small alias
        /// limits so that the expansion and nesting limits are reached too, and with one
        /// expander (one memo) reused across all of them.
        #[test]
        fn memo_expansion_is_the_recorded_one(
            g in directory(DirectorySpec::default().with_max_ops(40).with_migration_shapes()),
            limits in prop::sample::select(vec![(10_000usize, 1_000usize), (3, 2), (1, 1)]),
        ) {
            let dir = &g.directory;
            let host = dir.servers().next().map_or("mx.example.org".to_string(), |s| s.name.to_string());
            let mut topo = Topology::new();
            topo.add(Mta::zimbra("mx", &host, dir, |p| {
                p.virtual_alias_expansion_limit = limits.0;
                p.virtual_alias_recursion_limit = limits.1;
            }))
            .unwrap();
            let quiet = Expander::new(&topo, false);
            let recorded = Expander::new(&topo, true);
            let mut addrs = routable_addresses(dir);
            addrs.extend(shape_addresses(dir));
            for round in 0..2 {
                for a in &addrs {
                    for prev in [OUTSIDE, SUBMIT, PICKUP] {
                        let q = quiet.expand(0, prev, a);
                        let r = recorded.expand(0, prev, a);
                        prop_assert_eq!(outline(&q), outline(&r), "{} from {} (round {})", a, prev, round);
                    }
                }
            }
        }
    }
}
