//! Steps and their actions: what runs on which system, how it changes the modelled state, and
//! how each applied action is undone (its rollback, derived from the state before it).

use std::collections::{BTreeMap, BTreeSet};

use super::world::{MtaDef, MtaDefKind, World};
use crate::model::Directory;
use crate::route::{ForeignMta, UnknownPolicy};
use crate::zmprov::{self, Command};

/// The global steps a spec may order (`[order] steps`).
pub(crate) const GLOBAL_STEPS: &[&str] = &[
    "prepare-head",
    "prepare-target",
    "configure-source",
    "export",
    "load",
    "replica",
    "mx-switch",
    "batches",
    "follow-ups",
    "unset",
];

/// The steps of a batch a spec may order (`[order] batch`).
pub(crate) const BATCH_STEPS: &[&str] = &[
    "create",
    "maintenance",
    "switch",
    "retire-source",
    "copy",
    "activate",
];

/// A change to a foreign MTA's tables, relative to whatever they hold when it is applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ForeignEdit {
    pub add_domains: Vec<String>,
    pub remove_domains: Vec<String>,
    pub remove_mailboxes: Vec<String>,
    pub set_routes: Vec<(String, String)>,
    pub remove_routes: Vec<String>,
    pub set_aliases: Vec<(String, String)>,
    pub remove_aliases: Vec<String>,
    pub unknown: Option<UnknownPolicy>,
    pub unknown_relay: Option<Option<String>>,
    pub relayhost: Option<Option<String>>,
}

impl ForeignEdit {
    fn apply(&self, f: &ForeignMta) -> ForeignMta {
        let mut n = f.clone();
        let has = |v: &[String], x: &str| v.iter().any(|y| y.eq_ignore_ascii_case(x));
        for d in &self.add_domains {
            if !has(&n.domains, d) {
                n.domains.push(d.clone());
            }
        }
        n.domains.retain(|d| !has(&self.remove_domains, d));
        n.mailboxes.retain(|m| !has(&self.remove_mailboxes, m));
        n.routes.retain(|k, _| !has(&self.remove_routes, k));
        for (k, v) in &self.set_routes {
            n.routes.retain(|x, _| !x.eq_ignore_ascii_case(k));
            n.routes.insert(k.clone(), v.clone());
        }
        n.aliases.retain(|k, _| !has(&self.remove_aliases, k));
        for (k, v) in &self.set_aliases {
            n.aliases.retain(|x, _| !x.eq_ignore_ascii_case(k));
            n.aliases.insert(k.clone(), v.clone());
        }
        if let Some(u) = self.unknown {
            n.unknown = u;
        }
        if let Some(r) = &self.unknown_relay {
            n.unknown_relay = r.clone();
        }
        if let Some(r) = &self.relayhost {
            n.relayhost = r.clone();
        }
        n
    }
}

/// What a step does on one system. Actions are relative: they are resolved against the state
/// they are applied to (see [`Applied`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// zmprov lines on a Zimbra directory, run on `host` as the zimbra user.
    Zmprov {
        directory: String,
        host: String,
        lines: Vec<String>,
    },
    /// A foreign MTA's tables change; `words` says what to do there.
    Foreign {
        mta: String,
        edit: ForeignEdit,
        words: Vec<String>,
    },
    /// MX records replaced (an empty list removes them).
    Mx {
        domain: String,
        records: Vec<(u16, String)>,
    },
    /// An MTA reads another directory from now on (a replica of the other LDAP, or the
    /// target after a load); `load` registers that directory first.
    UseDirectory {
        mta: String,
        directory: String,
        load: Option<Box<Directory>>,
    },
    /// After a restore that rewrites accounts' LDAP entries: set the routing attributes of
    /// these accounts back to what the runbook verified (a no-op in the model).
    Reassert {
        directory: String,
        host: String,
        accounts: Vec<String>,
    },
    /// Commands that move data or files and do not change routing.
    Shell {
        system: String,
        host: String,
        user: String,
        lines: Vec<String>,
    },
    /// Work done by hand, in words (no routing change).
    Manual { system: String, words: Vec<String> },
}

