//! Reading a live directory: paged subtree searches streamed as [`ldif::Entry`] values.

use std::collections::{BTreeSet, HashSet};
use std::sync::mpsc;

use ldap3::asn1::{parse_tag, StructureTag, PL};
use ldap3::controls::{PagedResults, RawControl};
use ldap3::{LdapConn, Scope};

use super::conn::ConnectOptions;
use super::error::{LdapError, ServerError};
use super::{read_entries, to_raw_entry, ReadError};
use crate::dit::directory_from_entries;
use crate::dn::Dn;
use crate::ldif::Entry;
use crate::model::Directory;

/// OID of the simple paged results control (RFC 2696).
pub const PAGED_RESULTS_OID: &str = "1.2.840.113556.1.4.319";

/// How a [`LdapSource`] searches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOptions {
    /// Entries per page of the simple paged results control (RFC 2696); 0 turns paging
    /// off, and then a server size limit below the entry count is
    /// [`LdapError::SizeLimitExceeded`]. Default 500. At most this many entries are held in
    /// memory by the client library at a time.
    pub page_size: u32,
    /// Attributes to request. Default `["*"]` (all user attributes); add `"+"` for the
    /// operational ones (entryUUID, createTimestamp, ...) as slapcat shows them.
    pub attributes: Vec<String>,
}

impl Default for SourceOptions {
    fn default() -> SourceOptions {
        SourceOptions {
            page_size: 500,
            attributes: vec!["*".to_string()],
        }
    }
}

/// What to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Export {
    /// Every entry of the database below the root DN `""` (Zimbra's suffix).
    Tree,
    /// One domain: the subtree of its DN (`dc=example,dc=com`), then the COS entries its
    /// accounts and the domain use (by `zimbraCOSId`, `zimbraDomainDefaultCOSId`, or COS
    /// `default` for accounts without either), then the server entries named by
    /// `zimbraMailHost` values in the subtree.
    Domain(String),
}

/// Which part of an export a [`Progress`] report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::Display)]
#[strum(serialize_all = "lowercase")]
pub enum Phase {
    /// The whole tree.
    Tree,
    /// The domain's subtree.
    Domain,
    /// The COS entries a domain uses.
    Cos,
    /// The server entries a domain uses.
    Servers,
}

/// A progress report, sent after every page and at the end of every phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Current phase.
    pub phase: Phase,
    /// Entries delivered so far (all phases).
    pub entries: u64,
    /// Pages (search responses) received so far (all phases).
    pub pages: u64,
    /// True on the last report of a phase.
    pub phase_done: bool,
}

/// What an export delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Entries delivered.
    pub entries: u64,
    /// Pages received (one per search when paging is off).
    pub pages: u64,
    /// COS zimbraIds (or the name `default`) referenced by the domain but not found.
    pub missing_cos: Vec<String>,
    /// zimbraMailHost values in the domain with no server entry.
    pub missing_servers: Vec<String>,
}

/// Reads entries from a live LDAP server.
///
/// ```no_run
/// use zimbra_prov::ldap::{ConnectOptions, Export, LdapSource, SourceOptions};
/// let conn = ConnectOptions::new("ldap://zimbra-ldap:389")
///     .bind("uid=zimbra,cn=admins,cn=zimbra", "secret");
/// let mut source = LdapSource::connect(&conn, SourceOptions::default())?;
/// let mut n = 0;
/// let summary = source.export(
///     &Export::Domain("example.com".into()),
///     |entry| { n += 1; println!("{}", entry.dn); Ok(()) },
///     |p| eprintln!("{}: {} entries", p.phase, p.entries),
/// )?;
/// assert_eq!(summary.entries, n);
/// # Ok::<(), zimbra_prov::ldap::LdapError>(())
/// ```
pub struct LdapSource {
    conn: LdapConn,
    connect: ConnectOptions,
    opts: SourceOptions,
}

impl std::fmt::Debug for LdapSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapSource")
            .field("connect", &self.connect)
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

