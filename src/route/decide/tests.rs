//! Whole decisions against lines observed from a real Postfix 3.7 + slapd.

use super::*;
use crate::model::{names as n, Directory};
use crate::zmprov;

/// The oracle's `cases/edge.ldif`, rebuilt with zmprov.
pub(crate) fn edge_dir() -> Directory {
    let mut dir = Directory::new();
    zmprov::run(
            &mut dir,
            r#"
            cs primary.example.com
            cd example.com zimbraMailCatchAllAddress @example.com zimbraMailCatchAllForwardingAddress @example.com zimbraMailTransport smtp:secondary.example.com
            cd other.test
            cad example.net example.com zimbraMailCatchAllForwardingAddress @example.com
            cad example.org example.com zimbraMailCatchAllForwardingAddress @example.com zimbraMailCatchAllCanonicalAddress @example.com
            ca alice@example.com pw
            aaa alice@example.com al@example.com
            ca bob@example.com pw
            ca carol@example.com pw zimbraMailTransport smtp:secondary.example.com:25
            ca dave@example.com pw zimbraPrefMailForwardingAddress dave.ext@elsewhere.test
            ca erin@example.com pw zimbraAccountStatus closed
            cdl team@example.com
            adlm team@example.com alice@example.com carol@example.com
            cdl loopa@example.com
            cdl loopb@example.com
            adlm loopa@example.com loopb@example.com
            adlm loopb@example.com loopa@example.com
            ca gina@example.com pw zimbraMailForwardingAddress bob@example.com
            ca hank@example.com pw
            ma hank@example.com zimbraMailTransport ""
            ca frank@other.test pw
            ca ivan@other.test pw
            ma ivan@other.test zimbraMailTransport ""
            ca judy@example.com pw zimbraMailTransport foo:bar.example.com
            ca kim@example.com pw zimbraMailTransport smtp:[192.0.2.10]:25
            ca leo@example.com pw zimbraMailTransport "error:5.1.6 mailbox has moved"
            ca mike@example.com pw
            ca nina@example.com pw zimbraMailCanonicalAddress nina.public@example.com
            aaa nina@example.com nina.public@example.com
            ca oscar@example.com pw zimbraMailCanonicalAddress o.public@example.com
            ca pat.mixed@example.com pw
            "#,
        )
        .unwrap();
    dir.account_mut("pat.mixed@example.com")
        .unwrap()
        .attrs
        .set_one(n::MAIL_DELIVERY_ADDRESS, "Pat.Mixed@example.com");
    // zimbraOldMailAddress is immutable for zmprov (the server sets it on rename)
    dir.account_mut("mike@example.com")
        .unwrap()
        .attrs
        .set_one(n::OLD_MAIL_ADDRESS, "oldmike@example.com");
    dir
}

fn oracle_mta(dir: &Directory, old: bool) -> ZimbraMta {
    let mut p = ZimbraParams::from_directory(dir, "mta.oracle.invalid");
    p.old_address_filter = old;
    ZimbraMta::new(dir, p)
}

