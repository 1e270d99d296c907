//! A zmprov script interpreter: parse scripts into typed [`Command`]s and apply them to a
//! [`Directory`](crate::model::Directory) with Zimbra's semantics, callbacks and error messages.
//!
//! ```
//! use zimbra_prov::model::{Directory, MailRecipient};
//! use zimbra_prov::zmprov;
//!
//! let mut dir = Directory::new();
//! zmprov::run(&mut dir, "
//!     cs primary.example.org
//!     cd example.org
//!     ca bob@example.org secret zimbraMailTransport smtp:exchange.example.org:25
//! ").unwrap();
//! let bob = dir.account("bob@example.org").unwrap();
//! assert_eq!(bob.transport().unwrap().unwrap().to_string(), "smtp:exchange.example.org:25");
//!
//! let err = zmprov::run(&mut dir, "ma nobody@example.org zimbraMailStatus disabled").unwrap_err();
//! assert_eq!(err.to_string(),
//!     "line 1: ERROR: account.NO_SUCH_ACCOUNT (no such account: nobody@example.org)");
//! ```
//!
//! ## Semantics
//!
//! - Attribute arguments: `attr value` replaces (repeat `attr` for several values), `+attr value`
//!   adds, `-attr value` removes, `attr ""` removes the attribute; mixing `attr` with
//!   `+attr`/`-attr` in one command is refused, as are unknown attributes, immutable attributes,
//!   invalid values (checked by the [`crate::attrs`] catalog), a second value on a single-valued
//!   attribute, an attribute the entry's object classes do not allow, and replacing the
//!   safeguarded multi-valued attributes (`zimbraServiceEnabled`, `zimbraServiceInstalled`)
//!   without `-r`.
//! - Callbacks: `zimbraAccountStatus` closed/pending sets `zimbraMailStatus=disabled` (any other
//!   status `enabled`) unless the same command sets it; `zimbraMailHost` sets
//!   `zimbraMailTransport=lmtp:<host>:<zimbraLmtpBindPort>`; `zimbraDomainStatus` closed disables
//!   the domain's mail, `shutdown` is refused; `zimbraMtaRelayHost` takes one value;
//!   `zimbraCOSId`/`zimbraDomainDefaultCOSId` must name an existing COS.
//! - **Mail host choice for `ca`** (Zimbra picks at random; this model picks deterministically):
//!   an explicit `zimbraMailHost`; else the servers of the COS's `zimbraMailHostPool` that run
//!   mailboxes; else every server that runs mailboxes; else every server (the model's stand-in
//!   for "the local server"). Among the candidates, sorted by name, the one at index
//!   `fnv1a(lower-case address) mod count` is chosen, so the choice depends only on the address
//!   and the candidates, never on the order of commands.
//! - The model never stores passwords: `ca`'s password argument is checked for presence only.

mod apply;
mod parse;

pub use apply::{apply, apply_script, run};
pub use parse::{
    parse_command, parse_script, quote_word, split_words, AttrArg, AttrOp, Command, ScriptLine,
};

use std::fmt;

