//! [`RestClient`]: the client side of a JobManager's REST API (Flink's
//! version 1 routes), typed with `rfy-rest-api`'s bodies. A body that does
//! not deserialize into its type is a [`RestClientError::Shape`] naming the
//! URL and serde's reason: a renamed or missing field fails loudly, never as
//! an empty value.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rfy_hadoop::kerberos::{KerberosCredentials, KerberosError};
use rfy_rest_api::{
    AsynchronousOperationResult, ClusterOverviewWithVersion, ConfigurationInfoEntry, ErrorResponseBody, JobDetailsInfo,
    JobExceptionsInfoWithHistory, JobSubmitRequestBody, JobSubmitResponseBody, MultipleJobsDetails, SavepointInfo,
    SavepointTriggerRequestBody, StopWithSavepointRequestBody, TaskManagersInfo, TriggerResponse,
};
use rfy_runtime::JobGraph;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Why a REST call failed; each names the URL at fault.
#[derive(Debug, thiserror::Error)]
pub enum RestClientError {
    /// The HTTP client could not be built.
    #[error("building the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// No answer (connection refused, timeout) or the body could not be read.
    #[error("cannot reach the JobManager at {url}: {source}")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// reqwest's reason.
        #[source]
        source: reqwest::Error,
    },
    /// The JobManager answered an error status; `message` is its `{"errors"}` text (or the raw body).
    #[error("{url} answered {status}: {message}")]
    Refused {
        /// The URL asked.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The JobManager's messages, `; `-separated.
        message: String,
    },
    /// The body is not the JSON of the expected type (a missing or renamed field, a wrong type).
    #[error("{url}: the answer does not have the expected shape: {reason}")]
    Shape {
        /// The URL asked.
        url: String,
        /// serde's message (names the field, line and column).
        reason: String,
    },
    /// A savepoint (or stop-with-savepoint) completed with a failure.
    #[error("savepoint of job {job_id} failed: {reason}")]
    SavepointFailed {
        /// The job.
        job_id: String,
        /// The JobManager's failure text.
        reason: String,
    },
    /// No SPNEGO token could be made for the URL's host (a Kerberized RM's web proxy).
    #[error("{url}: {source}")]
    Kerberos {
        /// The URL asked.
        url: String,
        /// The Kerberos failure (names the host and the principal).
        #[source]
        source: KerberosError,
    },
    /// A polled operation did not complete in time.
    #[error("{what} not done within {seconds:.0} s")]
    Timeout {
        /// What was waited for.
        what: String,
        /// The limit, seconds.
        seconds: f64,
    },
}

/// A REST client for one JobManager.
pub struct RestClient {
    base: String,
    http: reqwest::Client,
    /// `Some`: every request carries `Authorization: Negotiate` (SPNEGO) from
    /// these credentials, for a Kerberized RM's web proxy (Hadoop's
    /// `AuthenticationFilter` before `WebAppProxyServlet`, which does not pass
    /// the header on to the JobManager).
    kerberos: Option<KerberosCredentials>,
}

/// How a savepoint is asked for (Flink's `flink savepoint` / `flink stop` options).
#[derive(Debug, Clone, Copy, Default)]
pub struct SavepointOptions<'a> {
    /// Stop the job with it (`POST /jobs/<id>/stop`).
    pub stop: bool,
    /// With `stop`: drain first (every event-time window and timer fires; the job FINISHES).
    pub drain: bool,
    /// `CANONICAL` or `NATIVE`; `None`: the JobManager's default (CANONICAL).
    pub format_type: Option<&'a str>,
}

impl RestClient {
    /// A client for the REST API at `base` (e.g. `http://127.0.0.1:8081`).
    ///
    /// Errors: the HTTP client cannot be built ([`RestClientError::Client`]).
    pub fn new(base: String) -> Result<Self, RestClientError> {
        let http = rfy_hadoop::tls::http_client_builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(RestClientError::Client)?;
        Ok(RestClient { base, http, kerberos: None })
    }

    /// The same client authenticating every request with SPNEGO for the URL's
    /// host (`HTTP@<host>`) from `credentials`: the JobManager through a
    /// Kerberized ResourceManager's web proxy.
    pub fn with_kerberos(mut self, credentials: KerberosCredentials) -> Self {
        self.kerberos = Some(credentials);
        self
    }

