//! Deterministic LDIF writer.

use std::io::Write;

use base64::Engine as _;

use super::error::WriteError;
use super::reader::{valid_description, valid_oid, RecordRef, B64};
use super::record::{Change, ChangeOp, Entry, Record};

/// Options of a [`Writer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterOptions {
    /// Fold lines longer than this many bytes (continuations are a space plus `wrap - 1`
    /// bytes); 0 = never fold. Default 76. Only the value part of a line is folded.
    pub wrap: usize,
    /// Write `version: 1` before the first record. Default true; slapadd rejects it.
    pub version_line: bool,
    /// Attribute types whose values are always base64-encoded (case-insensitive, options
    /// ignored). Default `["userPassword"]`, as OpenLDAP's writer does.
    pub base64_attributes: Vec<String>,
}

impl Default for WriterOptions {
    fn default() -> WriterOptions {
        WriterOptions {
            wrap: 76,
            version_line: true,
            base64_attributes: vec!["userPassword".to_string()],
        }
    }
}

impl WriterOptions {
    /// Output for `slapadd`: no `version:` line, otherwise the defaults.
    pub fn slapadd_mode() -> WriterOptions {
        WriterOptions {
            version_line: false,
            ..WriterOptions::default()
        }
    }
}

/// True when `value` cannot be written as a plain LDIF value: it starts with a space, `:`
/// or `<`, ends with a space, or has any byte outside printable ASCII (which includes NUL,
/// CR, LF, TAB, DEL and all of UTF-8's multi-byte sequences).
///
/// ```
/// use zimbra_prov::ldif::needs_base64;
/// assert!(!needs_base64(b"#not a comment") && !needs_base64(b"a: b") && !needs_base64(b""));
/// assert!(needs_base64(b" lead") && needs_base64(b"trail ") && needs_base64(b":x"));
/// assert!(needs_base64(b"<x") && needs_base64("é".as_bytes()) && needs_base64(b"a\tb"));
/// ```
pub fn needs_base64(value: &[u8]) -> bool {
    match (value.first(), value.last()) {
        (None, _) => false,
        (Some(b' ' | b':' | b'<'), _) | (_, Some(b' ')) => true,
        _ => !all_printable(value),
    }
}

/// True when every byte of `v` is printable ASCII (`0x20..=0x7e`); eight bytes at a time.
fn all_printable(v: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut words = v.chunks_exact(8);
    for c in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        let w = u64::from_le_bytes(b);
        // with no lane at or above 0x80 the sums below carry into no other lane: a lane
        // below 0x20 stays below 0x80 after adding 0x60, and only 0x7f reaches 0x80 by adding 1
        if w & HIGHS != 0
            || !w.wrapping_add(0x60 * ONES) & HIGHS != 0
            || w.wrapping_add(ONES) & HIGHS != 0
        {
            return false;
        }
    }
    words.remainder().iter().all(|b| (0x20..=0x7e).contains(b))
}

/// Writes LDIF records. Each record is validated and serialized completely before any
/// byte of it is written, so a refused record leaves nothing behind.
///
/// ```
/// use zimbra_prov::{dn::Dn, ldif::{Entry, Writer, WriterOptions}};
/// let mut e = Entry::new(Dn::parse("uid=a,dc=example")?);
/// e.push("objectClass", "account");
/// e.push("description", " leading space");
/// let mut out = Vec::new();
/// Writer::new(&mut out, WriterOptions::slapadd_mode()).write_entry(&e)?;
/// assert_eq!(out, b"dn: uid=a,dc=example\nobjectClass: account\ndescription:: IGxlYWRpbmcgc3BhY2U=\n\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Writer<W: Write> {
    out: W,
    opts: WriterOptions,
    buf: Vec<u8>,
    line: Vec<u8>,
    records: u64,
    is_change: Option<bool>,
}

impl<W: Write> Writer<W> {
    /// A writer with the given options.
    pub fn new(out: W, opts: WriterOptions) -> Writer<W> {
        Writer {
            out,
            opts,
            buf: Vec::with_capacity(8192),
            line: Vec::with_capacity(1024),
            records: 0,
            is_change: None,
        }
    }

    /// Number of records written.
    pub fn records_written(&self) -> u64 {
        self.records
    }

    /// Flushes and returns the inner writer.
    pub fn into_inner(mut self) -> Result<W, WriteError> {
        self.out.flush()?;
        Ok(self.out)
    }

    /// Flushes the inner writer.
    pub fn flush(&mut self) -> Result<(), WriteError> {
        self.out.flush()?;
        Ok(())
    }

    /// Writes any record.
    pub fn write_record(&mut self, r: &Record) -> Result<(), WriteError> {
        match r {
            Record::Entry(e) => self.write_entry(e),
            Record::Change(c) => self.write_change(c),
        }
    }

