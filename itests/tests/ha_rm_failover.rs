//! Issue 21, ResourceManager HA in the REST client: on the HA stack
//! (`scripts/ha-hadoop`), Hadoop's own `yarn rmadmin -transitionToStandby`
//! / `-transitionToActive` make the first configured RM (the one every
//! client tries first) a standby and the other the active one. Then:
//! - an `RmRestClient` from the configuration finds the active RM (the
//!   standby answers `/ws/v1/cluster/info` with `haState: STANDBY` and 307s
//!   elsewhere, which is never followed);
//! - `rfy run -m yarn-application` submits a word count there (the client
//!   says which RM took it), the AM finds the active RM's scheduler among
//!   `yarn.resourcemanager.scheduler.address.<id>`, and the job finishes
//!   with exactly-once output.
//!
//! Environment: see `rfy_itests::ha` (`RFY_HA_HADOOP_HOME`, `RFY_HA_HADOOP_CONF_DIR`).

use std::time::{Duration, Instant};

use rfy_itests::ha::HaStack;
use rfy_itests::local::{exactly_once_problems, reference_counts, repeated_kjv};
use rfy_itests::yarn::*;
use rfy_itests::RmRestClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn submission_finds_the_active_rm_when_the_first_is_standby() {
    let Some(ha) = HaStack::get("submission_finds_the_active_rm_when_the_first_is_standby") else { return };
    let c = &ha.cluster;
    let urls = c.conf.rm_webapp_urls().unwrap();
    assert_eq!(urls.len(), 2, "two ResourceManagers configured: {urls:?}");
    // rm1 (the first configured) standby, rm2 active, whatever they were.
    let (active, _) = ha.resourcemanagers().await;
    if active == "rm1" {
        let t = Instant::now();
        ha.cli("yarn", &["rmadmin", "-transitionToStandby", "rm1"]);
        ha.cli("yarn", &["rmadmin", "-transitionToActive", "rm2"]);
        eprintln!("RM failover rm1 -> rm2 with yarn rmadmin took {:.2} s", t.elapsed().as_secs_f64());
    }
    assert_eq!(ha.rm_state("rm1").await.as_deref(), Some("STANDBY"));
    assert_eq!(ha.rm_state("rm2").await.as_deref(), Some("ACTIVE"));

    // A fresh client starts at rm1 and moves to rm2.
    let rm = RmRestClient::from_config(&c.conf, &c.user).unwrap();
    assert_eq!(rm.base_url(), urls[0]);
    let t = Instant::now();
    let apps = rm.apps(Some("rfy"), None, None).await.expect("the RM REST API through the active RM");
    eprintln!("client found the active RM in {:.3} s ({} rfy apps listed)", t.elapsed().as_secs_f64(), apps.len());
    assert_eq!(rm.base_url(), urls[1], "the client now talks to the active RM");
    assert_eq!(rm.cluster_info().await.unwrap().ha_state, "ACTIVE");

    // A word count submitted while rm1 is standby.
    let tmp = tempfile::tempdir().unwrap();
    let (input, _) = repeated_kjv(tmp.path(), 1);
    let expected = reference_counts(&input);
    let dir = c.test_dir("ha-rm-standby").await;
    upload(c, &input, &format!("{dir}/input.txt")).await;
    let ns = |p: &str| format!("hdfs://ns1{dir}/{p}");
    let conf =
        vec![("execution.checkpointing.interval", "1 s".to_string()), ("state.checkpoints.dir", ns("checkpoints"))];
    let (input_uri, output) = (ns("input.txt"), ns("out"));
    let mut j = start_wordcount(c, 1, &conf, None, &["--input", &input_uri, "--output", &output, "--mode", "updates"]);
    let (st, out, _) = j.finish(Duration::from_secs(240));
    assert!(st.success(), "rfy exited {st}:\n{out}");
    assert!(
        out.contains(&format!("to YARN at {}", urls[1])),
        "the client names the active RM it submitted to ({}):\n{out}",
        urls[1]
    );
    let r = c.wait_final(&j.app, Duration::from_secs(60)).await;
    assert_eq!((r.state.as_str(), r.final_status.as_str()), ("FINISHED", "SUCCEEDED"), "{}", r.diagnostics);
    let (got, leftovers) = hdfs_committed_updates(c, &format!("{dir}/out")).await.unwrap();
    let problems = exactly_once_problems(&expected, &got);
    assert!(problems.is_empty(), "output is not exactly-once: {problems:#?}");
    assert!(leftovers.is_empty(), "uncommitted files left: {leftovers:?}");
    c.wait_no_containers(&j.app, Duration::from_secs(60)).await;
    c.fs.delete(&dir, true).await.unwrap();
}
