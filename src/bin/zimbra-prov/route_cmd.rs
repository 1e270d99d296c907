//! `zimbra-prov route ...`: traces, expectations, single-MTA decisions, verification, plans and
//! diffs of scenario files (module `route`, `scenario` and `verify` of the library).

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use zimbra_prov::dit::ReadOptions;
use zimbra_prov::route::{Arrival, Entry, Simulator, Topology, ZimbraMta, ZimbraParams};
use zimbra_prov::scenario::{LoadOptions, Scenario, ScenarioStage};
use zimbra_prov::verify::CheckOptions;

use crate::fsio;
use crate::out::{self, Failure, Out, Outcome};
use crate::progress;

/// Output format of `route trace`.
#[derive(Args)]
#[group(multiple = false)]
pub struct TraceFormat {
    /// Print the trace as JSON.
    #[arg(long)]
    json: bool,
    /// Print the trace as a Graphviz DOT graph.
    #[arg(long)]
    dot: bool,
}

/// The `route` commands.
#[derive(Subcommand)]
pub enum RouteCommand {
    /// Print the hop-by-hop trace of ADDR through a scenario.
    ///
    /// ADDR enters at `--from` (default `internet`) in the scenario's initial state, or after
    /// the step `--step` (a step name, or its number with 0 the initial state), with the
    /// envelope sender `--sender` (default: an outside address for the Internet, a user of the
    /// MTA for an MTA). Failed leaves name their DSN (who writes it, what becomes of it); the
    /// DSNs' paths follow the tree. Exit 0, or 2 when the scenario does not load, the step or
    /// entry point does not exist, or an address is unusable.
    Trace {
        /// The scenario file (TOML).
        #[arg(value_name = "SCENARIO")]
        scenario: PathBuf,
        /// The recipient.
        #[arg(value_name = "ADDR")]
        addr: String,
        /// Where the message enters: `internet` or an MTA's name.
        #[arg(long, value_name = "NAME", default_value = "internet")]
        from: String,
        /// Trace the state after this step (name or number).
        #[arg(long, value_name = "STEP")]
        step: Option<String>,
        /// The envelope sender (where DSNs go).
        #[arg(long, value_name = "ADDR")]
        sender: Option<String>,
        #[command(flatten)]
        format: TraceFormat,
    },
    /// Check every expectation of scenario files, top level then per step.
    ///
    /// Prints `# FILE: NAME`, `## STAGE` and per expectation `ok RCPT ...` or
    /// `FAIL RCPT: expected ..., got ...`. Exit 0 when all hold, 1 otherwise, 2 when a file
    /// does not load (the others are still checked).
    Check {
        /// The scenario files.
        #[arg(required = true, value_name = "SCENARIO")]
        scenarios: Vec<PathBuf>,
    },
    /// One Zimbra MTA's decision per address, reading a slapcat LDIF.
    ///
    /// The MTA has Zimbra's default parameters and its own `zimbraMta*` settings from the
    /// directory, overridden by the options. Prints per address, in the Postfix oracle's
    /// format, `ADDR -> ITEM | ITEM ...` where an ITEM is `transport:nexthop`, `bounce (TEXT
    /// [DSN])` or `defer (TEXT [DSN])`, followed by ` <FINAL>` when the final recipient differs
    /// from ADDR; items sorted by final recipient (case-insensitive), then transport. Exit 0, or
    /// 2 when the LDIF does not load or the arguments are wrong.
    Decide {
        /// The slapcat LDIF (a regular file).
        #[arg(value_name = "LDIF")]
        ldif: PathBuf,
        /// Addresses (before those of `--addrs`).
        #[arg(value_name = "ADDR")]
        addrs: Vec<String>,
        /// Read addresses from FILE (`-`: stdin), one per line (blank lines and `#` comments
        /// skipped); it is streamed, so a pipe or FIFO works too.
        #[arg(long = "addrs", value_name = "FILE")]
        addrs_file: Option<PathBuf>,
        /// Use Zimbra's older address filter (without the `zimbraMailAlias` lookup).
        #[arg(long)]
        old_address_filter: bool,
        /// The MTA's host name (default: the directory's first server, else localhost).
        #[arg(long, value_name = "HOST")]
        hostname: Option<String>,
        /// Postfix `recipient_delimiter`.
        #[arg(long, value_name = "D")]
        recipient_delimiter: Option<String>,
        /// Postfix `relayhost` (replaces `zimbraMtaRelayHost`).
        #[arg(long, value_name = "HOST")]
        relayhost: Option<String>,
    },
    /// Check every address class from every entry point of a scenario.
    ///
    /// Prints one finding per line, starting with its kind (`loop`, `lost`, `split-brain`,
    /// `deferred`, `hairpin`, `backscatter`, `silent`) and the address, then the counts. Exit 1
    /// when there is a `loop`, `lost` or `silent` finding, else 0; 2 on usage or load errors.
    Verify {
        /// The scenario file.
        #[arg(value_name = "SCENARIO")]
        scenario: PathBuf,
        /// Verify the state after this step (name or number).
        #[arg(long, value_name = "STEP")]
        step: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        threads: Threads,
    },
    /// Verify the initial state and the state after every step of a scenario.
    ///
    /// Prints per state the new findings and the changed classes and names the first state
    /// that introduces a loop or lost mail (silent loss included). Exit 1 when any state has
    /// one, else 0; 2 on usage or load errors.
    Plan {
        /// The scenario file.
        #[arg(value_name = "SCENARIO")]
        scenario: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        threads: Threads,
    },
    /// Print every address class whose disposition or path differs between two states.
    ///
    /// A state is a scenario file's initial state, or `FILE#STEP` for the state after a step.
    /// Like diff(1): exit 0 when nothing changes, 1 otherwise, 2 on usage or load errors.
    Diff {
        /// The state before (`FILE` or `FILE#STEP`).
        #[arg(value_name = "BEFORE")]
        before: String,
        /// The state after (`FILE` or `FILE#STEP`).
        #[arg(value_name = "AFTER")]
        after: String,
        #[command(flatten)]
        threads: Threads,
    },
}

