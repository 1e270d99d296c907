//! The DN string syntax: the RFC 4514 scanner (with RFC 2253's spaces around separators),
//! value escaping, and the normalisation of attribute types and naming values.

use std::borrow::Cow;

use super::{AttrValue, DnError, DnErrorReason};

pub(super) enum Event<'a> {
    Ava { ty: &'a str, value: AttrValue },
    RdnEnd { start: usize, end: usize },
}

fn is_key_start(b: u8) -> bool {
    b.is_ascii_alphabetic()
}

/// Checks an attribute type: keystring or numericoid. Returns the bad offset on error.
pub(super) fn check_type(t: &[u8]) -> Result<(), usize> {
    match t.first() {
        None => Err(0),
        Some(b) if b.is_ascii_digit() => {
            // numericoid: number *( "." number ), number = DIGIT / LDIGIT 1*DIGIT
            let mut prev_dot = true;
            let mut num_start = 0;
            for (i, &c) in t.iter().enumerate() {
                if c == b'.' {
                    if prev_dot {
                        return Err(i);
                    }
                    prev_dot = true;
                } else if c.is_ascii_digit() {
                    if prev_dot {
                        num_start = i;
                    } else if i == num_start + 1 && t.get(num_start) == Some(&b'0') {
                        return Err(num_start);
                    }
                    prev_dot = false;
                } else {
                    return Err(i);
                }
            }
            if prev_dot {
                Err(t.len())
            } else {
                Ok(())
            }
        }
        Some(&b) if is_key_start(b) => {
            for (i, &c) in t.iter().enumerate() {
                if !(c.is_ascii_alphanumeric() || c == b'-') {
                    return Err(i);
                }
            }
            Ok(())
        }
        Some(_) => Err(0),
    }
}

