//! Verification memory grows with the topology, not with the number of outcomes (issue 14): on a
//! forwarding chain of N accounts (each keeps a copy and forwards to the next, so the classes'
//! outcomes add up to N²/2 deliveries) the peak heap must grow about linearly with N. Before, the
//! verifier kept every class's outcomes: doubling N multiplied the peak by four (2,000 accounts:
//! 1.5 GB). Its own test binary: the counting allocator sees only this test.

#[path = "../examples/support/hostile.rs"]
mod hostile;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use zimbra_prov::scenario::Scenario;
use zimbra_prov::verify::{check_with, CheckOptions};

struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = NOW.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        NOW.fetch_sub(l.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Peak heap bytes of verifying a chain of `n` accounts, above what the loaded scenario holds.
fn peak_of_check(n: usize) -> usize {
    let sc = Scenario::parse(&hostile::chain(n, false), "chain.toml", &Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let base = NOW.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let r = check_with(&sc.stages[0].topology, &CheckOptions::threads(1));
    assert_eq!(r.classes.len(), n + 3, "{}", r.to_text());
    assert!(r.findings.is_empty(), "{}", r.to_text());
    PEAK.load(Ordering::Relaxed).saturating_sub(base)
}

#[test]
fn chain_verification_memory_grows_linearly() {
    let small = peak_of_check(200);
    let large = peak_of_check(400);
    let ratio = large as f64 / small as f64;
    eprintln!("peak heap: {small} bytes (200 accounts), {large} bytes (400 accounts), x{ratio:.2}");
    assert!(
        ratio < 2.5,
        "doubling the chain multiplied the peak heap by {ratio:.2} ({small} -> {large} bytes)"
    );
}
