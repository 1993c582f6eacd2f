//! Two inputs in one operator (Flink's `ConnectedStreams`,
//! `CoProcessFunction`, `KeyedCoProcessFunction`) and the interval join.
//!
//! Both inputs travel as one stream of tagged records (the union of the two
//! inputs, each record marked first or second, as Flink's `TaggedUnion`
//! does for joins): one input gate aligns barriers over the channels of
//! both, and the watermark is the minimum over all of them.

use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::functions::{Collector, KeyedProcessFunction};
use super::state::KeyedContext;
use super::state::{KeyedStateStore, ListState};
use super::stream::{DataStream, KeyedStream};
use crate::context::OperatorContext;
use crate::error::TaskError;
use crate::event::{Event, NO_TIMESTAMP};
use crate::graph::OperatorBuilder;
use crate::record::Record;
use crate::task::output::{erase, unerase, AnyOutput};
use crate::task::Output;

/// A record of the first or the second input of a connected stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Tagged<A, B> {
    /// From the first input.
    First(A),
    /// From the second input.
    Second(B),
}

/// Two streams connected for one operator (Flink's `ConnectedStreams`).
pub struct ConnectedStreams<A, B> {
    tagged: DataStream<Tagged<A, B>>,
}

/// What a stream of `A` can be connected with (Flink's `connect`
/// overloads): another [`DataStream`] (→ [`ConnectedStreams`]) or a
/// [`BroadcastStream`](super::BroadcastStream) (→
/// [`BroadcastConnectedStream`](super::BroadcastConnectedStream)).
pub trait ConnectWith<A> {
    /// The connected streams.
    type Connected;
    /// Connects `first` (the first input) with `self` (the second).
    fn connect_to(&self, first: &DataStream<A>) -> Self::Connected;
}

impl<A: Record, B: Record> ConnectWith<A> for DataStream<B> {
    type Connected = ConnectedStreams<A, B>;
    fn connect_to(&self, first: &DataStream<A>) -> ConnectedStreams<A, B> {
        let first = first.map(Tagged::<A, B>::First).name("Connect (first input)");
        let second = self.map(Tagged::<A, B>::Second).name("Connect (second input)");
        ConnectedStreams { tagged: first.union(&[&second]) }
    }
}

impl<A: Record> DataStream<A> {
    /// Connects this stream with `other` (Flink's `connect`): with another
    /// `DataStream`, for a [`CoProcessFunction`] or, after
    /// [`ConnectedStreams::key_by`], a [`KeyedCoProcessFunction`]; with a
    /// [`BroadcastStream`](super::BroadcastStream), for a
    /// [`BroadcastProcessFunction`](super::BroadcastProcessFunction).
    pub fn connect<O: ConnectWith<A>>(&self, other: &O) -> O::Connected {
        other.connect_to(self)
    }
}

/// What a [`CoProcessFunction`] sees of the current record.
#[derive(Debug, Clone, Copy)]
pub struct CoProcessContext {
    timestamp: i64,
    watermark: i64,
}

impl CoProcessContext {
    /// The record's event-time timestamp (ms), if it has one.
    pub fn timestamp(&self) -> Option<i64> {
        (self.timestamp != NO_TIMESTAMP).then_some(self.timestamp)
    }
    /// The operator's current watermark (ms).
    pub fn current_watermark(&self) -> i64 {
        self.watermark
    }
}

