//! The strategies: each turns a spec and the current state into the runbook's steps, in the
//! order the seed runbook gives them (the planner may reorder them, see `proof`).

mod moves;
mod split;
mod sub;

use std::collections::BTreeSet;

use super::spec::{BatchUsers, DataMethod, Spec, SpecError, StrategyKind};
use super::steps::{zline, Action};
use super::world::{MtaDef, MtaDefKind, World};
use crate::model::{Directory, MailRecipient};

/// One step as a strategy defines it (unverified, unordered).
#[derive(Debug, Clone)]
pub(crate) struct StepDef {
    /// `prepare-target`, `batch-2.switch`, ...
    pub id: String,
    /// The step's kind (a name of [`GLOBAL_STEPS`](super::steps::GLOBAL_STEPS) or
    /// [`BATCH_STEPS`](super::steps::BATCH_STEPS)).
    pub kind: &'static str,
    /// The batch it belongs to.
    pub batch: Option<usize>,
    pub title: String,
    pub why: Vec<String>,
    pub actions: Vec<Action>,
    /// Addresses whose mail flow the runbook shows after the step.
    pub probes: Vec<String>,
}

impl StepDef {
    pub fn new(kind: &'static str, title: impl Into<String>) -> StepDef {
        StepDef {
            id: kind.to_string(),
            kind,
            batch: None,
            title: title.into(),
            why: Vec::new(),
            actions: Vec::new(),
            probes: Vec::new(),
        }
    }

    pub fn in_batch(mut self, b: usize) -> StepDef {
        self.batch = Some(b);
        self.id = format!("batch-{}.{}", b + 1, self.kind);
        self
    }

    pub fn why(mut self, s: impl Into<String>) -> StepDef {
        self.why.push(s.into());
        self
    }

    /// Add an action (a zmprov action without lines is nothing to do and is left out).
    pub fn act(mut self, a: Action) -> StepDef {
        if !matches!(&a, Action::Zmprov { lines, .. } if lines.is_empty()) {
            self.actions.push(a);
        }
        self
    }

    pub fn probes(mut self, p: impl IntoIterator<Item = String>) -> StepDef {
        for a in p {
            if !self.probes.contains(&a) {
                self.probes.push(a);
            }
        }
        self
    }
}

/// A slot of the global order: a step, or the batches.
#[derive(Debug, Clone)]
pub(crate) enum Slot {
    Step(StepDef),
    Batches,
}

impl Slot {
    pub fn kind(&self) -> &'static str {
        match self {
            Slot::Step(s) => s.kind,
            Slot::Batches => "batches",
        }
    }
}

/// A batch with its users and its steps (in the strategy's order).
#[derive(Debug, Clone)]
pub(crate) struct BatchPlan {
    pub name: String,
    /// (address on the source, address on the target).
    pub users: Vec<(String, String)>,
    pub steps: Vec<StepDef>,
}

/// What a strategy produces.
#[derive(Debug, Clone)]
pub(crate) struct Blueprint {
    /// The initial state (the spec's, plus what the strategy adds before the first step: a
    /// head MTA that is installed but not yet used).
    pub initial: World,
    /// Global steps and where the batches go, in the strategy's order.
    pub slots: Vec<Slot>,
    pub batches: Vec<BatchPlan>,
    /// Remarks for the runbook's introduction.
    pub notes: Vec<String>,
    /// The mailbox host every moved user ends at.
    pub final_host: String,
    /// The data method used.
    pub data: DataMethod,
    /// Every user of the source (each must reach a mailbox at every step).
    pub users: Vec<String>,
    /// Files the runbook ships besides its own (the move LDIF).
    pub extra_files: std::collections::BTreeMap<String, Vec<u8>>,
}

impl Blueprint {
    /// A blueprint from the context's state and data method.
    pub(crate) fn new(
        ctx: &Ctx<'_>,
        slots: Vec<Slot>,
        batches: Vec<BatchPlan>,
        notes: Vec<String>,
        final_host: String,
    ) -> Blueprint {
        Blueprint {
            initial: ctx.world.clone(),
            slots,
            batches,
            notes,
            final_host,
            data: ctx.data,
            users: Vec::new(),
            extra_files: Default::default(),
        }
    }
}

