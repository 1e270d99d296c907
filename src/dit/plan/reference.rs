//! References that stay behind in the source: entries that are not moved but name a moved
//! address — forwarding addresses, list and dynamic-group members, catch-alls, canonical
//! addresses, alias entries in other domains, the global configuration's special accounts —
//! each with the zmprov lines that make the source agree with the move.
//!
//! They are found in the same pass over the source that collects the moved entries: every
//! entry outside the moved domain is looked at once, and a value is kept as a candidate only
//! when its domain may belong to the move (the moved domain, an alias domain, or a domain not
//! seen yet); the candidates are settled when the pass is over. Alias entries and internal
//! dynamic-group memberships are found from the moved side (the moved entry's
//! `zimbraMailAlias` and `zimbraMemberOf`), so the source's other aliases are never kept.

use crate::model::hash::{FxMap, FxSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::input::{first, strs, unit_group, Line, Moved};
use super::transform::{lower, rewrite_domain, Transform, ADDRESS_ATTRS};
use crate::dit::classify::{address_of_dn, EntryKind};
use crate::dit::write::default_dn_text;
use crate::dn::Dn;
use crate::model::names;
use crate::zmprov::quote_word;

/// How an entry that stays in the source names a moved recipient.
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
    strum::IntoStaticStr,
)]
#[strum(serialize_all = "kebab-case")]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ReferenceKind {
    /// `zimbraMailForwardingAddress` of an account (mail is forwarded there).
    Forwarding,
    /// `zimbraPrefMailForwardingAddress` (the user's own forwarding, a comma-separated list).
    PrefForwarding,
    /// A member of a distribution list (its `zimbraMailForwardingAddress`).
    ListMember,
    /// A member of a dynamic group: an external member (on the group's static unit) naming a
    /// moved address, or a moved account that is an internal member (`zimbraMemberOf`).
    GroupMember,
    /// An alias entry in a domain that stays, whose target (`zimbraAliasTargetId`) moves.
    Alias,
    /// `zimbraMailCatchAllAddress` naming a moved domain: the entry catches that domain's
    /// mail, which leaves with the move.
    CatchAll,
    /// `zimbraMailCatchAllForwardingAddress` forwarding a domain's mail into a moved domain.
    CatchAllForwarding,
    /// `zimbraMailCanonicalAddress` or `zimbraMailCatchAllCanonicalAddress`: outgoing
    /// addresses rewritten into a moved domain.
    Canonical,
    /// Another address attribute: new-mail notification, delegated sender, archive account,
    /// the global configuration's spam, ham and quarantine accounts.
    Other,
}

/// A reference to a moved address held by an entry that stays in the source, and how to fix
/// it.
///
/// The fix lines are zmprov commands for the **source**, to run once the move is loaded into
/// the target and before the moved entries are deleted from the source. They make the
/// reference name the address the recipient has in the target: a renamed domain's addresses
/// are rewritten, an alias in another domain becomes a list forwarding to the moved entry,
/// and a catch-all for a moved domain is removed. A reference whose address keeps its name
/// (a plain move) needs no fix: it keeps working by name once the source no longer hosts the
/// moved domain (then its mail leaves by MX). `zmprov da` of a moved account also removes it
/// from the source's lists: remove the moved domain with `ldapdelete` instead when lists
/// should keep naming it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// What kind of reference.
    pub kind: ReferenceKind,
    /// What holds it.
    pub holder_kind: EntryKind,
    /// The holder's name as zmprov knows it: an address, a domain, a COS or server name
    /// (empty for the global configuration).
    pub holder: String,
    /// The holder's DN in the source (for alias entries: where Zimbra keeps them).
    pub holder_dn: String,
    /// The attribute holding the reference.
    pub attribute: String,
    /// The moved address (or `@domain`) it names, as the source has it.
    pub address: String,
    /// That address in the target, when the move renames it.
    pub new_address: Option<String>,
    /// The zmprov lines (for the source) that fix it; empty when nothing needs to change.
    pub fix: Vec<String>,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.holder_kind)?;
        if !self.holder.is_empty() {
            write!(f, " {}", self.holder)?;
        }
        write!(f, " ({}) names {}", self.attribute, self.address)?;
        match (&self.new_address, self.fix.is_empty()) {
            (Some(n), _) => write!(f, ", renamed {n}"),
            (None, false) => Ok(()),
            (None, true) if self.attribute == MEMBER_OF => write!(
                f,
                ", same name in the target: re-add it with `zmprov adlm {} {}` once the source no longer hosts its domain",
                self.holder, self.address
            ),
            (None, true) => write!(f, ", same name in the target: nothing to change"),
        }
    }
}

