//! Object classes as a server's schema check sees them: Zimbra's own (from `zimbra-ocs.xml`,
//! `MUST` from each attribute's `requiredIn`) and the standard classes Zimbra entries use,
//! from OpenLDAP's `core`, `cosine`, `inetorgperson` and `dyngroup` schemas (RFC 4519,
//! RFC 4524, RFC 2798) plus `amavisAccount`; and the names a standard attribute type goes by.
//!
//! This is what lets a change set be checked for missing required attributes before anything
//! is sent (see [`ldap::validate`](crate::ldap::validate)).

use super::{generated, ObjectClassKind};

/// A standard object class: name, OID, superclass, kind and the attributes it requires
/// itself (its superclasses' come from following `sup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StandardClass {
    /// Name (`inetOrgPerson`).
    pub name: &'static str,
    /// OID.
    pub oid: &'static str,
    /// Superclass (`top` for the roots).
    pub sup: &'static str,
    /// Structural, auxiliary or abstract.
    pub kind: ObjectClassKind,
    /// `MUST` attributes, without the superclasses' (`top`'s `objectClass` is left out: an
    /// entry without one is refused for that already).
    pub must: &'static [&'static str],
}

const fn class(
    name: &'static str,
    oid: &'static str,
    sup: &'static str,
    kind: ObjectClassKind,
    must: &'static [&'static str],
) -> StandardClass {
    StandardClass {
        name,
        oid,
        sup,
        kind,
        must,
    }
}

use ObjectClassKind::{Abstract as A, Auxiliary as X, Structural as S};

/// The standard classes, as OpenLDAP's schema files define them.
const STANDARD: &[StandardClass] = &[
    // core.schema (RFC 4512, RFC 4519 and others)
    class("top", "2.5.6.0", "top", A, &[]),
    class("alias", "2.5.6.1", "top", S, &["aliasedObjectName"]),
    class("country", "2.5.6.2", "top", S, &["c"]),
    class("locality", "2.5.6.3", "top", S, &[]),
    class("organization", "2.5.6.4", "top", S, &["o"]),
    class("organizationalUnit", "2.5.6.5", "top", S, &["ou"]),
    class("person", "2.5.6.6", "top", S, &["sn", "cn"]),
    class("organizationalPerson", "2.5.6.7", "person", S, &[]),
    class("organizationalRole", "2.5.6.8", "top", S, &["cn"]),
    class("groupOfNames", "2.5.6.9", "top", S, &["member", "cn"]),
    class("residentialPerson", "2.5.6.10", "person", S, &["l"]),
    class("applicationProcess", "2.5.6.11", "top", S, &["cn"]),
    class(
        "applicationEntity",
        "2.5.6.12",
        "top",
        S,
        &["presentationAddress", "cn"],
    ),
    class("dSA", "2.5.6.13", "applicationEntity", S, &[]),
    class("device", "2.5.6.14", "top", S, &["cn"]),
    class(
        "strongAuthenticationUser",
        "2.5.6.15",
        "top",
        X,
        &["userCertificate"],
    ),
    class(
        "certificationAuthority",
        "2.5.6.16",
        "top",
        X,
        &[
            "authorityRevocationList",
            "certificateRevocationList",
            "cACertificate",
        ],
    ),
    class(
        "groupOfUniqueNames",
        "2.5.6.17",
        "top",
        S,
        &["uniqueMember", "cn"],
    ),
    class("userSecurityInformation", "2.5.6.18", "top", X, &[]),
    class("cRLDistributionPoint", "2.5.6.19", "top", S, &["cn"]),
    class("pkiUser", "2.5.6.21", "top", X, &[]),
    class("pkiCA", "2.5.6.22", "top", X, &[]),
    class("dcObject", "1.3.6.1.4.1.1466.344", "top", X, &["dc"]),
    class("uidObject", "1.3.6.1.1.3.1", "top", X, &["uid"]),
    class("labeledURIObject", "1.3.6.1.4.1.250.3.15", "top", X, &[]),
    class(
        "simpleSecurityObject",
        "0.9.2342.19200300.100.4.19",
        "top",
        X,
        &["userPassword"],
    ),
    class(
        "extensibleObject",
        "1.3.6.1.4.1.1466.101.120.111",
        "top",
        X,
        &[],
    ),
    // cosine.schema (RFC 4524)
    class("account", "0.9.2342.19200300.100.4.5", "top", S, &["uid"]),
    class(
        "document",
        "0.9.2342.19200300.100.4.6",
        "top",
        S,
        &["documentIdentifier"],
    ),
    class("room", "0.9.2342.19200300.100.4.7", "top", S, &["cn"]),
    class(
        "documentSeries",
        "0.9.2342.19200300.100.4.9",
        "top",
        S,
        &["cn"],
    ),
    class("domain", "0.9.2342.19200300.100.4.13", "top", S, &["dc"]),
    class(
        "RFC822localPart",
        "0.9.2342.19200300.100.4.14",
        "domain",
        S,
        &[],
    ),
    class("dNSDomain", "0.9.2342.19200300.100.4.15", "domain", S, &[]),
    class(
        "domainRelatedObject",
        "0.9.2342.19200300.100.4.17",
        "top",
        X,
        &["associatedDomain"],
    ),
    class(
        "friendlyCountry",
        "0.9.2342.19200300.100.4.18",
        "country",
        S,
        &["co"],
    ),
    // inetorgperson.schema (RFC 2798)
    class(
        "inetOrgPerson",
        "2.16.840.1.113730.3.2.2",
        "organizationalPerson",
        S,
        &[],
    ),
    // dyngroup.schema (Zimbra's dynamic groups)
    class("groupOfURLs", "2.16.840.1.113730.3.2.33", "top", S, &["cn"]),
    class(
        "dgIdentityAux",
        "1.3.6.1.4.1.4203.666.11.8.2.1",
        "top",
        X,
        &[],
    ),
    // amavisd.schema (Zimbra puts it on accounts and domains)
    class(
        "amavisAccount",
        super::schema::AMAVIS_ACCOUNT_OID,
        "top",
        X,
        &[],
    ),
];

