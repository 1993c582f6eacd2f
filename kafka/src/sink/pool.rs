//! The exactly-once sink's transactional producers: a pool per subtask
//! (see the parent module's docs for the id scheme and the recovery rules),
//! the operator state that lists its prepared transactions, and the
//! checkpoint-complete committer.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rdkafka::producer::Producer;
use rfy_runtime::checkpoint::TaskCheckpointing;
use rfy_runtime::{OperatorContext, TaskError};
use serde::{Deserialize, Serialize};

use super::{KafkaSink, TxnProducer};
use crate::error::KafkaConnectorError;
use crate::format::KafkaSerializer;
use crate::txn::{commit_prepared, transaction_state, CommitOutcome, PreparedTxn};

/// A transaction prepared at a checkpoint, awaiting its completion.
pub(super) struct Prepared {
    checkpoint: u64,
    producer: TxnProducer,
    pid: (i64, i16),
    /// The newest checkpoint whose state lists this transaction.
    last_listed: u64,
}

/// A subtask's transactional producers.
#[derive(Default)]
struct Pool {
    /// Committed (or fresh) producers, ready for a new transaction.
    free: Vec<TxnProducer>,
    /// Prepared transactions, awaiting their checkpoint's completion.
    pending: Vec<Prepared>,
    /// Committed producers with the newest checkpoint listing them: free
    /// once `num_retained` later checkpoints have completed, so that no
    /// checkpoint a restore may choose (the newest retained, or an older
    /// retained one when the newest is damaged) names their transaction.
    cooling: Vec<(u64, TxnProducer)>,
    /// The newest completed checkpoints this subtask was told of, ascending,
    /// at most `num_retained`.
    completed: Vec<u64>,
    /// `state.checkpoints.num-retained`.
    num_retained: usize,
    /// Ids `<prefix>-<subtask>-0 .. size` exist.
    size: usize,
    /// First commit failure (the writer fails the task with it).
    failure: Option<String>,
}

/// A subtask's pool, shared by its writer and the checkpoint-complete committer.
pub(super) struct SharedPool(Mutex<Pool>);

impl SharedPool {
    fn lock(&self) -> MutexGuard<'_, Pool> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The first commit failure, taken (reported once).
    pub(super) fn take_failure(&self) -> Option<String> {
        self.lock().failure.take()
    }
}

/// The exactly-once sink's operator state: one item per subtask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct EosState {
    subtask: u32,
    /// The subtask's pool size: ids `<prefix>-<subtask>-0 .. pool_size` may have been used.
    pool_size: u32,
    /// Prepared transactions.
    pending: Vec<PendingTxn>,
}

/// A prepared transaction in the sink's operator state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PendingTxn {
    /// The checkpoint whose barrier prepared it.
    checkpoint: u64,
    /// Records in it (none: nothing to commit).
    records: u64,
    txn: PreparedTxn,
}

/// Producers a new subtask initializes at start: the steady state of one
/// open transaction, one prepared (awaiting its checkpoint's completion) and
/// `num_retained` committed ones cooling (see [`Pool::cooling`]). Fewer would
/// make the second checkpoint's barrier wait for a new id's
/// `init_transactions` (~0.5 s here); the pool is initialized in parallel
/// (see [`init_producers`]).
fn min_pool(num_retained: u32) -> usize {
    2 + num_retained.max(1) as usize
}

fn txn_id(prefix: &str, subtask: u32, n: usize) -> String {
    format!("{prefix}-{subtask}-{n}")
}

