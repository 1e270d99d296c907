//! Property tests: validation never panics, and agrees with simple models of the type rules.

use proptest::prelude::*;
use zimbra_prov::attrs::{all, lookup, AttrType};

fn any_attr() -> impl Strategy<Value = &'static zimbra_prov::attrs::AttrDef> {
    (0..all().len()).prop_map(|i| &all()[i])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn validate_never_panics(a in any_attr(), v in any::<String>()) {
        let _ = a.validate(&v);
    }

    #[test]
    fn validate_never_panics_on_near_misses(
        a in any_attr(),
        v in "[0-9a-zA-Z@<>\",.:+\\-\\[\\] ]{0,40}",
    ) {
        let _ = a.validate(&v);
    }

    #[test]
    fn booleans_accept_exactly_true_and_false(v in "[A-Za-z]{0,6}") {
        let a = lookup("zimbraMtaDnsLookupsEnabled").unwrap();
        prop_assert_eq!(a.validate(&v).is_ok(), v == "TRUE" || v == "FALSE");
    }

    #[test]
    fn ports_accept_exactly_0_to_65535(n in -100_000i64..200_000) {
        let a = lookup("zimbraLmtpBindPort").unwrap();
        prop_assert_eq!(a.validate(&n.to_string()).is_ok(), (0..=65535).contains(&n));
    }

    #[test]
    fn durations_follow_the_documented_regex(num in "[0-9]{0,4}", unit in "(|ms|s|m|h|d|w|S|x)") {
        let a = lookup("zimbraMailTrashLifetime").unwrap();
        let v = format!("{num}{unit}");
        let expected = !num.is_empty() && ["", "ms", "s", "m", "h", "d"].contains(&unit.as_str());
        prop_assert_eq!(a.validate(&v).is_ok(), expected);
    }

    #[test]
    fn catch_all_matches_model(v in "[@a-z0-9.\\-_ ]{0,12}") {
        let a = lookup("zimbraMailCatchAllAddress").unwrap();
        let model = v.len() > 1
            && v.starts_with('@')
            && v[1..].chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        prop_assert_eq!(a.validate(&v).is_ok(), model);
    }

    #[test]
    fn enums_accept_exactly_their_members(a in any_attr(), pick in any::<prop::sample::Index>(), junk in "[a-z]{1,8}") {
        if a.ty == AttrType::Enum {
            let member = pick.get(a.enum_values);
            prop_assert!(a.validate(member).is_ok());
            prop_assert_eq!(a.validate(&junk).is_ok(), a.enum_values.contains(&junk.as_str()));
        }
    }

    #[test]
    fn uuids_are_accepted(bytes in any::<[u8; 16]>()) {
        let h: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let id = format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]);
        prop_assert!(lookup("zimbraId").unwrap().validate(&id).is_ok());
        prop_assert!(lookup("zimbraId").unwrap().validate(&id.to_uppercase()).is_ok());
        prop_assert!(lookup("zimbraId").unwrap().validate(&h).is_err());
    }
}
