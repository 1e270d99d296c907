//! Proof in a real slapd: a domain move plan loads with `slapadd -o value-check=yes` (no `-c`)
//! on top of the target directory, and `slapcat` then shows exactly the target's entries plus
//! the planned ones, value for value.
//!
//! Needs Debian's `slapd` (slapadd, slapcat, back_mdb). Without it the test fails, unless
//! `ZIMBRA_PROV_SKIP_SERVICES=1` is set (then it prints that it skipped).

#[path = "support/slapd.rs"]
mod slapd;

use slapd::{TempDir, SLAPADD, SLAPCAT};

use std::collections::BTreeMap;
use std::path::Path;

use zimbra_prov::dit::{
    self, Conflict, DitError, EntryKind, IdPolicy, MoveOptions, MovePlan, WriteOptions,
};
use zimbra_prov::dn::Dn;
use zimbra_prov::model::{AttrBag, Directory, DynamicGroup, IdGenerator, RawEntry};
use zimbra_prov::zmprov;

fn slapadd(conf: &Path, ldif: &Path) {
    slapd::offline(SLAPADD, conf, ldif);
}

fn slapcat(conf: &Path) -> Vec<RawEntry> {
    dit::EntryReader::new(&slapd::slapcat_output(conf)[..])
        .collect::<Result<_, _>>()
        .expect("slapcat LDIF")
}

type Values = BTreeMap<String, Vec<Vec<u8>>>;

fn values(e: &RawEntry, drop_operational: bool) -> Values {
    let mut m: Values = BTreeMap::new();
    for a in e.attrs.iter() {
        let n = a.name().to_ascii_lowercase();
        if drop_operational && slapd::OPERATIONAL.contains(&n.as_str()) {
            continue;
        }
        let v = m.entry(n).or_default();
        v.extend(a.values().map(|x| x.as_bytes().to_vec()));
        v.sort();
    }
    m
}

fn by_dn(entries: &[RawEntry], drop_operational: bool) -> BTreeMap<String, Values> {
    entries
        .iter()
        .map(|e| {
            let dn = Dn::parse(&e.dn).expect("dn").normalized().to_string();
            (dn, values(e, drop_operational))
        })
        .collect()
}

fn source() -> Directory {
    let mut d = Directory::new();
    d.ids = IdGenerator::new(11);
    zmprov::run(
        &mut d,
        "cs mbx1.old.net\n\
         cc gold zimbraId 6a0d0c2e-1111-4111-8111-000000000001 zimbraMailQuota 1024\n\
         cd company.com zimbraDomainDefaultCOSId 6a0d0c2e-1111-4111-8111-000000000001\n\
         cad alias.company.com company.com\n\
         cd other.org\n\
         ca alice@company.com pw displayName Alice\n\
         ca bob@company.com pw zimbraCOSId 6a0d0c2e-1111-4111-8111-000000000001\n\
         ca carol@other.org pw\n\
         aaa alice@company.com al@company.com\n\
         aaa alice@company.com al@alias.company.com\n\
         cdl team@company.com\n\
         adlm team@company.com alice@company.com bob@company.com carol@other.org\n\
         md company.com zimbraMailCatchAllAddress @company.com zimbraPreAuthKey 0123456789abcdef\n",
    )
    .expect("source script");
    // zmprov (the crate's) has no cddl: build the dynamic group and its unit as Zimbra does
    let gid = "7b1e0000-2222-4222-8222-000000000001";
    let unit = "7b1e0000-2222-4222-8222-000000000002";
    let mut g = DynamicGroup {
        name: "dyn@company.com".parse().expect("address"),
        dn: None,
        attrs: AttrBag::new(),
    };
    g.attrs.set(
        "objectClass",
        ["groupOfURLs", "dgIdentityAux", "zimbraGroup"],
    );
    g.attrs.set_one("cn", "dyn");
    g.attrs.set_one("mail", "dyn@company.com");
    g.attrs.set_one("zimbraMailAlias", "dyn@company.com");
    g.attrs.set_one("zimbraId", gid);
    g.attrs.set_one(
        "memberURL",
        format!("ldap:///??sub?(|(zimbraMemberOf={gid})(zimbraId={unit}))"),
    );
    g.attrs.set_one("zimbraIsACLGroup", "TRUE");
    g.attrs.set_one("zimbraMailStatus", "enabled");
    d.insert_group(g).expect("group");
    let mut u = AttrBag::new();
    u.set(
        "objectClass",
        ["groupOfURLs", "dgIdentityAux", "zimbraGroupDynamicUnit"],
    );
    u.set_one("cn", "internal");
    u.set_one("memberURL", format!("ldap:///??sub?(zimbraMemberOf={gid})"));
    u.set_one("zimbraGroupId", gid);
    u.set_one("zimbraId", unit);
    u.set_one("zimbraMailAlias", "dyn.__internal__@company.com");
    d.other_entries.push(RawEntry {
        dn: "cn=internal,cn=dyn,cn=groups,dc=company,dc=com".into(),
        attrs: u,
    });
    if let Some(a) = d.account_mut("alice@company.com") {
        a.attrs.set_one("zimbraMemberOf", gid);
    }
    d
}

