//! Planning a domain move from one Zimbra directory into another.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use super::classify::{classify, domain_of_dn, EntryKind};
use super::read::EntryReader;
use super::write::{synthesize_parent, write_directory, write_entries, WriteOptions};
use super::DitError;
use crate::dn::Dn;
use crate::ldif::{Change, ChangeOp, ModOp, Modification, Writer, WriterOptions};
use crate::model::{
    names, Address, AttrBag, AttrValue, Directory, DomainName, IdGenerator, RawEntry,
};

/// What happens to the `zimbraId`s of the moved entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum IdPolicy {
    /// Keep every id; an id the target already uses is a [`Conflict::IdInUse`].
    #[default]
    Keep,
    /// Give a new id to each moved entry whose id the target already uses.
    RegenerateOnCollision,
    /// Give every moved entry a new id.
    RegenerateAll,
}

/// Options of [`plan_move`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveOptions {
    /// Rename the domain on the way (`company.com` → `migrate.company.com`), as `zmprov rd`
    /// does: DNs rebased, address attributes rewritten.
    pub rename: Option<String>,
    /// Old mail host → new mail host (`zimbraMailHost`, and the host of `lmtp:` transports).
    pub map_hosts: Vec<(String, String)>,
    /// What to do with ids.
    pub ids: IdPolicy,
    /// Source COS name → target COS name (case-insensitive); COSes not listed map to the
    /// target COS of the same name.
    pub cos_map: Vec<(String, String)>,
    /// Copy a used COS that the target lacks (default true); otherwise it is a
    /// [`Conflict::CosMissing`].
    pub copy_missing_cos: bool,
    /// Move the alias domains of the domain with it (default true).
    pub include_alias_domains: bool,
    /// Copy the server entries of mail hosts that the target lacks (default false).
    pub include_servers: bool,
    /// Seed of the generator of new ids.
    pub id_seed: u64,
}

impl Default for MoveOptions {
    fn default() -> Self {
        MoveOptions {
            rename: None,
            map_hosts: Vec::new(),
            ids: IdPolicy::Keep,
            cos_map: Vec::new(),
            copy_missing_cos: true,
            include_alias_domains: true,
            include_servers: false,
            id_seed: 0x2b1d_d0e5,
        }
    }
}

/// A reason the move cannot be written. Each finding names the entries involved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Conflict {
    /// The target already has a domain of that name.
    DomainExists {
        /// The domain name (after renaming).
        domain: String,
        /// The target's entry.
        target_dn: String,
    },
    /// An address of a moved entry is already used in the target (or by another moved
    /// entry); the target's unique overlay on `mail` would refuse it, and Zimbra's address
    /// lookups would be ambiguous.
    AddressInUse {
        /// The address (lower case).
        address: String,
        /// The attribute of the moved entry holding it.
        attribute: String,
        /// The moved entry (its new DN).
        dn: String,
        /// The entry that already has it.
        target_dn: String,
    },
    /// A moved entry's `zimbraId` is already used in the target.
    IdInUse {
        /// The id.
        id: String,
        /// The moved entry (its new DN).
        dn: String,
        /// The target entry with that id.
        target_dn: String,
    },
    /// Moved entries use a COS that the target lacks, no mapping covers, and that is not
    /// copied.
    CosMissing {
        /// The COS id referenced.
        cos_id: String,
        /// Its name in the source, when the source has it.
        cos_name: Option<String>,
        /// One entry that uses it.
        used_by: String,
        /// How many moved entries use it.
        count: usize,
    },
    /// A COS mapping names a target COS that does not exist.
    CosMapTargetMissing {
        /// Source COS name.
        source_cos: String,
        /// Target COS name asked for.
        target_cos: String,
    },
    /// Moved entries live on a mail host (after mapping) for which the target has no server
    /// and none is copied.
    MailHostUnknown {
        /// The host name.
        host: String,
        /// One entry that uses it.
        used_by: String,
        /// How many moved entries use it.
        count: usize,
    },
    /// A moved entry's DN already exists in the target.
    DnExists {
        /// The DN.
        dn: String,
    },
    /// A moved alias domain points at a domain that is neither moved nor in the target.
    AliasDomainTargetNotMoved {
        /// The alias domain.
        alias_domain: String,
        /// Its `zimbraDomainAliasTargetId`.
        target_id: String,
    },
    /// A moved alias entry points at an object that is neither moved nor in the target.
    AliasTargetNotMoved {
        /// The alias address.
        alias: String,
        /// The alias entry (its new DN).
        dn: String,
        /// Its `zimbraAliasTargetId`.
        target_id: String,
    },
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Conflict::DomainExists { domain, target_dn } => {
                write!(f, "domain {domain} already exists in the target ({target_dn})")
            }
            Conflict::AddressInUse {
                address,
                attribute,
                dn,
                target_dn,
            } => write!(
                f,
                "address {address} ({attribute} of {dn}) is already used by {target_dn}"
            ),
            Conflict::IdInUse { id, dn, target_dn } => write!(
                f,
                "zimbraId {id} of {dn} is already used by {target_dn} (use --regenerate-ids)"
            ),
            Conflict::CosMissing {
                cos_id,
                cos_name,
                used_by,
                count,
            } => write!(
                f,
                "COS {} ({cos_id}) used by {count} entr{} (e.g. {used_by}) is missing in the target and not mapped",
                cos_name.as_deref().unwrap_or("<unknown>"),
                if *count == 1 { "y" } else { "ies" }
            ),
            Conflict::CosMapTargetMissing {
                source_cos,
                target_cos,
            } => write!(
                f,
                "COS mapping {source_cos}={target_cos}: the target has no COS {target_cos}"
            ),
            Conflict::MailHostUnknown {
                host,
                used_by,
                count,
            } => write!(
                f,
                "mail host {host} of {count} entr{} (e.g. {used_by}) has no server in the target (use --map-host)",
                if *count == 1 { "y" } else { "ies" }
            ),
            Conflict::DnExists { dn } => write!(f, "entry {dn} already exists in the target"),
            Conflict::AliasDomainTargetNotMoved {
                alias_domain,
                target_id,
            } => write!(
                f,
                "alias domain {alias_domain} points at domain {target_id}, which is neither moved nor in the target"
            ),
            Conflict::AliasTargetNotMoved {
                alias,
                dn,
                target_id,
            } => write!(
                f,
                "alias {alias} ({dn}) points at {target_id}, which is neither moved nor in the target"
            ),
        }
    }
}

