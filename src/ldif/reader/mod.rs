//! Streaming LDIF reader.
//!
//! A record is read in two stages: [`lines`] reads the physical lines of one record and
//! unfolds them into logical lines (the fast one-pass [`scan`] accepts the common lines and
//! notes where their value starts), then this module resolves values (plain checks,
//! [`base64`], [`url`] values) and the record's shape; change records are parsed by
//! [`change`]. [`RecordRef`] hands the result out without copying.

mod base64;
mod change;
mod lines;
mod record_ref;
mod scan;
mod url;

#[cfg(test)]
mod tests;

use std::io::BufRead;
use std::path::PathBuf;

pub(crate) use base64::B64;
pub use record_ref::RecordRef;
pub use scan::valid_description;
pub(crate) use scan::valid_oid;

use super::error::{LdifError, LdifErrorKind as K, Limit};
use super::record::{Change, Record};
use crate::dn::Dn;
use lines::{Line, Meta, Side, Tag, DECODED, LIMIT_CAP};
use scan::{dn_fast_ok, valid_description_bytes};

/// Options of a [`Reader`]. The defaults are strict and fit real directories.
///
/// ```
/// use zimbra_prov::ldif::{Reader, ReaderOptions};
/// let opts = ReaderOptions { max_value_bytes: 1 << 20, ..ReaderOptions::default() };
/// let mut r = Reader::with_options(&b"dn: cn=x\ncn: x\n"[..], opts);
/// assert!(r.next_record()?.is_some());
/// # Ok::<(), zimbra_prov::ldif::LdifError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ReaderOptions {
    /// Longest logical (unfolded) line, in bytes. Default 12 MiB.
    pub max_line_bytes: usize,
    /// Longest decoded value, in bytes. Default 8 MiB (a 64 KiB jpegPhoto is normal).
    pub max_value_bytes: usize,
    /// Largest record (unfolded lines plus decoded values), in bytes. Default 32 MiB.
    ///
    /// The three limits are capped at 1 GiB each whatever is set here: the reader addresses
    /// a record with 32-bit offsets.
    pub max_record_bytes: usize,
    /// `:<` URL values are refused unless this is set; then only `file://` URLs naming a
    /// regular file inside this directory are read (at most `max_value_bytes` of it; FIFOs,
    /// devices and directories are refused). Nothing is ever fetched over a network.
    pub url_base: Option<PathBuf>,
    /// Accept a modify record whose last mod-spec lacks its closing `-` (OpenLDAP and
    /// python-ldap do; RFC 2849 requires it). Default true.
    pub allow_missing_final_dash: bool,
    /// Accept content and change records in one file. Default false (RFC 2849).
    pub allow_mixed_records: bool,
}

impl Default for ReaderOptions {
    fn default() -> ReaderOptions {
        ReaderOptions {
            max_line_bytes: 12 << 20,
            max_value_bytes: 8 << 20,
            max_record_bytes: 32 << 20,
            url_base: None,
            allow_missing_final_dash: true,
            allow_mixed_records: false,
        }
    }
}

/// A value's bytes: in the line buffer or in the decoded-values buffer.
#[derive(Debug, Clone, Copy)]
enum Span {
    Buf(usize, usize),
    Dec(usize, usize),
}

