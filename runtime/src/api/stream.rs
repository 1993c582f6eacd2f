//! `DataStream` and `KeyedStream`: typed handles on the graph being built.

use std::cell::RefCell;
use std::hash::Hash;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use super::functions::{Collector, KeyedProcessFunction};
use super::graph_builder::GraphBuilder;
use super::side::OutputTag;
use crate::context::{OperatorContext, RuntimeMode};
use crate::error::TaskError;
use crate::exchange::writer::{ForwardPartitioner, KeyGroupPartitioner, PartitionWriter, RebalancePartitioner};
use crate::exchange::{ChannelSender, ExchangeSettings};
use crate::graph::{NodeBuilder, NodeId, OperatorBuilder, Partitioning, StreamEdge, StreamNode, TypeOf, WriterBuilder};
use crate::operators::basic::{FilterBuilder, FlatMapBuilder, MapBuilder};
use crate::operators::combine::{Combiner, COMBINER_MAX_KEYS};
use crate::operators::process::ProcessBuilder;
use crate::operators::reduce::ReduceBuilder;
use crate::operators::sink::SinkNode;
use crate::operators::timestamps::TimestampsBuilder;
use crate::record::Record;
use crate::sinks::{DiscardingSink, PrintSink, Sink, TextFileSink};
use crate::task::output::{erase, unerase, AnyOutput};
use crate::task::TaskControl;
use crate::time::{TimestampAssigner, WatermarkGenerator, WatermarkStrategy};

/// Writer of an edge without a key: forward, rebalance or broadcast.
struct PlainWriter<T>(PhantomData<fn(T)>);

impl<T: Record> WriterBuilder for PlainWriter<T> {
    fn build(
        &self,
        partitioning: Partitioning,
        senders: Vec<ChannelSender>,
        ctx: &OperatorContext,
        settings: &ExchangeSettings,
        control: &TaskControl,
    ) -> Result<AnyOutput, TaskError> {
        let name = ctx.task_name.clone();
        let c = control.clone();
        Ok(match partitioning {
            Partitioning::Forward => {
                erase::<T>(Box::new(PartitionWriter::new(senders, ForwardPartitioner, false, settings, c, name)))
            }
            Partitioning::Broadcast => {
                erase::<T>(Box::new(PartitionWriter::new(senders, ForwardPartitioner, true, settings, c, name)))
            }
            Partitioning::Rebalance => {
                let p = RebalancePartitioner { next: ctx.subtask_index as usize };
                erase::<T>(Box::new(PartitionWriter::new(senders, p, false, settings, c, name)))
            }
            Partitioning::Hash => return Err(TaskError::Mismatch(format!("{name}: hash edge without a key selector"))),
        })
    }
}

/// Writer of a keyed edge: hash partitioning by the key selector.
struct KeyedWriter<T, K, F> {
    key_fn: Arc<F>,
    _types: PhantomData<fn(T) -> K>,
}

impl<T: Record, K: Hash + 'static, F: Fn(&T) -> K + Send + Sync + 'static> WriterBuilder for KeyedWriter<T, K, F> {
    fn build(
        &self,
        _partitioning: Partitioning,
        senders: Vec<ChannelSender>,
        ctx: &OperatorContext,
        settings: &ExchangeSettings,
        control: &TaskControl,
    ) -> Result<AnyOutput, TaskError> {
        let p = KeyGroupPartitioner::new(self.key_fn.clone(), ctx.max_parallelism);
        Ok(erase::<T>(Box::new(PartitionWriter::new(
            senders,
            p,
            false,
            settings,
            control.clone(),
            ctx.task_name.clone(),
        ))))
    }
}

/// Writer of the keyed edge into a reduce: as [`KeyedWriter`], and in BATCH
/// mode with a [`Combiner`] in front that pre-aggregates each key's records
/// with the reduce function (see `operators::combine` for why that is valid).
struct CombiningKeyedWriter<T, K, F, R> {
    key_fn: Arc<F>,
    reduce: Arc<R>,
    _types: PhantomData<fn(T) -> K>,
}

