//! Applying LDIF change records to a live server: validate all, then apply in order and
//! stop at the first error, reporting exactly what was and was not applied.

use std::collections::{HashMap, HashSet};
use std::fmt;

use ldap3::controls::RawControl;
use ldap3::{LdapConn, LdapResult, Mod, Scope};

use super::conn::ConnectOptions;
use super::error::{LdapError, Problem, ServerError};
use crate::attrs;
use crate::dit::MovePlan;
use crate::dn::{AttrValue, Dn};
use crate::ldif::{same_description, valid_description, Attr, Change, ChangeOp, ModOp};
use crate::model::AttrBag;

/// One change of a [`Plan`], with its position in the change set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// Position in the change set (0-based).
    pub index: usize,
    /// The change.
    pub change: Change,
}

impl Operation {
    /// The LDAP operation name: `add`, `delete`, `modify` or `modrdn`.
    pub fn kind(&self) -> &'static str {
        kind(&self.change.op)
    }
}

fn kind(op: &ChangeOp) -> &'static str {
    match op {
        ChangeOp::Add(_) => "add",
        ChangeOp::Delete => "delete",
        ChangeOp::Modify(_) => "modify",
        ChangeOp::ModDn { .. } => "modrdn",
    }
}

impl fmt::Display for Operation {
    /// One line: `#3 add uid=a,ou=people,dc=example,dc=com (5 attributes, 9 values)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.change;
        write!(f, "#{} {} {}", self.index + 1, self.kind(), c.dn)?;
        match &c.op {
            ChangeOp::Add(attrs) => {
                let n = group(attrs).len();
                write!(f, " ({n} attributes, {} values)", attrs.len())?;
            }
            ChangeOp::Delete => {}
            ChangeOp::Modify(mods) => {
                let parts: Vec<String> = mods
                    .iter()
                    .map(|m| match (m.op, m.values.len()) {
                        (ModOp::Delete | ModOp::Replace, 0) => {
                            format!("{} {} (all)", m.op, m.attribute)
                        }
                        (_, n) => format!("{} {} ({n})", m.op, m.attribute),
                    })
                    .collect();
                write!(f, ": {}", parts.join(", "))?;
            }
            ChangeOp::ModDn {
                new_rdn,
                delete_old_rdn,
                new_superior,
            } => {
                write!(f, " -> {new_rdn}")?;
                if let Some(sup) = new_superior {
                    write!(f, ",{sup}")?;
                }
                write!(f, " (deleteoldrdn {})", u8::from(*delete_old_rdn))?;
            }
        }
        if !c.controls.is_empty() {
            write!(f, " [{} control(s)]", c.controls.len())?;
        }
        Ok(())
    }
}

/// A validated change set, ready for [`LdapSink::apply`].
///
/// ```
/// use zimbra_prov::dn::Dn;
/// use zimbra_prov::ldif::{Change, ChangeOp, ModOp, Modification};
/// use zimbra_prov::ldap::Plan;
/// let dn = Dn::parse("uid=a,ou=people,dc=example,dc=com")?;
/// let ok = Change::new(dn.clone(), ChangeOp::Modify(vec![Modification {
///     op: ModOp::Replace, attribute: "zimbraMailStatus".into(), values: vec![b"disabled".to_vec()],
/// }]));
/// let plan = Plan::new(vec![ok.clone()]).expect("valid");
/// assert_eq!(plan.operations()[0].to_string(), format!("#1 modify {dn}: replace zimbraMailStatus (1)"));
///
/// let bad = Change::new(dn, ChangeOp::Modify(vec![Modification {
///     op: ModOp::Replace, attribute: "zimbraMailStatus".into(), values: vec![b"sleeping".to_vec()],
/// }]));
/// let err = Plan::new(vec![ok, bad]).unwrap_err();
/// assert!(err.to_string().contains("change #2"));
/// # Ok::<(), zimbra_prov::dn::DnError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    ops: Vec<Operation>,
}

impl Plan {
    /// Validates every change (see [`validate`]) and builds the plan, or returns
    /// [`LdapError::Validation`] with every problem found.
    pub fn new(changes: impl IntoIterator<Item = Change>) -> Result<Plan, LdapError> {
        let changes: Vec<Change> = changes.into_iter().collect();
        let problems = validate(&changes);
        if !problems.is_empty() {
            return Err(LdapError::Validation { problems });
        }
        Ok(Plan {
            ops: changes
                .into_iter()
                .enumerate()
                .map(|(index, change)| Operation { index, change })
                .collect(),
        })
    }

