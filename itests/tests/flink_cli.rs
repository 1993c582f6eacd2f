//! Issue 10: Apache Flink 2.x's own command-line client and REST client
//! classes against rfy's JobManager (the embedded local cluster): every REST
//! answer parses with Flink's response classes, and `flink list`,
//! `checkpoint`, `savepoint` (`-type native`, a failing one, `-d` disposal),
//! `stop` (`--drain`, and plain) and `cancel` work as against Flink. Flink's jars come from Maven Central
//! (see `rfy_itests::flink`).

use std::path::Path;
use std::time::Duration;

use rfy_client::follow::RestClient;
use rfy_client::local::LocalCluster;
use rfy_itests::flink::{check_rest_shapes, flink};
use rfy_itests::local::*;

/// The text after `marker` on its line in `text`.
fn after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    text.lines().find_map(|l| l.split_once(marker).map(|(_, rest)| rest.trim()))
}

async fn submit_running(client: &RestClient, conf: &rfy_conf::Configuration, input: &Path, out: &Path) -> String {
    let args =
        ["--input", input.to_str().unwrap(), "--output", out.to_str().unwrap(), "--mode", "updates", "--rate", "100"];
    let graph = plan(conf, "wordcount", 1, &args).unwrap();
    let job = client.submit(&graph, &Default::default()).await.unwrap();
    wait_until("all tasks running", Duration::from_secs(30), || async { fully_running(client, &job).await })
        .await
        .unwrap();
    job
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flink_cli_and_rest_client_classes_work_against_the_local_cluster() {
    init_logging();
    let tmp = tempfile::tempdir().unwrap();
    let input = repo_file("data/kjv.txt");
    let (savepoints, checkpoints) = (tmp.path().join("savepoints"), tmp.path().join("checkpoints"));
    let conf = conf(&[
        ("state.savepoints.dir", savepoints.display().to_string()),
        ("state.checkpoints.dir", checkpoints.display().to_string()),
        ("execution.checkpointing.interval", "1h".into()),
        // Two jobs of 2 slots each.
        ("taskmanager.numberOfTaskSlots", "4".into()),
    ]);
    let cluster = LocalCluster::start(&conf, 4).await.unwrap();
    let client = RestClient::new(cluster.rest_url()).unwrap();
    let a = submit_running(&client, &conf, &input, &tmp.path().join("out-a")).await;
    let b = submit_running(&client, &conf, &input, &tmp.path().join("out-b")).await;
    let m = cluster.jobmanager.rest_address.clone();

    // Every answer parses with Flink's REST client classes.
    let details = client.get(&format!("/v1/jobs/{a}")).await.unwrap();
    let vertex = details["vertices"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(vertex.len(), 32, "Flink's JobVertexID: 32 hex digits: {vertex}");
    let tm = cluster.task_manager_ids()[0].clone();
    let routes: Vec<(String, &str)> = vec![
        ("/overview".into(), "ClusterOverviewHeaders"),
        ("/config".into(), "DashboardConfigurationHeaders"),
        ("/jobmanager/config".into(), "ClusterConfigurationInfoHeaders"),
        ("/taskmanagers".into(), "TaskManagersHeaders"),
        (format!("/taskmanagers/{tm}"), "TaskManagerDetailsHeaders"),
        ("/jobs".into(), "JobIdsWithStatusesOverviewHeaders"),
        ("/jobs/overview".into(), "JobsOverviewHeaders"),
        (format!("/jobs/{a}"), "JobDetailsHeaders"),
        (format!("/jobs/{a}/status"), "JobStatusInfoHeaders"),
        (format!("/jobs/{a}/plan"), "JobPlanHeaders"),
        (format!("/jobs/{a}/config"), "JobConfigHeaders"),
        (format!("/jobs/{a}/exceptions"), "JobExceptionsHeaders"),
        (format!("/jobs/{a}/checkpoints/config"), "CheckpointConfigHeaders"),
        (format!("/jobs/{a}/vertices/{vertex}"), "JobVertexDetailsHeaders"),
        (format!("/jobs/{a}/metrics?get=numRestarts,uptime"), "JobMetricsHeaders"),
        (format!("/jobs/{a}/vertices/{vertex}/metrics?get=numRecordsIn"), "JobVertexMetricsHeaders"),
        ("/jobs/metrics?get=numRestarts".into(), "AggregatedJobMetricsHeaders"),
        (format!("/jobs/{a}/vertices/{vertex}/backpressure"), "JobVertexBackPressureHeaders"),
        (format!("/jobs/{a}/vertices/{vertex}/watermarks"), "JobVertexWatermarksHeaders"),
        ("/jobmanager/logs".into(), "JobManagerLogListHeaders"),
        (format!("/taskmanagers/{tm}/logs"), "TaskManagerLogsHeaders"),
    ];
    let shapes = check_rest_shapes(&cluster.rest_url(), &routes);
    assert!(shapes.ok, "answers Flink's REST client classes cannot parse:\n{}", shapes.text);

    // flink list: both jobs running.
    let list = flink(&["list", "-m", &m]);
    assert!(list.ok, "{}", list.text);
    for job in [&a, &b] {
        assert!(list.text.contains(&format!("{job} : WordCount")) && list.text.contains("(RUNNING)"), "{}", list.text);
    }

    // flink checkpoint: a manual checkpoint; the statistics count it.
    let cp = flink(&["checkpoint", "-m", &m, &a]);
    assert!(cp.ok && cp.text.contains(&format!("for job {a} completed")), "{}", cp.text);
    assert!(completed_checkpoints(&client, &a).await.unwrap() >= 1);
    let shapes =
        check_rest_shapes(&cluster.rest_url(), &[(format!("/jobs/{a}/checkpoints"), "CheckpointingStatisticsHeaders")]);
    assert!(shapes.ok, "{}", shapes.text);

    // flink savepoint -type native: the path it prints holds the savepoint,
    // whose statistics and _metadata record the type asked for.
    let sp = flink(&["savepoint", "-type", "native", "-m", &m, &a, savepoints.to_str().unwrap()]);
    let path = after(&sp.text, "Savepoint completed. Path:").unwrap_or_else(|| panic!("{}", sp.text)).to_string();
    assert!(Path::new(&path).join("_metadata").is_file(), "{path}: {}", sp.text);
    let metadata = std::fs::read_to_string(Path::new(&path).join("_metadata")).unwrap();
    assert!(metadata.contains("\"savepoint_format\": \"NATIVE\""), "{metadata}");
    let history = client.get(&format!("/jobs/{a}/checkpoints")).await.unwrap()["history"].clone();
    let stat = history.as_array().unwrap().iter().find(|h| h["external_path"] == path.as_str()).cloned();
    assert_eq!(stat.map(|h| h["savepointFormat"].clone()), Some("NATIVE".into()), "{history:#}");

    // A failing savepoint: Flink's client reads the failure cause.
    let bad = flink(&["savepoint", "-m", &m, &a, "/proc/rfy-no-such-dir"]);
    assert!(!bad.ok && bad.text.contains("/proc/rfy-no-such-dir"), "{}", bad.text);

    // flink savepoint -d: the savepoint is deleted.
    let dispose = flink(&["savepoint", "-d", &path, "-m", &m]);
    assert!(dispose.ok && dispose.text.contains("disposed"), "{}", dispose.text);
    assert!(!Path::new(&path).exists(), "{path} still exists after disposal");

    // flink stop --drain: stop-with-savepoint after the sources drained; the
    // tasks and the job FINISH (a plain flink stop is the test below).
    let stop = flink(&["stop", "--drain", "-m", &m, "-p", savepoints.to_str().unwrap(), &a]);
    let stopped_at = after(&stop.text, "Savepoint completed. Path:").unwrap_or_else(|| panic!("{}", stop.text));
    assert!(Path::new(stopped_at).join("_metadata").is_file(), "{}", stop.text);
    assert_eq!(wait_terminal(&client, &a, Duration::from_secs(30)).await.unwrap(), "FINISHED");
    let vertices = client.get(&format!("/jobs/{a}")).await.unwrap()["vertices"].clone();
    let statuses: Vec<&str> = vertices.as_array().unwrap().iter().map(|v| v["status"].as_str().unwrap()).collect();
    assert!(statuses.iter().all(|s| *s == "FINISHED"), "drained tasks finish: {statuses:?}");

    // flink cancel.
    let cancel = flink(&["cancel", "-m", &m, &b]);
    assert!(cancel.ok && cancel.text.contains(&format!("Cancelled job {b}")), "{}", cancel.text);
    assert_eq!(wait_terminal(&client, &b, Duration::from_secs(30)).await.unwrap(), "CANCELED");

    let all = flink(&["list", "-a", "-m", &m]);
    assert!(all.text.contains(&format!("{a} : WordCount")) && all.text.contains("(FINISHED)"), "{}", all.text);
    assert!(all.text.contains("(CANCELED)"), "{}", all.text);
    cluster.shutdown().await;
}

/// The embedded cluster of `rfy run` answers the client's poll for a
/// stop-with-savepoint's result before it exits (it raced with the poll).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flink_stop_gets_the_savepoint_path_from_a_local_rfy_run() {
    let tmp = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let rfy = rfy_itests::rfy_bin();
    for round in 0..2 {
        let out = tmp.path().join(format!("out-{round}"));
        let mut run = std::process::Command::new(&rfy)
            .args(["run", "-D", &format!("rest.port={port}"), "-D"])
            .arg(format!("state.savepoints.dir={}", tmp.path().join("sp").display()))
            .args(["wordcount", "--input", repo_file("data/kjv.txt").to_str().unwrap(), "--output"])
            .arg(&out)
            .args(["--mode", "updates", "--rate", "500"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("rfy runs (cargo build -p rfy-client)");
        let client = RestClient::new(format!("http://127.0.0.1:{port}")).unwrap();
        let job = std::sync::Mutex::new(String::new());
        wait_until("the job running", Duration::from_secs(30), || async {
            let Ok(v) = client.get("/jobs/overview").await else { return Ok(false) };
            let id = v["jobs"][0]["jid"].as_str().unwrap_or_default().to_string();
            let running = !id.is_empty() && fully_running(&client, &id).await.unwrap_or(false);
            *job.lock().unwrap() = id;
            Ok(running)
        })
        .await
        .unwrap();
        let job = job.into_inner().unwrap();
        let stop = flink(&["stop", "-m", &format!("127.0.0.1:{port}"), &job]);
        assert!(stop.ok && stop.text.contains("Savepoint completed. Path:"), "round {round}: {}", stop.text);
        let status = run.wait().unwrap();
        assert!(status.success(), "round {round}: rfy run exited {status}");
    }
}
