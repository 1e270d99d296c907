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

/// Zimbra's filters (zm-core-utils `src/libexec/zmmtainit`): file, query_filter,
/// result_attribute, extra lines.
pub const MAPS: &[(&str, &str, &str, &str)] = &[
    (
        "vmm",
        "(&(zimbraMailDeliveryAddress=%s)(zimbraMailStatus=enabled))",
        "zimbraMailDeliveryAddress",
        "",
    ),
    (
        "vmd",
        "(&(zimbraDomainName=%s)(zimbraDomainType=local)(zimbraMailStatus=enabled))",
        "zimbraDomainName",
        "",
    ),
    (
        "vad",
        "(&(zimbraDomainName=%s)(zimbraDomainType=alias)(zimbraMailStatus=enabled))",
        "zimbraDomainName",
        "",
    ),
    (
        "canonical",
        "(&(|(zimbraMailDeliveryAddress=%s)(zimbraMailAlias=%s)(zimbraMailCatchAllAddress=%s))(zimbraMailStatus=enabled))",
        "zimbraMailCanonicalAddress,zimbraMailCatchAllCanonicalAddress",
        "",
    ),
    (
        "transport",
        "(&(|(zimbraMailDeliveryAddress=%s)(zimbraDomainName=%s))(zimbraMailStatus=enabled))",
        "zimbraMailTransport",
        "",
    ),
    (
        "slm",
        "(&(|(uid=%s)(zimbraMailDeliveryAddress=%s)(zimbraMailAlias=%s)(zimbraMailCatchAllAddress=%s)(zimbraAllowFromAddress=%s))(zimbraMailStatus=enabled))",
        "uid,zimbraMailDeliveryAddress,zimbraMailForwardingAddress,zimbraPrefMailForwardingAddress,zimbraMailCatchAllForwardingAddress,zimbraMailAlias,zimbraAllowFromAddress",
        "result_format = %u, %s\n",
    ),
    (
        "splitdomain",
        "(&(|(zimbraMailDeliveryAddress=%s)(zimbraMailAlias=%s)(zimbraMailCatchAllAddress=%s))(zimbraMailStatus=enabled))",
        "zimbraMailDeliveryAddress,zimbraMailForwardingAddress,zimbraPrefMailForwardingAddress",
        "result_filter = OK\n",
    ),
];

/// ldap-vam.cf as zmmtainit writes it since ZCS-5361 (2018): with `zimbraOldMailAddress`.
pub const VAM_OLD_ADDRESS: &str = "(&(|(zimbraMailDeliveryAddress=%s)(zimbraMailAlias=%s)(zimbraOldMailAddress=%s)(zimbraMailCatchAllAddress=%s))(zimbraMailStatus=enabled))";
/// ldap-vam.cf without `zimbraOldMailAddress` (zmmtainit before 2018).
pub const VAM_PLAIN: &str = "(&(|(zimbraMailDeliveryAddress=%s)(zimbraMailAlias=%s)(zimbraMailCatchAllAddress=%s))(zimbraMailStatus=enabled))";
pub const VAM_RESULT: &str = "zimbraMailDeliveryAddress,zimbraMailForwardingAddress,zimbraPrefMailForwardingAddress,zimbraMailCatchAllForwardingAddress";

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
            parallel: 4,
            timeout: Duration::from_secs(60),
            keep_dir: std::env::var("ZIMBRA_PROV_ORACLE_KEEP").as_deref() == Ok("1"),
        }
    }
}

/// One final recipient's fate in an [`OracleLine`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OracleItem {
    /// Delivered (here: discarded) by `transport` to `nexthop`.
    Deliver {
        /// master.cf service, e.g. `lmtp`, `smtp`.
        transport: String,
        /// Next hop, e.g. `mbox1.example.com:7025`, `[192.0.2.1]:25`, `example.org`.
        nexthop: String,
        /// Final recipient.
        final_rcpt: String,
    },
    /// Bounced (DSN 5.x.x).
    Bounce {
        /// `service: reason`, e.g. `error: example.com`.
        text: String,
        /// DSN, e.g. `5.0.0`.
        dsn: String,
        /// Final recipient.
        final_rcpt: String,
    },
    /// Deferred (DSN 4.x.x), or refused with a temporary error.
    Defer {
        /// `service: reason`, e.g. `retry: mail transport unavailable`.
        text: String,
        /// DSN, e.g. `4.3.0`.
        dsn: String,
        /// Final recipient.
        final_rcpt: String,
    },
}

