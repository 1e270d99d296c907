//! `zimbra-prov ldif check|fmt|stats`: output lines, exit codes, stdin, `--url-base`, and
//! `fmt --out` writing atomically.

use std::io::Write;
use std::process::Stdio;

use crate::{bin, run, Tmp};

const TWO: &str = "version: 1\ndn: dc=example,dc=com\nobjectClass: dcObject\nobjectClass: organization\n\
dc: example\no: Example\n\ndn: uid=alice,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: alice\n\
cn: Alice\nsn: Example\ndescription: caf\u{e9} \u{e9}t\u{e9}\n";

const CHANGES: &str =
    "dn: uid=alice,dc=example,dc=com\nchangetype: modify\nreplace: sn\nsn: E\n-\n\n\
dn: uid=bob,dc=example,dc=com\nchangetype: delete\n";

/// The second record lacks the blank line before it.
const BROKEN: &str = "dn: dc=example,dc=com\nobjectClass: dcObject\ndc: example\n\
dn: uid=alice,dc=example,dc=com\nuid: alice\n";

#[test]
fn check_prints_counts_or_the_first_error_with_file_and_line() {
    let t = Tmp::new("ldif-check");
    std::fs::write(t.path("two.ldif"), TWO).unwrap();
    std::fs::write(t.path("changes.ldif"), CHANGES).unwrap();
    std::fs::write(t.path("broken.ldif"), BROKEN).unwrap();
    let (two, changes, broken) = (
        t.arg("two.ldif"),
        t.arg("changes.ldif"),
        t.arg("broken.ldif"),
    );

    let r = run(&["ldif", "check", &two, &changes]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(
        r.out,
        format!(
            "{two}: 2 records (2 entries, 0 changes)\n{changes}: 2 records (0 entries, 2 changes)\n"
        )
    );
    assert_eq!(r.err, "");

    // the first error: FILE:LINE: error: MESSAGE, exit 1; files before it were reported
    let r = run(&["ldif", "check", &two, &broken, &changes]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(r.out, format!("{two}: 2 records (2 entries, 0 changes)\n"));
    assert_eq!(
        r.err,
        format!("{broken}:4: error: `dn:` line inside a record: the blank line between two records is missing (dn: dc=example,dc=com)\n")
    );
    // mixed records are refused unless allowed
    let mixed = format!("{TWO}\n{CHANGES}");
    std::fs::write(t.path("mixed.ldif"), mixed).unwrap();
    let r = run(&["ldif", "check", &t.arg("mixed.ldif")]);
    assert_eq!(r.code, Some(1));
    assert!(r.err.contains("mixed"), "{r:?}");
    let r = run(&["ldif", "check", "--allow-mixed", &t.arg("mixed.ldif")]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(
        r.out.ends_with(": 4 records (2 entries, 2 changes)\n"),
        "{r:?}"
    );

    // a file that cannot be opened: no line number
    let r = run(&["ldif", "check", &t.arg("missing.ldif")]);
    assert_eq!(r.code, Some(1));
    assert!(
        r.err
            .starts_with(&format!("{}: error: ", t.arg("missing.ldif"))),
        "{r:?}"
    );
    assert!(!r.err.contains(":0:"), "never line 0: {r:?}");

    // stdin
    let mut child = bin()
        .args(["ldif", "check", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(TWO.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "-: 2 records (2 entries, 0 changes)\n"
    );

    // usage
    assert_eq!(run(&["ldif", "check"]).code, Some(2));
    assert_eq!(run(&["ldif", "check", "--bogus", &two]).code, Some(2));
    assert_eq!(run(&["ldif"]).code, Some(2));
    assert_eq!(run(&["ldif", "nosuch"]).code, Some(2));
}

#[test]
fn url_values_only_inside_the_url_base() {
    let t = Tmp::new("ldif-url");
    std::fs::create_dir(t.path("base")).unwrap();
    std::fs::write(t.path("base/photo.bin"), [0u8, 1, 2, 255]).unwrap();
    let url = format!("file://{}", t.path("base/photo.bin").display());
    let text = format!(
        "dn: uid=a,dc=x\nobjectClass: inetOrgPerson\nuid: a\ncn: a\nsn: a\njpegPhoto:< {url}\n"
    );
    std::fs::write(t.path("url.ldif"), text).unwrap();
    let r = run(&["ldif", "check", &t.arg("url.ldif")]);
    assert_eq!(r.code, Some(1));
    assert!(r.err.contains(":6: error: URL value"), "{r:?}");
    let r = run(&[
        "ldif",
        "fmt",
        "--url-base",
        &t.arg("base"),
        &t.arg("url.ldif"),
    ]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.out.contains("jpegPhoto:: AAEC/w==\n"), "{r:?}");
}

#[test]
fn fmt_rewrites_through_the_writer() {
    let t = Tmp::new("ldif-fmt");
    let long = format!(
        "dn: uid=a,dc=x\nobjectClass: inetOrgPerson\nuid: a\ncn: a\nsn: a\ndescription: {}\n",
        "y".repeat(100)
    );
    std::fs::write(t.path("in.ldif"), &long).unwrap();
    let input = t.arg("in.ldif");
    let r = run(&["ldif", "fmt", &input]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.out.starts_with("version: 1\n"), "{r:?}");
    assert!(r.out.lines().all(|l| l.len() <= 76), "{}", r.out);
    let r = run(&["ldif", "fmt", "--slapadd", "--wrap", "0", &input]);
    assert_eq!(r.code, Some(0));
    assert!(!r.out.contains("version:"), "{r:?}");
    assert!(r
        .out
        .contains(&format!("description: {}\n", "y".repeat(100))));
    let r = run(&["ldif", "fmt", "--wrap", "x", &input]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert_eq!(run(&["ldif", "fmt"]).code, Some(2));

    // --out: written atomically; in place is allowed
    let r = run(&[
        "ldif",
        "fmt",
        "--slapadd",
        "--out",
        &t.arg("out.ldif"),
        &input,
    ]);
    assert_eq!((r.code, r.out.as_str()), (Some(0), ""), "{r:?}");
    let written = std::fs::read_to_string(t.path("out.ldif")).unwrap();
    assert!(written.starts_with("dn: uid=a,dc=x\n"), "{written}");
    let r = run(&["ldif", "fmt", "--wrap", "0", "--out", &input, &input]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let again = std::fs::read_to_string(t.path("in.ldif")).unwrap();
    assert!(again.starts_with("version: 1\ndn: uid=a,dc=x\n"), "{again}");
    // a broken input leaves an existing output untouched and no temporary file
    std::fs::write(t.path("broken.ldif"), BROKEN).unwrap();
    let r = run(&[
        "ldif",
        "fmt",
        "--out",
        &t.arg("out.ldif"),
        &t.arg("broken.ldif"),
    ]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.err
            .starts_with(&format!("{}:4: error: ", t.arg("broken.ldif"))),
        "{r:?}"
    );
    assert_eq!(
        std::fs::read_to_string(t.path("out.ldif")).unwrap(),
        written
    );
    assert_eq!(t.names(), ["broken.ldif", "in.ldif", "out.ldif"]);
}

#[test]
fn stats_prints_the_figures() {
    let t = Tmp::new("ldif-stats");
    std::fs::write(t.path("two.ldif"), TWO).unwrap();
    let r = run(&["ldif", "stats", &t.arg("two.ldif")]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let lines: Vec<&str> = r.out.lines().collect();
    assert_eq!(lines[0], format!("file: {}", t.arg("two.ldif")));
    assert_eq!(
        &lines[1..5],
        [
            "entries: 2",
            "changes: 0",
            "attribute values: 9",
            &format!("bytes: {}", TWO.len())
        ]
    );
    assert!(lines[5].starts_with("elapsed seconds: "), "{r:?}");
    assert!(lines[6].starts_with("MB/s: "), "{r:?}");
    assert_eq!(lines.len(), 7);
    assert_eq!(r.err, "", "no progress bar when stderr is not a terminal");
    std::fs::write(t.path("broken.ldif"), BROKEN).unwrap();
    let r = run(&["ldif", "stats", &t.arg("broken.ldif")]);
    assert_eq!(r.code, Some(1));
    assert!(r.err.contains("broken.ldif:4: error: "), "{r:?}");
    assert_eq!(run(&["ldif", "stats"]).code, Some(2));
}

#[test]
fn fmt_slapadd_prints_what_the_conformance_test_loads_into_slapadd() {
    // tests/ldif_slapadd.rs proves `fmt_slapadd`'s output loads into a real slapadd like the
    // original; the tool must print exactly that, or refuse exactly where it refuses.
    let t = Tmp::new("ldif-fmt-vectors");
    let data = crate::root().join("tests/data/ldif");
    let fixtures = format!("file://{}/", data.display());
    let mut names: Vec<_> = std::fs::read_dir(data.join("slapadd"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    assert!(names.len() >= 30);
    for path in &names {
        let text = String::from_utf8_lossy(&std::fs::read(path).unwrap())
            .replace("file:///FIXTURES/", &fixtures);
        let file = t.path("v.ldif");
        std::fs::write(&file, text).unwrap();
        let base = data.join("assets");
        let want = crate::ldif_fmt::fmt_slapadd(&file, &base);
        let o = bin()
            .args(["ldif", "fmt", "--slapadd", "--url-base"])
            .arg(&base)
            .arg(&file)
            .output()
            .unwrap();
        match want {
            Ok(bytes) => {
                assert_eq!(o.status.code(), Some(0), "{path:?}");
                assert!(o.stdout == bytes, "{path:?}");
            }
            Err(_) => assert_eq!(o.status.code(), Some(1), "{path:?}"),
        }
    }
}
