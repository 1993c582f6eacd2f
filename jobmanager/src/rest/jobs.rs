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
use axum::Json;
use rfy_rest_api::{
    AggregatedTaskDetailsInfo, ExecutionConfigInfo, IoMetricsInfo, JobConfigInfo, JobDetails, JobDetailsInfo,
    JobDetailsVertexInfo, JobExceptionHistory, JobExceptionsInfoWithHistory, JobIdWithStatus, JobIdsWithStatusOverview,
    JobPlanInfo, JobStatusInfo, JobVertexDetailsInfo, MultipleJobsDetails, Plan, PlanInput, PlanNode,
    RootExceptionInfo, StreamGraphJson, StreamGraphNode, SubtaskExecutionAttemptDetailsInfo, TaskCounts,
    EXECUTION_STATES, JOB_STATES,
};
use rfy_runtime::{JobGraph, RuntimeMode};

use super::error::{RestError, RestResult};
use super::{find_job, is_hex_id, Shared};
use crate::status::{execution_state_name, now_ms, JobStatus, TaskStatus};

/// rfy's scheduler in Flink's `SchedulerType` terms.
const SCHEDULER_TYPE: &str = "Default";

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
fn task_counts<'a>(tasks: impl Iterator<Item = &'a TaskStatus>, lower: bool, total: bool) -> TaskCounts {
    let key = |s: &str| if lower { s.to_ascii_lowercase() } else { s.to_string() };
    let mut counts: TaskCounts = EXECUTION_STATES.iter().map(|s| (key(s), 0)).collect();
    let mut n = 0;
    for t in tasks {
        *counts.entry(key(execution_state_name(t.state))).or_insert(0) += 1;
        n += 1;
    }
    if total {
        counts.insert("total".into(), n);
    }
    counts
}

fn end_time(end_ms: u64) -> i64 {
    if end_ms > 0 {
        end_ms as i64
    } else {
        -1
    }
}

/// Flink's `JobType` of a JobGraph.
fn job_type(g: &JobGraph) -> &'static str {
    match g.runtime_mode {
        RuntimeMode::Batch => "BATCH",
        _ => "STREAMING",
    }
}

/// One job in Flink's `JobDetails` shape (`/jobs/overview`).
pub(crate) fn job_summary(st: &JobStatus) -> JobDetails {
    JobDetails {
        jid: st.job_id.clone(),
        name: st.name.clone(),
        job_type: job_type(&st.graph).into(),
        scheduler_type: SCHEDULER_TYPE.into(),
        state: st.state.name().into(),
        start_time: st.start_ms,
        end_time: end_time(st.end_ms),
        duration: st.duration_ms(),
        last_modification: st.timestamps.last().map(|t| t.1).unwrap_or(st.start_ms),
        tasks: task_counts(st.tasks.iter(), true, true),
        pending_operators: 0,
    }
}

pub(super) async fn jobs_overview(State(c): Shared) -> Json<MultipleJobsDetails> {
    Json(MultipleJobsDetails { jobs: c.dispatcher.snapshots().iter().map(|j| job_summary(j)).collect() })
}

