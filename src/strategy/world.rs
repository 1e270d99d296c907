//! A split domain drawn around the user's own Zimbra: the user brings the directory (or the
//! function that writes its zmprov script), the strategy draws the rest.

use proptest::prelude::*;

use super::blocks::{foreign_mta, moves};
use super::split::Home;
use crate::model::{Directory, MailRecipient};
use crate::route::{ForeignMta, Mta, Topology};
use crate::verify::EntryPoint;
use crate::zmprov::{self, ZmprovError};

/// What [`split_world`] draws around the user's Zimbra (build it with [`SplitWorldSpec::new`]
/// or [`SplitWorldSpec::from_directory`], then the `with_` methods).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SplitWorldSpec {
    /// The shared domain.
    pub domain: String,
    /// The users of the domain (full addresses).
    pub users: Vec<String>,
    /// The Zimbra MTA's name in the topology.
    pub zimbra_name: String,
    /// The Zimbra MTA's host name (where the foreign MTAs relay to).
    pub zimbra_host: String,
    /// One foreign MTA per host (named `foreign0`, `foreign1`, ...).
    pub foreign_hosts: Vec<String>,
    /// Where each of `users` lives (`None`: drawn).
    pub homes: Option<Vec<Home>>,
    /// Whether some foreign users are drawn as moved to Zimbra.
    pub moves: bool,
}

impl SplitWorldSpec {
    /// Users `users` (local parts or addresses) of `domain`, Zimbra at `mail.DOMAIN`, one
    /// foreign MTA at `exchange.DOMAIN`.
    ///
    /// ```
    /// use zimbra_prov::strategy::SplitWorldSpec;
    /// let s = SplitWorldSpec::new("example.com", ["ann", "bob@example.com"]);
    /// assert_eq!(s.users, ["ann@example.com", "bob@example.com"]);
    /// assert_eq!((s.zimbra_host.as_str(), s.foreign_hosts[0].as_str()),
    ///            ("mail.example.com", "exchange.example.com"));
    /// ```
    pub fn new<S: AsRef<str>>(domain: &str, users: impl IntoIterator<Item = S>) -> Self {
        let d = domain.to_ascii_lowercase();
        SplitWorldSpec {
            users: users
                .into_iter()
                .map(|u| {
                    let u = u.as_ref();
                    if u.contains('@') {
                        u.to_string()
                    } else {
                        format!("{u}@{d}")
                    }
                })
                .collect(),
            zimbra_name: "zimbra".into(),
            zimbra_host: format!("mail.{d}"),
            foreign_hosts: vec![format!("exchange.{d}")],
            homes: None,
            moves: true,
            domain: d,
        }
    }

    /// The world of a fixed directory `dir`: its accounts of `domain` as users, its mailbox
    /// server (the first by name) as the Zimbra host, and the homes its transports say: an
    /// account whose `zimbraMailTransport` is `smtp:`/`relay:` to a host that is not one of
    /// the directory's servers lives on a foreign MTA at that host (one per host), every other
    /// account on Zimbra. No moves are drawn (the directory is fixed); the foreign MTAs'
    /// behaviour and the MX records are.
    ///
    /// ```
    /// use zimbra_prov::{model::Directory, strategy::{Home, SplitWorldSpec}, zmprov};
    /// let mut dir = Directory::new();
    /// zmprov::run(&mut dir, "cs zcs.example.com\ncd example.com\nca ann@example.com pw\n\
    ///                        ca bob@example.com pw zimbraMailTransport smtp:[ex.example.com]:25").unwrap();
    /// let s = SplitWorldSpec::from_directory(&dir, "example.com");
    /// assert_eq!(s.users, ["ann@example.com", "bob@example.com"]);
    /// assert_eq!(s.zimbra_host, "zcs.example.com");
    /// assert_eq!(s.foreign_hosts, ["ex.example.com"]);
    /// assert_eq!(s.homes, Some(vec![Home::Primary, Home::Secondary(0)]));
    /// ```
    pub fn from_directory(dir: &Directory, domain: &str) -> Self {
        let own = super::blocks::mail_hosts(dir);
        let servers: Vec<String> = dir
            .servers()
            .map(|s| s.service_hostname().to_ascii_lowercase())
            .collect();
        let mut users = Vec::new();
        let mut foreign_of = Vec::new();
        for a in dir
            .accounts()
            .filter(|a| a.name.domain().as_str().eq_ignore_ascii_case(domain))
        {
            let host = a.transport().ok().flatten().and_then(|t| {
                let h = t.host()?.to_ascii_lowercase();
                let smtp = matches!(t.name(), "smtp" | "relay");
                (smtp && !servers.contains(&h)).then_some(h)
            });
            users.push(a.name.to_string());
            foreign_of.push(host);
        }
        let mut hosts: Vec<String> = foreign_of.iter().flatten().cloned().collect();
        hosts.sort();
        hosts.dedup();
        let homes = foreign_of
            .iter()
            .map(|h| match h {
                Some(h) => Home::Secondary(hosts.iter().position(|x| x == h).unwrap_or(0)),
                None => Home::Primary,
            })
            .collect();
        let mut spec = SplitWorldSpec::new(domain, users);
        if let Some(h) = own.into_iter().next() {
            spec.zimbra_host = h;
        }
        if !hosts.is_empty() {
            spec.foreign_hosts = hosts;
        }
        spec.homes = Some(homes);
        spec.moves = false;
        spec
    }

