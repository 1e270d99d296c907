//! A whole mail topology as real daemons: one Postfix 3.7 per MTA (Zimbra MTAs with their own
//! slapd and Zimbra's `ldap-*.cf` maps, foreign MTAs as plain Postfix with tables), an
//! authoritative DNS server serving the topology's MX and A records, the Internet's sending
//! MTAs and a sink standing for the rest of the Internet — all on loopback addresses of a
//! private network namespace (see [`net`]). Test-support code for `tests/multi_diff.rs`, built
//! on the single-MTA oracle's pieces (`tests/support/oracle.rs`).
//!
//! A [`Lab`] is started once per run ([`Lab::start`]); each topology is deployed into it
//! ([`Lab::deploy`]: DNS zones swapped, instances started, or reconfigured in place when an MTA
//! stays), then probes are injected over SMTP and followed through the logs ([`Lab::run`]).
//!
//! - A probe from **the Internet** is submitted to an outside MTA (127.0.0.200) that delivers
//!   it by MX lookup, exactly as a sender's MTA would; its own `Received:` header is removed so
//!   that the topology's hop count starts at the first MTA.
//! - A probe through an **MX fallback** goes through a second outside MTA (127.0.0.201) whose
//!   DNS view makes the best-preference MX hosts unreachable, so Postfix's own MX fallback picks
//!   the next host.
//! - A probe **from an MTA** is submitted to that MTA's smtpd as a client it trusts (XCLIENT
//!   with the MTA's own address): a user of that MTA sending.
//!
//! Each probe has the envelope sender the simulator uses for its entry point (an outside
//! address for the Internet, one of the MTA's users for an MTA), so delivery status
//! notifications travel back through the topology to the sender, and the DSN's fate is followed
//! like the probe's.

pub mod cases;
pub mod compare;
pub mod config;
pub mod dns;
pub mod instance;
pub mod logs;
pub mod net;
pub mod sink;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use zimbra_prov::route::Topology;

use crate::oracle::{OracleError, Smtp, SmtpReply};
use dns::DnsServer;
use instance::{Instance, InstanceSpec, Role};
use logs::{Followed, InstanceLog, Logs, Observed};
use net::{FALLBACK_IP, INTERNET_IP, SINK_IP};
use sink::Sink;

/// The outside MTA that sends the Internet's probes.
pub const INTERNET: &str = "internet";
/// The outside MTA that cannot reach the best MX hosts.
pub const FALLBACK: &str = "internet-fallback";

/// Where a probe enters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Entry {
    /// An outside sender: MX lookup of the recipient's domain.
    Internet,
    /// An outside sender that cannot reach the domain's best MX hosts.
    Fallback,
    /// A user of this MTA (by name).
    Mta(String),
}

impl std::fmt::Display for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Entry::Internet => f.write_str("internet"),
            Entry::Fallback => f.write_str("internet (best MX down)"),
            Entry::Mta(m) => f.write_str(m),
        }
    }
}

/// One message to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// Where it enters.
    pub entry: Entry,
    /// The recipient.
    pub rcpt: String,
    /// The envelope sender (where the DSNs go): the simulator's default sender of the entry.
    pub sender: String,
}

/// What happened to a probe in the real topology.
#[derive(Clone, Debug, Default)]
pub struct RealResult {
    /// The envelope sender used.
    pub sender: String,
    /// The leaves.
    pub leaves: Vec<Observed>,
    /// Per leaf: the DSN followed, when an MTA wrote one.
    pub dsns: Vec<Option<Followed>>,
    /// Every branch and every DSN has a final answer.
    pub complete: bool,
    /// Where the probe entered and its queue id there (for reproduction).
    pub queued: Option<(String, String)>,
    /// A harness problem (connection failure), if any.
    pub error: Option<String>,
}

/// The running daemons.
pub struct Lab {
    /// The work directory (every instance's configuration and maillog).
    pub work: PathBuf,
    dns: DnsServer,
    /// The rest of the Internet.
    pub sink: Sink,
    senders: Vec<Instance>,
    mtas: Vec<Instance>,
    /// Running instances the current topology does not use, with their log readers.
    spares: Vec<(Instance, Option<InstanceLog>)>,
    /// Every instance's log.
    pub logs: Logs,
    probes_sent: usize,
    retired: [Duration; 4],
}

