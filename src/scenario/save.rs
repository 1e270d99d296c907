//! A [`Topology`] written back as a scenario file that loads to the same topology.
//!
//! Every Zimbra MTA's directory is written as a faithful LDIF dump
//! ([`crate::dit::write_directory`], creation order kept) in a file next to the TOML file
//! (`ldif = "STEM.NAME.ldif"`), one file per distinct directory however many MTAs read it; an
//! empty directory ([`Directory::new`]) is written inline (`zmprov = ""`). A Zimbra MTA's parameters are written
//! only where they differ from what zmconfigd derives from its directory; a foreign MTA's
//! tables and the DNS are written whole. Before anything is written the result is loaded back in
//! memory and compared with the topology ([`Topology::difference`]): what would not load to the
//! same topology is refused ([`SaveError::NotRepresentable`]) and no file is touched.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use super::{LoadOptions, Scenario};
use crate::dit::{self, WriteOptions};
use crate::model::{Directory, RawEntry};
use crate::route::{ForeignMta, MtaKind, Topology, UnknownPolicy, ZimbraParams};

/// How a scenario's directories are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DirectoryStyle {
    /// Non-empty directories as LDIF files next to the TOML file (the default).
    #[default]
    LdifFiles,
    /// Everything in the TOML text: only empty directories can be written so
    /// ([`SaveError::NotInline`] otherwise).
    Inline,
}

/// Options for [`to_files`] and [`save`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SaveOptions {
    /// The scenario's `name` (none written when `None`).
    pub name: Option<String>,
    /// How directories are written.
    pub directories: DirectoryStyle,
}

/// Errors writing a topology as a scenario file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SaveError {
    /// A Zimbra MTA built with [`crate::route::ZimbraMta::new`] keeps only its lookup index:
    /// build it with [`crate::route::Mta::zimbra`] or `zimbra_shared` to save it.
    #[error(
        "MTA {mta:?}: its directory was not kept (build it with Mta::zimbra or Mta::zimbra_shared)"
    )]
    NoDirectory {
        /// The MTA.
        mta: String,
    },
    /// [`DirectoryStyle::Inline`] and a directory with entries.
    #[error("directory of MTA {mta:?} has {entries} entries: it cannot be written inline (use DirectoryStyle::LdifFiles)")]
    NotInline {
        /// The first MTA reading it.
        mta: String,
        /// How many entries it has.
        entries: usize,
    },
    /// The topology holds something a scenario file cannot say (an upper-case DNS name or
    /// `mydestination`, an empty relay host, an MX list without records, a name TOML keys
    /// cannot hold...): the file would load to another topology.
    #[error("the scenario would load to another topology: {what}")]
    NotRepresentable {
        /// What would differ, or why it would not load.
        what: String,
    },
    /// A directory cannot be written as LDIF.
    #[error("directory of MTA {mta:?}: {message}")]
    Ldif {
        /// The first MTA reading it.
        mta: String,
        /// The writer's message.
        message: String,
    },
    /// Writing a file failed (nothing is renamed into place then).
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

/// A scenario in memory: the TOML text and the LDIF files it names (file name → content), as
/// [`SavedScenario::write`] puts them in one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedScenario {
    /// The scenario file.
    pub toml: String,
    /// The LDIF files `ldif = ...` names, relative to the scenario file's directory.
    pub files: Vec<(String, Vec<u8>)>,
}

#[derive(Serialize)]
struct OutScenario {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    directory: Vec<OutDirectory>,
    mta: Vec<OutMta>,
    dns: OutDns,
}

#[derive(Serialize)]
struct OutDirectory {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    zmprov: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ldif: Option<String>,
}

#[derive(Serialize, Default)]
struct OutMta {
    name: String,
    kind: &'static str,
    hostname: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    directory: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    relayhost: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dns_lookups: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hopcount_limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mynetworks: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mydestination: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipient_delimiter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    old_address_filter: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    myhostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    myorigin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    propagate_canonical: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    propagate_virtual: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    virtual_alias_expansion_limit: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    virtual_alias_recursion_limit: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    virtual_transport: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    split_domain_check: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reject_rest: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transports: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    domains: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mailboxes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unknown: Option<UnknownPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unknown_relay: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    routes: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aliases: Option<BTreeMap<String, String>>,
}

