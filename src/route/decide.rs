//! The Zimbra MTA's decision for one recipient: Postfix 3.7 reading Zimbra's LDAP through the
//! eight `ldap-*.cf` filters, as one pure function, stage by stage.
//!
//! [`ZimbraMta::decide`] runs these stages, each recorded as a [`Step`] naming the Postfix table,
//! the Zimbra attribute and the entry (DN) that decided:
//!
//! 1. **Address** — the recipient is put in standard form: `<...>` and one trailing dot are
//!    removed, a bare local part gets `@$myorigin`; a malformed address is rejected
//!    (`501 5.1.3 Bad recipient address syntax`).
//! 2. **RCPT** (SMTP arrivals only; `smtpd_recipient_restrictions` as zmconfigd writes them):
//!    `reject_non_fqdn_recipient` (`504 5.5.2`); then mail from a trusted client (`mynetworks`) is
//!    accepted; otherwise a domain that is neither in `mydestination` nor a virtual alias or
//!    virtual mailbox domain is refused with `554 5.7.1 <a>: Relay access denied`
//!    (`reject_unauth_destination`), and `reject_unlisted_recipient` accepts an address that
//!    matches `canonical_maps` or `virtual_alias_maps` (full address, then `@domain`) and else
//!    rejects `550 5.1.1 <a>: Recipient address rejected: User unknown in virtual alias table`
//!    (alias domains) or, if ldap-vmm.cf does not list it either, `... in virtual mailbox table`.
//!    With `zimbraMtaRestriction` holding Zimbra's split-domain check, ldap-splitdomain.cf answers
//!    `OK` for known recipients and a `reject` restriction refuses the rest
//!    (`554 5.7.1 <a>: Recipient address rejected: Access denied`).
//! 3. **Canonical** (`canonical_maps` = ldap-canonical.cf, applied to recipients too): keys
//!    `user+ext@domain`, `user@domain`, `@domain`; the first result value wins; an `@other`
//!    result keeps the local part; the unmatched `+ext` is put back (`propagate_unmatched_extensions`
//!    contains `canonical`); repeated until the address maps to itself, at most 10 times
//!    (Postfix's `cleanup_map11`); past that Postfix only logs a warning and keeps the address
//!    reached by the tenth rewrite (observed with the oracle).
//! 4. **Virtual** (`virtual_alias_maps` = ldap-vam.cf): Postfix's `cleanup_map1n` algorithm —
//!    each address is looked up (same key order), the first result replaces it and the others are
//!    appended; an address may expand into itself once (then it is final); `@other` results keep
//!    the local part — but when the *first* value of a multi-value result is `@other`, Postfix
//!    prepends the local part to the whole comma-joined result and treats it as one address,
//!    which grows on every lookup until the 1,000-character address limit defers the message
//!    (observed with the oracle: a domain catch-all and an account catch-all on one domain); more than `virtual_alias_expansion_limit` addresses or a nesting deeper than
//!    `virtual_alias_recursion_limit` refuses the message with `4.6.0` (a defer). Entries with
//!    `zimbraMailStatus=disabled` are invisible. Duplicate final recipients are delivered once.
//! 5. **Resolve** (trivial-rewrite) for each final recipient: the address class from the domain
//!    (`mydestination` → local; ldap-vad.cf → virtual alias class, which bounces
//!    `5.1.1 User unknown in virtual alias table` without consulting transport_maps; ldap-vmd.cf
//!    → virtual mailbox class with `virtual_transport` (Zimbra: `error`) and the domain as next hop;
//!    otherwise the default class, `smtp` to `relayhost` or the domain).
//! 6. **Transport** (`transport_maps` = ldap-transport.cf): keys `user+ext@domain`, `user@domain`,
//!    `domain` (subdomains do not inherit: Zimbra's values never start with a dot), `*`; an
//!    account without `zimbraMailTransport` falls through to its domain's. An empty next hop
//!    means the recipient domain; `error:` bounces with its DSN (default `5.0.0`) and text; a
//!    transport that master.cf does not define defers `4.3.0 mail transport unavailable`.
//!
//! LMTP delivery (account status at the mailbox server) is [`ZimbraMta::lmtp`]; next-hop
//! resolution, loops and hop counts belong to the multi-MTA [`simulate`](super::simulate).

use std::collections::HashSet;
use std::fmt;

use serde::Serialize;

use super::index::{FxMap, Hit, IndexOptions, MtaIndex};
use crate::model::{names as n, AccountStatus, Address, Directory, Server};

/// The Postfix parameters of one Zimbra MTA, as zmconfigd derives them from the directory
/// (global config and the MTA's server entry), with Postfix's defaults for the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZimbraParams {
    /// `myhostname` (`zimbraMtaMyHostname`, else the server's host name).
    pub myhostname: String,
    /// `myorigin` (`zimbraMtaMyOrigin`, else `$myhostname`).
    pub myorigin: String,
    /// `mydestination` (`zimbraMtaMyDestination`, default `localhost`), lower case.
    pub mydestination: Vec<String>,
    /// `mynetworks` (`zimbraMtaMyNetworks`): CIDR blocks or addresses of trusted clients.
    pub mynetworks: Vec<String>,
    /// `relayhost` (`zimbraMtaRelayHost`), verbatim (`host`, `[host]`, `host:port`).
    pub relayhost: Option<String>,
    /// Whether the SMTP client looks up MX records (`zimbraMtaSmtpDnsSupportLevel` not
    /// `disabled` and the deprecated `zimbraMtaDnsLookupsEnabled` not `FALSE`).
    pub dns_lookups: bool,
    /// `recipient_delimiter` (`zimbraMtaRecipientDelimiter`, default empty).
    pub recipient_delimiter: String,
    /// `propagate_unmatched_extensions` contains `canonical` (Zimbra's default).
    pub propagate_canonical: bool,
    /// `propagate_unmatched_extensions` contains `virtual`.
    pub propagate_virtual: bool,
    /// `virtual_alias_expansion_limit` (`zimbraMtaVirtualAliasExpansionLimit`, 10000).
    pub virtual_alias_expansion_limit: usize,
    /// `virtual_alias_recursion_limit` (Postfix default 1000).
    pub virtual_alias_recursion_limit: usize,
    /// `virtual_transport` (`zimbraMtaSmtpdVirtualTransport`, `error`).
    pub virtual_transport: String,
    /// `hopcount_limit` (Postfix default 50).
    pub hopcount_limit: u32,
    /// `zimbraMtaRestriction` holds `check_recipient_access ldap:/opt/zimbra/conf/ldap-splitdomain.cf`.
    pub split_domain_check: bool,
    /// `zimbraMtaRestriction` holds `reject`.
    pub reject_rest: bool,
    /// Match `zimbraOldMailAddress` in ldap-vam.cf (ZCS ≥ 8.8.10 filter).
    pub old_address_filter: bool,
    /// Transports master.cf defines (others defer with 4.3.0).
    pub transports: Vec<String>,
}

/// Transports of Zimbra's master.cf that route mail (`smtp`, `lmtp`, `relay`, ...).
pub const ZIMBRA_TRANSPORTS: &[&str] = &[
    "smtp",
    "lmtp",
    "relay",
    "error",
    "retry",
    "discard",
    "local",
    "virtual",
    "smtp-amavis",
];

fn truthy(v: Option<&str>) -> Option<bool> {
    v.map(|s| !s.eq_ignore_ascii_case("false"))
}

impl ZimbraParams {
    /// Postfix + Zimbra defaults for an MTA called `hostname` (a fresh install's global config).
    pub fn defaults(hostname: &str) -> Self {
        ZimbraParams::from_directory(&Directory::new(), hostname)
    }

