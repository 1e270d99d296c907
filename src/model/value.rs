//! Lossless attribute storage: names and value bytes exactly as read, in order.

use std::fmt;

use base64::Engine as _;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One attribute value: the exact bytes stored in LDAP.
///
/// Most Zimbra values are UTF-8 text; binary values (certificates, photos) are kept as bytes.
/// In serde formats a value is a string when it is valid UTF-8 and `{"base64": "..."}` otherwise.
///
/// ```
/// use zimbra_prov::model::AttrValue;
/// let v = AttrValue::from("lmtp:mbx1.example.com:7025");
/// assert_eq!(v.as_str(), Some("lmtp:mbx1.example.com:7025"));
/// assert_eq!(AttrValue::from(vec![0xff, 0x00]).as_str(), None);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttrValue(Box<[u8]>);

impl AttrValue {
    /// The value's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The value as text, if it is valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// The value as text, replacing invalid UTF-8 (for display only).
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

impl fmt::Debug for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_str() {
            Some(s) => write!(f, "{s:?}"),
            None => write!(f, "bytes{:?}", &self.0),
        }
    }
}

impl From<&str> for AttrValue {
    fn from(s: &str) -> Self {
        AttrValue(s.as_bytes().into())
    }
}

impl From<String> for AttrValue {
    fn from(s: String) -> Self {
        AttrValue(s.into_bytes().into_boxed_slice())
    }
}

impl From<Vec<u8>> for AttrValue {
    fn from(b: Vec<u8>) -> Self {
        AttrValue(b.into_boxed_slice())
    }
}

impl From<&[u8]> for AttrValue {
    fn from(b: &[u8]) -> Self {
        AttrValue(b.into())
    }
}

impl Serialize for AttrValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.as_str() {
            Some(text) => s.serialize_str(text),
            None => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry(
                    "base64",
                    &base64::engine::general_purpose::STANDARD.encode(&self.0),
                )?;
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for AttrValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Text(String),
            Binary { base64: String },
        }
        match Repr::deserialize(d)? {
            Repr::Text(t) => Ok(AttrValue::from(t)),
            Repr::Binary { base64 } => base64::engine::general_purpose::STANDARD
                .decode(base64.as_bytes())
                .map(AttrValue::from)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// One attribute: its name as written (options included, e.g. `cn;lang-de`) and its values in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attr {
    /// Attribute description as written.
    pub name: Box<str>,
    /// Values in the order they were stored.
    pub values: Vec<AttrValue>,
}

/// An ordered, lossless bag of attributes with case-insensitive names (as LDAP compares them).
///
/// Attribute order and value order and bytes are preserved; an attribute name keeps the case it
/// was first written with.
///
/// ```
/// use zimbra_prov::model::AttrBag;
/// let mut bag = AttrBag::new();
/// bag.add("mail", "alice@example.com");
/// bag.add("MAIL", "al@example.com");
/// assert_eq!(bag.strs("Mail"), vec!["alice@example.com", "al@example.com"]);
/// bag.set("mail", ["a@example.com"]);
/// assert_eq!(bag.first("mail"), Some("a@example.com"));
/// bag.remove("mail");
/// assert!(!bag.contains("mail"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttrBag {
    attrs: Vec<Attr>,
}

