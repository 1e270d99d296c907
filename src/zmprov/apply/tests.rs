//! The interpreter's tests, command by command.

use super::*;
use crate::model::MailRecipient;

fn setup() -> Directory {
    let mut dir = Directory::new();
    run(
        &mut dir,
        "cs mbx1.example.org zimbraServiceEnabled mailbox
             cs mbx2.example.org zimbraServiceEnabled mailbox
             cs mta.example.org
             cd example.org
             ca alice@example.org pw",
    )
    .unwrap();
    dir
}

fn err(dir: &mut Directory, script: &str) -> String {
    run(dir, script).unwrap_err().zmprov_message()
}

/// Runs each script on `dir` in turn; each must fail with exactly its zmprov message.
fn assert_errs(dir: &mut Directory, cases: &[(&str, &str)]) {
    for (script, want) in cases {
        assert_eq!(err(dir, script), *want, "{script}");
    }
}

#[test]
fn create_server_defaults() {
    let dir = setup();
    let s = dir.server("mbx1.example.org").unwrap();
    assert_eq!(
        s.attrs.first("zimbraServiceHostname"),
        Some("mbx1.example.org")
    );
    assert_eq!(s.attrs.first("cn"), Some("mbx1.example.org"));
    assert!(s.has_mailbox_service());
    let mut dir = dir;
    assert_eq!(
        err(&mut dir, "cs MBX1.example.org"),
        "ERROR: account.SERVER_EXISTS (server already exists: mbx1.example.org)"
    );
}

#[test]
fn modify_server_and_safeguard() {
    let mut dir = setup();
    run(&mut dir, "ms mbx1.example.org +zimbraServiceEnabled mta").unwrap();
    assert_eq!(
        err(&mut dir, "ms mbx1.example.org zimbraServiceEnabled mailbox"),
        "error: cannot replace multi-valued attr value unless -r is specified"
    );
    run(
        &mut dir,
        "zmprov -r ms mbx1.example.org zimbraServiceEnabled mailbox",
    )
    .unwrap();
    assert_eq!(
        dir.server("mbx1.example.org")
            .unwrap()
            .attrs
            .strs("zimbraServiceEnabled"),
        ["mailbox"]
    );
    assert_errs(
        &mut dir,
        &[
            (
                "ms nosuch zimbraMtaRelayHost x",
                "ERROR: account.NO_SUCH_SERVER (no such server: nosuch)",
            ),
            (
                "ms mta.example.org zimbraMtaRelayHost a zimbraMtaRelayHost b",
                "ERROR: service.INVALID_REQUEST (invalid request: zimbraMtaRelayHost can only have one value)",
            ),
        ],
    );
    let out = run(&mut dir, "gs mta.example.org zimbraServiceHostname").unwrap();
    assert_eq!(
        out,
        "# name mta.example.org\nzimbraServiceHostname: mta.example.org\n"
    );
}

#[test]
fn create_account_fills_what_zimbra_fills() {
    let dir = setup();
    let a = dir.account("alice@example.org").unwrap();
    let host = a.mail_host().unwrap();
    assert!(host == "mbx1.example.org" || host == "mbx2.example.org");
    assert_eq!(
        a.transport().unwrap().unwrap().to_string(),
        format!("lmtp:{host}:7025")
    );
    // deterministic: the same address always lands on the same server
    let again = setup();
    assert_eq!(
        again.account("alice@example.org").unwrap().mail_host(),
        Some(host)
    );
}

