//! Stages 5 and 6: trivial-rewrite's resolver (address class, `transport_maps`, syntax checks)
//! and what the queue manager and the delivery agent then do with the result.

use super::lookup::lower_into;
use super::outcome::{Action, Delivery, Stage, Step};
use super::syntax::{self, split_addr};
use super::{Class, Rec, ZimbraMta};
use crate::model::names as n;
use crate::route::index::{Hit, MatchAttr};

/// Where trivial-rewrite sends one recipient: its transport and next hop (before the
/// queue manager looks the transport up in master.cf).
pub(super) struct Route {
    /// The transport (master.cf service name).
    pub transport: String,
    /// The next hop (for `error`/`retry`: the status and text).
    pub nexthop: String,
}

impl ZimbraMta {
    /// The address class of a (lower-case) domain.
    pub(super) fn domain_class(&self, domain_lc: &str) -> Class {
        if self.params.mydestination.iter().any(|d| d == domain_lc) {
            Class::Local
        } else if let Some(r) = self.index.vad.get(domain_lc) {
            Class::Alias(*r)
        } else if let Some(r) = self.index.vmd.get(domain_lc) {
            Class::Virtual(*r)
        } else {
            Class::Default
        }
    }

    fn domain_hit(r: u32) -> Hit {
        Hit {
            rec: r,
            attr: MatchAttr::DomainName,
        }
    }

    /// trivial-rewrite's `resolve_addr` for an internal-form recipient: the class from the
    /// domain, the class's transport and next hop, then `transport_maps`.
    pub(super) fn route(&self, rcpt: &str, rec: &mut Rec<'_>, buf: &mut String) -> Route {
        let p = &self.params;
        let (_, domain) = split_addr(rcpt);
        lower_into(buf, &[domain]);
        let class = self.domain_class(buf);
        let (transport, nexthop): (String, String) = match class {
            Class::Alias(r) => {
                rec.add(|| {
                    Step::new(
                        Stage::Resolve,
                        format!("{domain} is a virtual alias domain: no mailbox can be here"),
                    )
                    .table("ldap-vad.cf")
                    .hit(&self.index, Some(&Self::domain_hit(r)))
                });
                // transport_maps are not consulted for the virtual alias class
                return Route {
                    transport: "error".into(),
                    nexthop: "5.1.1 User unknown in virtual alias table".into(),
                };
            }
            Class::Local => {
                rec.add(|| {
                    Step::new(
                        Stage::Resolve,
                        format!("{domain} is in mydestination: local delivery"),
                    )
                    .table("mydestination")
                });
                ("local".into(), p.myhostname.clone())
            }
            Class::Virtual(r) => {
                rec.add(|| {
                    Step::new(
                        Stage::Resolve,
                        format!(
                            "{domain} is a virtual mailbox domain: virtual_transport = {}",
                            p.virtual_transport
                        ),
                    )
                    .table("ldap-vmd.cf")
                    .hit(&self.index, Some(&Self::domain_hit(r)))
                });
                // a `transport:nexthop` setting gives its own next hop
                match p.virtual_transport.split_once(':') {
                    Some((t, nh)) if !nh.is_empty() => (t.to_string(), nh.to_string()),
                    Some((t, _)) => (t.to_string(), domain.to_string()),
                    None => (p.virtual_transport.clone(), domain.to_string()),
                }
            }
            Class::Default => match &p.relayhost {
                Some(rh) => {
                    rec.add(|| {
                        Step::new(
                            Stage::Resolve,
                            format!("{domain} is remote: smtp via relayhost {rh}"),
                        )
                        .table("relayhost")
                        .attr_set(n::MTA_RELAY_HOST)
                    });
                    ("smtp".into(), rh.clone())
                }
                None => {
                    rec.add(|| {
                        Step::new(
                            Stage::Resolve,
                            format!("{domain} is remote: smtp to {domain}"),
                        )
                        .table("default_transport")
                    });
                    ("smtp".into(), domain.to_string())
                }
            },
        };
        let mut route = Route { transport, nexthop };
        // transport_maps: the values of every entry answering the key, joined with commas, are
        // ONE value, split at its first `:` only (`smtp:a:25,lmtp:b:7025` is transport `smtp`
        // with next hop `a:25,lmtp:b:7025`); nothing is trimmed and the name keeps its case
        let Some((hits, key)) = self.transport_lookup(rcpt, buf) else {
            rec.add(|| {
                Step::new(
                    Stage::Transport,
                    format!("no transport for {} or {domain}", syntax::external(rcpt)),
                )
                .table("ldap-transport.cf")
            });
            return route;
        };
        let value = self.joined(hits, |r| &r.transport);
        let (t, nh) = value.split_once(':').unwrap_or((value.as_str(), ""));
        // update_entry: `:nexthop` keeps the transport; `transport:` resets the next hop to
        // the recipient domain, or for error/retry to "Address is undeliverable"
        if t.is_empty() {
            if !nh.is_empty() {
                route.nexthop = nh.to_string();
            }
        } else {
            route.transport = t.to_string();
            route.nexthop = if !nh.is_empty() {
                nh.to_string()
            } else if t != "error" && t != "retry" {
                domain.to_string()
            } else {
                "Address is undeliverable".to_string()
            };
        }
        rec.add(|| {
            Step::new(Stage::Transport, format!("key {key}: {value}"))
                .table("ldap-transport.cf")
                .hits(&self.index, hits)
        });
        route
    }