/// Search scope of [`LdapSource::search`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchScope {
    /// The base entry only.
    Base,
    /// The base's children.
    OneLevel,
    /// The base and everything below it.
    Subtree,
}

impl From<SearchScope> for Scope {
    fn from(s: SearchScope) -> Scope {
        match s {
            SearchScope::Base => Scope::Base,
            SearchScope::OneLevel => Scope::OneLevel,
            SearchScope::Subtree => Scope::Subtree,
        }
    }
}

/// Counters shared by the searches of one export.
#[derive(Debug, Default)]
struct Counters {
    entries: u64,
    pages: u64,
}

impl LdapSource {
    /// Connects and binds (see [`ConnectOptions::connect`]).
    pub fn connect(connect: &ConnectOptions, opts: SourceOptions) -> Result<LdapSource, LdapError> {
        Ok(LdapSource {
            conn: connect.connect()?,
            connect: connect.clone(),
            opts,
        })
    }

    /// The options in use.
    pub fn options(&self) -> &SourceOptions {
        &self.opts
    }

    /// One search (paged unless `page_size` is 0), each entry handed to `each` as soon as it
    /// is decoded. Returns the number of entries. A result code other than success is
    /// [`LdapError::SizeLimitExceeded`] (code 4) or [`LdapError::Server`].
    pub fn search(
        &mut self,
        base: &Dn,
        scope: SearchScope,
        filter: &str,
        mut each: impl FnMut(Entry) -> Result<(), LdapError>,
    ) -> Result<u64, LdapError> {
        let mut counters = Counters::default();
        self.search_inner(
            base.as_str(),
            scope,
            filter,
            Phase::Tree,
            &mut counters,
            &mut each,
            &mut |_| {},
        )?;
        Ok(counters.entries)
    }

    /// Reads the whole tree or one domain (see [`Export`]), handing every entry to `each`
    /// in the order the server sends it and reporting progress after every page.
    pub fn export(
        &mut self,
        what: &Export,
        mut each: impl FnMut(Entry) -> Result<(), LdapError>,
        mut progress: impl FnMut(&Progress),
    ) -> Result<ExportSummary, LdapError> {
        let mut c = Counters::default();
        let mut summary = ExportSummary::default();
        match what {
            Export::Tree => {
                self.search_inner(
                    "",
                    SearchScope::Subtree,
                    "(objectClass=*)",
                    Phase::Tree,
                    &mut c,
                    &mut each,
                    &mut progress,
                )?;
            }
            Export::Domain(domain) => {
                let (cos, servers) =
                    self.export_domain(domain, &mut c, &mut each, &mut progress)?;
                summary.missing_cos = cos;
                summary.missing_servers = servers;
            }
        }
        summary.entries = c.entries;
        summary.pages = c.pages;
        Ok(summary)
    }

    /// Turns the source into an iterator of entries, read on a background thread and
    /// handed over through a channel of `page_size` slots, so memory stays bounded by
    /// about two pages. `progress` is called on the iterating thread. After the last
    /// entry, [`Entries::summary`] holds the [`ExportSummary`].
    pub fn entries(self, what: Export, progress: impl FnMut(&Progress) + 'static) -> Entries {
        let (tx, rx) = mpsc::sync_channel::<Msg>(self.channel_capacity());
        let mut source = self;
        std::thread::spawn(move || source.export_to(&what, &tx));
        Entries {
            pump: Pump::new(rx, Box::new(progress)),
        }
    }

