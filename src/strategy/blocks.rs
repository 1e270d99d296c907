//! Small composable strategies over a user's own data: the addresses of a directory, its mail
//! hosts, transports, foreign MTA behaviour, which users move, entry points. Each takes what the
//! user has (a [`Directory`], host names, a [`Topology`]) and draws the rest, so a downstream
//! crate combines them with its own setup code (see [`split_world`](super::split_world) for
//! the assembled split domain).
//!
//! ```
//! use proptest::prelude::*;
//! use zimbra_prov::model::Directory;
//! use zimbra_prov::strategy::{address_of, lmtp_transport, mail_hosts};
//! use zimbra_prov::zmprov;
//!
//! // the user's own directory
//! let mut dir = Directory::new();
//! zmprov::run(&mut dir, "cs mbx1.example.com\ncs mbx2.example.com\ncd example.com\n\
//!                        ca ann@example.com pw\nca bob@example.com pw\n").unwrap();
//!
//! proptest!(ProptestConfig::with_cases(16), |(who in address_of(&dir),
//!                                             t in lmtp_transport(mail_hosts(&dir)))| {
//!     // moving anybody to any mailbox server keeps the directory consistent
//!     let mut d = dir.clone();
//!     let moved = zmprov::run(&mut d, &format!("ma ann@example.com zimbraMailTransport {t}"));
//!     prop_assert!(moved.is_ok());
//!     prop_assert!(!who.is_empty());
//! });
//! ```

use std::fmt::Debug;

use proptest::prelude::*;

use crate::model::{Directory, Transport};
use crate::route::{ForeignMta, Topology, UnknownPolicy};
use crate::verify::EntryPoint;

/// One of [`routable_addresses`] of `dir` (never empty: it always holds an unknown domain's
/// address).
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
/// use zimbra_prov::{model::Directory, strategy::address_of, zmprov};
/// let mut dir = Directory::new();
/// zmprov::run(&mut dir, "cs mbx.example.com\ncd example.com\nca ann@example.com pw\n").unwrap();
/// let mut runner = TestRunner::deterministic();
/// let a = address_of(&dir).new_tree(&mut runner).unwrap().current();
/// assert!(zimbra_prov::strategy::routable_addresses(&dir).contains(&a));
/// ```
pub fn address_of(dir: &Directory) -> impl Strategy<Value = String> {
    prop::sample::select(routable_addresses(dir))
}

/// The host names of the mailbox servers of `dir` (`zimbraServiceHostname`, else the server
/// name), in name order; every server's when none runs the mailbox service.
///
/// ```
/// use zimbra_prov::{model::Directory, strategy::mail_hosts, zmprov};
/// let mut dir = Directory::new();
/// zmprov::run(&mut dir, "cs mbx2.example.com\ncs mbx1.example.com\n").unwrap();
/// assert_eq!(mail_hosts(&dir), ["mbx1.example.com", "mbx2.example.com"]);
/// ```
pub fn mail_hosts(dir: &Directory) -> Vec<String> {
    let mailbox: Vec<String> = dir
        .servers()
        .filter(|s| s.has_mailbox_service())
        .map(|s| s.service_hostname().to_string())
        .collect();
    if mailbox.is_empty() {
        dir.servers()
            .map(|s| s.service_hostname().to_string())
            .collect()
    } else {
        mailbox
    }
}

fn non_empty(hosts: Vec<String>, what: &str) -> Vec<String> {
    assert!(!hosts.is_empty(), "{what}: no host to draw from");
    hosts
}

/// `lmtp:HOST:7025` to one of `hosts` (a mailbox server: where `ma ... zimbraMailTransport`
/// moves an account).
///
/// # Panics
/// When `hosts` is empty (like [`prop::sample::select`]).
pub fn lmtp_transport(hosts: Vec<String>) -> impl Strategy<Value = Transport> {
    prop::sample::select(non_empty(hosts, "lmtp_transport"))
        .prop_map(|h| Transport::parse(&format!("lmtp:{h}:7025")).expect("valid by construction"))
}

