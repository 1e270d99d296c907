//! The `zimbra-prov migrate plan SPEC.toml [--out DIR]` contract: the step lines and the
//! summary on stdout, the files written, exit 0 / 1 (the planner refuses, with the
//! counterexample on stderr) / 2 (usage, spec and output errors); and the runbook's scenario
//! re-checked by `zimbra-prov route plan` and `route check`, as an admin runs them.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn migrate_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_zimbra-prov"))
}

fn run(exe: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(exe)
        .args(args)
        .current_dir(root())
        .output()
        .expect("migrate runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("zimbra-prov-migrate-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

#[test]
fn migrate_plan_contract() {
    let exe = migrate_bin();
    let spec = "tests/data/runbook/example1/spec.toml";

    // planned, nothing written
    let (code, out, err) = run(&exe, &["migrate", "plan", spec]);
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "01 prepare-target: Configure primary as the primary: every address of yyy.state.xx.us exists there");
    assert_eq!(
        lines.last(),
        Some(&"verified 11 states: no loop, no lost mail")
    );

    // written
    let dir = tmp("out");
    let out_dir = dir.join("runbook");
    let (code, out, err) = run(
        &exe,
        &[
            "migrate",
            "plan",
            spec,
            "--out",
            out_dir.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.ends_with(&format!("wrote 23 files to {}\n", out_dir.display())),
        "{out}"
    );
    assert!(out_dir.join("runbook.md").is_file());
    assert!(out_dir.join("scenario.toml").is_file());
    assert!(out_dir
        .join("scripts/04-batch-1.switch/primary.sh")
        .is_file());

    // the planner refuses: exit 1, the counterexample on stderr, nothing written
    let fixed = dir.join("fixed.toml");
    let text = std::fs::read_to_string(root().join(spec)).expect("spec");
    std::fs::write(
        &fixed,
        format!(
            "{text}\n[order]\nbatch = [\"retire-source\", \"switch\", \"copy\"]\nfixed = true\n"
        ),
    )
    .expect("write");
    let refused = dir.join("refused");
    let (code, out, err) = run(
        &exe,
        &[
            "migrate",
            "plan",
            fixed.to_str().expect("utf-8"),
            "--out",
            refused.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.starts_with("migrate: the order is fixed and step batch-1.retire-source breaks:\nloop secondary-user@yyy.state.xx.us"), "{err}");
    assert!(err.contains("counterexample:\n"), "{err}");
    assert!(err.contains("an order that works: prepare-target, configure-source, mx-switch, batch-1.switch, batch-1.retire-source"), "{err}");
    assert!(!refused.exists());

    // spec errors: file, line, key; exit 2
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        text.replace(
            "strategy = \"split-primary-zimbra\"",
            "strategy = \"split-primary\"",
        ),
    )
    .expect("write");
    let (code, out, err) = run(&exe, &["migrate", "plan", bad.to_str().expect("utf-8")]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.starts_with(&format!(
            "migrate: {}:5: strategy: unknown strategy \"split-primary\"",
            bad.display()
        )),
        "{err}"
    );

    // usage
    for args in [
        &["migrate", "plan"][..],
        &["migrate", "run", spec][..],
        &["migrate", "plan", spec, "--out"][..],
        &["migrate", "plan", spec, "--bogus"][..],
    ] {
        let (code, _, err) = run(&exe, args);
        assert_eq!(code, 2, "{args:?}");
        assert!(err.starts_with("error: "), "{err}");
        assert!(err.contains("try '--help'"), "{err}");
    }
    let (code, _, err) = run(&exe, &["migrate", "plan", "no/such/spec.toml"]);
    assert_eq!(code, 2);
    assert!(err.starts_with("migrate: error: "), "{err}");
    assert!(err.contains("no/such/spec.toml"), "{err}");

    // an output directory that is not ours: exit 2, left alone
    let theirs = dir.join("theirs");
    std::fs::create_dir_all(&theirs).expect("mkdir");
    std::fs::write(theirs.join("notes.txt"), "keep").expect("write");
    let (code, _, err) = run(
        &exe,
        &[
            "migrate",
            "plan",
            spec,
            "--out",
            theirs.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("refusing to replace it"), "{err}");
    assert_eq!(
        std::fs::read_to_string(theirs.join("notes.txt")).expect("kept"),
        "keep"
    );
    std::fs::remove_dir_all(&dir).ok();
}
