//! The Postfix parameters of one Zimbra MTA and how a message arrives.

use serde::Serialize;

use crate::model::{names as n, Directory, Server};

/// The Postfix parameters of one Zimbra MTA, as zmconfigd derives them from the directory
/// (global config and the MTA's server entry), with Postfix's defaults for the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZimbraParams {
    /// `myhostname` (`zimbraMtaMyHostname`, else the server's host name).
    pub myhostname: String,
    /// `myorigin` (`zimbraMtaMyOrigin`, else `$myhostname`).
    pub myorigin: String,
    /// `mydestination` (`zimbraMtaMyDestination`, default `localhost`), lower case.
    pub mydestination: Vec<String>,
    /// `mynetworks` (`zimbraMtaMyNetworks`): CIDR blocks or addresses of trusted clients.
    pub mynetworks: Vec<String>,
    /// `relayhost` (`zimbraMtaRelayHost`), verbatim (`host`, `[host]`, `host:port`).
    pub relayhost: Option<String>,
    /// Whether the SMTP client looks up MX records (`zimbraMtaSmtpDnsSupportLevel` not
    /// `disabled` and the deprecated `zimbraMtaDnsLookupsEnabled` not `FALSE`).
    pub dns_lookups: bool,
    /// `recipient_delimiter` (`zimbraMtaRecipientDelimiter`, default empty).
    pub recipient_delimiter: String,
    /// `propagate_unmatched_extensions` contains `canonical` (Zimbra's default).
    pub propagate_canonical: bool,
    /// `propagate_unmatched_extensions` contains `virtual`.
    pub propagate_virtual: bool,
    /// `virtual_alias_expansion_limit` (`zimbraMtaVirtualAliasExpansionLimit`, 10000).
    pub virtual_alias_expansion_limit: usize,
    /// `virtual_alias_recursion_limit` (Postfix default 1000).
    pub virtual_alias_recursion_limit: usize,
    /// `virtual_transport` (`zimbraMtaSmtpdVirtualTransport`, `error`).
    pub virtual_transport: String,
    /// `hopcount_limit` (Postfix default 50).
    pub hopcount_limit: u32,
    /// `zimbraMtaRestriction` holds `check_recipient_access ldap:/opt/zimbra/conf/ldap-splitdomain.cf`.
    pub split_domain_check: bool,
    /// `zimbraMtaRestriction` holds `reject`.
    pub reject_rest: bool,
    /// Match `zimbraOldMailAddress` in ldap-vam.cf (ZCS ≥ 8.8.10 filter).
    pub old_address_filter: bool,
    /// The delivery services master.cf defines, by name (case-sensitive, as qmgr looks them
    /// up): a transport naming any other service defers with `4.3.0 mail transport
    /// unavailable`. Default: [`ZIMBRA_TRANSPORTS`], Zimbra's master.cf.
    pub transports: Vec<String>,
}

/// The delivery services of Zimbra's `master.cf` (zm-postfix `conf/postfix/master.cf.in`), the
/// names a `zimbraMailTransport` value can name: `smtp`, `relay` and `scan` (smtp(8)),
/// `smtp-amavis` (smtp(8) to amavisd), `lmtp` (lmtp(8) to the mailbox server), `error` and
/// `retry` (error(8)), `discard` (discard(8)), `local` and `virtual`, and the pipe(8) examples
/// Zimbra keeps from Postfix's stock file (`maildrop`, `old-cyrus`, `cyrus`, `uucp`, `ifmail`,
/// `bsmtp`). Postfix's internal services (`cleanup`, `bounce`, `rewrite`, ...) are not delivery
/// agents and are not listed.
pub const ZIMBRA_TRANSPORTS: &[&str] = &[
    "smtp",
    "relay",
    "scan",
    "smtp-amavis",
    "lmtp",
    "error",
    "retry",
    "discard",
    "local",
    "virtual",
    "maildrop",
    "old-cyrus",
    "cyrus",
    "uucp",
    "ifmail",
    "bsmtp",
];

fn truthy(v: Option<&str>) -> Option<bool> {
    v.map(|s| !s.eq_ignore_ascii_case("false"))
}

impl ZimbraParams {
    /// Postfix + Zimbra defaults for an MTA called `hostname` (a fresh install's global config).
    pub fn defaults(hostname: &str) -> Self {
        ZimbraParams::from_directory(&Directory::new(), hostname)
    }

