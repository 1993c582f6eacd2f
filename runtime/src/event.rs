//! Events that travel through the same channels as records, in order.

use serde::{Deserialize, Serialize};

/// Watermark value that closes every event-time window: emitted when a bounded
/// source ends (as Flink's `Watermark.MAX_WATERMARK`).
pub const MAX_WATERMARK: i64 = i64::MAX;

/// The timestamp of a record that has none (Flink's
/// `TimestampAssigner.NO_TIMESTAMP`, `Long.MIN_VALUE`).
pub const NO_TIMESTAMP: i64 = i64::MIN;

/// Whether a stream (a source split, a channel, an operator's output) may
/// hold back event time (Flink's `WatermarkStatus`). An idle stream emits no
/// records for a while; consumers leave it out of their watermark minimum
/// until it is active again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WatermarkStatus {
    /// The stream emits records and watermarks.
    Active,
    /// The stream is idle: its watermark does not hold back consumers.
    Idle,
}

/// A checkpoint barrier (Chandy–Lamport / asynchronous barrier snapshotting):
/// injected at the sources, it separates the records before checkpoint `id`
/// from those after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointBarrier {
    /// Checkpoint id, increasing per job from 1.
    pub id: u64,
    /// When the JobMaster triggered it, ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// True for a savepoint (user-triggered, self-contained).
    pub savepoint: bool,
}

/// A non-record element of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// Event time has reached this value (ms): no later record has a smaller timestamp.
    Watermark(i64),
    /// A checkpoint barrier.
    Barrier(CheckpointBarrier),
    /// The producer has no more records (bounded input ended) and its stream
    /// ends here.
    EndOfInput,
    /// The producer has no more records, but its stream goes on until a final
    /// checkpoint completed (Flink's FLIP-147 `EndOfData`): operators flush
    /// what they hold back as at the end of input, sinks make it pending
    /// (not committed); barriers and then `EndOfInput` still follow.
    EndOfData,
    /// The producer became idle or active again (see [`WatermarkStatus`]).
    Status(WatermarkStatus),
    /// Local only, never sent over a channel: output writers send partly
    /// filled buffers now (buffer timeout, idle input).
    #[serde(skip)]
    Flush,
}
