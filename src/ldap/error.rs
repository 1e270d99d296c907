//! Errors of the live-LDAP layer.

use std::fmt;

/// The name RFC 4511 gives a result code (`noSuchObject` for 32), or `"unknown"`.
///
/// ```
/// use zimbra_prov::ldap::result_code_name;
/// assert_eq!(result_code_name(32), "noSuchObject");
/// assert_eq!(result_code_name(65), "objectClassViolation");
/// assert_eq!(result_code_name(9999), "unknown");
/// ```
pub fn result_code_name(code: u32) -> &'static str {
    match code {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        5 => "compareFalse",
        6 => "compareTrue",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        14 => "saslBindInProgress",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        18 => "inappropriateMatching",
        19 => "constraintViolation",
        20 => "attributeOrValueExists",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        33 => "aliasProblem",
        34 => "invalidDNSyntax",
        36 => "aliasDereferencingProblem",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        54 => "loopDetect",
        64 => "namingViolation",
        65 => "objectClassViolation",
        66 => "notAllowedOnNonLeaf",
        67 => "notAllowedOnRDN",
        68 => "entryAlreadyExists",
        69 => "objectClassModsProhibited",
        71 => "affectsMultipleDSAs",
        80 => "other",
        88 => "abandoned",
        122 => "assertionFailed",
        _ => "unknown",
    }
}

/// A non-success LDAP result returned by the server for one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    /// The operation (`add`, `delete`, `modify`, `modrdn`, `search`, `bind`).
    pub operation: &'static str,
    /// The DN the operation was about.
    pub dn: String,
    /// RFC 4511 result code.
    pub code: u32,
    /// The server's diagnostic message (may be empty).
    pub message: String,
    /// The matchedDN the server returned (may be empty).
    pub matched: String,
}

impl ServerError {
    /// The RFC 4511 name of [`ServerError::code`].
    pub fn code_name(&self) -> &'static str {
        result_code_name(self.code)
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:?}: {} ({})",
            self.operation,
            self.dn,
            self.code_name(),
            self.code
        )?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if !self.matched.is_empty() {
            write!(f, " (matched {:?})", self.matched)?;
        }
        Ok(())
    }
}

impl std::error::Error for ServerError {}

/// One problem found while validating a change set, before anything was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Index of the change in the change set (0-based).
    pub index: usize,
    /// Line the change record started on in its LDIF file (0 if built in code).
    pub line: u64,
    /// DN of the change.
    pub dn: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "change #{} ", self.index + 1)?;
        if self.line > 0 {
            write!(f, "(line {}) ", self.line)?;
        }
        write!(f, "{:?}: {}", self.dn, self.message)
    }
}

/// Why a TLS handshake (`ldaps://` or StartTLS) failed; see [`LdapError::Tls`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsProblem {
    /// The server's certificate chain does not lead to a trusted CA (or is otherwise
    /// invalid: expired, not yet valid). A Zimbra server's certificate is signed by the CA
    /// its installer generated: give that CA ([`ConnectOptions::ca_file`], `--ca-file`,
    /// `LDAPTLS_CACERT`).
    ///
    /// [`ConnectOptions::ca_file`]: super::ConnectOptions::ca_file
    UntrustedCertificate,
    /// The chain is trusted, but the certificate is not issued for the host name (or IP
    /// address) in the URL.
    HostnameMismatch,
    /// The handshake failed for another reason (protocol, ciphers, not TLS at all).
    Handshake,
}

impl fmt::Display for TlsProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsProblem::UntrustedCertificate => {
                "the server's certificate is not issued by a trusted CA (give its CA with \
                 --ca-file, ConnectOptions::ca_file or LDAPTLS_CACERT)"
            }
            TlsProblem::HostnameMismatch => {
                "the server's certificate is not issued for the host in the URL (use the \
                 name the certificate is issued for)"
            }
            TlsProblem::Handshake => "the TLS handshake failed",
        })
    }
}

