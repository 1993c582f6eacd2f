//! The `rfy` client's Kerberos login, once per invocation, when the Hadoop
//! configuration says `hadoop.security.authentication=kerberos`.
//!
//! Flink's keys: `security.kerberos.login.keytab` with
//! `security.kerberos.login.principal` (the initial ticket goes into a
//! `MEMORY:` credential cache of this process: no file, nothing left behind),
//! else the ticket cache (`kinit`; `KRB5CCNAME`) when
//! `security.kerberos.login.use-ticket-cache` is true (the default). The
//! login user is recorded process-wide ([`rfy_hadoop::kerberos::set_login_user`],
//! as Hadoop's `UserGroupInformation#loginUserFromKeytab`), so every HDFS and
//! RM REST client of this process uses it. Kerberos is the system's GSSAPI
//! library, loaded at run time by hdfs-native.

use anyhow::anyhow;
use rfy_conf::{options, Configuration};
use rfy_hadoop::config::HadoopConfig;
use rfy_hadoop::hdfs::webhdfs::{self, WebHdfs};
use rfy_hadoop::kerberos::{self, KerberosCredentials, LoginUser};
use rfy_hadoop::token::Credentials;
use rfy_hadoop::yarn::rest::RmRestClient;

/// Why the client could not log in; one line naming the key, keytab, principal or KDC configuration.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// A keytab without a principal.
    #[error("security.kerberos.login.keytab is set ({keytab}) but security.kerberos.login.principal is not: set the principal (user@REALM) the keytab holds")]
    NoPrincipal {
        /// The keytab's path.
        keytab: String,
    },
    /// The keytab cannot be read.
    #[error("cannot read Kerberos keytab {keytab} (security.kerberos.login.keytab): {source}")]
    Keytab {
        /// The keytab's path.
        keytab: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Neither a keytab nor the ticket cache may be used.
    #[error("the Hadoop cluster is Kerberized (hadoop.security.authentication=kerberos in {conf_dir}) but no security.kerberos.login.keytab is set and security.kerberos.login.use-ticket-cache is false")]
    NoCredentials {
        /// The Hadoop configuration directory.
        conf_dir: String,
    },
    /// The GSSAPI library could not get credentials.
    #[error("{source} (Kerberos configuration: {krb5_config})")]
    Login {
        /// The login's error, naming the principal/keytab/cache.
        source: kerberos::KerberosError,
        /// `KRB5_CONFIG` or `/etc/krb5.conf`: where the KDC is configured.
        krb5_config: String,
    },
}

/// The credentials `conf` selects for a Kerberized cluster.
///
/// Errors: [`LoginError::NoPrincipal`], [`LoginError::Keytab`], [`LoginError::NoCredentials`].
pub fn credentials(conf: &Configuration, hconf: &HadoopConfig) -> Result<KerberosCredentials, LoginError> {
    let nonempty = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let keytab = nonempty(conf.get_optional(&options::SECURITY_KERBEROS_LOGIN_KEYTAB));
    let principal = nonempty(conf.get_optional(&options::SECURITY_KERBEROS_LOGIN_PRINCIPAL));
    match keytab {
        Some(keytab) => {
            let Some(principal) = principal else { return Err(LoginError::NoPrincipal { keytab }) };
            std::fs::File::open(&keytab).map_err(|source| LoginError::Keytab { keytab: keytab.clone(), source })?;
            // One in-memory cache per process: hdfs-native and SPNEGO share its ticket.
            let cache = format!("MEMORY:rfy-{}", std::process::id());
            Ok(KerberosCredentials { principal: Some(principal), keytab: Some(keytab), cache: Some(cache) })
        }
        None if conf.get(&options::SECURITY_KERBEROS_LOGIN_USE_TICKET_CACHE) => {
            Ok(KerberosCredentials { principal, keytab: None, cache: None })
        }
        None => Err(LoginError::NoCredentials {
            conf_dir: hconf.dir().map(|d| d.display().to_string()).unwrap_or_else(|| "HADOOP_CONF_DIR".into()),
        }),
    }
}

/// Logs in when `hconf` is a Kerberized cluster's configuration (else
/// `Ok(None)`), once per process: a later call returns the recorded login.
/// With a keytab this asks the KDC for the initial ticket.
///
/// Errors: as [`credentials`], and [`LoginError::Login`] (no or an expired
/// ticket, a keytab without the principal's key, the KDC unreachable).
pub async fn login(conf: &Configuration, hconf: &HadoopConfig) -> Result<Option<LoginUser>, LoginError> {
    if !kerberos::is_enabled(hconf) {
        return Ok(None);
    }
    if let Some(done) = kerberos::login_user() {
        return Ok(Some(done));
    }
    let credentials = credentials(conf, hconf)?;
    let attempt = credentials.clone();
    let principal = tokio::task::spawn_blocking(move || attempt.login())
        .await
        .unwrap_or_else(|e| {
            Err(kerberos::KerberosError::Login { what: credentials.describe(), reason: format!("login task: {e}") })
        })
        .map_err(|source| LoginError::Login {
            source,
            krb5_config: std::env::var("KRB5_CONFIG").unwrap_or_else(|_| "/etc/krb5.conf".into()),
        })?;
    let login = LoginUser { credentials, principal };
    tracing::info!(principal = %login.principal, how = %login.credentials.describe(), "Kerberos login");
    kerberos::set_login_user(login.clone());
    Ok(Some(login))
}

