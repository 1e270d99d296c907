//! How big can it go? Wall time and peak memory of loading Zimbra-like slapcat files, building
//! the routing index and verifying a 2-MTA topology over them, side by side with OpenLDAP's
//! `ldapmodify -n -c -f FILE` (its C LDIF parser, nothing kept) on the same file.
//!
//! ```text
//! cargo run --release --example store_scale -- [ACCOUNTS...] [--dir DIR] [--repeat N] [--skip-verify]
//! ```
//!
//! For each size (default 100000) the file `DIR/slapcat-<N>.ldif` is generated when missing
//! (`support/slapcat_gen.rs`, 50 domains, ~2.5 KB per account; DIR defaults to
//! `target/store_scale`). Every measurement runs in a fresh child process (this program with
//! `child ...` arguments), so each peak RSS (`VmHWM` of `/proc/self/status`) is that phase's
//! own; `ldapmodify` runs under `/usr/bin/time -f "%e %M"`. With `--repeat N` each
//! measurement is repeated and the fastest run is kept. The machine's load average is printed
//! before each size: measure on a quiet machine.
//!
//! Rows: `ldapmodify -n -c` · `load (1 thread)` · `load (all threads)` · `load + index` ·
//! `load + index` keeping only the attributes routing reads · `verify 2 MTAs, 1 directory` ·
//! for sizes ≥ 1,000,000 also `verify 2 MTAs, 2 directories`. `verify` loads as
//! `zimbra-prov route verify` does: accounts keep only the attributes routing reads.

#[path = "support/slapcat_gen.rs"]
mod slapcat_gen;

#[path = "support/proc_stats.rs"]
mod proc_stats;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use proc_stats::{cpu_seconds, peak_rss_kb};

use zimbra_prov::dit::{read_directory_with, ReadOptions};
use zimbra_prov::route::{IndexOptions, MtaIndex, ZimbraMta};

const DOMAINS: usize = 50;

/// Reads `file`; `routing`: accounts keep only what routing reads (as `zimbra-prov route`
/// loads).
fn load(file: &Path, threads: usize, routing: bool) -> zimbra_prov::model::Directory {
    let f = std::fs::File::open(file).unwrap_or_else(|e| die(&format!("{}: {e}", file.display())));
    let mut opts = ReadOptions::with_threads(threads);
    opts.routing_only = routing;
    read_directory_with(f, &opts).unwrap_or_else(|e| die(&format!("{}: {e}", file.display())))
}

fn die(msg: &str) -> ! {
    eprintln!("store_scale: {msg}");
    std::process::exit(2)
}

/// Leaves a loaded structure to the operating system at exit, as `zimbra-prov` does, instead
/// of freeing it entry by entry.
fn keep_until_exit<T>(big: T) {
    std::mem::forget(big)
}

/// A child phase: prints `wall_seconds peak_rss_kb accounts`.
fn child(args: &[String]) {
    let phase = args.first().map(String::as_str).unwrap_or_default();
    let path = PathBuf::from(args.get(1).cloned().unwrap_or_default());
    let routing = args.iter().any(|a| a == "routing");
    let start = Instant::now();
    let accounts = match phase {
        "load" => {
            let threads = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
            let dir = load(&path, threads, routing);
            let bags: usize = dir.accounts().map(|a| a.attrs.heap_bytes()).sum();
            eprintln!(
                "attribute buffers: {} bytes per account",
                bags / dir.account_count().max(1)
            );
            let n = dir.account_count();
            keep_until_exit(dir);
            n
        }
        "index" => {
            let dir = load(&path, 0, routing);
            let (cpu, wall) = (cpu_seconds(), Instant::now());
            let mta = ZimbraMta::from_directory(&dir, "mta1.example.net");
            let n = dir.account_count().max(1);
            eprintln!(
                "index alone (all threads): {:.2} s wall, {:.2} s CPU, {} bytes per account",
                wall.elapsed().as_secs_f64(),
                cpu_seconds() - cpu,
                mta.index().heap_bytes() / n
            );
            std::hint::black_box(&mta);
            if std::env::var_os("STORE_SCALE_INDEX_1T").is_some() {
                // a second build on one thread (the row's CPU and RSS then include it)
                drop(mta);
                let (cpu, wall) = (cpu_seconds(), Instant::now());
                let one = MtaIndex::build_with_threads(&dir, IndexOptions::default(), 1);
                eprintln!(
                    "index alone (1 thread): {:.2} s wall, {:.2} s CPU",
                    wall.elapsed().as_secs_f64(),
                    cpu_seconds() - cpu
                );
                std::hint::black_box(&one);
                keep_until_exit(one);
            } else {
                keep_until_exit(mta);
            }
            let n = dir.account_count();
            keep_until_exit(dir);
            n
        }
        "verify" => {
            // as `zimbra-prov route verify` loads it
            let opts = zimbra_prov::scenario::LoadOptions::default().routing();
            let sc = zimbra_prov::scenario::Scenario::load_with(&path, &opts)
                .unwrap_or_else(|e| die(&e.to_string()));
            let stage = sc.stages.first().unwrap_or_else(|| die("no stage"));
            let addresses = zimbra_prov::verify::check(&stage.topology).addresses as usize;
            keep_until_exit(sc);
            addresses
        }
        other => die(&format!("unknown phase {other:?}")),
    };
    println!(
        "{:.3} {} {accounts} {:.2}",
        start.elapsed().as_secs_f64(),
        peak_rss_kb(),
        cpu_seconds()
    );
}

