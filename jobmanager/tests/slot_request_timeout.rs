//! A job that cannot get its slots within `slot.request.timeout` fails,
//! naming what it asked for and what the driver was granted; its demand is
//! withdrawn (the driver is told 0 TaskManagers are needed any more).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rfy_conf::{Configuration, Source};
use rfy_jobmanager::{JobManager, JobManagerConfig, JobState, ResourceDriver};
use rfy_runtime::ExecutionConfig;

/// An environment that takes asks but never grants a TaskManager.
#[derive(Default)]
struct NeverGrants {
    required: Mutex<Vec<u32>>,
}

impl ResourceDriver for NeverGrants {
    fn name(&self) -> &'static str {
        "never"
    }
    fn can_add_task_managers(&self) -> bool {
        true
    }
    fn set_required_task_managers(&self, count: u32) {
        self.required.lock().unwrap().push(count);
    }
    fn release_task_manager(&self, _resource_id: &str) {}
    fn allocation_summary(&self) -> String {
        format!("asked for {} TaskManager(s), granted 0", self.required.lock().unwrap().iter().max().unwrap_or(&0))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_without_slots_fails_after_the_slot_request_timeout() {
    let mut conf = Configuration::new();
    conf.set("slot.request.timeout", "300 ms", Source::Programmatic).unwrap();
    conf.set("taskmanager.numberOfTaskSlots", "2", Source::Programmatic).unwrap();
    let driver = Arc::new(NeverGrants::default());
    let jm = JobManager::start(JobManagerConfig {
        conf,
        rpc_bind: "127.0.0.1:0".into(),
        rest_bind: "127.0.0.1:0".into(),
        advertised_host: "127.0.0.1".into(),
        driver: driver.clone(),
        secret: rfy_jobmanager::ClusterSecret::generate(),
    })
    .await
    .unwrap();
    let env = rfy_runtime::StreamExecutionEnvironment::new(ExecutionConfig { parallelism: 3, ..Default::default() });
    env.from_collection(vec![1u64, 2, 3]).key_by(|x: &u64| *x).reduce(|a, b| a + b).discard();
    let graph = env.into_stream_graph("t", &[]).job_graph().unwrap();
    let job = jm.submit(graph, Default::default()).unwrap();
    let start = Instant::now();
    let st = loop {
        let st = jm.job_snapshot(&job).unwrap();
        if st.state.is_terminal() {
            break st;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "job still {:?}", st.state);
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(st.state, JobState::Failed);
    let root = st.root_exception().unwrap().stacktrace.clone();
    assert!(root.contains("could not get 3 slots within 0.3 s (slot.request.timeout)"), "{root}");
    assert!(root.contains("asked for 2 TaskManager(s), granted 0"), "{root}");
    assert_eq!(driver.required.lock().unwrap().last(), Some(&0), "the demand is withdrawn");
    assert!(jm.slot_demand().is_empty());
    jm.shutdown();
}