/// An `smtp:` transport to one of `hosts` (a foreign MTA) in the forms admins write:
/// `smtp:HOST`, `smtp:HOST:25`, `smtp:[HOST]`, `smtp:[HOST]:25`.
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
/// use zimbra_prov::strategy::smtp_transport;
/// let mut runner = TestRunner::deterministic();
/// let t = smtp_transport(vec!["exchange.example.com".into()]).new_tree(&mut runner).unwrap().current();
/// assert_eq!((t.name(), t.host()), ("smtp", Some("exchange.example.com")));
/// ```
///
/// # Panics
/// When `hosts` is empty.
pub fn smtp_transport(hosts: Vec<String>) -> impl Strategy<Value = Transport> {
    (
        prop::sample::select(non_empty(hosts, "smtp_transport")),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(h, bracketed, port)| {
            let host = if bracketed { format!("[{h}]") } else { h };
            let port = if port { ":25" } else { "" };
            Transport::parse(&format!("smtp:{host}{port}")).expect("valid by construction")
        })
}

/// What a foreign MTA does with unknown recipients of its domains: reject, relay, bounce.
pub fn unknown_policy() -> impl Strategy<Value = UnknownPolicy> {
    prop_oneof![
        Just(UnknownPolicy::Reject),
        Just(UnknownPolicy::Relay),
        Just(UnknownPolicy::Bounce),
    ]
}

/// A foreign MTA (Exchange, a provider) holding `mailboxes` in `domains`, with drawn
/// behaviour: its unknown-recipient policy (`Relay` sends them to the first of `relays`), a
/// smart host among `relays` or none (then MX lookups), the documented hop limit (50) and DNS
/// lookups on. With `relays` empty, the policy is `Reject` or `Bounce` and there is no smart
/// host.
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
/// use zimbra_prov::route::UnknownPolicy;
/// use zimbra_prov::strategy::foreign_mta;
/// let mut runner = TestRunner::deterministic();
/// let s = foreign_mta(vec!["example.com".into()], vec!["bob@example.com".into()],
///                     vec!["mail.example.com".into()]);
/// for _ in 0..16 {
///     let f = s.new_tree(&mut runner).unwrap().current();
///     assert_eq!((f.hopcount_limit, f.dns_lookups), (50, true));
///     if f.unknown == UnknownPolicy::Relay {
///         assert_eq!(f.unknown_relay.as_deref(), Some("mail.example.com"));
///     }
/// }
/// ```
pub fn foreign_mta(
    domains: Vec<String>,
    mailboxes: Vec<String>,
    relays: Vec<String>,
) -> impl Strategy<Value = ForeignMta> {
    let policy = if relays.is_empty() {
        prop_oneof![Just(UnknownPolicy::Reject), Just(UnknownPolicy::Bounce)].boxed()
    } else {
        unknown_policy().boxed()
    };
    let smart_host = if relays.is_empty() {
        Just(None).boxed()
    } else {
        prop::option::of(prop::sample::select(relays.clone())).boxed()
    };
    (policy, smart_host).prop_map(move |(unknown, relayhost)| ForeignMta {
        domains: domains.iter().map(|d| d.to_ascii_lowercase()).collect(),
        mailboxes: mailboxes.clone(),
        aliases: Default::default(),
        routes: Default::default(),
        unknown,
        unknown_relay: match unknown {
            UnknownPolicy::Relay => relays.first().cloned(),
            _ => None,
        },
        relayhost,
        dns_lookups: true,
        hopcount_limit: 50,
    })
}

/// Which of `users` move, in the order they move: any subset, any order.
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
/// use zimbra_prov::strategy::moves;
/// let users = vec!["ann", "bob", "cy"];
/// let m = moves(users.clone()).new_tree(&mut TestRunner::deterministic()).unwrap().current();
/// assert!(m.iter().all(|u| users.contains(u)));
/// ```
pub fn moves<T: Clone + Debug + 'static>(users: Vec<T>) -> impl Strategy<Value = Vec<T>> {
    let n = users.len();
    prop::sample::subsequence(users, 0..=n).prop_shuffle()
}

