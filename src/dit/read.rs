//! LDIF → entries → typed directory.

use std::collections::HashSet;
use std::io::BufRead;

use super::classify::{address_of_dn, classify, EntryKind};
use super::write::default_dn_text;
use super::DitError;
use crate::dn::Dn;
use crate::ldif::Reader;
use crate::model::{
    names, Account, Address, Alias, AttrBag, Cos, Directory, DistributionList, Domain, DomainName,
    DynamicGroup, RawEntry, Server,
};

/// Streams the content records of an LDIF directory dump (a `slapcat` output) as
/// [`RawEntry`]s, values and attribute order as read. A change record is an error.
///
/// ```
/// use zimbra_prov::dit::EntryReader;
/// let text = b"dn: cn=zimbra\nobjectClass: organizationalRole\ncn: zimbra\n";
/// let entries: Vec<_> = EntryReader::new(&text[..]).collect::<Result<_, _>>()?;
/// assert_eq!(entries[0].dn, "cn=zimbra");
/// assert_eq!(entries[0].attrs.first("cn"), Some("zimbra"));
/// # Ok::<(), zimbra_prov::dit::DitError>(())
/// ```
#[derive(Debug)]
pub struct EntryReader<R> {
    inner: Reader<R>,
}

impl<R: BufRead> EntryReader<R> {
    /// A reader over `input`.
    pub fn new(input: R) -> Self {
        EntryReader {
            inner: Reader::new(input),
        }
    }

    /// The next entry and the line it starts on, `Ok(None)` at the end.
    pub fn next_entry(&mut self) -> Result<Option<(RawEntry, u64)>, DitError> {
        let Some(r) = self.inner.next_ref()? else {
            return Ok(None);
        };
        if r.is_change() {
            return Err(DitError::ChangeRecord {
                line: r.line(),
                dn: r.dn().to_string(),
            });
        }
        let mut attrs = AttrBag::new();
        for (d, v) in r.attributes() {
            attrs.add(d, v);
        }
        Ok(Some((
            RawEntry {
                dn: r.dn().to_string(),
                attrs,
            },
            r.line(),
        )))
    }
}

impl<R: BufRead> Iterator for EntryReader<R> {
    type Item = Result<RawEntry, DitError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().transpose().map(|r| r.map(|(e, _)| e))
    }
}

/// Reads a whole LDIF directory dump into a typed [`Directory`] (see the [module
/// documentation](super) for what becomes what). The directory starts empty: nothing is
/// assumed that the dump does not contain.
pub fn read_directory<R: BufRead>(input: R) -> Result<Directory, DitError> {
    let mut reader = EntryReader::new(input);
    let mut b = Builder::default();
    while let Some((entry, line)) = reader.next_entry()? {
        b.add(entry, line)?;
    }
    Ok(b.dir)
}

/// Builds a typed [`Directory`] from entries (for example [`EntryReader`]'s, or
/// [`entries`](super::entries) of another directory).
pub fn directory_from_entries<I>(entries: I) -> Result<Directory, DitError>
where
    I: IntoIterator<Item = Result<RawEntry, DitError>>,
{
    let mut b = Builder::default();
    for e in entries {
        b.add(e?, 0)?;
    }
    Ok(b.dir)
}

#[derive(Default)]
struct Builder {
    dir: Directory,
    seen: HashSet<String>,
    config_seen: bool,
}

fn override_of(dn: &str, default: Option<String>) -> Option<String> {
    match default {
        Some(d) if d == dn => None,
        _ => Some(dn.to_string()),
    }
}

fn first_address(attrs: &AttrBag, attr: &str) -> Option<Address> {
    attrs.first(attr).and_then(|s| Address::parse(s).ok())
}

impl Builder {
    fn add(&mut self, entry: RawEntry, line: u64) -> Result<(), DitError> {
        let dn = Dn::parse(&entry.dn).map_err(|source| DitError::Dn {
            line,
            dn: entry.dn.clone(),
            source,
        })?;
        if !self.seen.insert(dn.normalized().to_string()) {
            return Err(DitError::DuplicateDn { line, dn: entry.dn });
        }
        // every entry takes the next place in creation order: a slapcat file lists entries in
        // slapd's entry-ID order, an LDAP search returns them in that order
        if let Some(raw) = self.typed(entry, &dn) {
            self.dir.push_raw(raw);
        }
        Ok(())
    }