/// An action resolved against a state: what exactly runs, and what undoes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Applied {
    Zmprov {
        directory: String,
        host: String,
        lines: Vec<String>,
    },
    Foreign {
        mta: String,
        hostname: String,
        before: Box<ForeignMta>,
        after: Box<ForeignMta>,
        words: Vec<String>,
    },
    Mx {
        domain: String,
        before: Vec<(u16, String)>,
        after: Vec<(u16, String)>,
    },
    UseDirectory {
        mta: String,
        hostname: String,
        before: String,
        after: String,
        loaded: Option<Box<Directory>>,
    },
    Shell {
        system: String,
        host: String,
        user: String,
        lines: Vec<String>,
    },
    Manual {
        system: String,
        words: Vec<String>,
    },
}

impl Applied {
    /// Whether it changes the modelled state.
    pub fn changes_routing(&self) -> bool {
        !matches!(self, Applied::Shell { .. } | Applied::Manual { .. })
    }

    /// The system it runs on (an MTA name, a host, or `dns`).
    pub fn system(&self) -> String {
        match self {
            Applied::Zmprov { host, .. } => host.clone(),
            Applied::Foreign { mta, .. } | Applied::UseDirectory { mta, .. } => mta.clone(),
            Applied::Mx { .. } => "dns".into(),
            Applied::Shell { system, .. } | Applied::Manual { system, .. } => system.clone(),
        }
    }
}

