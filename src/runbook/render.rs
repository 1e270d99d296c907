//! Writing a runbook: Markdown for the admin, a scenario TOML for `route plan`, and one shell
//! script per system and step. Pure functions of the [`Runbook`]: the same runbook gives the
//! same bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::steps::Applied;
use super::world::{DirSource, MtaDefKind, World};
use super::{Runbook, RunbookStep, Verification};
use crate::route::{ForeignMta, UnknownPolicy};

/// Quote a word for a POSIX shell (single quotes unless it is plainly safe).
pub(crate) fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '@' | '%' | '+' | '=' | ':' | ',' | '.' | '/' | '_' | '-')
        });
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A zmprov line as a shell command: each word re-quoted for the shell.
fn zmprov_shell(line: &str) -> String {
    match crate::zmprov::split_words(line) {
        Ok(words) => {
            let q: Vec<String> = words.iter().map(|w| shell_quote(w)).collect();
            format!("zmprov {}", q.join(" "))
        }
        Err(_) => format!("zmprov {line}"),
    }
}

/// A TOML basic string.
fn tq(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML multi-line string holding `text` (ending with a newline).
fn tq_multi(text: &str) -> String {
    let mut t = text.to_string();
    if !t.ends_with('\n') {
        t.push('\n');
    }
    let literal_ok = !t.contains("'''")
        && t.chars()
            .all(|c| c == '\n' || c == '\t' || !((c as u32) < 0x20 || c as u32 == 0x7f));
    if literal_ok {
        format!("'''\n{t}'''")
    } else {
        tq(&t)
    }
}

fn tlist(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|s| tq(s)).collect();
    format!("[{}]", items.join(", "))
}

fn tmap(m: &BTreeMap<String, String>) -> String {
    let items: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{} = {}", tq(k), tq(v)))
        .collect();
    format!("{{ {} }}", items.join(", "))
}

/// What a system is called in the runbook: the MTA running on a host, else the host.
fn system_name(world: &World, host_or_name: &str) -> String {
    world
        .mtas
        .iter()
        .find(|m| m.name == host_or_name || m.hostname.eq_ignore_ascii_case(host_or_name))
        .map(|m| m.name.clone())
        .unwrap_or_else(|| host_or_name.to_string())
}

fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn policy(f: &ForeignMta) -> String {
    match f.unknown {
        UnknownPolicy::Reject => "reject".into(),
        UnknownPolicy::Bounce => "accept, then bounce".into(),
        UnknownPolicy::Relay => format!(
            "relay to {}",
            f.unknown_relay
                .as_deref()
                .or(f.relayhost.as_deref())
                .unwrap_or("(no relay host)")
        ),
    }
}

/// The table entries that change between two states of a foreign MTA.
pub(crate) fn table_diff(before: &ForeignMta, after: &ForeignMta) -> Vec<String> {
    let mut out = Vec::new();
    let lc = |v: &[String]| -> Vec<String> { v.iter().map(|s| s.to_ascii_lowercase()).collect() };
    // `sign what x` for each x of `from` that `other` lacks
    let missing =
        |out: &mut Vec<String>, sign: char, what: &str, from: &[String], other: &[String]| {
            for x in from {
                if !other.contains(x) {
                    out.push(format!("{sign} {what} {x}"));
                }
            }
        };
    let (bd, ad) = (lc(&before.domains), lc(&after.domains));
    missing(&mut out, '+', "domain", &ad, &bd);
    missing(&mut out, '-', "domain", &bd, &ad);
    let (bm, am) = (lc(&before.mailboxes), lc(&after.mailboxes));
    missing(&mut out, '-', "mailbox", &bm, &am);
    missing(&mut out, '+', "mailbox", &am, &bm);
    let map_diff = |out: &mut Vec<String>,
                    what: &str,
                    b: &BTreeMap<String, String>,
                    a: &BTreeMap<String, String>| {
        for (k, v) in b {
            if a.get(k) != Some(v) {
                out.push(format!("- {what} {k} -> {v}"));
            }
        }
        for (k, v) in a {
            if b.get(k) != Some(v) {
                out.push(format!("+ {what} {k} -> {v}"));
            }
        }
    };
    map_diff(&mut out, "rewrite", &before.aliases, &after.aliases);
    map_diff(&mut out, "route", &before.routes, &after.routes);
    if policy(before) != policy(after) {
        out.push(format!(
            "unknown recipients of its domains: {} -> {}",
            policy(before),
            policy(after)
        ));
    }
    if before.relayhost != after.relayhost {
        out.push(format!(
            "relay host: {} -> {}",
            before.relayhost.as_deref().unwrap_or("none"),
            after.relayhost.as_deref().unwrap_or("none")
        ));
    }
    if before.dns_lookups != after.dns_lookups {
        out.push(format!(
            "DNS (MX) lookups: {} -> {}",
            before.dns_lookups, after.dns_lookups
        ));
    }
    out
}

