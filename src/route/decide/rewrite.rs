//! Stages 3 and 4: cleanup's address rewriting — `canonical_maps` (`cleanup_map11`) and
//! `virtual_alias_maps` (`cleanup_map1n`).

use std::collections::HashSet;

use super::lookup::{KeyKind, Query, VamLookup};
use super::outcome::{Stage, Step};
use super::{Rec, ZimbraMta};

/// Postfix's `virtual_alias_address_length_limit` default: a longer alias result defers the
/// message.
pub(super) const VIRTUAL_ADDRESS_LENGTH_LIMIT: usize = 1000;

/// Postfix's `been_here` set of addresses that expanded into themselves (case-insensitive): a
/// short list, a hash set once it grows (large lists).
#[derive(Default)]
struct BeenHere {
    small: Vec<String>,
    big: HashSet<String>,
}

impl BeenHere {
    fn contains(&self, a: &str) -> bool {
        if self.big.is_empty() {
            self.small.iter().any(|x| x.eq_ignore_ascii_case(a))
        } else {
            self.big.contains(&a.to_ascii_lowercase())
        }
    }

    fn insert(&mut self, a: &str) {
        if self.big.is_empty() && self.small.len() < 32 {
            self.small.push(a.to_string());
        } else {
            if self.big.is_empty() {
                self.big = self
                    .small
                    .drain(..)
                    .map(|x| x.to_ascii_lowercase())
                    .collect();
            }
            self.big.insert(a.to_ascii_lowercase());
        }
    }
}

/// cleanup's refusal texts for stage 4 (the message is deferred with 4.6.0), shared by
/// [`ZimbraMta::virtual_expand`] and the memo's expansion.
pub(super) mod refusal {
    /// More addresses than `virtual_alias_expansion_limit`.
    pub fn expansion_size(addr: &str) -> String {
        format!("unreasonable virtual_alias_maps map expansion size for {addr} -- message not accepted, try again later")
    }

    /// Nesting deeper than `virtual_alias_recursion_limit`.
    pub fn nesting(addr: &str) -> String {
        format!("unreasonable virtual_alias_maps map nesting for {addr} -- message not accepted, try again later")
    }

    /// A joined result that holds no address.
    pub fn lookup_problem(addr: &str) -> String {
        format!("virtual_alias_maps map lookup problem for {addr} -- message not accepted, try again later")
    }

    /// A result address longer than `virtual_alias_address_length_limit` (its first 300
    /// characters are shown).
    pub fn long_result(long: &str) -> String {
        let shown: String = long.chars().take(300).collect();
        format!("unreasonable virtual_alias_maps result {shown}... -- message not accepted, try again later")
    }
}

impl ZimbraMta {
    /// Stage 3: `canonical_maps` on the recipient (internal form). `Err` is a cleanup
    /// refusal text.
    pub(super) fn canonical(
        &self,
        addr: &str,
        rec: &mut Rec<'_>,
        buf: &mut String,
    ) -> Result<String, String> {
        let mut cur = addr.to_string();
        for _ in 0..10 {
            let Some(f) = self.find(&self.index.canonical, &cur, Query::External, buf) else {
                if cur == addr {
                    rec.add(|| {
                        Step::new(Stage::Canonical, format!("{cur}: no canonical mapping"))
                            .table("ldap-canonical.cf")
                    });
                }
                return Ok(cur);
            };
            let joined = self.joined(f.hits, |r| &r.canonical);
            // cleanup_map11 keeps the first address of the (joined) result
            let Some(next) = self
                .map_result(&joined, &cur, &f, self.params.propagate_canonical)
                .and_then(|v| v.into_iter().next())
            else {
                return Ok(cur);
            };
            let same = next.eq_ignore_ascii_case(&cur);
            rec.add(|| {
                Step::new(Stage::Canonical, format!("{cur} -> {next}"))
                    .table("ldap-canonical.cf")
                    .hits(&self.index, f.hits)
            });
            if same {
                return Ok(next);
            }
            cur = next;
        }
        // Postfix's cleanup (cleanup_map11) stops after 10 rewrites, logs "unreasonable
        // canonical_maps map nesting" and keeps the address it has reached; the message is
        // not refused (observed with the oracle: two domains whose catch-all canonical
        // addresses point at each other end on the tenth rewrite)
        rec.add(|| {
            Step::new(
                Stage::Canonical,
                format!("{cur}: more than 10 rewrites; Postfix warns about canonical_maps nesting and keeps {cur}"),
            )
            .table("ldap-canonical.cf")
        });
        Ok(cur)
    }

