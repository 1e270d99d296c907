//! Ordering and proof: apply the steps one at a time to the modelled state, verify every
//! intermediate state, reorder where the asked order breaks (or refuse when it is fixed), and
//! check each step's rollback.

use std::collections::BTreeSet;

use super::steps::{apply, apply_resolved, same_world, Applied};
use super::strategies::StepDef;
use super::world::World;
use crate::model::AccountStatus;
use crate::route::{simulate, Disposition, Entry, Topology};
use crate::verify::{check, FindingKind, Issue, Report};

/// Mail to this address leaves every topology (nobody serves `.invalid`): the outbound probe.
pub(crate) const OUTBOUND_PROBE: &str = "postmaster@outside-world.invalid";

/// One reason a state is unsafe, with the trace that shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The verifier's finding line (`loop ADDRESS ...`), or `outbound ...`, or `cannot run ...`.
    pub line: String,
    /// The counterexample: the trace of the representative from the first entry point.
    pub trace: String,
}

/// What the verifier kinds mean for a runbook state.
///
/// Every kind the verifier counts as failing fails a state (today `loop` and `lost`; any kind
/// added later fails too unless listed here). `deferred` fails unless the deferred recipient
/// is an account of a batch in its maintenance window (mail waits in the queue on purpose).
/// `split-brain`, `hairpin` and `backscatter` are reported as warnings.
pub(crate) fn failing_kind(k: FindingKind) -> bool {
    !matches!(
        k,
        FindingKind::SplitBrain
            | FindingKind::DeferredForever
            | FindingKind::Hairpin
            | FindingKind::Backscatter
    )
}

/// What a state is judged against.
#[derive(Debug, Clone, Default)]
pub(crate) struct Judge {
    /// Failing findings the initial state already has and the spec accepts: (label, address).
    pub accepted: BTreeSet<(String, String)>,
    /// MTAs whose users' outbound mail leaves the topology initially.
    pub outbound: Vec<String>,
    /// Addresses of the batches (source and target names).
    pub batch_users: BTreeSet<String>,
    /// Every user of the source: each must reach a mailbox from every entry at every step.
    pub users: Vec<String>,
    /// (entry, user) pairs the spec accepts as unreachable (they already are).
    pub unreachable: BTreeSet<(String, String)>,
}

/// Whether `addr` entering at `e` ends in a mailbox (or waits in a queue for its account in
/// maintenance): `Err(trace)` otherwise.
fn reaches_mailbox(world: &World, topo: &Topology, e: &Entry, addr: &str) -> Result<(), String> {
    let t = simulate(topo, e, addr).map_err(|e| e.to_string())?;
    let leaves = t.leaves();
    let ok = !leaves.is_empty()
        && leaves.iter().all(|l| match l.disposition {
            Disposition::Delivered { .. } => true,
            Disposition::Deferred { .. } => {
                in_maintenance(world, l.recipient) || in_maintenance(world, addr)
            }
            _ => false,
        });
    if ok {
        Ok(())
    } else {
        Err(t.to_text())
    }
}

fn entries(topo: &Topology) -> Vec<Entry> {
    std::iter::once(Entry::Internet)
        .chain(topo.mtas().iter().map(|m| Entry::Mta(m.name.clone())))
        .collect()
}

fn in_maintenance(world: &World, addr: &str) -> bool {
    world.dirs.values().any(|d| {
        d.account(addr)
            .is_some_and(|a| matches!(a.status(), Ok(Some(AccountStatus::Maintenance))))
    })
}

fn outbound_leaves(topo: &Topology, mta: &str) -> Result<(), String> {
    let t =
        simulate(topo, &Entry::Mta(mta.to_string()), OUTBOUND_PROBE).map_err(|e| e.to_string())?;
    let leaves = t.leaves();
    if !leaves.is_empty()
        && leaves
            .iter()
            .all(|l| matches!(l.disposition, Disposition::LeftTopology { .. }))
    {
        Ok(())
    } else {
        Err(t.to_text())
    }
}

