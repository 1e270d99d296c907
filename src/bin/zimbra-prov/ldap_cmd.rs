//! `zimbra-prov export-domain` and `zimbra-prov apply`: live LDAP (module `ldap` of the
//! library).

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use zimbra_prov::dit;
use zimbra_prov::ldap::{
    read_entries, to_raw_entry, ConnectOptions, Export, LdapError, LdapSink, LdapSource, Plan,
    ReadError, SourceOptions,
};
use zimbra_prov::ldif::{Change, ChangeOp, Reader, ReaderOptions, Record, Writer, WriterOptions};

use crate::fsio;
use crate::move_cmd::{MoveArgs, Sides};
use crate::out::{self, Failure, Out, Outcome};
use crate::progress;

/// How to reach and bind to the server.
#[derive(Args)]
pub struct ConnArgs {
    /// The server: `ldap://host:389` or `ldaps://host:636`.
    #[arg(long, value_name = "URL")]
    url: String,
    /// The DN to bind as (Zimbra: `uid=zimbra,cn=admins,cn=zimbra`).
    #[arg(long, value_name = "DN")]
    bind_dn: String,
    /// A regular file holding the bind password (at most 4096 bytes; trailing line ends are
    /// dropped).
    #[arg(long, value_name = "FILE")]
    password_file: PathBuf,
    /// Upgrade an `ldap://` connection with StartTLS.
    #[arg(long)]
    starttls: bool,
    /// Trust the CA certificate(s) in this PEM file, and only those, for `ldaps://` and
    /// `--starttls` (Zimbra's own CA: /opt/zimbra/conf/ca/ca.pem). Without it:
    /// LDAPTLS_CACERT as OpenLDAP's tools read it, then the system's store.
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
}

impl ConnArgs {
    /// Reads the password file and builds the connection options.
    fn connect_options(&self) -> Result<ConnectOptions, Failure> {
        let password = fsio::read_password(&self.password_file).map_err(|m| Failure::new(2, m))?;
        let mut o = ConnectOptions::new(&self.url)
            .bind(&self.bind_dn, password)
            .starttls(self.starttls);
        o.ca_file.clone_from(&self.ca_file);
        Ok(o)
    }
}

/// Arguments of `export-domain` (its help text is on `Command::ExportDomain`).
#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// The domain to export.
    #[arg(long, value_name = "DOMAIN")]
    domain: String,
    /// Write to FILE instead of stdout (a regular file or a new path, never a link).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Entries per page of the paged results control.
    #[arg(long, value_name = "N", default_value_t = 500)]
    page_size: u32,
    /// Also export the operational attributes (entryUUID, createTimestamp, ...).
    #[arg(long)]
    operational: bool,
}

/// Runs `export-domain`.
pub fn export(a: ExportArgs) -> Outcome {
    if let Some(p) = &a.out {
        fsio::check_output(p).map_err(|m| Failure::new(2, m))?;
    }
    let conn = a.conn.connect_options()?;
    let mut attributes = vec!["*".to_string()];
    if a.operational {
        attributes.push("+".to_string());
    }
    let opts = SourceOptions {
        page_size: a.page_size,
        attributes,
    };
    let mut source = LdapSource::connect(&conn, opts).map_err(|e| Failure::new(1, e))?;
    let summary = match &a.out {
        Some(path) => fsio::write_atomic(path, |w| {
            export_into(&mut source, &a.domain, w).map_err(|e| e.to_string())
        })
        .map_err(|m| Failure::new(1, m))?,
        None => {
            let mut out = Out::new();
            let summary = export_into(&mut source, &a.domain, out.writer());
            out.flush()?;
            summary.map_err(|e| match e {
                Exported::Write(e) => Failure::stdout(e),
                other => Failure::new(1, other),
            })?
        }
    };
    out::note(format_args!(
        "export-domain: {} entries of {} in {} pages",
        summary.entries,
        out::field(&a.domain),
        summary.pages
    ));
    for id in &summary.missing_cos {
        out::note(format_args!(
            "export-domain: warning: COS {} is referenced but not found",
            out::field(id)
        ));
    }
    for h in &summary.missing_servers {
        out::note(format_args!(
            "export-domain: warning: server {} is referenced but not found",
            out::field(h)
        ));
    }
    Ok(0)
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
enum Exported {
    #[error("{0}")]
    Ldap(LdapError),
    #[error("writing LDIF: {0}")]
    Write(std::io::Error),
    #[error("writing LDIF: {0}")]
    Ldif(zimbra_prov::ldif::WriteError),
}

fn export_into(
    source: &mut LdapSource,
    domain: &str,
    w: &mut dyn Write,
) -> Result<zimbra_prov::ldap::ExportSummary, Exported> {
    let mut writer = Writer::new(w, WriterOptions::default());
    let bar = progress::counter("exporting entries");
    let mut io_error = None;
    let summary = source
        .export(
            &Export::Domain(domain.to_string()),
            |entry| {
                writer.write_entry(&entry).map_err(|e| match e {
                    zimbra_prov::ldif::WriteError::Io(io) => {
                        let kind = io.kind();
                        io_error = Some(io);
                        LdapError::Consumer(Box::new(std::io::Error::from(kind)))
                    }
                    other => LdapError::Consumer(Box::new(other)),
                })
            },
            |p| {
                bar.set_position(p.entries);
                let line = format!(
                    "export-domain: {}: {} entries, {} pages{}",
                    p.phase,
                    p.entries,
                    p.pages,
                    if p.phase_done { " (done)" } else { "" }
                );
                if progress::enabled() {
                    if p.phase_done {
                        bar.suspend(|| out::note(&line));
                    }
                } else {
                    out::note(&line);
                }
            },
        )
        .map_err(|e| match io_error.take() {
            Some(io) => Exported::Write(io),
            None => Exported::Ldap(e),
        });
    bar.finish_and_clear();
    let summary = summary?;
    writer.flush().map_err(|e| match e {
        zimbra_prov::ldif::WriteError::Io(io) => Exported::Write(io),
        other => Exported::Ldif(other),
    })?;
    Ok(summary)
}

/// Arguments of `apply` (its help text is on `Command::Apply`).
#[derive(Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Connect, list the operations and predict refusals; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Finish an apply whose report says UNKNOWN (the connection broke after an operation
    /// was sent): re-read the target, skip the operations it already holds, apply the rest.
    /// Only with CHANGES.ldif: a move is planned against the target, which a partial apply
    /// has changed.
    #[arg(long, conflicts_with = "move_from")]
    resume: bool,
    /// The change set (LDIF, a regular file).
    #[arg(
        value_name = "CHANGES.ldif",
        required_unless_present = "move_from",
        conflicts_with = "move_from"
    )]
    changes: Option<PathBuf>,
    /// Plan the move of `--domain` out of this directory dump against the live target.
    #[arg(long, value_name = "SRC.ldif", requires = "domain")]
    move_from: Option<PathBuf>,
    /// The domain to move (with `--move-from`).
    #[arg(long, value_name = "DOMAIN", requires = "move_from")]
    domain: Option<String>,
    #[command(flatten)]
    how: MoveArgs,
}

