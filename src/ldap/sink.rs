//! Applying LDIF change records to a live server: validate all, then apply in order and
//! stop at the first error, reporting exactly what was and was not applied.

use std::collections::{HashMap, HashSet};
use std::fmt;

use ldap3::controls::RawControl;
use ldap3::{LdapConn, LdapResult, Mod, Scope};

use super::conn::ConnectOptions;
use super::error::{LdapError, Problem, ServerError};
use super::report::{ApplyReport, DryRun, Failure};
use super::validate::{group, validate};
use crate::dit::MovePlan;
use crate::dn::Dn;
use crate::ldif::{Attr, Change, ChangeOp, ModOp};
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
            let e = match e {
                Ok(e) => e,
                Err(err) => {
                    problems.push(Problem {
                        index,
                        line: 0,
                        dn: String::new(),
                        message: err.to_string(),
                    });
                    continue;
                }
            };
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

    /// The operations, by value.
    pub fn into_operations(self) -> Vec<Operation> {
        self.ops
    }

    /// A plan of operations taken from validated plans (keeping their numbering).
    pub(super) fn from_operations(ops: Vec<Operation>) -> Plan {
        Plan { ops }
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

/// True when `error` leaves it open whether the server applied the operation: it was handed
/// to the connection, but no answer came back (connection closed or broken, timeout). Only a
/// server's answer, or a send that failed because the connection was already gone
/// (`OpSend`: the request never reached the socket), says it was not applied.
fn answer_lost(error: &LdapError) -> bool {
    match error {
        LdapError::Transport { source, .. } => !matches!(**source, ldap3::LdapError::OpSend { .. }),
        _ => false,
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
        let ty = a.name.split(';').next().unwrap_or_default();
        if SERVER_GENERATED.iter().any(|g| g.eq_ignore_ascii_case(ty)) {
            continue;
        }
        for v in &a.values {
            out.push(Attr::new(a.name.to_string(), v.as_bytes()));
        }
    }
    out
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

    /// The connection and the per-operation timeout.
    pub(super) fn conn_mut(&mut self) -> (&mut LdapConn, std::time::Duration) {
        (&mut self.conn, self.connect.operation_timeout)
    }

    /// Sends the operations in order, calling `before` ahead of each one, and stops at the
    /// first one that does not go through: refused by the server or not sent
    /// ([`ApplyReport::failed`]), or sent without an answer ([`ApplyReport::unknown`]: the
    /// connection broke or the operation timed out; see [`LdapSink::resume_after`]).
    pub fn apply(&mut self, plan: Plan, mut before: impl FnMut(&Operation)) -> ApplyReport {
        let mut applied = Vec::with_capacity(plan.ops.len());
        let mut ops = plan.ops.into_iter();
        for op in ops.by_ref() {
            before(&op);
            match self.send(&op.change) {
                Ok(()) => applied.push(op),
                Err(error) => {
                    let failure = Failure {
                        operation: op,
                        error,
                    };
                    let (failed, unknown) = if answer_lost(&failure.error) {
                        (None, Some(failure))
                    } else {
                        (Some(failure), None)
                    };
                    return ApplyReport {
                        applied,
                        failed,
                        unknown,
                        not_applied: ops.collect(),
                    };
                }
            }
        }
        ApplyReport {
            applied,
            failed: None,
            unknown: None,
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
    use super::super::testutil::modify;
    use super::*;

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
            entries: entries.into(),
            changes,
            follow_ups: Vec::new(),
            references: Vec::new(),
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
}
