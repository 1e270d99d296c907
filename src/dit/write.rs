//! Typed directory → entries → LDIF.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::Write;

use super::classify::{domain_of_dn, EntryKind};
use super::DitError;
use crate::dn::Dn;
use crate::ldif::{Writer, WriterOptions};
use crate::model::{names, AttrBag, Directory, EntryRef, RawEntry};

/// How [`write_directory`] and [`write_entries`] write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// LDIF formatting.
    pub ldif: WriterOptions,
    /// Create missing parent entries as Zimbra would (`dc=` parents as `dcObject` +
    /// `organization`, `ou=people`/`cn=groups` as `organizationalRole`, `cn=zimbra`
    /// branches as `organizationalRole`), and `ou=people`/`cn=groups` under every domain,
    /// so that `slapadd` finds every parent. Entries that exist are never touched.
    pub add_missing_parents: bool,
}

impl Default for WriteOptions {
    /// A faithful dump: `version: 1`, nothing added.
    fn default() -> Self {
        WriteOptions {
            ldif: WriterOptions::default(),
            add_missing_parents: false,
        }
    }
}

impl WriteOptions {
    /// Input for `slapadd`: no `version:` line, missing parents created.
    pub fn slapadd() -> Self {
        WriteOptions {
            ldif: WriterOptions::slapadd_mode(),
            add_missing_parents: true,
        }
    }
}

/// The DN Zimbra gives an object of `kind` called `name` (an address for accounts,
/// aliases, lists and groups; a domain name; a COS or server name; ignored for the global
/// configuration). `None` for kinds without a fixed place or a malformed name.
///
/// ```
/// use zimbra_prov::dit::{default_dn, EntryKind};
/// let dn = default_dn(EntryKind::Alias, "al@example.com").unwrap();
/// assert_eq!(dn.as_str(), "uid=al,ou=people,dc=example,dc=com");
/// let g = default_dn(EntryKind::DynamicGroup, "team@example.com").unwrap();
/// assert_eq!(g.as_str(), "cn=team,cn=groups,dc=example,dc=com");
/// ```
pub fn default_dn(kind: EntryKind, name: &str) -> Option<Dn> {
    let split = || name.rsplit_once('@');
    match kind {
        EntryKind::GlobalConfig => Some(Dn::zimbra_config()),
        EntryKind::Cos => Dn::zimbra_cos(name).ok(),
        EntryKind::Server => Dn::zimbra_server(name).ok(),
        EntryKind::Domain => Dn::zimbra_domain(&name.to_ascii_lowercase()).ok(),
        EntryKind::Account
        | EntryKind::CalendarResource
        | EntryKind::Alias
        | EntryKind::DistributionList => {
            let (l, d) = split()?;
            Dn::zimbra_account(l, &d.to_ascii_lowercase()).ok()
        }
        EntryKind::DynamicGroup => {
            let (l, d) = split()?;
            Dn::zimbra_dynamic_group(l, &d.to_ascii_lowercase()).ok()
        }
        _ => None,
    }
}

pub(crate) fn default_dn_text(kind: EntryKind, name: &str) -> Option<String> {
    default_dn(kind, name).map(|d| d.as_str().to_string())
}

fn typed_refs(dir: &Directory) -> Vec<(Cow<'_, str>, &AttrBag, EntryKind)> {
    fn dn_of<'a>(over: &'a Option<String>, kind: EntryKind, name: &str) -> Cow<'a, str> {
        match over {
            Some(d) => Cow::Borrowed(d.as_str()),
            None => Cow::Owned(default_dn_text(kind, name).unwrap_or_default()),
        }
    }
    dir.entries_in_order()
        .into_iter()
        .map(|e| match e {
            EntryRef::Config(o) => (
                dn_of(&o.dn, EntryKind::GlobalConfig, ""),
                &o.attrs,
                EntryKind::GlobalConfig,
            ),
            EntryRef::Server(o) => (
                dn_of(&o.dn, EntryKind::Server, &o.name),
                &o.attrs,
                EntryKind::Server,
            ),
            EntryRef::Cos(o) => (
                dn_of(&o.dn, EntryKind::Cos, &o.name),
                &o.attrs,
                EntryKind::Cos,
            ),
            EntryRef::Domain(o) => (
                dn_of(&o.dn, EntryKind::Domain, o.name.as_str()),
                &o.attrs,
                EntryKind::Domain,
            ),
            EntryRef::Account(o) => (
                dn_of(&o.dn, EntryKind::Account, &o.name.to_string()),
                &o.attrs,
                EntryKind::Account,
            ),
            EntryRef::Alias(o) => (
                dn_of(&o.dn, EntryKind::Alias, &o.name.to_string()),
                &o.attrs,
                EntryKind::Alias,
            ),
            EntryRef::List(o) => (
                dn_of(&o.dn, EntryKind::DistributionList, &o.name.to_string()),
                &o.attrs,
                EntryKind::DistributionList,
            ),
            EntryRef::Group(o) => (
                dn_of(&o.dn, EntryKind::DynamicGroup, &o.name.to_string()),
                &o.attrs,
                EntryKind::DynamicGroup,
            ),
            EntryRef::Raw(o) => (Cow::Borrowed(o.dn.as_str()), &o.attrs, EntryKind::Other),
        })
        .collect()
}

