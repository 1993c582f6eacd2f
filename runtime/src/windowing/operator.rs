//! The window operator (Flink's `WindowOperator`): per key, the open
//! windows with their contents (accumulators) and their trigger's state,
//! kept as keyed state (`KeyGroupedMap` tables, so checkpointed and
//! rescalable like all keyed state), and the trigger's and the cleanup
//! timers on the keyed timer service.
//!
//! The trigger decides when a window fires (see `triggers.rs`); the
//! operator cleans an event-time window up when the watermark reaches its
//! `max_timestamp + allowed lateness` (a processing-time window at its
//! `max_timestamp`). A record whose windows are all past cleanup is late: it
//! goes to the late-data side output if there is one, else it is dropped
//! (counted in the task metric `numLateRecordsDropped` and the log). Session windows merge on arrival (the trigger's
//! `on_merge` combines their states); the timers of merged-away windows
//! find no window that wants them and do nothing.

use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{
    ProcessWindowContext, TimeWindow, TimerRequest, Trigger, TriggerContext, TriggerResult, WindowAgg, WindowAssigner,
};
use crate::api::{Collector, KeyedStateStore, OutputTag, SideOutputs};
use crate::checkpoint::{KeyGroupRange, TaskCheckpointing};
use crate::context::OperatorContext;
use crate::error::TaskError;
use crate::event::{Event, MAX_WATERMARK, NO_TIMESTAMP};
use crate::graph::OperatorBuilder;
use crate::record::Record;
use crate::task::output::{erase, unerase, AnyOutput};
use crate::task::{Output, TaskMetrics};
use crate::time::timers::now_ms;
use crate::time::TimeDomain;

/// Name of the window table in keyed-state snapshots.
const WINDOW_CONTENTS: &str = "window-contents";

/// One open window of a key: its contents (`None` before the first record
/// and after a purge: a firing then emits nothing) and its trigger's state.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct WindowSlot<Acc, S> {
    window: TimeWindow,
    contents: Option<Acc>,
    trigger: S,
}

/// The per-key list of open windows, the window table's value.
type Slots<W, T, K, Tr> = Vec<WindowSlot<<W as WindowAgg<T, K>>::Acc, <Tr as Trigger<T>>::State>>;

struct WindowOp<T, K, KF, A, W: WindowAgg<T, K>, Tr: Trigger<T>> {
    key_fn: Arc<KF>,
    assigner: A,
    agg: W,
    trigger: Tr,
    /// Allowed lateness, ms.
    lateness: i64,
    state: KeyedStateStore<K>,
    table: usize,
    assigned: Vec<TimeWindow>,
    /// Timer requests of the trigger and the operator for the current key.
    timers: Vec<TimerRequest>,
    /// Windows of the current key to fire or purge after its record.
    fire_now: Vec<(TimeWindow, TriggerResult)>,
    /// Trigger states of session windows being merged.
    merge_states: Vec<Tr::State>,
    buf: Vec<W::Out>,
    buf_ts: Vec<i64>,
    late_dropped: u64,
    /// Of `late_dropped`, how many the task's `numLateRecordsDropped` has.
    late_reported: u64,
    metrics: Arc<TaskMetrics>,
    late_tag: Option<OutputTag<T>>,
    side: SideOutputs,
    next: Box<dyn Output<W::Out>>,
    name: String,
    uid: String,
    checkpointing: Option<Arc<TaskCheckpointing>>,
    _t: PhantomData<fn(T)>,
}

/// Evaluates the window function on one window's contents into `buf`.
fn emit_window<T, K, W: WindowAgg<T, K>>(
    agg: &mut W,
    key: &K,
    window: TimeWindow,
    watermark: i64,
    acc: &W::Acc,
    buf: &mut Vec<W::Out>,
    buf_ts: &mut Vec<i64>,
) -> Result<(), TaskError> {
    let ctx = ProcessWindowContext { window, watermark };
    agg.emit(key, &ctx, acc, &mut Collector::new(buf))?;
    buf_ts.resize(buf.len(), window.max_timestamp());
    Ok(())
}

