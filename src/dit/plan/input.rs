//! The streaming input of a move: one pass over the target keeps its keys (DNs, addresses,
//! ids, domain, COS and server names), one pass over the source keeps the moved domain's
//! entries — as keys plus where their attributes are, not as parsed entries — and what the
//! references report needs. Everything else is looked at once and dropped.

use crate::model::hash::{FxMap, FxSet};

use super::follow_up::token_keys;
use super::output::SourceFile;
use super::reference::{self, Candidate, GroupInfo};
use super::transform::{
    is_plain_dn, lower, DnFacts, DnParser, Transform, ADDRESS_ATTRS, COS_REF_ATTRS,
};
use crate::dit::classify::{address_of_dn, classify, domain_of_dn, EntryKind};
use crate::dit::DitError;
use crate::dn::Dn;
use crate::model::{names, AttrBag, RawEntry};

/// One attribute line of an entry: description and value bytes.
pub(super) type Line<'a> = (&'a str, &'a [u8]);

/// The UTF-8 values of `name` (case-insensitive), like [`AttrBag::strs`].
pub(super) fn strs<'a>(
    attrs: impl Iterator<Item = Line<'a>>,
    name: &'a str,
) -> impl Iterator<Item = &'a str> {
    attrs
        .filter(move |(d, _)| d.eq_ignore_ascii_case(name))
        .filter_map(|(_, v)| std::str::from_utf8(v).ok())
}

/// The first value of `name` as text, like [`AttrBag::first`].
pub(super) fn first<'a>(mut attrs: impl Iterator<Item = Line<'a>>, name: &str) -> Option<&'a str> {
    attrs
        .find(|(d, _)| d.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
}

/// An [`AttrBag`] of the lines, as [`EntryReader`](crate::dit::EntryReader) builds it.
pub(super) fn bag<'a>(attrs: impl Iterator<Item = Line<'a>>) -> AttrBag {
    let mut b = AttrBag::new();
    for (d, v) in attrs {
        b.add(d, v);
    }
    b
}

/// The lines of an [`AttrBag`], attribute by attribute.
pub(super) fn lines(b: &AttrBag) -> Vec<Line<'_>> {
    b.iter()
        .flat_map(|a| a.values().map(move |v| (a.name(), v.as_bytes())))
        .collect()
}

/// [`classify`] with a memory: the kind depends only on the object classes and the leaf
/// RDN's type, and a directory has few distinct combinations of those.
#[derive(Default)]
pub(super) struct Classifier {
    known: FxMap<Vec<u8>, EntryKind>,
    key: Vec<u8>,
}

impl Classifier {
    /// The kind of the entry `dn_text` (`dn`: its parse, when already made).
    fn kind<'a>(
        &mut self,
        dn_text: &str,
        dn: Option<&Dn>,
        attrs: impl Iterator<Item = Line<'a>> + Clone,
    ) -> Result<EntryKind, DitError> {
        let leaf_type = dn_text.split('=').next().unwrap_or_default().trim();
        self.key.clear();
        self.key
            .extend(leaf_type.bytes().map(|b| b.to_ascii_lowercase()));
        for (d, v) in attrs.clone() {
            if d.eq_ignore_ascii_case(names::OBJECT_CLASS) {
                self.key.push(0);
                self.key.extend_from_slice(v);
            }
        }
        if let Some(k) = self.known.get(&self.key) {
            return Ok(*k);
        }
        let parsed;
        let dn = match dn {
            Some(d) => d,
            None => {
                parsed = parse_dn_at(dn_text, 0)?;
                &parsed
            }
        };
        let oc = bag(attrs.filter(|(d, _)| d.eq_ignore_ascii_case(names::OBJECT_CLASS)));
        let kind = classify(dn, &oc);
        self.known.insert(self.key.clone(), kind);
        Ok(kind)
    }
}

fn parse_dn_at(dn: &str, line: u64) -> Result<Dn, DitError> {
    Dn::parse(dn).map_err(|source| DitError::Dn {
        line,
        dn: dn.to_string(),
        source,
    })
}

