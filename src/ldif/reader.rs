//! Streaming LDIF reader.

use std::io::{BufRead, Read};
use std::path::PathBuf;

use base64::Engine as _;

use super::error::{LdifError, LdifErrorKind as K, Limit};
use super::record::{
    same_description, Attr, Change, ChangeOp, Control, Entry, ModOp, Modification, Record,
};
use crate::dn::{Dn, Rdn};

pub(crate) const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

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
    pub max_record_bytes: usize,
    /// `:<` URL values are refused unless this is set; then only `file://` URLs naming a
    /// file inside this directory are read. Nothing is ever fetched over a network.
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

#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    end: usize,
    no: u64,
    /// What the single-pass scan of [`scan_line`] already established, if anything.
    pre: Pre,
}

/// Facts a logical line was found to have by the fast scan in [`scan_line`]: the
/// description is valid, `colon` is the absolute offset of its `:` in `buf` and `vstart`
/// that of the value (after the separator spaces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pre {
    /// Nothing known: [`Reader::split`] does the full checks.
    None,
    /// Plain value, checked SAFE: only ASCII without NUL and CR.
    Plain { colon: usize, vstart: usize },
    /// Base64 value (not yet decoded or checked).
    B64 { colon: usize, vstart: usize },
}

#[derive(Debug, Clone, Copy)]
enum Span {
    Buf(usize, usize),
    Dec(usize, usize),
}

#[derive(Debug, Clone, Copy)]
struct RawAttr {
    desc: (usize, usize),
    value: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValKind {
    Plain,
    B64,
    Url,
}

type PResult<T> = Result<T, (u64, K)>;

/// Reads LDIF records one at a time from any [`BufRead`].
///
/// Memory use is bounded by the largest record: buffers are reused from record to record.
/// After the first error the reader stops and returns `Ok(None)`.
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
    line_no: u64,
    bytes: u64,
    buf: Vec<u8>,
    lines: Vec<Line>,
    decoded: Vec<u8>,
    attrs: Vec<RawAttr>,
    started: bool,
    seen_change: Option<bool>,
    failed: bool,
}

/// A record borrowed from the reader's buffers (no per-value allocation); valid until the
/// next call on the reader. Obtained from [`Reader::next_ref`].
#[derive(Debug)]
pub struct RecordRef<'a> {
    line: u64,
    dn: &'a str,
    buf: &'a [u8],
    decoded: &'a [u8],
    attrs: &'a [RawAttr],
    change: Option<Change>,
}

fn span<'a>(buf: &'a [u8], decoded: &'a [u8], s: Span) -> &'a [u8] {
    match s {
        Span::Buf(a, b) => buf.get(a..b).unwrap_or_default(),
        Span::Dec(a, b) => decoded.get(a..b).unwrap_or_default(),
    }
}

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
    pub fn attributes(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + Clone + 'a {
        let (buf, decoded) = (self.buf, self.decoded);
        self.attrs.iter().map(move |a| {
            let d = buf.get(a.desc.0..a.desc.1).unwrap_or_default();
            (
                std::str::from_utf8(d).unwrap_or_default(),
                span(buf, decoded, a.value),
            )
        })
    }

    /// Number of attribute lines of a content entry.
    pub fn attribute_count(&self) -> usize {
        self.attrs.len()
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

fn is_oid(t: &[u8]) -> bool {
    !t.is_empty()
        && t.split(|&c| c == b'.').all(|n| {
            !n.is_empty()
                && n.iter().all(u8::is_ascii_digit)
                && !(n.len() > 1 && n.first() == Some(&b'0'))
        })
}

/// True when `d` is a valid RFC 4512 attribute description (type and `;options`).
///
/// ```
/// use zimbra_prov::ldif::valid_description;
/// assert!(valid_description("cn;lang-en;x-note") && valid_description("2.5.4.3;binary"));
/// assert!(!valid_description("mail_alias") && !valid_description("cn;") && !valid_description(""));
/// ```
pub fn valid_description(d: &str) -> bool {
    valid_description_bytes(d.as_bytes())
}

fn valid_description_bytes(d: &[u8]) -> bool {
    let mut parts = d.split(|&c| c == b';');
    let ty = parts.next().unwrap_or_default();
    let ty_ok = match ty.first() {
        Some(c) if c.is_ascii_alphabetic() => {
            ty.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
        }
        Some(c) if c.is_ascii_digit() => is_oid(ty),
        _ => false,
    };
    ty_ok
        && parts.all(|o| !o.is_empty() && o.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-'))
}

pub(crate) fn valid_oid(s: &str) -> bool {
    is_oid(s.as_bytes())
}

fn is_mod_keyword(d: &[u8]) -> Option<ModOp> {
    if d.eq_ignore_ascii_case(b"add") {
        Some(ModOp::Add)
    } else if d.eq_ignore_ascii_case(b"delete") {
        Some(ModOp::Delete)
    } else if d.eq_ignore_ascii_case(b"replace") {
        Some(ModOp::Replace)
    } else if d.eq_ignore_ascii_case(b"increment") {
        Some(ModOp::Increment)
    } else {
        None
    }
}

/// Base64 sextet tables pre-shifted into place for a 4-character quad; an invalid
/// character sets bit 31.
const B64_TABLES: [[u32; 256]; 4] = {
    let mut t = [[1u32 << 31; 256]; 4];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        let c = alphabet[i] as usize;
        let v = i as u32;
        t[0][c] = v << 18;
        t[1][c] = v << 12;
        t[2][c] = v << 6;
        t[3][c] = v;
        i += 1;
    }
    t
};

/// Decodes canonical padded standard base64 (what [`B64`] accepts) onto `out`; false,
/// leaving `out` with garbage appended, for anything else, which the caller then hands to
/// [`B64`] for the exact verdict.
fn decode_b64_fast(text: &[u8], out: &mut Vec<u8>) -> bool {
    if text.len() % 4 != 0 {
        return false;
    }
    let [t0, t1, t2, t3] = &B64_TABLES;
    let quad = |q: &[u8]| -> u32 {
        match *q {
            [a, b, c, d] => t0[a as usize] | t1[b as usize] | t2[c as usize] | t3[d as usize],
            _ => 1 << 31,
        }
    };
    let (body, last) = text.split_at(text.len().saturating_sub(4));
    let start = out.len();
    out.resize(start + body.len() / 4 * 3, 0);
    let mut bad = 0u32;
    let dst = out.get_mut(start..).unwrap_or_default();
    for (q, o) in body.chunks_exact(4).zip(dst.chunks_exact_mut(3)) {
        let v = quad(q);
        bad |= v;
        let [_, x, y, z] = v.to_be_bytes();
        o.copy_from_slice(&[x, y, z]);
    }
    if bad & (1 << 31) != 0 {
        return false;
    }
    match *last {
        [] => true,
        [a, b, b'=', b'='] => {
            let v = t0[a as usize] | t1[b as usize];
            // canonical: the unused low bits of the last sextet are zero
            if v & (1 << 31) != 0 || v & 0xffff != 0 {
                return false;
            }
            out.push((v >> 16) as u8);
            true
        }
        [a, b, c, b'='] => {
            let v = t0[a as usize] | t1[b as usize] | t2[c as usize];
            if v & (1 << 31) != 0 || v & 0xff != 0 {
                return false;
            }
            out.extend_from_slice(&[(v >> 16) as u8, (v >> 8) as u8]);
            true
        }
        _ => {
            let v = quad(last);
            if v & (1 << 31) != 0 {
                return false;
            }
            let [_, x, y, z] = v.to_be_bytes();
            out.extend_from_slice(&[x, y, z]);
            true
        }
    }
}

/// Bytes a DN attribute value may hold in [`dn_fast_ok`]: printable ASCII other than
/// space and the RFC 4514 specials `"#+,;<>\\=`, plus any byte of a non-ASCII character.
const DN_PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0x21;
    while i < 256 {
        t[i] = !matches!(
            i as u8,
            b'"' | b'#' | b'+' | b',' | b';' | b'<' | b'>' | b'\\' | b'=' | 0x7f
        );
        i += 1;
    }
    t
};

