//! The oracle's line format (`ADDR -> ITEM | ITEM ...`) and SMTP replies.

use super::*;

/// One final recipient's fate in an [`OracleLine`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OracleItem {
    /// Delivered (here: discarded) by `transport` to `nexthop`.
    Deliver {
        /// master.cf service, e.g. `lmtp`, `smtp`.
        transport: String,
        /// Next hop, e.g. `mbox1.example.com:7025`, `[192.0.2.1]:25`, `example.org`.
        nexthop: String,
        /// Final recipient.
        final_rcpt: String,
    },
    /// Bounced (DSN 5.x.x).
    Bounce {
        /// `service: reason`, e.g. `error: example.com`.
        text: String,
        /// DSN, e.g. `5.0.0`.
        dsn: String,
        /// Final recipient.
        final_rcpt: String,
    },
    /// Deferred (DSN 4.x.x), or refused with a temporary error.
    Defer {
        /// `service: reason`, e.g. `retry: mail transport unavailable`.
        text: String,
        /// DSN, e.g. `4.3.0`.
        dsn: String,
        /// Final recipient.
        final_rcpt: String,
    },
}

impl OracleItem {
    /// The final recipient.
    pub fn final_rcpt(&self) -> &str {
        match self {
            OracleItem::Deliver { final_rcpt, .. }
            | OracleItem::Bounce { final_rcpt, .. }
            | OracleItem::Defer { final_rcpt, .. } => final_rcpt,
        }
    }

    /// The transport for a delivery; the service before `:` of TEXT otherwise.
    pub fn transport(&self) -> &str {
        match self {
            OracleItem::Deliver { transport, .. } => transport,
            OracleItem::Bounce { text, .. } | OracleItem::Defer { text, .. } => {
                text.split_once(':').map_or(text.as_str(), |(t, _)| t)
            }
        }
    }

    pub(super) fn sort_key(&self) -> (String, String, String) {
        (
            self.final_rcpt().to_ascii_lowercase(),
            self.transport().to_string(),
            self.body(),
        )
    }

    pub(super) fn body(&self) -> String {
        match self {
            OracleItem::Deliver {
                transport, nexthop, ..
            } => format!("{transport}:{nexthop}"),
            OracleItem::Bounce { text, dsn, .. } => format!("bounce ({text} [{dsn}])"),
            OracleItem::Defer { text, dsn, .. } => format!("defer ({text} [{dsn}])"),
        }
    }

    /// The item as printed for original address `addr`.
    pub fn render(&self, addr: &str) -> String {
        let body = self.body();
        if self.final_rcpt() == addr {
            body
        } else {
            format!("{body} <{}>", self.final_rcpt())
        }
    }

    /// A bounce (`permanent`) or a defer.
    pub fn failure(permanent: bool, text: String, dsn: String, final_rcpt: String) -> OracleItem {
        if permanent {
            OracleItem::Bounce {
                text,
                dsn,
                final_rcpt,
            }
        } else {
            OracleItem::Defer {
                text,
                dsn,
                final_rcpt,
            }
        }
    }

    /// Splits `BODY <FINAL>`: at the first ` <` after which FINAL (an address in external form,
    /// which may hold ` <` inside quotes) has balanced quotes and before which BODY is a whole
    /// item body (a bounce or defer ends with `])`).
    fn split_final(item: &str) -> Option<(&str, &str)> {
        let inner = item.strip_suffix('>')?;
        let mut from = 0;
        while let Some(p) = inner[from..].find(" <") {
            let (body, fin) = (&inner[..from + p], &inner[from + p + 2..]);
            let failure = body.starts_with("bounce (") || body.starts_with("defer (");
            let quotes = fin.matches('"').count() - fin.matches("\\\"").count();
            if (!failure || body.ends_with("])")) && quotes % 2 == 0 {
                return Some((body, fin));
            }
            from += p + 2;
        }
        None
    }

