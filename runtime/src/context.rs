//! What an operator instance knows about where it runs.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::checkpoint::TaskCheckpointing;
use crate::state_backend::StateBackend;
use crate::task::TaskMetrics;

/// Streaming (results are updated per record) or batch (bounded input;
/// aggregations emit only their final result), as Flink's
/// `execution.runtime-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RuntimeMode {
    /// Every keyed aggregation emits an updated result per input record.
    Streaming,
    /// Keyed aggregations emit one final result per key when input ends.
    Batch,
}

impl RuntimeMode {
    /// Parses Flink's values `STREAMING` / `BATCH` (case-insensitive);
    /// `AUTOMATIC` gives `None` (decided from the sources' boundedness).
    pub fn parse(text: &str) -> Result<Option<RuntimeMode>, String> {
        match text.to_ascii_uppercase().as_str() {
            "STREAMING" => Ok(Some(RuntimeMode::Streaming)),
            "BATCH" => Ok(Some(RuntimeMode::Batch)),
            "AUTOMATIC" => Ok(None),
            _ => Err(format!("'{text}' is not one of STREAMING, BATCH, AUTOMATIC")),
        }
    }
}

/// Identity of one operator instance (one subtask of one operator).
#[derive(Debug, Clone)]
pub struct OperatorContext {
    /// The operator's name, e.g. `Flat Map`.
    pub operator_name: String,
    /// The operator's stable id: its state is found by it in checkpoints.
    pub uid: String,
    /// The task's name, e.g. `Source: kjv.txt -> Flat Map (1/2)`.
    pub task_name: String,
    /// 0-based index of this subtask.
    pub subtask_index: u32,
    /// Number of subtasks of the operator.
    pub parallelism: u32,
    /// Number of key groups (`pipeline.max-parallelism`).
    pub max_parallelism: u32,
    /// 0 for the first execution attempt, +1 per restart.
    pub attempt: u32,
    /// The job's runtime mode.
    pub runtime_mode: RuntimeMode,
    /// The task's checkpointing hub; `None` when checkpointing is off and
    /// nothing is restored.
    pub checkpointing: Option<Arc<TaskCheckpointing>>,
    /// The task's counters, shared by its operators: e.g. a window adds the
    /// late records it dropped (`numLateRecordsDropped`), once per batch.
    pub metrics: Arc<TaskMetrics>,
    /// Where keyed operators keep their state (`state.backend.type`).
    pub state_backend: StateBackend,
}
