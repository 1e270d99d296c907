//! A routing oracle: a real Debian Postfix 3.7 (`postfix` + `postfix-ldap`) reading a
//! throwaway OpenLDAP `slapd` through Zimbra's own `ldap-*.cf` filters, asked where it would
//! route each address. Test-support code, included by integration tests with
//! `#[path = "support/oracle.rs"] mod oracle;`.
//!
//! # How it works
//!
//! - **slapd** runs in the foreground (`-d 0`, a child of the test process) on `127.0.0.1` on a
//!   free port, with core, cosine, inetorgperson, dyngroup and the crate's generated Zimbra
//!   schema ([`zimbra_prov::attrs::openldap_schema`]), one mdb database with suffix `""`, the
//!   `dynlist` overlay with `dynlist-attrset groupOfURLs memberURL member` (as on a Zimbra LDAP
//!   server, so dynamic groups expose the computed `member` that ldap-vam.cf's
//!   `special_result_attribute = member` follows), and anonymous read access. [`Oracle::load_ldif`] kills it, loads the LDIF with `slapadd -q`
//!   into a fresh database directory and starts it again on the same port.
//! - **Postfix** runs as its own instance (`config_directory`, `queue_directory`,
//!   `data_directory` and `maillog_file` under the oracle's temp dir). `main.cf` holds
//!   zmconfigd's defaults for a Zimbra MTA (Zimbra's `zimbraMta*` globalConfig values): the
//!   six routing tables are Zimbra's `ldap-*.cf` filters **without** `proxy:` (so no proxymap
//!   answers from a previous directory), `virtual_transport = error`,
//!   `propagate_unmatched_extensions = canonical`, `mydestination = localhost`, and Zimbra's
//!   `smtpd_recipient_restrictions` / `smtpd_relay_restrictions`. All eight `ldap-*.cf` files
//!   are written (`ldap-slm.cf` and `ldap-splitdomain.cf` are not referenced by default, as in
//!   Zimbra). The maps bind anonymously and without TLS, the only change from Zimbra.
//! - In `master.cf` every delivery agent that could reach the network or write a mailbox
//!   (`smtp`, `lmtp`, `relay`, `local`, `virtual`) is **discard(8)** with
//!   `syslog_name=oracle-transport/<service>`: discard "delivers" by logging the next hop, so
//!   the log line carries transport (syslog name), next hop (reason), final recipient (`to=`)
//!   and DSN. `error` and `retry` are error(8) under the same naming.
//! - Two smtpd services listen on `127.0.0.1` only, each on a port of its own:
//!   *submit* (permits everything from 127.0.0.0/8; used by [`Oracle::route`] to inject one
//!   message per address; the DATA reply names the queue id) and *probe* (Zimbra's restrictions
//!   as configured; used by [`Oracle::rcpt`], which sets the client address with XCLIENT so
//!   "trusted" and "untrusted" clients can be probed from loopback). No message ever leaves.
//! - Decisions are read back from the maillog by queue id: a message is complete when qmgr
//!   logged `removed`, or when as many distinct `to=` delivery lines as its `nrcpt=` were seen.
//!
//! # Fresh answers after a new directory
//!
//! Postfix clients cache the last trivial-rewrite answer per process (an old answer for the
//! same address was observed after swapping slapd's data), so [`Oracle::load_ldif`] also runs
//! `postfix reload` and waits until every daemon that existed before the reload has exited.
//! The queue is emptied (`postsuper -d ALL`) first, so no message from an earlier directory is
//! delivered later against the new one.
//!
//! # Line format
//!
//! [`OracleLine`] prints as `ADDR -> ITEM | ITEM ...`; an ITEM is `transport:nexthop` for a
//! delivery, `bounce (TEXT [DSN])` or `defer (TEXT [DSN])` (TEXT is `service: reason`), each
//! followed by ` <FINAL>` when the final recipient differs from ADDR; items are sorted by
//! final recipient (case-insensitive), then transport. A recipient refused by the submit
//! smtpd or a message refused by cleanup at DATA becomes a single `bounce`/`defer` item with
//! TEXT `smtpd: ...` / `cleanup: ...` (for example an alias loop:
//! `defer (cleanup: Alias expansion error [4.6.0])`).
//!
//! # Services missing
//!
//! [`Oracle::start`] fails with [`OracleError::Missing`] when a binary is absent; tests call
//! [`services_or_skip`] first, which panics with a clear message unless
//! `ZIMBRA_PROV_SKIP_SERVICES=1` (then it prints that it skipped and returns `false`).
//! `ZIMBRA_PROV_ORACLE_KEEP=1` keeps the work directory (configs, maillog) for inspection.
#![allow(dead_code)] // each test binary uses a different part of the harness