    /// The parameters zmconfigd would write for the MTA `hostname` reading `dir`: the server
    /// entry's values (`serverInherited`), else the global config's, else the catalog defaults.
    pub fn from_directory(dir: &Directory, hostname: &str) -> Self {
        let server: Option<&Server> = dir.server_by_hostname(hostname);
        let get = |attr: &str| -> Vec<String> {
            let v = match server {
                Some(s) => dir.server_attr(s, attr),
                None => dir.config_attr(attr),
            };
            v.into_iter().map(str::to_string).collect()
        };
        let first = |attr: &str| get(attr).into_iter().next().filter(|s| !s.is_empty());
        let myhostname = first("zimbraMtaMyHostname").unwrap_or_else(|| hostname.to_string());
        let myorigin = first("zimbraMtaMyOrigin").unwrap_or_else(|| myhostname.clone());
        let split_list = |vals: Vec<String>| -> Vec<String> {
            vals.iter()
                .flat_map(|v| v.split([',', ' ', '\t']))
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        let mydestination = split_list(get("zimbraMtaMyDestination"))
            .into_iter()
            .map(|d| {
                if d == "$myhostname" {
                    myhostname.to_ascii_lowercase()
                } else {
                    d.to_ascii_lowercase()
                }
            })
            .collect();
        let level_off = first(n::MTA_SMTP_DNS_SUPPORT_LEVEL)
            .is_some_and(|l| l.eq_ignore_ascii_case("disabled"));
        let lookups = truthy(first(n::MTA_DNS_LOOKUPS_ENABLED).as_deref()).unwrap_or(true);
        let propagate = first("zimbraMtaPropagateUnmatchedExtensions")
            .unwrap_or_else(|| "canonical".into())
            .to_ascii_lowercase();
        let restrictions = get("zimbraMtaRestriction");
        ZimbraParams {
            myorigin,
            mydestination,
            mynetworks: split_list(get("zimbraMtaMyNetworks")),
            relayhost: first(n::MTA_RELAY_HOST),
            dns_lookups: lookups && !level_off,
            recipient_delimiter: dir
                .config_attr("zimbraMtaRecipientDelimiter")
                .first()
                .map(|s| s.to_string())
                .unwrap_or_default(),
            propagate_canonical: propagate.contains("canonical"),
            propagate_virtual: propagate.contains("virtual"),
            virtual_alias_expansion_limit: first("zimbraMtaVirtualAliasExpansionLimit")
                .and_then(|s| s.parse().ok())
                .unwrap_or(10000),
            virtual_alias_recursion_limit: 1000,
            virtual_transport: first("zimbraMtaSmtpdVirtualTransport")
                .unwrap_or_else(|| "error".into()),
            hopcount_limit: 50,
            split_domain_check: restrictions
                .iter()
                .any(|r| r.contains("check_recipient_access") && r.contains("ldap-splitdomain.cf")),
            reject_rest: restrictions.iter().any(|r| r.trim() == "reject"),
            old_address_filter: false,
            transports: ZIMBRA_TRANSPORTS.iter().map(|s| s.to_string()).collect(),
            myhostname,
        }
    }
}

/// How the message reaches the MTA.
///
/// An SMTP client is taken to declare `SMTPUTF8` in `MAIL FROM` (RFC 6531 requires it of a
/// client sending to a UTF-8 address), so a UTF-8 domain passes smtpd's syntax check and meets
/// the usual restrictions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Arrival {
    /// Received over SMTP (RCPT restrictions apply); `false` for local submission (pickup).
    pub smtp: bool,
    /// The client is trusted (`permit_mynetworks` / SASL).
    pub trusted: bool,
}

impl Arrival {
    /// An untrusted SMTP client (the Internet).
    pub const INTERNET: Arrival = Arrival {
        smtp: true,
        trusted: false,
    };
    /// A trusted SMTP client (in `mynetworks`).
    pub const TRUSTED: Arrival = Arrival {
        smtp: true,
        trusted: true,
    };
    /// Local submission (`sendmail`, pickup): no RCPT restrictions (what the oracle measures).
    pub const PICKUP: Arrival = Arrival {
        smtp: false,
        trusted: true,
    };
}
