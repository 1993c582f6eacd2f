//! Unit tests of the broadcast process operators (pure logic, no network).

use std::sync::Mutex;

use super::*;
use crate::api::{
    BroadcastContext, BroadcastProcessFunction, KeyedBroadcastProcessFunction, KeyedReadOnlyContext,
    MapStateDescriptor, ReadOnlyBroadcastContext, ValueState,
};
use crate::checkpoint::test_support::TestCheckpoints;
use crate::context::RuntimeMode;
use crate::event::{CheckpointBarrier, MAX_WATERMARK};
use crate::keygroup::{key_group_for_hash, key_hash};

const RULES: MapStateDescriptor<String, u64> = MapStateDescriptor::new("rules");

/// Broadcast `(rule, threshold)`; keyed `(key, value)`: counts each key's
/// records and emits `(key, rule, count)` for every rule whose threshold
/// the value passes; a timer 10 ms after each record emits `(key, "rules", n)`
/// with the number of rules known then.
#[derive(Clone, Default)]
struct Alerts {
    count: Option<ValueState<u64>>,
}

type Out = (u32, String, u64);

impl KeyedBroadcastProcessFunction for Alerts {
    type Key = u32;
    type In1 = (u32, u64);
    type In2 = (String, u64);
    type Out = Out;
    fn open(&mut self, state: &mut KeyedStateStore<u32>) {
        self.count = Some(state.value_state("count"));
    }
    fn process_element(
        &mut self,
        (key, value): (u32, u64),
        ctx: &mut KeyedReadOnlyContext<'_, u32>,
        out: &mut Collector<'_, Out>,
    ) -> Result<(), TaskError> {
        let rules = ctx.broadcast_state(&RULES)?;
        let count = self.count.as_ref().expect("opened");
        let n = count.value(ctx.keyed()).unwrap_or(0) + 1;
        count.update(ctx.keyed(), n);
        for (rule, threshold) in rules.entries() {
            if value > *threshold {
                out.collect((key, rule.clone(), n));
            }
        }
        if let Some(t) = ctx.timestamp() {
            ctx.timer_service().register_event_time_timer(t + 10);
        }
        Ok(())
    }
    fn process_broadcast_element(
        &mut self,
        (rule, threshold): (String, u64),
        ctx: &mut BroadcastContext<'_>,
        _out: &mut Collector<'_, Out>,
    ) -> Result<(), TaskError> {
        ctx.broadcast_state(&RULES)?.put(rule, threshold);
        Ok(())
    }
    fn on_timer(
        &mut self,
        _ts: i64,
        ctx: &mut KeyedReadOnlyContext<'_, u32>,
        out: &mut Collector<'_, Out>,
    ) -> Result<(), TaskError> {
        let n = ctx.broadcast_state(&RULES)?.len() as u64;
        out.collect((*ctx.current_key(), "rules".into(), n));
        Ok(())
    }
}

struct Sink<T>(Arc<Mutex<Vec<T>>>);
impl<T> Output<T> for Sink<T> {
    fn push_batch(&mut self, batch: &mut Vec<T>) -> Result<(), TaskError> {
        self.0.lock().unwrap().append(batch);
        Ok(())
    }
    fn push_event(&mut self, _event: &Event) -> Result<(), TaskError> {
        Ok(())
    }
}

fn context(parallelism: u32, subtask: u32, cp: Arc<TaskCheckpointing>) -> OperatorContext {
    OperatorContext {
        operator_name: "Co-Process-Broadcast-Keyed".into(),
        uid: "alerts-1".into(),
        task_name: format!("Co-Process-Broadcast-Keyed ({}/{parallelism})", subtask + 1),
        subtask_index: subtask,
        parallelism,
        max_parallelism: 128,
        attempt: 0,
        runtime_mode: RuntimeMode::Streaming,
        checkpointing: Some(cp),
        metrics: Default::default(),
        state_backend: Default::default(),
    }
}

type In = Tagged<(u32, u64), (String, u64)>;

fn keyed_op(
    parallelism: u32,
    subtask: u32,
    cp: Arc<TaskCheckpointing>,
    out: Arc<Mutex<Vec<Out>>>,
) -> Box<dyn Output<In>> {
    let b = KeyedBroadcastProcessBuilder {
        function: Alerts::default(),
        key_fn: Arc::new(|r: &(u32, u64)| r.0),
        states: vec![crate::api::broadcast_state_declare(&RULES)],
    };
    let op = b.build(&context(parallelism, subtask, cp), erase::<Out>(Box::new(Sink(out)))).unwrap();
    unerase::<In>(op, "test").unwrap()
}

