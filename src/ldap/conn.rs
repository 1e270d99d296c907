//! Connection settings and the connect-and-bind step shared by source and sink, TLS
//! (ldaps:// and StartTLS) with the CA a Zimbra install generates included.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ldap3::{LdapConn, LdapConnSettings};

use super::error::{LdapError, TlsProblem};

/// The environment variable OpenLDAP's tools (`ldapsearch`, `ldapmodify`, ...) read the CA
/// certificate file from; honoured the same way here.
pub const LDAPTLS_CACERT: &str = "LDAPTLS_CACERT";

/// Where the CA certificates a TLS connection trusts come from (see
/// [`ConnectOptions::tls_trust`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsTrust {
    /// [`ConnectOptions::ca_file`]: only the certificates in this PEM file.
    CaFile(PathBuf),
    /// The `LDAPTLS_CACERT` environment variable: only the certificates in this PEM file.
    Environment(PathBuf),
    /// The system's store, as OpenSSL finds it: the file named by `SSL_CERT_FILE` if set
    /// (else the distribution's bundle, `/etc/ssl/certs/ca-certificates.crt` on Debian) and
    /// the directories of `SSL_CERT_DIR` and the usual locations.
    System,
}

impl fmt::Display for TlsTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsTrust::CaFile(p) => write!(f, "CA file {}", p.display()),
            TlsTrust::Environment(p) => write!(f, "CA file {} (LDAPTLS_CACERT)", p.display()),
            TlsTrust::System => write!(f, "the system's CA store"),
        }
    }
}

/// Where and how to connect.
///
/// `url` may be `ldap://host[:port]`, `ldaps://host[:port]` or `ldapi://%2Fpath%2Fto%2Fsocket`
/// (percent-encoded socket path). `starttls` upgrades an `ldap://` connection with the
/// StartTLS extended operation before binding.
///
/// # TLS and Zimbra's own CA
///
/// A Zimbra install generates its own CA and signs its LDAP server's certificate with it
/// (`/opt/zimbra/conf/ca/ca.pem`); its slapd speaks StartTLS on 389 and ldaps on 636. The
/// certificates a TLS connection (`ldaps://` or StartTLS) trusts come from, in this order
/// ([`ConnectOptions::tls_trust`]):
///
/// 1. [`ConnectOptions::ca_file`] (the tools' `--ca-file`): the certificates in that PEM
///    file, and only those;
/// 2. else the `LDAPTLS_CACERT` environment variable, as OpenLDAP's own tools read it: the
///    certificates in that file, and only those;
/// 3. else the system's store, which OpenSSL (ldap3's `native-tls` backend) takes from the
///    file named by `SSL_CERT_FILE` when that is set, else the distribution's bundle, plus
///    `SSL_CERT_DIR`. Setting `SSL_CERT_FILE` to Zimbra's CA therefore also works, but it
///    replaces the whole system store for the process; prefer the CA file.
///
/// The server's certificate must also be issued for the host name (or IP address) in the
/// URL. A failed handshake is a typed [`LdapError::Tls`] that says which of the two failed
/// ([`TlsProblem`]) and what was trusted. `no_tls_verify` turns both checks off (test
/// servers only).
///
/// ```
/// use std::time::Duration;
/// use zimbra_prov::ldap::{ConnectOptions, TlsTrust};
/// let o = ConnectOptions::new("ldap://zimbra-ldap:389")
///     .bind("uid=zimbra,cn=admins,cn=zimbra", "secret")
///     .starttls(true)
///     .ca_file("/opt/zimbra/conf/ca/ca.pem")
///     .timeouts(Duration::from_secs(5), Duration::from_secs(60));
/// assert_eq!(o.bind_dn.as_deref(), Some("uid=zimbra,cn=admins,cn=zimbra"));
/// assert_eq!(o.tls_trust(), TlsTrust::CaFile("/opt/zimbra/conf/ca/ca.pem".into()));
/// assert!(o.to_string().contains("starttls"));
/// assert!(!o.to_string().contains("secret"));
/// ```
#[derive(Clone)]
pub struct ConnectOptions {
    /// The LDAP URL.
    pub url: String,
    /// Bind DN for a simple bind; `None` stays anonymous.
    pub bind_dn: Option<String>,
    /// Password for the simple bind.
    pub password: String,
    /// Use StartTLS on an `ldap://` URL.
    pub starttls: bool,
    /// PEM file with the CA certificate(s) to trust for `ldaps://` and StartTLS instead of
    /// `LDAPTLS_CACERT` or the system's store (see the type's docs). Unused without TLS.
    pub ca_file: Option<PathBuf>,
    /// Skip TLS certificate verification (test servers only).
    pub no_tls_verify: bool,
    /// Connect timeout (TCP and TLS handshake). Default 10 s.
    pub connect_timeout: Duration,
    /// Timeout of each operation (bind, each search response, add, modify, ...). Default 120 s.
    pub operation_timeout: Duration,
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("url", &self.url)
            .field("bind_dn", &self.bind_dn)
            .field("password", &"***")
            .field("starttls", &self.starttls)
            .field("ca_file", &self.ca_file)
            .field("no_tls_verify", &self.no_tls_verify)
            .field("connect_timeout", &self.connect_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .finish()
    }
}