const MEMBER_OF: &str = "zimbraMemberOf";

/// Attributes whose values name other recipients.
const REFERENCE_ATTRS: [(&str, ReferenceKind); 12] = [
    (names::MAIL_FORWARDING_ADDRESS, ReferenceKind::Forwarding),
    (
        names::PREF_MAIL_FORWARDING_ADDRESS,
        ReferenceKind::PrefForwarding,
    ),
    (
        names::MAIL_CATCH_ALL_FORWARDING_ADDRESS,
        ReferenceKind::CatchAllForwarding,
    ),
    (names::MAIL_CATCH_ALL_ADDRESS, ReferenceKind::CatchAll),
    (names::MAIL_CANONICAL_ADDRESS, ReferenceKind::Canonical),
    (
        names::MAIL_CATCH_ALL_CANONICAL_ADDRESS,
        ReferenceKind::Canonical,
    ),
    ("zimbraPrefNewMailNotificationAddress", ReferenceKind::Other),
    (
        "zimbraPrefAllowAddressForDelegatedSender",
        ReferenceKind::Other,
    ),
    ("zimbraArchiveAccount", ReferenceKind::Other),
    ("zimbraSpamIsSpamAccount", ReferenceKind::Other),
    ("zimbraSpamIsNotSpamAccount", ReferenceKind::Other),
    ("zimbraAmavisQuarantineAccount", ReferenceKind::Other),
];

/// A dynamic group outside the moved domain (for internal members that move).
#[derive(Debug, Clone)]
pub(super) struct GroupInfo {
    name: String,
    dn: String,
    domain: Option<String>,
}

impl GroupInfo {
    pub(super) fn new<'a>(
        dn: &Dn,
        attrs: impl Iterator<Item = Line<'a>> + Clone,
    ) -> Option<GroupInfo> {
        let name = entry_name(EntryKind::DynamicGroup, dn, |a| {
            strs(attrs.clone(), ADDRESS_ATTRS[a]).next()
        })?;
        Some(GroupInfo {
            domain: name.rsplit_once('@').map(|(_, d)| lower(d)),
            name: name.into(),
            dn: dn.as_str().to_string(),
        })
    }
}

/// The name zmprov knows an entry by: the delivery address of an account (else the
/// address its DN makes, else its first `mail`), the address of a list, group or alias
/// (from its DN, else `mail`). `addr(i)` gives the first value of [`ADDRESS_ATTRS`]`[i]`.
pub(super) fn entry_name<'a>(
    kind: EntryKind,
    dn: &Dn,
    addr: impl Fn(usize) -> Option<&'a str>,
) -> Option<Box<str>> {
    let name = match kind {
        EntryKind::Account | EntryKind::CalendarResource => addr(1)
            .map(str::to_string)
            .or_else(|| address_of_dn(dn, "uid"))
            .or_else(|| addr(0).map(str::to_string)),
        EntryKind::DistributionList | EntryKind::Alias => {
            address_of_dn(dn, "uid").or_else(|| addr(0).map(str::to_string))
        }
        EntryKind::DynamicGroup => address_of_dn(dn, "cn").or_else(|| addr(0).map(str::to_string)),
        _ => None,
    };
    name.map(Into::into)
}

/// A value of an entry outside the moved domain that may name a moved address.
pub(super) struct Candidate {
    kind: ReferenceKind,
    holder_kind: EntryKind,
    holder: Box<str>,
    holder_dn: Box<str>,
    /// The holder's domain (its DN's), to drop holders that turn out to move.
    holder_domain: Option<Box<str>>,
    attribute: &'static str,
    /// The whole value.
    value: Box<str>,
    /// The address (or `@domain`) inside it that may be moved, and its domain.
    part: Box<str>,
    part_domain: Box<str>,
}

