//! How a JobMaster reaches the TaskManagers running its tasks: the real gRPC
//! calls (`task_calls.rs`) or, in the JobMaster's unit tests, virtual
//! TaskManagers. Every call returns at once; answers that matter come back
//! to the JobMaster's mailbox, and an unreachable TaskManager is declared lost.

use std::collections::BTreeSet;

use rfy_rpc::TaskDeploymentDescriptor;

use super::messages::Mailbox;
use crate::resource_manager::SlotAssignment;

/// A checkpoint (or savepoint) barrier the sources are asked to inject.
#[derive(Debug, Clone)]
pub(crate) struct CheckpointTrigger {
    /// The job (32 hex digits).
    pub(crate) job_id: String,
    /// Checkpoint id.
    pub(crate) id: u64,
    /// Trigger time, ms since the Unix epoch.
    pub(crate) timestamp_ms: u64,
    /// A savepoint rather than a checkpoint.
    pub(crate) savepoint: bool,
    /// Stop-with-savepoint: sources stop after the barrier.
    pub(crate) stop: bool,
    /// With `stop`: sources drain before the barrier and end after the savepoint.
    pub(crate) drain: bool,
}

/// The JobMaster's calls to TaskManagers (Flink's `TaskManagerGateway` as
/// the JobMaster sees it). Slots are the job's, indexed by subtask (slot
/// sharing: subtask `i` of every vertex runs in `slots[i]`).
pub(crate) trait TaskManagerGateway: Send + Sync {
    /// Submits every descriptor of execution attempt `attempt` to the
    /// TaskManager of slot `subtask_index`. A refused or unreachable
    /// deployment comes back as a FAILED task state; once every descriptor
    /// was answered, [`super::JobMasterMsg::DeploymentDone`].
    fn submit_tasks(
        &self,
        attempt: u32,
        tdds: Vec<TaskDeploymentDescriptor>,
        slots: &[SlotAssignment],
        mailbox: &Mailbox,
    );

    /// Cancels the executions `(execution id, subtask)`; they confirm with
    /// CANCELED task states.
    fn cancel_tasks(&self, executions: Vec<(String, u32)>, slots: &[SlotAssignment]);

    /// Calls every TaskManager in `resources` (resource ids) so that a dead one is found now.
    fn probe_task_managers(&self, resources: &BTreeSet<String>, slots: &[SlotAssignment]);

    /// Asks every source subtask `(execution id, subtask)` to inject the
    /// barrier of `trigger`; a refused trigger comes back as a decline.
    fn trigger_checkpoint(
        &self,
        trigger: &CheckpointTrigger,
        sources: Vec<(String, u32)>,
        slots: &[SlotAssignment],
        mailbox: &Mailbox,
    );

    /// Tells every TaskManager in `resources` that checkpoint `id` of job
    /// `job_id` completed (two-phase-commit sinks publish).
    fn notify_checkpoint_complete(&self, job_id: &str, id: u64, resources: &BTreeSet<String>, slots: &[SlotAssignment]);
}
