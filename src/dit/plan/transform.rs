//! How moved entries change on the way: the domain rename (`zmprov rd`), the mail-host map,
//! new ids. One set of rules, used for the few values the planner checks while it plans and for
//! whole entries when they are written, so that both always agree.

use std::collections::{BTreeMap, HashMap};

use super::DitError;
use crate::dn::{Dn, Rdn};
use crate::model::{names, Address, AttrBag, DomainName};

/// Attributes `zmprov rd` rewrites in moved entries.
pub(super) const RENAMED_ATTRS: [&str; 9] = [
    names::MAIL,
    names::MAIL_ALIAS,
    names::MAIL_FORWARDING_ADDRESS,
    names::MAIL_DELIVERY_ADDRESS,
    names::MAIL_CANONICAL_ADDRESS,
    names::MAIL_CATCH_ALL_ADDRESS,
    names::MAIL_CATCH_ALL_CANONICAL_ADDRESS,
    names::MAIL_CATCH_ALL_FORWARDING_ADDRESS,
    "zimbraPrefAllowAddressForDelegatedSender",
];

/// Attributes whose values are ids of other entries.
pub(super) const ID_REF_ATTRS: [&str; 9] = [
    names::ZIMBRA_ID,
    names::ALIAS_TARGET_ID,
    names::COS_ID,
    names::DOMAIN_DEFAULT_COS_ID,
    "zimbraDomainDefaultExternalUserCOSId",
    names::DOMAIN_ALIAS_TARGET_ID,
    "zimbraMemberOf",
    "zimbraGroupId",
    names::MAIL_HOST_POOL,
];

/// Attributes whose values are COS ids.
pub(super) const COS_REF_ATTRS: [&str; 3] = [
    names::COS_ID,
    names::DOMAIN_DEFAULT_COS_ID,
    "zimbraDomainDefaultExternalUserCOSId",
];

/// The addresses an entry answers to (the target's unique overlay is on `mail`).
pub(super) const ADDRESS_ATTRS: [&str; 3] =
    [names::MAIL, names::MAIL_DELIVERY_ADDRESS, names::MAIL_ALIAS];

pub(super) fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

pub(super) fn parse_dn(dn: &str) -> Result<Dn, DitError> {
    Dn::parse(dn).map_err(|source| DitError::Dn {
        line: 0,
        dn: dn.to_string(),
        source,
    })
}

/// `value` with the domain `old` replaced by `new` when it is an address (or `@domain`) in
/// `old`, as `zmprov rd` rewrites it; `None` when the value is not in `old`.
pub(super) fn rewrite_domain(value: &str, old: &DomainName, new: &DomainName) -> Option<String> {
    if let Some(d) = value.strip_prefix('@') {
        return d
            .eq_ignore_ascii_case(old.as_str())
            .then(|| format!("@{new}"));
    }
    let (local, domain) = value.rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case(old.as_str()) {
        return None;
    }
    // the common case without building an Address: a plain local part, which
    // Address::parse always accepts and prints as is
    let plain = !local.is_empty()
        && local.len() <= 64
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'));
    if plain {
        return Some(format!("{local}@{new}"));
    }
    let a = Address::parse(value).ok()?;
    (a.domain() == old).then(|| a.with_domain(new).to_string())
}

/// Whether a DN is plain: single-valued RDNs of letters, digits and `.@_-` (nothing to
/// unescape, no spaces), so that its text alone tells its RDNs.
pub(super) fn is_plain_dn(dn: &str) -> bool {
    !dn.is_empty()
        && dn.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'=' | b',' | b'.' | b'@' | b'_' | b'-')
        })
}

/// Parents before children, each subtree together, siblings by normalized RDN.
pub(super) fn sort_key(dn: &Dn) -> String {
    let mut k = String::new();
    for (i, r) in dn.rdns().iter().rev().enumerate() {
        if i > 0 {
            k.push('\u{1}');
        }
        k.push_str(r.normalized());
    }
    k
}

/// A DN as the planner needs it: its text (in the target), normalized form and sort key.
pub(super) struct DnFacts {
    pub(super) text: Box<str>,
    pub(super) norm: Box<str>,
    pub(super) key: Box<str>,
}

impl DnFacts {
    fn of(dn: &Dn) -> DnFacts {
        DnFacts {
            text: dn.as_str().into(),
            norm: dn.normalized().into(),
            key: sort_key(dn).into(),
        }
    }
}

/// A parent DN parsed once for all its children, and where it goes when rebased.
struct Parent {
    dn: Dn,
    key: String,
    rebased: Option<Option<(Dn, String)>>,
}

/// Parses the DNs of a directory's entries with their parents shared: siblings (an `ou=people`
/// holds a domain's accounts) cost one RDN parse each instead of a whole DN.
#[derive(Default)]
pub(super) struct DnParser {
    parents: crate::model::hash::FxMap<Box<str>, Parent>,
}

