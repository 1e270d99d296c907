//! Split domains (seed "Split-Domain Example 1" and "Example 2").

use super::{
    copy_then_activate, create_lines, mx_actions, source_maintenance, status_lines, BatchPlan,
    Blueprint, Copy, Ctx, Slot, StepDef,
};
use crate::model::{DistributionList, MailRecipient};
use crate::route::UnknownPolicy;
use crate::runbook::spec::{DataMethod, SpecError};
use crate::runbook::steps::{zline, Action, ForeignEdit};
use crate::runbook::world::MtaDefKind;

/// Whether the batch steps hold the users in maintenance around the copy.
pub(super) fn uses_maintenance(data: DataMethod) -> bool {
    matches!(
        data,
        DataMethod::Zmbackup | DataMethod::Rest | DataMethod::Zmmailboxmove
    )
}

/// The lines that mirror the source's aliases and lists of the migrated domains onto the
/// target, so that the target accepts every address the source accepts.
fn mirror_addresses(ctx: &Ctx<'_>, lines: &mut Vec<String>, notes: &mut Vec<String>) {
    let tdir = ctx.target_directory();
    let taken = |a: &str| tdir.name_in_use(a).is_some();
    match &ctx.source.kind {
        MtaDefKind::Foreign(f) => {
            for (k, v) in &f.aliases {
                let (k, v) = (k.to_ascii_lowercase(), v.to_ascii_lowercase());
                if !ctx.in_domains(&k) || taken(&k) {
                    continue;
                }
                if ctx.users.contains(&v) {
                    lines.push(zline(&["aaa", &v, &k]));
                } else {
                    notes.push(format!(
                        "{k} is an alias of {v} on {}, which is not a user of the migrated domain: create it on the target by hand if it must keep working",
                        ctx.source.name
                    ));
                }
            }
        }
        MtaDefKind::Zimbra { .. } => {
            let Some(sdir) = ctx.source_dir() else { return };
            for u in &ctx.users {
                let Some(a) = sdir.account(u) else { continue };
                for al in a.aliases().unwrap_or_default() {
                    let al = al.to_string().to_ascii_lowercase();
                    if ctx.in_domains(&al) && !taken(&al) {
                        lines.push(zline(&["aaa", u, &al]));
                    }
                }
            }
            for l in sdir.lists() {
                let name = l.name.to_string().to_ascii_lowercase();
                if !ctx.in_domains(&name) || taken(&name) {
                    continue;
                }
                lines.extend(list_lines(&name, l));
            }
        }
    }
}

/// The MX step: every migrated domain's MX on `host` (preference 10).
fn mx_step(ctx: &Ctx<'_>, host: &str, title: &str) -> StepDef {
    let mut s = StepDef::new("mx-switch", title);
    for a in mx_actions(ctx, ctx.domains(), host) {
        s = s.act(a);
    }
    s
}

fn users_of(b: &(String, Vec<String>)) -> Vec<(String, String)> {
    b.1.iter().map(|u| (u.clone(), u.clone())).collect()
}

/// `zmprov cdl` of the source's list `name` and `adlm` of its members (none: no `adlm`).
fn list_lines(name: &str, list: &DistributionList) -> Vec<String> {
    let mut out = vec![zline(&["cdl", name])];
    let members: Vec<String> = list
        .forwarding_addresses()
        .unwrap_or_default()
        .iter()
        .map(|m| m.to_string())
        .collect();
    if !members.is_empty() {
        let mut w = vec!["adlm", name];
        w.extend(members.iter().map(String::as_str));
        out.push(zline(&w));
    }
    out
}

/// The seed's secondary for domain `d`: the catch-all (@d to @d) accepts every address,
/// the domain's transport sends the ones without an account to the primary's host.
fn secondary_lines(d: &str, primary: &str) -> [String; 2] {
    let at = format!("@{d}");
    [
        zline(&[
            "md",
            d,
            "zimbraMailCatchAllAddress",
            &at,
            "zimbraMailCatchAllForwardingAddress",
            &at,
        ]),
        zline(&[
            "md",
            d,
            "zimbraMailTransport",
            &format!("smtp:{primary}:25"),
        ]),
    ]
}

