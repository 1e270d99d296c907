//! Scenario files (TOML): directories, MTAs, DNS, expectations and the steps of a staged
//! migration, checked by `route check`.
//!
//! ```toml
//! name = "Split domain: Zimbra primary, Exchange secondary"
//! [[directory]]
//! name = "zcs"
//! zmprov = """
//! cs primary.example.org
//! cd example.org
//! ca bob@example.org secret zimbraMailTransport smtp:exchange.example.org:25
//! """
//! # ldif = "zcs.ldif"          # alternatively a slapcat file, path relative to this file
//! [[mta]]
//! name = "primary"
//! kind = "zimbra"              # zimbra | foreign
//! hostname = "primary.example.org"
//! directory = "zcs"
//! # zimbra overrides: relayhost, dns_lookups, mynetworks, hopcount_limit, mydestination,
//! #                   recipient_delimiter, old_address_filter, myhostname, myorigin,
//! #                   propagate_canonical, propagate_virtual, virtual_alias_expansion_limit,
//! #                   virtual_alias_recursion_limit, virtual_transport, split_domain_check,
//! #                   reject_rest, transports (the fields of route::ZimbraParams)
//! [[mta]]
//! name = "exchange"
//! kind = "foreign"
//! hostname = "exchange.example.org"
//! domains = ["example.org"]
//! mailboxes = ["bob@example.org"]
//! unknown = "relay"            # reject | relay | bounce
//! relayhost = "primary.example.org"
//! # unknown_relay = "...", routes = { "carol@example.org" = "smtp:primary.example.org" },
//! # aliases = { "a@example.org" = "a@hosting.example.org" },   # rewrites first (an MTA head)
//! # dns_lookups = true, hopcount_limit = 50
//! [dns]
//! mx = { "example.org" = ["10 primary.example.org"] }
//! a = { "primary.example.org" = "10.0.0.1", "exchange.example.org" = "10.0.0.2" }
//! [[expect]]
//! rcpt = "bob@example.org"
//! from = "internet"            # or an MTA name
//! outcome = "delivered"        # delivered | bounced | rejected | deferred | looped | left (or a list, one per leaf)
//! at = "exchange.example.org"  # delivered: mailbox host; otherwise the MTA that decided (or a list)
//! # dsn = "5.1.1", mailbox = "bob@example.org", via = ["primary", "exchange"]
//! # sender = "alice@elsewhere.example"   # envelope sender (default: route::default_sender)
//! # dsn_fate = "double-bounce"          # reply | delivered | left | double-bounce | deferred
//! # dsn_by = "exchange"                 # the MTA(s) writing the DSN of the failed leaves
//! [[step]]
//! name = "move bob to Zimbra"
//! zmprov = { zcs = "ma bob@example.org zimbraMailTransport lmtp:primary.example.org:7025" }
//! mta = [{ name = "exchange", mailboxes = [] }]   # replaces the listed fields of that MTA
//! # dns = { mx = { ... }, a = { ... } }           # replaces the listed names' records
//! [[step.expect]]
//! rcpt = "bob@example.org"
//! outcome = "delivered"
//! at = "primary.example.org"
//! ```
//!
//! Expectation semantics, per leaf of the trace: a single `outcome` must hold for every leaf, a
//! list must equal the leaves' outcomes as a multiset; `at` and `mailbox` compare as sets; `dsn`
//! must be the status of every leaf that has one; `via` must equal every leaf's MTA path.
//! The DSN keys concern the failed leaves (bounced, rejected, looped — each has a
//! [`Dsn`](crate::route::Dsn)): a single `dsn_fate` must hold for every one of them (and there
//! must be one), a list must equal their fates as a multiset; `dsn_by` compares as a set with the
//! MTAs that write their DSNs (a refusal at the first hop has none: `dsn_fate = "reply"`).
//!
//! A [`Topology`] built in code is written back as a scenario file with [`save`]: every Zimbra
//! MTA's directory as a faithful LDIF dump next to it (one file per distinct directory; an empty
//! one inline as `zmprov = ""`), Zimbra parameters where they differ from zmconfigd's, foreign
//! MTAs and DNS whole. The output is loaded back in memory and compared with the topology
//! ([`Topology::difference`]) before anything is written: what a file cannot say is a
//! [`SaveError`], never a file that loads to another topology.
//!
//! Errors name the file, the line and the key. LDIF directories are read with
//! [`crate::dit::read_directory`] unless [`LoadOptions::ldif_loader`] supplies another reader.

mod save;

pub use save::{save, to_files, DirectoryStyle, SaveError, SaveOptions, SavedScenario};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use crate::model::Directory;
use crate::route::{
    Dns, DsnFate, Entry, ForeignMta, Mta, Simulator, Topology, Trace, UnknownPolicy,
};
use crate::zmprov;

