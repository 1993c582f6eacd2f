//! The broadcast state pattern end to end on the in-process thread
//! executor: the broadcast input reaches every subtask (ship strategy
//! BROADCAST), the keyed input is partitioned by key (HASH).

use std::sync::{Arc, Mutex};

use rfy_runtime::api::{
    BroadcastContext, BroadcastProcessFunction, KeyedBroadcastProcessFunction, KeyedReadOnlyContext,
    MapStateDescriptor, ReadOnlyBroadcastContext,
};
use rfy_runtime::exchange::ExchangeSettings;
use rfy_runtime::graph::Partitioning;
use rfy_runtime::sinks::CollectSink;
use rfy_runtime::task::run_job_in_threads;
use rfy_runtime::{Collector, ExecutionConfig, StreamExecutionEnvironment, TaskError};

const WORDS: MapStateDescriptor<String, ()> = MapStateDescriptor::new("words");

/// Emits `+word` per broadcast word on each subtask, and the other input's words unless broadcast.
#[derive(Clone)]
struct Ack;
impl BroadcastProcessFunction for Ack {
    type In1 = String;
    type In2 = String;
    type Out = String;
    fn process_element(
        &mut self,
        w: String,
        ctx: &ReadOnlyBroadcastContext<'_>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), TaskError> {
        if !ctx.broadcast_state(&WORDS)?.contains(&w) {
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
        ctx.broadcast_state(&WORDS)?.put(w, ());
        Ok(())
    }
}

/// Keyed: emits `key:word` for each broadcast word known when the key's record arrives.
#[derive(Clone)]
struct KeyedAck;
impl KeyedBroadcastProcessFunction for KeyedAck {
    type Key = u32;
    type In1 = u32;
    type In2 = String;
    type Out = String;
    fn process_element(
        &mut self,
        k: u32,
        ctx: &mut KeyedReadOnlyContext<'_, u32>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), TaskError> {
        for (w, _) in ctx.broadcast_state(&WORDS)?.entries() {
            out.collect(format!("{k}:{w}"));
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
        ctx.broadcast_state(&WORDS)?.put(w, ());
        Ok(())
    }
}

fn env(p: u32) -> StreamExecutionEnvironment {
    StreamExecutionEnvironment::new(ExecutionConfig { parallelism: p, ..Default::default() })
}

fn run(env: StreamExecutionEnvironment) -> rfy_runtime::JobGraph {
    let stream = env.into_stream_graph("test", &[]);
    let job = stream.job_graph().unwrap();
    run_job_in_threads(Arc::new(stream), &job, ExchangeSettings { segment_size: 256, ..Default::default() }).unwrap();
    job
}

#[test]
fn every_subtask_gets_every_broadcast_element() {
    let out = Arc::new(Mutex::new(Vec::new()));
    let e = env(3);
    let words = e.from_collection(vec!["a".to_string(), "b".into()]).broadcast_with(&WORDS);
    e.from_collection(Vec::<String>::new())
        .rebalance()
        .connect(&words)
        .process(Ack)
        .sink_to(CollectSink::new(out.clone()));
    let job = run(e);
    assert!(job.edges.iter().any(|x| x.partitioning == Partitioning::Broadcast), "{:?}", job.edges);
    let mut got = out.lock().unwrap().clone();
    got.sort();
    assert_eq!(got, ["+a", "+a", "+a", "+b", "+b", "+b"]);
}

#[test]
fn keyed_side_is_hash_partitioned_and_broadcast_side_broadcast() {
    let out = Arc::new(Mutex::new(Vec::new()));
    let e = env(3);
    let words = e.from_collection(vec!["x".to_string()]).broadcast_with(&WORDS);
    e.from_collection((0..50u32).collect())
        .key_by(|k: &u32| *k)
        .connect(&words)
        .process(KeyedAck)
        .sink_to(CollectSink::new(out.clone()));
    let job = run(e);
    let op = job.vertices.iter().find(|v| v.name.contains("Co-Process-Broadcast-Keyed")).expect("operator vertex");
    assert_eq!(op.parallelism, 3);
    let mut parts: Vec<Partitioning> = job.edges.iter().filter(|x| x.target == op.id).map(|x| x.partitioning).collect();
    parts.sort_by_key(|p| format!("{p:?}"));
    assert_eq!(parts, [Partitioning::Broadcast, Partitioning::Hash]);
    let got = out.lock().unwrap().clone();
    assert_eq!(got.iter().filter(|s| *s == "+x").count(), 3, "{got:?}");
    // Each key sees "x" at most once (whether before or after its record is up to the runtime).
    for k in 0..50 {
        assert!(got.iter().filter(|s| **s == format!("{k}:x")).count() <= 1);
    }
}
