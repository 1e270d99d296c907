//! Building the index on several threads.
//!
//! 1. The entries, in creation order, are cut into contiguous runs; each run becomes a [`Part`]
//!    on its own thread: its text arena (DNs or names, result values, lower-case keys, each key
//!    written once per entry), its entry records and, per table and shard, the keys it adds in
//!    the order it adds them.
//! 2. The parts are joined in order (text concatenated, records renumbered).
//! 3. Table after table, every shard is built on its own job from the parts' keys for that
//!    shard, part after part: a key's answers keep the order of the entries, whatever the
//!    number of threads and wherever the runs were cut. The parts' keys for a table are freed
//!    once it is built, which keeps the peak memory down.

use std::sync::Arc;

use super::table::{build_shard, is_lower_of, key_hash, push, push_lower, shard_of, Item, SHARDS};
use super::{
    DnForm, DynlistMembers, EntryRec, FxMap, Hit, IndexOptions, LmtpKey, LmtpMap, LmtpRec,
    MatchAttr, MtaIndex, Span, Table, Vals,
};
use crate::model::{
    names as n, AttrBag, AttrName, Directory, EntryRef, MailRecipient, MailStatus, Values,
};
use crate::par::parallel;

/// Below this many entries per thread, the index is built on fewer threads.
const MIN_ENTRIES_PER_THREAD: usize = 4096;

const VAM: usize = 0;
const CANONICAL: usize = 1;
const TRANSPORT: usize = 2;
const VMM: usize = 3;
const SPLIT: usize = 4;
const HIT_TABLES: usize = 5;

/// ldap-vam.cf's result attributes.
const VAM_ATTRS: [&str; 4] = [
    n::MAIL_DELIVERY_ADDRESS,
    n::MAIL_FORWARDING_ADDRESS,
    n::PREF_MAIL_FORWARDING_ADDRESS,
    n::MAIL_CATCH_ALL_FORWARDING_ADDRESS,
];

/// ldap-canonical.cf's result attributes.
const CANONICAL_ATTRS: [&str; 2] = [
    n::MAIL_CANONICAL_ADDRESS,
    n::MAIL_CATCH_ALL_CANONICAL_ADDRESS,
];

/// The attributes an entry record reads, by position in [`Names::other`].
const STATUS: usize = 0;
const DELIVERY: usize = 1;
const FORWARDING: usize = 2;
const PREF_FORWARDING: usize = 3;
const ALIAS: usize = 4;
const OLD_ADDRESS: usize = 5;
const CATCH_ALL: usize = 6;
const MAIL_TRANSPORT: usize = 7;
const DOMAIN_NAME: usize = 8;
const DOMAIN_TYPE: usize = 9;
const OTHER: usize = 10;

/// The attribute names the filters read, resolved against the catalog once.
struct Names {
    vam: [AttrName; 4],
    canonical: [AttrName; 2],
    other: [AttrName; OTHER],
}

impl Names {
    fn new() -> Names {
        Names {
            vam: VAM_ATTRS.map(AttrName::new),
            canonical: CANONICAL_ATTRS.map(AttrName::new),
            other: [
                n::MAIL_STATUS,
                n::MAIL_DELIVERY_ADDRESS,
                n::MAIL_FORWARDING_ADDRESS,
                n::PREF_MAIL_FORWARDING_ADDRESS,
                n::MAIL_ALIAS,
                n::OLD_MAIL_ADDRESS,
                n::MAIL_CATCH_ALL_ADDRESS,
                n::MAIL_TRANSPORT,
                n::DOMAIN_NAME,
                n::DOMAIN_TYPE,
            ]
            .map(AttrName::new),
        }
    }
}

/// The text values of an attribute that may be absent.
fn strs<'a>(v: &Option<Values<'a>>) -> impl Iterator<Item = &'a str> {
    v.clone().into_iter().flatten().filter_map(|v| v.as_str())
}

/// Whether an attribute that may be absent has a value equal to `value` (ASCII case ignored).
fn has_value_ci(v: &Option<Values<'_>>, value: &str) -> bool {
    v.clone()
        .into_iter()
        .flatten()
        .any(|v| v.eq_ignore_ascii_case(value))
}