/// A function over two non-keyed inputs (Flink's `CoProcessFunction`).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use rfy_runtime::api::{CoProcessContext, CoProcessFunction};
/// use rfy_runtime::sinks::CollectSink;
/// use rfy_runtime::{Collector, ExecutionConfig, StreamExecutionEnvironment, TaskError};
///
/// /// Numbers become their square, words their length.
/// #[derive(Clone)]
/// struct Mixed;
/// impl CoProcessFunction for Mixed {
///     type In1 = u64;
///     type In2 = String;
///     type Out = u64;
///     fn process_element1(&mut self, v: u64, _c: &CoProcessContext, out: &mut Collector<'_, u64>) -> Result<(), TaskError> {
///         out.collect(v * v);
///         Ok(())
///     }
///     fn process_element2(&mut self, v: String, _c: &CoProcessContext, out: &mut Collector<'_, u64>) -> Result<(), TaskError> {
///         out.collect(v.len() as u64);
///         Ok(())
///     }
/// }
/// let env = StreamExecutionEnvironment::new(ExecutionConfig::default());
/// let out = Arc::new(Mutex::new(Vec::new()));
/// let numbers = env.from_collection(vec![3u64]);
/// let words = env.from_collection(vec!["hello".to_string()]);
/// numbers.connect(&words).process(Mixed).sink_to(CollectSink::new(out.clone()));
/// rfy_runtime::task::run_local(env).unwrap();
/// let mut got = out.lock().unwrap().clone();
/// got.sort();
/// assert_eq!(got, vec![5, 9]);
/// ```
pub trait CoProcessFunction: Clone + Send + Sync + 'static {
    /// First input's records.
    type In1: Record;
    /// Second input's records.
    type In2: Record;
    /// Output records.
    type Out: Record;
    /// Handles a record of the first input.
    ///
    /// Errors: fail the task.
    fn process_element1(
        &mut self,
        value: Self::In1,
        ctx: &CoProcessContext,
        out: &mut Collector<'_, Self::Out>,
    ) -> Result<(), TaskError>;
    /// Handles a record of the second input.
    ///
    /// Errors: fail the task.
    fn process_element2(
        &mut self,
        value: Self::In2,
        ctx: &CoProcessContext,
        out: &mut Collector<'_, Self::Out>,
    ) -> Result<(), TaskError>;
}

struct CoProcessOp<P: CoProcessFunction> {
    function: P,
    watermark: i64,
    buf: Vec<P::Out>,
    buf_ts: Vec<i64>,
    next: Box<dyn Output<P::Out>>,
}

impl<P: CoProcessFunction> CoProcessOp<P> {
    fn one(&mut self, rec: Tagged<P::In1, P::In2>, timestamp: i64) -> Result<(), TaskError> {
        let ctx = CoProcessContext { timestamp, watermark: self.watermark };
        let out = &mut Collector::new(&mut self.buf);
        match rec {
            Tagged::First(a) => self.function.process_element1(a, &ctx, out),
            Tagged::Second(b) => self.function.process_element2(b, &ctx, out),
        }
    }
}

impl<P: CoProcessFunction> Output<Tagged<P::In1, P::In2>> for CoProcessOp<P> {
    fn push_batch(&mut self, batch: &mut Vec<Tagged<P::In1, P::In2>>) -> Result<(), TaskError> {
        for rec in batch.drain(..) {
            self.one(rec, NO_TIMESTAMP)?;
        }
        self.next.push_batch(&mut self.buf)
    }
    fn push_timestamped(
        &mut self,
        batch: &mut Vec<Tagged<P::In1, P::In2>>,
        ts: &mut Vec<i64>,
    ) -> Result<(), TaskError> {
        for (rec, t) in batch.drain(..).zip(ts.drain(..)) {
            self.one(rec, t)?;
            self.buf_ts.resize(self.buf.len(), t);
        }
        self.next.push_timestamped(&mut self.buf, &mut self.buf_ts)
    }
    fn push_event(&mut self, event: &Event) -> Result<(), TaskError> {
        if let Event::Watermark(w) = event {
            self.watermark = *w;
        }
        self.next.push_event(event)
    }
}

struct CoProcessBuilder<P>(P);

impl<P: CoProcessFunction> OperatorBuilder for CoProcessBuilder<P> {
    fn build(&self, ctx: &OperatorContext, next: AnyOutput) -> Result<AnyOutput, TaskError> {
        let next = unerase::<P::Out>(next, &ctx.operator_name)?;
        let op =
            CoProcessOp { function: self.0.clone(), watermark: i64::MIN, buf: Vec::new(), buf_ts: Vec::new(), next };
        Ok(erase::<Tagged<P::In1, P::In2>>(Box::new(op)))
    }
}

impl<A: Record, B: Record> ConnectedStreams<A, B> {
    /// Runs `function` over both inputs (Flink's `process`).
    pub fn process<P: CoProcessFunction<In1 = A, In2 = B>>(&self, function: P) -> DataStream<P::Out> {
        self.tagged.then("Co-Process", Arc::new(CoProcessBuilder(function)))
    }

