//! Comparing a real run with the simulator: both answers as sets of [`Key`]s (outcome, where it
//! was decided, status, mailbox, MTA path, refusal hop) — the simulator's as one set per
//! combination of its alternatives (equal-preference MX hosts) — and the DSN of each failed real
//! leaf as a [`DsnKey`] in the simulator's terms.

use zimbra_prov::route::{Disposition, Dsn, DsnFate, Node, NodeKind, Simulator, Stage, Trace};

use super::cases::{domain_of, Case};
use super::logs::{Fate, Followed, Observed};
use super::{config, Entry, Probe};
/// A leaf as compared: outcome, where it was decided, status, mailbox, path, hop.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub outcome: &'static str,
    pub at: String,
    pub status: String,
    pub mailbox: String,
    pub via: Vec<String>,
    pub hops: usize,
    /// The DSN of a failed leaf.
    pub dsn: Option<DsnKey>,
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.outcome {
            "delivered" => write!(f, "delivered to {} at {}", self.mailbox, self.at)?,
            "left" => write!(f, "left to {}", self.at)?,
            "hop-limit" => write!(
                f,
                "refused for too many hops by {} at hop {}",
                self.at, self.hops
            )?,
            o => write!(f, "{o} by {} [{}]", self.at, self.status)?,
        }
        if !self.via.is_empty() {
            write!(f, " via {}", self.via.join(">"))?;
        }
        if let Some(d) = &self.dsn {
            write!(f, "; {d}")?;
        }
        Ok(())
    }
}

pub fn key(outcome: &'static str, at: &str, status: &str, mailbox: &str, via: &[String]) -> Key {
    Key {
        outcome,
        at: at.to_ascii_lowercase(),
        status: status.to_string(),
        mailbox: mailbox.to_ascii_lowercase(),
        via: via.to_vec(),
        hops: 0,
        dsn: None,
    }
}

pub fn hop_limit(by: &str, hops: usize) -> Key {
    Key {
        outcome: "hop-limit",
        at: by.to_ascii_lowercase(),
        status: "5.4.0".into(),
        mailbox: String::new(),
        via: Vec::new(),
        hops,
        dsn: None,
    }
}

/// `550 5.1.1 <a>: Recipient address rejected: ...` → `550 5.1.1`: the reply code and the
/// enhanced status code (texts differ between Postfix's maps and the simulator's wording).
pub fn reply_status(reply: &str) -> String {
    reply.split(' ').take(2).collect::<Vec<_>>().join(" ")
}

/// A simulated leaf as compared, with its DSN.
pub fn sim_key(d: &Disposition, node: &Node, via: &[String]) -> Key {
    let mut k = sim_leaf(d, node, via);
    k.dsn = node.dsn.as_ref().map(sim_dsn);
    k
}

/// The simulator's DSN of a failed leaf as a [`DsnKey`].
pub fn sim_dsn(d: &Dsn) -> DsnKey {
    let w = d.writer.as_deref();
    match &d.fate {
        DsnFate::Reply => dsn_key(None, "reply", ""),
        DsnFate::Delivered { host, mailbox } => {
            dsn_key(w, "delivered", &format!("{mailbox} at {host}"))
        }
        DsnFate::Left { next_hop } => dsn_key(w, "left", next_hop),
        DsnFate::DoubleBounce { at, .. } => dsn_key(w, "double-bounce", at),
        DsnFate::Deferred { at, .. } => dsn_key(w, "deferred", at),
        other => dsn_key(w, other.label(), ""),
    }
}

