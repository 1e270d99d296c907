//! Mail addresses and domain names, compared the way LDAP and Postfix compare them.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ModelError;

/// A DNS domain name as used in mail routing, stored in lower case.
///
/// Labels are letters, digits, `-` and `_`, separated by single dots; at most 253 characters.
/// (Zimbra converts internationalised names to ASCII before storing them; this type expects the
/// ASCII form.)
///
/// ```
/// use zimbra_prov::model::DomainName;
/// let d: DomainName = "Example.ORG".parse().unwrap();
/// assert_eq!(d.as_str(), "example.org");
/// assert_eq!(d.parent().unwrap().as_str(), "org");
/// assert!("exa mple.org".parse::<DomainName>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(Box<str>);

impl DomainName {
    /// Parse and normalise (lower case) a domain name.
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        let bad = |reason: &str| ModelError::InvalidDomain {
            domain: s.to_string(),
            reason: reason.to_string(),
        };
        if s.is_empty() {
            return Err(bad("empty domain name"));
        }
        if s.len() > 253 {
            return Err(bad("longer than 253 characters"));
        }
        for label in s.split('.') {
            if label.is_empty() {
                return Err(bad("empty label"));
            }
            if label.len() > 63 {
                return Err(bad("label longer than 63 characters"));
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(bad("labels may contain only letters, digits, '-' and '_'"));
            }
        }
        Ok(DomainName(s.to_ascii_lowercase().into_boxed_str()))
    }

    /// The normalised (lower-case) name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The labels, leftmost first.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.0.split('.')
    }

    /// The parent domain (`a.b.c` → `b.c`), if any.
    pub fn parent(&self) -> Option<DomainName> {
        self.0
            .split_once('.')
            .map(|(_, rest)| DomainName(rest.into()))
    }

    /// Whether `self` equals `other` or is a subdomain of it.
    pub fn is_within(&self, other: &DomainName) -> bool {
        self == other
            || (self.0.len() > other.0.len()
                && self.0.ends_with(&*other.0)
                && self.0.as_bytes()[self.0.len() - other.0.len() - 1] == b'.')
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DomainName({})", self.0)
    }
}

impl FromStr for DomainName {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DomainName::parse(s)
    }
}

impl Serialize for DomainName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DomainName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DomainName::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A mail address `local@domain`.
///
/// The domain is case-insensitive (stored in lower case). The local part is kept exactly as
/// written (quotes included) and compared case-insensitively, as Zimbra's LDAP attributes
/// (`caseIgnoreIA5Match`) compare it. Local parts longer than RFC 5321's 64 octets are
/// accepted: directories hold them and Postfix routes them.
///
/// ```
/// use zimbra_prov::model::Address;
/// let a: Address = "Alice@Example.org".parse().unwrap();
/// assert_eq!(a.local(), "Alice");
/// assert_eq!(a.domain().as_str(), "example.org");
/// assert_eq!(a.to_string(), "Alice@example.org");
/// assert_eq!(a, "alice@example.org".parse().unwrap());
/// assert_eq!(a.key(), "alice@example.org");
/// let ext: Address = "bob+lists@example.org".parse().unwrap();
/// assert_eq!(ext.strip_extension("+").unwrap().to_string(), "bob@example.org");
/// ```
#[derive(Clone)]
pub struct Address {
    /// `local@domain` (the domain lower-cased).
    full: Box<str>,
    /// Length of the local part in `full`.
    local_len: usize,
    domain: DomainName,
}

