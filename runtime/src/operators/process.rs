//! Keyed process operator: runs a user [`KeyedProcessFunction`] with keyed
//! state and timers. Event-time timers fire when a watermark reaches them
//! (before the watermark is forwarded), processing-time timers when the
//! wall clock does (checked per batch and on every flush tick).

use std::marker::PhantomData;
use std::sync::Arc;

use crate::api::{Collector, KeyedContext, KeyedProcessFunction, KeyedStateStore, SideOutputs};
use crate::checkpoint::{KeyGroupRange, TaskCheckpointing};
use crate::context::OperatorContext;
use crate::error::TaskError;
use crate::event::{Event, NO_TIMESTAMP};
use crate::graph::OperatorBuilder;
use crate::task::output::{erase, unerase, AnyOutput};
use crate::task::Output;
use crate::time::timers::now_ms;
use crate::time::TimeDomain;

struct ProcessOp<P: KeyedProcessFunction, KF> {
    function: P,
    key_fn: Arc<KF>,
    state: KeyedStateStore<P::Key>,
    buf: Vec<P::Out>,
    /// Timestamps of `buf`'s records, when they have any.
    buf_ts: Vec<i64>,
    next: Box<dyn Output<P::Out>>,
    side: SideOutputs,
    uid: String,
    checkpointing: Option<Arc<TaskCheckpointing>>,
}

impl<P, KF> ProcessOp<P, KF>
where
    P: KeyedProcessFunction,
    KF: Fn(&P::In) -> P::Key,
{
    fn process(&mut self, batch: &mut Vec<P::In>, timestamps: Option<&mut Vec<i64>>) -> Result<(), TaskError> {
        let key_fn = &*self.key_fn;
        match timestamps {
            None => {
                let mut out = Collector::new(&mut self.buf);
                for rec in batch.drain(..) {
                    let key = key_fn(&rec);
                    let kg = self.state.key_groups().index_of(&key);
                    let mut ctx = KeyedContext::new(&key, kg, &mut self.state, NO_TIMESTAMP, None)
                        .with_side_outputs(&mut self.side);
                    self.function.process_element(rec, &mut ctx, &mut out)?;
                }
                self.state.maintain()?;
                self.next.push_batch(&mut self.buf)?;
            }
            Some(ts) => {
                for (rec, t) in batch.drain(..).zip(ts.drain(..)) {
                    let key = key_fn(&rec);
                    let kg = self.state.key_groups().index_of(&key);
                    let mut ctx =
                        KeyedContext::new(&key, kg, &mut self.state, t, None).with_side_outputs(&mut self.side);
                    self.buf_ts.resize(self.buf.len(), t);
                    let mut out = Collector::with_timestamps(&mut self.buf, &mut self.buf_ts, t);
                    self.function.process_element(rec, &mut ctx, &mut out)?;
                }
                self.state.maintain()?;
                self.next.push_timestamped(&mut self.buf, &mut self.buf_ts)?;
            }
        }
        self.fire(TimeDomain::ProcessingTime, now_ms())?;
        self.side.flush()
    }

    /// Fires every timer of `domain` due at `upto`, in time order.
    fn fire(&mut self, domain: TimeDomain, upto: i64) -> Result<(), TaskError> {
        while let Some((ts, key, kg)) = self.state.timers.pop_due(domain, upto) {
            let mut ctx =
                KeyedContext::new(&key, kg, &mut self.state, ts, Some(domain)).with_side_outputs(&mut self.side);
            self.function.on_timer(ts, &mut ctx, &mut Collector::new(&mut self.buf))?;
            // Event-time timer output carries the timer's time (Flink's onEventTime).
            let t = if domain == TimeDomain::EventTime { ts } else { NO_TIMESTAMP };
            self.buf_ts.resize(self.buf.len(), t);
        }
        self.side.flush()?;
        self.state.maintain()?;
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

impl<P, KF> Output<P::In> for ProcessOp<P, KF>
where
    P: KeyedProcessFunction,
    KF: Fn(&P::In) -> P::Key,
{
    fn push_batch(&mut self, batch: &mut Vec<P::In>) -> Result<(), TaskError> {
        self.process(batch, None)
    }

    fn push_timestamped(&mut self, batch: &mut Vec<P::In>, timestamps: &mut Vec<i64>) -> Result<(), TaskError> {
        self.process(batch, Some(timestamps))
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
                    self.state.snapshot_into(cp, &self.uid, b.id);
                }
            }
            _ => {}
        }
        self.side.event(event)?;
        self.next.push_event(event)
    }
}

/// Builds a keyed process operator.
pub(crate) struct ProcessBuilder<P, KF> {
    pub(crate) function: P,
    pub(crate) key_fn: Arc<KF>,
    pub(crate) _f: PhantomData<fn()>,
}

