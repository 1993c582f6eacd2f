//! ResourceManager REST API client (`/ws/v1/cluster/...`,
//! `org.apache.hadoop.yarn.server.resourcemanager.webapp.RMWebServices`).
//!
//! JSON shapes follow the RM's webapp DAO classes
//! (`ApplicationSubmissionContextInfo`, `ContainerLaunchContextInfo`,
//! `LocalResourceInfo`, `ResourceInfo`, `AppInfo`, `NewApplication`,
//! `ClusterInfo`, `NodeInfo`). On an open cluster every call carries
//! `?user.name=<user>`, which makes the RM act as that user (without it, apps
//! run as `dr.who`). On a Kerberized one (`hadoop.security.authentication=kerberos`)
//! every call carries `Authorization: Negotiate <SPNEGO token>` instead
//! (Hadoop's `KerberosAuthenticationHandler`; see [`crate::kerberos`]).
//!
//! ResourceManager HA (`yarn.resourcemanager.ha.enabled`, `...ha.rm-ids`):
//! the client knows every RM's web address (`yarn.resourcemanager.webapp.address.<id>`,
//! the `https` one with `yarn.http.policy=HTTPS_ONLY`) and sends to the one it
//! last found active. When that RM does not answer, or answers as a standby
//! does (307 to the active RM from `RMWebAppFilter`, or 503), it asks every
//! configured RM for `/ws/v1/cluster/info` and sends again to the one whose
//! `haState` is `ACTIVE` (for up to [`FAILOVER_TIMEOUT`]). A redirect is
//! never followed: requests (and their credentials) go only to configured RMs.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::config::{ConfigError, HadoopConfig};
use crate::kerberos::{KerberosCredentials, KerberosError};
use crate::token::Token;

/// Connect timeout of every request: an unreachable RM fails within this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Overall timeout of one request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the client of an HA cluster looks for an active ResourceManager
/// (every RM asked, 0.25 s to 2 s apart) before it gives up with [`RestError::NoActiveRm`].
pub const FAILOVER_TIMEOUT: Duration = Duration::from_secs(30);

/// Errors of the REST client; each names the URL.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// The configuration lacks or has a bad RM web address.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The HTTP client could not be built (e.g. an unreadable CA bundle).
    #[error(transparent)]
    Client(#[from] crate::tls::TlsError),
    /// The request failed before an answer (connect refused/timeout, reset).
    #[error("YARN ResourceManager at {url} is unreachable: {source}")]
    Unreachable {
        /// The URL requested.
        url: String,
        /// The HTTP client's error.
        source: reqwest::Error,
    },
    /// The RM answered with an unexpected status.
    #[error("YARN ResourceManager {method} {url} answered {status}: {message}")]
    Status {
        /// HTTP method.
        method: &'static str,
        /// The URL requested.
        url: String,
        /// HTTP status code.
        status: u16,
        /// The RM's `RemoteException` message, or the body's start.
        message: String,
    },
    /// A NodeManager's web services could not be reached.
    #[error("YARN NodeManager at {url} is unreachable: {source}")]
    NodeManagerUnreachable {
        /// The URL requested.
        url: String,
        /// The HTTP client's error.
        source: reqwest::Error,
    },
    /// A NodeManager's web services answered with an unexpected status.
    #[error("YARN NodeManager GET {url} answered {status}: {message}")]
    NodeManager {
        /// The URL requested.
        url: String,
        /// HTTP status code.
        status: u16,
        /// The NodeManager's message, or the body's start.
        message: String,
    },
    /// No Kerberos (SPNEGO) token could be made for the RM's web service.
    #[error("YARN ResourceManager at {url} needs Kerberos: {source}")]
    Kerberos {
        /// The URL requested.
        url: String,
        /// Why no token could be made (no ticket, KDC unreachable, ...).
        source: KerberosError,
    },
    /// The RM refused the request's authentication (HTTP 401/403).
    #[error("YARN ResourceManager {method} {url} refused the request's authentication ({status}){hint}")]
    Unauthorized {
        /// HTTP method.
        method: &'static str,
        /// The URL requested.
        url: String,
        /// HTTP status code.
        status: u16,
        /// What to do about it.
        hint: String,
    },
    /// No ResourceManager of an HA cluster said it is active within [`FAILOVER_TIMEOUT`].
    #[error("no active YARN ResourceManager among {} within {} s: {}", .rms.len(), .waited_s, .rms.join("; "))]
    NoActiveRm {
        /// Per configured RM: its URL and what it answered (`STANDBY`, an error).
        rms: Vec<String>,
        /// How long the client looked, seconds.
        waited_s: u64,
    },
    /// The body was not the JSON expected.
    #[error("unexpected JSON from YARN ResourceManager {url}: {reason}")]
    Json {
        /// The URL requested.
        url: String,
        /// What failed to parse.
        reason: String,
    },
}

