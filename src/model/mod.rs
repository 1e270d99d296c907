//! The typed model of one Zimbra installation's LDAP content.
//!
//! A [`Directory`] holds the global configuration, servers, classes of service, domains (local
//! and alias), accounts, aliases, distribution lists and dynamic groups. Every object keeps all of
//! its attributes in a lossless [`AttrBag`] (names, order and value bytes as read); typed
//! accessors ([`Transport`], [`Address`], [`AccountStatus`], ...) read that bag, so there is one
//! source of truth that zmprov, LDIF and LDAP all write to.
//!
//! **Effective values** follow the catalog's inheritance flags ([`crate::attrs`]):
//! `accountInherited` (account → COS), `accountCosDomainInherited` (account → COS → domain),
//! `domainInherited` (domain → global config) and `serverInherited` (server → global config).
//! The global config falls back to the catalog's `globalConfig` default, as a fresh install has it.
//!
//! ```
//! use zimbra_prov::model::{Directory, MailRecipient};
//! let dir = Directory::new();
//! assert_eq!(dir.config_attr("zimbraLmtpBindPort"), vec!["7025"]);
//! assert!(dir.cos("default").is_some());
//! ```

mod address;
pub(crate) mod attr_name;
mod bag;
pub(crate) mod hash;
mod ids;
mod objects;
mod order;
mod projection;
mod transport;
mod value;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use address::{parse_catch_all, Address, DomainName};
pub use attr_name::AttrName;
#[cfg(test)]
pub(crate) use bag::value_visits;
pub(crate) use bag::BagBuilder;
pub use bag::{Attr, AttrBag, Values};
pub use ids::{IdGenerator, ZimbraId};
pub use objects::{
    names, Account, Alias, Cos, DistributionList, Domain, DynamicGroup, GlobalConfig,
    MailRecipient, Object, RawEntry, Server,
};
pub use order::EntryRef;
pub(crate) use projection::is_routing_attr;
pub use transport::{NextHop, Port, Transport};
pub use value::{AttrValue, ValueRef};

use crate::attrs;
use order::EntryOrder;

/// Errors of the model: malformed values and inconsistent directory operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A mail address does not parse.
    #[error("invalid address {address:?}: {reason}")]
    InvalidAddress {
        /// The text.
        address: String,
        /// Why.
        reason: String,
    },
    /// A domain name does not parse.
    #[error("invalid domain name {domain:?}: {reason}")]
    InvalidDomain {
        /// The text.
        domain: String,
        /// Why.
        reason: String,
    },
    /// A catch-all value is not of the form `@domain`.
    #[error("invalid catch-all address {value:?}: expected @domain")]
    InvalidCatchAll {
        /// The text.
        value: String,
    },
    /// A transport does not parse.
    #[error("invalid transport {value:?}: {reason}")]
    InvalidTransport {
        /// The text.
        value: String,
        /// Why.
        reason: String,
    },
    /// A zimbraId does not have the UUID shape.
    #[error("invalid zimbraId {value:?}")]
    InvalidId {
        /// The text.
        value: String,
    },
    /// An attribute value is malformed.
    #[error("invalid value {value:?} for {attr}: {reason}")]
    InvalidValue {
        /// The attribute.
        attr: String,
        /// The value.
        value: String,
        /// Why.
        reason: String,
    },
    /// An object with this name already exists.
    #[error("{kind} already exists: {name}")]
    Exists {
        /// Object kind.
        kind: ObjectKind,
        /// Its name.
        name: String,
    },
    /// No object with this name or id.
    #[error("no such {kind}: {name}")]
    NotFound {
        /// Object kind.
        kind: ObjectKind,
        /// The name or id looked up.
        name: String,
    },
}

impl ModelError {
    /// Attach the attribute name to a value error.
    pub(crate) fn in_attr(self, attr: &str) -> ModelError {
        let value = match &self {
            ModelError::InvalidAddress { address, .. } => address.clone(),
            ModelError::InvalidDomain { domain, .. } => domain.clone(),
            ModelError::InvalidCatchAll { value }
            | ModelError::InvalidTransport { value, .. }
            | ModelError::InvalidId { value } => value.clone(),
            _ => return self,
        };
        ModelError::InvalidValue {
            attr: attr.to_string(),
            value,
            reason: self.to_string(),
        }
    }
}

