//! Postfix transport values as stored in `zimbraMailTransport` (`transport:nexthop`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ModelError;

/// The port part of a next hop: a number, or a service name Postfix resolves (`smtp`, `lmtp`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Port {
    /// A decimal port number.
    Number(u16),
    /// A service name (or a number written in a non-canonical way, kept verbatim).
    Service(String),
}

impl Port {
    fn parse(s: &str) -> Port {
        match s.parse::<u16>() {
            Ok(n) if n.to_string() == s => Port::Number(n),
            _ => Port::Service(s.to_string()),
        }
    }

    /// The port number, resolving the service names Postfix commonly uses.
    pub fn number(&self) -> Option<u16> {
        match self {
            Port::Number(n) => Some(*n),
            Port::Service(s) => match s.as_str() {
                "smtp" => Some(25),
                "lmtp" => Some(24),
                "submission" => Some(587),
                "smtps" | "submissions" => Some(465),
                _ => s.parse().ok(),
            },
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Port::Number(n) => write!(f, "{n}"),
            Port::Service(s) => f.write_str(s),
        }
    }
}

/// Where a transport sends mail (the part after the first `:`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NextHop {
    /// Empty next hop: Postfix uses the recipient's domain (`smtp:`).
    Default,
    /// A host (name or address literal) with an optional port.
    Host {
        /// Host name, or the address inside brackets (`192.0.2.1`, `ipv6:2001:db8::1`).
        host: String,
        /// Port or service, if given.
        port: Option<Port>,
        /// `[host]` form: Postfix does no MX lookup for it.
        bracketed: bool,
    },
    /// The `error` transport's next hop: an optional DSN status and the text of the bounce.
    Error {
        /// Enhanced status code such as `5.1.6`, if the text starts with one.
        dsn: Option<String>,
        /// The rest of the text.
        text: String,
    },
}

/// A Postfix transport-table result such as `lmtp:mbx1.example.com:7025`, `smtp:[mx.example.org]`,
/// `smtp:[192.0.2.1]:2525` or `error:5.1.6 user has moved`.
///
/// Parsing and display round-trip exactly.
///
/// ```
/// use zimbra_prov::model::{NextHop, Transport};
/// let t: Transport = "lmtp:mbx1.example.com:7025".parse().unwrap();
/// assert_eq!(t.name(), "lmtp");
/// assert_eq!(t.host(), Some("mbx1.example.com"));
/// assert_eq!(t.port(), Some(7025));
/// assert_eq!(t.to_string(), "lmtp:mbx1.example.com:7025");
///
/// let e: Transport = "error:5.1.6 moved away".parse().unwrap();
/// assert_eq!(e.next_hop(), &NextHop::Error { dsn: Some("5.1.6".into()), text: "moved away".into() });
///
/// for s in ["smtp:[192.0.2.1]", "smtp:[ipv6:2001:db8::1]:25", "smtp:", "relay:[mx.example.org]:587"] {
///     assert_eq!(s.parse::<Transport>().unwrap().to_string(), s);
/// }
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Transport {
    name: String,
    next_hop: NextHop,
}

