//! Finishing a plan whose apply stopped with an unknown outcome: re-read the target, find
//! how far the plan got, and hand back the rest.
//!
//! # How far did the plan get?
//!
//! [`LdapSink::apply`] sends operations in order and stops at the first one that does not go
//! through, so the target holds the state after the first `k` operations, for an unknown `k`
//! (before `k` nothing else should have changed the entries the plan touches). For every
//! candidate `k` the plan predicts part of that state, entry by entry, and the candidates the
//! target agrees with are found in one pass over the plan:
//!
//! - what the operations before `k` did to an entry: an `add` leaves it with exactly the
//!   added values (of the attributes it names), a `delete` leaves no entry, a `modify` leaves
//!   `add:` values present, `delete:` values (or the whole attribute) absent and `replace:`
//!   values exactly, a `modrdn` moves the entry (and what is known of its subtree) with its
//!   RDN values, an `increment:` leaves the value unknown;
//! - what the next operation on each entry needs in order to succeed, which the state at `k`
//!   must therefore still satisfy: an `add` needs no entry, the others need one, `add:`
//!   values must be absent, `delete:` values present, a `modrdn` target free.
//!
//! Because every operation either creates, removes, adds or removes a value, a prediction
//! before an operation and after it differ, so the target agrees with exactly one candidate
//! unless a stretch of the plan only *replaces* values the target already has (or
//! increments). Then the largest candidate is taken: what it skips is already on the target,
//! so skipping it changes nothing, except for an `increment:`, whose effect cannot be seen;
//! a plan where that matters is refused ([`LdapError::Resume`]) rather than guessed. Values
//! are compared byte for byte (as the plan gives them and the server returns them).
//!
//! If the target agrees with no candidate (it was changed in between), nothing is resumed.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;

use ldap3::Scope;

use super::error::{LdapError, ServerError};
use super::report::ApplyReport;
use super::sink::{LdapSink, Operation, Plan};
use crate::attrs;
use crate::dn::{AttrValue, Dn, Rdn};
use crate::ldif::{ChangeOp, ModOp};

/// What re-reading the target found: the operations already applied and the plan of the
/// rest (original numbering kept), to hand to [`LdapSink::apply`].
///
/// ```no_run
/// use zimbra_prov::ldap::{ConnectOptions, LdapSink, Plan};
/// # fn plan() -> Plan { Plan::default() }
/// let target = ConnectOptions::new("ldap://zimbra-ldap:389").bind("cn=admin", "secret");
/// let report = LdapSink::connect(&target)?.apply(plan(), |_| {});
/// if report.unknown.is_some() {
///     // the connection broke after an operation was sent: reconnect, see how far it got
///     let mut sink = LdapSink::connect(&target)?;
///     let resume = sink.resume_after(report)?;
///     print!("{resume}");
///     print!("{}", sink.apply(resume.remaining, |_| {}));
/// }
/// # Ok::<(), zimbra_prov::ldap::LdapError>(())
/// ```
#[derive(Debug)]
pub struct Resume {
    /// Operations the target already holds, skipped: a prefix of the plan, in order.
    pub done: Vec<Operation>,
    /// The operations still to apply, in order.
    pub remaining: Plan,
}

impl fmt::Display for Resume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "resume: {} of {} operations already on the target (skipped), {} to apply",
            self.done.len(),
            self.done.len() + self.remaining.len(),
            self.remaining.len()
        )?;
        for op in &self.done {
            writeln!(f, "  on target    {op}")?;
        }
        Ok(())
    }
}

/// What is known of one attribute's values.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fact {
    /// Exactly these values (none: the attribute is absent).
    Exact(BTreeSet<Vec<u8>>),
    /// At least `has`, none of `lacks`.
    Partial {
        has: BTreeSet<Vec<u8>>,
        lacks: BTreeSet<Vec<u8>>,
    },
    /// Present, values unknown.
    Present,
    /// Nothing (after an increment).
    Unknown,
}