impl OracleItem {
    /// The final recipient.
    pub fn final_rcpt(&self) -> &str {
        match self {
            OracleItem::Deliver { final_rcpt, .. }
            | OracleItem::Bounce { final_rcpt, .. }
            | OracleItem::Defer { final_rcpt, .. } => final_rcpt,
        }
    }

    /// The transport for a delivery; the service before `:` of TEXT otherwise.
    pub fn transport(&self) -> &str {
        match self {
            OracleItem::Deliver { transport, .. } => transport,
            OracleItem::Bounce { text, .. } | OracleItem::Defer { text, .. } => {
                text.split_once(':').map_or(text.as_str(), |(t, _)| t)
            }
        }
    }

    fn sort_key(&self) -> (String, String, String) {
        (
            self.final_rcpt().to_ascii_lowercase(),
            self.transport().to_string(),
            self.body(),
        )
    }

    fn body(&self) -> String {
        match self {
            OracleItem::Deliver {
                transport, nexthop, ..
            } => format!("{transport}:{nexthop}"),
            OracleItem::Bounce { text, dsn, .. } => format!("bounce ({text} [{dsn}])"),
            OracleItem::Defer { text, dsn, .. } => format!("defer ({text} [{dsn}])"),
        }
    }

    /// The item as printed for original address `addr`.
    pub fn render(&self, addr: &str) -> String {
        let body = self.body();
        if self.final_rcpt() == addr {
            body
        } else {
            format!("{body} <{}>", self.final_rcpt())
        }
    }

    /// Parses one ITEM of address `addr`'s line.
    pub fn parse(item: &str, addr: &str) -> Result<OracleItem, &'static str> {
        let (body, final_rcpt) = match item.strip_suffix('>').and_then(|s| s.rsplit_once(" <")) {
            Some((b, f)) => (b, f.to_string()),
            None => (item, addr.to_string()),
        };
        for (kw, bounce) in [("bounce (", true), ("defer (", false)] {
            if let Some(rest) = body.strip_prefix(kw) {
                let rest = rest.strip_suffix("])").ok_or("missing `[DSN])`")?;
                let (text, dsn) = rest.rsplit_once(" [").ok_or("missing ` [DSN`")?;
                let (text, dsn) = (text.to_string(), dsn.to_string());
                return Ok(if bounce {
                    OracleItem::Bounce {
                        text,
                        dsn,
                        final_rcpt,
                    }
                } else {
                    OracleItem::Defer {
                        text,
                        dsn,
                        final_rcpt,
                    }
                });
            }
        }
        let (transport, nexthop) = body.split_once(':').ok_or("no `transport:nexthop`")?;
        if transport.is_empty() || transport.contains(' ') {
            return Err("bad transport name");
        }
        Ok(OracleItem::Deliver {
            transport: transport.to_string(),
            nexthop: nexthop.to_string(),
            final_rcpt,
        })
    }
}

/// The oracle's decision for one address: `ADDR -> ITEM | ITEM ...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OracleLine {
    /// The address as submitted.
    pub addr: String,
    /// One item per final recipient, sorted (final recipient case-insensitively, transport).
    pub items: Vec<OracleItem>,
}

impl OracleLine {
    /// A line with its items put in the canonical order.
    pub fn new(addr: &str, mut items: Vec<OracleItem>) -> OracleLine {
        items.sort_by_key(OracleItem::sort_key);
        items.dedup();
        OracleLine {
            addr: addr.to_string(),
            items,
        }
    }

    /// The line text (same as `to_string()`).
    pub fn text(&self) -> String {
        self.to_string()
    }

