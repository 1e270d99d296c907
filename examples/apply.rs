//! Applies an LDIF change set, or a domain move planned against the live target, to a live
//! LDAP server: validates everything first, then sends the operations in order, stops at the
//! first refusal and prints exactly what was applied.
//!
//! ```text
//! apply --url URL --bind-dn DN --password-file F [--dry-run] [--starttls] [--ca-file PEM]
//!       [--resume] CHANGES.ldif
//! apply --url URL --bind-dn DN --password-file F [--dry-run] [--starttls] [--ca-file PEM]
//!       --move-from SRC.ldif --domain D [--rename NEW] [--map-host OLD=NEW]...
//!       [--cos-map SRC=DST]... [--regenerate-ids] [--include-servers] [--no-alias-domains]
//! ```
//!
//! `--ca-file PEM`: the CA certificate(s) to trust for `ldaps://` and `--starttls` (Zimbra's
//! own CA, `/opt/zimbra/conf/ca/ca.pem`); without it `LDAPTLS_CACERT`, then the system's
//! store (see `ConnectOptions`).
//!
//! When the connection breaks after an operation was sent, its outcome is unknown: the
//! report prints it as `UNKNOWN` (not `FAILED`). `--resume` (with `CHANGES.ldif`) then
//! re-reads the target, skips the operations it already holds (printed first as
//! `resume: K of N operations already on the target ...`) and applies the rest; it refuses,
//! sending nothing, when the target does not tell (see `LdapSink::resume`).
//!
//! With `CHANGES.ldif`: content records (entries without `changetype`, as `export_domain`
//! writes them) are applied as adds, the way `ldapadd` treats them.
//!
//! With `--move-from`: the target's whole tree is read from the server (paged, progress on
//! stderr), the move of domain `D` out of the directory dump `SRC.ldif` (a `slapcat`, or
//! `export_domain`'s output) is planned against it as `move_domain` plans it offline, the
//! plan's summary goes to stderr, and its entries (parents first) and change records are
//! applied. A plan with conflicts is refused before anything is sent.
//!
//! `--dry-run` connects and binds, lists the operations and predicts refusals with read-only
//! searches; it writes nothing.
//!
//! Exit status: 0 all applied (or dry run without warnings), 1 validation failed, move
//! conflicts, partial apply (an unknown outcome included), dry-run warnings, a resume that
//! cannot decide, or connection error, 2 bad usage or unreadable input.

use std::io::BufReader;
use std::process::ExitCode;

use zimbra_prov::dit::{self, EntryReader, IdPolicy, MoveOptions};
use zimbra_prov::ldap::{
    read_entries, to_raw_entry, ConnectOptions, Export, LdapSink, LdapSource, Plan, SourceOptions,
};
use zimbra_prov::ldif::{Change, ChangeOp, Reader, ReaderOptions, Record};

const USAGE: &str =
    "usage: apply --url URL --bind-dn DN --password-file F [--dry-run] [--starttls] \
[--ca-file PEM] ([--resume] CHANGES.ldif | --move-from SRC.ldif --domain D [--rename NEW] \
[--map-host OLD=NEW]... [--cos-map SRC=DST]... [--regenerate-ids] [--include-servers] \
[--no-alias-domains])";

/// What to apply.
enum Input {
    Changes(String),
    Move {
        from: String,
        domain: String,
        opts: MoveOptions,
    },
}

struct Args {
    url: String,
    bind_dn: String,
    password_file: String,
    dry_run: bool,
    starttls: bool,
    ca_file: Option<String>,
    resume: bool,
    input: Input,
}

