//! Job routes: `GET /jobs` (`JobIdsWithStatusOverview`), `/jobs/overview`
//! (`MultipleJobsDetails`), `/jobs/:id` (`JobDetailsInfo`), `/jobs/:id/status`
//! (`JobStatusInfo`), `/jobs/:id/plan` (`JobPlanInfo`), `/jobs/:id/config`
//! (`JobConfigInfo`), `/jobs/:id/exceptions` (`JobExceptionsInfoWithHistory`),
//! `/jobs/:id/vertices/:vid` (`JobVertexDetailsInfo`).
//!
//! Vertex ids: Flink's JobVertexID is 32 hex digits; rfy's JobGraph numbers
//! its vertices 0, 1, ... . [`vertex_id`] maps one to the other: a hash of the
//! vertex's name (16 hex digits) then its number (16 hex digits), stable
//! across runs of the same job.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rfy_runtime::{JobGraph, RuntimeMode};
use serde_json::{json, Value};

use super::{error, find_job, is_hex_id, Shared};
use crate::dispatcher::Dispatcher;
use crate::status::{execution_state_name, now_ms, JobSnapshot, JobStatus, TaskStatus};

/// Flink's ExecutionState names, in Flink's enum order.
const EXECUTION_STATES: [&str; 10] = [
    "CREATED",
    "SCHEDULED",
    "DEPLOYING",
    "RUNNING",
    "FINISHED",
    "CANCELING",
    "CANCELED",
    "FAILED",
    "RECONCILING",
    "INITIALIZING",
];

/// The 32-hex-digit id of vertex `v` of `graph` (see the module docs).
pub(crate) fn vertex_id(graph: &JobGraph, v: u32) -> String {
    let name = graph.vertices.get(v as usize).map(|x| x.name.as_str()).unwrap_or("");
    // FNV-1a, 64 bits: stable across builds and platforms.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
    format!("{hash:016x}{:016x}", v as u64)
}

/// The vertex number of a 32-hex-digit vertex id of `graph`.
pub(crate) fn vertex_index(graph: &JobGraph, id: &str) -> Option<u32> {
    if !is_hex_id(id) {
        return None;
    }
    let v = u32::try_from(u64::from_str_radix(&id[16..], 16).ok()?).ok()?;
    ((v as usize) < graph.vertices.len() && vertex_id(graph, v) == id).then_some(v)
}

/// Task counts per state of `tasks`, keys as `name` makes them, plus `total` if asked.
fn task_counts<'a>(tasks: impl Iterator<Item = &'a TaskStatus>, lower: bool, total: bool) -> Value {
    let mut counts: BTreeMap<String, u64> =
        EXECUTION_STATES.iter().map(|s| (if lower { s.to_ascii_lowercase() } else { s.to_string() }, 0)).collect();
    let mut n = 0;
    for t in tasks {
        let name = execution_state_name(t.state);
        *counts.entry(if lower { name.to_ascii_lowercase() } else { name.to_string() }).or_insert(0) += 1;
        n += 1;
    }
    if total {
        counts.insert("total".into(), n);
    }
    json!(counts)
}

fn end_time(end_ms: u64) -> i64 {
    if end_ms > 0 {
        end_ms as i64
    } else {
        -1
    }
}

/// One job in Flink's `JobDetails` shape (`/jobs/overview`).
pub(crate) fn job_summary(st: &JobStatus) -> Value {
    json!({
        "jid": st.job_id,
        "name": st.name,
        "state": st.state.name(),
        "start-time": st.start_ms,
        "end-time": end_time(st.end_ms),
        "duration": st.duration_ms(),
        "last-modification": st.timestamps.last().map(|t| t.1).unwrap_or(st.start_ms),
        "tasks": task_counts(st.tasks.iter(), true, true),
        "pending-operators": 0,
    })
}

/// Snapshots of every job, newest first.
pub(crate) fn sorted_jobs(c: &Dispatcher) -> Vec<JobSnapshot> {
    c.snapshots()
}