/// The resolved sides of a migration.
pub(crate) struct Ctx<'a> {
    pub spec: &'a Spec,
    pub world: World,
    pub source: MtaDef,
    pub target: MtaDef,
    /// The target's directory name (Zimbra targets).
    pub target_dir: String,
    /// The target's mailbox server.
    pub target_host: String,
    /// Every user of the migrated domains the source holds, sorted.
    pub users: Vec<String>,
    /// The batches' users, resolved.
    pub batches: Vec<(String, Vec<String>)>,
    pub data: DataMethod,
    pub notes: Vec<String>,
}

impl Ctx<'_> {
    pub fn domains(&self) -> &[String] {
        &self.spec.domains
    }

    pub fn source_dir(&self) -> Option<&Directory> {
        self.source.directory().and_then(|d| self.world.dir(d))
    }

    pub fn target_directory(&self) -> &Directory {
        static EMPTY: std::sync::OnceLock<Directory> = std::sync::OnceLock::new();
        self.world
            .dir(&self.target_dir)
            .unwrap_or_else(|| EMPTY.get_or_init(Directory::new))
    }

    /// Every moved user.
    pub fn moved(&self) -> BTreeSet<&str> {
        self.batches
            .iter()
            .flat_map(|(_, u)| u.iter().map(String::as_str))
            .collect()
    }

    /// Whether every user of the source moves.
    pub fn all_move(&self) -> bool {
        self.moved().len() == self.users.len()
    }

    pub fn zmprov_target(&self, lines: Vec<String>) -> Action {
        Action::Zmprov {
            directory: self.target_dir.clone(),
            host: self.target.hostname.clone(),
            lines,
        }
    }

    pub fn zmprov_source(&self, lines: Vec<String>) -> Action {
        Action::Zmprov {
            directory: self.source.directory().unwrap_or_default().to_string(),
            host: self.source.hostname.clone(),
            lines,
        }
    }

    pub fn in_domains(&self, addr: &str) -> bool {
        let lc = addr.to_ascii_lowercase();
        self.domains()
            .iter()
            .any(|d| lc.rsplit_once('@').is_some_and(|(_, x)| x == d))
    }

    /// The other addresses of a source user in the migrated domains: a Zimbra account's
    /// aliases, or the foreign MTA's rewrites to the user.
    pub fn source_aliases(&self, user: &str) -> Vec<String> {
        let mut v: Vec<String> = match &self.source.kind {
            MtaDefKind::Foreign(f) => f
                .aliases
                .iter()
                .filter(|(_, to)| to.eq_ignore_ascii_case(user))
                .map(|(k, _)| k.to_ascii_lowercase())
                .collect(),
            MtaDefKind::Zimbra { .. } => self
                .source_dir()
                .and_then(|d| d.account(user))
                .map(|a| {
                    a.aliases()
                        .unwrap_or_default()
                        .iter()
                        .map(|x| x.to_string().to_ascii_lowercase())
                        .collect()
                })
                .unwrap_or_default(),
        };
        v.retain(|x| self.in_domains(x));
        v
    }

    /// The unknown-recipient probe of the first domain.
    pub fn unknown_probe(&self) -> String {
        format!(
            "no-such-user@{}",
            self.domains()
                .first()
                .map(String::as_str)
                .unwrap_or("invalid")
        )
    }
}

/// Whether an account is a person's mailbox (not a Zimbra system account).
fn is_user_account(a: &crate::model::Account) -> bool {
    a.mail_enabled()
        && !a
            .attrs
            .has_value_ci(crate::model::names::IS_SYSTEM_RESOURCE, "TRUE")
        && !a
            .attrs
            .has_value_ci(crate::model::names::IS_SYSTEM_ACCOUNT, "TRUE")
}

/// The mailbox server of an account: `zimbraMailHost`, else the host of an `lmtp:` transport.
fn account_host(a: &crate::model::Account) -> Option<String> {
    a.mail_host().map(str::to_string).or_else(|| {
        a.transport()
            .ok()
            .flatten()
            .filter(|t| t.is_lmtp())
            .and_then(|t| t.host().map(str::to_string))
    })
}

