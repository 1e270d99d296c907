//! The planning itself, on the keys the streaming input kept: COS and mail-host resolution,
//! ids, the entries' new DNs, conflicts, missing parents, the order of the LDIF, follow-ups
//! and references.

use std::collections::BTreeMap;

use crate::model::hash::{FxMap, FxSet};
use std::sync::Arc;

use super::conflict::Conflict;
use super::follow_up::{follow_ups, TokenKeys};
use super::input::{lines, strs, Held, Moved, SourceScan, TargetIndex};
use super::output::{merge_into_parent, PlannedEntries, PlannedEntry, Slot, SourceFile, Store};
use super::reference;
use super::transform::{
    lower, parse_dn, sort_key, DnParser, Transform, ADDRESS_ATTRS, COS_REF_ATTRS,
};
use super::{IdPolicy, MoveOptions, MovePlan};
use crate::dit::classify::{address_of_dn, classify, EntryKind};
use crate::dit::write::{synthesize_parent, wanted_parents};
use crate::dit::DitError;
use crate::ldif::Change;
use crate::model::{names, DomainName, IdGenerator};

/// A moved entry on its way into the plan: its target DN and the values the checks need,
/// rewritten as they will be written.
struct Planned {
    kind: EntryKind,
    /// The DN in the target, its normalized form and its [`sort_key`].
    dn: Box<str>,
    norm: Box<str>,
    key: Box<str>,
    source_dn: Box<str>,
    /// Complete already (domains, COS and server copies), or held until written.
    ready: Option<PlannedEntry>,
    held: Held,
    ids: Vec<Box<str>>,
    alias_target: Option<Box<str>>,
    /// The entry's addresses for the checks, see [`AddressKey`].
    keys: Vec<AddressKey>,
}

/// One address of a moved entry as [`Stages::addresses`] checks it: lower case, each once per
/// entry (in [`ADDRESS_ATTRS`] order), with the target entry that already has it.
struct AddressKey {
    /// Index in [`ADDRESS_ATTRS`].
    attr: u8,
    key: Box<str>,
    in_target: Option<u32>,
}

/// The [`AddressKey`]s of an entry's addresses (values of [`ADDRESS_ATTRS`], each with the
/// attribute's index), looked up in the target.
fn address_keys(addrs: &[(u8, Box<str>)], t: &TargetIndex) -> Vec<AddressKey> {
    let mut keys: Vec<AddressKey> = Vec::with_capacity(addrs.len());
    for attr in 0..ADDRESS_ATTRS.len() as u8 {
        for (_, v) in addrs.iter().filter(|(i, _)| *i == attr) {
            if keys.iter().any(|k| k.key.eq_ignore_ascii_case(v)) {
                continue;
            }
            let key: Box<str> = lower(v).into();
            let in_target = t.addresses.get(&*key).copied();
            keys.push(AddressKey {
                attr,
                key,
                in_target,
            });
        }
    }
    keys
}

/// [`rewrite`]s the moved entries, their addresses looked up in the target.
fn rewrite_all(
    moving: Vec<(Moved, bool)>,
    tr: &Transform,
    t: &TargetIndex,
) -> Result<Vec<Planned>, DitError> {
    // Rewriting on several threads was tried: it doubled the CPU time (allocation-bound, and
    // the entries are then freed across threads) and saved no wall time on two cores.
    let mut dns = DnParser::default();
    moving
        .into_iter()
        .map(|(m, in_main)| rewrite(m, in_main, tr, t, &mut dns))
        .collect()
}

/// The planner: the two inputs, the options and the rewriting rules.
pub(super) struct Planner<'a> {
    pub(super) t: TargetIndex,
    pub(super) s: SourceScan,
    pub(super) opts: &'a MoveOptions,
    pub(super) tr: Transform,
    pub(super) file: Option<Arc<SourceFile>>,
}

/// Uses of a COS or mail host by moved entries: how many, and the first one.
type Uses = BTreeMap<String, (usize, String)>;

/// What the stages share: the target's keys, the options and the findings so far.
struct Stages<'a> {
    t: &'a TargetIndex,
    opts: &'a MoveOptions,
    conflicts: Vec<Conflict>,
}

