//! The library calls behind `zimbra-prov ldif fmt --slapadd`, shared by the slapadd
//! conformance test and the tool's test. Included with `#[path = "support/ldif_fmt.rs"]`.

use std::path::Path;

/// What `zimbra-prov ldif fmt --slapadd --url-base BASE FILE` prints (tests/cli/ldif.rs
/// checks that the tool prints exactly this): the reader with URL values inside `base`, the
/// writer in slapadd mode.
pub fn fmt_slapadd(file: &Path, base: &Path) -> Result<Vec<u8>, String> {
    use zimbra_prov::ldif::{ReaderOptions, Writer, WriterOptions};
    let input = std::fs::File::open(file).map_err(|e| e.to_string())?;
    let opts = ReaderOptions {
        url_base: Some(base.to_path_buf()),
        ..ReaderOptions::default()
    };
    let mut r = zimbra_prov::ldif::Reader::with_options(std::io::BufReader::new(input), opts);
    let mut out = Vec::new();
    let mut w = Writer::new(&mut out, WriterOptions::slapadd_mode());
    while let Some(rec) = r
        .next_ref()
        .map_err(|e| format!("{}: {}", e.line, e.kind))?
    {
        w.write_ref(&rec).map_err(|e| e.to_string())?;
    }
    w.flush().map_err(|e| e.to_string())?;
    drop(w);
    Ok(out)
}
