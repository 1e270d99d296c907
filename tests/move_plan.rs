//! Move plans without slapd: conflicts of every kind, COS handling, merges into existing
//! parent entries.

use zimbra_prov::dit::{self, Conflict, EntryKind, FollowUp, MoveOptions, TokenKeys};
use zimbra_prov::ldif::ChangeOp;
use zimbra_prov::model::{Directory, IdGenerator};
use zimbra_prov::zmprov;

fn dir(seed: u64, script: &str) -> Directory {
    let mut d = Directory::new();
    d.ids = IdGenerator::new(seed);
    zmprov::run(&mut d, script).expect("script");
    d
}

const GOLD: &str = "6a0d0c2e-1111-4111-8111-000000000001";

fn src() -> Directory {
    dir(
        1,
        &format!(
            "cs mbx1.old.net\ncc gold zimbraId {GOLD}\ncd company.com\ncd other.org\n\
             ca bob@company.com pw zimbraCOSId {GOLD}\nca carol@other.org pw\n\
             aaa carol@other.org c@company.com\n"
        ),
    )
}

#[test]
fn missing_cos_host_and_foreign_alias_target_are_reported() {
    let dst = dir(2, "cs mbx9.new.net\n");
    let opts = MoveOptions {
        copy_missing_cos: false,
        ..Default::default()
    };
    let plan = dit::plan_move_dirs(&src(), &dst, "company.com", &opts).expect("plan");
    let text = plan.to_string();
    assert!(
        plan.conflicts.iter().any(
            |c| matches!(c, Conflict::CosMissing { cos_name: Some(n), count: 1, .. } if n == "gold")
        ),
        "{text}"
    );
    assert!(
        plan.conflicts
            .iter()
            .any(|c| matches!(c, Conflict::MailHostUnknown { host, .. } if host == "mbx1.old.net")),
        "{text}"
    );
    assert!(
        plan.conflicts.iter().any(
            |c| matches!(c, Conflict::AliasTargetNotMoved { alias, .. } if alias == "c@company.com")
        ),
        "{text}"
    );
    assert!(text.contains("CONFLICT mail host mbx1.old.net"), "{text}");
}

#[test]
fn cos_is_mapped_by_name_or_explicitly_or_copied() {
    let mut dst = dir(2, "cs mbx9.new.net\ncc gold\ncc silver\n");
    dst.ids = IdGenerator::new(3);
    let map = vec![("mbx1.old.net".to_string(), "mbx9.new.net".to_string())];
    let mut s = src();
    let _ = s.remove_account("carol@other.org");
    let _ = s.remove_alias("c@company.com");
    let by_name = MoveOptions {
        map_hosts: map.clone(),
        ..Default::default()
    };
    let plan = dit::plan_move_dirs(&s, &dst, "company.com", &by_name).expect("plan");
    assert!(plan.is_clean(), "{plan}");
    let gold_id = dst
        .cos("gold")
        .and_then(|c| c.attrs.first("zimbraId"))
        .expect("gold")
        .to_string();
    let bob = plan
        .entries
        .to_vec()
        .expect("entries")
        .into_iter()
        .find(|e| e.kind == EntryKind::Account)
        .expect("bob");
    assert_eq!(bob.attrs.first("zimbraCOSId"), Some(gold_id.as_str()));
    assert_eq!(plan.counts().get(&EntryKind::Cos), None);

    let explicit = MoveOptions {
        map_hosts: map.clone(),
        cos_map: vec![("gold".into(), "silver".into())],
        ..Default::default()
    };
    let plan = dit::plan_move_dirs(&s, &dst, "company.com", &explicit).expect("plan");
    let silver_id = dst
        .cos("silver")
        .and_then(|c| c.attrs.first("zimbraId"))
        .expect("silver")
        .to_string();
    let bob = plan
        .entries
        .to_vec()
        .expect("entries")
        .into_iter()
        .find(|e| e.kind == EntryKind::Account)
        .expect("bob");
    assert_eq!(bob.attrs.first("zimbraCOSId"), Some(silver_id.as_str()));

    let bad = MoveOptions {
        map_hosts: map.clone(),
        cos_map: vec![("gold".into(), "bronze".into())],
        ..Default::default()
    };
    let plan = dit::plan_move_dirs(&s, &dst, "company.com", &bad).expect("plan");
    assert!(
        plan.conflicts
            .iter()
            .any(|c| matches!(c, Conflict::CosMapTargetMissing { .. })),
        "{plan}"
    );

    let copy = MoveOptions {
        map_hosts: map,
        ..Default::default()
    };
    let plan =
        dit::plan_move_dirs(&s, &dir(4, "cs mbx9.new.net\n"), "company.com", &copy).expect("plan");
    assert!(plan.is_clean(), "{plan}");
    assert!(plan
        .entries
        .to_vec()
        .expect("entries")
        .into_iter()
        .any(|e| e.dn == "cn=gold,cn=cos,cn=zimbra"));
}

#[test]
fn existing_parent_dc_entry_becomes_the_domain_by_a_change_record() {
    // the target has sub.company.com, so dc=company,dc=com exists as a plain parent entry
    let dst = dir(2, "cs mbx1.old.net\ncd sub.company.com\n");
    let mut s = src();
    let _ = s.remove_alias("c@company.com");
    let plan = dit::plan_move_dirs(&s, &dst, "company.com", &MoveOptions::default()).expect("plan");
    assert!(plan.is_clean(), "{plan}");
    assert_eq!(plan.changes.len(), 1);
    let c = &plan.changes[0];
    assert_eq!(c.dn.as_str(), "dc=company,dc=com");
    let ChangeOp::Modify(mods) = &c.op else {
        panic!("not a modify")
    };
    assert!(mods
        .iter()
        .any(|m| m.attribute == "objectClass" && m.values.contains(&b"zimbraDomain".to_vec())));
    assert!(plan
        .entries
        .to_vec()
        .expect("entries")
        .into_iter()
        .all(|e| e.dn != "dc=company,dc=com"));
    assert!(plan
        .entries
        .to_vec()
        .expect("entries")
        .into_iter()
        .any(|e| e.dn == "ou=people,dc=company,dc=com"));
    let mut out = Vec::new();
    assert_eq!(plan.write_changes(&mut out).expect("changes"), 1);
    assert!(String::from_utf8_lossy(&out).contains("changetype: modify"));
}