/// The domain of an address or `@domain`, lower case.
fn domain_part(v: &str) -> Option<String> {
    let d = v.trim().rsplit_once('@')?.1;
    (!d.is_empty()).then(|| lower(d))
}

/// The candidates of one entry outside the moved domain: values of [`REFERENCE_ATTRS`] whose
/// domain `may_move`.
pub(super) fn scan<'a, I>(
    kind: EntryKind,
    dn_text: &str,
    domain: Option<&str>,
    attrs: I,
    may_move: impl Fn(&str) -> bool,
) -> Vec<Candidate>
where
    I: Iterator<Item = Line<'a>> + Clone,
{
    let mut out = Vec::new();
    let mut holder: Option<(EntryKind, String, String)> = None;
    for (d, v) in attrs.clone() {
        let Some(&(attribute, rkind)) = REFERENCE_ATTRS
            .iter()
            .find(|(a, _)| d.eq_ignore_ascii_case(a))
        else {
            continue;
        };
        let Ok(value) = std::str::from_utf8(v) else {
            continue;
        };
        let parts: Vec<&str> = if rkind == ReferenceKind::PrefForwarding {
            value.split(',').map(str::trim).collect()
        } else {
            vec![value.trim()]
        };
        for part in parts {
            let Some(pd) = domain_part(part) else {
                continue;
            };
            if !may_move(&pd) {
                continue;
            }
            if holder.is_none() {
                holder = Dn::parse(dn_text)
                    .ok()
                    .and_then(|dn| holder_of(kind, &dn, attrs.clone()));
            }
            let Some((holder_kind, name, hdn)) = &holder else {
                return out;
            };
            let kind = match (kind, rkind) {
                (EntryKind::DistributionList, ReferenceKind::Forwarding) => {
                    ReferenceKind::ListMember
                }
                (EntryKind::GroupUnit, ReferenceKind::Forwarding) => ReferenceKind::GroupMember,
                (EntryKind::GroupUnit, _) => continue,
                _ => rkind,
            };
            out.push(Candidate {
                kind,
                holder_kind: *holder_kind,
                holder: name.as_str().into(),
                holder_dn: if hdn.is_empty() {
                    dn_text.into()
                } else {
                    hdn.as_str().into()
                },
                holder_domain: domain.map(Into::into),
                attribute,
                value: value.into(),
                part: part.into(),
                part_domain: pd.into(),
            });
        }
    }
    out
}

/// What holds references in an entry of `kind`: its kind, name and DN as the report shows
/// them (a dynamic group's unit stands for its group). `None` for entries zmprov cannot
/// name.
fn holder_of<'a>(
    kind: EntryKind,
    dn: &Dn,
    attrs: impl Iterator<Item = Line<'a>> + Clone,
) -> Option<(EntryKind, String, String)> {
    let addr = |a: usize| strs(attrs.clone(), ADDRESS_ATTRS[a]).next();
    let cn = || {
        first(attrs.clone(), names::CN)
            .map(str::to_string)
            .or_else(|| {
                dn.rdn()
                    .and_then(|r| r.avas().first())
                    .and_then(|a| a.text())
                    .map(str::to_string)
            })
    };
    let name = match kind {
        EntryKind::Account
        | EntryKind::CalendarResource
        | EntryKind::DistributionList
        | EntryKind::DynamicGroup => entry_name(kind, dn, addr).map(String::from),
        EntryKind::GroupUnit => {
            let group = unit_group(dn)?;
            let gdn = dn.parent()?.as_str().to_string();
            return Some((EntryKind::DynamicGroup, group, gdn));
        }
        EntryKind::Domain => first(attrs.clone(), names::DOMAIN_NAME).map(str::to_string),
        EntryKind::Cos | EntryKind::Server => cn(),
        EntryKind::GlobalConfig => Some(String::new()),
        _ => None,
    }?;
    Some((kind, name, String::new()))
}

