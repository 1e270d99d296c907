//! A small authoritative DNS server for the test topology: UDP only, answers A and MX queries
//! from a [`Zone`], every other type with an empty answer (NOERROR, no records) for names that
//! exist and NXDOMAIN for reverse lookups. Several *views* (one socket each): a resolver that asks
//! the address of view `i` gets the answers of zone `i`, which is how one Internet sender can see
//! a preferred MX host as unreachable while every other MTA sees it up.
//!
//! Wire format after RFC 1035 §4: header, one question, answers with the name compressed to a
//! pointer at the question (`0xC00C`). Queries with EDNS (an OPT record) get plain answers, which
//! resolvers accept. Names are matched case-insensitively, without the trailing dot.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// Record type A.
pub const TYPE_A: u16 = 1;
/// Record type MX.
pub const TYPE_MX: u16 = 15;

/// The records of one view.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Zone {
    /// MX records: domain → (preference, exchange host).
    pub mx: BTreeMap<String, Vec<(u16, String)>>,
    /// A records: host → addresses.
    pub a: BTreeMap<String, Vec<Ipv4Addr>>,
    /// The address of every other name ("the rest of the Internet"); `None`: NXDOMAIN.
    pub wildcard: Option<Ipv4Addr>,
}

/// One resource record of an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// An address.
    A(Ipv4Addr),
    /// A mail exchanger.
    Mx(u16, String),
}

/// Response code and answer records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// 0 NOERROR, 3 NXDOMAIN, 4 NOTIMP.
    pub rcode: u8,
    /// The records.
    pub records: Vec<Record>,
}