/// True for the common DN shape `type=value,type=value...` with keystring types and
/// values without escapes, spaces or specials: such a DN is always valid RFC 4514, so
/// [`Dn::validate`] (which handles everything else) can be skipped. False says nothing.
fn dn_fast_ok(b: &[u8]) -> bool {
    let mut i = 0;
    loop {
        match b.get(i) {
            Some(&c) if CLASS[c as usize] == 3 => i += 1,
            _ => return false,
        }
        while b.get(i).is_some_and(|&c| CLASS[c as usize] != 0) {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            return false;
        }
        i += 1;
        let vs = i;
        while b.get(i).is_some_and(|&c| DN_PLAIN[c as usize]) {
            i += 1;
        }
        if i == vs {
            return false;
        }
        match b.get(i) {
            None => return true,
            Some(b',') | Some(b'+') => i += 1,
            Some(_) => return false,
        }
    }
}

/// Byte classes: bit 0 = ALPHA, DIGIT or `-` (a keystring character), bit 1 = ALPHA.
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        if c.is_ascii_alphabetic() {
            t[i] = 3;
        } else if c.is_ascii_digit() || c == b'-' {
            t[i] = 1;
        }
        i += 1;
    }
    t
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Marks (high bit of each byte lane) the bytes of `x` that are NUL, LF, CR or non-ASCII.
/// The lowest marked lane is exact (the classic zero-byte test only over-marks lanes
/// above a real hit), which is all the scan relies on.
#[inline(always)]
fn special_lanes(x: u64) -> u64 {
    let zero = |v: u64| v.wrapping_sub(ONES) & !v;
    (zero(x) | zero(x ^ (ONES * 0x0a)) | zero(x ^ (ONES * 0x0d)) | x) & HIGHS
}

/// Result of [`scan_line`], offsets relative to the start of the scanned slice.
#[derive(Debug, Clone, Copy)]
struct Scanned {
    /// Length of the line's content (without LF or CRLF).
    len: usize,
    /// Bytes to consume (content plus terminator).
    consume: usize,
    colon: usize,
    vstart: usize,
    b64: bool,
    /// A continuation line follows.
    folded: bool,
}

