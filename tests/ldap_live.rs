//! Live-LDAP tests (feature `ldap`) against a real OpenLDAP slapd started by the test
//! (`support/live.rs`):
//! temp dir, mdb, suffix "", core/cosine/inetorgperson/dyngroup plus the crate's generated
//! Zimbra schema, a size limit of 10 entries (paged searches are unlimited), listening on
//! 127.0.0.1 on a free port and on an ldapi socket in the temp dir; stopped by pid on drop.
//!
//! The tests bind as `uid=zimbra,cn=admins,cn=zimbra` (not the rootdn, which limits do not
//! apply to). Needs Debian's slapd; without it they fail unless `ZIMBRA_PROV_SKIP_SERVICES=1`.
#![cfg(feature = "ldap")]

#[path = "support/slapd.rs"]
mod slapd;

#[path = "support/live.rs"]
mod live;

#[cfg(feature = "cli")]
use live::tool;
use live::{
    base_entries, canon, dn, entry, free_port, ldif_bytes, slapcat_entries, temp_config,
    write_ldif, Canon, Slapd, ADMIN, PASSWORD, SIZE_LIMIT,
};
use slapd::{SLAPADD, SLAPCAT, SLAPD, SLAPMODIFY};

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use zimbra_prov::dit::{self, EntryReader, MoveOptions, MovePlan, WriteOptions};
use zimbra_prov::dn::{Dn, Rdn};
use zimbra_prov::ldap::{
    read_entries, to_raw_entry, ConnectOptions, Export, LdapError, LdapSink, LdapSource, Operation,
    Phase, Plan, SourceOptions,
};
use zimbra_prov::ldif::{Attr, Change, ChangeOp, Entry, ModOp, Modification};
use zimbra_prov::model::{Directory, IdGenerator};
use zimbra_prov::zmprov;

const COS_GOLD: &str = "7d3c1a2b-5e4f-4a6b-8c9d-0e1f2a3b4c5d";

/// The base fixture plus two generated domains: example.com (25 accounts on mail1, some in
/// COS gold, the rest in COS default, a DL and an alias) and other.org (12 accounts on
/// mail2, domain default COS gold).
fn directory() -> Vec<Entry> {
    let mut out = base_entries();
    let photo: Vec<u8> = (0..=255u8).collect();
    for (tld, name, accounts, host, default_cos) in [
        ("com", "example", 25usize, "mail1.example.com", None),
        ("org", "other", 12, "mail2.example.com", Some(COS_GOLD)),
    ] {
        let domain = format!("{name}.{tld}");
        out.push(entry(
            &format!("dc={tld}"),
            &[
                ("objectClass", b"dcObject"),
                ("objectClass", b"organization"),
                ("dc", tld.as_bytes()),
                ("o", tld.as_bytes()),
            ],
        ));
        let ddn = format!("dc={name},dc={tld}");
        let mut d = entry(
            &ddn,
            &[
                ("objectClass", b"dcObject"),
                ("objectClass", b"organization"),
                ("objectClass", b"zimbraDomain"),
                ("dc", name.as_bytes()),
                ("o", format!("{domain} domain").as_bytes()),
                (
                    "zimbraId",
                    format!("9a0b1c2d-3e4f-4a5b-8c6d-{:012x}", accounts).as_bytes(),
                ),
                ("zimbraDomainName", domain.as_bytes()),
                ("zimbraDomainType", b"local"),
                ("zimbraDomainStatus", b"active"),
                ("zimbraMailStatus", b"enabled"),
            ],
        );
        if let Some(cos) = default_cos {
            d.push("zimbraDomainDefaultCOSId", cos);
        }
        out.push(d);
        out.push(entry(
            &format!("ou=people,{ddn}"),
            &[
                ("objectClass", b"organizationalRole"),
                ("ou", b"people"),
                ("cn", b"people"),
            ],
        ));
        out.push(entry(
            &format!("cn=groups,{ddn}"),
            &[
                ("objectClass", b"organizationalRole"),
                ("cn", b"groups"),
                ("description", b"dynamic groups base"),
            ],
        ));
        for i in 0..accounts {
            let local = format!("user{i:02}");
            let addr = format!("{local}@{domain}");
            let mut a = entry(
                &format!("uid={local},ou=people,{ddn}"),
                &[
                    ("objectClass", b"inetOrgPerson"),
                    ("objectClass", b"zimbraAccount"),
                    ("objectClass", b"amavisAccount"),
                    ("uid", local.as_bytes()),
                    ("cn", format!("Zoë Müller {i}").as_bytes()),
                    ("sn", "Müller".as_bytes()),
                    ("mail", addr.as_bytes()),
                    (
                        "zimbraId",
                        format!("5a8c2b1e-3d4f-4a6b-9c8d-{:06x}{:06x}", accounts, i).as_bytes(),
                    ),
                    ("zimbraAccountStatus", b"active"),
                    ("zimbraMailStatus", b"enabled"),
                    ("zimbraMailDeliveryAddress", addr.as_bytes()),
                    ("zimbraMailHost", host.as_bytes()),
                    (
                        "zimbraMailTransport",
                        format!("lmtp:{host}:7025").as_bytes(),
                    ),
                    ("zimbraCreateTimestamp", b"20240102030405Z"),
                ],
            );
            if i % 3 == 0 && default_cos.is_none() {
                a.push("zimbraCOSId", COS_GOLD);
            }
            if i == 1 {
                a.push("jpegPhoto", photo.clone());
                a.push("description", " leading space and trailing ");
            }
            out.push(a);
        }
        out.push(entry(
            &format!("uid=team,ou=people,{ddn}"),
            &[
                ("objectClass", b"zimbraDistributionList"),
                ("objectClass", b"zimbraMailRecipient"),
                ("uid", b"team"),
                ("mail", format!("team@{domain}").as_bytes()),
                ("zimbraMailAlias", format!("team@{domain}").as_bytes()),
                (
                    "zimbraId",
                    format!("6b7c8d9e-0f1a-4b2c-8d3e-{:012x}", accounts).as_bytes(),
                ),
                ("zimbraMailStatus", b"enabled"),
                (
                    "zimbraMailForwardingAddress",
                    format!("user00@{domain}").as_bytes(),
                ),
                (
                    "zimbraMailForwardingAddress",
                    format!("user01@{domain}").as_bytes(),
                ),
            ],
        ));
        out.push(entry(
            &format!("uid=alias,ou=people,{ddn}"),
            &[
                ("objectClass", b"zimbraAlias"),
                ("uid", b"alias"),
                (
                    "zimbraId",
                    format!("7c8d9e0f-1a2b-4c3d-9e4f-{:012x}", accounts).as_bytes(),
                ),
                (
                    "zimbraAliasTargetId",
                    format!("5a8c2b1e-3d4f-4a6b-9c8d-{:06x}{:06x}", accounts, 2).as_bytes(),
                ),
            ],
        ));
    }
    out
}

