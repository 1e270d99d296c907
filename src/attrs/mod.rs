//! Catalog of Zimbra's LDAP attributes and object classes.
//!
//! The tables in this module are generated from Zimbra's `zimbra-attrs.xml`, `zimbra-ocs.xml` and
//! `amavisd-new-attrs.xml` (see `tools/attrgen/gen.rs` and `examples/gen_attrs.rs`); they hold facts
//! only (names, ids, types, cardinality, classes, flags, constraints, default values), never
//! Zimbra's description prose.
//!
//! What the catalog answers:
//! - [`lookup`]: the definition of an attribute, by case-insensitive name;
//! - [`AttrDef::validate`]: whether a value is acceptable for that attribute, per Zimbra's type
//!   rules (boolean `TRUE`/`FALSE`, enum members, integer ranges, durations, ...);
//! - [`object_class`] / [`ldap_class_for`]: Zimbra's object classes;
//! - [`openldap_schema`]: a slapd.conf-format schema that lets a stock OpenLDAP hold Zimbra entries.
//!
//! ```
//! use zimbra_prov::attrs::{self, AttrType, Cardinality};
//!
//! let t = attrs::lookup("zimbramailtransport").expect("known attribute");
//! assert_eq!(t.name, "zimbraMailTransport");
//! assert_eq!(t.ty, AttrType::Astring);
//! assert_eq!(t.cardinality, Cardinality::Single);
//! assert_eq!(t.oid().as_deref(), Some("1.3.6.1.4.1.19348.2.1.247"));
//! assert!(t.validate("lmtp:mail1.example.com:7025").is_ok());
//! ```

use std::cmp::Ordering;
use std::fmt;

mod classes;
mod generated;
mod schema;
mod validate;

pub use classes::{
    class_requirements, same_attribute_type, standard_class, standard_classes, ClassRequirements,
    StandardClass,
};
pub use schema::openldap_schema;

/// Zimbra's OID arc for attributes: `ZimbraLDAP:1`, i.e. `1.3.6.1.4.1.19348.2.1`.
pub const ZIMBRA_ATTR_OID_BASE: &str = "1.3.6.1.4.1.19348.2.1";
/// Zimbra's OID arc for object classes: `ZimbraLDAP:2`, i.e. `1.3.6.1.4.1.19348.2.2`.
pub const ZIMBRA_OC_OID_BASE: &str = "1.3.6.1.4.1.19348.2.2";

/// The value type of an attribute (`type="..."` in `zimbra-attrs.xml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrType {
    /// `boolean`: exactly `TRUE` or `FALSE`.
    Boolean,
    /// `binary`: arbitrary bytes (base64 in LDIF).
    Binary,
    /// `certificate`: an X.509 certificate (binary).
    Certificate,
    /// `duration`: `^\d+([hmsd]|ms)?$`; without a unit the number is seconds.
    Duration,
    /// `gentime`: LDAP generalized time, `\d{14}[zZ]` (fractions and offsets also accepted).
    Gentime,
    /// `enum`: one of the listed values ([`AttrDef::enum_values`]), case-sensitive.
    Enum,
    /// `email`: an address with an `@` and no personal part.
    Email,
    /// `emailp`: an address with an optional personal part (`Name <a@b>`).
    Emailp,
    /// `cs_emailp`: comma-separated `emailp` addresses.
    CsEmailp,
    /// `id`: a UUID (`8-4-4-4-12` hex digits).
    Id,
    /// `integer`: a 32-bit signed integer, checked against min/max.
    Integer,
    /// `long`: a 64-bit integer, checked against min/max.
    Long,
    /// `port`: an integer 0-65535.
    Port,
    /// `regex`: must match the attribute's regular expression ([`AttrDef::regex`]).
    Regex,
    /// `string`: any text; max is a maximum length.
    String,
    /// `astring`: IA5 (ASCII) text; max is a maximum length.
    Astring,
    /// `cstring`: case-sensitive text; max is a maximum length.
    Cstring,
    /// `ostring`: an octet string.
    Ostring,
    /// `phone`: a telephone number (text); max is a maximum length.
    Phone,
}

