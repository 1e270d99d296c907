//! OpenLDAP schema output (slapd.conf format) for the catalog.
//!
//! The type → SYNTAX / EQUALITY / SUBSTR / ORDERING mapping follows Zimbra's schema generator
//! (`AttributeManagerUtil.buildAttrDef`): for example `astring` → IA5String with
//! `caseIgnoreIA5Match`, `enum` → DirectoryString of at least 32 characters with
//! `caseIgnoreMatch`, `integer`/`long`/`port` → INTEGER with `integerMatch`, `boolean` → Boolean
//! with `booleanMatch`, single cardinality → `SINGLE-VALUE`.

use std::fmt::Write as _;

use super::{generated, AttrDef, AttrType, ObjectClassDef};
#[cfg(test)]
use super::{AttrOrigin, CLASS_MAP};

const BOOLEAN: &str = "1.3.6.1.4.1.1466.115.121.1.7";
const CERTIFICATE: &str = "1.3.6.1.4.1.1466.115.121.1.8";
const DSTRING: &str = "1.3.6.1.4.1.1466.115.121.1.15";
const GENTIME: &str = "1.3.6.1.4.1.1466.115.121.1.24";
const IA5: &str = "1.3.6.1.4.1.1466.115.121.1.26";
const INTEGER: &str = "1.3.6.1.4.1.1466.115.121.1.27";
const OCTETS: &str = "1.3.6.1.4.1.1466.115.121.1.40";
const PHONE: &str = "1.3.6.1.4.1.1466.115.121.1.50";

/// OID arc of the amavisd-new attributes.
const AMAVIS_ATTR_OID_BASE: &str = "1.3.6.1.4.1.15312.2.2.1";
/// OID of the `amavisAccount` object class (amavisd.schema).
pub const AMAVIS_ACCOUNT_OID: &str = "1.3.6.1.4.1.15312.2.2.2.1";

/// LDAP syntax and matching rules of an attribute, as the generated schema declares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LdapSyntax {
    /// Syntax OID (`1.3.6.1.4.1.1466.115.121.1.26` = IA5String, ...).
    pub syntax: &'static str,
    /// Maximum length suffix (`{256}`), if any.
    pub length: Option<u64>,
    /// EQUALITY rule.
    pub equality: &'static str,
    /// SUBSTR rule, if any.
    pub substr: Option<&'static str>,
    /// ORDERING rule, if any.
    pub ordering: Option<&'static str>,
}

impl LdapSyntax {
    /// `true` when equality matching ignores case (`caseIgnoreMatch`, `caseIgnoreIA5Match`):
    /// LDAP filters on such attributes match regardless of case.
    pub fn case_insensitive(&self) -> bool {
        self.equality.starts_with("caseIgnore")
    }
}

