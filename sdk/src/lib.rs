//! # rfy: write stream processing jobs in Rust
//!
//! A job is a Rust program that declares a dataflow with rfy's DataStream
//! API (Flink's names: [`StreamExecutionEnvironment`], [`DataStream`],
//! [`KeyedStream`], keyed state, sources and sinks) and hands its job
//! programs to [`run`]. The same executable then plans the job, runs it on
//! the embedded local cluster, runs as a TaskManager, and runs the job's
//! main in the ApplicationMaster: the counterpart of a Flink job JAR.
//!
//! ```no_run
//! use rfy::{Collector, DataStream, JobError, JobProgram, StreamExecutionEnvironment};
//!
//! /// Upper-cases the lines of `--input` and prints them.
//! fn shout(env: &StreamExecutionEnvironment, args: &[String]) -> Result<(), JobError> {
//!     let input = rfy::arg(args, "--input")?;
//!     let lines: DataStream<String> = rfy::read_text_file(env, &input);
//!     lines.map(|l| l.to_uppercase()).print();
//!     Ok(())
//! }
//!
//! const SHOUT: JobProgram = JobProgram { name: "shout", description: "upper-case a file", build: shout };
//!
//! fn main() {
//!     rfy::run(&[SHOUT])
//! }
//! ```
//!
//! Build it with `cargo build --release` and run it:
//!
//! ```text
//! rfy run ./target/release/shout --input data/kjv.txt      # embedded local cluster (or run the executable itself)
//! rfy info ./target/release/shout --input data/kjv.txt     # its JobGraph as JSON
//! ```
//!
//! A job program runs on the client (to make the JobGraph) and again on
//! every TaskManager (to make the operators), so it must declare the same
//! dataflow from the same arguments every time: read arguments, not clocks
//! or random numbers, while declaring.
//!
//! Paths accepted anywhere (inputs, outputs, `state.checkpoints.dir`,
//! `state.savepoints.dir`, `-s`) are local paths, `file://` URIs, or
//! `hdfs:///path` (the NameNode of `fs.defaultFS` in `HADOOP_CONF_DIR`) and
//! `hdfs://host:port/path`.

use std::path::Path;
use std::process::ExitCode;

/// File name of the executable in the ApplicationMaster's container.
const AM_NAME: &str = rfy_am::bundle::AM_BINARY;
/// File name of the executable in a TaskManager's container.
const WORKER_NAME: &str = rfy_am::bundle::WORKER_BINARY;

pub use rfy_runtime::api::{Collector, KeyedContext, KeyedProcessFunction};
pub use rfy_runtime::api::{DataStream, DataStreamSink, KeyedStream, StreamExecutionEnvironment};
pub use rfy_runtime::record::Record;
pub use rfy_runtime::{ExecutionConfig, IoCheckError, JobError, JobGraph, JobProgram, RuntimeMode, TaskError, Word};

/// Keyed state (Flink's `ValueState`, `ListState`, `MapState`,
/// `ReducingState`), registered in [`KeyedProcessFunction::open`] and read
/// and written for the key of the record being processed.
///
/// ```
/// use rfy::state::{KeyedStateStore, ValueState};
/// use rfy::{Collector, KeyedContext, KeyedProcessFunction, TaskError};
///
/// /// Emits each key with its running count.
/// #[derive(Clone, Default)]
/// struct Count {
///     seen: Option<ValueState<u64>>,
/// }
///
/// impl KeyedProcessFunction for Count {
///     type Key = String;
///     type In = String;
///     type Out = (String, u64);
///     fn open(&mut self, state: &mut KeyedStateStore<String>) {
///         self.seen = Some(state.value_state("seen"));
///     }
///     fn process_element(
///         &mut self,
///         value: String,
///         ctx: &mut KeyedContext<'_, String>,
///         out: &mut Collector<'_, (String, u64)>,
///     ) -> Result<(), TaskError> {
///         let seen = self.seen.as_ref().expect("opened");
///         let n = seen.value(ctx).unwrap_or(0) + 1;
///         seen.update(ctx, n);
///         out.collect((value, n));
///         Ok(())
///     }
/// }
///
/// let env = rfy::StreamExecutionEnvironment::new(rfy::ExecutionConfig::default());
/// env.set_parallelism(2);
/// env.from_collection(vec!["a".to_string(), "b".into(), "a".into()])
///     .key_by(|w: &String| w.clone())
///     .process(Count::default())
///     .discard();
/// let graph = env.into_stream_graph("count", &[]).job_graph().unwrap();
/// // The source (one subtask), then the keyed process (two, hash-partitioned by key).
/// assert_eq!(graph.vertices.len(), 2);
/// ```
pub mod state {
    pub use rfy_runtime::api::{KeyedStateStore, ListState, MapState, ReducingState, ValueState};
}