/// Prints a row's peak RSS per account.
fn per_account(what: &str, m: Option<M>, accounts: usize) {
    if let Some((_, kb, _)) = m {
        println!(
            "|   {what}: {:.0} bytes per account (peak RSS / accounts) | | | | | |",
            kb as f64 * 1024.0 / accounts as f64
        );
    }
}

/// Runs a command `repeat` times; the fastest (wall, peak KB, CPU seconds).
fn measure(repeat: usize, mut run: impl FnMut() -> Option<M>) -> Option<M> {
    let mut best: Option<M> = None;
    for _ in 0..repeat.max(1) {
        let r = run()?;
        if best.is_none_or(|b| r.0 < b.0) {
            best = Some(r);
        }
    }
    best
}

/// Wall seconds, peak RSS in KB, CPU seconds (user + system).
type M = (f64, u64, f64);

fn run_child(args: &[&str]) -> Option<M> {
    let exe = std::env::current_exe().ok()?;
    let out = Command::new(exe).arg("child").args(args).output().ok()?;
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    for l in String::from_utf8_lossy(&out.stderr).lines() {
        eprintln!("  {l}");
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = text.split_whitespace().collect();
    Some((
        f.first()?.parse().ok()?,
        f.get(1)?.parse().ok()?,
        f.get(3)?.parse().ok()?,
    ))
}

fn run_ldapmodify(file: &Path) -> Option<M> {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "TIME %e %M %U %S", "ldapmodify", "-n", "-c", "-f"])
        .arg(file)
        .stdout(std::process::Stdio::null())
        .output()
        .ok()?;
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err.lines().rev().find(|l| l.starts_with("TIME "))?;
    let f: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    Some((*f.first()?, *f.get(1)? as u64, f.get(2)? + f.get(3)?))
}

fn scenario(path: &Path, files: &[&Path]) -> std::io::Result<()> {
    let mut s = String::from("name = \"store_scale: two Zimbra MTAs\"\n");
    for (i, f) in files.iter().enumerate() {
        s.push_str(&format!(
            "[[directory]]\nname = \"zcs{i}\"\nldif = \"{}\"\n",
            f.display()
        ));
    }
    for m in 0..2 {
        let d = if files.len() > 1 { m } else { 0 };
        s.push_str(&format!(
            "[[mta]]\nname = \"mta{n}\"\nkind = \"zimbra\"\nhostname = \"mta{n}.example.net\"\ndirectory = \"zcs{d}\"\nmynetworks = [\"10.0.0.0/24\"]\n",
            n = m + 1
        ));
    }
    let mx: Vec<String> = (0..DOMAINS)
        .map(|d| format!("\"domain{d}.com\" = [\"10 mta1.example.net\", \"20 mta2.example.net\"]"))
        .collect();
    s.push_str(&format!(
        "[dns]\nmx = {{ {} }}\na = {{ \"mta1.example.net\" = \"10.0.0.1\", \"mta2.example.net\" = \"10.0.0.2\" }}\n",
        mx.join(", ")
    ));
    std::fs::write(path, s)
}

