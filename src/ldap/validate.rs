//! Checking a change set without a server: record sanity, attribute descriptions and
//! values, required attributes of the object classes of added entries, and order.

use std::collections::{HashMap, HashSet};

use super::error::Problem;
use crate::attrs;
use crate::dn::{AttrValue, Dn};
use crate::ldif::{same_description, valid_description, Attr, Change, ChangeOp, ModOp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Planned {
    Exists,
    Gone,
}

/// Checks a change set without a server and returns every problem (empty = valid):
///
/// - change-record sanity: no change of the root DN; an add has an objectClass and its RDN
///   values among its attributes; a modify has at least one modification; `add:` has values;
///   `increment:` has exactly one integer value; a modrdn does not move an entry below itself;
/// - attribute descriptions are well-formed; no value is given twice (the server would refuse
///   it, and the client library would silently merge it);
/// - values of attributes in the Zimbra catalog pass [`attrs::AttrDef::validate_values`]
///   (type, enum, range, single-valued) for add, modify add and replace (`;binary` values and
///   attributes outside the catalog are left to the server's schema);
/// - an added entry has every attribute its object classes require (`MUST`, superclasses
///   included) and, when the catalog knows all its classes, a structural one
///   ([`attrs::class_requirements`]: Zimbra's classes and the standard ones Zimbra entries use;
///   unknown classes are left to the server);
/// - order within the set: no entry added twice, nothing changed after it was deleted or moved
///   away, no add below an entry deleted earlier.
///
/// ```
/// use zimbra_prov::{dn::Dn, ldif::{Attr, Change, ChangeOp}, ldap::validate};
/// let dn = Dn::parse("uid=a,ou=people,dc=example,dc=com")?;
/// let add = Change::new(dn.clone(), ChangeOp::Add(vec![
///     Attr::new("objectClass", "inetOrgPerson"), Attr::new("objectClass", "zimbraAccount"),
///     Attr::new("uid", "b"), Attr::new("cn", "A"), Attr::new("sn", "A"),
///     Attr::new("zimbraId", "5a8c2b1e-3d4f-4a6b-9c8d-0e1f2a3b4c5d"),
/// ]));
/// let problems = validate(&[add, Change::new(dn.clone(), ChangeOp::Delete), Change::new(dn, ChangeOp::Delete)]);
/// assert_eq!(problems.len(), 3);
/// assert!(problems[0].message.contains("RDN"));
/// assert!(problems[1].message.contains("zimbraAccountStatus, required by object class zimbraAccount"));
/// assert!(problems[2].message.contains("deleted earlier"));
/// # Ok::<(), zimbra_prov::dn::DnError>(())
/// ```
pub fn validate(changes: &[Change]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut state: HashMap<Dn, Planned> = HashMap::new();
    for (index, c) in changes.iter().enumerate() {
        let mut say = |message: String| {
            problems.push(Problem {
                index,
                line: c.line,
                dn: c.dn.to_string(),
                message,
            })
        };
        if c.dn.is_root() {
            say("the root DN cannot be changed".to_string());
            continue;
        }
        let planned = state.get(&c.dn).copied();
        match &c.op {
            ChangeOp::Add(list) => {
                check_add(list, &c.dn, &mut say);
                if planned == Some(Planned::Exists) {
                    say("entry is added twice (or added after being moved here)".to_string());
                }
                if let Some(parent) = c.dn.parent() {
                    if state.get(&parent) == Some(&Planned::Gone) {
                        say(format!("parent {parent} was deleted or moved away earlier"));
                    }
                }
                state.insert(c.dn.clone(), Planned::Exists);
            }
            ChangeOp::Delete => {
                if planned == Some(Planned::Gone) {
                    say("entry was deleted earlier or moved away".to_string());
                }
                state.insert(c.dn.clone(), Planned::Gone);
            }
            ChangeOp::Modify(mods) => {
                if planned == Some(Planned::Gone) {
                    say("entry was deleted earlier or moved away".to_string());
                }
                if mods.is_empty() {
                    say("modify without modifications".to_string());
                }
                for m in mods {
                    check_mod(m, &mut say);
                }
            }
            ChangeOp::ModDn {
                new_rdn,
                new_superior,
                ..
            } => {
                if planned == Some(Planned::Gone) {
                    say("entry was deleted earlier or moved away".to_string());
                }
                let parent = new_superior.clone().or_else(|| c.dn.parent());
                let Some(parent) = parent else {
                    continue;
                };
                if parent.is_under(&c.dn) {
                    say(format!("cannot move the entry below itself ({parent})"));
                    continue;
                }
                let target = parent.child(new_rdn.clone());
                if target != c.dn {
                    if state.get(&target) == Some(&Planned::Exists) {
                        say(format!(
                            "new DN {target} is added earlier in the change set"
                        ));
                    }
                    state.insert(c.dn.clone(), Planned::Gone);
                    state.insert(target, Planned::Exists);
                }
            }
        }
    }
    problems
}

fn text_eq(a: &[u8], b: &str) -> bool {
    std::str::from_utf8(a).is_ok_and(|a| a.trim().eq_ignore_ascii_case(b.trim()))
}

fn check_add(list: &[Attr], dn: &Dn, say: &mut dyn FnMut(String)) {
    if list.is_empty() {
        say("add without attributes".to_string());
        return;
    }
    if !list
        .iter()
        .any(|a| same_description(&a.description, "objectClass"))
    {
        say("add without objectClass".to_string());
    }
    if let Some(rdn) = dn.rdn() {
        for ava in rdn.avas() {
            let ok = match ava.value() {
                AttrValue::Text(t) => list.iter().any(|a| {
                    same_description(&a.description, ava.attr_type()) && text_eq(&a.value, t)
                }),
                AttrValue::Ber(_) => list
                    .iter()
                    .any(|a| same_description(&a.description, ava.attr_type())),
            };
            if !ok {
                say(format!(
                    "RDN value {ava} is not among the entry's attributes (the server refuses that: namingViolation)",
                    ava = rdn
                ));
            }
        }
    }
    for (desc, values) in group(list) {
        check_values(ModOp::Add, desc, &values, true, say);
    }
    check_classes(list, say);
}

/// The schema check a server makes on an added entry, as far as the catalog knows the
/// object classes ([`attrs::class_requirements`]: Zimbra's and the standard ones): every
/// attribute a class (or a superclass) requires is present, and, when every class is known,
/// one of them is structural. Classes the catalog does not know are left to the server.
fn check_classes(list: &[Attr], say: &mut dyn FnMut(String)) {
    let type_of = |d: &str| d.split(';').next().unwrap_or_default().to_string();
    let mut all_known = true;
    let mut structural = false;
    let mut classes = Vec::new();
    let mut required: Vec<(&'static str, &'static str)> = Vec::new();
    for a in list
        .iter()
        .filter(|a| same_description(&a.description, "objectClass"))
    {
        let name = String::from_utf8_lossy(&a.value).trim().to_string();
        match attrs::class_requirements(&name) {
            Some(c) => {
                structural |= c.kind == attrs::ObjectClassKind::Structural;
                for m in c.must {
                    if !required.iter().any(|(r, _)| r.eq_ignore_ascii_case(m)) {
                        required.push((m, c.name));
                    }
                }
            }
            None => all_known = false,
        }
        classes.push(name);
    }
    if all_known && !classes.is_empty() && !structural {
        say(format!(
            "no structural object class among {} (the server refuses that: objectClassViolation)",
            classes.join(", ")
        ));
    }
    for (attr, class) in required {
        let present = list
            .iter()
            .any(|a| attrs::same_attribute_type(&type_of(&a.description), attr));
        if !present {
            say(format!(
                "attribute {attr}, required by object class {class}, is missing (the server refuses that: objectClassViolation)"
            ));
        }
    }
}

fn check_mod(m: &crate::ldif::Modification, say: &mut dyn FnMut(String)) {
    let values: Vec<&[u8]> = m.values.iter().map(Vec::as_slice).collect();
    match m.op {
        ModOp::Add if values.is_empty() => {
            say(format!("add: {} without values", m.attribute));
        }
        ModOp::Increment => {
            let ok = values.len() == 1
                && values
                    .first()
                    .and_then(|v| std::str::from_utf8(v).ok())
                    .is_some_and(|v| v.trim().parse::<i64>().is_ok());
            if !ok {
                say(format!(
                    "increment: {} needs exactly one integer value",
                    m.attribute
                ));
            }
        }
        _ => {}
    }
    let validate = matches!(m.op, ModOp::Add | ModOp::Replace);
    check_values(m.op, &m.attribute, &values, validate, say);
}

fn check_values(
    op: ModOp,
    desc: &str,
    values: &[&[u8]],
    validate: bool,
    say: &mut dyn FnMut(String),
) {
    if !valid_description(desc) {
        say(format!("invalid attribute description {desc:?}"));
        return;
    }
    let mut seen: HashSet<&[u8]> = HashSet::new();
    for v in values {
        if !seen.insert(v) {
            say(format!(
                "{op} {desc}: value {:?} given twice",
                String::from_utf8_lossy(v)
            ));
        }
    }
    let mut parts = desc.split(';');
    let ty = parts.next().unwrap_or_default();
    if !validate || parts.any(|o| o.eq_ignore_ascii_case("binary")) {
        return;
    }
    let Some(def) = attrs::lookup(ty) else {
        return;
    };
    let mut texts = Vec::with_capacity(values.len());
    for v in values {
        match std::str::from_utf8(v) {
            Ok(t) => texts.push(t),
            Err(_) if matches!(def.ty, attrs::AttrType::Binary) => {}
            Err(_) => say(format!("{op} {desc}: value is not UTF-8")),
        }
    }
    if let Err(e) = def.validate_values(&texts) {
        say(format!("{op} {desc}: {e}"));
    }
}

/// Groups attribute lines by description (type case-insensitive, options as a set), in
/// order of first appearance.
pub(super) fn group(list: &[Attr]) -> Vec<(&str, Vec<&[u8]>)> {
    let mut out: Vec<(&str, Vec<&[u8]>)> = Vec::new();
    for a in list {
        match out
            .iter_mut()
            .find(|(d, _)| same_description(d, &a.description))
        {
            Some((_, vs)) => vs.push(&a.value),
            None => out.push((&a.description, vec![&a.value])),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{account, dn, modify};
    use super::super::{LdapError, Plan};
    use super::*;
    use crate::dn::Rdn;

    fn messages(changes: &[Change]) -> Vec<(usize, String)> {
        validate(changes)
            .into_iter()
            .map(|p| (p.index, p.message))
            .collect()
    }

    #[test]
    fn valid_changes_pass() {
        let a = "uid=a,ou=people,dc=example,dc=com";
        let changes = vec![
            account("a"),
            modify(a, ModOp::Replace, "zimbraMailStatus", &["enabled"]),
            modify(a, ModOp::Add, "mail", &["a@example.com", "b@example.com"]),
            modify(a, ModOp::Delete, "description", &[]),
            modify(a, ModOp::Increment, "uidNumber", &["1"]),
            Change::new(
                dn(a),
                ChangeOp::ModDn {
                    new_rdn: Rdn::parse("uid=b").unwrap_or_else(|e| panic!("{e}")),
                    delete_old_rdn: true,
                    new_superior: None,
                },
            ),
            Change::new(dn("uid=b,ou=people,dc=example,dc=com"), ChangeOp::Delete),
        ];
        assert_eq!(messages(&changes), vec![]);
        let plan = Plan::new(changes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.len(), 7);
        assert_eq!(
            plan.operations()[5].to_string(),
            "#6 modrdn uid=a,ou=people,dc=example,dc=com -> uid=b (deleteoldrdn 1)"
        );
        assert_eq!(
            plan.operations()[0].to_string(),
            "#1 add uid=a,ou=people,dc=example,dc=com (6 attributes, 7 values)"
        );
    }

    #[test]
    fn record_sanity_problems_are_all_reported() {
        let a = "uid=a,ou=people,dc=example,dc=com";
        let changes = vec![
            Change::new(Dn::root(), ChangeOp::Delete),
            Change::new(dn(a), ChangeOp::Add(vec![Attr::new("uid", "a")])),
            Change::new(dn(a), ChangeOp::Modify(vec![])),
            modify(a, ModOp::Add, "mail", &[]),
            modify(a, ModOp::Increment, "uidNumber", &["x"]),
            modify(a, ModOp::Add, "mail", &["x@y", "x@y"]),
            modify(a, ModOp::Replace, "bad_name", &["x"]),
            Change::new(
                dn("dc=example,dc=com"),
                ChangeOp::ModDn {
                    new_rdn: Rdn::parse("dc=x").unwrap_or_else(|e| panic!("{e}")),
                    delete_old_rdn: true,
                    new_superior: Some(dn("ou=people,dc=example,dc=com")),
                },
            ),
        ];
        let got = messages(&changes);
        let idx: Vec<usize> = got.iter().map(|(i, _)| *i).collect();
        assert_eq!(idx, vec![0, 1, 2, 3, 4, 5, 6, 7], "{got:?}");
        assert!(got[1].1.contains("objectClass"));
        assert!(got[4].1.contains("integer"));
        assert!(got[5].1.contains("given twice"));
        assert!(got[7].1.contains("below itself"));
    }

    #[test]
    fn catalog_values_are_checked() {
        let a = "uid=a,ou=people,dc=example,dc=com";
        let mut bad_add = account("a");
        if let ChangeOp::Add(list) = &mut bad_add.op {
            list.push(Attr::new("zimbraMailTransport", "lmtp:a:7025"));
            list.push(Attr::new("zimbraMailTransport", "lmtp:b:7025"));
            list.push(Attr::new("zimbraAccountStatus", "sleeping"));
        }
        let changes = vec![
            bad_add,
            modify(a, ModOp::Replace, "zimbraLmtpBindPort", &["seven"]),
            // Deleting a value is not checked: it may be a bad value being cleaned up.
            modify(a, ModOp::Delete, "zimbraLmtpBindPort", &["seven"]),
            modify(a, ModOp::Replace, "zimbraMailHost", &["\u{0}"]),
        ];
        let got = messages(&changes);
        assert!(
            got.iter()
                .any(|(i, m)| *i == 0 && m.contains("single-valued")),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|(i, m)| *i == 0 && m.contains("zimbraAccountStatus")),
            "{got:?}"
        );
        assert!(got
            .iter()
            .any(|(i, m)| *i == 1 && m.contains("zimbraLmtpBindPort")));
        assert!(!got.iter().any(|(i, _)| *i == 2));
        assert!(
            matches!(Plan::new(changes), Err(LdapError::Validation { problems }) if problems.len() == got.len())
        );
    }

    #[test]
    fn order_problems() {
        let a = "uid=a,ou=people,dc=example,dc=com";
        let changes = vec![
            account("a"),
            account("a"),
            Change::new(dn("ou=people,dc=example,dc=com"), ChangeOp::Delete),
            account("c"),
            Change::new(dn(a), ChangeOp::Delete),
            modify(a, ModOp::Replace, "cn", &["x"]),
        ];
        let got = messages(&changes);
        assert_eq!(
            got.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![1, 3, 5],
            "{got:?}"
        );
    }

    fn add(d: &str, attrs: &[(&str, &str)]) -> Change {
        Change::new(
            dn(d),
            ChangeOp::Add(attrs.iter().map(|(n, v)| Attr::new(*n, *v)).collect()),
        )
    }

    #[test]
    fn required_attributes_of_the_object_classes() {
        let a = "uid=a,ou=people,dc=example,dc=com";
        // issue 14.9: a zimbraAccount without uid is refused before anything is sent
        let mut no_uid = account("a");
        if let ChangeOp::Add(list) = &mut no_uid.op {
            list.retain(|x| x.description != "uid");
        }
        let no_uid_elsewhere = Change::new(dn("cn=a,ou=people,dc=example,dc=com"), no_uid.op);
        let got = messages(std::slice::from_ref(&no_uid_elsewhere));
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            got[0]
                .1
                .contains("attribute uid, required by object class zimbraAccount, is missing"),
            "{got:?}"
        );
        assert!(matches!(
            Plan::new(vec![no_uid_elsewhere]),
            Err(LdapError::Validation { problems }) if problems.len() == 1
        ));

        let changes = vec![
            // standard classes through their superclasses: inetOrgPerson needs sn and cn
            add(
                a,
                &[("objectClass", "inetOrgPerson"), ("uid", "a"), ("cn", "A")],
            ),
            // only auxiliary classes: no structural class
            add(
                "uid=b,ou=people,dc=example,dc=com",
                &[("objectClass", "zimbraAccount"), ("uid", "b")],
            ),
            // other names of the same type count; unknown classes are the server's business
            add(
                "uid=c,ou=people,dc=example,dc=com",
                &[
                    ("objectClass", "person"),
                    ("objectClass", "posixAccount"),
                    ("uid", "c"),
                    ("commonName", "C"),
                    ("2.5.4.4", "C"),
                ],
            ),
            // a domain as Zimbra writes it
            add(
                "dc=example,dc=com",
                &[
                    ("objectClass", "dcObject"),
                    ("objectClass", "organization"),
                    ("objectClass", "zimbraDomain"),
                    ("dc", "example"),
                    ("o", "example.com domain"),
                    ("zimbraId", "9a0b1c2d-3e4f-4a5b-8c6d-000000000001"),
                    ("zimbraDomainName", "example.com"),
                    ("zimbraDomainType", "local"),
                ],
            ),
        ];
        let got = messages(&changes);
        let at = |i: usize| -> Vec<&str> {
            got.iter()
                .filter(|(j, _)| *j == i)
                .map(|(_, m)| m.as_str())
                .collect()
        };
        assert_eq!(at(0).len(), 1, "{got:?}");
        assert!(at(0)[0].contains("attribute sn, required by object class inetOrgPerson"));
        assert!(
            at(1)
                .iter()
                .any(|m| m.contains("no structural object class")),
            "{got:?}"
        );
        assert!(
            at(1).iter().any(|m| m.contains("zimbraAccountStatus")),
            "{got:?}"
        );
        assert_eq!(at(2), Vec::<&str>::new());
        assert_eq!(at(3), Vec::<&str>::new());
        assert_eq!(messages(&[account("a")]), vec![]);
    }
}