impl AttrType {
    /// The spelling of this type in `zimbra-attrs.xml` (`cs_emailp`, `astring`, ...).
    ///
    /// ```
    /// use zimbra_prov::attrs::AttrType;
    /// assert_eq!(AttrType::CsEmailp.xml_name(), "cs_emailp");
    /// assert_eq!(AttrType::from_xml_name("cs_emailp"), Some(AttrType::CsEmailp));
    /// ```
    pub fn xml_name(self) -> &'static str {
        match self {
            AttrType::Boolean => "boolean",
            AttrType::Binary => "binary",
            AttrType::Certificate => "certificate",
            AttrType::Duration => "duration",
            AttrType::Gentime => "gentime",
            AttrType::Enum => "enum",
            AttrType::Email => "email",
            AttrType::Emailp => "emailp",
            AttrType::CsEmailp => "cs_emailp",
            AttrType::Id => "id",
            AttrType::Integer => "integer",
            AttrType::Long => "long",
            AttrType::Port => "port",
            AttrType::Regex => "regex",
            AttrType::String => "string",
            AttrType::Astring => "astring",
            AttrType::Cstring => "cstring",
            AttrType::Ostring => "ostring",
            AttrType::Phone => "phone",
        }
    }

    /// Parses the `type` spelling used in `zimbra-attrs.xml`; `None` for an unknown type.
    pub fn from_xml_name(s: &str) -> Option<AttrType> {
        ALL_TYPES.iter().copied().find(|t| t.xml_name() == s)
    }
}

/// Every [`AttrType`], in declaration order.
pub const ALL_TYPES: [AttrType; 19] = [
    AttrType::Boolean,
    AttrType::Binary,
    AttrType::Certificate,
    AttrType::Duration,
    AttrType::Gentime,
    AttrType::Enum,
    AttrType::Email,
    AttrType::Emailp,
    AttrType::CsEmailp,
    AttrType::Id,
    AttrType::Integer,
    AttrType::Long,
    AttrType::Port,
    AttrType::Regex,
    AttrType::String,
    AttrType::Astring,
    AttrType::Cstring,
    AttrType::Ostring,
    AttrType::Phone,
];

impl fmt::Display for AttrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.xml_name())
    }
}

/// Whether an attribute holds one value or many.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cardinality {
    /// At most one value (`SINGLE-VALUE` in the LDAP schema).
    Single,
    /// Any number of values. Standard (non-Zimbra) attributes without a cardinality in the XML
    /// (`uid`, `mail`, `cn`, ...) are multi-valued, as in the standard LDAP schemas.
    Multi,
}

/// Where an attribute's definition comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrOrigin {
    /// A Zimbra attribute with an id under `1.3.6.1.4.1.19348.2.1`.
    Zimbra,
    /// A standard LDAP attribute Zimbra uses (`uid`, `mail`, `cn`, ...), defined by the standard
    /// schemas (core, cosine, inetorgperson, dyngroup).
    Standard,
    /// An amavisd-new attribute (`amavisd-new-attrs.xml`, object class `amavisAccount`).
    Amavis,
}

/// The `flags="..."` of an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AttrFlags {
    /// `accountInherited`: if not set on an account, inherited from its COS.
    pub account_inherited: bool,
    /// `domainInherited`: if not set on a domain, inherited from global config.
    pub domain_inherited: bool,
    /// `serverInherited`: if not set on a server, inherited from global config.
    pub server_inherited: bool,
    /// `accountCosDomainInherited`: account, then COS, then domain.
    pub account_cos_domain_inherited: bool,
    /// `idn`: may hold internationalized domain names.
    pub idn: bool,
    /// `accountInfo`: returned by the GetInfo call.
    pub account_info: bool,
    /// `domainInfo`: returned by the GetDomainInfo call.
    pub domain_info: bool,
    /// `domainAdminModifiable`: a domain admin may change it.
    pub domain_admin_modifiable: bool,
    /// `serverPreferAlwaysOn`: an always-on cluster overrides the server value.
    pub server_prefer_always_on: bool,
    /// `ephemeral`: kept in ephemeral storage, not LDAP.
    pub ephemeral: bool,
    /// `expirable`: ephemeral values expire.
    pub expirable: bool,
    /// `dynamic`: ephemeral key has a dynamic component.
    pub dynamic: bool,
}

impl AttrFlags {
    /// No flag set (usable in `const` context, unlike `Default`).
    pub const NONE: AttrFlags = AttrFlags {
        account_inherited: false,
        domain_inherited: false,
        server_inherited: false,
        account_cos_domain_inherited: false,
        idn: false,
        account_info: false,
        domain_info: false,
        domain_admin_modifiable: false,
        server_prefer_always_on: false,
        ephemeral: false,
        expirable: false,
        dynamic: false,
    };