fn hexval(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

pub(super) fn scan<'a>(s: &'a str, mut sink: impl FnMut(Event<'a>)) -> Result<(), DnError> {
    let b = s.as_bytes();
    let err = |position: usize, reason| DnError::Syntax {
        dn: s.to_string(),
        position,
        reason,
    };
    let skip_sp = |mut i: usize| {
        while b.get(i) == Some(&b' ') {
            i += 1;
        }
        i
    };
    if b.iter().all(|&c| c == b' ') {
        return Ok(()); // root DN
    }
    let mut i = 0usize;
    let mut rdn_start = 0usize;
    let mut sig_end;
    loop {
        // attribute type
        i = skip_sp(i);
        let ts = i;
        while let Some(&c) = b.get(i) {
            if c.is_ascii_alphanumeric() || c == b'-' || c == b'.' {
                i += 1;
            } else {
                break;
            }
        }
        if ts == i {
            let reason = match b.get(i) {
                None | Some(b',') | Some(b'+') => DnErrorReason::EmptyRdn,
                _ => DnErrorReason::ExpectedType,
            };
            return Err(err(i, reason));
        }
        let ty_bytes = b.get(ts..i).unwrap_or_default();
        if let Err(off) = check_type(ty_bytes) {
            return Err(err(ts + off, DnErrorReason::InvalidType));
        }
        let ty = s.get(ts..i).unwrap_or_default();
        i = skip_sp(i);
        if b.get(i) != Some(&b'=') {
            return Err(err(i, DnErrorReason::ExpectedEquals));
        }
        i = skip_sp(i + 1);
        // value
        let value;
        if b.get(i) == Some(&b'#') {
            i += 1;
            let hs = i;
            let mut bytes = Vec::new();
            while let Some(&c) = b.get(i) {
                let Some(hi) = hexval(c) else { break };
                let Some(lo) = b.get(i + 1).and_then(|&d| hexval(d)) else {
                    return Err(err(i, DnErrorReason::BadHexString));
                };
                bytes.push(hi << 4 | lo);
                i += 2;
            }
            if i == hs {
                return Err(err(i, DnErrorReason::BadHexString));
            }
            sig_end = i;
            let j = skip_sp(i);
            if !matches!(b.get(j), None | Some(b',') | Some(b'+')) {
                return Err(err(j, DnErrorReason::BadHexString));
            }
            i = j;
            value = AttrValue::Ber(bytes);
        } else {
            let vs = i;
            sig_end = i;
            // Unescaped text is borrowed; escapes switch to an owned buffer.
            let mut owned: Option<Vec<u8>> = None;
            let mut keep_len = 0usize; // length of value up to last significant byte
            let mut len = 0usize;
            while let Some(&c) = b.get(i) {
                match c {
                    b',' | b'+' => break,
                    b'\\' => {
                        let Some(&n) = b.get(i + 1) else {
                            return Err(err(i, DnErrorReason::BadEscape));
                        };
                        let byte = if let Some(hi) = hexval(n) {
                            let Some(lo) = b.get(i + 2).and_then(|&d| hexval(d)) else {
                                return Err(err(i, DnErrorReason::BadEscape));
                            };
                            i += 3;
                            hi << 4 | lo
                        } else if b" \"#+,;<=>\\".contains(&n) {
                            i += 2;
                            n
                        } else {
                            return Err(err(i, DnErrorReason::BadEscape));
                        };
                        let buf = owned.get_or_insert_with(|| {
                            let mut v = Vec::with_capacity(s.len());
                            v.extend_from_slice(b.get(vs..vs + len).unwrap_or_default());
                            v
                        });
                        buf.push(byte);
                        len += 1;
                        keep_len = len;
                        sig_end = i;
                    }
                    b'"' | b';' | b'<' | b'>' | 0 => {
                        return Err(err(i, DnErrorReason::UnescapedSpecial));
                    }
                    _ => {
                        if let Some(buf) = owned.as_mut() {
                            buf.push(c);
                        }
                        len += 1;
                        i += 1;
                        if c != b' ' {
                            keep_len = len;
                            sig_end = i;
                        }
                    }
                }
            }
            let text: Cow<'a, str> = match owned {
                None => Cow::Borrowed(s.get(vs..vs + keep_len).unwrap_or_default()),
                Some(mut buf) => {
                    buf.truncate(keep_len);
                    match String::from_utf8(buf) {
                        Ok(t) => Cow::Owned(t),
                        Err(_) => return Err(err(vs, DnErrorReason::NotUtf8)),
                    }
                }
            };
            value = AttrValue::Text(text.into_owned());
        }
        sink(Event::Ava { ty, value });
        match b.get(i) {
            None => {
                sink(Event::RdnEnd {
                    start: rdn_start,
                    end: sig_end,
                });
                return Ok(());
            }
            Some(b'+') => i += 1,
            Some(b',') => {
                sink(Event::RdnEnd {
                    start: rdn_start,
                    end: sig_end,
                });
                i += 1;
                rdn_start = i;
            }
            Some(_) => return Err(err(i, DnErrorReason::UnescapedSpecial)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Formatting and normalization helpers

/// Appends `v` to `out` escaped per RFC 4514: `"+,;<>\` with a backslash, a leading `#`
/// or space and a trailing space with a backslash, NUL and other control characters as
/// `\hh`.
///
/// ```
/// let mut s = String::new();
/// zimbra_prov::dn::escape_value(" #a+b ", &mut s);
/// assert_eq!(s, r"\ #a\+b\ ");
/// ```
pub fn escape_value(v: &str, out: &mut String) {
    let last = v.len().saturating_sub(1);
    for (i, ch) in v.char_indices() {
        match ch {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(ch);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push('\\');
                push_hex_byte(c as u8, out);
            }
            c => out.push(c),
        }
    }
}

fn push_hex_byte(b: u8, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 15)]));
}

pub(super) fn push_hex(bytes: &[u8], out: &mut String) {
    out.push('#');
    for &b in bytes {
        push_hex_byte(b, out);
    }
}

pub(super) fn canonical_type(t: &str) -> Cow<'static, str> {
    let lower = t.to_ascii_lowercase();
    Cow::Owned(match lower.as_str() {
        "2.5.4.3" => "cn".to_string(),
        "2.5.4.11" => "ou".to_string(),
        "2.5.4.10" => "o".to_string(),
        "0.9.2342.19200300.100.1.25" | "domaincomponent" => "dc".to_string(),
        "0.9.2342.19200300.100.1.1" | "userid" => "uid".to_string(),
        "commonname" => "cn".to_string(),
        "organizationalunitname" => "ou".to_string(),
        "organizationname" => "o".to_string(),
        _ => lower,
    })
}

pub(super) fn is_case_ignore(canonical: &str) -> bool {
    matches!(canonical, "dc" | "ou" | "cn" | "uid" | "o")
}

pub(super) fn fold_case_ignore(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for word in v.split(' ').filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}
