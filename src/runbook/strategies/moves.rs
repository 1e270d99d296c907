//! Mailboxes moving between servers of one directory (seed "Old ZCS To New ZCS - Using LDAP
//! Replica"), and a domain moving into another Zimbra's directory (seed "Old ZCS Email Domains
//! To Another ZCS With Existing Domains").

use std::collections::BTreeMap;

use super::split::uses_maintenance;
use super::{copy_step, mx_actions, status_lines, BatchPlan, Blueprint, Copy, Ctx, Slot, StepDef};
use crate::dit::{self, IdPolicy, MoveOptions, MovePlan, WriteOptions};
use crate::model::{Directory, MailRecipient, RawEntry};
use crate::runbook::spec::{LoadMethod, MoveSpec};
use crate::runbook::steps::{zline, Action};
use crate::runbook::RunbookError;

/// A batch of a mailbox move: its name, (source, target) addresses, the host it leaves.
type MoveBatch = (String, Vec<(String, String)>, String);

/// The batches of a move between mailbox servers of directory `dir` (read by MTA `mta` on
/// `mta_host`): maintenance, zmmailboxmove, `zimbraMailHost`, active.
fn mailstore_batches(
    ctx: &Ctx<'_>,
    dir: &str,
    mta_host: &str,
    batches: &[MoveBatch],
) -> Vec<BatchPlan> {
    let th = ctx.target_host.clone();
    let maint = uses_maintenance(ctx.data);
    let zm = |lines: Vec<String>| Action::Zmprov {
        directory: dir.to_string(),
        host: mta_host.to_string(),
        lines,
    };
    let mut out = Vec::new();
    for (i, (name, users, from_host)) in batches.iter().enumerate() {
        let names: Vec<String> = users.iter().map(|(_, t)| t.clone()).collect();
        let mut steps = Vec::new();
        if maint {
            steps.push(
                StepDef::new("maintenance", format!("{name}: maintenance status"))
                    .in_batch(i)
                    .why("No logins and no deliveries while the mailboxes move; mail waits in the queue (LMTP answers 4.2.1).")
                    .act(zm(status_lines(&names, "maintenance")))
                    .probes(names.iter().take(2).cloned()),
            );
        }
        let pairs: Vec<(String, String)> = names.iter().map(|u| (u.clone(), u.clone())).collect();
        steps.push(copy_step(
            &Copy {
                ctx,
                from_host: from_host.clone(),
                from_system: from_host.clone(),
                users: &pairs,
            },
            i,
            format!("{name}: move the mailboxes to {th}"),
        ));
        steps.push(
            StepDef::new("switch", format!("{name}: zimbraMailHost {th}"))
                .in_batch(i)
                .why("The accounts' mailbox server is the new one: Zimbra's MailHost callback sets zimbraMailTransport to lmtp:NEW:7025 (a no-op when zmmailboxmove already did it).")
                .act(zm(names
                    .iter()
                    .map(|u| zline(&["ma", u, "zimbraMailHost", &th]))
                    .collect()))
                .probes(names.iter().take(2).cloned()),
        );
        if maint {
            steps.push(
                StepDef::new("activate", format!("{name}: back in service"))
                    .in_batch(i)
                    .why("The move is complete: logins and deliveries again; queued mail is delivered.")
                    .act(zm(status_lines(&names, "active")))
                    .probes(names.iter().take(2).cloned()),
            );
        }
        out.push(BatchPlan {
            name: name.clone(),
            users: users.clone(),
            steps,
        });
    }
    out
}

