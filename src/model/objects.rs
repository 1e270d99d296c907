//! Typed Zimbra objects. Each keeps every attribute in a lossless [`AttrBag`]; the typed
//! accessors read and write that bag, so there is a single source of truth.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use super::{
    parse_catch_all, AccountStatus, Address, AttrBag, Directory, DomainName, DomainStatus,
    DomainType, MailStatus, ModelError, ObjectKind, Transport, ZimbraId,
};

/// Attribute names the typed accessors use (Zimbra's spelling).
pub mod names {
    #![allow(missing_docs)]
    pub const OBJECT_CLASS: &str = "objectClass";
    pub const ZIMBRA_ID: &str = "zimbraId";
    pub const ACCOUNT_STATUS: &str = "zimbraAccountStatus";
    pub const MAIL_STATUS: &str = "zimbraMailStatus";
    pub const MAIL_HOST: &str = "zimbraMailHost";
    pub const MAIL_TRANSPORT: &str = "zimbraMailTransport";
    pub const MAIL_DELIVERY_ADDRESS: &str = "zimbraMailDeliveryAddress";
    pub const MAIL_ALIAS: &str = "zimbraMailAlias";
    pub const MAIL: &str = "mail";
    pub const UID: &str = "uid";
    pub const CN: &str = "cn";
    pub const SN: &str = "sn";
    pub const MAIL_FORWARDING_ADDRESS: &str = "zimbraMailForwardingAddress";
    pub const PREF_MAIL_FORWARDING_ADDRESS: &str = "zimbraPrefMailForwardingAddress";
    pub const PREF_MAIL_LOCAL_DELIVERY_DISABLED: &str = "zimbraPrefMailLocalDeliveryDisabled";
    pub const MAIL_CANONICAL_ADDRESS: &str = "zimbraMailCanonicalAddress";
    pub const MAIL_CATCH_ALL_ADDRESS: &str = "zimbraMailCatchAllAddress";
    pub const MAIL_CATCH_ALL_FORWARDING_ADDRESS: &str = "zimbraMailCatchAllForwardingAddress";
    pub const MAIL_CATCH_ALL_CANONICAL_ADDRESS: &str = "zimbraMailCatchAllCanonicalAddress";
    pub const OLD_MAIL_ADDRESS: &str = "zimbraOldMailAddress";
    pub const COS_ID: &str = "zimbraCOSId";
    pub const DOMAIN_DEFAULT_COS_ID: &str = "zimbraDomainDefaultCOSId";
    pub const DOMAIN_NAME: &str = "zimbraDomainName";
    pub const DOMAIN_TYPE: &str = "zimbraDomainType";
    pub const DOMAIN_STATUS: &str = "zimbraDomainStatus";
    pub const DOMAIN_ALIAS_TARGET_ID: &str = "zimbraDomainAliasTargetId";
    pub const ALIAS_TARGET_ID: &str = "zimbraAliasTargetId";
    pub const MTA_RELAY_HOST: &str = "zimbraMtaRelayHost";
    pub const MTA_DNS_LOOKUPS_ENABLED: &str = "zimbraMtaDnsLookupsEnabled";
    pub const MTA_SMTP_DNS_SUPPORT_LEVEL: &str = "zimbraMtaSmtpDnsSupportLevel";
    pub const LMTP_BIND_PORT: &str = "zimbraLmtpBindPort";
    pub const SERVICE_HOSTNAME: &str = "zimbraServiceHostname";
    pub const SERVICE_ENABLED: &str = "zimbraServiceEnabled";
    pub const MAIL_HOST_POOL: &str = "zimbraMailHostPool";
    pub const CREATE_TIMESTAMP: &str = "zimbraCreateTimestamp";
    pub const IS_ADMIN_ACCOUNT: &str = "zimbraIsAdminAccount";
    pub const IS_DOMAIN_ADMIN_ACCOUNT: &str = "zimbraIsDomainAdminAccount";
    pub const MEMBER_URL: &str = "memberURL";
    pub const DISPLAY_NAME: &str = "displayName";
    pub const MEMBER_OF: &str = "zimbraMemberOf";
    pub const FEATURE_MAIL_FORWARDING_ENABLED: &str = "zimbraFeatureMailForwardingEnabled";
    pub const IS_SYSTEM_RESOURCE: &str = "zimbraIsSystemResource";
    pub const IS_SYSTEM_ACCOUNT: &str = "zimbraIsSystemAccount";

