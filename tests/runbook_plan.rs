//! Runbooks planned from the specs under tests/data/runbook: golden files (the seed's Example 1,
//! Example 2, the sub-domain and MTA-head variants; `ZIMBRA_PROV_BLESS=1` rewrites them), the
//! emitted scenario re-checked as `route plan` checks it, reordering and refusing unsafe
//! orders, every strategy end to end, deterministic output, rollbacks, atomic writes, and spec
//! errors that name file, line and key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use zimbra_prov::runbook::{plan, Runbook, RunbookError, Spec, SpecError, StrategyKind};
use zimbra_prov::scenario::Scenario;
use zimbra_prov::verify::{check, plan_scenario, FindingKind};

fn data(name: &str) -> String {
    format!("tests/data/runbook/{name}/spec.toml")
}

/// The runbook of a spec under tests/data/runbook, planned once per test run.
fn planned(name: &str) -> Runbook {
    static CACHE: OnceLock<Mutex<BTreeMap<String, Runbook>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(rb) = cache.lock().expect("cache").get(name) {
        return rb.clone();
    }
    let spec = Spec::load(Path::new(&data(name))).unwrap_or_else(|e| panic!("{e}"));
    let rb = plan(&spec).unwrap_or_else(|e| panic!("{name}: {e}"));
    cache
        .lock()
        .expect("cache")
        .insert(name.to_string(), rb.clone());
    rb
}

fn fresh(name: &str) -> Runbook {
    let spec = Spec::load(Path::new(&data(name))).unwrap_or_else(|e| panic!("{e}"));
    plan(&spec).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn spec_with(name: &str, extra: &str) -> Result<Spec, SpecError> {
    let text = std::fs::read_to_string(data(name)).expect("spec");
    Spec::parse(&format!("{text}\n{extra}"), &data(name))
}

/// The refusal of a spec whose order is fixed: the failing step and the order that works.
fn refused(spec: &Spec) -> (zimbra_prov::runbook::Failure, Option<Vec<String>>) {
    match plan(spec) {
        Err(RunbookError::UnsafeOrder { failure, working }) => (failure, working),
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(rb) => panic!("expected a refusal, got a runbook: {:?}", rb.order()),
    }
}

fn list(dir: &Path, base: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            list(&p, base, out);
        } else {
            out.push(
                p.strip_prefix(base)
                    .expect("inside")
                    .to_string_lossy()
                    .replace('\\', "/"),
            );
        }
    }
}

/// Compare the rendered files with `tests/data/runbook/NAME/golden` byte for byte.
fn golden(name: &str) {
    let rb = planned(name);
    let files = rb.files().unwrap_or_else(|e| panic!("{name}: {e}"));
    let dir = PathBuf::from(format!("tests/data/runbook/{name}/golden"));
    if std::env::var_os("ZIMBRA_PROV_BLESS").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        for (rel, bytes) in &files {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(&p, bytes).expect("write");
        }
        return;
    }
    let mut have = Vec::new();
    list(&dir, &dir, &mut have);
    have.sort();
    let want: Vec<String> = files.keys().cloned().collect();
    assert_eq!(
        have, want,
        "{name}: golden files differ in names (ZIMBRA_PROV_BLESS=1 cargo test --test runbook_plan rewrites them)"
    );
    for (rel, bytes) in &files {
        let old = std::fs::read(dir.join(rel)).expect("golden file");
        if &old != bytes {
            let (o, n) = (
                String::from_utf8_lossy(&old),
                String::from_utf8_lossy(bytes),
            );
            let line = o
                .lines()
                .zip(n.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(o.lines().count().min(n.lines().count()));
            panic!(
                "{name}/{rel} differs from the golden file at line {}:\n golden: {:?}\n    now: {:?}\n(ZIMBRA_PROV_BLESS=1 cargo test --test runbook_plan rewrites them)",
                line + 1,
                o.lines().nth(line),
                n.lines().nth(line)
            );
        }
    }
}

#[test]
fn golden_example1() {
    golden("example1");
}

#[test]
fn golden_example2() {
    golden("example2");
}

#[test]
fn golden_subdomain() {
    golden("subdomain");
}

#[test]
fn golden_mta_head() {
    golden("mta_head");
}

