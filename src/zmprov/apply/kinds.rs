//! One path for every kind of entry: the table of what differs between kinds, finding an
//! entry by name, alias or id, printing it (`g*`), modifying it (`m*`), the skeleton every
//! create command starts from, and the store operations that keep the look-up index in step.

use crate::model::{names as n, Address, AttrBag, Object, ObjectKind, RawEntry};
use crate::zmprov::{AttrArg, ErrorCode};

use super::index::{Index, Ref, Term};
use super::modify::{ModOpts, Touched};
use super::{dump, Cx, Res};

/// What differs between the kinds of entries zmprov manages. A new kind is one more row.
pub(super) struct Kind {
    pub(super) kind: ObjectKind,
    /// How messages name the kind (`no such cos: x`).
    pub(super) what: &'static str,
    /// The error when the name finds nothing.
    pub(super) not_found: ErrorCode,
    /// The Zimbra classes whose attributes the entry may carry (`requiredIn`/`optionalIn`).
    pub(super) classes: &'static [&'static str],
    /// The entry's object classes, then those of this global config attribute.
    pub(super) object_classes: &'static [&'static str],
    pub(super) extra_object_classes: Option<&'static str>,
    /// Named by an address: looked up by name, `zimbraMailAlias` or id, with the default
    /// domain added to a bare name (otherwise by name or id).
    pub(super) addressed: bool,
}

pub(super) const ACCOUNT: Kind = Kind {
    kind: ObjectKind::Account,
    what: "account",
    not_found: ErrorCode::NoSuchAccount,
    classes: &["account", "mailRecipient", "calendarResource"],
    object_classes: &["inetOrgPerson", "zimbraAccount"],
    extra_object_classes: Some("zimbraAccountExtraObjectClass"),
    addressed: true,
};

pub(super) const DOMAIN: Kind = Kind {
    kind: ObjectKind::Domain,
    what: "domain",
    not_found: ErrorCode::NoSuchDomain,
    classes: &["domain", "mailRecipient"],
    object_classes: &["dcObject", "organization", "zimbraDomain"],
    extra_object_classes: Some("zimbraDomainExtraObjectClass"),
    addressed: false,
};

pub(super) const COS: Kind = Kind {
    kind: ObjectKind::Cos,
    what: "cos",
    not_found: ErrorCode::NoSuchCos,
    classes: &["cos"],
    object_classes: &["zimbraCOS"],
    extra_object_classes: Some("zimbraCosExtraObjectClass"),
    addressed: false,
};

pub(super) const SERVER: Kind = Kind {
    kind: ObjectKind::Server,
    what: "server",
    not_found: ErrorCode::NoSuchServer,
    classes: &["server"],
    object_classes: &["zimbraServer"],
    extra_object_classes: Some("zimbraServerExtraObjectClass"),
    addressed: false,
};

pub(super) const LIST: Kind = Kind {
    kind: ObjectKind::DistributionList,
    what: "distribution list",
    not_found: ErrorCode::NoSuchDistributionList,
    classes: &["distributionList", "mailRecipient"],
    object_classes: &["zimbraDistributionList", "zimbraMailRecipient"],
    extra_object_classes: None,
    addressed: true,
};

pub(super) const GROUP: Kind = Kind {
    kind: ObjectKind::DynamicGroup,
    what: "distribution list",
    not_found: ErrorCode::NoSuchDistributionList,
    classes: &["group"],
    object_classes: &["groupOfURLs", "dgIdentityAux", "zimbraGroup"],
    extra_object_classes: None,
    addressed: true,
};

/// The global configuration is not an object of a kind, but is modified like one.
pub(super) const CONFIG_CLASSES: &[&str] = &["globalConfig"];

impl Kind {
    pub(super) fn opts(&self) -> ModOpts<'static> {
        ModOpts {
            classes: self.classes,
            create_exempt: &[],
        }
    }
}