fn target(id_seed: u64) -> Directory {
    let mut d = Directory::new();
    d.ids = IdGenerator::new(id_seed);
    zmprov::run(
        &mut d,
        "cs mbx9.new.net\ncd existing.org\nca admin@existing.org pw\n",
    )
    .expect("target script");
    d
}

fn to_ldif(dir: &Directory, path: &Path) -> Vec<RawEntry> {
    let mut out = Vec::new();
    dit::write_directory(dir, &mut out, &WriteOptions::slapadd()).expect("write directory");
    std::fs::write(path, &out).expect("write ldif");
    dit::EntryReader::new(&out[..])
        .collect::<Result<_, _>>()
        .expect("reread")
}

/// Plans the move, loads target + plan in slapd, compares slapcat with the expectation.
/// Returns the plan and the source entries for scenario-specific checks.
fn prove(
    tag: &str,
    src: &Directory,
    dst: &Directory,
    opts: &MoveOptions,
) -> Option<(MovePlan, Vec<RawEntry>)> {
    if !slapd::tools_or_skip(&[SLAPADD, SLAPCAT]) {
        return None;
    }
    let tmp = TempDir::new(tag);
    let conf = slapd::write_config(tmp.root(), 268435456);
    let src_entries = to_ldif(src, &tmp.path("source.ldif"));
    let dst_entries = to_ldif(dst, &tmp.path("target.ldif"));
    let plan = dit::plan_move_ldif(
        std::io::BufReader::new(std::fs::File::open(tmp.path("source.ldif")).expect("open")),
        std::io::BufReader::new(std::fs::File::open(tmp.path("target.ldif")).expect("open")),
        "company.com",
        opts,
    )
    .expect("plan");
    assert!(plan.is_clean(), "{plan}");
    assert!(plan.changes.is_empty());
    let mut out = Vec::new();
    plan.write_ldif(&mut out).expect("write plan");
    assert!(!out.starts_with(b"version"));
    std::fs::write(tmp.path("move.ldif"), &out).expect("write move");
    slapadd(&conf, &tmp.path("target.ldif"));
    slapadd(&conf, &tmp.path("move.ldif"));
    let got = by_dn(&slapcat(&conf), true);
    let mut want = by_dn(&dst_entries, false);
    let planned: Vec<RawEntry> = plan
        .entries
        .to_vec()
        .expect("entries")
        .into_iter()
        .map(|p| RawEntry {
            dn: p.dn.clone(),
            attrs: p.attrs.clone(),
        })
        .collect();
    for (dn, v) in by_dn(&planned, false) {
        assert!(
            want.insert(dn.clone(), v).is_none(),
            "{dn} planned twice or already in the target"
        );
    }
    assert_eq!(
        got.len(),
        want.len(),
        "entry count differs: got {:?}",
        got.keys().collect::<Vec<_>>()
    );
    for (dn, w) in &want {
        let g = got
            .get(dn)
            .unwrap_or_else(|| panic!("{dn} missing after slapadd"));
        assert_eq!(g, w, "{dn} differs after slapadd");
    }
    Some((plan, src_entries))
}

