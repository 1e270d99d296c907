//! Errors of the LDIF reader and writer.

use crate::dn::DnError;

/// Which size limit of [`ReaderOptions`](super::ReaderOptions) was exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::Display)]
pub enum Limit {
    /// `max_line_bytes`: one logical (unfolded) line.
    #[strum(serialize = "line")]
    Line,
    /// `max_value_bytes`: one decoded value.
    #[strum(serialize = "value")]
    Value,
    /// `max_record_bytes`: one record.
    #[strum(serialize = "record")]
    Record,
}

/// What went wrong while reading LDIF (see [`LdifError`] for the position).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LdifErrorKind {
    /// Reading the input failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A record does not start with a `dn:` line.
    #[error("record does not start with a `dn:` line (found `{found}`)")]
    MissingDn {
        /// The attribute description found instead.
        found: String,
    },
    /// Two `dn:` lines directly after each other.
    #[error("record has two `dn:` lines")]
    DuplicateDn,
    /// A `dn:` line after attribute lines: the blank line between two records is missing.
    #[error("`dn:` line inside a record: the blank line between two records is missing")]
    MissingBlankLine,
    /// A `::` value is not valid base64.
    #[error("invalid base64 in value of `{attribute}`")]
    BadBase64 {
        /// Attribute description of the line.
        attribute: String,
    },
    /// A continuation line (starting with a space) has no line to continue.
    #[error("continuation line (starting with a space) without a preceding line")]
    ContinuationAtStart,
    /// `version:` other than 1.
    #[error("unsupported LDIF version {0:?} (only 1 is defined)")]
    UnsupportedVersion(String),
    /// A line has no `:`.
    #[error("missing ':' after the attribute description")]
    MissingColon,
    /// Content and change records in one file.
    #[error("content records and change records mixed in one file")]
    MixedRecords,
    /// A mod-spec is not closed by a `-` line before the next one.
    #[error("modify spec for `{attribute}` not closed by a `-` line")]
    MissingModSeparator {
        /// Attribute of the unclosed spec.
        attribute: String,
    },
    /// A value line in a mod-spec names a different attribute.
    #[error("value for `{found}` inside a modify spec for `{expected}`")]
    ModAttributeMismatch {
        /// Attribute of the spec.
        expected: String,
        /// Attribute of the value line.
        found: String,
    },
    /// A modify record line is not `add:`, `delete:`, `replace:` or `increment:`.
    #[error("expected add:, delete:, replace: or increment: in a modify record, found `{0}`")]
    BadModOp(String),
    /// `deleteoldrdn` other than 0 or 1.
    #[error("deleteoldrdn must be 0 or 1, found {0:?}")]
    BadDeleteOldRdn(String),
    /// Unknown `changetype`.
    #[error("unknown changetype {0:?}")]
    UnknownChangeType(String),
    /// A line of a modrdn/moddn record is missing.
    #[error("expected `{0}:` line")]
    ExpectedLine(&'static str),
    /// A line where the record must end (after `changetype: delete`, after moddn).
    #[error("unexpected line `{0}` at the end of a change record")]
    UnexpectedLine(String),
    /// Empty attribute description (`: value`).
    #[error("empty attribute description")]
    EmptyAttributeDescription,
    /// Attribute description with invalid characters.
    #[error("invalid attribute description {0:?}")]
    InvalidAttributeDescription(String),
    /// A `dn::`, `newrdn::` or `newsuperior::` value that is not UTF-8.
    #[error("base64 DN is not valid UTF-8")]
    DnNotUtf8,
    /// A DN that is not valid RFC 4514.
    #[error("{0}")]
    InvalidDn(#[from] DnError),
    /// A `:<` URL value while no URL base is set.
    #[error(
        "URL values are not allowed without a URL base (value of `{attribute}`; \
         see ReaderOptions::url_base, --url-base in the tools)"
    )]
    UrlNotAllowed {
        /// Attribute description of the line.
        attribute: String,
    },
    /// A URL with a scheme other than `file://`.
    #[error("unsupported URL {0:?} (only file:// URLs are read)")]
    UnsupportedUrlScheme(String),
    /// A `file://` URL that does not name a file inside the URL base directory: outside it
    /// (lexically, or through a symbolic link), or missing. The message is the same in
    /// every case, so it never tells whether a path exists.
    #[error("URL {0:?} does not name a file inside the URL base directory")]
    UrlOutsideBase(String),
    /// The URL base directory itself cannot be used (missing, not a directory, unreadable).
    #[error("URL base directory {} cannot be used: {source}", base.display())]
    UrlBase {
        /// The base as configured.
        base: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A URL naming a directory, FIFO, device or socket: only regular files are read.
    #[error("URL {url:?} names {what}, not a regular file")]
    UrlNotRegularFile {
        /// The URL.
        url: String,
        /// What it names (`a directory`, `a FIFO`, `a device`, `a socket`).
        what: &'static str,
    },
    /// Reading the file of a URL value failed.
    #[error("cannot read URL {url:?}: {source}")]
    UrlRead {
        /// The URL.
        url: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A control line with a bad OID, criticality or value.
    #[error("invalid control line: {0}")]
    BadControl(String),
    /// A plain value with a byte that is not allowed unencoded.
    #[error("byte 0x{byte:02x} at offset {offset} is not allowed in a plain value of `{attribute}` (use base64)")]
    UnsafeValue {
        /// Attribute description.
        attribute: String,
        /// The offending byte.
        byte: u8,
        /// Its offset in the value.
        offset: usize,
    },
    /// A plain value with non-ASCII bytes that are not UTF-8.
    #[error("plain value of `{attribute}` is not valid UTF-8 (use base64)")]
    ValueNotUtf8 {
        /// Attribute description.
        attribute: String,
    },
    /// `changetype: add` with no attributes.
    #[error("changetype add without attributes")]
    AddWithoutAttributes,
    /// A content entry with only a DN.
    #[error("entry has no attributes")]
    EntryWithoutAttributes,
    /// A size limit was exceeded.
    #[error("{what} longer than the limit of {limit} bytes")]
    LimitExceeded {
        /// Which limit.
        what: Limit,
        /// The limit in bytes.
        limit: usize,
    },
}

/// A reading error with the line it happened on and the DN of the record, when known.
///
/// ```
/// use zimbra_prov::ldif::{Reader, LdifErrorKind};
/// let mut r = Reader::new(&b"dn: cn=x\ncn: x\nmail_x: y\n"[..]);
/// let err = r.next_record().unwrap_err();
/// assert_eq!(err.line, 3);
/// assert_eq!(err.dn.as_deref(), Some("cn=x"));
/// assert!(matches!(err.kind, LdifErrorKind::InvalidAttributeDescription(_)));
/// ```
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {kind}{}", dn.as_ref().map(|d| format!(" (dn: {d})")).unwrap_or_default())]
pub struct LdifError {
    /// 1-based line number of the offending line (0 when not tied to a line).
    pub line: u64,
    /// Line the record started on, when known.
    pub record_line: Option<u64>,
    /// DN of the record, when known.
    pub dn: Option<String>,
    /// What went wrong.
    #[source]
    pub kind: LdifErrorKind,
}

/// Why the writer refused a record (nothing of the record was written).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// Writing to the output failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// An attribute description that LDIF cannot carry.
    #[error("invalid attribute description {description:?} in record {dn:?}")]
    InvalidAttributeDescription {
        /// DN of the record.
        dn: String,
        /// The description.
        description: String,
    },
    /// An entry or add change with no attributes.
    #[error("record {dn:?} has no attributes")]
    NoAttributes {
        /// DN of the record.
        dn: String,
    },
    /// A control with an invalid OID.
    #[error("invalid control OID {oid:?} in record {dn:?}")]
    InvalidControlOid {
        /// DN of the record.
        dn: String,
        /// The OID.
        oid: String,
    },
    /// Content and change records written to one file.
    #[error("record {dn:?}: content and change records cannot be mixed in one file")]
    MixedRecords {
        /// DN of the record.
        dn: String,
    },
}
