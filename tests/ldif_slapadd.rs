//! Conformance with a real OpenLDAP `slapadd` (Debian `slapd`): for every slapadd vector
//! that slapadd accepts, `zimbra-prov ldif fmt --slapadd` output loads too and `slapcat` shows the
//! same entries and values as after loading the original.
//!
//! Needs /usr/sbin/slapadd and /usr/sbin/slapcat; fails without them unless
//! `ZIMBRA_PROV_SKIP_SERVICES=1` is set. slapadd works offline: no server is started.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use zimbra_prov::ldif::{Entry, Reader, Record};

#[path = "support/ldif_fmt.rs"]
mod ldif_fmt;
use ldif_fmt::fmt_slapadd;

const SLAPADD: &str = "/usr/sbin/slapadd";
const SLAPCAT: &str = "/usr/sbin/slapcat";
/// Operational attributes slapadd generates with fresh values on every load.
const GENERATED: &[&str] = &[
    "entryUUID",
    "entryCSN",
    "createTimestamp",
    "modifyTimestamp",
    "creatorsName",
    "modifiersName",
];

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/ldif")
        .join(p)
}

fn have_slapd() -> bool {
    if Path::new(SLAPADD).exists() && Path::new(SLAPCAT).exists() {
        return true;
    }
    if std::env::var("ZIMBRA_PROV_SKIP_SERVICES").as_deref() == Ok("1") {
        eprintln!("skipped: {SLAPADD} not installed and ZIMBRA_PROV_SKIP_SERVICES=1");
        return false;
    }
    panic!("{SLAPADD} / {SLAPCAT} missing: install Debian's slapd (or set ZIMBRA_PROV_SKIP_SERVICES=1)");
}

struct Lab {
    dir: PathBuf,
}

impl Lab {
    fn new(name: &str) -> Lab {
        let dir = std::env::temp_dir().join(format!("zp-slapadd-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(std::fs::create_dir_all(dir.join("db")).is_ok());
        let conf = format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             modulepath /usr/lib/ldap\n\
             moduleload back_mdb\n\
             pidfile {d}/slapd.pid\n\
             database mdb\n\
             maxsize 67108864\n\
             suffix \"dc=example,dc=com\"\n\
             rootdn \"cn=admin,dc=example,dc=com\"\n\
             directory {d}/db\n",
            d = dir.display()
        );
        assert!(std::fs::write(dir.join("slapd.conf"), conf).is_ok());
        Lab { dir }
    }

    fn reset(&self) {
        let _ = std::fs::remove_dir_all(self.dir.join("db"));
        assert!(std::fs::create_dir_all(self.dir.join("db")).is_ok());
    }

    fn run(&self, cmd: &str, args: &[&str]) -> Output {
        let conf = self.dir.join("slapd.conf");
        let out = Command::new(cmd).arg("-f").arg(&conf).args(args).output();
        out.unwrap_or_else(|e| panic!("{cmd}: {e}"))
    }

    /// Loads `file` into a fresh database; returns slapadd's success and slapcat output.
    fn load(&self, file: &Path) -> (bool, String, Vec<u8>) {
        self.reset();
        let add = self.run(SLAPADD, &["-l", &file.display().to_string()]);
        let stderr = String::from_utf8_lossy(&add.stderr).into_owned();
        if !add.status.success() {
            return (false, stderr, Vec::new());
        }
        let cat = self.run(SLAPCAT, &["-o", "ldif-wrap=no"]);
        assert!(cat.status.success(), "slapcat failed");
        (true, stderr, cat.stdout)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn entries(text: &[u8]) -> Vec<Entry> {
    let recs: Result<Vec<Record>, _> = Reader::new(text).collect();
    recs.unwrap_or_else(|e| panic!("slapcat output unreadable: {e}"))
        .into_iter()
        .filter_map(|r| match r {
            Record::Entry(e) => Some(e),
            Record::Change(_) => None,
        })
        .collect()
}

/// Drops the operational attributes slapadd generated afresh (they differ between the
/// two loads); supplied ones are kept verbatim by slapadd and so still compared.
fn without_fresh(a: &mut [Entry], b: &mut [Entry]) {
    for (x, y) in a.iter_mut().zip(b.iter_mut()) {
        for g in GENERATED {
            let vx: Vec<Vec<u8>> = x.get_all(g).map(<[u8]>::to_vec).collect();
            let vy: Vec<Vec<u8>> = y.get_all(g).map(<[u8]>::to_vec).collect();
            if vx != vy {
                x.attrs.retain(|t| !t.description.eq_ignore_ascii_case(g));
                y.attrs.retain(|t| !t.description.eq_ignore_ascii_case(g));
            }
        }
    }
}

fn show(e: &[Entry]) -> String {
    let mut out = Vec::new();
    let mut w =
        zimbra_prov::ldif::Writer::new(&mut out, zimbra_prov::ldif::WriterOptions::slapadd_mode());
    for x in e {
        let _ = w.write_entry(x);
    }
    drop(w);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn fmt_slapadd_output_loads_like_the_original() {
    if !have_slapd() {
        return;
    }
    let lab = Lab::new("conf");
    let mut names: Vec<PathBuf> = std::fs::read_dir(data("slapadd"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    names.sort();
    assert_eq!(names.len(), 32);
    let fixtures = format!(
        "file://{}/",
        data("").display().to_string().trim_end_matches('/')
    );
    let (mut compared, mut refused_by_slapadd, mut refused_by_us) = (0, 0, Vec::new());
    for path in &names {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read(path).unwrap_or_default();
        let text = String::from_utf8_lossy(&text).replace("file:///FIXTURES/", &fixtures);
        let orig = lab.dir.join("orig.ldif");
        assert!(std::fs::write(&orig, &text).is_ok());
        let (ok, stderr, cat_a) = lab.load(&orig);
        if !ok {
            refused_by_slapadd += 1;
            continue;
        }
        let ours_text = match fmt_slapadd(&orig, &data("assets")) {
            Ok(t) => t,
            Err(err) => {
                // slapadd accepted it, we refuse: only acceptable where slapadd silently
                // stores something else than the file says (bad base64 -> empty value).
                assert!(
                    name.starts_with("s06")
                        && err.contains("invalid base64")
                        && stderr.contains("base64"),
                    "{name}: we refuse what slapadd loads: {err}"
                );
                refused_by_us.push(name);
                continue;
            }
        };
        let ours = lab.dir.join("ours.ldif");
        assert!(std::fs::write(&ours, &ours_text).is_ok());
        let (ok, stderr, cat_b) = lab.load(&ours);
        assert!(
            ok,
            "{name}: slapadd refused our output: {stderr}\n{}",
            String::from_utf8_lossy(&ours_text)
        );
        let (mut a, mut b) = (entries(&cat_a), entries(&cat_b));
        assert!(!a.is_empty() && a.len() == b.len(), "{name}");
        without_fresh(&mut a, &mut b);
        assert!(
            a == b,
            "{name}: slapcat differs after loading our output:\n{}\n---\n{}",
            show(&a),
            show(&b)
        );
        compared += 1;
    }
    assert_eq!(refused_by_us, ["s06-bad-base64.ldif"]);
    eprintln!(
        "slapadd conformance: {compared} vectors compared, {refused_by_slapadd} refused by slapadd"
    );
    assert!(compared >= 12, "only {compared} vectors compared");
}
