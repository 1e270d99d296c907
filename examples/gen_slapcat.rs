//! Writes a Zimbra-like slapcat LDIF to stdout or a file.
//!
//! `cargo run --release --example gen_slapcat -- [ACCOUNTS] [DOMAINS] [OUT]`
//! (defaults: 100000 accounts, 50 domains, stdout). 100,000 accounts is about 250 MB.

#[path = "support/slapcat_gen.rs"]
mod slapcat_gen;

use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (accounts, domains) = (num(0, 100_000), num(1, 50));
    let result = match args.get(2) {
        Some(path) => std::fs::File::create(path).and_then(|f| {
            let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
            let n = slapcat_gen::generate(accounts, domains, &mut w)?;
            w.flush().map(|_| n)
        }),
        None => {
            let mut w = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            slapcat_gen::generate(accounts, domains, &mut w).and_then(|n| w.flush().map(|_| n))
        }
    };
    match result {
        Ok(n) => eprintln!("gen_slapcat: {n} records"),
        Err(e) => {
            eprintln!("gen_slapcat: {e}");
            std::process::exit(1);
        }
    }
}