impl AttrDef {
    /// The syntax and matching rules of this attribute in LDAP (Zimbra's mapping for Zimbra
    /// attributes, amavisd.schema for amavis attributes, and the same mapping by type for
    /// standard attributes, whose real definitions live in the standard schemas).
    ///
    /// ```
    /// let t = zimbra_prov::attrs::lookup("zimbraMailTransport").unwrap().ldap_syntax();
    /// assert_eq!(t.syntax, "1.3.6.1.4.1.1466.115.121.1.26");
    /// assert_eq!(t.length, Some(320));
    /// assert_eq!(t.equality, "caseIgnoreIA5Match");
    /// assert!(t.case_insensitive());
    /// ```
    pub fn ldap_syntax(&self) -> LdapSyntax {
        if let Some((_, _, _, eq)) = amavis_ldap(self.name) {
            return match *eq {
                "booleanMatch" => plain(BOOLEAN, None, "booleanMatch"),
                "caseExactIA5Match" => LdapSyntax {
                    substr: Some("caseExactSubstringsMatch"),
                    ..plain(IA5, Some(256), "caseExactIA5Match")
                },
                _ => LdapSyntax {
                    substr: Some("caseIgnoreIA5SubstringsMatch"),
                    ..plain(IA5, Some(256), "caseIgnoreIA5Match")
                },
            };
        }
        let max_len = self.max.and_then(|m| m.parse::<u64>().ok());
        let mut s = match self.ty {
            AttrType::Boolean => plain(BOOLEAN, None, "booleanMatch"),
            AttrType::Binary | AttrType::Ostring => plain(OCTETS, max_len, "octetStringMatch"),
            AttrType::Certificate => plain(CERTIFICATE, max_len, "certificateExactMatch"),
            AttrType::Email | AttrType::Emailp | AttrType::CsEmailp => substr(
                IA5,
                Some(256),
                "caseIgnoreIA5Match",
                "caseIgnoreSubstringsMatch",
            ),
            AttrType::Gentime => LdapSyntax {
                ordering: Some("generalizedTimeOrderingMatch"),
                ..plain(GENTIME, None, "generalizedTimeMatch")
            },
            AttrType::Id => substr(
                DSTRING,
                Some(256),
                "caseIgnoreMatch",
                "caseIgnoreSubstringsMatch",
            ),
            AttrType::Duration => plain(IA5, Some(32), "caseIgnoreIA5Match"),
            AttrType::Enum => {
                let longest = self.enum_values.iter().map(|v| v.len() as u64).max();
                let len = longest.unwrap_or(0).max(32);
                substr(
                    DSTRING,
                    Some(len),
                    "caseIgnoreMatch",
                    "caseIgnoreSubstringsMatch",
                )
            }
            AttrType::Integer | AttrType::Long | AttrType::Port => {
                plain(INTEGER, None, "integerMatch")
            }
            AttrType::String | AttrType::Regex => substr(
                DSTRING,
                max_len,
                "caseIgnoreMatch",
                "caseIgnoreSubstringsMatch",
            ),
            AttrType::Astring => substr(
                IA5,
                max_len,
                "caseIgnoreIA5Match",
                "caseIgnoreSubstringsMatch",
            ),
            AttrType::Cstring => substr(
                DSTRING,
                max_len,
                "caseExactMatch",
                "caseExactSubstringsMatch",
            ),
            AttrType::Phone => substr(
                PHONE,
                max_len,
                "telephoneNumberMatch",
                "telephoneNumberSubstringsMatch",
            ),
        };
        if let Some(order) = self.ordering {
            s.ordering = Some(order);
        }
        s
    }
}

fn plain(syntax: &'static str, length: Option<u64>, equality: &'static str) -> LdapSyntax {
    LdapSyntax {
        syntax,
        length,
        equality,
        substr: None,
        ordering: None,
    }
}

fn substr(
    syntax: &'static str,
    length: Option<u64>,
    equality: &'static str,
    sub: &'static str,
) -> LdapSyntax {
    LdapSyntax {
        substr: Some(sub),
        ..plain(syntax, length, equality)
    }
}

fn amavis_ldap(name: &str) -> Option<&'static (&'static str, u32, bool, &'static str)> {
    generated::AMAVIS_LDAP
        .iter()
        .find(|(n, ..)| n.eq_ignore_ascii_case(name))
}

fn write_attribute_type(out: &mut String, oid: &str, def: &AttrDef, single: bool) {
    let s = def.ldap_syntax();
    let _ = writeln!(out, "attributetype ( {oid}");
    let _ = writeln!(out, "\tNAME '{}'", def.name);
    let _ = writeln!(out, "\tEQUALITY {}", s.equality);
    if let Some(o) = s.ordering {
        let _ = writeln!(out, "\tORDERING {o}");
    }
    if let Some(sub) = s.substr {
        let _ = writeln!(out, "\tSUBSTR {sub}");
    }
    match s.length {
        Some(n) => {
            let _ = write!(out, "\tSYNTAX {}{{{n}}}", s.syntax);
        }
        None => {
            let _ = write!(out, "\tSYNTAX {}", s.syntax);
        }
    }
    if single {
        out.push_str("\n\tSINGLE-VALUE");
    }
    out.push_str(" )\n\n");
}

fn write_list(out: &mut String, keyword: &str, names: &[&str]) {
    if names.is_empty() {
        return;
    }
    let _ = write!(out, "\n\t{keyword} ( {}", names.join(" $\n\t\t"));
    out.push_str(" )");
}

/// Attribute names that are `MUST` (`required == true`) or `MAY` in a Zimbra object class.
fn members(oc: &ObjectClassDef, required: bool) -> Vec<&'static str> {
    let Some(zclass) = oc.zimbra_class() else {
        return Vec::new();
    };
    let mut names: Vec<&'static str> = generated::ATTRS
        .iter()
        .filter(|a| {
            let list = if required {
                a.required_in
            } else {
                a.optional_in
            };
            list.iter().any(|c| c.eq_ignore_ascii_case(zclass))
        })
        .map(|a| a.name)
        .collect();
    names.sort_by_key(|n| n.to_ascii_lowercase());
    names
}