/// How many threads verification uses.
#[derive(Args)]
pub struct Threads {
    /// Classify addresses and run address classes on N threads (default: every core; the
    /// output is the same whatever N).
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
}

impl Threads {
    fn options(&self) -> CheckOptions {
        CheckOptions::threads(self.threads)
    }
}

/// Runs a `route` command.
pub fn run(cmd: RouteCommand) -> Outcome {
    match cmd {
        RouteCommand::Trace {
            scenario,
            addr,
            from,
            step,
            sender,
            format,
        } => trace(
            &scenario,
            &addr,
            &from,
            step.as_deref(),
            sender.as_deref(),
            &format,
        ),
        RouteCommand::Check { scenarios } => check(&scenarios),
        RouteCommand::Decide {
            ldif,
            addrs,
            addrs_file,
            old_address_filter,
            hostname,
            recipient_delimiter,
            relayhost,
        } => {
            let mut params = DecideParams {
                old_address_filter,
                hostname,
                recipient_delimiter,
                relayhost,
            };
            decide(&ldif, addrs, addrs_file.as_deref(), &mut params)
        }
        RouteCommand::Verify {
            scenario,
            step,
            json,
            threads,
        } => verify(&scenario, step.as_deref(), json, &threads.options()),
        RouteCommand::Plan {
            scenario,
            json,
            threads,
        } => plan(&scenario, json, &threads.options()),
        RouteCommand::Diff {
            before,
            after,
            threads,
        } => diff(&before, &after, &threads.options()),
    }
}

/// Loads a scenario (a regular file; its `ldif =` files are checked by the loader), with a
/// spinner on a terminal. Accounts keep only what routing reads: every answer of `route` is the
/// same, in a fraction of the memory.
fn load(path: &Path) -> Result<Scenario, Failure> {
    fsio::open_regular(path).map_err(|m| Failure::new(2, format_args!("error: {m}")))?;
    let bar = progress::spinner(&format!("loading {}", out::path(path)));
    let loaded = Scenario::load_with(path, &LoadOptions::default().routing());
    bar.finish_and_clear();
    loaded.map_err(|e| Failure::new(2, format_args!("error: {e}")))
}

/// The initial state, or the one after `step`.
fn stage<'s>(
    sc: &'s Scenario,
    file: &Path,
    step: Option<&str>,
) -> Result<&'s ScenarioStage, Failure> {
    match step {
        None => sc.stages.first(),
        Some(s) => sc.stage(s),
    }
    .ok_or_else(|| {
        Failure::new(
            2,
            format_args!(
                "error: {}: no step {}",
                out::path(file),
                out::field(&format!("{:?}", step.unwrap_or_default()))
            ),
        )
    })
}

fn json<T: serde::Serialize>(out: &mut Out, v: &T) -> Result<(), Failure> {
    let s =
        serde_json::to_string_pretty(v).map_err(|e| Failure::new(2, format_args!("error: {e}")))?;
    out.raw(s.as_bytes())?;
    out.raw(b"\n")
}

