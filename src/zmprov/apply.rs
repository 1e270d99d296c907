//! Applying zmprov commands to a [`Directory`] with Zimbra's semantics.

use std::collections::BTreeSet;

use crate::attrs;
use crate::model::{
    names as n, Account, AccountStatus, Address, Alias, AttrBag, Cos, Directory, DistributionList,
    Domain, DomainName, ObjectKind, Server, Transport,
};

use super::{parse_script, AttrArg, AttrOp, Command, ErrorCode, ScriptLine, ZmprovError};

mod dynamic;

type Res<T> = Result<T, ZmprovError>;

/// Parse and apply a whole script; returns what the `g*` commands printed.
///
/// Commands are applied in order; the first failing command stops the script (the directory
/// keeps the effects of the commands before it, as a real zmprov run would).
pub fn run(dir: &mut Directory, script: &str) -> Res<String> {
    let lines = parse_script(script)?;
    apply_script(dir, &lines)
}

/// Apply parsed script lines in order; returns what the `g*` commands printed.
pub fn apply_script(dir: &mut Directory, lines: &[ScriptLine]) -> Res<String> {
    let mut out = String::new();
    for l in lines {
        out.push_str(&apply(dir, l)?);
    }
    Ok(out)
}

/// Apply one command; returns what it printed (only `g*` commands print).
pub fn apply(dir: &mut Directory, l: &ScriptLine) -> Res<String> {
    let mut cx = Cx {
        dir,
        line: l.line,
        replace_flag: l.replace,
    };
    let out = cx.exec(&l.command, l.ldap)?;
    if matches!(
        l.command,
        Command::CreateAccount { .. }
            | Command::RenameAccount { .. }
            | Command::AddAccountAlias { .. }
            | Command::CreateDistributionList { .. }
            | Command::CreateDynamicGroup { .. }
    ) {
        cx.drop_external_members_now_internal();
    }
    Ok(out)
}

struct Cx<'a> {
    dir: &'a mut Directory,
    line: usize,
    replace_flag: bool,
}

/// Which checks a modification runs.
#[derive(Clone, Copy)]
struct ModOpts<'c> {
    /// Zimbra classes of the entry, for the "allowed on this entry" check.
    classes: &'c [&'c str],
    /// Immutable attributes that a create command may still set.
    create_exempt: &'c [&'c str],
}

/// What a modification set, for the callbacks.
#[derive(Default)]
struct Touched {
    names: BTreeSet<String>,
}

impl Touched {
    fn has(&self, name: &str) -> bool {
        self.names.contains(&name.to_ascii_lowercase())
    }
}

const ACCOUNT_CLASSES: &[&str] = &["account", "mailRecipient", "calendarResource"];
const DOMAIN_CLASSES: &[&str] = &["domain", "mailRecipient"];
const COS_CLASSES: &[&str] = &["cos"];
const SERVER_CLASSES: &[&str] = &["server"];
const CONFIG_CLASSES: &[&str] = &["globalConfig"];
const LIST_CLASSES: &[&str] = &["distributionList", "mailRecipient"];
const SAFEGUARDED: &[&str] = &["zimbraServiceEnabled", "zimbraServiceInstalled"];

fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Rewrite an address-valued string from domain `old` to domain `new` (same local part);
/// `@old` (catch-all form) becomes `@new`. Other values are returned unchanged.
fn rewrite_domain(value: &str, old: &DomainName, new: &DomainName) -> Option<String> {
    if let Some(d) = value.strip_prefix('@') {
        return d
            .eq_ignore_ascii_case(old.as_str())
            .then(|| format!("@{new}"));
    }
    let a = Address::parse(value).ok()?;
    (a.domain() == old).then(|| a.with_domain(new).to_string())
}

