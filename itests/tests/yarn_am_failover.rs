//! Issue 11, ApplicationMaster failover: word count in `--mode updates` with
//! the exactly-once HDFS sink, input in HDFS (kjv.txt 2×), paced to run about
//! 30 s (RFY_ITEST_SECONDS overrides), checkpointing every second to HDFS,
//! `-p 2` on 2 TaskManager containers of 1 slot, `yarn.application-attempts`
//! 2. Once a checkpoint completed, the AM container is killed with
//! `yarn container -signal <am container> FORCEFUL_SHUTDOWN`: YARN starts
//! attempt 2, which finds the job in the job store under the staging
//! directory and resubmits it under the same (application-derived) job id,
//! restoring its latest completed checkpoint, on new TaskManager containers.
//! Then a TaskManager container of the new attempt is killed too.
//!
//! Asserts: the new attempt restored a checkpoint (not a rerun from scratch);
//! the attached client reported the failover and exited 0; the application
//! ends FINISHED/SUCCEEDED; the committed output on HDFS holds every word's
//! updates `1..n` exactly once with no uncommitted file; the staging
//! directory is gone and no container is left. Prints the recovery time
//! (AM kill command returned → every subtask RUNNING in the new attempt;
//! target ≤ 10 s) and the TaskManager recovery time.
//!
//! Session mode (`yarn_session_am_container_kill_recovers_the_running_job`):
//! a detached session runs a checkpointing word count; its AM container is
//! killed; attempt 2 takes the job over from the job store under the same
//! job id, restored from a checkpoint, and `rfy yarn-session stop` then
//! ends the application SUCCEEDED with no staging directory left.
//!
//! Needs HADOOP_CONF_DIR, Hadoop's `yarn` CLI on PATH and the binaries built
//! (see `rfy_itests`).

use std::time::{Duration, Instant};

