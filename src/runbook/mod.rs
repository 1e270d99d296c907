//! Migration runbooks: from a migration spec to an ordered list of steps — the commands per
//! system, the rollback of each step, the verification of the state after it — where every
//! intermediate state is proven loop-free and lossless by [`crate::verify`].
//!
//! [`plan`] reads a [`Spec`], builds the strategy's steps, applies them one at a time to the
//! modelled topology (zmprov lines through [`crate::zmprov::run`], foreign-MTA table changes
//! and DNS records to the topology, so what is verified is exactly what the runbook tells the
//! admin to run), verifies every state with [`crate::verify::check`], reorders steps where the
//! asked order breaks (or refuses, with the counterexample and an order that works, when the
//! spec says the order is fixed), checks that each step's rollback restores the state before
//! it, and checks that every moved user ends up delivered at the target. [`Runbook::write_to`]
//! writes a Markdown runbook, a scenario TOML with one `[[step]]` per step (which `route plan`
//! re-checks) and one shell script per system and step.
//!
//! ```
//! use zimbra_prov::runbook::{plan, Spec};
//! let spec = Spec::parse(r#"
//! name = "Exchange to Zimbra"
//! strategy = "split-primary-zimbra"
//! domains = ["example.org"]
//! source = { mta = "exchange" }
//! target = { mta = "zimbra" }
//! [[directory]]
//! name = "zcs"
//! zmprov = "cs mx.example.org"
//! [[mta]]
//! name = "zimbra"
//! kind = "zimbra"
//! hostname = "mx.example.org"
//! directory = "zcs"
//! [[mta]]
//! name = "exchange"
//! kind = "foreign"
//! hostname = "exchange.example.org"
//! domains = ["example.org"]
//! mailboxes = ["alice@example.org", "bob@example.org"]
//! [dns]
//! mx = { "example.org" = ["10 exchange.example.org"] }
//! [[batch]]
//! users = ["alice@example.org"]
//! [[batch]]
//! users = "all-remaining"
//! "#, "spec.toml")?;
//! let runbook = plan(&spec)?;
//! let ids: Vec<&str> = runbook.steps.iter().map(|s| s.id.as_str()).collect();
//! assert_eq!(ids, ["prepare-target", "configure-source", "mx-switch",
//!     "batch-1.switch", "batch-1.retire-source", "batch-1.copy",
//!     "batch-2.switch", "batch-2.retire-source", "batch-2.copy", "unset"]);
//! assert!(runbook.steps.iter().all(|s| s.verification.ok));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The spec
//!
//! ```toml
//! name = "Split-Domain Example 1"        # optional
//! strategy = "split-primary-zimbra"      # see Strategies
//! domains = ["yyy.state.xx.us"]          # the mail domain(s) migrated
//!
//! # The current topology: a scenario file (its tables before any step; expectations and steps
//! # are ignored) ...
//! topology = "current.toml"
//! # ... or the same tables inline: [[directory]] (zmprov or ldif), [[mta]], [dns], with the
//! # keys of the `scenario` module.
//!
//! source = { mta = "exchange" }          # the old system: an MTA of the topology
//! # source keys: host (IMAP host for imapsync, or the old mailbox server for
//! #   same-ldap-new-mailstore), admin (imapsync --authuser1), passfile (--passfile1)
//! target = { mta = "primary" }           # the Zimbra MTA users move to
//! # target keys: host (the mailbox server, default the MTA's host name; it must be a server
//! #   of the target's directory), admin (imapsync --authuser2), passfile (--passfile2)
//!
//! [data]                                 # optional
//! method = "imapsync"                    # imapsync | zmbackup | rest | zmmailboxmove | none
//! backup_dir = "/opt/zimbra/backup/migration"
//!
//! catch_all = "catchall@yyy.state.xx.us" # optional (split-primary-zimbra): the seed's
//!                                        # catch-all account on the primary
//!
//! [[batch]]                              # ordered; each is one maintenance window
//! name = "pilot"                         # optional
//! users = ["usera@yyy.state.xx.us"]      # a list ...
//! [[batch]]
//! file = "wave2.txt"                     # ... a file, one address per line (# comments) ...
//! [[batch]]
//! users = "all-remaining"                # ... or every user of the source not listed
//!
//! [order]                                # optional: the order you want
//! steps = ["prepare-target", "configure-source", "mx-switch", "batches", "unset"]
//! batch = ["maintenance", "switch", "retire-source", "copy", "activate"]
//! fixed = false                          # true: refuse instead of reordering
//! # Whatever the order, within a batch: copy after create and maintenance; switch and
//! # retire-source after maintenance; activate after maintenance and copy; (zmmailboxmove)
//! # switch after copy: what the mailbox data and the maintenance window need. An order
//! # against them is reordered (or refused).
//!
//! accept_initial_findings = false        # tolerate failures the current topology already has
//! unset = true                           # end with the seed's "Unsetting" (default: when
//!                                        # every user moves)
//! ```
//!
//! Strategy tables: `[subdomain] name = "migrate.company.com"` (and `canonical = true` for the
//! seed's catch-all canonical address), `[mta_head] mta = "head"` (`hostname = "..."` adds a
//! new head MTA; `source_alias`, `target_alias` name the back ends' alias domains, default
//! `client.DOMAIN` and `hosting.DOMAIN`), `[move] rename = "...", map_hosts = { OLD = "NEW" },
//! regenerate_ids = false, load = "slapadd" | "ldapadd"`.
//!
//! Errors name the file, the line and the key, as the scenario loader's do: spec keys, topology
//! tables (in the spec or the scenario file), batch files (their own line numbers), zmprov
//! scripts (the failing line).
//!
//! # Strategies
//!
//! | strategy | seed section | needs | pick it when |
//! |---|---|---|---|
//! | `split-primary-zimbra` | Split-Domain Example 1 | a Zimbra target; any source (foreign or Zimbra) | Zimbra becomes the authoritative system now; users move over weeks |
//! | `split-primary-other` | Split-Domain Example 2 | a Zimbra target; a source that routes per user (foreign tables or Zimbra transports) | the old system must stay authoritative (its MX, its policies) until the end |
//! | `subdomain` | Second Possibility | two Zimbras; `[subdomain] name` | a hosting company takes over a customer's Zimbra: users move to `migrate.DOMAIN` first, with few changes to the customer's side |
//! | `mta-head` | Third Possibility | two Zimbras; a foreign head MTA (`[mta_head]`) | both back ends must host the domain at once behind a filter or gateway that routes per user |
//! | `same-ldap-new-mailstore` | Old ZCS To New ZCS - Using LDAP Replica | one directory; the new server installed (its server entry exists) | new hardware for the same installation |
//! | `domain-move` | Old ZCS Email Domains To Another ZCS With Existing Domains | two Zimbras; the domain must not exist in the target | one installation absorbs another's domain; mailboxes follow with zmmailboxmove |
//!
//! What each step does is documented in the runbook it writes (each step says why, quoting the
//! seed). The per-batch steps are `create` (accounts on the target), `maintenance` (no logins,
//! mail queued), `switch` (the routing change that makes the target receive the batch),
//! `retire-source` (the old system stops delivering the batch locally), `copy` (the mailbox
//! data: `imapsync` with admin authorisation, `zmbackup`+`zmrestore`, `zmmailbox` REST export
//! and import, or `zmmailboxmove`) and `activate`. Which exist depends on the strategy and the
//! data method: `imapsync` logs in to the accounts, so it runs without maintenance status.
//!
//! # What is verified
//!
//! Every state: [`crate::verify::check`] — every address class from every entry point. A state
//! fails on every finding kind the verifier counts as failing (`loop`, `lost`, and any kind
//! added later unless it is one of the warnings), on a `deferred` finding whose recipient is not
//! an account of a batch in its maintenance window, and when mail from an MTA's own users to the
//! Internet stopped leaving (`outbound`). `split-brain`, `hairpin` and `backscatter` are warnings.
//! Every rollback: applied to the state after its step, it must give back the state before it.
//! The end: every moved user's address is delivered to its mailbox on the target.
//!
//! # Oracle hook
//!
//! The `subdomain` and `mta-head` plans are checked against the simulator here, and every
//! state of their emitted `scenario.toml` (the golden files) is replayed by the whole-topology
//! Postfix oracle (`tests/multi_diff.rs`: one real Postfix per MTA, probes over SMTP) and
//! compared with the simulator; [`Runbook::topologies`] gives the same states in code.

