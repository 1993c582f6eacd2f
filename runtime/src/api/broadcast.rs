//! Flink's broadcast state pattern: a [`BroadcastStream`] (e.g. rules)
//! reaches every subtask of the operator it is connected to, where a
//! [`BroadcastProcessFunction`] or [`KeyedBroadcastProcessFunction`]
//! writes it into broadcast state (named maps, [`MapStateDescriptor`]) and
//! reads that state for each element of the other stream.
//!
//! Both inputs travel as one stream of [`Tagged`] records (as connected
//! streams do): the first input keeps its partitioning (by key for a keyed
//! stream), the broadcast input goes to every subtask (ship strategy
//! `BROADCAST`). One input gate aligns barriers over the channels of both,
//! so at a barrier every subtask has applied the same broadcast elements.

use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use super::broadcast_state::{
    declare, BroadcastState, BroadcastStateStore, Declarations, MapStateDescriptor, ReadOnlyBroadcastState,
};
use super::connected::{ConnectWith, Tagged};
use super::functions::Collector;
use super::state::{KeyedContext, KeyedStateStore, TimerService};
use super::stream::{DataStream, KeyedStream};
use crate::event::NO_TIMESTAMP;
use crate::graph::Partitioning;
use crate::operators::broadcast::{BroadcastProcessBuilder, FirstKeyWriter, KeyedBroadcastProcessBuilder};
use crate::record::Record;
use crate::time::timers::now_ms;
use crate::TaskError;

/// A stream whose elements reach every subtask of the operator it is
/// connected to, with the broadcast states they are stored in (Flink's
/// `BroadcastStream`, from `DataStream.broadcast(descriptors...)`).
pub struct BroadcastStream<B> {
    stream: DataStream<B>,
    states: Declarations,
}

impl<B: Record> DataStream<B> {
    /// Broadcasts this stream into the broadcast state `descriptor` (Flink's
    /// `broadcast(MapStateDescriptor...)`; more states with
    /// [`BroadcastStream::with_state`]). Connect it to another stream with
    /// `connect`. Plain [`broadcast`](DataStream::broadcast) is the
    /// partitioning alone.
    pub fn broadcast_with<K: Record + Hash + Eq, V: Record>(
        &self,
        descriptor: &MapStateDescriptor<K, V>,
    ) -> BroadcastStream<B> {
        BroadcastStream { stream: self.clone(), states: vec![declare(descriptor)] }
    }
}

impl<B: Record> BroadcastStream<B> {
    /// Declares one more broadcast state.
    ///
    /// Panics if a state of that name is declared already (a program error).
    pub fn with_state<K: Record + Hash + Eq, V: Record>(mut self, descriptor: &MapStateDescriptor<K, V>) -> Self {
        assert!(
            self.states.iter().all(|(n, _)| *n != descriptor.name()),
            "broadcast state '{}' declared twice",
            descriptor.name()
        );
        self.states.push(declare(descriptor));
        self
    }
}

/// A non-keyed stream connected with a broadcast stream (Flink's
/// `BroadcastConnectedStream`); run a [`BroadcastProcessFunction`] on it.
pub struct BroadcastConnectedStream<A, B> {
    first: DataStream<A>,
    broadcast: BroadcastStream<B>,
}

/// A keyed stream connected with a broadcast stream; run a
/// [`KeyedBroadcastProcessFunction`] on it.
pub struct KeyedBroadcastConnectedStream<A, B, K, F> {
    keyed: KeyedStream<A, K, F>,
    broadcast: BroadcastStream<B>,
}

impl<A: Record, B: Record> ConnectWith<A> for BroadcastStream<B> {
    type Connected = BroadcastConnectedStream<A, B>;
    fn connect_to(&self, first: &DataStream<A>) -> BroadcastConnectedStream<A, B> {
        let broadcast = BroadcastStream { stream: self.stream.clone(), states: self.states.clone() };
        BroadcastConnectedStream { first: first.clone(), broadcast }
    }
}

