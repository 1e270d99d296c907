//! Where a recipient's mail goes across Zimbra MTAs, foreign MTAs and DNS, hop by hop.
//!
//! - [`ZimbraMta::decide`] is the Zimbra MTA's decision for one recipient — Postfix reading
//!   Zimbra's LDAP through the eight `ldap-*.cf` filters — as one pure function over an index
//!   ([`MtaIndex`]) built once per directory. Its stages are documented in [`decide`]; each
//!   records the Postfix table, the Zimbra attribute and the entry that decided. The result
//!   ([`Decision`]) prints in the oracle's line format ([`Decision::line`]):
//!   `ADDR -> transport:nexthop <FINAL> | bounce (error: TEXT [DSN]) | defer (...)`.
//! - A [`Topology`] holds MTAs ([`Mta`]: Zimbra or [`ForeignMta`]) and [`Dns`].
//! - [`simulate`] follows a recipient from an [`Entry`] through the topology and returns a
//!   [`Trace`]: a tree of hops with a [`Disposition`] per leaf and, at every failed leaf, the
//!   [`Dsn`] that tells the envelope sender (who writes it, its path, its [`DsnFate`]);
//!   printable as text ([`Trace::to_text`]), JSON ([`Trace::to_json`], [`Trace::from_json`]) and
//!   Graphviz ([`Trace::to_dot`]). [`Simulator`] sets the envelope sender.
//!
//! ```
//! use zimbra_prov::model::Directory;
//! use zimbra_prov::route::{simulate, Entry, ForeignMta, Mta, Topology, UnknownPolicy};
//! let mut dir = Directory::new();
//! zimbra_prov::zmprov::run(&mut dir, "
//!     cs primary.example.org
//!     cd example.org
//!     ca alice@example.org pw
//!     ca bob@example.org pw zimbraMailTransport smtp:exchange.example.org:25
//! ").unwrap();
//! let mut topo = Topology::new();
//! topo.add(Mta::zimbra("primary", "primary.example.org", &dir, |_| {})).unwrap();
//! topo.add(Mta::foreign("exchange", "exchange.example.org", ForeignMta {
//!     domains: vec!["example.org".into()],
//!     mailboxes: vec!["bob@example.org".into()],
//!     unknown: UnknownPolicy::Relay,
//!     relayhost: Some("primary.example.org".into()),
//!     dns_lookups: true,
//!     hopcount_limit: 50,
//!     ..ForeignMta::default()
//! })).unwrap();
//! topo.dns.mx.insert("example.org".into(), vec![(10, "primary.example.org".into())]);
//! let t = simulate(&topo, &Entry::Internet, "bob@example.org").unwrap();
//! let leaves = t.leaves();
//! assert_eq!(leaves[0].via, ["primary", "exchange"]);
//! assert_eq!(leaves[0].disposition.outcome(), "delivered");
//! ```
//!
//! ## Deliberate deviations from Postfix/Zimbra
//!
//! | what | here | why |
//! |---|---|---|
//! | `mydestination` (local class) recipients | accepted and delivered locally on the MTA | Zimbra leaves only `localhost` there; `local_recipient_maps`/aliases are out of scope |
//! | bare-`user` lookup keys | never tried | every Zimbra filter attribute holds full addresses, so they cannot match |
//! | dynamic groups | `memberURL`s of Zimbra's default shape (`ldap:///??sub?` with a `zimbraMemberOf=`/`zimbraId=` term or an `(\|...)` of them) are evaluated as slapd's dynlist does, for groups and their `groupOfURLs` units; a group with any other URL falls back to the entries whose `zimbraMemberOf` holds its id; members are followed one level | general LDAP filters are not evaluated |
//! | `zimbraMtaDnsLookupsEnabled` | honoured (as well as `zimbraMtaSmtpDnsSupportLevel`) | the seed runbook uses it; ZCS ≥ 8.7 zmconfigd reads only the latter |
//! | DNS | one view for all MTAs; a name without records is outside the topology (`LeftTopology`) | the simulator does not model the whole Internet |
//! | ldap-vam.cf | the zmmtainit filter without `zimbraOldMailAddress` unless `old_address_filter` | matches the oracle's default; ZCS ≥ 8.8.10 adds it |
//! | hop count | one Received header per MTA of the topology (none from the outside sender) | senders' headers are unknown |
//! | `Delivered-To:` loop checks | never end a path | only local(8)/virtual(8) add and check them, and a `local`/`virtual` delivery ends a path here |
//! | DSN for a deferred leaf | none (the leaf is reported as `deferred`) | it would bounce after `maximal_queue_lifetime` (Zimbra: 5 days); nothing changes in a static topology |
//! | entry order of a slapcat whose child entry precedes its parent (a domain renamed after its accounts existed) | the file's order | it is the order of the server the file came from; `slapadd` of such a file gives the parent an entry ID before its children |
//! | SMTP clients | declare `SMTPUTF8` in `MAIL FROM` | RFC 6531 requires it of a client sending to a UTF-8 address; without it smtpd refuses such an address with `501 5.1.3` |
//!
//! ## Hops, loops and the state graph
//!
//! What an MTA does with a message depends only on its state — the MTA, the previous MTA (which
//! decides whether it arrives as a trusted client) and the recipient — and on the hop count,
//! which Postfix counts per message copy (Received headers, `hopcount_limit`, refused with
//! `554 5.4.0 Error: too many hops` at the end of DATA). A trace follows every path; a path that
//! returns to a state it passed is folded into one [`Disposition::Looped`] leaf whose end is
//! computed by following the cycle. A path that reaches a hop limit is `Looped` when it passed a
//! state that lies on a cycle of the message's state graph, and a plain refusal
//! ([`Disposition::Rejected`] by the MTA whose limit it is) otherwise: a chain longer than the
//! limit. `verify` explores the same graph state by state, so its cost is bounded by the
//! topology's size rather than by the number of paths.
//!
//! ## Bounces: who writes the DSN and where it goes
//!
//! Every bounced, refused or looping leaf of a message records who tells the sender
//! ([`Dsn`]), modelled on Postfix (a real multi-MTA run showed the same):
//!
//! - **Who writes it.** A bounce (`error:` transport, LMTP refusal, foreign MTA's `bounce`
//!   policy, "mail loops back to myself") is written by the MTA that gave up. A refusal at
//!   `RCPT TO` or for too many hops at hop 2 or later is "accepted, then bounced by the previous
//!   hop": the previous MTA writes it. A looping message is refused by the MTA whose hop limit it
//!   reaches; the MTA before it in the cycle writes the DSN. A refusal at the first hop
//!   (Internet sender, or a user submitting at the entry MTA) goes to the sending client during
//!   the SMTP dialogue: the topology writes nothing ([`DsnFate::Reply`]).
//! - **What it is.** A new message from `MAILER-DAEMON@` the writer's host name, with the null
//!   envelope sender `<>`, to the original envelope sender, posted locally at the writer (one
//!   Received header; no RCPT restrictions there; canonical and virtual alias maps apply).
//! - **Where it goes.** Exactly like any other message from the writer: a Zimbra MTA's maps,
//!   transports and relay host; a foreign MTA's tables (its mailboxes, routes, relay host, MX)
//!   — a foreign MTA treats a DSN like any message. The MTAs it passes apply their usual
//!   checks: a Zimbra MTA accepts it from a client in its `mynetworks` for any recipient, and
//!   from any other client only for its own domains (else `554 5.7.1 Relay access denied`).
//!   Foreign MTAs relay for everyone (as the simulator's foreign MTAs always have).
//! - **No bounce of a bounce.** When the DSN itself is refused, bounced or loops, the MTA that
//!   gives up on it (the same rule as above) does not write another DSN: Postfix's bounce daemon
//!   sends a "double bounce" to its postmaster only when `notify_classes` holds `bounce` or
//!   `2bounce` (Zimbra's default `resource, software` drops it) — [`DsnFate::DoubleBounce`]: the
//!   sender never learns. A deferred DSN is [`DsnFate::Deferred`].
//! - **The sender.** [`default_sender`]: `sender@internet.invalid` for the Internet (its DSNs
//!   leave the topology unless an MTA refuses to relay them), a user of the MTA for an MTA
//!   entry; [`Simulator::sender`] and scenario files (`sender = ...`) set another.
//!
//! The classic case: Exchange, a split-domain secondary with the Zimbra primary as relay host,
//! refuses or bounces a message; its DSN to an outside sender goes to the primary, which does
//! not have Exchange in `mynetworks` and refuses to relay it: a double bounce at Exchange.

