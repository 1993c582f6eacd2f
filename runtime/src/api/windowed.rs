//! `WindowedStream` (Flink's `WindowedStream` / `AllWindowedStream`): a
//! keyed stream cut into windows, waiting for its window function.

use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use super::side::OutputTag;
use super::stream::{DataStream, KeyedStream};
use crate::record::Record;
use crate::windowing::operator::WindowBuilder;
use crate::windowing::{
    AggregateAgg, AggregateFunction, DefaultTrigger, PassResult, ProcessAgg, ProcessWindowFunction, ReduceAgg, Trigger,
    WindowAgg, WindowAssigner,
};

/// A keyed stream with a window assigner; finish it with [`reduce`](Self::reduce),
/// [`aggregate`](Self::aggregate) or [`process`](Self::process).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use rfy_runtime::sinks::CollectSink;
/// use rfy_runtime::time::WatermarkStrategy;
/// use rfy_runtime::windowing::TumblingEventTimeWindows;
/// use rfy_runtime::{ExecutionConfig, StreamExecutionEnvironment};
///
/// let env = StreamExecutionEnvironment::new(ExecutionConfig::default());
/// let out = Arc::new(Mutex::new(Vec::new()));
/// // (word, count, timestamp ms): counts per word and 10 s window.
/// let words = vec![("a".to_string(), 1u64, 1_000i64), ("b".into(), 1, 2_000), ("a".into(), 1, 9_000), ("a".into(), 1, 11_000)];
/// env.from_collection(words)
///     .assign_timestamps_and_watermarks(
///         WatermarkStrategy::for_monotonous_timestamps().with_timestamp_assigner(|w: &(String, u64, i64), _| w.2),
///     )
///     .key_by(|w: &(String, u64, i64)| w.0.clone())
///     .window(TumblingEventTimeWindows::of(Duration::from_secs(10)))
///     .reduce(|a, b| (a.0, a.1 + b.1, a.2.max(b.2)))
///     .sink_to(CollectSink::new(out.clone()));
/// rfy_runtime::task::run_local(env).unwrap();
/// let mut got: Vec<(String, u64)> = out.lock().unwrap().iter().map(|r| (r.0.clone(), r.1)).collect();
/// got.sort();
/// assert_eq!(got, vec![("a".into(), 1), ("a".into(), 2), ("b".into(), 1)]);
/// ```
pub struct WindowedStream<T, K, F, A, Tr = DefaultTrigger> {
    keyed: KeyedStream<T, K, F>,
    assigner: A,
    trigger: Tr,
    lateness_ms: i64,
    late_tag: Option<OutputTag<T>>,
    /// `window_all`: one subtask sees the whole stream.
    all: bool,
}

impl<T, K, F> KeyedStream<T, K, F>
where
    T: Record,
    K: Hash + Eq + Record,
    F: Fn(&T) -> K + Send + Sync + 'static,
{
    /// Cuts each key's records into the windows `assigner` gives (Flink's `window`).
    pub fn window<A: WindowAssigner>(&self, assigner: A) -> WindowedStream<T, K, F, A> {
        WindowedStream {
            keyed: KeyedStream { input: self.input.clone(), key_fn: self.key_fn.clone(), _k: PhantomData },
            trigger: assigner.default_trigger(),
            assigner,
            lateness_ms: 0,
            late_tag: None,
            all: false,
        }
    }
}

fn unit_key<T>(_: &T) {}

impl<T: Record> DataStream<T> {
    /// Windows over the whole (non-keyed) stream, evaluated by one subtask
    /// (Flink's `windowAll`).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use rfy_runtime::sinks::CollectSink;
    /// use rfy_runtime::windowing::GlobalWindows;
    /// use rfy_runtime::{ExecutionConfig, StreamExecutionEnvironment};
    ///
    /// let env = StreamExecutionEnvironment::new(ExecutionConfig { parallelism: 2, ..Default::default() });
    /// let out = Arc::new(Mutex::new(Vec::new()));
    /// env.from_collection((1..=100u64).collect()).rebalance().map(|x| x)
    ///     .window_all(GlobalWindows::create())
    ///     .reduce(|a, b| a + b)
    ///     .sink_to(CollectSink::new(out.clone()));
    /// rfy_runtime::task::run_local(env).unwrap();
    /// assert_eq!(*out.lock().unwrap(), vec![5050]);
    /// ```
    pub fn window_all<A: WindowAssigner>(&self, assigner: A) -> WindowedStream<T, (), fn(&T), A> {
        let keyed = self.key_by(unit_key::<T> as fn(&T));
        WindowedStream {
            keyed,
            trigger: assigner.default_trigger(),
            assigner,
            lateness_ms: 0,
            late_tag: None,
            all: true,
        }
    }
}

