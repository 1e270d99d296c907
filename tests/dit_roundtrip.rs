//! Lossless read → write → read of Zimbra directory dumps.

#[path = "../examples/support/slapcat_gen.rs"]
mod slapcat_gen;

use zimbra_prov::dit::{self, EntryKind, EntryReader, WriteOptions};
use zimbra_prov::model::{Directory, RawEntry};
use zimbra_prov::zmprov;

fn raw_entries(ldif: &[u8]) -> Vec<RawEntry> {
    EntryReader::new(ldif)
        .collect::<Result<_, _>>()
        .expect("readable LDIF")
}

fn sorted(mut v: Vec<RawEntry>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v
        .drain(..)
        .map(|e| (e.dn.clone(), format!("{:?}", e.attrs)))
        .collect();
    out.sort();
    out
}

/// Reads `ldif`, writes it, reads it again: same directory, and the written entries are the
/// original entries (DN text, attribute names, value bytes and order).
fn assert_lossless(ldif: &[u8]) -> Directory {
    let dir = dit::read_directory(ldif).expect("read");
    let mut out = Vec::new();
    let n = dit::write_directory(&dir, &mut out, &WriteOptions::default()).expect("write");
    let mut again = dit::read_directory(&out[..]).expect("read back");
    // entries are written parents-first, so raw entries come back in that order
    let mut first = dir.clone();
    first.other_entries.sort_by(|a, b| a.dn.cmp(&b.dn));
    again.other_entries.sort_by(|a, b| a.dn.cmp(&b.dn));
    assert!(
        first == again,
        "typed directories differ after a round trip"
    );
    let original = raw_entries(ldif);
    assert_eq!(n as usize, original.len());
    assert_eq!(sorted(original), sorted(raw_entries(&out)));
    dir
}

fn base_tree() -> Vec<u8> {
    let mut v = std::fs::read("tests/data/dit/zimbra.ldif").expect("fixture");
    v.extend_from_slice(
        b"\ndn: cn=config,cn=zimbra\nobjectClass: organizationalRole\nobjectClass: zimbraGlobalConfig\ncn: config\nzimbraLmtpBindPort: 7025\n\n\
dn: cn=default,cn=cos,cn=zimbra\nobjectClass: zimbraCOS\ncn: default\nzimbraId: e00428a1-0c00-11d9-836a-000d93afea2a\n\n\
dn: cn=mbox0.example.net,cn=servers,cn=zimbra\nobjectClass: zimbraServer\ncn: mbox0.example.net\nzimbraId: 0b0b0b0b-0000-4000-8000-000000000000\nzimbraServiceHostname: mbox0.example.net\n\n\
dn: dc=com\nobjectClass: dcObject\nobjectClass: organization\ndc: com\no: com domain\n\n",
    );
    v
}

#[test]
fn generated_slapcat_round_trips_losslessly() {
    let mut ldif = base_tree();
    slapcat_gen::generate(300, 3, &mut ldif).expect("generate");
    let dir = assert_lossless(&ldif);
    assert_eq!(dir.account_count(), 300);
    assert_eq!(dir.domains().count(), 3);
    assert!(dir.cos("default").is_some());
    assert!(dir.server("mbox0.example.net").is_some());
    assert_eq!(dir.config.dn, None);
    // uid=zimbra etc. have no address: kept raw; containers and dc=com too
    assert!(dir
        .other_entries
        .iter()
        .any(|e| e.dn == "uid=zimbra,cn=admins,cn=zimbra"));
    assert!(dir.other_entries.iter().any(|e| e.dn == "dc=com"));
    // operational attributes are kept
    let a = dir.account("user7@domain1.com").expect("account");
    assert!(a.attrs.contains("entryCSN") && a.attrs.contains("structuralObjectClass"));
    assert_eq!(a.dn, None);
}