/// Names of the attributes whose values differ between a planned entry and its source entry.
fn changed_attrs(plan: &MovePlan, src: &[RawEntry]) -> BTreeMap<String, Vec<String>> {
    let src = by_dn(src, false);
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in plan.entries.to_vec().expect("entries") {
        let Some(sdn) = &p.source_dn else { continue };
        let s = src
            .get(Dn::parse(sdn).expect("dn").normalized())
            .expect("source entry");
        let planned = values(
            &RawEntry {
                dn: p.dn.clone(),
                attrs: p.attrs.clone(),
            },
            false,
        );
        let names: std::collections::BTreeSet<&String> = s.keys().chain(planned.keys()).collect();
        for n in names {
            if s.get(n) != planned.get(n) {
                out.entry(n.clone()).or_default().push(p.dn.clone());
            }
        }
    }
    out
}

#[test]
fn plain_move_loads_and_changes_nothing() {
    let opts = MoveOptions {
        include_servers: true,
        ..Default::default()
    };
    let Some((plan, src)) = prove("plain", &source(), &target(22), &opts) else {
        return;
    };
    let counts = plan.counts();
    assert_eq!(counts.get(&EntryKind::Account), Some(&2));
    assert_eq!(counts.get(&EntryKind::Alias), Some(&2));
    assert_eq!(counts.get(&EntryKind::DistributionList), Some(&1));
    assert_eq!(counts.get(&EntryKind::DynamicGroup), Some(&1));
    assert_eq!(
        counts.get(&EntryKind::Domain),
        Some(&2),
        "domain and its alias domain"
    );
    assert_eq!(counts.get(&EntryKind::Cos), Some(&1), "gold is copied");
    assert_eq!(
        counts.get(&EntryKind::Server),
        Some(&1),
        "mbx1.old.net is copied"
    );
    assert!(
        changed_attrs(&plan, &src).is_empty(),
        "{:?}",
        changed_attrs(&plan, &src)
    );
    assert!(plan
        .entries
        .to_vec()
        .expect("entries")
        .into_iter()
        .all(|e| !e.dn.contains("other")));
    assert!(plan.follow_ups.iter().any(|f| matches!(f, dit::FollowUp::AuthKeys { domain_keys, .. } if domain_keys == &["zimbraPreAuthKey"])));
}

#[test]
fn move_with_rename_and_host_map() {
    let opts = MoveOptions {
        rename: Some("migrate.company.com".into()),
        map_hosts: vec![("mbx1.old.net".into(), "mbx9.new.net".into())],
        ..Default::default()
    };
    let Some((plan, src)) = prove("rename", &source(), &target(22), &opts) else {
        return;
    };
    let changed = changed_attrs(&plan, &src);
    let allowed = [
        "mail",
        "zimbramailalias",
        "zimbramailforwardingaddress",
        "zimbramaildeliveryaddress",
        "zimbramailcatchalladdress",
        "zimbradomainname",
        "o",
        "dc",
        "zimbramailhost",
        "zimbramailtransport",
    ];
    for k in changed.keys() {
        assert!(
            allowed.contains(&k.as_str()),
            "{k} changed: {:?}",
            changed[k]
        );
    }
    let alice = plan
        .entries
        .to_vec()
        .expect("entries")
        .into_iter()
        .find(|e| e.dn == "uid=alice,ou=people,dc=migrate,dc=company,dc=com")
        .expect("alice");
    assert_eq!(
        alice.attrs.strs("zimbraMailAlias"),
        ["al@migrate.company.com", "al@alias.company.com"]
    );
    assert_eq!(alice.attrs.first("zimbraMailHost"), Some("mbx9.new.net"));
    let team = plan
        .entries
        .to_vec()
        .expect("entries")
        .into_iter()
        .find(|e| e.kind == EntryKind::DistributionList)
        .expect("team");
    assert_eq!(
        team.attrs.strs("zimbraMailForwardingAddress"),
        [
            "alice@migrate.company.com",
            "bob@migrate.company.com",
            "carol@other.org"
        ]
    );
    // the parent of the renamed domain is created as a plain dc entry
    let parent = plan
        .entries
        .to_vec()
        .expect("entries")
        .into_iter()
        .find(|e| e.dn == "dc=company,dc=com")
        .expect("parent");
    assert_eq!(parent.kind, EntryKind::ParentDomain);
    assert!(plan
        .follow_ups
        .iter()
        .any(|f| matches!(f, dit::FollowUp::MailboxData { .. })));
}

