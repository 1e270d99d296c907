//! An apply whose connection is cut mid-way (issue 14.5), against a real slapd behind a TCP
//! proxy of the test's own. The proxy relays one connection request by request and cuts it
//! at a chosen request, either after the server has applied it and answered (the answer is
//! dropped: "server applied it, answer lost") or before forwarding it (never applied). Either
//! way the operation's outcome is unknown to the client; the report must say so (not FAILED),
//! and resuming — from the report, or from the plan alone by re-reading the target — must
//! find exactly how far the plan got and finish it, so that the subtree ends up as an uncut
//! apply of the same plan leaves it.
//!
//! Needs Debian's slapd; without it the test fails unless `ZIMBRA_PROV_SKIP_SERVICES=1`.
#![cfg(feature = "ldap")]

#[path = "support/slapd.rs"]
mod slapd;

#[path = "support/live.rs"]
mod live;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::Duration;

use live::{base_entries, canon, dn, entry, example_com, slapcat_entries, Canon, Slapd};
#[cfg(feature = "cli")]
use live::{run, tool, ADMIN, PASSWORD};
use slapd::{SLAPADD, SLAPCAT, SLAPD};
use zimbra_prov::dn::Rdn;
use zimbra_prov::ldap::{ConnectOptions, LdapSink, Operation, Plan};
use zimbra_prov::ldif::{Attr, Change, ChangeOp, Entry, ModOp, Modification};

/// Where the proxy cuts the connection at the chosen request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// After forwarding it and reading the server's answer, which is dropped.
    AfterServerAnswered,
    /// Before forwarding it.
    BeforeForwarding,
}

/// One complete BER element (an LDAPMessage) from `s`.
fn read_message(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = [0u8; 2];
    s.read_exact(&mut head)?;
    let mut msg = head.to_vec();
    let len = if head[1] & 0x80 == 0 {
        usize::from(head[1])
    } else {
        let n = usize::from(head[1] & 0x7f);
        let mut b = vec![0u8; n];
        s.read_exact(&mut b)?;
        msg.extend_from_slice(&b);
        b.iter().fold(0usize, |a, &x| a << 8 | usize::from(x))
    };
    let start = msg.len();
    msg.resize(start + len, 0);
    s.read_exact(&mut msg[start..])?;
    Ok(msg)
}

/// The protocolOp tag of an LDAPMessage (after its messageID).
fn op_tag(msg: &[u8]) -> Option<u8> {
    let hdr = if msg.get(1)? & 0x80 == 0 {
        2
    } else {
        2 + usize::from(msg.get(1)? & 0x7f)
    };
    let id_len = usize::from(*msg.get(hdr + 1)?);
    msg.get(hdr + 2 + id_len).copied()
}

/// Relays one connection to `upstream` in lockstep (each request gets exactly one answer,
/// an unbind none) and cuts it at request number `cut` (1 = the bind).
fn proxy(upstream: u16, cut: usize, how: Cut) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("proxy listen");
    let port = listener.local_addr().expect("proxy addr").port();
    let handle = std::thread::spawn(move || {
        let Ok((mut client, _)) = listener.accept() else {
            return;
        };
        let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else {
            return;
        };
        for s in [&client, &server] {
            let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        }
        let close = |a: &TcpStream, b: &TcpStream| {
            let _ = a.shutdown(Shutdown::Both);
            let _ = b.shutdown(Shutdown::Both);
        };
        for n in 1.. {
            let Ok(request) = read_message(&mut client) else {
                break;
            };
            if n == cut && how == Cut::BeforeForwarding {
                break;
            }
            if server.write_all(&request).is_err() || op_tag(&request) == Some(0x42) {
                break; // unbind: no answer
            }
            let Ok(answer) = read_message(&mut server) else {
                break;
            };
            if n == cut || client.write_all(&answer).is_err() {
                break;
            }
        }
        close(&client, &server);
    });
    (port, handle)
}

const DOMAIN: &str = "dc=example,dc=com";

fn subtree(name: &str) -> String {
    format!("ou={name},{DOMAIN}")
}

/// The fixture: a domain and one subtree per scenario (and one for the reference run), each
/// with the entry the plan modifies, moves and modifies again.
fn fixture(names: &[String]) -> Vec<Entry> {
    let mut out = base_entries();
    out.extend(example_com());
    for name in names {
        let base = subtree(name);
        out.push(entry(
            &base,
            &[
                ("objectClass", b"organizationalUnit"),
                ("ou", name.as_bytes()),
            ],
        ));
        out.push(entry(
            &format!("uid=b,{base}"),
            &[
                ("objectClass", b"inetOrgPerson"),
                ("uid", b"b"),
                ("cn", b"B"),
                ("sn", b"B"),
                ("description", b"old"),
                ("mail", b"b@example.com"),
            ],
        ));
    }
    out
}