    /// The same spec with foreign MTAs at `hosts`.
    pub fn with_foreign_hosts<S: Into<String>>(
        mut self,
        hosts: impl IntoIterator<Item = S>,
    ) -> Self {
        self.foreign_hosts = hosts.into_iter().map(Into::into).collect();
        self
    }

    /// The same spec with the Zimbra MTA named `name` at `host`.
    pub fn with_zimbra(mut self, name: &str, host: &str) -> Self {
        self.zimbra_name = name.into();
        self.zimbra_host = host.into();
        self
    }
}

/// A foreign MTA of a [`SplitWorld`]: its behaviour (mailboxes are filled in from the
/// world's homes when the topology is built).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignSite {
    /// Its name in the topology (`foreign0`, ...).
    pub name: String,
    /// Its host name.
    pub host: String,
    /// What it does (drawn by [`foreign_mta`]; `mailboxes` empty here).
    pub behaviour: ForeignMta,
}

/// A split domain around the user's Zimbra: where each user's mailbox was, who moved to
/// Zimbra (in order), the foreign MTAs' behaviour and DNS. Build the topology with the user's
/// own directory ([`SplitWorld::topology`]) or script ([`SplitWorld::topology_from_script`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitWorld {
    /// The shared domain.
    pub domain: String,
    /// The Zimbra MTA's name.
    pub zimbra_name: String,
    /// The Zimbra MTA's host.
    pub zimbra_host: String,
    /// Every user and where its mailbox was before the moves ([`Home::Primary`]: Zimbra,
    /// [`Home::Secondary`]`(n)`: foreign MTA `n`).
    pub initial: Vec<(String, Home)>,
    /// Users moved from a foreign MTA to Zimbra, in order (their foreign mailbox removed).
    pub moved: Vec<String>,
    /// The foreign MTAs.
    pub foreign: Vec<ForeignSite>,
    /// MX records of the domain: (preference, host).
    pub mx: Vec<(u16, String)>,
}

impl SplitWorld {
    /// Where each user's mailbox is now (after [`SplitWorld::moved`]).
    pub fn homes(&self) -> Vec<(&str, Home)> {
        self.initial
            .iter()
            .map(|(u, h)| {
                let moved = self.moved.iter().any(|m| m.eq_ignore_ascii_case(u));
                (u.as_str(), if moved { Home::Primary } else { *h })
            })
            .collect()
    }

    /// The users whose mailbox is on Zimbra now.
    pub fn zimbra_users(&self) -> Vec<&str> {
        self.users_at(Home::Primary)
    }

    /// The users whose mailbox is on a foreign MTA now, with that MTA's host.
    pub fn foreign_users(&self) -> Vec<(&str, &str)> {
        self.homes()
            .into_iter()
            .filter_map(|(u, h)| match h {
                Home::Secondary(n) => Some((u, self.foreign.get(n)?.host.as_str())),
                Home::Primary => None,
            })
            .collect()
    }

    fn users_at(&self, home: Home) -> Vec<&str> {
        self.homes()
            .into_iter()
            .filter(|(_, h)| *h == home)
            .map(|(u, _)| u)
            .collect()
    }

    /// The world after the first `k` moves only (`after(0)`: before the migration started).
    pub fn after(&self, k: usize) -> SplitWorld {
        let mut w = self.clone();
        w.moved.truncate(k);
        w
    }

    /// The topology: Zimbra reading `zimbra` (the user's directory, `mynetworks` extended by
    /// the world's network 10.0.0.0/24), the foreign MTAs holding their users' mailboxes, A
    /// records in 10.0.0.0/24 (Zimbra `.1`, foreign `n` at `.n+2`) and the MX records.
    pub fn topology(&self, zimbra: &Directory) -> Topology {
        let mut t = Topology::new();
        let _ = t.add(Mta::zimbra(
            &self.zimbra_name,
            &self.zimbra_host,
            zimbra,
            |p| p.mynetworks.push(NETWORK.into()),
        ));
        t.dns.a.insert(
            self.zimbra_host.to_ascii_lowercase(),
            vec!["10.0.0.1".into()],
        );
        let homes = self.homes();
        for (n, site) in self.foreign.iter().enumerate() {
            let mut f = site.behaviour.clone();
            f.mailboxes = homes
                .iter()
                .filter(|(_, h)| *h == Home::Secondary(n))
                .map(|(u, _)| u.to_string())
                .collect();
            let _ = t.add(Mta::foreign(&site.name, &site.host, f));
            t.dns.a.insert(
                site.host.to_ascii_lowercase(),
                vec![format!("10.0.0.{}", n + 2)],
            );
        }
        t.dns.mx.insert(self.domain.clone(), self.mx.clone());
        t
    }

