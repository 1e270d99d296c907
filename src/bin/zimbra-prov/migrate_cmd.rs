//! `zimbra-prov migrate ...`: plan a migration runbook from a spec (module `runbook` of the
//! library).

use std::path::PathBuf;

use clap::Subcommand;
use zimbra_prov::runbook::{plan, RunbookError, Spec};

use crate::fsio;
use crate::out::{self, Failure, Out, Outcome};
use crate::progress;

/// The `migrate` commands.
#[derive(Subcommand)]
pub enum MigrateCommand {
    /// Plan a staged migration from a spec: the steps, the commands per system, the rollback
    /// of each step, and every intermediate state verified.
    ///
    /// Prints one line per step (`NN STEP-ID: TITLE`), the steps run earlier than the spec
    /// asked and why (`reordered: ...`), then `verified N states: no loop, no lost mail`. With
    /// `--out DIR` it writes the runbook there — `runbook.md`, `scenario.toml` (re-check it with
    /// `zimbra-prov route plan`), `scripts/NN-STEP/SYSTEM.sh` and `SYSTEM.rollback.sh` — and
    /// prints `wrote N files to DIR`. Everything is rendered and checked before the first byte
    /// is written; DIR is replaced in one rename, and only when it is new, empty, or an earlier
    /// runbook (a symbolic link or someone else's directory is refused).
    ///
    /// Exit 0 planned (and written); 1 the planner refuses (an unsafe order the spec fixes, no
    /// safe order, a current topology that already fails, a user not delivered at the end, move
    /// conflicts), with the reason and the counterexample trace on stderr; 2 bad usage, a spec
    /// that does not load (`FILE:LINE: KEY: message`) or an output that cannot be written.
    Plan {
        /// The migration spec (TOML; see the `runbook` module documentation).
        #[arg(value_name = "SPEC.toml")]
        spec: PathBuf,
        /// Write the runbook into this directory.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// Runs a `migrate` command.
pub fn run(cmd: MigrateCommand) -> Outcome {
    match cmd {
        MigrateCommand::Plan { spec, out } => plan_cmd(&spec, out.as_deref()),
    }
}

fn plan_cmd(spec_path: &std::path::Path, out_dir: Option<&std::path::Path>) -> Outcome {
    fsio::open_regular(spec_path).map_err(|m| Failure::new(2, format_args!("error: {m}")))?;
    let spec = Spec::load(spec_path).map_err(|e| Failure::new(2, e))?;
    let bar = progress::spinner(&format!("planning {}", out::path(spec_path)));
    let planned = plan(&spec);
    bar.finish_and_clear();
    let rb = match planned {
        Ok(r) => r,
        Err(RunbookError::Spec(e)) => return Err(Failure::new(2, e)),
        Err(e) => {
            // several lines: the reason, the counterexample trace, an order that works
            out::note(format_args!("migrate: {e}"));
            return Err(Failure::quiet(1));
        }
    };
    let mut out = Out::new();
    out.text(&rb.summary())?;
    if let Some(dir) = out_dir {
        let bar = progress::spinner(&format!("writing {}", out::path(dir)));
        let written = rb.write_to(dir);
        bar.finish_and_clear();
        let files = written.map_err(|e| Failure::new(2, e))?;
        out.line(format_args!(
            "wrote {} files to {}",
            files.len(),
            out::field(&dir.display().to_string())
        ))?;
    }
    out.flush()?;
    Ok(0)
}
