//! [`KafkaSource`]: reads records of Kafka topics (Flink's `KafkaSource`).
//!
//! Each subtask owns the partitions [`owner_subtask`] gives it and reads
//! them with its own librdkafka consumer by manual assignment (no group
//! rebalancing: the assignment is rfy's, as in Flink). The position of each
//! owned partition (the next offset to read, and in bounded mode the offset
//! to stop at) is the reader's operator state: one item per partition. On
//! restore every subtask reads the union of the items and keeps those it
//! owns at the new parallelism, so rescaling needs no special case.
//!
//! Offsets are committed to the consumer group (`group.id`) when the
//! checkpoint they were saved for completes, from the reader's own thread,
//! for monitoring (`kafka-consumer-groups --describe`) and for
//! [`StartingOffsets::Committed`]; rfy never relies on them for recovery. A
//! bounded reader also commits its final offsets when it has read everything.

use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use regex::Regex;
use rfy_runtime::event::NO_TIMESTAMP;
use rfy_runtime::sources::{Source, SourceOutput, SourceReader, SourceStatus, SOURCE_BATCH};
use rfy_runtime::time::{SplitClock, SplitWatermarkSettings, SplitWatermarks};
use rfy_runtime::{OperatorContext, TaskError};
use serde::{Deserialize, Serialize};

use crate::assign::owner_subtask;
use crate::error::KafkaConnectorError;
use crate::format::KafkaDeserializer;
use crate::DEFAULT_TIMEOUT;

/// librdkafka's `fetch.queue.backoff.ms` for source consumers, ms (see
/// `KafkaSource::consumer`); a `property` given by the job overrides it.
const FETCH_QUEUE_BACKOFF_MS: &str = "10";

/// Which topics to read.
#[derive(Debug, Clone)]
pub enum TopicSelector {
    /// These topics; each must exist.
    List(Vec<String>),
    /// Every topic whose whole name matches this regular expression,
    /// including topics created later (found by partition discovery).
    Pattern(String),
}

/// Where a partition is first read from (Flink's `OffsetsInitializer`).
/// Applies when the job starts without a checkpoint; partitions discovered
/// later are read from the earliest offset, as in Flink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartingOffsets {
    /// The log start offset.
    Earliest,
    /// The log end offset at start.
    Latest,
    /// The consumer group's committed offset; where none is committed, the
    /// given fallback (`Earliest` or `Latest`).
    Committed {
        /// True: earliest where none is committed; false: latest.
        reset_to_earliest: bool,
    },
    /// The first record with a timestamp at or after this many ms since the
    /// Unix epoch (the log end where none is).
    Timestamp(i64),
}

/// What to do with a record the deserializer rejects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadRecordPolicy {
    /// Fail the task, naming topic, partition and offset.
    Fail,
    /// Skip it, count it (logged with its position, the first ones in full).
    Skip,
}

/// A Kafka source definition (see the module docs). `T` is the element type,
/// `D` its deserializer.
pub struct KafkaSource<T, D> {
    bootstrap: String,
    topics: TopicSelector,
    group_id: Option<String>,
    starting: StartingOffsets,
    bounded: bool,
    discovery_interval: Option<Duration>,
    properties: Vec<(String, String)>,
    bad_records: BadRecordPolicy,
    timeout: Duration,
    rate: Option<f64>,
    watermarks: Option<SplitWatermarkSettings>,
    deserializer: Arc<D>,
    _t: PhantomData<fn() -> T>,
}