impl Address {
    /// Parse `local@domain` (split at the last `@` outside quotes).
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        let bad = |reason: &str| ModelError::InvalidAddress {
            address: s.to_string(),
            reason: reason.to_string(),
        };
        let at = s.rfind('@').ok_or_else(|| bad("missing '@'"))?;
        let (local, domain) = (&s[..at], &s[at + 1..]);
        if local.is_empty() {
            return Err(bad("empty local part"));
        }
        let quoted = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
        if !quoted {
            if local.contains('"') && local.matches('"').count() % 2 == 1 {
                return Err(bad("unbalanced quote in local part"));
            }
            if local
                .chars()
                .any(|c| c.is_control() || c == ' ' || c == ',' || c == '<' || c == '>')
            {
                return Err(bad("local part has a character that needs quoting"));
            }
        } else if local[1..local.len() - 1].chars().any(|c| c.is_control()) {
            return Err(bad("control character in quoted local part"));
        }
        let domain = DomainName::parse(domain).map_err(|e| match e {
            ModelError::InvalidDomain { reason, .. } => bad(&format!("domain: {reason}")),
            other => other,
        })?;
        Ok(Address::from_parts(local, domain))
    }

    fn from_parts(local: &str, domain: DomainName) -> Address {
        let mut full = String::with_capacity(local.len() + 1 + domain.0.len());
        full.push_str(local);
        full.push('@');
        full.push_str(&domain.0);
        Address {
            full: full.into_boxed_str(),
            local_len: local.len(),
            domain,
        }
    }

    /// Build from parts (the local part is checked like [`Address::parse`] does).
    pub fn new(local: &str, domain: &DomainName) -> Result<Self, ModelError> {
        Address::parse(&format!("{local}@{}", domain.as_str()))
    }

    /// The whole address as written (`local@domain`, the domain in lower case), without
    /// allocating.
    ///
    /// ```
    /// use zimbra_prov::model::Address;
    /// let a: Address = "Bob@Example.ORG".parse().unwrap();
    /// assert_eq!(a.as_str(), "Bob@example.org");
    /// assert_eq!(a.as_str(), a.to_string());
    /// ```
    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// The local part as written.
    pub fn local(&self) -> &str {
        &self.full[..self.local_len]
    }

    /// The domain.
    pub fn domain(&self) -> &DomainName {
        &self.domain
    }

    /// The lower-case `local@domain` string: the key LDAP equality matching uses.
    pub fn key(&self) -> String {
        self.full.to_ascii_lowercase()
    }

    /// The same local part in another domain (what an `@otherdomain` alias result does).
    pub fn with_domain(&self, domain: &DomainName) -> Address {
        Address::from_parts(self.local(), domain.clone())
    }

    /// The address without its `+extension` (Postfix `recipient_delimiter`; every character of
    /// `delimiters` is a delimiter). `None` when there is no extension.
    pub fn strip_extension(&self, delimiters: &str) -> Option<Address> {
        let local = self.local();
        if delimiters.is_empty() || local.starts_with('"') {
            return None;
        }
        let pos = local.find(|c| delimiters.contains(c))?;
        if pos == 0 {
            return None;
        }
        Some(Address::from_parts(&local[..pos], self.domain.clone()))
    }

    /// The `+extension` part (with its delimiter), if any.
    pub fn extension(&self, delimiters: &str) -> Option<&str> {
        let stripped = self.strip_extension(delimiters)?;
        Some(&self.local()[stripped.local_len..])
    }
}

impl PartialEq for Address {
    fn eq(&self, other: &Self) -> bool {
        self.domain == other.domain && self.local().eq_ignore_ascii_case(other.local())
    }
}

impl Eq for Address {}

impl Hash for Address {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for b in self.local().bytes() {
            state.write_u8(b.to_ascii_lowercase());
        }
        state.write_u8(b'@');
        self.domain.hash(state);
    }
}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Address {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl FromStr for Address {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::parse(s)
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.full)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Address::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Parse the catch-all form `@domain` used by `zimbraMailCatchAllAddress`,
/// `zimbraMailCatchAllForwardingAddress` and `zimbraMailCatchAllCanonicalAddress`.
///
/// ```
/// use zimbra_prov::model::parse_catch_all;
/// assert_eq!(parse_catch_all("@Example.org").unwrap().as_str(), "example.org");
/// assert!(parse_catch_all("user@example.org").is_err());
/// ```
pub fn parse_catch_all(s: &str) -> Result<DomainName, ModelError> {
    match s.strip_prefix('@') {
        Some(d) => DomainName::parse(d).map_err(|_| ModelError::InvalidCatchAll {
            value: s.to_string(),
        }),
        None => Err(ModelError::InvalidCatchAll {
            value: s.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_rules() {
        assert!(DomainName::parse("a..b").is_err());
        assert!(DomainName::parse(".a").is_err());
        assert!(DomainName::parse("").is_err());
        assert!(DomainName::parse("under_score.example").is_ok());
        let d = DomainName::parse("mail.Example.com").unwrap();
        assert!(d.is_within(&"example.com".parse().unwrap()));
        assert!(!d.is_within(&"ample.com".parse().unwrap()));
        assert!(!"example.com".parse::<DomainName>().unwrap().is_within(&d));
    }

    #[test]
    fn address_rules() {
        assert!(Address::parse("no-at-sign").is_err());
        assert!(Address::parse("@example.com").is_err());
        assert!(Address::parse("a b@example.com").is_err());
        let q = Address::parse("\"a b\"@example.com").unwrap();
        assert_eq!(q.local(), "\"a b\"");
        assert_eq!(q.strip_extension("+"), None);
        let a = Address::parse("x@y@example.com").unwrap();
        assert_eq!(a.local(), "x@y");
        assert_eq!(a.as_str(), "x@y@example.com");
        // longer than RFC 5321's 64 octets: migrations bring such addresses, Postfix routes them
        let long = format!("{}@Example.com", "a".repeat(70));
        assert_eq!(Address::parse(&long).unwrap().as_str(), long.to_lowercase());
    }

    #[test]
    fn extension_handling() {
        let a = Address::parse("bob-sub+x@example.com").unwrap();
        assert_eq!(a.strip_extension("+-").unwrap().local(), "bob");
        assert_eq!(a.extension("+").unwrap(), "+x");
        assert_eq!(
            Address::parse("+x@e.com").unwrap().strip_extension("+"),
            None
        );
    }

    #[test]
    fn hash_matches_eq() {
        use std::collections::HashSet;
        let mut set = HashSet::new();
        set.insert(Address::parse("Bob@EXAMPLE.com").unwrap());
        assert!(set.contains(&Address::parse("bob@example.com").unwrap()));
    }
}
