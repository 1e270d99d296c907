//! Loading for routing questions (`ReadOptions::routing_only`, `LoadOptions::routing`: what
//! `zimbra-prov route` does) keeps of each account only the attributes routing reads, and every
//! routing answer stays the same:
//! - reading a slapcat that way gives the directory read whole and then reduced
//!   (`Directory::keep_routing_attrs`), on one thread or several;
//! - every trace (each map lookup, each step, each outcome) and every `verify` report is the
//!   same on migration-shaped directories and on generated split-domain topologies;
//! - every seed scenario, steps included, checks and verifies the same, and reducing commutes
//!   with the steps' zmprov changes.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use zimbra_prov::dit::{read_directory_with, ReadOptions};
use zimbra_prov::model::Directory;
use zimbra_prov::route::{Entry, Mta, Simulator, Topology};
use zimbra_prov::scenario::{to_files, LoadOptions, SaveOptions, Scenario};
use zimbra_prov::strategy::{
    directory, routable_addresses, split_domain_topology, DirectorySpec, SplitDomainSpec,
};
use zimbra_prov::verify::check;

#[path = "support/scenarios.rs"]
mod scenarios;
use scenarios::scenario_files;

fn reduced(d: &Directory) -> Directory {
    let mut d = d.clone();
    d.keep_routing_attrs();
    d
}

/// The whole and the reduced scenario agree stage by stage: same directories once reduced,
/// same `verify` report, same expectation results.
fn assert_same_answers(whole: &Scenario, lean: &Scenario, what: &str) {
    assert_eq!(whole.stages.len(), lean.stages.len(), "{what}");
    for (a, b) in whole.stages.iter().zip(&lean.stages) {
        assert_eq!(a.name, b.name, "{what}");
        assert_eq!(
            a.directories.keys().collect::<Vec<_>>(),
            b.directories.keys().collect::<Vec<_>>(),
            "{what}"
        );
        for (name, d) in &a.directories {
            // (accounts a step creates are whole in both)
            assert!(
                reduced(d) == reduced(&b.directories[name]),
                "{what}: stage {}, directory {name}: reducing does not commute with the steps",
                a.name
            );
        }
        assert_eq!(
            check(&a.topology).to_text(),
            check(&b.topology).to_text(),
            "{what}: stage {}",
            a.name
        );
    }
    let texts = |s: &Scenario| s.check().into_iter().map(|l| l.text).collect::<Vec<_>>();
    assert_eq!(texts(whole), texts(lean), "{what}");
}

#[test]
fn every_seed_scenario_answers_the_same() {
    let files = scenario_files();
    assert!(files.len() >= 9, "{files:?}");
    let mut stages = 0;
    for f in &files {
        let whole = Scenario::load(f).unwrap_or_else(|e| panic!("{e}"));
        let lean = Scenario::load_with(f, &LoadOptions::default().routing())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_same_answers(&whole, &lean, &f.display().to_string());
        stages += whole.stages.len();
    }
    assert!(stages >= 20, "only {stages} stages");
}

/// Every trace of every address worth routing, from the Internet and submitted at the MTA.
fn traces(topo: &Topology, addrs: &[String]) -> Vec<String> {
    let sim = Simulator::new(topo);
    let mut out = Vec::new();
    for a in addrs {
        for from in [Entry::Internet, Entry::Mta("mx".into())] {
            out.push(match sim.run(&from, a) {
                Ok(t) => format!("{t:?}"),
                Err(e) => format!("error {e}"),
            });
        }
    }
    out
}