/// `words` as a list, one `- ` line each (the Markdown and the scripts' here-documents alike).
fn bullets(s: &mut String, words: &[String]) {
    for w in words {
        let _ = writeln!(s, "- {w}");
    }
}

fn mx_text(v: &[(u16, String)]) -> String {
    if v.is_empty() {
        "no MX".into()
    } else {
        v.iter()
            .map(|(p, h)| format!("MX {p} {h}."))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

// ---------------------------------------------------------------------------------------
// Markdown

fn md_action(s: &mut String, world: &World, a: &Applied) {
    match a {
        Applied::Zmprov { host, lines, .. } => {
            let _ = writeln!(
                s,
                "On **{}** (`{host}`), as the zimbra user:\n\n```sh",
                system_name(world, host)
            );
            for l in lines {
                let _ = writeln!(s, "zmprov {l}");
            }
            s.push_str("```\n\n");
        }
        Applied::Foreign {
            mta,
            hostname,
            before,
            after,
            words,
        } => {
            let _ = writeln!(s, "On **{mta}** (`{hostname}`, not Zimbra), by hand:\n");
            bullets(s, words);
            let diff = table_diff(before, after);
            if !diff.is_empty() {
                s.push_str("\nAs table entries:\n\n```text\n");
                for d in diff {
                    let _ = writeln!(s, "{d}");
                }
                s.push_str("```\n");
            }
            s.push('\n');
        }
        Applied::Mx {
            domain,
            before,
            after,
        } => {
            let _ = writeln!(
                s,
                "In **DNS**:\n\n```text\n{domain}. {} (was: {})\n```\n",
                mx_text(after),
                mx_text(before)
            );
        }
        Applied::UseDirectory {
            mta,
            hostname,
            before,
            after,
            loaded,
        } => {
            let _ = writeln!(
                s,
                "On **{mta}** (`{hostname}`): from now on it reads the directory `{after}`{} instead of `{before}`.\n",
                if loaded.is_some() {
                    " (with move/move.ldif loaded)"
                } else {
                    ""
                }
            );
        }
        Applied::Shell {
            system,
            host,
            user,
            lines,
        } => {
            let host = if host.contains(' ') {
                host.clone()
            } else {
                format!("`{host}`")
            };
            let user = if user == "zimbra" {
                "the zimbra user"
            } else {
                user.as_str()
            };
            let _ = writeln!(
                s,
                "On **{}** ({host}), as {user}:\n\n```sh",
                system_name(world, system)
            );
            for l in lines {
                let _ = writeln!(s, "{l}");
            }
            s.push_str("```\n\n");
        }
        Applied::Manual { system, words } => {
            let _ = writeln!(s, "On **{}**, by hand:\n", system_name(world, system));
            bullets(s, words);
            s.push('\n');
        }
    }
}

fn md_verification(s: &mut String, v: &Verification) {
    let _ = writeln!(
        s,
        "**Verification:** {}\n\n```text\n{}\n```\n",
        if v.ok {
            "no loop, no lost mail, nothing deferred for good, every user of the migration reaches a mailbox, outbound mail still leaves."
        } else {
            "FAILS (see the findings)."
        },
        v.counts
    );
    if !v.warnings.is_empty() {
        s.push_str("Warnings (not failures):\n\n```text\n");
        for w in &v.warnings {
            let _ = writeln!(s, "{w}");
        }
        s.push_str("```\n\n");
    }
}

const MAX_CHANGES: usize = 12;

fn md_step(s: &mut String, rb: &Runbook, i: usize, st: &RunbookStep) {
    let before = if i == 0 {
        &rb.initial_world
    } else {
        &rb.worlds[i - 1]
    };
    let _ = writeln!(s, "## Step {}: {}\n", st.number, st.title);
    let batch = match st.batch.as_deref() {
        Some(b) if b.starts_with("batch ") => format!(" ({b})"),
        Some(b) => format!(" (batch \"{b}\")"),
        None => String::new(),
    };
    let _ = writeln!(s, "`{}`{batch}\n", st.id);
    for w in &st.why {
        let _ = writeln!(s, "{w}\n");
    }
    if st.actions.is_empty() {
        s.push_str("Nothing to run.\n\n");
    }
    for a in &st.actions {
        md_action(s, before, a);
    }
    let scripts = step_scripts(rb, i, st);
    if !scripts.is_empty() {
        let names: Vec<String> = scripts.keys().map(|k| format!("`{k}`")).collect();
        let _ = writeln!(s, "Scripts: {}\n", names.join(", "));
    }
    if !st.flows.is_empty() {
        s.push_str("**Mail flow after this step:**\n\n```text\n");
        for f in &st.flows {
            let _ = writeln!(s, "{f}");
        }
        s.push_str("```\n\n");
    }
    md_verification(s, &st.verification);
    if st.changes_routing() {
        if st.verification.changes.is_empty() {
            s.push_str("**Whose mail changes route:** nobody's.\n\n");
        } else {
            let _ = writeln!(
                s,
                "**Whose mail changes route** ({} address class{}):\n\n```text",
                st.verification.changed_classes,
                if st.verification.changed_classes == 1 {
                    ""
                } else {
                    "es"
                }
            );
            for c in st.verification.changes.iter().take(MAX_CHANGES) {
                let _ = writeln!(s, "{c}");
            }
            if st.verification.changes.len() > MAX_CHANGES {
                let _ = writeln!(
                    s,
                    "... and {} more (route plan scenario.toml lists them all)",
                    st.verification.changes.len() - MAX_CHANGES
                );
            }
            s.push_str("```\n\n");
        }
    }
    s.push_str("**Rollback:**\n\n");
    if st.rollback.is_empty() {
        s.push_str("Nothing to undo: the step does not change routing.\n\n");
    } else {
        let after = &rb.worlds[i];
        for a in &st.rollback {
            md_action(s, after, a);
        }
        match &st.rollback_check {
            Ok(()) => {
                s.push_str("Checked: the rollback gives back the state before this step.\n\n")
            }
            Err(e) => {
                let _ = writeln!(s, "WARNING: the rollback does not give back the state before this step exactly ({e}).\n");
            }
        }
    }
}

/// The Markdown runbook.
pub(crate) fn markdown(rb: &Runbook) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Runbook: {}\n", rb.name);
    let _ = writeln!(
        s,
        "Generated by `zimbra-prov migrate plan {}`. Strategy `{}`: {}.\n",
        rb.spec_file,
        rb.strategy,
        strategy_line(rb)
    );
    let _ = writeln!(
        s,
        "Every state below was verified by simulating every address class from every entry point (the Internet by MX, and each MTA's own users): no loop, no lost mail, nothing deferred for good except batches in maintenance, outbound mail still leaves. Each rollback was applied to the state after its step and gives back the state before it.\n"
    );
    s.push_str("## Overview\n\n| # | step | systems | routing changes |\n|---|---|---|---|\n");
    for (i, st) in rb.steps.iter().enumerate() {
        let before = if i == 0 {
            &rb.initial_world
        } else {
            &rb.worlds[i - 1]
        };
        let systems: Vec<String> = st
            .systems()
            .iter()
            .map(|x| system_name(before, x))
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            st.number,
            st.title.replace('|', "\\|"),
            systems.join(", "),
            match st.verification.changed_classes {
                0 => "none".to_string(),
                1 => "1 address class".to_string(),
                n => format!("{n} address classes"),
            }
        );
    }
    s.push_str("\nIn the mail flows, `[internet]` is a sender on the Internet (by MX) and `[NAME]` a user of the MTA NAME.\n\n");
    if !rb.batches.is_empty() {
        s.push_str("Batches:\n\n");
        for (name, users) in &rb.batches {
            let names: Vec<String> = users
                .iter()
                .map(|(a, b)| {
                    if a == b {
                        a.clone()
                    } else {
                        format!("{a} -> {b}")
                    }
                })
                .collect();
            let _ = writeln!(s, "- {name}: {}", names.join(", "));
        }
        s.push('\n');
    }
    s.push_str("## Before you start\n\n");
    let _ = writeln!(s, "The current state, as the spec describes it:\n");
    md_verification(&mut s, &rb.initial);
    for n in &rb.notes {
        let _ = writeln!(s, "- {n}");
    }
    if !rb.notes.is_empty() {
        s.push('\n');
    }
    if !rb.reorders.is_empty() {
        s.push_str("## Order\n\nThe spec's order breaks; this runbook runs steps earlier where that is safe:\n\n");
        for r in &rb.reorders {
            let there = if r.wanted.is_dependency() {
                "Why".to_string()
            } else {
                format!("The state after `{}` there", r.wanted.step)
            };
            let _ = writeln!(
                s,
                "- `{}` cannot run where the spec puts it; `{}` runs first. {there}:\n\n```text\n{}```\n",
                r.wanted.step,
                r.instead,
                r.wanted.to_text()
            );
        }
        let _ = writeln!(s, "The order that works: {}.\n", rb.order().join(", "));
    }
    for (i, st) in rb.steps.iter().enumerate() {
        md_step(&mut s, rb, i, st);
    }
    s
}

