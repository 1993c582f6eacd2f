//! The JobMaster's calls to TaskManagers: deploy an attempt's subtasks,
//! cancel them, trigger checkpoints at sources, and notify completed
//! checkpoints. Each call runs in the background; failures come back to the
//! JobMaster as messages.

use std::collections::BTreeMap;
use std::sync::Arc;

use rfy_rpc::{
    CancelTaskRequest, ExecutionState, InputChannelDescriptor, InputGateDescriptor, NotifyCheckpointCompleteRequest,
    ResultPartitionDescriptor, TaskDeploymentDescriptor, TaskExecutionState, TriggerCheckpointRequest,
};
use rfy_runtime::checkpoint::RestoreSource;

use crate::checkpoint::Coordinator;
use crate::cluster::{read, write, Cluster, JobEntry};
use crate::job_master::{restore_fields, JobMasterMsg};
use crate::resource_manager::SlotAssignment;
use crate::status::{execution_terminal, now_ms};

/// Id of the result partition of `vertex`'s subtask `subtask` on `edge` in
/// execution attempt `attempt` (attempt second, so a TaskManager can release
/// one attempt's channels by prefix).
pub(crate) fn partition_id(job_id: &str, attempt: u32, vertex: u32, subtask: u32, edge: u32) -> String {
    format!("{job_id}.a{attempt}.{vertex}.{subtask}.e{edge}")
}

/// Deploys every subtask of attempt `attempt`, restoring from `restore`.
pub(crate) async fn deploy(
    entry: &JobEntry,
    slots: &[SlotAssignment],
    conf: &BTreeMap<String, String>,
    attempt: u32,
    coord: &Coordinator,
    restore: Option<&RestoreSource>,
) {
    let (restore_dir, restore_metadata) = restore_fields(restore);
    let checkpoint_job_dir = coord.job_dir().unwrap_or_default();
    let exactly_once = coord.settings().exactly_once;
    let final_checkpoint = coord.settings().final_checkpoint();
    let (tdds, job_id) = {
        let mut st = write(&entry.status);
        let job_id = st.job_id.clone();
        let graph_json = serde_json::to_vec(&st.graph).unwrap_or_default();
        let g = st.graph.clone();
        let mut tdds = Vec::new();
        for t in st.tasks.iter_mut() {
            let v = &g.vertices[t.vertex as usize];
            let slot = &slots[t.subtask as usize];
            let outputs = g
                .outputs_of(v.id)
                .iter()
                .map(|e| ResultPartitionDescriptor {
                    edge_index: e.index,
                    partition_id: partition_id(&job_id, attempt, v.id, t.subtask, e.index),
                    num_subpartitions: e.subpartitions(g.vertices[e.target as usize].parallelism),
                })
                .collect();
            let inputs = g
                .inputs_of(v.id)
                .iter()
                .map(|e| InputGateDescriptor {
                    edge_index: e.index,
                    channels: e
                        .consumer_channels(t.subtask, g.vertices[e.source as usize].parallelism)
                        .into_iter()
                        .map(|(p, s)| InputChannelDescriptor {
                            partition_id: partition_id(&job_id, attempt, e.source, p, e.index),
                            subpartition: s,
                            producer_resource_id: slots[p as usize].resource_id.clone(),
                            producer_data_address: slots[p as usize].address.clone(),
                        })
                        .collect(),
                })
                .collect();
            t.state = ExecutionState::Deploying;
            t.resource_id = slot.resource_id.clone();
            t.address = slot.address.clone();
            t.start_ms = now_ms();
            tdds.push((
                t.subtask as usize,
                TaskDeploymentDescriptor {
                    job_id: job_id.clone(),
                    execution_id: t.execution_id.clone(),
                    vertex_id: v.id,
                    subtask_index: t.subtask,
                    attempt_number: attempt,
                    job_program: g.program.clone(),
                    job_args: g.args.clone(),
                    job_graph_json: graph_json.clone(),
                    config: conf.clone().into_iter().collect(),
                    inputs,
                    outputs,
                    slot_index: slot.slot_index,
                    checkpoint_job_dir: checkpoint_job_dir.clone(),
                    exactly_once,
                    final_checkpoint,
                    restore_dir: restore_dir.clone(),
                    restore_metadata: restore_metadata.clone(),
                },
            ));
        }
        (tdds, job_id)
    };
    let calls = tdds.into_iter().map(|(slot, tdd)| {
        let mut client = slots[slot].client.clone();
        let (id, address) = (tdd.execution_id.clone(), slots[slot].address.clone());
        async move {
            match client.submit_task(tdd).await {
                Ok(r) if r.get_ref().ok => None,
                Ok(r) => Some((id, address, r.into_inner().message)),
                Err(s) => Some((id, address.clone(), format!("TaskManager {address} unreachable: {}", s.message()))),
            }
        }
    });
    let failures: Vec<_> = futures::future::join_all(calls).await.into_iter().flatten().collect();
    for (execution_id, _address, message) in failures {
        tracing::error!(job = %job_id, task = %execution_id, "deployment failed: {message}");
        let _ = entry.tx.send(JobMasterMsg::TaskState(TaskExecutionState {
            job_id: job_id.clone(),
            execution_id,
            state: ExecutionState::Failed as i32,
            failure: format!("deployment failed: {message}"),
            metrics: None,
            secondary: false,
        }));
    }
}