pub(super) async fn jobs_list(State(c): Shared) -> Json<JobIdsWithStatusOverview> {
    let jobs = c
        .dispatcher
        .snapshots()
        .iter()
        .map(|j| JobIdWithStatus { id: j.job_id.clone(), status: j.state.name().into() })
        .collect();
    Json(JobIdsWithStatusOverview { jobs })
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
fn io_metrics(tasks: &[&TaskStatus], complete: bool) -> IoMetricsInfo {
    let sum = |f: fn(&(u64, u64, u64, u64)) -> u64| tasks.iter().map(|t| f(&t.metrics)).sum::<u64>();
    IoMetricsInfo {
        read_records: sum(|m| m.0),
        read_records_complete: complete,
        write_records: sum(|m| m.1),
        write_records_complete: complete,
        read_bytes: sum(|m| m.2),
        read_bytes_complete: complete,
        write_bytes: sum(|m| m.3),
        write_bytes_complete: complete,
        accumulated_backpressured_time: 0,
        accumulated_idle_time: 0,
        accumulated_busy_time: 0.0,
    }
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

/// The input edges of vertex `v` in Flink's plan shape.
fn plan_inputs(g: &JobGraph, v: u32) -> Vec<PlanInput> {
    g.inputs_of(v)
        .iter()
        .enumerate()
        .map(|(n, e)| PlanInput {
            num: n as u32,
            id: vertex_id(g, e.source),
            ship_strategy: format!("{:?}", e.partitioning).to_uppercase(),
            exchange: "pipelined_bounded".into(),
        })
        .collect()
}

/// Flink's JSON plan of a JobGraph (`JobPlanInfo.Plan`): one node per vertex, with its inputs.
pub(crate) fn plan(st: &JobStatus) -> Plan {
    let g = &st.graph;
    let nodes = g
        .vertices
        .iter()
        .map(|v| PlanNode {
            id: vertex_id(g, v.id),
            parallelism: v.parallelism,
            operator: String::new(),
            operator_strategy: String::new(),
            description: v.name.clone(),
            optimizer_properties: BTreeMap::new(),
            inputs: plan_inputs(g, v.id),
        })
        .collect();
    Plan { jid: st.job_id.clone(), name: st.name.clone(), job_type: job_type(g).into(), nodes }
}

/// The `stream-graph` of `/jobs/:id`: rfy's JobManager has the JobGraph only, so one node per vertex.
fn stream_graph(g: &JobGraph) -> StreamGraphJson {
    let nodes = g
        .vertices
        .iter()
        .map(|v| StreamGraphNode {
            id: v.id.to_string(),
            parallelism: v.parallelism,
            operator: v.name.clone(),
            description: v.name.clone(),
            job_vertex_id: vertex_id(g, v.id),
            inputs: plan_inputs(g, v.id),
        })
        .collect();
    StreamGraphJson { nodes }
}

/// `GET /jobs/:id`: Flink's `JobDetailsInfo`.
pub(crate) fn job_details(st: &JobStatus) -> JobDetailsInfo {
    let g = &st.graph;
    let vertices = g
        .vertices
        .iter()
        .map(|v| {
            let tasks = tasks_of(st, v.id);
            let (start, end, duration) = times(&tasks);
            JobDetailsVertexInfo {
                id: vertex_id(g, v.id),
                slot_sharing_group_id: format!("{:032x}", 0),
                name: v.name.clone(),
                max_parallelism: v.max_parallelism,
                parallelism: v.parallelism,
                status: vertex_state(&tasks).into(),
                start_time: start,
                end_time: end,
                duration,
                tasks: task_counts(tasks.iter().copied(), false, false),
                metrics: io_metrics(&tasks, end > 0),
            }
        })
        .collect();
    // Every JobStatus, as Flink lists them: 0 for a state not entered.
    let mut timestamps: BTreeMap<String, u64> = JOB_STATES.iter().map(|s| (s.to_string(), 0)).collect();
    timestamps.extend(st.timestamps.iter().map(|(s, t)| (s.name().to_string(), *t)));
    JobDetailsInfo {
        jid: st.job_id.clone(),
        application_id: Some(st.job_id.clone()),
        name: st.name.clone(),
        is_stoppable: g.runtime_mode == RuntimeMode::Streaming,
        state: st.state.name().into(),
        job_type: job_type(g).into(),
        scheduler_type: SCHEDULER_TYPE.into(),
        start_time: st.start_ms,
        end_time: end_time(st.end_ms),
        duration: st.duration_ms(),
        max_parallelism: g.max_parallelism,
        now: now_ms(),
        timestamps,
        vertices,
        status_counts: task_counts(st.tasks.iter(), false, false),
        plan: plan(st),
        stream_graph: stream_graph(g),
        pending_operators: 0,
    }
}

pub(super) async fn job_details_route(State(c): Shared, Path(job_id): Path<String>) -> RestResult<JobDetailsInfo> {
    Ok(Json(job_details(&find_job(&c.dispatcher, &job_id)?.current())))
}

/// `GET /jobs/:id/status`: Flink's `JobStatusInfo`.
pub(super) async fn job_status(State(c): Shared, Path(job_id): Path<String>) -> RestResult<JobStatusInfo> {
    Ok(Json(JobStatusInfo { status: find_job(&c.dispatcher, &job_id)?.current().state.name().into() }))
}

/// `GET /jobs/:id/plan`: Flink's `JobPlanInfo`.
pub(super) async fn job_plan(State(c): Shared, Path(job_id): Path<String>) -> RestResult<JobPlanInfo> {
    Ok(Json(JobPlanInfo { plan: plan(&find_job(&c.dispatcher, &job_id)?.current()) }))
}

/// `GET /jobs/:id/config`: Flink's `JobConfigInfo`; `user-config` holds the
/// job's configuration (cluster configuration and job overrides).
pub(super) async fn job_config(State(c): Shared, Path(job_id): Path<String>) -> RestResult<JobConfigInfo> {
    let st = find_job(&c.dispatcher, &job_id)?.current();
    let parallelism = st.graph.vertices.iter().map(|v| v.parallelism).max().unwrap_or(1);
    let restart = st.config.get("restart-strategy.type").cloned().unwrap_or_else(|| "default".into());
    Ok(Json(JobConfigInfo {
        jid: st.job_id.clone(),
        name: st.name.clone(),
        execution_config: ExecutionConfigInfo {
            restart_strategy: restart,
            job_parallelism: parallelism,
            object_reuse_mode: false,
            user_config: st.config.clone(),
        },
    }))
}

/// `GET /jobs/:id/exceptions`: Flink's `JobExceptionsInfoWithHistory`, newest first.
pub(super) async fn job_exceptions(
    State(c): Shared,
    Path(job_id): Path<String>,
) -> RestResult<JobExceptionsInfoWithHistory> {
    let st = find_job(&c.dispatcher, &job_id)?.current();
    let entries = st
        .exceptions
        .iter()
        .rev()
        .map(|x| {
            let tm = x
                .location
                .as_ref()
                .and_then(|l| st.tasks.iter().find(|t| &t.address == l).map(|t| t.resource_id.clone()));
            RootExceptionInfo {
                exception_name: x.name.clone(),
                stacktrace: x.stacktrace.clone(),
                timestamp: x.timestamp,
                failure_labels: BTreeMap::new(),
                task_name: x.task_name.clone(),
                endpoint: x.location.clone(),
                task_manager_id: tm,
                concurrent_exceptions: Vec::new(),
            }
        })
        .collect();
    let root = st.root_exception();
    Ok(Json(JobExceptionsInfoWithHistory {
        root_exception: root.map(|r| r.stacktrace.clone()),
        timestamp: root.map(|r| r.timestamp),
        exception_history: JobExceptionHistory { entries, truncated: false },
    }))
}

/// Flink's `status-duration` of a subtask: ms per ExecutionState. rfy records
/// when a subtask started running and ended, so only RUNNING has a duration.
fn status_durations(t: &TaskStatus) -> BTreeMap<String, u64> {
    let running = match (t.start_ms, t.end_ms) {
        (0, _) => 0,
        (s, 0) => now_ms().saturating_sub(s),
        (s, e) => e.saturating_sub(s),
    };
    EXECUTION_STATES.iter().map(|s| (s.to_string(), if *s == "RUNNING" { running } else { 0 })).collect()
}

/// One subtask in Flink's `SubtaskExecutionAttemptDetailsInfo` shape.
fn subtask_info(t: &TaskStatus, attempt: u32) -> SubtaskExecutionAttemptDetailsInfo {
    let (start, end, duration) = times(&[t]);
    SubtaskExecutionAttemptDetailsInfo {
        subtask: t.subtask,
        status: execution_state_name(t.state).into(),
        attempt,
        endpoint: t.address.clone(),
        start_time: start,
        start_time_compatible: start,
        end_time: end,
        duration,
        metrics: io_metrics(&[t], end > 0),
        taskmanager_id: t.resource_id.clone(),
        status_duration: status_durations(t),
    }
}

/// `GET /jobs/:id/vertices/:vid`: Flink's `JobVertexDetailsInfo`.
pub(super) async fn vertex_details(
    State(c): Shared,
    Path((job_id, vid)): Path<(String, String)>,
) -> RestResult<JobVertexDetailsInfo> {
    let st = find_job(&c.dispatcher, &job_id)?.current();
    let v = vertex_index(&st.graph, &vid).ok_or_else(|| no_vertex(&job_id, &vid))?;
    let vertex = &st.graph.vertices[v as usize];
    let subtasks: Vec<SubtaskExecutionAttemptDetailsInfo> =
        tasks_of(&st, v).iter().map(|t| subtask_info(t, st.attempt)).collect();
    Ok(Json(JobVertexDetailsInfo {
        id: vid,
        name: vertex.name.clone(),
        parallelism: vertex.parallelism,
        max_parallelism: vertex.max_parallelism,
        now: now_ms(),
        aggregated: aggregated(&subtasks),
        subtasks,
    }))
}

/// Flink's `MetricsStatistics` of `values`: min, max, avg, sum and nearest-rank percentiles (all 0 when empty).
fn statistics(mut values: Vec<u64>) -> BTreeMap<String, u64> {
    values.sort_unstable();
    let n = values.len();
    let pct = |p: f64| if n == 0 { 0 } else { values[((p * n as f64).ceil() as usize).clamp(1, n) - 1] };
    let sum: u64 = values.iter().sum();
    [
        ("min", values.first().copied().unwrap_or(0)),
        ("max", values.last().copied().unwrap_or(0)),
        ("avg", if n == 0 { 0 } else { sum / n as u64 }),
        ("sum", sum),
        ("median", pct(0.5)),
        ("p25", pct(0.25)),
        ("p75", pct(0.75)),
        ("p95", pct(0.95)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Flink's `AggregatedTaskDetailsInfo` of a vertex's subtasks.
fn aggregated(subtasks: &[SubtaskExecutionAttemptDetailsInfo]) -> AggregatedTaskDetailsInfo {
    let of = |f: fn(&IoMetricsInfo) -> u64| statistics(subtasks.iter().map(|s| f(&s.metrics)).collect());
    let metrics = BTreeMap::from([
        ("read-records".to_string(), of(|m| m.read_records)),
        ("write-records".to_string(), of(|m| m.write_records)),
        ("read-bytes".to_string(), of(|m| m.read_bytes)),
        ("write-bytes".to_string(), of(|m| m.write_bytes)),
        ("accumulated-backpressured-time".to_string(), of(|m| m.accumulated_backpressured_time)),
        ("accumulated-idle-time".to_string(), of(|m| m.accumulated_idle_time)),
        ("accumulated-busy-time".to_string(), of(|m| m.accumulated_busy_time as u64)),
    ]);
    let status_duration = EXECUTION_STATES
        .iter()
        .map(|state| {
            let values = subtasks.iter().map(|s| s.status_duration.get(*state).copied().unwrap_or(0)).collect();
            (state.to_string(), statistics(values))
        })
        .collect();
    AggregatedTaskDetailsInfo { metrics, status_duration }
}

/// 404: `job_id` has no vertex `vid`.
pub(super) fn no_vertex(job_id: &str, vid: &str) -> RestError {
    RestError::not_found(format!("job {job_id} has no vertex {vid}"))
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

    #[test]
    fn statistics_have_flinks_keys_and_nearest_rank_percentiles() {
        let s = statistics(vec![40, 10, 30, 20]);
        assert_eq!((s["min"], s["max"], s["sum"], s["avg"]), (10, 40, 100, 25));
        assert_eq!((s["p25"], s["median"], s["p75"], s["p95"]), (10, 20, 30, 40));
        assert!(statistics(vec![]).values().all(|v| *v == 0));
        assert_eq!(statistics(vec![]).len(), 8);
    }
}