    /// Parses a line in the oracle format (e.g. the simulator's `route decide` output).
    pub fn parse(line: &str) -> Result<OracleLine, OracleError> {
        let err = |reason| OracleError::Parse {
            line: line.to_string(),
            reason,
        };
        let (addr, rest) = line.split_once(" -> ").ok_or_else(|| err("no ` -> `"))?;
        let items = rest
            .split(" | ")
            .map(|i| OracleItem::parse(i, addr))
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        Ok(OracleLine::new(addr, items))
    }
}

impl fmt::Display for OracleLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ->", self.addr)?;
        for (i, item) in self.items.iter().enumerate() {
            let sep = if i == 0 { " " } else { " | " };
            write!(f, "{sep}{}", item.render(&self.addr))?;
        }
        Ok(())
    }
}

/// An SMTP reply to RCPT TO.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpReply {
    /// Reply code, e.g. 250, 550, 554.
    pub code: u16,
    /// Enhanced status code, e.g. `5.1.1`, when given.
    pub dsn: Option<String>,
    /// The text after code and DSN (all lines joined by a space).
    pub text: String,
}

impl SmtpReply {
    fn parse(lines: &[String]) -> Option<SmtpReply> {
        let first = lines.first()?;
        let code: u16 = first.get(..3)?.parse().ok()?;
        let mut text = Vec::new();
        let mut dsn = None;
        for l in lines {
            let t = l.get(4..).unwrap_or("");
            let (d, rest) = match t.split_once(' ') {
                Some((d, rest)) if is_dsn(d) => (Some(d.to_string()), rest),
                _ if is_dsn(t) => (Some(t.to_string()), ""),
                _ => (None, t),
            };
            if dsn.is_none() {
                dsn = d;
            }
            text.push(rest.to_string());
        }
        Some(SmtpReply {
            code,
            dsn,
            text: text.join(" "),
        })
    }

    /// True for 2xx.
    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.code)
    }
}

impl fmt::Display for SmtpReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.dsn {
            Some(d) => write!(f, "{} {} {}", self.code, d, self.text),
            None => write!(f, "{} {}", self.code, self.text),
        }
    }
}