impl Judge {
    /// The judge of the initial state: what leaves, what already fails.
    pub fn initial(
        world: &World,
        topo: &Topology,
        report: &Report,
        users: &[String],
        accept: bool,
    ) -> (Judge, Vec<Problem>) {
        let mut j = Judge::default();
        for m in &world.mtas {
            if outbound_leaves(topo, &m.name).is_ok() {
                j.outbound.push(m.name.clone());
            }
        }
        j.users = users.to_vec();
        let problems = j.problems(world, topo, report);
        if accept {
            for u in users {
                for e in entries(topo) {
                    if reaches_mailbox(world, topo, &e, u).is_err() {
                        j.unreachable.insert((e.to_string(), u.clone()));
                    }
                }
            }
            for f in &report.findings {
                j.accepted
                    .insert((f.kind().label().to_string(), f.address.clone()));
            }
            return (j, Vec::new());
        }
        (j, problems)
    }

    /// The problems of a state (empty: it verifies).
    pub fn problems(&self, world: &World, topo: &Topology, report: &Report) -> Vec<Problem> {
        let mut out = Vec::new();
        for f in &report.findings {
            let k = f.kind();
            if self
                .accepted
                .contains(&(k.label().to_string(), f.address.clone()))
            {
                continue;
            }
            let bad = if k == FindingKind::DeferredForever {
                let rcpt = match &f.issue {
                    Issue::DeferredForever { outcome } => outcome.recipient.to_ascii_lowercase(),
                    _ => f.address.clone(),
                };
                !(in_maintenance(world, &rcpt)
                    && (self.batch_users.contains(&rcpt) || self.batch_users.contains(&f.address)))
            } else {
                failing_kind(k)
            };
            if bad {
                out.push(Problem {
                    line: f.line(),
                    trace: f
                        .trace(topo)
                        .map_or_else(|e| e.to_string(), |t| t.to_text()),
                });
            }
        }
        let es = entries(topo);
        for u in &self.users {
            for e in &es {
                if self.unreachable.contains(&(e.to_string(), u.clone())) {
                    continue;
                }
                if let Err(trace) = reaches_mailbox(world, topo, e, u) {
                    out.push(Problem {
                        line: format!("unreachable {u} from {e}: mail for a user of the migration does not reach a mailbox"),
                        trace,
                    });
                    break;
                }
            }
        }
        for m in &self.outbound {
            if topo.mta(m).is_none() {
                continue;
            }
            if let Err(trace) = outbound_leaves(topo, m) {
                out.push(Problem {
                    line: format!(
                        "outbound {OUTBOUND_PROBE} from {m}: mail from {m}'s users to the Internet no longer leaves"
                    ),
                    trace,
                });
            }
        }
        out
    }

    /// Whether a deferred finding is one of the expected maintenance deferrals.
    pub fn expected_deferral(&self, world: &World, f: &crate::verify::Finding) -> bool {
        if f.kind() != FindingKind::DeferredForever {
            return false;
        }
        let rcpt = match &f.issue {
            Issue::DeferredForever { outcome } => outcome.recipient.to_ascii_lowercase(),
            _ => f.address.clone(),
        };
        in_maintenance(world, &rcpt)
            && (self.batch_users.contains(&rcpt) || self.batch_users.contains(&f.address))
    }
}

/// A step the planner could not run where it was asked to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The step (`batch-1.retire-source`).
    pub step: String,
    /// Why: the problems of the state after it (or why it cannot run there).
    pub problems: Vec<Problem>,
}

impl Failure {
    /// Whether the step could not run for a step it depends on (`cannot run before ...`:
    /// what the mailbox data needs), not for a state that fails verification.
    ///
    /// ```
    /// use zimbra_prov::runbook::{Failure, Problem};
    /// let f = Failure {
    ///     step: "batch-1.copy".into(),
    ///     problems: vec![Problem { line: "cannot run before batch-1.create: ...".into(), trace: String::new() }],
    /// };
    /// assert!(f.is_dependency());
    /// ```
    pub fn is_dependency(&self) -> bool {
        self.problems
            .first()
            .is_some_and(|p| p.trace.is_empty() && p.line.starts_with(DEPENDENCY))
    }

