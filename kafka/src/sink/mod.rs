//! [`KafkaSink`]: writes records to a Kafka topic (Flink's `KafkaSink`).
//!
//! Delivery guarantees, as Flink's `DeliveryGuarantee`:
//! - `None`: records are handed to the producer and forgotten.
//! - `AtLeastOnce`: at each checkpoint barrier the producer is flushed and
//!   every delivery confirmed before the barrier passes.
//! - `ExactlyOnce`: two-phase commit with Kafka transactions. Each
//!   checkpoint interval's records go into one transaction; at the barrier
//!   the transaction is flushed (phase one: every record is on the broker,
//!   invisible to `read_committed` readers) and recorded in the checkpoint;
//!   when the JobMaster completes the checkpoint it is committed (phase two).
//!   Records after the barrier go to the next transaction, of another
//!   producer, since a producer has one open transaction at a time.
//!
//! Transactional ids are `<prefix>-<subtask>-<n>`, `n` from a small pool per
//! subtask (producers are reused once their transaction commits; the pool
//! grows only while several checkpoints await completion). At start every
//! id of the pool is initialized, which aborts what an earlier attempt left
//! open (Kafka's fencing: `InitProducerId` on a transactional id aborts its
//! ongoing transaction and fences the older producer); after a restore, so
//! are the pools of the old subtasks this subtask takes over on rescale.
//!
//! Recovery (as Flink's `KafkaCommitter` with a resumed producer): a failure
//! between a checkpoint's completion and the commit of its transactions
//! leaves them prepared. The checkpoint records, per prepared transaction,
//! its transactional id, producer id and epoch (asked of the coordinator
//! with `DescribeTransactions` right after `init_transactions`, then read
//! from librdkafka's statistics `eos` object, which each transactional
//! producer emits every 200 ms; the pair is fixed from `init_transactions`
//! on, as librdkafka uses transaction protocol version 1) and its record
//! count. At restore each one
//! with records is committed by hand ([`crate::txn::commit_prepared`]:
//! `EndTxn(committed)` to the coordinator) before its id is initialized
//! again. A producer returns to the free pool only once
//! `state.checkpoints.num-retained` checkpoints newer than the last one
//! listing its transaction have completed: then no retained checkpoint names
//! it, so the transaction any restorable checkpoint names (the newest, or an
//! older retained one when the newest is damaged) is the one still open under
//! that id and epoch, never a later one of the same producer (which `EndTxn`
//! would commit, since librdkafka's transaction protocol keeps the epoch).
//! A restore from an older checkpoint knows only that checkpoint's pool size;
//! ids past it that a later pool used are looked up with
//! `DescribeTransactions` and their open transactions aborted (see
//! `abort_beyond`). What no two-phase-commit sink can undo: a restore that
//! falls back past a checkpoint whose transactions were already committed
//! brings that checkpoint's records again (Flink's `KafkaSink` alike); a
//! savepoint older than the retained checkpoints may name reused producers.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig};
use rdkafka::ClientContext;
use rfy_runtime::sinks::{Sink, SinkWriter};
use rfy_runtime::{OperatorContext, TaskError};
use serde::Deserialize;

use crate::error::KafkaConnectorError;
use crate::format::KafkaSerializer;
use crate::txn::describe_transaction;
use crate::DEFAULT_TIMEOUT;

mod pool;
use pool::{commit_up_to, next_producer, open_pool, SharedPool};

/// How the sink guarantees delivery (Flink's `DeliveryGuarantee`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryGuarantee {
    /// No guarantee: records may be lost on failure.
    None,
    /// Flush at every checkpoint: no loss, duplicates after a failure.
    AtLeastOnce,
    /// Kafka transactions committed on checkpoint completion: `read_committed`
    /// readers see every record once.
    ExactlyOnce,
}

/// Which partition a record goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkPartitioner {
    /// Kafka's default: by the murmur2 hash of the key (as the Java client;
    /// librdkafka's `murmur2_random`), records without key spread randomly.
    Default,
    /// Flink's `FlinkFixedPartitioner`: all records of subtask `i` go to
    /// partition `i % partitions`.
    Fixed,
}

