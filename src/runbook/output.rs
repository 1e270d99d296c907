//! Writing a runbook's files: rendered and validated in memory first (the scenario must load and
//! reproduce every verified state), then written to a fresh directory that replaces the output
//! directory in one rename.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::render;
use super::Runbook;
use crate::scenario::{LoadOptions, Scenario};

/// The file that marks a directory as written by [`Runbook::write_to`] (so it may be replaced).
pub const MARKER: &str = ".zimbra-prov-runbook";

/// Errors writing a runbook.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// A file or directory operation failed.
    #[error("{path}: {message}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        message: String,
    },
    /// The output directory exists and was not written by this tool: nothing is replaced.
    #[error("{path}: exists and is not a runbook directory written by zimbra-prov (no {MARKER}); refusing to replace it")]
    NotOurs {
        /// The directory.
        path: String,
    },
    /// The rendered files do not reproduce the verified runbook (nothing was written).
    #[error("the rendered runbook does not check out: {0}")]
    Invalid(String),
}

fn io(path: &Path, e: std::io::Error) -> OutputError {
    OutputError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

impl Runbook {
    /// Every file of the runbook by relative path: `runbook.md`, `scenario.toml` (with
    /// `directories/*.ldif` when the topology holds LDIF directories), the move LDIF for
    /// domain moves, and `scripts/NN-STEP/SYSTEM.sh` (plus `SYSTEM.rollback.sh`).
    ///
    /// The scenario is validated: loaded as `route plan` loads it, each of its states must give
    /// the same verification as the runbook's.
    ///
    /// ```
    /// # let spec = zimbra_prov::runbook::Spec::load(std::path::Path::new("tests/data/runbook/example1/spec.toml"))?;
    /// let runbook = zimbra_prov::runbook::plan(&spec)?;
    /// let files = runbook.files()?;
    /// assert!(files.contains_key("runbook.md"));
    /// assert!(files.contains_key("scripts/04-batch-1.switch/primary.sh"));
    /// assert!(String::from_utf8_lossy(&files["scenario.toml"]).contains("[[step]]"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn files(&self) -> Result<BTreeMap<String, Vec<u8>>, OutputError> {
        let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        files.insert("runbook.md".into(), render::markdown(self).into_bytes());
        let (toml, ldifs) = render::scenario(self).map_err(OutputError::Invalid)?;
        self.validate_scenario(&toml, &ldifs)?;
        files.insert("scenario.toml".into(), toml.into_bytes());
        files.extend(ldifs);
        for (k, v) in &self.extra_files {
            files.insert(k.clone(), v.clone());
        }
        for (k, v) in render::scripts(self) {
            files.insert(k, v.into_bytes());
        }
        files.insert(
            MARKER.into(),
            b"written by zimbra-prov migrate plan; the whole directory is replaced on the next run\n"
                .to_vec(),
        );
        Ok(files)
    }

    /// The scenario loads and `route plan` sees the runbook's states.
    fn validate_scenario(
        &self,
        toml: &str,
        ldifs: &BTreeMap<String, Vec<u8>>,
    ) -> Result<(), OutputError> {
        let ldifs = ldifs.clone();
        let loader = move |p: &Path| -> Result<crate::model::Directory, String> {
            let key = p.to_string_lossy().replace('\\', "/");
            let bytes = ldifs
                .get(&key)
                .ok_or_else(|| format!("{key}: not among the rendered files"))?;
            crate::dit::read_directory(&bytes[..]).map_err(|e| e.to_string())
        };
        let sc = Scenario::parse(
            toml,
            "scenario.toml",
            &LoadOptions::with_ldif_loader(&loader),
        )
        .map_err(|e| OutputError::Invalid(e.to_string()))?;
        if sc.stages.len() != self.steps.len() + 1 {
            return Err(OutputError::Invalid(format!(
                "{} states in the scenario, {} in the runbook",
                sc.stages.len(),
                self.steps.len() + 1
            )));
        }
        let report = crate::verify::plan_scenario(&sc);
        let mine = std::iter::once(&self.initial).chain(self.steps.iter().map(|s| &s.verification));
        for ((st, r), v) in sc.stages.iter().zip(&report.steps).zip(mine) {
            if r.report.counts() != v.counts {
                return Err(OutputError::Invalid(format!(
                    "state {}: the scenario gives\n{}\nthe runbook verified\n{}",
                    st.name,
                    r.report.counts(),
                    v.counts
                )));
            }
        }
        if let Some(bad) = sc.check().into_iter().find(|l| !l.ok) {
            return Err(OutputError::Invalid(bad.text));
        }
        Ok(())
    }

    /// Write the runbook into `dir` (see [`Runbook::files`]). Everything is rendered and
    /// validated first, then written into a new sibling directory that replaces `dir` by
    /// renaming; an existing `dir` is replaced only if it is an earlier runbook (it holds
    /// [`MARKER`]) or empty. Symbolic links are never followed. Returns the paths written.
    ///
    /// ```
    /// # let spec = zimbra_prov::runbook::Spec::load(std::path::Path::new("tests/data/runbook/example1/spec.toml"))?;
    /// let runbook = zimbra_prov::runbook::plan(&spec)?;
    /// let dir = std::env::temp_dir().join(format!("runbook-doc-{}", std::process::id()));
    /// let written = runbook.write_to(&dir)?;
    /// assert!(dir.join("runbook.md").is_file() && written.len() > 10);
    /// runbook.write_to(&dir)?; // an earlier runbook is replaced
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_to(&self, dir: &Path) -> Result<Vec<String>, OutputError> {
        let files = self.files()?;
        let exists = match std::fs::symlink_metadata(dir) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(OutputError::Io {
                    path: dir.display().to_string(),
                    message: "is a symbolic link; refusing to write through it".into(),
                })
            }
            Ok(m) if !m.is_dir() => {
                return Err(OutputError::Io {
                    path: dir.display().to_string(),
                    message: "exists and is not a directory".into(),
                })
            }
            Ok(_) => {
                let ours = std::fs::symlink_metadata(dir.join(MARKER)).is_ok_and(|m| m.is_file());
                let empty = std::fs::read_dir(dir)
                    .map_err(|e| io(dir, e))?
                    .next()
                    .is_none();
                if !ours && !empty {
                    return Err(OutputError::NotOurs {
                        path: dir.display().to_string(),
                    });
                }
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(io(dir, e)),
        };
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let base = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| OutputError::Io {
                path: dir.display().to_string(),
                message: "has no file name".into(),
            })?;
        let tmp = fresh_dir(&parent, &format!(".{base}.tmp"))?;
        let written = match write_tree(&tmp, &files) {
            Ok(w) => w,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(e);
            }
        };
        if exists {
            let old = unique_name(&parent, &format!(".{base}.old"));
            if let Err(e) = std::fs::rename(dir, &old) {
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(io(dir, e));
            }
            if let Err(e) = std::fs::rename(&tmp, dir) {
                let _ = std::fs::rename(&old, dir);
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(io(dir, e));
            }
            let _ = std::fs::remove_dir_all(&old);
        } else if let Err(e) = std::fs::rename(&tmp, dir) {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(io(dir, e));
        }
        Ok(written)
    }
}

