//! `:<` URL values: only `file://` URLs naming a regular file inside the configured base
//! directory are read, and never more than the value limit.
//!
//! What a hostile LDIF file can learn or cause through a URL value, and why it cannot:
//!
//! - **paths outside the base**: a URL is first checked *lexically* (`.` and `..` resolved
//!   without touching the file system) against the base; one outside gets
//!   [`UrlOutsideBase`](K::UrlOutsideBase) without a single file-system call. One inside is
//!   then resolved (symbolic links followed) and must still be inside; if it cannot be
//!   resolved (missing, or a link to a missing file) the error is the same
//!   [`UrlOutsideBase`](K::UrlOutsideBase): the message never says whether a path exists.
//! - **hangs**: a FIFO, a device, a socket or a directory is refused
//!   ([`UrlNotRegularFile`](K::UrlNotRegularFile)); the file is opened non-blocking and
//!   checked again after opening, so swapping a FIFO in between does not block either.
//! - **unbounded reads**: a file larger than the value limit is refused from its size, and
//!   at most `limit + 1` bytes are ever read (a file that grows while it is read included).
//! - **networks**: only `file:///path` URLs; `file://host/...` and other schemes are refused.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::super::error::{LdifErrorKind as K, Limit};

/// Reads the value of the URL `url` (the text after `:<`) of attribute `attribute` onto
/// `out`, or says why not. `base` is [`ReaderOptions::url_base`](super::ReaderOptions).
pub(super) fn read_value(
    url: &str,
    attribute: &str,
    base: Option<&Path>,
    max_value: usize,
    out: &mut Vec<u8>,
) -> Result<(), K> {
    let Some(base) = base else {
        return Err(K::UrlNotAllowed {
            attribute: attribute.to_string(),
        });
    };
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("file://").and(url.get(7..)) else {
        return Err(K::UnsupportedUrlScheme(url.to_string()));
    };
    if !rest.starts_with('/') {
        // file://host/path: a remote host is never contacted.
        return Err(K::UnsupportedUrlScheme(url.to_string()));
    }
    let path = percent_decode(rest).ok_or_else(|| K::UnsupportedUrlScheme(url.to_string()))?;
    let base_err = |source| K::UrlBase {
        base: base.to_path_buf(),
        source,
    };
    let canonical_base = base.canonicalize().map_err(base_err)?;
    if !canonical_base.is_dir() {
        return Err(base_err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "not a directory",
        )));
    }
    let outside = || K::UrlOutsideBase(url.to_string());
    let lexical = normalize(Path::new(&path));
    let given_base = std::path::absolute(base)
        .map(|b| normalize(&b))
        .unwrap_or_else(|_| canonical_base.clone());
    if !(lexical.starts_with(&canonical_base) || lexical.starts_with(&given_base)) {
        return Err(outside());
    }
    // Inside lexically: resolve links; missing or escaping both read as "not inside".
    let file = lexical.canonicalize().map_err(|_| outside())?;
    if !file.starts_with(&canonical_base) {
        return Err(outside());
    }
    let io = |source| K::UrlRead {
        url: url.to_string(),
        source,
    };
    let meta = std::fs::metadata(&file).map_err(io)?;
    check_regular(&meta, url)?;
    let too_big = K::LimitExceeded {
        what: Limit::Value,
        limit: max_value,
    };
    if meta.len() > max_value as u64 {
        return Err(too_big);
    }
    let f = open_nonblocking(&file).map_err(io)?;
    check_regular(&f.metadata().map_err(io)?, url)?;
    let start = out.len();
    let n = f.take(max_value as u64 + 1).read_to_end(out).map_err(|e| {
        out.truncate(start);
        io(e)
    })?;
    if n > max_value {
        out.truncate(start);
        return Err(too_big);
    }
    Ok(())
}

fn check_regular(meta: &std::fs::Metadata, url: &str) -> Result<(), K> {
    let ft = meta.file_type();
    if ft.is_file() {
        return Ok(());
    }
    let what = if ft.is_dir() {
        "a directory"
    } else {
        special_kind(&ft)
    };
    Err(K::UrlNotRegularFile {
        url: url.to_string(),
        what,
    })
}

