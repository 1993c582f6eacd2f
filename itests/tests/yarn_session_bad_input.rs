//! Session mode's bad input on a real Hadoop (issue 8), one session for all:
//! - two `rfy yarn-session start` at once: one deploys the session, the other
//!   fails at once with a one-line error and submits nothing;
//! - a job asking for more slots than the session's queue can ever give fails
//!   at submission (not after `slot.request.timeout`), naming what it asked
//!   for and what the queue gives; nothing is submitted; the same job in
//!   application and per-job mode is refused before any application exists;
//! - the session's AM killed (`yarn application -kill`) under an attached
//!   `rfy run -m yarn-session` and the attached `rfy yarn-session start`:
//!   both end non-zero with a one-line error naming the ended application.
//!
//! Needs: HADOOP_CONF_DIR and Hadoop's `yarn` CLI on PATH, the binaries built
//! (`cargo build -p rfy-client -p rfy-am -p rfy-worker`).

use std::time::{Duration, Instant};

use rfy_client::follow::RestClient;
use rfy_itests::yarn::{session_job_id, KillOnPanic};
use rfy_itests::{hadoop_cli, rfy, Cluster, RfyRun};

/// The line of `out` starting with `error: `; panics unless there is exactly one.
fn error_line(out: &str) -> String {
    let errors: Vec<&str> = out.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "exactly one error line expected:\n{out}");
    errors[0].to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_starts_oversized_job_and_killed_session_fail_clearly() {
    let Some(c) = Cluster::get("concurrent_starts_oversized_job_and_killed_session_fail_clearly") else { return };
    let dir = c.test_dir("session-bad").await;
    let input = c.put_kjv(&dir).await;
    let props = tempfile::tempdir().unwrap();
    let props_d = format!("yarn.properties-file.location={}", props.path().display());
    let name = format!("session-bad-{}", uuid::Uuid::new_v4().simple());

    // Two attached starts at once: one wins, the other fails at once.
    let start = ["yarn-session", "start", "--name", &name, "-s", "1", "-jm", "512m", "-tm", "512m", "-D", &props_d];
    let mut starts = [RfyRun::start(&start, &[]), RfyRun::start(&start, &[])];
    let deadline = Instant::now() + Duration::from_secs(60);
    let loser = loop {
        if let Some(i) = (0..2).find(|&i| starts[i].exited().is_some()) {
            break i;
        }
        assert!(Instant::now() < deadline, "neither start ended:\n{}\n--\n{}", starts[0].output(), starts[1].output());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let [a, b] = starts;
    let (mut winner, lost) = if loser == 0 { (b, a) } else { (a, b) };
    let (st, out, took) = lost.finish(Duration::from_secs(5));
    let _winner_app = {
        winner.wait_for_line("YARN application: ", "application_", Duration::from_secs(180));
        let app = winner.application_id().unwrap();
        KillOnPanic(app)
    };
    let app = _winner_app.0.clone();
    assert!(!st.success(), "the second start succeeded:\n{out}");
    let e = error_line(&out);
    assert!(e.contains("another `rfy yarn-session start` (pid ") && e.contains(".lock"), "{out}");
    assert!(!out.contains("application_"), "the second start submitted an application:\n{out}");
    assert!(took < Duration::from_secs(20), "the second start took {took:?}");
    let same_name: Vec<_> = c.rm.apps(Some("rfy"), None, Some(&c.user)).await.unwrap();
    let same_name: Vec<_> = same_name.into_iter().filter(|r| r.name == name).collect();
    assert_eq!(same_name.len(), 1, "one application named {name}: {same_name:?}");
    let report = c.rm.app_report(&app).await.unwrap();
    assert_eq!(report.state, "RUNNING");

    // Far more slots than the queue holds (1-slot TaskManagers of 512 MiB).
    let t0 = Instant::now();
    let (st, out, _) = rfy(
        &[
            "run",
            "-m",
            "yarn-session",
            "-D",
            &props_d,
            "-p",
            "64",
            "wordcount",
            "--input",
            &input,
            "--output",
            &format!("hdfs://{dir}/big"),
        ],
        &[],
        Duration::from_secs(60),
    );
    assert!(!st.success(), "an oversized job was accepted:\n{out}");
    let e = error_line(&out);
    assert!(
        e.contains("asks for 64 slots = 64 TaskManager(s) of 512 MiB")
            && e.contains(&format!("YARN queue '{}' can give at most ", report.queue)),
        "{out}"
    );
    assert!(t0.elapsed() < Duration::from_secs(30), "the oversized job took {:?} to fail", t0.elapsed());
    let rest = RestClient::new(format!("{}/proxy/{app}", c.rm.base_url())).unwrap();
    let jobs = rest.get("/jobs/overview").await.unwrap();
    assert_eq!(jobs["jobs"].as_array().map(Vec::len), Some(0), "nothing submitted: {jobs}");
    // The same in application and per-job mode: refused before any application exists.
    let big_name = format!("{name}-big");
    let big_name_d = format!("yarn.application.name={big_name}");
    for mode in ["yarn-application", "yarn-per-job"] {
        let (st, out, took) = rfy(
            &[
                "run",
                "-m",
                mode,
                "-p",
                "64",
                "-D",
                "taskmanager.numberOfTaskSlots=1",
                "-D",
                "taskmanager.memory.process.size=512m",
                "-D",
                &big_name_d,
                "wordcount",
                "--input",
                &input,
                "--output",
                &format!("hdfs://{dir}/big-{mode}"),
            ],
            &[],
            Duration::from_secs(60),
        );
        assert!(!st.success(), "{mode}: an oversized job was accepted:\n{out}");
        let e = error_line(&out);
        assert!(
            e.contains("asks for 64 slots = 64 TaskManager(s) of 512 MiB") && e.contains("can give at most"),
            "{mode}: {out}"
        );
        assert!(took < Duration::from_secs(20), "{mode}: took {took:?}");
    }
    let created =
        c.rm.apps(None, None, Some(&c.user)).await.unwrap().into_iter().filter(|a| a.name == big_name).count();
    assert_eq!(created, 0, "an application was created for the oversized job");

    // An attached job; then the session's application is killed under both clients.
    let out_a = format!("hdfs://{dir}/a");
    let mut job = RfyRun::start(
        &[
            "run",
            "-m",
            "yarn-session",
            "-D",
            &props_d,
            "-p",
            "1",
            "wordcount",
            "--input",
            &input,
            "--output",
            &out_a,
            "--rate",
            "300",
        ],
        &[],
    );
    job.wait_for_job_running(Duration::from_secs(120));
    assert!(session_job_id(&job.output()).is_some(), "{}", job.output());
    let (ok, kill) = hadoop_cli("yarn", &["application", "-kill", &app]);
    assert!(ok, "yarn application -kill failed:\n{kill}");
    for (client, what) in [(job, "rfy run -m yarn-session"), (winner, "rfy yarn-session start")] {
        let (st, out, _) = client.finish(Duration::from_secs(60));
        assert!(!st.success(), "{what} exited 0 after the session was killed:\n{out}");
        let e = error_line(&out);
        assert!(e.contains(&format!("session {app} ended")) && e.contains("KILLED"), "{what}: {e}");
    }
    c.wait_no_containers(&app, Duration::from_secs(60)).await;
    let props_file = props.path().join(format!(".yarn-properties-{}", c.user));
    assert!(!props_file.exists(), "the attached start left the properties file of a killed session");
    c.fs.delete(&dir, true).await.unwrap();
}