mod output;
mod proof;
pub(crate) mod render;
mod spec;
mod steps;
mod strategies;
#[cfg(feature = "proptest")]
pub mod strategy;
mod tables;

use std::collections::BTreeSet;

pub use output::{OutputError, MARKER};
pub use proof::{Failure, Problem, Reorder};
pub use spec::{
    Batch, BatchUser, BatchUsers, DataMethod, Endpoint, HeadSpec, LoadMethod, MoveSpec, OrderSpec,
    Spec, SpecError, StrategyKind, SubdomainSpec,
};

use proof::{delivered_at, order, Dep, Judge, OrderError};
use steps::Applied;
use strategies::{Slot, StepDef};
use world::{DirSource, World};

mod world;

use crate::route::{simulate, Entry, Topology};
use crate::verify::{self, FindingKind};

/// Errors planning a runbook. Unsafe states are reported with their counterexample.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RunbookError {
    /// The spec is wrong (file, line, key).
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The current topology already fails verification.
    #[error("the current topology already fails verification (fix it first, or set accept_initial_findings = true):\n{}", problems_text(.problems))]
    InitialState {
        /// What fails.
        problems: Vec<Problem>,
    },
    /// The spec fixes the order, and a step of it breaks.
    #[error("the order is fixed and step {} breaks:\n{}{}", .failure.step, .failure.to_text(), working_text(.working))]
    UnsafeOrder {
        /// The step and why.
        failure: Failure,
        /// An order that works, when the planner finds one.
        working: Option<Vec<String>>,
    },
    /// No remaining step can run safely.
    #[error("no safe order: step {} breaks wherever the planner can put it:\n{}", .failure.step, .failure.to_text())]
    NoSafeOrder {
        /// The step and why.
        failure: Failure,
    },
    /// A moved user is not delivered at the target at the end.
    #[error("{user} is not delivered to its mailbox on the target at the end:\n{trace}")]
    NotDelivered {
        /// The address.
        user: String,
        /// The trace from the Internet.
        trace: String,
    },
    /// The domain move has conflicts (nothing can be loaded).
    #[error("the move of {domain} has conflicts (ids in use: set [move] regenerate_ids = true; a COS or server: map it or add it to the target):\n  {}", .conflicts.join("\n  "))]
    MoveConflicts {
        /// The domain.
        domain: String,
        /// The move plan's conflicts.
        conflicts: Vec<String>,
    },
    /// Planning the domain move failed.
    #[error("domain move: {0}")]
    Move(String),
    /// The planner's own consistency checks failed (a bug: please report it with the spec).
    #[error("internal check failed: {0}")]
    Internal(String),
}

