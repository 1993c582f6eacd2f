//! The JobMaster's calls to TaskManagers over gRPC ([`RpcTaskManagers`], the
//! production [`TaskManagerGateway`]): submit an attempt's tasks, cancel
//! them, probe their TaskManagers, trigger checkpoints at sources and notify
//! completed checkpoints. Each call runs in the background; failures come
//! back to the JobMaster as messages on its own channel, and an unreachable
//! TaskManager is declared lost at the ResourceManager.

use std::collections::BTreeSet;
use std::sync::Arc;

use rfy_rpc::{
    CancelTaskRequest, ExecutionState, NotifyCheckpointCompleteRequest, TaskDeploymentDescriptor, TaskExecutionState,
    TriggerCheckpointRequest,
};

use crate::job_master::{CheckpointTrigger, JobMasterMsg, Mailbox, TaskManagerGateway};
use crate::resource_manager::{ResourceManager, SlotAssignment};

/// The JobMaster's gRPC calls to TaskManagers (`TaskExecutorGateway`).
pub(crate) struct RpcTaskManagers {
    /// Where unreachable TaskManagers are declared lost.
    pub(crate) rm: Arc<ResourceManager>,
}

impl TaskManagerGateway for RpcTaskManagers {
    fn submit_tasks(
        &self,
        attempt: u32,
        tdds: Vec<TaskDeploymentDescriptor>,
        slots: &[SlotAssignment],
        mailbox: &Mailbox,
    ) {
        let (slots, mailbox) = (slots.to_vec(), mailbox.clone());
        tokio::spawn(async move {
            submit_tasks(tdds, &slots, &mailbox).await;
            let _ = mailbox.send(JobMasterMsg::DeploymentDone { attempt });
        });
    }

    fn cancel_tasks(&self, executions: Vec<(String, u32)>, slots: &[SlotAssignment]) {
        cancel_tasks(&self.rm, executions, slots)
    }

    fn probe_task_managers(&self, resources: &BTreeSet<String>, slots: &[SlotAssignment]) {
        probe_task_managers(&self.rm, resources, slots)
    }

    fn trigger_checkpoint(
        &self,
        trigger: &CheckpointTrigger,
        sources: Vec<(String, u32)>,
        slots: &[SlotAssignment],
        mailbox: &Mailbox,
    ) {
        trigger_sources(mailbox, trigger, slots, sources)
    }

    fn notify_checkpoint_complete(
        &self,
        job_id: &str,
        id: u64,
        resources: &BTreeSet<String>,
        slots: &[SlotAssignment],
    ) {
        notify_complete(job_id, resources, slots, id)
    }
}

/// Submits every descriptor to the TaskManager of slot `subtask_index`;
/// waits for the answers and reports refused or unreachable deployments as
/// FAILED task states.
async fn submit_tasks(tdds: Vec<TaskDeploymentDescriptor>, slots: &[SlotAssignment], tx: &Mailbox) {
    let calls = tdds.into_iter().map(|tdd| {
        let slot = &slots[tdd.subtask_index as usize];
        let mut client = slot.client.clone();
        let (job, id, address) = (tdd.job_id.clone(), tdd.execution_id.clone(), slot.location.address.clone());
        async move {
            match client.submit_task(tdd).await {
                Ok(r) if r.get_ref().ok => None,
                Ok(r) => Some((job, id, r.into_inner().message)),
                Err(s) => Some((job, id, format!("TaskManager {address} unreachable: {}", s.message()))),
            }
        }
    });
    let failures: Vec<_> = futures::future::join_all(calls).await.into_iter().flatten().collect();
    for (job_id, execution_id, message) in failures {
        tracing::error!(job = %job_id, task = %execution_id, "deployment failed: {message}");
        let _ = tx.send(JobMasterMsg::TaskState(TaskExecutionState {
            job_id,
            execution_id,
            state: ExecutionState::Failed as i32,
            failure: format!("deployment failed: {message}"),
            metrics: None,
            secondary: false,
            ..Default::default()
        }));
    }
}