impl Fact {
    fn holds(&self, values: Option<&BTreeSet<Vec<u8>>>) -> bool {
        let empty = BTreeSet::new();
        let values = values.unwrap_or(&empty);
        match self {
            Fact::Exact(s) => s == values,
            Fact::Partial { has, lacks } => has.is_subset(values) && lacks.is_disjoint(values),
            Fact::Present => !values.is_empty(),
            Fact::Unknown => true,
        }
    }

    /// The fact after `add:` of `vals`.
    fn add(self, vals: &BTreeSet<Vec<u8>>) -> Fact {
        match self {
            Fact::Exact(s) => Fact::Exact(s.union(vals).cloned().collect()),
            Fact::Partial { has, lacks } => Fact::Partial {
                has: has.union(vals).cloned().collect(),
                lacks: lacks.difference(vals).cloned().collect(),
            },
            Fact::Present | Fact::Unknown => Fact::Partial {
                has: vals.clone(),
                lacks: BTreeSet::new(),
            },
        }
    }

    /// The fact after `delete:` of `vals` (not empty).
    fn remove(self, vals: &BTreeSet<Vec<u8>>) -> Fact {
        match self {
            Fact::Exact(s) => Fact::Exact(s.difference(vals).cloned().collect()),
            Fact::Partial { has, lacks } => Fact::Partial {
                has: has.difference(vals).cloned().collect(),
                lacks: lacks.union(vals).cloned().collect(),
            },
            Fact::Present | Fact::Unknown => Fact::Partial {
                has: BTreeSet::new(),
                lacks: vals.clone(),
            },
        }
    }
}

/// What is known of one entry (at one DN): whether it exists and facts about attributes,
/// keyed by attribute description.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Known {
    exists: Option<bool>,
    attrs: Vec<(String, Fact)>,
}

impl Known {
    fn absent() -> Known {
        Known {
            exists: Some(false),
            attrs: Vec::new(),
        }
    }

    fn fact_mut(&mut self, desc: &str) -> &mut Fact {
        let i = match self.attrs.iter().position(|(d, _)| same_attr(d, desc)) {
            Some(i) => i,
            None => {
                self.attrs.push((desc.to_string(), Fact::Unknown));
                self.attrs.len() - 1
            }
        };
        &mut self.attrs[i].1
    }

    fn update(&mut self, desc: &str, f: impl FnOnce(Fact) -> Fact) {
        let slot = self.fact_mut(desc);
        *slot = f(std::mem::replace(slot, Fact::Unknown));
    }

    /// True when the target's entry (`None`: no entry) agrees.
    fn holds(&self, target: Option<&TargetEntry>) -> bool {
        match target {
            None => self.exists != Some(true) && self.attrs.iter().all(|(_, f)| f.holds(None)),
            Some(t) => {
                self.exists != Some(false) && self.attrs.iter().all(|(d, f)| f.holds(t.values(d)))
            }
        }
    }
}

/// An entry as read from the target: its attributes' value sets.
#[derive(Debug, Default)]
struct TargetEntry(Vec<(String, BTreeSet<Vec<u8>>)>);

impl TargetEntry {
    fn values(&self, desc: &str) -> Option<&BTreeSet<Vec<u8>>> {
        self.0
            .iter()
            .find(|(d, _)| same_attr(d, desc))
            .map(|(_, v)| v)
    }
}

/// Same attribute description: same type (any of its names or its OID) and the same
/// options as a set.
fn same_attr(a: &str, b: &str) -> bool {
    let mut ia = a.split(';');
    let mut ib = b.split(';');
    let types =
        attrs::same_attribute_type(ia.next().unwrap_or_default(), ib.next().unwrap_or_default());
    let opts = |it: std::str::Split<'_, char>| {
        let mut v: Vec<String> = it.map(str::to_ascii_lowercase).collect();
        v.sort();
        v
    };
    types && opts(ia) == opts(ib)
}

fn set(values: &[Vec<u8>]) -> BTreeSet<Vec<u8>> {
    values.iter().cloned().collect()
}

/// The text values of an RDN, by attribute type.
fn rdn_values(rdn: &Rdn) -> Vec<(String, Vec<u8>)> {
    rdn.avas()
        .iter()
        .filter_map(|a| match a.value() {
            AttrValue::Text(t) => Some((a.attr_type().to_string(), t.as_bytes().to_vec())),
            AttrValue::Ber(_) => None,
        })
        .collect()
}

