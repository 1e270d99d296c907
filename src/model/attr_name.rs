//! Attribute names interned against the catalog: every attribute the catalog knows (and the
//! standard and operational attributes a slapcat carries) gets one small id, so an entry stores
//! two bytes instead of the name, and the spelling only where it differs from the canonical one.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::OnceLock;

use crate::attrs;

/// Attributes outside the Zimbra catalog that real directories carry on most entries: OpenLDAP's
/// operational attributes, `dc` and a few standard schema attributes.
const EXTRA: &[&str] = &[
    "structuralObjectClass",
    "entryUUID",
    "creatorsName",
    "createTimestamp",
    "entryCSN",
    "modifiersName",
    "modifyTimestamp",
    "contextCSN",
    "entryDN",
    "subschemaSubentry",
    "hasSubordinates",
    "pwdChangedTime",
    "pwdHistory",
    "pwdFailureTime",
    "pwdAccountLockedTime",
    "dc",
    "associatedDomain",
    "member",
    "uniqueMember",
    "dgIdentity",
    "labeledURI",
    "jpegPhoto",
    "memberOf",
    "seeAlso",
    "businessCategory",
    "departmentNumber",
    "employeeNumber",
    "employeeType",
    "manager",
    "secretary",
    "roomNumber",
    "carLicense",
    "preferredLanguage",
    "homeDirectory",
    "uidNumber",
    "gidNumber",
    "loginShell",
    "gecos",
    "owner",
];

/// Id 0 means "not in the table": the name is always stored spelled out.
pub(crate) const UNKNOWN: u32 = 0;

struct Table {
    /// Canonical spellings; index = id - 1.
    names: Vec<&'static str>,
    /// Case-insensitive hash of a name → ids with that hash (almost always one).
    by_hash: HashMap<u64, Vec<u32>, BuildHasherDefault<IdentityHasher>>,
}

/// The map's keys are hashes already.
#[derive(Default, Clone, Copy)]
struct IdentityHasher(u64);

impl std::hash::Hasher for IdentityHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A hash of `name` that ignores ASCII case: eight bytes at a time, each with bit 5 set (which
/// folds the case of letters; other bytes that differ only there merely share a hash).
pub(crate) fn ci_hash(name: &str) -> u64 {
    use std::hash::Hasher;
    const FOLD: u64 = 0x2020_2020_2020_2020;
    let mut h = crate::model::hash::FxHasher::default();
    let mut words = name.as_bytes().chunks_exact(8);
    for c in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h.write_u64(u64::from_le_bytes(w) | FOLD);
    }
    let rest = words.remainder();
    let mut w = [0u8; 8];
    if let Some(head) = w.get_mut(..rest.len()) {
        head.copy_from_slice(rest);
    }
    h.write_u64((u64::from_le_bytes(w) | FOLD) ^ name.len() as u64);
    h.finish()
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut names: Vec<&'static str> = attrs::all().iter().map(|d| d.name).collect();
        for e in EXTRA {
            if attrs::lookup(e).is_none() {
                names.push(e);
            }
        }
        let mut by_hash: HashMap<u64, Vec<u32>, BuildHasherDefault<IdentityHasher>> =
            HashMap::default();
        for (i, n) in names.iter().enumerate() {
            by_hash.entry(ci_hash(n)).or_default().push(i as u32 + 1);
        }
        Table { names, by_hash }
    })
}

/// The id of `name` (case-insensitive), or [`UNKNOWN`].
pub(crate) fn id_of(name: &str) -> u32 {
    let t = table();
    match t.by_hash.get(&ci_hash(name)) {
        Some(ids) => ids
            .iter()
            .copied()
            .find(|&id| canonical(id).is_some_and(|c| c.eq_ignore_ascii_case(name)))
            .unwrap_or(UNKNOWN),
        None => UNKNOWN,
    }
}

/// The canonical spelling of a known id.
pub(crate) fn canonical(id: u32) -> Option<&'static str> {
    let i = usize::try_from(id.checked_sub(1)?).ok()?;
    table().names.get(i).copied()
}

/// An attribute name resolved once against the catalog, for code that looks the same attribute
/// up in many entries (the routing index, classification).
///
/// ```
/// use zimbra_prov::model::{AttrBag, AttrName};
/// let transport = AttrName::new("zimbraMailTransport");
/// let mut bag = AttrBag::new();
/// bag.add("ZIMBRAMAILTRANSPORT", "smtp:mx.example.org");
/// assert_eq!(bag.values_of(&transport).first().and_then(|v| v.as_str()), Some("smtp:mx.example.org"));
/// assert_eq!(transport.as_str(), "zimbraMailTransport");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrName {
    pub(crate) id: u32,
    pub(crate) name: Box<str>,
}

impl AttrName {
    /// Resolves `name` (case-insensitive).
    pub fn new(name: &str) -> AttrName {
        AttrName {
            id: id_of(name),
            name: name.into(),
        }
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_name_resolves_to_itself_and_ids_are_small() {
        let t = table();
        assert!(t.names.len() < 0x3fff, "ids must fit two varint bytes");
        for (i, n) in t.names.iter().enumerate() {
            let id = i as u32 + 1;
            assert_eq!(id_of(n), id, "{n}");
            assert_eq!(id_of(&n.to_ascii_uppercase()), id, "{n}");
            assert_eq!(canonical(id), Some(*n));
        }
        assert_eq!(id_of("x-no-such-attribute"), UNKNOWN);
        assert_eq!(id_of("cn;lang-de"), UNKNOWN);
        assert_eq!(id_of(""), UNKNOWN);
        assert_eq!(canonical(UNKNOWN), None);
        assert!(id_of("entryUUID") != UNKNOWN && id_of("objectclass") != UNKNOWN);
    }
}
