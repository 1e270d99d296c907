//! `route verify` / `plan` / `diff` on the seed scenarios: the command-line contract (finding
//! lines start with the kind and the address, then the counts; exit codes) and the expected
//! findings (the both-sides-forward case loops; the correct setups lose nothing).

use std::path::{Path, PathBuf};
use std::process::Command;

use zimbra_prov::scenario::Scenario;
use zimbra_prov::verify::{check, diff, plan_scenario, FindingKind};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scenario(name: &str) -> PathBuf {
    root().join("tests/scenarios").join(name)
}

fn route_bin() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", "route"])
        .current_dir(root())
        .status()
        .expect("cargo runs");
    assert!(status.success());
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let exe = target.join("debug/examples/route");
    assert!(exe.exists(), "{exe:?}");
    exe
}

fn run(exe: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(exe).args(args).output().expect("route runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const KINDS: &[&str] = &[
    "loop",
    "lost",
    "split-brain",
    "deferred",
    "hairpin",
    "backscatter",
    "silent",
];

/// Every line is a finding (`KIND ADDRESS ...`) or one of the two count lines.
fn assert_report_shape(out: &str) {
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 2, "{out}");
    for l in &lines[..lines.len() - 2] {
        let mut w = l.split(' ');
        let kind = w.next().unwrap_or("");
        let addr = w.next().unwrap_or("");
        assert!(KINDS.contains(&kind), "not a finding line: {l}");
        assert!(addr.contains('@'), "no address: {l}");
    }
    assert!(lines[lines.len() - 2].starts_with("checked "), "{out}");
    assert!(lines[lines.len() - 1].starts_with("findings: "), "{out}");
}

#[test]
fn verify_cli_contract_on_seed_scenarios() {
    let exe = route_bin();
    // both sides forward unknown users: loop, exit 1
    let f = scenario("both_forward_unknown.toml");
    let (code, out, err) = run(&exe, &["verify", f.to_str().unwrap_or("")]);
    assert_eq!(code, 1, "{out}{err}");
    assert_report_shape(&out);
    assert!(
        out.lines()
            .any(|l| l.starts_with("loop no-such-user@example.org ")),
        "{out}"
    );
    assert!(out.contains("findings: 1 loop, 0 lost"), "{out}");
    // the DSN of the looping message is written by the primary (the MTA before the refusing
    // Exchange in the cycle), which relays it out: not silent
    assert!(out.ends_with(", 0 silent\n"), "{out}");
    // the correct setups: no loop, no lost mail, exit 0
    for name in [
        "split_domain_example1.toml",
        "secondary_zimbra.toml",
        "migrate_user.toml",
        "domain_alias.toml",
        "transport_to_self.toml",
    ] {
        let f = scenario(name);
        let (code, out, err) = run(&exe, &["verify", f.to_str().unwrap_or("")]);
        assert_eq!(code, 0, "{name}: {out}{err}");
        assert_report_shape(&out);
        assert!(
            !out.lines()
                .any(|l| l.starts_with("loop ") || l.starts_with("lost ")),
            "{name}: {out}"
        );
    }
    // after each step too, where the scenario says the setup is right
    for (name, step) in [
        ("split_domain_example1.toml", "1"),
        ("migrate_user.toml", "transport switched to lmtp"),
        ("subdomain.toml", "1"),
        ("mta_head.toml", "0"),
    ] {
        let f = scenario(name);
        let (code, out, _) = run(&exe, &["verify", f.to_str().unwrap_or(""), "--step", step]);
        let bad = out
            .lines()
            .any(|l| l.starts_with("loop ") || l.starts_with("lost ") || l.starts_with("silent "));
        assert_eq!(code == 1, bad, "{name}#{step}: {out}");
        if name != "mta_head.toml" {
            assert_eq!(code, 0, "{name}#{step}: {out}");
        }
    }
    // mta_head: internal senders at one ZCS lose the other's users (the scenario's own
    // expectation: userb from hosting bounces until the step adds the forward)
    let (code, out, _) = run(
        &exe,
        &["verify", scenario("mta_head.toml").to_str().unwrap_or("")],
    );
    assert_eq!(code, 1);
    assert!(
        out.lines()
            .any(|l| l.starts_with("lost userb@company.com") && l.contains("from hosting")),
        "{out}"
    );
    // errors: exit 2
    assert_eq!(run(&exe, &["verify"]).0, 2);
    assert_eq!(run(&exe, &["verify", "/nonexistent.toml"]).0, 2);
    let f = scenario("migrate_user.toml");
    assert_eq!(
        run(
            &exe,
            &["verify", f.to_str().unwrap_or(""), "--step", "nope"]
        )
        .0,
        2
    );
}