    /// Turns a [`dit::MovePlan`](crate::dit::MovePlan) into the operations that carry it out
    /// on a live target, the online equivalent of `slapadd` of [`MovePlan::write_ldif`]
    /// followed by `ldapmodify` of [`MovePlan::write_changes`]:
    ///
    /// 1. one add per [`MovePlan::entries`] entry, in the plan's order (parents before
    ///    children), attribute and value order kept;
    /// 2. then the plan's [`MovePlan::changes`] (modifications of entries the target already
    ///    has), as they are.
    ///
    /// Refused before anything is sent: a plan with conflicts ([`LdapError::MoveConflicts`],
    /// every [`Conflict`](crate::dit::Conflict) in the error), and anything [`Plan::new`]
    /// refuses ([`LdapError::Validation`]: DN syntax, record sanity, catalog value checks;
    /// change numbers count the adds first, then the changes).
    ///
    /// The operational attributes a server keeps for itself and refuses from a client
    /// (`entryUUID`, `entryCSN`, `createTimestamp`, `creatorsName`, `modifyTimestamp`,
    /// `modifiersName`, `structuralObjectClass`, `contextCSN` and the computed
    /// `entryDN`, `hasSubordinates`, `subschemaSubentry`, `numSubordinates`) are left out of
    /// the adds: a plan built from `slapcat` dumps carries the source's values, which
    /// `slapadd` keeps but an LDAP add cannot set; the target server generates its own.
    ///
    /// ```
    /// use zimbra_prov::{dit, ldap::{LdapError, Plan}, model::Directory, zmprov};
    /// let mut src = Directory::new();
    /// zmprov::run(&mut src, "cs mbx1.old.net\ncd company.com\nca bob@company.com pw")?;
    /// let mut dst = Directory::new();
    /// dst.ids = zimbra_prov::model::IdGenerator::new(2);
    /// zmprov::run(&mut dst, "cs mbx9.new.net\ncd other.org")?;
    /// let opts = dit::MoveOptions {
    ///     map_hosts: vec![("mbx1.old.net".into(), "mbx9.new.net".into())],
    ///     ..Default::default()
    /// };
    /// let moved = dit::plan_move_dirs(&src, &dst, "company.com", &opts)?;
    /// let plan = Plan::from_move(&moved)?;
    /// assert_eq!(plan.len(), moved.entries.len() + moved.changes.len());
    /// assert!(plan.operations().iter().any(|op| op.to_string()
    ///     .starts_with(&format!("#{} add uid=bob,ou=people,dc=company,dc=com", op.index + 1))));
    ///
    /// // Without the host map the target has no server for mbx1.old.net: refused, nothing sent.
    /// let conflicting = dit::plan_move_dirs(&src, &dst, "company.com", &Default::default())?;
    /// let err = Plan::from_move(&conflicting).unwrap_err();
    /// assert!(matches!(&err, LdapError::MoveConflicts { conflicts, .. } if !conflicts.is_empty()));
    /// assert!(err.to_string().contains("mbx1.old.net"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// [`MovePlan::write_ldif`]: crate::dit::MovePlan::write_ldif
    /// [`MovePlan::write_changes`]: crate::dit::MovePlan::write_changes
    /// [`MovePlan::entries`]: crate::dit::MovePlan::entries
    /// [`MovePlan::changes`]: crate::dit::MovePlan::changes
    pub fn from_move(plan: &MovePlan) -> Result<Plan, LdapError> {
        if !plan.conflicts.is_empty() {
            return Err(LdapError::MoveConflicts {
                domain: plan.domain.clone(),
                conflicts: plan.conflicts.clone(),
            });
        }
        let mut problems = Vec::new();
        let mut changes = Vec::with_capacity(plan.entries.len() + plan.changes.len());
        for (index, e) in plan.entries.iter().enumerate() {
            match Dn::parse(&e.dn) {
                Ok(dn) => changes.push(Change::new(dn, ChangeOp::Add(add_attrs(&e.attrs)))),
                Err(err) => problems.push(Problem {
                    index,
                    line: 0,
                    dn: e.dn.clone(),
                    message: format!("invalid DN: {err}"),
                }),
            }
        }
        if !problems.is_empty() {
            return Err(LdapError::Validation { problems });
        }
        changes.extend(plan.changes.iter().cloned());
        Plan::new(changes)
    }