impl fmt::Display for ConnectOptions {
    /// The URL, the bind DN and the TLS mode; never the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.url)?;
        if self.starttls {
            write!(f, " (starttls)")?;
        }
        match &self.bind_dn {
            Some(dn) => write!(f, " as {dn:?}"),
            None => write!(f, " (anonymous)"),
        }
    }
}

/// Which variant of a connector to build: the real one, or a probe that relaxes one check
/// to find out which check a failed handshake failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verify {
    Full,
    AnyHostname,
    Nothing,
}

impl ConnectOptions {
    /// Anonymous, no StartTLS, trust as [`ConnectOptions::tls_trust`] finds it, default
    /// timeouts.
    pub fn new(url: impl Into<String>) -> ConnectOptions {
        ConnectOptions {
            url: url.into(),
            bind_dn: None,
            password: String::new(),
            starttls: false,
            ca_file: None,
            no_tls_verify: false,
            connect_timeout: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(120),
        }
    }

    /// Sets the simple-bind DN and password.
    pub fn bind(mut self, dn: impl Into<String>, password: impl Into<String>) -> ConnectOptions {
        self.bind_dn = Some(dn.into());
        self.password = password.into();
        self
    }

    /// Turns StartTLS on or off.
    pub fn starttls(mut self, on: bool) -> ConnectOptions {
        self.starttls = on;
        self
    }

    /// Trusts the CA certificate(s) in this PEM file (and only those) for TLS.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> ConnectOptions {
        self.ca_file = Some(path.into());
        self
    }

    /// Sets the connect and per-operation timeouts.
    pub fn timeouts(mut self, connect: Duration, operation: Duration) -> ConnectOptions {
        self.connect_timeout = connect;
        self.operation_timeout = operation;
        self
    }

    /// Where the certificates TLS connections trust come from: [`ConnectOptions::ca_file`],
    /// else `LDAPTLS_CACERT` (when set and not empty), else the system's store.
    pub fn tls_trust(&self) -> TlsTrust {
        trust(self.ca_file.as_deref(), std::env::var_os(LDAPTLS_CACERT))
    }

    /// True when connecting negotiates TLS (`ldaps://`, or StartTLS on `ldap://`).
    pub fn uses_tls(&self) -> bool {
        self.starttls
            || self
                .url
                .get(..8)
                .is_some_and(|s| s.eq_ignore_ascii_case("ldaps://"))
    }

    /// Checks the URL scheme and the StartTLS combination without connecting.
    pub fn check(&self) -> Result<(), LdapError> {
        let bad = |reason: &str| LdapError::Url {
            url: self.url.clone(),
            reason: reason.to_string(),
        };
        let scheme = self
            .url
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase())
            .ok_or_else(|| bad("expected ldap://, ldaps:// or ldapi://"))?;
        match scheme.as_str() {
            "ldap" => Ok(()),
            "ldaps" | "ldapi" if self.starttls => Err(bad("StartTLS only applies to ldap:// URLs")),
            "ldaps" | "ldapi" => Ok(()),
            other => Err(bad(&format!(
                "unknown scheme {other:?} (expected ldap, ldaps or ldapi)"
            ))),
        }
    }

    /// Connects and, when a bind DN is set, binds. Errors are [`LdapError::Url`],
    /// [`LdapError::CaFile`], [`LdapError::Tls`] (the handshake failed: untrusted
    /// certificate, host name mismatch or another TLS failure), [`LdapError::Connect`] and
    /// [`LdapError::Bind`].
    pub fn connect(&self) -> Result<LdapConn, LdapError> {
        self.check()?;
        let tls = self.uses_tls();
        let trust = self.tls_trust();
        let roots = match (&trust, tls) {
            (TlsTrust::CaFile(p) | TlsTrust::Environment(p), true) => Some(read_ca_file(p)?),
            _ => None,
        };
        let open = |verify: Verify| {
            let mut settings = LdapConnSettings::new()
                .set_conn_timeout(self.connect_timeout)
                .set_starttls(self.starttls);
            if tls {
                settings = settings.set_connector(self.connector(roots.as_deref(), verify)?);
            }
            Ok::<_, LdapError>(LdapConn::with_settings(settings, &self.url))
        };
        let mut conn = match open(Verify::Full)? {
            Ok(conn) => conn,
            Err(source @ ldap3::LdapError::NativeTLS { .. }) => {
                // Find out which check failed by relaxing one at a time; a probe sends
                // nothing but the handshake (and the StartTLS request), never the bind.
                let succeeds = |v| open(v).is_ok_and(|r| r.is_ok());
                let problem = if self.no_tls_verify {
                    TlsProblem::Handshake
                } else if succeeds(Verify::AnyHostname) {
                    TlsProblem::HostnameMismatch
                } else if succeeds(Verify::Nothing) {
                    TlsProblem::UntrustedCertificate
                } else {
                    TlsProblem::Handshake
                };
                return Err(LdapError::Tls {
                    url: self.url.clone(),
                    problem,
                    trust: trust.clone(),
                    source: Box::new(source),
                });
            }
            Err(source) => {
                return Err(LdapError::Connect {
                    url: self.url.clone(),
                    source: Box::new(source),
                })
            }
        };
        if let Some(dn) = &self.bind_dn {
            let res = conn
                .with_timeout(self.operation_timeout)
                .simple_bind(dn, &self.password)
                .map_err(|source| LdapError::Transport {
                    operation: "bind",
                    dn: dn.clone(),
                    source: Box::new(source),
                })?;
            if res.rc != 0 {
                return Err(LdapError::Bind {
                    dn: dn.clone(),
                    code: res.rc,
                    message: res.text,
                });
            }
        }
        Ok(conn)
    }

    /// The TLS connector: the CA file's certificates as the only roots when there is one,
    /// the system's store otherwise; `verify` relaxes checks for the probes of
    /// [`ConnectOptions::connect`].
    fn connector(
        &self,
        roots: Option<&[native_tls::Certificate]>,
        verify: Verify,
    ) -> Result<native_tls::TlsConnector, LdapError> {
        let mut b = native_tls::TlsConnector::builder();
        if let Some(roots) = roots {
            b.disable_built_in_roots(true);
            for c in roots {
                b.add_root_certificate(c.clone());
            }
        }
        if self.no_tls_verify || verify == Verify::Nothing {
            b.danger_accept_invalid_certs(true);
        }
        if self.no_tls_verify || verify != Verify::Full {
            b.danger_accept_invalid_hostnames(true);
        }
        b.build().map_err(|e| LdapError::Tls {
            url: self.url.clone(),
            problem: TlsProblem::Handshake,
            trust: self.tls_trust(),
            source: Box::new(ldap3::LdapError::NativeTLS { source: e }),
        })
    }
}

