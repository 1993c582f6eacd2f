//! The DataStream API end to end on the in-process thread executor: each
//! operator, partitioning, per-operator parallelism, keyed state.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rfy_runtime::api::{KeyedStateStore, ValueState};
use rfy_runtime::exchange::ExchangeSettings;
use rfy_runtime::graph::Partitioning;
use rfy_runtime::sinks::CollectSink;
use rfy_runtime::task::run_job_in_threads;
use rfy_runtime::{
    Collector, ExecutionConfig, KeyedProcessFunction, RuntimeMode, StreamExecutionEnvironment, TaskError,
};

fn run(env: StreamExecutionEnvironment) -> rfy_runtime::JobGraph {
    let stream = env.into_stream_graph("test", &[]);
    let job = stream.job_graph().unwrap();
    run_job_in_threads(Arc::new(stream), &job, ExchangeSettings { segment_size: 256, ..Default::default() }).unwrap();
    job
}

fn env(p: u32) -> StreamExecutionEnvironment {
    StreamExecutionEnvironment::new(ExecutionConfig { parallelism: p, ..Default::default() })
}

#[test]
fn map_filter_flat_map_rebalance_and_parallelism() {
    let out = Arc::new(Mutex::new(Vec::new()));
    let e = env(3);
    e.from_collection((1..=1000u64).collect())
        .rebalance()
        .map(|x| x * 2)
        .filter(|x| x % 3 != 0)
        .flat_map(|x: u64, c: &mut Collector<'_, u64>| {
            c.collect(x);
            c.collect(x + 1)
        })
        .set_parallelism(2)
        .sink_to(CollectSink::new(out.clone()));
    let job = run(e);
    assert_eq!(job.vertices[0].parallelism, 1, "a collection source is not parallel");
    assert_eq!(job.edges[0].partitioning, Partitioning::Rebalance);
    let mut got = out.lock().unwrap().clone();
    got.sort_unstable();
    let mut want: Vec<u64> = (1..=1000u64).map(|x| x * 2).filter(|x| x % 3 != 0).flat_map(|x| [x, x + 1]).collect();
    want.sort_unstable();
    assert_eq!(got, want);
}

#[test]
fn broadcast_sends_every_record_to_every_subtask() {
    let out = Arc::new(Mutex::new(Vec::new()));
    let e = env(3);
    e.from_collection((0..100u32).collect()).broadcast().map(|x| x).sink_to(CollectSink::new(out.clone()));
    run(e);
    assert_eq!(out.lock().unwrap().len(), 300);
}

#[test]
fn keyed_sum_streaming_and_batch() {
    for (mode, want_len) in [(RuntimeMode::Streaming, 1000), (RuntimeMode::Batch, 7)] {
        let out = Arc::new(Mutex::new(Vec::new()));
        let e = env(4);
        e.set_runtime_mode(Some(mode));
        e.from_collection((0..1000u64).map(|i| (i % 7, i)).collect())
            .key_by(|t: &(u64, u64)| t.0)
            .sum(|t: &mut (u64, u64)| &mut t.1)
            .sink_to(CollectSink::new(out.clone()));
        run(e);
        let got = out.lock().unwrap().clone();
        assert_eq!(got.len(), want_len, "{mode:?}");
        let mut finals: BTreeMap<u64, u64> = BTreeMap::new();
        for (k, v) in got {
            let e = finals.entry(k).or_default();
            *e = (*e).max(v);
        }
        for k in 0..7 {
            assert_eq!(finals[&k], (0..1000).filter(|i| i % 7 == k).sum::<u64>(), "{mode:?} key {k}");
        }
    }
}

/// Numbers each record per key with a `ValueState` counter.
#[derive(Clone)]
struct Numbering {
    seen: Option<ValueState<u64>>,
}

impl KeyedProcessFunction for Numbering {
    type Key = String;
    type In = String;
    type Out = (String, u64);

    fn open(&mut self, state: &mut KeyedStateStore<String>) {
        self.seen = Some(state.value_state("seen"));
    }

    fn process_element(
        &mut self,
        value: String,
        ctx: &mut rfy_runtime::api::KeyedContext<'_, String>,
        out: &mut Collector<'_, (String, u64)>,
    ) -> Result<(), TaskError> {
        let seen = self.seen.as_ref().expect("opened");
        let n = seen.value(ctx).unwrap_or(0) + 1;
        seen.update(ctx, n);
        out.collect((value, n));
        Ok(())
    }
}

#[test]
fn process_with_value_state_counts_per_key() {
    let out = Arc::new(Mutex::new(Vec::new()));
    let e = env(2);
    let words: Vec<String> = (0..600).map(|i| format!("w{}", i % 5)).collect();
    e.from_collection(words)
        .key_by(|w: &String| w.clone())
        .process(Numbering { seen: None })
        .sink_to(CollectSink::new(out.clone()));
    run(e);
    let mut per_key: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (w, n) in out.lock().unwrap().iter() {
        per_key.entry(w.clone()).or_default().push(*n);
    }
    assert_eq!(per_key.len(), 5);
    for (w, ns) in per_key {
        assert!(ns.iter().copied().eq(1..=120), "{w}: {ns:?}");
    }
}

#[test]
fn invalid_dataflows_are_refused_with_the_operator_named() {
    let e = env(2);
    e.from_collection(vec![1u32]).map(|x| x).set_parallelism(3).forward().map(|x| x).set_parallelism(2).discard();
    let err = e.into_stream_graph("t", &[]).job_graph().unwrap_err().to_string();
    assert!(err.contains("forward"), "{err}");

    let e = env(1);
    e.from_collection(vec![1u32]).set_parallelism(2).discard();
    let err = e.into_stream_graph("t", &[]).job_graph().unwrap_err().to_string();
    assert!(err.contains("Collection") && err.contains("at most 1"), "{err}");

    let e =
        StreamExecutionEnvironment::new(ExecutionConfig { parallelism: 4, max_parallelism: 2, ..Default::default() });
    e.from_collection(vec![1u32]).key_by(|x: &u32| *x).reduce(|a, _| a).discard();
    let err = e.into_stream_graph("t", &[]).job_graph().unwrap_err().to_string();
    assert!(err.contains("max parallelism"), "{err}");
}

#[test]
fn socket_source_reads_lines_until_the_peer_closes() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        for i in 0..500 {
            writeln!(s, "line {i}").unwrap();
        }
        s.write_all(b"last without newline").unwrap();
    });
    let out = Arc::new(Mutex::new(Vec::new()));
    let e = env(2);
    // The sink at parallelism 1 chains to the source, so the order is kept.
    e.socket_text_stream("127.0.0.1", port).sink_to(CollectSink::new(out.clone())).set_parallelism(1);
    let job = run(e);
    server.join().unwrap();
    assert_eq!(job.vertices[0].parallelism, 1);
    let got = out.lock().unwrap().clone();
    assert_eq!(got.len(), 501);
    assert_eq!(got[0], "line 0");
    assert_eq!(got[500], "last without newline");
}
