//! Split-domain topologies and migration plans.

use proptest::prelude::*;

use crate::model::Directory;
use crate::zmprov;

/// Where a user of a generated split domain has its mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Home {
    /// On the authoritative Zimbra server (`primary`).
    Primary,
    /// On secondary number `n` (`secondary0`, `secondary1`, ...).
    Secondary(usize),
}

/// What a generated split-domain secondary is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondaryKind {
    /// A foreign MTA (Exchange): mailboxes for its users; unknown recipients relayed to the
    /// primary, or rejected.
    Foreign {
        /// Relay unknown recipients to the primary (else reject them).
        forwards_unknown: bool,
    },
    /// A second Zimbra server with its own directory: accounts for its users, and (the
    /// non-authoritative recipe) a catch-all forwarding unknown recipients to the primary.
    Zimbra,
}

/// What [`split_domain_topology`] generates (build it with `..SplitDomainSpec::default()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitDomainSpec {
    /// The shared domain.
    pub domain: String,
    /// Most users (local parts `u0`, `u1`, ...).
    pub max_users: usize,
    /// Most secondaries (at least one is generated).
    pub max_secondaries: usize,
    /// Whether the primary forwards its own unknown recipients to the first secondary
    /// (catch-all + domain transport): `Some(false)` for an authoritative primary (Zimbra's rule),
    /// `None` to draw it.
    pub primary_forwards_unknown: Option<bool>,
    /// Kinds the secondaries are drawn from (`None`: foreign or Zimbra).
    pub secondary_kind: Option<SecondaryKind>,
}

impl Default for SplitDomainSpec {
    fn default() -> Self {
        SplitDomainSpec {
            domain: "example.com".into(),
            max_users: 6,
            max_secondaries: 2,
            primary_forwards_unknown: None,
            secondary_kind: None,
        }
    }
}

/// A generated split-domain topology and how it was built.
#[derive(Debug, Clone)]
pub struct GeneratedTopology {
    /// The topology: MTAs `primary` (Zimbra, `primary.DOMAIN`), `secondary0`.. (`secondaryN.DOMAIN`),
    /// A records in 10.0.0.0/24, every Zimbra MTA trusting that network.
    pub topology: crate::route::Topology,
    /// The primary's zmprov script.
    pub primary_script: String,
    /// Each secondary's kind and (for Zimbra) zmprov script.
    pub secondaries: Vec<(SecondaryKind, String)>,
    /// Every user and where its mailbox is.
    pub users: Vec<(String, Home)>,
    /// The users with an alias on the primary, and the alias.
    pub aliases: Vec<(String, String)>,
    /// Whether the primary forwards unknown recipients.
    pub primary_forwards_unknown: bool,
    /// The MX hosts of the domain (preference 10 each).
    pub mx: Vec<String>,
}

impl GeneratedTopology {
    /// A readable description for failure messages.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "users {:?}\nprimary forwards unknown: {}\nmx {:?}\n--- primary\n{}",
            self.users, self.primary_forwards_unknown, self.mx, self.primary_script
        );
        for (i, (k, script)) in self.secondaries.iter().enumerate() {
            s.push_str(&format!("--- secondary{i}: {k:?}\n{script}"));
        }
        s
    }
}

fn host_of(i: Option<usize>, domain: &str) -> String {
    match i {
        None => format!("primary.{domain}"),
        Some(n) => format!("secondary{n}.{domain}"),
    }
}

