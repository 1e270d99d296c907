//! Domains: `cd`, `cad`, `dd`, `rd` (and the rule for new domain names).

use crate::model::{
    names as n, Account, Address, Alias, AttrBag, DistributionList, Domain, DomainName,
    DynamicGroup, Object,
};
use crate::zmprov::{AttrArg, ErrorCode};

use super::kinds::{DOMAIN, LIST};
use super::modify::ModOpts;
use super::{merge, rewrite_domain, Cx, Res};

/// Zimbra's longest domain name (`NameUtil.MAX_DOMAIN_NAME_LEN`, bug 15919).
const MAX_DOMAIN_NAME_LEN: usize = 255;

/// The entries named by an address, which move when their domain is renamed.
pub(super) trait Addressed: Object {
    fn address(&self) -> &Address;
    /// Renames the entry; its DN becomes the default one for the new name.
    fn readdress(&mut self, to: Address);
}

macro_rules! addressed {
    ($($t:ty),*) => {$(
        impl Addressed for $t {
            fn address(&self) -> &Address {
                &self.name
            }
            fn readdress(&mut self, to: Address) {
                self.name = to;
                self.dn = None;
            }
        }
    )*};
}

addressed!(Account, Alias, DistributionList, DynamicGroup);

/// Attributes whose addresses follow a domain rename.
const REWRITTEN: &[&str] = &[
    n::MAIL,
    n::MAIL_ALIAS,
    n::MAIL_FORWARDING_ADDRESS,
    n::MAIL_DELIVERY_ADDRESS,
    n::MAIL_CANONICAL_ADDRESS,
    n::MAIL_CATCH_ALL_ADDRESS,
    n::MAIL_CATCH_ALL_CANONICAL_ADDRESS,
    n::MAIL_CATCH_ALL_FORWARDING_ADDRESS,
    "zimbraPrefAllowAddressForDelegatedSender",
];

/// Rewrites the values of `attrs` (all of `REWRITTEN` when `None`) from `old` to `new`.
fn rewrite_bag(bag: &mut AttrBag, attrs: &[&str], old: &DomainName, new: &DomainName) {
    bag.rewrite_values(|name, v| {
        if !attrs.iter().any(|r| r.eq_ignore_ascii_case(name)) {
            return None;
        }
        v.as_str()
            .and_then(|s| rewrite_domain(s, old, new))
            .map(String::into_bytes)
    });
}

