//! Plans moving one Zimbra domain from one directory dump into another and writes the LDIF
//! for `slapadd`.
//!
//! ```text
//! move_domain --from SRC.ldif --to DST.ldif --domain D [--rename NEW] [--map-host OLD=NEW]...
//!             [--regenerate-ids] [--cos-map SRC=DST]... [--include-servers] [--no-alias-domains]
//!             [--changes CHANGES.ldif] [--fixes FIXES.zmp] --out OUT.ldif
//! ```
//!
//! Prints the conflict report and a summary (entries per kind, follow-ups, references left in
//! the source with the zmprov lines that fix them). Exits 1 and writes nothing when there are
//! conflicts; exits 2 on bad usage or unreadable input. `--fixes` writes the references' fix
//! lines as a zmprov script for the source. Both files are streamed once; memory follows the
//! moved domain, not their size.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use zimbra_prov::dit::{self, IdPolicy, MoveOptions};

const USAGE: &str = "usage: move_domain --from SRC.ldif --to DST.ldif --domain D [--rename NEW] \
[--map-host OLD=NEW]... [--regenerate-ids] [--cos-map SRC=DST]... [--include-servers] \
[--no-alias-domains] [--changes CHANGES.ldif] [--fixes FIXES.zmp] --out OUT.ldif";

struct Args {
    from: String,
    to: String,
    domain: String,
    out: String,
    changes: Option<String>,
    fixes: Option<String>,
    opts: MoveOptions,
}

fn pair(v: &str, flag: &str) -> Result<(String, String), String> {
    v.split_once('=')
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .ok_or_else(|| format!("{flag} wants OLD=NEW, got {v:?}"))
}

fn parse(args: &[String]) -> Result<Args, String> {
    let (mut from, mut to, mut domain, mut out) = (None, None, None, None);
    let (mut changes, mut fixes) = (None, None);
    let mut opts = MoveOptions::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "--from" => from = Some(val()?),
            "--to" => to = Some(val()?),
            "--domain" => domain = Some(val()?),
            "--out" => out = Some(val()?),
            "--changes" => changes = Some(val()?),
            "--fixes" => fixes = Some(val()?),
            "--rename" => opts.rename = Some(val()?),
            "--map-host" => opts.map_hosts.push(pair(&val()?, a)?),
            "--cos-map" => opts.cos_map.push(pair(&val()?, a)?),
            "--regenerate-ids" => opts.ids = IdPolicy::RegenerateOnCollision,
            "--regenerate-all-ids" => opts.ids = IdPolicy::RegenerateAll,
            "--include-servers" => opts.include_servers = true,
            "--no-alias-domains" => opts.include_alias_domains = false,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let need = |v: Option<String>, f: &str| v.ok_or_else(|| format!("{f} is required"));
    Ok(Args {
        from: need(from, "--from")?,
        to: need(to, "--to")?,
        domain: need(domain, "--domain")?,
        out: need(out, "--out")?,
        changes,
        fixes,
        opts,
    })
}

/// Prints to stdout, ignoring a closed pipe (`move_domain ... | head` must not panic).
macro_rules! say {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}

fn run(args: &Args) -> Result<bool, String> {
    let (from, to) = (Path::new(&args.from), Path::new(&args.to));
    let plan =
        dit::plan_move_file(from, to, &args.domain, &args.opts).map_err(|e| e.to_string())?;
    let _ = write!(std::io::stdout().lock(), "{plan}");
    if !plan.is_clean() {
        say!("nothing written: resolve the conflicts first");
        return Ok(false);
    }
    // Write to a temporary name first so that a failed write leaves no partial OUT.ldif.
    let write = |path: &str, f: &dyn Fn(&mut BufWriter<File>) -> Result<u64, dit::DitError>| {
        let tmp = format!("{path}.partial");
        let file = File::create(&tmp).map_err(|e| format!("{tmp}: {e}"))?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        let n = f(&mut w).map_err(|e| format!("{path}: {e}"))?;
        w.flush().map_err(|e| format!("{path}: {e}"))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("{path}: {e}"))?;
        Ok::<u64, String>(n)
    };
    let n = write(&args.out, &|w| plan.write_ldif(w))?;
    say!("wrote {n} entries to {}", args.out);
    match (&args.changes, plan.changes.is_empty()) {
        (Some(path), _) => {
            let n = write(path, &|w| plan.write_changes(w))?;
            say!("wrote {n} change records to {path} (apply with ldapmodify)");
        }
        (None, false) => {
            say!(
                "warning: {} change record(s) for existing target entries not written (use --changes FILE)",
                plan.changes.len()
            );
        }
        (None, true) => {}
    }
    if let Some(path) = &args.fixes {
        let n = write(path, &|w| plan.write_fixes(w))?;
        say!("wrote {n} zmprov lines to {path} (run them on the source: zmprov -f {path})");
    }
    Ok(true)
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&raw) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("move_domain: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("move_domain: {e}");
            ExitCode::from(2)
        }
    }
}