#[test]
fn odd_entries_round_trip() {
    let ldif = "dn: UID=Mixed,ou=People,dc=x,dc=org\nobjectClass: inetOrgPerson\nobjectClass: zimbraAccount\n\
uid: Mixed\ncn: m\nsn: m\nzimbraMailDeliveryAddress: mixed@x.org\nx-unknown-attr;lang-de:: AAEC/w==\n\
description:: IHRyYWlsaW5nIA==\nobjectclass: amavisAccount\n\n\
dn: dc=x,dc=org\nobjectClass: dcObject\nobjectClass: organization\nobjectClass: zimbraDomain\n\
zimbraDomainName: x.org\ndc: x\no: x\n\n\
dn: cn=zimbra\nobjectClass: organizationalRole\ncn: zimbra\n\n\
dn: uid=al,ou=people,dc=x,dc=org\nobjectClass: zimbraAlias\nuid: al\nzimbraAliasTargetId: 1\n\n\
dn: cn=g,cn=groups,dc=x,dc=org\nobjectClass: groupOfURLs\nobjectClass: zimbraGroup\ncn: g\nmemberURL: ldap:///??sub?(x=1)\n\n\
dn: cn=internal,cn=g,cn=groups,dc=x,dc=org\nobjectClass: groupOfURLs\nobjectClass: zimbraGroupDynamicUnit\ncn: internal\n\n\
dn: uid=l,ou=people,dc=x,dc=org\nobjectClass: zimbraDistributionList\nuid: l\nmail: l@x.org\n\n\
dn: uid=r,ou=people,dc=x,dc=org\nobjectClass: zimbraAccount\nobjectClass: zimbraCalendarResource\nuid: r\n\n\
dn: cn=other,cn=config,cn=zimbra\nobjectClass: zimbraGlobalConfig\ncn: other\n";
    let dir = assert_lossless(ldif.as_bytes());
    let m = dir.account("mixed@x.org").expect("typed account");
    assert_eq!(m.dn.as_deref(), Some("UID=Mixed,ou=People,dc=x,dc=org"));
    assert_eq!(
        m.attrs
            .values("x-unknown-attr;lang-de")
            .first()
            .unwrap()
            .as_bytes(),
        &[0, 1, 2, 255]
    );
    assert!(dir.alias("al@x.org").is_some());
    assert!(dir.group("g@x.org").is_some());
    assert!(dir.list("l@x.org").is_some());
    assert!(dir
        .account("r@x.org")
        .is_some_and(|r| r.is_calendar_resource()));
    // a global config entry in an unusual place keeps its DN
    assert_eq!(
        dir.config.dn.as_deref(),
        Some("cn=other,cn=config,cn=zimbra")
    );
    for e in &dir.other_entries {
        let dn = zimbra_prov::dn::Dn::parse(&e.dn).unwrap();
        let k = dit::classify(&dn, &e.attrs);
        assert!(
            matches!(
                k,
                EntryKind::Container | EntryKind::GroupUnit | EntryKind::GlobalConfig
            ),
            "{}: {k}",
            e.dn
        );
    }
}

#[test]
fn zmprov_directory_round_trips_and_gets_its_parents() {
    let mut dir = Directory::new();
    zmprov::run(
        &mut dir,
        "cs mbx1.example.com\ncd example.com\ncad alias.example.com example.com\n\
         ca alice@example.com pw displayName Alice\naaa alice@example.com al@example.com\n\
         cdl team@example.com\nadlm team@example.com alice@example.com\ncc gold zimbraId 11111111-2222-4333-8444-555555555555\n\
         ca bob@example.com pw zimbraCOSId 11111111-2222-4333-8444-555555555555",
    )
    .expect("zmprov");
    let mut out = Vec::new();
    dit::write_directory(&dir, &mut out, &WriteOptions::slapadd()).expect("write");
    let text = String::from_utf8(out.clone()).expect("utf8");
    assert!(!text.starts_with("version"));
    let dns: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("dn: "))
        .collect();
    let pos = |d: &str| {
        dns.iter()
            .position(|x| *x == d)
            .unwrap_or_else(|| panic!("{d} missing"))
    };
    assert!(pos("dc=com") < pos("dc=example,dc=com"));
    assert!(pos("dc=example,dc=com") < pos("ou=people,dc=example,dc=com"));
    assert!(pos("ou=people,dc=example,dc=com") < pos("uid=alice,ou=people,dc=example,dc=com"));
    assert!(pos("cn=zimbra") < pos("cn=cos,cn=zimbra"));
    assert!(pos("cn=cos,cn=zimbra") < pos("cn=gold,cn=cos,cn=zimbra"));
    pos("cn=groups,dc=alias,dc=example,dc=com");
    let back = dit::read_directory(&out[..]).expect("read");
    assert_eq!(
        back.account("alice@example.com"),
        dir.account("alice@example.com")
    );
    assert_eq!(back.list("team@example.com"), dir.list("team@example.com"));
    assert_eq!(back.alias("al@example.com"), dir.alias("al@example.com"));
    assert_eq!(
        back.domain("alias.example.com"),
        dir.domain("alias.example.com")
    );
    assert_eq!(back.config, dir.config);
    // writing what was read adds nothing more
    let mut again = Vec::new();
    dit::write_directory(&back, &mut again, &WriteOptions::slapadd()).expect("write");
    assert_eq!(out, again);
}