    /// What routing reads of an account or calendar resource: the attributes Zimbra's Postfix
    /// maps query and return (`ldap-vam.cf`, `ldap-vmm.cf`, `ldap-canonical.cf`,
    /// `ldap-transport.cf`, `ldap-splitdomain.cf`, the dynlist members), what LMTP and the
    /// simulator check (status, mail host), what `verify` and the planner read, and what
    /// zmprov's routing changes keep consistent (`uid`, `cn`, COS, membership). Loading with
    /// [`ReadOptions::routing_only`](crate::dit::ReadOptions::routing_only) keeps only these
    /// on accounts; every routing answer stays the same.
    pub const ROUTING: &[&str] = &[
        OBJECT_CLASS,
        ZIMBRA_ID,
        UID,
        CN,
        MAIL,
        MAIL_DELIVERY_ADDRESS,
        MAIL_ALIAS,
        OLD_MAIL_ADDRESS,
        MAIL_CANONICAL_ADDRESS,
        MAIL_CATCH_ALL_ADDRESS,
        MAIL_CATCH_ALL_FORWARDING_ADDRESS,
        MAIL_CATCH_ALL_CANONICAL_ADDRESS,
        MAIL_FORWARDING_ADDRESS,
        PREF_MAIL_FORWARDING_ADDRESS,
        PREF_MAIL_LOCAL_DELIVERY_DISABLED,
        FEATURE_MAIL_FORWARDING_ENABLED,
        MAIL_STATUS,
        ACCOUNT_STATUS,
        MAIL_HOST,
        MAIL_TRANSPORT,
        COS_ID,
        ALIAS_TARGET_ID,
        MEMBER_OF,
        MEMBER_URL,
        IS_SYSTEM_RESOURCE,
        IS_SYSTEM_ACCOUNT,
    ];
}

use names as n;

fn parse_one<T: FromStr<Err = ModelError>>(
    bag: &AttrBag,
    attr: &str,
) -> Result<Option<T>, ModelError> {
    match bag.values(attr).first() {
        None => Ok(None),
        Some(v) => {
            let s = v.as_str().ok_or_else(|| ModelError::InvalidValue {
                attr: attr.to_string(),
                value: v.to_string_lossy(),
                reason: "not UTF-8".into(),
            })?;
            s.parse::<T>().map(Some).map_err(|e| e.in_attr(attr))
        }
    }
}

fn parse_enum<T: FromStr>(bag: &AttrBag, attr: &str) -> Result<Option<T>, ModelError> {
    match bag.first(attr) {
        None => Ok(None),
        Some(s) => s
            .parse::<T>()
            .map(Some)
            .map_err(|_| ModelError::InvalidValue {
                attr: attr.to_string(),
                value: s.to_string(),
                reason: "not one of the allowed values".into(),
            }),
    }
}

fn parse_all<T: FromStr<Err = ModelError>>(
    bag: &AttrBag,
    attr: &str,
) -> Result<Vec<T>, ModelError> {
    bag.strs(attr)
        .into_iter()
        .map(|s| s.parse::<T>().map_err(|e| e.in_attr(attr)))
        .collect()
}

fn catch_alls(bag: &AttrBag, attr: &str) -> Result<Vec<DomainName>, ModelError> {
    bag.strs(attr)
        .into_iter()
        .map(|s| parse_catch_all(s).map_err(|e| e.in_attr(attr)))
        .collect()
}

fn catch_all_one(bag: &AttrBag, attr: &str) -> Result<Option<DomainName>, ModelError> {
    match bag.first(attr) {
        None => Ok(None),
        Some(s) => parse_catch_all(s).map(Some).map_err(|e| e.in_attr(attr)),
    }
}

