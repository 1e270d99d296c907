//! Compact storage for the index: every key, value and DN text in one arena (`String`), spans
//! into it, and immutable open-addressing hash tables whose keys are arena slices and whose
//! answers are ranges of one flat vector per shard — no allocation per key or per value.
//!
//! A table is split into [`SHARDS`] shards by the top bits of the key's hash, so that the shards
//! can be built on several threads (see `build`); a shard is a slot array (linear probing) over
//! a vector of entries `(hash, key span, answer range)`.

use std::hash::Hasher;
use std::sync::Arc;

use crate::model::hash::FxHasher;

/// Number of shards of every table (a power of two).
pub(crate) const SHARDS: usize = 16;
/// Tables [`Table::get_many`] reads side by side.
const MANY: usize = 16;
const SHARD_SHIFT: u32 = 64 - SHARDS.trailing_zeros();

/// Lengths from this one up are stored with a 16 hex-digit length header in the arena.
const LONG: u32 = (1 << 24) - 1;
const HEADER: usize = 16;

/// A string in an arena: a 40-bit start (1 TiB of text) and a 24-bit length, packed into two
/// `u32`s so that structures holding spans keep a 4-byte alignment. A string of 16 MiB or
/// more keeps its length in the arena, as 16 hex digits in front of the text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    lo: u32,
    hi: u32,
}

impl Span {
    fn new(start: usize, len: usize) -> Span {
        let start = start as u64;
        debug_assert!(start < 1 << 40);
        let len = len.min(LONG as usize) as u32;
        Span {
            lo: start as u32,
            hi: ((start >> 32) as u32) | (len << 8),
        }
    }

    fn start(self) -> usize {
        (u64::from(self.lo) | (u64::from(self.hi & 0xff) << 32)) as usize
    }

    fn len_field(self) -> u32 {
        self.hi >> 8
    }

    /// The same string in an arena that starts `base` bytes earlier (parts are concatenated).
    pub(crate) fn rebase(self, base: usize) -> Span {
        let s = Span::new(self.start() + base, 0);
        Span {
            lo: s.lo,
            hi: (s.hi & 0xff) | (self.hi & !0xff),
        }
    }

    /// The text of this span in `text` (empty if the span does not fit: never panics).
    pub(crate) fn get(self, text: &str) -> &str {
        let start = self.start();
        let (from, len) = if self.len_field() == LONG {
            let len = text
                .get(start..start + HEADER)
                .and_then(|h| usize::from_str_radix(h, 16).ok())
                .unwrap_or(0);
            (start + HEADER, len)
        } else {
            (start, self.len_field() as usize)
        };
        text.get(from..from + len).unwrap_or("")
    }
}

/// Append `v` to an arena.
pub(crate) fn push(text: &mut String, v: &str) -> Span {
    let start = text.len();
    if v.len() >= LONG as usize {
        text.push_str(&format!("{:016x}", v.len()));
    }
    text.push_str(v);
    Span::new(start, v.len())
}

/// Append `v` lower-cased (ASCII, as LDAP's case-insensitive matching folds) to an arena.
pub(crate) fn push_lower(text: &mut String, v: &str) -> Span {
    let span = push(text, v);
    let from = text.len() - v.len();
    if let Some(s) = text.get_mut(from..) {
        s.make_ascii_lowercase();
    }
    span
}

/// Whether `stored` is `v` lower-cased.
pub(crate) fn is_lower_of(stored: &str, v: &str) -> bool {
    stored.len() == v.len()
        && stored
            .bytes()
            .zip(v.bytes())
            .all(|(a, b)| a == b.to_ascii_lowercase())
}

/// The hash of a (lower-case) key.
pub(crate) fn key_hash(key: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(key.as_bytes());
    h.finish()
}

/// The shard a hash belongs to.
pub(crate) fn shard_of(hash: u64) -> usize {
    (hash >> SHARD_SHIFT) as usize
}

/// One key of a shard and the range of its answers.
#[derive(Clone, Copy, Debug)]
struct Entry {
    hash: u32,
    key: Span,
    first: u32,
    len: u32,
}

/// Shards with fewer entries than this are *tagged*: a slot keeps 8 bits of the key's hash
/// above the entry number, so that a probe reads an entry (a likely cache miss) only when
/// those agree — almost only for the key itself.
const TAGGED: usize = (1 << 24) - 1;

