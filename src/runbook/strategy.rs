//! proptest strategies for migration specs (feature `proptest`; re-exported from
//! [`crate::strategy`]).
//!
//! [`migration_spec`] generates spec TOML for every strategy: split domains with a foreign or a
//! Zimbra old system (aliases, catch-all accounts, trusted or untrusted networks), sub-domain,
//! MTA head, a new mailstore in the same directory and domain moves (renamed or not); users
//! spread over ordered batches, some of them left behind; the data method; and the order the
//! spec asks for, shuffled (the planner must find an order that works).
//!
//! ```
//! use proptest::prelude::*;
//! use zimbra_prov::runbook::plan;
//! use zimbra_prov::strategy::{migration_spec, SpecGen};
//!
//! proptest! {
//!     #![proptest_config(ProptestConfig::with_cases(4))]
//!     // in a test file this function would carry #[test]
//!     fn every_spec_plans(g in migration_spec(SpecGen::default())) {
//!         let spec = g.spec().unwrap();
//!         let rb = plan(&spec).map_err(|e| TestCaseError::fail(format!("{e}\n{}", g.toml)))?;
//!         prop_assert!(rb.steps.iter().all(|s| s.verification.ok));
//!     }
//! }
//! # every_spec_plans();
//! ```

use std::fmt::Write as _;

use proptest::prelude::*;

use super::spec::{Spec, SpecError, StrategyKind};

/// What [`migration_spec`] generates.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpecGen {
    /// The strategies to draw from.
    pub strategies: Vec<StrategyKind>,
    /// At most this many users on the old system (at least 1).
    pub max_users: usize,
    /// At most this many batches (at least 1).
    pub max_batches: usize,
}

impl Default for SpecGen {
    fn default() -> Self {
        use strum::IntoEnumIterator;
        SpecGen {
            strategies: StrategyKind::iter().collect(),
            max_users: 4,
            max_batches: 3,
        }
    }
}

impl SpecGen {
    /// Only these strategies.
    ///
    /// ```
    /// use zimbra_prov::runbook::StrategyKind;
    /// use zimbra_prov::strategy::SpecGen;
    /// let g = SpecGen::default().only(&[StrategyKind::Subdomain]);
    /// assert_eq!(g.strategies, [StrategyKind::Subdomain]);
    /// ```
    pub fn only(mut self, kinds: &[StrategyKind]) -> Self {
        self.strategies = kinds.to_vec();
        self
    }
}

/// A generated spec.
#[derive(Debug, Clone)]
pub struct GeneratedSpec {
    /// The spec's TOML text.
    pub toml: String,
    /// Its strategy.
    pub strategy: StrategyKind,
    /// The users of the old system.
    pub users: Vec<String>,
}

impl GeneratedSpec {
    /// The parsed spec (generated specs always parse; the `Result` is the parser's).
    ///
    /// ```
    /// use proptest::strategy::{Strategy, ValueTree};
    /// use proptest::test_runner::TestRunner;
    /// use zimbra_prov::strategy::{migration_spec, SpecGen};
    /// let g = migration_spec(SpecGen::default()).new_tree(&mut TestRunner::deterministic()).unwrap().current();
    /// assert_eq!(g.spec().unwrap().strategy, g.strategy);
    /// ```
    pub fn spec(&self) -> Result<Spec, SpecError> {
        Spec::parse(&self.toml, "generated.toml")
    }
}

/// The random choices behind one spec.
#[derive(Debug, Clone)]
struct Draw {
    kind: StrategyKind,
    users: usize,
    /// Per user: its batch (`None`: stays on the old system).
    batch_of: Vec<Option<usize>>,
    last_all_remaining: bool,
    foreign_source: bool,
    aliases: Vec<bool>,
    catch_all: bool,
    trusted: bool,
    data: u8,
    shuffle_batch: Option<Vec<usize>>,
    shuffle_global: Option<Vec<usize>>,
    rename: bool,
    dns_a: bool,
}

const DOM: &str = "example.org";
const OLD: &str = "old.example.net";
const NEW: &str = "zimbra.example.net";

fn q(s: &str) -> String {
    format!("\"{s}\"")
}

fn users(d: &Draw) -> Vec<String> {
    (0..d.users).map(|i| format!("user{i}@{DOM}")).collect()
}

