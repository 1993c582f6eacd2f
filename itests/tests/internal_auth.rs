//! Internal traffic only the application can speak (issue 20, part 5): a
//! JobManager and a TaskManager of one application share its cluster secret;
//! a TaskManager process with another application's secret, or none, cannot
//! register, and a call to a TaskManager's control or data service without
//! the secret is refused. Real processes: the `rfy-worker` binary against an
//! in-process JobManager listening on loopback.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rfy_conf::Configuration;
use rfy_hadoop::token::Credentials;
use rfy_jobmanager::{ClusterSecret, JobManager, JobManagerConfig, JobManagerHandle, StaticDriver};
use rfy_rpc::auth::CLUSTER_SECRET_ALIAS;
use rfy_rpc::data_exchange_client::DataExchangeClient;
use rfy_rpc::task_executor_gateway_client::TaskExecutorGatewayClient;
use rfy_rpc::{CancelTaskRequest, SubpartitionRequest};
use rfy_taskmanager::{TaskManager, TaskManagerConfig};

const NO_PROGRAMS: &[rfy_runtime::JobProgram] = &[];

async fn job_manager(secret: &ClusterSecret) -> JobManagerHandle {
    JobManager::start(JobManagerConfig {
        conf: Configuration::new(),
        rpc_bind: "127.0.0.1:0".into(),
        rest_bind: "127.0.0.1:0".into(),
        advertised_host: "127.0.0.1".into(),
        driver: Arc::new(StaticDriver),
        secret: secret.clone(),
    })
    .await
    .expect("JobManager starts")
}

/// Runs `rfy-worker` against `jm` with `credentials` as its container's
/// credentials file (`None`: no file); (exit success, stderr, seconds taken).
fn run_worker(jm: &str, credentials: Option<&Credentials>) -> (bool, String, f64) {
    let dir = tempfile::tempdir().unwrap();
    let worker = rfy_itests::rfy_bin().with_file_name("rfy-worker");
    let mut cmd = Command::new(worker);
    cmd.args(["--jobmanager", jm, "--slots", "1", "--resource-id", "stranger", "--host", "127.0.0.1"])
        .current_dir(dir.path())
        .env_remove("HADOOP_TOKEN_FILE_LOCATION")
        .env("RUST_LOG", "info");
    if let Some(c) = credentials {
        let file = dir.path().join("container_tokens");
        std::fs::write(&file, c.encode_writable()).unwrap();
        cmd.env("HADOOP_TOKEN_FILE_LOCATION", &file);
    }
    let t0 = Instant::now();
    let out = cmd.output().expect("rfy-worker runs");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned(), t0.elapsed().as_secs_f64())
}

fn credentials_with(secret: &[u8]) -> Credentials {
    let mut c = Credentials::new();
    c.add_secret_key(CLUSTER_SECRET_ALIAS, secret.to_vec());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_manager_with_another_applications_secret_or_none_cannot_register() {
    let ours = ClusterSecret::generate();
    let jm = job_manager(&ours).await;

    let theirs = ClusterSecret::generate();
    let (ok, stderr, secs) =
        tokio::task::block_in_place(|| run_worker(&jm.rpc_address, Some(&credentials_with(theirs.as_bytes()))));
    assert!(!ok, "a TaskManager with another application's secret started:\n{stderr}");
    assert!(stderr.contains("refused") && stderr.contains("wrong cluster secret"), "{stderr}");
    // It gives up at once rather than retrying until the registration timeout.
    assert!(secs < rfy_taskmanager::REGISTRATION_TIMEOUT.as_secs_f64() / 2.0, "took {secs:.1} s:\n{stderr}");

    let (ok, stderr, _) = tokio::task::block_in_place(|| run_worker(&jm.rpc_address, Some(&Credentials::new())));
    assert!(!ok && stderr.contains("hold no valid rfy cluster secret"), "{stderr}");
    let (ok, stderr, _) = tokio::task::block_in_place(|| run_worker(&jm.rpc_address, None));
    assert!(!ok && stderr.contains("HADOOP_TOKEN_FILE_LOCATION"), "{stderr}");
    let (ok, stderr, _) = tokio::task::block_in_place(|| run_worker(&jm.rpc_address, Some(&credentials_with(&[7; 5]))));
    assert!(!ok && stderr.contains("32 bytes, got 5"), "{stderr}");

    assert!(jm.task_managers().is_empty(), "a stranger registered: {:?}", jm.task_managers());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_to_a_task_manager_without_the_secret_are_refused_and_with_it_served() {
    let secret = ClusterSecret::generate();
    let jm = job_manager(&secret).await;
    let tm = TaskManager::start(
        TaskManagerConfig {
            resource_id: "tm-1".into(),
            jobmanager_address: jm.rpc_address.clone(),
            bind_host: "127.0.0.1".into(),
            advertised_host: "127.0.0.1".into(),
            port: 0,
            num_slots: 1,
            log_path: String::new(),
            enforce_memory_budget: false,
            conf: Configuration::new(),
            secret: secret.clone(),
        },
        Arc::new(NO_PROGRAMS),
    )
    .await
    .expect("a TaskManager with the application's secret registers");
    jm.wait_for_task_managers(1, Duration::from_secs(10)).await.unwrap();

    let url = format!("http://{}", tm.address);
    let cancel = CancelTaskRequest { execution_id: "none".into() };
    let mut control = TaskExecutorGatewayClient::connect(url.clone()).await.unwrap();
    let refused = control.cancel_task(cancel.clone()).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
    assert!(refused.message().contains("no cluster secret"), "{}", refused.message());

    let mut data = DataExchangeClient::connect(url.clone()).await.unwrap();
    let request = SubpartitionRequest { partition_id: "p".into(), subpartition: 0, consumer: "stranger".into() };
    let refused = data.request_subpartition(request).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");

    let wrong = ClusterSecret::generate();
    let channel = tonic::transport::Endpoint::from_shared(url.clone()).unwrap().connect().await.unwrap();
    let mut control = TaskExecutorGatewayClient::new(wrong.channel(channel.clone()));
    let refused = control.cancel_task(cancel.clone()).await.unwrap_err();
    assert!(refused.message().contains("wrong cluster secret"), "{}", refused.message());

    // With the secret the same call reaches the TaskManager (which answers for the unknown task).
    let mut control = TaskExecutorGatewayClient::new(secret.channel(channel));
    match control.cancel_task(cancel).await {
        Ok(_) => {}
        Err(s) => assert_ne!(s.code(), tonic::Code::Unauthenticated, "{s:?}"),
    }
}
