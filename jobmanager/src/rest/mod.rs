//! The Dispatcher's REST API, Flink's REST API version 1: every route is
//! served under `/v1/` (where Flink's own REST client sends its requests) and
//! without a prefix, and every answer has the shape of Flink 2.x's response
//! class for that route (`flink-runtime`'s `org.apache.flink.runtime.rest.messages`;
//! the list is Flink's `rest_v1_dispatcher.yml`). Errors answer Flink's
//! `{"errors": ["..."]}` body on every status code.
//!
//! Modules: [`cluster_info`] (`/config`, `/overview`, `/taskmanagers`,
//! `/jobmanager/config`), [`jobs`] (job and vertex details), [`checkpoints`]
//! (statistics, configuration, manual checkpoints), [`operations`]
//! (savepoints, stop, savepoint disposal: Flink's asynchronous operations),
//! [`vertex_health`] (back pressure, watermarks), [`logs`] (log files of the
//! JobManager and the TaskManagers);
//! `DELETE /cluster` here.
//!
//! Every body is a type of `rfy-rest-api` (Flink's class names and JSON
//! field names); handlers return `Result<Json<T>, RestError>` ([`error`]).
//!
//! Handlers read snapshots: [`crate::JobSnapshot`] of each job (published by
//! its JobMaster, through the Dispatcher) and copies of the TaskManagers
//! (from the ResourceManager); they never hold a JobMaster's state; actions
//! are messages to the JobMaster. What only the REST API needs (its
//! asynchronous operations, the metric store, uptime) is its own
//! [`RestState`], not the Dispatcher's: dependencies run rest → dispatcher,
//! rest → metrics → dispatcher.

mod checkpoints;
mod cluster_info;
pub(crate) mod error;
mod jobs;
mod logs;
mod metrics;
mod operations;
mod throwable;
mod vertex_health;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use rfy_rest_api::{EmptyResponseBody, JobSubmitRequestBody, JobSubmitResponseBody};
use rfy_runtime::JobGraph;
use serde::Deserialize;

use crate::dispatcher::Dispatcher;
use crate::error::SubmitError;
use crate::job_master::{JobMasterHandle, JobMasterMsg};
use crate::metrics::MetricStore;
use error::{accepted, Accepted, RestError};

pub(crate) use operations::Operations;

/// What the REST handlers share: the Dispatcher (jobs, TaskManagers,
/// configuration) and the state only the REST API has.
pub(crate) struct RestState {
    /// The job registry.
    pub(crate) dispatcher: Arc<Dispatcher>,
    /// Task and TaskManager metrics from heartbeats (the gateway records them).
    pub(crate) metrics: Arc<MetricStore>,
    /// Asynchronous operations (savepoint disposals, and the savepoints and
    /// stops whose results a client may still fetch).
    pub(crate) operations: Operations,
    /// When the JobManager started (`uptime-ms`).
    pub(crate) started: Instant,
    /// `heartbeat.timeout`, for `/config`.
    pub(crate) heartbeat_timeout: Duration,
    /// Port of the JobManager's Prometheus reporter, once it runs.
    pub(crate) prometheus_port: OnceLock<u16>,
}

impl RestState {
    /// The REST state over `dispatcher` and the heartbeats' `metrics`.
    pub(crate) fn new(dispatcher: Arc<Dispatcher>, metrics: Arc<MetricStore>) -> Self {
        RestState {
            heartbeat_timeout: dispatcher.conf.get(&rfy_conf::options::HEARTBEAT_TIMEOUT),
            dispatcher,
            metrics,
            operations: Operations::default(),
            started: Instant::now(),
            prometheus_port: OnceLock::new(),
        }
    }
}

type Shared = State<Arc<RestState>>;