/// Work the move leaves to be done by hand (the seed runbook: "adjustments would also need
/// to be done in regards to auth keys and server certs").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FollowUp {
    /// Authentication keys do not carry over: tokens signed by the source's
    /// `zimbraAuthTokenKey` are invalid on the target (users log in again), and the domain's
    /// preauth key must be given to whatever uses it.
    AuthKeys {
        /// The domain (after renaming).
        domain: String,
        /// Key attributes the moved domain entry carries (e.g. `zimbraPreAuthKey`).
        domain_keys: Vec<String>,
    },
    /// Certificates must cover the moved domain on the target's servers.
    Certificates {
        /// The domain (after renaming).
        domain: String,
        /// Target mail hosts of the moved entries.
        hosts: Vec<String>,
        /// The domain's `zimbraVirtualHostname`s.
        virtual_hosts: Vec<String>,
        /// Whether the domain entry carries its own certificate (`zimbraSSLCertificate`).
        domain_certificate: bool,
    },
    /// Mailbox contents are not in LDAP: move them (zmmailboxmove, backup/restore).
    MailboxData {
        /// Source host.
        from: String,
        /// Target host.
        to: String,
        /// Entries moved between them.
        entries: usize,
    },
    /// DKIM keys are tied to the domain name and DNS: regenerate and publish.
    Dkim {
        /// The domain (after renaming).
        domain: String,
    },
}

impl fmt::Display for FollowUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FollowUp::AuthKeys {
                domain,
                domain_keys,
            } => {
                write!(
                    f,
                    "auth keys: the target's zimbraAuthTokenKey differs, users of {domain} must log in again"
                )?;
                if !domain_keys.is_empty() {
                    write!(
                        f,
                        "; redistribute or regenerate the domain's {} (zmprov gdpak)",
                        domain_keys.join(", ")
                    )?;
                }
                Ok(())
            }
            FollowUp::Certificates {
                domain,
                hosts,
                virtual_hosts,
                domain_certificate,
            } => {
                write!(
                    f,
                    "certificates: install certificates covering {domain}"
                )?;
                if !virtual_hosts.is_empty() {
                    write!(f, " and {}", virtual_hosts.join(", "))?;
                }
                write!(f, " on {}", if hosts.is_empty() { "the target servers".to_string() } else { hosts.join(", ") })?;
                if *domain_certificate {
                    write!(f, "; the domain's own zimbraSSLCertificate was copied as is: deploy it (zmdomaincertmgr)")?;
                }
                Ok(())
            }
            FollowUp::MailboxData { from, to, entries } => write!(
                f,
                "mailbox data: move the mailboxes of {entries} entr{} from {from} to {to}",
                if *entries == 1 { "y" } else { "ies" }
            ),
            FollowUp::Dkim { domain } => write!(
                f,
                "DKIM: the DKIM attributes were copied; regenerate the keys for {domain} and publish them in DNS"
            ),
        }
    }
}

/// One entry of the move's LDIF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEntry {
    /// What it is.
    pub kind: EntryKind,
    /// Its DN in the target.
    pub dn: String,
    /// Its DN in the source (`None` for parent entries created by the plan).
    pub source_dn: Option<String>,
    /// Its attributes, as they will be written.
    pub attrs: AttrBag,
}

/// The result of [`plan_move`]: conflicts, LDIF entries, change records and follow-ups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovePlan {
    /// The domain moved (source name).
    pub domain: String,
    /// Its name in the target (differs when renamed).
    pub new_domain: String,
    /// Alias domains moved with it.
    pub alias_domains: Vec<String>,
    /// Why the move cannot be written; empty when it can.
    pub conflicts: Vec<Conflict>,
    /// The entries for `slapadd`, parents before children.
    pub entries: Vec<PlannedEntry>,
    /// Changes to entries the target already has (for `ldapmodify`).
    pub changes: Vec<Change>,
    /// Work left to do by hand.
    pub follow_ups: Vec<FollowUp>,
    /// Ids changed on the way (old → new, lower case): regenerated ids and COS ids mapped to
    /// the target's.
    pub id_map: BTreeMap<String, String>,
}

impl MovePlan {
    /// True when nothing stops the move.
    pub fn is_clean(&self) -> bool {
        self.conflicts.is_empty()
    }

    /// Number of planned entries per kind.
    pub fn counts(&self) -> BTreeMap<EntryKind, usize> {
        let mut m = BTreeMap::new();
        for e in &self.entries {
            *m.entry(e.kind).or_insert(0) += 1;
        }
        m
    }

    /// Writes the entries as LDIF for `slapadd` (no `version:` line); returns how many.
    /// Refuses with [`DitError::Conflicts`], writing nothing, when there are conflicts.
    pub fn write_ldif<W: Write>(&self, out: W) -> Result<u64, DitError> {
        if !self.is_clean() {
            return Err(DitError::Conflicts {
                count: self.conflicts.len(),
            });
        }
        write_entries(
            self.entries.iter().map(|e| (e.dn.as_str(), &e.attrs)),
            out,
            &WriteOptions {
                ldif: WriterOptions::slapadd_mode(),
                add_missing_parents: false,
            },
        )
    }

