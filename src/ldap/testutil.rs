//! Change builders shared by the module's unit tests.

use crate::dn::Dn;
use crate::ldif::{Attr, Change, ChangeOp, ModOp, Modification};

pub(super) fn dn(s: &str) -> Dn {
    Dn::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

pub(super) fn account(local: &str) -> Change {
    Change::new(
        dn(&format!("uid={local},ou=people,dc=example,dc=com")),
        ChangeOp::Add(vec![
            Attr::new("objectClass", "inetOrgPerson"),
            Attr::new("objectClass", "zimbraAccount"),
            Attr::new("uid", local),
            Attr::new("cn", local),
            Attr::new("sn", local),
            Attr::new("zimbraAccountStatus", "active"),
            Attr::new(
                "zimbraId",
                format!(
                    "5a8c2b1e-3d4f-4a6b-9c8d-{:012x}",
                    local.bytes().fold(0u64, |h, b| h * 31 + u64::from(b))
                ),
            ),
        ]),
    )
}

pub(super) fn modify(d: &str, op: ModOp, attr: &str, values: &[&str]) -> Change {
    Change::new(
        dn(d),
        ChangeOp::Modify(vec![Modification {
            op,
            attribute: attr.to_string(),
            values: values.iter().map(|v| v.as_bytes().to_vec()).collect(),
        }]),
    )
}