fn strategy_line(rb: &Runbook) -> String {
    use super::StrategyKind as K;
    let d = rb.domains.join(", ");
    match rb.strategy {
        K::SplitPrimaryZimbra => format!("{} becomes the authoritative system for {d}; {} keeps the users not moved yet (seed \"Split-Domain Example 1\")", rb.target, rb.source),
        K::SplitPrimaryOther => format!("{} stays authoritative for {d}; {} is the secondary that users move to (seed \"Split-Domain Example 2\")", rb.source, rb.target),
        K::Subdomain => format!("users of {d} move from {} to a sub-domain on {} (seed \"Second Possibility\")", rb.source, rb.target),
        K::MtaHead => format!("a front MTA routes each user of {d} to {} or {} (seed \"Third Possibility\")", rb.source, rb.target),
        K::SameLdapNewMailstore => format!("mailboxes of {d} move to the new mailbox server {} in the same directory (seed \"Old ZCS To New ZCS - Using LDAP Replica\")", rb.final_host),
        K::DomainMove => format!("{d} moves from {}'s directory into {}'s (seed \"Old ZCS Email Domains To Another ZCS With Existing Domains\")", rb.source, rb.target),
    }
}

// ---------------------------------------------------------------------------------------
// Scenario

fn toml_mta_initial(s: &mut String, m: &super::world::MtaDef) {
    let _ = writeln!(s, "[[mta]]\nname = {}", tq(&m.name));
    match &m.kind {
        MtaDefKind::Zimbra {
            directory,
            overrides: o,
        } => {
            let _ = writeln!(
                s,
                "kind = \"zimbra\"\nhostname = {}\ndirectory = {}",
                tq(&m.hostname),
                tq(directory)
            );
            if let Some(v) = &o.relayhost {
                let _ = writeln!(s, "relayhost = {}", tq(v));
            }
            if let Some(v) = o.dns_lookups {
                let _ = writeln!(s, "dns_lookups = {v}");
            }
            if let Some(v) = &o.mynetworks {
                let _ = writeln!(s, "mynetworks = {}", tlist(v));
            }
            if let Some(v) = o.hopcount_limit {
                let _ = writeln!(s, "hopcount_limit = {v}");
            }
            if let Some(v) = &o.mydestination {
                let _ = writeln!(s, "mydestination = {}", tlist(v));
            }
            if let Some(v) = &o.recipient_delimiter {
                let _ = writeln!(s, "recipient_delimiter = {}", tq(v));
            }
            if let Some(v) = o.old_address_filter {
                let _ = writeln!(s, "old_address_filter = {v}");
            }
        }
        MtaDefKind::Foreign(f) => {
            let _ = writeln!(s, "kind = \"foreign\"\nhostname = {}", tq(&m.hostname));
            let _ = writeln!(
                s,
                "domains = {}\nmailboxes = {}",
                tlist(&f.domains),
                tlist(&f.mailboxes)
            );
            if !f.aliases.is_empty() {
                let _ = writeln!(s, "aliases = {}", tmap(&f.aliases));
            }
            if !f.routes.is_empty() {
                let _ = writeln!(s, "routes = {}", tmap(&f.routes));
            }
            let _ = writeln!(s, "unknown = {}", tq(&f.unknown.to_string()));
            if let Some(r) = &f.unknown_relay {
                let _ = writeln!(s, "unknown_relay = {}", tq(r));
            }
            if let Some(r) = &f.relayhost {
                let _ = writeln!(s, "relayhost = {}", tq(r));
            }
            let _ = writeln!(
                s,
                "dns_lookups = {}\nhopcount_limit = {}",
                f.dns_lookups, f.hopcount_limit
            );
        }
    }
    s.push('\n');
}

