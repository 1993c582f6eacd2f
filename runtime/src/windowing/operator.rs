//! The window operator (Flink's `WindowOperator` with the default triggers):
//! per key, the open windows and their accumulators, kept as keyed state
//! (`KeyGroupedMap` tables, so checkpointed and rescalable like all keyed
//! state), and one timer per window end on the keyed timer service.
//!
//! An event-time window fires when the watermark reaches its
//! `max_timestamp` and is dropped at `max_timestamp + allowed lateness`;
//! until then each late record fires it again with the updated result. A
//! record whose windows are all past that is late: it goes to the late-data
//! side output if there is one, else it is dropped (counted in the log). Session windows merge on arrival; the timers of merged-away
//! windows find no window and do nothing.

use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use super::{ProcessWindowContext, TimeWindow, WindowAgg, WindowAssigner};
use crate::api::{Collector, KeyedStateStore, OutputTag, SideOutputs};
use crate::checkpoint::{KeyGroupRange, TaskCheckpointing};
use crate::context::OperatorContext;
use crate::error::TaskError;
use crate::event::{Event, NO_TIMESTAMP};
use crate::graph::OperatorBuilder;
use crate::record::Record;
use crate::task::output::{erase, unerase, AnyOutput};
use crate::task::Output;
use crate::time::timers::now_ms;
use crate::time::TimeDomain;

/// Name of the window table in keyed-state snapshots.
const WINDOW_CONTENTS: &str = "window-contents";

struct WindowOp<T, K, KF, A, W: WindowAgg<T, K>> {
    key_fn: Arc<KF>,
    assigner: A,
    agg: W,
    /// Allowed lateness, ms.
    lateness: i64,
    state: KeyedStateStore<K>,
    table: usize,
    assigned: Vec<TimeWindow>,
    timers: Vec<i64>,
    fire_now: Vec<TimeWindow>,
    buf: Vec<W::Out>,
    buf_ts: Vec<i64>,
    late_dropped: u64,
    late_tag: Option<OutputTag<T>>,
    side: SideOutputs,
    next: Box<dyn Output<W::Out>>,
    name: String,
    uid: String,
    checkpointing: Option<Arc<TaskCheckpointing>>,
    _t: PhantomData<fn(T)>,
}

