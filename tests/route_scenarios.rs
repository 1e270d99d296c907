//! Every scenario under tests/scenarios/ holds (the checks `zimbra-prov route check` prints),
//! and scenario errors name file, line and key. The command-line contract of `route` is tested
//! in tests/cli/route.rs.

use std::path::Path;

use zimbra_prov::scenario::Scenario;

#[path = "support/scenarios.rs"]
mod scenarios;
use scenarios::scenario_files;

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
    let e = Scenario::parse(
        "[[expect]]\nrcpt = \"\"\noutcome = \"bounced\"\n",
        "r.toml",
        &opts,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("r.toml:2: expect.rcpt: invalid recipient"),
        "{e}"
    );
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
    let opts = zimbra_prov::scenario::LoadOptions::with_ldif_loader(&loader);
    let s = Scenario::parse(
        "[[directory]]\nname = \"d\"\nldif = \"zcs.ldif\"\n[[mta]]\nname = \"m\"\nkind = \"zimbra\"\nhostname = \"mx.x.org\"\ndirectory = \"d\"\n[[expect]]\nrcpt = \"a@x.org\"\nfrom = \"m\"\noutcome = \"delivered\"\n",
        "l.toml",
        &opts,
    )
    .unwrap();
    assert!(s.check().iter().all(|l| l.ok));
}
