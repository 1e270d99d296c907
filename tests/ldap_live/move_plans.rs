//! Move plans made offline (`dit::plan_move`) and applied to the live server: the result equals
//! the offline slapadd route, a failure in the middle reports the exact prefix applied, a plan
//! with conflicts is refused before any operation.

use super::*;

const GOLD_SRC: &str = "6a0d0c2e-1111-4111-8111-000000000001";
const SILVER_SRC: &str = "6a0d0c2e-1111-4111-8111-000000000002";

/// The source installation of the move tests, built with the crate's zmprov and written as
/// `dit` writes a directory for slapadd: company.com on mbx1.old.net, accounts in COS gold
/// (the target has one of that name: mapped) and silver (the target lacks it: copied), an
/// alias and a list; other.org stays behind. Returned as the `slapcat` of that directory.
fn move_source_ldif() -> Vec<u8> {
    let mut d = Directory::new();
    d.ids = IdGenerator::new(11);
    zmprov::run(
        &mut d,
        &format!(
            "cs mbx1.old.net\n\
             cc gold zimbraId {GOLD_SRC} zimbraMailQuota 1024\n\
             cc silver zimbraId {SILVER_SRC} zimbraMailQuota 512\n\
             cd company.com zimbraDomainDefaultCOSId {GOLD_SRC}\n\
             cd other.org\n\
             ca alice@company.com pw displayName Alice\n\
             ca bob@company.com pw zimbraCOSId {SILVER_SRC}\n\
             ca carol@company.com pw\n\
             ca dave@company.com pw description Dave\n\
             ca erin@other.org pw\n\
             aaa alice@company.com al@company.com\n\
             cdl team@company.com\n\
             adlm team@company.com alice@company.com bob@company.com erin@other.org\n"
        ),
    )
    .expect("source script");
    let mut out = Vec::new();
    dit::write_directory(&d, &mut out, &WriteOptions::slapadd()).expect("write source");
    // Through slapadd and slapcat, as a real source dump is: with entryUUID, entryCSN,
    // createTimestamp and the rest, which an LDAP add may not set.
    let (dir, conf) = temp_config("move-src");
    let _cleanup = TempDir(dir.clone());
    std::fs::write(dir.join("source.ldif"), &out).expect("write source.ldif");
    slapd::offline(SLAPADD, &conf, &dir.join("source.ldif"));
    let dump = ldif_bytes(&slapcat_entries(&conf));
    assert!(dump.windows(10).any(|w| w == b"entryUUID:"));
    dump
}

/// The target of the move tests: the live fixture plus `lists.migrate.company.com`, so
/// `dc=migrate,dc=company,dc=com` exists as a plain parent entry and the renamed domain is
/// merged into it by a change record (what Zimbra's createDomain does).
fn move_target() -> Vec<Entry> {
    let mut t = directory();
    t.push(entry(
        "dc=company,dc=com",
        &[
            ("objectClass", b"dcObject"),
            ("objectClass", b"organization"),
            ("dc", b"company"),
            ("o", b"company"),
        ],
    ));
    t.push(entry(
        "dc=migrate,dc=company,dc=com",
        &[
            ("objectClass", b"dcObject"),
            ("objectClass", b"organization"),
            ("dc", b"migrate"),
            ("o", b"migrate"),
        ],
    ));
    t.push(entry(
        "dc=lists,dc=migrate,dc=company,dc=com",
        &[
            ("objectClass", b"dcObject"),
            ("objectClass", b"organization"),
            ("objectClass", b"zimbraDomain"),
            ("dc", b"lists"),
            ("o", b"lists.migrate.company.com domain"),
            ("zimbraId", b"9a0b1c2d-3e4f-4a5b-8c6d-0000000000ff"),
            ("zimbraDomainName", b"lists.migrate.company.com"),
            ("zimbraDomainType", b"local"),
            ("zimbraDomainStatus", b"active"),
        ],
    ));
    t
}

/// `--rename migrate.company.com --map-host mbx1.old.net=mail1.example.com`.
fn move_options() -> MoveOptions {
    MoveOptions {
        rename: Some("migrate.company.com".into()),
        map_hosts: vec![("mbx1.old.net".into(), "mail1.example.com".into())],
        ..MoveOptions::default()
    }
}

