//! References left behind in the source: every kind is found, each fix line is what zmprov
//! needs, and applying the fix lines to the source leaves no reference that still needs one.

use zimbra_prov::dit::{self, EntryKind, MoveOptions, MovePlan, Reference, ReferenceKind};
use zimbra_prov::model::{Directory, IdGenerator};
use zimbra_prov::zmprov;

const SOURCE: &str = r#"
cs mbx1.old.net
cd company.com
cd other.org
cad alias.company.com company.com zimbraMailCatchAllForwardingAddress @company.com
ca bob@company.com pw
ca amy@company.com pw
ca spam@company.com pw
cdl sales@company.com
ca carol@other.org pw zimbraMailForwardingAddress bob@company.com
ma carol@other.org zimbraPrefMailForwardingAddress "x@ext.net, amy@company.com"
ca dave@other.org pw zimbraMailCanonicalAddress amy@company.com
cdl team@other.org
adlm team@other.org bob@company.com sales@company.com dave@other.org
aaa bob@company.com b@other.org
cddl dyn@other.org
adlm dyn@other.org bob@company.com ghost@company.com
ca catch@other.org pw zimbraMailCatchAllAddress @company.com
md other.org zimbraMailCatchAllAddress @other.org zimbraMailCatchAllForwardingAddress @company.com
mcf zimbraSpamIsSpamAccount spam@company.com
ca eve@other.org pw zimbraMailForwardingAddress bob@alias.company.com
"#;

fn dir(seed: u64, script: &str) -> Directory {
    let mut d = Directory::new();
    d.ids = IdGenerator::new(seed);
    zmprov::run(&mut d, script).unwrap_or_else(|e| panic!("{e}"));
    d
}

fn target() -> Directory {
    dir(2, "cs mbx9.new.net\ncd hosted.net\n")
}

fn opts(rename: Option<&str>) -> MoveOptions {
    MoveOptions {
        rename: rename.map(str::to_string),
        map_hosts: vec![("mbx1.old.net".into(), "mbx9.new.net".into())],
        ..Default::default()
    }
}

fn plan(src: &Directory, rename: Option<&str>) -> MovePlan {
    let plan = dit::plan_move_dirs(src, &target(), "company.com", &opts(rename)).expect("plan");
    assert!(plan.is_clean(), "{plan}");
    plan
}

fn find<'a>(plan: &'a MovePlan, holder: &str, address: &str) -> &'a Reference {
    plan.references
        .iter()
        .find(|r| r.holder == holder && r.address == address)
        .unwrap_or_else(|| panic!("no reference {holder} -> {address} in\n{plan}"))
}

