//! Any bytes as a zmprov script: parsing and applying must return values or errors, never panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use zimbra_prov::model::Directory;
use zimbra_prov::zmprov;

/// A small installation to apply commands to, built once.
fn base() -> &'static Directory {
    static BASE: OnceLock<Directory> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut dir = Directory::new();
        zmprov::run(&mut dir, "cs mbx.example.org\ncd example.org\nca a@example.org pw")
            .expect("base directory");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(lines) = zmprov::parse_script(text) {
        // printing a parsed command and parsing it again must give the same command
        for l in &lines {
            let again = zmprov::parse_script(&l.command.to_string()).expect("printed command parses");
            assert_eq!(again[0].command, l.command);
        }
        let mut dir = base().clone();
        let _ = zmprov::apply_script(&mut dir, &lines);
    }
});
