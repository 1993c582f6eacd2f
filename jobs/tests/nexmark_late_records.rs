//! Nexmark on an out-of-order event file: each event written up to 2 s after
//! its time (`rfy nexmark-gen --max-delay 2s`, deterministic).
//!
//! With `--max-out-of-orderness 2002ms` no event is late and the results
//! equal Flink SQL's with the same watermark delay (`data/nexmark/expected-ooo/`,
//! from `scripts/nexmark-expected --out-of-order`). With a bound of 0 (the
//! watermark 1 ms behind the largest timestamp) events are late: windows drop
//! them, and every one is counted in `numLateRecordsDropped`: counted bids
//! plus dropped ones are all the bids.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rfy_jobs::nexmark::file_source::EventFileSource;
use rfy_jobs::nexmark::generator::GeneratorConfig;
use rfy_jobs::nexmark::model::{Bid, Event};
use rfy_jobs::nexmark::windows::Count;
use rfy_runtime::exchange::ExchangeSettings;
use rfy_runtime::sinks::CollectSink;
use rfy_runtime::task::run_job_in_threads_with_metrics;
use rfy_runtime::windowing::TumblingEventTimeWindows;
use rfy_runtime::{ExecutionConfig, StreamExecutionEnvironment};

/// As `scripts/nexmark-expected --out-of-order`.
const EVENTS: u64 = 50_000;
const SEED: u64 = 42;
const EVENT_RATE: u64 = 1000;
const MAX_DELAY: Duration = Duration::from_millis(2000);
const BOUND: &str = "2002ms";

fn expected_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/nexmark/expected-ooo")
}

fn out_of_order_file(dir: &Path) -> PathBuf {
    let file = dir.join("events-ooo.jsonl");
    let config = GeneratorConfig { seed: SEED, events: Some(EVENTS), event_rate: EVENT_RATE, ..Default::default() };
    rfy_jobs::nexmark::write_events_delayed(&config, EVENTS, MAX_DELAY, &file).unwrap();
    file
}

/// Runs nexmark `args` at parallelism `p`: its rows (sorted) and the late records dropped.
fn run(p: u32, args: &[&str]) -> (Vec<String>, u64) {
    let out = tempfile::tempdir().unwrap();
    let mut argv: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    argv.extend(["--output".to_string(), out.path().to_str().unwrap().to_string()]);
    let config = ExecutionConfig { parallelism: p, ..Default::default() };
    let stream = rfy_jobs::nexmark::PROGRAM.stream_graph(&argv, config).unwrap();
    let job = stream.job_graph().unwrap();
    let metrics = run_job_in_threads_with_metrics(Arc::new(stream), &job, ExchangeSettings::default()).unwrap();
    let mut rows = Vec::new();
    for entry in std::fs::read_dir(out.path()).unwrap() {
        rows.extend(std::fs::read_to_string(entry.unwrap().path()).unwrap().lines().map(str::to_string));
    }
    rows.sort();
    (rows, metrics.late_records_dropped)
}

fn expected(q: &str) -> Vec<String> {
    let text = std::fs::read_to_string(expected_dir().join(format!("{q}.tsv"))).unwrap();
    let rows: Vec<String> = text.lines().map(str::to_string).collect();
    assert!(!rows.is_empty(), "{q}: Flink's result is empty; the test would prove nothing");
    rows
}

fn assert_rows(q: &str, what: &str, rows: &[String], want: &[String]) {
    if rows != want {
        let missing: Vec<_> = want.iter().filter(|r| !rows.contains(r)).take(5).collect();
        let extra: Vec<_> = rows.iter().filter(|r| !want.contains(r)).take(5).collect();
        panic!("{q} {what}: {} rows, Flink {}; missing e.g. {missing:?}; extra e.g. {extra:?}", rows.len(), want.len());
    }
}

