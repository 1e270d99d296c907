//! Loads the generated OpenLDAP schema into a real slapd 2.5 (`slaptest`) together with core,
//! cosine, inetorgperson and dyngroup, then `slapadd`s a small Zimbra directory with schema and
//! value checks on (`-o value-check=yes`) into a throwaway mdb database with suffix "".
//!
//! Needs Debian's `slapd` (slaptest, slapadd, back_mdb). Without it the test fails, unless
//! `ZIMBRA_PROV_SKIP_SERVICES=1` is set (then it prints that it skipped).

#[path = "support/slapd.rs"]
mod slapd;

use slapd::{TempDir, SLAPADD, SLAPTEST};

use std::path::Path;
use std::process::Command;

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("run OpenLDAP tool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn generated_schema_passes_slaptest() {
    if !slapd::tools_or_skip(&[SLAPTEST, SLAPADD]) {
        return;
    }
    let tmp = TempDir::new("slaptest");
    let conf = slapd::write_config(tmp.root(), 33554432);
    let (ok, log) = run(Command::new(SLAPTEST).arg("-u").arg("-f").arg(&conf));
    assert!(ok, "slaptest rejected the generated schema:\n{log}");
}

#[test]
fn zimbra_entries_load_with_value_checks() {
    if !slapd::tools_or_skip(&[SLAPTEST, SLAPADD]) {
        return;
    }
    let tmp = TempDir::new("slapadd");
    let conf = slapd::write_config(tmp.root(), 33554432);
    let ldif = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/attrs/zimbra-entries.ldif");
    let (ok, log) = run(Command::new(SLAPADD)
        .arg("-f")
        .arg(&conf)
        .arg("-l")
        .arg(&ldif)
        .args(["-o", "value-check=yes"]));
    assert!(ok, "slapadd rejected the Zimbra entries:\n{log}");
}

#[test]
fn schema_rejects_what_zimbra_would_reject() {
    if !slapd::tools_or_skip(&[SLAPTEST, SLAPADD]) {
        return;
    }
    // A second zimbraMailTransport (SINGLE-VALUE) and an account without zimbraAccountStatus
    // (MUST) are refused: the schema carries Zimbra's constraints, not just names.
    let cases = [
        (
            "dn: uid=x\nobjectClass: inetOrgPerson\nobjectClass: zimbraAccount\nuid: x\ncn: x\nsn: x\n\
             zimbraId: 5a8c2b1e-3d4f-4a6b-9c8d-7e6f5a4b3c2d\nzimbraAccountStatus: active\n\
             zimbraMailTransport: lmtp:a:7025\nzimbraMailTransport: lmtp:b:7025\n",
            "cannot have multiple values",
        ),
        (
            "dn: uid=y\nobjectClass: inetOrgPerson\nobjectClass: zimbraAccount\nuid: y\ncn: y\nsn: y\n\
             zimbraId: 5a8c2b1e-3d4f-4a6b-9c8d-7e6f5a4b3c2d\n",
            "zimbraAccountStatus",
        ),
        (
            "dn: uid=z\nobjectClass: inetOrgPerson\nobjectClass: zimbraAccount\nuid: z\ncn: z\nsn: z\n\
             zimbraId: 5a8c2b1e-3d4f-4a6b-9c8d-7e6f5a4b3c2d\nzimbraAccountStatus: active\n\
             zimbraLmtpBindPort: seven\n",
            "zimbraLmtpBindPort",
        ),
    ];
    for (i, (ldif, expect)) in cases.iter().enumerate() {
        let tmp = TempDir::new(&format!("reject{i}"));
        let conf = slapd::write_config(tmp.root(), 33554432);
        let file = tmp.path("bad.ldif");
        std::fs::write(&file, ldif).expect("write ldif");
        let (ok, log) = run(Command::new(SLAPADD)
            .arg("-f")
            .arg(&conf)
            .arg("-l")
            .arg(&file)
            .args(["-o", "value-check=yes"]));
        assert!(!ok, "slapadd accepted case {i}:\n{ldif}\n{log}");
        assert!(
            log.contains(expect),
            "case {i}: expected {expect:?} in:\n{log}"
        );
    }
}