impl DnParser {
    /// The leaf RDN of a plain DN (its text and parse) and its parent, parsed once for all
    /// its children; `None` for a DN to parse whole.
    fn split<'d>(&mut self, dn: &'d str) -> Option<(&'d str, Rdn, &mut Parent)> {
        let (leaf, parent) = dn.split_once(',').filter(|_| is_plain_dn(dn))?;
        let rdn = Rdn::parse(leaf).ok()?;
        if !self.parents.contains_key(parent) {
            let pdn = Dn::parse(parent).ok()?;
            let key = sort_key(&pdn);
            self.parents.insert(
                parent.into(),
                Parent {
                    dn: pdn,
                    key,
                    rebased: None,
                },
            );
        }
        let p = self.parents.get_mut(parent)?;
        Some((leaf, rdn, p))
    }

    /// The normalized form of `dn`.
    pub(super) fn normalized(&mut self, dn: &str) -> Result<Box<str>, DitError> {
        match self.split(dn) {
            Some((_, rdn, p)) => Ok(format!("{},{}", rdn.normalized(), p.dn.normalized()).into()),
            None => Ok(parse_dn(dn)?.normalized().into()),
        }
    }

    /// The facts of `dn` as it will be in the target: rebased by `tr` when it is given.
    pub(super) fn facts(&mut self, dn: &str, tr: Option<&Transform>) -> Result<DnFacts, DitError> {
        let full = |tr: Option<&Transform>| -> Result<DnFacts, DitError> {
            let parsed = parse_dn(dn)?;
            Ok(DnFacts::of(&match tr {
                Some(t) => t.dn(parsed, true),
                None => parsed,
            }))
        };
        let Some((leaf, rdn, p)) = self.split(dn) else {
            return full(tr);
        };
        let (text, pnorm, pkey): (String, &str, &str) = match tr.filter(|t| t.renaming()) {
            None => (dn.to_string(), p.dn.normalized(), &p.key),
            Some(t) => {
                let rebased = p.rebased.get_or_insert_with(|| {
                    p.dn.rebase(&t.old_dn, &t.new_dn).map(|d| {
                        let k = sort_key(&d);
                        (d, k)
                    })
                });
                match rebased {
                    Some((d, k)) => (format!("{leaf},{}", d.as_str()), d.normalized(), k),
                    // only the domain entry itself is under the domain but its parent not
                    None => return full(tr),
                }
            }
        };
        let leaf_norm = rdn.normalized();
        Ok(DnFacts {
            text: text.into(),
            norm: format!("{leaf_norm},{pnorm}").into(),
            key: format!("{pkey}\u{1}{leaf_norm}").into(),
        })
    }
}

/// Replaces every UUID-shaped token of `v` found in `map`.
pub(super) fn replace_ids(v: &str, map: &BTreeMap<String, String>) -> Option<String> {
    let mut out = String::with_capacity(v.len());
    let mut changed = false;
    let mut rest = v;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(rest.len());
        let (tok, tail) = rest.split_at(end);
        match map.get(&lower(tok)) {
            Some(n) if tok.len() == 36 => {
                out.push_str(n);
                changed = true;
            }
            _ => out.push_str(tok),
        }
        let mut chars = tail.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    changed.then_some(out)
}

/// What an attribute is to the rewriting rules.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Renamed,
    Host,
    Transport,
    IdRef,
    MemberUrl,
    Kept,
}

/// What the move does to the values of attribute `name`.
pub(super) fn role(name: &str) -> Role {
    let is = |n: &str| name.eq_ignore_ascii_case(n);
    if RENAMED_ATTRS.iter().any(|r| is(r)) {
        Role::Renamed
    } else if is(names::MAIL_HOST) {
        Role::Host
    } else if is(names::MAIL_TRANSPORT) {
        Role::Transport
    } else if ID_REF_ATTRS.iter().any(|r| is(r)) {
        Role::IdRef
    } else if is(names::MEMBER_URL) {
        Role::MemberUrl
    } else {
        Role::Kept
    }
}

/// The rewriting of one move: old and new domain, host map, id map.
#[derive(Debug, Clone)]
pub(super) struct Transform {
    pub(super) old: DomainName,
    pub(super) new: DomainName,
    pub(super) old_dn: Dn,
    pub(super) new_dn: Dn,
    host_map: HashMap<String, String>,
    pub(super) id_map: BTreeMap<String, String>,
}

impl Transform {
    pub(super) fn new(
        old: DomainName,
        new: DomainName,
        map_hosts: &[(String, String)],
    ) -> Result<Transform, DitError> {
        let dn_of = |d: &DomainName| {
            Dn::zimbra_domain(d.as_str()).map_err(|source| DitError::Dn {
                line: 0,
                dn: d.to_string(),
                source,
            })
        };
        Ok(Transform {
            old_dn: dn_of(&old)?,
            new_dn: dn_of(&new)?,
            old,
            new,
            host_map: map_hosts
                .iter()
                .map(|(a, b)| (lower(a), b.clone()))
                .collect(),
            id_map: BTreeMap::new(),
        })
    }

    pub(super) fn renaming(&self) -> bool {
        self.old != self.new
    }

