//! User function shapes.

use std::hash::Hash;

use super::state::{KeyedContext, KeyedStateStore};
use crate::error::TaskError;
use crate::record::Record;

/// Where a function emits its results (Flink's `Collector`). Appends to the
/// operator's output batch: no allocation or dynamic call per record. In a
/// timestamped stream each record gets the timestamp of the record (or
/// event-time timer) being processed, unless the function sets another
/// with [`Collector::set_absolute_timestamp`].
pub struct Collector<'a, T> {
    out: &'a mut Vec<T>,
    /// The output's timestamp column and the timestamp the next record gets (ms),
    /// when the output is timestamped.
    timestamps: Option<(&'a mut Vec<i64>, i64)>,
}

impl<'a, T> Collector<'a, T> {
    pub(crate) fn new(out: &'a mut Vec<T>) -> Self {
        Collector { out, timestamps: None }
    }

    /// A collector appending `timestamp_ms` to `timestamps` with each record
    /// (`timestamps` must be as long as `out`).
    pub(crate) fn with_timestamps(out: &'a mut Vec<T>, timestamps: &'a mut Vec<i64>, timestamp_ms: i64) -> Self {
        debug_assert_eq!(out.len(), timestamps.len());
        Collector { out, timestamps: Some((timestamps, timestamp_ms)) }
    }

    /// Emits one record.
    #[inline]
    pub fn collect(&mut self, record: T) {
        self.out.push(record);
        if let Some((ts, t)) = &mut self.timestamps {
            ts.push(*t);
        }
    }

    /// Gives the records collected from now on the event time
    /// `timestamp_ms` (ms since the epoch) instead of the current record's
    /// (Flink's `TimestampedCollector.setAbsoluteTimestamp`; the interval
    /// join uses it to stamp a pair with the later of its two times). No
    /// effect where the output has no timestamps.
    #[inline]
    pub fn set_absolute_timestamp(&mut self, timestamp_ms: i64) {
        if let Some((_, t)) = &mut self.timestamps {
            *t = timestamp_ms;
        }
    }
}

/// A function over a keyed stream with keyed state and timers (Flink's
/// `KeyedProcessFunction`). One instance per subtask: `Clone` makes them
/// from the one in the program.
///
/// Records emitted in `process_element` keep the input record's timestamp;
/// those emitted in `on_timer` for an event-time timer get the timer's time.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use rfy_runtime::api::{KeyedContext, KeyedStateStore, ValueState};
/// use rfy_runtime::sinks::CollectSink;
/// use rfy_runtime::time::WatermarkStrategy;
/// use rfy_runtime::{Collector, ExecutionConfig, KeyedProcessFunction, StreamExecutionEnvironment, TaskError};
///
/// /// Counts each key's records and emits the count 10 s (event time) after its first record.
/// #[derive(Clone, Default)]
/// struct CountFor10s { count: Option<ValueState<u64>> }
///
/// impl KeyedProcessFunction for CountFor10s {
///     type Key = String;
///     type In = (String, i64);
///     type Out = (String, u64);
///     fn open(&mut self, state: &mut KeyedStateStore<String>) {
///         self.count = Some(state.value_state("count"));
///     }
///     fn process_element(&mut self, _v: (String, i64), ctx: &mut KeyedContext<'_, String>,
///                        _out: &mut Collector<'_, (String, u64)>) -> Result<(), TaskError> {
///         let count = self.count.as_ref().unwrap();
///         let n = count.value(ctx).unwrap_or(0);
///         if n == 0 {
///             let at = ctx.timestamp().unwrap() + 10_000;
///             ctx.timer_service().register_event_time_timer(at);
///         }
///         count.update(ctx, n + 1);
///         Ok(())
///     }
///     fn on_timer(&mut self, _ts: i64, ctx: &mut KeyedContext<'_, String>,
///                 out: &mut Collector<'_, (String, u64)>) -> Result<(), TaskError> {
///         let count = self.count.as_ref().unwrap();
///         out.collect((ctx.current_key().clone(), count.value(ctx).unwrap_or(0)));
///         count.clear(ctx);
///         Ok(())
///     }
/// }
///
/// let env = StreamExecutionEnvironment::new(ExecutionConfig::default());
/// let out = Arc::new(Mutex::new(Vec::new()));
/// let clicks = vec![("a".to_string(), 0), ("b".into(), 1_000), ("a".into(), 9_000), ("a".into(), 12_000)];
/// env.from_collection(clicks)
///     .assign_timestamps_and_watermarks(
///         WatermarkStrategy::for_monotonous_timestamps().with_timestamp_assigner(|c: &(String, i64), _| c.1),
///     )
///     .key_by(|c: &(String, i64)| c.0.clone())
///     .process(CountFor10s::default())
///     .sink_to(CollectSink::new(out.clone()));
/// rfy_runtime::task::run_local(env).unwrap();
/// let mut got = out.lock().unwrap().clone();
/// got.sort();
/// // The watermark passes 10 s only after all four records: "a" counts 3.
/// assert_eq!(got, vec![("a".into(), 3), ("b".into(), 1)]);
/// ```
pub trait KeyedProcessFunction: Clone + Send + Sync + 'static {
    /// The key type.
    type Key: Hash + Eq + Record;
    /// Input records.
    type In: Record;
    /// Output records.
    type Out: Record;

    /// Called once per subtask before any record: register state here.
    fn open(&mut self, state: &mut KeyedStateStore<Self::Key>) {
        let _ = state;
    }

    /// Handles one record of the current key.
    ///
    /// Errors: a returned error fails the task (and the job).
    fn process_element(
        &mut self,
        value: Self::In,
        ctx: &mut KeyedContext<'_, Self::Key>,
        out: &mut Collector<'_, Self::Out>,
    ) -> Result<(), TaskError>;

    /// Called when a timer the function registered fires, with the timer's
    /// time (ms); `ctx` is set to the timer's key (`ctx.time_domain()` says
    /// which clock). The default does nothing.
    ///
    /// Errors: a returned error fails the task (and the job).
    fn on_timer(
        &mut self,
        timestamp: i64,
        ctx: &mut KeyedContext<'_, Self::Key>,
        out: &mut Collector<'_, Self::Out>,
    ) -> Result<(), TaskError> {
        let _ = (timestamp, ctx, out);
        Ok(())
    }
}
