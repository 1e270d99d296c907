//! Attribute values: the exact bytes stored in LDAP, owned ([`AttrValue`]) or borrowed from an
//! entry's buffer ([`ValueRef`]).

use std::fmt;

use base64::Engine as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One attribute value, owned: the exact bytes stored in LDAP.
///
/// Most Zimbra values are UTF-8 text; binary values (certificates, photos) are kept as bytes.
/// In serde formats a value is a string when it is valid UTF-8 and `{"base64": "..."}` otherwise.
/// An [`AttrBag`](super::AttrBag) does not hold `AttrValue`s: it stores values in one buffer per
/// entry and lends them out as [`ValueRef`]s; `AttrValue` is what [`AttrBag::remove`](super::AttrBag::remove)
/// gives back and what callers build.
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

    /// The value borrowed.
    pub fn as_ref_value(&self) -> ValueRef<'_> {
        ValueRef(&self.0)
    }
}

impl AsRef<[u8]> for AttrValue {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

fn debug_bytes(b: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match std::str::from_utf8(b) {
        Ok(s) => write!(f, "{s:?}"),
        Err(_) => write!(f, "bytes{b:?}"),
    }
}

impl fmt::Debug for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_bytes(&self.0, f)
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

impl From<ValueRef<'_>> for AttrValue {
    fn from(v: ValueRef<'_>) -> Self {
        AttrValue(v.0.into())
    }
}

/// Serializes bytes as a string when they are UTF-8, else as `{"base64": "..."}`.
pub(crate) fn serialize_bytes<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    match std::str::from_utf8(b) {
        Ok(text) => s.serialize_str(text),
        Err(_) => {
            let mut m = s.serialize_map(Some(1))?;
            m.serialize_entry(
                "base64",
                &base64::engine::general_purpose::STANDARD.encode(b),
            )?;
            m.end()
        }
    }
}

impl Serialize for AttrValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_bytes(&self.0, s)
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

/// One attribute value borrowed from an entry: the exact bytes stored in LDAP.
///
/// ```
/// use zimbra_prov::model::AttrBag;
/// let mut bag = AttrBag::new();
/// bag.add("jpegPhoto", vec![0xff, 0xd8]);
/// bag.add("cn", "Alice");
/// let photo = bag.values("jpegPhoto").first().unwrap();
/// assert_eq!(photo.as_bytes(), &[0xff, 0xd8]);
/// assert_eq!(photo.as_str(), None);
/// assert_eq!(bag.values("cn").first().unwrap().as_str(), Some("Alice"));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueRef<'a>(pub(crate) &'a [u8]);

impl<'a> ValueRef<'a> {
    /// The value's bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The value as text, if it is valid UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.0).ok()
    }

    /// The value as text, replacing invalid UTF-8 (for display only).
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(self.0).into_owned()
    }

    /// An owned copy.
    pub fn to_value(&self) -> AttrValue {
        AttrValue::from(self.0)
    }

    /// Whether the value equals `other` ignoring ASCII case (LDAP caseIgnore matching).
    pub fn eq_ignore_ascii_case(&self, other: impl AsRef<[u8]>) -> bool {
        self.0.eq_ignore_ascii_case(other.as_ref())
    }
}

impl AsRef<[u8]> for ValueRef<'_> {
    fn as_ref(&self) -> &[u8] {
        self.0
    }
}

impl fmt::Debug for ValueRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_bytes(self.0, f)
    }
}

impl PartialEq<AttrValue> for ValueRef<'_> {
    fn eq(&self, other: &AttrValue) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for ValueRef<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl Serialize for ValueRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_bytes(self.0, s)
    }
}
