//! Issue 22, slice 1: the on-disk keyed state backend
//! (`state.backend.type: embedded-lsm`) on the embedded local cluster.
//!
//! - Word count on it is exactly-once under TaskManager kills (each restart
//!   rebuilds the on-disk stores from the checkpoint).
//! - Savepoints switch backends and parallelism: `hashmap` at `-p 1` →
//!   `embedded-lsm` at `-p 2` → `hashmap` at `-p 1` gives the output of an
//!   uninterrupted run (the images are backend-independent).
//! - State five times managed memory: the heap backend fails naming
//!   `taskmanager.memory.managed.size` (`memory_budget.rs`); on disk the same
//!   job keeps completing checkpoints of all of it.

use std::path::Path;
use std::time::{Duration, Instant};

use rfy_client::follow::RestClient;
use rfy_client::local::LocalCluster;
use rfy_itests::local::*;

/// The on-disk stores under `io.tmp.dirs` = `dir`: `rfy-state/<execution id>/<uid>-<subtask>`.
fn stores(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(tasks) = std::fs::read_dir(dir.join("rfy-state")) else { return Vec::new() };
    tasks
        .flatten()
        .flat_map(|t| std::fs::read_dir(t.path()).into_iter().flatten().flatten().map(|e| e.path()))
        .collect()
}