/// A zmprov line from its words, quoted as zmprov reads them.
fn line<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| quote_word(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The zmprov command that modifies an entry of `kind`.
fn modify_command(kind: EntryKind) -> Option<&'static str> {
    Some(match kind {
        EntryKind::Account | EntryKind::CalendarResource => "ma",
        EntryKind::Domain => "md",
        EntryKind::Cos => "mc",
        EntryKind::Server => "ms",
        EntryKind::GlobalConfig => "mcf",
        EntryKind::DistributionList | EntryKind::DynamicGroup => "mdl",
        _ => return None,
    })
}

/// `modify HOLDER attr new` for a single-valued attribute, `-attr old +attr new` for a
/// multi-valued one, `-attr old` when `new` is `None`.
fn modify_line(
    holder_kind: EntryKind,
    holder: &str,
    attr: &str,
    old: &str,
    new: Option<&str>,
) -> Option<String> {
    let cmd = modify_command(holder_kind)?;
    let mut w: Vec<String> = vec![cmd.into()];
    if holder_kind != EntryKind::GlobalConfig {
        w.push(holder.into());
    }
    let single = crate::attrs::lookup(attr).is_some_and(|d| d.is_single_valued());
    match new {
        Some(n) if single => w.extend([attr.to_string(), n.to_string()]),
        Some(n) => w.extend([format!("-{attr}"), old.into(), format!("+{attr}"), n.into()]),
        None => w.extend([format!("-{attr}"), old.into()]),
    }
    Some(line(&w))
}

