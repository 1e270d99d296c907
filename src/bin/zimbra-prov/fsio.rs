//! Files the tool reads and writes, safely.
//!
//! Outputs ([`AtomicFile`]) are written completely or not at all: into a temporary file
//! created in the output's directory under an unpredictable name with `create_new` (`O_EXCL`:
//! it never opens an existing file nor follows a link planted there), flushed and synced, then
//! renamed over the output. Every error path removes the temporary file. The output itself must
//! be a regular file or a new path: a symbolic link, directory, device, FIFO or socket there is
//! refused before anything is read or written (the tool never writes through a link, and never
//! turns `/dev/something` into a regular file). Two outputs of one run, or an output and an
//! input, must not be the same file ([`distinct`]).
//!
//! An interrupted run (SIGINT, SIGTERM, SIGHUP) removes its temporary files before it exits
//! with status 130 ([`clean_up_on_signals`]); only SIGKILL or a crash of the machine can leave
//! a hidden `.OUT.<random>.tmp` behind, and never a half-written OUT.
//!
//! Inputs that are read whole ([`open_regular`], [`read_password`]) must be regular files: a
//! FIFO would block forever and `/dev/zero` would never end. Password files are bounded at
//! [`PASSWORD_MAX`] bytes.

use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufWriter, Read};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use crate::out;

/// Temporary files of outputs not yet renamed into place.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn pending() -> MutexGuard<'static, Vec<PathBuf>> {
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}

/// The status of a run ended by SIGINT, SIGTERM or SIGHUP (128 + SIGINT, as shells report it).
pub const INTERRUPTED: i32 = 130;

/// On SIGINT, SIGTERM or SIGHUP: remove the temporary files of unfinished outputs and exit with
/// [`INTERRUPTED`].
pub fn clean_up_on_signals() {
    let _ = ctrlc::set_handler(|| {
        for p in pending().drain(..) {
            let _ = std::fs::remove_file(p);
        }
        std::process::exit(INTERRUPTED);
    });
}

/// The largest password file read (bytes).
pub const PASSWORD_MAX: u64 = 4096;

/// Why a path is refused or an I/O step failed, already phrased for the user.
pub type FsResult<T> = Result<T, String>;

/// What is at `path` when it is not a regular file, in words (`None` for a regular file).
fn not_regular(meta: &std::fs::Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    if t.is_file() {
        return None;
    }
    Some(if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else {
        special_kind(&t)
    })
}

#[cfg(unix)]
fn special_kind(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: &std::fs::FileType) -> &'static str {
    "not a regular file"
}

/// Opens an input that must be a regular file (links to one are fine): checked before the
/// open, so a FIFO cannot block the tool, and again on the open file.
pub fn open_regular(path: &Path) -> FsResult<File> {
    let shown = out::path(path);
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
    if let Some(what) = not_regular(&meta) {
        return Err(format!("{shown}: {what}, not a regular file"));
    }
    let file = File::open(path).map_err(|e| format!("{shown}: {e}"))?;
    match file.metadata() {
        Ok(m) if m.is_file() => Ok(file),
        Ok(_) => Err(format!("{shown}: not a regular file")),
        Err(e) => Err(format!("{shown}: {e}")),
    }
}

/// Reads a password file: a regular file of at most [`PASSWORD_MAX`] bytes, UTF-8; trailing
/// line ends are dropped.
pub fn read_password(path: &Path) -> FsResult<String> {
    let shown = out::path(path);
    let file = open_regular(path).map_err(|e| format!("password file {e}"))?;
    let mut bytes = Vec::new();
    file.take(PASSWORD_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("password file {shown}: {e}"))?;
    if bytes.len() as u64 > PASSWORD_MAX {
        return Err(format!(
            "password file {shown}: larger than {PASSWORD_MAX} bytes; a password file holds only the password"
        ));
    }
    let text = String::from_utf8(bytes).map_err(|_| format!("password file {shown}: not UTF-8"))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

/// Identity of a file on disk, when it exists.
#[cfg(unix)]
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(_: &Path) -> Option<(u64, u64)> {
    None
}

/// `path` with its directory made absolute and canonical (the file itself need not exist).
fn resolved(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(parent.canonicalize().ok()?.join(name))
}

/// Whether two paths name the same file: the same path, the same inode (hard links, links),
/// or, for paths that do not exist yet, the same name in the same directory.
pub fn same_file(a: &Path, b: &Path) -> bool {
    if a == b {
        return true;
    }
    match (file_id(a), file_id(b)) {
        (Some(x), Some(y)) => x == y,
        (None, None) => resolved(a).is_some_and(|ra| resolved(b).is_some_and(|rb| ra == rb)),
        _ => false,
    }
}

/// Refuses outputs that are the same file as another output or as an input, naming both
/// options: `outputs` and `inputs` are `(option, path)` pairs.
pub fn distinct(outputs: &[(&str, &Path)], inputs: &[(&str, &Path)]) -> FsResult<()> {
    for (i, (oa, pa)) in outputs.iter().enumerate() {
        for (ob, pb) in outputs[i + 1..].iter().chain(inputs) {
            if same_file(pa, pb) {
                return Err(format!(
                    "{oa} {} and {ob} {} are the same file",
                    out::path(pa),
                    out::path(pb)
                ));
            }
        }
    }
    Ok(())
}

/// Checks that `path` can be an output: absent, or a regular file (not a link).
pub fn check_output(path: &Path) -> FsResult<()> {
    let shown = out::path(path);
    if path.file_name().is_none() {
        return Err(format!("{shown}: not a file name"));
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) => match not_regular(&m) {
            None => Ok(()),
            Some(what) => Err(format!(
                "{shown} is {what}; the output must be a regular file or a new path"
            )),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("{shown}: {e}")),
    }
}