/// The kinds of objects a [`Directory`] holds.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::EnumIter,
    strum::IntoStaticStr,
)]
#[strum(serialize_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    /// An account or calendar resource.
    Account,
    /// An alias entry.
    Alias,
    /// A static distribution list.
    #[strum(serialize = "distribution list")]
    #[serde(rename = "distribution list")]
    DistributionList,
    /// A dynamic group.
    #[strum(serialize = "dynamic group")]
    #[serde(rename = "dynamic group")]
    DynamicGroup,
    /// A domain.
    Domain,
    /// A class of service.
    Cos,
    /// A server.
    Server,
}

macro_rules! status_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            strum::Display, strum::EnumString, strum::EnumIter, strum::IntoStaticStr, strum::AsRefStr)]
        #[strum(serialize_all = "lowercase")]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($(#[$vm])* $v),* }
    };
}

status_enum! {
    /// `zimbraAccountStatus`.
    ///
    /// ```
    /// use zimbra_prov::model::AccountStatus;
    /// let s: AccountStatus = "maintenance".parse().unwrap();
    /// assert_eq!(s.to_string(), "maintenance");
    /// assert!(!s.accepts_mail());
    /// ```
    AccountStatus {
        /// Normal.
        Active,
        /// No login, no delivery (LMTP answers 4.2.1).
        Maintenance,
        /// No login, mail delivered.
        Locked,
        /// No login, no delivery (LMTP 5.1.1); addresses removed from lists.
        Closed,
        /// Temporarily locked out after failed logins; mail delivered.
        Lockout,
        /// Not yet activated: no delivery (LMTP 5.1.1).
        Pending,
    }
}

impl AccountStatus {
    /// Whether Zimbra's LMTP server accepts mail for an account in this status.
    pub fn accepts_mail(self) -> bool {
        matches!(
            self,
            AccountStatus::Active | AccountStatus::Locked | AccountStatus::Lockout
        )
    }

    /// The `zimbraMailStatus` Zimbra's AccountStatus callback sets with this status.
    pub fn implied_mail_status(self) -> MailStatus {
        match self {
            AccountStatus::Closed | AccountStatus::Pending => MailStatus::Disabled,
            _ => MailStatus::Enabled,
        }
    }
}

status_enum! {
    /// `zimbraMailStatus`: whether Postfix's LDAP filters see the entry.
    MailStatus {
        /// Visible to the MTA.
        Enabled,
        /// Invisible to the MTA.
        Disabled,
    }
}

status_enum! {
    /// `zimbraDomainType`.
    DomainType {
        /// A domain with its own accounts (a Postfix virtual mailbox domain).
        Local,
        /// An alias of another domain (a Postfix virtual alias domain).
        Alias,
    }
}

status_enum! {
    /// `zimbraDomainStatus`.
    DomainStatus {
        /// Normal.
        Active,
        /// Accounts behave as in maintenance.
        Maintenance,
        /// Accounts behave as locked.
        Locked,
        /// Accounts behave as closed.
        Closed,
        /// Maintenance, and no changes under the domain.
        Suspended,
        /// Internal status during a domain rename.
        Shutdown,
    }
}

/// Zimbra's fixed id of the `default` COS.
pub const DEFAULT_COS_ID: &str = "e00428a1-0c00-11d9-836a-000d93afea2a";
/// Zimbra's fixed id of the `defaultExternal` COS.
pub const DEFAULT_EXTERNAL_COS_ID: &str = "f27456a8-0c00-11d9-280a-286d93afea2g";

fn key_ci(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// One Zimbra installation's LDAP content, typed.
///
/// Objects are stored by their lower-cased names, so iteration order is deterministic. Besides,
/// every entry keeps its place in creation order (slapd's entry-ID order, see
/// [`Directory::entries_in_order`]).
///
/// ```
/// use zimbra_prov::model::Directory;
/// let mut dir = Directory::new(); // the global config and default COS zmprov would find
/// zimbra_prov::zmprov::run(&mut dir, "cs mx.example.org\ncd example.org\nca ann@example.org pw").unwrap();
/// assert_eq!(dir.account_count(), 1);
/// assert!(dir.domain("EXAMPLE.org").is_some());
/// assert_eq!(dir.accounts().map(|a| a.name.to_string()).collect::<Vec<_>>(), ["ann@example.org"]);
/// // as LDIF and back
/// let mut ldif = Vec::new();
/// zimbra_prov::dit::write_directory(&dir, &mut ldif, &Default::default()).unwrap();
/// let again = zimbra_prov::dit::read_directory(&ldif[..]).unwrap();
/// assert_eq!(again.account("ann@example.org"), dir.account("ann@example.org"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    /// The global configuration entry.
    pub config: GlobalConfig,
    servers: BTreeMap<Box<str>, Server>,
    coses: BTreeMap<Box<str>, Cos>,
    domains: BTreeMap<Box<str>, Domain>,
    accounts: BTreeMap<Box<str>, Account>,
    aliases: BTreeMap<Box<str>, Alias>,
    lists: BTreeMap<Box<str>, DistributionList>,
    groups: BTreeMap<Box<str>, DynamicGroup>,
    /// Entries that are not typed Zimbra objects, kept as read.
    #[serde(default)]
    pub other_entries: Vec<RawEntry>,
    /// Source of new ids and timestamps.
    #[serde(default)]
    pub ids: IdGenerator,
    /// Creation order of the entries.
    #[serde(default)]
    order: EntryOrder,
}