/// The DN a modrdn moves its entry to.
fn target_of(dn: &Dn, op: &ChangeOp) -> Option<Dn> {
    match op {
        ChangeOp::ModDn {
            new_rdn,
            new_superior,
            ..
        } => {
            let parent = new_superior.clone().or_else(|| dn.parent())?;
            Some(parent.child(new_rdn.clone()))
        }
        _ => None,
    }
}

/// What operation `op` needs of the entry at `at` before it runs.
fn precondition(op: &Operation, at: &Dn) -> Known {
    let c = &op.change;
    let mut k = Known::default();
    if &c.dn != at {
        // `at` is a modrdn's target: it must be free
        k.exists = Some(false);
        return k;
    }
    match &c.op {
        ChangeOp::Add(_) => k.exists = Some(false),
        ChangeOp::Delete | ChangeOp::ModDn { .. } => k.exists = Some(true),
        ChangeOp::Modify(mods) => {
            k.exists = Some(true);
            let mut touched: Vec<&str> = Vec::new();
            for m in mods {
                // later mods of an attribute act on what the earlier ones left
                if touched.iter().any(|t| same_attr(t, &m.attribute)) {
                    continue;
                }
                touched.push(&m.attribute);
                let vals = set(&m.values);
                match (m.op, vals.is_empty()) {
                    (ModOp::Add, _) => k.update(&m.attribute, |f| f.remove(&vals)),
                    (ModOp::Delete, false) => k.update(&m.attribute, |f| f.add(&vals)),
                    (ModOp::Delete, true) | (ModOp::Increment, _) => {
                        k.update(&m.attribute, |_| Fact::Present)
                    }
                    (ModOp::Replace, _) => {}
                }
            }
        }
    }
    k
}

/// The predictions of one pass over the plan.
struct Scan<'a> {
    ops: &'a [Operation],
    /// What the operations so far did, per DN.
    state: HashMap<Dn, Known>,
    /// Per DN, the operations naming it (as their DN or as a modrdn's target), in order.
    queue: HashMap<Dn, Vec<usize>>,
}