/// Accessors shared by every entry that can receive mail (`zimbraMailRecipient`): accounts,
/// distribution lists, dynamic groups and domains.
///
/// ```
/// use zimbra_prov::model::{Directory, MailRecipient};
/// let mut dir = Directory::new();
/// zimbra_prov::zmprov::run(&mut dir, "cs mx.example.org\ncd example.org\n\
///     ca ann@example.org pw zimbraMailForwardingAddress ann@elsewhere.example\n\
///     aaa ann@example.org anna@example.org\ncdl team@example.org").unwrap();
/// // accounts and lists answer the same questions
/// let ann = dir.account("ann@example.org").unwrap();
/// assert_eq!(ann.aliases().unwrap()[0].to_string(), "anna@example.org");
/// assert_eq!(ann.forwarding_addresses().unwrap()[0].to_string(), "ann@elsewhere.example");
/// assert!(ann.mail_enabled());
/// assert!(dir.list("team@example.org").unwrap().mail_enabled());
/// ```
pub trait MailRecipient: Object {
    /// `zimbraId`.
    fn id(&self) -> Result<Option<ZimbraId>, ModelError> {
        parse_one(self.attrs(), n::ZIMBRA_ID)
    }
    /// `zimbraMailStatus`.
    fn mail_status(&self) -> Result<Option<MailStatus>, ModelError> {
        parse_enum(self.attrs(), n::MAIL_STATUS)
    }
    /// Whether Postfix's LDAP filters see this entry at all (`zimbraMailStatus=enabled`,
    /// matched case-insensitively as the LDAP filter does).
    fn mail_enabled(&self) -> bool {
        self.attrs().has_value_ci(n::MAIL_STATUS, "enabled")
    }
    /// `zimbraMailTransport`.
    fn transport(&self) -> Result<Option<Transport>, ModelError> {
        parse_one(self.attrs(), n::MAIL_TRANSPORT)
    }
    /// `zimbraMailHost`.
    fn mail_host(&self) -> Option<&str> {
        self.attrs().first(n::MAIL_HOST)
    }
    /// `zimbraMailDeliveryAddress` values.
    fn delivery_addresses(&self) -> Result<Vec<Address>, ModelError> {
        parse_all(self.attrs(), n::MAIL_DELIVERY_ADDRESS)
    }
    /// `zimbraMailAlias` values.
    fn aliases(&self) -> Result<Vec<Address>, ModelError> {
        parse_all(self.attrs(), n::MAIL_ALIAS)
    }
    /// `zimbraMailForwardingAddress` values (for a distribution list: its members).
    fn forwarding_addresses(&self) -> Result<Vec<Address>, ModelError> {
        parse_all(self.attrs(), n::MAIL_FORWARDING_ADDRESS)
    }
    /// `zimbraMailCanonicalAddress`.
    fn canonical_address(&self) -> Result<Option<Address>, ModelError> {
        parse_one(self.attrs(), n::MAIL_CANONICAL_ADDRESS)
    }
    /// `zimbraMailCatchAllAddress` values (`@domain`).
    fn catch_all_addresses(&self) -> Result<Vec<DomainName>, ModelError> {
        catch_alls(self.attrs(), n::MAIL_CATCH_ALL_ADDRESS)
    }
    /// `zimbraMailCatchAllForwardingAddress` (`@domain`).
    fn catch_all_forwarding(&self) -> Result<Option<DomainName>, ModelError> {
        catch_all_one(self.attrs(), n::MAIL_CATCH_ALL_FORWARDING_ADDRESS)
    }
    /// `zimbraMailCatchAllCanonicalAddress` (`@domain`).
    fn catch_all_canonical(&self) -> Result<Option<DomainName>, ModelError> {
        catch_all_one(self.attrs(), n::MAIL_CATCH_ALL_CANONICAL_ADDRESS)
    }
    /// `zimbraOldMailAddress`.
    fn old_mail_address(&self) -> Result<Option<Address>, ModelError> {
        parse_one(self.attrs(), n::OLD_MAIL_ADDRESS)
    }
}

pub(crate) mod sealed {
    use super::{BTreeMap, Directory};

    /// A kind's map with the directory's creation order and untyped entries, borrowed apart.
    pub type Parts<'d, T> = (
        &'d mut BTreeMap<Box<str>, T>,
        &'d mut crate::model::order::EntryOrder,
        &'d [crate::model::RawEntry],
    );

    /// Where a directory keeps the objects of a kind (not implementable outside the crate).
    pub trait Stored: Sized {
        fn map(dir: &Directory) -> &BTreeMap<Box<str>, Self>;
        fn parts_mut(dir: &mut Directory) -> Parts<'_, Self>;
        fn map_mut(dir: &mut Directory) -> &mut BTreeMap<Box<str>, Self> {
            Self::parts_mut(dir).0
        }
    }
}