/// The class of a zmprov error, with the code zmprov prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `account.NO_SUCH_ACCOUNT`
    #[strum(serialize = "account.NO_SUCH_ACCOUNT")]
    NoSuchAccount,
    /// `account.NO_SUCH_DOMAIN`
    #[strum(serialize = "account.NO_SUCH_DOMAIN")]
    NoSuchDomain,
    /// `account.NO_SUCH_COS`
    #[strum(serialize = "account.NO_SUCH_COS")]
    NoSuchCos,
    /// `account.NO_SUCH_SERVER`
    #[strum(serialize = "account.NO_SUCH_SERVER")]
    NoSuchServer,
    /// `account.NO_SUCH_DISTRIBUTION_LIST`
    #[strum(serialize = "account.NO_SUCH_DISTRIBUTION_LIST")]
    NoSuchDistributionList,
    /// `account.NO_SUCH_ALIAS`
    #[strum(serialize = "account.NO_SUCH_ALIAS")]
    NoSuchAlias,
    /// `account.NO_SUCH_MEMBER`
    #[strum(serialize = "account.NO_SUCH_MEMBER")]
    NoSuchMember,
    /// `account.ACCOUNT_EXISTS`
    #[strum(serialize = "account.ACCOUNT_EXISTS")]
    AccountExists,
    /// `account.DOMAIN_EXISTS`
    #[strum(serialize = "account.DOMAIN_EXISTS")]
    DomainExists,
    /// `account.COS_EXISTS`
    #[strum(serialize = "account.COS_EXISTS")]
    CosExists,
    /// `account.SERVER_EXISTS`
    #[strum(serialize = "account.SERVER_EXISTS")]
    ServerExists,
    /// `account.DISTRIBUTION_LIST_EXISTS`
    #[strum(serialize = "account.DISTRIBUTION_LIST_EXISTS")]
    DistributionListExists,
    /// `account.DOMAIN_NOT_EMPTY`
    #[strum(serialize = "account.DOMAIN_NOT_EMPTY")]
    DomainNotEmpty,
    /// `account.INVALID_ATTR_NAME`
    #[strum(serialize = "account.INVALID_ATTR_NAME")]
    InvalidAttrName,
    /// `account.INVALID_ATTR_VALUE`
    #[strum(serialize = "account.INVALID_ATTR_VALUE")]
    InvalidAttrValue,
    /// `service.INVALID_REQUEST`
    #[strum(serialize = "service.INVALID_REQUEST")]
    InvalidRequest,
    /// A command zmprov does not know (printed without `ERROR:`).
    #[strum(serialize = "unknown command")]
    UnknownCommand,
    /// Wrong arguments: zmprov prints the usage line.
    #[strum(serialize = "usage")]
    Usage,
    /// Unbalanced quotes and similar.
    #[strum(serialize = "syntax")]
    Syntax,
    /// zmprov's own refusal (`error: ...`), e.g. replacing a safeguarded attribute without `-r`.
    #[strum(serialize = "refused")]
    Refused,
}

impl ErrorCode {
    /// The code as zmprov prints it (`account.NO_SUCH_ACCOUNT`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    fn is_service_error(self) -> bool {
        !matches!(
            self,
            ErrorCode::UnknownCommand | ErrorCode::Usage | ErrorCode::Syntax | ErrorCode::Refused
        )
    }
}

/// An error from parsing or applying a zmprov script; displays like zmprov with the line number:
/// `line 3: ERROR: account.NO_SUCH_ACCOUNT (no such account: x@example.com)`.
///
/// Read it through its accessors; new details may be added without breaking callers.
///
/// ```
/// use zimbra_prov::model::Directory;
/// use zimbra_prov::zmprov::{self, ErrorCode};
/// let mut dir = Directory::new();
/// let e = zmprov::run(&mut dir, "cd example.org\nma x@example.org zimbraMailQuota 1").unwrap_err();
/// assert_eq!((e.line(), e.code()), (2, ErrorCode::NoSuchAccount));
/// assert_eq!(e.message(), "no such account: x@example.org");
/// assert!(e.is_not_found());
/// assert_eq!(e.to_string(), "line 2: ERROR: account.NO_SUCH_ACCOUNT (no such account: x@example.org)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct ZmprovError {
    line: usize,
    code: ErrorCode,
    message: String,
}

impl ZmprovError {
    pub(crate) fn new(line: usize, code: ErrorCode, message: impl Into<String>) -> Self {
        ZmprovError {
            line,
            code,
            message: message.into(),
        }
    }

    /// 1-based line number in the script (0 when applying a command outside a script).
    pub fn line(&self) -> usize {
        self.line
    }

    /// The error class.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message inside the parentheses (or the whole message for usage errors).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The message as zmprov prints it, without the line number.
    pub fn zmprov_message(&self) -> String {
        if self.code.is_service_error() {
            format!("ERROR: {} ({})", self.code.as_str(), self.message)
        } else {
            self.message.clone()
        }
    }

    /// Whether the error is about a missing object (`NO_SUCH_*`).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.code,
            ErrorCode::NoSuchAccount
                | ErrorCode::NoSuchDomain
                | ErrorCode::NoSuchCos
                | ErrorCode::NoSuchServer
                | ErrorCode::NoSuchDistributionList
                | ErrorCode::NoSuchAlias
                | ErrorCode::NoSuchMember
        )
    }
}

impl fmt::Display for ZmprovError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.zmprov_message())
    }
}