impl Planner<'_> {
    pub(super) fn plan(self) -> Result<MovePlan, DitError> {
        let Planner {
            t,
            mut s,
            opts,
            mut tr,
            file,
        } = self;
        let mut st = Stages {
            t: &t,
            opts,
            conflicts: Vec::new(),
        };
        let (old, new) = (tr.old.clone(), tr.new.clone());
        let alias_domains = st.domains(&s, &old, &new)?;
        // (entry, whether it is in the moved domain itself)
        let mut moving: Vec<(Moved, bool)> = std::mem::take(&mut s.main_entries)
            .into_iter()
            .map(|m| (m, true))
            .collect();
        for (d, o) in std::mem::take(&mut s.others) {
            let dom = s.other_domains.get(d as usize);
            if dom.is_some_and(|dom| alias_domains.contains(dom)) {
                moving.push((s.other_keys(o, file.as_deref())?, false));
            }
        }
        let mut extra = st.coses(&s, &moving, &mut tr);
        let (host_uses, moved_hosts) = st.hosts(&s, &moving, &tr, &mut extra);
        let moved_domains: FxSet<String> = std::iter::once(old.to_string())
            .chain(alias_domains.iter().cloned())
            .collect();
        let references = reference::resolve(
            std::mem::take(&mut s.candidates),
            moving.iter().map(|(m, in_main)| (m, *in_main)),
            &s.groups,
            &moved_domains,
            &tr,
        );
        moving.extend(extra.into_iter().map(|m| (m, false)));
        st.ids(&moving, &mut tr);
        let planned = rewrite_all(moving, &tr, &t)?;
        st.alias_targets(&planned);
        st.addresses(&planned);
        let (slots, changes) = st.place(planned)?;
        let domain_entry = slots.iter().find_map(|s| match s {
            Slot::Ready(e)
                if e.kind == EntryKind::Domain
                    && e.attrs.has_value_ci(names::DOMAIN_NAME, new.as_str()) =>
            {
                Some(e)
            }
            _ => None,
        });
        let follow_ups = follow_ups(
            new.as_str(),
            domain_entry,
            host_uses.into_keys().collect(),
            moved_hosts,
            TokenKeys::compare(s.token_keys.take(), t.token_keys.clone()),
        );
        let id_map = tr.id_map.clone();
        Ok(MovePlan {
            domain: old.to_string(),
            new_domain: new.to_string(),
            alias_domains,
            conflicts: st.conflicts,
            entries: PlannedEntries {
                slots,
                store: Store {
                    arena: Arc::new(std::mem::take(&mut s.arena)),
                    file,
                    transform: Some(Arc::new(tr)),
                },
            },
            changes,
            follow_ups,
            references,
            id_map,
        })
    }
}