impl<T, D: KafkaDeserializer<T>> KafkaSource<T, D> {
    /// A source reading `topics` from the brokers `bootstrap` (Kafka's
    /// `bootstrap.servers`, e.g. `127.0.0.1:9092`), decoding records with
    /// `deserializer`. Defaults as Flink's: earliest offsets, unbounded,
    /// partition discovery every 5 min, no group (no offset commits), a bad
    /// record fails the job, 30 s broker timeout.
    pub fn new(bootstrap: &str, topics: TopicSelector, deserializer: D) -> Self {
        KafkaSource {
            bootstrap: bootstrap.to_string(),
            topics,
            group_id: None,
            starting: StartingOffsets::Earliest,
            bounded: false,
            discovery_interval: Some(Duration::from_secs(300)),
            properties: Vec::new(),
            bad_records: BadRecordPolicy::Fail,
            timeout: DEFAULT_TIMEOUT,
            rate: None,
            watermarks: None,
            deserializer: Arc::new(deserializer),
            _t: PhantomData,
        }
    }

    /// Per-partition watermarks on the Kafka record timestamps (Flink's
    /// `WatermarkStrategy.forBoundedOutOfOrderness(max_out_of_orderness)`,
    /// `.withIdleness(idleness)` when given, applied per partition by the
    /// source): records carry their Kafka timestamps (ms); the reader emits
    /// the minimum over its partitions of `max timestamp - bound - 1`; a
    /// partition without records for `idleness` does not hold it back, and a
    /// reader whose partitions are all quiet is marked idle. Without
    /// idleness an empty partition holds event time back, as in Flink.
    pub fn watermarks(mut self, max_out_of_orderness: Duration, idleness: Option<Duration>) -> Self {
        self.watermarks = Some(SplitWatermarkSettings::new(max_out_of_orderness, idleness));
        self
    }

    /// The consumer group (`group.id`) offsets are committed to on checkpoint completion.
    pub fn group_id(mut self, group: &str) -> Self {
        self.group_id = Some(group.to_string());
        self
    }

    /// Where partitions are first read from.
    pub fn starting_offsets(mut self, starting: StartingOffsets) -> Self {
        self.starting = starting;
        self
    }

    /// Bounded mode: stop at the log end offsets seen at start (Flink's
    /// `setBounded(OffsetsInitializer.latest())`); discovery is off.
    pub fn bounded(mut self) -> Self {
        self.bounded = true;
        self
    }

    /// `partition.discovery.interval.ms`: how often to look for new
    /// partitions (and, with a pattern, new topics); `None` disables it.
    pub fn partition_discovery_interval(mut self, interval: Option<Duration>) -> Self {
        self.discovery_interval = interval;
        self
    }

    /// A librdkafka consumer property, e.g. `isolation.level=read_committed`.
    pub fn property(mut self, key: &str, value: &str) -> Self {
        self.properties.push((key.to_string(), value.to_string()));
        self
    }

    /// What to do with records the deserializer rejects.
    pub fn bad_records(mut self, policy: BadRecordPolicy) -> Self {
        self.bad_records = policy;
        self
    }

    /// How long to wait for the brokers before failing with an error naming them.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Paces all subtasks together to at most `per_second` records per
    /// second (for demos and failure tests).
    pub fn max_records_per_second(mut self, per_second: f64) -> Self {
        self.rate = Some(per_second);
        self
    }

    fn consumer(&self) -> Result<BaseConsumer, KafkaConnectorError> {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", &self.bootstrap)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            .set("socket.connection.setup.timeout.ms", self.timeout.as_millis().max(1000).to_string())
            // librdkafka stops fetching a partition whose local queue holds
            // `queued.min.messages` (100,000) and looks again only after this
            // backoff, 1000 ms by default (librdkafka >= 2.4, CONFIGURATION.md):
            // a reader that drains 100,000 records in well under a second then
            // sits idle for the rest of it (215 k records/s from a local broker
            // against 1.1 M with 10 ms, measured with scripts/bench-kafka's input). Java's
            // consumer, which Flink uses, fetches again as soon as its buffer
            // drains; 10 ms comes close without spinning on a full queue.
            .set("fetch.queue.backoff.ms", FETCH_QUEUE_BACKOFF_MS)
            // Connect to the brokers metadata names at once, not when first
            // needed (see the sink's producer settings for the cost).
            .set("enable.sparse.connections", "false")
            .set("log_level", "3");
        // librdkafka's consumer needs a group even for manual assignment;
        // without one nothing is committed, so the name is never seen.
        cfg.set("group.id", self.group_id.as_deref().unwrap_or("rfy-kafka-source-no-group"));
        for (k, v) in &self.properties {
            cfg.set(k, v);
        }
        cfg.create().map_err(|e| KafkaConnectorError::Config(format!("consumer for {}: {e}", self.bootstrap)))
    }