/// The mail domain of a valid DN as [`domain_of_dn`] finds it, from the text alone when the
/// DN is plain (single-valued RDNs of letters, digits and `.@_-`, nothing to unescape); `None`
/// when it is not, then the DN must be parsed.
fn quick_domain(dn: &str) -> Option<Option<String>> {
    if !is_plain_dn(dn) {
        return None;
    }
    let mut labels: Vec<&str> = Vec::new();
    for rdn in dn.rsplit(',') {
        let (ty, value) = rdn.split_once('=')?;
        if ty.is_empty() || value.is_empty() {
            return None;
        }
        if !ty.eq_ignore_ascii_case("dc") {
            break;
        }
        labels.push(value);
    }
    if labels.is_empty() {
        return Some(None);
    }
    labels.reverse();
    Some(Some(labels.join(".").to_ascii_lowercase()))
}

// --------------------------------------------------------------------------------------
// Target

/// The target's keys.
#[derive(Default)]
pub(super) struct TargetIndex {
    dns: Vec<String>,
    pub(super) by_dn: FxMap<String, (u32, EntryKind)>,
    pub(super) classes: FxMap<String, Vec<String>>,
    pub(super) addresses: FxMap<String, u32>,
    pub(super) ids: FxMap<String, u32>,
    pub(super) domains: FxMap<String, u32>,
    pub(super) domain_ids: FxSet<String>,
    pub(super) coses: FxMap<String, String>,
    pub(super) cos_ids: FxSet<String>,
    pub(super) servers: FxSet<String>,
    pub(super) token_keys: Option<Vec<Vec<u8>>>,
    classifier: Classifier,
    dn_parser: DnParser,
}

impl TargetIndex {
    pub(super) fn add<'a, I>(&mut self, dn_text: &str, line: u64, attrs: I) -> Result<(), DitError>
    where
        I: Iterator<Item = Line<'a>> + Clone,
    {
        let norm = match self.dn_parser.normalized(dn_text) {
            Ok(n) => n,
            Err(_) => parse_dn_at(dn_text, line)?.normalized().into(),
        };
        let kind = self.classifier.kind(dn_text, None, attrs.clone())?;
        let i = self.dns.len() as u32;
        for a in ADDRESS_ATTRS {
            for v in strs(attrs.clone(), a) {
                self.addresses.entry(lower(v)).or_insert(i);
            }
        }
        for v in strs(attrs.clone(), names::ZIMBRA_ID) {
            self.ids.entry(lower(v)).or_insert(i);
        }
        match kind {
            EntryKind::Domain => {
                if let Some(n) = first(attrs.clone(), names::DOMAIN_NAME) {
                    self.domains.insert(lower(n), i);
                }
                for v in strs(attrs.clone(), names::ZIMBRA_ID) {
                    self.domain_ids.insert(lower(v));
                }
            }
            EntryKind::ParentDomain => {
                let classes = strs(attrs.clone(), names::OBJECT_CLASS)
                    .map(str::to_string)
                    .collect();
                self.classes.insert(norm.to_string(), classes);
            }
            EntryKind::Cos => {
                let id = first(attrs.clone(), names::ZIMBRA_ID)
                    .map(lower)
                    .unwrap_or_default();
                if let Some(n) = first(attrs.clone(), names::CN) {
                    self.coses.insert(lower(n), id.clone());
                }
                self.cos_ids.insert(id);
            }
            EntryKind::Server => {
                for a in [names::CN, names::SERVICE_HOSTNAME] {
                    for v in strs(attrs.clone(), a) {
                        self.servers.insert(lower(v));
                    }
                }
            }
            EntryKind::GlobalConfig if self.token_keys.is_none() => {
                self.token_keys = Some(token_keys(attrs));
            }
            _ => {}
        }
        self.by_dn.insert(norm.into(), (i, kind));
        self.dns.push(dn_text.to_string());
        Ok(())
    }

    pub(super) fn dn(&self, i: u32) -> String {
        self.dns.get(i as usize).cloned().unwrap_or_default()
    }
}

// --------------------------------------------------------------------------------------
// Source

/// A domain of the source.
pub(super) struct SrcDomain {
    pub(super) name: String,
    pub(super) id: String,
    pub(super) is_alias: bool,
    pub(super) alias_target: String,
}

/// Where a kept entry's attributes are until the move is written.
#[derive(Debug, Clone)]
pub(super) enum Held {
    /// Parsed (domains, COS and servers: few, and the planner reads them whole).
    Bag(Box<AttrBag>),
    /// Encoded in the plan's arena (`start..end`), for sources that cannot be read twice.
    Arena(usize, usize),
    /// In the record at `offset..offset + len` of the source file.
    File(u64, u64),
}