/// Sources: where records come from. [`crate::read_text_file`] picks the
/// right text source for a path; implement [`Source`] for your own.
pub mod sources {
    pub use rfy_runtime::sources::{
        CollectionSource, SocketTextSource, Source, SourceReader, SourceStatus, TextFileSource,
    };
    pub use rfy_runtime::OperatorContext;
}

/// A `reqwest::ClientBuilder` (reqwest 0.13) set up the way rfy's own HTTP
/// clients are: rustls with the `ring` crypto provider installed as the
/// process's default. rfy builds reqwest without a provider of its own (see
/// `rfy_hadoop::tls`), so a job that makes HTTP calls (an async lookup, say)
/// builds its clients from this; `reqwest::Client::new()` would panic.
pub use rfy_hadoop::tls::http_client_builder;

/// Sinks: where records go. [`crate::write_text_file`] picks the right
/// text sink for a directory; [`FileSink`] writes bucketed, rolled part
/// files (Flink's `FileSink`, see [`file`]); implement [`Sink`] for your own.
pub mod sinks {
    pub use rfy_runtime::sinks::file;
    pub use rfy_runtime::sinks::{CollectSink, DiscardingSink, FileSink, PrintSink, Sink, SinkWriter, TextFileSink};
}

/// Connectors to external systems: text files in HDFS (and, with the
/// `kafka` feature, [`crate::kafka`]).
pub mod connectors {
    pub use rfy_connectors::{is_hdfs, HdfsTextFileSink, HdfsTextFileSource};
}

/// Async I/O (Flink's `AsyncDataStream`): an async function per record
/// (lookups against an external service), many calls in flight, results in
/// input order or as they complete, with timeout, retry and in-flight
/// records in checkpoints. See `examples/async-lookup` for an HTTP lookup.
pub mod async_io {
    pub use rfy_runtime::api::{AsyncDataStream, AsyncError, AsyncFunction, AsyncRetryStrategy, OutputMode};
    pub use rfy_runtime::OperatorContext;
}

pub use rfy_runtime::api::{
    CoProcessContext, CoProcessFunction, ConnectedStreams, IntervalJoin, JoinEqualTo, JoinWhere, JoinedStreams,
    KeyedCoProcessFunction, KeyedConnectedStreams, OutputTag, Tagged, TimerService, WindowedJoin, WindowedStream,
};

/// Event time (Flink's `WatermarkStrategy`, `WatermarkGenerator`,
/// `TimestampAssigner`): give records timestamps and let watermarks tell
/// operators how far event time has come. Timers are in
/// [`crate::TimerService`] (from [`KeyedProcessFunction`]'s context);
/// windows in [`crate::windowing`].
///
/// ```
/// use std::time::Duration;
/// use rfy::time::WatermarkStrategy;
///
/// // Readings (sensor, event time in ms) that arrive up to 2 s out of order.
/// let env = rfy::StreamExecutionEnvironment::new(rfy::ExecutionConfig::default());
/// let readings = env.from_collection(vec![(1u32, 1_000i64), (2, 3_000), (1, 2_000)]);
/// let timed = readings.assign_timestamps_and_watermarks(
///     WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(2))
///         .with_timestamp_assigner(|r: &(u32, i64), _previous| r.1),
/// );
/// timed.discard();
/// assert!(env.into_stream_graph("readings", &[]).job_graph().is_ok());
/// ```
pub mod time {
    pub use rfy_runtime::time::{
        BoundedOutOfOrderness, NoWatermarks, RecordTimestamp, TimeDomain, TimestampAssigner, WatermarkGenerator,
        WatermarkOutput, WatermarkStrategy,
    };
}

