//! The Zimbra MTA's decision for one recipient: Postfix 3.7 reading Zimbra's LDAP through the
//! eight `ldap-*.cf` filters, as one pure function, stage by stage.
//!
//! [`ZimbraMta::decide`] runs these stages, each recorded as a [`Step`] naming the Postfix table,
//! the Zimbra attribute and the entry (DN) that decided. Addresses are carried in Postfix's
//! internal (unquoted) form and looked up and printed in external (quoted) form (see
//! `syntax`). Wherever several directory entries answer one key, their values are joined with
//! commas in creation (slapd entry-ID) order before anything parses them, as Postfix's LDAP
//! client does (see `lookup` and [`MtaIndex`]).
//!
//! 1. **Address** — the recipient is parsed as an RFC 822 address (what smtpd's `RCPT TO` or
//!    sendmail's command line parse): quotes and escapes of the local part are removed
//!    (`"ann"@example.org` is `ann@example.org`, `"doe, john"@x` is `doe, john@x` inside), and
//!    trivial-rewrite's canonical rewrite is applied: a source route is dropped, a bang path is
//!    swapped (`host!user` → `user@host`, `swap_bangpath = yes`), `user%host` becomes
//!    `user@host` (`allow_percent_hack = yes`), a bare local part gets `@$myorigin`, one trailing
//!    dot goes. Local parts of any length and UTF-8 domains are kept as they are (no punycode
//!    mapping, `smtputf8_enable = yes`). Text that is not exactly one address is rejected
//!    (`501 5.1.3 Bad recipient address syntax`).
//! 2. **RCPT** (SMTP arrivals only): smtpd's syntax check refuses an address the resolver
//!    flags (a domain that is no valid host name, a local part starting with `-`) with `501
//!    5.1.3`; then `smtpd_relay_restrictions`: mail from a trusted client (`mynetworks`) passes,
//!    otherwise a domain that is neither in `mydestination` nor a virtual alias or virtual
//!    mailbox domain is refused with `554 5.7.1 <a>: Relay access denied`; then
//!    `smtpd_recipient_restrictions` as zmconfigd writes them: `reject_non_fqdn_recipient`
//!    (`504 5.5.2`), `permit_mynetworks`, and `reject_unlisted_recipient`, which accepts an
//!    address that matches `canonical_maps` or `virtual_alias_maps` (full address, then
//!    `@domain`) and refuses one that resolves to the `error` transport with its next hop's
//!    status and text — for an unknown user of a Zimbra domain that is Zimbra's
//!    `virtual_transport = error` and the domain: `550 5.1.1 <a>: Recipient address rejected:
//!    example.org`; `User unknown in virtual alias table` for alias domains — `retry` with
//!    `450`, and else, if ldap-vmm.cf does not list it, `550 5.1.1 ... User unknown in virtual
//!    mailbox table` (a domain with its own `zimbraMailTransport`). With `zimbraMtaRestriction`
//!    holding Zimbra's split-domain check, ldap-splitdomain.cf answers `OK` for known
//!    recipients and a `reject` restriction refuses the rest (`554 5.7.1 <a>: Recipient address
//!    rejected: Access denied`). Replies name the address as smtpd holds it (unquoted, not
//!    rewritten).
//! 3. **Canonical** (`canonical_maps` = ldap-canonical.cf, applied to recipients too): keys
//!    `user+ext@domain`, `user@domain`, `@domain`; the values of all entries answering the key
//!    are joined and parsed as an address list, and the first address wins (so with two entries,
//!    the first created); an `@other` result keeps the local part; the unmatched `+ext` is put
//!    back (`propagate_unmatched_extensions` contains `canonical`); repeated until the address
//!    maps to itself, at most 10 times (Postfix's `cleanup_map11`); past that Postfix only logs
//!    a warning and keeps the address reached by the tenth rewrite (observed with the oracle).
//! 4. **Virtual** (`virtual_alias_maps` = ldap-vam.cf): Postfix's `cleanup_map1n` algorithm —
//!    each address is looked up (same key order), its joined result parsed as an RFC 822
//!    address list (a comma inside a quoted local part, `"doe, john"@x`, does not split; every
//!    address gets the canonical rewrite of stage 1, so a bang path in a forwarding address is
//!    swapped); the first address replaces it and the others are appended; an address may expand
//!    into itself once (then it is final); an `@other` result keeps the local part — and when
//!    the joined result *starts* with `@other`, Postfix prepends the local part to the whole
//!    string and treats it as one address, which grows on every lookup until the
//!    1,000-character address limit defers the message (observed with the oracle: a domain
//!    catch-all and an account catch-all on one domain); more than
//!    `virtual_alias_expansion_limit` addresses or a nesting deeper than
//!    `virtual_alias_recursion_limit` refuses the message with `4.6.0` (a defer). Entries with
//!    `zimbraMailStatus=disabled` are invisible. Duplicate final recipients are delivered once.
//! 5. **Resolve** (trivial-rewrite) for each final recipient: a recipient the resolver flags —
//!    a domain that is no valid host name or address literal, or an address starting with `-`
//!    (`allow_min_user = no`: a command-line agent could take it for an option) — bounces
//!    `5.1.3 bad address syntax`; otherwise the address class from the domain (`mydestination`
//!    → local; ldap-vad.cf → virtual alias class, which bounces `5.1.1 User unknown in virtual
//!    alias table` without consulting transport_maps; ldap-vmd.cf → virtual mailbox class with
//!    `virtual_transport` (Zimbra: `error`) and the domain as next hop; otherwise the default
//!    class, `smtp` to `relayhost` or the domain).
//! 6. **Transport** (`transport_maps` = ldap-transport.cf): keys `user+ext@domain`,
//!    `user@domain` (external form, then internal), `domain` (subdomains do not inherit:
//!    Zimbra's values never start with a dot), `*`; an account without `zimbraMailTransport`
//!    falls through to its domain's. The joined values of all entries answering the key are ONE
//!    value, split at its first `:` and nowhere else, nothing trimmed: `smtp:a:25,lmtp:b:7025`
//!    is transport `smtp` with next hop `a:25,lmtp:b:7025`, `smtp:mx ` keeps the space in the
//!    next hop. An empty next hop means the recipient domain (for `error`/`retry`: `Address is
//!    undeliverable`). The queue manager then looks the transport up among master.cf's services
//!    ([`ZimbraParams::transports`], Zimbra's list by default), case-sensitively: `SMTP:mx`,
//!    `Lmtp:...` or a value with a leading space name no service and defer with `retry: mail
//!    transport unavailable [4.3.0]`. `error:` bounces and `retry:` defers with the status at
//!    the start of the next hop (default `5.0.0` / `4.0.0`), forced into the agent's class: a
//!    status of another class is replaced by the default (`error:4.2.2 x` bounces `5.0.0 x`,
//!    `retry:5.1.1 x` defers `4.0.0 x`, as error(8) via `bounce_append`/`defer_append` do);
//!    `discard:` drops the mail, its next hop minus a status being the reason it logs.
//!
//! LMTP delivery (account status at the mailbox server) is [`ZimbraMta::lmtp`]; next-hop
//! resolution, loops and hop counts belong to the multi-MTA [`simulate`](super::simulate).