/// Opens the subtask's pool: commits what the restored checkpoint prepared,
/// then initializes the ids of the old subtasks it takes over after a
/// rescale and its own ids (which aborts what earlier attempts left open).
///
/// Errors: a restored transaction cannot be committed; the restored state
/// does not decode; an id cannot be initialized.
pub(super) fn open_pool<T, S: KafkaSerializer<T>>(
    sink: &Arc<KafkaSink<T, S>>,
    ctx: &OperatorContext,
    cp: &Arc<TaskCheckpointing>,
) -> Result<Arc<SharedPool>, TaskError> {
    let prefix = sink.transactional_id_prefix.clone().ok_or_else(|| {
        TaskError::from(KafkaConnectorError::Config(
            "the exactly-once Kafka sink needs a transactional id prefix".into(),
        ))
    })?;
    let (me, p) = (ctx.subtask_index, ctx.parallelism);
    let mut old: Vec<EosState> = Vec::new();
    if cp.restore_source().is_some_and(|s| s.metadata.operators.contains_key(&ctx.uid)) {
        for b in cp.restored_operator_union(&ctx.uid)? {
            old.push(
                postcard::from_bytes(&b)
                    .map_err(|e| TaskError::State(format!("undecodable Kafka sink state of {}: {e}", ctx.uid)))?,
            );
        }
    }
    // Phase two for the transactions the restored checkpoint prepared, before
    // initializing their ids aborts them.
    for s in old.iter().filter(|s| s.subtask % p == me) {
        for t in s.pending.iter().filter(|t| t.records > 0) {
            commit_restored(sink, t)?;
        }
    }
    let mut own_size = min_pool(cp.num_retained());
    for s in &old {
        if s.subtask % p != me {
            continue;
        }
        if s.subtask == me {
            own_size = own_size.max(s.pool_size as usize);
        } else {
            // An old subtask that no longer exists at this parallelism: abort its ids.
            let ids: Vec<String> = (0..s.pool_size as usize).map(|n| txn_id(&prefix, s.subtask, n)).collect();
            drop(init_producers(sink, &ids)?);
            abort_beyond(sink, &prefix, s.subtask, s.pool_size as usize)?;
        }
    }
    let mut pool = Pool { size: own_size, num_retained: cp.num_retained().max(1) as usize, ..Default::default() };
    // Popped from the end: id 0 first.
    let ids: Vec<String> = (0..own_size).rev().map(|n| txn_id(&prefix, me, n)).collect();
    pool.free = init_producers(sink, &ids)?;
    let t = Instant::now();
    abort_beyond(sink, &prefix, me, own_size)?;
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "abort_beyond");
    tracing::info!(subtask = me, pool = own_size, prefix = %prefix, "Kafka exactly-once sink initialized its transactional ids");
    Ok(Arc::new(SharedPool(Mutex::new(pool))))
}

/// Transactional producers for `ids` (in that order), initialized at the
/// same time, one thread each: librdkafka's `init_transactions` of a new
/// producer mostly waits (on this machine ~0.5 s, its idempotence timer
/// retrying once the transaction coordinator connection is up), so a pool
/// takes that once rather than once per id.
///
/// Errors: the first id that could not be initialized.
fn init_producers<T, S: KafkaSerializer<T>>(
    sink: &KafkaSink<T, S>,
    ids: &[String],
) -> Result<Vec<TxnProducer>, TaskError> {
    if ids.len() <= 1 {
        return ids.iter().map(|id| sink.producer(Some(id)).map_err(TaskError::from)).collect();
    }
    std::thread::scope(|scope| {
        let started: Vec<_> = ids.iter().map(|id| scope.spawn(move || sink.producer(Some(id)))).collect();
        started
            .into_iter()
            .map(|h| match h.join() {
                Ok(r) => r.map_err(TaskError::from),
                Err(_) => Err(TaskError::User("a thread initializing a Kafka transactional producer panicked".into())),
            })
            .collect()
    })
}

/// Most ids past a known pool size [`abort_beyond`] looks at.
const MAX_PROBED_IDS: usize = 64;

