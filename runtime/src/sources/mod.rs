//! Sources: where streams come from.

mod collection;
mod file;
mod socket;

pub use collection::CollectionSource;
pub use file::{file_splits, split_range, FileSplit, SplitLineReader, TextFileSource};
pub use socket::SocketTextSource;

use crate::context::OperatorContext;
use crate::error::TaskError;

/// Records a source emits per poll, at most.
pub const SOURCE_BATCH: usize = 1024;

/// What a poll found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceStatus {
    /// Records were appended; poll again.
    Available,
    /// Nothing now (paced, or waiting on a socket); the driver flushes
    /// partly filled buffers and polls again. The reader waits a little
    /// itself (≤ 100 ms) before returning this.
    Idle,
    /// No more records, ever (bounded source done).
    Finished,
}

/// One subtask's reader of a source.
pub trait SourceReader<T> {
    /// Appends up to [`SOURCE_BATCH`] records to `out`.
    ///
    /// Errors: fails the task; the message names the file or address at fault.
    fn poll_next(&mut self, out: &mut Vec<T>) -> Result<SourceStatus, TaskError>;

    /// The reader's position for a checkpoint, as operator state items
    /// (redistributed round robin on rescale): e.g. one item per split with
    /// its offset. Called between polls, at a barrier. The default (no
    /// items) means the source does not replay: at-most-once after a restore.
    ///
    /// Errors: the position cannot be encoded; the checkpoint is declined.
    fn snapshot_state(&mut self) -> Result<Vec<Vec<u8>>, TaskError> {
        Ok(Vec::new())
    }

    /// [`SourceReader::snapshot_state`] for checkpoint `checkpoint_id`: the
    /// hook for readers that act when that checkpoint completes (e.g. the
    /// Kafka source commits the offsets it saved for it to the consumer
    /// group). The source driver calls this one; the default ignores the id.
    ///
    /// Errors: as `snapshot_state`.
    fn snapshot_state_for(&mut self, checkpoint_id: u64) -> Result<Vec<Vec<u8>>, TaskError> {
        let _ = checkpoint_id;
        self.snapshot_state()
    }
}

/// A source definition, shared by all subtasks (Flink's `Source`).
pub trait Source<T>: Send + Sync + 'static {
    /// Operator name, e.g. `Source: kjv.txt`.
    fn name(&self) -> String;
    /// True if the source ends by itself (files, collections).
    fn bounded(&self) -> bool;
    /// Highest parallelism it supports; `Some(1)` for non-parallel sources.
    fn max_parallelism(&self) -> Option<u32> {
        None
    }
    /// Planning-time check, run once by the client (e.g. the input exists).
    ///
    /// Errors: a one-line message naming the path or address at fault.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
    /// Makes the reader of subtask `ctx.subtask_index` of `ctx.parallelism`.
    fn create_reader(&self, ctx: &OperatorContext) -> Result<Box<dyn SourceReader<T>>, TaskError>;
}
