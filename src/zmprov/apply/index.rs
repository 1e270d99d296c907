//! zmprov's look-up index over a directory: which entries hold an id, an alias or an address.
//!
//! zmprov finds entries by name (the directory's own maps), by `zimbraId`, by
//! `zimbraMailAlias`, and checks addresses against `mail` and `zimbraMailDeliveryAddress`;
//! alias entries are found by their target id. Without an index each of those is a scan of
//! the directory, and a script of n commands costs n². The index is built on first use
//! (one pass) and kept up to date by the interpreter's store operations, for the whole
//! script. Several entries may hold one term; they are kept in order (kind, then name), so
//! "the first account in name order" is the first hit, as the scans found it.

use std::collections::BTreeSet;

use crate::model::hash::FxMap;
use crate::model::{names as n, AttrBag, Directory, ObjectKind};

/// An entry of the directory: a typed object by kind and key, or a raw entry by its
/// lower-cased DN.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Ref {
    Typed(ObjectKind, Box<str>),
    Raw(Box<str>),
}

/// What an entry is filed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Term {
    /// `zimbraId`.
    Id,
    /// `zimbraMailAlias`.
    Alias,
    /// `mail`.
    Mail,
    /// `zimbraMailDeliveryAddress`.
    Delivery,
    /// `zimbraAliasTargetId` (alias entries).
    Target,
}

impl Term {
    const ALL: [Term; 5] = [
        Term::Id,
        Term::Alias,
        Term::Mail,
        Term::Delivery,
        Term::Target,
    ];

    fn attr(self) -> &'static str {
        match self {
            Term::Id => n::ZIMBRA_ID,
            Term::Alias => n::MAIL_ALIAS,
            Term::Mail => n::MAIL,
            Term::Delivery => n::MAIL_DELIVERY_ADDRESS,
            Term::Target => n::ALIAS_TARGET_ID,
        }
    }
}

type Key = (Term, Box<str>);

/// Entries by term, and each entry's terms (to unfile it).
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Index {
    by_term: FxMap<Key, BTreeSet<Ref>>,
    terms_of: FxMap<Ref, Vec<Key>>,
}

/// The kinds the index files (every typed kind).
const KINDS: [ObjectKind; 7] = [
    ObjectKind::Account,
    ObjectKind::Alias,
    ObjectKind::DistributionList,
    ObjectKind::DynamicGroup,
    ObjectKind::Domain,
    ObjectKind::Cos,
    ObjectKind::Server,
];

impl Index {
    /// The index of `dir`: one pass over every entry.
    pub(super) fn build(dir: &Directory) -> Index {
        let mut idx = Index::default();
        for kind in KINDS {
            for (name, bag) in dir.entries_of(kind) {
                idx.file(Ref::Typed(kind, name.to_ascii_lowercase().into()), bag);
            }
        }
        for e in &dir.other_entries {
            idx.file(Ref::Raw(e.dn.to_ascii_lowercase().into()), &e.attrs);
        }
        idx
    }

    /// Files `r` under the terms its attributes hold (replacing what it was filed under).
    pub(super) fn file(&mut self, r: Ref, bag: &AttrBag) {
        self.unfile(&r);
        let mut keys = Vec::new();
        for t in Term::ALL {
            for v in bag.values(t.attr()) {
                let key: Key = (t, v.to_string_lossy().to_ascii_lowercase().into());
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        for k in &keys {
            self.by_term.entry(k.clone()).or_default().insert(r.clone());
        }
        if !keys.is_empty() {
            self.terms_of.insert(r, keys);
        }
    }

    /// Forgets `r`.
    pub(super) fn unfile(&mut self, r: &Ref) {
        let Some(keys) = self.terms_of.remove(r) else {
            return;
        };
        for k in keys {
            if let Some(set) = self.by_term.get_mut(&k) {
                set.remove(r);
                if set.is_empty() {
                    self.by_term.remove(&k);
                }
            }
        }
    }

    /// The entries filed under `term` = `value` (ASCII case ignored), in order.
    pub(super) fn get(&self, term: Term, value: &str) -> impl Iterator<Item = &Ref> {
        self.by_term
            .get(&(term, value.to_ascii_lowercase().into()))
            .into_iter()
            .flatten()
    }

    /// The first typed entry of `kind` filed under `term` = `value`: its key.
    pub(super) fn first(&self, kind: ObjectKind, term: Term, value: &str) -> Option<&str> {
        self.get(term, value).find_map(|r| match r {
            Ref::Typed(k, key) if *k == kind => Some(&**key),
            _ => None,
        })
    }
}
