//! Bytes as a generated topology — up to five Zimbra and foreign MTAs over two domains with
//! forwards, distribution lists naming each other, catch-alls, transports, relay hosts, trust,
//! hop limits and MX records — then every simulation and `verify::check`: no panic, every
//! simulation terminates, every failed leaf has its DSN, and the time, the report and the memory
//! stay bounded (libFuzzer's `-rss_limit_mb` and the time assertion below).
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use zimbra_prov::model::Directory;
use zimbra_prov::route::{simulate, Entry, ForeignMta, Mta, Topology, UnknownPolicy};
use zimbra_prov::verify::{check_with, CheckOptions};
use zimbra_prov::zmprov;

const DOMAINS: [&str; 2] = ["a.test", "b.test"];
const LOCALS: [&str; 4] = ["u0", "u1", "list", "fwd"];

/// Reads the input a byte at a time (zeros when it runs out).
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn next(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn pick(&mut self, n: usize) -> usize {
        usize::from(self.next()) % n.max(1)
    }
    fn addr(&mut self) -> String {
        let l = LOCALS[self.pick(LOCALS.len())];
        let d = DOMAINS[self.pick(DOMAINS.len())];
        format!("{l}@{d}")
    }
}

fn host(i: usize) -> String {
    format!("m{i}.test")
}

fn zimbra_script(b: &mut Bytes<'_>, i: usize, n: usize) -> String {
    let mut s = format!("cs {}\n", host(i));
    for d in DOMAINS {
        s.push_str(&format!("cd {d}\n"));
    }
    for _ in 0..b.pick(8) {
        let line = match b.pick(8) {
            0 => format!(
                "ca {} pw zimbraMailTransport smtp:{}",
                b.addr(),
                host(b.pick(n))
            ),
            1 => format!("ca {} pw zimbraMailTransport lmtp:{}:7025", b.addr(), host(i)),
            2 => format!("ca {} pw zimbraMailForwardingAddress {}", b.addr(), b.addr()),
            3 => {
                let (d, e) = (DOMAINS[b.pick(2)], DOMAINS[b.pick(2)]);
                format!("md {d} zimbraMailCatchAllAddress @{d} zimbraMailCatchAllForwardingAddress @{e}")
            }
            4 | 5 => {
                let l = format!("list@{}", DOMAINS[b.pick(2)]);
                format!("cdl {l}\nadlm {l} {} {}", b.addr(), b.addr())
            }
            6 => format!(
                "md {} zimbraMailTransport smtp:{}",
                DOMAINS[b.pick(2)],
                host(b.pick(n))
            ),
            _ => format!("ca {} pw zimbraMailAlias {}", b.addr(), b.addr()),
        };
        s.push_str(&line);
        s.push('\n');
    }
    s
}

fn topology(b: &mut Bytes<'_>) -> Topology {
    let n = 1 + b.pick(5);
    let mut t = Topology::new();
    for i in 0..n {
        let name = format!("m{i}");
        let relay = (b.next() % 3 == 0).then(|| host(b.pick(n)));
        let limit = 2 + u32::from(b.next() % 60);
        let lookups = b.next() % 4 != 0;
        let m = if b.next() % 3 == 0 {
            let mailboxes = (0..b.pick(3)).map(|_| b.addr()).collect();
            let route = (b.next() % 2 == 0).then(|| (b.addr(), host(b.pick(n))));
            Mta::foreign(
                &name,
                &host(i),
                ForeignMta {
                    domains: DOMAINS.iter().map(|d| d.to_string()).collect(),
                    mailboxes,
                    unknown: [
                        UnknownPolicy::Reject,
                        UnknownPolicy::Relay,
                        UnknownPolicy::Bounce,
                    ][b.pick(3)],
                    relayhost: relay,
                    routes: route.into_iter().collect(),
                    dns_lookups: lookups,
                    hopcount_limit: limit,
                    ..ForeignMta::default()
                },
            )
        } else {
            let script = zimbra_script(b, i, n);
            let mut dir = Directory::new();
            // a line may fail (a duplicate account...): keep what works
            for l in script.split('\n') {
                let _ = zmprov::run(&mut dir, l);
            }
            let trusting = b.next() % 2 == 0;
            Mta::zimbra(&name, &host(i), &dir, |p| {
                p.relayhost = relay;
                p.dns_lookups = lookups;
                p.hopcount_limit = limit;
                p.mynetworks = if trusting {
                    vec!["10.0.0.0/8".into()]
                } else {
                    Vec::new()
                };
            })
        };
        let _ = t.add(m);
        let public = b.next() % 5 == 0;
        let a = if public {
            format!("203.0.113.{}", i + 1)
        } else {
            format!("10.0.0.{}", i + 1)
        };
        t.dns.a.insert(host(i), vec![a]);
    }
    for d in DOMAINS {
        let mut mx = vec![(10, host(b.pick(n)))];
        if b.next() % 3 == 0 {
            mx.push((10 * (1 + u16::from(b.next() % 2)), host(b.pick(n))));
        }
        t.dns.mx.insert(d.to_string(), mx);
    }
    t
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let topo = topology(&mut b);
    let start = Instant::now();
    let mut entries = vec![Entry::Internet];
    entries.extend(topo.mtas().iter().map(|m| Entry::Mta(m.name.clone())));
    for e in &entries {
        for rcpt in ["u0@a.test", "list@b.test", "nobody@a.test", "x@elsewhere.test"] {
            let t = simulate(&topo, e, rcpt).expect("entries and recipients are valid");
            let leaves = t.leaves();
            assert!(!leaves.is_empty());
            for l in &leaves {
                assert_eq!(
                    l.disposition.is_failure(),
                    l.dsn.is_some(),
                    "a failed leaf and only a failed leaf has a DSN: {}",
                    t.to_text()
                );
            }
        }
    }
    let r = check_with(&topo, &CheckOptions::threads(1));
    let lines = r.to_text().lines().count();
    // one finding per kind, class and cycle (a set of MTAs) or hairpin hop at most
    let n = topo.mtas().len();
    assert!(
        lines <= 2 + r.classes.len() * (8 + (1 << n) + n * n),
        "{lines} report lines for {} classes",
        r.classes.len()
    );
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "simulations and verification took {:?}",
        start.elapsed()
    );
});