mod lmtp;
mod lookup;
mod memo;
mod outcome;
mod params;
mod rcpt;
mod resolve;
mod rewrite;
mod syntax;
#[cfg(test)]
mod tests;

pub(crate) use memo::{Memo, Quiet};
pub use outcome::{external_form, Action, Decision, Delivery, LmtpReply, Stage, Step, Verdict};
pub use params::{Arrival, ZimbraParams, ZIMBRA_TRANSPORTS};

use std::sync::{Arc, Mutex, Weak};

use super::index::{IndexOptions, MtaIndex};
use crate::model::Directory;

/// One Zimbra MTA: its Postfix parameters and the index of the directory it reads.
///
/// ```
/// use zimbra_prov::model::Directory;
/// use zimbra_prov::route::{Arrival, ZimbraMta};
/// let mut dir = Directory::new();
/// zimbra_prov::zmprov::run(&mut dir, "cs mx.example.org\ncd example.org\nca ann@example.org pw").unwrap();
/// let mta = ZimbraMta::from_directory(&dir, "mx.example.org");
/// assert_eq!(mta.decide("ann@example.org", Arrival::INTERNET).line(),
///            "ann@example.org -> lmtp:mx.example.org:7025");
/// ```
#[derive(Debug, Clone)]
pub struct ZimbraMta {
    /// The parameters.
    pub params: ZimbraParams,
    /// Shared by the MTAs that read one directory with the same filter options
    /// ([`ZimbraMta::with_directory`]).
    index: Arc<MtaIndex>,
    /// The directory the index was built from, when kept ([`ZimbraMta::with_directory`]).
    source: Option<Arc<Directory>>,
}