/// A Kafka sink definition (see the module docs). `T` is the element type,
/// `S` its serializer.
pub struct KafkaSink<T, S> {
    bootstrap: String,
    topic: String,
    guarantee: DeliveryGuarantee,
    transactional_id_prefix: Option<String>,
    partitioner: SinkPartitioner,
    properties: Vec<(String, String)>,
    timeout: Duration,
    serializer: Arc<S>,
    _t: PhantomData<fn(T)>,
}

impl<T, S: KafkaSerializer<T>> KafkaSink<T, S> {
    /// A sink writing to `topic` on the brokers `bootstrap`, encoding records
    /// with `serializer`. Defaults: `DeliveryGuarantee::None` (as Flink),
    /// Kafka's default partitioner, 30 s broker timeout.
    pub fn new(bootstrap: &str, topic: &str, serializer: S) -> Self {
        KafkaSink {
            bootstrap: bootstrap.to_string(),
            topic: topic.to_string(),
            guarantee: DeliveryGuarantee::None,
            transactional_id_prefix: None,
            partitioner: SinkPartitioner::Default,
            properties: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            serializer: Arc::new(serializer),
            _t: PhantomData,
        }
    }

    /// The delivery guarantee.
    pub fn delivery_guarantee(mut self, guarantee: DeliveryGuarantee) -> Self {
        self.guarantee = guarantee;
        self
    }

    /// The transactional id prefix (needed for exactly-once; unique per job
    /// writing to the same cluster, as in Flink).
    pub fn transactional_id_prefix(mut self, prefix: &str) -> Self {
        self.transactional_id_prefix = Some(prefix.to_string());
        self
    }

    /// The partitioner.
    pub fn partitioner(mut self, partitioner: SinkPartitioner) -> Self {
        self.partitioner = partitioner;
        self
    }

    /// A librdkafka producer property, e.g. `linger.ms=20`.
    pub fn property(mut self, key: &str, value: &str) -> Self {
        self.properties.push((key.to_string(), value.to_string()));
        self
    }

