//! proptest strategies for Zimbra addresses and directories (feature `proptest`).
//!
//! Other crates use these to property-test their own code against realistic Zimbra data: every
//! generated [`Directory`](crate::model::Directory) is built by zmprov commands (so it holds
//! exactly what Zimbra would store), and comes with the script that built it, so a failing case
//! can be replayed by hand.
//!
//! The generated directories cover what shapes mail routing: local and alias domains, accounts in
//! every status, LMTP / SMTP / `[host]` / `error:` transports, aliases, distribution lists with
//! internal and external members, forwarding with and without local delivery, catch-all
//! accounts, split-domain catch-alls with a domain transport, alias domains with catch-all
//! forwarding, canonical addresses and canonical catch-alls, dynamic groups.
//! [`DirectorySpec::with_migration_shapes`] adds what directories brought by migrations hold
//! (hand edits after zmprov, a slapcat order that is neither DN nor zmprov order; the file is
//! [`GeneratedDirectory::slapcat`]).
//!
//! Layout: `directory` (the zmprov-built directories), `migration` (the migration shapes),
//! `split` (split-domain topologies and migration plans).
//!
//! ```
//! use proptest::prelude::*;
//! use zimbra_prov::model::MailRecipient;
//! use zimbra_prov::strategy::{directory, DirectorySpec};
//!
//! proptest! {
//!     #![proptest_config(ProptestConfig::with_cases(16))]
//!     // in a test file this function would carry #[test]
//!     fn every_account_has_a_delivery_address(g in directory(DirectorySpec::default())) {
//!         for a in g.directory.accounts() {
//!             prop_assert_eq!(a.delivery_addresses().unwrap(), vec![a.name.clone()], "{}", g.script);
//!         }
//!     }
//! }
//! # every_account_has_a_delivery_address();
//! ```

mod directory;
mod migration;
mod split;

pub use directory::{
    account_status, address, directory, domain_name, DirectorySpec, GeneratedDirectory,
};
pub use split::{
    migration_plan, split_domain_topology, GeneratedPlan, GeneratedTopology, Home, SecondaryKind,
    SplitDomainSpec,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Directory;
    use crate::model::MailRecipient;
    use crate::zmprov;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn scripts_replay_to_the_same_directory(g in directory(DirectorySpec::default())) {
            let mut again = Directory::new();
            zmprov::run(&mut again, &g.script).unwrap();
            prop_assert_eq!(again, g.directory);
        }

        #[test]
        fn generated_values_are_typed(g in directory(DirectorySpec::default())) {
            for a in g.directory.accounts() {
                prop_assert!(a.status().unwrap().is_some());
                let _ = a.transport().unwrap();
                let _ = a.pref_forwarding_addresses().unwrap();
                let _ = a.catch_all_addresses().unwrap();
            }
            prop_assert!(!g.interesting_addresses().is_empty());
        }
    }

    // a migrated directory is exactly what its slapcat file reads back as
    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        #[test]
        fn migration_shapes_read_back_from_their_slapcat(
            g in directory(DirectorySpec::default().with_migration_shapes())
        ) {
            let text = g.slapcat.as_deref().expect("a slapcat file");
            let again = crate::dit::read_directory(text.as_bytes()).unwrap();
            prop_assert_eq!(&again, &g.directory);
            // the zmprov part of the script still replays (the edits are comments)
            let mut base = Directory::new();
            zmprov::run(&mut base, &g.script).unwrap();
        }
    }

    /// The migration shapes the differential test relies on all come up.
    #[test]
    fn the_generator_reaches_every_migration_shape() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;
        let mut runner = TestRunner::deterministic();
        let strat = directory(DirectorySpec::default().with_migration_shapes());
        let mut seen = std::collections::BTreeSet::new();
        let mut not_dn_order = 0;
        for _ in 0..40 {
            let g = strat.new_tree(&mut runner).unwrap().current();
            for key in [
                "again in migrate.",
                "also answers",
                "SMTP:",
                "Lmtp:",
                "\" smtp:",
                "smtp-amavis:",
                "error:4.2.2",
                "retry:5.1.1",
                "doe, john",
                "Old Name <",
                "!",
                "-archive@",
                "xn--",
                "account -",
                "xxxxxxxxxxxxxxxxxxxx",
                "zimbraMailAlias \"",
            ] {
                if g.script.contains(key) {
                    seen.insert(key);
                }
            }
            let accounts: Vec<String> = g
                .directory
                .entries_in_order()
                .into_iter()
                .filter_map(|e| match e {
                    crate::model::EntryRef::Account(a) => Some(a.name.key()),
                    _ => None,
                })
                .collect();
            let mut sorted = accounts.clone();
            sorted.sort();
            if sorted != accounts {
                not_dn_order += 1;
            }
        }
        assert_eq!(seen.len(), 16, "missing shapes, seen only {seen:?}");
        assert!(not_dn_order > 20, "creation order is DN order too often");
    }

    #[test]
    fn the_generator_reaches_every_feature() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;
        let mut runner = TestRunner::deterministic();
        let strat = directory(DirectorySpec {
            max_ops: 40,
            ..DirectorySpec::default()
        });
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let g = strat.new_tree(&mut runner).unwrap().current();
            for line in g.script.lines() {
                let word = line.split_whitespace().next().unwrap_or("").to_string();
                seen.insert(word);
                for key in [
                    "zimbraMailCatchAllForwardingAddress",
                    "zimbraMailCatchAllCanonicalAddress",
                    "zimbraPrefMailLocalDeliveryDisabled",
                    "zimbraMailCanonicalAddress",
                    "error:",
                    "smtp:[",
                    "zimbraMailStatus disabled",
                    "closed",
                    "maintenance",
                ] {
                    if line.contains(key) {
                        seen.insert(key.to_string());
                    }
                }
            }
        }
        for want in [
            "cs",
            "cd",
            "ca",
            "ma",
            "aaa",
            "cdl",
            "adlm",
            "md",
            "cad",
            "zimbraMailCatchAllForwardingAddress",
            "zimbraMailCatchAllCanonicalAddress",
            "zimbraPrefMailLocalDeliveryDisabled",
            "zimbraMailCanonicalAddress",
            "error:",
            "smtp:[",
            "zimbraMailStatus disabled",
            "closed",
            "maintenance",
        ] {
            assert!(
                seen.contains(want),
                "generator never produced {want}: {seen:?}"
            );
        }
    }
}
