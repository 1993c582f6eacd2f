//! Issue 21, a NameNode crash mid-job: a word count on YARN on the HA stack
//! (`scripts/ha-hadoop`), input, output and checkpoints on `hdfs://ns1`, 1 s
//! checkpoints, paced to run ~30 s (`RFY_ITEST_SECONDS`). Mid-run the
//! active NameNode is killed with SIGKILL (`scripts/ha-hadoop kill9`); with
//! manual failover HDFS has no active NameNode until an operator runs
//! `hdfs haadmin -transitionToActive --forceactive <other>`, as the test
//! does next. Checked: checkpoints complete again on the other NameNode (the
//! time from the kill is printed, with the checkpoints declined meanwhile
//! and the task failures, if any), the application ends FINISHED/SUCCEEDED
//! and the committed output is exactly once. The killed NameNode is started
//! again as the standby afterwards.
//!
//! Environment: see `rfy_itests::ha` (`RFY_HA_HADOOP_HOME`, `RFY_HA_HADOOP_CONF_DIR`).

use std::time::{Duration, Instant};

use rfy_itests::ha::HaStack;
use rfy_itests::local::{exactly_once_problems, reference_counts, repeated_kjv};
use rfy_itests::repo_root;
use rfy_itests::yarn::*;

/// `scripts/ha-hadoop <args>` on the test's stack.
fn ha_script(ha: &HaStack, args: &[&str]) {
    let out = std::process::Command::new(repo_root().join("scripts/ha-hadoop"))
        .args(args)
        .env("RFY_HA_HADOOP_HOME", &ha.home)
        .output()
        .expect("run scripts/ha-hadoop");
    assert!(out.status.success(), "scripts/ha-hadoop {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn active_namenode_killed_mid_job_then_manual_failover_keeps_exactly_once() {
    let Some(ha) = HaStack::get("active_namenode_killed_mid_job_then_manual_failover_keeps_exactly_once") else {
        return;
    };
    let c = &ha.cluster;
    c.rm.cluster_info().await.expect("an active ResourceManager");
    let seconds = itest_seconds(30.0);
    let tmp = tempfile::tempdir().unwrap();
    let (input, lines) = repeated_kjv(tmp.path(), 1);
    let expected = reference_counts(&input);
    let dir = c.test_dir("ha-nn-kill").await;
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
    wait_completed_over(&j.rest, &j.job, 1, Duration::from_secs(60)).await.unwrap();
    let (victim, other) = ha.namenodes().await;
    let before = completed(&j.rest, &j.job).await;
    let t0 = Instant::now();
    ha_script(&ha, &["kill9", &victim]);
    eprintln!("killed the active NameNode {victim} (SIGKILL); hdfs haadmin -transitionToActive --forceactive {other}");
    ha.cli("hdfs", &["haadmin", "-transitionToActive", "--forceactive", &other]);
    let active_at = t0.elapsed();
    assert_eq!(ha.namenode_state(&other).await.as_deref(), Some("active"));
    wait_completed_over(&j.rest, &j.job, before, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("checkpoints did not complete again after {victim} was killed: {e}"));
    let gap = t0.elapsed();
    let stats = j.rest.get(&format!("/jobs/{}/checkpoints", j.job)).await.unwrap();
    let failed_tasks = failures(&j.rest, &j.job).await.unwrap();
    eprintln!(
        "NameNode {victim} killed: {other} active after {:.2} s (haadmin JVM); the next checkpoint completed {:.2} s \
         after the kill, {:.2} s after {other} became active (checkpoints completed {}, failed {}; task failures {failed_tasks})",
        active_at.as_secs_f64(),
        gap.as_secs_f64(),
        gap.saturating_sub(active_at).as_secs_f64(),
        stats["counts"]["completed"],
        stats["counts"]["failed"]
    );

    let (st, out, _) = j.finish(Duration::from_secs_f64(seconds * 4.0 + 180.0));
    assert!(st.success(), "rfy exited {st}:\n{out}");
    let r = c.wait_final(&j.app, Duration::from_secs(60)).await;
    assert_eq!((r.state.as_str(), r.final_status.as_str()), ("FINISHED", "SUCCEEDED"), "{}", r.diagnostics);
    let (got, leftovers) = hdfs_committed_updates(c, &format!("{dir}/out")).await.unwrap();
    let problems = exactly_once_problems(&expected, &got);
    assert!(problems.is_empty(), "output is not exactly-once: {problems:#?}");
    assert!(leftovers.is_empty(), "uncommitted files left: {leftovers:?}");
    eprintln!("exactly once over the NameNode kill: {} words", expected.values().sum::<u64>());
    c.wait_no_containers(&j.app, Duration::from_secs(60)).await;
    c.fs.delete(&dir, true).await.unwrap();
    // The stack as it was: the killed NameNode back, as the standby.
    ha_script(&ha, &["start-daemon", &victim]);
    assert_eq!(ha.namenode_state(&victim).await.as_deref(), Some("standby"));
}