/// Build a split-domain topology: `homes[u]` is user `u`'s home, `alias[u]` gives it an alias
/// on the primary, MX on the primary and/or the secondaries listed in `mx`; then each user of
/// `moved` is migrated to the primary with the seed's procedure (`ma` on the primary, mailbox
/// removed on its secondary).
fn build_split(
    domain: &str,
    homes: &[Home],
    kinds: &[SecondaryKind],
    alias: &[bool],
    primary_forwards_unknown: bool,
    mx: &[Option<usize>],
    moved: &[usize],
) -> GeneratedTopology {
    use crate::route::{ForeignMta, Mta, Topology, UnknownPolicy};
    let d = domain;
    let primary = host_of(None, d);
    let mut script = format!("cs {primary}\ncd {d}\n");
    let mut users = Vec::new();
    let mut aliases = Vec::new();
    for (u, h) in homes.iter().enumerate() {
        let name = format!("u{u}@{d}");
        match h {
            Home::Primary => script.push_str(&format!("ca {name} pw\n")),
            Home::Secondary(n) => script.push_str(&format!(
                "ca {name} pw zimbraMailTransport smtp:{}:25\n",
                host_of(Some(*n), d)
            )),
        }
        if alias.get(u).copied().unwrap_or(false) {
            let a = format!("alias{u}@{d}");
            script.push_str(&format!("aaa {name} {a}\n"));
            aliases.push((name.clone(), a));
        }
        users.push((name, *h));
    }
    if primary_forwards_unknown {
        script.push_str(&format!(
            "md {d} zimbraMailCatchAllAddress @{d} zimbraMailCatchAllForwardingAddress @{d} zimbraMailTransport smtp:{}\n",
            host_of(Some(0), d)
        ));
    }
    for u in moved {
        if let Some(h) = users.get_mut(*u) {
            script.push_str(&format!(
                "ma {} zimbraMailTransport lmtp:{primary}:7025\n",
                h.0
            ));
            h.1 = Home::Primary;
        }
    }
    let mut dir = Directory::new();
    let applied = zmprov::run(&mut dir, &script);
    debug_assert!(applied.is_ok(), "{applied:?}\n{script}");
    let mut t = Topology::new();
    let net = vec!["10.0.0.0/24".to_string()];
    let _ = t.add(Mta::zimbra("primary", &primary, &dir, |p| {
        p.mynetworks = net.clone()
    }));
    let mut secondaries = Vec::new();
    for (n, kind) in kinds.iter().enumerate() {
        let host = host_of(Some(n), d);
        let mine: Vec<String> = users
            .iter()
            .filter(|(_, h)| *h == Home::Secondary(n))
            .map(|(u, _)| u.clone())
            .collect();
        match kind {
            SecondaryKind::Foreign { forwards_unknown } => {
                let _ = t.add(Mta::foreign(
                    &format!("secondary{n}"),
                    &host,
                    ForeignMta {
                        domains: vec![d.to_string()],
                        mailboxes: mine,
                        unknown: if *forwards_unknown {
                            UnknownPolicy::Relay
                        } else {
                            UnknownPolicy::Reject
                        },
                        relayhost: Some(primary.clone()),
                        dns_lookups: true,
                        hopcount_limit: 50,
                        ..ForeignMta::default()
                    },
                ));
                secondaries.push((*kind, String::new()));
            }
            SecondaryKind::Zimbra => {
                let mut s = format!("cs {host}\ncd {d}\n");
                for u in &mine {
                    s.push_str(&format!("ca {u} pw\n"));
                }
                s.push_str(&format!(
                    "md {d} zimbraMailCatchAllAddress @{d} zimbraMailCatchAllForwardingAddress @{d} zimbraMailTransport smtp:{primary}\n"
                ));
                let mut sdir = Directory::new();
                let applied = zmprov::run(&mut sdir, &s);
                debug_assert!(applied.is_ok(), "{applied:?}\n{s}");
                let _ = t.add(Mta::zimbra(&format!("secondary{n}"), &host, &sdir, |p| {
                    p.mynetworks = net.clone()
                }));
                secondaries.push((*kind, s));
            }
        }
    }
    for i in 0..=kinds.len() {
        let h = if i == 0 { None } else { Some(i - 1) };
        t.dns
            .a
            .insert(host_of(h, d), vec![format!("10.0.0.{}", i + 1)]);
    }
    let mut mx_hosts: Vec<String> = mx
        .iter()
        .filter(|m| m.is_none_or(|n| n < kinds.len()))
        .map(|m| host_of(*m, d))
        .collect();
    mx_hosts.sort();
    mx_hosts.dedup();
    if mx_hosts.is_empty() {
        mx_hosts.push(primary);
    }
    t.dns.mx.insert(
        d.to_ascii_lowercase(),
        mx_hosts.iter().map(|h| (10, h.clone())).collect(),
    );
    GeneratedTopology {
        topology: t,
        primary_script: script,
        secondaries,
        users,
        aliases,
        primary_forwards_unknown,
        mx: mx_hosts,
    }
}

fn secondary_kind(spec: Option<SecondaryKind>) -> BoxedStrategy<SecondaryKind> {
    match spec {
        Some(k) => Just(k).boxed(),
        None => prop_oneof![
            any::<bool>().prop_map(|forwards_unknown| SecondaryKind::Foreign { forwards_unknown }),
            Just(SecondaryKind::Zimbra),
        ]
        .boxed(),
    }
}