fn problems_text(p: &[Problem]) -> String {
    Failure {
        step: String::new(),
        problems: p.to_vec(),
    }
    .to_text()
}

fn working_text(w: &Option<Vec<String>>) -> String {
    match w {
        Some(o) => format!("an order that works: {}\n", o.join(", ")),
        None => "the planner found no order that works either\n".into(),
    }
}

/// The verification of one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Whether the state verifies (no failing finding).
    pub ok: bool,
    /// The verifier's summary (`checked N addresses in M classes ...` and the counts).
    pub counts: String,
    /// Findings that do not fail the state (split-brain, hairpin, backscatter, expected
    /// deferrals), one line each.
    pub warnings: Vec<String>,
    /// Whose mail changes route since the previous state (`changed ADDRESS from ENTRY: ...`).
    pub changes: Vec<String>,
    /// The number of address classes that change.
    pub changed_classes: usize,
}

/// One step of a runbook.
#[derive(Debug, Clone)]
pub struct RunbookStep {
    /// 1-based position.
    pub number: usize,
    /// `prepare-target`, `batch-2.switch`, ...
    pub id: String,
    /// The step's kind (`switch`, ...).
    pub kind: String,
    /// The batch's name, for batch steps.
    pub batch: Option<String>,
    /// What it does.
    pub title: String,
    /// Why, quoting the seed where it applies.
    pub why: Vec<String>,
    /// Where mail goes after it, for a few addresses (`[ENTRY] ADDRESS -> ...`).
    pub flows: Vec<String>,
    /// The verification of the state after it.
    pub verification: Verification,
    /// Whether applying the rollback to the state after the step gives back the state before.
    pub rollback_check: Result<(), String>,
    pub(crate) actions: Vec<Applied>,
    pub(crate) rollback: Vec<Applied>,
}

