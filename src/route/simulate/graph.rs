//! The state graph of one message: every (MTA, previous MTA, recipient) it can reach, each
//! explored once, so that the cost is bounded by the topology's size, not by the number of
//! paths (a fan-out of distribution lists naming each other has exponentially many paths but
//! only `MTAs × MTAs × addresses` states).
//!
//! What Postfix does depends on the state and the hop count only: an MTA's handling of a
//! recipient is the same whichever path brought it there, and the hop count (Received headers,
//! per message copy) decides only whether `hopcount_limit` refuses it. So:
//!
//! - a breadth-first search gives each state its smallest hop count `d`; a state is expanded
//!   (its MTA's decision followed) when `d` is below its MTA's limit — that decides every
//!   delivery, bounce, refusal and next hop reachable at all;
//! - a state on a cycle of the graph (strongly connected components) lets the message circle:
//!   it reaches a hop limit there, and every copy that passed such a state and then reaches a
//!   limit is part of that loop ([`Disposition::Looped`]);
//! - a copy that never passed a cyclic state takes a simple path; the hop counts it can reach
//!   each state with form a set (a bitset per state, propagated in the acyclic rest of the
//!   graph), and one at or past the state's limit is a plain refusal for too many hops (a chain
//!   longer than the limit).
//!
//! The trace builder asks this graph which states are cyclic, so a trace and the verifier call
//! the same things loops.

use std::collections::VecDeque;
use std::rc::Rc;

use super::super::index::FxMap;
use super::super::topology::Topology;
use super::expand::{fast_forward, is_mta, Expander, Expansion, PICKUP};
use super::trace::{walk_leaves, Disposition, DsnFate, Node};

/// "No state".
pub(crate) const NONE: u32 = u32::MAX;
/// States explored per message at most; past that the exploration stops with a `Deferred` fact
/// by `simulator` (like the trace's size limit).
pub(crate) const MAX_STATES: usize = 100_000;
/// Hop counts tracked (a trace's path is cut at this depth too).
pub(crate) const MAX_HOPS: u32 = 256;

/// Where an exploration starts.
#[derive(Debug, Clone)]
pub(crate) enum Start<'a> {
    /// An outside sender handing the message to `nexthop` (the domain, or `[host]`).
    Outside {
        name: &'a str,
        nexthop: String,
        lookups: bool,
    },
    /// The message arriving at MTA `mta` from `prev` (`SUBMIT` or `PICKUP`) at hop 1.
    At { mta: usize, prev: usize },
}

/// One state of the graph.
#[derive(Debug, Clone)]
pub(crate) struct GState {
    pub mta: usize,
    pub prev: usize,
    /// The recipient (as first reached).
    pub rcpt: String,
    /// Smallest hop count.
    pub d: u32,
    /// The state it was first reached from (`NONE` for a first hop).
    pub parent: u32,
    /// Its MTA's handling of the recipient, when expanded.
    pub exp: Option<Rc<Expansion>>,
    /// Successors: (state, host name connected to).
    pub succ: Vec<(u32, Rc<str>)>,
    /// Whether it lies on a cycle.
    pub cyclic: bool,
    /// Its strongly connected component.
    pub scc: u32,
}

/// Who writes the DSN for a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Writer {
    /// Nobody: not a failure (delivered, left, deferred).
    None,
    /// The refusal went to the sending client (hop 1).
    Reply,
    /// This MTA (index) writes it.
    Mta(usize),
}

/// The writer of a refusal by MTA `at` of a message from `prev`: the previous MTA (it accepted
/// the message and now holds it), the MTA itself for a locally posted message, else the client.
pub(crate) fn refusal_writer(at: usize, prev: usize) -> Writer {
    if is_mta(prev) {
        Writer::Mta(prev)
    } else if prev == PICKUP {
        Writer::Mta(at)
    } else {
        Writer::Reply
    }
}

