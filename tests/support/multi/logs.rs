//! Reading the instances' maillogs and following one message across them.
//!
//! Each Postfix instance logs to its own `maillog` (postlogd). Lines are indexed by queue id
//! (long queue ids: never reused): the delivery lines (`to=<..>, relay=.., dsn=.., status=..
//! (..)`), `removed`, `nrcpt=`, and the bounce daemon's `sender non-delivery notification: ID`.
//! A message is followed from the instance that accepted it: a delivery `status=sent (250 ...
//! queued as ID)` to another instance's address continues there with that queue id (timestamps
//! have one-second resolution and are never used); to the sink it has left the topology; a
//! `bounced` line with `host H[ip] said: ...` is a refusal by the MTA at that address
//! (`too many hops` for the hop limit), written up by the instance that tried; other bounces are
//! decided by the instance itself. The DSN an instance writes is followed the same way.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// One delivery-agent line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The logging program (`postfix/smtp`, `postfix/lmtp-sink/discard`, ...).
    pub program: String,
    /// Final recipient.
    pub to: String,
    /// Original recipient, when logged.
    pub orig_to: Option<String>,
    /// `relay=` value: `none` or `host[ip]:port`.
    pub relay: String,
    /// Enhanced status code.
    pub dsn: String,
    /// `sent`, `bounced`, `deferred`, ...
    pub status: String,
    /// The text in parentheses.
    pub reason: String,
}

/// What the log says about one queue file.
#[derive(Clone, Debug, Default)]
pub struct QueueFile {
    /// Delivery lines, first per (to, orig_to).
    pub deliveries: Vec<Delivery>,
    /// The DSN the bounce daemon wrote for it.
    pub dsn: Option<String>,
    /// qmgr removed it.
    pub removed: bool,
    /// Recipients qmgr saw.
    pub nrcpt: Option<usize>,
}

impl QueueFile {
    /// Every recipient has an answer.
    pub fn done(&self) -> bool {
        self.removed
            || self
                .nrcpt
                .is_some_and(|n| n > 0 && self.deliveries.len() >= n)
    }
}

/// `to=<X>, [orig_to=<Y>, ]relay=R, ..., dsn=D, status=S (REASON)`.
pub fn parse_delivery(program: &str, msg: &str) -> Option<Delivery> {
    let rest = msg.strip_prefix("to=<")?;
    let (addrs, after) = rest.split_once(", relay=")?;
    let (to, orig_to) = match addrs.split_once(">, orig_to=<") {
        Some((to, o)) => (to, Some(o.strip_suffix('>')?.to_string())),
        None => (addrs.strip_suffix('>')?, None),
    };
    let (relay, after) = after.split_once(", ")?;
    let (_, after) = after.split_once(", dsn=")?;
    let (dsn, after) = after.split_once(", status=")?;
    let (status, reason) = after.split_once(" (")?;
    Some(Delivery {
        program: program.to_string(),
        to: to.to_string(),
        orig_to,
        relay: relay.to_string(),
        dsn: dsn.to_string(),
        status: status.to_string(),
        reason: reason.strip_suffix(')')?.to_string(),
    })
}

/// The log of one instance, read incrementally.
#[derive(Debug, Default)]
pub struct InstanceLog {
    path: PathBuf,
    pos: u64,
    partial: Vec<u8>,
    /// Queue files by id.
    pub queue: HashMap<String, QueueFile>,
    /// `warning:`/`fatal:`/`panic:` lines.
    pub warnings: Vec<String>,
}

impl InstanceLog {
    /// A reader of `path` (which may not exist yet).
    pub fn new(path: PathBuf) -> InstanceLog {
        InstanceLog {
            path,
            ..InstanceLog::default()
        }
    }

