//! A JobManager with a job graph store (the session ApplicationMaster's)
//! records each job before it answers the submission: over REST, an
//! acknowledged job is in the store; a store that cannot be written fails the
//! submission with its error (500) and nothing runs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rfy_conf::Configuration;
use rfy_jobmanager::job_graph_store::{JobGraphStore, JobGraphStoreError, SubmittedJobGraph};
use rfy_jobmanager::{JobManager, JobManagerConfig, JobManagerHandle, StaticDriver};
use rfy_runtime::ExecutionConfig;

/// Records the ids put, or refuses every put.
struct MemoryStore {
    refuse: bool,
    ids: Mutex<Vec<String>>,
}

impl JobGraphStore for MemoryStore {
    fn put(&self, job: &SubmittedJobGraph<'_>) -> Result<(), JobGraphStoreError> {
        if self.refuse {
            return Err(JobGraphStoreError {
                job_id: job.job_id.to_string(),
                location: "hdfs://nn/staging/jobs".into(),
                source: "NameNode is in safe mode".into(),
            });
        }
        assert!(
            job.graph.program == "stored"
                && job.name == job.graph.job_name
                && job.config.get("parallelism.default").map(String::as_str) == Some("1"),
            "{job:?}"
        );
        self.ids.lock().unwrap().push(job.job_id.to_string());
        Ok(())
    }
}

async fn start(store: Arc<MemoryStore>) -> JobManagerHandle {
    let jm = JobManager::start(JobManagerConfig {
        conf: Configuration::new(),
        rpc_bind: "127.0.0.1:0".into(),
        rest_bind: "127.0.0.1:0".into(),
        advertised_host: "127.0.0.1".into(),
        driver: Arc::new(StaticDriver),
        secret: rfy_jobmanager::ClusterSecret::generate(),
    })
    .await
    .unwrap();
    assert!(jm.set_job_graph_store(store.clone()));
    assert!(!jm.set_job_graph_store(store), "a second store is refused");
    jm
}

/// `POST /jobs` with a one-vertex job; (status, body).
async fn submit(jm: &JobManagerHandle) -> (u16, serde_json::Value) {
    let env = rfy_runtime::StreamExecutionEnvironment::new(ExecutionConfig::default());
    env.from_collection(vec![1u64, 2, 3]).discard();
    let graph = env.into_stream_graph("stored", &[]).job_graph().unwrap();
    let config = BTreeMap::from([("parallelism.default".to_string(), "1".to_string())]);
    let body = serde_json::json!({ "jobGraph": graph, "config": config });
    let resp = http().post(format!("http://{}/jobs", jm.rest_address)).json(&body).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_submission_is_in_the_store() {
    let store = Arc::new(MemoryStore { refuse: false, ids: Mutex::default() });
    let jm = start(store.clone()).await;
    let (status, body) = submit(&jm).await;
    assert_eq!(status, 202, "{body}");
    let id = body["jobid"].as_str().unwrap().to_string();
    assert_eq!(*store.ids.lock().unwrap(), vec![id.clone()]);
    assert!(jm.job_snapshot(&id).is_some());
    jm.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_be_written_fails_the_submission() {
    let store = Arc::new(MemoryStore { refuse: true, ids: Mutex::default() });
    let jm = start(store).await;
    let (status, body) = submit(&jm).await;
    assert_eq!(status, 500, "{body}");
    let msg = body["errors"][0].as_str().unwrap();
    assert!(msg.contains("hdfs://nn/staging/jobs") && msg.contains("safe mode"), "{msg}");
    assert!(jm.jobs().is_empty(), "nothing runs: {:?}", jm.jobs().len());
    jm.shutdown();
}

/// A reqwest client: reqwest is built without a crypto provider (`rfy_hadoop::tls`), so install ring's first.
fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