    /// The problems as text: one line each, then the first counterexample trace.
    ///
    /// ```
    /// use zimbra_prov::runbook::{Failure, Problem};
    /// let f = Failure {
    ///     step: "mx-switch".into(),
    ///     problems: vec![Problem { line: "lost a@example.org ...".into(), trace: "a@example.org from internet".into() }],
    /// };
    /// assert_eq!(f.to_text(), "lost a@example.org ...\ncounterexample:\n  a@example.org from internet\n");
    /// ```
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for p in &self.problems {
            s.push_str(&p.line);
            s.push('\n');
        }
        if let Some(p) = self.problems.iter().find(|p| !p.trace.is_empty()) {
            s.push_str("counterexample:\n");
            for l in p.trace.lines() {
                s.push_str("  ");
                s.push_str(l);
                s.push('\n');
            }
        }
        s
    }
}

/// A step run earlier than asked because the asked order breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reorder {
    /// The step that was next in the asked order, and why it could not run there.
    pub wanted: Failure,
    /// The step run instead.
    pub instead: String,
}

/// One step placed and applied.
#[derive(Debug, Clone)]
pub(crate) struct Placed {
    pub def: StepDef,
    pub applied: Vec<Applied>,
    pub rollback: Vec<Applied>,
    pub world: World,
    pub rollback_check: Result<(), String>,
}

/// The result of ordering.
pub(crate) struct Ordered {
    pub placed: Vec<Placed>,
    pub reorders: Vec<Reorder>,
}

/// Why ordering failed.
pub(crate) enum OrderError {
    /// The asked order is fixed and breaks at this step.
    Fixed(Failure),
    /// No remaining step can run safely.
    Stuck(Failure),
    /// Too many attempts.
    Budget(usize),
}

fn try_step(
    world: &World,
    def: &StepDef,
    judge: &Judge,
) -> Result<(World, Vec<Applied>, Vec<Applied>), Failure> {
    let mut w = world.clone();
    let mut fwd = Vec::new();
    let mut back: Vec<Applied> = Vec::new();
    for a in &def.actions {
        match apply(&mut w, a) {
            Ok((f, b)) => {
                fwd.push(f);
                // undo in reverse order of application
                for x in b.into_iter().rev() {
                    back.insert(0, x);
                }
            }
            Err(e) => {
                return Err(Failure {
                    step: def.id.clone(),
                    problems: vec![Problem {
                        line: format!("cannot run here: {e}"),
                        trace: String::new(),
                    }],
                })
            }
        }
    }
    if !fwd.iter().any(Applied::changes_routing) {
        // the state is the one already verified
        return Ok((w, fwd, back));
    }
    let topo = w.topology();
    let report = check(&topo);
    let problems = judge.problems(&w, &topo, &report);
    if problems.is_empty() {
        Ok((w, fwd, back))
    } else {
        Err(Failure {
            step: def.id.clone(),
            problems,
        })
    }
}

fn rollback_check(before: &World, after: &World, rollback: &[Applied]) -> Result<(), String> {
    let mut w = after.clone();
    for a in rollback {
        apply_resolved(&mut w, a)?;
    }
    same_world(before, &w)
}

/// How a [`Problem`] line of a step waiting for another one starts.
const DEPENDENCY: &str = "cannot run before ";

/// A step that must run before another one, whatever the asked order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dep {
    /// The index of the step that must come first.
    pub on: usize,
    /// Why, when the asked order can put them the other way round (empty: it cannot).
    pub why: &'static str,
}

