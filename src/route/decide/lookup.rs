//! Table lookups and their results, as Postfix's `mail_addr_find` and `mail_addr_map` do them.
//!
//! **Keys.** An address (internal form) is looked up as `user+ext@domain`, `user@domain` (with
//! `recipient_delimiter` set) and `@domain`, each in external (quoted) form — `"john doe"@x`,
//! `ann@x` for `"ann"@x` — and, where Postfix falls back to it (`transport_maps`, the SMTP
//! server's recipient checks), in internal form too. LDAP's equality matching is
//! case-insensitive, so keys are lower-cased.
//!
//! **Results.** Postfix's LDAP client joins every value of every entry answering a key with
//! commas, entries in the order slapd returns them (creation order), values in the entry's
//! attribute order, and the maps then parse that one string: `mail_addr_map` as an RFC 822
//! address list (a comma inside quotes does not split, `Name <a@b>` is `a@b`, every address gets
//! trivial-rewrite's canonical rewrite), after prepending the local part when the string starts
//! with `@` (then the whole joined string becomes one address).

use std::borrow::Cow;

use super::syntax::{self, split_addr};
use super::ZimbraMta;
use crate::route::index::{Hit, HitMap, Rec, Values};

/// Which key matched.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum KeyKind {
    /// The full address.
    Full,
    /// The address without its extension.
    Stripped,
    /// `@domain`.
    AtDomain,
}

/// How keys are formed (`MA_FORM_EXTERNAL` or `MA_FORM_EXTERNAL_FIRST`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Query {
    /// External (quoted) form only: cleanup's canonical and virtual alias lookups.
    External,
    /// External form, then internal form if it differs: `transport_maps` and the SMTP server.
    ExternalFirst,
}

/// A successful lookup.
pub(super) struct Found<'a> {
    /// The entries that answered, in creation order.
    pub hits: &'a [Hit],
    /// Which key.
    pub kind: KeyKind,
    /// The extension (`+ext`) the stripped key left over.
    pub ext: &'a str,
}

/// `buf` := `parts` concatenated and lower-cased (ASCII, as LDAP's IA5 case folding).
pub(super) fn lower_into(buf: &mut String, parts: &[&str]) {
    buf.clear();
    for p in parts {
        for c in p.chars() {
            buf.push(c.to_ascii_lowercase());
        }
    }
}

/// The external form of an internal-form address, without copying when it needs no quotes.
fn external_cow(addr: &str) -> Cow<'_, str> {
    let ext = syntax::external(addr);
    if ext == addr {
        Cow::Borrowed(addr)
    } else {
        Cow::Owned(ext)
    }
}

