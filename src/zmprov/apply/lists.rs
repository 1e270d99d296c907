//! Static distribution lists: `cdl`, `adlm`, `rdlm`, `ddl`. Members are the list's
//! `zimbraMailForwardingAddress` values; adding or removing n members costs O(n + members).

use crate::model::hash::FxSet;

use crate::model::{names as n, Alias, DistributionList};
use crate::zmprov::{AttrArg, ErrorCode};

use super::kinds::{GROUP, LIST};
use super::{merge, Cx, Res};

impl Cx<'_> {
    /// The dynamic group `key` names, when it names no static list.
    pub(super) fn dynamic(&mut self, key: &str) -> Option<String> {
        if self.lookup(&LIST, key).is_some() {
            return None;
        }
        self.lookup(&GROUP, key)
    }

    pub(super) fn create_list(&mut self, name: &str, mods: &[AttrArg]) -> Res<String> {
        let addr = self.new_address(name)?;
        let (mut bag, _) = self.create_attrs(&LIST, mods)?;
        let mut l = DistributionList {
            name: addr.clone(),
            dn: None,
            attrs: self.skeleton(
                &LIST,
                &[(n::UID, addr.local()), (n::MAIL, &addr.to_string())],
                &bag,
            ),
        };
        bag.remove(n::ZIMBRA_ID);
        l.attrs.set_one(n::MAIL_ALIAS, addr.to_string());
        if !bag.contains(n::MAIL_STATUS) {
            l.attrs.set_one(n::MAIL_STATUS, "enabled");
        }
        if let Some(dn) = bag.first(n::DISPLAY_NAME) {
            l.attrs.set_one(n::CN, dn);
        }
        if !bag.contains(n::MAIL_HOST) {
            if let Some((host, _)) = self.pick_mail_host(&addr, &[]) {
                l.attrs.set_one(n::MAIL_HOST, host);
            }
        }
        merge(&mut l.attrs, bag);
        self.put(l)?;
        Ok(String::new())
    }

    pub(super) fn add_members(&mut self, list: &str, members: &[String]) -> Res<String> {
        let key = self.find(&LIST, list)?;
        let mut clean = Vec::with_capacity(members.len());
        for m in members {
            let a = self.parse_new_address(m)?;
            if a.key() == key {
                return Err(self.invalid("Cannot add self as a member"));
            }
            if self.dir.group(&a.key()).is_some() {
                return Err(self.invalid(format!("Cannot add dynamic group as a member: {a}")));
            }
            clean.push(a.to_string());
        }
        self.edit(LIST.kind, &key, |bag| {
            bag.add_all_unique_ci(n::MAIL_FORWARDING_ADDRESS, &clean)
        });
        Ok(String::new())
    }

    pub(super) fn remove_members(&mut self, list: &str, members: &[String]) -> Res<String> {
        let key = self.find(&LIST, list)?;
        let lower: Vec<String> = members
            .iter()
            .map(|m| m.trim().to_ascii_lowercase())
            .collect();
        let present: FxSet<String> = self
            .dir
            .list(&key)
            .map(|l| {
                l.attrs
                    .values(n::MAIL_FORWARDING_ADDRESS)
                    .map(|v| v.to_string_lossy().to_ascii_lowercase())
                    .collect()
            })
            .unwrap_or_default();
        let missing: Vec<&str> = lower
            .iter()
            .filter(|m| !present.contains(m.as_str()))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(self.err(
                ErrorCode::NoSuchMember,
                format!("no such member: {}, list: {key}", missing.join(",")),
            ));
        }
        self.edit(LIST.kind, &key, |bag| {
            bag.remove_values_ci(n::MAIL_FORWARDING_ADDRESS, &lower)
        });
        Ok(String::new())
    }

    pub(super) fn delete_list(&mut self, list: &str) -> Res<String> {
        let key = self.find(&LIST, list)?;
        let (addrs, id) = match self.dir.list(&key) {
            Some(l) => {
                let mut v = vec![l.name.to_string()];
                v.extend(l.attrs.strs(n::MAIL_ALIAS).iter().map(|s| s.to_string()));
                (
                    v,
                    l.attrs.first(n::ZIMBRA_ID).unwrap_or_default().to_string(),
                )
            }
            None => (Vec::new(), String::new()),
        };
        self.take::<DistributionList>(&key);
        self.remove_from_lists(&addrs);
        for al in self.aliases_of(&id) {
            self.take::<Alias>(&al);
        }
        Ok(String::new())
    }
}
