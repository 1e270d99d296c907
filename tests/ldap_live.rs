//! Live-LDAP tests (feature `ldap`) against a real OpenLDAP slapd started by the test:
//! temp dir, mdb, suffix "", core/cosine/inetorgperson/dyngroup plus the crate's generated
//! Zimbra schema, a size limit of 10 entries (paged searches are unlimited), listening on
//! 127.0.0.1 on a free port and on an ldapi socket in the temp dir; stopped by pid on drop.
//!
//! The tests bind as `uid=zimbra,cn=admins,cn=zimbra` (not the rootdn, which limits do not
//! apply to). Needs Debian's slapd; without it they fail unless `ZIMBRA_PROV_SKIP_SERVICES=1`.
#![cfg(feature = "ldap")]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zimbra_prov::dn::{Dn, Rdn};
use zimbra_prov::ldap::{
    read_entries, ConnectOptions, Export, LdapError, LdapSink, LdapSource, Phase, Plan,
    SourceOptions,
};
use zimbra_prov::ldif::{
    Attr, Change, ChangeOp, Entry, ModOp, Modification, Reader, Record, Writer, WriterOptions,
};

const SLAPD: &str = "/usr/sbin/slapd";
const SLAPADD: &str = "/usr/sbin/slapadd";
const SLAPCAT: &str = "/usr/sbin/slapcat";
const SCHEMA_DIR: &str = "/etc/ldap/schema";
const MODULE_DIR: &str = "/usr/lib/ldap";
const ADMIN: &str = "uid=zimbra,cn=admins,cn=zimbra";
const PASSWORD: &str = "zimbra-test-secret";
const SIZE_LIMIT: usize = 10;
const COS_GOLD: &str = "7d3c1a2b-5e4f-4a6b-8c9d-0e1f2a3b4c5d";

/// `true` when the test should run; `false` (after a note) when services may be skipped.
fn services_available() -> bool {
    let missing: Vec<&str> = [SLAPD, SLAPADD, SLAPCAT, SCHEMA_DIR, MODULE_DIR]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("ZIMBRA_PROV_SKIP_SERVICES").as_deref() == Ok("1") {
        println!(
            "skipped: OpenLDAP not installed (missing {missing:?}); ZIMBRA_PROV_SKIP_SERVICES=1"
        );
        return false;
    }
    panic!(
        "OpenLDAP is needed for this test (missing {missing:?}): install Debian's slapd and \
         ldap-utils, or set ZIMBRA_PROV_SKIP_SERVICES=1 to skip"
    );
}

