//! `route`: trace a recipient through a scenario, or check a scenario's expectations.
//!
//! ```text
//! route trace SCENARIO ADDR [--from NAME] [--step NAME|N] [--json | --dot]
//! route check SCENARIO...
//! route decide LDIF (ADDR... | --addrs FILE) [--old-address-filter] [--hostname HOST]
//!              [--recipient-delimiter D] [--relayhost HOST]
//! route verify SCENARIO [--step NAME|N] [--json]
//! route plan SCENARIO [--json]
//! route diff BEFORE[#STEP] AFTER[#STEP]
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
//!
//! `verify` checks every address class of the scenario's initial state (or after `--step`) from
//! every entry point and prints one finding per line, starting with its kind (`loop`, `lost`,
//! `split-brain`, `deferred`, `hairpin`, `backscatter`) and the address, then the counts; it exits
//! 1 when there is a `loop` or `lost` finding, else 0. `plan` does so for the initial state and
//! after every `[[step]]`, printing per state the new findings and the changed classes and naming
//! the first state that introduces a loop or lost mail (exit 1 when any state has one). `diff`
//! prints every address class whose disposition or path differs between two states (a scenario
//! file's initial state, or `FILE#STEP` for the state after a step); like diff(1) it exits 0 when
//! nothing changes and 1 otherwise. All exit 2 on usage or load errors.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use zimbra_prov::route::{simulate, Arrival, Entry, ZimbraMta, ZimbraParams};
use zimbra_prov::scenario::Scenario;

const USAGE: &str = "usage: route trace SCENARIO ADDR [--from NAME] [--step NAME|N] [--json | --dot]\n       route check SCENARIO...\n       route decide LDIF (ADDR... | --addrs FILE) [--old-address-filter] [--hostname HOST] [--recipient-delimiter D] [--relayhost HOST]\n       route verify SCENARIO [--step NAME|N] [--json]\n       route plan SCENARIO [--json]\n       route diff BEFORE[#STEP] AFTER[#STEP]";

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
        Some("verify") => verify_cmd(&args[1..]),
        Some("plan") => plan_cmd(&args[1..]),
        Some("diff") => diff_cmd(&args[1..]),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => usage("expected a command"),
    }
}

// ---- verify / plan / diff (module `verify`) ----

fn load_scenario(file: &str) -> Result<Scenario, ExitCode> {
    Scenario::load(Path::new(file)).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

fn print_json<T: serde::Serialize>(v: &T) -> Result<(), ExitCode> {
    match serde_json::to_string_pretty(v) {
        Ok(s) => {
            println!("{s}");
            Ok(())
        }
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::from(2))
        }
    }
}

fn verify_cmd(args: &[String]) -> ExitCode {
    let mut pos = Vec::new();
    let mut step: Option<String> = None;
    let mut json = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--step" => match it.next() {
                Some(v) => step = Some(v.clone()),
                None => return usage("--step needs a value"),
            },
            "--json" => json = true,
            s if s.starts_with("--") => return usage(&format!("unknown option {s}")),
            _ => pos.push(a.clone()),
        }
    }
    let [file] = pos.as_slice() else {
        return usage("verify takes one SCENARIO");
    };
    let sc = match load_scenario(file) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let stage = match &step {
        None => sc.stages.first(),
        Some(s) => sc.stage(s),
    };
    let Some(stage) = stage else {
        eprintln!("error: {file}: no step {:?}", step.unwrap_or_default());
        return ExitCode::from(2);
    };
    let report = zimbra_prov::verify::check(&stage.topology);
    if json {
        if let Err(c) = print_json(&report) {
            return c;
        }
    } else {
        print!("{}", report.to_text());
    }
    if report.has_loop_or_lost() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn plan_cmd(args: &[String]) -> ExitCode {
    let json = args.iter().any(|a| a == "--json");
    if let Some(bad) = args.iter().find(|a| a.starts_with("--") && *a != "--json") {
        return usage(&format!("unknown option {bad}"));
    }
    let pos: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let [file] = pos.as_slice() else {
        return usage("plan takes one SCENARIO");
    };
    let sc = match load_scenario(file) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let report = zimbra_prov::verify::plan_scenario(&sc);
    if json {
        if let Err(c) = print_json(&report) {
            return c;
        }
    } else {
        print!("{}", report.to_text());
    }
    if report.has_loop_or_lost() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn diff_cmd(args: &[String]) -> ExitCode {
    let [before, after] = args else {
        return usage("diff takes BEFORE and AFTER (FILE or FILE#STEP)");
    };
    let state = |spec: &str| -> Result<zimbra_prov::route::Topology, ExitCode> {
        let (file, step) = match spec.rsplit_once('#') {
            Some((f, s)) => (f, Some(s)),
            None => (spec, None),
        };
        let sc = load_scenario(file)?;
        let st = match step {
            None => sc.stages.first(),
            Some(s) => sc.stage(s),
        };
        st.map(|s| s.topology.clone()).ok_or_else(|| {
            eprintln!("error: {file}: no step {:?}", step.unwrap_or_default());
            ExitCode::from(2)
        })
    };
    let (b, a) = match (state(before), state(after)) {
        (Ok(b), Ok(a)) => (b, a),
        (Err(c), _) | (_, Err(c)) => return c,
    };
    let d = zimbra_prov::verify::diff(&b, &a);
    print!("{}", d.to_text());
    if d.changes.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
