//! Job routes: `GET /jobs`, `/jobs/overview`, `/jobs/:id`, `/jobs/:id/status`,
//! `/jobs/:id/plan`, `/jobs/:id/config`, `/jobs/:id/exceptions`,
//! `/jobs/:id/vertices/:vid`, and the submission `POST /jobs`.
//!
//! Times are epoch milliseconds; `-1` where Flink writes it for "not yet"
//! (`end-time` of a running job, `start-time` of a vertex not started).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Task counts by Flink `ExecutionState` name (`CREATED`, `RUNNING`, ...; see
/// [`crate::EXECUTION_STATES`]). `/jobs/overview` writes the names in lower
/// case plus `total`.
pub type TaskCounts = BTreeMap<String, u64>;

/// `POST /jobs` request body (rfy's own: Flink submits a JAR). `G` is rfy's
/// JobGraph (`rfy_runtime::JobGraph`; this crate knows only its JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSubmitRequestBody<G> {
    /// The planned JobGraph.
    #[serde(rename = "jobGraph")]
    pub job_graph: G,
    /// Job configuration overrides (Flink's option keys → values).
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

/// Flink's `JobSubmitResponseBody` (202 to `POST /jobs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSubmitResponseBody {
    /// `/jobs/<job id>`.
    #[serde(rename = "jobUrl")]
    pub job_url: String,
    /// The job id, 32 hex digits (rfy addition; Flink's body has only `jobUrl`).
    pub jobid: String,
}

/// Flink's `JobIdsWithStatusOverview` (`GET /jobs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobIdsWithStatusOverview {
    /// Every job the Dispatcher lists.
    pub jobs: Vec<JobIdWithStatus>,
}

/// Flink's `JobIdsWithStatusOverview.JobIdWithStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobIdWithStatus {
    /// Job id, 32 hex digits.
    pub id: String,
    /// Flink `JobStatus` name (`RUNNING`, ...).
    pub status: String,
}

/// Flink's `MultipleJobsDetails` (`GET /jobs/overview`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultipleJobsDetails {
    /// Every job the Dispatcher lists, newest first.
    pub jobs: Vec<JobDetails>,
}

/// Flink's `JobDetails` (`org.apache.flink.runtime.messages.webmonitor`): one job of `/jobs/overview`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobDetails {
    /// Job id, 32 hex digits.
    pub jid: String,
    /// Job name.
    pub name: String,
    /// Flink's `JobType`: `STREAMING` or `BATCH`.
    #[serde(rename = "jobType")]
    pub job_type: String,
    /// Flink's `SchedulerType`: rfy's is `Default`.
    #[serde(rename = "schedulerType")]
    pub scheduler_type: String,
    /// Flink `JobStatus` name.
    pub state: String,
    /// Submission time, ms.
    #[serde(rename = "start-time")]
    pub start_time: u64,
    /// Terminal time, ms; -1 while not terminal.
    #[serde(rename = "end-time")]
    pub end_time: i64,
    /// ms from start to end (or now).
    pub duration: u64,
    /// When the job last changed state, ms.
    #[serde(rename = "last-modification")]
    pub last_modification: u64,
    /// Subtask counts by lower-case `ExecutionState` name, plus `total`.
    pub tasks: TaskCounts,
    /// Operators not yet in the JobGraph (adaptive graphs; rfy: 0).
    #[serde(rename = "pending-operators")]
    pub pending_operators: u32,
}

