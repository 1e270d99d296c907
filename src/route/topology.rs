//! MTAs, DNS and the directories they read.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::decide::{ZimbraMta, ZimbraParams};
use super::RouteError;
use crate::model::Directory;

/// What a foreign MTA does with an unknown recipient of one of its domains.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum UnknownPolicy {
    /// Refuse at RCPT time (`550 5.1.1 User unknown`).
    #[default]
    Reject,
    /// Relay to `unknown_relay` (or the relay host): a split-domain secondary.
    Relay,
    /// Accept, then bounce (`5.1.1`).
    Bounce,
}

/// A table-driven non-Zimbra MTA (Exchange, Sendmail, an MTA head or mail filter, a provider).
///
/// Its decision for a recipient, in order: an address rewrite (`aliases`, one level, like an MTA
/// head's user lookup); a per-address route; a mailbox of one of its domains
/// (delivered); an unknown recipient of its domains ([`UnknownPolicy`]); a per-domain route; the
/// relay host; else the recipient domain (MX lookup when `dns_lookups`).
///
/// [`ForeignMta::default`] is an MTA with no domains, mailboxes or tables that rejects unknown
/// recipients of its domains, looks up MX records and has Postfix's hop limit of 50 — the values
/// the scenario loader uses for keys a file leaves out:
///
/// ```
/// use zimbra_prov::route::{ForeignMta, UnknownPolicy};
/// let f = ForeignMta { domains: vec!["example.org".into()], ..ForeignMta::default() };
/// assert_eq!(f.hopcount_limit, 50);
/// assert!(f.dns_lookups);
/// assert_eq!(f.unknown, UnknownPolicy::Reject);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignMta {
    /// Domains it considers its own (lower case).
    pub domains: Vec<String>,
    /// Addresses it holds mailboxes for (compared case-insensitively).
    pub mailboxes: Vec<String>,
    /// Address rewrites applied first: address → new address (case-insensitive keys).
    pub aliases: BTreeMap<String, String>,
    /// Per-address and per-domain routes: key → next hop (`host`, `[host]:port`, `smtp:host`).
    pub routes: BTreeMap<String, String>,
    /// Unknown recipients of its domains.
    pub unknown: UnknownPolicy,
    /// Where [`UnknownPolicy::Relay`] sends them (default: `relayhost`).
    pub unknown_relay: Option<String>,
    /// Smart host for everything else.
    pub relayhost: Option<String>,
    /// MX lookups for next hops (default on).
    pub dns_lookups: bool,
    /// Hop limit (Received headers); 50 unless set.
    pub hopcount_limit: u32,
}

/// Postfix's default `hopcount_limit`.
pub const DEFAULT_HOPCOUNT_LIMIT: u32 = 50;

impl Default for ForeignMta {
    fn default() -> Self {
        ForeignMta {
            domains: Vec::new(),
            mailboxes: Vec::new(),
            aliases: BTreeMap::new(),
            routes: BTreeMap::new(),
            unknown: UnknownPolicy::default(),
            unknown_relay: None,
            relayhost: None,
            dns_lookups: true,
            hopcount_limit: DEFAULT_HOPCOUNT_LIMIT,
        }
    }
}

/// The kind of an MTA.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum MtaKind {
    /// A Zimbra MTA: Postfix reading a Zimbra directory.
    Zimbra(Box<ZimbraMta>),
    /// Anything else, table-driven.
    Foreign(ForeignMta),
}

/// One MTA of the topology.
#[derive(Debug, Clone)]
pub struct Mta {
    /// Short name (scenario key).
    pub name: String,
    /// Its host name (how others reach it).
    pub hostname: String,
    /// What it is.
    pub kind: MtaKind,
}

impl Mta {
    /// A Zimbra MTA `hostname` reading `dir` with zmconfigd's parameters, adjusted by `tweak`.
    /// The MTA keeps a copy of `dir` (see [`ZimbraMta::directory`]), so that the topology can be
    /// saved as a scenario file; [`Mta::zimbra_shared`] shares one copy between MTAs.
    pub fn zimbra(
        name: &str,
        hostname: &str,
        dir: &Directory,
        tweak: impl FnOnce(&mut ZimbraParams),
    ) -> Mta {
        Mta::zimbra_shared(name, hostname, Arc::new(dir.clone()), tweak)
    }