impl<A, K, F> KeyedStream<A, K, F>
where
    A: Record,
    K: Hash + Eq + Record,
    F: Fn(&A) -> K + Send + Sync + 'static,
{
    /// Connects this keyed stream with the broadcast stream `other` for a
    /// [`KeyedBroadcastProcessFunction`] (Flink's `KeyedStream.connect(BroadcastStream)`).
    pub fn connect<B: Record>(&self, other: &BroadcastStream<B>) -> KeyedBroadcastConnectedStream<A, B, K, F> {
        KeyedBroadcastConnectedStream {
            keyed: KeyedStream { input: self.input.clone(), key_fn: self.key_fn.clone(), _k: PhantomData },
            broadcast: BroadcastStream { stream: other.stream.clone(), states: other.states.clone() },
        }
    }
}

/// The broadcast input as tagged records, fed into `node` with ship strategy BROADCAST.
fn feed_broadcast<A: Record, B: Record, O: Record>(b: &BroadcastStream<B>, node: &DataStream<O>) {
    let second = b.stream.map(Tagged::<A, B>::Second).name("Broadcast (second input)");
    second.feed_into(node, Partitioning::Broadcast);
}

impl<A: Record, B: Record> BroadcastConnectedStream<A, B> {
    /// Runs `function` over both inputs (Flink's `process(BroadcastProcessFunction)`).
    pub fn process<P: BroadcastProcessFunction<In1 = A, In2 = B>>(&self, function: P) -> DataStream<P::Out> {
        let first = self.first.map(Tagged::<A, B>::First).name("Connect (first input)");
        let builder = BroadcastProcessBuilder { function, states: self.broadcast.states.clone() };
        let out = first.then::<P::Out>("Co-Process-Broadcast", Arc::new(builder));
        feed_broadcast::<A, B, P::Out>(&self.broadcast, &out);
        out
    }
}

impl<A, B, K, F> KeyedBroadcastConnectedStream<A, B, K, F>
where
    A: Record,
    B: Record,
    K: Hash + Eq + Record,
    F: Fn(&A) -> K + Send + Sync + 'static,
{
    /// Runs `function` over both inputs with keyed state and timers for
    /// the keyed side (Flink's `process(KeyedBroadcastProcessFunction)`).
    pub fn process<P: KeyedBroadcastProcessFunction<Key = K, In1 = A, In2 = B>>(
        &self,
        function: P,
    ) -> DataStream<P::Out> {
        let first = self.keyed.input.map(Tagged::<A, B>::First).name("Connect (keyed input)");
        let key_fn = self.keyed.key_fn.clone();
        let builder =
            KeyedBroadcastProcessBuilder { function, key_fn: key_fn.clone(), states: self.broadcast.states.clone() };
        let writer = FirstKeyWriter::<A, B, K, F> { key_fn, _types: PhantomData };
        let out = first.then_keyed::<P::Out>("Co-Process-Broadcast-Keyed", Arc::new(builder), Arc::new(writer));
        feed_broadcast::<A, B, P::Out>(&self.broadcast, &out);
        out
    }
}

/// What the non-broadcast side sees (Flink's `ReadOnlyContext`): the
/// broadcast states, read only, and the element's time.
pub struct ReadOnlyBroadcastContext<'a> {
    pub(crate) store: &'a BroadcastStateStore,
    pub(crate) timestamp: i64,
    pub(crate) watermark: i64,
}

