//! `zimbra-prov move-domain`: plan a domain move between two slapcat dumps and write the LDIF
//! for slapadd (module `dit` of the library).

use std::cell::Cell;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use clap::Args;
use zimbra_prov::dit::{self, DitError, EntryReader, IdPolicy, MoveOptions, MovePlan};

use crate::fsio;
use crate::ldif_cmd;
use crate::out::{self, Failure, Out, Outcome};
use crate::progress;

/// `OLD=NEW`, both sides non-empty and free of control characters (host and COS names have
/// none, and they are printed in the report).
pub fn pair(v: &str) -> Result<(String, String), String> {
    if v.chars().any(char::is_control) {
        return Err(format!(
            "control characters in {}",
            out::field(&format!("{v:?}"))
        ));
    }
    v.split_once('=')
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .ok_or_else(|| format!("expected OLD=NEW, got {}", out::field(&format!("{v:?}"))))
}

/// How the domain is moved (shared by `move-domain` and `apply --move-from`).
#[derive(Args, Default)]
pub struct MoveArgs {
    /// Rename the domain on the way, as `zmprov rd` does (DNs rebased, addresses rewritten).
    #[arg(long, value_name = "NEW")]
    pub rename: Option<String>,
    /// Old mail host = new mail host (`zimbraMailHost` and `lmtp:` transports); repeatable.
    #[arg(long, value_name = "OLD=NEW", value_parser = pair)]
    pub map_host: Vec<(String, String)>,
    /// Source COS name = target COS name; repeatable (unlisted COSes map by name).
    #[arg(long, value_name = "SRC=DST", value_parser = pair)]
    pub cos_map: Vec<(String, String)>,
    /// Give new zimbraIds to moved entries whose id the target already uses.
    #[arg(long)]
    pub regenerate_ids: bool,
    /// Give every moved entry a new zimbraId.
    #[arg(long, conflicts_with = "regenerate_ids")]
    pub regenerate_all_ids: bool,
    /// Copy the server entries of mail hosts the target lacks.
    #[arg(long)]
    pub include_servers: bool,
    /// Leave the domain's alias domains behind.
    #[arg(long)]
    pub no_alias_domains: bool,
}

impl MoveArgs {
    /// The library's options.
    pub fn options(&self) -> MoveOptions {
        MoveOptions {
            rename: self.rename.clone(),
            map_hosts: self.map_host.clone(),
            cos_map: self.cos_map.clone(),
            ids: if self.regenerate_all_ids {
                IdPolicy::RegenerateAll
            } else if self.regenerate_ids {
                IdPolicy::RegenerateOnCollision
            } else {
                IdPolicy::Keep
            },
            include_servers: self.include_servers,
            include_alias_domains: !self.no_alias_domains,
            ..MoveOptions::default()
        }
    }

    /// Whether any move option was given.
    pub fn any(&self) -> bool {
        self.rename.is_some()
            || !self.map_host.is_empty()
            || !self.cos_map.is_empty()
            || self.regenerate_ids
            || self.regenerate_all_ids
            || self.include_servers
            || self.no_alias_domains
    }
}

/// Arguments of `move-domain` (its help text is on `Command::MoveDomain`).
#[derive(Args)]
pub struct MoveDomainArgs {
    /// The source directory dump (slapcat LDIF).
    #[arg(long, value_name = "SRC.ldif")]
    from: PathBuf,
    /// The target directory dump (slapcat LDIF).
    #[arg(long, value_name = "DST.ldif")]
    to: PathBuf,
    /// The domain to move.
    #[arg(long, value_name = "DOMAIN")]
    domain: String,
    #[command(flatten)]
    how: MoveArgs,
    /// Also write the change records for existing target entries (apply with ldapmodify).
    #[arg(long, value_name = "CHANGES.ldif")]
    changes: Option<PathBuf>,
    /// Also write the zmprov lines that fix the references left in the source (a script for
    /// `zmprov -f` on the source).
    #[arg(long, value_name = "FIXES.zmp")]
    fixes: Option<PathBuf>,
    /// Where to write the LDIF for slapadd.
    #[arg(long, value_name = "OUT.ldif")]
    out: PathBuf,
}

/// Which input an error came from: `move-domain` names the file in LDIF errors.
pub struct Sides<'a> {
    files: Vec<&'a Path>,
    last: Cell<Option<usize>>,
}