pub(super) async fn jobs_overview(State(c): Shared) -> Json<Value> {
    Json(json!({ "jobs": sorted_jobs(&c).iter().map(|j| job_summary(j)).collect::<Vec<_>>() }))
}

pub(super) async fn jobs_list(State(c): Shared) -> Json<Value> {
    let jobs: Vec<Value> =
        sorted_jobs(&c).iter().map(|j| json!({ "id": j.job_id, "status": j.state.name() })).collect();
    Json(json!({ "jobs": jobs }))
}

/// The state Flink shows for a vertex: the most significant of its subtasks' states.
fn vertex_state(tasks: &[&TaskStatus]) -> &'static str {
    let states: Vec<&'static str> = tasks.iter().map(|t| execution_state_name(t.state)).collect();
    for s in ["FAILED", "CANCELING", "CANCELED", "RUNNING", "INITIALIZING", "DEPLOYING", "SCHEDULED", "CREATED"] {
        if states.contains(&s) {
            return s;
        }
    }
    if !states.is_empty() && states.iter().all(|s| *s == "FINISHED") {
        "FINISHED"
    } else {
        "CREATED"
    }
}

/// Flink's `IOMetricsInfo` of `tasks` (summed); `complete` when all finished.
fn io_metrics(tasks: &[&TaskStatus], complete: bool) -> Value {
    let sum = |f: fn(&(u64, u64, u64, u64)) -> u64| tasks.iter().map(|t| f(&t.metrics)).sum::<u64>();
    json!({
        "read-records": sum(|m| m.0), "read-records-complete": complete,
        "write-records": sum(|m| m.1), "write-records-complete": complete,
        "read-bytes": sum(|m| m.2), "read-bytes-complete": complete,
        "write-bytes": sum(|m| m.3), "write-bytes-complete": complete,
        "accumulated-backpressured-time": 0, "accumulated-idle-time": 0, "accumulated-busy-time": 0.0,
    })
}

fn tasks_of(st: &JobStatus, v: u32) -> Vec<&TaskStatus> {
    st.tasks.iter().filter(|t| t.vertex == v).collect()
}

/// `(start, end, duration)` of a set of subtasks, Flink's -1 for "not yet".
fn times(tasks: &[&TaskStatus]) -> (i64, i64, i64) {
    let start = tasks.iter().map(|t| t.start_ms).filter(|s| *s > 0).min().unwrap_or(0);
    let done = !tasks.is_empty() && tasks.iter().all(|t| t.end_ms > 0);
    let end = if done { tasks.iter().map(|t| t.end_ms).max().unwrap_or(0) } else { 0 };
    let duration = if start > 0 { (if end > 0 { end } else { now_ms() }).saturating_sub(start) as i64 } else { -1 };
    (if start > 0 { start as i64 } else { -1 }, end_time(end), duration)
}

/// Flink's JSON plan of a JobGraph (`JobPlanInfo.Plan`): one node per vertex, with its inputs.
pub(crate) fn plan_json(st: &JobStatus) -> Value {
    let g = &st.graph;
    let nodes: Vec<Value> = g
        .vertices
        .iter()
        .map(|v| {
            let inputs: Vec<Value> = g
                .inputs_of(v.id)
                .iter()
                .enumerate()
                .map(|(n, e)| {
                    json!({
                        "num": n,
                        "id": vertex_id(g, e.source),
                        "ship_strategy": format!("{:?}", e.partitioning).to_uppercase(),
                        "exchange": "pipelined_bounded",
                    })
                })
                .collect();
            json!({
                "id": vertex_id(g, v.id),
                "parallelism": v.parallelism,
                "operator": "",
                "operator_strategy": "",
                "description": v.name,
                "optimizer_properties": {},
                "inputs": inputs,
            })
        })
        .collect();
    let mode = match g.runtime_mode {
        RuntimeMode::Batch => "BATCH",
        _ => "STREAMING",
    };
    json!({ "jid": st.job_id, "name": st.name, "type": mode, "nodes": nodes })
}