/// Lines observed from a real Postfix 3.7 + slapd (postfix-oracle.md §7).
#[test]
fn agrees_with_the_postfix_oracle() {
    let dir = edge_dir();
    let mta = oracle_mta(&dir, false);
    let expected = [
            "loopa@example.com -> defer (cleanup: Alias expansion error [4.6.0])",
            "gina@example.com -> lmtp:primary.example.com:7025 <bob@example.com> | lmtp:primary.example.com:7025",
            "hank@example.com -> smtp:secondary.example.com",
            "ivan@other.test -> bounce (error: other.test [5.0.0])",
            "judy@example.com -> defer (retry: mail transport unavailable [4.3.0])",
            "kim@example.com -> smtp:[192.0.2.10]:25",
            "leo@example.com -> bounce (error: mailbox has moved [5.1.6])",
            "oldmike@example.com -> smtp:secondary.example.com",
            "nina@example.com -> lmtp:primary.example.com:7025",
            "oscar@example.com -> smtp:secondary.example.com <o.public@example.com>",
            "pat.mixed@example.com -> lmtp:primary.example.com:7025 <Pat.Mixed@example.com>",
            "PAT.MIXED@EXAMPLE.COM -> lmtp:primary.example.com:7025 <Pat.Mixed@example.com>",
            "NOBODY@Example.COM -> smtp:secondary.example.com <NOBODY@example.com>",
            "user@sub.example.com -> smtp:sub.example.com",
            "a*@example.com -> smtp:secondary.example.com",
            "*@example.com -> smtp:secondary.example.com",
            "alice -> smtp:mta.oracle.invalid <alice@mta.oracle.invalid>",
            "alice@example.com. -> lmtp:primary.example.com:7025 <alice@example.com>",
            "\"john doe\"@example.com -> smtp:secondary.example.com",
            "bob+tag@example.com -> smtp:secondary.example.com",
            "alice@example.org -> lmtp:primary.example.com:7025 <alice@example.com>",
            "zed@example.org -> smtp:secondary.example.com <zed@example.com>",
            "team@example.com -> lmtp:primary.example.com:7025 <alice@example.com> | smtp:secondary.example.com:25 <carol@example.com>",
            "erin@example.com -> smtp:secondary.example.com",
            "x@example.net -> smtp:secondary.example.com <x@example.com>",
            "nobody@other.test -> bounce (error: other.test [5.0.0])",
            "dave@example.com -> smtp:elsewhere.test <dave.ext@elsewhere.test> | lmtp:primary.example.com:7025",
            "al@example.com -> lmtp:primary.example.com:7025 <alice@example.com>",
        ];
    for line in expected {
        let (addr, _) = line.split_once(" -> ").unwrap();
        assert_eq!(mta.decide(addr, Arrival::PICKUP).line(), line);
        assert_eq!(mta.decide_quiet(addr, Arrival::PICKUP).line(), line);
    }
}

#[test]
fn old_address_filter_and_delimiter() {
    let mut dir = edge_dir();
    let mta = oracle_mta(&dir, true);
    assert_eq!(
        mta.decide("oldmike@example.com", Arrival::PICKUP).line(),
        "oldmike@example.com -> lmtp:primary.example.com:7025 <mike@example.com>"
    );
    zmprov::run(&mut dir, "mcf zimbraMtaRecipientDelimiter +").unwrap();
    let mta = oracle_mta(&dir, false);
    for line in [
            "bob+tag@example.com -> lmtp:primary.example.com:7025 <bob@example.com>",
            "al+x@example.com -> lmtp:primary.example.com:7025 <alice@example.com>",
            "nobody+x@example.com -> smtp:secondary.example.com",
            "team+x@example.com -> lmtp:primary.example.com:7025 <alice@example.com> | smtp:secondary.example.com:25 <carol@example.com>",
        ] {
            let (addr, _) = line.split_once(" -> ").unwrap();
            assert_eq!(mta.decide(addr, Arrival::PICKUP).line(), line);
        }
    let mut p = mta.params.clone();
    p.propagate_virtual = true;
    let mta = ZimbraMta::new(&dir, p);
    assert_eq!(
        mta.decide("al+x@example.com", Arrival::PICKUP).line(),
        "al+x@example.com -> lmtp:primary.example.com:7025 <alice+x@example.com>"
    );
}

#[test]
fn rcpt_restrictions() {
    let dir = edge_dir();
    let mta = oracle_mta(&dir, false);
    let reply = |a: &str, arr| match mta.decide(a, arr).verdict {
        Verdict::Rejected { reply, .. } => reply,
        other => format!("{other:?}"),
    };
    assert_eq!(
        reply("nobody@other.test", Arrival::INTERNET),
        "550 5.1.1 <nobody@other.test>: Recipient address rejected: other.test"
    );
    assert_eq!(
        reply("x@unknown.test", Arrival::INTERNET),
        "554 5.7.1 <x@unknown.test>: Relay access denied"
    );
    assert_eq!(
        reply("x@localhost", Arrival::INTERNET),
        "504 5.5.2 <x@localhost>: Recipient address rejected: need fully-qualified address"
    );
    assert_eq!(
        reply("a b@x", Arrival::INTERNET),
        "501 5.1.3 Bad recipient address syntax"
    );
    // trusted clients skip reject_unlisted_recipient and relay freely
    assert!(matches!(
        mta.decide("nobody@other.test", Arrival::TRUSTED).verdict,
        Verdict::Accepted { .. }
    ));
    assert!(matches!(
        mta.decide("x@unknown.test", Arrival::TRUSTED).verdict,
        Verdict::Accepted { .. }
    ));
    // listed through canonical, alias and catch-all
    for a in [
        "frank@other.test",
        "al@example.com",
        "anything@example.com",
        "q@example.org",
    ] {
        assert!(
            matches!(
                mta.decide(a, Arrival::INTERNET).verdict,
                Verdict::Accepted { .. }
            ),
            "{a}"
        );
    }
    let mut d2 = Directory::new();
    zmprov::run(
        &mut d2,
        "cs m.x.org\ncd x.org\ncad y.org x.org\nca a@x.org pw",
    )
    .unwrap();
    let m2 = ZimbraMta::from_directory(&d2, "m.x.org");
    assert_eq!(
        match m2.decide("a@y.org", Arrival::INTERNET).verdict {
            Verdict::Rejected { reply, .. } => reply,
            o => format!("{o:?}"),
        },
        "550 5.1.1 <a@y.org>: Recipient address rejected: User unknown in virtual alias table"
    );
    // trusted: accepted, then the virtual alias class bounces
    assert_eq!(
        m2.decide("a@y.org", Arrival::TRUSTED).line(),
        "a@y.org -> bounce (error: User unknown in virtual alias table [5.1.1])"
    );
}

