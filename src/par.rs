//! Work on all cores: jobs spread over scoped threads, results in a fixed order whatever
//! the number of threads.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The machine's parallelism (1 when it cannot be told).
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The number of threads to use for `work` items: `threads`, or (0) the machine's parallelism;
/// at least 1, at most `work`.
pub(crate) fn threads(threads: usize, work: usize) -> usize {
    let n = if threads == 0 { cores() } else { threads };
    n.clamp(1, work.max(1))
}

/// `f(0..jobs)` on up to `threads` threads, results in job order.
pub(crate) fn parallel<T: Send>(
    jobs: usize,
    threads: usize,
    f: impl Fn(usize) -> T + Sync,
) -> Vec<T> {
    let workers = threads.min(jobs);
    if workers <= 1 {
        return (0..jobs).map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, T)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let j = next.fetch_add(1, Ordering::Relaxed);
                        if j >= jobs {
                            return out;
                        }
                        out.push((j, f(j)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    done.sort_unstable_by_key(|(j, _)| *j);
    done.into_iter().map(|(_, t)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_threads_means_every_core_and_never_more_than_the_work() {
        assert_eq!(threads(0, usize::MAX), cores());
        assert_eq!(threads(3, usize::MAX), 3);
        assert_eq!(threads(8, 2), 2);
        assert_eq!(threads(0, 0), 1);
        assert_eq!(threads(5, 0), 1);
    }

    #[test]
    fn results_come_in_job_order_on_any_number_of_threads() {
        for threads in [0, 1, 2, 3, 8] {
            let got = parallel(100, threads, |j| j * j);
            assert_eq!(
                got,
                (0..100).map(|j| j * j).collect::<Vec<_>>(),
                "{threads}"
            );
        }
        assert!(parallel(0, 4, |j| j).is_empty());
    }
}