#[test]
fn create_account_errors() {
    let mut dir = setup();
    assert_errs(
        &mut dir,
        &[
            (
                "ca alice@example.org pw",
                "ERROR: account.ACCOUNT_EXISTS (email address already exists: alice@example.org)",
            ),
            (
                "ca bob@nowhere.org pw",
                "ERROR: account.NO_SUCH_DOMAIN (no such domain: nowhere.org)",
            ),
            (
                "ca bob@example.org pw uid bobby",
                "ERROR: service.INVALID_REQUEST (invalid request: invalid attribute for CreateAccount: uid)",
            ),
            (
                "ca bob@example.org pw zimbraNoSuchAttr 1",
                "ERROR: account.INVALID_ATTR_NAME (invalid attr name: zimbraNoSuchAttr)",
            ),
        ],
    );
    assert!(err(
        &mut dir,
        "ca bob@example.org pw zimbraAccountStatus sleeping"
    )
    .starts_with("ERROR: account.INVALID_ATTR_VALUE (invalid attr value: "));
    run(&mut dir, "cad alias.org example.org").unwrap();
    assert_eq!(
        err(&mut dir, "ca bob@alias.org pw"),
        "ERROR: service.INVALID_REQUEST (invalid request: domain type must be local)"
    );
    let mut bare = Directory::new();
    run(&mut bare, "cd x.org").unwrap();
    assert_eq!(
            err(&mut bare, "ca a@x.org pw"),
            "ERROR: service.INVALID_REQUEST (invalid request: missing zimbraMailHost or zimbraMailTransport for CreateAccount)"
        );
    // with an explicit transport no server is needed
    run(
        &mut bare,
        "ca a@x.org pw zimbraMailTransport smtp:[legacy.x.org]",
    )
    .unwrap();
    assert!(bare.account("a@x.org").unwrap().mail_host().is_none());
}

#[test]
fn create_account_with_mail_host_and_cos_pool() {
    let mut dir = setup();
    run(
        &mut dir,
        "ca bob@example.org pw zimbraMailHost mbx2.example.org",
    )
    .unwrap();
    assert_eq!(
        dir.account("bob@example.org")
            .unwrap()
            .attrs
            .first("zimbraMailTransport"),
        Some("lmtp:mbx2.example.org:7025")
    );
    let id = dir
        .server("mbx1.example.org")
        .unwrap()
        .attrs
        .first("zimbraId")
        .unwrap()
        .to_string();
    run(&mut dir, &format!("cc pooled zimbraMailHostPool {id}")).unwrap();
    let cos_id = dir
        .cos("pooled")
        .unwrap()
        .attrs
        .first("zimbraId")
        .unwrap()
        .to_string();
    for i in 0..8 {
        run(
            &mut dir,
            &format!("ca u{i}@example.org pw zimbraCOSId {cos_id}"),
        )
        .unwrap();
        assert_eq!(
            dir.account(&format!("u{i}@example.org"))
                .unwrap()
                .mail_host(),
            Some("mbx1.example.org")
        );
    }
    assert_eq!(
            err(&mut dir, "ca c@example.org pw zimbraMailHost nosuch.example.org"),
            "ERROR: service.INVALID_REQUEST (invalid request: specified zimbraMailHost does not correspond to a valid server service hostname: nosuch.example.org)"
        );
    assert_eq!(
        err(
            &mut dir,
            "ca c@example.org pw zimbraCOSId 00000000-0000-0000-0000-000000000000"
        ),
        "ERROR: account.NO_SUCH_COS (no such cos: 00000000-0000-0000-0000-000000000000)"
    );
}

#[test]
fn account_status_callback() {
    let mut dir = setup();
    for (status, mail) in [
        ("closed", "disabled"),
        ("active", "enabled"),
        ("pending", "disabled"),
        ("maintenance", "enabled"),
        ("locked", "enabled"),
        ("lockout", "enabled"),
    ] {
        run(
            &mut dir,
            &format!("ma alice@example.org zimbraAccountStatus {status}"),
        )
        .unwrap();
        assert_eq!(
            dir.account("alice@example.org")
                .unwrap()
                .attrs
                .first("zimbraMailStatus"),
            Some(mail),
            "{status}"
        );
    }
    // an explicit zimbraMailStatus in the same command wins
    run(
        &mut dir,
        "ma alice@example.org zimbraAccountStatus closed zimbraMailStatus enabled",
    )
    .unwrap();
    assert_eq!(
        dir.account("alice@example.org")
            .unwrap()
            .attrs
            .first("zimbraMailStatus"),
        Some("enabled")
    );
    assert_eq!(
            err(&mut dir, "ma alice@example.org zimbraAccountStatus \"\""),
            "ERROR: service.INVALID_REQUEST (invalid request: zimbraAccountStatus is a required attribute)"
        );
}

