//! The route module as a downstream crate uses it (issue 16): configs built with
//! `..Default::default()` behave as documented, unknown entry points and unusable recipients are
//! typed errors, and traces round-trip through JSON.

use zimbra_prov::model::Directory;
use zimbra_prov::route::{
    simulate, simulate_via_host, DsnFate, Entry, ForeignMta, Mta, RouteError, Simulator, Topology,
    Trace, UnknownPolicy,
};

fn topology() -> Topology {
    let mut dir = Directory::new();
    zimbra_prov::zmprov::run(
        &mut dir,
        "cs primary.example.org\ncd example.org\nca alice@example.org pw\n\
         ca bob@example.org pw zimbraMailTransport smtp:exchange.example.org:25",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut topo = Topology::new();
    topo.add(Mta::zimbra("primary", "primary.example.org", &dir, |p| {
        p.mynetworks = vec!["10.0.0.0/24".into()];
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    // only the fields that matter: the rest from Default
    topo.add(Mta::foreign(
        "exchange",
        "exchange.example.org",
        ForeignMta {
            domains: vec!["example.org".into()],
            mailboxes: vec!["bob@example.org".into()],
            unknown: UnknownPolicy::Relay,
            relayhost: Some("primary.example.org".into()),
            ..ForeignMta::default()
        },
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    topo.dns.mx.insert(
        "example.org".into(),
        vec![(10, "primary.example.org".into())],
    );
    for (h, a) in [
        ("primary.example.org", "10.0.0.1"),
        ("exchange.example.org", "10.0.0.2"),
    ] {
        topo.dns.a.insert(h.into(), vec![a.into()]);
    }
    topo
}

#[test]
fn default_foreign_mta_relays_instead_of_bouncing_for_hops() {
    let topo = topology();
    let t = simulate(&topo, &Entry::Internet, "bob@example.org").unwrap_or_else(|e| panic!("{e}"));
    let leaves = t.leaves();
    assert_eq!(leaves.len(), 1);
    assert_eq!(
        leaves[0].disposition.outcome(),
        "delivered",
        "{}",
        t.to_text()
    );
    assert_eq!(leaves[0].via, ["primary", "exchange"]);
    // Exchange's users reach the primary's through it (hop limit 50, MX lookups on)
    let t = simulate(&topo, &Entry::Mta("exchange".into()), "alice@example.org")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        t.leaves()[0].disposition.outcome(),
        "delivered",
        "{}",
        t.to_text()
    );
}

#[test]
fn unknown_entry_points_and_bad_recipients_are_errors() {
    let topo = topology();
    match simulate(&topo, &Entry::Mta("nosuch".into()), "alice@example.org") {
        Err(RouteError::UnknownMta { name, known }) => {
            assert_eq!(name, "nosuch");
            assert_eq!(known, ["primary", "exchange"]);
        }
        other => panic!("expected UnknownMta, got {other:?}"),
    }
    let err = simulate(&topo, &Entry::Mta("nosuch".into()), "alice@example.org")
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("no MTA named \"nosuch\" (the topology has: primary, exchange)")
    );
    for bad in ["", "   ", "<>", "a b@example.org", "a\u{1b}@example.org"] {
        assert!(
            matches!(
                simulate(&topo, &Entry::Internet, bad),
                Err(RouteError::BadAddress {
                    role: "recipient",
                    ..
                })
            ),
            "{bad:?}"
        );
        assert!(
            simulate(&topo, &Entry::Mta("primary".into()), bad).is_err(),
            "{bad:?}"
        );
        assert!(
            simulate_via_host(&topo, "primary.example.org", bad).is_err(),
            "{bad:?}"
        );
    }
    // from the Internet a recipient needs a domain to look up
    assert!(matches!(
        simulate(&topo, &Entry::Internet, "alice"),
        Err(RouteError::BadAddress { .. })
    ));
    // locally submitted, a bare local part is Postfix's business (appended @myorigin)
    assert!(simulate(&topo, &Entry::Mta("primary".into()), "alice").is_ok());
    // a bad sender too
    assert!(matches!(
        Simulator::new(&topo)
            .sender(" ")
            .run(&Entry::Internet, "alice@example.org"),
        Err(RouteError::BadAddress { role: "sender", .. })
    ));
}

#[test]
fn traces_round_trip_through_json() {
    let topo = topology();
    for (from, rcpt) in [
        (Entry::Internet, "bob@example.org"),
        (Entry::Internet, "nobody@example.org"),
        (Entry::Mta("exchange".into()), "nobody@example.org"),
    ] {
        let t = simulate(&topo, &from, rcpt).unwrap_or_else(|e| panic!("{e}"));
        let back = Trace::from_json(&t.to_json()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, t);
        // and through serde_json::Value, as a consumer without the crate's types reads it
        let v: serde_json::Value =
            serde_json::from_str(&t.to_json()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["recipient"], rcpt);
    }
    assert!(matches!(
        Trace::from_json("{\"recipient\": 1}"),
        Err(RouteError::Json { .. })
    ));
}

#[test]
fn dsn_of_a_refusal_at_the_second_hop_is_written_by_the_first() {
    // Exchange relays unknown users to the primary, which trusts it and bounces them
    // (error transport): the primary writes the DSN, and it reaches the Exchange user
    let topo = topology();
    let t = simulate(&topo, &Entry::Mta("exchange".into()), "nobody@example.org")
        .unwrap_or_else(|e| panic!("{e}"));
    let l = &t.leaves()[0];
    assert_eq!(l.disposition.outcome(), "bounced", "{}", t.to_text());
    let dsn = l.dsn.unwrap_or_else(|| panic!("{}", t.to_text()));
    assert_eq!(dsn.writer.as_deref(), Some("primary"));
    assert_eq!(dsn.to, "bob@example.org");
    assert!(
        matches!(&dsn.fate, DsnFate::Delivered { mailbox, .. } if mailbox == "bob@example.org"),
        "{}",
        t.to_text()
    );
    assert_eq!(t.dsns.len(), 1);
    assert_eq!(t.dsns[0].from, "MAILER-DAEMON@primary.example.org");
    assert!(t
        .to_text()
        .contains("DSN #1 from MAILER-DAEMON@primary.example.org"));
    // untrusted, the primary refuses it at RCPT: hop 2, so Exchange writes the DSN, and
    // delivers it to its own user
    let mut topo = topology();
    let mut dir = Directory::new();
    zimbra_prov::zmprov::run(
        &mut dir,
        "cs primary.example.org\ncd example.org\nca alice@example.org pw",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut untrusting = Topology::new();
    untrusting
        .add(Mta::zimbra("primary", "primary.example.org", &dir, |_| {}))
        .unwrap_or_else(|e| panic!("{e}"));
    for m in topo.mtas().iter().filter(|m| m.name == "exchange") {
        untrusting.add(m.clone()).unwrap_or_else(|e| panic!("{e}"));
    }
    untrusting.dns = std::mem::take(&mut topo.dns);
    let t = Simulator::new(&untrusting)
        .sender("bob@example.org")
        .run(&Entry::Mta("exchange".into()), "nobody@example.org")
        .unwrap_or_else(|e| panic!("{e}"));
    let l = &t.leaves()[0];
    assert_eq!(l.disposition.outcome(), "rejected", "{}", t.to_text());
    assert_eq!(l.via, ["exchange", "primary"]);
    let dsn = l.dsn.unwrap_or_else(|| panic!("{}", t.to_text()));
    assert_eq!(dsn.writer.as_deref(), Some("exchange"));
    assert_eq!(dsn.fate.label(), "delivered");
    // from the Internet the primary refuses at the first hop: the client hears of it
    let t = simulate(&untrusting, &Entry::Internet, "nobody@example.org")
        .unwrap_or_else(|e| panic!("{e}"));
    let dsn = t.leaves()[0].dsn.cloned();
    assert_eq!(dsn.map(|d| d.fate), Some(DsnFate::Reply));
    assert!(t.dsns.is_empty());
}

#[test]
fn a_dsn_that_fails_is_a_double_bounce_not_a_new_dsn() {
    // a sender whose own domain loops back to the bouncing MTA: its DSN bounces there too
    let topo = topology();
    let t = Simulator::new(&topo)
        .sender("someone@primary.example.org")
        .run(&Entry::Mta("primary".into()), "x@primary.example.org")
        .unwrap_or_else(|e| panic!("{e}"));
    let l = &t.leaves()[0];
    assert_eq!(l.disposition.outcome(), "bounced", "{}", t.to_text());
    let dsn = l.dsn.unwrap_or_else(|| panic!("{}", t.to_text()));
    assert!(
        matches!(&dsn.fate, DsnFate::DoubleBounce { at, .. } if at == "primary"),
        "{}",
        t.to_text()
    );
    assert!(!dsn.fate.reaches_sender());
    // the DSN's own path has no DSNs
    assert!(t.dsns[0].root.children.iter().all(|c| c.dsn.is_none()));
}

#[test]
fn a_trace_says_when_alias_expansion_steps_are_not_all_listed() {
    let mut script = String::from("cs mx.example.org\ncd example.org\ncdl big@example.org\n");
    let mut members = String::from("adlm big@example.org");
    for i in 0..40 {
        script.push_str(&format!("ca u{i}@example.org pw\n"));
        members.push_str(&format!(" u{i}@example.org"));
    }
    script.push_str(&members);
    let mut dir = Directory::new();
    zimbra_prov::zmprov::run(&mut dir, &script).unwrap_or_else(|e| panic!("{e}"));
    let mut topo = Topology::new();
    topo.add(Mta::zimbra("mx", "mx.example.org", &dir, |_| {}))
        .unwrap_or_else(|e| panic!("{e}"));
    let t = simulate(&topo, &Entry::Mta("mx".into()), "big@example.org")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.leaves().len(), 40);
    let text = t.to_text();
    assert!(
        text.contains("(at most 32 alias-expansion steps are listed; the expansion continued to 40 final recipients, each followed below)"),
        "{text}"
    );
    // a small list needs no such note
    let t = simulate(&topo, &Entry::Mta("mx".into()), "u1@example.org")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!t.to_text().contains("at most 32"));
}