/// One pass over a complete, unfolded physical line at the start of `avail` whose
/// description is a valid `ALPHA *(ALNUM / "-") *(";" 1*(ALNUM / "-"))` and whose value is
/// plain SAFE ASCII (no NUL, CR or byte above 0x7f) or base64 text of ASCII bytes.
/// Anything else (comments, blank lines, URLs, non-ASCII, errors,
/// a line not yet wholly in `avail`) gives `None` and the caller takes the general path,
/// which does every check and reports errors; so this only ever accepts lines that path
/// accepts, with the same result.
#[inline]
fn scan_line(avail: &[u8], max_line: usize) -> Option<Scanned> {
    // the first `:` (8 bytes at a time); a line without one runs into the next
    // line, and the description check below then fails
    let mut i = 0;
    let colon = loop {
        let x = u64::from_le_bytes(avail.get(i..i + 8)?.try_into().ok()?);
        let y = x ^ (ONES * u64::from(b':'));
        let m = y.wrapping_sub(ONES) & !y & HIGHS;
        if m != 0 {
            break i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    };
    let desc = avail.get(..colon)?;
    let simple = desc.iter().fold(1u8, |a, &c| a & CLASS[c as usize]) != 0;
    let ok = match desc.first() {
        Some(&c) if simple && c.is_ascii_alphabetic() => true,
        _ => valid_description_bytes(desc),
    };
    if !ok {
        return None;
    }
    let (b64, mut j) = match avail.get(colon + 1) {
        Some(b':') => (true, colon + 2),
        Some(b'<') => return None,
        _ => (false, colon + 1),
    };
    while avail.get(j) == Some(&b' ') {
        j += 1;
    }
    let vstart = j;
    let (len, consume) = scan_rest(avail, j)?;
    // The general path counts a trailing CR against the line limit too.
    if consume - 1 > max_line {
        return None;
    }
    let folded = match avail.get(consume) {
        None => return None,
        Some(&c) => c == b' ',
    };
    // A folded line whose value starts on a continuation line may have more separator
    // spaces there: the general path finds where its value starts.
    if folded && vstart >= len {
        return None;
    }
    Some(Scanned {
        len,
        consume,
        colon,
        vstart,
        b64,
        folded,
    })
}

/// Finds the end of the physical line at the start of `avail`, from offset `j` on, and
/// returns (content length, bytes to consume with the LF or CRLF); `None` if a NUL, a CR
/// not before the LF, or a byte above 0x7f comes first, or the line is not wholly in
/// `avail`.
#[inline]
fn scan_rest(avail: &[u8], mut j: usize) -> Option<(usize, usize)> {
    loop {
        if let Some(chunk) = avail.get(j..j + 8) {
            let x = u64::from_le_bytes(chunk.try_into().ok()?);
            let m = special_lanes(x);
            if m == 0 {
                j += 8;
                continue;
            }
            j += (m.trailing_zeros() / 8) as usize;
        } else {
            let c = *avail.get(j)?;
            if !matches!(c, 0 | b'\n' | b'\r' | 0x80..=0xff) {
                j += 1;
                continue;
            }
        }
        break;
    }
    match avail.get(j) {
        Some(b'\n') => Some((j, j + 1)),
        Some(b'\r') if avail.get(j + 1) == Some(&b'\n') => Some((j, j + 2)),
        _ => None,
    }
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
            opts,
            line_no: 0,
            bytes: 0,
            buf: Vec::with_capacity(8192),
            lines: Vec::with_capacity(64),
            decoded: Vec::with_capacity(4096),
            attrs: Vec::with_capacity(64),
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
            Ok(Some((line, dn, change))) => {
                let dn_bytes = span(&self.buf, &self.decoded, dn);
                Ok(Some(RecordRef {
                    line,
                    dn: std::str::from_utf8(dn_bytes).unwrap_or_default(),
                    buf: &self.buf,
                    decoded: &self.decoded,
                    attrs: if change.is_some() { &[] } else { &self.attrs },
                    change,
                }))
            }
            Ok(None) => Ok(None),
            Err((line, kind)) => {
                self.failed = true;
                let record_line = self.lines.first().map(|l| l.no);
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
        let l = *self
            .lines
            .iter()
            .take(2)
            .find(|l| self.desc_is(**l, b"dn"))?;
        let (desc, kind, vs, ve) = self.split(l).ok()?;
        let d = self.buf.get(desc.0..desc.1)?;
        if !d.eq_ignore_ascii_case(b"dn") {
            return None;
        }
        let v = self.buf.get(vs..ve)?;
        match kind {
            ValKind::Plain => Some(String::from_utf8_lossy(v).into_owned()),
            ValKind::B64 => B64
                .decode(v)
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned()),
            ValKind::Url => None,
        }
    }

    // ---- physical line reading ------------------------------------------------------

    fn peek(&mut self) -> PResult<Option<u8>> {
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
            let (take, done) = match memchr::memchr(b'\n', avail) {
                Some(i) => (i, true),
                None => (avail.len(), false),
            };
            self.buf
                .extend_from_slice(avail.get(..take).unwrap_or_default());
            let consumed = if done { take + 1 } else { take };
            self.inner.consume(consumed);
            self.bytes += consumed as u64;
            if self.buf.len() - logical_start > self.opts.max_line_bytes {
                return Err((
                    line,
                    K::LimitExceeded {
                        what: Limit::Line,
                        limit: self.opts.max_line_bytes,
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
                    if self.buf.len() - start + (consume - 2) <= self.opts.max_line_bytes {
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

    /// Reads the logical lines of the next record into `lines`; false at EOF.
    fn read_lines(&mut self) -> PResult<bool> {
        self.buf.clear();
        self.lines.clear();
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
            if let Some(f) = scan_line(avail, self.opts.max_line_bytes) {
                self.buf
                    .extend_from_slice(avail.get(..f.len).unwrap_or_default());
                self.inner.consume(f.consume);
                self.bytes += f.consume as u64;
                self.line_no += 1;
                let (colon, vstart) = (start + f.colon, start + f.vstart);
                let mut pre = if f.b64 {
                    Pre::B64 { colon, vstart }
                } else {
                    Pre::Plain { colon, vstart }
                };
                if f.folded && !self.read_continuations(start)? {
                    pre = Pre::None;
                }
                self.lines.push(Line {
                    start,
                    end: self.buf.len(),
                    no,
                    pre,
                });
                if self.buf.len() > self.opts.max_record_bytes {
                    return Err((
                        no,
                        K::LimitExceeded {
                            what: Limit::Record,
                            limit: self.opts.max_record_bytes,
                        },
                    ));
                }
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
            self.lines.push(Line {
                start,
                end: self.buf.len(),
                no,
                pre: Pre::None,
            });
            if self.buf.len() > self.opts.max_record_bytes {
                return Err((
                    no,
                    K::LimitExceeded {
                        what: Limit::Record,
                        limit: self.opts.max_record_bytes,
                    },
                ));
            }
        }
        Ok(!self.lines.is_empty())
    }

    // ---- logical line parsing -----------------------------------------------------------

    /// Splits a logical line into description span, value kind and value span.
    fn split(&self, l: Line) -> PResult<((usize, usize), ValKind, usize, usize)> {
        match l.pre {
            Pre::Plain { colon, vstart } => {
                return Ok(((l.start, colon), ValKind::Plain, vstart, l.end))
            }
            Pre::B64 { colon, vstart } => {
                return Ok(((l.start, colon), ValKind::B64, vstart, l.end))
            }
            Pre::None => {}
        }
        let text = self.buf.get(l.start..l.end).unwrap_or_default();
        let Some(colon) = memchr::memchr(b':', text) else {
            return Err((l.no, K::MissingColon));
        };
        let desc = text.get(..colon).unwrap_or_default();
        if desc.is_empty() {
            return Err((l.no, K::EmptyAttributeDescription));
        }
        if !valid_description_bytes(desc) {
            return Err((
                l.no,
                K::InvalidAttributeDescription(String::from_utf8_lossy(desc).into_owned()),
            ));
        }
        let mut i = colon + 1;
        let kind = match text.get(i) {
            Some(b':') => {
                i += 1;
                ValKind::B64
            }
            Some(b'<') => {
                i += 1;
                ValKind::Url
            }
            _ => ValKind::Plain,
        };
        while text.get(i) == Some(&b' ') {
            i += 1;
        }
        Ok((
            (l.start, l.start + colon),
            kind,
            l.start + i.min(text.len()),
            l.end,
        ))
    }

    fn desc_str(&self, d: (usize, usize)) -> String {
        String::from_utf8_lossy(self.buf.get(d.0..d.1).unwrap_or_default()).into_owned()
    }

    fn check_plain(&self, v: &[u8], desc: (usize, usize), no: u64) -> PResult<()> {
        // A value starting with ':' or '<' after the separator's space is not a
        // SAFE-STRING, but it is unambiguous (`::` and `:<` must touch the colon) and
        // OpenLDAP and every peer accept it, so it is accepted here too.
        if let Some(off) = memchr::memchr2(0, b'\r', v) {
            return Err((
                no,
                K::UnsafeValue {
                    attribute: self.desc_str(desc),
                    byte: v.get(off).copied().unwrap_or_default(),
                    offset: off,
                },
            ));
        }
        if !v.is_ascii() && std::str::from_utf8(v).is_err() {
            return Err((
                no,
                K::ValueNotUtf8 {
                    attribute: self.desc_str(desc),
                },
            ));
        }
        Ok(())
    }

    fn decode_b64(&mut self, vs: usize, ve: usize, desc: (usize, usize), no: u64) -> PResult<Span> {
        let text = self.buf.get(vs..ve).unwrap_or_default();
        let max = self.opts.max_value_bytes;
        if text.len() / 4 * 3 > max {
            return Err((
                no,
                K::LimitExceeded {
                    what: Limit::Value,
                    limit: max,
                },
            ));
        }
        let start = self.decoded.len();
        if decode_b64_fast(text, &mut self.decoded) {
            return Ok(Span::Dec(start, self.decoded.len()));
        }
        self.decoded.truncate(start);
        if B64.decode_vec(text, &mut self.decoded).is_err() {
            self.decoded.truncate(start);
            return Err((
                no,
                K::BadBase64 {
                    attribute: self.desc_str(desc),
                },
            ));
        }
        Ok(Span::Dec(start, self.decoded.len()))
    }

    fn read_url(&mut self, vs: usize, ve: usize, desc: (usize, usize), no: u64) -> PResult<Span> {
        let url = String::from_utf8_lossy(self.buf.get(vs..ve).unwrap_or_default()).into_owned();
        let Some(base) = self.opts.url_base.clone() else {
            return Err((
                no,
                K::UrlNotAllowed {
                    attribute: self.desc_str(desc),
                },
            ));
        };
        let lower = url.to_ascii_lowercase();
        let Some(rest) = lower.strip_prefix("file://").and(url.get(7..)) else {
            return Err((no, K::UnsupportedUrlScheme(url)));
        };
        if !rest.starts_with('/') {
            // file://host/path: a remote host is never contacted.
            return Err((no, K::UnsupportedUrlScheme(url)));
        }
        let path =
            percent_decode(rest).ok_or_else(|| (no, K::UnsupportedUrlScheme(url.clone())))?;
        let io = |e| {
            (
                no,
                K::UrlRead {
                    url: url.clone(),
                    source: e,
                },
            )
        };
        let base = base.canonicalize().map_err(io)?;
        let path = PathBuf::from(path).canonicalize().map_err(io)?;
        if !path.starts_with(&base) {
            return Err((no, K::UrlOutsideBase(url)));
        }
        let max = self.opts.max_value_bytes;
        let file = std::fs::File::open(&path).map_err(io)?;
        let start = self.decoded.len();
        let n = file
            .take(max as u64 + 1)
            .read_to_end(&mut self.decoded)
            .map_err(io)?;
        if n > max {
            self.decoded.truncate(start);
            return Err((
                no,
                K::LimitExceeded {
                    what: Limit::Value,
                    limit: max,
                },
            ));
        }
        Ok(Span::Dec(start, self.decoded.len()))
    }

    /// Resolves the value of line `l` into a span.
    #[inline]
    fn value(&mut self, l: Line) -> PResult<((usize, usize), Span)> {
        if let Pre::Plain { colon, vstart } = l.pre {
            // checked SAFE by the scan; only the limits are left (else the general
            // path below reports them)
            if l.end - vstart <= self.opts.max_value_bytes
                && self.buf.len() + self.decoded.len() <= self.opts.max_record_bytes
            {
                return Ok(((l.start, colon), Span::Buf(vstart, l.end)));
            }
        }
        let (desc, kind, vs, ve) = self.split(l)?;
        let span = match kind {
            ValKind::Plain => {
                let v = self.buf.get(vs..ve).unwrap_or_default();
                if !matches!(l.pre, Pre::Plain { .. }) {
                    self.check_plain(v, desc, l.no)?;
                }
                if v.len() > self.opts.max_value_bytes {
                    return Err((
                        l.no,
                        K::LimitExceeded {
                            what: Limit::Value,
                            limit: self.opts.max_value_bytes,
                        },
                    ));
                }
                Span::Buf(vs, ve)
            }
            ValKind::B64 => self.decode_b64(vs, ve, desc, l.no)?,
            ValKind::Url => self.read_url(vs, ve, desc, l.no)?,
        };
        if self.buf.len() + self.decoded.len() > self.opts.max_record_bytes {
            return Err((
                l.no,
                K::LimitExceeded {
                    what: Limit::Record,
                    limit: self.opts.max_record_bytes,
                },
            ));
        }
        Ok((desc, span))
    }

    fn desc_is(&self, l: Line, word: &[u8]) -> bool {
        let text = self.buf.get(l.start..l.end).unwrap_or_default();
        text.len() > word.len()
            && text.get(word.len()) == Some(&b':')
            && text
                .get(..word.len())
                .is_some_and(|d| d.eq_ignore_ascii_case(word))
    }

    /// A DN-valued line (`dn`, `newsuperior`, `newrdn`): UTF-8 text.
    fn dn_value(&mut self, l: Line) -> PResult<String> {
        let (_, kind, _, _) = self.split(l)?;
        let (_, sp) = self.value(l)?;
        let bytes = span(&self.buf, &self.decoded, sp);
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_string()),
            Err(_) if kind == ValKind::B64 => Err((l.no, K::DnNotUtf8)),
            Err(_) => Err((
                l.no,
                K::ValueNotUtf8 {
                    attribute: "dn".into(),
                },
            )),
        }
    }

    fn plain_text(&self, l: Line) -> PResult<String> {
        let (desc, kind, vs, ve) = self.split(l)?;
        let v = self.buf.get(vs..ve).unwrap_or_default();
        if kind != ValKind::Plain {
            return Err((
                l.no,
                K::UnsafeValue {
                    attribute: self.desc_str(desc),
                    byte: b':',
                    offset: 0,
                },
            ));
        }
        self.check_plain(v, desc, l.no)?;
        Ok(String::from_utf8_lossy(v).into_owned())
    }

    /// Parses the next record; returns (start line, DN span, change record if any).
    fn parse_next(&mut self) -> PResult<Option<(u64, Span, Option<Change>)>> {
        loop {
            if !self.read_lines()? {
                return Ok(None);
            }
            self.decoded.clear();
            self.attrs.clear();
            let mut first = 0usize;
            if !self.started {
                self.started = true;
                if let Some(&l) = self.lines.first() {
                    if self.desc_is(l, b"version") {
                        let v = self.plain_text(l)?;
                        if v != "1" {
                            return Err((l.no, K::UnsupportedVersion(v)));
                        }
                        first = 1;
                        if self.lines.len() == 1 {
                            continue;
                        }
                    }
                }
            }
            let lines = std::mem::take(&mut self.lines);
            let r = self.parse_record(&lines, first);
            self.lines = lines;
            return r.map(Some);
        }
    }

    fn parse_record(
        &mut self,
        lines: &[Line],
        first: usize,
    ) -> PResult<(u64, Span, Option<Change>)> {
        let Some(&dn_line) = lines.get(first) else {
            return Err((
                self.line_no,
                K::MissingDn {
                    found: String::new(),
                },
            ));
        };
        let start = dn_line.no;
        if !self.desc_is(dn_line, b"dn") {
            let (d, _, _, _) = self.split(dn_line)?;
            return Err((
                dn_line.no,
                K::MissingDn {
                    found: self.desc_str(d),
                },
            ));
        }
        let (_, dn_span) = self.value(dn_line)?;
        {
            let dn_bytes = span(&self.buf, &self.decoded, dn_span);
            let Ok(dn_text) = std::str::from_utf8(dn_bytes) else {
                return Err((dn_line.no, K::DnNotUtf8));
            };
            if !dn_fast_ok(dn_bytes) {
                Dn::validate(dn_text).map_err(|e| (dn_line.no, K::InvalidDn(e)))?;
            }
        }
        let rest = lines.get(first + 1..).unwrap_or_default();
        // control lines, then changetype => change record
        let n_controls = rest
            .iter()
            .take_while(|l| self.desc_is(**l, b"control"))
            .count();
        let is_change = rest
            .get(n_controls)
            .is_some_and(|l| self.desc_is(*l, b"changetype"));
        if let Some(prev) = self.seen_change {
            if prev != is_change && !self.opts.allow_mixed_records {
                return Err((start, K::MixedRecords));
            }
        }
        self.seen_change = Some(is_change);
        if !is_change {
            if rest.is_empty() {
                return Err((start, K::EntryWithoutAttributes));
            }
            self.attrs.reserve(rest.len());
            for (i, &l) in rest.iter().enumerate() {
                if self.desc_is(l, b"dn") {
                    let kind = if i == 0 {
                        K::DuplicateDn
                    } else {
                        K::MissingBlankLine
                    };
                    return Err((l.no, kind));
                }
                let (desc, value) = self.value(l)?;
                self.attrs.push(RawAttr { desc, value });
            }
            return Ok((start, dn_span, None));
        }
        let dn_text = String::from_utf8_lossy(span(&self.buf, &self.decoded, dn_span)).into_owned();
        let dn = Dn::parse(&dn_text).map_err(|e| (dn_line.no, K::InvalidDn(e)))?;
        let mut controls = Vec::new();
        for &l in rest.get(..n_controls).unwrap_or_default() {
            controls.push(self.control(l)?);
        }
        let ct_line = rest.get(n_controls).copied().unwrap_or(dn_line);
        let ct = self.plain_text(ct_line)?;
        let body = rest.get(n_controls + 1..).unwrap_or_default();
        let op = match ct.to_ascii_lowercase().as_str() {
            "add" => {
                if body.is_empty() {
                    return Err((ct_line.no, K::AddWithoutAttributes));
                }
                let mut attrs = Vec::with_capacity(body.len());
                for &l in body {
                    if self.desc_is(l, b"dn") {
                        return Err((l.no, K::MissingBlankLine));
                    }
                    let (d, v) = self.value(l)?;
                    attrs.push(Attr::new(
                        self.desc_str(d),
                        span(&self.buf, &self.decoded, v),
                    ));
                }
                ChangeOp::Add(attrs)
            }
            "delete" => {
                if let Some(&l) = body.first() {
                    return Err((l.no, K::UnexpectedLine(self.line_text(l))));
                }
                ChangeOp::Delete
            }
            "modify" => ChangeOp::Modify(self.modify(body)?),
            "modrdn" | "moddn" => self.moddn(body, ct_line)?,
            _ => return Err((ct_line.no, K::UnknownChangeType(ct))),
        };
        Ok((
            start,
            dn_span,
            Some(Change {
                dn,
                controls,
                op,
                line: start,
            }),
        ))
    }

    fn line_text(&self, l: Line) -> String {
        let t = self.buf.get(l.start..l.end).unwrap_or_default();
        String::from_utf8_lossy(t.get(..t.len().min(80)).unwrap_or_default()).into_owned()
    }

    fn is_dash(&self, l: Line) -> bool {
        self.buf.get(l.start..l.end) == Some(&b"-"[..])
    }

    fn modify(&mut self, body: &[Line]) -> PResult<Vec<Modification>> {
        let mut mods = Vec::new();
        let mut k = 0usize;
        while let Some(&l) = body.get(k) {
            if self.is_dash(l) {
                return Err((l.no, K::BadModOp("-".into())));
            }
            let (desc, _, _, _) = self.split(l)?;
            let d = self.buf.get(desc.0..desc.1).unwrap_or_default();
            let Some(op) = is_mod_keyword(d) else {
                return Err((l.no, K::BadModOp(self.desc_str(desc))));
            };
            let attribute = self.plain_text(l)?;
            if attribute.is_empty() {
                return Err((l.no, K::EmptyAttributeDescription));
            }
            if !valid_description(&attribute) {
                return Err((l.no, K::InvalidAttributeDescription(attribute)));
            }
            k += 1;
            let mut values = Vec::new();
            loop {
                let Some(&v) = body.get(k) else {
                    if self.opts.allow_missing_final_dash {
                        break;
                    }
                    let last = body.last().map_or(l.no, |x| x.no);
                    return Err((last, K::MissingModSeparator { attribute }));
                };
                k += 1;
                if self.is_dash(v) {
                    break;
                }
                let (vd, _, _, _) = self.split(v)?;
                let vd_bytes = self.buf.get(vd.0..vd.1).unwrap_or_default();
                let vd_str = std::str::from_utf8(vd_bytes).unwrap_or_default();
                if same_description(vd_str, &attribute) {
                    let (_, sp) = self.value(v)?;
                    values.push(span(&self.buf, &self.decoded, sp).to_vec());
                } else if is_mod_keyword(vd_bytes).is_some() {
                    return Err((v.no, K::MissingModSeparator { attribute }));
                } else {
                    return Err((
                        v.no,
                        K::ModAttributeMismatch {
                            expected: attribute,
                            found: vd_str.to_string(),
                        },
                    ));
                }
            }
            mods.push(Modification {
                op,
                attribute,
                values,
            });
        }
        Ok(mods)
    }

    fn moddn(&mut self, body: &[Line], ct_line: Line) -> PResult<ChangeOp> {
        let mut it = body.iter().copied();
        let last_no = |x: Option<&Line>| x.map_or(ct_line.no, |l| l.no);
        let nl = it
            .next()
            .filter(|l| self.desc_is(*l, b"newrdn"))
            .ok_or((last_no(body.first()), K::ExpectedLine("newrdn")))?;
        let rdn_text = self.dn_value(nl)?;
        let new_rdn = Rdn::parse(&rdn_text).map_err(|e| (nl.no, K::InvalidDn(e)))?;
        let dl = it
            .next()
            .filter(|l| self.desc_is(*l, b"deleteoldrdn"))
            .ok_or((
                last_no(body.get(1).or(Some(&nl))),
                K::ExpectedLine("deleteoldrdn"),
            ))?;
        let delete_old_rdn = match self.plain_text(dl)?.as_str() {
            "0" => false,
            "1" => true,
            other => return Err((dl.no, K::BadDeleteOldRdn(other.to_string()))),
        };
        let mut new_superior = None;
        if let Some(sl) = it.next() {
            if !self.desc_is(sl, b"newsuperior") {
                return Err((sl.no, K::UnexpectedLine(self.line_text(sl))));
            }
            let t = self.dn_value(sl)?;
            new_superior = Some(Dn::parse(&t).map_err(|e| (sl.no, K::InvalidDn(e)))?);
        }
        if let Some(x) = it.next() {
            return Err((x.no, K::UnexpectedLine(self.line_text(x))));
        }
        Ok(ChangeOp::ModDn {
            new_rdn,
            delete_old_rdn,
            new_superior,
        })
    }

    fn control(&mut self, l: Line) -> PResult<Control> {
        let bad = |m: &str| (l.no, K::BadControl(m.to_string()));
        let (_, kind, vs, ve) = self.split(l)?;
        if kind != ValKind::Plain {
            return Err(bad("a control line is `control: OID [true|false] [value]`"));
        }
        let text = self.buf.get(vs..ve).unwrap_or_default();
        let oid_end = text
            .iter()
            .position(|&c| !(c.is_ascii_digit() || c == b'.'))
            .unwrap_or(text.len());
        let oid = text.get(..oid_end).unwrap_or_default();
        if !is_oid(oid) {
            return Err(bad(&format!(
                "bad OID {:?}",
                String::from_utf8_lossy(
                    text.get(..oid_end.max(1).min(text.len()))
                        .unwrap_or_default()
                )
            )));
        }
        let oid = String::from_utf8_lossy(oid).into_owned();
        let (critical, spec) = {
            let skip = |mut i: usize| {
                while text.get(i) == Some(&b' ') {
                    i += 1;
                }
                i
            };
            let word_end = |w: &[u8], i: usize| {
                text.get(i..i + w.len())
                    .is_some_and(|t| t.eq_ignore_ascii_case(w))
                    && matches!(text.get(i + w.len()), None | Some(b' ') | Some(b':'))
            };
            let had_space = text.get(oid_end) == Some(&b' ');
            let mut i = skip(oid_end);
            let mut critical = false;
            if had_space && word_end(b"true", i) {
                critical = true;
                i = skip(i + 4);
            } else if had_space && word_end(b"false", i) {
                i = skip(i + 5);
            }
            let spec = match text.get(i) {
                None => None,
                Some(b':') => {
                    let (vk, j) = match text.get(i + 1) {
                        Some(b':') => (ValKind::B64, i + 2),
                        Some(b'<') => (ValKind::Url, i + 2),
                        _ => (ValKind::Plain, i + 1),
                    };
                    Some((vk, vs + skip(j).min(text.len())))
                }
                Some(_) => return Err(bad("expected true, false or a value after the OID")),
            };
            (critical, spec)
        };
        let value = match spec {
            None => None,
            Some((vk, a)) => {
                let b = ve;
                let desc = (l.start, l.start + 7);
                let sp = match vk {
                    ValKind::Plain => {
                        let v = self.buf.get(a..b).unwrap_or_default();
                        self.check_plain(v, desc, l.no)?;
                        Span::Buf(a, b)
                    }
                    ValKind::B64 => self.decode_b64(a, b, desc, l.no)?,
                    ValKind::Url => self.read_url(a, b, desc, l.no)?,
                };
                Some(span(&self.buf, &self.decoded, sp).to_vec())
            }
        };
        Ok(Control {
            oid,
            critical,
            value,
        })
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl<R: BufRead> Iterator for Reader<R> {
    type Item = Result<Record, LdifError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: impl AsRef<[u8]>) -> LdifError {
        match Reader::new(text.as_ref()).collect::<Result<Vec<_>, _>>() {
            Ok(r) => panic!("accepted: {r:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn folding_crlf_and_keywords() {
        let t = "VERSION: 1\r\nDN: cn=a\r\n b,dc=x\r\ndescr\r\n iption: one\r\n  two\r\n#c\r\n more\r\ncn:x\r\n";
        let r: Vec<Record> = Reader::new(t.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap_or_default();
        let Some(Record::Entry(e)) = r.first() else {
            panic!("{r:?}")
        };
        assert_eq!(e.dn.as_str(), "cn=ab,dc=x");
        assert_eq!(e.get("description"), Some(&b"one two"[..]));
        assert_eq!(e.get("cn"), Some(&b"x"[..]));
        assert_eq!(e.attrs.len(), 2);
        assert_eq!(e.line, 2);
    }

    #[test]
    fn errors_have_lines() {
        let e = err("dn: cn=a\ncn: a\ndn: cn=b\ncn: b\n");
        assert!(matches!(e.kind, K::MissingBlankLine) && e.line == 3, "{e}");
        let e = err("dn: cn=a\ndn: cn=b\ncn: b\n");
        assert!(matches!(e.kind, K::DuplicateDn) && e.line == 2, "{e}");
        let e = err("dn: cn=a\ncn: a\n\ndn: cn=b\ncn: \0b\n");
        assert!(
            matches!(e.kind, K::UnsafeValue { byte: 0, .. }) && e.line == 5,
            "{e}"
        );
        let e = err("dn: cn=a\n");
        assert!(matches!(e.kind, K::EntryWithoutAttributes), "{e}");
        let e = err("dn: cn=a\nchangetype: add\n");
        assert!(matches!(e.kind, K::AddWithoutAttributes), "{e}");
        let e = err("dn: cn=a\ncontrol: 1.2..3\nchangetype: delete\n");
        assert!(matches!(e.kind, K::BadControl(_)) && e.line == 2, "{e}");
        let e = err("dn:: /w==\ncn: a\n");
        assert!(matches!(e.kind, K::DnNotUtf8), "{e}");
        let e = err("dn: cn=a\njpegPhoto:< file:///etc/passwd\n");
        assert!(matches!(e.kind, K::UrlNotAllowed { .. }), "{e}");
        let e = err(b"dn: cn=a\ncn: \xff\n");
        assert!(matches!(e.kind, K::ValueNotUtf8 { .. }), "{e}");
        let e = err("dn: cn=a\ncn: x\rb\n");
        assert!(
            matches!(
                e.kind,
                K::UnsafeValue {
                    byte: b'\r',
                    offset: 1,
                    ..
                }
            ),
            "{e}"
        );
        let e = err("dn: cn=a\ncn: a\n\ttab\n");
        assert!(matches!(e.kind, K::MissingColon), "{e}");
        let opts = ReaderOptions {
            max_value_bytes: 4,
            ..ReaderOptions::default()
        };
        let r = Reader::with_options(&b"dn: cn=a\ncn: abcdef\n"[..], opts).next_record();
        assert!(matches!(
            r,
            Err(LdifError {
                kind: K::LimitExceeded {
                    what: Limit::Value,
                    ..
                },
                ..
            })
        ));
        let opts = ReaderOptions {
            max_line_bytes: 10,
            ..ReaderOptions::default()
        };
        let r = Reader::with_options(&b"dn: cn=a\ncn: abcdef\n abcdef\n"[..], opts).next_record();
        assert!(matches!(
            r,
            Err(LdifError {
                kind: K::LimitExceeded {
                    what: Limit::Line,
                    ..
                },
                line: 3,
                ..
            })
        ));
    }

    #[test]
    fn url_values_only_inside_base() {
        let dir = std::env::temp_dir().join(format!("ldif-url-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let f = dir.join("v.bin");
        assert!(std::fs::write(&f, b"\x00\x01").is_ok());
        let text = format!("dn: cn=a\njpegPhoto:< file://{}\n", f.display());
        let opts = ReaderOptions {
            url_base: Some(dir.clone()),
            ..ReaderOptions::default()
        };
        let r = Reader::with_options(text.as_bytes(), opts.clone()).next_record();
        let Ok(Some(Record::Entry(e))) = r else {
            panic!("{r:?}")
        };
        assert_eq!(e.get("jpegphoto"), Some(&b"\x00\x01"[..]));
        let r = Reader::with_options(&b"dn: cn=a\nx:< file:///etc/hostname\n"[..], opts.clone())
            .next_record();
        assert!(
            matches!(
                r,
                Err(LdifError {
                    kind: K::UrlOutsideBase(_) | K::UrlRead { .. },
                    ..
                })
            ),
            "{r:?}"
        );
        let r = Reader::with_options(&b"dn: cn=a\nx:< http://127.0.0.1/\n"[..], opts).next_record();
        assert!(
            matches!(
                r,
                Err(LdifError {
                    kind: K::UnsupportedUrlScheme(_),
                    ..
                })
            ),
            "{r:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Everything a reader yields, as text: records, errors with their lines, the end.
    fn transcript(input: impl BufRead, opts: &ReaderOptions) -> Vec<String> {
        let mut r = Reader::with_options(input, opts.clone());
        let mut out = Vec::new();
        loop {
            match r.next_ref() {
                Ok(Some(rec)) => {
                    let attrs: Vec<_> = rec.attributes().collect();
                    out.push(format!("{} {} {:?}", rec.line(), rec.dn(), attrs));
                    out.push(format!("{:?}", rec.to_record()));
                }
                Ok(None) => {
                    // (after an error, how far the input was consumed depends on the
                    // buffer size, in the general path too)
                    out.push(format!("{} {}", r.line_number(), r.bytes_read()));
                    break;
                }
                Err(e) => {
                    out.push(format!("{e} / {e:?}"));
                    break;
                }
            }
        }
        out
    }

    fn token() -> impl proptest::strategy::Strategy<Value = &'static [u8]> {
        proptest::sample::select(vec![
            &b"dn"[..],
            b"DN",
            b"cn",
            b"CN;lang-en",
            b"cn;",
            b";x",
            b"description",
            b"2.5.4.3",
            b"02.5",
            b"c n",
            b"objectClass",
            b"changetype",
            b"control",
            b"version",
            b"x-y;binary;a-b",
            b"\xc3\xa9",
            b": ",
            b":",
            b":: ",
            b"::",
            b":< ",
            b":  ",
            b" : ",
            b"abc",
            b" lead",
            b"Zm9v",
            b"Zm9=",
            b"Zm8=",
            b"Zg==",
            b"Zh==",
            b"Zm9vYmFy",
            b"====",
            b"\x00",
            b"\r",
            b"\t",
            b"uid=a,ou=people,dc=b",
            b"cn=a\\,b",
            b"cn=x y,dc=z",
            b"=",
            b"modify",
            b"add",
            b"delete",
            b"replace: cn",
            b"-",
            b"1",
            b"2",
            b"a-long-plain-value-that-spans-several-eight-byte-chunks",
            b"\n",
            b"\n",
            b"\n",
            b"\r\n",
            b"\n ",
            b"\n  ",
            b"\n\n",
            b"\n#c\n",
            b"\n#c\n x\n",
            b"\n\r\n",
        ])
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// The one-pass fast scan must give exactly what the general path gives: a
        /// one-byte buffer never holds a whole line, so it always takes the general path.
        #[test]
        fn fast_path_matches_general_path(
            toks in proptest::collection::vec(token(), 0..60),
            small in proptest::prelude::any::<bool>(),
        ) {
            let text: Vec<u8> = toks.concat();
            let opts = if small {
                ReaderOptions { max_line_bytes: 24, max_value_bytes: 6, max_record_bytes: 90,
                                ..ReaderOptions::default() }
            } else {
                ReaderOptions::default()
            };
            let fast = transcript(&text[..], &opts);
            let slow = transcript(std::io::BufReader::with_capacity(1, &text[..]), &opts);
            proptest::prop_assert_eq!(fast, slow);
        }

        #[test]
        fn fast_base64_agrees_with_engine(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            junk in proptest::collection::vec(
                proptest::sample::select(b"AZaz09+/=-_ \n\xff".to_vec()), 0..24),
        ) {
            let good = B64.encode(&bytes);
            let mut out = vec![7u8];
            proptest::prop_assert!(decode_b64_fast(good.as_bytes(), &mut out));
            proptest::prop_assert_eq!(out.get(1..), Some(&bytes[..]));
            for text in [junk.clone(), [good.as_bytes(), &junk[..]].concat()] {
                let mut out = Vec::new();
                if decode_b64_fast(&text, &mut out) {
                    proptest::prop_assert_eq!(B64.decode(&text).ok(), Some(out));
                }
            }
        }

        #[test]
        fn fast_dn_check_only_accepts_valid_dns(
            parts in proptest::collection::vec(
                proptest::sample::select(vec!["uid", "=", ",", "+", "a", "é", "1.2", "-", " ",
                                              "\\", "#", "x;", "ou=people", "dc=example"]),
                0..12),
        ) {
            let dn: String = parts.concat();
            if dn_fast_ok(dn.as_bytes()) {
                proptest::prop_assert!(Dn::validate(&dn).is_ok(), "{}", dn);
            }
        }
    }

    #[test]
    fn fast_checks_cover_the_common_shapes() {
        assert!(dn_fast_ok(b"uid=user0,ou=people,dc=domain0,dc=com"));
        assert!(dn_fast_ok(b"cn=a+uid=b,dc=x"));
        assert!(!dn_fast_ok(b"cn=a,") && !dn_fast_ok(b"") && !dn_fast_ok(b"cn=a b"));
        let mut out = Vec::new();
        assert!(decode_b64_fast(b"Wm/DqyBPJ0JyaWVu", &mut out) && out == "Zoë O'Brien".as_bytes());
        out.clear();
        assert!(!decode_b64_fast(b"Zh==", &mut out) && B64.decode("Zh==").is_err());
        let f = scan_line(b"cn;lang-de:: Zm9v\r\nx", 100);
        assert!(
            matches!(
                f,
                Some(Scanned {
                    len: 17,
                    consume: 19,
                    colon: 10,
                    vstart: 13,
                    b64: true,
                    folded: false
                })
            ),
            "{f:?}"
        );
        assert!(scan_line(b"cn: a\x00b\nx", 100).is_none());
        assert!(scan_line(b"cn: a\n", 100).is_none(), "needs the next byte");
    }
}
