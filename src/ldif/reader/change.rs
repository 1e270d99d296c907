//! Change records (`changetype: add|delete|modify|modrdn|moddn`) and their `control:`
//! lines, parsed from the logical lines of one record into an owned [`Change`].

use std::io::BufRead;

use super::super::error::LdifErrorKind as K;
use super::super::record::{same_description, Attr, Change, ChangeOp, Control, Modification};
use super::scan::{is_oid_bytes, mod_keyword};
use super::{span, PResult, Reader, Span, ValKind};
use crate::dn::{Dn, Rdn};

impl<R: BufRead> Reader<R> {
    /// The change record of DN `dn` that started on line `start`: control lines from
    /// logical line `controls` up to the `changetype:` line `ct`, then its body.
    pub(super) fn parse_change(
        &mut self,
        dn: Dn,
        start: u64,
        controls_from: usize,
        ct: usize,
    ) -> PResult<Change> {
        let mut controls = Vec::new();
        for i in controls_from..ct {
            controls.push(self.control(i)?);
        }
        let kind = self.plain_text(ct)?;
        let body = ct + 1..self.lines.len();
        let op = match kind.to_ascii_lowercase().as_str() {
            "add" => {
                if body.is_empty() {
                    return Err((self.line_no(ct), K::AddWithoutAttributes));
                }
                let mut attrs = Vec::with_capacity(body.len());
                for i in body {
                    if self.desc_is(i, b"dn") {
                        return Err((self.line_no(i), K::MissingBlankLine));
                    }
                    let (d, v) = self.value_at(i)?;
                    attrs.push(Attr::new(
                        self.desc_str(d),
                        span(&self.buf, &self.decoded, v),
                    ));
                }
                ChangeOp::Add(attrs)
            }
            "delete" => {
                if !body.is_empty() {
                    return Err((
                        self.line_no(body.start),
                        K::UnexpectedLine(self.line_text(body.start)),
                    ));
                }
                ChangeOp::Delete
            }
            "modify" => ChangeOp::Modify(self.modify(body)?),
            "modrdn" | "moddn" => self.moddn(body, ct)?,
            _ => return Err((self.line_no(ct), K::UnknownChangeType(kind))),
        };
        Ok(Change {
            dn,
            controls,
            op,
            line: start,
        })
    }

    fn line_text(&self, i: usize) -> String {
        let (s, e) = self.bounds(i);
        let t = self.buf.get(s..e).unwrap_or_default();
        String::from_utf8_lossy(t.get(..t.len().min(80)).unwrap_or_default()).into_owned()
    }

    fn is_dash(&self, i: usize) -> bool {
        let (s, e) = self.bounds(i);
        self.buf.get(s..e) == Some(&b"-"[..])
    }