impl<'a> Scan<'a> {
    fn new(ops: &'a [Operation]) -> Scan<'a> {
        let mut queue: HashMap<Dn, Vec<usize>> = HashMap::new();
        for (i, op) in ops.iter().enumerate() {
            let c = &op.change;
            queue.entry(c.dn.clone()).or_default().push(i);
            if let Some(t) = target_of(&c.dn, &c.op).filter(|t| t != &c.dn) {
                queue.entry(t).or_default().push(i);
            }
        }
        Scan {
            ops,
            state: HashMap::new(),
            queue,
        }
    }

    /// The DNs a prediction is ever made about.
    fn dns(&self) -> impl Iterator<Item = &Dn> {
        self.queue.keys()
    }

    /// The prediction for `dn` when the first `k` operations are applied.
    fn prediction(&self, dn: &Dn, k: usize) -> (Known, Option<Known>) {
        let state = self.state.get(dn).cloned().unwrap_or_default();
        let next = self
            .queue
            .get(dn)
            .and_then(|q| q.iter().find(|&&i| i >= k))
            .and_then(|&i| self.ops.get(i))
            .map(|op| precondition(op, dn));
        (state, next)
    }

    /// Applies operation `k` to the predictions; returns the DNs whose prediction changed.
    fn step(&mut self, k: usize) -> Vec<Dn> {
        let Some(op) = self.ops.get(k) else {
            return Vec::new();
        };
        let c = &op.change;
        let mut changed = vec![c.dn.clone()];
        match &c.op {
            ChangeOp::Add(list) => {
                let mut k = Known {
                    exists: Some(true),
                    attrs: Vec::new(),
                };
                for a in list {
                    k.update(&a.description, |f| match f {
                        Fact::Exact(mut s) => {
                            s.insert(a.value.clone());
                            Fact::Exact(s)
                        }
                        _ => Fact::Exact([a.value.clone()].into()),
                    });
                }
                self.state.insert(c.dn.clone(), k);
            }
            ChangeOp::Delete => {
                self.state.insert(c.dn.clone(), Known::absent());
            }
            ChangeOp::Modify(mods) => {
                let k = self.state.entry(c.dn.clone()).or_default();
                k.exists = Some(true);
                for m in mods {
                    let vals = set(&m.values);
                    match (m.op, vals.is_empty()) {
                        (ModOp::Add, _) => k.update(&m.attribute, |f| f.add(&vals)),
                        (ModOp::Delete, false) => k.update(&m.attribute, |f| f.remove(&vals)),
                        (ModOp::Delete | ModOp::Replace, _) => {
                            k.update(&m.attribute, |_| Fact::Exact(vals))
                        }
                        (ModOp::Increment, _) => k.update(&m.attribute, |_| Fact::Unknown),
                    }
                }
            }
            ChangeOp::ModDn {
                new_rdn,
                delete_old_rdn,
                ..
            } => {
                let Some(target) = target_of(&c.dn, &c.op).filter(|t| t != &c.dn) else {
                    return changed;
                };
                let mut moved = self.state.remove(&c.dn).unwrap_or_default();
                moved.exists = Some(true);
                let new_values = rdn_values(new_rdn);
                if *delete_old_rdn {
                    for (ty, v) in c.dn.rdn().map(rdn_values).unwrap_or_default() {
                        if !new_values
                            .iter()
                            .any(|(t, nv)| same_attr(t, &ty) && nv == &v)
                        {
                            moved.update(&ty, |f| f.remove(&[v].into()));
                        }
                    }
                }
                for (ty, v) in new_values {
                    moved.update(&ty, |f| f.add(&[v].into()));
                }
                // the subtree moves along: what is known below the old DN is now below the new
                let below: Vec<Dn> = self
                    .state
                    .keys()
                    .filter(|d| d.is_under(&c.dn) && *d != &c.dn)
                    .cloned()
                    .collect();
                for d in below {
                    if let (Some(k), Some(nd)) = (self.state.remove(&d), d.rebase(&c.dn, &target)) {
                        self.state.insert(d.clone(), Known::absent());
                        self.state.insert(nd.clone(), k);
                        changed.push(d);
                        changed.push(nd);
                    }
                }
                self.state.insert(c.dn.clone(), Known::absent());
                self.state.insert(target.clone(), moved);
                changed.push(target);
            }
        }
        changed
    }
}

/// Which numbers of applied operations (`0..=n`) the target agrees with.
fn agreeing(ops: &[Operation], target: &HashMap<Dn, Option<TargetEntry>>) -> Vec<bool> {
    let mut scan = Scan::new(ops);
    let holds = |scan: &Scan<'_>, dn: &Dn, k: usize| {
        let t = target.get(dn).and_then(Option::as_ref);
        let (state, next) = scan.prediction(dn, k);
        state.holds(t) && next.is_none_or(|n| n.holds(t))
    };
    let dns: Vec<Dn> = scan.dns().cloned().collect();
    let mut bad: HashSet<Dn> = dns
        .iter()
        .filter(|d| !holds(&scan, d, 0))
        .cloned()
        .collect();
    let mut out = Vec::with_capacity(ops.len() + 1);
    out.push(bad.is_empty());
    for k in 0..ops.len() {
        for d in scan.step(k) {
            if holds(&scan, &d, k + 1) {
                bad.remove(&d);
            } else {
                bad.insert(d);
            }
        }
        out.push(bad.is_empty());
    }
    out
}

/// The DNs whose entries the scan needs: every DN an operation names (or moves an entry
/// to), and where modrdns move what is known.
fn dns_to_read(ops: &[Operation]) -> Vec<Dn> {
    let mut scan = Scan::new(ops);
    let mut all: HashSet<Dn> = scan.dns().cloned().collect();
    for k in 0..ops.len() {
        all.extend(scan.step(k));
    }
    let mut v: Vec<Dn> = all.into_iter().collect();
    v.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    v
}

