//! Smoke test of the routing oracle harness (`tests/support/oracle.rs`): small Zimbra
//! directories built with zmprov are loaded into a real slapd, a real Postfix 3.7 with
//! Zimbra's `ldap-*.cf` filters routes addresses, and the answers are checked against
//! hand-written expectations (the routing facts the oracle research established). These test
//! the harness itself; the differential test against the simulator builds on it.
//!
//! Needs Debian's slapd, postfix and postfix-ldap, and root (postfix start). Without them the
//! test fails, unless `ZIMBRA_PROV_SKIP_SERVICES=1` is set (then it prints that it skipped).

#[path = "support/oracle.rs"]
mod oracle;
#[path = "support/zimbra_ldif.rs"]
mod zimbra_ldif;

use std::time::Instant;

use oracle::{master_cf_services, Oracle, OracleConfig, OracleItem, OracleLine};
use zimbra_prov::model::Directory;

/// The main test directory: split-domain catch-all with a domain transport, aliases, a list,
/// forwarding, a disabled account, canonical addresses, alias domains, a catch-all account,
/// transports of several forms, an old address and an alias loop.
const MAIN: &str = r#"
cs mbox1.example.com
cd example.com zimbraMailCatchAllAddress @example.com zimbraMailCatchAllForwardingAddress @example.com zimbraMailTransport smtp:secondary.example.com
ca alice@example.com pw
aaa alice@example.com al@example.com
ca bob@example.com pw
ca carol@example.com pw zimbraMailTransport smtp:secondary.example.com:25
ca dave@example.com pw zimbraPrefMailForwardingAddress dave.ext@elsewhere.test
ca erin@example.com pw zimbraAccountStatus closed
ca mike@example.com pw
ca nina@example.com pw zimbraMailCanonicalAddress nina.public@example.com
aaa nina@example.com nina.public@example.com
ca oscar@example.com pw zimbraMailCanonicalAddress o.public@example.com
cdl team@example.com
adlm team@example.com alice@example.com carol@example.com
cdl loopa@example.com
cdl loopb@example.com
adlm loopa@example.com loopb@example.com
adlm loopb@example.com loopa@example.com
cad example.net example.com zimbraMailCatchAllForwardingAddress @example.com
cad canon.test example.com zimbraMailCatchAllCanonicalAddress @example.com
cad plainalias.test example.com
md plainalias.test zimbraMailCatchAllAddress ""
cd other.test
ca frank@other.test pw
ca kim@other.test pw zimbraMailTransport smtp:[192.0.2.10]:25
ca leo@other.test pw zimbraMailTransport "error:5.1.6 mailbox has moved"
ca judy@other.test pw zimbraMailTransport foo:bar.example.com
ca amavis@other.test pw zimbraMailTransport smtp-amavis:[127.0.0.1]:10032
ca typo@other.test pw zimbraMailTransport smtp-amavi:[127.0.0.1]:10032
cd catchall.test
ca catcher@catchall.test pw
ma catcher@catchall.test zimbraMailCatchAllAddress @catchall.test
"#;

/// A second directory for the same domain: alice moved to another mailbox server, no
/// catch-all, no alias. Loaded after MAIN, it shows that no answer of MAIN is served again.
const MOVED: &str = r#"
cs mbox2.example.com
cd example.com
ca alice@example.com pw
"#;

fn ldif_of(script: &str) -> String {
    let mut dir = Directory::new();
    if let Err(e) = zimbra_prov::zmprov::run(&mut dir, script) {
        panic!("zmprov script failed: {e}");
    }
    // zimbraOldMailAddress is immutable for zmprov (the server sets it); set it directly
    if let Some(mike) = dir.account_mut("mike@example.com") {
        mike.attrs
            .add("zimbraOldMailAddress", "oldmike@example.com");
    }
    match zimbra_ldif::directory_to_ldif(&dir) {
        Ok(l) => l,
        Err(e) => panic!("LDIF conversion failed: {e}"),
    }
}