fn trace(
    file: &Path,
    addr: &str,
    from: &str,
    step: Option<&str>,
    sender: Option<&str>,
    format: &TraceFormat,
) -> Outcome {
    let sc = load(file)?;
    let stage = stage(&sc, file, step)?;
    let entry = Entry::parse(from);
    if let Entry::Mta(m) = &entry {
        if stage.topology.mta(m).is_none() {
            return Err(Failure::new(
                2,
                format_args!(
                    "error: {}: no MTA named {}",
                    out::path(file),
                    out::field(&format!("{m:?}"))
                ),
            ));
        }
    }
    let mut sim = Simulator::new(&stage.topology);
    if let Some(s) = sender {
        sim = sim.sender(s);
    }
    let t = sim
        .run(&entry, addr)
        .map_err(|e| Failure::new(2, format_args!("error: {}: {e}", out::path(file))))?;
    let mut out = Out::new();
    if format.json {
        json(&mut out, &t)?;
    } else if format.dot {
        out.text(&t.to_dot())?;
    } else {
        out.text(&t.to_text())?;
    }
    out.flush()?;
    Ok(0)
}

fn check(files: &[PathBuf]) -> Outcome {
    let mut out = Out::new();
    let (mut failed, mut broken) = (false, false);
    for f in files {
        match load(f) {
            Err(e) => {
                out.flush()?;
                if let Some(m) = e.message {
                    out::note(format_args!("route: {}", out::field(&m)));
                }
                broken = true;
            }
            Ok(sc) => {
                out.line(format_args!("# {}: {}", out::path(f), out::field(&sc.name)))?;
                let mut stage = String::new();
                for l in sc.check() {
                    if l.stage != stage {
                        out.line(format_args!("## {}", out::field(&l.stage)))?;
                        stage = l.stage.clone();
                    }
                    out.line(out::field(&l.text))?;
                    failed |= !l.ok;
                }
            }
        }
    }
    out.flush()?;
    Ok(if broken {
        2
    } else if failed {
        1
    } else {
        0
    })
}

/// The knobs of `route decide`.
struct DecideParams {
    old_address_filter: bool,
    hostname: Option<String>,
    recipient_delimiter: Option<String>,
    relayhost: Option<String>,
}

/// The longest line of an `--addrs` file (an address is at most a few hundred bytes).
const ADDR_LINE_MAX: u64 = 64 * 1024;

/// Where `--addrs` reads from: a file (a pipe or FIFO too: it is streamed) or stdin (`-`).
fn open_addrs(path: &Path) -> Result<Box<dyn BufRead>, Failure> {
    if path == Path::new("-") {
        return Ok(Box::new(std::io::BufReader::new(std::io::stdin())));
    }
    let file = std::fs::File::open(path)
        .map_err(|e| Failure::new(2, format_args!("error: {}: {e}", out::path(path))))?;
    Ok(Box::new(std::io::BufReader::new(file)))
}

/// The next address of an `--addrs` stream (blank lines and `#` comments skipped), lines
/// bounded by [`ADDR_LINE_MAX`].
fn next_addr(input: &mut dyn BufRead, path: &Path) -> Result<Option<String>, Failure> {
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = (&mut *input)
            .take(ADDR_LINE_MAX + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| Failure::new(2, format_args!("error: {}: {e}", out::path(path))))?;
        if n == 0 {
            return Ok(None);
        }
        if buf.len() as u64 > ADDR_LINE_MAX {
            return Err(Failure::new(
                2,
                format_args!(
                    "error: {}: a line longer than {ADDR_LINE_MAX} bytes",
                    out::path(path)
                ),
            ));
        }
        let line = String::from_utf8_lossy(&buf);
        let t = line.trim();
        if !t.is_empty() && !t.starts_with('#') {
            return Ok(Some(t.to_string()));
        }
    }
}

