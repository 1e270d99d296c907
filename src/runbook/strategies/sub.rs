//! The hosting-company variants: a sub-domain (seed "Second Possibility") and an MTA head in
//! front of two Zimbra back ends (seed "Third Possibility").

use super::split::uses_maintenance;
use super::{
    copy_step, source_maintenance, status_lines, BatchPlan, Blueprint, Copy, Ctx, Slot, StepDef,
};
use crate::route::UnknownPolicy;
use crate::runbook::spec::SpecError;
use crate::runbook::steps::{zline, Action, ForeignEdit};

fn one_domain(ctx: &Ctx<'_>) -> Result<String, SpecError> {
    match ctx.domains() {
        [d] => Ok(d.clone()),
        _ => Err(ctx.spec.invalid(
            "domains",
            format!("{} migrates one domain at a time", ctx.spec.strategy),
        )),
    }
}

fn local(addr: &str) -> &str {
    addr.rsplit_once('@').map(|(l, _)| l).unwrap_or(addr)
}

/// Seed "Second Possibility": migrated users move to `migrate.DOMAIN` on the hosting Zimbra;
/// the customer's Zimbra stays authoritative and forwards each migrated user there.
pub(crate) fn subdomain(mut ctx: Ctx<'_>) -> Result<Blueprint, SpecError> {
    let spec = ctx.spec;
    let dom = one_domain(&ctx)?;
    let Some(sub) = spec.subdomain.clone() else {
        return Err(spec.invalid(
            "strategy",
            format!("strategy subdomain needs [subdomain] name = \"migrate.{dom}\""),
        ));
    };
    if sub.name == dom {
        return Err(spec.invalid(
            "subdomain.name",
            "the sub-domain must differ from the domain",
        ));
    }
    let tdir = ctx.target_directory().clone();
    let (ch, hh, th) = (
        ctx.source.hostname.clone(),
        ctx.target.hostname.clone(),
        ctx.target_host.clone(),
    );
    let mut notes = std::mem::take(&mut ctx.notes);
    let mut lines = Vec::new();
    if tdir.domain(&sub.name).is_none() {
        lines.push(zline(&["cd", &sub.name]));
    }
    let at_sub = format!("@{}", sub.name);
    let at_dom = format!("@{dom}");
    if sub.canonical {
        lines.push(zline(&[
            "md",
            &sub.name,
            "zimbraMailCatchAllAddress",
            &at_sub,
            "zimbraMailCatchAllCanonicalAddress",
            &at_dom,
        ]));
    } else {
        notes.push(format!(
            "The seed's `zmprov md {} zimbraMailCatchAllAddress {at_sub} zimbraMailCatchAllCanonicalAddress {at_dom}` is left out: Postfix's canonical_maps rewrites recipients too, so the hosting MTA would turn every user@{} back into user@{dom} and hand it to the customer's server, which forwards it back (a loop). Migrated users therefore send as user@{} until the sub-domain is renamed (see the last step). Set [subdomain] canonical = true to see the counterexample.",
            sub.name, sub.name, sub.name
        ));
    }
    notes.push(format!(
        "The seed's `zmprov mcf zimbraMtaRelayHost` / `zimbraMtaDnsLookupsEnabled FALSE` on the hosting server are left out: they are global and would route every hosted domain through {ch} (the seed: \"WITHOUT effecting the other domains\" is unsolved)."
    ));
    let mut prepare = StepDef::new(
        "prepare-target",
        format!("Create {} on {} and publish its MX", sub.name, ctx.target.name),
    )
    .why("Seed, \"Split-Domain Setup\": the migrated users live in the sub-domain on the hosting server until everyone is moved.")
    .act(ctx.zmprov_target(lines));
    if ctx.world.dns.mx_of(&sub.name).unwrap_or_default() != vec![(10, hh.clone())] {
        prepare = prepare.act(Action::Mx {
            domain: sub.name.clone(),
            records: vec![(10, hh.clone())],
        });
    }
    let prepare = prepare.probes([format!("no-such-user@{}", sub.name)]);
    let configure = StepDef::new(
        "configure-source",
        format!("{} forwards the addresses it does not hold to {}", ctx.source.name, sub.name),
    )
    .why(format!("Seed, \"Relaying/Domain Forwarding\": a catch-all on {dom} rewrites every address {} has no (mail-enabled) account for to the same user in {}; accounts leave {} by being mail-disabled, batch by batch.", ctx.source.name, sub.name, ctx.source.name))
    .act(ctx.zmprov_source(vec![zline(&[
        "md",
        &dom,
        "zimbraMailCatchAllAddress",
        &at_dom,
        "zimbraMailCatchAllForwardingAddress",
        &at_sub,
    ])]))
    .probes([ctx.unknown_probe()]);

    let maint = uses_maintenance(ctx.data);
    let mut batches = Vec::new();
    for (i, b) in ctx.batches.iter().enumerate() {
        let users: Vec<(String, String)> =
            b.1.iter()
                .map(|u| (u.clone(), format!("{}@{}", local(u), sub.name)))
                .collect();
        let src: Vec<String> = users.iter().map(|(s, _)| s.clone()).collect();
        let dst: Vec<String> = users.iter().map(|(_, t)| t.clone()).collect();
        let mut steps = Vec::new();
        let mut create: Vec<String> = Vec::new();
        for (s, t) in &users {
            let mut w = vec!["ca", t.as_str(), "", "zimbraMailHost", th.as_str()];
            if maint {
                w.extend(["zimbraAccountStatus", "maintenance"]);
            }
            create.push(zline(&w));
            // the old aliases, in the sub-domain: the catch-all forwards alias@DOMAIN there
            for a in ctx.source_aliases(s) {
                create.push(zline(&["aaa", t, &format!("{}@{}", local(&a), sub.name)]));
            }
        }
        steps.push(
            StepDef::new("create", format!("{}: create the accounts in {}", b.0, sub.name))
                .in_batch(i)
                .why("Seed, \"Move Restored Accounts Into Split-Domain\": the accounts exist in the sub-domain before the customer's server forwards to them.")
                .act(ctx.zmprov_target(create))
                .probes(dst.iter().take(2).cloned()),
        );
        if maint {
            steps.push(source_maintenance(&ctx, i, &b.0, &src, "Seed, \"Set Accounts To Maintenance\": \"They should stay this way after the backup is completed and will stay like that until the migration to the new server is complete\"."));
        }
        steps.push(copy_step(
            &Copy {
                ctx: &ctx,
                from_host: ch.clone(),
                from_system: ctx.source.name.clone(),
                users: &users,
            },
            i,
            format!("{}: copy the mailboxes", b.0),
        ));
        steps.push(
            StepDef::new("switch", format!("{}: forward to {}", b.0, sub.name))
                .in_batch(i)
                .why(format!("Seed, \"Forward Accounts That Were Moved\": mail for user@{dom} goes to user@{}. An alias cannot replace an account that exists, so the old account stays (with its data, in maintenance) but is mail-disabled: Postfix no longer sees it, and the domain's catch-all forwards its mail to the sub-domain.", sub.name))
                .act(ctx.zmprov_source(
                    src.iter()
                        .map(|s| zline(&["ma", s, "zimbraMailStatus", "disabled"]))
                        .collect(),
                ))
                .probes(src.iter().take(2).cloned()),
        );
        if maint {
            steps.push(
                StepDef::new("activate", format!("{}: back in service on {}", b.0, ctx.target.name))
                    .in_batch(i)
                    .why("The copy is complete: the new accounts accept logins and deliveries; queued mail is delivered.")
                    .act(ctx.zmprov_target(status_lines(&dst, "active")))
                    .probes(src.iter().take(2).cloned()),
            );
        }
        batches.push(BatchPlan {
            name: b.0.clone(),
            users,
            steps,
        });
    }
    let mut slots = vec![Slot::Step(prepare), Slot::Step(configure), Slot::Batches];
    if ctx.all_move() && spec.unset != Some(false) {
        let first = ctx.users[0].clone();
        let mut mx = StepDef::new(
            "mx-switch",
            format!("Point {dom} at {}: {dom} becomes an alias domain of {}", ctx.target.name, sub.name),
        )
        .why(format!("Everyone is on the hosting server. It accepts user@{dom} for user@{} and receives {dom}'s mail directly.", sub.name))
        .act(ctx.zmprov_target(vec![zline(&[
            "cad",
            &dom,
            &sub.name,
            "zimbraMailCatchAllForwardingAddress",
            &at_sub,
        ])]));
        if ctx.world.dns.mx_of(&dom).unwrap_or_default() != vec![(10, hh.clone())] {
            mx = mx.act(Action::Mx {
                domain: dom.clone(),
                records: vec![(10, hh.clone())],
            });
        }
        slots.push(Slot::Step(mx.probes([first.clone(), ctx.unknown_probe()])));
        slots.push(Slot::Step(
            StepDef::new("unset", format!("Retire {}", ctx.source.name))
                .why("Seed: \"Once everyone is moved over, it can be reconfigured to use the primary domain only and drop the use of the sub-domain.\"")
                .act(Action::Manual {
                    system: ctx.source.name.clone(),
                    words: vec![
                        format!("{} only forwards to {} now; shut it down once its old mailboxes are no longer needed.", ctx.source.name, sub.name),
                        format!("To make {dom} the users' primary addresses on {} later: zmprov dd {dom}, then zmprov -l rd {} {dom}, then zmprov cad {} {dom} zimbraMailCatchAllForwardingAddress {at_dom} (a domain rename: plan it as its own change).", ctx.target.name, sub.name, sub.name),
                    ],
                })
                .probes([first]),
        ));
    }
    Ok(Blueprint::new(&ctx, slots, batches, notes, th))
}

