//! Differential verification (Batfish's differential reachability) and staged migration plans.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{
    classify, outcomes, report, run_classes, AddressClass, ClassRuns, EntryPoint, Finding,
    FindingKind, Outcome, Report,
};
use crate::route::Topology;
use crate::scenario::Scenario;

/// One address class whose disposition or path changes from one state to the next, from one
/// entry point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The class (classes are computed jointly over both states).
    pub class: AddressClass,
    /// The entry point.
    pub entry: EntryPoint,
    /// The leaves before.
    pub before: Vec<Outcome>,
    /// The leaves after.
    pub after: Vec<Outcome>,
}

impl Change {
    /// `changed ADDRESS [N addresses] from ENTRY: BEFORE => AFTER`.
    pub fn line(&self) -> String {
        let side = |v: &[Outcome]| {
            if v.is_empty() {
                "nothing".to_string()
            } else {
                v.iter()
                    .map(Outcome::describe)
                    .collect::<Vec<_>>()
                    .join(" | ")
            }
        };
        let members = if self.class.members > 1 {
            format!(" [{} addresses]", self.class.members)
        } else {
            String::new()
        };
        format!(
            "changed {}{members} from {}: {} => {}",
            self.class.representative,
            self.entry,
            side(&self.before),
            side(&self.after)
        )
    }
}

/// The result of [`diff`].
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    /// Every changed (class, entry point), by class.
    pub changes: Vec<Change>,
    /// Number of joint classes compared.
    pub classes: usize,
    /// Number of addresses.
    pub addresses: u64,
}

impl Diff {
    /// Number of distinct classes that change.
    pub fn changed_classes(&self) -> usize {
        self.changes
            .iter()
            .map(|c| c.class.id)
            .collect::<BTreeSet<_>>()
            .len()
    }

    /// One line per change, then `N of M classes (K addresses) change`.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for c in &self.changes {
            s.push_str(&c.line());
            s.push('\n');
        }
        let addrs: u64 = {
            let mut seen = BTreeSet::new();
            self.changes
                .iter()
                .filter(|c| seen.insert(c.class.id))
                .map(|c| c.class.members)
                .sum()
        };
        s.push_str(&format!(
            "{} of {} classes ({} of {} addresses) change\n",
            self.changed_classes(),
            self.classes,
            addrs,
            self.addresses
        ));
        s
    }
}

fn compare(
    classes: &[AddressClass],
    before: (&Topology, &[ClassRuns]),
    after: (&Topology, &[ClassRuns]),
) -> Vec<Change> {
    let mut out = Vec::new();
    for (i, c) in classes.iter().enumerate() {
        let (Some(b), Some(a)) = (before.1.get(i), after.1.get(i)) else {
            continue;
        };
        let mut entries: Vec<&EntryPoint> = b.runs.iter().map(|(e, _, _)| e).collect();
        for (e, _, _) in &a.runs {
            if !entries.contains(&e) {
                entries.push(e);
            }
        }
        for e in entries {
            let get = |runs: &ClassRuns, topo: &Topology| -> Vec<Outcome> {
                match runs.runs.iter().find(|(x, _, _)| x == e) {
                    Some((_, o, _)) => o.clone(),
                    // an entry the other state does not have: simulate it here too
                    None => outcomes(topo, &e.simulate(topo, &c.representative)).0,
                }
            };
            let (ob, oa) = (get(b, before.0), get(a, after.0));
            if !Outcome::same(&ob, &oa) {
                out.push(Change {
                    class: c.clone(),
                    entry: e.clone(),
                    before: ob,
                    after: oa,
                });
            }
        }
    }
    out
}

/// Every address class whose disposition or path changes between `before` and `after`, from
/// any entry point: who is affected by a change, before making it. Classes are computed over
/// both topologies jointly, so each class routes alike in both.
///
/// ```
/// use zimbra_prov::model::Directory;
/// use zimbra_prov::route::{Mta, Topology};
/// let build = |script: &str| {
///     let mut dir = Directory::new();
///     zimbra_prov::zmprov::run(&mut dir, script).unwrap();
///     let mut t = Topology::new();
///     t.add(Mta::zimbra("mx", "mx.example.org", &dir, |_| {})).unwrap();
///     t.dns.mx.insert("example.org".into(), vec![(10, "mx.example.org".into())]);
///     t
/// };
/// let before = build("cs mx.example.org\ncd example.org\nca a@example.org pw\nca b@example.org pw");
/// let after = build("cs mx.example.org\ncd example.org\nca a@example.org pw\n\
///     ca b@example.org pw zimbraAccountStatus maintenance");
/// let d = zimbra_prov::verify::diff(&before, &after);
/// assert_eq!(d.changed_classes(), 1);
/// assert!(d.changes.iter().all(|c| c.class.representative == "b@example.org"));
/// ```
pub fn diff(before: &Topology, after: &Topology) -> Diff {
    let c = classify(&[before, after]);
    let rb = run_classes(before, c.classes());
    let ra = run_classes(after, c.classes());
    Diff {
        changes: compare(c.classes(), (before, &rb), (after, &ra)),
        classes: c.classes().len(),
        addresses: c.address_count(),
    }
}