    /// The operations, in the order they will be sent.
    pub fn operations(&self) -> &[Operation] {
        &self.ops
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// Operational attributes a client cannot set (the server keeps or computes them).
const SERVER_GENERATED: [&str; 12] = [
    "structuralObjectClass",
    "entryUUID",
    "entryCSN",
    "createTimestamp",
    "creatorsName",
    "modifyTimestamp",
    "modifiersName",
    "contextCSN",
    "entryDN",
    "hasSubordinates",
    "subschemaSubentry",
    "numSubordinates",
];

/// The attribute lines of an add for a planned entry, without [`SERVER_GENERATED`] ones.
fn add_attrs(attrs: &AttrBag) -> Vec<Attr> {
    let mut out = Vec::new();
    for a in attrs.iter() {
        let ty = a.name().split(';').next().unwrap_or_default();
        if SERVER_GENERATED.iter().any(|g| g.eq_ignore_ascii_case(ty)) {
            continue;
        }
        for v in a.values() {
            out.push(Attr::new(a.name().to_string(), v.as_bytes()));
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Planned {
    Exists,
    Gone,
}

/// Checks a change set without a server and returns every problem (empty = valid):
///
/// - change-record sanity: no change of the root DN; an add has an objectClass and its RDN
///   values among its attributes; a modify has at least one modification; `add:` has values;
///   `increment:` has exactly one integer value; a modrdn does not move an entry below itself;
/// - attribute descriptions are well-formed; no value is given twice (the server would refuse
///   it, and the client library would silently merge it);
/// - values of attributes in the Zimbra catalog pass [`attrs::AttrDef::validate_values`]
///   (type, enum, range, single-valued) for add, modify add and replace (`;binary` values and
///   attributes outside the catalog are left to the server's schema);
/// - order within the set: no entry added twice, nothing changed after it was deleted or moved
///   away, no add below an entry deleted earlier.
///
/// ```
/// use zimbra_prov::{dn::Dn, ldif::{Attr, Change, ChangeOp}, ldap::validate};
/// let dn = Dn::parse("uid=a,ou=people,dc=example,dc=com")?;
/// let add = Change::new(dn.clone(), ChangeOp::Add(vec![
///     Attr::new("objectClass", "zimbraAccount"), Attr::new("uid", "b"),
/// ]));
/// let problems = validate(&[add, Change::new(dn.clone(), ChangeOp::Delete), Change::new(dn, ChangeOp::Delete)]);
/// assert_eq!(problems.len(), 2);
/// assert!(problems[0].message.contains("RDN"));
/// assert!(problems[1].message.contains("deleted earlier"));
/// # Ok::<(), zimbra_prov::dn::DnError>(())
/// ```
pub fn validate(changes: &[Change]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut state: HashMap<Dn, Planned> = HashMap::new();
    for (index, c) in changes.iter().enumerate() {
        let mut say = |message: String| {
            problems.push(Problem {
                index,
                line: c.line,
                dn: c.dn.to_string(),
                message,
            })
        };
        if c.dn.is_root() {
            say("the root DN cannot be changed".to_string());
            continue;
        }
        let planned = state.get(&c.dn).copied();
        match &c.op {
            ChangeOp::Add(list) => {
                check_add(list, &c.dn, &mut say);
                if planned == Some(Planned::Exists) {
                    say("entry is added twice (or added after being moved here)".to_string());
                }
                if let Some(parent) = c.dn.parent() {
                    if state.get(&parent) == Some(&Planned::Gone) {
                        say(format!("parent {parent} was deleted or moved away earlier"));
                    }
                }
                state.insert(c.dn.clone(), Planned::Exists);
            }
            ChangeOp::Delete => {
                if planned == Some(Planned::Gone) {
                    say("entry was deleted earlier or moved away".to_string());
                }
                state.insert(c.dn.clone(), Planned::Gone);
            }
            ChangeOp::Modify(mods) => {
                if planned == Some(Planned::Gone) {
                    say("entry was deleted earlier or moved away".to_string());
                }
                if mods.is_empty() {
                    say("modify without modifications".to_string());
                }
                for m in mods {
                    check_mod(m, &mut say);
                }
            }
            ChangeOp::ModDn {
                new_rdn,
                new_superior,
                ..
            } => {
                if planned == Some(Planned::Gone) {
                    say("entry was deleted earlier or moved away".to_string());
                }
                let parent = new_superior.clone().or_else(|| c.dn.parent());
                let Some(parent) = parent else {
                    continue;
                };
                if parent.is_under(&c.dn) {
                    say(format!("cannot move the entry below itself ({parent})"));
                    continue;
                }
                let target = parent.child(new_rdn.clone());
                if target != c.dn {
                    if state.get(&target) == Some(&Planned::Exists) {
                        say(format!(
                            "new DN {target} is added earlier in the change set"
                        ));
                    }
                    state.insert(c.dn.clone(), Planned::Gone);
                    state.insert(target, Planned::Exists);
                }
            }
        }
    }
    problems
}

fn text_eq(a: &[u8], b: &str) -> bool {
    std::str::from_utf8(a).is_ok_and(|a| a.trim().eq_ignore_ascii_case(b.trim()))
}

fn check_add(list: &[Attr], dn: &Dn, say: &mut dyn FnMut(String)) {
    if list.is_empty() {
        say("add without attributes".to_string());
        return;
    }
    if !list
        .iter()
        .any(|a| same_description(&a.description, "objectClass"))
    {
        say("add without objectClass".to_string());
    }
    if let Some(rdn) = dn.rdn() {
        for ava in rdn.avas() {
            let ok = match ava.value() {
                AttrValue::Text(t) => list.iter().any(|a| {
                    same_description(&a.description, ava.attr_type()) && text_eq(&a.value, t)
                }),
                AttrValue::Ber(_) => list
                    .iter()
                    .any(|a| same_description(&a.description, ava.attr_type())),
            };
            if !ok {
                say(format!(
                    "RDN value {ava} is not among the entry's attributes (the server refuses that: namingViolation)",
                    ava = rdn
                ));
            }
        }
    }
    for (desc, values) in group(list) {
        check_values(ModOp::Add, desc, &values, true, say);
    }
}

fn check_mod(m: &crate::ldif::Modification, say: &mut dyn FnMut(String)) {
    let values: Vec<&[u8]> = m.values.iter().map(Vec::as_slice).collect();
    match m.op {
        ModOp::Add if values.is_empty() => {
            say(format!("add: {} without values", m.attribute));
        }
        ModOp::Increment => {
            let ok = values.len() == 1
                && values
                    .first()
                    .and_then(|v| std::str::from_utf8(v).ok())
                    .is_some_and(|v| v.trim().parse::<i64>().is_ok());
            if !ok {
                say(format!(
                    "increment: {} needs exactly one integer value",
                    m.attribute
                ));
            }
        }
        _ => {}
    }
    let validate = matches!(m.op, ModOp::Add | ModOp::Replace);
    check_values(m.op, &m.attribute, &values, validate, say);
}

fn check_values(
    op: ModOp,
    desc: &str,
    values: &[&[u8]],
    validate: bool,
    say: &mut dyn FnMut(String),
) {
    if !valid_description(desc) {
        say(format!("invalid attribute description {desc:?}"));
        return;
    }
    let mut seen: HashSet<&[u8]> = HashSet::new();
    for v in values {
        if !seen.insert(v) {
            say(format!(
                "{op} {desc}: value {:?} given twice",
                String::from_utf8_lossy(v)
            ));
        }
    }
    let mut parts = desc.split(';');
    let ty = parts.next().unwrap_or_default();
    if !validate || parts.any(|o| o.eq_ignore_ascii_case("binary")) {
        return;
    }
    let Some(def) = attrs::lookup(ty) else {
        return;
    };
    let mut texts = Vec::with_capacity(values.len());
    for v in values {
        match std::str::from_utf8(v) {
            Ok(t) => texts.push(t),
            Err(_) if matches!(def.ty, attrs::AttrType::Binary) => {}
            Err(_) => say(format!("{op} {desc}: value is not UTF-8")),
        }
    }
    if let Err(e) = def.validate_values(&texts) {
        say(format!("{op} {desc}: {e}"));
    }
}

/// Groups attribute lines by description (type case-insensitive, options as a set), in
/// order of first appearance.
fn group(list: &[Attr]) -> Vec<(&str, Vec<&[u8]>)> {
    let mut out: Vec<(&str, Vec<&[u8]>)> = Vec::new();
    for a in list {
        match out
            .iter_mut()
            .find(|(d, _)| same_description(d, &a.description))
        {
            Some((_, vs)) => vs.push(&a.value),
            None => out.push((&a.description, vec![&a.value])),
        }
    }
    out
}

/// The operation that failed and why.
#[derive(Debug)]
pub struct Failure {
    /// The operation that was refused (it was not applied).
    pub operation: Operation,
    /// The server's answer ([`LdapError::Server`]) or a transport error.
    pub error: LdapError,
}

/// What [`LdapSink::apply`] did: `applied` (in order) + `failed` + `not_applied` is the
/// whole plan, in order. Nothing is skipped silently.
#[derive(Debug)]
pub struct ApplyReport {
    /// Operations the server accepted, in order (a prefix of the plan).
    pub applied: Vec<Operation>,
    /// The first operation the server refused, if any.
    pub failed: Option<Failure>,
    /// Operations after the failed one, never sent.
    pub not_applied: Vec<Operation>,
}

impl ApplyReport {
    /// True when every operation was applied.
    pub fn is_complete(&self) -> bool {
        self.failed.is_none() && self.not_applied.is_empty()
    }

    /// `Ok(self)` when complete, else the error of the failed operation (the report is
    /// lost; use the fields when it matters).
    pub fn into_result(self) -> Result<ApplyReport, LdapError> {
        match self.failed {
            Some(f) => Err(f.error),
            None => Ok(self),
        }
    }
}

impl fmt::Display for ApplyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total =
            self.applied.len() + usize::from(self.failed.is_some()) + self.not_applied.len();
        writeln!(f, "applied {} of {total} operations", self.applied.len())?;
        for op in &self.applied {
            writeln!(f, "  applied      {op}")?;
        }
        if let Some(fail) = &self.failed {
            writeln!(f, "  FAILED       {}", fail.operation)?;
            writeln!(f, "               {}", fail.error)?;
        }
        for op in &self.not_applied {
            writeln!(f, "  not applied  {op}")?;
        }
        Ok(())
    }
}

/// What a dry run found: the operations that would be sent, and the ones the server would
/// very likely refuse, checked with read-only searches against the live tree (entry
/// exists / does not exist / parent exists), following the plan's own earlier operations.
#[derive(Debug)]
pub struct DryRun {
    /// Every operation, in order.
    pub operations: Vec<Operation>,
    /// Predicted refusals (index, DN, reason); empty when none are expected.
    pub warnings: Vec<Problem>,
}

impl fmt::Display for DryRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "dry run: {} operations, nothing sent",
            self.operations.len()
        )?;
        for op in &self.operations {
            writeln!(f, "  {op}")?;
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        Ok(())
    }
}

/// Applies [`Plan`]s to a live server.
///
/// ```no_run
/// use zimbra_prov::ldap::{ConnectOptions, LdapSink, Plan};
/// use zimbra_prov::ldif::{Reader, Record};
/// let text = std::fs::read("changes.ldif").expect("read");
/// let changes = Reader::new(&text[..]).filter_map(|r| match r {
///     Ok(Record::Change(c)) => Some(c),
///     _ => None,
/// });
/// let plan = Plan::new(changes)?;
/// let mut sink = LdapSink::connect(&ConnectOptions::new("ldapi://%2Frun%2Fslapd%2Fldapi")
///     .bind("cn=admin", "secret"))?;
/// let report = sink.apply(plan, |op| eprintln!("{op}"));
/// print!("{report}");
/// # Ok::<(), zimbra_prov::ldap::LdapError>(())
/// ```
pub struct LdapSink {
    conn: LdapConn,
    connect: ConnectOptions,
}

impl fmt::Debug for LdapSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapSink")
            .field("connect", &self.connect)
            .finish_non_exhaustive()
    }
}

