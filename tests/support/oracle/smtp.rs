//! Submitting messages and probing RCPT over SMTP on loopback.

use super::*;

/// What happened to one address at submission.
#[derive(Clone, Debug)]
pub(super) enum Submitted {
    /// Accepted; the queue id.
    Queued(String),
    /// Refused by smtpd at RCPT (recipient) or at the end of DATA (cleanup).
    Refused {
        stage: &'static str,
        reply: SmtpReply,
    },
}

pub(super) fn submit_worker(
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

pub(super) fn submit_one(c: &mut Smtp, addr: &str) -> Result<Submitted, OracleError> {
    c.cmd("MAIL FROM:<> SMTPUTF8", 250, addr)?;
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
    pub(super) fn connect(port: u16, addr: &str) -> Result<Smtp, OracleError> {
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
