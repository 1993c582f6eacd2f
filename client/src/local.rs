//! The embedded local cluster: a JobManager and N TaskManagers in this
//! process, talking over the same gRPC and REST paths (on loopback) as a
//! distributed cluster. Its [`LocalDriver`] keeps the cluster at its size:
//! it starts a replacement TaskManager in-process for each one lost, as the
//! YARN driver starts new containers (it never grows the cluster beyond
//! `local.number-taskmanager`, as Flink's MiniCluster does not).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result};
use rfy_conf::{options, Configuration, Source};
use rfy_jobmanager::{ClusterSecret, JobManager, JobManagerConfig, JobManagerHandle, ResourceDriver};
use rfy_runtime::JobProgram;
use rfy_taskmanager::{TaskManager, TaskManagerConfig, TaskManagerHandle};

type TaskManagers = Arc<Mutex<Vec<TaskManagerHandle>>>;

fn lock(m: &Mutex<Vec<TaskManagerHandle>>) -> MutexGuard<'_, Vec<TaskManagerHandle>> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts TaskManagers in this process on request of the ResourceManager.
pub struct LocalDriver {
    conf: Configuration,
    slots: u32,
    jobmanager_address: OnceLock<String>,
    rt: tokio::runtime::Handle,
    next_index: AtomicU32,
    taskmanagers: TaskManagers,
    /// The process's log file, served as every TaskManager's ("" = none).
    log_path: String,
    /// `local.number-taskmanager`.
    size: u32,
    /// Replacements being started.
    starting: Arc<AtomicU32>,
    /// The job programs the TaskManagers can run.
    programs: &'static [JobProgram],
    /// The embedded cluster's internal secret (one per cluster, as one per
    /// YARN application).
    secret: ClusterSecret,
}

impl LocalDriver {
    /// TaskManagers lost and not yet replaced.
    fn missing(&self) -> u32 {
        let have = lock(&self.taskmanagers).len() as u32 + self.starting.load(Ordering::Relaxed);
        self.size.saturating_sub(have)
    }

    fn start_one(&self) -> impl std::future::Future<Output = Result<TaskManagerHandle>> + Send + 'static {
        let i = self.next_index.fetch_add(1, Ordering::Relaxed);
        let config = TaskManagerConfig {
            resource_id: format!("local-tm-{i}"),
            jobmanager_address: self.jobmanager_address.get().cloned().unwrap_or_default(),
            bind_host: "127.0.0.1".into(),
            advertised_host: "127.0.0.1".into(),
            port: 0,
            num_slots: self.slots,
            log_path: self.log_path.clone(),
            enforce_memory_budget: self.conf.contains(options::TASKMANAGER_MEMORY_PROCESS_SIZE.key),
            conf: self.conf.clone(),
            secret: self.secret.clone(),
        };
        let programs = self.programs;
        async move {
            TaskManager::start(config, Arc::new(programs))
                .await
                .with_context(|| format!("starting local TaskManager {i}"))
        }
    }
}

impl ResourceDriver for LocalDriver {
    fn name(&self) -> &'static str {
        "local"
    }
    fn can_add_task_managers(&self) -> bool {
        // Replacements being started count: a restarting job waits for them.
        self.missing() > 0 || self.starting.load(Ordering::Relaxed) > 0
    }
    fn set_required_task_managers(&self, count: u32) {
        // `count` includes the replacements already starting.
        let more = count.saturating_sub(self.starting.load(Ordering::Relaxed)).min(self.missing());
        for _ in 0..more {
            self.starting.fetch_add(1, Ordering::Relaxed);
            let start = self.start_one();
            let (tms, starting) = (self.taskmanagers.clone(), self.starting.clone());
            self.rt.spawn(async move {
                let result = start.await;
                starting.fetch_sub(1, Ordering::Relaxed);
                match result {
                    Ok(tm) => {
                        tracing::info!(resource_id = %tm.resource_id, "replacement TaskManager started");
                        lock(&tms).push(tm);
                    }
                    Err(e) => tracing::error!("{e:#}"),
                }
            });
        }
    }
    fn release_task_manager(&self, resource_id: &str) {
        let mut tms = lock(&self.taskmanagers);
        if let Some(i) = tms.iter().position(|t| t.resource_id == resource_id) {
            let tm = tms.remove(i);
            tm.kill();
        }
    }
}

/// How long [`LocalCluster::shutdown`] waits for clients to fetch REST
/// operation results (Flink's clients poll at least every 2 s).
pub const RESULT_FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// A running embedded cluster.
pub struct LocalCluster {
    /// The JobManager.
    pub jobmanager: JobManagerHandle,
    taskmanagers: TaskManagers,
}

