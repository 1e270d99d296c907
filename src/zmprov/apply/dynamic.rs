//! Dynamic groups (`cddl`, and `adlm`/`rdlm`/`ddl` on a dynamic group).
//!
//! What `createDynamicGroup` writes (zimbra-facts §3.3, §4.1):
//!
//! | entry | DN | attributes |
//! |---|---|---|
//! | group | `cn=<local>,cn=groups,<domain DN>` | `groupOfURLs`, `dgIdentityAux`, `zimbraGroup`; `cn`, `mail`, `zimbraMailAlias` = the address, `zimbraId`, `zimbraCreateTimestamp`, `memberURL ldap:///??sub?(\|(zimbraMemberOf=<group id>)(zimbraId=<static unit id>))`, `zimbraIsACLGroup TRUE`, `zimbraMailStatus enabled`, `dgIdentity` |
//! | dynamic unit | `cn=internal,<group DN>` | `groupOfURLs`, `dgIdentityAux`, `zimbraGroupDynamicUnit`; `mail`, `zimbraMailAlias` = `<local>.__internal__@<domain>`, `memberURL ldap:///??sub?(zimbraMemberOf=<group id>)`, `zimbraGroupId`, `zimbraId`, `zimbraMailStatus enabled`, `dgIdentity` |
//! | static unit | `cn=external,<group DN>` | `zimbraGroupStaticUnit`; `cn`, `zimbraGroupId`, `zimbraId`; external members as `zimbraMailForwardingAddress` |
//!
//! The units are kept in [`Directory::other_entries`](crate::model::Directory) as raw entries
//! with their DNs, so the DIT writer writes them (parents first) and the simulator sees them
//! like every other entry.
//!
//! Rules where the research files are silent (documented choices, from Zimbra's own unit tests
//! of dynamic groups): `dgIdentity` is `uid=zimbra,cn=admins,cn=zimbra` (Zimbra's LDAP
//! user); the dynamic unit carries `zimbraMailStatus enabled`. `adlm` on a dynamic group adds
//! the group id to `zimbraMemberOf` of each member that names an account (by name, alias or
//! alias domain), puts any other address on the static unit, and refuses distribution lists,
//! dynamic groups and dynamic-unit addresses (`INVALID_REQUEST`). `rdlm` never reports a
//! missing member. `ddl` removes the group, its units, its alias entries, its id from every
//! `zimbraMemberOf` and its addresses from static lists. An external member leaves every static
//! unit once an account, list, group or alias takes its address (Zimbra's test
//! `externalAddrRemovedOnInternalAddrCreation`).

use crate::model::hash::FxSet;

use crate::dit::{default_dn, EntryKind};
use crate::model::{names as n, Address, Alias, AttrBag, DomainName, DynamicGroup, RawEntry};

use super::index::{Ref, Term};
use super::kinds::{ACCOUNT, GROUP, LIST};
use super::{merge, Cx, Res};
use crate::model::ObjectKind;
use crate::zmprov::{AttrArg, ErrorCode};
/// Zimbra's LDAP user, which Zimbra puts into `dgIdentity`.
const DG_IDENTITY: &str = "uid=zimbra,cn=admins,cn=zimbra";
const ZIMBRA_MEMBER_OF: &str = crate::model::names::MEMBER_OF;
const GROUP_ID: &str = "zimbraGroupId";

/// The address of a group's dynamic unit: `<local>.__internal__@<domain>`.
fn internal_address(group: &Address) -> String {
    format!("{}.__internal__@{}", group.local(), group.domain())
}