/// The fields of `after` that differ from `before` (all of them with `all`).
fn foreign_fields(s: &mut String, before: &ForeignMta, after: &ForeignMta) {
    if before.domains != after.domains {
        let _ = writeln!(s, "domains = {}", tlist(&after.domains));
    }
    if before.mailboxes != after.mailboxes {
        let _ = writeln!(s, "mailboxes = {}", tlist(&after.mailboxes));
    }
    if before.aliases != after.aliases {
        let _ = writeln!(s, "aliases = {}", tmap(&after.aliases));
    }
    if before.routes != after.routes {
        let _ = writeln!(s, "routes = {}", tmap(&after.routes));
    }
    if before.unknown != after.unknown {
        let _ = writeln!(s, "unknown = {}", tq(&after.unknown.to_string()));
    }
    if before.unknown_relay != after.unknown_relay {
        let _ = writeln!(
            s,
            "unknown_relay = {}",
            tq(after.unknown_relay.as_deref().unwrap_or(""))
        );
    }
    if before.relayhost != after.relayhost {
        let _ = writeln!(
            s,
            "relayhost = {}",
            tq(after.relayhost.as_deref().unwrap_or(""))
        );
    }
    if before.dns_lookups != after.dns_lookups {
        let _ = writeln!(s, "dns_lookups = {}", after.dns_lookups);
    }
}

