//! A large split-domain topology for measuring `verify::check`, built through the model API
//! (zmprov is too slow for a million accounts). Shared by `examples/verify_scale.rs` and
//! `benches/verify.rs`.
//!
//! Four MTAs for `example.com`, MX → the mail filter:
//! - `filter` (foreign, an MTA head): routes the domain to `[primary.example.com]`;
//! - `primary` (Zimbra, authoritative): every account; half with a local mailbox
//!   (`lmtp:primary`), 30 % on `secondary` and 20 % on `exchange` (`smtp:` transports); unknown
//!   recipients rejected; every tenth account has an alias, one in 50,000 is in maintenance;
//! - `secondary` (Zimbra): its 30 % with local mailboxes; catch-all forwarding of unknown
//!   recipients to the primary (domain transport `smtp:primary.example.com`);
//! - `exchange` (foreign): its 20 % as mailboxes; unknown recipients relayed to the primary.

use std::sync::Arc;

use zimbra_prov::model::{Account, Directory};
use zimbra_prov::route::{ForeignMta, Mta, Topology, UnknownPolicy};
use zimbra_prov::zmprov;

/// Where account `i` lives: 0 primary, 1 secondary, 2 exchange.
pub fn home(i: usize) -> u8 {
    match i % 10 {
        0..=4 => 0,
        5..=7 => 1,
        _ => 2,
    }
}

fn directory(script: &str, accounts: impl Iterator<Item = (usize, String)>) -> Directory {
    let mut dir = Directory::new();
    let res = zmprov::run(&mut dir, script);
    assert!(res.is_ok(), "setup script: {res:?}");
    let template = dir
        .account("template@example.com")
        .cloned()
        .expect("template account");
    for (i, transport) in accounts {
        let name = format!("user{i}@example.com");
        let mut a = Account::new(name.parse().expect("address"));
        a.attrs = template.attrs.clone();
        a.attrs.set_one("zimbraMailDeliveryAddress", name.as_str());
        a.attrs.set_one("mail", name.as_str());
        a.attrs.set_one("uid", format!("user{i}"));
        a.attrs
            .set_one("zimbraId", format!("00000000-0000-0000-0000-{i:012}"));
        a.attrs.set_one("zimbraMailTransport", transport);
        if i % 10 == 3 || i % 10 == 6 {
            a.attrs
                .set_one("zimbraMailAlias", format!("alias{i}@example.com"));
        }
        if i % 50_000 == 1 {
            a.attrs.set_one("zimbraAccountStatus", "maintenance");
        }
        dir.insert_account(a).expect("insert account");
    }
    dir.remove_account("template@example.com");
    dir
}

/// The topology with `accounts` accounts (user0 .. user{accounts-1}@example.com).
pub fn topology(accounts: usize) -> Topology {
    let mut t = Topology::new();
    {
        let dir = directory(
            "cs primary.example.com\ncd example.com\nca template@example.com pw",
            (0..accounts).map(|i| {
                let tr = match home(i) {
                    0 => "lmtp:primary.example.com:7025",
                    1 => "smtp:secondary.example.com:25",
                    _ => "smtp:exchange.example.com:25",
                };
                (i, tr.to_string())
            }),
        );
        // shared, not copied: the MTA keeps the directory (for saving), the example needs no copy
        t.add(Mta::zimbra_shared(
            "primary",
            "primary.example.com",
            Arc::new(dir),
            |p| {
                p.mynetworks = vec!["10.0.0.0/24".into()];
            },
        ))
        .expect("primary");
    }
    {
        let dir = directory(
            "cs secondary.example.com\ncd example.com\nca template@example.com pw\n\
             md example.com zimbraMailCatchAllAddress @example.com zimbraMailCatchAllForwardingAddress @example.com zimbraMailTransport smtp:primary.example.com",
            (0..accounts)
                .filter(|i| home(*i) == 1)
                .map(|i| (i, "lmtp:secondary.example.com:7025".to_string())),
        );
        t.add(Mta::zimbra_shared(
            "secondary",
            "secondary.example.com",
            Arc::new(dir),
            |p| {
                p.mynetworks = vec!["10.0.0.0/24".into()];
            },
        ))
        .expect("secondary");
    }
    t.add(Mta::foreign(
        "exchange",
        "exchange.example.com",
        ForeignMta {
            domains: vec!["example.com".into()],
            mailboxes: (0..accounts)
                .filter(|i| home(*i) == 2)
                .map(|i| format!("user{i}@example.com"))
                .collect(),
            unknown: UnknownPolicy::Relay,
            relayhost: Some("primary.example.com".into()),
            dns_lookups: true,
            hopcount_limit: 50,
            ..ForeignMta::default()
        },
    ))
    .expect("exchange");
    t.add(Mta::foreign(
        "filter",
        "filter.example.com",
        ForeignMta {
            routes: [(
                "example.com".to_string(),
                "[primary.example.com]".to_string(),
            )]
            .into_iter()
            .collect(),
            dns_lookups: true,
            hopcount_limit: 50,
            ..ForeignMta::default()
        },
    ))
    .expect("filter");
    t.dns.mx.insert(
        "example.com".into(),
        vec![(10, "filter.example.com".into())],
    );
    for (h, a) in [
        ("filter.example.com", "10.0.0.1"),
        ("primary.example.com", "10.0.0.2"),
        ("secondary.example.com", "10.0.0.3"),
        ("exchange.example.com", "10.0.0.4"),
    ] {
        t.dns.a.insert(h.into(), vec![a.into()]);
    }
    t
}