#[path = "oracle/conf.rs"]
mod conf;
#[allow(unused_imports)] // only the multi-MTA harness uses them
pub use conf::{write_slapd_conf, MAPS, VAM_OLD_ADDRESS, VAM_PLAIN, VAM_RESULT};
#[path = "oracle/line.rs"]
mod line;
#[path = "oracle/log.rs"]
mod log;
#[path = "oracle/pickup.rs"]
mod pickup;
#[path = "oracle/smtp.rs"]
mod smtp;

#[allow(unused_imports)] // not every test binary uses it
pub use conf::{main_cf_paths, master_cf_services};
pub use line::{OracleItem, OracleLine, SmtpReply};
use log::{read_log, LogState};
pub use smtp::Smtp;
use smtp::{submit_worker, Submitted};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Binaries and files the oracle needs (Debian paths).
pub const REQUIRED: &[&str] = &[
    "/usr/sbin/slapd",
    "/usr/sbin/slapadd",
    "/usr/sbin/postfix",
    "/usr/sbin/postsuper",
    "/usr/sbin/sendmail",
    "/usr/lib/postfix/sbin/master",
    "/usr/lib/postfix/postfix-ldap.so",
    "/etc/ldap/schema/core.schema",
    "/etc/ldap/schema/dyngroup.schema",
    "/usr/lib/ldap/back_mdb.so",
];

pub const SLAPD: &str = "/usr/sbin/slapd";
pub const SLAPADD: &str = "/usr/sbin/slapadd";
pub const POSTFIX: &str = "/usr/sbin/postfix";
pub const POSTSUPER: &str = "/usr/sbin/postsuper";

/// Errors of the oracle harness. Routing outcomes (bounces, defers) are values in
/// [`OracleLine`], never errors.
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    /// A required binary or file is not installed.
    #[error("not installed: {0:?} (install Debian's slapd ldap-utils postfix postfix-ldap)")]
    Missing(Vec<String>),
    /// A file operation in the work directory failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An external command failed.
    #[error("{cmd} failed ({status}): {output}")]
    Command {
        /// The command line.
        cmd: String,
        /// Exit status or spawn error.
        status: String,
        /// Its stdout and stderr.
        output: String,
    },
    /// slapadd refused the LDIF.
    #[error("slapadd refused the LDIF: {0}")]
    Slapadd(String),
    /// A service did not come up or go away in time.
    #[error("timeout: {0}")]
    Timeout(String),
    /// The SMTP conversation failed (connection, protocol).
    #[error("smtp {port} {addr:?}: {reason}")]
    Smtp {
        /// The smtpd port.
        port: u16,
        /// The address being handled.
        addr: String,
        /// What went wrong.
        reason: String,
    },
    /// An address cannot be put in an SMTP command (CR, LF or NUL).
    #[error("address {0:?} contains CR, LF or NUL")]
    BadAddress(String),
    /// An oracle line does not parse.
    #[error("oracle line {line:?}: {reason}")]
    Parse {
        /// The line.
        line: String,
        /// Why.
        reason: &'static str,
    },
}

/// How Postfix is told about DNS (smtp(8) is discard(8) here, so nothing is ever looked up;
/// the setting is written to main.cf so that configurations compare like for like).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsLookups {
    /// `smtp_dns_support_level = enabled` (zimbraMtaSmtpDnsSupportLevel default).
    Enabled,
    /// `smtp_dns_support_level = disabled`.
    Disabled,
    /// `smtp_dns_support_level = dnssec` (`dnssec_probe` is emptied: no probe query).
    Dnssec,
    /// The pre-8.7 form: `smtp_dns_support_level` empty and `disable_dns_lookups = yes`.
    LegacyDisabled,
}