/// `$f::<T>(args)` with `T` the object type of the [`ObjectKind`] `$kind`.
macro_rules! by_kind {
    ($kind:expr, $f:ident($($arg:expr),*)) => {
        match $kind {
            ObjectKind::Account => $f::<Account>($($arg),*),
            ObjectKind::Alias => $f::<Alias>($($arg),*),
            ObjectKind::DistributionList => $f::<DistributionList>($($arg),*),
            ObjectKind::DynamicGroup => $f::<DynamicGroup>($($arg),*),
            ObjectKind::Domain => $f::<Domain>($($arg),*),
            ObjectKind::Cos => $f::<Cos>($($arg),*),
            ObjectKind::Server => $f::<Server>($($arg),*),
        }
    };
}

/// Per-kind typed wrappers over the generic accessors ([`Directory::get`] and friends), for the
/// names callers know (`account`, `insert_account`, ...).
macro_rules! collection {
    ($ty:ty, $get:ident, $get_mut:ident, $iter:ident, $insert:ident, $remove:ident, $by_id:ident) => {
        #[doc = concat!("Look up a ", stringify!($ty), " by name (case-insensitive).")]
        pub fn $get(&self, name: &str) -> Option<&$ty> {
            self.get::<$ty>(name)
        }
        #[doc = concat!("Look up a ", stringify!($ty), " by name for modification.")]
        pub fn $get_mut(&mut self, name: &str) -> Option<&mut $ty> {
            self.get_mut::<$ty>(name)
        }
        #[doc = concat!("Every ", stringify!($ty), ", ordered by lower-cased name.")]
        pub fn $iter(&self) -> impl Iterator<Item = &$ty> {
            self.all::<$ty>()
        }
        #[doc = concat!("Add a ", stringify!($ty), "; fails if one with the same name exists.")]
        pub fn $insert(&mut self, obj: $ty) -> Result<&mut $ty, ModelError> {
            self.insert(obj)
        }
        #[doc = concat!("Remove a ", stringify!($ty), " by name (an object with its `zimbraId` inserted next is the same entry renamed and keeps its place in creation order).")]
        pub fn $remove(&mut self, name: &str) -> Option<$ty> {
            self.remove::<$ty>(name)
        }
        #[doc = concat!("Find a ", stringify!($ty), " by `zimbraId` (case-insensitive; a scan).")]
        pub fn $by_id(&self, id: &str) -> Option<&$ty> {
            self.by_id::<$ty>(id)
        }
    };
}

impl Directory {
    /// The object of type `T` named `name` (case-insensitive).
    ///
    /// ```
    /// use zimbra_prov::model::{Account, Directory, Object};
    /// let mut dir = Directory::new();
    /// dir.insert(Account::new("Alice@example.org".parse().unwrap())).unwrap();
    /// let a: &Account = dir.get("alice@EXAMPLE.org").unwrap();
    /// assert_eq!(a.display_name(), "Alice@example.org");
    /// assert!(dir.get::<Account>("bob@example.org").is_none());
    /// ```
    pub fn get<T: Object>(&self, name: &str) -> Option<&T> {
        T::map(self).get(key_ci(name).as_str())
    }

    /// The object of type `T` named `name`, for modification.
    pub fn get_mut<T: Object>(&mut self, name: &str) -> Option<&mut T> {
        T::map_mut(self).get_mut(key_ci(name).as_str())
    }

    /// Every object of type `T`, ordered by lower-cased name.
    pub fn all<T: Object>(&self) -> impl Iterator<Item = &T> {
        T::map(self).values()
    }

