//! Broadcast process operators (Flink's `CoBroadcastWithNonKeyedOperator`
//! and `CoBroadcastWithKeyedOperator`): one input of [`Tagged`] records,
//! the first input's elements read the broadcast state, the broadcast
//! input's elements write it. At a barrier the operator snapshots its
//! broadcast state as operator state (and its keyed state and timers, for
//! the keyed one); a restore gives each subtask one old subtask's copy.

use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::api::{
    BroadcastContext, BroadcastProcessFunction, BroadcastStateStore, Collector, Declarations,
    KeyedBroadcastProcessFunction, KeyedContext, KeyedReadOnlyContext, KeyedStateStore, ReadOnlyBroadcastContext,
    SideOutputs, Tagged,
};
use crate::checkpoint::{KeyGroupRange, OperatorSnapshot, TaskCheckpointing};
use crate::context::OperatorContext;
use crate::error::TaskError;
use crate::event::{Event, NO_TIMESTAMP};
use crate::exchange::writer::{KeyGroupPartitioner, PartitionWriter, Partitioner};
use crate::exchange::{ChannelSender, ExchangeSettings};
use crate::graph::{OperatorBuilder, Partitioning, WriterBuilder};
use crate::record::Record;
use crate::task::output::{erase, unerase, AnyOutput};
use crate::task::{Output, TaskControl};
use crate::time::timers::now_ms;
use crate::time::TimeDomain;

/// Routes first-input records by key (as the keyed operator computes key
/// groups); the broadcast input never passes this edge.
struct FirstKeyPartitioner<A, F>(KeyGroupPartitioner<F>, PhantomData<fn(&A)>);

impl<A: 'static, B, K: Hash, F: Fn(&A) -> K + 'static> Partitioner<Tagged<A, B>> for FirstKeyPartitioner<A, F> {
    #[inline]
    fn select(&mut self, record: &Tagged<A, B>, channels: usize) -> usize {
        match record {
            Tagged::First(a) => self.0.select(a, channels),
            Tagged::Second(_) => 0,
        }
    }
}

/// Writer of the keyed input edge of a keyed broadcast operator.
pub(crate) struct FirstKeyWriter<A, B, K, F> {
    pub(crate) key_fn: Arc<F>,
    pub(crate) _types: PhantomData<fn(A, B) -> K>,
}

impl<A, B, K, F> WriterBuilder for FirstKeyWriter<A, B, K, F>
where
    A: Record,
    B: Record,
    K: Hash + 'static,
    F: Fn(&A) -> K + Send + Sync + 'static,
{
    fn build(
        &self,
        _partitioning: Partitioning,
        senders: Vec<ChannelSender>,
        ctx: &OperatorContext,
        settings: &ExchangeSettings,
        control: &TaskControl,
    ) -> Result<AnyOutput, TaskError> {
        let p = FirstKeyPartitioner(KeyGroupPartitioner::new(self.key_fn.clone(), ctx.max_parallelism), PhantomData);
        let writer = PartitionWriter::new(senders, p, false, settings, control.clone(), ctx.task_name.clone());
        Ok(erase::<Tagged<A, B>>(Box::new(writer)))
    }
}

/// The broadcast state of subtask `ctx.subtask_index`, restored if the task restores.
fn restored_store(ctx: &OperatorContext, states: &Declarations) -> Result<BroadcastStateStore, TaskError> {
    let mut store = BroadcastStateStore::new(states);
    if let Some(cp) = &ctx.checkpointing {
        if let Some((file, items)) = cp.restored_operator_copy(&ctx.uid, ctx.subtask_index)? {
            store.restore(&items, &file)?;
        }
    }
    Ok(store)
}

/// The keyed state's image per key group, or why it could not be made.
type KeyedImage = Result<Vec<(u32, Vec<u8>)>, crate::checkpoint::CheckpointError>;

/// Hands the operator's state to the checkpoint, or declines it naming the operator.
fn snapshot(
    cp: &TaskCheckpointing,
    uid: &str,
    checkpoint_id: u64,
    store: &BroadcastStateStore,
    keyed: Option<(KeyGroupRange, KeyedImage)>,
) {
    let operator = match store.snapshot() {
        Ok(items) => items,
        Err(e) => return cp.decline(checkpoint_id, format!("{uid}: {e}")),
    };
    let (key_groups, keyed) = match keyed {
        None => (None, Vec::new()),
        Some((range, Ok(groups))) => (Some((range.first, range.last)), groups),
        Some((_, Err(e))) => return cp.decline(checkpoint_id, format!("{uid}: {e}")),
    };
    cp.add_snapshot(uid, OperatorSnapshot { key_groups, keyed, operator });
}

struct BroadcastProcessOp<P: BroadcastProcessFunction> {
    function: P,
    store: BroadcastStateStore,
    watermark: i64,
    buf: Vec<P::Out>,
    buf_ts: Vec<i64>,
    next: Box<dyn Output<P::Out>>,
    uid: String,
    checkpointing: Option<Arc<TaskCheckpointing>>,
}