/// Configuration of one oracle instance: the Zimbra MTA knobs and harness settings.
#[derive(Clone, Debug)]
pub struct OracleConfig {
    /// `relayhost` (zimbraMtaRelayHost); empty = none (Zimbra default).
    pub relayhost: String,
    /// `recipient_delimiter` (zimbraMtaRecipientDelimiter); empty = unset (Zimbra default).
    pub recipient_delimiter: String,
    /// `mynetworks` (zimbraMtaMyNetworks).
    pub mynetworks: String,
    /// DNS lookup setting.
    pub dns: DnsLookups,
    /// Use ldap-vam.cf with `(zimbraOldMailAddress=%s)` (zmmtainit since 2018) instead of the
    /// filter without it.
    pub old_address_filter: bool,
    /// Client address [`Oracle::rcpt`] claims (XCLIENT) when `from_trusted`; must be inside
    /// `mynetworks` for that to mean "trusted".
    pub trusted_client: IpAddr,
    /// Client address [`Oracle::rcpt`] claims otherwise (must be outside `mynetworks`).
    pub untrusted_client: IpAddr,
    /// More `main.cf` settings (name, value), written last.
    pub extra_main_cf: Vec<(String, String)>,
    /// The delivery services of master.cf (default: Zimbra's master.cf list,
    /// [`zimbra_prov::route::ZIMBRA_TRANSPORTS`]); see [`master_cf_services`].
    pub services: Vec<String>,
    /// SMTP connections used in parallel by [`Oracle::route`].
    pub parallel: usize,
    /// How long [`Oracle::route`] waits for all decisions of one call.
    pub timeout: Duration,
    /// Keep the work directory on drop (also `ZIMBRA_PROV_ORACLE_KEEP=1`).
    pub keep_dir: bool,
}

impl Default for OracleConfig {
    fn default() -> Self {
        OracleConfig {
            relayhost: String::new(),
            recipient_delimiter: String::new(),
            mynetworks: "127.0.0.0/8".to_string(),
            dns: DnsLookups::Enabled,
            old_address_filter: false,
            trusted_client: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
            untrusted_client: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            extra_main_cf: Vec::new(),
            services: zimbra_prov::route::ZIMBRA_TRANSPORTS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            parallel: 4,
            timeout: Duration::from_secs(60),
            keep_dir: std::env::var("ZIMBRA_PROV_ORACLE_KEEP").as_deref() == Ok("1"),
        }
    }
}

/// Timings the oracle measured.
#[derive(Clone, Debug, Default)]
pub struct OracleStats {
    /// Time of [`Oracle::start`].
    pub start: Duration,
    /// Directories loaded and their total time.
    pub loads: u32,
    /// Total time of [`Oracle::load_ldif`] calls.
    pub load_time: Duration,
    /// The last load's phases: slapadd, slapd up, queue emptied, Postfix reloaded.
    pub last_load_phases: [Duration; 4],
    /// Addresses routed.
    pub routed: u64,
    /// Total time of [`Oracle::route`] calls.
    pub route_time: Duration,
    /// RCPT probes made.
    pub probes: u64,
    /// Total time of probes.
    pub probe_time: Duration,
}

impl fmt::Display for OracleStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let per = |t: Duration, n: u64| {
            if n == 0 {
                0.0
            } else {
                t.as_secs_f64() * 1000.0 / n as f64
            }
        };
        write!(
            f,
            "start {:.0} ms; {} directories loaded, {:.0} ms each (last: slapadd {:.0} ms, slapd up {:.0} ms, postsuper {:.0} ms, reload {:.0} ms); {} addresses routed, {:.2} ms each ({:.0}/s); {} RCPT probes, {:.2} ms each",
            self.start.as_secs_f64() * 1000.0,
            self.loads,
            per(self.load_time, u64::from(self.loads)),
            self.last_load_phases[0].as_secs_f64() * 1000.0,
            self.last_load_phases[1].as_secs_f64() * 1000.0,
            self.last_load_phases[2].as_secs_f64() * 1000.0,
            self.last_load_phases[3].as_secs_f64() * 1000.0,
            self.routed,
            per(self.route_time, self.routed),
            if self.route_time.is_zero() {
                0.0
            } else {
                self.routed as f64 / self.route_time.as_secs_f64()
            },
            self.probes,
            per(self.probe_time, self.probes),
        )
    }
}