/// Decides how many operations of `ops` the target holds, among `lo..=hi`.
fn decide(
    ops: &[Operation],
    target: &HashMap<Dn, Option<TargetEntry>>,
    lo: usize,
    hi: usize,
) -> Result<usize, LdapError> {
    let agree = agreeing(ops, target);
    let candidates: Vec<usize> = (lo..=hi.min(ops.len()))
        .filter(|&k| agree.get(k).copied().unwrap_or(false))
        .collect();
    let (Some(&first), Some(&last)) = (candidates.first(), candidates.last()) else {
        return Err(LdapError::Resume {
            index: None,
            reason: format!(
                "the target matches no point between operations #{} and #{} of the plan \
                 (changed by something else since, or the server refused the operation whose \
                 answer was lost?); nothing applied",
                lo + 1,
                hi.min(ops.len()) + 1
            ),
        });
    };
    if let Some(op) = ops.get(first..last).unwrap_or_default().iter().find(|op| {
        matches!(&op.change.op, ChangeOp::Modify(m) if m.iter().any(|m| m.op == ModOp::Increment))
    }) {
        return Err(LdapError::Resume {
            index: Some(op.index),
            reason: format!(
                "cannot tell from the target whether {op} was applied (an increment leaves \
                 nothing to recognise); check it by hand, nothing applied"
            ),
        });
    }
    Ok(last)
}

impl LdapSink {
    /// Re-reads the target and finds how much of `plan` it already holds (see the module
    /// docs), for a plan whose earlier apply stopped with an unknown outcome and whose
    /// report is lost (the tools' `--resume`). Returns the operations found applied and the
    /// plan of the rest; sends nothing.
    pub fn resume(&mut self, plan: Plan) -> Result<Resume, LdapError> {
        let n = plan.len();
        self.resume_between(plan, 0, n)
    }

    /// [`LdapSink::resume`] for the report of the apply that stopped: its applied prefix is
    /// known, so only the operation with the unknown outcome is decided (a failed or
    /// complete report resumes where it stopped).
    pub fn resume_after(&mut self, report: ApplyReport) -> Result<Resume, LdapError> {
        let lo = report.applied.len();
        let unknown_outcome = report.unknown.is_some();
        let ApplyReport {
            applied,
            failed,
            unknown,
            not_applied,
        } = report;
        let ops: Vec<Operation> = applied
            .into_iter()
            .chain(failed.map(|f| f.operation))
            .chain(unknown.map(|f| f.operation))
            .chain(not_applied)
            .collect();
        if !unknown_outcome {
            let mut done = ops;
            let rest = done.split_off(lo.min(done.len()));
            return Ok(Resume {
                done,
                remaining: Plan::from_operations(rest),
            });
        }
        self.resume_between(Plan::from_operations(ops), lo, lo + 1)
    }

    fn resume_between(&mut self, plan: Plan, lo: usize, hi: usize) -> Result<Resume, LdapError> {
        let mut ops = plan.into_operations();
        let mut target = HashMap::new();
        for dn in dns_to_read(ops.get(lo..).unwrap_or_default()) {
            let entry = self.read_entry(&dn)?;
            target.insert(dn, entry);
        }
        // Operations before `lo` are known applied: the scan starts after them.
        let tail = ops.split_off(lo.min(ops.len()));
        let k = lo + decide(&tail, &target, 0, hi.saturating_sub(lo))?;
        let mut remaining = tail;
        let rest = remaining.split_off(k - lo);
        ops.extend(remaining);
        Ok(Resume {
            done: ops,
            remaining: Plan::from_operations(rest),
        })
    }

