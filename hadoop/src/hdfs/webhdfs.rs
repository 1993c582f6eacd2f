//! The HDFS delegation token over WebHDFS (`GET /webhdfs/v1/?op=GETDELEGATIONTOKEN`,
//! `org.apache.hadoop.hdfs.server.namenode.web.resources.NamenodeWebHdfsMethods`),
//! authenticated with SPNEGO, over HTTPS when the cluster's HDFS web is
//! HTTPS-only (`dfs.http.policy=HTTPS_ONLY`; see [`crate::tls`] for the trust store).
//!
//! hdfs-native cannot fetch a delegation token over RPC, and a YARN
//! application on a Kerberized cluster needs one: the NodeManager localizes
//! the ApplicationMaster's files, and the AM and its TaskManagers read and
//! write HDFS, with the token alone (no component of rfy has a Kerberos
//! ticket in its container). The token comes back as
//! `{"Token":{"urlString":"..."}}`, `Token#encodeToUrlString` of kind
//! `SWEBHDFS delegation` (or `WEBHDFS delegation`); its identifier is the
//! NameNode's `DelegationTokenIdentifier`, valid over RPC and to the DataNodes
//! as kind `HDFS_DELEGATION_TOKEN`, which [`hdfs_delegation_tokens`] sets.
//!
//! Token services ([`token_services`]): Java selects an HDFS token by the
//! NameNode's `ip:port` (`SecurityUtil#buildTokenService` with
//! `hadoop.security.token.service.use_ip`, the default), hdfs-native by the
//! address as configured (`host:port` of `fs.defaultFS`,
//! `security::user::User#get_token`); with HDFS HA both use `ha-hdfs:<nameservice>`.
//! rfy ships one copy per distinct service.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::config::HadoopConfig;
use crate::kerberos::{KerberosCredentials, KerberosError};
use crate::token::{Credentials, Token, KIND_HDFS_DELEGATION_TOKEN};

/// Connect timeout of a WebHDFS request.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Overall timeout of a WebHDFS request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default NameNode RPC port (`HdfsClientConfigKeys.DFS_NAMENODE_RPC_PORT_DEFAULT`).
pub const DEFAULT_RPC_PORT: u16 = 8020;
/// Default NameNode HTTP port (`dfs.namenode.http-address`).
pub const DEFAULT_HTTP_PORT: u16 = 9870;
/// Default NameNode HTTPS port (`dfs.namenode.https-address`).
pub const DEFAULT_HTTPS_PORT: u16 = 9871;

/// Errors of the WebHDFS token client; each names the URL, key or address at fault.
#[derive(Debug, thiserror::Error)]
pub enum WebHdfsError {
    /// `fs.defaultFS` is not an `hdfs://` URI.
    #[error("fs.defaultFS is {0:?}: an HDFS delegation token needs hdfs://host:port or hdfs://<nameservice>")]
    NotHdfs(String),
    /// A configured address is not `host:port`.
    #[error("bad value {value:?} for {key}: expected host:port")]
    BadAddress {
        /// The key.
        key: String,
        /// Its value.
        value: String,
    },
    /// An HA name service names no NameNode web address.
    #[error("HDFS name service {nameservice} lists NameNodes ({key}) but {missing} is not set")]
    HaAddress {
        /// The name service.
        nameservice: String,
        /// `dfs.ha.namenodes.<ns>`.
        key: String,
        /// The missing address key.
        missing: String,
    },
    /// The NameNode's address does not resolve.
    #[error("cannot resolve the HDFS NameNode address {address} ({key}): {reason}")]
    Resolve {
        /// `host:port`.
        address: String,
        /// Where it comes from.
        key: &'static str,
        /// Why.
        reason: String,
    },
    /// The HTTP client could not be built (e.g. an unreadable CA bundle).
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// No SPNEGO token could be made for the NameNode's web endpoint.
    #[error("HDFS NameNode at {url} needs Kerberos: {source}")]
    Kerberos {
        /// The URL requested.
        url: String,
        /// Why no token could be made.
        source: KerberosError,
    },
    /// The request failed before an answer (refused, timeout, TLS: an untrusted certificate).
    #[error("HDFS NameNode web endpoint {url} is unreachable: {reason}")]
    Unreachable {
        /// The URL requested (without the query).
        url: String,
        /// The innermost cause (e.g. `invalid peer certificate: UnknownIssuer`).
        reason: String,
    },
    /// The NameNode answered with an error status.
    #[error("HDFS NameNode GET {url} answered {status}: {message}")]
    Status {
        /// The URL requested (without the query).
        url: String,
        /// HTTP status.
        status: u16,
        /// The `RemoteException` message, or the body's start.
        message: String,
    },
    /// The answer held no decodable token.
    #[error("unexpected answer from HDFS NameNode {url}: {reason}")]
    Answer {
        /// The URL requested (without the query).
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// Every NameNode of an HA name service failed; the errors in order.
    #[error("no NameNode of {nameservice} gave a delegation token: {}", .errors.join("; "))]
    AllFailed {
        /// The name service.
        nameservice: String,
        /// One message per NameNode.
        errors: Vec<String>,
    },
}

/// Where the file system of `fs.defaultFS` is: one NameNode, or an HA name service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameNodes {
    /// One NameNode at `host:port` (as written in `fs.defaultFS`, default port 8020).
    Single {
        /// Host as configured.
        host: String,
        /// RPC port.
        port: u16,
    },
    /// An HA name service (`dfs.ha.namenodes.<ns>` is set).
    Ha {
        /// The name service id.
        nameservice: String,
        /// Its NameNode ids, in configured order.
        ids: Vec<String>,
    },
}

