//! Property: every simulation terminates (hop limits, alias limits, loop detection) on generated
//! topologies of Zimbra and foreign MTAs that forward to each other in arbitrary ways.

use proptest::prelude::*;
use zimbra_prov::model::Directory;
use zimbra_prov::route::{simulate, Entry, ForeignMta, Mta, Topology, UnknownPolicy};
use zimbra_prov::zmprov;

const DOMAINS: &[&str] = &["a.test", "b.test"];
const USERS: &[&str] = &["u0", "u1", "u2", "u3"];
const HOSTS: &[&str] = &["m0.test", "m1.test", "m2.test"];

fn host(i: usize) -> &'static str {
    HOSTS[i % HOSTS.len()]
}

/// One generated MTA: zimbra (with a zmprov script) or foreign.
#[derive(Debug, Clone)]
enum Gen {
    Zimbra {
        script: String,
        relay: Option<usize>,
        lookups: bool,
        limit: u32,
    },
    Foreign {
        mailboxes: Vec<String>,
        unknown: u8,
        relay: Option<usize>,
        route: Option<(String, usize)>,
        limit: u32,
    },
}

fn addr() -> impl Strategy<Value = String> {
    (0..USERS.len(), 0..DOMAINS.len()).prop_map(|(u, d)| format!("{}@{}", USERS[u], DOMAINS[d]))
}

fn zimbra_line(i: usize) -> impl Strategy<Value = String> {
    let h = host(i);
    prop_oneof![
        (addr(), 0..HOSTS.len()).prop_map(move |(a, t)| format!("ca {a} pw zimbraMailTransport smtp:{}", host(t))),
        addr().prop_map(move |a| format!("ca {a} pw zimbraMailTransport lmtp:{h}:7025")),
        (addr(), addr()).prop_map(|(a, f)| format!("ca {a} pw zimbraMailForwardingAddress {f}")),
        (0..DOMAINS.len(), 0..HOSTS.len()).prop_map(|(d, t)| format!(
            "md {0} zimbraMailCatchAllAddress @{0} zimbraMailCatchAllForwardingAddress @{0} zimbraMailTransport smtp:{1}",
            DOMAINS[d], host(t)
        )),
        (0..DOMAINS.len(), 0..DOMAINS.len()).prop_map(|(d, e)| format!(
            "md {} zimbraMailCatchAllAddress @{} zimbraMailCatchAllForwardingAddress @{}",
            DOMAINS[d], DOMAINS[d], DOMAINS[e]
        )),
        (addr(), addr(), addr()).prop_map(|(l, m1, m2)| format!("cdl {l}\nadlm {l} {m1} {m2}")),
        (0..DOMAINS.len()).prop_map(|d| format!("md {} zimbraMailTransport smtp:{}", DOMAINS[d], DOMAINS[d])),
    ]
}

fn gen_mta(i: usize) -> impl Strategy<Value = Gen> {
    prop_oneof![
        (
            prop::collection::vec(zimbra_line(i), 0..6),
            prop::option::of(0..HOSTS.len()),
            any::<bool>(),
            2u32..60
        )
            .prop_map(move |(lines, relay, lookups, limit)| {
                let mut s = format!("cs {}\n", host(i));
                for d in DOMAINS {
                    s.push_str(&format!("cd {d}\n"));
                }
                for l in lines {
                    s.push_str(&l);
                    s.push('\n');
                }
                Gen::Zimbra {
                    script: s,
                    relay,
                    lookups,
                    limit,
                }
            }),
        (
            prop::collection::vec(addr(), 0..3),
            0u8..3,
            prop::option::of(0..HOSTS.len()),
            prop::option::of((addr(), 0..HOSTS.len())),
            2u32..60
        )
            .prop_map(|(mailboxes, unknown, relay, route, limit)| Gen::Foreign {
                mailboxes,
                unknown,
                relay,
                route,
                limit
            }),
    ]
}

fn topology(gens: &[Gen], mx: &[usize]) -> Topology {
    let mut t = Topology::new();
    for (i, g) in gens.iter().enumerate() {
        let name = format!("m{i}");
        let m = match g {
            Gen::Zimbra {
                script,
                relay,
                lookups,
                limit,
            } => {
                let mut dir = Directory::new();
                // a line may fail (duplicate account...): apply line by line, keep what works
                for l in script.split('\n') {
                    let _ = zmprov::run(&mut dir, l);
                }
                Mta::zimbra(&name, host(i), &dir, |p| {
                    p.relayhost = relay.map(|r| host(r).to_string());
                    p.dns_lookups = *lookups;
                    p.hopcount_limit = *limit;
                    p.mynetworks = vec!["10.0.0.0/8".into()];
                })
            }
            Gen::Foreign {
                mailboxes,
                unknown,
                relay,
                route,
                limit,
            } => Mta::foreign(
                &name,
                host(i),
                ForeignMta {
                    domains: DOMAINS.iter().map(|d| d.to_string()).collect(),
                    mailboxes: mailboxes.clone(),
                    unknown: [
                        UnknownPolicy::Reject,
                        UnknownPolicy::Relay,
                        UnknownPolicy::Bounce,
                    ][*unknown as usize % 3],
                    relayhost: relay.map(|r| host(r).to_string()),
                    unknown_relay: None,
                    routes: route
                        .iter()
                        .map(|(a, h)| (a.clone(), host(*h).to_string()))
                        .collect(),
                    aliases: Default::default(),
                    dns_lookups: true,
                    hopcount_limit: *limit,
                },
            ),
        };
        t.add(m).expect("unique names");
        t.dns
            .a
            .insert(host(i).into(), vec![format!("10.0.0.{}", i + 1)]);
    }
    for (d, m) in DOMAINS.iter().zip(mx) {
        t.dns
            .mx
            .insert(d.to_string(), vec![(10, host(*m).to_string())]);
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_simulation_terminates(
        gens in (1usize..=3).prop_flat_map(|n| (0..n).map(gen_mta).collect::<Vec<_>>()),
        mx in prop::collection::vec(0..HOSTS.len(), DOMAINS.len()),
        rcpt in prop_oneof![addr(), Just("nobody@a.test".to_string()), Just("x@elsewhere.test".to_string())],
        from in 0usize..4,
    ) {
        let mx: Vec<usize> = mx.into_iter().map(|m| m % gens.len()).collect();
        let topo = topology(&gens, &mx);
        let entry = if from >= gens.len() { Entry::Internet } else { Entry::Mta(format!("m{from}")) };
        let trace = simulate(&topo, &entry, &rcpt).expect("valid entry and recipient");
        let leaves = trace.leaves();
        prop_assert!(!leaves.is_empty());
        let max_limit = 60u32;
        for l in &leaves {
            // a leaf never lies beyond the largest hop limit
            prop_assert!(l.via.len() as u32 <= max_limit + 1, "{:?}", l);
        }
        // deterministic
        prop_assert_eq!(simulate(&topo, &entry, &rcpt).ok(), Some(trace));
    }
}