impl<T, K, F, R> WriterBuilder for CombiningKeyedWriter<T, K, F, R>
where
    T: Record,
    K: Hash + Eq + 'static,
    F: Fn(&T) -> K + Send + Sync + 'static,
    R: Fn(T, T) -> T + Send + Sync + 'static,
{
    fn build(
        &self,
        partitioning: Partitioning,
        senders: Vec<ChannelSender>,
        ctx: &OperatorContext,
        settings: &ExchangeSettings,
        control: &TaskControl,
    ) -> Result<AnyOutput, TaskError> {
        let keyed = KeyedWriter::<T, K, F> { key_fn: self.key_fn.clone(), _types: PhantomData };
        let writer = keyed.build(partitioning, senders, ctx, settings, control)?;
        if ctx.runtime_mode != RuntimeMode::Batch {
            return Ok(writer);
        }
        let writer = unerase::<T>(writer, &ctx.task_name)?;
        let combiner = Combiner::new(self.key_fn.clone(), self.reduce.clone(), COMBINER_MAX_KEYS, writer);
        Ok(erase::<T>(Box::new(combiner)))
    }
}

fn identity<T>(x: T) -> T {
    x
}

/// A stream of `T` records (Flink's `DataStream`).
pub struct DataStream<T> {
    graph: Rc<RefCell<GraphBuilder>>,
    node: NodeId,
    partitioning: Option<Partitioning>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for DataStream<T> {
    fn clone(&self) -> Self {
        DataStream { graph: self.graph.clone(), node: self.node, partitioning: self.partitioning, _t: PhantomData }
    }
}

/// The end of a stream; lets the program set the sink's parallelism and name.
pub struct DataStreamSink {
    graph: Rc<RefCell<GraphBuilder>>,
    node: NodeId,
}

impl DataStreamSink {
    /// Sets the sink's parallelism.
    pub fn set_parallelism(self, parallelism: u32) -> Self {
        self.graph.borrow_mut().nodes[self.node].parallelism = Some(parallelism);
        self
    }
    /// Sets the sink's name.
    pub fn name(self, name: &str) -> Self {
        self.graph.borrow_mut().nodes[self.node].name = name.to_string();
        self
    }
}

pub(crate) struct NewNode {
    name: String,
    builder: Arc<dyn OperatorBuilder>,
    keyed: bool,
    is_sink: bool,
}

impl<T: Record> DataStream<T> {
    pub(crate) fn new(graph: Rc<RefCell<GraphBuilder>>, node: NodeId) -> Self {
        DataStream { graph, node, partitioning: None, _t: PhantomData }
    }

    fn add_node<O: Record>(
        &self,
        node: NewNode,
        edge_partitioning: Option<Partitioning>,
        writer: Arc<dyn WriterBuilder>,
    ) -> NodeId {
        let mut g = self.graph.borrow_mut();
        let id = g.nodes.len();
        g.nodes.push(StreamNode {
            id,
            uid: format!("{}-{id}", node.name),
            name: node.name,
            parallelism: None,
            parallelism_limit: None,
            is_sink: node.is_sink,
            keyed: node.keyed,
            builder: NodeBuilder::Operator(node.builder),
            out_type: TypeOf::<O>::arc(),
        });
        let (partitioning, explicit) = match edge_partitioning {
            Some(p) => (p, true),
            None => (Partitioning::Forward, false),
        };
        g.edges.push(StreamEdge { source: self.node, target: id, partitioning, explicit, side_output: None, writer });
        id
    }

    fn plain_writer() -> Arc<dyn WriterBuilder> {
        Arc::new(PlainWriter::<T>(PhantomData))
    }

    pub(crate) fn then<O: Record>(&self, name: &str, builder: Arc<dyn OperatorBuilder>) -> DataStream<O> {
        let node = NewNode { name: name.to_string(), builder, keyed: false, is_sink: false };
        let id = self.add_node::<O>(node, self.partitioning, Self::plain_writer());
        DataStream::new(self.graph.clone(), id)
    }

    /// A keyed operator after this stream: its input edge is partitioned by
    /// `writer` (which must partition by the key the operator uses).
    pub(crate) fn then_keyed<O: Record>(
        &self,
        name: &str,
        builder: Arc<dyn OperatorBuilder>,
        writer: Arc<dyn WriterBuilder>,
    ) -> DataStream<O> {
        let node = NewNode { name: name.to_string(), builder, keyed: true, is_sink: false };
        let id = self.add_node::<O>(node, Some(Partitioning::Hash), writer);
        DataStream::new(self.graph.clone(), id)
    }

