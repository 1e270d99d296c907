//! The move's entries and how they are written: kept as places in the source (or in a compact
//! arena) until [`PlannedEntries::iter`] or [`MovePlan::write_ldif`](super::MovePlan::write_ldif)
//! reads them back one at a time and rewrites them, so a plan costs memory for its keys, not
//! for the moved entries' attributes.

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};

use super::input::{bag, decode, lines, Held};
use super::transform::{role, Role, Transform};
use super::DitError;
use crate::dit::EntryKind;
use crate::dn::Dn;
use crate::ldif::{
    Change, ChangeOp, ModOp, Modification, Reader, RecordRef, WriteError, Writer, WriterOptions,
};
use crate::model::attr_name::ci_hash;
use crate::model::hash::FxMap;
use crate::model::{names, AttrBag};

/// One entry of the move's LDIF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEntry {
    /// What it is.
    pub kind: EntryKind,
    /// Its DN in the target.
    pub dn: String,
    /// Its DN in the source (`None` for parent entries created by the plan).
    pub source_dn: Option<String>,
    /// Its attributes, as they will be written.
    pub attrs: AttrBag,
}

/// One planned entry as the plan keeps it.
#[derive(Debug, Clone)]
pub(super) enum Slot {
    /// Complete (domains, COS and server copies, created parents, entries given in code).
    Ready(PlannedEntry),
    /// A moved entry whose attributes are read back and rewritten when needed.
    Held {
        kind: EntryKind,
        dn: Box<str>,
        source_dn: Box<str>,
        held: Held,
    },
}

impl Slot {
    fn kind(&self) -> EntryKind {
        match self {
            Slot::Ready(e) => e.kind,
            Slot::Held { kind, .. } => *kind,
        }
    }

    fn dn(&self) -> &str {
        match self {
            Slot::Ready(e) => &e.dn,
            Slot::Held { dn, .. } => dn,
        }
    }
}

/// The source file a plan reads its moved entries back from.
#[derive(Debug)]
pub(super) struct SourceFile {
    pub(super) path: PathBuf,
    pub(super) file: File,
    /// Serializes seek + read where there is no positional read.
    #[cfg(not(unix))]
    pub(super) lock: Mutex<()>,
}

impl SourceFile {
    pub(super) fn new(path: PathBuf, file: File) -> SourceFile {
        SourceFile {
            path,
            file,
            #[cfg(not(unix))]
            lock: Mutex::new(()),
        }
    }

    /// Reads `len` bytes at `offset` into `buf` (positional: threads read at once).
    fn read_at(&self, buf: &mut Vec<u8>, offset: u64, len: u64) -> std::io::Result<()> {
        let len = usize::try_from(len).map_err(std::io::Error::other)?;
        buf.clear();
        buf.resize(len, 0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileExt;
            self.file.read_exact_at(buf, offset)
        }
        #[cfg(not(unix))]
        {
            use std::io::{Read, Seek, SeekFrom};
            let _one = self
                .lock
                .lock()
                .map_err(|_| std::io::Error::other("lock poisoned"))?;
            let mut f = &self.file;
            f.seek(SeekFrom::Start(offset))?;
            f.read_exact(buf)
        }
    }

