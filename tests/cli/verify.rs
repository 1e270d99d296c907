//! `zimbra-prov route verify|plan|diff` on the seed scenarios: finding lines start with the
//! kind and the address, then the counts; exit codes 0/1/2.

use crate::scenario;

/// `zimbra-prov route ARGS`: (exit status, stdout, stderr).
pub(crate) fn run(args: &[&str]) -> (i32, String, String) {
    let r = crate::run(&[&["route"], args].concat());
    (r.code.unwrap_or(-1), r.out, r.err)
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
pub(crate) fn assert_report_shape(out: &str) {
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
    // both sides forward unknown users: loop, exit 1
    let f = scenario("both_forward_unknown.toml");
    let (code, out, err) = run(&["verify", &f]);
    assert_eq!(code, 1, "{out}{err}");
    assert_report_shape(&out);
    assert!(
        out.lines()
            .any(|l| l.starts_with("loop no-such-user@example.org ")),
        "{out}"
    );
    assert!(out.contains("findings: 1 loop, 0 lost"), "{out}");
    // the correct setups: no loop, no lost mail, exit 0
    for name in [
        "split_domain_example1.toml",
        "secondary_zimbra.toml",
        "migrate_user.toml",
        "domain_alias.toml",
        "transport_to_self.toml",
    ] {
        let f = scenario(name);
        let (code, out, err) = run(&["verify", &f]);
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
        let (code, out, _) = run(&["verify", &f, "--step", step]);
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
    let (code, out, _) = run(&["verify", &scenario("mta_head.toml")]);
    assert_eq!(code, 1);
    assert!(
        out.lines()
            .any(|l| l.starts_with("lost userb@company.com") && l.contains("from hosting")),
        "{out}"
    );
    // errors: exit 2
    assert_eq!(run(&["verify"]).0, 2);
    assert_eq!(run(&["verify", "/nonexistent.toml"]).0, 2);
    let f = scenario("migrate_user.toml");
    assert_eq!(run(&["verify", &f, "--step", "nope"]).0, 2);
}

#[test]
fn plan_and_diff_cli_contract() {
    let f = scenario("migrate_user.toml");
    let fs = f.as_str();
    let (code, out, err) = run(&["plan", fs]);
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
    let (code, out, _) = run(&["plan", &scenario("split_domain_example1.toml")]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("no step introduces a loop or lost mail"),
        "{out}"
    );
    // diff: initial vs after the lmtp switch
    let after = format!("{fs}#2");
    let (code, out, _) = run(&["diff", fs, &after]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("changed secondary-user@yyy.state.xx.us ")),
        "{out}"
    );
    assert!(!out.contains("changed other-user@"), "{out}");
    assert!(out.ends_with("change\n"), "{out}");
    let (code, out, _) = run(&["diff", fs, fs]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("0 of "), "{out}");
    assert_eq!(run(&["diff", fs]).0, 2);
}