/// Apply `action` to `world`: the resolved action and its rollback, or why it cannot run.
pub(crate) fn apply(world: &mut World, action: &Action) -> Result<(Applied, Vec<Applied>), String> {
    match action {
        Action::Zmprov {
            directory,
            host,
            lines,
        } => {
            let dir = world
                .dir_mut(directory)
                .ok_or_else(|| format!("no directory {directory:?}"))?;
            let before = dir.clone();
            let script = lines.join("\n");
            zmprov::run(dir, &script).map_err(|e| {
                let line = lines
                    .get(e.line().saturating_sub(1))
                    .cloned()
                    .unwrap_or_default();
                format!("zmprov {line}: {}", e.zmprov_message())
            })?;
            let undo = rollback_zmprov(&before, dir, lines)?;
            sync_overrides(world, directory, &before);
            let fwd = Applied::Zmprov {
                directory: directory.clone(),
                host: host.clone(),
                lines: lines.clone(),
            };
            let back = if undo.is_empty() {
                Vec::new()
            } else {
                vec![Applied::Zmprov {
                    directory: directory.clone(),
                    host: host.clone(),
                    lines: undo,
                }]
            };
            Ok((fwd, back))
        }
        Action::Foreign { mta, edit, words } => {
            let m = world
                .mta_mut(mta)
                .ok_or_else(|| format!("no MTA {mta:?}"))?;
            let hostname = m.hostname.clone();
            let MtaDefKind::Foreign(f) = &mut m.kind else {
                return Err(format!("{mta} is not a foreign MTA"));
            };
            let before = f.clone();
            let after = edit.apply(f);
            *f = after.clone();
            let undo_words = vec![format!(
                "Undo the change on {mta}: its tables as they were before this step."
            )];
            Ok((
                Applied::Foreign {
                    mta: mta.clone(),
                    hostname: hostname.clone(),
                    before: Box::new(before.clone()),
                    after: Box::new(after.clone()),
                    words: words.clone(),
                },
                vec![Applied::Foreign {
                    mta: mta.clone(),
                    hostname,
                    before: Box::new(after),
                    after: Box::new(before),
                    words: undo_words,
                }],
            ))
        }
        Action::Mx { domain, records } => {
            let before = world.dns.mx_of(domain).unwrap_or_default();
            let key = domain.to_ascii_lowercase();
            if records.is_empty() {
                world.dns.mx.remove(&key);
            } else {
                world.dns.mx.insert(key, records.clone());
            }
            Ok((
                Applied::Mx {
                    domain: domain.clone(),
                    before: before.clone(),
                    after: records.clone(),
                },
                vec![Applied::Mx {
                    domain: domain.clone(),
                    before: records.clone(),
                    after: before,
                }],
            ))
        }
        Action::UseDirectory {
            mta,
            directory,
            load,
        } => {
            if let Some(d) = load {
                if world.dirs.contains_key(directory) {
                    return Err(format!("directory {directory:?} exists already"));
                }
                world.insert_dir(directory.clone(), (**d).clone());
            } else if !world.dirs.contains_key(directory) {
                return Err(format!("no directory {directory:?}"));
            }
            let m = world
                .mta_mut(mta)
                .ok_or_else(|| format!("no MTA {mta:?}"))?;
            let hostname = m.hostname.clone();
            let MtaDefKind::Zimbra { directory: d, .. } = &mut m.kind else {
                return Err(format!("{mta} is not a Zimbra MTA"));
            };
            let before = std::mem::replace(d, directory.clone());
            Ok((
                Applied::UseDirectory {
                    mta: mta.clone(),
                    hostname: hostname.clone(),
                    before: before.clone(),
                    after: directory.clone(),
                    loaded: load.clone(),
                },
                vec![Applied::UseDirectory {
                    mta: mta.clone(),
                    hostname,
                    before: directory.clone(),
                    after: before,
                    loaded: None,
                }],
            ))
        }
        Action::Reassert {
            directory,
            host,
            accounts,
        } => {
            let dir = world
                .dir(directory)
                .ok_or_else(|| format!("no directory {directory:?}"))?;
            let mut lines = Vec::new();
            for a in accounts {
                let acct = dir
                    .account(a)
                    .ok_or_else(|| format!("no account {a} in {directory}"))?;
                let mut w: Vec<String> = vec!["ma".into(), a.clone()];
                for attr in ["zimbraMailTransport", "zimbraAccountStatus"] {
                    if let Some(v) = acct.attrs.first(attr) {
                        w.push(attr.into());
                        w.push(v.to_string());
                    }
                }
                if w.len() > 2 {
                    let w: Vec<&str> = w.iter().map(String::as_str).collect();
                    lines.push(zline(&w));
                }
            }
            if lines.is_empty() {
                return Ok((
                    Applied::Manual {
                        system: host.clone(),
                        words: vec!["nothing to re-apply".into()],
                    },
                    Vec::new(),
                ));
            }
            apply(
                world,
                &Action::Zmprov {
                    directory: directory.clone(),
                    host: host.clone(),
                    lines,
                },
            )
        }
        Action::Shell {
            system,
            host,
            user,
            lines,
        } => Ok((
            Applied::Shell {
                system: system.clone(),
                host: host.clone(),
                user: user.clone(),
                lines: lines.clone(),
            },
            Vec::new(),
        )),
        Action::Manual { system, words } => Ok((
            Applied::Manual {
                system: system.clone(),
                words: words.clone(),
            },
            Vec::new(),
        )),
    }
}

/// Apply an already resolved action (a rollback) to a world.
pub(crate) fn apply_resolved(world: &mut World, a: &Applied) -> Result<(), String> {
    match a {
        Applied::Zmprov {
            directory, lines, ..
        } => {
            let dir = world
                .dir_mut(directory)
                .ok_or_else(|| format!("no directory {directory:?}"))?;
            let before = dir.clone();
            zmprov::run(dir, &lines.join("\n")).map_err(|e| e.to_string())?;
            sync_overrides(world, directory, &before);
            Ok(())
        }
        Applied::Foreign { mta, after, .. } => match world.mta_mut(mta).map(|m| &mut m.kind) {
            Some(MtaDefKind::Foreign(f)) => {
                *f = (**after).clone();
                Ok(())
            }
            _ => Err(format!("no foreign MTA {mta:?}")),
        },
        Applied::Mx { domain, after, .. } => {
            let key = domain.to_ascii_lowercase();
            if after.is_empty() {
                world.dns.mx.remove(&key);
            } else {
                world.dns.mx.insert(key, after.clone());
            }
            Ok(())
        }
        Applied::UseDirectory { mta, after, .. } => match world.mta_mut(mta).map(|m| &mut m.kind) {
            Some(MtaDefKind::Zimbra { directory, .. }) => {
                *directory = after.clone();
                Ok(())
            }
            _ => Err(format!("no Zimbra MTA {mta:?}")),
        },
        Applied::Shell { .. } | Applied::Manual { .. } => Ok(()),
    }
}

