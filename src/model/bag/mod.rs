//! The lossless attribute store of one entry, in one contiguous buffer.
//!
//! Layout (all integers LEB128 varints), one record per attribute, in the entry's order:
//!
//! ```text
//! tag = id << 1 | spelled      id: the catalog id of the name (0: not in the catalog)
//! [len, name bytes]            only when spelled: unknown names, or a known name whose
//!                              spelling differs from the catalog's (`objectclass`)
//! count                        number of values (at least one)
//! size                         byte length of the value block that follows
//! (len, value bytes)*          the values, in order
//! ```
//!
//! The encoding is canonical (one byte string per logical content), so two bags are equal
//! exactly when their buffers are. Skipping an attribute costs one varint read whatever its
//! size; appending values to an attribute shifts only the attributes after it.

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::attr_name::{self, AttrName, UNKNOWN};
use super::hash::FxSet;
use super::value::{AttrValue, ValueRef};

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

#[inline]
fn get_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    // one byte: the common case (ids, counts, short values)
    let b = *buf.get(*pos)?;
    if b < 0x80 {
        *pos += 1;
        return Some(u64::from(b));
    }
    get_varint_slow(buf, pos)
}

fn get_varint_slow(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    let mut shift = 0u32;
    loop {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f).checked_shl(shift)?;
        if b < 0x80 {
            return Some(v);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

/// Writes a varint into `buf` at `pos` (the space is reserved); returns the position after it.
fn put_varint_at(buf: &mut [u8], mut pos: usize, mut v: u64) -> usize {
    loop {
        let byte = if v >= 0x80 { (v as u8) | 0x80 } else { v as u8 };
        if let Some(b) = buf.get_mut(pos) {
            *b = byte;
        }
        pos += 1;
        if v < 0x80 {
            return pos;
        }
        v >>= 7;
    }
}

/// How a name is matched against the records: by catalog id, or by spelling (ASCII case
/// ignored) for names outside the catalog.
#[derive(Clone, Copy)]
enum Key<'n> {
    Id(u32),
    Name(&'n str),
}

fn key_of(name: &str) -> Key<'_> {
    match attr_name::id_of(name) {
        UNKNOWN => Key::Name(name),
        id => Key::Id(id),
    }
}

/// The spelling to store with `name`: none when it is the catalog's own.
fn spelling(name: &str, id: u32) -> Option<&str> {
    if id != UNKNOWN && attr_name::canonical(id) == Some(name) {
        None
    } else {
        Some(name)
    }
}

fn put_name(out: &mut Vec<u8>, id: u32, spelled: Option<&str>) {
    put_varint(out, u64::from(id) << 1 | u64::from(spelled.is_some()));
    if let Some(s) = spelled {
        put_varint(out, s.len() as u64);
        out.extend_from_slice(s.as_bytes());
    }
}

fn name_len(id: u32, spelled: Option<&str>) -> usize {
    varint_len(u64::from(id) << 1 | 1) + spelled.map_or(0, |s| varint_len(s.len() as u64) + s.len())
}

fn value_len(v: &[u8]) -> usize {
    varint_len(v.len() as u64) + v.len()
}

fn put_value(out: &mut Vec<u8>, v: &[u8]) {
    put_varint(out, v.len() as u64);
    out.extend_from_slice(v);
}

/// A record: `name` (encoded tag and spelling), then count, size and the values.
fn encode_record(name: &[u8], vals: &[&[u8]]) -> Vec<u8> {
    let size: usize = vals.iter().map(|v| value_len(v)).sum();
    let mut rec = Vec::with_capacity(name.len() + 20 + size);
    rec.extend_from_slice(name);
    put_varint(&mut rec, vals.len() as u64);
    put_varint(&mut rec, size as u64);
    for v in vals {
        put_value(&mut rec, v);
    }
    rec
}

/// One decoded record header.
#[derive(Clone, Copy)]
struct Rec<'a> {
    start: usize,
    name: &'a str,
    /// End of tag and spelling.
    name_end: usize,
    count: usize,
    block_start: usize,
    end: usize,
}

