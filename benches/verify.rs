//! `verify::check` on a generated split domain of 100,000 accounts over four MTAs (two Zimbra,
//! Exchange, a mail filter; see `examples/support/verify_scale.rs`). Target: 1,000,000
//! accounts in ≤ 10 s on one core, growing linearly — `cargo run --release --example
//! verify_scale -- 10000 100000 1000000` prints the figures. Run with `cargo bench --bench verify`.

#[path = "../examples/support/verify_scale.rs"]
mod verify_scale;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use zimbra_prov::verify::{check, classify};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("verify");
    for n in [10_000usize, 100_000] {
        let topo = verify_scale::topology(n);
        let report = check(&topo);
        assert!(report.addresses >= n as u64);
        assert!(!report.has_loop_or_lost(), "{}", report.to_text());
        g.throughput(Throughput::Elements(report.addresses));
        g.bench_function(format!("check_{n}_accounts"), |b| {
            b.iter(|| black_box(check(black_box(&topo))))
        });
        g.bench_function(format!("classify_{n}_accounts"), |b| {
            b.iter(|| black_box(classify(&[black_box(&topo)])))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
