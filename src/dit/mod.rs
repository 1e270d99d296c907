//! Zimbra's directory layout (DIT) ↔ the typed [`model::Directory`](crate::model::Directory),
//! and domain moves between two directories.
//!
//! Zimbra keeps everything under the empty suffix: `cn=zimbra` holds the global configuration
//! (`cn=config,cn=zimbra`), classes of service (`cn=<cos>,cn=cos,cn=zimbra`), servers
//! (`cn=<host>,cn=servers,cn=zimbra`) and the admin and application accounts
//! (`cn=admins,cn=zimbra`, `cn=appaccts,cn=zimbra`); each mail domain is a `dc=` chain
//! (`dc=example,dc=com`, parent `dc=` entries being plain `dcObject`+`organization`) with
//! `ou=people` (accounts, calendar resources, aliases and static lists, all `uid=` entries)
//! and `cn=groups` (dynamic groups and their `cn=internal`/`cn=external` units) below it.
//!
//! * [`classify`] tells what an entry is, from its object classes and its DN.
//! * [`read_directory`] reads a whole `slapcat` LDIF into a [`Directory`](crate::model::Directory);
//!   [`write_directory`] writes one back. The round trip is **lossless**: every entry, its
//!   DN text, every attribute (operational and unknown ones included) and every value byte is
//!   kept; entries that are not Zimbra objects, or that cannot be typed (a second entry with
//!   the same name, an account without an address), are kept as
//!   [`RawEntry`](crate::model::RawEntry)s in `other_entries`. Entries are written in a
//!   documented deterministic order, parents before children (see [`write_directory`]).
//! * [`plan_move`] plans moving one domain from a source directory into a target directory:
//!   a [`MovePlan`] with typed [`Conflict`]s, the LDIF for `slapadd`, the change records for
//!   entries the target already has, the work left by hand ([`FollowUp`]) and the
//!   [`Reference`]s the source keeps to moved addresses, each with the zmprov lines that fix
//!   it. Nothing is written while there are conflicts. [`plan_move_file`] streams two LDIF
//!   files and keeps only the moved domain's keys: memory follows the moved domain, not the
//!   size of either directory.
//!
//! ```
//! use zimbra_prov::{dit, model::Directory, zmprov};
//! let mut dir = Directory::new();
//! zmprov::run(&mut dir, "cs mbx.example.com\ncd example.com\nca alice@example.com pw")?;
//! let mut out = Vec::new();
//! dit::write_directory(&dir, &mut out, &dit::WriteOptions::slapadd())?;
//! let text = String::from_utf8_lossy(&out);
//! assert!(text.contains("dn: uid=alice,ou=people,dc=example,dc=com\n"));
//! assert!(text.contains("dn: ou=people,dc=example,dc=com\n"));
//! let back = dit::read_directory(&out[..])?;
//! assert_eq!(back.account("alice@example.com").unwrap().attrs,
//!            dir.account("alice@example.com").unwrap().attrs);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod classify;
mod plan;
mod read;
mod write;

pub(crate) use classify::is_account_by_classes;
pub use classify::{classify, domain_of_dn, EntryKind};
pub use plan::{
    plan_move, plan_move_dirs, plan_move_file, plan_move_ldif, Conflict, FollowUp, IdPolicy,
    MoveOptions, MovePlan, PlannedEntries, PlannedEntry, Reference, ReferenceKind, TokenKeys,
};
pub use read::{
    directory_from_entries, read_directory, read_directory_with, EntryReader, ReadOptions,
};
pub use write::{default_dn, entries, write_directory, write_entries, WriteOptions};

use crate::dn::DnError;
use crate::ldif::{LdifError, WriteError};
use crate::model::ModelError;

/// Errors of the `dit` module: unreadable input, unwritable output, impossible requests.
/// Conflicts found while planning a move are not errors: they are [`Conflict`] values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DitError {
    /// The LDIF input does not parse (the error carries the line and DN).
    #[error("LDIF: {0}")]
    Ldif(#[from] LdifError),
    /// A change record where a directory dump (content records only) was expected.
    #[error("line {line}: change record for {dn:?} in a directory dump (only content records are allowed)")]
    ChangeRecord {
        /// Line the record starts on.
        line: u64,
        /// Its DN.
        dn: String,
    },
    /// A DN does not parse.
    #[error("line {line}: bad DN {dn:?}: {source}")]
    Dn {
        /// Line of the record (0 when built in code).
        line: u64,
        /// The DN text.
        dn: String,
        /// Why.
        source: DnError,
    },
    /// Two entries of the input have the same DN.
    #[error("line {line}: duplicate entry {dn:?}")]
    DuplicateDn {
        /// Line of the second record (0 when built in code).
        line: u64,
        /// The DN.
        dn: String,
    },
    /// Writing LDIF failed.
    #[error("writing LDIF: {0}")]
    Write(#[from] WriteError),
    /// An entry's parent is missing and cannot be created (it would be an account-like entry).
    #[error("entry {dn:?} has no parent entry {parent:?} and none can be created")]
    MissingParent {
        /// The entry.
        dn: String,
        /// Its missing parent.
        parent: String,
    },
    /// The domain to move is not in the source.
    #[error("domain {domain} is not a Zimbra domain of the source directory")]
    DomainNotFound {
        /// The domain name.
        domain: String,
    },
    /// A name given in the options is malformed.
    #[error("invalid option {option}: {source}")]
    BadOption {
        /// Which option.
        option: &'static str,
        /// Why.
        source: ModelError,
    },
    /// The plan has conflicts, so nothing may be written.
    #[error("refusing to write: the move plan has {count} conflict(s)")]
    Conflicts {
        /// How many.
        count: usize,
    },
    /// A file cannot be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// An error in the text of one of the input files of
    /// [`plan_move_file`]: an LDIF syntax error, a change record, a bad or duplicate DN.
    #[error("{path}: {source}")]
    InFile {
        /// The file.
        path: std::path::PathBuf,
        /// The error, with its line in that file.
        source: Box<DitError>,
    },
    /// A moved entry kept in the source file cannot be read back as it was planned (the
    /// file became unreadable, or changed since planning).
    #[error("source entry {dn:?} cannot be read back: {why}")]
    SourceChanged {
        /// The entry's source DN.
        dn: String,
        /// What went wrong.
        why: String,
    },
}