impl<P: BroadcastProcessFunction> BroadcastProcessOp<P> {
    fn one(&mut self, rec: Tagged<P::In1, P::In2>, timestamp: i64, timestamped: bool) -> Result<(), TaskError> {
        if timestamped {
            self.buf_ts.resize(self.buf.len(), timestamp);
        }
        let mut out = if timestamped {
            Collector::with_timestamps(&mut self.buf, &mut self.buf_ts, timestamp)
        } else {
            Collector::new(&mut self.buf)
        };
        match rec {
            Tagged::First(a) => {
                let ctx = ReadOnlyBroadcastContext { store: &self.store, timestamp, watermark: self.watermark };
                self.function.process_element(a, &ctx, &mut out)
            }
            Tagged::Second(b) => {
                let mut ctx = BroadcastContext { store: &mut self.store, timestamp, watermark: self.watermark };
                self.function.process_broadcast_element(b, &mut ctx, &mut out)
            }
        }
    }
}

impl<P: BroadcastProcessFunction> Output<Tagged<P::In1, P::In2>> for BroadcastProcessOp<P> {
    fn push_batch(&mut self, batch: &mut Vec<Tagged<P::In1, P::In2>>) -> Result<(), TaskError> {
        for rec in batch.drain(..) {
            self.one(rec, NO_TIMESTAMP, false)?;
        }
        self.next.push_batch(&mut self.buf)
    }
    fn push_timestamped(
        &mut self,
        batch: &mut Vec<Tagged<P::In1, P::In2>>,
        ts: &mut Vec<i64>,
    ) -> Result<(), TaskError> {
        for (rec, t) in batch.drain(..).zip(ts.drain(..)) {
            self.one(rec, t, true)?;
        }
        self.next.push_timestamped(&mut self.buf, &mut self.buf_ts)
    }
    fn push_event(&mut self, event: &Event) -> Result<(), TaskError> {
        match event {
            Event::Watermark(w) => self.watermark = *w,
            Event::Barrier(b) => {
                if let Some(cp) = &self.checkpointing {
                    snapshot(cp, &self.uid, b.id, &self.store, None);
                }
            }
            _ => {}
        }
        self.next.push_event(event)
    }
}

/// Builds a non-keyed broadcast process operator.
pub(crate) struct BroadcastProcessBuilder<P> {
    pub(crate) function: P,
    pub(crate) states: Declarations,
}

impl<P: BroadcastProcessFunction> OperatorBuilder for BroadcastProcessBuilder<P> {
    fn build(&self, ctx: &OperatorContext, next: AnyOutput) -> Result<AnyOutput, TaskError> {
        let next = unerase::<P::Out>(next, &ctx.operator_name)?;
        let op = BroadcastProcessOp {
            function: self.function.clone(),
            store: restored_store(ctx, &self.states)?,
            watermark: i64::MIN,
            buf: Vec::new(),
            buf_ts: Vec::new(),
            next,
            uid: ctx.uid.clone(),
            checkpointing: ctx.checkpointing.clone(),
        };
        Ok(erase::<Tagged<P::In1, P::In2>>(Box::new(op)))
    }
}

struct KeyedBroadcastOp<P: KeyedBroadcastProcessFunction, KF> {
    function: P,
    key_fn: Arc<KF>,
    state: KeyedStateStore<P::Key>,
    store: BroadcastStateStore,
    buf: Vec<P::Out>,
    buf_ts: Vec<i64>,
    next: Box<dyn Output<P::Out>>,
    side: SideOutputs,
    uid: String,
    checkpointing: Option<Arc<TaskCheckpointing>>,
}

impl<P, KF> KeyedBroadcastOp<P, KF>
where
    P: KeyedBroadcastProcessFunction,
    KF: Fn(&P::In1) -> P::Key,
{
    fn one(&mut self, rec: Tagged<P::In1, P::In2>, t: i64, timestamped: bool) -> Result<(), TaskError> {
        if timestamped {
            self.buf_ts.resize(self.buf.len(), t);
        }
        let mut out = if timestamped {
            Collector::with_timestamps(&mut self.buf, &mut self.buf_ts, t)
        } else {
            Collector::new(&mut self.buf)
        };
        match rec {
            Tagged::First(a) => {
                let key = (self.key_fn)(&a);
                let kg = self.state.key_groups().index_of(&key);
                let keyed = KeyedContext::new(&key, kg, &mut self.state, t, None).with_side_outputs(&mut self.side);
                let mut ctx = KeyedReadOnlyContext { keyed, store: &self.store };
                self.function.process_element(a, &mut ctx, &mut out)
            }
            Tagged::Second(b) => {
                let watermark = self.state.timers.watermark;
                let mut ctx = BroadcastContext { store: &mut self.store, timestamp: t, watermark };
                self.function.process_broadcast_element(b, &mut ctx, &mut out)
            }
        }
    }

    /// Fires every timer of `domain` due at `upto`, in time order.
    fn fire(&mut self, domain: TimeDomain, upto: i64) -> Result<(), TaskError> {
        while let Some((ts, key, kg)) = self.state.timers.pop_due(domain, upto) {
            let keyed =
                KeyedContext::new(&key, kg, &mut self.state, ts, Some(domain)).with_side_outputs(&mut self.side);
            let mut ctx = KeyedReadOnlyContext { keyed, store: &self.store };
            self.function.on_timer(ts, &mut ctx, &mut Collector::new(&mut self.buf))?;
            // Event-time timer output carries the timer's time (Flink's onEventTime).
            let t = if domain == TimeDomain::EventTime { ts } else { NO_TIMESTAMP };
            self.buf_ts.resize(self.buf.len(), t);
        }
        self.side.flush()?;
        if self.buf.is_empty() {
            return Ok(());
        }
        if domain == TimeDomain::ProcessingTime {
            self.buf_ts.clear();
            return self.next.push_batch(&mut self.buf);
        }
        self.next.push_timestamped(&mut self.buf, &mut self.buf_ts)
    }
}