fn start(cfg: OracleConfig) -> Oracle {
    match Oracle::start(cfg) {
        Ok(o) => o,
        Err(e) => panic!("oracle did not start: {e}"),
    }
}

fn load(o: &mut Oracle, ldif: &str) {
    match o.load_ldif(ldif) {
        Ok(t) => println!("directory loaded in {:.0} ms", t.as_secs_f64() * 1000.0),
        Err(e) => panic!("load failed: {e}\n--- LDIF ---\n{ldif}"),
    }
}

/// Routes `expect`'s addresses and compares whole lines; reports every difference at once.
fn check(o: &mut Oracle, expect: &[(&str, &str)]) {
    let addrs: Vec<&str> = expect.iter().map(|(a, _)| *a).collect();
    let lines = o
        .route(&addrs)
        .unwrap_or_else(|e| panic!("route failed: {e}\n{}", o.maillog()));
    let mut bad = Vec::new();
    for (line, (addr, want)) in lines.iter().zip(expect) {
        let want = format!("{addr} -> {want}");
        println!("{line}");
        if line.text() != want {
            bad.push(format!("  got  {line}\n  want {want}"));
        }
        // the printed form parses back to the same decision
        assert_eq!(OracleLine::parse(&line.text()).ok().as_ref(), Some(line));
    }
    assert!(bad.is_empty(), "oracle disagrees:\n{}", bad.join("\n"));
}

const M1: &str = "lmtp:mbox1.example.com:7025";
const SEC: &str = "smtp:secondary.example.com";