    /// Writes the change records (for `ldapmodify`, with a `version: 1` line); returns how
    /// many. Refuses like [`MovePlan::write_ldif`].
    pub fn write_changes<W: Write>(&self, out: W) -> Result<u64, DitError> {
        if !self.is_clean() {
            return Err(DitError::Conflicts {
                count: self.conflicts.len(),
            });
        }
        let mut w = Writer::new(out, WriterOptions::default());
        for c in &self.changes {
            w.write_change(c)?;
        }
        w.flush()?;
        Ok(self.changes.len() as u64)
    }
}

/// `s` on one line: names, DNs and values from the inputs may hold line breaks, which must
/// not start a forged line of the report (issue 14.8).
fn one_line(s: impl fmt::Display) -> String {
    s.to_string().replace('\n', "\\x0a").replace('\r', "\\x0d")
}

impl fmt::Display for MovePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "move of {}", self.domain)?;
        if self.new_domain != self.domain {
            write!(f, " as {}", self.new_domain)?;
        }
        if !self.alias_domains.is_empty() {
            write!(
                f,
                " with alias domains {}",
                one_line(self.alias_domains.join(", "))
            )?;
        }
        writeln!(f)?;
        if self.conflicts.is_empty() {
            writeln!(f, "conflicts: none")?;
        } else {
            writeln!(f, "conflicts: {}", self.conflicts.len())?;
            for c in &self.conflicts {
                writeln!(f, "  CONFLICT {}", one_line(c))?;
            }
        }
        writeln!(f, "entries: {}", self.entries.len())?;
        for (k, n) in self.counts() {
            writeln!(f, "  {k}: {n}")?;
        }
        writeln!(
            f,
            "changes to existing target entries: {}",
            self.changes.len()
        )?;
        writeln!(f, "ids changed: {}", self.id_map.len())?;
        writeln!(f, "to do by hand:")?;
        for u in &self.follow_ups {
            writeln!(f, "  - {}", one_line(u))?;
        }
        Ok(())
    }
}

// --------------------------------------------------------------------------------------
// Target index

#[derive(Default)]
struct TargetIndex {
    dns: Vec<String>,
    by_dn: HashMap<String, (u32, EntryKind)>,
    classes: HashMap<String, Vec<String>>,
    addresses: HashMap<String, u32>,
    ids: HashMap<String, u32>,
    domains: HashMap<String, u32>,
    domain_ids: HashSet<String>,
    coses: HashMap<String, String>,
    cos_ids: HashSet<String>,
    servers: HashSet<String>,
}

const ADDRESS_ATTRS: [&str; 3] = [names::MAIL, names::MAIL_DELIVERY_ADDRESS, names::MAIL_ALIAS];

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

fn parse_dn(dn: &str) -> Result<Dn, DitError> {
    Dn::parse(dn).map_err(|source| DitError::Dn {
        line: 0,
        dn: dn.to_string(),
        source,
    })
}

impl TargetIndex {
    fn add(&mut self, e: RawEntry) -> Result<(), DitError> {
        let dn = parse_dn(&e.dn)?;
        let kind = classify(&dn, &e.attrs);
        let i = self.dns.len() as u32;
        self.by_dn.insert(dn.normalized().to_string(), (i, kind));
        for a in ADDRESS_ATTRS {
            for v in e.attrs.strs(a) {
                self.addresses.entry(lower(v)).or_insert(i);
            }
        }
        for v in e.attrs.strs(names::ZIMBRA_ID) {
            self.ids.entry(lower(v)).or_insert(i);
        }
        match kind {
            EntryKind::Domain => {
                if let Some(n) = e.attrs.first(names::DOMAIN_NAME) {
                    self.domains.insert(lower(n), i);
                }
                for v in e.attrs.strs(names::ZIMBRA_ID) {
                    self.domain_ids.insert(lower(v));
                }
            }
            EntryKind::ParentDomain => {
                self.classes.insert(
                    dn.normalized().to_string(),
                    e.attrs
                        .strs(names::OBJECT_CLASS)
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                );
            }
            EntryKind::Cos => {
                let id = e
                    .attrs
                    .first(names::ZIMBRA_ID)
                    .map(lower)
                    .unwrap_or_default();
                if let Some(n) = e.attrs.first(names::CN) {
                    self.coses.insert(lower(n), id.clone());
                }
                self.cos_ids.insert(id);
            }
            EntryKind::Server => {
                for a in [names::CN, names::SERVICE_HOSTNAME] {
                    for v in e.attrs.strs(a) {
                        self.servers.insert(lower(v));
                    }
                }
            }
            _ => {}
        }
        self.dns.push(e.dn);
        Ok(())
    }

    fn dn(&self, i: u32) -> String {
        self.dns.get(i as usize).cloned().unwrap_or_default()
    }
}

// --------------------------------------------------------------------------------------
// Source scan

struct SrcDomain {
    name: String,
    id: String,
    is_alias: bool,
    alias_target: String,
}

struct Moving {
    kind: EntryKind,
    source_dn: String,
    dn: Dn,
    attrs: AttrBag,
}

#[derive(Default)]
struct SourceScan {
    domains: Vec<SrcDomain>,
    main: Vec<Moving>,
    others: Vec<(String, Moving)>,
    coses: Vec<RawEntry>,
    servers: Vec<RawEntry>,
}

