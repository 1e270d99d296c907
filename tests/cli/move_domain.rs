//! `zimbra-prov move-domain`: exit 0 and OUT written for a clean plan, exit 1 and nothing
//! written when there are conflicts, exit 2 on bad usage or unreadable input.

use std::path::Path;

use zimbra_prov::model::{Directory, IdGenerator};
use zimbra_prov::{dit, ldif, zmprov};

use crate::Tmp;

/// Writes a directory built by a zmprov script as slapcat LDIF.
pub fn write_dir(path: &Path, seed: u64, script: &str) {
    let mut d = Directory::new();
    d.ids = IdGenerator::new(seed);
    zmprov::run(&mut d, script).expect("zmprov");
    let mut out = Vec::new();
    dit::write_directory(&d, &mut out, &dit::WriteOptions::slapadd()).expect("LDIF");
    std::fs::write(path, out).expect("write");
}

/// `zimbra-prov move-domain ARGS`: (exit status, stdout, stderr).
pub fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let r = crate::run(&[&["move-domain"], args].concat());
    (r.code, r.out, r.err)
}

/// `--from T/FROM --to T/TO --domain DOMAIN --out T/OUT`.
pub fn args(t: &Tmp, from: &str, to: &str, domain: &str, out: &str) -> Vec<String> {
    let (from, to, out) = (t.arg(from), t.arg(to), t.arg(out));
    [
        "--from", &from, "--to", &to, "--domain", domain, "--out", &out,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// [`run`] with [`args`] and `extra`.
pub fn run_move(
    t: &Tmp,
    from: &str,
    to: &str,
    domain: &str,
    extra: &[&str],
) -> (Option<i32>, String, String) {
    let mut a = args(t, from, to, domain, "out.ldif");
    a.extend(extra.iter().map(|s| s.to_string()));
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    run(&a)
}

/// The source and target dumps of these tests, in `tmp`.
pub fn fixtures(tmp: &Tmp) {
    let source = "cs old.example.net zimbraServiceEnabled mailbox\ncd company.com\n\
                  ca a@company.com pw\nca b@company.com pw\naaa a@company.com x@company.com\n\
                  cd stays.net\ncdl team@stays.net\nadlm team@stays.net a@company.com";
    write_dir(&tmp.path("src.ldif"), 1, source);
    write_dir(
        &tmp.path("dst.ldif"),
        2,
        "cs new.example.org zimbraServiceEnabled mailbox\ncd other.org\nca z@other.org pw",
    );
    write_dir(
        &tmp.path("dst-has-domain.ldif"),
        3,
        "cs new.example.org zimbraServiceEnabled mailbox\ncd company.com\nca z@company.com pw",
    );
    write_dir(
        &tmp.path("dst-same-ids.ldif"),
        1,
        "cs new.example.org zimbraServiceEnabled mailbox\ncd other.org\nca z@other.org pw",
    );
}

#[test]
fn move_domain_contract() {
    let tmp = Tmp::new("move-contract");
    fixtures(&tmp);
    let p = |n: &str| tmp.arg(n);

    // a clean move with rename and host map: exit 0, OUT written and loadable LDIF
    let (code, out, err) = run(&[
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
    ]);
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
    let fixes = std::fs::read_to_string(tmp.path("fixes.zmp")).expect("fixes written");
    assert!(
        fixes.ends_with(
            "\nrdlm team@stays.net a@company.com\nadlm team@stays.net a@migrate.company.com\n"
        ),
        "{fixes}"
    );
    assert!(
        out.contains(&format!(
            "wrote 2 zmprov lines to {} (run them on the source: zmprov -f {})\n",
            p("fixes.zmp"),
            p("fixes.zmp")
        )),
        "{out}"
    );
    let text = std::fs::read_to_string(tmp.path("out.ldif")).expect("OUT written");
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
    let (code, out, _) = run(&[
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
    ]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("CONFLICT domain company.com already exists"),
        "{out}"
    );
    assert!(out.contains("nothing written"), "{out}");
    assert!(!tmp.path("out2.ldif").exists());
    assert!(!tmp.path("fixes2.zmp").exists());
    assert!(
        !tmp.names()
            .iter()
            .any(|n| n.ends_with(".tmp") || n.ends_with(".partial")),
        "no temporary file left: {:?}",
        tmp.names()
    );

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
    let (code, out, _) = run(&[&base[..], &["--out", &p("out3.ldif")]].concat());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("(use --regenerate-ids)"), "{out}");
    let (code, out, _) =
        run(&[&base[..], &["--regenerate-ids", "--out", &p("out3.ldif")]].concat());
    assert_eq!(code, Some(0), "{out}");
    assert!(tmp.path("out3.ldif").exists());

    // an unknown mail host is a conflict too
    let (code, out, _) = run(&[
        "--from",
        &p("src.ldif"),
        "--to",
        &p("dst.ldif"),
        "--domain",
        "company.com",
        "--out",
        &p("out4.ldif"),
    ]);
    assert_eq!(code, Some(1), "{out}");
    assert!(!tmp.path("out4.ldif").exists());

    // usage and unreadable input: exit 2
    assert_eq!(run(&["--from", &p("src.ldif")]).0, Some(2));
    assert_eq!(
        run(&[
            "--from",
            &p("missing.ldif"),
            "--to",
            &p("dst.ldif"),
            "--domain",
            "company.com",
            "--out",
            &p("o.ldif")
        ])
        .0,
        Some(2)
    );
    assert_eq!(run(&["--bogus"]).0, Some(2));
}

#[test]
fn ldif_errors_name_the_file_they_are_in() {
    let tmp = Tmp::new("move-ldif-error");
    fixtures(&tmp);
    std::fs::write(
        tmp.path("broken.ldif"),
        "dn: dc=com\nobjectClass: domain\ndc: com\n\ndn: dc=x,dc=com\nno colon here\n",
    )
    .unwrap();
    for (from, to) in [("broken.ldif", "dst.ldif"), ("src.ldif", "broken.ldif")] {
        let (code, out, err) = run_move(&tmp, from, to, "company.com", &[]);
        assert_eq!(code, Some(2), "{out}{err}");
        assert_eq!(
            err,
            format!(
                "move-domain: {}:6: error: missing ':' after the attribute description (dn: dc=x,dc=com)\n",
                tmp.arg("broken.ldif")
            )
        );
        assert!(!tmp.path("out.ldif").exists());
    }
    // errors about the request name no file
    let (code, _, err) = run_move(&tmp, "src.ldif", "dst.ldif", "nosuch.org", &[]);
    assert_eq!(code, Some(2));
    assert_eq!(
        err,
        "move-domain: domain nosuch.org is not a Zimbra domain of the source directory\n"
    );
}

#[test]
fn move_domain_usage_errors() {
    let tmp = Tmp::new("move-usage");
    fixtures(&tmp);
    let base = args(&tmp, "src.ldif", "dst.ldif", "company.com", "out.ldif");
    let base: Vec<&str> = base.iter().map(String::as_str).collect();
    for extra in [
        &["--map-host", "old.example.net"][..],
        &["--map-host", "=new"],
        &["--cos-map", "a="],
        &["--regenerate-ids", "--regenerate-all-ids"],
        &["stray"],
    ] {
        let (code, out, err) = run(&[&base[..], extra].concat());
        assert_eq!(code, Some(2), "{extra:?}: {out}{err}");
        assert!(err.starts_with("error: "), "{extra:?}: {err}");
        assert!(!tmp.path("out.ldif").exists());
    }
    // each required option
    for skip in ["--from", "--to", "--domain", "--out"] {
        let i = base.iter().position(|a| *a == skip).unwrap();
        let args: Vec<&str> = base
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i && *j != i + 1)
            .map(|(_, a)| *a)
            .collect();
        let (code, _, err) = run(&args);
        assert_eq!(code, Some(2), "{skip}");
        assert!(err.contains(skip), "{skip}: {err}");
    }
}