/// Aborts the transactions ids `<prefix>-<subtask>-<n>`, `n >= first`, left
/// open. The restored checkpoint knows its own pool size only: a later one
/// (damaged or never completed, so the restore fell back past it) or the
/// failed attempt after it may have grown the pool, and an open transaction
/// there would hold `read_committed` readers back until
/// `transaction.timeout.ms`. Ids are taken in order from 0, so the first id
/// the coordinator never saw (`DescribeTransactions`, no side effect) ends
/// the search; an `Ongoing` one is aborted by initializing it.
///
/// Errors: the coordinator cannot be asked, or initializing an id fails.
fn abort_beyond<T, S: KafkaSerializer<T>>(
    sink: &KafkaSink<T, S>,
    prefix: &str,
    subtask: u32,
    first: usize,
) -> Result<(), TaskError> {
    for n in first..first + MAX_PROBED_IDS {
        let id = txn_id(prefix, subtask, n);
        match transaction_state(&sink.bootstrap, &id, sink.timeout).map_err(KafkaConnectorError::from)? {
            None => return Ok(()),
            Some(state) if state == "Ongoing" => {
                tracing::info!(transactional_id = %id, "aborting a Kafka transaction left open past the restored pool (newer than the restored checkpoint)");
                drop(sink.producer(Some(&id))?);
            }
            Some(_) => {}
        }
    }
    tracing::warn!(subtask, first, "more than {MAX_PROBED_IDS} used transactional ids past the pool of prefix {prefix}: stopped looking for open transactions");
    Ok(())
}

/// Commits a transaction of the restored checkpoint with `EndTxn`. As
/// Flink's `KafkaCommitter`: a fenced producer means an earlier restore
/// committed it and took the id over; an invalid state (aborted) is logged
/// as an error and the job goes on.
///
/// Errors: the coordinator could not be reached or refused otherwise.
fn commit_restored<T, S>(sink: &KafkaSink<T, S>, t: &PendingTxn) -> Result<(), TaskError> {
    let id = &t.txn.transactional_id;
    match commit_prepared(&sink.bootstrap, &t.txn, sink.timeout) {
        Ok(CommitOutcome::Committed) => {
            tracing::info!(transactional_id = %id, checkpoint = t.checkpoint, records = t.records,
                "committed a Kafka transaction of the restored checkpoint (EndTxn)");
            // Until the coordinator has written the commit markers the id is
            // in PrepareCommit, and initializing it (next) would be refused
            // with CONCURRENT_TRANSACTIONS and retried by librdkafka with a
            // growing backoff (~1 s per restore here): wait for it instead.
            let deadline = Instant::now() + sink.timeout;
            while Instant::now() < deadline {
                match transaction_state(&sink.bootstrap, id, sink.timeout) {
                    Ok(Some(state)) if state == "PrepareCommit" => std::thread::sleep(Duration::from_millis(10)),
                    _ => break,
                }
            }
        }
        Ok(CommitOutcome::Fenced(code)) => {
            tracing::info!(transactional_id = %id, checkpoint = t.checkpoint, error_code = code,
                "Kafka transaction of the restored checkpoint was already committed by an earlier restore (its id has a newer epoch)");
        }
        Ok(CommitOutcome::InvalidState) => {
            tracing::error!(transactional_id = %id, checkpoint = t.checkpoint, records = t.records,
                "Kafka transaction of the restored checkpoint is no longer open (INVALID_TXN_STATE): aborted, e.g. after transaction.timeout.ms; its records are not in the output");
        }
        Err(e) => return Err(KafkaConnectorError::from(e).into()),
    }
    Ok(())
}

/// A producer with a begun transaction: a free one, or a new id.
///
/// Errors: initializing or beginning fails (fenced: a newer producer took the id).
pub(super) fn next_producer<T, S: KafkaSerializer<T>>(
    sink: &KafkaSink<T, S>,
    pool: &SharedPool,
    subtask: u32,
) -> Result<TxnProducer, TaskError> {
    let reuse = pool.lock().free.pop();
    let p = match reuse {
        Some(p) => p,
        None => {
            let n = {
                let mut g = pool.lock();
                g.size += 1;
                g.size - 1
            };
            let prefix = sink.transactional_id_prefix.as_deref().unwrap_or_default();
            sink.producer(Some(&txn_id(prefix, subtask, n)))?
        }
    };
    p.producer.begin_transaction().map_err(|e| sink.txn_error(&p.id, "begin_transaction", e))?;
    Ok(p)
}