/// Place `steps` (in the asked order `prefer`, an index list) with hard dependencies `deps`
/// (`deps[i]`: steps that must come before step `i`). A step the asked order puts before one
/// it depends on is moved (noted as a [`Reorder`]) or, with `fixed`, refused.
pub(crate) fn order(
    initial: &World,
    steps: &[StepDef],
    prefer: &[usize],
    deps: &[Vec<Dep>],
    fixed: bool,
    judge: &Judge,
) -> Result<Ordered, OrderError> {
    let mut world = initial.clone();
    let mut done = vec![false; steps.len()];
    let mut pending: Vec<usize> = prefer.to_vec();
    let mut placed = Vec::new();
    let mut reorders = Vec::new();
    let mut attempts = 0usize;
    let budget = 8 * steps.len() + 64;
    while !pending.is_empty() {
        let unmet = |i: usize| {
            deps.get(i)
                .and_then(|d| d.iter().find(|x| done.get(x.on) != Some(&true)))
        };
        let ready: Vec<usize> = pending
            .iter()
            .copied()
            .filter(|i| unmet(*i).is_none())
            .collect();
        // the asked next step waits for one it depends on
        let blocked = pending.first().and_then(|&h| {
            unmet(h).map(|d| Failure {
                step: steps[h].id.clone(),
                problems: vec![Problem {
                    line: format!("{DEPENDENCY}{}: {}", steps[d.on].id, d.why),
                    trace: String::new(),
                }],
            })
        });
        if let (true, Some(f)) = (fixed, &blocked) {
            return Err(OrderError::Fixed(f.clone()));
        }
        let Some(&first) = ready.first() else {
            // a dependency cycle cannot happen (dependencies point backwards); be safe
            return Err(OrderError::Budget(attempts));
        };
        let mut wanted: Option<Failure> = None;
        let mut chosen = None;
        for (k, &i) in ready.iter().enumerate() {
            if k > 0 && fixed {
                break;
            }
            attempts += 1;
            if attempts > budget {
                return Err(OrderError::Budget(attempts));
            }
            match try_step(&world, &steps[i], judge) {
                Ok(r) => {
                    chosen = Some((i, r));
                    break;
                }
                Err(f) => {
                    if k == 0 {
                        wanted = Some(f);
                    }
                }
            }
        }
        let Some((i, (w, fwd, back))) = chosen else {
            let f = wanted.or(blocked).unwrap_or_else(|| Failure {
                step: steps[first].id.clone(),
                problems: Vec::new(),
            });
            return Err(if fixed {
                OrderError::Fixed(f)
            } else {
                OrderError::Stuck(f)
            });
        };
        if let Some(f) = blocked.or(wanted) {
            reorders.push(Reorder {
                wanted: f,
                instead: steps[i].id.clone(),
            });
        }
        let rb = rollback_check(&world, &w, &back);
        placed.push(Placed {
            def: steps[i].clone(),
            applied: fwd,
            rollback: back,
            world: w.clone(),
            rollback_check: rb,
        });
        world = w;
        done[i] = true;
        pending.retain(|x| *x != i);
    }
    Ok(Ordered { placed, reorders })
}

/// Whether `addr` reaches mailbox `mailbox` at `host` from the Internet and nowhere else
/// (copies discarded on purpose by `zimbraPrefMailLocalDeliveryDisabled` excepted).
pub(crate) fn delivered_at(
    topo: &Topology,
    addr: &str,
    mailbox: &str,
    host: &str,
) -> Result<(), String> {
    let t = simulate(topo, &Entry::Internet, addr).map_err(|e| e.to_string())?;
    let leaves = t.leaves();
    let mut hit = false;
    let mut ok = !leaves.is_empty();
    for l in &leaves {
        match l.disposition {
            Disposition::Delivered {
                host: h,
                mailbox: m,
            } if m == "(discarded)" => {
                let _ = h;
            }
            Disposition::Delivered {
                host: h,
                mailbox: m,
            } if h.eq_ignore_ascii_case(host) && m.eq_ignore_ascii_case(mailbox) => hit = true,
            _ => ok = false,
        }
    }
    if ok && hit {
        Ok(())
    } else {
        Err(t.to_text())
    }
}
