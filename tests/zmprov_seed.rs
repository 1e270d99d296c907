//! Every zmprov command of the seed runbook that targets a Zimbra server, replayed in the
//! runbook's order against a model, with the attributes Zimbra would store asserted.
//! The command lines are copied into tests/data/zmprov/seed/.

use zimbra_prov::model::{Directory, MailRecipient};
use zimbra_prov::zmprov::{self, ErrorCode};

fn script(name: &str) -> String {
    let path = format!(
        "{}/tests/data/zmprov/seed/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn replay(dir: &mut Directory, name: &str) -> String {
    zmprov::run(dir, &script(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn split_domain_primary_then_user_migration() {
    let mut dir = Directory::new();
    replay(&mut dir, "01-split-domain-primary.zmprov");
    let u = dir
        .account("secondary-user@yyy.state.xx.us")
        .expect("account created");
    let a = &u.attrs;
    assert_eq!(
        a.first("zimbraMailDeliveryAddress"),
        Some("secondary-user@yyy.state.xx.us")
    );
    assert_eq!(a.first("mail"), Some("secondary-user@yyy.state.xx.us"));
    assert_eq!(a.first("uid"), Some("secondary-user"));
    assert_eq!(a.first("cn"), Some("secondary-user"));
    assert_eq!(a.first("sn"), Some("secondary-user"));
    assert_eq!(a.first("zimbraAccountStatus"), Some("active"));
    assert_eq!(a.first("zimbraMailStatus"), Some("enabled"));
    assert_eq!(a.first("zimbraMailHost"), Some("primary.yyy.state.xx.us"));
    assert_eq!(
        a.first("zimbraMailTransport"),
        Some("smtp:secondary.YYY.state.XX.us:25"),
        "ma replaces the lmtp transport ca chose"
    );
    assert_eq!(
        a.strs("objectClass"),
        ["inetOrgPerson", "zimbraAccount", "amavisAccount"]
    );
    assert!(u.id().unwrap().is_some());
    assert!(
        a.first("userPassword").is_none(),
        "the model stores no secrets"
    );

    replay(&mut dir, "03-split-domain-migrate-user.zmprov");
    let u = dir.account("secondary-user@yyy.state.xx.us").unwrap();
    assert_eq!(
        u.transport().unwrap().unwrap().to_string(),
        "lmtp:primary.YYY.state.XX.us:7025"
    );
}

#[test]
fn split_domain_secondary_then_unset() {
    let mut dir = Directory::new();
    replay(&mut dir, "02-split-domain-secondary.zmprov");
    let d = dir.domain("yyy.state.xx.us").unwrap();
    assert_eq!(
        d.attrs.first("zimbraMailCatchAllAddress"),
        Some("@YYY.state.XX.us")
    );
    assert_eq!(
        d.attrs.first("zimbraMailCatchAllForwardingAddress"),
        Some("@YYY.state.XX.us")
    );
    assert_eq!(
        d.attrs.first("zimbraMailTransport"),
        Some("smtp:primary.YYY.state.XX.us")
    );
    assert_eq!(
        d.catch_all_addresses().unwrap()[0].as_str(),
        "yyy.state.xx.us"
    );
    assert_eq!(
        dir.config.attrs.first("zimbraMtaRelayHost"),
        Some("primary.YYY.state.XX.us")
    );
    assert_eq!(
        dir.config.attrs.first("zimbraMtaDnsLookupsEnabled"),
        Some("FALSE")
    );

    replay(&mut dir, "04-split-domain-unset.zmprov");
    let d = dir.domain("yyy.state.xx.us").unwrap();
    assert!(!d.attrs.contains("zimbraMailCatchAllAddress"));
    assert!(!d.attrs.contains("zimbraMailCatchAllForwardingAddress"));
    assert_eq!(
        d.attrs.first("zimbraMailTransport"),
        Some("lmtp:secondary.YYY.state.XX.us:7025")
    );
    assert!(!dir.config.attrs.contains("zimbraMtaRelayHost"));
    assert_eq!(
        dir.config.attrs.first("zimbraMtaDnsLookupsEnabled"),
        Some("TRUE")
    );
}

#[test]
fn literal_unset_line_of_the_runbook_is_a_usage_error() {
    let mut dir = Directory::new();
    replay(&mut dir, "02-split-domain-secondary.zmprov");
    let err = zmprov::run(&mut dir, "zmprov md domain.com zimbraMailCatchAllAddress ").unwrap_err();
    assert_eq!(err.code(), ErrorCode::Usage);
    assert_eq!(
        err.to_string(),
        "line 1: usage:  modifyDomain(md) {domain|id} [attr1 value1 [attr2 value2...]]"
    );
}

#[test]
fn hosting_customer_relays_to_the_sub_domain() {
    let mut dir = Directory::new();
    replay(&mut dir, "05-hosting-customer-zcs.zmprov");
    let d = dir.domain("example.com").unwrap();
    assert_eq!(
        d.attrs.first("zimbraMailCatchAllAddress"),
        Some("@migrate.company.com")
    );
    assert_eq!(
        d.catch_all_forwarding().unwrap().unwrap().as_str(),
        "migrate.company.com"
    );
    assert_eq!(
        d.transport().unwrap().unwrap().to_string(),
        "smtp:mta.HOSTING-COMPANY.com"
    );
}

#[test]
fn hosting_company_cos_domain_and_account_move() {
    let mut dir = Directory::new();
    let text = script("06-hosting-company-zcs.zmprov");
    // run up to the "gc" line, read the id it prints, then substitute it as the admin would
    let (head, tail) = text.split_once("zmprov cd company.com").unwrap();
    let printed = zmprov::run(&mut dir, head).unwrap();
    let id = printed
        .lines()
        .find_map(|l| l.strip_prefix("zimbraId: "))
        .expect("gc prints the zimbraId")
        .to_string();
    assert!(printed.starts_with("# name companycos\n"), "{printed}");
    let tail = format!("zmprov cd company.com{}", tail).replace("${COMPANY_COS_ID}", &id);
    zmprov::run(&mut dir, &tail).unwrap();

    let sub = dir.domain("migrate.company.com").unwrap();
    assert_eq!(
        sub.attrs.first("zimbraMailCatchAllCanonicalAddress"),
        Some("@company.com")
    );
    assert_eq!(
        sub.attrs.first("zimbraMailCatchAllAddress"),
        Some("@migrate.company.com")
    );
    assert_eq!(
        dir.config.attrs.first("zimbraMtaRelayHost"),
        Some("mta.COMPANY.com")
    );
    let cos = dir.cos("companycos").unwrap();
    // cc copies the default COS (but not its id, name or description)
    assert_eq!(cos.attrs.first("zimbraMailQuota"), Some("0"));
    assert_eq!(cos.attrs.first("cn"), Some("companycos"));
    assert_ne!(
        cos.attrs.first("zimbraId"),
        dir.cos("default").unwrap().attrs.first("zimbraId")
    );
    let company = dir.domain("company.com").unwrap();
    assert_eq!(
        company.attrs.first("zimbraDomainDefaultCOSId"),
        Some(id.as_str())
    );

    // ra moved userA into the split domain
    assert!(dir.account("usera@company.com").is_none());
    let a = dir.account("usera@migrate.company.com").unwrap();
    assert_eq!(
        a.attrs.first("zimbraMailDeliveryAddress"),
        Some("usera@migrate.company.com")
    );
    assert_eq!(a.attrs.strs("mail"), ["usera@migrate.company.com"]);
    assert_eq!(a.attrs.first("uid"), Some("usera"));
    // the COS came from the domain default before the move, and ra leaves transports alone
    assert_eq!(
        a.attrs.first("zimbraMailTransport"),
        Some("lmtp:mta.hosting-company.com:7025")
    );
}

#[test]
fn hosting_domain_rename_moves_everything() {
    let mut dir = Directory::new();
    replay(&mut dir, "07-hosting-domain-rename.zmprov");
    assert!(dir.domain("company.com").is_none());
    let d = dir.domain("migrate.company.com").unwrap();
    assert_eq!(
        d.attrs.first("zimbraDomainName"),
        Some("migrate.company.com")
    );
    assert_eq!(d.attrs.first("o"), Some("migrate.company.com domain"));
    assert_eq!(d.attrs.first("dc"), Some("migrate"));
    assert_eq!(d.attrs.first("zimbraDomainStatus"), Some("active"));
    // the domain entry's own attributes are copied, not rewritten (Zimbra's RenameDomain)
    assert_eq!(
        d.attrs.first("zimbraMailCatchAllAddress"),
        Some("@company.com")
    );
    let b = dir.account("userb@migrate.company.com").unwrap();
    assert_eq!(
        b.attrs.first("zimbraMailDeliveryAddress"),
        Some("userb@migrate.company.com")
    );
    assert_eq!(
        b.attrs.strs("mail"),
        ["userb@migrate.company.com", "bee@migrate.company.com"]
    );
    assert_eq!(b.attrs.strs("zimbraMailAlias"), ["bee@migrate.company.com"]);
    assert!(dir.alias("bee@migrate.company.com").is_some());
    assert!(dir.alias("bee@company.com").is_none());
    let l = dir.list("staff@migrate.company.com").unwrap();
    assert_eq!(
        l.attrs.strs("zimbraMailForwardingAddress"),
        [
            "usera@migrate.company.com",
            "userb@migrate.company.com",
            "outside@example.net"
        ]
    );
    assert_eq!(
        l.attrs.strs("zimbraMailAlias"),
        ["staff@migrate.company.com"]
    );
}

#[test]
fn same_server_account_renames() {
    let mut dir = Directory::new();
    replay(&mut dir, "08-same-server-renames.zmprov");
    let a = dir.account("usera@domainb.com").unwrap();
    assert_eq!(
        a.attrs.first("zimbraMailDeliveryAddress"),
        Some("usera@domainb.com")
    );
    // the alias in the old domain moves with the account
    assert_eq!(a.attrs.strs("zimbraMailAlias"), ["a.alias@domainb.com"]);
    assert!(dir.alias("a.alias@domainb.com").is_some());
    assert!(dir.alias("a.alias@domaina.com").is_none());
    let b = dir.account("userb@domaina.com").unwrap();
    assert_eq!(b.attrs.first("uid"), Some("userb"));
    assert_eq!(b.attrs.first("cn"), Some("userb"));
    assert!(dir.account("userc@domaina.com").is_none());

    // "zmprov -l rd domainA.com domainB.com" with domainB.com present is refused
    let err = zmprov::run(&mut dir, "zmprov -l rd domainA.com domainB.com").unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 1: ERROR: account.DOMAIN_EXISTS (domain already exists: domainb.com)"
    );
    // and without -l it is refused as zmprov refuses it
    let err = zmprov::run(&mut dir, "rd domainA.com domainC.com").unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidRequest);
}
