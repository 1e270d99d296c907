//! The universe of a classification: every enumerated address (lower case) once, in
//! enumeration order, in one text arena, with its hash and an open-addressing table to find it —
//! one allocation for all the addresses instead of one each, and the hash kept, because it is
//! the one every lookup table of the route index uses ([`key_hash`]): an address is hashed once.

use crate::route::index::key_hash;

/// A set of addresses numbered in insertion order.
#[derive(Debug, Clone, Default)]
pub(crate) struct AddrSet {
    /// Every address, back to back.
    text: String,
    /// Where address `i` starts in `text` (`starts[i + 1]` or the end of `text`: where it ends).
    starts: Vec<usize>,
    /// [`key_hash`] of every address.
    hashes: Vec<u64>,
    /// 0: empty; else an address number + 1. A power of two, at most half full.
    slots: Vec<u32>,
}

impl AddrSet {
    /// Number of addresses.
    pub(crate) fn len(&self) -> usize {
        self.starts.len()
    }

    /// Address number `i` (empty if there is none).
    pub(crate) fn get(&self, i: usize) -> &str {
        let Some(start) = self.starts.get(i).copied() else {
            return "";
        };
        let end = self.starts.get(i + 1).copied().unwrap_or(self.text.len());
        self.text.get(start..end).unwrap_or("")
    }

    /// The [`key_hash`] of address number `i`.
    pub(crate) fn hash(&self, i: usize) -> u64 {
        self.hashes.get(i).copied().unwrap_or_default()
    }

    /// The number of `a`.
    pub(crate) fn find(&self, a: &str) -> Option<u32> {
        self.find_hashed(a, key_hash(a))
    }

    /// The number of `a`, whose [`key_hash`] is `hash`.
    pub(crate) fn find_hashed(&self, a: &str, hash: u64) -> Option<u32> {
        self.probe(a, hash).err()
    }

    /// `Ok(slot)`: `a` is not in the set and would go to `slot`; `Err(number)`: it is.
    fn probe(&self, a: &str, hash: u64) -> Result<usize, u32> {
        if self.slots.is_empty() {
            return Ok(0);
        }
        let mask = self.slots.len() - 1;
        let mut pos = hash as usize & mask;
        loop {
            match self.slots.get(pos).copied().unwrap_or(0) {
                0 => return Ok(pos),
                s => {
                    let i = (s - 1) as usize;
                    if self.hashes.get(i) == Some(&hash) && self.get(i) == a {
                        return Err(s - 1);
                    }
                }
            }
            pos = (pos + 1) & mask;
        }
    }

    /// Add `a` (already lower case) unless it is there.
    pub(crate) fn insert(&mut self, a: &str) {
        self.insert_hashed(a, key_hash(a));
    }

    /// [`AddrSet::insert`] with the [`key_hash`] of `a`.
    pub(crate) fn insert_hashed(&mut self, a: &str, hash: u64) {
        if (self.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        if let Ok(slot) = self.probe(a, hash) {
            self.starts.push(self.text.len());
            self.text.push_str(a);
            self.hashes.push(hash);
            if let Some(s) = self.slots.get_mut(slot) {
                *s = self.starts.len() as u32;
            }
        }
    }

    fn grow(&mut self) {
        let cap = (self.slots.len() * 2).max(64);
        let mask = cap - 1;
        let mut slots = vec![0u32; cap];
        for (i, h) in self.hashes.iter().enumerate() {
            let mut pos = *h as usize & mask;
            while slots[pos] != 0 {
                pos = (pos + 1) & mask;
            }
            slots[pos] = i as u32 + 1;
        }
        self.slots = slots;
    }

    /// Every address in number order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::AddrSet;

    #[test]
    fn numbers_addresses_in_insertion_order_once() {
        let mut s = AddrSet::default();
        assert_eq!(s.find("a@x"), None);
        let words: Vec<String> = (0..1000)
            .map(|i| format!("u{}@d{}", i % 700, i % 3))
            .collect();
        let mut want: Vec<&str> = Vec::new();
        for w in &words {
            s.insert(w);
            if !want.contains(&w.as_str()) {
                want.push(w);
            }
        }
        s.insert("");
        want.push("");
        assert_eq!(s.len(), want.len());
        assert_eq!(s.iter().collect::<Vec<_>>(), want);
        for (i, w) in want.iter().enumerate() {
            assert_eq!(s.find(w), Some(i as u32), "{w}");
            assert_eq!(s.get(i), *w);
        }
        assert_eq!(s.find("u700@d0"), None);
        assert_eq!(s.get(want.len()), "");
    }
}
