//! The embedded local cluster: a JobManager and N TaskManagers in this
//! process, talking over the same gRPC and REST paths (on loopback) as a
//! distributed cluster.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use rfy_conf::{options, Configuration, Source};
use rfy_jobmanager::{JobManager, JobManagerConfig, JobManagerHandle, StaticDriver};
use rfy_taskmanager::{TaskManager, TaskManagerConfig, TaskManagerHandle};

/// A running embedded cluster.
pub struct LocalCluster {
    /// The JobManager.
    pub jobmanager: JobManagerHandle,
    /// The TaskManagers.
    pub taskmanagers: Vec<TaskManagerHandle>,
}

impl LocalCluster {
    /// Starts a JobManager and `local.number-taskmanager` TaskManagers. When
    /// `taskmanager.numberOfTaskSlots` is not set, each TaskManager gets
    /// enough slots for a job of `required_slots` (as Flink's local
    /// environment sizes its MiniCluster to the job).
    pub async fn start(conf: &Configuration, required_slots: u32) -> Result<LocalCluster> {
        let mut conf = conf.clone();
        let tms = conf.get(&options::LOCAL_NUMBER_TASKMANAGER).max(1);
        if !conf.contains(options::TASKMANAGER_NUMBER_OF_TASK_SLOTS.key) {
            let per_tm = required_slots.div_ceil(tms).max(1);
            conf.set(options::TASKMANAGER_NUMBER_OF_TASK_SLOTS.key, &per_tm.to_string(), Source::Programmatic)?;
        }
        let slots = conf.get(&options::TASKMANAGER_NUMBER_OF_TASK_SLOTS);
        // The REST port is only fixed when asked for: parallel local runs must not collide.
        let rest_port = if conf.contains(options::REST_PORT.key) { conf.get(&options::REST_PORT) } else { 0 };
        let bind = conf.get(&options::REST_BIND_ADDRESS);
        let jobmanager = JobManager::start(JobManagerConfig {
            conf: conf.clone(),
            rpc_bind: "127.0.0.1:0".into(),
            rest_bind: format!("{bind}:{rest_port}"),
            advertised_host: "127.0.0.1".into(),
            driver: Arc::new(StaticDriver),
        })
        .await?;
        let mut taskmanagers = Vec::new();
        for i in 0..tms {
            let tm = TaskManager::start(
                TaskManagerConfig {
                    resource_id: format!("local-tm-{i}"),
                    jobmanager_address: jobmanager.rpc_address.clone(),
                    bind_host: "127.0.0.1".into(),
                    advertised_host: "127.0.0.1".into(),
                    port: 0,
                    num_slots: slots,
                    log_path: String::new(),
                    conf: conf.clone(),
                },
                Arc::new(rfy_jobs::BUILTIN),
            )
            .await
            .with_context(|| format!("starting local TaskManager {i}"))?;
            taskmanagers.push(tm);
        }
        jobmanager.wait_for_task_managers(tms as usize, Duration::from_secs(30)).await.map_err(anyhow::Error::msg)?;
        Ok(LocalCluster { jobmanager, taskmanagers })
    }

    /// Base URL of the REST API.
    pub fn rest_url(&self) -> String {
        format!("http://{}", self.jobmanager.rest_address)
    }

    /// Stops the TaskManagers and the JobManager.
    pub async fn shutdown(self) {
        for tm in self.taskmanagers {
            let _ = tm.shutdown().await;
        }
        self.jobmanager.shutdown();
    }
}