fn register(logs: &mut Logs, inst: &Instance, topology: bool) {
    logs.logs
        .insert(inst.spec.name.clone(), InstanceLog::new(inst.maillog()));
    logs.by_ip.insert(
        inst.spec.ip,
        (inst.spec.name.clone(), inst.spec.hostname.clone(), topology),
    );
}

/// Starts every spec in parallel.
fn start_all(work: &Path, specs: Vec<InstanceSpec>) -> Result<Vec<Instance>, OracleError> {
    let results: Vec<Result<Instance, OracleError>> = std::thread::scope(|s| {
        let handles: Vec<_> = specs
            .into_iter()
            .map(|spec| s.spawn(move || Instance::start(work, spec)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(OracleError::Timeout("instance start panicked".into())))
            })
            .collect()
    });
    results.into_iter().collect()
}

impl Lab {
    /// Inside the namespaces: network, DNS, sink and the two outside senders.
    pub fn start(work: &Path) -> Result<Lab, OracleError> {
        let fallback_resolv = net::enter(work)?;
        let io = |what: &'static str| {
            let p = work.to_path_buf();
            move |source| OracleError::Io {
                what,
                path: p,
                source,
            }
        };
        let dns = DnsServer::start(&[net::DNS_IP, net::DNS_FALLBACK_IP]).map_err(io("dns"))?;
        let sink = Sink::start(SINK_IP, 25).map_err(io("sink"))?;
        let senders = start_all(
            work,
            vec![
                config::internet_spec(INTERNET, INTERNET_IP, None),
                config::internet_spec(FALLBACK, FALLBACK_IP, Some(fallback_resolv)),
            ],
        )?;
        let mut logs = Logs {
            sink: Some(SINK_IP),
            ..Logs::default()
        };
        for s in &senders {
            register(&mut logs, s, false);
        }
        Ok(Lab {
            work: work.to_path_buf(),
            dns,
            sink,
            senders,
            mtas: Vec::new(),
            spares: Vec::new(),
            logs,
            probes_sent: 0,
            retired: [Duration::ZERO; 4],
        })
    }

    /// Makes the real topology `topo`: DNS zones, and one instance per MTA (an MTA that keeps
    /// its name, address and kind is reconfigured in place). `ldif(i)` is Zimbra MTA `i`'s
    /// directory. Returns the time it took.
    pub fn deploy(
        &mut self,
        topo: &Topology,
        ldif: &dyn Fn(usize) -> String,
    ) -> Result<Duration, OracleError> {
        let t0 = Instant::now();
        self.dns.set_zones(config::zones(topo));
        let specs = config::specs(topo, ldif);
        // the instances of the last topology and the idle ones, with their log readers (an
        // instance keeps its reader when its MTA name changes)
        let mut pool: Vec<Option<(Instance, Option<InstanceLog>)>> = Vec::new();
        for o in std::mem::take(&mut self.mtas) {
            let reader = self.logs.logs.remove(&o.spec.name);
            self.logs.by_ip.remove(&o.spec.ip);
            pool.push(Some((o, reader)));
        }
        pool.extend(std::mem::take(&mut self.spares).into_iter().map(Some));
        let mut readers: BTreeMap<Ipv4Addr, InstanceLog> = BTreeMap::new();
        let mut keep: Vec<(usize, Instance, InstanceSpec)> = Vec::new();
        let mut fresh: Vec<(usize, InstanceSpec)> = Vec::new();
        for (i, spec) in specs.into_iter().enumerate() {
            let reuse = pool
                .iter_mut()
                .find(|o| o.as_ref().is_some_and(|(o, _)| o.can_become(&spec)))
                .and_then(Option::take);
            match reuse {
                Some((inst, reader)) => {
                    if let Some(r) = reader {
                        readers.insert(inst.spec.ip, r);
                    }
                    keep.push((i, inst, spec));
                }
                None => fresh.push((i, spec)),
            }
        }
        // the rest stay idle (nothing points at them), unless a new instance needs the address
        for (o, reader) in pool.into_iter().flatten() {
            if fresh.iter().any(|(_, s)| s.ip == o.spec.ip) {
                for (r, t) in self.retired.iter_mut().zip(o.timing) {
                    *r += t;
                }
                drop(o);
            } else {
                self.spares.push((o, reader));
            }
        }
        let work = self.work.clone();
        let (reconfigured, started) = std::thread::scope(|s| {
            let keep_handles: Vec<_> = keep
                .into_iter()
                .map(|(i, mut inst, spec)| {
                    s.spawn(move || inst.reconfigure(spec).map(|()| (i, inst)))
                })
                .collect();
            let fresh_order: Vec<usize> = fresh.iter().map(|(i, _)| *i).collect();
            let started = start_all(&work, fresh.into_iter().map(|(_, s)| s).collect())
                .map(|v| fresh_order.into_iter().zip(v).collect::<Vec<_>>());
            let reconfigured: Vec<Result<(usize, Instance), OracleError>> = keep_handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(OracleError::Timeout("reconfigure panicked".into()))
                    })
                })
                .collect();
            (reconfigured, started)
        });
        let mut all: BTreeMap<usize, Instance> = BTreeMap::new();
        let mut first_err = None;
        for r in reconfigured {
            match r {
                Ok((i, inst)) => {
                    all.insert(i, inst);
                }
                Err(e) => first_err = first_err.or(Some(e)),
            }
        }
        match started {
            Ok(v) => {
                for (i, inst) in v {
                    register(&mut self.logs, &inst, true);
                    all.insert(i, inst);
                }
            }
            Err(e) => first_err = first_err.or(Some(e)),
        }
        self.mtas = all.into_values().collect();
        for m in &self.mtas {
            // a reconfigured instance keeps its log reader, under its (new) name
            self.logs.by_ip.insert(
                m.spec.ip,
                (m.spec.name.clone(), m.spec.hostname.clone(), true),
            );
            if let Some(l) = readers.remove(&m.spec.ip) {
                self.logs.logs.insert(m.spec.name.clone(), l);
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(t0.elapsed()),
        }
    }

    /// Time spent by all MTA instances so far: loading and starting slapd, starting Postfix,
    /// emptying queues, reloading Postfix.
    pub fn timing(&self) -> [Duration; 4] {
        let mut t = self.retired;
        for m in self.mtas.iter().chain(self.spares.iter().map(|(m, _)| m)) {
            for (a, b) in t.iter_mut().zip(m.timing) {
                *a += b;
            }
        }
        t
    }

    fn instance(&self, name: &str) -> Option<&Instance> {
        self.mtas
            .iter()
            .chain(self.senders.iter())
            .find(|i| i.spec.name == name)
    }

    /// Sends every probe (in parallel, one SMTP session each) and follows it and its DSNs
    /// until every branch has an answer or `timeout` passes.
    pub fn run(&mut self, probes: &[Probe], timeout: Duration) -> Vec<RealResult> {
        let base = self.probes_sent;
        self.probes_sent += probes.len();
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<RealResult>> = Mutex::new(vec![RealResult::default(); probes.len()]);
        let targets: Vec<Option<(String, Ipv4Addr, bool)>> = probes
            .iter()
            .map(|p| {
                let (name, trusted) = match &p.entry {
                    Entry::Internet => (INTERNET.to_string(), false),
                    Entry::Fallback => (FALLBACK.to_string(), false),
                    Entry::Mta(m) => (m.clone(), true),
                };
                self.instance(&name)
                    .map(|i| (name, i.spec.ip, trusted && i.spec.role != Role::Internet))
            })
            .collect();
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(p) = probes.get(i) else { break };
                    let r = match &targets[i] {
                        Some((name, ip, trusted)) => inject(base + i, p, name, *ip, *trusted),
                        None => RealResult {
                            error: Some(format!("no instance for entry {}", p.entry)),
                            complete: true,
                            ..RealResult::default()
                        },
                    };
                    if let Ok(mut v) = results.lock() {
                        v[i] = r;
                    }
                });
            }
        });
        let mut results = results.into_inner().unwrap_or_default();
        let deadline = Instant::now() + timeout;
        loop {
            self.logs.poll();
            let mut pending = 0;
            for r in results.iter_mut() {
                if r.complete {
                    continue;
                }
                let Some((inst, qid)) = r.queued.clone() else {
                    continue;
                };
                let topo = self.logs.by_ip.values().any(|(n, _, t)| *n == inst && *t);
                let via = if topo { vec![inst.clone()] } else { Vec::new() };
                let f = self.logs.follow(&inst, &qid, &via);
                let mut complete = f.complete;
                let dsns: Vec<Option<Followed>> = f
                    .leaves
                    .iter()
                    .map(|l| {
                        l.dsn.as_ref().map(|(di, dq)| {
                            let t = self.logs.by_ip.values().any(|(n, _, t)| n == di && *t);
                            let d = self.logs.follow(
                                di,
                                dq,
                                &if t { vec![di.clone()] } else { Vec::new() },
                            );
                            complete &= d.complete;
                            d
                        })
                    })
                    .collect();
                r.leaves = f.leaves;
                r.dsns = dsns;
                r.complete = complete;
                if !complete {
                    pending += 1;
                }
            }
            if pending == 0 || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        results
    }
}

