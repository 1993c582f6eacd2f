//! Issue 12, rescale against the real broker of `scripts/kafka`:
//! `kafka-wordcount` reads a 4-partition topic at `-p 2` with the
//! exactly-once sink, is stopped with a savepoint part way, and is restored
//! from it at `-p 3` (its partition offsets redistributed over three source
//! subtasks, its transactional ids taken over); a `read_committed` consumer
//! then reads every word's counts 1..n exactly once.

use std::time::Duration;

use rfy_client::follow::RestClient;
use rfy_client::local::LocalCluster;
use rfy_itests::kafka::*;
use rfy_itests::local::*;

struct Topics<'a> {
    bootstrap: &'a str,
    input: &'a str,
    output: &'a str,
}

/// Runs the job at `p` (restored from `from`); with `stop_after`, stops it
/// with a savepoint after that long and returns the savepoint's location.
async fn run(
    t: &Topics<'_>,
    p: u32,
    savepoints: &std::path::Path,
    from: Option<&str>,
    stop_after: Option<Duration>,
) -> anyhow::Result<Option<String>> {
    let mut pairs =
        vec![("state.savepoints.dir", savepoints.display().to_string()), ("local.number-taskmanager", "2".to_string())];
    if let Some(f) = from {
        pairs.push(("execution.savepoint.path", f.to_string()));
    }
    let conf = conf(&pairs);
    let args = [
        "--bootstrap-servers",
        t.bootstrap,
        "--input-topic",
        t.input,
        "--output-topic",
        t.output,
        "--group-id",
        t.input,
        "--transactional-id-prefix",
        t.output,
        "--bounded",
        "--rate",
        "2000",
    ];
    let graph = plan(&conf, "kafka-wordcount", p, &args)?;
    let cluster = LocalCluster::start(&conf, graph.required_slots()).await?;
    let client = RestClient::new(cluster.rest_url())?;
    let job = client.submit(&graph, &Default::default()).await?;
    let result = match stop_after {
        Some(d) => {
            wait_until("all tasks running", Duration::from_secs(30), || async { fully_running(&client, &job).await })
                .await?;
            tokio::time::sleep(d).await;
            let trigger = client.trigger_savepoint(&job, None, true).await?;
            let location = client.wait_savepoint(&job, &trigger, Duration::from_secs(60)).await?;
            let state = wait_terminal(&client, &job, Duration::from_secs(60)).await?;
            assert_eq!(state, "FINISHED", "stop-with-savepoint ends the job as FINISHED");
            Some(location)
        }
        None => {
            let state = wait_terminal(&client, &job, Duration::from_secs(120)).await?;
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
async fn kafka_stop_with_savepoint_at_p2_restore_at_p3_exactly_once() -> anyhow::Result<()> {
    init_logging();
    let Some(bootstrap) = bootstrap("kafka_savepoint_rescale") else { return Ok(()) };
    let tmp = tempfile::tempdir()?;
    let text = std::fs::read_to_string(repo_file("data/kjv.txt"))?;
    let lines: Vec<&str> = text.lines().skip(10_000).take(8000).collect();
    let input_file = tmp.path().join("input.txt");
    std::fs::write(&input_file, lines.join("\n") + "\n")?;
    let expected = reference_counts(&input_file);

    let (input, output) = (unique_topic("sp-in"), unique_topic("sp-out"));
    create_topic(&bootstrap, &input, 4).await?;
    create_topic(&bootstrap, &output, 4).await?;
    let values: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
    produce(&bootstrap, &input, 4, &values)?;
    let t = Topics { bootstrap: &bootstrap, input: &input, output: &output };
    let sp = tmp.path().join("savepoints");

    let s1 = run(&t, 2, &sp, None, Some(Duration::from_millis(1500))).await?.expect("savepoint");
    let partial = read_committed(&bootstrap, &output, Duration::from_secs(30))?;
    let total: u64 = expected.values().sum();
    assert!(
        !partial.is_empty() && (partial.len() as u64) < total,
        "the first run stopped part way: {} of {total} records",
        partial.len()
    );
    run(&t, 3, &sp, Some(&s1), None).await?;

    let records = read_committed(&bootstrap, &output, Duration::from_secs(30))?;
    let problems = exactly_once_problems(&expected, &updates_of(&records));
    assert!(problems.is_empty(), "p2 -> savepoint -> p3 is not exactly-once: {problems:#?}");
    assert_eq!(records.len() as u64, total);
    eprintln!("rescale 2 -> 3: {} records after the savepoint run, {} in all", partial.len(), records.len());
    Ok(())
}
