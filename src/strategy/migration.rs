//! Directories shaped like the ones admins bring to a migration (see
//! [`DirectorySpec::with_migration_shapes`]): on top of what zmprov builds, hand edits of the
//! kind an LDIF from another system or an admin's typing leaves behind, and a slapcat order
//! that is neither DN order nor zmprov's creation order.
//!
//! - the sub-domain migration's `migrate.DOMAIN` tree (catch-all canonical back to `@DOMAIN`),
//!   holding a second copy of an account (the same address twice, another transport) and
//!   accounts sharing an address with one of the main tree;
//! - transports typed by hand: odd case (`SMTP:`, `Lmtp:`), a leading or trailing space,
//!   Zimbra's own services (`smtp-amavis`, `relay`, `scan`, `discard`, `uucp`), services that do
//!   not exist, `error:` and `retry:` with statuses of every class;
//! - odd addresses: a quoted alias, a local part longer than 64 characters, a local part
//!   starting with `-`, forwards to `"doe, john"@host`, `Name <x@host>`, a bang path and a
//!   `-` address; a punycode domain, whose UTF-8 form is routed as another domain.

use proptest::prelude::*;

use super::directory::{pick, DirectorySpec};
use crate::dit;
use crate::dn::Dn;
use crate::model::{names as n, AttrBag, Directory, RawEntry};

/// Punycode domains the generator creates and their UTF-8 forms (which Zimbra does not map).
pub(super) const IDN: &[(&str, &str)] = &[
    ("xn--bcher-kva.test", "bücher.test"),
    ("xn--mnchen-3ya.test", "münchen.test"),
    ("xn--caf-dma.test", "café.test"),
];

/// Transport values as admins type them (`{host}` is a foreign host, `{mbx}` a mailbox server),
/// in four groups drawn equally often: names off by case or white space; Zimbra's own and
/// unknown master.cf services; `error:`/`retry:` with statuses of every class; the rest.
const HAND_TRANSPORTS: [&[&str]; 4] = [
    &[
        "SMTP:{host}",
        "Lmtp:{mbx}:7025",
        "LMTP:{mbx}:7025",
        " smtp:{host}",
        "smtp :{host}",
        "smtp:{host} ",
        "lmtp:{mbx}:7025 ",
    ],
    &[
        "smtp-amavis:[127.0.0.1]:10032",
        "smtp-amavis:[127.0.0.1]:10024",
        "relay:[{host}]:587",
        "scan:[127.0.0.1]:10030",
        "scan:[{host}]:25",
        "discard:dropped during the migration",
        "uucp:{host}",
        "maildrop:{host}",
        "bsmtp:{host}",
        "cyrus:{host}",
        "old-cyrus:{host}",
        "ifmail:{host}",
        "virtual:{host}",
        "local:{host}",
        "smtp-amavi:[127.0.0.1]:10032",
        "exchange:{host}",
    ],
    &[
        "error:4.2.2 mailbox over quota",
        "error:2.0.0 delivered elsewhere",
        "error:5.1.6 mailbox has moved",
        "retry:5.1.1 migration in progress",
        "retry:2.0.0 try later",
        "retry:4.4.1 cut-over tonight",
        "error:5.7.1",
        "retry:4.2.0",
    ],
    &[
        ":{host}",
        "smtp:",
        "error:mailbox closed",
        "error:",
        "retry:",
    ],
];

/// Forwarding values Postfix parses as RFC 822 address lists.
const ODD_FORWARDS: &[(&str, &str)] = &[
    (n::MAIL_FORWARDING_ADDRESS, "\"doe, john\"@{host}"),
    (
        n::PREF_MAIL_FORWARDING_ADDRESS,
        "\"doe, jane\"@{host}, Old Name <old@{host}>",
    ),
    (n::MAIL_FORWARDING_ADDRESS, "{host}!{local}"),
    (n::MAIL_FORWARDING_ADDRESS, "-archive@{host}"),
    (n::PREF_MAIL_FORWARDING_ADDRESS, "\"last, first\"@{host}"),
];