#[test]
fn split_domain_restriction_and_relayhost() {
    let mut dir = Directory::new();
    zmprov::run(
            &mut dir,
            "cs m.x.org\ncd x.org\nca a@x.org pw\n\
             mcf +zimbraMtaRestriction \"check_recipient_access ldap:/opt/zimbra/conf/ldap-splitdomain.cf\" +zimbraMtaRestriction reject\n\
             mcf zimbraMtaRelayHost relay.x.org zimbraMtaDnsLookupsEnabled FALSE",
        )
        .unwrap();
    let m = ZimbraMta::from_directory(&dir, "m.x.org");
    assert!(m.params.split_domain_check && m.params.reject_rest);
    assert!(!m.params.dns_lookups);
    assert_eq!(m.params.relayhost.as_deref(), Some("relay.x.org"));
    assert!(matches!(
        m.decide("a@x.org", Arrival::INTERNET).verdict,
        Verdict::Accepted { .. }
    ));
    assert_eq!(
        m.decide("z@elsewhere.org", Arrival::TRUSTED).line(),
        "z@elsewhere.org -> smtp:relay.x.org"
    );
}

#[test]
fn lmtp_statuses() {
    let mut dir = Directory::new();
    zmprov::run(
            &mut dir,
            "cs m.x.org\ncd x.org\ncad y.org x.org\nca a@x.org pw\nca b@x.org pw zimbraAccountStatus maintenance\n\
             ca c@x.org pw zimbraAccountStatus closed\nca d@x.org pw zimbraAccountStatus locked",
        )
        .unwrap();
    let m = ZimbraMta::from_directory(&dir, "m.x.org");
    let r = |a: &str| m.lmtp("m.x.org", a).0;
    assert!(matches!(r("a@x.org"), LmtpReply::Accepted { .. }));
    assert!(matches!(r("A@y.org"), LmtpReply::Accepted { .. }));
    assert!(matches!(r("d@x.org"), LmtpReply::Accepted { .. }));
    assert_eq!(
        r("b@x.org"),
        LmtpReply::Temporary {
            dsn: "4.2.1".into(),
            reply: "450 4.2.1 Mailbox disabled, not accepting messages".into()
        }
    );
    assert!(matches!(r("c@x.org"), LmtpReply::Permanent { .. }));
    assert!(matches!(r("zz@x.org"), LmtpReply::Permanent { .. }));
}

#[test]
fn steps_name_table_attribute_and_entry() {
    let dir = edge_dir();
    let mta = oracle_mta(&dir, false);
    let d = mta.decide("nobody@example.com", Arrival::INTERNET);
    let v = d.steps.iter().find(|s| s.stage == Stage::Virtual).unwrap();
    assert_eq!(v.table, Some("ldap-vam.cf"));
    assert_eq!(v.attr, Some("zimbraMailCatchAllAddress"));
    assert_eq!(v.entry.as_deref(), Some("dc=example,dc=com"));
    let Verdict::Accepted { deliveries } = &d.verdict else {
        panic!()
    };
    let t = deliveries[0]
        .steps
        .iter()
        .find(|s| s.stage == Stage::Transport)
        .unwrap();
    assert_eq!(t.attr, Some("zimbraDomainName"));
    assert!(t.to_string().contains("smtp:secondary.example.com"));
}