/// Standard attribute types with more than one name: short name first, then the long name
/// and the OID (all name the same type).
const TYPE_NAMES: &[&[&str]] = &[
    &["objectClass", "2.5.4.0"],
    &["aliasedObjectName", "aliasedEntryName", "2.5.4.1"],
    &["cn", "commonName", "2.5.4.3"],
    &["sn", "surname", "2.5.4.4"],
    &["c", "countryName", "2.5.4.6"],
    &["l", "localityName", "2.5.4.7"],
    &["st", "stateOrProvinceName", "2.5.4.8"],
    &["o", "organizationName", "2.5.4.10"],
    &["ou", "organizationalUnitName", "2.5.4.11"],
    &["presentationAddress", "2.5.4.29"],
    &["member", "2.5.4.31"],
    &["userPassword", "2.5.4.35"],
    &["userCertificate", "2.5.4.36"],
    &["cACertificate", "2.5.4.37"],
    &["authorityRevocationList", "2.5.4.38"],
    &["certificateRevocationList", "2.5.4.39"],
    &["uniqueMember", "2.5.4.50"],
    &["uid", "userid", "0.9.2342.19200300.100.1.1"],
    &["documentIdentifier", "0.9.2342.19200300.100.1.11"],
    &["dc", "domainComponent", "0.9.2342.19200300.100.1.25"],
    &["associatedDomain", "0.9.2342.19200300.100.1.37"],
    &["co", "friendlyCountryName", "0.9.2342.19200300.100.1.43"],
];

/// Looks a standard object class up by name or OID, case-insensitively.
///
/// ```
/// use zimbra_prov::attrs::{standard_class, ObjectClassKind};
/// let p = standard_class("inetorgperson").unwrap();
/// assert_eq!((p.sup, p.kind), ("organizationalPerson", ObjectClassKind::Structural));
/// assert_eq!(standard_class("2.5.6.6").map(|c| c.must), Some(&["sn", "cn"][..]));
/// assert!(standard_class("zimbraAccount").is_none()); // Zimbra's: attrs::object_class
/// ```
pub fn standard_class(name: &str) -> Option<&'static StandardClass> {
    STANDARD
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(name) || c.oid == name)
}

/// Every standard class the catalog knows.
pub fn standard_classes() -> &'static [StandardClass] {
    STANDARD
}

/// True when two attribute types (descriptions without options) name the same type: equal
/// case-insensitively, two names or the OID of one standard type (`cn`, `commonName`,
/// `2.5.4.3`), or a Zimbra attribute's name and OID.
///
/// ```
/// use zimbra_prov::attrs::same_attribute_type;
/// assert!(same_attribute_type("CN", "commonName") && same_attribute_type("userid", "uid"));
/// assert!(same_attribute_type("1.3.6.1.4.1.19348.2.1.1", "zimbraId"));
/// assert!(!same_attribute_type("cn", "sn"));
/// ```
pub fn same_attribute_type(a: &str, b: &str) -> bool {
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    let group = |t: &str| {
        TYPE_NAMES
            .iter()
            .position(|g| g.iter().any(|n| n.eq_ignore_ascii_case(t)))
    };
    if let (Some(x), Some(y)) = (group(a), group(b)) {
        return x == y;
    }
    let zimbra = |t: &str| {
        let oid = t
            .strip_prefix(super::ZIMBRA_ATTR_OID_BASE)?
            .strip_prefix('.')?;
        let id: u32 = oid.parse().ok()?;
        generated::ATTRS.iter().find(|d| d.id == Some(id))
    };
    match (zimbra(a), zimbra(b)) {
        (Some(d), None) => d.name.eq_ignore_ascii_case(b),
        (None, Some(d)) => d.name.eq_ignore_ascii_case(a),
        _ => false,
    }
}