/// Declares `slot`'s TaskManager lost at once when a call found it unreachable.
fn lost_if_unreachable(rm: &ResourceManager, slot: &SlotAssignment, e: &tonic::Status) -> bool {
    if e.code() != tonic::Code::Unavailable {
        return false;
    }
    let (id, address) = (&slot.location.resource_id, &slot.location.address);
    rm.declare_lost(id, format!("TaskManager {id} ({address}) lost: unreachable ({})", e.message()));
    true
}

/// Cancels the executions `(execution id, subtask)`. A TaskManager that
/// cannot be reached is declared lost at once (its tasks fail), instead of
/// waiting for its heartbeat to time out.
fn cancel_tasks(rm: &Arc<ResourceManager>, executions: Vec<(String, u32)>, slots: &[SlotAssignment]) {
    for (execution_id, subtask) in executions {
        let slot = slots[subtask as usize].clone();
        let rm = rm.clone();
        tokio::spawn(async move {
            let mut client = slot.client.clone();
            if let Err(e) = client.cancel_task(CancelTaskRequest { execution_id }).await {
                if !lost_if_unreachable(&rm, &slot, &e) {
                    tracing::warn!("cancel failed: {}", e.message());
                }
            }
        });
    }
}

/// One slot per distinct TaskManager among `resources`.
fn one_per_task_manager<'a>(slots: &'a [SlotAssignment], resources: &BTreeSet<String>) -> Vec<&'a SlotAssignment> {
    let mut seen = BTreeSet::new();
    slots
        .iter()
        .filter(|s| resources.contains(&s.location.resource_id) && seen.insert(s.location.resource_id.clone()))
        .collect()
}

/// Calls every TaskManager in `resources` (a no-op cancel) and declares the
/// unreachable ones lost at once.
fn probe_task_managers(rm: &Arc<ResourceManager>, resources: &BTreeSet<String>, slots: &[SlotAssignment]) {
    for slot in one_per_task_manager(slots, resources) {
        let (slot, rm) = (slot.clone(), rm.clone());
        tokio::spawn(async move {
            let mut client = slot.client.clone();
            if let Err(e) = client.cancel_task(CancelTaskRequest { execution_id: String::new() }).await {
                lost_if_unreachable(&rm, &slot, &e);
            }
        });
    }
}

/// Asks every source subtask `(execution id, subtask)` to inject the
/// barrier of `trigger`; a refused trigger comes back as a decline.
fn trigger_sources(tx: &Mailbox, trigger: &CheckpointTrigger, slots: &[SlotAssignment], sources: Vec<(String, u32)>) {
    let id = trigger.id;
    for (execution_id, subtask) in sources {
        let mut client = slots[subtask as usize].client.clone();
        let req = TriggerCheckpointRequest {
            execution_id: execution_id.clone(),
            checkpoint_id: id,
            timestamp_ms: trigger.timestamp_ms,
            savepoint: trigger.savepoint,
            stop: trigger.stop,
            drain: trigger.drain,
        };
        let (tx, job_id) = (tx.clone(), trigger.job_id.clone());
        tokio::spawn(async move {
            let reason = match client.trigger_checkpoint(req).await {
                Ok(r) if r.get_ref().ok => return,
                Ok(r) => r.into_inner().message,
                Err(s) => s.message().to_string(),
            };
            let _ = tx.send(JobMasterMsg::CheckpointDecline(rfy_rpc::DeclineCheckpointRequest {
                job_id,
                execution_id,
                checkpoint_id: id,
                reason: format!("trigger failed: {reason}"),
            }));
        });
    }
}

/// Tells every TaskManager in `resources` that checkpoint `id` completed.
fn notify_complete(job_id: &str, resources: &BTreeSet<String>, slots: &[SlotAssignment], id: u64) {
    for slot in one_per_task_manager(slots, resources) {
        let mut client = slot.client.clone();
        let req = NotifyCheckpointCompleteRequest { job_id: job_id.to_string(), checkpoint_id: id };
        tokio::spawn(async move {
            if let Err(e) = client.notify_checkpoint_complete(req).await {
                tracing::warn!(checkpoint = id, "cannot notify checkpoint completion: {}", e.message());
            }
        });
    }
}
