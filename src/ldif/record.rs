//! LDIF records: content entries and change records.

use crate::dn::{Dn, Rdn};

/// One `description: value` line of an entry: the attribute description as written
/// (type plus options, e.g. `cn;lang-de`) and the raw value bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Attr {
    /// Attribute description as written (`jpegPhoto`, `cn;lang-en`).
    pub description: String,
    /// Value bytes (decoded if the file used base64).
    pub value: Vec<u8>,
}

impl Attr {
    /// Builds an attribute line.
    pub fn new(description: impl Into<String>, value: impl Into<Vec<u8>>) -> Attr {
        Attr {
            description: description.into(),
            value: value.into(),
        }
    }
}

/// Compares two attribute descriptions: type case-insensitively, options as a
/// case-insensitive set.
///
/// ```
/// use zimbra_prov::ldif::same_description;
/// assert!(same_description("CN;Lang-EN;x", "cn;x;lang-en"));
/// assert!(!same_description("cn", "cn;lang-en"));
/// ```
pub fn same_description(a: &str, b: &str) -> bool {
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    let mut ia = a.split(';');
    let mut ib = b.split(';');
    match (ia.next(), ib.next()) {
        (Some(ta), Some(tb)) if ta.eq_ignore_ascii_case(tb) => {}
        _ => return false,
    }
    let mut oa: Vec<String> = ia.map(|o| o.to_ascii_lowercase()).collect();
    let mut ob: Vec<String> = ib.map(|o| o.to_ascii_lowercase()).collect();
    oa.sort();
    ob.sort();
    oa.dedup();
    ob.dedup();
    oa == ob
}

/// A content record: a DN and its attribute lines in file order.
///
/// Equality compares DN (normalized and as written) and attribute lines; the source line
/// number is not part of it.
///
/// ```
/// use zimbra_prov::{dn::Dn, ldif::Entry};
/// let mut e = Entry::new(Dn::parse("uid=a,dc=example")?);
/// e.push("objectClass", "account");
/// e.push("UID", "a");
/// assert_eq!(e.get("uid"), Some(&b"a"[..]));
/// assert_eq!(e.iter().count(), 2);
/// # Ok::<(), zimbra_prov::dn::DnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Entry {
    /// The entry's DN.
    pub dn: Dn,
    /// Attribute lines in file order.
    pub attrs: Vec<Attr>,
    /// Line number (1-based) the record started on in its source; 0 if built in code.
    pub line: u64,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.dn == other.dn && self.dn.as_str() == other.dn.as_str() && self.attrs == other.attrs
    }
}
impl Eq for Entry {}

impl Entry {
    /// An entry with no attributes yet.
    pub fn new(dn: Dn) -> Entry {
        Entry {
            dn,
            attrs: Vec::new(),
            line: 0,
        }
    }

    /// The entry's DN.
    pub fn dn(&self) -> &Dn {
        &self.dn
    }

    /// Appends one value.
    pub fn push(&mut self, description: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.attrs.push(Attr::new(description, value));
    }

    /// All (description, value) pairs in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> + Clone {
        self.attrs
            .iter()
            .map(|a| (a.description.as_str(), a.value.as_slice()))
    }

    /// The first value of the attribute `description` (type case-insensitive, options
    /// as a set), if any.
    pub fn get(&self, description: &str) -> Option<&[u8]> {
        self.attrs
            .iter()
            .find(|a| same_description(&a.description, description))
            .map(|a| a.value.as_slice())
    }

    /// The first value as UTF-8 text, if any and valid.
    pub fn get_str<'a>(&'a self, description: &str) -> Option<&'a str> {
        self.get(description)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// All values of the attribute `description`, in file order.
    pub fn get_all<'a>(&'a self, description: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.attrs
            .iter()
            .filter(move |a| same_description(&a.description, description))
            .map(|a| a.value.as_slice())
    }
}

/// A control attached to a change record (`control: OID [true|false] [value]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Control {
    /// Numeric OID of the control.
    pub oid: String,
    /// Criticality (default false).
    pub critical: bool,
    /// Control value, if any.
    pub value: Option<Vec<u8>>,
}

/// The operation of one modify spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::Display, strum::EnumString)]
#[strum(serialize_all = "lowercase")]
pub enum ModOp {
    /// `add:` values.
    Add,
    /// `delete:` values, or the whole attribute when there are none.
    Delete,
    /// `replace:` all values (none = remove the attribute).
    Replace,
    /// `increment:` (RFC 4525) by the single value.
    Increment,
}

/// One modify spec: operation, attribute description and values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Modification {
    /// The operation.
    pub op: ModOp,
    /// Attribute description the spec applies to.
    pub attribute: String,
    /// Values (may be empty).
    pub values: Vec<Vec<u8>>,
}

/// What a change record does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeOp {
    /// `changetype: add` with the new entry's attributes.
    Add(Vec<Attr>),
    /// `changetype: delete`.
    Delete,
    /// `changetype: modify` with its specs (may be empty).
    Modify(Vec<Modification>),
    /// `changetype: modrdn` / `moddn`.
    ModDn {
        /// The new RDN.
        new_rdn: Rdn,
        /// Whether the old RDN values are removed.
        delete_old_rdn: bool,
        /// The new parent, if the entry moves.
        new_superior: Option<Dn>,
    },
}

/// A change record.
///
/// Equality ignores the source line number.
#[derive(Debug, Clone)]
pub struct Change {
    /// DN the change applies to.
    pub dn: Dn,
    /// Controls, in file order.
    pub controls: Vec<Control>,
    /// The change.
    pub op: ChangeOp,
    /// Line number (1-based) the record started on; 0 if built in code.
    pub line: u64,
}

impl PartialEq for Change {
    fn eq(&self, other: &Change) -> bool {
        self.dn == other.dn
            && self.dn.as_str() == other.dn.as_str()
            && self.controls == other.controls
            && match (&self.op, &other.op) {
                (
                    ChangeOp::ModDn {
                        new_rdn: a,
                        delete_old_rdn: da,
                        new_superior: sa,
                    },
                    ChangeOp::ModDn {
                        new_rdn: b,
                        delete_old_rdn: db,
                        new_superior: sb,
                    },
                ) => {
                    a == b
                        && a.as_str() == b.as_str()
                        && da == db
                        && sa == sb
                        && sa.as_ref().map(Dn::as_str) == sb.as_ref().map(Dn::as_str)
                }
                (x, y) => x == y,
            }
    }
}
impl Eq for Change {}

impl Change {
    /// A change record without controls.
    pub fn new(dn: Dn, op: ChangeOp) -> Change {
        Change {
            dn,
            controls: Vec::new(),
            op,
            line: 0,
        }
    }
}

/// One LDIF record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A content entry.
    Entry(Entry),
    /// A change record.
    Change(Change),
}

impl Record {
    /// The record's DN.
    pub fn dn(&self) -> &Dn {
        match self {
            Record::Entry(e) => &e.dn,
            Record::Change(c) => &c.dn,
        }
    }

    /// The line number the record started on (0 if built in code).
    pub fn line(&self) -> u64 {
        match self {
            Record::Entry(e) => e.line,
            Record::Change(c) => c.line,
        }
    }

    /// True for change records.
    pub fn is_change(&self) -> bool {
        matches!(self, Record::Change(_))
    }
}