/// One hand edit of a migrated directory.
#[derive(Debug, Clone)]
pub(super) enum Shape {
    /// The same account twice: a copy in the `migrate.` tree with another transport.
    Twin { account: usize, host: usize },
    /// An account of the `migrate.` tree holding an address of an account of the main tree as
    /// its alias.
    SharedAlias { account: usize, local: usize },
    /// A transport typed by hand.
    Transport { account: usize, value: usize },
    /// A forward Postfix parses as an address list.
    Forward {
        account: usize,
        value: usize,
        host: usize,
    },
    /// An account with an odd address (quoted alias, long local part, leading `-`).
    Odd {
        kind: usize,
        local: usize,
        domain: usize,
    },
    /// A punycode domain with an account.
    Idn { which: usize, local: usize },
}

pub(super) fn shape() -> impl Strategy<Value = Shape> {
    let ix = || 0usize..64;
    prop_oneof![
        3 => (ix(), ix()).prop_map(|(account, host)| Shape::Twin { account, host }),
        3 => (ix(), ix()).prop_map(|(account, local)| Shape::SharedAlias { account, local }),
        8 => (ix(), ix()).prop_map(|(account, value)| Shape::Transport { account, value }),
        3 => (ix(), ix(), ix()).prop_map(|(account, value, host)| Shape::Forward { account, value, host }),
        2 => (ix(), ix(), ix()).prop_map(|(kind, local, domain)| Shape::Odd { kind, local, domain }),
        1 => (ix(), ix()).prop_map(|(which, local)| Shape::Idn { which, local }),
    ]
}

/// The `migrate.` sub-domain of `domain`.
fn migrate_of(domain: &str) -> String {
    format!("migrate.{domain}")
}

/// An account entry (as an LDIF from another system holds it) for `address`.
fn person(dir: &mut Directory, address: &str, uid: &str, extra: &[(&str, String)]) -> RawEntry {
    let mut b = AttrBag::new();
    b.set(n::OBJECT_CLASS, ["inetOrgPerson", "zimbraAccount"]);
    b.set_one(n::UID, uid);
    b.set_one(n::CN, uid);
    b.set_one(n::SN, uid);
    b.set_one(n::ZIMBRA_ID, dir.ids.next_id().to_string());
    b.set_one(n::ACCOUNT_STATUS, "active");
    b.set_one(n::MAIL_STATUS, "enabled");
    b.set_one(n::MAIL_DELIVERY_ADDRESS, address);
    for (a, v) in extra {
        b.add(a, v.as_str());
    }
    RawEntry {
        dn: String::new(),
        attrs: b,
    }
}

/// Adds an account entry for `address` at `uid`'s DN under `ou=people` of `domain`, unless an
/// untyped entry has that DN already; whether it did.
fn add_person(
    dir: &mut Directory,
    domain: &str,
    address: &str,
    uid: &str,
    extra: &[(&str, String)],
) -> bool {
    let Some(dn) = people_dn(uid, domain) else {
        return false;
    };
    if dir
        .other_entries
        .iter()
        .any(|e| e.dn.eq_ignore_ascii_case(&dn))
    {
        return false;
    }
    let mut e = person(dir, address, uid, extra);
    e.dn = dn;
    dir.push_raw(e);
    true
}

/// The DN of `uid` under `ou=people` of `domain`.
fn people_dn(uid: &str, domain: &str) -> Option<String> {
    Dn::zimbra_account(uid, domain)
        .ok()
        .map(|d| d.as_str().to_string())
}