impl<'a> Sides<'a> {
    /// Tracks the inputs `files`.
    pub fn new(files: Vec<&'a Path>) -> Sides<'a> {
        Sides {
            files,
            last: Cell::new(None),
        }
    }

    /// Entries read from input `i` (a regular file), remembering that it was read last.
    pub fn entries(
        &'a self,
        i: usize,
    ) -> Result<impl Iterator<Item = Result<zimbra_prov::model::RawEntry, DitError>> + 'a, Failure>
    {
        let path = self.files[i];
        let file = fsio::open_regular(path).map_err(|m| Failure::new(2, m))?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let bar = progress::bytes(len, &out::path(path));
        let input = progress::Reading::new(BufReader::with_capacity(1 << 20, file), bar);
        Ok(EntryReader::new(input).inspect(move |_| self.last.set(Some(i))))
    }

    /// The error, naming the input it came from when it is about an input's text. LDIF syntax
    /// errors read `FILE:LINE: error: MESSAGE`, as `ldif check` prints them.
    pub fn describe(&self, e: &DitError) -> String {
        if let DitError::InFile { path, source } = e {
            return match &**source {
                DitError::Ldif(le) => ldif_cmd::error_line(path, le),
                e => format!("{}: {}", out::path(path), out::field(&e.to_string())),
            };
        }
        let file = match e {
            DitError::Ldif(_)
            | DitError::ChangeRecord { .. }
            | DitError::Dn { .. }
            | DitError::DuplicateDn { .. } => self.last.get().map(|i| self.files[i]),
            _ => None,
        };
        match (file, e) {
            (Some(f), DitError::Ldif(le)) => ldif_cmd::error_line(f, le),
            (Some(f), e) => format!("{}: {}", out::path(f), out::field(&e.to_string())),
            (None, e) => out::field(&e.to_string()).into_owned(),
        }
    }
}

/// Writes `write`'s output into a new [`fsio::AtomicFile`] at `path` (not yet renamed into
/// place: [`fsio::AtomicFile::commit`] does that once every output of the run is written).
fn write_plan(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> Result<u64, DitError>,
) -> Result<(fsio::AtomicFile, u64), Failure> {
    let mut f = fsio::AtomicFile::create(path).map_err(|m| Failure::new(2, m))?;
    let n = write(f.writer()).map_err(|e| {
        Failure::new(
            2,
            format_args!(
                "writing {}: {}",
                out::path(path),
                out::field(&e.to_string())
            ),
        )
    })?;
    Ok((f, n))
}

/// Runs `move-domain`.
pub fn run(a: MoveDomainArgs) -> Outcome {
    // Refuse bad outputs before reading anything.
    let mut outputs: Vec<(&str, &Path)> = vec![("--out", &a.out)];
    if let Some(c) = &a.changes {
        outputs.push(("--changes", c));
    }
    if let Some(c) = &a.fixes {
        outputs.push(("--fixes", c));
    }
    fsio::distinct(&outputs, &[("--from", &a.from), ("--to", &a.to)])
        .map_err(|m| Failure::new(2, m))?;
    for (_, p) in &outputs {
        fsio::check_output(p).map_err(|m| Failure::new(2, m))?;
    }
    // Both inputs are regular files (a FIFO would hang a reader that splits it into parts);
    // the source is read in parts on all cores and its moved entries are read back from it
    // when OUT is written.
    for p in [&a.from, &a.to] {
        fsio::open_regular(p).map_err(|m| Failure::new(2, m))?;
    }
    let sides = Sides::new(vec![&a.from, &a.to]);
    let bar = progress::spinner("planning the move");
    let plan = dit::plan_move_file(&a.from, &a.to, &a.domain, &a.how.options());
    bar.finish_and_clear();
    let plan: MovePlan = plan.map_err(|e| Failure::new(2, sides.describe(&e)))?;
    let mut out = Out::new();
    out.text(&plan.to_string())?;
    if !plan.is_clean() {
        out.line("nothing written: resolve the conflicts first")?;
        out.flush()?;
        return Ok(1);
    }
    // Both outputs are written completely before either is renamed into place.
    let (ldif, n) = write_plan(&a.out, |w| plan.write_ldif(w))?;
    let changes = match &a.changes {
        Some(path) => Some(write_plan(path, |w| plan.write_changes(w))?),
        None => None,
    };
    let fixes = match &a.fixes {
        Some(path) => Some(write_plan(path, |w| plan.write_fixes(w))?),
        None => None,
    };
    ldif.commit().map_err(|m| Failure::new(2, m))?;
    out.line(format_args!("wrote {n} entries to {}", out::path(&a.out)))?;
    match changes {
        Some((f, n)) => {
            let shown = out::path(f.path());
            f.commit().map_err(|m| Failure::new(2, m))?;
            out.line(format_args!(
                "wrote {n} change records to {shown} (apply with ldapmodify)"
            ))?;
        }
        None if !plan.changes.is_empty() => out.line(format_args!(
            "warning: {} change record(s) for existing target entries not written (use --changes FILE)",
            plan.changes.len()
        ))?,
        None => {}
    }
    if let Some((f, n)) = fixes {
        let shown = out::path(f.path());
        f.commit().map_err(|m| Failure::new(2, m))?;
        out.line(format_args!(
            "wrote {n} zmprov lines to {shown} (run them on the source: zmprov -f {shown})"
        ))?;
    }
    out.flush()?;
    Ok(0)
}
