//! Applies an LDIF change set to a live LDAP server: validates every record first, then
//! sends them in order, stops at the first refusal and prints exactly what was applied.
//!
//! ```text
//! apply --url URL --bind-dn DN --password-file F [--dry-run] [--starttls] CHANGES.ldif
//! ```
//!
//! Content records (entries without `changetype`, as `export_domain` writes them) are
//! applied as adds, the way `ldapadd` treats them. `--dry-run` connects and binds, lists
//! the operations and predicts refusals with read-only searches; it writes nothing.
//!
//! Exit status: 0 all applied (or dry run without warnings), 1 validation failed, partial
//! apply, dry-run warnings or connection error, 2 bad usage or unreadable LDIF.

use std::process::ExitCode;

use zimbra_prov::ldap::{ConnectOptions, LdapSink, Plan};
use zimbra_prov::ldif::{Change, ChangeOp, Reader, ReaderOptions, Record};

const USAGE: &str =
    "usage: apply --url URL --bind-dn DN --password-file F [--dry-run] [--starttls] CHANGES.ldif";

struct Args {
    url: String,
    bind_dn: String,
    password_file: String,
    dry_run: bool,
    starttls: bool,
    file: String,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut url, mut bind_dn, mut password_file, mut file) = (None, None, None, None);
    let (mut dry_run, mut starttls) = (false, false);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--url" => url = Some(value("--url")?),
            "--bind-dn" => bind_dn = Some(value("--bind-dn")?),
            "--password-file" => password_file = Some(value("--password-file")?),
            "--dry-run" => dry_run = true,
            "--starttls" => starttls = true,
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with("--") => return Err(format!("unknown option {s:?}")),
            _ if file.is_some() => return Err("only one CHANGES.ldif".to_string()),
            _ => file = Some(a),
        }
    }
    Ok(Args {
        url: url.ok_or("--url is required")?,
        bind_dn: bind_dn.ok_or("--bind-dn is required")?,
        password_file: password_file.ok_or("--password-file is required")?,
        dry_run,
        starttls,
        file: file.ok_or("CHANGES.ldif is required")?,
    })
}

fn read_changes(path: &str) -> Result<Vec<Change>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open {path}: {e}"))?;
    let opts = ReaderOptions {
        allow_mixed_records: true,
        ..ReaderOptions::default()
    };
    let reader = Reader::with_options(std::io::BufReader::new(file), opts);
    reader
        .map(|r| match r {
            Ok(Record::Change(c)) => Ok(c),
            Ok(Record::Entry(e)) => {
                let mut c = Change::new(e.dn, ChangeOp::Add(e.attrs));
                c.line = e.line;
                Ok(c)
            }
            Err(e) => Err(format!("{path}: {e}")),
        })
        .collect()
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("apply: {msg}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let changes = match read_changes(&args.file) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("apply: {msg}");
            return ExitCode::from(2);
        }
    };
    let plan = match Plan::new(changes) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("apply: {e}");
            return ExitCode::from(1);
        }
    };
    let password = match std::fs::read_to_string(&args.password_file) {
        Ok(p) => p.trim_end_matches(['\r', '\n']).to_string(),
        Err(e) => {
            eprintln!(
                "apply: cannot read password file {}: {e}",
                args.password_file
            );
            return ExitCode::from(2);
        }
    };
    let conn = ConnectOptions::new(&args.url)
        .bind(&args.bind_dn, password)
        .starttls(args.starttls);
    let mut sink = match LdapSink::connect(&conn) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("apply: {e}");
            return ExitCode::from(1);
        }
    };
    if args.dry_run {
        return match sink.dry_run(&plan) {
            Ok(d) => {
                print!("{d}");
                if d.warnings.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(e) => {
                eprintln!("apply: {e}");
                ExitCode::from(1)
            }
        };
    }
    let report = sink.apply(plan, |op| eprintln!("apply: {op}"));
    print!("{report}");
    if report.is_complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
