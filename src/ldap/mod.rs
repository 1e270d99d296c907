//! Live LDAP (feature `ldap`): read a Zimbra directory, or one domain, from a running
//! server, and apply LDIF change records to one, with an exact account of what was applied.
//!
//! Built on the [`ldap3`] client's synchronous API and on the generic LDIF types of
//! [`ldif`](crate::ldif), so it works with any entries, not only Zimbra's:
//!
//! - [`ConnectOptions`]: `ldap://`, `ldaps://`, `ldapi://` (percent-encoded socket path),
//!   StartTLS, simple bind, connect and per-operation timeouts; TLS trusting a CA file
//!   (Zimbra's own CA) or `LDAPTLS_CACERT` ([`TlsTrust`]), failures typed by which check
//!   failed ([`TlsProblem`]).
//! - [`LdapSource`]: paged searches (simple paged results, RFC 2696) streamed entry by entry
//!   as [`ldif::Entry`](crate::ldif::Entry) values in the server's attribute and value order,
//!   with a progress callback; [`Export::Tree`] or [`Export::Domain`] (the domain's subtree
//!   plus the COS and server entries it uses). [`LdapSource::entries`] turns that into an
//!   iterator; [`LdapSource::read_directory`] types it into a
//!   [`Directory`](crate::model::Directory).
//! - [`Plan`] / [`validate`]: a change set checked before anything is sent (record sanity,
//!   attribute descriptions, duplicate values, Zimbra catalog value checks, the attributes the
//!   object classes of an added entry require, order within the set); [`Plan::from_move`]
//!   builds one from a `dit` move plan, refusing one with conflicts.
//! - [`LdapSink`]: [`LdapSink::dry_run`] lists the operations and predicts refusals with
//!   read-only searches; [`LdapSink::apply`] sends them in order, stops at the first one
//!   that does not go through and returns an [`ApplyReport`] (applied prefix; the failed
//!   operation with the server's code, message and DN, or the operation whose answer was
//!   lost, whose outcome is unknown; and the operations never sent);
//!   [`LdapSink::resume`] / [`LdapSink::resume_after`] re-read the target after an unknown
//!   outcome and return the operations still to apply ([`Resume`]).
//!
//! # How live reads, `dit`, move plans and the sink fit together
//!
//! The offline route of a domain move is `slapcat` → [`dit::plan_move_ldif`] → `slapadd`
//! of [`MovePlan::write_ldif`] (+ `ldapmodify` of [`MovePlan::write_changes`]) on a stopped
//! target. This module puts live servers at either end without changing anything in between:
//!
//! | step | offline | live |
//! |------|---------|------|
//! | read a directory | [`dit::read_directory`] of a `slapcat` file | [`LdapSource::read_directory`] ([`Export::Tree`] or [`Export::Domain`]) |
//! | stream entries to a planner | [`dit::EntryReader`] | [`LdapSource::entries`] mapped with [`to_raw_entry`], via [`read_entries`] |
//! | plan the move | [`dit::plan_move`] / [`dit::plan_move_dirs`] / [`dit::plan_move_ldif`] | the same functions |
//! | refuse conflicts | [`MovePlan::write_ldif`] errs | [`Plan::from_move`] errs with [`LdapError::MoveConflicts`] |
//! | write | `slapadd` the entries, then `ldapmodify` the changes | [`LdapSink::apply`] of [`Plan::from_move`]: adds in the plan's (parent-first) order, then the changes |
//!
//! Both routes end in the same entries (the live tests compare `slapcat` of both, value by
//! value, apart from the operational attributes each server generates), and the live route
//! says exactly how far it got ([`ApplyReport`]).
//!
//! ```no_run
//! use zimbra_prov::{dit, ldap::{ConnectOptions, Export, LdapSink, LdapSource, Plan, SourceOptions}};
//! let src = ConnectOptions::new("ldap://old-zimbra:389")
//!     .bind("uid=zimbra,cn=admins,cn=zimbra", "old-secret");
//! let dst = ConnectOptions::new("ldap://new-zimbra:389")
//!     .bind("uid=zimbra,cn=admins,cn=zimbra", "new-secret");
//! // The moved domain (with its COS and servers) from the source, the whole target.
//! let (source, _) = LdapSource::connect(&src, SourceOptions::default())?
//!     .read_directory(&Export::Domain("company.com".into()), |_| {})?;
//! let (target, _) = LdapSource::connect(&dst, SourceOptions::default())?
//!     .read_directory(&Export::Tree, |p| eprintln!("target: {} entries", p.entries))?;
//! let opts = dit::MoveOptions {
//!     rename: Some("migrate.company.com".into()),
//!     map_hosts: vec![("mbx1.old.net".into(), "mbx9.new.net".into())],
//!     ..Default::default()
//! };
//! let moved = dit::plan_move_dirs(&source, &target, "company.com", &opts)?;
//! print!("{moved}"); // conflicts, counts, follow-ups
//! let plan = Plan::from_move(&moved)?; // refuses conflicts and invalid values, sends nothing
//! let mut sink = LdapSink::connect(&dst)?;
//! print!("{}", sink.dry_run(&plan)?);
//! let report = sink.apply(plan, |op| eprintln!("{op}"));
//! print!("{report}"); // applied prefix, the failed (or unknown) operation, the rest
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Wiring entries into a reader
//!
//! [`read_entries`] is the conversion point from a live server to code that consumes an
//! iterator of entries (such as [`dit::plan_move`], or [`dit::directory_from_entries`],
//! which [`LdapSource::read_directory`] uses): it hands the reader a plain
//! `Iterator<Item = Entry>` that ends at the first LDAP error, and returns that error in
//! preference to whatever the reader made of the truncated stream.
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
//! [`dit::read_directory`]: crate::dit::read_directory
//! [`dit::EntryReader`]: crate::dit::EntryReader
//! [`dit::plan_move`]: crate::dit::plan_move
//! [`dit::plan_move_dirs`]: crate::dit::plan_move_dirs
//! [`dit::plan_move_ldif`]: crate::dit::plan_move_ldif
//! [`dit::directory_from_entries`]: crate::dit::directory_from_entries
//! [`MovePlan::write_ldif`]: crate::dit::MovePlan::write_ldif
//! [`MovePlan::write_changes`]: crate::dit::MovePlan::write_changes
//!
//! Value order inside one attribute of an add or modify is not preserved on the wire (the
//! client library takes values as sets; LDAP attribute values are unordered); attribute order
//! is.

