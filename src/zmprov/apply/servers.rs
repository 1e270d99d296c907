//! Servers and classes of service (`cs`, `cc`), and the choice of a mail host for new
//! accounts and lists.

use crate::attrs;
use crate::model::{names as n, Address, AttrBag, Cos, Server};
use crate::zmprov::{AttrArg, ErrorCode};

use super::kinds::{COS, SERVER};
use super::modify::ModOpts;
use super::{fnv1a, merge, Cx, Res};

/// What `cc` does not copy from the `default` COS.
const COS_NOT_COPIED: [&str; 6] = [
    "objectclass",
    "zimbraid",
    "zimbracreatetimestamp",
    "zimbraace",
    "cn",
    "description",
];

impl Cx<'_> {
    pub(super) fn create_server(&mut self, name: &str, mods: &[AttrArg]) -> Res<String> {
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
        let (bag, _) = self.create_attrs(&SERVER, mods)?;
        let mut s = Server::new(&name);
        s.attrs = self.skeleton(&SERVER, &[(n::CN, &name)], &bag);
        if !bag.contains(n::SERVICE_HOSTNAME) {
            s.attrs.set_one(n::SERVICE_HOSTNAME, &name);
        }
        merge(&mut s.attrs, bag);
        self.put(s)?;
        Ok(String::new())
    }

    pub(super) fn create_cos(&mut self, name: &str, mods: &[AttrArg]) -> Res<String> {
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() {
            return Err(self.invalid("cos name must not be empty"));
        }
        if self.dir.cos(&name).is_some() {
            return Err(self.err(ErrorCode::CosExists, format!("cos already exists: {name}")));
        }
        // a new COS starts as a copy of `default`
        let mut bag = AttrBag::new();
        if let Some(def) = self.dir.cos("default") {
            for a in def.attrs.iter() {
                let deprecated =
                    attrs::lookup(a.name()).is_some_and(|d| d.deprecated_since.is_some());
                if COS_NOT_COPIED.contains(&a.name().to_ascii_lowercase().as_str()) || deprecated {
                    continue;
                }
                bag.set(a.name(), a.values());
            }
        }
        self.modify(
            &mut bag,
            mods,
            ModOpts {
                classes: COS.classes,
                create_exempt: &[n::ZIMBRA_ID],
            },
        )?;
        let mut cos = Cos::new(&name);
        cos.attrs = self.skeleton(&COS, &[(n::CN, &name)], &bag);
        bag.remove(n::ZIMBRA_ID);
        merge(&mut cos.attrs, bag);
        self.put(cos)?;
        Ok(String::new())
    }

    /// Zimbra's choice of a mail host for a new entry; see the module docs for the rule.
    pub(super) fn pick_mail_host(
        &self,
        addr: &Address,
        cos_pool: &[String],
    ) -> Option<(String, u16)> {
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
        let s = candidates.get((fnv1a(&addr.key()) % candidates.len().max(1) as u64) as usize)?;
        Some((
            s.service_hostname().to_string(),
            self.dir.lmtp_port(Some(s)),
        ))
    }
}
