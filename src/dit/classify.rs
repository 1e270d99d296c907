//! What an LDAP entry is, in Zimbra's layout.

use serde::{Deserialize, Serialize};

use crate::dn::Dn;
use crate::model::{names, AttrBag};

/// The kind of a directory entry, decided by [`classify`].
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumIter,
    strum::IntoStaticStr,
)]
#[strum(serialize_all = "kebab-case")]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// The global configuration (`zimbraGlobalConfig`).
    GlobalConfig,
    /// A class of service (`zimbraCOS`).
    Cos,
    /// A server (`zimbraServer`).
    Server,
    /// A Zimbra domain, local or alias (`zimbraDomain`).
    Domain,
    /// A `dc=` entry that only holds domains below it (`dcObject` without `zimbraDomain`).
    ParentDomain,
    /// A container: `cn=zimbra` and its branches, `ou=people`, `cn=groups`
    /// (only `organizationalRole`/`organizationalUnit` classes).
    Container,
    /// An account (`zimbraAccount`), including admin and application accounts.
    Account,
    /// A calendar resource (`zimbraAccount` + `zimbraCalendarResource`).
    CalendarResource,
    /// An alias entry (`zimbraAlias`).
    Alias,
    /// A static distribution list (`zimbraDistributionList`).
    DistributionList,
    /// A dynamic group (`zimbraGroup`).
    DynamicGroup,
    /// A unit of a dynamic group (`zimbraGroupDynamicUnit` / `zimbraGroupStaticUnit`).
    GroupUnit,
    /// Anything else (kept as is).
    Other,
}

fn has_class(attrs: &AttrBag, class: &str) -> bool {
    attrs.has_value_ci(names::OBJECT_CLASS, class)
}

/// Classifies an entry by its object classes (case-insensitive) and, for containers and
/// parent `dc=` entries, by its DN.
///
/// ```
/// use zimbra_prov::{dit::{classify, EntryKind}, dn::Dn, model::AttrBag};
/// let mut bag = AttrBag::new();
/// bag.set("objectClass", ["dcObject", "organization"]);
/// assert_eq!(classify(&Dn::parse("dc=com")?, &bag), EntryKind::ParentDomain);
/// bag.add("objectClass", "zimbraDomain");
/// assert_eq!(classify(&Dn::parse("dc=example,dc=com")?, &bag), EntryKind::Domain);
/// # Ok::<(), zimbra_prov::dn::DnError>(())
/// ```
pub fn classify(dn: &Dn, attrs: &AttrBag) -> EntryKind {
    let c = |class: &str| has_class(attrs, class);
    if let Some(kind) = kind_by_classes(c) {
        kind
    } else if c("dcObject") && leaf_type_is(dn, "dc") {
        EntryKind::ParentDomain
    } else if !attrs.values(names::OBJECT_CLASS).is_empty()
        && attrs.values(names::OBJECT_CLASS).iter().all(|v| {
            let v = v.as_bytes();
            v.eq_ignore_ascii_case(b"organizationalRole")
                || v.eq_ignore_ascii_case(b"organizationalUnit")
                || v.eq_ignore_ascii_case(b"top")
        })
    {
        EntryKind::Container
    } else {
        EntryKind::Other
    }
}

/// The Zimbra object classes, in [`classify`]'s order of precedence.
const PRECEDENCE: [(&str, EntryKind); 10] = [
    ("zimbraGlobalConfig", EntryKind::GlobalConfig),
    ("zimbraCOS", EntryKind::Cos),
    ("zimbraServer", EntryKind::Server),
    ("zimbraDomain", EntryKind::Domain),
    ("zimbraAlias", EntryKind::Alias),
    ("zimbraDistributionList", EntryKind::DistributionList),
    ("zimbraGroupDynamicUnit", EntryKind::GroupUnit),
    ("zimbraGroupStaticUnit", EntryKind::GroupUnit),
    ("zimbraGroup", EntryKind::DynamicGroup),
    ("zimbraAccount", EntryKind::Account),
];

/// The kind that an entry's object classes decide on their own (`has`: whether the entry has
/// a class, case-insensitively); `None` when no Zimbra class does and the DN decides.
fn kind_by_classes(has: impl Fn(&str) -> bool) -> Option<EntryKind> {
    let (_, kind) = PRECEDENCE.iter().find(|(class, _)| has(class))?;
    Some(match kind {
        EntryKind::Account if has("zimbraCalendarResource") => EntryKind::CalendarResource,
        k => *k,
    })
}

/// Whether an entry with these `objectClass` values is an account or a calendar resource,
/// whatever its DN and other attributes ([`classify`] agrees).
pub(crate) fn is_account_by_classes<'a>(classes: impl Iterator<Item = &'a [u8]> + Clone) -> bool {
    let has = |c: &str| {
        classes
            .clone()
            .any(|v| v.eq_ignore_ascii_case(c.as_bytes()))
    };
    matches!(
        kind_by_classes(has),
        Some(EntryKind::Account | EntryKind::CalendarResource)
    )
}

fn leaf_type_is(dn: &Dn, ty: &str) -> bool {
    dn.rdn()
        .and_then(|r| r.avas().first())
        .is_some_and(|a| a.attr_type().eq_ignore_ascii_case(ty))
}