/// Flink's `JobDetailsInfo` (`GET /jobs/:id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDetailsInfo {
    /// Job id, 32 hex digits.
    pub jid: String,
    /// Flink's `ApplicationID` of the job, 32 hex digits (rfy: every job is
    /// its own application, so the job id).
    #[serde(rename = "application-id")]
    pub application_id: Option<String>,
    /// Job name.
    pub name: String,
    /// True for streaming jobs (stop-with-savepoint applies).
    #[serde(rename = "isStoppable")]
    pub is_stoppable: bool,
    /// Flink `JobStatus` name.
    pub state: String,
    /// Flink's `JobType`: `STREAMING` or `BATCH`.
    #[serde(rename = "job-type")]
    pub job_type: String,
    /// Flink's `SchedulerType`: rfy's is `Default`.
    #[serde(rename = "schedulerType")]
    pub scheduler_type: String,
    /// Submission time, ms.
    #[serde(rename = "start-time")]
    pub start_time: u64,
    /// Terminal time, ms; -1 while not terminal.
    #[serde(rename = "end-time")]
    pub end_time: i64,
    /// ms from start to end (or now).
    pub duration: u64,
    /// The JobGraph's max parallelism.
    #[serde(rename = "maxParallelism")]
    pub max_parallelism: u32,
    /// The JobManager's clock when answering, ms.
    pub now: u64,
    /// When the job entered each `JobStatus`, ms; every state is listed, 0 for never entered.
    pub timestamps: BTreeMap<String, u64>,
    /// The JobGraph's vertices.
    pub vertices: Vec<JobDetailsVertexInfo>,
    /// Vertex counts by `ExecutionState` name (rfy counts subtasks).
    #[serde(rename = "status-counts")]
    pub status_counts: TaskCounts,
    /// The JobGraph as Flink's JSON plan.
    pub plan: Plan,
    /// The stream graph as Flink's JSON (rfy: the JobGraph's vertices, each with its job vertex).
    #[serde(rename = "stream-graph")]
    pub stream_graph: StreamGraphJson,
    /// Operators not yet in the JobGraph (adaptive graphs; rfy: 0).
    #[serde(rename = "pending-operators")]
    pub pending_operators: u32,
}

/// Flink's `JobDetailsInfo.JobVertexDetailsInfo`: one vertex of `/jobs/:id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDetailsVertexInfo {
    /// Flink's JobVertexID, 32 hex digits.
    pub id: String,
    /// Slot sharing group, 32 hex digits (rfy: one group).
    #[serde(rename = "slotSharingGroupId")]
    pub slot_sharing_group_id: String,
    /// Vertex name (its chained operators).
    pub name: String,
    /// Max parallelism (key groups).
    #[serde(rename = "maxParallelism")]
    pub max_parallelism: u32,
    /// Parallelism.
    pub parallelism: u32,
    /// `ExecutionState` name of the vertex (the most significant of its subtasks').
    pub status: String,
    /// First subtask start, ms; -1 before.
    #[serde(rename = "start-time")]
    pub start_time: i64,
    /// Last subtask end, ms; -1 before all ended.
    #[serde(rename = "end-time")]
    pub end_time: i64,
    /// ms; -1 before the start.
    pub duration: i64,
    /// Subtask counts by `ExecutionState` name.
    pub tasks: TaskCounts,
    /// Summed I/O counters of the subtasks.
    pub metrics: IoMetricsInfo,
}

/// Flink's `IOMetricsInfo`: records and bytes (in-memory record sizes, see ARCHITECTURE.md) in and out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct IoMetricsInfo {
    /// Records read.
    pub read_records: u64,
    /// True once every subtask ended.
    pub read_records_complete: bool,
    /// Records written.
    pub write_records: u64,
    /// True once every subtask ended.
    pub write_records_complete: bool,
    /// Bytes read.
    pub read_bytes: u64,
    /// True once every subtask ended.
    pub read_bytes_complete: bool,
    /// Bytes written.
    pub write_bytes: u64,
    /// True once every subtask ended.
    pub write_bytes_complete: bool,
    /// ms back-pressured (rfy: 0, see the backpressure route).
    pub accumulated_backpressured_time: u64,
    /// ms idle (rfy: 0).
    pub accumulated_idle_time: u64,
    /// ms busy (rfy: 0).
    pub accumulated_busy_time: f64,
}

/// Flink's `JobStatusInfo` (`GET /jobs/:id/status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStatusInfo {
    /// Flink `JobStatus` name.
    pub status: String,
}

/// Flink's `JobPlanInfo` (`GET /jobs/:id/plan`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPlanInfo {
    /// The plan.
    pub plan: Plan,
}

/// Flink's `JobPlanInfo.Plan`: the JobGraph as nodes with their inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Job id.
    pub jid: String,
    /// Job name.
    pub name: String,
    /// `STREAMING` or `BATCH`.
    #[serde(rename = "type")]
    pub job_type: String,
    /// One node per JobGraph vertex.
    pub nodes: Vec<PlanNode>,
}

/// Flink's `JobPlanInfo.Plan.Node`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanNode {
    /// JobVertexID, 32 hex digits.
    pub id: String,
    /// Parallelism.
    pub parallelism: u32,
    /// Operator (rfy: empty; the name is the description).
    pub operator: String,
    /// Operator strategy (rfy: empty).
    pub operator_strategy: String,
    /// The vertex's name.
    pub description: String,
    /// Optimizer properties (rfy: none).
    pub optimizer_properties: BTreeMap<String, String>,
    /// Input edges; empty for sources.
    pub inputs: Vec<PlanInput>,
}

