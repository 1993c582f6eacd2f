//! The embedded cluster through its REST API: Flink-shaped answers, malformed
//! requests, cancellation, and a lost TaskManager failing its job.

mod common;

use std::time::{Duration, Instant};

use common::{part_files, repo_file};
use rfy_client::follow::RestClient;
use rfy_client::local::LocalCluster;
use rfy_conf::{Configuration, Source};
use rfy_runtime::ExecutionConfig;

fn paced_wordcount(p: u32, out: &std::path::Path) -> rfy_runtime::JobGraph {
    let args: Vec<String> =
        ["--input", repo_file("data/kjv.txt").to_str().unwrap(), "--output", out.to_str().unwrap(), "--rate", "2000"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    let stream = rfy_jobs::wordcount::PROGRAM
        .stream_graph(&args, ExecutionConfig { parallelism: p, ..Default::default() })
        .unwrap();
    stream.check_io().unwrap();
    stream.job_graph().unwrap()
}

async fn wait_state(client: &RestClient, job: &str, want: &[&str], timeout: Duration) -> String {
    let start = Instant::now();
    loop {
        let d = client.get(&format!("/jobs/{job}")).await.unwrap();
        let s = d["state"].as_str().unwrap().to_string();
        if want.contains(&s.as_str()) {
            return s;
        }
        assert!(start.elapsed() < timeout, "job {job} still {s} after {timeout:?}, wanted {want:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_all_running(client: &RestClient, job: &str) {
    let start = Instant::now();
    loop {
        let d = client.get(&format!("/jobs/{job}")).await.unwrap();
        if d["status-counts"]["RUNNING"].as_u64()
            == Some(d["vertices"].as_array().unwrap().iter().map(|v| v["parallelism"].as_u64().unwrap()).sum())
        {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "tasks not all RUNNING: {d}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn conf(tms: u32) -> Configuration {
    let mut c = Configuration::new();
    c.set("local.number-taskmanager", &tms.to_string(), Source::Programmatic).unwrap();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_answers_in_flinks_shapes_and_rejects_bad_requests() {
    let cluster = LocalCluster::start(&conf(2), 2).await.unwrap();
    let client = RestClient::new(cluster.rest_url()).unwrap();
    let o = client.get("/overview").await.unwrap();
    assert_eq!(o["taskmanagers"], 2);
    assert_eq!(o["slots-total"], 2);
    assert_eq!(o["slots-available"], 2);
    let tms = client.get("/taskmanagers").await.unwrap();
    assert_eq!(tms["taskmanagers"].as_array().unwrap().len(), 2);
    assert!(tms["taskmanagers"][0]["timeSinceLastHeartbeat"].as_u64().unwrap() < 5000);

    let http = rfy_hadoop::tls::http_client_builder().build().unwrap();
    let base = cluster.rest_url();
    for (body, what) in
        [("{", "malformed JSON"), ("{\"jobGraph\": 5}", "wrong type"), ("{\"nope\": 1}", "unknown field")]
    {
        let r = http.post(format!("{base}/jobs")).body(body).send().await.unwrap();
        assert_eq!(r.status(), 400, "{what}");
        let e: serde_json::Value = r.json().await.unwrap();
        assert!(e["errors"][0].as_str().unwrap().contains("malformed job submission"), "{what}: {e}");
    }
    let r = http.get(format!("{base}/jobs/not-a-job-id")).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = http.get(format!("{base}/jobs/0123456789abcdef0123456789abcdef")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = http.get(format!("{base}/no/such/endpoint")).send().await.unwrap();
    assert_eq!(r.status(), 404);

    // A JobGraph that asks for more slots than the cluster has fails with a clear reason.
    let dir = tempfile::tempdir().unwrap();
    let graph = paced_wordcount(3, &dir.path().join("out"));
    let job = client.submit(&graph, &Default::default()).await.unwrap();
    wait_state(&client, &job, &["FAILED"], Duration::from_secs(10)).await;
    let ex = client.get(&format!("/jobs/{job}/exceptions")).await.unwrap();
    assert!(ex["root-exception"].as_str().unwrap().contains("needs 3 slots"), "{ex}");
    let overview = client.get("/jobs/overview").await.unwrap();
    assert_eq!(overview["jobs"][0]["jid"], job.as_str());
    assert_eq!(overview["jobs"][0]["state"], "FAILED");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_the_job_and_leaves_no_part_files() {
    let cluster = LocalCluster::start(&conf(1), 2).await.unwrap();
    let client = RestClient::new(cluster.rest_url()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let job = client.submit(&paced_wordcount(2, &out), &Default::default()).await.unwrap();
    wait_all_running(&client, &job).await;
    client.cancel(&job).await.unwrap();
    wait_state(&client, &job, &["CANCELED"], Duration::from_secs(10)).await;
    assert!(part_files(&out).is_empty(), "a canceled job must not leave complete-looking output");
    let overview = client.get("/overview").await.unwrap();
    assert_eq!(overview["slots-available"], 2, "slots released");
    assert_eq!(overview["jobs-cancelled"], 1);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_taskmanager_fails_its_job_with_the_reason() {
    let mut c = conf(2);
    c.set("heartbeat.interval", "200 ms", Source::Programmatic).unwrap();
    c.set("heartbeat.timeout", "1 s", Source::Programmatic).unwrap();
    let cluster = LocalCluster::start(&c, 2).await.unwrap();
    let client = RestClient::new(cluster.rest_url()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let job = client.submit(&paced_wordcount(2, &out), &Default::default()).await.unwrap();
    wait_all_running(&client, &job).await;
    let killed_at = Instant::now();
    assert!(cluster.kill_task_manager("local-tm-1"));
    wait_state(&client, &job, &["FAILED"], Duration::from_secs(10)).await;
    let detected = killed_at.elapsed();
    let ex = client.get(&format!("/jobs/{job}/exceptions")).await.unwrap();
    let root = ex["root-exception"].as_str().unwrap();
    // Whichever is noticed first (a broken input channel, or the missed
    // heartbeats), the reason names the TaskManager that went away.
    assert!(root.contains("local-tm-1"), "{root}");
    assert!(detected < Duration::from_secs(5), "loss noticed after {detected:?}");
    assert!(part_files(&out).is_empty());
    let start = Instant::now();
    while client.get("/taskmanagers").await.unwrap()["taskmanagers"].as_array().unwrap().len() != 1 {
        assert!(start.elapsed() < Duration::from_secs(5), "the lost TaskManager is never removed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taskmanager_of_another_protocol_version_is_refused() {
    use rfy_rpc::job_manager_gateway_client::JobManagerGatewayClient;
    let cluster = LocalCluster::start(&conf(1), 1).await.unwrap();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", cluster.jobmanager.rpc_address))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut jm = JobManagerGatewayClient::new(cluster.jobmanager.cluster_secret().channel(channel));
    let req = |version| rfy_rpc::RegisterTaskManagerRequest {
        protocol_version: version,
        resource_id: "intruder".into(),
        rpc_address: "127.0.0.1:1".into(),
        data_address: "127.0.0.1:1".into(),
        num_slots: 1,
        ..Default::default()
    };
    let r = jm.register_task_manager(req(rfy_rpc::PROTOCOL_VERSION + 1)).await.unwrap().into_inner();
    assert!(!r.accepted);
    assert!(r.reason.contains("protocol version"), "{}", r.reason);
    let hb = jm
        .heartbeat(rfy_rpc::HeartbeatRequest { resource_id: "intruder".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert!(!hb.known, "a refused TaskManager is unknown");
    let overview = RestClient::new(cluster.rest_url()).unwrap().get("/overview").await.unwrap();
    assert_eq!(overview["taskmanagers"], 1);
    cluster.shutdown().await;
}
