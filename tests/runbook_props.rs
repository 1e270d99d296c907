//! Property: for generated migration specs (every strategy, shuffled orders, users left
//! behind), the planner emits a runbook whose every state verifies — checked again here,
//! independently, with `verify::check` — and that, applied to the topology, ends with every
//! moved user delivered to its mailbox at the target. 256 specs per run (about a minute of CPU
//! in a debug build); `ZIMBRA_PROV_RUNBOOK_CASES=N` runs N.

use proptest::prelude::*;
use zimbra_prov::route::{simulate, Disposition, Entry};
use zimbra_prov::runbook::{plan, StrategyKind};
use zimbra_prov::strategy::{migration_spec, SpecGen};
use zimbra_prov::verify::{check, FindingKind};

fn cases() -> u32 {
    std::env::var("ZIMBRA_PROV_RUNBOOK_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn check_spec(g: &zimbra_prov::strategy::GeneratedSpec) -> Result<(), TestCaseError> {
    let spec = g
        .spec()
        .map_err(|e| TestCaseError::fail(format!("{e}\n{}", g.toml)))?;
    let rb = plan(&spec).map_err(|e| TestCaseError::fail(format!("{e}\n--- spec\n{}", g.toml)))?;
    let states = rb.topologies();
    prop_assert_eq!(states.len(), rb.steps.len() + 1);
    for (name, topo) in &states {
        let r = check(topo);
        for k in [FindingKind::Loop, FindingKind::LostMail] {
            prop_assert_eq!(
                r.count(k),
                0,
                "{} after {}\n{}\n--- spec\n{}",
                k,
                name,
                r.to_text(),
                g.toml
            );
        }
    }
    for s in &rb.steps {
        prop_assert!(s.verification.ok, "{}", s.id);
        prop_assert_eq!(&s.rollback_check, &Ok(()), "{}\n{}", s.id, g.toml);
    }
    let last = &states[states.len() - 1].1;
    let mut moved = 0;
    for (_, users) in &rb.batches {
        for (src, dst) in users {
            moved += 1;
            let t = simulate(last, &Entry::Internet, src)
                .expect("a known entry and a parsable address");
            let at_target = t.leaves().iter().any(|l| {
                matches!(l.disposition, Disposition::Delivered { host, mailbox }
                    if host.eq_ignore_ascii_case(&rb.final_host) && mailbox.eq_ignore_ascii_case(dst))
            });
            let elsewhere = t.leaves().iter().any(|l| match l.disposition {
                Disposition::Delivered { host, mailbox } => {
                    mailbox != "(discarded)" && !host.eq_ignore_ascii_case(&rb.final_host)
                }
                _ => true,
            });
            prop_assert!(
                at_target && !elsewhere,
                "{src}\n{}\n--- spec\n{}",
                t.to_text(),
                g.toml
            );
        }
    }
    prop_assert!(moved > 0);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases() / 2, ..ProptestConfig::default() })]

    #[test]
    fn split_domain_specs_plan_proven_runbooks(g in migration_spec(SpecGen::default().only(&[
        StrategyKind::SplitPrimaryZimbra,
        StrategyKind::SplitPrimaryOther,
    ]))) {
        check_spec(&g)?;
    }

    #[test]
    fn other_strategies_plan_proven_runbooks(g in migration_spec(SpecGen::default().only(&[
        StrategyKind::Subdomain,
        StrategyKind::MtaHead,
        StrategyKind::SameLdapNewMailstore,
        StrategyKind::DomainMove,
    ]))) {
        check_spec(&g)?;
    }
}