impl<'a> ReadOnlyBroadcastContext<'a> {
    /// The broadcast state `descriptor` names.
    ///
    /// Errors: a state not declared on the broadcast stream, or declared with other types.
    pub fn broadcast_state<K: Hash + Eq + 'static, V: 'static>(
        &self,
        descriptor: &MapStateDescriptor<K, V>,
    ) -> Result<ReadOnlyBroadcastState<'a, K, V>, TaskError> {
        Ok(ReadOnlyBroadcastState { map: self.store.table(descriptor)? })
    }
    /// The element's event-time timestamp (ms), if it has one.
    pub fn timestamp(&self) -> Option<i64> {
        (self.timestamp != NO_TIMESTAMP).then_some(self.timestamp)
    }
    /// The operator's current watermark (ms).
    pub fn current_watermark(&self) -> i64 {
        self.watermark
    }
    /// Wall-clock time now, ms since the Unix epoch.
    pub fn current_processing_time(&self) -> i64 {
        now_ms()
    }
}

/// What the broadcast side sees (Flink's `Context` of
/// `processBroadcastElement`): the broadcast states, writable.
pub struct BroadcastContext<'a> {
    pub(crate) store: &'a mut BroadcastStateStore,
    pub(crate) timestamp: i64,
    pub(crate) watermark: i64,
}

impl BroadcastContext<'_> {
    /// The broadcast state `descriptor` names, writable.
    ///
    /// Errors: a state not declared on the broadcast stream, or declared with other types.
    pub fn broadcast_state<K: Hash + Eq + 'static, V: 'static>(
        &mut self,
        descriptor: &MapStateDescriptor<K, V>,
    ) -> Result<BroadcastState<'_, K, V>, TaskError> {
        Ok(BroadcastState { map: self.store.table_mut(descriptor)? })
    }
    /// The element's event-time timestamp (ms), if it has one.
    pub fn timestamp(&self) -> Option<i64> {
        (self.timestamp != NO_TIMESTAMP).then_some(self.timestamp)
    }
    /// The operator's current watermark (ms).
    pub fn current_watermark(&self) -> i64 {
        self.watermark
    }
    /// Wall-clock time now, ms since the Unix epoch.
    pub fn current_processing_time(&self) -> i64 {
        now_ms()
    }
}

/// What the keyed side of a [`KeyedBroadcastProcessFunction`] sees, in
/// `process_element` and `on_timer` (Flink's `ReadOnlyContext` and
/// `OnTimerContext`): the keyed context of the current key (keyed state,
/// timers, side outputs) and the broadcast states, read only.
pub struct KeyedReadOnlyContext<'a, K> {
    pub(crate) keyed: KeyedContext<'a, K>,
    pub(crate) store: &'a BroadcastStateStore,
}

impl<'a, K: Hash + Eq + Record> KeyedReadOnlyContext<'a, K> {
    /// The keyed context: pass it to keyed state handles (`ValueState::value(ctx.keyed())`...).
    pub fn keyed(&mut self) -> &mut KeyedContext<'a, K> {
        &mut self.keyed
    }
    /// The broadcast state `descriptor` names. The view borrows the
    /// operator's broadcast state, not `self`, so keyed state can be
    /// written while it is held.
    ///
    /// Errors: a state not declared on the broadcast stream, or declared with other types.
    pub fn broadcast_state<BK: Hash + Eq + 'static, BV: 'static>(
        &self,
        descriptor: &MapStateDescriptor<BK, BV>,
    ) -> Result<ReadOnlyBroadcastState<'a, BK, BV>, TaskError> {
        Ok(ReadOnlyBroadcastState { map: self.store.table(descriptor)? })
    }
    /// The current key.
    pub fn current_key(&self) -> &K {
        self.keyed.current_key()
    }
    /// The element's (or firing event-time timer's) timestamp (ms), if any.
    pub fn timestamp(&self) -> Option<i64> {
        self.keyed.timestamp()
    }
    /// The timer service for the current key.
    pub fn timer_service(&mut self) -> TimerService<'_, K> {
        self.keyed.timer_service()
    }
}