// ---- issue 11: the decision on directories shaped like real migrations ----
// Every expected line below was observed from the oracle (a real Postfix 3.7 + slapd with
// Zimbra's filters and master.cf); tests/fidelity_data.rs and tests/oracle_diff.rs keep checking
// them against a live one.

/// An MTA like the oracle's (`myhostname = mta.oracle.invalid`) reading `dir`.
fn oracle_like(dir: &Directory) -> ZimbraMta {
    ZimbraMta::new(dir, ZimbraParams::from_directory(dir, "mta.oracle.invalid"))
}

fn line_of(mta: &ZimbraMta, addr: &str) -> String {
    let quiet = mta.decide_quiet(addr, Arrival::PICKUP).line();
    assert_eq!(mta.decide(addr, Arrival::PICKUP).line(), quiet, "{addr}");
    quiet
}

fn rcpt_reply(mta: &ZimbraMta, addr: &str) -> String {
    match mta.decide(addr, Arrival::INTERNET).verdict {
        Verdict::Rejected { reply, .. } => reply,
        _ => "250 2.1.5 Ok".to_string(),
    }
}

/// One account with `zimbraMailTransport` (or another attribute) set as typed by hand.
fn with_accounts(accounts: &[(&str, &str, &str)]) -> Directory {
    let mut dir = Directory::new();
    zmprov::run(
        &mut dir,
        "cs mbox.example.test zimbraServiceEnabled mailbox\ncd example.test",
    )
    .unwrap();
    for (name, attr, value) in accounts {
        zmprov::run(&mut dir, &format!("ca {name} pw")).unwrap();
        dir.account_mut(name).unwrap().attrs.set_one(attr, *value);
    }
    dir
}

/// Issue 11, behaviour 1: Several entries answering one key come in creation (entry-ID) order, not DN order: the
/// first created of two catch-all accounts gives the canonical address, through zmprov,
/// through a rename (modrdn keeps the entry ID) and through a slapcat file's order.
#[test]
fn entry_order_is_creation_order() {
    let mut dir = Directory::new();
    zmprov::run(
        &mut dir,
        "cs mbox.example.test zimbraServiceEnabled mailbox\ncd example.test\n\
         ca zed@example.test pw zimbraMailCatchAllAddress @example.test zimbraMailCanonicalAddress z@other.test\n\
         ca amy@example.test pw zimbraMailCatchAllAddress @example.test zimbraMailCanonicalAddress a@other.test",
    )
    .unwrap();
    assert_eq!(
        line_of(&oracle_like(&dir), "nobody@example.test"),
        "nobody@example.test -> smtp:other.test <z@other.test>"
    );
    zmprov::run(&mut dir, "ra zed@example.test yves@example.test").unwrap();
    assert_eq!(
        line_of(&oracle_like(&dir), "nobody@example.test"),
        "nobody@example.test -> smtp:other.test <z@other.test>",
        "a rename keeps the entry's place"
    );
    zmprov::run(
        &mut dir,
        "da yves@example.test\nca zed@example.test pw zimbraMailCatchAllAddress @example.test zimbraMailCanonicalAddress z@other.test",
    )
    .unwrap();
    assert_eq!(
        line_of(&oracle_like(&dir), "nobody@example.test"),
        "nobody@example.test -> smtp:other.test <a@other.test>",
        "created again, zed now comes after amy"
    );
    // the same two entries read from LDIF in either order
    let entry = |uid: &str, canon: &str| {
        format!(
            "dn: uid={uid},ou=people,dc=example,dc=test\nobjectClass: inetOrgPerson\nobjectClass: zimbraAccount\n\
             uid: {uid}\nzimbraId: 00000000-0000-0000-0000-0000000000{}\nzimbraAccountStatus: active\n\
             zimbraMailStatus: enabled\nzimbraMailDeliveryAddress: {uid}@example.test\n\
             zimbraMailCatchAllAddress: @example.test\nzimbraMailCanonicalAddress: {canon}\n\n",
            if uid == "zed" { 11 } else { 12 }
        )
    };
    let domain = "dn: dc=example,dc=test\nobjectClass: dcObject\nobjectClass: organization\n\
                  objectClass: zimbraDomain\ndc: example\nzimbraDomainName: example.test\n\
                  zimbraDomainType: local\nzimbraMailStatus: enabled\n\n";
    for (first, second, want) in [
        ("zed", "amy", "z@other.test"),
        ("amy", "zed", "a@other.test"),
    ] {
        let canon = |u: &str| {
            if u == "zed" {
                "z@other.test"
            } else {
                "a@other.test"
            }
        };
        let text = format!(
            "{domain}{}{}",
            entry(first, canon(first)),
            entry(second, canon(second))
        );
        let dir = crate::dit::read_directory(text.as_bytes()).unwrap();
        assert_eq!(
            line_of(&oracle_like(&dir), "nobody@example.test"),
            format!("nobody@example.test -> smtp:other.test <{want}>"),
            "{first} first in the slapcat file"
        );
    }
}