/// Split-domain topologies: an authoritative-or-not Zimbra `primary` and one or more
/// secondaries (foreign or Zimbra) sharing one domain, users spread over them (some with an
/// alias on the primary), the MX on the primary and/or secondaries (equal preference).
///
/// A downstream property test of Zimbra's rule — "if the master forwards unknown accounts, we
/// would have a mail loop" — in the other direction: with an authoritative primary, and
/// secondaries that forward their unknowns to it, nothing loops:
///
/// ```
/// use proptest::prelude::*;
/// use zimbra_prov::strategy::{split_domain_topology, SplitDomainSpec};
/// use zimbra_prov::verify::{check, FindingKind};
///
/// proptest! {
///     #![proptest_config(ProptestConfig::with_cases(8))]
///     // in a test file this function would carry #[test]
///     fn authoritative_primary_never_loops(g in split_domain_topology(SplitDomainSpec {
///         primary_forwards_unknown: Some(false),
///         ..SplitDomainSpec::default()
///     })) {
///         let report = check(&g.topology);
///         prop_assert_eq!(report.count(FindingKind::Loop), 0, "{}\n{}", g.describe(), report.to_text());
///     }
/// }
/// # authoritative_primary_never_loops();
/// ```
pub fn split_domain_topology(spec: SplitDomainSpec) -> impl Strategy<Value = GeneratedTopology> {
    let max_sec = spec.max_secondaries.max(1);
    let max_users = spec.max_users.max(1);
    (1..=max_sec)
        .prop_flat_map(move |n| {
            let spec = spec.clone();
            (
                prop::collection::vec(secondary_kind(spec.secondary_kind), n),
                prop::collection::vec((prop::option::of(0..n), any::<bool>()), 1..=max_users),
                match spec.primary_forwards_unknown {
                    Some(b) => Just(b).boxed(),
                    None => any::<bool>().boxed(),
                },
                prop::collection::vec(prop::option::of(0..n), 1..=2),
                Just(spec.domain.clone()),
            )
        })
        .prop_map(|(kinds, users, fwd, mx, domain)| {
            let homes: Vec<Home> = users
                .iter()
                .map(|(h, _)| h.map_or(Home::Primary, Home::Secondary))
                .collect();
            let alias: Vec<bool> = users.iter().map(|(_, a)| *a).collect();
            build_split(&domain, &homes, &kinds, &alias, fwd, &mx, &[])
        })
}

/// A generated migration plan: a split domain with an authoritative Zimbra primary and one
/// foreign secondary (Exchange) that relays its unknown recipients to the primary, and the
/// states after moving each of `moved`, one at a time, with the seed runbook's procedure
/// (`ma USER zimbraMailTransport lmtp:PRIMARY:7025` on the primary, then the mailbox removed on
/// the secondary).
#[derive(Debug, Clone)]
pub struct GeneratedPlan {
    /// The initial topology.
    pub initial: GeneratedTopology,
    /// The users moved, in order.
    pub moved: Vec<String>,
    /// The states: `initial`, then `move USER` for each moved user.
    pub stages: Vec<(String, crate::route::Topology)>,
    /// The primary's zmprov script at each state (same order as `stages`), to rebuild its
    /// directory (e.g. as LDIF for a real slapd).
    pub primary_scripts: Vec<String>,
}

/// Migration plans (see [`GeneratedPlan`]): any subset of the secondary's users, in any order.
pub fn migration_plan(spec: SplitDomainSpec) -> impl Strategy<Value = GeneratedPlan> {
    let max_users = spec.max_users.max(1);
    let domain = spec.domain.clone();
    (
        prop::collection::vec((any::<bool>(), any::<bool>()), 1..=max_users),
        any::<bool>(),
    )
        .prop_flat_map(move |(users, mx_secondary)| {
            let n = users.len();
            (
                Just(users),
                Just(mx_secondary),
                Just((0..n).collect::<Vec<usize>>()).prop_shuffle(),
                prop::collection::vec(any::<bool>(), n),
                Just(domain.clone()),
            )
        })
        .prop_map(|(users, mx_secondary, order, pick, domain)| {
            // users[u].0: on the secondary (else the primary); .1: an alias on the primary
            let homes: Vec<Home> = users
                .iter()
                .map(|(s, _)| {
                    if *s {
                        Home::Secondary(0)
                    } else {
                        Home::Primary
                    }
                })
                .collect();
            let alias: Vec<bool> = users.iter().map(|(_, a)| *a).collect();
            let kinds = [SecondaryKind::Foreign {
                forwards_unknown: true,
            }];
            let mx: Vec<Option<usize>> = if mx_secondary {
                vec![Some(0)]
            } else {
                vec![None]
            };
            let initial = build_split(&domain, &homes, &kinds, &alias, false, &mx, &[]);
            let mut stages = vec![("initial".to_string(), initial.topology.clone())];
            let mut primary_scripts = vec![initial.primary_script.clone()];
            let mut done: Vec<usize> = Vec::new();
            let mut moved = Vec::new();
            for u in order {
                if homes.get(u) != Some(&Home::Secondary(0))
                    || !pick.get(u).copied().unwrap_or(false)
                {
                    continue;
                }
                done.push(u);
                let state = build_split(&domain, &homes, &kinds, &alias, false, &mx, &done);
                let name = format!("u{u}@{domain}");
                stages.push((format!("move {name}"), state.topology));
                primary_scripts.push(state.primary_script);
                moved.push(name);
            }
            GeneratedPlan {
                initial,
                moved,
                stages,
                primary_scripts,
            }
        })
}
