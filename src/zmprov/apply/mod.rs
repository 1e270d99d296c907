//! Applying zmprov commands to a [`Directory`] with Zimbra's semantics.
//!
//! One path serves every kind of entry ([`kinds`]: the table of what differs between
//! accounts, domains, classes of service, servers, lists and dynamic groups, and the generic
//! find, get, modify and create skeleton); the files next to it hold what is particular to a
//! kind. Look-ups by alias, id or address go through an index ([`index`]) kept for the whole
//! script, so a script costs time linear in its commands and in the values they name.

use crate::model::{names as n, Address, AttrBag, Directory, DomainName, ObjectKind};

use super::{parse_script, Command, ErrorCode, ScriptLine, ZmprovError};

mod accounts;
mod domains;
mod dynamic;
mod index;
mod kinds;
#[cfg(test)]
mod linear_tests;
mod lists;
mod modify;
mod servers;
#[cfg(test)]
mod tests;

use index::{Index, Ref, Term};
use kinds::{ACCOUNT, CONFIG_CLASSES, COS, DOMAIN, SERVER};
use modify::ModOpts;

type Res<T> = Result<T, ZmprovError>;

/// Parse and apply a whole script; returns what the `g*` commands printed.
///
/// Commands are applied in order; the first failing command stops the script (the directory
/// keeps the effects of the commands before it, as a real zmprov run would).
///
/// ```
/// use zimbra_prov::model::Directory;
/// use zimbra_prov::zmprov;
/// let mut dir = Directory::new();
/// let out = zmprov::run(&mut dir, "cd example.org\ngd example.org zimbraDomainType").unwrap();
/// assert_eq!(out, "# name example.org\nzimbraDomainType: local\n");
/// let err = zmprov::run(&mut dir, "cd example.org").unwrap_err();
/// assert_eq!(err.line(), 1);
/// assert_eq!(err.code(), zmprov::ErrorCode::DomainExists);
/// ```
pub fn run(dir: &mut Directory, script: &str) -> Res<String> {
    let lines = parse_script(script)?;
    apply_script(dir, &lines)
}

/// Apply parsed script lines in order; returns what the `g*` commands printed.
pub fn apply_script(dir: &mut Directory, lines: &[ScriptLine]) -> Res<String> {
    let mut cx = Cx::new(dir);
    let mut out = String::new();
    for l in lines {
        out.push_str(&cx.apply(l)?);
    }
    Ok(out)
}

/// Apply one command; returns what it printed (only `g*` commands print).
pub fn apply(dir: &mut Directory, l: &ScriptLine) -> Res<String> {
    Cx::new(dir).apply(l)
}

/// The interpreter's state for one script: the directory and the look-up index.
struct Cx<'a> {
    dir: &'a mut Directory,
    line: usize,
    replace_flag: bool,
    /// Built on first use; kept up to date by the store operations in [`kinds`].
    index: Option<Index>,
}

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

impl<'a> Cx<'a> {
    fn new(dir: &'a mut Directory) -> Self {
        Cx {
            dir,
            line: 0,
            replace_flag: false,
            index: None,
        }
    }

