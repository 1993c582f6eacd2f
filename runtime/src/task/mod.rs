//! Tasks: one chain of operators for one subtask, run on its own thread.

pub mod build;
pub(crate) mod output;
mod threads;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

pub use build::{build_task, TaskSpec};
pub use output::Output;
pub use threads::{run_job_in_threads, run_local};

use crate::error::TaskError;

/// Counters of one running task, read by the TaskManager for heartbeats.
/// Updated once per batch (relaxed atomics), never per record.
#[derive(Debug, Default)]
pub struct TaskMetrics {
    /// Records the task received (from its source or its input channels).
    pub records_in: AtomicU64,
    /// Records the task sent to its output channels.
    pub records_out: AtomicU64,
    /// Bytes received from input channels.
    pub bytes_in: AtomicU64,
    /// Bytes sent to output channels.
    pub bytes_out: AtomicU64,
}

impl TaskMetrics {
    /// `(records_in, records_out, bytes_in, bytes_out)` now.
    pub fn snapshot(&self) -> (u64, u64, u64, u64) {
        (
            self.records_in.load(Ordering::Relaxed),
            self.records_out.load(Ordering::Relaxed),
            self.bytes_in.load(Ordering::Relaxed),
            self.bytes_out.load(Ordering::Relaxed),
        )
    }
}

/// Shared between a task's thread and its TaskManager: cancellation and metrics.
#[derive(Debug, Clone, Default)]
pub struct TaskControl {
    /// Set to ask the task to stop; checked between batches and while blocked.
    pub canceled: Arc<AtomicBool>,
    /// The task's counters.
    pub metrics: Arc<TaskMetrics>,
    /// Checkpoint triggers, snapshots and restored state; `None` when the
    /// job neither checkpoints nor restores.
    pub checkpointing: Option<Arc<crate::checkpoint::TaskCheckpointing>>,
}

impl TaskControl {
    /// Errors with [`TaskError::Canceled`] once cancellation was asked for.
    #[inline]
    pub fn check(&self) -> Result<(), TaskError> {
        if self.canceled.load(Ordering::Relaxed) {
            Err(TaskError::Canceled)
        } else {
            Ok(())
        }
    }

    /// Asks the task to stop.
    pub fn cancel(&self) {
        self.canceled.store(true, Ordering::Relaxed);
    }
}

/// The driver at the head of a task's chain: a source, or the input gate that
/// reads the task's input channels. `run` returns when the input has ended
/// and the chain has been finished, or with the error that failed the task.
pub trait TaskHead {
    /// Runs the task to its end.
    fn run(&mut self, control: &TaskControl) -> Result<(), TaskError>;
}
