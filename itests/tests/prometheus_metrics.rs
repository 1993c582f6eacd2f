//! Issue 10, metrics: Flink's metric names reach a real Prometheus server.
//! The embedded local cluster runs with `metrics.reporter.prom.port` (a port
//! range: the JobManager and each TaskManager take the first free port of it);
//! a `prometheus` server (Debian's package; `scripts/test` installs it) scrapes
//! the ports the REST API names every second, and a PromQL `rate()` over the
//! task counters shows records flowing. The REST metric queries
//! (`/jobs/:id/vertices/:vid/metrics?get=...`, `/jobs/metrics`) answer too,
//! and so do the time metrics and Flink's `/backpressure` and `/watermarks`
//! routes: the rate-limited job's downstream vertex is mostly idle.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rfy_client::follow::RestClient;
use rfy_client::local::LocalCluster;
use rfy_itests::local::*;

/// Kills the Prometheus server when the test ends, passed or not.
struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prometheus_scrapes_flink_named_metrics_and_promql_sees_a_rate() {
    init_logging();
    let tmp = tempfile::tempdir().unwrap();
    // A range of 10 ports from a random free one: 1 JobManager + 2 TaskManagers take 3 of them.
    let base = free_port().min(65_000);
    let conf = conf(&[
        ("metrics.reporter.prom.port", format!("{base}-{}", base + 10)),
        ("local.number-taskmanager", "2".into()),
    ]);
    let graph = plan(
        &conf,
        "wordcount",
        2,
        &[
            "--input",
            repo_file("data/kjv.txt").to_str().unwrap(),
            "--output",
            tmp.path().join("out").to_str().unwrap(),
            "--mode",
            "updates",
            "--rate",
            "2000",
        ],
    )
    .unwrap();
    let cluster = LocalCluster::start(&conf, graph.required_slots()).await.unwrap();
    let client = RestClient::new(cluster.rest_url()).unwrap();
    let job = client.submit(&graph, &Default::default()).await.unwrap();
    wait_until("all tasks running", Duration::from_secs(30), || async { fully_running(&client, &job).await })
        .await
        .unwrap();

    // The reporters' ports, as the REST API names them.
    let jm_port = client.get("/overview").await.unwrap()["prometheus-port"].as_u64().expect("JobManager reporter port");
    let mut targets = vec![format!("127.0.0.1:{jm_port}")];
    wait_until("TaskManagers report their reporter ports", Duration::from_secs(10), || async {
        let tms = client.get("/taskmanagers").await?;
        let ports: Vec<u64> =
            tms["taskmanagers"].as_array().unwrap().iter().filter_map(|t| t["prometheusPort"].as_u64()).collect();
        Ok(ports.len() == 2)
    })
    .await
    .unwrap();
    for t in client.get("/taskmanagers").await.unwrap()["taskmanagers"].as_array().unwrap() {
        targets.push(format!("127.0.0.1:{}", t["prometheusPort"]));
    }
    assert_eq!(targets.iter().collect::<std::collections::BTreeSet<_>>().len(), 3, "distinct ports: {targets:?}");

    let config = tmp.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: rfy\n    static_configs:\n      - targets: {targets:?}\n"
        ),
    )
    .unwrap();
    let web = format!("127.0.0.1:{}", free_port());
    let _prometheus = KillOnDrop(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", tmp.path().join("tsdb").display()))
            .arg(format!("--web.listen-address={web}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus runs (apt-get install prometheus)"),
    );

    let http = rfy_itests::http();
    let query = |q: &'static str| {
        let (http, web) = (http.clone(), web.clone());
        async move {
            let v: serde_json::Value =
                http.get(format!("http://{web}/api/v1/query")).query(&[("query", q)]).send().await?.json().await?;
            anyhow::Ok(v)
        }
    };
    // Records flow through the sources: a PromQL rate over Flink's task counter is positive.
    let last = std::sync::Mutex::new(serde_json::Value::Null);
    let flowing = wait_until("a positive PromQL rate of numRecordsOut", Duration::from_secs(40), || async {
        let Ok(v) = query("sum(rate(flink_taskmanager_job_task_numRecordsOut[5s]))").await else { return Ok(false) };
        let rate = v["data"]["result"][0]["value"][1].as_str().and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
        *last.lock().unwrap() = v;
        Ok(rate > 0.0)
    })
    .await;
    assert!(flowing.is_ok(), "last answer: {}", last.lock().unwrap());
    // The JobManager's job metrics and the TaskManagers' process figures are scraped too.
    let up = query("flink_jobmanager_job_uptime").await.unwrap();
    assert_eq!(up["data"]["result"][0]["metric"]["job_id"], job.as_str(), "{up}");
    let rss = query("min(flink_taskmanager_Status_ProcessTree_Memory_RSS)").await.unwrap();
    let rss = rss["data"]["result"][0]["value"][1].as_str().and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    assert!(rss > 1e6, "RSS {rss}");

    // REST metric queries in Flink's shape.
    let details = client.get(&format!("/jobs/{job}")).await.unwrap();
    let source = details["vertices"][0]["id"].as_str().unwrap().to_string();
    let m = client
        .get(&format!("/jobs/{job}/vertices/{source}/metrics?get=numRecordsOut,0.numRecordsOutPerSecond"))
        .await
        .unwrap();
    let value = |id: &str| {
        m.as_array().unwrap().iter().find(|x| x["id"] == id).and_then(|x| x["value"].as_str()?.parse::<f64>().ok())
    };
    assert!(value("numRecordsOut").unwrap_or(0.0) > 0.0, "{m}");
    assert!(value("0.numRecordsOutPerSecond").is_some(), "{m}");

    // Time metrics: the counting vertex waits for the rate-limited source, so
    // it is mostly idle, and busy + back-pressured + idle is one second.
    let counter = details["vertices"][1]["id"].as_str().unwrap().to_string();
    let last_bp = std::sync::Mutex::new(serde_json::Value::Null);
    let idle = wait_until("the counting vertex reports idle time", Duration::from_secs(20), || async {
        let bp = client.get(&format!("/jobs/{job}/vertices/{counter}/backpressure")).await?;
        let ok = bp["subtasks"]
            .as_array()
            .is_some_and(|s| s.len() == 2 && s.iter().all(|x| x["idleRatio"].as_f64().unwrap_or(0.0) > 0.5));
        *last_bp.lock().unwrap() = bp;
        Ok(ok)
    })
    .await;
    let bp = last_bp.lock().unwrap().clone();
    assert!(idle.is_ok(), "{bp}");
    assert_eq!(bp["status"], "ok", "{bp}");
    assert_eq!(bp["backpressure-level"], "ok", "an idle vertex is not back-pressured: {bp}");
    for x in bp["subtasks"].as_array().unwrap() {
        let sum: f64 = ["ratio", "idleRatio", "busyRatio"].iter().map(|k| x[*k].as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-6, "the three ratios split one second: {bp}");
    }
    let wms = client.get(&format!("/jobs/{job}/vertices/{counter}/watermarks")).await.unwrap();
    let ids: Vec<&str> = wms.as_array().unwrap().iter().filter_map(|x| x["id"].as_str()).collect();
    assert_eq!(ids, ["0.currentInputWatermark", "1.currentInputWatermark"], "{wms}");
    let m = client
        .get(&format!("/jobs/{job}/vertices/{counter}/metrics?get=0.idleTimeMsPerSecond,0.busyTimeMsPerSecond,0.Shuffle.Netty.Input.Buffers.inPoolUsage"))
        .await
        .unwrap();
    assert_eq!(m.as_array().map(Vec::len), Some(3), "{m}");
    let idle_prom = query("max(flink_taskmanager_job_task_idleTimeMsPerSecond)").await.unwrap();
    let idle_prom =
        idle_prom["data"]["result"][0]["value"][1].as_str().and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    assert!(idle_prom > 500.0, "Prometheus sees an idle task: {idle_prom}");

    let agg = client.get("/jobs/metrics?get=numRestarts").await.unwrap();
    assert_eq!(agg[0]["id"], "numRestarts", "{agg}");
    assert_eq!(agg[0]["max"], 0.0, "{agg}");

    client.cancel(&job).await.ok();
    cluster.shutdown().await;
}
