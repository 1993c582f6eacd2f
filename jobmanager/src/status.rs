//! The JobManager's view of jobs and their tasks (Flink's ExecutionGraph,
//! reduced to what the REST API and the JobMaster need).
//!
//! [`JobStatus`] is owned by the job's JobMaster, which alone changes it;
//! readers (REST handlers, the web UI, the ApplicationMaster) get a
//! [`JobSnapshot`]: an immutable copy the JobMaster publishes each time it is
//! about to wait for its next event. Reading never takes a JobMaster lock.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rfy_rpc::ExecutionState;
use rfy_runtime::JobGraph;
use serde::Serialize;

use crate::checkpoint::CheckpointStats;

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// A job's state, with Flink's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    /// Accepted, waiting for slots.
    Created,
    /// Tasks are deployed or running.
    Running,
    /// A task failed; the others are being canceled.
    Failing,
    /// A task failed; the job is being restarted from its last checkpoint.
    Restarting,
    /// The job failed.
    Failed,
    /// Cancellation asked; tasks are being canceled.
    Cancelling,
    /// The job was canceled.
    Canceled,
    /// Every task finished.
    Finished,
}

impl JobState {
    /// True for FINISHED, FAILED and CANCELED.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobState::Finished | JobState::Failed | JobState::Canceled)
    }

    /// Flink's name, e.g. `RUNNING`.
    pub fn name(self) -> &'static str {
        match self {
            JobState::Created => "CREATED",
            JobState::Running => "RUNNING",
            JobState::Failing => "FAILING",
            JobState::Restarting => "RESTARTING",
            JobState::Failed => "FAILED",
            JobState::Cancelling => "CANCELLING",
            JobState::Canceled => "CANCELED",
            JobState::Finished => "FINISHED",
        }
    }
}

/// Flink's name of a task state.
pub fn execution_state_name(s: ExecutionState) -> &'static str {
    match s {
        ExecutionState::Unspecified | ExecutionState::Created => "CREATED",
        ExecutionState::Scheduled => "SCHEDULED",
        ExecutionState::Deploying => "DEPLOYING",
        ExecutionState::Initializing => "INITIALIZING",
        ExecutionState::Running => "RUNNING",
        ExecutionState::Finished => "FINISHED",
        ExecutionState::Canceling => "CANCELING",
        ExecutionState::Canceled => "CANCELED",
        ExecutionState::Failed => "FAILED",
    }
}

/// True for FINISHED, CANCELED, FAILED.
pub(crate) fn execution_terminal(s: ExecutionState) -> bool {
    matches!(s, ExecutionState::Finished | ExecutionState::Canceled | ExecutionState::Failed)
}

/// One subtask's current execution.
#[derive(Debug, Clone)]
pub struct TaskStatus {
    /// JobGraph vertex.
    pub vertex: u32,
    /// 0-based subtask index.
    pub subtask: u32,
    /// Execution attempt id.
    pub execution_id: String,
    /// Current state.
    pub state: ExecutionState,
    /// TaskManager it runs on ("" before deployment).
    pub resource_id: String,
    /// `host:port` of that TaskManager.
    pub address: String,
    /// Records read (source records for sources), records written, bytes in, bytes out.
    pub metrics: (u64, u64, u64, u64),
    /// ms since epoch; 0 = not yet.
    pub start_ms: u64,
    /// ms since epoch; 0 = not yet.
    pub end_ms: u64,
    /// Failure text when FAILED.
    pub failure: String,
}

/// A recorded failure (Flink's exception history entry).
#[derive(Debug, Clone, Serialize)]
pub struct ExceptionEntry {
    /// The error text.
    #[serde(rename = "exceptionName")]
    pub name: String,
    /// The error text with its causes.
    pub stacktrace: String,
    /// ms since epoch.
    pub timestamp: u64,
    /// Task that failed, if any.
    #[serde(rename = "taskName")]
    pub task_name: Option<String>,
    /// `host:port` of its TaskManager, if any.
    pub location: Option<String>,
    /// True for the entry that failed the job (the root cause).
    #[serde(skip)]
    pub root: bool,
}

/// A published, immutable copy of one job's [`JobStatus`]: the JobGraph,
/// every task's state, location and metrics, checkpoint statistics,
/// savepoint operations and the exception history. Cheap to clone.
pub type JobSnapshot = Arc<JobStatus>;

