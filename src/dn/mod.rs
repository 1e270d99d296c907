//! RFC 4514 distinguished names.
//!
//! A [`Dn`] keeps three things: the text it was parsed from ([`Dn::as_str`]), its
//! relative distinguished names ([`Dn::rdns`], leaf first, as written), and a normalized
//! form ([`Dn::normalized`]) used for equality, hashing and subtree tests. Normalization
//! lower-cases attribute types (and maps the OIDs of `cn`, `ou`, `o`, `dc`, `uid` to those
//! names), lower-cases and space-folds the values of the naming attributes Zimbra uses
//! (`dc`, `ou`, `cn`, `uid`, `o`), keeps every other value exact, and sorts the parts of a
//! multi-valued RDN.
//!
//! The parser accepts RFC 4514 strings plus the RFC 2253 habit of spaces around `,`, `+`
//! and `=` (`cn=a, ou=b`), which old LDIF files and OpenLDAP's own test data use;
//! unescaped leading and trailing spaces of a value are dropped, as OpenLDAP does.
//!
//! ```
//! use zimbra_prov::dn::Dn;
//! let a = Dn::parse("UID=Alice,OU=People,DC=Example,DC=com")?;
//! let b = Dn::zimbra_account("alice", "example.com")?;
//! assert_eq!(a, b);
//! assert_eq!(b.to_string(), "uid=alice,ou=people,dc=example,dc=com");
//! assert!(a.is_under(&Dn::zimbra_domain("example.com")?));
//! let moved = a.rebase(&Dn::parse("dc=example,dc=com")?, &Dn::parse("dc=example,dc=org")?);
//! assert_eq!(moved.map(|d| d.to_string()).as_deref(), Some("UID=Alice,OU=People,dc=example,dc=org"));
//! # Ok::<(), zimbra_prov::dn::DnError>(())
//! ```

use std::fmt;
use std::hash::{Hash, Hasher};

mod syntax;

pub use syntax::escape_value;
use syntax::{canonical_type, check_type, fold_case_ignore, is_case_ignore, push_hex, scan, Event};

/// Why a DN string or a DN built from names was rejected.
///
/// ```
/// use zimbra_prov::dn::{Dn, DnError, DnErrorReason};
/// let err = Dn::parse("cn=a,,dc=b").unwrap_err();
/// assert!(matches!(err, DnError::Syntax { reason: DnErrorReason::EmptyRdn, .. }), "{err}");
/// assert!(matches!(Dn::zimbra_domain("example..org"), Err(DnError::BadName { reason: "empty label", .. })));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnError {
    /// The text is not a valid RFC 4514 DN.
    #[error("invalid DN {dn:?} at byte {position}: {reason}")]
    Syntax {
        /// The text that was parsed.
        dn: String,
        /// Byte offset of the problem in `dn`.
        position: usize,
        /// What is wrong there.
        reason: DnErrorReason,
    },
    /// A name given to a constructor cannot form a DN (for example an empty domain label).
    #[error("cannot build a {what} DN from {name:?}: {reason}")]
    BadName {
        /// Which kind of DN was being built (`domain`, `account`, ...).
        what: &'static str,
        /// The name that was given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An RDN was expected but the text has none or several.
    #[error("{dn:?} is not a single RDN (it has {count})")]
    NotSingleRdn {
        /// The text that was parsed.
        dn: String,
        /// How many RDNs it has.
        count: usize,
    },
}

/// The reason part of [`DnError::Syntax`].
///
/// ```
/// use zimbra_prov::dn::{Dn, DnError, DnErrorReason};
/// let Err(DnError::Syntax { reason, .. }) = Dn::parse("cn") else { unreachable!() };
/// assert_eq!(reason, DnErrorReason::ExpectedEquals);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnErrorReason {
    /// An attribute type was expected (a letter or a digit).
    #[error("expected an attribute type")]
    ExpectedType,
    /// The attribute type is neither a keystring nor a numeric OID.
    #[error("invalid attribute type")]
    InvalidType,
    /// The attribute type is not followed by `=`.
    #[error("expected '=' after the attribute type")]
    ExpectedEquals,
    /// A character that must be escaped appears unescaped in a value.
    #[error("character must be escaped")]
    UnescapedSpecial,
    /// A backslash is not followed by a special character or two hex digits.
    #[error("invalid escape sequence")]
    BadEscape,
    /// A `#` hex string has an odd number of digits, none, or a non-hex digit.
    #[error("invalid hex string value")]
    BadHexString,
    /// Escaped octets do not form UTF-8.
    #[error("value is not valid UTF-8 after unescaping")]
    NotUtf8,
    /// An RDN is empty (for example `a=b,,c=d` or a trailing comma).
    #[error("empty RDN")]
    EmptyRdn,
}

