//! Walk the seed runbook's "Split-Domain Example 1 - Zimbra Primary & Exchange Secondary" step
//! by step and show, for a handful of recipients, where mail goes at each step.
//!
//! ```text
//! cargo run --example split_domain
//! ```

use zimbra_prov::model::Directory;
use zimbra_prov::route::{simulate, Entry, ForeignMta, Mta, Topology, UnknownPolicy};
use zimbra_prov::zmprov;

const DOMAIN: &str = "yyy.state.xx.us";
const PRIMARY: &str = "primary.yyy.state.xx.us";
const SECONDARY: &str = "secondary.yyy.state.xx.us";

/// The state the runbook changes: the Zimbra directory, the Exchange server, the MX record.
struct World {
    zcs: Directory,
    exchange: ForeignMta,
    mx: String,
}

impl World {
    fn topology(&self) -> Topology {
        let mut t = Topology::new();
        let zimbra = Mta::zimbra("primary", PRIMARY, &self.zcs, |p| {
            // the primary trusts the internal network the secondary lives in
            p.mynetworks = vec!["127.0.0.0/8".into(), "10.0.0.0/24".into()];
        });
        let exchange = Mta::foreign("exchange", SECONDARY, self.exchange.clone());
        for m in [zimbra, exchange] {
            if let Err(e) = t.add(m) {
                eprintln!("{e}");
            }
        }
        t.dns.mx.insert(DOMAIN.into(), vec![(10, self.mx.clone())]);
        t.dns.a.insert(PRIMARY.into(), vec!["10.0.0.1".into()]);
        t.dns.a.insert(SECONDARY.into(), vec!["10.0.0.2".into()]);
        t
    }

    fn zmprov(&mut self, script: &str) {
        for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
            println!("    $ zmprov {line}");
        }
        if let Err(e) = zmprov::run(&mut self.zcs, script) {
            println!("    zmprov failed: {e}");
        }
    }
}

/// Who sends to whom: (entry, recipient).
const PROBES: &[(&str, &str)] = &[
    ("internet", "usera@yyy.state.xx.us"),
    ("internet", "userb@yyy.state.xx.us"),
    ("internet", "nobody@yyy.state.xx.us"),
    ("exchange", "usera@yyy.state.xx.us"),
    ("primary", "userb@yyy.state.xx.us"),
    ("exchange", "friend@elsewhere.example"),
];

fn show(step: usize, title: &str, w: &World, full_trace_of: Option<(&str, &str)>) {
    let topo = w.topology();
    println!("  where mail goes:");
    for (from, rcpt) in PROBES {
        match simulate(&topo, &Entry::parse(from), rcpt) {
            Ok(t) => println!("    [{from:>8}] {}", t.summary()),
            Err(e) => println!("    [{from:>8}] {rcpt}: error: {e}"),
        }
    }
    if let Some((from, rcpt)) = full_trace_of {
        println!("  full trace (step {step}, {title}):");
        match simulate(&topo, &Entry::parse(from), rcpt) {
            Ok(t) => {
                for line in t.to_text().lines() {
                    println!("    {line}");
                }
            }
            Err(e) => println!("    error: {e}"),
        }
    }
    println!();
}

fn main() {
    let mut w = World {
        zcs: Directory::new(),
        exchange: ForeignMta {
            domains: vec![DOMAIN.into()],
            mailboxes: vec![
                "usera@yyy.state.xx.us".into(),
                "userb@yyy.state.xx.us".into(),
            ],
            unknown: UnknownPolicy::Reject,
            dns_lookups: true,
            hopcount_limit: 50,
            ..ForeignMta::default()
        },
        mx: SECONDARY.into(),
    };
    let steps: &[&str] = &[
        "before: Exchange is authoritative, the new Zimbra server is installed",
        "primary configured: every Exchange user exists on Zimbra and is routed to Exchange",
        "secondary reconfigured: Exchange relays unknown users and outbound mail to the primary",
        "MX switched to the Zimbra primary",
        "usera migrated to Zimbra",
        "userb migrated to Zimbra",
        "split domain unset: every user on Zimbra, Exchange retired",
    ];
    println!("Split-Domain Example 1 - Zimbra Primary & Exchange Secondary ({DOMAIN})\n");
    for (i, title) in steps.iter().enumerate() {
        let n = i + 1;
        println!("== step {n}: {title}");
        let mut trace = None;
        match n {
            1 => w.zmprov(&format!("cs {PRIMARY}\ncd {DOMAIN}")),
            2 => w.zmprov(&format!(
                "ca usera@{DOMAIN} secret zimbraMailTransport smtp:{SECONDARY}:25\n\
                 ca userb@{DOMAIN} secret zimbraMailTransport smtp:{SECONDARY}:25"
            )),
            3 => {
                println!(
                    "    (Exchange: relay unknown recipients and all outbound mail to {PRIMARY})"
                );
                w.exchange.unknown = UnknownPolicy::Relay;
                w.exchange.relayhost = Some(PRIMARY.into());
            }
            4 => {
                println!("    (DNS: {DOMAIN} MX 10 {PRIMARY})");
                w.mx = PRIMARY.into();
            }
            5 => {
                w.zmprov(&format!(
                    "ma usera@{DOMAIN} zimbraMailTransport lmtp:{PRIMARY}:7025"
                ));
                println!("    (Exchange: usera's mailbox removed)");
                w.exchange.mailboxes.retain(|m| !m.starts_with("usera@"));
                trace = Some(("exchange", "usera@yyy.state.xx.us"));
            }
            6 => {
                w.zmprov(&format!(
                    "ma userb@{DOMAIN} zimbraMailTransport lmtp:{PRIMARY}:7025"
                ));
                println!("    (Exchange: userb's mailbox removed)");
                w.exchange.mailboxes.clear();
            }
            _ => {
                w.zmprov(&format!(
                    "md {DOMAIN} zimbraMailTransport lmtp:{PRIMARY}:7025"
                ));
                println!("    (Exchange: no longer relays unknown users)");
                w.exchange.unknown = UnknownPolicy::Reject;
            }
        }
        show(n, title, &w, trace);
    }
}