impl<P, KF> OperatorBuilder for ProcessBuilder<P, KF>
where
    P: KeyedProcessFunction,
    KF: Fn(&P::In) -> P::Key + Send + Sync + 'static,
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
        let range = KeyGroupRange::of_subtask(ctx.max_parallelism, ctx.parallelism, ctx.subtask_index);
        let mut state =
            KeyedStateStore::with_backend(range, &ctx.state_backend, &format!("{}-{}", ctx.uid, ctx.subtask_index))?;
        function.open(&mut state);
        state.opened()?;
        if let Some(cp) = &ctx.checkpointing {
            for (kg, bytes, file) in cp.restored_keyed(&ctx.uid, state.key_groups())? {
                state.restore_group(kg, &bytes, &file)?;
            }
            if cp.restore_source().is_some() {
                tracing::info!(operator = %ctx.uid, subtask = ctx.subtask_index, timers = state.timers.len(), "keyed process state restored");
            }
        }
        Ok(erase::<P::In>(Box::new(ProcessOp {
            function,
            key_fn: self.key_fn.clone(),
            state,
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
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::checkpoint::test_support::TestCheckpoints;
    use crate::context::RuntimeMode;
    use crate::event::{CheckpointBarrier, MAX_WATERMARK};

    /// Registers an event-time timer at each record's second field; emits
    /// `(key, time)` when it fires.
    #[derive(Clone)]
    struct TimerAt;
    impl KeyedProcessFunction for TimerAt {
        type Key = u32;
        type In = (u32, i64);
        type Out = (u32, i64);
        fn process_element(
            &mut self,
            value: (u32, i64),
            ctx: &mut KeyedContext<'_, u32>,
            _out: &mut Collector<'_, (u32, i64)>,
        ) -> Result<(), TaskError> {
            ctx.timer_service().register_event_time_timer(value.1);
            Ok(())
        }
        fn on_timer(
            &mut self,
            ts: i64,
            ctx: &mut KeyedContext<'_, u32>,
            out: &mut Collector<'_, (u32, i64)>,
        ) -> Result<(), TaskError> {
            out.collect((*ctx.current_key(), ts));
            Ok(())
        }
    }

    struct Sink(Arc<Mutex<Vec<(u32, i64)>>>);
    impl Output<(u32, i64)> for Sink {
        fn push_batch(&mut self, batch: &mut Vec<(u32, i64)>) -> Result<(), TaskError> {
            self.0.lock().unwrap().append(batch);
            Ok(())
        }
        fn push_event(&mut self, _event: &Event) -> Result<(), TaskError> {
            Ok(())
        }
    }

    fn operator(
        parallelism: u32,
        subtask: u32,
        cp: Arc<TaskCheckpointing>,
        out: Arc<Mutex<Vec<(u32, i64)>>>,
    ) -> Box<dyn Output<(u32, i64)>> {
        let ctx = OperatorContext {
            operator_name: "KeyedProcess".into(),
            uid: "timers-1".into(),
            task_name: format!("KeyedProcess ({}/{parallelism})", subtask + 1),
            subtask_index: subtask,
            parallelism,
            max_parallelism: 128,
            attempt: 0,
            runtime_mode: RuntimeMode::Streaming,
            checkpointing: Some(cp),
            metrics: Default::default(),
            state_backend: Default::default(),
        };
        let b = ProcessBuilder { function: TimerAt, key_fn: Arc::new(|r: &(u32, i64)| r.0), _f: PhantomData };
        let op = b.build(&ctx, erase::<(u32, i64)>(Box::new(Sink(out)))).unwrap();
        unerase::<(u32, i64)>(op, "test").unwrap()
    }

    /// Timers are keyed state: the ones pending at a checkpoint taken at
    /// parallelism 1 come back after a restore at parallelism 3, each on
    /// the subtask owning its key, and fire there exactly once; the ones
    /// that fired before the checkpoint do not fire again.
    #[test]
    fn pending_timers_survive_a_restore_at_another_parallelism() {
        let checkpoints = TestCheckpoints::new();
        let cp = checkpoints.task(0, None);
        let before = Arc::new(Mutex::new(Vec::new()));
        let mut op = operator(1, 0, cp.clone(), before.clone());
        let mut batch: Vec<(u32, i64)> = (0..500).map(|i| ((i % 50) as u32, 1000 + i as i64)).collect();
        let mut ts = vec![0; batch.len()];
        op.push_timestamped(&mut batch, &mut ts).unwrap();
        op.push_event(&Event::Watermark(1100)).unwrap();
        assert_eq!(before.lock().unwrap().len(), 101, "timers 1000..=1100 fire at watermark 1100");
        let barrier = CheckpointBarrier { id: 1, timestamp_ms: 0, savepoint: false };
        op.push_event(&Event::Barrier(barrier)).unwrap();
        cp.barrier_passed(&barrier);
        let restore = checkpoints.restore_point(&cp, "timers-1");
        let mut fired: Vec<(u32, i64)> = Vec::new();
        for sub in 0..3 {
            let cp2 = checkpoints.task(sub, Some(restore.clone()));
            let out = Arc::new(Mutex::new(Vec::new()));
            let mut op = operator(3, sub, cp2, out.clone());
            op.push_event(&Event::Watermark(MAX_WATERMARK)).unwrap();
            let range = KeyGroupRange::of_subtask(128, 3, sub);
            let got = out.lock().unwrap().clone();
            assert!(!got.is_empty(), "subtask {sub} restored no timer");
            for (key, t) in &got {
                assert!(range.contains(crate::keygroup::key_group_for_hash(crate::keygroup::key_hash(key), 128)));
                assert_eq!(*key as i64, (t - 1000) % 50, "timer {t} came back under key {key}");
            }
            fired.extend(got);
        }
        fired.sort_unstable_by_key(|x| x.1);
        assert_eq!(fired.iter().map(|x| x.1).collect::<Vec<_>>(), (1101..1500).collect::<Vec<_>>());
    }
}
