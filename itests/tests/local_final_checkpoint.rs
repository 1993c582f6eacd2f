//! Issue 11, "bounded input ends exactly once" (Flink's FLIP-147 final
//! checkpoint), local mode: word count in `--mode updates` with the
//! exactly-once file sink reads its input in ~2 s while checkpoints run every
//! 8 s with a min-pause of 8 s (the first at the start, the next, final one
//! ~6 s after the end of input: without the min-pause the JobMaster would
//! trigger it as soon as every source reported its end). When the sources reach the end of their input, the job must still be
//! RUNNING (waiting for a final checkpoint) with the last records not yet
//! committed; a TaskManager is killed in that window. After the restart the
//! job finishes, and the committed output holds every word's updates
//! `1..=n` exactly once: nothing lost, nothing duplicated.

use std::time::{Duration, Instant};

use rfy_client::follow::RestClient;
use rfy_client::local::LocalCluster;
use rfy_itests::local::*;
use serde_json::Value;

/// Records read by the job's source vertices so far (from heartbeat metrics).
async fn source_records(client: &RestClient, job: &str) -> anyhow::Result<u64> {
    let d = client.get(&format!("/jobs/{job}")).await?;
    let vertices = d["vertices"].as_array().cloned().unwrap_or_default();
    Ok(vertices
        .iter()
        .filter(|v| v["name"].as_str().is_some_and(|n| n.starts_with("Source")))
        .filter_map(|v| v["metrics"]["read-records"].as_u64())
        .sum())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_between_end_of_input_and_commit_loses_and_duplicates_nothing() -> anyhow::Result<()> {
    init_logging();
    let tmp = tempfile::tempdir()?;
    let (input, lines) = repeated_kjv(tmp.path(), 1);
    let expected = reference_counts(&input);
    let words: u64 = expected.values().sum();
    let out = tmp.path().join("out");
    let conf = conf(&[
        ("execution.checkpointing.interval", "8 s".into()),
        ("execution.checkpointing.min-pause", "8 s".into()),
        ("state.checkpoints.dir", tmp.path().join("checkpoints").display().to_string()),
        ("local.number-taskmanager", "2".into()),
        ("heartbeat.interval", "100 ms".into()),
        ("restart-strategy.type", "fixed-delay".into()),
        ("restart-strategy.fixed-delay.delay", "200 ms".into()),
    ]);
    let rate = (lines as f64 / 2.0).ceil().to_string();
    let (input_arg, out_arg) = (input.display().to_string(), out.display().to_string());
    let graph = plan(
        &conf,
        "wordcount",
        2,
        &["--input", &input_arg, "--output", &out_arg, "--mode", "updates", "--rate", &rate],
    )?;
    let cluster = LocalCluster::start(&conf, graph.required_slots()).await?;
    let client = RestClient::new(cluster.rest_url())?;
    let job = client.submit(&graph, &Default::default()).await?;
    let started = Instant::now();

    // The end of input, as the sources' metrics report it.
    wait_until("the sources to read all input", Duration::from_secs(60), || async {
        Ok(source_records(&client, &job).await? >= lines as u64)
    })
    .await?;
    let state = job_state(&client, &job).await?;
    let committed_before: usize = committed_updates(&out).values().map(Vec::len).sum();
    let ids = cluster.task_manager_ids();
    let victim = ids[fastrand::usize(..ids.len())].clone();
    assert!(cluster.kill_task_manager(&victim));
    eprintln!(
        "{:.1} s: input read, job {state}, {committed_before} of {words} updates committed; killed {victim}",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(state, "RUNNING", "after the end of input the job waits for its final checkpoint");
    assert!(
        (committed_before as u64) < words,
        "the sinks committed their last data without a completed checkpoint ({committed_before} of {words})"
    );

    let state = wait_terminal(&client, &job, Duration::from_secs(120)).await?;
    let exceptions = client.get(&format!("/jobs/{job}/exceptions")).await?;
    let checkpoints: Value = client.get(&format!("/jobs/{job}/checkpoints")).await?;
    cluster.shutdown().await;
    assert_eq!(state, "FINISHED", "exceptions: {exceptions:#}");
    let failures = exceptions["exceptionHistory"]["entries"].as_array().map(Vec::len).unwrap_or(0);
    assert!(failures >= 1, "the kill was a failure of this job: {exceptions:#}");
    assert!(checkpoints["counts"]["completed"].as_u64().unwrap_or(0) >= 1, "{checkpoints:#}");

    let got = committed_updates(&out);
    let problems = exactly_once_problems(&expected, &got);
    assert!(problems.is_empty(), "output is not exactly-once: {problems:#?}");
    let leftovers: Vec<String> = std::fs::read_dir(&out)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("part-"))
        .collect();
    assert!(leftovers.is_empty(), "uncommitted files left: {leftovers:?}");
    eprintln!("exactly-once after a kill past the end of input; job took {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
