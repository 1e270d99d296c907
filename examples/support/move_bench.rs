//! Inputs and measurements for the domain-move benchmark: a Zimbra-like source (the slapcat
//! generator's accounts spread over a few domains), a target Zimbra that already hosts other
//! domains (global config, default COS, the source's mail hosts as servers, accounts), peak RSS
//! from `/proc/self/status`, and `ldapmodify -n -c -f` on the same source as the reference.
//!
//! Shared by `examples/move_bench.rs` and `benches/move.rs` through `#[path]`.

#![allow(dead_code)]

#[path = "slapcat_gen.rs"]
mod slapcat_gen;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use slapcat_gen::{put, Rng};

/// Zimbra's default COS id, which the generated source's accounts use.
const DEFAULT_COS_ID: &str = "e00428a1-0c00-11d9-836a-000d93afea2a";

fn entry(out: &mut Vec<u8>, dn: &str, attrs: &[(&str, &str)]) {
    put(out, "dn", dn.as_bytes());
    for (n, v) in attrs {
        put(out, n, v.as_bytes());
    }
    out.push(b'\n');
}

/// Writes a target directory: `cn=zimbra` and its branches, the global config (with an auth
/// token key), the default COS, servers `mbox0..3.example.net` (the source's mail hosts) and
/// `accounts` accounts in `hosted0.net..hosted9.net`. Returns the number of records.
pub fn target(accounts: usize, w: &mut impl Write) -> io::Result<u64> {
    let mut rng = Rng::new(7919);
    let mut out = Vec::with_capacity(1 << 16);
    let mut n = 0u64;
    fn role(cn: &str) -> [(&str, &str); 2] {
        [("objectClass", "organizationalRole"), ("cn", cn)]
    }
    entry(&mut out, "cn=zimbra", &role("zimbra"));
    let key = format!("0:{:016x}{:016x}", rng.next(), rng.next());
    entry(
        &mut out,
        "cn=config,cn=zimbra",
        &[
            ("objectClass", "organizationalRole"),
            ("objectClass", "zimbraGlobalConfig"),
            ("cn", "config"),
            ("zimbraAuthTokenKey", &key),
        ],
    );
    entry(&mut out, "cn=cos,cn=zimbra", &role("cos"));
    entry(
        &mut out,
        "cn=default,cn=cos,cn=zimbra",
        &[
            ("objectClass", "zimbraCOS"),
            ("cn", "default"),
            ("zimbraId", DEFAULT_COS_ID),
        ],
    );
    entry(&mut out, "cn=servers,cn=zimbra", &role("servers"));
    n += 5;
    for s in 0..4 {
        let host = format!("mbox{s}.example.net");
        let id = rng.uuid();
        entry(
            &mut out,
            &format!("cn={host},cn=servers,cn=zimbra"),
            &[
                ("objectClass", "zimbraServer"),
                ("cn", &host),
                ("zimbraServiceHostname", &host),
                ("zimbraId", &id),
                ("zimbraServiceEnabled", "mailbox"),
            ],
        );
        n += 1;
    }
    let domains = 10;
    for d in 0..domains {
        let id = rng.uuid();
        let (dc, name) = (format!("hosted{d}"), format!("hosted{d}.net"));
        entry(
            &mut out,
            &format!("dc={dc},dc=net"),
            &[
                ("objectClass", "dcObject"),
                ("objectClass", "organization"),
                ("objectClass", "zimbraDomain"),
                ("dc", &dc),
                ("o", &format!("{name} domain")),
                ("zimbraDomainName", &name),
                ("zimbraId", &id),
                ("zimbraDomainType", "local"),
                ("zimbraDomainStatus", "active"),
            ],
        );
        entry(
            &mut out,
            &format!("ou=people,dc={dc},dc=net"),
            &[
                ("objectClass", "organizationalRole"),
                ("ou", "people"),
                ("cn", "people"),
            ],
        );
        n += 2;
    }
    w.write_all(&out)?;
    out.clear();
    for i in 0..accounts {
        let dc = format!("hosted{}", i % domains);
        let mail = format!("member{i}@{dc}.net");
        let (id, host) = (rng.uuid(), format!("mbox{}.example.net", i % 4));
        let transport = format!("lmtp:{host}:7025");
        let (cn, uid) = (format!("Member {i}"), format!("member{i}"));
        entry(
            &mut out,
            &format!("uid={uid},ou=people,dc={dc},dc=net"),
            &[
                ("objectClass", "inetOrgPerson"),
                ("objectClass", "zimbraAccount"),
                ("objectClass", "amavisAccount"),
                ("uid", &uid),
                ("cn", &cn),
                ("sn", "Member"),
                ("displayName", &cn),
                ("mail", &mail),
                ("zimbraMailDeliveryAddress", &mail),
                ("zimbraId", &id),
                ("zimbraMailHost", &host),
                ("zimbraMailTransport", &transport),
                ("zimbraAccountStatus", "active"),
                ("zimbraMailStatus", "enabled"),
                ("zimbraCOSId", DEFAULT_COS_ID),
                ("zimbraPrefLocale", "en_US"),
                ("zimbraPrefTimeZoneId", "Europe/Berlin"),
                ("zimbraCreateTimestamp", "20240101000000Z"),
            ],
        );
        n += 1;
        if out.len() > 1 << 16 {
            w.write_all(&out)?;
            out.clear();
        }
    }
    w.write_all(&out)?;
    Ok(n)
}