impl LdapSink {
    /// Connects and binds (see [`ConnectOptions::connect`]).
    pub fn connect(connect: &ConnectOptions) -> Result<LdapSink, LdapError> {
        Ok(LdapSink {
            conn: connect.connect()?,
            connect: connect.clone(),
        })
    }

    /// Sends the operations in order, calling `before` ahead of each one, and stops at the
    /// first one the server refuses.
    pub fn apply(&mut self, plan: Plan, mut before: impl FnMut(&Operation)) -> ApplyReport {
        let mut applied = Vec::with_capacity(plan.ops.len());
        let mut ops = plan.ops.into_iter();
        for op in ops.by_ref() {
            before(&op);
            match self.send(&op.change) {
                Ok(()) => applied.push(op),
                Err(error) => {
                    return ApplyReport {
                        applied,
                        failed: Some(Failure {
                            operation: op,
                            error,
                        }),
                        not_applied: ops.collect(),
                    }
                }
            }
        }
        ApplyReport {
            applied,
            failed: None,
            not_applied: Vec::new(),
        }
    }

    /// Lists what [`LdapSink::apply`] would send and predicts refusals with read-only
    /// searches; writes nothing.
    pub fn dry_run(&mut self, plan: &Plan) -> Result<DryRun, LdapError> {
        let mut known: HashMap<Dn, bool> = HashMap::new();
        let mut moves: Vec<(Dn, Dn)> = Vec::new();
        let mut warnings = Vec::new();
        for op in &plan.ops {
            let c = &op.change;
            let mut warn = |message: String| {
                warnings.push(Problem {
                    index: op.index,
                    line: c.line,
                    dn: c.dn.to_string(),
                    message,
                })
            };
            let exists = self.exists(&c.dn, &known, &moves)?;
            match &c.op {
                ChangeOp::Add(_) => {
                    if exists {
                        warn("entry already exists (entryAlreadyExists)".to_string());
                    }
                    if let Some(p) = c.dn.parent() {
                        if !self.exists(&p, &known, &moves)? {
                            warn(format!("parent {p} does not exist (noSuchObject)"));
                        }
                    }
                    known.insert(c.dn.clone(), true);
                }
                ChangeOp::Delete => {
                    if !exists {
                        warn("entry does not exist (noSuchObject)".to_string());
                    }
                    known.insert(c.dn.clone(), false);
                }
                ChangeOp::Modify(_) => {
                    if !exists {
                        warn("entry does not exist (noSuchObject)".to_string());
                    }
                }
                ChangeOp::ModDn {
                    new_rdn,
                    new_superior,
                    ..
                } => {
                    if !exists {
                        warn("entry does not exist (noSuchObject)".to_string());
                    }
                    let parent = new_superior.clone().or_else(|| c.dn.parent());
                    if let Some(parent) = parent {
                        if !self.exists(&parent, &known, &moves)? {
                            warn(format!("new parent {parent} does not exist (noSuchObject)"));
                        }
                        let target = parent.child(new_rdn.clone());
                        if target != c.dn {
                            if self.exists(&target, &known, &moves)? {
                                warn(format!("{target} already exists (entryAlreadyExists)"));
                            }
                            known.insert(c.dn.clone(), false);
                            known.insert(target.clone(), true);
                            moves.push((c.dn.clone(), target));
                        }
                    }
                }
            }
        }
        Ok(DryRun {
            operations: plan.ops.clone(),
            warnings,
        })
    }