/// rfy's version, reported where Flink reports `flink-version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The REST routes of Flink's API version 1, without prefix.
fn api() -> Router<Arc<RestState>> {
    Router::new()
        .route("/config", get(cluster_info::config))
        .route("/overview", get(cluster_info::overview))
        .route("/jobmanager/config", get(cluster_info::jobmanager_config))
        .route("/taskmanagers", get(cluster_info::taskmanagers))
        .route("/taskmanagers/{tmid}", get(cluster_info::taskmanager_details))
        .route("/jobs", get(jobs::jobs_list).post(submit))
        .route("/jobs/overview", get(jobs::jobs_overview))
        .route("/jobs/metrics", get(metrics::jobs_aggregated))
        .route("/jobs/{jobid}/metrics", get(metrics::job))
        .route("/jobs/{jobid}/vertices/{vertexid}/metrics", get(metrics::vertex))
        .route("/jobs/{jobid}/vertices/{vertexid}/backpressure", get(vertex_health::backpressure))
        .route("/jobs/{jobid}/vertices/{vertexid}/watermarks", get(vertex_health::watermarks))
        .route("/taskmanagers/{tmid}/metrics", get(metrics::taskmanager))
        .route("/jobmanager/logs", get(logs::jm_list))
        .route("/jobmanager/log", get(logs::jm_log))
        .route("/jobmanager/stdout", get(logs::jm_stdout))
        .route("/jobmanager/logs/{filename}", get(logs::jm_named))
        .route("/taskmanagers/{tmid}/logs", get(logs::tm_list))
        .route("/taskmanagers/{tmid}/log", get(logs::tm_log))
        .route("/taskmanagers/{tmid}/stdout", get(logs::tm_stdout))
        .route("/taskmanagers/{tmid}/logs/{filename}", get(logs::tm_named))
        .route("/jobs/{jobid}", get(jobs::job_details_route).patch(cancel))
        .route("/jobs/{jobid}/status", get(jobs::job_status))
        .route("/jobs/{jobid}/plan", get(jobs::job_plan))
        .route("/jobs/{jobid}/config", get(jobs::job_config))
        .route("/jobs/{jobid}/exceptions", get(jobs::job_exceptions))
        .route("/jobs/{jobid}/vertices/{vertexid}", get(jobs::vertex_details))
        .route("/jobs/{jobid}/checkpoints", get(checkpoints::statistics).post(checkpoints::trigger))
        .route("/jobs/{jobid}/checkpoints/config", get(checkpoints::config))
        .route("/jobs/{jobid}/checkpoints/{triggerid}", get(checkpoints::trigger_status))
        .route("/jobs/{jobid}/savepoints", post(operations::trigger_savepoint))
        .route("/jobs/{jobid}/savepoints/{triggerid}", get(operations::savepoint_status))
        .route("/jobs/{jobid}/stop", post(operations::stop_job))
        .route("/savepoint-disposal", post(operations::trigger_disposal))
        .route("/savepoint-disposal/{triggerid}", get(operations::disposal_status))
        .route("/cluster", delete(shutdown_cluster))
}

pub(crate) fn router(state: Arc<RestState>) -> Router {
    let limit = state.dispatcher.conf.get(&rfy_conf::options::REST_SERVER_MAX_CONTENT_LENGTH) as usize;
    Router::new()
        .route("/", get(crate::web::index))
        .route("/app.js", get(crate::web::app_js))
        .nest("/v1", api())
        .merge(api())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::map_response_with_state(limit, flink_error_body))
        .with_state(state)
}

/// Longest error text of axum's own rejections (bad path, query or body) read back to rewrap.
const REJECTION_TEXT_LIMIT: usize = 4096;

/// Gives axum's own rejections (a path that is not UTF-8, a query that does
/// not deserialize, a body over `rest.server.max-content-length`: plain-text
/// 4xx answers made before a handler runs) Flink's `{"errors": [...]}` body.
/// Answers that already are JSON pass unchanged.
async fn flink_error_body(State(limit): State<usize>, response: Response) -> Response {
    let status = response.status();
    let is_json =
        response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        let message = format!("request body is larger than rest.server.max-content-length ({limit} bytes)");
        return RestError::new(status, message).into_response();
    }
    let text = match axum::body::to_bytes(response.into_body(), REJECTION_TEXT_LIMIT).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().replace('\n', " "),
        Err(_) => String::new(),
    };
    let text = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_string() } else { text };
    RestError::new(status, text).into_response()
}

async fn not_found() -> RestError {
    RestError::not_found("Not found: no such REST endpoint")
}

async fn method_not_allowed() -> RestError {
    RestError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed on this REST endpoint")
}

/// Checks a job id's syntax (32 hex digits) and finds the job.
fn find_job(d: &Dispatcher, job_id: &str) -> Result<JobMasterHandle, RestError> {
    if !is_hex_id(job_id) {
        return Err(RestError::bad_request(format!("invalid job id '{job_id}': expected 32 hex digits")));
    }
    d.handle(job_id).ok_or_else(|| RestError::not_found(format!("Job {job_id} not found")))
}