/// The writer for a leaf decided inside the expansion of state (`at`, `prev`).
pub(crate) fn leaf_writer(d: &Disposition, at: usize, prev: usize) -> Writer {
    match d {
        Disposition::Bounced { .. } => Writer::Mta(at),
        Disposition::Rejected { .. } => refusal_writer(at, prev),
        _ => Writer::None,
    }
}

/// One thing that happens to the message: a leaf with where it happens and who writes the DSN.
#[derive(Debug, Clone)]
pub(crate) struct Fact {
    /// The state (`NONE`: the outside sender's own hop).
    pub at: u32,
    /// For loops: the cycle's states after `at`, back to `at` (the path goes around once).
    pub around: Vec<u32>,
    /// The recipient at the leaf.
    pub rcpt: String,
    pub disposition: Disposition,
    pub writer: Writer,
}

/// The explored graph of one message.
#[derive(Debug, Clone, Default)]
pub(crate) struct Graph {
    /// The outside sender's hop, for an outside start.
    pub root: Option<Rc<Expansion>>,
    pub states: Vec<GState>,
    /// Recipients (lower case) by number.
    rcpts: FxMap<Box<str>, u32>,
    /// States by (MTA, previous MTA, recipient number).
    index: FxMap<(usize, usize, u32), u32>,
    /// The exploration stopped at [`MAX_STATES`].
    pub cut: bool,
}

/// Hop-count sets, one bit per count below [`MAX_HOPS`].
type Hops = [u64; (MAX_HOPS as usize).div_ceil(64)];

fn has(h: &Hops, i: u32) -> bool {
    h.get(i as usize / 64)
        .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
}

fn set(h: &mut Hops, i: u32) -> bool {
    match h.get_mut(i as usize / 64) {
        Some(w) => {
            let b = 1u64 << (i % 64);
            let new = *w & b == 0;
            *w |= b;
            new
        }
        None => false,
    }
}

impl Graph {
    /// The state of (`mta`, `prev`, `rcpt`), if reached.
    pub fn find(&self, mta: usize, prev: usize, rcpt: &str) -> Option<u32> {
        let r = self.rcpts.get(rcpt.to_ascii_lowercase().as_str())?;
        self.index.get(&(mta, prev, *r)).copied()
    }

    /// The number of recipient `key` (lower case).
    fn rcpt_id(&mut self, key: &str) -> u32 {
        if let Some(r) = self.rcpts.get(key) {
            return *r;
        }
        let r = self.rcpts.len() as u32;
        self.rcpts.insert(key.into(), r);
        r
    }

    pub fn state(&self, s: u32) -> Option<&GState> {
        self.states.get(s as usize)
    }

    /// The states from a first hop to `s`, along first-reached parents.
    pub fn path(&self, s: u32) -> Vec<u32> {
        let mut v = Vec::new();
        let mut cur = s;
        while let Some(st) = self.state(cur) {
            v.push(cur);
            cur = st.parent;
            if v.len() > self.states.len() {
                break;
            }
        }
        v.reverse();
        v
    }

    /// A shortest cycle through cyclic state `s`: the states after `s`, ending with `s`.
    pub fn cycle(&self, s: u32) -> Vec<u32> {
        let Some(st) = self.state(s) else {
            return Vec::new();
        };
        let scc = st.scc;
        let mut parent: FxMap<u32, u32> = FxMap::default();
        let mut queue = VecDeque::from([s]);
        while let Some(x) = queue.pop_front() {
            let Some(xs) = self.state(x) else { continue };
            for (y, _) in &xs.succ {
                if self.state(*y).map(|t| t.scc) != Some(scc) {
                    continue;
                }
                if *y == s {
                    let mut v = vec![s];
                    let mut cur = x;
                    while cur != s {
                        v.push(cur);
                        cur = parent.get(&cur).copied().unwrap_or(s);
                    }
                    v.reverse();
                    return v;
                }
                if !parent.contains_key(y) {
                    parent.insert(*y, x);
                    queue.push_back(*y);
                }
            }
        }
        vec![s]
    }