/// Asserts that step `first` comes before step `then` in `order`.
fn assert_before(order: &[String], first: &str, then: &str) {
    let pos = |id: &str| order.iter().position(|s| s == id).expect(id);
    assert!(pos(first) < pos(then), "{first} before {then}: {order:?}");
}

/// Plans `name` with `extra` (an order the planner must move), asserting the result proven.
fn reordered(name: &str, extra: &str) -> Runbook {
    let rb = plan(&spec_with(name, extra).expect("spec")).expect("reordered");
    assert_proven(&rb);
    rb
}

/// Every state verifies again, independently, and every moved user ends at the target.
fn assert_proven(rb: &Runbook) {
    for (name, topo) in rb.topologies() {
        let r = check(&topo);
        assert_eq!(r.count(FindingKind::Loop), 0, "{name}\n{}", r.to_text());
        assert_eq!(r.count(FindingKind::LostMail), 0, "{name}\n{}", r.to_text());
    }
    let (_, last) = rb.topologies().pop().expect("states");
    for (_, users) in &rb.batches {
        for (src, dst) in users {
            for a in [src, dst] {
                let t =
                    zimbra_prov::route::simulate(&last, &zimbra_prov::route::Entry::Internet, a)
                        .expect("a known entry and a parsable address");
                assert!(
                    t.leaves().iter().any(|l| matches!(
                        l.disposition,
                        zimbra_prov::route::Disposition::Delivered { host, mailbox }
                            if host.eq_ignore_ascii_case(&rb.final_host) && mailbox.eq_ignore_ascii_case(dst)
                    )),
                    "{a}\n{}",
                    t.to_text()
                );
            }
        }
    }
    for s in &rb.steps {
        assert!(s.verification.ok, "{}", s.id);
        assert_eq!(s.rollback_check, Ok(()), "{}", s.id);
    }
}

#[test]
fn every_strategy_plans_a_proven_runbook() {
    for (name, strategy) in [
        ("example1", StrategyKind::SplitPrimaryZimbra),
        ("example2", StrategyKind::SplitPrimaryOther),
        ("subdomain", StrategyKind::Subdomain),
        ("mta_head", StrategyKind::MtaHead),
        ("mailstore", StrategyKind::SameLdapNewMailstore),
        ("domain_move", StrategyKind::DomainMove),
    ] {
        let rb = planned(name);
        assert_eq!(rb.strategy, strategy);
        assert_proven(&rb);
        assert!(rb.reorders.is_empty(), "{name}: {:?}", rb.reorders);
        // the last step unsets the split domain or retires the old system
        assert_eq!(
            rb.steps.last().map(|s| s.kind.as_str()),
            Some("unset"),
            "{name}"
        );
    }
}

#[test]
fn the_emitted_scenario_passes_route_plan_and_check() {
    let rb = planned("example1");
    let dir = tempdir("scenario");
    rb.write_to(&dir).expect("written");
    let sc = Scenario::load(&dir.join("scenario.toml")).expect("loads");
    assert_eq!(sc.stages.len(), rb.steps.len() + 1);
    let report = plan_scenario(&sc);
    assert!(!report.has_loop_or_lost(), "{}", report.to_text());
    assert_eq!(report.first_breaking, None);
    let lines = sc.check();
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| l.ok), "{lines:?}");
    // and a broken step is caught: drop the transport switch of the pilot batch
    let text = std::fs::read_to_string(dir.join("scenario.toml")).expect("toml");
    let broken = text.replace(
        "ma secondary-user@yyy.state.xx.us zimbraMailTransport lmtp:primary.yyy.state.xx.us:7025\n",
        "",
    );
    assert_ne!(broken, text);
    let sc = Scenario::parse(&broken, "broken.toml", &Default::default()).expect("parses");
    assert!(plan_scenario(&sc).has_loop_or_lost());
    std::fs::remove_dir_all(&dir).ok();
}