    /// Builds flags from a bit set, bit `i` being the `i`-th name of [`AttrFlags::NAMES`]
    /// (the compact form used by the generated tables).
    ///
    /// ```
    /// use zimbra_prov::attrs::AttrFlags;
    /// let f = AttrFlags::from_bits(0b101);
    /// assert!(f.account_inherited && f.server_inherited && !f.domain_inherited);
    /// assert_eq!(f.names(), vec!["accountInherited", "serverInherited"]);
    /// ```
    pub const fn from_bits(bits: u16) -> AttrFlags {
        AttrFlags {
            account_inherited: bits & 1 != 0,
            domain_inherited: bits & (1 << 1) != 0,
            server_inherited: bits & (1 << 2) != 0,
            account_cos_domain_inherited: bits & (1 << 3) != 0,
            idn: bits & (1 << 4) != 0,
            account_info: bits & (1 << 5) != 0,
            domain_info: bits & (1 << 6) != 0,
            domain_admin_modifiable: bits & (1 << 7) != 0,
            server_prefer_always_on: bits & (1 << 8) != 0,
            ephemeral: bits & (1 << 9) != 0,
            expirable: bits & (1 << 10) != 0,
            dynamic: bits & (1 << 11) != 0,
        }
    }

    /// The XML flag names, in bit order of [`AttrFlags::from_bits`].
    pub const NAMES: [&'static str; 12] = [
        "accountInherited",
        "domainInherited",
        "serverInherited",
        "accountCosDomainInherited",
        "idn",
        "accountInfo",
        "domainInfo",
        "domainAdminModifiable",
        "serverPreferAlwaysOn",
        "ephemeral",
        "expirable",
        "dynamic",
    ];

    /// The flags as a bit set (inverse of [`AttrFlags::from_bits`]).
    pub const fn bits(&self) -> u16 {
        (self.account_inherited as u16)
            | (self.domain_inherited as u16) << 1
            | (self.server_inherited as u16) << 2
            | (self.account_cos_domain_inherited as u16) << 3
            | (self.idn as u16) << 4
            | (self.account_info as u16) << 5
            | (self.domain_info as u16) << 6
            | (self.domain_admin_modifiable as u16) << 7
            | (self.server_prefer_always_on as u16) << 8
            | (self.ephemeral as u16) << 9
            | (self.expirable as u16) << 10
            | (self.dynamic as u16) << 11
    }

    /// The XML names of the flags that are set, in bit order.
    pub fn names(&self) -> Vec<&'static str> {
        let bits = self.bits();
        AttrFlags::NAMES
            .iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, n)| *n)
            .collect()
    }
}

/// The definition of one attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrDef {
    /// Canonical name, as spelled by Zimbra (`zimbraMailTransport`).
    pub name: &'static str,
    /// Zimbra id (the last arc of the OID); `None` for standard and amavis attributes.
    pub id: Option<u32>,
    /// Value type.
    pub ty: AttrType,
    /// Single or multi-valued.
    pub cardinality: Cardinality,
    /// Zimbra classes (`account`, `domain`, ...) in which the attribute is required (LDAP `MUST`).
    pub required_in: &'static [&'static str],
    /// Zimbra classes in which the attribute is optional (LDAP `MAY`).
    pub optional_in: &'static [&'static str],
    /// Flags (inheritance and others).
    pub flags: AttrFlags,
    /// `immutable="1"`: maintained by the server; zmprov may not set it directly.
    pub immutable: bool,
    /// Valid values of an [`AttrType::Enum`] attribute, in XML order.
    pub enum_values: &'static [&'static str],
    /// `min` as written in the XML (a number; for durations, milliseconds).
    pub min: Option<&'static str>,
    /// `max` as written in the XML (a number for numeric types; a length for text types).
    pub max: Option<&'static str>,
    /// The regular expression of an [`AttrType::Regex`] attribute.
    pub regex: Option<&'static str>,
    /// Initial values in the global config entry (`globalConfigValue`).
    pub global_config_values: &'static [&'static str],
    /// Initial values in the default COS (`defaultCOSValue`).
    pub default_cos_values: &'static [&'static str],
    /// Initial values in the default external COS (`defaultExternalCOSValue`).
    pub default_external_cos_values: &'static [&'static str],
    /// Name of the callback Zimbra runs when the attribute changes.
    pub callback: Option<&'static str>,
    /// Version that introduced the attribute.
    pub since: Option<&'static str>,
    /// Version since which the attribute is deprecated.
    pub deprecated_since: Option<&'static str>,
    /// Server types to restart after a change (`requiresRestart`).
    pub requires_restart: &'static [&'static str],
    /// LDAP ordering rule named in the XML (`order`), if any.
    pub ordering: Option<&'static str>,
    /// Where the definition comes from.
    pub origin: AttrOrigin,
    /// OID outside Zimbra's arc (the amavisd-new OIDs); `None` otherwise.
    pub external_oid: Option<&'static str>,
}

