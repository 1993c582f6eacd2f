//! What a JobMaster reacts to: the messages of its mailbox.

use rfy_rpc::{AcknowledgeCheckpointRequest, DeclineCheckpointRequest, TaskExecutionState, TaskMetrics};
use tokio::sync::mpsc;

use crate::checkpoint::{AbortReason, SavepointRequest};

/// The sending side of a JobMaster's mailbox.
pub(crate) type Mailbox = mpsc::UnboundedSender<JobMasterMsg>;

/// What a JobMaster reacts to.
pub(crate) enum JobMasterMsg {
    /// A TaskManager reported a task's state.
    TaskState(TaskExecutionState),
    /// A TaskManager's heartbeat carried these tasks' metrics.
    Metrics(Vec<TaskMetrics>),
    /// The user asked to cancel the job.
    Cancel,
    /// A TaskManager holding slots of this job was lost.
    TaskManagerLost { resource_id: String, reason: String },
    /// A task's part of a checkpoint is durable.
    CheckpointAck(AcknowledgeCheckpointRequest),
    /// A task could not take its part of a checkpoint.
    CheckpointDecline(DeclineCheckpointRequest),
    /// A source task read all its input and waits for its final checkpoint.
    SourceEndOfInput {
        /// The source task's execution id.
        execution_id: String,
    },
    /// A savepoint (and maybe stop) was asked for. The JobMaster records the
    /// operation under its trigger id in its next snapshot.
    TriggerSavepoint(SavepointRequest),
    /// A checkpoint was asked for now (REST `POST /jobs/:id/checkpoints`); the
    /// outcome goes to `JobStatus::checkpoint_triggers[trigger_id]` in the next snapshot.
    TriggerCheckpoint { trigger_id: String },
    /// Every descriptor of execution attempt `attempt` was answered by its
    /// TaskManager (the refused ones came first, as FAILED task states).
    DeploymentDone { attempt: u32 },
    /// The storage write completing checkpoint `id` ended (its `_metadata`
    /// is written, or the files are removed and `result` says why not).
    CheckpointWritten { id: u64, result: Result<(), AbortReason> },
}