#[test]
fn closing_an_account_removes_it_from_lists() {
    let mut dir = setup();
    run(
        &mut dir,
        "cdl all@example.org\nadlm all@example.org alice@example.org x@other.org",
    )
    .unwrap();
    run(&mut dir, "ma alice@example.org zimbraAccountStatus closed").unwrap();
    assert_eq!(
        dir.list("all@example.org")
            .unwrap()
            .attrs
            .strs("zimbraMailForwardingAddress"),
        ["x@other.org"]
    );
}

#[test]
fn mail_host_callback() {
    let mut dir = setup();
    let host = dir
        .account("alice@example.org")
        .unwrap()
        .mail_host()
        .unwrap()
        .to_string();
    let other = if host == "mbx1.example.org" {
        "mbx2.example.org"
    } else {
        "mbx1.example.org"
    };
    run(
        &mut dir,
        &format!("ma alice@example.org zimbraMailHost {other}"),
    )
    .unwrap();
    assert_eq!(
        dir.account("alice@example.org")
            .unwrap()
            .attrs
            .first("zimbraMailTransport"),
        Some(format!("lmtp:{other}:7025").as_str())
    );
    assert_eq!(
            err(&mut dir, &format!("ma alice@example.org zimbraMailHost {host} zimbraMailTransport smtp:x")),
            "ERROR: service.INVALID_REQUEST (invalid request: setting both zimbraMailHost and zimbraMailTransport in the same request is not allowed)"
        );
    // after pointing the transport elsewhere, zimbraMailHost no longer matches it
    run(
        &mut dir,
        "ma alice@example.org zimbraMailTransport smtp:exchange.example.org",
    )
    .unwrap();
    assert!(err(
        &mut dir,
        &format!("ma alice@example.org zimbraMailHost {host}")
    )
    .contains("current value of zimbraMailHost does not match zimbraMailTransport"));
    // the LMTP port comes from the server, inherited from the global config
    run(&mut dir, "ma alice@example.org zimbraMailTransport lmtp:mbx1.example.org:7025\nms mbx2.example.org zimbraLmtpBindPort 7026").unwrap();
    run(
        &mut dir,
        "ma alice@example.org zimbraMailHost mbx1.example.org",
    )
    .unwrap();
    run(
        &mut dir,
        "ma alice@example.org zimbraMailHost mbx2.example.org",
    )
    .unwrap();
    assert_eq!(
        dir.account("alice@example.org")
            .unwrap()
            .attrs
            .first("zimbraMailTransport"),
        Some("lmtp:mbx2.example.org:7026")
    );
}

