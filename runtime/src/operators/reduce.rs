//! Keyed reduce (Flink's `KeyedStream.reduce`): per key, folds each record into
//! the current value. STREAMING emits the updated value per record; BATCH
//! emits each key's final value when input ends.

use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::checkpoint::{CheckpointError, FlatKeyedMap, KeyGroupRange, OperatorSnapshot, TaskCheckpointing};
use crate::context::{OperatorContext, RuntimeMode};
use crate::error::TaskError;
use crate::event::Event;
use crate::graph::OperatorBuilder;
use crate::record::Record;
use crate::state_backend::{DiskTable, LsmStore, StateBackend};
use crate::task::output::{erase, unerase, AnyOutput};
use crate::task::Output;

/// Emitted in batches of this many records when a BATCH reduce ends.
const FINAL_BATCH: usize = 4096;

/// The table of a keyed reduce, one type per state backend (the operator is
/// monomorphized over it: no dynamic call per record).
trait ReduceTable<K, T> {
    /// Folds every record of `batch` into its key's value; pushes each
    /// updated value to `updates` when given.
    fn fold_batch<KF: Fn(&T) -> K, RF: Fn(T, T) -> T>(
        &mut self,
        batch: &mut Vec<T>,
        key_fn: &KF,
        reduce: &RF,
        updates: Option<&mut Vec<T>>,
    ) -> Result<(), TaskError>;
    /// The canonical per-key-group images.
    fn snapshot(&mut self) -> Result<Vec<(u32, Vec<u8>)>, CheckpointError>;
    /// Adds key group `kg` from its image.
    fn restore_group(&mut self, kg: u32, bytes: &[u8], what: &str) -> Result<(), CheckpointError>;
    /// Removes every value, calling `f` with each (a BATCH reduce's final results).
    fn drain_values(&mut self, f: &mut dyn FnMut(T) -> Result<(), TaskError>) -> Result<(), TaskError>;
}

impl<K: Hash + Eq + Record, T: Record> ReduceTable<K, T> for FlatKeyedMap<K, T> {
    #[inline]
    fn fold_batch<KF: Fn(&T) -> K, RF: Fn(T, T) -> T>(
        &mut self,
        batch: &mut Vec<T>,
        key_fn: &KF,
        reduce: &RF,
        mut updates: Option<&mut Vec<T>>,
    ) -> Result<(), TaskError> {
        let values = self.map_mut();
        for rec in batch.drain(..) {
            match values.entry(key_fn(&rec)) {
                Entry::Occupied(mut e) => {
                    let merged = reduce(e.get().clone(), rec);
                    if let Some(u) = updates.as_deref_mut() {
                        u.push(merged.clone());
                    }
                    *e.get_mut() = merged;
                }
                Entry::Vacant(e) => {
                    if let Some(u) = updates.as_deref_mut() {
                        u.push(rec.clone());
                    }
                    e.insert(rec);
                }
            }
        }
        Ok(())
    }
    fn snapshot(&mut self) -> Result<Vec<(u32, Vec<u8>)>, CheckpointError> {
        FlatKeyedMap::snapshot(self)
    }
    fn restore_group(&mut self, kg: u32, bytes: &[u8], what: &str) -> Result<(), CheckpointError> {
        FlatKeyedMap::restore_group(self, kg, bytes, what)
    }
    fn drain_values(&mut self, f: &mut dyn FnMut(T) -> Result<(), TaskError>) -> Result<(), TaskError> {
        for (_, v) in self.drain() {
            f(v)?;
        }
        Ok(())
    }
}

/// The on-disk table with the store that holds it (dropped together: the
/// store's directory goes with them).
struct DiskReduce<K, T> {
    table: DiskTable<K, T>,
    range: KeyGroupRange,
    _store: LsmStore,
}

impl<K: Hash + Eq + Record, T: Record> ReduceTable<K, T> for DiskReduce<K, T> {
    fn fold_batch<KF: Fn(&T) -> K, RF: Fn(T, T) -> T>(
        &mut self,
        batch: &mut Vec<T>,
        key_fn: &KF,
        reduce: &RF,
        mut updates: Option<&mut Vec<T>>,
    ) -> Result<(), TaskError> {
        for rec in batch.drain(..) {
            let key = key_fn(&rec);
            let index = self.range.index_of(&key);
            let merged = self.table.fold(index, &key, rec, reduce);
            if let (Some(u), Some(m)) = (updates.as_deref_mut(), merged) {
                u.push(m.clone());
            }
        }
        // Before the batch's updates leave: an error reading a value fails
        // the task (no update computed from a failed read goes out).
        self.table.maintain()?;
        Ok(())
    }
    fn snapshot(&mut self) -> Result<Vec<(u32, Vec<u8>)>, CheckpointError> {
        self.table.write_back(false)?;
        let mut out = Vec::new();
        for kg in self.range.first..=self.range.last {
            if let Some(img) = self.table.snapshot_group(kg)? {
                out.push((kg, img));
            }
        }
        Ok(out)
    }
    fn restore_group(&mut self, kg: u32, bytes: &[u8], what: &str) -> Result<(), CheckpointError> {
        self.table.restore_group(kg, bytes, what)
    }
    fn drain_values(&mut self, f: &mut dyn FnMut(T) -> Result<(), TaskError>) -> Result<(), TaskError> {
        let mut failed = None;
        self.table.drain_values(|v| {
            if failed.is_none() {
                if let Err(e) = f(v) {
                    failed = Some(e);
                }
            }
        })?;
        failed.map_or(Ok(()), Err)
    }
}