fn is_dsn(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && matches!(parts[0], "2" | "4" | "5")
        && parts[1..]
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
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

    fn write_slapd_conf(&self) -> Result<(), OracleError> {
        let schema = self.dir.join("zimbra.schema");
        write_file(&schema, &zimbra_prov::attrs::openldap_schema())?;
        let d = self.dir.display();
        let conf = format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             include /etc/ldap/schema/dyngroup.schema\n\
             include {d}/zimbra.schema\n\
             pidfile {d}/slapd.pid\n\
             argsfile {d}/slapd.args\n\
             modulepath /usr/lib/ldap\n\
             moduleload back_mdb\n\
             moduleload dynlist\n\
             access to * by * read\n\
             database mdb\n\
             maxsize 268435456\n\
             suffix \"\"\n\
             rootdn \"cn=oracle-admin\"\n\
             directory {d}/db\n\
             index objectClass eq\n\
             index zimbraMailDeliveryAddress,zimbraMailAlias,zimbraMailCatchAllAddress,zimbraOldMailAddress,zimbraDomainName eq\n\
             index zimbraId,zimbraMemberOf eq\n\
             overlay dynlist\n\
             dynlist-attrset groupOfURLs memberURL member\n"
        );
        write_file(&self.dir.join("slapd.conf"), &conf)
    }

    /// Replaces the database with `ldif` (slapd must be stopped).
    fn load_db(&self, ldif: &str) -> Result<(), OracleError> {
        let db = self.dir.join("db");
        fs::remove_dir_all(&db).map_err(io_err("remove", &db))?;
        fs::create_dir_all(&db).map_err(io_err("create", &db))?;
        let file = self.dir.join("load.ldif");
        write_file(&file, ldif)?;
        run(Command::new(SLAPADD)
            .arg("-q")
            .arg("-f")
            .arg(self.dir.join("slapd.conf"))
            .arg("-l")
            .arg(&file))
        .map_err(|e| match e {
            OracleError::Command { output, .. } => OracleError::Slapadd(output),
            other => other,
        })?;
        Ok(())
    }

    fn start_slapd(&mut self) -> Result<(), OracleError> {
        let url = format!("ldap://127.0.0.1:{}/", self.ldap_port);
        let child = Command::new(SLAPD)
            .arg("-d")
            .arg("0")
            .arg("-f")
            .arg(self.dir.join("slapd.conf"))
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
        self.slapd = Some(child);
        let port = self.ldap_port;
        let mut exited = None;
        let slapd = &mut self.slapd;
        wait_until("slapd listening", Duration::from_secs(20), || {
            if let Some(c) = slapd.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    exited = Some(st);
                    return true;
                }
            }
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        })?;
        if let Some(st) = exited {
            self.slapd = None;
            return Err(OracleError::Command {
                cmd: format!("{SLAPD} -h {url}"),
                status: st.to_string(),
                output: "slapd exited at start (port taken?)".to_string(),
            });
        }
        Ok(())
    }

    fn stop_slapd(&mut self) {
        if let Some(mut c) = self.slapd.take() {
            // The database is thrown away, so no clean shutdown is needed.
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn write_postfix_conf(&self) -> Result<(), OracleError> {
        let p = self.pf_dir();
        let url = format!("ldap://127.0.0.1:{}", self.ldap_port);
        for (name, filter, result, extra) in MAPS {
            self.write_map(name, filter, result, extra, &url)?;
        }
        let vam = if self.cfg.old_address_filter {
            VAM_OLD_ADDRESS
        } else {
            VAM_PLAIN
        };
        self.write_map(
            "vam",
            vam,
            VAM_RESULT,
            "special_result_attribute = member\n",
            &url,
        )?;
        let d = self.dir.display();
        let pd = p.display();
        let (dns_level, disable_dns) = match self.cfg.dns {
            DnsLookups::Enabled => ("enabled", "no"),
            DnsLookups::Disabled => ("disabled", "no"),
            DnsLookups::Dnssec => ("dnssec", "no"),
            DnsLookups::LegacyDisabled => ("", "yes"),
        };
        let mut main = format!(
            "# zimbra-prov oracle instance: a Zimbra MTA's routing, nothing leaves the machine\n\
             compatibility_level = 3.6\n\
             config_directory = {pd}\n\
             queue_directory = {d}/spool\n\
             data_directory = {d}/data\n\
             command_directory = /usr/sbin\n\
             daemon_directory = /usr/lib/postfix/sbin\n\
             shlib_directory = /usr/lib/postfix\n\
             meta_directory = /etc/postfix\n\
             mail_owner = postfix\n\
             setgid_group = postdrop\n\
             maillog_file = {d}/maillog\n\
             maillog_file_prefixes = {d}\n\
             myhostname = mta.oracle.invalid\n\
             mydomain = oracle.invalid\n\
             myorigin = $myhostname\n\
             inet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\n\
             biff = no\n\
             alias_maps =\n\
             alias_database =\n\
             local_recipient_maps =\n\
             dnssec_probe =\n\
             smtpd_peername_lookup = no\n\
             # --- zmconfigd defaults (zimbra-attrs.xml globalConfig values) ---\n\
             mydestination = localhost\n\
             mynetworks = {mynet}\n\
             relayhost = {relay}\n\
             recipient_delimiter = {delim}\n\
             smtp_dns_support_level = {dns_level}\n\
             disable_dns_lookups = {disable_dns}\n\
             canonical_maps = ldap:{pd}/ldap-canonical.cf\n\
             transport_maps = ldap:{pd}/ldap-transport.cf\n\
             virtual_alias_domains = ldap:{pd}/ldap-vad.cf\n\
             virtual_alias_maps = ldap:{pd}/ldap-vam.cf\n\
             virtual_mailbox_domains = ldap:{pd}/ldap-vmd.cf\n\
             virtual_mailbox_maps = ldap:{pd}/ldap-vmm.cf\n\
             virtual_transport = error\n\
             virtual_alias_expansion_limit = 10000\n\
             propagate_unmatched_extensions = canonical\n\
             smtpd_reject_unlisted_recipient = no\n\
             smtpd_reject_unlisted_sender = no\n\
             smtpd_recipient_restrictions = reject_non_fqdn_recipient, permit_sasl_authenticated, permit_mynetworks, reject_unlisted_recipient, reject_invalid_helo_hostname, reject_non_fqdn_sender, permit\n\
             smtpd_relay_restrictions = permit_sasl_authenticated, permit_mynetworks, reject_unauth_destination\n\
             # --- oracle hygiene: try once, never wait ---\n\
             queue_run_delay = 1s\n\
             minimal_backoff_time = 1s\n\
             maximal_backoff_time = 2s\n\
             maximal_queue_lifetime = 0\n\
             bounce_queue_lifetime = 0\n\
             delay_warning_time = 0\n\
             in_flow_delay = 0\n",
            mynet = self.cfg.mynetworks,
            relay = self.cfg.relayhost,
            delim = self.cfg.recipient_delimiter,
        );
        for (k, v) in &self.cfg.extra_main_cf {
            main.push_str(&format!("{k} = {v}\n"));
        }
        write_file(&p.join("main.cf"), &main)?;
        let master = format!(
            "# zimbra-prov oracle: smtpd on 127.0.0.1 only; network/mailbox agents are discard(8)\n\
             127.0.0.1:{submit} inet n - n - - smtpd -o syslog_name=oracle-submit\n  \
               -o mynetworks=127.0.0.0/8 -o smtpd_recipient_restrictions=permit_mynetworks,reject\n  \
               -o smtpd_relay_restrictions=permit_mynetworks,reject -o smtpd_reject_unlisted_recipient=no\n  \
               -o smtpd_error_sleep_time=0 -o smtpd_soft_error_limit=1000000 -o smtpd_hard_error_limit=1000000\n\
             127.0.0.1:{probe} inet n - n - - smtpd -o syslog_name=oracle-probe\n  \
               -o smtpd_authorized_xclient_hosts=127.0.0.0/8\n  \
               -o smtpd_error_sleep_time=0 -o smtpd_soft_error_limit=1000000 -o smtpd_hard_error_limit=1000000\n\
             cleanup   unix n - n - 0 cleanup\n\
             qmgr      unix n - n 300 1 qmgr\n\
             rewrite   unix - - n - - trivial-rewrite\n\
             bounce    unix - - n - 0 bounce\n\
             defer     unix - - n - 0 bounce\n\
             trace     unix - - n - 0 bounce\n\
             verify    unix - - n - 1 verify\n\
             proxymap  unix - - n - - proxymap\n\
             anvil     unix - - n - 1 anvil\n\
             scache    unix - - n - 1 scache\n\
             postlog   unix-dgram n - n - 1 postlogd\n\
             discard   unix - - n - - discard\n\
             error     unix - - n - - error -o syslog_name=oracle-transport/error\n\
             retry     unix - - n - - error -o syslog_name=oracle-transport/retry\n\
             local     unix - n n - - discard -o syslog_name=oracle-transport/local\n\
             virtual   unix - n n - - discard -o syslog_name=oracle-transport/virtual\n\
             smtp      unix - - n - - discard -o syslog_name=oracle-transport/smtp\n\
             lmtp      unix - - n - - discard -o syslog_name=oracle-transport/lmtp\n\
             relay     unix - - n - - discard -o syslog_name=oracle-transport/relay\n",
            submit = self.submit_port,
            probe = self.probe_port,
        );
        write_file(&p.join("master.cf"), &master)?;
        // Postfix re-reads a main.cf younger than ~1 s in 300 ms steps before it trusts it;
        // back-date the fresh files so check/start do not wait.
        let mut touch = Command::new("touch");
        touch.arg("-d").arg("@1000000000");
        for f in fs::read_dir(&p).map_err(io_err("list", &p))?.flatten() {
            touch.arg(f.path());
        }
        run(&mut touch)?;
        Ok(())
    }

    fn write_map(
        &self,
        name: &str,
        filter: &str,
        result: &str,
        extra: &str,
        url: &str,
    ) -> Result<(), OracleError> {
        let text = format!(
            "# Zimbra ldap-{name}.cf (zmmtainit filter), anonymous bind to the oracle's slapd\n\
             server_host = {url}\n\
             server_port = {port}\n\
             search_base =\n\
             version = 3\n\
             bind = no\n\
             timeout = 30\n\
             query_filter = {filter}\n\
             result_attribute = {result}\n\
             {extra}",
            port = self.ldap_port
        );
        write_file(&self.pf_dir().join(format!("ldap-{name}.cf")), &text)
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
        // nothing from an earlier directory may be delivered later
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
        let results = results.into_inner().unwrap_or_default();
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
        let deadline = Instant::now() + self.cfg.timeout;
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
            c.cmd("MAIL FROM:<>", 250, a)?;
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

/// What happened to one address at submission.
#[derive(Clone, Debug)]
enum Submitted {
    /// Accepted; the queue id.
    Queued(String),
    /// Refused by smtpd at RCPT (recipient) or at the end of DATA (cleanup).
    Refused {
        stage: &'static str,
        reply: SmtpReply,
    },
}

fn submit_worker(
    port: u16,
    addrs: &[&str],
    next: &AtomicUsize,
    results: &Mutex<Vec<Option<Submitted>>>,
) -> Result<(), OracleError> {
    let mut c: Option<Smtp> = None;
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(addr) = addrs.get(i) else {
            break;
        };
        let conn = match c.as_mut() {
            Some(conn) => conn,
            None => {
                let mut conn = Smtp::connect(port, addr)?;
                conn.cmd("EHLO oracle-submit.example", 250, addr)?;
                c.insert(conn)
            }
        };
        let r = submit_one(conn, addr)?;
        if let Ok(mut v) = results.lock() {
            if let Some(slot) = v.get_mut(i) {
                *slot = Some(r);
            }
        }
    }
    if let Some(mut conn) = c {
        let _ = conn.request("QUIT", "");
    }
    Ok(())
}

fn submit_one(c: &mut Smtp, addr: &str) -> Result<Submitted, OracleError> {
    c.cmd("MAIL FROM:<>", 250, addr)?;
    let r = c.request(&format!("RCPT TO:<{addr}>"), addr)?;
    if !r.accepted() {
        c.cmd("RSET", 250, addr)?;
        return Ok(Submitted::Refused {
            stage: "smtpd",
            reply: r,
        });
    }
    c.cmd("DATA", 354, addr)?;
    let r = c.request("Subject: zimbra-prov oracle probe\r\n\r\nprobe\r\n.", addr)?;
    if !r.accepted() {
        return Ok(Submitted::Refused {
            stage: "cleanup",
            reply: r,
        });
    }
    let qid = r
        .text
        .rsplit_once("queued as ")
        .map(|(_, q)| q.trim().to_string())
        .filter(|q| !q.is_empty() && q.bytes().all(|b| b.is_ascii_alphanumeric()))
        .ok_or_else(|| OracleError::Smtp {
            port: c.port,
            addr: addr.to_string(),
            reason: format!("no queue id in DATA reply {r}"),
        })?;
    Ok(Submitted::Queued(qid))
}

/// A minimal SMTP client over loopback.
pub struct Smtp {
    port: u16,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Smtp {
    fn connect(port: u16, addr: &str) -> Result<Smtp, OracleError> {
        Smtp::connect_to(SocketAddr::from(([127, 0, 0, 1], port)), addr)
    }

    /// Connects to `sa` and reads the 220 greeting (`addr`: the address being handled, for
    /// error messages).
    pub fn connect_to(sa: SocketAddr, addr: &str) -> Result<Smtp, OracleError> {
        let port = sa.port();
        let err = |reason: String| OracleError::Smtp {
            port,
            addr: addr.to_string(),
            reason,
        };
        let s = TcpStream::connect_timeout(&sa, Duration::from_secs(10))
            .map_err(|e| err(e.to_string()))?;
        s.set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| err(e.to_string()))?;
        let w = s.try_clone().map_err(|e| err(e.to_string()))?;
        let mut c = Smtp {
            port,
            reader: BufReader::new(s),
            writer: w,
        };
        let greeting = c.reply(addr)?;
        if greeting.code != 220 {
            return Err(err(format!("greeting {greeting}")));
        }
        Ok(c)
    }

    /// Reads one (multi-line) reply.
    pub fn reply(&mut self, addr: &str) -> Result<SmtpReply, OracleError> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self
                .reader
                .read_line(&mut line)
                .map_err(|e| OracleError::Smtp {
                    port: self.port,
                    addr: addr.to_string(),
                    reason: e.to_string(),
                })?;
            if n == 0 {
                return Err(OracleError::Smtp {
                    port: self.port,
                    addr: addr.to_string(),
                    reason: "connection closed".into(),
                });
            }
            let line = line.trim_end_matches(['\r', '\n']).to_string();
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line);
            if !more {
                break;
            }
        }
        SmtpReply::parse(&lines).ok_or_else(|| OracleError::Smtp {
            port: self.port,
            addr: addr.to_string(),
            reason: format!("unparsable reply {lines:?}"),
        })
    }

    /// Sends `cmd` and reads the reply.
    pub fn request(&mut self, cmd: &str, addr: &str) -> Result<SmtpReply, OracleError> {
        self.writer
            .write_all(format!("{cmd}\r\n").as_bytes())
            .map_err(|e| OracleError::Smtp {
                port: self.port,
                addr: addr.to_string(),
                reason: e.to_string(),
            })?;
        self.reply(addr)
    }

    /// Sends `cmd`; a reply other than `want` is an error.
    pub fn cmd(&mut self, cmd: &str, want: u16, addr: &str) -> Result<SmtpReply, OracleError> {
        let r = self.request(cmd, addr)?;
        if r.code != want {
            return Err(OracleError::Smtp {
                port: self.port,
                addr: addr.to_string(),
                reason: format!("{cmd:?} answered {r}"),
            });
        }
        Ok(r)
    }
}