fn decide(
    ldif: &Path,
    addrs: Vec<String>,
    addrs_file: Option<&Path>,
    knobs: &mut DecideParams,
) -> Outcome {
    if addrs.is_empty() && addrs_file.is_none() {
        return Err(Failure::usage(
            "decide needs addresses (ADDR... or --addrs FILE)",
        ));
    }
    let mut stream = match addrs_file {
        Some(f) => Some((open_addrs(f)?, f)),
        None => None,
    };
    let bar = progress::spinner(&format!("loading {}", out::path(ldif)));
    let dir = zimbra_prov::scenario::read_ldif_directory_with(ldif, &ReadOptions::routing());
    bar.finish_and_clear();
    let dir = dir.map_err(|e| Failure::new(2, format_args!("error: {e}")))?;
    // the MTA's name: given, else the first server of the directory, else localhost
    let host = knobs
        .hostname
        .take()
        .or_else(|| {
            dir.servers()
                .next()
                .map(|s| s.service_hostname().to_string())
        })
        .unwrap_or_else(|| "localhost".to_string());
    let mut params = ZimbraParams::from_directory(&dir, &host);
    params.old_address_filter = knobs.old_address_filter;
    if let Some(d) = knobs.recipient_delimiter.take() {
        params.recipient_delimiter = d;
    }
    if let Some(r) = knobs.relayhost.take() {
        params.relayhost = Some(r);
    }
    let mta = ZimbraMta::new(&dir, params);
    let mut out = Out::new();
    let mut decided = 0u64;
    let mut decide = |out: &mut Out, a: &str| {
        decided += 1;
        out.line(out::field(&mta.decide_quiet(a, Arrival::PICKUP).line()))
    };
    for a in &addrs {
        decide(&mut out, a)?;
    }
    // addresses of the file are decided as they are read: memory does not grow with the list
    if let Some((input, path)) = &mut stream {
        while let Some(a) = next_addr(input.as_mut(), path)? {
            decide(&mut out, &a)?;
        }
    }
    out.flush()?;
    keep_until_exit((mta, dir));
    if decided == 0 {
        return Err(Failure::usage(
            "decide needs addresses (ADDR... or --addrs FILE)",
        ));
    }
    Ok(0)
}

fn verify(file: &Path, step: Option<&str>, as_json: bool, opts: &CheckOptions) -> Outcome {
    let sc = load(file)?;
    let stage = stage(&sc, file, step)?;
    let bar = progress::spinner("verifying every address class from every entry point");
    let report = zimbra_prov::verify::check_with(&stage.topology, opts);
    bar.finish_and_clear();
    let done = print_report(&report, as_json, |r| r.to_text(), |r| r.has_failing());
    keep_until_exit(sc);
    done
}

/// Leaves a large loaded structure (directories, lookup indexes) to the operating system at
/// exit instead of freeing it piece by piece — seconds for millions of entries, and the
/// process ends right after the command.
fn keep_until_exit<T>(big: T) {
    std::mem::forget(big)
}

/// Prints a verification report as text or JSON; exit 1 when it has a failing finding (loop,
/// lost or silent mail).
fn print_report<R: serde::Serialize>(
    report: &R,
    as_json: bool,
    text: impl Fn(&R) -> String,
    bad: impl Fn(&R) -> bool,
) -> Outcome {
    let mut out = Out::new();
    if as_json {
        json(&mut out, report)?;
    } else {
        out.text(&text(report))?;
    }
    out.flush()?;
    Ok(if bad(report) { 1 } else { 0 })
}

fn plan(file: &Path, as_json: bool, opts: &CheckOptions) -> Outcome {
    let sc = load(file)?;
    let bar = progress::spinner(&format!("verifying {} states", sc.stages.len()));
    let stages: Vec<(&str, &Topology)> = sc
        .stages
        .iter()
        .map(|s| (s.name.as_str(), &s.topology))
        .collect();
    let report = zimbra_prov::verify::plan_with(&stages, opts);
    bar.finish_and_clear();
    let done = print_report(&report, as_json, |r| r.to_text(), |r| r.has_failing());
    drop(stages);
    keep_until_exit(sc);
    done
}

/// A state named `FILE` or `FILE#STEP`.
fn state(spec: &str) -> Result<Topology, Failure> {
    let (file, step) = match spec.rsplit_once('#') {
        Some((f, s)) => (f, Some(s)),
        None => (spec, None),
    };
    let file = Path::new(file);
    let sc = load(file)?;
    Ok(stage(&sc, file, step)?.topology.clone())
}

fn diff(before: &str, after: &str, opts: &CheckOptions) -> Outcome {
    let (b, a) = (state(before)?, state(after)?);
    let bar = progress::spinner("comparing every address class");
    let d = zimbra_prov::verify::diff_with(&b, &a, opts);
    bar.finish_and_clear();
    let mut out = Out::new();
    out.text(&d.to_text())?;
    out.flush()?;
    Ok(if d.changes.is_empty() { 0 } else { 1 })
}