/// Issue 11, behaviour 2: The values of all entries answering a key are joined with commas before they are parsed:
/// the same account in two trees gives ONE transport value, split at its first `:`.
#[test]
fn results_of_several_entries_are_joined() {
    let dir = crate::dit::read_directory(
        include_str!("../../../tests/data/fidelity/slapcat-migration.ldif").as_bytes(),
    )
    .unwrap();
    let mta = oracle_like(&dir);
    assert_eq!(
        line_of(&mta, "jdoe@example.test"),
        "jdoe@example.test -> lmtp:mbox2.example.test:7025,smtp:legacy.example.test:25"
    );
    assert_eq!(
        line_of(&mta, "sales@example.test"),
        "sales@example.test -> lmtp:mbox1.example.test:7025 <amy@example.test> | smtp:legacy.example.test:25 <bea@migrate.example.test>"
    );
}

/// Issue 11, behaviours 3 and 8: transport names are master.cf service names, case-sensitive and untrimmed; the
/// set of services is a parameter with Zimbra's master.cf list as default.
#[test]
fn transport_names_are_master_cf_services() {
    let dir = with_accounts(&[
        ("upper@example.test", n::MAIL_TRANSPORT, "SMTP:mx.test"),
        (
            "camel@example.test",
            n::MAIL_TRANSPORT,
            "Lmtp:mbox.test:7025",
        ),
        ("lead@example.test", n::MAIL_TRANSPORT, " smtp:mx.test"),
        ("trail@example.test", n::MAIL_TRANSPORT, "smtp:mx.test "),
        (
            "amavis@example.test",
            n::MAIL_TRANSPORT,
            "smtp-amavis:[127.0.0.1]:10032",
        ),
        (
            "typo@example.test",
            n::MAIL_TRANSPORT,
            "smtp-amavi:[127.0.0.1]:10032",
        ),
        (
            "scan@example.test",
            n::MAIL_TRANSPORT,
            "scan:[127.0.0.1]:10030",
        ),
        ("keep@example.test", n::MAIL_TRANSPORT, ":other.test"),
    ]);
    let mta = oracle_like(&dir);
    let unavailable = "defer (retry: mail transport unavailable [4.3.0])";
    for (addr, want) in [
        ("upper@example.test", unavailable),
        ("camel@example.test", unavailable),
        ("lead@example.test", unavailable),
        ("typo@example.test", unavailable),
        ("trail@example.test", "smtp:mx.test "),
        ("amavis@example.test", "smtp-amavis:[127.0.0.1]:10032"),
        ("scan@example.test", "scan:[127.0.0.1]:10030"),
        // `:nexthop` keeps the class's transport (Zimbra: virtual_transport = error)
        ("keep@example.test", "bounce (error: other.test [5.0.0])"),
    ] {
        assert_eq!(line_of(&mta, addr), format!("{addr} -> {want}"));
    }
    assert!(ZIMBRA_TRANSPORTS.contains(&"smtp-amavis"));
    // a master.cf without smtp-amavis
    let mut p = mta.params.clone();
    p.transports.retain(|s| s != "smtp-amavis");
    let mta = ZimbraMta::new(&dir, p);
    assert_eq!(
        line_of(&mta, "amavis@example.test"),
        format!("amavis@example.test -> {unavailable}")
    );
}