#[derive(Serialize)]
struct OutDns {
    mx: BTreeMap<String, Vec<String>>,
    a: BTreeMap<String, Vec<String>>,
}

/// `Some(value)` when it differs from what the loader derives.
fn changed<T: PartialEq + Clone>(have: &T, derived: &T) -> Option<T> {
    (have != derived).then(|| have.clone())
}

fn zimbra_keys(out: &mut OutMta, p: &ZimbraParams, base: &ZimbraParams) {
    if p.relayhost != base.relayhost {
        out.relayhost = Some(p.relayhost.clone().unwrap_or_default());
    }
    macro_rules! keep_changed {
        ($($f:ident),*) => { $( out.$f = changed(&p.$f, &base.$f); )* };
    }
    keep_changed!(
        dns_lookups,
        hopcount_limit,
        mynetworks,
        mydestination,
        recipient_delimiter,
        old_address_filter
    );
    super::param_keys!(keep_changed);
}

fn foreign_keys(out: &mut OutMta, f: &ForeignMta) {
    out.domains = Some(f.domains.clone());
    out.mailboxes = Some(f.mailboxes.clone());
    out.unknown = Some(f.unknown);
    out.unknown_relay = f.unknown_relay.clone();
    out.relayhost = f.relayhost.clone();
    out.dns_lookups = Some(f.dns_lookups);
    out.hopcount_limit = Some(f.hopcount_limit);
    out.routes = (!f.routes.is_empty()).then(|| f.routes.clone());
    out.aliases = (!f.aliases.is_empty()).then(|| f.aliases.clone());
}

/// A file-name-safe form of `name`: ASCII letters, digits, `-` and `_` kept, the rest `_`.
fn file_part(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "_".into()
    } else {
        s
    }
}

/// One distinct directory of the topology.
struct Group {
    name: String,
    dir: Arc<Directory>,
    entries: Vec<RawEntry>,
}

