//! The private network the topology runs in, and the way into it.
//!
//! The test re-runs its own binary under `unshare --mount --net --pid --fork --kill-child
//! --mount-proc` ([`namespace_command`]): a network namespace of its own (a loopback interface
//! nobody else uses, so port 25 on any 127.0.0.X, port 53 and port 389 are free and no other
//! test can collide), a mount namespace where a private `/etc/resolv.conf` (pointing at the
//! test's DNS server) and `/etc/hosts` (localhost only) are bind-mounted over the machine's
//! files — which are never touched — and a PID namespace whose end kills every daemon left
//! behind, even after a panic or a kill. Inside, [`enter`] brings `lo` up and mounts the files.
//!
//! Address plan (all 127.0.0.0/8): a topology's Zimbra MTAs at 127.0.0.10 and up, its foreign
//! MTAs at 127.0.0.100 and up ([`mta_slot`]), DNS views
//! at 127.0.0.53 (everybody) and 127.0.0.54 (the fallback sender), the Internet's sending MTAs
//! at 127.0.0.200 and .201, the sink ("the rest of the Internet") at .250, and .252 where
//! nothing listens (an MX host that is down).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::oracle::{run, write_file, OracleError};

/// The DNS view everybody uses.
pub const DNS_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 53);
/// The DNS view of the fallback sender (best MX hosts unreachable).
pub const DNS_FALLBACK_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 54);
/// The outside sender's MTA.
pub const INTERNET_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 200);
/// The outside sender's MTA that cannot reach the best MX hosts.
pub const FALLBACK_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 201);
/// The rest of the Internet.
pub const SINK_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 250);
/// Nothing listens here.
pub const DOWN_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 252);

/// The address of the `k`-th Zimbra MTA of a topology (127.0.0.10 and up) or of the `k`-th
/// foreign MTA (127.0.0.100 and up): an address keeps its kind of MTA across topologies, so the
/// instance on it can be reconfigured in place instead of restarted.
pub fn mta_slot(zimbra: bool, k: usize) -> Ipv4Addr {
    let base = if zimbra { 10 } else { 100 };
    Ipv4Addr::new(127, 0, 0, base + (k.min(80) as u8))
}

/// The environment variable that marks the run inside the namespace (its value: the work
/// directory).
pub const INNER_ENV: &str = "ZIMBRA_PROV_MULTI_INNER";

/// The command that runs `test` of this test binary inside fresh mount, network and PID
/// namespaces, with the work directory `work`.
pub fn namespace_command(test: &str, work: &Path) -> std::io::Result<Command> {
    let exe = std::env::current_exe()?;
    let mut c = Command::new("unshare");
    c.args([
        "--mount",
        "--net",
        "--pid",
        "--fork",
        "--kill-child",
        "--mount-proc",
        "--",
    ])
    .arg(exe)
    .args([
        test,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(INNER_ENV, work);
    Ok(c)
}

/// Inside the namespaces: the work directory the outer test chose, or an error saying how to
/// run the test. Refuses to run anywhere but as PID 1 of a fresh PID namespace, so the
/// machine's /etc/resolv.conf is never mounted over.
pub fn inside() -> Result<PathBuf, String> {
    let work = std::env::var_os(INNER_ENV)
        .ok_or("this test runs only inside the namespaces `multi_diff` creates (run `cargo test --test multi_diff`)")?;
    if std::process::id() != 1 {
        return Err(format!(
            "{INNER_ENV} is set but this is not PID 1 of a private PID namespace: refusing to \
             mount over /etc/resolv.conf"
        ));
    }
    Ok(PathBuf::from(work))
}

/// Brings `lo` up and bind-mounts private resolv.conf (nameserver [`DNS_IP`]) and hosts
/// files from `work`; writes `work/resolv-fallback.conf` (nameserver [`DNS_FALLBACK_IP`]) for
/// the fallback sender. Returns that file's path.
pub fn enter(work: &Path) -> Result<PathBuf, OracleError> {
    run(Command::new("ip").args(["link", "set", "lo", "up"]))?;
    let resolv = work.join("resolv.conf");
    write_file(
        &resolv,
        &format!("nameserver {DNS_IP}\noptions timeout:1 attempts:2\n"),
    )?;
    let hosts = work.join("hosts");
    write_file(&hosts, "127.0.0.1 localhost\n")?;
    for (file, target) in [(&resolv, "/etc/resolv.conf"), (&hosts, "/etc/hosts")] {
        run(Command::new("mount").arg("--bind").arg(file).arg(target))?;
    }
    let fallback = work.join("resolv-fallback.conf");
    write_file(
        &fallback,
        &format!("nameserver {DNS_FALLBACK_IP}\noptions timeout:1 attempts:2\n"),
    )?;
    Ok(fallback)
}