    fn modify(&mut self, body: std::ops::Range<usize>) -> PResult<Vec<Modification>> {
        let mut mods = Vec::new();
        let mut k = body.start;
        while k < body.end {
            let l = k;
            if self.is_dash(l) {
                return Err((self.line_no(l), K::BadModOp("-".into())));
            }
            let (desc, _, _, _) = self.split_at(l)?;
            let d = self.buf.get(desc.0..desc.1).unwrap_or_default();
            let Some(op) = mod_keyword(d) else {
                return Err((self.line_no(l), K::BadModOp(self.desc_str(desc))));
            };
            let attribute = self.plain_text(l)?;
            if attribute.is_empty() {
                return Err((self.line_no(l), K::EmptyAttributeDescription));
            }
            if !super::valid_description(&attribute) {
                return Err((self.line_no(l), K::InvalidAttributeDescription(attribute)));
            }
            k += 1;
            let mut values = Vec::new();
            loop {
                if k >= body.end {
                    if self.opts.allow_missing_final_dash {
                        break;
                    }
                    let last = body.end.checked_sub(1).unwrap_or(l);
                    return Err((self.line_no(last), K::MissingModSeparator { attribute }));
                }
                let v = k;
                k += 1;
                if self.is_dash(v) {
                    break;
                }
                let (vd, _, _, _) = self.split_at(v)?;
                let vd_bytes = self.buf.get(vd.0..vd.1).unwrap_or_default();
                let vd_str = std::str::from_utf8(vd_bytes).unwrap_or_default();
                if same_description(vd_str, &attribute) {
                    let (_, sp) = self.value_at(v)?;
                    values.push(span(&self.buf, &self.decoded, sp).to_vec());
                } else if mod_keyword(vd_bytes).is_some() {
                    return Err((self.line_no(v), K::MissingModSeparator { attribute }));
                } else {
                    return Err((
                        self.line_no(v),
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

    fn moddn(&mut self, body: std::ops::Range<usize>, ct: usize) -> PResult<ChangeOp> {
        let mut it = body.clone();
        let no_or = |r: &Self, i: Option<usize>| i.map_or(r.line_no(ct), |i| r.line_no(i));
        let nl = it
            .next()
            .filter(|&i| self.desc_is(i, b"newrdn"))
            .ok_or_else(|| {
                let at = (!body.is_empty()).then_some(body.start);
                (no_or(self, at), K::ExpectedLine("newrdn"))
            })?;
        let rdn_text = self.dn_value(nl)?;
        let new_rdn = Rdn::parse(&rdn_text).map_err(|e| (self.line_no(nl), K::InvalidDn(e)))?;
        let dl = it
            .next()
            .filter(|&i| self.desc_is(i, b"deleteoldrdn"))
            .ok_or_else(|| {
                let at = if body.len() > 1 { body.start + 1 } else { nl };
                (self.line_no(at), K::ExpectedLine("deleteoldrdn"))
            })?;
        let delete_old_rdn = match self.plain_text(dl)?.as_str() {
            "0" => false,
            "1" => true,
            other => return Err((self.line_no(dl), K::BadDeleteOldRdn(other.to_string()))),
        };
        let mut new_superior = None;
        if let Some(sl) = it.next() {
            if !self.desc_is(sl, b"newsuperior") {
                return Err((self.line_no(sl), K::UnexpectedLine(self.line_text(sl))));
            }
            let t = self.dn_value(sl)?;
            new_superior = Some(Dn::parse(&t).map_err(|e| (self.line_no(sl), K::InvalidDn(e)))?);
        }
        if let Some(x) = it.next() {
            return Err((self.line_no(x), K::UnexpectedLine(self.line_text(x))));
        }
        Ok(ChangeOp::ModDn {
            new_rdn,
            delete_old_rdn,
            new_superior,
        })
    }

    fn control(&mut self, l: usize) -> PResult<Control> {
        let bad = |r: &Self, m: &str| (r.line_no(l), K::BadControl(m.to_string()));
        let (_, kind, vs, ve) = self.split_at(l)?;
        if kind != ValKind::Plain {
            return Err(bad(
                self,
                "a control line is `control: OID [true|false] [value]`",
            ));
        }
        let text = self.buf.get(vs..ve).unwrap_or_default();
        let oid_end = text
            .iter()
            .position(|&c| !(c.is_ascii_digit() || c == b'.'))
            .unwrap_or(text.len());
        let oid = text.get(..oid_end).unwrap_or_default();
        if !is_oid_bytes(oid) {
            let shown = String::from_utf8_lossy(
                text.get(..oid_end.max(1).min(text.len()))
                    .unwrap_or_default(),
            )
            .into_owned();
            return Err(bad(self, &format!("bad OID {shown:?}")));
        }
        let oid = String::from_utf8_lossy(oid).into_owned();
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
            Some(_) => return Err(bad(self, "expected true, false or a value after the OID")),
        };
        let value = match spec {
            None => None,
            Some((vk, a)) => {
                let (start, _) = self.bounds(l);
                let desc = (start, start + 7);
                let sp = match vk {
                    ValKind::Plain => {
                        let v = self.buf.get(a..ve).unwrap_or_default();
                        self.check_plain(v, desc)
                            .map_err(|k| (self.line_no(l), k))?;
                        Span::Buf(a, ve)
                    }
                    ValKind::B64 => self
                        .decode_b64(a, ve, desc)
                        .map_err(|k| (self.line_no(l), k))?,
                    ValKind::Url => self
                        .read_url(a, ve, desc)
                        .map_err(|k| (self.line_no(l), k))?,
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