/// The scenario for `topo` in memory; LDIF files are named `STEM.NAME.ldif` (`NAME`: the first
/// MTA reading the directory). Validated before it is returned: loaded back in memory and
/// compared with `topo` ([`Topology::difference`]); see [`save`] for what is written how.
///
/// ```
/// use zimbra_prov::model::Directory;
/// use zimbra_prov::route::{Dns, ForeignMta, Mta, Topology};
/// use zimbra_prov::scenario::{to_files, DirectoryStyle, SaveError, SaveOptions};
/// let mut dir = Directory::new();
/// zimbra_prov::zmprov::run(&mut dir, "cs mx.example.org\ncd example.org\nca a@example.org pw").unwrap();
/// let mut topo = Topology::new();
/// topo.add(Mta::zimbra("zcs", "mx.example.org", &dir, |p| p.hopcount_limit = 20)).unwrap();
/// topo.add(Mta::foreign("exchange", "ex.example.org", ForeignMta {
///     domains: vec!["example.org".into()],
///     ..ForeignMta::default()
/// })).unwrap();
/// topo.dns.mx.insert("example.org".into(), vec![(10, "mx.example.org".into())]);
/// let saved = to_files(&topo, "split", &SaveOptions::default()).unwrap();
/// assert!(saved.toml.contains("ldif = \"split.zcs.ldif\""));
/// assert!(saved.toml.contains("hopcount_limit = 20"));
/// assert_eq!(saved.files[0].0, "split.zcs.ldif");
/// // an upper-case DNS name would load as a lower-case one: refused, nothing written
/// topo.dns.a.insert("MX.example.org".into(), vec!["192.0.2.1".into()]);
/// assert!(matches!(to_files(&topo, "split", &SaveOptions::default()),
///                  Err(SaveError::NotRepresentable { .. })));
/// // a directory with entries is not written inline
/// let inline = SaveOptions { directories: DirectoryStyle::Inline, ..SaveOptions::default() };
/// assert!(matches!(to_files(&topo, "split", &inline), Err(SaveError::NotInline { .. })));
/// ```
pub fn to_files(
    topo: &Topology,
    stem: &str,
    opts: &SaveOptions,
) -> Result<SavedScenario, SaveError> {
    let mut groups: Vec<Group> = Vec::new();
    let mut used: Vec<String> = Vec::new();
    let mut out = OutScenario {
        name: opts.name.clone(),
        directory: Vec::new(),
        mta: Vec::new(),
        dns: OutDns {
            mx: topo
                .dns
                .mx
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.iter().map(|(p, h)| format!("{p} {h}")).collect(),
                    )
                })
                .collect(),
            a: topo.dns.a.clone(),
        },
    };
    for m in topo.mtas() {
        let mut o = OutMta {
            name: m.name.clone(),
            hostname: m.hostname.clone(),
            ..OutMta::default()
        };
        match &m.kind {
            MtaKind::Zimbra(z) => {
                o.kind = "zimbra";
                let dir = z.directory().ok_or_else(|| SaveError::NoDirectory {
                    mta: m.name.clone(),
                })?;
                let entries = || {
                    dit::entries(dir).map_err(|e| SaveError::Ldif {
                        mta: m.name.clone(),
                        message: e.to_string(),
                    })
                };
                let found = match groups.iter().position(|g| Arc::ptr_eq(&g.dir, dir)) {
                    Some(i) => Some(i),
                    None => {
                        let mine = entries()?;
                        match groups.iter().position(|g| g.entries == mine) {
                            Some(i) => Some(i),
                            None => {
                                let mut name = file_part(&m.name);
                                while used.contains(&name) {
                                    name.push('_');
                                }
                                used.push(name.clone());
                                groups.push(Group {
                                    name,
                                    dir: Arc::clone(dir),
                                    entries: mine,
                                });
                                None
                            }
                        }
                    }
                };
                let g = &groups[found.unwrap_or(groups.len() - 1)];
                o.directory = Some(g.name.clone());
                let base = ZimbraParams::from_directory(dir, &m.hostname);
                zimbra_keys(&mut o, &z.params, &base);
            }
            MtaKind::Foreign(f) => {
                o.kind = "foreign";
                foreign_keys(&mut o, f);
            }
        }
        out.mta.push(o);
    }
    let mut files = Vec::new();
    // what `zmprov = ""` loads to (a fresh directory's global configuration)
    let fresh = dit::entries(&Directory::new()).unwrap_or_default();
    for g in &groups {
        if g.entries == fresh {
            out.directory.push(OutDirectory {
                name: g.name.clone(),
                zmprov: Some(String::new()),
                ldif: None,
            });
            continue;
        }
        if opts.directories == DirectoryStyle::Inline {
            return Err(SaveError::NotInline {
                mta: g.name.clone(),
                entries: g.entries.len(),
            });
        }
        let mut buf = Vec::new();
        dit::write_directory(&g.dir, &mut buf, &WriteOptions::default()).map_err(|e| {
            SaveError::Ldif {
                mta: g.name.clone(),
                message: e.to_string(),
            }
        })?;
        let file = format!("{stem}.{}.ldif", g.name);
        out.directory.push(OutDirectory {
            name: g.name.clone(),
            zmprov: None,
            ldif: Some(file.clone()),
        });
        files.push((file, buf));
    }
    let toml = toml::to_string(&out).map_err(|e| SaveError::NotRepresentable {
        what: format!("TOML: {e}"),
    })?;
    let saved = SavedScenario {
        toml: format!(
            "# written by zimbra_prov::scenario::save; directories in creation order\n{toml}"
        ),
        files,
    };
    saved.check(topo)?;
    Ok(saved)
}

impl SavedScenario {
    /// Load the scenario from memory and compare its initial topology with `topo`.
    fn check(&self, topo: &Topology) -> Result<(), SaveError> {
        // the loader is a 'static closure: it owns its copy of the files
        let by_name: HashMap<String, Vec<u8>> = self.files.iter().cloned().collect();
        let loader = move |p: &Path| -> Result<Directory, String> {
            let name = p.to_string_lossy();
            let bytes = by_name
                .get(name.as_ref())
                .ok_or_else(|| format!("{name}: not written"))?;
            dit::read_directory(bytes.as_slice()).map_err(|e| format!("{name}: {e}"))
        };
        let opts = LoadOptions::with_ldif_loader(&loader);
        let back = Scenario::parse(&self.toml, "(saved scenario)", &opts).map_err(|e| {
            SaveError::NotRepresentable {
                what: e.to_string(),
            }
        })?;
        let loaded = &back.stages[0].topology;
        match topo.difference(loaded) {
            None => Ok(()),
            Some(what) => Err(SaveError::NotRepresentable { what }),
        }
    }

