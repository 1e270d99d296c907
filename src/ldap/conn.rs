//! Connection settings and the connect-and-bind step shared by source and sink.

use std::time::Duration;

use ldap3::{LdapConn, LdapConnSettings};

use super::error::LdapError;

/// Where and how to connect.
///
/// `url` may be `ldap://host[:port]`, `ldaps://host[:port]` or `ldapi://%2Fpath%2Fto%2Fsocket`
/// (percent-encoded socket path). `starttls` upgrades an `ldap://` connection with the
/// StartTLS extended operation before binding.
///
/// ```
/// use std::time::Duration;
/// use zimbra_prov::ldap::ConnectOptions;
/// let o = ConnectOptions::new("ldap://zimbra-ldap:389")
///     .bind("uid=zimbra,cn=admins,cn=zimbra", "secret")
///     .starttls(true)
///     .timeouts(Duration::from_secs(5), Duration::from_secs(60));
/// assert_eq!(o.bind_dn.as_deref(), Some("uid=zimbra,cn=admins,cn=zimbra"));
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
    /// Skip TLS certificate verification (test servers only).
    pub no_tls_verify: bool,
    /// Connect timeout (TCP and TLS handshake). Default 10 s.
    pub connect_timeout: Duration,
    /// Timeout of each operation (bind, each search response, add, modify, ...). Default 120 s.
    pub operation_timeout: Duration,
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("url", &self.url)
            .field("bind_dn", &self.bind_dn)
            .field("password", &"***")
            .field("starttls", &self.starttls)
            .field("no_tls_verify", &self.no_tls_verify)
            .field("connect_timeout", &self.connect_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .finish()
    }
}

impl std::fmt::Display for ConnectOptions {
    /// The URL, the bind DN and the TLS mode; never the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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

impl ConnectOptions {
    /// Anonymous, no StartTLS, default timeouts.
    pub fn new(url: impl Into<String>) -> ConnectOptions {
        ConnectOptions {
            url: url.into(),
            bind_dn: None,
            password: String::new(),
            starttls: false,
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

    /// Sets the connect and per-operation timeouts.
    pub fn timeouts(mut self, connect: Duration, operation: Duration) -> ConnectOptions {
        self.connect_timeout = connect;
        self.operation_timeout = operation;
        self
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
    /// [`LdapError::Connect`] and [`LdapError::Bind`].
    pub fn connect(&self) -> Result<LdapConn, LdapError> {
        self.check()?;
        let settings = LdapConnSettings::new()
            .set_conn_timeout(self.connect_timeout)
            .set_starttls(self.starttls)
            .set_no_tls_verify(self.no_tls_verify);
        let mut conn =
            LdapConn::with_settings(settings, &self.url).map_err(|source| LdapError::Connect {
                url: self.url.clone(),
                source: Box::new(source),
            })?;
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
}