/// The value of one attribute-type-and-value pair.
///
/// ```
/// use zimbra_prov::dn::{AttrValue, Rdn};
/// let rdn = Rdn::parse("cn=Ann+uid=#04024869")?;
/// assert_eq!(rdn.avas()[0].value(), &AttrValue::Text("Ann".into()));
/// assert_eq!(rdn.avas()[1].value(), &AttrValue::Ber(vec![0x04, 0x02, 0x48, 0x69]));
/// # Ok::<(), zimbra_prov::dn::DnError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttrValue {
    /// A string value (unescaped).
    Text(String),
    /// A `#hexstring` value: the BER encoding of the value, as bytes.
    Ber(Vec<u8>),
}

/// One `type=value` pair of an RDN.
///
/// ```
/// let rdn = zimbra_prov::dn::Rdn::parse("UID=ann")?;
/// let ava = &rdn.avas()[0];
/// assert_eq!((ava.attr_type(), ava.text()), ("UID", Some("ann")));
/// # Ok::<(), zimbra_prov::dn::DnError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ava {
    attr_type: String,
    value: AttrValue,
}

impl Ava {
    /// Builds a pair from an attribute type (keystring or numeric OID) and a text value.
    ///
    /// ```
    /// let ava = zimbra_prov::dn::Ava::new("cn", "Doe, John")?;
    /// assert_eq!(ava.to_string(), "cn=Doe\\, John");
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn new(attr_type: &str, value: &str) -> Result<Ava, DnError> {
        if let Err(position) = check_type(attr_type.as_bytes()) {
            return Err(DnError::Syntax {
                dn: attr_type.to_string(),
                position,
                reason: DnErrorReason::InvalidType,
            });
        }
        Ok(Ava {
            attr_type: attr_type.to_string(),
            value: AttrValue::Text(value.to_string()),
        })
    }

    /// The attribute type as written.
    ///
    /// ```
    /// let ava = zimbra_prov::dn::Ava::new("2.5.4.3", "x")?;
    /// assert_eq!(ava.attr_type(), "2.5.4.3");
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn attr_type(&self) -> &str {
        &self.attr_type
    }

    /// The value.
    ///
    /// ```
    /// use zimbra_prov::dn::{Ava, AttrValue};
    /// assert_eq!(Ava::new("cn", "x")?.value(), &AttrValue::Text("x".into()));
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn value(&self) -> &AttrValue {
        &self.value
    }

    /// The value as text, if it is a string value.
    ///
    /// ```
    /// let rdn = zimbra_prov::dn::Rdn::parse("cn=#0403616263")?;
    /// assert_eq!(rdn.avas()[0].text(), None);
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn text(&self) -> Option<&str> {
        match &self.value {
            AttrValue::Text(s) => Some(s),
            AttrValue::Ber(_) => None,
        }
    }

    fn normalized_into(&self, out: &mut String) {
        let ty = canonical_type(&self.attr_type);
        out.push_str(&ty);
        out.push('=');
        match &self.value {
            AttrValue::Text(s) => {
                if is_case_ignore(&ty) {
                    let folded = fold_case_ignore(s);
                    escape_value(&folded, out);
                } else {
                    escape_value(s, out);
                }
            }
            AttrValue::Ber(b) => push_hex(b, out),
        }
    }
}