    fn apply(&mut self, l: &ScriptLine) -> Res<String> {
        self.line = l.line;
        self.replace_flag = l.replace;
        let out = self.exec(&l.command, l.ldap);
        if out.is_ok()
            && matches!(
                l.command,
                Command::CreateAccount { .. }
                    | Command::RenameAccount { .. }
                    | Command::AddAccountAlias { .. }
                    | Command::CreateDistributionList { .. }
                    | Command::CreateDynamicGroup { .. }
            )
        {
            self.drop_external_members_now_internal();
        }
        self.check_index();
        out
    }

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
            Command::ModifyServer { server, attrs } => self.modify_cmd(&SERVER, server, attrs),
            Command::GetServer { server, attrs } => self.get_cmd(&SERVER, server, attrs),
            Command::CreateDomain { name, attrs } => self.create_domain(name, attrs, None),
            Command::CreateAliasDomain {
                alias,
                target,
                attrs,
            } => self.create_alias_domain(alias, target, attrs),
            Command::ModifyDomain { domain, attrs } => self.modify_cmd(&DOMAIN, domain, attrs),
            Command::GetDomain { domain, attrs } => self.get_cmd(&DOMAIN, domain, attrs),
            Command::DeleteDomain { domain } => self.delete_domain(domain),
            Command::RenameDomain { domain, new_name } => {
                if !ldap {
                    return Err(self.invalid("can only be used with \"zmprov -l/--ldap\""));
                }
                self.rename_domain(domain, new_name)
            }
            Command::CreateCos { name, attrs } => self.create_cos(name, attrs),
            Command::ModifyCos { cos, attrs } => self.modify_cmd(&COS, cos, attrs),
            Command::GetCos { cos, attrs } => self.get_cmd(&COS, cos, attrs),
            Command::CreateAccount {
                name,
                password,
                attrs,
            } => self.create_account(name, password, attrs),
            Command::ModifyAccount { account, attrs } => self.modify_cmd(&ACCOUNT, account, attrs),
            Command::GetAccount { account, attrs } => self.get_cmd(&ACCOUNT, account, attrs),
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
                let def = crate::attrs::lookup(attr).ok_or_else(|| {
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

    // ----- names ---------------------------------------------------------------------------

    /// A bare name with the default domain (`zimbraDefaultDomainName`), lower-cased.
    fn qualify(&self, name: &str) -> String {
        if name.contains('@') {
            return name.to_ascii_lowercase();
        }
        match self.dir.config.attrs.first("zimbraDefaultDomainName") {
            Some(d) => format!("{}@{}", name, d).to_ascii_lowercase(),
            None => name.to_ascii_lowercase(),
        }
    }

    fn parse_new_address(&self, name: &str) -> Res<Address> {
        let lower = name.trim().to_ascii_lowercase();
        Address::parse(&lower).map_err(|e| self.invalid(format!("invalid email address: {e}")))
    }

    /// The address of a new account, list or group: valid, in an existing local domain, free.
    fn new_address(&self, name: &str) -> Res<Address> {
        let addr = self.parse_new_address(name)?;
        self.local_domain(addr.domain())?;
        self.ensure_free(&addr)?;
        Ok(addr)
    }

    fn local_domain(&self, d: &DomainName) -> Res<()> {
        match self.dir.domain(d.as_str()) {
            None => Err(self.err(ErrorCode::NoSuchDomain, format!("no such domain: {d}"))),
            Some(dom) if dom.is_alias() => Err(self.invalid("domain type must be local")),
            Some(_) => Ok(()),
        }
    }

    /// Whether a raw entry (a dynamic group's unit) holds `addr` as its `mail`.
    fn raw_mail_taken(&self, addr: &str) -> bool {
        match &self.index {
            Some(idx) => idx.get(Term::Mail, addr).any(|r| matches!(r, Ref::Raw(_))),
            None => self
                .dir
                .other_entries
                .iter()
                .any(|e| e.attrs.has_value_ci(n::MAIL, addr)),
        }
    }

    fn ensure_free(&self, addr: &Address) -> Res<()> {
        let taken = |code| Err(self.err(code, format!("email address already exists: {addr}")));
        match self.dir.name_in_use(&addr.key()) {
            // Zimbra's LDAP refuses a second entry with the same `mail` anywhere in the tree
            // (unique overlay); the raw entries include dynamic groups' units
            None if self.raw_mail_taken(&addr.key()) => taken(ErrorCode::AccountExists),
            None => Ok(()),
            Some(ObjectKind::DistributionList) => taken(ErrorCode::DistributionListExists),
            Some(_) => taken(ErrorCode::AccountExists),
        }
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