    /// The MTAs of a shortest cycle through `s`, starting with `s`'s.
    pub fn cycle_mtas(&self, s: u32) -> Vec<usize> {
        let c = self.cycle(s);
        let mut v: Vec<usize> = self.state(s).map(|x| x.mta).into_iter().collect();
        // `c` ends with `s` itself
        v.extend(
            c.iter()
                .take(c.len().saturating_sub(1))
                .filter_map(|x| self.state(*x).map(|t| t.mta)),
        );
        v
    }

    /// Strongly connected components (Tarjan, iterative) and the `cyclic` flags.
    fn components(&mut self) {
        let n = self.states.len();
        let mut index = vec![u32::MAX; n];
        let mut low = vec![0u32; n];
        let mut on = vec![false; n];
        let mut stack: Vec<u32> = Vec::new();
        let mut next = 0u32;
        let mut comp = 0u32;
        for root in 0..n as u32 {
            if index[root as usize] != u32::MAX {
                continue;
            }
            // (state, next successor position)
            let mut work: Vec<(u32, usize)> = vec![(root, 0)];
            index[root as usize] = next;
            low[root as usize] = next;
            next += 1;
            stack.push(root);
            on[root as usize] = true;
            while let Some(&(v, pos)) = work.last() {
                let succ = &self.states[v as usize].succ;
                if let Some((w, _)) = succ.get(pos) {
                    let w = *w as usize;
                    if let Some(top) = work.last_mut() {
                        top.1 += 1;
                    }
                    if index[w] == u32::MAX {
                        index[w] = next;
                        low[w] = next;
                        next += 1;
                        stack.push(w as u32);
                        on[w] = true;
                        work.push((w as u32, 0));
                    } else if on[w] {
                        low[v as usize] = low[v as usize].min(index[w]);
                    }
                    continue;
                }
                work.pop();
                if let Some(&(u, _)) = work.last() {
                    low[u as usize] = low[u as usize].min(low[v as usize]);
                }
                if low[v as usize] == index[v as usize] {
                    let mut members = Vec::new();
                    while let Some(w) = stack.pop() {
                        on[w as usize] = false;
                        members.push(w);
                        if w == v {
                            break;
                        }
                    }
                    let cyclic = members.len() > 1
                        || self.states[v as usize].succ.iter().any(|(t, _)| *t == v);
                    for m in members {
                        let st = &mut self.states[m as usize];
                        st.scc = comp;
                        st.cyclic = cyclic;
                    }
                    comp += 1;
                }
            }
        }
    }

    /// Everything that happens to the message, in a deterministic order: per state (in the
    /// order reached) the leaves its MTA decides and a refusal for too many hops on a simple
    /// path; then one loop per cycle (strongly connected component); then the cut, if any.
    pub fn facts(&self, topo: &Topology) -> Vec<Fact> {
        let mut out = Vec::new();
        self.each_leaf_or(topo, &mut |_, _, _, _| false, &mut |f| out.push(f));
        out
    }

