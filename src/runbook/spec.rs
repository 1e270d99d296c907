//! The migration spec (TOML): what to move, from where, to where, how, in which batches.
//! The keys are documented in the [module documentation](super).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::tables::{Cx, RawMta, RawTopology};
use super::world::{DirSource, World};
use crate::model::{Address, DomainName};
use crate::scenario::{RawDirectory, RawDns};

/// Errors reading a migration spec: the file, the line and the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// A file (the spec, its topology, a batch file, an LDIF) cannot be read.
    #[error("{file}: {message}")]
    Io {
        /// The file.
        file: String,
        /// The I/O error.
        message: String,
    },
    /// TOML syntax, an unknown key or a value of the wrong type.
    #[error("{file}:{line}: {message}")]
    Toml {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// A value that parses but does not make sense.
    #[error("{file}:{line}: {key}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// The key.
        key: String,
        /// Why.
        message: String,
    },
}

/// How users move: the migration strategies of the seed runbook (see the
/// [module documentation](super) for what each needs and when to pick it).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    strum::Display,
    strum::EnumString,
    strum::EnumIter,
    strum::IntoStaticStr,
)]
#[strum(serialize_all = "kebab-case")]
pub enum StrategyKind {
    /// Seed "Split-Domain Example 1": Zimbra becomes authoritative, the old system secondary.
    SplitPrimaryZimbra,
    /// Seed "Split-Domain Example 2": the old system stays authoritative, Zimbra is secondary.
    SplitPrimaryOther,
    /// Seed "Second Possibility": migrated users move to a sub-domain on the new Zimbra.
    Subdomain,
    /// Seed "Third Possibility": a front MTA routes each user to the back end holding it.
    MtaHead,
    /// Seed "Old ZCS To New ZCS - Using LDAP Replica": a new mailbox server in the same
    /// directory; accounts move by `zimbraMailHost`.
    SameLdapNewMailstore,
    /// Seed "Old ZCS Email Domains To Another ZCS With Existing Domains": the domain's LDAP
    /// entries move into the other directory, the old server serves as its mailstore.
    DomainMove,
}

/// How mailbox contents are copied.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::Display, strum::EnumString, strum::IntoStaticStr,
)]
#[strum(serialize_all = "kebab-case")]
pub enum DataMethod {
    /// `imapsync` with admin authorisation on both sides (non-Zimbra IMAP sources).
    Imapsync,
    /// `zmbackup -f` on the source, `zmrestore` on the target (Zimbra Network Edition).
    Zmbackup,
    /// `zmmailbox getRestURL`/`postRestURL` (any Zimbra edition, into an existing account).
    Rest,
    /// `zmmailboxmove` between mailbox servers of one directory.
    Zmmailboxmove,
    /// No data to copy (new, empty mailboxes).
    None,
}

/// How the move LDIF reaches the target directory (strategy `domain-move`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::Display, strum::EnumString, strum::IntoStaticStr,
)]
#[strum(serialize_all = "kebab-case")]
pub enum LoadMethod {
    /// Offline: stop the target's LDAP, `slapadd`, start it.
    Slapadd,
    /// Live: `ldapadd` (and `ldapmodify` for merges into existing entries).
    Ldapadd,
}

/// One user of a batch, with where the spec named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchUser {
    /// The address (lower case).
    pub address: String,
    /// The file naming it (the spec or a batch file).
    pub file: String,
    /// 1-based line.
    pub line: usize,
}

/// The users of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchUsers {
    /// Listed (in the spec or a file).
    List(Vec<BatchUser>),
    /// Every user of the source not listed in another batch.
    AllRemaining,
}

/// A batch of users moved together (one maintenance window).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Its name (`batch N` unless given).
    pub name: String,
    /// Its users.
    pub users: BatchUsers,
    /// Line of its `[[batch]]` table.
    pub line: usize,
}

