//! Measures a domain move on generated Zimbra-like directories: wall time and peak RSS of
//! planning and writing the move (`dit::plan_move_file` + `write_ldif`, what `move_domain`
//! does), next to `ldapmodify -n -c -f` on the same source file.
//!
//! ```text
//! cargo run --release --example move_bench -- [ACCOUNTS [DOMAINS [TARGET_ACCOUNTS [RUNS]]]] [--dir DIR]
//! ```
//!
//! Defaults: 200,000 source accounts over 2 domains (≈ 500 MB; `domain0.com`, the moved
//! domain, holds 100,000), a target of 100,000 accounts, 3 runs; files are generated once into
//! DIR (default: the system's temporary directory). Prints the load average with each run:
//! measure on a quiet machine.

#[path = "support/move_bench.rs"]
mod move_bench;

use std::path::PathBuf;
use std::time::Instant;

use zimbra_prov::dit::{self, MoveOptions};

/// The allocator settings of the `zimbra-prov` binary, so that this measures what it does.
#[path = "../src/bin/zimbra-prov/malloc.rs"]
mod malloc;

fn main() {
    malloc::tune();
    let mut nums: Vec<usize> = Vec::new();
    let mut dir = std::env::temp_dir();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), a.parse()) {
            ("--dir", _) => dir = args.next().map(PathBuf::from).unwrap_or(dir),
            (_, Ok(n)) => nums.push(n),
            _ => {
                eprintln!(
                    "usage: move_bench [ACCOUNTS [DOMAINS [TARGET_ACCOUNTS [RUNS]]]] [--dir DIR]"
                );
                std::process::exit(2);
            }
        }
    }
    let n = |i: usize, d: usize| nums.get(i).copied().unwrap_or(d);
    let (accounts, domains, target_accounts, runs) =
        (n(0, 200_000), n(1, 2), n(2, 100_000), n(3, 3));
    let (src, tgt) = move_bench::files(&dir, accounts, domains, target_accounts);
    let size = |p: &PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    println!(
        "source {} ({:.0} MB, {accounts} accounts in {domains} domains), target {} ({:.0} MB, {target_accounts} accounts), {} cores",
        src.display(),
        size(&src),
        tgt.display(),
        size(&tgt),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let out = dir.join("move-bench-out.ldif");
    let opts = MoveOptions {
        rename: Some("migrate.domain0.com".into()),
        ..Default::default()
    };
    for run in 1..=runs {
        let load = move_bench::load();
        let reset = move_bench::reset_peak_rss();
        let cpu0 = move_bench::cpu_seconds();
        let start = Instant::now();
        let plan = dit::plan_move_file(&src, &tgt, "domain0.com", &opts)
            .unwrap_or_else(|e| panic!("plan: {e}"));
        let planned = start.elapsed().as_secs_f64();
        assert!(plan.is_clean(), "{plan}");
        let file = std::fs::File::create(&out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
        let written = plan
            .write_ldif(std::io::BufWriter::with_capacity(1 << 20, file))
            .unwrap_or_else(|e| panic!("write: {e}"));
        let total = start.elapsed().as_secs_f64();
        let cpu = match (cpu0, move_bench::cpu_seconds()) {
            (Some(a), Some(b)) => format!("{:.2} s", b - a),
            _ => "?".into(),
        };
        let rss =
            move_bench::peak_rss().map_or("?".into(), |b| format!("{:.0} MB", b as f64 / 1e6));
        println!(
            "run {run}: move of domain0.com ({written} entries): plan {planned:.2} s, write {:.2} s, total {total:.2} s (CPU {cpu}), peak RSS {rss}{}; load {load}",
            total - planned,
            if reset { "" } else { " (since start)" },
        );
        drop(plan);
    }
    match move_bench::ldapmodify(&src) {
        Some((secs, rss)) => println!(
            "reference: ldapmodify -n -c -f (source): {secs:.2} s, peak RSS {}; load {}",
            rss.map_or("?".into(), |kb| format!("{:.0} MB", kb as f64 / 1e3)),
            move_bench::load()
        ),
        None => println!("reference: ldapmodify not run (not installed?)"),
    }
    let _ = std::fs::remove_file(&out);
}