    /// The facts of [`Graph::facts`], in its order, without copying the leaves `leaf` takes:
    /// each leaf decided inside an expansion is offered to `leaf(state, recipient,
    /// disposition, writer)` first and becomes a [`Fact`] for `fact` only when `leaf` returns
    /// false.
    pub fn each_leaf_or(
        &self,
        topo: &Topology,
        leaf: &mut impl FnMut(u32, &str, &Disposition, Writer) -> bool,
        fact: &mut impl FnMut(Fact),
    ) {
        if let Some(r) = &self.root {
            walk_leaves(&r.node, &mut Vec::new(), &mut |_, n, d| {
                if !leaf(NONE, &n.recipient, d, Writer::None) {
                    fact(Fact {
                        at: NONE,
                        around: Vec::new(),
                        rcpt: n.recipient.clone(),
                        disposition: d.clone(),
                        writer: Writer::None,
                    })
                }
            });
        }
        let clean = self.clean_hops(topo);
        for (i, st) in self.states.iter().enumerate() {
            let name = topo
                .mtas()
                .get(st.mta)
                .map(|m| m.name.as_str())
                .unwrap_or("?");
            if let Some(e) = &st.exp {
                for node in e.nodes() {
                    walk_leaves(node, &mut Vec::new(), &mut |_, n, d| {
                        let writer = leaf_writer(d, st.mta, st.prev);
                        if !leaf(i as u32, &n.recipient, d, writer) {
                            fact(Fact {
                                at: i as u32,
                                around: Vec::new(),
                                rcpt: n.recipient.clone(),
                                disposition: d.clone(),
                                writer,
                            })
                        }
                    });
                }
            }
            if !st.cyclic {
                let limit = topo.mtas().get(st.mta).map_or(0, |m| m.hopcount_limit());
                if let Some(h) =
                    (limit..MAX_HOPS).find(|h| clean.get(i).is_some_and(|c| has(c, *h)))
                {
                    fact(Fact {
                        at: i as u32,
                        around: Vec::new(),
                        rcpt: st.rcpt.clone(),
                        disposition: too_many_hops(name, h),
                        writer: refusal_writer(st.mta, st.prev),
                    });
                }
            }
        }
        // one loop per cycle: at its first-reached state, going around a shortest cycle
        let mut seen: Vec<u32> = Vec::new();
        for (i, st) in self.states.iter().enumerate() {
            if !st.cyclic || seen.contains(&st.scc) {
                continue;
            }
            seen.push(st.scc);
            let around = self.cycle(i as u32);
            let cycle = self.cycle_mtas(i as u32);
            let (pos, hops) = fast_forward(topo, &cycle, st.d);
            let p = cycle.len().max(1);
            let by = cycle.get(pos).copied().unwrap_or(st.mta);
            let writer = cycle.get((pos + p - 1) % p).copied().unwrap_or(st.mta);
            fact(Fact {
                at: i as u32,
                around,
                rcpt: st.rcpt.clone(),
                disposition: Disposition::Looped {
                    hops,
                    cycle: cycle
                        .iter()
                        .filter_map(|m| topo.mtas().get(*m).map(|x| x.name.clone()))
                        .collect(),
                    by: topo
                        .mtas()
                        .get(by)
                        .map(|m| m.name.clone())
                        .unwrap_or_default(),
                },
                writer: Writer::Mta(writer),
            });
        }
        if self.cut {
            fact(Fact {
                at: NONE,
                around: Vec::new(),
                rcpt: self
                    .states
                    .first()
                    .map(|s| s.rcpt.clone())
                    .unwrap_or_default(),
                disposition: size_limit(),
                writer: Writer::None,
            });
        }
    }

    /// Per state, the hop counts at which a copy that passed no cyclic state reaches it.
    fn clean_hops(&self, topo: &Topology) -> Vec<Hops> {
        let mut hops: Vec<Hops> = vec![[0u64; (MAX_HOPS as usize).div_ceil(64)]; self.states.len()];
        let mut work: Vec<u32> = Vec::new();
        for (i, st) in self.states.iter().enumerate() {
            if st.parent == NONE && st.d == 1 {
                if let Some(h) = hops.get_mut(i) {
                    set(h, 1);
                }
                work.push(i as u32);
            }
        }
        let mut queued = vec![false; self.states.len()];
        for w in &work {
            queued[*w as usize] = true;
        }
        while let Some(s) = work.pop() {
            queued[s as usize] = false;
            let Some(st) = self.state(s) else { continue };
            if st.cyclic || st.exp.is_none() {
                continue;
            }
            let limit = topo
                .mtas()
                .get(st.mta)
                .map_or(0, |m| m.hopcount_limit())
                .min(MAX_HOPS);
            let mine = hops[s as usize];
            for (t, _) in &st.succ {
                let mut changed = false;
                for h in 1..limit {
                    if has(&mine, h) {
                        if let Some(th) = hops.get_mut(*t as usize) {
                            changed |= set(th, h + 1);
                        }
                    }
                }
                if changed && !queued[*t as usize] {
                    queued[*t as usize] = true;
                    work.push(*t);
                }
            }
        }
        hops
    }
}