impl ZimbraMta {
    /// `user+ext` → (`user`, `+ext`) with `recipient_delimiter` (Postfix's `split_addr`).
    pub(super) fn ext_split<'a>(&self, local: &'a str) -> Option<(&'a str, &'a str)> {
        let d = &self.params.recipient_delimiter;
        if d.is_empty() {
            return None;
        }
        let pos = local.find(|c| d.contains(c))?;
        if pos == 0 {
            return None;
        }
        Some((&local[..pos], &local[pos..]))
    }

    /// One key in the query form(s).
    fn get<'m>(map: &'m HitMap, addr: &str, query: Query, buf: &mut String) -> Option<&'m [Hit]> {
        let ext = external_cow(addr);
        lower_into(buf, &[&ext]);
        if let Some(h) = map.get(buf.as_str()) {
            return Some(h);
        }
        if query == Query::ExternalFirst && ext != addr {
            lower_into(buf, &[addr]);
            return map.get(buf.as_str());
        }
        None
    }

    /// Postfix's `user+ext@domain`, `user@domain`, `@domain` lookup order against one map.
    pub(super) fn find<'a>(
        &self,
        map: &'a HitMap,
        addr: &'a str,
        query: Query,
        buf: &mut String,
    ) -> Option<Found<'a>> {
        let (local, domain) = split_addr(addr);
        if let Some(h) = Self::get(map, addr, query, buf) {
            return Some(Found {
                hits: h,
                kind: KeyKind::Full,
                ext: "",
            });
        }
        if let Some((base, ext)) = self.ext_split(local) {
            let stripped = format!("{base}@{domain}");
            if let Some(h) = Self::get(map, &stripped, query, buf) {
                return Some(Found {
                    hits: h,
                    kind: KeyKind::Stripped,
                    ext,
                });
            }
        }
        lower_into(buf, &["@", domain]);
        map.get(buf.as_str()).map(|h| Found {
            hits: h,
            kind: KeyKind::AtDomain,
            ext: "",
        })
    }

    /// The lookup result: the values `field` of every entry that answered, joined with commas
    /// in creation order (as Postfix's LDAP client returns them).
    pub(super) fn joined<'a>(
        &'a self,
        hits: &[Hit],
        field: impl for<'r> Fn(&'r Rec<'a>) -> &'r Values<'a>,
    ) -> String {
        let mut s = String::new();
        for v in hits
            .iter()
            .filter_map(|h| self.index.rec(h.rec))
            .flat_map(|r| field(&r).iter())
        {
            if !s.is_empty() {
                s.push(',');
            }
            s.push_str(v);
        }
        s
    }

    /// Postfix's `mail_addr_map`: the addresses (internal form) a lookup result maps `addr` to.
    /// An `@domain` result keeps the local part (without the extension the stripped key left
    /// over) and the whole joined string becomes one address; the result is parsed as an
    /// address list and each address canonicalised; with `propagate` the unmatched extension is
    /// put back into each. `None` when the result holds no address (Postfix: a lookup error).
    pub(super) fn map_result(
        &self,
        joined: &str,
        addr: &str,
        found: &Found<'_>,
        propagate: bool,
    ) -> Option<Vec<String>> {
        let string: Cow<'_, str> = if joined.starts_with('@') {
            let (local, _) = split_addr(addr);
            let local = match found.kind {
                KeyKind::Stripped => local.strip_suffix(found.ext).unwrap_or(local),
                _ => local,
            };
            Cow::Owned(syntax::external(&format!("{local}{joined}")))
        } else {
            Cow::Borrowed(joined)
        };
        let string = if string.is_empty() || string == "<>" {
            Cow::Borrowed("\"\"")
        } else {
            string
        };
        let ext = (propagate && found.kind == KeyKind::Stripped && !found.ext.is_empty())
            .then_some(found.ext);
        let out: Vec<String> = syntax::address_list(&string)
            .into_iter()
            .map(|toks| {
                let mut a = syntax::canonical_internal(toks, &self.params.myorigin);
                if let Some(ext) = ext {
                    match a.rfind('@') {
                        Some(i) => a.insert_str(i, ext),
                        None => a.push_str(ext),
                    }
                }
                a
            })
            .collect();
        (!out.is_empty()).then_some(out)
    }

    /// One `ldap-vam.cf` lookup of `cur` as cleanup's stage 4 reads it: every value of every
    /// entry answering the key, joined with commas and parsed as one address list (a `@domain`
    /// first value makes the whole joined string one address: a domain catch-all and an account
    /// catch-all on one domain give an address that grows on every lookup until the length
    /// limit defers the message, observed with the oracle; a later `@domain` stays as it is).
    pub(super) fn vam_lookup<'a>(&'a self, cur: &'a str, buf: &mut String) -> VamLookup<'a> {
        let Some(found) = self.find(&self.index.vam, cur, Query::External, buf) else {
            return VamLookup::Final;
        };
        let joined = self.joined(found.hits, |r| &r.vam);
        match self.map_result(&joined, cur, &found, self.params.propagate_virtual) {
            None => VamLookup::NoAddress { joined },
            Some(results) => match results
                .iter()
                .find(|r| r.len() > super::rewrite::VIRTUAL_ADDRESS_LENGTH_LIMIT)
            {
                Some(long) => VamLookup::TooLong { long: long.clone() },
                None => VamLookup::To { results, found },
            },
        }
    }
}

/// What one `ldap-vam.cf` lookup gives cleanup ([`ZimbraMta::vam_lookup`]).
pub(super) enum VamLookup<'a> {
    /// No entry answers: the address is final.
    Final,
    /// The result holds no address (Postfix: a lookup error).
    NoAddress {
        /// The joined result.
        joined: String,
    },
    /// A result address is longer than `virtual_alias_address_length_limit`.
    TooLong {
        /// That address.
        long: String,
    },
    /// The addresses the key maps to.
    To {
        /// The addresses (internal form).
        results: Vec<String>,
        /// The lookup.
        found: Found<'a>,
    },
}