/// Errors loading a scenario.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file cannot be read.
    #[error("{file}: {message}")]
    Io {
        /// The file.
        file: String,
        /// The I/O error.
        message: String,
    },
    /// TOML syntax or schema error.
    #[error("{file}:{line}: {message}")]
    Toml {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// A value that parses but does not make sense.
    #[error("{file}:{line}: {key}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// The key.
        key: String,
        /// Why.
        message: String,
    },
}

/// Reads an LDIF file (slapcat output) into a [`Directory`].
pub type LdifLoader = dyn Fn(&Path) -> Result<Directory, String>;

/// The default [`LdifLoader`]: a slapcat LDIF read by [`crate::dit::read_directory`]. The path
/// must name a regular file (or a link to one): a FIFO or a device is refused before it is
/// opened, so loading never blocks on a FIFO nor reads `/dev/zero` forever.
pub fn read_ldif_directory(path: &Path) -> Result<Directory, String> {
    read_ldif_directory_with(path, &crate::dit::ReadOptions::default())
}

/// [`read_ldif_directory`] with read options (threads, [`routing_only`](crate::dit::ReadOptions::routing_only)).
pub fn read_ldif_directory_with(
    path: &Path,
    opts: &crate::dit::ReadOptions,
) -> Result<Directory, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{}: not a regular file", path.display()));
    }
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    crate::dit::read_directory_with(file, opts).map_err(|e| format!("{}: {e}", path.display()))
}

/// Options for loading scenarios: start from [`LoadOptions::default`], then set fields or use
/// the builder methods (the struct is non-exhaustive: options can be added without breaking
/// callers).
///
/// ```
/// use zimbra_prov::scenario::{LoadOptions, Scenario};
/// let src = "[[directory]]\nname = \"zcs\"\nzmprov = \"cs mx.example.org\\ncd example.org\\n\
///     ca a@example.org pw zimbraPrefLocale de\"\n";
/// let sc = Scenario::parse(src, "inline.toml", &LoadOptions::default().routing())?;
/// let dir = &sc.stages[0].directories["zcs"];
/// assert_eq!(dir.account("a@example.org").unwrap().attrs.first("zimbraPrefLocale"), None);
/// # Ok::<(), zimbra_prov::scenario::ScenarioError>(())
/// ```
#[derive(Default)]
#[non_exhaustive]
pub struct LoadOptions<'a> {
    /// How `ldif = "file"` directories are read; `None` reads them as slapcat LDIF with
    /// [`read_ldif_directory`].
    pub ldif_loader: Option<&'a LdifLoader>,
    /// Keep of every account only what routing reads ([`Directory::keep_routing_attrs`]):
    /// `ldif =` files are read with [`ReadOptions::routing`](crate::dit::ReadOptions::routing)
    /// (by a custom loader: reduced once loaded), `zmprov =` directories are reduced before the
    /// steps run. Every routing answer (`check`, `verify`, traces) is the same; the directories
    /// take a fraction of the memory but do not hold what a dump should. `zimbra-prov route`
    /// loads this way.
    pub routing_only: bool,
}

impl<'a> LoadOptions<'a> {
    /// The defaults with `ldif =` files read by `loader`.
    pub fn with_ldif_loader(loader: &'a LdifLoader) -> Self {
        LoadOptions {
            ldif_loader: Some(loader),
            ..LoadOptions::default()
        }
    }

    /// These options, keeping only what routing reads ([`LoadOptions::routing_only`]).
    pub fn routing(self) -> Self {
        LoadOptions {
            routing_only: true,
            ..self
        }
    }
}

/// A TOML value given as one string or a list of them (the runbook's spec reads it too).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(crate) fn list(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    directory: Vec<RawDirectory>,
    #[serde(default)]
    mta: Vec<RawMta>,
    #[serde(default)]
    dns: Option<RawDns>,
    #[serde(default)]
    expect: Vec<RawExpect>,
    #[serde(default)]
    step: Vec<RawStep>,
}

/// A `[[directory]]` table (scenario files and runbook specs).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDirectory {
    pub(crate) name: Spanned<String>,
    pub(crate) zmprov: Option<Spanned<String>>,
    pub(crate) ldif: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMta {
    name: Spanned<String>,
    kind: Option<Spanned<String>>,
    hostname: Option<String>,
    directory: Option<Spanned<String>>,
    relayhost: Option<String>,
    dns_lookups: Option<bool>,
    mynetworks: Option<Vec<String>>,
    hopcount_limit: Option<u32>,
    mydestination: Option<Vec<String>>,
    recipient_delimiter: Option<String>,
    old_address_filter: Option<bool>,
    myhostname: Option<String>,
    myorigin: Option<String>,
    propagate_canonical: Option<bool>,
    propagate_virtual: Option<bool>,
    virtual_alias_expansion_limit: Option<usize>,
    virtual_alias_recursion_limit: Option<usize>,
    virtual_transport: Option<String>,
    split_domain_check: Option<bool>,
    reject_rest: Option<bool>,
    transports: Option<Vec<String>>,
    domains: Option<Vec<String>>,
    mailboxes: Option<Vec<String>>,
    unknown: Option<UnknownPolicy>,
    unknown_relay: Option<String>,
    routes: Option<BTreeMap<String, String>>,
    aliases: Option<BTreeMap<String, String>>,
}