impl fmt::Display for Ava {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(self.attr_type.len() + 16);
        s.push_str(&self.attr_type);
        s.push('=');
        match &self.value {
            AttrValue::Text(v) => escape_value(v, &mut s),
            AttrValue::Ber(b) => push_hex(b, &mut s),
        }
        f.write_str(&s)
    }
}

/// A relative distinguished name: one or more [`Ava`]s joined by `+`.
///
/// ```
/// use zimbra_prov::dn::Rdn;
/// assert_eq!(Rdn::parse("CN=Ann  Lee")?, Rdn::parse("cn=ann lee")?);
/// # Ok::<(), zimbra_prov::dn::DnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Rdn {
    original: String,
    avas: Vec<Ava>,
    normalized: String,
}

impl Rdn {
    /// Parses a single RDN such as `uid=alice` or `cn=a+uid=b`.
    ///
    /// ```
    /// let rdn = zimbra_prov::dn::Rdn::parse("cn=a+uid=b")?;
    /// assert_eq!(rdn.avas().len(), 2);
    /// assert!(zimbra_prov::dn::Rdn::parse("cn=a,dc=b").is_err());
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn parse(s: &str) -> Result<Rdn, DnError> {
        let dn = Dn::parse(s)?;
        let count = dn.rdns.len();
        match (count, dn.rdns.into_iter().next()) {
            (1, Some(rdn)) => Ok(rdn),
            _ => Err(DnError::NotSingleRdn {
                dn: s.to_string(),
                count,
            }),
        }
    }

    /// Builds an RDN from pairs (at least one).
    ///
    /// ```
    /// use zimbra_prov::dn::{Ava, Rdn};
    /// let rdn = Rdn::from_avas(vec![Ava::new("uid", "ann")?, Ava::new("cn", "Ann")?])?;
    /// assert_eq!(rdn.to_string(), "uid=ann+cn=Ann");
    /// assert!(Rdn::from_avas(Vec::new()).is_err());
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn from_avas(avas: Vec<Ava>) -> Result<Rdn, DnError> {
        if avas.is_empty() {
            return Err(DnError::Syntax {
                dn: String::new(),
                position: 0,
                reason: DnErrorReason::EmptyRdn,
            });
        }
        let original = avas
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join("+");
        Ok(Rdn::assemble(original, avas))
    }

    fn assemble(original: String, avas: Vec<Ava>) -> Rdn {
        let mut parts: Vec<String> = avas
            .iter()
            .map(|a| {
                let mut s = String::new();
                a.normalized_into(&mut s);
                s
            })
            .collect();
        parts.sort();
        let normalized = parts.join("+");
        Rdn {
            original,
            avas,
            normalized,
        }
    }

    /// The text of this RDN as written.
    ///
    /// ```
    /// let rdn = zimbra_prov::dn::Rdn::parse("CN=Ann")?;
    /// assert_eq!(rdn.as_str(), "CN=Ann");
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// The attribute-type-and-value pairs, in written order.
    ///
    /// ```
    /// let rdn = zimbra_prov::dn::Rdn::parse("cn=a+sn=b")?;
    /// assert_eq!(rdn.avas().len(), 2);
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn avas(&self) -> &[Ava] {
        &self.avas
    }

    /// The normalized form used for comparison.
    ///
    /// ```
    /// let rdn = zimbra_prov::dn::Rdn::parse("CN=Ann  Lee")?;
    /// assert_eq!(rdn.normalized(), "cn=ann lee");
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

impl PartialEq for Rdn {
    fn eq(&self, other: &Rdn) -> bool {
        self.normalized == other.normalized
    }
}
impl Eq for Rdn {}
impl Hash for Rdn {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.normalized.hash(state)
    }
}

impl fmt::Display for Rdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.avas.iter().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            fmt::Display::fmt(a, f)?;
        }
        Ok(())
    }
}

/// A distinguished name. Equality and hashing use [`Dn::normalized`].
///
/// ```
/// use zimbra_prov::dn::Dn;
/// let a = Dn::parse("uid=Ann, ou=people, dc=example, dc=com")?;
/// assert_eq!(a, Dn::zimbra_account("ann", "example.com")?);
/// assert_eq!(a.as_str(), "uid=Ann, ou=people, dc=example, dc=com");
/// # Ok::<(), zimbra_prov::dn::DnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Dn {
    original: String,
    rdns: Vec<Rdn>,
    normalized: String,
}