fn one_mta(dir: &Directory) -> Topology {
    let host = dir
        .servers()
        .next()
        .map_or("mx.example.org".to_string(), |s| s.name.to_string());
    let mut topo = Topology::new();
    topo.add(Mta::zimbra("mx", &host, dir, |_| {}))
        .expect("one MTA");
    topo
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    /// A slapcat as migrations leave it, read keeping only what routing reads (one thread, and
    /// several with small blocks), is the whole directory reduced, and routes identically.
    #[test]
    fn migration_shaped_slapcats_route_the_same(
        g in directory(DirectorySpec::default().with_max_ops(30).with_migration_shapes()),
    ) {
        let text = g.slapcat.clone().expect("migration shapes come with their slapcat");
        let whole = read_directory_with(text.as_bytes(), &ReadOptions::with_threads(1)).unwrap();
        let mut many = ReadOptions::routing();
        many.threads = 3;
        many.block_bytes = 1024;
        let lean = read_directory_with(text.as_bytes(), &many).unwrap();
        let mut one = ReadOptions::routing();
        one.threads = 1;
        prop_assert!(read_directory_with(text.as_bytes(), &one).unwrap() == lean);
        prop_assert!(reduced(&whole) == lean, "{}", g.script);
        let addrs = {
            let mut a = routable_addresses(&whole);
            a.extend(g.shape_addresses());
            a
        };
        let (tw, tl) = (one_mta(&whole), one_mta(&lean));
        prop_assert_eq!(traces(&tw, &addrs), traces(&tl, &addrs));
        prop_assert_eq!(check(&tw).to_text(), check(&tl).to_text());
    }

    /// Split-domain topologies saved as scenario files and loaded back whole and for routing
    /// (the reduction in the LDIF reader, and after a custom loader) verify the same.
    #[test]
    fn split_domain_scenarios_verify_the_same(
        g in split_domain_topology(SplitDomainSpec::default()),
    ) {
        let saved = to_files(&g.topology, "split", &SaveOptions::default()).unwrap();
        let files: BTreeMap<String, Vec<u8>> = saved.files.iter().cloned().collect();
        // a loader reading the saved files from memory, whole or for routing
        let loader = |opts: ReadOptions| {
            let files = files.clone();
            move |p: &Path| -> Result<Directory, String> {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                let bytes = files.get(name).ok_or_else(|| format!("no file {name}"))?;
                read_directory_with(&bytes[..], &opts).map_err(|e| e.to_string())
            }
        };
        let (whole_loader, lean_loader) = (loader(ReadOptions::default()), loader(ReadOptions::routing()));
        let parse = |o: &LoadOptions<'_>| Scenario::parse(&saved.toml, "split.toml", o).unwrap();
        let whole = parse(&LoadOptions::with_ldif_loader(&whole_loader));
        let in_reader = parse(&LoadOptions::with_ldif_loader(&lean_loader));
        let after_loader = parse(&LoadOptions::with_ldif_loader(&whole_loader).routing());
        assert_same_answers(&whole, &in_reader, &g.describe());
        assert_same_answers(&whole, &after_loader, &g.describe());
    }
}

/// The reduction is worth it on a real-looking account: most of its bytes go.
#[test]
fn a_real_looking_account_shrinks() {
    let ldif = "dn: uid=ann,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\n\
objectClass: zimbraAccount\nuid: ann\ncn: Ann\nsn: A\nmail: ann@example.org\n\
zimbraMailDeliveryAddress: ann@example.org\nzimbraMailHost: mbox1.example.org\n\
zimbraMailTransport: lmtp:mbox1.example.org:7025\nzimbraMailStatus: enabled\n\
zimbraAccountStatus: active\nuserPassword: {SSHA512}aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8=\n\
zimbraPrefMailSignature: Ann A | Department 2 | Phone +1 555 0199 | This message may contain\n\
zimbraPrefLocale: en_US\nentryUUID: 56dbe01e-846b-473b-ab2c-eebb7cd2afc0\n\
entryCSN: 20240416033933.000099Z#000000#000#000000\ncreateTimestamp: 20240416033933Z\n";
    let whole = read_directory_with(ldif.as_bytes(), &ReadOptions::default()).unwrap();
    let lean = read_directory_with(ldif.as_bytes(), &ReadOptions::routing()).unwrap();
    let (w, l) = (
        whole.account("ann@example.org").unwrap(),
        lean.account("ann@example.org").unwrap(),
    );
    assert!(l.attrs.heap_bytes() * 2 < w.attrs.heap_bytes());
    let names: Vec<&str> = l.attrs.iter().map(|a| a.name()).collect();
    assert_eq!(
        names,
        [
            "objectClass",
            "uid",
            "cn",
            "mail",
            "zimbraMailDeliveryAddress",
            "zimbraMailHost",
            "zimbraMailTransport",
            "zimbraMailStatus",
            "zimbraAccountStatus"
        ]
    );
}