impl RunbookStep {
    /// The systems it runs on (MTA names, hosts, `dns`).
    ///
    /// ```
    /// # let spec = zimbra_prov::runbook::Spec::load(std::path::Path::new("tests/data/runbook/example1/spec.toml"))?;
    /// # let runbook = zimbra_prov::runbook::plan(&spec)?;
    /// let step = &runbook.steps[1]; // Example 1's configure-source
    /// assert_eq!(step.systems(), ["primary.yyy.state.xx.us", "exchange"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn systems(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for a in &self.actions {
            let s = a.system();
            if !v.contains(&s) {
                v.push(s);
            }
        }
        v
    }

    /// Whether it changes routing (some steps only copy data or ask for manual follow-ups).
    ///
    /// ```
    /// # let spec = zimbra_prov::runbook::Spec::load(std::path::Path::new("tests/data/runbook/example1/spec.toml"))?;
    /// # let runbook = zimbra_prov::runbook::plan(&spec)?;
    /// let copy = runbook.steps.iter().find(|s| s.kind == "copy").unwrap();
    /// assert!(!copy.changes_routing());
    /// assert!(runbook.steps[0].changes_routing());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn changes_routing(&self) -> bool {
        self.actions.iter().any(Applied::changes_routing)
    }

    /// The zmprov lines it runs on `host`, in order.
    ///
    /// ```
    /// # let spec = zimbra_prov::runbook::Spec::load(std::path::Path::new("tests/data/runbook/example1/spec.toml"))?;
    /// # let runbook = zimbra_prov::runbook::plan(&spec)?;
    /// let switch = runbook.steps.iter().find(|s| s.id == "batch-1.switch").unwrap();
    /// assert_eq!(switch.zmprov_lines("primary.yyy.state.xx.us"),
    ///     ["ma secondary-user@yyy.state.xx.us zimbraMailTransport lmtp:primary.yyy.state.xx.us:7025"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn zmprov_lines(&self, host: &str) -> Vec<String> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Applied::Zmprov { host: h, lines, .. } if h == host => Some(lines.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// The command lines it runs (zmprov prefixed with `zmprov`, shell lines as they are).
    ///
    /// ```
    /// # let spec = zimbra_prov::runbook::Spec::load(std::path::Path::new("tests/data/runbook/example1/spec.toml"))?;
    /// # let runbook = zimbra_prov::runbook::plan(&spec)?;
    /// let copy = runbook.steps.iter().find(|s| s.id == "batch-1.copy").unwrap();
    /// assert!(copy.commands()[0].starts_with("imapsync --buffersize 8192000"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn commands(&self) -> Vec<String> {
        let mut out = Vec::new();
        for a in &self.actions {
            match a {
                Applied::Zmprov { lines, .. } => {
                    out.extend(lines.iter().map(|l| format!("zmprov {l}")))
                }
                Applied::Shell { lines, .. } => out.extend(lines.iter().cloned()),
                _ => {}
            }
        }
        out
    }
}