impl SourceScan {
    fn add(&mut self, e: RawEntry, domain: &str) -> Result<(), DitError> {
        let dn = parse_dn(&e.dn)?;
        let kind = classify(&dn, &e.attrs);
        match kind {
            EntryKind::Cos => {
                self.coses.push(e);
                return Ok(());
            }
            EntryKind::Server => {
                self.servers.push(e);
                return Ok(());
            }
            EntryKind::Domain => self.domains.push(SrcDomain {
                name: e
                    .attrs
                    .first(names::DOMAIN_NAME)
                    .map(lower)
                    .unwrap_or_default(),
                id: e
                    .attrs
                    .first(names::ZIMBRA_ID)
                    .map(lower)
                    .unwrap_or_default(),
                is_alias: e.attrs.has_value_ci(names::DOMAIN_TYPE, "alias"),
                alias_target: e
                    .attrs
                    .first(names::DOMAIN_ALIAS_TARGET_ID)
                    .map(lower)
                    .unwrap_or_default(),
            }),
            _ => {}
        }
        let Some(dom) = domain_of_dn(&dn) else {
            return Ok(());
        };
        let m = Moving {
            kind,
            source_dn: e.dn,
            dn,
            attrs: e.attrs,
        };
        if dom == domain {
            self.main.push(m);
        } else {
            // Alias domains hold only alias entries and containers; keep those of domains that
            // are alias domains (or not seen yet), decide at the end.
            let known = self.domains.iter().find(|d| d.name == dom);
            if known.is_none_or(|d| d.is_alias) {
                self.others.push((dom, m));
            }
        }
        Ok(())
    }
}

// --------------------------------------------------------------------------------------
// Planning

/// Plans moving `domain` from `source` into `target` (both streams of directory entries,
/// e.g. [`EntryReader`]s). The target is indexed first (DNs, addresses, ids, domains, COS
/// and servers), then the source is streamed, keeping only the moved domain's entries, its
/// alias domains' entries, COS and server entries: memory is bounded by the moved domain
/// and the target's index, not by the whole source.
///
/// The plan is always returned; it is writable only when [`MovePlan::is_clean`].
pub fn plan_move<S, T>(
    source: S,
    target: T,
    domain: &str,
    opts: &MoveOptions,
) -> Result<MovePlan, DitError>
where
    S: IntoIterator<Item = Result<RawEntry, DitError>>,
    T: IntoIterator<Item = Result<RawEntry, DitError>>,
{
    let old = DomainName::parse(domain.trim()).map_err(|source| DitError::BadOption {
        option: "domain",
        source,
    })?;
    let new = match &opts.rename {
        Some(n) => DomainName::parse(n.trim()).map_err(|source| DitError::BadOption {
            option: "rename",
            source,
        })?,
        None => old.clone(),
    };
    let mut t = TargetIndex::default();
    for e in target {
        t.add(e?)?;
    }
    let mut s = SourceScan::default();
    for e in source {
        s.add(e?, old.as_str())?;
    }
    Planner {
        t,
        s,
        opts,
        old,
        new,
        conflicts: Vec::new(),
        id_map: BTreeMap::new(),
    }
    .plan()
}

/// [`plan_move`] over two LDIF dumps.
pub fn plan_move_ldif<S: BufRead, T: BufRead>(
    source: S,
    target: T,
    domain: &str,
    opts: &MoveOptions,
) -> Result<MovePlan, DitError> {
    plan_move(
        EntryReader::new(source),
        EntryReader::new(target),
        domain,
        opts,
    )
}

/// [`plan_move`] over two typed directories, each completed with the parent entries Zimbra
/// creates (as [`write_directory`] with [`WriteOptions::slapadd`] writes them).
///
/// ```
/// use zimbra_prov::{dit, model::Directory, zmprov};
/// let mut src = Directory::new();
/// zmprov::run(&mut src, "cs mbx1.old.net\ncd company.com\nca bob@company.com pw")?;
/// let mut dst = Directory::new();
/// dst.ids = zimbra_prov::model::IdGenerator::new(2); // another install, other ids
/// zmprov::run(&mut dst, "cs mbx9.new.net\ncd other.org")?;
/// let opts = dit::MoveOptions {
///     map_hosts: vec![("mbx1.old.net".into(), "mbx9.new.net".into())],
///     rename: Some("migrate.company.com".into()),
///     ..Default::default()
/// };
/// let plan = dit::plan_move_dirs(&src, &dst, "company.com", &opts)?;
/// assert!(plan.is_clean(), "{plan}");
/// let bob = plan.entries.iter().find(|e| e.kind == dit::EntryKind::Account).unwrap();
/// assert_eq!(bob.dn, "uid=bob,ou=people,dc=migrate,dc=company,dc=com");
/// assert_eq!(bob.attrs.first("zimbraMailTransport"), Some("lmtp:mbx9.new.net:7025"));
/// assert_eq!(bob.attrs.first("mail"), Some("bob@migrate.company.com"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plan_move_dirs(
    source: &Directory,
    target: &Directory,
    domain: &str,
    opts: &MoveOptions,
) -> Result<MovePlan, DitError> {
    // Both sides as they would be in LDAP: with the parent entries Zimbra creates.
    let as_ldap = |dir: &Directory| -> Result<Vec<u8>, DitError> {
        let mut out = Vec::new();
        write_directory(dir, &mut out, &WriteOptions::slapadd())?;
        Ok(out)
    };
    let (s, t) = (as_ldap(source)?, as_ldap(target)?);
    plan_move(
        EntryReader::new(&s[..]),
        EntryReader::new(&t[..]),
        domain,
        opts,
    )
}