fn zimbra_dir(name: &str, host: &str, users: &[String], aliases: &[bool]) -> String {
    let mut s = format!(
        "[[directory]]\nname = {}\nzmprov = \"\"\"\ncs {host} zimbraServiceEnabled mailbox\n",
        q(name)
    );
    if !users.is_empty() {
        let _ = writeln!(s, "cd {DOM}");
    }
    for (i, u) in users.iter().enumerate() {
        let _ = writeln!(s, "ca {u} pw");
        if aliases.get(i).copied().unwrap_or(false) {
            let _ = writeln!(s, "aaa {u} alias{i}@{DOM}");
        }
    }
    s.push_str("\"\"\"\n\n");
    s
}

fn zimbra_mta(name: &str, host: &str, dir: &str, trusted: bool) -> String {
    let mut s = format!(
        "[[mta]]\nname = {}\nkind = \"zimbra\"\nhostname = {}\ndirectory = {}\n",
        q(name),
        q(host),
        q(dir)
    );
    if trusted {
        s.push_str("mynetworks = [\"10.9.0.0/24\"]\n");
    }
    s.push('\n');
    s
}

fn render(d: &Draw) -> GeneratedSpec {
    use StrategyKind as K;
    let us = users(d);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "strategy = {}\ndomains = [{}]",
        q(&d.kind.to_string()),
        q(DOM)
    );
    let (src, tgt) = match d.kind {
        K::SameLdapNewMailstore => ("mx", "mx"),
        _ => ("old", "new"),
    };
    match d.kind {
        K::SameLdapNewMailstore => {
            let _ = writeln!(
                s,
                "source = {{ mta = \"mx\", host = \"mbx1.example.net\" }}\ntarget = {{ mta = \"mx\", host = \"mbx2.example.net\" }}"
            );
        }
        _ => {
            let _ = writeln!(
                s,
                "source = {{ mta = {} }}\ntarget = {{ mta = {} }}",
                q(src),
                q(tgt)
            );
        }
    }
    let data = match (d.kind, d.foreign_source, d.data % 4) {
        (K::SameLdapNewMailstore | K::DomainMove, _, 0) => "none",
        (K::SameLdapNewMailstore | K::DomainMove, _, _) => "zmmailboxmove",
        (_, true, 0) => "none",
        (_, true, _) => "imapsync",
        (_, false, 0) => "zmbackup",
        (_, false, 1) => "rest",
        (_, false, 2) => "imapsync",
        (_, false, _) => "none",
    };
    if d.kind == K::SplitPrimaryZimbra && d.catch_all {
        let _ = writeln!(s, "catch_all = \"catchall@{DOM}\"");
    }
    let _ = writeln!(s, "[data]\nmethod = {}\n", q(data));
    let foreign =
        d.foreign_source && matches!(d.kind, K::SplitPrimaryZimbra | K::SplitPrimaryOther);
    match d.kind {
        K::SameLdapNewMailstore => {
            let mut z = "[[directory]]\nname = \"zcs\"\nzmprov = \"\"\"\ncs mbx1.example.net zimbraServiceEnabled mailbox\ncs mbx2.example.net zimbraServiceEnabled mailbox\n".to_string();
            let _ = writeln!(z, "cd {DOM}");
            for (i, u) in us.iter().enumerate() {
                let _ = writeln!(z, "ca {u} pw zimbraMailHost mbx1.example.net");
                if d.aliases.get(i).copied().unwrap_or(false) {
                    let _ = writeln!(z, "aaa {u} alias{i}@{DOM}");
                }
            }
            z.push_str("\"\"\"\n\n");
            s.push_str(&z);
            s.push_str(&zimbra_mta("mx", "mbx1.example.net", "zcs", false));
            let _ = writeln!(
                s,
                "[dns]\nmx = {{ {} = [\"10 mbx1.example.net\"] }}\n",
                q(DOM)
            );
        }
        _ => {
            let target_hosts_other = matches!(d.kind, K::Subdomain | K::DomainMove);
            let mut tdir = format!("[[directory]]\nname = \"new\"\nzmprov = \"\"\"\ncs {NEW} zimbraServiceEnabled mailbox\n");
            if target_hosts_other {
                tdir.push_str("cd other.example\nca boss@other.example pw\n");
            }
            tdir.push_str("\"\"\"\n\n");
            s.push_str(&tdir);
            if foreign {
                s.push_str("[[mta]]\nname = \"old\"\nkind = \"foreign\"\n");
                let _ = writeln!(s, "hostname = {}\ndomains = [{}]", q(OLD), q(DOM));
                let list: Vec<String> = us.iter().map(|u| q(u)).collect();
                let _ = writeln!(s, "mailboxes = [{}]", list.join(", "));
                let al: Vec<String> = (0..d.users)
                    .filter(|i| d.aliases.get(*i).copied().unwrap_or(false))
                    .map(|i| format!("{} = {}", q(&format!("alias{i}@{DOM}")), q(&us[i])))
                    .collect();
                if !al.is_empty() {
                    let _ = writeln!(s, "aliases = {{ {} }}", al.join(", "));
                }
                s.push_str("unknown = \"reject\"\n\n");
            } else {
                s.push_str(&zimbra_dir("old", OLD, &us, &d.aliases));
                s.push_str(&zimbra_mta("old", OLD, "old", d.trusted));
            }
            s.push_str(&zimbra_mta("new", NEW, "new", d.trusted));
            let _ = write!(s, "[dns]\nmx = {{ {} = [\"10 {OLD}\"]", q(DOM));
            if target_hosts_other {
                s.push_str(", \"other.example\" = [\"10 zimbra.example.net\"]");
            }
            s.push_str(" }\n");
            if d.dns_a {
                let _ = writeln!(
                    s,
                    "a = {{ {} = \"10.9.0.1\", {} = \"10.9.0.2\" }}",
                    q(OLD),
                    q(NEW)
                );
            }
            s.push('\n');
        }
    }
    match d.kind {
        K::Subdomain => {
            let _ = writeln!(s, "[subdomain]\nname = \"migrate.{DOM}\"\n");
        }
        K::MtaHead => {
            s.push_str("[mta_head]\nmta = \"head\"\nhostname = \"head.example.net\"\n\n");
        }
        K::DomainMove => {
            s.push_str("[move]\nregenerate_ids = true\n");
            if d.rename {
                s.push_str("rename = \"example.com\"\n");
            }
            s.push('\n');
        }
        _ => {}
    }
    // batches: in order of their index; empty ones dropped
    let nb = d
        .batch_of
        .iter()
        .flatten()
        .max()
        .map(|m| m + 1)
        .unwrap_or(0);
    let mut batches: Vec<Vec<String>> = (0..nb)
        .map(|b| {
            us.iter()
                .zip(&d.batch_of)
                .filter(|(_, x)| **x == Some(b))
                .map(|(u, _)| u.clone())
                .collect()
        })
        .filter(|v: &Vec<String>| !v.is_empty())
        .collect();
    if batches.is_empty() {
        batches.push(vec![us[0].clone()]);
    }
    let everyone = batches.iter().map(Vec::len).sum::<usize>() == us.len();
    let last = batches.len() - 1;
    for (i, b) in batches.iter().enumerate() {
        if i == last && everyone && d.last_all_remaining {
            s.push_str("[[batch]]\nusers = \"all-remaining\"\n\n");
        } else {
            let list: Vec<String> = b.iter().map(|u| q(u)).collect();
            let _ = writeln!(s, "[[batch]]\nusers = [{}]\n", list.join(", "));
        }
    }
    // the order asked for: the global steps before the batches, and the steps of a batch,
    // shuffled (the planner must find an order that works)
    let pre: Vec<&str> = match d.kind {
        K::SplitPrimaryZimbra => vec!["prepare-target", "configure-source", "mx-switch"],
        K::SplitPrimaryOther | K::SameLdapNewMailstore => vec!["prepare-target"],
        K::Subdomain => vec!["prepare-target", "configure-source"],
        K::MtaHead => vec![
            "prepare-target",
            "prepare-head",
            "mx-switch",
            "configure-source",
        ],
        K::DomainMove => vec!["export", "load", "replica", "mx-switch"],
    };
    let post: Vec<&str> = match (d.kind, everyone) {
        (K::SplitPrimaryOther | K::Subdomain, true) => vec!["mx-switch", "unset"],
        (K::DomainMove, true) => vec!["follow-ups", "unset"],
        (K::DomainMove, false) => vec!["follow-ups"],
        (_, true) => vec!["unset"],
        (_, false) => vec![],
    };
    let maint = matches!(data, "zmbackup" | "rest" | "zmmailboxmove");
    let copy = data != "none";
    let zimbra_source = !foreign;
    let mut batch_steps: Vec<&str> = Vec::new();
    let mut add = |cond: bool, step: &'static str| {
        if cond {
            batch_steps.push(step);
        }
    };
    match d.kind {
        K::SplitPrimaryZimbra => {
            add(maint, "maintenance");
            add(true, "switch");
            add(true, "retire-source");
            add(copy, "copy");
            add(maint, "activate");
        }
        K::SplitPrimaryOther => {
            add(true, "create");
            add(maint && zimbra_source, "maintenance");
            add(true, "switch");
            add(foreign, "retire-source");
            add(copy, "copy");
            add(maint, "activate");
        }
        K::Subdomain => {
            add(true, "create");
            add(maint, "maintenance");
            add(copy, "copy");
            add(true, "switch");
            add(maint, "activate");
        }
        K::MtaHead => {
            add(true, "create");
            add(maint, "maintenance");
            add(copy, "copy");
            add(true, "switch");
            add(true, "retire-source");
            add(maint, "activate");
        }
        K::SameLdapNewMailstore | K::DomainMove => {
            add(maint, "maintenance");
            add(copy, "copy");
            add(true, "switch");
            add(maint, "activate");
        }
    }
    let mut order = String::new();
    if let Some(p) = &d.shuffle_global {
        let idx: Vec<usize> = p.iter().copied().filter(|i| *i < pre.len()).collect();
        let mut g: Vec<&str> = idx.iter().map(|i| pre[*i]).collect();
        g.push("batches");
        g.extend(post.iter().copied());
        let list: Vec<String> = g.iter().map(|x| q(x)).collect();
        let _ = writeln!(order, "steps = [{}]", list.join(", "));
    }
    if let Some(p) = &d.shuffle_batch {
        let idx: Vec<usize> = p
            .iter()
            .copied()
            .filter(|i| *i < batch_steps.len())
            .collect();
        let list: Vec<String> = idx.iter().map(|i| q(batch_steps[*i])).collect();
        let _ = writeln!(order, "batch = [{}]", list.join(", "));
    }
    if !order.is_empty() {
        let _ = write!(s, "[order]\n{order}");
    }
    GeneratedSpec {
        toml: s,
        strategy: d.kind,
        users: us,
    }
}