/// Where mail for `domain` can enter `topo` ([`verify::entry_points`](crate::verify::entry_points):
/// the Internet through the MX records, each MX host, each MTA's own users).
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
/// use zimbra_prov::model::Directory;
/// use zimbra_prov::route::{Mta, Topology};
/// use zimbra_prov::strategy::entry_point;
/// let mut t = Topology::new();
/// t.add(Mta::zimbra("zcs", "mail.example.com", &Directory::new(), |_| {})).unwrap();
/// let e = entry_point(&t, "example.com").new_tree(&mut TestRunner::deterministic()).unwrap().current();
/// let trace = e.simulate(&t, "ann@example.com").unwrap();
/// assert!(!trace.leaves().is_empty());
/// ```
pub fn entry_point(topo: &Topology, domain: &str) -> impl Strategy<Value = EntryPoint> {
    prop::sample::select(crate::verify::entry_points(topo, domain))
}

/// Addresses worth routing: every name, alias, list and member, one unknown local part per
/// domain, an address in an unknown domain, and mixed-case and `+ext` variants of a few.
pub fn routable_addresses(d: &Directory) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in d.accounts() {
        out.push(a.name.to_string());
        out.extend(
            a.attrs
                .strs("zimbraMailAlias")
                .iter()
                .map(|s| s.to_string()),
        );
    }
    for l in d.lists() {
        out.push(l.name.to_string());
        out.extend(
            l.attrs
                .strs("zimbraMailForwardingAddress")
                .iter()
                .map(|s| s.to_string()),
        );
    }
    for g in d.groups() {
        out.push(g.name.to_string());
    }
    // entries the model does not type: dynamic-group units (the dynamic unit's address and
    // the static unit's members), second copies of accounts, accounts with odd addresses
    for e in &d.other_entries {
        for attr in [
            "zimbraMailDeliveryAddress",
            "zimbraMailAlias",
            "zimbraMailForwardingAddress",
        ] {
            out.extend(e.attrs.strs(attr).iter().map(|s| s.to_string()));
        }
    }
    for dom in d.domains() {
        out.push(format!("nobody-here@{}", dom.name));
    }
    out.push("someone@unknown-domain.test".into());
    let variants: Vec<String> = out
        .iter()
        .take(3)
        .flat_map(|a| {
            let upper = a.to_ascii_uppercase();
            let ext = a.replacen('@', "+tag@", 1);
            [upper, ext]
        })
        .collect();
    out.extend(variants);
    out.extend(shape_addresses(d));
    out.sort();
    out.dedup();
    out
}

/// Addresses in the shapes Postfix parses specially, for the directory's accounts: a
/// quoted local part (`"ann"@dom`, looked up unquoted), a bang path (`dom!ann`, swapped),
/// `ann%dom` (percent routing), a local part starting with `-`, a local part longer than 64
/// characters, the UTF-8 form of each punycode domain (not mapped to punycode); every
/// address a second entry shares with the first, and every account whose transport is not
/// a plain `lmtp:` one (hand-typed values).
pub fn shape_addresses(d: &Directory) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in d.accounts() {
        let plain = a
            .attrs
            .first("zimbraMailTransport")
            .is_none_or(|t| t.starts_with("lmtp:") && !t.contains(char::is_whitespace));
        if !plain {
            out.push(a.name.to_string());
        }
    }
    for a in d.accounts().take(2) {
        let (l, dom) = (a.name.local(), a.name.domain().as_str());
        if !l.starts_with('"') {
            out.push(format!("\"{l}\"@{dom}"));
            out.push(format!("{dom}!{l}"));
            out.push(format!("{l}%{dom}"));
        }
        out.push(format!("-{l}@{dom}"));
        out.push(format!("{l}.{}@{dom}", "y".repeat(64)));
    }
    for (ace, utf8) in super::migration::IDN {
        if d.domain(ace).is_some() {
            for a in d.accounts().filter(|a| a.name.domain().as_str() == *ace) {
                out.push(format!("{}@{utf8}", a.name.local()));
            }
            out.push(format!("nobody@{utf8}"));
        }
    }
    for e in &d.other_entries {
        for attr in ["zimbraMailDeliveryAddress", "zimbraMailAlias"] {
            out.extend(e.attrs.strs(attr).iter().map(|s| s.to_string()));
        }
    }
    out
}