    /// Reads what was appended since the last call.
    pub fn poll(&mut self) {
        let Ok(mut f) = fs::File::open(&self.path) else {
            return;
        };
        if f.seek(SeekFrom::Start(self.pos)).is_err() {
            return;
        }
        let mut chunk = Vec::new();
        if f.read_to_end(&mut chunk).is_err() {
            return;
        }
        self.pos += chunk.len() as u64;
        self.partial.extend_from_slice(&chunk);
        while let Some(nl) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=nl).collect();
            let text = String::from_utf8_lossy(&line);
            self.feed(text.trim_end_matches('\n'));
        }
    }

    /// One log line: `Mon DD HH:MM:SS host program[pid]: QID: message`.
    pub fn feed(&mut self, line: &str) {
        let Some((head, rest)) = line.split_once("]: ") else {
            return;
        };
        let program = head
            .rsplit_once('[')
            .map_or(head, |(p, _)| p)
            .rsplit(' ')
            .next()
            .unwrap_or("")
            .to_string();
        if rest.starts_with("warning: ")
            || rest.starts_with("fatal: ")
            || rest.starts_with("panic: ")
        {
            self.warnings.push(format!("{program}: {rest}"));
            return;
        }
        let Some((qid, msg)) = rest.split_once(": ") else {
            return;
        };
        if qid == "NOQUEUE" || qid.len() < 6 || !qid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return;
        }
        let q = self.queue.entry(qid.to_string()).or_default();
        if msg == "removed" {
            q.removed = true;
        } else if let Some(n) = msg
            .strip_prefix("from=<")
            .and_then(|m| m.split_once(", nrcpt="))
            .and_then(|(_, n)| n.split(' ').next())
            .and_then(|n| n.parse::<usize>().ok())
        {
            q.nrcpt = Some(n);
        } else if let Some(d) = msg.strip_prefix("sender non-delivery notification: ") {
            q.dsn = Some(d.trim().to_string());
        } else if let Some(d) = parse_delivery(&program, msg) {
            if !q
                .deliveries
                .iter()
                .any(|x| x.to.eq_ignore_ascii_case(&d.to) && x.orig_to == d.orig_to)
            {
                q.deliveries.push(d);
            }
        }
    }
}

/// How one branch of a real message ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Stored in a mailbox (LMTP to `host`, or a foreign MTA's or local mailbox).
    Delivered {
        /// The mailbox host.
        host: String,
        /// The final recipient.
        mailbox: String,
    },
    /// Handed to the sink (outside the topology), to `host`.
    Left {
        /// The host name the last MTA connected to.
        host: String,
    },
    /// Refused at SMTP time by `by` (RCPT or DATA).
    Rejected {
        /// The refusing MTA.
        by: String,
        /// Enhanced status code.
        dsn: String,
        /// The reply.
        reply: String,
    },
    /// Refused for too many hops by `by` at hop `hops`.
    HopLimit {
        /// The refusing MTA.
        by: String,
        /// Received headers at the refusal (= MTAs on the path, the refusing one included).
        hops: usize,
    },
    /// Accepted, then bounced by `by`.
    Bounced {
        /// The MTA whose delivery agent gave up.
        by: String,
        /// Enhanced status code.
        dsn: String,
        /// The reason.
        text: String,
    },
    /// Left in a queue.
    Deferred {
        /// The MTA that answered with a temporary error (or holds the message).
        by: String,
        /// Enhanced status code.
        dsn: String,
        /// The reason.
        text: String,
    },
}

/// One observed leaf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    /// The topology MTAs the branch went through (outside senders not counted).
    pub via: Vec<String>,
    /// How it ended.
    pub fate: Fate,
    /// Who wrote the DSN (instance name) and its queue id there, for undelivered branches
    /// that an MTA accepted first.
    pub dsn: Option<(String, String)>,
    /// The instance whose log line ended the branch (for a refusal: the one that tried).
    pub logged_by: String,
}

/// A followed message: its leaves and whether every branch has an answer.
#[derive(Clone, Debug, Default)]
pub struct Followed {
    /// The leaves.
    pub leaves: Vec<Observed>,
    /// Every branch has a final line.
    pub complete: bool,
}

/// Every instance's log, and how addresses map to instances.
#[derive(Debug, Default)]
pub struct Logs {
    /// Logs by instance name.
    pub logs: BTreeMap<String, InstanceLog>,
    /// Instance address → (name, host name, part of the topology).
    pub by_ip: BTreeMap<Ipv4Addr, (String, String, bool)>,
    /// The sink's address.
    pub sink: Option<Ipv4Addr>,
}

fn relay_host_ip(relay: &str) -> Option<(String, Ipv4Addr)> {
    let (host, rest) = relay.split_once('[')?;
    let ip = rest.split(']').next()?.parse().ok()?;
    Some((host.to_ascii_lowercase(), ip))
}

