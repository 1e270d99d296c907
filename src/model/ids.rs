//! Zimbra ids (`zimbraId`) and a deterministic generator for new ones.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ModelError;

/// A `zimbraId`: a UUID-shaped identifier, compared case-insensitively and stored in lower case.
///
/// Zimbra's own default COS ids are not strict hexadecimal UUIDs
/// (`f27456a8-0c00-11d9-280a-286d93afea2g`), so any ASCII alphanumerics in the 8-4-4-4-12 shape
/// are accepted.
///
/// ```
/// use zimbra_prov::model::ZimbraId;
/// let id: ZimbraId = "E00428A1-0C00-11D9-836A-000D93AFEA2A".parse().unwrap();
/// assert_eq!(id.as_str(), "e00428a1-0c00-11d9-836a-000d93afea2a");
/// assert!("not-an-id".parse::<ZimbraId>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ZimbraId(Box<str>);

impl ZimbraId {
    /// Parse an id.
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        let groups: Vec<&str> = s.split('-').collect();
        let shape_ok = groups.len() == 5
            && groups
                .iter()
                .zip([8, 4, 4, 4, 12])
                .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_alphanumeric()));
        if !shape_ok {
            return Err(ModelError::InvalidId {
                value: s.to_string(),
            });
        }
        Ok(ZimbraId(s.to_ascii_lowercase().into_boxed_str()))
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ZimbraId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ZimbraId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ZimbraId({})", self.0)
    }
}

impl FromStr for ZimbraId {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ZimbraId::parse(s)
    }
}

impl Serialize for ZimbraId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ZimbraId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ZimbraId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Generates new `zimbraId`s and timestamps deterministically, so that a zmprov script applied
/// twice to the same directory gives byte-identical results (tests and diffs rely on it).
///
/// Ids are version-4-shaped UUIDs drawn from a SplitMix64 sequence seeded by `seed`.
///
/// ```
/// use zimbra_prov::model::IdGenerator;
/// let mut a = IdGenerator::new(7);
/// let mut b = IdGenerator::new(7);
/// assert_eq!(a.next_id(), b.next_id());
/// assert_ne!(a.next_id(), IdGenerator::new(8).next_id());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdGenerator {
    state: u64,
    /// The generalized time written as `zimbraCreateTimestamp` on new entries.
    pub timestamp: String,
}

impl Default for IdGenerator {
    fn default() -> Self {
        IdGenerator::new(0x5eed_2b1d)
    }
}

impl IdGenerator {
    /// A generator with the given seed and a fixed creation timestamp.
    pub fn new(seed: u64) -> Self {
        IdGenerator {
            state: seed,
            timestamp: "20260101000000Z".to_string(),
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The next id.
    pub fn next_id(&mut self) -> ZimbraId {
        let hi = self.next_u64();
        let lo = self.next_u64();
        let hi = (hi & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
        let lo = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
        let s = format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xffff,
            hi & 0xffff,
            lo >> 48,
            lo & 0xffff_ffff_ffff
        );
        ZimbraId(s.into_boxed_str())
    }

    /// A number in `0..n` (for deterministic choices such as a mail host from a pool).
    pub fn pick(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse() {
        let mut g = IdGenerator::default();
        for _ in 0..100 {
            let id = g.next_id();
            assert_eq!(ZimbraId::parse(id.as_str()).unwrap(), id);
        }
    }

    #[test]
    fn zimbra_default_external_cos_id_is_accepted() {
        assert!(ZimbraId::parse("f27456a8-0c00-11d9-280a-286d93afea2g").is_ok());
    }
}
