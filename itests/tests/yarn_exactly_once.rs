//! Issue 4, "done when" #1 on YARN: word count in `--mode updates` with the
//! exactly-once HDFS sink, input in HDFS (kjv.txt 4×, a few million words),
//! paced to run about a minute (RFY_ITEST_SECONDS overrides), checkpointing
//! every second to HDFS, `-p 2` on 2 TaskManager containers of 1 slot.
//! A TaskManager container is killed at random moments at least 3 times
//! with `yarn container -signal <id> FORCEFUL_SHUTDOWN`; every kill must be
//! followed by recovery on a replacement container. The committed output
//! on HDFS must hold, for every word, `word<TAB>1` .. `word<TAB>n` exactly
//! once (n its true count), with no uncommitted file; the application ends
//! FINISHED/SUCCEEDED and the exception history (through the RM proxy)
//! shows the failures. Prints the recovery times (kill → job RUNNING again).
//!
//! Needs HADOOP_CONF_DIR, Hadoop's `yarn` CLI on PATH and the binaries built
//! (see `rfy_itests`).

use std::time::{Duration, Instant};

use rfy_itests::local::{exactly_once_problems, reference_counts, repeated_kjv, seeded_rng};
use rfy_itests::yarn::*;
use rfy_itests::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn yarn_taskmanager_container_kills_lose_and_duplicate_nothing() {
    let Some(c) = Cluster::get("yarn_taskmanager_container_kills_lose_and_duplicate_nothing") else { return };
    let seconds = itest_seconds(60.0);
    let tmp = tempfile::tempdir().unwrap();
    let (input, lines) = repeated_kjv(tmp.path(), 4);
    let expected = reference_counts(&input);
    let words: u64 = expected.values().sum();
    assert!(words > 3_000_000, "a few million words, got {words}");
    let dir = c.test_dir("ckpt-eo").await;
    let input_uri = upload(&c, &input, &format!("{dir}/input.txt")).await;
    let out_path = format!("{dir}/out");
    let rate = (lines as f64 / seconds).ceil().to_string();
    let output = format!("hdfs://{out_path}");
    let conf = checkpointed_restart_conf(&c, &dir, &[]);
    let mut j = start_wordcount(
        &c,
        2,
        &conf,
        None,
        &["--input", &input_uri, "--output", &output, "--mode", "updates", "--rate", &rate],
    );
    let started = Instant::now();
    eprintln!("job {} in {} is RUNNING", j.job, j.app);

    let mut rng = seeded_rng();
    let mut recoveries = Vec::new();
    let deadline = seconds * 0.75; // kills stop before the sources can finish
    while recoveries.len() < 3 || (started.elapsed().as_secs_f64() < deadline * 0.8 && recoveries.len() < 5) {
        // A completed checkpoint of this attempt, then a random moment.
        let before = completed(&j.rest, &j.job).await;
        wait_completed_over(&j.rest, &j.job, before, Duration::from_secs(30)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(rng.u64(200..2500))).await;
        assert!(
            started.elapsed().as_secs_f64() < seconds,
            "kills must happen while the job runs; raise RFY_ITEST_SECONDS"
        );
        let tms = task_manager_containers(&j.rest).await.unwrap();
        assert_eq!(tms.len(), 2, "2 TaskManager containers: {tms:?}");
        let victim = tms[rng.usize(..tms.len())].clone();
        eprintln!("{:>6.1} s: killing {victim}", started.elapsed().as_secs_f64());
        let took = kill_and_wait_recovery(&j.rest, &j.job, &victim, 2, Duration::from_secs(60)).await.unwrap();
        eprintln!("{:>6.1} s: running again after {:.2} s", started.elapsed().as_secs_f64(), took.as_secs_f64());
        recoveries.push(took);
    }
    // While the AM still serves: the exception history and the restores.
    let exceptions = j.rest.get(&format!("/jobs/{}/exceptions", j.job)).await.unwrap();
    let checkpoints = j.rest.get(&format!("/jobs/{}/checkpoints", j.job)).await.unwrap();
    let history = exceptions["exceptionHistory"]["entries"].as_array().cloned().unwrap_or_default();
    assert!(history.len() >= recoveries.len(), "every failure is in the exception history: {exceptions:#}");
    assert!(exceptions.to_string().contains("container_"), "the failures name the lost containers: {exceptions:#}");
    assert!(checkpoints["counts"]["restored"].as_u64().unwrap_or(0) >= 3, "{checkpoints:#}");

    let (st, out, _) = j.finish(Duration::from_secs_f64(seconds * 4.0 + 180.0));
    assert!(st.success(), "rfy exited {st}:\n{out}");
    let r = c.wait_final(&j.app, Duration::from_secs(60)).await;
    assert_eq!((r.state.as_str(), r.final_status.as_str()), ("FINISHED", "SUCCEEDED"), "{}", r.diagnostics);

    let (got, leftovers) = hdfs_committed_updates(&c, &out_path).await.unwrap();
    let problems = exactly_once_problems(&expected, &got);
    assert!(problems.is_empty(), "output is not exactly-once: {problems:#?}");
    assert!(leftovers.is_empty(), "uncommitted files left in {out_path}: {leftovers:?}");
    let min = recoveries.iter().min().copied().unwrap_or_default();
    eprintln!(
        "YARN exactly-once over {} container kills; recovery (kill → all subtasks RUNNING): {:?}; min {:.2} s, median {:.2} s",
        recoveries.len(),
        recoveries.iter().map(|d| format!("{:.2} s", d.as_secs_f64())).collect::<Vec<_>>(),
        min.as_secs_f64(),
        median(&recoveries).as_secs_f64()
    );
    c.wait_no_containers(&j.app, Duration::from_secs(60)).await;
    c.fs.delete(&dir, true).await.unwrap();
}