    /// Parses one ITEM of address `addr`'s line.
    pub fn parse(item: &str, addr: &str) -> Result<OracleItem, &'static str> {
        let (body, final_rcpt) = match Self::split_final(item) {
            Some((b, f)) => (b, f.to_string()),
            None => (item, addr.to_string()),
        };
        for (kw, bounce) in [("bounce (", true), ("defer (", false)] {
            if let Some(rest) = body.strip_prefix(kw) {
                let rest = rest.strip_suffix("])").ok_or("missing `[DSN])`")?;
                let (text, dsn) = rest.rsplit_once(" [").ok_or("missing ` [DSN`")?;
                return Ok(OracleItem::failure(
                    bounce,
                    text.to_string(),
                    dsn.to_string(),
                    final_rcpt,
                ));
            }
        }
        let (transport, nexthop) = body.split_once(':').ok_or("no `transport:nexthop`")?;
        if transport.is_empty() || transport.contains(' ') {
            return Err("bad transport name");
        }
        Ok(OracleItem::Deliver {
            transport: transport.to_string(),
            nexthop: nexthop.to_string(),
            final_rcpt,
        })
    }
}

/// The oracle's decision for one address: `ADDR -> ITEM | ITEM ...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OracleLine {
    /// The address as submitted.
    pub addr: String,
    /// One item per final recipient, sorted (final recipient case-insensitively, transport).
    pub items: Vec<OracleItem>,
}

impl OracleLine {
    /// A line with its items put in the canonical order.
    pub fn new(addr: &str, mut items: Vec<OracleItem>) -> OracleLine {
        items.sort_by_key(OracleItem::sort_key);
        items.dedup();
        OracleLine {
            addr: addr.to_string(),
            items,
        }
    }

    /// The line text (same as `to_string()`).
    pub fn text(&self) -> String {
        self.to_string()
    }

    /// Parses a line in the oracle format (e.g. the simulator's `route decide` output).
    pub fn parse(line: &str) -> Result<OracleLine, OracleError> {
        let err = |reason| OracleError::Parse {
            line: line.to_string(),
            reason,
        };
        let (addr, rest) = line.split_once(" -> ").ok_or_else(|| err("no ` -> `"))?;
        let items = rest
            .split(" | ")
            .map(|i| OracleItem::parse(i, addr))
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        Ok(OracleLine::new(addr, items))
    }
}

impl fmt::Display for OracleLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ->", self.addr)?;
        for (i, item) in self.items.iter().enumerate() {
            let sep = if i == 0 { " " } else { " | " };
            write!(f, "{sep}{}", item.render(&self.addr))?;
        }
        Ok(())
    }
}

/// An SMTP reply to RCPT TO.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpReply {
    /// Reply code, e.g. 250, 550, 554.
    pub code: u16,
    /// Enhanced status code, e.g. `5.1.1`, when given.
    pub dsn: Option<String>,
    /// The text after code and DSN (all lines joined by a space).
    pub text: String,
}

impl SmtpReply {
    pub(super) fn parse(lines: &[String]) -> Option<SmtpReply> {
        let first = lines.first()?;
        let code: u16 = first.get(..3)?.parse().ok()?;
        let mut text = Vec::new();
        let mut dsn = None;
        for l in lines {
            let t = l.get(4..).unwrap_or("");
            let (d, rest) = match t.split_once(' ') {
                Some((d, rest)) if is_dsn(d) => (Some(d.to_string()), rest),
                _ if is_dsn(t) => (Some(t.to_string()), ""),
                _ => (None, t),
            };
            if dsn.is_none() {
                dsn = d;
            }
            text.push(rest.to_string());
        }
        Some(SmtpReply {
            code,
            dsn,
            text: text.join(" "),
        })
    }

    /// True for 2xx.
    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.code)
    }
}

impl fmt::Display for SmtpReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.dsn {
            Some(d) => write!(f, "{} {} {}", self.code, d, self.text),
            None => write!(f, "{} {}", self.code, self.text),
        }
    }
}

pub(super) fn is_dsn(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && matches!(parts[0], "2" | "4" | "5")
        && parts[1..]
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}
