//! Issue 14 regressions for the tools: outputs never written through links nor over special
//! files, nothing half-written, two outputs never the same file, bounded password reads, no
//! hang on FIFOs, untrusted bytes escaped in human output.

use std::path::Path;

use crate::move_domain::{args, fixtures, run_move, write_dir};
use crate::{run, run_within, Tmp};

/// The arguments of a clean move of the fixtures (see [`fixtures`]) to `out`.
fn clean_move(t: &Tmp, out: &str) -> Vec<String> {
    let mut a = vec!["move-domain".to_string()];
    a.extend(args(t, "src.ldif", "dst.ldif", "company.com", "out.ldif"));
    a.extend([
        "--map-host".into(),
        "old.example.net=new.example.org".into(),
    ]);
    // `out` is a full path: replace the default
    let i = a.iter().position(|x| x == "--out").unwrap_or(0) + 1;
    a[i] = out.to_string();
    a
}

fn is_link(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

/// Names of temporary files the tool could have left (`.NAME.*.tmp`, `NAME.partial`).
fn leftovers(t: &Tmp) -> Vec<String> {
    t.names()
        .into_iter()
        .filter(|n| n.ends_with(".tmp") || n.ends_with(".partial"))
        .collect()
}

#[test]
fn a_symlink_at_out_is_refused_and_its_target_untouched() {
    let t = Tmp::new("safety-link");
    fixtures(&t);
    std::fs::write(t.path("victim"), "precious").unwrap();
    std::os::unix::fs::symlink(t.path("victim"), t.path("out.ldif")).unwrap();
    let r = run(&clean_move(&t, &t.arg("out.ldif")));
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.err.contains("is a symbolic link"), "{r:?}");
    assert_eq!(r.out, "", "refused before anything is read");
    assert_eq!(
        std::fs::read_to_string(t.path("victim")).unwrap(),
        "precious"
    );
    assert!(is_link(&t.path("out.ldif")), "the link is left as it was");
    // a dangling link too (it would create the file it points to)
    std::os::unix::fs::symlink(t.path("created-through-link"), t.path("dangling.ldif")).unwrap();
    let r = run(&clean_move(&t, &t.arg("dangling.ldif")));
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(!t.path("created-through-link").exists());
    assert!(leftovers(&t).is_empty(), "{:?}", t.names());
}

#[test]
fn links_planted_at_temporary_names_are_never_followed() {
    let t = Tmp::new("safety-plant");
    fixtures(&t);
    std::fs::write(t.path("victim"), "precious").unwrap();
    // the old tool wrote OUT.partial; plant links at that and at plausible hidden names
    for name in [
        "out.ldif.partial",
        ".out.ldif.tmp",
        ".out.ldif.partial",
        "out.ldif.tmp",
    ] {
        std::os::unix::fs::symlink(t.path("victim"), t.path(name)).unwrap();
    }
    let r = run(&clean_move(&t, &t.arg("out.ldif")));
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(
        std::fs::read_to_string(t.path("victim")).unwrap(),
        "precious"
    );
    let out = std::fs::symlink_metadata(t.path("out.ldif")).unwrap();
    assert!(out.file_type().is_file());
    assert!(std::fs::read_to_string(t.path("out.ldif"))
        .unwrap()
        .contains("dn: uid=a,ou=people,dc=company,dc=com"));
    for name in ["out.ldif.partial", ".out.ldif.tmp"] {
        assert!(is_link(&t.path(name)), "{name} left alone");
    }
    // nothing else left behind: only the four planted links end in .tmp/.partial
    assert_eq!(leftovers(&t).len(), 4, "{:?}", t.names());
}