/// The 8 bits of `hash` a tagged slot keeps (not among those that pick the shard, the slot or
/// the entry's stored hash).
fn tag(hash: u64) -> u32 {
    ((hash >> 32) as u32 & 0xff) << 24
}

/// The slot of entry number `e` of a key with hash `hash`.
fn slot_of(e: usize, hash: u64, tagged: bool) -> u32 {
    let n = e as u32 + 1;
    if tagged {
        tag(hash) | n
    } else {
        n
    }
}

/// The entry a (non-empty) slot names, if its key may have hash `hash`.
fn entry_of(slot: u32, hash: u64, tagged: bool) -> Option<usize> {
    if !tagged {
        return Some(slot as usize - 1);
    }
    (slot & 0xff00_0000 == tag(hash)).then(|| (slot & 0x00ff_ffff) as usize - 1)
}

/// One shard: slots (0 empty, else entry index + 1, tagged when the shard has fewer than
/// [`TAGGED`] entries) over entries, answers in one vector.
#[derive(Clone, Debug)]
pub(crate) struct Shard<T> {
    slots: Box<[u32]>,
    tagged: bool,
    entries: Box<[Entry]>,
    answers: Box<[T]>,
}

impl<T> Shard<T> {
    /// The answers of entry `e`.
    fn answers_of(&self, e: &Entry) -> Option<&[T]> {
        self.answers
            .get(e.first as usize..(e.first + e.len) as usize)
    }
}

impl<T> Default for Shard<T> {
    fn default() -> Self {
        Shard {
            slots: Box::default(),
            tagged: false,
            entries: Box::default(),
            answers: Box::default(),
        }
    }
}

/// One key to add to a table: its hash, its text in the arena, its answer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Item<T> {
    pub hash: u64,
    pub key: Span,
    pub val: T,
}

/// How a shard under construction finds and adds keys.
struct Probe<'t> {
    text: &'t str,
    mask: usize,
    slots: Vec<u32>,
    tagged: bool,
    entries: Vec<Entry>,
}

impl<'t> Probe<'t> {
    #[cfg(test)]
    fn new(text: &'t str, max_keys: usize) -> Self {
        Probe::tagged(text, max_keys, max_keys < TAGGED)
    }

    fn tagged(text: &'t str, max_keys: usize, tagged: bool) -> Self {
        let cap = (max_keys + max_keys / 3 + 1).next_power_of_two();
        Probe {
            text,
            mask: cap - 1,
            slots: vec![0; cap],
            tagged,
            entries: Vec::new(),
        }
    }

    /// The entry of `key` (`hash` its hash), added if new.
    fn entry(&mut self, hash: u64, key: Span) -> usize {
        let want = key.get(self.text);
        let mut pos = hash as usize & self.mask;
        loop {
            match self.slots[pos] {
                0 => {
                    self.entries.push(Entry {
                        hash: hash as u32,
                        key,
                        first: 0,
                        len: 0,
                    });
                    let e = self.entries.len() - 1;
                    self.slots[pos] = slot_of(e, hash, self.tagged);
                    return e;
                }
                s => {
                    if let Some(i) = entry_of(s, hash, self.tagged) {
                        let e = &self.entries[i];
                        if e.hash == hash as u32 && e.key.get(self.text) == want {
                            return i;
                        }
                    }
                }
            }
            pos = (pos + 1) & self.mask;
        }
    }

    fn finish<T>(self, answers: Vec<T>) -> Shard<T> {
        if self.entries.is_empty() {
            return Shard::default();
        }
        Shard {
            slots: self.slots.into_boxed_slice(),
            tagged: self.tagged,
            entries: self.entries.into_boxed_slice(),
            answers: answers.into_boxed_slice(),
        }
    }
}

/// How a table treats a key that is added again.
pub(crate) trait Answer: Copy {
    /// Whether `new` repeats `last` (the answer added last to the same key) and is dropped.
    fn repeats(last: &Self, new: &Self) -> bool;
}

/// An immutable hash table from lower-case keys to answers kept in the order they were added
/// (an answer that [repeats](Answer::repeats) the key's last one is not added again).
#[derive(Clone, Debug)]
pub(crate) struct Table<T> {
    text: Arc<String>,
    shards: Box<[Shard<T>]>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            text: Arc::default(),
            shards: Box::default(),
        }
    }
}

/// Build one shard from `items` (all of this shard, in the order they were added).
pub(crate) fn build_shard<T: Answer>(
    text: &str,
    items: impl Iterator<Item = Item<T>> + Clone,
) -> Shard<T> {
    build_shard_tagged(text, items, |n| n < TAGGED)
}