/// Every kind of operation, on the scenario's subtree.
fn plan(name: &str) -> Plan {
    let base = subtree(name);
    let a = format!("uid=a,{base}");
    let b = format!("uid=b,{base}");
    let modify = |d: &str, op: ModOp, attr: &str, values: &[&str]| {
        Change::new(
            dn(d),
            ChangeOp::Modify(vec![Modification {
                op,
                attribute: attr.to_string(),
                values: values.iter().map(|v| v.as_bytes().to_vec()).collect(),
            }]),
        )
    };
    let changes = vec![
        Change::new(
            dn(&a),
            ChangeOp::Add(
                [
                    ("objectClass", "inetOrgPerson"),
                    ("uid", "a"),
                    ("cn", "A"),
                    ("sn", "A"),
                ]
                .iter()
                .map(|(n, v)| Attr::new(*n, *v))
                .collect(),
            ),
        ),
        modify(&a, ModOp::Add, "mail", &["a@example.com"]),
        modify(&b, ModOp::Delete, "mail", &["b@example.com"]),
        modify(&b, ModOp::Replace, "description", &["new"]),
        Change::new(
            dn(&b),
            ChangeOp::ModDn {
                new_rdn: Rdn::parse("uid=b2").expect("rdn"),
                delete_old_rdn: true,
                new_superior: None,
            },
        ),
        modify(&format!("uid=b2,{base}"), ModOp::Delete, "description", &[]),
        Change::new(dn(&a), ChangeOp::Delete),
    ];
    Plan::new(changes).unwrap_or_else(|e| panic!("{e}"))
}

/// The subtree of `name` in `all`, with its name replaced so that subtrees compare.
fn part(all: &Canon, name: &str) -> Canon {
    let suffix = format!("ou={name},{DOMAIN}").to_ascii_lowercase();
    all.iter()
        .filter(|(d, _)| d.ends_with(&suffix))
        .map(|(d, attrs)| {
            let mut attrs = attrs.clone();
            attrs.remove("ou");
            (d.replace(&suffix, "SUBTREE"), attrs)
        })
        .collect()
}

fn indices(ops: &[Operation]) -> Vec<usize> {
    ops.iter().map(|o| o.index).collect()
}

#[test]
fn a_cut_connection_is_reported_unknown_and_resumed_exactly() {
    if !slapd::tools_or_skip(&[SLAPD, SLAPADD, SLAPCAT]) {
        return;
    }
    // the operation cut: the add, a value delete, the modrdn, the delete
    let cuts = [0usize, 2, 4, 6];
    let hows = [Cut::AfterServerAnswered, Cut::BeforeForwarding];
    let mut names = vec!["reference".to_string()];
    for i in cuts {
        for how in hows {
            names.push(format!("cut{i}-{how:?}"));
        }
    }
    let slapd = Slapd::start("resume", &fixture(&names));
    let options = |url: String| {
        let mut o: ConnectOptions = slapd.options();
        o.url = url;
        o.timeouts(Duration::from_secs(5), Duration::from_secs(10))
    };

    let mut sink = LdapSink::connect(&slapd.options()).unwrap_or_else(|e| panic!("{e}"));
    let report = sink.apply(plan("reference"), |_| {});
    assert!(report.is_complete(), "{report}");
    let reference = part(&canon(&slapcat_entries(&slapd.conf)), "reference");
    let n = plan("reference").len();

    for i in cuts {
        for how in hows {
            let name = format!("cut{i}-{how:?}");
            let scenario = format!("{name} (cut at #{})", i + 1);
            let before = part(&slapd.slapcat(), &name);
            // request 1 is the bind, operation i is request i + 2
            let (port, proxy) = proxy(slapd.port, i + 2, how);
            let mut cut_sink = LdapSink::connect(&options(format!("ldap://127.0.0.1:{port}")))
                .unwrap_or_else(|e| panic!("{scenario}: {e}"));
            let report = cut_sink.apply(plan(&name), |_| {});
            drop(cut_sink);
            let _ = proxy.join();

            // unknown, not FAILED: the prefix before it applied, the rest never sent
            assert!(report.failed.is_none(), "{scenario}: {report}");
            let unknown = report.unknown.as_ref().expect("an unknown outcome");
            assert_eq!(unknown.operation.index, i, "{scenario}: {report}");
            assert_eq!(indices(&report.applied), (0..i).collect::<Vec<_>>());
            assert_eq!(indices(&report.not_applied), (i + 1..n).collect::<Vec<_>>());
            let text = report.to_string();
            assert!(
                text.contains(&format!("UNKNOWN      #{} ", i + 1)) && text.contains("--resume"),
                "{scenario}: {text}"
            );
            assert!(!text.contains("FAILED"), "{scenario}: {text}");
            let applied = i + usize::from(how == Cut::AfterServerAnswered);

            // from the plan alone: the target says how far it got
            let mut sink = LdapSink::connect(&slapd.options()).unwrap_or_else(|e| panic!("{e}"));
            let fresh = sink
                .resume(plan(&name))
                .unwrap_or_else(|e| panic!("{scenario}: {e}"));
            assert_eq!(
                indices(&fresh.done),
                (0..applied).collect::<Vec<_>>(),
                "{scenario}: {fresh}"
            );
            // from the report: the same answer
            let resume = sink
                .resume_after(report)
                .unwrap_or_else(|e| panic!("{scenario}: {e}"));
            assert_eq!(indices(&resume.done), indices(&fresh.done), "{scenario}");
            assert_eq!(
                indices(resume.remaining.operations()),
                (applied..n).collect::<Vec<_>>()
            );
            assert!(resume
                .to_string()
                .starts_with(&format!("resume: {applied} of {n} operations already")));

            let finish = sink.apply(resume.remaining, |_| {});
            assert!(finish.is_complete(), "{scenario}: {finish}");
            let after = part(&slapd.slapcat(), &name);
            assert_ne!(after, before, "{scenario}");
            assert_eq!(after, reference, "{scenario}: ends as an uncut apply");
        }
    }
}

