//! Live LDAP (feature `ldap`): read a Zimbra directory, or one domain, from a running
//! server, and apply LDIF change records to one, with an exact account of what was applied.
//!
//! Built on the [`ldap3`] client's synchronous API and on the generic LDIF types of
//! [`ldif`](crate::ldif), so it works with any entries, not only Zimbra's:
//!
//! - [`ConnectOptions`]: `ldap://`, `ldaps://`, `ldapi://` (percent-encoded socket path),
//!   StartTLS, simple bind, connect and per-operation timeouts.
//! - [`LdapSource`]: paged searches (simple paged results, RFC 2696) streamed entry by entry
//!   as [`ldif::Entry`](crate::ldif::Entry) values in the server's attribute and value order,
//!   with a progress callback; [`Export::Tree`] or [`Export::Domain`] (the domain's subtree
//!   plus the COS and server entries it uses). [`LdapSource::entries`] turns that into an
//!   iterator.
//! - [`Plan`] / [`validate`]: a change set checked before anything is sent (record sanity,
//!   attribute descriptions, duplicate values, Zimbra catalog value checks, order within the set).
//! - [`LdapSink`]: [`LdapSink::dry_run`] lists the operations and predicts refusals with
//!   read-only searches; [`LdapSink::apply`] sends them in order, stops at the first refusal
//!   and returns an [`ApplyReport`] (applied prefix, the failed operation with the server's
//!   code, message and DN, and the operations never sent).
//!
//! # Wiring entries into a reader
//!
//! [`read_entries`] is the conversion point from a live server to code that consumes an
//! iterator of entries (for example a `dit::read_directory`-style reader building a
//! `model::Directory`): it hands the reader a plain `Iterator<Item = Entry>` that ends at
//! the first LDAP error, and returns that error in preference to whatever the reader made of
//! the truncated stream.
//!
//! ```no_run
//! use zimbra_prov::ldap::{read_entries, ConnectOptions, Export, LdapSource, SourceOptions};
//! let conn = ConnectOptions::new("ldap://zimbra-ldap:389")
//!     .bind("uid=zimbra,cn=admins,cn=zimbra", "secret");
//! let source = LdapSource::connect(&conn, SourceOptions::default())?;
//! let entries = source.entries(Export::Domain("example.com".into()), |p| {
//!     eprintln!("{} entries, {} pages", p.entries, p.pages)
//! });
//! // A reader that needs only an iterator of entries: here, count accounts.
//! let accounts = read_entries(entries, |it| {
//!     Ok::<_, std::convert::Infallible>(
//!         it.filter(|e| e.get_all("objectClass").any(|v| v == b"zimbraAccount")).count(),
//!     )
//! })?;
//! println!("{accounts} accounts");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Value order inside one attribute of an add or modify is not preserved on the wire (the
//! client library takes values as sets; LDAP attribute values are unordered); attribute order
//! is.

mod conn;
mod error;
mod sink;
mod source;

pub use conn::ConnectOptions;
pub use error::{result_code_name, LdapError, Problem, ServerError};
pub use sink::{validate, ApplyReport, DryRun, Failure, LdapSink, Operation, Plan};
pub use source::{
    Entries, Export, ExportSummary, LdapSource, Phase, Progress, SearchScope, SourceOptions,
    PAGED_RESULTS_OID,
};

use crate::ldif::Entry;

/// Why [`read_entries`] failed: reading from the server, or the reader itself.
#[derive(Debug, thiserror::Error)]
pub enum ReadError<E> {
    /// The server side failed; the reader saw a truncated stream.
    #[error("{0}")]
    Ldap(#[source] LdapError),
    /// The reader failed on a complete stream.
    #[error("{0}")]
    Read(#[source] E),
}

/// An iterator over the `Ok` entries of a fallible stream that stops at the first error
/// and keeps it (see [`read_entries`]).
#[derive(Debug)]
pub struct UntilError<'a, I> {
    inner: I,
    error: &'a mut Option<LdapError>,
}

impl<I: Iterator<Item = Result<Entry, LdapError>>> Iterator for UntilError<'_, I> {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        if self.error.is_some() {
            return None;
        }
        match self.inner.next()? {
            Ok(e) => Some(e),
            Err(e) => {
                *self.error = Some(e);
                None
            }
        }
    }
}

/// Feeds a stream of entries (from [`LdapSource::entries`], or any
/// `Result<Entry, LdapError>` iterator) to `read`, which sees a plain iterator of entries.
/// A server error ends the iterator and is returned as [`ReadError::Ldap`] even if `read`
/// succeeded on the truncated input.
///
/// ```
/// use zimbra_prov::{dn::Dn, ldif::Entry, ldap::{read_entries, LdapError, ReadError}};
/// let e = |s: &str| Ok(Entry::new(Dn::parse(s).unwrap()));
/// let ok = read_entries(vec![e("dc=a"), e("dc=b")], |it| Ok::<_, String>(it.count()));
/// assert_eq!(ok.ok(), Some(2));
/// let cut = vec![e("dc=a"), Err(LdapError::Consumer("boom".into())), e("dc=c")];
/// let err = read_entries(cut, |it| Ok::<_, String>(it.count())).unwrap_err();
/// assert!(matches!(err, ReadError::Ldap(_)));
/// ```
pub fn read_entries<I, T, E, F>(entries: I, read: F) -> Result<T, ReadError<E>>
where
    I: IntoIterator<Item = Result<Entry, LdapError>>,
    F: FnOnce(UntilError<'_, I::IntoIter>) -> Result<T, E>,
{
    let mut error = None;
    let out = read(UntilError {
        inner: entries.into_iter(),
        error: &mut error,
    });
    match (error, out) {
        (Some(e), _) => Err(ReadError::Ldap(e)),
        (None, Ok(v)) => Ok(v),
        (None, Err(e)) => Err(ReadError::Read(e)),
    }
}
