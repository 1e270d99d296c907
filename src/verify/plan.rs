//! Differential verification (Batfish's differential reachability) and staged migration plans.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::run::{self, ClassRuns, Runner};
use super::{
    classify_with, AddressClass, CheckOptions, EntryPoint, Finding, FindingKind, Outcome, Report,
};
use crate::route::Topology;
use crate::scenario::Scenario;

/// One address class whose disposition or path changes from one state to the next, from one
/// entry point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
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

/// The changes of class `c` between two states (an entry point only one state has is explored in
/// the other too).
fn compare(
    c: &AddressClass,
    before: (&mut Runner<'_>, &ClassRuns),
    after: (&mut Runner<'_>, &ClassRuns),
) -> Vec<Change> {
    let (rb, b) = before;
    let (ra, a) = after;
    let mut out = Vec::new();
    let mut entries: Vec<&EntryPoint> = b.runs.iter().map(|r| &r.entry).collect();
    for r in &a.runs {
        if !entries.contains(&&r.entry) {
            entries.push(&r.entry);
        }
    }
    for e in entries {
        let get = |runner: &mut Runner<'_>, runs: &ClassRuns| -> Vec<Outcome> {
            match runs.runs.iter().find(|r| r.entry == *e) {
                Some(r) => r.outcomes.clone(),
                None => runner.run(e, &c.representative, true).outcomes,
            }
        };
        let (ob, oa) = (get(rb, b), get(ra, a));
        if !Outcome::same(&ob, &oa) {
            out.push(Change {
                class: c.clone(),
                entry: e.clone(),
                before: ob,
                after: oa,
            });
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
    diff_with(before, after, &CheckOptions::default())
}

/// [`diff`] with options (threads).
pub fn diff_with(before: &Topology, after: &Topology, opts: &CheckOptions) -> Diff {
    let c = classify_with(&[before, after], opts);
    let per_class = run::parallel(&[before, after], c.classes(), opts.threads, |rs, cl| {
        let [rb, ra] = rs else {
            return Vec::new();
        };
        let b = rb.class(cl, true);
        let a = ra.class(cl, true);
        compare(cl, (rb, &b), (ra, &a))
    });
    Diff {
        changes: per_class.into_iter().flatten().collect(),
        classes: c.classes().len(),
        addresses: c.address_count(),
    }
}

/// One state of a plan: its findings, the new ones, and what changed since the previous state.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanReport {
    /// One per state: the initial state, then one per step.
    pub steps: Vec<StepReport>,
    /// The first state (index into `steps`) that introduces a failing finding (`loop`, `lost`
    /// or `silent`).
    pub first_breaking: Option<usize>,
}

impl PlanReport {
    /// Whether any state has a `loop` or `lost` finding.
    pub fn has_loop_or_lost(&self) -> bool {
        self.steps.iter().any(|s| s.report.has_loop_or_lost())
    }

    /// Whether any state has a failing finding (`loop`, `lost` or `silent`): what `route plan`
    /// exits 1 for.
    pub fn has_failing(&self) -> bool {
        self.steps.iter().any(|s| s.report.has_failing())
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
    plan_with(stages, &CheckOptions::default())
}

/// What one class does in every state of a plan: per state its findings, entry points and
/// the changes from the previous state.
struct ClassPlan {
    findings: Vec<Vec<Finding>>,
    entries: Vec<Vec<EntryPoint>>,
    changes: Vec<Vec<Change>>,
}

/// [`plan`] with options (threads).
pub fn plan_with(stages: &[(&str, &Topology)], opts: &CheckOptions) -> PlanReport {
    let topos: Vec<&Topology> = stages.iter().map(|(_, t)| *t).collect();
    let c = classify_with(&topos, opts);
    let per_class = run::parallel(&topos, c.classes(), opts.threads, |rs, cl| {
        let mut p = ClassPlan {
            findings: Vec::new(),
            entries: Vec::new(),
            changes: Vec::new(),
        };
        let mut prev: Option<ClassRuns> = None;
        for i in 0..rs.len() {
            let runs = match rs.get_mut(i) {
                Some(r) => r.class(cl, true),
                None => ClassRuns::default(),
            };
            let here = cl.in_topology(i);
            p.findings.push(run::class_findings(&here, &runs));
            p.entries
                .push(runs.runs.iter().map(|r| r.entry.clone()).collect());
            let changes = match (&prev, i.checked_sub(1)) {
                (Some(pr), Some(j)) => {
                    let (left, right) = rs.split_at_mut(i);
                    match (left.get_mut(j), right.first_mut()) {
                        (Some(rb), Some(ra)) => compare(cl, (rb, pr), (ra, &runs)),
                        _ => Vec::new(),
                    }
                }
                _ => Vec::new(),
            };
            p.changes.push(changes);
            prev = Some(runs);
        }
        p
    });
    let mut steps: Vec<StepReport> = Vec::new();
    let mut first_breaking = None;
    for (i, (name, _)) in stages.iter().enumerate() {
        let mut findings = Vec::new();
        let mut entry_points = BTreeSet::new();
        let mut simulations = 0;
        let mut changes = Vec::new();
        for p in &per_class {
            if let Some(f) = p.findings.get(i) {
                findings.extend(f.iter().cloned());
            }
            if let Some(e) = p.entries.get(i) {
                simulations += e.len();
                entry_points.extend(e.iter().cloned());
            }
            if i > 0 {
                if let Some(ch) = p.changes.get(i) {
                    changes.extend(ch.iter().cloned());
                }
            }
        }
        let classes: Vec<AddressClass> = c.classes().iter().map(|x| x.in_topology(i)).collect();
        let rep = Report::new(
            classes,
            c.address_count(),
            findings,
            entry_points,
            simulations,
        );
        let new_findings: Vec<Finding> = match steps.last() {
            None => rep.findings.clone(),
            Some(prev) => {
                let old: BTreeSet<(FindingKind, usize)> = prev
                    .report
                    .findings
                    .iter()
                    .map(|f| (f.kind(), f.class))
                    .collect();
                rep.findings
                    .iter()
                    .filter(|f| !old.contains(&(f.kind(), f.class)))
                    .cloned()
                    .collect()
            }
        };
        if first_breaking.is_none() && new_findings.iter().any(|f| f.kind().is_failing()) {
            first_breaking = Some(i);
        }
        steps.push(StepReport {
            name: name.to_string(),
            report: rep,
            new_findings,
            changes,
        });
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
