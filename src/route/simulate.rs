//! Multi-hop simulation: a recipient entering the topology, hop by hop, to a disposition per leaf.

use std::fmt::Write as _;

use serde::Serialize;

use super::decide::{Action, Arrival, LmtpReply, Stage, Step, Verdict};
use super::topology::{MtaKind, Topology, UnknownPolicy};

/// Where a simulated message enters the topology.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Entry {
    /// An outside sender: the recipient domain's MX decides the first MTA.
    Internet,
    /// Submitted by a user of this MTA (a trusted client).
    Mta(String),
}

impl Entry {
    /// `"internet"` or an MTA name.
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

/// How a branch of the simulation ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Disposition {
    /// Stored in a mailbox.
    Delivered {
        /// The host holding the mailbox.
        host: String,
        /// The mailbox (account name or address).
        mailbox: String,
    },
    /// Accepted, then returned to the sender.
    Bounced {
        /// The MTA (or mailbox server) that gave up.
        by: String,
        /// Enhanced status code.
        dsn: String,
        /// Reason.
        text: String,
    },
    /// Refused at SMTP time.
    Rejected {
        /// The refusing MTA.
        by: String,
        /// Its reply.
        reply: String,
    },
    /// Kept in a queue (temporary failure).
    Deferred {
        /// The MTA holding it.
        by: String,
        /// Enhanced status code.
        dsn: String,
        /// Reason.
        text: String,
    },
    /// Circles between MTAs until a hop limit ends it (`554 5.4.0 too many hops` at `by`).
    Looped {
        /// Hop count when the limit was hit.
        hops: u32,
        /// The MTAs of the cycle, in order.
        cycle: Vec<String>,
        /// The MTA whose limit ended it.
        by: String,
    },
    /// Handed to a host outside the topology.
    LeftTopology {
        /// The host or domain it was sent to.
        next_hop: String,
    },
}

impl Disposition {
    /// `delivered`, `bounced`, `rejected`, `deferred`, `looped` or `left`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Disposition::Delivered { .. } => "delivered",
            Disposition::Bounced { .. } => "bounced",
            Disposition::Rejected { .. } => "rejected",
            Disposition::Deferred { .. } => "deferred",
            Disposition::Looped { .. } => "looped",
            Disposition::LeftTopology { .. } => "left",
        }
    }

    /// The enhanced status code, if the disposition has one.
    pub fn dsn(&self) -> Option<&str> {
        match self {
            Disposition::Bounced { dsn, .. } | Disposition::Deferred { dsn, .. } => Some(dsn),
            Disposition::Rejected { reply, .. } => reply.split(' ').nth(1),
            Disposition::Looped { .. } => Some("5.4.0"),
            _ => None,
        }
    }
}

impl std::fmt::Display for Disposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Disposition::Delivered { host, mailbox } => {
                write!(f, "delivered to {mailbox} at {host}")
            }
            Disposition::Bounced { by, dsn, text } => write!(f, "bounced by {by}: {dsn} {text}"),
            Disposition::Rejected { by, reply } => write!(f, "rejected by {by}: {reply}"),
            Disposition::Deferred { by, dsn, text } => write!(f, "deferred at {by}: {dsn} {text}"),
            Disposition::Looped { hops, cycle, by } => write!(
                f,
                "looped {} until {by} refused it at hop {hops}: 554 5.4.0 too many hops",
                cycle.join(" -> ")
            ),
            Disposition::LeftTopology { next_hop } => write!(f, "left the topology to {next_hop}"),
        }
    }
}

/// What a node of the trace stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// The entry point (Internet or submitting MTA).
    Entry,
    /// A hop: the message at an MTA.
    Mta,
    /// One final recipient after an MTA's alias expansion.
    Recipient,
}