/// One state of a plan: its findings, the new ones, and what changed since the previous state.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// `initial` or the step's name.
    pub name: String,
    /// The full report of this state.
    pub report: Report,
    /// Findings not present in the previous state (all of them for the initial state).
    pub new_findings: Vec<Finding>,
    /// The classes whose disposition or path changed since the previous state.
    pub changes: Vec<Change>,
}

/// The result of [`plan`].
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    /// One per state: the initial state, then one per step.
    pub steps: Vec<StepReport>,
    /// The first state (index into `steps`) that introduces a `loop` or `lost` finding.
    pub first_breaking: Option<usize>,
}

impl PlanReport {
    /// Whether any state has a `loop` or `lost` finding.
    pub fn has_loop_or_lost(&self) -> bool {
        self.steps.iter().any(|s| s.report.has_loop_or_lost())
    }

    /// Per state: a header, the new findings (one line each, starting with the kind), the
    /// changed classes; then the call-out of the first breaking step.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for (i, st) in self.steps.iter().enumerate() {
            let r = &st.report;
            s.push_str(&format!(
                "== {i}: {} ({} findings, {} new; {} changes; {} loop, {} lost)\n",
                st.name,
                r.findings.len(),
                st.new_findings.len(),
                st.changes.len(),
                r.count(FindingKind::Loop),
                r.count(FindingKind::LostMail)
            ));
            for f in &st.new_findings {
                s.push_str(&f.line());
                s.push('\n');
            }
            for c in &st.changes {
                s.push_str(&c.line());
                s.push('\n');
            }
        }
        match self
            .first_breaking
            .and_then(|i| self.steps.get(i).map(|s| (i, s)))
        {
            Some((i, st)) => s.push_str(&format!("first loop or lost mail: {i}: {}\n", st.name)),
            None => s.push_str("no step introduces a loop or lost mail\n"),
        }
        s
    }
}

/// Verify a staged migration: the state before the first step, then after every step. Classes
/// are computed jointly over all states, so findings and changes compare class by class.
pub fn plan(stages: &[(&str, &Topology)]) -> PlanReport {
    let topos: Vec<&Topology> = stages.iter().map(|(_, t)| *t).collect();
    let c = classify(&topos);
    let mut steps: Vec<StepReport> = Vec::new();
    let mut prev: Option<(&Topology, Vec<ClassRuns>)> = None;
    let mut first_breaking = None;
    for (i, (name, topo)) in stages.iter().enumerate() {
        let runs = run_classes(topo, c.classes());
        let rep = report(c.classes(), i, c.address_count(), &runs);
        let (new_findings, changes) = match &prev {
            None => (rep.findings.clone(), Vec::new()),
            Some((pt, pruns)) => {
                let before = steps.last().map(|s| &s.report.findings);
                let old: BTreeSet<(FindingKind, usize)> = before
                    .into_iter()
                    .flatten()
                    .map(|f| (f.kind(), f.class))
                    .collect();
                let new = rep
                    .findings
                    .iter()
                    .filter(|f| !old.contains(&(f.kind(), f.class)))
                    .cloned()
                    .collect();
                (new, compare(c.classes(), (pt, pruns), (topo, &runs)))
            }
        };
        if first_breaking.is_none()
            && new_findings
                .iter()
                .any(|f: &Finding| matches!(f.kind(), FindingKind::Loop | FindingKind::LostMail))
        {
            first_breaking = Some(i);
        }
        steps.push(StepReport {
            name: name.to_string(),
            report: rep,
            new_findings,
            changes,
        });
        prev = Some((topo, runs));
    }
    PlanReport {
        steps,
        first_breaking,
    }
}

/// [`plan`] over a scenario's states (the initial one, then one per `[[step]]`).
pub fn plan_scenario(sc: &Scenario) -> PlanReport {
    let stages: Vec<(&str, &Topology)> = sc
        .stages
        .iter()
        .map(|s| (s.name.as_str(), &s.topology))
        .collect();
    plan(&stages)
}
