//! TLS to a slapd set up like a Zimbra LDAP server (issue 16.9): a CA of its own signs the
//! server's certificate, and the server speaks StartTLS on its `ldap://` port and TLS on an
//! `ldaps://` port. The test generates the CA, a second unrelated CA and the server
//! certificate (for IP 127.0.0.1 only) with the `openssl` command, then checks, for StartTLS
//! and for ldaps:
//!
//! | trust | host | result |
//! |---|---|---|
//! | the server's CA (`ca_file`, or `LDAPTLS_CACERT`) | 127.0.0.1 | connects, binds, reads |
//! | another CA (`ca_file`) | 127.0.0.1 | `LdapError::Tls` / `UntrustedCertificate` |
//! | the system's store | 127.0.0.1 | `LdapError::Tls` / `UntrustedCertificate` |
//! | the server's CA | 127.0.0.2 (not in the certificate) | `LdapError::Tls` / `HostnameMismatch` |
//! | another CA, `no_tls_verify` | 127.0.0.1 | connects |
//!
//! Needs Debian's slapd and openssl; without slapd the test fails unless
//! `ZIMBRA_PROV_SKIP_SERVICES=1`.
#![cfg(feature = "ldap")]

#[path = "support/slapd.rs"]
mod slapd;

#[path = "support/live.rs"]
mod live;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use live::{base_entries, example_com, free_port_on, Slapd, ADMIN, PASSWORD};
#[cfg(feature = "cli")]
use live::{run, tool};
use slapd::{SLAPADD, SLAPCAT, SLAPD};
use zimbra_prov::ldap::{
    ConnectOptions, Export, LdapError, LdapSource, SourceOptions, TlsProblem, TlsTrust,
    LDAPTLS_CACERT,
};