#[test]
fn every_kind_is_found_with_its_fix_when_the_domain_is_renamed() {
    let plan = plan(&dir(1, SOURCE), Some("migrate.company.com"));
    let text = plan.to_string();
    let fwd = find(&plan, "carol@other.org", "bob@company.com");
    assert_eq!(fwd.kind, ReferenceKind::Forwarding);
    assert_eq!(fwd.new_address.as_deref(), Some("bob@migrate.company.com"));
    assert_eq!(
        fwd.fix,
        ["ma carol@other.org -zimbraMailForwardingAddress bob@company.com +zimbraMailForwardingAddress bob@migrate.company.com"]
    );
    let pref = find(&plan, "carol@other.org", "amy@company.com");
    assert_eq!(pref.kind, ReferenceKind::PrefForwarding);
    assert_eq!(
        pref.fix,
        ["ma carol@other.org zimbraPrefMailForwardingAddress 'x@ext.net, amy@migrate.company.com'"]
    );
    let member = find(&plan, "team@other.org", "sales@company.com");
    assert_eq!(member.kind, ReferenceKind::ListMember);
    assert_eq!(member.holder_kind, EntryKind::DistributionList);
    assert_eq!(
        member.fix,
        [
            "rdlm team@other.org sales@company.com",
            "adlm team@other.org sales@migrate.company.com"
        ]
    );
    assert_eq!(
        find(&plan, "team@other.org", "bob@company.com").kind,
        ReferenceKind::ListMember
    );
    let alias = find(&plan, "b@other.org", "bob@company.com");
    assert_eq!(alias.kind, ReferenceKind::Alias);
    assert_eq!(alias.holder_dn, "uid=b,ou=people,dc=other,dc=org");
    assert_eq!(
        alias.fix,
        [
            "raa bob@company.com b@other.org",
            "cdl b@other.org",
            "adlm b@other.org bob@migrate.company.com"
        ]
    );
    let internal = find(&plan, "dyn@other.org", "bob@company.com");
    assert_eq!(
        (internal.kind, internal.attribute.as_str()),
        (ReferenceKind::GroupMember, "zimbraMemberOf")
    );
    assert_eq!(
        internal.fix,
        [
            "rdlm dyn@other.org bob@company.com",
            "adlm dyn@other.org bob@migrate.company.com"
        ]
    );
    let external = find(&plan, "dyn@other.org", "ghost@company.com");
    assert_eq!(
        (external.kind, external.attribute.as_str()),
        (ReferenceKind::GroupMember, "zimbraMailForwardingAddress")
    );
    let catch = find(&plan, "catch@other.org", "@company.com");
    assert_eq!(catch.kind, ReferenceKind::CatchAll);
    assert_eq!(
        catch.fix,
        ["ma catch@other.org -zimbraMailCatchAllAddress @company.com"]
    );
    let domain = find(&plan, "other.org", "@company.com");
    assert_eq!(domain.kind, ReferenceKind::CatchAllForwarding);
    assert_eq!(
        domain.fix,
        ["md other.org zimbraMailCatchAllForwardingAddress @migrate.company.com"]
    );
    let canon = find(&plan, "dave@other.org", "amy@company.com");
    assert_eq!(canon.kind, ReferenceKind::Canonical);
    assert_eq!(
        canon.fix,
        ["ma dave@other.org zimbraMailCanonicalAddress amy@migrate.company.com"]
    );
    let config = find(&plan, "", "spam@company.com");
    assert_eq!(
        (config.kind, config.holder_kind),
        (ReferenceKind::Other, EntryKind::GlobalConfig)
    );
    assert_eq!(
        config.fix,
        ["mcf zimbraSpamIsSpamAccount spam@migrate.company.com"]
    );
    // the alias domain moves with its name: a forward into it keeps working
    let eve = find(&plan, "eve@other.org", "bob@alias.company.com");
    assert!(eve.fix.is_empty() && eve.new_address.is_none(), "{eve}");
    assert_eq!(plan.references.len(), 12, "{text}");
    assert!(
        text.contains("references left in the source: 12 (11 to fix)\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "  REFERENCE list-member: distribution-list team@other.org (zimbraMailForwardingAddress) names sales@company.com, renamed sales@migrate.company.com\n    $ zmprov rdlm team@other.org sales@company.com\n    $ zmprov adlm team@other.org sales@migrate.company.com\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("  REFERENCE forwarding: account eve@other.org (zimbraMailForwardingAddress) names bob@alias.company.com, same name in the target: nothing to change\n"),
        "{text}"
    );
}

#[test]
fn applying_the_fixes_to_the_source_leaves_nothing_to_fix() {
    let mut src = dir(1, SOURCE);
    let plan = plan(&src, Some("migrate.company.com"));
    let mut script = Vec::new();
    let n = plan.write_fixes(&mut script).expect("fixes");
    let script = String::from_utf8(script).expect("utf-8");
    assert_eq!(n as usize, script.lines().count() - 1, "{script}");
    zmprov::run(&mut src, &script).unwrap_or_else(|e| panic!("{e}\n{script}"));
    let again = self::plan(&src, Some("migrate.company.com"));
    let left: Vec<String> = again
        .references
        .iter()
        .filter(|r| !r.fix.is_empty())
        .map(|r| r.to_string())
        .collect();
    assert!(left.is_empty(), "{left:#?}\n{script}");
    // what the fixes did, in the source
    let team = src.list("team@other.org").expect("team");
    let members = team.attrs.strs("zimbraMailForwardingAddress");
    assert!(members.contains(&"bob@migrate.company.com"), "{members:?}");
    assert!(!members.contains(&"bob@company.com"), "{members:?}");
    let b = src.list("b@other.org").expect("the alias became a list");
    assert_eq!(
        b.attrs.strs("zimbraMailForwardingAddress"),
        ["bob@migrate.company.com"]
    );
    assert!(src.alias("b@other.org").is_none());
}

#[test]
fn a_plain_move_only_fixes_what_breaks_by_id_or_catch_all() {
    let plan = plan(&dir(1, SOURCE), None);
    let fwd = find(&plan, "carol@other.org", "bob@company.com");
    assert!(fwd.fix.is_empty() && fwd.new_address.is_none(), "{fwd}");
    assert!(find(&plan, "team@other.org", "bob@company.com")
        .fix
        .is_empty());
    // the alias entry points at bob by id: it breaks whatever the name
    assert_eq!(
        find(&plan, "b@other.org", "bob@company.com").fix,
        [
            "raa bob@company.com b@other.org",
            "cdl b@other.org",
            "adlm b@other.org bob@company.com"
        ]
    );
    // the catch-all for a domain the source no longer hosts is stale
    assert_eq!(find(&plan, "catch@other.org", "@company.com").fix.len(), 1);
    // an internal dynamic-group member leaves the group with its entry
    let internal = find(&plan, "dyn@other.org", "bob@company.com");
    assert!(internal.fix.is_empty());
    assert!(
        internal.to_string().contains(
            "re-add it with `zmprov adlm dyn@other.org bob@company.com` once the source no longer hosts its domain"
        ),
        "{internal}"
    );
}

#[test]
fn entries_of_moved_alias_domains_hold_no_references() {
    // alias.company.com moves along: its catch-all forwarding into company.com moves with it
    let plan = plan(&dir(1, SOURCE), Some("migrate.company.com"));
    assert!(plan.alias_domains == ["alias.company.com"], "{plan}");
    assert!(
        plan.references
            .iter()
            .all(|r| r.holder != "alias.company.com"),
        "{plan}"
    );
    // not moved along: the alias domain stays and forwards into the renamed domain
    let opts = MoveOptions {
        include_alias_domains: false,
        ..opts(Some("migrate.company.com"))
    };
    let plan = dit::plan_move_dirs(&dir(1, SOURCE), &target(), "company.com", &opts).expect("plan");
    let r = find(&plan, "alias.company.com", "@company.com");
    assert_eq!(r.kind, ReferenceKind::CatchAllForwarding);
    assert_eq!(
        r.fix,
        ["md alias.company.com zimbraMailCatchAllForwardingAddress @migrate.company.com"]
    );
}

#[test]
fn a_line_break_in_a_source_value_forges_no_command_nor_report_line() {
    let ldif = |d: &Directory| {
        let mut out = Vec::new();
        dit::write_directory(d, &mut out, &dit::WriteOptions::slapadd()).expect("LDIF");
        String::from_utf8(out).expect("UTF-8")
    };
    let evil = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        "x@ext.net\nda boss@other.org, amy@company.com",
    );
    let src = ldif(&dir(1, SOURCE)).replacen(
        "zimbraPrefMailForwardingAddress: x@ext.net, amy@company.com\n",
        &format!("zimbraPrefMailForwardingAddress:: {evil}\n"),
        1,
    );
    assert!(src.contains(&evil));
    let plan = dit::plan_move_ldif(
        src.as_bytes(),
        ldif(&target()).as_bytes(),
        "company.com",
        &opts(Some("migrate.company.com")),
    )
    .expect("plan");
    let report = plan.to_string();
    assert!(report.lines().all(|l| !l.starts_with("da ")), "{report}");
    assert!(
        report.contains("x@ext.net\\x0ada boss@other.org"),
        "{report}"
    );
    let mut script = Vec::new();
    let n = plan.write_fixes(&mut script).expect("fixes");
    let script = String::from_utf8(script).expect("UTF-8");
    assert!(script.lines().all(|l| !l.starts_with("da ")), "{script}");
    assert!(
        script.contains("# not run, a name holds a line break: ma carol@other.org zimbraPrefMailForwardingAddress"),
        "{script}"
    );
    let commands = script.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(commands as u64, n, "{script}");
}
