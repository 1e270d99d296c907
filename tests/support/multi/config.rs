//! From a simulated [`Topology`] to real instances: one [`InstanceSpec`] per MTA and the DNS
//! zones, in the loopback address plan of [`super::net`].
//!
//! - **Zimbra MTA**: main.cf from the MTA's [`zimbra_prov::route::ZimbraParams`] (what
//!   zmconfigd writes for its directory, with the scenario's overrides) — `myhostname`,
//!   `myorigin`, `mydestination`, `relayhost`, `recipient_delimiter`,
//!   `smtp_dns_support_level`, `propagate_unmatched_extensions`, `virtual_transport`, the
//!   expansion limits, `hopcount_limit`, Zimbra's `smtpd_recipient_restrictions` (with the
//!   split-domain check and `reject` when `zimbraMtaRestriction` holds them) — and Zimbra's six
//!   routing maps reading its own slapd. master.cf defines exactly the transports the MTA
//!   knows; `lmtp`, `local` and `virtual` are discard(8) (no mailbox server runs: delivery is
//!   logged with the LMTP next hop).
//! - **`mynetworks`** is translated from the scenario's address space: an MTA is trusted when
//!   a `mynetworks` entry names its host or contains one of its scenario A addresses; it is then
//!   listed by its loopback address. The Internet's senders are never inside.
//! - **Foreign MTA**: the simulator's decision order as Postfix tables — `virtual_alias_maps`
//!   (aliases), `transport_maps` (per-address routes; a mailbox of one of its domains to a
//!   discard(8) `mailbox` service; per-domain routes of other domains; its own domains'
//!   unknown-user policy: relay to the unknown relay or relay host, or `error:5.1.1`),
//!   `relay_domains` (its domains, matched exactly: `parent_domain_matches_subdomains` without
//!   `relay_domains`), `relay_recipient_maps` listing mailboxes, aliases and routed addresses
//!   when unknown users are refused (otherwise `smtpd_reject_unlisted_recipient = no`: smtpd's
//!   check refuses an address whose transport is `error:` at RCPT, and a foreign MTA that
//!   bounces unknown users accepts them first), `relayhost`, DNS lookups, hop limit. It relays
//!   for anyone
//!   (`mynetworks = 127.0.0.0/8`), as the simulator's foreign MTAs do.
//! - **DNS**: the scenario's MX records; every MTA host name has the MTA's loopback address; a
//!   name with a scenario A record that an MTA's host name also has is that MTA; every other
//!   name is the sink ("the rest of the Internet", a wildcard). The fallback view is the same
//!   with the best-preference hosts of every domain that has lower-preference MX hosts made
//!   unreachable.
//! - Ports in next hops are dropped (every MTA listens on 25; the simulator ignores ports).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::PathBuf;

use zimbra_prov::route::{ForeignMta, MtaKind, Topology, UnknownPolicy, ZimbraParams};

use super::dns::Zone;
use super::instance::{InstanceSpec, Role};
use super::net::{mta_slot, DOWN_IP, SINK_IP};

/// Whether scenario address `a` lies in `net` (`10.0.0.0/24`, an address, IPv4 only).
fn in_net(a: &str, net: &str) -> bool {
    let Ok(ip) = a.parse::<Ipv4Addr>() else {
        return false;
    };
    let (base, len) = match net.trim_matches(['[', ']']).split_once('/') {
        Some((b, l)) => (b, l.parse::<u32>().unwrap_or(33)),
        None => (net, 32),
    };
    let Ok(base) = base.parse::<Ipv4Addr>() else {
        return false;
    };
    if len > 32 {
        return false;
    }
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    u32::from(ip) & mask == u32::from(base) & mask
}

/// `smtp:[host]:25` → `smtp:[host]`, `host:2525` → `host`: the next hop without its port.
pub fn without_port(nexthop: &str) -> String {
    let (prefix, rest) = match nexthop.split_once(':') {
        Some((t, r))
            if matches!(
                t.to_ascii_lowercase().as_str(),
                "smtp" | "esmtp" | "relay" | "lmtp"
            ) =>
        {
            (format!("{t}:"), r)
        }
        _ => (String::new(), nexthop),
    };
    let host = if let Some(inner) = rest.strip_prefix('[') {
        format!("[{}]", inner.split(']').next().unwrap_or(""))
    } else {
        rest.split(':').next().unwrap_or("").to_string()
    };
    format!("{prefix}{host}")
}

/// A next hop as a Postfix transport (`smtp:` + the host, port dropped).
fn smtp_transport(nexthop: &str) -> String {
    let nh = without_port(nexthop);
    match nh.split_once(':') {
        Some((_, host)) => format!("smtp:{host}"),
        None => format!("smtp:{nh}"),
    }
}