/// The index of `dir` with `options`: the one an MTA built from the same live `Arc<Directory>`
/// holds, else a new one. A directory behind a shared `Arc` cannot change, and a `Weak` keeps
/// its allocation (so its address) from being reused while it is remembered.
fn shared_index(dir: &Arc<Directory>, options: IndexOptions) -> Arc<MtaIndex> {
    type Known = Vec<(Weak<Directory>, IndexOptions, Weak<MtaIndex>)>;
    static KNOWN: Mutex<Known> = Mutex::new(Vec::new());
    let find = |known: &mut Known| {
        known.retain(|(d, _, i)| d.strong_count() > 0 && i.strong_count() > 0);
        known
            .iter()
            .find(|(d, o, _)| *o == options && std::ptr::eq(d.as_ptr(), Arc::as_ptr(dir)))
            .and_then(|(_, _, i)| i.upgrade())
    };
    if let Some(i) = find(&mut KNOWN.lock().unwrap_or_else(|e| e.into_inner())) {
        return i;
    }
    // built outside the lock (other threads build theirs meanwhile); the first one stored wins
    let built = Arc::new(MtaIndex::build(dir, options));
    let mut known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = find(&mut known) {
        return i;
    }
    known.push((Arc::downgrade(dir), options, Arc::downgrade(&built)));
    built
}

/// trivial-rewrite's address classes (with the entry that made the domain virtual).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    Local,
    Alias(u32),
    Virtual(u32),
    Default,
}

/// Where the steps of a decision go (nowhere for [`ZimbraMta::decide_quiet`]).
pub(super) struct Rec<'s> {
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

/// A recipient as stage 1 leaves it.
struct StandardForm {
    /// As smtpd holds it after `RCPT TO`: internal form, not rewritten.
    given: String,
    /// Rewritten to standard form (internal form).
    addr: String,
}

impl ZimbraMta {
    /// An MTA with explicit parameters reading `dir`.
    ///
    /// ```
    /// use zimbra_prov::model::Directory;
    /// use zimbra_prov::route::{Arrival, ZimbraMta};
    /// let mut dir = Directory::new();
    /// zimbra_prov::zmprov::run(&mut dir, "cs mx.example.org\ncd example.org\nca ann@example.org pw").unwrap();
    /// use zimbra_prov::route::ZimbraParams;
    /// let mut params = ZimbraParams::from_directory(&dir, "mx.example.org");
    /// params.mynetworks = vec!["10.0.0.0/8".into()];
    /// let mta = ZimbraMta::new(&dir, params);
    /// assert_eq!(mta.params.mynetworks, ["10.0.0.0/8"]);
    /// ```
    pub fn new(dir: &Directory, params: ZimbraParams) -> Self {
        let index = MtaIndex::build(
            dir,
            IndexOptions {
                old_address_filter: params.old_address_filter,
            },
        );
        ZimbraMta {
            params,
            index: Arc::new(index),
            source: None,
        }
    }

    /// An MTA with explicit parameters reading `dir`, keeping `dir` (shared, not copied) so that
    /// [`ZimbraMta::directory`] gives it back — what a topology that is saved as a scenario file
    /// needs ([`crate::scenario::save`]).
    ///
    /// MTAs built from one `Arc<Directory>` with the same filter options share one lookup index
    /// (it depends on nothing else): a primary and a secondary MTA reading one directory of a
    /// million accounts build and hold it once.
    pub fn with_directory(dir: Arc<Directory>, params: ZimbraParams) -> Self {
        let options = IndexOptions {
            old_address_filter: params.old_address_filter,
        };
        ZimbraMta {
            params,
            index: shared_index(&dir, options),
            source: Some(dir),
        }
    }