fn sim_leaf(d: &Disposition, node: &Node, via: &[String]) -> Key {
    let lmtp = node.steps.last().is_some_and(|s| s.stage == Stage::Lmtp);
    match d {
        Disposition::Bounced { by, dsn, .. } | Disposition::Deferred { by, dsn, .. } if lmtp => {
            key(LMTP_REFUSED, by, dsn, &node.recipient, via)
        }
        Disposition::Delivered { host, mailbox } => key("delivered", host, "", mailbox, via),
        Disposition::LeftTopology { next_hop } => key("left", next_hop, "", "", via),
        Disposition::Rejected { by, reply } if reply.contains("too many hops") => {
            hop_limit(by, node.hops as usize)
        }
        Disposition::Rejected { by, reply } => key("rejected", by, &reply_status(reply), "", via),
        Disposition::Bounced { by, dsn, text }
            if dsn == "5.4.0" && text.contains("too many hops") =>
        {
            hop_limit(by, node.hops as usize)
        }
        Disposition::Bounced { by, dsn, .. } => key("bounced", by, dsn, "", via),
        Disposition::Looped { hops, by, .. } => hop_limit(by, *hops as usize),
        Disposition::Deferred { by, dsn, .. } => key("deferred", by, dsn, "", via),
        other => key("unknown", &other.to_string(), "", "", via),
    }
}

/// Combine two sets of alternatives (a fan-out: one of each).
pub fn product(a: Vec<Vec<Key>>, b: Vec<Vec<Key>>) -> Vec<Vec<Key>> {
    let mut out = Vec::new();
    for x in &a {
        for y in &b {
            let mut v = x.clone();
            v.extend(y.iter().cloned());
            out.push(v);
            if out.len() >= 256 {
                return out;
            }
        }
    }
    out
}

/// The leaf sets the simulator allows for `node`: one per combination of alternatives.
pub fn sim_alternatives(node: &Node, via: &mut Vec<String>) -> Vec<Vec<Key>> {
    let pushed = node.kind == NodeKind::Mta;
    if pushed {
        via.push(node.name.clone());
    }
    let mut acc: Vec<Vec<Key>> = vec![match &node.disposition {
        Some(d) => vec![sim_key(d, node, via)],
        None => Vec::new(),
    }];
    if node.alternatives {
        let mut alts = Vec::new();
        for c in &node.children {
            alts.extend(sim_alternatives(c, via));
        }
        acc = product(acc, alts);
    } else {
        for c in &node.children {
            acc = product(acc, sim_alternatives(c, via));
        }
    }
    if pushed {
        via.pop();
    }
    acc
}

/// A real leaf as compared, with the DSN it caused (`dsn`: that DSN followed).
pub fn real_key(o: &Observed, dsn: Option<&Followed>) -> Key {
    let mut k = real_leaf(o);
    k.dsn = real_dsn(o, dsn);
    k
}

fn real_leaf(o: &Observed) -> Key {
    match &o.fate {
        Fate::Delivered { host, mailbox } => key("delivered", host, "", mailbox, &o.via),
        Fate::Left { host } => key("left", host, "", "", &o.via),
        Fate::Rejected { by, reply, .. } => key("rejected", by, &reply_status(reply), "", &o.via),
        Fate::HopLimit { by, hops } => hop_limit(by, *hops),
        Fate::Bounced { by, dsn, .. } => key("bounced", by, dsn, "", &o.via),
        Fate::Deferred { by, dsn, .. } => key("deferred", by, dsn, "", &o.via),
    }
}

/// What differs between the real leaves and the closest simulated alternative, in words.
pub fn differences(real: &[Key], sim: &[Vec<Key>]) -> String {
    let Some(best) = sim
        .iter()
        .max_by_key(|s| s.iter().filter(|k| real.contains(k)).count())
    else {
        return "the simulator has no answer".into();
    };
    if best.len() != real.len() {
        return format!("{} real leaves, {} simulated", real.len(), best.len());
    }
    let mut out = Vec::new();
    for (r, s) in real.iter().zip(best) {
        let mut d = Vec::new();
        if r.outcome != s.outcome {
            d.push(format!("outcome {} / {}", r.outcome, s.outcome));
        }
        if r.at != s.at {
            d.push(format!("deciding MTA or host {} / {}", r.at, s.at));
        }
        if r.status != s.status {
            d.push(format!("status {} / {}", r.status, s.status));
        }
        if r.mailbox != s.mailbox {
            d.push(format!("mailbox {} / {}", r.mailbox, s.mailbox));
        }
        if r.via != s.via {
            d.push(format!("path {} / {}", r.via.join(">"), s.via.join(">")));
        }
        if r.hops != s.hops {
            d.push(format!("hop {} / {}", r.hops, s.hops));
        }
        if r.dsn != s.dsn {
            let show =
                |k: &Option<DsnKey>| k.as_ref().map_or("no DSN".to_string(), DsnKey::to_string);
            d.push(format!("{} / {}", show(&r.dsn), show(&s.dsn)));
        }
        if !d.is_empty() {
            out.push(d.join(", "));
        }
    }
    format!("(real / simulator) {}", out.join("; "))
}

