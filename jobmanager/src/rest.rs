//! The Dispatcher's REST API, in Flink's shapes: `GET /overview`,
//! `/jobs/overview`, `/jobs/{jobid}`, `/jobs/{jobid}/exceptions`,
//! `/taskmanagers`, `POST /jobs` (submit), `PATCH /jobs/{jobid}` (cancel),
//! `GET /jobs/{jobid}/checkpoints`, `POST /jobs/{jobid}/savepoints`,
//! `GET /jobs/{jobid}/savepoints/{triggerid}`, `POST /jobs/{jobid}/stop`.
//! `DELETE /cluster` (shut the JobManager down, as Flink's; the session AM
//! then cancels its jobs and ends the application).
//! Errors answer `{"errors": ["..."]}` with a 4xx status, as Flink does.
//!
//! Handlers read snapshots: [`crate::JobSnapshot`] of each job (published by
//! its JobMaster, through the Dispatcher) and copies of the TaskManagers
//! (from the ResourceManager); they never hold a JobMaster's state.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rfy_runtime::JobGraph;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::dispatcher::Dispatcher;
use crate::job_master::{JobMasterHandle, JobMasterMsg};
use crate::status::{execution_state_name, JobSnapshot, JobState, JobStatus};

type Shared = State<Arc<Dispatcher>>;

/// rfy's version, reported where Flink reports `flink-version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub(crate) fn router(dispatcher: Arc<Dispatcher>) -> Router {
    Router::new()
        .route("/", get(crate::web::index))
        .route("/config", get(config))
        .route("/overview", get(overview))
        .route("/jobs", get(jobs_list).post(submit))
        .route("/jobs/overview", get(jobs_overview))
        .route("/jobs/{jobid}", get(job_details).patch(cancel))
        .route("/jobs/{jobid}/exceptions", get(job_exceptions))
        .route("/jobs/{jobid}/checkpoints", get(job_checkpoints))
        .route("/jobs/{jobid}/savepoints", axum::routing::post(trigger_savepoint))
        .route("/jobs/{jobid}/savepoints/{triggerid}", get(savepoint_status))
        .route("/jobs/{jobid}/stop", axum::routing::post(stop_job))
        .route("/taskmanagers", get(taskmanagers))
        .route("/cluster", axum::routing::delete(shutdown_cluster))
        .fallback(not_found)
        .with_state(dispatcher)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "errors": [message.into()] }))).into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not found: no such REST endpoint")
}

/// Checks a job id's syntax (32 hex digits) and finds the job.
// The error is the handler's whole answer (an axum Response), returned at once.
#[allow(clippy::result_large_err)]
fn find_job(d: &Dispatcher, job_id: &str) -> Result<JobMasterHandle, Response> {
    if job_id.len() != 32 || !job_id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(error(StatusCode::BAD_REQUEST, format!("invalid job id '{job_id}': expected 32 hex digits")));
    }
    d.handle(job_id).ok_or_else(|| error(StatusCode::NOT_FOUND, format!("Job {job_id} not found")))
}

async fn config(State(c): Shared) -> Json<Value> {
    Json(json!({
        "refresh-interval": 3000,
        "flink-version": VERSION,
        "rfy-version": VERSION,
        "features": { "web-submit": false, "web-cancel": true },
        "heartbeat-timeout-ms": c.heartbeat_timeout.as_millis() as u64,
    }))
}

pub(crate) fn overview_json(c: &Dispatcher) -> Value {
    let tm_list = c.rm.task_managers();
    let total: u32 = tm_list.iter().map(|t| t.slots).sum();
    let free: u32 = tm_list.iter().map(|t| t.free_slots).sum();
    let tms = tm_list.len();
    let jobs = c.snapshots();
    let count = |pred: &dyn Fn(JobState) -> bool| jobs.iter().filter(|j| pred(j.state)).count();
    json!({
        "taskmanagers": tms,
        "slots-total": total,
        "slots-available": free,
        "jobs-running": count(&|s| !s.is_terminal()),
        "jobs-finished": count(&|s| s == JobState::Finished),
        "jobs-cancelled": count(&|s| s == JobState::Canceled),
        "jobs-failed": count(&|s| s == JobState::Failed),
        "flink-version": VERSION,
        "rfy-version": VERSION,
        "uptime-ms": c.started.elapsed().as_millis() as u64,
    })
}

