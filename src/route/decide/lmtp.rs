//! What Zimbra's LMTP server answers for one recipient (the mailbox server, not Postfix).

use super::outcome::{LmtpReply, Stage, Step};
use super::syntax::split_addr;
use super::ZimbraMta;
use crate::model::{names as n, AccountStatus};

impl ZimbraMta {
    /// What Zimbra's LMTP server on `host` answers for `rcpt` (`ZimbraLmtpBackend`): unknown →
    /// `550 5.1.1 No such user here`; `maintenance` → `450 4.2.1 Mailbox disabled, not accepting
    /// messages`; mailbox on another server → delivered there if that server exists, else
    /// `450 4.2.0 Mailbox is not on this server`; `closed`/`pending`/no status → `550 5.1.1`;
    /// `active`/`locked`/`lockout` → accepted. Aliases and alias domains resolve to the account.
    pub fn lmtp(&self, host: &str, rcpt: &str) -> (LmtpReply, Step) {
        let key = rcpt.to_ascii_lowercase();
        let mut found = self.index.lmtp.get(key.as_str());
        if found.is_none() {
            let (local, domain) = split_addr(&key);
            if let Some(target) = self.index.alias_domains.get(domain) {
                found = self.index.lmtp.get(format!("{local}@{target}").as_str());
            }
        }
        let perm = |dsn: &str, reply: &str| LmtpReply::Permanent {
            dsn: dsn.into(),
            reply: reply.into(),
        };
        let temp = |dsn: &str, reply: &str| LmtpReply::Temporary {
            dsn: dsn.into(),
            reply: reply.into(),
        };
        let Some(acct) = found else {
            return (
                perm("5.1.1", "550 5.1.1 No such user here"),
                Step::new(Stage::Lmtp, format!("{host}: no account {rcpt}")),
            );
        };
        let step = |text: String| {
            let mut s = Step::new(Stage::Lmtp, text);
            s.attr = Some(n::ACCOUNT_STATUS);
            s.entry = Some(acct.name.to_string());
            s
        };
        let status = acct.status;
        if status == Some(AccountStatus::Maintenance) {
            return (
                temp(
                    "4.2.1",
                    "450 4.2.1 Mailbox disabled, not accepting messages",
                ),
                step(format!("{host}: account {} is in maintenance", acct.name)),
            );
        }
        let mut at = host.to_string();
        if let Some(mh) = &acct.mail_host {
            if !mh.eq_ignore_ascii_case(host) {
                if self.index.has_server(mh) {
                    at = mh.to_string();
                } else {
                    return (
                        temp("4.2.0", "450 4.2.0 Mailbox is not on this server"),
                        step(format!("{host}: mailbox of {} is on {mh}", acct.name)),
                    );
                }
            }
        }
        match status {
            Some(AccountStatus::Active | AccountStatus::Locked | AccountStatus::Lockout) => (
                LmtpReply::Accepted {
                    host: at.clone(),
                    mailbox: acct.name.to_string(),
                },
                step(format!(
                    "{at}: 250 2.1.5 delivered to mailbox {} (status {})",
                    acct.name,
                    status.map(|s| s.to_string()).unwrap_or_default()
                )),
            ),
            other => (
                perm("5.1.1", "550 5.1.1 No such user here"),
                step(format!(
                    "{host}: account {} has status {}",
                    acct.name,
                    other
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "(none)".into())
                )),
            ),
        }
    }
}