    /// The parameters zmconfigd would write for the MTA `hostname` reading `dir`: the server
    /// entry's values (`serverInherited`), else the global config's, else the catalog defaults.
    pub fn from_directory(dir: &Directory, hostname: &str) -> Self {
        let server: Option<&Server> = dir.server_by_hostname(hostname);
        let get = |attr: &str| -> Vec<String> {
            let v = match server {
                Some(s) => dir.server_attr(s, attr),
                None => dir.config_attr(attr),
            };
            v.into_iter().map(str::to_string).collect()
        };
        let first = |attr: &str| get(attr).into_iter().next().filter(|s| !s.is_empty());
        let myhostname = first("zimbraMtaMyHostname").unwrap_or_else(|| hostname.to_string());
        let myorigin = first("zimbraMtaMyOrigin").unwrap_or_else(|| myhostname.clone());
        let split_list = |vals: Vec<String>| -> Vec<String> {
            vals.iter()
                .flat_map(|v| v.split([',', ' ', '\t']))
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        let mydestination = split_list(get("zimbraMtaMyDestination"))
            .into_iter()
            .map(|d| {
                if d == "$myhostname" {
                    myhostname.to_ascii_lowercase()
                } else {
                    d.to_ascii_lowercase()
                }
            })
            .collect();
        let level_off = first(n::MTA_SMTP_DNS_SUPPORT_LEVEL)
            .is_some_and(|l| l.eq_ignore_ascii_case("disabled"));
        let lookups = truthy(first(n::MTA_DNS_LOOKUPS_ENABLED).as_deref()).unwrap_or(true);
        let propagate = first("zimbraMtaPropagateUnmatchedExtensions")
            .unwrap_or_else(|| "canonical".into())
            .to_ascii_lowercase();
        let restrictions = get("zimbraMtaRestriction");
        ZimbraParams {
            myorigin,
            mydestination,
            mynetworks: split_list(get("zimbraMtaMyNetworks")),
            relayhost: first(n::MTA_RELAY_HOST),
            dns_lookups: lookups && !level_off,
            recipient_delimiter: dir
                .config_attr("zimbraMtaRecipientDelimiter")
                .first()
                .map(|s| s.to_string())
                .unwrap_or_default(),
            propagate_canonical: propagate.contains("canonical"),
            propagate_virtual: propagate.contains("virtual"),
            virtual_alias_expansion_limit: first("zimbraMtaVirtualAliasExpansionLimit")
                .and_then(|s| s.parse().ok())
                .unwrap_or(10000),
            virtual_alias_recursion_limit: 1000,
            virtual_transport: first("zimbraMtaSmtpdVirtualTransport")
                .unwrap_or_else(|| "error".into()),
            hopcount_limit: 50,
            split_domain_check: restrictions
                .iter()
                .any(|r| r.contains("check_recipient_access") && r.contains("ldap-splitdomain.cf")),
            reject_rest: restrictions.iter().any(|r| r.trim() == "reject"),
            old_address_filter: false,
            transports: ZIMBRA_TRANSPORTS.iter().map(|s| s.to_string()).collect(),
            myhostname,
        }
    }
}

/// How the message reaches the MTA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Arrival {
    /// Received over SMTP (RCPT restrictions apply); `false` for local submission (pickup).
    pub smtp: bool,
    /// The client is trusted (`permit_mynetworks` / SASL).
    pub trusted: bool,
}

impl Arrival {
    /// An untrusted SMTP client (the Internet).
    pub const INTERNET: Arrival = Arrival {
        smtp: true,
        trusted: false,
    };
    /// A trusted SMTP client (in `mynetworks`).
    pub const TRUSTED: Arrival = Arrival {
        smtp: true,
        trusted: true,
    };
    /// Local submission (`sendmail`, pickup): no RCPT restrictions (what the oracle measures).
    pub const PICKUP: Arrival = Arrival {
        smtp: false,
        trusted: true,
    };
}

/// The stage of a decision (or of a simulated hop) a [`Step`] belongs to.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    serde::Deserialize,
    strum::Display,
    strum::IntoStaticStr,
)]
#[strum(serialize_all = "lowercase")]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Stage {
    /// Where the message enters (MX lookup for Internet senders).
    Entry,
    /// Standard form of the address.
    Address,
    /// SMTP-time recipient validation.
    Rcpt,
    /// `canonical_maps`.
    Canonical,
    /// `virtual_alias_maps` expansion.
    Virtual,
    /// Address class (trivial-rewrite).
    Resolve,
    /// `transport_maps`.
    Transport,
    /// Next-hop resolution (MX / A).
    Dns,
    /// SMTP client checks (loops back to myself).
    Smtp,
    /// LMTP delivery at a Zimbra mailbox server.
    Lmtp,
    /// A foreign MTA's tables.
    Foreign,
    /// Hop count / loop detection.
    Hop,
}

/// One recorded step of a decision: what was looked up, in which table, what decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The stage.
    pub stage: Stage,
    /// The Postfix table or parameter consulted (`ldap-vam.cf`, `relayhost`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<&'static str>,
    /// The Zimbra attribute that decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attr: Option<&'static str>,
    /// The entry (DN) that decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// What happened, in words.
    pub text: String,
}

impl Step {
    /// A step with only a text.
    pub fn new(stage: Stage, text: impl Into<String>) -> Step {
        Step {
            stage,
            table: None,
            attr: None,
            entry: None,
            text: text.into(),
        }
    }

    fn table(mut self, t: &'static str) -> Step {
        self.table = Some(t);
        self
    }