/// The users of the migrated domains on the source, and for Zimbra sources on `host` only
/// when given (same directory, other mailstore).
fn source_users(spec: &Spec, world: &World, source: &MtaDef, host: Option<&str>) -> Vec<String> {
    let inside = |a: &str| {
        let lc = a.to_ascii_lowercase();
        spec.domains
            .iter()
            .any(|d| lc.rsplit_once('@').is_some_and(|(_, x)| x == d))
    };
    let mut v: Vec<String> = match &source.kind {
        MtaDefKind::Foreign(f) => f
            .mailboxes
            .iter()
            .filter(|m| inside(m))
            .map(|m| m.to_ascii_lowercase())
            .collect(),
        MtaDefKind::Zimbra { directory, .. } => world
            .dirs
            .get(directory)
            .map(|d| {
                d.accounts()
                    .filter(|a| is_user_account(a) && inside(&a.name.to_string()))
                    .filter(|a| match host {
                        Some(h) => account_host(a).is_some_and(|m| m.eq_ignore_ascii_case(h)),
                        None => true,
                    })
                    .map(|a| a.name.to_string().to_ascii_lowercase())
                    .collect()
            })
            .unwrap_or_default(),
    };
    v.sort();
    v.dedup();
    v
}

/// Build the strategy's blueprint (errors name the spec's file, line and key).
pub(crate) fn blueprint(spec: &Spec) -> Result<Blueprint, super::RunbookError> {
    let mut world = spec.world.clone();
    // a new head MTA is installed before the runbook starts, not yet used
    if let (StrategyKind::MtaHead, Some(h)) = (spec.strategy, &spec.mta_head) {
        if world.mta(&h.mta).is_none() {
            let Some(hostname) = &h.hostname else {
                return Err(super::RunbookError::Spec(spec.invalid(
                    "mta_head.mta",
                    format!(
                        "no MTA named {:?} in the topology: add it, or give mta_head.hostname to add a new one",
                        h.mta
                    ),
                )));
            };
            world.mtas.push(MtaDef {
                name: h.mta.clone(),
                hostname: hostname.clone(),
                kind: MtaDefKind::Foreign(crate::route::ForeignMta {
                    dns_lookups: true,
                    hopcount_limit: 50,
                    ..crate::route::ForeignMta::default()
                }),
            });
        }
    }
    // strategy tables given to another strategy are a mistake, not a no-op
    for (given, key, wants) in [
        (
            spec.catch_all.is_some(),
            "catch_all",
            StrategyKind::SplitPrimaryZimbra,
        ),
        (
            spec.subdomain.is_some(),
            "subdomain.name",
            StrategyKind::Subdomain,
        ),
        (
            spec.mta_head.is_some(),
            "mta_head.mta",
            StrategyKind::MtaHead,
        ),
        (spec.moving.is_some(), "move", StrategyKind::DomainMove),
    ] {
        if given && spec.strategy != wants {
            return Err(super::RunbookError::Spec(spec.invalid(
                key,
                format!("applies to strategy {wants}, not {}", spec.strategy),
            )));
        }
    }
    let source = world
        .mta(&spec.source.mta)
        .cloned()
        .ok_or_else(|| spec.invalid("source.mta", "no such MTA"))?;
    let target = world
        .mta(&spec.target.mta)
        .cloned()
        .ok_or_else(|| spec.invalid("target.mta", "no such MTA"))?;
    let target_dir = match &target.kind {
        MtaDefKind::Zimbra { directory, .. } => directory.clone(),
        MtaDefKind::Foreign(_) => {
            return Err(super::RunbookError::Spec(spec.invalid(
                "target.mta",
                format!(
                    "the target {} is a foreign MTA; every strategy moves users to a Zimbra MTA",
                    target.name
                ),
            )))
        }
    };
    let target_host = spec
        .target
        .host
        .clone()
        .unwrap_or_else(|| target.hostname.clone());
    let tdir = world.dir(&target_dir).cloned().unwrap_or_default();
    if tdir.server_by_hostname(&target_host).is_none() {
        return Err(super::RunbookError::Spec(spec.invalid(
            if spec.target.host.is_some() {
                "target.host"
            } else {
                "target.mta"
            },
            format!(
                "directory {target_dir:?} has no server {target_host}: the mailbox server users move to must be installed (zmprov cs {target_host})"
            ),
        )));
    }
    let same_dir = source.directory().is_some() && source.directory() == target.directory();
    match spec.strategy {
        StrategyKind::SameLdapNewMailstore => {
            if source.directory().is_none() || !same_dir {
                return Err(super::RunbookError::Spec(spec.invalid(
                    "source.mta",
                    "same-ldap-new-mailstore needs a Zimbra source reading the target's directory",
                )));
            }
            if spec.source.host.is_none() && spec.source.mta == spec.target.mta {
                return Err(super::RunbookError::Spec(spec.invalid(
                    "source.host",
                    "give the old mailbox server (source.host) when source and target are one MTA",
                )));
            }
        }
        StrategyKind::Subdomain | StrategyKind::DomainMove | StrategyKind::MtaHead
            if source.directory().is_none() =>
        {
            return Err(super::RunbookError::Spec(spec.invalid(
                "source.mta",
                format!(
                    "{} needs a Zimbra source (the seed's old ZCS)",
                    spec.strategy
                ),
            )));
        }
        _ => {}
    }
    if same_dir && spec.strategy != StrategyKind::SameLdapNewMailstore {
        return Err(super::RunbookError::Spec(spec.invalid(
            "target.mta",
            format!(
                "source and target read the same directory: use strategy same-ldap-new-mailstore (not {})",
                spec.strategy
            ),
        )));
    }
    let source_host = match spec.strategy {
        StrategyKind::SameLdapNewMailstore => Some(
            spec.source
                .host
                .clone()
                .unwrap_or_else(|| source.hostname.clone()),
        ),
        _ => None,
    };
    if let Some(h) = &source_host {
        if h.eq_ignore_ascii_case(&target_host) {
            return Err(super::RunbookError::Spec(spec.invalid(
                "target.host",
                format!("the old and the new mailbox server are both {h}"),
            )));
        }
    }
    let users = if spec.strategy == StrategyKind::DomainMove {
        // a domain move takes every account of the domain; the batches then move mailboxes
        source_users(spec, &world, &source, None)
    } else {
        source_users(spec, &world, &source, source_host.as_deref())
    };
    if users.is_empty() {
        return Err(super::RunbookError::Spec(spec.invalid(
            "source.mta",
            format!(
                "{} holds no user of {}{}",
                source.name,
                spec.domains.join(", "),
                source_host
                    .as_deref()
                    .map(|h| format!(" on {h}"))
                    .unwrap_or_default()
            ),
        )));
    }
    // batches
    let mut listed: BTreeSet<String> = BTreeSet::new();
    for b in &spec.batches {
        if let BatchUsers::List(v) = &b.users {
            for u in v {
                if !users.contains(&u.address) {
                    return Err(super::RunbookError::Spec(SpecError::Invalid {
                        file: u.file.clone(),
                        line: u.line,
                        key: "batch.users".into(),
                        message: format!(
                            "{} is not a user of the source {}{}",
                            u.address,
                            source.name,
                            source_host
                                .as_deref()
                                .map(|h| format!(" on {h}"))
                                .unwrap_or_default()
                        ),
                    }));
                }
                listed.insert(u.address.clone());
            }
        }
    }
    let mut notes = Vec::new();
    let mut batches = Vec::new();
    for b in &spec.batches {
        let list: Vec<String> = match &b.users {
            BatchUsers::List(v) => v.iter().map(|u| u.address.clone()).collect(),
            BatchUsers::AllRemaining => users
                .iter()
                .filter(|u| !listed.contains(*u))
                .cloned()
                .collect(),
        };
        if list.is_empty() {
            notes.push(format!(
                "{}: \"all-remaining\" is empty (every user is in another batch); skipped",
                b.name
            ));
            continue;
        }
        batches.push((b.name.clone(), list));
    }
    // data method
    let zimbra_source = source.directory().is_some();
    let data = match spec.data {
        Some(m) => m,
        None => match spec.strategy {
            StrategyKind::SameLdapNewMailstore | StrategyKind::DomainMove => {
                DataMethod::Zmmailboxmove
            }
            StrategyKind::Subdomain => DataMethod::Rest,
            _ if zimbra_source => DataMethod::Zmbackup,
            _ => DataMethod::Imapsync,
        },
    };
    match data {
        DataMethod::Zmbackup | DataMethod::Rest if !zimbra_source => {
            return Err(super::RunbookError::Spec(spec.invalid(
                "data.method",
                format!(
                    "{data} needs a Zimbra source; {} is not one (use imapsync)",
                    source.name
                ),
            )))
        }
        DataMethod::Zmmailboxmove
            if !matches!(
                spec.strategy,
                StrategyKind::SameLdapNewMailstore | StrategyKind::DomainMove
            ) =>
        {
            return Err(super::RunbookError::Spec(spec.invalid(
                "data.method",
                "zmmailboxmove moves mailboxes between servers of one directory (strategies same-ldap-new-mailstore and domain-move)",
            )))
        }
        DataMethod::Zmbackup | DataMethod::Rest | DataMethod::Imapsync
            if spec.strategy == StrategyKind::SameLdapNewMailstore =>
        {
            return Err(super::RunbookError::Spec(spec.invalid(
                "data.method",
                "same-ldap-new-mailstore moves mailboxes with zmmailboxmove (or none)",
            )))
        }
        _ => {}
    }
    let mut ctx = Ctx {
        spec,
        world,
        source,
        target,
        target_dir,
        target_host,
        users,
        batches,
        data,
        notes,
    };
    if data == DataMethod::Imapsync {
        ctx.notes.push("The batches are not put in maintenance status: imapsync logs in to the accounts, and Zimbra refuses logins to accounts in maintenance. New mail reaches the new mailbox from the switch on; imapsync adds the old mail to it (run it again to catch up).".into());
    }
    let users_all = ctx.users.clone();
    let mut bp = match spec.strategy {
        StrategyKind::SplitPrimaryZimbra => split::primary_zimbra(ctx)?,
        StrategyKind::SplitPrimaryOther => split::primary_other(ctx)?,
        StrategyKind::Subdomain => sub::subdomain(ctx)?,
        StrategyKind::MtaHead => sub::mta_head(ctx)?,
        StrategyKind::SameLdapNewMailstore => {
            moves::same_ldap(ctx, source_host.unwrap_or_default())?
        }
        StrategyKind::DomainMove => moves::domain_move(ctx)?,
    };
    bp.users = users_all;
    // drop steps that do nothing
    bp.slots.retain(|s| match s {
        Slot::Step(s) => !s.actions.is_empty(),
        Slot::Batches => true,
    });
    for b in &mut bp.batches {
        b.steps.retain(|s| !s.actions.is_empty());
    }
    Ok(bp)
}