    /// Stores the entry as a typed object; gives it back when it cannot be typed.
    fn typed(&mut self, e: RawEntry, dn: &Dn) -> Option<RawEntry> {
        let kind = classify(dn, &e.attrs);
        let rdn_text = dn
            .rdn()
            .and_then(|r| r.avas().first())
            .and_then(|a| a.text())
            .map(str::to_string);
        let dir = &mut self.dir;
        match kind {
            EntryKind::GlobalConfig if !self.config_seen => {
                self.config_seen = true;
                dir.place_config();
                dir.config.dn = override_of(&e.dn, default_dn_text(EntryKind::GlobalConfig, ""));
                dir.config.attrs = e.attrs;
                None
            }
            EntryKind::Cos | EntryKind::Server => {
                let name = e.attrs.first(names::CN).map(str::to_string).or(rdn_text)?;
                let taken = match kind {
                    EntryKind::Cos => dir.cos(&name).is_some(),
                    _ => dir.server(&name).is_some(),
                };
                if taken {
                    return Some(e);
                }
                let dn_override = override_of(&e.dn, default_dn_text(kind, &name));
                if kind == EntryKind::Cos {
                    let mut o = Cos::new(&name);
                    o.dn = dn_override;
                    o.attrs = e.attrs;
                    dir.insert_cos(o).map_or((), drop)
                } else {
                    let mut o = Server::new(&name);
                    o.dn = dn_override;
                    o.attrs = e.attrs;
                    dir.insert_server(o).map_or((), drop)
                };
                None
            }
            EntryKind::Domain => {
                let Some(name) = e
                    .attrs
                    .first(names::DOMAIN_NAME)
                    .and_then(|s| DomainName::parse(s).ok())
                else {
                    return Some(e);
                };
                if dir.domain(name.as_str()).is_some() {
                    return Some(e);
                }
                let mut o = Domain::new(name.clone());
                o.dn = override_of(&e.dn, default_dn_text(kind, name.as_str()));
                o.attrs = e.attrs;
                let _ = dir.insert_domain(o);
                None
            }
            EntryKind::Account
            | EntryKind::CalendarResource
            | EntryKind::Alias
            | EntryKind::DistributionList
            | EntryKind::DynamicGroup => {
                let rdn_type = if kind == EntryKind::DynamicGroup {
                    "cn"
                } else {
                    "uid"
                };
                let from_dn = address_of_dn(dn, rdn_type).and_then(|s| Address::parse(&s).ok());
                let name = match kind {
                    EntryKind::Account | EntryKind::CalendarResource => {
                        first_address(&e.attrs, names::MAIL_DELIVERY_ADDRESS)
                            .or(from_dn)
                            .or_else(|| first_address(&e.attrs, names::MAIL))
                    }
                    _ => from_dn.or_else(|| first_address(&e.attrs, names::MAIL)),
                };
                let Some(name) = name else {
                    return Some(e);
                };
                let key = name.key();
                let taken = match kind {
                    EntryKind::Alias => dir.alias(&key).is_some(),
                    EntryKind::DistributionList => dir.list(&key).is_some(),
                    EntryKind::DynamicGroup => dir.group(&key).is_some(),
                    _ => dir.account(&key).is_some(),
                };
                if taken {
                    return Some(e);
                }
                let dn_override = override_of(&e.dn, default_dn_text(kind, &name.to_string()));
                let attrs = e.attrs;
                match kind {
                    EntryKind::Alias => dir
                        .insert_alias(Alias {
                            name,
                            dn: dn_override,
                            attrs,
                        })
                        .map_or((), drop),
                    EntryKind::DistributionList => dir
                        .insert_list(DistributionList {
                            name,
                            dn: dn_override,
                            attrs,
                        })
                        .map_or((), drop),
                    EntryKind::DynamicGroup => dir
                        .insert_group(DynamicGroup {
                            name,
                            dn: dn_override,
                            attrs,
                        })
                        .map_or((), drop),
                    _ => {
                        let mut a = Account::new(name);
                        a.dn = dn_override;
                        a.attrs = attrs;
                        let _ = dir.insert_account(a);
                    }
                };
                None
            }
            _ => Some(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_records_are_refused_with_their_line() {
        let text = b"dn: cn=a\ncn: a\n\ndn: cn=b\nchangetype: delete\n";
        let err = read_directory(&text[..]).unwrap_err();
        assert!(
            matches!(err, DitError::Ldif(_) | DitError::ChangeRecord { .. }),
            "{err}"
        );
    }

    #[test]
    fn duplicate_dns_are_refused() {
        let text = b"dn: cn=a\ncn: a\nobjectClass: organizationalRole\n\ndn: CN=A\ncn: a\nobjectClass: organizationalRole\n";
        let err = read_directory(&text[..]).unwrap_err();
        assert!(
            matches!(err, DitError::DuplicateDn { line: 5, .. }),
            "{err}"
        );
    }

    #[test]
    fn second_domain_with_the_same_name_stays_raw() {
        let text = b"dn: dc=a,dc=b\nobjectClass: zimbraDomain\nzimbraDomainName: a.b\n\n\
dn: dc=x,dc=b\nobjectClass: zimbraDomain\nzimbraDomainName: A.b\n";
        let dir = read_directory(&text[..]).unwrap();
        assert!(dir.domain("a.b").is_some_and(|d| d.dn.is_none()));
        assert_eq!(dir.other_entries.len(), 1);
        assert_eq!(dir.other_entries[0].dn, "dc=x,dc=b");
    }

    #[test]
    fn admin_account_without_address_stays_raw_with_address_is_typed() {
        let text = b"dn: uid=zimbra,cn=admins,cn=zimbra\nobjectClass: zimbraAccount\nuid: zimbra\n\n\
dn: uid=admin,cn=admins,cn=zimbra\nobjectClass: zimbraAccount\nuid: admin\nzimbraMailDeliveryAddress: admin@x.org\n";
        let dir = read_directory(&text[..]).unwrap();
        assert_eq!(dir.other_entries.len(), 1);
        let a = dir.account("admin@x.org").unwrap();
        assert_eq!(a.dn.as_deref(), Some("uid=admin,cn=admins,cn=zimbra"));
    }
}