/// Settles the candidates and adds the references found from the moved side. `moved` are
/// the moved entries (with `in_main` telling which are in the renamed domain),
/// `moved_domains` the moved domain and its moved alias domains (lower case).
pub(super) fn resolve<'m>(
    candidates: Vec<Candidate>,
    moved: impl Iterator<Item = (&'m Moved, bool)>,
    groups: &FxMap<String, GroupInfo>,
    moved_domains: &FxSet<String>,
    t: &Transform,
) -> Vec<Reference> {
    let renamed = |addr: &str, in_main: bool| -> Option<String> {
        (in_main && t.renaming())
            .then(|| rewrite_domain(addr, &t.old, &t.new))
            .flatten()
    };
    let mut out = Vec::new();
    for c in candidates {
        if c.holder_domain
            .as_deref()
            .is_some_and(|d| moved_domains.contains(d))
            || !moved_domains.contains(&*c.part_domain)
        {
            continue;
        }
        let in_main = *c.part_domain == *t.old.as_str();
        let new_part = renamed(&c.part, in_main);
        let holder = &*c.holder;
        let fix: Vec<String> = match (c.kind, &new_part) {
            (ReferenceKind::ListMember | ReferenceKind::GroupMember, Some(n)) => {
                vec![line(&["rdlm", holder, &c.part]), line(&["adlm", holder, n])]
            }
            (ReferenceKind::CatchAll, _) => {
                modify_line(c.holder_kind, holder, c.attribute, &c.value, None)
                    .into_iter()
                    .collect()
            }
            (ReferenceKind::PrefForwarding, Some(_)) => {
                let whole: Vec<String> = c
                    .value
                    .split(',')
                    .map(|p| match renamed(p.trim(), true) {
                        Some(n) => p.replace(p.trim(), &n),
                        None => p.to_string(),
                    })
                    .collect();
                let whole = whole.join(",");
                modify_line(c.holder_kind, holder, c.attribute, &c.value, Some(&whole))
                    .into_iter()
                    .collect()
            }
            (_, Some(n)) => {
                let new_value = c.value.replace(&*c.part, n);
                modify_line(
                    c.holder_kind,
                    holder,
                    c.attribute,
                    &c.value,
                    Some(&new_value),
                )
                .into_iter()
                .collect()
            }
            (_, None) => Vec::new(),
        };
        out.push(Reference {
            kind: c.kind,
            holder_kind: c.holder_kind,
            holder: c.holder.into(),
            holder_dn: c.holder_dn.into(),
            attribute: c.attribute.to_string(),
            address: c.part.into(),
            new_address: new_part,
            fix,
        });
    }
    // From the moved side: aliases elsewhere, internal memberships of staying groups.
    for (m, in_main) in moved {
        let interesting = m.member_of.iter().any(|id| groups.contains_key(&lower(id)))
            || m.addresses(2)
                .any(|a| domain_part(a).is_some_and(|d| !moved_domains.contains(&d)));
        if !interesting {
            continue;
        }
        let Some(name) = m.name() else {
            continue;
        };
        let name = &*name;
        let is_list = matches!(
            m.kind,
            EntryKind::DistributionList | EntryKind::DynamicGroup
        );
        if !is_list && !matches!(m.kind, EntryKind::Account | EntryKind::CalendarResource) {
            continue;
        }
        let new_name = renamed(name, in_main);
        let now = new_name.as_deref().unwrap_or(name);
        let mut seen = FxSet::default();
        for alias in m.addresses(2) {
            let stays = domain_part(alias).is_some_and(|d| !moved_domains.contains(&d));
            if !stays || !seen.insert(lower(alias)) {
                continue;
            }
            let remove = if is_list { "rdla" } else { "raa" };
            out.push(Reference {
                kind: ReferenceKind::Alias,
                holder_kind: EntryKind::Alias,
                holder: alias.to_string(),
                holder_dn: default_dn_text(EntryKind::Alias, alias).unwrap_or_default(),
                attribute: names::ALIAS_TARGET_ID.to_string(),
                address: name.to_string(),
                new_address: new_name.clone(),
                fix: vec![
                    line(&[remove, name, alias]),
                    line(&["cdl", alias]),
                    line(&["adlm", alias, now]),
                ],
            });
        }
        for id in &m.member_of {
            let Some(g) = groups.get(&lower(id)) else {
                continue;
            };
            if g.domain
                .as_deref()
                .is_some_and(|d| moved_domains.contains(d))
            {
                continue;
            }
            out.push(Reference {
                kind: ReferenceKind::GroupMember,
                holder_kind: EntryKind::DynamicGroup,
                holder: g.name.clone(),
                holder_dn: g.dn.clone(),
                attribute: MEMBER_OF.to_string(),
                address: name.to_string(),
                new_address: new_name.clone(),
                fix: match &new_name {
                    Some(n) => vec![line(&["rdlm", &g.name, name]), line(&["adlm", &g.name, n])],
                    None => Vec::new(),
                },
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modify_lines_follow_cardinality() {
        assert_eq!(
            modify_line(EntryKind::Account, "a@x.org", "zimbraMailForwardingAddress", "b@c.com", Some("b@m.c.com")).unwrap(),
            "ma a@x.org -zimbraMailForwardingAddress b@c.com +zimbraMailForwardingAddress b@m.c.com"
        );
        assert_eq!(
            modify_line(
                EntryKind::Domain,
                "x.org",
                "zimbraMailCatchAllForwardingAddress",
                "@c.com",
                Some("@m.c.com")
            )
            .unwrap(),
            "md x.org zimbraMailCatchAllForwardingAddress @m.c.com"
        );
        assert_eq!(
            modify_line(
                EntryKind::GlobalConfig,
                "",
                "zimbraSpamIsSpamAccount",
                "s@c.com",
                Some("s@m.c.com")
            )
            .unwrap(),
            "mcf zimbraSpamIsSpamAccount s@m.c.com"
        );
        assert_eq!(
            modify_line(
                EntryKind::Account,
                "a@x.org",
                "zimbraPrefMailForwardingAddress",
                "b@c.com, d@e.org",
                Some("b@m.c.com, d@e.org")
            )
            .unwrap(),
            "ma a@x.org zimbraPrefMailForwardingAddress 'b@m.c.com, d@e.org'"
        );
        assert_eq!(modify_line(EntryKind::Other, "x", "a", "b", None), None);
    }

    #[test]
    fn domains_of_values() {
        assert_eq!(
            domain_part(" Bob@Company.COM ").as_deref(),
            Some("company.com")
        );
        assert_eq!(domain_part("@company.com").as_deref(), Some("company.com"));
        assert_eq!(domain_part("nobody"), None);
        assert_eq!(domain_part("x@"), None);
    }
}