/// Applies the shapes to `dir` (built by zmprov from `spec`); returns comment lines describing
/// the edits (for the script).
pub(super) fn apply(spec: &DirectorySpec, dir: &mut Directory, shapes: &[Shape]) -> Vec<String> {
    let mut notes = Vec::new();
    let Some(main) = spec.domains.first().cloned() else {
        return notes;
    };
    let migrate = migrate_of(&main);
    // the sub-domain migration's tree, as the runbook creates it
    let tree = format!(
        "cd {migrate} zimbraMailCatchAllAddress @{migrate} zimbraMailCatchAllCanonicalAddress @{main}"
    );
    if dir.domain(&migrate).is_none() && crate::zmprov::run(dir, &tree).is_ok() {
        notes.push(tree);
    }
    let accounts: Vec<String> = dir
        .accounts()
        .filter(|a| spec.domains.iter().any(|d| d == a.name.domain().as_str()))
        .map(|a| a.name.to_string())
        .collect();
    // hand edits that only show when Postfix sees the account go to mail-enabled ones
    let enabled: Vec<String> = accounts
        .iter()
        .filter(|a| {
            dir.account(a)
                .is_some_and(|x| x.attrs.has_value_ci(n::MAIL_STATUS, "enabled"))
        })
        .cloned()
        .collect();
    // accounts already given a hand-typed transport (a second one would only overwrite it)
    let mut typed: Vec<String> = Vec::new();
    for s in shapes {
        match s {
            Shape::Twin { account, host } => {
                let (Some(name), Some(h)) =
                    (pick(&accounts, *account), pick(&spec.foreign_hosts, *host))
                else {
                    continue;
                };
                let Some((local, _)) = name.split_once('@') else {
                    continue;
                };
                let extra = [
                    (n::MAIL_ALIAS, format!("{local}@{migrate}")),
                    (n::MAIL_TRANSPORT, format!("smtp:{h}:25")),
                ];
                if add_person(dir, &migrate, &name, local, &extra) {
                    notes.push(format!(
                        "# migration: {name} again in {migrate}, transport smtp:{h}:25"
                    ));
                }
            }
            Shape::SharedAlias { account, local } => {
                let (Some(name), Some(l)) =
                    (pick(&accounts, *account), pick(&spec.local_parts, *local))
                else {
                    continue;
                };
                let shared = dir
                    .account(&name)
                    .and_then(|a| a.attrs.first(n::MAIL_ALIAS).map(str::to_string))
                    .unwrap_or_else(|| name.clone());
                let uid = format!("{l}-old");
                let host = pick(&spec.foreign_hosts, *local).unwrap_or_default();
                let extra = [
                    (n::MAIL_ALIAS, shared.clone()),
                    (n::MAIL_TRANSPORT, format!("smtp:{host}:25")),
                ];
                if add_person(dir, &migrate, &format!("{uid}@{migrate}"), &uid, &extra) {
                    notes.push(format!(
                        "# migration: {uid}@{migrate} also answers {shared}"
                    ));
                }
            }
            Shape::Transport { account, value } => {
                let group = HAND_TRANSPORTS[*value % HAND_TRANSPORTS.len()];
                let free: Vec<String> = enabled
                    .iter()
                    .filter(|a| !typed.contains(a))
                    .cloned()
                    .collect();
                let (Some(name), Some(v)) = (
                    pick(&free, *account),
                    pick(group, *value / HAND_TRANSPORTS.len()),
                ) else {
                    continue;
                };
                typed.push(name.clone());
                let v = v
                    .replace(
                        "{host}",
                        &pick(&spec.foreign_hosts, *value).unwrap_or_default(),
                    )
                    .replace("{mbx}", &pick(&spec.servers, *value).unwrap_or_default());
                if let Some(a) = dir.account_mut(&name) {
                    a.attrs.set_one(n::MAIL_TRANSPORT, v.as_str());
                    notes.push(format!("# migration: {name} zimbraMailTransport {v:?}"));
                }
            }
            Shape::Forward {
                account,
                value,
                host,
            } => {
                let (Some(name), Some((attr, v)), Some(h)) = (
                    pick(&enabled, *account),
                    pick(ODD_FORWARDS, *value),
                    pick(&spec.foreign_hosts, *host),
                ) else {
                    continue;
                };
                let local = pick(&spec.local_parts, *host).unwrap_or_default();
                let v = v.replace("{host}", &h).replace("{local}", &local);
                if let Some(a) = dir.account_mut(&name) {
                    if attr == n::PREF_MAIL_FORWARDING_ADDRESS {
                        // single-valued: a comma-separated list
                        let v = match a.attrs.first(attr) {
                            Some(old) => format!("{old}, {v}"),
                            None => v.clone(),
                        };
                        a.attrs.set_one(attr, v.as_str());
                    } else {
                        a.attrs.add(attr, v.as_str());
                    }
                    notes.push(format!("# migration: {name} {attr} {v:?}"));
                }
            }
            Shape::Odd {
                kind,
                local,
                domain,
            } => {
                let (Some(l), Some(d)) = (
                    pick(&spec.local_parts, *local),
                    pick(&spec.domains, *domain),
                ) else {
                    continue;
                };
                let server = pick(&spec.servers, *local).unwrap_or_default();
                let transport = (n::MAIL_TRANSPORT, format!("lmtp:{server}:7025"));
                match kind % 3 {
                    // a quoted alias on an existing account
                    0 => {
                        let Some(name) = pick(&accounts, *local) else {
                            continue;
                        };
                        let alias = format!("\"{l} {l}\"@{d}");
                        if let Some(a) = dir.account_mut(&name) {
                            a.attrs.add(n::MAIL_ALIAS, alias.as_str());
                            notes.push(format!("# migration: {name} zimbraMailAlias {alias}"));
                        }
                    }
                    // a local part longer than 64 characters, and one starting with `-`
                    k => {
                        let local = if k == 1 {
                            format!("{l}.{}", "x".repeat(64))
                        } else {
                            format!("-{l}")
                        };
                        let address = format!("{local}@{d}");
                        if dir.account(&address).is_none()
                            && add_person(dir, &d, &address, &local, &[transport])
                        {
                            notes.push(format!("# migration: account {address}"));
                        }
                    }
                }
            }
            Shape::Idn { which, local } => {
                let (Some((ace, _)), Some(l)) =
                    (pick(IDN, *which), pick(&spec.local_parts, *local))
                else {
                    continue;
                };
                let server = pick(&spec.servers, *local).unwrap_or_default();
                let mut lines = Vec::new();
                if dir.domain(ace).is_none() {
                    lines.push(format!("cd {ace}"));
                }
                lines.push(format!("ca {l}@{ace} pw zimbraMailHost {server}"));
                for line in lines {
                    if crate::zmprov::run(dir, &line).is_ok() {
                        notes.push(line);
                    }
                }
            }
        }
    }
    notes
}