/// The acceptance case: a spec whose batches would remove a mailbox (retire it on Exchange)
/// before its transport moves. Free order: the planner reorders and says why. Fixed order:
/// it refuses with the counterexample and an order that works.
#[test]
fn retiring_a_mailbox_before_its_transport_moves_is_reordered_or_refused() {
    let order = "[order]\nbatch = [\"retire-source\", \"switch\", \"copy\"]\n";
    let rb = reordered("example1", order);
    assert_eq!(rb.reorders.len(), 2);
    let r = &rb.reorders[0];
    assert_eq!(r.wanted.step, "batch-1.retire-source");
    assert_eq!(r.instead, "batch-1.switch");
    assert!(
        r.wanted.problems[0]
            .line
            .starts_with("loop secondary-user@yyy.state.xx.us "),
        "{:?}",
        r.wanted
    );
    assert!(r.wanted.to_text().contains("counterexample:"));
    assert_before(&rb.order(), "batch-1.switch", "batch-1.retire-source");
    let md = String::from_utf8(rb.files().expect("files")["runbook.md"].clone()).expect("utf-8");
    assert!(md.contains("## Order"), "{md}");
    assert!(md.contains(
        "`batch-1.retire-source` cannot run where the spec puts it; `batch-1.switch` runs first"
    ));

    let spec = spec_with("example1", &format!("{order}fixed = true\n")).expect("spec");
    let (failure, working) = refused(&spec);
    assert_eq!(failure.step, "batch-1.retire-source");
    assert!(failure.problems.iter().any(|p| p.line.starts_with("loop ")));
    let trace = &failure.problems[0].trace;
    assert!(trace.contains("Looped exchange -> primary"), "{trace}");
    let working = working.expect("an order that works");
    assert_before(&working, "batch-1.switch", "batch-1.retire-source");
    let text = RunbookError::UnsafeOrder {
        failure,
        working: Some(working),
    }
    .to_string();
    assert!(
        text.starts_with("the order is fixed and step batch-1.retire-source breaks:"),
        "{text}"
    );
    assert!(
        text.contains("an order that works: prepare-target, configure-source"),
        "{text}"
    );
}

#[test]
fn an_unsafe_global_order_is_reordered_and_explained() {
    // the MX first: the primary does not know the domain yet
    let rb = reordered(
        "example1",
        "[order]\nsteps = [\"mx-switch\", \"prepare-target\", \"configure-source\", \"batches\", \"unset\"]\n",
    );
    assert_eq!(rb.reorders[0].wanted.step, "mx-switch");
    assert!(
        rb.reorders[0].wanted.problems[0]
            .line
            .contains("Relay access denied"),
        "{:?}",
        rb.reorders[0]
    );
    assert_eq!(rb.order()[0], "prepare-target");
}

#[test]
fn the_seeds_catch_all_canonical_address_is_refused_with_its_loop() {
    let text = std::fs::read_to_string(data("subdomain"))
        .expect("spec")
        .replace(
            "name = \"migrate.company.com\"",
            "name = \"migrate.company.com\"\ncanonical = true",
        );
    let spec = Spec::parse(&text, "sub.toml").expect("spec");
    let err = match plan(&spec) {
        Err(e) => e.to_string(),
        Ok(rb) => panic!("expected the loop, got {:?}", rb.order()),
    };
    assert!(err.contains("loop no-such-user@"), "{err}");
    assert!(
        err.contains("no-such-user@migrate.company.com -> no-such-user@company.com"),
        "{err}"
    );
}

#[test]
fn planning_is_deterministic() {
    let a = fresh("subdomain").files().expect("files");
    let b = fresh("subdomain").files().expect("files");
    assert_eq!(a, b);
}

#[test]
fn rollbacks_are_specific_and_checked() {
    let rb = planned("example2");
    let create = rb
        .steps
        .iter()
        .find(|s| s.id == "batch-1.create")
        .expect("step");
    let files = rb.files().expect("files");
    let script = String::from_utf8(
        files[&format!(
            "scripts/{:02}-batch-1.create/zimbra.rollback.sh",
            create.number
        )]
            .clone(),
    )
    .expect("utf-8");
    assert!(
        script.contains("zmprov da bob@example.com\nzmprov da alice@example.com\n"),
        "{script}"
    );
    let unset = rb.steps.last().expect("unset");
    assert_eq!(
        unset.zmprov_lines("zimbra.example.com")[0],
        "md example.com zimbraMailCatchAllAddress ''"
    );
}