/// Zimbra MTAs reading `directory` whose scenario overrides `relayhost`/`dns_lookups` follow a
/// change zmprov made to those parameters (the override would otherwise hide it).
fn sync_overrides(world: &mut World, directory: &str, before: &Directory) {
    let overridden = world.mtas.iter().any(|m| {
        matches!(&m.kind, MtaDefKind::Zimbra { directory: d, overrides } if d == directory
            && (overrides.relayhost.is_some() || overrides.dns_lookups.is_some()))
    });
    if !overridden {
        return;
    }
    let Some(after) = world.dir(directory).cloned() else {
        return;
    };
    for m in &mut world.mtas {
        let MtaDef {
            hostname,
            kind:
                MtaDefKind::Zimbra {
                    directory: d,
                    overrides,
                },
            ..
        } = m
        else {
            continue;
        };
        if d != directory {
            continue;
        }
        let pb = crate::route::ZimbraParams::from_directory(before, hostname);
        let pa = crate::route::ZimbraParams::from_directory(&after, hostname);
        if overrides.relayhost.is_some() && pb.relayhost != pa.relayhost {
            overrides.relayhost = Some(pa.relayhost.clone().unwrap_or_default());
        }
        if overrides.dns_lookups.is_some() && pb.dns_lookups != pa.dns_lookups {
            overrides.dns_lookups = Some(pa.dns_lookups);
        }
    }
}

// ---------------------------------------------------------------------------------------
// zmprov lines and their inverse

/// A zmprov line from its words, each quoted as zmprov (and a POSIX shell) reads it back.
pub(crate) fn zline(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| zmprov::quote_word(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Attributes zmprov rewrites on every change (never restored, never compared).
const VOLATILE: &[&str] = &[
    "zimbracreatetimestamp",
    "zimbrapasswordmodifiedtime",
    "zimbrapasswordlockoutfailuretime",
    "zimbrapasswordlockoutlockedtime",
    "modifytimestamp",
    "createtimestamp",
];

/// The kind of object a modify command names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Obj {
    Account,
    Domain,
    Server,
    Config,
}

fn bag<'a>(dir: &'a Directory, kind: Obj, name: &str) -> Option<&'a crate::model::AttrBag> {
    match kind {
        Obj::Account => dir.account(name).map(|a| &a.attrs).or_else(|| {
            dir.accounts()
                .find(|a| a.attrs.has_value_ci("zimbraId", name))
                .map(|a| &a.attrs)
        }),
        Obj::Domain => dir.domain(name).map(|d| &d.attrs),
        Obj::Server => dir.server_by_hostname(name).map(|s| &s.attrs),
        Obj::Config => Some(&dir.config.attrs),
    }
}

/// `attr value...` pairs that set `attrs` of an object back from `after` to `before`
/// (`attr ""` for an attribute that was absent), in a stable order.
fn restore_pairs(
    before: &crate::model::AttrBag,
    after: &crate::model::AttrBag,
    skip: &BTreeSet<String>,
) -> Vec<(String, String)> {
    let mut names: Vec<String> = Vec::new();
    for a in before.iter().chain(after.iter()) {
        let lc = a.name().to_ascii_lowercase();
        if VOLATILE.contains(&lc.as_str()) || skip.contains(&lc) {
            continue;
        }
        if !names.iter().any(|n| n.eq_ignore_ascii_case(a.name())) {
            names.push(a.name().to_string());
        }
    }
    let mut out = Vec::new();
    for n in names {
        let (b, a) = (before.strs(&n), after.strs(&n));
        if b == a {
            continue;
        }
        if b.is_empty() {
            out.push((n.clone(), String::new()));
        }
        for v in b {
            out.push((n.clone(), v.to_string()));
        }
    }
    out
}

