//! Helpers of the local-mode checkpoint tests (`tests/local_*.rs`): input
//! preparation, an independent word count, reading a job's committed output,
//! and driving a job on the embedded local cluster over REST.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use rfy_client::follow::RestClient;
use serde_json::Value;

/// The repository's file `rel`.
pub fn repo_file(rel: &str) -> PathBuf {
    super::repo_root().join(rel)
}

/// Logs to stderr at `RUST_LOG` (default warn), once per test binary.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
}

/// Writes `data/kjv.txt` `times` times into `dir/input.txt`; returns its path and line count.
pub fn repeated_kjv(dir: &Path, times: usize) -> (PathBuf, usize) {
    let text = std::fs::read_to_string(repo_file("data/kjv.txt")).expect("data/kjv.txt");
    let path = dir.join("input.txt");
    std::fs::write(&path, text.repeat(times)).expect("write input");
    (path, text.lines().count() * times)
}

/// Word counts by a different code path than the job's tokenizer
/// (char iteration over the lowercased line, std maps).
pub fn reference_counts(path: &Path) -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string(path).expect("input");
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        let mut word = String::new();
        for c in line.to_lowercase().chars().chain(std::iter::once(' ')) {
            if c.is_ascii_alphanumeric() || c == '_' {
                word.push(c);
            } else if !word.is_empty() {
                *counts.entry(std::mem::take(&mut word)).or_insert(0) += 1;
            }
        }
    }
    counts
}

/// Every `word<TAB>count` line of the committed part files (`part-*`) in
/// `dir`: per word, the counts seen, in no particular order. Hidden
/// (in-progress, pending) files are not output.
pub fn committed_updates(dir: &Path) -> BTreeMap<String, Vec<u64>> {
    let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("output dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("part-") {
            continue;
        }
        for line in std::fs::read_to_string(&path).expect("part file").lines() {
            let (w, c) = line.split_once('\t').unwrap_or_else(|| panic!("bad line {line:?} in {name}"));
            out.entry(w.to_string()).or_default().push(c.parse().unwrap_or_else(|_| panic!("bad count in {line:?}")));
        }
    }
    out
}

/// Checks exactly-once output of word count in `--mode updates`: for every
/// word, the counts are exactly 1..=n with n its true count. Returns a
/// description of the first few problems, empty if none.
pub fn exactly_once_problems(expected: &BTreeMap<String, u64>, got: &BTreeMap<String, Vec<u64>>) -> Vec<String> {
    let mut problems = Vec::new();
    for (word, &n) in expected {
        let mut counts = got.get(word).cloned().unwrap_or_default();
        counts.sort_unstable();
        if counts.len() as u64 != n || counts.iter().enumerate().any(|(i, c)| *c != i as u64 + 1) {
            let dups = counts.windows(2).filter(|w| w[0] == w[1]).count();
            problems.push(format!(
                "{word}: {} lines for true count {n} ({dups} duplicated, max {:?})",
                counts.len(),
                counts.last()
            ));
        }
    }
    for word in got.keys().filter(|w| !expected.contains_key(*w)) {
        problems.push(format!("{word}: not in the input"));
    }
    problems.truncate(10);
    problems
}

