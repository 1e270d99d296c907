//! `zimbra-prov`: the command-line tool of the zimbra-prov crate (feature `cli`).
//!
//! ```text
//! zimbra-prov ldif check|fmt|stats ...       RFC 2849 files: check strictly, rewrite, measure
//! zimbra-prov route trace|check|decide|verify|plan|diff ...
//!                                            where mail goes in a scenario, and whether it loops
//! zimbra-prov migrate plan SPEC.toml [--out DIR]
//!                                            a staged migration's runbook, every step verified
//! zimbra-prov move-domain ...                plan a domain move between two slapcat dumps
//! zimbra-prov export-domain ...              export one domain from a live LDAP server
//! zimbra-prov apply ...                      apply a change set or a move to a live LDAP server
//! zimbra-prov schema                         print the OpenLDAP schema for the crate's LDIF
//! zimbra-prov completions SHELL              shell completions
//! ```
//!
//! Every subcommand has `--help`. Exit status 2 means bad usage; the other statuses are per
//! subcommand (see its help). Writing to a closed pipe (`... | head`) ends the tool quietly with
//! status 141, as a shell reports for a writer ended by SIGPIPE; SIGINT, SIGTERM and SIGHUP end
//! it with status 130 after removing the temporary files of unfinished outputs.

mod fsio;
mod ldap_cmd;
mod ldif_cmd;
mod malloc;
mod migrate_cmd;
mod move_cmd;
mod out;
mod progress;
mod route_cmd;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use out::{Failure, Out, Outcome};

/// Model Zimbra provisioning, simulate where mail goes, verify migrations, move domains.
#[derive(Parser)]
#[command(
    name = "zimbra-prov",
    version,
    arg_required_else_help = true,
    after_help = "Exit status: 2 on bad usage; see each command's help for the others."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check, reformat and measure LDIF files (RFC 2849) with the crate's reader and writer.
    #[command(subcommand, arg_required_else_help = true)]
    Ldif(ldif_cmd::LdifCommand),
    /// Trace recipients through a scenario, check its expectations, verify it loop-free.
    #[command(subcommand, arg_required_else_help = true)]
    Route(route_cmd::RouteCommand),
    /// Plan a staged migration (split domain, sub-domain, MTA head, new mailstore, domain
    /// move) as a runbook whose every step is verified.
    #[command(subcommand, arg_required_else_help = true)]
    Migrate(migrate_cmd::MigrateCommand),
    /// Plan moving one domain from one slapcat dump into another, and write LDIF for slapadd.
    ///
    /// Prints the conflict report (domain already there, addresses or zimbraIds in use, missing
    /// COS, unknown mail hosts, DN collisions, alias domains whose target is not moved) and a
    /// summary, what is left to do by hand (auth keys, certificates, mailbox data), and the
    /// references left in the source (other domains' lists, forwarding addresses, aliases that
    /// name a moved address) with the zmprov lines that fix them (`--fixes` writes them as a
    /// script). Exit 0 when OUT (and CHANGES) were written, and FIXES when asked for; 1 when
    /// there are conflicts, and then nothing is written; 2 on bad usage, unreadable input or a
    /// refused output.
    ///
    /// Both dumps are read once (the source in parts, one per core); the moved entries are read
    /// back from the source when OUT is written, so memory follows the moved domain.
    ///
    /// Outputs appear complete or not at all: each is written to a temporary file next to it and
    /// renamed into place. An output must be a regular file or a new path (a symbolic link, a
    /// directory or a device is refused) and no output may be the same file as another or as an
    /// input. The inputs must be regular files.
    MoveDomain(move_cmd::MoveDomainArgs),
    /// Export one domain from a live LDAP server as LDIF.
    ///
    /// Exports the domain's subtree, then the COS and server entries its accounts use, as LDIF,
    /// to stdout or `--out`. Progress goes to stderr (a progress bar on a terminal, lines
    /// otherwise). With `--out`, the file appears complete or not at all: an existing export is
    /// replaced only when the new one is complete (a wrong `--domain` or a lost connection leaves
    /// it as it was). TLS (`ldaps://`, `--starttls`) trusts `--ca-file`, else LDAPTLS_CACERT, else
    /// the system's store. Exit 0 done, 1 failed (LDAP, TLS or I/O error), 2 bad usage or a
    /// refused file.
    ExportDomain(ldap_cmd::ExportArgs),
    /// Apply an LDIF change set, or a domain move, to a live LDAP server.
    ///
    /// With CHANGES.ldif: content records (entries without `changetype`, as `export-domain`
    /// writes them) are applied as adds, the way ldapadd treats them.
    ///
    /// With `--move-from`: the target's whole tree is read from the server (paged), the move of
    /// DOMAIN out of the directory dump SRC.ldif (a slapcat, or `export-domain`'s output) is
    /// planned against it as `move-domain` plans it offline, the plan's summary goes to stderr, and
    /// its entries (parents first) and change records are applied. A plan with conflicts is refused
    /// before anything is sent.
    ///
    /// Everything is validated first (values, and the attributes the object classes of an added
    /// entry require); then the operations are sent in order, the first refusal stops the run,
    /// and the report says exactly which operations were applied. `--dry-run` connects and
    /// binds, lists the operations and predicts refusals with read-only searches; it writes
    /// nothing.
    ///
    /// An operation whose answer never arrived (the connection broke after it was sent) is
    /// UNKNOWN: the server may have applied it. Run the same CHANGES.ldif again with `--resume`:
    /// it re-reads the target, prints `resume: K of N operations already on the target
    /// (skipped), M to apply` and applies the rest, or refuses when the target cannot tell.
    ///
    /// Exit 0 all applied (or a dry run without warnings); 1 validation failed, move conflicts,
    /// partial apply (an UNKNOWN included), dry-run warnings, a resume that cannot decide, or
    /// connection or TLS error; 2 bad usage or unreadable input.
    Apply(ldap_cmd::ApplyArgs),
    /// Print the OpenLDAP schema (slapd.conf format) for the LDIF the crate writes.
    ///
    /// The Zimbra attributes and object classes, the amavisd-new attributes and
    /// `amavisAccount`, and `company`. Include it after core, cosine, inetorgperson and
    /// dyngroup (see the README's slapd set-up).
    Schema,
    /// Print a shell completion script on stdout.
    ///
    /// For example `zimbra-prov completions bash > ~/.local/share/bash-completion/completions/zimbra-prov`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// The name a command's messages start with.