    /// How long to wait for the brokers (metadata, flush, commit) before
    /// failing with an error naming them.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn producer(&self, transactional_id: Option<&str>) -> Result<TxnProducer, KafkaConnectorError> {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", &self.bootstrap)
            .set("partitioner", "murmur2_random")
            .set("linger.ms", "5")
            .set("message.timeout.ms", self.timeout.as_millis().max(1000).to_string())
            .set("socket.connection.setup.timeout.ms", self.timeout.as_millis().max(1000).to_string())
            // librdkafka connects to a broker only when it needs one, and a
            // transactional producer whose bootstrap connection is replaced by
            // the broker it learned from metadata waits for its 500 ms PID
            // timer to connect again: init_transactions took ~505 ms for two
            // ids in three here, ~7 ms with every broker connected at once
            // (as the Java client, which connects to what metadata names).
            .set("enable.sparse.connections", "false")
            .set("log_level", "3");
        if let Some(id) = transactional_id {
            // 15 min: a restarted job has that long to abort what its predecessor left open.
            cfg.set("transactional.id", id)
                .set("transaction.timeout.ms", "900000")
                // Initializing an id whose transaction is still open (a restart)
                // is refused with CONCURRENT_TRANSACTIONS until the coordinator
                // has aborted it (a few ms): retry soon rather than after the
                // default 100 ms growing to 1 s (this is on the restart path).
                .set("retry.backoff.ms", "20")
                .set("retry.backoff.max.ms", "200")
                // The producer id and epoch of prepared transactions come from the statistics.
                .set("statistics.interval.ms", STATS_INTERVAL_MS.to_string());
        }
        for (k, v) in &self.properties {
            cfg.set(k, v);
        }
        let producer: BaseProducer<SinkContext> = cfg
            .create_with_context(SinkContext::default())
            .map_err(|e| KafkaConnectorError::Config(format!("producer for {}: {e}", self.bootstrap)))?;
        let id = transactional_id.unwrap_or_default().to_string();
        if transactional_id.is_some() {
            let t = Instant::now();
            producer.init_transactions(self.timeout).map_err(|e| self.txn_error(&id, "init_transactions", e))?;
            tracing::debug!(transactional_id = %id, ms = t.elapsed().as_millis() as u64, "init_transactions");
            self.seed_producer_id(&id, &producer);
        }
        Ok(TxnProducer { id, producer, written: 0 })
    }

    /// Asks the coordinator for the producer id and epoch `init_transactions`
    /// just obtained (`DescribeTransactions`), so the first barrier need not
    /// wait up to [`STATS_INTERVAL_MS`] for librdkafka's first statistics,
    /// which go on updating the pair. Best effort: without an answer the
    /// statistics are awaited as before.
    fn seed_producer_id(&self, id: &str, producer: &BaseProducer<SinkContext>) {
        // Short: the coordinator just answered init_transactions, and a slow
        // answer only costs the wait this saves.
        match describe_transaction(&self.bootstrap, id, self.timeout.min(SEED_TIMEOUT)) {
            Ok(Some(d)) if d.producer_id >= 0 && d.epoch >= 0 => {
                let mut pid = producer.context().pid.lock().unwrap_or_else(|p| p.into_inner());
                pid.get_or_insert((d.producer_id, d.epoch));
            }
            Ok(other) => tracing::debug!(transactional_id = %id, "no producer id from DescribeTransactions: {other:?}"),
            Err(e) => tracing::debug!(transactional_id = %id, "no producer id from DescribeTransactions: {e}"),
        }
    }

    /// Waits until the statistics have shown the producer id and epoch that
    /// `init_transactions` obtained.
    fn await_producer_id(&self, p: &TxnProducer) -> Result<(), KafkaConnectorError> {
        let deadline = Instant::now() + self.timeout;
        while p.producer.context().pid().is_none() {
            if Instant::now() >= deadline {
                return Err(KafkaConnectorError::Client {
                    bootstrap: self.bootstrap.clone(),
                    context: format!("producer id of transaction '{}'", p.id),
                    detail: format!("librdkafka's statistics showed none within {} ms", self.timeout.as_millis()),
                });
            }
            p.producer.poll(Duration::from_millis(20));
        }
        Ok(())
    }

    /// The topic's partition count.
    ///
    /// Errors: no broker answered in time; the topic does not exist.
    fn partitions(&self, producer: &BaseProducer<SinkContext>) -> Result<i32, KafkaConnectorError> {
        let md = producer.client().fetch_metadata(Some(&self.topic), self.timeout).map_err(|e| {
            KafkaConnectorError::Unreachable {
                bootstrap: self.bootstrap.clone(),
                timeout_ms: self.timeout.as_millis(),
                detail: e.to_string(),
            }
        })?;
        match md.topics().iter().find(|t| t.name() == self.topic) {
            Some(t) if t.error().is_none() && !t.partitions().is_empty() => Ok(t.partitions().len() as i32),
            _ => {
                Err(KafkaConnectorError::TopicMissing { topic: self.topic.clone(), bootstrap: self.bootstrap.clone() })
            }
        }
    }

    fn txn_error(&self, id: &str, what: &str, e: KafkaError) -> KafkaConnectorError {
        self.classify(id, what, e.rdkafka_error_code(), e.to_string())
    }

    /// A transactional error: `Fenced` if a newer producer took the id over.
    fn classify(&self, id: &str, what: &str, code: Option<RDKafkaErrorCode>, detail: String) -> KafkaConnectorError {
        let fenced = matches!(
            code,
            Some(RDKafkaErrorCode::Fenced | RDKafkaErrorCode::ProducerFenced | RDKafkaErrorCode::InvalidProducerEpoch)
        );
        if fenced {
            KafkaConnectorError::Fenced { transactional_id: id.to_string(), detail: format!("{what}: {detail}") }
        } else {
            KafkaConnectorError::Client {
                bootstrap: self.bootstrap.clone(),
                context: format!("{what} of transaction '{id}'"),
                detail,
            }
        }
    }
}

/// How long [`KafkaSink::seed_producer_id`] asks the coordinator before it
/// leaves the producer id to the statistics.
const SEED_TIMEOUT: Duration = Duration::from_secs(1);

/// How often a transactional producer's statistics (with its producer id
/// and epoch) are emitted, ms.
const STATS_INTERVAL_MS: u64 = 200;

/// Collects the first delivery failure (reported on the producer's poll)
/// and the producer id and epoch from the statistics.
#[derive(Default)]
struct SinkContext {
    failure: Mutex<Option<String>>,
    /// `(producer id, epoch)` from the last statistics, once assigned.
    pid: Mutex<Option<(i64, i16)>>,
}