    /// Whether `dn` exists after the plan's earlier operations: planned state first, then
    /// the entry's pre-move DN on the server.
    fn exists(
        &mut self,
        dn: &Dn,
        known: &HashMap<Dn, bool>,
        moves: &[(Dn, Dn)],
    ) -> Result<bool, LdapError> {
        if dn.is_root() {
            return Ok(true);
        }
        if let Some(&k) = known.get(dn) {
            return Ok(k);
        }
        // Undo the plan's moves, latest first, to find the DN the entry has on the server.
        let mut server_dn = dn.clone();
        for (old, new) in moves.iter().rev() {
            if let Some(&k) = known.get(&server_dn) {
                return Ok(k);
            }
            if server_dn.is_under(old) {
                return Ok(false);
            }
            if let Some(back) = server_dn.rebase(new, old) {
                server_dn = back;
            }
        }
        self.conn.with_timeout(self.connect.operation_timeout);
        let res = self
            .conn
            .search(
                server_dn.as_str(),
                Scope::Base,
                "(objectClass=*)",
                vec!["1.1"],
            )
            .map_err(|source| LdapError::Transport {
                operation: "search",
                dn: server_dn.to_string(),
                source: Box::new(source),
            })?;
        match res.1.rc {
            0 => Ok(!res.0.is_empty()),
            32 => Ok(false),
            code => Err(LdapError::Server(ServerError {
                operation: "search",
                dn: server_dn.to_string(),
                code,
                message: res.1.text,
                matched: res.1.matched,
            })),
        }
    }

