//! Stage 2: the SMTP server's checks at `RCPT TO` (SMTP arrivals only), in Postfix's order:
//! the address syntax check, `smtpd_relay_restrictions` (evaluated before the recipient
//! restrictions, `smtpd_relay_before_recipient_restrictions = yes`), then
//! `smtpd_recipient_restrictions` as zmconfigd writes them.

use super::lookup::{lower_into, Query};
use super::outcome::{Stage, Step};
use super::syntax::{self, split_addr};
use super::{Arrival, Class, Rec, ZimbraMta};
use crate::route::index::{Hit, MatchAttr};

/// smtpd's `smtpd_dsn_fix` for a recipient: an address status `X.1.Y` names the recipient
/// (`X.1.7`/`X.1.8`, sender statuses, become `X.1.3`/`X.1.2`; unknown ones `X.1.0`); the
/// class follows the reply code.
fn rcpt_dsn(code: u16, dsn: &str) -> String {
    let class = if code >= 500 { '5' } else { '4' };
    let rest = match dsn.get(1..4) {
        Some(".1.") => match &dsn[4..] {
            "1" | "2" | "3" | "4" | "5" | "6" => format!(".1.{}", &dsn[4..]),
            "7" => ".1.3".into(),
            "8" => ".1.2".into(),
            _ => ".1.0".into(),
        },
        _ => dsn.get(1..).unwrap_or("").to_string(),
    };
    format!("{class}{rest}")
}

impl ZimbraMta {
    /// The SMTP reply refusing `RCPT TO:<given>` (`given` is the address as smtpd holds it:
    /// internal form, not rewritten), or `None` when it is accepted. `addr` is the standard
    /// form the other checks resolve.
    pub(super) fn rcpt_check(
        &self,
        given: &str,
        addr: &str,
        arrival: Arrival,
        rec: &mut Rec<'_>,
        buf: &mut String,
    ) -> Option<String> {
        // smtpd_check_addr: an address the resolver flags (bad domain, leading `-`) is refused
        // before any restriction
        if syntax::resolver_error(addr) {
            rec.add(|| {
                Step::new(
                    Stage::Rcpt,
                    format!("{given}: the resolver flags bad address syntax (smtpd_check_addr)"),
                )
                .table("allow_min_user")
            });
            return Some("501 5.1.3 Bad recipient address syntax".into());
        }
        let (_, domain) = split_addr(addr);
        lower_into(buf, &[domain]);
        let class = self.domain_class(buf);
        // smtpd_relay_restrictions = permit_sasl_authenticated, permit_mynetworks,
        // reject_unauth_destination
        if !arrival.trusted && class == Class::Default {
            rec.add(|| {
                Step::new(
                    Stage::Rcpt,
                    format!("{domain} is not a local, virtual alias or virtual mailbox domain: reject_unauth_destination"),
                )
                .table("smtpd_relay_restrictions")
            });
            return Some(format!("554 5.7.1 <{given}>: Relay access denied"));
        }
        // smtpd_recipient_restrictions: reject_non_fqdn_recipient on the address as given
        let fqdn = match given.rfind('@') {
            Some(i) => given[i + 1..].contains('.') || given[i + 1..].starts_with('['),
            None => false,
        };
        if !fqdn {
            rec.add(|| {
                Step::new(Stage::Rcpt, "reject_non_fqdn_recipient")
                    .table("smtpd_recipient_restrictions")
            });
            return Some(format!(
                "504 5.5.2 <{given}>: Recipient address rejected: need fully-qualified address"
            ));
        }
        if arrival.trusted {
            rec.add(|| {
                Step::new(Stage::Rcpt, "client is trusted: permit_mynetworks").table("mynetworks")
            });
            return None;
        }
        if let Some(reply) = self.unlisted(given, addr, class, rec, buf) {
            return Some(reply);
        }
        self.split_domain_check(given, addr, rec, buf)
    }

