//! `migrate`: plan a migration runbook from a spec (the `zimbra-prov migrate plan` contract).
//!
//! ```text
//! migrate plan SPEC.toml [--out DIR]
//! ```
//!
//! Prints one line per step (`NN STEP-ID: TITLE`), the steps the planner ran earlier than the
//! spec asked and why, and `verified N states: no loop, no lost mail`. With `--out DIR` it writes
//! the runbook there (`runbook.md`, `scenario.toml`, `scripts/`), replacing an earlier runbook
//! directory but nothing else, and prints `wrote N files to DIR`. Exit 0 when the runbook is
//! planned (and written); 1 when the planner refuses (an unsafe fixed order, no safe order, a
//! current topology that already fails, a user not delivered at the end, move conflicts), with
//! the reason and the counterexample trace on stderr; 2 on usage errors, unreadable specs
//! (`FILE:LINE: KEY: message`) and output errors.

use std::path::PathBuf;
use std::process::ExitCode;

use zimbra_prov::runbook::{plan, RunbookError, Spec};

const USAGE: &str = "usage: migrate plan SPEC.toml [--out DIR]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut pos = Vec::new();
    let mut out: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => match it.next() {
                Some(d) => out = Some(PathBuf::from(d)),
                None => {
                    eprintln!("migrate: --out needs a directory\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            s if s.starts_with('-') => {
                eprintln!("migrate: unknown option {s}\n{USAGE}");
                return ExitCode::from(2);
            }
            _ => pos.push(a.clone()),
        }
    }
    let [cmd, spec_path] = pos.as_slice() else {
        eprintln!("migrate: expected `plan SPEC.toml`\n{USAGE}");
        return ExitCode::from(2);
    };
    if cmd != "plan" {
        eprintln!("migrate: unknown command {cmd}\n{USAGE}");
        return ExitCode::from(2);
    }
    let spec = match Spec::load(std::path::Path::new(spec_path)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let rb = match plan(&spec) {
        Ok(r) => r,
        Err(RunbookError::Spec(e)) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("migrate: {e}");
            return ExitCode::from(1);
        }
    };
    print!("{}", rb.summary());
    if let Some(dir) = out {
        match rb.write_to(&dir) {
            Ok(files) => println!("wrote {} files to {}", files.len(), dir.display()),
            Err(e) => {
                eprintln!("migrate: {e}");
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::SUCCESS
}
