//! Exports one Zimbra domain from a live LDAP server as LDIF: the domain's subtree, then the
//! COS and server entries its accounts use. Progress goes to stderr.
//!
//! ```text
//! export_domain --url URL --bind-dn DN --password-file F --domain D [--out FILE]
//!               [--starttls] [--ca-file PEM] [--page-size N] [--operational]
//! ```
//!
//! `--ca-file PEM`: the CA certificate(s) to trust for `ldaps://` and `--starttls` (Zimbra's
//! own CA, `/opt/zimbra/conf/ca/ca.pem`); without it `LDAPTLS_CACERT`, then the system's
//! store (see `ConnectOptions`).
//!
//! `cargo run --features ldap --example export_domain -- --url ldap://zimbra-ldap:389 \
//!   --bind-dn uid=zimbra,cn=admins,cn=zimbra --password-file pw --domain example.com`
//!
//! Exit status: 0 done, 1 failed (LDAP or I/O error), 2 bad usage.

use std::io::Write;
use std::process::ExitCode;

use zimbra_prov::ldap::{ConnectOptions, Export, LdapError, LdapSource, SourceOptions};
use zimbra_prov::ldif::{Writer, WriterOptions};

const USAGE: &str = "usage: export_domain --url URL --bind-dn DN --password-file F --domain D \
                     [--out FILE] [--starttls] [--ca-file PEM] [--page-size N] [--operational]";

struct Args {
    url: String,
    bind_dn: String,
    password_file: String,
    domain: String,
    out: Option<String>,
    starttls: bool,
    ca_file: Option<String>,
    page_size: u32,
    operational: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut url, mut bind_dn, mut password_file, mut domain, mut out) =
        (None, None, None, None, None);
    let mut ca_file = None;
    let (mut starttls, mut page_size, mut operational) = (false, 500u32, false);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--url" => url = Some(value("--url")?),
            "--bind-dn" => bind_dn = Some(value("--bind-dn")?),
            "--password-file" => password_file = Some(value("--password-file")?),
            "--domain" => domain = Some(value("--domain")?),
            "--out" => out = Some(value("--out")?),
            "--starttls" => starttls = true,
            "--ca-file" => ca_file = Some(value("--ca-file")?),
            "--operational" => operational = true,
            "--page-size" => {
                let v = value("--page-size")?;
                page_size = v.parse().map_err(|_| format!("bad --page-size {v:?}"))?;
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Args {
        url: url.ok_or("--url is required")?,
        bind_dn: bind_dn.ok_or("--bind-dn is required")?,
        password_file: password_file.ok_or("--password-file is required")?,
        domain: domain.ok_or("--domain is required")?,
        out,
        starttls,
        ca_file,
        page_size,
        operational,
    })
}

fn read_password(path: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read password file {path}: {e}"))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

fn run(args: Args) -> Result<(), String> {
    let password = read_password(&args.password_file)?;
    let mut conn = ConnectOptions::new(&args.url)
        .bind(&args.bind_dn, password)
        .starttls(args.starttls);
    conn.ca_file = args.ca_file.map(Into::into);
    let mut attributes = vec!["*".to_string()];
    if args.operational {
        attributes.push("+".to_string());
    }
    let opts = SourceOptions {
        page_size: args.page_size,
        attributes,
    };
    let mut source = LdapSource::connect(&conn, opts).map_err(|e| e.to_string())?;
    let out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| format!("cannot create {path}: {e}"))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut writer = Writer::new(out, WriterOptions::default());
    let summary = source
        .export(
            &Export::Domain(args.domain.clone()),
            |entry| {
                writer
                    .write_entry(&entry)
                    .map_err(|e| LdapError::Consumer(Box::new(e)))
            },
            |p| {
                eprintln!(
                    "export_domain: {}: {} entries, {} pages{}",
                    p.phase,
                    p.entries,
                    p.pages,
                    if p.phase_done { " (done)" } else { "" }
                )
            },
        )
        .map_err(|e| e.to_string())?;
    writer
        .into_inner()
        .and_then(|mut w| w.flush().map_err(Into::into))
        .map_err(|e| format!("writing LDIF: {e}"))?;
    eprintln!(
        "export_domain: {} entries of {} in {} pages",
        summary.entries, args.domain, summary.pages
    );
    for id in &summary.missing_cos {
        eprintln!("export_domain: warning: COS {id} is referenced but not found");
    }
    for h in &summary.missing_servers {
        eprintln!("export_domain: warning: server {h} is referenced but not found");
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("export_domain: {msg}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("export_domain: {msg}");
            ExitCode::from(1)
        }
    }
}