    /// Reads the whole tree or one domain (see [`Export`]) into a typed
    /// [`Directory`](crate::model::Directory), the way [`dit::read_directory`] reads a
    /// `slapcat` file: entries are converted with [`to_raw_entry`](super::to_raw_entry)
    /// (DN text, attribute order, value bytes as the server sent them) and typed by
    /// [`dit::directory_from_entries`] while the search is still running, so no second copy
    /// of the directory is held. `progress` is called on the calling thread.
    ///
    /// Returns the directory and the export's summary (COS and servers a domain uses but the
    /// server lacks). A server or transport error ends the read with that error, never with
    /// a directory built from a truncated stream; a directory the reader refuses (two entries
    /// with the same DN) is [`LdapError::Directory`].
    ///
    /// A domain export holds the domain's subtree, its COS and servers, but not the parent
    /// `dc=` entries above the domain nor the `cn=zimbra` containers:
    /// [`dit::write_directory`] with [`dit::WriteOptions::slapadd`] and
    /// [`dit::plan_move_dirs`] complete those.
    ///
    /// ```no_run
    /// use zimbra_prov::ldap::{ConnectOptions, Export, LdapSource, SourceOptions};
    /// let conn = ConnectOptions::new("ldap://zimbra-ldap:389")
    ///     .bind("uid=zimbra,cn=admins,cn=zimbra", "secret");
    /// let mut source = LdapSource::connect(&conn, SourceOptions::default())?;
    /// let (dir, summary) = source.read_directory(&Export::Domain("example.com".into()), |p| {
    ///     eprintln!("{}: {} entries", p.phase, p.entries)
    /// })?;
    /// println!("{} accounts, missing COS {:?}", dir.account_count(), summary.missing_cos);
    /// # Ok::<(), zimbra_prov::ldap::LdapError>(())
    /// ```
    ///
    /// [`dit::read_directory`]: crate::dit::read_directory
    /// [`dit::directory_from_entries`]: crate::dit::directory_from_entries
    /// [`dit::write_directory`]: crate::dit::write_directory
    /// [`dit::WriteOptions::slapadd`]: crate::dit::WriteOptions::slapadd
    /// [`dit::plan_move_dirs`]: crate::dit::plan_move_dirs
    pub fn read_directory(
        &mut self,
        what: &Export,
        progress: impl FnMut(&Progress),
    ) -> Result<(Directory, ExportSummary), LdapError> {
        let (tx, rx) = mpsc::sync_channel::<Msg>(self.channel_capacity());
        std::thread::scope(|scope| {
            let this = &mut *self;
            scope.spawn(move || this.export_to(what, &tx));
            let mut pump = Pump::new(rx, progress);
            let res = read_entries(pump.by_ref(), |it| {
                directory_from_entries(it.map(|e| Ok(to_raw_entry(e))))
            });
            // Dropping the receiver ends the export thread (its next send fails) if the
            // reader stopped early; the scope then joins it.
            let summary = pump.summary.take();
            drop(pump);
            match res {
                Ok(dir) => summary
                    .map(|s| (dir, s))
                    .ok_or_else(|| LdapError::Malformed {
                        operation: "search",
                        dn: String::new(),
                        reason: "the reading thread ended without a result".to_string(),
                    }),
                Err(ReadError::Ldap(e)) => Err(e),
                Err(ReadError::Read(e)) => Err(LdapError::Directory(e)),
            }
        })
    }

    fn channel_capacity(&self) -> usize {
        usize::try_from(self.opts.page_size.max(16)).unwrap_or(16)
    }

    /// Runs [`LdapSource::export`], sending entries, progress and the result through `tx`.
    fn export_to(&mut self, what: &Export, tx: &mpsc::SyncSender<Msg>) {
        let res = self.export(
            what,
            |e| {
                tx.send(Msg::Entry(Box::new(e)))
                    .map_err(|_| LdapError::Consumer("the entry iterator was dropped".into()))
            },
            |p| {
                let _ = tx.send(Msg::Progress(*p));
            },
        );
        let _ = tx.send(Msg::Done(res));
    }

