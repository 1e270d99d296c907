//! Regenerates the attribute catalog tables of `zimbra_prov::attrs` from Zimbra's XML.
//!
//! ```text
//! cargo run --example gen_attrs -- ZIMBRA_ATTRS_XML ZIMBRA_OCS_XML AMAVIS_ATTRS_XML \
//!     > src/attrs/generated.rs
//! ```
//!
//! The XML files are Zimbra's `store/conf/attrs/zimbra-attrs.xml`, `zimbra-ocs.xml` and
//! `amavisd-new-attrs.xml` (copies in `../shared/zimbra/`). The generator itself lives in
//! `tools/attrgen/gen.rs`, shared with the test `tests/attrs_generated.rs`.

#[path = "../tools/attrgen/gen.rs"]
mod gen;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [attrs, ocs, amavis] = args.as_slice() else {
        eprintln!("usage: gen_attrs ZIMBRA_ATTRS_XML ZIMBRA_OCS_XML AMAVIS_ATTRS_XML > src/attrs/generated.rs");
        return ExitCode::from(2);
    };
    let read = |p: &String| std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"));
    let result = (|| gen::generate(&read(attrs)?, &read(ocs)?, &read(amavis)?))();
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen_attrs: {e}");
            ExitCode::FAILURE
        }
    }
}