/// The test PKI: the server's CA, an unrelated CA, and the server's certificate and key.
struct Pki {
    dir: slapd::TempDir,
    ca: PathBuf,
    other_ca: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run openssl (needed by this test): {e}"));
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `openssl req` making a new P-256 key `key` and `out` (a request, or with `-x509` a
/// self-signed certificate) for subject `subj`, plus `more` arguments.
fn new_key(dir: &Path, key: &str, out: &str, subj: &str, more: &[&str]) {
    let mut args = vec![
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        key,
        "-out",
        out,
        "-subj",
        subj,
    ];
    args.extend(more);
    openssl(dir, &args);
}

/// A self-signed CA `name.pem` with its key `name.key`.
fn make_ca(dir: &Path, name: &str) -> PathBuf {
    new_key(
        dir,
        &format!("{name}.key"),
        &format!("{name}.pem"),
        &format!("/O=zimbra-prov tests/CN={name}"),
        &[
            "-x509",
            "-days",
            "2",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    dir.join(format!("{name}.pem"))
}

fn pki() -> Pki {
    let dir = slapd::TempDir::new("tls-pki");
    let d = dir.root();
    let ca = make_ca(d, "zimbra-ca");
    let other_ca = make_ca(d, "other-ca");
    new_key(d, "server.key", "server.csr", "/CN=127.0.0.1", &[]);
    std::fs::write(
        d.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write extensions");
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "zimbra-ca.pem",
            "-CAkey",
            "zimbra-ca.key",
            "-set_serial",
            "2",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    );
    Pki { dir, ca, other_ca }
}

/// The server, with its `ldaps://` URLs on 127.0.0.1 and 127.0.0.2 and its `ldap://` URL on
/// 127.0.0.2.
struct TlsServer {
    slapd: Slapd,
    ldaps: String,
    ldaps_other_ip: String,
    ldap_other_ip: String,
}

/// The base entries and a domain, example.com.
fn fixture() -> Vec<zimbra_prov::ldif::Entry> {
    let mut out = base_entries();
    out.extend(example_com());
    out
}

fn tls_server(pki: &Pki) -> TlsServer {
    let d = pki.dir.root();
    let global = format!(
        "TLSCACertificateFile {}\nTLSCertificateFile {}\nTLSCertificateKeyFile {}\n",
        pki.ca.display(),
        d.join("server.pem").display(),
        d.join("server.key").display()
    );
    let ldaps = format!("ldaps://127.0.0.1:{}", free_port_on("127.0.0.1"));
    let ldaps_other_ip = format!("ldaps://127.0.0.2:{}", free_port_on("127.0.0.2"));
    let ldap_other_ip = format!("ldap://127.0.0.2:{}", free_port_on("127.0.0.2"));
    let listeners = [&ldaps, &ldaps_other_ip, &ldap_other_ip].map(|u| format!("{u}/"));
    let slapd = Slapd::start_with("tls", &fixture(), &global, &listeners);
    TlsServer {
        slapd,
        ldaps,
        ldaps_other_ip,
        ldap_other_ip,
    }
}

fn options(url: &str) -> ConnectOptions {
    ConnectOptions::new(url)
        .bind(ADMIN, PASSWORD)
        .timeouts(Duration::from_secs(5), Duration::from_secs(10))
}

/// Connects, binds and reads the whole (small) tree: the number of entries.
fn read_all(o: &ConnectOptions) -> Result<u64, LdapError> {
    let source = LdapSource::connect(o, SourceOptions::default())?;
    let mut n = 0;
    for e in source.entries(Export::Tree, |_| {}) {
        e?;
        n += 1;
    }
    Ok(n)
}

fn tls_problem(r: Result<u64, LdapError>) -> (TlsProblem, String) {
    match r {
        Err(e @ LdapError::Tls { problem, .. }) => (problem, e.to_string()),
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

#[test]
fn starttls_and_ldaps_with_zimbras_own_ca() {
    if !slapd::tools_or_skip(&[SLAPD, SLAPADD, SLAPCAT]) {
        return;
    }
    let pki = pki();
    let server = tls_server(&pki);
    let entries = fixture().len() as u64;
    let starttls = |url: &str| options(url).starttls(true);
    let plain_url = server.slapd.url();
    // (how it connects, the URL on 127.0.0.2)
    let modes: [(&str, ConnectOptions, ConnectOptions); 2] = [
        (
            "StartTLS",
            starttls(&plain_url),
            starttls(&server.ldap_other_ip),
        ),
        (
            "ldaps",
            options(&server.ldaps),
            options(&server.ldaps_other_ip),
        ),
    ];
    for (mode, at_ip, at_other_ip) in modes {
        // trusted: the CA that signed the server's certificate
        let trusted = at_ip.clone().ca_file(&pki.ca);
        assert_eq!(trusted.tls_trust(), TlsTrust::CaFile(pki.ca.clone()));
        assert_eq!(
            read_all(&trusted).unwrap_or_else(|e| panic!("{mode}: {e}")),
            entries,
            "{mode}"
        );

        // untrusted: another CA
        let (problem, text) = tls_problem(read_all(&at_ip.clone().ca_file(&pki.other_ca)));
        assert_eq!(problem, TlsProblem::UntrustedCertificate, "{mode}: {text}");
        assert!(
            text.contains("not issued by a trusted CA"),
            "{mode}: {text}"
        );
        assert!(
            text.contains(&format!("trusted: CA file {}", pki.other_ca.display())),
            "{mode}: {text}"
        );

        // untrusted: the system's store (unless this environment names a CA file itself)
        if std::env::var_os(LDAPTLS_CACERT).is_none() {
            let (problem, text) = tls_problem(read_all(&at_ip));
            assert_eq!(problem, TlsProblem::UntrustedCertificate, "{mode}: {text}");
            assert!(text.contains("the system's CA store"), "{mode}: {text}");
        }

        // trusted CA, but the certificate is for 127.0.0.1 and we asked 127.0.0.2
        let (problem, text) = tls_problem(read_all(&at_other_ip.ca_file(&pki.ca)));
        assert_eq!(problem, TlsProblem::HostnameMismatch, "{mode}: {text}");
        assert!(text.contains("not issued for the host"), "{mode}: {text}");

        // verification off (test servers only) connects whatever the CA
        let mut unverified = at_ip.clone().ca_file(&pki.other_ca);
        unverified.no_tls_verify = true;
        assert_eq!(read_all(&unverified).ok(), Some(entries), "{mode}");
    }

    // Without TLS the CA file is not even read.
    let plain = options(&plain_url).ca_file(pki.dir.path("no-such-ca.pem"));
    assert_eq!(read_all(&plain).ok(), Some(entries));

    // LDAPTLS_CACERT, as OpenLDAP's tools read it: checked in a child process (the variable
    // is process-wide) that re-runs this test binary's `ldaptls_cacert_child`.
    for (url, starttls) in [(plain_url.as_str(), true), (server.ldaps.as_str(), false)] {
        let out = Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", "ldaptls_cacert_child", "--nocapture"])
            .env(LDAPTLS_CACERT, &pki.ca)
            .env("ZP_TLS_CHILD_URL", url)
            .env("ZP_TLS_CHILD_STARTTLS", if starttls { "1" } else { "0" })
            .output()
            .expect("run child");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("child: read"),
            "{url}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Run by [`starttls_and_ldaps_with_zimbras_own_ca`] in a child process with
/// `LDAPTLS_CACERT` set; does nothing on its own.
#[test]
fn ldaptls_cacert_child() {
    let Ok(url) = std::env::var("ZP_TLS_CHILD_URL") else {
        return;
    };
    let starttls = std::env::var("ZP_TLS_CHILD_STARTTLS").as_deref() == Ok("1");
    let o = options(&url).starttls(starttls);
    let ca = std::env::var_os(LDAPTLS_CACERT).expect("LDAPTLS_CACERT set by the parent");
    assert_eq!(o.tls_trust(), TlsTrust::Environment(PathBuf::from(ca)));
    let n = read_all(&o).unwrap_or_else(|e| panic!("{url}: {e}"));
    println!("child: read {n} entries from {url}");
    // the option still wins over the variable
    let err = read_all(&o.ca_file("/nonexistent/ca.pem")).expect_err("missing CA file");
    assert!(matches!(err, LdapError::CaFile { .. }), "{err}");
}

/// The tool's `--ca-file`, and `LDAPTLS_CACERT` without it, as processes.
#[cfg(feature = "cli")]
#[test]
fn the_tools_take_ca_file_and_ldaptls_cacert() {
    if !slapd::tools_or_skip(&[SLAPD, SLAPADD, SLAPCAT]) {
        return;
    }
    let pki = pki();
    let server = tls_server(&pki);
    let pw = pki.dir.path("pw");
    std::fs::write(&pw, format!("{PASSWORD}\n")).expect("password file");
    let out = pki.dir.path("example.com.ldif");
    let export = |url: &str, tls: &[&str]| {
        let mut c = tool("export-domain");
        c.env_remove(LDAPTLS_CACERT)
            .args(["--url", url, "--bind-dn", ADMIN, "--password-file"])
            .arg(&pw)
            .args(["--domain", "example.com", "--out"])
            .arg(&out)
            .args(tls);
        c
    };
    let ca = pki.ca.display().to_string();
    let plain = server.slapd.url();
    for (url, starttls) in [(plain.as_str(), true), (server.ldaps.as_str(), false)] {
        let mut tls = if starttls { vec!["--starttls"] } else { vec![] };
        let (code, _, err) = run(&mut export(url, &tls));
        assert_eq!(code, Some(1), "{url}: {err}");
        assert!(err.contains("not issued by a trusted CA"), "{url}: {err}");
        let _ = std::fs::remove_file(&out);
        tls.extend(["--ca-file", &ca]);
        let (code, _, err) = run(&mut export(url, &tls));
        assert_eq!(code, Some(0), "{url}: {err}");
        let ldif = std::fs::read_to_string(&out).expect("exported");
        assert!(ldif.contains("dn: dc=example,dc=com"), "{ldif}");
        let _ = std::fs::remove_file(&out);
    }
    let (code, _, err) = run(&mut export(&server.ldaps_other_ip, &["--ca-file", &ca]));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("not issued for the host"), "{err}");

    // apply: --ca-file, and LDAPTLS_CACERT instead of it
    let changes = pki.dir.path("changes.ldif");
    std::fs::write(
        &changes,
        "dn: dc=example,dc=com\nchangetype: modify\nreplace: description\ndescription: via TLS\n-\n",
    )
    .expect("changes");
    let apply = |env: Option<&Path>, flags: &[&str]| {
        let mut c = tool("apply");
        c.env_remove(LDAPTLS_CACERT);
        if let Some(ca) = env {
            c.env(LDAPTLS_CACERT, ca);
        }
        c.args([
            "--url",
            &server.ldaps,
            "--bind-dn",
            ADMIN,
            "--password-file",
        ])
        .arg(&pw)
        .args(flags)
        .arg(&changes);
        run(&mut c)
    };
    let (code, out, err) = apply(None, &["--dry-run", "--ca-file", &ca]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.starts_with("dry run: 1 operations"), "{out}");
    let (code, _, err) = apply(None, &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("not issued by a trusted CA"), "{err}");
    let (code, out, err) = apply(Some(&pki.ca), &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.starts_with("applied 1 of 1 operations"), "{out}");
}
