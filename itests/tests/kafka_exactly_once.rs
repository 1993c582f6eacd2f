//! Issue 12, "done when" in local mode against the real broker of
//! `scripts/kafka`: N known lines in a 4-partition topic; `kafka-wordcount`
//! at `-p 2` with 1 s checkpoints reads them (bounded, paced), counts words
//! and writes a running count per word with the exactly-once sink while a
//! TaskManager is killed 3 times; a `read_committed` consumer then reads,
//! for every word, the counts 1..n exactly once (none lost, none
//! duplicated), and `kafka-consumer-groups --describe` shows the offsets
//! the source committed to its group (the end offsets, once it finished).

use std::time::{Duration, Instant};

use rfy_client::follow::RestClient;
use rfy_client::local::LocalCluster;
use rfy_itests::kafka::*;
use rfy_itests::local::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_to_kafka_exactly_once_through_taskmanager_kills() -> anyhow::Result<()> {
    init_logging();
    let Some(bootstrap) = bootstrap("kafka_exactly_once") else { return Ok(()) };
    let seconds: f64 = std::env::var("RFY_ITEST_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(22.0);
    let tmp = tempfile::tempdir()?;
    let text = std::fs::read_to_string(repo_file("data/kjv.txt"))?;
    let lines: Vec<&str> = text.lines().take(8000).collect();
    let input_file = tmp.path().join("input.txt");
    std::fs::write(&input_file, lines.join("\n") + "\n")?;
    let expected = reference_counts(&input_file);

    let (input, output) = (unique_topic("eo-in"), unique_topic("eo-out"));
    create_topic(&bootstrap, &input, 4).await?;
    create_topic(&bootstrap, &output, 4).await?;
    let values: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
    produce(&bootstrap, &input, 4, &values)?;

    let group = format!("{input}-group");
    let rate = (lines.len() as f64 / seconds).ceil().to_string();
    let conf = conf(&[
        ("execution.checkpointing.interval", "1 s".into()),
        ("state.checkpoints.dir", tmp.path().join("checkpoints").display().to_string()),
        ("state.checkpoints.num-retained", "2".into()),
        ("local.number-taskmanager", "2".into()),
        ("restart-strategy.exponential-delay.initial-backoff", "500 ms".into()),
    ]);
    let args = [
        "--bootstrap-servers",
        &bootstrap,
        "--input-topic",
        &input,
        "--output-topic",
        &output,
        "--group-id",
        &group,
        "--transactional-id-prefix",
        &output,
        "--bounded",
        "--rate",
        &rate,
    ];
    let graph = plan(&conf, "kafka-wordcount", 2, &args)?;
    let cluster = LocalCluster::start(&conf, graph.required_slots()).await?;
    let client = RestClient::new(cluster.rest_url())?;
    let job = client.submit(&graph, &Default::default()).await?;
    let started = Instant::now();

    let mut rng = seeded_rng();
    let mut recoveries = Vec::new();
    while recoveries.len() < 3 {
        recoveries.push(kill_and_recover(&cluster, &client, &job, &mut rng, 100..1500, started, seconds).await?);
    }
    let state = wait_terminal(&client, &job, Duration::from_secs_f64(seconds * 4.0 + 60.0)).await?;
    let exceptions = client.get(&format!("/jobs/{job}/exceptions")).await?;
    let checkpoints = client.get(&format!("/jobs/{job}/checkpoints")).await?;
    cluster.shutdown().await;
    assert_eq!(state, "FINISHED", "exceptions: {exceptions:#}");
    assert!(checkpoints["counts"]["restored"].as_u64().unwrap_or(0) >= 3, "{checkpoints:#}");

    let records = read_committed(&bootstrap, &output, Duration::from_secs(60))?;
    let words: u64 = expected.values().sum();
    let problems = exactly_once_problems(&expected, &updates_of(&records));
    assert!(
        problems.is_empty(),
        "read_committed output is not exactly-once ({} records for {words} words): {problems:#?}",
        records.len()
    );
    assert_eq!(records.len() as u64, words);

    // The source committed its checkpointed offsets to the group, for every partition.
    let described = describe_group(&bootstrap, &group)?;
    let committed: Vec<u64> = described
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some(input.as_str()))
        .filter_map(|l| l.split_whitespace().nth(3)?.parse().ok())
        .collect();
    assert_eq!(committed.len(), 4, "a committed offset per partition:\n{described}");
    // The bounded source commits its final offsets: every line was read.
    assert_eq!(committed.iter().sum::<u64>(), lines.len() as u64, "offsets committed:\n{described}");
    eprintln!(
        "exactly-once Kafka -> Kafka over {} kills: {} records read back; group offsets {committed:?}",
        recoveries.len(),
        records.len()
    );
    Ok(())
}
