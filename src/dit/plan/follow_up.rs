//! Work a move leaves to be done by hand: auth keys, certificates, mailbox data, DKIM.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::output::PlannedEntry;
use crate::dit::EntryKind;
use crate::model::AttrBag;

/// Whether sessions survive the move: the source's and the target's `zimbraAuthTokenKey`
/// (in the global configuration) compared. Tokens carry the key they were signed with, so
/// they stay valid on the target exactly when it has every key of the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TokenKeys {
    /// Neither dump has a `zimbraAuthTokenKey` (a partial dump, or a directory Zimbra never
    /// ran on): the keys cannot be compared here.
    Neither,
    /// Only the source has one: the target creates its own at first use.
    SourceOnly,
    /// Only the target has one: the source's cannot be compared.
    TargetOnly,
    /// Both have keys and the target lacks some of the source's.
    Different,
    /// The target has every key of the source.
    Shared,
}

impl TokenKeys {
    /// Compares the `zimbraAuthTokenKey` values of the source and the target (`None`: no
    /// global configuration entry, or one without the attribute).
    ///
    /// ```
    /// use zimbra_prov::dit::TokenKeys;
    /// let k = |s: &str| Some(vec![s.as_bytes().to_vec()]);
    /// assert_eq!(TokenKeys::compare(None, None), TokenKeys::Neither);
    /// assert_eq!(TokenKeys::compare(k("0:aa"), k("0:bb")), TokenKeys::Different);
    /// assert_eq!(TokenKeys::compare(k("0:aa"), k("0:aa")), TokenKeys::Shared);
    /// assert_eq!(TokenKeys::compare(k("0:aa"), None), TokenKeys::SourceOnly);
    /// ```
    pub fn compare(source: Option<Vec<Vec<u8>>>, target: Option<Vec<Vec<u8>>>) -> TokenKeys {
        let some = |v: Option<Vec<Vec<u8>>>| v.filter(|v| !v.is_empty());
        match (some(source), some(target)) {
            (None, None) => TokenKeys::Neither,
            (Some(_), None) => TokenKeys::SourceOnly,
            (None, Some(_)) => TokenKeys::TargetOnly,
            (Some(s), Some(t)) if s.iter().all(|k| t.contains(k)) => TokenKeys::Shared,
            (Some(_), Some(_)) => TokenKeys::Different,
        }
    }
}

/// Work the move leaves to be done by hand (the seed runbook: "adjustments would also need
/// to be done in regards to auth keys and server certs").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FollowUp {
    /// Authentication keys: tokens signed by a `zimbraAuthTokenKey` the target lacks are
    /// invalid there (users log in again), and the domain's preauth key must be given to
    /// whatever uses it.
    AuthKeys {
        /// The domain (after renaming).
        domain: String,
        /// Key attributes the moved domain entry carries (e.g. `zimbraPreAuthKey`).
        domain_keys: Vec<String>,
        /// What the two directories' `zimbraAuthTokenKey`s say about sessions.
        token_keys: TokenKeys,
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

const COMPARE: &str =
    "compare `zmprov gcf zimbraAuthTokenKey` on both systems; if they differ, users of";

impl fmt::Display for FollowUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FollowUp::AuthKeys {
                domain,
                domain_keys,
                token_keys,
            } => {
                match token_keys {
                    TokenKeys::Different => write!(
                        f,
                        "auth keys: the target's zimbraAuthTokenKey differs, users of {domain} must log in again"
                    ),
                    TokenKeys::Shared => write!(
                        f,
                        "auth keys: the target has the source's zimbraAuthTokenKey, sessions of {domain} users stay valid"
                    ),
                    TokenKeys::SourceOnly => write!(
                        f,
                        "auth keys: the target has no zimbraAuthTokenKey yet and will create its own, users of {domain} must log in again"
                    ),
                    TokenKeys::TargetOnly => write!(
                        f,
                        "auth keys: the source has no zimbraAuthTokenKey to compare with the target's: {COMPARE} {domain} must log in again"
                    ),
                    TokenKeys::Neither => write!(
                        f,
                        "auth keys: neither directory has a zimbraAuthTokenKey: {COMPARE} {domain} must log in again"
                    ),
                }?;
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
                write!(f, "certificates: install certificates covering {domain}")?;
                if !virtual_hosts.is_empty() {
                    write!(f, " and {}", virtual_hosts.join(", "))?;
                }
                let on = if hosts.is_empty() {
                    "the target servers".to_string()
                } else {
                    hosts.join(", ")
                };
                write!(f, " on {on}")?;
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

/// The follow-ups of a move: `domain_entry` is the moved domain's planned entry (absent when
/// it merges into an existing parent entry), `hosts` the target mail hosts of the moved
/// entries, `moved_hosts` the entries per (old host, new host).
pub(super) fn follow_ups(
    new_domain: &str,
    domain_entry: Option<&PlannedEntry>,
    hosts: Vec<String>,
    moved_hosts: BTreeMap<(String, String), usize>,
    token_keys: TokenKeys,
) -> Vec<FollowUp> {
    let attrs: Option<&AttrBag> = domain_entry
        .filter(|d| d.kind == EntryKind::Domain)
        .map(|d| &d.attrs);
    let domain_keys: Vec<String> = attrs
        .map(|d| {
            d.iter()
                .filter(|a| {
                    a.name.to_ascii_lowercase().ends_with("authkey")
                        || a.name.eq_ignore_ascii_case("zimbraPreAuthKey")
                })
                .map(|a| a.name.to_string())
                .collect()
        })
        .unwrap_or_default();
    let mut out = vec![
        FollowUp::AuthKeys {
            domain: new_domain.to_string(),
            domain_keys,
            token_keys,
        },
        FollowUp::Certificates {
            domain: new_domain.to_string(),
            hosts,
            virtual_hosts: attrs
                .map(|d| {
                    d.strs("zimbraVirtualHostname")
                        .iter()
                        .map(|s| s.to_string())
                        .collect()
                })
                .unwrap_or_default(),
            domain_certificate: attrs.is_some_and(|d| d.contains("zimbraSSLCertificate")),
        },
    ];
    for ((from, to), n) in moved_hosts {
        out.push(FollowUp::MailboxData {
            from,
            to,
            entries: n,
        });
    }
    if attrs.is_some_and(|d| {
        d.iter()
            .any(|a| a.name.to_ascii_lowercase().starts_with("dkim"))
    }) {
        out.push(FollowUp::Dkim {
            domain: new_domain.to_string(),
        });
    }
    out
}

/// The global configuration's `zimbraAuthTokenKey` values, from an entry's attribute lines.
pub(super) fn token_keys<'a>(attrs: impl Iterator<Item = (&'a str, &'a [u8])>) -> Vec<Vec<u8>> {
    attrs
        .filter(|(d, _)| d.eq_ignore_ascii_case("zimbraAuthTokenKey"))
        .map(|(_, v)| v.to_vec())
        .collect()
}