pub use super::rest_types::*;

#[derive(Deserialize)]
struct ClusterInfoWrapper {
    #[serde(rename = "clusterInfo")]
    cluster_info: ClusterInfo,
}

#[derive(Deserialize)]
struct AppWrapper {
    app: AppReport,
}

#[derive(Deserialize)]
struct AppsWrapper {
    apps: Option<AppsInner>,
}

#[derive(Deserialize)]
struct AppsInner {
    #[serde(default)]
    app: Vec<AppReport>,
}

#[derive(Deserialize)]
struct NodesWrapper {
    nodes: Option<NodesInner>,
}

#[derive(Deserialize)]
struct NodesInner {
    #[serde(default)]
    node: Vec<NodeInfo>,
}

#[derive(Deserialize)]
struct AppState {
    state: String,
}

#[derive(Deserialize)]
struct DelegationTokenAnswer {
    token: String,
}

/// `Authorization: Negotiate <token>` for `url`'s host (the SPNEGO service is
/// `HTTP@<host of the URL>`), made off the async threads (GSSAPI blocks; the
/// first call per host asks the KDC for a service ticket).
///
/// Errors: [`RestError::Kerberos`] naming the URL, the host and the principal.
pub(crate) async fn negotiate(k: &KerberosCredentials, url: &str) -> Result<String, RestError> {
    let host = reqwest::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
    let k = k.clone();
    let header = tokio::task::spawn_blocking(move || k.negotiate_header(&host))
        .await
        .map_err(|e| RestError::Json { url: url.to_string(), reason: format!("SPNEGO task failed: {e}") })?;
    header.map_err(|source| RestError::Kerberos { url: url.to_string(), source })
}

impl RestError {
    /// Whether the error says "this RM is not (or no longer) the active one":
    /// unreachable, or a standby's answer (307 redirect, 503).
    fn means_not_active(&self) -> bool {
        matches!(self, RestError::Unreachable { .. } | RestError::Status { status: 307 | 503, .. })
    }
}

/// A client of the ResourceManager REST API, acting as one user. Clones share
/// the knowledge of which RM of an HA pair is active.
#[derive(Debug, Clone)]
pub struct RmRestClient {
    /// Base URLs of every configured RM (one without HA).
    rms: Arc<[String]>,
    /// Index in `rms` of the RM requests go to.
    active: Arc<AtomicUsize>,
    /// How long to look for an active RM ([`FAILOVER_TIMEOUT`]).
    failover_timeout: Duration,
    user: String,
    http: reqwest::Client,
    /// `Some`: SPNEGO with these credentials instead of `?user.name=`.
    kerberos: Option<KerberosCredentials>,
}

impl RmRestClient {
    /// A client for the RM at `base_url` (`http://host:port` or
    /// `https://host:port`, no path) acting as `user`; an HTTPS server's
    /// certificate must chain to the system's roots. Requests time out after
    /// [`CONNECT_TIMEOUT`] to connect and [`REQUEST_TIMEOUT`] overall.
    pub fn new(base_url: &str, user: &str) -> Result<Self, RestError> {
        Self::with_trust_store(base_url, user, None)
    }

    /// As [`Self::new`], trusting also the CA certificates of the PEM bundle `trust_store`.
    ///
    /// Errors: [`RestError::Client`] naming the bundle when it cannot be read.
    pub fn with_trust_store(base_url: &str, user: &str, trust_store: Option<&Path>) -> Result<Self, RestError> {
        Self::with_rms(&[base_url.to_string()], user, trust_store)
    }