impl Cx<'_> {
    fn group_dn(&self, addr: &Address) -> Res<String> {
        if let Some(dn) = self.dir.group(&addr.key()).and_then(|g| g.dn.clone()) {
            return Ok(dn);
        }
        default_dn(EntryKind::DynamicGroup, &addr.to_string())
            .map(|d| d.as_str().to_string())
            .ok_or_else(|| self.invalid(format!("no DN for dynamic group {addr}")))
    }

    /// For each dynamic group of domain `old`: the lowercased `,<group DN>` suffix of its units
    /// and the `,<group DN>` they get when the domain is renamed to `new`.
    pub(super) fn group_unit_moves(
        &self,
        old: &DomainName,
        new: &DomainName,
    ) -> Vec<(String, String)> {
        let groups: Vec<Address> = self
            .dir
            .groups()
            .filter(|g| g.name.domain() == old)
            .map(|g| g.name.clone())
            .collect();
        groups
            .into_iter()
            .filter_map(|a| {
                let from = self.group_dn(&a).ok()?;
                let to = default_dn(EntryKind::DynamicGroup, &a.with_domain(new).to_string())?;
                Some((
                    format!(",{}", from.to_ascii_lowercase()),
                    format!(",{}", to.as_str()),
                ))
            })
            .collect()
    }

    fn unit_index(&self, group_dn: &str, unit: &str) -> Option<usize> {
        let want = format!("cn={unit},{group_dn}");
        self.dir
            .other_entries
            .iter()
            .position(|e| e.dn.eq_ignore_ascii_case(&want))
    }

    pub(super) fn create_group(&mut self, name: &str, mods: &[AttrArg]) -> Res<String> {
        let addr = self.new_address(name)?;
        let (mut bag, _) = self.create_attrs(&GROUP, mods)?;
        let dn = self.group_dn(&addr)?;
        let id = match bag.first(n::ZIMBRA_ID) {
            Some(id) => id.to_string(),
            None => self.dir.ids.next_id().to_string(),
        };
        bag.remove(n::ZIMBRA_ID);
        let static_id = self.dir.ids.next_id().to_string();
        let dynamic_id = self.dir.ids.next_id().to_string();
        let ts = self.dir.ids.timestamp.clone();

        let mut g = AttrBag::new();
        g.set(
            n::OBJECT_CLASS,
            ["groupOfURLs", "dgIdentityAux", "zimbraGroup"],
        );
        g.set_one(n::CN, addr.local());
        g.set_one(n::MAIL, addr.to_string());
        g.set_one(n::ZIMBRA_ID, id.clone());
        g.set_one(n::CREATE_TIMESTAMP, ts.clone());
        g.set_one(n::MAIL_ALIAS, addr.to_string());
        g.set_one(
            n::MEMBER_URL,
            format!("ldap:///??sub?(|(zimbraMemberOf={id})(zimbraId={static_id}))"),
        );
        g.set_one("zimbraIsACLGroup", "TRUE");
        if !bag.contains(n::MAIL_STATUS) {
            g.set_one(n::MAIL_STATUS, "enabled");
        }
        g.set_one("dgIdentity", DG_IDENTITY);
        merge(&mut g, bag);

        let internal = internal_address(&addr);
        let mut d = AttrBag::new();
        d.set(
            n::OBJECT_CLASS,
            ["groupOfURLs", "dgIdentityAux", "zimbraGroupDynamicUnit"],
        );
        d.set_one(n::CN, "internal");
        d.set_one(n::MAIL, internal.clone());
        d.set_one(n::ZIMBRA_ID, dynamic_id);
        d.set_one(GROUP_ID, id.clone());
        d.set_one(n::CREATE_TIMESTAMP, ts.clone());
        d.set_one(n::MAIL_ALIAS, internal);
        d.set_one(
            n::MEMBER_URL,
            format!("ldap:///??sub?(zimbraMemberOf={id})"),
        );
        d.set_one(n::MAIL_STATUS, "enabled");
        d.set_one("dgIdentity", DG_IDENTITY);

        let mut s = AttrBag::new();
        s.set_one(n::OBJECT_CLASS, "zimbraGroupStaticUnit");
        s.set_one(n::CN, "external");
        s.set_one(n::ZIMBRA_ID, static_id);
        s.set_one(GROUP_ID, id);
        s.set_one(n::CREATE_TIMESTAMP, ts);

        self.put(DynamicGroup {
            name: addr,
            dn: None,
            attrs: g,
        })?;
        for (unit, attrs) in [("internal", d), ("external", s)] {
            self.put_raw(RawEntry {
                dn: format!("cn={unit},{dn}"),
                attrs,
            });
        }
        Ok(String::new())
    }

    /// Whether `addr` names something that may not be a dynamic-group member: a distribution
    /// list, a dynamic group or a group's dynamic unit.
    fn non_member_address(&mut self, addr: &str) -> bool {
        if self.lookup(&LIST, addr).is_some() || self.lookup(&GROUP, addr).is_some() {
            return true;
        }
        let units: Vec<String> = self
            .index()
            .get(Term::Alias, addr)
            .filter_map(|r| match r {
                Ref::Raw(dn) => Some(dn.to_string()),
                Ref::Typed(..) => None,
            })
            .collect();
        self.dir.other_entries.iter().any(|e| {
            units.iter().any(|u| e.dn.eq_ignore_ascii_case(u))
                && e.attrs
                    .has_value_ci(n::OBJECT_CLASS, "zimbraGroupDynamicUnit")
        })
    }

    pub(super) fn add_group_members(&mut self, key: &str, members: &[String]) -> Res<String> {
        let (gaddr, gid) = self.group_identity(key)?;
        let mut internal = Vec::new();
        let mut external = Vec::new();
        for m in members {
            let a = self.parse_new_address(m)?;
            let s = a.to_string();
            if a.key() == gaddr.key() {
                return Err(self.invalid("Cannot add self as a member"));
            }
            if let Some(acct) = self.lookup(&ACCOUNT, &s) {
                internal.push(acct);
            } else if self.non_member_address(&s) {
                return Err(self.invalid(format!(
                    "{s} is not an account or an external address: only accounts and external addresses can be members of a dynamic group"
                )));
            } else {
                external.push(s);
            }
        }
        let dn = self.group_dn(&gaddr)?;
        let unit = self.unit_index(&dn, "external");
        if !external.is_empty() && unit.is_none() {
            return Err(self.invalid(format!("dynamic group {gaddr} has no static unit")));
        }
        for acct in internal {
            self.edit(ACCOUNT.kind, &acct, |bag| {
                bag.add_unique_ci(ZIMBRA_MEMBER_OF, &gid)
            });
        }
        if let Some(i) = unit {
            self.edit_raw(i, |e| {
                e.attrs
                    .add_all_unique_ci(n::MAIL_FORWARDING_ADDRESS, &external)
            });
        }
        Ok(String::new())
    }

    pub(super) fn remove_group_members(&mut self, key: &str, members: &[String]) -> Res<String> {
        let (gaddr, gid) = self.group_identity(key)?;
        let dn = self.group_dn(&gaddr)?;
        let unit = self.unit_index(&dn, "external");
        let lower: Vec<String> = members
            .iter()
            .map(|m| m.trim().to_ascii_lowercase())
            .collect();
        for m in &lower {
            if let Some(acct) = self.lookup(&ACCOUNT, m) {
                self.edit(ACCOUNT.kind, &acct, |bag| {
                    bag.remove_value_ci(ZIMBRA_MEMBER_OF, &gid)
                });
            }
        }
        if let Some(i) = unit {
            self.edit_raw(i, |e| {
                e.attrs.remove_values_ci(n::MAIL_FORWARDING_ADDRESS, &lower)
            });
        }
        Ok(String::new())
    }

    pub(super) fn delete_group(&mut self, key: &str) -> Res<String> {
        let (gaddr, gid) = self.group_identity(key)?;
        let dn = self.group_dn(&gaddr)?;
        let mut addrs = vec![gaddr.to_string()];
        if let Some(g) = self.dir.group(&gaddr.key()) {
            addrs.extend(g.attrs.strs(n::MAIL_ALIAS).iter().map(|s| s.to_string()));
        }
        let suffix = format!(",{}", dn.to_ascii_lowercase());
        self.take_raw(|e| e.dn.to_ascii_lowercase().ends_with(&suffix));
        let keys: Vec<String> = self
            .dir
            .accounts()
            .filter(|a| a.attrs.has_value_ci(ZIMBRA_MEMBER_OF, &gid))
            .map(|a| a.name.key())
            .collect();
        for k in keys {
            self.edit(ACCOUNT.kind, &k, |bag| {
                bag.remove_value_ci(ZIMBRA_MEMBER_OF, &gid)
            });
        }
        self.take::<DynamicGroup>(&gaddr.key());
        self.remove_from_lists(&addrs);
        for al in self.aliases_of(&gid) {
            self.take::<Alias>(&al);
        }
        Ok(String::new())
    }

    /// Zimbra removes an external member from every static unit once an account, list or
    /// group (or an alias of one) takes its address; called after the commands that create
    /// addresses. Costs the static units' members (each checked against the index), not the
    /// directory.
    pub(super) fn drop_external_members_now_internal(&mut self) {
        let unit_has_members = |e: &RawEntry| {
            e.attrs
                .has_value_ci(n::OBJECT_CLASS, "zimbraGroupStaticUnit")
                && e.attrs.contains(n::MAIL_FORWARDING_ADDRESS)
        };
        let units: Vec<usize> = (0..self.dir.other_entries.len())
            .filter(|&i| unit_has_members(&self.dir.other_entries[i]))
            .collect();
        if units.is_empty() {
            return;
        }
        self.index();
        let Some(idx) = &self.index else {
            return;
        };
        // internal: the delivery address, an alias or a mail of an account, list or group
        let internal = |v: &str| {
            [Term::Delivery, Term::Alias, Term::Mail].iter().any(|&t| {
                idx.get(t, v).any(|r| {
                    matches!(
                        r,
                        Ref::Typed(
                            ObjectKind::Account
                                | ObjectKind::DistributionList
                                | ObjectKind::DynamicGroup,
                            _
                        )
                    )
                })
            })
        };
        let mut gone: Vec<(usize, Vec<String>)> = Vec::new();
        for i in units {
            let g: Vec<String> = self.dir.other_entries[i]
                .attrs
                .strs(n::MAIL_FORWARDING_ADDRESS)
                .into_iter()
                .filter(|v| internal(v))
                .map(str::to_string)
                .collect();
            if !g.is_empty() {
                gone.push((i, g));
            }
        }
        for (i, g) in gone {
            let set: FxSet<String> = g.iter().map(|v| v.to_ascii_lowercase()).collect();
            self.edit_raw(i, |e| {
                e.attrs
                    .remove_values_ci(n::MAIL_FORWARDING_ADDRESS, set.iter())
            });
        }
    }

    /// The address and id of the dynamic group with key `key`.
    fn group_identity(&self, key: &str) -> Res<(Address, String)> {
        self.dir
            .group(key)
            .and_then(|g| Some((g.name.clone(), g.attrs.first(n::ZIMBRA_ID)?.to_string())))
            .ok_or_else(|| {
                self.err(
                    ErrorCode::NoSuchDistributionList,
                    format!("no such distribution list: {key}"),
                )
            })
    }
}