/// True when the oracle's services are installed. When they are not: panics with a clear
/// message, unless `ZIMBRA_PROV_SKIP_SERVICES=1` (then prints that it skipped, returns false).
pub fn services_or_skip(test: &str) -> bool {
    let missing = missing_services();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("ZIMBRA_PROV_SKIP_SERVICES").as_deref() == Ok("1") {
        println!("{test}: skipped, not installed: {missing:?} (ZIMBRA_PROV_SKIP_SERVICES=1)");
        return false;
    }
    panic!(
        "{test} needs a real Postfix and OpenLDAP; not installed: {missing:?}. Install Debian's \
         slapd ldap-utils postfix postfix-ldap, or set ZIMBRA_PROV_SKIP_SERVICES=1 to skip."
    );
}

fn missing_services() -> Vec<String> {
    let mut missing: Vec<String> = REQUIRED
        .iter()
        .filter(|p| !Path::new(p).exists())
        .map(|p| p.to_string())
        .collect();
    // `postfix start` and a private mail_owner need root
    let root = fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0")
    });
    if !root {
        missing.push("root privileges (effective uid 0, for postfix start)".to_string());
    }
    missing
}

/// A running oracle: one slapd and one Postfix instance, stopped on drop.
pub struct Oracle {
    cfg: OracleConfig,
    dir: PathBuf,
    ldap_port: u16,
    submit_port: u16,
    probe_port: u16,
    slapd: Option<Child>,
    postfix_started: bool,
    log_pos: u64,
    stats: OracleStats,
    /// Calls of the pickup fallback so far (makes its senders unique).
    pickups: u64,
}

pub fn io_err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> OracleError {
    let path = path.to_path_buf();
    move |source| OracleError::Io { what, path, source }
}

pub fn write_file(path: &Path, text: &str) -> Result<(), OracleError> {
    fs::write(path, text).map_err(io_err("write", path))
}

pub fn run(cmd: &mut Command) -> Result<String, OracleError> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| OracleError::Command {
        cmd: shown.clone(),
        status: e.to_string(),
        output: String::new(),
    })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(OracleError::Command {
            cmd: shown,
            status: out.status.to_string(),
            output: text,
        })
    }
}

/// Replaces the slapd database under `dir/db` with `ldif` (written to `dir/<file>` first) by
/// `slapadd` with `dir/slapd.conf`; slapd must be stopped.
pub fn load_db(dir: &Path, ldif: &str, file: &str) -> Result<(), OracleError> {
    let db = dir.join("db");
    fs::remove_dir_all(&db).map_err(io_err("remove", &db))?;
    fs::create_dir_all(&db).map_err(io_err("create", &db))?;
    let file = dir.join(file);
    write_file(&file, ldif)?;
    run(Command::new(SLAPADD)
        .arg("-q")
        .arg("-f")
        .arg(dir.join("slapd.conf"))
        .arg("-l")
        .arg(&file))
    .map_err(|e| match e {
        OracleError::Command { output, .. } => OracleError::Slapadd(output),
        other => other,
    })?;
    Ok(())
}

/// The seed of a differential run: `default` (the one CI uses, so that every CI run checks the
/// same cases) unless `ZIMBRA_PROV_DIFF_SEED` is set to a number (repeat another run) or to
/// `random` (explore).
pub fn diff_seed(default: u64) -> u64 {
    match std::env::var("ZIMBRA_PROV_DIFF_SEED").as_deref() {
        Err(_) | Ok("") => default,
        Ok("random") => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
        Ok(s) => s
            .parse()
            .expect("ZIMBRA_PROV_DIFF_SEED must be a number or `random`"),
    }
}

/// A proptest runner whose ChaCha generator is seeded from `seed` alone, so that a seed
/// reproduces a run.
pub fn seeded_runner(seed: u64) -> proptest::test_runner::TestRunner {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    )
}

