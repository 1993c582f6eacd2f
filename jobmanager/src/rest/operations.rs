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
use axum::Json;
use rfy_rest_api::{
    AsynchronousOperationInfo, AsynchronousOperationResult, SavepointDisposalRequest, SavepointInfo,
    SavepointTriggerRequestBody, TriggerResponse,
};
use rfy_runtime::checkpoint::SavepointFormat;

use super::error::{accepted, Accepted, RestError, RestResult};
use super::throwable::failure_cause;
use super::{find_job, json_body, RestState, Shared};
use crate::checkpoint::SavepointRequest;
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
            let n = self.rest.operations.unfetched();
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

/// Starts a savepoint (and a stop after it when `stop_always`); answers Flink's `{"request-id"}`.
async fn start_savepoint(c: &RestState, job_id: &str, body: &Bytes, stop_always: bool) -> Accepted<TriggerResponse> {
    let mut h = find_job(&c.dispatcher, job_id)?;
    let body: SavepointTriggerRequestBody = json_body(body, "savepoint")?;
    let trigger_id = super::check_trigger_id(body.trigger_id)?;
    let stop = stop_always || body.cancel_job == Some(true);
    let drain = body.drain == Some(true);
    if drain && !stop {
        return Err(RestError::bad_request("drain is for stopping a job (POST /jobs/:jobid/stop)"));
    }
    let format = match body.format_type.as_deref() {
        None => SavepointFormat::Canonical,
        Some(f) => SavepointFormat::parse(f).ok_or_else(|| {
            RestError::bad_request(format!("savepoint format '{f}' is not supported: CANONICAL or NATIVE"))
        })?,
    };
    let target = body
        .target_directory
        .or_else(|| c.dispatcher.conf.get_optional(&rfy_conf::options::STATE_SAVEPOINTS_DIR))
        .ok_or_else(|| RestError::bad_request("no target directory: give one or set state.savepoints.dir"))?;
    let target = super::request_storage_uri(&target, "target-directory")?;
    let trigger_id = trigger_id.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let answer = |id: &str| accepted(TriggerResponse { request_id: id.to_string() });
    let current = h.current();
    if current.savepoints.contains_key(&trigger_id) {
        // A retry with the same client-chosen trigger id: the operation is already known.
        return Ok(answer(&trigger_id));
    }
    if current.state.is_terminal() {
        return Err(RestError::terminal(job_id));
    }
    let req = SavepointRequest { trigger_id: trigger_id.clone(), target, stop, drain, format };
    if h.tx.send(JobMasterMsg::TriggerSavepoint(req)).is_err() {
        return Err(RestError::terminal(job_id));
    }
    let key = format!("savepoint/{trigger_id}");
    c.operations.started(&key);
    // Answer once the JobMaster recorded the operation, so that polling it finds it.
    let recorded =
        tokio::time::timeout(Duration::from_secs(10), h.snapshot.wait_for(|s| s.savepoints.contains_key(&trigger_id)))
            .await;
    match recorded {
        Ok(Ok(_)) => Ok(answer(&trigger_id)),
        Ok(Err(_)) => {
            c.operations.fetched(&key);
            Err(RestError::terminal(job_id))
        }
        Err(_) => {
            c.operations.fetched(&key);
            Err(RestError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("job {job_id} did not take the savepoint request within 10 s"),
            ))
        }
    }
}

pub(super) async fn trigger_savepoint(
    State(c): Shared,
    Path(job_id): Path<String>,
    body: Bytes,
) -> Accepted<TriggerResponse> {
    start_savepoint(&c, &job_id, &body, false).await
}

pub(super) async fn stop_job(State(c): Shared, Path(job_id): Path<String>, body: Bytes) -> Accepted<TriggerResponse> {
    start_savepoint(&c, &job_id, &body, true).await
}

/// `GET /jobs/:id/savepoints/:triggerid`: `AsynchronousOperationResult<SavepointInfo>`.
pub(super) async fn savepoint_status(
    State(c): Shared,
    Path((job_id, trigger_id)): Path<(String, String)>,
) -> RestResult<AsynchronousOperationResult<SavepointInfo>> {
    let op = find_job(&c.dispatcher, &job_id)?.current().savepoints.get(&trigger_id).cloned();
    let info = match op {
        None => return Err(RestError::not_found(format!("no savepoint operation {trigger_id} for job {job_id}"))),
        Some(SavepointOp::InProgress) => return Ok(Json(AsynchronousOperationResult::in_progress())),
        Some(SavepointOp::Completed(location)) => SavepointInfo { location: Some(location), failure_cause: None },
        Some(SavepointOp::Failed(why)) => SavepointInfo { location: None, failure_cause: Some(failure_cause(&why)) },
    };
    c.operations.fetched(&format!("savepoint/{trigger_id}"));
    Ok(Json(AsynchronousOperationResult::completed(info)))
}

/// `POST /savepoint-disposal`: deletes a savepoint directory (it must hold a
/// readable `_metadata`, so only savepoints and checkpoints are deleted).
pub(super) async fn trigger_disposal(State(c): Shared, body: Bytes) -> Accepted<TriggerResponse> {
    let body: SavepointDisposalRequest = json_body(&body, "savepoint disposal")?;
    let path = body
        .savepoint_path
        .filter(|p| !p.is_empty())
        .ok_or_else(|| RestError::bad_request("savepoint-path is missing"))?;
    let path = super::request_storage_uri(&path, "savepoint-path")?;
    let trigger_id = uuid::Uuid::new_v4().simple().to_string();
    lock(&c.operations.disposals).insert(trigger_id.clone(), None);
    c.operations.started(&format!("disposal/{trigger_id}"));
    let (state, id) = (c.clone(), trigger_id.clone());
    tokio::task::spawn_blocking(move || {
        let result = dispose(&path);
        if let Err(e) = &result {
            tracing::warn!("savepoint disposal of {path} failed: {e}");
        }
        lock(&state.operations.disposals).insert(id, Some(result));
    });
    Ok(accepted(TriggerResponse { request_id: trigger_id }))
}

fn dispose(path: &str) -> Result<(), String> {
    use rfy_runtime::checkpoint::{open_storage, CheckpointMetadata};
    let storage = open_storage(path).map_err(|e| e.to_string())?;
    CheckpointMetadata::read(&*storage, path).map_err(|e| format!("{path} is not a savepoint: {e}"))?;
    storage.remove_dir(path).map_err(|e| e.to_string())
}

/// `GET /savepoint-disposal/:triggerid`: `AsynchronousOperationResult<AsynchronousOperationInfo>`.
pub(super) async fn disposal_status(
    State(c): Shared,
    Path(trigger_id): Path<String>,
) -> RestResult<AsynchronousOperationResult<AsynchronousOperationInfo>> {
    let result = lock(&c.operations.disposals).get(&trigger_id).cloned();
    let info = match result {
        None => return Err(RestError::not_found(format!("no savepoint disposal {trigger_id}"))),
        Some(None) => return Ok(Json(AsynchronousOperationResult::in_progress())),
        Some(Some(Ok(()))) => AsynchronousOperationInfo { failure_cause: None },
        Some(Some(Err(why))) => AsynchronousOperationInfo { failure_cause: Some(failure_cause(&why)) },
    };
    c.operations.fetched(&format!("disposal/{trigger_id}"));
    Ok(Json(AsynchronousOperationResult::completed(info)))
}
