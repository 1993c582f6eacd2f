//! Watermark strategies: how a stream's records get their timestamps and
//! how event time (the watermark) advances.

use std::marker::PhantomData;
use std::time::Duration;

/// Extracts a record's event-time timestamp (Flink's `TimestampAssigner`).
/// Implemented by every `Fn(&T, i64) -> i64` closure: the element and the
/// timestamp it already has ([`NO_TIMESTAMP`](crate::event::NO_TIMESTAMP) if none), returning ms.
pub trait TimestampAssigner<T>: Clone + Send + Sync + 'static {
    /// The timestamp (ms) of `element`, which arrived with `record_timestamp`.
    fn extract_timestamp(&self, element: &T, record_timestamp: i64) -> i64;
}

impl<T, F: Fn(&T, i64) -> i64 + Clone + Send + Sync + 'static> TimestampAssigner<T> for F {
    #[inline]
    fn extract_timestamp(&self, element: &T, record_timestamp: i64) -> i64 {
        self(element, record_timestamp)
    }
}

/// Keeps the timestamp records already carry, e.g. set by their source
/// (Flink's `RecordTimestampAssigner`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordTimestamp;

impl<T> TimestampAssigner<T> for RecordTimestamp {
    #[inline]
    fn extract_timestamp(&self, _element: &T, record_timestamp: i64) -> i64 {
        record_timestamp
    }
}

/// Where a [`WatermarkGenerator`] emits watermarks and idleness (Flink's
/// `WatermarkOutput`).
#[derive(Debug, Default)]
pub struct WatermarkOutput {
    watermark: Option<i64>,
    idle: Option<bool>,
}

impl WatermarkOutput {
    /// Declares that no record with a timestamp ≤ `watermark_ms` follows.
    /// A value not above the last emitted one is ignored.
    pub fn emit_watermark(&mut self, watermark_ms: i64) {
        self.watermark = Some(self.watermark.map_or(watermark_ms, |w| w.max(watermark_ms)));
        self.idle = Some(false);
    }

    /// Declares the stream idle: downstream stops waiting for its watermark.
    pub fn mark_idle(&mut self) {
        self.idle = Some(true);
    }

    /// Declares the stream active again.
    pub fn mark_active(&mut self) {
        self.idle = Some(false);
    }

    pub(crate) fn take(&mut self) -> (Option<i64>, Option<bool>) {
        (self.watermark.take(), self.idle.take())
    }
}

/// Generates watermarks from the records it sees and periodically (Flink's
/// `WatermarkGenerator`). One instance per subtask.
///
/// ```
/// use rfy_runtime::time::{WatermarkGenerator, WatermarkOutput};
///
/// /// Event time follows the largest timestamp seen, minus 5 s.
/// #[derive(Clone)]
/// struct Lagging { max: i64 }
///
/// impl<T> WatermarkGenerator<T> for Lagging {
///     fn on_event(&mut self, _event: &T, timestamp: i64, _out: &mut WatermarkOutput) {
///         self.max = self.max.max(timestamp);
///     }
///     fn on_periodic_emit(&mut self, out: &mut WatermarkOutput) {
///         out.emit_watermark(self.max.saturating_sub(5_000));
///     }
/// }
/// ```
pub trait WatermarkGenerator<T>: Clone + Send + Sync + 'static {
    /// Called for every record with its (assigned) timestamp, ms.
    fn on_event(&mut self, event: &T, timestamp: i64, output: &mut WatermarkOutput);
    /// Called every `pipeline.auto-watermark-interval`.
    fn on_periodic_emit(&mut self, output: &mut WatermarkOutput);
}

/// Watermarks that trail the largest timestamp seen by a fixed bound
/// (Flink's `BoundedOutOfOrdernessWatermarks`): `max - bound - 1`, emitted
/// periodically. A bound of 0 is [`WatermarkStrategy::for_monotonous_timestamps`].
#[derive(Debug, Clone, Copy)]
pub struct BoundedOutOfOrderness {
    max_timestamp: i64,
    bound_ms: i64,
}

impl BoundedOutOfOrderness {
    /// A generator tolerating records up to `bound` late.
    pub fn new(bound: Duration) -> Self {
        let bound_ms = bound.as_millis().min(i64::MAX as u128 / 2) as i64;
        BoundedOutOfOrderness { max_timestamp: i64::MIN + bound_ms + 1, bound_ms }
    }
}

