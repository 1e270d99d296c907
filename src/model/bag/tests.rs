use super::*;

#[test]
fn order_and_case_are_kept() {
    let mut bag = AttrBag::new();
    bag.add("objectClass", "inetOrgPerson");
    bag.add("uid", "alice");
    bag.add("objectclass", "zimbraAccount");
    let names: Vec<&str> = bag.iter().map(|a| a.name()).collect();
    assert_eq!(names, ["objectClass", "uid"]);
    assert_eq!(bag.strs("OBJECTCLASS"), ["inetOrgPerson", "zimbraAccount"]);
}

#[test]
fn remove_value_drops_empty_attribute() {
    let mut bag = AttrBag::new();
    bag.add("zimbraMailAlias", "A@example.com");
    assert!(bag.remove_value_ci("zimbramailalias", "a@EXAMPLE.com"));
    assert!(!bag.contains("zimbraMailAlias"));
    assert!(!bag.remove_value_ci("zimbraMailAlias", "a@example.com"));
    assert!(bag.is_empty());
}

#[test]
fn serde_round_trip_keeps_binary_and_order() {
    let mut bag = AttrBag::new();
    bag.add("z", "last?");
    bag.add("userCertificate;binary", vec![0u8, 159, 146, 150]);
    bag.add("a", "x");
    let json = serde_json::to_string(&bag).unwrap();
    assert!(json.starts_with("{\"z\""), "{json}");
    assert!(json.contains("base64"));
    let back: AttrBag = serde_json::from_str(&json).unwrap();
    assert_eq!(back, bag);
}

#[test]
fn add_unique_ci_skips_duplicates() {
    let mut bag = AttrBag::new();
    assert!(bag.add_unique_ci("mail", "a@x.org"));
    assert!(!bag.add_unique_ci("mail", "A@X.org"));
    assert_eq!(bag.values("mail").len(), 1);
}

/// The canonical encoding: whatever operations built a content, the buffer is the same, so
/// equality is content equality.
#[test]
fn encoding_is_canonical() {
    let mut a = AttrBag::new();
    a.add("cn", "x");
    a.add("x-Custom", "1");
    a.add("CN", "y");
    a.set("sn", ["s"]);
    a.add("x-custom", "2");
    let mut b = AttrBag::new();
    b.set("cn", ["x", "y"]);
    b.set("x-Custom", ["1", "2"]);
    b.add("sn", "s");
    assert_eq!(a, b);
    let lines: Vec<(&str, &[u8])> = vec![
        ("cn", b"x"),
        ("x-Custom", b"1"),
        ("CN", b"y"),
        ("sn", b"s"),
        ("X-CUSTOM", b"2"),
    ];
    assert_eq!(AttrBag::from_lines(lines), b);
    // a different spelling is a different content
    let mut c = b.clone();
    c.remove("cn");
    c.set("CN", ["x", "y"]);
    assert_ne!(c, b);
}

#[test]
fn values_cross_varint_boundaries() {
    let mut bag = AttrBag::new();
    bag.add("description", "before");
    let big = "v".repeat(200);
    for i in 0..300 {
        bag.add("mail", format!("{i}{big}"));
    }
    bag.add("sn", "after");
    assert_eq!(bag.values("mail").len(), 300);
    assert_eq!(bag.first("sn"), Some("after"));
    assert_eq!(bag.first("description"), Some("before"));
    let long = "x".repeat(70_000);
    bag.set("description", [long.as_str()]);
    assert_eq!(bag.first("description"), Some(long.as_str()));
    assert_eq!(
        bag.values("mail").get(299).and_then(|v| v.as_str()),
        Some(format!("299{big}").as_str())
    );
    let rebuilt = AttrBag::from_lines(
        bag.iter()
            .flat_map(|a| a.values().map(move |v| (a.name(), v.as_bytes())))
            .collect::<Vec<_>>(),
    );
    assert_eq!(rebuilt, bag);
}

#[test]
fn batch_add_and_remove() {
    let mut bag = AttrBag::new();
    bag.add("cn", "c");
    bag.add("member", "m0");
    bag.add("sn", "s");
    let many: Vec<String> = (0..1000).map(|i| format!("M{i}")).collect();
    assert_eq!(bag.add_all_unique_ci("member", &many), 999);
    assert_eq!(bag.values("member").len(), 1000);
    assert_eq!(bag.first("sn"), Some("s"));
    assert_eq!(bag.remove_values_ci("member", &many[..500]), 500);
    assert_eq!(bag.values("member").len(), 500);
    assert_eq!(bag.add_all_unique_ci("new", ["a", "A", "b"]), 2);
    assert_eq!(bag.iter().last().map(|a| a.name()), Some("new"));
}

#[test]
fn select_reads_named_attributes_in_entry_order() {
    let mut bag = AttrBag::new();
    bag.add("cn", "x");
    bag.add("zimbraMailForwardingAddress", "f@x");
    bag.add("ZIMBRAMAILDELIVERYADDRESS", "d@x");
    bag.add("x-Private", "p");
    bag.add("mail;lang-de", "m");
    bag.add("zimbraPrefMailForwardingAddress", "");
    let names = [
        "zimbraMailDeliveryAddress",
        "zimbraPrefMailForwardingAddress",
        "X-PRIVATE",
        "zimbraMailForwardingAddress",
        "mail",
        "sn",
    ]
    .map(AttrName::new);
    let mut seen = Vec::new();
    bag.select(&names, |i, v| {
        let vals: Vec<String> = v.map(|v| v.to_string_lossy()).collect();
        seen.push((i, vals));
    });
    let s = |v: &str| vec![v.to_string()];
    assert_eq!(
        seen,
        [(3, s("f@x")), (0, s("d@x")), (2, s("p")), (1, s(""))],
        "entry order, spelling and case ignored, options not the bare name"
    );
    // the same answers as the look-ups by name
    for (i, n) in names.iter().enumerate() {
        let by_name: Vec<_> = bag.values(n.as_str()).collect();
        let selected: Vec<_> = seen
            .iter()
            .filter(|(j, _)| *j == i)
            .flat_map(|(_, v)| v.clone())
            .collect();
        let by_name: Vec<String> = by_name.iter().map(|v| v.to_string_lossy()).collect();
        assert_eq!(by_name, selected, "{}", n.as_str());
    }
}

#[test]
fn unknown_names_and_options_are_spelled() {
    let mut bag = AttrBag::new();
    bag.add("cn;lang-de", "Zoë");
    bag.add("cn", "Zoe");
    bag.add("X-Thing", "1");
    assert_eq!(bag.first("CN;LANG-DE"), Some("Zoë"));
    assert_eq!(bag.first("cn"), Some("Zoe"));
    assert_eq!(bag.first("x-thing"), Some("1"));
    let names: Vec<&str> = bag.iter().map(|a| a.name()).collect();
    assert_eq!(names, ["cn;lang-de", "cn", "X-Thing"]);
}

#[test]
fn rewrite_keeps_unchanged_records_and_reports_change() {
    let mut bag = AttrBag::new();
    bag.set("mail", ["a@x.org"]);
    bag.set("cn", ["A"]);
    let before = bag.clone();
    assert!(!bag.rewrite_values(|_, _| None));
    assert_eq!(bag, before);
    assert!(bag.rewrite_values(|n, _| (n == "cn").then(|| b"B".to_vec())));
    assert_eq!(bag.first("cn"), Some("B"));
    assert_eq!(bag.first("mail"), Some("a@x.org"));
}