/// Attributes `zmprov rd` rewrites in moved entries.
const RENAMED_ATTRS: [&str; 9] = [
    names::MAIL,
    names::MAIL_ALIAS,
    names::MAIL_FORWARDING_ADDRESS,
    names::MAIL_DELIVERY_ADDRESS,
    names::MAIL_CANONICAL_ADDRESS,
    names::MAIL_CATCH_ALL_ADDRESS,
    names::MAIL_CATCH_ALL_CANONICAL_ADDRESS,
    names::MAIL_CATCH_ALL_FORWARDING_ADDRESS,
    "zimbraPrefAllowAddressForDelegatedSender",
];

/// Attributes whose values are ids of other entries.
const ID_REF_ATTRS: [&str; 9] = [
    names::ZIMBRA_ID,
    names::ALIAS_TARGET_ID,
    names::COS_ID,
    names::DOMAIN_DEFAULT_COS_ID,
    "zimbraDomainDefaultExternalUserCOSId",
    names::DOMAIN_ALIAS_TARGET_ID,
    "zimbraMemberOf",
    "zimbraGroupId",
    names::MAIL_HOST_POOL,
];

const COS_REF_ATTRS: [&str; 3] = [
    names::COS_ID,
    names::DOMAIN_DEFAULT_COS_ID,
    "zimbraDomainDefaultExternalUserCOSId",
];

fn rewrite_domain(value: &str, old: &DomainName, new: &DomainName) -> Option<String> {
    if let Some(d) = value.strip_prefix('@') {
        return d
            .eq_ignore_ascii_case(old.as_str())
            .then(|| format!("@{new}"));
    }
    let a = Address::parse(value).ok()?;
    (a.domain() == old).then(|| a.with_domain(new).to_string())
}

/// Replaces every UUID-shaped token of `v` found in `map`.
fn replace_ids(v: &str, map: &BTreeMap<String, String>) -> Option<String> {
    let mut out = String::with_capacity(v.len());
    let mut changed = false;
    let mut rest = v;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(rest.len());
        let (tok, tail) = rest.split_at(end);
        match map.get(&lower(tok)) {
            Some(n) if tok.len() == 36 => {
                out.push_str(n);
                changed = true;
            }
            _ => out.push_str(tok),
        }
        let mut chars = tail.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    changed.then_some(out)
}

struct Planner<'a> {
    t: TargetIndex,
    s: SourceScan,
    opts: &'a MoveOptions,
    old: DomainName,
    new: DomainName,
    conflicts: Vec<Conflict>,
    id_map: BTreeMap<String, String>,
}