#[test]
fn the_file_is_out_of_order_within_the_delay() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(out_of_order_file(dir.path())).unwrap();
    let (mut max, mut disorder, mut lines) = (i64::MIN, 0i64, 0u64);
    for line in text.lines() {
        let t = Event::from_json_bytes(line.as_bytes()).unwrap().timestamp();
        disorder = disorder.max(max.saturating_sub(t));
        max = max.max(t);
        lines += 1;
    }
    assert_eq!(lines, EVENTS);
    assert!(disorder > 1_000 && disorder <= MAX_DELAY.as_millis() as i64, "largest disorder {disorder} ms");
}

/// With the bound, every windowed query equals Flink SQL's with the same
/// watermark delay, at -p 1 and -p 2 (two splits), and nothing is late.
#[test]
fn results_equal_flink_sql_with_the_same_watermark_delay() {
    let dir = tempfile::tempdir().unwrap();
    let file = out_of_order_file(dir.path());
    let input = file.to_str().unwrap();
    for q in ["q4", "q5", "q7", "q8", "q9", "q11"] {
        let want = expected(q);
        for p in [1, 2] {
            let (rows, late) = run(p, &["--query", q, "--input", input, "--max-out-of-orderness", BOUND]);
            assert_rows(q, &format!("-p {p}"), &rows, &want);
            assert_eq!(late, 0, "{q} -p {p}: late records with a bound of {BOUND}");
        }
    }
}

/// Without the bound, q8's tumbling windows drop late events (counted), so
/// its results differ from Flink's.
#[test]
fn a_too_small_bound_drops_late_records_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = out_of_order_file(dir.path());
    let (rows, late) = run(1, &["--query", "q8", "--input", file.to_str().unwrap(), "--max-out-of-orderness", "0ms"]);
    assert!(late > 0, "no late record counted with a bound of 0 on a file 2 s out of order");
    assert_ne!(rows, expected("q8"), "{late} events dropped, yet q8 equals Flink's");
}

/// Bids counted per 10 s window on the event file: `(sum of the counts, late records dropped)`.
fn counted_bids(file: &Path, bound: Duration, p: u32) -> (u64, u64) {
    let env = StreamExecutionEnvironment::new(ExecutionConfig { parallelism: p, ..Default::default() });
    let counts = Arc::new(Mutex::new(Vec::new()));
    env.add_source(EventFileSource::new(file).watermarks(bound, None))
        .flat_map(|e: Event, out| {
            if let Event::Bid(b) = e {
                out.collect(b)
            }
        })
        .key_by(|b: &Bid| b.auction % 7)
        .window(TumblingEventTimeWindows::of(Duration::from_secs(10)))
        .aggregate(Count)
        .sink_to(CollectSink::new(counts.clone()));
    let stream = env.into_stream_graph("late-count", &[]);
    let job = stream.job_graph().unwrap();
    let metrics = run_job_in_threads_with_metrics(Arc::new(stream), &job, ExchangeSettings::default()).unwrap();
    let sum = counts.lock().unwrap().iter().sum::<u64>();
    (sum, metrics.late_records_dropped)
}

/// No late record goes without a trace: the bids windows counted plus the
/// ones they dropped are all the bids of the file, with and without a bound.
#[test]
fn every_late_record_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let file = out_of_order_file(dir.path());
    let text = std::fs::read_to_string(&file).unwrap();
    let bids = text.lines().filter(|l| matches!(Event::from_json_bytes(l.as_bytes()), Ok(Event::Bid(_)))).count();
    for p in [1, 2] {
        let (counted, late) = counted_bids(&file, Duration::ZERO, p);
        assert!(late > 0, "-p {p}: nothing late with a bound of 0");
        assert_eq!(counted + late, bids as u64, "-p {p}: {counted} counted + {late} late");
        let (counted, late) = counted_bids(&file, Duration::from_millis(2002), p);
        assert_eq!((counted, late), (bids as u64, 0), "-p {p} with a bound of 2002 ms");
    }
}