/// Windows on keyed streams (Flink's windowing API): tumbling, sliding,
/// session and global assigners in event or processing time; incremental
/// `reduce` and `aggregate`, or `process` over a window's records; allowed
/// lateness and a side output for late data; triggers (when a window
/// fires): the assigner's default, a built-in (`CountTrigger`,
/// `ContinuousEventTimeTrigger`, `ContinuousProcessingTimeTrigger`,
/// `PurgingTrigger`, `EventTimeTrigger`, `ProcessingTimeTrigger`) or your own
/// [`Trigger`](windowing::Trigger) through `.trigger(...)` (example below).
///
/// Clicks per user in 5-second event-time windows, run in this process:
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use rfy::time::WatermarkStrategy;
/// use rfy::windowing::TumblingEventTimeWindows;
///
/// // (user, event time in ms), up to 1 s out of order.
/// let clicks: Vec<(String, i64)> =
///     [("ann", 1_000), ("bob", 2_500), ("ann", 500), ("ann", 6_000), ("bob", 4_900)]
///         .map(|(u, t)| (u.to_string(), t))
///         .to_vec();
/// let env = rfy::StreamExecutionEnvironment::new(rfy::ExecutionConfig::default());
/// let counts = Arc::new(Mutex::new(Vec::new()));
/// env.from_collection(clicks)
///     .assign_timestamps_and_watermarks(
///         WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(1))
///             .with_timestamp_assigner(|c: &(String, i64), _| c.1),
///     )
///     .map(|(user, _)| (user, 1u64))
///     .key_by(|c: &(String, u64)| c.0.clone())
///     .window(TumblingEventTimeWindows::of(Duration::from_secs(5)))
///     .reduce(|a, b| (a.0, a.1 + b.1))
///     .sink_to(rfy::sinks::CollectSink::new(counts.clone()));
/// rfy::testing::run_local(env).unwrap();
/// let mut got = counts.lock().unwrap().clone();
/// got.sort();
/// // ann: 2 clicks in [0 s, 5 s) and 1 in [5 s, 10 s); bob: 2 in [0 s, 5 s).
/// assert_eq!(got, vec![("ann".to_string(), 1), ("ann".to_string(), 2), ("bob".to_string(), 2)]);
/// ```
///
/// A custom trigger: an alert window that fires as soon as it holds a
/// reading above 100, and at its end otherwise; its state (per key and
/// window, checkpointed) remembers whether it fired early:
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use rfy::time::WatermarkStrategy;
/// use rfy::windowing::{TimeWindow, Trigger, TriggerContext, TriggerResult, TumblingEventTimeWindows};
///
/// #[derive(Clone)]
/// struct HotOrEnd;
/// impl Trigger<(String, u32, i64)> for HotOrEnd {
///     /// True once the window fired early.
///     type State = bool;
///     fn on_element(&self, r: &(String, u32, i64), _ts: i64, w: &TimeWindow,
///                   ctx: &mut TriggerContext<'_, bool>) -> TriggerResult {
///         ctx.register_event_time_timer(w.max_timestamp());
///         if r.1 > 100 && !*ctx.state() {
///             *ctx.state() = true;
///             return TriggerResult::Fire;
///         }
///         TriggerResult::Continue
///     }
///     fn on_event_time(&self, time: i64, w: &TimeWindow, ctx: &mut TriggerContext<'_, bool>) -> TriggerResult {
///         if time == w.max_timestamp() && !*ctx.state() { TriggerResult::Fire } else { TriggerResult::Continue }
///     }
///     fn on_processing_time(&self, _t: i64, _w: &TimeWindow, _ctx: &mut TriggerContext<'_, bool>) -> TriggerResult {
///         TriggerResult::Continue
///     }
/// }
///
/// // (sensor, reading, event time ms)
/// let readings = vec![("s1".to_string(), 20u32, 1_000i64), ("s1".into(), 120, 2_000), ("s1".into(), 30, 3_000),
///                     ("s2".into(), 40, 1_500)];
/// let env = rfy::StreamExecutionEnvironment::new(rfy::ExecutionConfig::default());
/// let out = Arc::new(Mutex::new(Vec::new()));
/// env.from_collection(readings)
///     .assign_timestamps_and_watermarks(
///         WatermarkStrategy::for_monotonous_timestamps().with_timestamp_assigner(|r: &(String, u32, i64), _| r.2),
///     )
///     .key_by(|r: &(String, u32, i64)| r.0.clone())
///     .window(TumblingEventTimeWindows::of(Duration::from_secs(10)))
///     .trigger(HotOrEnd)
///     .reduce(|a, b| (a.0, a.1.max(b.1), a.2.max(b.2)))
///     .sink_to(rfy::sinks::CollectSink::new(out.clone()));
/// rfy::testing::run_local(env).unwrap();
/// let mut got: Vec<(String, u32)> = out.lock().unwrap().iter().map(|r| (r.0.clone(), r.1)).collect();
/// got.sort();
/// // s1 fired early at its 120 (once); s2 at the window's end.
/// assert_eq!(got, vec![("s1".to_string(), 120), ("s2".to_string(), 40)]);
/// ```
pub mod windowing {
    pub use rfy_runtime::windowing::{
        AggregateFunction, EventTimeSessionWindows, GlobalWindows, ProcessWindowContext, ProcessWindowFunction,
        ProcessingTimeSessionWindows, SlidingEventTimeWindows, SlidingProcessingTimeWindows, TimeWindow,
        TumblingEventTimeWindows, TumblingProcessingTimeWindows, WindowAssigner,
    };
    pub use rfy_runtime::windowing::{
        ContinuousEventTimeTrigger, ContinuousProcessingTimeTrigger, CountTrigger, DefaultTrigger, EventTimeTrigger,
        NextFire, ProcessingTimeTrigger, PurgingTrigger, Trigger, TriggerContext, TriggerResult,
    };
}

