//! The per-directory lookup index: one hash map per Zimbra `ldap-*.cf` filter, built once, so
//! that a routing decision costs a handful of hash lookups instead of LDAP searches.
//!
//! Every map mirrors exactly what its filter matches (see `zimbra-facts.md` §1.2):
//!
//! | map | filter (all also require `zimbraMailStatus=enabled`) | result |
//! |---|---|---|
//! | `vam` | `zimbraMailDeliveryAddress`, `zimbraMailAlias`, `zimbraMailCatchAllAddress` (and `zimbraOldMailAddress` with [`IndexOptions::old_address_filter`]) | delivery, forwarding, pref-forwarding and catch-all-forwarding addresses, plus those of dynamic-group (and dynamic-unit) members, computed from `memberURL` as slapd's dynlist overlay does |
//! | `canonical` | delivery, alias, catch-all | `zimbraMailCanonicalAddress`, then `zimbraMailCatchAllCanonicalAddress` |
//! | `transport` | delivery, `zimbraDomainName` | `zimbraMailTransport` |
//! | `vmm` | delivery | the delivery address |
//! | `vmd` / `vad` | `zimbraDomainName` with `zimbraDomainType` local / alias | the domain name |
//! | `split` | delivery, alias, catch-all | `OK` when the entry has a delivery or forwarding address |
//!
//! An entry that matches a key but has none of the filter's result attributes is "not found",
//! as Postfix's LDAP client treats it (postfix-oracle.md §7.3): the key is simply absent here.
//! Keys are lower-cased (LDAP's case-insensitive equality); values are kept as stored (case,
//! spaces and commas included: Postfix joins all values of all matching entries with commas and
//! parses that string, see `decide`).
//!
//! **Entry order.** The index numbers entries in creation order
//! ([`Directory::entries_in_order`](crate::model::Directory::entries_in_order): a slapcat
//! file's order, an LDAP search's order, zmprov's creation order), which is slapd's entry-ID
//! order, and keeps the entries answering one key in that order, because slapd returns them in
//! that order and Postfix joins their values in it: the first created of two accounts sharing an
//! alias comes first, not the one whose DN sorts first.
//!
//! **Storage.** All key, value, DN and name text lives in one arena; the maps are sharded
//! open-addressing tables whose keys are slices of that arena and whose answers are ranges of
//! one flat vector per shard, and Zimbra's default DN of an entry (which only trace steps
//! print) is formatted when asked for, from the name it is made of (about 500 bytes per
//! Zimbra-like account instead of ~1.9 KB of small allocations). The index is built on several
//! threads ([`MtaIndex::build_with_threads`]): runs of entries in creation order are read in
//! parallel, then every shard of every table is filled from the runs one after the other, so
//! a key's hits keep creation order and the index is the same whatever the number of threads.

use std::borrow::Cow;
use std::sync::Arc;

use crate::model::{names as n, AccountStatus, AttrBag, Directory};

pub(crate) use crate::model::hash::FxMap;

mod build;
mod table;

pub(crate) use table::{key_hash, Table};
use table::{Answer, Span};

/// The attribute through which a lookup key matched an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum MatchAttr {
    /// `zimbraMailDeliveryAddress`
    DeliveryAddress,
    /// `zimbraMailAlias`
    MailAlias,
    /// `zimbraOldMailAddress`
    OldMailAddress,
    /// `zimbraMailCatchAllAddress`
    CatchAllAddress,
    /// `zimbraDomainName`
    DomainName,
}

impl MatchAttr {
    /// The LDAP attribute name.
    pub fn name(self) -> &'static str {
        match self {
            MatchAttr::DeliveryAddress => n::MAIL_DELIVERY_ADDRESS,
            MatchAttr::MailAlias => n::MAIL_ALIAS,
            MatchAttr::OldMailAddress => n::OLD_MAIL_ADDRESS,
            MatchAttr::CatchAllAddress => n::MAIL_CATCH_ALL_ADDRESS,
            MatchAttr::DomainName => n::DOMAIN_NAME,
        }
    }
}

/// One match of a lookup key: which entry, through which attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Index of the entry record.
    pub(crate) rec: u32,
    /// The attribute that matched.
    pub attr: MatchAttr,
}

impl Answer for Hit {
    /// An entry answers a key once, through the first attribute that matched.
    fn repeats(last: &Self, new: &Self) -> bool {
        last.rec == new.rec
    }
}

