//! A slapd of the live-LDAP tests' own (feature `ldap`): temp dir, mdb, suffix "",
//! core/cosine/inetorgperson/dyngroup plus the crate's generated Zimbra schema, a size limit
//! of [`SIZE_LIMIT`] entries for [`ADMIN`] (paged searches are unlimited), listening on
//! 127.0.0.1 on a free port and on an ldapi socket in the temp dir (plus any listeners a test
//! adds, such as `ldaps://`); stopped by pid and its directory removed on drop. Also the
//! canonical form the tests compare directories in, and small entry builders.
//!
//! Included with `#[path = "support/live.rs"] mod live;` next to
//! `#[path = "support/slapd.rs"] mod slapd;`.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zimbra_prov::dn::Dn;
use zimbra_prov::ldap::ConnectOptions;
use zimbra_prov::ldif::{Entry, Reader, Record, Writer, WriterOptions};

use crate::slapd::{self, SLAPADD, SLAPD};

/// The DN the tests bind as (not the rootdn, which limits do not apply to).
pub const ADMIN: &str = "uid=zimbra,cn=admins,cn=zimbra";
/// Its password (in `tests/data/ldap/base.ldif`).
pub const PASSWORD: &str = "zimbra-test-secret";
/// The size limit of unpaged searches for [`ADMIN`].
pub const SIZE_LIMIT: usize = 10;