    /// Reads back the record at `offset..offset + len` (into `buf`) and hands it to `f`; the
    /// record must be the entry `dn` when that is given.
    pub(super) fn record<T>(
        &self,
        buf: &mut Vec<u8>,
        offset: u64,
        len: u64,
        dn: Option<&str>,
        f: impl FnOnce(&RecordRef<'_>) -> Result<T, DitError>,
    ) -> Result<T, DitError> {
        let path = self.path.display();
        let who = dn.unwrap_or_default();
        self.read_at(buf, offset, len)
            .map_err(|e| changed(who, format!("{path}: {e}")))?;
        let mut r = Reader::new(&buf[..]);
        match r.next_ref() {
            Ok(Some(rec)) if dn.is_none_or(|d| rec.dn() == d) && !rec.is_change() => f(&rec),
            Ok(_) => Err(changed(
                who,
                format!("{path}: not the entry found at byte {offset} while planning"),
            )),
            Err(e) => Err(changed(who, format!("{path}: {e}"))),
        }
    }
}

/// Where held entries are read back from, and how they are rewritten.
#[derive(Debug, Clone, Default)]
pub(super) struct Store {
    pub(super) arena: Arc<Vec<u8>>,
    pub(super) file: Option<Arc<SourceFile>>,
    pub(super) transform: Option<Arc<Transform>>,
}

/// The entries of a [`MovePlan`](super::MovePlan) for `slapadd`, parents before children.
///
/// A plan keeps the moved entries where they are — at their place in the source file for
/// [`plan_move_file`](super::plan_move_file), in a compact arena for sources that cannot be
/// read twice — and builds each [`PlannedEntry`] when it is asked for. Reading back can fail
/// (the source file became unreadable or changed since planning), so [`iter`](Self::iter)
/// yields `Result`s.
///
/// ```
/// use zimbra_prov::dit::{PlannedEntries, PlannedEntry, EntryKind};
/// use zimbra_prov::model::AttrBag;
/// let mut attrs = AttrBag::new();
/// attrs.set("objectClass", ["organizationalRole"]);
/// let entries = PlannedEntries::from(vec![PlannedEntry {
///     kind: EntryKind::Container, dn: "cn=x".into(), source_dn: None, attrs,
/// }]);
/// assert_eq!(entries.len(), 1);
/// assert_eq!(entries.to_vec()?[0].dn, "cn=x");
/// # Ok::<(), zimbra_prov::dit::DitError>(())
/// ```
#[derive(Clone, Default)]
pub struct PlannedEntries {
    pub(super) slots: Vec<Slot>,
    pub(super) store: Store,
}

impl fmt::Debug for PlannedEntries {
    /// How many entries and where they are kept (not the entries: there may be millions).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlannedEntries")
            .field("len", &self.slots.len())
            .field("source_file", &self.store.file.as_ref().map(|s| &s.path))
            .field("arena_bytes", &self.store.arena.len())
            .finish()
    }
}

impl PartialEq for PlannedEntries {
    /// Entry by entry, as built: plans compare equal whatever keeps their entries (an entry
    /// that cannot be read back equals nothing).
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|(a, b)| matches!((a, b), (Ok(a), Ok(b)) if a == b))
    }
}

impl From<Vec<PlannedEntry>> for PlannedEntries {
    fn from(v: Vec<PlannedEntry>) -> Self {
        PlannedEntries {
            slots: v.into_iter().map(Slot::Ready).collect(),
            store: Store::default(),
        }
    }
}

