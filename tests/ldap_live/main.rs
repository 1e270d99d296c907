//! Live-LDAP tests (feature `ldap`) against a real OpenLDAP slapd started by the test
//! (`support/live.rs`):
//! temp dir, mdb, suffix "", core/cosine/inetorgperson/dyngroup plus the crate's generated
//! Zimbra schema, a size limit of 10 entries (paged searches are unlimited), listening on
//! 127.0.0.1 on a free port and on an ldapi socket in the temp dir; stopped by pid on drop.
//!
//! The tests bind as `uid=zimbra,cn=admins,cn=zimbra` (not the rootdn, which limits do not
//! apply to). Needs Debian's slapd; without it they fail unless `ZIMBRA_PROV_SKIP_SERVICES=1`.
#![cfg(feature = "ldap")]

#[path = "../support/slapd.rs"]
mod slapd;

#[path = "../support/live.rs"]
mod live;

// move plans made offline and applied to the live server
mod move_plans;

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
        (server.operation(), server.code(), server.dn()),
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
    assert_eq!(server.code(), 65, "{server}");
    assert!(server.message().contains("zimbraDomainName"), "{server}");
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