/// Flink's broadcast state pattern: a low-throughput stream (rules,
/// thresholds) broadcast to every subtask of an operator, stored there in
/// broadcast state ([`MapStateDescriptor`](broadcast::MapStateDescriptor)),
/// and read for each element of the other, often keyed, stream. Create it
/// with `stream.broadcast_with(&DESCRIPTOR)`, connect it with
/// `keyed.connect(&broadcast)` (or `stream.connect(&broadcast)`), and
/// `process` a [`KeyedBroadcastProcessFunction`](broadcast::KeyedBroadcastProcessFunction)
/// (or a [`BroadcastProcessFunction`](broadcast::BroadcastProcessFunction)).
/// Broadcast state is checkpointed (one copy per subtask) and restored at
/// any parallelism; the built-in `rules` job is a complete example.
///
/// Dynamic alert thresholds applied to sensor readings; each reading waits
/// until the watermark passes its time, so the thresholds in force by then
/// have arrived whatever the order of the two inputs:
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use rfy::broadcast::{BroadcastContext, KeyedBroadcastProcessFunction, KeyedReadOnlyContext, MapStateDescriptor};
/// use rfy::state::{KeyedStateStore, ListState};
/// use rfy::time::WatermarkStrategy;
/// use rfy::{Collector, TaskError};
///
/// const THRESHOLDS: MapStateDescriptor<String, u64> = MapStateDescriptor::new("thresholds");
///
/// #[derive(Clone, Default)]
/// struct Alerts { waiting: Option<ListState<(i64, u64)>> }
///
/// impl KeyedBroadcastProcessFunction for Alerts {
///     type Key = String;
///     type In1 = (String, u64, i64); // (sensor, reading, event time ms)
///     type In2 = (String, u64, i64); // (alert name, threshold, event time ms)
///     type Out = String;
///     fn open(&mut self, state: &mut KeyedStateStore<String>) {
///         self.waiting = Some(state.list_state("waiting"));
///     }
///     fn process_element(&mut self, r: (String, u64, i64), ctx: &mut KeyedReadOnlyContext<'_, String>,
///                        _out: &mut Collector<'_, String>) -> Result<(), TaskError> {
///         self.waiting.as_ref().unwrap().add(ctx.keyed(), (r.2, r.1));
///         ctx.timer_service().register_event_time_timer(r.2);
///         Ok(())
///     }
///     fn process_broadcast_element(&mut self, t: (String, u64, i64), ctx: &mut BroadcastContext<'_>,
///                                  _out: &mut Collector<'_, String>) -> Result<(), TaskError> {
///         ctx.broadcast_state(&THRESHOLDS)?.put(t.0, t.1);
///         Ok(())
///     }
///     fn on_timer(&mut self, now: i64, ctx: &mut KeyedReadOnlyContext<'_, String>,
///                 out: &mut Collector<'_, String>) -> Result<(), TaskError> {
///         let thresholds = ctx.broadcast_state(&THRESHOLDS)?;
///         let waiting = self.waiting.as_ref().unwrap();
///         let (due, later): (Vec<(i64, u64)>, Vec<(i64, u64)>) =
///             waiting.get(ctx.keyed()).iter().copied().partition(|(t, _)| *t <= now);
///         for (_, v) in due {
///             for (name, th) in thresholds.entries() {
///                 if v > *th {
///                     out.collect(format!("{} {name} {v}", ctx.current_key()));
///                 }
///             }
///         }
///         waiting.update(ctx.keyed(), later);
///         Ok(())
///     }
/// }
///
/// let env = rfy::StreamExecutionEnvironment::new(rfy::ExecutionConfig { parallelism: 2, ..Default::default() });
/// let by_time = |r: &(String, u64, i64), _| r.2;
/// let thresholds = env
///     .from_collection(vec![("hot".to_string(), 90u64, 0i64), ("warm".into(), 50, 0)])
///     .assign_timestamps_and_watermarks(WatermarkStrategy::for_monotonous_timestamps().with_timestamp_assigner(by_time))
///     .broadcast_with(&THRESHOLDS);
/// let readings = vec![("s1".to_string(), 95u64, 1_000i64), ("s2".into(), 60, 2_000), ("s1".into(), 10, 3_000)];
/// let alerts = Arc::new(Mutex::new(Vec::new()));
/// env.from_collection(readings)
///     .assign_timestamps_and_watermarks(WatermarkStrategy::for_monotonous_timestamps().with_timestamp_assigner(by_time))
///     .key_by(|r: &(String, u64, i64)| r.0.clone())
///     .connect(&thresholds)
///     .process(Alerts::default())
///     .sink_to(rfy::sinks::CollectSink::new(alerts.clone()));
/// rfy::testing::run_local(env).unwrap();
/// let mut got = alerts.lock().unwrap().clone();
/// got.sort();
/// assert_eq!(got, ["s1 hot 95", "s1 warm 95", "s2 warm 60"]);
/// ```
pub mod broadcast {
    pub use rfy_runtime::api::{
        BroadcastConnectedStream, BroadcastContext, BroadcastProcessFunction, BroadcastState, BroadcastStream,
        KeyedBroadcastConnectedStream, KeyedBroadcastProcessFunction, KeyedReadOnlyContext, MapStateDescriptor,
        ReadOnlyBroadcastContext, ReadOnlyBroadcastState,
    };
}