    fn export_domain(
        &mut self,
        domain: &str,
        c: &mut Counters,
        each: &mut dyn FnMut(Entry) -> Result<(), LdapError>,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<(Vec<String>, Vec<String>), LdapError> {
        let base = Dn::zimbra_domain(domain).map_err(|source| LdapError::InvalidDomain {
            domain: domain.to_string(),
            source,
        })?;
        let mut cos_ids: BTreeSet<String> = BTreeSet::new();
        let mut hosts: BTreeSet<String> = BTreeSet::new();
        let mut needs_default = false;
        let mut domain_default: Option<String> = None;
        let mut saw_domain = false;
        let res = self.search_inner(
            base.as_str(),
            SearchScope::Subtree,
            "(objectClass=*)",
            Phase::Domain,
            c,
            &mut |e: Entry| {
                if e.dn == base {
                    saw_domain = true;
                    domain_default = e.get_str("zimbraDomainDefaultCOSId").map(str::to_string);
                }
                let is_account = e.get_all("objectClass").any(|v| {
                    v.eq_ignore_ascii_case(b"zimbraAccount")
                        || v.eq_ignore_ascii_case(b"zimbraCalendarResource")
                });
                match e.get_str("zimbraCOSId") {
                    Some(id) => {
                        cos_ids.insert(id.to_string());
                    }
                    None if is_account => needs_default = true,
                    None => {}
                }
                for h in e.get_all("zimbraMailHost") {
                    hosts.insert(String::from_utf8_lossy(h).into_owned());
                }
                each(e)
            },
            progress,
        );
        match res {
            Err(LdapError::Server(ServerError { code: 32, .. })) => {
                return Err(LdapError::NoSuchDomain {
                    domain: domain.to_string(),
                    dn: base.to_string(),
                })
            }
            Err(e) => return Err(e),
            Ok(()) if !saw_domain => {
                return Err(LdapError::NoSuchDomain {
                    domain: domain.to_string(),
                    dn: base.to_string(),
                })
            }
            Ok(()) => {}
        }
        let mut want_default_name = false;
        if let Some(id) = &domain_default {
            cos_ids.insert(id.clone());
        } else if needs_default {
            want_default_name = true;
        }

        // COS entries: by zimbraId, plus the one named `default` when needed.
        let mut clauses: Vec<String> = cos_ids
            .iter()
            .map(|id| format!("(zimbraId={})", ldap3::ldap_escape(id)))
            .collect();
        if want_default_name {
            clauses.push("(cn=default)".to_string());
        }
        let mut found_ids: HashSet<String> = HashSet::new();
        let mut found_default = false;
        self.search_any(
            "cn=cos,cn=zimbra",
            "zimbraCOS",
            &clauses,
            Phase::Cos,
            c,
            &mut |e: &Entry| {
                if let Some(id) = e.get_str("zimbraId") {
                    found_ids.insert(id.to_string());
                }
                if e.get_all("cn").any(|v| v == b"default") {
                    found_default = true;
                }
            },
            each,
            progress,
        )?;
        let mut missing_cos: Vec<String> = cos_ids
            .iter()
            .filter(|id| !found_ids.contains(*id))
            .cloned()
            .collect();
        if want_default_name && !found_default {
            missing_cos.push("default".to_string());
        }

        // Server entries by zimbraServiceHostname (their cn is the host name too).
        let clauses: Vec<String> = hosts
            .iter()
            .map(|h| format!("(zimbraServiceHostname={})", ldap3::ldap_escape(h)))
            .collect();
        let mut found_hosts: HashSet<String> = HashSet::new();
        self.search_any(
            "cn=servers,cn=zimbra",
            "zimbraServer",
            &clauses,
            Phase::Servers,
            c,
            &mut |e: &Entry| {
                for h in e.get_all("zimbraServiceHostname") {
                    found_hosts.insert(String::from_utf8_lossy(h).to_ascii_lowercase());
                }
            },
            each,
            progress,
        )?;
        let missing_servers = hosts
            .iter()
            .filter(|h| !found_hosts.contains(&h.to_ascii_lowercase()))
            .cloned()
            .collect();
        Ok((missing_cos, missing_servers))
    }

    /// One-level searches under `base` for entries of `class` matching any of `clauses`,
    /// 50 clauses per search, each entry delivered once.
    #[allow(clippy::too_many_arguments)]
    fn search_any(
        &mut self,
        base: &str,
        class: &str,
        clauses: &[String],
        phase: Phase,
        c: &mut Counters,
        seen: &mut dyn FnMut(&Entry),
        each: &mut dyn FnMut(Entry) -> Result<(), LdapError>,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<(), LdapError> {
        let mut delivered: HashSet<Dn> = HashSet::new();
        for chunk in clauses.chunks(50) {
            let filter = format!("(&(objectClass={class})(|{}))", chunk.concat());
            let res = self.search_inner(
                base,
                SearchScope::OneLevel,
                &filter,
                phase,
                c,
                &mut |e: Entry| {
                    if delivered.insert(e.dn.clone()) {
                        seen(&e);
                        each(e)
                    } else {
                        Ok(())
                    }
                },
                progress,
            );
            match res {
                // No `cn=cos,cn=zimbra` at all: everything is missing, which the caller reports.
                Err(LdapError::Server(ServerError { code: 32, .. })) => {}
                other => other?,
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn search_inner(
        &mut self,
        base: &str,
        scope: SearchScope,
        filter: &str,
        phase: Phase,
        c: &mut Counters,
        each: &mut dyn FnMut(Entry) -> Result<(), LdapError>,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<(), LdapError> {
        let paged = self.opts.page_size > 0;
        let page_size = i32::try_from(self.opts.page_size).unwrap_or(i32::MAX);
        let timeout = self.connect.operation_timeout;
        let attrs = self.opts.attributes.clone();
        let transport = |source| LdapError::Transport {
            operation: "search",
            dn: base.to_string(),
            source: Box::new(source),
        };
        let mut cookie: Vec<u8> = Vec::new();
        let mut returned: u64 = 0;
        loop {
            if paged {
                let ctrl: RawControl = PagedResults {
                    size: page_size,
                    cookie: std::mem::take(&mut cookie),
                }
                .into();
                self.conn.with_controls(vec![ctrl]);
            }
            self.conn.with_timeout(timeout);
            let mut stream = self
                .conn
                .streaming_search(base, scope.into(), filter, attrs.clone())
                .map_err(transport)?;
            loop {
                let item = match stream.next() {
                    Ok(Some(item)) => item,
                    Ok(None) => break,
                    Err(e) => return Err(transport(e)),
                };
                if item.is_ref() || item.is_intermediate() {
                    continue;
                }
                let entry = decode_entry(item.0).map_err(|reason| match reason {
                    Decode::Malformed(reason) => LdapError::Malformed {
                        operation: "search",
                        dn: base.to_string(),
                        reason,
                    },
                    Decode::Dn(dn, source) => LdapError::InvalidDn { dn, source },
                })?;
                returned += 1;
                c.entries += 1;
                each(entry)?;
            }
            let res = stream.result();
            c.pages += 1;
            match res.rc {
                0 => {}
                4 => {
                    return Err(LdapError::SizeLimitExceeded {
                        base: base.to_string(),
                        returned,
                        paged,
                    })
                }
                code => {
                    return Err(LdapError::Server(ServerError {
                        operation: "search",
                        dn: base.to_string(),
                        code,
                        message: res.text,
                        matched: res.matched,
                    }))
                }
            }
            if paged {
                cookie = match res.ctrls.iter().find(|c| c.1.ctype == PAGED_RESULTS_OID) {
                    Some(ctrl) => paged_cookie(ctrl.1.val.as_deref().unwrap_or_default()).map_err(
                        |reason| LdapError::Malformed {
                            operation: "search",
                            dn: base.to_string(),
                            reason,
                        },
                    )?,
                    // A server that ignores the (non-critical) control sends everything at once.
                    None => Vec::new(),
                };
            }
            let done = cookie.is_empty();
            progress(&Progress {
                phase,
                entries: c.entries,
                pages: c.pages,
                phase_done: done,
            });
            if done {
                return Ok(());
            }
        }
    }
}

enum Msg {
    Entry(Box<Entry>),
    Progress(Progress),
    Done(Result<ExportSummary, LdapError>),
}

/// The receiving end of an export running on another thread.
struct Pump<P> {
    rx: mpsc::Receiver<Msg>,
    progress: P,
    summary: Option<ExportSummary>,
    finished: bool,
}

impl<P: FnMut(&Progress)> Pump<P> {
    fn new(rx: mpsc::Receiver<Msg>, progress: P) -> Self {
        Pump {
            rx,
            progress,
            summary: None,
            finished: false,
        }
    }
}

impl<P: FnMut(&Progress)> Iterator for Pump<P> {
    type Item = Result<Entry, LdapError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.finished {
            match self.rx.recv() {
                Ok(Msg::Entry(e)) => return Some(Ok(*e)),
                Ok(Msg::Progress(p)) => (self.progress)(&p),
                Ok(Msg::Done(Ok(s))) => {
                    self.finished = true;
                    self.summary = Some(s);
                }
                Ok(Msg::Done(Err(e))) => {
                    self.finished = true;
                    return Some(Err(e));
                }
                Err(_) => {
                    self.finished = true;
                    return Some(Err(LdapError::Malformed {
                        operation: "search",
                        dn: String::new(),
                        reason: "the reading thread ended without a result".to_string(),
                    }));
                }
            }
        }
        None
    }
}

/// Entries of an export, read on a background thread (see [`LdapSource::entries`]).
///
/// Yields `Ok(entry)` values and at most one `Err`, after which it ends.
pub struct Entries {
    pump: Pump<ProgressFn>,
}

/// The boxed progress callback of [`Entries`].
type ProgressFn = Box<dyn FnMut(&Progress)>;

impl std::fmt::Debug for Entries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entries")
            .field("summary", &self.pump.summary)
            .field("finished", &self.pump.finished)
            .finish_non_exhaustive()
    }
}

impl Entries {
    /// The export's summary, once the iterator has returned `None` after a successful read.
    pub fn summary(&self) -> Option<&ExportSummary> {
        self.pump.summary.as_ref()
    }
}

impl Iterator for Entries {
    type Item = Result<Entry, LdapError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.pump.next()
    }
}

pub(super) enum Decode {
    Malformed(String),
    Dn(String, crate::dn::DnError),
}

impl std::fmt::Display for Decode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Decode::Malformed(reason) => f.write_str(reason),
            Decode::Dn(dn, e) => write!(f, "invalid DN {dn:?}: {e}"),
        }
    }
}