/// `GET /jobs/:id`: Flink's `JobDetailsInfo`.
pub(crate) fn job_details_json(st: &JobStatus) -> Value {
    let g = &st.graph;
    let vertices: Vec<Value> = g
        .vertices
        .iter()
        .map(|v| {
            let tasks = tasks_of(st, v.id);
            let (start, end, duration) = times(&tasks);
            json!({
                "id": vertex_id(g, v.id),
                "slotSharingGroupId": format!("{:032x}", 0),
                "name": v.name,
                "maxParallelism": v.max_parallelism,
                "parallelism": v.parallelism,
                "status": vertex_state(&tasks),
                "start-time": start,
                "end-time": end,
                "duration": duration,
                "tasks": task_counts(tasks.iter().copied(), false, false),
                "metrics": io_metrics(&tasks, end > 0),
            })
        })
        .collect();
    let timestamps: BTreeMap<&str, u64> = st.timestamps.iter().map(|(s, t)| (s.name(), *t)).collect();
    let mode = match g.runtime_mode {
        RuntimeMode::Batch => "BATCH",
        _ => "STREAMING",
    };
    json!({
        "jid": st.job_id,
        "name": st.name,
        "isStoppable": g.runtime_mode == RuntimeMode::Streaming,
        "state": st.state.name(),
        "job-type": mode,
        "schedulerType": "Default",
        "start-time": st.start_ms,
        "end-time": end_time(st.end_ms),
        "duration": st.duration_ms(),
        "maxParallelism": g.max_parallelism,
        "now": now_ms(),
        "timestamps": timestamps,
        "vertices": vertices,
        "status-counts": task_counts(st.tasks.iter(), false, false),
        "plan": plan_json(st),
        "pending-operators": 0,
    })
}

pub(super) async fn job_details(State(c): Shared, Path(job_id): Path<String>) -> Response {
    match find_job(&c, &job_id) {
        Ok(e) => Json(job_details_json(&e.current())).into_response(),
        Err(r) => r,
    }
}

/// `GET /jobs/:id/status`: Flink's `JobStatusInfo`.
pub(super) async fn job_status(State(c): Shared, Path(job_id): Path<String>) -> Response {
    match find_job(&c, &job_id) {
        Ok(e) => Json(json!({ "status": e.current().state.name() })).into_response(),
        Err(r) => r,
    }
}

/// `GET /jobs/:id/plan`: Flink's `JobPlanInfo`.
pub(super) async fn job_plan(State(c): Shared, Path(job_id): Path<String>) -> Response {
    match find_job(&c, &job_id) {
        Ok(e) => Json(json!({ "plan": plan_json(&e.current()) })).into_response(),
        Err(r) => r,
    }
}

/// `GET /jobs/:id/config`: Flink's `JobConfigInfo`; `user-config` holds the
/// job's configuration (cluster configuration and job overrides).
pub(super) async fn job_config(State(c): Shared, Path(job_id): Path<String>) -> Response {
    let e = match find_job(&c, &job_id) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let st = e.current();
    let parallelism = st.graph.vertices.iter().map(|v| v.parallelism).max().unwrap_or(1);
    let restart = st.config.get("restart-strategy.type").cloned().unwrap_or_else(|| "default".into());
    Json(json!({
        "jid": st.job_id,
        "name": st.name,
        "execution-config": {
            "restart-strategy": restart,
            "job-parallelism": parallelism,
            "object-reuse-mode": false,
            "user-config": st.config,
        },
    }))
    .into_response()
}