/// The loopback address of MTA number `i` of `topo` (see [`mta_slot`]).
pub fn mta_ip(topo: &Topology, i: usize) -> Ipv4Addr {
    let zimbra = |m: &zimbra_prov::route::Mta| matches!(m.kind, MtaKind::Zimbra(_));
    let mtas = topo.mtas();
    let me = mtas.get(i).is_some_and(zimbra);
    let k = mtas.iter().take(i).filter(|m| zimbra(m) == me).count();
    mta_slot(me, k)
}

/// The loopback `mynetworks` of the Zimbra MTA `at`: itself, and every MTA its scenario
/// `mynetworks` covers.
pub fn translate_mynetworks(topo: &Topology, at: usize, nets: &[String]) -> Vec<String> {
    let mut out = vec![format!("{}/32", mta_ip(topo, at))];
    for (i, m) in topo.mtas().iter().enumerate() {
        if i == at {
            continue;
        }
        let addrs = topo.dns.addresses(&m.hostname);
        let covered = nets.iter().any(|net| {
            net.eq_ignore_ascii_case(&m.hostname) || addrs.iter().any(|a| in_net(a, net))
        });
        if covered {
            out.push(format!("{}/32", mta_ip(topo, i)));
        }
    }
    out
}

/// master.cf services for a list of transport names.
fn services(transports: &[String]) -> String {
    let mut s = String::new();
    for t in transports {
        let line = match t.as_str() {
            "smtp" => "smtp unix - - n - - smtp".to_string(),
            "error" | "retry" | "discard" => format!(
                "{t} unix - - n - - {}",
                if t == "discard" { "discard" } else { "error" }
            ),
            "lmtp" | "local" | "virtual" | "mailbox" => {
                format!("{t} unix - n n - - discard -o syslog_name=postfix/{t}-sink")
            }
            other => format!("{other} unix - - n - - smtp -o syslog_name=postfix/{other}"),
        };
        s.push_str(&line);
        s.push('\n');
    }
    s
}

fn dns_level(lookups: bool) -> &'static str {
    if lookups {
        "enabled"
    } else {
        "disabled"
    }
}

/// The spec of Zimbra MTA number `i` with parameters `p` reading `ldif`.
pub fn zimbra_spec(topo: &Topology, i: usize, p: &ZimbraParams, ldif: String) -> InstanceSpec {
    let m = &topo.mtas()[i];
    let mut propagate = Vec::new();
    if p.propagate_canonical {
        propagate.push("canonical");
    }
    if p.propagate_virtual {
        propagate.push("virtual");
    }
    let mut restrictions = vec![
        "reject_non_fqdn_recipient",
        "permit_sasl_authenticated",
        "permit_mynetworks",
        "reject_unlisted_recipient",
        "reject_invalid_helo_hostname",
        "reject_non_fqdn_sender",
    ];
    if p.split_domain_check {
        restrictions.push("check_recipient_access ldap:{P}/ldap-splitdomain.cf");
    }
    if p.reject_rest {
        restrictions.push("reject");
    }
    restrictions.push("permit");
    let kv = |k: &str, v: String| (k.to_string(), v);
    let main = vec![
        kv("myorigin", p.myorigin.clone()),
        kv("mydestination", p.mydestination.join(", ")),
        kv(
            "mynetworks",
            translate_mynetworks(topo, i, &p.mynetworks).join(" "),
        ),
        kv(
            "relayhost",
            p.relayhost.as_deref().map(without_port).unwrap_or_default(),
        ),
        kv("recipient_delimiter", p.recipient_delimiter.clone()),
        kv("smtp_dns_support_level", dns_level(p.dns_lookups).into()),
        kv("canonical_maps", "ldap:{P}/ldap-canonical.cf".into()),
        kv("transport_maps", "ldap:{P}/ldap-transport.cf".into()),
        kv("virtual_alias_domains", "ldap:{P}/ldap-vad.cf".into()),
        kv("virtual_alias_maps", "ldap:{P}/ldap-vam.cf".into()),
        kv("virtual_mailbox_domains", "ldap:{P}/ldap-vmd.cf".into()),
        kv("virtual_mailbox_maps", "ldap:{P}/ldap-vmm.cf".into()),
        kv("virtual_transport", p.virtual_transport.clone()),
        kv(
            "virtual_alias_expansion_limit",
            p.virtual_alias_expansion_limit.to_string(),
        ),
        kv(
            "virtual_alias_recursion_limit",
            p.virtual_alias_recursion_limit.to_string(),
        ),
        kv("propagate_unmatched_extensions", propagate.join(", ")),
        kv("smtpd_reject_unlisted_recipient", "no".into()),
        kv("smtpd_reject_unlisted_sender", "no".into()),
        kv("smtpd_recipient_restrictions", restrictions.join(", ")),
        kv(
            "smtpd_relay_restrictions",
            "permit_sasl_authenticated, permit_mynetworks, reject_unauth_destination".into(),
        ),
        kv("hopcount_limit", p.hopcount_limit.to_string()),
    ];
    InstanceSpec {
        name: m.name.clone(),
        hostname: p.myhostname.clone(),
        ip: mta_ip(topo, i),
        role: Role::Zimbra,
        main,
        services: services(&p.transports),
        files: BTreeMap::new(),
        ldif: Some(ldif),
        old_address_filter: p.old_address_filter,
        resolv_conf: None,
    }
}