    fn hit(mut self, idx: &MtaIndex, h: Option<&Hit>) -> Step {
        if let Some(h) = h {
            self.attr = Some(h.attr.name());
            self.entry = Some(idx.dn(h.rec).to_string());
        }
        self
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.stage, self.text)?;
        match (self.table, self.attr, &self.entry) {
            (None, None, None) => Ok(()),
            (t, a, e) => {
                f.write_str(" [")?;
                let mut sep = "";
                if let Some(t) = t {
                    write!(f, "{t}")?;
                    sep = " ";
                }
                if let Some(a) = a {
                    write!(f, "{sep}{a}")?;
                    sep = " ";
                }
                if let Some(e) = e {
                    write!(f, "{sep}on {e}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// What the MTA does with one final recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
#[non_exhaustive]
pub enum Action {
    /// Hand to a delivery agent: `smtp`/`relay` (next MTA), `lmtp` (Zimbra mailbox server),
    /// `local`/`virtual` (this host).
    Relay {
        /// The master.cf transport.
        transport: String,
        /// The next hop as Postfix holds it (`host`, `[host]:port`, `host:port`, a domain).
        nexthop: String,
    },
    /// The `error` agent bounces the recipient.
    Bounce {
        /// The agent (`error`).
        transport: String,
        /// Enhanced status code.
        dsn: String,
        /// Reason text.
        text: String,
    },
    /// Delivery is deferred (queue manager or agent).
    Defer {
        /// The agent (`retry`).
        transport: String,
        /// Enhanced status code.
        dsn: String,
        /// Reason text.
        text: String,
    },
    /// The `discard` agent drops the mail silently.
    Discard {
        /// Its next hop text.
        nexthop: String,
    },
}

impl Action {
    /// The item of `route decide`'s line format: `transport:nexthop`, `bounce (T: TEXT [DSN])`,
    /// `defer (T: TEXT [DSN])`, `discard:nexthop`.
    pub fn item(&self) -> String {
        match self {
            Action::Relay { transport, nexthop } => format!("{transport}:{nexthop}"),
            Action::Bounce {
                transport,
                dsn,
                text,
            } => format!("bounce ({transport}: {text} [{dsn}])"),
            Action::Defer {
                transport,
                dsn,
                text,
            } => format!("defer ({transport}: {text} [{dsn}])"),
            Action::Discard { nexthop } => format!("discard:{nexthop}"),
        }
    }
}

/// One final recipient of an accepted message and what happens to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// The final recipient (after canonical and virtual mapping), case as Postfix keeps it.
    pub recipient: String,
    /// The resolve/transport steps for this recipient.
    pub steps: Vec<Step>,
    /// The action.
    pub action: Action,
}

/// The MTA's verdict on a recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
#[non_exhaustive]
pub enum Verdict {
    /// Refused at RCPT time (or the address is malformed).
    Rejected {
        /// The SMTP reply, e.g. `554 5.7.1 <a@b>: Relay access denied`.
        reply: String,
        /// Its enhanced status code.
        dsn: String,
    },
    /// cleanup refused the message (alias expansion/nesting limits): a temporary failure.
    Deferred {
        /// Enhanced status code (`4.6.0`).
        dsn: String,
        /// cleanup's warning text.
        text: String,
    },
    /// Accepted: one entry per final recipient.
    Accepted {
        /// The final recipients in expansion order.
        deliveries: Vec<Delivery>,
    },
}

/// The complete single-MTA decision for one recipient.
///
/// ```
/// use zimbra_prov::model::Directory;
/// use zimbra_prov::route::{Arrival, ZimbraMta};
/// let mut dir = Directory::new();
/// zimbra_prov::zmprov::run(&mut dir, "
///     cs mx.example.org
///     cd example.org
///     ca alice@example.org pw
///     ca bob@example.org pw zimbraMailTransport smtp:exchange.example.org:25
/// ").unwrap();
/// let mta = ZimbraMta::from_directory(&dir, "mx.example.org");
/// assert_eq!(mta.decide("bob@example.org", Arrival::INTERNET).line(),
///            "bob@example.org -> smtp:exchange.example.org:25");
/// assert_eq!(mta.decide("Alice@Example.org", Arrival::INTERNET).line(),
///            "Alice@Example.org -> lmtp:mx.example.org:7025 <alice@example.org>");
/// assert_eq!(mta.decide("nobody@example.org", Arrival::INTERNET).line(),
///            "nobody@example.org -> reject (550 5.1.1 <nobody@example.org>: Recipient address \
///             rejected: User unknown in virtual mailbox table)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The recipient as given.
    pub input: String,
    /// The recipient in standard form (empty when it did not parse).
    pub address: String,
    /// Steps up to the end of virtual alias expansion.
    pub steps: Vec<Step>,
    /// The verdict.
    pub verdict: Verdict,
}

impl Decision {
    /// The items of the oracle line format, sorted by final recipient (case-insensitive), then
    /// item; each followed by ` <FINAL>` when the final recipient differs from the input.
    pub fn items(&self) -> Vec<String> {
        match &self.verdict {
            Verdict::Rejected { reply, .. } => vec![format!("reject ({reply})")],
            // cleanup reports every alias-expansion refusal as "4.6.0 Alias expansion error";
            // the detailed warning (in `text`) goes to the log only
            Verdict::Deferred { dsn, .. } => {
                vec![format!("defer (cleanup: Alias expansion error [{dsn}])")]
            }
            Verdict::Accepted { deliveries } => {
                let mut v: Vec<(String, String)> = deliveries
                    .iter()
                    .map(|d| {
                        let mut item = d.action.item();
                        let shown = external_form(&d.recipient);
                        if shown != self.input {
                            item.push_str(&format!(" <{shown}>"));
                        }
                        (d.recipient.to_ascii_lowercase(), item)
                    })
                    .collect();
                v.sort();
                v.into_iter().map(|(_, i)| i).collect()
            }
        }
    }

    /// `INPUT -> ITEM | ITEM ...` (the `route decide` / oracle line).
    pub fn line(&self) -> String {
        format!("{} -> {}", self.input, self.items().join(" | "))
    }
}

/// The reply of Zimbra's LMTP server for one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[non_exhaustive]
pub enum LmtpReply {
    /// `250 2.1.5` — stored in `mailbox` on `host`.
    Accepted {
        /// The server holding the mailbox.
        host: String,
        /// The account's name.
        mailbox: String,
    },
    /// A 4xx reply (deferred).
    Temporary {
        /// Enhanced status.
        dsn: String,
        /// Full reply.
        reply: String,
    },
    /// A 5xx reply (bounced).
    Permanent {
        /// Enhanced status.
        dsn: String,
        /// Full reply.
        reply: String,
    },
}

/// One Zimbra MTA: its Postfix parameters and the index of the directory it reads.
#[derive(Debug, Clone)]
pub struct ZimbraMta {
    /// The parameters.
    pub params: ZimbraParams,
    index: MtaIndex,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Full,
    Stripped,
    AtDomain,
}

struct Found<'a> {
    hits: &'a [Hit],
    kind: KeyKind,
    ext: &'a str,
}

/// Split `local@domain` at the last `@` (no panics on odd input).
fn split_addr(a: &str) -> (&str, &str) {
    match a.rfind('@') {
        Some(i) => (&a[..i], &a[i + 1..]),
        None => (a, ""),
    }
}

fn lower_into(buf: &mut String, parts: &[&str]) {
    buf.clear();
    for p in parts {
        for c in p.chars() {
            buf.push(c.to_ascii_lowercase());
        }
    }
}

struct Rec<'s> {
    on: bool,
    steps: &'s mut Vec<Step>,
}

impl Rec<'_> {
    #[inline]
    fn add(&mut self, f: impl FnOnce() -> Step) {
        if self.on {
            self.steps.push(f());
        }
    }
}

/// The internal (unquoted, unescaped) form of a local part: `"a b"` → `a b`.
fn internal_local(local: &str) -> std::borrow::Cow<'_, str> {
    match local.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => out.extend(chars.next()),
                    c => out.push(c),
                }
            }
            std::borrow::Cow::Owned(out)
        }
        None => std::borrow::Cow::Borrowed(local),
    }
}

/// An address in the external form Postfix logs and reports: a local part that is empty or has
/// characters special in RFC 5322 is quoted (`""@example.org`, `"a b"@example.org`).
pub fn external_form(addr: &str) -> String {
    let (local, domain) = match addr.rfind('@') {
        Some(i) => (&addr[..i], &addr[i..]),
        None => (addr, ""),
    };
    let already = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
    let special = |c: char| "()<>@,;:\\\".[] ".contains(c) || c.is_control();
    let dots_ok = !local.starts_with('.') && !local.ends_with('.') && !local.contains("..");
    if already || (!local.is_empty() && dots_ok && !local.chars().any(|c| special(c) && c != '.')) {
        return addr.to_string();
    }
    let mut q = String::with_capacity(local.len() + 2 + domain.len());
    q.push('"');
    for c in local.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q.push_str(domain);
    q
}

/// Postfix's `virtual_alias_address_length_limit` default: a longer alias result defers the
/// message.
const VIRTUAL_ADDRESS_LENGTH_LIMIT: usize = 1000;

/// Result of applying a lookup result to an address (Postfix `mail_addr_map`).
fn map_value(value: &str, addr: &str, found: &Found<'_>, propagate: bool) -> String {
    let (local, _) = split_addr(addr);
    let mut out = if value.starts_with('@') {
        // Postfix works on the internal (unquoted) form: `"a b"@x` is `a b@x` inside
        format!("{}{value}", internal_local(local))
    } else {
        value.to_string()
    };
    if propagate
        && found.kind == KeyKind::Stripped
        && !found.ext.is_empty()
        && !value.starts_with('@')
    {
        if let Some(i) = out.rfind('@') {
            out.insert_str(i, found.ext);
        }
    }
    out
}

impl ZimbraMta {
    /// An MTA with explicit parameters reading `dir`.
    pub fn new(dir: &Directory, params: ZimbraParams) -> Self {
        let index = MtaIndex::build(
            dir,
            IndexOptions {
                old_address_filter: params.old_address_filter,
            },
        );
        ZimbraMta { params, index }
    }

    /// The MTA `hostname` with the parameters zmconfigd derives from `dir`.
    pub fn from_directory(dir: &Directory, hostname: &str) -> Self {
        ZimbraMta::new(dir, ZimbraParams::from_directory(dir, hostname))
    }

    /// The lookup index.
    pub fn index(&self) -> &MtaIndex {
        &self.index
    }