/// One delivery-agent log line for a recipient.
#[derive(Clone, Debug)]
struct Delivery {
    transport: String,
    to: String,
    dsn: String,
    reason: String,
}

/// What the log said about the queue ids of one [`Oracle::route`] call.
#[derive(Default)]
struct LogState {
    nrcpt: HashMap<String, usize>,
    removed: HashSet<String>,
    deliveries: BTreeMap<String, Vec<Delivery>>,
    warnings: HashMap<String, Vec<String>>,
}

impl LogState {
    fn done(&self, qid: &str) -> bool {
        self.removed.contains(qid)
            || self
                .nrcpt
                .get(qid)
                .is_some_and(|n| self.deliveries.get(qid).map_or(0, Vec::len) >= *n)
    }

    fn feed(&mut self, line: &str, qids: &HashSet<String>) {
        // "Mon DD HH:MM:SS host program[pid]: QID: rest"
        let Some((head, rest)) = line.split_once("]: ") else {
            return;
        };
        let Some((qid, msg)) = rest.split_once(": ") else {
            return;
        };
        if !qids.contains(qid) {
            return;
        }
        let program = head
            .rsplit_once('[')
            .map_or(head, |(p, _)| p)
            .rsplit(' ')
            .next()
            .unwrap_or("");
        if let Some(n) = msg
            .strip_prefix("from=<")
            .and_then(|m| m.split_once(", nrcpt="))
            .and_then(|(_, n)| n.split(' ').next())
            .and_then(|n| n.parse::<usize>().ok())
        {
            self.nrcpt.insert(qid.to_string(), n);
        } else if msg == "removed" {
            self.removed.insert(qid.to_string());
        } else if let Some(d) = parse_delivery(program, msg) {
            let v = self.deliveries.entry(qid.to_string()).or_default();
            // the first verdict per recipient counts (a deferred one later expires)
            if !v.iter().any(|x| x.to == d.to) {
                v.push(d);
            }
        } else if (program.ends_with("/cleanup") || msg.starts_with("warning: "))
            && !msg.starts_with("message-id=")
        {
            self.warnings
                .entry(qid.to_string())
                .or_default()
                .push(format!("{program}: {msg}"));
        }
    }