#[test]
fn special_files_and_directories_are_refused_as_out() {
    let t = Tmp::new("safety-special");
    fixtures(&t);
    // a FIFO stands for /dev/full and friends: refused, not replaced, no hang
    let fifo = t.fifo("fifo.ldif");
    let r = run_within(30, &clean_move(&t, &t.arg("fifo.ldif")));
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.err.contains("is a FIFO"), "{r:?}");
    assert!(std::fs::symlink_metadata(&fifo)
        .map(|m| {
            use std::os::unix::fs::FileTypeExt;
            m.file_type().is_fifo()
        })
        .unwrap_or(false));
    // a character device of our own, when this process may create one (root)
    let dev = t.path("null.ldif");
    let made = std::process::Command::new("mknod")
        .arg(&dev)
        .args(["c", "1", "3"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if made {
        let r = run(&clean_move(&t, &t.arg("null.ldif")));
        assert_eq!(r.code, Some(2), "{r:?}");
        assert!(r.err.contains("is a device"), "{r:?}");
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::symlink_metadata(&dev)
            .unwrap()
            .file_type()
            .is_char_device());
    } else {
        eprintln!("no device test: mknod not permitted");
    }
    // a directory
    std::fs::create_dir(t.path("dir.ldif")).unwrap();
    let r = run(&clean_move(&t, &t.arg("dir.ldif")));
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.err.contains("is a directory"), "{r:?}");
    assert_eq!(std::fs::read_dir(t.path("dir.ldif")).unwrap().count(), 0);
    // --changes is checked the same way, before anything is written
    let mut args = clean_move(&t, &t.arg("out.ldif"));
    args.extend(["--changes".to_string(), t.arg("fifo.ldif")]);
    let r = run_within(30, &args);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(!t.path("out.ldif").exists(), "nothing written");
    assert!(leftovers(&t).is_empty(), "{:?}", t.names());
}

#[test]
fn two_outputs_or_an_output_and_an_input_must_differ() {
    let t = Tmp::new("safety-same");
    fixtures(&t);
    let out = t.arg("x.ldif");
    let mut args = clean_move(&t, &out);
    args.extend(["--changes".to_string(), out.clone()]);
    let r = run(&args);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.err.contains("are the same file"), "{r:?}");
    assert!(!t.path("x.ldif").exists());
    // the same file by another path, and by a hard link
    let mut args = clean_move(&t, &out);
    args.extend([
        "--changes".to_string(),
        format!("{}/./x.ldif", t.0.display()),
    ]);
    assert_eq!(run(&args).code, Some(2));
    std::fs::write(t.path("x.ldif"), "keep").unwrap();
    std::fs::hard_link(t.path("x.ldif"), t.path("hard.ldif")).unwrap();
    let mut args = clean_move(&t, &out);
    args.extend(["--changes".to_string(), t.arg("hard.ldif")]);
    let r = run(&args);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert_eq!(std::fs::read_to_string(t.path("x.ldif")).unwrap(), "keep");
    // --fixes is one of the outputs too: not over another output, nor over an input
    for other in [t.arg("y.ldif"), t.arg("src.ldif")] {
        let mut args = clean_move(&t, &t.arg("y.ldif"));
        args.extend(["--fixes".to_string(), other]);
        let r = run(&args);
        assert_eq!(r.code, Some(2), "{r:?}");
        assert!(r.err.contains("--fixes"), "{r:?}");
        assert!(!t.path("y.ldif").exists());
    }
    // an output over an input
    let r = run(&clean_move(&t, &t.arg("src.ldif")));
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.err.contains("--out") && r.err.contains("--from"), "{r:?}");
    // distinct outputs are fine
    let mut args = clean_move(&t, &out);
    args.extend(["--changes".to_string(), t.arg("changes.ldif")]);
    let r = run(&args);
    assert_eq!(r.code, Some(0), "{r:?}");
}