impl SinkContext {
    fn pid(&self) -> Option<(i64, i16)> {
        *self.pid.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The part of librdkafka's statistics JSON read here (its `STATISTICS.md`).
#[derive(Deserialize)]
struct StatsEos {
    eos: Option<EosStats>,
}

#[derive(Deserialize)]
struct EosStats {
    producer_id: i64,
    producer_epoch: i64,
}

impl ClientContext for SinkContext {
    fn stats_raw(&self, statistics: &[u8]) {
        match serde_json::from_slice::<StatsEos>(statistics) {
            Ok(StatsEos { eos: Some(e) }) if e.producer_id >= 0 && e.producer_epoch >= 0 => {
                *self.pid.lock().unwrap_or_else(|p| p.into_inner()) = Some((e.producer_id, e.producer_epoch as i16));
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("undecodable librdkafka statistics: {e}"),
        }
    }
}

impl ProducerContext for SinkContext {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, msg)) = result {
            let mut f = self.failure.lock().unwrap_or_else(|p| p.into_inner());
            if f.is_none() {
                *f = Some(format!("delivery to {}-{} failed: {e}", msg.topic(), msg.partition()));
            }
        }
    }
}

/// A producer with its transactional id (empty when not transactional).
struct TxnProducer {
    id: String,
    producer: BaseProducer<SinkContext>,
    /// Records sent in the open transaction.
    written: u64,
}

struct KafkaSinkWriter<T, S> {
    sink: Arc<KafkaSink<T, S>>,
    current: TxnProducer,
    subtask: u32,
    fixed_partition: Option<i32>,
    key: Vec<u8>,
    value: Vec<u8>,
    /// Exactly-once: the pool shared with the checkpoint-complete committer.
    pool: Option<Arc<SharedPool>>,
}

impl<T: rfy_runtime::record::Record, S: KafkaSerializer<T>> Sink<T> for KafkaSink<T, S> {
    fn name(&self) -> String {
        format!("Sink: Kafka {}", self.topic)
    }
    fn check(&self) -> Result<(), rfy_runtime::IoCheckError> {
        if self.guarantee == DeliveryGuarantee::ExactlyOnce && self.transactional_id_prefix.is_none() {
            return Err("the exactly-once Kafka sink needs a transactional id prefix".into());
        }
        let p = self.producer(None).map_err(rfy_runtime::IoCheckError::client)?;
        self.partitions(&p.producer).map(|_| ()).map_err(rfy_runtime::IoCheckError::client)
    }
    fn create_writer(&self, ctx: &OperatorContext) -> Result<Box<dyn SinkWriter<T>>, TaskError> {
        let sink = Arc::new(self.clone_def());
        let t = Instant::now();
        let probe = sink.producer(None)?;
        let partitions = sink.partitions(&probe.producer)?;
        tracing::debug!(ms = t.elapsed().as_millis() as u64, "probe producer and metadata");
        let fixed_partition =
            (sink.partitioner == SinkPartitioner::Fixed).then(|| ctx.subtask_index as i32 % partitions);
        let (current, pool) = if sink.guarantee == DeliveryGuarantee::ExactlyOnce {
            let Some(cp) = &ctx.checkpointing else {
                return Err(KafkaConnectorError::Config(
                    "the exactly-once Kafka sink needs checkpointing (execution.checkpointing.interval)".into(),
                )
                .into());
            };
            let pool = open_pool(&sink, ctx, cp)?;
            let current = next_producer(&sink, &pool, ctx.subtask_index)?;
            let (committer_sink, committer_pool) = (sink.clone(), pool.clone());
            cp.on_checkpoint_complete(move |id| commit_up_to(&committer_sink, &committer_pool, id));
            (current, Some(pool))
        } else {
            (probe, None)
        };
        Ok(Box::new(KafkaSinkWriter {
            sink,
            current,
            subtask: ctx.subtask_index,
            fixed_partition,
            key: Vec::new(),
            value: Vec::new(),
            pool,
        }))
    }
}

impl<T, S> KafkaSink<T, S> {
    fn clone_def(&self) -> Self {
        KafkaSink {
            bootstrap: self.bootstrap.clone(),
            topic: self.topic.clone(),
            guarantee: self.guarantee,
            transactional_id_prefix: self.transactional_id_prefix.clone(),
            partitioner: self.partitioner,
            properties: self.properties.clone(),
            timeout: self.timeout,
            serializer: self.serializer.clone(),
            _t: PhantomData,
        }
    }
}