/// A slapd of our own, killed by pid and its temp dir removed on drop.
struct Slapd {
    dir: PathBuf,
    conf: PathBuf,
    child: Option<Child>,
    port: u16,
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
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

impl Slapd {
    /// Writes the config and loads `entries` with slapadd (schema and value checks on),
    /// then starts slapd and waits until it accepts a bind.
    fn start(tag: &str, entries: &[Entry]) -> Slapd {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir =
            std::env::temp_dir().join(format!("zp-ldap-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(dir.join("db")).expect("create temp dir");
        let schema = dir.join("zimbra.schema");
        std::fs::write(&schema, zimbra_prov::attrs::openldap_schema()).expect("write schema");
        let conf = dir.join("slapd.conf");
        let text = format!(
            "include {SCHEMA_DIR}/core.schema\n\
             include {SCHEMA_DIR}/cosine.schema\n\
             include {SCHEMA_DIR}/inetorgperson.schema\n\
             include {SCHEMA_DIR}/dyngroup.schema\n\
             include {schema}\n\
             pidfile {dir}/slapd.pid\n\
             modulepath {MODULE_DIR}\n\
             moduleload back_mdb\n\
             database mdb\n\
             maxsize 33554432\n\
             suffix \"\"\n\
             rootdn \"cn=root\"\n\
             rootpw root-secret\n\
             directory {dir}/db\n\
             limits dn.exact=\"{ADMIN}\" size.soft={SIZE_LIMIT} size.hard={SIZE_LIMIT} size.prtotal=unlimited\n\
             access to attrs=userPassword by dn.exact=\"{ADMIN}\" write by anonymous auth by * none\n\
             access to * by dn.exact=\"{ADMIN}\" write by * none\n",
            schema = schema.display(),
            dir = dir.display()
        );
        std::fs::write(&conf, text).expect("write slapd.conf");
        let mut slapd = Slapd {
            dir,
            conf,
            child: None,
            port: free_port(),
        };
        let ldif = slapd.dir.join("load.ldif");
        write_ldif(&ldif, entries);
        let out = Command::new(SLAPADD)
            .arg("-f")
            .arg(&slapd.conf)
            .arg("-l")
            .arg(&ldif)
            .args(["-o", "value-check=yes"])
            .output()
            .expect("run slapadd");
        assert!(
            out.status.success(),
            "slapadd failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let urls = format!("ldap://127.0.0.1:{}/ {}", slapd.port, slapd.ldapi_url());
        let log = std::fs::File::create(slapd.dir.join("slapd.log")).expect("log file");
        let child = Command::new(SLAPD)
            .arg("-f")
            .arg(&slapd.conf)
            .arg("-h")
            .arg(urls)
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

    fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    fn ldapi_url(&self) -> String {
        format!("ldapi://{}", percent_encode_path(&self.dir.join("ldapi")))
    }

    fn options(&self) -> ConnectOptions {
        ConnectOptions::new(self.url())
            .bind(ADMIN, PASSWORD)
            .timeouts(Duration::from_secs(5), Duration::from_secs(30))
    }

    /// The database as slapcat sees it, operational attributes removed.
    fn slapcat(&self) -> Canon {
        let out = Command::new(SLAPCAT)
            .arg("-f")
            .arg(&self.conf)
            .output()
            .expect("run slapcat");
        assert!(
            out.status.success(),
            "slapcat: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let entries: Vec<Entry> = Reader::new(&out.stdout[..])
            .map(|r| match r.expect("slapcat LDIF parses") {
                Record::Entry(e) => e,
                Record::Change(c) => panic!("change record from slapcat: {}", c.dn),
            })
            .collect();
        canon(&entries)
    }
}

fn write_ldif(path: &Path, entries: &[Entry]) {
    let f = std::fs::File::create(path).expect("create LDIF");
    let mut w = Writer::new(std::io::BufWriter::new(f), WriterOptions::slapadd_mode());
    for e in entries {
        w.write_entry(e).expect("write entry");
    }
    w.into_inner().expect("flush").flush().expect("flush file");
}

const OPERATIONAL: &[&str] = &[
    "structuralobjectclass",
    "entryuuid",
    "creatorsname",
    "createtimestamp",
    "entrycsn",
    "modifiersname",
    "modifytimestamp",
];

/// DN (normalized) -> attribute type (lower-cased, with options) -> set of values.
type Canon = BTreeMap<String, BTreeMap<String, BTreeSet<Vec<u8>>>>;

fn canon(entries: &[Entry]) -> Canon {
    let mut out = Canon::new();
    for e in entries {
        let attrs = out.entry(e.dn.normalized().to_string()).or_default();
        for (d, v) in e.iter() {
            let d = d.to_ascii_lowercase();
            if !OPERATIONAL.contains(&d.as_str()) {
                attrs.entry(d).or_default().insert(v.to_vec());
            }
        }
    }
    out
}

fn dn(s: &str) -> Dn {
    Dn::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn entry(d: &str, attrs: &[(&str, &[u8])]) -> Entry {
    let mut e = Entry::new(dn(d));
    for (n, v) in attrs {
        e.push(*n, *v);
    }
    e
}

/// The base fixture plus two generated domains: example.com (25 accounts on mail1, some in
/// COS gold, the rest in COS default, a DL and an alias) and other.org (12 accounts on
/// mail2, domain default COS gold).
fn directory() -> Vec<Entry> {
    let base =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ldap/base.ldif"))
            .expect("read base.ldif");
    let mut out: Vec<Entry> = Reader::new(&base[..])
        .map(|r| match r.expect("base.ldif parses") {
            Record::Entry(e) => e,
            Record::Change(c) => panic!("change in base.ldif: {}", c.dn),
        })
        .collect();
    let photo: Vec<u8> = (0..=255u8).collect();
    for (tld, name, accounts, host, default_cos) in [
        ("com", "example", 25usize, "mail1.example.com", None),
        ("org", "other", 12, "mail2.example.com", Some(COS_GOLD)),
    ] {
        let domain = format!("{name}.{tld}");
        out.push(entry(
            &format!("dc={tld}"),
            &[
                ("objectClass", b"dcObject"),
                ("objectClass", b"organization"),
                ("dc", tld.as_bytes()),
                ("o", tld.as_bytes()),
            ],
        ));
        let ddn = format!("dc={name},dc={tld}");
        let mut d = entry(
            &ddn,
            &[
                ("objectClass", b"dcObject"),
                ("objectClass", b"organization"),
                ("objectClass", b"zimbraDomain"),
                ("dc", name.as_bytes()),
                ("o", format!("{domain} domain").as_bytes()),
                (
                    "zimbraId",
                    format!("9a0b1c2d-3e4f-4a5b-8c6d-{:012x}", accounts).as_bytes(),
                ),
                ("zimbraDomainName", domain.as_bytes()),
                ("zimbraDomainType", b"local"),
                ("zimbraDomainStatus", b"active"),
                ("zimbraMailStatus", b"enabled"),
            ],
        );
        if let Some(cos) = default_cos {
            d.push("zimbraDomainDefaultCOSId", cos);
        }
        out.push(d);
        out.push(entry(
            &format!("ou=people,{ddn}"),
            &[
                ("objectClass", b"organizationalRole"),
                ("ou", b"people"),
                ("cn", b"people"),
            ],
        ));
        out.push(entry(
            &format!("cn=groups,{ddn}"),
            &[
                ("objectClass", b"organizationalRole"),
                ("cn", b"groups"),
                ("description", b"dynamic groups base"),
            ],
        ));
        for i in 0..accounts {
            let local = format!("user{i:02}");
            let addr = format!("{local}@{domain}");
            let mut a = entry(
                &format!("uid={local},ou=people,{ddn}"),
                &[
                    ("objectClass", b"inetOrgPerson"),
                    ("objectClass", b"zimbraAccount"),
                    ("objectClass", b"amavisAccount"),
                    ("uid", local.as_bytes()),
                    ("cn", format!("Zoë Müller {i}").as_bytes()),
                    ("sn", "Müller".as_bytes()),
                    ("mail", addr.as_bytes()),
                    (
                        "zimbraId",
                        format!("5a8c2b1e-3d4f-4a6b-9c8d-{:06x}{:06x}", accounts, i).as_bytes(),
                    ),
                    ("zimbraAccountStatus", b"active"),
                    ("zimbraMailStatus", b"enabled"),
                    ("zimbraMailDeliveryAddress", addr.as_bytes()),
                    ("zimbraMailHost", host.as_bytes()),
                    (
                        "zimbraMailTransport",
                        format!("lmtp:{host}:7025").as_bytes(),
                    ),
                    ("zimbraCreateTimestamp", b"20240102030405Z"),
                ],
            );
            if i % 3 == 0 && default_cos.is_none() {
                a.push("zimbraCOSId", COS_GOLD);
            }
            if i == 1 {
                a.push("jpegPhoto", photo.clone());
                a.push("description", " leading space and trailing ");
            }
            out.push(a);
        }
        out.push(entry(
            &format!("uid=team,ou=people,{ddn}"),
            &[
                ("objectClass", b"zimbraDistributionList"),
                ("objectClass", b"zimbraMailRecipient"),
                ("uid", b"team"),
                ("mail", format!("team@{domain}").as_bytes()),
                ("zimbraMailAlias", format!("team@{domain}").as_bytes()),
                (
                    "zimbraId",
                    format!("6b7c8d9e-0f1a-4b2c-8d3e-{:012x}", accounts).as_bytes(),
                ),
                ("zimbraMailStatus", b"enabled"),
                (
                    "zimbraMailForwardingAddress",
                    format!("user00@{domain}").as_bytes(),
                ),
                (
                    "zimbraMailForwardingAddress",
                    format!("user01@{domain}").as_bytes(),
                ),
            ],
        ));
        out.push(entry(
            &format!("uid=alias,ou=people,{ddn}"),
            &[
                ("objectClass", b"zimbraAlias"),
                ("uid", b"alias"),
                (
                    "zimbraId",
                    format!("7c8d9e0f-1a2b-4c3d-9e4f-{:012x}", accounts).as_bytes(),
                ),
                (
                    "zimbraAliasTargetId",
                    format!("5a8c2b1e-3d4f-4a6b-9c8d-{:06x}{:06x}", accounts, 2).as_bytes(),
                ),
            ],
        ));
    }
    out
}

fn source(slapd: &Slapd, page_size: u32) -> LdapSource {
    LdapSource::connect(
        &slapd.options(),
        SourceOptions {
            page_size,
            ..SourceOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("connect: {e}"))
}

#[test]
fn reads_back_the_whole_tree_past_the_size_limit() {
    if !services_available() {
        return;
    }
    let loaded = directory();
    assert!(
        loaded.len() > 5 * SIZE_LIMIT,
        "data must exceed the size limit"
    );
    let slapd = Slapd::start("tree", &loaded);

    // Paged: every entry, attribute and value byte, in the order loaded.
    let mut got = Vec::new();
    let mut reports = Vec::new();
    let summary = source(&slapd, 7)
        .export(
            &Export::Tree,
            |e| {
                got.push(e);
                Ok(())
            },
            |p| reports.push(*p),
        )
        .unwrap_or_else(|e| panic!("export: {e}"));
    assert_eq!(got.len(), loaded.len());
    for (g, l) in got.iter().zip(&loaded) {
        assert_eq!(g, l, "entry {} differs", l.dn);
    }
    assert_eq!(summary.entries, loaded.len() as u64);
    let pages = loaded.len().div_ceil(7) as u64;
    assert!(
        summary.pages == pages || summary.pages == pages + 1,
        "{summary:?}"
    );
    assert_eq!(reports.len() as u64, summary.pages);
    assert!(reports.windows(2).all(|w| w[0].entries <= w[1].entries));
    assert!(reports.iter().all(|p| p.phase == Phase::Tree));
    assert!(reports
        .last()
        .is_some_and(|p| p.phase_done && p.entries == summary.entries));

    // The same through the iterator and the read_entries conversion point.
    let mut progress_calls = 0u64;
    let counted = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let c2 = counted.clone();
    let entries = source(&slapd, 5).entries(Export::Tree, move |_| c2.set(c2.get() + 1));
    let via_iter: Vec<Entry> = read_entries(entries, |it| Ok::<_, String>(it.collect()))
        .unwrap_or_else(|e| panic!("read_entries: {e}"));
    progress_calls += counted.get();
    assert_eq!(via_iter, loaded);
    assert!(progress_calls >= (loaded.len() / 5) as u64);

    // Without paging the server stops at its size limit: a typed error, not a short result.
    let err = source(&slapd, 0)
        .export(&Export::Tree, |_| Ok(()), |_| {})
        .expect_err("size limit must be reported");
    match err {
        LdapError::SizeLimitExceeded {
            base,
            returned,
            paged,
        } => {
            assert_eq!(base, "");
            assert_eq!(returned, SIZE_LIMIT as u64);
            assert!(!paged);
        }
        other => panic!("expected SizeLimitExceeded, got {other}"),
    }
}

#[test]
fn exports_one_domain_with_its_cos_and_servers() {
    if !services_available() {
        return;
    }
    let loaded = directory();
    let slapd = Slapd::start("domain", &loaded);
    let ldapi = ConnectOptions::new(slapd.ldapi_url()).bind(ADMIN, PASSWORD);
    for (domain, base, cos, server) in [
        (
            "example.com",
            "dc=example,dc=com",
            vec!["cn=default,cn=cos,cn=zimbra", "cn=gold,cn=cos,cn=zimbra"],
            "cn=mail1.example.com,cn=servers,cn=zimbra",
        ),
        (
            "other.org",
            "dc=other,dc=org",
            vec!["cn=gold,cn=cos,cn=zimbra"],
            "cn=mail2.example.com,cn=servers,cn=zimbra",
        ),
    ] {
        let mut src = LdapSource::connect(
            &ldapi,
            SourceOptions {
                page_size: 4,
                ..SourceOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("ldapi connect: {e}"));
        let mut got = Vec::new();
        let mut phases = Vec::new();
        let summary = src
            .export(
                &Export::Domain(domain.to_string()),
                |e| {
                    got.push(e);
                    Ok(())
                },
                |p| {
                    if p.phase_done {
                        phases.push(p.phase)
                    }
                },
            )
            .unwrap_or_else(|e| panic!("export {domain}: {e}"));
        let base = dn(base);
        let mut expected: Vec<&Entry> = loaded.iter().filter(|e| e.dn.is_under(&base)).collect();
        assert!(expected.len() > SIZE_LIMIT);
        for c in &cos {
            expected.extend(loaded.iter().filter(|e| e.dn == dn(c)));
        }
        expected.extend(loaded.iter().filter(|e| e.dn == dn(server)));
        let got_refs: Vec<&Entry> = got.iter().collect();
        assert_eq!(got_refs, expected, "{domain}");
        assert_eq!(summary.entries, expected.len() as u64);
        assert!(summary.missing_cos.is_empty() && summary.missing_servers.is_empty());
        assert_eq!(phases, vec![Phase::Domain, Phase::Cos, Phase::Servers]);
    }

    let err = source(&slapd, 4)
        .export(&Export::Domain("nowhere.net".into()), |_| Ok(()), |_| {})
        .expect_err("missing domain");
    assert!(
        matches!(&err, LdapError::NoSuchDomain { dn, .. } if dn == "dc=nowhere,dc=net"),
        "{err}"
    );
}

#[test]
fn connection_errors_are_typed() {
    if !services_available() {
        return;
    }
    let slapd = Slapd::start("errors", &directory());
    let err = ConnectOptions::new(slapd.url())
        .bind(ADMIN, "wrong")
        .connect()
        .expect_err("bad password");
    assert!(
        matches!(&err, LdapError::Bind { code: 49, dn, .. } if dn == ADMIN),
        "{err}"
    );
    assert!(err.to_string().contains("invalidCredentials"), "{err}");

    let closed = free_port();
    let err = ConnectOptions::new(format!("ldap://127.0.0.1:{closed}"))
        .timeouts(Duration::from_secs(2), Duration::from_secs(2))
        .connect()
        .expect_err("closed port");
    assert!(matches!(err, LdapError::Connect { .. }), "{err}");

    let err = ConnectOptions::new("http://x")
        .connect()
        .expect_err("scheme");
    assert!(matches!(err, LdapError::Url { .. }), "{err}");
    let err = ConnectOptions::new("ldaps://x")
        .starttls(true)
        .connect()
        .expect_err("starttls on ldaps");
    assert!(matches!(err, LdapError::Url { .. }), "{err}");

    // StartTLS against a server without TLS: a connect error, not a silent plain connection.
    let err = slapd
        .options()
        .starttls(true)
        .connect()
        .expect_err("no TLS configured");
    assert!(matches!(err, LdapError::Connect { .. }), "{err}");
}

/// Applies `changes` to the canonical model the way the server does for these simple cases.
fn apply_model(model: &mut Canon, changes: &[Change]) {
    for c in changes {
        let key = c.dn.normalized().to_string();
        match &c.op {
            ChangeOp::Add(attrs) => {
                let mut m: BTreeMap<String, BTreeSet<Vec<u8>>> = BTreeMap::new();
                for a in attrs {
                    m.entry(a.description.to_ascii_lowercase())
                        .or_default()
                        .insert(a.value.clone());
                }
                model.insert(key, m);
            }
            ChangeOp::Delete => {
                model.remove(&key);
            }
            ChangeOp::Modify(mods) => {
                let e = model.get_mut(&key).expect("modified entry exists in model");
                for m in mods {
                    let a = m.attribute.to_ascii_lowercase();
                    let vals: BTreeSet<Vec<u8>> = m.values.iter().cloned().collect();
                    match m.op {
                        ModOp::Add => e.entry(a).or_default().extend(vals),
                        ModOp::Replace | ModOp::Delete if m.values.is_empty() => {
                            e.remove(&a);
                        }
                        ModOp::Replace => {
                            e.insert(a, vals);
                        }
                        ModOp::Delete => {
                            let set = e.entry(a.clone()).or_default();
                            set.retain(|v| !vals.contains(v));
                            if set.is_empty() {
                                e.remove(&a);
                            }
                        }
                        ModOp::Increment => panic!("not modelled"),
                    }
                }
            }
            ChangeOp::ModDn {
                new_rdn,
                delete_old_rdn,
                new_superior,
            } => {
                let parent = new_superior
                    .clone()
                    .or_else(|| c.dn.parent())
                    .expect("parent");
                let target = parent.child(new_rdn.clone());
                let mut e = model.remove(&key).expect("moved entry exists in model");
                let ava = |r: &Rdn| {
                    let a = r.avas().first().expect("ava");
                    (
                        a.attr_type().to_ascii_lowercase(),
                        a.text().expect("text").as_bytes().to_vec(),
                    )
                };
                if *delete_old_rdn {
                    let (t, v) = ava(c.dn.rdn().expect("rdn"));
                    if let Some(s) = e.get_mut(&t) {
                        s.remove(&v);
                    }
                }
                let (t, v) = ava(new_rdn);
                e.entry(t).or_default().insert(v);
                model.insert(target.normalized().to_string(), e);
            }
        }
    }
}

fn add(d: &str, attrs: &[(&str, &str)]) -> Change {
    Change::new(
        dn(d),
        ChangeOp::Add(attrs.iter().map(|(n, v)| Attr::new(*n, *v)).collect()),
    )
}

fn modify(d: &str, mods: &[(ModOp, &str, &[&str])]) -> Change {
    Change::new(
        dn(d),
        ChangeOp::Modify(
            mods.iter()
                .map(|(op, a, vs)| Modification {
                    op: *op,
                    attribute: a.to_string(),
                    values: vs.iter().map(|v| v.as_bytes().to_vec()).collect(),
                })
                .collect(),
        ),
    )
}

fn moddn(d: &str, rdn: &str, delete_old: bool, sup: Option<&str>) -> Change {
    Change::new(
        dn(d),
        ChangeOp::ModDn {
            new_rdn: Rdn::parse(rdn).unwrap_or_else(|e| panic!("{rdn}: {e}")),
            delete_old_rdn: delete_old,
            new_superior: sup.map(dn),
        },
    )
}

fn account_add(local: &str, domain_dn: &str, addr: &str, id: &str) -> Change {
    add(
        &format!("uid={local},ou=people,{domain_dn}"),
        &[
            ("objectClass", "inetOrgPerson"),
            ("objectClass", "zimbraAccount"),
            ("uid", local),
            ("cn", local),
            ("sn", local),
            ("mail", addr),
            ("zimbraId", id),
            ("zimbraAccountStatus", "active"),
            ("zimbraMailDeliveryAddress", addr),
            ("zimbraMailHost", "mail2.example.com"),
        ],
    )
}

const PEOPLE: &str = "ou=people,dc=example,dc=com";

#[test]
fn applies_a_move_plan_exactly() {
    if !services_available() {
        return;
    }
    let loaded = directory();
    let slapd = Slapd::start("apply", &loaded);
    let before = slapd.slapcat();
    assert_eq!(before, canon(&loaded));
    let changes = vec![
        add(
            "dc=net",
            &[
                ("objectClass", "dcObject"),
                ("objectClass", "organization"),
                ("dc", "net"),
                ("o", "net"),
            ],
        ),
        add(
            "dc=new,dc=net",
            &[
                ("objectClass", "dcObject"),
                ("objectClass", "organization"),
                ("objectClass", "zimbraDomain"),
                ("dc", "new"),
                ("o", "new.net domain"),
                ("zimbraId", "9a0b1c2d-3e4f-4a5b-8c6d-000000000099"),
                ("zimbraDomainName", "new.net"),
                ("zimbraDomainType", "local"),
            ],
        ),
        add(
            "ou=people,dc=new,dc=net",
            &[
                ("objectClass", "organizationalRole"),
                ("ou", "people"),
                ("cn", "people"),
            ],
        ),
        Change::new(dn(&format!("uid=user05,{PEOPLE}")), ChangeOp::Delete),
        account_add(
            "user05",
            "dc=new,dc=net",
            "user05@new.net",
            "5a8c2b1e-3d4f-4a6b-9c8d-000019000005",
        ),
        modify(
            &format!("uid=team,{PEOPLE}"),
            &[
                (
                    ModOp::Delete,
                    "zimbraMailForwardingAddress",
                    &["user01@example.com"],
                ),
                (
                    ModOp::Add,
                    "zimbraMailForwardingAddress",
                    &["user05@new.net"],
                ),
            ],
        ),
        modify(
            &format!("uid=user03,{PEOPLE}"),
            &[
                (ModOp::Replace, "zimbraMailHost", &["mail2.example.com"]),
                (
                    ModOp::Replace,
                    "zimbraMailTransport",
                    &["lmtp:mail2.example.com:7025"],
                ),
                (
                    ModOp::Add,
                    "zimbraMailAlias",
                    &["u3@example.com", "three@example.com"],
                ),
                (ModOp::Replace, "description", &[]),
            ],
        ),
        modify(
            &format!("uid=user01,{PEOPLE}"),
            &[
                (ModOp::Delete, "description", &[]),
                (ModOp::Delete, "jpegPhoto", &[]),
            ],
        ),
        moddn(&format!("uid=user04,{PEOPLE}"), "uid=user04b", true, None),
        moddn(
            &format!("uid=user06,{PEOPLE}"),
            "uid=user06",
            false,
            Some("ou=people,dc=new,dc=net"),
        ),
        Change::new(dn(&format!("uid=alias,{PEOPLE}")), ChangeOp::Delete),
    ];
    let mut expected = before.clone();
    apply_model(&mut expected, &changes);
    let plan = Plan::new(changes).unwrap_or_else(|e| panic!("{e}"));

    // Over the ldapi socket this time.
    let ldapi = ConnectOptions::new(slapd.ldapi_url()).bind(ADMIN, PASSWORD);
    let mut sink = LdapSink::connect(&ldapi).unwrap_or_else(|e| panic!("{e}"));
    let dry = sink.dry_run(&plan).unwrap_or_else(|e| panic!("{e}"));
    assert!(dry.warnings.is_empty(), "{dry}");
    assert_eq!(dry.operations.len(), plan.len());
    assert_eq!(slapd.slapcat(), before, "a dry run must write nothing");

    let mut sent = Vec::new();
    let report = sink.apply(plan.clone(), |op| sent.push(op.index));
    assert!(report.is_complete(), "{report}");
    assert_eq!(sent, (0..plan.len()).collect::<Vec<_>>());
    assert_eq!(report.applied, plan.operations());
    let after = slapd.slapcat();
    assert_ne!(after, before);
    assert_eq!(after, expected);
}

#[test]
fn a_failure_in_the_middle_reports_the_exact_applied_prefix() {
    if !services_available() {
        return;
    }
    let loaded = directory();
    let slapd = Slapd::start("partial", &loaded);
    let before = slapd.slapcat();
    let missing_parent = "uid=x,ou=people,dc=missing,dc=com";
    let changes = vec![
        modify(
            &format!("uid=user07,{PEOPLE}"),
            &[(ModOp::Replace, "description", &["first"])],
        ),
        modify(
            &format!("uid=user08,{PEOPLE}"),
            &[(ModOp::Replace, "description", &["second"])],
        ),
        account_add(
            "x",
            "dc=missing,dc=com",
            "x@missing.com",
            "5a8c2b1e-3d4f-4a6b-9c8d-0000000000aa",
        ),
        modify(
            &format!("uid=user09,{PEOPLE}"),
            &[(ModOp::Replace, "description", &["never"])],
        ),
        Change::new(dn(&format!("uid=user10,{PEOPLE}")), ChangeOp::Delete),
    ];
    let plan = Plan::new(changes.clone()).unwrap_or_else(|e| panic!("{e}"));
    let mut sink = LdapSink::connect(&slapd.options()).unwrap_or_else(|e| panic!("{e}"));

    // The dry run predicts the failure and writes nothing.
    let dry = sink.dry_run(&plan).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dry.warnings.len(), 1, "{dry}");
    assert_eq!(dry.warnings[0].index, 2);
    assert!(
        dry.warnings[0].message.contains("dc=missing,dc=com"),
        "{dry}"
    );
    assert_eq!(slapd.slapcat(), before);

    let report = sink.apply(plan, |_| {});
    let idx =
        |ops: &[zimbra_prov::ldap::Operation]| ops.iter().map(|o| o.index).collect::<Vec<_>>();
    assert_eq!(idx(&report.applied), vec![0, 1], "{report}");
    assert_eq!(idx(&report.not_applied), vec![3, 4], "{report}");
    let failed = report.failed.as_ref().expect("a failure");
    assert_eq!(failed.operation.index, 2);
    let server = failed.error.server().expect("a server error");
    assert_eq!(
        (server.operation, server.code, server.dn.as_str()),
        ("add", 32, missing_parent)
    );
    assert!(report.to_string().contains(missing_parent), "{report}");
    let mut expected = before.clone();
    apply_model(&mut expected, &changes[..2]);
    assert_eq!(
        slapd.slapcat(),
        expected,
        "exactly the reported prefix is on the server"
    );

    // A schema violation: the server's message names the missing attribute; with the DN.
    let no_status = add(
        &format!("uid=nostatus,{PEOPLE}"),
        &[
            ("objectClass", "inetOrgPerson"),
            ("objectClass", "zimbraAccount"),
            ("uid", "nostatus"),
            ("cn", "n"),
            ("sn", "n"),
            ("zimbraId", "5a8c2b1e-3d4f-4a6b-9c8d-0000000000bb"),
        ],
    );
    let changes2 = vec![
        modify(
            &format!("uid=user11,{PEOPLE}"),
            &[(ModOp::Add, "zimbraMailAlias", &["eleven@example.com"])],
        ),
        no_status,
        Change::new(dn(&format!("uid=user12,{PEOPLE}")), ChangeOp::Delete),
    ];
    let report = sink.apply(
        Plan::new(changes2.clone()).unwrap_or_else(|e| panic!("{e}")),
        |_| {},
    );
    assert_eq!(idx(&report.applied), vec![0]);
    assert_eq!(idx(&report.not_applied), vec![2]);
    let failed = report.failed.as_ref().expect("a failure");
    let server = failed.error.server().expect("a server error");
    assert_eq!(server.code, 65, "{server}");
    assert!(server.message.contains("zimbraAccountStatus"), "{server}");
    assert!(failed
        .error
        .to_string()
        .contains("uid=nostatus,ou=people,dc=example,dc=com"));
    apply_model(&mut expected, &changes2[..1]);
    assert_eq!(slapd.slapcat(), expected);
}

/// Builds the examples with the features this test was built with (a no-op when `cargo test`
/// already built them) and returns the path of `name`.
fn example(name: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut features = vec!["ldap"];
    if cfg!(feature = "proptest") {
        features.push("proptest");
    }
    let out = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--quiet", "--example", name, "--features"])
        .arg(features.join(","))
        .output()
        .expect("run cargo build");
    assert!(
        out.status.success(),
        "building example {name}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exe = std::env::current_exe().expect("test path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("examples").join(name);
    assert!(bin.exists(), "example binary {} missing", bin.display());
    bin
}

#[test]
fn export_domain_and_apply_move_a_domain_between_servers() {
    if !services_available() {
        return;
    }
    let loaded = directory();
    let source_server = Slapd::start("cli-src", &loaded);
    // The target has the configuration branch and dc=com, but not the domain nor the COS
    // and server the domain uses.
    let moved: std::collections::HashSet<Dn> = [
        "cn=default,cn=cos,cn=zimbra",
        "cn=gold,cn=cos,cn=zimbra",
        "cn=mail1.example.com,cn=servers,cn=zimbra",
    ]
    .into_iter()
    .map(dn)
    .collect();
    let domain = dn("dc=example,dc=com");
    let target: Vec<Entry> = loaded
        .iter()
        .filter(|e| !e.dn.is_under(&domain) && !moved.contains(&e.dn))
        .cloned()
        .collect();
    let target_server = Slapd::start("cli-dst", &target);

    let pw = source_server.dir.join("pw");
    std::fs::write(&pw, format!("{PASSWORD}\n")).expect("password file");
    let out_file = source_server.dir.join("example.com.ldif");
    let run = |cmd: &mut Command| {
        let o = cmd.output().expect("run example");
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, _, err) = run(Command::new(example("export_domain"))
        .args([
            "--url",
            &source_server.url(),
            "--bind-dn",
            ADMIN,
            "--password-file",
        ])
        .arg(&pw)
        .args(["--domain", "example.com", "--page-size", "6", "--out"])
        .arg(&out_file));
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("domain:") && err.contains("(done)"),
        "progress on stderr: {err}"
    );

    let apply = example("apply");
    let args = |dry: bool| {
        let mut c = Command::new(&apply);
        c.args([
            "--url",
            &target_server.url(),
            "--bind-dn",
            ADMIN,
            "--password-file",
        ])
        .arg(&pw);
        if dry {
            c.arg("--dry-run");
        }
        c.arg(&out_file);
        c
    };
    let before = target_server.slapcat();
    let (code, out, err) = run(&mut args(true));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.starts_with("dry run: "), "{out}");
    assert_eq!(target_server.slapcat(), before);

    let (code, out, err) = run(&mut args(false));
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        target_server.slapcat(),
        canon(&loaded),
        "the target now holds the domain"
    );

    // Applying the same file again fails on the first add and says so.
    let (code, out, _) = run(&mut args(false));
    assert_eq!(code, Some(1));
    assert!(out.starts_with("applied 0 of"), "{out}");
    assert!(out.contains("entryAlreadyExists (68)"), "{out}");
}