/// [`build_shard`], tagged when `tagged` says so of the number of items.
fn build_shard_tagged<T: Answer>(
    text: &str,
    items: impl Iterator<Item = Item<T>> + Clone,
    tagged: impl Fn(usize) -> bool,
) -> Shard<T> {
    let n = items.clone().count();
    if n == 0 {
        return Shard::default();
    }
    let mut probe = Probe::tagged(text, n, tagged(n));
    // pass 1: entries and counts (repeats dropped); pass 2: answers placed by entry, in order
    let mut order: Vec<(u32, T)> = Vec::with_capacity(n);
    let mut last: Vec<Option<T>> = Vec::new();
    for it in items {
        let e = probe.entry(it.hash, it.key);
        if e == last.len() {
            last.push(None);
        }
        if last[e].is_some_and(|l| T::repeats(&l, &it.val)) {
            continue;
        }
        last[e] = Some(it.val);
        probe.entries[e].len += 1;
        order.push((e as u32, it.val));
    }
    let mut next = 0u32;
    let mut cursor: Vec<u32> = Vec::with_capacity(probe.entries.len());
    for e in &mut probe.entries {
        e.first = next;
        cursor.push(next);
        next += e.len;
    }
    drop(last);
    let mut answers: Vec<Option<T>> = vec![None; order.len()];
    for (e, v) in order {
        let c = &mut cursor[e as usize];
        answers[*c as usize] = Some(v);
        *c += 1;
    }
    probe.finish(answers.into_iter().flatten().collect())
}

impl<T> Table<T> {
    /// A table over the arena `text` from its shards (indexed by [`shard_of`]).
    pub(crate) fn new(text: Arc<String>, shards: Vec<Shard<T>>) -> Table<T> {
        debug_assert_eq!(shards.len(), SHARDS);
        Table {
            text,
            shards: shards.into_boxed_slice(),
        }
    }

    /// The answers to `key` (already lower-cased), in the order they were added.
    pub(crate) fn get(&self, key: &str) -> Option<&[T]> {
        self.get_hashed(key, key_hash(key))
    }

    /// [`Table::get`] with the key's [`key_hash`] computed by the caller: one hash serves
    /// every table of an index (and of all indexes) that an address is looked up in.
    pub(crate) fn get_hashed(&self, key: &str, hash: u64) -> Option<&[T]> {
        debug_assert_eq!(hash, key_hash(key));
        let shard = self.shards.get(shard_of(hash))?;
        if shard.slots.is_empty() {
            return None;
        }
        let mask = shard.slots.len() - 1;
        let mut pos = hash as usize & mask;
        loop {
            let s = *shard.slots.get(pos)?;
            if s == 0 {
                return None;
            }
            if let Some(i) = entry_of(s, hash, shard.tagged) {
                let e = shard.entries.get(i)?;
                if e.hash == hash as u32 && e.key.get(&self.text) == key {
                    return shard.answers_of(e);
                }
            }
            pos = (pos + 1) & mask;
        }
    }

    /// The slot a key with this hash is looked for first (0: none, the key is absent) and
    /// the entry it names if the tag agrees.
    fn first_slot(&self, hash: u64) -> (u32, Option<usize>) {
        match self.shards.get(shard_of(hash)) {
            Some(shard) if !shard.slots.is_empty() => {
                let pos = hash as usize & (shard.slots.len() - 1);
                let s = shard.slots.get(pos).copied().unwrap_or(0);
                (
                    s,
                    (s != 0).then(|| entry_of(s, hash, shard.tagged)).flatten(),
                )
            }
            _ => (0, None),
        }
    }

