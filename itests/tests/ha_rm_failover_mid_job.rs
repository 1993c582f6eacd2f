//! Issue 21, ResourceManager failover mid-job: a word count on YARN on the HA
//! stack (`scripts/ha-hadoop`: rm1/rm2 with a file-system state store and
//! work-preserving recovery), 1 s checkpoints, paced to run ~30 s
//! (`RFY_ITEST_SECONDS`). Mid-run Hadoop's own `yarn rmadmin
//! -transitionToStandby <active>` then `-transitionToActive <other>` moves
//! the active RM. The AM's AMRM client reconnects to the other RM's
//! scheduler address, answers its `ApplicationMasterNotRegisteredException`
//! by registering again (resync) and goes on heartbeating. Checked: the
//! TaskManager containers are the same before and after (no task restart, no
//! failure in the exception history), checkpoints complete again (the time
//! from the failover to the next completed checkpoint is printed), the
//! application ends FINISHED/SUCCEEDED on the new RM, and the committed
//! output is exactly once.
//!
//! Environment: see `rfy_itests::ha` (`RFY_HA_HADOOP_HOME`, `RFY_HA_HADOOP_CONF_DIR`).

use std::time::{Duration, Instant};

use rfy_client::follow::RestClient;
use rfy_itests::ha::HaStack;
use rfy_itests::local::{completed_checkpoints, exactly_once_problems, reference_counts, repeated_kjv};
use rfy_itests::yarn::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rm_failover_mid_job_keeps_the_containers_and_exactly_once() {
    let Some(ha) = HaStack::get("rm_failover_mid_job_keeps_the_containers_and_exactly_once") else { return };
    let c = &ha.cluster;
    c.rm.cluster_info().await.expect("an active ResourceManager");
    let seconds = itest_seconds(30.0);
    let tmp = tempfile::tempdir().unwrap();
    let (input, lines) = repeated_kjv(tmp.path(), 1);
    let expected = reference_counts(&input);
    let dir = c.test_dir("ha-rm-mid-job").await;
    upload(c, &input, &format!("{dir}/input.txt")).await;
    let ns = |p: &str| format!("hdfs://ns1{dir}/{p}");
    let rate = (lines as f64 / seconds).ceil().to_string();
    let conf = vec![
        ("execution.checkpointing.interval", "1 s".to_string()),
        ("state.checkpoints.dir", ns("checkpoints")),
        ("state.checkpoints.num-retained", "2".into()),
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
    let tms_before = task_manager_containers(&j.rest).await.unwrap();
    assert_eq!(tms_before.len(), 2, "{tms_before:?}");

    let (from, to) = ha.resourcemanagers().await;
    let before = completed_checkpoints(&j.rest, &j.job).await.expect("checkpoint statistics");
    let t0 = Instant::now();
    ha.cli("yarn", &["rmadmin", "-transitionToStandby", &from]);
    let standby_at = t0.elapsed();
    ha.cli("yarn", &["rmadmin", "-transitionToActive", &to]);
    let active_at = t0.elapsed();
    eprintln!(
        "RM failover {from} -> {to}: {from} standby after {:.2} s, {to} active after {:.2} s (yarn rmadmin, one JVM each)",
        standby_at.as_secs_f64(),
        active_at.as_secs_f64()
    );
    // The JobManager through the web proxy of the RM active now (the RM client finds it); that
    // proxy answers for the application once the AM registered with it again (resync).
    assert_eq!(c.rm.cluster_info().await.unwrap().ha_state, "ACTIVE");
    j.rest = RestClient::new(format!("{}/proxy/{}", c.rm.base_url(), j.app)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let after = loop {
        match completed_checkpoints(&j.rest, &j.job).await {
            Ok(n) => break n,
            Err(e) => assert!(Instant::now() < deadline, "the JobManager is not reachable through {to}'s proxy: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let reachable = t0.elapsed();
    wait_completed_over(&j.rest, &j.job, after, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("checkpoints did not complete again after the RM failover: {e}"));
    let next = t0.elapsed();
    eprintln!(
        "checkpoints completed during the RM failover: {} ({before} before it began, {after} when {to}'s proxy reached the JobManager {:.2} s after it became active); the next one {:.2} s after the failover began",
        after - before,
        reachable.saturating_sub(active_at).as_secs_f64(),
        next.as_secs_f64()
    );
    assert!(after > before + 1, "checkpoints went on while the ResourceManagers failed over: {before} -> {after}");
    let tms_after = task_manager_containers(&j.rest).await.unwrap();
    assert_eq!(tms_after, tms_before, "the TaskManager containers stay over the RM failover");
    assert_eq!(failures(&j.rest, &j.job).await.unwrap(), 0, "no task failed over the RM failover");

    let (st, out, _) = j.finish(Duration::from_secs_f64(seconds * 4.0 + 180.0));
    assert!(st.success(), "rfy exited {st}:\n{out}");
    let r = c.wait_final(&j.app, Duration::from_secs(60)).await;
    assert_eq!((r.state.as_str(), r.final_status.as_str()), ("FINISHED", "SUCCEEDED"), "{}", r.diagnostics);
    let (got, leftovers) = hdfs_committed_updates(c, &format!("{dir}/out")).await.unwrap();
    let problems = exactly_once_problems(&expected, &got);
    assert!(problems.is_empty(), "output is not exactly-once: {problems:#?}");
    assert!(leftovers.is_empty(), "uncommitted files left: {leftovers:?}");
    eprintln!(
        "exactly once over the RM failover: {} words, {} distinct",
        expected.values().sum::<u64>(),
        expected.len()
    );
    c.wait_no_containers(&j.app, Duration::from_secs(60)).await;
    c.fs.delete(&dir, true).await.unwrap();
}
