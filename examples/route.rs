//! `route`: trace a recipient through a scenario, or check a scenario's expectations.
//!
//! ```text
//! route trace SCENARIO ADDR [--from NAME] [--sender ADDR] [--step NAME|N] [--json | --dot]
//! route check SCENARIO...
//! route decide LDIF (ADDR... | --addrs FILE) [--old-address-filter] [--hostname HOST]
//!              [--recipient-delimiter D] [--relayhost HOST]
//! route verify SCENARIO [--step NAME|N] [--json] [--threads N]
//! route plan SCENARIO [--json] [--threads N]
//! route diff BEFORE[#STEP] AFTER[#STEP] [--threads N]
//! ```
//!
//! `trace` prints the trace of ADDR entering at `--from` (default `internet`) in the scenario's
//! initial state (or after the step given by `--step`), with the envelope sender `--sender`
//! (default: an outside address for the Internet, a user of the MTA for an MTA); failed leaves
//! name their DSN, whose paths follow the tree. An unknown MTA or a bad address exits 2. `check` evaluates every expectation, top
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
//! `split-brain`, `deferred`, `hairpin`, `backscatter`, `silent`) and the address, then the
//! counts; it exits 1 when there is a `loop`, `lost` or `silent` finding, else 0. `plan` does so
//! for the initial state and after every `[[step]]`, printing per state the new findings and the
//! changed classes and naming the first state that introduces a loop or lost mail (silent loss
//! included; exit 1 when any state has one). `--threads N` runs classes on N threads (default:
//! every core; the output is the same). `diff`
//! prints every address class whose disposition or path differs between two states (a scenario
//! file's initial state, or `FILE#STEP` for the state after a step); like diff(1) it exits 0 when
//! nothing changes and 1 otherwise. All exit 2 on usage or load errors.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use zimbra_prov::route::{Arrival, Entry, Simulator, ZimbraMta, ZimbraParams};
use zimbra_prov::scenario::Scenario;
use zimbra_prov::verify::CheckOptions;

const USAGE: &str = "usage: route trace SCENARIO ADDR [--from NAME] [--sender ADDR] [--step NAME|N] [--json | --dot]\n       route check SCENARIO...\n       route decide LDIF (ADDR... | --addrs FILE) [--old-address-filter] [--hostname HOST] [--recipient-delimiter D] [--relayhost HOST]\n       route verify SCENARIO [--step NAME|N] [--json] [--threads N]\n       route plan SCENARIO [--json] [--threads N]\n       route diff BEFORE[#STEP] AFTER[#STEP] [--threads N]";

fn usage(msg: &str) -> ExitCode {
    eprintln!("route: {msg}\n{USAGE}");
    ExitCode::from(2)
}

fn trace(args: &[String]) -> ExitCode {
    let mut pos = Vec::new();
    let mut from = "internet".to_string();
    let mut sender: Option<String> = None;
    let mut step: Option<String> = None;
    let mut format = "text";
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--from" => match it.next() {
                Some(v) => from = v.clone(),
                None => return usage("--from needs a value"),
            },
            "--sender" => match it.next() {
                Some(v) => sender = Some(v.clone()),
                None => return usage("--sender needs a value"),
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
    let mut sim = Simulator::new(&stage.topology);
    if let Some(s) = sender {
        sim = sim.sender(s);
    }
    let t = match sim.run(&entry, addr) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {file}: {e}");
            return ExitCode::from(2);
        }
    };
    match format {
        "json" => println!("{}", t.to_json()),
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

/// `--threads N`.
fn threads_arg(v: Option<&String>) -> Result<CheckOptions, ExitCode> {
    match v.and_then(|v| v.parse::<usize>().ok()) {
        Some(n) => Ok(CheckOptions::threads(n)),
        None => Err(usage("--threads needs a number")),
    }
}

fn verify_cmd(args: &[String]) -> ExitCode {
    let mut pos = Vec::new();
    let mut step: Option<String> = None;
    let mut json = false;
    let mut opts = CheckOptions::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--threads" => match threads_arg(it.next()) {
                Ok(o) => opts = o,
                Err(c) => return c,
            },
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
    let report = zimbra_prov::verify::check_with(&stage.topology, &opts);
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    if report.has_failing() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn plan_cmd(args: &[String]) -> ExitCode {
    let mut json = false;
    let mut opts = CheckOptions::default();
    let mut pos: Vec<&String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => json = true,
            "--threads" => match threads_arg(it.next()) {
                Ok(o) => opts = o,
                Err(c) => return c,
            },
            s if s.starts_with("--") => return usage(&format!("unknown option {s}")),
            _ => pos.push(a),
        }
    }
    let [file] = pos.as_slice() else {
        return usage("plan takes one SCENARIO");
    };
    let sc = match load_scenario(file) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let stages: Vec<(&str, &zimbra_prov::route::Topology)> = sc
        .stages
        .iter()
        .map(|s| (s.name.as_str(), &s.topology))
        .collect();
    let report = zimbra_prov::verify::plan_with(&stages, &opts);
    if json {
        if let Err(c) = print_json(&report) {
            return c;
        }
    } else {
        print!("{}", report.to_text());
    }
    if report.has_failing() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn diff_cmd(args: &[String]) -> ExitCode {
    let mut opts = CheckOptions::default();
    let mut pos: Vec<&String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--threads" => match threads_arg(it.next()) {
                Ok(o) => opts = o,
                Err(c) => return c,
            },
            _ => pos.push(a),
        }
    }
    let [before, after] = pos.as_slice() else {
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
    let d = zimbra_prov::verify::diff_with(&b, &a, &opts);
    print!("{}", d.to_text());
    if d.changes.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