pub(crate) fn too_many_hops(by: &str, _hops: u32) -> Disposition {
    Disposition::Rejected {
        by: by.to_string(),
        reply: "554 5.4.0 Error: too many hops".into(),
    }
}

pub(crate) fn size_limit() -> Disposition {
    Disposition::Deferred {
        by: "simulator".into(),
        dsn: "4.3.0".into(),
        text: "simulation size limit reached".into(),
    }
}

/// Explores messages through one topology, sharing what MTAs decide (quiet decisions, without
/// steps) between explorations and remembering DSN fates.
pub(crate) struct Explorer<'t> {
    pub topo: &'t Topology,
    exp: Expander<'t>,
    /// Expansions by (MTA, arrival, recipient as written).
    cache: FxMap<(usize, u8, Box<str>), Rc<Expansion>>,
    /// Leaves and next hops held by `cache` (it is emptied past a bound).
    cached: usize,
    fates: FxMap<(usize, Box<str>), DsnFate>,
    /// Arrival code (see `expansion`) per (previous MTA, MTA), computed on first use.
    arrivals: FxMap<(usize, usize), u8>,
}

/// Nodes of cached expansions per explorer (the cache is emptied when it would hold more).
const CACHE_BOUND: usize = 50_000;

fn size(n: &Node) -> usize {
    1 + n.children.iter().map(size).sum::<usize>()
}

/// The nodes an expansion holds of its own (a shared part counts once: it is shared).
fn exp_size(e: &Expansion) -> usize {
    size(&e.node) + e.shared.len()
}

