//! proptest strategies for Zimbra addresses and directories (feature `proptest`).
//!
//! Other crates use these to property-test their own code against realistic Zimbra data: every
//! generated [`Directory`] is built by zmprov commands (so it holds exactly what Zimbra would
//! store), and comes with the script that built it, so a failing case can be replayed by hand.
//!
//! The generated directories cover what shapes mail routing: local and alias domains, accounts in
//! every status, LMTP / SMTP / `[host]` / `error:` transports, aliases, distribution lists with
//! internal and external members, forwarding with and without local delivery, catch-all
//! accounts, split-domain catch-alls with a domain transport, alias domains with catch-all
//! forwarding, canonical addresses and canonical catch-alls.
//!
//! ```
//! use proptest::prelude::*;
//! use zimbra_prov::model::MailRecipient;
//! use zimbra_prov::strategy::{directory, DirectorySpec};
//!
//! proptest! {
//!     #![proptest_config(ProptestConfig::with_cases(16))]
//!     // in a test file this function would carry #[test]
//!     fn every_account_has_a_delivery_address(g in directory(DirectorySpec::default())) {
//!         for a in g.directory.accounts() {
//!             prop_assert_eq!(a.delivery_addresses().unwrap(), vec![a.name.clone()], "{}", g.script);
//!         }
//!     }
//! }
//! # every_account_has_a_delivery_address();
//! ```

use proptest::prelude::*;

use crate::model::{AccountStatus, Address, Directory, DomainName};
use crate::zmprov;

/// What [`directory`] generates.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DirectorySpec {
    /// Mailbox servers (`cs` with `zimbraServiceEnabled mailbox`).
    pub servers: Vec<String>,
    /// Local domains (all created).
    pub domains: Vec<String>,
    /// Names available for alias domains (some are created).
    pub alias_domains: Vec<String>,
    /// Hosts outside this directory that transports and forwards may point at.
    pub foreign_hosts: Vec<String>,
    /// Local parts to draw from (a small pool makes collisions and catch-all hits likely).
    pub local_parts: Vec<String>,
    /// Upper bound on generated operations.
    pub max_ops: usize,
}

