//! What a simulation returns: a tree of hops with a disposition per leaf, the delivery status
//! notifications (DSNs) that failures produce, and the text and JSON forms.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::super::decide::{Stage, Step};
use super::super::RouteError;

/// How a branch of the simulation ends.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Disposition {
    /// Stored in a mailbox.
    Delivered {
        /// The host holding the mailbox.
        host: String,
        /// The mailbox (account name or address).
        mailbox: String,
    },
    /// Accepted, then returned to the sender.
    Bounced {
        /// The MTA (or mailbox server) that gave up.
        by: String,
        /// Enhanced status code.
        dsn: String,
        /// Reason.
        text: String,
    },
    /// Refused at SMTP time (at `RCPT TO`, or at the end of `DATA` for too many hops).
    Rejected {
        /// The refusing MTA.
        by: String,
        /// Its reply.
        reply: String,
    },
    /// Kept in a queue (temporary failure).
    Deferred {
        /// The MTA holding it.
        by: String,
        /// Enhanced status code.
        dsn: String,
        /// Reason.
        text: String,
    },
    /// Circles between MTAs until a hop limit ends it (`554 5.4.0 too many hops` at `by`).
    Looped {
        /// Hop count when the limit was hit.
        hops: u32,
        /// The MTAs of the cycle, in order.
        cycle: Vec<String>,
        /// The MTA whose limit ended it.
        by: String,
    },
    /// Handed to a host outside the topology.
    LeftTopology {
        /// The host or domain it was sent to.
        next_hop: String,
    },
}

impl Disposition {
    /// `delivered`, `bounced`, `rejected`, `deferred`, `looped` or `left`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Disposition::Delivered { .. } => "delivered",
            Disposition::Bounced { .. } => "bounced",
            Disposition::Rejected { .. } => "rejected",
            Disposition::Deferred { .. } => "deferred",
            Disposition::Looped { .. } => "looped",
            Disposition::LeftTopology { .. } => "left",
        }
    }

    /// The enhanced status code, if the disposition has one.
    pub fn dsn(&self) -> Option<&str> {
        match self {
            Disposition::Bounced { dsn, .. } | Disposition::Deferred { dsn, .. } => Some(dsn),
            Disposition::Rejected { reply, .. } => reply.split(' ').nth(1),
            Disposition::Looped { .. } => Some("5.4.0"),
            _ => None,
        }
    }

    /// Whether the message (this copy of it) is not delivered for good: bounced, refused or
    /// looping — the dispositions that make an MTA write a DSN.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Disposition::Bounced { .. } | Disposition::Rejected { .. } | Disposition::Looped { .. }
        )
    }
}

/// `DSN TEXT`, without repeating a status that `TEXT` already starts with (an SMTP reply such as
/// `550 5.1.1 ...` carries its own).
fn status_text(f: &mut std::fmt::Formatter<'_>, dsn: &str, text: &str) -> std::fmt::Result {
    let mut words = text.split(' ');
    let first = words.next().unwrap_or("");
    let has = first == dsn || (first.len() == 3 && words.next() == Some(dsn));
    if has || dsn.is_empty() {
        f.write_str(text)
    } else {
        write!(f, "{dsn} {text}")
    }
}

impl std::fmt::Display for Disposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Disposition::Delivered { host, mailbox } => {
                write!(f, "delivered to {mailbox} at {host}")
            }
            Disposition::Bounced { by, dsn, text } => {
                write!(f, "bounced by {by}: ")?;
                status_text(f, dsn, text)
            }
            Disposition::Rejected { by, reply } => write!(f, "rejected by {by}: {reply}"),
            Disposition::Deferred { by, dsn, text } => {
                write!(f, "deferred at {by}: ")?;
                status_text(f, dsn, text)
            }
            Disposition::Looped { hops, cycle, by } => write!(
                f,
                "looped {} until {by} refused it at hop {hops}: 554 5.4.0 too many hops",
                cycle.join(" -> ")
            ),
            Disposition::LeftTopology { next_hop } => write!(f, "left the topology to {next_hop}"),
        }
    }
}