/// What every typed object of a [`Directory`] has: a kind, a name, the DN it was read with when
/// that is not Zimbra's default one, and its attributes. Code written once over `Object` works
/// for every kind ([`Directory::get`], [`Directory::insert`], zmprov's commands).
///
/// ```
/// use zimbra_prov::model::{Cos, Directory, Object, ObjectKind};
/// fn describe<T: Object>(o: &T) -> String {
///     format!("{} {} ({} attributes)", T::KIND, o.display_name(), o.attrs().len())
/// }
/// let dir = Directory::new();
/// let cos: &Cos = dir.get("default").unwrap();
/// assert!(describe(cos).starts_with("cos default ("));
/// assert_eq!(Cos::KIND, ObjectKind::Cos);
/// ```
pub trait Object: sealed::Stored + Clone + 'static {
    /// The kind of object.
    const KIND: ObjectKind;
    /// The name as zmprov prints it (an address, a domain name, a COS or server name).
    fn display_name(&self) -> String;
    /// The name the directory files the object under (lower case).
    fn key(&self) -> String;
    /// The entry's DN as read, when it is not the default one for the name.
    fn dn(&self) -> Option<&str>;
    /// Every attribute, in order.
    fn attrs(&self) -> &AttrBag;
    /// Every attribute, for modification.
    fn attrs_mut(&mut self) -> &mut AttrBag;
}

macro_rules! object_impl {
    ($t:ty, $kind:expr, $field:ident, |$s:ident| $display:expr, |$k:ident| $key:expr) => {
        impl sealed::Stored for $t {
            fn map(dir: &Directory) -> &BTreeMap<Box<str>, Self> {
                &dir.$field
            }
            fn parts_mut(dir: &mut Directory) -> sealed::Parts<'_, Self> {
                (&mut dir.$field, &mut dir.order, &dir.other_entries)
            }
        }
        impl Object for $t {
            const KIND: ObjectKind = $kind;
            fn display_name(&self) -> String {
                let $s = self;
                $display
            }
            fn key(&self) -> String {
                let $k = self;
                $key
            }
            fn dn(&self) -> Option<&str> {
                self.dn.as_deref()
            }
            fn attrs(&self) -> &AttrBag {
                &self.attrs
            }
            fn attrs_mut(&mut self) -> &mut AttrBag {
                &mut self.attrs
            }
        }
    };
}

object_impl!(
    Account,
    ObjectKind::Account,
    accounts,
    |o| o.name.to_string(),
    |o| o.name.key()
);
object_impl!(
    Alias,
    ObjectKind::Alias,
    aliases,
    |o| o.name.to_string(),
    |o| o.name.key()
);
object_impl!(
    DistributionList,
    ObjectKind::DistributionList,
    lists,
    |o| o.name.to_string(),
    |o| o.name.key()
);
object_impl!(
    DynamicGroup,
    ObjectKind::DynamicGroup,
    groups,
    |o| o.name.to_string(),
    |o| o.name.key()
);
object_impl!(
    Domain,
    ObjectKind::Domain,
    domains,
    |o| o.name.to_string(),
    |o| o.name.as_str().to_string()
);
object_impl!(Cos, ObjectKind::Cos, coses, |o| o.name.clone(), |o| o
    .name
    .to_ascii_lowercase());
object_impl!(
    Server,
    ObjectKind::Server,
    servers,
    |o| o.name.clone(),
    |o| o.name.to_ascii_lowercase()
);

macro_rules! recipient_impl {
    ($t:ty) => {
        impl MailRecipient for $t {}
    };
}