/// `host H[ip] said: REPLY (in reply to X command)` → (REPLY, X).
fn said(reason: &str) -> Option<(String, String)> {
    let (_, r) = reason.split_once(" said: ")?;
    match r.rsplit_once(" (in reply to ") {
        Some((reply, cmd)) => Some((
            reply.to_string(),
            cmd.trim_end_matches(')')
                .trim_end_matches(" command")
                .to_string(),
        )),
        None => Some((r.to_string(), String::new())),
    }
}

impl Logs {
    /// Reads every log.
    pub fn poll(&mut self) {
        for l in self.logs.values_mut() {
            l.poll();
        }
    }

    /// Name and host name of the instance at `ip`, and whether it is part of the topology.
    fn at(&self, ip: Ipv4Addr) -> Option<&(String, String, bool)> {
        self.by_ip.get(&ip)
    }

    fn hostname_of(&self, name: &str) -> String {
        self.by_ip
            .values()
            .find(|(n, _, _)| n == name)
            .map(|(_, h, _)| h.clone())
            .unwrap_or_default()
    }

    fn in_topology(&self, name: &str) -> bool {
        self.by_ip.values().any(|(n, _, t)| n == name && *t)
    }

    /// Follows queue file `qid` of instance `inst`, which `via` reached (`via` ends with
    /// `inst` when it is part of the topology).
    pub fn follow(&self, inst: &str, qid: &str, via: &[String]) -> Followed {
        let mut seen = BTreeSet::new();
        let mut out = Followed {
            leaves: Vec::new(),
            complete: true,
        };
        self.walk(inst, qid, via, &mut seen, &mut out);
        out
    }