impl<T, K, KF, A, W> WindowOp<T, K, KF, A, W>
where
    T: Record,
    K: Hash + Eq + Record,
    KF: Fn(&T) -> K,
    A: WindowAssigner,
    W: WindowAgg<T, K>,
{
    fn domain(&self) -> TimeDomain {
        if self.assigner.is_event_time() {
            TimeDomain::EventTime
        } else {
            TimeDomain::ProcessingTime
        }
    }

    fn is_late(&self, w: &TimeWindow) -> bool {
        self.assigner.is_event_time() && w.max_timestamp().saturating_add(self.lateness) <= self.state.timers.watermark
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
        let (watermark, event_time, lateness) =
            (self.state.timers.watermark, self.assigner.is_event_time(), self.lateness);
        let merging = self.assigner.is_merging();
        let table = self
            .state
            .group_mut::<Vec<(TimeWindow, W::Acc)>>(self.table, kg)
            .ok_or_else(|| TaskError::Mismatch(format!("{}: window table missing", self.name)))?;
        let list = match table.get_mut(&key) {
            Some(l) => l,
            None => table.entry(key.clone()).or_default(),
        };
        let agg = &self.agg;
        let mut rec = Some(rec);
        let last = assigned.len() - 1;
        for (i, w) in assigned.iter().enumerate() {
            let value = if i == last { rec.take().expect("moved once") } else { rec.clone().expect("present") };
            let window = if merging {
                let mut merged = *w;
                let mut acc: Option<W::Acc> = None;
                while let Some(j) = list.iter().position(|(x, _)| x.intersects(&merged)) {
                    let (x, a) = list.swap_remove(j);
                    merged = merged.cover(&x);
                    match &mut acc {
                        Some(m) => agg.merge(m, a),
                        None => acc = Some(a),
                    }
                }
                let mut acc = acc.unwrap_or_else(|| agg.create());
                agg.add(&mut acc, value);
                list.push((merged, acc));
                merged
            } else {
                match list.iter_mut().find(|(x, _)| x == w) {
                    Some((_, acc)) => agg.add(acc, value),
                    None => {
                        let mut acc = agg.create();
                        agg.add(&mut acc, value);
                        list.push((*w, acc));
                    }
                }
                *w
            };
            let end = window.max_timestamp();
            if event_time && end <= watermark {
                self.fire_now.push(window); // late, within the allowed lateness
            } else {
                self.timers.push(end);
            }
            if event_time && lateness > 0 {
                self.timers.push(end.saturating_add(lateness));
            }
        }
        self.assigned = assigned;
        let domain = self.domain();
        for t in self.timers.drain(..) {
            self.state.timers.register(domain, &key, kg, t);
        }
        let mut fire_now = std::mem::take(&mut self.fire_now);
        for w in fire_now.drain(..) {
            self.emit(&key, kg, |x| *x == w)?;
        }
        self.fire_now = fire_now;
        Ok(())
    }

    /// Emits the result of every window of `key` that `which` selects.
    fn emit(&mut self, key: &K, kg: usize, which: impl Fn(&TimeWindow) -> bool) -> Result<(), TaskError> {
        let watermark = self.state.timers.watermark;
        let Some(list) = self.state.group::<Vec<(TimeWindow, W::Acc)>>(self.table, kg).and_then(|t| t.get(key)) else {
            return Ok(());
        };
        for (w, acc) in list.iter().filter(|(w, _)| which(w)) {
            let ctx = ProcessWindowContext { window: *w, watermark };
            self.agg.emit(key, &ctx, acc, &mut Collector::new(&mut self.buf))?;
            self.buf_ts.resize(self.buf.len(), w.max_timestamp());
        }
        Ok(())
    }

    /// Fires the timers of `domain` due at `upto`: emits the windows ending
    /// at the timer, drops the windows whose cleanup time it is.
    fn fire(&mut self, domain: TimeDomain, upto: i64) -> Result<(), TaskError> {
        while let Some((t, key, kg)) = self.state.timers.pop_due(domain, upto) {
            self.emit(&key, kg, |w| w.max_timestamp() == t)?;
            let lateness = if domain == TimeDomain::EventTime { self.lateness } else { 0 };
            if let Some(table) = self.state.group_mut::<Vec<(TimeWindow, W::Acc)>>(self.table, kg) {
                if let Some(list) = table.get_mut(&key) {
                    list.retain(|(w, _)| w.max_timestamp().saturating_add(lateness) > t);
                    if list.is_empty() {
                        table.remove(&key);
                    }
                }
            }
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
        self.flush_results()?;
        self.side.flush()?;
        if !self.assigner.is_event_time() {
            self.fire(TimeDomain::ProcessingTime, now)?;
        }
        Ok(())
    }
}

impl<T, K, KF, A, W> Output<T> for WindowOp<T, K, KF, A, W>
where
    T: Record,
    K: Hash + Eq + Record,
    KF: Fn(&T) -> K,
    A: WindowAssigner,
    W: WindowAgg<T, K>,
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
                self.fire(TimeDomain::EventTime, *w)?;
            }
            Event::Flush => self.fire(TimeDomain::ProcessingTime, now_ms())?,
            Event::Barrier(b) => {
                if let Some(cp) = &self.checkpointing {
                    self.state.snapshot_into(cp, &self.uid, b.id);
                }
            }
            Event::EndOfInput | Event::EndOfData => {
                // Bounded input ended: processing-time windows fire now
                // rather than never; at `EndOfData` when a final checkpoint
                // follows (so they are part of it), else at `EndOfInput`.
                self.fire(TimeDomain::ProcessingTime, i64::MAX)?;
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
pub(crate) struct WindowBuilder<T, K, KF, A, W> {
    pub(crate) key_fn: Arc<KF>,
    pub(crate) assigner: A,
    pub(crate) agg: W,
    pub(crate) lateness_ms: i64,
    pub(crate) late_tag: Option<OutputTag<T>>,
    pub(crate) _t: PhantomData<fn(T) -> K>,
}

impl<T, K, KF, A, W> OperatorBuilder for WindowBuilder<T, K, KF, A, W>
where
    T: Record,
    K: Hash + Eq + Record,
    KF: Fn(&T) -> K + Send + Sync + 'static,
    A: WindowAssigner,
    W: WindowAgg<T, K>,
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
        let next = unerase::<W::Out>(next, &ctx.operator_name)?;
        let mut state =
            KeyedStateStore::new(KeyGroupRange::of_subtask(ctx.max_parallelism, ctx.parallelism, ctx.subtask_index));
        let table = state.register::<Vec<(TimeWindow, W::Acc)>>(WINDOW_CONTENTS);
        if let Some(cp) = &ctx.checkpointing {
            for (kg, bytes, file) in cp.restored_keyed(&ctx.uid, state.key_groups())? {
                state.restore_group(kg, &bytes, &file)?;
            }
        }
        Ok(erase::<T>(Box::new(WindowOp {
            key_fn: self.key_fn.clone(),
            assigner: self.assigner.clone(),
            agg: self.agg.clone(),
            lateness: self.lateness_ms,
            state,
            table,
            assigned: Vec::new(),
            timers: Vec::new(),
            fire_now: Vec::new(),
            buf: Vec::new(),
            buf_ts: Vec::new(),
            late_dropped: 0,
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
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::checkpoint::storage::open_storage;
    use crate::checkpoint::{CheckpointMetadata, CheckpointResponder, OperatorMeta, RestoreSource, StateHandle};
    use crate::context::RuntimeMode;
    use crate::event::{CheckpointBarrier, MAX_WATERMARK};
    use crate::windowing::{AggregateAgg, AggregateFunction, PassResult, TumblingEventTimeWindows};

    #[derive(Default)]
    struct Acks(Mutex<Vec<Vec<(String, StateHandle)>>>);
    impl CheckpointResponder for Acks {
        fn acknowledge(&self, _id: u64, handles: Vec<(String, StateHandle)>) {
            self.0.lock().unwrap().push(handles);
        }
        fn decline(&self, id: u64, reason: String) {
            panic!("checkpoint {id} declined: {reason}");
        }
    }

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

    struct Sink(Arc<Mutex<Vec<(i64, i64)>>>);
    impl Output<i64> for Sink {
        fn push_batch(&mut self, _batch: &mut Vec<i64>) -> Result<(), TaskError> {
            panic!("window results carry timestamps");
        }
        fn push_timestamped(&mut self, batch: &mut Vec<i64>, ts: &mut Vec<i64>) -> Result<(), TaskError> {
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
        };
        let b = WindowBuilder {
            key_fn: Arc::new(|r: &(u32, i64)| r.0),
            assigner: TumblingEventTimeWindows::of(Duration::from_secs(1)),
            agg: AggregateAgg(Sum, PassResult(std::marker::PhantomData)),
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
        let dir = tempfile::tempdir().unwrap();
        let job_dir = dir.path().join("job").display().to_string();
        let acks = Arc::new(Acks::default());
        let hub = |sub: u32, restore: Option<RestoreSource>| {
            Arc::new(TaskCheckpointing::new(
                job_dir.clone(),
                open_storage(&job_dir).unwrap(),
                sub,
                true,
                acks.clone(),
                restore,
                "t".into(),
            ))
        };
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
        let start = std::time::Instant::now();
        while acks.0.lock().unwrap().is_empty() {
            assert!(start.elapsed() < Duration::from_secs(10), "no acknowledgement");
            std::thread::sleep(Duration::from_millis(5));
        }
        let handles = acks.0.lock().unwrap().remove(0);
        let mut operators = BTreeMap::new();
        operators.insert(
            "window-1".to_string(),
            OperatorMeta { parallelism: 1, subtasks: handles.into_iter().map(|h| h.1).collect() },
        );
        let metadata = CheckpointMetadata {
            version: crate::checkpoint::metadata::METADATA_VERSION,
            job_id: "job".into(),
            checkpoint_id: 1,
            timestamp_ms: 0,
            savepoint: false,
            max_parallelism: 128,
            operators,
        };
        let mut fired = Vec::new();
        for sub in 0..2 {
            let out = Arc::new(Mutex::new(Vec::new()));
            let restore = RestoreSource { dir: cp.checkpoint_dir(1), metadata: metadata.clone() };
            let mut op = operator(2, sub, hub(sub, Some(restore)), out.clone());
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