/// One side of the migration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Endpoint {
    /// The MTA (by its name in the topology).
    pub mta: String,
    /// The mailbox server (target) or IMAP host (source); default: the MTA's host name.
    pub host: Option<String>,
    /// The admin account `imapsync` authenticates as (`--authuser1`/`--authuser2`).
    pub admin: Option<String>,
    /// The file holding that admin's password (`--passfile1`/`--passfile2`).
    pub passfile: Option<String>,
}

/// The ordering the spec asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrderSpec {
    /// The order of the global steps (`prepare-target`, `configure-source`, `mx-switch`,
    /// `batches`, `unset`, ...), when given.
    pub steps: Option<Vec<String>>,
    /// The order of the steps of each batch (`create`, `maintenance`, `switch`,
    /// `retire-source`, `copy`, `activate`), when given.
    pub batch: Option<Vec<String>>,
    /// Refuse instead of reordering when the asked order is unsafe.
    pub fixed: bool,
}

/// `[subdomain]`: the sub-domain users move to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubdomainSpec {
    /// The sub-domain (`migrate.company.com`).
    pub name: String,
    /// Add the seed's catch-all canonical address (`@company.com`) to the sub-domain.
    pub canonical: bool,
}

/// `[mta_head]`: the front MTA and the routing names of the two back ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadSpec {
    /// The head MTA's name (an MTA of the topology, or a new one when `hostname` is given).
    pub mta: String,
    /// The host name of a new head MTA (added by the runbook).
    pub hostname: Option<String>,
    /// The alias domain naming the source back end (default `client.DOMAIN`).
    pub source_alias: Option<String>,
    /// The alias domain naming the target back end (default `hosting.DOMAIN`).
    pub target_alias: Option<String>,
}

/// `[move]`: options of the domain move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveSpec {
    /// Rename the domain on the way.
    pub rename: Option<String>,
    /// Old mail host → new mail host.
    pub map_hosts: Vec<(String, String)>,
    /// Give moved entries whose `zimbraId` the target uses a new one.
    pub regenerate_ids: bool,
    /// How the LDIF is loaded.
    pub load: LoadMethod,
}

/// A parsed migration spec (see the [module documentation](super) for the keys).
#[derive(Debug, Clone)]
pub struct Spec {
    /// The spec's name.
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// The strategy.
    pub strategy: StrategyKind,
    /// The mail domains migrated (lower case).
    pub domains: Vec<String>,
    /// The old system.
    pub source: Endpoint,
    /// The new system.
    pub target: Endpoint,
    /// How mailbox data moves (`None`: the strategy's default for the source).
    pub data: Option<DataMethod>,
    /// Where backups and exports are written.
    pub backup_dir: String,
    /// A catch-all account for recipients neither system has (`split-primary-zimbra`).
    pub catch_all: Option<String>,
    /// The batches, in order.
    pub batches: Vec<Batch>,
    /// The ordering asked for.
    pub order: OrderSpec,
    /// `[subdomain]`.
    pub subdomain: Option<SubdomainSpec>,
    /// `[mta_head]`.
    pub mta_head: Option<HeadSpec>,
    /// `[move]`.
    pub moving: Option<MoveSpec>,
    /// Tolerate failing findings the current topology already has (reported, not fixed).
    pub accept_initial_findings: bool,
    /// End with the seed's "Unsetting" step (default: when every user moves).
    pub unset: Option<bool>,
    pub(crate) world: World,
    pub(crate) sources: BTreeMap<String, DirSource>,
    pub(crate) lines: BTreeMap<String, usize>,
}

impl Spec {
    /// The line of a key in the spec (1 when unknown).
    pub(crate) fn line(&self, key: &str) -> usize {
        self.lines.get(key).copied().unwrap_or(1)
    }