impl AttrBag {
    /// An empty bag.
    pub fn new() -> Self {
        Self::default()
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.attrs
            .iter()
            .position(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The attribute called `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&Attr> {
        self.position(name).map(|i| &self.attrs[i])
    }

    /// The values of `name`, empty when absent.
    pub fn values(&self, name: &str) -> &[AttrValue] {
        self.get(name).map(|a| a.values.as_slice()).unwrap_or(&[])
    }

    /// The UTF-8 values of `name` (non-UTF-8 values are skipped).
    pub fn strs(&self, name: &str) -> Vec<&str> {
        self.values(name)
            .iter()
            .filter_map(|v| v.as_str())
            .collect()
    }

    /// The first value of `name` as text.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.values(name).first().and_then(|v| v.as_str())
    }

    /// Whether `name` is present with at least one value.
    pub fn contains(&self, name: &str) -> bool {
        !self.values(name).is_empty()
    }

    /// Whether `name` has a value equal to `value`, ignoring ASCII case (LDAP caseIgnore matching).
    pub fn has_value_ci(&self, name: &str, value: &str) -> bool {
        self.values(name)
            .iter()
            .any(|v| v.as_bytes().eq_ignore_ascii_case(value.as_bytes()))
    }

    /// Replace all values of `name` (removes the attribute when `values` is empty).
    pub fn set<I, V>(&mut self, name: &str, values: I)
    where
        I: IntoIterator<Item = V>,
        V: Into<AttrValue>,
    {
        let values: Vec<AttrValue> = values.into_iter().map(Into::into).collect();
        match (self.position(name), values.is_empty()) {
            (Some(i), true) => {
                self.attrs.remove(i);
            }
            (Some(i), false) => self.attrs[i].values = values,
            (None, true) => {}
            (None, false) => self.attrs.push(Attr {
                name: name.into(),
                values,
            }),
        }
    }

    /// Append an attribute known not to be present yet (no duplicate check; used to build large
    /// bags such as a fresh global config in linear time).
    pub(crate) fn push_new<I, V>(&mut self, name: &str, values: I)
    where
        I: IntoIterator<Item = V>,
        V: Into<AttrValue>,
    {
        debug_assert!(self.position(name).is_none(), "{name} is already present");
        self.attrs.push(Attr {
            name: name.into(),
            values: values.into_iter().map(Into::into).collect(),
        });
    }

    /// Set `name` to the single value `value`.
    pub fn set_one(&mut self, name: &str, value: impl Into<AttrValue>) {
        self.set(name, [value.into()]);
    }

    /// Append a value (duplicates allowed: this is storage, not LDAP semantics).
    pub fn add(&mut self, name: &str, value: impl Into<AttrValue>) {
        let value = value.into();
        match self.position(name) {
            Some(i) => self.attrs[i].values.push(value),
            None => self.attrs.push(Attr {
                name: name.into(),
                values: vec![value],
            }),
        }
    }

    /// Append a value unless an equal one (ASCII case-insensitive) is present; returns whether added.
    pub fn add_unique_ci(&mut self, name: &str, value: &str) -> bool {
        if self.has_value_ci(name, value) {
            return false;
        }
        self.add(name, value);
        true
    }

    /// Remove values equal (ASCII case-insensitive) to `value`; drops the attribute when it
    /// becomes empty. Returns whether anything was removed.
    pub fn remove_value_ci(&mut self, name: &str, value: &str) -> bool {
        let Some(i) = self.position(name) else {
            return false;
        };
        let before = self.attrs[i].values.len();
        self.attrs[i]
            .values
            .retain(|v| !v.as_bytes().eq_ignore_ascii_case(value.as_bytes()));
        let removed = self.attrs[i].values.len() != before;
        if self.attrs[i].values.is_empty() {
            self.attrs.remove(i);
        }
        removed
    }

    /// Remove the attribute; returns its values.
    pub fn remove(&mut self, name: &str) -> Vec<AttrValue> {
        match self.position(name) {
            Some(i) => self.attrs.remove(i).values,
            None => Vec::new(),
        }
    }

    /// Attributes in order.
    pub fn iter(&self) -> impl Iterator<Item = &Attr> {
        self.attrs.iter()
    }

    /// Mutable attributes in order (for rewriting values in place).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Attr> {
        self.attrs.iter_mut()
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.attrs.len()
    }

    /// Whether the bag has no attributes.
    pub fn is_empty(&self) -> bool {
        self.attrs.is_empty()
    }
}

impl Serialize for AttrBag {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.attrs.len()))?;
        for a in &self.attrs {
            m.serialize_entry(&*a.name, &a.values)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for AttrBag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct BagVisitor;
        impl<'de> Visitor<'de> for BagVisitor {
            type Value = AttrBag;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of attribute names to lists of values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AttrBag, A::Error> {
                let mut bag = AttrBag::new();
                while let Some((name, values)) = map.next_entry::<String, Vec<AttrValue>>()? {
                    for v in values {
                        bag.add(&name, v);
                    }
                }
                Ok(bag)
            }
        }
        d.deserialize_map(BagVisitor)
    }
}

impl FromIterator<(String, AttrValue)> for AttrBag {
    fn from_iter<T: IntoIterator<Item = (String, AttrValue)>>(iter: T) -> Self {
        let mut bag = AttrBag::new();
        for (n, v) in iter {
            bag.add(&n, v);
        }
        bag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_case_are_kept() {
        let mut bag = AttrBag::new();
        bag.add("objectClass", "inetOrgPerson");
        bag.add("uid", "alice");
        bag.add("objectclass", "zimbraAccount");
        let names: Vec<&str> = bag.iter().map(|a| &*a.name).collect();
        assert_eq!(names, ["objectClass", "uid"]);
        assert_eq!(bag.strs("OBJECTCLASS"), ["inetOrgPerson", "zimbraAccount"]);
    }

    #[test]
    fn remove_value_drops_empty_attribute() {
        let mut bag = AttrBag::new();
        bag.add("zimbraMailAlias", "A@example.com");
        assert!(bag.remove_value_ci("zimbramailalias", "a@EXAMPLE.com"));
        assert!(!bag.contains("zimbraMailAlias"));
        assert!(!bag.remove_value_ci("zimbraMailAlias", "a@example.com"));
    }

    #[test]
    fn serde_round_trip_keeps_binary_and_order() {
        let mut bag = AttrBag::new();
        bag.add("z", "last?");
        bag.add("userCertificate;binary", vec![0u8, 159, 146, 150]);
        bag.add("a", "x");
        let json = serde_json::to_string(&bag).unwrap();
        assert!(json.starts_with("{\"z\""), "{json}");
        assert!(json.contains("base64"));
        let back: AttrBag = serde_json::from_str(&json).unwrap();
        assert_eq!(back, bag);
    }

    #[test]
    fn add_unique_ci_skips_duplicates() {
        let mut bag = AttrBag::new();
        assert!(bag.add_unique_ci("mail", "a@x.org"));
        assert!(!bag.add_unique_ci("mail", "A@X.org"));
        assert_eq!(bag.values("mail").len(), 1);
    }
}