    /// [`Mta::zimbra`] with a directory several MTAs (or the caller) share instead of a copy.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use zimbra_prov::model::Directory;
    /// use zimbra_prov::route::{Mta, MtaKind};
    /// let mut dir = Directory::new();
    /// zimbra_prov::zmprov::run(&mut dir, "cs a.example.org\ncs b.example.org").unwrap();
    /// let dir = Arc::new(dir);
    /// let a = Mta::zimbra_shared("a", "a.example.org", dir.clone(), |_| {});
    /// let b = Mta::zimbra_shared("b", "b.example.org", dir.clone(), |p| p.hopcount_limit = 20);
    /// let MtaKind::Zimbra(z) = &b.kind else { unreachable!() };
    /// assert!(Arc::ptr_eq(z.directory().unwrap(), &dir));
    /// assert_eq!(z.params.hopcount_limit, 20);
    /// # let _ = a;
    /// ```
    pub fn zimbra_shared(
        name: &str,
        hostname: &str,
        dir: Arc<Directory>,
        tweak: impl FnOnce(&mut ZimbraParams),
    ) -> Mta {
        let mut params = ZimbraParams::from_directory(&dir, hostname);
        tweak(&mut params);
        Mta {
            name: name.to_string(),
            hostname: hostname.to_string(),
            kind: MtaKind::Zimbra(Box::new(ZimbraMta::with_directory(dir, params))),
        }
    }

    /// A foreign MTA.
    pub fn foreign(name: &str, hostname: &str, f: ForeignMta) -> Mta {
        Mta {
            name: name.to_string(),
            hostname: hostname.to_string(),
            kind: MtaKind::Foreign(f),
        }
    }

    /// The hop limit of this MTA.
    pub fn hopcount_limit(&self) -> u32 {
        match &self.kind {
            MtaKind::Zimbra(z) => z.params.hopcount_limit,
            MtaKind::Foreign(f) => f.hopcount_limit,
        }
    }

    /// Whether this MTA looks up MX records for next hops.
    pub fn dns_lookups(&self) -> bool {
        match &self.kind {
            MtaKind::Zimbra(z) => z.params.dns_lookups,
            MtaKind::Foreign(f) => f.dns_lookups,
        }
    }
}

/// DNS as the simulation sees it (one view for everybody): MX and A records. Names are lower
/// case. A name with no record here is outside the topology.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dns {
    /// MX records: domain → (preference, host).
    pub mx: BTreeMap<String, Vec<(u16, String)>>,
    /// A/AAAA records (or /etc/hosts): host → addresses.
    pub a: BTreeMap<String, Vec<String>>,
}

impl Dns {
    /// Parse an MX value `"10 host"`.
    pub fn parse_mx(s: &str) -> Result<(u16, String), RouteError> {
        let mut it = s.split_whitespace();
        let bad = || RouteError::Dns {
            record: s.to_string(),
            reason: "expected \"PREFERENCE HOST\"".into(),
        };
        let pref = it.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let host = it.next().ok_or_else(bad)?;
        if it.next().is_some() {
            return Err(bad());
        }
        Ok((pref, host.trim_end_matches('.').to_ascii_lowercase()))
    }

    /// The MX records of `domain`, best first.
    pub fn mx_of(&self, domain: &str) -> Option<Vec<(u16, String)>> {
        let mut v = self.mx.get(&domain.to_ascii_lowercase())?.clone();
        v.sort();
        Some(v)
    }

    /// The addresses of `host` (an address literal is its own address).
    pub fn addresses(&self, host: &str) -> Vec<String> {
        let h = host.trim_start_matches("ipv6:");
        if h.parse::<IpAddr>().is_ok() {
            return vec![h.to_string()];
        }
        self.a
            .get(&host.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default()
    }
}

/// MTAs and DNS: everything a simulation needs.
///
/// ```
/// use zimbra_prov::model::Directory;
/// use zimbra_prov::route::{Mta, Topology};
/// let dir = Directory::new();
/// let mut t = Topology::new();
/// t.add(Mta::zimbra("zcs", "mx.example.org", &dir, |_| {})).unwrap();
/// assert!(t.add(Mta::zimbra("zcs", "other.example.org", &dir, |_| {})).is_err());
/// assert_eq!(t.find_host("MX.example.org"), Some(0));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Topology {
    mtas: Vec<Mta>,
    /// DNS.
    pub dns: Dns,
}