    fn client_error(&self, context: impl Into<String>, e: KafkaError) -> KafkaConnectorError {
        match e {
            KafkaError::MetadataFetch(_) | KafkaError::OffsetFetch(_) => KafkaConnectorError::Unreachable {
                bootstrap: self.bootstrap.clone(),
                timeout_ms: self.timeout.as_millis(),
                detail: format!("{}: {e}", context.into()),
            },
            e => KafkaConnectorError::Client {
                bootstrap: self.bootstrap.clone(),
                context: context.into(),
                detail: e.to_string(),
            },
        }
    }

    /// Every partition of the selected topics: `(topic, partition count)`.
    ///
    /// Errors: no broker answered in time; a listed topic does not exist.
    fn discover(&self, consumer: &BaseConsumer) -> Result<Vec<(String, i32)>, KafkaConnectorError> {
        let md = consumer.fetch_metadata(None, self.timeout).map_err(|e| KafkaConnectorError::Unreachable {
            bootstrap: self.bootstrap.clone(),
            timeout_ms: self.timeout.as_millis(),
            detail: e.to_string(),
        })?;
        let mut found = Vec::new();
        match &self.topics {
            TopicSelector::List(names) => {
                for name in names {
                    let Some(t) = md.topics().iter().find(|t| t.name() == name && !t.partitions().is_empty()) else {
                        return Err(KafkaConnectorError::TopicMissing {
                            topic: name.clone(),
                            bootstrap: self.bootstrap.clone(),
                        });
                    };
                    found.push((name.clone(), t.partitions().len() as i32));
                }
            }
            TopicSelector::Pattern(p) => {
                let re = Regex::new(&format!("^(?:{p})$"))
                    .map_err(|e| KafkaConnectorError::Config(format!("bad topic pattern '{p}': {e}")))?;
                for t in md.topics() {
                    if re.is_match(t.name()) && !t.name().starts_with("__") && !t.partitions().is_empty() {
                        found.push((t.name().to_string(), t.partitions().len() as i32));
                    }
                }
            }
        }
        Ok(found)
    }

    fn describe_topics(&self) -> String {
        match &self.topics {
            TopicSelector::List(t) => t.join(","),
            TopicSelector::Pattern(p) => format!("/{p}/"),
        }
    }
}

/// The checkpointed position of one partition (one operator state item).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PartitionPosition {
    topic: String,
    partition: i32,
    /// Offset of the next record to read.
    next: i64,
    /// Bounded mode: the offset to stop at (exclusive).
    stop: Option<i64>,
    /// Event-time progress (not part of the state).
    #[serde(skip)]
    clock: SplitClock,
}

/// Offsets saved per checkpoint, waiting for its completion to be committed.
#[derive(Default)]
struct CommitQueue {
    pending: BTreeMap<u64, Vec<(String, i32, i64)>>,
}

