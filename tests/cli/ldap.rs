//! `zimbra-prov export-domain` and `apply` without a server: usage errors, input checked before
//! the password and the connection, connection errors. The runs against a real slapd are in
//! tests/ldap_live/.

use crate::{run_within, Tmp};

/// A port nothing listens on (bound, then released).
fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    format!("ldap://127.0.0.1:{port}")
}

fn conn<'a>(url: &'a str, pw: &'a str) -> [&'a str; 6] {
    [
        "--url",
        url,
        "--bind-dn",
        "uid=zimbra,cn=admins,cn=zimbra",
        "--password-file",
        pw,
    ]
}

#[test]
fn export_domain_contract_without_a_server() {
    let t = Tmp::new("ldap-export");
    std::fs::write(t.path("pw"), "secret\n").unwrap();
    std::fs::write(t.path("old.ldif"), "a good export\n").unwrap();
    let (url, pw) = (dead_url(), t.arg("pw"));
    // a refused connection: exit 1, an existing --out untouched, nothing left next to it
    let r = run_within(
        60,
        &[
            &["export-domain"][..],
            &conn(&url, &pw),
            &["--domain", "example.com", "--out", &t.arg("old.ldif")],
        ]
        .concat(),
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.err.starts_with("export-domain: "), "{r:?}");
    assert_eq!(
        std::fs::read_to_string(t.path("old.ldif")).unwrap(),
        "a good export\n"
    );
    assert_eq!(t.names(), ["old.ldif", "pw"]);
    // usage: each required option, a bad page size
    for skip in ["--url", "--bind-dn", "--password-file"] {
        let c = conn(&url, &pw);
        let i = c.iter().position(|a| *a == skip).unwrap();
        let mut args = vec!["export-domain", "--domain", "example.com"];
        args.extend(
            c.iter()
                .enumerate()
                .filter(|(j, _)| *j != i && *j != i + 1)
                .map(|(_, a)| *a),
        );
        let r = run_within(30, &args);
        assert_eq!(r.code, Some(2), "{skip}: {r:?}");
        assert!(r.err.contains(skip), "{skip}: {r:?}");
    }
    let r = run_within(30, &[&["export-domain"][..], &conn(&url, &pw)].concat());
    assert_eq!(r.code, Some(2), "--domain is required: {r:?}");
    let r = run_within(
        30,
        &[
            &["export-domain"][..],
            &conn(&url, &pw),
            &["--domain", "example.com", "--page-size", "many"],
        ]
        .concat(),
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    // an output that is a directory is refused before connecting
    let r = run_within(
        30,
        &[
            &["export-domain"][..],
            &conn(&url, &pw),
            &["--domain", "example.com", "--out", &t.arg("")],
        ]
        .concat(),
    );
    assert_eq!(r.code, Some(2), "{r:?}");
}

#[test]
fn apply_contract_without_a_server() {
    let t = Tmp::new("ldap-apply");
    std::fs::write(t.path("pw"), "secret\n").unwrap();
    std::fs::write(
        t.path("changes.ldif"),
        "dn: uid=a,ou=people,dc=example,dc=com\nchangetype: delete\n",
    )
    .unwrap();
    std::fs::write(t.path("broken.ldif"), "dn: cn=x\nno colon\n").unwrap();
    // deleting an entry twice: refused by validation
    std::fs::write(
        t.path("invalid.ldif"),
        "dn: cn=x\nchangetype: delete\n\ndn: cn=x\nchangetype: delete\n",
    )
    .unwrap();
    let (url, pw) = (dead_url(), t.arg("pw"));
    let apply =
        |extra: &[&str]| run_within(60, &[&["apply"][..], &conn(&url, &pw), extra].concat());

    // the change file is read and validated before the password file and the connection
    let missing_pw = t.arg("no-such-pw");
    let r = run_within(
        30,
        &[
            &["apply"][..],
            &conn(&url, &missing_pw),
            &[&t.arg("broken.ldif")],
        ]
        .concat(),
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert_eq!(
        r.err,
        format!(
            "apply: {}:2: error: missing ':' after the attribute description (dn: cn=x)\n",
            t.arg("broken.ldif")
        )
    );
    let r = run_within(
        30,
        &[
            &["apply"][..],
            &conn(&url, &missing_pw),
            &[&t.arg("invalid.ldif")],
        ]
        .concat(),
    );
    assert_eq!(r.code, Some(1), "validation fails: {r:?}");
    // then the password file, then the connection (exit 1)
    let r = run_within(
        30,
        &[
            &["apply"][..],
            &conn(&url, &missing_pw),
            &[&t.arg("changes.ldif")],
        ]
        .concat(),
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.err.contains("no-such-pw"), "{r:?}");
    let r = apply(&[&t.arg("changes.ldif")]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(r.out, "", "nothing reported as applied: {r:?}");
    let r = apply(&["--dry-run", &t.arg("changes.ldif")]);
    assert_eq!(r.code, Some(1), "{r:?}");

    // usage: CHANGES or --move-from, not both; --domain and the move options need --move-from
    assert_eq!(apply(&[]).code, Some(2));
    let r = apply(&[
        &t.arg("changes.ldif"),
        "--move-from",
        &t.arg("changes.ldif"),
        "--domain",
        "x.org",
    ]);
    assert_eq!(r.code, Some(2), "{r:?}");
    let r = apply(&["--move-from", &t.arg("changes.ldif")]);
    assert_eq!(r.code, Some(2), "--move-from needs --domain: {r:?}");
    assert!(r.err.contains("--domain"), "{r:?}");
    let r = apply(&[&t.arg("changes.ldif"), "--domain", "x.org"]);
    assert_eq!(r.code, Some(2), "{r:?}");
    let r = apply(&[&t.arg("changes.ldif"), "--rename", "y.org"]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.err.contains("need --move-from"), "{r:?}");
    // --move-from must be a regular file
    let fifo = t.fifo("fifo.ldif");
    let r = apply(&[
        "--move-from",
        &fifo.display().to_string(),
        "--domain",
        "x.org",
    ]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.err.contains("a FIFO, not a regular file"), "{r:?}");
}
