//! The reader yields records or an error on any input, never a panic; whatever it reads
//! the writer writes, and reading that back gives the same records.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zimbra_prov::ldif::{Reader, ReaderOptions, Record, Writer, WriterOptions};

fuzz_target!(|data: &[u8]| {
    let opts = ReaderOptions {
        allow_mixed_records: data.first().is_some_and(|b| b & 1 == 1),
        max_line_bytes: 1 << 16,
        ..ReaderOptions::default()
    };
    let mut records: Vec<Record> = Vec::new();
    for r in Reader::with_options(data, opts.clone()) {
        match r {
            Ok(rec) => records.push(rec),
            Err(_) => break,
        }
    }
    let mut out = Vec::new();
    let mut w = Writer::new(&mut out, WriterOptions::default());
    let mut written = Vec::new();
    for r in &records {
        if w.write_record(r).is_ok() {
            written.push(r.clone());
        }
    }
    drop(w);
    let back: Result<Vec<Record>, _> = Reader::with_options(&out[..], opts).collect();
    match back {
        Ok(back) => assert_eq!(back, written),
        Err(e) => panic!("writer output unreadable: {e}"),
    }
});
