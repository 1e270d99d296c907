//! RFC 2849 LDIF: a strict streaming [`Reader`] and a [`Writer`] whose output OpenLDAP
//! (`ldapadd -n`, `slapadd`) and python-ldap read back byte for byte.
//!
//! Values are bytes (`Vec<u8>`); attribute and value order is kept as in the file; DNs
//! are validated RFC 4514 [`Dn`](crate::dn::Dn)s. The module knows nothing about Zimbra.
//!
//! ```
//! use zimbra_prov::ldif::{Reader, Writer, WriterOptions, Record};
//! let input = b"dn: uid=a,dc=example\nobjectClass: account\nuid: a\ndescription:: IGxlYWRpbmc=\n";
//! let records: Vec<Record> = Reader::new(&input[..]).collect::<Result<_, _>>()?;
//! let mut out = Vec::new();
//! let mut w = Writer::new(&mut out, WriterOptions::slapadd_mode());
//! for r in &records {
//!     w.write_record(r)?;
//! }
//! drop(w);
//! let back: Vec<Record> = Reader::new(&out[..]).collect::<Result<_, _>>()?;
//! assert_eq!(records, back);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod reader;
mod record;
mod writer;

pub use error::{LdifError, LdifErrorKind, Limit, WriteError};
pub use reader::{valid_description, Reader, ReaderOptions, RecordRef};
pub use record::{
    same_description, Attr, Change, ChangeOp, Control, Entry, ModOp, Modification, Record,
};
pub use writer::{needs_base64, Writer, WriterOptions};