impl AttrDef {
    /// The attribute's OID: `1.3.6.1.4.1.19348.2.1.<id>` for Zimbra attributes, the amavisd-new
    /// OID for amavis attributes, `None` for standard attributes (their OIDs live in the
    /// standard schemas).
    ///
    /// ```
    /// let a = zimbra_prov::attrs::lookup("zimbraId").unwrap();
    /// assert_eq!(a.oid().as_deref(), Some("1.3.6.1.4.1.19348.2.1.1"));
    /// ```
    pub fn oid(&self) -> Option<String> {
        match (self.id, self.external_oid) {
            (Some(id), _) => Some(format!("{ZIMBRA_ATTR_OID_BASE}.{id}")),
            (None, Some(oid)) => Some(oid.to_string()),
            (None, None) => None,
        }
    }

    /// `true` when the attribute holds at most one value.
    pub fn is_single_valued(&self) -> bool {
        self.cardinality == Cardinality::Single
    }

    /// `true` when the attribute is optional or required in the given Zimbra class
    /// (`account`, `domain`, ...; case-insensitive).
    ///
    /// ```
    /// let a = zimbra_prov::attrs::lookup("zimbraMailCatchAllAddress").unwrap();
    /// assert!(a.allowed_in("mailRecipient"));
    /// assert!(!a.allowed_in("server"));
    /// ```
    pub fn allowed_in(&self, zimbra_class: &str) -> bool {
        self.required_in
            .iter()
            .chain(self.optional_in.iter())
            .any(|c| c.eq_ignore_ascii_case(zimbra_class))
    }

    /// `true` when the attribute is required in the given Zimbra class (case-insensitive).
    pub fn required_in_class(&self, zimbra_class: &str) -> bool {
        self.required_in
            .iter()
            .any(|c| c.eq_ignore_ascii_case(zimbra_class))
    }

    /// `min` parsed as a signed 64-bit number, if present and numeric.
    pub fn min_i64(&self) -> Option<i64> {
        self.min.and_then(|m| m.parse().ok())
    }

    /// `max` parsed as a signed 64-bit number, if present and numeric.
    pub fn max_i64(&self) -> Option<i64> {
        self.max.and_then(|m| m.parse().ok())
    }

    /// Checks one value against the attribute's type and constraints, the way Zimbra's
    /// attribute checker does before writing to LDAP.
    ///
    /// - boolean: exactly `TRUE` or `FALSE`;
    /// - enum: one of [`AttrDef::enum_values`] (case-sensitive);
    /// - integer / long: a decimal number in LDAP INTEGER form (optional `-`, no `+`, no leading
    ///   zeros) within the type's range (32 or 64 bits) and `min`/`max`;
    /// - port: 0-65535;
    /// - duration: `^\d+([hmsd]|ms)?$`, within `min`/`max` (milliseconds) when given;
    /// - gentime: `YYYYMMDDHHMMSS[.fff](Z|±HHMM)` with a valid calendar date and time;
    /// - id: a UUID;
    /// - email: ASCII `local@domain` without a personal part (IDN domains in punycode);
    ///   emailp: with an optional personal part; cs_emailp: comma-separated emailp;
    /// - regex: matches [`AttrDef::regex`];
    /// - astring: ASCII only;
    /// - text types: at most `max` characters (UTF-16 code units, as Java counts) when given.
    ///
    /// An empty value is rejected for every type except `binary` and `ostring` (in zmprov an
    /// empty value means "remove the attribute" and never reaches the checker).
    ///
    /// ```
    /// let s = zimbra_prov::attrs::lookup("zimbraAccountStatus").unwrap();
    /// assert!(s.validate("active").is_ok());
    /// assert!(s.validate("Active").is_err());
    /// let p = zimbra_prov::attrs::lookup("zimbraLmtpBindPort").unwrap();
    /// assert!(p.validate("7025").is_ok());
    /// assert!(p.validate("70250").is_err());
    /// ```
    pub fn validate(&self, value: &str) -> Result<(), AttrError> {
        validate::check(self, value).map_err(|reason| AttrError::InvalidValue {
            name: self.name.to_string(),
            value: value.to_string(),
            reason,
        })
    }

