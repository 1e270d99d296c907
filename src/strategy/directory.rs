//! Zimbra directories built by zmprov commands (and, with [`DirectorySpec::migration`], shaped
//! like the directories real migrations bring; see `migration`).

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
    /// Shape the directories like the ones migrations bring (see
    /// [`DirectorySpec::with_migration_shapes`]).
    pub migration: bool,
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
            migration: false,
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

    /// The same spec generating directories shaped like the ones migrations bring: after the
    /// zmprov commands, hand edits (the sub-domain migration's `migrate.` tree with a second copy
    /// of an account and accounts sharing an address with the main tree; transports typed with
    /// odd case, spaces, Zimbra's own and unknown services, `error:`/`retry:` with statuses of
    /// every class; quoted, long and `-` addresses; forwards with commas inside quotes, names
    /// and bang paths; punycode domains), written as a slapcat file in a random
    /// parents-first order and read back, so that creation order is neither DN order nor
    /// zmprov's order. [`GeneratedDirectory::slapcat`] holds that file.
    ///
    /// ```
    /// use proptest::strategy::{Strategy, ValueTree};
    /// use proptest::test_runner::TestRunner;
    /// use zimbra_prov::strategy::{directory, DirectorySpec};
    /// let g = directory(DirectorySpec::default().with_migration_shapes())
    ///     .new_tree(&mut TestRunner::deterministic()).unwrap().current();
    /// let again = zimbra_prov::dit::read_directory(g.slapcat.as_deref().unwrap().as_bytes()).unwrap();
    /// assert_eq!(again, g.directory);
    /// ```
    pub fn with_migration_shapes(mut self) -> Self {
        self.migration = true;
        self
    }
}

/// A generated directory and the zmprov script that built it.
#[derive(Debug, Clone)]
pub struct GeneratedDirectory {
    /// The zmprov commands that built `directory` (each applied without error); with
    /// migration shapes, the zmprov part, the hand edits as `#` comments.
    pub script: String,
    /// The directory.
    pub directory: Directory,
    /// The spec it was generated from.
    pub spec: DirectorySpec,
    /// With migration shapes: the slapcat file (LDIF in entry-ID order) `directory` was read
    /// from.
    pub slapcat: Option<String>,
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
        out.extend(self.shape_addresses());
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
    pub fn shape_addresses(&self) -> Vec<String> {
        let d = &self.directory;
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

pub(super) fn pick<T: Clone>(v: &[T], i: usize) -> Option<T> {
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
        slapcat: None,
    }
}

/// [`build`], then the migration shapes and a slapcat order (see
/// [`DirectorySpec::with_migration_shapes`]).
fn build_migrated(
    spec: &DirectorySpec,
    ops: &[Op],
    shapes: &[super::migration::Shape],
    order: &[u32],
) -> GeneratedDirectory {
    let mut g = build(spec, ops);
    let mut dir = g.directory.clone();
    for note in super::migration::apply(spec, &mut dir, shapes) {
        g.script.push_str(&note);
        g.script.push('\n');
    }
    // the edits make only valid LDIF, so these do not fail; the test below checks it
    let ldif = super::migration::slapcat(&dir, order).expect("slapcat of a migrated directory");
    g.directory = crate::dit::read_directory(ldif.as_bytes()).expect("slapcat reads back");
    g.slapcat = Some(ldif);
    g
}

/// A directory generated from `spec` (see the module docs for what it contains).
pub fn directory(spec: DirectorySpec) -> impl Strategy<Value = GeneratedDirectory> {
    let max = spec.max_ops.max(1);
    if spec.migration {
        (
            prop::collection::vec(op(), 1..=max),
            prop::collection::vec(super::migration::shape(), 6..=16),
            prop::collection::vec(any::<u32>(), 32),
        )
            .prop_map(move |(ops, shapes, order)| build_migrated(&spec, &ops, &shapes, &order))
            .boxed()
    } else {
        prop::collection::vec(op(), 1..=max)
            .prop_map(move |ops| build(&spec, &ops))
            .boxed()
    }
}
