//! Progress on stderr for long loads and verifications, drawn only when stderr is a terminal
//! (a redirected stderr gets nothing, so logs and tests see only the real messages).

use std::io::{BufRead, IsTerminal};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};

/// Whether progress is drawn at all.
pub fn enabled() -> bool {
    std::io::stderr().is_terminal()
}

fn new_bar(len: Option<u64>) -> ProgressBar {
    if !enabled() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr())
        .with_finish(ProgressFinish::AndClear);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// A bar over the bytes of a file being read.
pub fn bytes(len: u64, what: &str) -> ProgressBar {
    let bar = new_bar(Some(len));
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// A spinner for work of unknown length (a verification, a scenario load).
pub fn spinner(what: &str) -> ProgressBar {
    let bar = new_bar(None);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(what.to_string());
    bar
}

/// A counter of items (entries, operations).
pub fn counter(what: &str) -> ProgressBar {
    let bar = new_bar(None);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}: {pos} ({per_sec}, {elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(what.to_string());
    bar
}

/// Reads through `inner`, advancing `bar` by the bytes consumed.
pub struct Reading<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R> Reading<R> {
    /// Wraps a reader.
    pub fn new(inner: R, bar: ProgressBar) -> Reading<R> {
        Reading { inner, bar }
    }
}

impl<R: std::io::Read> std::io::Read for Reading<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Reading<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.bar.inc(amt as u64);
        self.inner.consume(amt);
    }
}
