//! A topology written with `scenario::save` loads back to the same topology: every stage of the
//! seed scenarios (Zimbra and foreign MTAs, DNS, LDIF and zmprov directories), and generated
//! split-domain topologies and migration-shaped directories (proptest).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use zimbra_prov::route::{Entry, Simulator, Topology};
use zimbra_prov::scenario::{save, SaveOptions, Scenario};

/// A private directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "zp-scenario-save-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Save `topo` in `dir`, load it back, and check it is the same topology and routes `probes`
/// exactly alike (the whole trace, DSNs included). Returns the scenario text.
fn round_trip(topo: &Topology, dir: &Path, probes: &[(Entry, String)]) -> Result<String, String> {
    let path = dir.join("saved.toml");
    save(topo, &path, &SaveOptions::default()).map_err(|e| format!("save: {e}"))?;
    let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let back = Scenario::load(&path).map_err(|e| format!("load: {e}\n{text}"))?;
    let loaded = &back.stages[0].topology;
    if let Some(d) = topo.difference(loaded) {
        return Err(format!("{d}\n{text}"));
    }
    for (from, rcpt) in probes {
        let a = Simulator::new(topo).run(from, rcpt).map(|t| t.to_json());
        let b = Simulator::new(loaded).run(from, rcpt).map(|t| t.to_json());
        if a != b {
            return Err(format!("{rcpt} from {from:?} routes differently\n{text}"));
        }
    }
    Ok(text)
}

#[test]
fn every_stage_of_the_seed_scenarios_round_trips() {
    let mut files: Vec<PathBuf> = std::fs::read_dir("tests/scenarios")
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10);
    let (mut stages, mut foreign, mut ldif_dirs, mut dns) = (0, 0, 0, 0);
    for f in &files {
        let sc = Scenario::load(f).unwrap_or_else(|e| panic!("{e}"));
        for st in &sc.stages {
            let probes: Vec<(Entry, String)> = st
                .expects
                .iter()
                .map(|e| (e.from.clone(), e.rcpt.clone()))
                .collect();
            let tmp = TempDir::new("seed");
            let text = round_trip(&st.topology, &tmp.0, &probes)
                .unwrap_or_else(|e| panic!("{} stage {}: {e}", f.display(), st.name));
            stages += 1;
            foreign += text.matches("kind = \"foreign\"").count();
            ldif_dirs += text.matches("ldif = ").count();
            dns += usize::from(!st.topology.dns.mx.is_empty() && !st.topology.dns.a.is_empty());
            // and the expectations hold on the saved topology as on the original
            let loaded = Scenario::load(&tmp.0.join("saved.toml")).unwrap();
            for e in &st.expects {
                let mut sim = Simulator::new(&loaded.stages[0].topology);
                if let Some(s) = &e.sender {
                    sim = sim.sender(s.clone());
                }
                let t = sim.run(&e.from, &e.rcpt).unwrap();
                let mut orig = Simulator::new(&st.topology);
                if let Some(s) = &e.sender {
                    orig = orig.sender(s.clone());
                }
                assert_eq!(
                    e.evaluate(&t).is_ok(),
                    e.evaluate(&orig.run(&e.from, &e.rcpt).unwrap()).is_ok(),
                    "{} {}",
                    f.display(),
                    e.rcpt
                );
            }
        }
    }
    eprintln!(
        "{} files, {stages} stages, {foreign} foreign MTAs, {ldif_dirs} LDIF directories, \
         {dns} stages with MX and A records",
        files.len()
    );
    assert!(stages >= 20 && foreign >= 10 && ldif_dirs >= 20 && dns >= 10);
}