    /// [`Table::get_hashed`] of one key in several tables: `out` gets the answers of each, in
    /// order. In a large index every step of a lookup (slot, entry, key text) is a likely cache
    /// miss; here each step is taken for all the tables before the next one, so that the
    /// misses of different tables overlap instead of waiting for each other.
    pub(crate) fn get_many<'a>(
        tables: &[&'a Table<T>],
        key: &str,
        hash: u64,
        out: &mut Vec<Option<&'a [T]>>,
    ) {
        out.clear();
        for chunk in tables.chunks(MANY) {
            let mut slots = [(0u32, None::<usize>); MANY];
            for (s, t) in slots.iter_mut().zip(chunk) {
                *s = t.first_slot(hash);
            }
            let mut entries = [None::<Entry>; MANY];
            for ((e, (_, i)), t) in entries.iter_mut().zip(&slots).zip(chunk) {
                if let Some(i) = i {
                    *e = t
                        .shards
                        .get(shard_of(hash))
                        .and_then(|sh| sh.entries.get(*i))
                        .copied();
                }
            }
            for ((e, (s, _)), t) in entries.iter().zip(&slots).zip(chunk) {
                out.push(match e {
                    _ if *s == 0 => None,
                    Some(e) if e.hash == hash as u32 && e.key.get(&t.text) == key => {
                        t.shards.get(shard_of(hash)).and_then(|sh| sh.answers_of(e))
                    }
                    // another key in the first slot: probe on
                    _ => t.get_hashed(key, hash),
                });
            }
        }
    }

    /// Whether `key` has answers.
    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Every key and its answers (in no particular order: shard after shard, see
    /// [`Table::shard_iter`]).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &[T])> + '_ {
        (0..self.shard_count()).flat_map(move |s| self.shard_iter(s))
    }

