//! Instantiates one subtask of a JobGraph vertex from the StreamGraph: the
//! tail's output writers first, then every chained operator from tail to
//! head, then the head (a source driver or the input gate).

use super::output::AnyOutput;
use super::{TaskControl, TaskHead};
use crate::api::SideOutputs;
use crate::context::OperatorContext;
use crate::error::TaskError;
use crate::exchange::{ChannelReceiver, ChannelSender, ExchangeSettings};
use crate::graph::{JobGraph, NodeBuilder, StreamGraph, StreamType};
use std::sync::Arc;

/// The channels and identity of one subtask to build.
pub struct TaskSpec {
    /// The JobGraph vertex.
    pub vertex_id: u32,
    /// 0-based subtask index.
    pub subtask_index: u32,
    /// Execution attempt (0 first).
    pub attempt: u32,
    /// Input channels, one list per input edge of the vertex in edge-index
    /// order; a list holds one receiver per producer subtask (one for forward).
    pub inputs: Vec<Vec<ChannelReceiver>>,
    /// Output channels, one list per output edge in edge-index order; a list
    /// holds one sender per consumer subtask (one for forward).
    pub outputs: Vec<Vec<ChannelSender>>,
    /// Exchange tunables.
    pub settings: ExchangeSettings,
}

/// The display name of subtask `index` of a vertex, as Flink writes it:
/// `Source: kjv.txt -> Flat Map (1/2)`.
pub fn task_name(vertex_name: &str, index: u32, parallelism: u32) -> String {
    format!("{vertex_name} ({}/{parallelism})", index + 1)
}

/// Builds the task for `spec`.
///
/// Errors: [`TaskError::Mismatch`] if the StreamGraph and the JobGraph do not
/// fit together; any error a connector raises while opening (e.g. a missing
/// input file, naming it).
pub fn build_task(
    stream: &StreamGraph,
    job: &JobGraph,
    spec: TaskSpec,
    control: &TaskControl,
) -> Result<Box<dyn TaskHead>, TaskError> {
    let vertex = job
        .vertices
        .get(spec.vertex_id as usize)
        .ok_or_else(|| TaskError::Mismatch(format!("no vertex {} in the JobGraph", spec.vertex_id)))?;
    let name = task_name(&vertex.name, spec.subtask_index, vertex.parallelism);
    let runtime_mode = job.runtime_mode;
    let ctx_for = |node: usize| -> Result<OperatorContext, TaskError> {
        let n =
            stream.nodes.get(node).ok_or_else(|| TaskError::Mismatch(format!("no operator {node} in the program")))?;
        Ok(OperatorContext {
            operator_name: n.name.clone(),
            uid: n.uid.clone(),
            task_name: name.clone(),
            subtask_index: spec.subtask_index,
            parallelism: vertex.parallelism,
            max_parallelism: job.max_parallelism,
            attempt: spec.attempt,
            runtime_mode,
            checkpointing: control.checkpointing.clone(),
            metrics: control.metrics.clone(),
            state_backend: control.state_backend.clone(),
        })
    };
    let (Some(head), Some(tail)) = (vertex.operators.first(), vertex.operators.last()) else {
        return Err(TaskError::Mismatch(format!("vertex {} has no operators", vertex.id)));
    };
    let tail_ctx = ctx_for(tail.node_id)?;
    let tail_node = &stream.nodes[tail.node_id];

    // 1. Output writers of the chain's tail.
    let out_edges = job.outputs_of(vertex.id);
    if out_edges.len() != spec.outputs.len() {
        return Err(TaskError::Mismatch(format!(
            "{name}: {} output edges, {} channel lists",
            out_edges.len(),
            spec.outputs.len()
        )));
    }
    let mut writers: Vec<AnyOutput> = Vec::new();
    // Side outputs of the tail, by tag: (tag, record type, writers).
    let mut side: Vec<(String, Arc<dyn StreamType>, Vec<AnyOutput>)> = Vec::new();
    for (edge, senders) in out_edges.iter().zip(spec.outputs) {
        let se = stream
            .edges
            .get(edge.stream_edge)
            .ok_or_else(|| TaskError::Mismatch(format!("no stream edge {}", edge.stream_edge)))?;
        let w = se.writer.build(edge.partitioning, senders, &tail_ctx, &spec.settings, control)?;
        match &se.side_output {
            None => writers.push(w),
            Some((tag, ty)) => match side.iter_mut().find(|(t, _, _)| t == tag) {
                Some((_, _, ws)) => ws.push(w),
                None => side.push((tag.clone(), ty.clone(), vec![w])),
            },
        }
    }
    let mut out = match writers.len() {
        0 => tail_node.out_type.discard(),
        1 => writers.pop().expect("one writer"),
        _ => tail_node.out_type.fan_out(writers, &name)?,
    };
    let mut side_outputs = SideOutputs::default();
    for (tag, ty, mut ws) in side {
        let o = if ws.len() == 1 { ws.pop().expect("one writer") } else { ty.fan_out(ws, &name)? };
        ty.side_output(&tag, o, &mut side_outputs)?;
    }

    // 2. Chained operators, tail to head.
    for (pos, op) in vertex.operators.iter().enumerate().rev() {
        let ctx = ctx_for(op.node_id)?;
        match &stream.nodes[op.node_id].builder {
            NodeBuilder::Operator(b) if pos + 1 == vertex.operators.len() && !side_outputs.is_empty() => {
                out = b.build_with_side_outputs(&ctx, out, std::mem::take(&mut side_outputs))?
            }
            NodeBuilder::Operator(b) => out = b.build(&ctx, out)?,
            NodeBuilder::Source(s) if pos == 0 => return s.build(&ctx, out),
            NodeBuilder::Source(_) => return Err(TaskError::Mismatch(format!("{name}: a source inside a chain"))),
        }
    }

    // 3. The input gate, decoding the upstream operator's record type.
    let in_edges = job.inputs_of(vertex.id);
    let first = in_edges
        .first()
        .ok_or_else(|| TaskError::Mismatch(format!("{name}: operator '{}' has no input", head.name)))?;
    let upstream = stream
        .edges
        .get(first.stream_edge)
        .ok_or_else(|| TaskError::Mismatch(format!("no stream edge {}", first.stream_edge)))?;
    // A side output's consumer reads the side output's type, not the producer's main type.
    let in_type = match &upstream.side_output {
        Some((_, ty)) => ty.clone(),
        None => stream.nodes[upstream.source].out_type.clone(),
    };
    let receivers: Vec<ChannelReceiver> = spec.inputs.into_iter().flatten().collect();
    in_type.network_input(receivers, out, &spec.settings, &name)
}
