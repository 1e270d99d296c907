//! Planning a domain move from one Zimbra directory into another.
//!
//! The planner streams both directories once: the target for its keys (DNs, addresses, ids,
//! domain, COS and server names, the auth token key), the source for the moved domain's
//! entries, its alias domains', the COS and servers they may need, and the references other
//! entries hold to them. The moved entries are kept as keys and a place (in the source file,
//! or in a compact arena for sources that cannot be read twice) and are read back, rewritten
//! and written one at a time: memory follows the moved domain's keys, not the size of either
//! directory.
//!
//! * [`input`]: the streaming passes (target index, source scan);
//! * [`planner`]: COS, hosts, ids, new DNs, conflict checks, parents, order;
//! * [`transform`]: the rename / host / id rewriting rules;
//! * [`conflict`], [`follow_up`], [`reference`]: what the report says;
//! * [`output`]: the entries and how they are written.

mod conflict;
mod follow_up;
mod input;
mod output;
mod planner;
mod reference;
mod stream;
mod transform;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use conflict::Conflict;
pub use follow_up::{FollowUp, TokenKeys};
pub use output::{PlannedEntries, PlannedEntry};
pub use reference::{Reference, ReferenceKind};

use super::classify::EntryKind;
use super::write::{write_directory, WriteOptions};
use super::DitError;
use crate::ldif::Change;
use crate::model::{Directory, DomainName, RawEntry};
use input::{lines, Loc, SourceScan, TargetIndex};
use output::SourceFile;
use planner::Planner;
use stream::{index_target, scan_source, scan_source_file};
use transform::Transform;

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

/// The result of [`plan_move`]: conflicts, LDIF entries, change records, follow-ups and the
/// references the source keeps to what moves.
#[derive(Debug, Clone, PartialEq)]
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
    pub entries: PlannedEntries,
    /// Changes to entries the target already has (for `ldapmodify`).
    pub changes: Vec<Change>,
    /// Work left to do by hand.
    pub follow_ups: Vec<FollowUp>,
    /// References that stay behind in the source: entries that are not moved but name a
    /// moved address, each with the zmprov lines that fix it.
    pub references: Vec<Reference>,
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
        for k in self.entries.kinds() {
            *m.entry(k).or_insert(0) += 1;
        }
        m
    }

    fn refuse_if_conflicts(&self) -> Result<(), DitError> {
        match self.conflicts.len() {
            0 => Ok(()),
            count => Err(DitError::Conflicts { count }),
        }
    }

    /// Writes the entries as LDIF for `slapadd` (no `version:` line); returns how many.
    /// Refuses with [`DitError::Conflicts`], writing nothing, when there are conflicts.
    ///
    /// Entries kept in the source file are read back while they are written: if the file
    /// became unreadable or changed since planning, this fails with
    /// [`DitError::SourceChanged`] after the entries before it were written (write to a
    /// temporary file and rename it, as `move_domain` does).
    pub fn write_ldif<W: Write>(&self, out: W) -> Result<u64, DitError> {
        self.refuse_if_conflicts()?;
        self.entries.write(out)
    }

    /// Writes the change records (for `ldapmodify`, with a `version: 1` line); returns how
    /// many. Refuses like [`MovePlan::write_ldif`].
    pub fn write_changes<W: Write>(&self, out: W) -> Result<u64, DitError> {
        self.refuse_if_conflicts()?;
        output::write_changes(&self.changes, out)
    }

    /// Writes the fix lines of the [`references`](MovePlan::references) as a zmprov script for
    /// the source (`zmprov -f FILE`), each line once, in report order; returns how many lines.
    /// A line that would hold a line break (a hostile name in the source) is written as a
    /// comment instead, so that no input can add a command of its own.
    ///
    /// ```
    /// use zimbra_prov::{dit, model::Directory, zmprov};
    /// let mut src = Directory::new();
    /// zmprov::run(&mut src, "cs mbx1.old.net\ncd company.com\ncd other.org\n\
    ///     ca bob@company.com pw\ncdl team@other.org\nadlm team@other.org bob@company.com")?;
    /// let mut dst = Directory::new();
    /// dst.ids = zimbra_prov::model::IdGenerator::new(2);
    /// zmprov::run(&mut dst, "cs mbx1.old.net")?;
    /// let opts = dit::MoveOptions { rename: Some("migrate.company.com".into()), ..Default::default() };
    /// let plan = dit::plan_move_dirs(&src, &dst, "company.com", &opts)?;
    /// assert_eq!(plan.references[0].kind, dit::ReferenceKind::ListMember);
    /// let mut script = Vec::new();
    /// assert_eq!(plan.write_fixes(&mut script)?, 2);
    /// assert!(String::from_utf8(script)?.ends_with(
    ///     "rdlm team@other.org bob@company.com\nadlm team@other.org bob@migrate.company.com\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_fixes<W: Write>(&self, mut out: W) -> Result<u64, DitError> {
        let mut seen = std::collections::HashSet::new();
        let io = |e: std::io::Error| DitError::Write(e.into());
        writeln!(
            out,
            "# zmprov script for the source directory: references to {} left behind by the move",
            one_line(&self.domain)
        )
        .map_err(io)?;
        let mut n = 0u64;
        for line in self.references.iter().flat_map(|r| r.fix.iter()) {
            if !seen.insert(line.as_str()) {
                continue;
            }
            if line.contains(['\n', '\r']) {
                // a name with a line break would split the command in two, the second
                // one forged by the input: left as a comment for the admin to look at
                writeln!(
                    out,
                    "# not run, a name holds a line break: {}",
                    one_line(line)
                )
                .map_err(io)?;
            } else {
                writeln!(out, "{line}").map_err(io)?;
                n += 1;
            }
        }
        out.flush().map_err(io)?;
        Ok(n)
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
        if self.references.is_empty() {
            writeln!(f, "references left in the source: none")?;
        } else {
            let fixes = self.references.iter().filter(|r| !r.fix.is_empty()).count();
            writeln!(
                f,
                "references left in the source: {} ({fixes} to fix)",
                self.references.len()
            )?;
            for r in &self.references {
                writeln!(f, "  REFERENCE {}", one_line(r))?;
                for l in &r.fix {
                    writeln!(f, "    $ zmprov {}", one_line(l))?;
                }
            }
        }
        Ok(())
    }
}