    /// The topology with Zimbra's directory built by the user's zmprov `script` (see
    /// [`SplitWorld::topology`]); the script's error otherwise.
    pub fn topology_from_script(&self, script: &str) -> Result<Topology, ZmprovError> {
        let mut dir = Directory::new();
        zmprov::run(&mut dir, script)?;
        Ok(self.topology(&dir))
    }

    /// Where mail for the domain can enter `topo` (built from this world).
    pub fn entry_points(&self, topo: &Topology) -> Vec<EntryPoint> {
        crate::verify::entry_points(topo, &self.domain)
    }

    /// A readable description for failure messages.
    pub fn describe(&self) -> String {
        let mut s = format!("domain {} (zimbra {})\n", self.domain, self.zimbra_host);
        for (u, h) in &self.initial {
            s.push_str(&format!("  {u}: {h:?}\n"));
        }
        s.push_str(&format!("moved {:?}\nmx {:?}\n", self.moved, self.mx));
        for f in &self.foreign {
            let b = &f.behaviour;
            s.push_str(&format!(
                "{} ({}): unknown {} -> {:?}, relayhost {:?}\n",
                f.name, f.host, b.unknown, b.unknown_relay, b.relayhost
            ));
        }
        s
    }
}

/// The network the world's MTAs live in (Zimbra trusts it).
const NETWORK: &str = "10.0.0.0/24";