    /// Partitions both inputs by key, `key1` for the first and `key2` for
    /// the second (Flink's `keyBy(key1, key2)`): equal keys of both meet in
    /// one subtask.
    pub fn key_by<K, F1, F2>(
        &self,
        key1: F1,
        key2: F2,
    ) -> KeyedConnectedStreams<A, B, K, impl Fn(&Tagged<A, B>) -> K + Send + Sync + 'static>
    where
        K: Hash + Eq + Record,
        F1: Fn(&A) -> K + Send + Sync + 'static,
        F2: Fn(&B) -> K + Send + Sync + 'static,
    {
        let key_fn = move |t: &Tagged<A, B>| match t {
            Tagged::First(a) => key1(a),
            Tagged::Second(b) => key2(b),
        };
        KeyedConnectedStreams { keyed: self.tagged.key_by(key_fn) }
    }
}

/// Two streams connected and partitioned by key (Flink's keyed `ConnectedStreams`).
pub struct KeyedConnectedStreams<A, B, K, F> {
    keyed: KeyedStream<Tagged<A, B>, K, F>,
}

/// A function over two keyed inputs with keyed state and timers shared by
/// both (Flink's `KeyedCoProcessFunction`).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use rfy_runtime::api::{KeyedContext, KeyedCoProcessFunction, KeyedStateStore, ValueState};
/// use rfy_runtime::sinks::CollectSink;
/// use rfy_runtime::{Collector, ExecutionConfig, StreamExecutionEnvironment, TaskError};
///
/// /// Orders (id, amount) enriched with the latest customer name (id, name) per id.
/// #[derive(Clone, Default)]
/// struct Enrich { name: Option<ValueState<String>> }
/// impl KeyedCoProcessFunction for Enrich {
///     type Key = u32;
///     type In1 = (u32, String);
///     type In2 = (u32, u64);
///     type Out = (String, u64);
///     fn open(&mut self, state: &mut KeyedStateStore<u32>) { self.name = Some(state.value_state("name")); }
///     fn process_element1(&mut self, c: (u32, String), ctx: &mut KeyedContext<'_, u32>,
///                         _out: &mut Collector<'_, (String, u64)>) -> Result<(), TaskError> {
///         self.name.as_ref().unwrap().update(ctx, c.1);
///         Ok(())
///     }
///     fn process_element2(&mut self, o: (u32, u64), ctx: &mut KeyedContext<'_, u32>,
///                         out: &mut Collector<'_, (String, u64)>) -> Result<(), TaskError> {
///         let name = self.name.as_ref().unwrap().value(ctx).unwrap_or_else(|| "?".into());
///         out.collect((name, o.1));
///         Ok(())
///     }
/// }
/// let env = StreamExecutionEnvironment::new(ExecutionConfig::default());
/// let out = Arc::new(Mutex::new(Vec::new()));
/// let customers = env.from_collection(vec![(1u32, "ada".to_string())]);
/// let orders = env.from_collection(vec![(2u32, 5u64)]);
/// customers.connect(&orders).key_by(|c: &(u32, String)| c.0, |o: &(u32, u64)| o.0)
///     .process(Enrich::default()).sink_to(CollectSink::new(out.clone()));
/// rfy_runtime::task::run_local(env).unwrap();
/// assert_eq!(*out.lock().unwrap(), vec![("?".to_string(), 5)]);
/// ```
pub trait KeyedCoProcessFunction: Clone + Send + Sync + 'static {
    /// The key type.
    type Key: Hash + Eq + Record;
    /// First input's records.
    type In1: Record;
    /// Second input's records.
    type In2: Record;
    /// Output records.
    type Out: Record;
    /// Called once per subtask before any record: register state here.
    fn open(&mut self, state: &mut KeyedStateStore<Self::Key>) {
        let _ = state;
    }
    /// Handles a record of the first input.
    ///
    /// Errors: fail the task.
    fn process_element1(
        &mut self,
        value: Self::In1,
        ctx: &mut KeyedContext<'_, Self::Key>,
        out: &mut Collector<'_, Self::Out>,
    ) -> Result<(), TaskError>;
    /// Handles a record of the second input.
    ///
    /// Errors: fail the task.
    fn process_element2(
        &mut self,
        value: Self::In2,
        ctx: &mut KeyedContext<'_, Self::Key>,
        out: &mut Collector<'_, Self::Out>,
    ) -> Result<(), TaskError>;
    /// A timer fired (see [`KeyedProcessFunction::on_timer`]).
    ///
    /// Errors: fail the task.
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