/// Object classes in an order where every Zimbra superclass comes before its subclasses.
fn ordered_classes() -> Vec<&'static ObjectClassDef> {
    let mut out: Vec<&'static ObjectClassDef> = Vec::new();
    let all = generated::OBJECT_CLASSES;
    // Each pass adds the classes whose superclass is not Zimbra's or already placed; the
    // hierarchy is shallow, so a few passes place all of them.
    for _ in 0..all.len() {
        for oc in all {
            let placed = |n: &str| out.iter().any(|o| o.name.eq_ignore_ascii_case(n));
            let sup_ready =
                !all.iter().any(|o| o.name.eq_ignore_ascii_case(oc.sup)) || placed(oc.sup);
            if sup_ready && !placed(oc.name) {
                out.push(oc);
            }
        }
        if out.len() == all.len() {
            break;
        }
    }
    out
}

/// The catalog as an OpenLDAP schema file in slapd.conf format.
///
/// Contents, in order: OID macros (`objectIdentifier ZimbraAttrType ...` and one per Zimbra
/// attribute), `company` (referenced by Zimbra but absent from the standard schemas), the
/// amavisd-new attributes and the `amavisAccount` class (Zimbra puts `amavisAccount` on
/// accounts and domains), every Zimbra attribute (by id) and every Zimbra object class with
/// `MUST` from `requiredIn` and `MAY` from `optionalIn`. No descriptions are emitted.
///
/// It is meant to be loaded after `core`, `cosine`, `inetorgperson` and `dyngroup`, which
/// define the standard attributes Zimbra uses (`uid`, `mail`, `cn`, `memberURL`, ...).
///
/// ```
/// let schema = zimbra_prov::attrs::openldap_schema();
/// assert!(schema.contains("objectIdentifier zimbraMailTransport ZimbraAttrType:247"));
/// assert!(schema.contains("NAME 'amavisAccount'"));
/// ```
pub fn openldap_schema() -> String {
    let mut out = String::with_capacity(512 * 1024);
    out.push_str(
        "# Zimbra LDAP schema (slapd.conf format), generated by zimbra-prov from its attribute\n\
         # catalog (zimbra-attrs.xml, zimbra-ocs.xml, amavisd.schema facts).\n\
         # Load after core.schema, cosine.schema, inetorgperson.schema and dyngroup.schema.\n\n",
    );
    out.push_str("objectIdentifier ZimbraRoot 1.3.6.1.4.1.19348\n");
    out.push_str("objectIdentifier ZimbraLDAP ZimbraRoot:2\n");
    out.push_str("objectIdentifier ZimbraAttrType ZimbraLDAP:1\n");
    out.push_str("objectIdentifier ZimbraObjectClass ZimbraLDAP:2\n\n");

    let mut zimbra: Vec<&AttrDef> = generated::ATTRS.iter().filter(|a| a.id.is_some()).collect();
    zimbra.sort_by_key(|a| a.id);
    for a in &zimbra {
        if let Some(id) = a.id {
            let _ = writeln!(out, "objectIdentifier {} ZimbraAttrType:{id}", a.name);
        }
    }
    out.push('\n');

    // `company` (Microsoft's schema, OID 1.2.840.113556.1.2.146) is optional in zimbraAccount
    // but is defined by none of the standard OpenLDAP schemas.
    out.push_str(
        "attributetype ( 1.2.840.113556.1.2.146\n\tNAME 'company'\n\tEQUALITY caseIgnoreMatch\n\
         \tSUBSTR caseIgnoreSubstringsMatch\n\tSYNTAX 1.3.6.1.4.1.1466.115.121.1.15{512}\n\
         \tSINGLE-VALUE )\n\n",
    );

    let mut amavis_names = Vec::new();
    for (name, arc, single, _) in generated::AMAVIS_LDAP {
        if let Some(def) = super::lookup(name) {
            write_attribute_type(
                &mut out,
                &format!("{AMAVIS_ATTR_OID_BASE}.{arc}"),
                def,
                *single,
            );
            amavis_names.push(def.name);
        }
    }
    amavis_names.extend(["cn", "description"]);
    let _ = write!(
        out,
        "objectclass ( {AMAVIS_ACCOUNT_OID}\n\tNAME 'amavisAccount'\n\tSUP top AUXILIARY"
    );
    write_list(&mut out, "MAY", &amavis_names);
    out.push_str(" )\n\n");

    for a in &zimbra {
        write_attribute_type(&mut out, a.name, a, a.is_single_valued());
    }

    for oc in generated::OBJECT_CLASSES {
        let _ = writeln!(
            out,
            "objectIdentifier {} ZimbraObjectClass:{}",
            oc.name, oc.id
        );
    }
    out.push('\n');
    for oc in ordered_classes() {
        let _ = write!(
            out,
            "objectclass ( {name}\n\tNAME '{name}'\n\tSUP {sup} {kind}",
            name = oc.name,
            sup = oc.sup,
            kind = oc.kind.keyword()
        );
        write_list(&mut out, "MUST", &members(oc, true));
        write_list(&mut out, "MAY", &members(oc, false));
        out.push_str(" )\n\n");
    }
    out
}