/// The end of batch `b` (number `i`) in both split strategies, after its `steps`: the mailboxes
/// copied from the source (the spec's source host, else `host`), then with maintenance the
/// accounts back in service.
fn close_batch(
    ctx: &Ctx<'_>,
    i: usize,
    b: &(String, Vec<String>),
    users: Vec<(String, String)>,
    host: &str,
    maint: bool,
    mut steps: Vec<StepDef>,
) -> BatchPlan {
    copy_then_activate(
        &Copy {
            ctx,
            from_host: ctx
                .spec
                .source
                .host
                .clone()
                .unwrap_or_else(|| host.to_string()),
            from_system: ctx.source.name.clone(),
            users: &users,
        },
        i,
        &b.0,
        maint,
        &mut steps,
    );
    BatchPlan {
        name: b.0.clone(),
        users,
        steps,
    }
}

/// Seed "Split-Domain Example 1": the Zimbra target becomes authoritative; the source keeps
/// the users not moved yet and forwards what it does not know to the target.
pub(crate) fn primary_zimbra(mut ctx: Ctx<'_>) -> Result<Blueprint, SpecError> {
    let spec = ctx.spec;
    let (sh, ph, th) = (
        ctx.source.hostname.clone(),
        ctx.target.hostname.clone(),
        ctx.target_host.clone(),
    );
    let tdir = ctx.target_directory().clone();
    for u in &ctx.users {
        if let Some(a) = tdir.account(u) {
            if a.transport().ok().flatten().is_some_and(|t| t.is_lmtp()) {
                return Err(spec.invalid(
                    "source.mta",
                    format!(
                        "{u} has a mailbox on both {} and {}: resolve that first",
                        ctx.source.name, ctx.target.name
                    ),
                ));
            }
        }
    }
    let mut notes = std::mem::take(&mut ctx.notes);
    // 1. the primary knows every address
    let mut lines = Vec::new();
    for d in ctx.domains() {
        if tdir.domain(d).is_none() {
            lines.push(zline(&["cd", d]));
        }
    }
    for u in &ctx.users {
        if tdir.account(u).is_none() {
            lines.push(zline(&["ca", u, "", "zimbraMailHost", &th]));
            lines.push(zline(&[
                "ma",
                u,
                "zimbraMailTransport",
                &format!("smtp:{sh}:25"),
            ]));
        }
    }
    mirror_addresses(&ctx, &mut lines, &mut notes);
    let mut catch_lines = Vec::new();
    if let Some(c) = &spec.catch_all {
        if ctx.users.contains(c) {
            return Err(spec.invalid("catch_all", format!("{c} is a user of the source")));
        }
        if tdir.account(c).is_none() {
            catch_lines.push(zline(&["ca", c, ""]));
        }
        let mut w: Vec<String> = vec!["ma".into(), c.clone()];
        for d in ctx.domains() {
            w.push("zimbraMailCatchAllAddress".into());
            w.push(format!("@{d}"));
        }
        let w: Vec<&str> = w.iter().map(String::as_str).collect();
        catch_lines.push(zline(&w));
    }
    let first = ctx.users.first().cloned().unwrap_or_default();
    let prepare = StepDef::new(
        "prepare-target",
        format!("Configure {} as the primary: every address of {} exists there", ctx.target.name, ctx.domains().join(", ")),
    )
    .why("Seed, primary MTA: \"Be aware of, and accept mail for, all accounts on the domain\" (zmprov ca) and \"Forward mail to the secondary MTA for users hosted there\" (zmprov ma ... zimbraMailTransport smtp:SECONDARY:25): each user still on the old system gets an account on its future mailbox server, whose transport sends its mail to the old system for now.")
    .why("Accounts are created without a password (''); users never log in to them before their batch moves (set one with zmprov sp, or use your SSO).")
    .act(ctx.zmprov_target(lines))
    .probes([first.clone(), ctx.unknown_probe()]);

    // 2. the source forwards what it does not know
    let mut configure = StepDef::new(
        "configure-source",
        format!("Configure {} as the secondary", ctx.source.name),
    );
    if !catch_lines.is_empty() {
        configure = configure
            .why("Seed: \"configure a catchall account for those accounts that do not exist in either system\": it is created with the secondary's forwarding, so that mail reaches it from the first moment it exists.")
            .act(ctx.zmprov_target(catch_lines));
    }
    match &ctx.source.kind {
        MtaDefKind::Foreign(f) => {
            if !(f.unknown == UnknownPolicy::Relay
                && f.unknown_relay.as_deref().or(f.relayhost.as_deref()) == Some(ph.as_str()))
            {
                configure = configure
                    .why("Seed, secondary MTA: \"Accept mail for accounts that are hosted on the secondary\" but \"forward all other mail for accounts on this domain to the primary system\".")
                    .act(Action::Foreign {
                        mta: ctx.source.name.clone(),
                        edit: ForeignEdit {
                            unknown: Some(UnknownPolicy::Relay),
                            unknown_relay: Some(Some(ph.clone())),
                            ..ForeignEdit::default()
                        },
                        words: vec![format!(
                            "Relay mail for recipients of {} that have no mailbox on {} to {ph} (instead of rejecting them).",
                            ctx.domains().join(", "),
                            ctx.source.name
                        )],
                    });
            }
        }
        MtaDefKind::Zimbra { .. } => {
            let mut l = Vec::new();
            for d in ctx.domains() {
                l.extend(secondary_lines(d, &ph));
            }
            let topo = ctx.world.topology();
            let trusted = match (
                topo.mta_index(&ctx.source.name),
                topo.mta_index(&ctx.target.name),
            ) {
                (Some(s), Some(t)) => topo.trusted(s, t),
                _ => false,
            };
            if trusted {
                l.push(zline(&["mcf", "zimbraMtaRelayHost", &ph]));
                l.push(zline(&["mcf", "zimbraMtaDnsLookupsEnabled", "FALSE"]));
            } else {
                notes.push(format!(
                    "{} is not in the mynetworks of {}, so {} keeps sending its outbound mail itself: the seed's zimbraMtaRelayHost/zimbraMtaDnsLookupsEnabled lines would have {} refuse to relay it (add {}'s address to zimbraMtaMyNetworks on {} first to use them).",
                    ctx.source.name, ctx.target.name, ctx.source.name, ctx.target.name, ctx.source.name, ctx.target.name
                ));
            }
            configure = configure
                .why("Seed, \"If this was a Zimbra Server\": the catch-all (@dom to @dom) makes the secondary accept every address of the domain; the domain's zimbraMailTransport routes the ones it has no account for to the primary.")
                .act(ctx.zmprov_source(l));
        }
    }
    let configure = configure.probes([ctx.unknown_probe()]);

    // 3. MX
    let mx = mx_step(&ctx, &ph, &format!("Point the MX of {} at {}", ctx.domains().join(", "), ctx.target.name))
        .why("Seed: \"LAST STEP - Configure DNS, MX records ... You will bounce mail if you make this change before configuring the entire system\".")
        .probes([first, ctx.unknown_probe()]);

    // 4. batches
    let maint = uses_maintenance(ctx.data);
    let zimbra_source = ctx.source.directory().is_some();
    let mut batches = Vec::new();
    for (i, b) in ctx.batches.iter().enumerate() {
        let users = users_of(b);
        let names: Vec<String> = b.1.clone();
        let mut steps = Vec::new();
        if maint {
            let mut s = StepDef::new("maintenance", format!("{}: maintenance status", b.0))
                .in_batch(i)
                .why("Seed, \"Set Accounts To Maintenance\": no logins and no deliveries while the mailboxes are copied; mail waits in the queue (LMTP answers 4.2.1).");
            if zimbra_source {
                s = s.act(ctx.zmprov_source(status_lines(&names, "maintenance")));
            }
            s = s.act(ctx.zmprov_target(status_lines(&names, "maintenance")));
            steps.push(s.probes(names.iter().take(2).cloned()));
        }
        steps.push(
            StepDef::new("switch", format!("{}: deliver to {}", b.0, ctx.target.name))
                .in_batch(i)
                .why("Seed, \"Migrating Users To Be On the Zimbra Server\": the account's transport switches from the old system to LMTP on the Zimbra mailbox server.")
                .act(ctx.zmprov_target(
                    names
                        .iter()
                        .map(|u| zline(&["ma", u, "zimbraMailTransport", &format!("lmtp:{th}:7025")]))
                        .collect(),
                ))
                .probes(names.iter().take(2).cloned()),
        );
        let retire = match &ctx.source.kind {
            MtaDefKind::Foreign(_) => Action::Foreign {
                mta: ctx.source.name.clone(),
                edit: ForeignEdit {
                    remove_mailboxes: names.clone(),
                    ..ForeignEdit::default()
                },
                words: vec![format!(
                    "Stop delivering mail for {} into the local mailboxes: hand it to {ph}, as {} does for recipients it does not know. Keep the mailbox data: the copy reads it.",
                    names.join(", "),
                    ctx.source.name
                )],
            },
            MtaDefKind::Zimbra { .. } => ctx.zmprov_source(
                names
                    .iter()
                    .map(|u| zline(&["ma", u, "zimbraMailStatus", "disabled"]))
                    .collect(),
            ),
        };
        steps.push(
            StepDef::new("retire-source", format!("{}: retire the old mailboxes", b.0))
                .in_batch(i)
                .why(format!("{} must stop delivering the batch's mail locally only after the primary delivers it itself: the other way round the primary sends it to {} and {} sends it back. Run it right after the switch: until then mail from {}'s own users still lands in the old mailboxes (the split-brain warning of the switch).", ctx.source.name, ctx.source.name, ctx.source.name, ctx.source.name))
                .act(retire)
                .probes(names.iter().take(2).cloned()),
        );
        batches.push(close_batch(&ctx, i, b, users, &sh, maint, steps));
    }

    // 5. unset
    let mut slots = vec![
        Slot::Step(prepare),
        Slot::Step(configure),
        Slot::Step(mx),
        Slot::Batches,
    ];
    if ctx.all_move() && spec.unset != Some(false) {
        let mut unset = StepDef::new(
            "unset",
            format!("Unset the split domain: retire {} for {}", ctx.source.name, ctx.domains().join(", ")),
        )
        .why("Seed, \"Unsetting Split-Domain Configurations\": every user is on Zimbra; the accounts' transports were switched batch by batch, so what is left is the old system's side.");
        match &ctx.source.kind {
            MtaDefKind::Foreign(f) => {
                unset = unset.act(Action::Foreign {
                    mta: ctx.source.name.clone(),
                    edit: ForeignEdit {
                        remove_domains: ctx.domains().to_vec(),
                        unknown: Some(f.unknown),
                        unknown_relay: Some(f.unknown_relay.clone()),
                        ..ForeignEdit::default()
                    },
                    words: vec![format!(
                        "{} no longer hosts {}: remove the domain(s) from its accepted domains, so its users' mail for them goes to {ph} like any remote mail.",
                        ctx.source.name,
                        ctx.domains().join(", ")
                    )],
                });
            }
            MtaDefKind::Zimbra { .. } => {
                unset = unset.act(Action::Manual {
                    system: ctx.source.name.clone(),
                    words: vec![format!(
                        "{} keeps its split-domain settings: it forwards every address of {} to {ph}. Shut it down once its old mailboxes are no longer needed (their accounts are mail-disabled).",
                        ctx.source.name,
                        ctx.domains().join(", ")
                    )],
                });
            }
        }
        slots.push(Slot::Step(
            unset.probes([ctx.users[0].clone(), ctx.unknown_probe()]),
        ));
    } else if !ctx.all_move() {
        notes.push(format!(
            "{} of {} users stay on {}: the split domain stays in place (no unset step).",
            ctx.users.len() - ctx.moved().len(),
            ctx.users.len(),
            ctx.source.name
        ));
    }
    Ok(Blueprint::new(&ctx, slots, batches, notes, th))
}