/// The spec of foreign MTA number `i`.
pub fn foreign_spec(topo: &Topology, i: usize, f: &ForeignMta) -> InstanceSpec {
    let m = &topo.mtas()[i];
    let lc = |s: &String| s.to_ascii_lowercase();
    let domains: BTreeSet<String> = f.domains.iter().map(lc).collect();
    let own = |a: &str| {
        a.rsplit_once('@')
            .is_some_and(|(_, d)| domains.contains(&d.to_ascii_lowercase()))
    };
    let mut transport: BTreeMap<String, String> = BTreeMap::new();
    for mb in f.mailboxes.iter().map(lc) {
        if own(&mb) {
            transport.insert(mb, "mailbox:".into());
        }
    }
    for (k, v) in &f.routes {
        let k = lc(k);
        if k.contains('@') || !domains.contains(&k) {
            transport.insert(k, smtp_transport(v));
        }
    }
    let unknown_target = f.unknown_relay.as_ref().or(f.relayhost.as_ref());
    for d in &domains {
        let t = match (f.unknown, unknown_target) {
            (UnknownPolicy::Relay, Some(r)) => smtp_transport(r),
            _ => "error:5.1.1 User unknown".to_string(),
        };
        transport.insert(d.clone(), t);
    }
    let mut known: BTreeSet<String> = f.mailboxes.iter().map(lc).collect();
    known.extend(f.routes.keys().map(lc).filter(|k| k.contains('@')));
    known.extend(f.aliases.keys().map(lc));
    let table = |rows: &mut dyn Iterator<Item = (String, String)>| {
        rows.map(|(k, v)| format!("{k} {v}\n")).collect::<String>()
    };
    let mut files = BTreeMap::new();
    files.insert(
        "transport".to_string(),
        table(&mut transport.clone().into_iter()),
    );
    files.insert(
        "aliases".to_string(),
        table(&mut f.aliases.iter().map(|(k, v)| (lc(k), v.clone()))),
    );
    files.insert(
        "recipients".to_string(),
        table(&mut known.into_iter().map(|k| (k, "OK".to_string()))),
    );
    let kv = |k: &str, v: String| (k.to_string(), v);
    let main = vec![
        kv("myorigin", "$myhostname".into()),
        kv("mydestination", String::new()),
        kv("mynetworks", "127.0.0.0/8".into()),
        kv(
            "parent_domain_matches_subdomains",
            "debug_peer_list, fast_flush_domains, mynetworks, permit_mx_backup_networks, qmqpd_authorized_clients, smtpd_access_maps".into(),
        ),
        kv("relay_domains", domains.iter().cloned().collect::<Vec<_>>().join(", ")),
        kv(
            "relay_recipient_maps",
            if f.unknown == UnknownPolicy::Reject {
                "texthash:{P}/recipients".into()
            } else {
                String::new()
            },
        ),
        // smtpd's unlisted-recipient check also refuses, at RCPT, an address that resolves to
        // the error transport: only a foreign MTA that refuses unknown users may have it
        kv(
            "smtpd_reject_unlisted_recipient",
            if f.unknown == UnknownPolicy::Reject { "yes" } else { "no" }.into(),
        ),
        kv("transport_maps", "texthash:{P}/transport".into()),
        kv("virtual_alias_maps", "texthash:{P}/aliases".into()),
        kv("relayhost", f.relayhost.as_deref().map(without_port).unwrap_or_default()),
        kv("smtp_dns_support_level", dns_level(f.dns_lookups).into()),
        kv("smtpd_relay_restrictions", "permit_mynetworks, reject_unauth_destination".into()),
        kv("smtpd_recipient_restrictions", "permit_mynetworks, reject_unauth_destination".into()),
        kv("hopcount_limit", f.hopcount_limit.to_string()),
    ];
    InstanceSpec {
        name: m.name.clone(),
        hostname: m.hostname.clone(),
        ip: mta_ip(topo, i),
        role: Role::Foreign,
        main,
        services: services(
            &["smtp", "relay", "error", "retry", "discard", "mailbox"].map(String::from),
        ),
        files,
        ldif: None,
        old_address_filter: false,
        resolv_conf: None,
    }
}

