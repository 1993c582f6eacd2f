//! Issue 10, memory that fits the container: a keyed-state job (statebench,
//! about 300 MB of state) on the embedded local cluster with
//! `taskmanager.memory.process.size` set to the test process's resident set
//! plus 96 MiB. The TaskManager sees its resident set pass the budget at a
//! heartbeat and fails its tasks with a message naming the option to raise,
//! which reaches the job's exception history; the job does not finish.
//! (In the local cluster the budget covers the whole process: JobManager and
//! TaskManagers share it.)
//!
//! Managed memory bounds the keyed state: the same job, checkpointing, with
//! `taskmanager.memory.managed.size` far below its state fails with a message
//! naming that option once a checkpoint shows the state; `/taskmanagers/:id`
//! reports the memory model in Flink's `TaskExecutorMemoryConfiguration`.
//! Network memory bounds the exchange: with `taskmanager.memory.network.max`
//! below one task's channel buffers, the deployment is refused with a message
//! naming the network options.

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
    let conf = conf(&[
        ("taskmanager.memory.process.size", format!("{budget}m")),
        // So small a process has no room for managed memory's default 40 % (the job does not checkpoint: unused).
        ("taskmanager.memory.managed.size", "0m".into()),
        ("restart-strategy.type", "none".into()),
    ]);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_state_beyond_managed_memory_fails_naming_the_option() {
    init_logging();
    let tmp = tempfile::tempdir().unwrap();
    let conf = conf(&[
        // Set explicitly: the local cluster enforces the memory model only then; large, so the RSS guard stays quiet.
        ("taskmanager.memory.process.size", "8g".into()),
        ("taskmanager.memory.managed.size", "4m".into()),
        ("execution.checkpointing.interval", "300 ms".into()),
        ("state.checkpoints.dir", tmp.path().join("cp").display().to_string()),
        ("restart-strategy.type", "none".into()),
    ]);
    // About 20 MB of keyed state, five times the managed memory.
    let graph = plan(&conf, "statebench", 1, &["--keys", "20000", "--value-bytes", "1024"]).unwrap();
    let cluster = LocalCluster::start(&conf, graph.required_slots()).await.unwrap();
    let client = RestClient::new(cluster.rest_url()).unwrap();

    let tms = client.get("/taskmanagers").await.unwrap();
    let tm = tms["taskmanagers"][0]["id"].as_str().expect("a TaskManager").to_string();
    let details = client.get(&format!("/taskmanagers/{tm}")).await.unwrap();
    let mc = &details["memoryConfiguration"];
    assert_eq!(mc["managedMemory"], 4 << 20, "{mc}");
    assert_eq!(mc["totalProcessMemory"], 8u64 << 30, "{mc}");
    let parts = ["frameworkHeap", "taskHeap", "frameworkOffHeap", "taskOffHeap", "networkMemory", "managedMemory"];
    let sum: u64 = parts.iter().map(|k| mc[k].as_u64().unwrap_or_else(|| panic!("no {k}: {mc}"))).sum();
    assert_eq!(mc["totalFlinkMemory"].as_u64(), Some(sum), "the components add up: {mc}");
    assert!(details["metrics"]["nettyShuffleMemoryTotal"] == mc["networkMemory"], "{details}");

    let job = client.submit(&graph, &Default::default()).await.unwrap();
    let last = std::sync::Mutex::new(serde_json::Value::Null);
    let failed = wait_until("the job fails for managed memory", Duration::from_secs(90), || async {
        let exc = client.get(&format!("/jobs/{job}/exceptions")).await?;
        let hit = exc["exceptionHistory"]["entries"].as_array().is_some_and(|e| {
            e.iter().any(|x| x["stacktrace"].as_str().unwrap_or("").contains("taskmanager.memory.managed.size"))
        });
        *last.lock().unwrap() = exc;
        Ok(hit)
    })
    .await;
    let exc = last.lock().unwrap().clone();
    assert!(failed.is_ok(), "no managed-memory failure in the exception history: {exc}");
    let text = exc.to_string();
    assert!(text.contains("of keyed state") && text.contains("more than its managed memory (4 MiB)"), "{exc}");
    let state = client.get(&format!("/jobs/{job}")).await.unwrap()["state"].clone();
    assert_ne!(state, "FINISHED", "a job over managed memory must not finish");
    client.cancel(&job).await.ok();
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_beyond_network_memory_are_refused_naming_the_options() {
    init_logging();
    let conf = conf(&[
        ("taskmanager.memory.process.size", "8g".into()),
        ("taskmanager.memory.network.min", "0m".into()),
        // Less than one channel's buffers (2 × 32 kb).
        ("taskmanager.memory.network.max", "48k".into()),
        ("restart-strategy.type", "none".into()),
    ]);
    let graph = plan(&conf, "statebench", 2, &["--keys", "1000", "--value-bytes", "8"]).unwrap();
    let cluster = LocalCluster::start(&conf, graph.required_slots()).await.unwrap();
    let client = RestClient::new(cluster.rest_url()).unwrap();
    let job = client.submit(&graph, &Default::default()).await.unwrap();
    let state = wait_terminal(&client, &job, Duration::from_secs(60)).await.unwrap();
    assert_eq!(state, "FAILED");
    let exc = client.get(&format!("/jobs/{job}/exceptions")).await.unwrap().to_string();
    assert!(
        exc.contains("Insufficient network buffer memory")
            && exc.contains("taskmanager.memory.network.fraction/min/max"),
        "{exc}"
    );
    cluster.shutdown().await;
}