    /// Stage 4: `virtual_alias_maps` expansion (`cleanup_map1n_internal`). `Err` is a cleanup
    /// refusal text (the message is deferred with 4.6.0).
    pub(super) fn virtual_expand(
        &self,
        addr: &str,
        rec: &mut Rec<'_>,
        buf: &mut String,
    ) -> Result<Vec<String>, String> {
        let p = &self.params;
        let mut argv: Vec<String> = vec![addr.to_string()];
        let mut been_here = BeenHere::default();
        let mut recorded = 0usize;
        let mut arg = 0;
        while arg < argv.len() {
            if argv.len() > p.virtual_alias_expansion_limit {
                rec.add(|| {
                    Step::new(
                        Stage::Virtual,
                        format!(
                            "more than {} addresses (virtual_alias_expansion_limit)",
                            p.virtual_alias_expansion_limit
                        ),
                    )
                    .table("ldap-vam.cf")
                });
                return Err(refusal::expansion_size(addr));
            }
            let mut count = 0usize;
            loop {
                if been_here.contains(&argv[arg]) {
                    break;
                }
                if count >= p.virtual_alias_recursion_limit {
                    rec.add(|| {
                        Step::new(
                            Stage::Virtual,
                            format!(
                                "nesting deeper than {} (virtual_alias_recursion_limit)",
                                p.virtual_alias_recursion_limit
                            ),
                        )
                        .table("ldap-vam.cf")
                    });
                    return Err(refusal::nesting(addr));
                }
                count += 1;
                let cur = argv[arg].clone();
                let (results, f) = match self.vam_lookup(&cur, buf) {
                    VamLookup::Final => {
                        if recorded < 32 {
                            recorded += 1;
                            rec.add(|| {
                                Step::new(Stage::Virtual, format!("{cur}: no alias (final)"))
                                    .table("ldap-vam.cf")
                            });
                        }
                        break;
                    }
                    VamLookup::NoAddress { joined } => {
                        rec.add(|| {
                            Step::new(
                                Stage::Virtual,
                                format!("{cur}: the result {joined:?} holds no address"),
                            )
                            .table("ldap-vam.cf")
                        });
                        return Err(refusal::lookup_problem(addr));
                    }
                    VamLookup::TooLong { long } => {
                        rec.add(|| {
                            Step::new(
                                Stage::Virtual,
                                format!(
                                    "a result longer than {VIRTUAL_ADDRESS_LENGTH_LIMIT} characters (virtual_alias_address_length_limit)"
                                ),
                            )
                            .table("ldap-vam.cf")
                        });
                        return Err(refusal::long_result(&long));
                    }
                    VamLookup::To { results, found } => (results, found),
                };
                if recorded < 32 {
                    recorded += 1;
                    let list = results.join(", ");
                    let via = if f.kind == KeyKind::AtDomain {
                        " (catch-all)"
                    } else {
                        ""
                    };
                    rec.add(|| {
                        Step::new(Stage::Virtual, format!("{cur} -> {list}{via}"))
                            .table("ldap-vam.cf")
                            .hits(&self.index, f.hits)
                    });
                }
                let mut self_hit = false;
                for (i, r) in results.into_iter().enumerate() {
                    if r.eq_ignore_ascii_case(&cur) {
                        self_hit = true;
                    }
                    if i == 0 {
                        argv[arg] = r;
                    } else {
                        argv.push(r);
                    }
                }
                if self_hit {
                    been_here.insert(&cur);
                }
            }
            arg += 1;
        }
        // duplicate elimination (cleanup delivers each recipient once)
        if argv.len() > 1 {
            let mut seen = HashSet::new();
            argv.retain(|a| seen.insert(a.to_ascii_lowercase()));
        }
        Ok(argv)
    }
}
