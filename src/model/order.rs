//! Creation order: the order in which a directory's entries came into being, which is the
//! order of slapd's entry IDs (and of a `slapcat` file).
//!
//! When several entries answer one lookup key (two accounts sharing an alias, the same address
//! in two trees after a migration, a domain catch-all and an account catch-all), slapd returns
//! them in entry-ID order and Postfix joins their values in that order, so the order decides
//! where mail goes. The [`Directory`](super::Directory) therefore numbers every entry as it is
//! inserted: LDIF and LDAP reads insert in read order (slapcat position, search order), zmprov in
//! creation order. A rename keeps the number, as slapd's modrdn keeps the entry ID: an object
//! inserted right after the removal of an object with the same `zimbraId` takes its place.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    names, Account, Alias, AttrBag, Cos, DistributionList, Domain, DynamicGroup, GlobalConfig,
    ObjectKind, RawEntry, Server,
};

/// One entry of a [`Directory`](super::Directory), whatever its kind (see
/// [`Directory::entries_in_order`](super::Directory::entries_in_order)).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum EntryRef<'a> {
    /// The global configuration.
    Config(&'a GlobalConfig),
    /// A server.
    Server(&'a Server),
    /// A class of service.
    Cos(&'a Cos),
    /// A domain.
    Domain(&'a Domain),
    /// An account.
    Account(&'a Account),
    /// An alias entry.
    Alias(&'a Alias),
    /// A distribution list.
    List(&'a DistributionList),
    /// A dynamic group.
    Group(&'a DynamicGroup),
    /// An entry the model does not type.
    Raw(&'a RawEntry),
}

impl<'a> EntryRef<'a> {
    /// The entry's attributes.
    pub fn attrs(&self) -> &'a AttrBag {
        match *self {
            EntryRef::Config(o) => &o.attrs,
            EntryRef::Server(o) => &o.attrs,
            EntryRef::Cos(o) => &o.attrs,
            EntryRef::Domain(o) => &o.attrs,
            EntryRef::Account(o) => &o.attrs,
            EntryRef::Alias(o) => &o.attrs,
            EntryRef::List(o) => &o.attrs,
            EntryRef::Group(o) => &o.attrs,
            EntryRef::Raw(o) => &o.attrs,
        }
    }

    /// The object kind (`None` for the global configuration and untyped entries).
    pub fn kind(&self) -> Option<ObjectKind> {
        Some(match self {
            EntryRef::Server(_) => ObjectKind::Server,
            EntryRef::Cos(_) => ObjectKind::Cos,
            EntryRef::Domain(_) => ObjectKind::Domain,
            EntryRef::Account(_) => ObjectKind::Account,
            EntryRef::Alias(_) => ObjectKind::Alias,
            EntryRef::List(_) => ObjectKind::DistributionList,
            EntryRef::Group(_) => ObjectKind::DynamicGroup,
            EntryRef::Config(_) | EntryRef::Raw(_) => return None,
        })
    }
}

/// The sequence numbers of a directory's entries (private to the model; read through
/// [`Directory::entries_in_order`](super::Directory::entries_in_order)).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
/// Every entry's place in creation order (`pub` only so that the sealed `Stored` can name it;
/// the module is private).
pub struct EntryOrder {
    /// The next number to hand out.
    next: u64,
    /// The global configuration's number, once it exists.
    config: Option<u64>,
    /// Typed objects: kind → lower-cased name → number.
    typed: BTreeMap<ObjectKind, BTreeMap<String, u64>>,
    /// Untyped entries: lower-cased DN → number.
    raw: BTreeMap<String, u64>,
    /// The lower-cased `zimbraId` and number of the typed object removed last: an object with
    /// that id inserted next is the same entry renamed (modrdn) and takes its number.
    vacated: Option<(String, u64)>,
}

fn id_of(attrs: &AttrBag) -> Option<String> {
    attrs.first(names::ZIMBRA_ID).map(str::to_ascii_lowercase)
}

impl EntryOrder {
    fn take(&mut self) -> u64 {
        let n = self.next;
        self.next += 1;
        n
    }

    /// Number the global configuration (once).
    pub(crate) fn place_config(&mut self) {
        if self.config.is_none() {
            self.config = Some(self.take());
        }
    }

    /// Number a typed object that was just inserted under `key`.
    pub(crate) fn inserted(&mut self, kind: ObjectKind, key: &str, attrs: &AttrBag) {
        // (the new object's id is looked at only right after a removal)
        let renamed = match &self.vacated {
            Some((id, n)) if id_of(attrs).is_some_and(|mine| *id == mine) => Some(*n),
            _ => None,
        };
        let n = match renamed {
            Some(n) => {
                self.vacated = None;
                n
            }
            None => self.take(),
        };
        self.typed
            .entry(kind)
            .or_default()
            .insert(key.to_string(), n);
    }

    /// Forget a typed object removed from under `key` (its number may be taken by its renamed
    /// self, see [`EntryOrder::inserted`]).
    pub(crate) fn removed(&mut self, kind: ObjectKind, key: &str, attrs: &AttrBag) {
        let n = self.typed.get_mut(&kind).and_then(|m| m.remove(key));
        if let (Some(n), Some(id)) = (n, id_of(attrs)) {
            self.vacated = Some((id, n));
        }
    }

    /// Number an untyped entry with this DN (keeps an existing number).
    pub(crate) fn raw_pushed(&mut self, dn: &str) {
        let key = dn.to_ascii_lowercase();
        if !self.raw.contains_key(&key) {
            let n = self.take();
            self.raw.insert(key, n);
        }
    }

    /// Number the untyped entries appended to `raw` directly (without
    /// [`Directory::push_raw`](super::Directory::push_raw)) since the last call: they are the
    /// unnumbered ones at its end.
    pub(crate) fn adopt(&mut self, raw: &[RawEntry]) {
        let fresh = raw
            .iter()
            .rev()
            .take_while(|e| !self.raw.contains_key(&e.dn.to_ascii_lowercase()))
            .count();
        for e in &raw[raw.len() - fresh..] {
            self.raw_pushed(&e.dn);
        }
    }

    pub(crate) fn config(&self) -> Option<u64> {
        self.config
    }

    pub(crate) fn typed(&self, kind: ObjectKind, key: &str) -> Option<u64> {
        self.typed.get(&kind).and_then(|m| m.get(key)).copied()
    }

    pub(crate) fn raw(&self, dn: &str) -> Option<u64> {
        self.raw.get(&dn.to_ascii_lowercase()).copied()
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Directory, EntryRef, ObjectKind, RawEntry};

    fn names(dir: &Directory) -> Vec<String> {
        dir.entries_in_order()
            .into_iter()
            .filter_map(|e| match e {
                EntryRef::Account(a) => Some(a.name.to_string()),
                EntryRef::Raw(r) => Some(r.dn.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn creation_order_survives_renames_and_counts_raw_entries() {
        let mut dir = Directory::new();
        crate::zmprov::run(
            &mut dir,
            "cs m.x.org\ncd x.org\nca zed@x.org pw\nca amy@x.org pw",
        )
        .unwrap();
        // pushed directly, numbered at the next insert
        dir.other_entries.push(RawEntry {
            dn: "cn=raw,dc=x,dc=org".into(),
            attrs: Default::default(),
        });
        crate::zmprov::run(&mut dir, "ca bob@x.org pw\nra zed@x.org yves@x.org").unwrap();
        dir.push_raw(RawEntry {
            dn: "cn=last,dc=x,dc=org".into(),
            attrs: Default::default(),
        });
        assert_eq!(
            names(&dir),
            [
                "yves@x.org",
                "amy@x.org",
                "cn=raw,dc=x,dc=org",
                "bob@x.org",
                "cn=last,dc=x,dc=org"
            ]
        );
        let (y, a) = (
            dir.creation_seq(ObjectKind::Account, "YVES@x.org"),
            dir.creation_seq(ObjectKind::Account, "amy@x.org"),
        );
        assert!(y.is_some() && y < a);
        assert_eq!(dir.creation_seq(ObjectKind::Account, "zed@x.org"), None);
        // a deleted and re-created account is a new entry, last
        crate::zmprov::run(&mut dir, "da amy@x.org\nca amy@x.org pw").unwrap();
        assert_eq!(names(&dir).last().map(String::as_str), Some("amy@x.org"));
    }
}
