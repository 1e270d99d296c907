//! `route`: trace a recipient through a scenario, or check a scenario's expectations.
//!
//! ```text
//! route trace SCENARIO ADDR [--from NAME] [--step NAME|N] [--json | --dot]
//! route check SCENARIO...
//! route decide LDIF (ADDR... | --addrs FILE) [--old-address-filter] [--hostname HOST]
//!              [--recipient-delimiter D] [--relayhost HOST]
//! ```
//!
//! `trace` prints the trace of ADDR entering at `--from` (default `internet`) in the scenario's
//! initial state (or after the step given by `--step`). `check` evaluates every expectation, top
//! level then per step, printing `ok RCPT ...` or `FAIL RCPT: expected ..., got ...`; it exits 0
//! when all hold, 1 otherwise, and 2 when a file does not load.
//!
//! `decide` reads a slapcat LDIF as one Zimbra MTA with Zimbra's default parameters would (its
//! own `zimbraMta*` settings from the directory, overridden by the options) and prints, per
//! address, the single-MTA decision for a locally submitted message in the oracle's line format:
//! `ADDR -> ITEM | ITEM ...`, where an ITEM is `transport:nexthop`, `bounce (TEXT [DSN])` or
//! `defer (TEXT [DSN])`, followed by ` <FINAL>` when the final recipient differs from ADDR; items
//! are sorted by final recipient (case-insensitive), then transport. `--addrs FILE` reads one
//! address per line (blank lines and `#` comments skipped). Exit 0, or 2 when the LDIF does not
//! load or the arguments are wrong.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use zimbra_prov::route::{simulate, Arrival, Entry, ZimbraMta, ZimbraParams};
use zimbra_prov::scenario::Scenario;

const USAGE: &str = "usage: route trace SCENARIO ADDR [--from NAME] [--step NAME|N] [--json | --dot]\n       route check SCENARIO...\n       route decide LDIF (ADDR... | --addrs FILE) [--old-address-filter] [--hostname HOST] [--recipient-delimiter D] [--relayhost HOST]";

fn usage(msg: &str) -> ExitCode {
    eprintln!("route: {msg}\n{USAGE}");
    ExitCode::from(2)
}

fn trace(args: &[String]) -> ExitCode {
    let mut pos = Vec::new();
    let mut from = "internet".to_string();
    let mut step: Option<String> = None;
    let mut format = "text";
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--from" => match it.next() {
                Some(v) => from = v.clone(),
                None => return usage("--from needs a value"),
            },
            "--step" => match it.next() {
                Some(v) => step = Some(v.clone()),
                None => return usage("--step needs a value"),
            },
            "--json" => format = "json",
            "--dot" => format = "dot",
            s if s.starts_with("--") => return usage(&format!("unknown option {s}")),
            _ => pos.push(a.clone()),
        }
    }
    let [file, addr] = pos.as_slice() else {
        return usage("trace takes SCENARIO and ADDR");
    };
    let sc = match Scenario::load(Path::new(file)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let stage = match &step {
        None => sc.stages.first(),
        Some(s) => sc.stage(s),
    };
    let Some(stage) = stage else {
        eprintln!("error: {file}: no step {:?}", step.unwrap_or_default());
        return ExitCode::from(2);
    };
    let entry = Entry::parse(&from);
    if let Entry::Mta(m) = &entry {
        if stage.topology.mta(m).is_none() {
            eprintln!("error: {file}: no MTA named {m:?}");
            return ExitCode::from(2);
        }
    }
    let t = simulate(&stage.topology, &entry, addr);
    match format {
        "json" => match serde_json::to_string_pretty(&t) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        "dot" => print!("{}", t.to_dot()),
        _ => print!("{}", t.to_text()),
    }
    ExitCode::SUCCESS
}

fn check(files: &[String]) -> ExitCode {
    if files.is_empty() {
        return usage("check takes at least one SCENARIO");
    }
    let mut failed = false;
    let mut broken = false;
    for f in files {
        match Scenario::load(Path::new(f)) {
            Err(e) => {
                eprintln!("error: {e}");
                broken = true;
            }
            Ok(sc) => {
                println!("# {f}: {}", sc.name);
                let mut stage = String::new();
                for l in sc.check() {
                    if l.stage != stage {
                        println!("## {}", l.stage);
                        stage = l.stage.clone();
                    }
                    println!("{}", l.text);
                    failed |= !l.ok;
                }
            }
        }
    }
    if broken {
        ExitCode::from(2)
    } else if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn decide(args: &[String]) -> ExitCode {
    let mut pos: Vec<String> = Vec::new();
    let mut addrs_file: Option<String> = None;
    let mut old_filter = false;
    let mut hostname: Option<String> = None;
    let mut delimiter: Option<String> = None;
    let mut relayhost: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| -> Result<String, ExitCode> {
            it.next()
                .cloned()
                .ok_or_else(|| usage(&format!("{name} needs a value")))
        };
        match a.as_str() {
            "--addrs" => match value("--addrs") {
                Ok(v) => addrs_file = Some(v),
                Err(c) => return c,
            },
            "--hostname" => match value("--hostname") {
                Ok(v) => hostname = Some(v),
                Err(c) => return c,
            },
            "--recipient-delimiter" => match value("--recipient-delimiter") {
                Ok(v) => delimiter = Some(v),
                Err(c) => return c,
            },
            "--relayhost" => match value("--relayhost") {
                Ok(v) => relayhost = Some(v),
                Err(c) => return c,
            },
            "--old-address-filter" => old_filter = true,
            s if s.starts_with("--") => return usage(&format!("unknown option {s}")),
            _ => pos.push(a.clone()),
        }
    }
    let Some((ldif, addrs)) = pos.split_first() else {
        return usage("decide takes an LDIF file");
    };
    let mut addrs: Vec<String> = addrs.to_vec();
    if let Some(f) = &addrs_file {
        match std::fs::read_to_string(f) {
            Ok(text) => addrs.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_string),
            ),
            Err(e) => {
                eprintln!("error: {f}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if addrs.is_empty() {
        return usage("decide needs addresses (ADDR... or --addrs FILE)");
    }
    let dir = match zimbra_prov::scenario::read_ldif_directory(Path::new(ldif)) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // the MTA's name: given, else the first server of the directory, else localhost
    let host = hostname
        .or_else(|| {
            dir.servers()
                .next()
                .map(|s| s.service_hostname().to_string())
        })
        .unwrap_or_else(|| "localhost".to_string());
    let mut params = ZimbraParams::from_directory(&dir, &host);
    params.old_address_filter = old_filter;
    if let Some(d) = delimiter {
        params.recipient_delimiter = d;
    }
    if let Some(r) = relayhost {
        params.relayhost = Some(r);
    }
    let mta = ZimbraMta::new(&dir, params);
    let mut out = std::io::stdout().lock();
    for a in &addrs {
        if writeln!(out, "{}", mta.decide_quiet(a, Arrival::PICKUP).line()).is_err() {
            break;
        }
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("trace") => trace(&args[1..]),
        Some("check") => check(&args[1..]),
        Some("decide") => decide(&args[1..]),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => usage("expected a command"),
    }
}