fn rec_at(buf: &[u8], start: usize) -> Option<Rec<'_>> {
    if start >= buf.len() {
        return None;
    }
    let mut p = start;
    let tag = get_varint(buf, &mut p)?;
    let id = u32::try_from(tag >> 1).ok()?;
    let name = if tag & 1 == 1 {
        let len = usize::try_from(get_varint(buf, &mut p)?).ok()?;
        let s = buf.get(p..p.checked_add(len)?)?;
        p += len;
        std::str::from_utf8(s).unwrap_or_default()
    } else {
        attr_name::canonical(id).unwrap_or_default()
    };
    let name_end = p;
    let count = usize::try_from(get_varint(buf, &mut p)?).ok()?;
    let size = usize::try_from(get_varint(buf, &mut p)?).ok()?;
    let end = p.checked_add(size)?;
    if end > buf.len() {
        return None;
    }
    Some(Rec {
        start,
        name,
        name_end,
        count,
        block_start: p,
        end,
    })
}

#[derive(Clone)]
struct Recs<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Recs<'a> {
    type Item = Rec<'a>;
    fn next(&mut self) -> Option<Rec<'a>> {
        let r = rec_at(self.buf, self.pos)?;
        self.pos = r.end;
        Some(r)
    }
}

/// The values of one attribute, in order, borrowed from the bag: an iterator that also answers
/// `len`, `is_empty` and `first` like the slice it replaces.
///
/// ```
/// use zimbra_prov::model::AttrBag;
/// let mut bag = AttrBag::new();
/// bag.set("mail", ["a@example.org", "b@example.org"]);
/// let v = bag.values("MAIL");
/// assert_eq!(v.len(), 2);
/// assert_eq!(v.first().and_then(|x| x.as_str()), Some("a@example.org"));
/// let all: Vec<&str> = v.filter_map(|x| x.as_str()).collect();
/// assert_eq!(all, ["a@example.org", "b@example.org"]);
/// assert!(bag.values("cn").is_empty());
/// ```
#[derive(Clone)]
pub struct Values<'a> {
    block: &'a [u8],
    left: usize,
}

impl<'a> Values<'a> {
    const EMPTY: Values<'static> = Values {
        block: &[],
        left: 0,
    };

    /// Number of values.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.left
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.left == 0
    }

    /// The first value.
    pub fn first(&self) -> Option<ValueRef<'a>> {
        self.clone().next()
    }

    /// The `i`-th value.
    pub fn get(&self, i: usize) -> Option<ValueRef<'a>> {
        self.clone().nth(i)
    }

    /// The values again, from the first (the iterator is cheap to copy).
    pub fn iter(&self) -> Values<'a> {
        self.clone()
    }
}

impl<'a> Iterator for Values<'a> {
    type Item = ValueRef<'a>;
    fn next(&mut self) -> Option<ValueRef<'a>> {
        if self.left == 0 {
            return None;
        }
        visit();
        let mut p = 0;
        let v = get_varint(self.block, &mut p)
            .and_then(|n| usize::try_from(n).ok())
            .and_then(|n| self.block.get(p..p.checked_add(n)?));
        match v {
            Some(v) => {
                self.block = self.block.get(p + v.len()..).unwrap_or_default();
                self.left -= 1;
                Some(ValueRef(v))
            }
            None => {
                self.left = 0;
                None
            }
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Values<'_> {}

impl fmt::Debug for Values<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// One attribute of a bag, borrowed: its name as written (options included, e.g. `cn;lang-de`)
/// and its values in order.
///
/// ```
/// use zimbra_prov::model::AttrBag;
/// let mut bag = AttrBag::new();
/// bag.add("objectclass", "inetOrgPerson");
/// bag.add("uid", "alice");
/// let a = bag.iter().next().unwrap();
/// assert_eq!(a.name(), "objectclass"); // the spelling as written is kept
/// assert_eq!(a.values().len(), 1);
/// ```
#[derive(Clone, Copy)]
pub struct Attr<'a> {
    name: &'a str,
    count: usize,
    block: &'a [u8],
}

impl<'a> Attr<'a> {
    /// The attribute description as written.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The values, in order.
    pub fn values(&self) -> Values<'a> {
        Values {
            block: self.block,
            left: self.count,
        }
    }

