//! What the tool prints: standard output that ends quietly on a closed pipe, how a command
//! fails (exit status and message), and escaping of untrusted bytes in human output.
//!
//! Names, DNs, values and file names come from files an admin did not write and may carry
//! terminal control sequences (ESC, BEL, CR) or newlines that forge output lines. Everything
//! the tool prints for a human goes through [`text`] (multi-line text from the library: every
//! control character except newline and tab is escaped) or [`field`] (one datum inside a line:
//! newlines and tabs are escaped too). Escapes read `\xHH` (C0 and DEL) and `\u{HHHH}` (C1 and
//! bidirectional overrides), which no terminal and no DOT renderer interprets.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};

/// The status a shell reports for a process ended by SIGPIPE (128 + 13): what `... | head`
/// leaves for the writer when the reader has gone.
pub const PIPE_CLOSED: u8 = 141;

/// Why a command stopped: its exit status and, unless the message was printed already (or
/// there is nothing to say, as on a closed pipe), the message for stderr.
#[derive(Debug)]
pub struct Failure {
    /// The exit status.
    pub code: u8,
    /// Printed on stderr, prefixed with the command's name, when present.
    pub message: Option<String>,
}

impl Failure {
    /// Fails with `code` and a message.
    pub fn new(code: u8, message: impl fmt::Display) -> Failure {
        Failure {
            code,
            message: Some(message.to_string()),
        }
    }

    /// Fails with `code`; whatever needed saying was said.
    pub fn quiet(code: u8) -> Failure {
        Failure {
            code,
            message: None,
        }
    }

    /// Bad usage (exit 2).
    pub fn usage(message: impl fmt::Display) -> Failure {
        Failure::new(2, message)
    }

    /// Writing standard output failed: quietly [`PIPE_CLOSED`] when the reader has gone,
    /// else exit 1 with the reason.
    pub fn stdout(e: io::Error) -> Failure {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Failure::quiet(PIPE_CLOSED)
        } else {
            Failure::new(1, format_args!("writing standard output: {e}"))
        }
    }
}

/// What a command returns: its exit status, or why it stopped.
pub type Outcome = Result<u8, Failure>;

/// Standard output, buffered; every write reports a closed pipe as [`Failure::stdout`].
pub struct Out {
    w: io::BufWriter<io::StdoutLock<'static>>,
}

impl Out {
    /// Locks standard output.
    pub fn new() -> Out {
        Out {
            w: io::BufWriter::with_capacity(1 << 16, io::stdout().lock()),
        }
    }

    /// Prints library text (several lines), escaped with [`text`].
    pub fn text(&mut self, s: &str) -> Result<(), Failure> {
        self.w
            .write_all(text(s).as_bytes())
            .map_err(Failure::stdout)
    }

    /// Prints one line (a newline is added), escaped with [`text`]: callers put untrusted data
    /// in through [`field`].
    pub fn line(&mut self, s: impl fmt::Display) -> Result<(), Failure> {
        let s = s.to_string();
        self.w
            .write_all(text(&s).as_bytes())
            .and_then(|()| self.w.write_all(b"\n"))
            .map_err(Failure::stdout)
    }

    /// Prints machine output (JSON, LDIF) unchanged.
    pub fn raw(&mut self, s: &[u8]) -> Result<(), Failure> {
        self.w.write_all(s).map_err(Failure::stdout)
    }

    /// Flushes; a command's last step.
    pub fn flush(&mut self) -> Result<(), Failure> {
        self.w.flush().map_err(Failure::stdout)
    }

    /// The writer itself, for streaming machine output.
    pub fn writer(&mut self) -> &mut impl Write {
        &mut self.w
    }
}

/// Prints a message on stderr, escaped with [`text`].
pub fn note(s: impl fmt::Display) {
    let s = s.to_string();
    let mut e = io::stderr().lock();
    let _ = e.write_all(text(&s).as_bytes());
    let _ = e.write_all(b"\n");
}

fn needs_escape(c: char, keep_lines: bool) -> bool {
    if keep_lines && (c == '\n' || c == '\t') {
        return false;
    }
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escape(s: &str, keep_lines: bool) -> Cow<'_, str> {
    if !s.chars().any(|c| needs_escape(c, keep_lines)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !needs_escape(c, keep_lines) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    Cow::Owned(out)
}

/// Text of several lines: every control character but newline and tab escaped.
pub fn text(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

/// One datum inside a line (a file name, DN, address, value): every control character
/// escaped, newline and tab included, so it cannot end or forge a line.
pub fn field(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// [`field`] for a path.
pub fn path(p: &std::path::Path) -> String {
    field(&p.to_string_lossy()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls_and_forged_lines() {
        assert_eq!(text("plain\nline\ttab"), "plain\nline\ttab");
        assert_eq!(text("a\x1b[2Jb\x07c\rd"), "a\\x1b[2Jb\\x07c\\x0dd");
        assert_eq!(field("x\nconflicts: none"), "x\\x0aconflicts: none");
        assert_eq!(field("t\tu\u{7f}"), "t\\x09u\\x7f");
        assert_eq!(field("csi\u{9b}31m"), "csi\\u{9b}31m");
        assert_eq!(field("rtl\u{202e}gpj.exe"), "rtl\\u{202e}gpj.exe");
        assert_eq!(field("café ünïcode"), "café ünïcode");
        assert!(matches!(field("dn=a\\,b"), Cow::Borrowed(_)));
    }

    #[test]
    fn closed_pipe_is_quiet() {
        let f = Failure::stdout(io::Error::from(io::ErrorKind::BrokenPipe));
        assert_eq!((f.code, f.message), (PIPE_CLOSED, None));
        let f = Failure::stdout(io::Error::other("disk full"));
        assert_eq!(f.code, 1);
        assert!(f.message.unwrap().contains("disk full"));
    }
}