/// The trust order: the option, then the environment variable (when not empty), then the
/// system's store.
fn trust(ca_file: Option<&Path>, env: Option<std::ffi::OsString>) -> TlsTrust {
    match (ca_file, env) {
        (Some(p), _) => TlsTrust::CaFile(p.to_path_buf()),
        (None, Some(v)) if !v.is_empty() => TlsTrust::Environment(PathBuf::from(v)),
        _ => TlsTrust::System,
    }
}

/// The certificates of a PEM CA file; an error when it cannot be read or holds none.
fn read_ca_file(path: &Path) -> Result<Vec<native_tls::Certificate>, LdapError> {
    let bad = |reason: String| LdapError::CaFile {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
    if !meta.is_file() {
        return Err(bad("not a regular file".into()));
    }
    if meta.len() > 16 << 20 {
        return Err(bad("larger than 16 MiB".into()));
    }
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs = native_tls::Certificate::stack_from_pem(&pem)
        .map_err(|e| bad(format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(bad("no PEM certificate in it".into()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_order_is_option_then_environment_then_system() {
        let opt = Path::new("/opt/zimbra/conf/ca/ca.pem");
        let env = Some(std::ffi::OsString::from("/etc/ssl/zimbra-ca.pem"));
        assert_eq!(trust(Some(opt), env.clone()), TlsTrust::CaFile(opt.into()));
        assert_eq!(
            trust(None, env),
            TlsTrust::Environment("/etc/ssl/zimbra-ca.pem".into())
        );
        assert_eq!(trust(None, Some("".into())), TlsTrust::System);
        assert_eq!(trust(None, None), TlsTrust::System);
        assert_eq!(
            TlsTrust::Environment("/x.pem".into()).to_string(),
            "CA file /x.pem (LDAPTLS_CACERT)"
        );
    }

    #[test]
    fn tls_is_ldaps_or_starttls() {
        assert!(ConnectOptions::new("LDAPS://h").uses_tls());
        assert!(ConnectOptions::new("ldap://h").starttls(true).uses_tls());
        assert!(!ConnectOptions::new("ldap://h").uses_tls());
        assert!(!ConnectOptions::new("ldapi://%2Frun%2Fs").uses_tls());
    }

    #[test]
    fn bad_ca_files_are_typed_errors_before_connecting() {
        let dir = std::env::temp_dir().join(format!("zp-ca-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let junk = dir.join("junk.pem");
        assert!(std::fs::write(&junk, "not a certificate\n").is_ok());
        for (path, what) in [
            (dir.join("missing.pem"), "No such file"),
            (junk, "no PEM certificate"),
            (dir.clone(), "not a regular file"),
        ] {
            // the port is never contacted: the CA file is read first
            let err = ConnectOptions::new("ldaps://127.0.0.1:9")
                .ca_file(&path)
                .connect()
                .expect_err("refused");
            assert!(
                matches!(&err, LdapError::CaFile { path: p, .. } if p == &path),
                "{err}"
            );
            assert!(err.to_string().contains(what), "{err}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