/// How long one wait for the producer's delivery reports lasts. rust-rdkafka's
/// `BaseProducer::poll(t)` serves events until `t` has passed (it does not
/// return after the first one), and its `flush` polls in slices of 100 ms:
/// every checkpoint barrier (phase one of the exactly-once sink, the
/// at-least-once flush) and the end of input then took at least 100 ms, a
/// full producer queue 10 ms. 1 ms slices bound the overshoot instead.
const SERVE_SLICE: Duration = Duration::from_millis(1);

/// Sends everything the producer holds and waits (up to `timeout`) until
/// every delivery report has been served: `Producer::flush`, served in
/// [`SERVE_SLICE`]s. `rd_kafka_flush` with no wait makes the broker threads
/// send at once (linger skipped) and says whether anything is outstanding.
///
/// Errors: what `rd_kafka_flush` reports; `Flush(TimedOut)` past `timeout`.
fn flush_producer(producer: &BaseProducer<SinkContext>, timeout: Duration) -> Result<(), KafkaError> {
    let deadline = Instant::now() + timeout;
    loop {
        match producer.flush(Duration::ZERO) {
            Ok(()) => return Ok(()),
            Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)) if Instant::now() < deadline => {
                producer.poll(SERVE_SLICE);
            }
            Err(e) => return Err(e),
        }
    }
}

impl<T, S: KafkaSerializer<T>> KafkaSinkWriter<T, S> {
    fn check_failures(&self) -> Result<(), TaskError> {
        if let Some((code, reason)) = self.current.producer.client().fatal_error() {
            let detail = format!("fatal producer error {code:?}: {reason}");
            return Err(self.sink.classify(&self.current.id, "producer", Some(code), detail).into());
        }
        let delivery = self.current.producer.context().failure.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(f) = delivery {
            return Err(KafkaConnectorError::Client {
                bootstrap: self.sink.bootstrap.clone(),
                context: format!("sink to topic {}", self.sink.topic),
                detail: f,
            }
            .into());
        }
        if let Some(pool) = &self.pool {
            if let Some(f) = pool.take_failure() {
                return Err(TaskError::User(f));
            }
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), TaskError> {
        flush_producer(&self.current.producer, self.sink.timeout).map_err(|e| {
            TaskError::from(if self.pool.is_some() {
                self.sink.txn_error(&self.current.id, "flush", e)
            } else {
                KafkaConnectorError::Unreachable {
                    bootstrap: self.sink.bootstrap.clone(),
                    timeout_ms: self.sink.timeout.as_millis(),
                    detail: format!("flush to topic {}: {e}", self.sink.topic),
                }
            })
        })?;
        self.check_failures()
    }
}

impl<T, S: KafkaSerializer<T>> SinkWriter<T> for KafkaSinkWriter<T, S> {
    fn write_batch(&mut self, batch: &mut Vec<T>) -> Result<(), TaskError> {
        let (mut key, mut value) = (std::mem::take(&mut self.key), std::mem::take(&mut self.value));
        let sink = &self.sink;
        let producer = &self.current.producer;
        self.current.written += batch.len() as u64;
        for rec in batch.drain(..) {
            key.clear();
            value.clear();
            let has_key = sink.serializer.serialize(&rec, &mut key, &mut value).map_err(|e| {
                TaskError::User(format!("cannot serialize a record for Kafka topic {}: {e}", sink.topic))
            })?;
            let mut r = BaseRecord::to(&sink.topic).payload(&value[..]);
            if has_key {
                r = r.key(&key[..]);
            }
            if let Some(p) = self.fixed_partition {
                r = r.partition(p);
            }
            let mut deadline: Option<Instant> = None;
            while let Err((e, back)) = producer.send(r) {
                if e.rdkafka_error_code() != Some(RDKafkaErrorCode::QueueFull) {
                    // A fenced producer refuses sends once librdkafka has seen
                    // the newer epoch: name the fencing, not the refusal.
                    if let Some((code, reason)) = producer.client().fatal_error() {
                        let detail = format!("send to topic {}: fatal producer error {code:?}: {reason}", sink.topic);
                        return Err(sink.classify(&self.current.id, "producer", Some(code), detail).into());
                    }
                    return Err(KafkaConnectorError::Client {
                        bootstrap: sink.bootstrap.clone(),
                        context: format!("send to topic {}", sink.topic),
                        detail: e.to_string(),
                    }
                    .into());
                }
                // The producer's queue is full: serve deliveries until there is room.
                let until = *deadline.get_or_insert_with(|| Instant::now() + sink.timeout);
                if Instant::now() >= until {
                    return Err(KafkaConnectorError::Unreachable {
                        bootstrap: sink.bootstrap.clone(),
                        timeout_ms: sink.timeout.as_millis(),
                        detail: format!("producer queue for topic {} stayed full", sink.topic),
                    }
                    .into());
                }
                producer.poll(SERVE_SLICE);
                r = back;
            }
        }
        producer.poll(Duration::ZERO);
        (self.key, self.value) = (key, value);
        self.check_failures()
    }

