//! One real MTA of the test topology: a Postfix 3.7 instance (own config, queue, data
//! directory and `maillog`) listening on `IP:25`, and for a Zimbra MTA its own slapd on
//! `IP:389` loaded with the crate's slapadd LDIF and read through Zimbra's `ldap-*.cf` filters
//! (the oracle's [`MAPS`]). Configured from an [`InstanceSpec`]; reconfigured in place between
//! the steps of a migration (queue emptied, slapd reloaded when the LDIF changed, `postfix
//! reload` when anything changed); stopped by pid on drop.
//!
//! Loopback details (all inside the test's private network namespace):
//! - `inet_interfaces = 127.0.0.1` with the smtpd listener `IP:smtp` in master.cf: Postfix
//!   refuses `inet_interfaces` addresses that are not interface addresses, and only
//!   127.0.0.1/8 is on `lo`;
//! - `proxy_interfaces = IP`, so the SMTP client's "mail for X loops back to myself" check
//!   knows the instance's own address;
//! - `smtp_bind_address = IP`, so the next MTA sees the real client address (mynetworks);
//! - `enable_long_queue_ids = yes`: queue ids are never reused, so log lines of different
//!   messages cannot be confused across a whole run;
//! - the test client connects from 127.0.0.1 and names the client it stands for with XCLIENT
//!   (`smtpd_authorized_xclient_hosts = 127.0.0.1`).

use std::collections::BTreeMap;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::oracle::{
    children_of, io_err, load_db, pid_alive, run, spawn_slapd, wait_until, write_file,
    write_slapd_conf, OracleError, MAPS, POSTFIX, POSTSUPER, VAM_OLD_ADDRESS, VAM_PLAIN,
    VAM_RESULT,
};

/// What an instance stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A Zimbra MTA: Postfix + its own slapd.
    Zimbra,
    /// A table-driven foreign MTA.
    Foreign,
    /// An outside sender's MTA (the Internet's side of an inbound message).
    Internet,
}

/// Everything that makes one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceSpec {
    /// The MTA's name in the topology (`internet` for the outside sender).
    pub name: String,
    /// Its host name (`myhostname`).
    pub hostname: String,
    /// Its loopback address.
    pub ip: Ipv4Addr,
    /// What it is.
    pub role: Role,
    /// main.cf settings after the common ones; `{P}` stands for the config directory.
    pub main: Vec<(String, String)>,
    /// master.cf lines of the delivery services (the common services are added).
    pub services: String,
    /// Tables in the config directory: file name → content.
    pub files: BTreeMap<String, String>,
    /// Zimbra: the directory as slapadd LDIF.
    pub ldif: Option<String>,
    /// Zimbra: match `zimbraOldMailAddress` in ldap-vam.cf.
    pub old_address_filter: bool,
    /// A private resolv.conf for this instance only (a DNS view): Postfix then runs in a
    /// mount namespace of its own where that file is bind-mounted on /etc/resolv.conf.
    pub resolv_conf: Option<PathBuf>,
}

/// A running instance.
pub struct Instance {
    /// What it runs.
    pub spec: InstanceSpec,
    /// Its work directory.
    pub dir: PathBuf,
    slapd: Option<Child>,
    postfix_started: bool,
    written: BTreeMap<String, String>,
    /// Time spent: slapadd + slapd (re)start, Postfix start, emptying the queue, Postfix
    /// reload.
    pub timing: [Duration; 4],
}

/// The password of the slapd's root DN (loopback only, inside the test's namespace).
const ROOTPW: &str = "multi-secret";
const LDAPADD: &str = "/usr/bin/ldapadd";
const LDAPDELETE: &str = "/usr/bin/ldapdelete";

const COMMON_SERVICES: &str = "\
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
proxymap  unix - - n - - proxymap
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
";