impl<P, KF> Output<Tagged<P::In1, P::In2>> for KeyedBroadcastOp<P, KF>
where
    P: KeyedBroadcastProcessFunction,
    KF: Fn(&P::In1) -> P::Key,
{
    fn push_batch(&mut self, batch: &mut Vec<Tagged<P::In1, P::In2>>) -> Result<(), TaskError> {
        for rec in batch.drain(..) {
            self.one(rec, NO_TIMESTAMP, false)?;
        }
        self.next.push_batch(&mut self.buf)?;
        self.fire(TimeDomain::ProcessingTime, now_ms())?;
        self.side.flush()
    }

    fn push_timestamped(
        &mut self,
        batch: &mut Vec<Tagged<P::In1, P::In2>>,
        ts: &mut Vec<i64>,
    ) -> Result<(), TaskError> {
        for (rec, t) in batch.drain(..).zip(ts.drain(..)) {
            self.one(rec, t, true)?;
        }
        self.next.push_timestamped(&mut self.buf, &mut self.buf_ts)?;
        self.fire(TimeDomain::ProcessingTime, now_ms())?;
        self.side.flush()
    }

    fn push_event(&mut self, event: &Event) -> Result<(), TaskError> {
        match event {
            Event::Watermark(w) => {
                self.state.timers.watermark = *w;
                self.fire(TimeDomain::EventTime, *w)?;
            }
            Event::Flush => self.fire(TimeDomain::ProcessingTime, now_ms())?,
            Event::Barrier(b) => {
                if let Some(cp) = &self.checkpointing {
                    let keyed = Some((self.state.key_groups(), self.state.snapshot()));
                    snapshot(cp, &self.uid, b.id, &self.store, keyed);
                }
            }
            _ => {}
        }
        self.side.event(event)?;
        self.next.push_event(event)
    }
}

/// Builds a keyed broadcast process operator.
pub(crate) struct KeyedBroadcastProcessBuilder<P, KF> {
    pub(crate) function: P,
    pub(crate) key_fn: Arc<KF>,
    pub(crate) states: Declarations,
}

impl<P, KF> OperatorBuilder for KeyedBroadcastProcessBuilder<P, KF>
where
    P: KeyedBroadcastProcessFunction,
    KF: Fn(&P::In1) -> P::Key + Send + Sync + 'static,
{
    fn build(&self, ctx: &OperatorContext, next: AnyOutput) -> Result<AnyOutput, TaskError> {
        self.build_with_side_outputs(ctx, next, SideOutputs::default())
    }

    fn build_with_side_outputs(
        &self,
        ctx: &OperatorContext,
        next: AnyOutput,
        side: SideOutputs,
    ) -> Result<AnyOutput, TaskError> {
        let next = unerase::<P::Out>(next, &ctx.operator_name)?;
        let mut function = self.function.clone();
        let mut state =
            KeyedStateStore::new(KeyGroupRange::of_subtask(ctx.max_parallelism, ctx.parallelism, ctx.subtask_index));
        function.open(&mut state);
        if let Some(cp) = &ctx.checkpointing {
            for (kg, bytes, file) in cp.restored_keyed(&ctx.uid, state.key_groups())? {
                state.restore_group(kg, &bytes, &file)?;
            }
        }
        let store = restored_store(ctx, &self.states)?;
        Ok(erase::<Tagged<P::In1, P::In2>>(Box::new(KeyedBroadcastOp {
            function,
            key_fn: self.key_fn.clone(),
            state,
            store,
            buf: Vec::new(),
            buf_ts: Vec::new(),
            next,
            side,
            uid: ctx.uid.clone(),
            checkpointing: ctx.checkpointing.clone(),
        })))
    }
}

#[cfg(test)]
#[path = "broadcast_tests.rs"]
mod tests;
