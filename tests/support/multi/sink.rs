//! "The rest of the Internet": an SMTP server that accepts every envelope and records it. Mail
//! that leaves the topology and delivery status notifications sent to outside senders end here.
//! Each accepted message gets the queue id `S<n>` in its `250 ... queued as` reply, so the
//! sending Postfix's log line names the record.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One message the sink accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkMessage {
    /// `S<n>`.
    pub id: String,
    /// The client address.
    pub peer: String,
    /// Envelope sender (empty for a DSN).
    pub from: String,
    /// Envelope recipients.
    pub rcpts: Vec<String>,
    /// The `X-Probe:` header values found anywhere in the message (a DSN quotes the original's).
    pub probes: Vec<String>,
}

/// A running sink on `addr`:25; stopped on drop.
pub struct Sink {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    messages: Arc<Mutex<Vec<SinkMessage>>>,
    thread: Option<JoinHandle<()>>,
}

impl Sink {
    /// Listens on `ip`:`port`.
    pub fn start(ip: Ipv4Addr, port: u16) -> std::io::Result<Sink> {
        let listener = TcpListener::bind((ip, port))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let messages = Arc::new(Mutex::new(Vec::new()));
        let seq = Arc::new(AtomicUsize::new(0));
        let (s, m) = (Arc::clone(&stop), Arc::clone(&messages));
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (m, seq) = (Arc::clone(&m), Arc::clone(&seq));
                std::thread::spawn(move || {
                    let _ = session(conn, &m, &seq);
                });
            }
        });
        Ok(Sink {
            addr,
            stop,
            messages,
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A copy of everything received so far.
    pub fn messages(&self) -> Vec<SinkMessage> {
        self.messages.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

fn angle(arg: &str) -> String {
    match (arg.find('<'), arg.rfind('>')) {
        (Some(a), Some(b)) if a < b => arg[a + 1..b].to_string(),
        _ => arg.trim().to_string(),
    }
}

fn session(
    conn: TcpStream,
    store: &Mutex<Vec<SinkMessage>>,
    seq: &AtomicUsize,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(120)))?;
    let peer = conn
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let mut w = conn.try_clone()?;
    let mut r = BufReader::new(conn);
    let say = |w: &mut TcpStream, s: &str| w.write_all(format!("{s}\r\n").as_bytes());
    say(&mut w, "220 sink.invalid ESMTP the rest of the Internet")?;
    let (mut from, mut rcpts) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end_matches(['\r', '\n']);
        let verb = cmd.get(..4).unwrap_or(cmd).to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => say(
                &mut w,
                "250-sink.invalid\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 DSN",
            )?,
            "HELO" => say(&mut w, "250 sink.invalid")?,
            "MAIL" => {
                from = angle(&cmd[4..]);
                rcpts.clear();
                say(&mut w, "250 2.1.0 Ok")?;
            }
            "RCPT" => {
                rcpts.push(angle(&cmd[4..]));
                say(&mut w, "250 2.1.5 Ok")?;
            }
            "DATA" => {
                say(&mut w, "354 End data with <CR><LF>.<CR><LF>")?;
                let mut probes = Vec::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    let l = line.trim_end_matches(['\r', '\n']);
                    if l == "." {
                        break;
                    }
                    if l.len() > 8 && l[..8].eq_ignore_ascii_case("x-probe:") {
                        probes.push(l[8..].trim().to_string());
                    }
                }
                let id = format!("S{}", seq.fetch_add(1, Ordering::Relaxed) + 1);
                if let Ok(mut s) = store.lock() {
                    s.push(SinkMessage {
                        id: id.clone(),
                        peer: peer.clone(),
                        from: std::mem::take(&mut from),
                        rcpts: std::mem::take(&mut rcpts),
                        probes,
                    });
                }
                say(&mut w, &format!("250 2.0.0 Ok: queued as {id}"))?;
            }
            "RSET" => {
                from.clear();
                rcpts.clear();
                say(&mut w, "250 2.0.0 Ok")?;
            }
            "QUIT" => {
                say(&mut w, "221 2.0.0 Bye")?;
                return Ok(());
            }
            _ => say(&mut w, "250 2.0.0 Ok")?,
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_envelopes_and_probe_headers() {
        let sink = Sink::start(Ipv4Addr::LOCALHOST, 0).unwrap();
        let s = TcpStream::connect(sink.addr()).unwrap();
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        let mut got = String::new();
        let line = |r: &mut BufReader<TcpStream>| {
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
            l
        };
        got.push_str(&line(&mut r));
        for c in [
            "EHLO x.test",
            "MAIL FROM:<>",
            "RCPT TO:<a@b.test> NOTIFY=NEVER",
            "DATA",
        ] {
            w.write_all(format!("{c}\r\n").as_bytes()).unwrap();
            loop {
                let l = line(&mut r);
                let more = l.as_bytes().get(3) == Some(&b'-');
                got.push_str(&l);
                if !more {
                    break;
                }
            }
        }
        w.write_all(b"Subject: x\r\nX-Probe: 7\r\n\r\n--b\r\nX-Probe: 9\r\n.\r\nQUIT\r\n")
            .unwrap();
        got.push_str(&line(&mut r));
        assert!(got.contains("queued as S1"), "{got}");
        let m = sink.messages();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].from, "");
        assert_eq!(m[0].rcpts, ["a@b.test"]);
        assert_eq!(m[0].probes, ["7", "9"]);
    }
}