/// The same as a process: `zimbra-prov apply` through the cutting proxy reports UNKNOWN and
/// exits 1; `apply --resume` of the same file skips what is there and applies the rest.
#[cfg(feature = "cli")]
#[test]
fn apply_resume_finishes_a_cut_apply() {
    use zimbra_prov::ldif::{Record, Writer, WriterOptions};
    if !slapd::tools_or_skip(&[SLAPD, SLAPADD, SLAPCAT]) {
        return;
    }
    let names = ["reference".to_string(), "cli".to_string()];
    let slapd = Slapd::start("resume-cli", &fixture(&names));
    let mut sink = LdapSink::connect(&slapd.options()).unwrap_or_else(|e| panic!("{e}"));
    assert!(sink.apply(plan("reference"), |_| {}).is_complete());
    let reference = part(&slapd.slapcat(), "reference");

    let changes = slapd.dir.join("changes.ldif");
    let mut w = Writer::new(Vec::new(), WriterOptions::default());
    for op in plan("cli").operations() {
        w.write_record(&Record::Change(op.change.clone()))
            .expect("write change");
    }
    std::fs::write(&changes, w.into_inner().expect("flush")).expect("write changes");
    let pw = slapd.dir.join("pw");
    std::fs::write(&pw, format!("{PASSWORD}\n")).expect("password file");
    let apply = |port: u16, flags: &[&str]| {
        let mut c = tool("apply");
        c.args([
            "--url",
            &format!("ldap://127.0.0.1:{port}"),
            "--bind-dn",
            ADMIN,
        ])
        .arg("--password-file")
        .arg(&pw)
        .args(flags)
        .arg(&changes);
        run(&mut c)
    };

    // cut at the modrdn (#5), after the server applied it
    let (port, proxy) = proxy(slapd.port, 4 + 2, Cut::AfterServerAnswered);
    let (code, out, err) = apply(port, &[]);
    let _ = proxy.join();
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.starts_with("applied 4 of 7 operations, 1 unknown"),
        "{out}"
    );
    assert!(out.contains("UNKNOWN      #5 modrdn"), "{out}");

    let (code, out, err) = apply(slapd.port, &["--resume", "--dry-run"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.starts_with("resume: 5 of 7 operations already on the target (skipped), 2 to apply"),
        "{out}"
    );
    assert!(out.contains("dry run: 2 operations"), "{out}");
    assert_ne!(part(&slapd.slapcat(), "cli"), reference);

    let (code, out, err) = apply(slapd.port, &["--resume"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("applied 2 of 2 operations"), "{out}");
    assert_eq!(part(&slapd.slapcat(), "cli"), reference);

    // run again: everything is there, nothing to do
    let (code, out, err) = apply(slapd.port, &["--resume"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.starts_with("resume: 7 of 7 operations already"),
        "{out}"
    );

    // a move is planned against the target: --resume does not apply to it
    let (code, _, err) = run(tool("apply")
        .args(["--url", &slapd.url(), "--bind-dn", ADMIN, "--password-file"])
        .arg(&pw)
        .args(["--resume", "--move-from", "x.ldif", "--domain", "x"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("'--resume' cannot be used with '--move-from"),
        "{err}"
    );
}