impl<'t> Explorer<'t> {
    pub fn new(topo: &'t Topology) -> Explorer<'t> {
        Explorer {
            topo,
            exp: Expander::new(topo, false),
            cache: FxMap::default(),
            cached: 0,
            fates: FxMap::default(),
            arrivals: FxMap::default(),
        }
    }

    fn expansion(&mut self, at: usize, prev: usize, rcpt: &str) -> Rc<Expansion> {
        let exp = &self.exp;
        let code = *self.arrivals.entry((prev, at)).or_insert_with(|| {
            let a = exp.arrival(prev, at);
            u8::from(a.smtp) << 1 | u8::from(a.trusted)
        });
        // exact case: what an expansion shows must not depend on which exploration came first
        let key = (at, code, rcpt.into());
        if let Some(e) = self.cache.get(&key) {
            return e.clone();
        }
        let e = Rc::new(self.exp.expand(at, prev, rcpt));
        let n = exp_size(&e);
        if self.cached + n > CACHE_BOUND {
            self.cache.clear();
            self.cached = 0;
        }
        self.cached += n;
        self.cache.insert(key, e.clone());
        e
    }

    /// Explore the message for `rcpt` from `start`.
    pub fn explore(&mut self, start: &Start<'_>, rcpt: &str) -> Graph {
        let mut g = Graph::default();
        let mut queue: VecDeque<u32> = VecDeque::new();
        let add = |g: &mut Graph,
                   queue: &mut VecDeque<u32>,
                   mta: usize,
                   prev: usize,
                   rcpt: &str,
                   lc: &str,
                   d: u32,
                   parent: u32|
         -> Option<u32> {
            let key = (mta, prev, g.rcpt_id(lc));
            if let Some(s) = g.index.get(&key) {
                return Some(*s);
            }
            if g.states.len() >= MAX_STATES {
                g.cut = true;
                return None;
            }
            let s = g.states.len() as u32;
            g.states.push(GState {
                mta,
                prev,
                rcpt: rcpt.to_string(),
                d,
                parent,
                exp: None,
                succ: Vec::new(),
                cyclic: false,
                scc: 0,
            });
            g.index.insert(key, s);
            queue.push_back(s);
            Some(s)
        };
        match start {
            Start::Outside {
                name,
                nexthop,
                lookups,
            } => {
                let r = Rc::new(self.exp.root(name, rcpt, nexthop, *lookups));
                for n in &r.next {
                    add(
                        &mut g,
                        &mut queue,
                        n.to,
                        super::expand::OUTSIDE,
                        &n.rcpt,
                        &n.key,
                        1,
                        NONE,
                    );
                }
                g.root = Some(r);
            }
            Start::At { mta, prev } => {
                let lc = rcpt.to_ascii_lowercase();
                add(&mut g, &mut queue, *mta, *prev, rcpt, &lc, 1, NONE);
            }
        }
        while let Some(s) = queue.pop_front() {
            let Some(st) = g.states.get(s as usize) else {
                continue;
            };
            let (mta, prev, d) = (st.mta, st.prev, st.d);
            let limit = self
                .topo
                .mtas()
                .get(mta)
                .map_or(0, |m| m.hopcount_limit())
                .min(MAX_HOPS);
            if d >= limit {
                continue;
            }
            let rcpt = st.rcpt.clone();
            let e = self.expansion(mta, prev, &rcpt);
            let mut succ: Vec<(u32, Rc<str>)> = Vec::new();
            for n in e.all_next() {
                let via = n.reached_as.clone();
                if let Some(t) = add(&mut g, &mut queue, n.to, mta, &n.rcpt, &n.key, d + 1, s) {
                    if !succ.iter().any(|(x, v)| *x == t && *v == via) {
                        succ.push((t, via));
                    }
                }
            }
            if let Some(st) = g.states.get_mut(s as usize) {
                st.exp = Some(e);
                st.succ = succ;
            }
        }
        g.components();
        g
    }

    /// What becomes of a DSN that MTA `writer` sends to `sender` (remembered).
    pub fn dsn_fate(&mut self, writer: usize, sender: &str) -> DsnFate {
        let key = (writer, sender.into());
        if let Some(f) = self.fates.get(&key) {
            return f.clone();
        }
        let g = self.explore(
            &Start::At {
                mta: writer,
                prev: PICKUP,
            },
            sender,
        );
        let fate = fate_of(self.topo, &g, writer);
        self.fates.insert(key, fate.clone());
        fate
    }
}

fn mta_name(topo: &Topology, i: usize) -> String {
    topo.mtas()
        .get(i)
        .map(|m| m.name.clone())
        .unwrap_or_default()
}

/// The fate of a DSN from its graph: the first failure (a double bounce where it was given up)
/// or deferral, else where it was delivered or left the topology.
pub(crate) fn fate_of(topo: &Topology, g: &Graph, writer: usize) -> DsnFate {
    let facts = g.facts(topo);
    let holder = |f: &Fact| -> usize {
        match f.writer {
            Writer::Mta(m) => m,
            _ => g.state(f.at).map_or(writer, |s| s.mta),
        }
    };
    if let Some(f) = facts.iter().find(|f| f.disposition.is_failure()) {
        return DsnFate::DoubleBounce {
            at: mta_name(topo, holder(f)),
            reason: f.disposition.to_string(),
        };
    }
    if let Some(f) = facts
        .iter()
        .find(|f| matches!(f.disposition, Disposition::Deferred { .. }))
    {
        return DsnFate::Deferred {
            at: mta_name(topo, holder(f)),
            reason: f.disposition.to_string(),
        };
    }
    for f in &facts {
        match &f.disposition {
            Disposition::Delivered { host, mailbox } => {
                return DsnFate::Delivered {
                    host: host.clone(),
                    mailbox: mailbox.clone(),
                }
            }
            Disposition::LeftTopology { next_hop } => {
                return DsnFate::Left {
                    next_hop: next_hop.clone(),
                }
            }
            _ => {}
        }
    }
    DsnFate::DoubleBounce {
        at: mta_name(topo, writer),
        reason: "no route".into(),
    }
}
