//! The trace tree: every path of the message, hop by hop, with the steps of each decision, a
//! disposition per leaf and, at failed leaves, the DSN.
//!
//! A path that comes back to a state it passed (same MTA, same previous MTA, same recipient)
//! would repeat forever: it is folded into one `Looped` leaf whose end (the MTA whose hop limit
//! refuses it, and the hop count) follows the cycle from there. A path that reaches a hop limit
//! is `Looped` when it passed a state that lies on a cycle of the message's state graph
//! ([`super::graph`]), and refused for too many hops otherwise.

use super::super::index::FxMap;
use super::super::topology::Topology;
use super::expand::{fast_forward, node_at, set_hops, Expander, Expansion, OUTSIDE};
use super::graph::{
    leaf_writer, refusal_writer, size_limit, too_many_hops, Explorer, Graph, Start, Writer,
};
use super::trace::{Disposition, Dsn, DsnFate, DsnRoute, Node, NodeKind, Trace};

/// Simulation bounds: the tree is cut (with a `Deferred` leaf by `simulator`) beyond these.
const MAX_NODES: usize = 20_000;
const MAX_DEPTH: usize = 256;

type Key = (usize, usize, String);

pub(crate) struct Builder<'t, 'e> {
    topo: &'t Topology,
    exp: Expander<'t>,
    explorer: &'e mut Explorer<'t>,
    graph: Graph,
    cache: FxMap<(usize, usize, String), Expansion>,
    nodes: usize,
    /// The envelope sender; `None` builds a DSN's own path (its failures are double bounces).
    sender: Option<String>,
    dsns: Vec<DsnRoute>,
    dsn_of: FxMap<usize, usize>,
}

/// Build the trace of `rcpt` from `start`, named `from`, with envelope sender `sender`.
pub(crate) fn build<'t>(
    explorer: &mut Explorer<'t>,
    start: &Start<'_>,
    from: &str,
    sender: &str,
    rcpt: &str,
) -> Trace {
    let topo = explorer.topo;
    let graph = explorer.explore(start, rcpt);
    let mut b = Builder {
        topo,
        exp: Expander::new(topo, true),
        explorer,
        graph,
        cache: FxMap::default(),
        nodes: 0,
        sender: Some(sender.to_string()),
        dsns: Vec::new(),
        dsn_of: FxMap::default(),
    };
    let root = b.root(start, from, rcpt);
    Trace {
        recipient: rcpt.to_string(),
        from: from.to_string(),
        sender: sender.to_string(),
        root,
        dsns: b.dsns,
    }
}

impl Builder<'_, '_> {
    fn root(&mut self, start: &Start<'_>, from: &str, rcpt: &str) -> Node {
        match start {
            Start::Outside {
                name,
                nexthop,
                lookups,
            } => {
                let e = self.exp.root(name, rcpt, nexthop, *lookups);
                let mut root = e.node;
                root.name = from.to_string();
                for n in &e.next {
                    let mut child = self.arrive(n.to, OUTSIDE, &n.rcpt, 1, &mut Vec::new(), None);
                    child.reached_as = Some(n.reached_as.to_string());
                    if let Some(slot) = node_at(&mut root, &n.path) {
                        *slot = child;
                    }
                }
                root
            }
            Start::At { mta, prev } => {
                let mut root = Node::new(NodeKind::Entry, from, rcpt, 0);
                let child = self.arrive(*mta, *prev, rcpt, 1, &mut Vec::new(), None);
                root.children.push(child);
                root
            }
        }
    }

    fn name(&self, i: usize) -> String {
        self.topo
            .mtas()
            .get(i)
            .map(|m| m.name.clone())
            .unwrap_or_default()
    }

    /// The DSN of a failure whose DSN `writer` writes.
    fn notice(&mut self, writer: Writer) -> Option<Dsn> {
        let sender = self.sender.clone()?;
        match writer {
            Writer::None => None,
            Writer::Reply => Some(Dsn {
                writer: None,
                to: sender,
                fate: DsnFate::Reply,
                route: None,
            }),
            Writer::Mta(w) => {
                let fate = self.explorer.dsn_fate(w, &sender);
                let route = match self.dsn_of.get(&w) {
                    Some(r) => *r,
                    None => {
                        let r = self.dsn_route(w, &sender, fate.clone());
                        self.dsns.push(r);
                        let i = self.dsns.len() - 1;
                        self.dsn_of.insert(w, i);
                        i
                    }
                };
                Some(Dsn {
                    writer: Some(self.name(w)),
                    to: sender,
                    fate,
                    route: Some(route),
                })
            }
        }
    }

    /// The path of the DSN MTA `w` writes to `sender`.
    fn dsn_route(&mut self, w: usize, sender: &str, fate: DsnFate) -> DsnRoute {
        let start = Start::At {
            mta: w,
            prev: super::expand::PICKUP,
        };
        let graph = self.explorer.explore(&start, sender);
        let host = self
            .topo
            .mtas()
            .get(w)
            .map(|m| m.hostname.clone())
            .unwrap_or_default();
        let name = self.name(w);
        let mut sub = Builder {
            topo: self.topo,
            exp: Expander::new(self.topo, true),
            explorer: &mut *self.explorer,
            graph,
            cache: FxMap::default(),
            nodes: 0,
            sender: None,
            dsns: Vec::new(),
            dsn_of: FxMap::default(),
        };
        let root = sub.root(&start, &name, sender);
        DsnRoute {
            writer: name,
            from: format!("MAILER-DAEMON@{host}"),
            to: sender.to_string(),
            root,
            fate,
        }
    }

