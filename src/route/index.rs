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

use crate::model::{
    names as n, AccountStatus, AttrBag, Directory, DomainName, EntryRef, MailRecipient, MailStatus,
};

pub(crate) use crate::model::hash::FxMap;

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

/// What the index keeps of one LDAP entry the filters can see.
#[derive(Debug, Clone)]
pub(crate) struct Rec {
    /// The entry's DN (as stored, or Zimbra's default DN for the object).
    pub dn: Box<str>,
    /// ldap-vam.cf result values as stored, in attribute order.
    pub vam: Box<[Box<str>]>,
    /// ldap-canonical.cf result values.
    pub canonical: Box<[Box<str>]>,
    /// ldap-transport.cf result values.
    pub transport: Box<[Box<str>]>,
}

/// What Zimbra's LMTP server knows of an account (it reads the directory itself, not Postfix's
/// maps, so disabled accounts are included).
#[derive(Debug, Clone)]
pub(crate) struct LmtpRec {
    /// The account's name.
    pub name: Box<str>,
    /// Effective status (`None`: missing or unknown).
    pub status: Option<AccountStatus>,
    /// `zimbraMailHost`.
    pub mail_host: Option<Box<str>>,
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
    pub(crate) recs: Vec<Rec>,
    pub(crate) vam: FxMap<Box<str>, Box<[Hit]>>,
    pub(crate) canonical: FxMap<Box<str>, Box<[Hit]>>,
    pub(crate) transport: FxMap<Box<str>, Box<[Hit]>>,
    pub(crate) vmm: FxMap<Box<str>, Box<[Hit]>>,
    pub(crate) split: FxMap<Box<str>, Box<[Hit]>>,
    pub(crate) vmd: FxMap<Box<str>, u32>,
    pub(crate) vad: FxMap<Box<str>, u32>,
    pub(crate) lmtp: FxMap<Box<str>, LmtpRec>,
    pub(crate) alias_domains: FxMap<Box<str>, Box<str>>,
    pub(crate) servers: FxMap<Box<str>, ()>,
    pub(crate) transport_has_dot_keys: bool,
    pub(crate) transport_has_star_key: bool,
    options: IndexOptions,
}