/// An object class as the schema check sees it: its name, kind and every attribute it
/// requires, its superclasses' included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassRequirements {
    /// The class's name as the catalog spells it.
    pub name: &'static str,
    /// Structural, auxiliary or abstract.
    pub kind: ObjectClassKind,
    /// Required attributes (`MUST`), the class's own first, then its superclasses', each
    /// once. `top`'s `objectClass` is left out.
    pub must: Vec<&'static str>,
}

/// The requirements of a Zimbra or standard object class (by name, case-insensitive; or
/// by OID for the standard ones); `None` for a class the catalog does not know (or whose
/// superclass it does not know).
///
/// ```
/// use zimbra_prov::attrs::{class_requirements, ObjectClassKind};
/// let account = class_requirements("zimbraAccount").unwrap();
/// assert_eq!(account.kind, ObjectClassKind::Auxiliary);
/// assert_eq!(account.must, ["uid", "zimbraAccountStatus", "zimbraId"]);
/// assert_eq!(class_requirements("inetOrgPerson").unwrap().must, ["sn", "cn"]);
/// assert!(class_requirements("posixAccount").is_none());
/// ```
pub fn class_requirements(name: &str) -> Option<ClassRequirements> {
    let mut must: Vec<&'static str> = Vec::new();
    let mut kind = None;
    let mut canonical = None;
    let mut current = name;
    // A chain is a few classes long; the bound only guards against a cycle.
    for _ in 0..16 {
        let (this, sup, this_kind, own) = match super::object_class(current) {
            Some(z) => (z.name, z.sup, z.kind, zimbra_must(z)),
            None => {
                let s = standard_class(current)?;
                (s.name, s.sup, s.kind, s.must.to_vec())
            }
        };
        canonical.get_or_insert(this);
        kind.get_or_insert(this_kind);
        for m in own {
            if !must.iter().any(|x| x.eq_ignore_ascii_case(m)) {
                must.push(m);
            }
        }
        if this.eq_ignore_ascii_case("top") || sup.eq_ignore_ascii_case(this) {
            return Some(ClassRequirements {
                name: canonical?,
                kind: kind?,
                must,
            });
        }
        current = sup;
    }
    None
}

/// `MUST` attributes of a Zimbra class: those whose `requiredIn` names it, sorted as the
/// generated schema lists them.
fn zimbra_must(oc: &super::ObjectClassDef) -> Vec<&'static str> {
    let Some(zclass) = oc.zimbra_class() else {
        return Vec::new();
    };
    let mut names: Vec<&'static str> = generated::ATTRS
        .iter()
        .filter(|a| a.required_in_class(zclass))
        .map(|a| a.name)
        .collect();
    names.sort_by_key(|n| n.to_ascii_lowercase());
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_follow_superclasses_across_both_catalogs() {
        let p = class_requirements("inetorgperson").expect("known");
        assert_eq!(
            (p.name, p.kind),
            ("inetOrgPerson", ObjectClassKind::Structural)
        );
        let r = class_requirements("residentialPerson").expect("known");
        assert_eq!(r.must, ["l", "sn", "cn"]);
        let dyn_unit = class_requirements("zimbraGroupDynamicUnit").expect("known");
        assert_eq!(dyn_unit.must, ["memberURL", "zimbraGroupId", "zimbraId"]);
        assert_eq!(
            class_requirements("dcObject").map(|c| c.must),
            Some(vec!["dc"])
        );
        assert_eq!(
            class_requirements("top").map(|c| c.kind),
            Some(ObjectClassKind::Abstract)
        );
        assert!(class_requirements("nosuchClass").is_none());
    }

    #[test]
    fn every_superclass_is_known() {
        for c in STANDARD {
            assert!(class_requirements(c.name).is_some(), "{}", c.name);
        }
        for z in super::super::object_classes() {
            assert!(class_requirements(z.name).is_some(), "{}", z.name);
        }
    }

    #[test]
    fn the_schema_the_tests_load_agrees() {
        // The generated schema says MUST for Zimbra classes exactly as zimbra_must does.
        let schema = super::super::openldap_schema();
        let acct = class_requirements("zimbraAccount").expect("known");
        let list = acct.must.join(" $\n\t\t");
        assert!(schema.contains(&format!("MUST ( {list} )")), "{list}");
    }
}