/// What becomes of the notice that tells the sender a message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fate", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DsnFate {
    /// The refusal went to the sending client during the SMTP dialogue (at the first hop): its
    /// own MTA or mail program tells the sender; the topology writes no DSN.
    Reply,
    /// The DSN reached the sender's mailbox.
    Delivered {
        /// The host holding the mailbox.
        host: String,
        /// The mailbox.
        mailbox: String,
    },
    /// The DSN left the topology towards the sender (assumed delivered there).
    Left {
        /// The host or domain it was sent to.
        next_hop: String,
    },
    /// The DSN itself failed (refused, bounced or looping): Postfix at `at` does not bounce a
    /// bounce; it sends a "double bounce" to its own postmaster only when `notify_classes` holds
    /// `bounce` or `2bounce` (Zimbra's default `resource, software` discards it). The sender
    /// never learns.
    DoubleBounce {
        /// The MTA that gave up on the DSN.
        at: String,
        /// How the DSN failed.
        reason: String,
    },
    /// The DSN waits in a queue (a temporary failure); nothing will change in a static topology,
    /// and after `bounce_queue_lifetime` it is dropped.
    Deferred {
        /// The MTA holding it.
        at: String,
        /// Why.
        reason: String,
    },
}

impl DsnFate {
    /// `reply`, `delivered`, `left`, `double-bounce` or `deferred` (the scenario key's values).
    pub fn label(&self) -> &'static str {
        match self {
            DsnFate::Reply => "reply",
            DsnFate::Delivered { .. } => "delivered",
            DsnFate::Left { .. } => "left",
            DsnFate::DoubleBounce { .. } => "double-bounce",
            DsnFate::Deferred { .. } => "deferred",
        }
    }

    /// Whether the sender learns that the message was not delivered.
    pub fn reaches_sender(&self) -> bool {
        matches!(
            self,
            DsnFate::Reply | DsnFate::Delivered { .. } | DsnFate::Left { .. }
        )
    }

    /// Every label, in the order [`DsnFate::label`] lists them.
    pub const LABELS: [&'static str; 5] =
        ["reply", "delivered", "left", "double-bounce", "deferred"];
}

impl std::fmt::Display for DsnFate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DsnFate::Reply => f.write_str("the sending client got the refusal (no DSN)"),
            DsnFate::Delivered { host, mailbox } => {
                write!(f, "delivered to {mailbox} at {host}")
            }
            DsnFate::Left { next_hop } => write!(f, "left the topology to {next_hop}"),
            DsnFate::DoubleBounce { at, reason } => {
                write!(
                    f,
                    "double bounce at {at} ({reason}): the sender never learns"
                )
            }
            DsnFate::Deferred { at, reason } => write!(f, "deferred at {at} ({reason})"),
        }
    }
}

/// The notice of one failed leaf: who writes the DSN (the MTA that accepted the message last),
/// to whom, and what becomes of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dsn {
    /// The MTA that writes the DSN, as `MAILER-DAEMON` of its own host name; `None` when the
    /// refusal went straight to the sending client ([`DsnFate::Reply`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<String>,
    /// The envelope sender it is addressed to (its own envelope sender is the null sender `<>`).
    pub to: String,
    /// What becomes of it.
    pub fate: DsnFate,
    /// Its path: an index into [`Trace::dsns`] (`None` when no DSN is written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<usize>,
}

impl std::fmt::Display for Dsn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.writer {
            None => write!(f, "{}", self.fate),
            Some(w) => {
                write!(f, "DSN")?;
                if let Some(r) = self.route {
                    write!(f, " #{}", r + 1)?;
                }
                write!(f, " by {w} to {}: {}", self.to, self.fate)
            }
        }
    }
}

/// The path of one DSN: from its writer, with the null sender, to the original envelope sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DsnRoute {
    /// The MTA that writes it.
    pub writer: String,
    /// Its `From:` (`MAILER-DAEMON@` the writer's host name).
    pub from: String,
    /// The recipient: the original message's envelope sender.
    pub to: String,
    /// The tree of its hops, like [`Trace::root`]; its failures are double bounces, not DSNs.
    pub root: Node,
    /// What becomes of it.
    pub fate: DsnFate,
}

/// What a node of the trace stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// The entry point (Internet or submitting MTA).
    Entry,
    /// A hop: the message at an MTA.
    Mta,
    /// One final recipient after an MTA's alias expansion.
    Recipient,
}