/// A node of the trace tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    /// What the node is.
    pub kind: NodeKind,
    /// MTA name (entry: `internet` or the MTA), or the final recipient.
    pub name: String,
    /// The MTA's host name, for MTA nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The recipient address at this node.
    pub recipient: String,
    /// Hop count (Received headers) at this node.
    pub hops: u32,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Children: alternatives are marked by `alternatives`.
    pub children: Vec<Node>,
    /// True when the children are alternatives (equal MX preferences), not a fan-out.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub alternatives: bool,
    /// The disposition, at leaves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disposition: Option<Disposition>,
    /// For MTA nodes reached over SMTP: the next-hop host name the previous hop connected to
    /// (an MX host, the relay host, a `[host]`), whose addresses decide whether the connection
    /// stays inside the network (see `verify`'s hairpin check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reached_as: Option<String>,
}

impl Node {
    fn new(kind: NodeKind, name: &str, recipient: &str, hops: u32) -> Node {
        Node {
            kind,
            name: name.to_string(),
            host: None,
            recipient: recipient.to_string(),
            hops,
            steps: Vec::new(),
            children: Vec::new(),
            alternatives: false,
            disposition: None,
            reached_as: None,
        }
    }
}

/// A leaf of a trace with the MTA names on its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf<'a> {
    /// MTA names from the entry to the leaf.
    pub via: Vec<&'a str>,
    /// The final recipient at the leaf.
    pub recipient: &'a str,
    /// The disposition.
    pub disposition: &'a Disposition,
}

/// The result of [`simulate`]: a deterministic tree of hops with a disposition per leaf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trace {
    /// The recipient as given.
    pub recipient: String,
    /// The entry point.
    pub from: String,
    /// The tree.
    pub root: Node,
}