/// The simulator's answers for a probe: the traces and the allowed leaf sets.
pub fn simulated(case: &Case, p: &Probe) -> (Vec<Trace>, Vec<Vec<Key>>) {
    let sim = Simulator::new(&case.topo).sender(p.sender.clone());
    let results = match &p.entry {
        Entry::Internet => vec![sim.run(&zimbra_prov::route::Entry::Internet, &p.rcpt)],
        Entry::Mta(m) => vec![sim.run(&zimbra_prov::route::Entry::Mta(m.clone()), &p.rcpt)],
        Entry::Fallback => {
            let down = config::down_hosts(&case.topo);
            config::fallback_hosts(&case.topo, domain_of(&p.rcpt), &down)
                .unwrap_or_default()
                .iter()
                .map(|h| sim.run_via_host(h, &p.rcpt))
                .collect()
        }
    };
    let mut alts: Vec<Vec<Key>> = Vec::new();
    let mut traces = Vec::new();
    for r in results {
        match r {
            Ok(t) => {
                alts.extend(sim_alternatives(&t.root, &mut Vec::new()));
                traces.push(t);
            }
            Err(e) => alts.push(vec![key("simulator error", &e.to_string(), "", "", &[])]),
        }
    }
    for a in &mut alts {
        a.sort();
    }
    alts.sort();
    alts.dedup();
    (traces, alts)
}

/// What became of the DSN of a failed leaf, in the simulator's terms (its `DsnFate` labels:
/// `reply`, `delivered`, `left`, `double-bounce`, `deferred`) — who wrote it and where it
/// ended.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DsnKey {
    /// The MTA that wrote it (`None`: the refusal went to the sending client).
    pub writer: Option<String>,
    /// The fate label.
    pub fate: &'static str,
    /// Left: the next hop; delivered: `mailbox at host`; double bounce and deferred: the MTA
    /// that gave up on it or holds it.
    pub place: String,
}

impl std::fmt::Display for DsnKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.writer, self.fate) {
            (None, _) => f.write_str("reply: the sending client got the refusal"),
            (Some(w), "left") => write!(f, "DSN by {w}: left to {}", self.place),
            (Some(w), "delivered") => write!(f, "DSN by {w}: delivered to {}", self.place),
            (Some(w), "double-bounce") => {
                write!(f, "DSN by {w}: double bounce at {} (lost)", self.place)
            }
            (Some(w), fate) => write!(f, "DSN by {w}: {fate} at {}", self.place),
        }
    }
}

/// The DSN of real leaf `leaf` (`dsn`: the DSN message followed), `None` for a delivered,
/// departed or deferred leaf.
pub fn real_dsn(leaf: &Observed, dsn: Option<&Followed>) -> Option<DsnKey> {
    if matches!(
        leaf.fate,
        Fate::Delivered { .. } | Fate::Left { .. } | Fate::Deferred { .. }
    ) {
        return None;
    }
    let Some((writer, _)) = &leaf.dsn else {
        return Some(dsn_key(None, "reply", ""));
    };
    // the outside sender's own MTA telling its user is a refusal at the first hop
    if writer == super::INTERNET || writer == super::FALLBACK {
        return Some(dsn_key(None, "reply", ""));
    }
    let w = Some(writer.as_str());
    let Some(first) = dsn.and_then(|d| d.leaves.first()) else {
        return Some(dsn_key(w, "pending", ""));
    };
    Some(match &first.fate {
        Fate::Left { host } => dsn_key(w, "left", host),
        Fate::Delivered { host, mailbox } => {
            dsn_key(w, "delivered", &format!("{mailbox} at {host}"))
        }
        Fate::Deferred { by, .. } => dsn_key(w, "deferred", by),
        _ => dsn_key(w, "double-bounce", &first.logged_by),
    })
}