/// The check of the deviation `name` in a differential test's table of deviations (name,
/// explanation, check); panics when the table does not list it.
pub fn deviation<F: Copy>(table: &[(&str, &str, F)], name: &str) -> F {
    table
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, f)| *f)
        .expect("deviation listed")
}

/// Starts slapd on `dir/slapd.conf`, listening on `ldap://addr/`, and waits (up to `timeout`)
/// until it accepts connections. An error when it exits first (port taken, bad configuration);
/// on any error it is not left running.
pub fn spawn_slapd(dir: &Path, addr: SocketAddr, timeout: Duration) -> Result<Child, OracleError> {
    let url = format!("ldap://{addr}/");
    let mut child = Command::new(SLAPD)
        .args(["-d", "0", "-f"])
        .arg(dir.join("slapd.conf"))
        .arg("-h")
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| OracleError::Command {
            cmd: format!("{SLAPD} -h {url}"),
            status: e.to_string(),
            output: String::new(),
        })?;
    let mut exited = None;
    let waited = wait_until("slapd listening", timeout, || {
        if let Ok(Some(st)) = child.try_wait() {
            exited = Some(st);
            return true;
        }
        TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
    });
    if let Err(e) = waited {
        let _ = child.kill();
        let _ = child.wait();
        return Err(e);
    }
    match exited {
        Some(st) => Err(OracleError::Command {
            cmd: format!("{SLAPD} -h {url}"),
            status: st.to_string(),
            output: "slapd exited at start (port taken?)".to_string(),
        }),
        None => Ok(child),
    }
}

fn free_port() -> Result<u16, OracleError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(io_err("bind", Path::new("127.0.0.1:0")))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(io_err("bind", Path::new("127.0.0.1:0")))
}

/// Alive and not a zombie (daemonized processes may be reaped late by init).
pub fn pid_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/status")) {
        Ok(s) => !s
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z')),
        Err(_) => false,
    }
}

pub fn children_of(ppid: u32) -> Vec<u32> {
    let Ok(rd) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    // pid (comm) state ppid ...; comm may contain spaces: split after ')'.
                    let rest = s.rsplit_once(')')?.1;
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(ppid)
        })
        .collect()
}

pub fn wait_until(
    what: &str,
    timeout: Duration,
    mut done: impl FnMut() -> bool,
) -> Result<(), OracleError> {
    let t0 = Instant::now();
    while !done() {
        if t0.elapsed() > timeout {
            return Err(OracleError::Timeout(what.to_string()));
        }
        std::thread::sleep(Duration::from_millis(3));
    }
    Ok(())
}