fn owner(key: u32, parallelism: u32) -> u32 {
    let kg = key_group_for_hash(key_hash(&key), 128);
    crate::keygroup::operator_index_for_key_group(128, parallelism, kg)
}

fn sorted(mut v: Vec<Out>) -> Vec<Out> {
    v.sort();
    v
}

/// Rules broadcast to both subtasks at parallelism 2 apply to the keys of
/// each; after a checkpoint restored at parallelism 3 every new subtask
/// has every rule (one old copy each), and the keyed counts and pending
/// timers come back on the subtask owning their key.
#[test]
fn rules_reach_every_subtask_and_survive_a_restore_at_another_parallelism() {
    let checkpoints = TestCheckpoints::new();
    let keys: Vec<u32> = (0..40).collect();
    let outs: Vec<Arc<Mutex<Vec<Out>>>> = (0..2).map(|_| Arc::default()).collect();
    let cps: Vec<_> = (0..2).map(|s| checkpoints.task(s, None)).collect();
    let mut ops: Vec<_> = (0..2).map(|s| keyed_op(2, s, cps[s as usize].clone(), outs[s as usize].clone())).collect();
    for op in ops.iter_mut() {
        let mut rules = vec![Tagged::Second(("high".to_string(), 50)), Tagged::Second(("low".to_string(), 5))];
        op.push_batch(&mut rules).unwrap();
    }
    for &k in &keys {
        let mut batch = vec![Tagged::First((k, 10)), Tagged::First((k, 60))];
        let mut ts = vec![1_000, 1_001];
        ops[owner(k, 2) as usize].push_timestamped(&mut batch, &mut ts).unwrap();
    }
    let mut expected: Vec<Out> = Vec::new();
    for &k in &keys {
        expected.extend([(k, "low".into(), 1), (k, "high".into(), 2), (k, "low".into(), 2)]);
    }
    let before: Vec<Out> = outs.iter().flat_map(|o| o.lock().unwrap().clone()).collect();
    assert_eq!(sorted(before), sorted(expected));
    assert!(outs.iter().all(|o| !o.lock().unwrap().is_empty()), "both subtasks had keys");

    let barrier = CheckpointBarrier { id: 1, timestamp_ms: 0, savepoint: false };
    for (op, cp) in ops.iter_mut().zip(&cps) {
        op.push_event(&Event::Barrier(barrier)).unwrap();
        cp.barrier_passed(&barrier);
    }
    let restore = checkpoints.restore_point_of(&cps[0], "alerts-1", 2);

    let mut after: Vec<Out> = Vec::new();
    for sub in 0..3 {
        let out = Arc::new(Mutex::new(Vec::new()));
        let mut op = keyed_op(3, sub, checkpoints.task(sub, Some(restore.clone())), out.clone());
        let mine: Vec<u32> = keys.iter().copied().filter(|&k| owner(k, 3) == sub).collect();
        assert!(!mine.is_empty());
        let mut batch: Vec<In> = mine.iter().map(|&k| Tagged::First((k, 70))).collect();
        op.push_batch(&mut batch).unwrap();
        op.push_event(&Event::Watermark(MAX_WATERMARK)).unwrap();
        let got = out.lock().unwrap().clone();
        for &k in &mine {
            // Both rules (restored broadcast state), the third record of the key (restored count).
            assert!(got.contains(&(k, "high".into(), 3)) && got.contains(&(k, "low".into(), 3)), "{k}: {got:?}");
            // The two timers of the first run (1010, 1011) fire here, with both rules; the new
            // records registered none (no timestamp).
            let fired: Vec<&Out> = got.iter().filter(|o| o.0 == k && o.1 == "rules").collect();
            assert_eq!(fired, [&(k, "rules".to_string(), 2), &(k, "rules".to_string(), 2)], "{k}");
        }
        after.extend(got);
    }
    assert_eq!(after.len(), keys.len() * 4);
}

const BLOCKED: MapStateDescriptor<String, ()> = MapStateDescriptor::new("blocked");