/// A map from lower-case keys to the entries answering them, in creation order.
pub(crate) type HitMap = Table<Hit>;

/// How the DN of an entry record is kept: as stored, or as the name Zimbra's default DN of
/// the object is made from (formatted only when a trace step shows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DnForm {
    /// The DN text itself.
    Stored,
    /// `uid=local,ou=people,dc=...` from `local@domain` (accounts, lists, aliases).
    People,
    /// `cn=local,cn=groups,dc=...` from `local@domain` (dynamic groups).
    Groups,
    /// `dc=...` from the domain name.
    Domain,
    /// `cn=name,cn=servers,cn=zimbra`.
    Server,
    /// `cn=name,cn=cos,cn=zimbra`.
    Cos,
    /// `cn=config,cn=zimbra`.
    Config,
}

/// A run of values in the index's value list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Vals {
    start: u32,
    len: u32,
}

/// What the index keeps of one LDAP entry the filters can see.
#[derive(Debug, Clone, Copy)]
struct EntryRec {
    /// The DN text or the name it is made from (see `form`).
    dn: Span,
    form: DnForm,
    /// ldap-vam.cf result values as stored, in attribute order.
    vam: Vals,
    /// ldap-canonical.cf result values.
    canonical: Vals,
    /// ldap-transport.cf result values.
    transport: Vals,
}

/// The result values of one entry record, as the filters return them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rec<'a> {
    /// ldap-vam.cf result values as stored, in attribute order.
    pub vam: Values<'a>,
    /// ldap-canonical.cf result values.
    pub canonical: Values<'a>,
    /// ldap-transport.cf result values.
    pub transport: Values<'a>,
}

/// Some result values (as stored).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Values<'a> {
    text: &'a str,
    spans: &'a [Span],
}

impl<'a> Values<'a> {
    /// The values in order.
    pub(crate) fn iter(&self) -> ValuesIter<'a> {
        ValuesIter {
            text: self.text,
            spans: self.spans.iter(),
        }
    }

    /// The first value.
    pub(crate) fn first(&self) -> Option<&'a str> {
        self.spans.first().map(|s| s.get(self.text))
    }
}

/// The iterator of [`Values`].
#[derive(Debug, Clone)]
pub(crate) struct ValuesIter<'a> {
    text: &'a str,
    spans: std::slice::Iter<'a, Span>,
}

impl<'a> Iterator for ValuesIter<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        self.spans.next().map(|s| s.get(self.text))
    }
}

/// What Zimbra's LMTP server knows of an account (it reads the directory itself, not Postfix's
/// maps, so disabled accounts are included).
#[derive(Debug, Clone, Copy)]
struct LmtpRec {
    name: Span,
    status: Option<AccountStatus>,
    mail_host: Option<Span>,
}

/// Text borrowed from the index's arena (reads as a `str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexStr<'a>(&'a str);

impl std::ops::Deref for IndexStr<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl std::fmt::Display for IndexStr<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// An account as the LMTP server sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LmtpAccount<'a> {
    /// The account's name.
    pub name: IndexStr<'a>,
    /// Effective status (`None`: missing or unknown).
    pub status: Option<AccountStatus>,
    /// `zimbraMailHost`.
    pub mail_host: Option<IndexStr<'a>>,
}

/// One answer of the LMTP key table: an account record, found by its name (the last account
/// with that name wins) or by an alias (the first account with that alias wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LmtpKey {
    rec: u32,
    by_name: bool,
}

impl Answer for LmtpKey {
    fn repeats(_: &Self, _: &Self) -> bool {
        false
    }
}

/// The accounts Zimbra's LMTP server finds by (lower-case) name or alias.
#[derive(Debug, Clone, Default)]
pub(crate) struct LmtpMap {
    text: Arc<String>,
    keys: Table<LmtpKey>,
    recs: Box<[LmtpRec]>,
}

impl LmtpMap {
    /// The table from keys to accounts (for [`Table::get_many`]; [`LmtpMap::account`] reads
    /// its answers).
    pub(crate) fn key_table(&self) -> &Table<LmtpKey> {
        &self.keys
    }