    /// Adds an object; fails if one of its kind with the same name exists.
    pub fn insert<T: Object>(&mut self, obj: T) -> Result<&mut T, ModelError> {
        self.try_insert(obj).map_err(|obj| ModelError::Exists {
            kind: T::KIND,
            name: obj.display_name(),
        })
    }

    /// [`Directory::insert`] that gives the object back when its name is taken (one search
    /// of the map).
    pub(crate) fn try_insert<T: Object>(&mut self, obj: T) -> Result<&mut T, T> {
        let key: Box<str> = obj.key().into();
        let (map, order, raw) = T::parts_mut(self);
        match map.entry(key) {
            std::collections::btree_map::Entry::Occupied(_) => Err(obj),
            std::collections::btree_map::Entry::Vacant(v) => {
                // the new entry takes the next place in creation order (or its own, renamed)
                order.adopt(raw);
                order.inserted(T::KIND, v.key(), obj.attrs());
                Ok(v.insert(obj))
            }
        }
    }

    /// Removes the object of type `T` named `name` (an object with its `zimbraId` inserted
    /// next is the same entry renamed and keeps its place in creation order).
    pub fn remove<T: Object>(&mut self, name: &str) -> Option<T> {
        let key = key_ci(name);
        let obj = T::map_mut(self).remove(key.as_str())?;
        self.order.removed(T::KIND, &key, obj.attrs());
        Some(obj)
    }

    /// The first object of type `T` (in name order) whose `zimbraId` is `id`
    /// (case-insensitive). A scan: zmprov keeps its own index for repeated look-ups.
    pub fn by_id<T: Object>(&self, id: &str) -> Option<&T> {
        self.all::<T>()
            .find(|o| o.attrs().has_value_ci(names::ZIMBRA_ID, id))
    }

    /// The attributes of the object of `kind` named `name`: the kind-generic view of
    /// [`Directory::get`].
    ///
    /// ```
    /// use zimbra_prov::model::{Directory, ObjectKind};
    /// let dir = Directory::new();
    /// let cos = dir.attrs_of(ObjectKind::Cos, "default").unwrap();
    /// assert_eq!(cos.first("cn"), Some("default"));
    /// ```
    pub fn attrs_of(&self, kind: ObjectKind, name: &str) -> Option<&AttrBag> {
        fn bag<'d, T: Object>(dir: &'d Directory, name: &str) -> Option<&'d AttrBag> {
            dir.get::<T>(name).map(Object::attrs)
        }
        by_kind!(kind, bag(self, name))
    }

    /// The attributes of the object of `kind` named `name`, for modification.
    pub fn attrs_of_mut(&mut self, kind: ObjectKind, name: &str) -> Option<&mut AttrBag> {
        fn bag<'d, T: Object>(dir: &'d mut Directory, name: &str) -> Option<&'d mut AttrBag> {
            dir.get_mut::<T>(name).map(Object::attrs_mut)
        }
        by_kind!(kind, bag(self, name))
    }

    /// The object of `kind` named `name`, as (name as zmprov prints it, attributes).
    pub fn entry_of(&self, kind: ObjectKind, name: &str) -> Option<(String, &AttrBag)> {
        fn one<'d, T: Object>(dir: &'d Directory, name: &str) -> Option<(String, &'d AttrBag)> {
            dir.get::<T>(name).map(|o| (o.display_name(), o.attrs()))
        }
        by_kind!(kind, one(self, name))
    }

    /// Every object of `kind` as (name as zmprov prints it, attributes), in name order.
    pub fn entries_of(
        &self,
        kind: ObjectKind,
    ) -> Box<dyn Iterator<Item = (String, &AttrBag)> + '_> {
        fn each<T: Object>(dir: &Directory) -> Box<dyn Iterator<Item = (String, &AttrBag)> + '_> {
            Box::new(dir.all::<T>().map(|o| (o.display_name(), o.attrs())))
        }
        by_kind!(kind, each(self))
    }
}

impl Directory {
    /// An empty directory: no config values, no COS, nothing.
    pub fn empty() -> Self {
        Directory::default()
    }