/// An outside sender's MTA at `ip`: relays what the test client (127.0.0.1) submits by MX
/// lookup, and removes its own `Received:` header so that the first MTA of the topology counts
/// the first hop (the simulator counts no header from the outside sender).
pub fn internet_spec(name: &str, ip: Ipv4Addr, resolv_conf: Option<PathBuf>) -> InstanceSpec {
    let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
    let mut files = BTreeMap::new();
    files.insert("header_checks".into(), "/^Received:/ IGNORE\n".into());
    InstanceSpec {
        name: name.to_string(),
        hostname: format!("{name}.harness.test"),
        ip,
        role: Role::Internet,
        main: vec![
            kv("myorigin", "$myhostname"),
            kv("mydestination", ""),
            kv("mynetworks", "127.0.0.1/32"),
            kv("relay_domains", ""),
            kv("smtpd_relay_restrictions", "permit_mynetworks, reject"),
            kv("smtpd_recipient_restrictions", "permit_mynetworks, reject"),
            kv("header_checks", "regexp:{P}/header_checks"),
            kv("smtp_dns_support_level", "enabled"),
        ],
        services: services(&["smtp", "relay", "error", "retry", "discard"].map(String::from)),
        files,
        ldif: None,
        old_address_filter: false,
        resolv_conf,
    }
}

/// Hosts the fallback view makes unreachable: the best-preference MX hosts of every domain
/// that also has lower-preference ones.
pub fn down_hosts(topo: &Topology) -> BTreeSet<String> {
    let mut down = BTreeSet::new();
    for recs in topo.dns.mx.values() {
        let prefs: BTreeSet<u16> = recs.iter().map(|(p, _)| *p).collect();
        if let (Some(best), true) = (prefs.first(), prefs.len() > 1) {
            down.extend(
                recs.iter()
                    .filter(|(p, _)| p == best)
                    .map(|(_, h)| h.to_ascii_lowercase()),
            );
        }
    }
    down
}

/// The hosts an outside sender tries for `domain` when `down` are unreachable: the first
/// preference level with a reachable host, those hosts; `None` when the domain has no MX
/// records or nothing is reachable.
pub fn fallback_hosts(
    topo: &Topology,
    domain: &str,
    down: &BTreeSet<String>,
) -> Option<Vec<String>> {
    let mx = topo.dns.mx_of(domain)?;
    let prefs: BTreeSet<u16> = mx.iter().map(|(p, _)| *p).collect();
    prefs.into_iter().find_map(|p| {
        let up: Vec<String> = mx
            .iter()
            .filter(|(q, h)| *q == p && !down.contains(&h.to_ascii_lowercase()))
            .map(|(_, h)| h.clone())
            .collect();
        (!up.is_empty()).then_some(up)
    })
}

/// The zones of the two views (normal, fallback).
pub fn zones(topo: &Topology) -> Vec<Zone> {
    let mut z = Zone {
        wildcard: Some(SINK_IP),
        ..Zone::default()
    };
    for (d, recs) in &topo.dns.mx {
        z.mx.insert(d.to_ascii_lowercase(), recs.clone());
    }
    for (name, addrs) in &topo.dns.a {
        let owner = topo.mtas().iter().position(|m| {
            m.hostname.eq_ignore_ascii_case(name)
                || topo
                    .dns
                    .addresses(&m.hostname)
                    .iter()
                    .any(|x| addrs.contains(x))
        });
        let ip = owner.map_or(SINK_IP, |i| mta_ip(topo, i));
        z.a.insert(name.to_ascii_lowercase(), vec![ip]);
    }
    for (i, m) in topo.mtas().iter().enumerate() {
        z.a.insert(m.hostname.to_ascii_lowercase(), vec![mta_ip(topo, i)]);
    }
    let mut fallback = z.clone();
    for h in down_hosts(topo) {
        fallback.a.insert(h, vec![DOWN_IP]);
    }
    vec![z, fallback]
}