/// Split domains around the user's Zimbra: each user of `spec` starts on Zimbra or on one
/// of the foreign MTAs (or where [`SplitWorldSpec::homes`] says); any of the foreign users
/// moved to Zimbra, in any order (unless [`SplitWorldSpec::moves`] is off); each foreign
/// MTA rejects, relays to Zimbra or bounces unknown recipients and may use Zimbra as smart
/// host ([`foreign_mta`]); the MX records point at any non-empty set of the MTAs, with
/// preference 10 or 20.
///
/// The user's setup code then writes Zimbra's side for the drawn homes, and the property
/// routes through the result. Here a setup that makes Zimbra authoritative (an account for
/// every user, `zimbraMailTransport smtp:HOST` for those still on a foreign MTA) never loops,
/// whatever the foreign side does:
///
/// ```
/// use proptest::prelude::*;
/// use zimbra_prov::strategy::{split_world, SplitWorldSpec};
/// use zimbra_prov::verify::{check, FindingKind};
///
/// /// The setup function under test: the user's own zmprov lines.
/// fn my_setup(domain: &str, zimbra_users: &[&str], foreign_users: &[(&str, &str)]) -> String {
///     let mut s = format!("cs mail.{domain}\ncd {domain}\n");
///     for u in zimbra_users {
///         s += &format!("ca {u} changeme\n");
///     }
///     for (u, host) in foreign_users {
///         s += &format!("ca {u} changeme zimbraMailTransport smtp:{host}:25\n");
///     }
///     s
/// }
///
/// proptest! {
///     #![proptest_config(ProptestConfig::with_cases(8))]
///     // in a test file this function would carry #[test]
///     fn my_setup_never_loops(w in split_world(SplitWorldSpec::new("example.com", ["ann", "bob", "cy"]))) {
///         let script = my_setup(&w.domain, &w.zimbra_users(), &w.foreign_users());
///         let topo = w.topology_from_script(&script).unwrap();
///         // route every user from every entry point
///         for e in w.entry_points(&topo) {
///             for (u, _) in w.homes() {
///                 let trace = e.simulate(&topo, u).unwrap();
///                 prop_assert!(trace.leaves().iter().all(|l| l.disposition.outcome() != "looped"),
///                              "{}\n{}", w.describe(), trace.to_text());
///             }
///         }
///         // and let verify try every address class
///         let report = check(&topo);
///         prop_assert_eq!(report.count(FindingKind::Loop), 0, "{}\n{}", w.describe(), report.to_text());
///     }
/// }
/// # my_setup_never_loops();
/// ```
pub fn split_world(spec: SplitWorldSpec) -> impl Strategy<Value = SplitWorld> {
    let n_foreign = spec.foreign_hosts.len();
    let n_users = spec.users.len();
    let relay = vec![spec.zimbra_host.clone()];
    let domain = vec![spec.domain.clone()];
    let sites: Vec<BoxedStrategy<ForeignSite>> = spec
        .foreign_hosts
        .iter()
        .enumerate()
        .map(|(n, host)| {
            let host = host.clone();
            foreign_mta(domain.clone(), Vec::new(), relay.clone())
                .prop_map(move |behaviour| ForeignSite {
                    name: format!("foreign{n}"),
                    host: host.clone(),
                    behaviour,
                })
                .boxed()
        })
        .collect();
    // MX candidates: Zimbra, then the foreign hosts
    let mut mx_hosts = vec![spec.zimbra_host.clone()];
    mx_hosts.extend(spec.foreign_hosts.iter().cloned());
    let mx = prop::sample::subsequence(mx_hosts.clone(), 1..=mx_hosts.len())
        .prop_flat_map(|hosts| {
            let n = hosts.len();
            (
                Just(hosts),
                prop::collection::vec(prop::sample::select(vec![10u16, 20]), n),
            )
        })
        .prop_map(|(hosts, prefs)| {
            prefs
                .into_iter()
                .zip(hosts)
                .map(|(p, h)| (p, h.to_ascii_lowercase()))
                .collect::<Vec<_>>()
        });
    let homes = match &spec.homes {
        Some(fixed) => {
            let mut fixed = fixed.clone();
            fixed.resize(n_users, Home::Primary);
            Just(fixed).boxed()
        }
        None => prop::collection::vec(prop::option::of(0..n_foreign.max(1)), n_users)
            .prop_map(move |v| {
                v.into_iter()
                    .map(|h| match h {
                        Some(n) if n < n_foreign => Home::Secondary(n),
                        _ => Home::Primary,
                    })
                    .collect::<Vec<_>>()
            })
            .boxed(),
    };
    let draw_moves = spec.moves;
    let users = spec.users.clone();
    (homes, sites, mx)
        .prop_flat_map(move |(homes, foreign, mx)| {
            let initial: Vec<(String, Home)> = users.iter().cloned().zip(homes).collect();
            let on_foreign: Vec<String> = initial
                .iter()
                .filter(|(_, h)| *h != Home::Primary)
                .map(|(u, _)| u.clone())
                .collect();
            let moved = if draw_moves {
                moves(on_foreign).boxed()
            } else {
                Just(Vec::new()).boxed()
            };
            (Just(initial), moved, Just(foreign), Just(mx))
        })
        .prop_map(move |(initial, moved, foreign, mx)| SplitWorld {
            domain: spec.domain.clone(),
            zimbra_name: spec.zimbra_name.clone(),
            zimbra_host: spec.zimbra_host.clone(),
            initial,
            moved,
            foreign,
            mx,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    #[test]
    fn worlds_cover_every_behaviour_and_build_consistent_topologies() {
        let spec = SplitWorldSpec::new("Example.com", ["ann", "bob", "cy", "dee"])
            .with_foreign_hosts(["ex1.example.com", "ex2.example.com"]);
        let strat = split_world(spec);
        let mut runner = TestRunner::deterministic();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..60 {
            let w = strat.new_tree(&mut runner).unwrap().current();
            let topo = w.topology(&Directory::new());
            assert_eq!(topo.mtas().len(), 3);
            assert!(!w.mx.is_empty());
            // a moved user is on Zimbra now and was on a foreign MTA
            for m in &w.moved {
                assert!(w.zimbra_users().contains(&m.as_str()));
                assert!(w.after(0).foreign_users().iter().any(|(u, _)| u == m));
            }
            // every foreign mailbox is a user homed there now
            for (u, host) in w.foreign_users() {
                let i = topo.find_host(host).unwrap();
                let crate::route::MtaKind::Foreign(f) = &topo.mtas()[i].kind else {
                    panic!("{host} is not foreign")
                };
                assert!(f.mailboxes.iter().any(|b| b == u));
            }
            for f in &w.foreign {
                seen.insert(f.behaviour.unknown.to_string());
                seen.insert(format!("smart host {}", f.behaviour.relayhost.is_some()));
            }
            seen.insert(format!("moved {}", w.moved.len().min(2)));
            seen.insert(format!("mx {}", w.mx.len().min(2)));
        }
        for want in [
            "reject",
            "relay",
            "bounce",
            "smart host true",
            "smart host false",
            "moved 0",
            "moved 1",
            "moved 2",
            "mx 1",
            "mx 2",
        ] {
            assert!(seen.contains(want), "never drew {want}: {seen:?}");
        }
    }

    #[test]
    fn a_bad_script_is_the_scripts_error() {
        let w = split_world(SplitWorldSpec::new("example.com", ["ann"]))
            .new_tree(&mut TestRunner::deterministic())
            .unwrap()
            .current();
        let err = w
            .topology_from_script("cd example.com\ncd example.com\n")
            .unwrap_err();
        assert!(err.to_string().starts_with("line 2:"), "{err}");
    }
}
