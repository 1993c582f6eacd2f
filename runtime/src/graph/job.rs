//! The JobGraph: what the JobManager schedules. Pure data (serde), versioned.

use serde::{Deserialize, Serialize};

use super::stream::{ExecutionConfig, Partitioning};
use crate::context::RuntimeMode;

/// Version of the JobGraph's JSON layout; bumped on incompatible changes.
pub const JOB_GRAPH_VERSION: u32 = 1;

/// One operator inside a vertex's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainedOperator {
    /// The StreamGraph node id.
    pub node_id: usize,
    /// Display name.
    pub name: String,
    /// Stable id for state.
    pub uid: String,
}

/// A vertex: a chain of operators run as one task per subtask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobVertex {
    /// Index in [`JobGraph::vertices`] (topological order).
    pub id: u32,
    /// The chain's operator names joined by ` -> `, as Flink names vertices.
    pub name: String,
    /// Number of subtasks.
    pub parallelism: u32,
    /// Number of key groups.
    pub max_parallelism: u32,
    /// The chained operators, head first.
    pub operators: Vec<ChainedOperator>,
}

/// A connection between two vertices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEdge {
    /// Index in [`JobGraph::edges`].
    pub index: u32,
    /// Producer vertex.
    pub source: u32,
    /// Consumer vertex.
    pub target: u32,
    /// Distribution of records over the consumer's subtasks.
    pub partitioning: Partitioning,
    /// The StreamGraph edge this is made from.
    pub stream_edge: usize,
}

/// The job as the JobManager sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobGraph {
    /// [`JOB_GRAPH_VERSION`] of the writer.
    pub version: u32,
    /// The job's name.
    pub job_name: String,
    /// The program that builds the operators: a built-in job's name.
    pub program: String,
    /// The program's arguments.
    pub args: Vec<String>,
    /// The settings the program was built with (default parallelism, ...).
    pub config: ExecutionConfig,
    /// The resolved runtime mode.
    pub runtime_mode: RuntimeMode,
    /// Number of key groups.
    pub max_parallelism: u32,
    /// Vertices in topological order.
    pub vertices: Vec<JobVertex>,
    /// Edges between vertices.
    pub edges: Vec<JobEdge>,
}

impl JobGraph {
    /// Slots the job needs with slot sharing: its highest parallelism.
    pub fn required_slots(&self) -> u32 {
        self.vertices.iter().map(|v| v.parallelism).max().unwrap_or(0)
    }

    /// Edges into vertex `v`, by edge index.
    pub fn inputs_of(&self, v: u32) -> Vec<&JobEdge> {
        self.edges.iter().filter(|e| e.target == v).collect()
    }

    /// Edges out of vertex `v`, by edge index.
    pub fn outputs_of(&self, v: u32) -> Vec<&JobEdge> {
        self.edges.iter().filter(|e| e.source == v).collect()
    }

    /// Total subtasks of all vertices.
    pub fn total_tasks(&self) -> u32 {
        self.vertices.iter().map(|v| v.parallelism).sum()
    }
}

impl JobEdge {
    /// Subpartitions of each producer subtask's result partition on this edge:
    /// 1 for forward (subtask i feeds consumer i), else one per consumer.
    pub fn subpartitions(&self, target_parallelism: u32) -> u32 {
        if self.partitioning == Partitioning::Forward {
            1
        } else {
            target_parallelism
        }
    }

    /// The `(producer subtask, subpartition)` pairs consumer subtask
    /// `consumer` reads on this edge, in producer order.
    pub fn consumer_channels(&self, consumer: u32, source_parallelism: u32) -> Vec<(u32, u32)> {
        if self.partitioning == Partitioning::Forward {
            vec![(consumer, 0)]
        } else {
            (0..source_parallelism).map(|p| (p, consumer)).collect()
        }
    }
}