/// One subtask's reader.
struct KafkaSourceReader<T, D> {
    source: Arc<KafkaSourceShared<T, D>>,
    consumer: BaseConsumer,
    subtask: u32,
    parallelism: u32,
    /// Owned partitions by `(topic, partition)`.
    positions: HashMap<(String, i32), PartitionPosition>,
    /// Bounded mode: owned partitions not yet at their stop offset.
    unfinished: usize,
    /// Bounded mode: partitions found at their stop offset (and unassigned).
    finished: std::collections::HashSet<(String, i32)>,
    commits: Arc<Mutex<CommitQueue>>,
    /// Highest completed checkpoint id (set by the checkpoint-complete callback).
    completed: Arc<AtomicU64>,
    committed_up_to: u64,
    last_discovery: Instant,
    skipped: u64,
    /// With a rate: `(records per second for this subtask, start, records emitted)`.
    pacer: Option<(f64, Instant, u64)>,
    /// Reused lookup key of `positions` (no allocation per record).
    key: (String, i32),
    /// Per-partition watermark emission (with [`KafkaSource::watermarks`]).
    watermarks: Option<SplitWatermarks>,
    /// Timestamp column for [`SourceReader::poll_next`] callers.
    scratch: Vec<i64>,
}

/// What the readers of one source share.
type KafkaSourceShared<T, D> = KafkaSource<T, D>;

impl<T: rfy_runtime::record::Record, D: KafkaDeserializer<T>> Source<T> for KafkaSource<T, D> {
    fn name(&self) -> String {
        format!("Source: Kafka {}", self.describe_topics())
    }
    fn bounded(&self) -> bool {
        self.bounded
    }
    fn check(&self) -> Result<(), rfy_runtime::IoCheckError> {
        let consumer = self.consumer().map_err(rfy_runtime::IoCheckError::client)?;
        let found = self.discover(&consumer).map(|_| ()).map_err(rfy_runtime::IoCheckError::client);
        close(&consumer);
        found
    }
    fn create_reader(&self, ctx: &OperatorContext) -> Result<Box<dyn SourceReader<T>>, TaskError> {
        let shared = Arc::new(self.clone_def());
        let consumer = shared.consumer()?;
        let mut reader = KafkaSourceReader {
            source: shared,
            consumer,
            subtask: ctx.subtask_index,
            parallelism: ctx.parallelism,
            positions: HashMap::new(),
            unfinished: 0,
            finished: Default::default(),
            commits: Arc::default(),
            completed: Arc::new(AtomicU64::new(0)),
            committed_up_to: 0,
            last_discovery: Instant::now(),
            skipped: 0,
            pacer: self.rate.map(|r| (r / ctx.parallelism as f64, Instant::now(), 0)),
            key: (String::new(), 0),
            watermarks: self.watermarks.map(SplitWatermarks::new),
            scratch: Vec::new(),
        };
        let restored = restored_positions(ctx)?;
        reader.start(restored)?;
        if let Some(cp) = &ctx.checkpointing {
            let completed = reader.completed.clone();
            cp.on_checkpoint_complete(move |id| {
                completed.fetch_max(id, Ordering::Relaxed);
            });
        }
        Ok(Box::new(reader))
    }
}

impl<T, D> KafkaSource<T, D> {
    fn clone_def(&self) -> Self {
        KafkaSource {
            bootstrap: self.bootstrap.clone(),
            topics: self.topics.clone(),
            group_id: self.group_id.clone(),
            starting: self.starting,
            bounded: self.bounded,
            discovery_interval: self.discovery_interval,
            properties: self.properties.clone(),
            bad_records: self.bad_records,
            timeout: self.timeout,
            rate: self.rate,
            watermarks: self.watermarks,
            deserializer: self.deserializer.clone(),
            _t: PhantomData,
        }
    }
}

