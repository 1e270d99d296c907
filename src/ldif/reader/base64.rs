//! Base64 values: a table-driven decoder for the canonical padded form, with the `base64`
//! engine as the judge of everything else.

use base64::Engine as _;

/// The engine that defines which base64 the reader accepts (standard alphabet, padded,
/// canonical) and that the writer uses.
pub(crate) const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

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

/// Decodes `text` onto `out`; false (with `out` as it was) when [`B64`] refuses it.
pub(super) fn decode(text: &[u8], out: &mut Vec<u8>) -> bool {
    let start = out.len();
    if decode_fast(text, out) {
        return true;
    }
    out.truncate(start);
    if B64.decode_vec(text, out).is_err() {
        out.truncate(start);
        return false;
    }
    true
}

/// Decodes canonical padded standard base64 (what [`B64`] accepts) onto `out`; false,
/// leaving `out` with garbage appended, for anything else, which the caller then hands to
/// [`B64`] for the exact verdict.
fn decode_fast(text: &[u8], out: &mut Vec<u8>) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_and_refused_forms() {
        let mut out = Vec::new();
        assert!(decode_fast(b"Wm/DqyBPJ0JyaWVu", &mut out) && out == "Zoë O'Brien".as_bytes());
        out.clear();
        assert!(!decode_fast(b"Zh==", &mut out) && B64.decode("Zh==").is_err());
        let mut out = vec![1u8];
        assert!(!decode(b"Zh==", &mut out));
        assert_eq!(out, [1], "a refused value leaves nothing behind");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn fast_base64_agrees_with_engine(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            junk in proptest::collection::vec(
                proptest::sample::select(b"AZaz09+/=-_ \n\xff".to_vec()), 0..24),
        ) {
            let good = B64.encode(&bytes);
            let mut out = vec![7u8];
            proptest::prop_assert!(decode_fast(good.as_bytes(), &mut out));
            proptest::prop_assert_eq!(out.get(1..), Some(&bytes[..]));
            for text in [junk.clone(), [good.as_bytes(), &junk[..]].concat()] {
                let mut out = Vec::new();
                if decode_fast(&text, &mut out) {
                    proptest::prop_assert_eq!(B64.decode(&text).ok(), Some(out));
                }
            }
        }
    }
}
