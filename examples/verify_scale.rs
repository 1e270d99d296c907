//! Measures `verify::check` on a generated split-domain topology (two Zimbra MTAs, Exchange, a
//! mail filter; see `support/verify_scale.rs`).
//!
//! `cargo run --release --example verify_scale -- [ACCOUNTS...] [--threads N]` (default 1000000
//! accounts, every core); prints, per size, the build and check times, classes, addresses, entry
//! points, simulations and findings. `--threads 1` and `--threads 2` compare the parallel
//! classes (the check's wall time; CPU times are the main thread's). Peak memory:
//! `/usr/bin/time -v target/release/examples/verify_scale 1000000`.

#[path = "support/verify_scale.rs"]
mod verify_scale;

use std::time::Instant;

/// CPU time of this thread in seconds (Linux `/proc/thread-self/schedstat`), so that the figures
/// hold on a loaded machine; wall-clock time where it is not available.
fn cpu(wall: Instant) -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map(|ns| ns / 1e9)
        .unwrap_or_else(|| wall.elapsed().as_secs_f64())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads = args
        .iter()
        .position(|a| a == "--threads")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    let opts = zimbra_prov::verify::CheckOptions::threads(threads);
    let sizes: Vec<usize> = {
        let v: Vec<usize> = args
            .iter()
            .enumerate()
            .filter(|(i, _)| *i == 0 || args.get(i - 1).is_none_or(|p| p != "--threads"))
            .filter_map(|(_, s)| s.parse().ok())
            .collect();
        if v.is_empty() {
            vec![1_000_000]
        } else {
            v
        }
    };
    for n in sizes {
        let start = Instant::now();
        let t0 = cpu(start);
        let topo = verify_scale::topology(n);
        let t1 = cpu(start);
        let classes = zimbra_prov::verify::classify(&[&topo]);
        drop(classes);
        let t2 = cpu(start);
        let wall = Instant::now();
        let report = zimbra_prov::verify::check_with(&topo, &opts);
        let wall = wall.elapsed().as_secs_f64();
        let t3 = cpu(start);
        let (build, classify, check) = (t1 - t0, t2 - t1, t3 - t2);
        println!(
            "{n} accounts, {} threads (CPU seconds): build {:.2}, classify alone {:.2}, check {:.2} (wall {:.2}); {} addresses in {} classes, {} entry points, {} simulations; {} findings (loop {}, lost {}, deferred {})",
            if threads == 0 { "all".to_string() } else { threads.to_string() },
            build,
            classify,
            check,
            wall,
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