/// Runs a [`KeyedCoProcessFunction`] as a keyed process function over the tagged stream.
#[derive(Clone)]
struct CoAdapter<P>(P);

impl<P: KeyedCoProcessFunction> KeyedProcessFunction for CoAdapter<P> {
    type Key = P::Key;
    type In = Tagged<P::In1, P::In2>;
    type Out = P::Out;
    fn open(&mut self, state: &mut KeyedStateStore<P::Key>) {
        self.0.open(state)
    }
    fn process_element(
        &mut self,
        value: Self::In,
        ctx: &mut KeyedContext<'_, P::Key>,
        out: &mut Collector<'_, P::Out>,
    ) -> Result<(), TaskError> {
        match value {
            Tagged::First(a) => self.0.process_element1(a, ctx, out),
            Tagged::Second(b) => self.0.process_element2(b, ctx, out),
        }
    }
    fn on_timer(
        &mut self,
        ts: i64,
        ctx: &mut KeyedContext<'_, P::Key>,
        out: &mut Collector<'_, P::Out>,
    ) -> Result<(), TaskError> {
        self.0.on_timer(ts, ctx, out)
    }
}

impl<A, B, K, F> KeyedConnectedStreams<A, B, K, F>
where
    A: Record,
    B: Record,
    K: Hash + Eq + Record,
    F: Fn(&Tagged<A, B>) -> K + Send + Sync + 'static,
{
    /// Runs `function` over both inputs with keyed state and timers (Flink's `process`).
    pub fn process<P: KeyedCoProcessFunction<Key = K, In1 = A, In2 = B>>(&self, function: P) -> DataStream<P::Out> {
        self.keyed.process(CoAdapter(function)).name("KeyedCoProcess")
    }
}

/// Joins two keyed streams on records whose timestamps are close (Flink's
/// `KeyedStream.intervalJoin`): a left record at `t` meets every right
/// record of its key with a timestamp in `[t + lower, t + upper]` (ms).
/// A joined pair's timestamp is the later of the two (Flink's
/// `IntervalJoinOperator`: `max(leftTs, rightTs)`).
/// Buffered records are kept as keyed state until the watermark passes
/// the last time they can join; records behind the watermark are dropped.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use rfy_runtime::sinks::CollectSink;
/// use rfy_runtime::time::WatermarkStrategy;
/// use rfy_runtime::{Collector, ExecutionConfig, StreamExecutionEnvironment};
///
/// let env = StreamExecutionEnvironment::new(ExecutionConfig::default());
/// let out = Arc::new(Mutex::new(Vec::new()));
/// let ts = |r: &(u32, i64), _| r.1;
/// // (user, ms): clicks joined with the views of the same user up to 1 s before.
/// let views = env.from_collection(vec![(1u32, 1_000i64), (1, 5_000)])
///     .assign_timestamps_and_watermarks(WatermarkStrategy::for_monotonous_timestamps().with_timestamp_assigner(ts));
/// let clicks = env.from_collection(vec![(1u32, 1_500i64), (1, 9_000)])
///     .assign_timestamps_and_watermarks(WatermarkStrategy::for_monotonous_timestamps().with_timestamp_assigner(ts));
/// clicks.key_by(|c: &(u32, i64)| c.0)
///     .interval_join(&views.key_by(|v: &(u32, i64)| v.0))
///     .between(-1_000, 0)
///     .process(|c: &(u32, i64), v: &(u32, i64), out: &mut Collector<'_, (i64, i64)>| out.collect((c.1, v.1)))
///     .sink_to(CollectSink::new(out.clone()));
/// rfy_runtime::task::run_local(env).unwrap();
/// assert_eq!(*out.lock().unwrap(), vec![(1_500, 1_000)]);
/// ```
pub struct IntervalJoin<A, B, K, F1, F2> {
    left: KeyedStream<A, K, F1>,
    right: KeyedStream<B, K, F2>,
    lower: i64,
    upper: i64,
}

