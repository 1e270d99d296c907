//! `ldif`: check, reformat and measure LDIF files with zimbra-prov's reader and writer.
//!
//! ```text
//! ldif check [--allow-mixed] [--url-base DIR] FILE...
//!     prints `FILE: N records (E entries, C changes)` per file and exits 0;
//!     on the first error prints `FILE:LINE: error: MESSAGE` and exits 1.
//! ldif fmt [--slapadd] [--wrap N] [--allow-mixed] [--url-base DIR] FILE
//!     writes FILE (`-` = stdin) back through the writer on stdout.
//! ldif stats FILE
//!     prints entries, attribute values, bytes, elapsed seconds and MB/s.
//! ```

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use zimbra_prov::ldif::{LdifError, Reader, ReaderOptions, Writer, WriterOptions};

const USAGE: &str = "usage: ldif check [--allow-mixed] [--url-base DIR] FILE...\n       \
                     ldif fmt [--slapadd] [--wrap N] [--allow-mixed] [--url-base DIR] FILE\n       \
                     ldif stats FILE";

struct Args {
    slapadd: bool,
    wrap: Option<usize>,
    opts: ReaderOptions,
    files: Vec<String>,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut a = Args {
        slapadd: false,
        wrap: None,
        opts: ReaderOptions::default(),
        files: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--slapadd" => a.slapadd = true,
            "--allow-mixed" => a.opts.allow_mixed_records = true,
            "--wrap" => {
                let v = it.next().ok_or("--wrap needs a number")?;
                a.wrap = Some(
                    v.parse()
                        .map_err(|_| format!("--wrap: not a number: {v}"))?,
                );
            }
            "--url-base" => {
                let v = it.next().ok_or("--url-base needs a directory")?;
                a.opts.url_base = Some(PathBuf::from(v));
            }
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            s => a.files.push(s.to_string()),
        }
    }
    Ok(a)
}

fn open(path: &str) -> io::Result<Box<dyn BufRead>> {
    if path == "-" {
        Ok(Box::new(BufReader::with_capacity(
            1 << 17,
            io::stdin().lock(),
        )))
    } else {
        Ok(Box::new(BufReader::with_capacity(
            1 << 17,
            File::open(path)?,
        )))
    }
}

fn report(file: &str, e: &LdifError) {
    let dn =
        e.dn.as_ref()
            .map(|d| format!(" (dn: {d})"))
            .unwrap_or_default();
    eprintln!("{file}:{}: error: {}{dn}", e.line, e.kind);
}

fn check(a: &Args) -> ExitCode {
    if a.files.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    for f in &a.files {
        let input = match open(f) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("{f}:0: error: {e}");
                return ExitCode::from(1);
            }
        };
        let mut r = Reader::with_options(input, a.opts.clone());
        let (mut entries, mut changes) = (0u64, 0u64);
        loop {
            match r.next_ref() {
                Ok(Some(rec)) if rec.is_change() => changes += 1,
                Ok(Some(_)) => entries += 1,
                Ok(None) => break,
                Err(e) => {
                    report(f, &e);
                    return ExitCode::from(1);
                }
            }
        }
        println!(
            "{f}: {} records ({entries} entries, {changes} changes)",
            entries + changes
        );
    }
    ExitCode::SUCCESS
}

fn fmt(a: &Args) -> ExitCode {
    let [f] = a.files.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let input = match open(f) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{f}:0: error: {e}");
            return ExitCode::from(1);
        }
    };
    let mut wo = if a.slapadd {
        WriterOptions::slapadd_mode()
    } else {
        WriterOptions::default()
    };
    if let Some(w) = a.wrap {
        wo.wrap = w;
    }
    let mut r = Reader::with_options(input, a.opts.clone());
    let mut w = Writer::new(BufWriter::with_capacity(1 << 17, io::stdout().lock()), wo);
    loop {
        match r.next_ref() {
            Ok(Some(rec)) => {
                if let Err(e) = w.write_ref(&rec) {
                    eprintln!("{f}:{}: error: {e}", rec.line());
                    return ExitCode::from(1);
                }
            }
            Ok(None) => break,
            Err(e) => {
                let _ = w.flush();
                report(f, &e);
                return ExitCode::from(1);
            }
        }
    }
    match w.flush() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{f}:0: error: {e}");
            ExitCode::from(1)
        }
    }
}

fn stats(a: &Args) -> ExitCode {
    let [f] = a.files.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let input = match open(f) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{f}:0: error: {e}");
            return ExitCode::from(1);
        }
    };
    let start = Instant::now();
    let mut r = Reader::with_options(input, a.opts.clone());
    let (mut entries, mut changes, mut values) = (0u64, 0u64, 0u64);
    loop {
        match r.next_ref() {
            Ok(Some(rec)) if rec.is_change() => changes += 1,
            Ok(Some(rec)) => {
                entries += 1;
                values += rec.attribute_count() as u64;
            }
            Ok(None) => break,
            Err(e) => {
                report(f, &e);
                return ExitCode::from(1);
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let bytes = r.bytes_read();
    let mbs = if secs > 0.0 {
        bytes as f64 / 1e6 / secs
    } else {
        0.0
    };
    println!("file: {f}");
    println!("entries: {entries}");
    println!("changes: {changes}");
    println!("attribute values: {values}");
    println!("bytes: {bytes}");
    println!("elapsed seconds: {secs:.3}");
    println!("MB/s: {mbs:.1}");
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let a = match parse_args(rest) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ldif: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match cmd.as_str() {
        "check" => check(&a),
        "fmt" => fmt(&a),
        "stats" => stats(&a),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