impl RawMta {
    fn patch(&mut self, p: &RawMta) {
        macro_rules! take {
            ($($f:ident),*) => { $( if p.$f.is_some() { self.$f = p.$f.clone(); } )* };
        }
        take!(
            kind,
            hostname,
            directory,
            relayhost,
            dns_lookups,
            mynetworks,
            hopcount_limit,
            mydestination,
            recipient_delimiter,
            old_address_filter,
            domains,
            mailboxes,
            unknown,
            unknown_relay,
            routes,
            aliases
        );
        param_keys!(take);
    }
}

/// Calls `$m!` with the [`ZimbraParams`](crate::route::ZimbraParams) fields a scenario sets
/// under their own names (the older keys, with their own conversions, are handled one by one).
macro_rules! param_keys {
    ($m:ident) => {
        $m!(
            myhostname,
            myorigin,
            propagate_canonical,
            propagate_virtual,
            virtual_alias_expansion_limit,
            virtual_alias_recursion_limit,
            virtual_transport,
            split_domain_check,
            reject_rest,
            transports
        )
    };
}
use param_keys;

/// The `[dns]` table (scenario files and runbook specs).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDns {
    #[serde(default)]
    mx: BTreeMap<String, Vec<Spanned<String>>>,
    #[serde(default)]
    a: BTreeMap<String, OneOrMany>,
}