impl Topology {
    /// An empty topology.
    pub fn new() -> Self {
        Topology::default()
    }

    /// Add an MTA; names must be unique.
    pub fn add(&mut self, mta: Mta) -> Result<(), RouteError> {
        if self.mtas.iter().any(|m| m.name == mta.name) {
            return Err(RouteError::DuplicateMta { name: mta.name });
        }
        self.mtas.push(mta);
        Ok(())
    }

    /// The MTAs, in the order added.
    pub fn mtas(&self) -> &[Mta] {
        &self.mtas
    }

    /// The MTA named `name`.
    pub fn mta(&self, name: &str) -> Option<&Mta> {
        self.mtas.iter().find(|m| m.name == name)
    }

    /// Index of the MTA named `name`.
    pub fn mta_index(&self, name: &str) -> Option<usize> {
        self.mtas.iter().position(|m| m.name == name)
    }

    /// The MTA reached at `host`: by host name, else by address (A records / literal).
    pub fn find_host(&self, host: &str) -> Option<usize> {
        let h = host.trim_end_matches('.');
        if let Some(i) = self
            .mtas
            .iter()
            .position(|m| m.hostname.eq_ignore_ascii_case(h))
        {
            return Some(i);
        }
        let addrs = self.dns.addresses(h);
        if addrs.is_empty() {
            return None;
        }
        self.mtas.iter().position(|m| {
            self.dns
                .addresses(&m.hostname)
                .iter()
                .any(|a| addrs.contains(a))
        })
    }

    /// The first way `other` differs from `self` as a simulation sees it, in words; `None` when
    /// they are the same topology: the same MTAs in the same order (names, host names, kinds),
    /// equal foreign tables, equal Zimbra parameters, directories with the same entries in the
    /// same creation order ([`crate::dit::entries`]: DNs and attributes), and the same DNS.
    ///
    /// ```
    /// use zimbra_prov::model::Directory;
    /// use zimbra_prov::route::{Mta, Topology};
    /// let mut dir = Directory::new();
    /// zimbra_prov::zmprov::run(&mut dir, "cs mx.example.org\ncd example.org").unwrap();
    /// let mut a = Topology::new();
    /// a.add(Mta::zimbra("zcs", "mx.example.org", &dir, |_| {})).unwrap();
    /// let mut b = a.clone();
    /// assert_eq!(a.difference(&b), None);
    /// b.dns.a.insert("mx.example.org".into(), vec!["192.0.2.1".into()]);
    /// assert_eq!(a.difference(&b).unwrap(), "DNS differs");
    /// ```
    pub fn difference(&self, other: &Topology) -> Option<String> {
        if self.mtas.len() != other.mtas.len() {
            return Some(format!(
                "{} MTAs against {}",
                self.mtas.len(),
                other.mtas.len()
            ));
        }
        for (a, b) in self.mtas.iter().zip(&other.mtas) {
            if a.name != b.name || a.hostname != b.hostname {
                return Some(format!(
                    "MTA {:?} ({}) against {:?} ({})",
                    a.name, a.hostname, b.name, b.hostname
                ));
            }
            let what = match (&a.kind, &b.kind) {
                (MtaKind::Foreign(x), MtaKind::Foreign(y)) => {
                    (x != y).then(|| "foreign tables differ".to_string())
                }
                (MtaKind::Zimbra(x), MtaKind::Zimbra(y)) => zimbra_difference(x, y),
                _ => Some("kind differs".to_string()),
            };
            if let Some(w) = what {
                return Some(format!("MTA {:?}: {w}", a.name));
            }
        }
        (self.dns != other.dns).then(|| "DNS differs".to_string())
    }

