//! Count windows (Flink's `KeyedStream.countWindow`): windows of a number
//! of records per key instead of a span of time.
//!
//! `count_window(size)` is Flink's `GlobalWindows` with a purging
//! `CountTrigger.of(size)`: every `size` records of a key make one window,
//! evaluated and then emptied. `count_window_sliding(size, slide)` is
//! `countWindow(size, slide)`: `GlobalWindows`, `CountTrigger.of(slide)` and
//! `CountEvictor.of(size)`: every `slide` records of a key, the last `size`
//! of them (fewer at the start) are evaluated. Records left over at the end
//! of input fire nothing (as in Flink). A window is the global window
//! (`i64::MIN..i64::MAX`) and its result carries that window's
//! `max_timestamp`, as Flink's `GlobalWindow.maxTimestamp()`.
//!
//! The operator is a keyed process function over the key's records as list
//! state, so it is checkpointed and rescaled like all keyed state; the
//! eviction runs once per firing, so the state holds at most
//! `size + slide - 1` records.

use std::hash::Hash;
use std::marker::PhantomData;

use super::functions::{Collector, KeyedProcessFunction};
use super::state::KeyedContext;
use super::state::{KeyedStateStore, ListState, ValueState};
use super::stream::{DataStream, KeyedStream};
use crate::error::TaskError;
use crate::record::Record;
use crate::windowing::{
    AggregateAgg, AggregateFunction, PassResult, ProcessAgg, ProcessWindowContext, ProcessWindowFunction, ReduceAgg,
    TimeWindow, WindowAgg,
};

/// A keyed stream cut into count windows; finish it with
/// [`reduce`](Self::reduce), [`aggregate`](Self::aggregate) or [`process`](Self::process).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use rfy_runtime::sinks::CollectSink;
/// use rfy_runtime::{ExecutionConfig, StreamExecutionEnvironment};
///
/// let env = StreamExecutionEnvironment::new(ExecutionConfig::default());
/// let (tumbling, sliding) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
/// // (sensor, reading)
/// let readings = env.from_collection(vec![(1u32, 1u64), (1, 2), (2, 10), (1, 3), (1, 4), (1, 5)]);
/// let by_sensor = readings.key_by(|r: &(u32, u64)| r.0);
/// // Sum of every 2 readings of a sensor: 1's 1+2 and 3+4 (its 5 waits for a partner; 2's 10 too).
/// by_sensor.count_window(2).reduce(|x, y| (x.0, x.1 + y.1)).sink_to(CollectSink::new(tumbling.clone()));
/// // Every 2 readings, the sum of the last 3: 1's 1+2, then 2+3+4.
/// by_sensor.count_window_sliding(3, 2).reduce(|x, y| (x.0, x.1 + y.1)).sink_to(CollectSink::new(sliding.clone()));
/// rfy_runtime::task::run_local(env).unwrap();
/// assert_eq!(*tumbling.lock().unwrap(), vec![(1, 3), (1, 7)]);
/// assert_eq!(*sliding.lock().unwrap(), vec![(1, 3), (1, 9)]);
/// ```
pub struct CountWindowedStream<T, K, F> {
    keyed: KeyedStream<T, K, F>,
    size: u64,
    slide: u64,
    /// Empty the window after each firing (tumbling).
    purge: bool,
}

impl<T, K, F> KeyedStream<T, K, F>
where
    T: Record,
    K: Hash + Eq + Record,
    F: Fn(&T) -> K + Send + Sync + 'static,
{
    /// Tumbling count windows of `size` records per key (Flink's
    /// `countWindow(size)`); a `size` of 0 counts as 1.
    pub fn count_window(&self, size: u64) -> CountWindowedStream<T, K, F> {
        let size = size.max(1);
        CountWindowedStream { keyed: self.clone_keyed(), size, slide: size, purge: true }
    }

    /// Sliding count windows (Flink's `countWindow(size, slide)`): every
    /// `slide` records of a key, a window of its last `size` records. Sizes
    /// of 0 count as 1.
    pub fn count_window_sliding(&self, size: u64, slide: u64) -> CountWindowedStream<T, K, F> {
        CountWindowedStream { keyed: self.clone_keyed(), size: size.max(1), slide: slide.max(1), purge: false }
    }

    fn clone_keyed(&self) -> KeyedStream<T, K, F> {
        KeyedStream { input: self.input.clone(), key_fn: self.key_fn.clone(), _k: PhantomData }
    }
}