fn source(slapd: &Slapd, page_size: u32) -> LdapSource {
    LdapSource::connect(
        &slapd.options(),
        SourceOptions {
            page_size,
            ..SourceOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("connect: {e}"))
}

#[test]
fn reads_back_the_whole_tree_past_the_size_limit() {
    if !slapd::tools_or_skip(&[SLAPD, SLAPADD, SLAPCAT, SLAPMODIFY]) {
        return;
    }
    let loaded = directory();
    assert!(
        loaded.len() > 5 * SIZE_LIMIT,
        "data must exceed the size limit"
    );
    let slapd = Slapd::start("tree", &loaded);

    // Paged: every entry, attribute and value byte, in the order loaded.
    let mut got = Vec::new();
    let mut reports = Vec::new();
    let summary = source(&slapd, 7)
        .export(
            &Export::Tree,
            |e| {
                got.push(e);
                Ok(())
            },
            |p| reports.push(*p),
        )
        .unwrap_or_else(|e| panic!("export: {e}"));
    assert_eq!(got.len(), loaded.len());
    for (g, l) in got.iter().zip(&loaded) {
        assert_eq!(g, l, "entry {} differs", l.dn);
    }
    assert_eq!(summary.entries, loaded.len() as u64);
    let pages = loaded.len().div_ceil(7) as u64;
    assert!(
        summary.pages == pages || summary.pages == pages + 1,
        "{summary:?}"
    );
    assert_eq!(reports.len() as u64, summary.pages);
    assert!(reports.windows(2).all(|w| w[0].entries <= w[1].entries));
    assert!(reports.iter().all(|p| p.phase == Phase::Tree));
    assert!(reports
        .last()
        .is_some_and(|p| p.phase_done && p.entries == summary.entries));

    // The same through the iterator and the read_entries conversion point.
    let mut progress_calls = 0u64;
    let counted = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let c2 = counted.clone();
    let entries = source(&slapd, 5).entries(Export::Tree, move |_| c2.set(c2.get() + 1));
    let via_iter: Vec<Entry> = read_entries(entries, |it| Ok::<_, String>(it.collect()))
        .unwrap_or_else(|e| panic!("read_entries: {e}"));
    progress_calls += counted.get();
    assert_eq!(via_iter, loaded);
    assert!(progress_calls >= (loaded.len() / 5) as u64);

    // Without paging the server stops at its size limit: a typed error, not a short result.
    let err = source(&slapd, 0)
        .export(&Export::Tree, |_| Ok(()), |_| {})
        .expect_err("size limit must be reported");
    match err {
        LdapError::SizeLimitExceeded {
            base,
            returned,
            paged,
        } => {
            assert_eq!(base, "");
            assert_eq!(returned, SIZE_LIMIT as u64);
            assert!(!paged);
        }
        other => panic!("expected SizeLimitExceeded, got {other}"),
    }
}

#[test]
fn exports_one_domain_with_its_cos_and_servers() {
    if !slapd::tools_or_skip(&[SLAPD, SLAPADD, SLAPCAT, SLAPMODIFY]) {
        return;
    }
    let loaded = directory();
    let slapd = Slapd::start("domain", &loaded);
    let ldapi = ConnectOptions::new(slapd.ldapi_url()).bind(ADMIN, PASSWORD);
    for (domain, base, cos, server) in [
        (
            "example.com",
            "dc=example,dc=com",
            vec!["cn=default,cn=cos,cn=zimbra", "cn=gold,cn=cos,cn=zimbra"],
            "cn=mail1.example.com,cn=servers,cn=zimbra",
        ),
        (
            "other.org",
            "dc=other,dc=org",
            vec!["cn=gold,cn=cos,cn=zimbra"],
            "cn=mail2.example.com,cn=servers,cn=zimbra",
        ),
    ] {
        let mut src = LdapSource::connect(
            &ldapi,
            SourceOptions {
                page_size: 4,
                ..SourceOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("ldapi connect: {e}"));
        let mut got = Vec::new();
        let mut phases = Vec::new();
        let summary = src
            .export(
                &Export::Domain(domain.to_string()),
                |e| {
                    got.push(e);
                    Ok(())
                },
                |p| {
                    if p.phase_done {
                        phases.push(p.phase)
                    }
                },
            )
            .unwrap_or_else(|e| panic!("export {domain}: {e}"));
        let base = dn(base);
        let mut expected: Vec<&Entry> = loaded.iter().filter(|e| e.dn.is_under(&base)).collect();
        assert!(expected.len() > SIZE_LIMIT);
        for c in &cos {
            expected.extend(loaded.iter().filter(|e| e.dn == dn(c)));
        }
        expected.extend(loaded.iter().filter(|e| e.dn == dn(server)));
        let got_refs: Vec<&Entry> = got.iter().collect();
        assert_eq!(got_refs, expected, "{domain}");
        assert_eq!(summary.entries, expected.len() as u64);
        assert!(summary.missing_cos.is_empty() && summary.missing_servers.is_empty());
        assert_eq!(phases, vec![Phase::Domain, Phase::Cos, Phase::Servers]);
    }

    let err = source(&slapd, 4)
        .export(&Export::Domain("nowhere.net".into()), |_| Ok(()), |_| {})
        .expect_err("missing domain");
    assert!(
        matches!(&err, LdapError::NoSuchDomain { dn, .. } if dn == "dc=nowhere,dc=net"),
        "{err}"
    );
}

#[test]
fn connection_errors_are_typed() {
    if !slapd::tools_or_skip(&[SLAPD, SLAPADD, SLAPCAT, SLAPMODIFY]) {
        return;
    }
    let slapd = Slapd::start("errors", &directory());
    let err = ConnectOptions::new(slapd.url())
        .bind(ADMIN, "wrong")
        .connect()
        .expect_err("bad password");
    assert!(
        matches!(&err, LdapError::Bind { code: 49, dn, .. } if dn == ADMIN),
        "{err}"
    );
    assert!(err.to_string().contains("invalidCredentials"), "{err}");

    let closed = free_port();
    let err = ConnectOptions::new(format!("ldap://127.0.0.1:{closed}"))
        .timeouts(Duration::from_secs(2), Duration::from_secs(2))
        .connect()
        .expect_err("closed port");
    assert!(matches!(err, LdapError::Connect { .. }), "{err}");

    let err = ConnectOptions::new("http://x")
        .connect()
        .expect_err("scheme");
    assert!(matches!(err, LdapError::Url { .. }), "{err}");
    let err = ConnectOptions::new("ldaps://x")
        .starttls(true)
        .connect()
        .expect_err("starttls on ldaps");
    assert!(matches!(err, LdapError::Url { .. }), "{err}");

    // StartTLS against a server without TLS: a connect error, not a silent plain connection.
    let err = slapd
        .options()
        .starttls(true)
        .connect()
        .expect_err("no TLS configured");
    assert!(matches!(err, LdapError::Connect { .. }), "{err}");
}

/// Applies `changes` to the canonical model the way the server does for these simple cases.
fn apply_model(model: &mut Canon, changes: &[Change]) {
    for c in changes {
        let key = c.dn.normalized().to_string();
        match &c.op {
            ChangeOp::Add(attrs) => {
                let mut m: BTreeMap<String, BTreeSet<Vec<u8>>> = BTreeMap::new();
                for a in attrs {
                    m.entry(a.description.to_ascii_lowercase())
                        .or_default()
                        .insert(a.value.clone());
                }
                model.insert(key, m);
            }
            ChangeOp::Delete => {
                model.remove(&key);
            }
            ChangeOp::Modify(mods) => {
                let e = model.get_mut(&key).expect("modified entry exists in model");
                for m in mods {
                    let a = m.attribute.to_ascii_lowercase();
                    let vals: BTreeSet<Vec<u8>> = m.values.iter().cloned().collect();
                    match m.op {
                        ModOp::Add => e.entry(a).or_default().extend(vals),
                        ModOp::Replace | ModOp::Delete if m.values.is_empty() => {
                            e.remove(&a);
                        }
                        ModOp::Replace => {
                            e.insert(a, vals);
                        }
                        ModOp::Delete => {
                            let set = e.entry(a.clone()).or_default();
                            set.retain(|v| !vals.contains(v));
                            if set.is_empty() {
                                e.remove(&a);
                            }
                        }
                        ModOp::Increment => panic!("not modelled"),
                    }
                }
            }
            ChangeOp::ModDn {
                new_rdn,
                delete_old_rdn,
                new_superior,
            } => {
                let parent = new_superior
                    .clone()
                    .or_else(|| c.dn.parent())
                    .expect("parent");
                let target = parent.child(new_rdn.clone());
                let mut e = model.remove(&key).expect("moved entry exists in model");
                let ava = |r: &Rdn| {
                    let a = r.avas().first().expect("ava");
                    (
                        a.attr_type().to_ascii_lowercase(),
                        a.text().expect("text").as_bytes().to_vec(),
                    )
                };
                if *delete_old_rdn {
                    let (t, v) = ava(c.dn.rdn().expect("rdn"));
                    if let Some(s) = e.get_mut(&t) {
                        s.remove(&v);
                    }
                }
                let (t, v) = ava(new_rdn);
                e.entry(t).or_default().insert(v);
                model.insert(target.normalized().to_string(), e);
            }
        }
    }
}

fn add(d: &str, attrs: &[(&str, &str)]) -> Change {
    Change::new(
        dn(d),
        ChangeOp::Add(attrs.iter().map(|(n, v)| Attr::new(*n, *v)).collect()),
    )
}

fn modify(d: &str, mods: &[(ModOp, &str, &[&str])]) -> Change {
    Change::new(
        dn(d),
        ChangeOp::Modify(
            mods.iter()
                .map(|(op, a, vs)| Modification {
                    op: *op,
                    attribute: a.to_string(),
                    values: vs.iter().map(|v| v.as_bytes().to_vec()).collect(),
                })
                .collect(),
        ),
    )
}

fn moddn(d: &str, rdn: &str, delete_old: bool, sup: Option<&str>) -> Change {
    Change::new(
        dn(d),
        ChangeOp::ModDn {
            new_rdn: Rdn::parse(rdn).unwrap_or_else(|e| panic!("{rdn}: {e}")),
            delete_old_rdn: delete_old,
            new_superior: sup.map(dn),
        },
    )
}

fn account_add(local: &str, domain_dn: &str, addr: &str, id: &str) -> Change {
    add(
        &format!("uid={local},ou=people,{domain_dn}"),
        &[
            ("objectClass", "inetOrgPerson"),
            ("objectClass", "zimbraAccount"),
            ("uid", local),
            ("cn", local),
            ("sn", local),
            ("mail", addr),
            ("zimbraId", id),
            ("zimbraAccountStatus", "active"),
            ("zimbraMailDeliveryAddress", addr),
            ("zimbraMailHost", "mail2.example.com"),
        ],
    )
}

const PEOPLE: &str = "ou=people,dc=example,dc=com";

#[test]
fn applies_a_move_plan_exactly() {
    if !slapd::tools_or_skip(&[SLAPD, SLAPADD, SLAPCAT, SLAPMODIFY]) {
        return;
    }
    let loaded = directory();
    let slapd = Slapd::start("apply", &loaded);
    let before = slapd.slapcat();
    assert_eq!(before, canon(&loaded));
    let changes = vec![
        add(
            "dc=net",
            &[
                ("objectClass", "dcObject"),
                ("objectClass", "organization"),
                ("dc", "net"),
                ("o", "net"),
            ],
        ),
        add(
            "dc=new,dc=net",
            &[
                ("objectClass", "dcObject"),
                ("objectClass", "organization"),
                ("objectClass", "zimbraDomain"),
                ("dc", "new"),
                ("o", "new.net domain"),
                ("zimbraId", "9a0b1c2d-3e4f-4a5b-8c6d-000000000099"),
                ("zimbraDomainName", "new.net"),
                ("zimbraDomainType", "local"),
            ],
        ),
        add(
            "ou=people,dc=new,dc=net",
            &[
                ("objectClass", "organizationalRole"),
                ("ou", "people"),
                ("cn", "people"),
            ],
        ),
        Change::new(dn(&format!("uid=user05,{PEOPLE}")), ChangeOp::Delete),
        account_add(
            "user05",
            "dc=new,dc=net",
            "user05@new.net",
            "5a8c2b1e-3d4f-4a6b-9c8d-000019000005",
        ),
        modify(
            &format!("uid=team,{PEOPLE}"),
            &[
                (
                    ModOp::Delete,
                    "zimbraMailForwardingAddress",
                    &["user01@example.com"],
                ),
                (
                    ModOp::Add,
                    "zimbraMailForwardingAddress",
                    &["user05@new.net"],
                ),
            ],
        ),
        modify(
            &format!("uid=user03,{PEOPLE}"),
            &[
                (ModOp::Replace, "zimbraMailHost", &["mail2.example.com"]),
                (
                    ModOp::Replace,
                    "zimbraMailTransport",
                    &["lmtp:mail2.example.com:7025"],
                ),
                (
                    ModOp::Add,
                    "zimbraMailAlias",
                    &["u3@example.com", "three@example.com"],
                ),
                (ModOp::Replace, "description", &[]),
            ],
        ),
        modify(
            &format!("uid=user01,{PEOPLE}"),
            &[
                (ModOp::Delete, "description", &[]),
                (ModOp::Delete, "jpegPhoto", &[]),
            ],
        ),
        moddn(&format!("uid=user04,{PEOPLE}"), "uid=user04b", true, None),
        moddn(
            &format!("uid=user06,{PEOPLE}"),
            "uid=user06",
            false,
            Some("ou=people,dc=new,dc=net"),
        ),
        Change::new(dn(&format!("uid=alias,{PEOPLE}")), ChangeOp::Delete),
    ];
    let mut expected = before.clone();
    apply_model(&mut expected, &changes);
    let plan = Plan::new(changes).unwrap_or_else(|e| panic!("{e}"));

    // Over the ldapi socket this time.
    let ldapi = ConnectOptions::new(slapd.ldapi_url()).bind(ADMIN, PASSWORD);
    let mut sink = LdapSink::connect(&ldapi).unwrap_or_else(|e| panic!("{e}"));
    let dry = sink.dry_run(&plan).unwrap_or_else(|e| panic!("{e}"));
    assert!(dry.warnings.is_empty(), "{dry}");
    assert_eq!(dry.operations.len(), plan.len());
    assert_eq!(slapd.slapcat(), before, "a dry run must write nothing");

    let mut sent = Vec::new();
    let report = sink.apply(plan.clone(), |op| sent.push(op.index));
    assert!(report.is_complete(), "{report}");
    assert_eq!(sent, (0..plan.len()).collect::<Vec<_>>());
    assert_eq!(report.applied, plan.operations());
    let after = slapd.slapcat();
    assert_ne!(after, before);
    assert_eq!(after, expected);
}

#[test]
fn a_failure_in_the_middle_reports_the_exact_applied_prefix() {
    if !slapd::tools_or_skip(&[SLAPD, SLAPADD, SLAPCAT, SLAPMODIFY]) {
        return;
    }
    let loaded = directory();
    let slapd = Slapd::start("partial", &loaded);
    let before = slapd.slapcat();
    let missing_parent = "uid=x,ou=people,dc=missing,dc=com";
    let changes = vec![
        modify(
            &format!("uid=user07,{PEOPLE}"),
            &[(ModOp::Replace, "description", &["first"])],
        ),
        modify(
            &format!("uid=user08,{PEOPLE}"),
            &[(ModOp::Replace, "description", &["second"])],
        ),
        account_add(
            "x",
            "dc=missing,dc=com",
            "x@missing.com",
            "5a8c2b1e-3d4f-4a6b-9c8d-0000000000aa",
        ),
        modify(
            &format!("uid=user09,{PEOPLE}"),
            &[(ModOp::Replace, "description", &["never"])],
        ),
        Change::new(dn(&format!("uid=user10,{PEOPLE}")), ChangeOp::Delete),
    ];
    let plan = Plan::new(changes.clone()).unwrap_or_else(|e| panic!("{e}"));
    let mut sink = LdapSink::connect(&slapd.options()).unwrap_or_else(|e| panic!("{e}"));

    // The dry run predicts the failure and writes nothing.
    let dry = sink.dry_run(&plan).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dry.warnings.len(), 1, "{dry}");
    assert_eq!(dry.warnings[0].index, 2);
    assert!(
        dry.warnings[0].message.contains("dc=missing,dc=com"),
        "{dry}"
    );
    assert_eq!(slapd.slapcat(), before);

    let report = sink.apply(plan, |_| {});
    let idx = |ops: &[Operation]| ops.iter().map(|o| o.index).collect::<Vec<_>>();
    assert_eq!(idx(&report.applied), vec![0, 1], "{report}");
    assert_eq!(idx(&report.not_applied), vec![3, 4], "{report}");
    let failed = report.failed.as_ref().expect("a failure");
    assert_eq!(failed.operation.index, 2);
    let server = failed.error.server().expect("a server error");
    assert_eq!(
        (server.operation, server.code, server.dn.as_str()),
        ("add", 32, missing_parent)
    );
    assert!(report.to_string().contains(missing_parent), "{report}");
    let mut expected = before.clone();
    apply_model(&mut expected, &changes[..2]);
    assert_eq!(
        slapd.slapcat(),
        expected,
        "exactly the reported prefix is on the server"
    );

    // A missing required attribute is refused locally now (issue 14.9), before anything is
    // sent; the server is left to refuse what only its schema knows: here an attribute the
    // entry's object classes do not allow. Its message names the attribute; with the DN.
    let no_status = add(
        &format!("uid=nostatus,{PEOPLE}"),
        &[
            ("objectClass", "inetOrgPerson"),
            ("objectClass", "zimbraAccount"),
            ("uid", "nostatus"),
            ("cn", "n"),
            ("sn", "n"),
            ("zimbraId", "5a8c2b1e-3d4f-4a6b-9c8d-0000000000bb"),
        ],
    );
    let err = Plan::new(vec![no_status]).expect_err("refused locally");
    assert!(err.to_string().contains("zimbraAccountStatus"), "{err}");
    let not_allowed = modify(
        &format!("uid=user12,{PEOPLE}"),
        &[(
            ModOp::Add,
            "zimbraDomainName",
            &["not-an-account-attribute.com"],
        )],
    );
    let changes2 = vec![
        modify(
            &format!("uid=user11,{PEOPLE}"),
            &[(ModOp::Add, "zimbraMailAlias", &["eleven@example.com"])],
        ),
        not_allowed,
        Change::new(dn(&format!("uid=user12,{PEOPLE}")), ChangeOp::Delete),
    ];
    let report = sink.apply(
        Plan::new(changes2.clone()).unwrap_or_else(|e| panic!("{e}")),
        |_| {},
    );
    assert_eq!(idx(&report.applied), vec![0]);
    assert_eq!(idx(&report.not_applied), vec![2]);
    let failed = report.failed.as_ref().expect("a failure");
    let server = failed.error.server().expect("a server error");
    assert_eq!(server.code, 65, "{server}");
    assert!(server.message.contains("zimbraDomainName"), "{server}");
    assert!(failed
        .error
        .to_string()
        .contains("uid=user12,ou=people,dc=example,dc=com"));
    apply_model(&mut expected, &changes2[..1]);
    assert_eq!(slapd.slapcat(), expected);
}

#[cfg(feature = "cli")]
#[test]
fn export_domain_and_apply_move_a_domain_between_servers() {
    if !slapd::tools_or_skip(&[SLAPD, SLAPADD, SLAPCAT, SLAPMODIFY]) {
        return;
    }
    let loaded = directory();
    let source_server = Slapd::start("cli-src", &loaded);
    // The target has the configuration branch and dc=com, but not the domain nor the COS
    // and server the domain uses.
    let moved: std::collections::HashSet<Dn> = [
        "cn=default,cn=cos,cn=zimbra",
        "cn=gold,cn=cos,cn=zimbra",
        "cn=mail1.example.com,cn=servers,cn=zimbra",
    ]
    .into_iter()
    .map(dn)
    .collect();
    let domain = dn("dc=example,dc=com");
    let target: Vec<Entry> = loaded
        .iter()
        .filter(|e| !e.dn.is_under(&domain) && !moved.contains(&e.dn))
        .cloned()
        .collect();
    let target_server = Slapd::start("cli-dst", &target);

    let pw = source_server.dir.join("pw");
    std::fs::write(&pw, format!("{PASSWORD}\n")).expect("password file");
    let out_file = source_server.dir.join("example.com.ldif");
    let run = |cmd: &mut Command| {
        let o = cmd.output().expect("run example");
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let export = |domain: &str| {
        let mut c = tool("export-domain");
        c.args([
            "--url",
            &source_server.url(),
            "--bind-dn",
            ADMIN,
            "--password-file",
        ])
        .arg(&pw)
        .args(["--domain", domain, "--page-size", "6", "--out"])
        .arg(&out_file);
        run(&mut c)
    };
    let (code, _, err) = export("example.com");
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("domain:") && err.contains("(done)"),
        "progress on stderr: {err}"
    );
    // A typo in --domain keeps the good export (issue 14): nothing is replaced, nothing left.
    let exported = std::fs::read(&out_file).expect("export written");
    let (code, _, err) = export("exmaple.com");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("exmaple.com"), "{err}");
    assert_eq!(std::fs::read(&out_file).expect("still there"), exported);
    let leftovers: Vec<_> = std::fs::read_dir(&source_server.dir)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let args = |dry: bool| {
        let mut c = tool("apply");
        c.args([
            "--url",
            &target_server.url(),
            "--bind-dn",
            ADMIN,
            "--password-file",
        ])
        .arg(&pw);
        if dry {
            c.arg("--dry-run");
        }
        c.arg(&out_file);
        c
    };
    let before = target_server.slapcat();
    let (code, out, err) = run(&mut args(true));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.starts_with("dry run: "), "{out}");
    assert_eq!(target_server.slapcat(), before);

    let (code, out, err) = run(&mut args(false));
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        target_server.slapcat(),
        canon(&loaded),
        "the target now holds the domain"
    );

    // Applying the same file again fails on the first add and says so.
    let (code, out, _) = run(&mut args(false));
    assert_eq!(code, Some(1));
    assert!(out.starts_with("applied 0 of"), "{out}");
    assert!(out.contains("entryAlreadyExists (68)"), "{out}");
}