/// The scenario TOML and the LDIF files it names (relative paths).
pub(crate) fn scenario(rb: &Runbook) -> Result<(String, BTreeMap<String, Vec<u8>>), String> {
    let mut s = String::new();
    let mut files = BTreeMap::new();
    let _ = writeln!(
        s,
        "# Generated by zimbra-prov migrate plan {}: the runbook's states, one [[step]] per step.\n# Re-check them with: route plan scenario.toml\nname = {}\n",
        rb.spec_file,
        tq(&format!("{} (runbook)", rb.name))
    );
    for (name, src) in &rb.sources {
        let _ = writeln!(s, "[[directory]]\nname = {}", tq(name));
        match src {
            DirSource::Zmprov(text) => {
                let _ = writeln!(s, "zmprov = {}\n", tq_multi(text.trim_start_matches('\n')));
            }
            DirSource::Ldif { file_name, bytes } => {
                let path = format!("directories/{}", file_safe(file_name));
                let _ = writeln!(s, "ldif = {}\n", tq(&path));
                files.insert(path, bytes.clone());
            }
        }
    }
    // directories loaded by a step exist from the start (no MTA reads them before)
    for st in &rb.steps {
        for a in &st.actions {
            if let Applied::UseDirectory {
                after,
                loaded: Some(d),
                ..
            } = a
            {
                let path = format!("directories/{}.ldif", file_safe(after));
                let mut out = Vec::new();
                crate::dit::write_directory(d, &mut out, &crate::dit::WriteOptions::slapadd())
                    .map_err(|e| e.to_string())?;
                let _ = writeln!(
                    s,
                    "[[directory]]\nname = {}\nldif = {}\n",
                    tq(after),
                    tq(&path)
                );
                files.insert(path, out);
            }
        }
    }
    for m in &rb.initial_world.mtas {
        toml_mta_initial(&mut s, m);
    }
    let dns = &rb.initial_world.dns;
    if !dns.mx.is_empty() || !dns.a.is_empty() {
        s.push_str("[dns]\n");
        if !dns.mx.is_empty() {
            let items: Vec<String> = dns
                .mx
                .iter()
                .map(|(d, v)| {
                    let recs: Vec<String> = v.iter().map(|(p, h)| format!("{p} {h}")).collect();
                    format!("{} = {}", tq(d), tlist(&recs))
                })
                .collect();
            let _ = writeln!(s, "mx = {{ {} }}", items.join(", "));
        }
        if !dns.a.is_empty() {
            let items: Vec<String> = dns
                .a
                .iter()
                .map(|(h, v)| format!("{} = {}", tq(h), tlist(v)))
                .collect();
            let _ = writeln!(s, "a = {{ {} }}", items.join(", "));
        }
        s.push('\n');
    }
    // the last step of each batch: its users are delivered at the target
    let mut batch_end: BTreeMap<usize, &str> = BTreeMap::new();
    for (i, st) in rb.steps.iter().enumerate() {
        if let Some(b) = &st.batch {
            batch_end.insert(i, b.as_str());
            batch_end.retain(|k, v| *k == i || *v != b.as_str());
        }
    }
    for (i, st) in rb.steps.iter().enumerate() {
        let width = rb.steps.len().to_string().len().max(2);
        let _ = writeln!(
            s,
            "[[step]]\nname = {}\n",
            tq(&format!("{:0width$} {}", st.number, st.id))
        );
        let mut zm: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut mtas: Vec<String> = Vec::new();
        let mut mx: Vec<(String, Vec<(u16, String)>)> = Vec::new();
        for a in &st.actions {
            match a {
                Applied::Zmprov {
                    directory, lines, ..
                } => zm
                    .entry(directory.as_str())
                    .or_default()
                    .extend(lines.iter().map(String::as_str)),
                Applied::Foreign {
                    mta, before, after, ..
                } => {
                    let mut t = format!("[[step.mta]]\nname = {}\n", tq(mta));
                    foreign_fields(&mut t, before, after);
                    mtas.push(t);
                }
                Applied::UseDirectory { mta, after, .. } => {
                    mtas.push(format!(
                        "[[step.mta]]\nname = {}\ndirectory = {}\n",
                        tq(mta),
                        tq(after)
                    ));
                }
                Applied::Mx { domain, after, .. } => mx.push((domain.clone(), after.clone())),
                Applied::Shell { .. } | Applied::Manual { .. } => {}
            }
        }
        if !zm.is_empty() {
            s.push_str("[step.zmprov]\n");
            for (d, lines) in &zm {
                let _ = writeln!(s, "{} = {}", tq(d), tq_multi(&lines.join("\n")));
            }
            s.push('\n');
        }
        for m in mtas {
            s.push_str(&m);
            s.push('\n');
        }
        if !mx.is_empty() {
            s.push_str("[step.dns.mx]\n");
            for (d, recs) in &mx {
                let r: Vec<String> = recs.iter().map(|(p, h)| format!("{p} {h}")).collect();
                let _ = writeln!(s, "{} = {}", tq(d), tlist(&r));
            }
            s.push('\n');
        }
        if let Some(b) = batch_end.get(&i) {
            if let Some((_, users)) = rb.batches.iter().find(|(n, _)| n == b) {
                for (src, dst) in users {
                    let _ = writeln!(
                        s,
                        "[[step.expect]]\nrcpt = {}\noutcome = \"delivered\"\nat = {}\nmailbox = {}\n",
                        tq(if src == dst { src } else { dst }),
                        tq(&rb.final_host),
                        tq(dst)
                    );
                }
            }
        }
    }
    Ok((s, files))
}