/// A Zimbra account (or calendar resource): `uid=<local>,ou=people,<domain DN>`.
///
/// ```
/// use zimbra_prov::model::{Directory, MailRecipient};
/// let mut dir = Directory::new();
/// zimbra_prov::zmprov::run(&mut dir, "cs mx.example.org\ncd example.org\n\
///     ca ann@example.org pw zimbraMailTransport smtp:exchange.example.org:25").unwrap();
/// let ann = dir.account("ANN@example.org").unwrap();
/// assert_eq!(ann.name.to_string(), "ann@example.org");
/// assert_eq!(ann.transport().unwrap().unwrap().to_string(), "smtp:exchange.example.org:25");
/// assert_eq!(ann.attrs.first("zimbraAccountStatus"), Some("active"));
/// assert_eq!(ann.status().unwrap(), Some(zimbra_prov::model::AccountStatus::Active));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The account's name (its primary address), as zmprov names it.
    pub name: Address,
    /// The entry's DN as read, when it is not the default one for `name` (e.g. admin accounts
    /// under `cn=admins,cn=zimbra`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dn: Option<String>,
    /// Every attribute, in order.
    pub attrs: AttrBag,
}

recipient_impl!(Account);

impl Account {
    /// A new account with no attributes.
    pub fn new(name: Address) -> Self {
        Account {
            name,
            dn: None,
            attrs: AttrBag::new(),
        }
    }

    /// `zimbraAccountStatus` as stored on the account (see
    /// [`Directory::effective_account_status`](super::Directory::effective_account_status)).
    pub fn status(&self) -> Result<Option<AccountStatus>, ModelError> {
        parse_enum(&self.attrs, n::ACCOUNT_STATUS)
    }

    /// `zimbraPrefMailForwardingAddress`: one value holding comma-separated addresses.
    pub fn pref_forwarding_addresses(&self) -> Result<Vec<Address>, ModelError> {
        match self.attrs.first(n::PREF_MAIL_FORWARDING_ADDRESS) {
            None => Ok(Vec::new()),
            Some(v) => v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Address::parse(s).map_err(|e| e.in_attr(n::PREF_MAIL_FORWARDING_ADDRESS)))
                .collect(),
        }
    }

    /// `zimbraPrefMailLocalDeliveryDisabled` is `TRUE`.
    pub fn local_delivery_disabled(&self) -> bool {
        self.attrs
            .has_value_ci(n::PREF_MAIL_LOCAL_DELIVERY_DISABLED, "TRUE")
    }

    /// `zimbraCOSId`.
    pub fn cos_id(&self) -> Result<Option<ZimbraId>, ModelError> {
        parse_one(&self.attrs, n::COS_ID)
    }

    /// Whether the account is a calendar resource (`zimbraCalendarResource` object class).
    pub fn is_calendar_resource(&self) -> bool {
        self.attrs
            .has_value_ci(n::OBJECT_CLASS, "zimbraCalendarResource")
    }

    /// Whether the account is a global admin (its own status always applies).
    pub fn is_global_admin(&self) -> bool {
        self.attrs.has_value_ci(n::IS_ADMIN_ACCOUNT, "TRUE")
            && !self.attrs.has_value_ci(n::IS_DOMAIN_ADMIN_ACCOUNT, "TRUE")
    }
}

/// A Zimbra domain, local or alias: `dc=...` entries.
///
/// ```
/// use zimbra_prov::model::Directory;
/// let mut dir = Directory::new();
/// zimbra_prov::zmprov::run(&mut dir, "cd example.org\ncad alias.example.org example.org").unwrap();
/// let d = dir.domain("example.org").unwrap();
/// assert!(!d.is_alias());
/// assert!(dir.domain("alias.example.org").unwrap().is_alias());
/// assert_eq!(d.attrs.first("zimbraDomainType"), Some("local"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    /// The domain name.
    pub name: DomainName,
    /// The entry's DN as read, when it is not the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dn: Option<String>,
    /// Every attribute, in order.
    pub attrs: AttrBag,
}

recipient_impl!(Domain);

