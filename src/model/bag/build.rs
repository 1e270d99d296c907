//! Building bags from attribute lines with reusable scratch space (the LDIF reader's path).

use std::fmt;

use super::{put_varint_at, spelling, value_len, varint_len, AttrBag};
use crate::model::attr_name::{self, UNKNOWN};

/// One distinct attribute while a bag is built.
#[derive(Clone, Copy)]
struct Slot {
    id: u32,
    /// Range of the spelling in the builder's `names`, when spelled.
    spelled: Option<(usize, usize)>,
    count: usize,
    size: usize,
    /// Where the next value goes in the output.
    cursor: usize,
}

/// Builds bags from attribute lines with reusable scratch space: one allocation per bag.
#[derive(Default, Debug)]
pub(crate) struct BagBuilder {
    slots: Vec<Slot>,
    names: String,
    line_slot: Vec<u32>,
    /// The description seen at each line position and its id: entries of one kind list their
    /// attributes in the same order, so most names resolve by one comparison.
    memo: Vec<(String, u32)>,
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Slot({}, {})", self.id, self.count)
    }
}

impl BagBuilder {
    /// The bag of `lines` (see [`AttrBag::from_lines`]).
    pub(crate) fn build<'a, I>(&mut self, lines: I) -> AttrBag
    where
        I: IntoIterator<Item = (&'a str, &'a [u8])>,
    {
        self.build_where(lines, |_, _| true)
    }

    /// The bag of the `lines` whose attribute `keep` accepts, given its catalog id
    /// ([`UNKNOWN`] for names the catalog does not know) and its description as written.
    pub(crate) fn build_where<'a, I>(
        &mut self,
        lines: I,
        keep: impl Fn(u32, &str) -> bool,
    ) -> AttrBag
    where
        I: IntoIterator<Item = (&'a str, &'a [u8])>,
    {
        let lines = lines.into_iter();
        self.slots.clear();
        self.names.clear();
        self.line_slot.clear();
        let mut values: Vec<&[u8]> = Vec::with_capacity(lines.size_hint().0);
        let mut last: Option<(u32, usize)> = None;
        for (i, (desc, v)) in lines.enumerate() {
            let id = match self.memo.get_mut(i) {
                Some((d, id)) if d == desc => *id,
                Some((d, id)) => {
                    d.clear();
                    d.push_str(desc);
                    *id = attr_name::id_of(desc);
                    *id
                }
                None => {
                    let id = attr_name::id_of(desc);
                    self.memo.push((desc.to_string(), id));
                    id
                }
            };
            if !keep(id, desc) {
                continue;
            }
            let found = match last {
                Some((lid, s)) if id != UNKNOWN && lid == id => Some(s),
                _ => self.slots.iter().position(|s| {
                    s.id == id
                        && (id != UNKNOWN
                            || s.spelled.is_some_and(|(a, b)| {
                                self.names
                                    .get(a..b)
                                    .is_some_and(|n| n.eq_ignore_ascii_case(desc))
                            }))
                }),
            };
            let s = match found {
                Some(s) => s,
                None => {
                    let spelled = spelling(desc, id).map(|sp| {
                        let a = self.names.len();
                        self.names.push_str(sp);
                        (a, self.names.len())
                    });
                    self.slots.push(Slot {
                        id,
                        spelled,
                        count: 0,
                        size: 0,
                        cursor: 0,
                    });
                    self.slots.len() - 1
                }
            };
            last = Some((id, s));
            if let Some(slot) = self.slots.get_mut(s) {
                slot.count += 1;
                slot.size += value_len(v);
            }
            self.line_slot.push(s as u32);
            values.push(v);
        }
        // headers and value positions
        let mut total = 0;
        for s in &mut self.slots {
            let sp = s.spelled.map(|(a, b)| b - a);
            total += varint_len(u64::from(s.id) << 1 | 1)
                + sp.map_or(0, |l| varint_len(l as u64) + l)
                + varint_len(s.count as u64)
                + varint_len(s.size as u64);
            s.cursor = total;
            total += s.size;
        }
        let mut buf = vec![0u8; total];
        for s in &self.slots {
            let mut p = s.cursor
                - s.spelled
                    .map_or(0, |(a, b)| varint_len((b - a) as u64) + (b - a))
                - varint_len(u64::from(s.id) << 1 | 1)
                - varint_len(s.count as u64)
                - varint_len(s.size as u64);
            p = put_varint_at(
                &mut buf,
                p,
                u64::from(s.id) << 1 | u64::from(s.spelled.is_some()),
            );
            if let Some((a, b)) = s.spelled {
                p = put_varint_at(&mut buf, p, (b - a) as u64);
                if let (Some(dst), Some(src)) = (buf.get_mut(p..p + (b - a)), self.names.get(a..b))
                {
                    dst.copy_from_slice(src.as_bytes());
                }
                p += b - a;
            }
            p = put_varint_at(&mut buf, p, s.count as u64);
            put_varint_at(&mut buf, p, s.size as u64);
        }
        for (v, &s) in values.iter().zip(self.line_slot.iter()) {
            let Some(slot) = self.slots.get_mut(s as usize) else {
                continue;
            };
            let p = put_varint_at(&mut buf, slot.cursor, v.len() as u64);
            if let Some(dst) = buf.get_mut(p..p + v.len()) {
                dst.copy_from_slice(v);
            }
            slot.cursor = p + v.len();
        }
        AttrBag { buf }
    }
}