fn domain_dn(d: &DomainName) -> String {
    d.labels()
        .map(|l| format!("dc={l}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Zimbra's default DN of an entry named `local@domain` under `ou=people` (accounts, lists,
/// aliases) or `cn=groups` (dynamic groups).
fn person_dn(rdn: &str, local: &str, container: &str, d: &DomainName) -> String {
    format!("{rdn}={local},{container},{}", domain_dn(d))
}

/// The values of `attr` as stored (Postfix joins every result value with commas and parses
/// the result as one RFC 822 address list, so values are not split here).
fn raw_values(bag: &AttrBag, attr: &str, out: &mut Vec<Box<str>>) {
    out.extend(bag.strs(attr).into_iter().map(Into::into));
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
        if a.eq_ignore_ascii_case("zimbraMemberOf") {
            member_of.push(v.to_ascii_lowercase());
        } else if a.eq_ignore_ascii_case(n::ZIMBRA_ID) {
            ids.push(v.to_ascii_lowercase());
        } else {
            return None;
        }
    }
    Some((member_of, ids))
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
            for v in bag.strs("zimbraMemberOf") {
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

/// The values of the attributes `attrs` in the order the entry stores its attributes, as
/// stored (Postfix joins them with commas; `decide` parses the joined result).
fn values_in_entry_order(bag: &AttrBag, attrs: &[&str], out: &mut Vec<Box<str>>) {
    for a in bag.iter() {
        if attrs.iter().any(|x| x.eq_ignore_ascii_case(a.name())) {
            out.extend(a.values().filter_map(|v| v.as_str()).map(Into::into));
        }
    }
}

struct Builder {
    idx: MtaIndex,
    vam: FxMap<Box<str>, Vec<Hit>>,
    canonical: FxMap<Box<str>, Vec<Hit>>,
    transport: FxMap<Box<str>, Vec<Hit>>,
    vmm: FxMap<Box<str>, Vec<Hit>>,
    split: FxMap<Box<str>, Vec<Hit>>,
}

fn push(map: &mut FxMap<Box<str>, Vec<Hit>>, key: &str, hit: Hit) {
    let v = map.entry(key.to_ascii_lowercase().into()).or_default();
    if !v.iter().any(|h| h.rec == hit.rec) {
        v.push(hit);
    }
}

fn freeze(m: FxMap<Box<str>, Vec<Hit>>) -> FxMap<Box<str>, Box<[Hit]>> {
    m.into_iter()
        .map(|(k, v)| (k, v.into_boxed_slice()))
        .collect()
}

impl Builder {
    fn entry(&mut self, dn: String, bag: &AttrBag, extra_vam: &[Box<str>]) {
        if !bag.has_value_ci(n::MAIL_STATUS, MailStatus::Enabled.as_ref()) {
            return;
        }
        // result values come in the entry's own attribute order, as slapd returns them and
        // Postfix's LDAP client reads them (not in result_attribute order)
        let mut vam = Vec::new();
        values_in_entry_order(
            bag,
            &[
                n::MAIL_DELIVERY_ADDRESS,
                n::MAIL_FORWARDING_ADDRESS,
                n::PREF_MAIL_FORWARDING_ADDRESS,
                n::MAIL_CATCH_ALL_FORWARDING_ADDRESS,
            ],
            &mut vam,
        );
        vam.extend(extra_vam.iter().cloned());
        let mut canonical = Vec::new();
        values_in_entry_order(
            bag,
            &[
                n::MAIL_CANONICAL_ADDRESS,
                n::MAIL_CATCH_ALL_CANONICAL_ADDRESS,
            ],
            &mut canonical,
        );
        let transport: Vec<Box<str>> = bag
            .strs(n::MAIL_TRANSPORT)
            .into_iter()
            .map(Into::into)
            .collect();
        let split_ok = bag.contains(n::MAIL_DELIVERY_ADDRESS)
            || bag.contains(n::MAIL_FORWARDING_ADDRESS)
            || bag.contains(n::PREF_MAIL_FORWARDING_ADDRESS);
        let rec = self.idx.recs.len() as u32;
        let has_vam = !vam.is_empty();
        let has_canon = !canonical.is_empty();
        let has_transport = !transport.is_empty();
        self.idx.recs.push(Rec {
            dn: dn.into(),
            vam: vam.into_boxed_slice(),
            canonical: canonical.into_boxed_slice(),
            transport: transport.into_boxed_slice(),
        });
        let old = self.idx.options.old_address_filter;
        let keyed: [(&str, MatchAttr, bool); 4] = [
            (n::MAIL_DELIVERY_ADDRESS, MatchAttr::DeliveryAddress, true),
            (n::MAIL_ALIAS, MatchAttr::MailAlias, true),
            (n::OLD_MAIL_ADDRESS, MatchAttr::OldMailAddress, old),
            (n::MAIL_CATCH_ALL_ADDRESS, MatchAttr::CatchAllAddress, true),
        ];
        for (attr, m, in_vam) in keyed {
            for v in bag.strs(attr) {
                let hit = Hit { rec, attr: m };
                if in_vam && has_vam {
                    push(&mut self.vam, v, hit);
                }
                if m == MatchAttr::OldMailAddress {
                    continue;
                }
                if has_canon {
                    push(&mut self.canonical, v, hit);
                }
                if split_ok {
                    push(&mut self.split, v, hit);
                }
                if m == MatchAttr::DeliveryAddress {
                    push(&mut self.vmm, v, hit);
                    if has_transport {
                        push(&mut self.transport, v, hit);
                    }
                }
            }
        }
        for v in bag.strs(n::DOMAIN_NAME) {
            let key: Box<str> = v.to_ascii_lowercase().into();
            if has_transport {
                push(
                    &mut self.transport,
                    v,
                    Hit {
                        rec,
                        attr: MatchAttr::DomainName,
                    },
                );
            }
            if bag.has_value_ci(n::DOMAIN_TYPE, "local") {
                self.idx.vmd.entry(key.clone()).or_insert(rec);
            }
            if bag.has_value_ci(n::DOMAIN_TYPE, "alias") {
                self.idx.vad.entry(key).or_insert(rec);
            }
        }
    }
}

impl MtaIndex {
    /// Build the index of `dir` (every entry of the directory is considered, whatever its object
    /// class, as Zimbra's filters do not restrict object classes).
    pub fn build(dir: &Directory, options: IndexOptions) -> MtaIndex {
        let mut b = Builder {
            idx: MtaIndex {
                options,
                ..MtaIndex::default()
            },
            vam: FxMap::default(),
            canonical: FxMap::default(),
            transport: FxMap::default(),
            vmm: FxMap::default(),
            split: FxMap::default(),
        };
        // dynamic groups and their dynamic units: dynlist computes `member` from memberURL and
        // Postfix follows each member DN (base search, whatever the member's mail status)
        let members = DynlistMembers::new(dir);
        // entries in creation order (slapd's entry-ID order): when several entries answer one
        // key, slapd returns them in this order and Postfix joins their values in it, so each
        // key's hits are kept in the order they are pushed here
        for e in dir.entries_in_order() {
            match e {
                EntryRef::Domain(d) => {
                    let dn = d.dn.clone().unwrap_or_else(|| domain_dn(&d.name));
                    b.entry(dn, &d.attrs, &[]);
                    if d.is_alias() {
                        if let Some(t) = d
                            .attrs
                            .first(n::DOMAIN_ALIAS_TARGET_ID)
                            .and_then(|id| dir.domain_by_id(id))
                        {
                            b.idx
                                .alias_domains
                                .insert(d.name.as_str().into(), t.name.as_str().into());
                        }
                    }
                }
                EntryRef::Account(a) => {
                    let dn = a.dn.clone().unwrap_or_else(|| {
                        person_dn("uid", a.name.local(), "ou=people", a.name.domain())
                    });
                    b.entry(dn, &a.attrs, &[]);
                    let rec = LmtpRec {
                        name: a.name.to_string().into(),
                        status: dir.effective_account_status(a),
                        mail_host: a.mail_host().map(Into::into),
                    };
                    for addr in a.attrs.strs(n::MAIL_ALIAS) {
                        b.idx
                            .lmtp
                            .entry(addr.to_ascii_lowercase().into())
                            .or_insert_with(|| rec.clone());
                    }
                    b.idx.lmtp.insert(a.name.key().into(), rec);
                }
                EntryRef::List(l) => {
                    let dn = l.dn.clone().unwrap_or_else(|| {
                        person_dn("uid", l.name.local(), "ou=people", l.name.domain())
                    });
                    b.entry(dn, &l.attrs, &[]);
                }
                EntryRef::Group(g) => {
                    let dn = g.dn.clone().unwrap_or_else(|| {
                        person_dn("cn", g.name.local(), "cn=groups", g.name.domain())
                    });
                    let vals = members.of_group(&g.attrs);
                    b.entry(dn, &g.attrs, &vals);
                }
                EntryRef::Alias(al) => {
                    let dn = al.dn.clone().unwrap_or_else(|| {
                        person_dn("uid", al.name.local(), "ou=people", al.name.domain())
                    });
                    b.entry(dn, &al.attrs, &[]);
                }
                EntryRef::Server(s) => {
                    let dn =
                        s.dn.clone()
                            .unwrap_or_else(|| format!("cn={},cn=servers,cn=zimbra", s.name));
                    b.entry(dn, &s.attrs, &[]);
                    b.idx
                        .servers
                        .insert(s.service_hostname().to_ascii_lowercase().into(), ());
                    b.idx.servers.insert(s.name.to_ascii_lowercase().into(), ());
                }
                EntryRef::Cos(c) => {
                    let dn =
                        c.dn.clone()
                            .unwrap_or_else(|| format!("cn={},cn=cos,cn=zimbra", c.name));
                    b.entry(dn, &c.attrs, &[]);
                }
                EntryRef::Config(c) => {
                    let dn =
                        c.dn.clone()
                            .unwrap_or_else(|| "cn=config,cn=zimbra".to_string());
                    b.entry(dn, &c.attrs, &[]);
                }
                EntryRef::Raw(e) => {
                    let vals = members.of_unit(&e.attrs);
                    b.entry(e.dn.clone(), &e.attrs, &vals);
                }
            }
        }
        let Builder {
            mut idx,
            vam,
            canonical,
            transport,
            vmm,
            split,
        } = b;
        idx.transport_has_dot_keys = transport.keys().any(|k| k.starts_with('.'));
        idx.transport_has_star_key = transport.contains_key("*");
        idx.vam = freeze(vam);
        idx.canonical = freeze(canonical);
        idx.transport = freeze(transport);
        idx.vmm = freeze(vmm);
        idx.split = freeze(split);
        idx
    }

    /// The options the index was built with.
    pub fn options(&self) -> IndexOptions {
        self.options
    }

    /// Number of entries visible to the filters (`zimbraMailStatus=enabled`).
    pub fn entry_count(&self) -> usize {
        self.recs.len()
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

    pub(crate) fn dn(&self, rec: u32) -> &str {
        self.recs.get(rec as usize).map(|r| &*r.dn).unwrap_or("")
    }

    pub(crate) fn rec(&self, rec: u32) -> Option<&Rec> {
        self.recs.get(rec as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::member_url_terms;
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
}