    /// A client of the HA ResourceManagers at `base_urls` (configured order;
    /// requests go to the first until another is found active), otherwise as
    /// [`Self::with_trust_store`]. Redirects are never followed.
    pub fn with_rms(base_urls: &[String], user: &str, trust_store: Option<&Path>) -> Result<Self, RestError> {
        let builder = crate::tls::client_builder(trust_store)?
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none());
        let http = crate::tls::build(builder, trust_store)?;
        Ok(RmRestClient {
            rms: base_urls.iter().map(|b| b.trim_end_matches('/').to_string()).collect(),
            active: Arc::new(AtomicUsize::new(0)),
            failover_timeout: FAILOVER_TIMEOUT,
            user: user.to_string(),
            http,
            kerberos: None,
        })
    }

    /// A client for the RM named by `yarn.resourcemanager.webapp.address`
    /// (with RM HA: every RM of `yarn.resourcemanager.ha.rm-ids`, see [`HadoopConfig::rm_webapp_urls`])
    /// (`yarn.resourcemanager.webapp.https.address` over HTTPS with
    /// `yarn.http.policy=HTTPS_ONLY`, trusting the system's roots and
    /// [`crate::tls::TRUSTSTORE_PEM_KEY`]'s CA bundle); on a Kerberized
    /// cluster ([`crate::kerberos::is_enabled`]) it authenticates with SPNEGO
    /// as the process's login user ([`crate::kerberos::login_user`]), else
    /// from the default ticket cache.
    pub fn from_config(conf: &HadoopConfig, user: &str) -> Result<Self, RestError> {
        let trust = crate::tls::trust_store(conf);
        let client = Self::with_rms(&conf.rm_webapp_urls()?, user, trust.as_deref())?;
        if !crate::kerberos::is_enabled(conf) {
            return Ok(client);
        }
        let credentials = crate::kerberos::login_user().map(|l| l.credentials).unwrap_or_default();
        Ok(client.with_kerberos(credentials))
    }

    /// The same client authenticating every request with SPNEGO (`Authorization:
    /// Negotiate`) from `credentials` instead of `?user.name=`.
    pub fn with_kerberos(mut self, credentials: KerberosCredentials) -> Self {
        self.kerberos = Some(credentials);
        self
    }

    /// The same client looking for an active RM for at most `limit` (default [`FAILOVER_TIMEOUT`]).
    pub fn with_failover_timeout(mut self, limit: Duration) -> Self {
        self.failover_timeout = limit;
        self
    }

    /// Whether requests authenticate with Kerberos (SPNEGO).
    pub fn is_kerberos(&self) -> bool {
        self.kerberos.is_some()
    }

    /// The Kerberos credentials requests authenticate with, if any (for the
    /// RM's web proxy, which sits behind the same authentication filter).
    pub fn kerberos(&self) -> Option<&KerberosCredentials> {
        self.kerberos.as_ref()
    }

    /// The base URL of the RM requests go to now (with HA: the one last found active).
    pub fn base_url(&self) -> &str {
        &self.rms[self.active.load(Ordering::Relaxed) % self.rms.len()]
    }

    /// The base URLs of every configured RM.
    pub fn rm_urls(&self) -> &[String] {
        &self.rms
    }

    /// The user the client acts as.
    pub fn user(&self) -> &str {
        &self.user
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url(), path)
    }

    /// Sends to the RM believed active; with HA, once more to the RM found
    /// active when that one is not ([`RestError::means_not_active`]).
    pub(crate) async fn send(
        &self,
        method: &'static str,
        path: &str,
        body: Option<serde_json::Value>,
        ok: &[u16],
    ) -> Result<(u16, String), RestError> {
        let i = self.active.load(Ordering::Relaxed) % self.rms.len();
        match self.send_to(&self.rms[i], method, path, body.clone(), ok).await {
            Err(e) if self.rms.len() > 1 && e.means_not_active() => {
                tracing::info!(rm = %self.rms[i], error = %e, "YARN ResourceManager is not active; looking for the active one");
                let j = self.find_active().await?;
                self.send_to(&self.rms[j], method, path, body, ok).await
            }
            r => r,
        }
    }

    /// Asks every configured RM for `/ws/v1/cluster/info` until one says
    /// `haState: ACTIVE` (at most [`FAILOVER_TIMEOUT`]); makes it the RM
    /// requests go to and returns its index.
    ///
    /// Errors: [`RestError::NoActiveRm`] with each RM's last answer.
    pub(crate) async fn find_active(&self) -> Result<usize, RestError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(250);
        loop {
            let mut seen = Vec::new();
            for (i, base) in self.rms.iter().enumerate() {
                let path = "/ws/v1/cluster/info";
                let state = match self.send_to(base, "GET", path, None, &[200]).await {
                    Ok((_, text)) => match serde_json::from_str::<ClusterInfoWrapper>(&text) {
                        Ok(w) => w.cluster_info.ha_state,
                        Err(e) => format!("unexpected JSON: {e}"),
                    },
                    Err(e) => e.to_string(),
                };
                if state == "ACTIVE" {
                    let before = self.active.swap(i, Ordering::Relaxed);
                    if before != i {
                        tracing::info!(rm = %base, "YARN ResourceManager failover: this one is active");
                    }
                    return Ok(i);
                }
                seen.push(format!("{base}: {state}"));
            }
            if started.elapsed() >= self.failover_timeout {
                return Err(RestError::NoActiveRm { rms: seen, waited_s: started.elapsed().as_secs() });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    async fn send_to(
        &self,
        base: &str,
        method: &'static str,
        path: &str,
        body: Option<serde_json::Value>,
        ok: &[u16],
    ) -> Result<(u16, String), RestError> {
        let url = format!("{base}{path}");
        let mut req = match method {
            "GET" => self.http.get(&url),
            "POST" => self.http.post(&url),
            _ => self.http.put(&url),
        }
        .header("Accept", "application/json");
        req = match &self.kerberos {
            None => req.query(&[("user.name", self.user.as_str())]),
            Some(k) => req.header("Authorization", self.negotiate(k, &url).await?),
        };
        if let Some(b) = body {
            req = req.json(&b);
        }
        tracing::debug!(method, url = %url, "YARN REST request");
        let resp = req.send().await.map_err(|source| RestError::Unreachable { url: url.clone(), source })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|source| RestError::Unreachable { url: url.clone(), source })?;
        if matches!(status, 401 | 403) && !ok.contains(&status) {
            let hint = match &self.kerberos {
                None => ": the cluster may be Kerberized; its Hadoop configuration should say hadoop.security.authentication=kerberos".to_string(),
                Some(k) => format!(": Kerberos login {}: {}", k.describe(), remote_exception_message(&text)),
            };
            return Err(RestError::Unauthorized { method, url, status, hint });
        }
        if !ok.contains(&status) {
            return Err(RestError::Status { method, url, status, message: remote_exception_message(&text) });
        }
        Ok((status, text))
    }

    /// `Negotiate <token>` for the RM's host (the SPNEGO service is `HTTP@<host of the URL>`).
    async fn negotiate(&self, k: &KerberosCredentials, url: &str) -> Result<String, RestError> {
        negotiate(k, url).await
    }

    pub(crate) fn parse<T: serde::de::DeserializeOwned>(&self, path: &str, text: &str) -> Result<T, RestError> {
        serde_json::from_str(text).map_err(|e| RestError::Json { url: self.url(path), reason: e.to_string() })
    }

    /// `GET /ws/v1/cluster/info` (with HA: of the active RM; a standby answers this path itself).
    pub async fn cluster_info(&self) -> Result<ClusterInfo, RestError> {
        let path = "/ws/v1/cluster/info";
        let (_, text) = self.send("GET", path, None, &[200]).await?;
        let info = self.parse::<ClusterInfoWrapper>(path, &text)?.cluster_info;
        if self.rms.len() > 1 && info.ha_state != "ACTIVE" {
            let i = self.find_active().await?;
            let (_, text) = self.send_to(&self.rms[i], "GET", path, None, &[200]).await?;
            return Ok(self.parse::<ClusterInfoWrapper>(path, &text)?.cluster_info);
        }
        Ok(info)
    }

    /// `POST /ws/v1/cluster/apps/new-application`: reserves an application id.
    pub async fn new_application(&self) -> Result<NewApplication, RestError> {
        let path = "/ws/v1/cluster/apps/new-application";
        let (_, text) = self.send("POST", path, None, &[200]).await?;
        self.parse(path, &text)
    }

    /// `POST /ws/v1/cluster/apps` with the submission context; the RM answers 202 Accepted.
    pub async fn submit(&self, app: &ApplicationSubmission) -> Result<(), RestError> {
        let path = "/ws/v1/cluster/apps";
        let body =
            serde_json::to_value(app).map_err(|e| RestError::Json { url: self.url(path), reason: e.to_string() })?;
        self.send("POST", path, Some(body), &[202]).await?;
        tracing::info!(app = %app.application_id, user = %self.user, "application submitted to YARN");
        Ok(())
    }

    /// `POST /ws/v1/cluster/delegation-token` with `{"renewer": renewer}`
    /// (`RMWebServices#postDelegationToken`; needs SPNEGO): an
    /// `RM_DELEGATION_TOKEN` whose service is empty (the RM leaves it to the
    /// caller: set it to the RM's `ip:port` before shipping it, or the RM
    /// refuses the submission: "Does not contain a valid host:port authority").
    /// `renewer` is a principal or short name the RM maps to its own user
    /// (`yarn`); a submission whose tokens the RM cannot renew fails.
    ///
    /// Errors: unreachable, refused (403 without Kerberos), or an answer
    /// without a decodable token.
    pub async fn delegation_token(&self, renewer: &str) -> Result<Token, RestError> {
        let path = "/ws/v1/cluster/delegation-token";
        let (_, text) = self.send("POST", path, Some(serde_json::json!({ "renewer": renewer })), &[200]).await?;
        let answer: DelegationTokenAnswer = self.parse(path, &text)?;
        Token::decode_from_url_string(&answer.token)
            .map_err(|e| RestError::Json { url: self.url(path), reason: format!("bad delegation token: {e}") })
    }

    /// `GET /ws/v1/cluster/apps/{id}`.
    pub async fn app_report(&self, app_id: &str) -> Result<AppReport, RestError> {
        let path = format!("/ws/v1/cluster/apps/{app_id}");
        let (_, text) = self.send("GET", &path, None, &[200]).await?;
        Ok(self.parse::<AppWrapper>(&path, &text)?.app)
    }

    /// The ResourceManager's own value of configuration key `key`, from its
    /// `/conf?name=<key>` servlet (Hadoop's `ConfServlet`: the daemon's
    /// effective configuration as XML); `None` if it does not list the key.
    ///
    /// Errors: unreachable, refused (e.g. a secured cluster), or an answer
    /// that is not a Hadoop configuration XML.
    pub async fn daemon_conf(&self, key: &str) -> Result<Option<String>, RestError> {
        let path = format!("/conf?name={key}");
        let (_, text) = self.send("GET", &path, None, &[200]).await?;
        let mut conf = HadoopConfig::new();
        conf.add_xml(&text, &self.url(&path))
            .map_err(|e| RestError::Json { url: self.url(&path), reason: e.to_string() })?;
        Ok(conf.get(key))
    }

    /// `GET /ws/v1/cluster/apps/{id}/state`: the application's state string.
    pub async fn app_state(&self, app_id: &str) -> Result<String, RestError> {
        let path = format!("/ws/v1/cluster/apps/{app_id}/state");
        let (_, text) = self.send("GET", &path, None, &[200]).await?;
        Ok(self.parse::<AppState>(&path, &text)?.state)
    }

    /// `PUT /ws/v1/cluster/apps/{id}/state` with `{"state":"KILLED"}`. The RM
    /// answers 202 while killing and 200 when the app is already final.
    pub async fn kill(&self, app_id: &str) -> Result<(), RestError> {
        let path = format!("/ws/v1/cluster/apps/{app_id}/state");
        self.send("PUT", &path, Some(serde_json::json!({"state": "KILLED"})), &[200, 202]).await?;
        Ok(())
    }

    /// `GET /ws/v1/cluster/apps?applicationTypes=<types>&states=<states>&user=<user>`:
    /// the applications matching every filter given (`None`: no filter).
    /// Filter values are comma-separated lists, as the RM takes them.
    pub async fn apps(
        &self,
        types: Option<&str>,
        states: Option<&str>,
        user: Option<&str>,
    ) -> Result<Vec<AppReport>, RestError> {
        let mut query = Vec::new();
        for (k, v) in [("applicationTypes", types), ("states", states), ("user", user)] {
            if let Some(v) = v {
                query.push(format!("{k}={v}"));
            }
        }
        let path = if query.is_empty() {
            "/ws/v1/cluster/apps".to_string()
        } else {
            format!("/ws/v1/cluster/apps?{}", query.join("&"))
        };
        let (_, text) = self.send("GET", &path, None, &[200]).await?;
        Ok(self.parse::<AppsWrapper>(&path, &text)?.apps.map(|a| a.app).unwrap_or_default())
    }

    /// The most a queue can ever give (all its applications together): from
    /// `GET /ws/v1/cluster/scheduler`, the queue named `queue` (its `queuePath`
    /// or `queueName`, as an application report names it) and its
    /// `maxEffectiveCapacity` (Capacity Scheduler) or `maxResources` (Fair
    /// Scheduler); `None` when the scheduler reports neither (the FIFO
    /// scheduler) or does not list the queue.
    pub async fn queue_max_resources(&self, queue: &str) -> Result<Option<ResourceInfo>, RestError> {
        let path = "/ws/v1/cluster/scheduler";
        let (_, text) = self.send("GET", path, None, &[200]).await?;
        let v: serde_json::Value = self.parse(path, &text)?;
        Ok(find_queue_max(&v["scheduler"]["schedulerInfo"], queue))
    }

    /// `GET /ws/v1/cluster/nodes`.
    pub async fn nodes(&self) -> Result<Vec<NodeInfo>, RestError> {
        let path = "/ws/v1/cluster/nodes";
        let (_, text) = self.send("GET", path, None, &[200]).await?;
        Ok(self.parse::<NodesWrapper>(path, &text)?.nodes.map(|n| n.node).unwrap_or_default())
    }
}