fn unique_name(parent: &Path, stem: &str) -> PathBuf {
    let pid = std::process::id();
    let mut n = 0u32;
    loop {
        let p = parent.join(format!("{stem}-{pid}-{n}"));
        if std::fs::symlink_metadata(&p).is_err() {
            return p;
        }
        n += 1;
    }
}

/// A new directory that did not exist before (never an existing one or a link).
fn fresh_dir(parent: &Path, stem: &str) -> Result<PathBuf, OutputError> {
    for _ in 0..1000 {
        let p = unique_name(parent, stem);
        match std::fs::create_dir(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(&p, e)),
        }
    }
    Err(OutputError::Io {
        path: parent.display().to_string(),
        message: "cannot create a temporary directory".into(),
    })
}

fn write_tree(root: &Path, files: &BTreeMap<String, Vec<u8>>) -> Result<Vec<String>, OutputError> {
    let mut written = Vec::new();
    for (rel, bytes) in files {
        if rel
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(OutputError::Invalid(format!("bad file name {rel:?}")));
        }
        let path = root.join(rel);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).map_err(|e| io(p, e))?;
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        f.write_all(bytes).map_err(|e| io(&path, e))?;
        f.sync_all().map_err(|e| io(&path, e))?;
        #[cfg(unix)]
        if rel.ends_with(".sh") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| io(&path, e))?;
        }
        written.push(rel.clone());
    }
    Ok(written)
}