/// A planned, verified runbook.
#[derive(Debug, Clone)]
pub struct Runbook {
    /// The spec's name.
    pub name: String,
    /// The spec's file.
    pub spec_file: String,
    /// The strategy.
    pub strategy: StrategyKind,
    /// The migrated domains.
    pub domains: Vec<String>,
    /// The source MTA.
    pub source: String,
    /// The target MTA.
    pub target: String,
    /// The mailbox server the users end at.
    pub final_host: String,
    /// How mailbox data moves.
    pub data: DataMethod,
    /// The batches: name and (source address, target address) pairs.
    pub batches: Vec<(String, Vec<(String, String)>)>,
    /// Remarks (what was left out and why, users who stay, ...).
    pub notes: Vec<String>,
    /// Steps run earlier than the spec asked, and why.
    pub reorders: Vec<Reorder>,
    /// The verification of the current state.
    pub initial: Verification,
    /// The steps, in the order to run them.
    pub steps: Vec<RunbookStep>,
    pub(crate) initial_world: World,
    pub(crate) worlds: Vec<World>,
    pub(crate) sources: std::collections::BTreeMap<String, DirSource>,
    pub(crate) extra_files: std::collections::BTreeMap<String, Vec<u8>>,
}

impl Runbook {
    /// Every state as a topology: `initial`, then one per step (named by the step's id).
    ///
    /// ```
    /// # let spec = zimbra_prov::runbook::Spec::load(std::path::Path::new("tests/data/runbook/example1/spec.toml"))?;
    /// # let runbook = zimbra_prov::runbook::plan(&spec)?;
    /// for (name, topo) in runbook.topologies() {
    ///     let report = zimbra_prov::verify::check(&topo);
    ///     assert!(!report.has_loop_or_lost(), "{name}");
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn topologies(&self) -> Vec<(String, Topology)> {
        let mut v = vec![("initial".to_string(), self.initial_world.topology())];
        for (s, w) in self.steps.iter().zip(&self.worlds) {
            v.push((s.id.clone(), w.topology()));
        }
        v
    }

    /// The step ids in order.
    ///
    /// ```
    /// # let spec = zimbra_prov::runbook::Spec::load(std::path::Path::new("tests/data/runbook/example1/spec.toml"))?;
    /// # let runbook = zimbra_prov::runbook::plan(&spec)?;
    /// assert_eq!(runbook.order()[..3], ["prepare-target", "configure-source", "mx-switch"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn order(&self) -> Vec<String> {
        self.steps.iter().map(|s| s.id.clone()).collect()
    }

    /// What the `migrate plan` tool prints: one line per step (`NN STEP-ID: TITLE`), the
    /// reorders with their reasons, and the verification summary.
    ///
    /// ```
    /// # let spec = zimbra_prov::runbook::Spec::load(std::path::Path::new("tests/data/runbook/example1/spec.toml"))?;
    /// # let runbook = zimbra_prov::runbook::plan(&spec)?;
    /// let text = runbook.summary();
    /// assert!(text.starts_with("01 prepare-target: "));
    /// assert!(text.ends_with("verified 11 states: no loop, no lost mail\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let w = self.steps.len().to_string().len().max(2);
        for st in &self.steps {
            s.push_str(&format!("{:0w$} {}: {}\n", st.number, st.id, st.title));
        }
        for r in &self.reorders {
            let first = r
                .wanted
                .problems
                .first()
                .map(|p| p.line.as_str())
                .unwrap_or("");
            if r.wanted.is_dependency() {
                s.push_str(&format!(
                    "reordered: {} before {}: {} {first}\n",
                    r.instead, r.wanted.step, r.wanted.step
                ));
            } else {
                s.push_str(&format!(
                    "reordered: {} before {}: after {} first: {first}\n",
                    r.instead, r.wanted.step, r.wanted.step
                ));
            }
        }
        let ok = self.steps.iter().all(|s| s.verification.ok);
        s.push_str(&format!(
            "verified {} states: {}\n",
            self.steps.len() + 1,
            if ok {
                "no loop, no lost mail"
            } else {
                "FAILURES (see runbook.md)"
            }
        ));
        s
    }
}

