//! Measures `verify::check` on hostile topologies (issue 14): distribution lists naming each
//! other across K Zimbra MTAs, and forwarding chains of N accounts (see `support/hostile.rs`).
//!
//! `cargo run --release --example verify_hostile -- all-to-all K | chain N | chain-across N`
//! prints wall time, peak RSS (VmHWM), classes, simulations, findings and report lines.
//! `--write FILE` writes the scenario TOML instead (for `route verify FILE`).

#[path = "support/hostile.rs"]
mod hostile;

use std::time::Instant;

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (kind, n) = match args.as_slice() {
        [k, n, ..] => (k.as_str(), n.parse::<usize>().unwrap_or(5)),
        _ => {
            eprintln!(
                "usage: verify_hostile (all-to-all K | chain N | chain-across N) [--write FILE]"
            );
            std::process::exit(2);
        }
    };
    let text = match kind {
        "all-to-all" => hostile::all_to_all(n),
        "chain" => hostile::chain(n, false),
        "chain-across" => hostile::chain(n, true),
        _ => {
            eprintln!("unknown kind {kind}");
            std::process::exit(2);
        }
    };
    if let Some(i) = args.iter().position(|a| a == "--write") {
        let Some(f) = args.get(i + 1) else {
            eprintln!("--write needs a file");
            std::process::exit(2);
        };
        if let Err(e) = std::fs::write(f, &text) {
            eprintln!("{f}: {e}");
            std::process::exit(2);
        }
        return;
    }
    let t0 = Instant::now();
    let sc = zimbra_prov::scenario::Scenario::parse(&text, "hostile.toml", &Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let load = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let report = zimbra_prov::verify::check(&sc.stages[0].topology);
    let check = t1.elapsed().as_secs_f64();
    let text = report.to_text();
    println!(
        "{kind} {n}: load {load:.2} s, check {check:.2} s, peak RSS {:.0} MB; {} classes, {} simulations, {} findings, {} report lines",
        peak_rss_mb(),
        report.classes.len(),
        report.simulations,
        report.findings.len(),
        text.lines().count()
    );
    for l in text.lines().take(6) {
        println!("  {l}");
    }
}