/// The zmprov lines that undo `lines`, which turned `before` into `after`, in the order to run
/// them: objects created are deleted, aliases and list members added are removed, and every
/// attribute of a modified object that changed — including what Zimbra's callbacks changed
/// (`zimbraAccountStatus` sets `zimbraMailStatus`, `zimbraMailHost` sets the transport) — is
/// set back to its value before the step.
pub(crate) fn rollback_zmprov(
    before: &Directory,
    after: &Directory,
    lines: &[String],
) -> Result<Vec<String>, String> {
    let parsed = zmprov::parse_script(&lines.join("\n")).map_err(|e| e.to_string())?;
    let mut deletes: Vec<String> = Vec::new();
    let mut removals: Vec<String> = Vec::new();
    let mut created: BTreeSet<String> = BTreeSet::new();
    let mut modified: Vec<(Obj, String)> = Vec::new();
    let mut skip: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let touch = |kind: Obj, name: &str, modified: &mut Vec<(Obj, String)>| {
        let k = (kind, name.to_ascii_lowercase());
        if !modified.contains(&k) {
            modified.push(k);
        }
    };
    for l in &parsed {
        match &l.command {
            Command::CreateAccount { name, .. } => {
                created.insert(name.to_ascii_lowercase());
                deletes.push(zline(&["da", name]));
            }
            Command::CreateDomain { name, .. } => {
                created.insert(name.to_ascii_lowercase());
                deletes.push(zline(&["dd", name]));
            }
            Command::CreateAliasDomain { alias, .. } => {
                created.insert(alias.to_ascii_lowercase());
                deletes.push(zline(&["dd", alias]));
            }
            Command::CreateDistributionList { name, .. } => {
                created.insert(name.to_ascii_lowercase());
                deletes.push(zline(&["ddl", name]));
            }
            Command::AddAccountAlias { account, alias } => {
                if !created.contains(&account.to_ascii_lowercase()) {
                    removals.push(zline(&["raa", account, alias]));
                    let s = skip.entry(account.to_ascii_lowercase()).or_default();
                    s.insert("zimbramailalias".into());
                    s.insert("mail".into());
                }
            }
            Command::AddDistributionListMember { list, members } => {
                if !created.contains(&list.to_ascii_lowercase()) {
                    let mut w = vec!["rdlm", list.as_str()];
                    w.extend(members.iter().map(String::as_str));
                    removals.push(zline(&w));
                }
            }
            Command::ModifyAccount { account, .. } => touch(Obj::Account, account, &mut modified),
            Command::ModifyDomain { domain, .. } => touch(Obj::Domain, domain, &mut modified),
            Command::ModifyServer { server, .. } => touch(Obj::Server, server, &mut modified),
            Command::ModifyConfig { .. } => touch(Obj::Config, "config", &mut modified),
            other => {
                return Err(format!(
                    "the runbook cannot undo zmprov {} (no rollback known)",
                    other.short_name()
                ))
            }
        }
    }
    let mut restores: Vec<String> = Vec::new();
    for (kind, name) in &modified {
        if created.contains(name) {
            continue;
        }
        let (Some(b), Some(a)) = (bag(before, *kind, name), bag(after, *kind, name)) else {
            return Err(format!("cannot undo the change of {name}: it is gone"));
        };
        let none = BTreeSet::new();
        let mut pairs = restore_pairs(b, a, skip.get(name).unwrap_or(&none));
        let verb = match kind {
            Obj::Account => "ma",
            Obj::Domain => "md",
            Obj::Server => "ms",
            Obj::Config => "mcf",
        };
        let head: Vec<String> = match kind {
            Obj::Config => vec![verb.into()],
            _ => vec![verb.into(), name.clone()],
        };
        // zimbraMailHost alone (its callback sets the transport; zmprov refuses both at once)
        if let Some(i) = pairs
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case("zimbraMailHost"))
        {
            let (n, v) = pairs.remove(i);
            let mut w = head.clone();
            w.extend([n, v.clone()]);
            let w: Vec<&str> = w.iter().map(String::as_str).collect();
            restores.push(zline(&w));
            let port = before.lmtp_port(before.server_by_hostname(&v));
            let by_callback = format!("lmtp:{v}:{port}");
            if b.first("zimbraMailTransport")
                .is_some_and(|t| t.eq_ignore_ascii_case(&by_callback))
            {
                pairs.retain(|(n, _)| !n.eq_ignore_ascii_case("zimbraMailTransport"));
            }
        }
        if !pairs.is_empty() {
            let mut w = head.clone();
            for (n, v) in pairs {
                w.push(n);
                w.push(v);
            }
            let w: Vec<&str> = w.iter().map(String::as_str).collect();
            restores.push(zline(&w));
        }
    }
    removals.reverse();
    deletes.reverse();
    let mut undo = restores;
    undo.extend(removals);
    undo.extend(deletes);
    Ok(undo)
}