/// Issue 11, behaviour 4: error(8) and retry(8) force their class on the status: a status of the other class is
/// replaced by the default (`5.0.0`, `4.0.0`); no next hop is "Address is undeliverable".
#[test]
fn error_and_retry_force_their_status_class() {
    let cases = [
        (
            "error:4.2.2 over quota",
            "bounce (error: over quota [5.0.0])",
        ),
        ("error:2.0.0", "bounce (error:  [5.0.0])"),
        ("error:5.1.1", "bounce (error:  [5.1.1])"),
        ("error:5.7.1 refused", "bounce (error: refused [5.7.1])"),
        (
            "error: 5.2.1   spaced text",
            "bounce (error: spaced text [5.2.1])",
        ),
        ("error:", "bounce (error: Address is undeliverable [5.0.0])"),
        (
            "error:mailbox moved",
            "bounce (error: mailbox moved [5.0.0])",
        ),
        ("retry:5.1.1 gone", "defer (retry: gone [4.0.0])"),
        ("retry:2.0.0 odd", "defer (retry: odd [4.0.0])"),
        (
            "retry:4.2.0 wait a bit",
            "defer (retry: wait a bit [4.2.0])",
        ),
        ("retry:", "defer (retry: Address is undeliverable [4.0.0])"),
        ("discard:5.1.1 dropped here", "discard:dropped here"),
        (
            "Error:5.1.1 x",
            "defer (retry: mail transport unavailable [4.3.0])",
        ),
    ];
    let accounts: Vec<(String, &str)> = cases
        .iter()
        .enumerate()
        .map(|(i, (t, _))| (format!("e{i}@example.test"), *t))
        .collect();
    let specs: Vec<(&str, &str, &str)> = accounts
        .iter()
        .map(|(a, t)| (a.as_str(), n::MAIL_TRANSPORT, *t))
        .collect();
    let mta = oracle_like(&with_accounts(&specs));
    for ((addr, _), (_, want)) in accounts.iter().zip(cases) {
        assert_eq!(line_of(&mta, addr), format!("{addr} -> {want}"));
    }
}

/// Issue 11, behaviour 5: Address syntax as trivial-rewrite and cleanup see it.
#[test]
fn address_syntax_as_postfix_sees_it() {
    let long = format!("{}@example.test", "a".repeat(70));
    let mut dir = with_accounts(&[
        ("ann@example.test", n::MAIL_TRANSPORT, "lmtp:ann.host:7025"),
        (&long, n::MAIL_TRANSPORT, "lmtp:long.host:7025"),
    ]);
    zmprov::run(
        &mut dir,
        "cd xn--bcher-kva.test\nca leser@xn--bcher-kva.test pw",
    )
    .unwrap();
    let mta = oracle_like(&dir);
    for (addr, want) in [
        // quoted local parts are looked up unquoted
        (
            "\"ann\"@example.test",
            "lmtp:ann.host:7025 <ann@example.test>",
        ),
        (
            "\"a\\nn\"@example.test",
            "lmtp:ann.host:7025 <ann@example.test>",
        ),
        (
            "\"john doe\"@example.test",
            "bounce (error: example.test [5.0.0])",
        ),
        // a leading `-` is bad address syntax (allow_min_user = no)
        (
            "-ann@example.test",
            "bounce (error: bad address syntax [5.1.3])",
        ),
        // long local parts are routed
        (long.as_str(), "lmtp:long.host:7025"),
        // a UTF-8 domain is not its punycode form
        ("leser@bücher.test", "smtp:bücher.test"),
        // bang paths are swapped, `%` routing is followed
        ("host.remote!user", "smtp:host.remote <user@host.remote>"),
        ("user%remote.test", "smtp:remote.test <user@remote.test>"),
        (
            "remote.test!user@example.test",
            "bounce (error: example.test [5.0.0])",
        ),
    ] {
        assert_eq!(line_of(&mta, addr), format!("{addr} -> {want}"));
    }
    // the same addresses at RCPT time from the Internet
    for (addr, want) in [
        ("-ann@example.test", "501 5.1.3 Bad recipient address syntax"),
        ("leser@bücher.test", "554 5.7.1 <leser@bücher.test>: Relay access denied"),
        ("\"ann\"@example.test", "250 2.1.5 Ok"),
        (
            "\"john doe\"@example.test",
            "550 5.1.1 <john doe@example.test>: Recipient address rejected: example.test",
        ),
        ("x@nodot", "554 5.7.1 <x@nodot>: Relay access denied"),
        (
            "example.test!ann",
            "504 5.5.2 <example.test!ann>: Recipient address rejected: need fully-qualified address",
        ),
    ] {
        assert_eq!(rcpt_reply(&mta, addr), want, "{addr}");
    }
    // text that is not one address
    assert_eq!(
        line_of(&mta, "a b@example.test"),
        "a b@example.test -> reject (501 5.1.3 Bad recipient address syntax)"
    );
}