impl PartialEq for Dn {
    fn eq(&self, other: &Dn) -> bool {
        self.normalized == other.normalized
    }
}
impl Eq for Dn {}
impl Hash for Dn {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.normalized.hash(state)
    }
}

impl Default for Dn {
    fn default() -> Dn {
        Dn::root()
    }
}

impl fmt::Display for Dn {
    /// Writes the RFC 4514 string form: types as written, values with minimal escaping.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.rdns.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            fmt::Display::fmt(r, f)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Dn {
    type Err = DnError;
    fn from_str(s: &str) -> Result<Dn, DnError> {
        Dn::parse(s)
    }
}

impl Dn {
    /// The root DN `""` (no RDNs); Zimbra's LDAP suffix.
    ///
    /// ```
    /// use zimbra_prov::dn::Dn;
    /// assert!(Dn::root().is_root());
    /// assert!(Dn::zimbra_config().is_under(&Dn::root()));
    /// ```
    pub fn root() -> Dn {
        Dn {
            original: String::new(),
            rdns: Vec::new(),
            normalized: String::new(),
        }
    }

    /// Parses an RFC 4514 DN string; `""` is the root DN.
    ///
    /// ```
    /// use zimbra_prov::dn::{Dn, AttrValue};
    /// let dn = Dn::parse(r"cn=Doe\, John+uid=jdoe,1.3.6.1.4.1.1466.0=#04024869,dc=example")?;
    /// assert_eq!(dn.rdns().len(), 3);
    /// assert_eq!(dn.rdns()[0].avas()[0].text(), Some("Doe, John"));
    /// assert_eq!(dn.rdns()[1].avas()[0].value(), &AttrValue::Ber(vec![4, 2, 0x48, 0x69]));
    /// assert!(Dn::parse("uid=alice,,dc=example").is_err());
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn parse(s: &str) -> Result<Dn, DnError> {
        let mut rdns: Vec<Rdn> = Vec::new();
        let mut avas: Vec<Ava> = Vec::new();
        scan(s, |ev| match ev {
            Event::Ava { ty, value } => avas.push(Ava {
                attr_type: ty.to_string(),
                value,
            }),
            Event::RdnEnd { start, end } => {
                // `end` is just after the last significant byte, so an escaped
                // trailing space (`cn=a\ `) stays in the RDN's text.
                let text = s
                    .get(start..end)
                    .unwrap_or_default()
                    .trim_start()
                    .to_string();
                rdns.push(Rdn::assemble(text, std::mem::take(&mut avas)));
            }
        })?;
        Ok(Dn::from_rdns_with_original(s.to_string(), rdns))
    }

    /// Checks that `s` is a valid DN without building one (no allocation unless the
    /// value has escapes).
    ///
    /// ```
    /// assert!(zimbra_prov::dn::Dn::validate("uid=a,dc=b").is_ok());
    /// assert!(zimbra_prov::dn::Dn::validate("uid").is_err());
    /// ```
    pub fn validate(s: &str) -> Result<(), DnError> {
        scan(s, |_| {})
    }

