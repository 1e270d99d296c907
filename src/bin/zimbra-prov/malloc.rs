//! glibc malloc settings for a process that loads big directories on several threads (the
//! `zimbra-prov` binary, and the benchmarks that measure what it does, which include this file).
//!
//! glibc gives every thread but the first a heap of its own and grows it a few pages at a time,
//! one `mprotect` call and address-space change each. Loading a 100,000-account slapcat on two
//! threads spent most of its extra system time there: 2 threads were 1.56× faster than 1, and
//! 1.8× with a 64 MiB top pad, which makes each growth take that much address space at once.
//! Pages become resident only when written, so peak RSS is the same.

/// Applies the settings: on glibc, unless the user set `MALLOC_TOP_PAD_` (glibc's own knob for
/// the same setting); elsewhere nothing. Call it first thing in `main`, before any thread
/// starts.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_TOP_PAD_").is_none() {
        const TOP_PAD: libc::c_int = 64 << 20;
        // Setting any threshold by mallopt stops glibc from raising the mmap threshold as
        // big blocks are freed (which it does by default): keep the LDIF reader's 2 MiB
        // blocks in the heap, reused, instead of mapped and unmapped each time.
        const MMAP_THRESHOLD: libc::c_int = 8 << 20;
        // SAFETY: mallopt only sets malloc parameters (a refused value leaves the default);
        // it is called before this process starts any other thread.
        unsafe {
            libc::mallopt(libc::M_TOP_PAD, TOP_PAD);
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        }
    }
}