fn name_of(c: &Command) -> &'static str {
    match c {
        Command::Ldif(_) => "ldif",
        Command::Route(_) => "route",
        Command::Migrate(_) => "migrate",
        Command::MoveDomain(_) => "move-domain",
        Command::ExportDomain(_) => "export-domain",
        Command::Apply(_) => "apply",
        Command::Schema => "schema",
        Command::Completions { .. } => "completions",
    }
}

fn schema() -> Outcome {
    let mut out = Out::new();
    out.raw(zimbra_prov::attrs::openldap_schema().as_bytes())?;
    out.flush()?;
    Ok(0)
}

fn completions(shell: clap_complete::Shell) -> Outcome {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "zimbra-prov", &mut script);
    if shell == clap_complete::Shell::Bash {
        // clap_complete 4.6 spells the state of a hyphenated binary's subcommands one way in
        // the dispatch loop (`zimbra__prov__subcmd__route`) and another in the case arms
        // (`zimbra__subcmd__prov__subcmd__route`), so nothing below the first level completes
        // (clap-rs/clap#6421). Spell the arms as the loop does.
        let text = String::from_utf8_lossy(&script).replace("zimbra__subcmd__prov", "zimbra__prov");
        script = text.into_bytes();
    }
    let mut out = Out::new();
    out.raw(&script)?;
    out.flush()?;
    Ok(0)
}

/// Parses the command line. Help and version go out as clap prints them; usage errors are
/// printed with the offending values escaped (they may hold terminal control sequences).
fn parse() -> Result<Cli, ExitCode> {
    Cli::try_parse().map_err(|e| {
        use clap::error::ErrorKind;
        match e.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                let _ = e.print();
            }
            _ => out::note(e.render()),
        }
        ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
    })
}

fn main() -> ExitCode {
    malloc::tune();
    let cli = match parse() {
        Ok(c) => c,
        Err(code) => return code,
    };
    fsio::clean_up_on_signals();
    let name = name_of(&cli.command);
    let result = match cli.command {
        Command::Ldif(c) => ldif_cmd::run(c),
        Command::Route(c) => route_cmd::run(c),
        Command::Migrate(c) => migrate_cmd::run(c),
        Command::MoveDomain(a) => move_cmd::run(a),
        Command::ExportDomain(a) => ldap_cmd::export(a),
        Command::Apply(a) => ldap_cmd::apply(a),
        Command::Schema => schema(),
        Command::Completions { shell } => completions(shell),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Failure { code, message }) => {
            if let Some(m) = message {
                out::note(format_args!("{name}: {}", out::field(&m)));
            }
            ExitCode::from(code)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