/// True for Flink's id syntax (JobID, JobVertexID): 32 hex digits.
fn is_hex_id(id: &str) -> bool {
    id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit())
}

/// Checks a client-chosen trigger id (Flink's `TriggerId`: 32 hex digits).
fn check_trigger_id(id: Option<String>) -> Result<Option<String>, RestError> {
    match id {
        Some(t) if !is_hex_id(&t) => {
            let shown: String = t.chars().take(64).collect();
            Err(RestError::bad_request(format!("invalid triggerId '{shown}': expected 32 hex digits")))
        }
        other => Ok(other),
    }
}

/// Resolves a storage location given in a request (`target-directory`,
/// `savepoint-path`) as [`crate::checkpoint::storage_uri`] does, and also
/// refuses a relative path: it would be resolved against the JobManager's
/// working directory, not the client's.
/// Errors (400): the location does not resolve, or is relative.
fn request_storage_uri(uri: &str, field: &str) -> Result<String, RestError> {
    let resolved = crate::checkpoint::storage_uri(uri, field).map_err(|e| RestError::bad_request(e.to_string()))?;
    if !resolved.starts_with("hdfs://") && !resolved.starts_with('/') {
        return Err(RestError::bad_request(format!(
            "{field} '{uri}' is not absolute: give an absolute path, a file:// or an hdfs:// URI"
        )));
    }
    Ok(resolved)
}

/// Parses an optional JSON request body; an empty body is `T::default()`.
/// Errors (400): the body is not JSON of `T`'s shape; the message has serde's reason.
fn json_body<T: for<'de> Deserialize<'de> + Default>(body: &Bytes, what: &str) -> Result<T, RestError> {
    if body.is_empty() {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| RestError::bad_request(format!("malformed {what} request: {e}")))
}

#[derive(Deserialize)]
struct CancelQuery {
    mode: Option<String>,
}

/// `PATCH /jobs/:jobid?mode=cancel`: Flink's `JobCancellationHeaders`, 202 with an empty body.
async fn cancel(
    State(c): Shared,
    Path(job_id): Path<String>,
    Query(q): Query<CancelQuery>,
) -> Accepted<EmptyResponseBody> {
    let e = find_job(&c.dispatcher, &job_id)?;
    match q.mode.as_deref() {
        None | Some("cancel") => {}
        Some(other) => return Err(RestError::bad_request(format!("unsupported mode '{other}': only 'cancel'"))),
    }
    if e.current().state.is_terminal() || e.tx.send(JobMasterMsg::Cancel).is_err() {
        return Err(RestError::terminal(&job_id));
    }
    Ok(accepted(EmptyResponseBody {}))
}

/// `POST /jobs`: rfy's JobGraph (JSON) and job configuration; answers `{"jobUrl", "jobid"}` (202).
async fn submit(State(c): Shared, body: Bytes) -> Accepted<JobSubmitResponseBody> {
    let req: JobSubmitRequestBody<JobGraph> =
        serde_json::from_slice(&body).map_err(|e| RestError::bad_request(format!("malformed job submission: {e}")))?;
    // A session records the job in its job graph store (file system I/O)
    // before answering: off the async workers.
    let dispatcher = c.dispatcher.clone();
    let id = tokio::task::spawn_blocking(move || dispatcher.submit(req.job_graph, req.config))
        .await
        .map_err(|e| RestError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("job submission: {e}")))?
        .map_err(|e| match e {
            SubmitError::Store(e) => RestError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            e => RestError::bad_request(e.to_string()),
        })?;
    Ok(accepted(JobSubmitResponseBody { job_url: format!("/jobs/{id}"), jobid: id }))
}

/// `DELETE /cluster`: asks the embedding process to shut the JobManager down
/// (Flink's `ShutdownHeaders`; the session AM cancels its jobs, releases its
/// containers and unregisters).
async fn shutdown_cluster(State(c): Shared) -> Accepted<EmptyResponseBody> {
    tracing::info!("cluster shutdown requested through REST");
    c.dispatcher.request_shutdown();
    Ok(accepted(EmptyResponseBody {}))
}