    fn flush(&mut self) -> Result<(), TaskError> {
        self.current.producer.poll(Duration::ZERO);
        self.check_failures()
    }

    fn snapshot(&mut self, checkpoint_id: u64) -> Result<Option<Vec<Vec<u8>>>, TaskError> {
        match self.sink.guarantee {
            DeliveryGuarantee::None => {
                self.current.producer.poll(Duration::ZERO);
                self.check_failures()?;
                Ok(None)
            }
            DeliveryGuarantee::AtLeastOnce => {
                KafkaSinkWriter::flush(self)?;
                Ok(None)
            }
            DeliveryGuarantee::ExactlyOnce => {
                // Phase one: everything of this transaction is on the broker.
                KafkaSinkWriter::flush(self)?;
                let Some(pool) = self.pool.clone() else {
                    return Err(TaskError::State("the exactly-once Kafka sink lost its producer pool".into()));
                };
                // Known from the first statistics after init_transactions (≤ 200 ms).
                self.sink.await_producer_id(&self.current)?;
                let pid = self.current.producer.context().pid().ok_or_else(|| KafkaConnectorError::Client {
                    bootstrap: self.sink.bootstrap.clone(),
                    context: format!("checkpoint {checkpoint_id} of transaction '{}'", self.current.id),
                    detail: "no producer id known".into(),
                })?;
                let next = next_producer(&self.sink, &pool, self.subtask)?;
                let producer = std::mem::replace(&mut self.current, next);
                let item = pool::prepare(&pool, self.subtask, checkpoint_id, producer, pid)?;
                Ok(Some(vec![item]))
            }
        }
    }

    /// Input ended: everything written becomes visible (there is no later
    /// checkpoint to wait for once the sources are finished).
    fn finish(&mut self) -> Result<(), TaskError> {
        KafkaSinkWriter::flush(self)?;
        if let Some(pool) = self.pool.clone() {
            commit_up_to(&self.sink, &pool, u64::MAX);
            self.current
                .producer
                .commit_transaction(self.sink.timeout)
                .map_err(|e| self.sink.txn_error(&self.current.id, "commit at end of input", e))?;
            // A new transaction, so that Drop has nothing to abort.
            self.current.producer.begin_transaction().map_err(|e| self.sink.txn_error(&self.current.id, "begin", e))?;
            self.check_failures()?;
        }
        Ok(())
    }
}

impl<T, S> Drop for KafkaSinkWriter<T, S> {
    fn drop(&mut self) {
        if self.pool.is_some() {
            // Records after the last barrier are replayed from the checkpoint:
            // abort now so read_committed readers are not held up by them.
            // librdkafka's abort waits until every outstanding record's
            // delivery report has been served, which a non-threaded producer
            // only does when polled: purge them and serve the reports first,
            // or a task canceled mid-stream (a peer TaskManager died) would
            // sit out the whole abort timeout before the job can restart.
            let p = &self.current.producer;
            p.purge(PurgeConfig::default().queue().inflight());
            let deadline = Instant::now() + Duration::from_secs(2);
            while p.in_flight_count() > 0 && Instant::now() < deadline {
                p.poll(SERVE_SLICE);
            }
            let _ = p.abort_transaction(Duration::from_secs(5));
        }
    }
}