impl Domain {
    /// A new domain with no attributes.
    pub fn new(name: DomainName) -> Self {
        Domain {
            name,
            dn: None,
            attrs: AttrBag::new(),
        }
    }
    /// `zimbraDomainType`.
    pub fn domain_type(&self) -> Result<Option<DomainType>, ModelError> {
        parse_enum(&self.attrs, n::DOMAIN_TYPE)
    }
    /// Whether `zimbraDomainType` is `alias`.
    pub fn is_alias(&self) -> bool {
        self.attrs.has_value_ci(n::DOMAIN_TYPE, "alias")
    }
    /// `zimbraDomainStatus` as stored.
    pub fn status(&self) -> Result<Option<DomainStatus>, ModelError> {
        parse_enum(&self.attrs, n::DOMAIN_STATUS)
    }
    /// `zimbraDomainAliasTargetId`.
    pub fn alias_target_id(&self) -> Result<Option<ZimbraId>, ModelError> {
        parse_one(&self.attrs, n::DOMAIN_ALIAS_TARGET_ID)
    }
    /// `zimbraDomainDefaultCOSId`.
    pub fn default_cos_id(&self) -> Result<Option<ZimbraId>, ModelError> {
        parse_one(&self.attrs, n::DOMAIN_DEFAULT_COS_ID)
    }
}

/// A class of service: `cn=<name>,cn=cos,cn=zimbra`.
///
/// ```
/// use zimbra_prov::model::Directory;
/// let mut dir = Directory::new();
/// zimbra_prov::zmprov::run(&mut dir, "cc gold zimbraMailQuota 1048576").unwrap();
/// let gold = dir.cos("gold").unwrap();
/// assert_eq!(gold.attrs.first("zimbraMailQuota"), Some("1048576"));
/// assert!(gold.id().unwrap().is_some());
/// // every directory starts with the default COS
/// assert!(dir.cos("default").is_some());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cos {
    /// The COS name (`cn`).
    pub name: String,
    /// The entry's DN as read, when it is not the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dn: Option<String>,
    /// Every attribute, in order.
    pub attrs: AttrBag,
}

impl Cos {
    /// A new COS with no attributes.
    pub fn new(name: &str) -> Self {
        Cos {
            name: name.to_string(),
            dn: None,
            attrs: AttrBag::new(),
        }
    }
    /// `zimbraId`.
    pub fn id(&self) -> Result<Option<ZimbraId>, ModelError> {
        parse_one(&self.attrs, n::ZIMBRA_ID)
    }
    /// `zimbraMailHostPool`: ids of the servers new accounts may be placed on.
    pub fn mail_host_pool(&self) -> Result<Vec<ZimbraId>, ModelError> {
        parse_all(&self.attrs, n::MAIL_HOST_POOL)
    }
}

/// A server: `cn=<hostname>,cn=servers,cn=zimbra`.
///
/// ```
/// use zimbra_prov::model::Directory;
/// let mut dir = Directory::new();
/// zimbra_prov::zmprov::run(&mut dir, "cs mbx1.example.org zimbraServiceEnabled mailbox\ncs ldap.example.org").unwrap();
/// let s = dir.server("mbx1.example.org").unwrap();
/// assert_eq!(s.service_hostname(), "mbx1.example.org");
/// assert!(s.has_mailbox_service());
/// assert!(!dir.server("ldap.example.org").unwrap().has_mailbox_service());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Server {
    /// The server name (`cn`, normally its host name).
    pub name: String,
    /// The entry's DN as read, when it is not the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dn: Option<String>,
    /// Every attribute, in order.
    pub attrs: AttrBag,
}

impl Server {
    /// A new server with no attributes.
    pub fn new(name: &str) -> Self {
        Server {
            name: name.to_string(),
            dn: None,
            attrs: AttrBag::new(),
        }
    }
    /// `zimbraId`.
    pub fn id(&self) -> Result<Option<ZimbraId>, ModelError> {
        parse_one(&self.attrs, n::ZIMBRA_ID)
    }
    /// `zimbraServiceHostname`, falling back to the server name.
    pub fn service_hostname(&self) -> &str {
        self.attrs
            .first(n::SERVICE_HOSTNAME)
            .unwrap_or(self.name.as_str())
    }
    /// Whether the server runs mailboxes (Zimbra's `hasMailClientService`: `service` when
    /// `zimbraServerVersion` is set, else `mailbox`, in `zimbraServiceEnabled`).
    pub fn has_mailbox_service(&self) -> bool {
        let wanted = if self.attrs.contains("zimbraServerVersion") {
            "service"
        } else {
            "mailbox"
        };
        self.attrs.has_value_ci(n::SERVICE_ENABLED, wanted)
    }
}

