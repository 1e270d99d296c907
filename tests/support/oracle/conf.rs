//! The configuration files of the oracle's slapd and Postfix: Zimbra's `ldap-*.cf` filters,
//! zmconfigd's main.cf defaults and a master.cf with Zimbra's services.

use super::*;

/// Zimbra's filters (zm-core-utils `src/libexec/zmmtainit`): file, query_filter,
/// result_attribute, extra lines.
pub const MAPS: &[(&str, &str, &str, &str)] = &[
    (
        "vmm",
        "(&(zimbraMailDeliveryAddress=%s)(zimbraMailStatus=enabled))",
        "zimbraMailDeliveryAddress",
        "",
    ),
    (
        "vmd",
        "(&(zimbraDomainName=%s)(zimbraDomainType=local)(zimbraMailStatus=enabled))",
        "zimbraDomainName",
        "",
    ),
    (
        "vad",
        "(&(zimbraDomainName=%s)(zimbraDomainType=alias)(zimbraMailStatus=enabled))",
        "zimbraDomainName",
        "",
    ),
    (
        "canonical",
        "(&(|(zimbraMailDeliveryAddress=%s)(zimbraMailAlias=%s)(zimbraMailCatchAllAddress=%s))(zimbraMailStatus=enabled))",
        "zimbraMailCanonicalAddress,zimbraMailCatchAllCanonicalAddress",
        "",
    ),
    (
        "transport",
        "(&(|(zimbraMailDeliveryAddress=%s)(zimbraDomainName=%s))(zimbraMailStatus=enabled))",
        "zimbraMailTransport",
        "",
    ),
    (
        "slm",
        "(&(|(uid=%s)(zimbraMailDeliveryAddress=%s)(zimbraMailAlias=%s)(zimbraMailCatchAllAddress=%s)(zimbraAllowFromAddress=%s))(zimbraMailStatus=enabled))",
        "uid,zimbraMailDeliveryAddress,zimbraMailForwardingAddress,zimbraPrefMailForwardingAddress,zimbraMailCatchAllForwardingAddress,zimbraMailAlias,zimbraAllowFromAddress",
        "result_format = %u, %s\n",
    ),
    (
        "splitdomain",
        "(&(|(zimbraMailDeliveryAddress=%s)(zimbraMailAlias=%s)(zimbraMailCatchAllAddress=%s))(zimbraMailStatus=enabled))",
        "zimbraMailDeliveryAddress,zimbraMailForwardingAddress,zimbraPrefMailForwardingAddress",
        "result_filter = OK\n",
    ),
];

/// ldap-vam.cf as zmmtainit writes it since ZCS-5361 (2018): with `zimbraOldMailAddress`.
pub const VAM_OLD_ADDRESS: &str = "(&(|(zimbraMailDeliveryAddress=%s)(zimbraMailAlias=%s)(zimbraOldMailAddress=%s)(zimbraMailCatchAllAddress=%s))(zimbraMailStatus=enabled))";
/// ldap-vam.cf without `zimbraOldMailAddress` (zmmtainit before 2018).
pub const VAM_PLAIN: &str = "(&(|(zimbraMailDeliveryAddress=%s)(zimbraMailAlias=%s)(zimbraMailCatchAllAddress=%s))(zimbraMailStatus=enabled))";
pub const VAM_RESULT: &str = "zimbraMailDeliveryAddress,zimbraMailForwardingAddress,zimbraPrefMailForwardingAddress,zimbraMailCatchAllForwardingAddress";

/// The delivery services of the oracle's master.cf, one per name in `services` (Zimbra's
/// master.cf list by default): `error` and `retry` are error(8), `discard` is discard(8), and
/// every other service — those that would reach the network or a mailbox, and the pipe(8)
/// examples — is discard(8) logging as `oracle-transport/<service>`, so that the log names the
/// The main.cf lines every test Postfix instance shares (the single-MTA oracle's and the
/// multi-MTA lab's): its own configuration, queue, data and log directories under `dir`, and
/// Debian's program paths.
pub fn main_cf_paths(config_dir: &str, dir: &Path) -> String {
    let d = dir.display();
    format!(
        "compatibility_level = 3.6\n\
         config_directory = {config_dir}\n\
         queue_directory = {d}/spool\n\
         data_directory = {d}/data\n\
         command_directory = /usr/sbin\n\
         daemon_directory = /usr/lib/postfix/sbin\n\
         shlib_directory = /usr/lib/postfix\n\
         meta_directory = /etc/postfix\n\
         mail_owner = postfix\n\
         setgid_group = postdrop\n\
         maillog_file = {d}/maillog\n\
         maillog_file_prefixes = {d}\n"
    )
}

