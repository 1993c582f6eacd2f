//! Tasks: one chain of operators for one subtask, run on its own thread.

pub mod build;
pub(crate) mod output;
mod threads;
pub(crate) mod wakeup;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

pub use build::{build_task, TaskSpec};
pub use output::Output;
pub use threads::{run_job_in_threads, run_job_in_threads_with_metrics, run_local};

use crate::error::TaskError;

/// Counters of one running task, read by the TaskManager for heartbeats.
/// Updated once per batch or buffer (relaxed atomics), never per record.
///
/// Time is split as Flink splits it (`idleTimeMsPerSecond`,
/// `backPressuredTimeMsPerSecond`, `busyTimeMsPerSecond`): idle is time the
/// input gate waited for a buffer, back-pressured is time a writer waited for
/// a full channel to take one, busy is the rest. Only the waits are timed
/// (one clock read before and after a blocking call), so the record path pays
/// nothing when it does not wait.
#[derive(Debug)]
pub struct TaskMetrics {
    /// Records the task received (from its source or its input channels).
    pub records_in: AtomicU64,
    /// Records the task sent to its output channels.
    pub records_out: AtomicU64,
    /// Bytes received from input channels.
    pub bytes_in: AtomicU64,
    /// Bytes sent to output channels.
    pub bytes_out: AtomicU64,
    /// Nanoseconds the input gate waited with nothing to read.
    pub idle_ns: AtomicU64,
    /// Nanoseconds writers waited for a full output channel (backpressure).
    pub back_pressured_ns: AtomicU64,
    /// The input gate's combined watermark, ms since the epoch (`i64::MIN`
    /// before the first one, as Flink's `currentInputWatermark`).
    pub input_watermark: AtomicI64,
    /// The last watermark this task sent downstream, ms (`i64::MIN` before the first).
    pub output_watermark: AtomicI64,
    /// Buffers queued in the task's input channels against their capacity, in
    /// thousandths (Flink's `buffers.inPoolUsage` × 1000), sampled by the gate.
    pub in_pool_usage_permille: AtomicU64,
    /// Buffers queued in the task's output channels against their capacity, in
    /// thousandths (`buffers.outPoolUsage` × 1000), sampled by the writers.
    pub out_pool_usage_permille: AtomicU64,
    /// Records dropped by the task's event-time windows for arriving behind
    /// the watermark (past their windows' allowed lateness) without a late
    /// side output (Flink's `numLateRecordsDropped`); added per batch.
    pub late_records_dropped: AtomicU64,
}

impl Default for TaskMetrics {
    fn default() -> Self {
        TaskMetrics {
            records_in: AtomicU64::new(0),
            records_out: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            idle_ns: AtomicU64::new(0),
            back_pressured_ns: AtomicU64::new(0),
            input_watermark: AtomicI64::new(i64::MIN),
            output_watermark: AtomicI64::new(i64::MIN),
            in_pool_usage_permille: AtomicU64::new(0),
            out_pool_usage_permille: AtomicU64::new(0),
            late_records_dropped: AtomicU64::new(0),
        }
    }
}

/// A [`TaskMetrics`] read at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaskMetricsSnapshot {
    /// Records received.
    pub records_in: u64,
    /// Records sent.
    pub records_out: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Milliseconds idle so far.
    pub idle_ms: u64,
    /// Milliseconds back-pressured so far.
    pub back_pressured_ms: u64,
    /// Input watermark, ms (`i64::MIN` = none yet).
    pub input_watermark: i64,
    /// Output watermark, ms (`i64::MIN` = none yet).
    pub output_watermark: i64,
    /// Input buffer usage, 0.0..=1.0.
    pub in_pool_usage: f64,
    /// Output buffer usage, 0.0..=1.0.
    pub out_pool_usage: f64,
    /// Late records dropped by windows (`numLateRecordsDropped`).
    pub late_records_dropped: u64,
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

    /// Every figure now.
    pub fn read(&self) -> TaskMetricsSnapshot {
        let (records_in, records_out, bytes_in, bytes_out) = self.snapshot();
        TaskMetricsSnapshot {
            records_in,
            records_out,
            bytes_in,
            bytes_out,
            idle_ms: self.idle_ns.load(Ordering::Relaxed) / 1_000_000,
            back_pressured_ms: self.back_pressured_ns.load(Ordering::Relaxed) / 1_000_000,
            input_watermark: self.input_watermark.load(Ordering::Relaxed),
            output_watermark: self.output_watermark.load(Ordering::Relaxed),
            in_pool_usage: self.in_pool_usage_permille.load(Ordering::Relaxed) as f64 / 1000.0,
            out_pool_usage: self.out_pool_usage_permille.load(Ordering::Relaxed) as f64 / 1000.0,
            late_records_dropped: self.late_records_dropped.load(Ordering::Relaxed),
        }
    }

    /// Adds `since.elapsed()` to a time counter.
    #[inline]
    pub(crate) fn add_time(counter: &AtomicU64, since: std::time::Instant) {
        counter.fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }
}

/// Queued buffers against capacity over `lens` (`(queued, capacity)` pairs), in thousandths.
pub(crate) fn usage_permille(lens: impl Iterator<Item = (usize, usize)>) -> u64 {
    let (queued, cap) = lens.fold((0usize, 0usize), |(q, c), (l, k)| (q + l.min(k), c + k));
    if cap == 0 {
        0
    } else {
        (queued as u64 * 1000) / cap as u64
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
    /// Where the task's keyed operators keep their state (`state.backend.type`).
    pub state_backend: crate::state_backend::StateBackend,
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