/// Errors of module [`ldap`](crate::ldap).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LdapError {
    /// The URL could not be used (scheme, syntax).
    #[error("bad LDAP URL {url:?}: {reason}")]
    Url {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// Connecting (TCP, Unix socket, TLS or StartTLS) failed or timed out.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The URL.
        url: String,
        /// The client library's error (boxed: it is large).
        #[source]
        source: Box<ldap3::LdapError>,
    },
    /// The TLS handshake of an `ldaps://` or StartTLS connection failed, for the reason
    /// given by `problem`; `trust` says which certificates were trusted.
    #[error("TLS to {url} failed: {problem}; trusted: {trust}; {source}")]
    Tls {
        /// The URL.
        url: String,
        /// Which check failed.
        problem: TlsProblem,
        /// Where the trusted CA certificates came from.
        trust: super::TlsTrust,
        /// The client library's error (boxed: it is large).
        #[source]
        source: Box<ldap3::LdapError>,
    },
    /// The CA certificate file cannot be used (missing, unreadable, no PEM certificate).
    #[error("CA file {}: {reason}", path.display())]
    CaFile {
        /// The file ([`ConnectOptions::ca_file`](super::ConnectOptions::ca_file) or
        /// `LDAPTLS_CACERT`).
        path: std::path::PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// The simple bind was refused.
    #[error("bind as {dn:?} refused: {} ({code}){}", result_code_name(*code), if message.is_empty() { String::new() } else { format!(": {message}") })]
    Bind {
        /// The bind DN.
        dn: String,
        /// RFC 4511 result code (49 = invalidCredentials).
        code: u32,
        /// The server's diagnostic message.
        message: String,
    },
    /// A search without paging hit the server's size limit: the result is incomplete.
    #[error(
        "search under {base:?} hit the server's size limit after {returned} entries{}",
        if *paged { " (even with paging: the server limits the total of a paged search too)" } else { "; enable paging (page_size > 0)" }
    )]
    SizeLimitExceeded {
        /// Search base.
        base: String,
        /// Entries received before the limit was hit.
        returned: u64,
        /// Whether the simple paged results control was in use.
        paged: bool,
    },
    /// The server answered an operation with a non-success result.
    #[error("{0}")]
    Server(#[from] ServerError),
    /// The connection failed or timed out during an operation.
    #[error("{operation} {dn:?}: {source}")]
    Transport {
        /// The operation.
        operation: &'static str,
        /// The DN the operation was about.
        dn: String,
        /// The client library's error (boxed: it is large).
        #[source]
        source: Box<ldap3::LdapError>,
    },
    /// The server sent an entry or control this module cannot decode.
    #[error("malformed response to {operation} under {dn:?}: {reason}")]
    Malformed {
        /// The operation.
        operation: &'static str,
        /// Search base or DN.
        dn: String,
        /// What was wrong.
        reason: String,
    },
    /// The server returned a DN that is not valid RFC 4514.
    #[error("server returned an invalid DN {dn:?}: {source}")]
    InvalidDn {
        /// The DN as returned.
        dn: String,
        /// Why it is invalid.
        #[source]
        source: crate::dn::DnError,
    },
    /// A domain name that cannot be turned into a DN.
    #[error("invalid domain name {domain:?}: {source}")]
    InvalidDomain {
        /// The domain as given.
        domain: String,
        /// Why.
        #[source]
        source: crate::dn::DnError,
    },
    /// The domain to export does not exist on the server.
    #[error("domain {domain:?} not found (no entry {dn:?})")]
    NoSuchDomain {
        /// The domain name.
        domain: String,
        /// Its DN.
        dn: String,
    },
    /// The change set failed validation; nothing was sent to the server.
    #[error("{} problem(s) in the change set, nothing applied:\n{}", problems.len(), problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Validation {
        /// Every problem found, in change order.
        problems: Vec<Problem>,
    },
    /// A move plan with conflicts was given to [`Plan::from_move`](super::Plan::from_move);
    /// nothing was sent to the server.
    #[error("the move plan of {domain} has {} conflict(s), nothing applied:\n{}", conflicts.len(), conflicts.iter().map(|c| format!("  {c}")).collect::<Vec<_>>().join("\n"))]
    MoveConflicts {
        /// The domain the plan moves.
        domain: String,
        /// Every conflict of the plan.
        conflicts: Vec<crate::dit::Conflict>,
    },
    /// Resuming a plan (see [`LdapSink::resume`](super::LdapSink::resume)) found no safe
    /// point to resume from; nothing was sent.
    #[error("cannot resume: {reason}")]
    Resume {
        /// Position (0-based) of the operation that cannot be decided, if one.
        index: Option<usize>,
        /// Why.
        reason: String,
    },
    /// The entries read from the server do not make a directory (two entries with the same
    /// DN, a DN the reader refuses).
    #[error("reading the directory: {0}")]
    Directory(#[source] crate::dit::DitError),
    /// The consumer of exported entries failed (for example, writing the LDIF file).
    #[error("entry consumer failed: {0}")]
    Consumer(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl LdapError {
    /// The server error, when this is one.
    pub fn server(&self) -> Option<&ServerError> {
        match self {
            LdapError::Server(s) => Some(s),
            _ => None,
        }
    }
}