/// Commits the transactions prepared for checkpoints up to `id` (in order;
/// `u64::MAX`: every one, at the end of input) and frees the producers no
/// retained checkpoint names any more. A failed commit is kept for the
/// writer ([`SharedPool::take_failure`]).
pub(super) fn commit_up_to<T, S: KafkaSerializer<T>>(sink: &KafkaSink<T, S>, pool: &SharedPool, id: u64) {
    let mut ready: Vec<Prepared> = {
        let mut g = pool.lock();
        let (ready, rest) = std::mem::take(&mut g.pending).into_iter().partition(|p| p.checkpoint <= id);
        g.pending = rest;
        ready
    };
    ready.sort_by_key(|p| p.checkpoint);
    for Prepared { checkpoint: ckpt, mut producer, last_listed, .. } in ready {
        let p = &producer;
        match p.producer.commit_transaction(sink.timeout) {
            Ok(()) => {
                tracing::debug!(transactional_id = %p.id, checkpoint = ckpt, "committed Kafka transaction");
                producer.written = 0;
                pool.lock().cooling.push((last_listed, producer));
            }
            Err(e) => {
                let err = sink.txn_error(&p.id, &format!("commit for checkpoint {ckpt}"), e);
                tracing::error!("{err}");
                let mut g = pool.lock();
                g.failure.get_or_insert(err.to_string());
            }
        }
    }
    // Checkpoint `id` is complete: a producer is free once `num_retained`
    // completed checkpoints are newer than the last one listing it (that one
    // is then no longer retained, so no restore can name its transaction).
    let mut g = pool.lock();
    if id != u64::MAX && g.completed.last().is_none_or(|&last| last < id) {
        g.completed.push(id);
        let excess = g.completed.len().saturating_sub(g.num_retained.max(1));
        g.completed.drain(..excess);
    }
    let oldest_restorable = if g.completed.len() >= g.num_retained.max(1) { g.completed[0] } else { 0 };
    let (free, cooling): (Vec<_>, Vec<_>) =
        std::mem::take(&mut g.cooling).into_iter().partition(|(l, _)| id == u64::MAX || *l < oldest_restorable);
    g.cooling = cooling;
    g.free.extend(free.into_iter().map(|(_, p)| p));
}

/// Phase one is done for `producer`'s transaction (flushed at the barrier of
/// `checkpoint_id`, producer id and epoch `pid`): it joins the pending ones,
/// and the operator state listing every pending transaction is returned,
/// encoded (the subtask's one item).
///
/// Errors: the state cannot be encoded.
pub(super) fn prepare(
    pool: &SharedPool,
    subtask: u32,
    checkpoint_id: u64,
    producer: TxnProducer,
    pid: (i64, i16),
) -> Result<Vec<u8>, TaskError> {
    let mut g = pool.lock();
    g.pending.push(Prepared { checkpoint: checkpoint_id, producer, pid, last_listed: checkpoint_id });
    let mut pending = Vec::with_capacity(g.pending.len());
    for p in &mut g.pending {
        p.last_listed = checkpoint_id;
        pending.push(PendingTxn {
            checkpoint: p.checkpoint,
            records: p.producer.written,
            txn: PreparedTxn { transactional_id: p.producer.id.clone(), producer_id: p.pid.0, epoch: p.pid.1 },
        });
    }
    let state = EosState { subtask, pool_size: g.size as u32, pending };
    postcard::to_allocvec(&state).map_err(|e| TaskError::State(format!("cannot encode the Kafka sink state: {e}")))
}