async fn overview(State(c): Shared) -> Json<Value> {
    Json(overview_json(&c))
}

fn counts_json(st: &JobStatus, vertex: Option<u32>) -> Value {
    let counts = st.task_counts(vertex);
    Value::Object(counts.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), json!(v))).collect())
}

pub(crate) fn job_summary(st: &JobStatus) -> Value {
    json!({
        "jid": st.job_id,
        "name": st.name,
        "state": st.state.name(),
        "start-time": st.start_ms,
        "end-time": if st.end_ms > 0 { st.end_ms as i64 } else { -1 },
        "duration": st.duration_ms(),
        "last-modification": st.timestamps.last().map(|t| t.1).unwrap_or(st.start_ms),
        "tasks": counts_json(st, None),
    })
}

/// Snapshots of every job, newest first.
pub(crate) fn sorted_jobs(c: &Dispatcher) -> Vec<JobSnapshot> {
    c.snapshots()
}

async fn jobs_overview(State(c): Shared) -> Json<Value> {
    Json(json!({ "jobs": sorted_jobs(&c).iter().map(|j| job_summary(j)).collect::<Vec<_>>() }))
}

async fn jobs_list(State(c): Shared) -> Json<Value> {
    let jobs: Vec<Value> =
        sorted_jobs(&c).iter().map(|j| json!({ "id": j.job_id, "status": j.state.name() })).collect();
    Json(json!({ "jobs": jobs }))
}

fn vertex_state(st: &JobStatus, v: u32) -> &'static str {
    let states: Vec<&'static str> =
        st.tasks.iter().filter(|t| t.vertex == v).map(|t| execution_state_name(t.state)).collect();
    for s in ["FAILED", "CANCELING", "CANCELED", "RUNNING", "DEPLOYING", "CREATED"] {
        if states.contains(&s) {
            return s;
        }
    }
    if states.iter().all(|s| *s == "FINISHED") {
        "FINISHED"
    } else {
        "CREATED"
    }
}

