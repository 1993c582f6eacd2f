//! Failure isolation in a YARN session (issue 8): two checkpointed word
//! counts in `--mode updates`, each on its own 1-slot TaskManager; killing
//! one job's TaskManager container restarts only that job (from its
//! checkpoint); the other sees no failure; both commit every word's updates
//! 1..n exactly once.

use std::time::{Duration, Instant};

use rfy_client::follow::RestClient;
use rfy_itests::local::{exactly_once_problems, reference_counts};
use rfy_itests::yarn::{
    failures, hdfs_committed_updates, job_task_managers, kill_container, session_job_id, wait_completed_over,
    KillOnPanic,
};
use rfy_itests::{repo_root, rfy, Cluster, RfyRun};

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_task_manager_restarts_only_its_job() {
    let Some(c) = Cluster::get("a_killed_task_manager_restarts_only_its_job") else { return };
    let dir = c.test_dir("session-iso").await;
    let input = c.put_kjv(&dir).await;
    let expected = reference_counts(&repo_root().join("data/kjv.txt"));
    let props = tempfile::tempdir().unwrap();
    let props_d = format!("yarn.properties-file.location={}", props.path().display());
    let (st, out, _) = rfy(
        &[
            "yarn-session",
            "start",
            "-d",
            "--name",
            "session-iso-itest",
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
    let app = out.lines().find_map(|l| l.strip_prefix("YARN application: ")).unwrap().trim().to_string();
    let _guard = KillOnPanic(app.clone());
    let rest = RestClient::new(format!("{}/proxy/{app}", c.rm.base_url())).unwrap();
    let fs_uri = c.conf.default_fs().trim_end_matches('/').to_string();
    let chk = format!("state.checkpoints.dir={fs_uri}{dir}/chk");
    let mut jobs = Vec::new();
    for name in ["a", "b"] {
        let out_dir = format!("hdfs://{dir}/{name}");
        let args = [
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
            "-D",
            "restart-strategy.type=fixed-delay",
            "-D",
            "restart-strategy.fixed-delay.attempts=5",
            "-D",
            "restart-strategy.fixed-delay.delay=200 ms",
            "-p",
            "1",
            "wordcount",
            "--input",
            &input,
            "--output",
            &out_dir,
            "--mode",
            "updates",
            "--rate",
            "3000",
        ];
        let mut run = RfyRun::start(&args, &[]);
        run.wait_for_job_running(Duration::from_secs(120));
        let (st, out, _) = run.finish(Duration::from_secs(60));
        assert!(st.success(), "job {name}:\n{out}");
        jobs.push(session_job_id(&out).unwrap());
    }
    let (a, b) = (&jobs[0], &jobs[1]);
    wait_completed_over(&rest, a, 0, Duration::from_secs(60)).await.unwrap();
    wait_completed_over(&rest, b, 0, Duration::from_secs(60)).await.unwrap();
    let tm_a = job_task_managers(&rest, a).await;
    let tm_b = job_task_managers(&rest, b).await;
    assert_eq!(tm_a.len(), 1, "{tm_a:?}");
    assert!(!tm_b.contains(&tm_a[0]), "1-slot TaskManagers: the jobs run apart ({tm_a:?}, {tm_b:?})");
    kill_container(&tm_a[0]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while failures(&rest, a).await.unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "job a saw no failure after its TaskManager was killed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for job in [a, b] {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let s = rest.get(&format!("/jobs/{job}")).await.map(|d| d["state"].as_str().unwrap_or("").to_string());
            match s.as_deref() {
                Ok("FINISHED") => break,
                Ok("FAILED") | Ok("CANCELED") => panic!("job {job} ended {s:?}"),
                _ => {}
            }
            assert!(Instant::now() < deadline, "job {job} did not finish");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    assert_eq!(failures(&rest, b).await.unwrap(), 0, "the other job was not disturbed");
    let cps = rest.get(&format!("/jobs/{a}/checkpoints")).await.unwrap();
    assert!(cps["latest"]["restored"]["id"].as_u64().unwrap_or(0) > 0, "job a restored from a checkpoint: {cps}");
    for name in ["a", "b"] {
        let (got, others) = hdfs_committed_updates(&c, &format!("{dir}/{name}")).await.unwrap();
        let problems = exactly_once_problems(&expected, &got);
        assert!(problems.is_empty(), "job {name}: {:?}", &problems[..problems.len().min(5)]);
        assert!(others.is_empty(), "job {name}: leftovers {others:?}");
    }
    let (st, out, _) = rfy(&["yarn-session", "stop", "-D", &props_d], &[], Duration::from_secs(120));
    assert!(st.success(), "yarn-session stop:\n{out}");
    c.wait_no_containers(&app, Duration::from_secs(30)).await;
    c.fs.delete(&dir, true).await.unwrap();
}