/// The mail domain an entry belongs to by its DN, as Zimbra's `dnToEmail` sees it: the
/// `dc=` RDNs that end the DN, joined with dots, provided that the DN consists of some
/// non-`dc` RDNs followed only by `dc` RDNs. `None` for entries outside any `dc=` chain
/// (`cn=zimbra` and below).
///
/// ```
/// use zimbra_prov::{dit::domain_of_dn, dn::Dn};
/// let dn = Dn::parse("uid=a,ou=people,dc=Example,dc=com")?;
/// assert_eq!(domain_of_dn(&dn).as_deref(), Some("example.com"));
/// assert_eq!(domain_of_dn(&Dn::parse("cn=default,cn=cos,cn=zimbra")?), None);
/// assert_eq!(domain_of_dn(&Dn::parse("dc=x,ou=y,dc=com")?).as_deref(), Some("com"));
/// # Ok::<(), zimbra_prov::dn::DnError>(())
/// ```
pub fn domain_of_dn(dn: &Dn) -> Option<String> {
    let mut labels: Vec<String> = Vec::new();
    for rdn in dn.rdns().iter().rev() {
        let ava = rdn.avas().first()?;
        if rdn.avas().len() == 1 && ava.attr_type().eq_ignore_ascii_case("dc") {
            labels.push(ava.text()?.to_ascii_lowercase());
        } else {
            break;
        }
    }
    if labels.is_empty() {
        return None;
    }
    labels.reverse();
    Some(labels.join("."))
}

/// `local@domain` from a DN whose leaf RDN is `<ty>=local` and which ends in a `dc=` chain.
pub(crate) fn address_of_dn(dn: &Dn, ty: &str) -> Option<String> {
    let ava = dn.rdn()?.avas().first()?;
    if !ava.attr_type().eq_ignore_ascii_case(ty) || dn.rdn()?.avas().len() != 1 {
        return None;
    }
    let domain = domain_of_dn(dn)?;
    Some(format!("{}@{domain}", ava.text()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bag(classes: &[&str]) -> AttrBag {
        let mut b = AttrBag::new();
        b.set("objectClass", classes.iter().copied());
        b
    }

    #[test]
    fn accounts_by_classes_agree_with_classify() {
        let classes: Vec<&str> = PRECEDENCE
            .iter()
            .map(|(c, _)| *c)
            .chain(["zimbraCalendarResource", "dcObject", "inetOrgPerson"])
            .collect();
        let dn = Dn::parse("uid=a,ou=people,dc=example,dc=org").unwrap();
        for set in 0u32..1 << classes.len() {
            let mut chosen: Vec<String> = Vec::new();
            for (i, c) in classes.iter().enumerate() {
                if set & 1 << i != 0 {
                    // alternate the case: classes compare case-insensitively
                    chosen.push(if i % 2 == 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_string()
                    });
                }
            }
            let refs: Vec<&str> = chosen.iter().map(String::as_str).collect();
            let bytes: Vec<&[u8]> = refs.iter().map(|c| c.as_bytes()).collect();
            let kind = classify(&dn, &bag(&refs));
            assert_eq!(
                is_account_by_classes(bytes.iter().copied()),
                matches!(kind, EntryKind::Account | EntryKind::CalendarResource),
                "{refs:?} is {kind}"
            );
        }
    }

    #[test]
    fn every_kind() {
        let dn = |s| Dn::parse(s).unwrap();
        let cases: &[(&str, &[&str], EntryKind)] = &[
            (
                "cn=config,cn=zimbra",
                &["organizationalRole", "zimbraGlobalConfig"],
                EntryKind::GlobalConfig,
            ),
            (
                "cn=default,cn=cos,cn=zimbra",
                &["zimbraCOS"],
                EntryKind::Cos,
            ),
            (
                "cn=m,cn=servers,cn=zimbra",
                &["zimbraServer"],
                EntryKind::Server,
            ),
            (
                "dc=a,dc=b",
                &["dcObject", "organization", "zimbraDomain"],
                EntryKind::Domain,
            ),
            (
                "dc=b",
                &["dcObject", "organization"],
                EntryKind::ParentDomain,
            ),
            (
                "ou=people,dc=a,dc=b",
                &["organizationalRole"],
                EntryKind::Container,
            ),
            ("cn=zimbra", &["organizationalRole"], EntryKind::Container),
            (
                "uid=a,ou=people,dc=a,dc=b",
                &["inetOrgPerson", "zimbraAccount", "amavisAccount"],
                EntryKind::Account,
            ),
            (
                "uid=r,ou=people,dc=a,dc=b",
                &["inetOrgPerson", "zimbraAccount", "zimbraCalendarResource"],
                EntryKind::CalendarResource,
            ),
            (
                "uid=x,ou=people,dc=a,dc=b",
                &["zimbraAlias"],
                EntryKind::Alias,
            ),
            (
                "uid=l,ou=people,dc=a,dc=b",
                &["zimbraDistributionList", "zimbraMailRecipient"],
                EntryKind::DistributionList,
            ),
            (
                "cn=g,cn=groups,dc=a,dc=b",
                &["groupOfURLs", "dgIdentityAux", "zimbraGroup"],
                EntryKind::DynamicGroup,
            ),
            (
                "cn=internal,cn=g,cn=groups,dc=a,dc=b",
                &["groupOfURLs", "dgIdentityAux", "zimbraGroupDynamicUnit"],
                EntryKind::GroupUnit,
            ),
            (
                "cn=globalgrant,cn=zimbra",
                &["zimbraAclTarget"],
                EntryKind::Other,
            ),
            ("cn=x", &[], EntryKind::Other),
        ];
        for (d, classes, kind) in cases {
            assert_eq!(classify(&dn(d), &bag(classes)), *kind, "{d}");
        }
    }

    #[test]
    fn addresses_from_dns() {
        let dn = Dn::parse("uid=Al,ou=people,dc=a,dc=B").unwrap();
        assert_eq!(address_of_dn(&dn, "uid").as_deref(), Some("Al@a.b"));
        assert_eq!(address_of_dn(&dn, "cn"), None);
        let z = Dn::parse("uid=zimbra,cn=admins,cn=zimbra").unwrap();
        assert_eq!(address_of_dn(&z, "uid"), None);
    }
}