impl NameNodes {
    /// The file system of `fs.defaultFS`.
    ///
    /// Errors: [`WebHdfsError::NotHdfs`], [`WebHdfsError::BadAddress`].
    pub fn from_config(conf: &HadoopConfig) -> Result<Self, WebHdfsError> {
        let fs = conf.default_fs();
        let authority = fs
            .strip_prefix("hdfs://")
            .map(|rest| rest.split('/').next().unwrap_or(""))
            .filter(|a| !a.is_empty())
            .ok_or_else(|| WebHdfsError::NotHdfs(fs.clone()))?;
        let bad = || WebHdfsError::BadAddress { key: "fs.defaultFS".into(), value: fs.clone() };
        match authority.rsplit_once(':') {
            Some((host, port)) => {
                Ok(NameNodes::Single { host: host.to_string(), port: port.parse().map_err(|_| bad())? })
            }
            None => {
                let key = format!("dfs.ha.namenodes.{authority}");
                match conf.get(&key) {
                    Some(ids) => Ok(NameNodes::Ha {
                        nameservice: authority.to_string(),
                        ids: ids.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
                    }),
                    None => Ok(NameNodes::Single { host: authority.to_string(), port: DEFAULT_RPC_PORT }),
                }
            }
        }
    }
}

/// Whether the NameNode serves its web endpoints over HTTPS only (`dfs.http.policy=HTTPS_ONLY`).
pub fn https_only(conf: &HadoopConfig) -> bool {
    conf.get_trimmed_or("dfs.http.policy", "HTTP_ONLY").eq_ignore_ascii_case("HTTPS_ONLY")
}

/// The base URLs (`https://host:port`) of the NameNodes' web endpoints, in
/// the order to try them: `dfs.namenode.https-address` with
/// `dfs.http.policy=HTTPS_ONLY`, else `dfs.namenode.http-address` (per
/// NameNode, `.<ns>.<id>`, with HA). A missing or wildcard host is the host of `fs.defaultFS`.
///
/// Errors: as [`NameNodes::from_config`], [`WebHdfsError::HaAddress`], [`WebHdfsError::BadAddress`].
pub fn web_urls(conf: &HadoopConfig) -> Result<Vec<String>, WebHdfsError> {
    let https = https_only(conf);
    let (scheme, key, port) = if https {
        ("https", "dfs.namenode.https-address", DEFAULT_HTTPS_PORT)
    } else {
        ("http", "dfs.namenode.http-address", DEFAULT_HTTP_PORT)
    };
    let host_port = |key: &str, value: &str, default_host: &str| -> Result<String, WebHdfsError> {
        let bad = || WebHdfsError::BadAddress { key: key.to_string(), value: value.to_string() };
        let (host, p) = value.trim().rsplit_once(':').ok_or_else(bad)?;
        let p: u16 = p.parse().map_err(|_| bad())?;
        let host = if host.is_empty() || host == "0.0.0.0" { default_host } else { host };
        Ok(format!("{scheme}://{host}:{p}"))
    };
    match NameNodes::from_config(conf)? {
        NameNodes::Single { host, .. } => {
            let value = conf.get(key).unwrap_or_else(|| format!("{host}:{port}"));
            Ok(vec![host_port(key, &value, &host)?])
        }
        NameNodes::Ha { nameservice, ids } => ids
            .iter()
            .map(|id| {
                let k = format!("{key}.{nameservice}.{id}");
                let value = conf.get(&k).ok_or_else(|| WebHdfsError::HaAddress {
                    nameservice: nameservice.clone(),
                    key: format!("dfs.ha.namenodes.{nameservice}"),
                    missing: k.clone(),
                })?;
                let rpc = conf.get(&format!("dfs.namenode.rpc-address.{nameservice}.{id}")).unwrap_or_default();
                let rpc_host = rpc.rsplit_once(':').map(|(h, _)| h.to_string()).unwrap_or_default();
                host_port(&k, &value, &rpc_host)
            })
            .collect(),
    }
}