impl PlannedEntries {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The kinds of the entries, in order.
    pub fn kinds(&self) -> impl Iterator<Item = EntryKind> + '_ {
        self.slots.iter().map(Slot::kind)
    }

    /// The target DNs of the entries, in order.
    pub fn dns(&self) -> impl Iterator<Item = &str> + '_ {
        self.slots.iter().map(Slot::dn)
    }

    /// The entries in order, each built when it is reached.
    pub fn iter(&self) -> impl Iterator<Item = Result<PlannedEntry, DitError>> + '_ {
        self.slots.iter().map(|s| self.build(s))
    }

    /// All entries at once (for small plans and tests; large plans use [`iter`](Self::iter)).
    pub fn to_vec(&self) -> Result<Vec<PlannedEntry>, DitError> {
        self.iter().collect()
    }

    fn build(&self, slot: &Slot) -> Result<PlannedEntry, DitError> {
        let (kind, dn, source_dn, held) = match slot {
            Slot::Ready(e) => return Ok(e.clone()),
            Slot::Held {
                kind,
                dn,
                source_dn,
                held,
            } => (*kind, dn, source_dn, held),
        };
        let mut attrs = match held {
            Held::Bag(b) => (**b).clone(),
            Held::Arena(s, e) => bag(decode(self.store.arena.get(*s..*e).unwrap_or_default())),
            Held::File(offset, len) => {
                let mut buf = Vec::new();
                self.read_back(source_dn, (*offset, *len), &mut buf, |rec| {
                    Ok(bag(rec.attributes()))
                })?
            }
        };
        if let Some(t) = &self.store.transform {
            t.attrs(&mut attrs, false);
        }
        Ok(PlannedEntry {
            kind,
            dn: dn.to_string(),
            source_dn: Some(source_dn.to_string()),
            attrs,
        })
    }

    /// Reads back the record at `offset..offset + len` of the source file (into `buf`), which
    /// must still be the entry `source_dn`, and hands it to `f`.
    fn read_back<T>(
        &self,
        source_dn: &str,
        (offset, len): (u64, u64),
        buf: &mut Vec<u8>,
        f: impl FnOnce(&RecordRef<'_>) -> Result<T, DitError>,
    ) -> Result<T, DitError> {
        match &self.store.file {
            Some(src) => src.record(buf, offset, len, Some(source_dn), f),
            None => Err(changed(source_dn, "no source file".into())),
        }
    }

    /// Writes the entries as LDIF for `slapadd`; returns how many. Entries are read back and
    /// formatted in chunks on all cores while this thread writes the chunks in order (a few
    /// chunks ahead at most, so memory stays bounded); the bytes are the same as one writer's.
    pub(super) fn write<W: Write>(&self, mut out: W) -> Result<u64, DitError> {
        const CHUNK: usize = 512;
        let chunks: Vec<&[Slot]> = self.slots.chunks(CHUNK).collect();
        let workers = crate::par::cores().min(chunks.len()).min(8);
        if workers <= 1 {
            for c in &chunks {
                out.write_all(&self.format(c)?).map_err(WriteError::from)?;
            }
            out.flush().map_err(WriteError::from)?;
            return Ok(self.slots.len() as u64);
        }
        let window = 2 * workers;
        let shared = Mutex::new(Pipeline::default());
        let ready = Condvar::new();
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| loop {
                    let i = {
                        let Ok(mut p) = shared.lock() else { return };
                        while p.next < chunks.len() && p.next >= p.written + window && !p.stop {
                            p = match ready.wait(p) {
                                Ok(p) => p,
                                Err(_) => return,
                            };
                        }
                        if p.stop || p.next >= chunks.len() {
                            return;
                        }
                        p.next += 1;
                        p.next - 1
                    };
                    let done = chunks.get(i).map_or(Ok(Vec::new()), |c| self.format(c));
                    if let Ok(mut p) = shared.lock() {
                        p.done.insert(i, done);
                    }
                    ready.notify_all();
                });
            }
            let stop = |e: DitError| {
                if let Ok(mut p) = shared.lock() {
                    p.stop = true;
                }
                ready.notify_all();
                Err(e)
            };
            for i in 0..chunks.len() {
                let done = {
                    let Ok(mut p) = shared.lock() else {
                        return stop(changed("", "a formatting thread failed".into()));
                    };
                    loop {
                        if let Some(d) = p.done.remove(&i) {
                            p.written = i + 1;
                            break d;
                        }
                        p = match ready.wait(p) {
                            Ok(p) => p,
                            Err(_) => {
                                return stop(changed("", "a formatting thread failed".into()))
                            }
                        };
                    }
                };
                ready.notify_all();
                match done {
                    Ok(bytes) => {
                        if let Err(e) = out.write_all(&bytes) {
                            return stop(WriteError::from(e).into());
                        }
                    }
                    Err(e) => return stop(e),
                }
            }
            out.flush().map_err(WriteError::from)?;
            Ok(self.slots.len() as u64)
        })
    }

    /// The LDIF of a run of entries.
    fn format(&self, slots: &[Slot]) -> Result<Vec<u8>, DitError> {
        let mut w = Writer::new(
            Vec::with_capacity(slots.len() * 2048),
            WriterOptions::slapadd_mode(),
        );
        let tr = self.store.transform.as_deref();
        let mut buf = Vec::new();
        let mut scratch = EmitScratch::default();
        for slot in slots {
            match slot {
                Slot::Ready(e) => {
                    let all = lines(&e.attrs);
                    w.write_entry_parts(&e.dn, all.iter().copied())?;
                }
                Slot::Held {
                    dn,
                    source_dn,
                    held,
                    ..
                } => match held {
                    Held::Bag(b) => emit(&mut w, dn, lines(b).into_iter(), tr, &mut scratch)?,
                    Held::Arena(s, e) => {
                        let bytes = self.store.arena.get(*s..*e).unwrap_or_default();
                        emit(&mut w, dn, decode(bytes), tr, &mut scratch)?
                    }
                    Held::File(offset, len) => {
                        self.read_back(source_dn, (*offset, *len), &mut buf, |rec| {
                            emit(&mut w, dn, rec.attributes(), tr, &mut scratch)
                        })?
                    }
                },
            }
        }
        Ok(w.into_inner()?)
    }
}

