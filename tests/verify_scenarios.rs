//! Verification on the seed scenarios: the expected findings (the both-sides-forward case
//! loops; the correct setups lose nothing), plans and diffs. The command-line contract of
//! `route verify|plan|diff` is tested in tests/cli/verify.rs.

use std::path::{Path, PathBuf};

use zimbra_prov::scenario::Scenario;
use zimbra_prov::verify::{check, diff, plan_scenario, FindingKind};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scenario(name: &str) -> PathBuf {
    root().join("tests/scenarios").join(name)
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