/// Cancels every task not yet terminal. A TaskManager that cannot be reached
/// is declared lost at once (its tasks fail), instead of waiting for its
/// heartbeat to time out.
pub(crate) fn cancel_tasks(cluster: &Arc<Cluster>, entry: &JobEntry, slots: &[SlotAssignment]) {
    let st = read(&entry.status);
    for t in st.tasks.iter().filter(|t| !execution_terminal(t.state) && !t.resource_id.is_empty()) {
        let mut client = slots[t.subtask as usize].client.clone();
        let req = CancelTaskRequest { execution_id: t.execution_id.clone() };
        let (cluster, resource_id, address) = (cluster.clone(), t.resource_id.clone(), t.address.clone());
        tokio::spawn(async move {
            if let Err(e) = client.cancel_task(req).await {
                if e.code() == tonic::Code::Unavailable {
                    cluster.declare_lost(
                        &resource_id,
                        format!("TaskManager {resource_id} ({address}) lost: unreachable ({})", e.message()),
                    );
                } else {
                    tracing::warn!("cancel failed: {}", e.message());
                }
            }
        });
    }
}

/// Calls every TaskManager running the job (a no-op cancel) and declares
/// the unreachable ones lost at once.
pub(crate) fn probe_task_managers(cluster: &Arc<Cluster>, entry: &JobEntry, slots: &[SlotAssignment]) {
    let resources: std::collections::BTreeSet<String> =
        read(&entry.status).tasks.iter().map(|t| t.resource_id.clone()).collect();
    let mut seen = std::collections::BTreeSet::new();
    for slot in slots.iter().filter(|s| resources.contains(&s.resource_id)) {
        if !seen.insert(slot.resource_id.clone()) {
            continue;
        }
        let mut client = slot.client.clone();
        let (cluster, resource_id, address) = (cluster.clone(), slot.resource_id.clone(), slot.address.clone());
        tokio::spawn(async move {
            if let Err(e) = client.cancel_task(CancelTaskRequest { execution_id: String::new() }).await {
                if e.code() == tonic::Code::Unavailable {
                    cluster.declare_lost(
                        &resource_id,
                        format!("TaskManager {resource_id} ({address}) lost: unreachable ({})", e.message()),
                    );
                }
            }
        });
    }
}

/// Asks every source subtask to inject barrier `id`.
pub(crate) fn trigger_sources(
    entry: &Arc<JobEntry>,
    slots: &[SlotAssignment],
    sources: Vec<(String, u32)>,
    id: u64,
    ts: u64,
    savepoint: bool,
    stop: bool,
) {
    let job_id = read(&entry.status).job_id.clone();
    for (execution_id, subtask) in sources {
        let mut client = slots[subtask as usize].client.clone();
        let req = TriggerCheckpointRequest {
            execution_id: execution_id.clone(),
            checkpoint_id: id,
            timestamp_ms: ts,
            savepoint,
            stop,
        };
        let (tx, job_id) = (entry.tx.clone(), job_id.clone());
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

/// Tells every TaskManager running the job that checkpoint `id` completed.
pub(crate) fn notify_complete(entry: &JobEntry, slots: &[SlotAssignment], job_id: &str, id: u64) {
    let resources: std::collections::BTreeSet<String> =
        read(&entry.status).tasks.iter().map(|t| t.resource_id.clone()).collect();
    for slot in slots.iter().filter(|s| resources.contains(&s.resource_id)) {
        if slots.iter().position(|x| x.resource_id == slot.resource_id)
            != slots.iter().position(|x| std::ptr::eq(x, slot))
        {
            continue; // one call per TaskManager
        }
        let mut client = slot.client.clone();
        let req = NotifyCheckpointCompleteRequest { job_id: job_id.to_string(), checkpoint_id: id };
        tokio::spawn(async move {
            if let Err(e) = client.notify_checkpoint_complete(req).await {
                tracing::warn!(checkpoint = id, "cannot notify checkpoint completion: {}", e.message());
            }
        });
    }
}