    fn walk(
        &self,
        inst: &str,
        qid: &str,
        via: &[String],
        seen: &mut BTreeSet<(String, String)>,
        out: &mut Followed,
    ) {
        if !seen.insert((inst.to_string(), qid.to_string())) || seen.len() > 10_000 {
            return;
        }
        let Some(q) = self.logs.get(inst).and_then(|l| l.queue.get(qid)) else {
            out.complete = false;
            return;
        };
        if !q.done() {
            out.complete = false;
        }
        let dsn = q.dsn.as_ref().map(|d| (inst.to_string(), d.clone()));
        for d in &q.deliveries {
            let mut leaf = |fate: Fate, via: Vec<String>, dsn: Option<(String, String)>| {
                out.leaves.push(Observed {
                    via,
                    fate,
                    dsn,
                    logged_by: inst.to_string(),
                })
            };
            let peer = relay_host_ip(&d.relay);
            // "host H[ip] said: REPLY": the next MTA refused; it decided, one hop further
            let refusal = said(&d.reason)
                .zip(peer.as_ref().and_then(|(_, ip)| self.at(*ip)))
                .map(|((reply, _), (by, _, _))| {
                    let mut v = via.to_vec();
                    if self.in_topology(by) {
                        v.push(by.clone());
                    }
                    (by.clone(), reply, v)
                });
            match d.status.as_str() {
                "sent" => {
                    let prog = d.program.as_str();
                    // LMTP: delivered at the next hop; other sinks: a mailbox of this MTA
                    let stored = if prog.contains("/lmtp-sink") {
                        let host = d.reason.split(':').next().unwrap_or("");
                        Some((host.to_ascii_lowercase(), d.to.clone()))
                    } else if prog.contains("-sink/") || prog.ends_with("/discard") {
                        let host = self.hostname_of(inst).to_ascii_lowercase();
                        let discarded = !prog.contains("-sink/");
                        Some((
                            host,
                            if discarded {
                                "(discarded)".into()
                            } else {
                                d.to.clone()
                            },
                        ))
                    } else {
                        None
                    };
                    if let Some((host, mailbox)) = stored {
                        leaf(Fate::Delivered { host, mailbox }, via.to_vec(), None);
                    } else if let Some((host, ip)) = peer {
                        if Some(ip) == self.sink {
                            leaf(Fate::Left { host }, via.to_vec(), None);
                        } else if let Some((next, _, topo)) = self.at(ip) {
                            let Some(q2) =
                                d.reason.rsplit_once("queued as ").map(|(_, q)| q.trim())
                            else {
                                out.complete = false;
                                continue;
                            };
                            let mut v = via.to_vec();
                            if *topo {
                                v.push(next.clone());
                            }
                            self.walk(next, q2, &v, seen, out);
                        } else {
                            leaf(Fate::Left { host }, via.to_vec(), None);
                        }
                    } else {
                        out.complete = false;
                    }
                }
                "bounced" => {
                    match refusal {
                        Some((by, reply, v)) if reply.contains("too many hops") => {
                            let hops = v.len();
                            leaf(Fate::HopLimit { by, hops }, v, dsn.clone());
                        }
                        Some((by, reply, v)) => {
                            let dsn_code = d.dsn.clone();
                            let fate = Fate::Rejected {
                                by,
                                dsn: dsn_code,
                                reply,
                            };
                            leaf(fate, v, dsn.clone());
                        }
                        None => {
                            let fate = Fate::Bounced {
                                by: inst.to_string(),
                                dsn: d.dsn.clone(),
                                text: d.reason.clone(),
                            };
                            leaf(fate, via.to_vec(), dsn.clone());
                        }
                    }
                    if dsn.is_none() && !q.removed {
                        out.complete = false;
                    }
                }
                "deferred" => {
                    let (by, v) = match refusal {
                        Some((by, _, v)) => (by, v),
                        None => (inst.to_string(), via.to_vec()),
                    };
                    let fate = Fate::Deferred {
                        by,
                        dsn: d.dsn.clone(),
                        text: d.reason.clone(),
                    };
                    leaf(fate, v, None);
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG_A: &str = "\
Nov 30 10:00:00 a.test postfix/qmgr[10]: AAAAAAA1: from=<p@s.example>, size=300, nrcpt=2 (queue active)
Nov 30 10:00:00 a.test postfix/lmtp-sink/discard[11]: AAAAAAA1: to=<u0@example.com>, orig_to=<alias0@example.com>, relay=none, delay=0.1, delays=0/0/0/0, dsn=2.0.0, status=sent (primary.example.com:7025)
Nov 30 10:00:00 a.test postfix/smtp[12]: AAAAAAA1: to=<u1@example.com>, relay=b.test[127.0.0.11]:25, delay=0.1, delays=0/0/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as BBBBBBB1)
Nov 30 10:00:00 a.test postfix/qmgr[10]: AAAAAAA1: removed
Nov 30 10:00:01 a.test postfix/smtp[12]: AAAAAAA2: to=<x@example.com>, relay=b.test[127.0.0.11]:25, delay=0.1, delays=0/0/0/0, dsn=5.1.1, status=bounced (host b.test[127.0.0.11] said: 550 5.1.1 <x@example.com>: Recipient address rejected: User unknown (in reply to RCPT TO command))
Nov 30 10:00:01 a.test postfix/bounce[13]: AAAAAAA2: sender non-delivery notification: AAAAAAA3
Nov 30 10:00:01 a.test postfix/qmgr[10]: AAAAAAA2: removed
Nov 30 10:00:01 a.test postfix/smtp[12]: AAAAAAA3: to=<p@s.example>, relay=s.example[127.0.0.250]:25, delay=0.1, delays=0/0/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as S1)
Nov 30 10:00:01 a.test postfix/qmgr[10]: AAAAAAA3: removed
Nov 30 10:00:02 a.test postfix/smtp[12]: AAAAAAA4: to=<l@example.org>, relay=b.test[127.0.0.11]:25, delay=1, delays=0/0/0/1, dsn=5.4.0, status=bounced (host b.test[127.0.0.11] said: 554 5.4.0 Error: too many hops (in reply to end of DATA command))
Nov 30 10:00:02 a.test postfix/smtp[12]: AAAAAAA5: to=<n@a.test>, relay=none, delay=0, delays=0/0/0/0, dsn=5.4.6, status=bounced (mail for a.test loops back to myself)
Nov 30 10:00:02 a.test postfix/smtp[12]: AAAAAAA6: to=<d@example.org>, relay=b.test[127.0.0.11]:25, delay=1, delays=0/0/0/1, dsn=4.6.0, status=deferred (host b.test[127.0.0.11] said: 451 4.6.0 Alias expansion error (in reply to end of DATA command))
Nov 30 10:00:01 a.test postfix/smtpd[14]: NOQUEUE: reject: RCPT from x[127.0.0.1]: 554 5.7.1 no
Nov 30 10:00:01 a.test postfix/smtpd[14]: warning: something odd
";
    const LOG_B: &str = "\
Nov 30 10:00:00 b.test postfix/qmgr[20]: BBBBBBB1: from=<p@s.example>, size=300, nrcpt=1 (queue active)
Nov 30 10:00:00 b.test postfix/mailbox-sink/discard[21]: BBBBBBB1: to=<u1@example.com>, relay=none, delay=0.1, delays=0/0/0/0, dsn=2.0.0, status=sent (delivered)
";

    fn logs() -> Logs {
        let mut logs = Logs::default();
        for (name, host, ip, text) in [("a", "a.test", 10, LOG_A), ("b", "b.test", 11, LOG_B)] {
            let mut l = InstanceLog::default();
            for line in text.lines() {
                l.feed(line);
            }
            logs.logs.insert(name.into(), l);
            logs.by_ip.insert(
                Ipv4Addr::new(127, 0, 0, ip),
                (name.into(), host.into(), true),
            );
        }
        logs.sink = Some(Ipv4Addr::new(127, 0, 0, 250));
        logs
    }

    #[test]
    fn parses_delivery_lines() {
        let d = parse_delivery(
            "postfix/error",
            "to=<n@example.org>, relay=none, delay=0.01, delays=0/0/0/0, dsn=5.0.0, status=bounced (example.org)",
        )
        .unwrap();
        assert_eq!(
            (d.to.as_str(), d.relay.as_str(), d.dsn.as_str()),
            ("n@example.org", "none", "5.0.0")
        );
        assert_eq!(
            (d.status.as_str(), d.reason.as_str()),
            ("bounced", "example.org")
        );
        assert!(parse_delivery("x", "from=<a>").is_none());
    }

    #[test]
    fn follows_across_instances() {
        let logs = logs();
        assert_eq!(logs.logs["a"].warnings.len(), 1);
        let f = logs.follow("a", "AAAAAAA1", &["a".to_string()]);
        assert!(f.complete);
        assert_eq!(
            f.leaves
                .iter()
                .map(|l| (l.via.join(">"), l.fate.clone()))
                .collect::<Vec<_>>(),
            [
                (
                    "a".to_string(),
                    Fate::Delivered {
                        host: "primary.example.com".into(),
                        mailbox: "u0@example.com".into()
                    }
                ),
                (
                    "a>b".to_string(),
                    Fate::Delivered {
                        host: "b.test".into(),
                        mailbox: "u1@example.com".into()
                    }
                ),
            ]
        );
        let f = logs.follow("a", "AAAAAAA2", &["a".to_string()]);
        assert!(f.complete);
        assert_eq!(f.leaves.len(), 1);
        assert_eq!(f.leaves[0].via, ["a", "b"]);
        assert!(
            matches!(&f.leaves[0].fate, Fate::Rejected { by, dsn, .. } if by == "b" && dsn == "5.1.1")
        );
        assert_eq!(f.leaves[0].dsn, Some(("a".into(), "AAAAAAA3".into())));
        let d = logs.follow("a", "AAAAAAA3", &["a".to_string()]);
        assert_eq!(
            d.leaves[0].fate,
            Fate::Left {
                host: "s.example".into()
            }
        );
        // the hop limit at the next MTA; a bounce decided here; a temporary refusal
        let one = |q: &str| logs.follow("a", q, &["a".to_string()]).leaves.remove(0);
        let l = one("AAAAAAA4");
        assert_eq!(
            (l.fate, l.via),
            (
                Fate::HopLimit {
                    by: "b".into(),
                    hops: 2
                },
                vec!["a".to_string(), "b".into()]
            )
        );
        let l = one("AAAAAAA5");
        assert!(matches!(&l.fate, Fate::Bounced { by, dsn, .. } if by == "a" && dsn == "5.4.6"));
        let l = one("AAAAAAA6");
        assert!(matches!(&l.fate, Fate::Deferred { by, dsn, .. } if by == "b" && dsn == "4.6.0"));
        // an outside sender's MTA is not on the path
        let mut logs = logs;
        if let Some(e) = logs.by_ip.get_mut(&Ipv4Addr::new(127, 0, 0, 10)) {
            e.2 = false;
        }
        assert_eq!(logs.follow("a", "AAAAAAA1", &[]).leaves[1].via, ["b"]);
        // a queue id nobody logged yet is incomplete
        assert!(!logs.follow("b", "BBBBBBB9", &[]).complete);
    }
}