/// Seed "Old ZCS To New ZCS - Using LDAP Replica To Migrate": a new mailbox server joins the
/// directory; accounts move to it batch by batch with zmmailboxmove.
pub(crate) fn same_ldap(mut ctx: Ctx<'_>, old_host: String) -> Result<Blueprint, RunbookError> {
    let dir = ctx.target_dir.clone();
    let notes = std::mem::take(&mut ctx.notes);
    let th = ctx.target_host.clone();
    let prepare = StepDef::new(
        "prepare-target",
        format!("Install the new mailbox server {th}"),
    )
    .why("Seed: \"This process implements a new LDAP replica's with the new ZCS mailstore\".")
    .act(Action::Manual {
        system: th.clone(),
        words: vec![
            format!("Install ZCS on {th} as a mailbox server with an LDAP replica of the existing master (zmsetup.pl: ldap_is_master no, replica enabled); its server entry is already in the directory."),
        ],
    });
    let batches: Vec<MoveBatch> = ctx
        .batches
        .iter()
        .map(|(n, u)| {
            (
                n.clone(),
                u.iter().map(|x| (x.clone(), x.clone())).collect(),
                old_host.clone(),
            )
        })
        .collect();
    let mta_host = ctx.target.hostname.clone();
    for h in [&old_host, &th] {
        if !ctx
            .target_directory()
            .server_by_hostname(h)
            .is_some_and(|s| s.has_mailbox_service())
        {
            return Err(ctx
                .spec
                .invalid(
                    if *h == th { "target.host" } else { "source.host" },
                    format!("{h} is not a mailbox server of directory {dir:?} (zimbraServiceEnabled mailbox)"),
                )
                .into());
        }
    }
    let batch_plans = mailstore_batches(&ctx, &dir, &mta_host, &batches);
    let mut slots = vec![Slot::Step(prepare), Slot::Batches];
    if ctx.all_move() && ctx.spec.unset != Some(false) {
        let first = ctx.users[0].clone();
        if ctx.source.name != ctx.target.name {
            let mut mx = StepDef::new(
                "mx-switch",
                format!(
                    "Point the MX of {} at {}",
                    ctx.domains().join(", "),
                    ctx.target.name
                ),
            )
            .why("The old server's MTA is retired with it.");
            for a in mx_actions(&ctx, ctx.domains(), &ctx.target.hostname) {
                mx = mx.act(a);
            }
            slots.push(Slot::Step(mx.probes([first.clone()])));
        }
        slots.push(Slot::Step(
            StepDef::new("unset", format!("Retire {old_host}"))
                .why("Seed: \"Once the accounts have all been moved, you promote the LDAP Replica configuration on the new ZCS server to be the LDAP master. Adjust for the MTA configuration and then retire the old box.\"")
                .act(Action::Manual {
                    system: th.clone(),
                    words: vec![
                        format!("Promote the LDAP replica on {th} to master (zmldappromote-replica-mmr, or zmsetup.pl on older releases) and point every server's ldap_url/ldap_master_url at it."),
                        format!("Check that no account still names {old_host} (zmprov sa zimbraMailHost={old_host}), then stop and uninstall it."),
                    ],
                })
                .probes([first]),
        ));
    }
    Ok(Blueprint::new(&ctx, slots, batch_plans, notes, th))
}

/// The target directory after loading a clean move plan: the target's entries, the plan's
/// change records merged into them, then the plan's entries — read back through the same
/// LDIF path the scenario loader uses.
pub(crate) fn loaded_directory(
    target: &Directory,
    plan: &MovePlan,
) -> Result<Directory, RunbookError> {
    let mut buf = Vec::new();
    dit::write_directory(target, &mut buf, &WriteOptions::slapadd())
        .map_err(|e| RunbookError::Move(e.to_string()))?;
    let mut entries: Vec<RawEntry> = Vec::new();
    for e in dit::EntryReader::new(&buf[..]) {
        entries.push(e.map_err(|e| RunbookError::Move(e.to_string()))?);
    }
    for c in &plan.changes {
        let crate::ldif::ChangeOp::Modify(mods) = &c.op else {
            return Err(RunbookError::Move(format!(
                "unexpected change record for {}",
                c.dn.as_str()
            )));
        };
        let Some(e) = entries.iter_mut().find(|e| {
            crate::dn::Dn::parse(&e.dn).is_ok_and(|d| d.normalized() == c.dn.normalized())
        }) else {
            return Err(RunbookError::Move(format!(
                "the change for {} names no target entry",
                c.dn.as_str()
            )));
        };
        for m in mods {
            let vals: Vec<Vec<u8>> = m.values.clone();
            match m.op {
                crate::ldif::ModOp::Add => {
                    for v in vals {
                        e.attrs.add(&m.attribute, v);
                    }
                }
                crate::ldif::ModOp::Replace => e.attrs.set(&m.attribute, vals),
                crate::ldif::ModOp::Delete => {
                    e.attrs.remove(&m.attribute);
                }
                crate::ldif::ModOp::Increment => {
                    return Err(RunbookError::Move("increment in a move plan".into()))
                }
            }
        }
    }
    // the plan's entries as slapadd reads them
    let mut ldif = Vec::new();
    plan.write_ldif(&mut ldif)
        .map_err(|e| RunbookError::Move(e.to_string()))?;
    for e in dit::EntryReader::new(&ldif[..]) {
        entries.push(e.map_err(|e| RunbookError::Move(e.to_string()))?);
    }
    let combined = dit::directory_from_entries(entries.into_iter().map(Ok))
        .map_err(|e| RunbookError::Move(e.to_string()))?;
    // the bytes the emitted scenario holds, read back the way the scenario loader reads them
    let mut out = Vec::new();
    dit::write_directory(&combined, &mut out, &WriteOptions::slapadd())
        .map_err(|e| RunbookError::Move(e.to_string()))?;
    dit::read_directory(&out[..]).map_err(|e| RunbookError::Move(e.to_string()))
}