    /// Checks a whole set of values for this attribute: cardinality (a single-valued
    /// attribute takes at most one value) and each value with [`AttrDef::validate`].
    ///
    /// ```
    /// let t = zimbra_prov::attrs::lookup("zimbraMailTransport").unwrap();
    /// assert!(t.validate_values(&["smtp:mx.example.com"]).is_ok());
    /// assert!(t.validate_values(&["smtp:a", "smtp:b"]).is_err());
    /// ```
    pub fn validate_values(&self, values: &[&str]) -> Result<(), AttrError> {
        if self.is_single_valued() && values.len() > 1 {
            return Err(AttrError::SingleValued {
                name: self.name.to_string(),
                count: values.len(),
            });
        }
        values.iter().try_for_each(|v| self.validate(v))
    }
}

/// Errors of the attribute catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttrError {
    /// The name is not in the catalog.
    #[error("unknown attribute: {name}")]
    UnknownAttribute {
        /// The name as given.
        name: String,
    },
    /// The value does not fit the attribute's type or constraints.
    #[error("invalid value {value:?} for {name}: {reason}")]
    InvalidValue {
        /// Canonical attribute name.
        name: String,
        /// The rejected value.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// More than one value for a single-valued attribute.
    #[error("{name} is single-valued, got {count} values")]
    SingleValued {
        /// Canonical attribute name.
        name: String,
        /// Number of values given.
        count: usize,
    },
    /// The attribute is immutable (maintained by the server).
    #[error("{name} is immutable")]
    Immutable {
        /// Canonical attribute name.
        name: String,
    },
}

/// Compares two ASCII names case-insensitively, without allocating.
fn cmp_ignore_ascii_case(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

/// Looks an attribute up by name, case-insensitively (binary search, no allocation).
///
/// ```
/// let a = zimbra_prov::attrs::lookup("ZIMBRAMAILHOST").unwrap();
/// assert_eq!(a.name, "zimbraMailHost");
/// assert!(zimbra_prov::attrs::lookup("noSuchAttribute").is_none());
/// ```
pub fn lookup(name: &str) -> Option<&'static AttrDef> {
    let table = generated::ATTRS;
    table
        .binary_search_by(|a| cmp_ignore_ascii_case(a.name, name))
        .ok()
        .and_then(|i| table.get(i))
}

/// Like [`lookup`], but an unknown name is an [`AttrError::UnknownAttribute`].
///
/// ```
/// assert!(zimbra_prov::attrs::require("bogus").is_err());
/// ```
pub fn require(name: &str) -> Result<&'static AttrDef, AttrError> {
    lookup(name).ok_or_else(|| AttrError::UnknownAttribute {
        name: name.to_string(),
    })
}

/// Every attribute in the catalog, sorted by lower-cased name.
///
/// ```
/// assert!(zimbra_prov::attrs::all().len() > 1800);
/// ```
pub fn all() -> &'static [AttrDef] {
    generated::ATTRS
}

/// Kind of an LDAP object class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectClassKind {
    /// `STRUCTURAL`: an entry's main class.
    Structural,
    /// `AUXILIARY`: mixed into an entry.
    Auxiliary,
    /// `ABSTRACT`: only a superclass.
    Abstract,
}

impl ObjectClassKind {
    /// The keyword used in LDAP schemas (`STRUCTURAL`, `AUXILIARY`, `ABSTRACT`).
    pub fn keyword(self) -> &'static str {
        match self {
            ObjectClassKind::Structural => "STRUCTURAL",
            ObjectClassKind::Auxiliary => "AUXILIARY",
            ObjectClassKind::Abstract => "ABSTRACT",
        }
    }
}

/// The definition of a Zimbra object class (`zimbra-ocs.xml`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectClassDef {
    /// LDAP name (`zimbraAccount`).
    pub name: &'static str,
    /// Zimbra id: the last arc of the OID `1.3.6.1.4.1.19348.2.2.<id>`.
    pub id: u32,
    /// Superclass (`top`, `zimbraMailRecipient`).
    pub sup: &'static str,
    /// Structural, auxiliary or abstract.
    pub kind: ObjectClassKind,
}