/// An asked order (`key`) must name every step the runbook has; names it does not need are
/// noted and ignored.
fn check_order(
    spec: &Spec,
    key: &str,
    want: &[String],
    have: &[&str],
    notes: &mut Vec<String>,
) -> Result<(), RunbookError> {
    for w in want {
        if !have.contains(&w.as_str()) {
            notes.push(format!(
                "{key} names {w}, which this runbook does not need ({} has {}); ignored",
                spec.strategy,
                have.join(", ")
            ));
        }
    }
    let missing: Vec<&str> = have
        .iter()
        .copied()
        .filter(|k| !want.iter().any(|w| w == k))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(spec
            .invalid(
                key,
                format!(
                    "list every step of this runbook: {} missing",
                    missing.join(", ")
                ),
            )
            .into())
    }
}

/// Plan a runbook for `spec` (see the [module documentation](self)).
///
/// ```
/// use zimbra_prov::runbook::{plan, RunbookError, Spec};
/// let text = std::fs::read_to_string("tests/data/runbook/example1/spec.toml")?;
/// // ask for Exchange to forget the mailboxes before the primary delivers them, and insist
/// let fixed = format!("{text}\n[order]\nbatch = [\"retire-source\", \"switch\", \"copy\"]\nfixed = true\n");
/// match plan(&Spec::parse(&fixed, "fixed.toml")?) {
///     Err(RunbookError::UnsafeOrder { failure, working }) => {
///         assert_eq!(failure.step, "batch-1.retire-source");
///         assert!(failure.problems[0].line.starts_with("loop secondary-user@yyy.state.xx.us"));
///         assert!(working.is_some());
///     }
///     _ => panic!("the fixed order loops"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plan(spec: &Spec) -> Result<Runbook, RunbookError> {
    let bp = strategies::blueprint(spec)?;
    // the asked order of the global slots
    let kinds: Vec<&'static str> = bp.slots.iter().map(Slot::kind).collect();
    let mut slots = bp.slots.clone();
    let mut notes = bp.notes.clone();
    if let Some(want) = &spec.order.steps {
        check_order(spec, "order.steps", want, &kinds, &mut notes)?;
        slots.sort_by_key(|s| want.iter().position(|w| w == s.kind()));
    }
    let batch_kinds: BTreeSet<&'static str> = bp
        .batches
        .iter()
        .flat_map(|b| b.steps.iter().map(|s| s.kind))
        .collect();
    if let Some(want) = &spec.order.batch {
        let have: Vec<&str> = batch_kinds.iter().copied().collect();
        check_order(spec, "order.batch", want, &have, &mut notes)?;
    }
    // the flat list, its asked order and the hard dependencies
    let mut steps: Vec<StepDef> = Vec::new();
    let mut deps: Vec<Vec<Dep>> = Vec::new();
    let mut batch_ranges: Vec<Vec<usize>> = Vec::new();
    let mut after_batches: Vec<usize> = Vec::new();
    let mut seen_batches = false;
    for s in &slots {
        match s {
            Slot::Step(d) => {
                steps.push(d.clone());
                deps.push(Vec::new());
                if seen_batches {
                    after_batches.push(steps.len() - 1);
                }
            }
            Slot::Batches => {
                seen_batches = true;
                // batches start after the global steps asked before them
                let mut prev: Vec<usize> = (0..steps.len()).collect();
                for b in &bp.batches {
                    let mut mine: Vec<StepDef> = b.steps.clone();
                    if let Some(want) = &spec.order.batch {
                        mine.sort_by_key(|s| want.iter().position(|w| w == s.kind));
                    }
                    let start = steps.len();
                    let idx: Vec<usize> = (start..start + mine.len()).collect();
                    for d in &mine {
                        let mut dd: Vec<Dep> = prev.iter().map(|&on| Dep { on, why: "" }).collect();
                        let at = |k: &str| mine.iter().position(|x| x.kind == k).map(|p| start + p);
                        for (k, why) in batch_deps(d.kind, bp.data) {
                            dd.extend(at(k).map(|on| Dep { on, why }));
                        }
                        deps.push(dd);
                        steps.push(d.clone());
                    }
                    prev = idx.clone();
                    batch_ranges.push(idx);
                }
            }
        }
    }
    let all_batch: Vec<usize> = batch_ranges.iter().flatten().copied().collect();
    for i in after_batches {
        if let Some(d) = deps.get_mut(i) {
            d.extend(all_batch.iter().map(|&on| Dep { on, why: "" }));
        }
    }
    let prefer: Vec<usize> = (0..steps.len()).collect();

    // the current state
    let topo0 = bp.initial.topology();
    let report0 = verify::check(&topo0);
    let (mut judge, problems) = Judge::initial(
        &bp.initial,
        &topo0,
        &report0,
        &bp.users,
        spec.accept_initial_findings,
    );
    if !problems.is_empty() {
        return Err(RunbookError::InitialState { problems });
    }
    for b in &bp.batches {
        for (s, t) in &b.users {
            judge.batch_users.insert(s.to_ascii_lowercase());
            judge.batch_users.insert(t.to_ascii_lowercase());
        }
    }
    let ordered = match order(
        &bp.initial,
        &steps,
        &prefer,
        &deps,
        spec.order.fixed,
        &judge,
    ) {
        Ok(o) => o,
        Err(OrderError::Fixed(failure)) => {
            let working = order(&bp.initial, &steps, &prefer, &deps, false, &judge)
                .ok()
                .map(|o| o.placed.iter().map(|p| p.def.id.clone()).collect());
            return Err(RunbookError::UnsafeOrder { failure, working });
        }
        Err(OrderError::Stuck(failure)) => return Err(RunbookError::NoSafeOrder { failure }),
        Err(OrderError::Budget(n)) => {
            return Err(RunbookError::NoSafeOrder {
                failure: Failure {
                    step: "(search)".into(),
                    problems: vec![Problem {
                        line: format!("no safe order found within {n} attempts"),
                        trace: String::new(),
                    }],
                },
            })
        }
    };

    // the end: every moved user delivered at the target
    let last = ordered
        .placed
        .last()
        .map(|p| p.world.clone())
        .unwrap_or_else(|| bp.initial.clone());
    let last_topo = last.topology();
    for b in &bp.batches {
        for (s, t) in &b.users {
            for a in [s, t] {
                if let Err(trace) = delivered_at(&last_topo, a, t, &bp.final_host) {
                    return Err(RunbookError::NotDelivered {
                        user: a.clone(),
                        trace,
                    });
                }
            }
        }
    }

    // the full verification of every state (classes computed jointly), diffs included
    let topos: Vec<(String, Topology)> = std::iter::once(("initial".to_string(), topo0.clone()))
        .chain(
            ordered
                .placed
                .iter()
                .map(|p| (p.def.id.clone(), p.world.topology())),
        )
        .collect();
    let stages: Vec<(&str, &Topology)> = topos.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let pr = verify::plan(&stages);
    let mut verifications = Vec::new();
    for (i, sr) in pr.steps.iter().enumerate() {
        let world = if i == 0 {
            &bp.initial
        } else {
            &ordered.placed[i - 1].world
        };
        let topo = &topos[i].1;
        let problems = judge.problems(world, topo, &sr.report);
        if !problems.is_empty() && i > 0 {
            return Err(RunbookError::Internal(format!(
                "state {} verified alone but not in the joint plan:\n{}",
                sr.name,
                problems_text(&problems)
            )));
        }
        let warnings: Vec<String> = sr
            .report
            .findings
            .iter()
            .filter_map(|f| {
                let key = (f.kind().label().to_string(), f.address.clone());
                if judge.accepted.contains(&key) {
                    return Some(format!(
                        "{} (already in the current state; accepted)",
                        f.line()
                    ));
                }
                match f.kind() {
                    FindingKind::DeferredForever => judge.expected_deferral(world, f).then(|| {
                        format!(
                            "{} (expected: the account is in maintenance while its batch moves)",
                            f.line()
                        )
                    }),
                    k if proof::failing_kind(k) => None,
                    FindingKind::SplitBrain => {
                        Some(format!("{} (while the batch moves)", f.line()))
                    }
                    _ => Some(f.line()),
                }
            })
            .collect();
        let changed: BTreeSet<usize> = sr.changes.iter().map(|c| c.class.id).collect();
        verifications.push(Verification {
            ok: problems.is_empty(),
            counts: sr.report.counts(),
            warnings,
            changes: sr.changes.iter().map(|c| c.line()).collect(),
            changed_classes: changed.len(),
        });
    }
    let mut verifications = verifications.into_iter();
    let initial = verifications
        .next()
        .ok_or_else(|| RunbookError::Internal("no initial state".into()))?;

    // expected mail flow per step
    let batch_name = |id: &str| -> Option<String> {
        steps
            .iter()
            .find(|s| s.id == id)
            .and_then(|s| s.batch)
            .and_then(|b| bp.batches.get(b))
            .map(|b| b.name.clone())
    };
    let mut out_steps = Vec::new();
    for (n, (p, v)) in ordered.placed.iter().zip(verifications).enumerate() {
        let topo = p.world.topology();
        let mut entries = vec![Entry::Internet];
        for m in [&spec.source.mta, &spec.target.mta] {
            if topo.mta(m).is_some() && !entries.contains(&Entry::Mta(m.clone())) {
                entries.push(Entry::Mta(m.clone()));
            }
        }
        let mut flows = Vec::new();
        for a in &p.def.probes {
            if a.is_empty() {
                continue;
            }
            for e in &entries {
                flows.push(match simulate(&topo, e, a) {
                    Ok(t) => format!("[{e}] {}", t.summary()),
                    Err(err) => format!("[{e}] {a}: {err}"),
                });
            }
        }
        out_steps.push(RunbookStep {
            number: n + 1,
            id: p.def.id.clone(),
            kind: p.def.kind.to_string(),
            batch: batch_name(&p.def.id),
            title: p.def.title.clone(),
            why: p.def.why.clone(),
            flows,
            verification: v,
            rollback_check: p.rollback_check.clone(),
            actions: p.applied.clone(),
            rollback: p.rollback.clone(),
        });
    }
    Ok(Runbook {
        name: spec.name.clone(),
        spec_file: spec.file.clone(),
        strategy: spec.strategy,
        domains: spec.domains.clone(),
        source: spec.source.mta.clone(),
        target: spec.target.mta.clone(),
        final_host: bp.final_host.clone(),
        data: bp.data,
        batches: bp
            .batches
            .iter()
            .map(|b| (b.name.clone(), b.users.clone()))
            .collect(),
        notes,
        reorders: ordered.reorders,
        initial,
        steps: out_steps,
        initial_world: bp.initial.clone(),
        worlds: ordered.placed.iter().map(|p| p.world.clone()).collect(),
        sources: spec.sources.clone(),
        extra_files: bp.extra_files.clone(),
    })
}