fn ensure_file(dir: &Path, accounts: usize) -> PathBuf {
    let path = dir.join(format!("slapcat-{accounts}.ldif"));
    if !path.exists() {
        eprintln!("generating {} ...", path.display());
        let tmp = dir.join(format!("slapcat-{accounts}.ldif.tmp"));
        let res = std::fs::File::create(&tmp).and_then(|f| {
            let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
            slapcat_gen::generate(accounts, DOMAINS, &mut w)?;
            w.flush()
        });
        if let Err(e) = res.and_then(|_| std::fs::rename(&tmp, &path)) {
            die(&format!("{}: {e}", path.display()));
        }
    }
    path
}

fn row(what: &str, r: Option<M>, base: Option<M>, file_mb: f64) {
    match r {
        Some((wall, kb, cpu)) => {
            let ratio = base.map_or(String::new(), |(bw, _, _)| format!("{:>6.2}×", wall / bw));
            println!(
                "| {what:<34} | {wall:>8.2} s | {ratio:>8} | {cpu:>7.2} s | {:>8.0} MB | {:>5.2}× file |",
                kb as f64 / 1024.0,
                kb as f64 / 1024.0 / file_mb
            );
        }
        None => println!("| {what:<34} | failed |"),
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The allocator settings of the `zimbra-prov` binary, so that this measures what it does.
#[path = "../src/bin/zimbra-prov/malloc.rs"]
mod malloc;

fn main() {
    malloc::tune();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("child") {
        child(args.get(1..).unwrap_or_default());
        return;
    }
    let mut sizes = Vec::new();
    let mut dir = PathBuf::from("target/store_scale");
    let mut repeat = 1;
    let mut verify = true;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--dir" => dir = PathBuf::from(it.next().unwrap_or_else(|| die("--dir DIR"))),
            "--repeat" => {
                repeat = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| die("--repeat N"))
            }
            "--skip-verify" => verify = false,
            s => sizes.push(
                s.parse::<usize>()
                    .unwrap_or_else(|_| die(&format!("bad size {s}"))),
            ),
        }
    }
    if sizes.is_empty() {
        sizes.push(100_000);
    }
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| die(&e.to_string()));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for n in sizes {
        let file = ensure_file(&dir, n);
        let file_mb = std::fs::metadata(&file).map_or(0.0, |m| m.len() as f64 / 1048576.0);
        println!(
            "\n{n} accounts, {:.0} MB slapcat, {cores} cores, load average {} (fastest of {repeat})",
            file_mb,
            loadavg()
        );
        println!("| what | wall | vs ldapmodify | CPU | peak RSS | RSS / file |");
        println!("|---|---|---|---|---|---|");
        let f = file.to_string_lossy().to_string();
        let lm = measure(repeat, || run_ldapmodify(&file));
        row("ldapmodify -n -c -f FILE", lm, lm, file_mb);
        let one = measure(repeat, || run_child(&["load", &f, "1"]));
        row("load, 1 thread", one, lm, file_mb);
        let two = measure(repeat, || run_child(&["load", &f, "2"]));
        row("load, 2 threads", two, lm, file_mb);
        if let (Some(a), Some(b)) = (one, two) {
            println!("|   2 threads vs 1: {:.2}× faster | | | | | |", a.0 / b.0);
        }
        let idx = measure(repeat, || run_child(&["index", &f]));
        row("load + index (all threads)", idx, lm, file_mb);
        per_account("directory + index", idx, n);
        let routing = measure(repeat, || run_child(&["index", &f, "routing"]));
        row(
            "load + index, routing attributes only",
            routing,
            lm,
            file_mb,
        );
        per_account("directory + index, routing attributes only", routing, n);
        if verify {
            let sc = dir.join(format!("verify-{n}-1.toml"));
            scenario(&sc, &[&file]).unwrap_or_else(|e| die(&e.to_string()));
            let v = measure(repeat, || run_child(&["verify", &sc.to_string_lossy()]));
            row("route verify, 2 MTAs, 1 directory", v, lm, file_mb);
            per_account("route verify, 1 directory", v, n);
            if n >= 1_000_000 {
                let sc = dir.join(format!("verify-{n}-2.toml"));
                scenario(&sc, &[&file, &file]).unwrap_or_else(|e| die(&e.to_string()));
                let v = measure(repeat, || run_child(&["verify", &sc.to_string_lossy()]));
                row("route verify, 2 MTAs, 2 directories", v, lm, file_mb);
            }
        }
    }
}