/// The services under which the HDFS delegation token must be keyed, Java's
/// first: `ip:port` (Java) and `host:port` as configured (hdfs-native) of a
/// single NameNode (one entry when both are the same), or `ha-hdfs:<ns>`.
///
/// Errors: [`WebHdfsError::Resolve`] when the NameNode's host does not resolve.
pub async fn token_services(conf: &HadoopConfig) -> Result<Vec<String>, WebHdfsError> {
    match NameNodes::from_config(conf)? {
        NameNodes::Ha { nameservice, .. } => Ok(vec![format!("ha-hdfs:{nameservice}")]),
        NameNodes::Single { host, port } => {
            let address = format!("{host}:{port}");
            let err = |reason: String| WebHdfsError::Resolve { address: address.clone(), key: "fs.defaultFS", reason };
            let addrs: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), port)).await.map_err(|e| err(e.to_string()))?.collect();
            let ip = addrs.iter().find(|a| a.is_ipv4()).or(addrs.first()).ok_or_else(|| err("no address".into()))?;
            let java = ip.to_string();
            Ok(if java == address { vec![java] } else { vec![java, address] })
        }
    }
}

/// A WebHDFS client for delegation tokens, acting as one user.
#[derive(Debug, Clone)]
pub struct WebHdfs {
    urls: Vec<String>,
    nameservice: Option<String>,
    user: String,
    http: reqwest::Client,
    /// `Some`: SPNEGO with these credentials instead of `?user.name=`.
    kerberos: Option<KerberosCredentials>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(rename = "Token")]
    token: Option<UrlString>,
}

#[derive(Deserialize)]
struct UrlString {
    #[serde(rename = "urlString")]
    url_string: String,
}

impl WebHdfs {
    /// A client of the NameNodes at `urls` (base URLs, tried in order)
    /// acting as `user` (`?user.name=`), or with SPNEGO from `kerberos`;
    /// HTTPS certificates must chain to the system's roots or to `trust_store` (PEM).
    ///
    /// Errors: [`WebHdfsError::Tls`] when the CA bundle cannot be read.
    pub fn new(
        urls: Vec<String>,
        user: &str,
        kerberos: Option<KerberosCredentials>,
        trust_store: Option<&Path>,
    ) -> Result<Self, WebHdfsError> {
        let builder =
            crate::tls::client_builder(trust_store)?.connect_timeout(CONNECT_TIMEOUT).timeout(REQUEST_TIMEOUT);
        let http = crate::tls::build(builder, trust_store)?;
        Ok(WebHdfs { urls, nameservice: None, user: user.to_string(), http, kerberos })
    }

    /// The client for `conf`'s file system ([`web_urls`]), trusting
    /// [`crate::tls::TRUSTSTORE_PEM_KEY`]'s CA bundle; on a Kerberized
    /// cluster with SPNEGO as the process's login user (else the default
    /// ticket cache), else as `user`.
    ///
    /// Errors: as [`web_urls`] and [`Self::new`].
    pub fn from_config(conf: &HadoopConfig, user: &str) -> Result<Self, WebHdfsError> {
        let kerberos = crate::kerberos::is_enabled(conf)
            .then(|| crate::kerberos::login_user().map(|l| l.credentials).unwrap_or_default());
        let trust: Option<PathBuf> = crate::tls::trust_store(conf);
        let mut client = Self::new(web_urls(conf)?, user, kerberos, trust.as_deref())?;
        if let NameNodes::Ha { nameservice, .. } = NameNodes::from_config(conf)? {
            client.nameservice = Some(nameservice);
        }
        Ok(client)
    }

