//! A 100,000-account domain move out of a ~500 MB source (200,000 accounts over 2 domains;
//! `MOVE_BENCH_ACCOUNTS` and `MOVE_BENCH_TARGET` override the source and target sizes):
//! planning alone, and planning plus writing the LDIF (to a sink), as `move_domain` does.
//! Times `ldapmodify -n -c -f` on the same source once, for comparison. Peak RSS:
//! `cargo run --release --example move_bench`.

#[path = "../examples/support/move_bench.rs"]
mod move_bench;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use zimbra_prov::dit::{self, MoveOptions};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn benches(c: &mut Criterion) {
    let accounts = env("MOVE_BENCH_ACCOUNTS", 200_000);
    let target = env("MOVE_BENCH_TARGET", 100_000);
    let (src, tgt) = move_bench::files(&std::env::temp_dir(), accounts, 2, target);
    let len = std::fs::metadata(&src).map(|m| m.len()).unwrap_or(0);
    match move_bench::ldapmodify(&src) {
        Some((secs, _)) => println!(
            "reference: ldapmodify -n -c -f {} : {secs:.3} s, {:.1} MB/s",
            src.display(),
            len as f64 / 1e6 / secs
        ),
        None => println!("reference: ldapmodify not run"),
    }
    let opts = MoveOptions {
        rename: Some("migrate.domain0.com".into()),
        ..Default::default()
    };
    let mut g = c.benchmark_group("move");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(len));
    g.bench_function("plan_move_file", |b| {
        b.iter(|| {
            let plan = dit::plan_move_file(&src, &tgt, "domain0.com", &opts)
                .unwrap_or_else(|e| panic!("{e}"));
            plan.entries.len()
        })
    });
    g.bench_function("plan_and_write_ldif", |b| {
        b.iter(|| {
            let plan = dit::plan_move_file(&src, &tgt, "domain0.com", &opts)
                .unwrap_or_else(|e| panic!("{e}"));
            plan.write_ldif(std::io::sink())
                .unwrap_or_else(|e| panic!("{e}"))
        })
    });
    g.finish();
}

criterion_group!(moves, benches);
criterion_main!(moves);
