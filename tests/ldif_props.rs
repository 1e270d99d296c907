//! Properties: `read(write(r)) == r` for arbitrary records, the reader never panics on
//! arbitrary bytes, DN display/parse round-trips.

use proptest::prelude::*;

use zimbra_prov::dn::{Ava, Dn, Rdn};
use zimbra_prov::ldif::{
    Attr, Change, ChangeOp, Control, Entry, ModOp, Modification, Reader, Record, Writer,
    WriterOptions,
};

fn attr_type() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z][a-zA-Z0-9-]{0,12}",
        "[1-9][0-9]{0,3}(\\.(0|[1-9][0-9]{0,4})){1,4}",
    ]
    .prop_filter("reserved words", |t| {
        !["dn", "changetype", "control", "version"]
            .iter()
            .any(|w| t.eq_ignore_ascii_case(w))
    })
}

fn description() -> impl Strategy<Value = String> {
    (
        attr_type(),
        prop::collection::vec("[a-zA-Z0-9-]{1,8}", 0..3),
    )
        .prop_map(|(t, opts)| std::iter::once(t).chain(opts).collect::<Vec<_>>().join(";"))
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        "[ -~]{0,120}".prop_map(String::into_bytes),
        "\\PC{0,40}".prop_map(String::into_bytes),
    ]
}

fn dn_text_value() -> impl Strategy<Value = String> {
    prop_oneof!["\\PC{1,12}", "[ -~]{1,12}"]
}

fn rdn() -> impl Strategy<Value = Rdn> {
    prop::collection::vec((attr_type(), dn_text_value()), 1..3).prop_map(|avas| {
        let avas = avas
            .iter()
            .filter_map(|(t, v)| Ava::new(t, v).ok())
            .collect::<Vec<_>>();
        Rdn::from_avas(avas)
            .unwrap_or_else(|_| Rdn::parse("cn=x").unwrap_or_else(|e| panic!("{e}")))
    })
}

fn dn() -> impl Strategy<Value = Dn> {
    prop::collection::vec(rdn(), 0..4).prop_map(Dn::from_rdns)
}

fn entry() -> impl Strategy<Value = Record> {
    (dn(), prop::collection::vec((description(), value()), 1..8)).prop_map(|(dn, attrs)| {
        let mut e = Entry::new(dn);
        e.attrs = attrs.into_iter().map(|(d, v)| Attr::new(d, v)).collect();
        Record::Entry(e)
    })
}

fn change() -> impl Strategy<Value = Record> {
    let control = (
        "[1-9](\\.[0-9]){1,5}",
        any::<bool>(),
        prop::option::of(value()),
    )
        .prop_map(|(oid, critical, value)| Control {
            oid,
            critical,
            value,
        });
    let modification = (
        prop_oneof![
            Just(ModOp::Add),
            Just(ModOp::Delete),
            Just(ModOp::Replace),
            Just(ModOp::Increment)
        ],
        description(),
        prop::collection::vec(value(), 0..3),
    )
        .prop_map(|(op, attribute, values)| Modification {
            op,
            attribute,
            values,
        });
    let op = prop_oneof![
        prop::collection::vec((description(), value()), 1..5)
            .prop_map(|a| ChangeOp::Add(a.into_iter().map(|(d, v)| Attr::new(d, v)).collect())),
        Just(ChangeOp::Delete),
        prop::collection::vec(modification, 0..4).prop_map(ChangeOp::Modify),
        (rdn(), any::<bool>(), prop::option::of(dn())).prop_map(
            |(new_rdn, delete_old_rdn, new_superior)| {
                ChangeOp::ModDn {
                    new_rdn,
                    delete_old_rdn,
                    new_superior,
                }
            }
        ),
    ];
    (dn(), prop::collection::vec(control, 0..3), op).prop_map(|(dn, controls, op)| {
        let mut c = Change::new(dn, op);
        c.controls = controls;
        Record::Change(c)
    })
}

fn roundtrip(records: &[Record], opts: WriterOptions) -> Vec<Record> {
    let mut out = Vec::new();
    let mut w = Writer::new(&mut out, opts);
    for r in records {
        if let Err(e) = w.write_record(r) {
            panic!("writer refused {r:?}: {e}");
        }
    }
    drop(w);
    match Reader::new(&out[..]).collect::<Result<Vec<_>, _>>() {
        Ok(v) => v,
        Err(e) => panic!("{e}\n{}", String::from_utf8_lossy(&out)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn entries_roundtrip(records in prop::collection::vec(entry(), 1..5), wrap in prop_oneof![Just(0usize), Just(76), 2usize..100]) {
        let opts = WriterOptions { wrap, ..WriterOptions::default() };
        prop_assert_eq!(roundtrip(&records, opts), records);
    }

    #[test]
    fn changes_roundtrip(records in prop::collection::vec(change(), 1..5), wrap in prop_oneof![Just(0usize), Just(76), 2usize..100]) {
        let opts = WriterOptions { wrap, version_line: wrap % 2 == 0, ..WriterOptions::default() };
        prop_assert_eq!(roundtrip(&records, opts), records);
    }

    #[test]
    fn reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        for r in Reader::new(&bytes[..]) {
            if r.is_err() {
                break;
            }
        }
    }

    #[test]
    fn reader_never_panics_on_ldif_like_input(lines in prop::collection::vec(prop_oneof![
        Just("dn: cn=a,dc=b".to_string()), Just(String::new()), Just("-".to_string()),
        Just("changetype: modify".to_string()), Just("add: cn".to_string()), Just(" x".to_string()),
        Just("control: 1.2.3 true:: AAA=".to_string()), Just("changetype: modrdn".to_string()),
        Just("newrdn: cn=x".to_string()), Just("deleteoldrdn: 1".to_string()), Just("# c".to_string()),
        "[a-z]{1,4}::? ?[ -~]{0,10}",
    ], 0..30)) {
        let text = lines.join("\n");
        for r in Reader::new(text.as_bytes()) {
            if r.is_err() {
                break;
            }
        }
    }

    #[test]
    fn dn_display_parses_back(d in dn()) {
        let shown = d.to_string();
        let back = Dn::parse(&shown).unwrap_or_else(|e| panic!("{shown:?}: {e}"));
        prop_assert_eq!(back.normalized(), d.normalized());
        prop_assert_eq!(back.to_string(), shown);
    }

    #[test]
    fn dn_parse_never_panics(s in "\\PC{0,40}") {
        let _ = Dn::parse(&s);
    }

    #[test]
    fn rebase_moves_under_new_suffix(d in dn(), old in dn(), new in dn()) {
        let full = Dn::from_rdns(d.rdns().iter().chain(old.rdns()).cloned().collect());
        let moved = full.rebase(&old, &new).unwrap_or_else(|| panic!("not under"));
        prop_assert!(moved.is_under(&new));
        prop_assert_eq!(moved.rdns().len(), d.rdns().len() + new.rdns().len());
    }
}