#[test]
fn scripts_quote_for_the_shell_and_refuse_the_wrong_user() {
    let rb = planned("example1");
    let files = rb.files().expect("files");
    let s =
        String::from_utf8(files["scripts/01-prepare-target/primary.sh"].clone()).expect("utf-8");
    assert!(s.starts_with("#!/bin/sh\n"));
    assert!(s.contains("set -eu\n"));
    assert!(s.contains("[ \"$(id -un)\" = zimbra ] ||"));
    assert!(
        s.contains("zmprov ca usera@yyy.state.xx.us '' zimbraMailHost primary.yyy.state.xx.us\n"),
        "{s}"
    );
    let dns = String::from_utf8(files["scripts/03-mx-switch/dns.sh"].clone()).expect("utf-8");
    assert!(
        dns.contains("update add yyy.state.xx.us. 3600 MX 10 primary.yyy.state.xx.us.\n"),
        "{dns}"
    );
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "zimbra-prov-runbook-{tag}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn write_to_replaces_only_its_own_directories() {
    let rb = planned("example1");
    let base = tempdir("write");
    std::fs::create_dir_all(&base).expect("mkdir");
    // a directory with someone else's files is left alone
    let foreign = base.join("notes");
    std::fs::create_dir_all(&foreign).expect("mkdir");
    std::fs::write(foreign.join("keep.txt"), "mine").expect("write");
    assert!(matches!(
        rb.write_to(&foreign),
        Err(zimbra_prov::runbook::OutputError::NotOurs { .. })
    ));
    assert_eq!(
        std::fs::read_to_string(foreign.join("keep.txt")).expect("kept"),
        "mine"
    );
    // a new directory, then replaced by the next run
    let out = base.join("rb");
    let written = rb.write_to(&out).expect("written");
    assert!(written.contains(&"runbook.md".to_string()));
    std::fs::write(out.join("stale.txt"), "old").expect("write");
    rb.write_to(&out).expect("rewritten");
    assert!(!out.join("stale.txt").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let m =
            std::fs::metadata(out.join("scripts/01-prepare-target/primary.sh")).expect("script");
        assert_eq!(m.permissions().mode() & 0o111, 0o111);
        // never through a symbolic link
        let link = base.join("link");
        std::os::unix::fs::symlink(&foreign, &link).expect("symlink");
        assert!(rb.write_to(&link).is_err());
        assert_eq!(std::fs::read_dir(&foreign).expect("dir").count(), 1);
    }
    // no temporary directories left behind
    let left: Vec<String> = std::fs::read_dir(&base)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    std::fs::remove_dir_all(&base).ok();
}

fn err(text: &str) -> String {
    match Spec::parse(text, "spec.toml").and_then(|s| {
        plan(&s).map(drop).map_err(|e| match e {
            RunbookError::Spec(e) => e,
            other => SpecError::Io {
                file: "plan".into(),
                message: other.to_string(),
            },
        })
    }) {
        Ok(()) => "ok".into(),
        Err(e) => e.to_string(),
    }
}

const TOPO: &str = r#"
[[directory]]
name = "zcs"
zmprov = "cs mx.example.org"
[[mta]]
name = "zimbra"
kind = "zimbra"
hostname = "mx.example.org"
directory = "zcs"
[[mta]]
name = "exchange"
kind = "foreign"
hostname = "ex.example.org"
domains = ["example.org"]
mailboxes = ["a@example.org", "b@example.org"]
[dns]
mx = { "example.org" = ["10 ex.example.org"] }
"#;