#[cfg(unix)]
fn special_kind(ft: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_char_device() || ft.is_block_device() {
        "a device"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "something other than a file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: &std::fs::FileType) -> &'static str {
    "something other than a file"
}

/// Opens for reading without blocking on a FIFO (`O_NONBLOCK` has no effect on a regular
/// file's reads).
#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

/// `path` with `.` and `..` resolved without looking at the file system (`..` at the root
/// stays at the root).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn temp(tag: &str) -> Dir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let d =
            std::env::temp_dir().join(format!("zp-ldif-url-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(d.join("base")).expect("temp dir");
        Dir(d)
    }
    fn url(p: &Path) -> String {
        format!("file://{}", p.display())
    }
    fn read(u: &str, base: Option<&Path>, max: usize) -> Result<Vec<u8>, K> {
        let mut out = b"keep".to_vec();
        let r = read_value(u, "jpegPhoto", base, max, &mut out);
        assert!(out.starts_with(b"keep"), "earlier bytes untouched");
        r.map(|()| out.split_off(4))
    }

    #[test]
    fn lexical_normalization() {
        assert_eq!(
            normalize(Path::new("/a/./b/../c//d")),
            PathBuf::from("/a/c/d")
        );
        assert_eq!(normalize(Path::new("/../../etc")), PathBuf::from("/etc"));
        assert_eq!(percent_decode("/a%20b"), Some("/a b".into()));
        assert_eq!(percent_decode("/a%2"), None);
    }

    #[test]
    fn no_base_is_its_own_error_not_a_missing_file() {
        let e = read("file:///nonexistent/x", None, 100).unwrap_err();
        assert!(matches!(e, K::UrlNotAllowed { .. }), "{e}");
        assert!(
            e.to_string()
                .contains("URL values are not allowed without a URL base"),
            "{e}"
        );
        let d = temp("nobase");
        let missing = d.0.join("no-such-base");
        let e = read(&url(&d.0.join("base/x")), Some(&missing), 100).unwrap_err();
        assert!(
            matches!(&e, K::UrlBase { base, .. } if base == &missing),
            "{e}"
        );
        assert!(e.to_string().contains("URL base directory"), "{e}");
    }

    #[test]
    fn outside_the_base_reads_the_same_whether_it_exists_or_not() {
        let d = temp("outside");
        let base = d.0.join("base");
        std::fs::write(d.0.join("secret"), b"s").expect("write");
        std::fs::write(base.join("in"), b"ok").expect("write");
        assert_eq!(
            read(&url(&base.join("in")), Some(&base), 100).ok(),
            Some(b"ok".to_vec())
        );
        let exists = read(&url(&base.join("../secret")), Some(&base), 100).unwrap_err();
        let missing = read(&url(&base.join("../nothing")), Some(&base), 100).unwrap_err();
        let msg = |e: &K, u: &str| e.to_string().replace(u, "URL");
        assert!(matches!(exists, K::UrlOutsideBase(_)), "{exists}");
        assert_eq!(
            msg(&exists, &url(&base.join("../secret"))),
            msg(&missing, &url(&base.join("../nothing")))
        );
        // inside the base, missing: the same kind again (no existence oracle through links)
        let e = read(&url(&base.join("nothing")), Some(&base), 100).unwrap_err();
        assert!(matches!(e, K::UrlOutsideBase(_)), "{e}");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(d.0.join("secret"), base.join("link")).expect("link");
            std::os::unix::fs::symlink(d.0.join("nothing"), base.join("dangling")).expect("link");
            let a = read(&url(&base.join("link")), Some(&base), 100).unwrap_err();
            let b = read(&url(&base.join("dangling")), Some(&base), 100).unwrap_err();
            assert!(matches!(a, K::UrlOutsideBase(_)), "{a}");
            assert!(matches!(b, K::UrlOutsideBase(_)), "{b}");
        }
    }

    #[test]
    fn only_regular_files_and_only_up_to_the_limit() {
        let d = temp("special");
        let base = d.0.join("base");
        let e = read(&url(&base), Some(&base), 100).unwrap_err();
        assert!(
            matches!(
                e,
                K::UrlNotRegularFile {
                    what: "a directory",
                    ..
                }
            ),
            "{e}"
        );
        std::fs::write(base.join("big"), vec![b'x'; 101]).expect("write");
        let e = read(&url(&base.join("big")), Some(&base), 100).unwrap_err();
        assert!(
            matches!(
                e,
                K::LimitExceeded {
                    what: Limit::Value,
                    limit: 100
                }
            ),
            "{e}"
        );
        assert_eq!(
            read(&url(&base.join("big")), Some(&base), 101)
                .map(|v| v.len())
                .ok(),
            Some(101)
        );
        #[cfg(unix)]
        {
            let fifo = base.join("fifo");
            let made = std::process::Command::new("mkfifo").arg(&fifo).status();
            if made.is_ok_and(|s| s.success()) {
                // would block forever in open() if it were opened like a file
                let e = read(&url(&fifo), Some(&base), 100).unwrap_err();
                assert!(
                    matches!(e, K::UrlNotRegularFile { what: "a FIFO", .. }),
                    "{e}"
                );
            }
            // a device reached through a link inside the base is outside it
            std::os::unix::fs::symlink("/dev/zero", base.join("zero")).expect("link");
            let e = read(&url(&base.join("zero")), Some(&base), 100).unwrap_err();
            assert!(matches!(e, K::UrlOutsideBase(_)), "{e}");
            // and a base that holds a device itself
            let e = read("file:///dev/zero", Some(Path::new("/dev")), 100).unwrap_err();
            assert!(
                matches!(
                    e,
                    K::UrlNotRegularFile {
                        what: "a device",
                        ..
                    }
                ),
                "{e}"
            );
        }
    }
}