/// The move plan for the spec's domain.
pub(crate) fn move_plan(
    ctx: &Ctx<'_>,
    m: &MoveSpec,
) -> Result<(MovePlan, MoveOptions), RunbookError> {
    let src = ctx
        .source_dir()
        .ok_or_else(|| RunbookError::Spec(ctx.spec.invalid("source.mta", "no directory")))?;
    let opts = MoveOptions {
        rename: m.rename.clone(),
        map_hosts: m.map_hosts.clone(),
        ids: if m.regenerate_ids {
            IdPolicy::RegenerateOnCollision
        } else {
            IdPolicy::Keep
        },
        include_servers: true,
        ..MoveOptions::default()
    };
    let dom = ctx.domains()[0].clone();
    let plan = dit::plan_move_dirs(src, ctx.target_directory(), &dom, &opts)
        .map_err(|e| RunbookError::Move(e.to_string()))?;
    if !plan.is_clean() {
        return Err(RunbookError::MoveConflicts {
            domain: dom,
            conflicts: plan.conflicts.iter().map(|c| c.to_string()).collect(),
        });
    }
    Ok((plan, opts))
}

/// Seed "Old ZCS Email Domains To Another ZCS With Existing Domains": slapcat on the old side,
/// the move LDIF loaded into the other directory, the old server as LDAP replica and mailstore,
/// then the mailboxes moved in batches with zmmailboxmove.
pub(crate) fn domain_move(mut ctx: Ctx<'_>) -> Result<Blueprint, RunbookError> {
    let spec = ctx.spec;
    let dom = match ctx.domains() {
        [d] => d.clone(),
        _ => {
            return Err(spec
                .invalid("domains", "domain-move moves one domain at a time")
                .into())
        }
    };
    let m = spec.moving.clone().unwrap_or(MoveSpec {
        rename: None,
        map_hosts: Vec::new(),
        regenerate_ids: false,
        load: LoadMethod::Slapadd,
    });
    let (plan, _) = move_plan(&ctx, &m)?;
    let mut extra_ldif = Vec::new();
    plan.write_ldif(&mut extra_ldif)
        .map_err(|e| RunbookError::Move(e.to_string()))?;
    // the old server joins the target's LDAP as a replica: its own directory is given up, so
    // it must hold nothing but what moves
    let moving: Vec<String> = std::iter::once(dom.clone())
        .chain(plan.alias_domains.iter().map(|d| d.to_ascii_lowercase()))
        .collect();
    let others: Vec<String> = ctx
        .source_dir()
        .map(|d| {
            d.domains()
                .map(|x| x.name.to_string().to_ascii_lowercase())
                .filter(|x| !moving.contains(x))
                .collect()
        })
        .unwrap_or_default();
    if !others.is_empty() {
        return Err(spec
            .invalid(
                "source.mta",
                format!(
                    "{}'s directory also hosts {}: after the move {} becomes an LDAP replica of {} and its own directory is given up, so they would be left without one; move them too (a runbook per domain), or keep {}'s LDAP and move the mailboxes with another strategy",
                    ctx.source.name,
                    others.join(", "),
                    ctx.source.name,
                    ctx.target.name,
                    ctx.source.name
                ),
            )
            .into());
    }
    let new_dom = plan.new_domain.clone();
    let loaded = loaded_directory(ctx.target_directory(), &plan)?;
    let loaded_name = format!("{}+{}", ctx.target_dir, new_dom);
    if ctx.world.dirs.contains_key(&loaded_name) {
        return Err(spec
            .invalid(
                "target.mta",
                format!("a directory is already named {loaded_name:?}"),
            )
            .into());
    }
    let mut notes = std::mem::take(&mut ctx.notes);
    let (oh, nh) = (ctx.source.hostname.clone(), ctx.target.hostname.clone());
    let dir = &spec.backup_dir;
    let q = crate::runbook::render::shell_quote;
    let new_addr = |u: &str| -> String {
        let local = u.rsplit_once('@').map(|(l, _)| l).unwrap_or(u);
        format!("{local}@{new_dom}")
    };
    let export = StepDef::new("export", format!("Export {dom} from {}'s LDAP", ctx.source.name))
        .why("Seed: \"migrating the LDAP data for the domain from the old zimbra server into the other existing Zimbra system (using slapcat or ldapsearch)\". Plan again from this fresh export before loading: the move LDIF must be made from the directory as it is now.")
        .act(Action::Shell {
            system: ctx.source.name.clone(),
            host: oh.clone(),
            user: "zimbra".into(),
            lines: vec![
                format!("mkdir -p {}", q(dir)),
                format!("/opt/zimbra/libexec/zmslapcat {}", q(dir)),
                format!("rsync -a {}/ldap.bak {}:{}/old-ldap.bak", q(dir), q(&nh), q(dir)),
            ],
        });
    let mut load_lines = Vec::new();
    let bind = "-x -H ldapi:/// -D uid=zimbra,cn=admins,cn=zimbra -w \"$(zmlocalconfig -s -m nokey zimbra_ldap_password)\"";
    match m.load {
        LoadMethod::Slapadd => {
            load_lines.push("ldap stop".to_string());
            load_lines.push(format!(
                "/opt/zimbra/common/sbin/slapadd -q -F /opt/zimbra/data/ldap/config -b '' -l {}/move.ldif",
                q(dir)
            ));
            load_lines.push("ldap start".to_string());
        }
        LoadMethod::Ldapadd => {
            load_lines.push(format!("ldapadd {bind} -f {}/move.ldif", q(dir)));
        }
    }
    if !plan.changes.is_empty() {
        load_lines.push(format!("ldapmodify {bind} -f {}/move-changes.ldif", q(dir)));
    }
    let moved_entries = dit::EntryReader::new(&extra_ldif[..]).count();
    let mut load = StepDef::new(
        "load",
        format!("Load {new_dom} into {}'s LDAP", ctx.target.name),
    )
    .why(format!(
        "Seed: \"load the information (ldif) into the existing Zimbra server with slapadd\". move/move.ldif holds {} entries (the domain, its accounts, lists and aliases, the COS and server entries it needs), checked for conflicts against the target before it was written; copy it{} to {dir} on {nh}.",
        moved_entries,
        if plan.changes.is_empty() { "" } else { " and move/move-changes.ldif (merges into entries the target has)" }
    ))
    .act(Action::Shell {
        system: ctx.target.name.clone(),
        host: nh.clone(),
        user: "zimbra".into(),
        lines: load_lines,
    });
    // every MTA reading the target directory reads the loaded one
    let readers: Vec<String> = ctx
        .world
        .mtas
        .iter()
        .filter(|x| x.directory() == Some(ctx.target_dir.as_str()))
        .map(|x| x.name.clone())
        .collect();
    for (i, r) in readers.iter().enumerate() {
        load = load.act(Action::UseDirectory {
            mta: r.clone(),
            directory: loaded_name.clone(),
            load: (i == 0).then(|| Box::new(loaded.clone())),
        });
    }
    if new_dom != dom {
        load = load.act(Action::Zmprov {
            directory: loaded_name.clone(),
            host: nh.clone(),
            lines: vec![zline(&[
                "cad",
                &dom,
                &new_dom,
                "zimbraMailCatchAllForwardingAddress",
                &format!("@{new_dom}"),
            ])],
        });
        notes.push(format!(
            "{dom} is renamed {new_dom} on the way; {dom} stays as an alias domain of {new_dom} so that old addresses keep working."
        ));
    }
    let first_src = ctx.users[0].clone();
    let first = new_addr(&first_src);
    let load = load.probes([first_src.clone(), first.clone()]);
    let replica = StepDef::new(
        "replica",
        format!("{} becomes an LDAP replica and mailstore of {}", ctx.source.name, ctx.target.name),
    )
    .why("Seed: \"reconfigure the old server to become an ldap slave to the existing Zimbra box and to serve simply as a mailstore for that domain data\". Its mailboxes stay where they are; the accounts in the new directory name it as their mail host.")
    .act(Action::Manual {
        system: ctx.source.name.clone(),
        words: vec![format!("Reconfigure {oh} as an LDAP replica of {nh} (ldap_url/ldap_master_url in localconfig, zmsetup.pl) and restart it; it reads {new_dom} from the new directory from then on.")],
    })
    .act(Action::UseDirectory {
        mta: ctx.source.name.clone(),
        directory: loaded_name.clone(),
        load: None,
    })
    .probes([first_src.clone(), first.clone()]);
    let mut mx = StepDef::new(
        "mx-switch",
        format!("Point the MX of {new_dom} at {}", ctx.target.name),
    )
    .why("The new directory answers for the domain everywhere; mail enters at the target.");
    let mut mx_domains = vec![new_dom.clone()];
    if new_dom != dom {
        mx_domains.push(dom.clone());
    }
    for a in mx_actions(&ctx, &mx_domains, &nh) {
        mx = mx.act(a);
    }
    let mx = mx.probes([first.clone()]);
    // mailboxes: from each account's mail host in the loaded directory to the target host
    let th = ctx.target_host.clone();
    let mut batch_specs: Vec<MoveBatch> = Vec::new();
    let mut by_host: BTreeMap<String, usize> = BTreeMap::new();
    for (name, users) in &ctx.batches {
        let mut groups: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for u in users {
            let na = new_addr(u);
            let host = loaded
                .account(&na)
                .and_then(|a| a.mail_host().map(str::to_string))
                .unwrap_or_else(|| oh.clone());
            if host.eq_ignore_ascii_case(&th) {
                notes.push(format!("{na} is on {th} already: nothing to move"));
                continue;
            }
            groups.entry(host).or_default().push((u.clone(), na));
        }
        let several = groups.len() > 1;
        for (host, users) in groups {
            *by_host.entry(host.clone()).or_default() += users.len();
            let n = if several {
                format!("{name} (from {host})")
            } else {
                name.clone()
            };
            batch_specs.push((n, users, host));
        }
    }
    for (_, _, host) in &batch_specs {
        if !loaded
            .server_by_hostname(host)
            .is_some_and(|s| s.has_mailbox_service())
        {
            return Err(spec
                .invalid(
                    "source.mta",
                    format!("{host} holds mailboxes of {dom} but is not a mailbox server (zimbraServiceEnabled mailbox): zmmailboxmove cannot move them from it, and no rollback could move them back"),
                )
                .into());
        }
    }
    let batches = mailstore_batches(&ctx, &loaded_name, &nh, &batch_specs);
    // follow-ups from the move plan
    let mut fu = StepDef::new("follow-ups", "Follow-ups of the domain move")
        .why("Seed: \"Adjustments would also need to be done in regards to auth keys and server certs\". The move plan lists what does not travel in LDAP.");
    let words: Vec<String> = plan
        .follow_ups
        .iter()
        .filter(|f| !matches!(f, dit::FollowUp::MailboxData { .. }))
        .map(|f| f.to_string())
        .collect();
    if !words.is_empty() {
        fu = fu.act(Action::Manual {
            system: ctx.target.name.clone(),
            words,
        });
    }
    let mut extra_files = BTreeMap::new();
    extra_files.insert("move/move.ldif".to_string(), extra_ldif);
    if !plan.changes.is_empty() {
        let mut ch = Vec::new();
        plan.write_changes(&mut ch)
            .map_err(|e| RunbookError::Move(e.to_string()))?;
        extra_files.insert("move/move-changes.ldif".to_string(), ch);
    }
    let mut slots = vec![
        Slot::Step(export),
        Slot::Step(load),
        Slot::Step(replica),
        Slot::Step(mx),
        Slot::Batches,
        Slot::Step(fu),
    ];
    if ctx.all_move() && spec.unset != Some(false) && !by_host.is_empty() {
        slots.push(Slot::Step(
            StepDef::new("unset", format!("Retire {oh}"))
                .why("Every mailbox of the domain is on the target's servers: the old server holds nothing.")
                .act(Action::Manual {
                    system: ctx.source.name.clone(),
                    words: vec![format!("Check that no account names {oh} (zmprov sa zimbraMailHost={oh}), remove it from the replica set and uninstall it.")],
                })
                .probes([first]),
        ));
    }
    Ok(Blueprint {
        initial: ctx.world.clone(),
        slots,
        batches,
        notes,
        final_host: th,
        data: ctx.data,
        users: Vec::new(),
        extra_files,
    })
}