impl RawDns {
    /// Applies the table to `dns`: each name's records replace what it had, an empty list
    /// removes the name. A bad MX record is the error, with the offset of its string.
    pub(crate) fn apply(&self, dns: &mut Dns) -> Result<(), (usize, String)> {
        for (name, recs) in &self.mx {
            let mut v = Vec::new();
            for r in recs {
                v.push(Dns::parse_mx(r.get_ref()).map_err(|e| (r.span().start, e.to_string()))?);
            }
            if v.is_empty() {
                dns.mx.remove(&name.to_ascii_lowercase());
            } else {
                dns.mx.insert(name.to_ascii_lowercase(), v);
            }
        }
        for (name, a) in &self.a {
            let v = a.list();
            if v.is_empty() {
                dns.a.remove(&name.to_ascii_lowercase());
            } else {
                dns.a.insert(name.to_ascii_lowercase(), v);
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    rcpt: Spanned<String>,
    from: Option<Spanned<String>>,
    outcome: Spanned<OneOrMany>,
    at: Option<OneOrMany>,
    dsn: Option<String>,
    mailbox: Option<OneOrMany>,
    via: Option<Vec<String>>,
    sender: Option<Spanned<String>>,
    dsn_fate: Option<Spanned<OneOrMany>>,
    dsn_by: Option<OneOrMany>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: Option<String>,
    #[serde(default)]
    zmprov: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    mta: Vec<RawMta>,
    dns: Option<RawDns>,
    #[serde(default)]
    expect: Vec<RawExpect>,
}

/// One expectation of a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// The recipient.
    pub rcpt: String,
    /// Where the message enters.
    pub from: Entry,
    /// Expected outcome(s): one for every leaf, or one per leaf.
    pub outcome: Vec<String>,
    /// Expected hosts (delivered: mailbox host; otherwise the deciding MTA / next hop).
    pub at: Option<Vec<String>>,
    /// Expected enhanced status code.
    pub dsn: Option<String>,
    /// Expected final mailboxes.
    pub mailbox: Option<Vec<String>>,
    /// Expected MTA path.
    pub via: Option<Vec<String>>,
    /// The envelope sender (`None`: [`crate::route::default_sender`]).
    pub sender: Option<String>,
    /// Expected fate(s) of the failed leaves' DSNs ([`DsnFate::label`]).
    pub dsn_fate: Option<Vec<String>>,
    /// Expected MTAs writing the failed leaves' DSNs.
    pub dsn_by: Option<Vec<String>>,
    /// Line in the file.
    pub line: usize,
}

const OUTCOMES: &[&str] = &[
    "delivered",
    "bounced",
    "rejected",
    "deferred",
    "looped",
    "left",
];

fn sorted_lc(v: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = v.into_iter().map(|s| s.to_ascii_lowercase()).collect();
    v.sort();
    v.dedup();
    v
}

fn leaf_place(d: &crate::route::Disposition) -> String {
    use crate::route::Disposition as D;
    match d {
        D::Delivered { host, .. } => host.clone(),
        D::Bounced { by, .. } | D::Rejected { by, .. } | D::Deferred { by, .. } => by.clone(),
        D::Looped { by, .. } => by.clone(),
        D::LeftTopology { next_hop } => next_hop.clone(),
    }
}

impl Expectation {
    /// What the expectation asks, in words.
    pub fn describe(&self) -> String {
        let mut s = self.outcome.join("+");
        if let Some(at) = &self.at {
            s.push_str(&format!(" at {}", at.join(",")));
        }
        if let Some(m) = &self.mailbox {
            s.push_str(&format!(" mailbox {}", m.join(",")));
        }
        if let Some(d) = &self.dsn {
            s.push_str(&format!(" dsn {d}"));
        }
        if let Some(v) = &self.via {
            s.push_str(&format!(" via {}", v.join(" > ")));
        }
        if let Some(f) = &self.dsn_fate {
            s.push_str(&format!(" dsn-fate {}", f.join("+")));
        }
        if let Some(b) = &self.dsn_by {
            s.push_str(&format!(" dsn-by {}", b.join(",")));
        }
        s
    }

    /// Compare with a trace: `Ok(what happened)` or `Err(what happened)`.
    pub fn evaluate(&self, trace: &Trace) -> Result<String, String> {
        let leaves = trace.leaves();
        let got = leaves
            .iter()
            .map(|l| {
                let who = if l.recipient.eq_ignore_ascii_case(&self.rcpt) {
                    String::new()
                } else {
                    format!("<{}> ", l.recipient)
                };
                let dsn = match l.disposition {
                    crate::route::Disposition::Delivered { mailbox, .. } => {
                        format!(" mailbox {mailbox}")
                    }
                    d => d.dsn().map(|x| format!(" dsn {x}")).unwrap_or_default(),
                };
                let notice = match l.dsn {
                    Some(d) if self.dsn_fate.is_some() || self.dsn_by.is_some() => {
                        let by = d
                            .writer
                            .as_deref()
                            .map(|w| format!(" by {w}"))
                            .unwrap_or_default();
                        format!(" dsn-fate {}{by}", d.fate.label())
                    }
                    _ => String::new(),
                };
                format!(
                    "{who}{} at {}{dsn} via {}{notice}",
                    l.disposition.outcome(),
                    leaf_place(l.disposition),
                    l.via.join(" > ")
                )
            })
            .collect::<Vec<_>>()
            .join(" | ");
        let got = if got.is_empty() {
            "no leaf".to_string()
        } else {
            got
        };
        let outcomes: Vec<&str> = leaves.iter().map(|l| l.disposition.outcome()).collect();
        let mut ok = !leaves.is_empty();
        if self.outcome.len() == 1 {
            ok &= outcomes.iter().all(|o| *o == self.outcome[0]);
        } else {
            let mut a: Vec<&str> = self.outcome.iter().map(String::as_str).collect();
            let mut b = outcomes.clone();
            a.sort();
            b.sort();
            ok &= a == b;
        }
        if let Some(at) = &self.at {
            ok &= sorted_lc(at.clone())
                == sorted_lc(leaves.iter().map(|l| leaf_place(l.disposition)));
        }
        if let Some(m) = &self.mailbox {
            let got: Vec<String> = leaves
                .iter()
                .filter_map(|l| match l.disposition {
                    crate::route::Disposition::Delivered { mailbox, .. } => Some(mailbox.clone()),
                    _ => None,
                })
                .collect();
            ok &= sorted_lc(m.clone()) == sorted_lc(got);
        }
        if let Some(d) = &self.dsn {
            let dsns: Vec<&str> = leaves.iter().filter_map(|l| l.disposition.dsn()).collect();
            ok &= !dsns.is_empty() && dsns.iter().all(|x| x == d);
        }
        if let Some(v) = &self.via {
            ok &= leaves
                .iter()
                .all(|l| l.via.len() == v.len() && l.via.iter().zip(v).all(|(a, b)| a == b));
        }
        let notices: Vec<&crate::route::Dsn> = leaves.iter().filter_map(|l| l.dsn).collect();
        if let Some(f) = &self.dsn_fate {
            let mut got: Vec<&str> = notices.iter().map(|d| d.fate.label()).collect();
            if f.len() == 1 {
                ok &= !got.is_empty() && got.iter().all(|g| *g == f[0]);
            } else {
                let mut want: Vec<&str> = f.iter().map(String::as_str).collect();
                want.sort();
                got.sort();
                ok &= want == got;
            }
        }
        if let Some(b) = &self.dsn_by {
            ok &=
                sorted_lc(b.clone()) == sorted_lc(notices.iter().filter_map(|d| d.writer.clone()));
        }
        if ok {
            Ok(got)
        } else {
            Err(got)
        }
    }
}

/// The state of a scenario at one point: before any step, or after a step.
#[derive(Debug, Clone)]
pub struct ScenarioStage {
    /// `initial` or the step's name.
    pub name: String,
    /// The directories by name, shared with the topology's MTAs (and with the other stages
    /// while a step leaves a directory unchanged): one copy of each directory state.
    pub directories: BTreeMap<String, Arc<Directory>>,
    /// The topology.
    pub topology: Topology,
    /// The expectations to check at this point.
    pub expects: Vec<Expectation>,
}

/// The result of checking one expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckLine {
    /// The stage.
    pub stage: String,
    /// Whether it holds.
    pub ok: bool,
    /// `ok RCPT ...` or `FAIL RCPT: expected ..., got ...`.
    pub text: String,
}

/// A loaded scenario: every stage built (directories applied, topologies assembled).
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// The initial state, then one per step.
    pub stages: Vec<ScenarioStage>,
}