// ---------------------------------------------------------------------------------------
// Live reads into typed directories, and move plans applied live.

#[test]
fn read_directory_types_the_live_tree_like_dit_reads_the_loaded_ldif() {
    if !slapd::tools_or_skip(&[SLAPD, SLAPADD, SLAPCAT, SLAPMODIFY]) {
        return;
    }
    let loaded = directory();
    let slapd = Slapd::start("dir", &loaded);

    // The whole tree, paged (size limit 10, pages of 7), typed while it streams.
    let want = dit::read_directory(&ldif_bytes(&loaded)[..]).expect("dit reads the fixture");
    let mut reports = Vec::new();
    let (got, summary) = source(&slapd, 7)
        .read_directory(&Export::Tree, |p| reports.push(*p))
        .unwrap_or_else(|e| panic!("read_directory: {e}"));
    assert_eq!(got, want, "live tree and slapadd-ed LDIF type the same");
    assert_eq!(got.account_count(), 25 + 12);
    assert!(got.domain("example.com").is_some() && got.domain("other.org").is_some());
    assert_eq!(summary.entries, loaded.len() as u64);
    assert!(summary.pages > 5, "{summary:?}");
    assert_eq!(
        reports.len() as u64,
        summary.pages,
        "progress after every page"
    );

    // One domain: its subtree, the COS and the server it uses, in the export's order.
    let base = dn("dc=example,dc=com");
    let mut subset: Vec<Entry> = loaded
        .iter()
        .filter(|e| e.dn.is_under(&base))
        .cloned()
        .collect();
    for extra in [
        "cn=default,cn=cos,cn=zimbra",
        "cn=gold,cn=cos,cn=zimbra",
        "cn=mail1.example.com,cn=servers,cn=zimbra",
    ] {
        subset.extend(loaded.iter().filter(|e| e.dn == dn(extra)).cloned());
    }
    let want = dit::read_directory(&ldif_bytes(&subset)[..]).expect("dit reads the subset");
    let (got, summary) = source(&slapd, 4)
        .read_directory(&Export::Domain("example.com".into()), |_| {})
        .unwrap_or_else(|e| panic!("read_directory example.com: {e}"));
    assert_eq!(got, want);
    assert_eq!(got.account_count(), 25);
    assert!(got.domain("other.org").is_none());
    assert!(got.cos("gold").is_some() && got.cos("default").is_some());
    assert!(got.server("mail1.example.com").is_some() && got.server("mail2.example.com").is_none());
    assert!(summary.missing_cos.is_empty() && summary.missing_servers.is_empty());

    // Errors end the read with the error, never with a directory of a truncated stream.
    let err = source(&slapd, 0)
        .read_directory(&Export::Tree, |_| {})
        .expect_err("size limit without paging");
    assert!(
        matches!(
            err,
            LdapError::SizeLimitExceeded {
                returned: 10,
                paged: false,
                ..
            }
        ),
        "{err}"
    );
    let err = source(&slapd, 4)
        .read_directory(&Export::Domain("nowhere.net".into()), |_| {})
        .expect_err("missing domain");
    assert!(matches!(err, LdapError::NoSuchDomain { .. }), "{err}");
}