    fn ext_split<'a>(&self, local: &'a str) -> Option<(&'a str, &'a str)> {
        let d = &self.params.recipient_delimiter;
        if d.is_empty() || local.starts_with('"') {
            return None;
        }
        let pos = local.find(|c| d.contains(c))?;
        if pos == 0 {
            return None;
        }
        Some((&local[..pos], &local[pos..]))
    }

    /// Postfix's `user+ext@domain`, `user@domain`, `@domain` lookup order against one map.
    fn find<'a>(
        &self,
        map: &'a FxMap<Box<str>, Box<[Hit]>>,
        addr: &'a str,
        buf: &mut String,
    ) -> Option<Found<'a>> {
        let (local, domain) = split_addr(addr);
        lower_into(buf, &[addr]);
        if let Some(h) = map.get(buf.as_str()) {
            return Some(Found {
                hits: h,
                kind: KeyKind::Full,
                ext: "",
            });
        }
        if let Some((base, ext)) = self.ext_split(local) {
            lower_into(buf, &[base, "@", domain]);
            if let Some(h) = map.get(buf.as_str()) {
                return Some(Found {
                    hits: h,
                    kind: KeyKind::Stripped,
                    ext,
                });
            }
        }
        lower_into(buf, &["@", domain]);
        map.get(buf.as_str()).map(|h| Found {
            hits: h,
            kind: KeyKind::AtDomain,
            ext: "",
        })
    }

    fn domain_class(&self, domain_lc: &str) -> Class {
        if self.params.mydestination.iter().any(|d| d == domain_lc) {
            Class::Local
        } else if let Some(r) = self.index.vad.get(domain_lc) {
            Class::Alias(*r)
        } else if let Some(r) = self.index.vmd.get(domain_lc) {
            Class::Virtual(*r)
        } else {
            Class::Default
        }
    }

    /// Put `raw` in standard form; `Err` is the rejection text.
    fn normalise(&self, raw: &str) -> Result<String, ()> {
        let mut s = raw.trim();
        if let Some(inner) = s.strip_prefix('<').and_then(|x| x.strip_suffix('>')) {
            s = inner.trim();
        }
        let s = s.strip_suffix('.').unwrap_or(s);
        let full = if s.contains('@') {
            s.to_string()
        } else {
            format!("{s}@{}", self.params.myorigin)
        };
        let parsed = Address::parse(&full).map_err(|_| ())?;
        let (_, dom) = split_addr(&full);
        if dom.len() != parsed.domain().as_str().len() {
            return Err(());
        }
        Ok(full)
    }

    /// The decision with every step recorded (see the module documentation for the stages).
    pub fn decide(&self, rcpt: &str, arrival: Arrival) -> Decision {
        self.run(rcpt, arrival, true)
    }

    /// The same decision without recording steps (for exhaustive checks and benchmarks).
    pub fn decide_quiet(&self, rcpt: &str, arrival: Arrival) -> Decision {
        self.run(rcpt, arrival, false)
    }

    fn run(&self, rcpt: &str, arrival: Arrival, trace: bool) -> Decision {
        let mut steps = Vec::new();
        let mut rec = Rec {
            on: trace,
            steps: &mut steps,
        };
        let mut buf = String::with_capacity(64);
        let reject = |steps: Vec<Step>, address: String, reply: String, dsn: &str| Decision {
            input: rcpt.to_string(),
            address,
            steps,
            verdict: Verdict::Rejected {
                reply,
                dsn: dsn.to_string(),
            },
        };
        // 1. standard form
        let addr = match self.normalise(rcpt) {
            Ok(a) => a,
            Err(()) => {
                rec.add(|| Step::new(Stage::Address, format!("{rcpt:?} is not a valid address")));
                return reject(
                    steps,
                    String::new(),
                    "501 5.1.3 Bad recipient address syntax".into(),
                    "5.1.3",
                );
            }
        };
        if trace && addr != rcpt {
            rec.add(|| Step::new(Stage::Address, format!("standard form {addr}")));
        }
        // 2. RCPT restrictions
        if arrival.smtp {
            if let Some(reply) = self.rcpt_check(&addr, arrival, &mut rec, &mut buf) {
                let dsn = reply.split(' ').nth(1).unwrap_or("5.0.0").to_string();
                return reject(steps, addr, reply, &dsn);
            }
        }
        // 3. canonical
        let addr_c = match self.canonical(&addr, &mut rec, &mut buf) {
            Ok(a) => a,
            Err(text) => {
                return Decision {
                    input: rcpt.to_string(),
                    address: addr,
                    steps,
                    verdict: Verdict::Deferred {
                        dsn: "4.6.0".into(),
                        text,
                    },
                }
            }
        };
        // 4. virtual
        let finals = match self.virtual_expand(&addr_c, &mut rec, &mut buf) {
            Ok(v) => v,
            Err(text) => {
                return Decision {
                    input: rcpt.to_string(),
                    address: addr,
                    steps,
                    verdict: Verdict::Deferred {
                        dsn: "4.6.0".into(),
                        text,
                    },
                }
            }
        };
        // 5./6. resolve + transport per final recipient
        let deliveries = finals
            .into_iter()
            .map(|r| self.resolve(r, trace, &mut buf))
            .collect();
        Decision {
            input: rcpt.to_string(),
            address: addr,
            steps,
            verdict: Verdict::Accepted { deliveries },
        }
    }

    fn rcpt_check(
        &self,
        addr: &str,
        arrival: Arrival,
        rec: &mut Rec<'_>,
        buf: &mut String,
    ) -> Option<String> {
        let (_, domain) = split_addr(addr);
        if !domain.contains('.') {
            rec.add(|| {
                Step::new(Stage::Rcpt, "reject_non_fqdn_recipient")
                    .table("smtpd_recipient_restrictions")
            });
            return Some(format!(
                "504 5.5.2 <{addr}>: Recipient address rejected: need fully-qualified address"
            ));
        }
        if arrival.trusted {
            rec.add(|| {
                Step::new(Stage::Rcpt, "client is trusted: permit_mynetworks").table("mynetworks")
            });
            return None;
        }
        lower_into(buf, &[domain]);
        let class = self.domain_class(buf);
        if class == Class::Default {
            rec.add(|| {
                Step::new(
                    Stage::Rcpt,
                    format!("{domain} is not a local, virtual alias or virtual mailbox domain: reject_unauth_destination"),
                )
                .table("smtpd_relay_restrictions")
            });
            return Some(format!("554 5.7.1 <{addr}>: Relay access denied"));
        }
        // reject_unlisted_recipient
        let listed = if let Some(f) = self.find(&self.index.canonical, addr, buf) {
            let h = f.hits.first().copied();
            rec.add(|| {
                Step::new(Stage::Rcpt, "listed in canonical_maps")
                    .table("ldap-canonical.cf")
                    .hit(&self.index, h.as_ref())
            });
            true
        } else if let Some(f) = self.find(&self.index.vam, addr, buf) {
            let h = f.hits.first().copied();
            rec.add(|| {
                Step::new(Stage::Rcpt, "listed in virtual_alias_maps")
                    .table("ldap-vam.cf")
                    .hit(&self.index, h.as_ref())
            });
            true
        } else {
            match class {
                Class::Alias(r) => {
                    rec.add(|| {
                        Step::new(Stage::Rcpt, format!("{domain} is a virtual alias domain and {addr} matches no alias: reject_unlisted_recipient"))
                            .table("ldap-vad.cf")
                            .hit(&self.index, Some(&Hit { rec: r, attr: super::index::MatchAttr::DomainName }))
                    });
                    return Some(format!("550 5.1.1 <{addr}>: Recipient address rejected: User unknown in virtual alias table"));
                }
                Class::Virtual(r) => {
                    if let Some(f) = self.find(&self.index.vmm, addr, buf) {
                        let h = f.hits.first().copied();
                        rec.add(|| {
                            Step::new(Stage::Rcpt, "listed in virtual_mailbox_maps")
                                .table("ldap-vmm.cf")
                                .hit(&self.index, h.as_ref())
                        });
                        true
                    } else {
                        rec.add(|| {
                            Step::new(Stage::Rcpt, format!("{addr} matches no canonical, alias or mailbox entry: reject_unlisted_recipient"))
                                .table("ldap-vmm.cf")
                                .hit(&self.index, Some(&Hit { rec: r, attr: super::index::MatchAttr::DomainName }))
                        });
                        return Some(format!("550 5.1.1 <{addr}>: Recipient address rejected: User unknown in virtual mailbox table"));
                    }
                }
                _ => {
                    rec.add(|| {
                        Step::new(Stage::Rcpt, format!("{domain} is in mydestination"))
                            .table("mydestination")
                    });
                    true
                }
            }
        };
        let _ = listed;
        if self.params.split_domain_check {
            // check_recipient_access: full address, domain, then user@ (LDAP keys)
            let (local, _) = split_addr(addr);
            lower_into(buf, &[addr]);
            let mut hit = self.index.split.get(buf.as_str());
            if hit.is_none() {
                lower_into(buf, &[domain]);
                hit = self.index.split.get(buf.as_str());
            }
            if hit.is_none() {
                lower_into(buf, &[local, "@"]);
                hit = self.index.split.get(buf.as_str());
            }
            if let Some(h) = hit {
                let h = h.first().copied();
                rec.add(|| {
                    Step::new(Stage::Rcpt, "check_recipient_access answers OK")
                        .table("ldap-splitdomain.cf")
                        .hit(&self.index, h.as_ref())
                });
                return None;
            }
        }
        if self.params.reject_rest {
            rec.add(|| {
                Step::new(Stage::Rcpt, "zimbraMtaRestriction reject")
                    .table("smtpd_recipient_restrictions")
            });
            return Some(format!(
                "554 5.7.1 <{addr}>: Recipient address rejected: Access denied"
            ));
        }
        None
    }

    fn canonical(&self, addr: &str, rec: &mut Rec<'_>, buf: &mut String) -> Result<String, String> {
        let mut cur = addr.to_string();
        for _ in 0..10 {
            let Some(f) = self.find(&self.index.canonical, &cur, buf) else {
                if cur == addr {
                    rec.add(|| {
                        Step::new(Stage::Canonical, format!("{cur}: no canonical mapping"))
                            .table("ldap-canonical.cf")
                    });
                }
                return Ok(cur);
            };
            let values: Vec<&str> = f
                .hits
                .iter()
                .filter_map(|h| self.index.rec(h.rec))
                .flat_map(|r| r.canonical.iter().map(|v| &**v))
                .collect();
            let next = match values.as_slice() {
                [] => return Ok(cur),
                // as in virtual expansion: an `@domain` first value rewrites the whole
                // comma-joined result into one address (observed with the oracle)
                [first, _, ..] if first.starts_with('@') => {
                    map_value(&values.join(","), &cur, &f, self.params.propagate_canonical)
                }
                // cleanup_map11 keeps the first address of a multi-valued result
                [first, ..] => map_value(first, &cur, &f, self.params.propagate_canonical),
            };
            let h = f.hits.first().copied();
            let same = next.eq_ignore_ascii_case(&cur);
            rec.add(|| {
                Step::new(Stage::Canonical, format!("{cur} -> {next}"))
                    .table("ldap-canonical.cf")
                    .hit(&self.index, h.as_ref())
            });
            if same {
                return Ok(next);
            }
            cur = next;
        }
        // Postfix's cleanup (cleanup_map11) stops after 10 rewrites, logs "unreasonable
        // canonical_maps map nesting" and keeps the address it has reached; the message is
        // not refused (observed with the oracle: two domains whose catch-all canonical
        // addresses point at each other end on the tenth rewrite)
        rec.add(|| {
            Step::new(
                Stage::Canonical,
                format!("{cur}: more than 10 rewrites; Postfix warns about canonical_maps nesting and keeps {cur}"),
            )
            .table("ldap-canonical.cf")
        });
        Ok(cur)
    }

    fn virtual_expand(
        &self,
        addr: &str,
        rec: &mut Rec<'_>,
        buf: &mut String,
    ) -> Result<Vec<String>, String> {
        let p = &self.params;
        let mut argv: Vec<String> = vec![addr.to_string()];
        let mut been_here = BeenHere::default();
        let mut recorded = 0usize;
        let mut arg = 0;
        while arg < argv.len() {
            if argv.len() > p.virtual_alias_expansion_limit {
                rec.add(|| {
                    Step::new(
                        Stage::Virtual,
                        format!(
                            "more than {} addresses (virtual_alias_expansion_limit)",
                            p.virtual_alias_expansion_limit
                        ),
                    )
                    .table("ldap-vam.cf")
                });
                return Err(format!("unreasonable virtual_alias_maps map expansion size for {addr} -- message not accepted, try again later"));
            }
            let mut count = 0usize;
            loop {
                if been_here.contains(&argv[arg]) {
                    break;
                }
                if count >= p.virtual_alias_recursion_limit {
                    rec.add(|| {
                        Step::new(
                            Stage::Virtual,
                            format!(
                                "nesting deeper than {} (virtual_alias_recursion_limit)",
                                p.virtual_alias_recursion_limit
                            ),
                        )
                        .table("ldap-vam.cf")
                    });
                    return Err(format!("unreasonable virtual_alias_maps map nesting for {addr} -- message not accepted, try again later"));
                }
                count += 1;
                let cur = argv[arg].clone();
                let Some(f) = self.find(&self.index.vam, &cur, buf) else {
                    if recorded < 32 {
                        recorded += 1;
                        rec.add(|| {
                            Step::new(Stage::Virtual, format!("{cur}: no alias (final)"))
                                .table("ldap-vam.cf")
                        });
                    }
                    break;
                };
                let values: Vec<&str> = f
                    .hits
                    .iter()
                    .filter_map(|h| self.index.rec(h.rec))
                    .flat_map(|r| r.vam.iter().map(|v| &**v))
                    .collect();
                let results: Vec<String> = match values.as_slice() {
                    // Postfix's mail_addr_map() rewrites `@domain` on the *whole* result string
                    // (the values joined by commas) and quotes it as one address: a
                    // multi-value result whose first value is `@domain` (e.g. a domain
                    // catch-all and an account catch-all answering the same `@domain` key)
                    // becomes one address with a local part like `user@domain,other`, which
                    // grows on every lookup until cleanup gives up (observed with the oracle).
                    [first, _, ..] if first.starts_with('@') => {
                        vec![map_value(&values.join(","), &cur, &f, p.propagate_virtual)]
                    }
                    // otherwise only the first value gets the `@domain` rewrite (virtual(5)
                    // RESULT ADDRESS REWRITING); a later `@domain` stays as it is
                    _ => values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| {
                            if i > 0 && v.starts_with('@') {
                                v.to_string()
                            } else {
                                map_value(v, &cur, &f, p.propagate_virtual)
                            }
                        })
                        .collect(),
                };
                if let Some(long) = results
                    .iter()
                    .find(|r| r.len() > VIRTUAL_ADDRESS_LENGTH_LIMIT)
                {
                    let shown: String = long.chars().take(300).collect();
                    rec.add(|| {
                        Step::new(
                            Stage::Virtual,
                            format!(
                                "a result longer than {VIRTUAL_ADDRESS_LENGTH_LIMIT} characters (virtual_alias_address_length_limit)"
                            ),
                        )
                        .table("ldap-vam.cf")
                    });
                    return Err(format!("unreasonable virtual_alias_maps result {shown}... -- message not accepted, try again later"));
                }
                if recorded < 32 {
                    recorded += 1;
                    let h = f.hits.first().copied();
                    let list = results.join(", ");
                    let via = if f.kind == KeyKind::AtDomain {
                        " (catch-all)"
                    } else {
                        ""
                    };
                    rec.add(|| {
                        Step::new(Stage::Virtual, format!("{cur} -> {list}{via}"))
                            .table("ldap-vam.cf")
                            .hit(&self.index, h.as_ref())
                    });
                }
                let mut self_hit = false;
                for (i, r) in results.into_iter().enumerate() {
                    if r.eq_ignore_ascii_case(&cur) {
                        self_hit = true;
                    }
                    if i == 0 {
                        argv[arg] = r;
                    } else {
                        argv.push(r);
                    }
                }
                if self_hit {
                    been_here.insert(&cur);
                }
            }
            arg += 1;
        }
        // duplicate elimination (cleanup delivers each recipient once)
        if argv.len() > 1 {
            let mut seen = HashSet::new();
            argv.retain(|a| seen.insert(a.to_ascii_lowercase()));
        }
        Ok(argv)
    }

    fn resolve(&self, rcpt: String, trace: bool, buf: &mut String) -> Delivery {
        let mut steps = Vec::new();
        let mut rec = Rec {
            on: trace,
            steps: &mut steps,
        };
        let p = &self.params;
        let (local, domain) = split_addr(&rcpt);
        lower_into(buf, &[domain]);
        let class = self.domain_class(buf);
        let (mut transport, mut nexthop): (String, String) = match class {
            Class::Alias(r) => {
                rec.add(|| {
                    Step::new(
                        Stage::Resolve,
                        format!("{domain} is a virtual alias domain: no mailbox can be here"),
                    )
                    .table("ldap-vad.cf")
                    .hit(
                        &self.index,
                        Some(&Hit {
                            rec: r,
                            attr: super::index::MatchAttr::DomainName,
                        }),
                    )
                });
                return Delivery {
                    action: Action::Bounce {
                        transport: "error".into(),
                        dsn: "5.1.1".into(),
                        text: "User unknown in virtual alias table".into(),
                    },
                    recipient: rcpt,
                    steps,
                };
            }
            Class::Local => {
                rec.add(|| {
                    Step::new(
                        Stage::Resolve,
                        format!("{domain} is in mydestination: local delivery"),
                    )
                    .table("mydestination")
                });
                ("local".into(), p.myhostname.clone())
            }
            Class::Virtual(r) => {
                rec.add(|| {
                    Step::new(
                        Stage::Resolve,
                        format!(
                            "{domain} is a virtual mailbox domain: virtual_transport = {}",
                            p.virtual_transport
                        ),
                    )
                    .table("ldap-vmd.cf")
                    .hit(
                        &self.index,
                        Some(&Hit {
                            rec: r,
                            attr: super::index::MatchAttr::DomainName,
                        }),
                    )
                });
                (p.virtual_transport.clone(), domain.to_string())
            }
            Class::Default => match &p.relayhost {
                Some(rh) => {
                    rec.add(|| {
                        Step::new(
                            Stage::Resolve,
                            format!("{domain} is remote: smtp via relayhost {rh}"),
                        )
                        .table("relayhost")
                        .attr_set(n::MTA_RELAY_HOST)
                    });
                    ("smtp".into(), rh.clone())
                }
                None => {
                    rec.add(|| {
                        Step::new(
                            Stage::Resolve,
                            format!("{domain} is remote: smtp to {domain}"),
                        )
                        .table("default_transport")
                    });
                    ("smtp".into(), domain.to_string())
                }
            },
        };
        // transport_maps
        if let Some((hits, key)) = self.transport_lookup(local, domain, buf) {
            let value = hits
                .iter()
                .filter_map(|h| self.index.rec(h.rec))
                .flat_map(|r| r.transport.iter())
                .next();
            if let Some(value) = value {
                let (t, nh) = match value.split_once(':') {
                    Some((t, nh)) => (t.trim(), nh.trim()),
                    None => (value.trim(), ""),
                };
                if !t.is_empty() {
                    transport = t.to_string();
                    if nh.is_empty() {
                        nexthop = domain.to_string();
                    }
                }
                if !nh.is_empty() {
                    nexthop = nh.to_string();
                }
                let h = hits.first().copied();
                rec.add(|| {
                    Step::new(Stage::Transport, format!("key {key}: {value}"))
                        .table("ldap-transport.cf")
                        .hit(&self.index, h.as_ref())
                });
            }
        } else {
            rec.add(|| {
                Step::new(
                    Stage::Transport,
                    format!("no transport for {rcpt} or {domain}"),
                )
                .table("ldap-transport.cf")
            });
        }
        let action = self.action(transport, nexthop);
        Delivery {
            recipient: rcpt,
            steps,
            action,
        }
    }

    fn transport_lookup<'a>(
        &'a self,
        local: &str,
        domain: &str,
        buf: &mut String,
    ) -> Option<(&'a [Hit], String)> {
        let map = &self.index.transport;
        lower_into(buf, &[local, "@", domain]);
        if let Some(h) = map.get(buf.as_str()) {
            return Some((h, buf.clone()));
        }
        if let Some((base, _)) = self.ext_split(local) {
            lower_into(buf, &[base, "@", domain]);
            if let Some(h) = map.get(buf.as_str()) {
                return Some((h, buf.clone()));
            }
        }
        lower_into(buf, &[domain]);
        if let Some(h) = map.get(buf.as_str()) {
            return Some((h, buf.clone()));
        }
        if self.index.transport_has_dot_keys {
            let mut d = domain;
            while let Some((_, parent)) = d.split_once('.') {
                lower_into(buf, &[".", d]);
                if let Some(h) = map.get(buf.as_str()) {
                    return Some((h, buf.clone()));
                }
                d = parent;
            }
        }
        if self.index.transport_has_star_key {
            if let Some(h) = map.get("*") {
                return Some((h, "*".into()));
            }
        }
        None
    }

    fn action(&self, transport: String, nexthop: String) -> Action {
        let t = transport.to_ascii_lowercase();
        let known = self
            .params
            .transports
            .iter()
            .any(|k| k.eq_ignore_ascii_case(&t));
        if !known {
            return Action::Defer {
                transport: "retry".into(),
                dsn: "4.3.0".into(),
                text: "mail transport unavailable".into(),
            };
        }
        match t.as_str() {
            "error" | "retry" => {
                let (dsn, text) = match nexthop.split_once(' ') {
                    Some((d, rest)) if is_dsn(d) => (d.to_string(), rest.to_string()),
                    _ if is_dsn(&nexthop) => (nexthop.clone(), String::new()),
                    _ => (
                        if t == "error" { "5.0.0" } else { "4.0.0" }.to_string(),
                        nexthop.clone(),
                    ),
                };
                if t == "error" {
                    Action::Bounce {
                        transport,
                        dsn,
                        text,
                    }
                } else {
                    Action::Defer {
                        transport,
                        dsn,
                        text,
                    }
                }
            }
            "discard" => Action::Discard { nexthop },
            _ => Action::Relay { transport, nexthop },
        }
    }

    /// What Zimbra's LMTP server on `host` answers for `rcpt` (`ZimbraLmtpBackend`): unknown →
    /// `550 5.1.1 No such user here`; `maintenance` → `450 4.2.1 Mailbox disabled, not accepting
    /// messages`; mailbox on another server → delivered there if that server exists, else
    /// `450 4.2.0 Mailbox is not on this server`; `closed`/`pending`/no status → `550 5.1.1`;
    /// `active`/`locked`/`lockout` → accepted. Aliases and alias domains resolve to the account.
    pub fn lmtp(&self, host: &str, rcpt: &str) -> (LmtpReply, Step) {
        let key = rcpt.to_ascii_lowercase();
        let mut found = self.index.lmtp.get(key.as_str());
        if found.is_none() {
            let (local, domain) = split_addr(&key);
            if let Some(target) = self.index.alias_domains.get(domain) {
                found = self.index.lmtp.get(format!("{local}@{target}").as_str());
            }
        }
        let perm = |dsn: &str, reply: &str| LmtpReply::Permanent {
            dsn: dsn.into(),
            reply: reply.into(),
        };
        let temp = |dsn: &str, reply: &str| LmtpReply::Temporary {
            dsn: dsn.into(),
            reply: reply.into(),
        };
        let Some(acct) = found else {
            return (
                perm("5.1.1", "550 5.1.1 No such user here"),
                Step::new(Stage::Lmtp, format!("{host}: no account {rcpt}")),
            );
        };
        let step = |text: String| {
            let mut s = Step::new(Stage::Lmtp, text);
            s.attr = Some(n::ACCOUNT_STATUS);
            s.entry = Some(acct.name.to_string());
            s
        };
        let status = acct.status;
        if status == Some(AccountStatus::Maintenance) {
            return (
                temp(
                    "4.2.1",
                    "450 4.2.1 Mailbox disabled, not accepting messages",
                ),
                step(format!("{host}: account {} is in maintenance", acct.name)),
            );
        }
        let mut at = host.to_string();
        if let Some(mh) = &acct.mail_host {
            if !mh.eq_ignore_ascii_case(host) {
                if self.index.has_server(mh) {
                    at = mh.to_string();
                } else {
                    return (
                        temp("4.2.0", "450 4.2.0 Mailbox is not on this server"),
                        step(format!("{host}: mailbox of {} is on {mh}", acct.name)),
                    );
                }
            }
        }
        match status {
            Some(AccountStatus::Active | AccountStatus::Locked | AccountStatus::Lockout) => (
                LmtpReply::Accepted {
                    host: at.clone(),
                    mailbox: acct.name.to_string(),
                },
                step(format!(
                    "{at}: 250 2.1.5 delivered to mailbox {} (status {})",
                    acct.name,
                    status.map(|s| s.to_string()).unwrap_or_default()
                )),
            ),
            other => (
                perm("5.1.1", "550 5.1.1 No such user here"),
                step(format!(
                    "{host}: account {} has status {}",
                    acct.name,
                    other
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "(none)".into())
                )),
            ),
        }
    }
}