/// `GET /jobs/:id/exceptions`: Flink's `JobExceptionsInfoWithHistory`, newest first.
pub(super) async fn job_exceptions(State(c): Shared, Path(job_id): Path<String>) -> Response {
    let e = match find_job(&c, &job_id) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let st = e.current();
    let entries: Vec<Value> = st
        .exceptions
        .iter()
        .rev()
        .map(|x| {
            let tm = x
                .location
                .as_ref()
                .and_then(|l| st.tasks.iter().find(|t| &t.address == l).map(|t| t.resource_id.clone()));
            json!({
                "exceptionName": x.name,
                "stacktrace": x.stacktrace,
                "timestamp": x.timestamp,
                "failureLabels": {},
                "taskName": x.task_name,
                "endpoint": x.location,
                "taskManagerId": tm,
                "concurrentExceptions": [],
            })
        })
        .collect();
    let root = st.root_exception();
    Json(json!({
        "root-exception": root.map(|r| r.stacktrace.clone()),
        "timestamp": root.map(|r| r.timestamp),
        "exceptionHistory": { "entries": entries, "truncated": false },
    }))
    .into_response()
}

/// Flink's `status-duration` of a subtask: ms per ExecutionState. rfy records
/// when a subtask started running and ended, so only RUNNING has a duration.
fn status_durations(t: &TaskStatus) -> Value {
    let running = match (t.start_ms, t.end_ms) {
        (0, _) => 0,
        (s, 0) => now_ms().saturating_sub(s),
        (s, e) => e.saturating_sub(s),
    };
    let map: BTreeMap<&str, u64> =
        EXECUTION_STATES.iter().map(|s| (*s, if *s == "RUNNING" { running } else { 0 })).collect();
    json!(map)
}

/// One subtask in Flink's `SubtaskExecutionAttemptDetailsInfo` shape.
fn subtask_json(t: &TaskStatus, attempt: u32) -> Value {
    let (start, end, duration) = times(&[t]);
    json!({
        "subtask": t.subtask,
        "status": execution_state_name(t.state),
        "attempt": attempt,
        "endpoint": t.address,
        "start-time": start,
        "end-time": end,
        "duration": duration,
        "metrics": io_metrics(&[t], end > 0),
        "taskmanager-id": t.resource_id,
        "status-duration": status_durations(t),
    })
}

/// `GET /jobs/:id/vertices/:vid`: Flink's `JobVertexDetailsInfo`.
pub(super) async fn vertex_details(State(c): Shared, Path((job_id, vid)): Path<(String, String)>) -> Response {
    let e = match find_job(&c, &job_id) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let st = e.current();
    let Some(v) = vertex_index(&st.graph, &vid) else {
        return error(StatusCode::NOT_FOUND, format!("job {job_id} has no vertex {vid}"));
    };
    let vertex = &st.graph.vertices[v as usize];
    let subtasks: Vec<Value> = tasks_of(&st, v).iter().map(|t| subtask_json(t, st.attempt)).collect();
    Json(json!({
        "id": vid,
        "name": vertex.name,
        "parallelism": vertex.parallelism,
        "maxParallelism": vertex.max_parallelism,
        "now": now_ms(),
        "subtasks": subtasks,
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph() -> JobGraph {
        let env = rfy_runtime::StreamExecutionEnvironment::new(rfy_runtime::ExecutionConfig {
            parallelism: 2,
            ..Default::default()
        });
        env.from_collection(vec![1u64, 2, 3]).key_by(|x: &u64| *x).reduce(|a, b| a + b).discard();
        env.into_stream_graph("t", &[]).job_graph().unwrap()
    }

    #[test]
    fn vertex_ids_are_32_hex_digits_and_map_back() {
        let g = graph();
        assert!(g.vertices.len() >= 2);
        let ids: Vec<String> = (0..g.vertices.len() as u32).map(|v| vertex_id(&g, v)).collect();
        for (v, id) in ids.iter().enumerate() {
            assert!(is_hex_id(id), "{id}");
            assert_eq!(vertex_index(&g, id), Some(v as u32));
        }
        assert_ne!(ids[0], ids[1]);
        assert_eq!(vertex_index(&g, "0"), None);
        assert_eq!(vertex_index(&g, &format!("{:032x}", 0)), None, "a wrong name hash is refused");
    }
}
