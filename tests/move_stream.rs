//! The streaming paths plan exactly what the whole-directory path plans: on generated
//! directories, `plan_move_file` (entries left in the source file), `plan_move_ldif` (entries in
//! an arena) and `plan_move` over entry iterators give the same plan as `plan_move_dirs` (both
//! directories whole, as typed `Directory`s) — conflicts, entries, changes, follow-ups,
//! references, ids — and write the same bytes. Plus: records as slapcat and humans write them
//! (comments, CRLF, folding, base64) are read back exactly, and a source that changed after
//! planning is refused.
//!
//! `ZIMBRA_PROV_MOVE_CASES=N` runs N generated cases (default 24).
#![cfg(feature = "proptest")]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use zimbra_prov::dit::{self, DitError, EntryReader, IdPolicy, MoveOptions, MovePlan};
use zimbra_prov::model::{Directory, IdGenerator};
use zimbra_prov::strategy::{directory, DirectorySpec};
use zimbra_prov::zmprov;

fn cases() -> u32 {
    std::env::var("ZIMBRA_PROV_MOVE_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24)
}

fn source_spec() -> DirectorySpec {
    let mut s = DirectorySpec::default().with_max_ops(32);
    s.domains = vec!["company.com".into(), "other.org".into()];
    s.alias_domains = vec!["alias.company.com".into()];
    s.servers = vec!["mbx1.old.net".into(), "mbx2.old.net".into()];
    s
}

fn target_spec() -> DirectorySpec {
    let mut s = DirectorySpec::default().with_max_ops(10);
    s.domains = vec!["existing.org".into(), "sub.company.com".into()];
    s.alias_domains = vec!["alias.existing.org".into()];
    s.servers = vec!["mbx9.new.net".into(), "mbx1.old.net".into()];
    s
}

fn replay(script: &str, seed: u64) -> Directory {
    let mut d = Directory::new();
    d.ids = IdGenerator::new(seed);
    zmprov::run(&mut d, script).unwrap_or_else(|e| panic!("{e}\n{script}"));
    d
}

/// A file in the temporary directory, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str, bytes: &[u8]) -> TempFile {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "zimbra-prov-move-stream-{}-{}-{tag}.ldif",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        TempFile(p)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn ldif(dir: &Directory) -> Vec<u8> {
    let mut out = Vec::new();
    dit::write_directory(dir, &mut out, &dit::WriteOptions::slapadd()).expect("LDIF");
    out
}

/// Everything a plan writes, as text (errors included).
fn outputs(p: &MovePlan) -> String {
    let mut s = p.to_string();
    let mut buf = Vec::new();
    match p.write_ldif(&mut buf) {
        Ok(n) => s.push_str(&format!(
            "--- {n} entries\n{}",
            String::from_utf8_lossy(&buf)
        )),
        Err(e) => s.push_str(&format!("--- {e}\n")),
    }
    buf.clear();
    if let Ok(n) = p.write_changes(&mut buf) {
        s.push_str(&format!(
            "--- {n} changes\n{}",
            String::from_utf8_lossy(&buf)
        ));
    }
    buf.clear();
    if let Ok(n) = p.write_fixes(&mut buf) {
        s.push_str(&format!("--- {n} fixes\n{}", String::from_utf8_lossy(&buf)));
    }
    s
}

/// The plan's entries, built one by one, written the way `write_ldif` did before it streamed
/// (`dit::write_entries`): `write_ldif` must give the same bytes.
fn written_like_before(p: &MovePlan) -> Result<(), TestCaseError> {
    let Ok(entries) = p.entries.to_vec() else {
        return Ok(());
    };
    let mut before = Vec::new();
    let opts = dit::WriteOptions {
        ldif: zimbra_prov::ldif::WriterOptions::slapadd_mode(),
        add_missing_parents: false,
    };
    let n = dit::write_entries(
        entries.iter().map(|e| (e.dn.as_str(), &e.attrs)),
        &mut before,
        &opts,
    );
    let mut now = Vec::new();
    if p.is_clean() {
        prop_assert_eq!(p.write_ldif(&mut now).ok(), n.ok());
        prop_assert_eq!(
            String::from_utf8_lossy(&now),
            String::from_utf8_lossy(&before)
        );
    }
    Ok(())
}