/// Postfix's `been_here` set of addresses that expanded into themselves: a short list, a hash
/// set once it grows (large lists).
#[derive(Default)]
struct BeenHere {
    small: Vec<String>,
    big: HashSet<String>,
}

impl BeenHere {
    fn contains(&self, a: &str) -> bool {
        if self.big.is_empty() {
            self.small.iter().any(|x| x.eq_ignore_ascii_case(a))
        } else {
            self.big.contains(&a.to_ascii_lowercase())
        }
    }

    fn insert(&mut self, a: &str) {
        if self.big.is_empty() && self.small.len() < 32 {
            self.small.push(a.to_string());
        } else {
            if self.big.is_empty() {
                self.big = self
                    .small
                    .drain(..)
                    .map(|x| x.to_ascii_lowercase())
                    .collect();
            }
            self.big.insert(a.to_ascii_lowercase());
        }
    }
}

trait AttrSet {
    fn attr_set(self, a: &'static str) -> Self;
}

impl AttrSet for Step {
    fn attr_set(mut self, a: &'static str) -> Step {
        self.attr = Some(a);
        self
    }
}

fn is_dsn(s: &str) -> bool {
    let mut parts = s.split('.');
    let ok = matches!(parts.next(), Some("2" | "4" | "5"));
    let rest: Vec<&str> = parts.collect();
    ok && rest.len() == 2
        && rest
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Local,
    Alias(u32),
    Virtual(u32),
    Default,
}

#[cfg(test)]
mod tests {

