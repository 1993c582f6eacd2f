//! Nexmark queries against Apache Flink SQL's results on the same events.
//!
//! `data/nexmark/expected/` holds Flink 2.3 SQL's final rows per query
//! (regenerate with `scripts/nexmark-expected`, which runs
//! `bench/flink-nexmark` over the file `rfy nexmark-gen` writes with the
//! numbers below). Each query runs here at -p 1 and -p 2 on the built-in
//! generator, and once on the event file, and must give exactly those rows.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rfy_runtime::exchange::ExchangeSettings;
use rfy_runtime::task::run_job_in_threads;
use rfy_runtime::ExecutionConfig;

const EVENTS: &str = "50000";
const SEED: &str = "42";
const EVENT_RATE: &str = "1000";

fn expected_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/nexmark/expected")
}

/// Runs `rfy run nexmark` with `args` at parallelism `p`; its rows, sorted (bytewise).
fn run(p: u32, args: &[&str]) -> Vec<String> {
    let out = tempfile::tempdir().unwrap();
    let mut argv: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    argv.extend(["--output".to_string(), out.path().to_str().unwrap().to_string()]);
    let config = ExecutionConfig { parallelism: p, ..Default::default() };
    let stream = rfy_jobs::nexmark::PROGRAM.stream_graph(&argv, config).unwrap();
    stream.check_io().unwrap();
    let job = stream.job_graph().unwrap();
    run_job_in_threads(Arc::new(stream), &job, ExchangeSettings::default()).unwrap();
    let mut rows = Vec::new();
    for entry in std::fs::read_dir(out.path()).unwrap() {
        let path = entry.unwrap().path();
        rows.extend(std::fs::read_to_string(&path).unwrap().lines().map(str::to_string));
    }
    rows.sort();
    rows
}

fn generated(q: &str, p: u32) -> Vec<String> {
    run(p, &["--query", q, "--events", EVENTS, "--seed", SEED, "--event-rate", EVENT_RATE])
}

/// Checks `rows` against Flink's: the whole file, or its row count and sha256.
fn check(q: &str, what: &str, rows: &[String]) {
    let dir = expected_dir();
    let tsv = dir.join(format!("{q}.tsv"));
    if tsv.exists() {
        let want: Vec<String> = std::fs::read_to_string(&tsv).unwrap().lines().map(str::to_string).collect();
        assert!(!want.is_empty(), "{q}: Flink's result is empty; the test would prove nothing");
        if rows != want {
            let missing: Vec<_> = want.iter().filter(|r| !rows.contains(r)).take(5).collect();
            let extra: Vec<_> = rows.iter().filter(|r| !want.contains(r)).take(5).collect();
            panic!(
                "{q} {what}: {} rows, Flink {}; missing e.g. {missing:?}; extra e.g. {extra:?}",
                rows.len(),
                want.len()
            );
        }
        return;
    }
    let count: usize = std::fs::read_to_string(dir.join(format!("{q}.rows"))).unwrap().trim().parse().unwrap();
    let sha = std::fs::read_to_string(dir.join(format!("{q}.sha256"))).unwrap().trim().to_string();
    assert_eq!(rows.len(), count, "{q} {what}: row count");
    let mut text = rows.join("\n");
    text.push('\n');
    assert_eq!(sha256(text.as_bytes()), sha, "{q} {what}: sha256 of the sorted rows");
}

/// sha256 through coreutils' `sha256sum` (what the script used).
fn sha256(bytes: &[u8]) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("sha256sum").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

fn query(q: &str) {
    for p in [1, 2] {
        check(q, &format!("-p {p}"), &generated(q, p));
    }
}

#[test]
fn q0_pass_through() {
    query("q0");
}

#[test]
fn q1_currency_conversion() {
    query("q1");
}

#[test]
fn q2_selection() {
    query("q2");
}

#[test]
fn q3_local_item_suggestion() {
    query("q3");
}

#[test]
fn q4_average_price_per_category() {
    query("q4");
}

#[test]
fn q5_hot_items() {
    query("q5");
}

#[test]
fn q7_highest_bid() {
    query("q7");
}

#[test]
fn q8_new_users() {
    query("q8");
}

#[test]
fn q9_winning_bids() {
    query("q9");
}

#[test]
fn q11_user_sessions() {
    query("q11");
}

/// The event file `rfy nexmark-gen` writes gives the same results as the
/// generator (read in two splits at -p 2).
#[test]
fn event_file_equals_generator() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    let config = rfy_jobs::nexmark::generator::GeneratorConfig {
        seed: SEED.parse().unwrap(),
        events: Some(EVENTS.parse().unwrap()),
        event_rate: EVENT_RATE.parse().unwrap(),
        ..Default::default()
    };
    rfy_jobs::nexmark::write_events(&config, EVENTS.parse().unwrap(), &file).unwrap();
    for q in ["q5", "q8"] {
        let rows = run(2, &["--query", q, "--input", file.to_str().unwrap()]);
        check(q, "from the event file at -p 2", &rows);
    }
}

/// q12 (processing time) cannot equal Flink's values; its shape can be
/// checked: every bid is counted once, in 10 s windows of processing time.
#[test]
fn q12_processing_time_windows() {
    let rows = generated("q12", 2);
    let mut total = 0u64;
    for r in &rows {
        let f: Vec<&str> = r.split('\t').collect();
        assert_eq!(f.len(), 4, "{r}");
        let start = rfy_jobs::nexmark::model::parse_sql_time(f[2]).unwrap();
        let end = rfy_jobs::nexmark::model::parse_sql_time(f[3]).unwrap();
        assert_eq!((end - start, start % 10_000), (10_000, 0), "{r}");
        total += f[1].parse::<u64>().unwrap();
    }
    assert_eq!(total, 46_000, "50,000 events hold 46,000 bids");
}

/// A line of the event file that is not an event fails the job with the
/// file's name and the line, instead of being skipped.
#[test]
fn bad_event_line_fails_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.jsonl");
    std::fs::write(&file, "{\"event_type\":2}\nnot json\n").unwrap();
    let out = dir.path().join("out");
    let argv: Vec<String> = ["--query", "q0", "--input", file.to_str().unwrap(), "--output", out.to_str().unwrap()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let stream = rfy_jobs::nexmark::PROGRAM.stream_graph(&argv, ExecutionConfig::default()).unwrap();
    let job = stream.job_graph().unwrap();
    let err = run_job_in_threads(Arc::new(stream), &job, ExchangeSettings::default()).unwrap_err().to_string();
    assert!(err.contains("bad.jsonl: bad event line '{\"event_type\":2}'"), "{err}");
}