// ---------------------------------------------------------------------------------------
// Mailbox data

/// The endpoints of a data copy.
pub(crate) struct Copy<'a> {
    pub ctx: &'a Ctx<'a>,
    /// The host the data leaves (IMAP host or mailbox server).
    pub from_host: String,
    /// The system name of that host in the runbook.
    pub from_system: String,
    /// (source address, target address).
    pub users: &'a [(String, String)],
}

fn q(s: &str) -> String {
    super::render::shell_quote(s)
}

/// The data commands for a batch (empty for [`DataMethod::None`]).
pub(crate) fn data_actions(c: &Copy<'_>) -> Vec<Action> {
    let ctx = c.ctx;
    let dir = &ctx.spec.backup_dir;
    let to_host = ctx.target_host.clone();
    let to_system = ctx.target.name.clone();
    match ctx.data {
        DataMethod::None => Vec::new(),
        DataMethod::Imapsync => {
            let admin1 = ctx
                .spec
                .source
                .admin
                .clone()
                .unwrap_or_else(|| "admin".into());
            let admin2 = ctx
                .spec
                .target
                .admin
                .clone()
                .unwrap_or_else(|| "admin".into());
            let pass1 = ctx
                .spec
                .source
                .passfile
                .clone()
                .unwrap_or_else(|| "/root/migration/source-admin.pass".into());
            let pass2 = ctx
                .spec
                .target
                .passfile
                .clone()
                .unwrap_or_else(|| "/root/migration/zimbra-admin.pass".into());
            let imap1 = ctx
                .spec
                .source
                .host
                .clone()
                .unwrap_or_else(|| c.from_host.clone());
            let lines = c
                .users
                .iter()
                .map(|(s, t)| {
                    format!(
                        "imapsync --buffersize 8192000 --nosyncacls --subscribe --syncinternaldates \\\n  --host1 {} --user1 {} --authuser1 {} --passfile1 {} --authmech1 PLAIN \\\n  --host2 {} --user2 {} --authuser2 {} --passfile2 {} --authmech2 PLAIN",
                        q(&imap1),
                        q(s),
                        q(&admin1),
                        q(&pass1),
                        q(&to_host),
                        q(t),
                        q(&admin2),
                        q(&pass2)
                    )
                })
                .collect();
            vec![Action::Shell {
                system: "migration-host".into(),
                host: "any host that reaches both IMAP servers".into(),
                user: "any user".into(),
                lines,
            }]
        }
        DataMethod::Zmbackup => {
            let src: Vec<String> = c.users.iter().map(|(s, _)| q(s)).collect();
            let dst: Vec<String> = c.users.iter().map(|(_, t)| q(t)).collect();
            vec![
                Action::Shell {
                    system: c.from_system.clone(),
                    host: c.from_host.clone(),
                    user: "zimbra".into(),
                    lines: vec![
                        format!("mkdir -p {}", q(dir)),
                        format!("zmbackup -f -a {} -t {}", src.join(" "), q(dir)),
                        format!("rsync -a {}/ {}:{}/", q(dir), q(&to_host), q(dir)),
                    ],
                },
                Action::Shell {
                    system: to_system,
                    host: to_host,
                    user: "zimbra".into(),
                    lines: vec![format!("zmrestore -a {} -t {}", dst.join(" "), q(dir))],
                },
                Action::Reassert {
                    directory: ctx.target_dir.clone(),
                    host: ctx.target.hostname.clone(),
                    accounts: c.users.iter().map(|(_, t)| t.clone()).collect(),
                },
            ]
        }
        DataMethod::Rest => {
            let mut out = vec![format!("mkdir -p {}", q(dir))];
            for (s, _) in c.users {
                out.push(format!(
                    "zmmailbox -z -m {} getRestURL '//?fmt=tgz' > {}/{}.tgz",
                    q(s),
                    q(dir),
                    q(s)
                ));
            }
            out.push(format!("rsync -a {}/ {}:{}/", q(dir), q(&to_host), q(dir)));
            let ins: Vec<String> = c
                .users
                .iter()
                .map(|(s, t)| {
                    format!(
                        "zmmailbox -z -m {} postRestURL '//?fmt=tgz&resolve=skip' {}/{}.tgz",
                        q(t),
                        q(dir),
                        q(s)
                    )
                })
                .collect();
            vec![
                Action::Shell {
                    system: c.from_system.clone(),
                    host: c.from_host.clone(),
                    user: "zimbra".into(),
                    lines: out,
                },
                Action::Shell {
                    system: to_system,
                    host: to_host,
                    user: "zimbra".into(),
                    lines: ins,
                },
            ]
        }
        DataMethod::Zmmailboxmove => {
            let lines = c
                .users
                .iter()
                .map(|(s, _)| {
                    format!(
                        "zmmailboxmove -a {} -s {} -t {}",
                        q(s),
                        q(&c.from_host),
                        q(&to_host)
                    )
                })
                .collect();
            vec![Action::Shell {
                system: to_system,
                host: to_host,
                user: "zimbra".into(),
                lines,
            }]
        }
    }
}

