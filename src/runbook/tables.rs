//! The topology tables of a spec — `[[directory]]`, `[[mta]]`, `[dns]`, the keys of a scenario
//! file — read into the modelled [`World`], with errors naming the file, the line and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::spec::SpecError;
use super::world::{DirSource, MtaDef, MtaDefKind, Overrides, World};
use crate::model::Directory;
use crate::route::{Dns, ForeignMta, UnknownPolicy};
use crate::scenario::{line_of, RawDirectory, RawDns};
use crate::zmprov;

/// The topology tables (the keys of a scenario file; expectations and steps are ignored).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTopology {
    #[allow(dead_code)]
    name: Option<String>,
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    pub directory: Vec<RawDirectory>,
    #[serde(default)]
    pub mta: Vec<RawMta>,
    pub dns: Option<RawDns>,
    #[allow(dead_code)]
    #[serde(default)]
    expect: Vec<toml::Value>,
    #[allow(dead_code)]
    #[serde(default)]
    step: Vec<toml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMta {
    name: Spanned<String>,
    kind: Option<Spanned<String>>,
    hostname: Option<String>,
    directory: Option<Spanned<String>>,
    relayhost: Option<String>,
    dns_lookups: Option<bool>,
    mynetworks: Option<Vec<String>>,
    hopcount_limit: Option<u32>,
    mydestination: Option<Vec<String>>,
    recipient_delimiter: Option<String>,
    old_address_filter: Option<bool>,
    domains: Option<Vec<String>>,
    mailboxes: Option<Vec<String>>,
    unknown: Option<UnknownPolicy>,
    unknown_relay: Option<String>,
    routes: Option<BTreeMap<String, String>>,
    aliases: Option<BTreeMap<String, String>>,
}

/// One file being read: its name, text and directory.
pub(super) struct Cx<'a> {
    pub file: &'a str,
    pub src: &'a str,
    pub base: Option<&'a Path>,
}