    /// The account LMTP finds from the answers of its key table to an address.
    pub(crate) fn account(&self, answers: &[LmtpKey]) -> Option<LmtpAccount<'_>> {
        // an account's own name beats an alias; the last account of a name, the first of an alias
        let k = answers
            .iter()
            .rev()
            .find(|k| k.by_name)
            .or_else(|| answers.first())?;
        let r = self.recs.get(k.rec as usize)?;
        Some(LmtpAccount {
            name: IndexStr(r.name.get(&self.text)),
            status: r.status,
            mail_host: r.mail_host.map(|h| IndexStr(h.get(&self.text))),
        })
    }

    /// The account LMTP finds for a (lower-case) address: by name or by alias.
    pub(crate) fn get(&self, key: &str) -> Option<LmtpAccount<'_>> {
        self.account(self.keys.get(key)?)
    }

    /// Number of shards of the key table (see [`LmtpMap::shard_keys`]).
    pub(crate) fn shard_count(&self) -> usize {
        self.keys.shard_count()
    }

    /// Every address LMTP knows (lower-case) in shard `s` of the key table (the shards can
    /// be read on several threads).
    pub(crate) fn shard_keys(&self, s: usize) -> impl Iterator<Item = &str> + '_ {
        self.keys.shard_iter(s).map(|(k, _)| k)
    }

    /// Every address LMTP knows (lower-case) with its account, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, LmtpAccount<'_>)> + '_ {
        self.keys
            .iter()
            .filter_map(|(k, a)| Some((k, self.account(a)?)))
    }

    fn heap_bytes(&self) -> usize {
        self.keys.heap_bytes() + self.recs.len() * std::mem::size_of::<LmtpRec>()
    }
}

/// Options that change what the filters match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexOptions {
    /// Use the ZCS ≥ 8.8.10 / Carbonio ldap-vam.cf filter that also matches
    /// `zimbraOldMailAddress`. Off by default, like the oracle's zmmtainit-era filter.
    pub old_address_filter: bool,
}

/// The lookup index of one directory, as one Zimbra MTA's Postfix sees it through its maps.
///
/// ```
/// use zimbra_prov::model::Directory;
/// use zimbra_prov::route::{IndexOptions, MtaIndex};
/// let mut dir = Directory::new();
/// zimbra_prov::zmprov::run(&mut dir, "cs mx.example.org\ncd example.org\nca a@example.org pw").unwrap();
/// let idx = MtaIndex::build(&dir, IndexOptions::default());
/// assert!(idx.is_virtual_mailbox_domain("EXAMPLE.org"));
/// assert_eq!(idx.entry_count(), 2); // the domain and the account
/// ```
#[derive(Debug, Clone, Default)]
pub struct MtaIndex {
    /// Every key, value, DN and name text.
    text: Arc<String>,
    /// Result values (spans into `text`), entry by entry.
    vals: Box<[Span]>,
    recs: Box<[EntryRec]>,
    pub(crate) vam: HitMap,
    pub(crate) canonical: HitMap,
    pub(crate) transport: HitMap,
    pub(crate) vmm: HitMap,
    pub(crate) split: HitMap,
    pub(crate) vmd: FxMap<Box<str>, u32>,
    pub(crate) vad: FxMap<Box<str>, u32>,
    pub(crate) lmtp: LmtpMap,
    pub(crate) alias_domains: FxMap<Box<str>, Box<str>>,
    pub(crate) servers: FxMap<Box<str>, ()>,
    pub(crate) transport_has_dot_keys: bool,
    pub(crate) transport_has_star_key: bool,
    options: IndexOptions,
}