    /// Number of shards (none in an empty default table).
    pub(crate) fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The keys of shard `s` and their answers, in the order [`Table::iter`] lists them: the
    /// shards of a table can be read on several threads.
    pub(crate) fn shard_iter(&self, s: usize) -> impl Iterator<Item = (&str, &[T])> + '_ {
        self.shards.get(s).into_iter().flat_map(move |s| {
            s.entries
                .iter()
                .map(move |e| (e.key.get(&self.text), s.answers_of(e).unwrap_or(&[])))
        })
    }

    /// Number of keys.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.entries.len()).sum()
    }

    /// Bytes held by the slots, entries and answers (not the shared arena).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.slots.len() * 4
                    + s.entries.len() * std::mem::size_of::<Entry>()
                    + s.answers.len() * std::mem::size_of::<T>()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct A(u32, u8);
    impl Answer for A {
        fn repeats(last: &Self, new: &Self) -> bool {
            last.0 == new.0
        }
    }

    fn table(keys: &[(&str, A)]) -> Table<A> {
        table_tagged(keys, true)
    }

    fn table_tagged(keys: &[(&str, A)], tagged: bool) -> Table<A> {
        let mut text = String::new();
        let items: Vec<Item<A>> = keys
            .iter()
            .map(|(k, v)| {
                let key = push_lower(&mut text, k);
                Item {
                    hash: key_hash(key.get(&text)),
                    key,
                    val: *v,
                }
            })
            .collect();
        let shards = (0..SHARDS)
            .map(|s| {
                build_shard_tagged(
                    &text,
                    items.iter().filter(|i| shard_of(i.hash) == s).copied(),
                    |_| tagged,
                )
            })
            .collect();
        Table::new(Arc::new(text), shards)
    }

    #[test]
    fn spans_round_trip_and_rebase() {
        let mut text = String::from("xx");
        let a = push(&mut text, "Hello");
        let b = push_lower(&mut text, "WoRLD");
        let e = push(&mut text, "");
        assert_eq!(a.get(&text), "Hello");
        assert_eq!(b.get(&text), "world");
        assert_eq!(e.get(&text), "");
        let moved = format!("0123{text}");
        assert_eq!(a.rebase(4).get(&moved), "Hello");
        assert_eq!(b.rebase(4).get(&moved), "world");
        // a start beyond 32 bits survives packing
        let far = Span::new((1 << 33) + 5, 7);
        assert_eq!((far.start(), far.len_field()), ((1 << 33) + 5, 7));
        assert_eq!(far.rebase(3).start(), (1 << 33) + 8);
        assert_eq!(far.rebase(3).len_field(), 7);
        // out of range never panics
        assert_eq!(far.get(&text), "");
    }

    #[test]
    fn long_strings_keep_their_length_in_the_arena() {
        let long = "a".repeat(LONG as usize + 10);
        let mut text = String::from("k");
        let s = push(&mut text, &long);
        let after = push(&mut text, "next");
        assert_eq!(s.get(&text).len(), long.len());
        assert_eq!(after.get(&text), "next");
        assert_eq!(s.rebase(2).get(&format!("..{text}")).len(), long.len());
    }

    #[test]
    fn keys_are_found_by_lower_case_text_with_answers_in_order() {
        let t = table(&[
            ("A@x.org", A(1, 0)),
            ("b@x.org", A(1, 1)),
            ("a@X.ORG", A(1, 2)), // same key, same rec: a repeat, dropped
            ("a@x.org", A(2, 0)),
            ("", A(3, 0)), // an empty key is a key
            ("a@x.org", A(0, 0)),
        ]);
        assert_eq!(t.get("a@x.org"), Some(&[A(1, 0), A(2, 0), A(0, 0)][..]));
        assert_eq!(t.get("b@x.org"), Some(&[A(1, 1)][..]));
        assert_eq!(t.get(""), Some(&[A(3, 0)][..]));
        assert_eq!(t.get("A@x.org"), None, "lookups take lower-case keys");
        assert_eq!(t.get("c@x.org"), None);
        assert_eq!(t.len(), 3);
        let mut keys: Vec<&str> = t.iter().map(|(k, _)| k).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["", "a@x.org", "b@x.org"]);
        assert!(Table::<A>::default().get("a").is_none());
    }

    #[test]
    fn colliding_hashes_and_full_probe_runs_are_told_apart() {
        // many keys: every shard gets probe runs; all found, none confused
        let keys: Vec<String> = (0..5000)
            .map(|i| format!("user{i}@d{}.org", i % 7))
            .collect();
        let pairs: Vec<(&str, A)> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.as_str(), A(i as u32, 0)))
            .collect();
        let t = table(&pairs);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(t.get(k), Some(&[A(i as u32, 0)][..]), "{k}");
        }
        assert_eq!(t.get("user5000@d0.org"), None);
        // same 32-bit stored hash, different text: the text decides
        let mut text = String::new();
        let a = push(&mut text, "one");
        let b = push(&mut text, "two");
        let items = [
            Item {
                hash: 7,
                key: a,
                val: A(1, 0),
            },
            Item {
                hash: 7,
                key: b,
                val: A(2, 0),
            },
        ];
        let mut probe = Probe::new(&text, 2);
        assert_eq!(probe.entry(items[0].hash, a), 0);
        assert_eq!(probe.entry(items[1].hash, b), 1);
        assert_eq!(probe.entry(7, a), 0);
        let shard = build_shard(&text, items.iter().copied());
        assert_eq!(shard.entries.len(), 2);
    }

    #[test]
    fn tagged_and_untagged_shards_and_many_tables_at_once_answer_alike() {
        let keys: Vec<String> = (0..3000).map(|i| format!("k{i}@d{}.org", i % 5)).collect();
        let pairs: Vec<(&str, A)> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.as_str(), A(i as u32, 0)))
            .collect();
        let (even, odd): (Vec<_>, Vec<_>) = pairs.iter().partition(|(_, a)| a.0 % 2 == 0);
        let tables = [
            table_tagged(&pairs, true),
            table_tagged(&pairs, false),
            table(&even),
            table_tagged(&odd, false),
            Table::default(),
        ];
        assert!(tables[0]
            .shards
            .iter()
            .all(|s| s.tagged || s.entries.is_empty()));
        assert!(tables[1].shards.iter().all(|s| !s.tagged));
        let refs: Vec<&Table<A>> = tables.iter().collect();
        let mut many = Vec::new();
        for (i, k) in keys
            .iter()
            .map(String::as_str)
            .chain(["absent@d0.org", ""])
            .enumerate()
        {
            let hash = key_hash(k);
            Table::get_many(&refs, k, hash, &mut many);
            let one: Vec<Option<&[A]>> = tables.iter().map(|t| t.get(k)).collect();
            assert_eq!(many, one, "{k}");
            let found = i < keys.len();
            assert_eq!(many[0].is_some(), found);
            assert_eq!(many[1], many[0]);
            assert_eq!(many[2].is_some() || many[3].is_some(), found);
            assert_eq!(many[4], None);
        }
        // a slot whose tag disagrees names no entry
        let s = slot_of(5, 0xab_0000_0000, true);
        assert_eq!(entry_of(s, 0xab_0000_0000, true), Some(5));
        assert_eq!(entry_of(s, 0xac_0000_0000, true), None);
        assert_eq!(
            entry_of(slot_of(5, 1, false), 0xac_0000_0000, false),
            Some(5)
        );
    }

    #[test]
    fn lower_of() {
        assert!(is_lower_of("a@b", "A@B"));
        assert!(!is_lower_of("A@b", "A@B"));
        assert!(!is_lower_of("a@bc", "A@B"));
    }
}