/// Why a batch's mail moves only inside its maintenance window.
const WINDOW: &str = "the batch's maintenance window opens before its mail moves: set afterwards, the status change enables mail on the old account again (Zimbra's zimbraAccountStatus callback sets zimbraMailStatus) and its mail waits there for good";

/// The steps of a batch that must run before a step of kind `kind`, whatever order the spec
/// asks for, and why: what the mailbox data needs, which routing cannot show.
fn batch_deps(kind: &str, data: DataMethod) -> Vec<(&'static str, &'static str)> {
    let mut v = Vec::new();
    match kind {
        "copy" => {
            v.push((
                "create",
                "the copy writes into the accounts that create makes on the target",
            ));
            v.push((
                "maintenance",
                "the mailboxes are copied while their users are kept out (maintenance)",
            ));
        }
        "activate" => {
            v.push(("maintenance", "activate ends the maintenance window"));
            v.push((
                "copy",
                "the users come back only once their mailboxes are copied",
            ));
        }
        "switch" | "retire-source" => {
            v.push(("maintenance", WINDOW));
            if kind == "switch" && data == DataMethod::Zmmailboxmove {
                v.push((
                    "copy",
                    "zmmailboxmove moves a mailbox from the server zimbraMailHost names; switched first, mail lands in an empty mailbox on the new server and the move finds nothing to move",
                ));
            }
        }
        _ => {}
    }
    v
}
