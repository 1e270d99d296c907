//! What quiet decisions of one MTA remember between calls, for exhaustive checks that decide
//! many recipients whose alias expansions overlap (a forwarding chain of N accounts expands
//! N, N−1, ... addresses): every address is interned once, its `virtual_alias_maps` answer is
//! looked up and parsed once, and stage 4 runs Postfix's `cleanup_map1n` algorithm over
//! numbers. The answer of a lookup is a function of the address alone (the index and the
//! parameters are fixed), so a remembered answer is the answer; the expansion itself is still
//! carried out address by address, limits and `been_here` included, exactly as
//! [`ZimbraMta::virtual_expand`] does.

use super::lookup::VamLookup;
use super::rewrite::refusal;
use super::ZimbraMta;
use crate::route::index::FxMap;

/// Remembered addresses past which a memo starts afresh (bounds its memory).
const MEMO_BOUND: usize = 1 << 17;

/// The `virtual_alias_maps` answer for one address.
#[derive(Debug)]
enum VamAnswer {
    /// No entry answers it: the address is final.
    Final,
    /// The result's addresses, in order (interned).
    To(Box<[u32]>),
    /// The joined result holds no address (cleanup defers the message).
    NoAddress,
    /// A result address longer than the length limit.
    TooLong(String),
}

/// Interned addresses and their lookup answers (one per MTA and thread).
#[derive(Debug, Default)]
pub(crate) struct Memo {
    ids: FxMap<Box<str>, u32>,
    names: Vec<Box<str>>,
    /// Per address: the number of its lower-case form (case-insensitive comparisons).
    lower: Vec<u32>,
    lower_ids: FxMap<Box<str>, u32>,
    vam: Vec<Option<VamAnswer>>,
    /// Scratch sets of one expansion (kept for their room).
    been: FxMap<u32, ()>,
    seen: FxMap<u32, ()>,
}

impl Memo {
    /// The number of `a` (interned on first use).
    pub(crate) fn intern(&mut self, a: &str) -> u32 {
        if let Some(i) = self.ids.get(a) {
            return *i;
        }
        let i = self.names.len() as u32;
        let lc = a.to_ascii_lowercase();
        let next = self.lower_ids.len() as u32;
        let l = *self.lower_ids.entry(lc.into_boxed_str()).or_insert(next);
        self.ids.insert(a.into(), i);
        self.names.push(a.into());
        self.lower.push(l);
        self.vam.push(None);
        i
    }

    /// The address numbered `i`.
    pub(crate) fn name(&self, i: u32) -> &str {
        self.names.get(i as usize).map_or("", |s| s)
    }

    /// How many addresses it holds.
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    fn lower(&self, i: u32) -> u32 {
        self.lower.get(i as usize).copied().unwrap_or(u32::MAX)
    }

    /// Start afresh when it has grown past its bound (call between decisions only: numbers
    /// handed out before are void afterwards). Returns whether it was cleared.
    pub(crate) fn trim(&mut self) -> bool {
        if self.names.len() <= MEMO_BOUND {
            return false;
        }
        *self = Memo::default();
        true
    }
}

/// A quiet decision's outcome before stage 5: a verdict, or the final recipients (numbers in
/// the memo, duplicates removed, in expansion order) still to be resolved.
#[derive(Debug)]
pub(crate) enum Quiet {
    /// Rejected or deferred (never `Accepted`).
    Verdict(super::Verdict),
    /// The final recipients in Postfix's internal form.
    Finals(Vec<u32>),
}

impl ZimbraMta {
    /// Looks the answer for address `i` up, once.
    fn vam_answer(&self, i: u32, memo: &mut Memo, buf: &mut String) {
        if let Some(Some(_)) = memo.vam.get(i as usize) {
            return;
        }
        let cur = memo.name(i).to_string();
        let answer = match self.vam_lookup(&cur, buf) {
            VamLookup::Final => VamAnswer::Final,
            VamLookup::NoAddress { .. } => VamAnswer::NoAddress,
            VamLookup::TooLong { long } => VamAnswer::TooLong(long),
            VamLookup::To { results, .. } => {
                VamAnswer::To(results.iter().map(|r| memo.intern(r)).collect())
            }
        };
        if let Some(slot) = memo.vam.get_mut(i as usize) {
            *slot = Some(answer);
        }
    }

    /// Stage 4 over the memo: what [`ZimbraMta::virtual_expand`] computes, without steps.
    pub(super) fn virtual_expand_memo(
        &self,
        addr: &str,
        memo: &mut Memo,
        buf: &mut String,
    ) -> Result<Vec<u32>, String> {
        let p = &self.params;
        let mut argv: Vec<u32> = vec![memo.intern(addr)];
        // lower-case numbers of the addresses that expanded into themselves
        let mut been_here: Vec<u32> = Vec::new();
        let mut been_set = std::mem::take(&mut memo.been);
        been_set.clear();
        let mut arg = 0;
        while arg < argv.len() {
            if argv.len() > p.virtual_alias_expansion_limit {
                return Err(refusal::expansion_size(addr));
            }
            let mut count = 0usize;
            loop {
                let cur = argv[arg];
                let lc = memo.lower(cur);
                if been_set.contains_key(&lc) || been_here.contains(&lc) {
                    break;
                }
                if count >= p.virtual_alias_recursion_limit {
                    return Err(refusal::nesting(addr));
                }
                count += 1;
                self.vam_answer(cur, memo, buf);
                let results = match memo.vam.get(cur as usize) {
                    Some(Some(VamAnswer::To(r))) => r,
                    Some(Some(VamAnswer::NoAddress)) => return Err(refusal::lookup_problem(addr)),
                    Some(Some(VamAnswer::TooLong(long))) => return Err(refusal::long_result(long)),
                    _ => break,
                };
                let mut self_hit = false;
                for (k, r) in results.iter().enumerate() {
                    if memo.lower(*r) == lc {
                        self_hit = true;
                    }
                    if k == 0 {
                        argv[arg] = *r;
                    } else {
                        argv.push(*r);
                    }
                }
                if self_hit {
                    if been_here.len() < 32 {
                        been_here.push(lc);
                    } else {
                        been_set.insert(lc, ());
                    }
                }
            }
            arg += 1;
        }
        memo.been = been_set;
        if argv.len() > 1 {
            let mut seen = std::mem::take(&mut memo.seen);
            seen.clear();
            argv.retain(|a| seen.insert(memo.lower(*a), ()).is_none());
            memo.seen = seen;
        }
        Ok(argv)
    }
}