/// The test client's SMTP session for probe number `n`.
fn inject(n: usize, p: &Probe, name: &str, ip: Ipv4Addr, trusted: bool) -> RealResult {
    let sender = p.sender.clone();
    let mut r = RealResult {
        sender: sender.clone(),
        ..RealResult::default()
    };
    let refused = |reply: &SmtpReply| Observed {
        via: vec![name.to_string()],
        fate: if reply.code >= 500 {
            logs::Fate::Rejected {
                by: name.to_string(),
                dsn: reply.dsn.clone().unwrap_or_default(),
                reply: reply.to_string(),
            }
        } else {
            logs::Fate::Deferred {
                by: name.to_string(),
                dsn: reply.dsn.clone().unwrap_or_default(),
                text: reply.to_string(),
            }
        },
        dsn: None,
        logged_by: name.to_string(),
    };
    let session = || -> Result<Result<String, SmtpReply>, OracleError> {
        let rcpt = &p.rcpt;
        let mut c = Smtp::connect_to(SocketAddr::from((ip, 25)), rcpt)?;
        if trusted {
            c.cmd(&format!("XCLIENT ADDR={ip} NAME=[UNAVAILABLE]"), 220, rcpt)?;
        }
        c.cmd("EHLO client.harness.test", 250, rcpt)?;
        c.cmd(&format!("MAIL FROM:<{sender}>"), 250, rcpt)?;
        let reply = c.request(&format!("RCPT TO:<{rcpt}>"), rcpt)?;
        if !reply.accepted() {
            let _ = c.request("QUIT", rcpt);
            return Ok(Err(reply));
        }
        c.cmd("DATA", 354, rcpt)?;
        let reply = c.request(
            &format!(
                "From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: multi-MTA probe {n}\r\n\
                 Message-ID: <probe-{n}@harness.test>\r\nX-Probe: {n}\r\n\r\nprobe {n}\r\n."
            ),
            rcpt,
        )?;
        let _ = c.request("QUIT", rcpt);
        if !reply.accepted() {
            return Ok(Err(reply));
        }
        Ok(Ok(reply
            .text
            .rsplit_once("queued as ")
            .map(|(_, q)| q.trim().to_string())
            .unwrap_or_default()))
    };
    match session() {
        Ok(Ok(qid)) => r.queued = Some((name.to_string(), qid)),
        Ok(Err(reply)) => {
            r.leaves = vec![refused(&reply)];
            r.dsns = vec![None];
            r.complete = true;
        }
        Err(e) => {
            r.error = Some(e.to_string());
            r.complete = true;
        }
    }
    r
}
