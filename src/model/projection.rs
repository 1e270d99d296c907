//! Keeping only what routing reads. An account of a real directory carries ~45 attributes
//! (signatures, preferences, password hashes, slapd's operational attributes); routing reads a
//! dozen of them ([`names::ROUTING`]). A directory loaded for routing questions keeps the rest
//! nowhere, which is what lets millions of accounts fit in memory.

use std::sync::OnceLock;

use super::attr_name::{self, UNKNOWN};
use super::{names, AttrBag, BagBuilder, Directory};

/// [`names::ROUTING`] resolved against the catalog once.
struct Routing {
    /// Catalog ids, sorted.
    ids: Vec<u32>,
    /// Names the catalog does not know (compared case-insensitively).
    unknown: Vec<&'static str>,
}

fn routing() -> &'static Routing {
    static R: OnceLock<Routing> = OnceLock::new();
    R.get_or_init(|| {
        let (mut ids, mut unknown) = (Vec::new(), Vec::new());
        for &n in names::ROUTING {
            match attr_name::id_of(n) {
                UNKNOWN => unknown.push(n),
                id => ids.push(id),
            }
        }
        ids.sort_unstable();
        ids.dedup();
        Routing { ids, unknown }
    })
}

/// Whether the attribute of catalog id `id` (or description `desc`, when the catalog does not
/// know it) is one of [`names::ROUTING`]. An attribute with options (`mail;lang-de`) is not.
pub(crate) fn is_routing_attr(id: u32, desc: &str) -> bool {
    let r = routing();
    if id == UNKNOWN {
        r.unknown.iter().any(|n| n.eq_ignore_ascii_case(desc))
    } else {
        r.ids.binary_search(&id).is_ok()
    }
}

impl AttrBag {
    /// A copy holding only the attributes of [`names::ROUTING`], in the same order, with the
    /// same spelling and values.
    ///
    /// ```
    /// use zimbra_prov::model::AttrBag;
    /// let mut bag = AttrBag::new();
    /// bag.add("objectClass", "zimbraAccount");
    /// bag.add("zimbraPrefMailSignature", "Ann, from the desk of");
    /// bag.add("zimbraMailDeliveryAddress", "ann@example.org");
    /// bag.add("userPassword", "{SSHA512}...");
    /// let kept = bag.routing_view();
    /// let names: Vec<&str> = kept.iter().map(|a| a.name()).collect();
    /// assert_eq!(names, ["objectClass", "zimbraMailDeliveryAddress"]);
    /// ```
    pub fn routing_view(&self) -> AttrBag {
        BagBuilder::default().build_where(
            self.iter()
                .flat_map(|a| a.values().map(move |v| (a.name(), v.as_bytes()))),
            is_routing_attr,
        )
    }
}

impl Directory {
    /// Drops from every account and calendar resource (typed or not) the attributes routing does not read
    /// ([`AttrBag::routing_view`]); other entries are kept whole. Every routing answer (the
    /// maps, `decide`, `verify`, zmprov's routing changes) stays the same, but the directory
    /// no longer holds what a dump of it should: it is for routing questions, not for
    /// writing back.
    ///
    /// ```
    /// use zimbra_prov::model::Directory;
    /// let mut dir = Directory::new();
    /// zimbra_prov::zmprov::run(&mut dir, "cs mx.example.org\ncd example.org\n\
    ///     ca ann@example.org pw displayName Ann zimbraPrefMailForwardingAddress ann@elsewhere.example").unwrap();
    /// dir.keep_routing_attrs();
    /// let ann = dir.account("ann@example.org").unwrap();
    /// assert_eq!(ann.attrs.first("displayName"), None);
    /// assert_eq!(ann.attrs.first("zimbraPrefMailForwardingAddress"), Some("ann@elsewhere.example"));
    /// ```
    pub fn keep_routing_attrs(&mut self) {
        for a in self.accounts.values_mut() {
            a.attrs = a.attrs.routing_view();
        }
        // account entries without an address stay untyped
        for e in &mut self.other_entries {
            let classes = e.attrs.values(names::OBJECT_CLASS).map(|v| v.as_bytes());
            if crate::dit::is_account_by_classes(classes) {
                e.attrs = e.attrs.routing_view();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_routing_name_is_kept_whatever_its_case() {
        for n in names::ROUTING {
            let upper = n.to_ascii_uppercase();
            assert!(is_routing_attr(attr_name::id_of(n), n), "{n}");
            assert!(is_routing_attr(attr_name::id_of(&upper), &upper), "{upper}");
        }
        for n in [
            "userPassword",
            "zimbraPrefLocale",
            "entryCSN",
            "mail;lang-de",
            "x-unknown",
        ] {
            assert!(!is_routing_attr(attr_name::id_of(n), n), "{n}");
        }
    }

    #[test]
    fn the_view_keeps_spelling_order_and_values() {
        let mut bag = AttrBag::new();
        bag.add("MAIL", "a@x.org");
        bag.add("description", "d");
        bag.add("zimbraMailAlias", "b@x.org");
        bag.add("mail", "c@x.org");
        bag.add("zimbraMailAlias", "");
        let v = bag.routing_view();
        let got: Vec<(String, Vec<String>)> = v
            .iter()
            .map(|a| {
                let vals = a.values().map(|x| x.to_string_lossy()).collect();
                (a.name().to_string(), vals)
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "MAIL".to_string(),
                    vec!["a@x.org".to_string(), "c@x.org".to_string()]
                ),
                (
                    "zimbraMailAlias".to_string(),
                    vec!["b@x.org".to_string(), String::new()]
                ),
            ]
        );
        assert_eq!(v.routing_view(), v);
        assert!(v.heap_bytes() < bag.heap_bytes());
    }
}