/// The 1-based line of byte `offset` in `src`.
pub(crate) fn line_of(src: &str, offset: usize) -> usize {
    src.as_bytes()
        .iter()
        .take(offset.min(src.len()))
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

struct Ctx<'a> {
    file: &'a str,
    src: &'a str,
    dir: Option<&'a Path>,
    opts: &'a LoadOptions<'a>,
}

impl Ctx<'_> {
    fn invalid(&self, offset: usize, key: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError::Invalid {
            file: self.file.to_string(),
            line: line_of(self.src, offset),
            key: key.to_string(),
            message: message.into(),
        }
    }

    fn run_zmprov(
        &self,
        dir: &mut Directory,
        script: &Spanned<String>,
        key: &str,
    ) -> Result<(), ScenarioError> {
        zmprov::run(dir, script.get_ref()).map(drop).map_err(|e| {
            let start = script.span().start;
            let first = line_of(self.src, start);
            // a """ string that starts with a newline begins on the next line
            let skip = usize::from(
                self.src
                    .get(start..)
                    .is_some_and(|s| s.starts_with("\"\"\"\n") || s.starts_with("'''\n")),
            );
            ScenarioError::Invalid {
                file: self.file.to_string(),
                line: first + skip + e.line().saturating_sub(1),
                key: key.to_string(),
                message: e.zmprov_message(),
            }
        })
    }

    fn dns(&self, dns: &mut Dns, raw: &RawDns) -> Result<(), ScenarioError> {
        raw.apply(dns)
            .map_err(|(at, message)| self.invalid(at, "dns.mx", message))
    }

    fn expects(&self, raw: &[RawExpect]) -> Result<Vec<Expectation>, ScenarioError> {
        raw.iter()
            .map(|e| {
                let outcome = e.outcome.get_ref().list();
                if let Some(bad) = outcome.iter().find(|o| !OUTCOMES.contains(&o.as_str())) {
                    return Err(self.invalid(
                        e.outcome.span().start,
                        "expect.outcome",
                        format!(
                            "unknown outcome {bad:?} (expected one of {})",
                            OUTCOMES.join(", ")
                        ),
                    ));
                }
                if outcome.is_empty() {
                    return Err(self.invalid(
                        e.outcome.span().start,
                        "expect.outcome",
                        "empty list",
                    ));
                }
                if let Err(err) =
                    crate::route::simulate::check_address("recipient", e.rcpt.get_ref())
                {
                    return Err(self.invalid(e.rcpt.span().start, "expect.rcpt", err.to_string()));
                }
                if let Some(snd) = &e.sender {
                    if let Err(err) = crate::route::simulate::check_address("sender", snd.get_ref())
                    {
                        return Err(self.invalid(
                            snd.span().start,
                            "expect.sender",
                            err.to_string(),
                        ));
                    }
                }
                let dsn_fate = e.dsn_fate.as_ref().map(|f| f.get_ref().list());
                if let (Some(f), Some(raw)) = (&dsn_fate, &e.dsn_fate) {
                    if let Some(bad) = f.iter().find(|x| !DsnFate::LABELS.contains(&x.as_str())) {
                        return Err(self.invalid(
                            raw.span().start,
                            "expect.dsn_fate",
                            format!(
                                "unknown DSN fate {bad:?} (expected one of {})",
                                DsnFate::LABELS.join(", ")
                            ),
                        ));
                    }
                    if f.is_empty() {
                        return Err(self.invalid(
                            raw.span().start,
                            "expect.dsn_fate",
                            "empty list",
                        ));
                    }
                }
                Ok(Expectation {
                    rcpt: e.rcpt.get_ref().clone(),
                    from: e
                        .from
                        .as_ref()
                        .map(|f| Entry::parse(f.get_ref()))
                        .unwrap_or(Entry::Internet),
                    outcome,
                    at: e.at.as_ref().map(OneOrMany::list),
                    dsn: e.dsn.clone(),
                    mailbox: e.mailbox.as_ref().map(OneOrMany::list),
                    via: e.via.clone(),
                    sender: e.sender.as_ref().map(|s| s.get_ref().clone()),
                    dsn_fate,
                    dsn_by: e.dsn_by.as_ref().map(OneOrMany::list),
                    line: line_of(self.src, e.rcpt.span().start),
                })
            })
            .collect()
    }

    fn topology(
        &self,
        mtas: &[RawMta],
        dirs: &BTreeMap<String, Arc<Directory>>,
        dns: &Dns,
        expects: &[Expectation],
    ) -> Result<Topology, ScenarioError> {
        let mut topo = Topology::new();
        topo.dns = dns.clone();
        for m in mtas {
            let at = m.name.span().start;
            let name = m.name.get_ref();
            let hostname = m.hostname.clone().ok_or_else(|| {
                self.invalid(at, "mta.hostname", format!("MTA {name:?} has no hostname"))
            })?;
            let kind = m.kind.as_ref().ok_or_else(|| {
                self.invalid(
                    at,
                    "mta.kind",
                    format!("MTA {name:?} has no kind (zimbra | foreign)"),
                )
            })?;
            let mta = match kind.get_ref().as_str() {
                "zimbra" => {
                    let d = m.directory.as_ref().ok_or_else(|| {
                        self.invalid(
                            at,
                            "mta.directory",
                            format!("Zimbra MTA {name:?} needs a directory"),
                        )
                    })?;
                    // the stage's own copy, shared (MTAs reading it share its index too)
                    let dir = dirs.get(d.get_ref()).map(Arc::clone).ok_or_else(|| {
                        self.invalid(
                            d.span().start,
                            "mta.directory",
                            format!("no directory named {:?}", d.get_ref()),
                        )
                    })?;
                    Mta::zimbra_shared(name, &hostname, dir, |p| {
                        if let Some(r) = &m.relayhost {
                            p.relayhost = Some(r.clone()).filter(|r| !r.is_empty());
                        }
                        if let Some(v) = m.dns_lookups {
                            p.dns_lookups = v;
                        }
                        if let Some(v) = &m.mynetworks {
                            p.mynetworks = v.clone();
                        }
                        if let Some(v) = m.hopcount_limit {
                            p.hopcount_limit = v;
                        }
                        if let Some(v) = &m.mydestination {
                            p.mydestination = v.iter().map(|s| s.to_ascii_lowercase()).collect();
                        }
                        if let Some(v) = &m.recipient_delimiter {
                            p.recipient_delimiter = v.clone();
                        }
                        if let Some(v) = m.old_address_filter {
                            p.old_address_filter = v;
                        }
                        macro_rules! set {
                            ($($f:ident),*) => { $( if let Some(v) = &m.$f { p.$f = v.clone(); } )* };
                        }
                        param_keys!(set);
                    })
                }
                "foreign" => Mta::foreign(
                    name,
                    &hostname,
                    ForeignMta {
                        domains: m.domains.clone().unwrap_or_default(),
                        mailboxes: m.mailboxes.clone().unwrap_or_default(),
                        routes: m.routes.clone().unwrap_or_default(),
                        aliases: m.aliases.clone().unwrap_or_default(),
                        unknown: m.unknown.unwrap_or_default(),
                        unknown_relay: m.unknown_relay.clone().filter(|s| !s.is_empty()),
                        relayhost: m.relayhost.clone().filter(|s| !s.is_empty()),
                        dns_lookups: m.dns_lookups.unwrap_or(true),
                        hopcount_limit: m
                            .hopcount_limit
                            .unwrap_or(crate::route::DEFAULT_HOPCOUNT_LIMIT),
                    },
                ),
                other => {
                    return Err(self.invalid(
                        kind.span().start,
                        "mta.kind",
                        format!("unknown kind {other:?} (expected zimbra or foreign)"),
                    ))
                }
            };
            topo.add(mta)
                .map_err(|e| self.invalid(at, "mta.name", e.to_string()))?;
        }
        for e in expects {
            if let Entry::Mta(m) = &e.from {
                if topo.mta(m).is_none() {
                    return Err(ScenarioError::Invalid {
                        file: self.file.to_string(),
                        line: e.line,
                        key: "expect.from".into(),
                        message: format!("no MTA named {m:?} (use \"internet\" or an MTA name)"),
                    });
                }
            }
        }
        Ok(topo)
    }
}

