//! The `move_domain` command-line contract: exit 0 and OUT written for a clean plan, exit 1 and
//! nothing written when there are conflicts, exit 2 on bad usage or unreadable input.

use std::path::{Path, PathBuf};
use std::process::Command;

use zimbra_prov::model::{Directory, IdGenerator};
use zimbra_prov::{dit, ldif, zmprov};

fn move_domain_bin() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", "move_domain"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success());
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("debug/examples/move_domain")
}

fn write_dir(path: &Path, seed: u64, script: &str) {
    let mut d = Directory::new();
    d.ids = IdGenerator::new(seed);
    zmprov::run(&mut d, script).expect("zmprov");
    let mut out = Vec::new();
    dit::write_directory(&d, &mut out, &dit::WriteOptions::slapadd()).expect("LDIF");
    std::fs::write(path, out).expect("write");
}

fn run(exe: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let o = Command::new(exe).args(args).output().expect("runs");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn move_domain_contract() {
    let exe = move_domain_bin();
    let tmp = std::env::temp_dir().join(format!("zimbra-prov-move-cli-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let p = |n: &str| tmp.join(n).display().to_string();
    let source = "cs old.example.net zimbraServiceEnabled mailbox\ncd company.com\n\
                  ca a@company.com pw\nca b@company.com pw\naaa a@company.com x@company.com\n\
                  cd stays.net\ncdl team@stays.net\nadlm team@stays.net a@company.com";
    write_dir(&tmp.join("src.ldif"), 1, source);
    write_dir(
        &tmp.join("dst.ldif"),
        2,
        "cs new.example.org zimbraServiceEnabled mailbox\ncd other.org\nca z@other.org pw",
    );
    write_dir(
        &tmp.join("dst-has-domain.ldif"),
        3,
        "cs new.example.org zimbraServiceEnabled mailbox\ncd company.com\nca z@company.com pw",
    );
    write_dir(
        &tmp.join("dst-same-ids.ldif"),
        1,
        "cs new.example.org zimbraServiceEnabled mailbox\ncd other.org\nca z@other.org pw",
    );

    // a clean move with rename and host map: exit 0, OUT written and loadable LDIF
    let (code, out, err) = run(
        &exe,
        &[
            "--from",
            &p("src.ldif"),
            "--to",
            &p("dst.ldif"),
            "--domain",
            "company.com",
            "--rename",
            "migrate.company.com",
            "--map-host",
            "old.example.net=new.example.org",
            "--fixes",
            &p("fixes.zmp"),
            "--out",
            &p("out.ldif"),
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("conflicts: none"), "{out}");
    assert!(out.contains("account: 2"), "{out}");
    // the list that stays behind names a renamed address: reported with its fix
    assert!(
        out.contains(
            "references left in the source: 1 (1 to fix)\n  REFERENCE list-member: distribution-list team@stays.net (zimbraMailForwardingAddress) names a@company.com, renamed a@migrate.company.com\n    $ zmprov rdlm team@stays.net a@company.com\n    $ zmprov adlm team@stays.net a@migrate.company.com\n"
        ),
        "{out}"
    );
    let fixes = std::fs::read_to_string(tmp.join("fixes.zmp")).expect("fixes written");
    assert!(
        fixes.ends_with(
            "\nrdlm team@stays.net a@company.com\nadlm team@stays.net a@migrate.company.com\n"
        ),
        "{fixes}"
    );
    assert!(out.contains("wrote 2 zmprov lines to "), "{out}");
    let text = std::fs::read_to_string(tmp.join("out.ldif")).expect("OUT written");
    assert!(
        text.contains("dn: uid=a,ou=people,dc=migrate,dc=company,dc=com\n"),
        "{text}"
    );
    assert!(
        text.contains("zimbraMailTransport: lmtp:new.example.org:7025\n"),
        "{text}"
    );
    assert!(
        !text.contains("version:"),
        "no version line in slapadd mode"
    );
    let records = ldif::Reader::new(text.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("valid LDIF");
    assert_eq!(
        records.len(),
        8,
        "domain, 2 parents, 2 containers, 2 accounts, 1 alias"
    );

    // conflicts: exit 1, nothing written
    let (code, out, _) = run(
        &exe,
        &[
            "--from",
            &p("src.ldif"),
            "--to",
            &p("dst-has-domain.ldif"),
            "--domain",
            "company.com",
            "--map-host",
            "old.example.net=new.example.org",
            "--fixes",
            &p("fixes2.zmp"),
            "--out",
            &p("out2.ldif"),
        ],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("CONFLICT domain company.com already exists"),
        "{out}"
    );
    assert!(out.contains("nothing written"), "{out}");
    assert!(!tmp.join("out2.ldif").exists() && !tmp.join("out2.ldif.partial").exists());
    assert!(!tmp.join("fixes2.zmp").exists());

    // colliding zimbraIds are a conflict, and --regenerate-ids resolves it
    let base = [
        "--from",
        &p("src.ldif"),
        "--to",
        &p("dst-same-ids.ldif"),
        "--domain",
        "company.com",
        "--map-host",
        "old.example.net=new.example.org",
    ];
    let (code, out, _) = run(&exe, &[&base[..], &["--out", &p("out3.ldif")]].concat());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("(use --regenerate-ids)"), "{out}");
    let (code, out, _) = run(
        &exe,
        &[&base[..], &["--regenerate-ids", "--out", &p("out3.ldif")]].concat(),
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(tmp.join("out3.ldif").exists());

    // an unknown mail host is a conflict too
    let (code, out, _) = run(
        &exe,
        &[
            "--from",
            &p("src.ldif"),
            "--to",
            &p("dst.ldif"),
            "--domain",
            "company.com",
            "--out",
            &p("out4.ldif"),
        ],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(!tmp.join("out4.ldif").exists());

    // usage and unreadable input: exit 2
    assert_eq!(run(&exe, &["--from", &p("src.ldif")]).0, Some(2));
    assert_eq!(
        run(
            &exe,
            &[
                "--from",
                &p("missing.ldif"),
                "--to",
                &p("dst.ldif"),
                "--domain",
                "company.com",
                "--out",
                &p("o.ldif")
            ]
        )
        .0,
        Some(2)
    );
    assert_eq!(run(&exe, &["--bogus"]).0, Some(2));
    std::fs::remove_dir_all(&tmp).ok();
}