impl Oracle {
    /// Starts slapd (empty database) and Postfix. Fails with [`OracleError::Missing`] when
    /// they are not installed.
    pub fn start(cfg: OracleConfig) -> Result<Oracle, OracleError> {
        let t0 = Instant::now();
        let missing = missing_services();
        if !missing.is_empty() {
            return Err(OracleError::Missing(missing));
        }
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "zimbra-prov-oracle-{}-{}-{nanos}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let mut oracle = Oracle {
            cfg,
            dir,
            ldap_port: free_port()?,
            submit_port: free_port()?,
            probe_port: free_port()?,
            slapd: None,
            postfix_started: false,
            log_pos: 0,
            stats: OracleStats::default(),
            pickups: 0,
        };
        for sub in ["db", "postfix", "spool", "data"] {
            let p = oracle.dir.join(sub);
            fs::create_dir_all(&p).map_err(io_err("create", &p))?;
        }
        // postfix's unprivileged daemons must traverse the work dir; data_directory must
        // belong to mail_owner.
        run(Command::new("chmod").arg("755").arg(&oracle.dir))?;
        run(Command::new("chown")
            .arg("postfix:postfix")
            .arg(oracle.dir.join("data")))?;
        oracle.write_slapd_conf()?;
        oracle.load_db("")?;
        oracle.start_slapd()?;
        oracle.write_postfix_conf()?;
        run(Command::new(POSTFIX)
            .arg("-c")
            .arg(oracle.pf_dir())
            .arg("start"))?;
        oracle.postfix_started = true;
        // ready when both smtpd ports accept connections
        let ports = [oracle.submit_port, oracle.probe_port];
        wait_until("postfix smtpd listening", Duration::from_secs(20), || {
            ports
                .iter()
                .all(|p| TcpStream::connect(("127.0.0.1", *p)).is_ok())
        })?;
        oracle.stats.start = t0.elapsed();
        Ok(oracle)
    }

    /// The configuration.
    pub fn config(&self) -> &OracleConfig {
        &self.cfg
    }

    /// The work directory (configs, `maillog`, `slapd.conf`, `load.ldif`).
    pub fn work_dir(&self) -> &Path {
        &self.dir
    }

    /// Timings so far.
    pub fn stats(&self) -> &OracleStats {
        &self.stats
    }

    /// The Postfix log so far (for failure reports).
    pub fn maillog(&self) -> String {
        fs::read_to_string(self.dir.join("maillog")).unwrap_or_default()
    }

    fn pf_dir(&self) -> PathBuf {
        self.dir.join("postfix")
    }

    /// Replaces the database with `ldif` (slapd must be stopped).
    fn load_db(&self, ldif: &str) -> Result<(), OracleError> {
        load_db(&self.dir, ldif, "load.ldif")
    }

    fn start_slapd(&mut self) -> Result<(), OracleError> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.ldap_port));
        self.slapd = Some(spawn_slapd(&self.dir, addr, Duration::from_secs(20))?);
        Ok(())
    }

    fn stop_slapd(&mut self) {
        if let Some(mut c) = self.slapd.take() {
            // The database is thrown away, so no clean shutdown is needed.
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Replaces the directory with `ldif` (slapadd-mode LDIF: parents before children, no
    /// `version:` line) and makes sure Postfix answers from it. Returns the time it took.
    pub fn load_ldif(&mut self, ldif: &str) -> Result<Duration, OracleError> {
        let t0 = Instant::now();
        self.stop_slapd();
        let loaded = self.load_db(ldif);
        // slapd comes back even after a refused LDIF (empty database), so the oracle stays usable
        if loaded.is_err() {
            let _ = self.load_db("");
        }
        let t_slapadd = t0.elapsed();
        self.start_slapd()?;
        loaded?;
        let t_slapd = t0.elapsed();
        // nothing from an earlier directory may be delivered later: the queue, and maildrop
        // files pickup keeps when cleanup refuses them (see `resubmit_via_pickup`)
        let maildrop = self.dir.join("spool/maildrop");
        if let Ok(rd) = fs::read_dir(&maildrop) {
            for f in rd.flatten() {
                let _ = fs::remove_file(f.path());
            }
        }
        run(Command::new(POSTSUPER)
            .arg("-c")
            .arg(self.pf_dir())
            .arg("-d")
            .arg("ALL"))?;
        let t_queue = t0.elapsed();
        self.reload_postfix()?;
        let took = t0.elapsed();
        self.stats.last_load_phases = [
            t_slapadd,
            t_slapd - t_slapadd,
            t_queue - t_slapd,
            took - t_queue,
        ];
        self.stats.loads += 1;
        self.stats.load_time += took;
        Ok(took)
    }

    fn master_pid(&self) -> Option<u32> {
        fs::read_to_string(self.dir.join("spool/pid/master.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// `postfix reload`, then wait until every daemon from before has exited, so no process
    /// with a cached answer or a connection to the old slapd remains.
    fn reload_postfix(&mut self) -> Result<(), OracleError> {
        let master = self
            .master_pid()
            .ok_or_else(|| OracleError::Timeout("postfix master pid file missing".into()))?;
        let before = children_of(master);
        run(Command::new(POSTFIX)
            .arg("-c")
            .arg(self.pf_dir())
            .arg("reload"))?;
        wait_until(
            "old postfix daemons to exit",
            Duration::from_secs(20),
            || before.iter().all(|p| !pid_alive(*p)),
        )
    }

    /// Routes each address (one message per address, submitted over SMTP in parallel) and
    /// returns one line per address, in the order given.
    pub fn route(&mut self, addrs: &[&str]) -> Result<Vec<OracleLine>, OracleError> {
        let t0 = Instant::now();
        if let Some(bad) = addrs.iter().find(|a| a.contains(['\r', '\n', '\0'])) {
            return Err(OracleError::BadAddress(bad.to_string()));
        }
        let log_path = self.dir.join("maillog");
        let start_pos = fs::metadata(&log_path)
            .map_or(0, |m| m.len())
            .max(self.log_pos);
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Submitted>>> = Mutex::new(vec![None; addrs.len()]);
        let port = self.submit_port;
        let workers = self.cfg.parallel.clamp(1, 16).min(addrs.len().max(1));
        let errors: Mutex<Vec<OracleError>> = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| {
                    if let Err(e) = submit_worker(port, addrs, &next, &results) {
                        if let Ok(mut errs) = errors.lock() {
                            errs.push(e);
                        }
                    }
                });
            }
        });
        if let Some(e) = errors.into_inner().ok().and_then(|mut v| v.pop()) {
            return Err(e);
        }
        let mut results = results.into_inner().unwrap_or_default();
        let deadline = Instant::now() + self.cfg.timeout;
        self.resubmit_via_pickup(addrs, &mut results, start_pos, deadline)?;
        let qids: HashSet<String> = results
            .iter()
            .filter_map(|r| match r {
                Some(Submitted::Queued(q)) => Some(q.clone()),
                _ => None,
            })
            .collect();
        let mut log = LogState::default();
        let mut pos = start_pos;
        let mut partial = Vec::new();
        loop {
            pos = read_log(&log_path, pos, &mut partial, &mut log, &qids)?;
            if qids.iter().all(|q| log.done(q)) || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        self.log_pos = pos;
        let lines = addrs
            .iter()
            .zip(results)
            .map(|(addr, r)| log.line(addr, r, self.cfg.timeout))
            .collect();
        self.stats.routed += addrs.len() as u64;
        self.stats.route_time += t0.elapsed();
        Ok(lines)
    }

    /// Probes SMTP-time acceptance: RCPT TO:<addr> on the probe smtpd from the configured
    /// trusted (inside mynetworks) or untrusted client address.
    pub fn rcpt(&mut self, addr: &str, from_trusted: bool) -> Result<SmtpReply, OracleError> {
        let mut r = self.rcpt_many(&[addr], from_trusted)?;
        r.pop().ok_or_else(|| OracleError::Smtp {
            port: self.probe_port,
            addr: addr.to_string(),
            reason: "no reply".into(),
        })
    }

    /// [`Oracle::rcpt`] for many addresses over one connection.
    pub fn rcpt_many(
        &mut self,
        addrs: &[&str],
        from_trusted: bool,
    ) -> Result<Vec<SmtpReply>, OracleError> {
        let t0 = Instant::now();
        let client = if from_trusted {
            self.cfg.trusted_client
        } else {
            self.cfg.untrusted_client
        };
        let mut c = Smtp::connect(self.probe_port, "")?;
        c.cmd(
            &format!("XCLIENT ADDR={client} NAME=[UNAVAILABLE]"),
            220,
            "",
        )?;
        c.cmd("EHLO oracle-probe.example", 250, "")?;
        let mut out = Vec::with_capacity(addrs.len());
        for a in addrs {
            if a.contains(['\r', '\n', '\0']) {
                return Err(OracleError::BadAddress(a.to_string()));
            }
            c.cmd("MAIL FROM:<> SMTPUTF8", 250, a)?;
            out.push(c.request(&format!("RCPT TO:<{a}>"), a)?);
            c.cmd("RSET", 250, a)?;
        }
        let _ = c.request("QUIT", "");
        self.stats.probes += addrs.len() as u64;
        self.stats.probe_time += t0.elapsed();
        Ok(out)
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        if self.postfix_started {
            let master = self.master_pid();
            let _ = run(Command::new(POSTFIX)
                .arg("-c")
                .arg(self.pf_dir())
                .arg("stop"));
            if let Some(m) = master {
                let _ = wait_until("postfix master exit", Duration::from_secs(10), || {
                    !pid_alive(m)
                });
            }
        }
        self.stop_slapd();
        if self.cfg.keep_dir {
            eprintln!("oracle: kept {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
