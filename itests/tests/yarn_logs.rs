//! `rfy logs APPID` on a real Hadoop (issue 10): one short YARN application
//! whose web UI is clicked through in Chromium via YARN's proxy, whose logs
//! are read while it runs (NodeManager web services), followed with `-f`
//! until it ends, then read again from HDFS's aggregated logs; and bad input.
//!
//! Needs: HADOOP_CONF_DIR with log aggregation on (`scripts/hadoop` sets it),
//! the binaries built (`cargo build -p rfy-client -p rfy-am -p rfy-worker`).

use std::process::Command;
use std::time::{Duration, Instant};

use rfy_itests::browser::click_through;
use rfy_itests::yarn::SMALL;
use rfy_itests::{rfy, rfy_bin, Cluster, RfyRun};

/// `rfy logs <args>`: (success, stdout, stderr).
fn rfy_logs(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(rfy_bin());
    cmd.arg("logs").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run rfy logs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn running_followed_and_aggregated_logs_of_one_application() {
    let Some(c) = Cluster::get("running_followed_and_aggregated_logs_of_one_application") else { return };
    let dir = c.test_dir("logs").await;
    let input = c.put_kjv(&dir).await;
    let output = format!("hdfs://{dir}/out");
    // Paced to run about a minute: long enough to click through its web UI, read it running and start `-f`.
    let mut args = vec!["run", "-m", "yarn-application", "-d", "-p", "1"];
    args.extend_from_slice(&SMALL);
    args.extend_from_slice(&["wordcount", "--input", &input, "--output", &output, "--rate", "500"]);
    let (st, out, _) = rfy(&args, &[], Duration::from_secs(180));
    assert!(st.success(), "detached run failed:\n{out}");
    let app = {
        let i = out.find("application_").unwrap();
        out[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>()
    };
    let job = out.split("Job ").nth(1).and_then(|s| s.split_whitespace().next()).unwrap().to_string();

    // The web UI through YARN's proxy, clicked through in Chromium: job → vertex → TaskManager → log.
    let proxy = format!("{}/proxy/{app}/", c.rm.base_url());
    let pages = tokio::task::spawn_blocking({
        let job = job.clone();
        move || click_through(&proxy, &job, "registered at JobManager", None)
    })
    .await
    .unwrap();
    assert!(pages.overview.contains("WordCount") && pages.job.contains("RUNNING"), "{}", pages.job);
    assert!(pages.taskmanager_route.starts_with("#/taskmanager/container_"), "{}", pages.taskmanager_route);
    assert_eq!(pages.log_route, format!("{}/log", pages.taskmanager_route));

    let attempts = c.rm.app_attempts(&app).await.unwrap();
    let (attempt, am) = attempts.last().unwrap();
    let tm = c.rm.attempt_containers(&app, attempt).await.unwrap().into_iter().find(|x| x.id != am.id);
    let tm = tm.expect("a TaskManager container").id;
    // The last line an AM writes: it must come through `-f`, not the first read.
    let last_line = "unregistered from YARN status=Succeeded";

    // Running: through the NodeManager.
    let (ok, jm, err) = rfy_logs(&[&app], &[]);
    assert!(ok && jm.contains("job submitted") && !jm.contains(last_line), "running JM log:\n{jm}{err}");
    let (ok, tm_log, err) = rfy_logs(&[&app, "--taskmanager", &tm], &[]);
    assert!(ok && tm_log.contains("registered at JobManager"), "running TM log:\n{tm_log}{err}");
    let unknown = format!("{}_000099", am.id.rsplit_once('_').unwrap().0);
    let (ok, _, err) = rfy_logs(&[&app, "--container", &unknown], &[]);
    assert!(!ok && err.contains(&unknown) && err.contains("not a running container") && err.contains(&tm), "{err}");

    // -f: prints what is appended until the application ends, then exits by itself.
    let follow = RfyRun::start(&["logs", &app, "--jobmanager", "-f"], &[]);
    let (st, followed, took) = follow.finish(Duration::from_secs(300));
    assert!(st.success(), "rfy logs -f failed:\n{followed}");
    assert!(followed.contains("job submitted") && followed.contains(last_line), "-f missed lines:\n{followed}");
    assert!(followed.contains(&format!("application {app} ended: FINISHED")), "{followed}");
    eprintln!("rfy logs -f followed {app} for {took:?}");

    // Finished: from the aggregated logs once YARN says they are complete.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let r = c.rm.app_report(&app).await.unwrap();
        if r.log_aggregation_status.as_deref() == Some("SUCCEEDED") {
            break;
        }
        assert!(Instant::now() < deadline, "log aggregation of {app}: {:?}", r.log_aggregation_status);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (ok, jm_done, err) = rfy_logs(&[&app], &[]);
    assert!(ok && jm_done.starts_with(&jm[..jm.len().min(2000)]) && jm_done.contains(last_line), "{jm_done}{err}");
    let (ok, tm_done, err) = rfy_logs(&[&app, "--container", &tm], &[]);
    assert!(ok && tm_done.starts_with(&tm_log[..tm_log.len().min(2000)]), "{tm_done}{err}");
    let (ok, _, err) = rfy_logs(&[&app, "--container", &unknown], &[]);
    assert!(!ok && err.contains(&unknown) && err.contains("aggregated logs") && err.contains(&tm), "{err}");
    // Another user may not read this user's aggregated logs: HDFS says so, naming the directory.
    let (ok, _, err) = rfy_logs(&[&app], &[("HADOOP_USER_NAME", "rfy-logs-nobody")]);
    assert!(!ok && err.contains("Permission denied") && err.contains(&format!("/{}", c.user)), "{err}");

    // Unknown application and a target that is neither an id nor HOST:PORT.
    let ghost = format!("{}_9999", app.rsplit_once('_').unwrap().0);
    let (ok, _, err) = rfy_logs(&[&ghost], &[]);
    assert!(!ok && err.contains(&ghost) && err.contains("404"), "{err}");
    let (ok, _, err) = rfy_logs(&["nonsense"], &[]);
    assert!(!ok && err.contains("'nonsense' is neither"), "{err}");
    c.fs.delete(&dir, true).await.unwrap();
}