/// Where the record being scanned is.
#[derive(Clone, Copy)]
pub(super) enum Loc {
    /// Copy it to the arena.
    Arena,
    /// It stays in the source file, in the record starting at this byte offset (its length
    /// is set by [`SourceScan::end_record`]).
    File(u64),
}

/// A kept source entry: what the planner checks, and where the rest is.
pub(super) struct Moved {
    pub(super) kind: EntryKind,
    pub(super) source_dn: Box<str>,
    /// `zimbraId` values.
    pub(super) ids: Vec<Box<str>>,
    /// Values of [`ADDRESS_ATTRS`] in entry order, with the attribute's index there.
    pub(super) addrs: Vec<(u8, Box<str>)>,
    /// Values of [`COS_REF_ATTRS`] in entry order, with the attribute's index there.
    pub(super) cos: Vec<(u8, Box<str>)>,
    /// The first `zimbraMailHost`.
    pub(super) host: Option<Box<str>>,
    /// The first `zimbraAliasTargetId`.
    pub(super) alias_target: Option<Box<str>>,
    /// `zimbraMemberOf` values (dynamic groups the entry is an internal member of).
    pub(super) member_of: Vec<Box<str>>,
    pub(super) held: Held,
    /// For an entry of the moved domain: its DN in the target, worked out while scanning
    /// (on the scanning threads, so that planning need not).
    pub(super) facts: Option<DnFacts>,
}

impl Moved {
    /// The values of [`ADDRESS_ATTRS`]`[a]`, in order.
    pub(super) fn addresses(&self, a: usize) -> impl Iterator<Item = &str> {
        self.addrs
            .iter()
            .filter(move |(i, _)| *i as usize == a)
            .map(|(_, v)| &**v)
    }

    /// The values of [`COS_REF_ATTRS`]`[a]`, in order.
    pub(super) fn cos_refs(&self, a: usize) -> impl Iterator<Item = &str> {
        self.cos
            .iter()
            .filter(move |(i, _)| *i as usize == a)
            .map(|(_, v)| &**v)
    }

    /// The name zmprov knows the entry by (see [`reference::entry_name`]).
    pub(super) fn name(&self) -> Option<Box<str>> {
        let dn = Dn::parse(&self.source_dn).ok()?;
        reference::entry_name(self.kind, &dn, |a| self.addresses(a).next())
    }

    /// A kept entry that is parsed whole (COS and server copies).
    pub(super) fn whole(kind: EntryKind, e: &RawEntry) -> Moved {
        let mut m = keys(kind, &e.dn, lines(&e.attrs).into_iter());
        m.held = Held::Bag(Box::new(e.attrs.clone()));
        m
    }
}

/// The keys of an entry (its attributes not yet placed: `held` is an empty bag).
fn keys<'a>(kind: EntryKind, source_dn: &str, attrs: impl Iterator<Item = Line<'a>>) -> Moved {
    let mut m = Moved {
        kind,
        source_dn: source_dn.into(),
        ids: Vec::new(),
        addrs: Vec::new(),
        cos: Vec::new(),
        host: None,
        alias_target: None,
        member_of: Vec::new(),
        held: Held::Bag(Box::default()),
        facts: None,
    };
    let (mut host_seen, mut target_seen) = (false, false);
    for (d, v) in attrs {
        let text = || std::str::from_utf8(v).ok().map(Box::<str>::from);
        if d.eq_ignore_ascii_case(names::ZIMBRA_ID) {
            m.ids.extend(text());
        } else if let Some(i) = ADDRESS_ATTRS.iter().position(|a| d.eq_ignore_ascii_case(a)) {
            m.addrs.extend(text().map(|t| (i as u8, t)));
        } else if let Some(i) = COS_REF_ATTRS.iter().position(|a| d.eq_ignore_ascii_case(a)) {
            m.cos.extend(text().map(|t| (i as u8, t)));
        } else if d.eq_ignore_ascii_case(names::MAIL_HOST) {
            if !host_seen {
                m.host = text();
            }
            host_seen = true;
        } else if d.eq_ignore_ascii_case(names::ALIAS_TARGET_ID) {
            if !target_seen {
                m.alias_target = text();
            }
            target_seen = true;
        } else if d.eq_ignore_ascii_case("zimbraMemberOf") {
            m.member_of.extend(text());
        }
    }
    m
}