/// transport and (as the discard reason) the next hop.
pub fn master_cf_services(services: &[String]) -> String {
    let mut out = String::new();
    for svc in services {
        let line = match svc.as_str() {
            "error" | "retry" => {
                format!("{svc:<9} unix - - n - - error -o syslog_name=oracle-transport/{svc}\n")
            }
            "discard" => "discard   unix - - n - - discard\n".to_string(),
            "local" | "virtual" => {
                format!("{svc:<9} unix - n n - - discard -o syslog_name=oracle-transport/{svc}\n")
            }
            _ => format!("{svc:<9} unix - - n - - discard -o syslog_name=oracle-transport/{svc}\n"),
        };
        out.push_str(&line);
    }
    out
}

/// Writes `dir/zimbra.schema` and a `dir/slapd.conf` serving the whole DIT (suffix `""`) from
/// `dir/db`, with Zimbra's indexes and the dynlist overlay, administered as `rootdn` (with
/// `rootpw` when binding as it over the network is wanted). Shared by the single oracle and the
/// multi-MTA harness.
pub fn write_slapd_conf(dir: &Path, rootdn: &str, rootpw: Option<&str>) -> Result<(), OracleError> {
    write_file(
        &dir.join("zimbra.schema"),
        &zimbra_prov::attrs::openldap_schema(),
    )?;
    let d = dir.display();
    let rootpw = rootpw
        .map(|pw| format!("rootpw {pw}\n"))
        .unwrap_or_default();
    let conf = format!(
        "include /etc/ldap/schema/core.schema\n\
         include /etc/ldap/schema/cosine.schema\n\
         include /etc/ldap/schema/inetorgperson.schema\n\
         include /etc/ldap/schema/dyngroup.schema\n\
         include {d}/zimbra.schema\n\
         pidfile {d}/slapd.pid\n\
         argsfile {d}/slapd.args\n\
         modulepath /usr/lib/ldap\n\
         moduleload back_mdb\n\
         moduleload dynlist\n\
         access to * by * read\n\
         database mdb\n\
         maxsize 268435456\n\
         suffix \"\"\n\
         rootdn \"{rootdn}\"\n\
         {rootpw}\
         directory {d}/db\n\
         index objectClass eq\n\
         index zimbraMailDeliveryAddress,zimbraMailAlias,zimbraMailCatchAllAddress,zimbraOldMailAddress,zimbraDomainName eq\n\
         index zimbraId,zimbraMemberOf eq\n\
         overlay dynlist\n\
         dynlist-attrset groupOfURLs memberURL member\n"
    );
    write_file(&dir.join("slapd.conf"), &conf)
}

impl Oracle {
    pub(super) fn write_slapd_conf(&self) -> Result<(), OracleError> {
        write_slapd_conf(&self.dir, "cn=oracle-admin", None)
    }