/// Seed "Third Possibility": a non-Zimbra MTA head owns the MX and rewrites each user to the
/// alias domain of the back end holding it; both back ends host the domain.
pub(crate) fn mta_head(mut ctx: Ctx<'_>) -> Result<Blueprint, SpecError> {
    let spec = ctx.spec;
    let dom = one_domain(&ctx)?;
    let Some(h) = spec.mta_head.clone() else {
        return Err(spec.invalid(
            "strategy",
            "strategy mta-head needs [mta_head] mta = \"NAME\" (and hostname = ... for a new head)",
        ));
    };
    let head = ctx
        .world
        .mta(&h.mta)
        .cloned()
        .ok_or_else(|| spec.invalid("mta_head.mta", "no such MTA"))?;
    if head.foreign().is_none() {
        return Err(spec.invalid(
            "mta_head.mta",
            format!("the head {} must be a non-Zimbra (foreign) MTA", head.name),
        ));
    }
    if head.name == ctx.source.name || head.name == ctx.target.name {
        return Err(spec.invalid("mta_head.mta", "the head must be a third MTA"));
    }
    let cl = h
        .source_alias
        .clone()
        .unwrap_or_else(|| format!("client.{dom}"));
    let ho = h
        .target_alias
        .clone()
        .unwrap_or_else(|| format!("hosting.{dom}"));
    if cl == ho || cl == dom || ho == dom {
        return Err(spec.invalid(
            "mta_head.source_alias",
            "the two back ends need two distinct alias domains, both different from the domain",
        ));
    }
    let (ch, hh, th, headh) = (
        ctx.source.hostname.clone(),
        ctx.target.hostname.clone(),
        ctx.target_host.clone(),
        head.hostname.clone(),
    );
    let tdir = ctx.target_directory().clone();
    let sdir = ctx.source_dir().cloned().unwrap_or_default();
    let notes = std::mem::take(&mut ctx.notes);
    let at_dom = format!("@{dom}");
    let split = |d: &str| {
        zline(&[
            "md",
            d,
            "zimbraMailCatchAllAddress",
            &at_dom,
            "zimbraMailCatchAllForwardingAddress",
            &at_dom,
            "zimbraMailTransport",
            &format!("smtp:[{headh}]:25"),
        ])
    };
    // the target hosts the domain too, and sends what it does not hold to the head
    let mut lines = Vec::new();
    if tdir.domain(&dom).is_none() {
        lines.push(zline(&["cd", &dom]));
    }
    if tdir.domain(&ho).is_none() {
        lines.push(zline(&[
            "cad",
            &ho,
            &dom,
            "zimbraMailCatchAllForwardingAddress",
            &at_dom,
        ]));
    }
    lines.push(split(&dom));
    let first = ctx.users[0].clone();
    let prepare = StepDef::new(
        "prepare-target",
        format!("{} hosts {dom} too, with {ho} as its routing name", ctx.target.name),
    )
    .why(format!("Seed: \"hosting.company.com has a domain alias pointing to company.com\". The split-domain catch-all sends every address of {dom} that {} has no account for to the head, which knows where each user is.", ctx.target.name))
    .act(ctx.zmprov_target(lines))
    .probes([first.clone(), ctx.unknown_probe()]);

    let mut head_step = StepDef::new(
        "prepare-head",
        format!("Configure the MTA head ({}) and the routing name {cl} of {}", head.name, ctx.source.name),
    )
    .why(format!("Seed: the head \"lookups username to determine server to deliver to\": each user of {dom} is rewritten to the alias domain of its back end and routed there; unknown users are refused at the head."));
    if sdir.domain(&cl).is_none() {
        head_step = head_step.act(ctx.zmprov_source(vec![zline(&[
            "cad",
            &cl,
            &dom,
            "zimbraMailCatchAllForwardingAddress",
            &at_dom,
        ])]));
    }
    head_step = head_step.act(Action::Foreign {
        mta: head.name.clone(),
        edit: ForeignEdit {
            add_domains: vec![dom.clone()],
            set_aliases: ctx
                .users
                .iter()
                .flat_map(|u| std::iter::once(u.clone()).chain(ctx.source_aliases(u)))
                .map(|u| {
                    let to = format!("{}@{cl}", local(&u));
                    (u, to)
                })
                .collect(),
            set_routes: vec![
                (cl.clone(), format!("[{ch}]")),
                (ho.clone(), format!("[{hh}]")),
            ],
            unknown: Some(UnknownPolicy::Reject),
            ..ForeignEdit::default()
        },
        words: vec![
            format!("Accept {dom}; rewrite each user to user@{cl} (all users start on {}); route {cl} to {ch} and {ho} to {hh}; refuse unknown users.", ctx.source.name),
        ],
    });
    let head_step = head_step.probes([first.clone(), ctx.unknown_probe()]);

    let mx = StepDef::new(
        "mx-switch",
        format!("Point the MX of {dom} at the MTA head ({})", head.name),
    )
    .why("All of the domain's mail now passes the head.")
    .act(Action::Mx {
        domain: dom.clone(),
        records: vec![(10, headh.clone())],
    })
    .probes([first.clone(), ctx.unknown_probe()]);

    let configure = StepDef::new(
        "configure-source",
        format!("{} sends what it does not hold to the head", ctx.source.name),
    )
    .why(format!("Users leaving {} are mail-disabled there; the split-domain catch-all sends their mail (and unknown users') to the head instead of bouncing it.", ctx.source.name))
    .act(ctx.zmprov_source(vec![split(&dom)]))
    .probes([ctx.unknown_probe()]);

    let maint = uses_maintenance(ctx.data);
    let mut batches = Vec::new();
    for (i, b) in ctx.batches.iter().enumerate() {
        let users: Vec<(String, String)> = b.1.iter().map(|u| (u.clone(), u.clone())).collect();
        let names = b.1.clone();
        let mut steps = Vec::new();
        steps.push(
            StepDef::new("create", format!("{}: create the accounts on {}", b.0, ctx.target.name))
                .in_batch(i)
                .why("Seed: \"Migrate user(s) via zmrestore command into the domain\": the accounts exist on the target before the head routes to it.")
                .act(ctx.zmprov_target(
                    names
                        .iter()
                        .flat_map(|u| {
                            let mut w = vec!["ca", u.as_str(), "", "zimbraMailHost", th.as_str()];
                            if maint {
                                w.extend(["zimbraAccountStatus", "maintenance"]);
                            }
                            std::iter::once(zline(&w)).chain(
                                ctx.source_aliases(u)
                                    .into_iter()
                                    .map(move |a| zline(&["aaa", u, &a])),
                            )
                        })
                        .collect(),
                ))
                .probes(names.iter().take(2).cloned()),
        );
        if maint {
            steps.push(source_maintenance(
                &ctx,
                i,
                &b.0,
                &names,
                "Seed, \"Set Accounts To Maintenance\" while the backup runs.",
            ));
        }
        steps.push(copy_step(
            &Copy {
                ctx: &ctx,
                from_host: ch.clone(),
                from_system: ctx.source.name.clone(),
                users: &users,
            },
            i,
            format!("{}: copy the mailboxes", b.0),
        ));
        steps.push(
            StepDef::new("switch", format!("{}: the head routes to {}", b.0, ctx.target.name))
                .in_batch(i)
                .why("Seed: \"userA@company.com is userA@hosting.company.com\" on the head once userA is migrated.")
                .act(Action::Foreign {
                    mta: head.name.clone(),
                    edit: ForeignEdit {
                        set_aliases: names
                            .iter()
                            .flat_map(|u| std::iter::once(u.clone()).chain(ctx.source_aliases(u)))
                            .map(|u| {
                                let to = format!("{}@{ho}", local(&u));
                                (u, to)
                            })
                            .collect(),
                        ..ForeignEdit::default()
                    },
                    words: vec![format!("Rewrite {} to {ho} (their new back end).", names.join(", "))],
                })
                .probes(names.iter().take(2).cloned()),
        );
        steps.push(
            StepDef::new("retire-source", format!("{}: retire the old accounts on {}", b.0, ctx.source.name))
                .in_batch(i)
                .why(format!("Seed: \"Migrated users will have alias setup to forward\": mail-disabled on {}, the catch-all sends their mail to the head, which routes it to {}.", ctx.source.name, ctx.target.name))
                .act(ctx.zmprov_source(
                    names
                        .iter()
                        .map(|u| zline(&["ma", u, "zimbraMailStatus", "disabled"]))
                        .collect(),
                ))
                .probes(names.iter().take(2).cloned()),
        );
        if maint {
            steps.push(
                StepDef::new("activate", format!("{}: back in service", b.0))
                    .in_batch(i)
                    .why("The copy is complete: the accounts accept logins and deliveries; queued mail is delivered.")
                    .act(ctx.zmprov_target(status_lines(&names, "active")))
                    .probes(names.iter().take(2).cloned()),
            );
        }
        batches.push(BatchPlan {
            name: b.0.clone(),
            users,
            steps,
        });
    }
    let mut slots = vec![
        Slot::Step(prepare),
        Slot::Step(head_step),
        Slot::Step(mx),
        Slot::Step(configure),
        Slot::Batches,
    ];
    if ctx.all_move() && spec.unset != Some(false) {
        let prev = |attr: &str| {
            tdir.domain(&dom)
                .and_then(|d| d.attrs.first(attr))
                .unwrap_or("")
                .to_string()
        };
        slots.push(Slot::Step(
            StepDef::new("unset", format!("Unset: {} holds everyone, the head and {} retire", ctx.target.name, ctx.source.name))
                .why("Seed, \"Unsetting Split-Domain Configurations\" on the back end that stays: the MX goes to it directly and its catch-all and domain transport are nulled out.")
                .act(Action::Mx {
                    domain: dom.clone(),
                    records: vec![(10, hh.clone())],
                })
                .act(ctx.zmprov_target(vec![zline(&[
                    "md",
                    &dom,
                    "zimbraMailCatchAllAddress",
                    &prev("zimbraMailCatchAllAddress"),
                    "zimbraMailCatchAllForwardingAddress",
                    &prev("zimbraMailCatchAllForwardingAddress"),
                    "zimbraMailTransport",
                    &prev("zimbraMailTransport"),
                ])]))
                .act(Action::Manual {
                    system: head.name.clone(),
                    words: vec![format!("The head no longer receives {dom}'s mail; remove its {dom} configuration when its queue is empty.")],
                })
                .act(Action::Manual {
                    system: ctx.source.name.clone(),
                    words: vec![format!("{} forwards whatever still reaches it to the head; shut it down once its old mailboxes are no longer needed.", ctx.source.name)],
                })
                .probes([first, ctx.unknown_probe()]),
        ));
    }
    Ok(Blueprint::new(&ctx, slots, batches, notes, th))
}