/// The queue `queue` (by `queuePath` or `queueName`) in a scheduler info
/// tree (children under `queues.queue` in the Capacity Scheduler,
/// `childQueues.queue` in the Fair Scheduler), with its maximum resources.
fn find_queue_max(info: &serde_json::Value, queue: &str) -> Option<ResourceInfo> {
    let named = info["queuePath"].as_str() == Some(queue) || info["queueName"].as_str() == Some(queue);
    if named {
        for key in ["maxEffectiveCapacity", "maxResources"] {
            if let Ok(r) = serde_json::from_value::<ResourceInfo>(info[key].clone()) {
                if r.memory > 0 {
                    return Some(r);
                }
            }
        }
        return None;
    }
    ["queues", "childQueues"]
        .iter()
        .filter_map(|k| info[*k]["queue"].as_array())
        .flatten()
        .find_map(|q| find_queue_max(q, queue))
}

/// Extracts `RemoteException.message` (with the exception name) from an RM
/// error body, or returns the body's first 300 characters.
pub fn remote_exception_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct Wrapper {
        #[serde(rename = "RemoteException")]
        remote: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        #[serde(default)]
        exception: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_str::<Wrapper>(body) {
        Ok(w) => format!("{}: {}", w.remote.exception, w.remote.message),
        Err(_) if body.trim_start().starts_with('<') => {
            // Another HTTP server at the RM's address: say so, not its page.
            let title = body
                .split_once("<title>")
                .and_then(|(_, rest)| rest.split_once("</title>"))
                .map(|(t, _)| t.trim().chars().take(80).collect::<String>())
                .unwrap_or_default();
            format!("an HTML page ('{title}'), not YARN's REST API: is this address the ResourceManager's web address?")
        }
        Err(_) => body.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(200).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yarn::records::{LocalResource, LocalResourceType, LocalResourceVisibility};
    use serde_json::json;

    #[test]
    fn queue_max_from_capacity_and_fair_scheduler_trees() {
        let capacity = json!({"queueName": "root", "queues": {"queue": [
            {"queueName": "default", "queuePath": "root.default",
             "maxEffectiveCapacity": {"memory": 16384, "vCores": 8, "resourceInformations": {}}}]}});
        let want = Some(ResourceInfo { memory: 16384, vcores: 8 });
        assert_eq!(find_queue_max(&capacity, "root.default"), want);
        assert_eq!(find_queue_max(&capacity, "default"), want);
        assert_eq!(find_queue_max(&capacity, "root.other"), None);
        let fair = json!({"rootQueue": 1, "queueName": "root", "childQueues": {"queue": [
            {"queueName": "root.users", "maxResources": {"memory": 4096, "vCores": 4}}]}});
        assert_eq!(find_queue_max(&fair, "root.users"), Some(ResourceInfo { memory: 4096, vcores: 4 }));
    }

    #[test]
    fn submission_json_shape() {
        let res = LocalResource {
            uri: "hdfs://nn:9000/user/a/.rfy/app_1/rfy.tar.gz".into(),
            size: 1234,
            timestamp: 1_700_000_000_123,
            kind: LocalResourceType::Archive,
            visibility: LocalResourceVisibility::Application,
        };
        let s = ApplicationSubmission::new(
            "application_1_0001",
            "wordcount",
            "rfy",
            Some("default"),
            2,
            true,
            ResourceInfo { memory: 1024, vcores: 1 },
            &[("rfy".into(), res)],
            &[("RFY_ROLE".into(), "jobmanager".into())],
            &["./rfy/bin/am 1><LOG_DIR>/am.out 2><LOG_DIR>/am.err".into()],
        );
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(
            v,
            json!({
                "application-id": "application_1_0001",
                "application-name": "wordcount",
                "application-type": "rfy",
                "queue": "default",
                "max-app-attempts": 2,
                "keep-containers-across-application-attempts": true,
                "resource": {"memory": 1024, "vCores": 1},
                "am-container-spec": {
                    "local-resources": {"entry": [{"key": "rfy", "value": {
                        "resource": "hdfs://nn:9000/user/a/.rfy/app_1/rfy.tar.gz",
                        "type": "ARCHIVE", "visibility": "APPLICATION",
                        "size": 1234, "timestamp": 1_700_000_000_123_i64}}]},
                    "environment": {"entry": [{"key": "RFY_ROLE", "value": "jobmanager"}]},
                    "commands": {"command": "./rfy/bin/am 1><LOG_DIR>/am.out 2><LOG_DIR>/am.err"}
                }
            })
        );
    }

    #[test]
    fn parses_rm_answers() {
        let n: NewApplication = serde_json::from_str(
            r#"{"application-id":"application_1404198295326_0003","maximum-resource-capability":{"memory":8192,"vCores":32,"resourceInformations":{}}}"#,
        )
        .unwrap();
        assert_eq!(n.maximum_resource_capability.vcores, 32);
        let a: AppWrapper = serde_json::from_str(
            r#"{"app":{"id":"application_1_0001","user":"alice","name":"wc","queue":"root.default","state":"FINISHED","finalStatus":"SUCCEEDED","progress":100.0,"trackingUI":"History","trackingUrl":"http://rm:8088/proxy/application_1_0001/","diagnostics":"","clusterId":1,"applicationType":"rfy","startedTime":1,"finishedTime":2,"amContainerLogs":"http://nm:8042/node/containerlogs/c/alice","allocatedMB":-1,"allocatedVCores":-1,"runningContainers":-1}}"#,
        )
        .unwrap();
        assert!(a.app.is_final());
        assert_eq!(a.app.final_status, "SUCCEEDED");
        assert_eq!(a.app.tracking_ui.as_deref(), Some("History"));
        let n: NodesWrapper = serde_json::from_str(r#"{"nodes":null}"#).unwrap();
        assert!(n.nodes.is_none());
        let n: NodesWrapper = serde_json::from_str(
            r#"{"nodes":{"node":[{"rack":"/default-rack","state":"RUNNING","id":"h:45454","nodeHostName":"h","nodeHTTPAddress":"h:8042","healthReport":"","numContainers":0,"usedMemoryMB":0,"availMemoryMB":8192,"usedVirtualCores":0,"availableVirtualCores":8}]}}"#,
        )
        .unwrap();
        assert_eq!(n.nodes.unwrap().node[0].avail_memory_mb, 8192);
        let c: ClusterInfoWrapper = serde_json::from_str(
            r#"{"clusterInfo":{"id":1,"startedOn":1,"state":"STARTED","haState":"ACTIVE","resourceManagerVersion":"3.4.1","hadoopVersion":"3.4.1"}}"#,
        )
        .unwrap();
        assert_eq!(c.cluster_info.ha_state, "ACTIVE");
        assert_eq!(
            remote_exception_message(
                r#"{"RemoteException":{"exception":"BadRequestException","message":"bad id","javaClassName":"x"}}"#
            ),
            "BadRequestException: bad id"
        );
    }

    /// A fake RM on loopback answering by path: `role` "standby" answers
    /// cluster info as a standby and everything else with a 307 to `redirect`;
    /// "active" answers as the active RM; "evil" counts requests. Returns the
    /// base URL and the request counter.
    async fn fake_rm(role: &'static str, redirect: String) -> (String, Arc<AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = l.accept().await {
                h.fetch_add(1, Ordering::Relaxed);
                let mut buf = vec![0u8; 8192];
                let mut n = 0;
                while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(k) => n += k,
                    }
                }
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let info = |state: &str| {
                    format!(
                        r#"{{"clusterInfo":{{"id":1,"startedOn":1,"state":"STARTED","haState":"{state}","resourceManagerVersion":"3.4.3","hadoopVersion":"3.4.3"}}}}"#
                    )
                };
                let (status, extra, body) = match (role, path.starts_with("/ws/v1/cluster/info")) {
                    ("standby", true) => ("200 OK", String::new(), info("STANDBY")),
                    ("standby", false) => (
                        "307 Temporary Redirect",
                        format!("Location: {redirect}{path}\r\n"),
                        "This is standby RM.".into(),
                    ),
                    ("active", true) => ("200 OK", String::new(), info("ACTIVE")),
                    _ => ("200 OK", String::new(), r#"{"state":"RUNNING"}"#.to_string()),
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            }
        });
        (base, hits)
    }

    #[tokio::test]
    async fn ha_client_finds_the_active_rm_and_never_follows_a_redirect() {
        let (evil, evil_hits) = fake_rm("evil", String::new()).await;
        let (standby, _) = fake_rm("standby", evil.clone()).await;
        let (active, active_hits) = fake_rm("active", String::new()).await;
        let down = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", l.local_addr().unwrap())
        };
        // The standby first: its 307 (to a host the client did not choose) is not followed.
        let c = RmRestClient::with_rms(&[standby.clone(), active.clone()], "alice", None).unwrap();
        assert_eq!(c.base_url(), standby);
        assert_eq!(c.app_state("application_1_0001").await.unwrap(), "RUNNING");
        assert_eq!(c.base_url(), active, "the active RM is remembered");
        assert_eq!(evil_hits.load(Ordering::Relaxed), 0, "the redirect target got no request");
        // Clones share it; the next call goes straight to the active RM.
        let before = active_hits.load(Ordering::Relaxed);
        assert_eq!(c.clone().app_state("application_1_0001").await.unwrap(), "RUNNING");
        assert_eq!(active_hits.load(Ordering::Relaxed), before + 1);
        // Cluster info is the active RM's, even when asked of the standby.
        let c = RmRestClient::with_rms(&[standby.clone(), active.clone()], "alice", None).unwrap();
        assert_eq!(c.cluster_info().await.unwrap().ha_state, "ACTIVE");
        // An RM that is down is skipped.
        let c = RmRestClient::with_rms(&[down.clone(), active.clone()], "alice", None).unwrap();
        assert_eq!(c.app_state("application_1_0001").await.unwrap(), "RUNNING");
        assert_eq!(c.base_url(), active);
        // No active RM: a typed error naming each RM and its state, after the timeout.
        let c = RmRestClient::with_rms(&[down.clone(), standby.clone()], "alice", None)
            .unwrap()
            .with_failover_timeout(Duration::from_millis(300));
        let e = c.app_state("application_1_0001").await.unwrap_err();
        assert!(matches!(e, RestError::NoActiveRm { .. }), "{e}");
        let msg = e.to_string();
        assert!(msg.contains(&format!("{standby}: STANDBY")) && msg.contains(&down), "{msg}");
        assert_eq!(evil_hits.load(Ordering::Relaxed), 0);
        // Without HA a standby's 307 is an error naming the status, not followed either.
        let c = RmRestClient::new(&standby, "alice").unwrap();
        let e = c.app_state("application_1_0001").await.unwrap_err().to_string();
        assert!(e.contains("307"), "{e}");
        assert_eq!(evil_hits.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn unreachable_rm_names_the_address() {
        // A port that was just free: connection refused at once.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let c = RmRestClient::new(&format!("http://127.0.0.1:{port}"), "alice").unwrap();
        let t = std::time::Instant::now();
        let e = c.cluster_info().await.unwrap_err().to_string();
        assert!(t.elapsed() < Duration::from_secs(10));
        assert!(e.contains(&format!("127.0.0.1:{port}")), "{e}");
    }
}
