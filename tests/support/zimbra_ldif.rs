//! A small, private Directory → slapadd-mode LDIF converter for the oracle tests: the
//! entries a Zimbra LDAP would hold for the routing-relevant objects (parent `dc=` entries,
//! domains, `ou=people`, accounts, aliases, distribution lists; `cn=groups` and dynamic
//! groups), parents before children. Global config, servers and classes of service are left
//! out: no routing filter reads them. The crate's `dit` writer replaces this later.
#![allow(dead_code)] // not every test binary uses every helper

use std::collections::BTreeMap;

use zimbra_prov::dn::Dn;
use zimbra_prov::ldif::{Entry, Writer, WriterOptions};
use zimbra_prov::model::{AttrBag, Directory};

/// Why a directory could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ToLdifError {
    /// A DN could not be built or parsed.
    #[error("{what} {name}: {reason}")]
    Dn {
        /// Object kind.
        what: &'static str,
        /// Object name.
        name: String,
        /// The DN error.
        reason: String,
    },
    /// The LDIF writer failed.
    #[error("writing LDIF: {0}")]
    Write(String),
}

fn dn_err(what: &'static str, name: &str) -> impl FnOnce(zimbra_prov::dn::DnError) -> ToLdifError {
    let name = name.to_string();
    move |e| ToLdifError::Dn {
        what,
        name,
        reason: e.to_string(),
    }
}

fn parse_dn(what: &'static str, name: &str, dn: &str) -> Result<Dn, ToLdifError> {
    Dn::parse(dn).map_err(dn_err(what, name))
}

fn entry(dn: &Dn, bag: &AttrBag) -> Entry {
    let mut e = Entry::new(dn.clone());
    for a in bag.iter() {
        for v in a.values() {
            e.push(a.name().to_string(), v.as_bytes().to_vec());
        }
    }
    e
}

fn glue(dn: &Dn) -> Option<Entry> {
    let rdn = dn.rdn()?;
    let ava = rdn.avas().first()?;
    let value = ava.text()?.to_string();
    let ty = ava.attr_type().to_ascii_lowercase();
    let class = match ty.as_str() {
        "dc" => "domain",
        "ou" => "organizationalUnit",
        "cn" => "organizationalRole",
        _ => return None,
    };
    let mut e = Entry::new(dn.clone());
    e.push("objectClass", class.as_bytes().to_vec());
    e.push(ava.attr_type().to_string(), value.into_bytes());
    Some(e)
}

/// The directory's routing-relevant entries as slapadd-mode LDIF.
pub fn directory_to_ldif(dir: &Directory) -> Result<String, ToLdifError> {
    // normalized DN -> entry; BTreeMap only for determinism
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    let mut add = |dn: Dn, e: Entry| {
        entries.insert(dn.normalized().to_string(), e);
    };
    for d in dir.domains() {
        let name = d.name.to_string();
        let dn = match &d.dn {
            Some(s) => parse_dn("domain", &name, s)?,
            None => Dn::zimbra_domain(&name).map_err(dn_err("domain", &name))?,
        };
        add(dn.clone(), entry(&dn, &d.attrs));
        let people = Dn::zimbra_account("x", &name)
            .map_err(dn_err("domain", &name))?
            .parent()
            .ok_or_else(|| ToLdifError::Dn {
                what: "domain",
                name: name.clone(),
                reason: "no ou=people".into(),
            })?;
        if let Some(g) = glue(&people) {
            add(people, g);
        }
    }
    for a in dir.accounts() {
        let name = a.name.to_string();
        let dn = match &a.dn {
            Some(s) => parse_dn("account", &name, s)?,
            None => Dn::zimbra_account(a.name.local(), a.name.domain().as_str())
                .map_err(dn_err("account", &name))?,
        };
        add(dn.clone(), entry(&dn, &a.attrs));
    }
    for a in dir.aliases() {
        let name = a.name.to_string();
        let dn = match &a.dn {
            Some(s) => parse_dn("alias", &name, s)?,
            None => Dn::zimbra_account(a.name.local(), a.name.domain().as_str())
                .map_err(dn_err("alias", &name))?,
        };
        add(dn.clone(), entry(&dn, &a.attrs));
    }
    for l in dir.lists() {
        let name = l.name.to_string();
        let dn = match &l.dn {
            Some(s) => parse_dn("list", &name, s)?,
            None => Dn::zimbra_account(l.name.local(), l.name.domain().as_str())
                .map_err(dn_err("list", &name))?,
        };
        add(dn.clone(), entry(&dn, &l.attrs));
    }
    for g in dir.groups() {
        let name = g.name.to_string();
        let dn = match &g.dn {
            Some(s) => parse_dn("dynamic group", &name, s)?,
            None => Dn::zimbra_dynamic_group(g.name.local(), g.name.domain().as_str())
                .map_err(dn_err("dynamic group", &name))?,
        };
        add(dn.clone(), entry(&dn, &g.attrs));
    }
    // synthesize missing ancestors (dc= parents of domains, ou=people, cn=groups)
    let dns: Vec<Dn> = entries.values().map(|e| e.dn().clone()).collect();
    for dn in dns {
        let mut p = dn.parent();
        while let Some(anc) = p {
            if anc.is_root() {
                break;
            }
            let key = anc.normalized().to_string();
            if let std::collections::btree_map::Entry::Vacant(slot) = entries.entry(key) {
                if let Some(g) = glue(&anc) {
                    slot.insert(g);
                }
            }
            p = anc.parent();
        }
    }
    let mut all: Vec<&Entry> = entries.values().collect();
    all.sort_by_key(|e| e.dn().rdns().len()); // stable: parents first
    let mut w = Writer::new(Vec::new(), WriterOptions::slapadd_mode());
    for e in all {
        w.write_entry(e)
            .map_err(|e| ToLdifError::Write(e.to_string()))?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| ToLdifError::Write(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| ToLdifError::Write(e.to_string()))
}
