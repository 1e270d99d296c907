//! Every scenario under tests/scenarios/ holds under `route check`, and the `route` tool keeps
//! its command-line contract (output lines and exit codes 0/1/2).

use std::path::{Path, PathBuf};
use std::process::Command;

use zimbra_prov::scenario::Scenario;

fn scenario_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/scenarios exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_seed_scenario_holds() {
    let files = scenario_files();
    assert!(
        files.len() >= 9,
        "expected the seed scenarios, found {files:?}"
    );
    let mut failures = Vec::new();
    let mut checked = 0;
    for f in &files {
        let sc = Scenario::load(f).unwrap_or_else(|e| panic!("{e}"));
        for l in sc.check() {
            checked += 1;
            if !l.ok {
                failures.push(l.text);
            }
        }
    }
    assert!(checked >= 40, "only {checked} expectations");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn scenario_errors_name_file_line_and_key() {
    let bad = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/bad/unloadable.toml");
    let e = Scenario::load(&bad).unwrap_err().to_string();
    assert!(e.ends_with("unloadable.toml:9: directory.zmprov: ERROR: account.NO_SUCH_DOMAIN (no such domain: nowhere.example)"), "{e}");
    let opts = zimbra_prov::scenario::LoadOptions::default();
    let e = Scenario::parse("name = 1\n", "x.toml", &opts)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("x.toml:1: "), "{e}");
    let e = Scenario::parse(
        "[[mta]]\nname = \"a\"\nkind = \"zimbra\"\nhostname = \"h\"\nbogus = 1\n",
        "y.toml",
        &opts,
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("y.toml:5: ") && e.contains("bogus"), "{e}");
    let e = Scenario::parse(
        "[[expect]]\nrcpt = \"a@b.c\"\noutcome = \"lost\"\n",
        "z.toml",
        &opts,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("z.toml:3: expect.outcome: unknown outcome"),
        "{e}"
    );
    let e = Scenario::parse(
        "[[directory]]\nname = \"d\"\nldif = \"d.ldif\"\n",
        "l.toml",
        &opts,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("l.toml:3: directory.ldif: d.ldif: No such file"),
        "{e}"
    );
    // the DSN keys: fates are checked, addresses too
    let e = Scenario::parse(
        "[[expect]]\nrcpt = \"a@b.c\"\noutcome = \"bounced\"\ndsn_fate = \"lost\"\n",
        "f.toml",
        &opts,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("f.toml:4: expect.dsn_fate: unknown DSN fate \"lost\" (expected one of reply, delivered, left, double-bounce, deferred)"),
        "{e}"
    );
    let e = Scenario::parse(
        "[[expect]]\nrcpt = \"a@b.c\"\nsender = \"a b\"\noutcome = \"bounced\"\n",
        "s.toml",
        &opts,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("s.toml:3: expect.sender: invalid sender \"a b\""),
        "{e}"
    );
    let e = Scenario::parse("[[expect]]\nrcpt = \"\"\noutcome = \"bounced\"\n", "r.toml", &opts)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("r.toml:2: expect.rcpt: invalid recipient"), "{e}");
}

#[test]
fn ldif_extension_point_is_called() {
    let loader = |p: &Path| -> Result<zimbra_prov::model::Directory, String> {
        assert!(p.ends_with("zcs.ldif"));
        let mut d = zimbra_prov::model::Directory::new();
        zimbra_prov::zmprov::run(&mut d, "cs mx.x.org\ncd x.org\nca a@x.org pw")
            .map_err(|e| e.to_string())?;
        Ok(d)
    };
    let opts = zimbra_prov::scenario::LoadOptions {
        ldif_loader: Some(&loader),
    };
    let s = Scenario::parse(
        "[[directory]]\nname = \"d\"\nldif = \"zcs.ldif\"\n[[mta]]\nname = \"m\"\nkind = \"zimbra\"\nhostname = \"mx.x.org\"\ndirectory = \"d\"\n[[expect]]\nrcpt = \"a@x.org\"\nfrom = \"m\"\noutcome = \"delivered\"\n",
        "l.toml",
        &opts,
    )
    .unwrap();
    assert!(s.check().iter().all(|l| l.ok));
}

fn route_bin() -> PathBuf {
    // built by `cargo test` for examples? build it explicitly to be sure
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", "route"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success());
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let exe = target.join("debug/examples/route");
    assert!(exe.exists(), "{exe:?}");
    exe
}

#[test]
fn route_tool_contract() {
    let exe = route_bin();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = |args: &[&str]| {
        let o = Command::new(&exe)
            .args(args)
            .current_dir(root)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).to_string(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    // check: all good -> 0
    let files: Vec<String> = scenario_files()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
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
    // an entry named like an MTA is a node of its own: no self-edge
    let (code, out, _) = run(&[
        "trace",
        "tests/scenarios/both_forward_unknown.toml",
        "nobody@example.org",
        "--from",
        "primary",
        "--dot",
    ]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("\"entry:primary\" -> \"mta:primary\"")
            && !out.contains("\"mta:primary\" -> \"mta:primary\""),
        "{out}"
    );
    // DSN paths are dashed edges from a note per DSN
    assert!(out.contains("\"dsn1\" [shape=note"), "{out}");
    assert!(out.contains("style=dashed"), "{out}");
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
    let exe = route_bin();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = |args: &[&str]| {
        let o = Command::new(&exe)
            .args(args)
            .current_dir(root)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).to_string(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
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
    let dir = std::env::temp_dir().join(format!("route-decide-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let list = dir.join("addrs");
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
    std::fs::remove_dir_all(&dir).ok();
}