/// Reads a change set: content records become adds.
fn read_changes(path: &Path) -> Result<Vec<Change>, Failure> {
    let file = fsio::open_regular(path).map_err(|m| Failure::new(2, m))?;
    let opts = ReaderOptions {
        allow_mixed_records: true,
        ..ReaderOptions::default()
    };
    Reader::with_options(BufReader::new(file), opts)
        .map(|r| match r {
            Ok(Record::Change(c)) => Ok(c),
            Ok(Record::Entry(e)) => {
                let mut c = Change::new(e.dn, ChangeOp::Add(e.attrs));
                c.line = e.line;
                Ok(c)
            }
            Err(e) => Err(Failure::new(2, crate::ldif_cmd::error_line(path, &e))),
        })
        .collect()
}

/// Plans the move against the live target and turns it into operations.
fn plan_move(
    conn: &ConnectOptions,
    from: &Path,
    domain: &str,
    how: &MoveArgs,
) -> Result<Plan, Failure> {
    let sides = Sides::new(vec![from]);
    let src = sides.entries(0)?;
    let source =
        LdapSource::connect(conn, SourceOptions::default()).map_err(|e| Failure::new(1, e))?;
    let bar = progress::counter("reading the target");
    let shown = bar.clone();
    let target = source.entries(Export::Tree, move |p| {
        shown.set_position(p.entries);
        if p.phase_done {
            shown.suspend(|| {
                out::note(format_args!(
                    "apply: target: {} entries read (done)",
                    p.entries
                ))
            });
        }
    });
    let moved = read_entries(target, |it| {
        dit::plan_move(src, it.map(|e| Ok(to_raw_entry(e))), domain, &how.options())
    });
    bar.finish_and_clear();
    let moved = moved.map_err(|e| match &e {
        ReadError::Read(d @ (dit::DitError::Ldif(_) | dit::DitError::ChangeRecord { .. })) => {
            Failure::new(2, format_args!("planning the move: {}", sides.describe(d)))
        }
        ReadError::Read(d) => {
            Failure::new(1, format_args!("planning the move: {}", sides.describe(d)))
        }
        _ => Failure::new(
            1,
            format_args!("planning the move: {}", out::field(&e.to_string())),
        ),
    })?;
    for line in moved.to_string().lines() {
        out::note(format_args!("apply: {line}"));
    }
    Plan::from_move(&moved).map_err(|e| Failure::new(1, e))
}

/// Runs `apply`.
pub fn apply(a: ApplyArgs) -> Outcome {
    // (clap does not enforce `requires` on --domain when CHANGES.ldif is given)
    if a.move_from.is_none() && (a.how.any() || a.domain.is_some()) {
        return Err(Failure::usage(
            "--domain and the move options need --move-from (see zimbra-prov apply --help)",
        ));
    }
    // A change file is read and validated before the password file.
    let plan = match &a.changes {
        Some(file) => Some(Plan::new(read_changes(file)?).map_err(|e| Failure::new(1, e))?),
        None => None,
    };
    let conn = a.conn.connect_options()?;
    let plan = match (plan, &a.move_from, &a.domain) {
        (Some(p), _, _) => p,
        (None, Some(from), Some(domain)) => plan_move(&conn, from, domain, &a.how)?,
        _ => return Err(Failure::usage("CHANGES.ldif or --move-from is required")),
    };
    let mut sink = LdapSink::connect(&conn).map_err(|e| Failure::new(1, e))?;
    let mut out = Out::new();
    let plan = if a.resume {
        let r = sink.resume(plan).map_err(|e| Failure::new(1, e))?;
        out.text(&r.to_string())?;
        r.remaining
    } else {
        plan
    };
    if a.dry_run {
        let d = sink.dry_run(&plan).map_err(|e| Failure::new(1, e))?;
        out.text(&d.to_string())?;
        out.flush()?;
        return Ok(if d.warnings.is_empty() { 0 } else { 1 });
    }
    let report = sink.apply(plan, |op| out::note(format_args!("apply: {op}")));
    out.text(&report.to_string())?;
    out.flush()?;
    Ok(if report.is_complete() { 0 } else { 1 })
}