const GOLD_SRC: &str = "6a0d0c2e-1111-4111-8111-000000000001";
const SILVER_SRC: &str = "6a0d0c2e-1111-4111-8111-000000000002";

/// The source installation of the move tests, built with the crate's zmprov and written as
/// `dit` writes a directory for slapadd: company.com on mbx1.old.net, accounts in COS gold
/// (the target has one of that name: mapped) and silver (the target lacks it: copied), an
/// alias and a list; other.org stays behind. Returned as the `slapcat` of that directory.
fn move_source_ldif() -> Vec<u8> {
    let mut d = Directory::new();
    d.ids = IdGenerator::new(11);
    zmprov::run(
        &mut d,
        &format!(
            "cs mbx1.old.net\n\
             cc gold zimbraId {GOLD_SRC} zimbraMailQuota 1024\n\
             cc silver zimbraId {SILVER_SRC} zimbraMailQuota 512\n\
             cd company.com zimbraDomainDefaultCOSId {GOLD_SRC}\n\
             cd other.org\n\
             ca alice@company.com pw displayName Alice\n\
             ca bob@company.com pw zimbraCOSId {SILVER_SRC}\n\
             ca carol@company.com pw\n\
             ca dave@company.com pw description Dave\n\
             ca erin@other.org pw\n\
             aaa alice@company.com al@company.com\n\
             cdl team@company.com\n\
             adlm team@company.com alice@company.com bob@company.com erin@other.org\n"
        ),
    )
    .expect("source script");
    let mut out = Vec::new();
    dit::write_directory(&d, &mut out, &WriteOptions::slapadd()).expect("write source");
    // Through slapadd and slapcat, as a real source dump is: with entryUUID, entryCSN,
    // createTimestamp and the rest, which an LDAP add may not set.
    let (dir, conf) = temp_config("move-src");
    let _cleanup = TempDir(dir.clone());
    std::fs::write(dir.join("source.ldif"), &out).expect("write source.ldif");
    slapd::offline(SLAPADD, &conf, &dir.join("source.ldif"));
    let dump = ldif_bytes(&slapcat_entries(&conf));
    assert!(dump.windows(10).any(|w| w == b"entryUUID:"));
    dump
}