/// Encodes attribute lines into `arena`; returns the range.
fn encode<'a>(arena: &mut Vec<u8>, attrs: impl Iterator<Item = Line<'a>>) -> (usize, usize) {
    let start = arena.len();
    for (d, v) in attrs {
        arena.extend_from_slice(&(d.len() as u32).to_le_bytes());
        arena.extend_from_slice(d.as_bytes());
        arena.extend_from_slice(&(v.len() as u64).to_le_bytes());
        arena.extend_from_slice(v);
    }
    (start, arena.len())
}

/// The attribute lines of an [`encode`]d range.
pub(super) fn decode(mut b: &[u8]) -> impl Iterator<Item = Line<'_>> {
    std::iter::from_fn(move || {
        let (dl, rest) = b.split_first_chunk::<4>()?;
        let dl = u32::from_le_bytes(*dl) as usize;
        let d = std::str::from_utf8(rest.get(..dl)?).ok()?;
        let (vl, rest) = rest.get(dl..)?.split_first_chunk::<8>()?;
        let vl = u64::from_le_bytes(*vl) as usize;
        let v = rest.get(..vl)?;
        b = rest.get(vl..)?;
        Some((d, v))
    })
}

/// What one pass over the source keeps.
pub(super) struct SourceScan {
    pub(super) domains: Vec<SrcDomain>,
    domain_index: FxMap<String, usize>,
    /// Entries of the moved domain, in source order.
    pub(super) main_entries: Vec<Moved>,
    /// Entries of other domains that may turn out to be alias domains of the moved one
    /// (alias domains, and domains not seen yet), with their domain (an index into
    /// `other_domains`).
    pub(super) others: Vec<(u32, Other)>,
    pub(super) other_domains: Vec<String>,
    other_domain_index: FxMap<String, u32>,
    pub(super) coses: Vec<RawEntry>,
    pub(super) servers: Vec<RawEntry>,
    /// Dynamic groups outside the moved domain, by lower-case id.
    pub(super) groups: FxMap<String, GroupInfo>,
    /// References to addresses that may be moved, held by entries outside the moved domain.
    pub(super) candidates: Vec<Candidate>,
    pub(super) token_keys: Option<Vec<Vec<u8>>>,
    pub(super) arena: Vec<u8>,
    classifier: Classifier,
    /// The move's rewriting: the moved domain (`tr.old`), and how its DNs are rebased.
    tr: Transform,
    /// Parses the moved entries' DNs, sharing their parents.
    dns: DnParser,
}

/// An entry of another domain kept in case its domain moves.
pub(super) enum Other {
    /// Its keys (sources read once; boxed, so that the many places stay small).
    Kept(Box<Moved>),
    /// Its place in the source file, (offset, length).
    At(u64, u64),
}

/// Where [`SourceScan::add`] kept an entry.
#[derive(Clone, Copy)]
pub(super) enum Kept {
    /// With the moved domain's entries.
    Main,
    /// With the other domains' entries that may move.
    Other,
}

impl SourceScan {
    /// A scan for the move `tr` does: of its domain `tr.old`, whose entries' DNs in the target
    /// are worked out as they are scanned.
    pub(super) fn new(tr: &Transform) -> SourceScan {
        SourceScan {
            domains: Vec::new(),
            domain_index: FxMap::default(),
            main_entries: Vec::new(),
            others: Vec::new(),
            other_domains: Vec::new(),
            other_domain_index: FxMap::default(),
            coses: Vec::new(),
            servers: Vec::new(),
            groups: FxMap::default(),
            candidates: Vec::new(),
            token_keys: None,
            arena: Vec::new(),
            classifier: Classifier::default(),
            tr: tr.clone(),
            dns: DnParser::default(),
        }
    }

    /// The moved domain (lower case).
    fn main(&self) -> &str {
        self.tr.old.as_str()
    }

    /// Whether an address in `domain` (lower case) may belong to the move: the moved domain,
    /// an alias domain, or a domain not seen yet.
    fn may_move(&self, domain: &str) -> bool {
        domain == self.main()
            || self
                .domain_index
                .get(domain)
                .and_then(|&i| self.domains.get(i))
                .is_none_or(|d| d.is_alias)
    }