/// The global configuration entry `cn=config,cn=zimbra`.
///
/// ```
/// use zimbra_prov::model::Directory;
/// let mut dir = Directory::new();
/// zimbra_prov::zmprov::run(&mut dir, "mcf zimbraMtaRelayHost smarthost.example.org").unwrap();
/// assert_eq!(dir.config.attrs.first("zimbraMtaRelayHost"), Some("smarthost.example.org"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalConfig {
    /// The entry's DN as read, when it is not the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dn: Option<String>,
    /// Every attribute, in order.
    pub attrs: AttrBag,
}

/// An alias entry (`objectClass: zimbraAlias`) pointing at an account or list by id.
///
/// ```
/// use zimbra_prov::model::{Directory, MailRecipient};
/// let mut dir = Directory::new();
/// zimbra_prov::zmprov::run(&mut dir, "cs mx.example.org\ncd example.org\nca ann@example.org pw\naaa ann@example.org anna@example.org").unwrap();
/// let alias = dir.alias("anna@example.org").unwrap();
/// let ann = dir.account("ann@example.org").unwrap();
/// assert_eq!(alias.target_id().unwrap(), ann.id().unwrap());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    /// The alias address.
    pub name: Address,
    /// The entry's DN as read, when it is not the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dn: Option<String>,
    /// Every attribute, in order.
    pub attrs: AttrBag,
}

impl Alias {
    /// `zimbraAliasTargetId`.
    pub fn target_id(&self) -> Result<Option<ZimbraId>, ModelError> {
        parse_one(&self.attrs, n::ALIAS_TARGET_ID)
    }
}

/// A static distribution list; its members are its `zimbraMailForwardingAddress` values.
///
/// ```
/// use zimbra_prov::model::Directory;
/// let mut dir = Directory::new();
/// zimbra_prov::zmprov::run(&mut dir, "cd example.org\ncdl team@example.org\n\
///     adlm team@example.org ann@example.org bob@partner.example").unwrap();
/// let members: Vec<String> = dir.list("team@example.org").unwrap().members().unwrap()
///     .iter().map(|a| a.to_string()).collect();
/// assert_eq!(members, ["ann@example.org", "bob@partner.example"]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributionList {
    /// The list address.
    pub name: Address,
    /// The entry's DN as read, when it is not the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dn: Option<String>,
    /// Every attribute, in order.
    pub attrs: AttrBag,
}

recipient_impl!(DistributionList);

impl DistributionList {
    /// The members (`zimbraMailForwardingAddress`).
    pub fn members(&self) -> Result<Vec<Address>, ModelError> {
        self.forwarding_addresses()
    }
}

/// A dynamic group (`groupOfURLs` + `zimbraGroup`): `cn=<local>,cn=groups,<domain DN>`.
///
/// ```
/// use zimbra_prov::model::Directory;
/// let mut dir = Directory::new();
/// zimbra_prov::zmprov::run(&mut dir, "cd example.org\ncddl all@example.org").unwrap();
/// let g = dir.group("all@example.org").unwrap();
/// assert_eq!(g.name.to_string(), "all@example.org");
/// assert_eq!(g.member_urls().len(), 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DynamicGroup {
    /// The group address.
    pub name: Address,
    /// The entry's DN as read, when it is not the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dn: Option<String>,
    /// Every attribute, in order.
    pub attrs: AttrBag,
}

recipient_impl!(DynamicGroup);

impl DynamicGroup {
    /// `memberURL` values.
    pub fn member_urls(&self) -> Vec<&str> {
        self.attrs.strs(n::MEMBER_URL)
    }
}

/// An LDAP entry that is not a Zimbra object the model types (containers, `cn=zimbra`, entries of
/// other applications). Kept as read so that a directory round-trips losslessly.
///
/// ```
/// let dir = zimbra_prov::dit::read_directory(&b"dn: ou=apps,dc=example,dc=org\n\
/// objectClass: organizationalUnit\nou: apps\n"[..]).unwrap();
/// assert_eq!(dir.other_entries[0].dn, "ou=apps,dc=example,dc=org");
/// assert_eq!(dir.other_entries[0].attrs.first("ou"), Some("apps"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawEntry {
    /// The DN as read.
    pub dn: String,
    /// Every attribute, in order.
    pub attrs: AttrBag,
}