/// Flink's `JobPlanInfo.Plan.Input`: one input edge of a plan node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanInput {
    /// Input number, from 0.
    pub num: u32,
    /// The producing vertex's JobVertexID.
    pub id: String,
    /// Partitioning in upper case (`FORWARD`, `HASH`, `REBALANCE`, `BROADCAST`).
    pub ship_strategy: String,
    /// Exchange mode (`pipelined_bounded`).
    pub exchange: String,
}

/// Flink's stream graph JSON (`JobDetailsInfo.stream-graph`, written by
/// `JsonPlanGenerator.generateStreamGraphJson`). rfy keeps no stream graph in
/// the JobManager: one node per JobGraph vertex, each naming its job vertex.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamGraphJson {
    /// The nodes.
    pub nodes: Vec<StreamGraphNode>,
}

/// One node of [`StreamGraphJson`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamGraphNode {
    /// Node id (rfy: the JobGraph vertex number).
    pub id: String,
    /// Parallelism.
    pub parallelism: u32,
    /// Operator name.
    pub operator: String,
    /// Description (the vertex's name).
    pub description: String,
    /// JobVertexID of the vertex that runs this node.
    pub job_vertex_id: String,
    /// Input edges; empty for sources.
    pub inputs: Vec<PlanInput>,
}

/// Flink's `JobConfigInfo` (`GET /jobs/:id/config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobConfigInfo {
    /// Job id.
    pub jid: String,
    /// Job name.
    pub name: String,
    /// The execution configuration.
    #[serde(rename = "execution-config")]
    pub execution_config: ExecutionConfigInfo,
}

/// Flink's `JobConfigInfo.ExecutionConfigInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ExecutionConfigInfo {
    /// `restart-strategy.type`, or `default`.
    pub restart_strategy: String,
    /// The largest vertex parallelism.
    pub job_parallelism: u32,
    /// Object reuse (rfy: false).
    pub object_reuse_mode: bool,
    /// The job's configuration (cluster configuration with the job's overrides).
    pub user_config: BTreeMap<String, String>,
}

/// Flink's `JobExceptionsInfoWithHistory` (`GET /jobs/:id/exceptions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobExceptionsInfoWithHistory {
    /// The root cause's stack trace text (a failed job's), else null.
    #[serde(rename = "root-exception")]
    pub root_exception: Option<String>,
    /// When the root cause happened, ms.
    pub timestamp: Option<u64>,
    /// Every failure, newest first.
    #[serde(rename = "exceptionHistory")]
    pub exception_history: JobExceptionHistory,
}

/// Flink's `JobExceptionsInfoWithHistory.JobExceptionHistory`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobExceptionHistory {
    /// Failures, newest first.
    pub entries: Vec<RootExceptionInfo>,
    /// True if entries were left out (rfy: never).
    pub truncated: bool,
}

/// Flink's `JobExceptionsInfoWithHistory.RootExceptionInfo`: one failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootExceptionInfo {
    /// Exception name (rfy: the kind of failure).
    #[serde(rename = "exceptionName")]
    pub exception_name: String,
    /// The failure's text.
    pub stacktrace: String,
    /// When it happened, ms.
    pub timestamp: u64,
    /// Failure labels (rfy: none).
    #[serde(rename = "failureLabels")]
    pub failure_labels: BTreeMap<String, String>,
    /// The failing task's name, if a task failed.
    #[serde(rename = "taskName")]
    pub task_name: Option<String>,
    /// The failing task's TaskManager address.
    pub endpoint: Option<String>,
    /// The failing task's TaskManager resource id.
    #[serde(rename = "taskManagerId")]
    pub task_manager_id: Option<String>,
    /// Concurrent failures (rfy: none).
    #[serde(rename = "concurrentExceptions")]
    pub concurrent_exceptions: Vec<RootExceptionInfo>,
}

/// Flink's `JobVertexDetailsInfo` (`GET /jobs/:id/vertices/:vid`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobVertexDetailsInfo {
    /// JobVertexID, 32 hex digits.
    pub id: String,
    /// Vertex name.
    pub name: String,
    /// Parallelism.
    pub parallelism: u32,
    /// Max parallelism.
    #[serde(rename = "maxParallelism")]
    pub max_parallelism: u32,
    /// The JobManager's clock, ms.
    pub now: u64,
    /// One entry per subtask.
    pub subtasks: Vec<SubtaskExecutionAttemptDetailsInfo>,
    /// Statistics over the subtasks.
    pub aggregated: AggregatedTaskDetailsInfo,
}

