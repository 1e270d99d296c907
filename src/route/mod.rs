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
//!   [`Trace`]: a tree of hops with a [`Disposition`] per leaf, printable as text
//!   ([`Trace::to_text`]), JSON (serde) and Graphviz ([`Trace::to_dot`]).
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
//! let t = simulate(&topo, &Entry::Internet, "bob@example.org");
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
//! | entry order of a slapcat whose child entry precedes its parent (a domain renamed after its accounts existed) | the file's order | it is the order of the server the file came from; `slapadd` of such a file gives the parent an entry ID before its children |
//! | SMTP clients | declare `SMTPUTF8` in `MAIL FROM` | RFC 6531 requires it of a client sending to a UTF-8 address; without it smtpd refuses such an address with `501 5.1.3` |

pub mod decide;
pub(crate) mod index;
mod simulate;
mod topology;

pub use decide::{
    Action, Arrival, Decision, Delivery, LmtpReply, Stage, Step, Verdict, ZimbraMta, ZimbraParams,
    ZIMBRA_TRANSPORTS,
};
pub use index::{Hit, IndexOptions, MatchAttr, MtaIndex};
pub use simulate::{simulate, simulate_via_host, Disposition, Entry, Leaf, Node, NodeKind, Trace};
pub use topology::{in_network, Dns, ForeignMta, Mta, MtaKind, Topology, UnknownPolicy};

/// Errors building a topology (outcomes of a simulation are values, see [`Disposition`]).
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
}