/// The source and target names of the moved domain.
fn domain_names(domain: &str, opts: &MoveOptions) -> Result<(DomainName, DomainName), DitError> {
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
    Ok((old, new))
}

/// Plans moving `domain` from `source` into `target` (both streams of directory entries,
/// e.g. [`EntryReader`](super::EntryReader)s). The target is indexed (DNs, addresses, ids,
/// domains, COS and servers), then the source is streamed, keeping only the moved domain's
/// entries, its alias domains' entries, COS and server entries (in a compact arena) and the
/// references other entries hold to them.
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
    let (old, new) = domain_names(domain, opts)?;
    let mut t = TargetIndex::default();
    for e in target {
        let e = e?;
        t.add(&e.dn, 0, lines(&e.attrs).into_iter())?;
    }
    let tr = Transform::new(old, new, &opts.map_hosts)?;
    let mut s = SourceScan::new(&tr);
    for e in source {
        let e = e?;
        s.add(&e.dn, 0, lines(&e.attrs).into_iter(), Loc::Arena, false)?;
    }
    Planner {
        t,
        s,
        opts,
        tr,
        file: None,
    }
    .plan()
}

/// [`plan_move`] over two LDIF dumps, each read once as a stream. The moved entries are kept
/// in a compact arena (the source cannot be read twice); [`plan_move_file`] keeps only their
/// places in the source file.
///
/// ```
/// use zimbra_prov::dit;
/// let src = b"dn: dc=company,dc=com\nobjectClass: dcObject\nobjectClass: organization\n\
/// objectClass: zimbraDomain\ndc: company\no: company.com domain\nzimbraDomainName: company.com\n\
/// zimbraId: 11111111-1111-4111-8111-111111111111\n\n\
/// dn: uid=bob,ou=people,dc=company,dc=com\nobjectClass: zimbraAccount\nuid: bob\n\
/// mail: bob@company.com\nzimbraMailDeliveryAddress: bob@company.com\n\
/// zimbraId: 22222222-2222-4222-8222-222222222222\n";
/// let plan = dit::plan_move_ldif(&src[..], &b""[..], "company.com", &Default::default())?;
/// assert!(plan.is_clean(), "{plan}");
/// assert_eq!(plan.entries.dns().collect::<Vec<_>>(),
///            ["dc=com", "dc=company,dc=com", "cn=groups,dc=company,dc=com",
///             "ou=people,dc=company,dc=com", "uid=bob,ou=people,dc=company,dc=com"]);
/// # Ok::<(), zimbra_prov::dit::DitError>(())
/// ```
pub fn plan_move_ldif<S: BufRead, T: BufRead>(
    source: S,
    target: T,
    domain: &str,
    opts: &MoveOptions,
) -> Result<MovePlan, DitError> {
    let (old, new) = domain_names(domain, opts)?;
    let t = index_target(target)?;
    let tr = Transform::new(old, new, &opts.map_hosts)?;
    let s = scan_source(source, &tr, false, 0)?;
    Planner {
        t,
        s,
        opts,
        tr,
        file: None,
    }
    .plan()
}