/// Decodes a SearchResultEntry (`[APPLICATION 4] SEQUENCE { objectName, attributes }`),
/// keeping the server's attribute and value order and the value bytes as sent.
pub(super) fn decode_entry(tag: StructureTag) -> Result<Entry, Decode> {
    let bad = |s: &str| Decode::Malformed(s.to_string());
    let mut parts = tag
        .match_id(4)
        .and_then(StructureTag::expect_constructed)
        .ok_or_else(|| bad("not a SearchResultEntry"))?
        .into_iter();
    let dn_bytes = parts
        .next()
        .and_then(StructureTag::expect_primitive)
        .ok_or_else(|| bad("entry without objectName"))?;
    let dn_text = String::from_utf8(dn_bytes).map_err(|_| bad("DN is not UTF-8"))?;
    let dn = Dn::parse(&dn_text).map_err(|e| Decode::Dn(dn_text.clone(), e))?;
    let mut entry = Entry::new(dn);
    let attrs = parts
        .next()
        .and_then(StructureTag::expect_constructed)
        .ok_or_else(|| bad("entry without attribute list"))?;
    for attr in attrs {
        let mut pa = attr
            .expect_constructed()
            .ok_or_else(|| bad("attribute is not a sequence"))?
            .into_iter();
        let name = pa
            .next()
            .and_then(StructureTag::expect_primitive)
            .ok_or_else(|| bad("attribute without type"))?;
        let name = String::from_utf8(name).map_err(|_| bad("attribute type is not UTF-8"))?;
        let values = pa
            .next()
            .and_then(StructureTag::expect_constructed)
            .ok_or_else(|| bad("attribute without value set"))?;
        for v in values {
            match v.payload {
                PL::P(bytes) => entry.push(name.clone(), bytes),
                PL::C(_) => return Err(bad("constructed attribute value")),
            }
        }
    }
    Ok(entry)
}