impl Trace {
    /// Every leaf, depth first, with its path.
    pub fn leaves(&self) -> Vec<Leaf<'_>> {
        fn walk<'a>(n: &'a Node, path: &mut Vec<&'a str>, out: &mut Vec<Leaf<'a>>) {
            let pushed = n.kind == NodeKind::Mta;
            if pushed {
                path.push(&n.name);
            }
            if let Some(d) = &n.disposition {
                out.push(Leaf {
                    via: path.clone(),
                    recipient: &n.recipient,
                    disposition: d,
                });
            }
            for c in &n.children {
                walk(c, path, out);
            }
            if pushed {
                path.pop();
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut Vec::new(), &mut out);
        out
    }

    /// One line per leaf: `RCPT -> disposition` (the summary `split_domain` prints).
    pub fn summary(&self) -> String {
        let leaves = self.leaves();
        let parts: Vec<String> = leaves
            .iter()
            .map(|l| {
                let who = if l.recipient.eq_ignore_ascii_case(&self.recipient) {
                    String::new()
                } else {
                    format!("<{}> ", l.recipient)
                };
                format!("{who}{} (via {})", l.disposition, l.via.join(" > "))
            })
            .collect();
        format!("{} -> {}", self.recipient, parts.join(" | "))
    }

    /// Readable text, one line per step (like `exim -bt`).
    pub fn to_text(&self) -> String {
        fn walk(n: &Node, depth: usize, out: &mut String) {
            let pad = "  ".repeat(depth);
            match n.kind {
                NodeKind::Entry => {}
                NodeKind::Mta => {
                    let _ = writeln!(
                        out,
                        "{pad}{} ({}) hop {}: {}",
                        n.name,
                        n.host.as_deref().unwrap_or(""),
                        n.hops,
                        n.recipient
                    );
                }
                NodeKind::Recipient => {
                    let _ = writeln!(out, "{pad}-> {}", n.recipient);
                }
            }
            let inner = if n.kind == NodeKind::Entry {
                depth
            } else {
                depth + 1
            };
            let ipad = "  ".repeat(inner);
            for s in &n.steps {
                let _ = writeln!(out, "{ipad}{s}");
            }
            if n.alternatives {
                let _ = writeln!(
                    out,
                    "{ipad}(one of {} equal-preference hosts)",
                    n.children.len()
                );
            }
            if let Some(d) = &n.disposition {
                let _ = writeln!(out, "{ipad}=> {}", d.to_string().to_uppercase_first());
            }
            for c in &n.children {
                walk(c, inner, out);
            }
        }
        let mut out = format!("{} from {}\n", self.recipient, self.from);
        walk(&self.root, 1, &mut out);
        out
    }

    /// Graphviz DOT: MTAs as nodes, hops as edges (labelled with the recipient and hop count),
    /// a box per leaf with its disposition.
    pub fn to_dot(&self) -> String {
        fn q(s: &str) -> String {
            format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
        }
        let mut nodes: Vec<String> = Vec::new();
        let mut edges: Vec<String> = Vec::new();
        let mut leaf_no = 0usize;
        fn walk(
            n: &Node,
            from: &str,
            nodes: &mut Vec<String>,
            edges: &mut Vec<String>,
            leaf_no: &mut usize,
        ) {
            let mut here = from.to_string();
            if n.kind == NodeKind::Mta {
                let decl = format!(
                    "  {} [shape=ellipse, label={}];",
                    q(&n.name),
                    q(&format!("{}\n{}", n.name, n.host.as_deref().unwrap_or("")))
                );
                if !nodes.contains(&decl) {
                    nodes.push(decl);
                }
                edges.push(format!(
                    "  {} -> {} [label={}];",
                    q(from),
                    q(&n.name),
                    q(&format!("{} (hop {})", n.recipient, n.hops))
                ));
                here = n.name.clone();
            }
            if let Some(d) = &n.disposition {
                *leaf_no += 1;
                let id = format!("leaf{leaf_no}");
                let color = match d {
                    Disposition::Delivered { .. } => "palegreen",
                    Disposition::LeftTopology { .. } => "lightblue",
                    Disposition::Deferred { .. } => "khaki",
                    _ => "lightpink",
                };
                nodes.push(format!(
                    "  {} [shape=box, style=filled, fillcolor={color}, label={}];",
                    q(&id),
                    q(&format!("{}\n{}", n.recipient, d))
                ));
                edges.push(format!("  {} -> {};", q(&here), q(&id)));
            }
            for c in &n.children {
                walk(c, &here, nodes, edges, leaf_no);
            }
        }
        let start = self.from.clone();
        nodes.push(format!("  {} [shape=doublecircle];", q(&start)));
        for c in &self.root.children {
            walk(c, &start, &mut nodes, &mut edges, &mut leaf_no);
        }
        if let Some(d) = &self.root.disposition {
            nodes.push(format!(
                "  \"leaf0\" [shape=box, label={}];",
                q(&d.to_string())
            ));
            edges.push(format!("  {} -> \"leaf0\";", q(&start)));
        }
        let mut out = String::from("digraph route {\n  rankdir=LR;\n");
        let _ = writeln!(
            out,
            "  label={};",
            q(&format!("{} from {}", self.recipient, self.from))
        );
        for l in nodes.iter().chain(edges.iter()) {
            out.push_str(l);
            out.push('\n');
        }
        out.push_str("}\n");
        out
    }
}

trait UpperFirst {
    fn to_uppercase_first(&self) -> String;
}

impl UpperFirst for String {
    fn to_uppercase_first(&self) -> String {
        let mut c = self.chars();
        match c.next() {
            Some(f) => f.to_uppercase().chain(c).collect(),
            None => String::new(),
        }
    }
}

/// Simulation bounds: the tree is cut (with a `Deferred` leaf by `simulator`) beyond these.
const MAX_NODES: usize = 20_000;
const MAX_DEPTH: usize = 256;

#[derive(Clone, PartialEq, Eq)]
struct State {
    mta: usize,
    prev: usize,
    rcpt: String,
}

struct Sim<'t> {
    topo: &'t Topology,
    nodes: usize,
}

const NO_PREV: usize = usize::MAX;

