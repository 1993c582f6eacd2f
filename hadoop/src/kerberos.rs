//! Kerberos for rfy's Hadoop clients: which credentials a client uses, and
//! SPNEGO (`Authorization: Negotiate`) tokens for Hadoop's web endpoints.
//!
//! Kerberos itself is the system's GSSAPI library (`libgssapi_krb5`), loaded at
//! run time by hdfs-native; rfy implements none of it. Security is on when the
//! Hadoop configuration says `hadoop.security.authentication=kerberos`
//! (`org.apache.hadoop.security.UserGroupInformation#isSecurityEnabled`).

use std::sync::RwLock;

use base64::Engine;

use crate::config::HadoopConfig;

/// Errors of the Kerberos helpers; each names the principal, keytab or service.
#[derive(Debug, thiserror::Error)]
pub enum KerberosError {
    /// No credentials could be had for the principal (no ticket, an expired
    /// ticket, a keytab without the principal's key, KDC unreachable).
    #[error("Kerberos login {what} failed: {reason}")]
    Login {
        /// Which login: `as alice@REALM with keytab /path`, `from the ticket cache ...`.
        what: String,
        /// The GSSAPI library's message.
        reason: String,
    },
    /// No SPNEGO token could be made for a web service.
    #[error("cannot authenticate to HTTP@{host} with Kerberos (SPNEGO) as {who}: {reason}")]
    Spnego {
        /// The service's host.
        host: String,
        /// The principal, or `the ticket cache's principal`.
        who: String,
        /// The GSSAPI library's message.
        reason: String,
    },
}

/// Whether `conf` is a secure (Kerberized) cluster's configuration:
/// `hadoop.security.authentication` is `kerberos` (case-insensitive).
pub fn is_enabled(conf: &HadoopConfig) -> bool {
    conf.get("hadoop.security.authentication").is_some_and(|v| v.trim().eq_ignore_ascii_case("kerberos"))
}

/// The credentials one client process uses. All `None`: the process default
/// ticket cache (`KRB5CCNAME`, else `default_ccache_name` of `KRB5_CONFIG`).
/// With a keytab, the initial ticket goes into `cache` (a `MEMORY:` cache
/// keeps it in this process only).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct KerberosCredentials {
    /// `user@REALM`; required with a keytab or a cache.
    pub principal: Option<String>,
    /// Path of a keytab holding the principal's key.
    pub keytab: Option<String>,
    /// A credential cache name (`FILE:/path`, `MEMORY:name`).
    pub cache: Option<String>,
}

impl std::fmt::Debug for KerberosCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The keytab's path is fine to show; its bytes never pass through here.
        f.debug_struct("KerberosCredentials")
            .field("principal", &self.principal)
            .field("keytab", &self.keytab)
            .field("cache", &self.cache)
            .finish()
    }
}

impl KerberosCredentials {
    /// What these credentials are, for messages: `as P with keytab K`, `from the ticket cache`.
    pub fn describe(&self) -> String {
        let cache = self.cache.clone().or_else(|| std::env::var("KRB5CCNAME").ok());
        match (&self.principal, &self.keytab) {
            (Some(p), Some(k)) => format!("as {p} with keytab {k}"),
            (Some(p), None) => format!("as {p} from ticket cache {}", cache.as_deref().unwrap_or("(default)")),
            (None, _) => format!("from ticket cache {}", cache.as_deref().unwrap_or("(default)")),
        }
    }

    /// Acquires the credentials (with a keytab: obtains the initial ticket
    /// from the KDC) and returns their principal, `user@REALM`.
    ///
    /// Errors: [`KerberosError::Login`] naming the principal/keytab/cache and
    /// the library's reason (e.g. `Cannot contact any KDC for realm 'R'`).
    pub fn login(&self) -> Result<String, KerberosError> {
        hdfs_native::kerberos::acquire_principal(
            self.principal.as_deref(),
            self.keytab.as_deref(),
            self.cache.as_deref(),
        )
        .map_err(|e| {
            let mut reason = gss_message(&e);
            if let (Some(p), Some(k)) = (&self.principal, &self.keytab) {
                reason.push_str(&format!(
                    " (does the keytab hold {p}'s current key? klist -kt {k}; is the realm's KDC reachable?)"
                ));
            }
            KerberosError::Login { what: self.describe(), reason }
        })
    }

