//! Property tests of the zmprov parser: typed commands print as zmprov lines that parse back to
//! the same command, and no input makes the parser or the interpreter panic.

use proptest::prelude::*;
use zimbra_prov::model::Directory;
use zimbra_prov::zmprov::{self, parse_script, AttrArg, AttrOp, Command};

fn word() -> impl Strategy<Value = String> {
    // any printable text, including quotes, spaces, '#', '$' and backslashes
    prop_oneof!["[a-zA-Z0-9@.:_+-]{1,20}", "[ -~]{0,20}", "\\PC{0,12}",]
        .prop_filter("no line breaks", |s: &String| {
            !s.contains(['\n', '\r']) && !s.chars().any(char::is_control)
        })
}

fn attr_name() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9]{0,30}"
}

fn attr_args() -> impl Strategy<Value = Vec<AttrArg>> {
    prop::collection::vec(
        (
            prop_oneof![
                Just(AttrOp::Replace),
                Just(AttrOp::Add),
                Just(AttrOp::Remove)
            ],
            attr_name(),
            word(),
        )
            .prop_map(|(op, name, value)| AttrArg { op, name, value }),
        0..4,
    )
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        (word(), attr_args()).prop_map(|(name, attrs)| Command::CreateServer { name, attrs }),
        (word(), attr_args()).prop_map(|(server, attrs)| Command::ModifyServer { server, attrs }),
        (word(), attr_args()).prop_map(|(name, attrs)| Command::CreateDomain { name, attrs }),
        (word(), word(), attr_args()).prop_map(|(alias, target, attrs)| {
            Command::CreateAliasDomain {
                alias,
                target,
                attrs,
            }
        }),
        (word(), attr_args()).prop_map(|(domain, attrs)| Command::ModifyDomain { domain, attrs }),
        word().prop_map(|domain| Command::DeleteDomain { domain }),
        (word(), word()).prop_map(|(domain, new_name)| Command::RenameDomain { domain, new_name }),
        (word(), attr_args()).prop_map(|(name, attrs)| Command::CreateCos { name, attrs }),
        (word(), attr_args()).prop_map(|(cos, attrs)| Command::ModifyCos { cos, attrs }),
        (word(), prop::collection::vec(attr_name(), 0..3))
            .prop_map(|(cos, attrs)| Command::GetCos { cos, attrs }),
        (word(), word(), attr_args()).prop_map(|(name, password, attrs)| Command::CreateAccount {
            name,
            password,
            attrs
        }),
        (word(), attr_args())
            .prop_map(|(account, attrs)| Command::ModifyAccount { account, attrs }),
        (word(), prop::collection::vec(attr_name(), 0..3))
            .prop_map(|(account, attrs)| Command::GetAccount { account, attrs }),
        word().prop_map(|account| Command::DeleteAccount { account }),
        (word(), word())
            .prop_map(|(account, new_name)| Command::RenameAccount { account, new_name }),
        (word(), word()).prop_map(|(account, alias)| Command::AddAccountAlias { account, alias }),
        (word(), word())
            .prop_map(|(account, alias)| Command::RemoveAccountAlias { account, alias }),
        (word(), attr_args())
            .prop_map(|(name, attrs)| Command::CreateDistributionList { name, attrs }),
        (word(), prop::collection::vec(word(), 1..4))
            .prop_map(|(list, members)| Command::AddDistributionListMember { list, members }),
        (word(), prop::collection::vec(word(), 1..4))
            .prop_map(|(list, members)| Command::RemoveDistributionListMember { list, members }),
        word().prop_map(|list| Command::DeleteDistributionList { list }),
        attr_args()
            .prop_filter("mcf needs an attribute", |a| !a.is_empty())
            .prop_map(|attrs| Command::ModifyConfig { attrs }),
        attr_name().prop_map(|attr| Command::GetConfig { attr }),
        (word(), prop::collection::vec(attr_name(), 0..3))
            .prop_map(|(domain, attrs)| Command::GetDomain { domain, attrs }),
        (word(), prop::collection::vec(attr_name(), 0..3))
            .prop_map(|(server, attrs)| Command::GetServer { server, attrs }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn commands_print_and_parse_back(cmd in command()) {
        let line = cmd.to_string();
        let parsed = parse_script(&line).map_err(|e| TestCaseError::fail(format!("{line:?}: {e}")))?;
        prop_assert_eq!(parsed.len(), 1, "{:?}", line);
        prop_assert_eq!(&parsed[0].command, &cmd, "{:?}", line);
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse_script(&text);
        let mut dir = Directory::new();
        let _ = zmprov::run(&mut dir, &text);
    }

    #[test]
    fn plausible_scripts_never_panic(cmds in prop::collection::vec(command(), 1..12)) {
        let mut dir = Directory::new();
        zmprov::run(&mut dir, "cs mbx.example.org\ncd example.org\nca a@example.org pw").unwrap();
        for c in cmds {
            let _ = zmprov::run(&mut dir, &c.to_string());
        }
    }
}