impl Cx<'_> {
    pub fn line(&self, offset: usize) -> usize {
        line_of(self.src, offset)
    }

    pub fn invalid(&self, offset: usize, key: &str, message: impl Into<String>) -> SpecError {
        SpecError::Invalid {
            file: self.file.to_string(),
            line: self.line(offset),
            key: key.to_string(),
            message: message.into(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        match self.base {
            Some(b) => b.join(rel),
            None => PathBuf::from(rel),
        }
    }

    pub fn toml<T: serde::de::DeserializeOwned>(&self) -> Result<T, SpecError> {
        toml::from_str(self.src).map_err(|e| SpecError::Toml {
            file: self.file.to_string(),
            line: e.span().map(|s| line_of(self.src, s.start)).unwrap_or(1),
            message: e.message().to_string(),
        })
    }

    /// Apply a zmprov script given as a TOML string, errors at the script's own line.
    fn run_zmprov(
        &self,
        dir: &mut Directory,
        script: &Spanned<String>,
        key: &str,
    ) -> Result<(), SpecError> {
        zmprov::run(dir, script.get_ref()).map(drop).map_err(|e| {
            let start = script.span().start;
            let first = self.line(start);
            // a multi-line string spans lines (and skips a newline right after its opening);
            // a one-line string holds the whole script on its own line
            let text = self.src.get(start..).unwrap_or("");
            let multi = text.starts_with("\"\"\"") || text.starts_with("'''");
            let skip = usize::from(text.starts_with("\"\"\"\n") || text.starts_with("'''\n"));
            let line = if multi {
                first + skip + e.line().saturating_sub(1)
            } else {
                first
            };
            SpecError::Invalid {
                file: self.file.to_string(),
                line,
                key: key.to_string(),
                message: e.zmprov_message(),
            }
        })
    }

    fn dns(&self, raw: &RawDns) -> Result<Dns, SpecError> {
        let mut dns = Dns::default();
        raw.apply(&mut dns)
            .map_err(|(at, message)| self.invalid(at, "dns.mx", message))?;
        Ok(dns)
    }

    /// Directories, MTAs and DNS from the tables.
    pub fn world(
        &self,
        dirs: &[RawDirectory],
        mtas: &[RawMta],
        dns: Option<&RawDns>,
    ) -> Result<(World, BTreeMap<String, DirSource>), SpecError> {
        let mut world = World::default();
        let mut sources = BTreeMap::new();
        for d in dirs {
            let name = d.name.get_ref().clone();
            if world.dirs.contains_key(&name) {
                return Err(self.invalid(
                    d.name.span().start,
                    "directory.name",
                    format!("duplicate directory {name:?}"),
                ));
            }
            let (dir, source) = match (&d.zmprov, &d.ldif) {
                (Some(z), None) => {
                    let mut dir = Directory::new();
                    self.run_zmprov(&mut dir, z, "directory.zmprov")?;
                    (dir, DirSource::Zmprov(z.get_ref().clone()))
                }
                (None, Some(l)) => {
                    let path = self.path(l.get_ref());
                    let bytes = std::fs::read(&path).map_err(|e| {
                        self.invalid(
                            l.span().start,
                            "directory.ldif",
                            format!("{}: {e}", path.display()),
                        )
                    })?;
                    let dir = crate::dit::read_directory(&bytes[..]).map_err(|e| {
                        self.invalid(
                            l.span().start,
                            "directory.ldif",
                            format!("{}: {e}", path.display()),
                        )
                    })?;
                    let file_name = format!("{name}.ldif");
                    (dir, DirSource::Ldif { file_name, bytes })
                }
                _ => {
                    return Err(self.invalid(
                        d.name.span().start,
                        "directory",
                        "give exactly one of zmprov and ldif",
                    ))
                }
            };
            world.insert_dir(name.clone(), dir);
            sources.insert(name, source);
        }
        for m in mtas {
            let at = m.name.span().start;
            let name = m.name.get_ref().clone();
            if world.mta(&name).is_some() {
                return Err(self.invalid(at, "mta.name", format!("duplicate MTA name {name:?}")));
            }
            let hostname = m
                .hostname
                .clone()
                .filter(|h| !h.trim().is_empty())
                .ok_or_else(|| {
                    self.invalid(at, "mta.hostname", format!("MTA {name:?} has no hostname"))
                })?
                .to_ascii_lowercase();
            let kind = m.kind.as_ref().ok_or_else(|| {
                self.invalid(
                    at,
                    "mta.kind",
                    format!("MTA {name:?} has no kind (zimbra | foreign)"),
                )
            })?;
            let kind = match kind.get_ref().as_str() {
                "zimbra" => {
                    let d = m.directory.as_ref().ok_or_else(|| {
                        self.invalid(
                            at,
                            "mta.directory",
                            format!("Zimbra MTA {name:?} needs a directory"),
                        )
                    })?;
                    if !world.dirs.contains_key(d.get_ref()) {
                        return Err(self.invalid(
                            d.span().start,
                            "mta.directory",
                            format!("no directory named {:?}", d.get_ref()),
                        ));
                    }
                    MtaDefKind::Zimbra {
                        directory: d.get_ref().clone(),
                        overrides: Overrides {
                            relayhost: m.relayhost.clone(),
                            dns_lookups: m.dns_lookups,
                            mynetworks: m.mynetworks.clone(),
                            hopcount_limit: m.hopcount_limit,
                            mydestination: m.mydestination.clone(),
                            recipient_delimiter: m.recipient_delimiter.clone(),
                            old_address_filter: m.old_address_filter,
                        },
                    }
                }
                "foreign" => MtaDefKind::Foreign(ForeignMta {
                    domains: m
                        .domains
                        .clone()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|d| d.to_ascii_lowercase())
                        .collect(),
                    mailboxes: m.mailboxes.clone().unwrap_or_default(),
                    routes: m.routes.clone().unwrap_or_default(),
                    aliases: m.aliases.clone().unwrap_or_default(),
                    unknown: m.unknown.unwrap_or_default(),
                    unknown_relay: m.unknown_relay.clone().filter(|s| !s.is_empty()),
                    relayhost: m.relayhost.clone().filter(|s| !s.is_empty()),
                    dns_lookups: m.dns_lookups.unwrap_or(true),
                    hopcount_limit: m.hopcount_limit.unwrap_or(50),
                }),
                other => {
                    return Err(self.invalid(
                        kind.span().start,
                        "mta.kind",
                        format!("unknown kind {other:?} (expected zimbra or foreign)"),
                    ))
                }
            };
            world.mtas.push(MtaDef {
                name,
                hostname,
                kind,
            });
        }
        if let Some(d) = dns {
            world.dns = self.dns(d)?;
        }
        Ok((world, sources))
    }
}