/// Explanation of the data method for the copy step.
pub(crate) fn data_why(data: DataMethod) -> &'static str {
    match data {
        DataMethod::Imapsync => "imapsync logs in with admin authorisation on both sides (--authuser1/--authuser2, SASL PLAIN), so no user password is needed; run it again to pick up stragglers, it copies only what is missing.",
        DataMethod::Zmbackup => "zmbackup -f writes a full backup of the batch's accounts; zmrestore restores them into the accounts of the same name on the target. zmrestore also restores the accounts' LDAP attributes, so the step re-applies the routing attributes this runbook verified.",
        DataMethod::Rest => "zmmailbox exports each mailbox as a tgz over REST and imports it into the target account (resolve=skip keeps what is already there); any Zimbra edition, any account name.",
        DataMethod::Zmmailboxmove => "zmmailboxmove copies the mailbox between servers of one directory and updates zimbraMailHost when it completes (ZCS 8 and later: zmmboxmove -a USER --from OLD --to NEW).",
        DataMethod::None => "no mailbox data to copy.",
    }
}

/// The copy step of batch `i` (empty for [`DataMethod::None`]: dropped).
pub(crate) fn copy_step(c: &Copy<'_>, i: usize, title: String) -> StepDef {
    let mut step = StepDef::new("copy", title)
        .in_batch(i)
        .why(data_why(c.ctx.data));
    for a in data_actions(c) {
        step = step.act(a);
    }
    step
}