    /// Writes a content entry.
    pub fn write_entry(&mut self, e: &Entry) -> Result<(), WriteError> {
        self.write_entry_parts(e.dn.as_str(), e.iter())
    }

    /// Writes a borrowed record from [`Reader::next_ref`](super::Reader::next_ref).
    pub fn write_ref(&mut self, r: &RecordRef<'_>) -> Result<(), WriteError> {
        match r.change() {
            Some(c) => self.write_change(c),
            None => self.write_entry_parts(r.dn(), r.attributes()),
        }
    }

    /// Writes a content entry given as a DN string (already valid RFC 4514) and its
    /// (description, value) lines.
    pub fn write_entry_parts<'a>(
        &mut self,
        dn: &str,
        attrs: impl Iterator<Item = (&'a str, &'a [u8])> + Clone,
    ) -> Result<(), WriteError> {
        let mut n = 0usize;
        let mut leading_controls = true;
        for (d, _) in attrs.clone() {
            n += 1;
            let reserved = d.eq_ignore_ascii_case("dn")
                || (leading_controls && d.eq_ignore_ascii_case("changetype"));
            leading_controls &= d.eq_ignore_ascii_case("control");
            if reserved || !valid_description(d) {
                return Err(WriteError::InvalidAttributeDescription {
                    dn: dn.to_string(),
                    description: d.to_string(),
                });
            }
        }
        if n == 0 {
            return Err(WriteError::NoAttributes { dn: dn.to_string() });
        }
        self.check_kind(false, dn)?;
        self.begin();
        self.put(b"dn", dn.as_bytes(), false);
        for (d, v) in attrs {
            let force = self.force_b64(d);
            self.put(d.as_bytes(), v, force);
        }
        self.finish()
    }

    /// Writes a change record.
    pub fn write_change(&mut self, c: &Change) -> Result<(), WriteError> {
        let dn = c.dn.as_str();
        let bad_desc = |d: &str| WriteError::InvalidAttributeDescription {
            dn: dn.to_string(),
            description: d.to_string(),
        };
        for ctl in &c.controls {
            if !valid_oid(&ctl.oid) {
                return Err(WriteError::InvalidControlOid {
                    dn: dn.to_string(),
                    oid: ctl.oid.clone(),
                });
            }
        }
        match &c.op {
            ChangeOp::Add(attrs) => {
                if attrs.is_empty() {
                    return Err(WriteError::NoAttributes { dn: dn.to_string() });
                }
                if let Some(a) = attrs.iter().find(|a| {
                    !valid_description(&a.description) || a.description.eq_ignore_ascii_case("dn")
                }) {
                    return Err(bad_desc(&a.description));
                }
            }
            ChangeOp::Modify(mods) => {
                if let Some(m) = mods.iter().find(|m| !valid_description(&m.attribute)) {
                    return Err(bad_desc(&m.attribute));
                }
            }
            ChangeOp::Delete | ChangeOp::ModDn { .. } => {}
        }
        self.check_kind(true, dn)?;
        self.begin();
        self.put(b"dn", dn.as_bytes(), false);
        for ctl in &c.controls {
            self.line.clear();
            self.line.extend_from_slice(b"control: ");
            self.line.extend_from_slice(ctl.oid.as_bytes());
            if ctl.critical {
                self.line.extend_from_slice(b" true");
            }
            match &ctl.value {
                None => {}
                Some(v) if v.is_empty() => self.line.push(b':'),
                Some(v) if needs_base64(v) => {
                    self.line.extend_from_slice(b":: ");
                    push_b64(&mut self.line, v);
                }
                Some(v) => {
                    self.line.extend_from_slice(b": ");
                    self.line.extend_from_slice(v);
                }
            }
            fold(&mut self.buf, &self.line, 9, self.opts.wrap);
        }
        match &c.op {
            ChangeOp::Add(attrs) => {
                self.put(b"changetype", b"add", false);
                for a in attrs {
                    let force = self.force_b64(&a.description);
                    self.put(a.description.as_bytes(), &a.value, force);
                }
            }
            ChangeOp::Delete => self.put(b"changetype", b"delete", false),
            ChangeOp::Modify(mods) => {
                self.put(b"changetype", b"modify", false);
                for m in mods {
                    let op = m.op.to_string();
                    self.put(op.as_bytes(), m.attribute.as_bytes(), false);
                    let force = self.force_b64(&m.attribute);
                    for v in &m.values {
                        self.put(m.attribute.as_bytes(), v, force);
                    }
                    self.buf.extend_from_slice(b"-\n");
                }
            }
            ChangeOp::ModDn {
                new_rdn,
                delete_old_rdn,
                new_superior,
            } => {
                self.put(b"changetype", b"modrdn", false);
                self.put(b"newrdn", new_rdn.as_str().as_bytes(), false);
                let d: &[u8] = if *delete_old_rdn { b"1" } else { b"0" };
                self.put(b"deleteoldrdn", d, false);
                if let Some(s) = new_superior {
                    self.put(b"newsuperior", s.as_str().as_bytes(), false);
                }
            }
        }
        self.finish()
    }

    fn check_kind(&mut self, change: bool, dn: &str) -> Result<(), WriteError> {
        match self.is_change {
            Some(k) if k != change => Err(WriteError::MixedRecords { dn: dn.to_string() }),
            _ => {
                self.is_change = Some(change);
                Ok(())
            }
        }
    }

    fn force_b64(&self, desc: &str) -> bool {
        let (ty, options) = desc.split_once(';').unwrap_or((desc, ""));
        (!options.is_empty() && options.split(';').any(|o| o.eq_ignore_ascii_case("binary")))
            || self
                .opts
                .base64_attributes
                .iter()
                .any(|a| a.eq_ignore_ascii_case(ty))
    }

    fn begin(&mut self) {
        self.buf.clear();
        if self.records == 0 && self.opts.version_line {
            self.buf.extend_from_slice(b"version: 1\n");
        }
    }

    fn finish(&mut self) -> Result<(), WriteError> {
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)?;
        self.records += 1;
        Ok(())
    }

    fn put(&mut self, name: &[u8], value: &[u8], force_b64: bool) {
        self.line.clear();
        self.line.extend_from_slice(name);
        let prefix;
        if value.is_empty() {
            self.line.push(b':');
            prefix = self.line.len();
        } else if force_b64 || needs_base64(value) {
            self.line.extend_from_slice(b":: ");
            prefix = self.line.len();
            push_b64(&mut self.line, value);
        } else {
            self.line.extend_from_slice(b": ");
            prefix = self.line.len();
            self.line.extend_from_slice(value);
        }
        fold(&mut self.buf, &self.line, prefix, self.opts.wrap);
    }
}