/// The target of the move tests: the live fixture plus `lists.migrate.company.com`, so
/// `dc=migrate,dc=company,dc=com` exists as a plain parent entry and the renamed domain is
/// merged into it by a change record (what Zimbra's createDomain does).
fn move_target() -> Vec<Entry> {
    let mut t = directory();
    t.push(entry(
        "dc=company,dc=com",
        &[
            ("objectClass", b"dcObject"),
            ("objectClass", b"organization"),
            ("dc", b"company"),
            ("o", b"company"),
        ],
    ));
    t.push(entry(
        "dc=migrate,dc=company,dc=com",
        &[
            ("objectClass", b"dcObject"),
            ("objectClass", b"organization"),
            ("dc", b"migrate"),
            ("o", b"migrate"),
        ],
    ));
    t.push(entry(
        "dc=lists,dc=migrate,dc=company,dc=com",
        &[
            ("objectClass", b"dcObject"),
            ("objectClass", b"organization"),
            ("objectClass", b"zimbraDomain"),
            ("dc", b"lists"),
            ("o", b"lists.migrate.company.com domain"),
            ("zimbraId", b"9a0b1c2d-3e4f-4a5b-8c6d-0000000000ff"),
            ("zimbraDomainName", b"lists.migrate.company.com"),
            ("zimbraDomainType", b"local"),
            ("zimbraDomainStatus", b"active"),
        ],
    ));
    t
}