/// Seed "Split-Domain Example 2": the old system stays authoritative; the Zimbra target is a
/// secondary that accepts every address and sends what it does not host back.
pub(crate) fn primary_other(mut ctx: Ctx<'_>) -> Result<Blueprint, SpecError> {
    let spec = ctx.spec;
    let (oh, zh, th) = (
        ctx.source.hostname.clone(),
        ctx.target.hostname.clone(),
        ctx.target_host.clone(),
    );
    let tdir = ctx.target_directory().clone();
    let mut notes = std::mem::take(&mut ctx.notes);
    for u in &ctx.users {
        if tdir.name_in_use(u).is_some() {
            return Err(spec.invalid(
                "target.mta",
                format!(
                    "{u} already exists on {}: a secondary holds only the users it hosts",
                    ctx.target.name
                ),
            ));
        }
    }
    // 1. Zimbra as secondary
    let mut lines = Vec::new();
    for d in ctx.domains() {
        if tdir.domain(d).is_none() {
            lines.push(zline(&["cd", d]));
        }
        lines.extend(secondary_lines(d, &oh));
    }
    let topo = ctx.world.topology();
    let relay_ok = match &ctx.source.kind {
        MtaDefKind::Foreign(_) => true,
        MtaDefKind::Zimbra { .. } => {
            match (
                topo.mta_index(&ctx.target.name),
                topo.mta_index(&ctx.source.name),
            ) {
                (Some(z), Some(o)) => topo.trusted(z, o),
                _ => false,
            }
        }
    };
    if relay_ok {
        lines.push(zline(&["mcf", "zimbraMtaRelayHost", &oh]));
        lines.push(zline(&["mcf", "zimbraMtaDnsLookupsEnabled", "FALSE"]));
    } else {
        notes.push(format!(
            "{} is not in the mynetworks of {}: the seed's relay host and DNS-lookup lines are left out, {} sends its outbound mail itself.",
            ctx.target.name, ctx.source.name, ctx.target.name
        ));
    }
    let first = ctx.users.first().cloned().unwrap_or_default();
    let prepare = StepDef::new(
        "prepare-target",
        format!("Configure {} as the secondary for {}", ctx.target.name, ctx.domains().join(", ")),
    )
    .why("Seed, \"If this was a Zimbra Server\": the catch-all (@dom to @dom) makes Zimbra accept every address of the domain, the domain's zimbraMailTransport sends the ones it has no account for to the primary; the relay host and DNS lookups off route all other mail through the primary.")
    .act(ctx.zmprov_target(lines))
    .probes([first.clone(), ctx.unknown_probe()]);

    // 2. batches
    let maint = uses_maintenance(ctx.data);
    let zimbra_source = ctx.source.directory().is_some();
    let mut batches = Vec::new();
    for (i, b) in ctx.batches.iter().enumerate() {
        let users = users_of(b);
        let names = b.1.clone();
        let mut steps = Vec::new();
        let create = create_lines(&ctx, &users, maint, str::to_string);
        steps.push(
            StepDef::new("create", format!("{}: create the accounts on {}", b.0, ctx.target.name))
                .in_batch(i)
                .why(if maint {
                    "The accounts exist on Zimbra before mail is routed to them (in maintenance until their data is there); until then Zimbra's own users reach them through the primary."
                } else {
                    "The accounts exist on Zimbra before mail is routed to them; until then Zimbra's own users reach them through the primary."
                })
                .act(ctx.zmprov_target(create))
                .probes(names.iter().take(2).cloned()),
        );
        if maint && zimbra_source {
            steps.push(source_maintenance(&ctx, i, &b.0, &names, "Seed, \"Set Accounts To Maintenance\": no logins and no deliveries on the old server while the backup runs."));
        }
        let switch = match &ctx.source.kind {
            MtaDefKind::Foreign(_) => Action::Foreign {
                mta: ctx.source.name.clone(),
                edit: ForeignEdit {
                    set_routes: names.iter().map(|u| (u.clone(), format!("[{zh}]"))).collect(),
                    ..ForeignEdit::default()
                },
                words: vec![format!(
                    "Route {} to {zh} (a per-recipient route or forwarding to the Zimbra secondary).",
                    names.join(", ")
                )],
            },
            MtaDefKind::Zimbra { .. } => ctx.zmprov_source(
                names
                    .iter()
                    .map(|u| zline(&["ma", u, "zimbraMailTransport", &format!("smtp:{zh}:25")]))
                    .collect(),
            ),
        };
        steps.push(
            StepDef::new("switch", format!("{}: route to {}", b.0, ctx.target.name))
                .in_batch(i)
                .why(format!("The primary ({}) routes the batch to Zimbra; this must come after the accounts exist there, or Zimbra's catch-all sends the mail straight back.", ctx.source.name))
                .act(switch)
                .probes(names.iter().take(2).cloned()),
        );
        if let MtaDefKind::Foreign(_) = &ctx.source.kind {
            steps.push(
                StepDef::new("retire-source", format!("{}: retire the old mailboxes", b.0))
                    .in_batch(i)
                    .why(format!("{} stays authoritative: it must route the batch to Zimbra before it forgets the mailboxes, or it refuses their mail as unknown.", ctx.source.name))
                    .act(Action::Foreign {
                        mta: ctx.source.name.clone(),
                        edit: ForeignEdit {
                            remove_mailboxes: names.clone(),
                            ..ForeignEdit::default()
                        },
                        words: vec![format!(
                            "Remove the mailboxes of {} (keep their data until the copy is checked); the route to {zh} stays.",
                            names.join(", ")
                        )],
                    })
                    .probes(names.iter().take(2).cloned()),
            );
        }
        batches.push(close_batch(&ctx, i, b, users, &oh, maint, steps));
    }
    let mut slots = vec![Slot::Step(prepare), Slot::Batches];
    if ctx.all_move() && spec.unset != Some(false) {
        let mx = mx_step(
            &ctx,
            &zh,
            &format!(
                "Point the MX of {} at {}",
                ctx.domains().join(", "),
                ctx.target.name
            ),
        )
        .why("Every user is on Zimbra: it becomes the primary.")
        .probes([first.clone(), ctx.unknown_probe()]);
        slots.push(Slot::Step(mx));
        // the seed's "Unsetting": null out what routes to the old primary; a value the
        // directory held before the migration that does not name it is given back
        let keep = |v: Option<&str>| -> String {
            v.filter(|v| !v.to_ascii_lowercase().contains(&oh.to_ascii_lowercase()))
                .filter(|v| !v.starts_with('@'))
                .unwrap_or("")
                .to_string()
        };
        let cfg = |attr: &str| -> String { keep(tdir.config.attrs.first(attr)) };
        let mut l = Vec::new();
        // the old primary's lists move with the domain (Zimbra sources)
        if let Some(sdir) = ctx.source_dir() {
            for list in sdir.lists() {
                let name = list.name.to_string().to_ascii_lowercase();
                if !ctx.in_domains(&name) || tdir.name_in_use(&name).is_some() {
                    continue;
                }
                l.extend(list_lines(&name, list));
            }
        }
        for d in ctx.domains() {
            let prev =
                |attr: &str| -> String { keep(tdir.domain(d).and_then(|x| x.attrs.first(attr))) };
            l.push(zline(&[
                "md",
                d,
                "zimbraMailCatchAllAddress",
                &prev("zimbraMailCatchAllAddress"),
            ]));
            l.push(zline(&[
                "md",
                d,
                "zimbraMailCatchAllForwardingAddress",
                &prev("zimbraMailCatchAllForwardingAddress"),
            ]));
            l.push(zline(&[
                "md",
                d,
                "zimbraMailTransport",
                &prev("zimbraMailTransport"),
            ]));
        }
        if relay_ok {
            l.push(zline(&[
                "mcf",
                "zimbraMtaRelayHost",
                &cfg("zimbraMtaRelayHost"),
            ]));
            l.push(zline(&["mcf", "zimbraMtaDnsLookupsEnabled", "TRUE"]));
        }
        let mut unset = StepDef::new(
            "unset",
            format!("Unset the split domain on {}", ctx.target.name),
        )
        .why("Seed, \"Unsetting Split-Domain Configurations\": null out the catch-all, the domain transport and the relay host, and turn DNS lookups back on (the accounts were adjusted batch by batch).")
        .act(ctx.zmprov_target(l));
        if let MtaDefKind::Foreign(f) = &ctx.source.kind {
            unset = unset.act(Action::Foreign {
                mta: ctx.source.name.clone(),
                edit: ForeignEdit {
                    remove_domains: ctx.domains().to_vec(),
                    remove_routes: ctx.users.clone(),
                    unknown: Some(f.unknown),
                    ..ForeignEdit::default()
                },
                words: vec![format!(
                    "{} no longer hosts {}: remove the domain(s) and the per-user routes; its users' mail for them goes to {zh} by MX.",
                    ctx.source.name,
                    ctx.domains().join(", ")
                )],
            });
        } else {
            unset = unset.act(Action::Manual {
                system: ctx.source.name.clone(),
                words: vec![format!(
                    "{} still routes each migrated account to {zh} (zimbraMailTransport); shut it down once its old mailboxes are no longer needed.",
                    ctx.source.name
                )],
            });
        }
        slots.push(Slot::Step(unset.probes([first, ctx.unknown_probe()])));
    } else if !ctx.all_move() {
        notes.push(format!(
            "{} of {} users stay on {}: it stays the primary and Zimbra the secondary (no MX switch, no unset step).",
            ctx.users.len() - ctx.moved().len(),
            ctx.users.len(),
            ctx.source.name
        ));
    }
    Ok(Blueprint::new(&ctx, slots, batches, notes, th))
}