    /// Whether a client at MTA `from` is in the `mynetworks` of Zimbra MTA `to`.
    pub fn trusted(&self, from: usize, to: usize) -> bool {
        let (Some(f), Some(t)) = (self.mtas.get(from), self.mtas.get(to)) else {
            return false;
        };
        if from == to {
            return true;
        }
        let MtaKind::Zimbra(z) = &t.kind else {
            return false;
        };
        let addrs = self.dns.addresses(&f.hostname);
        z.params.mynetworks.iter().any(|net| {
            net.eq_ignore_ascii_case(&f.hostname) || addrs.iter().any(|a| in_network(a, net))
        })
    }
}

fn zimbra_difference(x: &ZimbraMta, y: &ZimbraMta) -> Option<String> {
    if x.params != y.params {
        return Some(format!(
            "parameters differ: {:?} against {:?}",
            x.params, y.params
        ));
    }
    let (Some(dx), Some(dy)) = (x.directory(), y.directory()) else {
        return Some("a directory that was not kept (ZimbraMta::new)".into());
    };
    if Arc::ptr_eq(dx, dy) {
        return None;
    }
    match (crate::dit::entries(dx), crate::dit::entries(dy)) {
        (Ok(ex), Ok(ey)) if ex == ey => None,
        (Ok(ex), Ok(ey)) => Some(match ex.iter().zip(&ey).position(|(a, b)| a != b) {
            Some(i) => format!("directory entry {} differs: {}", i + 1, ex[i].dn),
            None => format!("{} directory entries against {}", ex.len(), ey.len()),
        }),
        (Err(e), _) | (_, Err(e)) => Some(format!("directory: {e}")),
    }
}

/// Whether address `a` lies in `net` (`192.0.2.0/24`, `[2001:db8::]/32`, or a single address).
pub fn in_network(a: &str, net: &str) -> bool {
    let Ok(ip) = a.parse::<IpAddr>() else {
        return false;
    };
    let net = net.replace(['[', ']'], "");
    let (base, len) = match net.split_once('/') {
        Some((b, l)) => (b.to_string(), l.parse::<u32>().ok()),
        None => (net.clone(), None),
    };
    let Ok(base) = base.parse::<IpAddr>() else {
        return false;
    };
    match (ip, base) {
        (IpAddr::V4(x), IpAddr::V4(y)) => {
            let len = len.unwrap_or(32).min(32);
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            (u32::from(x) & mask) == (u32::from(y) & mask)
        }
        (IpAddr::V6(x), IpAddr::V6(y)) => {
            let len = len.unwrap_or(128).min(128);
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            (u128::from(x) & mask) == (u128::from(y) & mask)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        assert!(in_network("10.0.0.7", "10.0.0.0/24"));
        assert!(!in_network("10.0.1.7", "10.0.0.0/24"));
        assert!(in_network("10.0.1.7", "10.0.1.7"));
        assert!(in_network("2001:db8::1", "[2001:db8::]/32"));
        assert!(!in_network("x", "10.0.0.0/8"));
        assert!(in_network("1.2.3.4", "0.0.0.0/0"));
    }

    #[test]
    fn foreign_defaults_are_the_documented_ones() {
        let f = ForeignMta::default();
        assert_eq!(f.hopcount_limit, 50);
        assert!(f.dns_lookups);
        assert_eq!(f.unknown, UnknownPolicy::Reject);
        assert!(f.relayhost.is_none() && f.unknown_relay.is_none());
        assert!(f.domains.is_empty() && f.mailboxes.is_empty());
        assert!(f.aliases.is_empty() && f.routes.is_empty());
        // the scenario loader fills left-out keys with the same values
        let sc = crate::scenario::Scenario::parse(
            "[[mta]]\nname = \"f\"\nkind = \"foreign\"\nhostname = \"f.example\"\n",
            "f.toml",
            &Default::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let MtaKind::Foreign(loaded) = &sc.stages[0].topology.mtas()[0].kind else {
            panic!("foreign MTA expected");
        };
        assert_eq!(*loaded, f);
        assert!(Dns::default().mx.is_empty() && Topology::default().mtas().is_empty());
    }

    #[test]
    fn mx_parse() {
        assert_eq!(
            Dns::parse_mx("10 MX.example.org.").unwrap(),
            (10, "mx.example.org".into())
        );
        assert!(Dns::parse_mx("mx.example.org").is_err());
        assert!(Dns::parse_mx("10 a b").is_err());
    }
}