#[test]
fn zimbra_defaults_route_and_accept() {
    if !oracle::services_or_skip("zimbra_defaults_route_and_accept") {
        return;
    }
    let t0 = Instant::now();
    let main = ldif_of(MAIN);
    let mut o = start(OracleConfig::default());
    load(&mut o, &main);
    let team =
        format!("{M1} <alice@example.com> | smtp:secondary.example.com:25 <carol@example.com>");
    let via_alice = format!("{M1} <alice@example.com>");
    let dave = format!("smtp:elsewhere.test <dave.ext@elsewhere.test> | {M1}");
    let catcher = format!("{M1} <catcher@catchall.test>");
    check(
        &mut o,
        &[
            // existing accounts, account transports of every form
            ("alice@example.com", M1),
            ("bob@example.com", M1),
            ("carol@example.com", "smtp:secondary.example.com:25"),
            ("frank@other.test", M1),
            ("kim@other.test", "smtp:[192.0.2.10]:25"),
            (
                "leo@other.test",
                "bounce (error: mailbox has moved [5.1.6])",
            ),
            (
                "judy@other.test",
                "defer (retry: mail transport unavailable [4.3.0])",
            ),
            // Zimbra's master.cf services: one that exists, one that does not
            ("amavis@other.test", "smtp-amavis:[127.0.0.1]:10032"),
            (
                "typo@other.test",
                "defer (retry: mail transport unavailable [4.3.0])",
            ),
            // aliases, mixed case (the LDAP value's case comes back)
            ("al@example.com", &via_alice),
            ("AL@Example.COM", &via_alice),
            // a list fans out; forwarding keeps the local copy
            ("team@example.com", &team),
            ("dave@example.com", &dave),
            // split-domain catch-all: unknown and disabled users go to the domain transport
            ("nobody@example.com", SEC),
            (
                "NOBODY@Example.COM",
                "smtp:secondary.example.com <NOBODY@example.com>",
            ),
            ("erin@example.com", SEC),
            // no recipient_delimiter (Zimbra default): +ext is just an unknown user
            ("bob+tag@example.com", SEC),
            // old address without the zimbraOldMailAddress filter: unknown
            ("oldmike@example.com", SEC),
            // canonical address: an alias comes back to the account, a non-alias leaves it
            ("nina@example.com", M1),
            (
                "oscar@example.com",
                "smtp:secondary.example.com <o.public@example.com>",
            ),
            // alias domain with catch-all forwarding
            ("alice@example.net", &via_alice),
            (
                "x@example.net",
                "smtp:secondary.example.com <x@example.com>",
            ),
            // canonical catch-all (rewritten before virtual)
            ("alice@canon.test", &via_alice),
            ("x@canon.test", "smtp:secondary.example.com <x@example.com>"),
            // alias domain without catch-all
            (
                "x@plainalias.test",
                "bounce (error: User unknown in virtual alias table [5.1.1])",
            ),
            // catch-all account
            ("nobody@catchall.test", &catcher),
            // unknown users in a local domain without catch-all or domain transport bounce
            ("nobody@other.test", "bounce (error: other.test [5.0.0])"),
            // unknown domain: default transport, next hop = domain (no relayhost)
            ("someone@unknown.test", "smtp:unknown.test"),
            ("user@sub.example.com", "smtp:sub.example.com"),
            // parsing details
            ("alice@example.com.", &via_alice),
            ("a*@example.com", SEC),
        ],
    );

    // an alias loop: cleanup refuses the message at DATA with a temporary error
    let lines = o
        .route(&["loopa@example.com"])
        .unwrap_or_else(|e| panic!("{e}"));
    println!("{}", lines[0]);
    match lines[0].items.as_slice() {
        [OracleItem::Defer { text, dsn, .. }] => {
            assert!(text.starts_with("cleanup: "), "{text}");
            assert!(dsn.starts_with("4."), "{dsn}");
        }
        other => panic!("alias loop: expected one cleanup defer, got {other:?}"),
    }

    // hostile and odd addresses: every one gets a decision, never a harness error
    let odd = [
        "\"john doe\"@example.com",
        "john doe@example.com",
        "@example.com",
        "alice",
        "x@[192.0.2.1]",
        "j\u{f6}hn@example.com",
        "a@b@example.com",
        "",
        "<alice@example.com>",
        "%41lice@example.com",
    ];
    let lines = o.route(&odd).unwrap_or_else(|e| panic!("{e}"));
    for (l, a) in lines.iter().zip(odd) {
        println!("{l}");
        assert_eq!(l.addr, a);
        assert!(!l.items.is_empty(), "{l}");
        assert!(
            !l.items.iter().any(|i| i.transport() == "oracle"),
            "no verdict: {l}"
        );
    }
    assert!(
        o.route(&["a@b\r\nDATA"]).is_err(),
        "CR/LF must not reach SMTP"
    );

    // SMTP-time acceptance
    let probes: &[(&str, bool, u16, Option<&str>, &str)] = &[
        ("alice@example.com", false, 250, Some("2.1.5"), ""),
        ("al@example.com", false, 250, Some("2.1.5"), ""),
        ("nobody@example.com", false, 250, Some("2.1.5"), ""),
        ("x@example.net", false, 250, Some("2.1.5"), ""),
        ("erin@example.com", false, 250, Some("2.1.5"), ""),
        // virtual_transport = error: smtpd rejects with the error nexthop as text
        (
            "nobody@other.test",
            false,
            550,
            Some("5.1.1"),
            "Recipient address rejected: other.test",
        ),
        (
            "x@plainalias.test",
            false,
            550,
            Some("5.1.1"),
            "Recipient address rejected: User unknown in virtual alias table",
        ),
        (
            "someone@unknown.test",
            false,
            554,
            Some("5.7.1"),
            "Relay access denied",
        ),
        // from mynetworks: permit_mynetworks comes before both checks
        ("nobody@other.test", true, 250, Some("2.1.5"), ""),
        ("someone@unknown.test", true, 250, Some("2.1.5"), ""),
    ];
    for &(addr, trusted, code, dsn, text) in probes {
        let r = o
            .rcpt(addr, trusted)
            .unwrap_or_else(|e| panic!("rcpt {addr}: {e}"));
        println!("RCPT {addr} (trusted: {trusted}) -> {r}");
        assert_eq!(r.code, code, "{addr} trusted={trusted}: {r}");
        assert_eq!(r.dsn.as_deref(), dsn, "{addr}: {r}");
        assert!(r.text.contains(text), "{addr}: {r}");
    }

    // a new directory: no answer of the previous one survives. alice is the last address
    // Postfix resolves before the swap and the first after it (its clients cache the last
    // answer per process, so this fails without the reload in `load_ldif`).
    check(&mut o, &[("alice@example.com", M1)]);
    load(&mut o, &ldif_of(MOVED));
    check(
        &mut o,
        &[
            ("alice@example.com", "lmtp:mbox2.example.com:7025"),
            ("al@example.com", "bounce (error: example.com [5.0.0])"),
            ("nobody@example.com", "bounce (error: example.com [5.0.0])"),
        ],
    );

    // throughput in bulk
    load(&mut o, &main);
    let bulk: Vec<String> = (0..400)
        .map(|i| match i % 4 {
            0 => format!("user{i}@example.com"),
            1 => "team@example.com".to_string(),
            2 => format!("u{i}@other.test"),
            _ => "al@example.com".to_string(),
        })
        .collect();
    let refs: Vec<&str> = bulk.iter().map(String::as_str).collect();
    let t = Instant::now();
    let lines = o.route(&refs).unwrap_or_else(|e| panic!("{e}"));
    let took = t.elapsed();
    for (i, l) in lines.iter().enumerate() {
        let want = match i % 4 {
            0 => SEC.to_string(),
            1 => team.clone(),
            2 => "bounce (error: other.test [5.0.0])".to_string(),
            _ => via_alice.clone(),
        };
        assert_eq!(l.text(), format!("{} -> {want}", l.addr));
    }
    println!(
        "bulk: {} addresses in {:.0} ms = {:.2} ms/address, {:.0} addresses/s",
        refs.len(),
        took.as_secs_f64() * 1000.0,
        took.as_secs_f64() * 1000.0 / refs.len() as f64,
        refs.len() as f64 / took.as_secs_f64()
    );
    println!("oracle stats: {}", o.stats());
    println!("whole test: {:.1} s", t0.elapsed().as_secs_f64());
}