impl Cx<'_> {
    /// Zimbra's `NameUtil.validNewDomainName` (for `cd`, `cad` and `rd`): at most 255
    /// characters; `test@NAME` must be a valid address, so the name needs at least two labels,
    /// no empty label, no label that starts or ends with `-`, only letters, digits, `-` and
    /// `_`; and `_` (not LDH) is refused when `zimbraAllowNonLDHCharsInDomain` is `FALSE`.
    fn new_domain_name(&self, name: &str) -> Res<DomainName> {
        let d = name.trim().to_ascii_lowercase();
        if d.len() > MAX_DOMAIN_NAME_LEN {
            return Err(self.invalid(format!(
                "invalid domain name {d}, domain name cannot exceed {MAX_DOMAIN_NAME_LEN} chars"
            )));
        }
        let label_ok = |l: &str| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        let parsed = DomainName::parse(&d).ok();
        let Some(parsed) = parsed.filter(|_| d.contains('.') && d.split('.').all(label_ok)) else {
            return Err(self.invalid(format!("invalid domain name {d}")));
        };
        let allow_non_ldh = self
            .dir
            .config_attr("zimbraAllowNonLDHCharsInDomain")
            .first()
            .is_none_or(|v| !v.eq_ignore_ascii_case("FALSE"));
        if !allow_non_ldh && d.contains('_') {
            return Err(self.invalid(format!(
                "invalid domain name {d}:  containing non-LDH characters and zimbraAllowNonLDHCharsInDomain is false"
            )));
        }
        Ok(parsed)
    }

    pub(super) fn create_alias_domain(
        &mut self,
        alias: &str,
        target: &str,
        attrs: &[AttrArg],
    ) -> Res<String> {
        let tkey = self.find(&DOMAIN, target)?;
        let t = self.dir.domain(&tkey).map(|d| {
            (
                d.is_alias(),
                d.attrs.first(n::ZIMBRA_ID).map(str::to_string),
            )
        });
        match t {
            Some((false, Some(id))) => self.create_domain(alias, attrs, Some(id)),
            _ => Err(self.invalid("target domain must be a local domain")),
        }
    }

    pub(super) fn create_domain(
        &mut self,
        name: &str,
        mods: &[AttrArg],
        alias_target: Option<String>,
    ) -> Res<String> {
        let dname = self.new_domain_name(name)?;
        if self.dir.domain(dname.as_str()).is_some() {
            return Err(self.err(
                ErrorCode::DomainExists,
                format!("domain already exists: {dname}"),
            ));
        }
        // zimbraDomainType and zimbraDomainStatus may be given at creation despite being immutable
        let mut bag = AttrBag::new();
        let touched = self.modify(
            &mut bag,
            mods,
            ModOpts {
                classes: DOMAIN.classes,
                create_exempt: &[n::ZIMBRA_ID, n::DOMAIN_TYPE],
            },
        )?;
        let is_alias = alias_target.is_some() || bag.has_value_ci(n::DOMAIN_TYPE, "alias");
        let mut d = Domain::new(dname.clone());
        d.attrs = self.skeleton(&DOMAIN, &[], &bag);
        d.attrs.set_one(n::DOMAIN_NAME, dname.as_str());
        d.attrs
            .set_one(n::DOMAIN_TYPE, if is_alias { "alias" } else { "local" });
        d.attrs.set_one(n::DOMAIN_STATUS, "active");
        if let Some(t) = &alias_target {
            d.attrs.set_one(n::DOMAIN_ALIAS_TARGET_ID, t);
        }
        d.attrs.set_one(n::MAIL_STATUS, "enabled");
        d.attrs.set_one("o", format!("{dname} domain"));
        d.attrs
            .set_one("dc", dname.labels().next().unwrap_or_default());
        if is_alias {
            d.attrs
                .set_one(n::MAIL_CATCH_ALL_ADDRESS, format!("@{dname}"));
        }
        let old = d.attrs.clone();
        bag.remove(n::DOMAIN_TYPE);
        merge(&mut d.attrs, bag);
        self.domain_status_callback(&old, &mut d.attrs, &touched)?;
        self.put(d)?;
        Ok(String::new())
    }

    /// The keys of the entries named by an address in `d`.
    fn domain_entries(&self, d: &DomainName) -> Vec<String> {
        fn of<T: Addressed>(cx: &Cx<'_>, d: &DomainName, v: &mut Vec<String>) {
            v.extend(
                cx.dir
                    .all::<T>()
                    .filter(|e| e.address().domain() == d)
                    .map(Object::key),
            );
        }
        let mut v = Vec::new();
        of::<Account>(self, d, &mut v);
        of::<DistributionList>(self, d, &mut v);
        of::<DynamicGroup>(self, d, &mut v);
        of::<Alias>(self, d, &mut v);
        v
    }

    pub(super) fn delete_domain(&mut self, domain: &str) -> Res<String> {
        let key = self.find(&DOMAIN, domain)?;
        let Some(dom) = self.dir.domain(&key) else {
            return Err(self.not_found(&DOMAIN, domain));
        };
        let dname = dom.name.clone();
        let is_alias = dom.is_alias();
        let id = dom
            .attrs
            .first(n::ZIMBRA_ID)
            .unwrap_or_default()
            .to_string();
        let remaining = self.domain_entries(&dname);
        if !remaining.is_empty() {
            let dns: Vec<String> = remaining
                .iter()
                .take(5)
                .map(|a| {
                    let local = a.split('@').next().unwrap_or_default();
                    let dcs: Vec<String> = dname.labels().map(|l| format!("dc={l}")).collect();
                    format!("uid={local},ou=people,{}", dcs.join(","))
                })
                .collect();
            return Err(self.err(
                ErrorCode::DomainNotEmpty,
                format!(
                    "domain not empty: {dname} (remaining entries: [{}] ...)",
                    dns.join("] [")
                ),
            ));
        }
        if !is_alias {
            let alias_domains: Vec<DomainName> = self
                .dir
                .domains()
                .filter(|d| d.is_alias() && d.attrs.has_value_ci(n::DOMAIN_ALIAS_TARGET_ID, &id))
                .map(|d| d.name.clone())
                .collect();
            for a in &alias_domains {
                if !self.domain_entries(a).is_empty() {
                    return Err(
                        self.invalid(format!("alias domain {a} of domain {dname} is not empty"))
                    );
                }
            }
            for a in alias_domains {
                self.take::<Domain>(a.as_str());
            }
        }
        self.take::<Domain>(&key);
        Ok(String::new())
    }

    /// Moves every entry of type `T` named in domain `old` to `new` (RENAME_ENTRIES: the new
    /// domain did not exist, so nothing can hold their new names yet).
    fn move_entries<T: Addressed>(&mut self, old: &DomainName, new: &DomainName) -> Res<()> {
        let keys: Vec<String> = self
            .dir
            .all::<T>()
            .filter(|e| e.address().domain() == old)
            .map(Object::key)
            .collect();
        for k in keys {
            if let Some(mut e) = self.take::<T>(&k) {
                let to = e.address().with_domain(new);
                e.readdress(to);
                rewrite_bag(e.attrs_mut(), REWRITTEN, old, new);
                self.put(e)?;
            }
        }
        Ok(())
    }

    pub(super) fn rename_domain(&mut self, domain: &str, new_name: &str) -> Res<String> {
        let key = self.find(&DOMAIN, domain)?;
        let new = self.new_domain_name(new_name)?;
        if self.dir.domain(new.as_str()).is_some() {
            return Err(self.err(
                ErrorCode::DomainExists,
                format!("domain already exists: {new}"),
            ));
        }
        let Some(old_dom) = self.take::<Domain>(&key) else {
            return Err(self.not_found(&DOMAIN, domain));
        };
        let old = old_dom.name.clone();
        // the new domain: the old one's attributes, renamed
        let mut nd = Domain::new(new.clone());
        const NOT_KEPT: [&str; 5] = [
            "o",
            "dc",
            "zimbradomainname",
            "zimbracreatetimestamp",
            "zimbradomainrenameinfo",
        ];
        for a in old_dom.attrs.iter() {
            let lname = a.name().to_ascii_lowercase();
            if NOT_KEPT.contains(&lname.as_str()) || lname.starts_with("dkim") {
                continue;
            }
            for v in a.values() {
                nd.attrs.add(a.name(), v);
            }
        }
        nd.attrs
            .set_one(n::CREATE_TIMESTAMP, self.dir.ids.timestamp.clone());
        nd.attrs.set_one(n::DOMAIN_NAME, new.as_str());
        nd.attrs.set_one("o", format!("{new} domain"));
        nd.attrs
            .set_one("dc", new.labels().next().unwrap_or_default());
        nd.attrs.set_one(n::DOMAIN_STATUS, "active");
        nd.attrs.set_one(n::MAIL_STATUS, "enabled");
        self.put(nd)?;

        self.move_entries::<Account>(&old, &new)?;
        self.move_entries::<DistributionList>(&old, &new)?;
        // the units of a dynamic group (raw entries below it) move with it
        let unit_moves = self.group_unit_moves(&old, &new);
        self.move_entries::<DynamicGroup>(&old, &new)?;
        for i in 0..self.dir.other_entries.len() {
            let lower = self.dir.other_entries[i].dn.to_ascii_lowercase();
            let Some((head, to)) = unit_moves
                .iter()
                .find_map(|(from, to)| Some((lower.strip_suffix(from.as_str())?, to)))
            else {
                continue;
            };
            let dn = format!("{head}{to}");
            self.edit_raw(i, |e| {
                e.dn = dn;
                rewrite_bag(&mut e.attrs, REWRITTEN, &old, &new);
            });
        }
        // aliases in the old domain: those of moved entries move; foreign ones are re-created
        let aliases: Vec<String> = self
            .dir
            .aliases()
            .filter(|a| a.name.domain() == &old)
            .map(|a| a.name.key())
            .collect();
        for k in aliases {
            let Some(mut al) = self.take::<Alias>(&k) else {
                continue;
            };
            let old_addr = al.name.to_string();
            al.readdress(al.name.with_domain(&new));
            let new_addr = al.name.to_string();
            let target = al
                .attrs
                .first(n::ALIAS_TARGET_ID)
                .unwrap_or_default()
                .to_string();
            // a foreign target still lists the old address: FIX_FOREIGN_ALIASES
            self.retarget_address(&target, &old_addr, &new_addr);
            let _ = self.put(al);
        }
        // FIX_FOREIGN_DL_MEMBERS
        let list_keys: Vec<String> = self.dir.lists().map(|l| l.name.key()).collect();
        for k in list_keys {
            self.edit(LIST.kind, &k, |bag| {
                rewrite_bag(bag, &[n::MAIL_FORWARDING_ADDRESS], &old, &new)
            });
        }
        // global config references
        if self
            .dir
            .config
            .attrs
            .has_value_ci("zimbraDefaultDomainName", old.as_str())
        {
            self.dir
                .config
                .attrs
                .set_one("zimbraDefaultDomainName", new.as_str());
        }
        for attr in [
            "zimbraSpamIsSpamAccount",
            "zimbraSpamIsNotSpamAccount",
            "zimbraAmavisQuarantineAccount",
            "zimbraNotebookAccount",
        ] {
            if let Some(v) = self
                .dir
                .config
                .attrs
                .first(attr)
                .and_then(|v| rewrite_domain(v, &old, &new))
            {
                self.dir.config.attrs.set_one(attr, v);
            }
        }
        Ok(String::new())
    }

    /// Replace `old` by `new` in the `mail`/`zimbraMailAlias` values of the entry with id `target`.
    fn retarget_address(&mut self, target: &str, old: &str, new: &str) {
        let fix = |bag: &mut AttrBag| {
            for attr in [n::MAIL, n::MAIL_ALIAS] {
                if bag.remove_value_ci(attr, old) {
                    bag.add_unique_ci(attr, new);
                }
            }
        };
        for k in [&super::kinds::ACCOUNT, &LIST] {
            let hit = self.index().first(k.kind, super::index::Term::Id, target);
            if let Some(key) = hit.map(str::to_string) {
                self.edit(k.kind, &key, fix);
                return;
            }
        }
    }
}
