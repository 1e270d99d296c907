//! Measures `verify::check` on a generated split-domain topology (two Zimbra MTAs, Exchange, a
//! mail filter; see `support/verify_scale.rs`).
//!
//! `cargo run --release --example verify_scale -- [ACCOUNTS...]` (default 1000000); prints, per
//! size, the build and check times, classes, addresses, entry points, simulations and findings.
//! Peak memory: `/usr/bin/time -v target/release/examples/verify_scale 1000000`.

#[path = "support/verify_scale.rs"]
mod verify_scale;

use std::time::Instant;

fn main() {
    let sizes: Vec<usize> = {
        let v: Vec<usize> = std::env::args()
            .skip(1)
            .filter_map(|s| s.parse().ok())
            .collect();
        if v.is_empty() {
            vec![1_000_000]
        } else {
            v
        }
    };
    for n in sizes {
        let t0 = Instant::now();
        let topo = verify_scale::topology(n);
        let build = t0.elapsed();
        let t1 = Instant::now();
        let classes = zimbra_prov::verify::classify(&[&topo]);
        let classify = t1.elapsed();
        drop(classes);
        let t1 = Instant::now();
        let report = zimbra_prov::verify::check(&topo);
        let check = t1.elapsed();
        println!(
            "{n} accounts: build {:.2} s, classify alone {:.2} s, check {:.2} s; {} addresses in {} classes, {} entry points, {} simulations; {} findings (loop {}, lost {}, deferred {})",
            build.as_secs_f64(),
            classify.as_secs_f64(),
            check.as_secs_f64(),
            report.addresses,
            report.classes.len(),
            report.entry_points,
            report.simulations,
            report.findings.len(),
            report.count(zimbra_prov::verify::FindingKind::Loop),
            report.count(zimbra_prov::verify::FindingKind::LostMail),
            report.count(zimbra_prov::verify::FindingKind::DeferredForever),
        );
        for f in report.findings.iter().take(10) {
            println!("  {}", f.line());
        }
    }
}
