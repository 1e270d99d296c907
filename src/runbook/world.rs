//! The state a runbook changes: the directories (by name), the MTAs reading them or described
//! by tables, and DNS — exactly what a scenario file describes, so that every state can be
//! written back as a scenario stage and every state is a [`Topology`] the verifier checks.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::Directory;
use crate::route::{Dns, ForeignMta, Mta, Topology};

/// Where an initial directory came from (so the emitted scenario can say the same).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DirSource {
    /// A zmprov script (the text as written).
    Zmprov(String),
    /// A slapcat LDIF file: its file name and bytes (copied next to the emitted scenario).
    Ldif {
        /// The file name (no directory part).
        file_name: String,
        /// The bytes.
        bytes: Vec<u8>,
    },
}

/// The scenario keys of a Zimbra MTA that override what zmconfigd derives from the directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Overrides {
    pub relayhost: Option<String>,
    pub dns_lookups: Option<bool>,
    pub mynetworks: Option<Vec<String>>,
    pub hopcount_limit: Option<u32>,
    pub mydestination: Option<Vec<String>>,
    pub recipient_delimiter: Option<String>,
    pub old_address_filter: Option<bool>,
}

/// What an MTA is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MtaDefKind {
    /// Postfix reading the named directory.
    Zimbra {
        directory: String,
        overrides: Overrides,
    },
    /// A table-driven MTA.
    Foreign(ForeignMta),
}

/// One MTA of the world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MtaDef {
    pub name: String,
    pub hostname: String,
    pub kind: MtaDefKind,
}

impl MtaDef {
    pub fn foreign(&self) -> Option<&ForeignMta> {
        match &self.kind {
            MtaDefKind::Foreign(f) => Some(f),
            MtaDefKind::Zimbra { .. } => None,
        }
    }

    pub fn directory(&self) -> Option<&str> {
        match &self.kind {
            MtaDefKind::Zimbra { directory, .. } => Some(directory),
            MtaDefKind::Foreign(_) => None,
        }
    }
}

/// Directories, MTAs and DNS.
#[derive(Debug, Clone, Default)]
pub(crate) struct World {
    /// Directories by name, shared between states until a step changes one (copy on write).
    pub dirs: BTreeMap<String, Arc<Directory>>,
    pub mtas: Vec<MtaDef>,
    pub dns: Dns,
}

impl World {
    pub fn dir(&self, name: &str) -> Option<&Directory> {
        self.dirs.get(name).map(|d| &**d)
    }

    /// The directory to change (copied first when another state shares it).
    pub fn dir_mut(&mut self, name: &str) -> Option<&mut Directory> {
        self.dirs.get_mut(name).map(Arc::make_mut)
    }

    pub fn insert_dir(&mut self, name: String, dir: Directory) {
        self.dirs.insert(name, Arc::new(dir));
    }

    pub fn mta(&self, name: &str) -> Option<&MtaDef> {
        self.mtas.iter().find(|m| m.name == name)
    }

    pub fn mta_mut(&mut self, name: &str) -> Option<&mut MtaDef> {
        self.mtas.iter_mut().find(|m| m.name == name)
    }

    /// The topology, built exactly as the scenario loader builds it from the same tables.
    pub fn topology(&self) -> Topology {
        let mut topo = Topology::new();
        topo.dns = self.dns.clone();
        let empty = Directory::empty();
        for m in &self.mtas {
            let mta = match &m.kind {
                MtaDefKind::Zimbra {
                    directory,
                    overrides: o,
                } => {
                    let dir = self.dir(directory).unwrap_or(&empty);
                    Mta::zimbra(&m.name, &m.hostname, dir, |p| {
                        if let Some(r) = &o.relayhost {
                            p.relayhost = Some(r.clone()).filter(|r| !r.is_empty());
                        }
                        if let Some(v) = o.dns_lookups {
                            p.dns_lookups = v;
                        }
                        if let Some(v) = &o.mynetworks {
                            p.mynetworks = v.clone();
                        }
                        if let Some(v) = o.hopcount_limit {
                            p.hopcount_limit = v;
                        }
                        if let Some(v) = &o.mydestination {
                            p.mydestination = v.iter().map(|s| s.to_ascii_lowercase()).collect();
                        }
                        if let Some(v) = &o.recipient_delimiter {
                            p.recipient_delimiter = v.clone();
                        }
                        if let Some(v) = o.old_address_filter {
                            p.old_address_filter = v;
                        }
                    })
                }
                MtaDefKind::Foreign(f) => Mta::foreign(&m.name, &m.hostname, f.clone()),
            };
            // names are unique by construction (the spec loader refuses duplicates)
            let _ = topo.add(mta);
        }
        topo
    }
}
