//! Regenerates `src/attrs/generated.rs` from Zimbra's XML and checks it equals the committed
//! file. The XML lives outside the project (`../shared/zimbra`, or the directory named by
//! `ZIMBRA_PROV_ZIMBRA_XML_DIR`); when it is absent the test prints a note and passes.

#[path = "../tools/attrgen/gen.rs"]
mod gen;

use std::path::{Path, PathBuf};

fn xml_dir() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("ZIMBRA_PROV_ZIMBRA_XML_DIR") {
        candidates.push(PathBuf::from(dir));
    }
    candidates.push(manifest.join("../shared/zimbra"));
    // A git worktree one level deeper (e.g. /work/wt/<branch>) shares the same /work/shared.
    candidates.push(manifest.join("../../shared/zimbra"));
    candidates
        .into_iter()
        .find(|d| d.join("zimbra-attrs.xml").is_file())
}

#[test]
fn generated_tables_match_the_xml() {
    let Some(dir) = xml_dir() else {
        println!("note: Zimbra XML (../shared/zimbra) not found; regeneration check skipped");
        return;
    };
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(f).display()))
    };
    let fresh = gen::generate(
        &read("zimbra-attrs.xml"),
        &read("zimbra-ocs.xml"),
        &read("amavisd-new-attrs.xml"),
    )
    .expect("generator accepts Zimbra's XML");
    let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/attrs/generated.rs");
    let committed = std::fs::read_to_string(&committed_path).expect("generated.rs is committed");
    if fresh != committed {
        let line = fresh
            .lines()
            .zip(committed.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || "(length differs)".to_string(),
                |i| format!("line {}", i + 1),
            );
        panic!(
            "src/attrs/generated.rs is stale at {line}; regenerate with \
             `cargo run --example gen_attrs -- {d}/zimbra-attrs.xml {d}/zimbra-ocs.xml \
             {d}/amavisd-new-attrs.xml > src/attrs/generated.rs`",
            d = dir.display()
        );
    }
}

#[test]
fn generator_rejects_bad_input() {
    let ocs = r#"<objectclasses><objectclass id="1" name="zimbraAccount" type="AUXILIARY"><sup>top</sup></objectclass></objectclasses>"#;
    let amavis = "<attrs></attrs>";
    // Unknown type.
    let bad_type = r#"<attrs><attr name="x" type="nonsense"/></attrs>"#;
    let err = gen::generate(bad_type, ocs, amavis).unwrap_err();
    assert!(err.contains("unknown type"), "{err}");
    // Unknown flag.
    let bad_flag = r#"<attrs><attr name="x" type="string" flags="bogusFlag"/></attrs>"#;
    assert!(gen::generate(bad_flag, ocs, amavis)
        .unwrap_err()
        .contains("unknown flag"));
    // Duplicate names differing only in case.
    let dup = r#"<attrs><attr name="x" type="string"/><attr name="X" type="string"/></attrs>"#;
    assert!(gen::generate(dup, ocs, amavis)
        .unwrap_err()
        .contains("duplicate"));
    // Malformed XML.
    assert!(gen::generate("<attrs><attr", ocs, amavis).is_err());
    // The amavis XML must define every amavisd.schema attribute.
    let ok_attrs = r#"<attrs><attr name="x" type="string"/></attrs>"#;
    assert!(gen::generate(ok_attrs, ocs, amavis)
        .unwrap_err()
        .contains("amavis"));
}

#[test]
fn generator_output_shape() {
    let attrs = r#"<attrs><attr id="7" name="zimbraThing" type="enum" value="a,b" cardinality="single" optionalIn="account,cos" flags="accountInherited,idn"><desc>prose that must not be copied</desc><defaultCOSValue>a</defaultCOSValue></attr></attrs>"#;
    let ocs = r#"<objectclasses><objectclass id="1" name="zimbraAccount" type="AUXILIARY"><sup>zimbraMailRecipient</sup><desc>more prose</desc></objectclass></objectclasses>"#;
    let mut amavis = String::from("<attrs>");
    for n in gen::amavis_names() {
        amavis.push_str(&format!(r#"<attr name="{n}" type="boolean"/>"#));
    }
    amavis.push_str("</attrs>");
    let out = gen::generate(attrs, ocs, &amavis).expect("valid input");
    assert!(out.contains("name: \"zimbraThing\",\n        id: Some(7),\n        ty: AttrType::Enum,\n        cardinality: Cardinality::Single,\n"));
    assert!(out.contains("optional_in: &[\"account\", \"cos\"],"));
    assert!(out.contains("flags: AttrFlags::from_bits(0x011), // accountInherited, idn"));
    assert!(out.contains("enum_values: &[\"a\", \"b\"],"));
    assert!(out.contains("default_cos_values: &[\"a\"],"));
    assert!(out.contains("sup: \"zimbraMailRecipient\""));
    assert!(!out.contains("prose"));
}

#[test]
fn generator_and_crate_agree_on_flags_and_types() {
    assert_eq!(gen::FLAG_NAMES, zimbra_prov::attrs::AttrFlags::NAMES);
    let crate_types: Vec<&str> = zimbra_prov::attrs::ALL_TYPES
        .iter()
        .map(|t| t.xml_name())
        .collect();
    assert_eq!(gen::type_names().collect::<Vec<_>>(), crate_types);
    for (bit, name) in gen::FLAG_NAMES.iter().enumerate() {
        let f = zimbra_prov::attrs::AttrFlags::from_bits(1 << bit);
        assert_eq!(f.names(), [*name]);
        assert_eq!(f.bits(), 1 << bit);
    }
}
