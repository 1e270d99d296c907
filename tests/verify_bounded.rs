//! Verification is bounded by the topology's size, not by the number of paths (issue 14):
//! distribution lists naming each other across K Zimbra MTAs (a mail storm with exponentially
//! many paths) and forwarding chains, checked through the library (`route verify` under an
//! address-space limit: tests/cli/bounces.rs). Before the state-graph exploration, K = 5 took 27 s and 1.9 GB
//! and printed 131,612 loop lines, and K = 10 was killed for lack of memory.

#[path = "../examples/support/hostile.rs"]
mod hostile;

use zimbra_prov::route::{simulate, Disposition, Entry};
use zimbra_prov::scenario::Scenario;
use zimbra_prov::verify::{check, check_with, CheckOptions, FindingKind};

fn load(text: &str) -> Scenario {
    Scenario::parse(text, "hostile.toml", &Default::default()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn all_to_all_lists_give_one_loop_per_list() {
    let k = 8;
    let sc = load(&hostile::all_to_all(k));
    let topo = &sc.stages[0].topology;
    let r = check(topo);
    let text = r.to_text();
    assert!(text.lines().count() < 100, "{text}");
    assert_eq!(r.count(FindingKind::Loop), k, "{text}");
    for i in 0..k {
        let list = format!("list@d{i}.test");
        let loops: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.kind() == FindingKind::Loop && f.address == list)
            .collect();
        assert_eq!(loops.len(), 1, "{list}: {text}");
        // from the Internet and from every MTA
        assert_eq!(loops[0].entries.len(), k + 1, "{text}");
        // the evidence is a real loop of the representative's trace
        let t = loops[0].trace(topo).unwrap_or_else(|e| panic!("{e}"));
        assert!(t
            .leaves()
            .iter()
            .any(|l| matches!(l.disposition, Disposition::Looped { .. })));
    }
    // the lists' own members are still delivered, and nothing else is reported
    assert_eq!(r.findings.len(), k, "{text}");
    // the same report whatever the number of threads
    assert_eq!(check_with(topo, &CheckOptions::threads(1)).to_text(), text);
    assert_eq!(check_with(topo, &CheckOptions::threads(3)).to_text(), text);
}

#[test]
fn a_chain_longer_than_the_hop_limit_is_refused_not_looped() {
    // u0@c0 -> u1@c1 -> u2@c0 ... across two MTAs: every link is a hop, no state repeats
    let sc = load(&hostile::chain(80, true));
    let topo = &sc.stages[0].topology;
    let t = simulate(topo, &Entry::Internet, "u0@c0.test").unwrap_or_else(|e| panic!("{e}"));
    let leaves = t.leaves();
    let refused: Vec<_> = leaves
        .iter()
        .filter(|l| !matches!(l.disposition, Disposition::Delivered { .. }))
        .collect();
    assert_eq!(refused.len(), 1, "{}", t.summary());
    let l = refused[0];
    assert_eq!(
        l.disposition,
        &Disposition::Rejected {
            by: "b".into(),
            reply: "554 5.4.0 Error: too many hops".into()
        }
    );
    assert_eq!(l.via.len(), 50);
    // accepted by the previous hop, which writes the DSN
    assert_eq!(l.dsn.and_then(|d| d.writer.as_deref()), Some("a"));
    // 49 copies delivered on the way (every account keeps one)
    assert_eq!(leaves.len(), 50);
    // the verifier agrees: lost mail (u49's copy, refused), no loop
    let r = check(topo);
    assert_eq!(r.count(FindingKind::Loop), 0, "{}", r.to_text());
    assert!(r.count(FindingKind::LostMail) > 0, "{}", r.to_text());
}