/// Attributes each server generates for itself; everything else must agree.
/// The move of company.com out of the source LDIF, planned against the target's LDIF.
fn plan_offline(src: &[u8], target: &[Entry], opts: &MoveOptions) -> MovePlan {
    dit::plan_move_ldif(src, &ldif_bytes(target)[..], "company.com", opts)
        .unwrap_or_else(|e| panic!("plan against the target's LDIF: {e}"))
}

const SERVER_GENERATED: &[&str] = &[
    "entryuuid",
    "entrycsn",
    "createtimestamp",
    "modifytimestamp",
    "creatorsname",
    "modifiersname",
];

/// Like [`canon`], but keeping structuralObjectClass (both routes compute it the same way).
fn canon_all(entries: &[Entry]) -> Canon {
    let mut out = Canon::new();
    for e in entries {
        let attrs = out.entry(e.dn.normalized().to_string()).or_default();
        for (d, v) in e.iter() {
            let d = d.to_ascii_lowercase();
            if !SERVER_GENERATED.contains(&d.as_str()) {
                attrs.entry(d).or_default().insert(v.to_vec());
            }
        }
    }
    out
}

/// A temp dir removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The offline route: `target` slapadd-ed into a fresh mdb, then the plan's slapadd LDIF,
/// then its change records with slapmodify; slapcat of the result.
fn offline_route(tag: &str, target: &[Entry], plan: &MovePlan) -> Vec<Entry> {
    let (dir, conf) = temp_config(tag);
    let _cleanup = TempDir(dir.clone());
    write_ldif(&dir.join("target.ldif"), target);
    slapd::offline(SLAPADD, &conf, &dir.join("target.ldif"));
    let mut adds = Vec::new();
    plan.write_ldif(&mut adds).expect("plan LDIF");
    std::fs::write(dir.join("move.ldif"), &adds).expect("write move.ldif");
    slapd::offline(SLAPADD, &conf, &dir.join("move.ldif"));
    if !plan.changes.is_empty() {
        let mut changes = Vec::new();
        plan.write_changes(&mut changes).expect("plan changes");
        std::fs::write(dir.join("changes.ldif"), &changes).expect("write changes.ldif");
        slapd::offline(SLAPMODIFY, &conf, &dir.join("changes.ldif"));
    }
    slapcat_entries(&conf)
}

fn assert_same_entries(live: &Canon, offline: &Canon) {
    let l: BTreeSet<&String> = live.keys().collect();
    let o: BTreeSet<&String> = offline.keys().collect();
    assert_eq!(l, o, "entry sets differ");
    for (dn, attrs) in live {
        assert_eq!(Some(attrs), offline.get(dn), "{dn} differs");
    }
}

#[test]
fn a_move_plan_applied_live_equals_the_offline_slapadd_route() {
    if !slapd::tools_or_skip(&[SLAPD, SLAPADD, SLAPCAT, SLAPMODIFY]) {
        return;
    }
    let target = move_target();
    let slapd = Slapd::start("move", &target);
    let src = move_source_ldif();
    let opts = move_options();

    // Planned against the live target, streamed from the server (paged) into dit's planner.
    let live_target = source(&slapd, 7).entries(Export::Tree, |_| {});
    let plan = read_entries(live_target, |it| {
        dit::plan_move(
            EntryReader::new(&src[..]),
            it.map(|e| Ok(to_raw_entry(e))),
            "company.com",
            &opts,
        )
    })
    .unwrap_or_else(|e| panic!("plan against the live target: {e}"));
    let from_ldif = plan_offline(&src, &target, &opts);
    assert_eq!(plan, from_ldif, "live and LDIF targets plan the same move");
    assert!(plan.is_clean(), "{plan}");
    assert_eq!(plan.new_domain, "migrate.company.com");
    assert_eq!(plan.changes.len(), 1, "the merge into dc=migrate: {plan}");
    let entries = plan.entries.to_vec().expect("entries");
    assert!(entries.iter().any(|e| e.dn == "cn=silver,cn=cos,cn=zimbra"));
    let alice = entries
        .iter()
        .find(|e| e.dn == "uid=alice,ou=people,dc=migrate,dc=company,dc=com")
        .expect("alice planned");
    assert_eq!(
        alice.attrs.first("zimbraMailHost"),
        Some("mail1.example.com")
    );

    let ops = Plan::from_move(&plan).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ops.len(), plan.entries.len() + plan.changes.len());
    for (op, planned) in ops.operations().iter().zip(&entries) {
        assert_eq!(op.kind(), "add");
        assert_eq!(op.change.dn.as_str(), planned.dn);
    }
    assert_eq!(ops.operations().last().map(Operation::kind), Some("modify"));

    let before = slapd.slapcat();
    let mut sink = LdapSink::connect(&slapd.options()).unwrap_or_else(|e| panic!("{e}"));
    let dry = sink.dry_run(&ops).unwrap_or_else(|e| panic!("{e}"));
    assert!(dry.warnings.is_empty(), "{dry}");
    assert_eq!(slapd.slapcat(), before, "a dry run writes nothing");
    let report = sink.apply(ops.clone(), |_| {});
    assert!(report.is_complete(), "{report}");
    assert_eq!(report.applied, ops.operations());

    let live = canon_all(&slapcat_entries(&slapd.conf));
    let offline = canon_all(&offline_route("move-offline", &target, &plan));
    assert_eq!(live.len(), target.len() + plan.entries.len());
    assert_same_entries(&live, &offline);
    let merged = live
        .get(dn("dc=migrate,dc=company,dc=com").normalized())
        .expect("merged domain");
    assert!(merged["objectclass"].contains(b"zimbraDomain".as_slice()));
    assert!(merged["zimbradomainname"].contains(b"migrate.company.com".as_slice()));
}