    /// The directory this MTA reads, when it was kept ([`ZimbraMta::with_directory`],
    /// [`Mta::zimbra`](crate::route::Mta::zimbra)); `None` after [`ZimbraMta::new`], which
    /// keeps only the lookup index.
    pub fn directory(&self) -> Option<&Arc<Directory>> {
        self.source.as_ref()
    }

    /// The MTA `hostname` with the parameters zmconfigd derives from `dir`.
    ///
    /// ```
    /// use zimbra_prov::model::Directory;
    /// use zimbra_prov::route::{Arrival, ZimbraMta};
    /// let mut dir = Directory::new();
    /// zimbra_prov::zmprov::run(&mut dir, "cs mx.example.org\ncd example.org\nca ann@example.org pw").unwrap();
    /// let mta = ZimbraMta::from_directory(&dir, "mx.example.org");
    /// assert_eq!(mta.params.myhostname, "mx.example.org");
    /// ```
    pub fn from_directory(dir: &Directory, hostname: &str) -> Self {
        ZimbraMta::new(dir, ZimbraParams::from_directory(dir, hostname))
    }

    /// The lookup index.
    ///
    /// ```
    /// use zimbra_prov::model::Directory;
    /// use zimbra_prov::route::{Arrival, ZimbraMta};
    /// let mut dir = Directory::new();
    /// zimbra_prov::zmprov::run(&mut dir, "cs mx.example.org\ncd example.org\nca ann@example.org pw").unwrap();
    /// let mta = ZimbraMta::from_directory(&dir, "mx.example.org");
    /// assert!(mta.index().is_virtual_mailbox_domain("example.org"));
    /// assert!(mta.index().has_server("mx.example.org"));
    /// ```
    pub fn index(&self) -> &MtaIndex {
        &self.index
    }

    /// Stage 1: `raw` parsed as exactly one RFC 822 address and put in standard form.
    fn standard_form(&self, raw: &str) -> Option<StandardForm> {
        let mut list = syntax::address_list(raw);
        if list.len() != 1 {
            return None;
        }
        let toks = list.pop()?;
        let given = syntax::internalize(&toks);
        let addr = syntax::canonical_internal(toks, &self.params.myorigin);
        if addr.is_empty() || !addr.contains('@') {
            return None;
        }
        Some(StandardForm { given, addr })
    }

    /// The decision with every step recorded (see the module documentation for the stages).
    ///
    /// ```
    /// use zimbra_prov::model::Directory;
    /// use zimbra_prov::route::{Arrival, ZimbraMta};
    /// let mut dir = Directory::new();
    /// zimbra_prov::zmprov::run(&mut dir, "cs mx.example.org\ncd example.org\nca ann@example.org pw").unwrap();
    /// let mta = ZimbraMta::from_directory(&dir, "mx.example.org");
    /// let d = mta.decide("Ann@Example.org", Arrival::INTERNET);
    /// assert!(!d.steps.is_empty());
    /// assert_eq!(d.line(), "Ann@Example.org -> lmtp:mx.example.org:7025 <ann@example.org>");
    /// ```
    pub fn decide(&self, rcpt: &str, arrival: Arrival) -> Decision {
        self.run(rcpt, arrival, true)
    }

    /// The same decision without recording steps (for exhaustive checks and benchmarks).
    ///
    /// ```
    /// use zimbra_prov::model::Directory;
    /// use zimbra_prov::route::{Arrival, ZimbraMta};
    /// let mut dir = Directory::new();
    /// zimbra_prov::zmprov::run(&mut dir, "cs mx.example.org\ncd example.org\nca ann@example.org pw").unwrap();
    /// let mta = ZimbraMta::from_directory(&dir, "mx.example.org");
    /// let quiet = mta.decide_quiet("ann@example.org", Arrival::TRUSTED);
    /// assert!(quiet.steps.is_empty());
    /// assert_eq!(quiet.line(), mta.decide("ann@example.org", Arrival::TRUSTED).line());
    /// ```
    pub fn decide_quiet(&self, rcpt: &str, arrival: Arrival) -> Decision {
        self.run(rcpt, arrival, false)
    }