impl Planner<'_> {
    fn plan(mut self) -> Result<MovePlan, DitError> {
        let old = self.old.clone();
        let new = self.new.clone();
        let Some(main) = self.s.domains.iter().find(|d| d.name == old.as_str()) else {
            return Err(DitError::DomainNotFound {
                domain: old.to_string(),
            });
        };
        let main_id = main.id.clone();
        if main.is_alias && !self.t.domain_ids.contains(&main.alias_target) {
            self.conflicts.push(Conflict::AliasDomainTargetNotMoved {
                alias_domain: old.to_string(),
                target_id: main.alias_target.clone(),
            });
        }
        if let Some(&i) = self.t.domains.get(new.as_str()) {
            self.conflicts.push(Conflict::DomainExists {
                domain: new.to_string(),
                target_dn: self.t.dn(i),
            });
        }
        let alias_domains: Vec<String> = if self.opts.include_alias_domains {
            self.s
                .domains
                .iter()
                .filter(|d| d.is_alias && d.alias_target == main_id && !main_id.is_empty())
                .map(|d| d.name.clone())
                .collect()
        } else {
            Vec::new()
        };
        for a in &alias_domains {
            if let Some(&i) = self.t.domains.get(a) {
                self.conflicts.push(Conflict::DomainExists {
                    domain: a.clone(),
                    target_dn: self.t.dn(i),
                });
            }
        }
        let mut moving: Vec<Moving> = std::mem::take(&mut self.s.main);
        for (dom, m) in std::mem::take(&mut self.s.others) {
            if alias_domains.contains(&dom) {
                moving.push(m);
            }
        }

        // COS resolution
        let mut cos_uses: BTreeMap<String, (usize, String)> = BTreeMap::new();
        for m in &moving {
            for a in COS_REF_ATTRS {
                for v in m.attrs.strs(a) {
                    let e = cos_uses.entry(lower(v)).or_insert((0, m.source_dn.clone()));
                    e.0 += 1;
                }
            }
        }
        let mut extra: Vec<Moving> = Vec::new();
        for (cos_id, (count, used_by)) in &cos_uses {
            let src = self
                .s
                .coses
                .iter()
                .find(|c| c.attrs.has_value_ci(names::ZIMBRA_ID, cos_id));
            let name = src
                .and_then(|c| c.attrs.first(names::CN))
                .map(str::to_string);
            let mapped = name.as_ref().and_then(|n| {
                self.opts
                    .cos_map
                    .iter()
                    .find(|(s, _)| s.eq_ignore_ascii_case(n))
            });
            if let (Some(n), Some((_, to))) = (&name, mapped) {
                match self.t.coses.get(&lower(to)) {
                    Some(tid) => {
                        if tid != cos_id {
                            self.id_map.insert(cos_id.clone(), tid.clone());
                        }
                    }
                    None => self.conflicts.push(Conflict::CosMapTargetMissing {
                        source_cos: n.clone(),
                        target_cos: to.clone(),
                    }),
                }
                continue;
            }
            if let Some(tid) = name.as_ref().and_then(|n| self.t.coses.get(&lower(n))) {
                if tid != cos_id {
                    self.id_map.insert(cos_id.clone(), tid.clone());
                }
                continue;
            }
            if self.t.cos_ids.contains(cos_id) {
                continue;
            }
            match src {
                Some(c) if self.opts.copy_missing_cos => {
                    extra.push(Moving {
                        kind: EntryKind::Cos,
                        source_dn: c.dn.clone(),
                        dn: parse_dn(&c.dn)?,
                        attrs: c.attrs.clone(),
                    });
                }
                _ => self.conflicts.push(Conflict::CosMissing {
                    cos_id: cos_id.clone(),
                    cos_name: name,
                    used_by: used_by.clone(),
                    count: *count,
                }),
            }
        }

        // Mail hosts
        let host_map: HashMap<String, String> = self
            .opts
            .map_hosts
            .iter()
            .map(|(a, b)| (lower(a), b.clone()))
            .collect();
        let map_host = |h: &str| host_map.get(&lower(h)).cloned();
        let mut host_uses: BTreeMap<String, (usize, String)> = BTreeMap::new();
        let mut moved_hosts: BTreeMap<(String, String), usize> = BTreeMap::new();
        for m in &moving {
            if let Some(h) = m.attrs.first(names::MAIL_HOST) {
                let to = map_host(h).unwrap_or_else(|| h.to_string());
                let e = host_uses
                    .entry(lower(&to))
                    .or_insert((0, m.source_dn.clone()));
                e.0 += 1;
                if !to.eq_ignore_ascii_case(h) {
                    *moved_hosts.entry((h.to_string(), to)).or_insert(0) += 1;
                }
            }
        }
        for (host, (count, used_by)) in &host_uses {
            if self.t.servers.contains(host) {
                continue;
            }
            let src = self.s.servers.iter().find(|sv| {
                sv.attrs.has_value_ci(names::CN, host)
                    || sv.attrs.has_value_ci(names::SERVICE_HOSTNAME, host)
            });
            match src {
                Some(sv) if self.opts.include_servers => extra.push(Moving {
                    kind: EntryKind::Server,
                    source_dn: sv.dn.clone(),
                    dn: parse_dn(&sv.dn)?,
                    attrs: sv.attrs.clone(),
                }),
                _ => self.conflicts.push(Conflict::MailHostUnknown {
                    host: host.clone(),
                    used_by: used_by.clone(),
                    count: *count,
                }),
            }
        }
        moving.extend(extra);

        // Ids
        let moved_ids: HashSet<String> = moving
            .iter()
            .flat_map(|m| m.attrs.strs(names::ZIMBRA_ID))
            .map(lower)
            .collect();
        let mut gen = IdGenerator::new(self.opts.id_seed);
        for m in &moving {
            for id in m.attrs.strs(names::ZIMBRA_ID) {
                let id = lower(id);
                if self.id_map.contains_key(&id) {
                    continue;
                }
                let clash = self.t.ids.get(&id).copied();
                let regenerate = match self.opts.ids {
                    IdPolicy::Keep => {
                        if let Some(i) = clash {
                            self.conflicts.push(Conflict::IdInUse {
                                id: id.clone(),
                                dn: m.source_dn.clone(),
                                target_dn: self.t.dn(i),
                            });
                        }
                        false
                    }
                    IdPolicy::RegenerateOnCollision => clash.is_some(),
                    IdPolicy::RegenerateAll => true,
                };
                if regenerate {
                    let fresh = loop {
                        let c = gen.next_id().to_string();
                        if !self.t.ids.contains_key(&c) && !moved_ids.contains(&c) {
                            break c;
                        }
                    };
                    self.id_map.insert(id, fresh);
                }
            }
        }

        // Transform
        let old_dn = Dn::zimbra_domain(old.as_str()).map_err(|source| DitError::Dn {
            line: 0,
            dn: old.to_string(),
            source,
        })?;
        let new_dn = Dn::zimbra_domain(new.as_str()).map_err(|source| DitError::Dn {
            line: 0,
            dn: new.to_string(),
            source,
        })?;
        let renaming = old != new;
        let mut planned: Vec<PlannedEntry> = Vec::with_capacity(moving.len());
        for m in moving {
            let in_main = domain_of_dn(&m.dn).as_deref() == Some(old.as_str());
            let dn = if renaming && in_main {
                m.dn.rebase(&old_dn, &new_dn).unwrap_or(m.dn)
            } else {
                m.dn
            };
            let mut attrs = m.attrs;
            for a in attrs.iter_mut() {
                let name = &*a.name;
                let renamed =
                    renaming && RENAMED_ATTRS.iter().any(|r| r.eq_ignore_ascii_case(name));
                let is_host = name.eq_ignore_ascii_case(names::MAIL_HOST);
                let is_transport = name.eq_ignore_ascii_case(names::MAIL_TRANSPORT);
                let is_ref = ID_REF_ATTRS.iter().any(|r| r.eq_ignore_ascii_case(name));
                let is_url = name.eq_ignore_ascii_case(names::MEMBER_URL);
                for v in a.values.iter_mut() {
                    let Some(s) = v.as_str() else { continue };
                    let mut next: Option<String> = None;
                    if renamed {
                        next = rewrite_domain(s, &old, &new);
                    }
                    if is_host {
                        next = map_host(s);
                    }
                    if is_transport {
                        let parts: Vec<&str> = s.split(':').collect();
                        if let [proto, host, port] = parts.as_slice() {
                            if proto.eq_ignore_ascii_case("lmtp") {
                                next = map_host(host).map(|h| format!("{proto}:{h}:{port}"));
                            }
                        }
                    }
                    if is_ref {
                        next = self.id_map.get(&lower(s)).cloned();
                    }
                    if is_url && !self.id_map.is_empty() {
                        next = replace_ids(s, &self.id_map);
                    }
                    if let Some(n) = next {
                        *v = AttrValue::from(n);
                    }
                }
            }
            if renaming && m.kind == EntryKind::Domain && in_main {
                attrs.set_one(names::DOMAIN_NAME, new.to_string());
                if attrs.contains("o") {
                    attrs.set_one("o", format!("{new} domain"));
                }
                attrs.set_one("dc", new.labels().next().unwrap_or_default().to_string());
            }
            planned.push(PlannedEntry {
                kind: m.kind,
                dn: dn.as_str().to_string(),
                source_dn: Some(m.source_dn),
                attrs,
            });
        }

        // References that leave the moved set
        let final_ids: HashSet<String> = planned
            .iter()
            .flat_map(|p| p.attrs.strs(names::ZIMBRA_ID))
            .map(lower)
            .collect();
        for p in &planned {
            if p.kind == EntryKind::Alias {
                if let Some(tid) = p.attrs.first(names::ALIAS_TARGET_ID) {
                    let tid = lower(tid);
                    if !final_ids.contains(&tid) && !self.t.ids.contains_key(&tid) {
                        let dn = parse_dn(&p.dn)?;
                        self.conflicts.push(Conflict::AliasTargetNotMoved {
                            alias: super::classify::address_of_dn(&dn, "uid")
                                .unwrap_or_else(|| p.dn.clone()),
                            dn: p.dn.clone(),
                            target_id: tid,
                        });
                    }
                }
            }
        }

        // Addresses
        let mut moved_mail: HashMap<String, usize> = HashMap::new();
        for (idx, p) in planned.iter().enumerate() {
            let mut seen_here: BTreeSet<String> = BTreeSet::new();
            for a in ADDRESS_ATTRS {
                for v in p.attrs.strs(a) {
                    let k = lower(v);
                    if !seen_here.insert(k.clone()) {
                        continue;
                    }
                    if let Some(&i) = self.t.addresses.get(&k) {
                        self.conflicts.push(Conflict::AddressInUse {
                            address: k.clone(),
                            attribute: a.to_string(),
                            dn: p.dn.clone(),
                            target_dn: self.t.dn(i),
                        });
                    } else if a == names::MAIL {
                        if let Some(&other) = moved_mail.get(&k) {
                            if other != idx {
                                self.conflicts.push(Conflict::AddressInUse {
                                    address: k.clone(),
                                    attribute: a.to_string(),
                                    dn: p.dn.clone(),
                                    target_dn: planned
                                        .get(other)
                                        .map(|o| o.dn.clone())
                                        .unwrap_or_default(),
                                });
                            }
                        } else {
                            moved_mail.insert(k, idx);
                        }
                    }
                }
            }
        }

        // DN collisions, merges into existing parent entries, missing parents
        let mut changes = Vec::new();
        let mut keep: Vec<PlannedEntry> = Vec::with_capacity(planned.len());
        let mut have: HashSet<String> = HashSet::with_capacity(planned.len());
        let mut dns: Vec<Dn> = Vec::with_capacity(planned.len());
        let mut kinds: Vec<EntryKind> = Vec::with_capacity(planned.len());
        for p in planned {
            let dn = parse_dn(&p.dn)?;
            match self.t.by_dn.get(dn.normalized()) {
                None => {
                    have.insert(dn.normalized().to_string());
                    dns.push(dn);
                    kinds.push(p.kind);
                    keep.push(p);
                }
                Some((_, EntryKind::ParentDomain)) if p.kind == EntryKind::Domain => {
                    let existing = self
                        .t
                        .classes
                        .get(dn.normalized())
                        .cloned()
                        .unwrap_or_default();
                    changes.push(merge_into_parent(&dn, &existing, &p.attrs));
                    dns.push(dn);
                    kinds.push(p.kind);
                }
                Some((_, EntryKind::Container)) if p.kind == EntryKind::Container => {}
                Some((_, EntryKind::Domain)) if p.kind == EntryKind::Domain => {
                    // reported as DomainExists above (by name) unless the name differs
                    if !self
                        .conflicts
                        .iter()
                        .any(|c| matches!(c, Conflict::DomainExists { .. }))
                    {
                        self.conflicts.push(Conflict::DnExists { dn: p.dn.clone() });
                    }
                }
                Some(_) => self.conflicts.push(Conflict::DnExists { dn: p.dn.clone() }),
            }
        }
        let mut added: Vec<PlannedEntry> = Vec::new();
        for (dn, kind) in dns.iter().zip(kinds) {
            let mut wanted: Vec<Dn> = Vec::new();
            if kind == EntryKind::Domain {
                for child in ["ou=people", "cn=groups"] {
                    if let Ok(r) = crate::dn::Rdn::parse(child) {
                        wanted.push(dn.child(r));
                    }
                }
            }
            let mut p = dn.parent();
            while let Some(parent) = p {
                if parent.is_root() {
                    break;
                }
                p = parent.parent();
                wanted.push(parent);
            }
            for parent in wanted {
                if have.contains(parent.normalized())
                    || self.t.by_dn.contains_key(parent.normalized())
                {
                    continue;
                }
                let Some(bag) = synthesize_parent(&parent) else {
                    return Err(DitError::MissingParent {
                        dn: dn.as_str().to_string(),
                        parent: parent.as_str().to_string(),
                    });
                };
                have.insert(parent.normalized().to_string());
                added.push(PlannedEntry {
                    kind: classify(&parent, &bag),
                    dn: parent.as_str().to_string(),
                    source_dn: None,
                    attrs: bag,
                });
            }
        }
        keep.extend(added);
        let mut keyed: Vec<(String, PlannedEntry)> = Vec::with_capacity(keep.len());
        for p in keep {
            let dn = parse_dn(&p.dn)?;
            let mut k = String::new();
            for (i, r) in dn.rdns().iter().rev().enumerate() {
                if i > 0 {
                    k.push('\u{1}');
                }
                k.push_str(r.normalized());
            }
            keyed.push((k, p));
        }
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        let entries: Vec<PlannedEntry> = keyed.into_iter().map(|(_, p)| p).collect();

        // Follow-ups
        let domain_entry = entries.iter().find(|e| {
            e.kind == EntryKind::Domain && e.attrs.has_value_ci(names::DOMAIN_NAME, new.as_str())
        });
        let domain_keys: Vec<String> = domain_entry
            .map(|d| {
                d.attrs
                    .iter()
                    .filter(|a| {
                        a.name.to_ascii_lowercase().ends_with("authkey")
                            || a.name.eq_ignore_ascii_case("zimbraPreAuthKey")
                    })
                    .map(|a| a.name.to_string())
                    .collect()
            })
            .unwrap_or_default();
        let mut follow_ups = vec![FollowUp::AuthKeys {
            domain: new.to_string(),
            domain_keys,
        }];
        let hosts: Vec<String> = host_uses.keys().cloned().collect();
        follow_ups.push(FollowUp::Certificates {
            domain: new.to_string(),
            hosts,
            virtual_hosts: domain_entry
                .map(|d| {
                    d.attrs
                        .strs("zimbraVirtualHostname")
                        .iter()
                        .map(|s| s.to_string())
                        .collect()
                })
                .unwrap_or_default(),
            domain_certificate: domain_entry
                .is_some_and(|d| d.attrs.contains("zimbraSSLCertificate")),
        });
        for ((from, to), n) in moved_hosts {
            follow_ups.push(FollowUp::MailboxData {
                from,
                to,
                entries: n,
            });
        }
        if domain_entry.is_some_and(|d| {
            d.attrs
                .iter()
                .any(|a| a.name.to_ascii_lowercase().starts_with("dkim"))
        }) {
            follow_ups.push(FollowUp::Dkim {
                domain: new.to_string(),
            });
        }

        Ok(MovePlan {
            domain: old.to_string(),
            new_domain: new.to_string(),
            alias_domains,
            conflicts: self.conflicts,
            entries,
            changes,
            follow_ups,
            id_map: self.id_map,
        })
    }
}