impl Cx<'_> {
    fn err(&self, code: ErrorCode, msg: impl Into<String>) -> ZmprovError {
        ZmprovError::new(self.line, code, msg)
    }

    fn invalid(&self, msg: impl Into<String>) -> ZmprovError {
        self.err(
            ErrorCode::InvalidRequest,
            format!("invalid request: {}", msg.into()),
        )
    }

    fn exec(&mut self, cmd: &Command, ldap: bool) -> Res<String> {
        match cmd {
            Command::CreateServer { name, attrs } => self.create_server(name, attrs),
            Command::ModifyServer { server, attrs } => {
                let key = self.find_server(server)?;
                self.modify_server(&key, attrs)
            }
            Command::GetServer { server, attrs } => {
                let key = self.find_server(server)?;
                let s = self
                    .dir
                    .server(&key)
                    .map(|s| (s.name.clone(), s.attrs.clone()));
                Ok(s.map(|(nm, bag)| dump(Some(&nm), &bag, attrs))
                    .unwrap_or_default())
            }
            Command::CreateDomain { name, attrs } => self.create_domain(name, attrs, None),
            Command::CreateAliasDomain {
                alias,
                target,
                attrs,
            } => {
                let tkey = self.find_domain(target)?;
                let t = self.dir.domain(&tkey).map(|d| {
                    (
                        d.is_alias(),
                        d.attrs.first(n::ZIMBRA_ID).map(str::to_string),
                    )
                });
                match t {
                    Some((false, Some(id))) => self.create_domain(alias, attrs, Some(id)),
                    _ => Err(self.invalid("target domain must be a local domain")),
                }
            }
            Command::ModifyDomain { domain, attrs } => {
                let key = self.find_domain(domain)?;
                self.modify_domain(&key, attrs)
            }
            Command::GetDomain { domain, attrs } => {
                let key = self.find_domain(domain)?;
                let d = self
                    .dir
                    .domain(&key)
                    .map(|d| (d.name.to_string(), d.attrs.clone()));
                Ok(d.map(|(nm, bag)| dump(Some(&nm), &bag, attrs))
                    .unwrap_or_default())
            }
            Command::DeleteDomain { domain } => self.delete_domain(domain),
            Command::RenameDomain { domain, new_name } => {
                if !ldap {
                    return Err(self.invalid("can only be used with \"zmprov -l/--ldap\""));
                }
                self.rename_domain(domain, new_name)
            }
            Command::CreateCos { name, attrs } => self.create_cos(name, attrs),
            Command::ModifyCos { cos, attrs } => {
                let key = self.find_cos(cos)?;
                let mut bag = self
                    .dir
                    .cos(&key)
                    .map(|c| c.attrs.clone())
                    .unwrap_or_default();
                self.modify(
                    &mut bag,
                    attrs,
                    ModOpts {
                        classes: COS_CLASSES,
                        create_exempt: &[],
                    },
                )?;
                if let Some(c) = self.dir.cos_mut(&key) {
                    c.attrs = bag;
                }
                Ok(String::new())
            }
            Command::GetCos { cos, attrs } => {
                let key = self.find_cos(cos)?;
                let c = self
                    .dir
                    .cos(&key)
                    .map(|c| (c.name.clone(), c.attrs.clone()));
                Ok(c.map(|(nm, bag)| dump(Some(&nm), &bag, attrs))
                    .unwrap_or_default())
            }
            Command::CreateAccount {
                name,
                password,
                attrs,
            } => self.create_account(name, password, attrs),
            Command::ModifyAccount { account, attrs } => {
                let key = self.find_account(account)?;
                self.modify_account(&key, attrs)
            }
            Command::GetAccount { account, attrs } => {
                let key = self.find_account(account)?;
                let a = self
                    .dir
                    .account(&key)
                    .map(|a| (a.name.to_string(), a.attrs.clone()));
                Ok(a.map(|(nm, bag)| dump(Some(&nm), &bag, attrs))
                    .unwrap_or_default())
            }
            Command::DeleteAccount { account } => self.delete_account(account),
            Command::RenameAccount { account, new_name } => self.rename_account(account, new_name),
            Command::AddAccountAlias { account, alias } => self.add_alias(account, alias),
            Command::RemoveAccountAlias { account, alias } => self.remove_alias(account, alias),
            Command::CreateDistributionList { name, attrs } => self.create_list(name, attrs),
            Command::CreateDynamicGroup { name, attrs } => self.create_group(name, attrs),
            // a name that is not a static list may name a dynamic group
            Command::AddDistributionListMember { list, members } => match self.dynamic(list) {
                Some(g) => self.add_group_members(&g, members),
                None => self.add_members(list, members),
            },
            Command::RemoveDistributionListMember { list, members } => match self.dynamic(list) {
                Some(g) => self.remove_group_members(&g, members),
                None => self.remove_members(list, members),
            },
            Command::DeleteDistributionList { list } => match self.dynamic(list) {
                Some(g) => self.delete_group(&g),
                None => self.delete_list(list),
            },
            Command::ModifyConfig { attrs } => {
                let mut bag = self.dir.config.attrs.clone();
                let touched = self.modify(
                    &mut bag,
                    attrs,
                    ModOpts {
                        classes: CONFIG_CLASSES,
                        create_exempt: &[],
                    },
                )?;
                self.check_relay_host(&bag, &touched)?;
                self.dir.config.attrs = bag;
                Ok(String::new())
            }
            Command::GetConfig { attr } => {
                let def = attrs::lookup(attr).ok_or_else(|| {
                    self.err(
                        ErrorCode::InvalidAttrName,
                        format!("invalid attr name: {attr}"),
                    )
                })?;
                let mut out = String::new();
                for v in self.dir.config.attrs.values(def.name) {
                    out.push_str(&format!("{}: {}\n", def.name, v.to_string_lossy()));
                }
                Ok(out)
            }
        }
    }

    // ----- lookups -------------------------------------------------------------------------

    fn qualify(&self, name: &str) -> String {
        if name.contains('@') {
            return name.to_ascii_lowercase();
        }
        match self.dir.config.attrs.first("zimbraDefaultDomainName") {
            Some(d) => format!("{}@{}", name, d).to_ascii_lowercase(),
            None => name.to_ascii_lowercase(),
        }
    }

    fn find_account(&self, key: &str) -> Res<String> {
        let q = self.qualify(key);
        if self.dir.account(&q).is_some() {
            return Ok(q);
        }
        if let Some(a) = self.dir.accounts().find(|a| {
            a.attrs.has_value_ci(n::MAIL_ALIAS, &q) || a.attrs.has_value_ci(n::ZIMBRA_ID, key)
        }) {
            return Ok(a.name.key());
        }
        // an address in an alias domain names the account in the target domain
        if let Ok(addr) = Address::parse(&q) {
            if let Some(target) = self.alias_domain_target(addr.domain()) {
                let k = addr.with_domain(&target).key();
                if self.dir.account(&k).is_some() {
                    return Ok(k);
                }
            }
        }
        Err(self.err(ErrorCode::NoSuchAccount, format!("no such account: {key}")))
    }

    fn alias_domain_target(&self, d: &DomainName) -> Option<DomainName> {
        let dom = self.dir.domain(d.as_str())?;
        if !dom.is_alias() {
            return None;
        }
        let id = dom.attrs.first(n::DOMAIN_ALIAS_TARGET_ID)?;
        self.dir.domain_by_id(id).map(|t| t.name.clone())
    }

    fn find_domain(&self, key: &str) -> Res<String> {
        let k = key.to_ascii_lowercase();
        if self.dir.domain(&k).is_some() {
            return Ok(k);
        }
        if let Some(d) = self.dir.domain_by_id(key) {
            return Ok(d.name.to_string());
        }
        Err(self.err(ErrorCode::NoSuchDomain, format!("no such domain: {key}")))
    }

    fn find_cos(&self, key: &str) -> Res<String> {
        if let Some(c) = self.dir.cos(key) {
            return Ok(c.name.to_ascii_lowercase());
        }
        if let Some(c) = self.dir.cos_by_id(key) {
            return Ok(c.name.to_ascii_lowercase());
        }
        Err(self.err(ErrorCode::NoSuchCos, format!("no such cos: {key}")))
    }

    fn find_server(&self, key: &str) -> Res<String> {
        if let Some(s) = self.dir.server(key) {
            return Ok(s.name.to_ascii_lowercase());
        }
        if let Some(s) = self.dir.server_by_id(key) {
            return Ok(s.name.to_ascii_lowercase());
        }
        Err(self.err(ErrorCode::NoSuchServer, format!("no such server: {key}")))
    }

    fn find_list(&self, key: &str) -> Res<String> {
        let q = self.qualify(key);
        if self.dir.list(&q).is_some() {
            return Ok(q);
        }
        if let Some(l) = self.dir.lists().find(|l| {
            l.attrs.has_value_ci(n::MAIL_ALIAS, &q) || l.attrs.has_value_ci(n::ZIMBRA_ID, key)
        }) {
            return Ok(l.name.key());
        }
        Err(self.err(
            ErrorCode::NoSuchDistributionList,
            format!("no such distribution list: {key}"),
        ))
    }

    /// The dynamic group `key` names, when it names no static list.
    fn dynamic(&self, key: &str) -> Option<String> {
        if self.find_list(key).is_ok() {
            return None;
        }
        self.find_group(key)
    }

    fn parse_new_address(&self, name: &str) -> Res<Address> {
        let lower = name.trim().to_ascii_lowercase();
        Address::parse(&lower).map_err(|e| self.invalid(format!("invalid email address: {e}")))
    }

    fn local_domain(&self, d: &DomainName) -> Res<()> {
        match self.dir.domain(d.as_str()) {
            None => Err(self.err(ErrorCode::NoSuchDomain, format!("no such domain: {d}"))),
            Some(dom) if dom.is_alias() => Err(self.invalid("domain type must be local")),
            Some(_) => Ok(()),
        }
    }

    fn ensure_free(&self, addr: &Address) -> Res<()> {
        match self.dir.name_in_use(&addr.key()) {
            // Zimbra's LDAP refuses a second entry with the same `mail` anywhere in the tree
            // (unique overlay); the raw entries include dynamic groups' units
            None if self
                .dir
                .other_entries
                .iter()
                .any(|e| e.attrs.has_value_ci(n::MAIL, &addr.key())) =>
            {
                Err(self.err(
                    ErrorCode::AccountExists,
                    format!("email address already exists: {addr}"),
                ))
            }
            None => Ok(()),
            Some(ObjectKind::DistributionList) => Err(self.err(
                ErrorCode::DistributionListExists,
                format!("email address already exists: {addr}"),
            )),
            Some(_) => Err(self.err(
                ErrorCode::AccountExists,
                format!("email address already exists: {addr}"),
            )),
        }
    }

    // ----- generic modification ------------------------------------------------------------

    fn modify(&self, bag: &mut AttrBag, mods: &[AttrArg], opts: ModOpts<'_>) -> Res<Touched> {
        // group by attribute (case-insensitive), keeping first-seen order
        let mut groups: Vec<(&'static attrs::AttrDef, Vec<&AttrArg>)> = Vec::new();
        for m in mods {
            let def = attrs::lookup(&m.name).ok_or_else(|| {
                self.err(
                    ErrorCode::InvalidAttrName,
                    format!("invalid attr name: {}", m.name),
                )
            })?;
            match groups.iter_mut().find(|(d, _)| d.name == def.name) {
                Some((_, v)) => v.push(m),
                None => groups.push((def, vec![m])),
            }
        }
        let mut touched = Touched::default();
        let mut next = bag.clone();
        for (def, args) in &groups {
            let replace = args.iter().any(|a| a.op == AttrOp::Replace);
            if replace && args.iter().any(|a| a.op != AttrOp::Replace) {
                return Err(self.invalid("can't mix +attrName/-attrName with attrName"));
            }
            if def.immutable
                && !opts
                    .create_exempt
                    .iter()
                    .any(|e| e.eq_ignore_ascii_case(def.name))
            {
                return Err(self.invalid(format!("{} is immutable", def.name)));
            }
            if def.id.is_some() && !opts.classes.iter().any(|c| def.allowed_in(c)) {
                return Err(self.invalid(format!(
                    "{} is not allowed on {}",
                    def.name,
                    opts.classes.first().copied().unwrap_or("this entry")
                )));
            }
            for a in args.iter().filter(|a| !a.value.is_empty()) {
                def.validate(&a.value).map_err(|e| {
                    self.err(
                        ErrorCode::InvalidAttrValue,
                        format!("invalid attr value: {e}"),
                    )
                })?;
            }
            if replace {
                let values: Vec<&str> = args
                    .iter()
                    .map(|a| a.value.as_str())
                    .filter(|v| !v.is_empty())
                    .collect();
                if SAFEGUARDED.iter().any(|s| s.eq_ignore_ascii_case(def.name))
                    && !self.replace_flag
                    && next.values(def.name).len() > 1
                    && !values.is_empty()
                {
                    return Err(self.err(
                        ErrorCode::Refused,
                        "error: cannot replace multi-valued attr value unless -r is specified",
                    ));
                }
                let mut uniq: Vec<&str> = Vec::new();
                for v in values {
                    if !uniq.iter().any(|u| u.eq_ignore_ascii_case(v)) {
                        uniq.push(v);
                    }
                }
                if def.is_single_valued() && uniq.len() > 1 {
                    return Err(self.err(
                        ErrorCode::InvalidAttrValue,
                        format!("invalid attr value: {} is single-valued", def.name),
                    ));
                }
                let stored_name = next.get(def.name).map(|a| a.name().to_string());
                next.set(stored_name.as_deref().unwrap_or(def.name), uniq);
            } else {
                for a in args.iter().filter(|a| !a.value.is_empty()) {
                    match a.op {
                        AttrOp::Add => {
                            next.add_unique_ci(def.name, &a.value);
                        }
                        AttrOp::Remove => {
                            next.remove_value_ci(def.name, &a.value);
                        }
                        AttrOp::Replace => {}
                    }
                }
                if def.is_single_valued() && next.values(def.name).len() > 1 {
                    return Err(self.err(
                        ErrorCode::InvalidAttrValue,
                        format!("invalid attr value: {} is single-valued", def.name),
                    ));
                }
            }
            touched.names.insert(def.name.to_ascii_lowercase());
        }
        self.check_cos_refs(&next, &touched)?;
        *bag = next;
        Ok(touched)
    }

    fn check_cos_refs(&self, bag: &AttrBag, touched: &Touched) -> Res<()> {
        for attr in [n::COS_ID, n::DOMAIN_DEFAULT_COS_ID] {
            if touched.has(attr) {
                if let Some(id) = bag.first(attr) {
                    if self.dir.cos_by_id(id).is_none() {
                        return Err(self.err(ErrorCode::NoSuchCos, format!("no such cos: {id}")));
                    }
                }
            }
        }
        Ok(())
    }

    fn check_relay_host(&self, bag: &AttrBag, touched: &Touched) -> Res<()> {
        if touched.has(n::MTA_RELAY_HOST) && bag.values(n::MTA_RELAY_HOST).len() > 1 {
            return Err(self.invalid("zimbraMtaRelayHost can only have one value"));
        }
        Ok(())
    }

    /// The AccountStatus callback.
    fn account_status_callback(&self, bag: &mut AttrBag, touched: &Touched) -> Res<()> {
        if !touched.has(n::ACCOUNT_STATUS) {
            return Ok(());
        }
        let Some(s) = bag.first(n::ACCOUNT_STATUS) else {
            return Err(self.invalid("zimbraAccountStatus is a required attribute"));
        };
        let status: AccountStatus = s.parse().map_err(|_| {
            self.err(
                ErrorCode::InvalidAttrValue,
                format!("invalid attr value: {s}"),
            )
        })?;
        if !touched.has(n::MAIL_STATUS) {
            bag.set_one(n::MAIL_STATUS, status.implied_mail_status().to_string());
        }
        Ok(())
    }

    /// The server whose service host name is `host`, with its LMTP port.
    fn mail_host_server(&self, host: &str) -> Res<(String, u16)> {
        let any_mailbox = self.dir.servers().any(Server::has_mailbox_service);
        match self.dir.server_by_hostname(host) {
            Some(s) if !any_mailbox || s.has_mailbox_service() => {
                Ok((s.service_hostname().to_string(), self.dir.lmtp_port(Some(s))))
            }
            _ => Err(self.invalid(format!(
                "specified zimbraMailHost does not correspond to a valid server service hostname: {host}"
            ))),
        }
    }

    /// The MailHost callback on modify: the current transport must point at the current host.
    fn mail_host_callback(&self, old: &AttrBag, bag: &mut AttrBag, touched: &Touched) -> Res<()> {
        if !touched.has(n::MAIL_HOST) {
            return Ok(());
        }
        if touched.has(n::MAIL_TRANSPORT) {
            return Err(self.invalid(
                "setting both zimbraMailHost and zimbraMailTransport in the same request is not allowed",
            ));
        }
        let Some(host) = bag.first(n::MAIL_HOST).map(str::to_string) else {
            return Ok(());
        };
        let (service_host, port) = self.mail_host_server(&host)?;
        if let Some(cur) = old.first(n::MAIL_TRANSPORT) {
            let parts: Vec<&str> = cur.split(':').collect();
            let old_host = old
                .first(n::MAIL_HOST)
                .and_then(|h| self.dir.server_by_hostname(h))
                .map(|s| s.service_hostname().to_string());
            let matches = parts.len() == 3
                && parts[0].eq_ignore_ascii_case("lmtp")
                && old_host.is_some_and(|h| h.eq_ignore_ascii_case(parts[1]));
            if !matches {
                return Err(self.invalid(format!(
                    "current value of zimbraMailHost does not match zimbraMailTransport, current zimbraMailTransport={cur}"
                )));
            }
        }
        bag.set_one(n::MAIL_HOST, service_host.clone());
        bag.set_one(
            n::MAIL_TRANSPORT,
            Transport::lmtp(&service_host, port).to_string(),
        );
        Ok(())
    }

    fn domain_status_callback(
        &self,
        old: &AttrBag,
        bag: &mut AttrBag,
        touched: &Touched,
    ) -> Res<()> {
        if !touched.has(n::DOMAIN_STATUS) {
            return Ok(());
        }
        let status = bag.first(n::DOMAIN_STATUS).unwrap_or("").to_string();
        if status == "shutdown" {
            return Err(self.invalid("Setting zimbraDomainStatus to shutdown is not allowed. It is an internal status and can only be set by server"));
        }
        if touched.has(n::MAIL_STATUS) {
            return Ok(());
        }
        if status == "closed" {
            bag.set_one(n::MAIL_STATUS, "disabled");
        } else if !(status == "suspended" && old.has_value_ci(n::MAIL_STATUS, "disabled")) {
            bag.set_one(n::MAIL_STATUS, "enabled");
        }
        Ok(())
    }

    // ----- servers -------------------------------------------------------------------------

    fn create_server(&mut self, name: &str, mods: &[AttrArg]) -> Res<String> {
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() {
            return Err(self.invalid("server name must not be empty"));
        }
        if self.dir.server(&name).is_some() {
            return Err(self.err(
                ErrorCode::ServerExists,
                format!("server already exists: {name}"),
            ));
        }
        let mut bag = AttrBag::new();
        self.modify(
            &mut bag,
            mods,
            ModOpts {
                classes: SERVER_CLASSES,
                create_exempt: &[n::ZIMBRA_ID],
            },
        )?;
        let mut s = Server::new(&name);
        let mut ocs = vec!["zimbraServer".to_string()];
        ocs.extend(
            self.dir
                .config
                .attrs
                .strs("zimbraServerExtraObjectClass")
                .iter()
                .map(|s| s.to_string()),
        );
        s.attrs.set(n::OBJECT_CLASS, ocs);
        s.attrs.set_one(n::CN, name.clone());
        let id = match bag.first(n::ZIMBRA_ID) {
            Some(id) => id.to_string(),
            None => self.dir.ids.next_id().to_string(),
        };
        s.attrs.set_one(n::ZIMBRA_ID, id);
        s.attrs
            .set_one(n::CREATE_TIMESTAMP, self.dir.ids.timestamp.clone());
        if !bag.contains(n::SERVICE_HOSTNAME) {
            s.attrs.set_one(n::SERVICE_HOSTNAME, name.clone());
        }
        merge(&mut s.attrs, bag);
        self.dir
            .insert_server(s)
            .map(drop)
            .map_err(|e| model_err(self.line, e))?;
        Ok(String::new())
    }

    fn modify_server(&mut self, key: &str, mods: &[AttrArg]) -> Res<String> {
        let mut bag = self
            .dir
            .server(key)
            .map(|s| s.attrs.clone())
            .unwrap_or_default();
        let touched = self.modify(
            &mut bag,
            mods,
            ModOpts {
                classes: SERVER_CLASSES,
                create_exempt: &[],
            },
        )?;
        self.check_relay_host(&bag, &touched)?;
        if let Some(s) = self.dir.server_mut(key) {
            s.attrs = bag;
        }
        Ok(String::new())
    }

    // ----- domains -------------------------------------------------------------------------

    fn create_domain(
        &mut self,
        name: &str,
        mods: &[AttrArg],
        alias_target: Option<String>,
    ) -> Res<String> {
        let lower = name.trim().to_ascii_lowercase();
        let dname = DomainName::parse(&lower)
            .map_err(|e| self.invalid(format!("invalid domain name: {e}")))?;
        if self.dir.domain(dname.as_str()).is_some() {
            return Err(self.err(
                ErrorCode::DomainExists,
                format!("domain already exists: {dname}"),
            ));
        }
        // zimbraDomainType and zimbraDomainStatus may be given at creation despite being immutable
        let mut bag = AttrBag::new();
        let touched = self.modify(
            &mut bag,
            mods,
            ModOpts {
                classes: DOMAIN_CLASSES,
                create_exempt: &[n::ZIMBRA_ID, n::DOMAIN_TYPE],
            },
        )?;
        let is_alias = alias_target.is_some() || bag.has_value_ci(n::DOMAIN_TYPE, "alias");
        let mut d = Domain::new(dname.clone());
        let mut ocs = vec![
            "dcObject".to_string(),
            "organization".to_string(),
            "zimbraDomain".to_string(),
        ];
        ocs.extend(
            self.dir
                .config_attr("zimbraDomainExtraObjectClass")
                .iter()
                .map(|s| s.to_string()),
        );
        d.attrs.set(n::OBJECT_CLASS, ocs);
        let id = match bag.first(n::ZIMBRA_ID) {
            Some(id) => id.to_string(),
            None => self.dir.ids.next_id().to_string(),
        };
        d.attrs.set_one(n::ZIMBRA_ID, id);
        d.attrs
            .set_one(n::CREATE_TIMESTAMP, self.dir.ids.timestamp.clone());
        d.attrs.set_one(n::DOMAIN_NAME, dname.to_string());
        d.attrs
            .set_one(n::DOMAIN_TYPE, if is_alias { "alias" } else { "local" });
        d.attrs.set_one(n::DOMAIN_STATUS, "active");
        if let Some(t) = &alias_target {
            d.attrs.set_one(n::DOMAIN_ALIAS_TARGET_ID, t.clone());
        }
        d.attrs.set_one(n::MAIL_STATUS, "enabled");
        d.attrs.set_one("o", format!("{dname} domain"));
        d.attrs
            .set_one("dc", dname.labels().next().unwrap_or_default());
        if is_alias {
            d.attrs
                .set_one(n::MAIL_CATCH_ALL_ADDRESS, format!("@{dname}"));
        }
        let old = d.attrs.clone();
        bag.remove(n::DOMAIN_TYPE);
        merge(&mut d.attrs, bag);
        self.domain_status_callback(&old, &mut d.attrs, &touched)?;
        self.dir
            .insert_domain(d)
            .map(drop)
            .map_err(|e| model_err(self.line, e))?;
        Ok(String::new())
    }

    fn modify_domain(&mut self, key: &str, mods: &[AttrArg]) -> Res<String> {
        let old = self
            .dir
            .domain(key)
            .map(|d| d.attrs.clone())
            .unwrap_or_default();
        let mut bag = old.clone();
        let touched = self.modify(
            &mut bag,
            mods,
            ModOpts {
                classes: DOMAIN_CLASSES,
                create_exempt: &[],
            },
        )?;
        self.domain_status_callback(&old, &mut bag, &touched)?;
        if let Some(d) = self.dir.domain_mut(key) {
            d.attrs = bag;
        }
        Ok(String::new())
    }

    fn domain_entries(&self, d: &DomainName) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        v.extend(
            self.dir
                .accounts()
                .filter(|a| a.name.domain() == d)
                .map(|a| a.name.key()),
        );
        v.extend(
            self.dir
                .lists()
                .filter(|a| a.name.domain() == d)
                .map(|a| a.name.key()),
        );
        v.extend(
            self.dir
                .groups()
                .filter(|a| a.name.domain() == d)
                .map(|a| a.name.key()),
        );
        v.extend(
            self.dir
                .aliases()
                .filter(|a| a.name.domain() == d)
                .map(|a| a.name.key()),
        );
        v
    }

    fn delete_domain(&mut self, domain: &str) -> Res<String> {
        let key = self.find_domain(domain)?;
        let Some(dom) = self.dir.domain(&key) else {
            return Err(self.err(ErrorCode::NoSuchDomain, format!("no such domain: {domain}")));
        };
        let dname = dom.name.clone();
        let remaining = self.domain_entries(&dname);
        if !remaining.is_empty() {
            let dns: Vec<String> = remaining
                .iter()
                .take(5)
                .map(|a| {
                    let local = a.split('@').next().unwrap_or_default();
                    let dcs: Vec<String> = dname.labels().map(|l| format!("dc={l}")).collect();
                    format!("uid={local},ou=people,{}", dcs.join(","))
                })
                .collect();
            return Err(self.err(
                ErrorCode::DomainNotEmpty,
                format!(
                    "domain not empty: {dname} (remaining entries: [{}] ...)",
                    dns.join("] [")
                ),
            ));
        }
        if !dom.is_alias() {
            let id = dom
                .attrs
                .first(n::ZIMBRA_ID)
                .unwrap_or_default()
                .to_string();
            let alias_domains: Vec<DomainName> = self
                .dir
                .domains()
                .filter(|d| d.is_alias() && d.attrs.has_value_ci(n::DOMAIN_ALIAS_TARGET_ID, &id))
                .map(|d| d.name.clone())
                .collect();
            for a in &alias_domains {
                if !self.domain_entries(a).is_empty() {
                    return Err(
                        self.invalid(format!("alias domain {a} of domain {dname} is not empty"))
                    );
                }
            }
            for a in alias_domains {
                self.dir.remove_domain(a.as_str());
            }
        }
        self.dir.remove_domain(&key);
        Ok(String::new())
    }

    fn rename_domain(&mut self, domain: &str, new_name: &str) -> Res<String> {
        let key = self.find_domain(domain)?;
        let new = DomainName::parse(&new_name.trim().to_ascii_lowercase())
            .map_err(|e| self.invalid(format!("invalid domain name: {e}")))?;
        if self.dir.domain(new.as_str()).is_some() {
            return Err(self.err(
                ErrorCode::DomainExists,
                format!("domain already exists: {new}"),
            ));
        }
        let Some(old_dom) = self.dir.remove_domain(&key) else {
            return Err(self.err(ErrorCode::NoSuchDomain, format!("no such domain: {domain}")));
        };
        let old = old_dom.name.clone();
        // the new domain: the old one's attributes, renamed
        let mut nd = Domain::new(new.clone());
        for a in old_dom.attrs.iter() {
            let lname = a.name().to_ascii_lowercase();
            let skip = [
                "o",
                "dc",
                "zimbradomainname",
                "zimbracreatetimestamp",
                "zimbradomainrenameinfo",
            ];
            if skip.contains(&lname.as_str()) || lname.starts_with("dkim") {
                continue;
            }
            for v in a.values() {
                nd.attrs.add(a.name(), v);
            }
        }
        nd.attrs
            .set_one(n::CREATE_TIMESTAMP, self.dir.ids.timestamp.clone());
        nd.attrs.set_one(n::DOMAIN_NAME, new.to_string());
        nd.attrs.set_one("o", format!("{new} domain"));
        nd.attrs
            .set_one("dc", new.labels().next().unwrap_or_default());
        nd.attrs.set_one(n::DOMAIN_STATUS, "active");
        nd.attrs.set_one(n::MAIL_STATUS, "enabled");
        self.dir
            .insert_domain(nd)
            .map(drop)
            .map_err(|e| model_err(self.line, e))?;

        const REWRITTEN: &[&str] = &[
            n::MAIL,
            n::MAIL_ALIAS,
            n::MAIL_FORWARDING_ADDRESS,
            n::MAIL_DELIVERY_ADDRESS,
            n::MAIL_CANONICAL_ADDRESS,
            n::MAIL_CATCH_ALL_ADDRESS,
            n::MAIL_CATCH_ALL_CANONICAL_ADDRESS,
            n::MAIL_CATCH_ALL_FORWARDING_ADDRESS,
            "zimbraPrefAllowAddressForDelegatedSender",
        ];
        let rewrite_bag = |bag: &mut AttrBag| {
            bag.rewrite_values(|name, v| {
                if !REWRITTEN.iter().any(|r| r.eq_ignore_ascii_case(name)) {
                    return None;
                }
                v.as_str()
                    .and_then(|s| rewrite_domain(s, &old, &new))
                    .map(String::into_bytes)
            });
        };
        // RENAME_ENTRIES: accounts, lists, groups of the old domain. The new domain did not
        // exist, so nothing can already hold their new names.
        macro_rules! move_entries {
            ($iter:ident, $remove:ident, $insert:ident) => {{
                let keys: Vec<String> = self
                    .dir
                    .$iter()
                    .filter(|e| e.name.domain() == &old)
                    .map(|e| e.name.key())
                    .collect();
                for k in keys {
                    if let Some(mut e) = self.dir.$remove(&k) {
                        e.name = e.name.with_domain(&new);
                        e.dn = None;
                        rewrite_bag(&mut e.attrs);
                        self.dir
                            .$insert(e)
                            .map(drop)
                            .map_err(|e| model_err(self.line, e))?;
                    }
                }
            }};
        }
        move_entries!(accounts, remove_account, insert_account);
        move_entries!(lists, remove_list, insert_list);
        // the units of a dynamic group (raw entries below it) move with it
        let unit_moves = self.group_unit_moves(&old, &new);
        move_entries!(groups, remove_group, insert_group);
        for e in self.dir.other_entries.iter_mut() {
            let lower = e.dn.to_ascii_lowercase();
            for (from, to) in &unit_moves {
                if let Some(head) = lower.strip_suffix(from.as_str()) {
                    e.dn = format!("{head}{to}");
                    rewrite_bag(&mut e.attrs);
                    break;
                }
            }
        }
        // aliases in the old domain: those of moved entries move; foreign ones are re-created
        let aliases: Vec<String> = self
            .dir
            .aliases()
            .filter(|a| a.name.domain() == &old)
            .map(|a| a.name.key())
            .collect();
        for k in aliases {
            let Some(mut al) = self.dir.remove_alias(&k) else {
                continue;
            };
            let old_addr = al.name.to_string();
            al.name = al.name.with_domain(&new);
            al.dn = None;
            let new_addr = al.name.to_string();
            let target = al
                .attrs
                .first(n::ALIAS_TARGET_ID)
                .unwrap_or_default()
                .to_string();
            // a foreign target still lists the old address: FIX_FOREIGN_ALIASES
            self.retarget_address(&target, &old_addr, &new_addr);
            let _ = self.dir.insert_alias(al);
        }
        // FIX_FOREIGN_DL_MEMBERS
        let list_keys: Vec<String> = self.dir.lists().map(|l| l.name.key()).collect();
        for k in list_keys {
            if let Some(l) = self.dir.list_mut(&k) {
                l.attrs.rewrite_values(|name, v| {
                    if !name.eq_ignore_ascii_case(n::MAIL_FORWARDING_ADDRESS) {
                        return None;
                    }
                    v.as_str()
                        .and_then(|s| rewrite_domain(s, &old, &new))
                        .map(String::into_bytes)
                });
            }
        }
        // global config references
        for attr in ["zimbraDefaultDomainName"] {
            if self.dir.config.attrs.has_value_ci(attr, old.as_str()) {
                self.dir.config.attrs.set_one(attr, new.to_string());
            }
        }
        for attr in [
            "zimbraSpamIsSpamAccount",
            "zimbraSpamIsNotSpamAccount",
            "zimbraAmavisQuarantineAccount",
            "zimbraNotebookAccount",
        ] {
            if let Some(v) = self
                .dir
                .config
                .attrs
                .first(attr)
                .and_then(|v| rewrite_domain(v, &old, &new))
            {
                self.dir.config.attrs.set_one(attr, v);
            }
        }
        Ok(String::new())
    }

    /// Replace `old` by `new` in the `mail`/`zimbraMailAlias` values of the entry with id `target`.
    fn retarget_address(&mut self, target: &str, old: &str, new: &str) {
        let fix = |bag: &mut AttrBag| {
            for attr in [n::MAIL, n::MAIL_ALIAS] {
                if bag.remove_value_ci(attr, old) {
                    bag.add_unique_ci(attr, new);
                }
            }
        };
        let acct = self.dir.account_by_id(target).map(|a| a.name.key());
        if let Some(k) = acct {
            if let Some(a) = self.dir.account_mut(&k) {
                fix(&mut a.attrs);
            }
            return;
        }
        let list = self.dir.list_by_id(target).map(|a| a.name.key());
        if let Some(k) = list {
            if let Some(l) = self.dir.list_mut(&k) {
                fix(&mut l.attrs);
            }
        }
    }

    // ----- COS -----------------------------------------------------------------------------

    fn create_cos(&mut self, name: &str, mods: &[AttrArg]) -> Res<String> {
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() {
            return Err(self.invalid("cos name must not be empty"));
        }
        if self.dir.cos(&name).is_some() {
            return Err(self.err(ErrorCode::CosExists, format!("cos already exists: {name}")));
        }
        let mut cos = Cos::new(&name);
        let mut ocs = vec!["zimbraCOS".to_string()];
        ocs.extend(
            self.dir
                .config
                .attrs
                .strs("zimbraCosExtraObjectClass")
                .iter()
                .map(|s| s.to_string()),
        );
        cos.attrs.set(n::OBJECT_CLASS, ocs);
        cos.attrs.set_one(n::CN, name.clone());
        let mut copied = AttrBag::new();
        if let Some(def) = self.dir.cos("default") {
            for a in def.attrs.iter() {
                let skip = [
                    "objectclass",
                    "zimbraid",
                    "zimbracreatetimestamp",
                    "zimbraace",
                    "cn",
                    "description",
                ];
                let deprecated =
                    attrs::lookup(a.name()).is_some_and(|d| d.deprecated_since.is_some());
                if skip.contains(&a.name().to_ascii_lowercase().as_str()) || deprecated {
                    continue;
                }
                copied.set(a.name(), a.values());
            }
        }
        let mut bag = copied;
        self.modify(
            &mut bag,
            mods,
            ModOpts {
                classes: COS_CLASSES,
                create_exempt: &[n::ZIMBRA_ID],
            },
        )?;
        let id = match bag.first(n::ZIMBRA_ID) {
            Some(id) => id.to_string(),
            None => self.dir.ids.next_id().to_string(),
        };
        bag.remove(n::ZIMBRA_ID);
        cos.attrs.set_one(n::ZIMBRA_ID, id);
        cos.attrs
            .set_one(n::CREATE_TIMESTAMP, self.dir.ids.timestamp.clone());
        merge(&mut cos.attrs, bag);
        self.dir
            .insert_cos(cos)
            .map(drop)
            .map_err(|e| model_err(self.line, e))?;
        Ok(String::new())
    }

    // ----- accounts ------------------------------------------------------------------------

    /// Zimbra's choice of a mail host for a new entry; see the module docs for the rule.
    fn pick_mail_host(&self, addr: &Address, cos_pool: &[String]) -> Option<(String, u16)> {
        let mut servers: Vec<&Server> = self.dir.servers().collect();
        servers.sort_by(|a, b| a.name.cmp(&b.name));
        let pool: Vec<&Server> = servers
            .iter()
            .copied()
            .filter(|s| {
                s.has_mailbox_service()
                    && s.attrs
                        .first(n::ZIMBRA_ID)
                        .is_some_and(|id| cos_pool.iter().any(|p| p.eq_ignore_ascii_case(id)))
            })
            .collect();
        let mailbox: Vec<&Server> = servers
            .iter()
            .copied()
            .filter(|s| s.has_mailbox_service())
            .collect();
        let candidates = if !pool.is_empty() {
            pool
        } else if !mailbox.is_empty() {
            mailbox
        } else {
            servers
        };
        if candidates.is_empty() {
            return None;
        }
        let s = candidates[(fnv1a(&addr.key()) % candidates.len() as u64) as usize];
        Some((
            s.service_hostname().to_string(),
            self.dir.lmtp_port(Some(s)),
        ))
    }

    fn create_account(&mut self, name: &str, password: &str, mods: &[AttrArg]) -> Res<String> {
        let addr = self.parse_new_address(name)?;
        self.local_domain(addr.domain())?;
        self.ensure_free(&addr)?;
        if password.is_empty() {
            // zmprov accepts an empty password argument only to create an account without one
        }
        for forbidden in [n::UID, n::MAIL_ALIAS, n::MAIL_DELIVERY_ADDRESS] {
            if mods.iter().any(|m| m.name.eq_ignore_ascii_case(forbidden)) {
                return Err(
                    self.invalid(format!("invalid attribute for CreateAccount: {forbidden}"))
                );
            }
        }
        let mut bag = AttrBag::new();
        let mut touched = self.modify(
            &mut bag,
            mods,
            ModOpts {
                classes: ACCOUNT_CLASSES,
                create_exempt: &[n::ZIMBRA_ID],
            },
        )?;
        let mut a = Account::new(addr.clone());
        let mut ocs = vec!["inetOrgPerson".to_string(), "zimbraAccount".to_string()];
        ocs.extend(
            self.dir
                .config_attr("zimbraAccountExtraObjectClass")
                .iter()
                .map(|s| s.to_string()),
        );
        a.attrs.set(n::OBJECT_CLASS, ocs);
        let local = addr.local().to_string();
        a.attrs.set_one(n::UID, local.clone());
        a.attrs.set_one(n::MAIL, addr.to_string());
        let id = match bag.first(n::ZIMBRA_ID) {
            Some(id) => id.to_string(),
            None => self.dir.ids.next_id().to_string(),
        };
        bag.remove(n::ZIMBRA_ID);
        a.attrs.set_one(n::ZIMBRA_ID, id);
        a.attrs
            .set_one(n::CREATE_TIMESTAMP, self.dir.ids.timestamp.clone());
        if !bag.contains(n::ACCOUNT_STATUS) {
            bag.set_one(n::ACCOUNT_STATUS, "active");
            touched.names.insert(n::ACCOUNT_STATUS.to_ascii_lowercase());
        }
        self.account_status_callback(&mut bag, &touched)?;
        // mail host and transport
        if !bag.contains(n::MAIL_TRANSPORT) {
            let chosen = match bag.first(n::MAIL_HOST).map(str::to_string) {
                Some(h) => Some(self.mail_host_server(&h)?),
                None => {
                    let pool: Vec<String> = {
                        let probe = {
                            let mut p = Account::new(addr.clone());
                            if let Some(c) = bag.first(n::COS_ID) {
                                p.attrs.set_one(n::COS_ID, c);
                            }
                            p
                        };
                        self.dir
                            .cos_of(&probe)
                            .map(|c| {
                                c.attrs
                                    .strs(n::MAIL_HOST_POOL)
                                    .iter()
                                    .map(|s| s.to_string())
                                    .collect()
                            })
                            .unwrap_or_default()
                    };
                    self.pick_mail_host(&addr, &pool)
                }
            };
            if let Some((host, port)) = chosen {
                bag.set_one(n::MAIL_HOST, host.clone());
                bag.set_one(n::MAIL_TRANSPORT, Transport::lmtp(&host, port).to_string());
            }
        }
        if !(bag.contains(n::MAIL_HOST) || bag.contains(n::MAIL_TRANSPORT)) {
            return Err(
                self.invalid("missing zimbraMailHost or zimbraMailTransport for CreateAccount")
            );
        }
        if !bag.contains(n::MAIL_STATUS) {
            bag.set_one(n::MAIL_STATUS, "enabled");
        }
        a.attrs.set_one(n::MAIL_DELIVERY_ADDRESS, addr.to_string());
        for key in [
            n::ACCOUNT_STATUS,
            n::MAIL_STATUS,
            n::MAIL_HOST,
            n::MAIL_TRANSPORT,
        ] {
            let vals = bag.remove(key);
            a.attrs.set(key, vals);
        }
        let cn = bag
            .first(n::DISPLAY_NAME)
            .map(str::to_string)
            .unwrap_or_else(|| local.clone());
        if !bag.contains(n::CN) {
            a.attrs.set_one(n::CN, cn);
        }
        if !bag.contains(n::SN) {
            a.attrs.set_one(n::SN, local);
        }
        merge(&mut a.attrs, bag);
        self.dir
            .insert_account(a)
            .map(drop)
            .map_err(|e| model_err(self.line, e))?;
        Ok(String::new())
    }

    fn modify_account(&mut self, key: &str, mods: &[AttrArg]) -> Res<String> {
        let old = self
            .dir
            .account(key)
            .map(|a| a.attrs.clone())
            .unwrap_or_default();
        let mut bag = old.clone();
        let touched = self.modify(
            &mut bag,
            mods,
            ModOpts {
                classes: ACCOUNT_CLASSES,
                create_exempt: &[],
            },
        )?;
        self.account_status_callback(&mut bag, &touched)?;
        self.mail_host_callback(&old, &mut bag, &touched)?;
        let closed =
            touched.has(n::ACCOUNT_STATUS) && bag.has_value_ci(n::ACCOUNT_STATUS, "closed");
        if let Some(a) = self.dir.account_mut(key) {
            a.attrs = bag;
        }
        if closed {
            // a closed account's addresses leave every distribution list
            let addrs = self.account_addresses(key);
            self.remove_from_lists(&addrs);
        }
        Ok(String::new())
    }

    fn account_addresses(&self, key: &str) -> Vec<String> {
        let Some(a) = self.dir.account(key) else {
            return Vec::new();
        };
        let mut v = vec![a.name.to_string()];
        v.extend(a.attrs.strs(n::MAIL_ALIAS).iter().map(|s| s.to_string()));
        v
    }

    fn remove_from_lists(&mut self, addrs: &[String]) {
        let keys: Vec<String> = self.dir.lists().map(|l| l.name.key()).collect();
        for k in keys {
            if let Some(l) = self.dir.list_mut(&k) {
                for a in addrs {
                    l.attrs.remove_value_ci(n::MAIL_FORWARDING_ADDRESS, a);
                }
            }
        }
    }

    fn delete_account(&mut self, account: &str) -> Res<String> {
        let key = self.find_account(account)?;
        let addrs = self.account_addresses(&key);
        self.remove_from_lists(&addrs);
        if let Some(id) = self
            .dir
            .account(&key)
            .and_then(|a| a.attrs.first(n::ZIMBRA_ID))
            .map(str::to_string)
        {
            let aliases: Vec<String> = self
                .dir
                .aliases_of(&id)
                .iter()
                .map(|a| a.name.key())
                .collect();
            for al in aliases {
                self.dir.remove_alias(&al);
            }
        }
        self.dir.remove_account(&key);
        Ok(String::new())
    }

    fn rename_account(&mut self, account: &str, new_name: &str) -> Res<String> {
        let key = self.find_account(account)?;
        let new = self.parse_new_address(new_name)?;
        let Some(acct) = self.dir.account(&key) else {
            return Err(self.err(
                ErrorCode::NoSuchAccount,
                format!("no such account: {account}"),
            ));
        };
        let old = acct.name.clone();
        if self.dir.domain(new.domain().as_str()).is_none() {
            return Err(self.err(
                ErrorCode::NoSuchDomain,
                format!("no such domain: {}", new.domain()),
            ));
        }
        let domain_changed = old.domain() != new.domain();
        if domain_changed {
            self.local_domain(new.domain())?;
        }
        if new != old {
            self.ensure_free(&new)?;
        }
        let (od, nd) = (old.domain().clone(), new.domain().clone());
        let rewrite = |v: &str| -> String {
            if v.eq_ignore_ascii_case(&old.to_string()) {
                return new.to_string();
            }
            if domain_changed {
                if let Some(r) = rewrite_domain(v, &od, &nd) {
                    if !r.starts_with('@') {
                        return r;
                    }
                }
            }
            v.to_string()
        };
        let mut a = acct.clone();
        let id = a.attrs.first(n::ZIMBRA_ID).unwrap_or_default().to_string();
        let old_aliases: Vec<String> = a
            .attrs
            .strs(n::MAIL_ALIAS)
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.attrs.set_one(n::MAIL_DELIVERY_ADDRESS, new.to_string());
        if a.attrs
            .has_value_ci("zimbraPrefFromAddress", &old.to_string())
        {
            a.attrs.set_one("zimbraPrefFromAddress", new.to_string());
        }
        for attr in [
            n::MAIL,
            n::MAIL_ALIAS,
            "zimbraPrefAllowAddressForDelegatedSender",
        ] {
            let vals: Vec<String> = a.attrs.strs(attr).iter().map(|v| rewrite(v)).collect();
            if !vals.is_empty() {
                a.attrs.set(attr, vals);
            }
        }
        if !a.attrs.contains(n::MAIL) {
            a.attrs.set_one(n::MAIL, new.to_string());
        }
        if !a.attrs.contains(n::DISPLAY_NAME) && a.attrs.has_value_ci(n::CN, old.local()) {
            a.attrs.set_one(n::CN, new.local());
        }
        a.attrs.set_one(n::UID, new.local());
        a.name = new.clone();
        if a.dn
            .as_deref()
            .is_some_and(|d| d.to_ascii_lowercase().contains("ou=people"))
        {
            a.dn = None;
        }
        // renamed aliases: their alias entries move with the domain
        let mut renamed: Vec<(String, String)> = vec![(old.to_string(), new.to_string())];
        for al in &old_aliases {
            let r = rewrite(al);
            if !r.eq_ignore_ascii_case(al) {
                renamed.push((al.clone(), r));
            }
        }
        for (from, to) in renamed.iter().skip(1) {
            if self.dir.name_in_use(to).is_some() {
                return Err(self.err(
                    ErrorCode::AccountExists,
                    format!("email address already exists: {to}"),
                ));
            }
            let _ = from;
        }
        self.dir.remove_account(&key);
        self.dir
            .insert_account(a)
            .map(drop)
            .map_err(|e| model_err(self.line, e))?;
        for (from, to) in renamed.iter().skip(1) {
            if let Some(mut al) = self.dir.remove_alias(from) {
                if al.attrs.has_value_ci(n::ALIAS_TARGET_ID, &id) {
                    if let Ok(addr) = Address::parse(to) {
                        al.name = addr.clone();
                        al.dn = None;
                        al.attrs.set_one(n::UID, addr.local());
                    }
                }
                let _ = self.dir.insert_alias(al);
            }
        }
        // rename in every distribution list
        let keys: Vec<String> = self.dir.lists().map(|l| l.name.key()).collect();
        for k in keys {
            if let Some(l) = self.dir.list_mut(&k) {
                for (from, to) in &renamed {
                    if l.attrs.remove_value_ci(n::MAIL_FORWARDING_ADDRESS, from) {
                        l.attrs.add_unique_ci(n::MAIL_FORWARDING_ADDRESS, to);
                    }
                }
            }
        }
        Ok(String::new())
    }

    fn add_alias(&mut self, account: &str, alias: &str) -> Res<String> {
        let key = self.find_account(account)?;
        let addr = self.parse_new_address(alias)?;
        if self.dir.domain(addr.domain().as_str()).is_none() {
            return Err(self.err(
                ErrorCode::NoSuchDomain,
                format!("no such domain: {}", addr.domain()),
            ));
        }
        let target_id = self
            .dir
            .account(&key)
            .and_then(|a| a.attrs.first(n::ZIMBRA_ID))
            .unwrap_or_default()
            .to_string();
        match self.dir.name_in_use(&addr.key()) {
            None => {}
            Some(ObjectKind::Alias) => {
                // a dangling alias entry (its target is gone) is replaced
                let dangling = self
                    .dir
                    .alias(&addr.key())
                    .and_then(|a| a.attrs.first(n::ALIAS_TARGET_ID))
                    .is_none_or(|t| {
                        self.dir.account_by_id(t).is_none()
                            && self.dir.list_by_id(t).is_none()
                            && self.dir.group_by_id(t).is_none()
                    });
                if !dangling {
                    return Err(self.err(
                        ErrorCode::AccountExists,
                        format!("email address already exists: {addr}"),
                    ));
                }
                self.dir.remove_alias(&addr.key());
            }
            Some(_) => {
                return Err(self.err(
                    ErrorCode::AccountExists,
                    format!("email address already exists: {addr}"),
                ))
            }
        }
        let mut al = Alias {
            name: addr.clone(),
            dn: None,
            attrs: AttrBag::new(),
        };
        al.attrs.set_one(n::OBJECT_CLASS, "zimbraAlias");
        al.attrs.set_one(n::UID, addr.local());
        let id = self.dir.ids.next_id().to_string();
        al.attrs.set_one(n::ZIMBRA_ID, id);
        al.attrs
            .set_one(n::CREATE_TIMESTAMP, self.dir.ids.timestamp.clone());
        al.attrs.set_one(n::ALIAS_TARGET_ID, target_id);
        self.dir
            .insert_alias(al)
            .map(drop)
            .map_err(|e| model_err(self.line, e))?;
        if let Some(a) = self.dir.account_mut(&key) {
            a.attrs.add_unique_ci(n::MAIL_ALIAS, &addr.to_string());
            a.attrs.add_unique_ci(n::MAIL, &addr.to_string());
        }
        Ok(String::new())
    }

    fn remove_alias(&mut self, account: &str, alias: &str) -> Res<String> {
        let key = self.find_account(account)?;
        let addr = alias.trim().to_ascii_lowercase();
        let target_id = self
            .dir
            .account(&key)
            .and_then(|a| a.attrs.first(n::ZIMBRA_ID))
            .unwrap_or_default()
            .to_string();
        let on_account = self
            .dir
            .account(&key)
            .is_some_and(|a| a.attrs.has_value_ci(n::MAIL_ALIAS, &addr));
        let entry_target = self
            .dir
            .alias(&addr)
            .map(|a| a.attrs.first(n::ALIAS_TARGET_ID).map(str::to_string));
        if !on_account && entry_target.is_none() {
            return Err(self.err(ErrorCode::NoSuchAlias, format!("no such alias: {alias}")));
        }
        if let Some(a) = self.dir.account_mut(&key) {
            a.attrs.remove_value_ci(n::MAIL_ALIAS, &addr);
            a.attrs.remove_value_ci(n::MAIL, &addr);
        }
        let points_elsewhere = match &entry_target {
            Some(Some(t)) if !t.eq_ignore_ascii_case(&target_id) => {
                self.dir.account_by_id(t).is_some() || self.dir.list_by_id(t).is_some()
            }
            _ => false,
        };
        if !points_elsewhere {
            self.remove_from_lists(std::slice::from_ref(&addr));
            if entry_target.is_some() {
                self.dir.remove_alias(&addr);
            }
        }
        if !on_account {
            return Err(self.err(ErrorCode::NoSuchAlias, format!("no such alias: {alias}")));
        }
        Ok(String::new())
    }

    // ----- distribution lists --------------------------------------------------------------

    fn create_list(&mut self, name: &str, mods: &[AttrArg]) -> Res<String> {
        let addr = self.parse_new_address(name)?;
        self.local_domain(addr.domain())?;
        self.ensure_free(&addr)?;
        let mut bag = AttrBag::new();
        let touched = self.modify(
            &mut bag,
            mods,
            ModOpts {
                classes: LIST_CLASSES,
                create_exempt: &[n::ZIMBRA_ID],
            },
        )?;
        let _ = touched;
        let mut l = DistributionList {
            name: addr.clone(),
            dn: None,
            attrs: AttrBag::new(),
        };
        l.attrs.set(
            n::OBJECT_CLASS,
            ["zimbraDistributionList", "zimbraMailRecipient"],
        );
        l.attrs.set_one(n::UID, addr.local());
        l.attrs.set_one(n::MAIL, addr.to_string());
        let id = match bag.first(n::ZIMBRA_ID) {
            Some(id) => id.to_string(),
            None => self.dir.ids.next_id().to_string(),
        };
        bag.remove(n::ZIMBRA_ID);
        l.attrs.set_one(n::ZIMBRA_ID, id);
        l.attrs
            .set_one(n::CREATE_TIMESTAMP, self.dir.ids.timestamp.clone());
        l.attrs.set_one(n::MAIL_ALIAS, addr.to_string());
        if !bag.contains(n::MAIL_STATUS) {
            l.attrs.set_one(n::MAIL_STATUS, "enabled");
        }
        if let Some(dn) = bag.first(n::DISPLAY_NAME).map(str::to_string) {
            l.attrs.set_one(n::CN, dn);
        }
        if !bag.contains(n::MAIL_HOST) {
            if let Some((host, _)) = self.pick_mail_host(&addr, &[]) {
                l.attrs.set_one(n::MAIL_HOST, host);
            }
        }
        merge(&mut l.attrs, bag);
        self.dir
            .insert_list(l)
            .map(drop)
            .map_err(|e| model_err(self.line, e))?;
        Ok(String::new())
    }

    fn add_members(&mut self, list: &str, members: &[String]) -> Res<String> {
        let key = self.find_list(list)?;
        let mut clean = Vec::new();
        for m in members {
            let a = self.parse_new_address(m)?;
            if a.key() == key {
                return Err(self.invalid("Cannot add self as a member"));
            }
            if self.dir.group(&a.key()).is_some() {
                return Err(self.invalid(format!("Cannot add dynamic group as a member: {a}")));
            }
            clean.push(a.to_string());
        }
        if let Some(l) = self.dir.list_mut(&key) {
            for m in clean {
                l.attrs.add_unique_ci(n::MAIL_FORWARDING_ADDRESS, &m);
            }
        }
        Ok(String::new())
    }

    fn remove_members(&mut self, list: &str, members: &[String]) -> Res<String> {
        let key = self.find_list(list)?;
        let lower: Vec<String> = members
            .iter()
            .map(|m| m.trim().to_ascii_lowercase())
            .collect();
        let missing: Vec<&String> = lower
            .iter()
            .filter(|m| {
                !self
                    .dir
                    .list(&key)
                    .is_some_and(|l| l.attrs.has_value_ci(n::MAIL_FORWARDING_ADDRESS, m))
            })
            .collect();
        if !missing.is_empty() {
            let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
            return Err(self.err(
                ErrorCode::NoSuchMember,
                format!("no such member: {}, list: {key}", names.join(",")),
            ));
        }
        if let Some(l) = self.dir.list_mut(&key) {
            for m in &lower {
                l.attrs.remove_value_ci(n::MAIL_FORWARDING_ADDRESS, m);
            }
        }
        Ok(String::new())
    }

    fn delete_list(&mut self, list: &str) -> Res<String> {
        let key = self.find_list(list)?;
        let (addrs, id) = match self.dir.list(&key) {
            Some(l) => {
                let mut v = vec![l.name.to_string()];
                v.extend(l.attrs.strs(n::MAIL_ALIAS).iter().map(|s| s.to_string()));
                (
                    v,
                    l.attrs.first(n::ZIMBRA_ID).unwrap_or_default().to_string(),
                )
            }
            None => (Vec::new(), String::new()),
        };
        self.dir.remove_list(&key);
        self.remove_from_lists(&addrs);
        let aliases: Vec<String> = self
            .dir
            .aliases_of(&id)
            .iter()
            .map(|a| a.name.key())
            .collect();
        for al in aliases {
            self.dir.remove_alias(&al);
        }
        Ok(String::new())
    }
}