fn push_b64(out: &mut Vec<u8>, v: &[u8]) {
    let start = out.len();
    let n = v.len().div_ceil(3) * 4;
    out.resize(start + n, 0);
    if let Some(dst) = out.get_mut(start..) {
        let written = B64.encode_slice(v, dst).unwrap_or(0);
        out.truncate(start + written);
    }
}

/// Appends `line` to `out`, folded at `wrap` bytes but never before `prefix` (the name
/// and separator), then a newline.
fn fold(out: &mut Vec<u8>, line: &[u8], prefix: usize, wrap: usize) {
    if wrap == 0 || line.len() <= wrap {
        out.extend_from_slice(line);
        out.push(b'\n');
        return;
    }
    let first = wrap.max(prefix + 1).min(line.len());
    let (head, mut rest) = line.split_at(first);
    out.reserve(line.len() + 2 * (line.len() / wrap.max(2)) + 2);
    out.extend_from_slice(head);
    let step = wrap.saturating_sub(1).max(1);
    while !rest.is_empty() {
        let (a, b) = rest.split_at(step.min(rest.len()));
        out.extend_from_slice(b"\n ");
        out.extend_from_slice(a);
        rest = b;
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dn::Dn;

    #[test]
    fn printable_check_agrees_with_the_byte_rule_everywhere_in_a_word() {
        let naive = |v: &[u8]| v.iter().all(|b| (0x20..=0x7e).contains(b));
        for b in 0..=255u8 {
            for len in [1usize, 7, 8, 9, 16, 17] {
                for at in 0..len {
                    let mut v = vec![b'a'; len];
                    v[at] = b;
                    assert_eq!(all_printable(&v), naive(&v), "byte {b:#x} at {at} of {len}");
                }
            }
        }
        assert!(all_printable(b""));
    }

    #[test]
    fn folds_value_only_and_refuses_bad_records() {
        let mut out = Vec::new();
        let mut w = Writer::new(
            &mut out,
            WriterOptions {
                wrap: 10,
                ..WriterOptions::slapadd_mode()
            },
        );
        let mut e = Entry::new(Dn::root());
        e.push("averyverylongname", "abcdefghijkl");
        e.push("userPassword", "{SSHA}x");
        assert!(w.write_entry(&e).is_ok());
        let mut bad = Entry::new(Dn::root());
        bad.push("ok", "x");
        bad.push("bad_name", "x");
        assert!(w.write_entry(&bad).is_err());
        assert!(w.write_entry(&Entry::new(Dn::root())).is_err());
        let mut cheat = Entry::new(Dn::root());
        cheat.push("changetype", "delete");
        assert!(w.write_entry(&cheat).is_err());
        drop(w);
        let s = String::from_utf8_lossy(&out);
        assert_eq!(
            s,
            "dn:\naveryverylongname: a\n bcdefghij\n kl\nuserPassword:: e\n 1NTSEF9eA\n ==\n\n"
        );
    }
}