    /// The entry at `dn` with its user attributes, or `None` when there is none.
    fn read_entry(&mut self, dn: &Dn) -> Result<Option<TargetEntry>, LdapError> {
        let (conn, timeout) = self.conn_mut();
        conn.with_timeout(timeout);
        let res = conn
            .search(dn.as_str(), Scope::Base, "(objectClass=*)", vec!["*"])
            .map_err(|source| LdapError::Transport {
                operation: "search",
                dn: dn.to_string(),
                source: Box::new(source),
            })?;
        let (entries, result) = (res.0, res.1);
        match result.rc {
            0 => {}
            32 => return Ok(None),
            code => {
                return Err(LdapError::Server(ServerError {
                    operation: "search",
                    dn: dn.to_string(),
                    code,
                    message: result.text,
                    matched: result.matched,
                }))
            }
        }
        let Some(raw) = entries.into_iter().next() else {
            return Ok(None);
        };
        let entry = super::source::decode_entry(raw.0).map_err(|e| LdapError::Malformed {
            operation: "search",
            dn: dn.to_string(),
            reason: e.to_string(),
        })?;
        let mut t = TargetEntry::default();
        for a in entry.attrs {
            match t.0.iter_mut().find(|(d, _)| same_attr(d, &a.description)) {
                Some((_, vals)) => {
                    vals.insert(a.value);
                }
                None => t.0.push((a.description, [a.value].into())),
            }
        }
        Ok(Some(t))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{account, dn, modify};
    use super::*;
    use crate::ldif::{Change, ChangeOp};

    fn operations(changes: Vec<Change>) -> Vec<Operation> {
        Plan::new(changes)
            .unwrap_or_else(|e| panic!("{e}"))
            .into_operations()
    }

    /// The target after the first `k` changes, from `start` (DN -> attributes), applied by a
    /// tiny model of the server.
    fn target_after(
        start: &[(&str, &[(&str, &str)])],
        changes: &[Change],
        k: usize,
    ) -> HashMap<Dn, Option<TargetEntry>> {
        let mut t: HashMap<Dn, Option<TargetEntry>> = HashMap::new();
        for (d, attrs) in start {
            let mut e = TargetEntry::default();
            for (n, v) in *attrs {
                add_value(&mut e, n, v.as_bytes());
            }
            t.insert(dn(d), Some(e));
        }
        for c in changes.iter().take(k) {
            match &c.op {
                ChangeOp::Add(list) => {
                    let mut e = TargetEntry::default();
                    for a in list {
                        add_value(&mut e, &a.description, &a.value);
                    }
                    t.insert(c.dn.clone(), Some(e));
                }
                ChangeOp::Delete => {
                    t.insert(c.dn.clone(), None);
                }
                ChangeOp::Modify(mods) => {
                    let Some(Some(e)) = t.get_mut(&c.dn) else {
                        panic!("modify of a missing entry")
                    };
                    for m in mods {
                        let vals = set(&m.values);
                        let cur = match e.0.iter().position(|(d, _)| same_attr(d, &m.attribute)) {
                            Some(i) => i,
                            None => {
                                e.0.push((m.attribute.clone(), BTreeSet::new()));
                                e.0.len() - 1
                            }
                        };
                        let slot = &mut e.0[cur].1;
                        match (m.op, vals.is_empty()) {
                            (ModOp::Add, _) => slot.extend(vals),
                            (ModOp::Delete, false) => slot.retain(|v| !vals.contains(v)),
                            (ModOp::Delete | ModOp::Replace, _) => *slot = vals,
                            (ModOp::Increment, _) => {
                                let n: i64 = slot
                                    .iter()
                                    .next()
                                    .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok())
                                    .unwrap_or(0);
                                *slot = [(n + 1).to_string().into_bytes()].into();
                            }
                        }
                    }
                    e.0.retain(|(_, v)| !v.is_empty());
                }
                ChangeOp::ModDn {
                    new_rdn,
                    delete_old_rdn,
                    ..
                } => {
                    let to = target_of(&c.dn, &c.op).expect("target");
                    let mut e = t.insert(c.dn.clone(), None).flatten().expect("moved entry");
                    if *delete_old_rdn {
                        for (ty, v) in rdn_values(c.dn.rdn().expect("rdn")) {
                            if let Some((_, s)) = e.0.iter_mut().find(|(d, _)| same_attr(d, &ty)) {
                                s.remove(&v);
                            }
                        }
                    }
                    for (ty, v) in rdn_values(new_rdn) {
                        add_value(&mut e, &ty, &v);
                    }
                    t.insert(to, Some(e));
                }
            }
        }
        t
    }