impl<A, K, F1> KeyedStream<A, K, F1>
where
    A: Record,
    K: Hash + Eq + Record,
    F1: Fn(&A) -> K + Send + Sync + 'static,
{
    /// Starts an interval join with `other` (set the bounds with [`IntervalJoin::between`]).
    pub fn interval_join<B: Record, F2: Fn(&B) -> K + Send + Sync + 'static>(
        &self,
        other: &KeyedStream<B, K, F2>,
    ) -> IntervalJoin<A, B, K, F1, F2> {
        IntervalJoin {
            left: KeyedStream { input: self.input.clone(), key_fn: self.key_fn.clone(), _k: PhantomData },
            right: KeyedStream { input: other.input.clone(), key_fn: other.key_fn.clone(), _k: PhantomData },
            lower: 0,
            upper: 0,
        }
    }
}

/// Buffers both sides and joins them (the interval join as a keyed co-process function).
struct IntervalJoinFn<A, B, J> {
    join: Arc<J>,
    lower: i64,
    upper: i64,
    left: Option<ListState<(i64, A)>>,
    right: Option<ListState<(i64, B)>>,
}

impl<A, B, J> Clone for IntervalJoinFn<A, B, J> {
    fn clone(&self) -> Self {
        IntervalJoinFn { join: self.join.clone(), lower: self.lower, upper: self.upper, left: None, right: None }
    }
}