    /// The value of an `Authorization` header for `HTTP@host`:
    /// `Negotiate <base64 SPNEGO token>`. Blocking (the first call per host asks the KDC for a service ticket).
    ///
    /// Errors: [`KerberosError::Spnego`] naming the host and the principal.
    pub fn negotiate_header(&self, host: &str) -> Result<String, KerberosError> {
        let token = hdfs_native::kerberos::spnego_initial_token(
            host,
            self.principal.as_deref(),
            self.keytab.as_deref(),
            self.cache.as_deref(),
        )
        .map_err(|e| KerberosError::Spnego {
            host: host.to_string(),
            who: self.principal.clone().unwrap_or_else(|| "the ticket cache's principal".into()),
            reason: gss_message(&e),
        })?;
        Ok(format!("Negotiate {}", base64::engine::general_purpose::STANDARD.encode(token)))
    }
}

/// The process's Kerberos login user (as Hadoop's
/// `UserGroupInformation#getLoginUser`): the credentials every Hadoop client
/// of this process uses on a Kerberized cluster, and their principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginUser {
    /// Which credentials (keytab, ticket cache).
    pub credentials: KerberosCredentials,
    /// Their principal, `user@REALM`.
    pub principal: String,
}

impl LoginUser {
    /// The principal's short name (`alice@REALM` → `alice`): the Hadoop user.
    pub fn user(&self) -> &str {
        short_name(&self.principal)
    }
}

static LOGIN_USER: RwLock<Option<LoginUser>> = RwLock::new(None);

/// Records the process's login user (after [`KerberosCredentials::login`]):
/// [`crate::hdfs::Hdfs::from_config`], [`crate::yarn::rest::RmRestClient::from_config`]
/// and [`crate::config::current_user`] use it on a Kerberized cluster.
pub fn set_login_user(login: LoginUser) {
    crate::config::set_login_user_name(login.user());
    *LOGIN_USER.write().unwrap_or_else(|e| e.into_inner()) = Some(login);
}

/// The process's login user, if one was recorded.
pub fn login_user() -> Option<LoginUser> {
    LOGIN_USER.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The short name of a principal as a default `auth_to_local` rule makes it:
/// `alice@REALM` → `alice`, `alice/host@REALM` → `alice`.
pub fn short_name(principal: &str) -> &str {
    let name = principal.split('@').next().unwrap_or(principal);
    name.split('/').next().unwrap_or(name)
}

/// The ResourceManager's principal (`yarn.resourcemanager.principal`, `_HOST`
/// replaced by the RM's host name as `SecurityUtil#getServerPrincipal` does),
/// the renewer of delegation tokens the RM must renew: the RM maps it to its
/// short name with its own `auth_to_local` rules
/// (`AbstractDelegationTokenIdentifier#setRenewer`). `None` when unset.
pub fn rm_principal(conf: &HadoopConfig) -> Option<String> {
    let p = conf.get("yarn.resourcemanager.principal")?;
    let p = p.trim();
    (!p.is_empty()).then(|| p.replace("_HOST", &conf.rm_hostname().to_lowercase()))
}

/// The GSSAPI library's own text of an hdfs-native error (without its status-code dump), on one line.
fn gss_message(e: &hdfs_native::HdfsError) -> String {
    let text = match e {
        hdfs_native::HdfsError::GSSAPIError(_, _, message) if !message.is_empty() => message.clone(),
        other => other.to_string(),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_follows_the_authentication_key() {
        let mut c = HadoopConfig::new();
        assert!(!is_enabled(&c));
        c.set("hadoop.security.authentication", "simple");
        assert!(!is_enabled(&c));
        c.set("hadoop.security.authentication", " Kerberos ");
        assert!(is_enabled(&c));
    }

    #[test]
    fn short_names_and_the_rm_principal() {
        assert_eq!(short_name("alice@RFY.TEST"), "alice");
        assert_eq!(short_name("rm/host1@RFY.TEST"), "rm");
        assert_eq!(short_name("bob"), "bob");
        let mut c = HadoopConfig::new();
        assert_eq!(rm_principal(&c), None);
        c.set("yarn.resourcemanager.hostname", "RM1.example");
        c.set("yarn.resourcemanager.principal", "rm/_HOST@RFY.TEST");
        assert_eq!(rm_principal(&c).as_deref(), Some("rm/rm1.example@RFY.TEST"));
    }

    #[test]
    fn describe_names_principal_and_keytab() {
        let k = KerberosCredentials {
            principal: Some("alice@R".into()),
            keytab: Some("/k/alice.keytab".into()),
            cache: None,
        };
        assert_eq!(k.describe(), "as alice@R with keytab /k/alice.keytab");
    }
}
