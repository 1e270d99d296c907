//! Properties of the verifier on generated split-domain topologies and migration plans:
//! (a) it reports a loop for a class exactly when the representative's simulation loops, and
//!     every member routes like its representative (the classes are sound);
//! (b) an authoritative primary that never forwards unknown recipients, with secondaries that
//!     forward theirs to it, is loop-free for every address (and the converse setup loops);
//! (c) migrating any subset of users one at a time with the seed's procedure keeps every
//!     existing user's mail delivered at every step;
//! (d) simulation and verification terminate on every generated topology.

use proptest::prelude::*;
use zimbra_prov::route::{Disposition, Topology};
use zimbra_prov::strategy::{
    migration_plan, split_domain_topology, SecondaryKind, SplitDomainSpec,
};
use zimbra_prov::verify::{check, classify, entry_points, plan, FindingKind};

/// Outcome shape of one simulation: per leaf (via, outcome, dsn), sorted; the address itself
/// left out so that class members compare.
fn shape(topo: &Topology, e: &zimbra_prov::verify::EntryPoint, addr: &str) -> Vec<String> {
    let t = e.simulate(topo, addr).expect("entry of the topology");
    let mut v: Vec<String> = t
        .leaves()
        .iter()
        .map(|l| {
            format!(
                "{} {} {}",
                l.via.join(">"),
                l.disposition.outcome(),
                l.disposition.dsn().unwrap_or("")
            )
        })
        .collect();
    v.sort();
    v
}

fn loops(topo: &Topology, e: &zimbra_prov::verify::EntryPoint, addr: &str) -> bool {
    e.simulate(topo, addr)
        .expect("entry of the topology")
        .leaves()
        .iter()
        .any(|l| matches!(l.disposition, Disposition::Looped { .. }))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    // (a) and (d)
    #[test]
    fn loop_reported_iff_representative_loops(g in split_domain_topology(SplitDomainSpec::default())) {
        let topo = &g.topology;
        let report = check(topo);
        prop_assert!(report.simulations >= report.classes.len());
        for c in &report.classes {
            let sim_loops = entry_points(topo, &c.domain)
                .iter()
                .any(|e| loops(topo, e, &c.representative));
            let reported = report
                .findings
                .iter()
                .any(|f| f.class == c.id && f.kind() == FindingKind::Loop);
            prop_assert_eq!(sim_loops, reported, "{}\n{}", c.representative, g.describe());
        }
    }

    // (a) soundness of the classes: each member simulates like its representative
    #[test]
    fn members_route_like_their_representative(g in split_domain_topology(SplitDomainSpec::default())) {
        let topo = &g.topology;
        let cl = classify(&[topo]);
        for (addr, id) in cl.addresses() {
            let c = &cl.classes()[id];
            if addr == c.representative {
                continue;
            }
            for e in entry_points(topo, &c.domain) {
                prop_assert_eq!(
                    shape(topo, &e, addr),
                    shape(topo, &e, &c.representative),
                    "{} vs {} from {}\n{}", addr, c.representative, e, g.describe()
                );
            }
        }
    }

    // (b)
    #[test]
    fn authoritative_primary_is_loop_free(g in split_domain_topology(SplitDomainSpec {
        primary_forwards_unknown: Some(false),
        ..SplitDomainSpec::default()
    })) {
        let topo = &g.topology;
        let report = check(topo);
        prop_assert_eq!(report.count(FindingKind::Loop), 0, "{}\n{}", g.describe(), report.to_text());
        // independently of the classes: every known address and an unknown one, every entry
        let mut addrs: Vec<String> = g.users.iter().map(|(u, _)| u.clone()).collect();
        addrs.extend(g.aliases.iter().map(|(_, a)| a.clone()));
        addrs.push("nobody@example.com".into());
        for a in &addrs {
            for e in entry_points(topo, "example.com") {
                prop_assert!(!loops(topo, &e, a), "{} from {} loops\n{}", a, e, g.describe());
            }
        }
    }

    // (b), the converse: a primary forwarding its unknowns to a secondary that forwards back
    #[test]
    fn forwarding_both_ways_loops(
        g in split_domain_topology(SplitDomainSpec {
            primary_forwards_unknown: Some(true),
            secondary_kind: Some(SecondaryKind::Zimbra),
            ..SplitDomainSpec::default()
        })
    ) {
        let report = check(&g.topology);
        prop_assert!(
            report.findings.iter().any(|f| f.kind() == FindingKind::Loop
                && f.address.starts_with("no-such-user@example.com")),
            "{}\n{}", g.describe(), report.to_text()
        );
    }

    // (c) and (d)
    #[test]
    fn seed_migration_keeps_mail_delivered(p in migration_plan(SplitDomainSpec::default())) {
        let stages: Vec<(&str, &Topology)> = p.stages.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let report = plan(&stages);
        prop_assert_eq!(report.steps.len(), p.stages.len());
        prop_assert!(!report.has_loop_or_lost(), "{}\n{}", p.initial.describe(), report.to_text());
        prop_assert_eq!(report.first_breaking, None);
        // independently: every user, every state, every entry point: delivered
        for (name, topo) in &p.stages {
            for (u, _) in &p.initial.users {
                for e in entry_points(topo, "example.com") {
                    let t = e.simulate(topo, u).expect("entry of the topology");
                    for l in t.leaves() {
                        prop_assert_eq!(
                            l.disposition.outcome(), "delivered",
                            "{} from {} at {}: {}\n{}", u, e, name, l.disposition, p.initial.describe()
                        );
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    // (a) soundness on richer directories (lists, forwards, catch-alls, canonical addresses,
    // alias domains, statuses), with the directory's servers and foreign hosts as MTAs
    #[test]
    fn members_route_like_their_representative_on_rich_directories(
        g in zimbra_prov::strategy::directory(zimbra_prov::strategy::DirectorySpec::default())
    ) {
        use zimbra_prov::route::{ForeignMta, Mta, UnknownPolicy};
        let mut topo = Topology::new();
        let spec = &g.spec;
        for (i, s) in spec.servers.iter().enumerate() {
            let _ = topo.add(Mta::zimbra(&format!("z{i}"), s, &g.directory, |p| {
                p.mynetworks = vec!["10.0.0.0/24".into()];
            }));
            topo.dns.a.insert(s.clone(), vec![format!("10.0.0.{}", i + 1)]);
        }
        for (i, h) in spec.foreign_hosts.iter().enumerate() {
            let _ = topo.add(Mta::foreign(&format!("f{i}"), h, ForeignMta {
                domains: spec.domains.clone(),
                unknown: UnknownPolicy::Relay,
                relayhost: spec.servers.first().cloned(),
                dns_lookups: true,
                hopcount_limit: 50,
                ..ForeignMta::default()
            }));
        }
        for d in spec.domains.iter().chain(&spec.alias_domains) {
            topo.dns.mx.insert(d.clone(), vec![(10, spec.servers[0].clone())]);
        }
        let report = check(&topo);
        let cl = classify(&[&topo]);
        prop_assert_eq!(cl.classes().len(), report.classes.len());
        for (addr, id) in cl.addresses() {
            let c = &cl.classes()[id];
            if addr == c.representative {
                continue;
            }
            for e in entry_points(&topo, &c.domain) {
                prop_assert_eq!(
                    shape(&topo, &e, addr),
                    shape(&topo, &e, &c.representative),
                    "{} vs {} from {}\n{}", addr, c.representative, e, g.script
                );
            }
        }
    }
}