/// The task directories left under `rfy-state` in `dir`.
fn task_dirs(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("rfy-state")).map(|d| d.count()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wordcount_on_disk_state_is_exactly_once_under_taskmanager_kills() -> anyhow::Result<()> {
    init_logging();
    let seconds: f64 = std::env::var("RFY_ITEST_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(25.0);
    let tmp = tempfile::tempdir()?;
    let (input, lines) = repeated_kjv(tmp.path(), 1);
    let expected = reference_counts(&input);
    let out = tmp.path().join("out");
    let rate = (lines as f64 / seconds).ceil().to_string();
    let local = tmp.path().join("local");
    let conf = conf(&[
        ("state.backend.type", "embedded-lsm".into()),
        ("io.tmp.dirs", local.display().to_string()),
        ("execution.checkpointing.interval", "1 s".into()),
        ("state.checkpoints.dir", tmp.path().join("checkpoints").display().to_string()),
        ("state.checkpoints.num-retained", "2".into()),
        ("local.number-taskmanager", "2".into()),
        ("restart-strategy.exponential-delay.initial-backoff", "500 ms".into()),
    ]);
    let graph = plan(
        &conf,
        "wordcount",
        2,
        &["--input", input.to_str().unwrap(), "--output", out.to_str().unwrap(), "--mode", "updates", "--rate", &rate],
    )?;
    let cluster = LocalCluster::start(&conf, graph.required_slots()).await?;
    let client = RestClient::new(cluster.rest_url())?;
    let job = client.submit(&graph, &Default::default()).await?;
    let started = Instant::now();
    wait_until("all tasks running", Duration::from_secs(30), || async { fully_running(&client, &job).await }).await?;
    let running = stores(&local);
    assert_eq!(running.len(), 2, "one store per reduce subtask: {running:?}");
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
    let problems = exactly_once_problems(&expected, &committed_updates(&out));
    assert!(problems.is_empty(), "output is not exactly-once: {problems:#?}");
    assert_eq!(task_dirs(&local), 0, "every task's state directory is removed: {:?}", stores(&local));
    Ok(())
}

/// Runs word count at parallelism `p` on `backend` (restoring from `from`
/// if given); with `stop_after`, stops it with a savepoint after that long
/// and returns the savepoint's path, else runs it to its end.
async fn run(
    backend: &str,
    p: u32,
    input: &Path,
    out: &Path,
    savepoints: &Path,
    from: Option<&str>,
    stop_after: Option<Duration>,
) -> anyhow::Result<Option<String>> {
    let local = savepoints.with_file_name("local");
    let mut pairs = vec![
        ("state.backend.type", backend.to_string()),
        ("io.tmp.dirs", local.display().to_string()),
        ("state.savepoints.dir", savepoints.display().to_string()),
        ("local.number-taskmanager", "2".to_string()),
    ];
    if let Some(f) = from {
        pairs.push(("execution.savepoint.path", f.to_string()));
    }
    let conf = conf(&pairs);
    let graph = plan(
        &conf,
        "wordcount",
        p,
        &["--input", input.to_str().unwrap(), "--output", out.to_str().unwrap(), "--mode", "updates", "--rate", "4000"],
    )?;
    let cluster = LocalCluster::start(&conf, graph.required_slots()).await?;
    let client = RestClient::new(cluster.rest_url())?;
    let job = client.submit(&graph, &Default::default()).await?;
    wait_until("all tasks running", Duration::from_secs(30), || async { fully_running(&client, &job).await }).await?;
    let on_disk = if backend == "hashmap" { 0 } else { p as usize };
    assert_eq!(stores(&local).len(), on_disk, "{backend} at -p {p}: {:?}", stores(&local));
    let result = match stop_after {
        Some(d) => {
            tokio::time::sleep(d).await;
            let trigger = client.trigger_savepoint(&job, None, true).await?;
            let location = client.wait_savepoint(&job, &trigger, Duration::from_secs(60)).await?;
            let state = wait_terminal(&client, &job, Duration::from_secs(60)).await?;
            assert_eq!(state, "FINISHED", "stop-with-savepoint ends the job as FINISHED");
            Some(location)
        }
        None => {
            let state = wait_terminal(&client, &job, Duration::from_secs(300)).await?;
            assert_eq!(state, "FINISHED", "{:#}", client.get(&format!("/jobs/{job}/exceptions")).await?);
            None
        }
    };
    if from.is_some() {
        let cps = client.get(&format!("/jobs/{job}/checkpoints")).await?;
        assert_eq!(cps["latest"]["restored"]["is_savepoint"], true, "{cps:#}");
    }
    cluster.shutdown().await;
    Ok(result)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn savepoints_move_between_heap_and_disk_at_another_parallelism() -> anyhow::Result<()> {
    init_logging();
    let tmp = tempfile::tempdir()?;
    let (input, _) = repeated_kjv(tmp.path(), 1);
    let expected = reference_counts(&input);
    let (out, sp) = (tmp.path().join("out"), tmp.path().join("savepoints"));

    let s1 = run("hashmap", 1, &input, &out, &sp, None, Some(Duration::from_millis(2500))).await?.expect("sp 1");
    let written: usize = committed_updates(&out).values().map(Vec::len).sum();
    assert!(written > 0 && (written as u64) < expected.values().sum(), "stopped part way: {written} lines");
    let s2 =
        run("embedded-lsm", 2, &input, &out, &sp, Some(&s1), Some(Duration::from_millis(2500))).await?.expect("sp 2");
    assert_ne!(s1, s2);
    run("hashmap", 1, &input, &out, &sp, Some(&s2), None).await?;

    let problems = exactly_once_problems(&expected, &committed_updates(&out));
    assert!(problems.is_empty(), "restored runs differ from an uninterrupted one: {problems:#?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_five_times_managed_memory_keeps_checkpointing_on_disk() -> anyhow::Result<()> {
    init_logging();
    let tmp = tempfile::tempdir()?;
    // As memory_budget.rs's heap case, which fails naming taskmanager.memory.managed.size.
    let local = tmp.path().join("local");
    let conf = conf(&[
        ("state.backend.type", "embedded-lsm".into()),
        ("io.tmp.dirs", local.display().to_string()),
        ("taskmanager.memory.process.size", "8g".into()),
        ("taskmanager.memory.managed.size", "4m".into()),
        ("execution.checkpointing.interval", "300 ms".into()),
        ("state.checkpoints.dir", tmp.path().join("cp").display().to_string()),
        ("restart-strategy.type", "none".into()),
    ]);
    // About 20 MB of keyed state.
    let graph = plan(&conf, "statebench", 1, &["--keys", "20000", "--value-bytes", "1024"])?;
    let cluster = LocalCluster::start(&conf, graph.required_slots()).await?;
    let client = RestClient::new(cluster.rest_url())?;
    let job = client.submit(&graph, &Default::default()).await?;
    let last = std::sync::Mutex::new(serde_json::Value::Null);
    let full = wait_until("three checkpoints of all the state", Duration::from_secs(90), || async {
        let cps = client.get(&format!("/jobs/{job}/checkpoints")).await?;
        let size = cps["latest"]["completed"]["state_size"].as_u64().unwrap_or(0);
        let done = cps["counts"]["completed"].as_u64().unwrap_or(0) >= 3 && size > 20_000 * 1024;
        *last.lock().unwrap() = cps;
        Ok(done)
    })
    .await;
    let exceptions = client.get(&format!("/jobs/{job}/exceptions")).await?;
    let state = job_state(&client, &job).await?;
    let running = stores(&local);
    client.cancel(&job).await.ok();
    let ended = wait_terminal(&client, &job, Duration::from_secs(30)).await;
    cluster.shutdown().await;
    assert_eq!(running.len(), 1, "the reduce's store on disk: {running:?}");
    assert_eq!(ended?, "CANCELED");
    assert_eq!(task_dirs(&local), 0, "a canceled task's state directory is removed: {:?}", stores(&local));
    assert!(full.is_ok(), "{:#}\nexceptions: {exceptions:#}", last.lock().unwrap());
    assert_eq!(state, "RUNNING", "exceptions: {exceptions:#}");
    let history = exceptions["exceptionHistory"]["entries"].as_array().cloned().unwrap_or_default();
    assert!(history.is_empty(), "no failure: {exceptions:#}");
    Ok(())
}