mod conn;
mod error;
mod report;
mod resume;
mod sink;
mod source;
#[cfg(test)]
mod testutil;
mod validate;

pub use conn::{ConnectOptions, TlsTrust, LDAPTLS_CACERT};
pub use error::{result_code_name, LdapError, Problem, ServerError, TlsProblem};
pub use report::{ApplyReport, DryRun, Failure};
pub use resume::Resume;
pub use sink::{LdapSink, Operation, Plan};
pub use source::{
    Entries, Export, ExportSummary, LdapSource, Phase, Progress, SearchScope, SourceOptions,
    PAGED_RESULTS_OID,
};
pub use validate::validate;

use crate::ldif::Entry;
use crate::model::{AttrBag, RawEntry};

/// Converts an entry as read from the server into the [`RawEntry`] the
/// [`dit`](crate::dit) readers and planners take: the DN text, attribute order, value order
/// and bytes are kept as they are.
///
/// ```
/// use zimbra_prov::{dn::Dn, ldif::Entry, ldap::to_raw_entry};
/// let mut e = Entry::new(Dn::parse("uid=a,ou=people,dc=example,dc=com").unwrap());
/// e.push("objectClass", "zimbraAccount");
/// e.push("jpegPhoto", vec![0xff, 0x00]);
/// let raw = to_raw_entry(e);
/// assert_eq!(raw.dn, "uid=a,ou=people,dc=example,dc=com");
/// assert_eq!(raw.attrs.first("objectClass"), Some("zimbraAccount"));
/// assert_eq!(raw.attrs.values("jpegPhoto")[0].as_bytes(), &[0xff, 0x00]);
/// ```
pub fn to_raw_entry(entry: Entry) -> RawEntry {
    let mut attrs = AttrBag::new();
    for a in entry.attrs {
        attrs.add(&a.description, a.value);
    }
    RawEntry {
        dn: entry.dn.to_string(),
        attrs,
    }
}

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