fn span<'a>(buf: &'a [u8], decoded: &'a [u8], s: Span) -> &'a [u8] {
    match s {
        Span::Buf(a, b) => buf.get(a..b).unwrap_or_default(),
        Span::Dec(a, b) => decoded.get(a..b).unwrap_or_default(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValKind {
    Plain,
    B64,
    Url,
}

/// A logical line split: description span, value kind, value span (in the line buffer).
type Split = ((usize, usize), ValKind, usize, usize);

type PResult<T> = Result<T, (u64, K)>;

/// A parsed record: start line, DN span, the change (for change records), and the index of
/// the first attribute line (for content records).
type Parsed = (u64, Span, Option<Change>, usize);

/// Reads LDIF records one at a time from any [`BufRead`].
///
/// Memory use is bounded by the largest record: buffers are reused from record to record,
/// and a record held by [`Reader::next_ref`] costs its own bytes plus 8 bytes a line (a
/// record of a million tiny values costs a few times its size, not a hundred). After the
/// first error the reader stops and returns `Ok(None)`. The work is linear in the input,
/// whatever it holds (comment lines, lines without `:` and overlong lines included).
///
/// ```
/// use zimbra_prov::ldif::{Reader, Record};
/// let text = b"version: 1\ndn: uid=a,dc=example\nobjectClass: account\nuid: a\n\n\
///              dn: uid=b,dc=example\nobjectClass: account\ndescription:: IGI=\n";
/// let records: Vec<Record> = Reader::new(&text[..]).collect::<Result<_, _>>()?;
/// assert_eq!(records.len(), 2);
/// let Record::Entry(b) = &records[1] else { panic!() };
/// assert_eq!(b.line, 6);
/// assert_eq!(b.get("description"), Some(&b" b"[..]));
/// # Ok::<(), zimbra_prov::ldif::LdifError>(())
/// ```
#[derive(Debug)]
pub struct Reader<R> {
    inner: R,
    opts: ReaderOptions,
    /// The limits of `opts`, capped at [`LIMIT_CAP`].
    max_line: usize,
    max_value: usize,
    max_record: usize,
    line_no: u64,
    bytes: u64,
    /// The current record's logical lines, back to back.
    buf: Vec<u8>,
    lines: Vec<Line>,
    /// (line index, physical line number) where the numbering does not count up by one.
    jumps: Vec<(u32, u64)>,
    /// Values resolved by the second stage, in line order.
    side: Vec<Side>,
    decoded: Vec<u8>,
    started: bool,
    seen_change: Option<bool>,
    failed: bool,
}

impl<R: BufRead> Reader<R> {
    /// A reader with default options.
    pub fn new(inner: R) -> Reader<R> {
        Reader::with_options(inner, ReaderOptions::default())
    }

    /// A reader with the given options.
    pub fn with_options(inner: R, opts: ReaderOptions) -> Reader<R> {
        Reader {
            inner,
            max_line: opts.max_line_bytes.min(LIMIT_CAP),
            max_value: opts.max_value_bytes.min(LIMIT_CAP),
            max_record: opts.max_record_bytes.min(LIMIT_CAP),
            opts,
            line_no: 0,
            bytes: 0,
            buf: Vec::with_capacity(8192),
            lines: Vec::with_capacity(64),
            jumps: Vec::with_capacity(8),
            side: Vec::new(),
            decoded: Vec::with_capacity(4096),
            started: false,
            seen_change: None,
            failed: false,
        }
    }

    /// The options in use.
    pub fn options(&self) -> &ReaderOptions {
        &self.opts
    }

    /// Physical lines consumed so far.
    pub fn line_number(&self) -> u64 {
        self.line_no
    }

    /// Bytes consumed so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// The next record as an owned [`Record`], `Ok(None)` at the end of input.
    pub fn next_record(&mut self) -> Result<Option<Record>, LdifError> {
        match self.next_ref()? {
            None => Ok(None),
            Some(r) => r.to_record().map(Some),
        }
    }

    /// The next record borrowed from the reader's buffers: the fast path.
    pub fn next_ref(&mut self) -> Result<Option<RecordRef<'_>>, LdifError> {
        if self.failed {
            return Ok(None);
        }
        match self.parse_next() {
            Ok(Some((line, dn, change, first_attr))) => {
                let dn_bytes = span(&self.buf, &self.decoded, dn);
                let attrs = match change {
                    Some(_) => &[][..],
                    None => self.lines.get(first_attr..).unwrap_or_default(),
                };
                Ok(Some(RecordRef {
                    line,
                    dn: std::str::from_utf8(dn_bytes).unwrap_or_default(),
                    buf: &self.buf,
                    text: std::str::from_utf8(&self.buf).ok(),
                    decoded: &self.decoded,
                    lines: attrs,
                    start: self.bounds(first_attr).0,
                    side: &self.side,
                    change,
                }))
            }
            Ok(None) => Ok(None),
            Err((line, kind)) => {
                self.failed = true;
                let record_line = self.jumps.first().map(|&(_, no)| no);
                let dn = self.dn_for_error();
                Err(LdifError {
                    line,
                    record_line,
                    dn,
                    kind,
                })
            }
        }
    }

    fn dn_for_error(&self) -> Option<String> {
        let i = (0..self.lines.len().min(2)).find(|&i| self.desc_is(i, b"dn"))?;
        let (desc, kind, vs, ve) = self.split(i).ok()?;
        let d = self.buf.get(desc.0..desc.1)?;
        if !d.eq_ignore_ascii_case(b"dn") {
            return None;
        }
        let v = self.buf.get(vs..ve)?;
        match kind {
            ValKind::Plain => Some(String::from_utf8_lossy(v).into_owned()),
            ValKind::B64 => {
                let mut out = Vec::new();
                base64::decode(v, &mut out).then(|| String::from_utf8_lossy(&out).into_owned())
            }
            ValKind::Url => None,
        }
    }

    // ---- logical line parsing -----------------------------------------------------------

    /// Splits logical line `i` into description span, value kind and value span.
    fn split(&self, i: usize) -> Result<Split, K> {
        let (start, end) = self.bounds(i);
        let meta = self.lines.get(i).map_or(Meta::UNKNOWN, |l| l.meta);
        match meta.tag() {
            Tag::Plain => {
                let desc = (start, start + meta.colon());
                return Ok((desc, ValKind::Plain, start + meta.vstart(), end));
            }
            Tag::B64 => {
                let desc = (start, start + meta.colon());
                return Ok((desc, ValKind::B64, start + meta.vstart(), end));
            }
            Tag::Unknown | Tag::Side => {}
        }
        let text = self.buf.get(start..end).unwrap_or_default();
        let Some(colon) = memchr::memchr(b':', text) else {
            return Err(K::MissingColon);
        };
        let desc = text.get(..colon).unwrap_or_default();
        if desc.is_empty() {
            return Err(K::EmptyAttributeDescription);
        }
        if !valid_description_bytes(desc) {
            return Err(K::InvalidAttributeDescription(
                String::from_utf8_lossy(desc).into_owned(),
            ));
        }
        let mut j = colon + 1;
        let kind = match text.get(j) {
            Some(b':') => {
                j += 1;
                ValKind::B64
            }
            Some(b'<') => {
                j += 1;
                ValKind::Url
            }
            _ => ValKind::Plain,
        };
        while text.get(j) == Some(&b' ') {
            j += 1;
        }
        Ok(((start, start + colon), kind, start + j.min(text.len()), end))
    }

    fn desc_str(&self, d: (usize, usize)) -> String {
        String::from_utf8_lossy(self.buf.get(d.0..d.1).unwrap_or_default()).into_owned()
    }

    fn check_plain(&self, v: &[u8], desc: (usize, usize)) -> Result<(), K> {
        // A value starting with ':' or '<' after the separator's space is not a
        // SAFE-STRING, but it is unambiguous (`::` and `:<` must touch the colon) and
        // OpenLDAP and every peer accept it, so it is accepted here too.
        if let Some(off) = memchr::memchr2(0, b'\r', v) {
            return Err(K::UnsafeValue {
                attribute: self.desc_str(desc),
                byte: v.get(off).copied().unwrap_or_default(),
                offset: off,
            });
        }
        if !v.is_ascii() && std::str::from_utf8(v).is_err() {
            return Err(K::ValueNotUtf8 {
                attribute: self.desc_str(desc),
            });
        }
        Ok(())
    }

    fn decode_b64(&mut self, vs: usize, ve: usize, desc: (usize, usize)) -> Result<Span, K> {
        let text = self.buf.get(vs..ve).unwrap_or_default();
        if text.len() / 4 * 3 > self.max_value {
            return Err(K::LimitExceeded {
                what: Limit::Value,
                limit: self.max_value,
            });
        }
        let start = self.decoded.len();
        if !base64::decode(text, &mut self.decoded) {
            return Err(K::BadBase64 {
                attribute: self.desc_str(desc),
            });
        }
        Ok(Span::Dec(start, self.decoded.len()))
    }

    fn read_url(&mut self, vs: usize, ve: usize, desc: (usize, usize)) -> Result<Span, K> {
        let url = String::from_utf8_lossy(self.buf.get(vs..ve).unwrap_or_default()).into_owned();
        let attribute = self.desc_str(desc);
        let start = self.decoded.len();
        url::read_value(
            &url,
            &attribute,
            self.opts.url_base.as_deref(),
            self.max_value,
            &mut self.decoded,
        )?;
        Ok(Span::Dec(start, self.decoded.len()))
    }

    /// Resolves the value of line `i` into a span.
    fn value(&mut self, i: usize) -> Result<((usize, usize), Span), K> {
        let (start, end) = self.bounds(i);
        let meta = self.lines.get(i).map_or(Meta::UNKNOWN, |l| l.meta);
        if meta.tag() == Tag::Plain {
            // checked SAFE by the scan; only the limits are left (else the general
            // path below reports them)
            let vstart = start + meta.vstart();
            if end - vstart <= self.max_value
                && self.buf.len() + self.decoded.len() <= self.max_record
            {
                return Ok(((start, start + meta.colon()), Span::Buf(vstart, end)));
            }
        }
        let (desc, kind, vs, ve) = self.split(i)?;
        let sp = match kind {
            ValKind::Plain => {
                let v = self.buf.get(vs..ve).unwrap_or_default();
                if meta.tag() != Tag::Plain {
                    self.check_plain(v, desc)?;
                }
                if v.len() > self.max_value {
                    return Err(K::LimitExceeded {
                        what: Limit::Value,
                        limit: self.max_value,
                    });
                }
                Span::Buf(vs, ve)
            }
            ValKind::B64 => self.decode_b64(vs, ve, desc)?,
            ValKind::Url => self.read_url(vs, ve, desc)?,
        };
        if self.buf.len() + self.decoded.len() > self.max_record {
            return Err(K::LimitExceeded {
                what: Limit::Record,
                limit: self.max_record,
            });
        }
        Ok((desc, sp))
    }

    /// [`Reader::value`] with the line number on errors.
    fn value_at(&mut self, i: usize) -> PResult<((usize, usize), Span)> {
        self.value(i).map_err(|k| (self.line_no(i), k))
    }

    /// [`Reader::split`] with the line number on errors.
    fn split_at(&self, i: usize) -> PResult<Split> {
        self.split(i).map_err(|k| (self.line_no(i), k))
    }

    /// Notes the resolved value of content line `i` where [`RecordRef`] finds it: in the
    /// line's [`Meta`] when it is a plain value whose offsets fit, else in the side list.
    fn commit(&mut self, i: usize, desc: (usize, usize), sp: Span) {
        let Some(line) = self.lines.get_mut(i) else {
            return;
        };
        let side = match sp {
            Span::Buf(..) if line.meta.tag() == Tag::Plain => return,
            Span::Buf(vs, ve) => {
                let meta = Meta::scanned(false, desc.1 - desc.0, vs - desc.0);
                if meta != Meta::UNKNOWN && ve == line.end as usize {
                    line.meta = meta;
                    return;
                }
                Side {
                    colon: desc.1 as u32,
                    start: vs as u32,
                    end: ve as u32,
                }
            }
            Span::Dec(a, b) => Side {
                colon: desc.1 as u32,
                start: a as u32 | DECODED,
                end: b as u32,
            },
        };
        line.meta = Meta::SIDE;
        self.side.push(side);
    }

    fn desc_is(&self, i: usize, word: &[u8]) -> bool {
        let (start, end) = self.bounds(i);
        let text = self.buf.get(start..end).unwrap_or_default();
        text.len() > word.len()
            && text.get(word.len()) == Some(&b':')
            && text
                .get(..word.len())
                .is_some_and(|d| d.eq_ignore_ascii_case(word))
    }

    /// A DN-valued line (`dn`, `newsuperior`, `newrdn`): UTF-8 text.
    fn dn_value(&mut self, i: usize) -> PResult<String> {
        let (_, kind, _, _) = self.split_at(i)?;
        let (_, sp) = self.value_at(i)?;
        let bytes = span(&self.buf, &self.decoded, sp);
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_string()),
            Err(_) if kind == ValKind::B64 => Err((self.line_no(i), K::DnNotUtf8)),
            Err(_) => Err((
                self.line_no(i),
                K::ValueNotUtf8 {
                    attribute: "dn".into(),
                },
            )),
        }
    }

    fn plain_text(&self, i: usize) -> PResult<String> {
        let (desc, kind, vs, ve) = self.split_at(i)?;
        let v = self.buf.get(vs..ve).unwrap_or_default();
        if kind != ValKind::Plain {
            return Err((
                self.line_no(i),
                K::UnsafeValue {
                    attribute: self.desc_str(desc),
                    byte: b':',
                    offset: 0,
                },
            ));
        }
        self.check_plain(v, desc)
            .map_err(|k| (self.line_no(i), k))?;
        Ok(String::from_utf8_lossy(v).into_owned())
    }

    /// Parses the next record.
    fn parse_next(&mut self) -> PResult<Option<Parsed>> {
        loop {
            if !self.read_lines()? {
                return Ok(None);
            }
            self.decoded.clear();
            let mut first = 0usize;
            if !self.started {
                self.started = true;
                if self.desc_is(0, b"version") {
                    let v = self.plain_text(0)?;
                    if v != "1" {
                        return Err((self.line_no(0), K::UnsupportedVersion(v)));
                    }
                    first = 1;
                    if self.lines.len() == 1 {
                        continue;
                    }
                }
            }
            return self.parse_record(first).map(Some);
        }
    }

    fn parse_record(&mut self, first: usize) -> PResult<Parsed> {
        let n = self.lines.len();
        if first >= n {
            return Err((
                self.line_no,
                K::MissingDn {
                    found: String::new(),
                },
            ));
        }
        let start = self.line_no(first);
        if !self.desc_is(first, b"dn") {
            let (d, _, _, _) = self.split_at(first)?;
            return Err((
                start,
                K::MissingDn {
                    found: self.desc_str(d),
                },
            ));
        }
        let (_, dn_span) = self.value_at(first)?;
        {
            let dn_bytes = span(&self.buf, &self.decoded, dn_span);
            let Ok(dn_text) = std::str::from_utf8(dn_bytes) else {
                return Err((start, K::DnNotUtf8));
            };
            if !dn_fast_ok(dn_bytes) {
                Dn::validate(dn_text).map_err(|e| (start, K::InvalidDn(e)))?;
            }
        }
        // control lines, then changetype => change record
        let n_controls = (first + 1..n)
            .take_while(|&i| self.desc_is(i, b"control"))
            .count();
        let ct = first + 1 + n_controls;
        let is_change = ct < n && self.desc_is(ct, b"changetype");
        if let Some(prev) = self.seen_change {
            if prev != is_change && !self.opts.allow_mixed_records {
                return Err((start, K::MixedRecords));
            }
        }
        self.seen_change = Some(is_change);
        if is_change {
            let dn_text = String::from_utf8_lossy(span(&self.buf, &self.decoded, dn_span));
            let dn = Dn::parse(&dn_text).map_err(|e| (start, K::InvalidDn(e)))?;
            let change = self.parse_change(dn, start, first + 1, ct)?;
            return Ok((start, dn_span, Some(change), n));
        }
        if first + 1 == n {
            return Err((start, K::EntryWithoutAttributes));
        }
        self.content_lines(first + 1)?;
        Ok((start, dn_span, None, first + 1))
    }

    /// Resolves the attribute lines of a content record, from line `from` on.
    fn content_lines(&mut self, from: usize) -> PResult<()> {
        let mut start = self.bounds(from).0;
        for i in from..self.lines.len() {
            let Some(&line) = self.lines.get(i) else {
                break;
            };
            let end = line.end as usize;
            let text = self.buf.get(start..end).unwrap_or_default();
            if text.get(2) == Some(&b':')
                && text.get(..2).is_some_and(|d| d.eq_ignore_ascii_case(b"dn"))
            {
                let kind = if i == from {
                    K::DuplicateDn
                } else {
                    K::MissingBlankLine
                };
                return Err((self.line_no(i), kind));
            }
            let fast = line.meta.tag() == Tag::Plain
                && end - (start + line.meta.vstart()) <= self.max_value
                && self.buf.len() + self.decoded.len() <= self.max_record;
            if !fast {
                let (desc, sp) = self.value_at(i)?;
                self.commit(i, desc, sp);
            }
            start = end;
        }
        Ok(())
    }
}

impl<R: BufRead> Iterator for Reader<R> {
    type Item = Result<Record, LdifError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}
