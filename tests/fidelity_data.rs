//! Hand-written directories shaped like the ones admins bring to a migration
//! (`tests/data/fidelity/*.ldif`: slapcat order that is not DN order, the same address in two
//! trees, an account twice, transports typed by hand, odd addresses), checked three ways:
//!
//! - the decision of `route decide`'s library calls (the LDIF read as `route decide` reads it,
//!   Zimbra's default parameters, `ZimbraMta::decide` for local submission, and the RCPT stage
//!   for a client outside `mynetworks`) against what a real Postfix 3.7 + slapd answered, recorded
//!   in `*.expected` (this part needs no services);
//! - with Postfix and slapd installed, the recorded answers against a live oracle loading the
//!   file exactly as written (so the recordings cannot rot), and the simulator against it;
//! - the recorded answers themselves: the same entries in another slapcat order change the
//!   answer where the issue says they must.

#[path = "support/oracle.rs"]
mod oracle;

use std::path::{Path, PathBuf};

use oracle::{Oracle, OracleConfig};
use zimbra_prov::model::Directory;
use zimbra_prov::route::{Arrival, Verdict, ZimbraMta, ZimbraParams};

/// The oracle's host name: the simulator runs as that MTA.
const HOST: &str = "mta.oracle.invalid";

const SETS: &[&str] = &["slapcat-migration", "split-domain-handtyped"];

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fidelity")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(data(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The directory as `route decide` reads it.
fn directory(set: &str) -> Directory {
    zimbra_prov::scenario::read_ldif_directory(&data(&format!("{set}.ldif")))
        .unwrap_or_else(|e| panic!("{set}: {e}"))
}

fn mta(dir: &Directory) -> ZimbraMta {
    ZimbraMta::new(dir, ZimbraParams::from_directory(dir, HOST))
}

fn addresses(set: &str) -> Vec<String> {
    read(&format!("{set}.addrs"))
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// The recorded `ROUTE` lines and `RCPT` replies, by address.
struct Expected {
    route: Vec<String>,
    rcpt: Vec<(String, String)>,
}

fn expected(set: &str) -> Expected {
    let text = read(&format!("{set}.expected"));
    let mut e = Expected {
        route: Vec::new(),
        rcpt: Vec::new(),
    };
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        if let Some(r) = l.strip_prefix("ROUTE ") {
            e.route.push(r.to_string());
        } else if let Some((a, reply)) = l.strip_prefix("RCPT ").and_then(|r| r.split_once(" => "))
        {
            e.rcpt.push((a.to_string(), reply.to_string()));
        }
    }
    e
}

fn rcpt_reply(mta: &ZimbraMta, addr: &str) -> String {
    match mta.decide(addr, Arrival::INTERNET).verdict {
        Verdict::Rejected { reply, .. } => reply,
        _ => "250 2.1.5 Ok".to_string(),
    }
}

#[test]
fn route_decide_agrees_with_the_recorded_postfix_answers() {
    for set in SETS {
        let dir = directory(set);
        let mta = mta(&dir);
        let want = expected(set);
        let addrs = addresses(set);
        assert_eq!(
            want.route.len(),
            addrs.len(),
            "{set}: one ROUTE line per address"
        );
        assert_eq!(
            want.rcpt.len(),
            addrs.len(),
            "{set}: one RCPT line per address"
        );
        let mut bad = Vec::new();
        for (addr, line) in addrs.iter().zip(&want.route) {
            let got = mta.decide_quiet(addr, Arrival::PICKUP).line();
            if &got != line {
                bad.push(format!("  got  {got}\n  want {line}"));
            }
        }
        for (addr, reply) in &want.rcpt {
            let got = rcpt_reply(&mta, addr);
            if &got != reply {
                bad.push(format!("  RCPT {addr}\n  got  {got}\n  want {reply}"));
            }
        }
        assert!(bad.is_empty(), "{set}:\n{}", bad.join("\n"));
    }
}