    /// Adds this stream as one more input of the operator producing
    /// `target` (which must take `T`), with `partitioning` set explicitly.
    pub(crate) fn feed_into<O>(&self, target: &DataStream<O>, partitioning: Partitioning) {
        self.graph.borrow_mut().edges.push(StreamEdge {
            source: self.node,
            target: target.node,
            partitioning,
            explicit: true,
            side_output: None,
            writer: Self::plain_writer(),
        });
    }

    /// One output record per input record.
    pub fn map<O: Record, F: Fn(T) -> O + Send + Sync + 'static>(&self, f: F) -> DataStream<O> {
        self.then("Map", Arc::new(MapBuilder::<T, O, F>(Arc::new(f), PhantomData)))
    }

    /// Any number of output records per input record.
    pub fn flat_map<O: Record, F: Fn(T, &mut Collector<'_, O>) + Send + Sync + 'static>(&self, f: F) -> DataStream<O> {
        self.then("Flat Map", Arc::new(FlatMapBuilder::<T, O, F>(Arc::new(f), PhantomData)))
    }

    /// Keeps the records for which `f` is true.
    pub fn filter<F: Fn(&T) -> bool + Send + Sync + 'static>(&self, f: F) -> DataStream<T> {
        self.then("Filter", Arc::new(FilterBuilder::<T, F>(Arc::new(f), PhantomData)))
    }

    /// Gives every record an event-time timestamp and generates watermarks
    /// as `strategy` says (Flink's `assignTimestampsAndWatermarks`); the
    /// generator's periodic emission runs every
    /// `pipeline.auto-watermark-interval`. Watermarks from upstream are
    /// dropped, except the final one at the end of bounded input.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// use rfy_runtime::{ExecutionConfig, StreamExecutionEnvironment};
    /// use rfy_runtime::sinks::CollectSink;
    /// use rfy_runtime::time::WatermarkStrategy;
    ///
    /// let env = StreamExecutionEnvironment::new(ExecutionConfig::default());
    /// let out = Arc::new(Mutex::new(Vec::new()));
    /// env.from_collection(vec![(1_000i64, "a".to_string()), (500, "b".to_string())])
    ///     .assign_timestamps_and_watermarks(
    ///         WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(1))
    ///             .with_timestamp_assigner(|r: &(i64, String), _| r.0),
    ///     )
    ///     .sink_to(CollectSink::new(out.clone()));
    /// rfy_runtime::task::run_local(env).unwrap();
    /// assert_eq!(out.lock().unwrap().len(), 2);
    /// ```
    pub fn assign_timestamps_and_watermarks<G, A>(&self, strategy: WatermarkStrategy<T, G, A>) -> DataStream<T>
    where
        G: WatermarkGenerator<T>,
        A: TimestampAssigner<T>,
    {
        let interval_ms = self.graph.borrow().config.auto_watermark_interval_ms;
        let b = TimestampsBuilder { strategy, interval_ms, _t: PhantomData };
        self.then("Timestamps/Watermarks", Arc::new(b))
    }

