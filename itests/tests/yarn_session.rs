//! `rfy yarn-session` end to end on a real Hadoop (issue 8): one session
//! runs word counts side by side on a shared TaskManager, reuses it for the
//! next job, releases it when idle, gets new containers afterwards; `rfy
//! list`, `rfy savepoint`, `rfy cancel` work against it; the web UI through
//! the RM proxy (headless Chromium) lists every job; `rfy yarn-session
//! stop` leaves no container, no staging directory and no properties file;
//! a stale properties file is reported and removed.
//!
//! Needs: HADOOP_CONF_DIR and Hadoop's `yarn` CLI on PATH, the binaries built
//! (`cargo build -p rfy-client -p rfy-am -p rfy-worker`), headless Chromium.

use std::time::{Duration, Instant};

use rfy_client::follow::RestClient;
use rfy_itests::yarn::{
    job_task_managers, local_wordcount_lines, session_job_id, task_manager_containers, KillOnPanic,
};
use rfy_itests::{chromium_dump_dom, hadoop_cli, rfy, Cluster, RfyRun};
use serde_json::Value;

/// Idle TaskManagers go after this (`resourcemanager.taskmanager-timeout`).
const IDLE_TIMEOUT_S: u64 = 8;

async fn job_state(rest: &RestClient, job: &str) -> String {
    rest.get(&format!("/jobs/{job}")).await.map(|d| d["state"].as_str().unwrap_or("").to_string()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn session_shares_reuses_and_releases_task_managers_and_stops_clean() {
    let Some(c) = Cluster::get("session_shares_reuses_and_releases_task_managers_and_stops_clean") else { return };
    let _ = rfy_itests::chromium(); // fail early with the install hint
    let dir = c.test_dir("session").await;
    let input = c.put_kjv(&dir).await;
    let local = local_wordcount_lines();
    let props = tempfile::tempdir().unwrap();
    let props_d = format!("yarn.properties-file.location={}", props.path().display());
    let props_file = props.path().join(format!(".yarn-properties-{}", c.user));

    // A detached session with 2-slot TaskManagers.
    let timeout_d = format!("resourcemanager.taskmanager-timeout={IDLE_TIMEOUT_S}s");
    let (st, out, took) = rfy(
        &[
            "yarn-session",
            "start",
            "-d",
            "--name",
            "session-itest",
            "-s",
            "2",
            "-jm",
            "512m",
            "-tm",
            "512m",
            "-D",
            &props_d,
            "-D",
            &timeout_d,
        ],
        &[],
        Duration::from_secs(180),
    );
    assert!(st.success(), "yarn-session start failed:\n{out}");
    let app = out
        .lines()
        .find_map(|l| l.strip_prefix("YARN application: "))
        .expect("application id printed")
        .trim()
        .to_string();
    let _guard = KillOnPanic(app.clone());
    assert!(out.contains("Web UI (RM proxy): http") && out.contains("JobManager REST: http://"), "{out}");
    let named = std::fs::read_to_string(&props_file).expect("properties file written");
    assert!(named.contains(&format!("applicationID={app}")), "{named}");
    eprintln!("session {app} ready in {took:?}");
    let rest = RestClient::new(format!("{}/proxy/{app}", c.rm.base_url())).unwrap();
    assert!(task_manager_containers(&rest).await.unwrap().is_empty(), "no TaskManager before any job");

    // Two word counts at once, one slot each: both on the one TaskManager.
    let run = |out: &str| {
        vec![
            "run".to_string(),
            "-m".into(),
            "yarn-session".into(),
            "-D".into(),
            props_d.clone(),
            "-p".into(),
            "1".into(),
            "wordcount".into(),
            "--input".into(),
            input.clone(),
            "--output".into(),
            out.to_string(),
            "--rate".into(),
            "8000".into(),
        ]
    };
    let (out_a, out_b, out_c) = (format!("hdfs://{dir}/a"), format!("hdfs://{dir}/b"), format!("hdfs://{dir}/c"));
    let args_a = run(&out_a);
    let args_b = run(&out_b);
    let mut a = RfyRun::start(&args_a.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    let mut b = RfyRun::start(&args_b.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    a.wait_for_job_running(Duration::from_secs(120));
    b.wait_for_job_running(Duration::from_secs(120));
    let (job_a, job_b) = (session_job_id(&a.output()).unwrap(), session_job_id(&b.output()).unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let both = job_state(&rest, &job_a).await == "RUNNING" && job_state(&rest, &job_b).await == "RUNNING";
        let tms = task_manager_containers(&rest).await.unwrap_or_default();
        if both {
            assert_eq!(tms.len(), 1, "two 1-slot jobs share one 2-slot TaskManager: {tms:?}");
            break;
        }
        assert!(Instant::now() < deadline, "the two jobs never ran at the same time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shared = job_task_managers(&rest, &job_a).await;
    assert_eq!(shared, job_task_managers(&rest, &job_b).await, "both jobs on the same TaskManager");
    for (run, name) in [(a, "a"), (b, "b")] {
        let (st, out, _) = run.finish(Duration::from_secs(300));
        assert!(st.success(), "job {name} failed:\n{out}");
        assert_eq!(
            c.read_output(&format!("{dir}/{name}")).await,
            local,
            "job {name}: output differs from the local run"
        );
    }

    // A third job right after: it reuses the idle TaskManager.
    let args_c = run(&out_c);
    let (st, out, _) = rfy(&args_c.iter().map(String::as_str).collect::<Vec<_>>(), &[], Duration::from_secs(180));
    assert!(st.success(), "job c failed:\n{out}");
    let job_c = session_job_id(&out).unwrap();
    assert_eq!(job_task_managers(&rest, &job_c).await, shared, "the third job reuses the idle TaskManager");
    assert_eq!(c.read_output(&format!("{dir}/c")).await, local, "job c: output differs from the local run");

    // Idle: released after the timeout; YARN lists only the AM's container.
    let idle_since = Instant::now();
    let deadline = idle_since + Duration::from_secs(IDLE_TIMEOUT_S + 30);
    while !task_manager_containers(&rest).await.unwrap_or_default().is_empty() {
        assert!(Instant::now() < deadline, "idle TaskManager not released");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let released_after = idle_since.elapsed();
    assert!(released_after >= Duration::from_secs(IDLE_TIMEOUT_S - 3), "released too early: {released_after:?}");
    let attempt = format!("appattempt_{}_000001", app.trim_start_matches("application_"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (ok, list) = hadoop_cli("yarn", &["container", "-list", &attempt]);
        assert!(ok, "yarn container -list failed:\n{list}");
        if list.contains("Total number of containers :1") {
            break;
        }
        assert!(Instant::now() < deadline, "TaskManager container still listed:\n{list}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    // A checkpointed streaming job afterwards gets a new container; list, savepoint, cancel.
    let fs_uri = c.conf.default_fs().trim_end_matches('/').to_string();
    let chk = format!("state.checkpoints.dir={fs_uri}{dir}/chk");
    let out_d = format!("hdfs://{dir}/d");
    let (st, out, _) = rfy(
        &[
            "run",
            "-m",
            "yarn-session",
            "-d",
            "-D",
            &props_d,
            "-D",
            "execution.checkpointing.interval=1s",
            "-D",
            &chk,
            "-p",
            "1",
            "wordcount",
            "--input",
            &input,
            "--output",
            &out_d,
            "--mode",
            "updates",
            "--rate",
            "300",
        ],
        &[],
        Duration::from_secs(180),
    );
    assert!(st.success(), "detached job d failed:\n{out}");
    let job_d = session_job_id(&out).unwrap();
    let tms_d = job_task_managers(&rest, &job_d).await;
    assert!(!tms_d.is_empty() && tms_d != shared, "a new container after the release: {tms_d:?} vs {shared:?}");

    let (st, out, _) = rfy(&["list", "-m", "yarn-session", "-D", &props_d], &[], Duration::from_secs(60));
    assert!(st.success() && out.contains(&format!(": {job_d} : ")) && out.contains("(RUNNING)"), "rfy list:\n{out}");
    let (st, out, _) = rfy(&["list", "-a", "-m", "yarn-session", "--yid", &app], &[], Duration::from_secs(60));
    assert!(st.success() && out.contains(&format!("{job_a} : ")) && out.contains("(FINISHED)"), "rfy list -a:\n{out}");

    // The web UI through the RM proxy (headless Chromium) lists every job of
    // the session, each with its state: three finished, one running.
    let url = format!("{}/proxy/{app}/", c.rm.base_url());
    let dom = tokio::task::spawn_blocking(move || chromium_dump_dom(&url)).await.unwrap();
    for (job, state) in [(&job_a, "FINISHED"), (&job_b, "FINISHED"), (&job_c, "FINISHED"), (&job_d, "RUNNING")] {
        let row = dom.split(&format!("href=\"#/job/{job}\"")).nth(1).and_then(|r| r.split("</tr>").next());
        let row = row.unwrap_or_else(|| panic!("job {job} not listed in the web UI through the proxy:\n{dom}"));
        assert!(row.contains("WordCount") && row.contains(state), "job {job} not shown {state}: {row}");
    }

    let sp = format!("{fs_uri}{dir}/savepoints");
    let deadline = Instant::now() + Duration::from_secs(60);
    let location = loop {
        let (st, out, _) =
            rfy(&["savepoint", "-m", "yarn-session", "-D", &props_d, &job_d, &sp], &[], Duration::from_secs(120));
        if st.success() {
            break out.lines().find_map(|l| l.strip_prefix("Savepoint completed. Path: ")).unwrap().to_string();
        }
        // The first checkpoint-ready moment may need a second try (tasks still deploying).
        assert!(Instant::now() < deadline, "rfy savepoint failed:\n{out}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert!(c.fs.exists(&format!("{}/_metadata", rfy_itests::yarn::hdfs_path(&location))).await.unwrap(), "{location}");

    let (st, out, _) = rfy(&["cancel", "-m", "yarn-session", "-D", &props_d, &job_d], &[], Duration::from_secs(60));
    assert!(st.success(), "rfy cancel failed:\n{out}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while job_state(&rest, &job_d).await != "CANCELED" {
        assert!(Instant::now() < deadline, "job d not CANCELED");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let unknown = "0123456789abcdef0123456789abcdef";
    let (st, out, _) = rfy(&["cancel", "-m", "yarn-session", "-D", &props_d, unknown], &[], Duration::from_secs(60));
    assert!(!st.success() && out.contains(&format!("Job {unknown} not found")), "cancel of an unknown job:\n{out}");
    let overview: Value = rest.get("/overview").await.unwrap();
    assert_eq!(overview["jobs-finished"].as_u64(), Some(3), "{overview}");
    assert_eq!(overview["jobs-cancelled"].as_u64(), Some(1), "{overview}");

    // Stop: SUCCEEDED, no container, no staging directory, no properties file.
    let (st, out, _) = rfy(&["yarn-session", "stop", "-D", &props_d], &[], Duration::from_secs(120));
    assert!(st.success(), "yarn-session stop failed:\n{out}");
    let r = c.wait_final(&app, Duration::from_secs(60)).await;
    assert_eq!((r.state.as_str(), r.final_status.as_str()), ("FINISHED", "SUCCEEDED"), "{}", r.diagnostics);
    c.wait_no_containers(&app, Duration::from_secs(30)).await;
    assert!(!c.fs.exists(&c.staging_dir(&app)).await.unwrap(), "staging directory left behind");
    assert!(!props_file.exists(), "properties file left behind");

    // A properties file naming the finished session: reported and removed.
    std::fs::write(&props_file, format!("applicationID={app}\n")).unwrap();
    let (st, out, _) = rfy(&["list", "-m", "yarn-session", "-D", &props_d], &[], Duration::from_secs(60));
    assert!(!st.success() && out.contains("removed the file") && out.contains(&app), "stale properties file:\n{out}");
    assert!(!props_file.exists(), "stale properties file not removed");
    c.fs.delete(&dir, true).await.unwrap();
}