impl<T, K, F, A, Tr> WindowedStream<T, K, F, A, Tr>
where
    T: Record,
    K: Hash + Eq + Record,
    F: Fn(&T) -> K + Send + Sync + 'static,
    A: WindowAssigner,
    Tr: Trigger<T>,
{
    /// Replaces the assigner's default trigger (Flink's `trigger`): `trigger`
    /// decides when each window fires and purges; the window is still
    /// cleaned up after its allowed lateness. Session windows need a
    /// trigger that can merge (`Trigger::can_merge`), else the job fails at
    /// start with an error naming the window.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// use rfy_runtime::sinks::CollectSink;
    /// use rfy_runtime::time::WatermarkStrategy;
    /// use rfy_runtime::windowing::{ContinuousEventTimeTrigger, TumblingEventTimeWindows};
    /// use rfy_runtime::{ExecutionConfig, StreamExecutionEnvironment};
    ///
    /// let env = StreamExecutionEnvironment::new(ExecutionConfig::default());
    /// let out = Arc::new(Mutex::new(Vec::new()));
    /// // (user, clicks, timestamp ms); early results every 5 s of a 20 s window.
    /// let clicks = vec![("a".to_string(), 1u64, 1_000i64), ("a".into(), 1, 6_000), ("a".into(), 1, 12_000)];
    /// env.from_collection(clicks)
    ///     .assign_timestamps_and_watermarks(
    ///         WatermarkStrategy::for_monotonous_timestamps().with_timestamp_assigner(|c: &(String, u64, i64), _| c.2),
    ///     )
    ///     .key_by(|c: &(String, u64, i64)| c.0.clone())
    ///     .window(TumblingEventTimeWindows::of(Duration::from_secs(20)))
    ///     .trigger(ContinuousEventTimeTrigger::of(Duration::from_secs(5)))
    ///     .reduce(|a, b| (a.0, a.1 + b.1, a.2.max(b.2)))
    ///     .sink_to(CollectSink::new(out.clone()));
    /// rfy_runtime::task::run_local(env).unwrap();
    /// let counts: Vec<u64> = out.lock().unwrap().iter().map(|r| r.1).collect();
    /// // Early firings (every 5 s of event time) see the clicks so far, the
    /// // last one (the window's end, 20 s) all 3. How many early firings
    /// // happen depends on how often the watermark advances.
    /// assert_eq!(counts.last(), Some(&3));
    /// assert!(counts.len() >= 2 && counts.windows(2).all(|c| c[0] <= c[1]), "{counts:?}");
    /// ```
    pub fn trigger<Tr2: Trigger<T>>(self, trigger: Tr2) -> WindowedStream<T, K, F, A, Tr2> {
        WindowedStream {
            keyed: self.keyed,
            assigner: self.assigner,
            trigger,
            lateness_ms: self.lateness_ms,
            late_tag: self.late_tag,
            all: self.all,
        }
    }

    /// Keeps each event-time window (and fires it again per late record)
    /// until the watermark passes its end by `lateness` (Flink's
    /// `allowedLateness`); later records are dropped, or sent to the
    /// [`side_output_late_data`](Self::side_output_late_data) tag. Default 0.
    pub fn allowed_lateness(mut self, lateness: Duration) -> Self {
        self.lateness_ms = lateness.as_millis().min(i64::MAX as u128) as i64;
        self
    }

    /// Sends records that arrive after their windows are gone to the side
    /// output `tag` instead of dropping them (Flink's `sideOutputLateData`);
    /// read it with `get_side_output(&tag)` on the window's result.
    pub fn side_output_late_data(mut self, tag: &OutputTag<T>) -> Self {
        self.late_tag = Some(tag.clone());
        self
    }

    fn apply<W: WindowAgg<T, K>>(&self, name: &str, agg: W) -> DataStream<W::Out> {
        let b = WindowBuilder::<T, K, F, A, W, Tr> {
            key_fn: self.keyed.key_fn.clone(),
            assigner: self.assigner.clone(),
            agg,
            trigger: self.trigger.clone(),
            lateness_ms: self.lateness_ms,
            late_tag: self.late_tag.clone(),
            _t: PhantomData,
        };
        let out = self.keyed.keyed::<W::Out>(name, Arc::new(b));
        if self.all {
            out.set_parallelism(1)
        } else {
            out
        }
    }

    /// Folds each window's records with `reduce`, incrementally (Flink's
    /// `reduce`): one record per window, at its end.
    pub fn reduce<R: Fn(T, T) -> T + Clone + Send + Sync + 'static>(&self, reduce: R) -> DataStream<T> {
        self.apply("Window(Reduce)", ReduceAgg(reduce, PhantomData))
    }

    /// Aggregates each window incrementally through an accumulator (Flink's `aggregate`).
    pub fn aggregate<G: AggregateFunction<T>>(&self, function: G) -> DataStream<G::Out> {
        self.apply("Window(Aggregate)", AggregateAgg(function, PassResult(PhantomData)))
    }

    /// Aggregates each window incrementally, then hands the one result to
    /// `function` with the key and the window's metadata (Flink's
    /// `aggregate(AggregateFunction, ProcessWindowFunction)`): the window
    /// keeps only the accumulator, and the output can name the window.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// use rfy_runtime::sinks::CollectSink;
    /// use rfy_runtime::time::WatermarkStrategy;
    /// use rfy_runtime::windowing::{AggregateFunction, ProcessWindowContext, ProcessWindowFunction};
    /// use rfy_runtime::windowing::TumblingEventTimeWindows;
    /// use rfy_runtime::{Collector, ExecutionConfig, StreamExecutionEnvironment, TaskError};
    ///
    /// /// The highest price of a window's bids; the accumulator is one number.
    /// #[derive(Clone)]
    /// struct MaxPrice;
    /// impl AggregateFunction<(u32, u64, i64)> for MaxPrice {
    ///     type Acc = u64;
    ///     type Out = u64;
    ///     fn create_accumulator(&self) -> u64 { 0 }
    ///     fn add(&self, bid: (u32, u64, i64), acc: &mut u64) { *acc = (*acc).max(bid.1) }
    ///     fn get_result(&self, acc: &u64) -> u64 { *acc }
    ///     fn merge(&self, acc: &mut u64, other: u64) { *acc = (*acc).max(other) }
    /// }
    /// /// (auction, window start ms, highest price): the result with its window.
    /// #[derive(Clone)]
    /// struct WithWindow;
    /// impl ProcessWindowFunction<u64, u32> for WithWindow {
    ///     type Out = (u32, i64, u64);
    ///     fn process(&mut self, auction: &u32, ctx: &ProcessWindowContext, max: &[u64],
    ///                out: &mut Collector<'_, (u32, i64, u64)>) -> Result<(), TaskError> {
    ///         out.collect((*auction, ctx.window().start, max[0]));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let env = StreamExecutionEnvironment::new(ExecutionConfig::default());
    /// let out = Arc::new(Mutex::new(Vec::new()));
    /// // (auction, price, timestamp ms)
    /// let bids = vec![(1u32, 5u64, 1_000i64), (1, 9, 4_000), (2, 3, 6_000), (1, 7, 12_000)];
    /// env.from_collection(bids)
    ///     .assign_timestamps_and_watermarks(
    ///         WatermarkStrategy::for_monotonous_timestamps().with_timestamp_assigner(|b: &(u32, u64, i64), _| b.2),
    ///     )
    ///     .key_by(|b: &(u32, u64, i64)| b.0)
    ///     .window(TumblingEventTimeWindows::of(Duration::from_secs(10)))
    ///     .aggregate_process(MaxPrice, WithWindow)
    ///     .sink_to(CollectSink::new(out.clone()));
    /// rfy_runtime::task::run_local(env).unwrap();
    /// let mut got = out.lock().unwrap().clone();
    /// got.sort();
    /// assert_eq!(got, vec![(1, 0, 9), (1, 10_000, 7), (2, 0, 3)]);
    /// ```
    pub fn aggregate_process<G, P>(&self, aggregate: G, function: P) -> DataStream<P::Out>
    where
        G: AggregateFunction<T>,
        P: ProcessWindowFunction<G::Out, K>,
    {
        self.apply("Window(Aggregate)", AggregateAgg(aggregate, function))
    }

    /// Evaluates each window with all its records and the window's
    /// metadata (Flink's `process`); the window buffers its records.
    pub fn process<P: ProcessWindowFunction<T, K>>(&self, function: P) -> DataStream<P::Out> {
        self.apply("Window(Process)", ProcessAgg(function))
    }
}
