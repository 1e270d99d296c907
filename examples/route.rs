//! `route`: trace a recipient through a scenario, or check a scenario's expectations.
//!
//! ```text
//! route trace SCENARIO ADDR [--from NAME] [--step NAME|N] [--json | --dot]
//! route check SCENARIO...
//! ```
//!
//! `trace` prints the trace of ADDR entering at `--from` (default `internet`) in the scenario's
//! initial state (or after the step given by `--step`). `check` evaluates every expectation, top
//! level then per step, printing `ok RCPT ...` or `FAIL RCPT: expected ..., got ...`; it exits 0
//! when all hold, 1 otherwise, and 2 when a file does not load.

use std::path::Path;
use std::process::ExitCode;

use zimbra_prov::route::{simulate, Entry};
use zimbra_prov::scenario::Scenario;

const USAGE: &str = "usage: route trace SCENARIO ADDR [--from NAME] [--step NAME|N] [--json | --dot]\n       route check SCENARIO...";

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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("trace") => trace(&args[1..]),
        Some("check") => check(&args[1..]),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => usage("expected a command"),
    }
}