impl ObjectClassDef {
    /// The class OID, `1.3.6.1.4.1.19348.2.2.<id>`.
    ///
    /// ```
    /// let c = zimbra_prov::attrs::object_class("zimbraAccount").unwrap();
    /// assert_eq!(c.oid(), "1.3.6.1.4.1.19348.2.2.1");
    /// ```
    pub fn oid(&self) -> String {
        format!("{ZIMBRA_OC_OID_BASE}.{}", self.id)
    }

    /// The Zimbra class name (`account` for `zimbraAccount`), used in `requiredIn`/`optionalIn`.
    pub fn zimbra_class(&self) -> Option<&'static str> {
        CLASS_MAP
            .iter()
            .find(|(_, ldap)| ldap.eq_ignore_ascii_case(self.name))
            .map(|(z, _)| *z)
    }
}

/// Looks a Zimbra object class up by LDAP name, case-insensitively.
///
/// ```
/// use zimbra_prov::attrs::{object_class, ObjectClassKind};
/// let d = object_class("zimbradomain").unwrap();
/// assert_eq!(d.sup, "zimbraMailRecipient");
/// assert_eq!(d.kind, ObjectClassKind::Auxiliary);
/// ```
pub fn object_class(name: &str) -> Option<&'static ObjectClassDef> {
    generated::OBJECT_CLASSES
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(name))
}

/// Every Zimbra object class, sorted by id.
pub fn object_classes() -> &'static [ObjectClassDef] {
    generated::OBJECT_CLASSES
}

/// Zimbra class names (as used in `requiredIn`/`optionalIn`) and their LDAP object classes.
/// The LDAP name is `zimbra` + the class name with its first letter upper-cased, except `cos`.
const CLASS_MAP: &[(&str, &str)] = &[
    ("account", "zimbraAccount"),
    ("aclTarget", "zimbraAclTarget"),
    ("addressList", "zimbraAddressList"),
    ("alias", "zimbraAlias"),
    ("alwaysOnCluster", "zimbraAlwaysOnCluster"),
    ("calendarResource", "zimbraCalendarResource"),
    ("cos", "zimbraCOS"),
    ("dataSource", "zimbraDataSource"),
    ("distributionList", "zimbraDistributionList"),
    ("domain", "zimbraDomain"),
    ("galDataSource", "zimbraGalDataSource"),
    ("globalConfig", "zimbraGlobalConfig"),
    ("group", "zimbraGroup"),
    ("groupDynamicUnit", "zimbraGroupDynamicUnit"),
    ("groupStaticUnit", "zimbraGroupStaticUnit"),
    ("habGroup", "zimbraHabGroup"),
    ("identity", "zimbraIdentity"),
    ("imapDataSource", "zimbraImapDataSource"),
    ("liveDataSource", "zimbraLiveDataSource"),
    ("mailRecipient", "zimbraMailRecipient"),
    ("mimeEntry", "zimbraMimeEntry"),
    ("objectEntry", "zimbraObjectEntry"),
    ("pop3DataSource", "zimbraPop3DataSource"),
    ("rssDataSource", "zimbraRssDataSource"),
    ("securityGroup", "zimbraSecurityGroup"),
    ("server", "zimbraServer"),
    ("shareLocator", "zimbraShareLocator"),
    ("signature", "zimbraSignature"),
    ("timeZone", "zimbraTimeZone"),
    ("ucService", "zimbraUCService"),
    ("xmppComponent", "zimbraXMPPComponent"),
    ("zimletEntry", "zimbraZimletEntry"),
];

/// The LDAP object class that carries a Zimbra class's attributes (`account` →
/// `zimbraAccount`, `cos` → `zimbraCOS`, ...), case-insensitively; `None` for an unknown class
/// or one without an object class in `zimbra-ocs.xml`.
///
/// ```
/// use zimbra_prov::attrs::ldap_class_for;
/// assert_eq!(ldap_class_for("account"), Some("zimbraAccount"));
/// assert_eq!(ldap_class_for("cos"), Some("zimbraCOS"));
/// assert_eq!(ldap_class_for("globalConfig"), Some("zimbraGlobalConfig"));
/// assert_eq!(ldap_class_for("nothing"), None);
/// ```
pub fn ldap_class_for(zimbra_class: &str) -> Option<&'static str> {
    let (_, ldap) = CLASS_MAP
        .iter()
        .find(|(z, _)| z.eq_ignore_ascii_case(zimbra_class))?;
    object_class(ldap).map(|c| c.name)
}

/// The Zimbra class names that have an LDAP object class, with that class.
pub fn class_map() -> &'static [(&'static str, &'static str)] {
    CLASS_MAP
}
