//! Flink's asynchronous operations: savepoint (`POST /jobs/:id/savepoints`),
//! stop-with-savepoint (`POST /jobs/:id/stop`), savepoint disposal
//! (`POST /savepoint-disposal`); each answers a `TriggerResponse`
//! (`{"request-id"}`, 202) and its status is polled until `COMPLETED`
//! (`AsynchronousOperationResult`).
//!
//! [`Operations`] remembers which results a client has not fetched yet, so an
//! embedding process (the local cluster, the ApplicationMaster) can keep the
//! REST server up until they are (Flink's `CompletedOperationCache` does the
//! same on close): a stop-with-savepoint ends the job, and the client's poll
//! for the savepoint's path must still be answered.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::throwable::failure_cause;
use super::{error, find_job, json_body, Shared};
use crate::checkpoint::SavepointRequest;
use crate::dispatcher::Dispatcher;
use crate::job_master::JobMasterMsg;
use crate::status::SavepointOp;
use crate::JobManagerHandle;

/// Operation results not yet fetched by a client, by `kind/trigger id`.
#[derive(Default)]
pub(crate) struct Operations {
    /// `false` while the result is not fetched; `true` once a client has seen a final result.
    fetched: Mutex<BTreeMap<String, bool>>,
    /// Savepoint disposals by trigger id: `None` while running, then the outcome.
    disposals: Mutex<BTreeMap<String, Option<Result<(), String>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Operations {
    /// An operation `key` was triggered.
    pub(crate) fn started(&self, key: &str) {
        lock(&self.fetched).entry(key.to_string()).or_insert(false);
    }

    /// A client was answered the final result of `key`.
    pub(crate) fn fetched(&self, key: &str) {
        lock(&self.fetched).insert(key.to_string(), true);
    }

    /// Operations whose final result no client has fetched.
    fn unfetched(&self) -> usize {
        lock(&self.fetched).values().filter(|f| !**f).count()
    }
}

impl JobManagerHandle {
    /// Waits until every REST operation result (savepoint, stop, checkpoint,
    /// disposal) has been fetched by a client once, or `timeout` passed, so a
    /// client polling for a stop-with-savepoint's path gets it before the
    /// embedding process shuts this JobManager down. Returns the number still unfetched.
    pub async fn wait_for_operation_results(&self, timeout: Duration) -> usize {
        let started = Instant::now();
        loop {
            let n = self.dispatcher.rest_operations.unfetched();
            if n == 0 || started.elapsed() >= timeout {
                if n > 0 {
                    tracing::warn!("{n} REST operation results were not fetched within {:.0} s", timeout.as_secs_f64());
                }
                return n;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Flink's `SavepointTriggerRequestBody` and `StopWithSavepointRequestBody`.
#[derive(Deserialize, Default)]
struct SavepointBody {
    #[serde(rename = "target-directory", alias = "targetDirectory")]
    target_directory: Option<String>,
    #[serde(rename = "cancel-job", default)]
    cancel_job: Option<bool>,
    #[serde(default)]
    drain: Option<bool>,
    /// `CANONICAL` or `NATIVE`: rfy has one savepoint format.
    #[serde(rename = "formatType")]
    format_type: Option<String>,
    /// A client-chosen trigger id (makes retries idempotent).
    #[serde(rename = "triggerId")]
    trigger_id: Option<String>,
}

/// Starts a savepoint (and a stop after it when `stop`); answers Flink's `{"request-id"}`.
async fn start_savepoint(c: &Dispatcher, job_id: &str, body: &Bytes, stop_always: bool) -> Response {
    let mut h = match find_job(c, job_id) {
        Ok(h) => h,
        Err(r) => return r,
    };
    let body: SavepointBody = match json_body(body, "savepoint") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let trigger_id = match super::check_trigger_id(body.trigger_id) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if body.drain == Some(true) {
        return error(StatusCode::BAD_REQUEST, "drain is not supported: stop keeps event time where it is");
    }
    if let Some(f) = body.format_type.as_deref().filter(|f| !f.eq_ignore_ascii_case("CANONICAL")) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("savepoint format '{f}' is not supported: rfy writes CANONICAL"),
        );
    }
    let target = match body.target_directory.or_else(|| c.conf.get_optional(&rfy_conf::options::STATE_SAVEPOINTS_DIR)) {
        Some(t) => t,
        None => return error(StatusCode::BAD_REQUEST, "no target directory: give one or set state.savepoints.dir"),
    };
    let target = match super::request_storage_uri(&target, "target-directory") {
        Ok(t) => t,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    let terminal = || error(StatusCode::CONFLICT, format!("Job {job_id} already reached a terminal state"));
    let trigger_id = trigger_id.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let current = h.current();
    if current.savepoints.contains_key(&trigger_id) {
        // A retry with the same client-chosen trigger id: the operation is already known.
        return (StatusCode::ACCEPTED, Json(json!({ "request-id": trigger_id }))).into_response();
    }
    if current.state.is_terminal() {
        return terminal();
    }
    let req =
        SavepointRequest { trigger_id: trigger_id.clone(), target, stop: stop_always || body.cancel_job == Some(true) };
    if h.tx.send(JobMasterMsg::TriggerSavepoint(req)).is_err() {
        return terminal();
    }
    c.rest_operations.started(&format!("savepoint/{trigger_id}"));
    // Answer once the JobMaster recorded the operation, so that polling it finds it.
    let recorded =
        tokio::time::timeout(Duration::from_secs(10), h.snapshot.wait_for(|s| s.savepoints.contains_key(&trigger_id)))
            .await;
    match recorded {
        Ok(Ok(_)) => (StatusCode::ACCEPTED, Json(json!({ "request-id": trigger_id }))).into_response(),
        Ok(Err(_)) => {
            c.rest_operations.fetched(&format!("savepoint/{trigger_id}"));
            terminal()
        }
        Err(_) => {
            c.rest_operations.fetched(&format!("savepoint/{trigger_id}"));
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("job {job_id} did not take the savepoint request within 10 s"),
            )
        }
    }
}

pub(super) async fn trigger_savepoint(State(c): Shared, Path(job_id): Path<String>, body: Bytes) -> Response {
    start_savepoint(&c, &job_id, &body, false).await
}

pub(super) async fn stop_job(State(c): Shared, Path(job_id): Path<String>, body: Bytes) -> Response {
    start_savepoint(&c, &job_id, &body, true).await
}

/// `GET /jobs/:id/savepoints/:triggerid`: `AsynchronousOperationResult<SavepointInfo>`.
pub(super) async fn savepoint_status(State(c): Shared, Path((job_id, trigger_id)): Path<(String, String)>) -> Response {
    let op = match find_job(&c, &job_id) {
        Ok(h) => h.current().savepoints.get(&trigger_id).cloned(),
        Err(r) => return r,
    };
    let operation = match op {
        None => return error(StatusCode::NOT_FOUND, format!("no savepoint operation {trigger_id} for job {job_id}")),
        Some(SavepointOp::InProgress) => {
            return Json(json!({ "status": { "id": "IN_PROGRESS" }, "operation": null })).into_response()
        }
        Some(SavepointOp::Completed(location)) => json!({ "location": location, "failure-cause": null }),
        Some(SavepointOp::Failed(why)) => json!({ "location": null, "failure-cause": failure_cause(&why) }),
    };
    c.rest_operations.fetched(&format!("savepoint/{trigger_id}"));
    Json(json!({ "status": { "id": "COMPLETED" }, "operation": operation })).into_response()
}

/// Flink's `SavepointDisposalRequest`.
#[derive(Deserialize, Default)]
struct DisposalBody {
    #[serde(rename = "savepoint-path")]
    savepoint_path: Option<String>,
}

/// `POST /savepoint-disposal`: deletes a savepoint directory (it must hold a
/// readable `_metadata`, so only savepoints and checkpoints are deleted).
pub(super) async fn trigger_disposal(State(c): Shared, body: Bytes) -> Response {
    let body: DisposalBody = match json_body(&body, "savepoint disposal") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(path) = body.savepoint_path.filter(|p| !p.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "savepoint-path is missing");
    };
    let path = match super::request_storage_uri(&path, "savepoint-path") {
        Ok(p) => p,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    let trigger_id = uuid::Uuid::new_v4().simple().to_string();
    lock(&c.rest_operations.disposals).insert(trigger_id.clone(), None);
    c.rest_operations.started(&format!("disposal/{trigger_id}"));
    let (dispatcher, id) = (c.clone(), trigger_id.clone());
    tokio::task::spawn_blocking(move || {
        let result = dispose(&path);
        if let Err(e) = &result {
            tracing::warn!("savepoint disposal of {path} failed: {e}");
        }
        lock(&dispatcher.rest_operations.disposals).insert(id, Some(result));
    });
    (StatusCode::ACCEPTED, Json(json!({ "request-id": trigger_id }))).into_response()
}

fn dispose(path: &str) -> Result<(), String> {
    use rfy_runtime::checkpoint::{open_storage, CheckpointMetadata};
    let storage = open_storage(path).map_err(|e| e.to_string())?;
    CheckpointMetadata::read(&*storage, path).map_err(|e| format!("{path} is not a savepoint: {e}"))?;
    storage.remove_dir(path).map_err(|e| e.to_string())
}

/// `GET /savepoint-disposal/:triggerid`: `AsynchronousOperationResult<AsynchronousOperationInfo>`.
pub(super) async fn disposal_status(State(c): Shared, Path(trigger_id): Path<String>) -> Response {
    let result = lock(&c.rest_operations.disposals).get(&trigger_id).cloned();
    let operation = match result {
        None => return error(StatusCode::NOT_FOUND, format!("no savepoint disposal {trigger_id}")),
        Some(None) => return Json(json!({ "status": { "id": "IN_PROGRESS" }, "operation": null })).into_response(),
        Some(Some(Ok(()))) => json!({ "failure-cause": null }),
        Some(Some(Err(why))) => json!({ "failure-cause": failure_cause(&why) }),
    };
    c.rest_operations.fetched(&format!("disposal/{trigger_id}"));
    Json(json!({ "status": { "id": "COMPLETED" }, "operation": operation })).into_response()
}