/// The random generator of a failure test's kill times and victims: seeded
/// from `RFY_ITEST_SEED` if set, else at random; prints the seed, so that a
/// failing run can be replayed with the same kills.
pub fn seeded_rng() -> fastrand::Rng {
    let seed = std::env::var("RFY_ITEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    eprintln!("RFY_ITEST_SEED={seed}");
    fastrand::Rng::with_seed(seed)
}

/// The job's state name now.
pub async fn job_state(client: &RestClient, job_id: &str) -> Result<String> {
    Ok(client.get(&format!("/jobs/{job_id}")).await?["state"].as_str().unwrap_or("").to_string())
}

/// True if the job is RUNNING with every subtask RUNNING.
pub async fn fully_running(client: &RestClient, job_id: &str) -> Result<bool> {
    let d = client.get(&format!("/jobs/{job_id}")).await?;
    let running = d["state"] == "RUNNING";
    let tasks = &d["status-counts"];
    let total: u64 = tasks.as_object().map(|m| m.values().filter_map(Value::as_u64).sum()).unwrap_or(0);
    Ok(running && total > 0 && tasks["RUNNING"].as_u64() == Some(total))
}

/// Waits until `check` holds, polling every 50 ms.
///
/// Errors: not within `timeout`; the text says what was awaited.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let started = Instant::now();
    loop {
        if check().await? {
            return Ok(());
        }
        if started.elapsed() > timeout {
            bail!("timed out after {:.0} s waiting for {what}", timeout.as_secs_f64());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Number of completed checkpoints of the job so far.
pub async fn completed_checkpoints(client: &RestClient, job_id: &str) -> Result<u64> {
    Ok(client.get(&format!("/jobs/{job_id}/checkpoints")).await?["counts"]["completed"].as_u64().unwrap_or(0))
}

/// One TaskManager kill of the local failure tests: waits for a new completed
/// checkpoint, then a random pause of `pause_ms` milliseconds, kills a random
/// TaskManager of `cluster`, and waits until the job has left RUNNING and
/// runs again with every subtask. Returns the recovery time (kill -> every
/// subtask RUNNING) and prints it with the time since `started`.
///
/// Errors: no checkpoint in 30 s, no failover in 30 s, no recovery in 60 s
/// (each saying where the job stands), REST failing; the kill would come
/// `seconds` or later after `started` (the paced input may have ended: raise
/// RFY_ITEST_SECONDS).
pub async fn kill_and_recover(
    cluster: &rfy_client::local::LocalCluster,
    client: &RestClient,
    job: &str,
    rng: &mut fastrand::Rng,
    pause_ms: std::ops::Range<u64>,
    started: Instant,
    seconds: f64,
) -> Result<Duration> {
    let before = completed_checkpoints(client, job).await?;
    let checkpointed = wait_until("a new completed checkpoint", Duration::from_secs(30), || async {
        Ok(completed_checkpoints(client, job).await? > before)
    })
    .await;
    diagnosed(client, job, checkpointed).await?;
    tokio::time::sleep(Duration::from_millis(rng.u64(pause_ms))).await;
    if started.elapsed().as_secs_f64() >= seconds {
        bail!("kills must happen while the job runs; raise RFY_ITEST_SECONDS");
    }
    let ids = cluster.task_manager_ids();
    let victim = ids[rng.usize(..ids.len())].clone();
    let killed_at = Instant::now();
    if !cluster.kill_task_manager(&victim) {
        bail!("TaskManager {victim} unknown to the local cluster");
    }
    eprintln!("{:>6.1} s: killed {victim}", started.elapsed().as_secs_f64());
    let left = wait_until("the job to leave RUNNING", Duration::from_secs(30), || async {
        Ok(!fully_running(client, job).await?)
    })
    .await;
    diagnosed(client, job, left).await?;
    let back =
        wait_until("the job to run again", Duration::from_secs(60), || async { fully_running(client, job).await })
            .await;
    diagnosed(client, job, back).await?;
    let took = killed_at.elapsed();
    eprintln!("{:>6.1} s: running again after {:.2} s", started.elapsed().as_secs_f64(), took.as_secs_f64());
    Ok(took)
}

/// Waits for a terminal state and returns it.
///
/// Errors: not within `timeout` (the text then says where the job stands,
/// see [`job_diagnosis`]), or REST failing.
pub async fn wait_terminal(client: &RestClient, job_id: &str, timeout: Duration) -> Result<String> {
    let started = Instant::now();
    loop {
        let s = job_state(client, job_id).await?;
        if matches!(s.as_str(), "FINISHED" | "FAILED" | "CANCELED") {
            return Ok(s);
        }
        if started.elapsed() > timeout {
            let timed_out = Err(anyhow::anyhow!("job still {s} after {:.0} s", timeout.as_secs_f64()));
            return diagnosed(client, job_id, timed_out).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `result`, its error followed by where the job stands (see [`job_diagnosis`]).
async fn diagnosed<T>(client: &RestClient, job_id: &str, result: Result<T>) -> Result<T> {
    match result {
        Ok(v) => Ok(v),
        Err(e) => {
            let diagnosis = job_diagnosis(client, job_id).await.unwrap_or_else(|d| format!("(no diagnosis: {d:#})"));
            bail!("{e:#}\n{diagnosis}")
        }
    }
}

/// Where a job stands, for a test that gave up waiting on it: each vertex
/// with each subtask's state, TaskManager and records read/written, then
/// the checkpoint counts and the newest checkpoints (state, acknowledgements,
/// age, failure), from the REST API (`/jobs/{id}`, its vertices, and
/// `/jobs/{id}/checkpoints`). A hang then says which task or checkpoint it
/// is stuck on.
///
/// Errors: REST failing.
pub async fn job_diagnosis(client: &RestClient, job_id: &str) -> Result<String> {
    use std::fmt::Write as _;
    let job = client.get(&format!("/jobs/{job_id}")).await?;
    let now = job["now"].as_i64().unwrap_or(0);
    let mut out = format!("job {job_id} {}:\n", job["state"].as_str().unwrap_or("?"));
    for v in job["vertices"].as_array().into_iter().flatten() {
        let vid = v["id"].as_str().unwrap_or_default();
        let _ = writeln!(out, "  {} [{}]", v["name"].as_str().unwrap_or("?"), v["status"].as_str().unwrap_or("?"));
        let details = client.get(&format!("/jobs/{job_id}/vertices/{vid}")).await?;
        for t in details["subtasks"].as_array().into_iter().flatten() {
            let m = &t["metrics"];
            let _ = writeln!(
                out,
                "    subtask {} {} (attempt {}) on {}: read {} written {} records",
                t["subtask"],
                t["status"].as_str().unwrap_or("?"),
                t["attempt"],
                t["taskmanager-id"].as_str().unwrap_or("?"),
                m["read-records"],
                m["write-records"],
            );
        }
    }
    let cp = client.get(&format!("/jobs/{job_id}/checkpoints")).await?;
    let c = &cp["counts"];
    let _ = writeln!(
        out,
        "  checkpoints: {} completed, {} failed, {} in progress, {} restores (last from {})",
        c["completed"], c["failed"], c["in_progress"], c["restored"], cp["latest"]["restored"]["id"]
    );
    for h in cp["history"].as_array().into_iter().flatten().take(6) {
        let age = now - h["trigger_timestamp"].as_i64().unwrap_or(now);
        let _ = writeln!(
            out,
            "    #{} {} triggered {:.1} s ago, acknowledged {}/{}{}",
            h["id"],
            h["status"].as_str().unwrap_or("?"),
            age as f64 / 1000.0,
            h["num_acknowledged_subtasks"],
            h["num_subtasks"],
            h["failure_message"].as_str().map(|f| format!(": {f}")).unwrap_or_default(),
        );
    }
    Ok(out)
}

/// Plans the built-in `job` with `args` at parallelism `p` under `conf`.
pub fn plan(conf: &rfy_conf::Configuration, job: &str, p: u32, args: &[&str]) -> Result<rfy_client_types::JobGraph> {
    let mut conf = conf.clone();
    conf.set("parallelism.default", &p.to_string(), rfy_conf::Source::Programmatic)?;
    let job_args = rfy_client::cli::JobArgs {
        parallelism: Some(p),
        dynamic: Vec::new(),
        job: job.to_string(),
        job_args: args.iter().map(|s| s.to_string()).collect(),
    };
    let (_, graph) = rfy_client::plan::plan(&job_args, &conf)?;
    Ok(graph)
}

/// Types the tests name.
pub mod rfy_client_types {
    pub use rfy_runtime::JobGraph;
}

/// A configuration from `key=value` pairs.
pub fn conf(pairs: &[(&str, String)]) -> rfy_conf::Configuration {
    let mut c = rfy_conf::Configuration::new();
    for (k, v) in pairs {
        c.set(k, v, rfy_conf::Source::Programmatic).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
    }
    c
}