impl<A, B, K, F1, F2> IntervalJoin<A, B, K, F1, F2>
where
    A: Record,
    B: Record,
    K: Hash + Eq + Record,
    F1: Fn(&A) -> K + Send + Sync + 'static,
    F2: Fn(&B) -> K + Send + Sync + 'static,
{
    /// Joins a left record at `t` with right records in `[t + lower_ms, t + upper_ms]`.
    pub fn between(mut self, lower_ms: i64, upper_ms: i64) -> Self {
        self.lower = lower_ms;
        self.upper = upper_ms;
        self
    }

    /// Emits what `join` makes of each joined pair (Flink's `ProcessJoinFunction`).
    pub fn process<O, J>(&self, join: J) -> DataStream<O>
    where
        O: Record,
        J: Fn(&A, &B, &mut Collector<'_, O>) + Send + Sync + 'static,
    {
        let (k1, k2) = (self.left.key_fn.clone(), self.right.key_fn.clone());
        let f = IntervalJoinFn::<A, B, J> {
            join: Arc::new(join),
            lower: self.lower,
            upper: self.upper,
            left: None,
            right: None,
        };
        self.left
            .input
            .connect(&self.right.input)
            .key_by(move |a: &A| k1(a), move |b: &B| k2(b))
            .process(JoinAdapter::<A, B, K, O, J>(f, PhantomData))
            .name("IntervalJoin")
    }
}

struct JoinAdapter<A, B, K, O, J>(IntervalJoinFn<A, B, J>, PhantomData<fn(K) -> O>);

impl<A, B, K, O, J> Clone for JoinAdapter<A, B, K, O, J> {
    fn clone(&self) -> Self {
        JoinAdapter(self.0.clone(), PhantomData)
    }
}

impl<A, B, K, O, J> KeyedCoProcessFunction for JoinAdapter<A, B, K, O, J>
where
    A: Record,
    B: Record,
    K: Hash + Eq + Record,
    O: Record,
    J: Fn(&A, &B, &mut Collector<'_, O>) + Send + Sync + 'static,
{
    type Key = K;
    type In1 = A;
    type In2 = B;
    type Out = O;

    fn open(&mut self, state: &mut KeyedStateStore<K>) {
        self.0.left = Some(state.list_state("interval-join-left"));
        self.0.right = Some(state.list_state("interval-join-right"));
    }

    fn process_element1(
        &mut self,
        a: A,
        ctx: &mut KeyedContext<'_, K>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), TaskError> {
        let f = &self.0;
        let (Some(left), Some(right)) = (&f.left, &f.right) else { return Ok(()) };
        let Some(t) = ctx.timestamp() else { return Err(no_timestamp()) };
        if t < ctx.timer_service().current_watermark() {
            return Ok(()); // late
        }
        for (tb, b) in right.get(ctx) {
            if *tb >= t.saturating_add(f.lower) && *tb <= t.saturating_add(f.upper) {
                out.set_absolute_timestamp(t.max(*tb));
                (f.join)(&a, b, out);
            }
        }
        left.add(ctx, (t, a));
        ctx.timer_service().register_event_time_timer(t.saturating_add(f.upper));
        Ok(())
    }

    fn process_element2(
        &mut self,
        b: B,
        ctx: &mut KeyedContext<'_, K>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), TaskError> {
        let f = &self.0;
        let (Some(left), Some(right)) = (&f.left, &f.right) else { return Ok(()) };
        let Some(t) = ctx.timestamp() else { return Err(no_timestamp()) };
        if t < ctx.timer_service().current_watermark() {
            return Ok(());
        }
        for (ta, a) in left.get(ctx) {
            if t >= ta.saturating_add(f.lower) && t <= ta.saturating_add(f.upper) {
                out.set_absolute_timestamp(t.max(*ta));
                (f.join)(a, &b, out);
            }
        }
        right.add(ctx, (t, b));
        ctx.timer_service().register_event_time_timer(t.saturating_sub(f.lower));
        Ok(())
    }

    fn on_timer(
        &mut self,
        ts: i64,
        ctx: &mut KeyedContext<'_, K>,
        _out: &mut Collector<'_, O>,
    ) -> Result<(), TaskError> {
        let f = &self.0;
        let (Some(left), Some(right)) = (&f.left, &f.right) else { return Ok(()) };
        // Once the watermark passes t + upper, no right record can join a
        // left record at t; nor a left record a right record at t - lower.
        let keep_left: Vec<(i64, A)> =
            left.get(ctx).iter().filter(|(t, _)| t.saturating_add(f.upper) > ts).cloned().collect();
        let keep_right: Vec<(i64, B)> =
            right.get(ctx).iter().filter(|(t, _)| t.saturating_sub(f.lower) > ts).cloned().collect();
        if keep_left.is_empty() {
            left.clear(ctx)
        } else {
            left.update(ctx, keep_left)
        }
        if keep_right.is_empty() {
            right.clear(ctx)
        } else {
            right.update(ctx, keep_right)
        }
        Ok(())
    }
}

fn no_timestamp() -> TaskError {
    TaskError::User(
        "interval join: a record without a timestamp; give both inputs timestamps with assign_timestamps_and_watermarks"
            .into(),
    )
}

/// A window join of two streams (Flink's `DataStream.join(...).where(...)
/// .equalTo(...).window(...).apply(...)`): every pair of a first-input and
/// a second-input record with equal keys in the same window is joined when
/// the window fires. `where` being a Rust keyword, the first key selector
/// is set with [`where_key`](JoinedStreams::where_key).
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
/// let ts = |r: &(u32, i64), _| r.1;
/// let strategy = || WatermarkStrategy::for_monotonous_timestamps().with_timestamp_assigner(ts);
/// // (person id, ms): people who both signed up and bid in the same 10 s window.
/// let persons = env.from_collection(vec![(1u32, 1_000i64), (2, 2_000)]).assign_timestamps_and_watermarks(strategy());
/// let bids = env.from_collection(vec![(1u32, 9_000i64), (2, 12_000)]).assign_timestamps_and_watermarks(strategy());
/// persons.join(&bids)
///     .where_key(|p: &(u32, i64)| p.0)
///     .equal_to(|b: &(u32, i64)| b.0)
///     .window(TumblingEventTimeWindows::of(Duration::from_secs(10)))
///     .apply(|p: &(u32, i64), b: &(u32, i64)| (p.0, b.1))
///     .sink_to(CollectSink::new(out.clone()));
/// rfy_runtime::task::run_local(env).unwrap();
/// assert_eq!(*out.lock().unwrap(), vec![(1, 9_000)]);
/// ```
pub struct JoinedStreams<A, B> {
    first: DataStream<A>,
    second: DataStream<B>,
}

/// A window join with its first key selector.
pub struct JoinWhere<A, B, K, F1> {
    joined: JoinedStreams<A, B>,
    key1: F1,
    _k: PhantomData<fn() -> K>,
}

/// A window join with both key selectors; give it a window.
pub struct JoinEqualTo<A, B, K, F1, F2> {
    joined: JoinedStreams<A, B>,
    key1: F1,
    key2: F2,
    _k: PhantomData<fn() -> K>,
}

/// A window join ready for its join function.
pub struct WindowedJoin<A, B, K, F1, F2, W> {
    spec: JoinEqualTo<A, B, K, F1, F2>,
    assigner: W,
}

impl<A: Record> DataStream<A> {
    /// Starts a window join with `other` (Flink's `join`).
    pub fn join<B: Record>(&self, other: &DataStream<B>) -> JoinedStreams<A, B> {
        JoinedStreams { first: self.clone(), second: other.clone() }
    }
}

impl<A: Record, B: Record> JoinedStreams<A, B> {
    /// The key of first-input records (Flink's `where`).
    pub fn where_key<K, F1: Fn(&A) -> K + Send + Sync + 'static>(self, key1: F1) -> JoinWhere<A, B, K, F1> {
        JoinWhere { joined: self, key1, _k: PhantomData }
    }
}

impl<A: Record, B: Record, K: Hash + Eq + Record, F1: Fn(&A) -> K + Send + Sync + 'static> JoinWhere<A, B, K, F1> {
    /// The key of second-input records (Flink's `equalTo`).
    pub fn equal_to<F2: Fn(&B) -> K + Send + Sync + 'static>(self, key2: F2) -> JoinEqualTo<A, B, K, F1, F2> {
        JoinEqualTo { joined: self.joined, key1: self.key1, key2, _k: PhantomData }
    }
}