    /// `reject_unlisted_recipient` (`check_rcpt_maps`): listed in canonical_maps or
    /// virtual_alias_maps → accepted; else an address that resolves to the `error` transport —
    /// Zimbra's `virtual_transport = error` for an unknown user of a Zimbra domain — is refused
    /// with the next hop's status and text (`550 5.1.1 <a>: Recipient address rejected:
    /// example.org`), one that resolves to `retry` with `450`; else a virtual mailbox domain
    /// address ldap-vmm.cf does not list is `User unknown in virtual mailbox table`.
    fn unlisted(
        &self,
        given: &str,
        addr: &str,
        class: Class,
        rec: &mut Rec<'_>,
        buf: &mut String,
    ) -> Option<String> {
        for (map, table, what) in [
            (&self.index.canonical, "ldap-canonical.cf", "canonical_maps"),
            (&self.index.vam, "ldap-vam.cf", "virtual_alias_maps"),
        ] {
            if let Some(f) = self.find(map, addr, Query::ExternalFirst, buf) {
                let h = f.hits.first().copied();
                rec.add(|| {
                    Step::new(Stage::Rcpt, format!("listed in {what}"))
                        .table(table)
                        .hit(&self.index, h.as_ref())
                });
                return None;
            }
        }
        let route = self.route(addr, rec, buf);
        if route.transport == "error" || route.transport == "retry" {
            let error = route.transport == "error";
            let (dsn, text) =
                syntax::dsn_split(if error { "5.1.1" } else { "4.1.1" }, &route.nexthop);
            let code: u16 = if error { 550 } else { 450 };
            let dsn = rcpt_dsn(code, dsn);
            rec.add(|| {
                Step::new(
                    Stage::Rcpt,
                    format!(
                        "{addr} matches no canonical or alias entry and resolves to {}: reject_unlisted_recipient",
                        route.transport
                    ),
                )
                .table("smtpd_recipient_restrictions")
            });
            return Some(format!(
                "{code} {dsn} <{given}>: Recipient address rejected: {text}"
            ));
        }
        match class {
            Class::Virtual(r) => {
                if let Some(f) = self.find(&self.index.vmm, addr, Query::ExternalFirst, buf) {
                    let h = f.hits.first().copied();
                    rec.add(|| {
                        Step::new(Stage::Rcpt, "listed in virtual_mailbox_maps")
                            .table("ldap-vmm.cf")
                            .hit(&self.index, h.as_ref())
                    });
                    None
                } else {
                    rec.add(|| {
                        Step::new(Stage::Rcpt, format!("{addr} matches no canonical, alias or mailbox entry: reject_unlisted_recipient"))
                            .table("ldap-vmm.cf")
                            .hit(&self.index, Some(&Hit { rec: r, attr: MatchAttr::DomainName }))
                    });
                    Some(format!("550 5.1.1 <{given}>: Recipient address rejected: User unknown in virtual mailbox table"))
                }
            }
            _ => {
                rec.add(|| {
                    Step::new(
                        Stage::Rcpt,
                        format!("{domain} is in mydestination", domain = split_addr(addr).1),
                    )
                    .table("mydestination")
                });
                None
            }
        }
    }

    /// Zimbra's split-domain restrictions (`zimbraMtaRestriction`): ldap-splitdomain.cf answers
    /// `OK` for known recipients, a final `reject` refuses the rest.
    fn split_domain_check(
        &self,
        given: &str,
        addr: &str,
        rec: &mut Rec<'_>,
        buf: &mut String,
    ) -> Option<String> {
        let (local, domain) = split_addr(addr);
        if self.params.split_domain_check {
            // check_recipient_access: full address, domain, then user@ (LDAP keys)
            let ext = syntax::external(addr);
            lower_into(buf, &[&ext]);
            let mut hit = self.index.split.get(buf.as_str());
            if hit.is_none() {
                lower_into(buf, &[domain]);
                hit = self.index.split.get(buf.as_str());
            }
            if hit.is_none() {
                lower_into(buf, &[local, "@"]);
                hit = self.index.split.get(buf.as_str());
            }
            if let Some(h) = hit {
                let h = h.first().copied();
                rec.add(|| {
                    Step::new(Stage::Rcpt, "check_recipient_access answers OK")
                        .table("ldap-splitdomain.cf")
                        .hit(&self.index, h.as_ref())
                });
                return None;
            }
        }
        if self.params.reject_rest {
            rec.add(|| {
                Step::new(Stage::Rcpt, "zimbraMtaRestriction reject")
                    .table("smtpd_recipient_restrictions")
            });
            return Some(format!(
                "554 5.7.1 <{given}>: Recipient address rejected: Access denied"
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn recipient_status_follows_the_reply() {
        assert_eq!(super::rcpt_dsn(550, "5.1.1"), "5.1.1");
        assert_eq!(super::rcpt_dsn(550, "4.2.2"), "5.2.2");
        assert_eq!(super::rcpt_dsn(450, "4.2.0"), "4.2.0");
        assert_eq!(super::rcpt_dsn(550, "5.1.7"), "5.1.3");
        assert_eq!(super::rcpt_dsn(550, "5.1.9"), "5.1.0");
    }
}
