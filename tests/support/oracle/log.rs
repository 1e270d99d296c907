//! Reading decisions back from the Postfix log.

use super::*;

/// One delivery-agent log line for a recipient.
#[derive(Clone, Debug)]
pub(super) struct Delivery {
    transport: String,
    to: String,
    dsn: String,
    reason: String,
}

/// What the log said about the queue ids of one [`Oracle::route`] call.
#[derive(Default)]
pub(super) struct LogState {
    nrcpt: HashMap<String, usize>,
    removed: HashSet<String>,
    deliveries: BTreeMap<String, Vec<Delivery>>,
    warnings: HashMap<String, Vec<String>>,
}

impl LogState {
    pub(super) fn done(&self, qid: &str) -> bool {
        self.removed.contains(qid)
            || self.refused_by_cleanup(qid)
            || self
                .nrcpt
                .get(qid)
                .is_some_and(|n| self.deliveries.get(qid).map_or(0, Vec::len) >= *n)
    }

    /// cleanup refused a message it got from pickup (no SMTP reply carries that refusal): it
    /// logs "... -- message not accepted, try again later" and pickup keeps the maildrop file.
    /// Alias expansion limits are what the SMTP path answers as `4.6.0 Alias expansion error`.
    fn refused_by_cleanup(&self, qid: &str) -> bool {
        self.warnings.get(qid).is_some_and(|w| {
            w.iter().any(|l| {
                l.contains("virtual_alias_maps")
                    && l.contains("message not accepted, try again later")
            })
        })
    }

    pub(super) fn feed(&mut self, line: &str, qids: &HashSet<String>) {
        // "Mon DD HH:MM:SS host program[pid]: QID: rest" or "...[pid]: warning: QID: rest"
        let Some((head, rest)) = line.split_once("]: ") else {
            return;
        };
        let (rest, warning) = match rest.strip_prefix("warning: ") {
            Some(r) => (r, true),
            None => (rest, false),
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
        if warning {
            self.warnings
                .entry(qid.to_string())
                .or_default()
                .push(format!("{program}: warning: {msg}"));
        } else if let Some(n) = msg
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

    pub(super) fn line(&self, addr: &str, r: Option<Submitted>, timeout: Duration) -> OracleLine {
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
                vec![OracleItem::failure(
                    reply.code >= 500,
                    text,
                    dsn,
                    addr.to_string(),
                )]
            }
            Some(Submitted::Queued(qid)) => {
                let mut items: Vec<OracleItem> = self
                    .deliveries
                    .get(&qid)
                    .map(|ds| ds.iter().map(item_of).collect())
                    .unwrap_or_default();
                if items.is_empty() && self.refused_by_cleanup(&qid) {
                    items.push(OracleItem::Defer {
                        text: "cleanup: Alias expansion error".into(),
                        dsn: "4.6.0".into(),
                        final_rcpt: addr.to_string(),
                    });
                } else if !self.done(&qid) {
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

pub(super) fn item_of(d: &Delivery) -> OracleItem {
    let final_rcpt = d.to.clone();
    match d.dsn.as_bytes().first() {
        Some(b'2') => OracleItem::Deliver {
            transport: d.transport.clone(),
            nexthop: d.reason.clone(),
            final_rcpt,
        },
        first => OracleItem::failure(
            first == Some(&b'5'),
            format!("{}: {}", d.transport, d.reason),
            d.dsn.clone(),
            final_rcpt,
        ),
    }
}

/// `to=<X>, [orig_to=<Y>, ]relay=..., dsn=D, status=S (REASON)`
pub(super) fn parse_delivery(program: &str, msg: &str) -> Option<Delivery> {
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
pub(super) fn read_log(
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