#[test]
fn attribute_argument_rules() {
    let mut dir = setup();
    run(&mut dir, "ma alice@example.org zimbraMailForwardingAddress a@x.org zimbraMailForwardingAddress b@x.org").unwrap();
    let a = || dir_strs(&dir, "zimbraMailForwardingAddress");
    fn dir_strs(d: &Directory, n: &str) -> Vec<String> {
        d.account("alice@example.org")
            .unwrap()
            .attrs
            .strs(n)
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
    assert_eq!(a(), ["a@x.org", "b@x.org"]);
    run(&mut dir, "ma alice@example.org +zimbraMailForwardingAddress c@x.org +zimbraMailForwardingAddress A@x.org").unwrap();
    assert_eq!(
        dir_strs(&dir, "zimbraMailForwardingAddress"),
        ["a@x.org", "b@x.org", "c@x.org"]
    );
    run(&mut dir, "ma alice@example.org -zimbraMailForwardingAddress b@x.org -zimbraMailForwardingAddress nothere@x.org").unwrap();
    assert_eq!(
        dir_strs(&dir, "zimbraMailForwardingAddress"),
        ["a@x.org", "c@x.org"]
    );
    run(
        &mut dir,
        "ma alice@example.org zimbraMailForwardingAddress ''",
    )
    .unwrap();
    assert!(dir_strs(&dir, "zimbraMailForwardingAddress").is_empty());
    assert_errs(
        &mut dir,
        &[
            (
                "ma alice@example.org zimbraMailForwardingAddress a@x.org +zimbraMailForwardingAddress b@x.org",
                "ERROR: service.INVALID_REQUEST (invalid request: can't mix +attrName/-attrName with attrName)",
            ),
            (
                "ma alice@example.org zimbraMailTransport smtp:a zimbraMailTransport smtp:b",
                "ERROR: account.INVALID_ATTR_VALUE (invalid attr value: zimbraMailTransport is single-valued)",
            ),
        ],
    );
    assert_eq!(
        err(
            &mut dir,
            "ma alice@example.org zimbraMailDeliveryAddress x@example.org"
        ),
        "ERROR: service.INVALID_REQUEST (invalid request: zimbraMailDeliveryAddress is immutable)"
    );
    assert_eq!(
            err(&mut dir, "ma alice@example.org zimbraMtaRelayHost relay.example.org"),
            "ERROR: service.INVALID_REQUEST (invalid request: zimbraMtaRelayHost is not allowed on account)"
        );
    assert!(err(
        &mut dir,
        "ma alice@example.org zimbraPrefMailLocalDeliveryDisabled yes"
    )
    .starts_with("ERROR: account.INVALID_ATTR_VALUE"));
    // attribute names are case-insensitive; the stored name keeps Zimbra's spelling
    run(
        &mut dir,
        "ma alice@example.org ZIMBRAPREFMAILLOCALDELIVERYDISABLED TRUE",
    )
    .unwrap();
    assert!(dir
        .account("alice@example.org")
        .unwrap()
        .local_delivery_disabled());
    assert!(dir
        .account("alice@example.org")
        .unwrap()
        .attrs
        .get("zimbraPrefMailLocalDeliveryDisabled")
        .is_some());
    // a failing command changes nothing
    let before = dir.clone();
    let _ = run(
        &mut dir,
        "ma alice@example.org zimbraMailQuota 5 zimbraAccountStatus bogus",
    );
    assert_eq!(dir, before);
}

#[test]
fn account_lookup_by_alias_id_and_default_domain() {
    let mut dir = setup();
    run(&mut dir, "aaa alice@example.org al@example.org").unwrap();
    let id = dir
        .account("alice@example.org")
        .unwrap()
        .attrs
        .first("zimbraId")
        .unwrap()
        .to_string();
    run(&mut dir, "ma al@example.org zimbraMailQuota 1").unwrap();
    run(&mut dir, &format!("ma {id} zimbraMailQuota 2")).unwrap();
    assert_eq!(
        dir.account("alice@example.org")
            .unwrap()
            .attrs
            .first("zimbraMailQuota"),
        Some("2")
    );
    assert_eq!(
        err(&mut dir, "ma alice zimbraMailQuota 3"),
        "ERROR: account.NO_SUCH_ACCOUNT (no such account: alice)"
    );
    run(
        &mut dir,
        "mcf zimbraDefaultDomainName example.org\nma alice zimbraMailQuota 3",
    )
    .unwrap();
    assert_eq!(
        dir.account("alice@example.org")
            .unwrap()
            .attrs
            .first("zimbraMailQuota"),
        Some("3")
    );
    let out = run(
        &mut dir,
        "ga alice@example.org zimbraMailQuota zimbraMailAlias",
    )
    .unwrap();
    assert_eq!(
        out,
        "# name alice@example.org\nzimbraMailAlias: al@example.org\nzimbraMailQuota: 3\n"
    );
}

#[test]
fn domains_and_alias_domains() {
    let mut dir = setup();
    let d = dir.domain("example.org").unwrap();
    assert_eq!(
        d.attrs.strs("objectClass"),
        ["dcObject", "organization", "zimbraDomain", "amavisAccount"]
    );
    assert_eq!(d.attrs.first("zimbraDomainType"), Some("local"));
    assert_eq!(d.attrs.first("zimbraDomainStatus"), Some("active"));
    assert_eq!(d.attrs.first("zimbraMailStatus"), Some("enabled"));
    assert_eq!(d.attrs.first("o"), Some("example.org domain"));
    assert_eq!(d.attrs.first("dc"), Some("example"));
    assert_eq!(
        err(&mut dir, "cd EXAMPLE.org"),
        "ERROR: account.DOMAIN_EXISTS (domain already exists: example.org)"
    );
    run(&mut dir, "cad alias.org example.org").unwrap();
    let a = dir.domain("alias.org").unwrap();
    assert!(a.is_alias());
    assert_eq!(
        a.attrs.first("zimbraMailCatchAllAddress"),
        Some("@alias.org")
    );
    assert_eq!(
        a.attrs.first("zimbraDomainAliasTargetId"),
        d_id(&dir, "example.org").as_deref()
    );
    // cd with zimbraDomainType alias also sets the catch-all
    run(&mut dir, "cd other-alias.org zimbraDomainType alias").unwrap();
    assert_eq!(
        dir.domain("other-alias.org")
            .unwrap()
            .attrs
            .first("zimbraMailCatchAllAddress"),
        Some("@other-alias.org")
    );
    assert_errs(
        &mut dir,
        &[
            (
                "cad x.org alias.org",
                "ERROR: service.INVALID_REQUEST (invalid request: target domain must be a local domain)",
            ),
            (
                "cad x.org nowhere.org",
                "ERROR: account.NO_SUCH_DOMAIN (no such domain: nowhere.org)",
            ),
        ],
    );
    assert!(err(
        &mut dir,
        "md example.org zimbraMailCatchAllAddress user@example.org"
    )
    .starts_with("ERROR: account.INVALID_ATTR_VALUE"));
    assert_eq!(
        err(&mut dir, "md example.org zimbraDomainType alias"),
        "ERROR: service.INVALID_REQUEST (invalid request: zimbraDomainType is immutable)"
    );
    // an address in an alias domain names the account in the target domain
    run(&mut dir, "ma alice@alias.org zimbraMailQuota 9").unwrap();
    assert_eq!(
        dir.account("alice@example.org")
            .unwrap()
            .attrs
            .first("zimbraMailQuota"),
        Some("9")
    );
}

fn d_id(dir: &Directory, d: &str) -> Option<String> {
    dir.domain(d)
        .and_then(|d| d.attrs.first("zimbraId"))
        .map(str::to_string)
}

#[test]
fn domain_status_callback() {
    let mut dir = setup();
    run(&mut dir, "md example.org zimbraDomainStatus closed").unwrap();
    assert_eq!(
        dir.domain("example.org")
            .unwrap()
            .attrs
            .first("zimbraMailStatus"),
        Some("disabled")
    );
    run(&mut dir, "md example.org zimbraDomainStatus suspended").unwrap();
    assert_eq!(
        dir.domain("example.org")
            .unwrap()
            .attrs
            .first("zimbraMailStatus"),
        Some("disabled")
    );
    run(&mut dir, "md example.org zimbraDomainStatus active").unwrap();
    assert_eq!(
        dir.domain("example.org")
            .unwrap()
            .attrs
            .first("zimbraMailStatus"),
        Some("enabled")
    );
    assert!(err(&mut dir, "md example.org zimbraDomainStatus shutdown").contains("internal status"));
    let out = run(&mut dir, "gd example.org zimbraDomainStatus").unwrap();
    assert_eq!(out, "# name example.org\nzimbraDomainStatus: active\n");
}

#[test]
fn delete_domain() {
    let mut dir = setup();
    run(&mut dir, "cad alias.org example.org").unwrap();
    assert_eq!(
            err(&mut dir, "dd example.org"),
            "ERROR: account.DOMAIN_NOT_EMPTY (domain not empty: example.org (remaining entries: [uid=alice,ou=people,dc=example,dc=org] ...))"
        );
    run(&mut dir, "da alice@example.org\ndd example.org").unwrap();
    assert!(dir.domain("example.org").is_none());
    assert!(
        dir.domain("alias.org").is_none(),
        "alias domains go with their target"
    );
    assert_eq!(
        err(&mut dir, "dd example.org"),
        "ERROR: account.NO_SUCH_DOMAIN (no such domain: example.org)"
    );
}

#[test]
fn cos_commands() {
    let mut dir = setup();
    run(&mut dir, "cc Gold zimbraMailQuota 1000").unwrap();
    let c = dir.cos("gold").unwrap();
    assert_eq!(c.attrs.first("zimbraMailQuota"), Some("1000"));
    assert_eq!(
        c.attrs.first("zimbraFeatureMailForwardingEnabled"),
        Some("TRUE")
    );
    assert_eq!(
        err(&mut dir, "cc gold"),
        "ERROR: account.COS_EXISTS (cos already exists: gold)"
    );
    run(&mut dir, "mc gold zimbraMailQuota 2000").unwrap();
    assert_eq!(
        run(&mut dir, "gc gold zimbraMailQuota").unwrap(),
        "# name gold\nzimbraMailQuota: 2000\n"
    );
    assert_eq!(
        err(&mut dir, "mc nosuch zimbraMailQuota 1"),
        "ERROR: account.NO_SUCH_COS (no such cos: nosuch)"
    );
    let id = dir
        .cos("gold")
        .unwrap()
        .attrs
        .first("zimbraId")
        .unwrap()
        .to_string();
    run(&mut dir, &format!("ma alice@example.org zimbraCOSId {id}")).unwrap();
    let a = dir.account("alice@example.org").unwrap();
    assert_eq!(dir.account_attr(a, "zimbraMailQuota"), vec!["2000"]);
}

#[test]
fn config_commands() {
    let mut dir = setup();
    run(
        &mut dir,
        "mcf zimbraMtaRelayHost relay.example.org zimbraMtaDnsLookupsEnabled FALSE",
    )
    .unwrap();
    assert_eq!(
        run(&mut dir, "gcf zimbraMtaRelayHost").unwrap(),
        "zimbraMtaRelayHost: relay.example.org\n"
    );
    assert_eq!(
        run(&mut dir, "gcf zimbraMtaDnsLookupsEnabled").unwrap(),
        "zimbraMtaDnsLookupsEnabled: FALSE\n"
    );
    assert_errs(
        &mut dir,
        &[
            (
                "gcf zimbraBogus",
                "ERROR: account.INVALID_ATTR_NAME (invalid attr name: zimbraBogus)",
            ),
            (
                "mcf zimbraMailHost x",
                "ERROR: service.INVALID_REQUEST (invalid request: zimbraMailHost is not allowed on globalConfig)",
            ),
        ],
    );
}

#[test]
fn aliases_add_remove() {
    let mut dir = setup();
    run(&mut dir, "aaa alice@example.org Al@Example.org").unwrap();
    let a = dir.account("alice@example.org").unwrap();
    assert_eq!(a.attrs.strs("zimbraMailAlias"), ["al@example.org"]);
    assert_eq!(
        a.attrs.strs("mail"),
        ["alice@example.org", "al@example.org"]
    );
    let al = dir.alias("al@example.org").unwrap();
    assert_eq!(
        al.attrs.first("zimbraAliasTargetId"),
        a.attrs.first("zimbraId")
    );
    assert_eq!(al.attrs.strs("objectClass"), ["zimbraAlias"]);
    assert_errs(
        &mut dir,
        &[
            (
                "aaa alice@example.org al@example.org",
                "ERROR: account.ACCOUNT_EXISTS (email address already exists: al@example.org)",
            ),
            (
                "aaa alice@example.org al@nowhere.org",
                "ERROR: account.NO_SUCH_DOMAIN (no such domain: nowhere.org)",
            ),
        ],
    );
    run(&mut dir, "raa alice@example.org al@example.org").unwrap();
    assert!(dir.alias("al@example.org").is_none());
    assert!(dir
        .account("alice@example.org")
        .unwrap()
        .attrs
        .strs("zimbraMailAlias")
        .is_empty());
    assert_eq!(
        err(&mut dir, "raa alice@example.org al@example.org"),
        "ERROR: account.NO_SUCH_ALIAS (no such alias: al@example.org)"
    );
    // a dangling alias entry is replaced
    run(
        &mut dir,
        "ca bob@example.org pw\naaa bob@example.org b@example.org\nda bob@example.org",
    )
    .unwrap();
    assert!(
        dir.alias("b@example.org").is_none(),
        "da removes the account's aliases"
    );
}

#[test]
fn rename_account() {
    let mut dir = setup();
    run(&mut dir, "cd other.org\naaa alice@example.org al@example.org\ncdl l@example.org\nadlm l@example.org alice@example.org al@example.org").unwrap();
    run(&mut dir, "ra alice@example.org alicia@other.org").unwrap();
    let a = dir.account("alicia@other.org").unwrap();
    assert_eq!(a.attrs.first("uid"), Some("alicia"));
    assert_eq!(a.attrs.strs("zimbraMailAlias"), ["al@other.org"]);
    assert_eq!(a.attrs.strs("mail"), ["alicia@other.org", "al@other.org"]);
    assert!(dir.alias("al@other.org").is_some());
    assert_eq!(
        dir.list("l@example.org")
            .unwrap()
            .attrs
            .strs("zimbraMailForwardingAddress"),
        ["alicia@other.org", "al@other.org"]
    );
    assert_eq!(
        err(&mut dir, "ra alicia@other.org x@nowhere.org"),
        "ERROR: account.NO_SUCH_DOMAIN (no such domain: nowhere.org)"
    );
    run(&mut dir, "ca bob@other.org pw").unwrap();
    assert_eq!(
        err(&mut dir, "ra alicia@other.org bob@other.org"),
        "ERROR: account.ACCOUNT_EXISTS (email address already exists: bob@other.org)"
    );
}

#[test]
fn distribution_lists() {
    let mut dir = setup();
    run(&mut dir, "cdl team@example.org").unwrap();
    let l = dir.list("team@example.org").unwrap();
    assert_eq!(
        l.attrs.strs("objectClass"),
        ["zimbraDistributionList", "zimbraMailRecipient"]
    );
    assert_eq!(l.attrs.first("zimbraMailAlias"), Some("team@example.org"));
    assert_eq!(l.attrs.first("zimbraMailStatus"), Some("enabled"));
    assert!(l.attrs.first("zimbraMailTransport").is_none());
    assert_errs(
        &mut dir,
        &[
            (
                "cdl alice@example.org",
                "ERROR: account.ACCOUNT_EXISTS (email address already exists: alice@example.org)",
            ),
            (
                "ca team@example.org pw",
                "ERROR: account.DISTRIBUTION_LIST_EXISTS (email address already exists: team@example.org)",
            ),
        ],
    );
    run(
        &mut dir,
        "adlm team@example.org alice@example.org Ext@Other.org alice@example.org",
    )
    .unwrap();
    assert_eq!(
        dir.list("team@example.org")
            .unwrap()
            .members()
            .unwrap()
            .len(),
        2
    );
    assert_errs(
        &mut dir,
        &[
            (
                "adlm team@example.org team@example.org",
                "ERROR: service.INVALID_REQUEST (invalid request: Cannot add self as a member)",
            ),
            (
                "rdlm team@example.org nobody@example.org",
                "ERROR: account.NO_SUCH_MEMBER (no such member: nobody@example.org, list: team@example.org)",
            ),
        ],
    );
    run(&mut dir, "rdlm team@example.org ext@other.org").unwrap();
    assert_eq!(
        dir.list("team@example.org")
            .unwrap()
            .attrs
            .strs("zimbraMailForwardingAddress"),
        ["alice@example.org"]
    );
    assert_eq!(
        err(&mut dir, "adlm nolist@example.org a@b.org"),
        "ERROR: account.NO_SUCH_DISTRIBUTION_LIST (no such distribution list: nolist@example.org)"
    );
    run(&mut dir, "ddl team@example.org").unwrap();
    assert!(dir.list("team@example.org").is_none());
}

#[test]
fn rename_domain_rewrites_foreign_aliases_and_lists() {
    let mut dir = setup();
    run(
            &mut dir,
            "cd other.org\nca bob@other.org pw\naaa bob@other.org bob@example.org\ncdl l@other.org\nadlm l@other.org alice@example.org\nmcf zimbraDefaultDomainName example.org",
        )
        .unwrap();
    let id = d_id(&dir, "example.org");
    run(&mut dir, "-l rd example.org new.org").unwrap();
    assert_eq!(
        d_id(&dir, "new.org"),
        id,
        "the new domain keeps the old zimbraId"
    );
    assert!(dir.account("alice@new.org").is_some());
    let bob = dir.account("bob@other.org").unwrap();
    assert_eq!(bob.attrs.strs("zimbraMailAlias"), ["bob@new.org"]);
    assert!(dir.alias("bob@new.org").is_some());
    assert_eq!(
        dir.list("l@other.org")
            .unwrap()
            .attrs
            .strs("zimbraMailForwardingAddress"),
        ["alice@new.org"]
    );
    assert_eq!(
        dir.config.attrs.first("zimbraDefaultDomainName"),
        Some("new.org")
    );
}

#[test]
fn a_dynamic_unit_address_is_taken() {
    let mut dir = setup();
    run(&mut dir, "cddl team@example.org").unwrap();
    assert_errs(
        &mut dir,
        &[
            (
                "ca team.__internal__@example.org pw",
                "ERROR: account.ACCOUNT_EXISTS (email address already exists: team.__internal__@example.org)",
            ),
            (
                "cdl TEAM.__internal__@example.org",
                "ERROR: account.ACCOUNT_EXISTS (email address already exists: team.__internal__@example.org)",
            ),
        ],
    );
}

/// Issue 16: `cd -x` created a domain named `-x`. Zimbra's `NameUtil.validNewDomainName`
/// refuses it (and every name that `test@NAME` does not make a valid address of).
#[test]
fn new_domain_names_follow_zimbras_rules() {
    let mut dir = setup();
    for bad in [
        "-x",
        "-example.com",
        "example-.com",
        "localhost",
        ".example.com",
        "example.com.",
        "a..b",
        "\"exa mple.com\"",
        "exam@le.com",
    ] {
        let want = format!(
            "ERROR: service.INVALID_REQUEST (invalid request: invalid domain name {})",
            bad.trim_matches('"').to_ascii_lowercase()
        );
        assert_eq!(err(&mut dir, &format!("cd {bad}")), want, "cd {bad}");
        assert_eq!(
            err(&mut dir, &format!("cad {bad} example.org")),
            want,
            "cad {bad}"
        );
        assert_eq!(
            err(&mut dir, &format!("-l rd example.org {bad}")),
            want,
            "rd {bad}"
        );
    }
    assert!(dir.domain("-x").is_none());
    let long = format!("{}.com", "a".repeat(252));
    assert_eq!(
            err(&mut dir, &format!("cd {long}")),
            format!("ERROR: service.INVALID_REQUEST (invalid request: invalid domain name {long}, domain name cannot exceed 255 chars)")
        );
    // `_` is not LDH: refused only when the global config says so (default TRUE)
    run(&mut dir, "cd under_score.example").unwrap();
    run(&mut dir, "mcf zimbraAllowNonLDHCharsInDomain FALSE").unwrap();
    assert_eq!(
            err(&mut dir, "cd other_one.example"),
            "ERROR: service.INVALID_REQUEST (invalid request: invalid domain name other_one.example:  containing non-LDH characters and zimbraAllowNonLDHCharsInDomain is false)"
        );
    run(&mut dir, "cd x-1.example\ncd 1.2.example").unwrap();
}

#[test]
fn unknown_commands_and_usage() {
    let mut dir = setup();
    assert_errs(
        &mut dir,
        &[
            ("xyz a", "Unknown command: xyz"),
            (
                "ra a@example.org",
                "usage:  renameAccount(ra) {name@domain|id} {newName@domain}",
            ),
        ],
    );
    assert_eq!(run(&mut dir, "# only a comment\n\n   \n").unwrap(), "");
}

#[test]
fn rewrite_domain_helper() {
    let (o, nw): (DomainName, DomainName) = ("a.org".parse().unwrap(), "b.org".parse().unwrap());
    assert_eq!(
        rewrite_domain("x@A.org", &o, &nw).as_deref(),
        Some("x@b.org")
    );
    assert_eq!(rewrite_domain("@a.org", &o, &nw).as_deref(), Some("@b.org"));
    assert_eq!(rewrite_domain("x@c.org", &o, &nw), None);
    assert_eq!(rewrite_domain("x@sub.a.org", &o, &nw), None);
}