/// Issue 11, behaviour 6: Map results are RFC 822 address lists: a comma inside a quoted local part does not split,
/// `Name <a@b>` is `a@b`, a bang path in a result is swapped, a bare local part gets
/// `@$myorigin`, a forward to `-x@...` bounces.
#[test]
fn map_results_are_address_lists() {
    let dir = with_accounts(&[(
        "fwd@example.test",
        n::PREF_MAIL_FORWARDING_ADDRESS,
        "\"doe, john\"@remote.test, Old Name <old@remote.test>",
    )]);
    let mut dir = dir;
    let a = dir.account_mut("fwd@example.test").unwrap();
    a.attrs.add(n::MAIL_FORWARDING_ADDRESS, "host.remote!bang");
    a.attrs.add(n::MAIL_FORWARDING_ADDRESS, "-dash@remote.test");
    a.attrs.add(n::MAIL_FORWARDING_ADDRESS, "plainlocal");
    a.attrs.set_one(n::MAIL_TRANSPORT, "lmtp:mbox.test:7025");
    let mta = oracle_like(&dir);
    assert_eq!(
        line_of(&mta, "fwd@example.test"),
        "fwd@example.test -> smtp:remote.test <\"doe, john\"@remote.test> | \
         bounce (error: bad address syntax [5.1.3]) <-dash@remote.test> | \
         smtp:host.remote <bang@host.remote> | lmtp:mbox.test:7025 | \
         smtp:remote.test <old@remote.test> | \
         smtp:mta.oracle.invalid <plainlocal@mta.oracle.invalid>"
    );
}

/// Issue 11, behaviour 7: An unknown user of a Zimbra domain resolves to Zimbra's `virtual_transport = error`
/// with the domain as next hop, and smtpd rejects with that text; a domain transport of the
/// `error`/`retry` kind gives its own status and text; a domain with its own SMTP transport
/// falls to the virtual mailbox check.
#[test]
fn rcpt_reject_text_for_unknown_users() {
    let dir = crate::dit::read_directory(
        include_str!("../../../tests/data/fidelity/split-domain-handtyped.ldif").as_bytes(),
    )
    .unwrap();
    let mta = oracle_like(&dir);
    for (addr, want) in [
        ("someone@split.test", "550 5.1.1 <someone@split.test>: Recipient address rejected: User unknown in virtual mailbox table"),
        ("someone@hold.test", "450 4.4.1 <someone@hold.test>: Recipient address rejected: cut-over tonight"),
        ("someone@bounce.test", "550 5.7.1 <someone@bounce.test>: Recipient address rejected: domain retired"),
    ] {
        assert_eq!(rcpt_reply(&mta, addr), want);
    }
    let dir = with_accounts(&[]);
    assert_eq!(
        rcpt_reply(&oracle_like(&dir), "nobody@example.test"),
        "550 5.1.1 <nobody@example.test>: Recipient address rejected: example.test"
    );
}

#[test]
fn mtas_reading_one_shared_directory_share_one_index() {
    let dir = Arc::new(edge_dir());
    let host = dir
        .servers()
        .next()
        .map(|s| s.name.to_string())
        .unwrap_or_default();
    let params = || ZimbraParams::from_directory(&dir, &host);
    let a = ZimbraMta::with_directory(dir.clone(), params());
    let b = ZimbraMta::with_directory(dir.clone(), params());
    assert!(Arc::ptr_eq(&a.index, &b.index));
    // other filter options: another index
    let mut p = params();
    p.old_address_filter = !p.old_address_filter;
    let c = ZimbraMta::with_directory(dir.clone(), p);
    assert!(!Arc::ptr_eq(&a.index, &c.index));
    // an equal directory that is another value: another index, with the same answers
    let other = Arc::new((*dir).clone());
    let d = ZimbraMta::with_directory(other, params());
    assert!(!Arc::ptr_eq(&a.index, &d.index));
    for addr in ["ann@example.org", "nobody@example.org"] {
        assert_eq!(
            a.decide(addr, Arrival::INTERNET),
            d.decide(addr, Arrival::INTERNET)
        );
    }
    // ZimbraMta::new keeps its own
    let e = ZimbraMta::new(&dir, params());
    assert!(!Arc::ptr_eq(&a.index, &e.index));
}