/// Append the attributes of `extra` to `bag` (replacing any present).
fn merge(bag: &mut AttrBag, extra: AttrBag) {
    for a in extra.iter() {
        bag.set(a.name(), a.values());
    }
}

/// Print an entry the way `zmprov ga/gd/gc/gs` does: `# name X` and `attr: value` lines,
/// attributes sorted by name; only `only` when given.
fn dump(name: Option<&str>, bag: &AttrBag, only: &[String]) -> String {
    let mut out = String::new();
    if let Some(nm) = name {
        out.push_str(&format!("# name {nm}\n"));
    }
    let mut attrs: Vec<_> = bag
        .iter()
        .filter(|a| only.is_empty() || only.iter().any(|o| o.eq_ignore_ascii_case(a.name())))
        .collect();
    attrs.sort_by_key(|a| a.name().to_ascii_lowercase());
    for a in attrs {
        for v in a.values() {
            out.push_str(&format!("{}: {}\n", a.name(), v.to_string_lossy()));
        }
    }
    out
}

fn model_err(line: usize, e: crate::model::ModelError) -> ZmprovError {
    ZmprovError::new(
        line,
        ErrorCode::InvalidRequest,
        format!("invalid request: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MailRecipient;

    fn setup() -> Directory {
        let mut dir = Directory::new();
        run(
            &mut dir,
            "cs mbx1.example.org zimbraServiceEnabled mailbox
             cs mbx2.example.org zimbraServiceEnabled mailbox
             cs mta.example.org
             cd example.org
             ca alice@example.org pw",
        )
        .unwrap();
        dir
    }

    fn err(dir: &mut Directory, script: &str) -> String {
        run(dir, script).unwrap_err().zmprov_message()
    }

    #[test]
    fn create_server_defaults() {
        let dir = setup();
        let s = dir.server("mbx1.example.org").unwrap();
        assert_eq!(
            s.attrs.first("zimbraServiceHostname"),
            Some("mbx1.example.org")
        );
        assert_eq!(s.attrs.first("cn"), Some("mbx1.example.org"));
        assert!(s.has_mailbox_service());
        let mut dir = dir;
        assert_eq!(
            err(&mut dir, "cs MBX1.example.org"),
            "ERROR: account.SERVER_EXISTS (server already exists: mbx1.example.org)"
        );
    }

    #[test]
    fn modify_server_and_safeguard() {
        let mut dir = setup();
        run(&mut dir, "ms mbx1.example.org +zimbraServiceEnabled mta").unwrap();
        assert_eq!(
            err(&mut dir, "ms mbx1.example.org zimbraServiceEnabled mailbox"),
            "error: cannot replace multi-valued attr value unless -r is specified"
        );
        run(
            &mut dir,
            "zmprov -r ms mbx1.example.org zimbraServiceEnabled mailbox",
        )
        .unwrap();
        assert_eq!(
            dir.server("mbx1.example.org")
                .unwrap()
                .attrs
                .strs("zimbraServiceEnabled"),
            ["mailbox"]
        );
        assert_eq!(
            err(&mut dir, "ms nosuch zimbraMtaRelayHost x"),
            "ERROR: account.NO_SUCH_SERVER (no such server: nosuch)"
        );
        assert_eq!(
            err(&mut dir, "ms mta.example.org zimbraMtaRelayHost a zimbraMtaRelayHost b"),
            "ERROR: service.INVALID_REQUEST (invalid request: zimbraMtaRelayHost can only have one value)"
        );
        let out = run(&mut dir, "gs mta.example.org zimbraServiceHostname").unwrap();
        assert_eq!(
            out,
            "# name mta.example.org\nzimbraServiceHostname: mta.example.org\n"
        );
    }

    #[test]
    fn create_account_fills_what_zimbra_fills() {
        let dir = setup();
        let a = dir.account("alice@example.org").unwrap();
        let host = a.mail_host().unwrap();
        assert!(host == "mbx1.example.org" || host == "mbx2.example.org");
        assert_eq!(
            a.transport().unwrap().unwrap().to_string(),
            format!("lmtp:{host}:7025")
        );
        // deterministic: the same address always lands on the same server
        let again = setup();
        assert_eq!(
            again.account("alice@example.org").unwrap().mail_host(),
            Some(host)
        );
    }

    #[test]
    fn create_account_errors() {
        let mut dir = setup();
        assert_eq!(
            err(&mut dir, "ca alice@example.org pw"),
            "ERROR: account.ACCOUNT_EXISTS (email address already exists: alice@example.org)"
        );
        assert_eq!(
            err(&mut dir, "ca bob@nowhere.org pw"),
            "ERROR: account.NO_SUCH_DOMAIN (no such domain: nowhere.org)"
        );
        assert_eq!(
            err(&mut dir, "ca bob@example.org pw uid bobby"),
            "ERROR: service.INVALID_REQUEST (invalid request: invalid attribute for CreateAccount: uid)"
        );
        assert_eq!(
            err(&mut dir, "ca bob@example.org pw zimbraNoSuchAttr 1"),
            "ERROR: account.INVALID_ATTR_NAME (invalid attr name: zimbraNoSuchAttr)"
        );
        assert!(err(
            &mut dir,
            "ca bob@example.org pw zimbraAccountStatus sleeping"
        )
        .starts_with("ERROR: account.INVALID_ATTR_VALUE (invalid attr value: "));
        run(&mut dir, "cad alias.org example.org").unwrap();
        assert_eq!(
            err(&mut dir, "ca bob@alias.org pw"),
            "ERROR: service.INVALID_REQUEST (invalid request: domain type must be local)"
        );
        let mut bare = Directory::new();
        run(&mut bare, "cd x.org").unwrap();
        assert_eq!(
            err(&mut bare, "ca a@x.org pw"),
            "ERROR: service.INVALID_REQUEST (invalid request: missing zimbraMailHost or zimbraMailTransport for CreateAccount)"
        );
        // with an explicit transport no server is needed
        run(
            &mut bare,
            "ca a@x.org pw zimbraMailTransport smtp:[legacy.x.org]",
        )
        .unwrap();
        assert!(bare.account("a@x.org").unwrap().mail_host().is_none());
    }

    #[test]
    fn create_account_with_mail_host_and_cos_pool() {
        let mut dir = setup();
        run(
            &mut dir,
            "ca bob@example.org pw zimbraMailHost mbx2.example.org",
        )
        .unwrap();
        assert_eq!(
            dir.account("bob@example.org")
                .unwrap()
                .attrs
                .first("zimbraMailTransport"),
            Some("lmtp:mbx2.example.org:7025")
        );
        let id = dir
            .server("mbx1.example.org")
            .unwrap()
            .attrs
            .first("zimbraId")
            .unwrap()
            .to_string();
        run(&mut dir, &format!("cc pooled zimbraMailHostPool {id}")).unwrap();
        let cos_id = dir
            .cos("pooled")
            .unwrap()
            .attrs
            .first("zimbraId")
            .unwrap()
            .to_string();
        for i in 0..8 {
            run(
                &mut dir,
                &format!("ca u{i}@example.org pw zimbraCOSId {cos_id}"),
            )
            .unwrap();
            assert_eq!(
                dir.account(&format!("u{i}@example.org"))
                    .unwrap()
                    .mail_host(),
                Some("mbx1.example.org")
            );
        }
        assert_eq!(
            err(&mut dir, "ca c@example.org pw zimbraMailHost nosuch.example.org"),
            "ERROR: service.INVALID_REQUEST (invalid request: specified zimbraMailHost does not correspond to a valid server service hostname: nosuch.example.org)"
        );
        assert_eq!(
            err(
                &mut dir,
                "ca c@example.org pw zimbraCOSId 00000000-0000-0000-0000-000000000000"
            ),
            "ERROR: account.NO_SUCH_COS (no such cos: 00000000-0000-0000-0000-000000000000)"
        );
    }

    #[test]
    fn account_status_callback() {
        let mut dir = setup();
        for (status, mail) in [
            ("closed", "disabled"),
            ("active", "enabled"),
            ("pending", "disabled"),
            ("maintenance", "enabled"),
            ("locked", "enabled"),
            ("lockout", "enabled"),
        ] {
            run(
                &mut dir,
                &format!("ma alice@example.org zimbraAccountStatus {status}"),
            )
            .unwrap();
            assert_eq!(
                dir.account("alice@example.org")
                    .unwrap()
                    .attrs
                    .first("zimbraMailStatus"),
                Some(mail),
                "{status}"
            );
        }
        // an explicit zimbraMailStatus in the same command wins
        run(
            &mut dir,
            "ma alice@example.org zimbraAccountStatus closed zimbraMailStatus enabled",
        )
        .unwrap();
        assert_eq!(
            dir.account("alice@example.org")
                .unwrap()
                .attrs
                .first("zimbraMailStatus"),
            Some("enabled")
        );
        assert_eq!(
            err(&mut dir, "ma alice@example.org zimbraAccountStatus \"\""),
            "ERROR: service.INVALID_REQUEST (invalid request: zimbraAccountStatus is a required attribute)"
        );
    }

    #[test]
    fn closing_an_account_removes_it_from_lists() {
        let mut dir = setup();
        run(
            &mut dir,
            "cdl all@example.org\nadlm all@example.org alice@example.org x@other.org",
        )
        .unwrap();
        run(&mut dir, "ma alice@example.org zimbraAccountStatus closed").unwrap();
        assert_eq!(
            dir.list("all@example.org")
                .unwrap()
                .attrs
                .strs("zimbraMailForwardingAddress"),
            ["x@other.org"]
        );
    }

    #[test]
    fn mail_host_callback() {
        let mut dir = setup();
        let host = dir
            .account("alice@example.org")
            .unwrap()
            .mail_host()
            .unwrap()
            .to_string();
        let other = if host == "mbx1.example.org" {
            "mbx2.example.org"
        } else {
            "mbx1.example.org"
        };
        run(
            &mut dir,
            &format!("ma alice@example.org zimbraMailHost {other}"),
        )
        .unwrap();
        assert_eq!(
            dir.account("alice@example.org")
                .unwrap()
                .attrs
                .first("zimbraMailTransport"),
            Some(format!("lmtp:{other}:7025").as_str())
        );
        assert_eq!(
            err(&mut dir, &format!("ma alice@example.org zimbraMailHost {host} zimbraMailTransport smtp:x")),
            "ERROR: service.INVALID_REQUEST (invalid request: setting both zimbraMailHost and zimbraMailTransport in the same request is not allowed)"
        );
        // after pointing the transport elsewhere, zimbraMailHost no longer matches it
        run(
            &mut dir,
            "ma alice@example.org zimbraMailTransport smtp:exchange.example.org",
        )
        .unwrap();
        assert!(err(
            &mut dir,
            &format!("ma alice@example.org zimbraMailHost {host}")
        )
        .contains("current value of zimbraMailHost does not match zimbraMailTransport"));
        // the LMTP port comes from the server, inherited from the global config
        run(&mut dir, "ma alice@example.org zimbraMailTransport lmtp:mbx1.example.org:7025\nms mbx2.example.org zimbraLmtpBindPort 7026").unwrap();
        run(
            &mut dir,
            "ma alice@example.org zimbraMailHost mbx1.example.org",
        )
        .unwrap();
        run(
            &mut dir,
            "ma alice@example.org zimbraMailHost mbx2.example.org",
        )
        .unwrap();
        assert_eq!(
            dir.account("alice@example.org")
                .unwrap()
                .attrs
                .first("zimbraMailTransport"),
            Some("lmtp:mbx2.example.org:7026")
        );
    }

    #[test]
    fn attribute_argument_rules() {
        let mut dir = setup();
        run(&mut dir, "ma alice@example.org zimbraMailForwardingAddress a@x.org zimbraMailForwardingAddress b@x.org").unwrap();
        let a = || dir_strs(&dir, "zimbraMailForwardingAddress");
        fn dir_strs(d: &Directory, n: &str) -> Vec<String> {
            d.account("alice@example.org")
                .unwrap()
                .attrs
                .strs(n)
                .iter()
                .map(|s| s.to_string())
                .collect()
        }
        assert_eq!(a(), ["a@x.org", "b@x.org"]);
        run(&mut dir, "ma alice@example.org +zimbraMailForwardingAddress c@x.org +zimbraMailForwardingAddress A@x.org").unwrap();
        assert_eq!(
            dir_strs(&dir, "zimbraMailForwardingAddress"),
            ["a@x.org", "b@x.org", "c@x.org"]
        );
        run(&mut dir, "ma alice@example.org -zimbraMailForwardingAddress b@x.org -zimbraMailForwardingAddress nothere@x.org").unwrap();
        assert_eq!(
            dir_strs(&dir, "zimbraMailForwardingAddress"),
            ["a@x.org", "c@x.org"]
        );
        run(
            &mut dir,
            "ma alice@example.org zimbraMailForwardingAddress ''",
        )
        .unwrap();
        assert!(dir_strs(&dir, "zimbraMailForwardingAddress").is_empty());
        assert_eq!(
            err(&mut dir, "ma alice@example.org zimbraMailForwardingAddress a@x.org +zimbraMailForwardingAddress b@x.org"),
            "ERROR: service.INVALID_REQUEST (invalid request: can't mix +attrName/-attrName with attrName)"
        );
        assert_eq!(
            err(&mut dir, "ma alice@example.org zimbraMailTransport smtp:a zimbraMailTransport smtp:b"),
            "ERROR: account.INVALID_ATTR_VALUE (invalid attr value: zimbraMailTransport is single-valued)"
        );
        assert_eq!(
            err(&mut dir, "ma alice@example.org zimbraMailDeliveryAddress x@example.org"),
            "ERROR: service.INVALID_REQUEST (invalid request: zimbraMailDeliveryAddress is immutable)"
        );
        assert_eq!(
            err(&mut dir, "ma alice@example.org zimbraMtaRelayHost relay.example.org"),
            "ERROR: service.INVALID_REQUEST (invalid request: zimbraMtaRelayHost is not allowed on account)"
        );
        assert!(err(
            &mut dir,
            "ma alice@example.org zimbraPrefMailLocalDeliveryDisabled yes"
        )
        .starts_with("ERROR: account.INVALID_ATTR_VALUE"));
        // attribute names are case-insensitive; the stored name keeps Zimbra's spelling
        run(
            &mut dir,
            "ma alice@example.org ZIMBRAPREFMAILLOCALDELIVERYDISABLED TRUE",
        )
        .unwrap();
        assert!(dir
            .account("alice@example.org")
            .unwrap()
            .local_delivery_disabled());
        assert!(dir
            .account("alice@example.org")
            .unwrap()
            .attrs
            .get("zimbraPrefMailLocalDeliveryDisabled")
            .is_some());
        // a failing command changes nothing
        let before = dir.clone();
        let _ = run(
            &mut dir,
            "ma alice@example.org zimbraMailQuota 5 zimbraAccountStatus bogus",
        );
        assert_eq!(dir, before);
    }

    #[test]
    fn account_lookup_by_alias_id_and_default_domain() {
        let mut dir = setup();
        run(&mut dir, "aaa alice@example.org al@example.org").unwrap();
        let id = dir
            .account("alice@example.org")
            .unwrap()
            .attrs
            .first("zimbraId")
            .unwrap()
            .to_string();
        run(&mut dir, "ma al@example.org zimbraMailQuota 1").unwrap();
        run(&mut dir, &format!("ma {id} zimbraMailQuota 2")).unwrap();
        assert_eq!(
            dir.account("alice@example.org")
                .unwrap()
                .attrs
                .first("zimbraMailQuota"),
            Some("2")
        );
        assert_eq!(
            err(&mut dir, "ma alice zimbraMailQuota 3"),
            "ERROR: account.NO_SUCH_ACCOUNT (no such account: alice)"
        );
        run(
            &mut dir,
            "mcf zimbraDefaultDomainName example.org\nma alice zimbraMailQuota 3",
        )
        .unwrap();
        assert_eq!(
            dir.account("alice@example.org")
                .unwrap()
                .attrs
                .first("zimbraMailQuota"),
            Some("3")
        );
        let out = run(
            &mut dir,
            "ga alice@example.org zimbraMailQuota zimbraMailAlias",
        )
        .unwrap();
        assert_eq!(
            out,
            "# name alice@example.org\nzimbraMailAlias: al@example.org\nzimbraMailQuota: 3\n"
        );
    }

    #[test]
    fn domains_and_alias_domains() {
        let mut dir = setup();
        let d = dir.domain("example.org").unwrap();
        assert_eq!(
            d.attrs.strs("objectClass"),
            ["dcObject", "organization", "zimbraDomain", "amavisAccount"]
        );
        assert_eq!(d.attrs.first("zimbraDomainType"), Some("local"));
        assert_eq!(d.attrs.first("zimbraDomainStatus"), Some("active"));
        assert_eq!(d.attrs.first("zimbraMailStatus"), Some("enabled"));
        assert_eq!(d.attrs.first("o"), Some("example.org domain"));
        assert_eq!(d.attrs.first("dc"), Some("example"));
        assert_eq!(
            err(&mut dir, "cd EXAMPLE.org"),
            "ERROR: account.DOMAIN_EXISTS (domain already exists: example.org)"
        );
        run(&mut dir, "cad alias.org example.org").unwrap();
        let a = dir.domain("alias.org").unwrap();
        assert!(a.is_alias());
        assert_eq!(
            a.attrs.first("zimbraMailCatchAllAddress"),
            Some("@alias.org")
        );
        assert_eq!(
            a.attrs.first("zimbraDomainAliasTargetId"),
            d_id(&dir, "example.org").as_deref()
        );
        // cd with zimbraDomainType alias also sets the catch-all
        run(&mut dir, "cd other-alias.org zimbraDomainType alias").unwrap();
        assert_eq!(
            dir.domain("other-alias.org")
                .unwrap()
                .attrs
                .first("zimbraMailCatchAllAddress"),
            Some("@other-alias.org")
        );
        assert_eq!(
            err(&mut dir, "cad x.org alias.org"),
            "ERROR: service.INVALID_REQUEST (invalid request: target domain must be a local domain)"
        );
        assert_eq!(
            err(&mut dir, "cad x.org nowhere.org"),
            "ERROR: account.NO_SUCH_DOMAIN (no such domain: nowhere.org)"
        );
        assert!(err(
            &mut dir,
            "md example.org zimbraMailCatchAllAddress user@example.org"
        )
        .starts_with("ERROR: account.INVALID_ATTR_VALUE"));
        assert_eq!(
            err(&mut dir, "md example.org zimbraDomainType alias"),
            "ERROR: service.INVALID_REQUEST (invalid request: zimbraDomainType is immutable)"
        );
        // an address in an alias domain names the account in the target domain
        run(&mut dir, "ma alice@alias.org zimbraMailQuota 9").unwrap();
        assert_eq!(
            dir.account("alice@example.org")
                .unwrap()
                .attrs
                .first("zimbraMailQuota"),
            Some("9")
        );
    }

    fn d_id(dir: &Directory, d: &str) -> Option<String> {
        dir.domain(d)
            .and_then(|d| d.attrs.first("zimbraId"))
            .map(str::to_string)
    }

    #[test]
    fn domain_status_callback() {
        let mut dir = setup();
        run(&mut dir, "md example.org zimbraDomainStatus closed").unwrap();
        assert_eq!(
            dir.domain("example.org")
                .unwrap()
                .attrs
                .first("zimbraMailStatus"),
            Some("disabled")
        );
        run(&mut dir, "md example.org zimbraDomainStatus suspended").unwrap();
        assert_eq!(
            dir.domain("example.org")
                .unwrap()
                .attrs
                .first("zimbraMailStatus"),
            Some("disabled")
        );
        run(&mut dir, "md example.org zimbraDomainStatus active").unwrap();
        assert_eq!(
            dir.domain("example.org")
                .unwrap()
                .attrs
                .first("zimbraMailStatus"),
            Some("enabled")
        );
        assert!(
            err(&mut dir, "md example.org zimbraDomainStatus shutdown").contains("internal status")
        );
        let out = run(&mut dir, "gd example.org zimbraDomainStatus").unwrap();
        assert_eq!(out, "# name example.org\nzimbraDomainStatus: active\n");
    }

    #[test]
    fn delete_domain() {
        let mut dir = setup();
        run(&mut dir, "cad alias.org example.org").unwrap();
        assert_eq!(
            err(&mut dir, "dd example.org"),
            "ERROR: account.DOMAIN_NOT_EMPTY (domain not empty: example.org (remaining entries: [uid=alice,ou=people,dc=example,dc=org] ...))"
        );
        run(&mut dir, "da alice@example.org\ndd example.org").unwrap();
        assert!(dir.domain("example.org").is_none());
        assert!(
            dir.domain("alias.org").is_none(),
            "alias domains go with their target"
        );
        assert_eq!(
            err(&mut dir, "dd example.org"),
            "ERROR: account.NO_SUCH_DOMAIN (no such domain: example.org)"
        );
    }

    #[test]
    fn cos_commands() {
        let mut dir = setup();
        run(&mut dir, "cc Gold zimbraMailQuota 1000").unwrap();
        let c = dir.cos("gold").unwrap();
        assert_eq!(c.attrs.first("zimbraMailQuota"), Some("1000"));
        assert_eq!(
            c.attrs.first("zimbraFeatureMailForwardingEnabled"),
            Some("TRUE")
        );
        assert_eq!(
            err(&mut dir, "cc gold"),
            "ERROR: account.COS_EXISTS (cos already exists: gold)"
        );
        run(&mut dir, "mc gold zimbraMailQuota 2000").unwrap();
        assert_eq!(
            run(&mut dir, "gc gold zimbraMailQuota").unwrap(),
            "# name gold\nzimbraMailQuota: 2000\n"
        );
        assert_eq!(
            err(&mut dir, "mc nosuch zimbraMailQuota 1"),
            "ERROR: account.NO_SUCH_COS (no such cos: nosuch)"
        );
        let id = dir
            .cos("gold")
            .unwrap()
            .attrs
            .first("zimbraId")
            .unwrap()
            .to_string();
        run(&mut dir, &format!("ma alice@example.org zimbraCOSId {id}")).unwrap();
        let a = dir.account("alice@example.org").unwrap();
        assert_eq!(dir.account_attr(a, "zimbraMailQuota"), vec!["2000"]);
    }

    #[test]
    fn config_commands() {
        let mut dir = setup();
        run(
            &mut dir,
            "mcf zimbraMtaRelayHost relay.example.org zimbraMtaDnsLookupsEnabled FALSE",
        )
        .unwrap();
        assert_eq!(
            run(&mut dir, "gcf zimbraMtaRelayHost").unwrap(),
            "zimbraMtaRelayHost: relay.example.org\n"
        );
        assert_eq!(
            run(&mut dir, "gcf zimbraMtaDnsLookupsEnabled").unwrap(),
            "zimbraMtaDnsLookupsEnabled: FALSE\n"
        );
        assert_eq!(
            err(&mut dir, "gcf zimbraBogus"),
            "ERROR: account.INVALID_ATTR_NAME (invalid attr name: zimbraBogus)"
        );
        assert_eq!(
            err(&mut dir, "mcf zimbraMailHost x"),
            "ERROR: service.INVALID_REQUEST (invalid request: zimbraMailHost is not allowed on globalConfig)"
        );
    }

    #[test]
    fn aliases_add_remove() {
        let mut dir = setup();
        run(&mut dir, "aaa alice@example.org Al@Example.org").unwrap();
        let a = dir.account("alice@example.org").unwrap();
        assert_eq!(a.attrs.strs("zimbraMailAlias"), ["al@example.org"]);
        assert_eq!(
            a.attrs.strs("mail"),
            ["alice@example.org", "al@example.org"]
        );
        let al = dir.alias("al@example.org").unwrap();
        assert_eq!(
            al.attrs.first("zimbraAliasTargetId"),
            a.attrs.first("zimbraId")
        );
        assert_eq!(al.attrs.strs("objectClass"), ["zimbraAlias"]);
        assert_eq!(
            err(&mut dir, "aaa alice@example.org al@example.org"),
            "ERROR: account.ACCOUNT_EXISTS (email address already exists: al@example.org)"
        );
        assert_eq!(
            err(&mut dir, "aaa alice@example.org al@nowhere.org"),
            "ERROR: account.NO_SUCH_DOMAIN (no such domain: nowhere.org)"
        );
        run(&mut dir, "raa alice@example.org al@example.org").unwrap();
        assert!(dir.alias("al@example.org").is_none());
        assert!(dir
            .account("alice@example.org")
            .unwrap()
            .attrs
            .strs("zimbraMailAlias")
            .is_empty());
        assert_eq!(
            err(&mut dir, "raa alice@example.org al@example.org"),
            "ERROR: account.NO_SUCH_ALIAS (no such alias: al@example.org)"
        );
        // a dangling alias entry is replaced
        run(
            &mut dir,
            "ca bob@example.org pw\naaa bob@example.org b@example.org\nda bob@example.org",
        )
        .unwrap();
        assert!(
            dir.alias("b@example.org").is_none(),
            "da removes the account's aliases"
        );
    }

    #[test]
    fn rename_account() {
        let mut dir = setup();
        run(&mut dir, "cd other.org\naaa alice@example.org al@example.org\ncdl l@example.org\nadlm l@example.org alice@example.org al@example.org").unwrap();
        run(&mut dir, "ra alice@example.org alicia@other.org").unwrap();
        let a = dir.account("alicia@other.org").unwrap();
        assert_eq!(a.attrs.first("uid"), Some("alicia"));
        assert_eq!(a.attrs.strs("zimbraMailAlias"), ["al@other.org"]);
        assert_eq!(a.attrs.strs("mail"), ["alicia@other.org", "al@other.org"]);
        assert!(dir.alias("al@other.org").is_some());
        assert_eq!(
            dir.list("l@example.org")
                .unwrap()
                .attrs
                .strs("zimbraMailForwardingAddress"),
            ["alicia@other.org", "al@other.org"]
        );
        assert_eq!(
            err(&mut dir, "ra alicia@other.org x@nowhere.org"),
            "ERROR: account.NO_SUCH_DOMAIN (no such domain: nowhere.org)"
        );
        run(&mut dir, "ca bob@other.org pw").unwrap();
        assert_eq!(
            err(&mut dir, "ra alicia@other.org bob@other.org"),
            "ERROR: account.ACCOUNT_EXISTS (email address already exists: bob@other.org)"
        );
    }

    #[test]
    fn distribution_lists() {
        let mut dir = setup();
        run(&mut dir, "cdl team@example.org").unwrap();
        let l = dir.list("team@example.org").unwrap();
        assert_eq!(
            l.attrs.strs("objectClass"),
            ["zimbraDistributionList", "zimbraMailRecipient"]
        );
        assert_eq!(l.attrs.first("zimbraMailAlias"), Some("team@example.org"));
        assert_eq!(l.attrs.first("zimbraMailStatus"), Some("enabled"));
        assert!(l.attrs.first("zimbraMailTransport").is_none());
        assert_eq!(
            err(&mut dir, "cdl alice@example.org"),
            "ERROR: account.ACCOUNT_EXISTS (email address already exists: alice@example.org)"
        );
        assert_eq!(
            err(&mut dir, "ca team@example.org pw"),
            "ERROR: account.DISTRIBUTION_LIST_EXISTS (email address already exists: team@example.org)"
        );
        run(
            &mut dir,
            "adlm team@example.org alice@example.org Ext@Other.org alice@example.org",
        )
        .unwrap();
        assert_eq!(
            dir.list("team@example.org")
                .unwrap()
                .members()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            err(&mut dir, "adlm team@example.org team@example.org"),
            "ERROR: service.INVALID_REQUEST (invalid request: Cannot add self as a member)"
        );
        assert_eq!(
            err(&mut dir, "rdlm team@example.org nobody@example.org"),
            "ERROR: account.NO_SUCH_MEMBER (no such member: nobody@example.org, list: team@example.org)"
        );
        run(&mut dir, "rdlm team@example.org ext@other.org").unwrap();
        assert_eq!(
            dir.list("team@example.org")
                .unwrap()
                .attrs
                .strs("zimbraMailForwardingAddress"),
            ["alice@example.org"]
        );
        assert_eq!(
            err(&mut dir, "adlm nolist@example.org a@b.org"),
            "ERROR: account.NO_SUCH_DISTRIBUTION_LIST (no such distribution list: nolist@example.org)"
        );
        run(&mut dir, "ddl team@example.org").unwrap();
        assert!(dir.list("team@example.org").is_none());
    }

    #[test]
    fn rename_domain_rewrites_foreign_aliases_and_lists() {
        let mut dir = setup();
        run(
            &mut dir,
            "cd other.org\nca bob@other.org pw\naaa bob@other.org bob@example.org\ncdl l@other.org\nadlm l@other.org alice@example.org\nmcf zimbraDefaultDomainName example.org",
        )
        .unwrap();
        let id = d_id(&dir, "example.org");
        run(&mut dir, "-l rd example.org new.org").unwrap();
        assert_eq!(
            d_id(&dir, "new.org"),
            id,
            "the new domain keeps the old zimbraId"
        );
        assert!(dir.account("alice@new.org").is_some());
        let bob = dir.account("bob@other.org").unwrap();
        assert_eq!(bob.attrs.strs("zimbraMailAlias"), ["bob@new.org"]);
        assert!(dir.alias("bob@new.org").is_some());
        assert_eq!(
            dir.list("l@other.org")
                .unwrap()
                .attrs
                .strs("zimbraMailForwardingAddress"),
            ["alice@new.org"]
        );
        assert_eq!(
            dir.config.attrs.first("zimbraDefaultDomainName"),
            Some("new.org")
        );
    }

    #[test]
    fn a_dynamic_unit_address_is_taken() {
        let mut dir = setup();
        run(&mut dir, "cddl team@example.org").unwrap();
        assert_eq!(
            err(&mut dir, "ca team.__internal__@example.org pw"),
            "ERROR: account.ACCOUNT_EXISTS (email address already exists: team.__internal__@example.org)"
        );
        assert_eq!(
            err(&mut dir, "cdl TEAM.__internal__@example.org"),
            "ERROR: account.ACCOUNT_EXISTS (email address already exists: team.__internal__@example.org)"
        );
    }

    #[test]
    fn unknown_commands_and_usage() {
        let mut dir = setup();
        assert_eq!(err(&mut dir, "xyz a"), "Unknown command: xyz");
        assert_eq!(
            err(&mut dir, "ra a@example.org"),
            "usage:  renameAccount(ra) {name@domain|id} {newName@domain}"
        );
        assert_eq!(run(&mut dir, "# only a comment\n\n   \n").unwrap(), "");
    }

    #[test]
    fn rewrite_domain_helper() {
        let (o, nw): (DomainName, DomainName) =
            ("a.org".parse().unwrap(), "b.org".parse().unwrap());
        assert_eq!(
            rewrite_domain("x@A.org", &o, &nw).as_deref(),
            Some("x@b.org")
        );
        assert_eq!(rewrite_domain("@a.org", &o, &nw).as_deref(), Some("@b.org"));
        assert_eq!(rewrite_domain("x@c.org", &o, &nw), None);
        assert_eq!(rewrite_domain("x@sub.a.org", &o, &nw), None);
    }
}