/// Every partition position in the checkpoint the task restores from (the
/// union over all old subtasks), or `None` when not restoring this source.
fn restored_positions(ctx: &OperatorContext) -> Result<Option<Vec<PartitionPosition>>, TaskError> {
    let Some(cp) = &ctx.checkpointing else { return Ok(None) };
    let Some(src) = cp.restore_source() else { return Ok(None) };
    if !src.metadata.operators.contains_key(&ctx.uid) {
        return Ok(None);
    }
    let items = cp.restored_operator_union(&ctx.uid)?;
    items
        .iter()
        .map(|b| {
            postcard::from_bytes::<PartitionPosition>(b)
                .map_err(|e| TaskError::State(format!("undecodable Kafka partition position of {}: {e}", ctx.uid)))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

impl<T, D: KafkaDeserializer<T>> KafkaSourceReader<T, D> {
    fn owns(&self, topic: &str, partition: i32) -> bool {
        owner_subtask(topic, partition, self.parallelism) == self.subtask
    }

    /// Takes the owned partitions, from the checkpoint or from the starting
    /// offsets, and assigns them to the consumer.
    fn start(&mut self, restored: Option<Vec<PartitionPosition>>) -> Result<(), TaskError> {
        let src = self.source.clone();
        let all = src.discover(&self.consumer)?;
        let mut fresh = Vec::new();
        if let Some(list) = restored {
            for p in list {
                if self.owns(&p.topic, p.partition) {
                    self.positions.insert((p.topic.clone(), p.partition), p);
                }
            }
            // Partitions created since the checkpoint: from the earliest offset.
            for (topic, n) in &all {
                for part in 0..*n {
                    if self.owns(topic, part) && !self.positions.contains_key(&(topic.clone(), part)) {
                        fresh.push((topic.clone(), part));
                    }
                }
            }
            self.add_partitions(&fresh, StartingOffsets::Earliest)?;
            tracing::info!(
                subtask = self.subtask,
                partitions = self.positions.len(),
                "Kafka source restored its offsets"
            );
        } else {
            for (topic, n) in &all {
                for part in 0..*n {
                    if self.owns(topic, part) {
                        fresh.push((topic.clone(), part));
                    }
                }
            }
            self.add_partitions(&fresh, src.starting)?;
        }
        self.assign_all()
    }

    /// Resolves concrete start (and in bounded mode stop) offsets of new partitions.
    fn add_partitions(&mut self, parts: &[(String, i32)], starting: StartingOffsets) -> Result<(), TaskError> {
        let src = self.source.clone();
        let committed = match starting {
            StartingOffsets::Committed { .. } if !parts.is_empty() => {
                if src.group_id.is_none() {
                    return Err(KafkaConnectorError::Config(
                        "starting offsets 'committed' need a consumer group (group.id)".into(),
                    )
                    .into());
                }
                let tpl = tpl_of(parts.iter().map(|(t, p)| (t.as_str(), *p, Offset::Invalid)))?;
                let got = self
                    .consumer
                    .committed_offsets(tpl, src.timeout)
                    .map_err(|e| src.client_error("cannot read the group's committed offsets", e))?;
                got.to_topic_map()
            }
            _ => HashMap::new(),
        };
        let by_time = match starting {
            StartingOffsets::Timestamp(ts) if !parts.is_empty() => {
                let tpl = tpl_of(parts.iter().map(|(t, p)| (t.as_str(), *p, Offset::Offset(ts))))?;
                let got = self
                    .consumer
                    .offsets_for_times(tpl, src.timeout)
                    .map_err(|e| src.client_error(format!("cannot look up offsets for timestamp {ts}"), e))?;
                got.to_topic_map()
            }
            _ => HashMap::new(),
        };
        for (topic, part) in parts {
            let (low, high) = self
                .consumer
                .fetch_watermarks(topic, *part, src.timeout)
                .map_err(|e| src.client_error(format!("cannot read the offsets of {topic}-{part}"), e))?;
            let key = (topic.clone(), *part);
            let next = match starting {
                StartingOffsets::Earliest => low,
                StartingOffsets::Latest => high,
                StartingOffsets::Committed { reset_to_earliest } => match committed.get(&key) {
                    Some(Offset::Offset(o)) => *o,
                    _ if reset_to_earliest => low,
                    _ => high,
                },
                StartingOffsets::Timestamp(_) => match by_time.get(&key) {
                    Some(Offset::Offset(o)) => *o,
                    _ => high,
                },
            };
            let stop = src.bounded.then_some(high);
            tracing::info!(subtask = self.subtask, topic = %topic, partition = part, next, ?stop, "Kafka source takes partition");
            self.positions.insert(
                key,
                PartitionPosition { topic: topic.clone(), partition: *part, next, stop, clock: SplitClock::default() },
            );
        }
        Ok(())
    }

    /// (Re)assigns every owned partition not yet finished at its position.
    fn assign_all(&mut self) -> Result<(), TaskError> {
        for p in self.positions.values() {
            if p.stop.is_some_and(|s| p.next >= s) {
                self.finished.insert((p.topic.clone(), p.partition));
            }
        }
        let live: Vec<&PartitionPosition> =
            self.positions.values().filter(|p| p.stop.is_none_or(|s| p.next < s)).collect();
        self.unfinished = live.len();
        let tpl = tpl_of(live.iter().map(|p| (p.topic.as_str(), p.partition, Offset::Offset(p.next))))?;
        self.consumer.assign(&tpl).map_err(|e| TaskError::from(self.source.client_error("cannot assign partitions", e)))
    }

    /// Looks for partitions (and pattern topics) created since the last look.
    fn rediscover(&mut self) -> Result<(), TaskError> {
        self.last_discovery = Instant::now();
        let src = self.source.clone();
        let all = match src.discover(&self.consumer) {
            Ok(a) => a,
            Err(e) => {
                // A listed topic deleted, or the broker briefly away: keep reading what we have.
                tracing::warn!("Kafka partition discovery failed: {e}");
                return Ok(());
            }
        };
        let mut fresh = Vec::new();
        for (topic, n) in &all {
            for part in 0..*n {
                if self.owns(topic, part) && !self.positions.contains_key(&(topic.clone(), part)) {
                    fresh.push((topic.clone(), part));
                }
            }
        }
        if fresh.is_empty() {
            return Ok(());
        }
        tracing::info!(subtask = self.subtask, new = ?fresh, "Kafka source discovered new partitions");
        self.add_partitions(&fresh, StartingOffsets::Earliest)?;
        self.assign_all()
    }

    /// Commits the offsets saved for the newest completed checkpoint.
    fn commit_completed(&mut self) {
        let done = self.completed.load(Ordering::Relaxed);
        if done <= self.committed_up_to {
            return;
        }
        self.committed_up_to = done;
        let newest = {
            let mut q = self.commits.lock().unwrap_or_else(|p| p.into_inner());
            let rest = q.pending.split_off(&(done + 1));
            let taken = std::mem::replace(&mut q.pending, rest);
            taken.into_iter().next_back().map(|(_, v)| v)
        };
        let Some(offsets) = newest else { return };
        if self.source.group_id.is_none() || offsets.is_empty() {
            return;
        }
        match tpl_of(offsets.iter().map(|(t, p, o)| (t.as_str(), *p, Offset::Offset(*o)))) {
            Ok(tpl) => {
                if let Err(e) = self.consumer.commit(&tpl, CommitMode::Async) {
                    tracing::warn!(checkpoint = done, "Kafka source could not commit offsets to the group: {e}");
                }
            }
            Err(e) => tracing::warn!("{e}"),
        }
    }

    /// Bounded mode, all read: commits the final offsets to the group (there
    /// is no later checkpoint to carry them) and reports the end.
    fn finish(&mut self) -> Result<SourceStatus, TaskError> {
        if self.source.group_id.is_some() && !self.positions.is_empty() {
            let tpl = tpl_of(self.positions.values().map(|p| (p.topic.as_str(), p.partition, Offset::Offset(p.next))))?;
            if let Err(e) = self.consumer.commit(&tpl, CommitMode::Sync) {
                tracing::warn!("Kafka source could not commit its final offsets to the group: {e}");
            }
        }
        Ok(SourceStatus::Finished)
    }

    /// Bounded mode: marks partitions read up to their stop offset (by the
    /// records seen, or by the consumer's position, which also moves past
    /// transaction markers and aborted records) and unassigns them.
    fn check_finished(&mut self) -> Result<(), TaskError> {
        let pos = self.consumer.position().map_err(|e| TaskError::from(self.source.client_error("position", e)))?;
        for e in pos.elements() {
            if let (Offset::Offset(o), Some(p)) =
                (e.offset(), self.positions.get_mut(&(e.topic().to_string(), e.partition())))
            {
                if p.stop.is_some_and(|stop| o >= stop) {
                    p.next = p.next.max(o.min(p.stop.unwrap_or(o)));
                }
            }
        }
        let mut done = TopicPartitionList::new();
        let mut unfinished = 0;
        for p in self.positions.values() {
            match p.stop {
                Some(stop) if p.next < stop => unfinished += 1,
                Some(_) if !self.finished.contains(&(p.topic.clone(), p.partition)) => {
                    done.add_partition(&p.topic, p.partition);
                }
                _ => {}
            }
        }
        self.unfinished = unfinished;
        if done.count() > 0 {
            for e in done.elements() {
                self.finished.insert((e.topic().to_string(), e.partition()));
            }
            let _ = self.consumer.incremental_unassign(&done);
        }
        Ok(())
    }
}

fn tpl_of<'a>(items: impl Iterator<Item = (&'a str, i32, Offset)>) -> Result<TopicPartitionList, TaskError> {
    let mut tpl = TopicPartitionList::new();
    for (t, p, o) in items {
        tpl.add_partition_offset(t, p, o).map_err(|e| TaskError::User(format!("bad offset for {t}-{p}: {e}")))?;
    }
    Ok(tpl)
}

impl<T, D: KafkaDeserializer<T>> KafkaSourceReader<T, D> {
    /// Reads up to a batch of records into `out` (with their timestamps
    /// when watermarks are on), committing completed offsets, rediscovering
    /// partitions and finishing a bounded reader on the way.
    fn read(&mut self, out: &mut SourceOutput<'_, T>) -> Result<SourceStatus, TaskError> {
        self.commit_completed();
        if let Some(every) = self.source.discovery_interval {
            if !self.source.bounded && self.last_discovery.elapsed() >= every {
                self.rediscover()?;
            }
        }
        if self.source.bounded && self.unfinished == 0 {
            return self.finish();
        }
        let src = self.source.clone();
        let timestamps = src.watermarks.is_some();
        let now = Instant::now();
        let budget = match &self.pacer {
            None => SOURCE_BATCH,
            Some((rate, started, emitted)) => {
                let due = (started.elapsed().as_secs_f64() * rate) as u64;
                if due <= *emitted {
                    let wait = (*emitted + 1) as f64 / rate - started.elapsed().as_secs_f64();
                    std::thread::sleep(Duration::from_secs_f64(wait.clamp(0.0, 0.1)));
                    return Ok(SourceStatus::Idle);
                }
                (due - emitted).min(SOURCE_BATCH as u64) as usize
            }
        };
        let mut n = 0;
        // Wait up to 100 ms for the first record, then take what is buffered.
        let mut wait = Duration::from_millis(100);
        while n < budget {
            let Some(res) = self.consumer.poll(wait) else { break };
            wait = Duration::ZERO;
            let msg = match res {
                Ok(m) => m,
                Err(KafkaError::PartitionEOF(_)) => continue,
                Err(e) => {
                    return Err(src.client_error(format!("cannot read {}", src.describe_topics()), e).into());
                }
            };
            let (topic, partition, offset) = (msg.topic(), msg.partition(), msg.offset());
            self.key.0.clear();
            self.key.0.push_str(topic);
            self.key.1 = partition;
            let Some(pos) = self.positions.get_mut(&self.key) else { continue };
            if let Some(stop) = pos.stop {
                if offset >= stop {
                    pos.next = stop;
                    continue;
                }
            }
            pos.next = offset + 1;
            match src.deserializer.deserialize(msg.key(), msg.payload()) {
                Ok(rec) if timestamps => {
                    let ts = msg.timestamp().to_millis().unwrap_or(NO_TIMESTAMP);
                    pos.clock.observe(ts, now);
                    out.collect_with_timestamp(rec, ts);
                    n += 1;
                }
                Ok(rec) => {
                    out.collect(rec);
                    n += 1;
                }
                Err(detail) => {
                    let err = KafkaConnectorError::BadRecord { topic: topic.to_string(), partition, offset, detail };
                    if src.bad_records == BadRecordPolicy::Fail {
                        return Err(err.into());
                    }
                    self.skipped += 1;
                    if self.skipped <= 10 || self.skipped.is_power_of_two() {
                        tracing::warn!(skipped = self.skipped, "skipping a record: {err}");
                    }
                }
            }
        }
        if let Some((_, _, emitted)) = &mut self.pacer {
            *emitted += n as u64;
        }
        // Caught up (or a partition ended): see which partitions are done.
        if src.bounded && n < budget {
            self.check_finished()?;
            if self.unfinished == 0 {
                return self.finish();
            }
        }
        Ok(if n == 0 { SourceStatus::Idle } else { SourceStatus::Available })
    }
}

impl<T, D: KafkaDeserializer<T>> SourceReader<T> for KafkaSourceReader<T, D> {
    fn poll_next(&mut self, out: &mut Vec<T>) -> Result<SourceStatus, TaskError> {
        let mut ts = std::mem::take(&mut self.scratch);
        ts.clear();
        let r = self.poll_output(&mut SourceOutput::new(out, &mut ts));
        self.scratch = ts;
        r
    }

    fn poll_output(&mut self, out: &mut SourceOutput<'_, T>) -> Result<SourceStatus, TaskError> {
        let status = self.read(out)?;
        if let Some(wm) = &mut self.watermarks {
            let clocks = self.positions.values().filter(|p| p.stop.is_none_or(|s| p.next < s)).map(|p| &p.clock);
            wm.emit(clocks, Instant::now(), out);
        }
        Ok(status)
    }

    fn snapshot_state(&mut self) -> Result<Vec<Vec<u8>>, TaskError> {
        self.positions
            .values()
            .map(|p| {
                postcard::to_allocvec(p).map_err(|e| {
                    TaskError::State(format!("cannot encode the offset of {}-{}: {e}", p.topic, p.partition))
                })
            })
            .collect()
    }

    fn snapshot_state_for(&mut self, checkpoint_id: u64) -> Result<Vec<Vec<u8>>, TaskError> {
        let offsets = self.positions.values().map(|p| (p.topic.clone(), p.partition, p.next)).collect();
        self.commits.lock().unwrap_or_else(|p| p.into_inner()).pending.insert(checkpoint_id, offsets);
        self.snapshot_state()
    }
}

impl<T, D> Drop for KafkaSourceReader<T, D> {
    fn drop(&mut self) {
        if self.skipped > 0 {
            tracing::warn!(
                subtask = self.subtask,
                skipped = self.skipped,
                "Kafka source skipped undeserializable records"
            );
        }
        close(&self.consumer);
    }
}

/// How long closing a consumer may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Closes `consumer` (its group membership and queues), polling in 1 ms
/// slices for at most [`CLOSE_TIMEOUT`], so that its drop has nothing left
/// to do: rust-rdkafka's drop closes a consumer polling in 100 ms slices (a
/// poll lasts its whole timeout when no message comes), which made every
/// planning-time check and every ending task ~100 ms slower.
fn close(consumer: &BaseConsumer) {
    if consumer.close_queue().is_ok() {
        let deadline = Instant::now() + CLOSE_TIMEOUT;
        while !consumer.closed() && Instant::now() < deadline {
            let _ = consumer.poll(Duration::from_millis(1));
        }
    }
}