/// A slapd of our own, killed by pid and its temp dir removed on drop.
pub struct Slapd {
    /// Its private directory (config, database, log, sockets).
    pub dir: PathBuf,
    /// Its slapd.conf.
    pub conf: PathBuf,
    child: Option<Child>,
    /// The port of `ldap://127.0.0.1`.
    pub port: u16,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A TCP port nobody listens on right now, on `ip`.
pub fn free_port_on(ip: &str) -> u16 {
    TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A TCP port nobody listens on right now, on 127.0.0.1.
pub fn free_port() -> u16 {
    free_port_on("127.0.0.1")
}

fn percent_encode_path(p: &Path) -> String {
    p.to_string_lossy()
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A temp dir with an mdb database and the slapd.conf of these tests.
pub fn temp_config(tag: &str) -> (PathBuf, PathBuf) {
    temp_config_with(tag, "")
}

/// [`temp_config`] with `global` added among the global directives (TLS settings).
fn temp_config_with(tag: &str, global: &str) -> (PathBuf, PathBuf) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("zp-ldap-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(dir.join("db")).expect("create temp dir");
    let database = format!(
        "limits dn.exact=\"{ADMIN}\" size.soft={SIZE_LIMIT} size.hard={SIZE_LIMIT} size.prtotal=unlimited\n\
         access to attrs=userPassword by dn.exact=\"{ADMIN}\" write by anonymous auth by * none\n\
         access to * by dn.exact=\"{ADMIN}\" write by * none\n"
    );
    let conf = slapd::write_config_with(
        &dir,
        33_554_432,
        global,
        "cn=root",
        Some("root-secret"),
        &database,
    );
    (dir, conf)
}

/// slapcat of `conf` as entries.
pub fn slapcat_entries(conf: &Path) -> Vec<Entry> {
    Reader::new(&slapd::slapcat_output(conf)[..])
        .map(|r| match r.expect("slapcat LDIF parses") {
            Record::Entry(e) => e,
            Record::Change(c) => panic!("change record from slapcat: {}", c.dn),
        })
        .collect()
}

impl Slapd {
    /// Writes the config and loads `entries` with slapadd (schema and value checks on),
    /// then starts slapd and waits until it accepts a bind.
    pub fn start(tag: &str, entries: &[Entry]) -> Slapd {
        Slapd::start_with(tag, entries, "", &[])
    }

    /// [`Slapd::start`] with more configuration: `global` slapd.conf directives (each line
    /// ending in a newline; TLS settings) and more listener URLs (`ldaps://...`).
    pub fn start_with(tag: &str, entries: &[Entry], global: &str, listeners: &[String]) -> Slapd {
        let (dir, conf) = temp_config_with(tag, global);
        let mut slapd = Slapd {
            dir,
            conf,
            child: None,
            port: free_port(),
        };
        let ldif = slapd.dir.join("load.ldif");
        write_ldif(&ldif, entries);
        slapd::offline(SLAPADD, &slapd.conf, &ldif);
        let mut urls = vec![
            format!("ldap://127.0.0.1:{}/", slapd.port),
            slapd.ldapi_url(),
        ];
        urls.extend(listeners.iter().cloned());
        let log = std::fs::File::create(slapd.dir.join("slapd.log")).expect("log file");
        let child = Command::new(SLAPD)
            .arg("-f")
            .arg(&slapd.conf)
            .arg("-h")
            .arg(urls.join(" "))
            .args(["-d", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start slapd");
        slapd.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect(("127.0.0.1", slapd.port)).is_ok()
                && slapd.options().connect().is_ok()
            {
                break;
            }
            if let Some(Ok(Some(status))) = slapd.child.as_mut().map(Child::try_wait) {
                let log = std::fs::read_to_string(slapd.dir.join("slapd.log")).unwrap_or_default();
                panic!("slapd exited with {status}:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "slapd did not answer within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        slapd
    }

    /// `ldap://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// The ldapi URL of its socket.
    pub fn ldapi_url(&self) -> String {
        format!("ldapi://{}", percent_encode_path(&self.dir.join("ldapi")))
    }

    /// Bound as [`ADMIN`] on [`Slapd::url`], short timeouts.
    pub fn options(&self) -> ConnectOptions {
        ConnectOptions::new(self.url())
            .bind(ADMIN, PASSWORD)
            .timeouts(Duration::from_secs(5), Duration::from_secs(30))
    }

    /// The database as slapcat sees it, operational attributes removed.
    pub fn slapcat(&self) -> Canon {
        canon(&slapcat_entries(&self.conf))
    }
}

/// Writes `entries` as slapadd-mode LDIF.
pub fn write_ldif(path: &Path, entries: &[Entry]) {
    std::fs::write(path, ldif_bytes(entries)).expect("write LDIF");
}

/// `entries` as slapadd-mode LDIF.
pub fn ldif_bytes(entries: &[Entry]) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), WriterOptions::slapadd_mode());
    for e in entries {
        w.write_entry(e).expect("write entry");
    }
    w.into_inner().expect("flush")
}

/// DN (normalized) -> attribute type (lower-cased, with options) -> set of values.
pub type Canon = BTreeMap<String, BTreeMap<String, BTreeSet<Vec<u8>>>>;

/// `entries` in canonical form, operational attributes ([`slapd::OPERATIONAL`]) left out.
pub fn canon(entries: &[Entry]) -> Canon {
    let mut out = Canon::new();
    for e in entries {
        let attrs = out.entry(e.dn.normalized().to_string()).or_default();
        for (d, v) in e.iter() {
            let d = d.to_ascii_lowercase();
            if !slapd::OPERATIONAL.contains(&d.as_str()) {
                attrs.entry(d).or_default().insert(v.to_vec());
            }
        }
    }
    out
}

/// A DN, or a panic naming it.
pub fn dn(s: &str) -> Dn {
    Dn::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// An entry from (description, value) pairs.
pub fn entry(d: &str, attrs: &[(&str, &[u8])]) -> Entry {
    let mut e = Entry::new(dn(d));
    for (n, v) in attrs {
        e.push(*n, *v);
    }
    e
}

/// `dc=com` and the Zimbra domain `example.com` (`dc=example,dc=com`), nothing below it.
pub fn example_com() -> Vec<Entry> {
    vec![
        entry(
            "dc=com",
            &[
                ("objectClass", b"dcObject"),
                ("objectClass", b"organization"),
                ("dc", b"com"),
                ("o", b"com"),
            ],
        ),
        entry(
            "dc=example,dc=com",
            &[
                ("objectClass", b"dcObject"),
                ("objectClass", b"organization"),
                ("objectClass", b"zimbraDomain"),
                ("dc", b"example"),
                ("o", b"example.com domain"),
                ("zimbraId", b"9a0b1c2d-3e4f-4a5b-8c6d-000000000001"),
                ("zimbraDomainName", b"example.com"),
                ("zimbraDomainType", b"local"),
            ],
        ),
    ]
}

/// The configuration branch of `tests/data/ldap/base.ldif`: the admin account, two COS, two
/// servers.
pub fn base_entries() -> Vec<Entry> {
    let base =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ldap/base.ldif"))
            .expect("read base.ldif");
    Reader::new(&base[..])
        .map(|r| match r.expect("base.ldif parses") {
            Record::Entry(e) => e,
            Record::Change(c) => panic!("change in base.ldif: {}", c.dn),
        })
        .collect()
}

/// The `zimbra-prov` binary (feature `cli`) with `command` as its first argument.
#[cfg(feature = "cli")]
pub fn tool(command: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_zimbra-prov"));
    c.arg(command);
    c
}

/// Runs a command: exit code, stdout, stderr.
pub fn run(cmd: &mut Command) -> (Option<i32>, String, String) {
    let o = cmd.output().expect("run command");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}