#[test]
fn plan_and_diff_cli_contract() {
    let exe = route_bin();
    let f = scenario("migrate_user.toml");
    let fs = f.to_str().unwrap_or("");
    let (code, out, err) = run(&exe, &["plan", fs]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.starts_with("== 0: initial"), "{out}");
    assert!(
        out.contains("\nloop secondary-user@yyy.state.xx.us "),
        "the wrong-order step's loop is a new finding: {out}"
    );
    assert!(
        out.contains("first loop or lost mail: 1: mailbox removed on Exchange first (wrong order)"),
        "{out}"
    );
    let (code, out, _) = run(
        &exe,
        &[
            "plan",
            scenario("split_domain_example1.toml")
                .to_str()
                .unwrap_or(""),
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("no step introduces a loop or lost mail"),
        "{out}"
    );
    // diff: initial vs after the lmtp switch
    let after = format!("{fs}#2");
    let (code, out, _) = run(&exe, &["diff", fs, &after]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("changed secondary-user@yyy.state.xx.us ")),
        "{out}"
    );
    assert!(!out.contains("changed other-user@"), "{out}");
    assert!(out.ends_with("change\n"), "{out}");
    let (code, out, _) = run(&exe, &["diff", fs, fs]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("0 of "), "{out}");
    assert_eq!(run(&exe, &["diff", fs]).0, 2);
}

#[test]
fn library_findings_on_seed_scenarios() {
    let sc =
        Scenario::load(&scenario("both_forward_unknown.toml")).unwrap_or_else(|e| panic!("{e}"));
    let st = &sc.stages[0];
    let r = check(&st.topology);
    let loops: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.kind() == FindingKind::Loop)
        .collect();
    assert_eq!(loops.len(), 1, "{}", r.to_text());
    // its trace is a real counterexample
    let t = loops[0]
        .trace(&st.topology)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(t
        .leaves()
        .iter()
        .any(|l| l.disposition.outcome() == "looped"));
    // alice and bob are fine
    assert!(r
        .findings
        .iter()
        .all(|f| f.address.starts_with("no-such-user@")));

    // catch-all alias domain: unknown recipients accepted then bounced
    let sc = Scenario::load(&scenario("domain_alias.toml")).unwrap_or_else(|e| panic!("{e}"));
    let r = check(&sc.stages[0].topology);
    assert_eq!(r.count(FindingKind::Backscatter), 1, "{}", r.to_text());
    assert_eq!(r.findings[0].address, "no-such-user@alias.example.com");

    // plan over the wrong-order migration: step 1 breaks, step 2 repairs
    let sc = Scenario::load(&scenario("migrate_user.toml")).unwrap_or_else(|e| panic!("{e}"));
    let p = plan_scenario(&sc);
    assert_eq!(p.first_breaking, Some(1));
    assert!(p.steps[2].report.findings.is_empty(), "{}", p.to_text());
    let d = diff(&sc.stages[0].topology, &sc.stages[2].topology);
    assert_eq!(d.changed_classes(), 1, "{}", d.to_text());
}

const HAIRPIN: &str = r#"
[[directory]]
name = "zcs"
zmprov = """
cs primary.example.org
cd example.org
ca alice@example.org pw
ca bob@example.org pw zimbraMailTransport smtp:exchange.example.org:25
"""
[[mta]]
name = "primary"
kind = "zimbra"
hostname = "primary.example.org"
directory = "zcs"
mynetworks = ["10.0.0.0/24"]
[[mta]]
name = "exchange"
kind = "foreign"
hostname = "exchange.example.org"
domains = ["example.org"]
mailboxes = ["bob@example.org"]
unknown = "reject"
relayhost = "primary.example.org"
[dns]
mx = { "example.org" = ["10 primary.example.org"] }
# the primary reaches Exchange by its public name: out through the firewall and back in
a = { "primary.example.org" = "10.0.0.1", "exchange.example.org" = "203.0.113.7" }
"#;