impl Stages<'_> {
    /// The moved domain must be in the source; it and its alias domains must not be in the
    /// target. Returns the alias domains that move with it.
    fn domains(
        &mut self,
        s: &SourceScan,
        old: &DomainName,
        new: &DomainName,
    ) -> Result<Vec<String>, DitError> {
        let t = self.t;
        let Some(main) = s.domains.iter().find(|d| d.name == old.as_str()) else {
            return Err(DitError::DomainNotFound {
                domain: old.to_string(),
            });
        };
        let main_id = main.id.clone();
        if main.is_alias && !t.domain_ids.contains(&main.alias_target) {
            self.conflicts.push(Conflict::AliasDomainTargetNotMoved {
                alias_domain: old.to_string(),
                target_id: main.alias_target.clone(),
            });
        }
        if let Some(&i) = t.domains.get(new.as_str()) {
            self.conflicts.push(Conflict::DomainExists {
                domain: new.to_string(),
                target_dn: t.dn(i),
            });
        }
        let alias_domains: Vec<String> = if self.opts.include_alias_domains {
            s.domains
                .iter()
                .filter(|d| d.is_alias && d.alias_target == main_id && !main_id.is_empty())
                .map(|d| d.name.clone())
                .collect()
        } else {
            Vec::new()
        };
        for a in &alias_domains {
            if let Some(&i) = t.domains.get(a) {
                self.conflicts.push(Conflict::DomainExists {
                    domain: a.clone(),
                    target_dn: t.dn(i),
                });
            }
        }
        Ok(alias_domains)
    }

    /// Each COS the moved entries use maps to a target COS (by the options' map, by name or
    /// by id), is copied, or is a conflict. Returns the copies.
    fn coses(
        &mut self,
        s: &SourceScan,
        moving: &[(Moved, bool)],
        tr: &mut Transform,
    ) -> Vec<Moved> {
        let (t, opts) = (self.t, self.opts);
        let mut cos_uses = Uses::new();
        for (m, _) in moving {
            for a in 0..COS_REF_ATTRS.len() {
                for v in m.cos_refs(a) {
                    let e = cos_uses
                        .entry(lower(v))
                        .or_insert((0, m.source_dn.to_string()));
                    e.0 += 1;
                }
            }
        }
        let mut extra: Vec<Moved> = Vec::new();
        for (cos_id, (count, used_by)) in &cos_uses {
            let src = s
                .coses
                .iter()
                .find(|c| c.attrs.has_value_ci(names::ZIMBRA_ID, cos_id));
            let name = src
                .and_then(|c| c.attrs.first(names::CN))
                .map(str::to_string);
            let mapped = name
                .as_ref()
                .and_then(|n| opts.cos_map.iter().find(|(s, _)| s.eq_ignore_ascii_case(n)));
            if let (Some(n), Some((_, to))) = (&name, mapped) {
                match t.coses.get(&lower(to)) {
                    Some(tid) => {
                        if tid != cos_id {
                            tr.id_map.insert(cos_id.clone(), tid.clone());
                        }
                    }
                    None => self.conflicts.push(Conflict::CosMapTargetMissing {
                        source_cos: n.clone(),
                        target_cos: to.clone(),
                    }),
                }
                continue;
            }
            if let Some(tid) = name.as_ref().and_then(|n| t.coses.get(&lower(n))) {
                if tid != cos_id {
                    tr.id_map.insert(cos_id.clone(), tid.clone());
                }
                continue;
            }
            if t.cos_ids.contains(cos_id) {
                continue;
            }
            match src {
                Some(c) if opts.copy_missing_cos => extra.push(Moved::whole(EntryKind::Cos, c)),
                _ => self.conflicts.push(Conflict::CosMissing {
                    cos_id: cos_id.clone(),
                    cos_name: name,
                    used_by: used_by.clone(),
                    count: *count,
                }),
            }
        }
        extra
    }

    /// Each mail host (after the host map) must be a target server, or a server copied from
    /// the source (into `extra`). Returns the hosts' uses and the entries per moved host pair.
    fn hosts(
        &mut self,
        s: &SourceScan,
        moving: &[(Moved, bool)],
        tr: &Transform,
        extra: &mut Vec<Moved>,
    ) -> (Uses, BTreeMap<(String, String), usize>) {
        let mut host_uses = Uses::new();
        let mut moved_hosts: BTreeMap<(String, String), usize> = BTreeMap::new();
        for (m, _) in moving {
            if let Some(h) = m.host.as_deref() {
                let to = tr.map_host(h).unwrap_or_else(|| h.to_string());
                let e = host_uses
                    .entry(lower(&to))
                    .or_insert((0, m.source_dn.to_string()));
                e.0 += 1;
                if !to.eq_ignore_ascii_case(h) {
                    *moved_hosts.entry((h.to_string(), to)).or_insert(0) += 1;
                }
            }
        }
        for (host, (count, used_by)) in &host_uses {
            if self.t.servers.contains(host) {
                continue;
            }
            let src = s.servers.iter().find(|sv| {
                sv.attrs.has_value_ci(names::CN, host)
                    || sv.attrs.has_value_ci(names::SERVICE_HOSTNAME, host)
            });
            match src {
                Some(sv) if self.opts.include_servers => {
                    extra.push(Moved::whole(EntryKind::Server, sv))
                }
                _ => self.conflicts.push(Conflict::MailHostUnknown {
                    host: host.clone(),
                    used_by: used_by.clone(),
                    count: *count,
                }),
            }
        }
        (host_uses, moved_hosts)
    }

    /// Ids the target already uses are conflicts or get new ids (into the id map), as the
    /// options say.
    fn ids(&mut self, moving: &[(Moved, bool)], tr: &mut Transform) {
        let t = self.t;
        // the moved entries' own ids, which fresh ids must not take either: needed only
        // when an id is made, so built then
        let mut moved_ids: Option<FxSet<String>> = None;
        let mut gen = IdGenerator::new(self.opts.id_seed);
        for (m, _) in moving {
            for id in &m.ids {
                let id = lower(id);
                if tr.id_map.contains_key(&id) {
                    continue;
                }
                let clash = t.ids.get(&id).copied();
                let regenerate = match self.opts.ids {
                    IdPolicy::Keep => {
                        if let Some(i) = clash {
                            self.conflicts.push(Conflict::IdInUse {
                                id: id.clone(),
                                dn: m.source_dn.to_string(),
                                target_dn: t.dn(i),
                            });
                        }
                        false
                    }
                    IdPolicy::RegenerateOnCollision => clash.is_some(),
                    IdPolicy::RegenerateAll => true,
                };
                if regenerate {
                    let moved_ids = moved_ids.get_or_insert_with(|| {
                        moving
                            .iter()
                            .flat_map(|(m, _)| m.ids.iter())
                            .map(|i| lower(i))
                            .collect()
                    });
                    let fresh = loop {
                        let c = gen.next_id().to_string();
                        if !t.ids.contains_key(&c) && !moved_ids.contains(&c) {
                            break c;
                        }
                    };
                    tr.id_map.insert(id, fresh);
                }
            }
        }
    }

    /// A moved alias entry must point at a moved entry or one the target has.
    fn alias_targets(&mut self, planned: &[Planned]) {
        if !planned
            .iter()
            .any(|p| p.kind == EntryKind::Alias && p.alias_target.is_some())
        {
            return;
        }
        let final_ids: FxSet<String> = planned
            .iter()
            .flat_map(|p| p.ids.iter())
            .map(|i| lower(i))
            .collect();
        for p in planned {
            if p.kind != EntryKind::Alias {
                continue;
            }
            if let Some(tid) = &p.alias_target {
                let tid = lower(tid);
                if !final_ids.contains(&tid) && !self.t.ids.contains_key(&tid) {
                    self.conflicts.push(Conflict::AliasTargetNotMoved {
                        alias: parse_dn(&p.dn)
                            .ok()
                            .and_then(|d| address_of_dn(&d, "uid"))
                            .unwrap_or_else(|| p.dn.to_string()),
                        dn: p.dn.to_string(),
                        target_id: tid,
                    });
                }
            }
        }
    }

    /// A moved address must not be in use in the target, nor (`mail`, which the target's
    /// unique overlay covers) by another moved entry.
    fn addresses(&mut self, planned: &[Planned]) {
        let mut moved_mail: FxMap<&str, usize> = FxMap::default();
        for (idx, p) in planned.iter().enumerate() {
            for k in &p.keys {
                let attribute = ADDRESS_ATTRS
                    .get(k.attr as usize)
                    .copied()
                    .unwrap_or_default();
                let target_dn = match k.in_target {
                    Some(i) => self.t.dn(i),
                    None if attribute != names::MAIL => continue,
                    None => match moved_mail.get(&*k.key) {
                        None => {
                            moved_mail.insert(&k.key, idx);
                            continue;
                        }
                        Some(&other) if other == idx => continue,
                        Some(&other) => planned
                            .get(other)
                            .map(|o| o.dn.to_string())
                            .unwrap_or_default(),
                    },
                };
                self.conflicts.push(Conflict::AddressInUse {
                    address: k.key.to_string(),
                    attribute: attribute.to_string(),
                    dn: p.dn.to_string(),
                    target_dn,
                });
            }
        }
    }

    /// Places the entries: DN collisions are conflicts, a domain whose DN the target has as a
    /// plain parent entry becomes a change record, missing parents are created, and all is
    /// sorted parents first.
    fn place(&mut self, planned: Vec<Planned>) -> Result<(Vec<Slot>, Vec<Change>), DitError> {
        let t = self.t;
        let mut changes = Vec::new();
        let mut keep: Vec<Planned> = Vec::with_capacity(planned.len());
        let mut have: FxSet<String> =
            FxSet::with_capacity_and_hasher(planned.len(), Default::default());
        let mut merged: Vec<(Box<str>, Box<str>)> = Vec::new();
        // kept (true) and merged (false) entries in plan order, for the parents
        let mut walk: Vec<(bool, usize)> = Vec::with_capacity(planned.len());
        for mut p in planned {
            match t.by_dn.get(&*p.norm) {
                None => {
                    have.insert(std::mem::take(&mut p.norm).into());
                    walk.push((true, keep.len()));
                    keep.push(p);
                }
                Some((_, EntryKind::ParentDomain)) if p.kind == EntryKind::Domain => {
                    let existing = t.classes.get(&*p.norm).cloned().unwrap_or_default();
                    if let Some(e) = &p.ready {
                        changes.push(merge_into_parent(&parse_dn(&p.dn)?, &existing, &e.attrs));
                    }
                    walk.push((false, merged.len()));
                    merged.push((p.dn, p.key));
                }
                Some((_, EntryKind::Container)) if p.kind == EntryKind::Container => {}
                Some((_, EntryKind::Domain)) if p.kind == EntryKind::Domain => {
                    // reported as DomainExists above (by name) unless the name differs
                    if !self
                        .conflicts
                        .iter()
                        .any(|c| matches!(c, Conflict::DomainExists { .. }))
                    {
                        self.conflicts.push(Conflict::DnExists {
                            dn: p.dn.to_string(),
                        });
                    }
                }
                Some(_) => self.conflicts.push(Conflict::DnExists {
                    dn: p.dn.to_string(),
                }),
            }
        }
        let mut added: Vec<(String, PlannedEntry)> = Vec::new();
        // parents (by sort key) whose ancestors were looked at already
        let mut checked: FxSet<Box<str>> = FxSet::default();
        for (kept, i) in walk {
            let (dn, key, kind) = match kept {
                true => match keep.get(i) {
                    Some(p) => (&p.dn, &p.key, p.kind),
                    None => continue,
                },
                false => match merged.get(i) {
                    Some((d, k)) => (d, k, EntryKind::Domain),
                    None => continue,
                },
            };
            // Siblings share parents: walk up only from a parent not walked from yet.
            let parent_key = key.rsplit_once('\u{1}').map(|(p, _)| p);
            let walk_up = parent_key.is_some_and(|k| checked.insert(k.into()));
            if kind != EntryKind::Domain && !walk_up {
                continue;
            }
            let dn = parse_dn(dn)?;
            for parent in wanted_parents(&dn, kind, walk_up) {
                if have.contains(parent.normalized()) || t.by_dn.contains_key(parent.normalized()) {
                    continue;
                }
                let Some(bag) = synthesize_parent(&parent) else {
                    return Err(DitError::MissingParent {
                        dn: dn.as_str().to_string(),
                        parent: parent.as_str().to_string(),
                    });
                };
                have.insert(parent.normalized().to_string());
                added.push((
                    sort_key(&parent),
                    PlannedEntry {
                        kind: classify(&parent, &bag),
                        dn: parent.as_str().to_string(),
                        source_dn: None,
                        attrs: bag,
                    },
                ));
            }
        }
        drop(have);
        drop(checked);
        let mut keyed: Vec<(Box<str>, Slot)> = Vec::with_capacity(keep.len() + added.len());
        for p in keep {
            let slot = match p.ready {
                Some(e) => Slot::Ready(e),
                None => Slot::Held {
                    kind: p.kind,
                    dn: p.dn,
                    source_dn: p.source_dn,
                    held: p.held,
                },
            };
            keyed.push((p.key, slot));
        }
        for (key, e) in added {
            keyed.push((key.into(), Slot::Ready(e)));
        }
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        Ok((keyed.into_iter().map(|(_, s)| s).collect(), changes))
    }
}