    /// Builds a DN from RDNs (leaf first). The original text becomes the RFC 4514 form.
    ///
    /// ```
    /// use zimbra_prov::dn::{Dn, Rdn};
    /// let dn = Dn::from_rdns(vec![Rdn::parse("cn=a")?, Rdn::parse("dc=example")?]);
    /// assert_eq!(dn.to_string(), "cn=a,dc=example");
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn from_rdns(rdns: Vec<Rdn>) -> Dn {
        let original = rdns
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",");
        Dn::from_rdns_with_original(original, rdns)
    }

    fn from_rdns_with_original(original: String, rdns: Vec<Rdn>) -> Dn {
        let mut normalized = String::with_capacity(original.len());
        for (i, r) in rdns.iter().enumerate() {
            if i > 0 {
                normalized.push(',');
            }
            normalized.push_str(&r.normalized);
        }
        Dn {
            original,
            rdns,
            normalized,
        }
    }

    /// The text this DN was parsed from (or built as).
    ///
    /// ```
    /// let dn = zimbra_prov::dn::Dn::parse("UID=Ann,DC=Example")?;
    /// assert_eq!(dn.as_str(), "UID=Ann,DC=Example");
    /// assert_eq!(dn.normalized(), "uid=ann,dc=example");
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// Same as [`Dn::as_str`].
    ///
    /// ```
    /// let dn = zimbra_prov::dn::Dn::parse("cn=x, dc=y")?;
    /// assert_eq!(dn.original(), dn.as_str());
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn original(&self) -> &str {
        &self.original
    }

    /// The normalized form: compare two DNs by this.
    ///
    /// ```
    /// let dn = zimbra_prov::dn::Dn::parse("CN=Big  Boss , O=Acme,  sn=Exact")?;
    /// assert_eq!(dn.normalized(), "cn=big boss,o=acme,sn=Exact");
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// The RDNs, leaf first (the order they are written in).
    ///
    /// ```
    /// let dn = zimbra_prov::dn::Dn::parse("uid=ann,dc=example")?;
    /// let leaf_first: Vec<&str> = dn.rdns().iter().map(|r| r.as_str()).collect();
    /// assert_eq!(leaf_first, ["uid=ann", "dc=example"]);
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn rdns(&self) -> &[Rdn] {
        &self.rdns
    }

    /// The leaf RDN (`None` for the root DN).
    ///
    /// ```
    /// use zimbra_prov::dn::Dn;
    /// assert_eq!(Dn::parse("uid=ann,dc=example")?.rdn().map(|r| r.as_str()), Some("uid=ann"));
    /// assert!(Dn::root().rdn().is_none());
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn rdn(&self) -> Option<&Rdn> {
        self.rdns.first()
    }

    /// True for the root DN `""`.
    ///
    /// ```
    /// use zimbra_prov::dn::Dn;
    /// assert!(Dn::parse("")?.is_root());
    /// assert!(!Dn::parse("dc=com")?.is_root());
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn is_root(&self) -> bool {
        self.rdns.is_empty()
    }

    /// The parent DN (`None` for the root DN).
    ///
    /// ```
    /// let dn = zimbra_prov::dn::Dn::parse("uid=a,dc=example")?;
    /// assert_eq!(dn.parent().map(|p| p.to_string()).as_deref(), Some("dc=example"));
    /// assert!(dn.parent().and_then(|p| p.parent()).is_some_and(|r| r.is_root()));
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn parent(&self) -> Option<Dn> {
        if self.rdns.is_empty() {
            return None;
        }
        Some(Dn::from_rdns(
            self.rdns.get(1..).unwrap_or_default().to_vec(),
        ))
    }

    /// True when `self` equals `base` or lies below it (every DN is under the root DN).
    ///
    /// ```
    /// use zimbra_prov::dn::Dn;
    /// let domain = Dn::zimbra_domain("example.com")?;
    /// assert!(Dn::zimbra_account("ann", "example.com")?.is_under(&domain));
    /// assert!(domain.is_under(&domain));
    /// assert!(!Dn::zimbra_account("ann", "example.org")?.is_under(&domain));
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn is_under(&self, base: &Dn) -> bool {
        let n = base.rdns.len();
        if n > self.rdns.len() {
            return false;
        }
        let skip = self.rdns.len() - n;
        self.rdns.iter().skip(skip).eq(base.rdns.iter())
    }

    /// True when `self` is a proper ancestor of `other` (strictly above it).
    ///
    /// ```
    /// use zimbra_prov::dn::Dn;
    /// let domain = Dn::zimbra_domain("example.com")?;
    /// assert!(domain.is_ancestor_of(&Dn::zimbra_account("ann", "example.com")?));
    /// assert!(!domain.is_ancestor_of(&domain));
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn is_ancestor_of(&self, other: &Dn) -> bool {
        other.rdns.len() > self.rdns.len() && other.is_under(self)
    }

    /// Moves the DN from under `old_suffix` to under `new_suffix`; `None` when it is not
    /// under `old_suffix`. The RDNs below the suffix keep their original spelling.
    ///
    /// ```
    /// use zimbra_prov::dn::Dn;
    /// let ann = Dn::zimbra_account("ann", "example.com")?;
    /// let moved = ann.rebase(&Dn::zimbra_domain("example.com")?, &Dn::zimbra_domain("example.org")?);
    /// assert_eq!(moved, Some(Dn::zimbra_account("ann", "example.org")?));
    /// assert_eq!(ann.rebase(&Dn::parse("dc=other")?, &Dn::root()), None);
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn rebase(&self, old_suffix: &Dn, new_suffix: &Dn) -> Option<Dn> {
        if !self.is_under(old_suffix) {
            return None;
        }
        let keep = self.rdns.len() - old_suffix.rdns.len();
        let mut rdns: Vec<Rdn> = self.rdns.iter().take(keep).cloned().collect();
        rdns.extend(new_suffix.rdns.iter().cloned());
        Some(Dn::from_rdns(rdns))
    }

    /// A child of this DN with the given leaf RDN.
    ///
    /// ```
    /// use zimbra_prov::dn::{Dn, Rdn};
    /// let people = Dn::parse("ou=people,dc=example,dc=com")?;
    /// assert_eq!(people.child(Rdn::parse("uid=ann")?), Dn::zimbra_account("ann", "example.com")?);
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn child(&self, rdn: Rdn) -> Dn {
        let mut rdns = Vec::with_capacity(self.rdns.len() + 1);
        rdns.push(rdn);
        rdns.extend(self.rdns.iter().cloned());
        Dn::from_rdns(rdns)
    }

    fn child_of(&self, ty: &str, value: &str) -> Dn {
        let ava = Ava {
            attr_type: ty.to_string(),
            value: AttrValue::Text(value.to_string()),
        };
        let original = ava.to_string();
        self.child(Rdn::assemble(original, vec![ava]))
    }

    fn zimbra_cn_zimbra(container: &str) -> Dn {
        Dn::root()
            .child_of("cn", "zimbra")
            .child_of("cn", container)
    }

    /// The DN of a Zimbra domain: `example.com` → `dc=example,dc=com`.
    ///
    /// ```
    /// use zimbra_prov::dn::Dn;
    /// assert_eq!(Dn::zimbra_domain("example.com")?.to_string(), "dc=example,dc=com");
    /// assert!(Dn::zimbra_domain("a..b").is_err());
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn zimbra_domain(domain: &str) -> Result<Dn, DnError> {
        let bad = |reason| DnError::BadName {
            what: "domain",
            name: domain.to_string(),
            reason,
        };
        if domain.is_empty() {
            return Err(bad("empty domain name"));
        }
        let mut dn = Dn::root();
        for label in domain.rsplit('.') {
            if label.is_empty() {
                return Err(bad("empty label"));
            }
            dn = dn.child_of("dc", label);
        }
        Ok(dn)
    }

    /// The DN of a Zimbra account: `uid=LOCAL,ou=people,dc=...`. The local part is
    /// escaped, so `a,b` cannot inject an RDN.
    ///
    /// ```
    /// use zimbra_prov::dn::Dn;
    /// let dn = Dn::zimbra_account("a,uid=b", "example.com")?;
    /// assert_eq!(dn.to_string(), r"uid=a\,uid=b,ou=people,dc=example,dc=com");
    /// assert_eq!(dn.rdns().len(), 4);
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn zimbra_account(local: &str, domain: &str) -> Result<Dn, DnError> {
        if local.is_empty() {
            return Err(DnError::BadName {
                what: "account",
                name: local.to_string(),
                reason: "empty local part",
            });
        }
        Ok(Dn::zimbra_domain(domain)?
            .child_of("ou", "people")
            .child_of("uid", local))
    }

    /// The DN of a Zimbra dynamic group: `cn=LOCAL,cn=groups,dc=...`.
    ///
    /// ```
    /// let dn = zimbra_prov::dn::Dn::zimbra_dynamic_group("team", "example.com")?;
    /// assert_eq!(dn.to_string(), "cn=team,cn=groups,dc=example,dc=com");
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn zimbra_dynamic_group(local: &str, domain: &str) -> Result<Dn, DnError> {
        if local.is_empty() {
            return Err(DnError::BadName {
                what: "dynamic group",
                name: local.to_string(),
                reason: "empty local part",
            });
        }
        Ok(Dn::zimbra_domain(domain)?
            .child_of("cn", "groups")
            .child_of("cn", local))
    }

    /// The DN of a class of service: `cn=NAME,cn=cos,cn=zimbra`.
    ///
    /// ```
    /// let dn = zimbra_prov::dn::Dn::zimbra_cos("default")?;
    /// assert_eq!(dn.to_string(), "cn=default,cn=cos,cn=zimbra");
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn zimbra_cos(name: &str) -> Result<Dn, DnError> {
        if name.is_empty() {
            return Err(DnError::BadName {
                what: "cos",
                name: String::new(),
                reason: "empty name",
            });
        }
        Ok(Dn::zimbra_cn_zimbra("cos").child_of("cn", name))
    }

    /// The DN of a server: `cn=HOST,cn=servers,cn=zimbra`.
    ///
    /// ```
    /// let dn = zimbra_prov::dn::Dn::zimbra_server("mbx1.example.com")?;
    /// assert_eq!(dn.to_string(), "cn=mbx1.example.com,cn=servers,cn=zimbra");
    /// # Ok::<(), zimbra_prov::dn::DnError>(())
    /// ```
    pub fn zimbra_server(host: &str) -> Result<Dn, DnError> {
        if host.is_empty() {
            return Err(DnError::BadName {
                what: "server",
                name: String::new(),
                reason: "empty host name",
            });
        }
        Ok(Dn::zimbra_cn_zimbra("servers").child_of("cn", host))
    }

    /// The DN of the global configuration: `cn=config,cn=zimbra`.
    ///
    /// ```
    /// assert_eq!(zimbra_prov::dn::Dn::zimbra_config().to_string(), "cn=config,cn=zimbra");
    /// ```
    pub fn zimbra_config() -> Dn {
        Dn::root().child_of("cn", "zimbra").child_of("cn", "config")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dn(s: &str) -> Dn {
        match Dn::parse(s) {
            Ok(d) => d,
            Err(e) => panic!("{s:?}: {e}"),
        }
    }

    #[test]
    fn escapes_and_multivalued() {
        let d = dn(r#"cn=James \"Jim\" Smith\, III+uid=js,dc=x"#);
        assert_eq!(
            d.rdns()[0].avas()[0].text(),
            Some(r#"James "Jim" Smith, III"#)
        );
        assert_eq!(d.rdns()[0].avas()[1].text(), Some("js"));
        assert_eq!(d.to_string(), r#"cn=James \"Jim\" Smith\, III+uid=js,dc=x"#);
        let d = dn(r"CN=Before\0dAfter,DC=example");
        assert_eq!(d.rdns()[0].avas()[0].text(), Some("Before\rAfter"));
        assert_eq!(d.to_string(), r"CN=Before\0DAfter,DC=example");
        let d = dn(r"CN=Lu\C4\8Di\C4\87");
        assert_eq!(d.rdns()[0].avas()[0].text(), Some("Lučić"));
        let d = dn(r"cn=\23hash\20,o=x");
        assert_eq!(d.rdns()[0].avas()[0].text(), Some("#hash "));
        assert_eq!(d.to_string(), r"cn=\#hash\ ,o=x");
        let d = dn(r"cn=\<a\>\;\=\+");
        assert_eq!(d.rdns()[0].avas()[0].text(), Some("<a>;=+"));
    }

    #[test]
    fn equality_rules() {
        assert_eq!(dn("CN=Foo Bar,DC=Example"), dn("cn=foo  bar,dc=example"));
        assert_eq!(dn("cn=a+uid=b,o=x"), dn("UID=B+CN=A,O=X"));
        assert_ne!(dn("sn=Foo,dc=x"), dn("sn=foo,dc=x"));
        assert_eq!(dn("2.5.4.3=A,dc=x"), dn("cn=a,dc=x"));
        assert_eq!(dn(r"cn=a\,b"), dn(r"cn=a\2Cb"));
        assert_eq!(
            dn("cn=James A Jones 1, ou=Alumni Association, c=US"),
            dn("cn=James A Jones 1,ou=Alumni Association,c=US")
        );
    }

    #[test]
    fn errors() {
        for bad in [
            "uid=a,,dc=b",
            "alice,ou=x",
            "cn=a,",
            ",cn=a",
            "cn=#0",
            "cn=#",
            "cn=#zz",
            "cn=a\\",
            "cn=a\\x",
            "cn=a;b",
            "cn=a\"b",
            "1cn=x",
            "1..2=x",
            "01.2=x",
            "cn=\\ff",
            "cn=a>b",
            "=x",
            "c_n=x",
            "cn=#0102 x",
        ] {
            assert!(Dn::parse(bad).is_err(), "{bad:?} accepted");
            assert!(Dn::validate(bad).is_err(), "{bad:?} validated");
        }
        match Dn::parse("uid=a,,dc=b") {
            Err(DnError::Syntax {
                position, reason, ..
            }) => {
                assert_eq!((position, reason), (6, DnErrorReason::EmptyRdn))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tree_operations() {
        let root = Dn::root();
        let d = dn("uid=a,ou=people,dc=example,dc=com");
        let dom = dn("DC=Example,DC=Com");
        assert!(d.is_under(&dom) && d.is_under(&root) && dom.is_ancestor_of(&d));
        assert!(!d.is_ancestor_of(&d) && d.is_under(&d));
        assert!(!dom.is_under(&d));
        assert!(!dn("dc=com").is_under(&dn("dc=example,dc=com")));
        let moved = d.rebase(&dom, &dn("ou=x,dc=org")).map(|m| m.to_string());
        assert_eq!(moved.as_deref(), Some("uid=a,ou=people,ou=x,dc=org"));
        assert!(d.rebase(&dn("dc=org"), &dom).is_none());
        assert_eq!(root.parent(), None);
        let esc = dn(r"cn=a\ , ou=b\20 ,dc=x");
        assert_eq!(esc.rdns()[0].as_str(), r"cn=a\ ");
        assert_eq!(esc.rdns()[1].as_str(), r"ou=b\20");
        let moved = esc
            .rebase(&dn("dc=x"), &dn("dc=y"))
            .map(|m| m.as_str().to_string());
        assert_eq!(moved.as_deref(), Some(r"cn=a\ ,ou=b\20,dc=y"));
        assert_eq!(Dn::parse("").map(|d| d.is_root()), Ok(true));
        assert_eq!(dom.rebase(&dom, &root).map(|d| d.is_root()), Some(true));
    }

    #[test]
    fn zimbra_constructors_escape() {
        let d = Dn::zimbra_account(" lead+x", "ex.com").map(|d| d.to_string());
        assert_eq!(d.as_deref(), Ok(r"uid=\ lead\+x,ou=people,dc=ex,dc=com"));
        let d = Dn::zimbra_cos("#1").map(|d| d.to_string());
        assert_eq!(d.as_deref(), Ok(r"cn=\#1,cn=cos,cn=zimbra"));
        assert_eq!(Dn::zimbra_config().to_string(), "cn=config,cn=zimbra");
        let d = Dn::zimbra_server("mta1.example.com").map(|d| d.to_string());
        assert_eq!(d.as_deref(), Ok("cn=mta1.example.com,cn=servers,cn=zimbra"));
        let d = Dn::zimbra_dynamic_group("all", "ex.com").map(|d| d.to_string());
        assert_eq!(d.as_deref(), Ok("cn=all,cn=groups,dc=ex,dc=com"));
        assert!(Dn::zimbra_domain(".com").is_err() && Dn::zimbra_account("", "x").is_err());
        // built DNs parse back to themselves
        let d = Dn::zimbra_account("a,b=c;\"d\\", "x.y").unwrap_or_default();
        assert_eq!(Dn::parse(&d.to_string()), Ok(d.clone()));
        assert_eq!(dn(&d.to_string()).rdns().len(), 4);
    }
}