    /// The NameNodes' base URLs, in the order tried.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// A delegation token whose renewer is `renewer` (a principal, which the
    /// NameNode maps to its short name with its `auth_to_local` rules, or a
    /// short name): the token as the NameNode sent it (kind `SWEBHDFS
    /// delegation` or `WEBHDFS delegation`). With HA, the NameNodes are
    /// asked in order until one answers (a standby refuses).
    ///
    /// Errors: [`WebHdfsError::Kerberos`], [`WebHdfsError::Unreachable`]
    /// (also an untrusted certificate), [`WebHdfsError::Status`] (401/403: not
    /// authenticated), [`WebHdfsError::Answer`], [`WebHdfsError::AllFailed`].
    pub async fn delegation_token(&self, renewer: &str) -> Result<Token, WebHdfsError> {
        let mut errors = Vec::new();
        for base in &self.urls {
            match self.token_from(base, renewer).await {
                Ok(t) => return Ok(t),
                Err(e) if self.urls.len() == 1 => return Err(e),
                Err(e) => {
                    tracing::info!(namenode = %base, "no delegation token from this NameNode: {e}");
                    errors.push(e.to_string());
                }
            }
        }
        Err(WebHdfsError::AllFailed { nameservice: self.nameservice.clone().unwrap_or_default(), errors })
    }

    async fn token_from(&self, base: &str, renewer: &str) -> Result<Token, WebHdfsError> {
        let url = format!("{base}/webhdfs/v1/");
        let mut req = self
            .http
            .get(&url)
            .query(&[("op", "GETDELEGATIONTOKEN"), ("renewer", renewer)])
            .header("Accept", "application/json");
        req = match &self.kerberos {
            None => req.query(&[("user.name", self.user.as_str())]),
            Some(k) => req.header("Authorization", negotiate(k, &url).await?),
        };
        tracing::debug!(url = %url, renewer, "WebHDFS GETDELEGATIONTOKEN");
        let resp =
            req.send().await.map_err(|e| WebHdfsError::Unreachable { url: url.clone(), reason: root_cause(&e) })?;
        let status = resp.status().as_u16();
        let text =
            resp.text().await.map_err(|e| WebHdfsError::Unreachable { url: url.clone(), reason: root_cause(&e) })?;
        if status != 200 {
            let message = crate::yarn::rest::remote_exception_message(&text);
            return Err(WebHdfsError::Status { url, status, message });
        }
        parse_token_answer(&text).map_err(|reason| WebHdfsError::Answer { url, reason })
    }
}

/// The token of a `GETDELEGATIONTOKEN` answer.
fn parse_token_answer(text: &str) -> Result<Token, String> {
    let answer: TokenAnswer = serde_json::from_str(text).map_err(|e| format!("not a Token JSON: {e}"))?;
    let Some(t) = answer.token else { return Err("no token (is security off on the NameNode?)".into()) };
    Token::decode_from_url_string(&t.url_string).map_err(|e| format!("bad delegation token: {e}"))
}

/// `Negotiate <token>` for `HTTP@<host of url>`, off the async threads (it may ask the KDC).
async fn negotiate(k: &KerberosCredentials, url: &str) -> Result<String, WebHdfsError> {
    let host = reqwest::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
    let k = k.clone();
    let url = url.to_string();
    match tokio::task::spawn_blocking(move || k.negotiate_header(&host)).await {
        Ok(r) => r.map_err(|source| WebHdfsError::Kerberos { url, source }),
        Err(e) => Err(WebHdfsError::Unreachable { url, reason: format!("SPNEGO task failed: {e}") }),
    }
}

/// The innermost error of a chain, which says what went wrong (refused, certificate, timeout).
fn root_cause(e: &reqwest::Error) -> String {
    let mut root: &dyn std::error::Error = e;
    while let Some(s) = root.source() {
        root = s;
    }
    if e.is_timeout() {
        return format!("timed out ({root})");
    }
    root.to_string()
}

