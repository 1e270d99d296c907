//! [`RecordRef`]: a record borrowed from the reader's buffers.

use super::super::error::{LdifError, LdifErrorKind as K};
use super::super::record::{Attr, Change, Entry, Record};
use super::lines::{Line, Side, Tag, DECODED};
use crate::dn::Dn;

/// A record borrowed from the reader's buffers (no per-value allocation); valid until the
/// next call on the reader. Obtained from [`Reader::next_ref`](super::Reader::next_ref).
#[derive(Debug)]
pub struct RecordRef<'a> {
    pub(super) line: u64,
    pub(super) dn: &'a str,
    pub(super) buf: &'a [u8],
    /// `buf` as text when it is UTF-8 (it is but for raw non-UTF-8 values): checked once per
    /// record, so that descriptions need no check of their own.
    pub(super) text: Option<&'a str>,
    pub(super) decoded: &'a [u8],
    /// The attribute lines of a content entry (empty for change records).
    pub(super) lines: &'a [Line],
    /// Where the first of `lines` starts in `buf`.
    pub(super) start: usize,
    pub(super) side: &'a [Side],
    pub(super) change: Option<Change>,
}

/// The (description, value) pairs of a [`RecordRef`], in file order.
#[derive(Debug, Clone)]
struct Attributes<'a> {
    buf: &'a [u8],
    text: Option<&'a str>,
    decoded: &'a [u8],
    lines: std::slice::Iter<'a, Line>,
    start: usize,
    side: std::slice::Iter<'a, Side>,
}

impl<'a> Iterator for Attributes<'a> {
    type Item = (&'a str, &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<(&'a str, &'a [u8])> {
        let line = self.lines.next()?;
        let (start, end) = (self.start, line.end as usize);
        self.start = end;
        let (colon, value) = match line.meta.tag() {
            Tag::Side => {
                let s = self.side.next().copied().unwrap_or(Side {
                    colon: start as u32,
                    start: end as u32,
                    end: end as u32,
                });
                let (a, b) = ((s.start & !DECODED) as usize, s.end as usize);
                let value = if s.start & DECODED != 0 {
                    self.decoded.get(a..b)
                } else {
                    self.buf.get(a..b)
                };
                (s.colon as usize, value.unwrap_or_default())
            }
            // A content record's lines are all resolved as plain or side values.
            _ => (
                start + line.meta.colon(),
                self.buf
                    .get(start + line.meta.vstart()..end)
                    .unwrap_or_default(),
            ),
        };
        // descriptions are ASCII (the reader checked them), so they are whole characters of
        // `text`
        let desc = match self.text.and_then(|t| t.get(start..colon)) {
            Some(d) => d,
            None => std::str::from_utf8(self.buf.get(start..colon).unwrap_or_default())
                .unwrap_or_default(),
        };
        Some((desc, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.lines.size_hint()
    }
}

impl ExactSizeIterator for Attributes<'_> {}

impl<'a> RecordRef<'a> {
    /// Line the record started on (1-based).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The record's DN text (validated RFC 4514).
    pub fn dn(&self) -> &'a str {
        self.dn
    }

    /// True for change records.
    pub fn is_change(&self) -> bool {
        self.change.is_some()
    }

    /// The change record, for change records.
    pub fn change(&self) -> Option<&Change> {
        self.change.as_ref()
    }

    /// The (description, value) lines of a content entry, in file order (empty for
    /// change records).
    ///
    /// ```
    /// use zimbra_prov::ldif::Reader;
    /// let mut r = Reader::new(&b"dn: cn=x\ncn: x\ndescription:: IGI=\n"[..]);
    /// let rec = r.next_ref()?.expect("a record");
    /// let attrs: Vec<(&str, &[u8])> = rec.attributes().collect();
    /// assert_eq!(attrs, [("cn", &b"x"[..]), ("description", &b" b"[..])]);
    /// # Ok::<(), zimbra_prov::ldif::LdifError>(())
    /// ```
    pub fn attributes(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + Clone + 'a {
        Attributes {
            buf: self.buf,
            text: self.text,
            decoded: self.decoded,
            lines: self.lines.iter(),
            start: self.start,
            side: self.side.iter(),
        }
    }

    /// Number of attribute lines of a content entry.
    pub fn attribute_count(&self) -> usize {
        self.lines.len()
    }

    /// Copies the record into an owned [`Record`].
    pub fn to_record(&self) -> Result<Record, LdifError> {
        if let Some(c) = &self.change {
            return Ok(Record::Change(c.clone()));
        }
        let dn = Dn::parse(self.dn).map_err(|e| LdifError {
            line: self.line,
            record_line: Some(self.line),
            dn: Some(self.dn.to_string()),
            kind: K::InvalidDn(e),
        })?;
        let attrs = self
            .attributes()
            .map(|(d, v)| Attr::new(d, v))
            .collect::<Vec<_>>();
        Ok(Record::Entry(Entry {
            dn,
            attrs,
            line: self.line,
        }))
    }
}