/// A node of the trace tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// What the node is.
    pub kind: NodeKind,
    /// MTA name (entry: `internet` or the MTA), or the final recipient.
    pub name: String,
    /// The MTA's host name, for MTA nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The recipient address at this node.
    pub recipient: String,
    /// Hop count (Received headers) at this node.
    pub hops: u32,
    /// The steps, in order.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Children: alternatives are marked by `alternatives`.
    #[serde(default)]
    pub children: Vec<Node>,
    /// True when the children are alternatives (equal MX preferences), not a fan-out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub alternatives: bool,
    /// The disposition, at leaves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<Disposition>,
    /// For MTA nodes reached over SMTP: the next-hop host name the previous hop connected to
    /// (an MX host, the relay host, a `[host]`), whose addresses decide whether the connection
    /// stays inside the network (see `verify`'s hairpin check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reached_as: Option<String>,
    /// At a failed leaf (bounced, refused, looping) of a message: the DSN that tells the sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dsn: Option<Dsn>,
}

impl Node {
    pub(crate) fn new(kind: NodeKind, name: &str, recipient: &str, hops: u32) -> Node {
        Node {
            kind,
            name: name.to_string(),
            host: None,
            recipient: recipient.to_string(),
            hops,
            steps: Vec::new(),
            children: Vec::new(),
            alternatives: false,
            disposition: None,
            reached_as: None,
            dsn: None,
        }
    }
}

/// A leaf of a trace with the MTA names on its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf<'a> {
    /// MTA names from the entry to the leaf.
    pub via: Vec<&'a str>,
    /// The final recipient at the leaf.
    pub recipient: &'a str,
    /// The disposition.
    pub disposition: &'a Disposition,
    /// The DSN a failed leaf produces (see [`Node::dsn`]).
    pub dsn: Option<&'a Dsn>,
}

/// The result of [`simulate`](super::simulate): a deterministic tree of hops with a disposition
/// per leaf, and the paths of the DSNs its failures produce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// The recipient as given.
    pub recipient: String,
    /// The entry point.
    pub from: String,
    /// The envelope sender (where DSNs go).
    #[serde(default)]
    pub sender: String,
    /// The tree.
    pub root: Node,
    /// The DSNs written for failed leaves, one per writing MTA (leaves refer to them by index).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dsns: Vec<DsnRoute>,
}

/// Walk the leaves of a tree under `n`, depth first, with the MTA path.
pub(crate) fn walk_leaves<'a>(
    n: &'a Node,
    path: &mut Vec<&'a str>,
    out: &mut impl FnMut(&[&'a str], &'a Node, &'a Disposition),
) {
    let pushed = n.kind == NodeKind::Mta;
    if pushed {
        path.push(&n.name);
    }
    if let Some(d) = &n.disposition {
        out(path, n, d);
    }
    for c in &n.children {
        walk_leaves(c, path, out);
    }
    if pushed {
        path.pop();
    }
}

impl Trace {
    /// Every leaf, depth first, with its path.
    pub fn leaves(&self) -> Vec<Leaf<'_>> {
        let mut out = Vec::new();
        walk_leaves(&self.root, &mut Vec::new(), &mut |via, n, d| {
            out.push(Leaf {
                via: via.to_vec(),
                recipient: &n.recipient,
                disposition: d,
                dsn: n.dsn.as_ref(),
            })
        });
        out
    }

    /// One line per leaf: `RCPT -> disposition` (the summary `split_domain` prints).
    pub fn summary(&self) -> String {
        let leaves = self.leaves();
        let parts: Vec<String> = leaves
            .iter()
            .map(|l| {
                let who = if l.recipient.eq_ignore_ascii_case(&self.recipient) {
                    String::new()
                } else {
                    format!("<{}> ", l.recipient)
                };
                format!("{who}{} (via {})", l.disposition, l.via.join(" > "))
            })
            .collect();
        format!("{} -> {}", self.recipient, parts.join(" | "))
    }

    /// Readable text, one line per step (like `exim -bt`); failed leaves name their DSN, whose
    /// paths follow the tree.
    pub fn to_text(&self) -> String {
        let mut out = format!("{} from {}", self.recipient, self.from);
        if !self.sender.is_empty() {
            let _ = write!(out, " (sender {})", self.sender);
        }
        out.push('\n');
        text_tree(&self.root, 1, &mut out);
        for (i, d) in self.dsns.iter().enumerate() {
            let _ = writeln!(
                out,
                "DSN #{} from {} (null sender) by {} to {}",
                i + 1,
                d.from,
                d.writer,
                d.to
            );
            text_tree(&d.root, 1, &mut out);
            let _ = writeln!(out, "  => DSN {}", d.fate);
        }
        out
    }

    /// The trace as pretty-printed JSON (the `route trace --json` output).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": {e:?}}}"))
    }

    /// Read a trace written by [`Trace::to_json`].
    ///
    /// ```
    /// use zimbra_prov::route::{simulate, Entry, Topology, Trace};
    /// let t = simulate(&Topology::new(), &Entry::Internet, "a@example.org").unwrap();
    /// assert_eq!(Trace::from_json(&t.to_json()).unwrap(), t);
    /// assert!(Trace::from_json("{").is_err());
    /// ```
    pub fn from_json(text: &str) -> Result<Trace, RouteError> {
        serde_json::from_str(text).map_err(|e| RouteError::Json {
            message: e.to_string(),
        })
    }
}