impl Instance {
    /// Creates the work directory `root/NAME`, writes the configuration, loads and starts
    /// slapd (Zimbra) and starts Postfix; returns once smtpd accepts connections.
    pub fn start(root: &Path, spec: InstanceSpec) -> Result<Instance, OracleError> {
        let role = match spec.role {
            Role::Zimbra => "zimbra",
            Role::Foreign => "foreign",
            Role::Internet => "outside",
        };
        let dir = root.join(format!("{role}-{}", spec.ip));
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(io_err("remove", &dir))?;
        }
        for sub in ["postfix", "spool", "data", "db"] {
            let p = dir.join(sub);
            fs::create_dir_all(&p).map_err(io_err("create", &p))?;
        }
        run(Command::new("chmod").arg("755").arg(&dir))?;
        run(Command::new("chown")
            .arg("postfix:postfix")
            .arg(dir.join("data")))?;
        let mut inst = Instance {
            spec,
            dir,
            slapd: None,
            postfix_started: false,
            written: BTreeMap::new(),
            timing: [Duration::ZERO; 4],
        };
        let t0 = Instant::now();
        if let Some(ldif) = inst.spec.ldif.clone() {
            inst.write_slapd_conf()?;
            inst.load_db(&ldif)?;
            inst.start_slapd()?;
        }
        let t1 = Instant::now();
        inst.timing[0] += t1 - t0;
        inst.write_postfix()?;
        inst.postfix("start")?;
        inst.postfix_started = true;
        let sa = SocketAddr::from((inst.spec.ip, 25));
        wait_until("smtpd listening", Duration::from_secs(30), || {
            TcpStream::connect_timeout(&sa, Duration::from_millis(200)).is_ok()
        })?;
        inst.timing[1] += t1.elapsed();
        Ok(inst)
    }

    /// Whether `spec` can replace this instance's configuration in place (same address and
    /// kind; the MTA's name and host name may change).
    pub fn can_become(&self, spec: &InstanceSpec) -> bool {
        self.spec.ip == spec.ip
            && self.spec.role == spec.role
            && self.spec.resolv_conf == spec.resolv_conf
    }

    /// Takes `spec`: empties the queue, reloads slapd when the LDIF changed, rewrites the
    /// configuration and reloads Postfix when anything changed.
    pub fn reconfigure(&mut self, spec: InstanceSpec) -> Result<(), OracleError> {
        let t0 = Instant::now();
        run(Command::new(POSTSUPER)
            .arg("-c")
            .arg(self.pf_dir())
            .arg("-d")
            .arg("ALL"))?;
        self.timing[2] += t0.elapsed();
        if spec == self.spec {
            return Ok(());
        }
        let ldif_changed = spec.ldif != self.spec.ldif;
        let old_ldif = std::mem::replace(&mut self.spec, spec).ldif;
        if ldif_changed {
            if let Some(ldif) = self.spec.ldif.clone() {
                let t = Instant::now();
                if let Err(e) = self.replace_online(old_ldif.as_deref(), &ldif) {
                    eprintln!("multi: {}: reloading slapd offline: {e}", self.spec.name);
                    self.stop_slapd();
                    self.load_db(&ldif)?;
                    self.start_slapd()?;
                }
                self.timing[0] += t.elapsed();
            }
        }
        let changed = self.write_postfix()?;
        if changed || ldif_changed {
            let t = Instant::now();
            self.reload()?;
            self.timing[3] += t.elapsed();
        }
        Ok(())
    }

    /// The Postfix log.
    pub fn maillog(&self) -> PathBuf {
        self.dir.join("maillog")
    }

    /// The Postfix config directory.
    pub fn pf_dir(&self) -> PathBuf {
        self.dir.join("postfix")
    }

    fn ldap_url(&self) -> String {
        format!("ldap://{}:389", self.spec.ip)
    }

    fn write_slapd_conf(&self) -> Result<(), OracleError> {
        write_slapd_conf(&self.dir, "cn=multi-admin", Some(ROOTPW))
    }

    fn load_db(&self, ldif: &str) -> Result<(), OracleError> {
        load_db(&self.dir, ldif, "directory.ldif")
    }

    fn start_slapd(&mut self) -> Result<(), OracleError> {
        let addr = SocketAddr::from((self.spec.ip, 389));
        self.slapd = Some(spawn_slapd(&self.dir, addr, Duration::from_secs(30))?);
        Ok(())
    }

    /// Replaces the running slapd's entries: the old directory's entries deleted (children
    /// first), the new LDIF added over LDAP — new entries get increasing entry ids in LDIF
    /// order, as slapadd gives them, so slapd returns them in the same order. Much cheaper than
    /// slapadd and a restart (no schema parsed); any failure and the caller does that instead.
    fn replace_online(&mut self, old: Option<&str>, new: &str) -> Result<(), OracleError> {
        let old = old.ok_or_else(|| OracleError::Timeout("no previous directory".into()))?;
        if old
            .lines()
            .chain(new.lines())
            .any(|l| l.starts_with("dn::"))
            || self.slapd.is_none()
        {
            return Err(OracleError::Timeout("base64 DNs: reload offline".into()));
        }
        let mut dns: Vec<&str> = old.lines().filter_map(|l| l.strip_prefix("dn: ")).collect();
        dns.reverse();
        let url = self.ldap_url();
        let dn_file = self.dir.join("delete.dns");
        write_file(&dn_file, &(dns.join("\n") + "\n"))?;
        let ldif = self.dir.join("directory.ldif");
        write_file(&ldif, new)?;
        let auth = [
            "-x",
            "-H",
            url.as_str(),
            "-D",
            "cn=multi-admin",
            "-w",
            ROOTPW,
        ];
        run(Command::new(LDAPDELETE).args(auth).arg("-f").arg(&dn_file))?;
        run(Command::new(LDAPADD).args(auth).arg("-f").arg(&ldif))?;
        Ok(())
    }

    fn stop_slapd(&mut self) {
        if let Some(mut c) = self.slapd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Writes main.cf, master.cf, the tables and (Zimbra) the `ldap-*.cf` maps; returns
    /// whether any file changed. Fresh files are back-dated: Postfix re-reads a main.cf younger
    /// than about a second in 300 ms steps before it trusts it.
    fn write_postfix(&mut self) -> Result<bool, OracleError> {
        let p = self.pf_dir();
        let pd = p.display().to_string();
        let s = &self.spec;
        let mut files: BTreeMap<String, String> = BTreeMap::new();
        let paths = crate::oracle::main_cf_paths(&pd.to_string(), &self.dir);
        let mut main = format!(
            "# zimbra-prov multi-MTA test: {name} ({role:?})\n\
             {paths}myhostname = {host}\n\
             inet_interfaces = 127.0.0.1\n\
             proxy_interfaces = {ip}\n\
             inet_protocols = ipv4\n\
             smtp_bind_address = {ip}\n\
             enable_long_queue_ids = yes\n\
             biff = no\n\
             alias_maps =\n\
             alias_database =\n\
             local_recipient_maps =\n\
             smtpd_peername_lookup = no\n\
             smtpd_authorized_xclient_hosts = 127.0.0.1\n\
             smtp_connection_cache_on_demand = no\n\
             smtpd_error_sleep_time = 0\n\
             smtpd_soft_error_limit = 1000000\n\
             smtpd_hard_error_limit = 1000000\n\
             delay_warning_time = 0\n\
             in_flow_delay = 0\n\
             # a deferred message is an answer; it is not retried during a run\n\
             queue_run_delay = 3600s\n\
             minimal_backoff_time = 3600s\n\
             maximal_backoff_time = 3600s\n",
            name = s.name,
            role = s.role,
            host = s.hostname,
            ip = s.ip,
        );
        for (k, v) in &s.main {
            main.push_str(&format!("{k} = {}\n", v.replace("{P}", &pd)));
        }
        files.insert("main.cf".into(), main);
        files.insert(
            "master.cf".into(),
            format!(
                "# smtpd on {ip}:25 only\n{ip}:smtp inet n - n - - smtpd\n{COMMON_SERVICES}{}",
                s.services,
                ip = s.ip
            ),
        );
        for (name, text) in &s.files {
            files.insert(name.clone(), text.replace("{P}", &pd));
        }
        if s.role == Role::Zimbra {
            let url = self.ldap_url();
            let vam = if s.old_address_filter {
                VAM_OLD_ADDRESS
            } else {
                VAM_PLAIN
            };
            let maps = MAPS.iter().map(|(n, f, r, x)| (*n, *f, *r, *x)).chain([(
                "vam",
                vam,
                VAM_RESULT,
                "special_result_attribute = member\n",
            )]);
            for (name, filter, result, extra) in maps {
                files.insert(
                    format!("ldap-{name}.cf"),
                    format!(
                        "server_host = {url}\nserver_port = 389\nsearch_base =\nversion = 3\n\
                         bind = no\ntimeout = 30\nquery_filter = {filter}\n\
                         result_attribute = {result}\n{extra}"
                    ),
                );
            }
        }
        if files == self.written {
            return Ok(false);
        }
        for (name, text) in &files {
            write_file(&p.join(name), text)?;
        }
        let mut touch = Command::new("touch");
        touch.arg("-d").arg("@1000000000");
        for name in files.keys() {
            touch.arg(p.join(name));
        }
        run(&mut touch)?;
        self.written = files;
        Ok(true)
    }

    /// `postfix -c DIR VERB`; `start` runs in a mount namespace of its own when the
    /// instance has a private resolv.conf.
    fn postfix(&self, verb: &str) -> Result<String, OracleError> {
        match (&self.spec.resolv_conf, verb) {
            (Some(resolv), "start") => run(Command::new("unshare")
                .arg("--mount")
                .arg("--")
                .arg("sh")
                .arg("-c")
                .arg("mount --bind \"$1\" /etc/resolv.conf && exec \"$2\" -c \"$3\" start")
                .arg("sh")
                .arg(resolv)
                .arg(POSTFIX)
                .arg(self.pf_dir())),
            _ => run(Command::new(POSTFIX).arg("-c").arg(self.pf_dir()).arg(verb)),
        }
    }

    fn master_pid(&self) -> Option<u32> {
        fs::read_to_string(self.dir.join("spool/pid/master.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// `postfix reload`, then wait until every daemon from before has exited (no process
    /// keeps an old table or LDAP connection).
    fn reload(&mut self) -> Result<(), OracleError> {
        let master = self
            .master_pid()
            .ok_or_else(|| OracleError::Timeout("postfix master pid file missing".into()))?;
        let before = children_of(master);
        self.postfix("reload")?;
        wait_until(
            "old postfix daemons to exit",
            Duration::from_secs(30),
            || before.iter().all(|p| !pid_alive(*p)),
        )
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if self.postfix_started {
            let master = self.master_pid();
            let _ = self.postfix("stop");
            if let Some(m) = master {
                let _ = wait_until("postfix master exit", Duration::from_secs(10), || {
                    !pid_alive(m)
                });
            }
        }
        self.stop_slapd();
    }
}