    /// Stages 5 and 6 for one final recipient (internal form).
    pub(super) fn resolve(&self, rcpt: String, trace: bool, buf: &mut String) -> Delivery {
        let mut steps = Vec::new();
        let mut rec = Rec {
            on: trace,
            steps: &mut steps,
        };
        // RESOLVE_FLAG_ERROR: a domain that is no valid host name or address literal, or an
        // address starting with `-` (allow_min_user = no); the queue manager sends it to the
        // error agent
        let action = if syntax::resolver_error(&rcpt) {
            rec.add(|| {
                Step::new(
                    Stage::Resolve,
                    format!(
                        "{}: bad address syntax (a domain that is no valid host name, or a leading '-': allow_min_user = no)",
                        syntax::external(&rcpt)
                    ),
                )
                .table("allow_min_user")
            });
            Action::Bounce {
                transport: "error".into(),
                dsn: "5.1.3".into(),
                text: "bad address syntax".into(),
            }
        } else {
            let route = self.route(&rcpt, &mut rec, buf);
            self.action(route.transport, route.nexthop, &mut rec)
        };
        Delivery {
            recipient: syntax::external(&rcpt),
            steps,
            action,
        }
    }

    /// `transport_maps` keys: `user+ext@domain`, `user@domain` (external form, then internal),
    /// `domain`, parent `.domain` keys when the table has any, `*`.
    fn transport_lookup<'a>(&'a self, rcpt: &str, buf: &mut String) -> Option<(&'a [Hit], String)> {
        let map = &self.index.transport;
        let (local, domain) = split_addr(rcpt);
        let external = syntax::external(rcpt);
        let mut keys: Vec<String> = vec![external.clone()];
        if external != rcpt {
            keys.push(rcpt.to_string());
        }
        if let Some((base, _)) = self.ext_split(local) {
            let stripped = format!("{base}@{domain}");
            let ext = syntax::external(&stripped);
            if ext != stripped {
                keys.push(ext);
            }
            keys.push(stripped);
        }
        keys.push(domain.to_string());
        for k in &keys {
            lower_into(buf, &[k]);
            if let Some(h) = map.get(buf.as_str()) {
                return Some((h, buf.clone()));
            }
        }
        if self.index.transport_has_dot_keys {
            let mut d = domain;
            while let Some((_, parent)) = d.split_once('.') {
                lower_into(buf, &[".", d]);
                if let Some(h) = map.get(buf.as_str()) {
                    return Some((h, buf.clone()));
                }
                d = parent;
            }
        }
        if self.index.transport_has_star_key {
            if let Some(h) = map.get("*") {
                return Some((h, "*".into()));
            }
        }
        None
    }

    /// What the queue manager and the delivery agent do with a transport and next hop: a
    /// transport master.cf does not define (names are case-sensitive, `SMTP` is not `smtp`)
    /// defers with `4.3.0 mail transport unavailable`; error(8) bounces and retry(8) defers
    /// with the status at the start of the next hop, forced into their class (a status of
    /// another class becomes `5.0.0` / `4.0.0`, as `bounce_append`/`defer_append` do);
    /// discard(8) drops the mail (its next hop minus a status is the reason it logs).
    fn action(&self, transport: String, nexthop: String, rec: &mut Rec<'_>) -> Action {
        if !self.params.transports.contains(&transport) {
            rec.add(|| {
                Step::new(
                    Stage::Transport,
                    format!("master.cf has no service {transport:?}: mail transport unavailable"),
                )
                .table("master.cf")
            });
            return Action::Defer {
                transport: "retry".into(),
                dsn: "4.3.0".into(),
                text: "mail transport unavailable".into(),
            };
        }
        let forced = |default: &str, class: u8, nexthop: &str| -> (String, String) {
            let (dsn, text) = syntax::dsn_split(default, nexthop);
            let dsn = if dsn.as_bytes()[0] == class {
                dsn
            } else {
                default
            };
            (dsn.to_string(), text.to_string())
        };
        match transport.as_str() {
            "error" => {
                let (dsn, text) = forced("5.0.0", b'5', &nexthop);
                Action::Bounce {
                    transport,
                    dsn,
                    text,
                }
            }
            "retry" => {
                let (dsn, text) = forced("4.0.0", b'4', &nexthop);
                Action::Defer {
                    transport,
                    dsn,
                    text,
                }
            }
            "discard" => Action::Discard {
                nexthop: syntax::dsn_split("2.0.0", &nexthop).1.to_string(),
            },
            _ => Action::Relay { transport, nexthop },
        }
    }
}
