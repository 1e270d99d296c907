//! Read and write throughput on a generated Zimbra-like slapcat file (default 100,000
//! accounts, ~250 MB; `LDIF_BENCH_ACCOUNTS` overrides). Also times `ldapmodify -a -n -f`
//! on the same file once, when installed, and prints its MB/s for comparison.
//!
//! Two hostile shapes (issue 14) are read from memory too: 1,000,000 comment lines inside one
//! record (quadratic before the fix: every line scanned the rest of the buffer for a `:`) and
//! one 8 MB record of tiny values (`a: 1`, 1.6 million values).

#[path = "../examples/support/slapcat_gen.rs"]
mod slapcat_gen;

use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use zimbra_prov::ldif::{Reader, Record, Writer, WriterOptions};

fn bench_file() -> (PathBuf, u64) {
    let accounts: usize = std::env::var("LDIF_BENCH_ACCOUNTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let path = std::env::temp_dir().join(format!("zimbra-prov-bench-{accounts}.ldif"));
    if !path.exists() {
        let tmp = path.with_extension("tmp");
        let f = std::fs::File::create(&tmp).unwrap_or_else(|e| panic!("{}: {e}", tmp.display()));
        let mut w = std::io::BufWriter::new(f);
        let done = slapcat_gen::generate(accounts, 50, &mut w).and_then(|_| w.flush());
        done.unwrap_or_else(|e| panic!("generate: {e}"));
        std::fs::rename(&tmp, &path).unwrap_or_else(|e| panic!("rename: {e}"));
    }
    let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    (path, len)
}

fn ldapmodify_reference(path: &PathBuf, len: u64) {
    let start = Instant::now();
    let out = std::process::Command::new("ldapmodify")
        .args(["-a", "-n", "-f"])
        .arg(path)
        .stdout(std::process::Stdio::null())
        .status();
    match out {
        Ok(s) if s.success() => {
            let secs = start.elapsed().as_secs_f64();
            println!(
                "reference: ldapmodify -a -n -f {} : {secs:.3} s, {:.1} MB/s",
                path.display(),
                len as f64 / 1e6 / secs
            );
        }
        other => println!("reference: ldapmodify not run ({other:?})"),
    }
}

fn benches(c: &mut Criterion) {
    let (path, len) = bench_file();
    let data = std::fs::read(&path).unwrap_or_default();
    ldapmodify_reference(&path, len);

    let mut g = c.benchmark_group("ldif");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(len));
    g.bench_function("read_borrowed_file", |b| {
        b.iter(|| {
            let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{e}"));
            let mut r = Reader::new(BufReader::with_capacity(1 << 17, f));
            let mut n = 0u64;
            while let Ok(Some(rec)) = r.next_ref() {
                n += rec.attribute_count() as u64;
            }
            n
        })
    });
    g.bench_function("read_owned_file", |b| {
        b.iter(|| {
            let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{e}"));
            let r = Reader::new(BufReader::with_capacity(1 << 17, f));
            r.filter_map(Result::ok).count()
        })
    });
    let mut comments = b"dn: cn=a\ncn: a\n".to_vec();
    for _ in 0..1_000_000 {
        comments.extend_from_slice(b"# comment\n");
    }
    comments.extend_from_slice(b"sn: b\n");
    g.throughput(Throughput::Bytes(comments.len() as u64));
    g.bench_function("read_comment_lines", |b| {
        b.iter(|| {
            let mut r = Reader::new(&comments[..]);
            let mut n = 0;
            while let Ok(Some(rec)) = r.next_ref() {
                n += rec.attribute_count();
            }
            n
        })
    });
    let mut tiny = b"dn: cn=a\n".to_vec();
    for i in 0..1_600_000 {
        tiny.extend_from_slice(format!("a: {}\n", i % 10).as_bytes());
    }
    g.throughput(Throughput::Bytes(tiny.len() as u64));
    g.bench_function("read_tiny_values", |b| {
        b.iter(|| {
            let mut r = Reader::new(&tiny[..]);
            let mut n = 0;
            while let Ok(Some(rec)) = r.next_ref() {
                n += rec.attributes().count();
            }
            n
        })
    });
    g.throughput(Throughput::Bytes(len));
    // write: the records of the first ~25 MB held in memory, written to a sink
    let cut = data.len().min(25 << 20);
    let cut = data
        .get(..cut)
        .and_then(|d| d.windows(2).rposition(|w| w == b"\n\n"))
        .unwrap_or(0);
    let records: Vec<Record> = Reader::new(data.get(..cut + 1).unwrap_or_default())
        .filter_map(Result::ok)
        .collect();
    let mut out = Vec::with_capacity(cut + (1 << 20));
    {
        let mut w = Writer::new(&mut out, WriterOptions::slapadd_mode());
        records.iter().for_each(|r| drop(w.write_record(r)));
    }
    g.throughput(Throughput::Bytes(out.len() as u64));
    g.bench_function("write_slapadd", |b| {
        b.iter(|| {
            out.clear();
            let mut w = Writer::new(&mut out, WriterOptions::slapadd_mode());
            for r in &records {
                let _ = w.write_record(r);
            }
            w.records_written()
        })
    });
    g.finish();
}

criterion_group!(ldif, benches);
criterion_main!(ldif);