/// Every entry of `dir` as a [`RawEntry`] (copied), in creation order
/// ([`Directory::entries_in_order`]), the order [`write_directory`] writes a faithful dump in.
pub fn entries(dir: &Directory) -> Result<Vec<RawEntry>, DitError> {
    let refs = typed_refs(dir);
    for (dn, _, _) in &refs {
        parse_dn(dn)?;
    }
    Ok(refs
        .into_iter()
        .map(|(dn, attrs, _)| RawEntry {
            dn: dn.into_owned(),
            attrs: attrs.clone(),
        })
        .collect())
}

fn parse_dn(dn: &str) -> Result<Dn, DitError> {
    Dn::parse(dn).map_err(|source| DitError::Dn {
        line: 0,
        dn: dn.to_string(),
        source,
    })
}

/// The write order of `refs` (the first `real` of them given in creation order, the rest
/// synthesized parents): each entry in its order, but with every ancestor that has not been
/// written yet written first (root first), as `slapadd` needs parents before children; a
/// synthesized `ou=people`/`cn=groups` right after its domain, where Zimbra creates them.
/// (`slapadd` itself accepts a child before its parent and then gives the parent an entry ID
/// before the child's, so this is also the entry-ID order of the loaded database.)
fn parents_first<A>(
    refs: &[(Cow<'_, str>, A, EntryKind)],
    synthesized: usize,
) -> Result<Vec<usize>, DitError> {
    let real = refs.len() - synthesized;
    let mut dns = Vec::with_capacity(refs.len());
    let mut index: HashMap<String, usize> = HashMap::with_capacity(refs.len());
    for (i, (dn, _, _)) in refs.iter().enumerate() {
        let d = parse_dn(dn)?;
        index.entry(d.normalized().to_string()).or_insert(i);
        dns.push(d);
    }
    let mut done = vec![false; refs.len()];
    let mut order = Vec::with_capacity(refs.len());
    let emit = |i: usize, done: &mut Vec<bool>, order: &mut Vec<usize>| {
        if !done[i] {
            done[i] = true;
            order.push(i);
            if refs[i].2 == EntryKind::Domain {
                for child in ["ou=people", "cn=groups"] {
                    if let Ok(r) = crate::dn::Rdn::parse(child) {
                        let c = dns[i].child(r);
                        match index.get(c.normalized()) {
                            Some(&j) if j >= real && !done[j] => {
                                done[j] = true;
                                order.push(j);
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
    };
    for i in 0..refs.len() {
        if done[i] {
            continue;
        }
        let mut ancestors = Vec::new();
        let mut p = dns[i].parent();
        while let Some(parent) = p {
            if parent.is_root() {
                break;
            }
            if let Some(&j) = index.get(parent.normalized()) {
                ancestors.push(j);
            }
            p = parent.parent();
        }
        for &j in ancestors.iter().rev() {
            emit(j, &mut done, &mut order);
        }
        emit(i, &mut done, &mut order);
    }
    Ok(order)
}

/// The entry Zimbra would create for a missing parent `dn`, if it is one Zimbra creates.
/// The entries `dn` (of `kind`) needs above or below it: a domain's `ou=people` and
/// `cn=groups` containers, and with `walk_up` its ancestors (nearest first, not the root).
pub(crate) fn wanted_parents(dn: &Dn, kind: EntryKind, walk_up: bool) -> Vec<Dn> {
    let mut wanted: Vec<Dn> = Vec::new();
    if kind == EntryKind::Domain {
        for child in ["ou=people", "cn=groups"] {
            if let Ok(r) = crate::dn::Rdn::parse(child) {
                wanted.push(dn.child(r));
            }
        }
    }
    let mut p = if walk_up { dn.parent() } else { None };
    while let Some(parent) = p {
        if parent.is_root() {
            break;
        }
        p = parent.parent();
        wanted.push(parent);
    }
    wanted
}

pub(crate) fn synthesize_parent(dn: &Dn) -> Option<AttrBag> {
    let rdn = dn.rdn()?;
    if rdn.avas().len() != 1 {
        return None;
    }
    let ava = rdn.avas().first()?;
    let ty = ava.attr_type().to_ascii_lowercase();
    let value = ava.text()?;
    let mut b = AttrBag::new();
    let in_domain = dn.parent().as_ref().and_then(domain_of_dn).is_some();
    match ty.as_str() {
        "dc" => {
            b.set(names::OBJECT_CLASS, ["dcObject", "organization"]);
            b.set_one("dc", value);
            b.set_one("o", format!("{} domain", domain_of_dn(dn)?));
        }
        "ou" if in_domain && value.eq_ignore_ascii_case("people") => {
            b.set_one(names::OBJECT_CLASS, "organizationalRole");
            b.set_one("ou", value);
            b.set_one(names::CN, value);
        }
        "cn" if in_domain && value.eq_ignore_ascii_case("groups") => {
            b.set_one(names::OBJECT_CLASS, "organizationalRole");
            b.set_one(names::CN, value);
            b.set_one("description", "dynamic groups base");
        }
        "cn" if dn.rdns().len() == 1 && value.eq_ignore_ascii_case("zimbra") => {
            b.set_one(names::OBJECT_CLASS, "organizationalRole");
            b.set_one(names::CN, value);
            b.set_one("description", "Zimbra Systems Application Data");
        }
        "cn" => {
            b.set_one(names::OBJECT_CLASS, "organizationalRole");
            b.set_one(names::CN, value);
        }
        "ou" => {
            b.set_one(names::OBJECT_CLASS, "organizationalUnit");
            b.set_one("ou", value);
        }
        "o" => {
            b.set_one(names::OBJECT_CLASS, "organization");
            b.set_one("o", value);
        }
        _ => return None,
    }
    Some(b)
}

/// Writes a typed directory as LDIF; returns the number of entries written.
///
/// Order: creation order ([`Directory::entries_in_order`]: a slapcat file's order when the
/// directory was read from one, zmprov's creation order otherwise) — the order of slapd's entry
/// IDs, which decides the order of several entries answering one Postfix lookup. A faithful dump
/// ([`WriteOptions::default`]) writes exactly that order, as `slapcat` does (a child may come
/// before its parent after a rename). For `slapadd` ([`WriteOptions::add_missing_parents`]) an
/// entry's parents that have not been written yet are written just before it, missing ones
/// created (see there), and `ou=people`/`cn=groups` right after their domain; so `slapadd` and
/// `ldapadd` find every parent, and a `slapadd` of the output gives slapd the directory's
/// entry-ID order (slapadd itself gives a parent that comes late the ID of its first child's
/// placeholder).
pub fn write_directory<W: Write>(
    dir: &Directory,
    out: W,
    opts: &WriteOptions,
) -> Result<u64, DitError> {
    let refs = typed_refs(dir);
    write_refs(refs, out, opts)
}

/// Writes entries given as (DN, attributes) in the order given (with
/// [`WriteOptions::add_missing_parents`], parents that come later are written before their
/// first child), with the same options as [`write_directory`]; returns the number of entries
/// written.
pub fn write_entries<'a, W: Write>(
    entries: impl IntoIterator<Item = (&'a str, &'a AttrBag)>,
    out: W,
    opts: &WriteOptions,
) -> Result<u64, DitError> {
    let refs = entries
        .into_iter()
        .map(|(d, a)| (Cow::Borrowed(d), a, EntryKind::Other))
        .collect();
    write_refs(refs, out, opts)
}

fn write_refs<W: Write>(
    refs: Vec<(Cow<'_, str>, &AttrBag, EntryKind)>,
    out: W,
    opts: &WriteOptions,
) -> Result<u64, DitError> {
    let mut added: Vec<(String, AttrBag)> = Vec::new();
    if opts.add_missing_parents {
        let mut have: HashSet<String> = HashSet::with_capacity(refs.len());
        let mut dns = Vec::with_capacity(refs.len());
        for (dn, _, kind) in &refs {
            let d = parse_dn(dn)?;
            have.insert(d.normalized().to_string());
            dns.push((d, *kind));
        }
        for (d, kind) in &dns {
            for w in wanted_parents(d, *kind, true) {
                if have.contains(w.normalized()) {
                    continue;
                }
                let Some(bag) = synthesize_parent(&w) else {
                    return Err(DitError::MissingParent {
                        dn: d.as_str().to_string(),
                        parent: w.as_str().to_string(),
                    });
                };
                have.insert(w.normalized().to_string());
                added.push((w.as_str().to_string(), bag));
            }
        }
    }
    let mut all: Vec<(Cow<'_, str>, &AttrBag, EntryKind)> =
        Vec::with_capacity(refs.len() + added.len());
    for (d, a, k) in refs {
        all.push((d, a, k));
    }
    all.extend(
        added
            .iter()
            .map(|(d, b)| (Cow::Borrowed(d.as_str()), b, EntryKind::Container)),
    );
    let refs = all;
    let order = if opts.add_missing_parents {
        parents_first(&refs, added.len())?
    } else {
        for (dn, _, _) in &refs {
            parse_dn(dn)?;
        }
        (0..refs.len()).collect()
    };
    let mut w = Writer::new(out, opts.ldif.clone());
    let mut n = 0u64;
    let mut lines: Vec<(&str, &[u8])> = Vec::new();
    for i in order {
        let Some((dn, attrs, _)) = refs.get(i) else {
            continue;
        };
        lines.clear();
        lines.extend(
            attrs
                .iter()
                .flat_map(|a| a.values.iter().map(move |v| (&*a.name, v.as_bytes()))),
        );
        w.write_entry_parts(dn, lines.iter().copied())?;
        n += 1;
    }
    w.flush()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_synthesized_like_zimbra() {
        let dn = Dn::parse("dc=company,dc=com").unwrap();
        let b = synthesize_parent(&dn).unwrap();
        assert_eq!(b.strs("objectClass"), ["dcObject", "organization"]);
        assert_eq!(b.first("o"), Some("company.com domain"));
        let p = Dn::parse("ou=people,dc=company,dc=com").unwrap();
        assert_eq!(synthesize_parent(&p).unwrap().first("cn"), Some("people"));
        assert!(synthesize_parent(&Dn::parse("uid=a,dc=x").unwrap()).is_none());
    }

    #[test]
    fn missing_uid_parent_is_an_error() {
        let mut b = AttrBag::new();
        b.set_one("objectClass", "zimbraIdentity");
        let mut out = Vec::new();
        let err = write_entries(
            [("cn=id,uid=a,ou=people,dc=x,dc=org", &b)],
            &mut out,
            &WriteOptions::slapadd(),
        )
        .unwrap_err();
        assert!(matches!(err, DitError::MissingParent { .. }), "{err}");
        assert!(out.is_empty());
    }

    #[test]
    fn order_is_parents_first() {
        let mut b = AttrBag::new();
        b.set_one("objectClass", "organizationalRole");
        let mut out = Vec::new();
        write_entries(
            [
                ("cn=b,cn=a", &b),
                ("cn=a", &b),
                ("cn=c,cn=b,cn=a", &b),
                ("cn=A b", &b),
            ],
            &mut out,
            &WriteOptions::slapadd(),
        )
        .unwrap();
        let dns: Vec<&str> = std::str::from_utf8(&out)
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix("dn: "))
            .collect();
        assert_eq!(dns, ["cn=a", "cn=b,cn=a", "cn=c,cn=b,cn=a", "cn=A b"]);
    }

    /// Creation order, not DN order: what slapd's entry IDs are; a faithful dump keeps a child
    /// that comes before its parent, slapadd output pulls the parent forward.
    #[test]
    fn order_is_creation_order() {
        let text = b"dn: uid=zed,ou=people,dc=x,dc=org\nobjectClass: zimbraAccount\nuid: zed\nzimbraMailDeliveryAddress: zed@x.org\n\n\
dn: dc=x,dc=org\nobjectClass: dcObject\nobjectClass: organization\nobjectClass: zimbraDomain\nzimbraDomainName: x.org\ndc: x\n\n\
dn: uid=amy,ou=people,dc=x,dc=org\nobjectClass: zimbraAccount\nuid: amy\nzimbraMailDeliveryAddress: amy@x.org\n";
        let dir = crate::dit::read_directory(&text[..]).unwrap();
        let dns = |opts: &WriteOptions| {
            let mut out = Vec::new();
            write_directory(&dir, &mut out, opts).unwrap();
            String::from_utf8(out)
                .unwrap()
                .lines()
                .filter_map(|l| l.strip_prefix("dn: ").map(str::to_string))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            dns(&WriteOptions::default()),
            [
                "uid=zed,ou=people,dc=x,dc=org",
                "dc=x,dc=org",
                "uid=amy,ou=people,dc=x,dc=org"
            ]
        );
        assert_eq!(
            dns(&WriteOptions::slapadd()),
            [
                "dc=org",
                "dc=x,dc=org",
                "ou=people,dc=x,dc=org",
                "cn=groups,dc=x,dc=org",
                "uid=zed,ou=people,dc=x,dc=org",
                "uid=amy,ou=people,dc=x,dc=org"
            ]
        );
        let names: Vec<String> = crate::dit::entries(&dir)
            .unwrap()
            .into_iter()
            .map(|e| e.dn)
            .collect();
        assert_eq!(names, dns(&WriteOptions::default()));
    }
}