/// [`plan_move`] over two LDIF files: the lean path for big directories. Each file is read
/// once, at the same time: the target as a stream, the source in parts split at record
/// boundaries, one per core. The moved entries stay in the source file, which the plan keeps
/// open and reads back from when they are written, so memory follows the moved domain's keys
/// (a few hundred bytes per entry), not its size or the source's.
///
/// Errors: unreadable files are [`DitError::Io`], errors in a file's text are
/// [`DitError::InFile`] naming it; the plan refuses to write entries whose
/// record changed in the file since planning ([`DitError::SourceChanged`]).
///
/// ```
/// use zimbra_prov::{dit, model::Directory, zmprov};
/// let dir = std::env::temp_dir().join(format!("plan-move-file-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let dump = |script: &str, seed: u64, name: &str| -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
///     let mut d = Directory::new();
///     d.ids = zimbra_prov::model::IdGenerator::new(seed);
///     zmprov::run(&mut d, script)?;
///     let path = dir.join(name);
///     dit::write_directory(&d, std::fs::File::create(&path)?, &dit::WriteOptions::slapadd())?;
///     Ok(path)
/// };
/// let src = dump("cs mbx1.old.net\ncd company.com\nca bob@company.com pw", 1, "src.ldif")?;
/// let dst = dump("cs mbx1.old.net\ncd other.org", 2, "dst.ldif")?;
/// let plan = dit::plan_move_file(&src, &dst, "company.com", &Default::default())?;
/// assert!(plan.is_clean(), "{plan}");
/// let mut ldif = Vec::new();
/// plan.write_ldif(&mut ldif)?; // bob's entry is read back from src.ldif here
/// assert!(String::from_utf8(ldif)?.contains("dn: uid=bob,ou=people,dc=company,dc=com\n"));
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plan_move_file(
    source: &Path,
    target: &Path,
    domain: &str,
    opts: &MoveOptions,
) -> Result<MovePlan, DitError> {
    let (old, new) = domain_names(domain, opts)?;
    let open = |p: &Path| {
        File::open(p).map_err(|e| DitError::Io {
            path: p.display().to_string(),
            source: e,
        })
    };
    let (tgt, back) = (open(target)?, open(source)?);
    let tr = Transform::new(old, new, &opts.map_hosts)?;
    let parts = crate::par::cores();
    let (s, t) = std::thread::scope(|scope| {
        let t = scope.spawn(|| index_target(BufReader::with_capacity(1 << 20, tgt)));
        let s = scan_source_file(source, &tr, parts);
        let t = t.join().unwrap_or_else(|_| {
            Err(DitError::Io {
                path: target.display().to_string(),
                source: std::io::Error::other("the target reader stopped"),
            })
        });
        (s, t)
    });
    let in_file = |path: &Path, e: DitError| match e {
        DitError::Ldif(_)
        | DitError::ChangeRecord { .. }
        | DitError::Dn { .. }
        | DitError::DuplicateDn { .. } => DitError::InFile {
            path: path.to_path_buf(),
            source: Box::new(e),
        },
        e => e,
    };
    let s = s.map_err(|e| in_file(source, e))?;
    let t = t.map_err(|e| in_file(target, e))?;
    Planner {
        t,
        s,
        opts,
        tr,
        file: Some(Arc::new(SourceFile::new(source.to_path_buf(), back))),
    }
    .plan()
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
/// let entries = plan.entries.to_vec()?;
/// let bob = entries.iter().find(|e| e.kind == dit::EntryKind::Account).unwrap();
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
    plan_move_ldif(&s[..], &t[..], domain, opts)
}