/// A routing-relevant fingerprint of a directory: every object's attributes, without the
/// bookkeeping ones that zmprov rewrites on every change (timestamps).
pub(crate) fn fingerprint(
    dir: &Directory,
    with_config: bool,
) -> BTreeMap<String, Vec<(String, Vec<String>)>> {
    let mut out = BTreeMap::new();
    let mut put = |key: String, bag: &crate::model::AttrBag| {
        // attribute order does not route mail; value order does (first values win)
        let mut attrs: Vec<(String, Vec<String>)> = bag
            .iter()
            .filter(|a| !VOLATILE.contains(&a.name().to_ascii_lowercase().as_str()))
            .map(|a| {
                (
                    a.name().to_ascii_lowercase(),
                    a.values().map(|v| v.to_string_lossy()).collect(),
                )
            })
            .collect();
        attrs.sort();
        out.insert(key, attrs);
    };
    if with_config {
        put("config".into(), &dir.config.attrs);
        for c in dir.coses() {
            put(format!("cos:{}", c.name), &c.attrs);
        }
    }
    for s in dir.servers() {
        put(format!("server:{}", s.name), &s.attrs);
    }
    for d in dir.domains() {
        put(format!("domain:{}", d.name), &d.attrs);
    }
    for a in dir.accounts() {
        put(format!("account:{}", a.name), &a.attrs);
    }
    for a in dir.aliases() {
        put(format!("alias:{}", a.name), &a.attrs);
    }
    for l in dir.lists() {
        put(format!("list:{}", l.name), &l.attrs);
    }
    for g in dir.groups() {
        put(format!("group:{}", g.name), &g.attrs);
    }
    out
}

/// Whether two worlds route alike by construction: same MTAs and tables, same DNS, and
/// directories equal up to timestamps.
pub(crate) fn same_world(a: &World, b: &World) -> Result<(), String> {
    if a.dns != b.dns {
        return Err("DNS differs".into());
    }
    if a.mtas != b.mtas {
        let diff: Vec<&str> = a
            .mtas
            .iter()
            .filter(|m| !b.mtas.contains(m))
            .map(|m| m.name.as_str())
            .collect();
        return Err(format!("MTA settings differ: {}", diff.join(", ")));
    }
    for m in &a.mtas {
        let Some(d) = m.directory() else { continue };
        let (Some(x), Some(y)) = (a.dirs.get(d), b.dirs.get(d)) else {
            return Err(format!("directory {d} missing"));
        };
        if std::sync::Arc::ptr_eq(x, y) {
            continue;
        }
        let (Some(x), Some(y)) = (a.dir(d), b.dir(d)) else {
            return Err(format!("directory {d} missing"));
        };
        // the global config and the classes of service are large and rarely change
        let big = !(x.config == y.config && x.coses().eq(y.coses()));
        let (fx, fy) = (fingerprint(x, big), fingerprint(y, big));
        if fx != fy {
            let keys: Vec<&String> = fx
                .keys()
                .chain(fy.keys())
                .filter(|k| fx.get(*k) != fy.get(*k))
                .collect();
            let mut keys: Vec<&String> = keys;
            keys.dedup();
            return Err(format!(
                "directory {d} differs at {}",
                keys.iter()
                    .take(5)
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    Ok(())
}
