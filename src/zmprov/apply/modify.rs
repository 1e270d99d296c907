//! The attribute arguments of every command (`attr value`, `+attr value`, `-attr value`),
//! checked against the catalog, and the callbacks Zimbra runs when some attributes change.
//!
//! Linear in the number of values given and present: values are deduplicated and added or
//! removed through hash sets, a run of `+attr` (or `-attr`) arguments in one pass.

use std::collections::BTreeSet;

use crate::attrs;
use crate::model::hash::{FxMap, FxSet};
use crate::model::{names as n, AccountStatus, AttrBag, Server, Transport};
use crate::zmprov::{AttrArg, AttrOp, ErrorCode};

use super::{Cx, Res};

/// Which checks a modification runs.
#[derive(Clone, Copy)]
pub(super) struct ModOpts<'c> {
    /// Zimbra classes of the entry, for the "allowed on this entry" check.
    pub(super) classes: &'c [&'c str],
    /// Immutable attributes that a create command may still set.
    pub(super) create_exempt: &'c [&'c str],
}

/// What a modification set, for the callbacks.
#[derive(Default)]
pub(super) struct Touched {
    pub(super) names: BTreeSet<String>,
}

impl Touched {
    pub(super) fn has(&self, name: &str) -> bool {
        self.names.contains(&name.to_ascii_lowercase())
    }
}

const SAFEGUARDED: &[&str] = &["zimbraServiceEnabled", "zimbraServiceInstalled"];

impl Cx<'_> {
    pub(super) fn modify(
        &self,
        bag: &mut AttrBag,
        mods: &[AttrArg],
        opts: ModOpts<'_>,
    ) -> Res<Touched> {
        // group by attribute (case-insensitive), keeping first-seen order
        let mut groups: Vec<(&'static attrs::AttrDef, Vec<&AttrArg>)> = Vec::new();
        let mut group_of: FxMap<&'static str, usize> = FxMap::default();
        for m in mods {
            let def = attrs::lookup(&m.name).ok_or_else(|| {
                self.err(
                    ErrorCode::InvalidAttrName,
                    format!("invalid attr name: {}", m.name),
                )
            })?;
            match group_of.get(def.name) {
                Some(&i) => {
                    if let Some((_, v)) = groups.get_mut(i) {
                        v.push(m);
                    }
                }
                None => {
                    group_of.insert(def.name, groups.len());
                    groups.push((def, vec![m]));
                }
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
                let values = args
                    .iter()
                    .map(|a| a.value.as_str())
                    .filter(|v| !v.is_empty());
                if SAFEGUARDED.iter().any(|s| s.eq_ignore_ascii_case(def.name))
                    && !self.replace_flag
                    && next.values(def.name).len() > 1
                    && values.clone().next().is_some()
                {
                    return Err(self.err(
                        ErrorCode::Refused,
                        "error: cannot replace multi-valued attr value unless -r is specified",
                    ));
                }
                let mut seen: FxSet<String> = FxSet::default();
                let uniq: Vec<&str> = values
                    .filter(|v| seen.insert(v.to_ascii_lowercase()))
                    .collect();
                if def.is_single_valued() && uniq.len() > 1 {
                    return Err(self.err(
                        ErrorCode::InvalidAttrValue,
                        format!("invalid attr value: {} is single-valued", def.name),
                    ));
                }
                let stored_name = next.get(def.name).map(|a| a.name().to_string());
                next.set(stored_name.as_deref().unwrap_or(def.name), uniq);
            } else {
                // runs of adds and of removes, in order, each in one pass
                let given: Vec<&AttrArg> = args
                    .iter()
                    .copied()
                    .filter(|a| !a.value.is_empty())
                    .collect();
                for run in given.chunk_by(|a, b| a.op == b.op) {
                    let values = run.iter().map(|a| a.value.as_str());
                    match run.first().map(|a| a.op) {
                        Some(AttrOp::Add) => {
                            next.add_all_unique_ci(def.name, values);
                        }
                        Some(AttrOp::Remove) => {
                            next.remove_values_ci(def.name, values);
                        }
                        _ => {}
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

    pub(super) fn check_relay_host(&self, bag: &AttrBag, touched: &Touched) -> Res<()> {
        if touched.has(n::MTA_RELAY_HOST) && bag.values(n::MTA_RELAY_HOST).len() > 1 {
            return Err(self.invalid("zimbraMtaRelayHost can only have one value"));
        }
        Ok(())
    }

    /// The AccountStatus callback.
    pub(super) fn account_status_callback(&self, bag: &mut AttrBag, touched: &Touched) -> Res<()> {
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
    pub(super) fn mail_host_server(&self, host: &str) -> Res<(String, u16)> {
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
    pub(super) fn mail_host_callback(
        &self,
        old: &AttrBag,
        bag: &mut AttrBag,
        touched: &Touched,
    ) -> Res<()> {
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

    pub(super) fn domain_status_callback(
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
}