/// Drops blocked words; acknowledges each broadcast word with `+word`.
#[derive(Clone)]
struct Block;
impl BroadcastProcessFunction for Block {
    type In1 = String;
    type In2 = String;
    type Out = String;
    fn process_element(
        &mut self,
        w: String,
        ctx: &ReadOnlyBroadcastContext<'_>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), TaskError> {
        if !ctx.broadcast_state(&BLOCKED)?.contains(&w) {
            out.collect(w);
        }
        Ok(())
    }
    fn process_broadcast_element(
        &mut self,
        w: String,
        ctx: &mut BroadcastContext<'_>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), TaskError> {
        out.collect(format!("+{w}"));
        ctx.broadcast_state(&BLOCKED)?.put(w, ());
        Ok(())
    }
}

type WordIn = Tagged<String, String>;

fn block_op(
    parallelism: u32,
    subtask: u32,
    cp: Arc<TaskCheckpointing>,
    out: Arc<Mutex<Vec<String>>>,
) -> Box<dyn Output<WordIn>> {
    let b = BroadcastProcessBuilder { function: Block, states: vec![crate::api::broadcast_state_declare(&BLOCKED)] };
    let mut ctx = context(parallelism, subtask, cp);
    ctx.uid = "block-1".into();
    let op = b.build(&ctx, erase::<String>(Box::new(Sink(out)))).unwrap();
    unerase::<WordIn>(op, "test").unwrap()
}

/// The non-keyed operator: broadcast words block the other input's words;
/// its state restored at parallelism 3 from one subtask's snapshot blocks
/// them on every new subtask.
#[test]
fn non_keyed_broadcast_state_restores_on_every_new_subtask() {
    let checkpoints = TestCheckpoints::new();
    let cp = checkpoints.task(0, None);
    let out = Arc::new(Mutex::new(Vec::new()));
    let mut op = block_op(1, 0, cp.clone(), out.clone());
    let mut b: Vec<WordIn> =
        vec![Tagged::First("spam".into()), Tagged::Second("spam".into()), Tagged::First("spam".into())];
    op.push_batch(&mut b).unwrap();
    assert_eq!(*out.lock().unwrap(), vec!["spam".to_string(), "+spam".into()]);
    let barrier = CheckpointBarrier { id: 1, timestamp_ms: 0, savepoint: false };
    op.push_event(&Event::Barrier(barrier)).unwrap();
    cp.barrier_passed(&barrier);
    let restore = checkpoints.restore_point(&cp, "block-1");
    for sub in 0..3 {
        let out = Arc::new(Mutex::new(Vec::new()));
        let mut op = block_op(3, sub, checkpoints.task(sub, Some(restore.clone())), out.clone());
        let mut b: Vec<WordIn> = vec![Tagged::First("spam".into()), Tagged::First("ham".into())];
        op.push_batch(&mut b).unwrap();
        assert_eq!(*out.lock().unwrap(), vec!["ham".to_string()], "subtask {sub}");
    }
}

/// Reading a state the broadcast stream did not declare fails the task with
/// a message naming the state (no panic, no empty default).
#[test]
fn an_undeclared_state_fails_the_task_naming_it() {
    const UNDECLARED: MapStateDescriptor<String, ()> = MapStateDescriptor::new("undeclared");
    #[derive(Clone)]
    struct Reads;
    impl BroadcastProcessFunction for Reads {
        type In1 = String;
        type In2 = String;
        type Out = String;
        fn process_element(
            &mut self,
            _w: String,
            ctx: &ReadOnlyBroadcastContext<'_>,
            _o: &mut Collector<'_, String>,
        ) -> Result<(), TaskError> {
            ctx.broadcast_state(&UNDECLARED)?;
            Ok(())
        }
        fn process_broadcast_element(
            &mut self,
            _w: String,
            _c: &mut BroadcastContext<'_>,
            _o: &mut Collector<'_, String>,
        ) -> Result<(), TaskError> {
            Ok(())
        }
    }
    let checkpoints = TestCheckpoints::new();
    let b = BroadcastProcessBuilder { function: Reads, states: vec![crate::api::broadcast_state_declare(&BLOCKED)] };
    let sink: Box<dyn Output<String>> = Box::new(Sink(Arc::default()));
    let op = b.build(&context(1, 0, checkpoints.task(0, None)), erase::<String>(sink)).unwrap();
    let mut op = unerase::<WordIn>(op, "test").unwrap();
    let e = op.push_batch(&mut vec![Tagged::First("x".into())]).unwrap_err().to_string();
    assert!(e.contains("'undeclared' is not declared"), "{e}");
}