/// The HDFS delegation token for a YARN application, keyed for Java and
/// hdfs-native: `token` (from [`WebHdfs::delegation_token`]) as kind
/// `HDFS_DELEGATION_TOKEN`, one copy per service of [`token_services`],
/// each stored under its service as alias.
pub fn hdfs_delegation_tokens(token: &Token, services: &[String]) -> Credentials {
    let mut creds = Credentials::new();
    for service in services {
        let mut t = token.clone();
        t.kind = KIND_HDFS_DELEGATION_TOKEN.to_string();
        t.service = service.clone();
        creds.add_token(service.clone(), t);
    }
    creds
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(pairs: &[(&str, &str)]) -> HadoopConfig {
        let mut c = HadoopConfig::new();
        for (k, v) in pairs {
            c.set(k, *v);
        }
        c
    }

    #[test]
    fn web_urls_follow_the_http_policy() {
        let c = conf(&[("fs.defaultFS", "hdfs://nn1.example:8020")]);
        assert_eq!(web_urls(&c).unwrap(), vec!["http://nn1.example:9870"]);
        let c = conf(&[
            ("fs.defaultFS", "hdfs://localhost:28020"),
            ("dfs.http.policy", "HTTPS_ONLY"),
            ("dfs.namenode.https-address", "0.0.0.0:28071"),
        ]);
        assert_eq!(web_urls(&c).unwrap(), vec!["https://localhost:28071"]);
        let c = conf(&[("fs.defaultFS", "hdfs://nn:1"), ("dfs.namenode.http-address", "nope")]);
        let e = web_urls(&c).unwrap_err().to_string();
        assert!(e.contains("dfs.namenode.http-address") && e.contains("nope"), "{e}");
        let e = web_urls(&conf(&[("fs.defaultFS", "file:///")])).unwrap_err().to_string();
        assert!(e.contains("fs.defaultFS is \"file:///\""), "{e}");
    }

    #[test]
    fn ha_name_services_list_every_namenode() {
        let mut pairs = vec![
            ("fs.defaultFS", "hdfs://ns1"),
            ("dfs.ha.namenodes.ns1", "nn1, nn2"),
            ("dfs.http.policy", "HTTPS_ONLY"),
            ("dfs.namenode.https-address.ns1.nn1", "a.example:9871"),
            ("dfs.namenode.rpc-address.ns1.nn2", "b.example:8020"),
            ("dfs.namenode.https-address.ns1.nn2", "0.0.0.0:9872"),
        ];
        assert_eq!(web_urls(&conf(&pairs)).unwrap(), vec!["https://a.example:9871", "https://b.example:9872"]);
        pairs.remove(5);
        let e = web_urls(&conf(&pairs)).unwrap_err().to_string();
        assert!(e.contains("dfs.namenode.https-address.ns1.nn2 is not set"), "{e}");
    }

    #[tokio::test]
    async fn services_for_java_and_hdfs_native() {
        let c = conf(&[("fs.defaultFS", "hdfs://localhost:28020")]);
        assert_eq!(token_services(&c).await.unwrap(), vec!["127.0.0.1:28020", "localhost:28020"]);
        let c = conf(&[("fs.defaultFS", "hdfs://127.0.0.1:9000/")]);
        assert_eq!(token_services(&c).await.unwrap(), vec!["127.0.0.1:9000"]);
        let c = conf(&[("fs.defaultFS", "hdfs://ns1"), ("dfs.ha.namenodes.ns1", "nn1,nn2")]);
        assert_eq!(token_services(&c).await.unwrap(), vec!["ha-hdfs:ns1"]);
        let c = conf(&[("fs.defaultFS", "hdfs://no-such-host.invalid:8020")]);
        let e = token_services(&c).await.unwrap_err().to_string();
        assert!(e.contains("no-such-host.invalid:8020") && e.contains("fs.defaultFS"), "{e}");
    }

    #[test]
    fn decodes_a_namenode_answer_and_keys_copies_by_service() {
        // A GETDELEGATIONTOKEN answer of Hadoop 3.4.3 (secure test cluster): owner alice, renewer yarn.
        let answer = r#"{"Token":{"urlString":"HQAFYWxpY2UEeWFybgCKAaJSMdc9igGidj5bPQEIFBgsaNiUstG3xEuLyc__L45yidLjE1NXRUJIREZTIGRlbGVnYXRpb24PMTI3LjAuMC4xOjI4MDIw"}}"#;
        let t = parse_token_answer(answer).unwrap();
        assert_eq!(t.kind, "SWEBHDFS delegation");
        assert_eq!(t.service, "127.0.0.1:28020");
        assert_eq!(t.password.len(), 20, "HMAC-SHA1 password");
        assert!(t.identifier.windows(5).any(|w| w == b"alice"));
        let creds = hdfs_delegation_tokens(&t, &["127.0.0.1:28020".into(), "localhost:28020".into()]);
        assert_eq!(creds.tokens.len(), 2);
        for (alias, tok) in &creds.tokens {
            assert_eq!(&tok.service, alias);
            assert_eq!(tok.kind, KIND_HDFS_DELEGATION_TOKEN);
            assert_eq!((&tok.identifier, &tok.password), (&t.identifier, &t.password));
        }
        assert!(parse_token_answer(r#"{"Token":null}"#).unwrap_err().contains("no token"));
        assert!(parse_token_answer("<html>").unwrap_err().contains("not a Token JSON"));
        assert!(parse_token_answer(r#"{"Token":{"urlString":"!!"}}"#).unwrap_err().contains("bad delegation token"));
    }
}