/// A DSN as compared: who wrote it (`None`: the refusal went to the sending client), its fate
/// label — the simulator's `DsnFate::label` values `reply`, `delivered`, `left`,
/// `double-bounce`, `deferred` — and where it ended (left: the next hop; delivered: `mailbox at
/// host`; double bounce: the MTA that gave up on it; deferred: the MTA holding it). The
/// simulator's DSN of a leaf maps to the same key (writer, `fate.label()`, place).
pub fn dsn_key(writer: Option<&str>, fate: &'static str, place: &str) -> DsnKey {
    DsnKey {
        writer: writer.map(str::to_string),
        fate,
        place: if writer.is_some() {
            place.to_ascii_lowercase()
        } else {
            String::new()
        },
    }
}

/// The DSN comparison: the DSNs of a probe's failed real leaves against the simulator's for
/// its failed leaves, as multisets (who wrote each and what became of it).
pub fn dsns_agree(real: &[DsnKey], sim: &[DsnKey]) -> bool {
    let (mut a, mut b) = (real.to_vec(), sim.to_vec());
    a.sort();
    b.sort();
    a == b
}

/// The outcome of a simulated leaf whose mailbox server refused the LMTP delivery.
pub const LMTP_REFUSED: &str = "refused by the mailbox server";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::multi::logs::{Fate, Followed, Observed};

    fn leaf(fate: Fate, dsn: Option<(&str, &str)>, logged_by: &str) -> Observed {
        Observed {
            via: vec!["exchange".into(), "primary".into()],
            fate,
            dsn: dsn.map(|(a, b)| (a.to_string(), b.to_string())),
            logged_by: logged_by.into(),
        }
    }

    #[test]
    fn real_dsns_in_the_simulators_terms() {
        let refused = Fate::Rejected {
            by: "primary".into(),
            dsn: "5.7.1".into(),
            reply: "554 5.7.1 <x@y>: Relay access denied".into(),
        };
        // Exchange's DSN refused by the primary: a double bounce at Exchange
        let dsn = Followed {
            leaves: vec![leaf(refused.clone(), None, "exchange")],
            complete: true,
        };
        let l = leaf(refused.clone(), Some(("exchange", "Q1")), "exchange");
        let k = real_dsn(&l, Some(&dsn)).unwrap();
        assert_eq!(k, dsn_key(Some("exchange"), "double-bounce", "Exchange"));
        assert_eq!(
            k.to_string(),
            "DSN by exchange: double bounce at exchange (lost)"
        );
        // the DSN left the topology to the sender's domain
        let left = Followed {
            leaves: vec![leaf(
                Fate::Left {
                    host: "Sender.Example".into(),
                },
                None,
                "primary",
            )],
            complete: true,
        };
        let k = real_dsn(
            &leaf(refused.clone(), Some(("primary", "Q2")), "primary"),
            Some(&left),
        );
        assert_eq!(k, Some(dsn_key(Some("primary"), "left", "sender.example")));
        // refused to the client, or by the outside sender's own MTA: a reply
        assert_eq!(
            real_dsn(&leaf(refused.clone(), None, "primary"), None),
            Some(dsn_key(None, "reply", "x"))
        );
        let outside = leaf(
            refused,
            Some((crate::multi::INTERNET, "Q3")),
            crate::multi::INTERNET,
        );
        assert_eq!(
            real_dsn(&outside, Some(&left)).map(|k| k.fate),
            Some("reply")
        );
        // delivered and deferred leaves have none
        let ok = leaf(Fate::Left { host: "x".into() }, None, "primary");
        assert_eq!(real_dsn(&ok, None), None);
        // multisets
        let a = dsn_key(Some("a"), "left", "x");
        let b = dsn_key(None, "reply", "");
        assert!(dsns_agree(&[a.clone(), b.clone()], &[b.clone(), a.clone()]));
        assert!(!dsns_agree(&[a.clone(), a.clone()], &[a, b]));
    }
}
