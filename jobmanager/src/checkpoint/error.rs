//! Why a checkpoint was aborted or a checkpoint cannot be restored: typed
//! (with the storage's [`CheckpointError`] as their source) up to where the
//! JobMaster reports them (checkpoint statistics, savepoint status, the
//! exception history).

use std::time::Duration;

use rfy_runtime::checkpoint::CheckpointError;

/// Why a pending checkpoint (or savepoint) was aborted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AbortReason {
    /// A task could not take its part (its snapshot failed, or the trigger
    /// did not reach its source).
    #[error("declined by task {execution_id}: {reason}")]
    Declined {
        /// The declining execution.
        execution_id: String,
        /// The task's own text.
        reason: String,
    },
    /// Not every acknowledgement came within `execution.checkpointing.timeout`.
    #[error("checkpoint expired before completing (execution.checkpointing.timeout {0:?})")]
    Expired(Duration),
    /// A task it waited for finished first, and its state cannot be carried forward.
    #[error("task {0} finished before it acknowledged the checkpoint")]
    TaskFinished(String),
    /// Every pending checkpoint was discarded: failover, cancel, stop, end of the job (the text says which).
    #[error("{0}")]
    Discarded(String),
    /// Neither `state.checkpoints.dir` nor `state.savepoints.dir` is set.
    #[error("no checkpoint storage")]
    NoStorage,
    /// The state of a finished task could not be copied into it.
    #[error("cannot carry the state of finished tasks forward: {0}")]
    Carry(#[source] CheckpointError),
    /// Its `_metadata` could not be written, or a savepoint not moved to its target.
    #[error(transparent)]
    Write(CheckpointError),
    /// The storage call completing it panicked (a bug); its files may remain.
    #[error("the storage call completing the checkpoint panicked")]
    Panicked,
}

/// Why a savepoint or checkpoint given as `execution.savepoint.path` cannot be restored.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RestoreError {
    /// Missing, unreadable or damaged (the error names the file).
    #[error(transparent)]
    Storage(#[from] CheckpointError),
    /// Taken with another `pipeline.max-parallelism`.
    #[error(
        "{dir} was taken with pipeline.max-parallelism {found}, the job has {expected}: key groups cannot be mapped"
    )]
    MaxParallelism {
        /// The checkpoint's directory.
        dir: String,
        /// Its max parallelism.
        found: u32,
        /// The job's.
        expected: u32,
    },
}

/// A retained checkpoint that failed its check before a restore.
#[derive(Debug, thiserror::Error)]
#[error("checkpoint {id} at {dir} cannot be restored: {error}")]
pub(crate) struct Damaged {
    /// Its id.
    pub(crate) id: u64,
    /// Its directory.
    pub(crate) dir: String,
    /// What is wrong, naming the file.
    #[source]
    pub(crate) error: CheckpointError,
}