impl LocalCluster {
    /// Starts a JobManager and `local.number-taskmanager` TaskManagers. When
    /// `taskmanager.numberOfTaskSlots` is not set, each TaskManager gets
    /// enough slots for a job of `required_slots` (as Flink's local
    /// environment sizes its MiniCluster to the job).
    /// Its TaskManagers run the built-in job programs.
    #[cfg(feature = "builtin-jobs")]
    pub async fn start(conf: &Configuration, required_slots: u32) -> Result<LocalCluster> {
        Self::start_with_programs(conf, required_slots, rfy_jobs::BUILTIN).await
    }

    /// As [`LocalCluster::start`], with TaskManagers that run `programs`
    /// (a job executable's own). Registers the `hdfs://` file system.
    pub async fn start_with_programs(
        conf: &Configuration,
        required_slots: u32,
        programs: &'static [JobProgram],
    ) -> Result<LocalCluster> {
        rfy_connectors::register_file_system();
        let mut conf = conf.clone();
        let tms = conf.get(&options::LOCAL_NUMBER_TASKMANAGER).max(1);
        if !conf.contains(options::TASKMANAGER_NUMBER_OF_TASK_SLOTS.key) {
            let per_tm = required_slots.div_ceil(tms).max(1);
            conf.set(options::TASKMANAGER_NUMBER_OF_TASK_SLOTS.key, &per_tm.to_string(), Source::Programmatic)?;
        }
        let slots = conf.get(&options::TASKMANAGER_NUMBER_OF_TASK_SLOTS);
        // One process, one log file: with env.log.dir, the process also logs
        // to <dir>/jobmanager.log, which the JobManager and every TaskManager serve.
        let log_path = match conf.get_optional(&options::ENV_LOG_DIR) {
            Some(dir) => {
                let path = std::path::Path::new(&dir).join("jobmanager.log");
                rfy_conf::logging::also_to_file(&path)
                    .with_context(|| format!("cannot create the log file {} (env.log.dir)", path.display()))?;
                rfy_conf::logging::log_file().map(|p| p.display().to_string()).unwrap_or_default()
            }
            None => String::new(),
        };
        // The REST port is only fixed when asked for: parallel local runs must not collide.
        let rest_port = if conf.contains(options::REST_PORT.key) { conf.get(&options::REST_PORT) } else { 0 };
        let bind = conf.get(&options::REST_BIND_ADDRESS);
        let taskmanagers: TaskManagers = Arc::default();
        let driver = Arc::new(LocalDriver {
            conf: conf.clone(),
            slots,
            jobmanager_address: OnceLock::new(),
            rt: tokio::runtime::Handle::current(),
            next_index: AtomicU32::new(0),
            taskmanagers: taskmanagers.clone(),
            log_path,
            size: tms,
            starting: Arc::default(),
            programs,
            secret: ClusterSecret::generate(),
        });
        let jobmanager = JobManager::start(JobManagerConfig {
            conf: conf.clone(),
            rpc_bind: "127.0.0.1:0".into(),
            rest_bind: format!("{bind}:{rest_port}"),
            advertised_host: "127.0.0.1".into(),
            driver: driver.clone(),
            secret: driver.secret.clone(),
        })
        .await?;
        let _ = driver.jobmanager_address.set(jobmanager.rpc_address.clone());
        for _ in 0..tms {
            let tm = driver.start_one().await?;
            lock(&taskmanagers).push(tm);
        }
        jobmanager.wait_for_task_managers(tms as usize, Duration::from_secs(30)).await?;
        Ok(LocalCluster { jobmanager, taskmanagers })
    }

    /// Base URL of the REST API.
    pub fn rest_url(&self) -> String {
        format!("http://{}", self.jobmanager.rest_address)
    }

    /// Ids of the TaskManagers alive now (replacements included).
    pub fn task_manager_ids(&self) -> Vec<String> {
        lock(&self.taskmanagers).iter().map(|t| t.resource_id.clone()).collect()
    }

    /// Kills TaskManager `resource_id` as a crashed process would die (for
    /// failure tests): it stops heartbeating, serving and reporting. False if unknown.
    pub fn kill_task_manager(&self, resource_id: &str) -> bool {
        let tms = lock(&self.taskmanagers);
        match tms.iter().find(|t| t.resource_id == resource_id) {
            Some(tm) => {
                tm.kill();
                true
            }
            None => false,
        }
    }

    /// Stops the TaskManagers and the JobManager, once every REST operation
    /// result (e.g. a stop-with-savepoint's path) has been fetched by its client
    /// (at most [`RESULT_FETCH_TIMEOUT`]).
    pub async fn shutdown(self) {
        self.jobmanager.wait_for_operation_results(RESULT_FETCH_TIMEOUT).await;
        let tms: Vec<TaskManagerHandle> = lock(&self.taskmanagers).drain(..).collect();
        for tm in tms {
            let _ = tm.shutdown().await;
        }
        self.jobmanager.shutdown();
    }
}