    fn send(&mut self, c: &Change) -> Result<(), LdapError> {
        let dn = c.dn.as_str();
        let operation = kind(&c.op);
        if !c.controls.is_empty() {
            let ctrls: Vec<RawControl> = c
                .controls
                .iter()
                .map(|k| RawControl {
                    ctype: k.oid.clone(),
                    crit: k.critical,
                    val: k.value.clone(),
                })
                .collect();
            self.conn.with_controls(ctrls);
        }
        self.conn.with_timeout(self.connect.operation_timeout);
        let res: ldap3::result::Result<LdapResult> = match &c.op {
            ChangeOp::Add(list) => {
                let attrs: Vec<(Vec<u8>, HashSet<Vec<u8>>)> = group(list)
                    .into_iter()
                    .map(|(d, vs)| {
                        (
                            d.as_bytes().to_vec(),
                            vs.into_iter().map(<[u8]>::to_vec).collect(),
                        )
                    })
                    .collect();
                self.conn.add(dn, attrs)
            }
            ChangeOp::Delete => self.conn.delete(dn),
            ChangeOp::Modify(mods) => {
                let mods: Vec<Mod<Vec<u8>>> = mods
                    .iter()
                    .map(|m| {
                        let name = m.attribute.as_bytes().to_vec();
                        let set: HashSet<Vec<u8>> = m.values.iter().cloned().collect();
                        match m.op {
                            ModOp::Add => Mod::Add(name, set),
                            ModOp::Delete => Mod::Delete(name, set),
                            ModOp::Replace => Mod::Replace(name, set),
                            ModOp::Increment => {
                                Mod::Increment(name, m.values.first().cloned().unwrap_or_default())
                            }
                        }
                    })
                    .collect();
                self.conn.modify(dn, mods)
            }
            ChangeOp::ModDn {
                new_rdn,
                delete_old_rdn,
                new_superior,
            } => self.conn.modifydn(
                dn,
                new_rdn.as_str(),
                *delete_old_rdn,
                new_superior.as_ref().map(Dn::as_str),
            ),
        };
        let res = res.map_err(|source| LdapError::Transport {
            operation,
            dn: dn.to_string(),
            source: Box::new(source),
        })?;
        if res.rc == 0 {
            Ok(())
        } else {
            Err(LdapError::Server(ServerError {
                operation,
                dn: dn.to_string(),
                code: res.rc,
                message: res.text,
                matched: res.matched,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dn::Rdn;
    use crate::ldif::Modification;

    fn dn(s: &str) -> Dn {
        Dn::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn account(local: &str) -> Change {
        Change::new(
            dn(&format!("uid={local},ou=people,dc=example,dc=com")),
            ChangeOp::Add(vec![
                Attr::new("objectClass", "inetOrgPerson"),
                Attr::new("objectClass", "zimbraAccount"),
                Attr::new("uid", local),
                Attr::new("cn", local),
                Attr::new("sn", local),
                Attr::new("zimbraAccountStatus", "active"),
            ]),
        )
    }

    fn modify(d: &str, op: ModOp, attr: &str, values: &[&str]) -> Change {
        Change::new(
            dn(d),
            ChangeOp::Modify(vec![Modification {
                op,
                attribute: attr.to_string(),
                values: values.iter().map(|v| v.as_bytes().to_vec()).collect(),
            }]),
        )
    }

    fn messages(changes: &[Change]) -> Vec<(usize, String)> {
        validate(changes)
            .into_iter()
            .map(|p| (p.index, p.message))
            .collect()
    }

    #[test]
    fn valid_changes_pass() {
        let a = "uid=a,ou=people,dc=example,dc=com";
        let changes = vec![
            account("a"),
            modify(a, ModOp::Replace, "zimbraMailStatus", &["enabled"]),
            modify(a, ModOp::Add, "mail", &["a@example.com", "b@example.com"]),
            modify(a, ModOp::Delete, "description", &[]),
            modify(a, ModOp::Increment, "uidNumber", &["1"]),
            Change::new(
                dn(a),
                ChangeOp::ModDn {
                    new_rdn: Rdn::parse("uid=b").unwrap_or_else(|e| panic!("{e}")),
                    delete_old_rdn: true,
                    new_superior: None,
                },
            ),
            Change::new(dn("uid=b,ou=people,dc=example,dc=com"), ChangeOp::Delete),
        ];
        assert_eq!(messages(&changes), vec![]);
        let plan = Plan::new(changes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.len(), 7);
        assert_eq!(
            plan.operations()[5].to_string(),
            "#6 modrdn uid=a,ou=people,dc=example,dc=com -> uid=b (deleteoldrdn 1)"
        );
        assert_eq!(
            plan.operations()[0].to_string(),
            "#1 add uid=a,ou=people,dc=example,dc=com (5 attributes, 6 values)"
        );
    }

    #[test]
    fn record_sanity_problems_are_all_reported() {
        let a = "uid=a,ou=people,dc=example,dc=com";
        let changes = vec![
            Change::new(Dn::root(), ChangeOp::Delete),
            Change::new(dn(a), ChangeOp::Add(vec![Attr::new("uid", "a")])),
            Change::new(dn(a), ChangeOp::Modify(vec![])),
            modify(a, ModOp::Add, "mail", &[]),
            modify(a, ModOp::Increment, "uidNumber", &["x"]),
            modify(a, ModOp::Add, "mail", &["x@y", "x@y"]),
            modify(a, ModOp::Replace, "bad_name", &["x"]),
            Change::new(
                dn("dc=example,dc=com"),
                ChangeOp::ModDn {
                    new_rdn: Rdn::parse("dc=x").unwrap_or_else(|e| panic!("{e}")),
                    delete_old_rdn: true,
                    new_superior: Some(dn("ou=people,dc=example,dc=com")),
                },
            ),
        ];
        let got = messages(&changes);
        let idx: Vec<usize> = got.iter().map(|(i, _)| *i).collect();
        assert_eq!(idx, vec![0, 1, 2, 3, 4, 5, 6, 7], "{got:?}");
        assert!(got[1].1.contains("objectClass"));
        assert!(got[4].1.contains("integer"));
        assert!(got[5].1.contains("given twice"));
        assert!(got[7].1.contains("below itself"));
    }

    #[test]
    fn catalog_values_are_checked() {
        let a = "uid=a,ou=people,dc=example,dc=com";
        let mut bad_add = account("a");
        if let ChangeOp::Add(list) = &mut bad_add.op {
            list.push(Attr::new("zimbraMailTransport", "lmtp:a:7025"));
            list.push(Attr::new("zimbraMailTransport", "lmtp:b:7025"));
            list.push(Attr::new("zimbraAccountStatus", "sleeping"));
        }
        let changes = vec![
            bad_add,
            modify(a, ModOp::Replace, "zimbraLmtpBindPort", &["seven"]),
            // Deleting a value is not checked: it may be a bad value being cleaned up.
            modify(a, ModOp::Delete, "zimbraLmtpBindPort", &["seven"]),
            modify(a, ModOp::Replace, "zimbraMailHost", &["\u{0}"]),
        ];
        let got = messages(&changes);
        assert!(
            got.iter()
                .any(|(i, m)| *i == 0 && m.contains("single-valued")),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|(i, m)| *i == 0 && m.contains("zimbraAccountStatus")),
            "{got:?}"
        );
        assert!(got
            .iter()
            .any(|(i, m)| *i == 1 && m.contains("zimbraLmtpBindPort")));
        assert!(!got.iter().any(|(i, _)| *i == 2));
        assert!(
            matches!(Plan::new(changes), Err(LdapError::Validation { problems }) if problems.len() == got.len())
        );
    }

    #[test]
    fn order_problems() {
        let a = "uid=a,ou=people,dc=example,dc=com";
        let changes = vec![
            account("a"),
            account("a"),
            Change::new(dn("ou=people,dc=example,dc=com"), ChangeOp::Delete),
            account("c"),
            Change::new(dn(a), ChangeOp::Delete),
            modify(a, ModOp::Replace, "cn", &["x"]),
        ];
        let got = messages(&changes);
        assert_eq!(
            got.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![1, 3, 5],
            "{got:?}"
        );
    }

    fn planned(dn: &str, attrs: &[(&str, &str)]) -> crate::dit::PlannedEntry {
        let mut bag = AttrBag::new();
        for (n, v) in attrs {
            bag.add(n, *v);
        }
        crate::dit::PlannedEntry {
            kind: crate::dit::EntryKind::Container,
            dn: dn.to_string(),
            source_dn: None,
            attrs: bag,
        }
    }

    fn move_plan(entries: Vec<crate::dit::PlannedEntry>, changes: Vec<Change>) -> MovePlan {
        MovePlan {
            domain: "example.com".into(),
            new_domain: "example.com".into(),
            alias_domains: Vec::new(),
            conflicts: Vec::new(),
            entries,
            changes,
            follow_ups: Vec::new(),
            id_map: Default::default(),
        }
    }

    #[test]
    fn move_plans_become_adds_then_changes_without_server_attributes() {
        let people = planned(
            "ou=people,dc=example,dc=com",
            &[
                ("objectClass", "organizationalRole"),
                ("ou", "people"),
                ("cn", "people"),
                ("entryUUID", "0b7f6a62-1b1c-4a3e-9d3a-2f7c0e6f4a11"),
                ("createTimestamp", "20240101000000Z"),
                ("creatorsName", "cn=admin"),
                ("structuralObjectClass", "organizationalRole"),
            ],
        );
        let change = modify(
            "dc=example,dc=com",
            ModOp::Replace,
            "zimbraMailStatus",
            &["enabled"],
        );
        let plan = Plan::from_move(&move_plan(vec![people], vec![change.clone()]))
            .unwrap_or_else(|e| panic!("{e}"));
        let ops = plan.operations();
        assert_eq!(ops.len(), 2);
        let ChangeOp::Add(attrs) = &ops[0].change.op else {
            panic!("first operation is not an add: {}", ops[0]);
        };
        let names: Vec<&str> = attrs.iter().map(|a| a.description.as_str()).collect();
        assert_eq!(names, ["objectClass", "ou", "cn"]);
        assert_eq!(ops[1].change, change);
        assert_eq!(ops[1].index, 1);
    }

    #[test]
    fn move_plans_with_conflicts_or_bad_entries_are_refused() {
        let mut conflicting = move_plan(Vec::new(), Vec::new());
        conflicting.conflicts.push(crate::dit::Conflict::DnExists {
            dn: "dc=example,dc=com".into(),
        });
        let err = Plan::from_move(&conflicting).unwrap_err();
        assert!(
            matches!(&err, LdapError::MoveConflicts { domain, conflicts } if domain == "example.com" && conflicts.len() == 1),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("entry dc=example,dc=com already exists"),
            "{err}"
        );

        let bad_dn = planned(
            "ou=people,,dc=example",
            &[("objectClass", "organizationalRole")],
        );
        let no_rdn = planned(
            "ou=people,dc=example,dc=com",
            &[("objectClass", "organizationalRole"), ("cn", "people")],
        );
        match Plan::from_move(&move_plan(vec![bad_dn], Vec::new())) {
            Err(LdapError::Validation { problems }) => {
                assert_eq!(problems.len(), 1);
                assert!(problems[0].message.contains("invalid DN"), "{problems:?}");
            }
            other => panic!("expected a DN problem, got {other:?}"),
        }
        match Plan::from_move(&move_plan(vec![no_rdn], Vec::new())) {
            Err(LdapError::Validation { problems }) => {
                assert!(problems[0].message.contains("RDN"), "{problems:?}");
            }
            other => panic!("expected an RDN problem, got {other:?}"),
        }
    }

    #[test]
    fn report_accounts_for_every_operation() {
        let plan = Plan::new(vec![account("a"), account("b"), account("c")])
            .unwrap_or_else(|e| panic!("{e}"));
        let mut ops = plan.ops.into_iter();
        let report = ApplyReport {
            applied: ops.next().into_iter().collect(),
            failed: ops.next().map(|operation| Failure {
                operation,
                error: LdapError::Server(ServerError {
                    operation: "add",
                    dn: "uid=b,ou=people,dc=example,dc=com".into(),
                    code: 68,
                    message: String::new(),
                    matched: String::new(),
                }),
            }),
            not_applied: ops.collect(),
        };
        assert!(!report.is_complete());
        let text = report.to_string();
        assert!(text.starts_with("applied 1 of 3 operations"), "{text}");
        assert!(text.contains("FAILED       #2 add uid=b"), "{text}");
        assert!(text.contains("entryAlreadyExists (68)"), "{text}");
        assert!(text.contains("not applied  #3 add uid=c"), "{text}");
        assert!(report.into_result().is_err());
    }
}
