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
//! Handlers read snapshots: [`crate::JobSnapshot`] of each job (published by
//! its JobMaster, through the Dispatcher) and copies of the TaskManagers
//! (from the ResourceManager); they never hold a JobMaster's state; actions
//! are messages to the JobMaster.

mod checkpoints;
mod cluster_info;
mod jobs;
mod logs;
mod metrics;
mod operations;
mod throwable;
mod vertex_health;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use rfy_runtime::JobGraph;
use serde::Deserialize;
use serde_json::json;

use crate::dispatcher::Dispatcher;
use crate::job_master::{JobMasterHandle, JobMasterMsg};

pub(crate) use operations::Operations;

type Shared = State<Arc<Dispatcher>>;

/// rfy's version, reported where Flink reports `flink-version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The REST routes of Flink's API version 1, without prefix.
fn api() -> Router<Arc<Dispatcher>> {
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
        .route("/jobs/{jobid}", get(jobs::job_details).patch(cancel))
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

pub(crate) fn router(dispatcher: Arc<Dispatcher>) -> Router {
    let limit = dispatcher.conf.get(&rfy_conf::options::REST_SERVER_MAX_CONTENT_LENGTH) as usize;
    Router::new()
        .route("/", get(crate::web::index))
        .route("/app.js", get(crate::web::app_js))
        .nest("/v1", api())
        .merge(api())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::map_response_with_state(limit, flink_error_body))
        .with_state(dispatcher)
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
        return error(status, format!("request body is larger than rest.server.max-content-length ({limit} bytes)"));
    }
    let text = match axum::body::to_bytes(response.into_body(), REJECTION_TEXT_LIMIT).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().replace('\n', " "),
        Err(_) => String::new(),
    };
    let text = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_string() } else { text };
    error(status, text)
}

/// Flink's error body, `{"errors": [message]}`, with `status`.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "errors": [message.into()] }))).into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not found: no such REST endpoint")
}

async fn method_not_allowed() -> Response {
    error(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed on this REST endpoint")
}

/// Checks a job id's syntax (32 hex digits) and finds the job.
// The error is the handler's answer, returned as is: boxing it would only move it.
#[allow(clippy::result_large_err)]
fn find_job(d: &Dispatcher, job_id: &str) -> Result<JobMasterHandle, Response> {
    if !is_hex_id(job_id) {
        return Err(error(StatusCode::BAD_REQUEST, format!("invalid job id '{job_id}': expected 32 hex digits")));
    }
    d.handle(job_id).ok_or_else(|| error(StatusCode::NOT_FOUND, format!("Job {job_id} not found")))
}

/// True for Flink's id syntax (JobID, JobVertexID): 32 hex digits.
fn is_hex_id(id: &str) -> bool {
    id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit())
}

/// Checks a client-chosen trigger id (Flink's `TriggerId`: 32 hex digits).
#[allow(clippy::result_large_err)]
fn check_trigger_id(id: Option<String>) -> Result<Option<String>, Response> {
    match id {
        Some(t) if !is_hex_id(&t) => {
            let shown: String = t.chars().take(64).collect();
            Err(error(StatusCode::BAD_REQUEST, format!("invalid triggerId '{shown}': expected 32 hex digits")))
        }
        other => Ok(other),
    }
}

/// Resolves a storage location given in a request (`target-directory`,
/// `savepoint-path`) as [`crate::checkpoint::storage_uri`] does, and also
/// refuses a relative path: it would be resolved against the JobManager's
/// working directory, not the client's.
fn request_storage_uri(uri: &str, field: &str) -> Result<String, String> {
    let resolved = crate::checkpoint::storage_uri(uri, field)?;
    if !resolved.starts_with("hdfs://") && !resolved.starts_with('/') {
        return Err(format!("{field} '{uri}' is not absolute: give an absolute path, a file:// or an hdfs:// URI"));
    }
    Ok(resolved)
}

/// Parses an optional JSON request body; an empty body is `T::default()`.
#[allow(clippy::result_large_err)]
fn json_body<T: for<'de> Deserialize<'de> + Default>(body: &Bytes, what: &str) -> Result<T, Response> {
    if body.is_empty() {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| error(StatusCode::BAD_REQUEST, format!("malformed {what} request: {e}")))
}

#[derive(Deserialize)]
struct CancelQuery {
    mode: Option<String>,
}

/// `PATCH /jobs/:jobid?mode=cancel`: Flink's `JobCancellationHeaders`, 202 with an empty body.
async fn cancel(State(c): Shared, Path(job_id): Path<String>, Query(q): Query<CancelQuery>) -> Response {
    let e = match find_job(&c, &job_id) {
        Ok(e) => e,
        Err(r) => return r,
    };
    match q.mode.as_deref() {
        None | Some("cancel") => {}
        Some(other) => return error(StatusCode::BAD_REQUEST, format!("unsupported mode '{other}': only 'cancel'")),
    }
    if e.current().state.is_terminal() || e.tx.send(JobMasterMsg::Cancel).is_err() {
        return error(StatusCode::CONFLICT, format!("Job {job_id} already reached a terminal state"));
    }
    (StatusCode::ACCEPTED, Json(json!({}))).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitRequest {
    #[serde(rename = "jobGraph")]
    job_graph: JobGraph,
    #[serde(default)]
    config: BTreeMap<String, String>,
}

/// `POST /jobs`: rfy's JobGraph (JSON) and job configuration; answers `{"jobUrl", "jobid"}` (202).
async fn submit(State(c): Shared, body: Bytes) -> Response {
    let req: SubmitRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("malformed job submission: {e}")),
    };
    match c.submit(req.job_graph, req.config) {
        Ok(id) => (StatusCode::ACCEPTED, Json(json!({ "jobUrl": format!("/jobs/{id}"), "jobid": id }))).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

/// `DELETE /cluster`: asks the embedding process to shut the JobManager down
/// (Flink's `ShutdownHeaders`; the session AM cancels its jobs, releases its
/// containers and unregisters).
async fn shutdown_cluster(State(c): Shared) -> Response {
    tracing::info!("cluster shutdown requested through REST");
    c.request_shutdown();
    (StatusCode::ACCEPTED, Json(json!({}))).into_response()
}