    #[test]
    fn external_form_quotes_like_postfix() {
        assert_eq!(
            super::external_form("alice@example.org"),
            "alice@example.org"
        );
        assert_eq!(super::external_form("@example.org"), "\"\"@example.org");
        assert_eq!(
            super::external_form("a b@example.org"),
            "\"a b\"@example.org"
        );
        assert_eq!(
            super::external_form("\"a b\"@example.org"),
            "\"a b\"@example.org"
        );
        assert_eq!(
            super::external_form("first.last@example.org"),
            "first.last@example.org"
        );
        assert_eq!(
            super::external_form("a..b@example.org"),
            "\"a..b\"@example.org"
        );
        assert_eq!(
            super::external_form("x@y@example.org"),
            "\"x@y\"@example.org"
        );
    }

    use super::*;
    use crate::zmprov;

    /// The oracle's `cases/edge.ldif`, rebuilt with zmprov.
    pub(crate) fn edge_dir() -> Directory {
        let mut dir = Directory::new();
        zmprov::run(
            &mut dir,
            r#"
            cs primary.example.com
            cd example.com zimbraMailCatchAllAddress @example.com zimbraMailCatchAllForwardingAddress @example.com zimbraMailTransport smtp:secondary.example.com
            cd other.test
            cad example.net example.com zimbraMailCatchAllForwardingAddress @example.com
            cad example.org example.com zimbraMailCatchAllForwardingAddress @example.com zimbraMailCatchAllCanonicalAddress @example.com
            ca alice@example.com pw
            aaa alice@example.com al@example.com
            ca bob@example.com pw
            ca carol@example.com pw zimbraMailTransport smtp:secondary.example.com:25
            ca dave@example.com pw zimbraPrefMailForwardingAddress dave.ext@elsewhere.test
            ca erin@example.com pw zimbraAccountStatus closed
            cdl team@example.com
            adlm team@example.com alice@example.com carol@example.com
            cdl loopa@example.com
            cdl loopb@example.com
            adlm loopa@example.com loopb@example.com
            adlm loopb@example.com loopa@example.com
            ca gina@example.com pw zimbraMailForwardingAddress bob@example.com
            ca hank@example.com pw
            ma hank@example.com zimbraMailTransport ""
            ca frank@other.test pw
            ca ivan@other.test pw
            ma ivan@other.test zimbraMailTransport ""
            ca judy@example.com pw zimbraMailTransport foo:bar.example.com
            ca kim@example.com pw zimbraMailTransport smtp:[192.0.2.10]:25
            ca leo@example.com pw zimbraMailTransport "error:5.1.6 mailbox has moved"
            ca mike@example.com pw
            ca nina@example.com pw zimbraMailCanonicalAddress nina.public@example.com
            aaa nina@example.com nina.public@example.com
            ca oscar@example.com pw zimbraMailCanonicalAddress o.public@example.com
            ca pat.mixed@example.com pw
            "#,
        )
        .unwrap();
        dir.account_mut("pat.mixed@example.com")
            .unwrap()
            .attrs
            .set_one(n::MAIL_DELIVERY_ADDRESS, "Pat.Mixed@example.com");
        // zimbraOldMailAddress is immutable for zmprov (the server sets it on rename)
        dir.account_mut("mike@example.com")
            .unwrap()
            .attrs
            .set_one(n::OLD_MAIL_ADDRESS, "oldmike@example.com");
        dir
    }