pub mod decide;
pub(crate) mod index;
pub(crate) mod simulate;
mod topology;

pub use decide::{
    Action, Arrival, Decision, Delivery, LmtpReply, Stage, Step, Verdict, ZimbraMta, ZimbraParams,
    ZIMBRA_TRANSPORTS,
};
pub use index::{Hit, IndexOptions, MatchAttr, MtaIndex};
pub use simulate::{
    default_sender, simulate, simulate_via_host, Disposition, Dsn, DsnFate, DsnRoute, Entry, Leaf,
    Node, NodeKind, Simulator, Trace, INTERNET_SENDER,
};
pub use topology::{
    in_network, Dns, ForeignMta, Mta, MtaKind, Topology, UnknownPolicy, DEFAULT_HOPCOUNT_LIMIT,
};

/// Errors building a topology or asking for an impossible simulation (outcomes of a simulation
/// are values, see [`Disposition`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// Two MTAs with one name.
    #[error("duplicate MTA name {name:?}")]
    DuplicateMta {
        /// The name.
        name: String,
    },
    /// A malformed DNS record.
    #[error("invalid DNS record {record:?}: {reason}")]
    Dns {
        /// The record text.
        record: String,
        /// Why.
        reason: String,
    },
    /// An entry point names an MTA the topology does not have.
    #[error("no MTA named {name:?} (the topology has: {})", known.join(", "))]
    UnknownMta {
        /// The name asked for.
        name: String,
        /// The MTAs there are.
        known: Vec<String>,
    },
    /// A recipient or sender that no SMTP client could send.
    #[error("invalid {role} {address:?}: {reason}")]
    BadAddress {
        /// `recipient` or `sender`.
        role: &'static str,
        /// The address as given.
        address: String,
        /// Why.
        reason: &'static str,
    },
    /// A trace or report in JSON that does not read.
    #[error("invalid JSON: {message}")]
    Json {
        /// The parser's message.
        message: String,
    },
}