    fn line(&self, addr: &str, r: Option<Submitted>, timeout: Duration) -> OracleLine {
        let items = match r {
            None => vec![OracleItem::Defer {
                text: "oracle: not submitted".into(),
                dsn: "4.0.0".into(),
                final_rcpt: addr.to_string(),
            }],
            Some(Submitted::Refused { stage, reply }) => {
                let dsn = reply
                    .dsn
                    .clone()
                    .unwrap_or_else(|| format!("{}.0.0", reply.code / 100));
                let text = format!("{stage}: {}", reply.text);
                let final_rcpt = addr.to_string();
                vec![if reply.code >= 500 {
                    OracleItem::Bounce {
                        text,
                        dsn,
                        final_rcpt,
                    }
                } else {
                    OracleItem::Defer {
                        text,
                        dsn,
                        final_rcpt,
                    }
                }]
            }
            Some(Submitted::Queued(qid)) => {
                let mut items: Vec<OracleItem> = self
                    .deliveries
                    .get(&qid)
                    .map(|ds| ds.iter().map(item_of).collect())
                    .unwrap_or_default();
                if !self.done(&qid) {
                    let why = self
                        .warnings
                        .get(&qid)
                        .map(|w| w.join("; "))
                        .unwrap_or_else(|| {
                            format!("oracle: no complete verdict within {timeout:?} for {qid}")
                        });
                    items.push(OracleItem::Defer {
                        text: why,
                        dsn: "4.0.0".into(),
                        final_rcpt: addr.to_string(),
                    });
                } else if items.is_empty() {
                    items.push(OracleItem::Defer {
                        text: "oracle: message removed without a delivery line".into(),
                        dsn: "4.0.0".into(),
                        final_rcpt: addr.to_string(),
                    });
                }
                items
            }
        };
        OracleLine::new(addr, items)
    }
}