#[test]
fn a_move_plan_failing_in_the_middle_reports_the_exact_prefix() {
    if !slapd::tools_or_skip(&[SLAPD, SLAPADD, SLAPCAT, SLAPMODIFY]) {
        return;
    }
    let target = move_target();
    let slapd = Slapd::start("move-fail", &target);
    let src = move_source_ldif();
    let plan = plan_offline(&src, &target, &move_options());
    assert!(plan.is_clean(), "{plan}");
    let ops = Plan::from_move(&plan).unwrap_or_else(|e| panic!("{e}"));
    let n = ops.len();

    // After planning, someone creates one of the plan's entries on the target: the last
    // planned add whose parent the target already has, so it can be created on its own.
    let target_dns: BTreeSet<String> = target
        .iter()
        .map(|e| e.dn.normalized().to_string())
        .collect();
    let k = ops
        .operations()
        .iter()
        .rposition(|op| {
            op.kind() == "add"
                && op
                    .change
                    .dn
                    .parent()
                    .is_some_and(|p| target_dns.contains(p.normalized()))
        })
        .expect("an add below an existing entry");
    assert!(
        k > 0 && k + 1 < n,
        "failure must be in the middle: {k} of {n}"
    );
    let failing_dn = ops.operations()[k].change.dn.clone();
    let mut squatter = ops.operations()[k].change.clone();
    if let ChangeOp::Add(attrs) = &mut squatter.op {
        attrs.retain(|a| !a.description.eq_ignore_ascii_case("description"));
        attrs.push(Attr::new("description", "created by someone else"));
    }
    let mut sink = LdapSink::connect(&slapd.options()).unwrap_or_else(|e| panic!("{e}"));
    let pre = sink.apply(
        Plan::new(vec![squatter.clone()]).unwrap_or_else(|e| panic!("{e}")),
        |_| {},
    );
    assert!(pre.is_complete(), "{pre}");
    let before = slapd.slapcat();

    let mut sent = Vec::new();
    let report = sink.apply(ops.clone(), |op| sent.push(op.index));
    let idx = |ops: &[Operation]| ops.iter().map(|o| o.index).collect::<Vec<_>>();
    assert_eq!(idx(&report.applied), (0..k).collect::<Vec<_>>(), "{report}");
    assert_eq!(
        idx(&report.not_applied),
        (k + 1..n).collect::<Vec<_>>(),
        "{report}"
    );
    assert_eq!(
        sent,
        (0..=k).collect::<Vec<_>>(),
        "nothing sent after the failure"
    );
    let failed = report.failed.as_ref().expect("a failure");
    assert_eq!(failed.operation, ops.operations()[k]);
    let server = failed.error.server().expect("the server's answer");
    assert_eq!(
        (
            server.operation(),
            server.code(),
            server.code_name(),
            server.dn()
        ),
        ("add", 68, "entryAlreadyExists", failing_dn.as_str()),
        "{server}"
    );
    let text = report.to_string();
    assert!(
        text.starts_with(&format!("applied {k} of {n} operations")),
        "{text}"
    );
    assert!(
        text.contains(&format!("FAILED       #{} add {failing_dn}", k + 1)),
        "{text}"
    );
    assert!(text.contains("entryAlreadyExists (68)"), "{text}");

    // slapcat shows exactly the target, the squatter and the applied prefix.
    let mut expected = before;
    let prefix: Vec<Change> = ops.operations()[..k]
        .iter()
        .map(|o| o.change.clone())
        .collect();
    apply_model(&mut expected, &prefix);
    assert_eq!(slapd.slapcat(), expected);
    let squatted = &slapd.slapcat()[failing_dn.normalized()];
    assert!(squatted["description"].contains(b"created by someone else".as_slice()));
}

