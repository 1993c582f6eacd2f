//! Issue 4, "done when" #2 in local mode: savepoint, stop, and restore
//! `-p 1` → `-p 2` → `-p 1` gives the same final result as an uninterrupted
//! run: for every word, the committed lines `word<TAB>1` .. `word<TAB>n`,
//! each exactly once (what an uninterrupted run writes).

use std::path::Path;
use std::time::Duration;

use rfy_client::follow::RestClient;
use rfy_client::local::LocalCluster;
use rfy_itests::local::*;

/// Runs word count at parallelism `p` (restoring from `from` if given);
/// with `stop_after`, stops it with a savepoint after that long and returns
/// the savepoint's path, else runs it to its end.
async fn run(
    p: u32,
    input: &Path,
    out: &Path,
    savepoints: &Path,
    from: Option<&str>,
    stop_after: Option<Duration>,
) -> anyhow::Result<Option<String>> {
    let mut pairs =
        vec![("state.savepoints.dir", savepoints.display().to_string()), ("local.number-taskmanager", "2".to_string())];
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
async fn stop_with_savepoint_and_rescale_1_2_1_matches_an_uninterrupted_run() -> anyhow::Result<()> {
    init_logging();
    let tmp = tempfile::tempdir()?;
    let (input, _) = repeated_kjv(tmp.path(), 1);
    let expected = reference_counts(&input);
    let (out, sp) = (tmp.path().join("out"), tmp.path().join("savepoints"));

    let s1 = run(1, &input, &out, &sp, None, Some(Duration::from_millis(2500))).await?.expect("savepoint 1");
    let partial = committed_updates(&out);
    let written: usize = partial.values().map(Vec::len).sum();
    let total: u64 = expected.values().sum();
    assert!(written > 0 && (written as u64) < total, "the first run stopped part way: {written} of {total} lines");
    assert!(!exactly_once_problems(&expected, &partial).is_empty());

    let s2 = run(2, &input, &out, &sp, Some(&s1), Some(Duration::from_millis(2500))).await?.expect("savepoint 2");
    assert_ne!(s1, s2);
    run(1, &input, &out, &sp, Some(&s2), None).await?;

    let got = committed_updates(&out);
    let problems = exactly_once_problems(&expected, &got);
    assert!(problems.is_empty(), "restored runs differ from an uninterrupted one: {problems:#?}");
    Ok(())
}