#[test]
fn hairpin_when_a_next_hop_resolves_outside() {
    let sc = Scenario::parse(HAIRPIN, "hairpin.toml", &Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let r = check(&sc.stages[0].topology);
    let h: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.kind() == FindingKind::Hairpin)
        .collect();
    assert_eq!(h.len(), 1, "{}", r.to_text());
    assert_eq!(h[0].address, "bob@example.org");
    assert!(h[0]
        .line()
        .contains("primary -> exchange connects to exchange.example.org = 203.0.113.7"));
    // with the internal address, no hairpin
    let fixed = HAIRPIN.replace("203.0.113.7", "10.0.0.2");
    let sc = Scenario::parse(&fixed, "fixed.toml", &Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(check(&sc.stages[0].topology).count(FindingKind::Hairpin), 0);
}

#[test]
fn silent_when_a_foreign_mtas_dsn_is_refused() {
    let exe = route_bin();
    let f = scenario("silent_bounce.toml");
    let fs = f.to_str().unwrap_or("");
    // Exchange bounces carol; its DSN to the outside sender is refused by the primary
    let (code, out, err) = run(&exe, &["verify", fs]);
    assert_eq!(code, 1, "{out}{err}");
    assert_report_shape(&out);
    let silent: Vec<&str> = out.lines().filter(|l| l.starts_with("silent ")).collect();
    assert_eq!(silent.len(), 1, "{out}");
    assert!(
        silent[0].starts_with("silent carol@example.com from internet: bounced by exchange"),
        "{out}"
    );
    assert!(
        silent[0].contains("DSN by exchange to sender@internet.invalid: double bounce at exchange (rejected by primary: 554 5.7.1 <sender@internet.invalid>: Relay access denied)"),
        "{out}"
    );
    assert!(out.ends_with(", 1 silent\n"), "{out}");
    // once the primary trusts Exchange the DSN goes out: lost mail, but not silent
    let (code, out, _) = run(&exe, &["verify", fs, "--step", "1"]);
    assert_eq!(code, 1, "{out}");
    assert!(!out.lines().any(|l| l.starts_with("silent ")), "{out}");
    assert!(out.lines().any(|l| l.starts_with("lost carol@example.com")), "{out}");
    // and with carol's mailbox moved, nothing is wrong
    let (code, out, _) = run(&exe, &["verify", fs, "--step", "2"]);
    assert_eq!(code, 0, "{out}");
    // the trace names the DSN and its path
    let (code, out, _) = run(&exe, &["trace", fs, "carol@example.com"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("DSN #1 by exchange to sender@internet.invalid: double bounce at exchange"),
        "{out}"
    );
    assert!(
        out.contains("DSN #1 from MAILER-DAEMON@exchange.example.com (null sender) by exchange to sender@internet.invalid"),
        "{out}"
    );
    // the plan names the initial state as the first breaking one
    let (code, out, _) = run(&exe, &["plan", fs]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("first loop or lost mail: 0: initial"), "{out}");
    // --threads gives the same report
    let (_, one, _) = run(&exe, &["verify", fs, "--threads", "1"]);
    let (_, two, _) = run(&exe, &["verify", fs, "--threads", "2"]);
    assert_eq!(one, two);
    assert_eq!(run(&exe, &["verify", fs, "--threads", "x"]).0, 2);
}

#[test]
fn library_silent_finding_and_json() {
    use zimbra_prov::route::DsnFate;
    use zimbra_prov::verify::{EntryPoint, Issue, Report};
    let sc = Scenario::load(&scenario("silent_bounce.toml")).unwrap_or_else(|e| panic!("{e}"));
    let topo = &sc.stages[0].topology;
    let r = check(topo);
    let silent: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.kind() == FindingKind::Silent)
        .collect();
    assert_eq!(silent.len(), 1, "{}", r.to_text());
    assert_eq!(silent[0].address, "carol@example.com");
    assert_eq!(silent[0].entries, [EntryPoint::Internet]);
    let Issue::Silent { outcome } = &silent[0].issue else {
        panic!("silent issue expected");
    };
    let dsn = outcome.dsn.as_ref().unwrap_or_else(|| panic!("no DSN"));
    assert_eq!(dsn.writer.as_deref(), Some("exchange"));
    assert!(matches!(&dsn.fate, DsnFate::DoubleBounce { at, .. } if at == "exchange"));
    assert!(r.has_failing());
    // the finding's trace shows it
    let t = silent[0].trace(topo).unwrap_or_else(|e| panic!("{e}"));
    assert!(t
        .leaves()
        .iter()
        .any(|l| l.dsn.is_some_and(|d| !d.fate.reaches_sender())));
    // an entry point the topology does not have is an error, not a trace
    assert!(EntryPoint::Mta("nosuch".into())
        .simulate(topo, "carol@example.com")
        .is_err());
    // JSON round trip of the report
    let back = Report::from_json(&r.to_json()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.to_text(), r.to_text());
    assert_eq!(back.findings, r.findings);
    assert!(Report::from_json("[]").is_err());
}