/// What the formatting threads of [`PlannedEntries::write`] share.
#[derive(Default)]
struct Pipeline {
    /// The next chunk to format.
    next: usize,
    /// Chunks written so far.
    written: usize,
    /// Formatted chunks not written yet.
    done: std::collections::BTreeMap<usize, Result<Vec<u8>, DitError>>,
    /// Stop formatting (the writer failed).
    stop: bool,
}

/// What [`emit`] keeps from one entry to the next: the attribute names seen so far (by a hash
/// that ignores case) and what the move does to their values.
#[derive(Default)]
struct EmitScratch {
    /// Case-insensitive hash of a name → (the name, its [`Role`]).
    roles: FxMap<u64, (Box<str>, Role)>,
    /// Case-insensitive hash of a name → the first of the entry's groups with that hash.
    groups: FxMap<u64, usize>,
}

impl EmitScratch {
    fn role(&mut self, name: &str, hash: u64) -> Role {
        match self.roles.get(&hash) {
            Some((n, r)) if **n == *name || n.eq_ignore_ascii_case(name) => *r,
            Some(_) => role(name),
            None => {
                let r = role(name);
                self.roles.insert(hash, (name.into(), r));
                r
            }
        }
    }
}

/// Writes one held entry: its lines grouped attribute by attribute under the first spelling
/// (as an [`AttrBag`] holds them), values rewritten by `tr` — the bytes
/// [`PlannedEntries::iter`]'s entries would be written as, without building them.
fn emit<'a, W: Write>(
    w: &mut Writer<W>,
    dn: &str,
    attrs: impl Iterator<Item = (&'a str, &'a [u8])>,
    tr: Option<&Transform>,
    scratch: &mut EmitScratch,
) -> Result<(), DitError> {
    let lines: Vec<(&str, &[u8])> = attrs.collect();
    // groups in order of first appearance, each with its first spelling and role
    let mut names: Vec<(&str, Role)> = Vec::new();
    let mut group: Vec<usize> = Vec::with_capacity(lines.len());
    // whether each attribute's lines are together already (slapcat writes them so)
    let mut together = true;
    scratch.groups.clear();
    for (d, _) in &lines {
        let prev = group.last().copied();
        let g = match prev {
            Some(p) if names.get(p).is_some_and(|(n, _)| n.eq_ignore_ascii_case(d)) => p,
            _ => {
                let h = ci_hash(d);
                let found = match scratch.groups.get(&h) {
                    Some(&g) if names.get(g).is_some_and(|(n, _)| n.eq_ignore_ascii_case(d)) => {
                        Some(g)
                    }
                    // another name with the same hash: look through them all
                    Some(_) => names.iter().position(|(n, _)| n.eq_ignore_ascii_case(d)),
                    None => None,
                };
                match found {
                    Some(g) => {
                        together = false;
                        g
                    }
                    None => {
                        let r = match tr {
                            Some(_) => scratch.role(d, h),
                            None => Role::Kept,
                        };
                        names.push((d, r));
                        scratch.groups.entry(h).or_insert(names.len() - 1);
                        names.len() - 1
                    }
                }
            }
        };
        group.push(g);
    }
    let mut order: Vec<usize> = (0..lines.len()).collect();
    if !together {
        order.sort_by_key(|&i| group.get(i).copied().unwrap_or_default());
    }
    let new: Vec<Option<String>> = lines
        .iter()
        .zip(&group)
        .map(|((_, v), &g)| match (tr, names.get(g)) {
            (Some(tr), Some(&(_, r))) if r != Role::Kept => {
                tr.value_as(r, std::str::from_utf8(v).ok()?)
            }
            _ => None,
        })
        .collect();
    let out: Vec<(&str, &[u8])> = order
        .iter()
        .filter_map(|&i| {
            let (_, v) = lines.get(i)?;
            let (name, _) = names.get(*group.get(i)?)?;
            let value = match new.get(i) {
                Some(Some(n)) => n.as_bytes(),
                _ => v,
            };
            Some((*name, value))
        })
        .collect();
    w.write_entry_parts(dn, out.iter().copied())?;
    Ok(())
}