    /// Stages 1 to 3: the recipient in standard form and after `canonical_maps`, or the
    /// verdict that ends the decision there (`address` is the standard form, if any).
    fn front(
        &self,
        rcpt: &str,
        arrival: Arrival,
        rec: &mut Rec<'_>,
        buf: &mut String,
    ) -> Result<(String, String), (String, Verdict)> {
        // 1. standard form
        let Some(StandardForm { given, addr }) = self.standard_form(rcpt) else {
            rec.add(|| Step::new(Stage::Address, format!("{rcpt:?} is not one address")));
            return Err((
                String::new(),
                rejected("501 5.1.3 Bad recipient address syntax".into()),
            ));
        };
        if rec.on && addr != rcpt {
            rec.add(|| {
                Step::new(
                    Stage::Address,
                    format!("standard form {}", syntax::external(&addr)),
                )
            });
        }
        // 2. RCPT restrictions
        if arrival.smtp {
            if let Some(reply) = self.rcpt_check(&given, &addr, arrival, rec, buf) {
                return Err((addr, rejected(reply)));
            }
        }
        // 3. canonical
        match self.canonical(&addr, rec, buf) {
            Ok(c) => Ok((addr, c)),
            Err(text) => Err((addr, deferred(text))),
        }
    }

    fn run(&self, rcpt: &str, arrival: Arrival, trace: bool) -> Decision {
        let mut steps = Vec::new();
        let mut rec = Rec {
            on: trace,
            steps: &mut steps,
        };
        let mut buf = String::with_capacity(64);
        let decision = |steps: Vec<Step>, address: String, verdict: Verdict| Decision {
            input: rcpt.to_string(),
            address,
            steps,
            verdict,
        };
        let (addr, addr_c) = match self.front(rcpt, arrival, &mut rec, &mut buf) {
            Ok(a) => a,
            Err((address, verdict)) => return decision(steps, address, verdict),
        };
        // 4. virtual
        let finals = match self.virtual_expand(&addr_c, &mut rec, &mut buf) {
            Ok(v) => v,
            Err(text) => return decision(steps, addr, deferred(text)),
        };
        // 5./6. resolve + transport per final recipient
        let deliveries = finals
            .into_iter()
            .map(|r| self.resolve(r, trace, &mut buf))
            .collect();
        decision(steps, addr, Verdict::Accepted { deliveries })
    }

    /// The quiet decision up to the final recipients, remembering lookups in `memo` (one per
    /// MTA and thread): what [`ZimbraMta::decide_quiet`] decides, with the final recipients
    /// left to [`ZimbraMta::resolve_quiet`].
    pub(crate) fn decide_memo(&self, rcpt: &str, arrival: Arrival, memo: &mut Memo) -> Quiet {
        let mut steps = Vec::new();
        let mut rec = Rec {
            on: false,
            steps: &mut steps,
        };
        let mut buf = String::with_capacity(64);
        let addr_c = match self.front(rcpt, arrival, &mut rec, &mut buf) {
            Ok((_, c)) => c,
            Err((_, verdict)) => return Quiet::Verdict(verdict),
        };
        match self.virtual_expand_memo(&addr_c, memo, &mut buf) {
            Ok(finals) => Quiet::Finals(finals),
            Err(text) => Quiet::Verdict(deferred(text)),
        }
    }

    /// Stages 5 and 6 for one final recipient (internal form), without steps.
    pub(crate) fn resolve_quiet(&self, rcpt: &str) -> Delivery {
        let mut buf = String::with_capacity(64);
        self.resolve(rcpt.to_string(), false, &mut buf)
    }
}

/// A refusal at RCPT time with the reply's enhanced status code.
fn rejected(reply: String) -> Verdict {
    let dsn = reply.split(' ').nth(1).unwrap_or("5.0.0").to_string();
    Verdict::Rejected { reply, dsn }
}

/// cleanup's refusal (a defer with `4.6.0`).
fn deferred(text: String) -> Verdict {
    Verdict::Deferred {
        dsn: "4.6.0".into(),
        text,
    }
}