/// Whether an attribute that may be absent has values.
fn present(v: &Option<Values<'_>>) -> bool {
    v.as_ref().is_some_and(|v| !v.is_empty())
}

/// Where an entry record's DN comes from.
enum Dn<'a> {
    /// Stored text.
    Text(&'a str),
    /// Zimbra's default DN of this name.
    Name(DnForm, &'a str),
    /// Zimbra's default DN of a name already in the arena.
    Pushed(DnForm, Span),
}

fn dn<'a>(stored: &'a Option<String>, form: DnForm, name: &'a str) -> Dn<'a> {
    match stored {
        Some(t) => Dn::Text(t),
        None => Dn::Name(form, name),
    }
}

/// What one run of entries contributes (spans, record and value numbers local to the part).
#[derive(Default)]
struct Part {
    text: String,
    vals: Vec<Span>,
    recs: Vec<EntryRec>,
    /// Keys per `table * SHARDS + shard`.
    hits: Vec<Vec<Item<Hit>>>,
    /// LMTP keys per shard.
    lmtp: Vec<Vec<Item<LmtpKey>>>,
    lmtp_recs: Vec<LmtpRec>,
    vmd: Vec<(Box<str>, u32)>,
    vad: Vec<(Box<str>, u32)>,
    alias_domains: Vec<(Box<str>, Box<str>)>,
    servers: Vec<Box<str>>,
    transport_dot_keys: bool,
    /// The keys the current entry has written (reused by its other tables).
    keys: Vec<(u64, Span)>,
    /// The first value of the current entry.
    entry_vals: usize,
    /// `zimbraMailHost` values already in the arena.
    hosts: FxMap<Box<str>, Span>,
}

impl Part {
    fn of(
        entries: &[EntryRef<'_>],
        dir: &Directory,
        members: &DynlistMembers<'_>,
        options: IndexOptions,
    ) -> Part {
        let mut p = Part {
            hits: vec![Vec::new(); HIT_TABLES * SHARDS],
            lmtp: vec![Vec::new(); SHARDS],
            ..Part::default()
        };
        let old = options.old_address_filter;
        let names = Names::new();
        let ctx = (&names, old);
        for e in entries {
            p.keys.clear();
            p.entry_vals = p.vals.len();
            let (d, bag, extra) = match e {
                EntryRef::Domain(d) => {
                    if d.is_alias() {
                        if let Some(t) = d
                            .attrs
                            .first(n::DOMAIN_ALIAS_TARGET_ID)
                            .and_then(|id| dir.domain_by_id(id))
                        {
                            p.alias_domains
                                .push((d.name.as_str().into(), t.name.as_str().into()));
                        }
                    }
                    (
                        dn(&d.dn, DnForm::Domain, d.name.as_str()),
                        &d.attrs,
                        Vec::new(),
                    )
                }
                EntryRef::Account(a) => {
                    let name = push(&mut p.text, a.name.as_str());
                    let mail_host = a.mail_host().map(|h| p.host(h));
                    let rec = p.lmtp_recs.len() as u32;
                    p.lmtp_recs.push(LmtpRec {
                        name,
                        status: dir.effective_account_status(a),
                        mail_host,
                    });
                    // an alias finds the first account that has it; a name the last one
                    let aliases = a.attrs.values_of(&names.other[ALIAS]);
                    for addr in aliases.filter_map(|v| v.as_str()) {
                        let by_name = false;
                        p.lmtp_key(addr, LmtpKey { rec, by_name });
                    }
                    p.lmtp_key(a.name.as_str(), LmtpKey { rec, by_name: true });
                    let d = match &a.dn {
                        Some(t) => Dn::Text(t),
                        None => Dn::Pushed(DnForm::People, name),
                    };
                    (d, &a.attrs, Vec::new())
                }
                EntryRef::List(l) => (
                    dn(&l.dn, DnForm::People, l.name.as_str()),
                    &l.attrs,
                    Vec::new(),
                ),
                EntryRef::Group(g) => (
                    dn(&g.dn, DnForm::Groups, g.name.as_str()),
                    &g.attrs,
                    members.of_group(&g.attrs),
                ),
                EntryRef::Alias(al) => (
                    dn(&al.dn, DnForm::People, al.name.as_str()),
                    &al.attrs,
                    Vec::new(),
                ),
                EntryRef::Server(s) => {
                    p.servers
                        .push(s.service_hostname().to_ascii_lowercase().into());
                    p.servers.push(s.name.to_ascii_lowercase().into());
                    (dn(&s.dn, DnForm::Server, &s.name), &s.attrs, Vec::new())
                }
                EntryRef::Cos(c) => (dn(&c.dn, DnForm::Cos, &c.name), &c.attrs, Vec::new()),
                EntryRef::Config(c) => (dn(&c.dn, DnForm::Config, ""), &c.attrs, Vec::new()),
                EntryRef::Raw(e) => (Dn::Text(&e.dn), &e.attrs, members.of_unit(&e.attrs)),
            };
            p.entry(d, bag, &extra, ctx);
        }
        p.keys = Vec::new();
        p.hosts = FxMap::default();
        p
    }

    fn push_value(&mut self, v: &str) {
        let s = push(&mut self.text, v);
        self.vals.push(s);
    }

    /// The run of values pushed since `from`.
    fn run(&self, from: usize) -> Vals {
        Vals {
            start: from as u32,
            len: (self.vals.len() - from) as u32,
        }
    }

    /// The values of the attributes `attrs` in the order the entry stores its attributes, as
    /// stored (Postfix joins them with commas; `decide` parses the joined result).
    fn values_in_entry_order(&mut self, bag: &AttrBag, attrs: &[AttrName]) -> Vals {
        let from = self.vals.len();
        bag.select(attrs, |_, values| {
            for v in values.filter_map(|v| v.as_str()) {
                self.push_value(v);
            }
        });
        self.run(from)
    }

    /// The hash and span of the lower-case key `v`: one the entry already wrote (as a key or,
    /// when equal, as a value), else new text.
    fn key(&mut self, v: &str) -> (u64, Span) {
        if let Some(k) = self
            .keys
            .iter()
            .find(|(_, s)| is_lower_of(s.get(&self.text), v))
        {
            return *k;
        }
        let span = self.vals[self.entry_vals..]
            .iter()
            .find(|s| is_lower_of(s.get(&self.text), v))
            .copied()
            .unwrap_or_else(|| push_lower(&mut self.text, v));
        let k = (key_hash(span.get(&self.text)), span);
        self.keys.push(k);
        k
    }

    fn add(&mut self, table: usize, key: (u64, Span), val: Hit) {
        let (hash, key) = key;
        if table == TRANSPORT && key.get(&self.text).starts_with('.') {
            self.transport_dot_keys = true;
        }
        self.hits[table * SHARDS + shard_of(hash)].push(Item { hash, key, val });
    }

    fn lmtp_key(&mut self, addr: &str, val: LmtpKey) {
        let (hash, key) = self.key(addr);
        self.lmtp[shard_of(hash)].push(Item { hash, key, val });
    }

    /// A `zimbraMailHost` value in the arena, written once per part.
    fn host(&mut self, h: &str) -> Span {
        if let Some(s) = self.hosts.get(h) {
            return *s;
        }
        let s = push(&mut self.text, h);
        self.hosts.insert(h.into(), s);
        s
    }

    fn entry(
        &mut self,
        dn: Dn<'_>,
        bag: &AttrBag,
        extra_vam: &[Box<str>],
        (names, old): (&Names, bool),
    ) {
        let mut attr: [Option<Values<'_>>; OTHER] = Default::default();
        bag.select(&names.other, |i, v| {
            if let Some(a @ None) = attr.get_mut(i) {
                *a = Some(v);
            }
        });
        if !has_value_ci(&attr[STATUS], MailStatus::Enabled.as_ref()) {
            return;
        }
        let (dn, form) = match dn {
            Dn::Text(t) => (push(&mut self.text, t), DnForm::Stored),
            Dn::Name(f, t) => (push(&mut self.text, t), f),
            Dn::Pushed(f, s) => (s, f),
        };
        // result values come in the entry's own attribute order, as slapd returns them and
        // Postfix's LDAP client reads them (not in result_attribute order)
        let mut vam = self.values_in_entry_order(bag, &names.vam);
        for v in extra_vam {
            self.push_value(v);
        }
        vam.len += extra_vam.len() as u32;
        let canonical = self.values_in_entry_order(bag, &names.canonical);
        let from = self.vals.len();
        for v in strs(&attr[MAIL_TRANSPORT]) {
            self.push_value(v);
        }
        let transport = self.run(from);
        let split_ok = present(&attr[DELIVERY])
            || present(&attr[FORWARDING])
            || present(&attr[PREF_FORWARDING]);
        let rec = self.recs.len() as u32;
        let has_vam = vam.len > 0;
        let has_canon = canonical.len > 0;
        let has_transport = transport.len > 0;
        self.recs.push(EntryRec {
            dn,
            form,
            vam,
            canonical,
            transport,
        });
        let keyed: [(usize, MatchAttr, bool); 4] = [
            (DELIVERY, MatchAttr::DeliveryAddress, true),
            (ALIAS, MatchAttr::MailAlias, true),
            (OLD_ADDRESS, MatchAttr::OldMailAddress, old),
            (CATCH_ALL, MatchAttr::CatchAllAddress, true),
        ];
        for (a, m, in_vam) in keyed {
            for v in strs(&attr[a]) {
                let hit = Hit { rec, attr: m };
                let key = self.key(v);
                if in_vam && has_vam {
                    self.add(VAM, key, hit);
                }
                if m == MatchAttr::OldMailAddress {
                    continue;
                }
                if has_canon {
                    self.add(CANONICAL, key, hit);
                }
                if split_ok {
                    self.add(SPLIT, key, hit);
                }
                if m == MatchAttr::DeliveryAddress {
                    self.add(VMM, key, hit);
                    if has_transport {
                        self.add(TRANSPORT, key, hit);
                    }
                }
            }
        }
        let local = has_value_ci(&attr[DOMAIN_TYPE], "local");
        let alias = has_value_ci(&attr[DOMAIN_TYPE], "alias");
        for v in strs(&attr[DOMAIN_NAME]) {
            if has_transport {
                let key = self.key(v);
                let hit = Hit {
                    rec,
                    attr: MatchAttr::DomainName,
                };
                self.add(TRANSPORT, key, hit);
            }
            if local {
                self.vmd.push((v.to_ascii_lowercase().into(), rec));
            }
            if alias {
                self.vad.push((v.to_ascii_lowercase().into(), rec));
            }
        }
    }
}

/// Where a part's numbering starts in the joined index.
#[derive(Clone, Copy)]
struct Bases {
    text: usize,
    vals: u32,
    rec: u32,
    lmtp: u32,
}

/// Build the index of `dir` on `threads` threads (`None`: the machine's cores, fewer for a
/// small directory).
pub(super) fn build(dir: &Directory, options: IndexOptions, threads: Option<usize>) -> MtaIndex {
    // dynamic groups and their dynamic units: dynlist computes `member` from memberURL and
    // Postfix follows each member DN (base search, whatever the member's mail status)
    let members = DynlistMembers::new(dir);
    // entries in creation order (slapd's entry-ID order): when several entries answer one
    // key, slapd returns them in this order and Postfix joins their values in it, so each
    // key's answers are kept in the order the parts, one after the other, add them
    let entries = dir.entries_in_order();
    let threads = threads.unwrap_or_else(|| {
        crate::par::cores()
            .min(entries.len() / MIN_ENTRIES_PER_THREAD)
            .max(1)
    });
    let per = entries.len().div_ceil(threads).max(1);
    let runs: Vec<&[EntryRef<'_>]> = entries.chunks(per).collect();
    let mut parts = parallel(runs.len(), threads, |i| {
        Part::of(runs[i], dir, &members, options)
    });
    drop(entries);

    let mut idx = MtaIndex {
        options,
        ..MtaIndex::default()
    };
    let mut text = String::with_capacity(parts.iter().map(|p| p.text.len()).sum());
    let (mut vals, mut recs, mut lmtp_recs) = (Vec::new(), Vec::new(), Vec::new());
    let mut bases = Vec::with_capacity(parts.len());
    for p in &mut parts {
        let b = Bases {
            text: text.len(),
            vals: vals.len() as u32,
            rec: recs.len() as u32,
            lmtp: lmtp_recs.len() as u32,
        };
        text.push_str(&std::mem::take(&mut p.text));
        vals.extend(p.vals.drain(..).map(|s| s.rebase(b.text)));
        let run = |v: Vals| Vals {
            start: v.start + b.vals,
            len: v.len,
        };
        recs.extend(p.recs.drain(..).map(|r| EntryRec {
            dn: r.dn.rebase(b.text),
            form: r.form,
            vam: run(r.vam),
            canonical: run(r.canonical),
            transport: run(r.transport),
        }));
        lmtp_recs.extend(p.lmtp_recs.drain(..).map(|r| LmtpRec {
            name: r.name.rebase(b.text),
            status: r.status,
            mail_host: r.mail_host.map(|h| h.rebase(b.text)),
        }));
        for (k, r) in p.vmd.drain(..) {
            idx.vmd.entry(k).or_insert(r + b.rec);
        }
        for (k, r) in p.vad.drain(..) {
            idx.vad.entry(k).or_insert(r + b.rec);
        }
        for (k, v) in p.alias_domains.drain(..) {
            idx.alias_domains.insert(k, v);
        }
        for k in p.servers.drain(..) {
            idx.servers.insert(k, ());
        }
        idx.transport_has_dot_keys |= p.transport_dot_keys;
        bases.push(b);
    }
    let text = Arc::new(text);

    // one table at a time, its shards in parallel, the parts' keys for it freed after it
    let mut tables: Vec<Table<Hit>> = Vec::with_capacity(HIT_TABLES);
    for t in 0..HIT_TABLES {
        let shards = parallel(SHARDS, threads, |s| {
            build_shard(
                &text,
                parts.iter().zip(&bases).flat_map(move |(p, b)| {
                    p.hits[t * SHARDS + s].iter().map(move |it| Item {
                        hash: it.hash,
                        key: it.key.rebase(b.text),
                        val: Hit {
                            rec: it.val.rec + b.rec,
                            attr: it.val.attr,
                        },
                    })
                }),
            )
        });
        for p in &mut parts {
            for keys in &mut p.hits[t * SHARDS..(t + 1) * SHARDS] {
                *keys = Vec::new();
            }
        }
        tables.push(Table::new(Arc::clone(&text), shards));
    }
    let lmtp_shards = parallel(SHARDS, threads, |s| {
        build_shard(
            &text,
            parts.iter().zip(&bases).flat_map(move |(p, b)| {
                p.lmtp[s].iter().map(move |it| Item {
                    hash: it.hash,
                    key: it.key.rebase(b.text),
                    val: LmtpKey {
                        rec: it.val.rec + b.lmtp,
                        by_name: it.val.by_name,
                    },
                })
            }),
        )
    });
    drop(parts);
    let mut tables = tables.into_iter();
    let mut next = || tables.next().unwrap_or_default();
    idx.vam = next();
    idx.canonical = next();
    idx.transport = next();
    idx.vmm = next();
    idx.split = next();
    idx.lmtp = LmtpMap {
        text: Arc::clone(&text),
        keys: Table::new(Arc::clone(&text), lmtp_shards),
        recs: lmtp_recs.into_boxed_slice(),
    };
    idx.transport_has_star_key = idx.transport.contains_key("*");
    idx.vals = vals.into_boxed_slice();
    idx.recs = recs.into_boxed_slice();
    idx.text = text;
    idx
}
