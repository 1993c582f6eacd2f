//! Task deployment descriptors: a pure function of the JobGraph, the
//! execution attempt and the slots (no I/O, no shared state). The JobMaster
//! sends them through its `TaskManagerGateway` (gRPC: `task_calls.rs`).

use std::collections::BTreeMap;

use rfy_rpc::{InputChannelDescriptor, InputGateDescriptor, ResultPartitionDescriptor, TaskDeploymentDescriptor};
use rfy_runtime::JobGraph;

use crate::resource_manager::SlotLocation;

/// Id of the result partition of `vertex`'s subtask `subtask` on `edge` in
/// execution attempt `attempt` (attempt second, so a TaskManager can release
/// one attempt's channels by prefix).
pub(crate) fn partition_id(job_id: &str, attempt: u32, vertex: u32, subtask: u32, edge: u32) -> String {
    format!("{job_id}.a{attempt}.{vertex}.{subtask}.e{edge}")
}

/// Execution id of a subtask in an attempt: `<job>.<vertex>.<subtask>.<attempt>`.
pub(crate) fn execution_id(job_id: &str, vertex: u32, subtask: u32, attempt: u32) -> String {
    format!("{job_id}.{vertex}.{subtask}.{attempt}")
}

/// What every descriptor of one attempt shares besides the graph and slots.
#[derive(Debug, Clone, Default)]
pub(crate) struct AttemptSpec {
    /// The job's id (32 hex digits).
    pub(crate) job_id: String,
    /// Execution attempt, 0 first.
    pub(crate) attempt: u32,
    /// The configuration shipped to the tasks.
    pub(crate) conf: BTreeMap<String, String>,
    /// The JobGraph as JSON (serialized once per job by the JobMaster, which
    /// fails the job if that fails).
    pub(crate) job_graph_json: Vec<u8>,
    /// `<state.checkpoints.dir>/<job>` ("" without checkpointing).
    pub(crate) checkpoint_job_dir: String,
    /// Exactly-once barrier alignment.
    pub(crate) exactly_once: bool,
    /// Final checkpoint mode: finished tasks keep taking part in checkpoints.
    pub(crate) final_checkpoint: bool,
    /// Checkpoint directory to restore from ("" for none).
    pub(crate) restore_dir: String,
    /// That checkpoint's `_metadata` image (empty for none).
    pub(crate) restore_metadata: Vec<u8>,
}

/// One descriptor per subtask, vertex by vertex, subtask by subtask (the
/// order of `JobStatus::tasks`). Slot sharing: subtask `i` of every vertex
/// goes to `slots[i]`, so `slots` must hold at least the graph's highest
/// parallelism (`JobGraph::required_slots`).
pub(crate) fn task_deployments(
    g: &JobGraph,
    slots: &[SlotLocation],
    spec: &AttemptSpec,
) -> Vec<TaskDeploymentDescriptor> {
    let job_id = &spec.job_id;
    let attempt = spec.attempt;
    let config: Vec<(String, String)> = spec.conf.clone().into_iter().collect();
    let mut out = Vec::new();
    for v in &g.vertices {
        for subtask in 0..v.parallelism {
            let outputs = g
                .outputs_of(v.id)
                .iter()
                .map(|e| ResultPartitionDescriptor {
                    edge_index: e.index,
                    partition_id: partition_id(job_id, attempt, v.id, subtask, e.index),
                    num_subpartitions: e.subpartitions(g.vertices[e.target as usize].parallelism),
                })
                .collect();
            let inputs = g
                .inputs_of(v.id)
                .iter()
                .map(|e| InputGateDescriptor {
                    edge_index: e.index,
                    channels: e
                        .consumer_channels(subtask, g.vertices[e.source as usize].parallelism)
                        .into_iter()
                        .map(|(p, s)| InputChannelDescriptor {
                            partition_id: partition_id(job_id, attempt, e.source, p, e.index),
                            subpartition: s,
                            producer_resource_id: slots[p as usize].resource_id.clone(),
                            producer_data_address: slots[p as usize].address.clone(),
                        })
                        .collect(),
                })
                .collect();
            out.push(TaskDeploymentDescriptor {
                job_id: job_id.clone(),
                execution_id: execution_id(job_id, v.id, subtask, attempt),
                vertex_id: v.id,
                subtask_index: subtask,
                attempt_number: attempt,
                job_program: g.program.clone(),
                job_args: g.args.clone(),
                job_graph_json: spec.job_graph_json.clone(),
                config: config.clone().into_iter().collect(),
                inputs,
                outputs,
                slot_index: slots[subtask as usize].slot_index,
                checkpoint_job_dir: spec.checkpoint_job_dir.clone(),
                exactly_once: spec.exactly_once,
                final_checkpoint: spec.final_checkpoint,
                restore_dir: spec.restore_dir.clone(),
                restore_metadata: spec.restore_metadata.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rfy_runtime::ExecutionConfig;

    /// A small keyed job: source (p) -> hash -> reduce (p) (the jobmanager does not depend on rfy-jobs).
    fn keyed_graph(p: u32) -> JobGraph {
        let env =
            rfy_runtime::StreamExecutionEnvironment::new(ExecutionConfig { parallelism: p, ..Default::default() });
        env.from_collection(vec![1u64, 2, 3]).key_by(|x: &u64| *x).reduce(|a, b| a + b).discard();
        env.into_stream_graph("t", &[]).job_graph().unwrap()
    }

    #[test]
    fn descriptors_wire_every_channel_to_the_producers_slot() {
        let g = keyed_graph(2);
        let slots: Vec<SlotLocation> = (0..2)
            .map(|i| SlotLocation { resource_id: format!("tm{i}"), slot_index: 0, address: format!("h{i}:1") })
            .collect();
        let spec = AttemptSpec { job_id: "j".into(), attempt: 3, ..Default::default() };
        let tdds = task_deployments(&g, &slots, &spec);
        let total: u32 = g.vertices.iter().map(|v| v.parallelism).sum();
        assert_eq!(tdds.len() as u32, total);
        assert!(tdds.iter().all(|t| t.attempt_number == 3 && t.execution_id.ends_with(".3")));
        let consumer = tdds.iter().rev().find(|t| !t.inputs.is_empty()).expect("a consumer");
        let channels = &consumer.inputs[0].channels;
        assert!(!channels.is_empty());
        for ch in channels {
            assert!(ch.partition_id.starts_with("j.a3."), "{}", ch.partition_id);
            // <job>.a<attempt>.<vertex>.<producer subtask>.e<edge>
            let p: usize = ch.partition_id.split('.').nth(3).unwrap().parse().unwrap();
            assert_eq!(ch.producer_resource_id, format!("tm{p}"));
            assert_eq!(ch.producer_data_address, format!("h{p}:1"));
        }
        assert_eq!(task_deployments(&g, &slots, &spec), tdds, "pure: same inputs, same descriptors");
    }
}
