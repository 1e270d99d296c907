//! Test support shared by the tests that run OpenLDAP's offline tools (slaptest, slapadd,
//! slapcat): the tool paths, the "installed or explicitly skipped" rule, a self-removing temp
//! directory and a slapd.conf with the standard schemas plus the crate's generated Zimbra schema
//! (mdb, suffix "" as Zimbra uses). Included with `#[path = "support/slapd.rs"] mod slapd;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// `slapd`.
pub const SLAPD: &str = "/usr/sbin/slapd";
/// `slapmodify`.
pub const SLAPMODIFY: &str = "/usr/sbin/slapmodify";
/// `slaptest`.
pub const SLAPTEST: &str = "/usr/sbin/slaptest";
/// `slapadd`.
pub const SLAPADD: &str = "/usr/sbin/slapadd";
/// `slapcat`.
pub const SLAPCAT: &str = "/usr/sbin/slapcat";
/// Debian's schema directory.
pub const SCHEMA_DIR: &str = "/etc/ldap/schema";
/// Debian's slapd module directory (back_mdb).
pub const MODULE_DIR: &str = "/usr/lib/ldap";
/// The operational attributes slapd and slapadd add to every entry themselves (lower case);
/// tests comparing entries leave them out.
pub const OPERATIONAL: &[&str] = &[
    "structuralobjectclass",
    "entryuuid",
    "creatorsname",
    "createtimestamp",
    "entrycsn",
    "modifiersname",
    "modifytimestamp",
];

/// `true` when `tools` (and the schema and module directories) exist. When something is
/// missing: `false` after a note if `ZIMBRA_PROV_SKIP_SERVICES=1`, else a panic that says what
/// to install — a test never passes silently without OpenLDAP.
pub fn tools_or_skip(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .chain([SCHEMA_DIR, MODULE_DIR])
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

/// A fresh directory (with a `db/` subdirectory) under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new directory named after `tag`, the process and the time.
    pub fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir =
            std::env::temp_dir().join(format!("zimbra-prov-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(dir.join("db")).expect("create temp dir");
        TempDir(dir)
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.0
    }

    /// A path inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Write `dir/zimbra.schema` (the crate's generated schema) and `dir/slapd.conf` (core, cosine,
/// inetorgperson, dyngroup and the Zimbra schema; mdb of `maxsize` bytes in `dir/db`, suffix
/// "", rootdn `cn=admin`); returns the path of slapd.conf.
pub fn write_config(dir: &Path, maxsize: u64) -> PathBuf {
    write_config_with(dir, maxsize, "", "cn=admin", None, "")
}

/// [`write_config`] with `global` (lines ending in a newline) among the global directives,
/// `rootdn` and its `rootpw`, and `database` lines after the database's own.
pub fn write_config_with(
    dir: &Path,
    maxsize: u64,
    global: &str,
    rootdn: &str,
    rootpw: Option<&str>,
    database: &str,
) -> PathBuf {
    let schema = dir.join("zimbra.schema");
    std::fs::write(&schema, zimbra_prov::attrs::openldap_schema()).expect("write schema");
    let rootpw = rootpw
        .map(|pw| format!("rootpw {pw}\n"))
        .unwrap_or_default();
    let conf = format!(
        "include {SCHEMA_DIR}/core.schema\n\
         include {SCHEMA_DIR}/cosine.schema\n\
         include {SCHEMA_DIR}/inetorgperson.schema\n\
         include {SCHEMA_DIR}/dyngroup.schema\n\
         include {schema}\n\
         pidfile {dir}/slapd.pid\n\
         modulepath {MODULE_DIR}\n\
         moduleload back_mdb\n\
         {global}\
         database mdb\n\
         maxsize {maxsize}\n\
         suffix \"\"\n\
         rootdn \"{rootdn}\"\n\
         {rootpw}\
         directory {dir}/db\n\
         {database}",
        schema = schema.display(),
        dir = dir.display()
    );
    let path = dir.join("slapd.conf");
    std::fs::write(&path, conf).expect("write slapd.conf");
    path
}

/// Run an offline tool (`slapadd`, `slapmodify`) on `conf` with `ldif`: value checks on, no `-c`;
/// panics with the tool's output when it fails.
pub fn offline(tool: &str, conf: &Path, ldif: &Path) {
    let out = Command::new(tool)
        .arg("-f")
        .arg(conf)
        .arg("-l")
        .arg(ldif)
        .args(["-o", "value-check=yes"])
        .output()
        .unwrap_or_else(|e| panic!("run {tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} {} failed:\n{}{}",
        ldif.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The LDIF `slapcat` prints for `conf`; panics when it fails.
pub fn slapcat_output(conf: &Path) -> Vec<u8> {
    let out = Command::new(SLAPCAT)
        .arg("-f")
        .arg(conf)
        .output()
        .expect("run slapcat");
    assert!(
        out.status.success(),
        "slapcat: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
