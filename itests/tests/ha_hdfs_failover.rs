//! Issue 21, HDFS HA: a word count on YARN on the HA stack (`scripts/ha-hadoop`)
//! whose input, output and checkpoints are all `hdfs://ns1/...` (the name
//! service, resolved from `dfs.nameservices` / `dfs.ha.namenodes.ns1` in the
//! cluster's configuration; the client's staging and bundle upload go there
//! too through `fs.defaultFS=hdfs://ns1`), checkpointing every second, paced
//! to run ~25 s (`RFY_ITEST_SECONDS`). Mid-run, Hadoop's own
//! `hdfs haadmin -failover <active> <standby>` moves the active NameNode.
//! Checked: checkpoints complete again after the failover (the gap is
//! printed), no task fails, the application ends FINISHED/SUCCEEDED, and the
//! committed output holds every word's `word<TAB>1..n` exactly once.
//!
//! Environment: see `rfy_itests::ha` (`RFY_HA_HADOOP_HOME`, `RFY_HA_HADOOP_CONF_DIR`).

use std::time::{Duration, Instant};

use rfy_itests::ha::HaStack;
use rfy_itests::local::{exactly_once_problems, reference_counts, repeated_kjv};
use rfy_itests::yarn::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn namenode_failover_mid_job_keeps_checkpoints_and_exactly_once() {
    let Some(ha) = HaStack::get("namenode_failover_mid_job_keeps_checkpoints_and_exactly_once") else { return };
    let c = &ha.cluster;
    assert_eq!(c.conf.default_fs(), "hdfs://ns1", "the HA stack's fs.defaultFS is its name service");
    c.rm.cluster_info().await.expect("an active ResourceManager");
    let seconds = itest_seconds(25.0);
    let tmp = tempfile::tempdir().unwrap();
    let (input, lines) = repeated_kjv(tmp.path(), 1);
    let expected = reference_counts(&input);
    let dir = c.test_dir("ha-nn-failover").await;
    upload(c, &input, &format!("{dir}/input.txt")).await;
    let ns = |p: &str| format!("hdfs://ns1{dir}/{p}");
    let rate = (lines as f64 / seconds).ceil().to_string();
    let conf = vec![
        ("execution.checkpointing.interval", "1 s".to_string()),
        ("state.checkpoints.dir", ns("checkpoints")),
        ("state.checkpoints.num-retained", "2".into()),
        ("restart-strategy.type", "fixed-delay".into()),
        ("restart-strategy.fixed-delay.attempts", "20".into()),
        ("restart-strategy.fixed-delay.delay", "200 ms".into()),
    ];
    let (input_uri, output) = (ns("input.txt"), ns("out"));
    let mut j = start_wordcount(
        c,
        2,
        &conf,
        None,
        &["--input", &input_uri, "--output", &output, "--mode", "updates", "--rate", &rate],
    );
    eprintln!("job {} in {} is RUNNING", j.job, j.app);

    // Two checkpoints on the first NameNode, then the failover.
    wait_completed_over(&j.rest, &j.job, 1, Duration::from_secs(60)).await.unwrap();
    let (from, to) = ha.namenodes().await;
    let t0 = Instant::now();
    eprintln!("hdfs haadmin -failover {from} {to}");
    let haadmin = {
        let (bin, from, to) = (format!("{}/bin/hdfs", ha.home), from.clone(), to.clone());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(bin).args(["haadmin", "-failover", &from, &to]).output()
        })
    };
    // When the old NameNode stops being active and the new one starts, seen from their JMX every 50 ms.
    let (mut left, mut took_over, mut at_left) = (None, None, 0);
    while !haadmin.is_finished() || took_over.is_none() {
        if left.is_none() && ha.namenode_state(&from).await.as_deref() != Some("active") {
            left = Some(t0.elapsed());
            at_left = completed(&j.rest, &j.job).await;
        }
        if took_over.is_none() && ha.namenode_state(&to).await.as_deref() == Some("active") {
            took_over = Some(t0.elapsed());
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "no failover within 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = haadmin.await.unwrap().expect("run hdfs haadmin");
    assert!(out.status.success(), "hdfs haadmin -failover failed: {}", String::from_utf8_lossy(&out.stderr));
    let switched = t0.elapsed();
    let (left, took_over) = (left.unwrap_or(switched), took_over.unwrap_or(switched));
    assert_eq!(ha.namenode_state(&to).await.as_deref(), Some("active"), "{to} is active after the failover");
    assert_eq!(ha.namenode_state(&from).await.as_deref(), Some("standby"), "{from} is standby after the failover");
    assert!(at_left > 0, "checkpoint statistics when {from} left active");
    wait_completed_over(&j.rest, &j.job, at_left, Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("checkpoints did not complete again after the NameNode failover: {e}"));
    let gap = t0.elapsed();
    let stats = j.rest.get(&format!("/jobs/{}/checkpoints", j.job)).await.unwrap();
    eprintln!(
        "NameNode failover {from} -> {to}: {from} left active at +{:.2} s, {to} active at +{:.2} s, haadmin returned at \
         +{:.2} s; the next checkpoint completed at +{:.2} s: {:.2} s after {from} left active (checkpoints completed {}, \
         failed {})",
        left.as_secs_f64(),
        took_over.as_secs_f64(),
        switched.as_secs_f64(),
        gap.as_secs_f64(),
        gap.saturating_sub(left).as_secs_f64(),
        stats["counts"]["completed"],
        stats["counts"]["failed"]
    );
    assert_eq!(failures(&j.rest, &j.job).await.unwrap(), 0, "no task failed over the NameNode failover");

    let (st, out, _) = j.finish(Duration::from_secs_f64(seconds * 4.0 + 180.0));
    assert!(st.success(), "rfy exited {st}:\n{out}");
    let r = c.wait_final(&j.app, Duration::from_secs(60)).await;
    assert_eq!((r.state.as_str(), r.final_status.as_str()), ("FINISHED", "SUCCEEDED"), "{}", r.diagnostics);
    let (got, leftovers) = hdfs_committed_updates(c, &format!("{dir}/out")).await.unwrap();
    let problems = exactly_once_problems(&expected, &got);
    assert!(problems.is_empty(), "output is not exactly-once: {problems:#?}");
    assert!(leftovers.is_empty(), "uncommitted files left: {leftovers:?}");
    eprintln!(
        "exactly once over the NameNode failover: {} words, {} distinct",
        expected.values().sum::<u64>(),
        expected.len()
    );
    c.wait_no_containers(&j.app, Duration::from_secs(60)).await;
    c.fs.delete(&dir, true).await.unwrap();
}