use rfy_client::follow::RestClient;
use rfy_client::yarn::AmIdentity;
use rfy_itests::local::{exactly_once_problems, reference_counts, repeated_kjv};
use rfy_itests::yarn::*;
use rfy_itests::{rfy, Cluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn yarn_am_container_kill_recovers_the_job_exactly_once() {
    let Some(c) = Cluster::get("yarn_am_container_kill_recovers_the_job_exactly_once") else { return };
    let seconds = itest_seconds(30.0);
    let tmp = tempfile::tempdir().unwrap();
    let (input, lines) = repeated_kjv(tmp.path(), 2);
    let expected = reference_counts(&input);
    let dir = c.test_dir("am-failover").await;
    let input_uri = upload(&c, &input, &format!("{dir}/input.txt")).await;
    let out_path = format!("{dir}/out");
    let rate = (lines as f64 / seconds).ceil().to_string();
    let output = format!("hdfs://{out_path}");
    let conf = checkpointed_restart_conf(&c, &dir, &[("yarn.application-attempts", "2")]);
    let mut j = start_wordcount(
        &c,
        2,
        &conf,
        None,
        &["--input", &input_uri, "--output", &output, "--mode", "updates", "--rate", &rate],
    );
    let started = Instant::now();
    eprintln!("job {} in {} is RUNNING", j.job, j.app);

    // 1. The AM container, once a checkpoint completed.
    let done = wait_completed_over(&j.rest, &j.job, 1, Duration::from_secs(60)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(fastrand::u64(200..1200))).await;
    let before = AmIdentity::of(&c.rm.app_report(&j.app).await.unwrap());
    let am = before.container.clone().expect("the report names the AM container");
    assert_eq!(before.attempt, Some(1), "{before:?}");
    let old_tms = task_manager_containers(&j.rest).await.unwrap();
    assert_eq!(old_tms.len(), 2, "{old_tms:?}");
    assert!(started.elapsed().as_secs_f64() < seconds * 0.5, "the AM kill must happen early; raise RFY_ITEST_SECONDS");
    eprintln!(
        "{:>6.1} s: {done} checkpoint(s) completed; killing the AM container {am}",
        started.elapsed().as_secs_f64()
    );
    let victim = am.clone();
    tokio::task::spawn_blocking(move || kill_container(&victim)).await.unwrap().unwrap();
    let killed_at = Instant::now();

    // 2. Attempt 2 runs the same job again, restored, on new TaskManagers.
    let limit = Duration::from_secs(90);
    let mut new_am = None;
    let am_recovery = loop {
        assert!(killed_at.elapsed() < limit, "the job did not run again within {limit:?} after the AM kill");
        if new_am.is_none() {
            let r = c.rm.app_report(&j.app).await.unwrap();
            assert!(
                !r.is_final(),
                "the application ended after the AM kill: {} {}: {}",
                r.state,
                r.final_status,
                r.diagnostics
            );
            let now = AmIdentity::of(&r);
            if now.container.is_some() && now.container != before.container {
                eprintln!(
                    "{:>6.2} s after the kill: attempt {:?} in {:?}",
                    killed_at.elapsed().as_secs_f64(),
                    now.attempt,
                    now.container
                );
                new_am = Some(now);
            }
        } else {
            let tms = task_manager_containers(&j.rest).await.unwrap_or_default();
            if tms.len() == 2
                && !tms.iter().any(|t| old_tms.contains(t))
                && fully_running_or_not(&j.rest, &j.job).await.unwrap()
            {
                break killed_at.elapsed();
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let new_am = new_am.unwrap();
    assert_eq!(new_am.attempt, Some(2), "{new_am:?}");
    eprintln!(
        "{:>6.1} s: job RUNNING again on attempt 2 after {:.2} s",
        started.elapsed().as_secs_f64(),
        am_recovery.as_secs_f64()
    );
    let checkpoints = j.rest.get(&format!("/jobs/{}/checkpoints", j.job)).await.unwrap();
    let restored = checkpoints["latest"]["restored"]["id"].as_u64();
    assert!(
        restored.is_some_and(|id| id >= done),
        "attempt 2 restored checkpoint {restored:?}, expected one at least as new as {done}: {checkpoints:#}"
    );

    // 3. A TaskManager of the new attempt, once it completed a checkpoint.
    let n = completed(&j.rest, &j.job).await;
    wait_completed_over(&j.rest, &j.job, n, Duration::from_secs(30)).await.unwrap();
    let tms = task_manager_containers(&j.rest).await.unwrap();
    assert!(
        started.elapsed().as_secs_f64() < seconds * 0.8,
        "kills must happen while the job runs; raise RFY_ITEST_SECONDS"
    );
    let tm_recovery = kill_and_wait_recovery(&j.rest, &j.job, &tms[0], 2, Duration::from_secs(60)).await.unwrap();
    eprintln!(
        "{:>6.1} s: TaskManager {} killed; RUNNING again after {:.2} s",
        started.elapsed().as_secs_f64(),
        tms[0],
        tm_recovery.as_secs_f64()
    );

    // 4. The end: one application, SUCCEEDED, output exactly once.
    let (st, out, _) = j.finish(Duration::from_secs_f64(seconds * 4.0 + 180.0));
    assert!(st.success(), "rfy exited {st}:\n{out}");
    assert!(out.contains("ApplicationMaster failover: application"), "the client did not report the failover:\n{out}");
    assert!(out.contains("is RUNNING again on attempt 2"), "the client did not follow the job:\n{out}");
    let r = c.wait_final(&j.app, Duration::from_secs(60)).await;
    assert_eq!((r.state.as_str(), r.final_status.as_str()), ("FINISHED", "SUCCEEDED"), "{}", r.diagnostics);
    let (got, leftovers) = hdfs_committed_updates(&c, &out_path).await.unwrap();
    let problems = exactly_once_problems(&expected, &got);
    assert!(problems.is_empty(), "output is not exactly-once: {problems:#?}");
    assert!(leftovers.is_empty(), "uncommitted files left in {out_path}: {leftovers:?}");
    c.wait_no_containers(&j.app, Duration::from_secs(60)).await;
    assert!(!c.fs.exists(&c.staging_dir(&j.app)).await.unwrap(), "staging directory left behind");
    eprintln!(
        "AM failover: AM kill → all subtasks RUNNING on attempt 2 in {:.2} s (target ≤ 10 s); TaskManager kill → RUNNING in {:.2} s",
        am_recovery.as_secs_f64(),
        tm_recovery.as_secs_f64()
    );
    c.fs.delete(&dir, true).await.unwrap();
}

/// Waits until the application runs an AM attempt other than `before`'s and
/// job `job` is fully RUNNING there again (at most 90 s); returns the new AM.
async fn wait_taken_over(c: &Cluster, app: &str, rest: &RestClient, job: &str, before: &AmIdentity) -> AmIdentity {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut new_am: Option<AmIdentity> = None;
    loop {
        assert!(Instant::now() < deadline, "job {job} did not run again on a new attempt of {app}");
        match &new_am {
            None => {
                let r = c.rm.app_report(app).await.unwrap();
                assert!(!r.is_final(), "the application ended after the AM kill: {} {}", r.state, r.diagnostics);
                let now = AmIdentity::of(&r);
                if now.container.is_some() && now.container != before.container {
                    new_am = Some(now);
                }
            }
            Some(am) => {
                if fully_running_or_not(rest, job).await.unwrap() {
                    return am.clone();
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn yarn_session_am_container_kill_recovers_the_running_job() {
    let Some(c) = Cluster::get("yarn_session_am_container_kill_recovers_the_running_job") else { return };
    let dir = c.test_dir("session-failover").await;
    let input = c.put_kjv(&dir).await;
    let props = tempfile::tempdir().unwrap();
    let props_d = format!("yarn.properties-file.location={}", props.path().display());
    let (st, out, _) = rfy(
        &[
            "yarn-session",
            "start",
            "-d",
            "--name",
            "failover-itest",
            "-s",
            "1",
            "-jm",
            "512m",
            "-tm",
            "512m",
            "-D",
            &props_d,
        ],
        &[],
        Duration::from_secs(180),
    );
    assert!(st.success(), "yarn-session start failed:\n{out}");
    let app =
        out.lines().find_map(|l| l.strip_prefix("YARN application: ")).expect("application id").trim().to_string();
    let _guard = KillOnPanic(app.clone());
    let rest = RestClient::new(format!("{}/proxy/{app}", c.rm.base_url())).unwrap();

    let ckpt = format!("state.checkpoints.dir={}{dir}/checkpoints", c.conf.default_fs().trim_end_matches('/'));
    let output = format!("hdfs://{dir}/out");
    let (st, out, _) = rfy(
        &[
            "run",
            "-m",
            "yarn-session",
            "-d",
            "-p",
            "1",
            "-D",
            &props_d,
            "-D",
            "execution.checkpointing.interval=1s",
            "-D",
            &ckpt,
            "wordcount",
            "--input",
            &input,
            "--output",
            &output,
            "--mode",
            "updates",
            "--rate",
            "1500",
        ],
        &[],
        Duration::from_secs(120),
    );
    assert!(st.success(), "rfy run -m yarn-session failed:\n{out}");
    let job = session_job_id(&out).expect("job id printed");
    let done = wait_completed_over(&rest, &job, 1, Duration::from_secs(60)).await.unwrap();

    let before = AmIdentity::of(&c.rm.app_report(&app).await.unwrap());
    let am = before.container.clone().expect("AM container");
    tokio::task::spawn_blocking(move || kill_container(&am)).await.unwrap().unwrap();
    let killed_at = Instant::now();
    let new_am = wait_taken_over(&c, &app, &rest, &job, &before).await;
    let took = killed_at.elapsed();
    assert_eq!(new_am.attempt, Some(2), "{new_am:?}");
    let checkpoints = rest.get(&format!("/jobs/{job}/checkpoints")).await.unwrap();
    let restored = checkpoints["latest"]["restored"]["id"].as_u64();
    assert!(restored.is_some_and(|id| id >= done), "restored {restored:?}, expected ≥ {done}: {checkpoints:#}");
    eprintln!(
        "session AM failover: AM kill → job {job} RUNNING on attempt 2 in {:.2} s (restored checkpoint {restored:?})",
        took.as_secs_f64()
    );

    let (st, out, _) = rfy(&["yarn-session", "stop", "--yid", &app, "-D", &props_d], &[], Duration::from_secs(120));
    assert!(st.success(), "yarn-session stop failed:\n{out}");
    let r = c.wait_final(&app, Duration::from_secs(60)).await;
    assert_eq!(r.final_status, "SUCCEEDED", "{}", r.diagnostics);
    c.wait_no_containers(&app, Duration::from_secs(60)).await;
    assert!(!c.fs.exists(&c.staging_dir(&app)).await.unwrap(), "staging directory left behind");
    c.fs.delete(&dir, true).await.unwrap();
}

/// Issue 25: a session never loses a job it accepted. The job store entry
/// exists as soon as the session answered the submission (it is written
/// before the answer, not by a later sync), and when the AM container is
/// killed right after, attempt 2 takes the job over and runs it to an
/// exactly-once output.
#[tokio::test(flavor = "multi_thread")]
async fn yarn_session_job_acknowledged_right_before_an_am_kill_is_not_lost() {
    let Some(c) = Cluster::get("yarn_session_job_acknowledged_right_before_an_am_kill_is_not_lost") else { return };
    let dir = c.test_dir("session-accepted").await;
    let tmp = tempfile::tempdir().unwrap();
    let (input, _) = repeated_kjv(tmp.path(), 1);
    let expected = reference_counts(&input);
    let input_uri = upload(&c, &input, &format!("{dir}/input.txt")).await;
    let props = tempfile::tempdir().unwrap();
    let props_d = format!("yarn.properties-file.location={}", props.path().display());
    let start = ["yarn-session", "start", "-d", "--name", "accepted-itest", "-s", "1", "-jm", "512m", "-tm", "512m"];
    let (st, out, _) = rfy(&[&start[..], &["-D", &props_d]].concat(), &[], Duration::from_secs(180));
    assert!(st.success(), "yarn-session start failed:\n{out}");
    let field = |name: &str| out.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string());
    let app = field("YARN application: ").expect("application id");
    let _guard = KillOnPanic(app.clone());
    let jm_rest = field("JobManager REST: ").expect("the JobManager's REST address");

    // The JobGraph as `rfy run -m yarn-session` would submit it, sent straight to the session's Dispatcher.
    let out_path = format!("{dir}/out");
    let output = format!("hdfs://{out_path}");
    let job_args = ["wordcount", "--input", &input_uri, "--output", &output, "--mode", "updates", "--rate", "4000"];
    let info = std::process::Command::new(rfy_itests::rfy_bin())
        .args([&["info", "-p", "1"][..], &job_args].concat())
        .output()
        .expect("run rfy info");
    assert!(info.status.success(), "rfy info failed:\n{}", String::from_utf8_lossy(&info.stderr));
    let graph: rfy_runtime::JobGraph = serde_json::from_slice(&info.stdout).expect("rfy info prints a JobGraph");
    let ckpt = format!("{}{dir}/checkpoints", c.conf.default_fs().trim_end_matches('/'));
    let config = std::collections::BTreeMap::from([
        ("execution.checkpointing.interval".to_string(), "1s".to_string()),
        ("state.checkpoints.dir".to_string(), ckpt),
    ]);
    let session = RestClient::new(jm_rest).unwrap();
    let before = AmIdentity::of(&c.rm.app_report(&app).await.unwrap());
    let job = session.submit(&graph, &config).await.expect("the session accepts the job");
    let entry = format!("{}/jobstore/{job}.json", c.staging_dir(&app));
    assert!(c.fs.exists(&entry).await.unwrap(), "no job store entry {entry} when the submission was answered");

    let am = before.container.clone().expect("AM container");
    tokio::task::spawn_blocking(move || kill_container(&am)).await.unwrap().unwrap();
    let rest = RestClient::new(format!("{}/proxy/{app}", c.rm.base_url())).unwrap();
    let new_am = wait_taken_over(&c, &app, &rest, &job, &before).await;
    assert_eq!(new_am.attempt, Some(2), "{new_am:?}");
    let state = rfy_itests::local::wait_terminal(&rest, &job, Duration::from_secs(180)).await.unwrap();
    assert_eq!(state, "FINISHED", "job {job} on attempt 2");
    let (got, leftovers) = hdfs_committed_updates(&c, &out_path).await.unwrap();
    let problems = exactly_once_problems(&expected, &got);
    assert!(problems.is_empty(), "output is not exactly-once: {problems:#?}");
    assert!(leftovers.is_empty(), "uncommitted files left in {out_path}: {leftovers:?}");

    let (st, out, _) = rfy(&["yarn-session", "stop", "--yid", &app, "-D", &props_d], &[], Duration::from_secs(120));
    assert!(st.success(), "yarn-session stop failed:\n{out}");
    let r = c.wait_final(&app, Duration::from_secs(60)).await;
    assert_eq!(r.final_status, "SUCCEEDED", "{}", r.diagnostics);
    c.fs.delete(&dir, true).await.unwrap();
}
