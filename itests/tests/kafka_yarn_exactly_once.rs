//! Issue 12, "done when" on YARN: `kafka-wordcount` at `-p 2` in its own
//! YARN application (2 TaskManager containers of 1 slot, checkpoints every
//! second to HDFS) reads N known lines from a 4-partition topic of the real
//! broker of `scripts/kafka` and writes a running count per word with the
//! exactly-once sink, while a TaskManager container is killed 3 times with
//! YARN's `FORCEFUL_SHUTDOWN` signal (as `yarn container -signal`, sent
//! through the RM's REST API); a `read_committed` consumer
//! then reads every word's counts 1..n exactly once.
//!
//! Needs HADOOP_CONF_DIR, Hadoop's `yarn` CLI on PATH, the rfy binaries
//! built (see `rfy_itests`) and RFY_KAFKA_BOOTSTRAP.

use std::time::{Duration, Instant};

use rfy_itests::kafka::*;
use rfy_itests::local::{exactly_once_problems, reference_counts, repo_file, seeded_rng};
use rfy_itests::yarn::*;
use rfy_itests::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_yarn_container_kills_lose_and_duplicate_nothing() -> anyhow::Result<()> {
    let Some(bootstrap) = bootstrap("kafka_yarn_exactly_once") else { return Ok(()) };
    let Some(c) = Cluster::get("kafka_yarn_container_kills_lose_and_duplicate_nothing") else { return Ok(()) };
    let seconds = itest_seconds(30.0);
    let tmp = tempfile::tempdir()?;
    let text = std::fs::read_to_string(repo_file("data/kjv.txt"))?;
    let lines: Vec<&str> = text.lines().skip(20_000).take(8000).collect();
    let input_file = tmp.path().join("input.txt");
    std::fs::write(&input_file, lines.join("\n") + "\n")?;
    let expected = reference_counts(&input_file);

    let (input, output) = (unique_topic("yarn-in"), unique_topic("yarn-out"));
    create_topic(&bootstrap, &input, 4).await?;
    create_topic(&bootstrap, &output, 4).await?;
    let values: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
    produce(&bootstrap, &input, 4, &values)?;

    let dir = c.test_dir("kafka-eo").await;
    let conf = checkpointed_restart_conf(&c, &dir, &[]);
    let rate = (lines.len() as f64 / seconds).ceil().to_string();
    let args = [
        "--bootstrap-servers",
        &bootstrap,
        "--input-topic",
        &input,
        "--output-topic",
        &output,
        "--group-id",
        &input,
        "--transactional-id-prefix",
        &output,
        "--bounded",
        "--rate",
        &rate,
    ];
    let mut j = start_job(&c, 2, &conf, None, "kafka-wordcount", &args);
    let started = Instant::now();
    eprintln!("job {} in {} is RUNNING", j.job, j.app);
    let mut rng = seeded_rng();
    let mut recoveries = Vec::new();
    while recoveries.len() < 3 {
        let before = completed(&j.rest, &j.job).await;
        wait_completed_over(&j.rest, &j.job, before, Duration::from_secs(30)).await?;
        tokio::time::sleep(Duration::from_millis(rng.u64(100..1500))).await;
        assert!(
            started.elapsed().as_secs_f64() < seconds,
            "kills must happen while the job runs; raise RFY_ITEST_SECONDS"
        );
        let tms = task_manager_containers(&j.rest).await?;
        let victim = tms[rng.usize(..tms.len())].clone();
        eprintln!("{:>6.1} s: killing {victim}", started.elapsed().as_secs_f64());
        let took = kill_and_wait_recovery(&j.rest, &j.job, &victim, 2, Duration::from_secs(60)).await?;
        eprintln!("{:>6.1} s: running again after {:.2} s", started.elapsed().as_secs_f64(), took.as_secs_f64());
        recoveries.push(took);
    }
    let (st, out, _) = j.finish(Duration::from_secs_f64(seconds * 4.0 + 180.0));
    assert!(st.success(), "rfy exited {st}:\n{out}");
    let r = c.wait_final(&j.app, Duration::from_secs(60)).await;
    assert_eq!((r.state.as_str(), r.final_status.as_str()), ("FINISHED", "SUCCEEDED"), "{}", r.diagnostics);

    let records = read_committed(&bootstrap, &output, Duration::from_secs(60))?;
    let problems = exactly_once_problems(&expected, &updates_of(&records));
    assert!(problems.is_empty(), "read_committed output is not exactly-once: {problems:#?}");
    assert_eq!(records.len() as u64, expected.values().sum::<u64>());
    eprintln!("YARN exactly-once Kafka -> Kafka over {} container kills: {} records", recoveries.len(), records.len());
    c.wait_no_containers(&j.app, Duration::from_secs(60)).await;
    c.fs.delete(&dir, true).await?;
    Ok(())
}
