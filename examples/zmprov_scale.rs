//! zmprov on large values: wall time and peak RSS of adding many members to a distribution
//! list (`adlm`), many external members to a dynamic group, and many values in one `ca`.
//!
//! ```text
//! cargo run --release --example zmprov_scale -- [N...]      # default: 80000 200000 1000000
//! ```
//!
//! Each case runs in a fresh child process (this program with `child CASE N`), so each peak
//! RSS (`VmHWM`) is the case's own. Every operation is linear: a million members take seconds.

#[path = "support/proc_stats.rs"]
mod proc_stats;

use std::process::Command;
use std::time::Instant;

use proc_stats::{cpu_seconds, peak_rss_kb};

use zimbra_prov::model::Directory;
use zimbra_prov::zmprov;

const SETUP: &str = "cs mbx.example.org zimbraServiceEnabled mailbox\ncd example.org\n\
                     cdl list@example.org\ncddl group@example.org";

fn members(n: usize) -> String {
    (0..n)
        .map(|i| format!("m{i}@partner.example"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The script of a case: what is timed.
fn script(case: &str, n: usize) -> Option<String> {
    Some(match case {
        "adlm" => format!("adlm list@example.org {}", members(n)),
        "adlm-dynamic" => format!("adlm group@example.org {}", members(n)),
        "ca" => {
            let values: Vec<String> = (0..n)
                .map(|i| format!("+zimbraMailForwardingAddress f{i}@partner.example"))
                .collect();
            format!("ca big@example.org pw {}", values.join(" "))
        }
        _ => return None,
    })
}

fn child(case: &str, n: usize) {
    let mut dir = Directory::new();
    if let Err(e) = zmprov::run(&mut dir, SETUP) {
        eprintln!("{e}");
        std::process::exit(2);
    }
    let Some(text) = script(case, n) else {
        eprintln!("unknown case {case}");
        std::process::exit(2);
    };
    let start = Instant::now();
    if let Err(e) = zmprov::run(&mut dir, &text) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    println!(
        "{:.3} {} {:.2}",
        start.elapsed().as_secs_f64(),
        peak_rss_kb(),
        cpu_seconds()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("child") {
        let n = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
        child(args.get(1).map(String::as_str).unwrap_or_default(), n);
        return;
    }
    let mut sizes: Vec<usize> = args.iter().filter_map(|s| s.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = vec![80_000, 200_000, 1_000_000];
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    println!("| case | values | wall | CPU | peak RSS |");
    println!("|---|---|---|---|---|");
    for case in ["adlm", "adlm-dynamic", "ca"] {
        for &n in &sizes {
            let out = Command::new(&exe)
                .args(["child", case, &n.to_string()])
                .output();
            match out {
                Ok(o) if o.status.success() => {
                    let text = String::from_utf8_lossy(&o.stdout);
                    let mut it = text.split_whitespace();
                    let wall = it.next().unwrap_or("?");
                    let kb: f64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0.0);
                    let cpu = it.next().unwrap_or("?");
                    println!(
                        "| {case} | {n} | {wall} s | {cpu} s | {:.0} MB |",
                        kb / 1024.0
                    );
                }
                Ok(o) => println!(
                    "| {case} | {n} | failed: {} |",
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
                Err(e) => println!("| {case} | {n} | failed: {e} |"),
            }
        }
    }
}
