//! Issue 23 §2, async I/O, on the embedded local cluster: the built-in
//! `async-lookup` job enriches keys by a real HTTP service started in this
//! process (axum on loopback, answering after 10 ms; the first request of
//! every tenth key answers 503 so that retries happen).
//!
//! 1. The committed output equals the expected enrichment, in both modes.
//! 2. With TaskManagers killed mid-run (checkpoints every second, in-flight
//!    lookups part of them), every key is in the committed output exactly
//!    once with its value.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use rfy_client::follow::RestClient;
use rfy_client::local::LocalCluster;
use rfy_itests::local::*;

/// The lookup service's state: requests served, keys seen once.
#[derive(Default)]
struct Service {
    requests: AtomicU64,
    failed_once: Mutex<HashSet<String>>,
}

/// The value the service gives `key` (`k123` → `name-321`).
fn value_of(key: &str) -> String {
    format!("name-{}", key.trim_start_matches('k').chars().rev().collect::<String>())
}

async fn lookup(State(s): State<Arc<Service>>, UrlPath(key): UrlPath<String>) -> (StatusCode, String) {
    s.requests.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(10)).await;
    let flaky = key.ends_with('3');
    if flaky && s.failed_once.lock().unwrap().insert(key.clone()) {
        return (StatusCode::SERVICE_UNAVAILABLE, "warming up".into());
    }
    (StatusCode::OK, value_of(&key))
}

/// Starts the service on a free loopback port.
async fn serve() -> anyhow::Result<(SocketAddr, Arc<Service>)> {
    let service = Arc::new(Service::default());
    let app = Router::new().route("/lookup/{key}", get(lookup)).with_state(service.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((addr, service))
}

/// Writes keys `k0..k{n}` one per line.
fn keys(dir: &Path, n: usize) -> std::path::PathBuf {
    let path = dir.join("keys.txt");
    let text: String = (0..n).map(|i| format!("k{i}\n")).collect();
    std::fs::write(&path, text).expect("write keys");
    path
}

/// Committed `key<TAB>value` lines of the part files in `dir`: key → values seen.
fn committed(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut got: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in std::fs::read_dir(dir).expect("output dir").flatten() {
        if !e.file_name().to_string_lossy().starts_with("part-") {
            continue;
        }
        for line in std::fs::read_to_string(e.path()).expect("part file").lines() {
            let (k, v) = line.split_once('\t').unwrap_or((line, ""));
            got.entry(k.to_string()).or_default().push(v.to_string());
        }
    }
    got
}

/// What is wrong with `got` against keys `k0..k{n}`: missing, duplicated or wrong values.
fn problems(n: usize, got: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..n {
        let k = format!("k{i}");
        match got.get(&k).map(Vec::as_slice) {
            None => out.push(format!("{k} missing")),
            Some([v]) if *v == value_of(&k) => {}
            Some(vs) => out.push(format!("{k}: {vs:?}")),
        }
    }
    out.extend(got.keys().filter(|k| !k[1..].parse::<usize>().is_ok_and(|i| i < n)).map(|k| format!("{k} unexpected")));
    out.truncate(20);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn enrichment_equals_the_service_answers_in_both_modes() -> anyhow::Result<()> {
    init_logging();
    let (addr, service) = serve().await?;
    let tmp = tempfile::tempdir()?;
    let n = 3000;
    let input = keys(tmp.path(), n);
    let conf = conf(&[("local.number-taskmanager", "1".into())]);
    for mode in ["unordered", "ordered"] {
        let out = tmp.path().join(mode);
        let url = format!("http://{addr}/lookup");
        let args = [
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--url",
            &url,
            "--mode",
            mode,
            "--capacity",
            "100",
        ];
        let graph = plan(&conf, "async-lookup", 2, &args)?;
        let cluster = LocalCluster::start(&conf, graph.required_slots()).await?;
        let client = RestClient::new(cluster.rest_url())?;
        let job = client.submit(&graph, &Default::default()).await?;
        let state = wait_terminal(&client, &job, Duration::from_secs(120)).await?;
        let exceptions = client.get(&format!("/jobs/{job}/exceptions")).await?;
        cluster.shutdown().await;
        assert_eq!(state, "FINISHED", "{mode}: {exceptions:#}");
        let problems = problems(n, &committed(&out));
        assert!(problems.is_empty(), "{mode}: {problems:#?}");
    }
    // Each key once per mode, plus one retry for each tenth key's first request.
    let requests = service.requests.load(Ordering::Relaxed);
    assert_eq!(requests, 2 * n as u64 + n as u64 / 10, "requests served");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn taskmanager_kills_lose_and_duplicate_no_lookup() -> anyhow::Result<()> {
    init_logging();
    let seconds: f64 = std::env::var("RFY_ITEST_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(24.0);
    let (addr, service) = serve().await?;
    let tmp = tempfile::tempdir()?;
    let n = 12_000;
    let input = keys(tmp.path(), n);
    let out = tmp.path().join("out");
    let conf = conf(&[
        ("execution.checkpointing.interval", "1 s".into()),
        ("state.checkpoints.dir", tmp.path().join("checkpoints").display().to_string()),
        ("state.checkpoints.num-retained", "2".into()),
        ("local.number-taskmanager", "2".into()),
        ("restart-strategy.exponential-delay.initial-backoff", "500 ms".into()),
    ]);
    let rate = (n as f64 / seconds).ceil().to_string();
    let url = format!("http://{addr}/lookup");
    let args = ["--input", input.to_str().unwrap(), "--output", out.to_str().unwrap(), "--url", &url, "--rate", &rate];
    let graph = plan(&conf, "async-lookup", 2, &args)?;
    let cluster = LocalCluster::start(&conf, graph.required_slots()).await?;
    let client = RestClient::new(cluster.rest_url())?;
    let job = client.submit(&graph, &Default::default()).await?;
    let started = Instant::now();
    let mut rng = seeded_rng();
    let mut recoveries = Vec::new();
    while recoveries.len() < 2 {
        recoveries.push(kill_and_recover(&cluster, &client, &job, &mut rng, 200..1500, started, seconds).await?);
    }
    let state = wait_terminal(&client, &job, Duration::from_secs_f64(seconds * 4.0 + 120.0)).await?;
    let exceptions = client.get(&format!("/jobs/{job}/exceptions")).await?;
    let checkpoints = client.get(&format!("/jobs/{job}/checkpoints")).await?;
    cluster.shutdown().await;
    assert_eq!(state, "FINISHED", "exceptions: {exceptions:#}");
    assert!(checkpoints["counts"]["restored"].as_u64().unwrap_or(0) >= 2, "{checkpoints:#}");
    let got = committed(&out);
    let problems = problems(n, &got);
    assert!(problems.is_empty(), "output is not exactly-once: {problems:#?}");
    let requests = service.requests.load(Ordering::Relaxed);
    assert!(requests > n as u64 + n as u64 / 10, "replays after the kills asked again: {requests} requests");
    eprintln!(
        "async-lookup exactly-once over {} kills: {} keys committed once each, {requests} requests served",
        recoveries.len(),
        got.len()
    );
    Ok(())
}