/// A function over a non-keyed stream and a broadcast stream (Flink's
/// `BroadcastProcessFunction`). One instance per subtask.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use rfy_runtime::api::{
///     BroadcastContext, BroadcastProcessFunction, MapStateDescriptor, ReadOnlyBroadcastContext,
/// };
/// use rfy_runtime::sinks::CollectSink;
/// use rfy_runtime::{Collector, ExecutionConfig, StreamExecutionEnvironment, TaskError};
///
/// const BLOCKED: MapStateDescriptor<String, ()> = MapStateDescriptor::new("blocked");
///
/// /// Drops words on the broadcast block list.
/// #[derive(Clone)]
/// struct Block;
/// impl BroadcastProcessFunction for Block {
///     type In1 = String;
///     type In2 = String;
///     type Out = String;
///     fn process_element(&mut self, w: String, ctx: &ReadOnlyBroadcastContext<'_>,
///                        out: &mut Collector<'_, String>) -> Result<(), TaskError> {
///         if !ctx.broadcast_state(&BLOCKED)?.contains(&w) {
///             out.collect(w);
///         }
///         Ok(())
///     }
///     fn process_broadcast_element(&mut self, w: String, ctx: &mut BroadcastContext<'_>,
///                                  _out: &mut Collector<'_, String>) -> Result<(), TaskError> {
///         ctx.broadcast_state(&BLOCKED)?.put(w, ());
///         Ok(())
///     }
/// }
/// let env = StreamExecutionEnvironment::new(ExecutionConfig::default());
/// let out = Arc::new(Mutex::new(Vec::new()));
/// let blocked = env.from_collection(vec!["spam".to_string()]).broadcast_with(&BLOCKED);
/// let words = env.from_collection(vec!["hello".to_string()]);
/// words.connect(&blocked).process(Block).sink_to(CollectSink::new(out.clone()));
/// rfy_runtime::task::run_local(env).unwrap();
/// // Which input comes first is up to the runtime; "hello" is never blocked.
/// assert!(out.lock().unwrap().contains(&"hello".to_string()));
/// ```
pub trait BroadcastProcessFunction: Clone + Send + Sync + 'static {
    /// The non-broadcast input's records.
    type In1: Record;
    /// The broadcast input's records.
    type In2: Record;
    /// Output records.
    type Out: Record;
    /// Handles a record of the non-broadcast input; reads the broadcast state.
    ///
    /// Errors: fail the task.
    fn process_element(
        &mut self,
        value: Self::In1,
        ctx: &ReadOnlyBroadcastContext<'_>,
        out: &mut Collector<'_, Self::Out>,
    ) -> Result<(), TaskError>;
    /// Handles a record of the broadcast input (every subtask gets each
    /// one); writes the broadcast state. Must update it the same way on
    /// every subtask (no dependence on the subtask or its other input), as
    /// Flink requires: the copies are assumed equal on restore.
    ///
    /// Errors: fail the task.
    fn process_broadcast_element(
        &mut self,
        value: Self::In2,
        ctx: &mut BroadcastContext<'_>,
        out: &mut Collector<'_, Self::Out>,
    ) -> Result<(), TaskError>;
}