/// Simulate `rcpt` entering the topology at `from`: hop by hop through Zimbra and foreign MTAs,
/// branching where aliases fan out or equal-preference MX hosts are alternatives, to a
/// [`Disposition`] per leaf. Deterministic and always terminating (hop limits, loop detection,
/// and a bound on the size of the tree).
///
/// ```
/// use zimbra_prov::model::Directory;
/// use zimbra_prov::route::{simulate, Entry, Mta, Topology};
/// let mut dir = Directory::new();
/// zimbra_prov::zmprov::run(&mut dir, "cs mx.example.org\ncd example.org\nca a@example.org pw").unwrap();
/// let mut topo = Topology::new();
/// topo.add(Mta::zimbra("zcs", "mx.example.org", &dir, |_| {})).unwrap();
/// topo.dns.mx.insert("example.org".into(), vec![(10, "mx.example.org".into())]);
/// let t = simulate(&topo, &Entry::Internet, "a@example.org");
/// assert_eq!(t.leaves()[0].disposition.to_string(), "delivered to a@example.org at mx.example.org");
/// ```
pub fn simulate(topo: &Topology, from: &Entry, rcpt: &str) -> Trace {
    let mut sim = Sim { topo, nodes: 0 };
    let mut root = Node::new(NodeKind::Entry, &from.to_string(), rcpt, 0);
    match from {
        Entry::Internet => {
            let domain = rcpt
                .trim()
                .trim_end_matches('>')
                .trim_end_matches('.')
                .rsplit_once('@')
                .map(|(_, d)| d.to_ascii_lowercase())
                .unwrap_or_default();
            sim.forward(&mut root, NO_PREV, rcpt, &domain, true, 0, &mut Vec::new());
        }
        Entry::Mta(name) => match topo.mta_index(name) {
            Some(i) => {
                let child = sim.arrive(i, NO_PREV, rcpt, 1, Arrival::TRUSTED, &mut Vec::new());
                root.children.push(child);
            }
            None => {
                root.disposition = Some(Disposition::LeftTopology {
                    next_hop: name.clone(),
                });
            }
        },
    }
    Trace {
        recipient: rcpt.to_string(),
        from: from.to_string(),
        root,
    }
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
/// let t = simulate_via_host(&topo, "mx.example.org", "a@example.org");
/// assert_eq!(t.from, "internet via mx.example.org");
/// assert_eq!(t.leaves()[0].disposition.outcome(), "delivered");
/// // an untrusted client may not relay through it
/// let t = simulate_via_host(&topo, "mx.example.org", "x@elsewhere.example");
/// assert_eq!(t.leaves()[0].disposition.outcome(), "rejected");
/// ```
pub fn simulate_via_host(topo: &Topology, host: &str, rcpt: &str) -> Trace {
    let mut sim = Sim { topo, nodes: 0 };
    let from = format!("internet via {host}");
    let mut root = Node::new(NodeKind::Entry, &from, rcpt, 0);
    let bracketed = format!("[{}]", host.trim_start_matches('[').trim_end_matches(']'));
    sim.forward(
        &mut root,
        NO_PREV,
        rcpt,
        &bracketed,
        false,
        0,
        &mut Vec::new(),
    );
    Trace {
        recipient: rcpt.to_string(),
        from,
        root,
    }
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

impl Sim<'_> {
    fn cut(&self, node: &mut Node) {
        node.disposition = Some(Disposition::Deferred {
            by: "simulator".into(),
            dsn: "4.3.0".into(),
            text: "simulation size limit reached".into(),
        });
    }

    /// Send `rcpt` from MTA `from` (or the Internet) to `nexthop`, adding children to `node`.
    #[allow(clippy::too_many_arguments)]
    fn forward(
        &mut self,
        node: &mut Node,
        from: usize,
        rcpt: &str,
        nexthop: &str,
        lookups: bool,
        hops: u32,
        path: &mut Vec<State>,
    ) {
        let topo = self.topo;
        let (host, bracketed) = parse_nexthop(nexthop);
        let mut cands: Vec<(u16, String)> = match topo.dns.mx_of(&host) {
            Some(mx) if lookups && !bracketed && !mx.is_empty() => {
                let list: Vec<String> = mx.iter().map(|(p, h)| format!("{p} {h}")).collect();
                node.steps.push(Step::new(
                    Stage::Dns,
                    format!("MX {host}: {}", list.join(", ")),
                ));
                mx
            }
            _ => {
                let why = if bracketed {
                    "[host]: no MX lookup"
                } else if !lookups {
                    "DNS lookups disabled: host lookup"
                } else {
                    "no MX record: A lookup"
                };
                let addrs = topo.dns.addresses(&host);
                node.steps.push(Step::new(
                    Stage::Dns,
                    format!(
                        "{host}: {why}{}",
                        if addrs.is_empty() {
                            String::new()
                        } else {
                            format!(" -> {}", addrs.join(", "))
                        }
                    ),
                ));
                vec![(0, host.clone())]
            }
        };
        // loops back to myself: truncate the MX list at my own preference
        if from != NO_PREV {
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
                    node.steps.push(Step::new(
                        Stage::Smtp,
                        format!("{host} is this MTA (best MX or direct host)"),
                    ));
                    node.disposition = Some(Disposition::Bounced {
                        by,
                        dsn: "5.4.6".into(),
                        text: format!("mail for {host} loops back to myself"),
                    });
                    return;
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
        for h in group {
            match topo.find_host(&h) {
                None => {
                    if group_is_single(node) {
                        node.disposition = Some(Disposition::LeftTopology { next_hop: h });
                    } else {
                        let mut leaf = Node::new(NodeKind::Recipient, rcpt, rcpt, hops);
                        leaf.disposition = Some(Disposition::LeftTopology { next_hop: h });
                        node.children.push(leaf);
                    }
                }
                Some(to) => {
                    let arrival = if from == NO_PREV {
                        Arrival::INTERNET
                    } else if topo.trusted(from, to) {
                        Arrival::TRUSTED
                    } else {
                        Arrival::INTERNET
                    };
                    let mut child = self.arrive(to, from, rcpt, hops + 1, arrival, path);
                    child.reached_as = Some(h);
                    node.children.push(child);
                }
            }
        }
    }

    fn arrive(
        &mut self,
        at: usize,
        prev: usize,
        rcpt: &str,
        hops: u32,
        arrival: Arrival,
        path: &mut Vec<State>,
    ) -> Node {
        let topo = self.topo;
        self.nodes += 1;
        let Some(mta) = topo.mtas().get(at) else {
            let mut n = Node::new(NodeKind::Mta, "?", rcpt, hops);
            self.cut(&mut n);
            return n;
        };
        let mut node = Node::new(NodeKind::Mta, &mta.name, rcpt, hops);
        node.host = Some(mta.hostname.clone());
        if self.nodes > MAX_NODES || path.len() > MAX_DEPTH {
            self.cut(&mut node);
            return node;
        }
        let state = State {
            mta: at,
            prev,
            rcpt: rcpt.to_ascii_lowercase(),
        };
        // a state seen before on this path repeats forever: fast-forward to the hop limit
        if let Some(i) = path.iter().position(|s| *s == state) {
            let cycle: Vec<usize> = path[i..].iter().map(|s| s.mta).collect();
            node.steps.push(Step::new(
                Stage::Hop,
                format!(
                    "{rcpt} arrives at {} again from the same MTA: the path repeats",
                    mta.name
                ),
            ));
            node.disposition = Some(self.looped(&cycle, hops));
            return node;
        }
        let limit = mta.hopcount_limit();
        if hops >= limit {
            node.steps.push(Step::new(
                Stage::Hop,
                format!("{hops} Received headers reach hopcount_limit {limit}"),
            ));
            node.disposition = Some(Disposition::Bounced {
                by: mta.name.clone(),
                dsn: "5.4.0".into(),
                text: "554 5.4.0 too many hops".into(),
            });
            return node;
        }
        path.push(state);
        match &mta.kind {
            MtaKind::Zimbra(z) => {
                let d = z.decide(rcpt, arrival);
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
                        for del in deliveries {
                            let mut child = Node::new(
                                NodeKind::Recipient,
                                &del.recipient,
                                &del.recipient,
                                hops,
                            );
                            child.steps = del.steps;
                            self.act(&mut child, at, &del.action, hops, path);
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
                    node.steps
                        .push(Step::new(Stage::Foreign, format!("alias {rcpt} -> {new}")));
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
                let mut next: Option<String> = None;
                if let Some(r) = route(&lc) {
                    node.steps
                        .push(Step::new(Stage::Foreign, format!("route for {lc}: {r}")));
                    next = Some(r);
                } else if own && f.mailboxes.iter().any(|m| m.eq_ignore_ascii_case(&lc)) {
                    node.steps.push(Step::new(
                        Stage::Foreign,
                        format!("{rcpt} is a mailbox here"),
                    ));
                    node.disposition = Some(Disposition::Delivered {
                        host: mta.hostname.clone(),
                        mailbox: rcpt.to_string(),
                    });
                } else if own {
                    node.steps.push(Step::new(
                        Stage::Foreign,
                        format!("{rcpt}: unknown user of {domain}, policy {}", f.unknown),
                    ));
                    match (f.unknown, f.unknown_relay.as_ref().or(f.relayhost.as_ref())) {
                        (UnknownPolicy::Reject, _) => {
                            node.disposition = Some(Disposition::Rejected {
                                by: mta.name.clone(),
                                reply: format!(
                                    "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown"
                                ),
                            })
                        }
                        (UnknownPolicy::Relay, Some(r)) => next = Some(r.clone()),
                        _ => {
                            node.disposition = Some(Disposition::Bounced {
                                by: mta.name.clone(),
                                dsn: "5.1.1".into(),
                                text: "User unknown".into(),
                            })
                        }
                    }
                } else if let Some(r) = route(domain) {
                    node.steps.push(Step::new(
                        Stage::Foreign,
                        format!("route for {domain}: {r}"),
                    ));
                    next = Some(r);
                } else if let Some(r) = &f.relayhost {
                    node.steps
                        .push(Step::new(Stage::Foreign, format!("relay host {r}")));
                    next = Some(r.clone());
                } else {
                    node.steps
                        .push(Step::new(Stage::Foreign, format!("{domain} is remote")));
                    next = Some(domain.to_string());
                }
                if let Some(nh) = next {
                    self.forward(&mut node, at, rcpt, &nh, f.dns_lookups, hops, path);
                }
            }
        }
        path.pop();
        node
    }

    fn act(
        &mut self,
        node: &mut Node,
        at: usize,
        action: &Action,
        hops: u32,
        path: &mut Vec<State>,
    ) {
        let topo = self.topo;
        let Some(mta) = topo.mtas().get(at) else {
            return;
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
                        node.steps.push(Step::new(
                            Stage::Lmtp,
                            format!("{host} is not a Zimbra mailbox server of this topology"),
                        ));
                        node.disposition = Some(Disposition::LeftTopology { next_hop: host });
                        return;
                    };
                    let (reply, step) = z.lmtp(&host, &node.recipient);
                    node.steps.push(step);
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
                    self.forward(node, at, &rcpt, nexthop, mta.dns_lookups(), hops, path);
                }
            }
        }
    }

    fn looped(&self, cycle: &[usize], hops: u32) -> Disposition {
        let topo = self.topo;
        let names: Vec<String> = cycle
            .iter()
            .filter_map(|i| topo.mtas().get(*i).map(|m| m.name.clone()))
            .collect();
        let p = cycle.len().max(1);
        let mut h = hops;
        // the path repeats: the k-th further arrival is at cycle[k % p] with h + k hops
        for k in 0..2_000_000usize {
            let Some(m) = cycle.get(k % p).and_then(|i| topo.mtas().get(*i)) else {
                break;
            };
            if h >= m.hopcount_limit() {
                return Disposition::Looped {
                    hops: h,
                    cycle: names,
                    by: m.name.clone(),
                };
            }
            h = h.saturating_add(1);
        }
        Disposition::Looped {
            hops: h,
            cycle: names.clone(),
            by: names.first().cloned().unwrap_or_default(),
        }
    }
}

fn group_is_single(node: &Node) -> bool {
    !node.alternatives
}