/// The hand-written file with corp.test's two catch-all accounts swapped: the same entries in
/// another slapcat order.
fn swapped_catch_alls() -> String {
    let text = read("split-domain-handtyped.ldif");
    let mut records: Vec<&str> = text.split("\n\n").collect();
    let pos = |records: &[&str], uid: &str| {
        records
            .iter()
            .position(|r| r.contains(&format!("dn: uid={uid},")))
            .unwrap_or_else(|| panic!("{uid} in the file"))
    };
    let (z, a) = (pos(&records, "zz-catch"), pos(&records, "aa-catch"));
    assert!(z < a, "the file creates zz-catch first");
    records.swap(z, a);
    records.join("\n\n")
}

/// Moving the second catch-all account of corp.test before the first in the slapcat file
/// changes the answer: slapcat position decides, not the DN (aa-catch sorts first by DN in
/// both files). (Checked against the live oracle below.)
#[test]
fn slapcat_position_decides() {
    let line = |dir: &Directory| {
        mta(dir)
            .decide_quiet("nobody@corp.test", Arrival::PICKUP)
            .line()
    };
    assert_eq!(
        line(&directory("split-domain-handtyped")),
        "nobody@corp.test -> smtp:exchange.split.test:25 <new-home@split.test>"
    );
    let swapped = zimbra_prov::dit::read_directory(swapped_catch_alls().as_bytes()).unwrap();
    assert_eq!(
        line(&swapped),
        "nobody@corp.test -> lmtp:mbox2.corp.test:7025 <aa-catch@corp.test> | lmtp:mbox1.corp.test:7025 <zz-catch@corp.test>"
    );
}

/// The recordings, and the simulator, against a live Postfix + slapd loading each file as
/// written (entry order kept), with Zimbra's master.cf services.
#[test]
fn recordings_and_simulator_agree_with_a_live_oracle() {
    if !oracle::services_or_skip("recordings_and_simulator_agree_with_a_live_oracle") {
        return;
    }
    let mut o = Oracle::start(OracleConfig::default()).expect("oracle starts");
    let mut bad = Vec::new();
    for set in SETS {
        let ldif = read(&format!("{set}.ldif"));
        o.load_ldif(&ldif).expect("slapadd loads the file");
        let addrs = addresses(set);
        let refs: Vec<&str> = addrs.iter().map(String::as_str).collect();
        let want = expected(set);
        let dir = directory(set);
        let mta = mta(&dir);
        let lines = o.route(&refs).expect("route");
        for ((addr, ora), rec) in addrs.iter().zip(lines).zip(&want.route) {
            let ora = ora.text();
            let sim = mta.decide_quiet(addr, Arrival::PICKUP).line();
            // `error:2.0.0` (a status without text): Postfix 3.7 reports whatever memory follows
            // the status (see the README's deviation table); the recording holds the fixed answer
            let status_only = sim.contains("(error:  [") || sim.contains("(retry:  [");
            if ora != *rec && !(status_only && sim == *rec) {
                bad.push(format!(
                    "{set}: recording\n  live     {ora}\n  recorded {rec}"
                ));
            }
            if ora != sim && !status_only {
                bad.push(format!("{set}: simulator\n  live {ora}\n  sim  {sim}"));
            }
        }
        let replies = o.rcpt_many(&refs, false).expect("rcpt");
        for ((addr, reply), (_, rec)) in addrs.iter().zip(replies).zip(&want.rcpt) {
            let live = reply.to_string();
            if live != *rec {
                bad.push(format!(
                    "{set}: RCPT {addr}\n  live     {live}\n  recorded {rec}"
                ));
            }
            let sim = rcpt_reply(&mta, addr);
            if live != sim {
                bad.push(format!("{set}: RCPT {addr}\n  live {live}\n  sim  {sim}"));
            }
        }
    }
    // the same entries in another slapcat order
    o.load_ldif(&swapped_catch_alls()).expect("load");
    let swapped = zimbra_prov::dit::read_directory(swapped_catch_alls().as_bytes()).unwrap();
    let live = o
        .route(&["nobody@corp.test"])
        .expect("route")
        .remove(0)
        .text();
    let sim = mta(&swapped)
        .decide_quiet("nobody@corp.test", Arrival::PICKUP)
        .line();
    if live != sim {
        bad.push(format!("swapped catch-alls\n  live {live}\n  sim  {sim}"));
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