/// A function over a keyed stream and a broadcast stream (Flink's
/// `KeyedBroadcastProcessFunction`): keyed state and timers for the keyed
/// side, broadcast state written by the broadcast side. One instance per
/// subtask. See `jobs/src/rules.rs` (the built-in `rules` job) for dynamic
/// alert rules, and the SDK's `rfy::broadcast` for a runnable example.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use rfy_runtime::api::{
///     BroadcastContext, KeyedBroadcastProcessFunction, KeyedReadOnlyContext, KeyedStateStore,
///     MapStateDescriptor, ValueState,
/// };
/// use rfy_runtime::sinks::CollectSink;
/// use rfy_runtime::{Collector, ExecutionConfig, StreamExecutionEnvironment, TaskError};
///
/// const LIMIT: MapStateDescriptor<(), u64> = MapStateDescriptor::new("limit");
///
/// /// Sums each key's amounts; emits (key, sum) whenever a sum passes the broadcast limit.
/// #[derive(Clone, Default)]
/// struct OverLimit { sum: Option<ValueState<u64>> }
/// impl KeyedBroadcastProcessFunction for OverLimit {
///     type Key = String;
///     type In1 = (String, u64);
///     type In2 = u64;
///     type Out = (String, u64);
///     fn open(&mut self, state: &mut KeyedStateStore<String>) { self.sum = Some(state.value_state("sum")); }
///     fn process_element(&mut self, (_, n): (String, u64), ctx: &mut KeyedReadOnlyContext<'_, String>,
///                        out: &mut Collector<'_, (String, u64)>) -> Result<(), TaskError> {
///         let limit = ctx.broadcast_state(&LIMIT)?.get(&()).copied().unwrap_or(u64::MAX);
///         let sum = self.sum.as_ref().unwrap();
///         let s = sum.value(ctx.keyed()).unwrap_or(0) + n;
///         sum.update(ctx.keyed(), s);
///         if s > limit {
///             out.collect((ctx.current_key().clone(), s));
///         }
///         Ok(())
///     }
///     fn process_broadcast_element(&mut self, limit: u64, ctx: &mut BroadcastContext<'_>,
///                                  _out: &mut Collector<'_, (String, u64)>) -> Result<(), TaskError> {
///         ctx.broadcast_state(&LIMIT)?.put((), limit);
///         Ok(())
///     }
/// }
/// let env = StreamExecutionEnvironment::new(ExecutionConfig::default());
/// let out = Arc::new(Mutex::new(Vec::new()));
/// let limits = env.from_collection(vec![0u64]).broadcast_with(&LIMIT);
/// env.from_collection(vec![("a".to_string(), 5u64)])
///     .key_by(|r: &(String, u64)| r.0.clone())
///     .connect(&limits)
///     .process(OverLimit::default())
///     .sink_to(CollectSink::new(out.clone()));
/// rfy_runtime::task::run_local(env).unwrap();
/// // Without the limit yet nothing passes it; with it, (a, 5) does.
/// assert!(out.lock().unwrap().len() <= 1);
/// ```
pub trait KeyedBroadcastProcessFunction: Clone + Send + Sync + 'static {
    /// The key type of the keyed input.
    type Key: Hash + Eq + Record;
    /// The keyed input's records.
    type In1: Record;
    /// The broadcast input's records.
    type In2: Record;
    /// Output records.
    type Out: Record;
    /// Called once per subtask before any record: register keyed state here.
    fn open(&mut self, state: &mut KeyedStateStore<Self::Key>) {
        let _ = state;
    }
    /// Handles a record of the keyed input: keyed state and timers of its
    /// key, broadcast state read only.
    ///
    /// Errors: fail the task.
    fn process_element(
        &mut self,
        value: Self::In1,
        ctx: &mut KeyedReadOnlyContext<'_, Self::Key>,
        out: &mut Collector<'_, Self::Out>,
    ) -> Result<(), TaskError>;
    /// Handles a record of the broadcast input (every subtask gets each
    /// one); writes the broadcast state, the same way on every subtask.
    ///
    /// Errors: fail the task.
    fn process_broadcast_element(
        &mut self,
        value: Self::In2,
        ctx: &mut BroadcastContext<'_>,
        out: &mut Collector<'_, Self::Out>,
    ) -> Result<(), TaskError>;
    /// A timer of the current key fired (see
    /// [`KeyedProcessFunction::on_timer`](crate::KeyedProcessFunction::on_timer)).
    ///
    /// Errors: fail the task.
    fn on_timer(
        &mut self,
        timestamp: i64,
        ctx: &mut KeyedReadOnlyContext<'_, Self::Key>,
        out: &mut Collector<'_, Self::Out>,
    ) -> Result<(), TaskError> {
        let _ = (timestamp, ctx, out);
        Ok(())
    }
}