#[test]
fn changed_parameters_and_shared_directories_round_trip() {
    use std::sync::Arc;
    use zimbra_prov::model::Directory;
    use zimbra_prov::route::{ForeignMta, Mta, UnknownPolicy};
    let mut dir = Directory::new();
    zimbra_prov::zmprov::run(
        &mut dir,
        "cs a.example.org\ncs b.example.org\ncd example.org\nca u@example.org pw\n\
         mcf zimbraMtaRelayHost relay.example.org\nms b.example.org zimbraMtaMyNetworks 10.0.0.0/8",
    )
    .unwrap();
    let dir = Arc::new(dir);
    let mut t = Topology::new();
    t.add(Mta::zimbra_shared("a", "a.example.org", dir.clone(), |p| {
        p.relayhost = None;
        p.myorigin = "example.org".into();
        p.transports.retain(|s| s != "smtp-amavis");
        p.virtual_alias_recursion_limit = 5;
        p.split_domain_check = true;
        p.reject_rest = true;
        p.propagate_virtual = true;
    }))
    .unwrap();
    t.add(Mta::zimbra_shared("b", "b.example.org", dir, |p| {
        p.mynetworks.clear();
        p.dns_lookups = false;
        p.virtual_transport = "lmtp".into();
        p.recipient_delimiter = "+".into();
        p.old_address_filter = true;
    }))
    .unwrap();
    t.add(Mta::foreign(
        "ex",
        "ex.example.org",
        ForeignMta {
            domains: vec!["example.org".into()],
            mailboxes: vec!["X@example.org".into()],
            aliases: [("y@example.org".into(), "x@example.org".into())].into(),
            routes: [("example.net".into(), "[a.example.org]:25".into())].into(),
            unknown: UnknownPolicy::Relay,
            unknown_relay: Some("b.example.org".into()),
            relayhost: Some("a.example.org".into()),
            dns_lookups: false,
            hopcount_limit: 7,
        },
    ))
    .unwrap();
    t.dns.mx.insert(
        "example.org".into(),
        vec![(10, "a.example.org".into()), (20, "ex.example.org".into())],
    );
    t.dns.a.insert(
        "a.example.org".into(),
        vec!["10.0.0.1".into(), "2001:db8::1".into()],
    );
    let tmp = TempDir::new("params");
    let probes = [
        (Entry::Internet, "u@example.org".to_string()),
        (Entry::Mta("ex".into()), "y@example.org".to_string()),
        (Entry::Mta("b".into()), "nobody@example.net".to_string()),
    ];
    let text = round_trip(&t, &tmp.0, &probes).unwrap_or_else(|e| panic!("{e}"));
    // one LDIF file for the directory both Zimbra MTAs share
    assert_eq!(text.matches("ldif = ").count(), 1, "{text}");
    assert!(text.contains("relayhost = \"\""), "{text}");
}

#[cfg(feature = "proptest")]
mod generated {
    use super::*;
    use proptest::prelude::*;
    use zimbra_prov::route::{ForeignMta, Mta, UnknownPolicy};
    use zimbra_prov::strategy::{
        directory, migration_plan, split_domain_topology, DirectorySpec, SplitDomainSpec,
    };

    fn probes_of(topo: &Topology, rcpts: &[String]) -> Vec<(Entry, String)> {
        let mut v: Vec<(Entry, String)> =
            rcpts.iter().map(|r| (Entry::Internet, r.clone())).collect();
        for m in topo.mtas() {
            if let Some(r) = rcpts.first() {
                v.push((Entry::Mta(m.name.clone()), r.clone()));
            }
        }
        v
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// Generated split-domain topologies (Zimbra and foreign secondaries) round-trip.
        #[test]
        fn split_domain_topologies_round_trip(g in split_domain_topology(SplitDomainSpec::default())) {
            let mut rcpts: Vec<String> = g.users.iter().map(|(u, _)| u.clone()).collect();
            rcpts.push("nobody@example.com".into());
            let tmp = TempDir::new("split");
            let r = round_trip(&g.topology, &tmp.0, &probes_of(&g.topology, &rcpts));
            prop_assert!(r.is_ok(), "{}\n{}", r.unwrap_err(), g.describe());
        }

        /// Every stage of generated migration plans round-trips.
        #[test]
        fn migration_plans_round_trip(p in migration_plan(SplitDomainSpec::default())) {
            let rcpts: Vec<String> = p.initial.users.iter().map(|(u, _)| u.clone()).collect();
            for (name, topo) in &p.stages {
                let tmp = TempDir::new("plan");
                let r = round_trip(topo, &tmp.0, &probes_of(topo, &rcpts));
                prop_assert!(r.is_ok(), "stage {name}: {}", r.unwrap_err());
            }
        }

        /// Migration-shaped directories (odd creation order, hand-edited entries, quoted
        /// addresses) behind a Zimbra MTA with drawn parameters, next to a foreign MTA.
        #[test]
        fn migration_shaped_directories_round_trip(
            g in directory(DirectorySpec::default().with_migration_shapes()),
            hop in 1u32..60,
            lookups in any::<bool>(),
            unknown in prop_oneof![Just(UnknownPolicy::Reject), Just(UnknownPolicy::Relay), Just(UnknownPolicy::Bounce)],
        ) {
            let mut t = Topology::new();
            let host = g.directory.servers().next().map(|s| s.name.clone())
                .unwrap_or_else(|| "mx.example.com".into());
            t.add(Mta::zimbra("zcs", &host, &g.directory, |p| {
                p.hopcount_limit = hop;
                p.dns_lookups = lookups;
            })).unwrap();
            t.add(Mta::foreign("ext", "ext.example.net", ForeignMta {
                domains: vec!["example.net".into()],
                unknown,
                relayhost: Some(host.clone()),
                ..ForeignMta::default()
            })).unwrap();
            t.dns.a.insert(host.to_ascii_lowercase(), vec!["10.0.0.1".into()]);
            let rcpts: Vec<String> = g.directory.accounts().take(6).map(|a| a.name.to_string()).collect();
            let tmp = TempDir::new("shapes");
            let r = round_trip(&t, &tmp.0, &probes_of(&t, &rcpts));
            prop_assert!(r.is_ok(), "{}\n{}", r.unwrap_err(), g.script);
        }
    }
}