impl<T, K, F> CountWindowedStream<T, K, F>
where
    T: Record,
    K: Hash + Eq + Record,
    F: Fn(&T) -> K + Send + Sync + 'static,
{
    /// Folds each window's records with `reduce` (Flink's `reduce`).
    pub fn reduce<R: Fn(T, T) -> T + Clone + Send + Sync + 'static>(&self, reduce: R) -> DataStream<T> {
        self.apply("CountWindow(Reduce)", ReduceAgg(reduce, PhantomData))
    }

    /// Aggregates each window through an accumulator (Flink's `aggregate`).
    pub fn aggregate<G: AggregateFunction<T>>(&self, function: G) -> DataStream<G::Out> {
        self.apply("CountWindow(Aggregate)", AggregateAgg(function, PassResult(PhantomData)))
    }

    /// Evaluates each window with all its records (Flink's `process`).
    pub fn process<P: ProcessWindowFunction<T, K>>(&self, function: P) -> DataStream<P::Out> {
        self.apply("CountWindow(Process)", ProcessAgg(function))
    }

    fn apply<W: WindowAgg<T, K>>(&self, name: &str, agg: W) -> DataStream<W::Out> {
        let f = CountWindowFn::<T, K, W>::new(agg, self.size, self.slide, self.purge);
        self.keyed.process(f).name(name)
    }
}

/// The count window as a keyed process function.
struct CountWindowFn<T, K, W> {
    agg: W,
    size: u64,
    slide: u64,
    purge: bool,
    /// The key's records in the window (at most `size + slide - 1`).
    records: Option<ListState<T>>,
    /// Records of the key since the last firing.
    since_fire: Option<ValueState<u64>>,
    _k: PhantomData<fn(K)>,
}

impl<T, K, W> CountWindowFn<T, K, W> {
    /// A function with no state handles yet (they are bound in `open`).
    fn new(agg: W, size: u64, slide: u64, purge: bool) -> Self {
        CountWindowFn { agg, size, slide, purge, records: None, since_fire: None, _k: PhantomData }
    }
}

impl<T, K, W: Clone> Clone for CountWindowFn<T, K, W> {
    fn clone(&self) -> Self {
        CountWindowFn::new(self.agg.clone(), self.size, self.slide, self.purge)
    }
}

impl<T, K, W> KeyedProcessFunction for CountWindowFn<T, K, W>
where
    T: Record,
    K: Hash + Eq + Record,
    W: WindowAgg<T, K>,
{
    type Key = K;
    type In = T;
    type Out = W::Out;

    fn open(&mut self, state: &mut KeyedStateStore<K>) {
        self.records = Some(state.list_state("count-window-records"));
        self.since_fire = Some(state.value_state("count-window-count"));
    }

    fn process_element(
        &mut self,
        value: T,
        ctx: &mut KeyedContext<'_, K>,
        out: &mut Collector<'_, W::Out>,
    ) -> Result<(), TaskError> {
        let (Some(records), Some(since_fire)) = (&self.records, &self.since_fire) else { return Ok(()) };
        records.add(ctx, value);
        let n = since_fire.value(ctx).unwrap_or(0) + 1;
        if n < self.slide {
            since_fire.update(ctx, n);
            return Ok(());
        }
        // Fire: the evictor keeps the last `size` records, then the function sees them.
        let held = records.get(ctx);
        let skip = held.len().saturating_sub(self.size as usize);
        if skip > 0 {
            let kept = held[skip..].to_vec();
            records.update(ctx, kept);
        }
        let mut acc = self.agg.create();
        for r in records.get(ctx) {
            self.agg.add(&mut acc, r.clone());
        }
        let window = TimeWindow::new(i64::MIN, i64::MAX);
        let watermark = ctx.timer_service().current_watermark();
        out.set_absolute_timestamp(window.max_timestamp());
        let key = ctx.current_key().clone();
        self.agg.emit(&key, &ProcessWindowContext { window, watermark }, &acc, out)?;
        if self.purge {
            records.clear(ctx);
        }
        since_fire.clear(ctx);
        Ok(())
    }
}