/// `--rename migrate.company.com --map-host mbx1.old.net=mail1.example.com`.
fn move_options() -> MoveOptions {
    MoveOptions {
        rename: Some("migrate.company.com".into()),
        map_hosts: vec![("mbx1.old.net".into(), "mail1.example.com".into())],
        ..MoveOptions::default()
    }
}

/// Attributes each server generates for itself; everything else must agree.
const SERVER_GENERATED: &[&str] = &[
    "entryuuid",
    "entrycsn",
    "createtimestamp",
    "modifytimestamp",
    "creatorsname",
    "modifiersname",
];

/// Like [`canon`], but keeping structuralObjectClass (both routes compute it the same way).
fn canon_all(entries: &[Entry]) -> Canon {
    let mut out = Canon::new();
    for e in entries {
        let attrs = out.entry(e.dn.normalized().to_string()).or_default();
        for (d, v) in e.iter() {
            let d = d.to_ascii_lowercase();
            if !SERVER_GENERATED.contains(&d.as_str()) {
                attrs.entry(d).or_default().insert(v.to_vec());
            }
        }
    }
    out
}

/// A temp dir removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The offline route: `target` slapadd-ed into a fresh mdb, then the plan's slapadd LDIF,
/// then its change records with slapmodify; slapcat of the result.
fn offline_route(tag: &str, target: &[Entry], plan: &MovePlan) -> Vec<Entry> {
    let (dir, conf) = temp_config(tag);
    let _cleanup = TempDir(dir.clone());
    write_ldif(&dir.join("target.ldif"), target);
    slapd::offline(SLAPADD, &conf, &dir.join("target.ldif"));
    let mut adds = Vec::new();
    plan.write_ldif(&mut adds).expect("plan LDIF");
    std::fs::write(dir.join("move.ldif"), &adds).expect("write move.ldif");
    slapd::offline(SLAPADD, &conf, &dir.join("move.ldif"));
    if !plan.changes.is_empty() {
        let mut changes = Vec::new();
        plan.write_changes(&mut changes).expect("plan changes");
        std::fs::write(dir.join("changes.ldif"), &changes).expect("write changes.ldif");
        slapd::offline(SLAPMODIFY, &conf, &dir.join("changes.ldif"));
    }
    slapcat_entries(&conf)
}