    /// An [`SpecError::Invalid`] about `key`.
    pub(crate) fn invalid(&self, key: &str, message: impl Into<String>) -> SpecError {
        SpecError::Invalid {
            file: self.file.clone(),
            line: self.line(key),
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// Read a spec file. Relative paths in it (`topology`, `ldif`, batch `file`) are relative
    /// to the spec's directory.
    pub fn load(path: &Path) -> Result<Spec, SpecError> {
        let file = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|e| SpecError::Io {
            file: file.clone(),
            message: e.to_string(),
        })?;
        parse_in(&src, &file, path.parent())
    }

    /// Parse spec text; `file` names it in errors; relative paths are relative to the current
    /// directory.
    ///
    /// ```
    /// use zimbra_prov::runbook::{Spec, StrategyKind};
    /// let spec = Spec::parse(r#"
    /// strategy = "split-primary-zimbra"
    /// domains = ["example.org"]
    /// source = { mta = "exchange" }
    /// target = { mta = "zimbra" }
    /// [[directory]]
    /// name = "zcs"
    /// zmprov = "cs mx.example.org"
    /// [[mta]]
    /// name = "zimbra"
    /// kind = "zimbra"
    /// hostname = "mx.example.org"
    /// directory = "zcs"
    /// [[mta]]
    /// name = "exchange"
    /// kind = "foreign"
    /// hostname = "exchange.example.org"
    /// domains = ["example.org"]
    /// mailboxes = ["bob@example.org"]
    /// [[batch]]
    /// users = "all-remaining"
    /// "#, "inline.toml").unwrap();
    /// assert_eq!(spec.strategy, StrategyKind::SplitPrimaryZimbra);
    /// let err = Spec::parse("strategy = \"sideways\"\n", "bad.toml").unwrap_err();
    /// assert!(err.to_string().starts_with("bad.toml:1: strategy: unknown strategy \"sideways\""), "{err}");
    /// ```
    pub fn parse(src: &str, file: &str) -> Result<Spec, SpecError> {
        parse_in(src, file, None)
    }
}

// ---------------------------------------------------------------------------------------
// Raw TOML

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    mta: Option<Spanned<String>>,
    host: Option<Spanned<String>>,
    admin: Option<String>,
    passfile: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RawUsers {
    Keyword(String),
    List(Vec<String>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBatch {
    name: Option<Spanned<String>>,
    users: Option<Spanned<RawUsers>>,
    file: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrder {
    steps: Option<Spanned<Vec<String>>>,
    batch: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    fixed: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawData {
    method: Option<Spanned<String>>,
    backup_dir: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubdomain {
    name: Spanned<String>,
    #[serde(default)]
    canonical: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHead {
    mta: Spanned<String>,
    hostname: Option<String>,
    source_alias: Option<Spanned<String>>,
    target_alias: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMove {
    rename: Option<Spanned<String>>,
    #[serde(default)]
    map_hosts: BTreeMap<String, String>,
    #[serde(default)]
    regenerate_ids: bool,
    load: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    name: Option<String>,
    #[allow(dead_code)]
    description: Option<String>,
    strategy: Spanned<String>,
    domains: Option<Spanned<Vec<String>>>,
    topology: Option<Spanned<String>>,
    #[serde(default)]
    directory: Vec<RawDirectory>,
    #[serde(default)]
    mta: Vec<RawMta>,
    dns: Option<RawDns>,
    source: Option<Spanned<RawEndpoint>>,
    target: Option<Spanned<RawEndpoint>>,
    data: Option<RawData>,
    catch_all: Option<Spanned<String>>,
    #[serde(default)]
    batch: Vec<Spanned<RawBatch>>,
    order: Option<RawOrder>,
    subdomain: Option<RawSubdomain>,
    mta_head: Option<RawHead>,
    #[serde(rename = "move")]
    moving: Option<Spanned<RawMove>>,
    #[serde(default)]
    accept_initial_findings: bool,
    unset: Option<bool>,
}

// ---------------------------------------------------------------------------------------
// Building

fn parse_in(src: &str, file: &str, base: Option<&Path>) -> Result<Spec, SpecError> {
    let cx = Cx { file, src, base };
    let raw: RawSpec = cx.toml()?;
    let mut lines: BTreeMap<String, usize> = BTreeMap::new();
    let strategy = raw
        .strategy
        .get_ref()
        .parse::<StrategyKind>()
        .map_err(|_| {
            use strum::IntoEnumIterator;
            let all: Vec<String> = StrategyKind::iter().map(|s| s.to_string()).collect();
            cx.invalid(
                raw.strategy.span().start,
                "strategy",
                format!(
                    "unknown strategy {:?} (expected one of {})",
                    raw.strategy.get_ref(),
                    all.join(", ")
                ),
            )
        })?;
    lines.insert("strategy".into(), cx.line(raw.strategy.span().start));

    // the topology: a scenario file or the inline tables
    let inline = !raw.directory.is_empty() || !raw.mta.is_empty() || raw.dns.is_some();
    let (world, sources) = match &raw.topology {
        Some(t) if inline => {
            return Err(cx.invalid(
                t.span().start,
                "topology",
                "give the topology as a scenario file or as [[directory]]/[[mta]]/[dns] tables, not both",
            ))
        }
        Some(t) => {
            lines.insert("topology".into(), cx.line(t.span().start));
            let path = cx.path(t.get_ref());
            let tfile = path.display().to_string();
            let tsrc = std::fs::read_to_string(&path).map_err(|e| {
                cx.invalid(t.span().start, "topology", format!("{tfile}: {e}"))
            })?;
            let tcx = Cx {
                file: &tfile,
                src: &tsrc,
                base: path.parent(),
            };
            let rt: RawTopology = tcx.toml()?;
            tcx.world(&rt.directory, &rt.mta, rt.dns.as_ref())?
        }
        None => cx.world(&raw.directory, &raw.mta, raw.dns.as_ref())?,
    };
    if world.mtas.is_empty() {
        return Err(SpecError::Invalid {
            file: file.to_string(),
            line: 1,
            key: "mta".into(),
            message:
                "the topology has no MTA (give `topology = \"scenario.toml\"` or [[mta]] tables)"
                    .into(),
        });
    }

    // domains
    let domains: Vec<String> = match &raw.domains {
        Some(d) => {
            lines.insert("domains".into(), cx.line(d.span().start));
            let mut out = Vec::new();
            for s in d.get_ref() {
                let dn = DomainName::parse(s.trim()).map_err(|e| {
                    cx.invalid(
                        d.span().start,
                        "domains",
                        format!("{s:?} is not a domain name: {e}"),
                    )
                })?;
                let lc = dn.as_str().to_ascii_lowercase();
                if !out.contains(&lc) {
                    out.push(lc);
                }
            }
            if out.is_empty() {
                return Err(cx.invalid(d.span().start, "domains", "empty list"));
            }
            out
        }
        None => {
            return Err(SpecError::Invalid {
                file: file.to_string(),
                line: 1,
                key: "domains".into(),
                message: "missing: the mail domain(s) to migrate, e.g. domains = [\"example.com\"]"
                    .into(),
            })
        }
    };

    let endpoint = |raw: &Option<Spanned<RawEndpoint>>,
                    key: &str,
                    lines: &mut BTreeMap<String, usize>|
     -> Result<Endpoint, SpecError> {
        let Some(r) = raw else {
            return Err(SpecError::Invalid {
                file: file.to_string(),
                line: 1,
                key: key.to_string(),
                message: format!("missing: {key} = {{ mta = \"NAME\" }} (an MTA of the topology)"),
            });
        };
        let at = r.span().start;
        lines.insert(key.to_string(), cx.line(at));
        let r = r.get_ref();
        let mta = r
            .mta
            .as_ref()
            .ok_or_else(|| cx.invalid(at, &format!("{key}.mta"), "missing: the MTA's name"))?;
        lines.insert(format!("{key}.mta"), cx.line(mta.span().start));
        if world.mta(mta.get_ref()).is_none() {
            let names: Vec<&str> = world.mtas.iter().map(|m| m.name.as_str()).collect();
            return Err(cx.invalid(
                mta.span().start,
                &format!("{key}.mta"),
                format!(
                    "no MTA named {:?} in the topology (MTAs: {})",
                    mta.get_ref(),
                    names.join(", ")
                ),
            ));
        }
        if let Some(h) = &r.host {
            lines.insert(format!("{key}.host"), cx.line(h.span().start));
        }
        Ok(Endpoint {
            mta: mta.get_ref().clone(),
            host: r
                .host
                .as_ref()
                .map(|h| h.get_ref().trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty()),
            admin: r.admin.clone().filter(|s| !s.is_empty()),
            passfile: r.passfile.clone().filter(|s| !s.is_empty()),
        })
    };
    let source = endpoint(&raw.source, "source", &mut lines)?;
    let target = endpoint(&raw.target, "target", &mut lines)?;
    if source.mta == target.mta && strategy != StrategyKind::SameLdapNewMailstore {
        return Err(cx.invalid(
            raw.target.as_ref().map(|t| t.span().start).unwrap_or(0),
            "target.mta",
            format!(
                "source and target are the same MTA {:?} (strategy same-ldap-new-mailstore moves mailboxes behind one MTA)",
                source.mta
            ),
        ));
    }

    // data
    let (data, backup_dir) = match &raw.data {
        Some(d) => {
            let m = match &d.method {
                Some(m) => {
                    lines.insert("data.method".into(), cx.line(m.span().start));
                    Some(m.get_ref().parse::<DataMethod>().map_err(|_| {
                        cx.invalid(
                            m.span().start,
                            "data.method",
                            format!(
                                "unknown method {:?} (expected imapsync, zmbackup, rest, zmmailboxmove or none)",
                                m.get_ref()
                            ),
                        )
                    })?)
                }
                None => None,
            };
            (m, d.backup_dir.clone())
        }
        None => (None, None),
    };
    let backup_dir = backup_dir
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "/opt/zimbra/backup/migration".into());
    if backup_dir.contains(['\'', '\n', '"', '$', '`', '\\']) {
        return Err(SpecError::Invalid {
            file: file.to_string(),
            line: 1,
            key: "data.backup_dir".into(),
            message: "quotes, backslashes, `$`, backquotes and newlines are not allowed".into(),
        });
    }

    let catch_all = match &raw.catch_all {
        Some(c) => {
            lines.insert("catch_all".into(), cx.line(c.span().start));
            let a = Address::parse(c.get_ref().trim()).map_err(|e| {
                cx.invalid(c.span().start, "catch_all", format!("not an address: {e}"))
            })?;
            let lc = a.to_string().to_ascii_lowercase();
            if !domains.iter().any(|d| lc.ends_with(&format!("@{d}"))) {
                return Err(cx.invalid(
                    c.span().start,
                    "catch_all",
                    format!(
                        "{lc} is not in the migrated domain(s) {}",
                        domains.join(", ")
                    ),
                ));
            }
            Some(lc)
        }
        None => None,
    };

    // batches
    let mut batches = Vec::new();
    let mut seen: BTreeMap<String, (String, usize)> = BTreeMap::new();
    let mut remaining_seen = false;
    for (i, b) in raw.batch.iter().enumerate() {
        let at = b.span().start;
        let line = cx.line(at);
        let rb = b.get_ref();
        let name = rb
            .name
            .as_ref()
            .map(|n| n.get_ref().trim().to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("batch {}", i + 1));
        let users = match (rb.users.as_ref().map(|u| (u.get_ref(), u.span())), &rb.file) {
            (Some((RawUsers::Keyword(k), span)), None) => {
                if k != "all-remaining" {
                    return Err(cx.invalid(
                        span.start,
                        "batch.users",
                        format!("{k:?}: give a list of addresses or \"all-remaining\""),
                    ));
                }
                if remaining_seen {
                    return Err(cx.invalid(
                        span.start,
                        "batch.users",
                        "only one batch can take \"all-remaining\"",
                    ));
                }
                remaining_seen = true;
                BatchUsers::AllRemaining
            }
            (Some((RawUsers::List(list), span)), None) => {
                let text = src.get(span.clone()).unwrap_or("");
                let mut from = 0usize;
                let mut v = Vec::new();
                for u in list {
                    // the user's own line: its first occurrence after the previous one
                    let off = text
                        .get(from..)
                        .and_then(|t| t.find(u.as_str()))
                        .map(|o| from + o)
                        .unwrap_or(from);
                    from = off + u.len().min(text.len().saturating_sub(off));
                    let at = span.start + off;
                    v.push(BatchUser {
                        address: check_user(u, &domains)
                            .map_err(|m| cx.invalid(at, "batch.users", m))?,
                        file: file.to_string(),
                        line: cx.line(at),
                    });
                }
                BatchUsers::List(v)
            }
            (None, Some(f)) => {
                let path = cx.path(f.get_ref());
                let ffile = path.display().to_string();
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    cx.invalid(f.span().start, "batch.file", format!("{ffile}: {e}"))
                })?;
                let mut v = Vec::new();
                for (n, l) in text.lines().enumerate() {
                    let l = l.split('#').next().unwrap_or("").trim();
                    if l.is_empty() {
                        continue;
                    }
                    v.push(BatchUser {
                        address: check_user(l, &domains).map_err(|m| SpecError::Invalid {
                            file: ffile.clone(),
                            line: n + 1,
                            key: "batch.file".into(),
                            message: m,
                        })?,
                        file: ffile.clone(),
                        line: n + 1,
                    });
                }
                BatchUsers::List(v)
            }
            _ => {
                return Err(cx.invalid(
                    at,
                    "batch",
                    "give exactly one of users (a list or \"all-remaining\") and file",
                ))
            }
        };
        if let BatchUsers::List(v) = &users {
            if v.is_empty() {
                return Err(cx.invalid(at, "batch", format!("{name} has no users")));
            }
            for u in v {
                if let Some((other, l)) = seen.get(&u.address) {
                    return Err(SpecError::Invalid {
                        file: u.file.clone(),
                        line: u.line,
                        key: "batch.users".into(),
                        message: format!(
                            "{} is already in {other} (line {l}); a user moves once",
                            u.address
                        ),
                    });
                }
                seen.insert(u.address.clone(), (name.clone(), u.line));
            }
        }
        batches.push(Batch { name, users, line });
    }
    if batches.is_empty() {
        return Err(SpecError::Invalid {
            file: file.to_string(),
            line: 1,
            key: "batch".into(),
            message: "no [[batch]]: list the users to move (users = [...], file = \"...\" or users = \"all-remaining\")".into(),
        });
    }

    // order
    let order = match &raw.order {
        Some(o) => {
            if let Some(s) = &o.steps {
                lines.insert("order.steps".into(), cx.line(s.span().start));
                check_names(&cx, s, "order.steps", super::steps::GLOBAL_STEPS)?;
            }
            if let Some(b) = &o.batch {
                lines.insert("order.batch".into(), cx.line(b.span().start));
                check_names(&cx, b, "order.batch", super::steps::BATCH_STEPS)?;
            }
            OrderSpec {
                steps: o.steps.as_ref().map(|s| s.get_ref().clone()),
                batch: o.batch.as_ref().map(|s| s.get_ref().clone()),
                fixed: o.fixed,
            }
        }
        None => OrderSpec::default(),
    };

    let subdomain = match &raw.subdomain {
        Some(s) => {
            lines.insert("subdomain.name".into(), cx.line(s.name.span().start));
            let d = DomainName::parse(s.name.get_ref().trim())
                .map_err(|e| cx.invalid(s.name.span().start, "subdomain.name", e.to_string()))?;
            Some(SubdomainSpec {
                name: d.as_str().to_ascii_lowercase(),
                canonical: s.canonical,
            })
        }
        None => None,
    };
    let mta_head = match &raw.mta_head {
        Some(h) => {
            lines.insert("mta_head.mta".into(), cx.line(h.mta.span().start));
            let alias =
                |a: &Option<Spanned<String>>, key: &str| -> Result<Option<String>, SpecError> {
                    a.as_ref()
                        .map(|a| {
                            DomainName::parse(a.get_ref().trim())
                                .map(|d| d.as_str().to_ascii_lowercase())
                                .map_err(|e| cx.invalid(a.span().start, key, e.to_string()))
                        })
                        .transpose()
                };
            Some(HeadSpec {
                mta: h.mta.get_ref().clone(),
                hostname: h
                    .hostname
                    .clone()
                    .map(|s| s.trim().to_ascii_lowercase())
                    .filter(|s| !s.is_empty()),
                source_alias: alias(&h.source_alias, "mta_head.source_alias")?,
                target_alias: alias(&h.target_alias, "mta_head.target_alias")?,
            })
        }
        None => None,
    };
    let moving = match &raw.moving {
        Some(m) => {
            lines.insert("move".into(), cx.line(m.span().start));
            let m = m.get_ref();
            let load = match &m.load {
                Some(l) => l.get_ref().parse::<LoadMethod>().map_err(|_| {
                    cx.invalid(
                        l.span().start,
                        "move.load",
                        format!("{:?}: expected slapadd or ldapadd", l.get_ref()),
                    )
                })?,
                None => LoadMethod::Slapadd,
            };
            if let Some(r) = &m.rename {
                lines.insert("move.rename".into(), cx.line(r.span().start));
            }
            Some(MoveSpec {
                rename: m
                    .rename
                    .as_ref()
                    .map(|r| r.get_ref().trim().to_ascii_lowercase())
                    .filter(|r| !r.is_empty()),
                map_hosts: m
                    .map_hosts
                    .iter()
                    .map(|(a, b)| (a.to_ascii_lowercase(), b.to_ascii_lowercase()))
                    .collect(),
                regenerate_ids: m.regenerate_ids,
                load,
            })
        }
        None => None,
    };

    Ok(Spec {
        name: raw.name.clone().unwrap_or_else(|| file.to_string()),
        file: file.to_string(),
        strategy,
        domains,
        source,
        target,
        data,
        backup_dir,
        catch_all,
        batches,
        order,
        subdomain,
        mta_head,
        moving,
        accept_initial_findings: raw.accept_initial_findings,
        unset: raw.unset,
        world,
        sources,
        lines,
    })
}

fn check_names(
    cx: &Cx<'_>,
    names: &Spanned<Vec<String>>,
    key: &str,
    allowed: &[&str],
) -> Result<(), SpecError> {
    let mut seen = BTreeSet::new();
    for n in names.get_ref() {
        if !allowed.contains(&n.as_str()) {
            return Err(cx.invalid(
                names.span().start,
                key,
                format!("unknown step {n:?} (expected {})", allowed.join(", ")),
            ));
        }
        if !seen.insert(n) {
            return Err(cx.invalid(names.span().start, key, format!("{n:?} is listed twice")));
        }
    }
    Ok(())
}

/// A batch address: valid, lower-cased, in one of the migrated domains.
fn check_user(s: &str, domains: &[String]) -> Result<String, String> {
    let a = Address::parse(s.trim()).map_err(|e| format!("{s:?} is not an address: {e}"))?;
    let lc = a.to_string().to_ascii_lowercase();
    let dom = a.domain().as_str().to_ascii_lowercase();
    if !domains.contains(&dom) {
        return Err(format!(
            "{lc} is not in the migrated domain(s) {}",
            domains.join(", ")
        ));
    }
    Ok(lc)
}