fn pair(v: &str, flag: &str) -> Result<(String, String), String> {
    v.split_once('=')
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .ok_or_else(|| format!("{flag} wants OLD=NEW, got {v:?}"))
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut url, mut bind_dn, mut password_file, mut file) = (None, None, None, None);
    let (mut move_from, mut domain) = (None, None);
    let mut opts = MoveOptions::default();
    let mut move_flags = Vec::new();
    let (mut dry_run, mut starttls, mut resume) = (false, false, false);
    let mut ca_file = None;
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--url" => url = Some(value("--url")?),
            "--bind-dn" => bind_dn = Some(value("--bind-dn")?),
            "--password-file" => password_file = Some(value("--password-file")?),
            "--dry-run" => dry_run = true,
            "--starttls" => starttls = true,
            "--ca-file" => ca_file = Some(value("--ca-file")?),
            "--resume" => resume = true,
            "--move-from" => move_from = Some(value("--move-from")?),
            "--domain" => domain = Some(value("--domain")?),
            "--rename" => {
                opts.rename = Some(value("--rename")?);
                move_flags.push(a);
            }
            "--map-host" => {
                opts.map_hosts.push(pair(&value("--map-host")?, &a)?);
                move_flags.push(a);
            }
            "--cos-map" => {
                opts.cos_map.push(pair(&value("--cos-map")?, &a)?);
                move_flags.push(a);
            }
            "--regenerate-ids" => {
                opts.ids = IdPolicy::RegenerateOnCollision;
                move_flags.push(a);
            }
            "--include-servers" => {
                opts.include_servers = true;
                move_flags.push(a);
            }
            "--no-alias-domains" => {
                opts.include_alias_domains = false;
                move_flags.push(a);
            }
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with("--") => return Err(format!("unknown option {s:?}")),
            _ if file.is_some() => return Err("only one CHANGES.ldif".to_string()),
            _ => file = Some(a),
        }
    }
    let input = match (file, move_from, domain) {
        (Some(_), Some(_), _) => {
            return Err("give either CHANGES.ldif or --move-from, not both".to_string())
        }
        (Some(f), None, None) if move_flags.is_empty() => Input::Changes(f),
        (Some(_), None, _) => {
            return Err("--domain and the move options need --move-from".to_string())
        }
        (None, Some(from), Some(domain)) => Input::Move { from, domain, opts },
        (None, Some(_), None) => return Err("--move-from needs --domain".to_string()),
        (None, None, _) => return Err("CHANGES.ldif (or --move-from) is required".to_string()),
    };
    if resume && matches!(input, Input::Move { .. }) {
        // A partly applied move plans differently against the changed target.
        return Err(
            "--resume needs CHANGES.ldif (a move is planned against the target, \
                    which a partial apply has changed)"
                .to_string(),
        );
    }
    Ok(Args {
        url: url.ok_or("--url is required")?,
        bind_dn: bind_dn.ok_or("--bind-dn is required")?,
        password_file: password_file.ok_or("--password-file is required")?,
        dry_run,
        starttls,
        ca_file,
        resume,
        input,
    })
}

fn read_changes(path: &str) -> Result<Vec<Change>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open {path}: {e}"))?;
    let opts = ReaderOptions {
        allow_mixed_records: true,
        ..ReaderOptions::default()
    };
    let reader = Reader::with_options(BufReader::new(file), opts);
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

/// Why no plan could be made: the exit code and the message.
struct Refused(u8, String);

/// Plans the move against the live target and turns it into operations.
fn plan_move(
    conn: &ConnectOptions,
    from: &str,
    domain: &str,
    opts: &MoveOptions,
) -> Result<Plan, Refused> {
    let src = std::fs::File::open(from)
        .map(|f| BufReader::with_capacity(1 << 20, f))
        .map_err(|e| Refused(2, format!("cannot open {from}: {e}")))?;
    let source = LdapSource::connect(conn, SourceOptions::default())
        .map_err(|e| Refused(1, e.to_string()))?;
    let target = source.entries(Export::Tree, |p| {
        if p.phase_done {
            eprintln!("apply: target: {} entries read (done)", p.entries);
        }
    });
    let moved = read_entries(target, |it| {
        dit::plan_move(
            EntryReader::new(src),
            it.map(|e| Ok(to_raw_entry(e))),
            domain,
            opts,
        )
    })
    .map_err(|e| {
        let code = match &e {
            zimbra_prov::ldap::ReadError::Read(dit::DitError::Ldif(_))
            | zimbra_prov::ldap::ReadError::Read(dit::DitError::ChangeRecord { .. }) => 2,
            _ => 1,
        };
        Refused(code, format!("planning the move: {e}"))
    })?;
    for line in moved.to_string().lines() {
        eprintln!("apply: {line}");
    }
    Plan::from_move(&moved).map_err(|e| Refused(1, e.to_string()))
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
    // A change file is read and validated before the password file, as before the move mode.
    let mut plan = None;
    if let Input::Changes(file) = &args.input {
        let changes = match read_changes(file) {
            Ok(c) => c,
            Err(msg) => {
                eprintln!("apply: {msg}");
                return ExitCode::from(2);
            }
        };
        match Plan::new(changes) {
            Ok(p) => plan = Some(p),
            Err(e) => {
                eprintln!("apply: {e}");
                return ExitCode::from(1);
            }
        }
    }
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
    let mut conn = ConnectOptions::new(&args.url)
        .bind(&args.bind_dn, password)
        .starttls(args.starttls);
    conn.ca_file = args.ca_file.map(Into::into);
    let plan = match (plan, &args.input) {
        (Some(p), _) => p,
        (None, Input::Move { from, domain, opts }) => match plan_move(&conn, from, domain, opts) {
            Ok(p) => p,
            Err(Refused(code, msg)) => {
                eprintln!("apply: {msg}");
                return ExitCode::from(code);
            }
        },
        (None, Input::Changes(_)) => return ExitCode::from(2),
    };
    let mut sink = match LdapSink::connect(&conn) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("apply: {e}");
            return ExitCode::from(1);
        }
    };
    let plan = if args.resume {
        match sink.resume(plan) {
            Ok(r) => {
                print!("{r}");
                r.remaining
            }
            Err(e) => {
                eprintln!("apply: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        plan
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