#[test]
fn a_move_plan_with_conflicts_is_refused_before_any_operation() {
    if !slapd::tools_or_skip(&[SLAPD, SLAPADD, SLAPCAT, SLAPMODIFY]) {
        return;
    }
    let target = move_target();
    let src = move_source_ldif();
    // Without the host map the target has no server for mbx1.old.net.
    let opts = MoveOptions {
        map_hosts: Vec::new(),
        ..move_options()
    };
    let plan = plan_offline(&src, &target, &opts);
    assert!(!plan.is_clean());
    match Plan::from_move(&plan) {
        Err(LdapError::MoveConflicts { domain, conflicts }) => {
            assert_eq!(domain, "company.com");
            assert_eq!(conflicts, plan.conflicts);
            assert!(conflicts.iter().any(|c| matches!(
                c,
                dit::Conflict::MailHostUnknown { host, .. } if host == "mbx1.old.net"
            )));
        }
        other => panic!("expected MoveConflicts, got {other:?}"),
    }
}

#[cfg(feature = "cli")]
#[test]
fn apply_move_from_plans_against_the_live_target_and_applies() {
    if !slapd::tools_or_skip(&[SLAPD, SLAPADD, SLAPCAT, SLAPMODIFY]) {
        return;
    }
    let target = move_target();
    let slapd = Slapd::start("cli-move", &target);
    let src = move_source_ldif();
    let src_file = slapd.dir.join("source.ldif");
    std::fs::write(&src_file, &src).expect("write source");
    let pw = slapd.dir.join("pw");
    std::fs::write(&pw, format!("{PASSWORD}\n")).expect("password file");
    let run = |dry: bool, map_host: bool| {
        let mut c = tool("apply");
        c.args(["--url", &slapd.url(), "--bind-dn", ADMIN, "--password-file"])
            .arg(&pw);
        if dry {
            c.arg("--dry-run");
        }
        c.arg("--move-from").arg(&src_file).args([
            "--domain",
            "company.com",
            "--rename",
            "migrate.company.com",
        ]);
        if map_host {
            c.args(["--map-host", "mbx1.old.net=mail1.example.com"]);
        }
        let o = c.output().expect("run apply");
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let before = slapd.slapcat();

    // Without the host map: refused with the conflict, nothing sent.
    let (code, out, err) = run(false, false);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.contains("conflict") && err.contains("mbx1.old.net"),
        "{err}"
    );
    assert!(out.is_empty(), "{out}");
    assert_eq!(slapd.slapcat(), before);

    let (code, out, err) = run(true, true);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.starts_with("dry run: 10 operations"), "{out}");
    assert!(
        err.contains("move of company.com as migrate.company.com"),
        "{err}"
    );
    assert_eq!(slapd.slapcat(), before);

    let (code, out, err) = run(false, true);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.starts_with("applied 10 of 10 operations"), "{out}");
    let plan = plan_offline(&src, &target, &move_options());
    assert_same_entries(
        &canon_all(&slapcat_entries(&slapd.conf)),
        &canon_all(&offline_route("cli-move-offline", &target, &plan)),
    );

    // Bad usage: a change file and --move-from together.
    let o = tool("apply")
        .args(["--url", &slapd.url(), "--bind-dn", ADMIN, "--password-file"])
        .arg(&pw)
        .arg("--move-from")
        .arg(&src_file)
        .args(["--domain", "company.com", "changes.ldif"])
        .output()
        .expect("run apply");
    assert_eq!(o.status.code(), Some(2));
}