#[cfg(test)]
mod dyn_tests {
    use super::super::run;
    use crate::model::Directory;

    fn setup() -> Directory {
        let mut dir = Directory::new();
        run(
            &mut dir,
            "cs mbx.example.org zimbraServiceEnabled mailbox\ncd example.org\ncd other.org\n\
             ca alice@example.org pw\nca bob@example.org pw\naaa bob@example.org robert@example.org\n\
             cdl list@example.org",
        )
        .unwrap();
        dir
    }

    fn err(dir: &mut Directory, script: &str) -> String {
        run(dir, script).unwrap_err().to_string()
    }

    fn unit<'a>(dir: &'a Directory, cn: &str) -> &'a crate::model::RawEntry {
        let want = format!("cn={cn},cn=team,cn=groups,dc=example,dc=org");
        dir.other_entries.iter().find(|e| e.dn == want).unwrap()
    }

    #[test]
    fn cddl_writes_group_and_units() {
        let mut dir = setup();
        run(&mut dir, "cddl Team@Example.org displayName Team").unwrap();
        let g = dir.group("team@example.org").unwrap();
        let gid = g.attrs.first("zimbraId").unwrap().to_string();
        assert_eq!(
            g.attrs.strs("objectClass"),
            ["groupOfURLs", "dgIdentityAux", "zimbraGroup"]
        );
        assert_eq!(g.attrs.first("mail"), Some("team@example.org"));
        assert_eq!(g.attrs.first("zimbraMailAlias"), Some("team@example.org"));
        assert_eq!(g.attrs.first("zimbraMailStatus"), Some("enabled"));
        assert_eq!(g.attrs.first("zimbraIsACLGroup"), Some("TRUE"));
        assert_eq!(g.attrs.first("displayName"), Some("Team"));
        let ext = unit(&dir, "external");
        let sid = ext.attrs.first("zimbraId").unwrap();
        assert_eq!(
            g.attrs.first("memberURL").unwrap(),
            format!("ldap:///??sub?(|(zimbraMemberOf={gid})(zimbraId={sid}))")
        );
        assert_eq!(ext.attrs.first("zimbraGroupId"), Some(gid.as_str()));
        assert_eq!(
            ext.attrs.first("objectClass"),
            Some("zimbraGroupStaticUnit")
        );
        let int = unit(&dir, "internal");
        assert_eq!(
            int.attrs.first("zimbraMailAlias"),
            Some("team.__internal__@example.org")
        );
        assert_eq!(
            int.attrs.first("memberURL").unwrap(),
            format!("ldap:///??sub?(zimbraMemberOf={gid})")
        );
        assert_ne!(int.attrs.first("zimbraId"), Some(sid));
        // the DIT writer writes the units after their group
        let dns: Vec<String> = crate::dit::entries(&dir)
            .unwrap()
            .into_iter()
            .map(|e| e.dn)
            .collect();
        let pos = |dn: &str| dns.iter().position(|d| d == dn).unwrap();
        let gdn = "cn=team,cn=groups,dc=example,dc=org";
        assert!(pos(gdn) < pos(&format!("cn=internal,{gdn}")));
        assert!(pos(gdn) < pos(&format!("cn=external,{gdn}")));
    }

    #[test]
    fn group_and_units_round_trip_through_ldif() {
        let mut dir = setup();
        run(
            &mut dir,
            "cddl team@example.org\nadlm team@example.org alice@example.org x@other.org",
        )
        .unwrap();
        let mut ldif = Vec::new();
        crate::dit::write_directory(&dir, &mut ldif, &crate::dit::WriteOptions::slapadd()).unwrap();
        let back = crate::dit::read_directory(ldif.as_slice()).unwrap();
        assert_eq!(
            back.group("team@example.org").map(|g| &g.attrs),
            dir.group("team@example.org").map(|g| &g.attrs)
        );
        for cn in ["internal", "external"] {
            assert_eq!(unit(&back, cn).attrs, unit(&dir, cn).attrs, "{cn}");
        }
        assert_eq!(
            back.account("alice@example.org").map(|a| &a.attrs),
            dir.account("alice@example.org").map(|a| &a.attrs)
        );
    }

    /// Zimbra's own test (externalAddrRemovedOnInternalAddrCreation): an external member
    /// leaves the group when a list, group, account or alias takes its address.
    #[test]
    fn external_members_leave_when_their_address_becomes_internal() {
        let mut dir = setup();
        run(
            &mut dir,
            "cddl team@example.org\n\
             adlm team@example.org a1@example.org a2@example.org a3@example.org a4@example.org a5@example.org a6@example.org x@other.org\n\
             cdl a1@example.org\ncddl a2@example.org\nca a3@example.org pw\n\
             aaa alice@example.org a4@example.org\n-l ra bob@example.org a5@example.org",
        )
        .unwrap();
        assert_eq!(
            unit(&dir, "external")
                .attrs
                .strs("zimbraMailForwardingAddress"),
            ["a6@example.org", "x@other.org"]
        );
    }

    #[test]
    fn cddl_errors() {
        let mut dir = setup();
        assert!(err(&mut dir, "cddl alice@example.org").contains("already exists"));
        assert!(err(&mut dir, "cddl list@example.org").contains("already exists"));
        assert!(err(&mut dir, "cddl x@nowhere.org").contains("NO_SUCH_DOMAIN"));
        assert!(err(&mut dir, "cddl bogus").contains("INVALID_REQUEST"));
        assert!(err(&mut dir, "cddl g@example.org zimbraNoSuchAttr 1").contains("INVALID_ATTR"));
        run(&mut dir, "cddl team@example.org").unwrap();
        assert!(err(&mut dir, "cddl team@example.org").contains("already exists"));
    }

    #[test]
    fn adlm_rdlm_on_a_dynamic_group() {
        let mut dir = setup();
        run(
            &mut dir,
            "cddl team@example.org\nadlm team@example.org alice@example.org Robert@example.org x@other.org nobody@example.org x@other.org",
        )
        .unwrap();
        let gid = dir
            .group("team@example.org")
            .unwrap()
            .attrs
            .first("zimbraId")
            .unwrap()
            .to_string();
        for a in ["alice@example.org", "bob@example.org"] {
            assert_eq!(
                dir.account(a).unwrap().attrs.strs("zimbraMemberOf"),
                [gid.as_str()]
            );
        }
        assert_eq!(
            unit(&dir, "external")
                .attrs
                .strs("zimbraMailForwardingAddress"),
            ["x@other.org", "nobody@example.org"]
        );
        // refused members, and nothing applied from a refused command
        for bad in [
            "team@example.org",
            "list@example.org",
            "team.__internal__@example.org",
            "bogus",
        ] {
            let e = err(
                &mut dir,
                &format!("adlm team@example.org y@other.org {bad}"),
            );
            assert!(e.contains("INVALID_REQUEST"), "{bad}: {e}");
        }
        run(&mut dir, "cddl other@example.org").unwrap();
        assert!(
            err(&mut dir, "adlm team@example.org other@example.org").contains("INVALID_REQUEST")
        );
        assert!(!unit(&dir, "external")
            .attrs
            .has_value_ci("zimbraMailForwardingAddress", "y@other.org"));
        // a static list may not hold a dynamic group either
        assert!(err(&mut dir, "adlm list@example.org team@example.org").contains("dynamic group"));
        run(
            &mut dir,
            "rdlm team@example.org bob@example.org X@other.org not@there.org",
        )
        .unwrap();
        assert!(dir
            .account("bob@example.org")
            .unwrap()
            .attrs
            .strs("zimbraMemberOf")
            .is_empty());
        assert_eq!(
            unit(&dir, "external")
                .attrs
                .strs("zimbraMailForwardingAddress"),
            ["nobody@example.org"]
        );
        assert!(
            err(&mut dir, "adlm nogroup@example.org a@b.org").contains("NO_SUCH_DISTRIBUTION_LIST")
        );
    }

    #[test]
    fn rename_domain_moves_the_units() {
        let mut dir = setup();
        run(
            &mut dir,
            "cddl team@example.org\nadlm team@example.org x@example.org\n-l rd example.org example.net",
        )
        .unwrap();
        assert!(dir.group("team@example.net").is_some());
        let gdn = "cn=team,cn=groups,dc=example,dc=net";
        let int = dir
            .other_entries
            .iter()
            .find(|e| e.dn == format!("cn=internal,{gdn}"))
            .unwrap();
        assert_eq!(
            int.attrs.first("zimbraMailAlias"),
            Some("team.__internal__@example.net")
        );
        let ext = dir
            .other_entries
            .iter()
            .find(|e| e.dn == format!("cn=external,{gdn}"))
            .unwrap();
        assert_eq!(
            ext.attrs.strs("zimbraMailForwardingAddress"),
            ["x@example.net"]
        );
        assert!(!dir.other_entries.iter().any(|e| e.dn.contains("dc=org")));
    }

    #[test]
    fn ddl_removes_group_units_and_memberships() {
        let mut dir = setup();
        run(
            &mut dir,
            "cddl team@example.org\nadlm team@example.org alice@example.org x@other.org\nadlm list@example.org team@example.org",
        )
        .unwrap_err();
        run(&mut dir, "adlm list@example.org x@other.org").unwrap();
        let before = dir.other_entries.len();
        run(&mut dir, "ddl team@example.org").unwrap();
        assert!(dir.group("team@example.org").is_none());
        assert_eq!(dir.other_entries.len(), before - 2);
        assert!(dir
            .account("alice@example.org")
            .unwrap()
            .attrs
            .strs("zimbraMemberOf")
            .is_empty());
        assert!(err(&mut dir, "ddl team@example.org").contains("NO_SUCH_DISTRIBUTION_LIST"));
        // the name is free again
        run(&mut dir, "cddl team@example.org").unwrap();
    }
}
