//! Stage 1 of reading a record: physical lines from the input, unfolded into the logical
//! lines of one record, stored compactly.
//!
//! The logical lines of a record sit back to back in one buffer (comments and the line
//! terminators left out), so a line is described by where it *ends* and 32 bits of what the
//! fast scan found ([`Meta`]): 8 bytes a line whatever the line. Line numbers are kept only
//! where they do not simply count up (after comments, folded lines), and the values the
//! second stage resolves (base64, URLs, and anything whose offsets do not fit in [`Meta`])
//! go to a side list that the record's attribute iterator walks in step. A record of many
//! tiny values therefore costs a small multiple of its size, not ~90 bytes a value.

use std::io::BufRead;

use super::super::error::{LdifErrorKind as K, Limit};
use super::scan::{scan_line, scan_rest};
use super::{PResult, Reader};

/// What is known about a logical line, in 32 bits: a tag (2 bits), the offset of the `:`
/// from the line's start (20 bits) and that of the value from the `:` (10 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Meta(u32);

/// The tag of a [`Meta`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tag {
    /// Nothing known: the second stage does the full checks.
    Unknown,
    /// Plain value, checked SAFE (only ASCII without NUL and CR); offsets valid.
    Plain,
    /// Base64 value (not yet decoded or checked); offsets valid.
    B64,
    /// Resolved by the second stage: the next [`Side`] entry holds its spans.
    Side,
}

impl Meta {
    /// Nothing known.
    pub const UNKNOWN: Meta = Meta(0);
    /// Resolved into the side list.
    pub const SIDE: Meta = Meta(3);

    /// A plain or base64 line with its `:` at `colon` and its value at `vstart` (both
    /// relative to the line's start); [`Meta::UNKNOWN`] when the offsets do not fit.
    pub fn scanned(b64: bool, colon: usize, vstart: usize) -> Meta {
        let voff = vstart.wrapping_sub(colon);
        if colon >= 1 << 20 || voff >= 1 << 10 || vstart < colon {
            return Meta::UNKNOWN;
        }
        let tag = if b64 { 2 } else { 1 };
        Meta(tag | (colon as u32) << 2 | (voff as u32) << 22)
    }

    pub fn tag(self) -> Tag {
        match self.0 & 3 {
            0 => Tag::Unknown,
            1 => Tag::Plain,
            2 => Tag::B64,
            _ => Tag::Side,
        }
    }

    /// Offset of the `:` from the line's start.
    pub fn colon(self) -> usize {
        ((self.0 >> 2) & 0xf_ffff) as usize
    }

    /// Offset of the value from the line's start.
    pub fn vstart(self) -> usize {
        self.colon() + (self.0 >> 22) as usize
    }
}

/// A logical line: where it ends in the buffer (it starts where the previous one ends).
#[derive(Debug, Clone, Copy)]
pub(super) struct Line {
    pub end: u32,
    pub meta: Meta,
}

/// Bit of [`Side::start`] saying the value is in the decoded-values buffer.
pub(super) const DECODED: u32 = 1 << 31;

/// A value resolved by the second stage: the `:` (absolute offset in the buffer) and the
/// value's span, in the buffer or (with [`DECODED`] set in `start`) in the decoded values.
#[derive(Debug, Clone, Copy)]
pub(super) struct Side {
    pub colon: u32,
    pub start: u32,
    pub end: u32,
}

/// The largest limit the reader applies, whatever the options say: a record is addressed
/// with 32-bit offsets (buffer ≤ record + line limit < 2³¹).
pub(super) const LIMIT_CAP: usize = 1 << 30;

impl<R: BufRead> Reader<R> {
    pub(super) fn peek(&mut self) -> PResult<Option<u8>> {
        let line = self.line_no;
        let b = self.inner.fill_buf().map_err(|e| (line, K::Io(e)))?;
        Ok(b.first().copied())
    }