#[test]
fn spec_errors_name_file_line_and_key() {
    let head = "strategy = \"split-primary-zimbra\"\ndomains = [\"example.org\"]\nsource = { mta = \"exchange\" }\ntarget = { mta = \"zimbra\" }\n";
    let ok = format!("{head}{TOPO}[[batch]]\nusers = \"all-remaining\"\n");
    assert_eq!(err(&ok), "ok");
    let cases: BTreeMap<String, &str> = [
        (ok.replace("split-primary-zimbra", "sideways"), "spec.toml:1: strategy: unknown strategy \"sideways\""),
        (ok.replace("mta = \"exchange\"", "mta = \"exchnage\""), "spec.toml:3: source.mta: no MTA named \"exchnage\" in the topology (MTAs: zimbra, exchange)"),
        (format!("{head}{TOPO}[[batch]]\nusers = [\n  \"a@example.org\",\n  \"x@example.org\",\n]\n"), "spec.toml:25: batch.users: x@example.org is not a user of the source exchange"),
        (format!("{head}{TOPO}[[batch]]\nusers = [\"a@elsewhere.org\"]\n"), "spec.toml:23: batch.users: a@elsewhere.org is not in the migrated domain(s) example.org"),
        (format!("{head}{TOPO}[[batch]]\nusers = [\"a@example.org\"]\n[[batch]]\nusers = [\"a@example.org\"]\n"), "spec.toml:25: batch.users: a@example.org is already in batch 1 (line 23); a user moves once"),
        (format!("{head}{TOPO}[[batch]]\nusers = \"everyone\"\n"), "spec.toml:23: batch.users: \"everyone\": give a list of addresses or \"all-remaining\""),
        (format!("{head}{TOPO}"), "spec.toml:1: batch: no [[batch]]"),
        (ok.replace("zmprov = \"cs mx.example.org\"", "zmprov = \"cs mx.example.org\\nca x@nowhere.org pw\""), "spec.toml:8: directory.zmprov: ERROR: account.NO_SUCH_DOMAIN (no such domain: nowhere.org)"),
        (format!("{ok}[order]\nbatch = [\"switch\"]\n"), "spec.toml:25: order.batch: list every step of this runbook:"),
        (format!("{ok}[order]\nsteps = [\"dance\"]\n"), "spec.toml:25: order.steps: unknown step \"dance\""),
        (format!("{ok}[data]\nmethod = \"zmmailboxmove\"\n"), "spec.toml:25: data.method: zmmailboxmove moves mailboxes between servers of one directory"),
        (format!("{ok}[data]\nmethod = \"zmbackup\"\n"), "spec.toml:25: data.method: zmbackup needs a Zimbra source; exchange is not one (use imapsync)"),
        (format!("{ok}bogus = 1\n"), "spec.toml:"),
        (ok.replace("target = { mta = \"zimbra\" }", "target = { mta = \"zimbra\", host = \"mbx9.example.org\" }"), "spec.toml:4: target.host: directory \"zcs\" has no server mbx9.example.org"),
    ]
    .into_iter()
    .collect();
    for (text, want) in cases {
        let got = err(&text);
        assert!(got.starts_with(want), "want {want:?}\n got {got:?}");
    }
    // batch files: their own lines
    let dir = tempdir("batchfile");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("wave.txt"),
        "# wave 1\na@example.org\n\nnot-an-address\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("spec.toml"),
        format!("{head}{TOPO}[[batch]]\nfile = \"wave.txt\"\n"),
    )
    .expect("write");
    let e = match Spec::load(&dir.join("spec.toml")) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("the bad line was accepted"),
    };
    assert!(e.ends_with("wave.txt:4: batch.file: \"not-an-address\" is not an address: invalid address \"not-an-address\"") || e.contains("wave.txt:4: batch.file: \"not-an-address\" is not an address"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_current_topology_that_already_loops_is_refused() {
    // Exchange relays its unknowns to the primary, which forwards them back: the seed's loop
    let text = format!(
        "strategy = \"split-primary-zimbra\"\ndomains = [\"example.org\"]\nsource = {{ mta = \"exchange\" }}\ntarget = {{ mta = \"zimbra\" }}\n{}[[batch]]\nusers = \"all-remaining\"\n",
        TOPO.replace("mailboxes = [\"a@example.org\", \"b@example.org\"]", "mailboxes = [\"a@example.org\", \"b@example.org\"]\nunknown = \"relay\"\nunknown_relay = \"mx.example.org\"")
            .replace("directory = \"zcs\"", "directory = \"zcs\"\nmynetworks = [\"10.0.0.0/24\"]")
            .replace("[dns]", "[dns]\na = { \"mx.example.org\" = \"10.0.0.1\", \"ex.example.org\" = \"10.0.0.2\" }")
    );
    let spec = Spec::parse(&text, "loop.toml").expect("spec");
    let e = match plan(&spec) {
        Err(e) => e,
        Ok(rb) => panic!("expected a refusal, got {:?}", rb.order()),
    };
    assert!(matches!(e, RunbookError::InitialState { .. }), "{e}");
    assert!(
        e.to_string().contains("loop no-such-user@example.org"),
        "{e}"
    );
    let spec = Spec::parse(
        &text.replace("strategy =", "accept_initial_findings = true\nstrategy ="),
        "loop.toml",
    )
    .expect("spec");
    let rb = plan(&spec).expect("accepted");
    assert!(
        rb.initial
            .warnings
            .iter()
            .any(|w| w.contains("(already in the current state; accepted)")),
        "{:?}",
        rb.initial.warnings
    );
}

/// The scenario files the whole-topology oracle is to replay (tests/data/runbook/oracle/README.md)
/// exist, load, and every state verifies.
#[test]
fn oracle_hook_scenarios_load_and_verify() {
    let readme = std::fs::read_to_string("tests/data/runbook/oracle/README.md").expect("readme");
    let files: Vec<&str> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("- `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    for f in files {
        let sc = Scenario::load(Path::new(f)).unwrap_or_else(|e| panic!("{e}"));
        assert!(sc.stages.len() > 5, "{f}");
        let report = plan_scenario(&sc);
        assert!(!report.has_loop_or_lost(), "{f}\n{}", report.to_text());
        assert!(sc.check().iter().all(|l| l.ok), "{f}");
    }
}

/// Specs whose topology is one of the seed scenarios (`topology = "..."`): the ones that verify
/// plan to proven runbooks; the ones that already loop or lose mail are refused with it.
#[test]
fn specs_over_the_seed_scenarios() {
    let spec = |strategy: &str,
                domain: &str,
                source: &str,
                target: &str,
                file: &str,
                extra: &str| {
        Spec::parse(
            &format!(
                "strategy = \"{strategy}\"\ndomains = [\"{domain}\"]\nsource = {{ mta = \"{source}\" }}\ntarget = {{ mta = \"{target}\" }}\ntopology = \"tests/scenarios/{file}\"\n{extra}[[batch]]\nusers = \"all-remaining\"\n"
            ),
            file,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    };
    for s in [
        spec(
            "split-primary-zimbra",
            "yyy.state.xx.us",
            "exchange",
            "primary",
            "split_domain_example1.toml",
            "",
        ),
        spec(
            "split-primary-zimbra",
            "yyy.state.xx.us",
            "exchange",
            "primary",
            "migrate_user.toml",
            "",
        ),
        // already a split domain with Zimbra as the secondary: Example 2 from there
        spec(
            "split-primary-other",
            "example.com",
            "primary",
            "secondary",
            "secondary_zimbra.toml",
            "",
        ),
    ] {
        let rb = plan(&s).unwrap_or_else(|e| panic!("{}: {e}", s.file));
        assert_proven(&rb);
        assert_eq!(
            rb.steps.last().map(|s| s.kind.as_str()),
            Some("unset"),
            "{}",
            s.file
        );
    }
    // the unset step nulls out the split domain the secondary had before the runbook
    let rb = plan(&spec(
        "split-primary-other",
        "example.com",
        "primary",
        "secondary",
        "secondary_zimbra.toml",
        "",
    ))
    .expect("plans");
    let unset = rb.steps.last().expect("unset");
    assert!(unset
        .zmprov_lines("secondary.example.com")
        .contains(&"md example.com zimbraMailCatchAllAddress ''".to_string()));
    for (strategy, domain, source, target, file, extra) in [
        (
            "subdomain",
            "company.com",
            "customer",
            "hosting",
            "subdomain.toml",
            "[subdomain]\nname = \"migrate.company.com\"\n",
        ),
        (
            "mta-head",
            "company.com",
            "client",
            "hosting",
            "mta_head.toml",
            "[mta_head]\nmta = \"head\"\n",
        ),
    ] {
        match plan(&spec(strategy, domain, source, target, file, extra)) {
            Err(RunbookError::InitialState { problems }) => assert!(!problems.is_empty()),
            Err(e) => panic!("{file}: {e}"),
            Ok(rb) => panic!("{file}: planned {:?}", rb.order()),
        }
    }
}

/// The old server of a domain move becomes a replica of the target's LDAP: a source directory
/// that hosts another domain is refused (that domain would lose its directory).
#[test]
fn a_domain_move_refuses_a_source_with_other_domains() {
    let text = std::fs::read_to_string(data("domain_move"))
        .expect("spec")
        .replace(
            "cd company.com\n",
            "cd company.com\ncd stays.example\nca keep@stays.example secret\n",
        );
    let spec = Spec::parse(&text, "move.toml").expect("spec");
    match plan(&spec) {
        Err(RunbookError::Spec(e)) => {
            let e = e.to_string();
            assert!(
                e.starts_with("move.toml:8: source.mta: old's directory also hosts stays.example"),
                "{e}"
            );
        }
        Err(e) => panic!("{e}"),
        Ok(rb) => panic!("planned {:?}", rb.order()),
    }
}

/// What the mailbox data needs, which routing cannot show: a copy before the accounts it
/// writes into exist (Example 2 creates them per batch), or a zmmailboxmove after
/// zimbraMailHost already names the new server. Free order: moved and explained. Fixed order:
/// refused, naming the step it must wait for, with an order that works.
#[test]
fn an_order_against_the_mailbox_data_is_reordered_or_refused() {
    let order = "[order]\nbatch = [\"copy\", \"create\", \"switch\", \"retire-source\"]\n";
    let rb = reordered("example2", order);
    assert_before(&rb.order(), "batch-1.create", "batch-1.copy");
    let r = &rb.reorders[0];
    assert_eq!(
        (r.wanted.step.as_str(), r.instead.as_str()),
        ("batch-1.copy", "batch-1.create")
    );
    assert!(r.wanted.is_dependency());
    assert_eq!(
        r.wanted.problems[0].line,
        "cannot run before batch-1.create: the copy writes into the accounts that create makes on the target"
    );
    assert!(rb.summary().contains(
        "reordered: batch-1.create before batch-1.copy: batch-1.copy cannot run before batch-1.create:"
    ), "{}", rb.summary());

    let fixed = format!("{order}fixed = true\n");
    let (failure, working) = refused(&spec_with("example2", &fixed).expect("spec"));
    assert_eq!(failure.step, "batch-1.copy");
    assert!(failure.is_dependency(), "{failure:?}");
    let working = working.expect("an order that works");
    assert_before(&working, "batch-1.create", "batch-1.copy");

    // zmmailboxmove: the switch waits for the move
    let order =
        "[order]\nbatch = [\"maintenance\", \"switch\", \"copy\", \"activate\"]\nfixed = true\n";
    let (failure, _) = refused(&spec_with("mailstore", order).expect("spec"));
    assert_eq!(failure.step, "batch-1.switch");
    assert!(
        failure.problems[0]
            .line
            .starts_with("cannot run before batch-1.copy: zmmailboxmove"),
        "{failure:?}"
    );
    let order = "[order]\nbatch = [\"switch\", \"maintenance\", \"copy\", \"activate\"]\n";
    let rb = reordered("mailstore", order);
    assert_before(&rb.order(), "batch-1.copy", "batch-1.switch");

    // the maintenance window opens before the mail moves: set after the sub-domain's switch
    // (mail-disabled), maintenance enables mail on the old account again and its mail waits
    // there for good (found by tests/runbook_props.rs)
    let order =
        "[order]\nbatch = [\"copy\", \"create\", \"switch\", \"activate\", \"maintenance\"]\n";
    let rb = reordered("subdomain", order);
    assert_before(&rb.order(), "batch-1.maintenance", "batch-1.switch");
    let fixed = "[order]\nbatch = [\"create\", \"switch\", \"maintenance\", \"copy\", \"activate\"]\nfixed = true\n";
    let (failure, working) = refused(&spec_with("subdomain", fixed).expect("spec"));
    assert_eq!(failure.step, "batch-1.switch");
    assert!(
        failure.problems[0]
            .line
            .starts_with("cannot run before batch-1.maintenance: the batch's maintenance window"),
        "{failure:?}"
    );
    assert!(working.is_some());
}