impl<T, K, KF, A, W, Tr> WindowOp<T, K, KF, A, W, Tr>
where
    T: Record,
    K: Hash + Eq + Record,
    KF: Fn(&T) -> K,
    A: WindowAssigner,
    W: WindowAgg<T, K>,
    Tr: Trigger<T>,
{
    fn domain(&self) -> TimeDomain {
        if self.assigner.is_event_time() {
            TimeDomain::EventTime
        } else {
            TimeDomain::ProcessingTime
        }
    }

    /// When `w` is dropped: the end of its allowed lateness (event time),
    /// its end (processing time).
    fn cleanup_time(&self, w: &TimeWindow) -> i64 {
        if self.assigner.is_event_time() {
            w.max_timestamp().saturating_add(self.lateness)
        } else {
            w.max_timestamp()
        }
    }

    fn is_late(&self, w: &TimeWindow) -> bool {
        self.assigner.is_event_time() && self.cleanup_time(w) <= self.state.timers.watermark
    }

    fn process_record(&mut self, rec: T, ts: i64, now: i64) -> Result<(), TaskError> {
        if ts == NO_TIMESTAMP && self.assigner.requires_timestamps() {
            return Err(TaskError::User(format!(
                "{}: a record without a timestamp reached an event-time window; give the stream timestamps with \
                 assign_timestamps_and_watermarks",
                self.name
            )));
        }
        let key = (self.key_fn)(&rec);
        let kg = self.state.key_groups().index_of(&key);
        self.assigned.clear();
        self.assigner.assign_windows(ts, now, &mut self.assigned);
        let mut assigned = std::mem::take(&mut self.assigned);
        assigned.retain(|w| !self.is_late(w));
        if assigned.is_empty() {
            match &self.late_tag {
                Some(tag) => self.side.emit(tag, rec, ts),
                None => self.late_dropped += 1,
            }
            self.assigned = assigned;
            return Ok(());
        }
        let watermark = self.state.timers.watermark;
        let merging = self.assigner.is_merging();
        let (domain, event_time, lateness) = (self.domain(), self.assigner.is_event_time(), self.lateness);
        let table = self
            .state
            .group_mut::<Slots<W, T, K, Tr>>(self.table, kg)
            .ok_or_else(|| TaskError::Mismatch(format!("{}: window table missing", self.name)))?;
        let list = match table.get_mut(&key) {
            Some(l) => l,
            None => table.entry(key.clone()).or_default(),
        };
        let (agg, trigger, timers) = (&self.agg, &self.trigger, &mut self.timers);
        let mut rec = Some(rec);
        let last = assigned.len() - 1;
        for (i, w) in assigned.iter().enumerate() {
            let idx = if merging {
                let mut merged = *w;
                let mut acc: Option<W::Acc> = None;
                let merge_states = &mut self.merge_states;
                merge_states.clear();
                let mut only = None;
                while let Some(j) = list.iter().position(|s| s.window.intersects(&merged)) {
                    let s = list.swap_remove(j);
                    merged = merged.cover(&s.window);
                    only = Some(s.window);
                    match (&mut acc, s.contents) {
                        (Some(m), Some(a)) => agg.merge(m, a),
                        (None, Some(a)) => acc = Some(a),
                        (_, None) => {}
                    }
                    merge_states.push(s.trigger);
                }
                let state = if merge_states.is_empty() {
                    Tr::State::default()
                } else if merge_states.len() == 1 && only == Some(merged) {
                    merge_states.pop().expect("one state")
                } else {
                    let mut state = Tr::State::default();
                    let mut ctx =
                        TriggerContext { state: &mut state, watermark, processing_time: now, timers, draining: false };
                    trigger.on_merge(&merged, merge_states, &mut ctx);
                    merge_states.clear();
                    state
                };
                list.push(WindowSlot { window: merged, contents: acc, trigger: state });
                list.len() - 1
            } else {
                match list.iter().position(|s| s.window == *w) {
                    Some(j) => j,
                    None => {
                        list.push(WindowSlot { window: *w, contents: None, trigger: Tr::State::default() });
                        list.len() - 1
                    }
                }
            };
            let slot = &mut list[idx];
            let value = if i == last { rec.take().expect("moved once") } else { rec.clone().expect("present") };
            let mut ctx =
                TriggerContext { state: &mut slot.trigger, watermark, processing_time: now, timers, draining: false };
            let result = trigger.on_element(&value, ts, &slot.window, &mut ctx);
            agg.add(slot.contents.get_or_insert_with(|| agg.create()), value);
            if result != TriggerResult::Continue {
                self.fire_now.push((slot.window, result));
            }
            let cleanup = if event_time {
                slot.window.max_timestamp().saturating_add(lateness)
            } else {
                slot.window.max_timestamp()
            };
            let r = TimerRequest { domain, time: cleanup, register: true };
            if timers.last() != Some(&r) {
                timers.push(r);
            }
        }
        self.assigned = assigned;
        self.apply_timers(&key, kg);
        if !self.fire_now.is_empty() {
            self.fire_or_purge(&key, kg)?;
        }
        Ok(())
    }

    /// Applies the timer requests of the last trigger calls for `key`.
    fn apply_timers(&mut self, key: &K, kg: usize) {
        for r in self.timers.drain(..) {
            if r.register {
                self.state.timers.register(r.domain, key, kg, r.time);
            } else {
                self.state.timers.delete(r.domain, key, kg, r.time);
            }
        }
    }

    /// Fires and/or purges the windows of `key` in `fire_now`.
    fn fire_or_purge(&mut self, key: &K, kg: usize) -> Result<(), TaskError> {
        let watermark = self.state.timers.watermark;
        let Some(list) = self.state.group_mut::<Slots<W, T, K, Tr>>(self.table, kg).and_then(|t| t.get_mut(key)) else {
            self.fire_now.clear();
            return Ok(());
        };
        for (w, result) in self.fire_now.drain(..) {
            let Some(slot) = list.iter_mut().find(|s| s.window == w) else { continue };
            if result.is_fire() {
                if let Some(acc) = &slot.contents {
                    emit_window(&mut self.agg, key, w, watermark, acc, &mut self.buf, &mut self.buf_ts)?;
                }
            }
            if result.is_purge() {
                slot.contents = None;
            }
        }
        Ok(())
    }

    /// A timer of `domain` at `t` for `key`: asks the trigger of each of the
    /// key's windows, fires/purges as it says, and drops the windows whose
    /// cleanup time it is (in the windows' own domain).
    fn on_timer(
        &mut self,
        domain: TimeDomain,
        t: i64,
        key: &K,
        kg: usize,
        now: i64,
        draining: bool,
    ) -> Result<(), TaskError> {
        let watermark = self.state.timers.watermark;
        let cleans = domain == self.domain();
        let (event_time, lateness) = (self.assigner.is_event_time(), self.lateness);
        let Some(table) = self.state.group_mut::<Slots<W, T, K, Tr>>(self.table, kg) else { return Ok(()) };
        let Some(list) = table.get_mut(key) else { return Ok(()) };
        let mut i = 0;
        while i < list.len() {
            let slot = &mut list[i];
            let mut ctx = TriggerContext {
                state: &mut slot.trigger,
                watermark,
                processing_time: now,
                timers: &mut self.timers,
                draining,
            };
            let result = match domain {
                TimeDomain::EventTime => self.trigger.on_event_time(t, &slot.window, &mut ctx),
                TimeDomain::ProcessingTime => self.trigger.on_processing_time(t, &slot.window, &mut ctx),
            };
            if result.is_fire() {
                if let Some(acc) = &slot.contents {
                    emit_window(&mut self.agg, key, slot.window, watermark, acc, &mut self.buf, &mut self.buf_ts)?;
                }
            }
            if result.is_purge() {
                slot.contents = None;
            }
            let cleanup = if event_time {
                slot.window.max_timestamp().saturating_add(lateness)
            } else {
                slot.window.max_timestamp()
            };
            if cleans && cleanup <= t {
                self.trigger.clear(&slot.window, &mut ctx);
                list.remove(i);
            } else {
                i += 1;
            }
        }
        if list.is_empty() {
            table.remove(key);
        }
        self.apply_timers(key, kg);
        Ok(())
    }

    /// Fires the timers of `domain` due at `upto`.
    /// `now` is the wall clock (ms) the triggers see.
    fn fire(&mut self, domain: TimeDomain, upto: i64, now: i64) -> Result<(), TaskError> {
        // At the end of input (or of event time) the pending timers fire
        // once; triggers cannot register more (a continuous trigger would
        // re-register forever).
        let draining = upto == MAX_WATERMARK;
        while let Some((t, key, kg)) = self.state.timers.pop_due(domain, upto) {
            self.on_timer(domain, t, &key, kg, now, draining)?;
        }
        self.flush_results()
    }

    fn flush_results(&mut self) -> Result<(), TaskError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.next.push_timestamped(&mut self.buf, &mut self.buf_ts)
    }

    fn process_batch(&mut self, batch: &mut Vec<T>, timestamps: Option<&mut Vec<i64>>) -> Result<(), TaskError> {
        let now = now_ms();
        match timestamps {
            Some(ts) => {
                for (rec, t) in batch.drain(..).zip(ts.drain(..)) {
                    self.process_record(rec, t, now)?;
                }
            }
            None => {
                for rec in batch.drain(..) {
                    self.process_record(rec, NO_TIMESTAMP, now)?;
                }
            }
        }
        if self.late_dropped > self.late_reported {
            self.metrics.late_records_dropped.fetch_add(self.late_dropped - self.late_reported, Ordering::Relaxed);
            self.late_reported = self.late_dropped;
        }
        self.flush_results()?;
        self.side.flush()?;
        // Processing-time windows, and triggers of any window with processing-time timers.
        self.fire(TimeDomain::ProcessingTime, now, now)?;
        Ok(())
    }
}