    /// Merges this stream with `others` of the same type into one (Flink's
    /// `union`): no order between the inputs; the watermark is the minimum
    /// over all of them. Each input keeps its partitioning (set
    /// `rebalance()` etc. on an input before the union).
    ///
    /// Panics if a stream comes from another environment (a program error).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use rfy_runtime::sinks::CollectSink;
    /// use rfy_runtime::{ExecutionConfig, StreamExecutionEnvironment};
    ///
    /// let env = StreamExecutionEnvironment::new(ExecutionConfig::default());
    /// let out = Arc::new(Mutex::new(Vec::new()));
    /// let odd = env.from_collection(vec![1u32, 3, 5]);
    /// let even = env.from_collection(vec![2u32, 4]);
    /// odd.union(&[&even]).map(|x| x * 10).sink_to(CollectSink::new(out.clone()));
    /// rfy_runtime::task::run_local(env).unwrap();
    /// let mut got = out.lock().unwrap().clone();
    /// got.sort();
    /// assert_eq!(got, vec![10, 20, 30, 40, 50]);
    /// ```
    pub fn union(&self, others: &[&DataStream<T>]) -> DataStream<T> {
        let identity = Arc::new(identity::<T> as fn(T) -> T);
        let out = self.then::<T>("Union", Arc::new(MapBuilder::<T, T, fn(T) -> T>(identity, PhantomData)));
        let mut g = self.graph.borrow_mut();
        for o in others {
            assert!(Rc::ptr_eq(&self.graph, &o.graph), "union of streams from different environments");
            let (partitioning, explicit) = match o.partitioning {
                Some(p) => (p, true),
                None => (Partitioning::Forward, false),
            };
            g.edges.push(StreamEdge {
                source: o.node,
                target: out.node,
                partitioning,
                explicit,
                side_output: None,
                writer: Self::plain_writer(),
            });
        }
        drop(g);
        out
    }

    /// The side output `tag` of the operator that produces this stream
    /// (Flink's `getSideOutput`).
    pub fn get_side_output<S: Record>(&self, tag: &OutputTag<S>) -> DataStream<S> {
        let identity = Arc::new(identity::<S> as fn(S) -> S);
        let builder = Arc::new(MapBuilder::<S, S, fn(S) -> S>(identity, PhantomData));
        let mut g = self.graph.borrow_mut();
        let id = g.nodes.len();
        let name = format!("Side Output: {}", tag.id);
        g.nodes.push(StreamNode {
            id,
            uid: format!("{name}-{id}"),
            name,
            parallelism: None,
            parallelism_limit: None,
            is_sink: false,
            keyed: false,
            builder: NodeBuilder::Operator(builder),
            out_type: TypeOf::<S>::arc(),
        });
        g.edges.push(StreamEdge {
            source: self.node,
            target: id,
            partitioning: Partitioning::Forward,
            explicit: false,
            side_output: Some((tag.id.clone(), TypeOf::<S>::arc())),
            writer: Arc::new(PlainWriter::<S>(PhantomData)),
        });
        drop(g);
        DataStream::new(self.graph.clone(), id)
    }

    /// Partitions the stream by key: records with equal keys go to the same subtask.
    pub fn key_by<K, F>(&self, key_fn: F) -> KeyedStream<T, K, F>
    where
        K: Hash + Eq + Clone + 'static,
        F: Fn(&T) -> K + Send + Sync + 'static,
    {
        KeyedStream { input: self.clone(), key_fn: Arc::new(key_fn), _k: PhantomData }
    }

    fn with_partitioning(&self, p: Partitioning) -> Self {
        DataStream { partitioning: Some(p), ..self.clone() }
    }

    /// Round robin over the next operator's subtasks.
    pub fn rebalance(&self) -> Self {
        self.with_partitioning(Partitioning::Rebalance)
    }

    /// Every record to every subtask of the next operator.
    pub fn broadcast(&self) -> Self {
        self.with_partitioning(Partitioning::Broadcast)
    }

    /// Subtask i to subtask i of the next operator (equal parallelism required).
    pub fn forward(&self) -> Self {
        self.with_partitioning(Partitioning::Forward)
    }

    /// Sets the parallelism of the operator that produces this stream.
    pub fn set_parallelism(self, parallelism: u32) -> Self {
        self.graph.borrow_mut().nodes[self.node].parallelism = Some(parallelism);
        self
    }

    /// Names the operator that produces this stream.
    pub fn name(self, name: &str) -> Self {
        self.graph.borrow_mut().nodes[self.node].name = name.to_string();
        self
    }

    /// Sets the stable id of the operator that produces this stream.
    pub fn uid(self, uid: &str) -> Self {
        self.graph.borrow_mut().nodes[self.node].uid = uid.to_string();
        self
    }

    /// Ends the stream in `sink`.
    pub fn sink_to<S: Sink<T>>(&self, sink: S) -> DataStreamSink {
        let sink = Arc::new(sink);
        let checked = sink.clone();
        let name = sink.name();
        self.graph.borrow_mut().io_checks.push(Box::new(move || checked.check()));
        let node =
            NewNode { name, builder: Arc::new(SinkNode::<T, S>(sink, PhantomData)), keyed: false, is_sink: true };
        let id = self.add_node::<()>(node, self.partitioning, Self::plain_writer());
        DataStreamSink { graph: self.graph.clone(), node: id }
    }