    /// Number of values.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.count
    }
}

impl fmt::Debug for Attr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attr")
            .field("name", &self.name)
            .field("values", &self.values())
            .finish()
    }
}

#[cfg(test)]
thread_local! {
    /// Values read or compared by bags on this thread: what the tests of linear-time paths
    /// count (an operation that scans the values for each value it adds shows up as n²).
    static VALUE_VISITS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

#[inline]
fn visit() {
    #[cfg(test)]
    VALUE_VISITS.with(|c| c.set(c.get() + 1));
}

/// Values read or compared by bags on this thread so far (tests only).
#[cfg(test)]
pub(crate) fn value_visits() -> u64 {
    VALUE_VISITS.with(std::cell::Cell::get)
}

/// Bytes compared and hashed ignoring ASCII case (LDAP caseIgnore matching).
struct CiBytes<'a>(&'a [u8]);

impl Hash for CiBytes<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.0.len());
        // eight lower-cased bytes at a time
        let mut chunks = self.0.chunks(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            for (d, s) in w.iter_mut().zip(c) {
                *d = s.to_ascii_lowercase();
            }
            state.write_u64(u64::from_le_bytes(w));
        }
    }
}

impl PartialEq for CiBytes<'_> {
    fn eq(&self, other: &Self) -> bool {
        visit();
        self.0.eq_ignore_ascii_case(other.0)
    }
}

impl Eq for CiBytes<'_> {}

/// An ordered, lossless bag of attributes with case-insensitive names (as LDAP compares them),
/// stored in one contiguous buffer per entry.
///
/// Attribute order and value order and bytes are preserved; an attribute name keeps the case it
/// was first written with. Names the catalog knows (every Zimbra attribute, the standard and the
/// operational attributes of a slapcat) take two bytes; values are stored once, with their
/// lengths. Readers get borrowed views ([`Attr`], [`Values`], [`ValueRef`]); nothing is
/// allocated per value.
///
/// ```
/// use zimbra_prov::model::AttrBag;
/// let mut bag = AttrBag::new();
/// bag.add("mail", "alice@example.com");
/// bag.add("MAIL", "al@example.com");
/// assert_eq!(bag.strs("Mail"), vec!["alice@example.com", "al@example.com"]);
/// bag.set("mail", ["a@example.com"]);
/// assert_eq!(bag.first("mail"), Some("a@example.com"));
/// bag.remove("mail");
/// assert!(!bag.contains("mail"));
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct AttrBag {
    buf: Vec<u8>,
}

impl AttrBag {
    /// An empty bag.
    pub fn new() -> Self {
        Self::default()
    }

    /// An entry's attribute lines, in order, as one bag (lines of the same attribute join the
    /// first one's record, as [`AttrBag::add`] does). One allocation for the whole entry: the
    /// path the LDIF reader's borrowed records take.
    ///
    /// ```
    /// use zimbra_prov::model::AttrBag;
    /// let lines: [(&str, &[u8]); 3] = [("objectClass", b"top"), ("cn", b"x"), ("objectclass", b"person")];
    /// let bag = AttrBag::from_lines(lines);
    /// assert_eq!(bag.strs("objectClass"), ["top", "person"]);
    /// assert_eq!(bag.iter().map(|a| a.name()).collect::<Vec<_>>(), ["objectClass", "cn"]);
    /// ```
    pub fn from_lines<'a, I>(lines: I) -> AttrBag
    where
        I: IntoIterator<Item = (&'a str, &'a [u8])>,
    {
        BagBuilder::default().build(lines)
    }