/// Flink's `AggregatedTaskDetailsInfo`: per figure, its `min`, `max`, `avg`,
/// `sum`, `median`, `p25`, `p75` and `p95` over a vertex's subtasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregatedTaskDetailsInfo {
    /// By I/O figure (`read-records`, `write-bytes`, `accumulated-busy-time`, ...).
    pub metrics: BTreeMap<String, BTreeMap<String, u64>>,
    /// By `ExecutionState` name: ms spent in it.
    #[serde(rename = "status-duration")]
    pub status_duration: BTreeMap<String, BTreeMap<String, u64>>,
}

/// Flink's `SubtaskExecutionAttemptDetailsInfo`: one subtask's current attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubtaskExecutionAttemptDetailsInfo {
    /// Subtask index.
    pub subtask: u32,
    /// `ExecutionState` name.
    pub status: String,
    /// Execution attempt number.
    pub attempt: u32,
    /// The TaskManager's address (`host:port`).
    pub endpoint: String,
    /// Start, ms; -1 before.
    #[serde(rename = "start-time")]
    pub start_time: i64,
    /// The same start, under Flink's older name (`FIELD_NAME_COMPATIBLE_START_TIME`).
    #[serde(rename = "start_time")]
    pub start_time_compatible: i64,
    /// End, ms; -1 before.
    #[serde(rename = "end-time")]
    pub end_time: i64,
    /// ms; -1 before the start.
    pub duration: i64,
    /// The subtask's I/O counters.
    pub metrics: IoMetricsInfo,
    /// The TaskManager's resource id.
    #[serde(rename = "taskmanager-id")]
    pub taskmanager_id: String,
    /// ms spent per `ExecutionState` (rfy records RUNNING only).
    #[serde(rename = "status-duration")]
    pub status_duration: BTreeMap<String, u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Deserializes `sample`, serializes it back and compares: every field of Flink's sample is read and written.
    fn round_trip<T: Serialize + for<'de> Deserialize<'de>>(sample: serde_json::Value) -> T {
        let parsed: T = serde_json::from_value(sample.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), sample);
        parsed
    }

    fn plan() -> serde_json::Value {
        json!({"jid": "a".repeat(32), "name": "WordCount", "type": "STREAMING", "nodes": [
            {"id": "b".repeat(32), "parallelism": 2, "operator": "", "operator_strategy": "", "description": "Source",
             "optimizer_properties": {}, "inputs": []},
            {"id": "c".repeat(32), "parallelism": 2, "operator": "", "operator_strategy": "", "description": "Sink",
             "optimizer_properties": {}, "inputs": [{"num": 0, "id": "b".repeat(32), "ship_strategy": "HASH", "exchange": "pipelined_bounded"}]}]})
    }

    fn io() -> serde_json::Value {
        json!({"read-records": 5, "read-records-complete": false, "write-records": 4, "write-records-complete": false,
               "read-bytes": 50, "read-bytes-complete": false, "write-bytes": 40, "write-bytes-complete": false,
               "accumulated-backpressured-time": 0, "accumulated-idle-time": 0, "accumulated-busy-time": 0.0})
    }

    #[test]
    fn jobs_overview_has_job_type_and_scheduler_type() {
        let v: MultipleJobsDetails = round_trip(json!({"jobs": [{
            "jid": "a".repeat(32), "name": "WordCount", "jobType": "STREAMING", "schedulerType": "Default",
            "state": "RUNNING", "start-time": 1000, "end-time": -1, "duration": 5, "last-modification": 1001,
            "tasks": {"running": 2, "total": 2}, "pending-operators": 0}]}));
        assert_eq!(v.jobs[0].job_type, "STREAMING");
        assert_eq!(v.jobs[0].scheduler_type, "Default");
        assert_eq!(v.jobs[0].end_time, -1);
    }

    #[test]
    fn job_details_have_application_id_timestamps_and_stream_graph() {
        let v: JobDetailsInfo = round_trip(json!({
            "jid": "a".repeat(32), "application-id": "a".repeat(32), "name": "WordCount", "isStoppable": true,
            "state": "RUNNING", "job-type": "STREAMING", "schedulerType": "Default", "start-time": 1000, "end-time": -1,
            "duration": 5, "maxParallelism": 128, "now": 1005,
            "timestamps": {"CREATED": 1000, "RUNNING": 1002, "FINISHED": 0},
            "vertices": [{"id": "b".repeat(32), "slotSharingGroupId": "0".repeat(32), "name": "Source",
                "maxParallelism": 128, "parallelism": 2, "status": "RUNNING", "start-time": 1002, "end-time": -1,
                "duration": 3, "tasks": {"RUNNING": 2}, "metrics": io()}],
            "status-counts": {"RUNNING": 2}, "plan": plan(),
            "stream-graph": {"nodes": [{"id": "0", "parallelism": 2, "operator": "Source", "description": "Source",
                "job_vertex_id": "b".repeat(32), "inputs": []}]},
            "pending-operators": 0}));
        assert_eq!(v.application_id.as_deref(), Some(&*"a".repeat(32)));
        assert_eq!(v.timestamps["RUNNING"], 1002);
        assert_eq!(v.stream_graph.nodes[0].job_vertex_id, "b".repeat(32));
        assert_eq!(v.vertices[0].metrics.read_records, 5);
    }

    #[test]
    fn a_missing_field_is_an_error_not_a_default() {
        let e = serde_json::from_value::<JobDetails>(json!({"jid": "a", "name": "n"})).unwrap_err();
        assert!(e.to_string().contains("missing field"), "{e}");
    }

    #[test]
    fn small_job_bodies_round_trip() {
        let v: JobIdsWithStatusOverview = round_trip(json!({"jobs": [{"id": "a".repeat(32), "status": "FINISHED"}]}));
        assert_eq!(v.jobs[0].status, "FINISHED");
        let v: JobStatusInfo = round_trip(json!({"status": "RUNNING"}));
        assert_eq!(v.status, "RUNNING");
        let v: JobPlanInfo = round_trip(json!({"plan": plan()}));
        assert_eq!(v.plan.nodes[1].inputs[0].ship_strategy, "HASH");
        let v: JobConfigInfo = round_trip(json!({"jid": "a", "name": "n", "execution-config": {
            "restart-strategy": "default", "job-parallelism": 2, "object-reuse-mode": false,
            "user-config": {"parallelism.default": "2"}}}));
        assert_eq!(v.execution_config.user_config["parallelism.default"], "2");
        let v: JobSubmitResponseBody = round_trip(json!({"jobUrl": "/jobs/a", "jobid": "a"}));
        assert_eq!(v.jobid, "a");
    }

    #[test]
    fn exceptions_and_vertex_details_round_trip() {
        let v: JobExceptionsInfoWithHistory = round_trip(json!({"root-exception": "boom", "timestamp": 7,
            "exceptionHistory": {"entries": [{"exceptionName": "TaskFailure", "stacktrace": "boom", "timestamp": 7,
                "failureLabels": {}, "taskName": "Map (1/2)", "endpoint": "h:1", "taskManagerId": "tm-1",
                "concurrentExceptions": []}], "truncated": false}}));
        assert_eq!(v.root_exception.as_deref(), Some("boom"));
        let v: JobVertexDetailsInfo = round_trip(json!({"id": "b".repeat(32), "name": "Source", "parallelism": 1,
            "maxParallelism": 128, "now": 9, "subtasks": [{"subtask": 0, "status": "RUNNING", "attempt": 0,
                "endpoint": "h:1", "start-time": 3, "start_time": 3, "end-time": -1, "duration": 6, "metrics": io(),
                "taskmanager-id": "tm-1", "status-duration": {"RUNNING": 6}}],
            "aggregated": {"metrics": {"read-records": {"min": 5, "max": 5, "avg": 5, "sum": 5, "median": 5,
                "p25": 5, "p75": 5, "p95": 5}}, "status-duration": {"RUNNING": {"min": 6, "max": 6, "avg": 6,
                "sum": 6, "median": 6, "p25": 6, "p75": 6, "p95": 6}}}}));
        assert_eq!(v.subtasks[0].status_duration["RUNNING"], 6);
        assert_eq!(v.aggregated.metrics["read-records"]["p95"], 5);
    }

    #[test]
    fn submission_body_refuses_unknown_fields() {
        let ok: JobSubmitRequestBody<serde_json::Value> =
            serde_json::from_value(json!({"jobGraph": {"version": 1}})).unwrap();
        assert!(ok.config.is_empty());
        assert!(
            serde_json::from_value::<JobSubmitRequestBody<serde_json::Value>>(json!({"jobGraph": {}, "x": 1})).is_err()
        );
    }
}