    /// Writes each record as a line, formatted by `format`, into part files in `dir`.
    pub fn write_as_text(
        &self,
        dir: impl Into<PathBuf>,
        format: impl Fn(&T, &mut Vec<u8>) + Send + Sync + 'static,
    ) -> DataStreamSink {
        self.sink_to(TextFileSink::new(dir, format))
    }

    /// Prints each record (its `Debug` form) to standard output.
    pub fn print(&self) -> DataStreamSink
    where
        T: std::fmt::Debug,
    {
        self.sink_to(PrintSink::new(|r: &T, out: &mut Vec<u8>| {
            use std::io::Write;
            let _ = write!(out, "{r:?}");
        }))
    }

    /// Drops every record (for benchmarks).
    pub fn discard(&self) -> DataStreamSink {
        self.sink_to(DiscardingSink)
    }
}

/// A stream partitioned by key (Flink's `KeyedStream`).
pub struct KeyedStream<T, K, F> {
    pub(crate) input: DataStream<T>,
    pub(crate) key_fn: Arc<F>,
    pub(crate) _k: PhantomData<fn() -> K>,
}

impl<T, K, F> KeyedStream<T, K, F>
where
    T: Record,
    K: Hash + Eq + Record,
    F: Fn(&T) -> K + Send + Sync + 'static,
{
    pub(crate) fn keyed<O: Record>(&self, name: &str, builder: Arc<dyn OperatorBuilder>) -> DataStream<O> {
        let writer: Arc<dyn WriterBuilder> =
            Arc::new(KeyedWriter::<T, K, F> { key_fn: self.key_fn.clone(), _types: PhantomData });
        self.keyed_with_writer(name, builder, writer)
    }

    /// A keyed operator whose input edge is written by `writer` (which must
    /// partition by this stream's key).
    fn keyed_with_writer<O: Record>(
        &self,
        name: &str,
        builder: Arc<dyn OperatorBuilder>,
        writer: Arc<dyn WriterBuilder>,
    ) -> DataStream<O> {
        self.input.then_keyed(name, builder, writer)
    }

    /// Folds records of each key with `reduce` (Flink's `reduce`). STREAMING:
    /// emits the updated value per record; BATCH: each key's final value, and
    /// each upstream subtask pre-aggregates its records per key before the
    /// exchange (a combiner), so `reduce` must be associative, as Flink's
    /// `ReduceFunction` contract requires.
    pub fn reduce<R: Fn(T, T) -> T + Send + Sync + 'static>(&self, reduce: R) -> DataStream<T> {
        let reduce = Arc::new(reduce);
        let b =
            ReduceBuilder::<T, K, F, R> { key_fn: self.key_fn.clone(), reduce: reduce.clone(), _types: PhantomData };
        let writer = CombiningKeyedWriter::<T, K, F, R> { key_fn: self.key_fn.clone(), reduce, _types: PhantomData };
        self.keyed_with_writer("Keyed Reduce", Arc::new(b), Arc::new(writer))
    }

    /// Sums the numeric field that `field` selects, per key (Flink's
    /// `sum(pos)`): the other fields are those of the key's first record.
    pub fn sum<N, G>(&self, field: G) -> DataStream<T>
    where
        N: std::ops::AddAssign + Copy,
        G: Fn(&mut T) -> &mut N + Send + Sync + 'static,
    {
        self.reduce(move |mut acc: T, mut rec: T| {
            let add = *field(&mut rec);
            *field(&mut acc) += add;
            acc
        })
        .name("Keyed Aggregation")
    }

    /// Runs `function` per record with keyed state (Flink's `process`).
    pub fn process<P: KeyedProcessFunction<Key = K, In = T>>(&self, function: P) -> DataStream<P::Out> {
        let b = ProcessBuilder::<P, F> { function, key_fn: self.key_fn.clone(), _f: PhantomData };
        self.keyed("KeyedProcess", Arc::new(b))
    }
}