/// A moved entry with its target DN and checked values, rewritten by `tr`, its addresses
/// looked up in the target `t`.
fn rewrite(
    m: Moved,
    in_main: bool,
    tr: &Transform,
    t: &TargetIndex,
    dns: &mut DnParser,
) -> Result<Planned, DitError> {
    let mut m = m;
    let f = match m.facts.take() {
        // worked out while scanning, for the moved domain's entries and this transform
        Some(f) if in_main => f,
        _ => dns.facts(&m.source_dn, in_main.then_some(tr))?,
    };
    let (dn, norm, key) = (f.text, f.norm, f.key);
    if let Held::Bag(b) = &m.held {
        let mut attrs = (**b).clone();
        tr.attrs(&mut attrs, in_main && m.kind == EntryKind::Domain);
        let all = lines(&attrs);
        let l = || all.iter().copied();
        let ids = strs(l(), names::ZIMBRA_ID).map(Into::into).collect();
        let addrs: Vec<(u8, Box<str>)> = l()
            .filter_map(|(d, v)| {
                let i = ADDRESS_ATTRS
                    .iter()
                    .position(|a| d.eq_ignore_ascii_case(a))?;
                Some((i as u8, std::str::from_utf8(v).ok()?.into()))
            })
            .collect();
        let alias_target = attrs.first(names::ALIAS_TARGET_ID).map(Into::into);
        let e = PlannedEntry {
            kind: m.kind,
            dn: dn.to_string(),
            source_dn: Some(m.source_dn.to_string()),
            attrs,
        };
        return Ok(Planned {
            kind: m.kind,
            dn,
            norm,
            key,
            source_dn: m.source_dn,
            ready: Some(e),
            held: Held::Bag(Box::default()),
            ids,
            alias_target,
            keys: address_keys(&addrs, t),
        });
    }
    let rewrite = |name: &str, v: &mut Box<str>| {
        if let Some(n) = tr.value(name, v) {
            *v = n.into();
        }
    };
    for v in &mut m.ids {
        rewrite(names::ZIMBRA_ID, v);
    }
    for (i, v) in &mut m.addrs {
        rewrite(ADDRESS_ATTRS[*i as usize], v);
    }
    if let Some(v) = &mut m.alias_target {
        rewrite(names::ALIAS_TARGET_ID, v);
    }
    Ok(Planned {
        kind: m.kind,
        dn,
        norm,
        key,
        source_dn: m.source_dn,
        ready: None,
        held: m.held,
        ids: m.ids,
        alias_target: m.alias_target,
        keys: address_keys(&m.addrs, t),
    })
}