fn write_file(path: &Path, f: impl FnOnce(&mut io::BufWriter<std::fs::File>) -> io::Result<u64>) {
    if path.exists() {
        return;
    }
    let tmp = path.with_extension("tmp");
    let file = std::fs::File::create(&tmp).unwrap_or_else(|e| panic!("{}: {e}", tmp.display()));
    let mut w = io::BufWriter::with_capacity(1 << 20, file);
    f(&mut w)
        .and_then(|_| w.flush())
        .unwrap_or_else(|e| panic!("{}: {e}", tmp.display()));
    std::fs::rename(&tmp, path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// The benchmark's source and target files in `dir`, generated when missing: a source of
/// `accounts` accounts over `domains` domains (`domain0.com` ... ; with 2 domains each holds
/// half) and a target of `target_accounts` accounts.
pub fn files(
    dir: &Path,
    accounts: usize,
    domains: usize,
    target_accounts: usize,
) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let src = dir.join(format!("move-source-{accounts}-{domains}.ldif"));
    let tgt = dir.join(format!("move-target-{target_accounts}.ldif"));
    write_file(&src, |w| slapcat_gen::generate(accounts, domains, w));
    write_file(&tgt, |w| target(target_accounts, w));
    (src, tgt)
}

/// Peak resident set size of this process so far, in bytes (`VmHWM`).
pub fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = s
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// CPU seconds (user + system, all threads) this process used so far (`/proc/self/stat`,
/// assuming 100 clock ticks per second), which a loaded machine does not inflate the way it
/// inflates wall time.
pub fn cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = s.get(s.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

/// Resets the peak RSS (`VmHWM`) to the current RSS, so that what follows is measured alone.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The load averages (1, 5, 15 minutes), to report the conditions of a measurement.
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// `ldapmodify -n -c -f FILE` (OpenLDAP's parser, nothing kept): wall seconds and peak RSS in
/// kB (through `/usr/bin/time` when present); `None` when ldapmodify is not installed.
pub fn ldapmodify(path: &Path) -> Option<(f64, Option<u64>)> {
    let time = Path::new("/usr/bin/time");
    let start = Instant::now();
    let out = if time.exists() {
        std::process::Command::new(time)
            .args(["-f", "%M", "ldapmodify", "-n", "-c", "-f"])
            .arg(path)
            .stdout(std::process::Stdio::null())
            .output()
            .ok()?
    } else {
        std::process::Command::new("ldapmodify")
            .args(["-n", "-c", "-f"])
            .arg(path)
            .stdout(std::process::Stdio::null())
            .output()
            .ok()?
    };
    let secs = start.elapsed().as_secs_f64();
    // -c: it goes on past records it would refuse, so only a kill (no code) is a failure.
    out.status.code()?;
    let rss = String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok());
    Some((secs, rss))
}
