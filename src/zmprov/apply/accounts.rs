//! Accounts: `ca`, `da`, `ra`, `aaa`, `raa` (`ma` and `ga` are the generic path).

use crate::model::{names as n, Account, Address, Alias, AttrBag, ObjectKind, Transport};
use crate::zmprov::{AttrArg, ErrorCode, ZmprovError};

use super::index::{Ref, Term};
use super::kinds::{ACCOUNT, LIST};
use super::{merge, rewrite_domain, Cx, Res};

impl Cx<'_> {
    pub(super) fn create_account(
        &mut self,
        name: &str,
        _password: &str,
        mods: &[AttrArg],
    ) -> Res<String> {
        let addr = self.new_address(name)?;
        // the model never stores passwords: the argument is only required to be there
        for forbidden in [n::UID, n::MAIL_ALIAS, n::MAIL_DELIVERY_ADDRESS] {
            if mods.iter().any(|m| m.name.eq_ignore_ascii_case(forbidden)) {
                return Err(
                    self.invalid(format!("invalid attribute for CreateAccount: {forbidden}"))
                );
            }
        }
        let (mut bag, mut touched) = self.create_attrs(&ACCOUNT, mods)?;
        let mut a = Account::new(addr.clone());
        let local = addr.local().to_string();
        a.attrs = self.skeleton(
            &ACCOUNT,
            &[(n::UID, &local), (n::MAIL, &addr.to_string())],
            &bag,
        );
        bag.remove(n::ZIMBRA_ID);
        if !bag.contains(n::ACCOUNT_STATUS) {
            bag.set_one(n::ACCOUNT_STATUS, "active");
            touched.names.insert(n::ACCOUNT_STATUS.to_ascii_lowercase());
        }
        self.account_status_callback(&mut bag, &touched)?;
        // mail host and transport
        if !bag.contains(n::MAIL_TRANSPORT) {
            let chosen = match bag.first(n::MAIL_HOST).map(str::to_string) {
                Some(h) => Some(self.mail_host_server(&h)?),
                None => {
                    let mut probe = Account::new(addr.clone());
                    if let Some(c) = bag.first(n::COS_ID) {
                        probe.attrs.set_one(n::COS_ID, c);
                    }
                    let pool: Vec<String> = self
                        .dir
                        .cos_of(&probe)
                        .map(|c| {
                            c.attrs
                                .strs(n::MAIL_HOST_POOL)
                                .iter()
                                .map(|s| s.to_string())
                                .collect()
                        })
                        .unwrap_or_default();
                    self.pick_mail_host(&addr, &pool)
                }
            };
            if let Some((host, port)) = chosen {
                bag.set_one(n::MAIL_HOST, &host);
                bag.set_one(n::MAIL_TRANSPORT, Transport::lmtp(&host, port).to_string());
            }
        }
        if !(bag.contains(n::MAIL_HOST) || bag.contains(n::MAIL_TRANSPORT)) {
            return Err(
                self.invalid("missing zimbraMailHost or zimbraMailTransport for CreateAccount")
            );
        }
        if !bag.contains(n::MAIL_STATUS) {
            bag.set_one(n::MAIL_STATUS, "enabled");
        }
        a.attrs.set_one(n::MAIL_DELIVERY_ADDRESS, addr.to_string());
        for key in [
            n::ACCOUNT_STATUS,
            n::MAIL_STATUS,
            n::MAIL_HOST,
            n::MAIL_TRANSPORT,
        ] {
            let vals = bag.remove(key);
            a.attrs.set(key, vals);
        }
        let cn = bag
            .first(n::DISPLAY_NAME)
            .map(str::to_string)
            .unwrap_or_else(|| local.clone());
        if !bag.contains(n::CN) {
            a.attrs.set_one(n::CN, cn);
        }
        if !bag.contains(n::SN) {
            a.attrs.set_one(n::SN, &local);
        }
        merge(&mut a.attrs, bag);
        self.put(a)?;
        Ok(String::new())
    }

    /// The account's name and its `zimbraMailAlias` values.
    pub(super) fn account_addresses(&self, key: &str) -> Vec<String> {
        let Some(a) = self.dir.account(key) else {
            return Vec::new();
        };
        let mut v = vec![a.name.to_string()];
        v.extend(a.attrs.strs(n::MAIL_ALIAS).iter().map(|s| s.to_string()));
        v
    }

    /// Removes `addrs` from the members of every distribution list (one pass per list).
    pub(super) fn remove_from_lists(&mut self, addrs: &[String]) {
        let keys: Vec<String> = self.dir.lists().map(|l| l.name.key()).collect();
        for k in keys {
            self.edit(LIST.kind, &k, |bag| {
                bag.remove_values_ci(n::MAIL_FORWARDING_ADDRESS, addrs)
            });
        }
    }

    /// The alias entries that point at `id`.
    pub(super) fn aliases_of(&mut self, id: &str) -> Vec<String> {
        self.index()
            .get(Term::Target, id)
            .filter_map(|r| match r {
                Ref::Typed(ObjectKind::Alias, key) => Some(key.to_string()),
                _ => None,
            })
            .collect()
    }

    pub(super) fn delete_account(&mut self, account: &str) -> Res<String> {
        let key = self.find(&ACCOUNT, account)?;
        let addrs = self.account_addresses(&key);
        self.remove_from_lists(&addrs);
        if let Some(id) = self
            .dir
            .account(&key)
            .and_then(|a| a.attrs.first(n::ZIMBRA_ID))
            .map(str::to_string)
        {
            for al in self.aliases_of(&id) {
                self.take::<Alias>(&al);
            }
        }
        self.take::<Account>(&key);
        Ok(String::new())
    }

    pub(super) fn rename_account(&mut self, account: &str, new_name: &str) -> Res<String> {
        let key = self.find(&ACCOUNT, account)?;
        let new = self.parse_new_address(new_name)?;
        let Some(acct) = self.dir.account(&key) else {
            return Err(self.not_found(&ACCOUNT, account));
        };
        let old = acct.name.clone();
        if self.dir.domain(new.domain().as_str()).is_none() {
            return Err(self.err(
                ErrorCode::NoSuchDomain,
                format!("no such domain: {}", new.domain()),
            ));
        }
        let domain_changed = old.domain() != new.domain();
        if domain_changed {
            self.local_domain(new.domain())?;
        }
        if new != old {
            self.ensure_free(&new)?;
        }
        let (od, nd) = (old.domain().clone(), new.domain().clone());
        let rewrite = |v: &str| -> String {
            if v.eq_ignore_ascii_case(&old.to_string()) {
                return new.to_string();
            }
            if domain_changed {
                if let Some(r) = rewrite_domain(v, &od, &nd) {
                    if !r.starts_with('@') {
                        return r;
                    }
                }
            }
            v.to_string()
        };
        let mut a = acct.clone();
        let id = a.attrs.first(n::ZIMBRA_ID).unwrap_or_default().to_string();
        let old_aliases: Vec<String> = a
            .attrs
            .strs(n::MAIL_ALIAS)
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.attrs.set_one(n::MAIL_DELIVERY_ADDRESS, new.to_string());
        if a.attrs
            .has_value_ci("zimbraPrefFromAddress", &old.to_string())
        {
            a.attrs.set_one("zimbraPrefFromAddress", new.to_string());
        }
        for attr in [
            n::MAIL,
            n::MAIL_ALIAS,
            "zimbraPrefAllowAddressForDelegatedSender",
        ] {
            let vals: Vec<String> = a.attrs.strs(attr).iter().map(|v| rewrite(v)).collect();
            if !vals.is_empty() {
                a.attrs.set(attr, vals);
            }
        }
        if !a.attrs.contains(n::MAIL) {
            a.attrs.set_one(n::MAIL, new.to_string());
        }
        if !a.attrs.contains(n::DISPLAY_NAME) && a.attrs.has_value_ci(n::CN, old.local()) {
            a.attrs.set_one(n::CN, new.local());
        }
        a.attrs.set_one(n::UID, new.local());
        a.name = new.clone();
        if a.dn
            .as_deref()
            .is_some_and(|d| d.to_ascii_lowercase().contains("ou=people"))
        {
            a.dn = None;
        }
        // renamed aliases: their alias entries move with the domain
        let mut renamed: Vec<(String, String)> = vec![(old.to_string(), new.to_string())];
        for al in &old_aliases {
            let r = rewrite(al);
            if !r.eq_ignore_ascii_case(al) {
                renamed.push((al.clone(), r));
            }
        }
        for (_, to) in renamed.iter().skip(1) {
            if self.dir.name_in_use(to).is_some() {
                return Err(self.err(
                    ErrorCode::AccountExists,
                    format!("email address already exists: {to}"),
                ));
            }
        }
        self.take::<Account>(&key);
        self.put(a)?;
        for (from, to) in renamed.iter().skip(1) {
            if let Some(mut al) = self.take::<Alias>(from) {
                if al.attrs.has_value_ci(n::ALIAS_TARGET_ID, &id) {
                    if let Ok(addr) = Address::parse(to) {
                        al.name = addr.clone();
                        al.dn = None;
                        al.attrs.set_one(n::UID, addr.local());
                    }
                }
                let _ = self.put(al);
            }
        }
        // rename in every distribution list
        let keys: Vec<String> = self.dir.lists().map(|l| l.name.key()).collect();
        for k in keys {
            self.edit(LIST.kind, &k, |bag| {
                for (from, to) in &renamed {
                    if bag.remove_value_ci(n::MAIL_FORWARDING_ADDRESS, from) {
                        bag.add_unique_ci(n::MAIL_FORWARDING_ADDRESS, to);
                    }
                }
            });
        }
        Ok(String::new())
    }

    pub(super) fn add_alias(&mut self, account: &str, alias: &str) -> Res<String> {
        let key = self.find(&ACCOUNT, account)?;
        let addr = self.parse_new_address(alias)?;
        if self.dir.domain(addr.domain().as_str()).is_none() {
            return Err(self.err(
                ErrorCode::NoSuchDomain,
                format!("no such domain: {}", addr.domain()),
            ));
        }
        let target_id = self.id_of(ACCOUNT.kind, &key);
        let exists = || {
            self.err(
                ErrorCode::AccountExists,
                format!("email address already exists: {addr}"),
            )
        };
        match self.dir.name_in_use(&addr.key()) {
            None => {}
            Some(ObjectKind::Alias) => {
                // a dangling alias entry (its target is gone) is replaced
                let dangling = self
                    .dir
                    .alias(&addr.key())
                    .and_then(|a| a.attrs.first(n::ALIAS_TARGET_ID))
                    .is_none_or(|t| {
                        self.dir.account_by_id(t).is_none()
                            && self.dir.list_by_id(t).is_none()
                            && self.dir.group_by_id(t).is_none()
                    });
                if !dangling {
                    return Err(exists());
                }
                self.take::<Alias>(&addr.key());
            }
            Some(_) => return Err(exists()),
        }
        let mut al = Alias {
            name: addr.clone(),
            dn: None,
            attrs: AttrBag::new(),
        };
        al.attrs.set_one(n::OBJECT_CLASS, "zimbraAlias");
        al.attrs.set_one(n::UID, addr.local());
        let id = self.dir.ids.next_id().to_string();
        al.attrs.set_one(n::ZIMBRA_ID, id);
        al.attrs
            .set_one(n::CREATE_TIMESTAMP, self.dir.ids.timestamp.clone());
        al.attrs.set_one(n::ALIAS_TARGET_ID, target_id);
        self.put(al)?;
        let a = addr.to_string();
        self.edit(ACCOUNT.kind, &key, |bag| {
            bag.add_unique_ci(n::MAIL_ALIAS, &a);
            bag.add_unique_ci(n::MAIL, &a);
        });
        Ok(String::new())
    }

    pub(super) fn remove_alias(&mut self, account: &str, alias: &str) -> Res<String> {
        let key = self.find(&ACCOUNT, account)?;
        let addr = alias.trim().to_ascii_lowercase();
        let target_id = self.id_of(ACCOUNT.kind, &key);
        let on_account = self
            .dir
            .account(&key)
            .is_some_and(|a| a.attrs.has_value_ci(n::MAIL_ALIAS, &addr));
        let entry_target = self
            .dir
            .alias(&addr)
            .map(|a| a.attrs.first(n::ALIAS_TARGET_ID).map(str::to_string));
        let no_such = |line| {
            ZmprovError::new(
                line,
                ErrorCode::NoSuchAlias,
                format!("no such alias: {alias}"),
            )
        };
        if !on_account && entry_target.is_none() {
            return Err(no_such(self.line));
        }
        self.edit(ACCOUNT.kind, &key, |bag| {
            bag.remove_value_ci(n::MAIL_ALIAS, &addr);
            bag.remove_value_ci(n::MAIL, &addr);
        });
        let points_elsewhere = match &entry_target {
            Some(Some(t)) if !t.eq_ignore_ascii_case(&target_id) => {
                self.dir.account_by_id(t).is_some() || self.dir.list_by_id(t).is_some()
            }
            _ => false,
        };
        if !points_elsewhere {
            self.remove_from_lists(std::slice::from_ref(&addr));
            if entry_target.is_some() {
                self.take::<Alias>(&addr);
            }
        }
        if !on_account {
            return Err(no_such(self.line));
        }
        Ok(String::new())
    }
}