impl Default for DirectorySpec {
    fn default() -> Self {
        DirectorySpec {
            servers: vec!["mbx1.example.com".into(), "mbx2.example.com".into()],
            domains: vec!["example.com".into(), "example.org".into()],
            alias_domains: vec!["alias.example.net".into()],
            foreign_hosts: vec!["exchange.example.com".into(), "mx.partner.test".into()],
            local_parts: [
                "alice", "bob", "carol", "dave", "eve", "info", "sales", "team",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            max_ops: 24,
        }
    }
}

impl DirectorySpec {
    /// The same spec with at most `n` generated operations (bigger directories).
    ///
    /// ```
    /// use zimbra_prov::strategy::DirectorySpec;
    /// assert_eq!(DirectorySpec::default().with_max_ops(40).max_ops, 40);
    /// ```
    pub fn with_max_ops(mut self, n: usize) -> Self {
        self.max_ops = n;
        self
    }
}

/// A generated directory and the zmprov script that built it.
#[derive(Debug, Clone)]
pub struct GeneratedDirectory {
    /// The zmprov commands that built `directory` (each applied without error).
    pub script: String,
    /// The directory.
    pub directory: Directory,
    /// The spec it was generated from.
    pub spec: DirectorySpec,
}

impl GeneratedDirectory {
    /// Addresses worth routing: every name, alias, list and member, one unknown local part per
    /// domain, an address in an unknown domain, and mixed-case and `+ext` variants of a few.
    pub fn interesting_addresses(&self) -> Vec<String> {
        let d = &self.directory;
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
        // dynamic-group units: the dynamic unit's address and the static unit's members
        for e in &d.other_entries {
            for attr in ["zimbraMailAlias", "zimbraMailForwardingAddress"] {
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
        out.sort();
        out.dedup();
        out
    }
}

/// One generated provisioning step; [`directory`] turns a list of these into zmprov lines.
#[derive(Debug, Clone)]
enum Op {
    Account {
        local: usize,
        domain: usize,
        status: AccountStatus,
        transport: TransportChoice,
    },
    Forward {
        local: usize,
        domain: usize,
        to_local: usize,
        to_domain: usize,
        external: bool,
        local_delivery_disabled: bool,
        pref: bool,
    },
    Alias {
        local: usize,
        domain: usize,
        alias_local: usize,
        alias_domain: usize,
    },
    List {
        local: usize,
        domain: usize,
        members: Vec<(usize, usize, bool)>,
    },
    /// A dynamic group (`cddl`) and its members (`adlm`): local-domain addresses become
    /// internal members when they name an account and static-unit members otherwise; `true`
    /// picks an address on a foreign host. A `late` group is created after every other
    /// operation, when most accounts exist (so more of its members are internal).
    DynamicGroup {
        local: usize,
        domain: usize,
        members: Vec<(usize, usize, bool)>,
        late: bool,
    },
    CatchAllAccount {
        local: usize,
        domain: usize,
    },
    SplitDomain {
        domain: usize,
        host: usize,
    },
    AliasDomain {
        alias: usize,
        target: usize,
        forwarding: bool,
    },
    Canonical {
        local: usize,
        domain: usize,
        to_local: usize,
        to_domain: usize,
    },
    CanonicalCatchAll {
        domain: usize,
        to_domain: usize,
    },
    DisableMail {
        local: usize,
        domain: usize,
    },
}

#[derive(Debug, Clone)]
enum TransportChoice {
    Default,
    Lmtp(usize),
    Smtp {
        host: usize,
        bracketed: bool,
        port: bool,
    },
    Error,
}

/// Any [`AccountStatus`], weighted towards `active`.
pub fn account_status() -> impl Strategy<Value = AccountStatus> {
    prop_oneof![
        6 => Just(AccountStatus::Active),
        1 => Just(AccountStatus::Maintenance),
        1 => Just(AccountStatus::Locked),
        1 => Just(AccountStatus::Closed),
        1 => Just(AccountStatus::Lockout),
        1 => Just(AccountStatus::Pending),
    ]
}

/// A domain name from a small set of labels (so that generated names collide usefully).
pub fn domain_name() -> impl Strategy<Value = DomainName> {
    (
        prop::sample::select(vec!["example", "mail", "corp", "zimbra", "split"]),
        prop::sample::select(vec!["com", "org", "net", "test"]),
    )
        .prop_map(|(a, b)| DomainName::parse(&format!("{a}.{b}")).expect("valid by construction"))
}

/// An address with a local part from `spec.local_parts` in one of `spec.domains` (pairs that
/// do not form a valid address are skipped).
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
/// use zimbra_prov::strategy::{address, DirectorySpec};
/// let a = address(&DirectorySpec::default()).new_tree(&mut TestRunner::deterministic()).unwrap().current();
/// assert!(DirectorySpec::default().domains.contains(&a.domain().to_string()));
/// ```
pub fn address(spec: &DirectorySpec) -> impl Strategy<Value = Address> {
    (
        prop::sample::select(spec.local_parts.clone()),
        prop::sample::select(spec.domains.clone()),
    )
        .prop_filter_map("a valid address", |(l, d)| {
            Address::parse(&format!("{l}@{d}")).ok()
        })
}

fn transport_choice() -> impl Strategy<Value = TransportChoice> {
    prop_oneof![
        6 => Just(TransportChoice::Default),
        2 => (0usize..4).prop_map(TransportChoice::Lmtp),
        3 => (0usize..4, any::<bool>(), any::<bool>()).prop_map(|(host, bracketed, port)| TransportChoice::Smtp { host, bracketed, port }),
        1 => Just(TransportChoice::Error),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let ix = || 0usize..16;
    prop_oneof![
        8 => (ix(), ix(), account_status(), transport_choice()).prop_map(|(local, domain, status, transport)| Op::Account { local, domain, status, transport }),
        2 => (ix(), ix(), ix(), ix(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(local, domain, to_local, to_domain, external, local_delivery_disabled, pref)| Op::Forward { local, domain, to_local, to_domain, external, local_delivery_disabled, pref }),
        2 => (ix(), ix(), ix(), ix()).prop_map(|(local, domain, alias_local, alias_domain)| Op::Alias { local, domain, alias_local, alias_domain }),
        2 => (ix(), ix(), prop::collection::vec((ix(), ix(), any::<bool>()), 1..4)).prop_map(|(local, domain, members)| Op::List { local, domain, members }),
        2 => (ix(), ix(), prop::collection::vec((ix(), ix(), any::<bool>()), 0..4), any::<bool>()).prop_map(|(local, domain, members, late)| Op::DynamicGroup { local, domain, members, late }),
        1 => (ix(), ix()).prop_map(|(local, domain)| Op::CatchAllAccount { local, domain }),
        1 => (ix(), ix()).prop_map(|(domain, host)| Op::SplitDomain { domain, host }),
        1 => (ix(), ix(), any::<bool>()).prop_map(|(alias, target, forwarding)| Op::AliasDomain { alias, target, forwarding }),
        1 => (ix(), ix(), ix(), ix()).prop_map(|(local, domain, to_local, to_domain)| Op::Canonical { local, domain, to_local, to_domain }),
        1 => (ix(), ix()).prop_map(|(domain, to_domain)| Op::CanonicalCatchAll { domain, to_domain }),
        1 => (ix(), ix()).prop_map(|(local, domain)| Op::DisableMail { local, domain }),
    ]
}

fn pick<T: Clone>(v: &[T], i: usize) -> Option<T> {
    if v.is_empty() {
        None
    } else {
        v.get(i % v.len()).cloned()
    }
}

impl Op {
    fn to_line(&self, s: &DirectorySpec) -> Option<String> {
        let addr = |l: usize, d: usize| {
            Some(format!(
                "{}@{}",
                pick(&s.local_parts, l)?,
                pick(&s.domains, d)?
            ))
        };
        // an address in one of the directory's domains, or at a foreign host
        let member = |l: usize, d: usize, external: bool| {
            if external {
                Some(format!(
                    "{}@{}",
                    pick(&s.local_parts, l)?,
                    pick(&s.foreign_hosts, d)?
                ))
            } else {
                addr(l, d)
            }
        };
        Some(match self {
            Op::Account {
                local,
                domain,
                status,
                transport,
            } => {
                let t = match transport {
                    TransportChoice::Default => String::new(),
                    TransportChoice::Lmtp(h) => {
                        format!(" zimbraMailHost {}", pick(&s.servers, *h)?)
                    }
                    TransportChoice::Smtp {
                        host,
                        bracketed,
                        port,
                    } => {
                        let h = pick(&s.foreign_hosts, *host)?;
                        let h = if *bracketed { format!("[{h}]") } else { h };
                        format!(
                            " zimbraMailTransport smtp:{h}{}",
                            if *port { ":25" } else { "" }
                        )
                    }
                    TransportChoice::Error => {
                        " zimbraMailTransport 'error:5.1.6 mailbox has moved'".into()
                    }
                };
                format!(
                    "ca {} pw zimbraAccountStatus {status}{t}",
                    addr(*local, *domain)?
                )
            }
            Op::Forward {
                local,
                domain,
                to_local,
                to_domain,
                external,
                local_delivery_disabled,
                pref,
            } => {
                let to = member(*to_local, *to_domain, *external)?;
                let attr = if *pref {
                    "zimbraPrefMailForwardingAddress"
                } else {
                    "+zimbraMailForwardingAddress"
                };
                let mut line = format!("ma {} {attr} {to}", addr(*local, *domain)?);
                if *local_delivery_disabled {
                    line.push_str(" zimbraPrefMailLocalDeliveryDisabled TRUE");
                }
                line
            }
            Op::Alias {
                local,
                domain,
                alias_local,
                alias_domain,
            } => {
                let doms: Vec<String> = s.domains.iter().chain(&s.alias_domains).cloned().collect();
                format!(
                    "aaa {} {}@{}",
                    addr(*local, *domain)?,
                    pick(&s.local_parts, *alias_local)?,
                    pick(&doms, *alias_domain)?
                )
            }
            Op::List {
                local,
                domain,
                members,
            } => {
                let list = format!("list-{}", addr(*local, *domain)?);
                let ms = members
                    .iter()
                    .map(|(l, d, ext)| member(*l, *d, *ext))
                    .collect::<Option<Vec<String>>>()?;
                format!("cdl {list}\nadlm {list} {}", ms.join(" "))
            }
            Op::DynamicGroup {
                local,
                domain,
                members,
                ..
            } => {
                let group = format!("dg-{}", addr(*local, *domain)?);
                let ms = members
                    .iter()
                    .map(|(l, d, ext)| member(*l, *d, *ext))
                    .collect::<Option<Vec<String>>>()?;
                if ms.is_empty() {
                    format!("cddl {group}")
                } else {
                    format!("cddl {group}\nadlm {group} {}", ms.join(" "))
                }
            }
            Op::CatchAllAccount { local, domain } => {
                format!(
                    "ma {} zimbraMailCatchAllAddress @{}",
                    addr(*local, *domain)?,
                    pick(&s.domains, *domain)?
                )
            }
            Op::SplitDomain { domain, host } => {
                let d = pick(&s.domains, *domain)?;
                format!(
                    "md {d} zimbraMailCatchAllAddress @{d} zimbraMailCatchAllForwardingAddress @{d} zimbraMailTransport smtp:{}",
                    pick(&s.foreign_hosts, *host)?
                )
            }
            Op::AliasDomain {
                alias,
                target,
                forwarding,
            } => {
                let a = pick(&s.alias_domains, *alias)?;
                let t = pick(&s.domains, *target)?;
                if *forwarding {
                    format!("cad {a} {t} zimbraMailCatchAllForwardingAddress @{t}")
                } else {
                    format!("cad {a} {t}")
                }
            }
            Op::Canonical {
                local,
                domain,
                to_local,
                to_domain,
            } => {
                format!(
                    "ma {} zimbraMailCanonicalAddress {}",
                    addr(*local, *domain)?,
                    addr(*to_local, *to_domain)?
                )
            }
            Op::CanonicalCatchAll { domain, to_domain } => {
                let d = pick(&s.domains, *domain)?;
                format!(
                    "md {d} zimbraMailCatchAllAddress @{d} zimbraMailCatchAllCanonicalAddress @{}",
                    pick(&s.domains, *to_domain)?
                )
            }
            Op::DisableMail { local, domain } => {
                format!("ma {} zimbraMailStatus disabled", addr(*local, *domain)?)
            }
        })
    }
}

/// Build a directory from `spec` and a list of operations: servers and domains first, then each
/// operation's zmprov lines, keeping only the lines that apply without error.
fn build(spec: &DirectorySpec, ops: &[Op]) -> GeneratedDirectory {
    let mut dir = Directory::new();
    let mut script = String::new();
    let apply = |dir: &mut Directory, line: &str, script: &mut String| {
        let mut trial = dir.clone();
        if zmprov::run(&mut trial, line).is_ok() {
            *dir = trial;
            script.push_str(line);
            script.push('\n');
        }
    };
    for s in &spec.servers {
        apply(
            &mut dir,
            &format!("cs {s} zimbraServiceEnabled mailbox"),
            &mut script,
        );
    }
    for d in &spec.domains {
        apply(&mut dir, &format!("cd {d}"), &mut script);
    }
    let late = |op: &Op| matches!(op, Op::DynamicGroup { late: true, .. });
    for op in ops
        .iter()
        .filter(|o| !late(o))
        .chain(ops.iter().filter(|o| late(o)))
    {
        if let Some(lines) = op.to_line(spec) {
            apply(&mut dir, &lines, &mut script);
        }
    }
    GeneratedDirectory {
        script,
        directory: dir,
        spec: spec.clone(),
    }
}

/// A directory generated from `spec` (see the module docs for what it contains).
pub fn directory(spec: DirectorySpec) -> impl Strategy<Value = GeneratedDirectory> {
    let max = spec.max_ops.max(1);
    prop::collection::vec(op(), 1..=max).prop_map(move |ops| build(&spec, &ops))
}

// ---- split-domain topologies and migration plans ----

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MailRecipient;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn scripts_replay_to_the_same_directory(g in directory(DirectorySpec::default())) {
            let mut again = Directory::new();
            zmprov::run(&mut again, &g.script).unwrap();
            prop_assert_eq!(again, g.directory);
        }

        #[test]
        fn generated_values_are_typed(g in directory(DirectorySpec::default())) {
            for a in g.directory.accounts() {
                prop_assert!(a.status().unwrap().is_some());
                let _ = a.transport().unwrap();
                let _ = a.pref_forwarding_addresses().unwrap();
                let _ = a.catch_all_addresses().unwrap();
            }
            prop_assert!(!g.interesting_addresses().is_empty());
        }
    }

    #[test]
    fn the_generator_reaches_every_feature() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;
        let mut runner = TestRunner::deterministic();
        let strat = directory(DirectorySpec {
            max_ops: 40,
            ..DirectorySpec::default()
        });
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let g = strat.new_tree(&mut runner).unwrap().current();
            for line in g.script.lines() {
                let word = line.split_whitespace().next().unwrap_or("").to_string();
                seen.insert(word);
                for key in [
                    "zimbraMailCatchAllForwardingAddress",
                    "zimbraMailCatchAllCanonicalAddress",
                    "zimbraPrefMailLocalDeliveryDisabled",
                    "zimbraMailCanonicalAddress",
                    "error:",
                    "smtp:[",
                    "zimbraMailStatus disabled",
                    "closed",
                    "maintenance",
                ] {
                    if line.contains(key) {
                        seen.insert(key.to_string());
                    }
                }
            }
        }
        for want in [
            "cs",
            "cd",
            "ca",
            "ma",
            "aaa",
            "cdl",
            "adlm",
            "md",
            "cad",
            "zimbraMailCatchAllForwardingAddress",
            "zimbraMailCatchAllCanonicalAddress",
            "zimbraPrefMailLocalDeliveryDisabled",
            "zimbraMailCanonicalAddress",
            "error:",
            "smtp:[",
            "zimbraMailStatus disabled",
            "closed",
            "maintenance",
        ] {
            assert!(
                seen.contains(want),
                "generator never produced {want}: {seen:?}"
            );
        }
    }
}