fn norm(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl Zone {
    /// Whether `name` exists (has a record, or the wildcard covers it).
    fn exists(&self, name: &str) -> bool {
        self.wildcard.is_some() || self.mx.contains_key(name) || self.a.contains_key(name)
    }

    /// The answer to `qname`/`qtype`.
    pub fn answer(&self, qname: &str, qtype: u16) -> Answer {
        let name = norm(qname);
        if name.ends_with(".in-addr.arpa") || name.ends_with(".ip6.arpa") || !self.exists(&name) {
            return Answer {
                rcode: 3,
                records: Vec::new(),
            };
        }
        let records = match qtype {
            TYPE_A => match self.a.get(&name) {
                Some(v) => v.iter().map(|a| Record::A(*a)).collect(),
                None if self.mx.contains_key(&name) => Vec::new(),
                None => self.wildcard.map(Record::A).into_iter().collect(),
            },
            TYPE_MX => self
                .mx
                .get(&name)
                .map(|v| v.iter().map(|(p, h)| Record::Mx(*p, h.clone())).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        Answer { rcode: 0, records }
    }
}

/// Why a datagram is not a query we answer.
#[derive(Debug, PartialEq, Eq)]
pub enum WireError {
    /// Shorter than its header or question says.
    Truncated,
    /// A response, or more or fewer than one question.
    NotAQuery,
    /// A compressed or over-long name in the question.
    BadName,
}

/// The question of a query: id, flags, name, type, and where the question ends.
#[derive(Debug, PartialEq, Eq)]
pub struct Question {
    /// Query id.
    pub id: u16,
    /// Header flags of the query.
    pub flags: u16,
    /// The name asked for (as sent, without the trailing dot).
    pub name: String,
    /// The type asked for.
    pub qtype: u16,
    /// Offset just past QTYPE/QCLASS.
    pub end: usize,
}

fn be16(b: &[u8], at: usize) -> Result<u16, WireError> {
    match (b.get(at), b.get(at + 1)) {
        (Some(h), Some(l)) => Ok(u16::from_be_bytes([*h, *l])),
        _ => Err(WireError::Truncated),
    }
}

/// Parses the header and the single question of a query.
pub fn parse_query(b: &[u8]) -> Result<Question, WireError> {
    let id = be16(b, 0)?;
    let flags = be16(b, 2)?;
    if flags & 0x8000 != 0 || be16(b, 4)? != 1 {
        return Err(WireError::NotAQuery);
    }
    let mut at = 12;
    let mut labels: Vec<String> = Vec::new();
    loop {
        let len = *b.get(at).ok_or(WireError::Truncated)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return Err(WireError::BadName);
        }
        let label = b.get(at..at + len).ok_or(WireError::Truncated)?;
        labels.push(String::from_utf8_lossy(label).into_owned());
        at += len;
        if at > 12 + 255 {
            return Err(WireError::BadName);
        }
    }
    let qtype = be16(b, at)?;
    be16(b, at + 2)?;
    Ok(Question {
        id,
        flags,
        name: labels.join("."),
        qtype,
        end: at + 4,
    })
}

fn push_name(out: &mut Vec<u8>, name: &str) {
    for label in norm(name).split('.').filter(|l| !l.is_empty()) {
        let l = &label.as_bytes()[..label.len().min(63)];
        out.push(l.len() as u8);
        out.extend_from_slice(l);
    }
    out.push(0);
}

/// The response datagram to `query` (whose question is `q`) with `answer`.
pub fn response(query: &[u8], q: &Question, answer: &Answer) -> Vec<u8> {
    let mut out = Vec::with_capacity(q.end + 64);
    out.extend_from_slice(&q.id.to_be_bytes());
    // QR, opcode copied, AA, RD copied, RA, rcode
    let flags = 0x8000 | (q.flags & 0x7800) | 0x0400 | (q.flags & 0x0100) | 0x0080;
    out.extend_from_slice(&(flags | u16::from(answer.rcode)).to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(answer.records.len() as u16).to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&query[12..q.end]);
    for r in &answer.records {
        out.extend_from_slice(&0xC00Cu16.to_be_bytes());
        let (t, rdata) = match r {
            Record::A(a) => (TYPE_A, a.octets().to_vec()),
            Record::Mx(p, h) => {
                let mut d = p.to_be_bytes().to_vec();
                push_name(&mut d, h);
                (TYPE_MX, d)
            }
        };
        out.extend_from_slice(&t.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes()); // IN
        out.extend_from_slice(&60u32.to_be_bytes()); // TTL
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&rdata);
    }
    out
}

/// A running server: one UDP socket per view on port 53, a thread each; stopped on drop.
pub struct DnsServer {
    zones: Arc<RwLock<Vec<Zone>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl DnsServer {
    /// Serves view `i` on `views[i]`:53.
    pub fn start(views: &[Ipv4Addr]) -> std::io::Result<DnsServer> {
        let zones = Arc::new(RwLock::new(vec![Zone::default(); views.len()]));
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for (i, ip) in views.iter().enumerate() {
            let sock = UdpSocket::bind(SocketAddr::from((*ip, 53)))?;
            sock.set_read_timeout(Some(Duration::from_millis(200)))?;
            let zones = Arc::clone(&zones);
            let stop = Arc::clone(&stop);
            threads.push(std::thread::spawn(move || serve(&sock, i, &zones, &stop)));
        }
        Ok(DnsServer {
            zones,
            stop,
            threads,
        })
    }

    /// Replaces the zones (one per view).
    pub fn set_zones(&self, zones: Vec<Zone>) {
        if let Ok(mut z) = self.zones.write() {
            *z = zones;
        }
    }
}

fn serve(sock: &UdpSocket, view: usize, zones: &RwLock<Vec<Zone>>, stop: &AtomicBool) {
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, peer)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let query = &buf[..n];
        let Ok(q) = parse_query(query) else {
            continue;
        };
        let answer = if q.flags & 0x7800 != 0 {
            Answer {
                rcode: 4,
                records: Vec::new(),
            }
        } else {
            match zones.read() {
                Ok(z) => z
                    .get(view)
                    .map(|z| z.answer(&q.name, q.qtype))
                    .unwrap_or(Answer {
                        rcode: 3,
                        records: Vec::new(),
                    }),
                Err(_) => continue,
            }
        };
        let _ = sock.send_to(&response(query, &q, &answer), peer);
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        push_name(&mut q, name);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&1u16.to_be_bytes());
        q
    }

    fn zone() -> Zone {
        let mut z = Zone::default();
        z.mx.insert(
            "example.org".into(),
            vec![
                (10, "mx.example.org".into()),
                (20, "backup.example.org".into()),
            ],
        );
        z.a.insert("mx.example.org".into(), vec![Ipv4Addr::new(127, 0, 0, 10)]);
        z
    }

    #[test]
    fn answers_a_mx_and_missing_names() {
        let mut z = zone();
        assert_eq!(
            z.answer("MX.Example.ORG.", TYPE_A).records,
            [Record::A(Ipv4Addr::new(127, 0, 0, 10))]
        );
        assert_eq!(z.answer("example.org", TYPE_MX).records.len(), 2);
        // a domain with MX records only has no address
        assert_eq!(
            z.answer("example.org", TYPE_A),
            Answer {
                rcode: 0,
                records: vec![]
            }
        );
        assert_eq!(z.answer("nowhere.test", TYPE_A).rcode, 3);
        z.wildcard = Some(Ipv4Addr::new(127, 0, 0, 250));
        assert_eq!(
            z.answer("nowhere.test", TYPE_A).records,
            [Record::A(Ipv4Addr::new(127, 0, 0, 250))]
        );
        assert_eq!(
            z.answer("nowhere.test", TYPE_MX),
            Answer {
                rcode: 0,
                records: vec![]
            }
        );
        assert_eq!(z.answer("1.0.0.127.in-addr.arpa", 12).rcode, 3);
        assert_eq!(
            z.answer("nowhere.test", 28),
            Answer {
                rcode: 0,
                records: vec![]
            }
        );
    }

    #[test]
    fn wire_round_trip() {
        let q = query("example.org", TYPE_MX);
        let parsed = parse_query(&q).unwrap();
        assert_eq!(
            (parsed.id, parsed.name.as_str(), parsed.qtype),
            (0x1234, "example.org", TYPE_MX)
        );
        let r = response(&q, &parsed, &zone().answer("example.org", TYPE_MX));
        // id, QR|AA|RD|RA, 1 question, 2 answers
        assert_eq!(&r[..8], &[0x12, 0x34, 0x85, 0x80, 0, 1, 0, 2]);
        // first answer: pointer to the question, MX, IN, TTL 60, rdata = 10 + "mx.example.org"
        let a = q.len();
        assert_eq!(&r[a..a + 10], &[0xC0, 0x0C, 0, 15, 0, 1, 0, 0, 0, 60]);
        let rdlen = u16::from_be_bytes([r[a + 10], r[a + 11]]) as usize;
        assert_eq!(rdlen, 2 + 16);
        assert_eq!(&r[a + 12..a + 14], &[0, 10]);
        assert_eq!(&r[a + 14..a + 17], b"\x02mx");
        assert_eq!(parse_query(&r), Err(WireError::NotAQuery));
        assert_eq!(parse_query(&q[..q.len() - 3]), Err(WireError::Truncated));
    }

    #[test]
    fn serves_views_over_udp() {
        let ip = Ipv4Addr::new(127, 0, 0, 1);
        // port 53 needs privileges and may be taken outside the test namespace: use the
        // serving loop on an ephemeral port instead
        let sock = UdpSocket::bind((ip, 0)).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        let zones = Arc::new(RwLock::new(vec![zone()]));
        let stop = Arc::new(AtomicBool::new(false));
        let (z2, s2) = (Arc::clone(&zones), Arc::clone(&stop));
        let t = std::thread::spawn(move || serve(&sock, 0, &z2, &s2));
        let client = UdpSocket::bind((ip, 0)).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        client
            .send_to(&query("mx.example.org", TYPE_A), addr)
            .unwrap();
        let mut buf = [0u8; 512];
        let n = client.recv(&mut buf).unwrap();
        assert_eq!(&buf[n - 4..n], &[127, 0, 0, 10]);
        stop.store(true, Ordering::Relaxed);
        t.join().unwrap();
    }
}