    /// The target host of mail host `h` (mapped, or `h` itself).
    pub(super) fn map_host(&self, h: &str) -> Option<String> {
        self.host_map.get(&lower(h)).cloned()
    }

    /// The new value of attribute `name`'s value `s`, `None` when it stays.
    pub(super) fn value(&self, name: &str, s: &str) -> Option<String> {
        self.value_as(role(name), s)
    }

    pub(super) fn value_as(&self, role: Role, s: &str) -> Option<String> {
        match role {
            Role::Renamed if self.renaming() => rewrite_domain(s, &self.old, &self.new),
            Role::Host => self.map_host(s),
            Role::Transport => {
                let parts: Vec<&str> = s.split(':').collect();
                match parts.as_slice() {
                    [proto, host, port] if proto.eq_ignore_ascii_case("lmtp") => {
                        self.map_host(host).map(|h| format!("{proto}:{h}:{port}"))
                    }
                    _ => None,
                }
            }
            Role::IdRef if !self.id_map.is_empty() => self.id_map.get(&lower(s)).cloned(),
            Role::MemberUrl if !self.id_map.is_empty() => replace_ids(s, &self.id_map),
            _ => None,
        }
    }

    /// The DN of a moved entry in the target: entries of the moved domain are rebased when it
    /// is renamed; alias-domain, COS and server entries keep theirs.
    pub(super) fn dn(&self, dn: Dn, in_main: bool) -> Dn {
        if self.renaming() && in_main {
            match dn.rebase(&self.old_dn, &self.new_dn) {
                Some(d) => d,
                None => dn,
            }
        } else {
            dn
        }
    }

    /// Rewrites a moved entry's attributes in place.
    pub(super) fn attrs(&self, attrs: &mut AttrBag, is_main_domain_entry: bool) {
        attrs.rewrite_values(|name, v| {
            let role = role(name);
            if role == Role::Kept {
                return None;
            }
            self.value_as(role, v.as_str()?).map(String::into_bytes)
        });
        if self.renaming() && is_main_domain_entry {
            let new = &self.new;
            attrs.set_one(names::DOMAIN_NAME, new.to_string());
            if attrs.contains("o") {
                attrs.set_one("o", format!("{new} domain"));
            }
            attrs.set_one("dc", new.labels().next().unwrap_or_default());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_urls_are_replaced() {
        let mut m = BTreeMap::new();
        m.insert(
            "11111111-1111-1111-1111-111111111111".to_string(),
            "22222222-2222-2222-2222-222222222222".to_string(),
        );
        let v =
            "ldap:///??sub?(|(zimbraMemberOf=11111111-1111-1111-1111-111111111111)(zimbraId=x))";
        assert_eq!(
            replace_ids(v, &m).as_deref(),
            Some("ldap:///??sub?(|(zimbraMemberOf=22222222-2222-2222-2222-222222222222)(zimbraId=x))")
        );
        assert_eq!(replace_ids("no ids here", &m), None);
    }

    #[test]
    fn rename_rewrites_like_rd() {
        let o: DomainName = "company.com".parse().unwrap();
        let n: DomainName = "migrate.company.com".parse().unwrap();
        assert_eq!(
            rewrite_domain("A@Company.com", &o, &n).as_deref(),
            Some("A@migrate.company.com")
        );
        assert_eq!(
            rewrite_domain("@company.com", &o, &n).as_deref(),
            Some("@migrate.company.com")
        );
        assert_eq!(rewrite_domain("a@sub.company.com", &o, &n), None);
        // the plain fast path and the parsed path agree
        for v in [
            "first.last+tag@COMPANY.com",
            "\"a b\"@company.com",
            "x@company.com.evil",
        ] {
            let parsed = Address::parse(v)
                .ok()
                .filter(|a| a.domain() == &o)
                .map(|a| a.with_domain(&n).to_string());
            assert_eq!(rewrite_domain(v, &o, &n), parsed, "{v}");
        }
    }

    #[test]
    fn values_follow_their_attribute_role() {
        let o: DomainName = "company.com".parse().unwrap();
        let n: DomainName = "migrate.company.com".parse().unwrap();
        let mut t =
            Transform::new(o, n, &[("mbx1.old.net".into(), "mbx9.new.net".into())]).unwrap();
        t.id_map.insert("aaaa".into(), "bbbb".into());
        assert_eq!(
            t.value("MAIL", "x@company.com").as_deref(),
            Some("x@migrate.company.com")
        );
        assert_eq!(
            t.value("zimbraMailHost", "MBX1.old.net").as_deref(),
            Some("mbx9.new.net")
        );
        assert_eq!(
            t.value("zimbraMailTransport", "lmtp:mbx1.old.net:7025")
                .as_deref(),
            Some("lmtp:mbx9.new.net:7025")
        );
        assert_eq!(t.value("zimbraMailTransport", "smtp:mbx1.old.net:25"), None);
        assert_eq!(
            t.value("zimbraAliasTargetId", "AAAA").as_deref(),
            Some("bbbb")
        );
        assert_eq!(t.value("description", "x@company.com"), None);
    }
}