#[test]
fn inputs_must_be_regular_files() {
    let t = Tmp::new("safety-inputs");
    fixtures(&t);
    t.fifo("fifo.ldif");
    let mut a = vec!["move-domain".to_string()];
    a.extend(args(&t, "fifo.ldif", "dst.ldif", "company.com", "out.ldif"));
    let r = run_within(30, &a);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.err.contains("a FIFO, not a regular file"), "{r:?}");
    let r = run_within(
        30,
        &["route", "decide", &t.arg("fifo.ldif"), "a@example.com"],
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.err.contains("not a regular file"), "{r:?}");
    // --addrs is streamed (a FIFO works), with lines bounded: a /dev/zero stand-in fails fast
    std::fs::write(t.path("zeros"), vec![0u8; 1 << 20]).unwrap();
    let r = run_within(
        30,
        &[
            "route",
            "decide",
            "tests/scenarios/data/zsec.ldif",
            "--addrs",
            &t.arg("zeros"),
        ],
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.err.contains("a line longer than 65536 bytes"), "{r:?}");
    let r = run_within(30, &["route", "check", &t.arg("fifo.ldif")]);
    assert_eq!(r.code, Some(2), "{r:?}");
    // a scenario whose `ldif =` is a FIFO
    std::fs::write(
        t.path("s.toml"),
        "name = \"fifo\"\n[[directory]]\nname = \"d\"\nldif = \"fifo.ldif\"\n",
    )
    .unwrap();
    let r = run_within(30, &["route", "check", &t.arg("s.toml")]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(
        r.err.contains("directory.ldif") && r.err.contains("fifo.ldif: not a regular file"),
        "{r:?}"
    );
}

#[test]
fn password_files_are_bounded_and_regular() {
    let t = Tmp::new("safety-pw");
    t.fifo("pw-fifo");
    std::fs::write(t.path("pw-big"), vec![b'x'; 1 << 20]).unwrap();
    std::fs::write(t.path("changes.ldif"), "dn: cn=x\nchangetype: delete\n").unwrap();
    for (pw, want) in [
        ("pw-fifo", "a FIFO, not a regular file"),
        ("pw-big", "larger than 4096 bytes"),
    ] {
        // no server is ever contacted: the password is read first
        let common = [
            "--url",
            "ldap://127.0.0.1:1",
            "--bind-dn",
            "cn=admin",
            "--password-file",
        ];
        let r = run_within(
            30,
            &[
                &["export-domain"][..],
                &common,
                &[&t.arg(pw), "--domain", "example.com"],
            ]
            .concat(),
        );
        assert_eq!(r.code, Some(2), "{pw}: {r:?}");
        assert!(r.err.contains(want), "{pw}: {r:?}");
        let r = run_within(
            30,
            &[
                &["apply"][..],
                &common,
                &[&t.arg(pw), &t.arg("changes.ldif")],
            ]
            .concat(),
        );
        assert_eq!(r.code, Some(2), "{pw}: {r:?}");
        assert!(r.err.contains(want), "{pw}: {r:?}");
    }
}