    /// Write the scenario to `path` and its LDIF files next to it; returns the paths written
    /// (LDIF files first, the scenario file last). Each file is written to a new temporary file
    /// in the same directory (`create_new`: a planted link is never followed) and renamed over
    /// its name once complete; a path that is a link, a directory or another non-regular file
    /// is refused before anything is written.
    pub fn write(&self, path: &Path) -> Result<Vec<PathBuf>, SaveError> {
        let base = path.parent().unwrap_or(Path::new(""));
        let mut targets: Vec<(PathBuf, &[u8])> = self
            .files
            .iter()
            .map(|(n, b)| (base.join(n), b.as_slice()))
            .collect();
        targets.push((path.to_path_buf(), self.toml.as_bytes()));
        for (t, _) in &targets {
            if let Ok(meta) = std::fs::symlink_metadata(t) {
                if !meta.file_type().is_file() {
                    return Err(SaveError::Io {
                        path: t.display().to_string(),
                        message: "exists and is not a regular file (a link, a directory, ...)"
                            .into(),
                    });
                }
            }
        }
        let mut written = Vec::new();
        for (t, bytes) in targets {
            write_atomic(&t, bytes)?;
            written.push(t);
        }
        Ok(written)
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SaveError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let io = |p: &Path, e: std::io::Error| SaveError::Io {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    let dir = path.parent().unwrap_or(Path::new(""));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut attempt = 0u32;
    let (tmp, mut f) = loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(
            ".{file_name}.{}.{n}.{nanos:x}.tmp",
            std::process::id()
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1;
            }
            Err(e) => return Err(io(&tmp, e)),
        }
    };
    let done = f
        .write_all(bytes)
        .and_then(|()| f.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = done {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(path, e));
    }
    Ok(())
}