/// Testing a dataflow without a cluster (the role of Flink's MiniCluster in
/// tests): [`run_local`](testing::run_local) runs every operator of an
/// environment on threads of this process until the (bounded) sources end.
/// See the example of [`crate::windowing`].
pub mod testing {
    pub use rfy_runtime::task::run_local;
}

/// Apache Kafka connectors (feature `kafka`, which builds librdkafka from
/// source): [`KafkaSource`](kafka::KafkaSource) and
/// [`KafkaSink`](kafka::KafkaSink) in the shapes of Flink's, with
/// exactly-once delivery through Kafka transactions tied to checkpoints.
///
/// ```
/// use rfy::kafka::{DeliveryGuarantee, KafkaSink, KafkaSource, StartingOffsets, TopicSelector, Utf8, ValueOnly};
///
/// // Upper-cases the lines of topic `in` into topic `out`, exactly once when the
/// // job runs with checkpointing (-D execution.checkpointing.interval=1s).
/// let env = rfy::StreamExecutionEnvironment::new(rfy::ExecutionConfig::default());
/// let source = KafkaSource::new("127.0.0.1:9092", TopicSelector::List(vec!["in".into()]), ValueOnly(Utf8))
///     .group_id("shout")
///     .starting_offsets(StartingOffsets::Earliest);
/// let lines: rfy::DataStream<String> = env.add_source(source);
/// let sink = KafkaSink::new("127.0.0.1:9092", "out", ValueOnly(Utf8))
///     .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
///     .transactional_id_prefix("shout");
/// lines.map(|l| l.to_uppercase()).sink_to(sink);
/// // Nothing is contacted until the job runs (`rfy::run`, `rfy run`).
/// let graph = env.into_stream_graph("shout", &[]).job_graph().unwrap();
/// assert!(graph.vertices[0].name.starts_with("Source: Kafka"));
/// ```
#[cfg(feature = "kafka")]
pub mod kafka {
    pub use rfy_kafka::*;
}