impl Cx<'_> {
    pub(super) fn not_found(&self, k: &Kind, key: &str) -> crate::zmprov::ZmprovError {
        self.err(k.not_found, format!("no such {}: {key}", k.what))
    }

    /// The index, built on first use.
    pub(super) fn index(&mut self) -> &Index {
        self.index.get_or_insert_with(|| Index::build(self.dir))
    }

    /// The key of the entry of kind `k` that `key` names: by name, then (addressed kinds) by
    /// `zimbraMailAlias` or id, the first in name order, else by id; `None` when nothing.
    pub(super) fn lookup(&mut self, k: &Kind, key: &str) -> Option<String> {
        let name = if k.addressed {
            self.qualify(key)
        } else {
            key.to_ascii_lowercase()
        };
        if self.dir.attrs_of(k.kind, &name).is_some() {
            return Some(name);
        }
        let idx = self.index();
        let by_id = idx.first(k.kind, Term::Id, key);
        let by_alias = k
            .addressed
            .then(|| idx.first(k.kind, Term::Alias, &name))
            .flatten();
        let hit = match (by_alias, by_id) {
            (Some(a), Some(b)) => Some(a.min(b).to_string()),
            (a, b) => a.or(b).map(str::to_string),
        };
        if hit.is_some() || k.kind != ObjectKind::Account {
            return hit;
        }
        // an address in an alias domain names the account in the target domain
        let addr = Address::parse(&name).ok()?;
        let dom = self.dir.domain(addr.domain().as_str())?;
        if !dom.is_alias() {
            return None;
        }
        let target = dom
            .attrs
            .first(n::DOMAIN_ALIAS_TARGET_ID)
            .and_then(|id| self.dir.domain_by_id(id))?;
        let key = addr.with_domain(&target.name).key();
        self.dir.account(&key).map(|_| key)
    }

    /// [`Cx::lookup`], or the kind's "no such" error.
    pub(super) fn find(&mut self, k: &Kind, key: &str) -> Res<String> {
        self.lookup(k, key).ok_or_else(|| self.not_found(k, key))
    }

    /// `g*`: the entry as zmprov prints it.
    pub(super) fn get_cmd(&mut self, k: &Kind, key: &str, attrs: &[String]) -> Res<String> {
        let key = self.find(k, key)?;
        Ok(self
            .dir
            .entry_of(k.kind, &key)
            .map(|(name, bag)| dump(Some(&name), bag, attrs))
            .unwrap_or_default())
    }

    /// `m*`: the generic attribute rules, then the kind's callbacks, then the entry is
    /// replaced (nothing changes when any check fails).
    pub(super) fn modify_cmd(&mut self, k: &Kind, key: &str, mods: &[AttrArg]) -> Res<String> {
        let key = self.find(k, key)?;
        let old = self.dir.attrs_of(k.kind, &key).cloned().unwrap_or_default();
        let mut bag = old.clone();
        let touched = self.modify(&mut bag, mods, k.opts())?;
        match k.kind {
            ObjectKind::Server => self.check_relay_host(&bag, &touched)?,
            ObjectKind::Domain => self.domain_status_callback(&old, &mut bag, &touched)?,
            ObjectKind::Account => {
                self.account_status_callback(&mut bag, &touched)?;
                self.mail_host_callback(&old, &mut bag, &touched)?;
            }
            _ => {}
        }
        let closed = k.kind == ObjectKind::Account
            && touched.has(n::ACCOUNT_STATUS)
            && bag.has_value_ci(n::ACCOUNT_STATUS, "closed");
        self.edit(k.kind, &key, |b| *b = bag);
        if closed {
            // a closed account's addresses leave every distribution list
            let addrs = self.account_addresses(&key);
            self.remove_from_lists(&addrs);
        }
        Ok(String::new())
    }

    /// The attributes given to a create command for an entry of kind `k` (an immutable
    /// `zimbraId` may be given at creation), checked by the generic rules.
    pub(super) fn create_attrs(&self, k: &Kind, mods: &[AttrArg]) -> Res<(AttrBag, Touched)> {
        let mut bag = AttrBag::new();
        let touched = self.modify(
            &mut bag,
            mods,
            ModOpts {
                classes: k.classes,
                create_exempt: &[n::ZIMBRA_ID],
            },
        )?;
        Ok((bag, touched))
    }

    /// The `zimbraId` of the object of `kind` named `key` (empty when it has none).
    pub(super) fn id_of(&self, kind: ObjectKind, key: &str) -> String {
        self.dir
            .attrs_of(kind, key)
            .and_then(|b| b.first(n::ZIMBRA_ID))
            .unwrap_or_default()
            .to_string()
    }

    /// The first attributes of a new entry of kind `k`: object classes, the naming
    /// attributes, `zimbraId` (the one given, else a new one) and the creation time.
    pub(super) fn skeleton(
        &mut self,
        k: &Kind,
        naming: &[(&str, &str)],
        given: &AttrBag,
    ) -> AttrBag {
        let mut bag = AttrBag::new();
        let mut ocs: Vec<String> = k.object_classes.iter().map(|s| s.to_string()).collect();
        if let Some(extra) = k.extra_object_classes {
            ocs.extend(self.dir.config_attr(extra).iter().map(|s| s.to_string()));
        }
        bag.set(n::OBJECT_CLASS, ocs);
        for (attr, value) in naming {
            bag.set_one(attr, value);
        }
        let id = match given.first(n::ZIMBRA_ID) {
            Some(id) => id.to_string(),
            None => self.dir.ids.next_id().to_string(),
        };
        bag.set_one(n::ZIMBRA_ID, id);
        bag.set_one(n::CREATE_TIMESTAMP, self.dir.ids.timestamp.clone());
        bag
    }

    // ----- store operations: every change of an entry goes through these ---------------------

    /// Adds a typed object.
    pub(super) fn put<T: Object>(&mut self, obj: T) -> Res<()> {
        let key = obj.key();
        self.dir
            .insert(obj)
            .map(drop)
            .map_err(|e| super::model_err(self.line, e))?;
        self.refile(T::KIND, &key);
        Ok(())
    }

    /// Removes a typed object.
    pub(super) fn take<T: Object>(&mut self, key: &str) -> Option<T> {
        let obj = self.dir.remove::<T>(key)?;
        if let Some(idx) = &mut self.index {
            idx.unfile(&Ref::Typed(T::KIND, obj.key().into()));
        }
        Some(obj)
    }

    /// Changes the attributes of the object of `kind` named `key` (not its name).
    pub(super) fn edit<R>(
        &mut self,
        kind: ObjectKind,
        key: &str,
        f: impl FnOnce(&mut AttrBag) -> R,
    ) -> Option<R> {
        let r = f(self.dir.attrs_of_mut(kind, key)?);
        self.refile(kind, key);
        Some(r)
    }

    fn refile(&mut self, kind: ObjectKind, key: &str) {
        if let (Some(idx), Some(bag)) = (&mut self.index, self.dir.attrs_of(kind, key)) {
            idx.file(Ref::Typed(kind, key.to_ascii_lowercase().into()), bag);
        }
    }

    /// Adds a raw entry (replacing one with the same DN).
    pub(super) fn put_raw(&mut self, e: RawEntry) {
        self.take_raw(|x| x.dn.eq_ignore_ascii_case(&e.dn));
        if let Some(idx) = &mut self.index {
            idx.file(Ref::Raw(e.dn.to_ascii_lowercase().into()), &e.attrs);
        }
        self.dir.other_entries.push(e);
    }

    /// Removes the raw entries for which `gone` holds.
    pub(super) fn take_raw(&mut self, gone: impl Fn(&RawEntry) -> bool) {
        let mut removed = Vec::new();
        self.dir.other_entries.retain(|e| {
            let g = gone(e);
            if g {
                removed.push(e.dn.to_ascii_lowercase());
            }
            !g
        });
        if let Some(idx) = &mut self.index {
            for dn in removed {
                idx.unfile(&Ref::Raw(dn.into()));
            }
        }
    }

    /// Changes the raw entry at `i` (its DN too).
    pub(super) fn edit_raw<R>(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut RawEntry) -> R,
    ) -> Option<R> {
        let e = self.dir.other_entries.get_mut(i)?;
        let old = e.dn.to_ascii_lowercase();
        let r = f(e);
        if let Some(idx) = &mut self.index {
            idx.unfile(&Ref::Raw(old.into()));
            idx.file(Ref::Raw(e.dn.to_ascii_lowercase().into()), &e.attrs);
        }
        Some(r)
    }

    /// In debug builds, after each command: the index kept up to date equals a fresh one
    /// (small directories only, so that tests stay fast).
    pub(super) fn check_index(&self) {
        if cfg!(debug_assertions) {
            if let Some(idx) = &self.index {
                let small = self.dir.account_count() + self.dir.other_entries.len() < 2_000;
                if small {
                    assert!(
                        *idx == Index::build(self.dir),
                        "zmprov's look-up index went out of step at line {}",
                        self.line
                    );
                }
            }
        }
    }
}