struct ReduceOp<T, K, KF, RF, S> {
    key_fn: Arc<KF>,
    reduce: Arc<RF>,
    values: S,
    range: KeyGroupRange,
    emit_updates: bool,
    uid: String,
    checkpointing: Option<Arc<TaskCheckpointing>>,
    buf: Vec<T>,
    next: Box<dyn Output<T>>,
    _key: PhantomData<fn() -> K>,
}

impl<T, K, KF, RF, S> Output<T> for ReduceOp<T, K, KF, RF, S>
where
    T: Record,
    K: Hash + Eq + Record,
    KF: Fn(&T) -> K,
    RF: Fn(T, T) -> T,
    S: ReduceTable<K, T>,
{
    fn push_batch(&mut self, batch: &mut Vec<T>) -> Result<(), TaskError> {
        let updates = if self.emit_updates { Some(&mut self.buf) } else { None };
        self.values.fold_batch(batch, &*self.key_fn, &*self.reduce, updates)?;
        if self.buf.is_empty() {
            return Ok(());
        }
        self.next.push_batch(&mut self.buf)
    }

    fn push_event(&mut self, event: &Event) -> Result<(), TaskError> {
        if let (Event::Barrier(b), Some(cp)) = (event, &self.checkpointing) {
            let started = std::time::Instant::now();
            let snapshot = self.values.snapshot();
            tracing::debug!(
                checkpoint = b.id,
                key_groups = snapshot.as_ref().map_or(0, |s| s.len()),
                ms = started.elapsed().as_millis() as u64,
                "keyed reduce state serialized"
            );
            match snapshot {
                Ok(keyed) => cp.add_snapshot(
                    &self.uid,
                    OperatorSnapshot {
                        key_groups: Some((self.range.first, self.range.last)),
                        keyed,
                        operator: Vec::new(),
                    },
                ),
                Err(e) => cp.decline(b.id, format!("{}: {e}", self.uid)),
            }
        }
        // Final results go out at the end of the data: at `EndOfData` when a
        // final checkpoint follows (then they are part of it), else at
        // `EndOfInput`; the second of the two finds the table empty.
        if matches!(event, Event::EndOfInput | Event::EndOfData) && !self.emit_updates {
            let (buf, next) = (&mut self.buf, &mut self.next);
            self.values.drain_values(&mut |v| {
                buf.push(v);
                if buf.len() >= FINAL_BATCH {
                    next.push_batch(buf)?;
                }
                Ok(())
            })?;
            if !self.buf.is_empty() {
                self.next.push_batch(&mut self.buf)?;
            }
        }
        self.next.push_event(event)
    }
}

/// Builds a keyed reduce operator.
pub(crate) struct ReduceBuilder<T, K, KF, RF> {
    pub(crate) key_fn: Arc<KF>,
    pub(crate) reduce: Arc<RF>,
    pub(crate) _types: PhantomData<fn(T) -> K>,
}

impl<T, K, KF, RF> OperatorBuilder for ReduceBuilder<T, K, KF, RF>
where
    T: Record,
    K: Hash + Eq + Record,
    KF: Fn(&T) -> K + Send + Sync + 'static,
    RF: Fn(T, T) -> T + Send + Sync + 'static,
{
    fn build(&self, ctx: &OperatorContext, next: AnyOutput) -> Result<AnyOutput, TaskError> {
        let range = KeyGroupRange::of_subtask(ctx.max_parallelism, ctx.parallelism, ctx.subtask_index);
        match &ctx.state_backend {
            StateBackend::HashMap => self.build_on(ctx, next, range, FlatKeyedMap::new(range)),
            StateBackend::EmbeddedLsm(settings) => {
                let mut store = LsmStore::open(settings, &format!("{}-{}", ctx.uid, ctx.subtask_index))?;
                let table = DiskTable::open(&mut store, "reduce", range, settings.split().object_cache)?;
                self.build_on(ctx, next, range, DiskReduce { table, range, _store: store })
            }
        }
    }
}

impl<T, K, KF, RF> ReduceBuilder<T, K, KF, RF>
where
    T: Record,
    K: Hash + Eq + Record,
    KF: Fn(&T) -> K + Send + Sync + 'static,
    RF: Fn(T, T) -> T + Send + Sync + 'static,
{
    fn build_on<S: ReduceTable<K, T> + Send + 'static>(
        &self,
        ctx: &OperatorContext,
        next: AnyOutput,
        range: KeyGroupRange,
        mut values: S,
    ) -> Result<AnyOutput, TaskError> {
        let next = unerase::<T>(next, &ctx.operator_name)?;
        if let Some(cp) = &ctx.checkpointing {
            let mut groups = 0;
            for (kg, bytes, file) in cp.restored_keyed(&ctx.uid, range)? {
                values.restore_group(kg, &bytes, &file)?;
                groups += 1;
            }
            if cp.restore_source().is_some() {
                tracing::info!(operator = %ctx.uid, subtask = ctx.subtask_index, key_groups = groups, backend = ctx.state_backend.name(), "keyed reduce state restored");
            }
        }
        Ok(erase::<T>(Box::new(ReduceOp {
            key_fn: self.key_fn.clone(),
            reduce: self.reduce.clone(),
            values,
            range,
            uid: ctx.uid.clone(),
            checkpointing: ctx.checkpointing.clone(),
            emit_updates: ctx.runtime_mode == RuntimeMode::Streaming,
            buf: Vec::new(),
            next,
            _key: PhantomData,
        })))
    }
}