/// Specs for every MTA of `topo`; `ldif(i)` gives Zimbra MTA `i`'s directory.
pub fn specs(topo: &Topology, ldif: &dyn Fn(usize) -> String) -> Vec<InstanceSpec> {
    topo.mtas()
        .iter()
        .enumerate()
        .map(|(i, m)| match &m.kind {
            MtaKind::Zimbra(z) => zimbra_spec(topo, i, &z.params, ldif(i)),
            MtaKind::Foreign(f) => foreign_spec(topo, i, f),
            _ => unreachable!("an MTA kind the multi-MTA test does not know"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use zimbra_prov::scenario::Scenario;

    fn stage(file: &str, k: usize) -> Topology {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/scenarios")
            .join(file);
        let sc = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        sc.stages[k].topology.clone()
    }

    #[test]
    fn foreign_tables_follow_the_simulators_order() {
        let topo = stage("mta_head.toml", 0);
        let i = topo.mta_index("head").unwrap();
        let MtaKind::Foreign(f) = &topo.mtas()[i].kind else {
            panic!("head is foreign")
        };
        let spec = foreign_spec(&topo, i, f);
        assert_eq!(spec.ip, Ipv4Addr::new(127, 0, 0, 100));
        assert_eq!(
            spec.files["transport"],
            "client.company.com smtp:[client.company.com]\n\
             company.com error:5.1.1 User unknown\n\
             hosting.company.com smtp:[hosting.company.com]\n"
        );
        assert_eq!(
            spec.files["recipients"],
            "usera@company.com OK\nuserb@company.com OK\n"
        );
        assert!(spec.files["aliases"].contains("usera@company.com usera@hosting.company.com\n"));
        let main: BTreeMap<_, _> = spec.main.iter().cloned().collect();
        assert_eq!(main["relay_domains"], "company.com");
        assert_eq!(main["relay_recipient_maps"], "texthash:{P}/recipients");
        // the Zimbra MTAs take the Zimbra addresses, in order
        assert_eq!(
            mta_ip(&topo, topo.mta_index("client").unwrap()),
            Ipv4Addr::new(127, 0, 0, 11)
        );
    }

    #[test]
    fn mynetworks_and_zones_translate_the_scenario() {
        let topo = stage("split_domain_example1.toml", 0);
        // primary trusts 127.0.0.0/8 and 10.0.0.0/24: of the topology's MTAs only exchange
        // (10.0.0.2) is inside; 127.0.0.0/8 covers none of them in the scenario's address space
        let p = topo.mta_index("primary").unwrap();
        let MtaKind::Zimbra(z) = &topo.mtas()[p].kind else {
            panic!("primary is Zimbra")
        };
        assert_eq!(
            translate_mynetworks(&topo, p, &z.params.mynetworks),
            ["127.0.0.10/32", "127.0.0.100/32"]
        );
        let z = zones(&topo);
        assert_eq!(
            z[0].a["primary.yyy.state.xx.us"],
            [Ipv4Addr::new(127, 0, 0, 10)]
        );
        assert_eq!(
            z[0].a["secondary.yyy.state.xx.us"],
            [Ipv4Addr::new(127, 0, 0, 100)]
        );
        assert_eq!(z[0].wildcard, Some(SINK_IP));
        assert_eq!(z[0], z[1], "one preference level: nothing is down");
        // a lower-preference... here a better (5) outside backup MX: it is down for the
        // fallback sender, which then reaches the MTA at preference 10
        let topo = stage("transport_to_self.toml", 1);
        let down = down_hosts(&topo);
        assert_eq!(down.iter().collect::<Vec<_>>(), ["backup.example.org"]);
        assert_eq!(zones(&topo)[1].a["backup.example.org"], [DOWN_IP]);
        assert_eq!(
            fallback_hosts(&topo, "example.org", &down),
            Some(vec!["mx.example.org".to_string()])
        );
    }

    #[test]
    fn networks_and_next_hops() {
        assert!(in_net("10.0.0.7", "10.0.0.0/24"));
        assert!(!in_net("10.0.1.7", "10.0.0.0/24"));
        assert!(in_net("10.0.0.7", "10.0.0.7"));
        assert!(!in_net("10.0.0.7", "127.0.0.0/8"));
        assert!(!in_net("x", "10.0.0.0/8"));
        assert_eq!(without_port("smtp:[h.test]:25"), "smtp:[h.test]");
        assert_eq!(without_port("h.test:2525"), "h.test");
        assert_eq!(without_port("[h.test]"), "[h.test]");
        assert_eq!(smtp_transport("relay:h.test:25"), "smtp:h.test");
        assert_eq!(smtp_transport("[h.test]:25"), "smtp:[h.test]");
    }
}