#[test]
fn untrusted_bytes_are_escaped_in_human_output() {
    let t = Tmp::new("safety-escape");
    // an LDIF whose DN carries ESC, BEL, CR and a newline (base64), then a syntax error
    let dn = "uid=\x1b[2J\x07evil\r\nconflicts: none,dc=x";
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, dn);
    std::fs::write(
        t.path("evil.ldif"),
        format!("dn:: {b64}\nuid: x\nbad line without colon\n"),
    )
    .unwrap();
    let r = run(&["ldif", "check", &t.arg("evil.ldif")]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.err
            .ends_with("(dn: uid=\\x1b[2J\\x07evil\\x0d\\x0aconflicts: none,dc=x)\n"),
        "{r:?}"
    );
    assert_eq!(r.err.lines().count(), 1, "{r:?}");
    assert!(!r.err.contains('\x1b') && !r.err.contains('\x07') && !r.err.contains('\r'));

    // a file name with controls, named by a scenario's `ldif =`
    let name = "dir\x1b]0;owned\x07\n.ldif";
    std::fs::write(
        t.path("s.toml"),
        format!(
            "name = \"x\"\n[[directory]]\nname = \"d\"\nldif = \"{}\"\n",
            toml_escape(name)
        ),
    )
    .unwrap();
    let r = run(&["route", "check", &t.arg("s.toml")]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.err.contains("dir\\x1b]0;owned\\x07\\x0a.ldif"), "{r:?}");
    assert_eq!(r.err.lines().count(), 1, "{r:?}");

    // an address with controls in a trace (refused: no SMTP client could send it) and a
    // decision
    let r = run(&[
        "route",
        "trace",
        "tests/scenarios/split_domain_example1.toml",
        "a\x1b[31m@yyy.state.xx.us",
    ]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(
        !r.err.contains('\x1b') && r.err.contains("invalid recipient \"a\\u{1b}[31m@"),
        "{r:?}"
    );
    let r = run(&[
        "route",
        "decide",
        "tests/scenarios/data/zsec.ldif",
        "x\r\nfake -> line@example.com",
    ]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.out.lines().count(), 1, "{r:?}");
    assert!(
        r.out.starts_with("x\\x0d\\x0afake -> line@example.com -> "),
        "{r:?}"
    );

    // --map-host values with controls are refused, and the refusal is escaped
    fixtures(&t);
    let (code, _, err) = run_move(
        &t,
        "src.ldif",
        "dst.ldif",
        "company.com",
        &["--map-host", "old.example.net=new\x1b[8m.example.org"],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(!err.contains('\x1b'), "{err}");
    assert!(err.contains("control characters"), "{err}");

    // a value with a line break and ESC (a mail host, base64 in the dump) reaches the report
    // escaped: no forged "conflicts: none" line, no raw ESC
    let src = std::fs::read_to_string(t.path("src.ldif")).unwrap();
    let evil_host = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        "old.example.net\nconflicts: none\x1b[2J",
    );
    let forged = src.replacen(
        "zimbraMailHost: old.example.net\n",
        &format!("zimbraMailHost:: {evil_host}\n"),
        1,
    );
    assert_ne!(forged, src);
    std::fs::write(t.path("forged.ldif"), forged).unwrap();
    let (code, out, err) = run_move(&t, "forged.ldif", "dst.ldif", "company.com", &[]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(!out.contains('\x1b'), "{out}");
    assert!(
        out.lines().all(|l| !l.starts_with("conflicts: none")),
        "a forged line: {out}"
    );
    assert!(
        out.contains("old.example.net\\x0aconflicts: none\\x1b[2j"),
        "{out}"
    );

    // a move whose source holds such a DN: the LDIF error names the file, escaped
    write_dir(&t.path("dst.ldif"), 2, "cd other.org");
    let (code, _, err) = run_move(&t, "evil.ldif", "dst.ldif", "company.com", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.starts_with(&format!("move-domain: {}:3: error: ", t.arg("evil.ldif"))),
        "{err}"
    );
    assert!(!err.contains('\x1b') && err.lines().count() == 1, "{err}");
}

/// A TOML basic-string body for `s` (controls as `\uXXXX`).
fn toml_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                format!("\\u{:04X}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[test]
fn an_interrupted_run_leaves_no_temporary_file() {
    use std::io::Write;
    use std::process::Stdio;
    let t = Tmp::new("safety-signal");
    std::fs::write(t.path("out.ldif"), "the previous output\n").unwrap();
    for signal in ["TERM", "INT", "HUP"] {
        // `ldif fmt --out` reading a pipe that stays open: the temporary file exists and waits
        let mut child = crate::bin()
            .args(["ldif", "fmt", "--out", &t.arg("out.ldif"), "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"dn: dc=example,dc=com\nobjectClass: domain\ndc: example\n\n")
            .unwrap();
        let start = std::time::Instant::now();
        while leftovers(&t).is_empty() {
            assert!(start.elapsed().as_secs() < 30, "no temporary file appeared");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let killed = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let o = child.wait_with_output().unwrap();
        drop(stdin);
        assert_eq!(o.status.code(), Some(130), "{signal}: {o:?}");
        assert!(leftovers(&t).is_empty(), "{signal}: {:?}", t.names());
        assert_eq!(
            std::fs::read_to_string(t.path("out.ldif")).unwrap(),
            "the previous output\n"
        );
    }
}