impl<T, K, KF, A, W, Tr> Output<T> for WindowOp<T, K, KF, A, W, Tr>
where
    T: Record,
    K: Hash + Eq + Record,
    KF: Fn(&T) -> K,
    A: WindowAssigner,
    W: WindowAgg<T, K>,
    Tr: Trigger<T>,
{
    fn push_batch(&mut self, batch: &mut Vec<T>) -> Result<(), TaskError> {
        self.process_batch(batch, None)
    }

    fn push_timestamped(&mut self, batch: &mut Vec<T>, timestamps: &mut Vec<i64>) -> Result<(), TaskError> {
        self.process_batch(batch, Some(timestamps))
    }

    fn push_event(&mut self, event: &Event) -> Result<(), TaskError> {
        match event {
            Event::Watermark(w) => {
                self.state.timers.watermark = *w;
                self.fire(TimeDomain::EventTime, *w, now_ms())?;
            }
            Event::Flush => {
                let now = now_ms();
                self.fire(TimeDomain::ProcessingTime, now, now)?
            }
            Event::Barrier(b) => {
                if let Some(cp) = &self.checkpointing {
                    self.state.snapshot_into(cp, &self.uid, b.id);
                }
            }
            Event::EndOfInput | Event::EndOfData => {
                // Bounded input ended: processing-time windows fire now
                // rather than never; at `EndOfData` when a final checkpoint
                // follows (so they are part of it), else at `EndOfInput`.
                self.fire(TimeDomain::ProcessingTime, i64::MAX, now_ms())?;
                if self.late_dropped > 0 {
                    tracing::info!(operator = %self.name, records = self.late_dropped, "late records dropped by windows");
                }
            }
            _ => {}
        }
        self.side.event(event)?;
        self.next.push_event(event)
    }
}

