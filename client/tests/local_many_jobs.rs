//! Many jobs on one JobManager (the embedded cluster through its REST API):
//! jobs run side by side on their own slots; canceling one or one failing
//! leaves the other running to the right result; finished jobs stay listed.

mod common;

use std::time::{Duration, Instant};

use common::{flink_counts, read_parts, repo_file};
use rfy_client::follow::RestClient;
use rfy_client::local::LocalCluster;
use rfy_conf::{Configuration, Source};
use rfy_runtime::ExecutionConfig;

fn wordcount(input: &std::path::Path, out: &std::path::Path, rate: &str) -> rfy_runtime::JobGraph {
    let args: Vec<String> = ["--input", input.to_str().unwrap(), "--output", out.to_str().unwrap(), "--rate", rate]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let stream = rfy_jobs::wordcount::PROGRAM
        .stream_graph(&args, ExecutionConfig { parallelism: 1, ..Default::default() })
        .unwrap();
    stream.check_io().unwrap();
    stream.job_graph().unwrap()
}

async fn state(client: &RestClient, job: &str) -> String {
    client.get(&format!("/jobs/{job}")).await.unwrap()["state"].as_str().unwrap().to_string()
}

async fn wait_state(client: &RestClient, job: &str, want: &str, timeout: Duration) {
    let start = Instant::now();
    loop {
        let s = state(client, job).await;
        if s == want {
            return;
        }
        assert!(start.elapsed() < timeout, "job {job} still {s} after {timeout:?}, wanted {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canceled_and_a_failing_job_do_not_disturb_a_running_one() {
    let mut conf = Configuration::new();
    conf.set("local.number-taskmanager", "1", Source::Programmatic).unwrap();
    conf.set("taskmanager.numberOfTaskSlots", "3", Source::Programmatic).unwrap();
    let cluster = LocalCluster::start(&conf, 3).await.unwrap();
    let client = RestClient::new(cluster.rest_url()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kjv = repo_file("data/kjv.txt");

    // The survivor: ~3 s of paced word count.
    let good = client.submit(&wordcount(&kjv, &dir.path().join("good"), "10000"), &Default::default()).await.unwrap();
    // A slow one to cancel, and one whose input vanishes after planning (its source fails).
    let slow = client.submit(&wordcount(&kjv, &dir.path().join("slow"), "100"), &Default::default()).await.unwrap();
    let doomed_input = dir.path().join("doomed.txt");
    std::fs::copy(&kjv, &doomed_input).unwrap();
    let doomed_graph = wordcount(&doomed_input, &dir.path().join("doomed"), "10000");
    std::fs::remove_file(&doomed_input).unwrap();
    wait_state(&client, &good, "RUNNING", Duration::from_secs(10)).await;
    wait_state(&client, &slow, "RUNNING", Duration::from_secs(10)).await;
    let doomed = client.submit(&doomed_graph, &Default::default()).await.unwrap();

    client.cancel(&slow).await.unwrap();
    wait_state(&client, &slow, "CANCELED", Duration::from_secs(10)).await;
    wait_state(&client, &doomed, "FAILED", Duration::from_secs(10)).await;
    assert_eq!(state(&client, &good).await, "RUNNING", "the other jobs' ends leave the survivor running");
    wait_state(&client, &good, "FINISHED", Duration::from_secs(60)).await;
    let counts: std::collections::BTreeMap<String, u64> = read_parts(&dir.path().join("good")).into_iter().collect();
    assert_eq!(counts, flink_counts(), "the survivor's output is complete");

    let ex = client.get(&format!("/jobs/{good}/exceptions")).await.unwrap();
    assert!(ex["root-exception"].is_null(), "the survivor saw no failure: {ex}");
    let ex = client.get(&format!("/jobs/{doomed}/exceptions")).await.unwrap();
    assert!(ex["root-exception"].as_str().unwrap().contains("doomed.txt"), "{ex}");
    let o = client.get("/overview").await.unwrap();
    assert_eq!(
        (o["jobs-finished"].as_u64(), o["jobs-cancelled"].as_u64(), o["jobs-failed"].as_u64()),
        (Some(1), Some(1), Some(1)),
        "{o}"
    );
    assert_eq!(o["slots-available"], 3, "every slot is free again");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_jobs_beyond_the_job_store_capacity_are_forgotten() {
    let mut conf = Configuration::new();
    conf.set("jobstore.max-capacity", "1", Source::Programmatic).unwrap();
    let cluster = LocalCluster::start(&conf, 1).await.unwrap();
    let client = RestClient::new(cluster.rest_url()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kjv = repo_file("data/kjv.txt");
    let first = client.submit(&wordcount(&kjv, &dir.path().join("a"), "1000000"), &Default::default()).await.unwrap();
    wait_state(&client, &first, "FINISHED", Duration::from_secs(60)).await;
    let second = client.submit(&wordcount(&kjv, &dir.path().join("b"), "1000000"), &Default::default()).await.unwrap();
    wait_state(&client, &second, "FINISHED", Duration::from_secs(60)).await;
    let start = Instant::now();
    loop {
        let jobs = client.get("/jobs/overview").await.unwrap();
        let ids: Vec<&str> = jobs["jobs"].as_array().unwrap().iter().map(|j| j["jid"].as_str().unwrap()).collect();
        if ids == [second.as_str()] {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "jobstore.max-capacity=1 keeps only the newest: {ids:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = rfy_hadoop::tls::http_client_builder()
        .build()
        .unwrap()
        .get(format!("{}/jobs/{first}", cluster.rest_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "the expired job is gone");
    cluster.shutdown().await;
}