/// The cookie of a paged results response control value
/// (`SEQUENCE { size INTEGER, cookie OCTET STRING }`).
fn paged_cookie(value: &[u8]) -> Result<Vec<u8>, String> {
    let bad = || "undecodable paged results response control".to_string();
    let (_, tag) = parse_tag(value).map_err(|_| bad())?;
    let mut parts = tag.expect_constructed().ok_or_else(bad)?.into_iter();
    let _size = parts.next().ok_or_else(bad)?;
    parts
        .next()
        .and_then(StructureTag::expect_primitive)
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3::asn1::{ASNTag, Integer, OctetString, Sequence, Set, Tag, TagClass};

    fn octets(b: &[u8]) -> Tag {
        Tag::OctetString(OctetString {
            inner: b.to_vec(),
            ..Default::default()
        })
    }

    fn entry_tag(dn: &str, attrs: &[(&str, &[&[u8]])]) -> StructureTag {
        Tag::Sequence(Sequence {
            id: 4,
            class: TagClass::Application,
            inner: vec![
                octets(dn.as_bytes()),
                Tag::Sequence(Sequence {
                    inner: attrs
                        .iter()
                        .map(|(n, vs)| {
                            Tag::Sequence(Sequence {
                                inner: vec![
                                    octets(n.as_bytes()),
                                    Tag::Set(Set {
                                        inner: vs.iter().map(|v| octets(v)).collect(),
                                        ..Default::default()
                                    }),
                                ],
                                ..Default::default()
                            })
                        })
                        .collect(),
                    ..Default::default()
                }),
            ],
        })
        .into_structure()
    }

    #[test]
    fn decodes_entries_keeping_order_and_bytes() {
        let t = entry_tag(
            "uid=a,ou=people,dc=example,dc=com",
            &[
                ("objectClass", &[b"zimbraAccount", b"inetOrgPerson"]),
                ("jpegPhoto", &[&[0xff, 0x00, 0xfe]]),
                ("cn", &["Zoë".as_bytes()]),
            ],
        );
        let Ok(e) = decode_entry(t) else {
            panic!("decode failed")
        };
        assert_eq!(e.dn.as_str(), "uid=a,ou=people,dc=example,dc=com");
        let got: Vec<(&str, &[u8])> = e.iter().collect();
        assert_eq!(
            got,
            vec![
                ("objectClass", &b"zimbraAccount"[..]),
                ("objectClass", &b"inetOrgPerson"[..]),
                ("jpegPhoto", &[0xff, 0x00, 0xfe][..]),
                ("cn", "Zoë".as_bytes()),
            ]
        );
    }

    #[test]
    fn rejects_malformed_entries_without_panicking() {
        let not_entry = Tag::Integer(Integer {
            inner: 3,
            ..Default::default()
        })
        .into_structure();
        assert!(matches!(decode_entry(not_entry), Err(Decode::Malformed(_))));
        let bad_dn = entry_tag("uid=a,,dc=x", &[]);
        assert!(matches!(decode_entry(bad_dn), Err(Decode::Dn(..))));
        let no_attrs = Tag::Sequence(Sequence {
            id: 4,
            class: TagClass::Application,
            inner: vec![octets(b"dc=x")],
        })
        .into_structure();
        assert!(matches!(decode_entry(no_attrs), Err(Decode::Malformed(_))));
    }

    #[test]
    fn paged_cookie_round_trip_and_garbage() {
        let raw: RawControl = PagedResults {
            size: 7,
            cookie: b"abc".to_vec(),
        }
        .into();
        let val = raw.val.unwrap_or_default();
        assert_eq!(paged_cookie(&val), Ok(b"abc".to_vec()));
        assert!(paged_cookie(b"\x30").is_err());
        assert!(paged_cookie(b"").is_err());
        assert!(paged_cookie(b"\x04\x01a").is_err());
    }
}