/// The Zimbra classes that have attributes but no object class (none today); used by tests.
#[cfg(test)]
fn classes_without_object_class() -> Vec<&'static str> {
    let mut missing: Vec<&'static str> = generated::ATTRS
        .iter()
        .filter(|a| a.origin != AttrOrigin::Amavis)
        .flat_map(|a| a.required_in.iter().chain(a.optional_in.iter()).copied())
        .filter(|c| !CLASS_MAP.iter().any(|(z, _)| z.eq_ignore_ascii_case(c)))
        .collect();
    missing.sort_unstable();
    missing.dedup();
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_used_by_an_attribute_is_mapped() {
        assert_eq!(classes_without_object_class(), Vec::<&str>::new());
    }

    #[test]
    fn superclasses_come_first() {
        let order = ordered_classes();
        assert_eq!(order.len(), generated::OBJECT_CLASSES.len());
        let pos = |n: &str| order.iter().position(|o| o.name == n);
        assert!(pos("zimbraMailRecipient") < pos("zimbraAccount"));
        assert!(pos("zimbraDataSource") < pos("zimbraImapDataSource"));
    }

    #[test]
    fn account_must_and_may() {
        let acct = super::super::object_class("zimbraAccount").unwrap();
        assert_eq!(
            members(acct, true),
            ["uid", "zimbraAccountStatus", "zimbraId"]
        );
        assert!(members(acct, false).contains(&"zimbraMailQuota"));
        let schema = openldap_schema();
        assert!(schema.contains(
            "objectclass ( zimbraAccount\n\tNAME 'zimbraAccount'\n\tSUP zimbraMailRecipient AUXILIARY\n\tMUST ( uid $\n\t\tzimbraAccountStatus $\n\t\tzimbraId )"
        ));
    }

    #[test]
    fn attribute_type_text() {
        let schema = openldap_schema();
        assert!(schema.contains(
            "attributetype ( zimbraMailTransport\n\tNAME 'zimbraMailTransport'\n\tEQUALITY caseIgnoreIA5Match\n\tSUBSTR caseIgnoreSubstringsMatch\n\tSYNTAX 1.3.6.1.4.1.1466.115.121.1.26{320}\n\tSINGLE-VALUE )\n"
        ));
        assert!(schema.contains(
            "attributetype ( zimbraCreateTimestamp\n\tNAME 'zimbraCreateTimestamp'\n\tEQUALITY generalizedTimeMatch\n\tORDERING generalizedTimeOrderingMatch\n\tSYNTAX 1.3.6.1.4.1.1466.115.121.1.24\n\tSINGLE-VALUE )\n"
        ));
        assert!(schema.contains(
            "attributetype ( 1.3.6.1.4.1.15312.2.2.1.9\n\tNAME 'amavisWhitelistSender'\n\tEQUALITY caseIgnoreIA5Match\n\tSUBSTR caseIgnoreIA5SubstringsMatch\n\tSYNTAX 1.3.6.1.4.1.1466.115.121.1.26{256} )\n"
        ));
        // No description prose.
        assert!(!schema.contains("DESC"));
    }

    #[test]
    fn enum_length_is_at_least_32() {
        let s = super::super::lookup("zimbraAccountStatus")
            .unwrap()
            .ldap_syntax();
        assert_eq!(s.length, Some(32));
        assert_eq!(s.equality, "caseIgnoreMatch");
    }
}
