//! Issue 9, "done when" (b), the savepoint part: every event-time Nexmark
//! query, stopped with a savepoint in the middle of its run at -p 2 and
//! restored from it at -p 1, gives exactly Apache Flink SQL's rows
//! (`data/nexmark/expected/`) on the same events, with the exactly-once file
//! sink: nothing lost, nothing written twice.
//!
//! One local cluster runs all queries (several at once), through the REST
//! client the CLI uses (`rfy run`, `rfy stop --savepointPath`, `rfy run -s`).
//! The first run's generator is rate-limited so the stop lands mid-run; the
//! restored run is not. The generator's events made before the stop and
//! after the restore (the source vertex's read-records) add up to the total.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use rfy_client::follow::RestClient;
use rfy_client::local::LocalCluster;
use rfy_itests::local::*;
use rfy_itests::nexmark::{committed_rows, compare, expected_count, EVENTS, EVENT_RATE, SEED};

/// The event-time queries (q12 is processing time).
const QUERIES: [&str; 10] = ["q0", "q1", "q2", "q3", "q4", "q5", "q7", "q8", "q9", "q11"];
/// Queries running at once on the cluster.
const AT_ONCE: usize = 5;
/// The first run's generator rate, events/s of wall time in total: 50,000
/// events take 10 s, and the stop is asked for as soon as the generator
/// made events.
const FIRST_RUN_RATE: &str = "5000";

/// Events the job's generator made: the records its source vertex read
/// (a source task counts what its reader emitted; the source vertex has no
/// network input), final once the job ended.
async fn events_made(client: &RestClient, job: &str) -> Result<u64> {
    let d = client.get(&format!("/jobs/{job}")).await?;
    let vertices = d["vertices"].as_array().cloned().unwrap_or_default();
    let source = vertices.iter().find(|v| v["name"].as_str().is_some_and(|n| n.starts_with("Source: Nexmark")));
    source.and_then(|v| v["metrics"]["read-records"].as_u64()).context("no Source: Nexmark vertex")
}

fn nexmark_args(q: &str, out: &Path, rate: Option<&str>) -> Vec<String> {
    let mut a: Vec<String> = ["--query", q, "--events", &EVENTS.to_string(), "--seed", &SEED.to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    a.extend(["--event-rate".into(), EVENT_RATE.to_string(), "--output".into(), out.display().to_string()]);
    if let Some(r) = rate {
        a.extend(["--rate".into(), r.to_string()]);
    }
    a
}

/// Runs query `q` at -p 2, stops it with a savepoint once it made progress,
/// restores at -p 1 and runs it to its end; checks the rows against Flink's.
async fn stop_and_restore(
    conf: rfy_conf::Configuration,
    rest: String,
    dir: PathBuf,
    q: &'static str,
) -> Result<String> {
    let client = RestClient::new(rest)?;
    let out = dir.join("out");
    let started = Instant::now();
    let args = nexmark_args(q, &out, Some(FIRST_RUN_RATE));
    let graph = plan(&conf, "nexmark", 2, &args.iter().map(String::as_str).collect::<Vec<_>>())?;
    let job = client.submit(&graph, &BTreeMap::new()).await?;
    wait_until(&format!("{q}: progress before the stop"), Duration::from_secs(60), || async {
        let state = job_state(&client, &job).await?;
        ensure!(state == "RUNNING" || state == "CREATED" || state == "INITIALIZING", "{q}: first run is {state}");
        Ok(events_made(&client, &job).await? > 0)
    })
    .await?;
    let trigger = client.trigger_savepoint(&job, None, true).await?;
    let savepoint = client.wait_savepoint(&job, &trigger, Duration::from_secs(60)).await.context(q)?;
    let state = wait_terminal(&client, &job, Duration::from_secs(60)).await?;
    ensure!(state == "FINISHED", "{q}: stop-with-savepoint ended the job as {state}");
    let before = committed_rows(&out);
    let want = expected_count(q);
    let made_before = events_made(&client, &job).await?;
    ensure!(before.len() < want, "{q}: the first run wrote all {want} rows: the stop did not land mid-run");
    ensure!(made_before < EVENTS, "{q}: the first run made all {EVENTS} events: the stop did not land mid-run");
    let stopped_at = started.elapsed();

    let args = nexmark_args(q, &out, None);
    let graph = plan(&conf, "nexmark", 1, &args.iter().map(String::as_str).collect::<Vec<_>>())?;
    let restore = BTreeMap::from([("execution.savepoint.path".to_string(), savepoint.clone())]);
    let job2 = client.submit(&graph, &restore).await?;
    let state = wait_terminal(&client, &job2, Duration::from_secs(120)).await?;
    ensure!(
        state == "FINISHED",
        "{q}: restored run {state}: {:#}",
        client.get(&format!("/jobs/{job2}/exceptions")).await?
    );
    let cps = client.get(&format!("/jobs/{job2}/checkpoints")).await?;
    ensure!(cps["latest"]["restored"]["is_savepoint"] == true, "{q}: not restored from {savepoint}: {cps:#}");
    let after = committed_rows(&out);
    let made_after = events_made(&client, &job2).await?;
    ensure!(
        made_before + made_after == EVENTS,
        "{q}: {made_before} events made before the stop and {made_after} after the restore, not {EVENTS}"
    );
    compare(q, &after).map_err(|e| anyhow::anyhow!("after stop at -p 2 and restore at -p 1: {e}"))?;
    Ok(format!(
        "{q}: stopped after {:.1} s, {made_before} events made and {} of {want} rows committed; total {:.1} s",
        stopped_at.as_secs_f64(),
        before.len(),
        started.elapsed().as_secs_f64()
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn event_time_queries_stopped_mid_run_and_restored_at_another_parallelism_equal_flink() -> Result<()> {
    init_logging();
    let tmp = tempfile::tempdir()?;
    let conf = conf(&[
        ("state.savepoints.dir", tmp.path().join("savepoints").display().to_string()),
        ("state.checkpoints.dir", tmp.path().join("checkpoints").display().to_string()),
        // Commits output while the first run goes (progress shows) and is cheap.
        ("execution.checkpointing.interval", "300 ms".into()),
        ("local.number-taskmanager", "2".into()),
        ("taskmanager.numberOfTaskSlots", AT_ONCE.to_string()),
    ]);
    let cluster = LocalCluster::start(&conf, (2 * AT_ONCE) as u32).await?;
    let started = Instant::now();
    let mut failures = Vec::new();
    for group in QUERIES.chunks(AT_ONCE) {
        let mut set = tokio::task::JoinSet::new();
        for q in group {
            let dir = tmp.path().join(q);
            std::fs::create_dir_all(&dir)?;
            set.spawn(stop_and_restore(conf.clone(), cluster.rest_url(), dir, q));
        }
        while let Some(r) = set.join_next().await {
            match r? {
                Ok(line) => eprintln!("{line}"),
                Err(e) => failures.push(format!("{e:#}")),
            }
        }
    }
    eprintln!("all queries: {:.1} s", started.elapsed().as_secs_f64());
    cluster.shutdown().await;
    if !failures.is_empty() {
        bail!("{} of {} queries failed:\n{}", failures.len(), QUERIES.len(), failures.join("\n"));
    }
    Ok(())
}
