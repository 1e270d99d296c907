//! `--help` on every subcommand, bad arguments, `schema`, `completions`, closed pipes and the
//! progress bar on a terminal.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::{run, spawn, Tmp};

/// Every subcommand, as its words.
const SUBCOMMANDS: &[&[&str]] = &[
    &[],
    &["ldif"],
    &["ldif", "check"],
    &["ldif", "fmt"],
    &["ldif", "stats"],
    &["route"],
    &["route", "trace"],
    &["route", "check"],
    &["route", "decide"],
    &["route", "verify"],
    &["route", "plan"],
    &["route", "diff"],
    &["move-domain"],
    &["export-domain"],
    &["apply"],
    &["schema"],
    &["completions"],
];

#[test]
fn every_subcommand_has_help_and_refuses_unknown_options() {
    for words in SUBCOMMANDS {
        let r = run(&[*words, &["--help"]].concat());
        assert_eq!(r.code, Some(0), "{words:?}: {r:?}");
        let usage = ["Usage: zimbra-prov"]
            .iter()
            .chain(words.iter())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(r.out.contains(&usage), "{words:?}: {}", r.out);
        assert_eq!(r.err, "");
        let r = run(&[*words, &["--no-such-option"]].concat());
        assert_eq!(r.code, Some(2), "{words:?}: {r:?}");
        assert!(
            r.err
                .starts_with("error: unexpected argument '--no-such-option'"),
            "{words:?}: {}",
            r.err
        );
    }
    // the contracts are in the help texts
    let r = run(&["move-domain", "--help"]);
    assert!(
        r.out.contains("Exit 0 when OUT (and CHANGES) were written"),
        "{}",
        r.out
    );
    assert!(r.out.contains("symbolic link"), "{}", r.out);
    let r = run(&["route", "verify", "--help"]);
    assert!(
        r.out
            .contains("Exit 1 when there is a `loop`, `lost` or `silent` finding"),
        "{}",
        r.out
    );
    // no arguments: the help, as a usage error
    let r = run::<&str>(&[]);
    assert_eq!(r.code, Some(2));
    assert!(r.err.contains("Usage: zimbra-prov <COMMAND>"), "{r:?}");
    let r = run(&["--version"]);
    assert_eq!(r.code, Some(0));
    assert_eq!(
        r.out,
        format!("zimbra-prov {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn schema_prints_the_crates_openldap_schema() {
    let r = run(&["schema"]);
    assert_eq!(r.code, Some(0));
    assert_eq!(r.out, zimbra_prov::attrs::openldap_schema());
    assert!(r.out.contains("NAME 'amavisAccount'"));
    assert_eq!(run(&["schema", "extra"]).code, Some(2));
}

#[test]
fn completions_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F _zimbra__prov"),
        ("zsh", "#compdef zimbra-prov"),
        ("fish", "complete -c zimbra-prov"),
        ("elvish", "zimbra-prov"),
        ("powershell", "zimbra-prov"),
    ] {
        let r = run(&["completions", shell]);
        assert_eq!(r.code, Some(0), "{shell}: {r:?}");
        assert!(
            r.out.contains(marker),
            "{shell}: {}",
            &r.out[..200.min(r.out.len())]
        );
        assert!(r.out.contains("move-domain"), "{shell}");
    }
    assert!(run(&["completions", "bash"]).out.contains("--map-host"));
    // bash loads the script and completes with it
    let t = Tmp::new("completions");
    std::fs::write(t.path("zp.bash"), run(&["completions", "bash"]).out).unwrap();
    let script = format!(
        "source {}; COMP_WORDS=(zimbra-prov mo); COMP_CWORD=1; _zimbra__prov zimbra-prov mo zimbra-prov; \
         echo \"${{COMPREPLY[@]}}\"; COMP_WORDS=(zimbra-prov route ve); COMP_CWORD=2; \
         _zimbra__prov zimbra-prov ve route; echo \"${{COMPREPLY[@]}}\"",
        t.arg("zp.bash")
    );
    let o = std::process::Command::new("bash")
        .args(["--norc", "-c", &script])
        .output()
        .expect("bash runs");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "move-domain\nverify\n",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(run(&["completions", "tcsh"]).code, Some(2));
    assert_eq!(run(&["completions"]).code, Some(2));
}

/// Runs the tool, reads one line of its output and closes the pipe: the tool must end
/// quietly with status 141, never with an error message.
fn closed_pipe(args: &[&str]) {
    let mut child = spawn(args);
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("one line");
    assert!(!first.is_empty(), "{args:?}");
    // dropping the reader closed the pipe
    let o = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(141), "{args:?}: {err}");
    assert_eq!(err, "", "{args:?}");
}

#[test]
fn a_closed_pipe_ends_the_tool_quietly() {
    let t = Tmp::new("pipe");
    // output far larger than a pipe's buffer
    closed_pipe(&["schema"]);
    let addrs: String = (0..20_000)
        .map(|i| format!("user{i}@example.com\n"))
        .collect();
    std::fs::write(t.path("addrs"), addrs).unwrap();
    closed_pipe(&[
        "route",
        "decide",
        "tests/scenarios/data/zsec.ldif",
        "--addrs",
        &t.arg("addrs"),
    ]);
    let mut big = String::new();
    for i in 0..5_000 {
        big.push_str(&format!(
            "dn: uid=u{i},dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: u{i}\ncn: User {i}\nsn: U\n\n"
        ));
    }
    std::fs::write(t.path("big.ldif"), &big).unwrap();
    closed_pipe(&["ldif", "fmt", &t.arg("big.ldif")]);
    // one line per file, written as soon as the file is checked
    let files: Vec<String> = (0..3).map(|_| t.arg("big.ldif")).collect();
    let mut args = vec!["ldif", "check"];
    args.extend(files.iter().map(String::as_str));
    closed_pipe(&args);
}

#[test]
fn progress_bar_only_on_a_terminal() {
    // `script` gives the tool a terminal; without util-linux's script, nothing to check here
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no script(1)");
        return;
    }
    let t = Tmp::new("progress");
    let mut big = String::new();
    for i in 0..200_000 {
        big.push_str(&format!(
            "dn: uid=u{i},dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: u{i}\ncn: User {i}\nsn: U\n\n"
        ));
    }
    std::fs::write(t.path("big.ldif"), &big).unwrap();
    let cmd = format!(
        "{} ldif stats {} >{}",
        env!("CARGO_BIN_EXE_zimbra-prov"),
        t.arg("big.ldif"),
        t.arg("stats.out")
    );
    let o = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &cmd, &t.arg("typescript")])
        .stdin(Stdio::null())
        .output()
        .expect("script runs");
    assert!(o.status.success(), "{o:?}");
    let terminal = std::fs::read(t.path("typescript")).unwrap_or_default();
    let terminal = String::from_utf8_lossy(&terminal);
    assert!(
        terminal.contains("big.ldif") && terminal.contains("MiB"),
        "a bar on the terminal: {terminal:?}"
    );
    let stats = std::fs::read_to_string(t.path("stats.out")).unwrap();
    assert!(stats.contains("entries: 200000\n"), "{stats}");
    assert!(!stats.contains('\x1b'), "the bar never reaches stdout");
    // redirected stderr: no bar
    let r = run(&["ldif", "stats", &t.arg("big.ldif")]);
    assert_eq!(r.err, "");
}
