//! Sources: where streams come from.

mod collection;
mod file;
mod file_watermarks;
mod socket;

pub use collection::CollectionSource;
pub use file::{file_splits, split_range, FileSplit, SplitLineReader, TextFileSource};
pub use file_watermarks::FileWatermarks;
pub use socket::SocketTextSource;

use crate::context::OperatorContext;
use crate::error::TaskError;
use crate::event::{WatermarkStatus, NO_TIMESTAMP};

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

/// Where a source reader emits records, their timestamps and its own
/// watermarks (Flink's `ReaderOutput` / `SourceOutput` with its
/// `WatermarkOutput`). A source that knows event time (e.g. a Kafka reader
/// with per-partition watermarks) overrides [`SourceReader::poll_output`]
/// and uses it; others just append records in [`SourceReader::poll_next`].
///
/// ```
/// use rfy_runtime::sources::SourceOutput;
///
/// let (mut records, mut timestamps) = (Vec::new(), Vec::new());
/// let mut out = SourceOutput::new(&mut records, &mut timestamps);
/// out.collect_with_timestamp("bid-1", 1_000);
/// out.collect_with_timestamp("bid-2", 1_500);
/// out.emit_watermark(1_400); // nothing at or before 1400 ms will follow
/// out.mark_idle(); // no records for a while: do not hold event time back
/// assert_eq!(out.watermark(), Some(1_400));
/// assert_eq!(timestamps, vec![1_000, 1_500]);
/// ```
pub struct SourceOutput<'a, T> {
    records: &'a mut Vec<T>,
    timestamps: &'a mut Vec<i64>,
    watermark: Option<i64>,
    status: Option<WatermarkStatus>,
}

impl<'a, T> SourceOutput<'a, T> {
    /// An output appending to `records` and (for timestamped records) `timestamps`.
    pub fn new(records: &'a mut Vec<T>, timestamps: &'a mut Vec<i64>) -> Self {
        SourceOutput { records, timestamps, watermark: None, status: None }
    }

    /// Emits a record without a timestamp.
    #[inline]
    pub fn collect(&mut self, record: T) {
        // The driver pads the timestamp column with NO_TIMESTAMP if needed.
        self.records.push(record);
    }

    /// Emits a record with its event-time timestamp (ms since the epoch).
    #[inline]
    pub fn collect_with_timestamp(&mut self, record: T, timestamp_ms: i64) {
        if self.timestamps.len() < self.records.len() {
            self.timestamps.resize(self.records.len(), NO_TIMESTAMP);
        }
        self.records.push(record);
        self.timestamps.push(timestamp_ms);
    }

    /// Declares that no record with a timestamp ≤ `watermark_ms` follows;
    /// sent after the records of this poll. Lower values than before are ignored downstream.
    pub fn emit_watermark(&mut self, watermark_ms: i64) {
        self.watermark = Some(self.watermark.map_or(watermark_ms, |w| w.max(watermark_ms)));
        self.status = self.status.filter(|s| *s != WatermarkStatus::Idle);
    }

    /// Declares the reader idle: consumers stop waiting for its watermark
    /// until it emits again (Flink's `WatermarkOutput.markIdle`).
    pub fn mark_idle(&mut self) {
        self.status = Some(WatermarkStatus::Idle);
    }

    /// Declares the reader active again (Flink's `markActive`); emitting a
    /// record or a watermark after [`mark_idle`](Self::mark_idle) does it too.
    pub fn mark_active(&mut self) {
        self.status = Some(WatermarkStatus::Active);
    }

    /// The highest watermark emitted in this poll.
    pub fn watermark(&self) -> Option<i64> {
        self.watermark
    }

    /// The status change asked for in this poll, if any.
    pub fn status(&self) -> Option<WatermarkStatus> {
        self.status
    }

    /// The records emitted so far in this poll.
    pub fn records(&mut self) -> &mut Vec<T> {
        self.records
    }
}

/// One subtask's reader of a source.
pub trait SourceReader<T> {
    /// Appends up to [`SOURCE_BATCH`] records to `out`.
    ///
    /// Errors: fails the task; the message names the file or address at fault.
    fn poll_next(&mut self, out: &mut Vec<T>) -> Result<SourceStatus, TaskError>;

    /// Like [`poll_next`](Self::poll_next), with timestamps and watermarks:
    /// the source driver calls this one. The default calls `poll_next`; a
    /// reader that knows event time overrides it (and may implement
    /// `poll_next` by calling it with a throwaway timestamp column).
    ///
    /// Errors: as `poll_next`.
    fn poll_output(&mut self, output: &mut SourceOutput<'_, T>) -> Result<SourceStatus, TaskError> {
        self.poll_next(output.records)
    }

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
    fn check(&self) -> Result<(), crate::error::IoCheckError> {
        Ok(())
    }
    /// Makes the reader of subtask `ctx.subtask_index` of `ctx.parallelism`.
    fn create_reader(&self, ctx: &OperatorContext) -> Result<Box<dyn SourceReader<T>>, TaskError>;
}
