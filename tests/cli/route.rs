//! `zimbra-prov route trace|check|decide`: output lines and exit codes 0/1/2.

use crate::{root, Tmp};

/// The seed scenarios (tests/scenarios/*.toml), relative to the repository.
fn scenario_files() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join("tests/scenarios"))
        .expect("tests/scenarios exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            format!(
                "tests/scenarios/{}",
                p.file_name().unwrap_or_default().to_string_lossy()
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn route_tool_contract() {
    let run = |args: &[&str]| {
        let r = crate::run(&[&["route"], args].concat());
        (r.code, r.out, r.err)
    };
    // check: all good -> 0
    let files = scenario_files();
    let mut args = vec!["check"];
    args.extend(files.iter().map(String::as_str));
    let (code, out, _) = run(&args);
    assert_eq!(code, Some(0), "{out}");
    assert!(out
        .lines()
        .any(|l| l.starts_with("ok secondary-user@yyy.state.xx.us")));
    assert!(!out.contains("FAIL"));
    // a wrong expectation -> FAIL line, 1
    let (code, out, _) = run(&["check", "tests/scenarios/bad/wrong_expectation.toml"]);
    assert_eq!(code, Some(1));
    assert!(
        out.lines().any(|l| l.starts_with(
            "FAIL alice@example.org: expected bounced dsn 5.1.1, got delivered at mx.example.org"
        )),
        "{out}"
    );
    assert!(out.lines().any(|l| l.starts_with("ok alice@example.org")));
    // an unloadable file -> 2 (even next to a good one)
    let (code, _, err) = run(&[
        "check",
        "tests/scenarios/domain_alias.toml",
        "tests/scenarios/bad/unloadable.toml",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("unloadable.toml:9: directory.zmprov"), "{err}");
    let (code, _, _) = run(&["check", "tests/scenarios/no-such-file.toml"]);
    assert_eq!(code, Some(2));
    // trace: text, JSON, DOT
    let (code, out, _) = run(&[
        "trace",
        "tests/scenarios/split_domain_example1.toml",
        "secondary-user@yyy.state.xx.us",
    ]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("exchange (secondary.yyy.state.xx.us) hop 2"),
        "{out}"
    );
    assert!(out.contains("[ldap-transport.cf zimbraMailDeliveryAddress on uid=secondary-user,ou=people,dc=yyy,dc=state,dc=xx,dc=us]"));
    let (code, out, _) = run(&[
        "trace",
        "tests/scenarios/split_domain_example1.toml",
        "nobody@yyy.state.xx.us",
        "--from",
        "exchange",
        "--json",
    ]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["from"], "exchange");
    assert!(out.contains("\"outcome\": \"bounced\""), "{out}");
    let (code, out, _) = run(&[
        "trace",
        "tests/scenarios/both_forward_unknown.toml",
        "nobody@example.org",
        "--dot",
    ]);
    assert_eq!(code, Some(0));
    assert!(
        out.starts_with("digraph route {") && out.contains("\"mta:primary\" -> \"mta:exchange\""),
        "{out}"
    );
    assert!(out.contains("looped"));
    let (code, out, _) = run(&[
        "trace",
        "tests/scenarios/migrate_user.toml",
        "secondary-user@yyy.state.xx.us",
        "--step",
        "transport switched to lmtp",
    ]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("=> Delivered to secondary-user@yyy.state.xx.us at primary.yyy.state.xx.us"),
        "{out}"
    );
    // usage errors
    assert_eq!(run(&[]).0, Some(2));
    assert_eq!(
        run(&["trace", "tests/scenarios/domain_alias.toml"]).0,
        Some(2)
    );
    assert_eq!(
        run(&[
            "trace",
            "tests/scenarios/domain_alias.toml",
            "a@b.c",
            "--from",
            "nomta"
        ])
        .0,
        Some(2)
    );
}

#[test]
fn route_decide_contract() {
    let run = |args: &[&str]| {
        let r = crate::run(&[&["route"], args].concat());
        (r.code, r.out, r.err)
    };
    let ldif = "tests/scenarios/data/zsec.ldif";
    let (code, out, _) = run(&[
        "decide",
        ldif,
        "zu@example.com",
        "ZU@Example.com",
        "nobody@example.com",
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(
        out,
        "zu@example.com -> lmtp:secondary.example.com:7025\n\
         ZU@Example.com -> lmtp:secondary.example.com:7025 <zu@example.com>\n\
         nobody@example.com -> smtp:primary.example.com\n"
    );
    // --addrs FILE: one per line, comments and blank lines skipped, after the positional ones
    let dir = Tmp::new("route-decide");
    let list = dir.path("addrs");
    std::fs::write(&list, "# addresses\n\nzu@example.com\nx@elsewhere.test\n").unwrap();
    let (code, out, _) = run(&["decide", ldif, "--addrs", list.to_str().unwrap()]);
    assert_eq!(code, Some(0));
    assert_eq!(
        out,
        "zu@example.com -> lmtp:secondary.example.com:7025\nx@elsewhere.test -> smtp:primary.example.com\n"
    );
    // the relayhost and old-address-filter knobs reach the decision
    let (_, out, _) = run(&[
        "decide",
        ldif,
        "--relayhost",
        "[relay.test]",
        "x@elsewhere.test",
        "nobody@example.com",
    ]);
    assert_eq!(
        out,
        "x@elsewhere.test -> smtp:[relay.test]\nnobody@example.com -> smtp:primary.example.com\n",
        "--relayhost replaces zimbraMtaRelayHost for remote mail; the domain transport still wins"
    );
    let (code, out, _) = run(&["decide", ldif, "--old-address-filter", "zu@example.com"]);
    assert_eq!(
        (code, out.as_str()),
        (
            Some(0),
            "zu@example.com -> lmtp:secondary.example.com:7025\n"
        )
    );
    // errors: a missing LDIF, no addresses, an unknown option
    let (code, _, err) = run(&["decide", "tests/scenarios/data/missing.ldif", "a@b.c"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("missing.ldif"), "{err}");
    assert_eq!(run(&["decide", ldif]).0, Some(2));
    assert_eq!(run(&["decide", ldif, "--bogus", "a@b.c"]).0, Some(2));
}
