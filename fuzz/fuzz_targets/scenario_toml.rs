//! Fuzz the scenario loader and the checks it drives: arbitrary TOML must give a value or a
//! clear error, never a panic, and every simulation must terminate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zimbra_prov::scenario::{LoadOptions, Scenario};

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(sc) = Scenario::parse(src, "fuzz.toml", &LoadOptions::default()) {
        let _ = sc.check();
    }
});