    /// A directory as a fresh Zimbra install has it: the global config with every catalog
    /// `globalConfig` default, and the `default` and `defaultExternal` classes of service with
    /// every catalog `defaultCOS` value.
    pub fn new() -> Self {
        let mut dir = Directory::default();
        dir.order.place_config();
        dir.config
            .attrs
            .set("objectClass", ["organizationalRole", "zimbraGlobalConfig"]);
        dir.config.attrs.set_one("cn", "config");
        for def in attrs::all() {
            if !def.global_config_values.is_empty() && !dir.config.attrs.contains(def.name) {
                dir.config
                    .attrs
                    .push_new(def.name, def.global_config_values.iter().copied());
            }
        }
        for (name, id) in [
            ("default", DEFAULT_COS_ID),
            ("defaultExternal", DEFAULT_EXTERNAL_COS_ID),
        ] {
            let mut cos = Cos::new(name);
            cos.attrs.set_one("objectClass", "zimbraCOS");
            cos.attrs.set_one("cn", name);
            cos.attrs.set_one(names::ZIMBRA_ID, id);
            for def in attrs::all() {
                if !def.default_cos_values.is_empty() {
                    cos.attrs
                        .set(def.name, def.default_cos_values.iter().copied());
                }
            }
            dir.order
                .inserted(ObjectKind::Cos, &key_ci(name), &cos.attrs);
            dir.coses.insert(key_ci(name).into(), cos);
        }
        dir
    }

    /// Every entry in creation order: the order the entries were inserted in (an LDIF file's
    /// order when read with [`crate::dit::read_directory`], zmprov's creation order), which is
    /// the order of slapd's entry IDs and therefore the order in which slapd returns several
    /// entries that match one search. A renamed object keeps its place. Entries the order does
    /// not know (added to [`Directory::other_entries`] directly and not followed by an insert,
    /// or from a directory serialized without its order) come last, by kind and name.
    ///
    /// ```
    /// use zimbra_prov::model::{Directory, EntryRef};
    /// let mut dir = Directory::new();
    /// zimbra_prov::zmprov::run(
    ///     &mut dir,
    ///     "cs mbx.example.org\ncd example.org\nca zed@example.org pw\nca amy@example.org pw",
    /// )
    /// .unwrap();
    /// let names: Vec<String> = dir.entries_in_order().iter().filter_map(|e| match e {
    ///     EntryRef::Account(a) => Some(a.name.to_string()),
    ///     _ => None,
    /// }).collect();
    /// assert_eq!(names, ["zed@example.org", "amy@example.org"]); // created first, listed first
    /// ```
    pub fn entries_in_order(&self) -> Vec<EntryRef<'_>> {
        let o = &self.order;
        let mut v: Vec<((bool, u64), EntryRef<'_>)> = Vec::new();
        let mut unknown = 0u64;
        let mut rank = |seq: Option<u64>| {
            let r = match seq {
                Some(n) => (false, n),
                None => (true, unknown),
            };
            unknown += 1;
            r
        };
        if !self.config.attrs.is_empty() || self.config.dn.is_some() {
            v.push((rank(o.config()), EntryRef::Config(&self.config)));
        }
        macro_rules! typed {
            ($field:ident, $kind:expr, $variant:ident) => {
                for (k, x) in &self.$field {
                    v.push((rank(o.typed($kind, k)), EntryRef::$variant(x)));
                }
            };
        }
        typed!(servers, ObjectKind::Server, Server);
        typed!(coses, ObjectKind::Cos, Cos);
        typed!(domains, ObjectKind::Domain, Domain);
        typed!(accounts, ObjectKind::Account, Account);
        typed!(aliases, ObjectKind::Alias, Alias);
        typed!(lists, ObjectKind::DistributionList, List);
        typed!(groups, ObjectKind::DynamicGroup, Group);
        for e in &self.other_entries {
            v.push((rank(o.raw(&e.dn)), EntryRef::Raw(e)));
        }
        v.sort_by_key(|(r, _)| *r);
        v.into_iter().map(|(_, e)| e).collect()
    }

    /// Append an entry to [`Directory::other_entries`] and give it the next place in creation
    /// order (an entry pushed onto `other_entries` directly gets its place at the next insert).
    pub fn push_raw(&mut self, entry: RawEntry) {
        self.order.adopt(&self.other_entries);
        self.order.raw_pushed(&entry.dn);
        self.other_entries.push(entry);
    }

    /// The global configuration entry now exists (as read from LDIF): give it its place in
    /// creation order, once.
    pub(crate) fn place_config(&mut self) {
        self.order.place_config();
    }