    fn recs(&self) -> Recs<'_> {
        Recs {
            buf: &self.buf,
            pos: 0,
        }
    }

    /// The record of `key`: record headers are skipped without resolving their names.
    fn find(&self, key: Key<'_>) -> Option<Rec<'_>> {
        let buf = self.buf.as_slice();
        let mut p = 0;
        while p < buf.len() {
            let start = p;
            let tag = get_varint(buf, &mut p)?;
            let spelled = if tag & 1 == 1 {
                let len = usize::try_from(get_varint(buf, &mut p)?).ok()?;
                let a = p;
                p = p.checked_add(len)?;
                Some(buf.get(a..p)?)
            } else {
                None
            };
            let _count = get_varint(buf, &mut p)?;
            let size = usize::try_from(get_varint(buf, &mut p)?).ok()?;
            let hit = match key {
                Key::Id(id) => tag >> 1 == u64::from(id),
                Key::Name(n) => {
                    tag >> 1 == u64::from(UNKNOWN)
                        && spelled.is_some_and(|s| s.eq_ignore_ascii_case(n.as_bytes()))
                }
            };
            if hit {
                return rec_at(buf, start);
            }
            p = p.checked_add(size)?;
        }
        None
    }

    /// The attributes among `names` in the order the entry stores them, each with the position
    /// of its name in `names`: one pass over the entry, names compared by catalog id, for code
    /// that reads the same few attributes of many entries (the routing index).
    pub(crate) fn select<'a>(&'a self, names: &[AttrName], mut f: impl FnMut(usize, Values<'a>)) {
        let buf = self.buf.as_slice();
        let mut p = 0;
        while p < buf.len() {
            let Some(tag) = get_varint(buf, &mut p) else {
                return;
            };
            let spelled = if tag & 1 == 1 {
                let Some(len) = get_varint(buf, &mut p).and_then(|l| usize::try_from(l).ok())
                else {
                    return;
                };
                let a = p;
                p = a.saturating_add(len);
                buf.get(a..p)
            } else {
                None
            };
            let (Some(count), Some(size)) = (
                get_varint(buf, &mut p).and_then(|c| usize::try_from(c).ok()),
                get_varint(buf, &mut p).and_then(|s| usize::try_from(s).ok()),
            ) else {
                return;
            };
            let Some(block) = buf.get(p..p.saturating_add(size)) else {
                return;
            };
            p += size;
            let id = tag >> 1;
            let hit = names.iter().position(|n| match n.id {
                UNKNOWN => {
                    id == u64::from(UNKNOWN)
                        && spelled.is_some_and(|s| s.eq_ignore_ascii_case(n.name.as_bytes()))
                }
                known => id == u64::from(known),
            });
            if let Some(i) = hit {
                f(i, Values { block, left: count });
            }
        }
    }

    fn attr<'a>(&'a self, r: Rec<'a>) -> Attr<'a> {
        Attr {
            name: r.name,
            count: r.count,
            block: self.buf.get(r.block_start..r.end).unwrap_or_default(),
        }
    }

    /// The attribute called `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<Attr<'_>> {
        self.find(key_of(name)).map(|r| self.attr(r))
    }

    /// The values of `name`, empty when absent.
    pub fn values(&self, name: &str) -> Values<'_> {
        self.get(name).map_or(Values::EMPTY, |a| a.values())
    }

    /// The values of a pre-resolved name (see [`AttrName`]).
    pub fn values_of(&self, name: &AttrName) -> Values<'_> {
        let key = match name.id {
            UNKNOWN => Key::Name(&name.name),
            id => Key::Id(id),
        };
        self.find(key)
            .map_or(Values::EMPTY, |r| self.attr(r).values())
    }

    /// The UTF-8 values of `name` (non-UTF-8 values are skipped).
    pub fn strs(&self, name: &str) -> Vec<&str> {
        self.values(name).filter_map(|v| v.as_str()).collect()
    }

    /// The first value of `name` as text.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.values(name).first().and_then(|v| v.as_str())
    }

    /// Whether `name` is present with at least one value.
    pub fn contains(&self, name: &str) -> bool {
        !self.values(name).is_empty()
    }

    /// Whether `name` has a value equal to `value`, ignoring ASCII case (LDAP caseIgnore matching).
    pub fn has_value_ci(&self, name: &str, value: &str) -> bool {
        self.values(name).any(|v| v.eq_ignore_ascii_case(value))
    }

    /// Replaces the record at `start..end` by its name bytes (`start..name_end`) and `vals`.
    fn replace_values(&mut self, start: usize, name_end: usize, end: usize, vals: &[&[u8]]) {
        let rec = encode_record(self.buf.get(start..name_end).unwrap_or_default(), vals);
        self.buf.splice(start..end, rec);
    }

    fn append_record(&mut self, name: &str, vals: &[&[u8]]) {
        let id = attr_name::id_of(name);
        let sp = spelling(name, id);
        let size: usize = vals.iter().map(|v| value_len(v)).sum();
        self.buf.reserve(name_len(id, sp) + 10 + size);
        put_name(&mut self.buf, id, sp);
        put_varint(&mut self.buf, vals.len() as u64);
        put_varint(&mut self.buf, size as u64);
        for v in vals {
            put_value(&mut self.buf, v);
        }
    }

    /// Replace all values of `name` (removes the attribute when `values` is empty). A present
    /// attribute keeps its place and spelling.
    pub fn set<I, V>(&mut self, name: &str, values: I)
    where
        I: IntoIterator<Item = V>,
        V: AsRef<[u8]>,
    {
        let owned: Vec<V> = values.into_iter().collect();
        let vals: Vec<&[u8]> = owned.iter().map(AsRef::as_ref).collect();
        let found = self
            .find(key_of(name))
            .map(|r| (r.start, r.name_end, r.end));
        match (found, vals.is_empty()) {
            (Some((s, _, e)), true) => {
                self.buf.drain(s..e);
            }
            (Some((s, ne, e)), false) => self.replace_values(s, ne, e, &vals),
            (None, true) => {}
            (None, false) => self.append_record(name, &vals),
        }
    }

    /// Append an attribute known not to be present yet (no duplicate check; used to build large
    /// bags such as a fresh global config in linear time).
    pub(crate) fn push_new<I, V>(&mut self, name: &str, values: I)
    where
        I: IntoIterator<Item = V>,
        V: AsRef<[u8]>,
    {
        debug_assert!(self.get(name).is_none(), "{name} is already present");
        let owned: Vec<V> = values.into_iter().collect();
        let vals: Vec<&[u8]> = owned.iter().map(AsRef::as_ref).collect();
        if !vals.is_empty() {
            self.append_record(name, &vals);
        }
    }

    /// Set `name` to the single value `value`.
    pub fn set_one(&mut self, name: &str, value: impl AsRef<[u8]>) {
        self.set(name, [value]);
    }

    /// Appends encoded values (`block`, `n` of them) to the attribute `name`, creating it at
    /// the end when absent. Costs the bytes after the attribute, not its own size.
    fn append_block(&mut self, name: &str, n: usize, block: &[u8]) {
        if n == 0 {
            return;
        }
        let Some(r) = self.find(key_of(name)) else {
            let id = attr_name::id_of(name);
            put_name(&mut self.buf, id, spelling(name, id));
            put_varint(&mut self.buf, n as u64);
            put_varint(&mut self.buf, block.len() as u64);
            self.buf.extend_from_slice(block);
            return;
        };
        let (name_end, block_start, end) = (r.name_end, r.block_start, r.end);
        let (count, size) = (r.count + n, end - block_start + block.len());
        let mut header = Vec::with_capacity(20);
        put_varint(&mut header, count as u64);
        put_varint(&mut header, size as u64);
        // values first (at the old end), then the header, so that positions stay valid
        self.buf.splice(end..end, block.iter().copied());
        if header.len() == block_start - name_end {
            if let Some(h) = self.buf.get_mut(name_end..block_start) {
                h.copy_from_slice(&header);
            }
        } else {
            self.buf.splice(name_end..block_start, header);
        }
    }

    /// Append a value (duplicates allowed: this is storage, not LDAP semantics).
    pub fn add(&mut self, name: &str, value: impl AsRef<[u8]>) {
        let v = value.as_ref();
        let mut block = Vec::with_capacity(value_len(v));
        put_value(&mut block, v);
        self.append_block(name, 1, &block);
    }

    /// Append a value unless an equal one (ASCII case-insensitive) is present; returns whether
    /// added. Scans the attribute's values: to add many, use [`AttrBag::add_all_unique_ci`].
    pub fn add_unique_ci(&mut self, name: &str, value: &str) -> bool {
        if self.has_value_ci(name, value) {
            return false;
        }
        self.add(name, value);
        true
    }

    /// Append each of `values` that is not present yet (ASCII case-insensitive, also among
    /// `values` themselves), in order; returns how many were added. Linear in the number of
    /// values present and given (a hash set, not a scan per value).
    ///
    /// ```
    /// use zimbra_prov::model::AttrBag;
    /// let mut bag = AttrBag::new();
    /// bag.add("zimbraMailForwardingAddress", "a@x.org");
    /// let added = bag.add_all_unique_ci("zimbraMailForwardingAddress", ["A@x.org", "b@x.org", "B@X.org"]);
    /// assert_eq!(added, 1);
    /// assert_eq!(bag.strs("zimbraMailForwardingAddress"), ["a@x.org", "b@x.org"]);
    /// ```
    pub fn add_all_unique_ci<I, V>(&mut self, name: &str, values: I) -> usize
    where
        I: IntoIterator<Item = V>,
        V: AsRef<[u8]>,
    {
        let given: Vec<V> = values.into_iter().collect();
        if given.is_empty() {
            return 0;
        }
        let mut block = Vec::new();
        let mut n = 0;
        {
            let mut seen: FxSet<CiBytes<'_>> = self.values(name).map(|v| CiBytes(v.0)).collect();
            for v in &given {
                let v = v.as_ref();
                if seen.insert(CiBytes(v)) {
                    put_value(&mut block, v);
                    n += 1;
                }
            }
        }
        self.append_block(name, n, &block);
        n
    }

    /// Keeps the values of `name` for which `keep` holds; drops the attribute when none is
    /// left. Returns how many were removed.
    fn retain_values(&mut self, name: &str, mut keep: impl FnMut(&[u8]) -> bool) -> usize {
        let Some(r) = self.find(key_of(name)) else {
            return 0;
        };
        let (start, name_end, end) = (r.start, r.name_end, r.end);
        let kept: Vec<&[u8]> = self
            .attr(r)
            .values()
            .map(|v| v.0)
            .filter(|v| keep(v))
            .collect();
        let removed = r.count - kept.len();
        if removed == 0 {
            return 0;
        }
        if kept.is_empty() {
            self.buf.drain(start..end);
        } else {
            let rec = encode_record(self.buf.get(start..name_end).unwrap_or_default(), &kept);
            self.buf.splice(start..end, rec);
        }
        removed
    }

    /// Remove values equal (ASCII case-insensitive) to `value`; drops the attribute when it
    /// becomes empty. Returns whether anything was removed.
    pub fn remove_value_ci(&mut self, name: &str, value: &str) -> bool {
        self.retain_values(name, |v| !v.eq_ignore_ascii_case(value.as_bytes())) > 0
    }

    /// Remove every value equal (ASCII case-insensitive) to one of `values`, in one pass;
    /// drops the attribute when it becomes empty. Returns how many values were removed.
    ///
    /// ```
    /// use zimbra_prov::model::AttrBag;
    /// let mut bag = AttrBag::new();
    /// bag.set("mail", ["a@x.org", "b@x.org", "c@x.org"]);
    /// assert_eq!(bag.remove_values_ci("mail", ["B@x.org", "c@X.org", "nope@x.org"]), 2);
    /// assert_eq!(bag.strs("mail"), ["a@x.org"]);
    /// ```
    pub fn remove_values_ci<I, V>(&mut self, name: &str, values: I) -> usize
    where
        I: IntoIterator<Item = V>,
        V: AsRef<[u8]>,
    {
        let given: Vec<V> = values.into_iter().collect();
        let gone: FxSet<CiBytes<'_>> = given.iter().map(|v| CiBytes(v.as_ref())).collect();
        if gone.is_empty() {
            return 0;
        }
        self.retain_values(name, |v| !gone.contains(&CiBytes(v)))
    }

    /// Remove the attribute; returns its values.
    pub fn remove(&mut self, name: &str) -> Vec<AttrValue> {
        let Some(r) = self.find(key_of(name)) else {
            return Vec::new();
        };
        let (start, end) = (r.start, r.end);
        let vals = self.attr(r).values().map(AttrValue::from).collect();
        self.buf.drain(start..end);
        vals
    }

    /// Rewrites values in place: `f` gets each attribute's name as stored and each value, and
    /// returns the replacement, or `None` to keep the value. Order and names are kept. Returns
    /// whether anything changed.
    ///
    /// ```
    /// use zimbra_prov::model::AttrBag;
    /// let mut bag = AttrBag::new();
    /// bag.set("mail", ["a@old.org", "b@other.org"]);
    /// bag.rewrite_values(|name, v| {
    ///     let s = v.as_str()?;
    ///     (name == "mail" && s.ends_with("@old.org")).then(|| s.replace("@old.org", "@new.org").into_bytes())
    /// });
    /// assert_eq!(bag.strs("mail"), ["a@new.org", "b@other.org"]);
    /// ```
    pub fn rewrite_values<F>(&mut self, mut f: F) -> bool
    where
        F: FnMut(&str, ValueRef<'_>) -> Option<Vec<u8>>,
    {
        let mut out = Vec::with_capacity(self.buf.len());
        let mut changed = false;
        let mut vals: Vec<Vec<u8>> = Vec::new();
        for r in self.recs() {
            vals.clear();
            let mut any = false;
            for v in self.attr(r).values() {
                match f(r.name, v) {
                    Some(new) => {
                        any = true;
                        vals.push(new);
                    }
                    None => vals.push(v.0.to_vec()),
                }
            }
            if !any {
                out.extend_from_slice(self.buf.get(r.start..r.end).unwrap_or_default());
                continue;
            }
            changed = true;
            out.extend_from_slice(self.buf.get(r.start..r.name_end).unwrap_or_default());
            put_varint(&mut out, vals.len() as u64);
            put_varint(
                &mut out,
                vals.iter().map(|v| value_len(v)).sum::<usize>() as u64,
            );
            for v in &vals {
                put_value(&mut out, v);
            }
        }
        if changed {
            out.shrink_to_fit();
            self.buf = out;
        }
        changed
    }

    /// Attributes in order.
    pub fn iter(&self) -> impl Iterator<Item = Attr<'_>> + Clone + '_ {
        self.recs().map(|r| self.attr(r))
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.recs().count()
    }

    /// Whether the bag has no attributes.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Bytes of memory the bag's buffer takes.
    pub fn heap_bytes(&self) -> usize {
        self.buf.capacity()
    }
}

impl fmt::Debug for AttrBag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|a| (a.name(), a.values())))
            .finish()
    }
}

struct ValuesSer<'a>(Values<'a>);

impl Serialize for ValuesSer<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.clone())
    }
}

impl Serialize for AttrBag {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.len()))?;
        for a in self.iter() {
            m.serialize_entry(a.name(), &ValuesSer(a.values()))?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for AttrBag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct BagVisitor;
        impl<'de> Visitor<'de> for BagVisitor {
            type Value = AttrBag;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of attribute names to lists of values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AttrBag, A::Error> {
                let mut bag = AttrBag::new();
                while let Some((name, values)) = map.next_entry::<String, Vec<AttrValue>>()? {
                    for v in values {
                        bag.add(&name, v);
                    }
                }
                Ok(bag)
            }
        }
        d.deserialize_map(BagVisitor)
    }
}

impl FromIterator<(String, AttrValue)> for AttrBag {
    fn from_iter<T: IntoIterator<Item = (String, AttrValue)>>(iter: T) -> Self {
        let mut bag = AttrBag::new();
        for (n, v) in iter {
            bag.add(&n, v);
        }
        bag
    }
}

mod build;
pub(crate) use build::BagBuilder;

#[cfg(test)]
mod tests;