/// `dc=a,dc=b` of the domain `a.b`.
fn domain_dn(d: &str) -> String {
    d.split('.')
        .map(|l| format!("dc={l}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Zimbra's default DN of an entry named `local@domain` under `ou=people` (accounts, lists,
/// aliases) or `cn=groups` (dynamic groups).
fn person_dn(rdn: &str, container: &str, name: &str) -> String {
    let (local, domain) = name.rsplit_once('@').unwrap_or((name, ""));
    format!("{rdn}={local},{container},{}", domain_dn(domain))
}

/// The equality terms of a `memberURL` this index evaluates: `ldap:///??sub?F` where `F` is
/// `(zimbraMemberOf=V)`, `(zimbraId=V)` or an `(|...)` of such terms (Zimbra's default URLs for a
/// group and its dynamic unit). Returns `(zimbraMemberOf values, zimbraId values)`, lowercased,
/// or `None` for any other URL (another base, scope, attribute list or filter).
pub(crate) fn member_url_terms(url: &str) -> Option<(Vec<String>, Vec<String>)> {
    if !url.get(..8)?.eq_ignore_ascii_case("ldap:///") {
        return None;
    }
    let rest = url.get(8..)?;
    let (base, rest) = rest.split_once('?')?;
    let (attrs, rest) = rest.split_once('?')?;
    let (scope, filter) = rest.split_once('?')?;
    if !base.is_empty()
        || !attrs.is_empty()
        || !scope.eq_ignore_ascii_case("sub")
        || filter.contains('?')
    {
        return None;
    }
    let inner = filter.strip_prefix('(')?.strip_suffix(')')?;
    let terms: Vec<&str> = match inner.strip_prefix('|') {
        Some(list) => {
            let list = list.strip_prefix('(')?.strip_suffix(')')?;
            list.split(")(").collect()
        }
        None => vec![inner],
    };
    let (mut member_of, mut ids) = (Vec::new(), Vec::new());
    for t in terms {
        let (a, v) = t.split_once('=')?;
        if v.is_empty() || v.contains(['(', ')', '*', '\\', '=', '|', '&', '!']) {
            return None;
        }
        if a.eq_ignore_ascii_case(n::MEMBER_OF) {
            member_of.push(v.to_ascii_lowercase());
        } else if a.eq_ignore_ascii_case(n::ZIMBRA_ID) {
            ids.push(v.to_ascii_lowercase());
        } else {
            return None;
        }
    }
    Some((member_of, ids))
}

/// The values of `attr` as stored (Postfix joins every result value with commas and parses
/// the result as one RFC 822 address list, so values are not split here).
fn raw_values(bag: &AttrBag, attr: &str, out: &mut Vec<Box<str>>) {
    out.extend(bag.values(attr).filter_map(|v| v.as_str()).map(Into::into));
}

/// What slapd's dynlist overlay (`dynlist-attrset groupOfURLs memberURL member`) computes as
/// `member` for a group or unit, turned into the result values Postfix collects when it follows
/// those DNs (`special_result_attribute = member`, one level).
struct DynlistMembers<'d> {
    /// Every entry of the directory, in creation (entry-ID) order, the order in which dynlist
    /// lists the members.
    entries: Vec<&'d AttrBag>,
    /// `zimbraMemberOf` value (lowercased) → indexes into `entries`.
    by_member_of: FxMap<String, Vec<usize>>,
    /// `zimbraId` value (lowercased) → indexes into `entries`.
    by_id: FxMap<String, Vec<usize>>,
}

impl<'d> DynlistMembers<'d> {
    fn new(dir: &'d Directory) -> Self {
        let mut m = DynlistMembers {
            entries: Vec::new(),
            by_member_of: FxMap::default(),
            by_id: FxMap::default(),
        };
        let has_groups = dir.groups().next().is_some()
            || dir
                .other_entries
                .iter()
                .any(|e| e.attrs.contains(n::MEMBER_URL));
        if !has_groups {
            return m;
        }
        m.entries
            .extend(dir.entries_in_order().into_iter().map(|e| e.attrs()));
        for (i, bag) in m.entries.iter().enumerate() {
            for v in bag.strs(n::MEMBER_OF) {
                m.by_member_of
                    .entry(v.to_ascii_lowercase())
                    .or_default()
                    .push(i);
            }
            for v in bag.strs(n::ZIMBRA_ID) {
                m.by_id.entry(v.to_ascii_lowercase()).or_default().push(i);
            }
        }
        m
    }

    /// The member values of a typed dynamic group: its `memberURL`s when this index can
    /// evaluate them, else the entries whose `zimbraMemberOf` holds the group's id.
    fn of_group(&self, bag: &AttrBag) -> Vec<Box<str>> {
        let urls = bag.strs(n::MEMBER_URL);
        let terms: Option<Vec<_>> = urls.iter().map(|u| member_url_terms(u)).collect();
        match terms {
            Some(t) if !t.is_empty() => self.values(&t),
            _ => match bag.first(n::ZIMBRA_ID) {
                Some(id) => self.values(&[(vec![id.to_ascii_lowercase()], Vec::new())]),
                None => Vec::new(),
            },
        }
    }

    /// The member values of another entry: a `groupOfURLs` entry (a group's dynamic unit) whose
    /// `memberURL`s this index can evaluate; nothing otherwise.
    fn of_unit(&self, bag: &AttrBag) -> Vec<Box<str>> {
        if !bag.has_value_ci(n::OBJECT_CLASS, "groupOfURLs") {
            return Vec::new();
        }
        let terms: Option<Vec<_>> = bag
            .strs(n::MEMBER_URL)
            .iter()
            .map(|u| member_url_terms(u))
            .collect();
        terms.map(|t| self.values(&t)).unwrap_or_default()
    }

    fn values(&self, terms: &[(Vec<String>, Vec<String>)]) -> Vec<Box<str>> {
        let mut hits: Vec<usize> = Vec::new();
        for (member_of, ids) in terms {
            for v in member_of {
                hits.extend(self.by_member_of.get(v).into_iter().flatten());
            }
            for v in ids {
                hits.extend(self.by_id.get(v).into_iter().flatten());
            }
        }
        hits.sort_unstable();
        hits.dedup();
        let mut out = Vec::new();
        for i in hits {
            if let Some(bag) = self.entries.get(i) {
                raw_values(bag, n::MAIL_DELIVERY_ADDRESS, &mut out);
                raw_values(bag, n::MAIL_FORWARDING_ADDRESS, &mut out);
                raw_values(bag, n::PREF_MAIL_FORWARDING_ADDRESS, &mut out);
                raw_values(bag, n::MAIL_CATCH_ALL_FORWARDING_ADDRESS, &mut out);
            }
        }
        out
    }
}

impl MtaIndex {
    /// Build the index of `dir` (every entry of the directory is considered, whatever its object
    /// class, as Zimbra's filters do not restrict object classes), on as many threads as the
    /// machine has cores when the directory is large enough to gain from them.
    pub fn build(dir: &Directory, options: IndexOptions) -> MtaIndex {
        build::build(dir, options, None)
    }

    /// [`MtaIndex::build`] on `threads` threads (at least one): the index is the same whatever
    /// the number of threads.
    ///
    /// ```
    /// use zimbra_prov::model::Directory;
    /// use zimbra_prov::route::{IndexOptions, MtaIndex};
    /// let mut dir = Directory::new();
    /// zimbra_prov::zmprov::run(&mut dir, "cs mx.example.org\ncd example.org\nca a@example.org pw").unwrap();
    /// let idx = MtaIndex::build_with_threads(&dir, IndexOptions::default(), 2);
    /// assert!(idx.is_virtual_mailbox_domain("example.org"));
    /// ```
    pub fn build_with_threads(dir: &Directory, options: IndexOptions, threads: usize) -> MtaIndex {
        build::build(dir, options, Some(threads.max(1)))
    }

    /// The options the index was built with.
    pub fn options(&self) -> IndexOptions {
        self.options
    }

    /// Number of entries visible to the filters (`zimbraMailStatus=enabled`).
    pub fn entry_count(&self) -> usize {
        self.recs.len()
    }

    /// Bytes of memory the index holds (text, values, records, tables), for benchmarks.
    pub fn heap_bytes(&self) -> usize {
        let small = |m: usize| m * 48;
        self.text.capacity()
            + self.vals.len() * std::mem::size_of::<Span>()
            + self.recs.len() * std::mem::size_of::<EntryRec>()
            + [
                &self.vam,
                &self.canonical,
                &self.transport,
                &self.vmm,
                &self.split,
            ]
            .iter()
            .map(|t| t.heap_bytes())
            .sum::<usize>()
            + self.lmtp.heap_bytes()
            + small(self.vmd.len() + self.vad.len() + self.alias_domains.len() + self.servers.len())
    }

    /// Whether `domain` is a Postfix virtual mailbox domain (ldap-vmd.cf matches).
    pub fn is_virtual_mailbox_domain(&self, domain: &str) -> bool {
        self.vmd.contains_key(domain.to_ascii_lowercase().as_str())
    }

    /// Whether `domain` is a Postfix virtual alias domain (ldap-vad.cf matches).
    pub fn is_virtual_alias_domain(&self, domain: &str) -> bool {
        self.vad.contains_key(domain.to_ascii_lowercase().as_str())
    }

    /// Whether the directory has a server entry with this name or `zimbraServiceHostname`.
    pub fn has_server(&self, host: &str) -> bool {
        self.servers
            .contains_key(host.to_ascii_lowercase().as_str())
    }

    /// The DN of an entry record (Zimbra's default DN is formatted here, on demand).
    pub(crate) fn dn(&self, rec: u32) -> Cow<'_, str> {
        let Some(r) = self.recs.get(rec as usize) else {
            return Cow::Borrowed("");
        };
        let t = r.dn.get(&self.text);
        match r.form {
            DnForm::Stored => Cow::Borrowed(t),
            DnForm::People => Cow::Owned(person_dn("uid", "ou=people", t)),
            DnForm::Groups => Cow::Owned(person_dn("cn", "cn=groups", t)),
            DnForm::Domain => Cow::Owned(domain_dn(t)),
            DnForm::Server => Cow::Owned(format!("cn={t},cn=servers,cn=zimbra")),
            DnForm::Cos => Cow::Owned(format!("cn={t},cn=cos,cn=zimbra")),
            DnForm::Config => Cow::Borrowed("cn=config,cn=zimbra"),
        }
    }

    /// The result values of an entry record.
    pub(crate) fn rec(&self, rec: u32) -> Option<Rec<'_>> {
        let r = self.recs.get(rec as usize)?;
        let values = |v: Vals| {
            let (start, len) = (v.start as usize, v.len as usize);
            Values {
                text: &self.text,
                spans: self.vals.get(start..start + len).unwrap_or(&[]),
            }
        };
        Some(Rec {
            vam: values(r.vam),
            canonical: values(r.canonical),
            transport: values(r.transport),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{member_url_terms, IndexOptions, MatchAttr, MtaIndex};
    use crate::model::Directory;
    use crate::route::{Arrival, ZimbraMta};
    use crate::zmprov;

    #[test]
    fn member_url_terms_reads_zimbra_default_urls_only() {
        assert_eq!(
            member_url_terms("ldap:///??sub?(|(zimbraMemberOf=G1)(zimbraId=S1))"),
            Some((vec!["g1".to_string()], vec!["s1".to_string()]))
        );
        assert_eq!(
            member_url_terms("LDAP:///??SUB?(zimbraMemberOf=g1)"),
            Some((vec!["g1".to_string()], Vec::new()))
        );
        for other in [
            "ldap:///dc=x??sub?(zimbraMemberOf=g1)",
            "ldap:///?mail?sub?(zimbraMemberOf=g1)",
            "ldap:///??one?(zimbraMemberOf=g1)",
            "ldap:///??sub?(mail=*)",
            "ldap:///??sub?(zimbraMemberOf=g*)",
            "ldap:///??sub?(&(zimbraMemberOf=g1)(zimbraId=s1))",
            "ldap:///??sub?zimbraMemberOf=g1",
            "http:///??sub?(zimbraMemberOf=g1)",
            "",
        ] {
            assert_eq!(member_url_terms(other), None, "{other}");
        }
    }

    /// What the Postfix oracle showed (slapd with dynlist): a dynamic group expands to its
    /// internal members (`zimbraMemberOf`) AND to the static unit's external members (the
    /// unit's `zimbraId` is in the group's memberURL); the dynamic unit's own address expands
    /// to the internal members only.
    #[test]
    fn dynamic_group_expands_internal_and_external_members() {
        let mut dir = Directory::new();
        zmprov::run(
            &mut dir,
            "cs mbx.example.org zimbraServiceEnabled mailbox\ncd example.org\n\
             ca alice@example.org pw\ncddl team@example.org\n\
             adlm team@example.org alice@example.org ext@partner.test",
        )
        .unwrap();
        let mta = ZimbraMta::from_directory(&dir, "mta.example.org");
        let line = |a: &str| mta.decide_quiet(a, Arrival::PICKUP).line();
        let team = line("team@example.org");
        assert!(team.contains("<alice@example.org>"), "{team}");
        assert!(team.contains("<ext@partner.test>"), "{team}");
        let internal = line("team.__internal__@example.org");
        assert!(internal.contains("<alice@example.org>"), "{internal}");
        assert!(!internal.contains("ext@partner.test"), "{internal}");
        // without members the group has no result values: "not found", like any such entry
        zmprov::run(
            &mut dir,
            "rdlm team@example.org alice@example.org ext@partner.test",
        )
        .unwrap();
        let mta = ZimbraMta::from_directory(&dir, "mta.example.org");
        let empty = mta.decide_quiet("team@example.org", Arrival::PICKUP).line();
        assert!(!empty.contains('<'), "{empty}");
    }

    /// A directory with every kind of entry, shared keys spread over the whole creation order,
    /// disabled entries, dynamic groups, an alias domain and values in mixed case.
    fn mixed_directory(accounts: usize) -> Directory {
        let mut script = String::from(
            "cs mx.example.org zimbraServiceEnabled mailbox\n\
             cd example.org zimbraMailCatchAllAddress @example.org zimbraMailCatchAllForwardingAddress @example.org\n\
             cd Other.TEST zimbraMailTransport smtp:relay.other.test\n\
             cad alias.test example.org zimbraMailCatchAllForwardingAddress @example.org\n\
             cc cos1\n",
        );
        for i in 0..accounts {
            let d = if i % 3 == 0 {
                "Other.TEST"
            } else {
                "example.org"
            };
            script.push_str(&format!("ca User{i}@{d} pw\n"));
            if i % 5 == 0 {
                script.push_str(&format!("aaa User{i}@{d} Alias{i}@{d}\n"));
            }
            if i % 7 == 0 {
                script.push_str(&format!(
                    "ma User{i}@{d} zimbraMailForwardingAddress Fwd{i}@elsewhere.test zimbraMailCanonicalAddress Pub{i}@{d}\n"
                ));
            }
            if i % 97 == 5 {
                // the same catch-all key on accounts far apart in creation order
                script.push_str(&format!(
                    "ma User{i}@{d} zimbraMailCatchAllAddress @shared.test\n"
                ));
            }
            if i % 11 == 4 {
                script.push_str(&format!("ma User{i}@{d} zimbraMailStatus disabled\n"));
            }
        }
        script.push_str(
            "cdl team@example.org\nadlm team@example.org user1@example.org\n\
             cddl dyn@example.org\nadlm dyn@example.org user2@example.org ext@partner.test\n",
        );
        let mut dir = Directory::new();
        zmprov::run(&mut dir, &script).unwrap();
        dir
    }

    /// Everything a lookup can read, in a canonical order.
    fn dump(idx: &MtaIndex) -> Vec<String> {
        let mut out = Vec::new();
        let hits = |name: &str, h: &[super::Hit], out: &mut Vec<String>| {
            let rendered: Vec<String> = h
                .iter()
                .map(|h| {
                    let r = idx.rec(h.rec).unwrap();
                    format!(
                        "{} {:?} vam={:?} canonical={:?} transport={:?}",
                        idx.dn(h.rec),
                        h.attr,
                        r.vam.iter().collect::<Vec<_>>(),
                        r.canonical.iter().collect::<Vec<_>>(),
                        r.transport.iter().collect::<Vec<_>>()
                    )
                })
                .collect();
            out.push(format!("{name}: {rendered:?}"));
        };
        for (name, map) in [
            ("vam", &idx.vam),
            ("canonical", &idx.canonical),
            ("transport", &idx.transport),
            ("vmm", &idx.vmm),
            ("split", &idx.split),
        ] {
            for (k, h) in map.iter() {
                assert_eq!(map.get(k), Some(h));
                hits(&format!("{name} {k}"), h, &mut out);
            }
        }
        for (k, a) in idx.lmtp.iter() {
            out.push(format!("lmtp {k}: {a:?}"));
        }
        let mut small: Vec<String> = idx
            .vmd
            .iter()
            .map(|(k, r)| format!("vmd {k} {}", idx.dn(*r)))
            .chain(
                idx.vad
                    .iter()
                    .map(|(k, r)| format!("vad {k} {}", idx.dn(*r))),
            )
            .chain(
                idx.alias_domains
                    .iter()
                    .map(|(k, v)| format!("alias {k} {v}")),
            )
            .chain(idx.servers.keys().map(|k| format!("server {k}")))
            .collect();
        out.append(&mut small);
        out.push(format!(
            "entries {} dot {} star {}",
            idx.entry_count(),
            idx.transport_has_dot_keys,
            idx.transport_has_star_key
        ));
        out.sort();
        out
    }

    #[test]
    fn thread_counts_do_not_change_a_lookup() {
        let dir = mixed_directory(700);
        for options in [
            IndexOptions::default(),
            IndexOptions {
                old_address_filter: true,
            },
        ] {
            let one = MtaIndex::build_with_threads(&dir, options, 1);
            let expected = dump(&one);
            assert!(expected.len() > 2000, "{}", expected.len());
            for threads in [2, 3, 4, 7] {
                let idx = MtaIndex::build_with_threads(&dir, options, threads);
                assert_eq!(dump(&idx), expected, "{threads} threads");
            }
            assert_eq!(dump(&MtaIndex::build(&dir, options)), expected);
        }
    }

    #[test]
    fn hits_keep_creation_order_across_threads() {
        let dir = mixed_directory(700);
        let want: Vec<String> = (0..700)
            .filter(|i| i % 97 == 5 && i % 11 != 4)
            .map(|i| {
                let d = if i % 3 == 0 {
                    "other,dc=test"
                } else {
                    "example,dc=org"
                };
                format!("uid=user{i},ou=people,dc={d}")
            })
            .collect();
        assert!(want.len() >= 5);
        for threads in [1, 2, 4] {
            let idx = MtaIndex::build_with_threads(&dir, IndexOptions::default(), threads);
            let hits = idx.vam.get("@shared.test").unwrap();
            let dns: Vec<String> = hits.iter().map(|h| idx.dn(h.rec).into_owned()).collect();
            assert_eq!(dns, want, "{threads} threads");
            assert!(hits.iter().all(|h| h.attr == MatchAttr::CatchAllAddress));
        }
    }

    #[test]
    fn default_dns_are_formatted_on_demand_and_stored_ones_kept() {
        let mut dir = mixed_directory(3);
        let ldif = "dn: uid=Stored,ou=people,dc=example,dc=org\nobjectClass: zimbraAccount\n\
                    zimbraMailDeliveryAddress: stored@example.org\nzimbraMailStatus: enabled\n\
                    uid: Stored\n\n";
        let extra = crate::dit::read_directory(ldif.as_bytes()).unwrap();
        for a in extra.accounts() {
            let mut a = a.clone();
            a.dn = Some("uid=Stored,ou=People,dc=Example,dc=org".into());
            dir.insert(a).unwrap();
        }
        let idx = MtaIndex::build(&dir, IndexOptions::default());
        let dn_of = |map: &super::HitMap, key: &str| {
            let h = map.get(key).unwrap_or_else(|| panic!("{key}"));
            idx.dn(h[0].rec).into_owned()
        };
        assert_eq!(
            dn_of(&idx.vmm, "user1@example.org"),
            "uid=user1,ou=people,dc=example,dc=org"
        );
        assert_eq!(
            dn_of(&idx.vam, "dyn@example.org"),
            "cn=dyn,cn=groups,dc=example,dc=org"
        );
        assert_eq!(dn_of(&idx.transport, "other.test"), "dc=other,dc=test");
        assert_eq!(
            dn_of(&idx.vmm, "stored@example.org"),
            "uid=Stored,ou=People,dc=Example,dc=org"
        );
        // values keep their case; keys are lower-case
        let r = idx
            .rec(idx.vam.get("alias0@other.test").unwrap()[0].rec)
            .unwrap();
        assert_eq!(
            r.vam.iter().collect::<Vec<_>>(),
            ["user0@other.test", "Fwd0@elsewhere.test"]
        );
        assert!(idx.vam.get("Alias0@other.test").is_none());
        assert_eq!(idx.dn(u32::MAX), "");
    }

    /// Postfix joins every value, an empty one included, after the first non-empty value.
    #[test]
    fn empty_values_are_values() {
        let ldif = "dn: uid=e,ou=people,dc=example,dc=org\nobjectClass: zimbraAccount\n\
                    uid: e\nzimbraMailDeliveryAddress: e@example.org\n\
                    zimbraPrefMailForwardingAddress:\nzimbraMailForwardingAddress: f@x.test\n\
                    zimbraMailStatus: enabled\n\n";
        let dir = crate::dit::read_directory(ldif.as_bytes()).unwrap();
        let idx = MtaIndex::build(&dir, IndexOptions::default());
        let r = idx
            .rec(idx.vam.get("e@example.org").unwrap()[0].rec)
            .unwrap();
        let vals: Vec<&str> = r.vam.iter().collect();
        assert_eq!(vals.len(), 3, "{vals:?}");
        assert!(vals.contains(&""));
    }
}
