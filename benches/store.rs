//! The compact store: loading a generated Zimbra-like slapcat into a `Directory` on one thread
//! and on all cores, building a Zimbra MTA's routing index over it, and zmprov adding many
//! members to a list. `STORE_BENCH_ACCOUNTS` sets the size (default 20,000 accounts, ~50 MB);
//! `ldapmodify -n -c -f` on the same file is timed once for comparison. Wall time and peak RSS
//! at 100,000 and 1,000,000 accounts: `cargo run --release --example store_scale`.

#[path = "../examples/support/slapcat_gen.rs"]
mod slapcat_gen;

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use zimbra_prov::dit::{read_directory_with, ReadOptions};
use zimbra_prov::model::Directory;
use zimbra_prov::route::ZimbraMta;
use zimbra_prov::zmprov;

fn slapcat() -> Vec<u8> {
    let accounts: usize = std::env::var("STORE_BENCH_ACCOUNTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let mut out = Vec::new();
    slapcat_gen::generate(accounts, 50, &mut out).unwrap_or_else(|e| panic!("generate: {e}"));
    out
}

fn ldapmodify_reference(text: &[u8]) {
    let path = std::env::temp_dir().join(format!("zimbra-prov-store-bench-{}.ldif", text.len()));
    if std::fs::write(&path, text).is_err() {
        return;
    }
    let start = Instant::now();
    let status = std::process::Command::new("ldapmodify")
        .args(["-n", "-c", "-f"])
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    match status {
        Ok(_) => println!(
            "reference: ldapmodify -n -c -f ({} MB): {:.3} s",
            text.len() / 1_000_000,
            start.elapsed().as_secs_f64()
        ),
        Err(e) => println!("reference: ldapmodify not run ({e})"),
    }
    let _ = std::fs::remove_file(&path);
}

fn load(text: &[u8], threads: usize) -> Directory {
    read_directory_with(text, &ReadOptions::with_threads(threads)).expect("generated LDIF loads")
}

fn bench(c: &mut Criterion) {
    let text = slapcat();
    ldapmodify_reference(&text);
    let mut g = c.benchmark_group("store");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("load, 1 thread", |b| b.iter(|| black_box(load(&text, 1))));
    g.bench_function("load, all threads", |b| {
        b.iter(|| black_box(load(&text, 0)))
    });
    let dir = load(&text, 0);
    g.bench_function("routing index", |b| {
        b.iter(|| black_box(ZimbraMta::from_directory(&dir, "mta.example.net")))
    });
    let members: Vec<String> = (0..10_000)
        .map(|i| format!("m{i}@partner.example"))
        .collect();
    let script = format!("adlm list@example.org {}", members.join(" "));
    g.throughput(Throughput::Elements(members.len() as u64));
    g.bench_function("zmprov adlm, 10,000 members", |b| {
        b.iter(|| {
            let mut d = Directory::new();
            zmprov::run(
                &mut d,
                "cs mbx.example.org\ncd example.org\ncdl list@example.org",
            )
            .expect("setup");
            zmprov::run(&mut d, &script).expect("adlm");
            black_box(d)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