/// Write `topo` as the scenario file `path` with its LDIF files next to it (named after the
/// file's stem: `topo.toml` → `topo.NAME.ldif`); see [`to_files`] and [`SavedScenario::write`].
/// Nothing is written when the topology cannot be saved faithfully.
///
/// ```
/// use zimbra_prov::model::Directory;
/// use zimbra_prov::route::{Mta, Topology};
/// use zimbra_prov::scenario::{save, Scenario, SaveOptions};
/// let mut dir = Directory::new();
/// zimbra_prov::zmprov::run(&mut dir, "cs mx.example.org\ncd example.org\nca a@example.org pw").unwrap();
/// let mut topo = Topology::new();
/// topo.add(Mta::zimbra("zcs", "mx.example.org", &dir, |_| {})).unwrap();
/// let tmp = std::env::temp_dir().join(format!("save-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&tmp).unwrap();
/// let written = save(&topo, &tmp.join("mine.toml"), &SaveOptions::default()).unwrap();
/// assert_eq!(written.len(), 2); // mine.zcs.ldif, mine.toml
/// let back = Scenario::load(&tmp.join("mine.toml")).unwrap();
/// assert_eq!(back.stages[0].topology.difference(&topo), None);
/// std::fs::remove_dir_all(&tmp).unwrap();
/// ```
pub fn save(topo: &Topology, path: &Path, opts: &SaveOptions) -> Result<Vec<PathBuf>, SaveError> {
    let stem = path
        .file_stem()
        .map(|s| file_part(&s.to_string_lossy()))
        .unwrap_or_else(|| "scenario".into());
    to_files(topo, &stem, opts)?.write(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::Mta;

    fn dir(script: &str) -> Directory {
        let mut d = Directory::new();
        crate::zmprov::run(&mut d, script).unwrap_or_else(|e| panic!("{e}"));
        d
    }

    #[test]
    fn shared_and_equal_directories_are_written_once() {
        let d = dir("cs a.example.org\ncs b.example.org\ncd example.org\nca x@example.org pw");
        let shared = Arc::new(d.clone());
        let mut t = Topology::new();
        t.add(Mta::zimbra_shared(
            "a",
            "a.example.org",
            shared.clone(),
            |_| {},
        ))
        .unwrap();
        t.add(Mta::zimbra_shared("b", "b.example.org", shared, |_| {}))
            .unwrap();
        // an equal copy is the same directory too
        t.add(Mta::zimbra("c/../x", "c.example.org", &d, |p| {
            p.transports.push("mine".into())
        }))
        .unwrap();
        let s = to_files(&t, "t", &SaveOptions::default()).unwrap();
        assert_eq!(s.files.len(), 1);
        assert_eq!(s.toml.matches("directory = \"a\"").count(), 3);
        assert!(s.toml.contains("\"mine\""), "{}", s.toml);
    }

    #[test]
    fn empty_directories_are_inline_and_names_are_file_safe() {
        let mut t = Topology::new();
        t.add(Mta::zimbra(
            "../evil name",
            "e.example.org",
            &Directory::new(),
            |_| {},
        ))
        .unwrap();
        let d = dir("cs f.example.org");
        t.add(Mta::zimbra("a b", "f.example.org", &d, |p| {
            p.relayhost = Some("[relay.example.org]:25".into());
        }))
        .unwrap();
        t.add(Mta::zimbra(
            "a_b",
            "g.example.org",
            &dir("cs g.example.org"),
            |p| {
                p.relayhost = None;
            },
        ))
        .unwrap();
        let s = to_files(&t, "t", &SaveOptions::default()).unwrap();
        assert!(s.toml.contains("zmprov = \"\""), "{}", s.toml);
        let names: Vec<&str> = s.files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["t.a_b.ldif", "t.a_b_.ldif"]);
        assert!(names.iter().all(|n| !n.contains('/')));
    }

    #[test]
    fn unrepresentable_topologies_are_refused() {
        let d = dir("cs mx.example.org");
        let mut t = Topology::new();
        t.add(Mta::zimbra("z", "mx.example.org", &d, |p| {
            p.mydestination = vec!["Upper.Example.org".into()]
        }))
        .unwrap();
        let e = to_files(&t, "t", &SaveOptions::default()).unwrap_err();
        assert!(
            matches!(&e, SaveError::NotRepresentable { what } if what.contains("parameters differ")),
            "{e}"
        );
        let mut t = Topology::new();
        t.add(Mta::foreign(
            "f",
            "f.example.org",
            ForeignMta {
                relayhost: Some(String::new()),
                ..ForeignMta::default()
            },
        ))
        .unwrap();
        assert!(matches!(
            to_files(&t, "t", &SaveOptions::default()),
            Err(SaveError::NotRepresentable { .. })
        ));
        let mut t = Topology::new();
        t.dns.mx.insert("example.org".into(), vec![]);
        assert!(matches!(
            to_files(&t, "t", &SaveOptions::default()),
            Err(SaveError::NotRepresentable { .. })
        ));
        // an MTA without its directory
        let mut t = Topology::new();
        t.add(Mta {
            name: "bare".into(),
            hostname: "mx.example.org".into(),
            kind: MtaKind::Zimbra(Box::new(crate::route::ZimbraMta::from_directory(
                &d,
                "mx.example.org",
            ))),
        })
        .unwrap();
        assert_eq!(
            to_files(&t, "t", &SaveOptions::default()).unwrap_err(),
            SaveError::NoDirectory { mta: "bare".into() }
        );
    }

    #[test]
    fn write_refuses_links_and_leaves_no_temporary_file() {
        let tmp = std::env::temp_dir().join(format!(
            "zp-save-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).unwrap();
        let mut t = Topology::new();
        t.add(Mta::zimbra(
            "z",
            "mx.example.org",
            &dir("cs mx.example.org"),
            |_| {},
        ))
        .unwrap();
        let target = tmp.join("victim");
        std::fs::write(&target, "keep").unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&target, tmp.join("s.z.ldif")).unwrap();
            let e = save(&t, &tmp.join("s.toml"), &SaveOptions::default()).unwrap_err();
            assert!(matches!(e, SaveError::Io { .. }), "{e}");
            assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
            assert!(!tmp.join("s.toml").exists());
        }
        let written = save(&t, &tmp.join("ok.toml"), &SaveOptions::default()).unwrap();
        assert_eq!(written.len(), 2);
        let left: Vec<_> = std::fs::read_dir(&tmp)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(left.is_empty());
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