/// The oracle's master.cf has Zimbra's delivery services (the simulator's default list), each
/// a discard(8) stand-in logging its name, except error(8) for `error`/`retry`.
#[test]
fn master_cf_has_zimbra_services() {
    let cfg = OracleConfig::default();
    assert_eq!(
        cfg.services.len(),
        zimbra_prov::route::ZIMBRA_TRANSPORTS.len()
    );
    let text = master_cf_services(&cfg.services);
    for svc in zimbra_prov::route::ZIMBRA_TRANSPORTS {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().next() == Some(svc)),
            "{svc} missing:\n{text}"
        );
    }
    assert!(text.contains(
        "smtp-amavis unix - - n - - discard -o syslog_name=oracle-transport/smtp-amavis"
    ));
    assert!(text.contains("retry     unix - - n - - error -o syslog_name=oracle-transport/retry"));
    assert!(!text.contains("smtp-amavi "));
}

#[test]
fn delimiter_old_addresses_and_relayhost() {
    if !oracle::services_or_skip("delimiter_old_addresses_and_relayhost") {
        return;
    }
    let cfg = OracleConfig {
        recipient_delimiter: "+".into(),
        old_address_filter: true,
        relayhost: "[smarthost.example.org]:587".into(),
        dns: oracle::DnsLookups::Disabled,
        ..OracleConfig::default()
    };
    let mut o = start(cfg);
    load(&mut o, &ldif_of(MAIN));
    let team =
        format!("{M1} <alice@example.com> | smtp:secondary.example.com:25 <carol@example.com>");
    let via_alice = format!("{M1} <alice@example.com>");
    let relay = "smtp:[smarthost.example.org]:587";
    check(
        &mut o,
        &[
            // +ext: the extension is dropped (propagate_unmatched_extensions = canonical)
            ("bob+tag@example.com", &format!("{M1} <bob@example.com>")),
            ("al+x@example.com", &via_alice),
            ("team+x@example.com", &team),
            // ... and kept on an unknown user that goes through the catch-all
            ("nobody+x@example.com", SEC),
            // zimbraOldMailAddress routes with the 2018+ ldap-vam.cf filter
            ("oldmike@example.com", &format!("{M1} <mike@example.com>")),
            // relayhost: the default class goes to the relay; transport_maps next hops win
            ("someone@unknown.test", relay),
            (
                "dave@example.com",
                &format!("{relay} <dave.ext@elsewhere.test> | {M1}"),
            ),
            ("carol@example.com", "smtp:secondary.example.com:25"),
            ("nobody@example.com", SEC),
        ],
    );
    println!("oracle stats: {}", o.stats());
}