    fn oracle_mta(dir: &Directory, old: bool) -> ZimbraMta {
        let mut p = ZimbraParams::from_directory(dir, "mta.oracle.invalid");
        p.old_address_filter = old;
        ZimbraMta::new(dir, p)
    }

    /// Lines observed from a real Postfix 3.7 + slapd (postfix-oracle.md §7).
    #[test]
    fn agrees_with_the_postfix_oracle() {
        let dir = edge_dir();
        let mta = oracle_mta(&dir, false);
        let expected = [
            "loopa@example.com -> defer (cleanup: Alias expansion error [4.6.0])",
            "gina@example.com -> lmtp:primary.example.com:7025 <bob@example.com> | lmtp:primary.example.com:7025",
            "hank@example.com -> smtp:secondary.example.com",
            "ivan@other.test -> bounce (error: other.test [5.0.0])",
            "judy@example.com -> defer (retry: mail transport unavailable [4.3.0])",
            "kim@example.com -> smtp:[192.0.2.10]:25",
            "leo@example.com -> bounce (error: mailbox has moved [5.1.6])",
            "oldmike@example.com -> smtp:secondary.example.com",
            "nina@example.com -> lmtp:primary.example.com:7025",
            "oscar@example.com -> smtp:secondary.example.com <o.public@example.com>",
            "pat.mixed@example.com -> lmtp:primary.example.com:7025 <Pat.Mixed@example.com>",
            "PAT.MIXED@EXAMPLE.COM -> lmtp:primary.example.com:7025 <Pat.Mixed@example.com>",
            "NOBODY@Example.COM -> smtp:secondary.example.com <NOBODY@example.com>",
            "user@sub.example.com -> smtp:sub.example.com",
            "a*@example.com -> smtp:secondary.example.com",
            "*@example.com -> smtp:secondary.example.com",
            "alice -> smtp:mta.oracle.invalid <alice@mta.oracle.invalid>",
            "alice@example.com. -> lmtp:primary.example.com:7025 <alice@example.com>",
            "\"john doe\"@example.com -> smtp:secondary.example.com",
            "bob+tag@example.com -> smtp:secondary.example.com",
            "alice@example.org -> lmtp:primary.example.com:7025 <alice@example.com>",
            "zed@example.org -> smtp:secondary.example.com <zed@example.com>",
            "team@example.com -> lmtp:primary.example.com:7025 <alice@example.com> | smtp:secondary.example.com:25 <carol@example.com>",
            "erin@example.com -> smtp:secondary.example.com",
            "x@example.net -> smtp:secondary.example.com <x@example.com>",
            "nobody@other.test -> bounce (error: other.test [5.0.0])",
            "dave@example.com -> smtp:elsewhere.test <dave.ext@elsewhere.test> | lmtp:primary.example.com:7025",
            "al@example.com -> lmtp:primary.example.com:7025 <alice@example.com>",
        ];
        for line in expected {
            let (addr, _) = line.split_once(" -> ").unwrap();
            assert_eq!(mta.decide(addr, Arrival::PICKUP).line(), line);
            assert_eq!(mta.decide_quiet(addr, Arrival::PICKUP).line(), line);
        }
    }