/// The end of a batch whose copy runs last: the copy, then (with maintenance) `activate`.
pub(crate) fn copy_then_activate(
    c: &Copy<'_>,
    i: usize,
    batch: &str,
    maint: bool,
    steps: &mut Vec<StepDef>,
) {
    steps.push(copy_step(c, i, format!("{batch}: copy the mailboxes")));
    if maint {
        let names: Vec<String> = c.users.iter().map(|(_, t)| t.clone()).collect();
        steps.push(activate_step(
            c.ctx,
            i,
            format!("{batch}: back in service"),
            &names,
            &names,
        ));
    }
}

/// The maintenance step of batch `i` (named `batch`) on the source: its accounts `users` to
/// `maintenance` while their data is backed up, `why` the strategy's reason.
pub(crate) fn source_maintenance(
    ctx: &Ctx<'_>,
    i: usize,
    batch: &str,
    users: &[String],
    why: &str,
) -> StepDef {
    StepDef::new(
        "maintenance",
        format!("{batch}: maintenance status on {}", ctx.source.name),
    )
    .in_batch(i)
    .why(why)
    .act(ctx.zmprov_source(status_lines(users, "maintenance")))
    .probes(users.iter().take(2).cloned())
}

/// The activate step of batch `i`: the target accounts `users` back to `active`.
pub(crate) fn activate_step(
    ctx: &Ctx<'_>,
    i: usize,
    title: String,
    users: &[String],
    probes: &[String],
) -> StepDef {
    StepDef::new("activate", title)
        .in_batch(i)
        .why("The copy is complete: the accounts accept logins and deliveries again; the queued mail is delivered.")
        .act(ctx.zmprov_target(status_lines(users, "active")))
        .probes(probes.iter().take(2).cloned())
}