#[test]
fn line_format_parses_and_sorts() {
    let text = "team@example.com -> smtp:b.example:25 <carol@example.com> | bounce (error: other.test [5.0.0]) <x@other.test> | lmtp:m:7025 <Alice@example.com>";
    let l = OracleLine::parse(text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        l.text(),
        "team@example.com -> lmtp:m:7025 <Alice@example.com> | smtp:b.example:25 <carol@example.com> | bounce (error: other.test [5.0.0]) <x@other.test>"
    );
    assert_eq!(l.items[2].transport(), "error");
    assert_eq!(l.items[0].final_rcpt(), "Alice@example.com");
    let same =
        OracleLine::parse("a@b.c -> defer (retry: x [4.3.0])").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(same.items[0].final_rcpt(), "a@b.c");
    assert_eq!(same.text(), "a@b.c -> defer (retry: x [4.3.0])");
    // a final recipient holding ` <` inside quotes, a bounce text holding ` <`
    let odd = OracleLine::parse(
        "x@y -> smtp:mx <\"a, Old Name <old\"@mx.test> | bounce (error: write to <n@z> [5.0.0]) <b@y>",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(odd.items[0].final_rcpt(), "\"a, Old Name <old\"@mx.test");
    assert_eq!(odd.items[1].final_rcpt(), "b@y");
    assert_eq!(odd.items[1].transport(), "error");
    for bad in [
        "no arrow",
        "a@b -> defer (x",
        "a@b -> bounce (x [5.0.0]",
        "a@b -> nocolon",
    ] {
        assert!(OracleLine::parse(bad).is_err(), "{bad}");
    }
}

/// The differential test's scale: 50 directories × 40 addresses on one oracle. Ignored by
/// default (about 20 s); run with `cargo test --test oracle_smoke -- --ignored --nocapture`
/// to measure per-directory and per-address cost.
#[test]
#[ignore = "measurement at differential-test scale, about 20 s"]
fn scale_fifty_directories() {
    if !oracle::services_or_skip("scale_fifty_directories") {
        return;
    }
    let mut o = start(OracleConfig::default());
    let t0 = Instant::now();
    let mut decisions = 0usize;
    for d in 0..50 {
        // each directory moves alice to another server: a stale answer would show
        let script = format!("cs mbox{d}.example.com\ncd example.com\nca alice@example.com pw\n");
        load(&mut o, &ldif_of(&script));
        let addrs: Vec<String> = (0..40)
            .map(|i| {
                if i % 2 == 0 {
                    "alice@example.com".to_string()
                } else {
                    format!("u{i}@example.com")
                }
            })
            .collect();
        let refs: Vec<&str> = addrs.iter().map(String::as_str).collect();
        let lines = o.route(&refs).unwrap_or_else(|e| panic!("{e}"));
        for (i, l) in lines.iter().enumerate() {
            let want = if i % 2 == 0 {
                format!("lmtp:mbox{d}.example.com:7025")
            } else {
                "bounce (error: example.com [5.0.0])".to_string()
            };
            assert_eq!(l.text(), format!("{} -> {want}", l.addr));
        }
        decisions += lines.len();
    }
    println!(
        "{decisions} decisions over 50 directories in {:.1} s; {}",
        t0.elapsed().as_secs_f64(),
        o.stats()
    );
}