impl<T> WatermarkGenerator<T> for BoundedOutOfOrderness {
    #[inline]
    fn on_event(&mut self, _event: &T, timestamp: i64, _output: &mut WatermarkOutput) {
        self.max_timestamp = self.max_timestamp.max(timestamp);
    }
    fn on_periodic_emit(&mut self, output: &mut WatermarkOutput) {
        output.emit_watermark(self.max_timestamp - self.bound_ms - 1);
    }
}

/// Emits no watermarks at all (Flink's `WatermarkStrategy.noWatermarks`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoWatermarks;

impl<T> WatermarkGenerator<T> for NoWatermarks {
    fn on_event(&mut self, _event: &T, _timestamp: i64, _output: &mut WatermarkOutput) {}
    fn on_periodic_emit(&mut self, _output: &mut WatermarkOutput) {}
}

/// How a stream gets timestamps and watermarks (Flink's `WatermarkStrategy`):
/// a [`WatermarkGenerator`], a [`TimestampAssigner`] and an optional
/// idleness timeout. Given to
/// [`DataStream::assign_timestamps_and_watermarks`](crate::DataStream::assign_timestamps_and_watermarks).
///
/// ```
/// use std::time::Duration;
/// use rfy_runtime::time::WatermarkStrategy;
///
/// // Records are (timestamp ms, word); up to 2 s out of order; a subtask
/// // with no records for 10 s stops holding event time back.
/// let strategy = WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(2))
///     .with_timestamp_assigner(|r: &(i64, String), _ts: i64| r.0)
///     .with_idleness(Duration::from_secs(10));
/// # let _ = strategy;
/// ```
pub struct WatermarkStrategy<T, G, A> {
    pub(crate) generator: G,
    pub(crate) assigner: A,
    pub(crate) idleness: Option<Duration>,
    _t: PhantomData<fn(&T)>,
}

impl<T, G: Clone, A: Clone> Clone for WatermarkStrategy<T, G, A> {
    fn clone(&self) -> Self {
        WatermarkStrategy {
            generator: self.generator.clone(),
            assigner: self.assigner.clone(),
            idleness: self.idleness,
            _t: PhantomData,
        }
    }
}

impl<T> WatermarkStrategy<T, BoundedOutOfOrderness, RecordTimestamp> {
    /// Watermarks trailing the largest timestamp by `max_out_of_orderness`
    /// (Flink's `forBoundedOutOfOrderness`); records later than that are late.
    pub fn for_bounded_out_of_orderness(max_out_of_orderness: Duration) -> Self {
        Self::for_generator(BoundedOutOfOrderness::new(max_out_of_orderness))
    }

    /// Watermarks at the largest timestamp seen, for ascending timestamps
    /// (Flink's `forMonotonousTimestamps`).
    pub fn for_monotonous_timestamps() -> Self {
        Self::for_bounded_out_of_orderness(Duration::ZERO)
    }
}

impl<T> WatermarkStrategy<T, NoWatermarks, RecordTimestamp> {
    /// Timestamps only, no watermarks (Flink's `noWatermarks`).
    pub fn no_watermarks() -> Self {
        Self::for_generator(NoWatermarks)
    }
}

impl<T, G: WatermarkGenerator<T>> WatermarkStrategy<T, G, RecordTimestamp> {
    /// A strategy with a custom generator (Flink's `forGenerator`).
    pub fn for_generator(generator: G) -> Self {
        WatermarkStrategy { generator, assigner: RecordTimestamp, idleness: None, _t: PhantomData }
    }
}

impl<T, G: WatermarkGenerator<T>, A: TimestampAssigner<T>> WatermarkStrategy<T, G, A> {
    /// Takes each record's timestamp from `assigner` (Flink's
    /// `withTimestampAssigner`): a closure `(&record, previous timestamp) -> ms`.
    pub fn with_timestamp_assigner<B: TimestampAssigner<T>>(self, assigner: B) -> WatermarkStrategy<T, G, B> {
        WatermarkStrategy { generator: self.generator, assigner, idleness: self.idleness, _t: PhantomData }
    }

    /// Declares the stream idle after `timeout` without records, so that it
    /// does not hold back the watermark of operators reading several
    /// streams (Flink's `withIdleness`); a record makes it active again.
    pub fn with_idleness(mut self, timeout: Duration) -> Self {
        self.idleness = Some(timeout);
        self
    }
}
