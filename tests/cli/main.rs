//! The `zimbra-prov` binary driven as a process: every subcommand's contract (arguments,
//! output lines, exit codes), `--help` and bad arguments, closed pipes, and the safety of its
//! file handling (issue 14).

mod bounces;
mod ldap;
mod ldif;
mod misc;
mod move_domain;
mod route;
mod safety;
mod verify;

#[path = "../support/ldif_fmt.rs"]
mod ldif_fmt;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The binary under test.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_zimbra-prov"));
    c.current_dir(root());
    c
}

/// The repository (tests run with their paths relative to it).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// What a run produced.
#[derive(Debug)]
pub struct Ran {
    /// Exit status (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub out: String,
    /// Standard error.
    pub err: String,
}

/// Runs `zimbra-prov ARGS` with stdin closed.
pub fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Ran {
    let o = bin()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("zimbra-prov runs");
    Ran {
        code: o.status.code(),
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// A private temporary directory, removed on drop.
pub struct Tmp(pub PathBuf);

impl Tmp {
    /// A new empty directory named after the test.
    pub fn new(name: &str) -> Tmp {
        let d = std::env::temp_dir().join(format!("zp-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        Tmp(d)
    }

    /// A path inside.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// A path inside, as a string argument.
    pub fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// The names in the directory, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// Creates a FIFO named `name`.
    pub fn fifo(&self, name: &str) -> PathBuf {
        let p = self.path(name);
        let ok = Command::new("mkfifo")
            .arg(&p)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "mkfifo {}", p.display());
        p
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A scenario under tests/scenarios, as an argument.
pub fn scenario(name: &str) -> String {
    format!("tests/scenarios/{name}")
}

/// Starts `zimbra-prov ARGS` with no input and its output and errors piped to the test.
pub fn spawn<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> std::process::Child {
    bin()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("zimbra-prov runs")
}

/// Runs `zimbra-prov ARGS` and fails the test if it has not ended within `secs` seconds (the
/// tool is killed): for inputs that used to hang it.
pub fn run_within<S: AsRef<std::ffi::OsStr>>(secs: u64, args: &[S]) -> Ran {
    use std::io::Read;
    let mut child = spawn(args);
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed().as_secs() >= secs {
            let _ = child.kill();
            let _ = child.wait();
            panic!("zimbra-prov did not end within {secs} s (it hangs)");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let (mut out, mut err) = (String::new(), String::new());
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    Ran {
        code: status.code(),
        out,
        err,
    }
}
