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
use zimbra_prov::route::{ForeignMta, Mta, UnknownPolicy};
use zimbra_prov::strategy::{
    directory, migration_plan, split_domain_topology, DirectorySpec, GeneratedDirectory,
    SecondaryKind, SplitDomainSpec,
};
use zimbra_prov::verify::{
    check, check_with, classify, classify_with, entry_points, plan, CheckOptions, FindingKind,
};

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

/// A generated directory's servers as Zimbra MTAs and its foreign hosts as foreign MTAs
/// relaying to the first server, MX records to the first server. With `variety`, the second
/// server has a recipient delimiter and the split-domain check, and the foreign MTAs hold
/// mailboxes and aliases (in mixed case).
fn rich_topology(g: &GeneratedDirectory, variety: bool) -> Topology {
    let mut topo = Topology::new();
    let spec = &g.spec;
    for (i, s) in spec.servers.iter().enumerate() {
        let _ = topo.add(Mta::zimbra(&format!("z{i}"), s, &g.directory, |p| {
            p.mynetworks = vec!["10.0.0.0/24".into()];
            if variety && i == 1 {
                p.recipient_delimiter = "+".into();
                p.split_domain_check = true;
            }
        }));
        topo.dns
            .a
            .insert(s.clone(), vec![format!("10.0.0.{}", i + 1)]);
    }
    for (i, h) in spec.foreign_hosts.iter().enumerate() {
        let mut f = ForeignMta {
            domains: spec.domains.clone(),
            unknown: UnknownPolicy::Relay,
            relayhost: spec.servers.first().cloned(),
            dns_lookups: true,
            hopcount_limit: 50,
            ..ForeignMta::default()
        };
        if variety {
            let d = spec.domains.first().cloned().unwrap_or_default();
            f.mailboxes = vec![format!("Alice@{d}"), format!("bob{i}@{d}")];
            f.aliases.insert(format!("Carol@{d}"), format!("alice@{d}"));
            f.aliases
                .insert(format!("team@{d}"), format!("Team@{}", spec.servers[0]));
        }
        let _ = topo.add(Mta::foreign(&format!("f{i}"), h, f));
    }
    for d in spec.domains.iter().chain(&spec.alias_domains) {
        topo.dns
            .mx
            .insert(d.clone(), vec![(10, spec.servers[0].clone())]);
    }
    topo
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
        g in directory(DirectorySpec::default())
    ) {
        let topo = rich_topology(&g, false);
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    // the classification (ids, representatives, members, samples, every address's class, in
    // enumeration order) and the report are the same on any number of threads, for one
    // topology and jointly for two
    #[test]
    fn classification_is_the_same_on_any_number_of_threads(
        a in directory(DirectorySpec::default()),
        b in directory(DirectorySpec::default().with_migration_shapes()),
    ) {
        let (ta, tb) = (rich_topology(&a, true), rich_topology(&b, true));
        for topos in [vec![&ta], vec![&tb], vec![&ta, &tb]] {
            let one = classify_with(&topos, &CheckOptions::threads(1));
            prop_assert!(one.address_count() > 0);
            for threads in [2, 3, 8] {
                let many = classify_with(&topos, &CheckOptions::threads(threads));
                prop_assert_eq!(one.classes(), many.classes(), "{} threads\n{}\n{}", threads, a.script, b.script);
                prop_assert!(one.addresses().eq(many.addresses()), "{} threads\n{}\n{}", threads, a.script, b.script);
            }
        }
        let one = check_with(&ta, &CheckOptions::threads(1)).to_text();
        prop_assert_eq!(one, check_with(&ta, &CheckOptions::threads(3)).to_text());
    }
}