/// Builds a window operator.
pub(crate) struct WindowBuilder<T, K, KF, A, W, Tr> {
    pub(crate) key_fn: Arc<KF>,
    pub(crate) assigner: A,
    pub(crate) agg: W,
    pub(crate) trigger: Tr,
    pub(crate) lateness_ms: i64,
    pub(crate) late_tag: Option<OutputTag<T>>,
    pub(crate) _t: PhantomData<fn(T) -> K>,
}

impl<T, K, KF, A, W, Tr> OperatorBuilder for WindowBuilder<T, K, KF, A, W, Tr>
where
    T: Record,
    K: Hash + Eq + Record,
    KF: Fn(&T) -> K + Send + Sync + 'static,
    A: WindowAssigner,
    W: WindowAgg<T, K>,
    Tr: Trigger<T>,
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
        if self.assigner.is_merging() && !self.trigger.can_merge() {
            return Err(TaskError::User(format!(
                "{}: the window's trigger cannot merge windows (Trigger::can_merge is false), but its assigner \
                 merges (session windows)",
                ctx.task_name
            )));
        }
        let next = unerase::<W::Out>(next, &ctx.operator_name)?;
        let mut state =
            KeyedStateStore::new(KeyGroupRange::of_subtask(ctx.max_parallelism, ctx.parallelism, ctx.subtask_index));
        let table = state.register::<Slots<W, T, K, Tr>>(WINDOW_CONTENTS);
        if let Some(cp) = &ctx.checkpointing {
            for (kg, bytes, file) in cp.restored_keyed(&ctx.uid, state.key_groups())? {
                state.restore_group(kg, &bytes, &file)?;
            }
        }
        Ok(erase::<T>(Box::new(WindowOp {
            key_fn: self.key_fn.clone(),
            assigner: self.assigner.clone(),
            agg: self.agg.clone(),
            trigger: self.trigger.clone(),
            lateness: self.lateness_ms,
            state,
            table,
            assigned: Vec::new(),
            timers: Vec::new(),
            fire_now: Vec::new(),
            merge_states: Vec::new(),
            buf: Vec::new(),
            buf_ts: Vec::new(),
            late_dropped: 0,
            late_reported: 0,
            metrics: ctx.metrics.clone(),
            late_tag: self.late_tag.clone(),
            side,
            next,
            name: ctx.task_name.clone(),
            uid: ctx.uid.clone(),
            checkpointing: ctx.checkpointing.clone(),
            _t: PhantomData,
        })))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::checkpoint::test_support::TestCheckpoints;
    use crate::checkpoint::RestoreSource;
    use crate::context::RuntimeMode;
    use crate::event::{CheckpointBarrier, MAX_WATERMARK};
    use crate::windowing::{AggregateAgg, AggregateFunction, PassResult, TumblingEventTimeWindows};

    /// Sums the second field.
    #[derive(Clone)]
    struct Sum;
    impl AggregateFunction<(u32, i64)> for Sum {
        type Acc = i64;
        type Out = i64;
        fn create_accumulator(&self) -> i64 {
            0
        }
        fn add(&self, v: (u32, i64), acc: &mut i64) {
            *acc += v.1;
        }
        fn get_result(&self, acc: &i64) -> i64 {
            *acc
        }
        fn merge(&self, acc: &mut i64, other: i64) {
            *acc += other;
        }
    }

    /// Collects window results with their timestamps (every result has one).
    pub(crate) struct Sink<T>(pub(crate) Arc<Mutex<Vec<(T, i64)>>>);
    impl<T: Record> Output<T> for Sink<T> {
        fn push_batch(&mut self, _batch: &mut Vec<T>) -> Result<(), TaskError> {
            panic!("window results carry timestamps");
        }
        fn push_timestamped(&mut self, batch: &mut Vec<T>, ts: &mut Vec<i64>) -> Result<(), TaskError> {
            self.0.lock().unwrap().extend(batch.drain(..).zip(ts.drain(..)));
            Ok(())
        }
        fn push_event(&mut self, _event: &Event) -> Result<(), TaskError> {
            Ok(())
        }
    }

    fn operator(
        p: u32,
        sub: u32,
        cp: Arc<TaskCheckpointing>,
        out: Arc<Mutex<Vec<(i64, i64)>>>,
    ) -> Box<dyn Output<(u32, i64)>> {
        let ctx = OperatorContext {
            operator_name: "Window".into(),
            uid: "window-1".into(),
            task_name: format!("Window ({}/{p})", sub + 1),
            subtask_index: sub,
            parallelism: p,
            max_parallelism: 128,
            attempt: 0,
            runtime_mode: RuntimeMode::Streaming,
            checkpointing: Some(cp),
            metrics: Default::default(),
            state_backend: Default::default(),
        };
        let b = WindowBuilder {
            key_fn: Arc::new(|r: &(u32, i64)| r.0),
            assigner: TumblingEventTimeWindows::of(Duration::from_secs(1)),
            agg: AggregateAgg(Sum, PassResult(std::marker::PhantomData)),
            trigger: crate::windowing::DefaultTrigger::EventTime(crate::windowing::EventTimeTrigger),
            lateness_ms: 0,
            late_tag: None,
            _t: PhantomData,
        };
        unerase::<(u32, i64)>(b.build(&ctx, erase::<i64>(Box::new(Sink(out)))).unwrap(), "t").unwrap()
    }

    /// Open windows (their accumulators and end-of-window timers) taken in
    /// a checkpoint at parallelism 1 fire after a restore at parallelism 2,
    /// each once, with the sums of the records before the checkpoint plus
    /// those after it.
    #[test]
    fn open_windows_survive_a_restore_at_another_parallelism() {
        let checkpoints = TestCheckpoints::new();
        let hub = |sub: u32, restore: Option<RestoreSource>| checkpoints.task(sub, restore);
        // 20 keys, each with value 1 at every 100 ms of [0, 3000): window
        // [0, 1000) fires before the checkpoint; [1000, 2000) and [2000, 3000) stay open.
        let all: Vec<(u32, i64)> = (0..600).map(|i| ((i % 20) as u32, (i / 20) * 100)).collect();
        let (before_cp, after_cp) = all.split_at(300);
        let cp = hub(0, None);
        let fired_before = Arc::new(Mutex::new(Vec::new()));
        let mut op = operator(1, 0, cp.clone(), fired_before.clone());
        let (mut batch, mut ts): (Vec<_>, Vec<_>) = before_cp.iter().map(|r| (*r, r.1)).unzip();
        op.push_timestamped(&mut batch, &mut ts).unwrap();
        op.push_event(&Event::Watermark(1000)).unwrap();
        assert_eq!(fired_before.lock().unwrap().len(), 20, "window [0, 1000) of each key");
        let barrier = CheckpointBarrier { id: 1, timestamp_ms: 0, savepoint: false };
        op.push_event(&Event::Barrier(barrier)).unwrap();
        cp.barrier_passed(&barrier);
        let restore = checkpoints.restore_point(&cp, "window-1");
        let mut fired = Vec::new();
        for sub in 0..2 {
            let out = Arc::new(Mutex::new(Vec::new()));
            let mut op = operator(2, sub, hub(sub, Some(restore.clone())), out.clone());
            let range = KeyGroupRange::of_subtask(128, 2, sub);
            let mine = |k: &u32| range.contains(crate::keygroup::key_group_for_hash(crate::keygroup::key_hash(k), 128));
            let (mut batch, mut ts): (Vec<_>, Vec<_>) =
                after_cp.iter().filter(|r| mine(&r.0)).map(|r| (*r, r.1)).unzip();
            op.push_timestamped(&mut batch, &mut ts).unwrap();
            op.push_event(&Event::Watermark(MAX_WATERMARK)).unwrap();
            fired.extend(out.lock().unwrap().iter().copied());
        }
        // Window [1000, 2000) got half its records before the checkpoint.
        let mut per_window: BTreeMap<i64, (usize, i64)> = BTreeMap::new();
        for (sum, end) in &fired {
            let e = per_window.entry(*end).or_default();
            e.0 += 1;
            e.1 += sum;
        }
        let expect = |lo: i64, hi: i64| all.iter().filter(|r| r.1 >= lo && r.1 < hi).map(|r| r.1).sum::<i64>();
        assert_eq!(per_window.keys().copied().collect::<Vec<_>>(), vec![1999, 2999], "{per_window:?}");
        for (end, (n, sum)) in per_window {
            assert_eq!(n, 20, "window ending {end}: one result per key");
            assert_eq!(sum, expect(end + 1 - 1000, end + 1), "window ending {end}");
        }
    }
}