// ---------------------------------------------------------------------------------------
// Scripts

fn script_for(
    world: &World,
    st: &RunbookStep,
    system: &str,
    actions: &[&Applied],
    rollback: bool,
) -> String {
    let mut s = String::from("#!/bin/sh\n");
    let _ = writeln!(
        s,
        "# {} step {} ({}): {}\n# On {system}. Generated by zimbra-prov; see runbook.md, step {}.",
        if rollback { "Rollback of" } else { "Runbook" },
        st.number,
        st.id,
        st.title,
        st.number
    );
    let runs = actions
        .iter()
        .any(|a| matches!(a, Applied::Zmprov { .. } | Applied::Shell { .. }));
    if runs {
        s.push_str("set -eu\n");
    }
    let mut checked_user = false;
    for a in actions {
        match a {
            Applied::Zmprov { host, lines, .. } => {
                if !checked_user {
                    let _ = writeln!(s, "# run on {host}\n[ \"$(id -un)\" = zimbra ] || {{ echo \"run this as the zimbra user\" >&2; exit 1; }}");
                    checked_user = true;
                }
                for l in lines {
                    let _ = writeln!(s, "{}", zmprov_shell(l));
                }
            }
            Applied::Shell {
                host, user, lines, ..
            } => {
                let _ = writeln!(s, "# run on {host} as {user}");
                if user == "zimbra" && !checked_user {
                    s.push_str("[ \"$(id -un)\" = zimbra ] || { echo \"run this as the zimbra user\" >&2; exit 1; }\n");
                    checked_user = true;
                }
                for l in lines {
                    let _ = writeln!(s, "{l}");
                }
            }
            Applied::Foreign {
                mta,
                hostname,
                before,
                after,
                words,
            } => {
                let _ = writeln!(s, "# {mta} ({hostname}) is not a Zimbra server: make this change there by hand.\ncat <<'EOF'\nMANUAL CHANGE on {mta} ({hostname}):");
                bullets(&mut s, words);
                let diff = table_diff(before, after);
                if !diff.is_empty() {
                    s.push_str("As table entries:\n");
                    for d in diff {
                        let _ = writeln!(s, "  {d}");
                    }
                }
                s.push_str("EOF\n");
            }
            Applied::Mx {
                domain,
                before,
                after,
            } => {
                let _ = writeln!(s, "# DNS: prints nsupdate(1) input; pipe it to nsupdate -k KEYFILE, or change the zone by hand.\n# was: {domain}. {}\ncat <<'EOF'\nupdate delete {domain}. MX", mx_text(before));
                for (p, h) in after {
                    let _ = writeln!(s, "update add {domain}. 3600 MX {p} {h}.");
                }
                s.push_str("send\nEOF\n");
            }
            Applied::UseDirectory {
                mta, before, after, ..
            } => {
                let _ = writeln!(s, "cat <<'EOF'\nMANUAL CHANGE on {mta}: it reads the directory {after} from now on (was {before}); see runbook.md.\nEOF");
            }
            Applied::Manual { words, .. } => {
                let _ = writeln!(
                    s,
                    "cat <<'EOF'\nMANUAL STEP on {}:",
                    system_name(world, system)
                );
                bullets(&mut s, words);
                s.push_str("EOF\n");
            }
        }
    }
    s
}