/// `zmprov ca` of each target account (on the target mailbox server, in maintenance while
/// its data is copied), with the source aliases renamed by `alias`.
pub(crate) fn create_lines(
    ctx: &Ctx<'_>,
    users: &[(String, String)],
    maint: bool,
    alias: impl Fn(&str) -> String,
) -> Vec<String> {
    let tdir = ctx.target_directory();
    let mut out = Vec::new();
    for (s, t) in users {
        let mut w = vec![
            "ca",
            t.as_str(),
            "",
            "zimbraMailHost",
            ctx.target_host.as_str(),
        ];
        if maint {
            w.extend(["zimbraAccountStatus", "maintenance"]);
        }
        out.push(zline(&w));
        for a in ctx.source_aliases(s) {
            let a = alias(&a);
            if tdir.name_in_use(&a).is_none() {
                out.push(zline(&["aaa", t, &a]));
            }
        }
    }
    out
}

/// The MX actions that point every domain of `domains` at `host` (those not there yet).
pub(crate) fn mx_actions(ctx: &Ctx<'_>, domains: &[String], host: &str) -> Vec<Action> {
    domains
        .iter()
        .filter_map(|d| {
            let want = vec![(10u16, host.to_string())];
            (ctx.world.dns.mx_of(d).unwrap_or_default() != want).then(|| Action::Mx {
                domain: d.clone(),
                records: want,
            })
        })
        .collect()
}

/// `zmprov ma USER zimbraAccountStatus STATUS` for each user.
pub(crate) fn status_lines(users: &[String], status: &str) -> Vec<String> {
    users
        .iter()
        .map(|u| zline(&["ma", u, "zimbraAccountStatus", status]))
        .collect()
}
