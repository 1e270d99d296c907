//! Fuzz the move planner's inputs: two LDIF directories, the domain and the options. Planning
//! gives a plan or an error, never a panic; a plan's report keeps one line per item whatever
//! the names hold; a clean plan writes LDIF that reads back (as many entries as planned),
//! change records, and a fix script with no command the input could forge.
//!
//! Input: one flag byte, then NUL-separated parts: source LDIF, target LDIF, domain, rename
//! (empty: none), `OLD=NEW` host-map lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zimbra_prov::dit::{self, IdPolicy, MoveOptions};
use zimbra_prov::ldif::Reader;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.split(|&b| b == 0);
    let source = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let text = |p: Option<&[u8]>| String::from_utf8_lossy(p.unwrap_or_default()).into_owned();
    let domain = text(parts.next());
    let rename = text(parts.next());
    let map_hosts = text(parts.next())
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let opts = MoveOptions {
        rename: (!rename.is_empty()).then_some(rename),
        map_hosts,
        ids: match flags & 3 {
            0 => IdPolicy::Keep,
            1 => IdPolicy::RegenerateOnCollision,
            _ => IdPolicy::RegenerateAll,
        },
        copy_missing_cos: flags & 4 == 0,
        include_alias_domains: flags & 8 == 0,
        include_servers: flags & 16 != 0,
        ..MoveOptions::default()
    };
    let Ok(plan) = dit::plan_move_ldif(source, target, &domain, &opts) else {
        return;
    };
    // the report: one line per item, so no name can forge a line of it
    let report = plan.to_string();
    let references: usize = plan.references.iter().map(|r| 1 + r.fix.len()).sum();
    let expected = 1
        + 1
        + plan.conflicts.len()
        + 1
        + plan.counts().len()
        + 2
        + 1
        + plan.follow_ups.len()
        + 1
        + references;
    assert_eq!(report.lines().count(), expected, "{report}");
    let mut script = Vec::new();
    let commands = plan.write_fixes(&mut script).expect("fixes to memory");
    let script = String::from_utf8_lossy(&script);
    let lines = script.lines().filter(|l| !l.starts_with('#')).count() as u64;
    assert_eq!(lines, commands, "{script}");
    if !plan.is_clean() {
        assert!(plan.write_ldif(Vec::new()).is_err(), "conflicts refuse writing");
        return;
    }
    let mut out = Vec::new();
    let written = plan.write_ldif(&mut out).expect("a clean plan writes");
    assert_eq!(written as usize, plan.entries.len());
    let back = Reader::new(&out[..])
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("written LDIF unreadable: {e}"));
    assert_eq!(back.len(), plan.entries.len());
    plan.write_changes(Vec::new()).expect("a clean plan writes changes");
});
