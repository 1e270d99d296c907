//! `zimbra-prov ldif check|fmt|stats`: the LDIF reader and writer on files.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, Subcommand};
use zimbra_prov::ldif::{LdifError, Reader, ReaderOptions, Writer, WriterOptions};

use crate::fsio;
use crate::out::{self, Failure, Out, Outcome};
use crate::progress;

/// Reader options shared by the `ldif` commands.
#[derive(Args, Clone)]
pub struct ReadArgs {
    /// Accept content and change records in one file.
    #[arg(long)]
    allow_mixed: bool,
    /// Read `:<` URL values, only `file://` URLs inside DIR (refused without this option).
    #[arg(long, value_name = "DIR")]
    url_base: Option<PathBuf>,
}

impl ReadArgs {
    fn options(&self) -> ReaderOptions {
        ReaderOptions {
            allow_mixed_records: self.allow_mixed,
            url_base: self.url_base.clone(),
            ..ReaderOptions::default()
        }
    }
}

/// The `ldif` commands.
#[derive(Subcommand)]
pub enum LdifCommand {
    /// Check files strictly.
    ///
    /// Prints `FILE: N records (E entries, C changes)` per file and exits 0; on the first
    /// problem prints `FILE:LINE: error: MESSAGE` on stderr and exits 1 (a file that cannot be
    /// opened: `FILE: error: MESSAGE`). FILE may be `-` (stdin), a pipe or a FIFO: it is
    /// streamed, with memory bounded by the largest record.
    Check {
        #[command(flatten)]
        read: ReadArgs,
        /// The files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Write a file back through the writer.
    ///
    /// Base64 wherever a value is not a safe string, folded at `--wrap` columns. Writes to
    /// stdout, or with `--out` to a file that appears complete or not at all (it may be FILE
    /// itself: the file is replaced only when the whole input was read and written). Exit 0,
    /// or 1 on the first error (`FILE:LINE: error: MESSAGE` on stderr).
    Fmt {
        /// slapadd mode: no `version:` line, so the output loads into slapadd.
        #[arg(long)]
        slapadd: bool,
        /// Fold lines at N columns (0: never).
        #[arg(long, value_name = "N", default_value_t = 76)]
        wrap: usize,
        /// Write to OUT instead of stdout (a regular file or a new path, never a link).
        #[arg(long, value_name = "OUT")]
        out: Option<PathBuf>,
        #[command(flatten)]
        read: ReadArgs,
        /// The file (`-` reads stdin).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Print entries, changes, attribute values, bytes, elapsed seconds and MB/s of a file.
    ///
    /// Streams with memory bounded by the largest record. Exit 0, or 1 on the first error.
    Stats {
        #[command(flatten)]
        read: ReadArgs,
        /// The file (`-` reads stdin).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// Runs an `ldif` command.
pub fn run(cmd: LdifCommand) -> Outcome {
    match cmd {
        LdifCommand::Check { read, files } => check(&read, &files),
        LdifCommand::Fmt {
            slapadd,
            wrap,
            out,
            read,
            file,
        } => fmt(&read, &file, slapadd, wrap, out.as_deref()),
        LdifCommand::Stats { read, file } => stats(&read, &file),
    }
}

/// An open input with a progress bar over its size when it is a regular file.
fn open(path: &Path) -> Result<Box<dyn BufRead>, Failure> {
    if path == Path::new("-") {
        return Ok(Box::new(BufReader::with_capacity(1 << 17, io::stdin())));
    }
    let file = File::open(path).map_err(|e| {
        out::note(format_args!("{}: error: {e}", out::path(path)));
        Failure::quiet(1)
    })?;
    let input = BufReader::with_capacity(1 << 17, file);
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && progress::enabled() => {
            let bar = progress::bytes(m.len(), &out::path(path));
            Ok(Box::new(progress::Reading::new(input, bar)))
        }
        _ => Ok(Box::new(input)),
    }
}

/// `FILE:LINE: error: MESSAGE (dn: DN)`, untrusted parts escaped.
pub fn error_line(file: &Path, e: &LdifError) -> String {
    let dn =
        e.dn.as_ref()
            .map(|d| format!(" (dn: {})", out::field(d)))
            .unwrap_or_default();
    format!(
        "{}:{}: error: {}{dn}",
        out::path(file),
        e.line,
        out::field(&e.kind.to_string())
    )
}

/// [`error_line`] on stderr.
fn report(file: &Path, e: &LdifError) {
    out::note(error_line(file, e));
}

fn check(read: &ReadArgs, files: &[PathBuf]) -> Outcome {
    let mut out = Out::new();
    for f in files {
        let mut r = Reader::with_options(open(f)?, read.options());
        let (mut entries, mut changes) = (0u64, 0u64);
        loop {
            match r.next_ref() {
                Ok(Some(rec)) if rec.is_change() => changes += 1,
                Ok(Some(_)) => entries += 1,
                Ok(None) => break,
                Err(e) => {
                    out.flush()?;
                    report(f, &e);
                    return Err(Failure::quiet(1));
                }
            }
        }
        out.line(format_args!(
            "{}: {} records ({entries} entries, {changes} changes)",
            out::path(f),
            entries + changes
        ))?;
        // one line per file as soon as it is checked
        out.flush()?;
    }
    out.flush()?;
    Ok(0)
}

/// Copies `input` through the writer into `w`; a write error is returned as the I/O error.
fn reformat(
    file: &Path,
    input: Box<dyn BufRead>,
    read: &ReadArgs,
    opts: WriterOptions,
    w: &mut dyn Write,
) -> Result<(), FmtError> {
    let mut r = Reader::with_options(input, read.options());
    let mut wr = Writer::new(w, opts);
    loop {
        match r.next_ref() {
            Ok(Some(rec)) => {
                if let Err(e) = wr.write_ref(&rec) {
                    return Err(match e {
                        zimbra_prov::ldif::WriteError::Io(io) => FmtError::Io(io),
                        other => FmtError::Message(format!(
                            "{}:{}: error: {}",
                            out::path(file),
                            rec.line(),
                            out::field(&other.to_string())
                        )),
                    });
                }
            }
            Ok(None) => break,
            Err(e) => {
                let _ = wr.flush();
                return Err(FmtError::Ldif(e));
            }
        }
    }
    wr.flush().map_err(|e| match e {
        zimbra_prov::ldif::WriteError::Io(io) => FmtError::Io(io),
        other => FmtError::Message(other.to_string()),
    })
}

enum FmtError {
    Ldif(LdifError),
    Io(io::Error),
    Message(String),
}

fn fmt(read: &ReadArgs, file: &Path, slapadd: bool, wrap: usize, dest: Option<&Path>) -> Outcome {
    let mut opts = if slapadd {
        WriterOptions::slapadd_mode()
    } else {
        WriterOptions::default()
    };
    opts.wrap = wrap;
    let shown = out::path(file);
    match dest {
        None => {
            let input = open(file)?;
            let mut out = Out::new();
            match reformat(file, input, read, opts, out.writer()) {
                Ok(()) => {
                    out.flush()?;
                    Ok(0)
                }
                Err(FmtError::Ldif(e)) => {
                    out.flush()?;
                    report(file, &e);
                    Err(Failure::quiet(1))
                }
                Err(FmtError::Io(e)) => Err(Failure::stdout(e)),
                Err(FmtError::Message(m)) => {
                    let _ = out.flush();
                    out::note(m);
                    Err(Failure::quiet(1))
                }
            }
        }
        Some(dest) => {
            // check the output before reading anything
            fsio::check_output(dest).map_err(|m| Failure::new(1, m))?;
            let input = open(file)?;
            let mut ldif_error = None;
            let written = fsio::write_atomic(dest, |w| {
                reformat(file, input, read, opts, w).map_err(|e| match e {
                    FmtError::Ldif(e) => {
                        ldif_error = Some(e);
                        String::new()
                    }
                    FmtError::Io(e) => format!("writing {}: {e}", out::path(dest)),
                    FmtError::Message(m) => m,
                })
            });
            match (written, ldif_error) {
                (Ok(()), _) => Ok(0),
                (Err(_), Some(e)) => {
                    report(file, &e);
                    Err(Failure::quiet(1))
                }
                (Err(m), None) => Err(Failure::new(1, format_args!("{shown}: {m}"))),
            }
        }
    }
}

fn stats(read: &ReadArgs, file: &Path) -> Outcome {
    let input = open(file)?;
    let start = Instant::now();
    let mut r = Reader::with_options(input, read.options());
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
                report(file, &e);
                return Err(Failure::quiet(1));
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
    let mut out = Out::new();
    out.line(format_args!("file: {}", out::path(file)))?;
    out.line(format_args!("entries: {entries}"))?;
    out.line(format_args!("changes: {changes}"))?;
    out.line(format_args!("attribute values: {values}"))?;
    out.line(format_args!("bytes: {bytes}"))?;
    out.line(format_args!("elapsed seconds: {secs:.3}"))?;
    out.line(format_args!("MB/s: {mbs:.1}"))?;
    out.flush()?;
    Ok(0)
}