    pub(super) fn write_postfix_conf(&self) -> Result<(), OracleError> {
        let p = self.pf_dir();
        let url = format!("ldap://127.0.0.1:{}", self.ldap_port);
        for (name, filter, result, extra) in MAPS {
            self.write_map(name, filter, result, extra, &url)?;
        }
        let vam = if self.cfg.old_address_filter {
            VAM_OLD_ADDRESS
        } else {
            VAM_PLAIN
        };
        self.write_map(
            "vam",
            vam,
            VAM_RESULT,
            "special_result_attribute = member\n",
            &url,
        )?;
        let pd = p.display();
        let (dns_level, disable_dns) = match self.cfg.dns {
            DnsLookups::Enabled => ("enabled", "no"),
            DnsLookups::Disabled => ("disabled", "no"),
            DnsLookups::Dnssec => ("dnssec", "no"),
            DnsLookups::LegacyDisabled => ("", "yes"),
        };
        let paths = crate::oracle::main_cf_paths(&pd.to_string(), &self.dir);
        let mut main = format!(
            "# zimbra-prov oracle instance: a Zimbra MTA's routing, nothing leaves the machine\n\
             {paths}myhostname = mta.oracle.invalid\n\
             mydomain = oracle.invalid\n\
             myorigin = $myhostname\n\
             inet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\n\
             biff = no\n\
             alias_maps =\n\
             alias_database =\n\
             local_recipient_maps =\n\
             dnssec_probe =\n\
             smtpd_peername_lookup = no\n\
             # --- zmconfigd defaults (zimbra-attrs.xml globalConfig values) ---\n\
             mydestination = localhost\n\
             mynetworks = {mynet}\n\
             relayhost = {relay}\n\
             recipient_delimiter = {delim}\n\
             smtp_dns_support_level = {dns_level}\n\
             disable_dns_lookups = {disable_dns}\n\
             canonical_maps = ldap:{pd}/ldap-canonical.cf\n\
             transport_maps = ldap:{pd}/ldap-transport.cf\n\
             virtual_alias_domains = ldap:{pd}/ldap-vad.cf\n\
             virtual_alias_maps = ldap:{pd}/ldap-vam.cf\n\
             virtual_mailbox_domains = ldap:{pd}/ldap-vmd.cf\n\
             virtual_mailbox_maps = ldap:{pd}/ldap-vmm.cf\n\
             virtual_transport = error\n\
             virtual_alias_expansion_limit = 10000\n\
             propagate_unmatched_extensions = canonical\n\
             smtpd_reject_unlisted_recipient = no\n\
             smtpd_reject_unlisted_sender = no\n\
             smtpd_recipient_restrictions = reject_non_fqdn_recipient, permit_sasl_authenticated, permit_mynetworks, reject_unlisted_recipient, reject_invalid_helo_hostname, reject_non_fqdn_sender, permit\n\
             smtpd_relay_restrictions = permit_sasl_authenticated, permit_mynetworks, reject_unauth_destination\n\
             # --- oracle hygiene: try once, never wait ---\n\
             queue_run_delay = 1s\n\
             minimal_backoff_time = 1s\n\
             maximal_backoff_time = 2s\n\
             maximal_queue_lifetime = 0\n\
             bounce_queue_lifetime = 0\n\
             delay_warning_time = 0\n\
             in_flow_delay = 0\n",
            mynet = self.cfg.mynetworks,
            relay = self.cfg.relayhost,
            delim = self.cfg.recipient_delimiter,
        );
        for (k, v) in &self.cfg.extra_main_cf {
            main.push_str(&format!("{k} = {v}\n"));
        }
        write_file(&p.join("main.cf"), &main)?;
        let mut master = format!(
            "# zimbra-prov oracle: smtpd on 127.0.0.1 only; network/mailbox agents are discard(8)\n\
             127.0.0.1:{submit} inet n - n - - smtpd -o syslog_name=oracle-submit\n  \
               -o mynetworks=127.0.0.0/8 -o smtpd_recipient_restrictions=permit_mynetworks,reject\n  \
               -o smtpd_relay_restrictions=permit_mynetworks,reject -o smtpd_reject_unlisted_recipient=no\n  \
               -o smtpd_error_sleep_time=0 -o smtpd_soft_error_limit=1000000 -o smtpd_hard_error_limit=1000000\n\
             127.0.0.1:{probe} inet n - n - - smtpd -o syslog_name=oracle-probe\n  \
               -o smtpd_authorized_xclient_hosts=127.0.0.0/8\n  \
               -o smtpd_error_sleep_time=0 -o smtpd_soft_error_limit=1000000 -o smtpd_hard_error_limit=1000000\n\
             pickup    unix n - n 60 1 pickup\n\
             cleanup   unix n - n - 0 cleanup\n\
             qmgr      unix n - n 300 1 qmgr\n\
             rewrite   unix - - n - - trivial-rewrite\n\
             bounce    unix - - n - 0 bounce\n\
             defer     unix - - n - 0 bounce\n\
             trace     unix - - n - 0 bounce\n\
             verify    unix - - n - 1 verify\n\
             proxymap  unix - - n - - proxymap\n\
             anvil     unix - - n - 1 anvil\n\
             scache    unix - - n - 1 scache\n\
             postlog   unix-dgram n - n - 1 postlogd\n",
            submit = self.submit_port,
            probe = self.probe_port,
        );
        master.push_str(&master_cf_services(&self.cfg.services));
        write_file(&p.join("master.cf"), &master)?;
        // Postfix re-reads a main.cf younger than ~1 s in 300 ms steps before it trusts it;
        // back-date the fresh files so check/start do not wait.
        let mut touch = Command::new("touch");
        touch.arg("-d").arg("@1000000000");
        for f in fs::read_dir(&p).map_err(io_err("list", &p))?.flatten() {
            touch.arg(f.path());
        }
        run(&mut touch)?;
        Ok(())
    }

    pub(super) fn write_map(
        &self,
        name: &str,
        filter: &str,
        result: &str,
        extra: &str,
        url: &str,
    ) -> Result<(), OracleError> {
        let text = format!(
            "# Zimbra ldap-{name}.cf (zmmtainit filter), anonymous bind to the oracle's slapd\n\
             server_host = {url}\n\
             server_port = {port}\n\
             search_base =\n\
             version = 3\n\
             bind = no\n\
             timeout = 30\n\
             query_filter = {filter}\n\
             result_attribute = {result}\n\
             {extra}",
            port = self.ldap_port
        );
        write_file(&self.pf_dir().join(format!("ldap-{name}.cf")), &text)
    }
}