fn group_by_system<'a>(
    world: &World,
    actions: &'a [Applied],
) -> BTreeMap<String, Vec<&'a Applied>> {
    let mut m: BTreeMap<String, Vec<&Applied>> = BTreeMap::new();
    for a in actions {
        m.entry(file_safe(&system_name(world, &a.system())))
            .or_default()
            .push(a);
    }
    m
}

fn step_dir(rb: &Runbook, st: &RunbookStep) -> String {
    let width = rb.steps.len().to_string().len().max(2);
    format!("scripts/{:0width$}-{}", st.number, file_safe(&st.id))
}

/// The scripts of one step (forward and rollback), by path.
fn step_scripts(rb: &Runbook, i: usize, st: &RunbookStep) -> BTreeMap<String, String> {
    let before = if i == 0 {
        &rb.initial_world
    } else {
        &rb.worlds[i - 1]
    };
    let after = rb.worlds.get(i).unwrap_or(before);
    let dir = step_dir(rb, st);
    let mut out = BTreeMap::new();
    for (sys, acts) in group_by_system(before, &st.actions) {
        out.insert(
            format!("{dir}/{sys}.sh"),
            script_for(before, st, &sys, &acts, false),
        );
    }
    for (sys, acts) in group_by_system(after, &st.rollback) {
        out.insert(
            format!("{dir}/{sys}.rollback.sh"),
            script_for(after, st, &sys, &acts, true),
        );
    }
    out
}

/// Every script, by path.
pub(crate) fn scripts(rb: &Runbook) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (i, st) in rb.steps.iter().enumerate() {
        out.extend(step_scripts(rb, i, st));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("a@b.c"), "a@b.c");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("smtp:[h]:25"), "'smtp:[h]:25'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(
            zmprov_shell("ca a@b.c '' zimbraMailTransport smtp:[h]:25"),
            "zmprov ca a@b.c '' zimbraMailTransport 'smtp:[h]:25'"
        );
    }

    #[test]
    fn toml_strings_round_trip() {
        for s in ["plain", "a\"b\\c", "tab\there", "nl\nx", "\u{1}"] {
            let doc = format!("v = {}", tq(s));
            let t: toml::Table = toml::from_str(&doc).unwrap();
            assert_eq!(t["v"].as_str(), Some(s));
        }
        for s in ["ca a@b.c ''\nma x y", "has ''' inside", "ends ''"] {
            let doc = format!("v = {}", tq_multi(s));
            let t: toml::Table = toml::from_str(&doc).unwrap();
            assert_eq!(t["v"].as_str().unwrap().trim_end_matches('\n'), s);
        }
    }
}