pub(crate) fn job_details_json(st: &JobStatus) -> Value {
    let vertices: Vec<Value> = st
        .graph
        .vertices
        .iter()
        .map(|v| {
            let tasks: Vec<_> = st.tasks.iter().filter(|t| t.vertex == v.id).collect();
            let sum = |f: fn(&(u64, u64, u64, u64)) -> u64| tasks.iter().map(|t| f(&t.metrics)).sum::<u64>();
            let start = tasks.iter().map(|t| t.start_ms).filter(|s| *s > 0).min().unwrap_or(0);
            let done = tasks.iter().all(|t| t.end_ms > 0);
            let end = if done { tasks.iter().map(|t| t.end_ms).max().unwrap_or(0) as i64 } else { -1 };
            json!({
                "id": v.id.to_string(),
                "name": v.name,
                "maxParallelism": v.max_parallelism,
                "parallelism": v.parallelism,
                "status": vertex_state(st, v.id),
                "start-time": if start > 0 { start as i64 } else { -1 },
                "end-time": end,
                "duration": if start > 0 { (if end > 0 { end as u64 } else { crate::status::now_ms() }).saturating_sub(start) as i64 } else { -1 },
                "tasks": counts_json(st, Some(v.id)),
                "metrics": {
                    "read-records": sum(|m| m.0), "read-records-complete": done,
                    "write-records": sum(|m| m.1), "write-records-complete": done,
                    "read-bytes": sum(|m| m.2), "read-bytes-complete": done,
                    "write-bytes": sum(|m| m.3), "write-bytes-complete": done,
                },
                "subtasks": tasks.iter().map(|t| json!({
                    "subtask": t.subtask, "status": execution_state_name(t.state), "attempt": 0,
                    "endpoint": t.address, "taskmanager-id": t.resource_id,
                    "start-time": t.start_ms, "end-time": if t.end_ms > 0 { t.end_ms as i64 } else { -1 },
                    "metrics": { "read-records": t.metrics.0, "write-records": t.metrics.1, "read-bytes": t.metrics.2, "write-bytes": t.metrics.3 },
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let plan_nodes: Vec<Value> = st
        .graph
        .vertices
        .iter()
        .map(|v| {
            let inputs: Vec<Value> = st
                .graph
                .inputs_of(v.id)
                .iter()
                .enumerate()
                .map(|(n, e)| json!({ "num": n, "id": e.source.to_string(), "ship_strategy": format!("{:?}", e.partitioning).to_uppercase(), "exchange": "pipelined_bounded" }))
                .collect();
            json!({ "id": v.id.to_string(), "parallelism": v.parallelism, "operator": "", "description": v.name, "inputs": inputs })
        })
        .collect();
    let timestamps: serde_json::Map<String, Value> =
        st.timestamps.iter().map(|(s, t)| (s.name().to_string(), json!(t))).collect();
    json!({
        "jid": st.job_id,
        "name": st.name,
        "isStoppable": st.graph.runtime_mode == rfy_runtime::RuntimeMode::Streaming,
        "state": st.state.name(),
        "job-type": match st.graph.runtime_mode { rfy_runtime::RuntimeMode::Batch => "BATCH", _ => "STREAMING" },
        "start-time": st.start_ms,
        "end-time": if st.end_ms > 0 { st.end_ms as i64 } else { -1 },
        "duration": st.duration_ms(),
        "maxParallelism": st.graph.max_parallelism,
        "now": crate::status::now_ms(),
        "timestamps": timestamps,
        "vertices": vertices,
        "status-counts": counts_json(st, None),
        "plan": { "jid": st.job_id, "name": st.name, "type": "STREAMING", "nodes": plan_nodes },
    })
}

async fn job_details(State(c): Shared, Path(job_id): Path<String>) -> Response {
    match find_job(&c, &job_id) {
        Ok(h) => Json(job_details_json(&h.current())).into_response(),
        Err(r) => r,
    }
}

async fn job_exceptions(State(c): Shared, Path(job_id): Path<String>) -> Response {
    let st = match find_job(&c, &job_id) {
        Ok(h) => h.current(),
        Err(r) => return r,
    };
    let root = st.root_exception();
    Json(json!({
        "root-exception": root.map(|r| r.stacktrace.clone()),
        "timestamp": root.map(|r| r.timestamp),
        "truncated": false,
        "exceptionHistory": { "entries": st.exceptions.iter().rev().collect::<Vec<_>>(), "truncated": false },
    }))
    .into_response()
}

async fn job_checkpoints(State(c): Shared, Path(job_id): Path<String>) -> Response {
    match find_job(&c, &job_id) {
        Ok(h) => Json(h.current().checkpoints.to_json()).into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize, Default)]
struct SavepointBody {
    #[serde(rename = "target-directory", alias = "targetDirectory")]
    target_directory: Option<String>,
    #[serde(rename = "cancel-job", default)]
    cancel_job: bool,
    #[serde(default)]
    drain: bool,
}

/// Starts a savepoint (and a stop after it when `stop`); answers Flink's `{"request-id"}`.
async fn start_savepoint(c: &Dispatcher, job_id: &str, body: &Bytes, stop_always: bool) -> Response {
    let mut h = match find_job(c, job_id) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let body: SavepointBody = if body.is_empty() {
        SavepointBody::default()
    } else {
        match serde_json::from_slice(body) {
            Ok(b) => b,
            Err(err) => return error(StatusCode::BAD_REQUEST, format!("malformed savepoint request: {err}")),
        }
    };
    if body.drain {
        return error(StatusCode::BAD_REQUEST, "drain is not supported: stop keeps event time where it is");
    }
    let target = match body.target_directory.or_else(|| c.conf.get_optional(&rfy_conf::options::STATE_SAVEPOINTS_DIR)) {
        Some(t) => t,
        None => return error(StatusCode::BAD_REQUEST, "no target directory: give one or set state.savepoints.dir"),
    };
    let target = match crate::checkpoint::storage_uri(&target, "target-directory") {
        Ok(t) => t,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    let terminal = || error(StatusCode::CONFLICT, format!("Job {job_id} already reached a terminal state"));
    if h.current().state.is_terminal() {
        return terminal();
    }
    let trigger_id = uuid::Uuid::new_v4().simple().to_string();
    let req = crate::checkpoint::SavepointRequest {
        trigger_id: trigger_id.clone(),
        target,
        stop: stop_always || body.cancel_job,
    };
    if h.tx.send(JobMasterMsg::TriggerSavepoint(req)).is_err() {
        return terminal();
    }
    // Answer once the JobMaster recorded the operation, so that polling it finds it.
    let recorded = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        h.snapshot.wait_for(|s| s.savepoints.contains_key(&trigger_id)),
    )
    .await;
    match recorded {
        Ok(Ok(_)) => (StatusCode::ACCEPTED, Json(json!({ "request-id": trigger_id }))).into_response(),
        Ok(Err(_)) => terminal(),
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("job {job_id} did not take the savepoint request within 10 s"),
        ),
    }
}

async fn trigger_savepoint(State(c): Shared, Path(job_id): Path<String>, body: Bytes) -> Response {
    start_savepoint(&c, &job_id, &body, false).await
}

async fn stop_job(State(c): Shared, Path(job_id): Path<String>, body: Bytes) -> Response {
    start_savepoint(&c, &job_id, &body, true).await
}

async fn savepoint_status(State(c): Shared, Path((job_id, trigger_id)): Path<(String, String)>) -> Response {
    let op = match find_job(&c, &job_id) {
        Ok(h) => h.current().savepoints.get(&trigger_id).cloned(),
        Err(r) => return r,
    };
    match op {
        None => error(StatusCode::NOT_FOUND, format!("no savepoint operation {trigger_id} for job {job_id}")),
        Some(crate::status::SavepointOp::InProgress) => Json(json!({ "status": { "id": "IN_PROGRESS" }, "operation": null })).into_response(),
        Some(crate::status::SavepointOp::Completed(location)) => {
            Json(json!({ "status": { "id": "COMPLETED" }, "operation": { "location": location } })).into_response()
        }
        Some(crate::status::SavepointOp::Failed(why)) => Json(json!({
            "status": { "id": "COMPLETED" },
            "operation": { "failure-cause": { "class": "rfy.CheckpointException", "stack-trace": why, "serialized-throwable": null } },
        }))
        .into_response(),
    }
}

#[derive(Deserialize)]
struct CancelQuery {
    mode: Option<String>,
}

async fn cancel(State(c): Shared, Path(job_id): Path<String>, Query(q): Query<CancelQuery>) -> Response {
    let h = match find_job(&c, &job_id) {
        Ok(h) => h,
        Err(r) => return r,
    };
    match q.mode.as_deref() {
        None | Some("cancel") => {}
        Some(other) => return error(StatusCode::BAD_REQUEST, format!("unsupported mode '{other}': only 'cancel'")),
    }
    if h.current().state.is_terminal() || h.tx.send(JobMasterMsg::Cancel).is_err() {
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

pub(crate) fn taskmanagers_json(c: &Dispatcher) -> Value {
    let tms: Vec<Value> =
        c.rm.task_managers()
            .iter()
            .map(|t| {
                json!({
                    "id": t.resource_id,
                    "path": t.address,
                    "dataPort": t.address.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()).unwrap_or(0),
                    "timeSinceLastHeartbeat": t.since_heartbeat_ms,
                    "registeredAt": t.registered_ms,
                    "slotsNumber": t.slots,
                    "freeSlots": t.free_slots,
                    "logPath": t.log_path,
                })
            })
            .collect();
    json!({ "taskmanagers": tms })
}

async fn taskmanagers(State(c): Shared) -> Json<Value> {
    Json(taskmanagers_json(&c))
}

/// `DELETE /cluster`: asks the embedding process to shut the JobManager down
/// (the session AM cancels its jobs, releases its containers and unregisters).
async fn shutdown_cluster(State(c): Shared) -> Response {
    tracing::info!("cluster shutdown requested through REST");
    c.request_shutdown();
    (StatusCode::ACCEPTED, Json(json!({}))).into_response()
}

/// Escapes text for HTML.
pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub(crate) fn html(body: String) -> Html<String> {
    Html(body)
}