/// Operational attributes a client cannot write.
const NO_USER_MODIFICATION: [&str; 8] = [
    "structuralObjectClass",
    "entryUUID",
    "entryCSN",
    "createTimestamp",
    "creatorsName",
    "modifiersName",
    "modifyTimestamp",
    "contextCSN",
];

/// The modify that turns an existing parent `dc=` entry into the moved domain (what
/// Zimbra's createDomain does when the DN exists: it replaces the attributes).
fn merge_into_parent(dn: &Dn, existing_classes: &[String], attrs: &AttrBag) -> Change {
    let mut mods = Vec::new();
    let add_classes: Vec<Vec<u8>> = attrs
        .values(names::OBJECT_CLASS)
        .iter()
        .filter(|v| {
            !existing_classes
                .iter()
                .any(|c| c.as_bytes().eq_ignore_ascii_case(v.as_bytes()))
        })
        .map(|v| v.as_bytes().to_vec())
        .collect();
    if !add_classes.is_empty() {
        mods.push(Modification {
            op: ModOp::Add,
            attribute: names::OBJECT_CLASS.to_string(),
            values: add_classes,
        });
    }
    for a in attrs.iter() {
        if a.name.eq_ignore_ascii_case(names::OBJECT_CLASS)
            || a.name.eq_ignore_ascii_case("dc")
            || NO_USER_MODIFICATION
                .iter()
                .any(|n| n.eq_ignore_ascii_case(&a.name))
        {
            continue;
        }
        mods.push(Modification {
            op: ModOp::Replace,
            attribute: a.name.to_string(),
            values: a.values.iter().map(|v| v.as_bytes().to_vec()).collect(),
        });
    }
    Change::new(dn.clone(), ChangeOp::Modify(mods))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_urls_are_replaced() {
        let mut m = BTreeMap::new();
        m.insert(
            "11111111-1111-1111-1111-111111111111".to_string(),
            "22222222-2222-2222-2222-222222222222".to_string(),
        );
        let v =
            "ldap:///??sub?(|(zimbraMemberOf=11111111-1111-1111-1111-111111111111)(zimbraId=x))";
        assert_eq!(
            replace_ids(v, &m).as_deref(),
            Some("ldap:///??sub?(|(zimbraMemberOf=22222222-2222-2222-2222-222222222222)(zimbraId=x))")
        );
        assert_eq!(replace_ids("no ids here", &m), None);
    }

    #[test]
    fn rename_rewrites_like_rd() {
        let o: DomainName = "company.com".parse().unwrap();
        let n: DomainName = "migrate.company.com".parse().unwrap();
        assert_eq!(
            rewrite_domain("A@Company.com", &o, &n).as_deref(),
            Some("A@migrate.company.com")
        );
        assert_eq!(
            rewrite_domain("@company.com", &o, &n).as_deref(),
            Some("@migrate.company.com")
        );
        assert_eq!(rewrite_domain("a@sub.company.com", &o, &n), None);
    }

    #[test]
    fn merge_into_parent_skips_operational_and_naming() {
        let dn = Dn::parse("dc=company,dc=com").unwrap();
        let mut b = AttrBag::new();
        b.set("objectClass", ["dcObject", "organization", "zimbraDomain"]);
        b.set_one("dc", "company");
        b.set_one("zimbraDomainName", "company.com");
        b.set_one("entryUUID", "x");
        let c = merge_into_parent(&dn, &["dcObject".into(), "organization".into()], &b);
        let ChangeOp::Modify(mods) = c.op else {
            panic!()
        };
        assert_eq!(mods.len(), 2);
        assert_eq!(mods[0].values, vec![b"zimbraDomain".to_vec()]);
        assert_eq!(mods[1].attribute, "zimbraDomainName");
    }
}
