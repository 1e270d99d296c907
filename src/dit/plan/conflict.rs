//! Why a move cannot be written: typed conflicts, each naming the entries involved.

use std::fmt;

use serde::{Deserialize, Serialize};

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