/// Parquet files from a [`FileSink`](crate::sinks::FileSink) (feature
/// `parquet`: Arrow and Parquet of arrow-rs, a large build): a bulk format
/// whose schema comes from the record type ([`ArrowRecord`](parquet::ArrowRecord))
/// or is given, compressed with snappy or zstd. See `examples/parquet-lake`.
#[cfg(feature = "parquet")]
pub mod parquet {
    pub use rfy_parquet::*;
}

/// The lines of the text file at `path` (a local path, `file://` or
/// `hdfs://` URI), read in parallel byte-range splits (Flink's
/// `readTextFile`). The file is checked when the job is planned.
///
/// ```
/// let env = rfy::StreamExecutionEnvironment::new(rfy::ExecutionConfig::default());
/// let lines = rfy::read_text_file(&env, "hdfs:///data/kjv.txt");
/// lines.filter(|l| !l.is_empty()).discard();
/// let graph = env.into_stream_graph("lines", &[]).job_graph().unwrap();
/// assert_eq!(graph.vertices[0].name, "Source: kjv.txt -> Filter -> Sink: Discard");
/// ```
pub fn read_text_file(env: &StreamExecutionEnvironment, path: &str) -> DataStream<String> {
    if rfy_connectors::is_hdfs(path) {
        env.add_source(rfy_connectors::HdfsTextFileSource::new(path))
    } else {
        env.add_source(rfy_runtime::sources::TextFileSource::new(path.strip_prefix("file://").unwrap_or(path)))
    }
}

/// Writes `stream` as text lines into part files `part-<subtask>` of
/// directory `dir` (a local path, `file://` or `hdfs://` URI), each record
/// formatted by `format` (the sink adds the `\n`). Without checkpointing a
/// part file appears when its subtask's input has ended; with checkpointing
/// the sink is exactly-once (two-phase commit). The directory must be empty
/// or absent when the job is planned.
///
/// ```
/// let env = rfy::StreamExecutionEnvironment::new(rfy::ExecutionConfig::default());
/// let numbers = env.from_collection(vec![1u64, 2, 3]);
/// rfy::write_text_file(&numbers, "/tmp/rfy-doc-out", |n: &u64, out: &mut Vec<u8>| {
///     out.extend_from_slice(n.to_string().as_bytes())
/// });
/// let graph = env.into_stream_graph("numbers", &[]).job_graph().unwrap();
/// assert!(graph.vertices[0].name.ends_with("Sink: Text file /tmp/rfy-doc-out"));
/// ```
pub fn write_text_file<T: Record>(
    stream: &DataStream<T>,
    dir: &str,
    format: impl Fn(&T, &mut Vec<u8>) + Send + Sync + 'static,
) -> DataStreamSink {
    if rfy_connectors::is_hdfs(dir) {
        stream.sink_to(rfy_connectors::HdfsTextFileSink::new(dir, format))
    } else {
        stream.write_as_text(dir.strip_prefix("file://").unwrap_or(dir), format)
    }
}

/// The value of option `name` (e.g. `--input`) in job arguments `args`:
/// `--input x` or `--input=x`.
///
/// Errors: [`JobError::BadArguments`] naming the missing option.
///
/// ```
/// let args: Vec<String> = ["--input", "in.txt", "--output=out"].map(String::from).to_vec();
/// assert_eq!(rfy::arg(&args, "--input").unwrap(), "in.txt");
/// assert_eq!(rfy::arg(&args, "--output").unwrap(), "out");
/// assert_eq!(rfy::arg(&args, "--rate").unwrap_err().to_string(), "missing argument --rate");
/// ```
pub fn arg(args: &[String], name: &str) -> Result<String, JobError> {
    opt_arg(args, name).ok_or_else(|| JobError::BadArguments(format!("missing argument {name}")))
}

/// The value of option `name` in `args` if it is given (see [`arg`]).
///
/// ```
/// let args: Vec<String> = vec!["--output".into(), "out".into()];
/// assert_eq!(rfy::opt_arg(&args, "--output").as_deref(), Some("out"));
/// assert_eq!(rfy::opt_arg(&args, "--input"), None);
/// ```
pub fn opt_arg(args: &[String], name: &str) -> Option<String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == name {
            return it.next().cloned();
        }
        if let Some(v) = a.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            return Some(v.to_string());
        }
    }
    None
}

/// First argument that makes [`run`] act as a TaskManager (`rfy-worker`).
pub const TASKMANAGER_ROLE: &str = "taskmanager";
/// First argument that makes [`run`] act as the ApplicationMaster (`rfy-am`).
pub const JOBMANAGER_ROLE: &str = "jobmanager";