fn item_of(d: &Delivery) -> OracleItem {
    let final_rcpt = d.to.clone();
    match d.dsn.as_bytes().first() {
        Some(b'2') => OracleItem::Deliver {
            transport: d.transport.clone(),
            nexthop: d.reason.clone(),
            final_rcpt,
        },
        Some(b'5') => OracleItem::Bounce {
            text: format!("{}: {}", d.transport, d.reason),
            dsn: d.dsn.clone(),
            final_rcpt,
        },
        _ => OracleItem::Defer {
            text: format!("{}: {}", d.transport, d.reason),
            dsn: d.dsn.clone(),
            final_rcpt,
        },
    }
}

/// `to=<X>, [orig_to=<Y>, ]relay=..., dsn=D, status=S (REASON)`
fn parse_delivery(program: &str, msg: &str) -> Option<Delivery> {
    let rest = msg.strip_prefix("to=<")?;
    let (addrs, after) = rest.split_once(", relay=")?;
    let to = match addrs.split_once(">, orig_to=<") {
        Some((to, _)) => to,
        None => addrs.strip_suffix('>')?,
    };
    let (_, after) = after.split_once(", dsn=")?;
    let (dsn, after) = after.split_once(", status=")?;
    let (_, reason) = after.split_once(" (")?;
    let reason = reason.strip_suffix(')')?;
    let transport = match program.strip_prefix("oracle-transport/") {
        Some(t) => t.split('/').next().unwrap_or(t),
        None => program.rsplit('/').next().unwrap_or(program),
    };
    Some(Delivery {
        transport: transport.to_string(),
        to: to.to_string(),
        dsn: dsn.to_string(),
        reason: reason.to_string(),
    })
}

/// Reads the log from `pos`, feeding complete lines; returns the new position.
fn read_log(
    path: &Path,
    pos: u64,
    partial: &mut Vec<u8>,
    log: &mut LogState,
    qids: &HashSet<String>,
) -> Result<u64, OracleError> {
    let mut f = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(pos),
        Err(e) => return Err(io_err("read", path)(e)),
    };
    f.seek(SeekFrom::Start(pos)).map_err(io_err("seek", path))?;
    let mut chunk = Vec::new();
    f.read_to_end(&mut chunk).map_err(io_err("read", path))?;
    let new_pos = pos + chunk.len() as u64;
    partial.extend_from_slice(&chunk);
    while let Some(nl) = partial.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = partial.drain(..=nl).collect();
        let text = String::from_utf8_lossy(&line);
        log.feed(text.trim_end_matches('\n'), qids);
    }
    Ok(new_pos)
}