    /// `builder` for `url` with the SPNEGO header when the client has Kerberos credentials.
    async fn authenticated(
        &self,
        url: &str,
        builder: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, RestClientError> {
        let Some(k) = &self.kerberos else { return Ok(builder) };
        let host = reqwest::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
        let (k, h) = (k.clone(), host.clone());
        // Blocking GSSAPI (the first call per host asks the KDC for a service ticket).
        let header = tokio::task::spawn_blocking(move || k.negotiate_header(&h)).await.unwrap_or_else(|e| {
            Err(KerberosError::Spnego {
                host,
                who: "this process".into(),
                reason: format!("the SPNEGO task failed: {e}"),
            })
        });
        let header = header.map_err(|source| RestClientError::Kerberos { url: url.to_string(), source })?;
        Ok(builder.header("Authorization", header))
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends `req` for `url` and reads the body as `T` (a 2xx answer) or as Flink's error body.
    async fn call<T: DeserializeOwned>(&self, url: String, req: reqwest::RequestBuilder) -> Result<T, RestClientError> {
        let req = self.authenticated(&url, req).await?;
        let unreachable = |source| RestClientError::Unreachable { url: url.clone(), source };
        let resp = req.send().await.map_err(unreachable)?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(unreachable)?;
        if !status.is_success() {
            let message = match serde_json::from_slice::<ErrorResponseBody>(&body) {
                Ok(e) => e.errors.join("; "),
                Err(_) => String::from_utf8_lossy(&body).trim().to_string(),
            };
            return Err(RestClientError::Refused { url, status: status.as_u16(), message });
        }
        serde_json::from_slice(&body).map_err(|e| RestClientError::Shape { url, reason: e.to_string() })
    }

    /// `GET <path>` read as `T`.
    ///
    /// Errors: unreachable, an error status, or a body that is not `T` ([`RestClientError::Shape`]).
    pub async fn get_as<T: DeserializeOwned>(&self, path: &str) -> Result<T, RestClientError> {
        let url = format!("{}{path}", self.base);
        self.call(url.clone(), self.http.get(&url)).await
    }

    /// `GET <path>` as untyped JSON (for tests and routes without a type here).
    ///
    /// Errors: as [`RestClient::get_as`].
    pub async fn get(&self, path: &str) -> Result<serde_json::Value, RestClientError> {
        self.get_as(path).await
    }

    /// `POST <path>` with the JSON `body`, the answer read as `T`.
    async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, RestClientError> {
        let url = format!("{}{path}", self.base);
        self.call(url.clone(), self.http.post(&url).json(body)).await
    }

    /// `POST /jobs`; returns the job id.
    ///
    /// Errors: as [`RestClient::get_as`]; the Dispatcher refused the job (`Refused`, with its reason).
    pub async fn submit(&self, graph: &JobGraph, config: &BTreeMap<String, String>) -> Result<String, RestClientError> {
        let body = JobSubmitRequestBody { job_graph: graph, config: config.clone() };
        let answer: JobSubmitResponseBody = self.post("/jobs", &body).await?;
        Ok(answer.jobid)
    }

    /// `PATCH /jobs/<id>?mode=cancel`.
    ///
    /// Errors: as [`RestClient::get_as`]; 409 when the job already ended.
    pub async fn cancel(&self, job_id: &str) -> Result<(), RestClientError> {
        let url = format!("{}/jobs/{job_id}?mode=cancel", self.base);
        let _: rfy_rest_api::EmptyResponseBody = self.call(url.clone(), self.http.patch(&url)).await?;
        Ok(())
    }

    /// `GET /overview`: Flink's `ClusterOverviewWithVersion`.
    ///
    /// Errors: as [`RestClient::get_as`].
    pub async fn overview(&self) -> Result<ClusterOverviewWithVersion, RestClientError> {
        self.get_as("/overview").await
    }

    /// `GET /jobs/overview`: Flink's `MultipleJobsDetails`, newest job first.
    ///
    /// Errors: as [`RestClient::get_as`].
    pub async fn jobs_overview(&self) -> Result<MultipleJobsDetails, RestClientError> {
        self.get_as("/jobs/overview").await
    }

    /// `GET /jobs/<id>`: Flink's `JobDetailsInfo`.
    ///
    /// Errors: as [`RestClient::get_as`]; 404 for an unknown job.
    pub async fn job_details(&self, job_id: &str) -> Result<JobDetailsInfo, RestClientError> {
        self.get_as(&format!("/jobs/{job_id}")).await
    }

    /// `GET /jobs/<id>/exceptions`: Flink's `JobExceptionsInfoWithHistory`.
    ///
    /// Errors: as [`RestClient::get_as`].
    pub async fn job_exceptions(&self, job_id: &str) -> Result<JobExceptionsInfoWithHistory, RestClientError> {
        self.get_as(&format!("/jobs/{job_id}/exceptions")).await
    }

    /// `GET /taskmanagers`: Flink's `TaskManagersInfo`.
    ///
    /// Errors: as [`RestClient::get_as`].
    pub async fn taskmanagers(&self) -> Result<TaskManagersInfo, RestClientError> {
        self.get_as("/taskmanagers").await
    }

    /// `GET /jobmanager/config`: the cluster configuration, Flink's list of `{"key", "value"}`.
    ///
    /// Errors: as [`RestClient::get_as`].
    pub async fn jobmanager_config(&self) -> Result<Vec<ConfigurationInfoEntry>, RestClientError> {
        self.get_as("/jobmanager/config").await
    }

    /// `POST /jobs/<id>/savepoints` (or `/stop` when `stop`); returns the trigger id.
    ///
    /// Errors: as [`RestClient::get_as`]; the JobManager refused (no target directory, job ended).
    pub async fn trigger_savepoint(
        &self,
        job_id: &str,
        target: Option<&str>,
        stop: bool,
    ) -> Result<String, RestClientError> {
        self.trigger_savepoint_with(job_id, target, SavepointOptions { stop, ..Default::default() }).await
    }

    /// `POST /jobs/<id>/savepoints`, or `/stop` when `options.stop`; returns the trigger id.
    ///
    /// Errors: as [`RestClient::get_as`]; the JobManager refused (no target
    /// directory, job ended, unknown format, drain without stop).
    pub async fn trigger_savepoint_with(
        &self,
        job_id: &str,
        target: Option<&str>,
        options: SavepointOptions<'_>,
    ) -> Result<String, RestClientError> {
        let SavepointOptions { stop, drain, format_type } = options;
        let target_directory = target.map(str::to_string);
        let format_type = format_type.map(str::to_string);
        let answer: TriggerResponse = if stop {
            let body = StopWithSavepointRequestBody { target_directory, drain, format_type };
            self.post(&format!("/jobs/{job_id}/stop"), &body).await?
        } else {
            let body = SavepointTriggerRequestBody {
                target_directory,
                cancel_job: Some(false),
                drain: drain.then_some(true),
                format_type,
                ..Default::default()
            };
            self.post(&format!("/jobs/{job_id}/savepoints"), &body).await?
        };
        Ok(answer.request_id)
    }

    /// `GET /jobs/<id>/savepoints/<trigger>`: Flink's `AsynchronousOperationResult<SavepointInfo>`.
    ///
    /// Errors: as [`RestClient::get_as`].
    pub async fn savepoint_status(
        &self,
        job_id: &str,
        trigger_id: &str,
    ) -> Result<AsynchronousOperationResult<SavepointInfo>, RestClientError> {
        self.get_as(&format!("/jobs/{job_id}/savepoints/{trigger_id}")).await
    }

    /// Polls the savepoint `trigger_id` of `job_id` until it is done; returns its directory.
    ///
    /// Errors: the savepoint failed (`SavepointFailed`, with the JobManager's
    /// reason), `timeout` passed (`Timeout`), or a poll failed.
    pub async fn wait_savepoint(
        &self,
        job_id: &str,
        trigger_id: &str,
        timeout: Duration,
    ) -> Result<String, RestClientError> {
        let started = Instant::now();
        loop {
            let r = self.savepoint_status(job_id, trigger_id).await?;
            if r.status.is_completed() {
                let info = r.operation.ok_or_else(|| RestClientError::Shape {
                    url: format!("{}/jobs/{job_id}/savepoints/{trigger_id}", self.base),
                    reason: "COMPLETED without an operation".into(),
                })?;
                return match (info.location, info.failure_cause) {
                    (Some(location), _) => Ok(location),
                    (None, cause) => Err(RestClientError::SavepointFailed {
                        job_id: job_id.to_string(),
                        reason: cause.map(|c| c.stack_trace).unwrap_or_else(|| "no location, no cause given".into()),
                    }),
                };
            }
            if started.elapsed() > timeout {
                return Err(RestClientError::Timeout {
                    what: format!("savepoint {trigger_id} of job {job_id}"),
                    seconds: timeout.as_secs_f64(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