impl Scenario {
    /// Load and build a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        Scenario::load_with(path, &LoadOptions::default())
    }

    /// Load with options (an LDIF loader).
    pub fn load_with(path: &Path, opts: &LoadOptions<'_>) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|e| ScenarioError::Io {
            file: file.clone(),
            message: e.to_string(),
        })?;
        Scenario::parse_in(&src, &file, path.parent(), opts)
    }

    /// Parse scenario text; `file` names it in errors. `ldif` paths are relative to the
    /// current directory.
    ///
    /// ```
    /// use zimbra_prov::scenario::{LoadOptions, Scenario};
    /// let s = Scenario::parse(r#"
    /// [[directory]]
    /// name = "zcs"
    /// zmprov = "cs mx.example.org\ncd example.org\nca a@example.org pw"
    /// [[mta]]
    /// name = "mx"
    /// kind = "zimbra"
    /// hostname = "mx.example.org"
    /// directory = "zcs"
    /// [dns]
    /// mx = { "example.org" = ["10 mx.example.org"] }
    /// [[expect]]
    /// rcpt = "a@example.org"
    /// outcome = "delivered"
    /// at = "mx.example.org"
    /// "#, "inline.toml", &LoadOptions::default()).unwrap();
    /// assert!(s.check().iter().all(|l| l.ok));
    /// let err = Scenario::parse("[[mta]]\nname = \"x\"\nkind = \"zimbra\"\nhostname = \"h\"\ndirectory = \"nope\"\n",
    ///     "bad.toml", &LoadOptions::default()).unwrap_err();
    /// assert_eq!(err.to_string(), "bad.toml:5: mta.directory: no directory named \"nope\"");
    /// ```
    pub fn parse(src: &str, file: &str, opts: &LoadOptions<'_>) -> Result<Scenario, ScenarioError> {
        Scenario::parse_in(src, file, None, opts)
    }

    fn parse_in(
        src: &str,
        file: &str,
        base: Option<&Path>,
        opts: &LoadOptions<'_>,
    ) -> Result<Scenario, ScenarioError> {
        let raw: RawScenario = toml::from_str(src).map_err(|e| ScenarioError::Toml {
            file: file.to_string(),
            line: e.span().map(|s| line_of(src, s.start)).unwrap_or(1),
            message: e.message().to_string(),
        })?;
        let cx = Ctx {
            file,
            src,
            dir: base,
            opts,
        };
        // directories
        let mut dirs: BTreeMap<String, Directory> = BTreeMap::new();
        for d in &raw.directory {
            let name = d.name.get_ref().clone();
            if dirs.contains_key(&name) {
                return Err(cx.invalid(
                    d.name.span().start,
                    "directory.name",
                    format!("duplicate directory {name:?}"),
                ));
            }
            // (the directory, whether it holds only what routing reads already)
            let (mut dir, reduced) = match (&d.zmprov, &d.ldif) {
                (Some(z), None) => {
                    let mut dir = Directory::new();
                    cx.run_zmprov(&mut dir, z, "directory.zmprov")?;
                    (dir, false)
                }
                (None, Some(l)) => {
                    let path = match cx.dir {
                        Some(b) => b.join(l.get_ref()),
                        None => PathBuf::from(l.get_ref()),
                    };
                    let loaded = match cx.opts.ldif_loader {
                        Some(load) => load(&path).map(|dir| (dir, false)),
                        // the reader keeps only what routing reads as it goes
                        None if opts.routing_only => {
                            read_ldif_directory_with(&path, &crate::dit::ReadOptions::routing())
                                .map(|dir| (dir, true))
                        }
                        None => read_ldif_directory(&path).map(|dir| (dir, false)),
                    };
                    loaded.map_err(|m| cx.invalid(l.span().start, "directory.ldif", m))?
                }
                _ => {
                    return Err(cx.invalid(
                        d.name.span().start,
                        "directory",
                        "give exactly one of zmprov and ldif",
                    ))
                }
            };
            if opts.routing_only && !reduced {
                dir.keep_routing_attrs();
            }
            dirs.insert(name, dir);
        }
        let mut mtas: Vec<RawMta> = raw.mta.clone();
        let mut dns = Dns::default();
        if let Some(d) = &raw.dns {
            cx.dns(&mut dns, d)?;
        }
        let expects = cx.expects(&raw.expect)?;
        // every stage shares the directories it does not change (a step's zmprov copies the
        // directory it changes, once)
        let mut dirs: BTreeMap<String, Arc<Directory>> =
            dirs.into_iter().map(|(k, d)| (k, Arc::new(d))).collect();
        let topology = cx.topology(&mtas, &dirs, &dns, &expects)?;
        let mut stages = vec![ScenarioStage {
            name: "initial".into(),
            directories: dirs.clone(),
            topology,
            expects,
        }];
        for (i, st) in raw.step.iter().enumerate() {
            for (dname, script) in &st.zmprov {
                let dir = dirs.get_mut(dname).ok_or_else(|| {
                    cx.invalid(
                        script.span().start,
                        "step.zmprov",
                        format!("no directory named {dname:?}"),
                    )
                })?;
                cx.run_zmprov(Arc::make_mut(dir), script, "step.zmprov")?;
            }
            for p in &st.mta {
                match mtas
                    .iter_mut()
                    .find(|m| m.name.get_ref() == p.name.get_ref())
                {
                    Some(m) => m.patch(p),
                    None => mtas.push(p.clone()),
                }
            }
            if let Some(d) = &st.dns {
                cx.dns(&mut dns, d)?;
            }
            let expects = cx.expects(&st.expect)?;
            let topology = cx.topology(&mtas, &dirs, &dns, &expects)?;
            stages.push(ScenarioStage {
                name: st.name.clone().unwrap_or_else(|| format!("step {}", i + 1)),
                directories: dirs.clone(),
                topology,
                expects,
            });
        }
        Ok(Scenario {
            name: raw.name.clone().unwrap_or_else(|| file.to_string()),
            file: file.to_string(),
            stages,
        })
    }

    /// The stage named `name` (`initial` or a step name), or by 0-based number.
    pub fn stage(&self, name: &str) -> Option<&ScenarioStage> {
        self.stages
            .iter()
            .find(|s| s.name == name)
            .or_else(|| name.parse::<usize>().ok().and_then(|i| self.stages.get(i)))
    }

    /// Evaluate every expectation, top level then per step, in order.
    pub fn check(&self) -> Vec<CheckLine> {
        let mut out = Vec::new();
        for st in &self.stages {
            for e in &st.expects {
                let mut sim = Simulator::new(&st.topology);
                if let Some(s) = &e.sender {
                    sim = sim.sender(s.clone());
                }
                let from = match &e.from {
                    Entry::Internet => String::new(),
                    Entry::Mta(m) => format!(" from {m}"),
                };
                let result = sim
                    .run(&e.from, &e.rcpt)
                    .map_err(|err| format!("error: {err}"))
                    .and_then(|trace| e.evaluate(&trace));
                let line = match result {
                    Ok(got) => CheckLine {
                        stage: st.name.clone(),
                        ok: true,
                        text: format!("ok {}{from}: {got}", e.rcpt),
                    },
                    Err(got) => CheckLine {
                        stage: st.name.clone(),
                        ok: false,
                        text: format!(
                            "FAIL {}{from}: expected {}, got {got} ({}:{})",
                            e.rcpt,
                            e.describe(),
                            self.file,
                            e.line
                        ),
                    },
                };
                out.push(line);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::MtaKind;

    #[test]
    fn stages_share_the_directories_a_step_leaves_unchanged() {
        let text = r#"
[[directory]]
name = "a"
zmprov = "cs a.example.org\ncd a.example.org\nca x@a.example.org pw"
[[directory]]
name = "b"
zmprov = "cs b.example.org\ncd b.example.org"
[[mta]]
name = "a"
kind = "zimbra"
hostname = "a.example.org"
directory = "a"
[[mta]]
name = "b"
kind = "zimbra"
hostname = "b.example.org"
directory = "b"
[[step]]
zmprov = { b = "ca y@b.example.org pw" }
"#;
        let sc =
            Scenario::parse(text, "t.toml", &Default::default()).unwrap_or_else(|e| panic!("{e}"));
        let [s0, s1] = &sc.stages[..] else {
            panic!("two stages")
        };
        let same = |k: &str| Arc::ptr_eq(&s0.directories[k], &s1.directories[k]);
        assert!(same("a"));
        assert!(!same("b"));
        assert_eq!(s0.directories["b"].accounts().count(), 0);
        assert_eq!(s1.directories["b"].accounts().count(), 1);
        // the MTAs read the stage's copy, not another one
        for st in [s0, s1] {
            for (m, d) in [("a", "a"), ("b", "b")] {
                let mta = st.topology.mtas().iter().find(|x| x.name == m);
                let Some(MtaKind::Zimbra(z)) = mta.map(|x| &x.kind) else {
                    panic!("zimbra MTA {m}")
                };
                let dir = z.directory().unwrap_or_else(|| panic!("kept"));
                assert!(Arc::ptr_eq(dir, &st.directories[d]));
            }
        }
    }
}