    /// Scans one source entry. `validated`: the DN is known to be valid (the LDIF reader
    /// checked it), so plain DNs need not be parsed. Returns where a kept entry went, for
    /// [`end_record`](Self::end_record).
    pub(super) fn add<'a, I>(
        &mut self,
        dn_text: &str,
        line: u64,
        attrs: I,
        loc: Loc,
        validated: bool,
    ) -> Result<Option<Kept>, DitError>
    where
        I: Iterator<Item = Line<'a>> + Clone,
    {
        let (dn, dom) = match quick_domain(dn_text).filter(|_| validated) {
            Some(dom) => (None, dom),
            None => {
                let dn = parse_dn_at(dn_text, line)?;
                let dom = domain_of_dn(&dn);
                (Some(dn), dom)
            }
        };
        let kind = self.classifier.kind(dn_text, dn.as_ref(), attrs.clone())?;
        let in_main = dom.as_deref() == Some(self.main());
        if !in_main || matches!(kind, EntryKind::Cos | EntryKind::Server) {
            let found = reference::scan(kind, dn_text, dom.as_deref(), attrs.clone(), |d| {
                self.may_move(d)
            });
            self.candidates.extend(found);
        }
        match kind {
            EntryKind::Cos | EntryKind::Server => {
                let e = RawEntry {
                    dn: dn_text.to_string(),
                    attrs: bag(attrs),
                };
                if kind == EntryKind::Cos {
                    self.coses.push(e);
                } else {
                    self.servers.push(e);
                }
                return Ok(None);
            }
            EntryKind::Domain => {
                let d = SrcDomain {
                    name: first(attrs.clone(), names::DOMAIN_NAME)
                        .map(lower)
                        .unwrap_or_default(),
                    id: first(attrs.clone(), names::ZIMBRA_ID)
                        .map(lower)
                        .unwrap_or_default(),
                    is_alias: attrs.clone().any(|(d, v)| {
                        d.eq_ignore_ascii_case(names::DOMAIN_TYPE)
                            && v.eq_ignore_ascii_case(b"alias")
                    }),
                    alias_target: first(attrs.clone(), names::DOMAIN_ALIAS_TARGET_ID)
                        .map(lower)
                        .unwrap_or_default(),
                };
                self.domain_index
                    .entry(d.name.clone())
                    .or_insert(self.domains.len());
                self.domains.push(d);
            }
            EntryKind::GlobalConfig if self.token_keys.is_none() => {
                self.token_keys = Some(token_keys(attrs.clone()));
            }
            EntryKind::DynamicGroup if !in_main => {
                if let Some(g) = Dn::parse(dn_text)
                    .ok()
                    .and_then(|dn| GroupInfo::new(&dn, attrs.clone()))
                {
                    for id in strs(attrs.clone(), names::ZIMBRA_ID) {
                        self.groups.entry(lower(id)).or_insert_with(|| g.clone());
                    }
                }
            }
            _ => {}
        }
        if in_main {
            let mut m = self.keep(kind, dn_text, attrs, loc);
            // a DN the parser refuses is parsed again, and reported, when planning
            m.facts = self.dns.facts(dn_text, Some(&self.tr)).ok();
            self.main_entries.push(m);
            return Ok(Some(Kept::Main));
        }
        // Alias domains hold only alias entries and containers; keep those of domains that
        // are alias domains (or not seen yet), decide at the end.
        if let Some(d) = dom {
            let known = self.domain_index.get(&d).and_then(|&i| self.domains.get(i));
            if known.is_none_or(|x| x.is_alias) {
                let o = match loc {
                    // a part of a file may not know the domains yet: keep only the place
                    Loc::File(offset) => Other::At(offset, 0),
                    Loc::Arena => Other::Kept(Box::new(self.keep(kind, dn_text, attrs, loc))),
                };
                let i = self.other_domain(d);
                self.others.push((i, o));
                return Ok(Some(Kept::Other));
            }
        }
        Ok(None)
    }

    fn other_domain(&mut self, d: String) -> u32 {
        if let Some(&i) = self.other_domain_index.get(&d) {
            return i;
        }
        let i = self.other_domains.len() as u32;
        self.other_domains.push(d.clone());
        self.other_domain_index.insert(d, i);
        i
    }

    /// The keys of an entry of another domain (`others`), read back from the source file when
    /// only its place was kept.
    pub(super) fn other_keys(
        &mut self,
        o: Other,
        file: Option<&SourceFile>,
    ) -> Result<Moved, DitError> {
        let (offset, len) = match o {
            Other::Kept(m) => return Ok(*m),
            Other::At(offset, len) => (offset, len),
        };
        let Some(file) = file else {
            return Err(DitError::SourceChanged {
                dn: String::new(),
                why: format!("no source file to read byte {offset} from"),
            });
        };
        let mut buf = Vec::new();
        file.record(&mut buf, offset, len, None, |rec| {
            let lines: Vec<Line<'_>> = rec.attributes().collect();
            let kind = self
                .classifier
                .kind(rec.dn(), None, lines.iter().copied())?;
            let mut m = self.keep(kind, rec.dn(), lines.iter().copied(), Loc::File(offset));
            if let Held::File(_, l) = &mut m.held {
                *l = len;
            }
            Ok(m)
        })
    }

    /// Appends the scan of the part of the source that follows this one's.
    pub(super) fn append(mut self, next: SourceScan) -> SourceScan {
        let shift = self.arena.len();
        for d in next.domains {
            self.domain_index
                .entry(d.name.clone())
                .or_insert(self.domains.len());
            self.domains.push(d);
        }
        let moved = |mut m: Moved| {
            if let Held::Arena(s, e) = &mut m.held {
                *s += shift;
                *e += shift;
            }
            m
        };
        self.main_entries
            .extend(next.main_entries.into_iter().map(moved));
        for (d, o) in next.others {
            let name = next
                .other_domains
                .get(d as usize)
                .cloned()
                .unwrap_or_default();
            let d = self.other_domain(name);
            let o = match o {
                Other::Kept(m) => Other::Kept(Box::new(moved(*m))),
                at => at,
            };
            self.others.push((d, o));
        }
        self.arena.extend_from_slice(&next.arena);
        self.coses.extend(next.coses);
        self.servers.extend(next.servers);
        for (id, g) in next.groups {
            self.groups.entry(id).or_insert(g);
        }
        self.candidates.extend(next.candidates);
        self.token_keys = self.token_keys.or(next.token_keys);
        self
    }

    /// Sets where the last entry kept in place ends in the source file.
    pub(super) fn end_record(&mut self, kept: Kept, end: u64) {
        let held = match kept {
            Kept::Main => self.main_entries.last_mut().map(|m| &mut m.held),
            Kept::Other => match self.others.last_mut() {
                Some((_, Other::At(offset, len))) => {
                    *len = end.saturating_sub(*offset);
                    return;
                }
                Some((_, Other::Kept(m))) => Some(&mut m.held),
                None => None,
            },
        };
        if let Some(Held::File(offset, len)) = held {
            *len = end.saturating_sub(*offset);
        }
    }

    fn keep<'a, I>(&mut self, kind: EntryKind, dn_text: &str, attrs: I, loc: Loc) -> Moved
    where
        I: Iterator<Item = Line<'a>> + Clone,
    {
        let mut m = keys(kind, dn_text, attrs.clone());
        m.held = match (kind, loc) {
            (EntryKind::Domain, _) => Held::Bag(Box::new(bag(attrs))),
            (_, Loc::File(offset)) => Held::File(offset, 0),
            (_, Loc::Arena) => {
                let (s, e) = encode(&mut self.arena, attrs);
                Held::Arena(s, e)
            }
        };
        m
    }
}

/// The address of a dynamic group unit's group (`cn=external,cn=team,cn=groups,dc=...`).
pub(super) fn unit_group(dn: &Dn) -> Option<String> {
    address_of_dn(&dn.parent()?, "cn")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arena_round_trips_lines() {
        let mut arena = vec![1, 2, 3];
        let lines: Vec<Line<'_>> = vec![
            ("cn", b"x"),
            ("jpegPhoto", &[0, 255, 10]),
            ("description", b""),
        ];
        let (s, e) = encode(&mut arena, lines.iter().copied());
        assert_eq!(decode(&arena[s..e]).collect::<Vec<_>>(), lines);
    }
}