    /// The position in creation order of the object of `kind` named `name` (smaller is older;
    /// only the comparison between positions is meaningful). `None` when there is no such
    /// object or its position is unknown.
    pub fn creation_seq(&self, kind: ObjectKind, name: &str) -> Option<u64> {
        self.order.typed(kind, &key_ci(name))
    }

    collection!(
        Server,
        server,
        server_mut,
        servers,
        insert_server,
        remove_server,
        server_by_id
    );
    collection!(Cos, cos, cos_mut, coses, insert_cos, remove_cos, cos_by_id);
    collection!(
        Domain,
        domain,
        domain_mut,
        domains,
        insert_domain,
        remove_domain,
        domain_by_id
    );
    collection!(
        Account,
        account,
        account_mut,
        accounts,
        insert_account,
        remove_account,
        account_by_id
    );
    collection!(
        Alias,
        alias,
        alias_mut,
        aliases,
        insert_alias,
        remove_alias,
        alias_by_id
    );
    collection!(
        DistributionList,
        list,
        list_mut,
        lists,
        insert_list,
        remove_list,
        list_by_id
    );
    collection!(
        DynamicGroup,
        group,
        group_mut,
        groups,
        insert_group,
        remove_group,
        group_by_id
    );

    /// Number of accounts.
    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }

    /// The server whose `zimbraServiceHostname` (or name) is `host` (case-insensitive).
    pub fn server_by_hostname(&self, host: &str) -> Option<&Server> {
        self.server(host).or_else(|| {
            self.servers
                .values()
                .find(|s| s.service_hostname().eq_ignore_ascii_case(host))
        })
    }

    /// The name of whatever holds `address` as its name (account, list, group or alias entry),
    /// with its kind. Local parts share one namespace per domain (`ou=people`).
    pub fn name_in_use(&self, address: &str) -> Option<ObjectKind> {
        let k = key_ci(address);
        let k = k.as_str();
        if self.accounts.contains_key(k) {
            Some(ObjectKind::Account)
        } else if self.lists.contains_key(k) {
            Some(ObjectKind::DistributionList)
        } else if self.groups.contains_key(k) {
            Some(ObjectKind::DynamicGroup)
        } else if self.aliases.contains_key(k) {
            Some(ObjectKind::Alias)
        } else {
            None
        }
    }

    /// The account, list or group that `address` names directly or through an alias entry.
    pub fn resolve_recipient(&self, address: &str) -> Option<(ObjectKind, String)> {
        match self.name_in_use(address)? {
            ObjectKind::Alias => {
                let alias = self.alias(address)?;
                let target = alias.attrs.first(names::ALIAS_TARGET_ID)?;
                if let Some(a) = self.account_by_id(target) {
                    Some((ObjectKind::Account, a.name.to_string()))
                } else if let Some(l) = self.list_by_id(target) {
                    Some((ObjectKind::DistributionList, l.name.to_string()))
                } else {
                    self.group_by_id(target)
                        .map(|g| (ObjectKind::DynamicGroup, g.name.to_string()))
                }
            }
            kind => Some((kind, key_ci(address))),
        }
    }

    /// The COS that applies to `account`: its `zimbraCOSId`, else its domain's
    /// `zimbraDomainDefaultCOSId`, else the COS named `default`.
    pub fn cos_of(&self, account: &Account) -> Option<&Cos> {
        if let Some(id) = account.attrs.first(names::COS_ID) {
            if let Some(c) = self.cos_by_id(id) {
                return Some(c);
            }
        }
        if let Some(d) = self.domain(account.name.domain().as_str()) {
            if let Some(id) = d.attrs.first(names::DOMAIN_DEFAULT_COS_ID) {
                if let Some(c) = self.cos_by_id(id) {
                    return Some(c);
                }
            }
        }
        self.cos("default")
    }

    /// The global config's value of `attr`, falling back to the catalog's `globalConfig` default.
    pub fn config_attr(&self, attr: &str) -> Vec<&str> {
        let own = self.config.attrs.strs(attr);
        if !own.is_empty() {
            return own;
        }
        attrs::lookup(attr)
            .map(|d| d.global_config_values.to_vec())
            .unwrap_or_default()
    }

    /// The effective value of `attr` for `server`: its own value, else (for `serverInherited`
    /// attributes) the global config's.
    pub fn server_attr<'a>(&'a self, server: &'a Server, attr: &str) -> Vec<&'a str> {
        let own = server.attrs.strs(attr);
        if !own.is_empty() {
            return own;
        }
        match attrs::lookup(attr) {
            Some(d) if d.flags.server_inherited => self.config_attr(attr),
            _ => Vec::new(),
        }
    }

    /// The effective value of `attr` for `domain`: its own value, else (for `domainInherited`
    /// attributes) the global config's.
    pub fn domain_attr<'a>(&'a self, domain: &'a Domain, attr: &str) -> Vec<&'a str> {
        let own = domain.attrs.strs(attr);
        if !own.is_empty() {
            return own;
        }
        match attrs::lookup(attr) {
            Some(d) if d.flags.domain_inherited => self.config_attr(attr),
            _ => Vec::new(),
        }
    }

    /// The effective value of `attr` for `account`: its own value, else its COS's for
    /// `accountInherited` attributes, else also its domain's for `accountCosDomainInherited`.
    ///
    /// ```
    /// use zimbra_prov::model::Directory;
    /// use zimbra_prov::zmprov;
    /// let mut dir = Directory::new();
    /// zmprov::run(&mut dir, "cs mbx.example.org\ncd example.org\nca a@example.org pw").unwrap();
    /// let a = dir.account("a@example.org").unwrap();
    /// // zimbraFeatureMailForwardingEnabled is accountInherited: the default COS says TRUE.
    /// assert_eq!(dir.account_attr(a, "zimbraFeatureMailForwardingEnabled"), vec!["TRUE"]);
    /// ```
    pub fn account_attr<'a>(&'a self, account: &'a Account, attr: &str) -> Vec<&'a str> {
        let own = account.attrs.strs(attr);
        if !own.is_empty() {
            return own;
        }
        let Some(def) = attrs::lookup(attr) else {
            return Vec::new();
        };
        if def.flags.account_inherited || def.flags.account_cos_domain_inherited {
            if let Some(cos) = self.cos_of(account) {
                let v = cos.attrs.strs(attr);
                if !v.is_empty() {
                    return v;
                }
            }
        }
        if def.flags.account_cos_domain_inherited {
            if let Some(d) = self.domain(account.name.domain().as_str()) {
                return self.domain_attr(d, attr);
            }
        }
        Vec::new()
    }

    /// The effective `zimbraDomainStatus` of a domain (its own, else the global config's).
    pub fn effective_domain_status(&self, domain: &Domain) -> Option<DomainStatus> {
        self.domain_attr(domain, names::DOMAIN_STATUS)
            .first()
            .and_then(|s| s.parse().ok())
    }

    /// The account status Zimbra acts on: the account's own status combined with its domain's
    /// status (Zimbra's `Account.getAccountStatus` table). Global admins always keep their own.
    /// `None` when the account has no valid status.
    pub fn effective_account_status(&self, account: &Account) -> Option<AccountStatus> {
        let own = account.status().ok().flatten()?;
        if account.is_global_admin() {
            return Some(own);
        }
        let dstatus = self
            .domain(account.name.domain().as_str())
            .and_then(|d| self.effective_domain_status(d));
        use AccountStatus as A;
        use DomainStatus as D;
        Some(match dstatus {
            None | Some(D::Active) => own,
            Some(D::Locked) => match own {
                A::Maintenance | A::Pending | A::Closed => own,
                _ => A::Locked,
            },
            Some(D::Maintenance | D::Suspended | D::Shutdown) => match own {
                A::Pending | A::Closed => own,
                _ => A::Maintenance,
            },
            Some(D::Closed) => A::Closed,
        })
    }

    /// The LMTP port mailboxes on `server` listen on (`zimbraLmtpBindPort`, default 7025).
    pub fn lmtp_port(&self, server: Option<&Server>) -> u16 {
        let v = match server {
            Some(s) => self.server_attr(s, names::LMTP_BIND_PORT),
            None => self.config_attr(names::LMTP_BIND_PORT),
        };
        v.first().and_then(|p| p.parse().ok()).unwrap_or(7025)
    }

    /// Every alias entry whose target is `id`.
    pub fn aliases_of(&self, id: &str) -> Vec<&Alias> {
        self.aliases
            .values()
            .filter(|a| a.attrs.has_value_ci(names::ALIAS_TARGET_ID, id))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(dir: &mut Directory, name: &str, status: &str) {
        let mut a = Account::new(name.parse().unwrap());
        a.attrs.set_one(names::ACCOUNT_STATUS, status);
        dir.insert_account(a).unwrap();
    }

    #[test]
    fn fresh_install_has_defaults() {
        let dir = Directory::new();
        assert_eq!(dir.config_attr("zimbraMtaMyDestination"), vec!["localhost"]);
        let cos = dir.cos("DEFAULT").unwrap();
        assert_eq!(cos.id().unwrap().unwrap().as_str(), DEFAULT_COS_ID);
        assert_eq!(dir.lmtp_port(None), 7025);
    }

    #[test]
    fn insert_refuses_duplicates_case_insensitively() {
        let mut dir = Directory::empty();
        account(&mut dir, "a@x.org", "active");
        let dup = Account::new("A@X.org".parse().unwrap());
        assert!(matches!(
            dir.insert_account(dup),
            Err(ModelError::Exists { .. })
        ));
    }

    #[test]
    fn domain_status_overrides_account_status() {
        let mut dir = Directory::new();
        let mut d = Domain::new("x.org".parse().unwrap());
        d.attrs.set_one(names::DOMAIN_STATUS, "maintenance");
        dir.insert_domain(d).unwrap();
        account(&mut dir, "a@x.org", "active");
        account(&mut dir, "c@x.org", "closed");
        let a = dir.account("a@x.org").unwrap();
        assert_eq!(
            dir.effective_account_status(a),
            Some(AccountStatus::Maintenance)
        );
        let c = dir.account("c@x.org").unwrap();
        assert_eq!(dir.effective_account_status(c), Some(AccountStatus::Closed));
        dir.domain_mut("x.org")
            .unwrap()
            .attrs
            .set_one(names::DOMAIN_STATUS, "closed");
        let a = dir.account("a@x.org").unwrap();
        assert_eq!(dir.effective_account_status(a), Some(AccountStatus::Closed));
    }

    #[test]
    fn server_inherits_from_config() {
        let mut dir = Directory::new();
        let mut s = Server::new("mta.x.org");
        s.attrs.set_one("zimbraMtaRelayHost", "relay.x.org");
        dir.insert_server(s).unwrap();
        dir.config.attrs.set_one("zimbraLmtpBindPort", "7026");
        let s = dir.server("mta.x.org").unwrap();
        assert_eq!(
            dir.server_attr(s, "zimbraMtaRelayHost"),
            vec!["relay.x.org"]
        );
        assert_eq!(dir.lmtp_port(Some(s)), 7026);
        // not serverInherited: no fallback
        assert!(dir.server_attr(s, "zimbraMtaRecipientDelimiter").is_empty());
    }

    #[test]
    fn cos_resolution_order() {
        let mut dir = Directory::new();
        let mut cos = Cos::new("gold");
        cos.attrs
            .set_one(names::ZIMBRA_ID, "11111111-1111-1111-1111-111111111111");
        cos.attrs.set_one("zimbraMailQuota", "42");
        dir.insert_cos(cos).unwrap();
        let mut d = Domain::new("x.org".parse().unwrap());
        d.attrs.set_one(
            names::DOMAIN_DEFAULT_COS_ID,
            "11111111-1111-1111-1111-111111111111",
        );
        dir.insert_domain(d).unwrap();
        account(&mut dir, "a@x.org", "active");
        let a = dir.account("a@x.org").unwrap();
        assert_eq!(dir.cos_of(a).unwrap().name, "gold");
        assert_eq!(dir.account_attr(a, "zimbraMailQuota"), vec!["42"]);
        account(&mut dir, "b@y.org", "active");
        let b = dir.account("b@y.org").unwrap();
        assert_eq!(dir.cos_of(b).unwrap().name, "default");
    }

    #[test]
    fn alias_resolution() {
        let mut dir = Directory::empty();
        let mut a = Account::new("a@x.org".parse().unwrap());
        a.attrs
            .set_one(names::ZIMBRA_ID, "22222222-2222-2222-2222-222222222222");
        dir.insert_account(a).unwrap();
        let mut al = Alias {
            name: "al@x.org".parse().unwrap(),
            dn: None,
            attrs: AttrBag::new(),
        };
        al.attrs.set_one(
            names::ALIAS_TARGET_ID,
            "22222222-2222-2222-2222-222222222222",
        );
        dir.insert_alias(al).unwrap();
        assert_eq!(
            dir.resolve_recipient("AL@x.org"),
            Some((ObjectKind::Account, "a@x.org".to_string()))
        );
        assert_eq!(dir.name_in_use("al@x.org"), Some(ObjectKind::Alias));
        assert_eq!(dir.resolve_recipient("nobody@x.org"), None);
    }
}