/// One job as the JobManager tracks it.
#[derive(Debug, Clone)]
pub struct JobStatus {
    /// 32 hex digits.
    pub job_id: String,
    /// The job's name.
    pub name: String,
    /// Current state.
    pub state: JobState,
    /// ms since epoch when submitted.
    pub start_ms: u64,
    /// ms since epoch when it reached a terminal state (0 = not yet).
    pub end_ms: u64,
    /// When each state was entered, ms since epoch.
    pub timestamps: Vec<(JobState, u64)>,
    /// The JobGraph (shared between the JobMaster's state and its snapshots).
    pub graph: Arc<JobGraph>,
    /// Every subtask, vertex by vertex.
    pub tasks: Vec<TaskStatus>,
    /// Failures, oldest first; the last is the root cause of a FAILED job.
    pub exceptions: Vec<ExceptionEntry>,
    /// Checkpoint statistics.
    pub checkpoints: CheckpointStats,
    /// Savepoint operations by REST trigger id.
    pub savepoints: BTreeMap<String, SavepointOp>,
    /// Current execution attempt (0 first, +1 per restart).
    pub attempt: u32,
    /// The job's configuration (cluster configuration with the job's overrides), as shipped to its tasks.
    pub config: BTreeMap<String, String>,
    /// Manual checkpoints asked for through REST (`POST /jobs/:id/checkpoints`) by
    /// trigger id: `None` until the JobMaster took it up, then the checkpoint's
    /// id, or why none could be triggered.
    pub checkpoint_triggers: BTreeMap<String, Option<Result<u64, String>>>,
}

/// A savepoint asked for through REST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SavepointOp {
    /// Triggered.
    InProgress,
    /// Done: its directory.
    Completed(String),
    /// Failed: why.
    Failed(String),
}

impl JobStatus {
    pub(crate) fn new(job_id: String, graph: JobGraph) -> Self {
        let now = now_ms();
        let tasks = graph
            .vertices
            .iter()
            .flat_map(|v| {
                let job_id = job_id.clone();
                (0..v.parallelism).map(move |i| TaskStatus {
                    vertex: v.id,
                    subtask: i,
                    execution_id: format!("{job_id}.{}.{i}.0", v.id),
                    state: ExecutionState::Created,
                    resource_id: String::new(),
                    address: String::new(),
                    metrics: (0, 0, 0, 0),
                    start_ms: 0,
                    end_ms: 0,
                    failure: String::new(),
                })
            })
            .collect();
        JobStatus {
            job_id,
            name: graph.job_name.clone(),
            state: JobState::Created,
            start_ms: now,
            end_ms: 0,
            timestamps: vec![(JobState::Created, now)],
            graph: Arc::new(graph),
            tasks,
            exceptions: Vec::new(),
            checkpoints: CheckpointStats::default(),
            savepoints: BTreeMap::new(),
            attempt: 0,
            config: BTreeMap::new(),
            checkpoint_triggers: BTreeMap::new(),
        }
    }

    /// Starts execution attempt `attempt`: every task gets a new execution id
    /// (`<job>.<vertex>.<subtask>.<attempt>`) and goes back to CREATED.
    pub(crate) fn reset_tasks(&mut self, attempt: u32) {
        self.attempt = attempt;
        for t in &mut self.tasks {
            t.execution_id = format!("{}.{}.{}.{attempt}", self.job_id, t.vertex, t.subtask);
            t.state = ExecutionState::Created;
            t.resource_id.clear();
            t.address.clear();
            t.metrics = (0, 0, 0, 0);
            t.start_ms = 0;
            t.end_ms = 0;
            t.failure.clear();
        }
    }

    pub(crate) fn set_state(&mut self, state: JobState) {
        if self.state == state {
            return;
        }
        let now = now_ms();
        tracing::info!(job = %self.job_id, from = self.state.name(), to = state.name(), "job state changed");
        self.state = state;
        self.timestamps.push((state, now));
        if state.is_terminal() {
            self.end_ms = now;
        }
    }

    /// Duration so far or in total, ms.
    pub fn duration_ms(&self) -> u64 {
        let end = if self.end_ms > 0 { self.end_ms } else { now_ms() };
        end.saturating_sub(self.start_ms)
    }

    /// Counts of tasks per state name.
    pub fn task_counts(&self, vertex: Option<u32>) -> std::collections::BTreeMap<&'static str, u32> {
        let mut counts: std::collections::BTreeMap<&'static str, u32> = [
            "CREATED",
            "SCHEDULED",
            "DEPLOYING",
            "INITIALIZING",
            "RUNNING",
            "FINISHED",
            "CANCELING",
            "CANCELED",
            "FAILED",
        ]
        .into_iter()
        .map(|s| (s, 0))
        .collect();
        for t in self.tasks.iter().filter(|t| vertex.is_none_or(|v| t.vertex == v)) {
            *counts.entry(execution_state_name(t.state)).or_insert(0) += 1;
        }
        counts
    }

    /// The entry that failed the job, if any.
    pub fn root_exception(&self) -> Option<&ExceptionEntry> {
        self.exceptions.iter().rev().find(|e| e.root)
    }
}
