//! Issue 4, "done when" #1 in local mode: word count in `--mode updates`
//! with the exactly-once file sink, paced to run about a minute (override
//! with RFY_ITEST_SECONDS), checkpointing every second; a TaskManager is
//! killed at random moments at least 3 times, each kill followed by
//! recovery. The committed output must hold, for every word, the lines
//! `word<TAB>1` .. `word<TAB>n` exactly once, n its true count.
//!
//! Checkpoints go to a temporary local directory, or under
//! RFY_ITEST_CHECKPOINT_URI when set (e.g. `hdfs://127.0.0.1:9000/tmp/rfy-itest`
//! with the Hadoop of scripts/hadoop running). With RFY_ITEST_HDFS_IO set to
//! an HDFS directory URI (`hdfs://host:port/dir`), the input is read from and
//! the output written to HDFS (the hdfs:// source and two-phase sink).

use std::time::{Duration, Instant};

use rfy_client::follow::RestClient;
use rfy_client::local::LocalCluster;
use rfy_itests::local::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn taskmanager_kills_lose_and_duplicate_nothing() -> anyhow::Result<()> {
    init_logging();
    let seconds: f64 = std::env::var("RFY_ITEST_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(60.0);
    let tmp = tempfile::tempdir()?;
    let (input, lines) = repeated_kjv(tmp.path(), 4);
    let expected = reference_counts(&input);
    let words: u64 = expected.values().sum();
    assert!(words > 3_000_000, "a few million words, got {words}");
    let hdfs_io =
        std::env::var("RFY_ITEST_HDFS_IO").ok().map(|b| format!("{}/{}", b.trim_end_matches('/'), std::process::id()));
    let (input_arg, out_arg) = match &hdfs_io {
        Some(base) => {
            let fs = hdfs_of(base);
            let path = format!("{}/input.txt", hdfs_path(base));
            fs.upload(&input, &path, 0o644, true).await?;
            (format!("{base}/input.txt"), format!("{base}/out"))
        }
        None => (input.display().to_string(), tmp.path().join("out").display().to_string()),
    };
    let ckpt = match std::env::var("RFY_ITEST_CHECKPOINT_URI") {
        Ok(base) => format!("{}/{}", base.trim_end_matches('/'), std::process::id()),
        Err(_) => tmp.path().join("checkpoints").display().to_string(),
    };
    let rate = (lines as f64 / seconds).ceil();
    let conf = conf(&[
        ("execution.checkpointing.interval", "1 s".into()),
        ("state.checkpoints.dir", ckpt.clone()),
        ("state.checkpoints.num-retained", "2".into()),
        ("local.number-taskmanager", "2".into()),
        ("restart-strategy.exponential-delay.initial-backoff", "500 ms".into()),
    ]);
    let rate_s = rate.to_string();
    let graph = plan(
        &conf,
        "wordcount",
        2,
        &["--input", &input_arg, "--output", &out_arg, "--mode", "updates", "--rate", &rate_s],
    )?;
    let cluster = LocalCluster::start(&conf, graph.required_slots()).await?;
    let client = RestClient::new(cluster.rest_url())?;
    let job = client.submit(&graph, &Default::default()).await?;
    let started = Instant::now();

    let mut rng = seeded_rng();
    let mut recoveries = Vec::new();
    let deadline = seconds * 0.75; // kills stop before the sources can finish
    while recoveries.len() < 3 || (started.elapsed().as_secs_f64() < deadline * 0.8 && recoveries.len() < 5) {
        recoveries.push(kill_and_recover(&cluster, &client, &job, &mut rng, 200..2500, started, seconds).await?);
    }
    let state = wait_terminal(&client, &job, Duration::from_secs_f64(seconds * 4.0 + 120.0)).await?;
    let exceptions = client.get(&format!("/jobs/{job}/exceptions")).await?;
    let checkpoints = client.get(&format!("/jobs/{job}/checkpoints")).await?;
    cluster.shutdown().await;
    assert_eq!(state, "FINISHED", "exceptions: {exceptions:#}");
    let history = exceptions["exceptionHistory"]["entries"].as_array().cloned().unwrap_or_default();
    assert!(history.len() >= recoveries.len(), "every failure is in the exception history: {exceptions:#}");
    assert!(checkpoints["counts"]["restored"].as_u64().unwrap_or(0) >= 3, "{checkpoints:#}");

    let out = match &hdfs_io {
        Some(base) => {
            // Copy the output directory down, then check it like a local one.
            let fs = hdfs_of(base);
            let local = tmp.path().join("out-from-hdfs");
            std::fs::create_dir_all(&local)?;
            for e in fs.list(&format!("{}/out", hdfs_path(base))).await? {
                let name = e.path.rsplit('/').next().unwrap_or_default().to_string();
                std::fs::write(local.join(&name), fs.read(&e.path).await?)?;
            }
            fs.delete(&hdfs_path(base), true).await?;
            local
        }
        None => tmp.path().join("out"),
    };
    let got = committed_updates(&out);
    let problems = exactly_once_problems(&expected, &got);
    assert!(problems.is_empty(), "output is not exactly-once: {problems:#?}");
    let leftovers: Vec<String> = std::fs::read_dir(&out)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("part-"))
        .collect();
    assert!(leftovers.is_empty(), "uncommitted files left: {leftovers:?}");
    eprintln!(
        "exactly-once over {} kills; recovery (kill → all tasks RUNNING): {:?}",
        recoveries.len(),
        recoveries.iter().map(|d| format!("{:.2} s", d.as_secs_f64())).collect::<Vec<_>>()
    );
    Ok(())
}

/// A client for the NameNode of `uri` (`hdfs://host:port/...`).
fn hdfs_of(uri: &str) -> rfy_itests::Hdfs {
    let authority = uri.trim_start_matches("hdfs://").split('/').next().unwrap_or("");
    rfy_itests::Hdfs::connect(&format!("hdfs://{authority}"), None).expect("HDFS client")
}

/// The path part of `hdfs://host:port/path`.
fn hdfs_path(uri: &str) -> String {
    let rest = uri.trim_start_matches("hdfs://");
    rest.find('/').map(|i| rest[i..].to_string()).unwrap_or_else(|| "/".into())
}