/// The `rfy` sub-commands (first arguments handed to the command line).
const CLI_COMMANDS: &[&str] =
    &["run", "info", "jobs", "savepoint", "stop", "cache", "help", "--help", "-h", "--version", "-V", "--conf-dir"];

/// The role [`run`] takes for command line `args` (without the program name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Print the handshake line (`RFY_HANDSHAKE` is set: `rfy run` asks).
    Handshake,
    /// A TaskManager (`taskmanager --jobmanager HOST:PORT ...`).
    TaskManager,
    /// The ApplicationMaster (`jobmanager`, in a YARN container).
    JobManager,
    /// An `rfy` command (`run`, `info`, `jobs`, ...).
    Cli,
    /// Anything else: run the default (first) job on the embedded local
    /// cluster with these job arguments.
    RunDefault,
}

impl Role {
    /// The role for `args`, with `handshake` true when `RFY_HANDSHAKE` is set.
    ///
    /// ```
    /// use rfy::Role;
    /// let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    /// assert_eq!(Role::of(&args(&["--input", "x"]), false), Role::RunDefault);
    /// assert_eq!(Role::of(&args(&["info", "./job"]), false), Role::Cli);
    /// assert_eq!(Role::of(&args(&["taskmanager", "--jobmanager", "h:1"]), false), Role::TaskManager);
    /// assert_eq!(Role::of(&args(&[]), true), Role::Handshake);
    /// ```
    pub fn of(args: &[String], handshake: bool) -> Role {
        if handshake {
            return Role::Handshake;
        }
        match args.first().map(String::as_str) {
            Some(TASKMANAGER_ROLE) => Role::TaskManager,
            Some(JOBMANAGER_ROLE) => Role::JobManager,
            Some(c) if CLI_COMMANDS.contains(&c) => Role::Cli,
            _ => Role::RunDefault,
        }
    }
}

/// The entry point of a job executable: `fn main() { rfy::run(&[MY_JOB]) }`.
/// Takes its role from the command line (see [`Role`]) and exits the
/// process with the role's exit code:
///
/// - `./myjob --input x ...`: runs the first program on the embedded local
///   cluster with those job arguments (as `rfy run ./myjob --input x`);
/// - `./myjob run|info|jobs|savepoint|stop|cache ...`: the `rfy` command line,
///   with these programs as its jobs;
/// - `./myjob taskmanager --jobmanager HOST:PORT`: a TaskManager;
/// - `./myjob jobmanager`: the ApplicationMaster in a YARN container.
///
/// `rfy run -m yarn-application ./myjob ...` ships the executable as the
/// ApplicationMaster's and the TaskManagers' binary (uploaded once, run
/// under the names `rfy-am` and `rfy-worker`, which select the role).
pub fn run(programs: &'static [JobProgram]) -> ! {
    let mut argv = std::env::args();
    let name = argv.next().unwrap_or_default();
    let mut args: Vec<String> = argv.collect();
    // On YARN the executable is shipped as `rfy-am` and `rfy-worker`: the name is the role.
    match Path::new(&name).file_name().and_then(|n| n.to_str()) {
        Some(AM_NAME) => args.insert(0, JOBMANAGER_ROLE.into()),
        Some(WORKER_NAME) => args.insert(0, TASKMANAGER_ROLE.into()),
        _ => {}
    }
    rfy_client::yarn::ship_current_executable();
    let code = match Role::of(&args, std::env::var_os(rfy_client::executable::HANDSHAKE_ENV).is_some()) {
        Role::Handshake => {
            println!("{}", rfy_client::executable::Handshake::line(programs));
            ExitCode::SUCCESS
        }
        Role::TaskManager => rfy_worker::run(programs, &args[1..]),
        Role::JobManager => rfy_am::main(programs),
        Role::Cli => rfy_client::main(programs, args.into_iter().map(Into::into).collect()),
        Role::RunDefault => {
            let me = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default();
            let argv = ["run".to_string(), me].into_iter().chain(args);
            rfy_client::main(programs, argv.map(Into::into).collect())
        }
    };
    // ExitCode has no accessor; success vs failure is what rfy reports.
    std::process::exit(if code == ExitCode::SUCCESS { 0 } else { 1 })
}
