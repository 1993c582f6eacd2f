//! Issue 10, memory that fits the container: a keyed-state job (statebench,
//! about 300 MB of state) on the embedded local cluster with
//! `taskmanager.memory.process.size` set to the test process's resident set
//! plus 96 MiB. The TaskManager sees its resident set pass the budget at a
//! heartbeat and fails its tasks with a message naming the option to raise,
//! which reaches the job's exception history; the job does not finish.
//! (In the local cluster the budget covers the whole process: JobManager and
//! TaskManagers share it.)

use std::time::Duration;

use rfy_client::follow::RestClient;
use rfy_client::local::LocalCluster;
use rfy_itests::local::*;

fn rss_mib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = s
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_manager_over_its_memory_budget_fails_its_tasks_naming_the_option() {
    init_logging();
    let budget = rss_mib() + 96;
    let conf =
        conf(&[("taskmanager.memory.process.size", format!("{budget}m")), ("restart-strategy.type", "none".into())]);
    let graph = plan(&conf, "statebench", 1, &["--keys", "300000", "--value-bytes", "1024"]).unwrap();
    let cluster = LocalCluster::start(&conf, graph.required_slots()).await.unwrap();
    let client = RestClient::new(cluster.rest_url()).unwrap();
    let job = client.submit(&graph, &Default::default()).await.unwrap();
    let last = std::sync::Mutex::new(serde_json::Value::Null);
    let failed = wait_until("the job fails for memory", Duration::from_secs(60), || async {
        let exc = client.get(&format!("/jobs/{job}/exceptions")).await?;
        let hit = exc["exceptionHistory"]["entries"].as_array().is_some_and(|e| {
            e.iter().any(|x| x["stacktrace"].as_str().unwrap_or("").contains("taskmanager.memory.process.size"))
        });
        *last.lock().unwrap() = exc;
        Ok(hit)
    })
    .await;
    let exc = last.lock().unwrap().clone();
    assert!(failed.is_ok(), "no memory failure in the exception history: {exc}");
    let text = exc.to_string();
    assert!(text.contains("more than its budget") && text.contains(&format!("= {budget} MiB")), "{exc}");
    let state = client.get(&format!("/jobs/{job}")).await.unwrap()["state"].clone();
    assert_ne!(state, "FINISHED", "a job over budget must not finish");
    client.cancel(&job).await.ok();
    cluster.shutdown().await;
}