    fn add_value(e: &mut TargetEntry, d: &str, v: &[u8]) {
        match e.0.iter_mut().find(|(x, _)| same_attr(x, d)) {
            Some((_, s)) => {
                s.insert(v.to_vec());
            }
            None => e.0.push((d.to_string(), [v.to_vec()].into())),
        }
    }

    const A: &str = "uid=a,ou=people,dc=example,dc=com";
    const B: &str = "uid=b,ou=people,dc=example,dc=com";

    fn start() -> Vec<(&'static str, &'static [(&'static str, &'static str)])> {
        vec![(
            B,
            &[
                ("objectClass", "inetOrgPerson"),
                ("uid", "b"),
                ("cn", "B"),
                ("sn", "B"),
                ("description", "old"),
                ("mail", "b@example.com"),
            ],
        )]
    }

    /// Every kind of operation; all but the replace leave the target distinguishable from
    /// the state before them.
    fn plan() -> Vec<Change> {
        vec![
            account("a"),
            modify(A, ModOp::Add, "mail", &["a@example.com"]),
            modify(B, ModOp::Delete, "mail", &["b@example.com"]),
            modify(B, ModOp::Replace, "description", &["new"]),
            Change::new(
                dn(B),
                ChangeOp::ModDn {
                    new_rdn: Rdn::parse("uid=b2").expect("rdn"),
                    delete_old_rdn: true,
                    new_superior: None,
                },
            ),
            modify(
                "uid=b2,ou=people,dc=example,dc=com",
                ModOp::Delete,
                "description",
                &[],
            ),
            Change::new(dn(A), ChangeOp::Delete),
        ]
    }

    #[test]
    fn every_prefix_is_recognised_exactly() {
        let changes = plan();
        let ops = operations(changes.clone());
        for k in 0..=ops.len() {
            let t = target_after(&start(), &changes, k);
            let agree = agreeing(&ops, &t);
            let which: Vec<usize> = (0..agree.len()).filter(|&i| agree[i]).collect();
            // exactly k, except that a replace whose values are there could be either side
            let replace_before = k > 0
                && matches!(&changes[k - 1].op,
                    ChangeOp::Modify(m) if m.iter().all(|m| m.op == ModOp::Replace));
            let want = if replace_before {
                vec![k - 1, k]
            } else {
                vec![k]
            };
            assert_eq!(which, want, "after {k} operations");
            assert_eq!(decide(&ops, &t, 0, ops.len()).ok(), Some(k));
        }
    }

    #[test]
    fn replaces_already_there_are_skipped_and_increments_refused() {
        // the replace's value is already on the target: applied or not, it is skipped
        let changes = vec![
            modify(B, ModOp::Replace, "description", &["old"]),
            modify(B, ModOp::Add, "mail", &["b2@example.com"]),
        ];
        let ops = operations(changes.clone());
        let t = target_after(&start(), &changes, 0);
        assert_eq!(agreeing(&ops, &t), vec![true, true, false]);
        assert_eq!(decide(&ops, &t, 0, 2).ok(), Some(1));

        let changes = vec![modify(B, ModOp::Increment, "uidNumber", &["1"])];
        let mut s = start();
        s[0].1 = &[("objectClass", "inetOrgPerson"), ("uidNumber", "7")];
        let ops = operations(changes.clone());
        let t = target_after(&s, &changes, 1);
        let err = decide(&ops, &t, 0, 1).expect_err("undecidable");
        assert!(
            matches!(err, LdapError::Resume { index: Some(0), .. }),
            "{err}"
        );
        // with the report's knowledge that it was applied, there is nothing to decide
        assert_eq!(decide(&ops, &t, 1, 1).ok(), Some(1));
    }

    #[test]
    fn a_target_changed_in_between_is_refused() {
        let changes = plan();
        let ops = operations(changes.clone());
        let mut t = target_after(&start(), &changes, 3);
        // someone else deleted b
        t.insert(dn(B), None);
        let err = decide(&ops, &t, 3, 4).expect_err("no candidate");
        assert!(
            matches!(err, LdapError::Resume { index: None, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("matches no point"), "{err}");
    }
}