fn assert_same_entries(live: &Canon, offline: &Canon) {
    let l: BTreeSet<&String> = live.keys().collect();
    let o: BTreeSet<&String> = offline.keys().collect();
    assert_eq!(l, o, "entry sets differ");
    for (dn, attrs) in live {
        assert_eq!(Some(attrs), offline.get(dn), "{dn} differs");
    }
}

#[test]
fn a_move_plan_applied_live_equals_the_offline_slapadd_route() {
    if !slapd::tools_or_skip(&[SLAPD, SLAPADD, SLAPCAT, SLAPMODIFY]) {
        return;
    }
    let target = move_target();
    let slapd = Slapd::start("move", &target);
    let src = move_source_ldif();
    let opts = move_options();

    // Planned against the live target, streamed from the server (paged) into dit's planner.
    let live_target = source(&slapd, 7).entries(Export::Tree, |_| {});
    let plan = read_entries(live_target, |it| {
        dit::plan_move(
            EntryReader::new(&src[..]),
            it.map(|e| Ok(to_raw_entry(e))),
            "company.com",
            &opts,
        )
    })
    .unwrap_or_else(|e| panic!("plan against the live target: {e}"));
    let from_ldif = dit::plan_move_ldif(&src[..], &ldif_bytes(&target)[..], "company.com", &opts)
        .expect("plan against the target's LDIF");
    assert_eq!(plan, from_ldif, "live and LDIF targets plan the same move");
    assert!(plan.is_clean(), "{plan}");
    assert_eq!(plan.new_domain, "migrate.company.com");
    assert_eq!(plan.changes.len(), 1, "the merge into dc=migrate: {plan}");
    let entries = plan.entries.to_vec().expect("entries");
    assert!(entries.iter().any(|e| e.dn == "cn=silver,cn=cos,cn=zimbra"));
    let alice = entries
        .iter()
        .find(|e| e.dn == "uid=alice,ou=people,dc=migrate,dc=company,dc=com")
        .expect("alice planned");
    assert_eq!(
        alice.attrs.first("zimbraMailHost"),
        Some("mail1.example.com")
    );

    let ops = Plan::from_move(&plan).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ops.len(), plan.entries.len() + plan.changes.len());
    for (op, planned) in ops.operations().iter().zip(&entries) {
        assert_eq!(op.kind(), "add");
        assert_eq!(op.change.dn.as_str(), planned.dn);
    }
    assert_eq!(ops.operations().last().map(Operation::kind), Some("modify"));

    let before = slapd.slapcat();
    let mut sink = LdapSink::connect(&slapd.options()).unwrap_or_else(|e| panic!("{e}"));
    let dry = sink.dry_run(&ops).unwrap_or_else(|e| panic!("{e}"));
    assert!(dry.warnings.is_empty(), "{dry}");
    assert_eq!(slapd.slapcat(), before, "a dry run writes nothing");
    let report = sink.apply(ops.clone(), |_| {});
    assert!(report.is_complete(), "{report}");
    assert_eq!(report.applied, ops.operations());

    let live = canon_all(&slapcat_entries(&slapd.conf));
    let offline = canon_all(&offline_route("move-offline", &target, &plan));
    assert_eq!(live.len(), target.len() + plan.entries.len());
    assert_same_entries(&live, &offline);
    let merged = live
        .get(dn("dc=migrate,dc=company,dc=com").normalized())
        .expect("merged domain");
    assert!(merged["objectclass"].contains(b"zimbraDomain".as_slice()));
    assert!(merged["zimbradomainname"].contains(b"migrate.company.com".as_slice()));
}