/// The delegation tokens the ApplicationMaster's container gets on a
/// Kerberized cluster, as Flink's `YarnClusterDescriptor` ships them (its
/// `HadoopFSDelegationTokenProvider` and `HBase`-less YARN set):
/// - the ResourceManager's (`RM_DELEGATION_TOKEN`, service set to the RM's
///   `ip:port`, which the RM leaves empty), keyed by that service;
/// - the HDFS delegation token, fetched over WebHDFS with SPNEGO (over HTTPS
///   on an HTTPS-only HDFS), as kind `HDFS_DELEGATION_TOKEN`, once per
///   service Java and hdfs-native key it by
///   ([`rfy_hadoop::hdfs::webhdfs::token_services`]): the NodeManager
///   localizes the AM's files with it, the AM and its TaskManagers read and
///   write HDFS with it.
///
/// The renewer of both is the RM's principal (`yarn.resourcemanager.principal`,
/// else `yarn`), which each daemon maps to its short name: the RM renews them
/// on submission and refuses an application whose tokens it cannot renew.
///
/// Errors: the RM or the NameNode refuses a token (each message says which
/// and why), or an address does not resolve.
pub async fn delegation_tokens(rm: &RmRestClient, hconf: &HadoopConfig) -> anyhow::Result<Credentials> {
    let renewer = kerberos::rm_principal(hconf).unwrap_or_else(|| "yarn".into());
    let mut token = rm
        .delegation_token(&renewer)
        .await
        .map_err(|e| anyhow!("cannot get a ResourceManager delegation token (renewer {renewer}): {e}"))?;
    let addr = hconf.rm_address()?;
    token.service = token_service(&addr.host, addr.port).await?;
    let mut creds = Credentials::new();
    creds.add_token(token.service.clone(), token);

    let webhdfs = WebHdfs::from_config(hconf, rm.user())?;
    let hdfs_token = webhdfs.delegation_token(&renewer).await.map_err(|e| {
        anyhow!("cannot get an HDFS delegation token (renewer {renewer}) from {}: {e}", webhdfs.urls().join(", "))
    })?;
    let services = webhdfs::token_services(hconf).await?;
    for (alias, t) in webhdfs::hdfs_delegation_tokens(&hdfs_token, &services).tokens {
        creds.add_token(alias, t);
    }
    tracing::info!(
        services = ?creds.tokens.iter().map(|(a, t)| format!("{}@{a}", t.kind)).collect::<Vec<_>>(),
        "delegation tokens for the ApplicationMaster"
    );
    Ok(creds)
}

/// `ip:port` of `host:port`, the form Hadoop keys tokens by
/// (`SecurityUtil#buildTokenService` with `hadoop.security.token.service.use_ip`, the default); IPv4 first.
async fn token_service(host: &str, port: u16) -> anyhow::Result<String> {
    let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| {
            anyhow!("cannot resolve the ResourceManager address {host}:{port} (yarn.resourcemanager.address): {e}")
        })?
        .collect();
    let addr = addrs.iter().find(|a| a.is_ipv4()).or(addrs.first()).ok_or_else(|| {
        anyhow!("the ResourceManager address {host}:{port} (yarn.resourcemanager.address) resolves to nothing")
    })?;
    Ok(addr.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(pairs: &[(&str, &str)]) -> Configuration {
        let mut c = Configuration::new();
        for (k, v) in pairs {
            c.set(k, v, rfy_conf::Source::Dynamic).unwrap();
        }
        c
    }

    #[test]
    fn keytab_needs_a_principal_and_a_readable_file() {
        let h = HadoopConfig::new();
        let e = credentials(&conf(&[("security.kerberos.login.keytab", "/no/such.keytab")]), &h).unwrap_err();
        assert!(e.to_string().contains("security.kerberos.login.principal is not"), "{e}");
        let e = credentials(
            &conf(&[
                ("security.kerberos.login.keytab", "/no/such.keytab"),
                ("security.kerberos.login.principal", "a@R"),
            ]),
            &h,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("cannot read Kerberos keytab /no/such.keytab"), "{e}");
    }

    #[test]
    fn ticket_cache_unless_refused() {
        let h = HadoopConfig::new();
        let c = credentials(&conf(&[]), &h).unwrap();
        assert_eq!(c, KerberosCredentials::default());
        let e = credentials(&conf(&[("security.kerberos.login.use-ticket-cache", "false")]), &h).unwrap_err();
        assert!(e.to_string().contains("use-ticket-cache is false"), "{e}");
    }

    #[tokio::test]
    async fn token_service_is_an_ip_address() {
        assert_eq!(token_service("127.0.0.1", 8032).await.unwrap(), "127.0.0.1:8032");
        assert_eq!(token_service("localhost", 8032).await.unwrap(), "127.0.0.1:8032");
    }
}
