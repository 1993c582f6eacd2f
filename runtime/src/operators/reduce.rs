//! Keyed reduce (Flink's `KeyedStream.reduce`): per key, folds each record into
//! the current value. STREAMING emits the updated value per record; BATCH
//! emits each key's final value when input ends.

use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::checkpoint::{FlatKeyedMap, KeyGroupRange, OperatorSnapshot, TaskCheckpointing};
use crate::context::{OperatorContext, RuntimeMode};
use crate::error::TaskError;
use crate::event::Event;
use crate::graph::OperatorBuilder;
use crate::record::Record;
use crate::task::output::{erase, unerase, AnyOutput};
use crate::task::Output;

/// Emitted in batches of this many records when a BATCH reduce ends.
const FINAL_BATCH: usize = 4096;

struct ReduceOp<T, K, KF, RF> {
    key_fn: Arc<KF>,
    reduce: Arc<RF>,
    values: FlatKeyedMap<K, T>,
    range: KeyGroupRange,
    emit_updates: bool,
    uid: String,
    checkpointing: Option<Arc<TaskCheckpointing>>,
    buf: Vec<T>,
    next: Box<dyn Output<T>>,
}

impl<T, K, KF, RF> Output<T> for ReduceOp<T, K, KF, RF>
where
    T: Record,
    K: Hash + Eq + Record,
    KF: Fn(&T) -> K,
    RF: Fn(T, T) -> T,
{
    fn push_batch(&mut self, batch: &mut Vec<T>) -> Result<(), TaskError> {
        let (key_fn, reduce) = (&*self.key_fn, &*self.reduce);
        let values = self.values.map_mut();
        for rec in batch.drain(..) {
            match values.entry(key_fn(&rec)) {
                Entry::Occupied(mut e) => {
                    let merged = reduce(e.get().clone(), rec);
                    if self.emit_updates {
                        self.buf.push(merged.clone());
                    }
                    *e.get_mut() = merged;
                }
                Entry::Vacant(e) => {
                    if self.emit_updates {
                        self.buf.push(rec.clone());
                    }
                    e.insert(rec);
                }
            }
        }
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
                keys = self.values.len(),
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
            for (_, v) in self.values.drain() {
                self.buf.push(v);
                if self.buf.len() >= FINAL_BATCH {
                    self.next.push_batch(&mut self.buf)?;
                }
            }
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
        let next = unerase::<T>(next, &ctx.operator_name)?;
        let range = KeyGroupRange::of_subtask(ctx.max_parallelism, ctx.parallelism, ctx.subtask_index);
        let mut values = FlatKeyedMap::new(range);
        if let Some(cp) = &ctx.checkpointing {
            for (kg, bytes, file) in cp.restored_keyed(&ctx.uid, range)? {
                values.restore_group(kg, &bytes, &file)?;
            }
            if cp.restore_source().is_some() {
                tracing::info!(operator = %ctx.uid, subtask = ctx.subtask_index, keys = values.len(), "keyed reduce state restored");
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
        })))
    }
}