#[test]
fn a_move_plan_failing_in_the_middle_reports_the_exact_prefix() {
    if !slapd::tools_or_skip(&[SLAPD, SLAPADD, SLAPCAT, SLAPMODIFY]) {
        return;
    }
    let target = move_target();
    let slapd = Slapd::start("move-fail", &target);
    let src = move_source_ldif();
    let plan = dit::plan_move_ldif(
        &src[..],
        &ldif_bytes(&target)[..],
        "company.com",
        &move_options(),
    )
    .expect("plan");
    assert!(plan.is_clean(), "{plan}");
    let ops = Plan::from_move(&plan).unwrap_or_else(|e| panic!("{e}"));
    let n = ops.len();

    // After planning, someone creates one of the plan's entries on the target: the last
    // planned add whose parent the target already has, so it can be created on its own.
    let target_dns: BTreeSet<String> = target
        .iter()
        .map(|e| e.dn.normalized().to_string())
        .collect();
    let k = ops
        .operations()
        .iter()
        .rposition(|op| {
            op.kind() == "add"
                && op
                    .change
                    .dn
                    .parent()
                    .is_some_and(|p| target_dns.contains(p.normalized()))
        })
        .expect("an add below an existing entry");
    assert!(
        k > 0 && k + 1 < n,
        "failure must be in the middle: {k} of {n}"
    );
    let failing_dn = ops.operations()[k].change.dn.clone();
    let mut squatter = ops.operations()[k].change.clone();
    if let ChangeOp::Add(attrs) = &mut squatter.op {
        attrs.retain(|a| !a.description.eq_ignore_ascii_case("description"));
        attrs.push(Attr::new("description", "created by someone else"));
    }
    let mut sink = LdapSink::connect(&slapd.options()).unwrap_or_else(|e| panic!("{e}"));
    let pre = sink.apply(
        Plan::new(vec![squatter.clone()]).unwrap_or_else(|e| panic!("{e}")),
        |_| {},
    );
    assert!(pre.is_complete(), "{pre}");
    let before = slapd.slapcat();

    let mut sent = Vec::new();
    let report = sink.apply(ops.clone(), |op| sent.push(op.index));
    let idx = |ops: &[Operation]| ops.iter().map(|o| o.index).collect::<Vec<_>>();
    assert_eq!(idx(&report.applied), (0..k).collect::<Vec<_>>(), "{report}");
    assert_eq!(
        idx(&report.not_applied),
        (k + 1..n).collect::<Vec<_>>(),
        "{report}"
    );
    assert_eq!(
        sent,
        (0..=k).collect::<Vec<_>>(),
        "nothing sent after the failure"
    );
    let failed = report.failed.as_ref().expect("a failure");
    assert_eq!(failed.operation, ops.operations()[k]);
    let server = failed.error.server().expect("the server's answer");
    assert_eq!(
        (
            server.operation,
            server.code,
            server.code_name(),
            server.dn.as_str()
        ),
        ("add", 68, "entryAlreadyExists", failing_dn.as_str()),
        "{server}"
    );
    let text = report.to_string();
    assert!(
        text.starts_with(&format!("applied {k} of {n} operations")),
        "{text}"
    );
    assert!(
        text.contains(&format!("FAILED       #{} add {failing_dn}", k + 1)),
        "{text}"
    );
    assert!(text.contains("entryAlreadyExists (68)"), "{text}");

    // slapcat shows exactly the target, the squatter and the applied prefix.
    let mut expected = before;
    let prefix: Vec<Change> = ops.operations()[..k]
        .iter()
        .map(|o| o.change.clone())
        .collect();
    apply_model(&mut expected, &prefix);
    assert_eq!(slapd.slapcat(), expected);
    let squatted = &slapd.slapcat()[failing_dn.normalized()];
    assert!(squatted["description"].contains(b"created by someone else".as_slice()));
}

#[test]
fn a_move_plan_with_conflicts_is_refused_before_any_operation() {
    if !slapd::tools_or_skip(&[SLAPD, SLAPADD, SLAPCAT, SLAPMODIFY]) {
        return;
    }
    let target = move_target();
    let src = move_source_ldif();
    // Without the host map the target has no server for mbx1.old.net.
    let opts = MoveOptions {
        map_hosts: Vec::new(),
        ..move_options()
    };
    let plan = dit::plan_move_ldif(&src[..], &ldif_bytes(&target)[..], "company.com", &opts)
        .expect("plan");
    assert!(!plan.is_clean());
    match Plan::from_move(&plan) {
        Err(LdapError::MoveConflicts { domain, conflicts }) => {
            assert_eq!(domain, "company.com");
            assert_eq!(conflicts, plan.conflicts);
            assert!(conflicts.iter().any(|c| matches!(
                c,
                dit::Conflict::MailHostUnknown { host, .. } if host == "mbx1.old.net"
            )));
        }
        other => panic!("expected MoveConflicts, got {other:?}"),
    }
}

#[cfg(feature = "cli")]
#[test]
fn apply_move_from_plans_against_the_live_target_and_applies() {
    if !slapd::tools_or_skip(&[SLAPD, SLAPADD, SLAPCAT, SLAPMODIFY]) {
        return;
    }
    let target = move_target();
    let slapd = Slapd::start("cli-move", &target);
    let src = move_source_ldif();
    let src_file = slapd.dir.join("source.ldif");
    std::fs::write(&src_file, &src).expect("write source");
    let pw = slapd.dir.join("pw");
    std::fs::write(&pw, format!("{PASSWORD}\n")).expect("password file");
    let run = |dry: bool, map_host: bool| {
        let mut c = tool("apply");
        c.args(["--url", &slapd.url(), "--bind-dn", ADMIN, "--password-file"])
            .arg(&pw);
        if dry {
            c.arg("--dry-run");
        }
        c.arg("--move-from").arg(&src_file).args([
            "--domain",
            "company.com",
            "--rename",
            "migrate.company.com",
        ]);
        if map_host {
            c.args(["--map-host", "mbx1.old.net=mail1.example.com"]);
        }
        let o = c.output().expect("run apply");
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let before = slapd.slapcat();

    // Without the host map: refused with the conflict, nothing sent.
    let (code, out, err) = run(false, false);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.contains("conflict") && err.contains("mbx1.old.net"),
        "{err}"
    );
    assert!(out.is_empty(), "{out}");
    assert_eq!(slapd.slapcat(), before);

    let (code, out, err) = run(true, true);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.starts_with("dry run: 10 operations"), "{out}");
    assert!(
        err.contains("move of company.com as migrate.company.com"),
        "{err}"
    );
    assert_eq!(slapd.slapcat(), before);

    let (code, out, err) = run(false, true);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.starts_with("applied 10 of 10 operations"), "{out}");
    let plan = dit::plan_move_ldif(
        &src[..],
        &ldif_bytes(&target)[..],
        "company.com",
        &move_options(),
    )
    .expect("plan");
    assert_same_entries(
        &canon_all(&slapcat_entries(&slapd.conf)),
        &canon_all(&offline_route("cli-move-offline", &target, &plan)),
    );

    // Bad usage: a change file and --move-from together.
    let o = tool("apply")
        .args(["--url", &slapd.url(), "--bind-dn", ADMIN, "--password-file"])
        .arg(&pw)
        .arg("--move-from")
        .arg(&src_file)
        .args(["--domain", "company.com", "changes.ldif"])
        .output()
        .expect("run apply");
    assert_eq!(o.status.code(), Some(2));
}
