//! DN parsing never panics; a parsed DN's RFC 4514 form parses back to an equal DN.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zimbra_prov::dn::Dn;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let validated = Dn::validate(s).is_ok();
    match Dn::parse(s) {
        Ok(dn) => {
            assert!(validated);
            let shown = dn.to_string();
            let back = Dn::parse(&shown).unwrap_or_else(|e| panic!("{shown:?}: {e}"));
            assert_eq!(back, dn);
            assert_eq!(back.to_string(), shown);
            if let Some(p) = dn.parent() {
                assert!(dn.is_under(&p) && p.is_ancestor_of(&dn));
            }
        }
        Err(_) => assert!(!validated),
    }
});