fn same(
    a: Result<MovePlan, DitError>,
    b: Result<MovePlan, DitError>,
    what: &str,
) -> Result<(), TestCaseError> {
    match (a, b) {
        (Ok(a), Ok(b)) => {
            written_like_before(&a)?;
            written_like_before(&b)?;
            prop_assert_eq!(&a, &b, "{} plans differ", what);
            prop_assert_eq!(outputs(&a), outputs(&b), "{} outputs differ", what);
        }
        (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string(), "{}", what),
        (a, b) => prop_assert!(
            false,
            "{}: {:?} vs {:?}",
            what,
            a.map(|p| p.to_string()),
            b.map(|p| p.to_string())
        ),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn streaming_paths_plan_what_the_whole_directories_plan(
        s in directory(source_spec()),
        t in directory(target_spec()),
        (rename, ids, include_servers, copy_missing_cos, include_alias_domains, map, tseed)
            in (0u8..3, 0u8..3, any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>(), 0u64..3),
    ) {
        let src = replay(&s.script, 1);
        // seed 1 gives the target the source's ids: collisions
        let tgt = replay(&t.script, if tseed == 0 { 1 } else { 1 + tseed });
        let opts = MoveOptions {
            rename: match rename {
                1 => Some("migrate.company.com".into()),
                2 => Some("sub.company.com".into()),
                _ => None,
            },
            ids: [IdPolicy::Keep, IdPolicy::RegenerateOnCollision, IdPolicy::RegenerateAll][ids as usize],
            include_servers,
            copy_missing_cos,
            include_alias_domains,
            map_hosts: if map {
                vec![("mbx1.old.net".into(), "mbx9.new.net".into()), ("mbx2.old.net".into(), "mbx9.new.net".into())]
            } else {
                Vec::new()
            },
            ..Default::default()
        };
        let whole = dit::plan_move_dirs(&src, &tgt, "company.com", &opts);
        let (sl, tl) = (ldif(&src), ldif(&tgt));
        let (sf, tf) = (TempFile::new("source", &sl), TempFile::new("target", &tl));
        let file = dit::plan_move_file(&sf.0, &tf.0, "company.com", &opts);
        let ldif_plan = dit::plan_move_ldif(&sl[..], &tl[..], "company.com", &opts);
        let iter_plan = dit::plan_move(EntryReader::new(&sl[..]), EntryReader::new(&tl[..]), "company.com", &opts);
        same(ldif_plan, dit::plan_move_dirs(&src, &tgt, "company.com", &opts), "ldif vs whole")?;
        same(iter_plan, dit::plan_move_dirs(&src, &tgt, "company.com", &opts), "iterators vs whole")?;
        same(file, whole, "file vs whole")?;
    }
}

/// A hand-written source: a version line, comments, CRLF line ends, folded lines, base64
/// values and DN, an entry of another domain between the moved ones.
const SOURCE: &str = "version: 1\r\n\
# exported by hand\r\n\
dn: dc=company,dc=com\r\n\
objectClass: dcObject\r\n\
objectClass: organization\r\n\
objectClass: zimbraDomain\r\n\
dc: company\r\n\
o: company.com domain\r\n\
zimbraDomainName: company.com\r\n\
zimbraDomainType: local\r\n\
zimbraId: 11111111-1111-4111-8111-111111111111\r\n\
\r\n\
dn: dc=other,dc=org\r\n\
objectClass: dcObject\r\n\
objectClass: organization\r\n\
objectClass: zimbraDomain\r\n\
dc: other\r\n\
zimbraDomainName: other.org\r\n\
zimbraId: 33333333-3333-4333-8333-333333333333\r\n\
\r\n\
# bob, with a folded signature\r\n\
dn:: dWlkPWJvYixvdT1wZW9wbGUsZGM9Y29tcGFueSxkYz1jb20=\r\n\
objectClass: inetOrgPerson\r\n\
objectClass: zimbraAccount\r\n\
uid: bob\r\n\
mail: bob@company.com\r\n\
zimbraMailDeliveryAddress: bob@company.com\r\n\
cn:: Qm9iIE3DvGxsZXI=\r\n\
zimbraPrefMailSignature: a long signature that is folded over two lines by the\r\n\
\x20 exporting tool, as slapcat does\r\n\
zimbraId: 22222222-2222-4222-8222-222222222222\r\n\
mail: robert@company.com\r\n\
\r\n\
\r\n\
dn: uid=carol,ou=people,dc=other,dc=org\r\n\
objectClass: zimbraAccount\r\n\
uid: carol\r\n\
zimbraMailDeliveryAddress: carol@other.org\r\n\
zimbraMailForwardingAddress: robert@company.com\r\n\
zimbraId: 44444444-4444-4444-8444-444444444444\r\n\
\r\n\
dn: uid=amy,ou=people,dc=company,dc=com\r\n\
objectClass: zimbraAccount\r\n\
uid: amy\r\n\
mail: amy@company.com\r\n\
zimbraId: 55555555-5555-4555-8555-555555555555\r\n";

fn rename() -> MoveOptions {
    MoveOptions {
        rename: Some("migrate.company.com".into()),
        ..Default::default()
    }
}

#[test]
fn hand_written_records_are_read_back_exactly() {
    let sf = TempFile::new("hand-source", SOURCE.as_bytes());
    let tf = TempFile::new("hand-target", b"");
    let file = dit::plan_move_file(&sf.0, &tf.0, "company.com", &rename()).expect("plan");
    let arena =
        dit::plan_move_ldif(SOURCE.as_bytes(), &b""[..], "company.com", &rename()).expect("plan");
    assert!(file.is_clean(), "{file}");
    assert_eq!(file, arena);
    assert_eq!(outputs(&file), outputs(&arena));
    written_like_before(&file).unwrap_or_else(|e| panic!("{e}"));
    let entries = file.entries.to_vec().expect("read back");
    let bob = entries
        .iter()
        .find(|e| e.dn == "uid=bob,ou=people,dc=migrate,dc=company,dc=com")
        .expect("bob");
    // grouped like an attribute bag: both mail values together, renamed
    assert_eq!(
        bob.attrs.strs("mail"),
        ["bob@migrate.company.com", "robert@migrate.company.com"]
    );
    assert_eq!(bob.attrs.first("cn"), Some("Bob Müller"));
    assert!(bob
        .attrs
        .first("zimbraPrefMailSignature")
        .is_some_and(|s| s.ends_with("by the exporting tool, as slapcat does")));
    let r = &file.references;
    assert_eq!(r.len(), 1, "{file}");
    assert_eq!(
        r[0].fix,
        ["ma carol@other.org -zimbraMailForwardingAddress robert@company.com +zimbraMailForwardingAddress robert@migrate.company.com"]
    );
}

#[test]
fn a_source_changed_after_planning_is_refused() {
    let sf = TempFile::new("changed-source", SOURCE.as_bytes());
    let tf = TempFile::new("changed-target", b"");
    let plan = dit::plan_move_file(&sf.0, &tf.0, "company.com", &rename()).expect("plan");
    // another dump written over the same file: bob's record is no longer where it was
    let shifted = SOURCE.replacen("# exported by hand\r\n", "", 1);
    std::fs::write(&sf.0, shifted).expect("rewrite");
    let mut out = Vec::new();
    let err = plan.write_ldif(&mut out).expect_err("changed source");
    assert!(matches!(err, DitError::SourceChanged { .. }), "{err}");
    assert!(err.to_string().contains("cannot be read back"), "{err}");
    assert!(plan.entries.to_vec().is_err());
}

#[test]
fn unreadable_inputs_and_change_records_are_errors() {
    let missing = std::env::temp_dir().join("zimbra-prov-move-stream-no-such-file.ldif");
    let tf = TempFile::new("err-target", b"");
    let err = dit::plan_move_file(&missing, &tf.0, "company.com", &rename()).unwrap_err();
    assert!(matches!(err, DitError::Io { .. }), "{err}");
    assert!(err.to_string().contains("no-such-file"), "{err}");
    let changes = TempFile::new("err-source", b"dn: cn=x\nchangetype: delete\n");
    let err = dit::plan_move_file(&changes.0, &tf.0, "company.com", &rename()).unwrap_err();
    // errors in a file's text name the file
    let DitError::InFile { path, source } = &err else {
        panic!("{err}")
    };
    assert_eq!(path, &changes.0);
    assert!(
        matches!(**source, DitError::ChangeRecord { line: 1, .. }),
        "{err}"
    );
    assert!(err
        .to_string()
        .starts_with(&format!("{}: line 1: ", changes.0.display())));
}

#[test]
fn errors_in_a_later_part_of_the_source_name_their_line_in_the_file() {
    // big enough to be scanned in parts; the bad record is near the end
    let mut text = String::from(SOURCE);
    for i in 0..2000 {
        text.push_str(&format!(
            "\r\ndn: uid=u{i},ou=people,dc=other,dc=org\r\nobjectClass: zimbraAccount\r\nuid: u{i}\r\n"
        ));
    }
    text.push_str("\r\ndn: uid=bad,ou=people,dc=other,dc=org\r\nno colon here\r\n");
    let sf = TempFile::new("late-error", text.as_bytes());
    let tf = TempFile::new("late-error-target", b"");
    let file = dit::plan_move_file(&sf.0, &tf.0, "company.com", &rename()).unwrap_err();
    let stream =
        dit::plan_move_ldif(text.as_bytes(), &b""[..], "company.com", &rename()).unwrap_err();
    assert_eq!(
        file.to_string(),
        format!("{}: {stream}", sf.0.display()),
        "the same error, naming the file"
    );
    let lines = text.lines().count();
    assert!(file.to_string().contains(&format!("{lines}")), "{file}");
}

#[test]
fn alias_domain_entries_are_read_back_from_the_file() {
    // the alias domain's entries come before its domain entry: kept by place, read back
    let text = format!(
        "{SOURCE}\r\n\
dn: uid=al,ou=people,dc=alias,dc=company,dc=com\r\n\
objectClass: zimbraAlias\r\n\
uid: al\r\n\
zimbraAliasTargetId: 22222222-2222-4222-8222-222222222222\r\n\
zimbraId: 66666666-6666-4666-8666-666666666666\r\n\
\r\n\
dn: dc=alias,dc=company,dc=com\r\n\
objectClass: dcObject\r\n\
objectClass: organization\r\n\
objectClass: zimbraDomain\r\n\
dc: alias\r\n\
zimbraDomainName: alias.company.com\r\n\
zimbraDomainType: alias\r\n\
zimbraDomainAliasTargetId: 11111111-1111-4111-8111-111111111111\r\n\
zimbraId: 77777777-7777-4777-8777-777777777777\r\n"
    );
    let sf = TempFile::new("alias-source", text.as_bytes());
    let tf = TempFile::new("alias-target", b"");
    let file = dit::plan_move_file(&sf.0, &tf.0, "company.com", &rename()).expect("plan");
    let arena =
        dit::plan_move_ldif(text.as_bytes(), &b""[..], "company.com", &rename()).expect("plan");
    assert_eq!(file.alias_domains, ["alias.company.com"], "{file}");
    assert_eq!(file, arena);
    assert_eq!(outputs(&file), outputs(&arena));
    let entries = file.entries.to_vec().expect("read back");
    assert!(entries
        .iter()
        .any(|e| e.dn == "uid=al,ou=people,dc=alias,dc=company,dc=com"));
}
