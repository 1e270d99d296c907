//! Byte-level checks and the one-pass fast scan of a physical line.
//!
//! Everything here looks at one line at a time: no search runs past the end of the line it
//! started on, so the reader's work is linear in its input whatever the line mix (a file of
//! comment lines, or of lines without a `:`, costs one pass like any other).

fn is_oid(t: &[u8]) -> bool {
    !t.is_empty()
        && t.split(|&c| c == b'.').all(|n| {
            !n.is_empty()
                && n.iter().all(u8::is_ascii_digit)
                && !(n.len() > 1 && n.first() == Some(&b'0'))
        })
}

/// True for a numeric OID (`1.3.6.1.4.1.4203.1.10.1`).
pub(crate) fn valid_oid(s: &str) -> bool {
    is_oid(s.as_bytes())
}

/// True for a numeric OID given as bytes.
pub(super) fn is_oid_bytes(t: &[u8]) -> bool {
    is_oid(t)
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

pub(super) fn valid_description_bytes(d: &[u8]) -> bool {
    // the common shape first: a keystring type without options
    if d.first().is_some_and(u8::is_ascii_alphabetic)
        && d.iter().fold(1u8, |a, &c| a & CLASS[c as usize]) != 0
    {
        return true;
    }
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
/// [`Dn::validate`](crate::dn::Dn::validate) (which handles everything else) can be
/// skipped. False says nothing.
pub(super) fn dn_fast_ok(b: &[u8]) -> bool {
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

/// Marks (high bit of each byte lane) the zero bytes of `v`. The lowest marked lane is
/// exact (the classic test only over-marks lanes above a real hit), which is all the scans
/// rely on; so is the lowest marked lane of an OR of several such masks.
#[inline(always)]
fn zero_lanes(v: u64) -> u64 {
    v.wrapping_sub(ONES) & !v & HIGHS
}

/// Marks the bytes of `x` that are NUL, LF, CR or non-ASCII (see [`zero_lanes`]).
#[inline(always)]
fn special_lanes(x: u64) -> u64 {
    (zero_lanes(x) | zero_lanes(x ^ (ONES * 0x0a)) | zero_lanes(x ^ (ONES * 0x0d)) | x) & HIGHS
}

#[cfg(test)]
thread_local! {
    /// Bytes the colon search of [`scan_line`] examined on this thread (tests count work
    /// with it instead of timing it).
    pub(super) static SCANNED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Result of [`scan_line`], offsets relative to the start of the scanned slice.
#[derive(Debug, Clone, Copy)]
pub(super) struct Scanned {
    /// Length of the line's content (without LF or CRLF).
    pub len: usize,
    /// Bytes to consume (content plus terminator).
    pub consume: usize,
    pub colon: usize,
    pub vstart: usize,
    pub b64: bool,
    /// A continuation line follows.
    pub folded: bool,
}

/// One pass over a complete, unfolded physical line at the start of `avail` whose
/// description is a valid `ALPHA *(ALNUM / "-") *(";" 1*(ALNUM / "-"))` and whose value is
/// plain SAFE ASCII (no NUL, CR or byte above 0x7f) or base64 text of ASCII bytes.
/// Anything else (comments, blank lines, lines without `:`, URLs, non-ASCII, errors, a line
/// not yet wholly in `avail`) gives `None` and the caller takes the general path, which does
/// every check and reports errors; so this only ever accepts lines that path accepts, with
/// the same result. The search for the `:` stops at the end of the line, so a line without
/// one costs its own length, not the rest of the buffer.
#[inline]
pub(super) fn scan_line(avail: &[u8], max_line: usize) -> Option<Scanned> {
    let mut i = 0;
    let colon = loop {
        let x = u64::from_le_bytes(avail.get(i..i + 8)?.try_into().ok()?);
        #[cfg(test)]
        SCANNED.with(|s| s.set(s.get() + 8));
        let m = zero_lanes(x ^ (ONES * u64::from(b':'))) | zero_lanes(x ^ (ONES * 0x0a));
        if m != 0 {
            let k = i + (m.trailing_zeros() / 8) as usize;
            if avail.get(k) != Some(&b':') {
                return None; // the line ends before any `:`
            }
            break k;
        }
        i += 8;
    };
    let desc = avail.get(..colon)?;
    if !valid_description_bytes(desc) {
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
pub(super) fn scan_rest(avail: &[u8], mut j: usize) -> Option<(usize, usize)> {
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

/// The modify keyword of a mod-spec line's description, if it is one.
pub(super) fn mod_keyword(d: &[u8]) -> Option<crate::ldif::ModOp> {
    use crate::ldif::ModOp;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_checks_cover_the_common_shapes() {
        assert!(dn_fast_ok(b"uid=user0,ou=people,dc=domain0,dc=com"));
        assert!(dn_fast_ok(b"cn=a+uid=b,dc=x"));
        assert!(!dn_fast_ok(b"cn=a,") && !dn_fast_ok(b"") && !dn_fast_ok(b"cn=a b"));
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
        // a line without a colon is refused at its own end, even when a later line has one
        assert!(scan_line(b"# a comment\ncn: x\nsn: y\n", 100).is_none());
    }

    #[test]
    fn the_colon_search_stops_at_the_end_of_its_line() {
        let mut text = b"# no colon on this line, a long one ".repeat(4);
        text.extend_from_slice(b"\n");
        let line = text.len();
        text.extend_from_slice(&b"x".repeat(1 << 16));
        text.extend_from_slice(b": far away\n");
        SCANNED.with(|s| s.set(0));
        assert!(scan_line(&text, 1 << 20).is_none());
        let work = SCANNED.with(std::cell::Cell::get) as usize;
        assert!(
            work <= line + 8,
            "examined {work} bytes for a {line}-byte line"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn fast_dn_check_only_accepts_valid_dns(
            parts in proptest::collection::vec(
                proptest::sample::select(vec!["uid", "=", ",", "+", "a", "é", "1.2", "-", " ",
                                              "\\", "#", "x;", "ou=people", "dc=example"]),
                0..12),
        ) {
            let dn: String = parts.concat();
            if dn_fast_ok(dn.as_bytes()) {
                proptest::prop_assert!(crate::dn::Dn::validate(&dn).is_ok(), "{}", dn);
            }
        }
    }
}