#[test]
fn unknown_domain_and_bad_rename_are_errors() {
    let s = src();
    let d = dir(2, "");
    assert!(matches!(
        dit::plan_move_dirs(&s, &d, "nowhere.org", &MoveOptions::default()),
        Err(dit::DitError::DomainNotFound { .. })
    ));
    let bad = MoveOptions {
        rename: Some("bad..name".into()),
        ..Default::default()
    };
    assert!(matches!(
        dit::plan_move_dirs(&s, &d, "company.com", &bad),
        Err(dit::DitError::BadOption {
            option: "rename",
            ..
        })
    ));
}

#[test]
fn auth_key_follow_up_says_what_the_directories_show() {
    let with_key = |d: &mut Directory, key: Option<&str>| {
        if let Some(k) = key {
            d.config.attrs.set_one("zimbraAuthTokenKey", k);
        }
    };
    let cases = [
        (None, None, TokenKeys::Neither, "neither directory has a zimbraAuthTokenKey"),
        (Some("0:aa"), None, TokenKeys::SourceOnly, "the target has no zimbraAuthTokenKey yet"),
        (None, Some("0:bb"), TokenKeys::TargetOnly, "the source has no zimbraAuthTokenKey"),
        (Some("0:aa"), Some("0:bb"), TokenKeys::Different, "the target's zimbraAuthTokenKey differs, users of company.com must log in again"),
        (Some("0:aa"), Some("0:aa"), TokenKeys::Shared, "the target has the source's zimbraAuthTokenKey, sessions of company.com users stay valid"),
    ];
    for (s, t, want, text) in cases {
        let mut src = dir(
            1,
            "cs mbx1.old.net\ncd company.com\nca bob@company.com pw\n",
        );
        let mut dst = dir(2, "cs mbx1.old.net\n");
        with_key(&mut src, s);
        with_key(&mut dst, t);
        let plan =
            dit::plan_move_dirs(&src, &dst, "company.com", &MoveOptions::default()).expect("plan");
        let got = plan.follow_ups.iter().find_map(|f| match f {
            FollowUp::AuthKeys { token_keys, .. } => Some(*token_keys),
            _ => None,
        });
        assert_eq!(got, Some(want), "{s:?} {t:?}");
        let shown = plan.to_string();
        assert!(shown.contains(text), "{s:?} {t:?}: {shown}");
        // only the case that shows a difference says so
        assert_eq!(
            shown.contains("differs"),
            want == TokenKeys::Different,
            "{shown}"
        );
    }
}

#[test]
fn addresses_clash_with_the_target_and_mail_between_moved_entries_case_blind() {
    let mut s = dir(
        1,
        "cs mbx1.old.net\ncd company.com\nca bob@company.com pw\nca carol@company.com pw\n\
         ca dave@company.com pw\n",
    );
    let mut add = |who: &str, attr: &str, value: &str| {
        s.account_mut(who)
            .unwrap_or_else(|| panic!("{who}"))
            .attrs
            .add(attr, value);
    };
    // bob's own address again under another attribute: one address, no clash with itself
    add("bob@company.com", "zimbraMailAlias", "BOB@company.com");
    // an alias two moved entries share: only `mail` is unique in the target
    add("bob@company.com", "zimbraMailAlias", "Shared@company.com");
    add("dave@company.com", "zimbraMailAlias", "shared@company.com");
    // bob's mail on carol too
    add("carol@company.com", "mail", "BOB@company.com");
    let mut t = dir(
        2,
        "cs mbx1.old.net\ncd existing.org\nca admin@existing.org pw\n",
    );
    t.account_mut("admin@existing.org")
        .expect("admin")
        .attrs
        .add("mail", "Carol@Company.com");
    let plan = dit::plan_move_dirs(&s, &t, "company.com", &MoveOptions::default()).expect("plan");
    let mut clashes: Vec<(String, String, String, String)> = plan
        .conflicts
        .iter()
        .filter_map(|c| match c {
            Conflict::AddressInUse {
                address,
                attribute,
                dn,
                target_dn,
            } => Some((
                address.clone(),
                attribute.clone(),
                dn.clone(),
                target_dn.clone(),
            )),
            _ => None,
        })
        .collect();
    clashes.sort();
    let (bob, carol) = (
        "uid=bob,ou=people,dc=company,dc=com",
        "uid=carol,ou=people,dc=company,dc=com",
    );
    assert_eq!(clashes.len(), 2, "{plan}");
    let (a, m, dn, other) = &clashes[0];
    assert_eq!(
        (a.as_str(), m.as_str()),
        ("bob@company.com", "mail"),
        "{plan}"
    );
    let mut pair = [dn.as_str(), other.as_str()];
    pair.sort();
    assert_eq!(pair, [bob, carol], "{plan}");
    assert_eq!(
        clashes[1],
        (
            "carol@company.com".to_string(),
            "mail".to_string(),
            carol.to_string(),
            "uid=admin,ou=people,dc=existing,dc=org".to_string()
        ),
        "{plan}"
    );
}