fn is_dsn(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && matches!(parts[0], "2" | "4" | "5")
        && parts[1..]
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

impl Transport {
    /// Parse `transport:nexthop`.
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        let bad = |reason: &str| ModelError::InvalidTransport {
            value: s.to_string(),
            reason: reason.to_string(),
        };
        let (name, rest) = s
            .split_once(':')
            .ok_or_else(|| bad("expected transport:nexthop"))?;
        if name.is_empty() {
            return Err(bad("empty transport name"));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        {
            return Err(bad("transport name has invalid characters"));
        }
        if s.chars().any(|c| c.is_control()) {
            return Err(bad("control character"));
        }
        let next_hop = if name.eq_ignore_ascii_case("error") {
            match rest.split_once(' ') {
                Some((d, text)) if is_dsn(d) => NextHop::Error {
                    dsn: Some(d.to_string()),
                    text: text.to_string(),
                },
                _ if is_dsn(rest) => NextHop::Error {
                    dsn: Some(rest.to_string()),
                    text: String::new(),
                },
                _ => NextHop::Error {
                    dsn: None,
                    text: rest.to_string(),
                },
            }
        } else if rest.is_empty() {
            NextHop::Default
        } else if let Some(inner) = rest.strip_prefix('[') {
            let close = inner.find(']').ok_or_else(|| bad("unclosed '['"))?;
            let host = &inner[..close];
            if host.is_empty() {
                return Err(bad("empty host in brackets"));
            }
            let after = &inner[close + 1..];
            let port = match after {
                "" => None,
                p => match p.strip_prefix(':') {
                    Some(p) if !p.is_empty() && !p.contains(':') => Some(Port::parse(p)),
                    _ => return Err(bad("expected ':port' after ']'")),
                },
            };
            NextHop::Host {
                host: host.to_string(),
                port,
                bracketed: true,
            }
        } else {
            let (host, port) = match rest.split_once(':') {
                Some((h, p)) => {
                    if p.is_empty() || p.contains(':') {
                        return Err(bad("bad port"));
                    }
                    (h, Some(Port::parse(p)))
                }
                None => (rest, None),
            };
            if host.is_empty() {
                return Err(bad("empty host"));
            }
            if host.contains(|c: char| c.is_whitespace() || c == ']') {
                return Err(bad("host has invalid characters"));
            }
            NextHop::Host {
                host: host.to_string(),
                port,
                bracketed: false,
            }
        };
        Ok(Transport {
            name: name.to_string(),
            next_hop,
        })
    }

    /// Build `lmtp:host:port`, what Zimbra writes for a mailbox on `host`.
    pub fn lmtp(host: &str, port: u16) -> Self {
        Transport {
            name: "lmtp".into(),
            next_hop: NextHop::Host {
                host: host.to_string(),
                port: Some(Port::Number(port)),
                bracketed: false,
            },
        }
    }

    /// Build `smtp:host` (MX lookup) or `smtp:[host]` (no MX lookup), with an optional port.
    pub fn smtp(host: &str, port: Option<u16>, bracketed: bool) -> Self {
        Transport {
            name: "smtp".into(),
            next_hop: NextHop::Host {
                host: host.to_string(),
                port: port.map(Port::Number),
                bracketed,
            },
        }
    }

    /// The transport name (`lmtp`, `smtp`, `relay`, `error`, ...).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The next hop.
    pub fn next_hop(&self) -> &NextHop {
        &self.next_hop
    }

    /// The next-hop host, if the next hop names one.
    pub fn host(&self) -> Option<&str> {
        match &self.next_hop {
            NextHop::Host { host, .. } => Some(host),
            _ => None,
        }
    }

    /// The next-hop port number, if given (service names resolved).
    pub fn port(&self) -> Option<u16> {
        match &self.next_hop {
            NextHop::Host {
                port: Some(port), ..
            } => port.number(),
            _ => None,
        }
    }

    /// Whether this is Zimbra's LMTP delivery into a mailbox server.
    pub fn is_lmtp(&self) -> bool {
        self.name.eq_ignore_ascii_case("lmtp")
    }

    /// Whether this is the `error` transport (bounce).
    pub fn is_error(&self) -> bool {
        self.name.eq_ignore_ascii_case("error")
    }

    /// The text after `transport:`, exactly as it displays.
    pub fn next_hop_text(&self) -> String {
        let s = self.to_string();
        s[self.name.len() + 1..].to_string()
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.name)?;
        match &self.next_hop {
            NextHop::Default => Ok(()),
            NextHop::Host {
                host,
                port,
                bracketed,
            } => {
                if *bracketed {
                    write!(f, "[{host}]")?;
                } else {
                    f.write_str(host)?;
                }
                match port {
                    Some(p) => write!(f, ":{p}"),
                    None => Ok(()),
                }
            }
            NextHop::Error { dsn, text } => match (dsn, text.is_empty()) {
                (Some(d), true) => f.write_str(d),
                (Some(d), false) => write!(f, "{d} {text}"),
                (None, _) => f.write_str(text),
            },
        }
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Transport({self})")
    }
}

impl FromStr for Transport {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Transport::parse(s)
    }
}

impl Serialize for Transport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Transport {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Transport::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in [
            "lmtp:mbx1.example.com:7025",
            "smtp:exchange.example.org",
            "smtp:exchange.example.org:25",
            "smtp:[exchange.example.org]",
            "smtp:[exchange.example.org]:25",
            "smtp:[192.0.2.1]",
            "smtp:[ipv6:2001:db8::1]",
            "smtp:[ipv6:2001:db8::1]:2525",
            "smtp:host:smtp",
            "smtp:host:025",
            "error:5.1.6 moved",
            "error:5.1.1",
            "error:mailbox unavailable",
            "error:",
            "discard:",
            "relay:mta.example.com",
        ] {
            let t = Transport::parse(s).unwrap();
            assert_eq!(t.to_string(), s, "{t:?}");
        }
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "nocolon",
            ":host",
            "smtp:[unclosed",
            "smtp:[]",
            "smtp:[h]x",
            "smtp:h:",
            "smtp:a:b:c",
            "sm tp:h",
            "smtp:h h",
        ] {
            assert!(Transport::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn accessors() {
        let t = Transport::parse("smtp:[192.0.2.1]:2525").unwrap();
        assert_eq!(t.host(), Some("192.0.2.1"));
        assert_eq!(t.port(), Some(2525));
        assert_eq!(t.next_hop_text(), "[192.0.2.1]:2525");
        assert_eq!(Transport::parse("smtp:h:smtp").unwrap().port(), Some(25));
        assert_eq!(Transport::lmtp("m", 7025).to_string(), "lmtp:m:7025");
        assert_eq!(
            Transport::smtp("m", Some(25), true).to_string(),
            "smtp:[m]:25"
        );
        assert!(Transport::parse("LMTP:m:1").unwrap().is_lmtp());
    }
}