    #[test]
    fn old_address_filter_and_delimiter() {
        let mut dir = edge_dir();
        let mta = oracle_mta(&dir, true);
        assert_eq!(
            mta.decide("oldmike@example.com", Arrival::PICKUP).line(),
            "oldmike@example.com -> lmtp:primary.example.com:7025 <mike@example.com>"
        );
        zmprov::run(&mut dir, "mcf zimbraMtaRecipientDelimiter +").unwrap();
        let mta = oracle_mta(&dir, false);
        for line in [
            "bob+tag@example.com -> lmtp:primary.example.com:7025 <bob@example.com>",
            "al+x@example.com -> lmtp:primary.example.com:7025 <alice@example.com>",
            "nobody+x@example.com -> smtp:secondary.example.com",
            "team+x@example.com -> lmtp:primary.example.com:7025 <alice@example.com> | smtp:secondary.example.com:25 <carol@example.com>",
        ] {
            let (addr, _) = line.split_once(" -> ").unwrap();
            assert_eq!(mta.decide(addr, Arrival::PICKUP).line(), line);
        }
        let mut p = mta.params.clone();
        p.propagate_virtual = true;
        let mta = ZimbraMta::new(&dir, p);
        assert_eq!(
            mta.decide("al+x@example.com", Arrival::PICKUP).line(),
            "al+x@example.com -> lmtp:primary.example.com:7025 <alice+x@example.com>"
        );
    }

    #[test]
    fn rcpt_restrictions() {
        let dir = edge_dir();
        let mta = oracle_mta(&dir, false);
        let reply = |a: &str, arr| match mta.decide(a, arr).verdict {
            Verdict::Rejected { reply, .. } => reply,
            other => format!("{other:?}"),
        };
        assert_eq!(
            reply("nobody@other.test", Arrival::INTERNET),
            "550 5.1.1 <nobody@other.test>: Recipient address rejected: User unknown in virtual mailbox table"
        );
        assert_eq!(
            reply("x@unknown.test", Arrival::INTERNET),
            "554 5.7.1 <x@unknown.test>: Relay access denied"
        );
        assert_eq!(
            reply("x@localhost", Arrival::INTERNET),
            "504 5.5.2 <x@localhost>: Recipient address rejected: need fully-qualified address"
        );
        assert_eq!(
            reply("a b@x", Arrival::INTERNET),
            "501 5.1.3 Bad recipient address syntax"
        );
        // trusted clients skip reject_unlisted_recipient and relay freely
        assert!(matches!(
            mta.decide("nobody@other.test", Arrival::TRUSTED).verdict,
            Verdict::Accepted { .. }
        ));
        assert!(matches!(
            mta.decide("x@unknown.test", Arrival::TRUSTED).verdict,
            Verdict::Accepted { .. }
        ));
        // listed through canonical, alias and catch-all
        for a in [
            "frank@other.test",
            "al@example.com",
            "anything@example.com",
            "q@example.org",
        ] {
            assert!(
                matches!(
                    mta.decide(a, Arrival::INTERNET).verdict,
                    Verdict::Accepted { .. }
                ),
                "{a}"
            );
        }
        let mut d2 = Directory::new();
        zmprov::run(
            &mut d2,
            "cs m.x.org\ncd x.org\ncad y.org x.org\nca a@x.org pw",
        )
        .unwrap();
        let m2 = ZimbraMta::from_directory(&d2, "m.x.org");
        assert_eq!(
            match m2.decide("a@y.org", Arrival::INTERNET).verdict {
                Verdict::Rejected { reply, .. } => reply,
                o => format!("{o:?}"),
            },
            "550 5.1.1 <a@y.org>: Recipient address rejected: User unknown in virtual alias table"
        );
        // trusted: accepted, then the virtual alias class bounces
        assert_eq!(
            m2.decide("a@y.org", Arrival::TRUSTED).line(),
            "a@y.org -> bounce (error: User unknown in virtual alias table [5.1.1])"
        );
    }

    #[test]
    fn split_domain_restriction_and_relayhost() {
        let mut dir = Directory::new();
        zmprov::run(
            &mut dir,
            "cs m.x.org\ncd x.org\nca a@x.org pw\n\
             mcf +zimbraMtaRestriction \"check_recipient_access ldap:/opt/zimbra/conf/ldap-splitdomain.cf\" +zimbraMtaRestriction reject\n\
             mcf zimbraMtaRelayHost relay.x.org zimbraMtaDnsLookupsEnabled FALSE",
        )
        .unwrap();
        let m = ZimbraMta::from_directory(&dir, "m.x.org");
        assert!(m.params.split_domain_check && m.params.reject_rest);
        assert!(!m.params.dns_lookups);
        assert_eq!(m.params.relayhost.as_deref(), Some("relay.x.org"));
        assert!(matches!(
            m.decide("a@x.org", Arrival::INTERNET).verdict,
            Verdict::Accepted { .. }
        ));
        assert_eq!(
            m.decide("z@elsewhere.org", Arrival::TRUSTED).line(),
            "z@elsewhere.org -> smtp:relay.x.org"
        );
    }

    #[test]
    fn lmtp_statuses() {
        let mut dir = Directory::new();
        zmprov::run(
            &mut dir,
            "cs m.x.org\ncd x.org\ncad y.org x.org\nca a@x.org pw\nca b@x.org pw zimbraAccountStatus maintenance\n\
             ca c@x.org pw zimbraAccountStatus closed\nca d@x.org pw zimbraAccountStatus locked",
        )
        .unwrap();
        let m = ZimbraMta::from_directory(&dir, "m.x.org");
        let r = |a: &str| m.lmtp("m.x.org", a).0;
        assert!(matches!(r("a@x.org"), LmtpReply::Accepted { .. }));
        assert!(matches!(r("A@y.org"), LmtpReply::Accepted { .. }));
        assert!(matches!(r("d@x.org"), LmtpReply::Accepted { .. }));
        assert_eq!(
            r("b@x.org"),
            LmtpReply::Temporary {
                dsn: "4.2.1".into(),
                reply: "450 4.2.1 Mailbox disabled, not accepting messages".into()
            }
        );
        assert!(matches!(r("c@x.org"), LmtpReply::Permanent { .. }));
        assert!(matches!(r("zz@x.org"), LmtpReply::Permanent { .. }));
    }

    #[test]
    fn steps_name_table_attribute_and_entry() {
        let dir = edge_dir();
        let mta = oracle_mta(&dir, false);
        let d = mta.decide("nobody@example.com", Arrival::INTERNET);
        let v = d.steps.iter().find(|s| s.stage == Stage::Virtual).unwrap();
        assert_eq!(v.table, Some("ldap-vam.cf"));
        assert_eq!(v.attr, Some("zimbraMailCatchAllAddress"));
        assert_eq!(v.entry.as_deref(), Some("dc=example,dc=com"));
        let Verdict::Accepted { deliveries } = &d.verdict else {
            panic!()
        };
        let t = deliveries[0]
            .steps
            .iter()
            .find(|s| s.stage == Stage::Transport)
            .unwrap();
        assert_eq!(t.attr, Some("zimbraDomainName"));
        assert!(t.to_string().contains("smtp:secondary.example.com"));
    }
}
