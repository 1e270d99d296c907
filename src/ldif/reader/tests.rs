//! Unit tests of the reader as a whole: lines, errors, URL values, and the fast path
//! against the general path.

use std::io::BufRead;

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
}

#[test]
fn every_value_kind_comes_back_in_order() {
    let spaces = " ".repeat(1100); // too many separator spaces for the packed offsets
    let desc = format!("x-{}", "a".repeat(1 << 20)); // too long a description for them
    let text = format!(
        "dn: cn=a\ncn: plain\ndescription: Zoë\njpegPhoto:: AAEC\nsn:{spaces}far\n\
         l:: Zm9v\n YmFy\nst: fol\n ded\n{desc}: long\nou: last\n"
    );
    let opts = ReaderOptions {
        max_line_bytes: 4 << 20,
        ..ReaderOptions::default()
    };
    let mut r = Reader::with_options(text.as_bytes(), opts);
    let rec = r
        .next_ref()
        .unwrap_or_else(|e| panic!("{e}"))
        .expect("a record");
    let got: Vec<(String, Vec<u8>)> = rec
        .attributes()
        .map(|(d, v)| (d.to_string(), v.to_vec()))
        .collect();
    let want: Vec<(String, Vec<u8>)> = [
        ("cn", &b"plain"[..]),
        ("description", "Zoë".as_bytes()),
        ("jpegPhoto", &[0, 1, 2][..]),
        ("sn", b"far"),
        ("l", b"foobar"),
        ("st", b"folded"),
        (desc.as_str(), b"long"),
        ("ou", b"last"),
    ]
    .iter()
    .map(|(d, v)| (d.to_string(), v.to_vec()))
    .collect();
    assert_eq!(got, want);
    assert_eq!(rec.attribute_count(), 8);
    assert_eq!(rec.attributes().count(), 8);
}

/// Comment lines (no `:`) cost their own length: the colon search never runs into the
/// following lines. Quadratic before: each comment line was scanned up to the next `:` in
/// the buffer.
#[test]
fn comment_lines_cost_linear_work() {
    let n = 5_000;
    let mut text = b"dn: cn=a\ncn: a\n".to_vec();
    for _ in 0..n {
        text.extend_from_slice(b"# a comment without a colon\n");
    }
    text.extend_from_slice(b"sn: b\n");
    scan::SCANNED.with(|s| s.set(0));
    let records: Vec<Record> = Reader::new(&text[..])
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(records.len(), 1);
    let work = scan::SCANNED.with(std::cell::Cell::get);
    assert!(
        work <= 2 * text.len() as u64,
        "the colon search examined {work} bytes of a {}-byte input",
        text.len()
    );
}

/// What the reader holds for a record of many tiny values: its own bytes plus 8 bytes a
/// line (~90 bytes a line before).
#[test]
fn tiny_values_cost_a_small_multiple_of_their_size() {
    let n = 100_000;
    let mut text = b"dn: cn=a\n".to_vec();
    for i in 0..n {
        text.extend_from_slice(format!("a: {}\n", i % 10).as_bytes());
    }
    let mut r = Reader::new(&text[..]);
    let count = r.next_ref().unwrap_or_else(|e| panic!("{e}")).map(|rec| {
        rec.attributes()
            .filter(|(d, v)| *d == "a" && v.len() == 1)
            .count()
    });
    assert_eq!(count, Some(n));
    let held = r.buf.len()
        + r.lines.len() * std::mem::size_of::<Line>()
        + r.side.len() * std::mem::size_of::<Side>()
        + r.jumps.len() * std::mem::size_of::<(u32, u64)>()
        + r.decoded.len();
    assert!(
        held <= 3 * text.len(),
        "{held} bytes held for a {}-byte record",
        text.len()
    );
}

/// An overlong line handed over whole (an in-memory input) is not copied whole before it is
/// refused.
#[test]
fn an_overlong_line_is_refused_without_holding_it() {
    let opts = ReaderOptions {
        max_line_bytes: 1000,
        ..ReaderOptions::default()
    };
    let mut text = b"dn: cn=a\ncn: ".to_vec();
    text.extend(std::iter::repeat_n(b'#', 1 << 20));
    text.push(b'\n');
    let mut r = Reader::with_options(&text[..], opts);
    let e = r.next_record().expect_err("too long");
    assert!(
        matches!(
            e.kind,
            K::LimitExceeded {
                what: Limit::Line,
                limit: 1000
            }
        ) && e.line == 2,
        "{e}"
    );
    assert!(
        r.buf.capacity() < 64 << 10,
        "held {} bytes",
        r.buf.capacity()
    );
}