    fn expansion(&mut self, at: usize, prev: usize, rcpt: &str) -> Expansion {
        let a = self.exp.arrival(prev, at);
        let code = usize::from(a.smtp) << 1 | usize::from(a.trusted);
        let key = (at, code, rcpt.to_string());
        if let Some(e) = self.cache.get(&key) {
            return e.clone();
        }
        let e = self.exp.expand(at, prev, rcpt);
        self.cache.insert(key, e.clone());
        e
    }

    /// The message for `rcpt` arriving at MTA `at` from `prev` with `hops` Received headers;
    /// `path` holds the states before it, `taint` the last cyclic state among them.
    fn arrive(
        &mut self,
        at: usize,
        prev: usize,
        rcpt: &str,
        hops: u32,
        path: &mut Vec<Key>,
        taint: Option<u32>,
    ) -> Node {
        let topo = self.topo;
        self.nodes += 1;
        let Some(mta) = topo.mtas().get(at) else {
            let mut n = Node::new(NodeKind::Mta, "?", rcpt, hops);
            n.disposition = Some(size_limit());
            return n;
        };
        let mut node = Node::new(NodeKind::Mta, &mta.name, rcpt, hops);
        node.host = Some(mta.hostname.clone());
        if self.nodes > MAX_NODES || path.len() > MAX_DEPTH {
            node.disposition = Some(size_limit());
            return node;
        }
        let key: Key = (at, prev, rcpt.to_ascii_lowercase());
        // a state seen before on this path repeats forever: fast-forward to the hop limit
        if let Some(i) = path.iter().position(|s| *s == key) {
            let cycle: Vec<usize> = path[i..].iter().map(|s| s.0).collect();
            let (pos, h) = fast_forward(topo, &cycle, hops);
            let p = cycle.len().max(1);
            node.steps.push(super::super::decide::Step::new(
                super::super::decide::Stage::Hop,
                format!(
                    "{rcpt} arrives at {} again from the same MTA: the path repeats",
                    mta.name
                ),
            ));
            node.disposition = Some(Disposition::Looped {
                hops: h,
                cycle: cycle.iter().map(|m| self.name(*m)).collect(),
                by: self.name(cycle.get(pos).copied().unwrap_or(at)),
            });
            let writer = cycle.get((pos + p - 1) % p).copied().unwrap_or(at);
            node.dsn = self.notice(Writer::Mta(writer));
            return node;
        }
        let state = self.graph.find(at, prev, rcpt);
        let cyclic = state
            .and_then(|s| self.graph.state(s))
            .is_some_and(|s| s.cyclic);
        let limit = mta.hopcount_limit();
        if hops >= limit {
            node.steps.push(super::super::decide::Step::new(
                super::super::decide::Stage::Hop,
                format!("{hops} Received headers reach hopcount_limit {limit}"),
            ));
            let looping = if cyclic { state } else { taint };
            node.disposition = Some(match looping {
                Some(s) => Disposition::Looped {
                    hops,
                    cycle: self
                        .graph
                        .cycle_mtas(s)
                        .iter()
                        .map(|m| self.name(*m))
                        .collect(),
                    by: mta.name.clone(),
                },
                None => too_many_hops(&mta.name, hops),
            });
            node.dsn = self.notice(refusal_writer(at, prev));
            return node;
        }
        let e = self.expansion(at, prev, rcpt);
        let mut node = e.node;
        set_hops(&mut node, hops);
        self.notices(&mut node, at, prev);
        let taint = if cyclic { state } else { taint };
        path.push(key);
        for n in &e.next {
            let mut child = self.arrive(n.to, at, &n.rcpt, hops + 1, path, taint);
            child.reached_as = Some(n.reached_as.to_string());
            if let Some(slot) = node_at(&mut node, &n.path) {
                *slot = child;
            }
        }
        path.pop();
        node
    }

    /// DSNs for the failures MTA `at` decides itself (before its next hops are filled in).
    fn notices(&mut self, node: &mut Node, at: usize, prev: usize) {
        if let Some(d) = &node.disposition {
            let w = leaf_writer(d, at, prev);
            node.dsn = self.notice(w);
        }
        for c in &mut node.children {
            self.notices(c, at, prev);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_paths() {
        let mut n = Node::new(NodeKind::Mta, "a", "x", 0);
        n.children.push(Node::new(NodeKind::Recipient, "r", "r", 0));
        n.children[0]
            .children
            .push(Node::new(NodeKind::Mta, "b", "r", 0));
        set_hops(&mut n, 3);
        assert_eq!(n.children[0].children[0].hops, 3);
        assert_eq!(
            node_at(&mut n, &[0, 0]).map(|x| x.name.clone()),
            Some("b".into())
        );
        assert!(node_at(&mut n, &[1]).is_none());
    }
}