/// Migration specs (see the [module documentation](self)).
pub fn migration_spec(g: SpecGen) -> impl Strategy<Value = GeneratedSpec> {
    let kinds = if g.strategies.is_empty() {
        SpecGen::default().strategies
    } else {
        g.strategies.clone()
    };
    let max_users = g.max_users.max(1);
    let max_batches = g.max_batches.max(1);
    (prop::sample::select(kinds), 1..=max_users)
        .prop_flat_map(move |(kind, n)| {
            (
                Just(kind),
                Just(n),
                prop::collection::vec(
                    prop_oneof![8 => (0..max_batches).prop_map(Some), 1 => Just(None)],
                    n,
                ),
                any::<bool>(),
                any::<bool>(),
                prop::collection::vec(any::<bool>(), n),
                (any::<bool>(), any::<bool>(), any::<u8>()),
                prop::option::weighted(0.3, Just((0..6).collect::<Vec<usize>>()).prop_shuffle()),
                prop::option::weighted(0.3, Just((0..6).collect::<Vec<usize>>()).prop_shuffle()),
                (any::<bool>(), any::<bool>()),
            )
        })
        .prop_map(
            |(
                kind,
                users,
                batch_of,
                last_all_remaining,
                foreign_source,
                aliases,
                (catch_all, trusted, data),
                shuffle_global,
                shuffle_batch,
                (rename, dns_a),
            )| {
                render(&Draw {
                    kind,
                    users,
                    batch_of,
                    last_all_remaining,
                    foreign_source,
                    aliases,
                    catch_all,
                    trusted,
                    data,
                    shuffle_batch,
                    shuffle_global,
                    rename,
                    dns_a,
                })
            },
        )
}