/// A random suffix: the process's hasher keys come from the operating system's randomness.
fn random_suffix() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    format!("{:016x}", h.finish())
}

/// An output file that appears complete or not at all (see the module docs).
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Checks `path` ([`check_output`]) and creates the temporary file next to it.
    pub fn create(path: &Path) -> FsResult<AtomicFile> {
        AtomicFile::create_with(path, random_suffix)
    }

    fn create_with(path: &Path, mut suffix: impl FnMut() -> String) -> FsResult<AtomicFile> {
        check_output(path)?;
        let shown = out::path(path);
        let name = path
            .file_name()
            .ok_or_else(|| format!("{shown}: not a file name"))?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut last = None;
        for _ in 0..16 {
            let mut tmp_name = std::ffi::OsString::from(".");
            tmp_name.push(name);
            tmp_name.push(format!(".{}.tmp", suffix()));
            let tmp = dir.join(tmp_name);
            let mut opts = OpenOptions::new();
            opts.write(true).create_new(true);
            // registered before it exists, so an interruption never misses it
            pending().push(tmp.clone());
            match opts.open(&tmp) {
                Ok(file) => {
                    let f = AtomicFile {
                        path: path.to_path_buf(),
                        tmp,
                        file: Some(BufWriter::with_capacity(1 << 20, file)),
                    };
                    f.keep_permissions()?;
                    return Ok(f);
                }
                // something (a link, a file) is already there: never touch it, try another name
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    pending().retain(|p| p != &tmp);
                    last = Some(e);
                }
                Err(e) => {
                    pending().retain(|p| p != &tmp);
                    return Err(format!("{shown}: cannot create a file next to it: {e}"));
                }
            }
        }
        Err(format!(
            "{shown}: cannot create a temporary file next to it: {}",
            last.map(|e| e.to_string()).unwrap_or_default()
        ))
    }

    /// A replaced file keeps its permissions.
    fn keep_permissions(&self) -> FsResult<()> {
        if let Ok(m) = std::fs::symlink_metadata(&self.path) {
            if m.is_file() {
                std::fs::set_permissions(&self.tmp, m.permissions())
                    .map_err(|e| format!("{}: {e}", out::path(&self.tmp)))?;
            }
        }
        Ok(())
    }

    /// The output path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where to write.
    pub fn writer(&mut self) -> &mut BufWriter<File> {
        self.file
            .as_mut()
            .expect("the file is open until commit or drop")
    }

    /// Flushes and syncs the temporary file, checks the output path once more and renames the
    /// temporary file over it, then syncs the directory. On error nothing is left behind.
    pub fn commit(mut self) -> FsResult<()> {
        let shown = out::path(&self.path);
        let w = self.file.take().expect("the file is open until commit");
        let file = w
            .into_inner()
            .map_err(|e| format!("writing {shown}: {}", e.error()))?;
        file.sync_all()
            .map_err(|e| format!("writing {shown}: {e}"))?;
        drop(file);
        check_output(&self.path)?;
        std::fs::rename(&self.tmp, &self.path).map_err(|e| format!("{shown}: {e}"))?;
        let tmp = std::mem::take(&mut self.tmp);
        pending().retain(|p| p != &tmp);
        if let Some(dir) = self.path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            // Durability of the rename; not every platform can sync a directory.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        self.file.take();
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
            pending().retain(|p| p != &self.tmp);
        }
    }
}