    /// Appends one physical line (without its terminator) to `buf`; false at EOF.
    fn read_physical(&mut self, logical_start: usize) -> PResult<bool> {
        let mut got = false;
        let line = self.line_no + 1;
        loop {
            let avail = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err((line, K::Io(e))),
            };
            if avail.is_empty() {
                break;
            }
            got = true;
            let (mut take, mut done) = match memchr::memchr(b'\n', avail) {
                Some(i) => (i, true),
                None => (avail.len(), false),
            };
            // never hold more of an overlong line than it takes to see that it is one,
            // however much of it the input hands over at once
            let room = (self.max_line + 1).saturating_sub(self.buf.len() - logical_start);
            if take > room {
                (take, done) = (room, false);
            }
            self.buf
                .extend_from_slice(avail.get(..take).unwrap_or_default());
            let consumed = if done { take + 1 } else { take };
            self.inner.consume(consumed);
            self.bytes += consumed as u64;
            if self.buf.len() - logical_start > self.max_line {
                return Err((
                    line,
                    K::LimitExceeded {
                        what: Limit::Line,
                        limit: self.max_line,
                    },
                ));
            }
            if done {
                break;
            }
        }
        if got {
            self.line_no += 1;
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        }
        Ok(got)
    }

    /// Appends the continuation lines of the logical line that started at `start` in
    /// `buf`. True if all of them were scanned by [`scan_rest`] (so their bytes are SAFE
    /// ASCII); false if some went through the general path, which makes the same checks
    /// the general path always makes.
    fn read_continuations(&mut self, start: usize) -> PResult<bool> {
        let mut fast = true;
        while self.peek()? == Some(b' ') {
            if fast {
                let avail = self.inner.fill_buf().unwrap_or_default();
                if let Some((len, consume)) = scan_rest(avail, 1) {
                    // the general path counts a CR before the LF against the limit
                    if self.buf.len() - start + (consume - 2) <= self.max_line {
                        self.buf
                            .extend_from_slice(avail.get(1..len).unwrap_or_default());
                        self.inner.consume(consume);
                        self.bytes += consume as u64;
                        self.line_no += 1;
                        continue;
                    }
                }
                fast = false;
            }
            self.inner.consume(1);
            self.bytes += 1;
            self.read_physical(start)?;
        }
        Ok(fast)
    }

    /// Records the logical line that started on physical line `no` and ends at the end of
    /// `buf`, then checks the record limit.
    fn push_line(&mut self, no: u64, meta: Meta) -> PResult<()> {
        let index = self.lines.len();
        let counted = self
            .jumps
            .last()
            .map(|&(i, n)| n + (index as u64 - u64::from(i)));
        if counted != Some(no) {
            self.jumps.push((index as u32, no));
        }
        self.lines.push(Line {
            end: self.buf.len() as u32,
            meta,
        });
        if self.buf.len() > self.max_record {
            return Err((
                no,
                K::LimitExceeded {
                    what: Limit::Record,
                    limit: self.max_record,
                },
            ));
        }
        Ok(())
    }

    /// Reads the logical lines of the next record; false at EOF.
    pub(super) fn read_lines(&mut self) -> PResult<bool> {
        self.buf.clear();
        self.lines.clear();
        self.jumps.clear();
        self.side.clear();
        loop {
            let start = self.buf.len();
            let no = self.line_no + 1;
            let avail = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err((no, K::Io(e))),
            };
            if avail.first() == Some(&b'\n') {
                self.inner.consume(1);
                self.bytes += 1;
                self.line_no += 1;
                if self.lines.is_empty() {
                    continue;
                }
                break;
            }
            if let Some(f) = scan_line(avail, self.max_line) {
                self.buf
                    .extend_from_slice(avail.get(..f.len).unwrap_or_default());
                self.inner.consume(f.consume);
                self.bytes += f.consume as u64;
                self.line_no += 1;
                let mut meta = Meta::scanned(f.b64, f.colon, f.vstart);
                if f.folded && !self.read_continuations(start)? {
                    meta = Meta::UNKNOWN;
                }
                self.push_line(no, meta)?;
                continue;
            }
            if !self.read_physical(start)? {
                break;
            }
            let Some(&first) = self.buf.get(start) else {
                // blank line
                if self.lines.is_empty() {
                    continue;
                }
                break;
            };
            if first == b' ' {
                return Err((no, K::ContinuationAtStart));
            }
            while self.peek()? == Some(b' ') {
                self.inner.consume(1);
                self.bytes += 1;
                self.read_physical(start)?;
            }
            if first == b'#' {
                self.buf.truncate(start);
                continue;
            }
            self.push_line(no, Meta::UNKNOWN)?;
        }
        Ok(!self.lines.is_empty())
    }

    /// Start and end of logical line `i` in `buf`.
    pub(super) fn bounds(&self, i: usize) -> (usize, usize) {
        let start = match i.checked_sub(1) {
            Some(p) => self.lines.get(p).map_or(0, |l| l.end as usize),
            None => 0,
        };
        (start, self.lines.get(i).map_or(start, |l| l.end as usize))
    }

    /// The physical line number logical line `i` started on.
    pub(super) fn line_no(&self, i: usize) -> u64 {
        let k = self.jumps.partition_point(|&(idx, _)| idx as usize <= i);
        match k.checked_sub(1).and_then(|k| self.jumps.get(k)) {
            Some(&(idx, no)) => no + (i - idx as usize) as u64,
            None => self.line_no,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_packs_offsets_or_gives_up() {
        let m = Meta::scanned(false, 11, 13);
        assert_eq!((m.tag(), m.colon(), m.vstart()), (Tag::Plain, 11, 13));
        let m = Meta::scanned(true, (1 << 20) - 1, (1 << 20) - 1 + 1023);
        assert_eq!(m.tag(), Tag::B64);
        assert_eq!(
            (m.colon(), m.vstart()),
            ((1 << 20) - 1, (1 << 20) - 1 + 1023)
        );
        assert_eq!(Meta::scanned(false, 1 << 20, (1 << 20) + 1), Meta::UNKNOWN);
        assert_eq!(Meta::scanned(false, 3, 3 + 1024), Meta::UNKNOWN);
        assert_eq!(Meta::SIDE.tag(), Tag::Side);
        assert_eq!(std::mem::size_of::<Line>(), 8);
        assert_eq!(std::mem::size_of::<Side>(), 12);
    }

    #[test]
    fn line_numbers_are_kept_where_they_jump() {
        let text = b"dn: cn=a\n# c\ncn: a\nsn: b\ndescription: x\n y\nl: z\n";
        let mut r = Reader::new(&text[..]);
        assert!(r.read_lines().unwrap_or(false));
        let nos: Vec<u64> = (0..r.lines.len()).map(|i| r.line_no(i)).collect();
        assert_eq!(nos, [1, 3, 4, 5, 7]);
        assert_eq!(r.jumps.len(), 3, "{:?}", r.jumps);
        let (s, e) = r.bounds(3);
        assert_eq!(r.buf.get(s..e), Some(&b"description: xy"[..]));
    }
}