fn text_tree(n: &Node, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    match n.kind {
        NodeKind::Entry => {}
        NodeKind::Mta => {
            let _ = writeln!(
                out,
                "{pad}{} ({}) hop {}: {}",
                n.name,
                n.host.as_deref().unwrap_or(""),
                n.hops,
                n.recipient
            );
        }
        NodeKind::Recipient => {
            let _ = writeln!(out, "{pad}-> {}", n.recipient);
        }
    }
    let inner = if n.kind == NodeKind::Entry {
        depth
    } else {
        depth + 1
    };
    let ipad = "  ".repeat(inner);
    for s in &n.steps {
        let _ = writeln!(out, "{ipad}{s}");
    }
    if n.alternatives {
        let _ = writeln!(
            out,
            "{ipad}(one of {} equal-preference hosts)",
            n.children.len()
        );
    }
    if let Some(d) = &n.disposition {
        let _ = writeln!(out, "{ipad}=> {}", upper_first(&d.to_string()));
        if let Some(dsn) = &n.dsn {
            let _ = writeln!(out, "{ipad}   {dsn}");
        }
    }
    for c in &n.children {
        text_tree(c, inner, out);
    }
}

pub(crate) fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A [`Step`]'s table or attribute name (`&'static str` fields) read back from JSON: each
/// distinct name is stored once for the life of the process, so reading many traces does not
/// grow memory beyond the vocabulary of table and attribute names.
fn static_name(s: String) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let names = NAMES.get_or_init(|| Mutex::new(HashSet::new()));
    let mut names = names.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = names.get(s.as_str()) {
        return n;
    }
    let leaked: &'static str = Box::leak(s.into_boxed_str());
    names.insert(leaked);
    leaked
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Step, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            stage: Stage,
            #[serde(default)]
            table: Option<String>,
            #[serde(default)]
            attr: Option<String>,
            #[serde(default)]
            entry: Option<String>,
            #[serde(default)]
            joined: Vec<String>,
            text: String,
        }
        let r = Raw::deserialize(d)?;
        Ok(Step {
            stage: r.stage,
            table: r.table.map(static_name),
            attr: r.attr.map(static_name),
            entry: r.entry,
            joined: r.joined,
            text: r.text,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_not_repeated() {
        let d = Disposition::Bounced {
            by: "m".into(),
            dsn: "5.1.1".into(),
            text: "550 5.1.1 No such user here".into(),
        };
        assert_eq!(d.to_string(), "bounced by m: 550 5.1.1 No such user here");
        let d = Disposition::Bounced {
            by: "m".into(),
            dsn: "5.0.0".into(),
            text: "example.org".into(),
        };
        assert_eq!(d.to_string(), "bounced by m: 5.0.0 example.org");
        let d = Disposition::Deferred {
            by: "m".into(),
            dsn: "4.2.1".into(),
            text: "450 4.2.1 Mailbox disabled".into(),
        };
        assert_eq!(d.to_string(), "deferred at m: 450 4.2.1 Mailbox disabled");
    }

    #[test]
    fn fates() {
        assert!(DsnFate::Reply.reaches_sender());
        let db = DsnFate::DoubleBounce {
            at: "x".into(),
            reason: "r".into(),
        };
        assert!(!db.reaches_sender());
        assert_eq!(db.label(), "double-bounce");
        for (f, l) in [
            (DsnFate::Reply, "reply"),
            (
                DsnFate::Left {
                    next_hop: "h".into(),
                },
                "left",
            ),
        ] {
            assert_eq!(f.label(), l);
            assert!(DsnFate::LABELS.contains(&l));
        }
    }
}