/// Writes `path` atomically with `write`, which returns a count (entries, records) or a
/// message; the temporary file is removed on any error.
pub fn write_atomic<T>(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<T, String>,
) -> FsResult<T> {
    let mut f = AtomicFile::create(path)?;
    let n = write(f.writer())?;
    f.commit()?;
    Ok(n)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::Write;

    fn put(w: &mut impl Write, s: &str) -> io::Result<()> {
        w.write_all(s.as_bytes())
    }

    struct Tmp(PathBuf);
    impl Tmp {
        fn new(name: &str) -> Tmp {
            let d = std::env::temp_dir().join(format!(
                "zp-fsio-{}-{name}-{}",
                std::process::id(),
                random_suffix()
            ));
            std::fs::create_dir_all(&d).unwrap();
            Tmp(d)
        }
        fn fifo(&self) -> PathBuf {
            let p = self.0.join("fifo");
            let made = std::process::Command::new("mkfifo").arg(&p).status();
            assert!(made.is_ok_and(|s| s.success()));
            p
        }
        fn entries(&self) -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(&self.0)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        }
    }
    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn writes_complete_files_and_replaces_regular_ones() {
        let t = Tmp::new("ok");
        let out = t.0.join("out.ldif");
        std::fs::write(&out, "old").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&out, |w| put(w, "new").map_err(|e| e.to_string())).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "new");
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "a replaced file keeps its permissions");
        assert_eq!(t.entries(), ["out.ldif"], "no temporary file left");
    }

    #[test]
    fn an_error_leaves_the_old_file_and_no_temporary() {
        let t = Tmp::new("err");
        let out = t.0.join("out.ldif");
        std::fs::write(&out, "good export").unwrap();
        let r: FsResult<()> = write_atomic(&out, |w| {
            put(w, "half").unwrap();
            Err("the server went away".into())
        });
        assert_eq!(r.unwrap_err(), "the server went away");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "good export");
        assert_eq!(t.entries(), ["out.ldif"]);
    }

    #[test]
    fn a_link_planted_at_the_temporary_name_is_never_followed() {
        let t = Tmp::new("plant");
        let victim = t.0.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let out = t.0.join("out.ldif");
        // the first two names the tool will try are taken by links to the victim
        let names = ["aaaa", "bbbb", "cccc"];
        for n in &names[..2] {
            std::os::unix::fs::symlink(&victim, t.0.join(format!(".out.ldif.{n}.tmp"))).unwrap();
        }
        let mut i = 0;
        let mut f = AtomicFile::create_with(&out, || {
            i += 1;
            names[i - 1].to_string()
        })
        .unwrap();
        put(f.writer(), "new").unwrap();
        f.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "new");
        assert!(std::fs::symlink_metadata(t.0.join(".out.ldif.aaaa.tmp"))
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn refuses_links_directories_and_special_files_as_output() {
        let t = Tmp::new("refuse");
        let victim = t.0.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let link = t.0.join("link.ldif");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let e = AtomicFile::create(&link).err().unwrap();
        assert!(e.contains("is a symbolic link"), "{e}");
        let dangling = t.0.join("dangling.ldif");
        std::os::unix::fs::symlink(t.0.join("nowhere"), &dangling).unwrap();
        assert!(AtomicFile::create(&dangling).is_err());
        let e = AtomicFile::create(&t.0).err().unwrap();
        assert!(e.contains("a directory"), "{e}");
        let fifo = t.fifo();
        let e = AtomicFile::create(&fifo).err().unwrap();
        assert!(e.contains("a FIFO"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        let mut want = vec!["dangling.ldif", "fifo", "link.ldif", "victim"];
        want.sort();
        assert_eq!(t.entries(), want, "nothing created");
    }

    #[test]
    fn same_file_by_path_inode_or_directory() {
        let t = Tmp::new("same");
        let a = t.0.join("a");
        std::fs::write(&a, "x").unwrap();
        let hard = t.0.join("hard");
        std::fs::hard_link(&a, &hard).unwrap();
        assert!(same_file(&a, &hard));
        std::fs::create_dir(t.0.join("sub")).unwrap();
        assert!(same_file(&t.0.join("new"), &t.0.join("sub/../new")));
        assert!(same_file(&t.0.join("new"), &t.0.join("new")));
        assert!(!same_file(&a, &t.0.join("new")));
        let e = distinct(&[("--out", &a), ("--changes", &hard)], &[]).unwrap_err();
        assert!(e.contains("--out") && e.contains("--changes"), "{e}");
        let e = distinct(&[("--out", &a)], &[("--from", &hard)]).unwrap_err();
        assert!(e.contains("--from"), "{e}");
        assert!(distinct(&[("--out", &a), ("--changes", &t.0.join("b"))], &[]).is_ok());
    }

    #[test]
    fn password_files_are_bounded_and_regular() {
        let t = Tmp::new("pw");
        let pw = t.0.join("pw");
        std::fs::write(&pw, "s3cret\r\n").unwrap();
        assert_eq!(read_password(&pw).unwrap(), "s3cret");
        std::fs::write(&pw, "two words\n\n").unwrap();
        assert_eq!(read_password(&pw).unwrap(), "two words");
        std::fs::write(&pw, vec![b'x'; PASSWORD_MAX as usize + 1]).unwrap();
        let e = read_password(&pw).unwrap_err();
        assert!(e.contains("larger than 4096 bytes"), "{e}");
        let fifo = t.fifo();
        let e = read_password(&fifo).unwrap_err();
        assert!(e.contains("a FIFO, not a regular file"), "{e}");
    }
}
