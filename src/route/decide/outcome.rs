//! What a decision produces: recorded steps, the action per final recipient, the verdict, the
//! oracle line format, and LMTP replies.

use std::fmt;

use serde::Serialize;

use super::syntax;
use crate::route::index::{Hit, MtaIndex};

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
    /// The other entries (DNs) that answered the same key, in creation order: Postfix joined
    /// their values after `entry`'s with commas (see [`MtaIndex`]).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub joined: Vec<String>,
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
            joined: Vec::new(),
            text: text.into(),
        }
    }

    pub(super) fn table(mut self, t: &'static str) -> Step {
        self.table = Some(t);
        self
    }

    pub(super) fn attr_set(mut self, a: &'static str) -> Step {
        self.attr = Some(a);
        self
    }

    pub(super) fn hit(mut self, idx: &MtaIndex, h: Option<&Hit>) -> Step {
        if let Some(h) = h {
            self.attr = Some(h.attr.name());
            self.entry = Some(idx.dn(h.rec).to_string());
        }
        self
    }

    /// The entries that answered a key, in creation order: the first decides `attr` and
    /// `entry`, the others are `joined`.
    pub(super) fn hits(self, idx: &MtaIndex, hits: &[Hit]) -> Step {
        let mut s = self.hit(idx, hits.first());
        s.joined = hits
            .iter()
            .skip(1)
            .map(|h| idx.dn(h.rec).to_string())
            .collect();
        s
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
                if !self.joined.is_empty() {
                    write!(
                        f,
                        ", joined in creation order with {}",
                        self.joined.join(", ")
                    )?;
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
    /// The final recipient (after canonical and virtual mapping) in the external form Postfix
    /// logs and hands to the next MTA (`"doe, john"@example.org`), case as Postfix keeps it.
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
/// // Zimbra's virtual_transport = error: smtpd refuses with the next hop, the domain
/// assert_eq!(mta.decide("nobody@example.org", Arrival::INTERNET).line(),
///            "nobody@example.org -> reject (550 5.1.1 <nobody@example.org>: Recipient address \
///             rejected: example.org)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The recipient as given.
    pub input: String,
    /// The recipient in standard form, internal (unquoted) form (empty when it did not parse).
    pub address: String,
    /// Steps up to the end of virtual alias expansion.
    pub steps: Vec<Step>,
    /// The verdict.
    pub verdict: Verdict,
}

impl Decision {
    /// The items of the oracle line format, sorted by final recipient (external form,
    /// case-insensitive), then item; each followed by ` <FINAL>` when the final recipient (in
    /// external form, as Postfix logs it) differs from the input.
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
                        let shown = &d.recipient;
                        if *shown != self.input {
                            item.push_str(&format!(" <{shown}>"));
                        }
                        (shown.to_ascii_lowercase(), item)
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

/// An address in the external form Postfix logs and reports (`quote_822_local`): a local part
/// that is not an RFC 822 dot-string is quoted (`""@example.org`, `"a b"@example.org`); 8-bit
/// characters are left alone. `addr` is in internal (unquoted) form.
///
/// ```
/// use zimbra_prov::route::decide::external_form;
/// assert_eq!(external_form("doe, john@remote.test"), "\"doe, john\"@remote.test");
/// assert_eq!(external_form("ann@example.org"), "ann@example.org");
/// ```
pub fn external_form(addr: &str) -> String {
    syntax::external(addr)
}