fn changed(dn: &str, why: String) -> DitError {
    DitError::SourceChanged {
        dn: dn.to_string(),
        why,
    }
}

/// Operational attributes a client cannot write.
const NO_USER_MODIFICATION: [&str; 8] = [
    "structuralObjectClass",
    "entryUUID",
    "entryCSN",
    "createTimestamp",
    "creatorsName",
    "modifiersName",
    "modifyTimestamp",
    "contextCSN",
];

/// The modify that turns an existing parent `dc=` entry into the moved domain (what
/// Zimbra's createDomain does when the DN exists: it replaces the attributes).
pub(super) fn merge_into_parent(dn: &Dn, existing_classes: &[String], attrs: &AttrBag) -> Change {
    let mut mods = Vec::new();
    let add_classes: Vec<Vec<u8>> = attrs
        .values(names::OBJECT_CLASS)
        .iter()
        .filter(|v| {
            !existing_classes
                .iter()
                .any(|c| c.as_bytes().eq_ignore_ascii_case(v.as_bytes()))
        })
        .map(|v| v.as_bytes().to_vec())
        .collect();
    if !add_classes.is_empty() {
        mods.push(Modification {
            op: ModOp::Add,
            attribute: names::OBJECT_CLASS.to_string(),
            values: add_classes,
        });
    }
    for a in attrs.iter() {
        if a.name().eq_ignore_ascii_case(names::OBJECT_CLASS)
            || a.name().eq_ignore_ascii_case("dc")
            || NO_USER_MODIFICATION
                .iter()
                .any(|n| n.eq_ignore_ascii_case(a.name()))
        {
            continue;
        }
        mods.push(Modification {
            op: ModOp::Replace,
            attribute: a.name().to_string(),
            values: a.values().map(|v| v.as_bytes().to_vec()).collect(),
        });
    }
    Change::new(dn.clone(), ChangeOp::Modify(mods))
}

/// Writes the change records (for `ldapmodify`, with a `version: 1` line).
pub(super) fn write_changes<W: Write>(changes: &[Change], out: W) -> Result<u64, DitError> {
    let mut w = Writer::new(out, WriterOptions::default());
    for c in changes {
        w.write_change(c)?;
    }
    w.flush()?;
    Ok(changes.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_into_parent_skips_operational_and_naming() {
        let dn = Dn::parse("dc=company,dc=com").unwrap();
        let mut b = AttrBag::new();
        b.set("objectClass", ["dcObject", "organization", "zimbraDomain"]);
        b.set_one("dc", "company");
        b.set_one("zimbraDomainName", "company.com");
        b.set_one("entryUUID", "x");
        let c = merge_into_parent(&dn, &["dcObject".into(), "organization".into()], &b);
        let ChangeOp::Modify(mods) = c.op else {
            panic!()
        };
        assert_eq!(mods.len(), 2);
        assert_eq!(mods[0].values, vec![b"zimbraDomain".to_vec()]);
        assert_eq!(mods[1].attribute, "zimbraDomainName");
    }
}