/// The entries of `dir` in a random order that keeps every parent before its children (a
/// slapcat of a directory whose entries were created in another order than zmprov's), as
/// LDIF; `keys` are random priorities (used cyclically).
pub(super) fn slapcat(dir: &Directory, keys: &[u32]) -> Result<String, dit::DitError> {
    let entries = dit::entries(dir)?;
    let norm: Vec<Option<String>> = entries
        .iter()
        .map(|e| Dn::parse(&e.dn).ok().map(|d| d.normalized().to_string()))
        .collect();
    let parent: Vec<Option<usize>> = entries
        .iter()
        .map(|e| {
            let p = Dn::parse(&e.dn).ok()?.parent()?;
            let p = p.normalized().to_string();
            norm.iter().position(|x| x.as_deref() == Some(p.as_str()))
        })
        .collect();
    let key = |i: usize| keys.get(i % keys.len().max(1)).copied().unwrap_or(0);
    let mut done = vec![false; entries.len()];
    let mut order = Vec::with_capacity(entries.len());
    while order.len() < entries.len() {
        let Some(next) = (0..entries.len())
            .filter(|&i| !done[i] && parent[i].is_none_or(|p| done[p]))
            .min_by_key(|&i| (key(i), i))
        else {
            break;
        };
        done[next] = true;
        order.push(next);
    }
    let mut out = Vec::new();
    dit::write_entries(
        order
            .iter()
            .map(|&i| (entries[i].dn.as_str(), &entries[i].attrs)),
        &mut out,
        &dit::WriteOptions::slapadd(),
    )?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}