impl<A, B, K, F1, F2> JoinEqualTo<A, B, K, F1, F2>
where
    A: Record,
    B: Record,
    K: Hash + Eq + Record,
    F1: Fn(&A) -> K + Send + Sync + 'static,
    F2: Fn(&B) -> K + Send + Sync + 'static,
{
    /// The windows pairs must share (Flink's `window`).
    pub fn window<W: crate::windowing::WindowAssigner>(self, assigner: W) -> WindowedJoin<A, B, K, F1, F2, W> {
        WindowedJoin { spec: self, assigner }
    }
}

/// Joins the two sides of one window.
struct PairUp<A, B, O, J>(Arc<J>, PhantomData<fn(A, B) -> O>);

impl<A, B, O, J> Clone for PairUp<A, B, O, J> {
    fn clone(&self) -> Self {
        PairUp(self.0.clone(), PhantomData)
    }
}

impl<A, B, K, O, J> crate::windowing::ProcessWindowFunction<Tagged<A, B>, K> for PairUp<A, B, O, J>
where
    A: Record,
    B: Record,
    O: Record,
    J: Fn(&A, &B) -> O + Send + Sync + 'static,
{
    type Out = O;
    fn process(
        &mut self,
        _key: &K,
        _ctx: &crate::windowing::ProcessWindowContext,
        elements: &[Tagged<A, B>],
        out: &mut Collector<'_, O>,
    ) -> Result<(), TaskError> {
        for a in elements.iter().filter_map(|e| if let Tagged::First(a) = e { Some(a) } else { None }) {
            for b in elements.iter().filter_map(|e| if let Tagged::Second(b) = e { Some(b) } else { None }) {
                out.collect((self.0)(a, b));
            }
        }
        Ok(())
    }
}

impl<A, B, K, F1, F2, W> WindowedJoin<A, B, K, F1, F2, W>
where
    A: Record,
    B: Record,
    K: Hash + Eq + Record,
    F1: Fn(&A) -> K + Send + Sync + 'static,
    F2: Fn(&B) -> K + Send + Sync + 'static,
    W: crate::windowing::WindowAssigner,
{
    /// Emits `join(first, second)` for every pair with equal keys in a
    /// window, when the window fires (Flink's `apply` with a `JoinFunction`).
    pub fn apply<O: Record, J: Fn(&A, &B) -> O + Send + Sync + 'static>(self, join: J) -> DataStream<O> {
        let JoinEqualTo { joined, key1, key2, .. } = self.spec;
        joined
            .first
            .connect(&joined.second)
            .key_by(key1, key2)
            .keyed
            .window(self.assigner)
            .process(PairUp::<A, B, O, J>(Arc::new(join), PhantomData))
            .name("Window Join")
    }
}