#[test]
fn move_with_regenerated_ids() {
    // the target was installed from the same id sequence: every id collides
    let src = source();
    let dst = target(11);
    let keep = dit::plan_move_dirs(
        &src,
        &dst,
        "company.com",
        &MoveOptions {
            include_servers: true,
            ..Default::default()
        },
    )
    .expect("plan");
    assert!(
        keep.conflicts
            .iter()
            .any(|c| matches!(c, Conflict::IdInUse { .. })),
        "{keep}"
    );
    let opts = MoveOptions {
        include_servers: true,
        ids: IdPolicy::RegenerateOnCollision,
        ..Default::default()
    };
    let Some((plan, src_entries)) = prove("ids", &src, &dst, &opts) else {
        return;
    };
    assert!(!plan.id_map.is_empty());
    let changed = changed_attrs(&plan, &src_entries);
    let allowed = [
        "zimbraid",
        "zimbraaliastargetid",
        "zimbracosid",
        "zimbradomaindefaultcosid",
        "zimbradomainaliastargetid",
        "memberurl",
        "zimbramemberof",
        "zimbragroupid",
        "zimbramailhostpool",
    ];
    for k in changed.keys() {
        assert!(
            allowed.contains(&k.as_str()),
            "{k} changed: {:?}",
            changed[k]
        );
    }
    // references follow the new ids
    let alice = plan
        .entries
        .to_vec()
        .expect("entries")
        .into_iter()
        .find(|e| e.dn.starts_with("uid=alice,"))
        .expect("alice");
    let alice_id = alice.attrs.first("zimbraId").expect("id");
    for al in plan
        .entries
        .to_vec()
        .expect("entries")
        .into_iter()
        .filter(|e| e.kind == EntryKind::Alias)
    {
        assert_eq!(al.attrs.first("zimbraAliasTargetId"), Some(alice_id));
    }
}

#[test]
fn conflicting_domain_is_refused_before_writing() {
    let src = source();
    let mut dst = target(22);
    zmprov::run(&mut dst, "cd company.com").expect("script");
    let plan = dit::plan_move_dirs(
        &src,
        &dst,
        "company.com",
        &MoveOptions {
            include_servers: true,
            ..Default::default()
        },
    )
    .expect("plan");
    assert!(
        plan.conflicts
            .iter()
            .any(|c| matches!(c, Conflict::DomainExists { domain, .. } if domain == "company.com")),
        "{plan}"
    );
    let mut out = Vec::new();
    assert!(matches!(
        plan.write_ldif(&mut out),
        Err(DitError::Conflicts { .. })
    ));
    assert!(out.is_empty());
}

#[test]
fn unique_mail_clash_is_caught_by_the_report_not_by_slapadd() {
    let src = source();
    let mut dst = target(22);
    if let Some(a) = dst.account_mut("admin@existing.org") {
        a.attrs.add("mail", "bob@company.com");
    }
    let plan = dit::plan_move_dirs(
        &src,
        &dst,
        "company.com",
        &MoveOptions {
            include_servers: true,
            ..Default::default()
        },
    )
    .expect("plan");
    let clash = plan.conflicts.iter().find_map(|c| match c {
        Conflict::AddressInUse {
            address, target_dn, ..
        } => Some((address.clone(), target_dn.clone())),
        _ => None,
    });
    assert_eq!(
        clash,
        Some((
            "bob@company.com".to_string(),
            "uid=admin,ou=people,dc=existing,dc=org".to_string()
        )),
        "{plan}"
    );
    let mut out = Vec::new();
    assert!(plan.write_ldif(&mut out).is_err());
    assert!(out.is_empty());
    // without the clash the same move is clean
    let plan = dit::plan_move_dirs(
        &src,
        &target(22),
        "company.com",
        &MoveOptions {
            include_servers: true,
            ..Default::default()
        },
    )
    .expect("plan");
    assert!(plan.is_clean(), "{plan}");
}
