//! `rfy run -m yarn-per-job` end to end on a real Hadoop (issue 8): the
//! client plans the JobGraph and ships it; the AM runs exactly that job and
//! ends with it.

use std::time::Duration;

use rfy_itests::yarn::{local_wordcount_lines, KillOnPanic, SMALL};
use rfy_itests::{rfy, Cluster, RfyRun};

#[tokio::test(flavor = "multi_thread")]
async fn per_job_wordcount_matches_local_run_and_ends_succeeded() {
    let Some(c) = Cluster::get("per_job_wordcount_matches_local_run_and_ends_succeeded") else { return };
    let dir = c.test_dir("perjob").await;
    let input = c.put_kjv(&dir).await;
    let local = local_wordcount_lines();
    let output = format!("hdfs://{dir}/out");
    let mut args = vec!["run", "-m", "yarn-per-job", "-p", "2"];
    args.extend_from_slice(&SMALL);
    args.extend(["wordcount", "--input", &input, "--output", &output]);
    let mut run = RfyRun::start(&args, &[]);
    run.wait_for_job_running(Duration::from_secs(180));
    let app = run.application_id().expect("application id printed");
    let _guard = KillOnPanic(app.clone());
    let (st, out, _) = run.finish(Duration::from_secs(300));
    assert!(st.success(), "rfy exited {st}:\n{out}");
    let r = c.wait_final(&app, Duration::from_secs(60)).await;
    assert_eq!((r.state.as_str(), r.final_status.as_str()), ("FINISHED", "SUCCEEDED"), "{}", r.diagnostics);
    assert_eq!(c.read_output(&format!("{dir}/out")).await, local, "per-job output differs from the local run");
    assert!(!c.fs.exists(&c.staging_dir(&app)).await.unwrap(), "staging directory left behind");
    c.wait_no_containers(&app, Duration::from_secs(30)).await;

    // The planning checks run in the client: an existing output is refused before anything is deployed.
    let (st, out, _) = rfy(&args, &[], Duration::from_secs(60));
    assert!(!st.success() && !out.contains("Submitted application"), "a second run into the same output:\n{out}");
    c.fs.delete(&dir, true).await.unwrap();
}
