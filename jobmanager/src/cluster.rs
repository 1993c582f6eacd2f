//! The JobManager process role: its servers, shared state, and the handle
//! an embedding process (the local cluster, the ApplicationMaster) holds.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use rfy_conf::{options, Configuration, Source};
use rfy_rpc::job_manager_gateway_server::JobManagerGatewayServer;
use rfy_runtime::JobGraph;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::TcpListenerStream;

use crate::error::{JobManagerError, SubmitError};
use crate::gateway::Gateway;
use crate::job_master::{self, JobMasterMsg};
use crate::resource_manager::{ResourceDriver, ResourceManager};
use crate::status::JobStatus;

/// A job known to the Dispatcher.
pub(crate) struct JobEntry {
    pub(crate) status: RwLock<JobStatus>,
    pub(crate) tx: mpsc::UnboundedSender<JobMasterMsg>,
}

/// State shared by the Dispatcher, the JobMasters and the ResourceManager.
pub(crate) struct Cluster {
    pub(crate) conf: Configuration,
    pub(crate) rm: Mutex<ResourceManager>,
    pub(crate) driver: Arc<dyn ResourceDriver>,
    pub(crate) jobs: RwLock<BTreeMap<String, Arc<JobEntry>>>,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) heartbeat_timeout: Duration,
    pub(crate) started: Instant,
    /// REST asynchronous operations (savepoints, stops, disposals) whose results a client may still fetch.
    pub(crate) rest_operations: crate::rest::Operations,
    /// Task and TaskManager metrics from heartbeats.
    pub(crate) metrics: crate::metrics::MetricStore,
    /// Port of the JobManager's Prometheus reporter, if it runs.
    pub(crate) prometheus_port: std::sync::OnceLock<u16>,
}

pub(crate) fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}
pub(crate) fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Cluster {
    /// Accepts a job and starts its JobMaster; returns the job id.
    pub(crate) fn submit(
        self: &Arc<Self>,
        graph: JobGraph,
        job_conf: BTreeMap<String, String>,
    ) -> Result<String, SubmitError> {
        validate(&graph)?;
        Configuration::from_map(&job_conf, Source::Dynamic)
            .map_err(|e| SubmitError::InvalidJobGraph(format!("job configuration: {e}")))?;
        let job_id = uuid::Uuid::new_v4().simple().to_string();
        let (tx, rx) = mpsc::unbounded_channel();
        let mut shipped = self.conf.to_map();
        shipped.extend(job_conf);
        let mut status = JobStatus::new(job_id.clone(), graph);
        status.config = shipped.clone();
        let entry = Arc::new(JobEntry { status: RwLock::new(status), tx });
        write(&self.jobs).insert(job_id.clone(), entry.clone());
        tokio::spawn(job_master::run(self.clone(), entry, rx, shipped));
        tracing::info!(job = %job_id, "job submitted");
        Ok(job_id)
    }

    pub(crate) fn job(&self, job_id: &str) -> Option<Arc<JobEntry>> {
        read(&self.jobs).get(job_id).cloned()
    }

    /// Declares TaskManager `resource_id` lost (heartbeat timeout, or found
    /// unreachable): forgets it, tells the driver, and tells the JobMasters
    /// of the jobs that had slots on it. A TaskManager already gone is ignored.
    pub(crate) fn declare_lost(&self, resource_id: &str, reason: String) {
        let Some((_, _, jobs)) = lock(&self.rm).remove(resource_id) else { return };
        self.announce_lost(resource_id, &reason, jobs);
    }

    fn announce_lost(&self, resource_id: &str, reason: &str, jobs: Vec<String>) {
        tracing::warn!("{reason}");
        self.driver.release_task_manager(resource_id);
        notify_lost(self, resource_id, reason, jobs);
    }
}

fn validate(g: &JobGraph) -> Result<(), SubmitError> {
    let bad = |m: String| Err(SubmitError::InvalidJobGraph(m));
    if g.version != rfy_runtime::graph::JOB_GRAPH_VERSION {
        return bad(format!("version {} (this JobManager reads {})", g.version, rfy_runtime::graph::JOB_GRAPH_VERSION));
    }
    if g.vertices.is_empty() {
        return bad("no vertices".into());
    }
    for (i, v) in g.vertices.iter().enumerate() {
        if v.id as usize != i {
            return bad(format!("vertex at position {i} has id {}", v.id));
        }
        if v.parallelism == 0 || v.parallelism > v.max_parallelism.max(1) * 1024 {
            return bad(format!("vertex {} has parallelism {}", v.id, v.parallelism));
        }
    }
    for e in &g.edges {
        if e.source as usize >= g.vertices.len() || e.target as usize >= g.vertices.len() || e.source >= e.target {
            return bad(format!("edge {} connects {} to {}", e.index, e.source, e.target));
        }
        if e.partitioning == rfy_runtime::graph::Partitioning::Forward
            && g.vertices[e.source as usize].parallelism != g.vertices[e.target as usize].parallelism
        {
            return bad(format!("forward edge {} between different parallelisms", e.index));
        }
    }
    Ok(())
}

/// Where the JobManager listens and how it gets TaskManagers.
pub struct JobManagerConfig {
    /// The cluster configuration; shipped to TaskManagers with every task.
    pub conf: Configuration,
    /// `host:port` to bind the RPC server on (port 0 = any free port).
    pub rpc_bind: String,
    /// `host:port` to bind the REST server on (port 0 = any free port).
    pub rest_bind: String,
    /// Host other processes reach this JobManager at.
    pub advertised_host: String,
    /// Obtains TaskManagers.
    pub driver: Arc<dyn ResourceDriver>,
}

/// A running JobManager.
pub struct JobManagerHandle {
    /// `host:port` of the RPC server (for TaskManagers).
    pub rpc_address: String,
    /// `host:port` of the REST server.
    pub rest_address: String,
    pub(crate) cluster: Arc<Cluster>,
    shutdown: watch::Sender<bool>,
}

impl JobManagerHandle {
    /// Submits a JobGraph in-process (application mode, local mode).
    ///
    /// Errors: the JobGraph is invalid.
    pub fn submit(&self, graph: JobGraph, job_conf: BTreeMap<String, String>) -> Result<String, String> {
        self.cluster.submit(graph, job_conf).map_err(|e| e.to_string())
    }

    /// A copy of a job's status.
    pub fn job_status(&self, job_id: &str) -> Option<JobStatus> {
        self.cluster.job(job_id).map(|e| read(&e.status).clone())
    }

    /// Asks a job to cancel; false if the job is unknown.
    pub fn cancel(&self, job_id: &str) -> bool {
        self.cluster.job(job_id).map(|e| e.tx.send(JobMasterMsg::Cancel).is_ok()).unwrap_or(false)
    }

    /// Port of the JobManager's Prometheus reporter (`metrics.reporter.prom.port`), if it runs.
    pub fn prometheus_port(&self) -> Option<u16> {
        self.cluster.prometheus_port.get().copied()
    }

    /// Number of registered TaskManagers.
    pub fn task_manager_count(&self) -> usize {
        lock(&self.cluster.rm).task_managers.len()
    }

    /// Resource ids of the registered TaskManagers.
    pub fn task_manager_ids(&self) -> Vec<String> {
        lock(&self.cluster.rm).task_managers.keys().cloned().collect()
    }

    /// Declares the TaskManager `resource_id` lost (e.g. its YARN container
    /// completed): removes it and its slots, and fails the tasks it ran, as
    /// the heartbeat monitor does when heartbeats stop. `reason` becomes the
    /// failure text of those tasks. Returns false if it was not registered.
    pub fn declare_task_manager_lost(&self, resource_id: &str, reason: &str) -> bool {
        let removed = lock(&self.cluster.rm).remove(resource_id);
        match removed {
            Some((resource_id, address, jobs)) => {
                let reason = format!("TaskManager {resource_id} ({address}) lost: {reason}");
                tracing::warn!("{reason}");
                notify_lost(&self.cluster, &resource_id, &reason, jobs);
                true
            }
            None => false,
        }
    }

    /// Waits until at least `count` TaskManagers are registered.
    ///
    /// Errors: not within `timeout`; the text says how many registered.
    pub async fn wait_for_task_managers(&self, count: usize, timeout: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            let n = self.task_manager_count();
            if n >= count {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(format!(
                    "only {n} of {count} TaskManagers registered within {:.0} s",
                    timeout.as_secs_f64()
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the servers (running jobs are abandoned; TaskManagers notice the loss).
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}

/// The JobManager role.
pub struct JobManager;

impl JobManager {
    /// Binds the RPC and REST servers and starts the heartbeat monitor.
    ///
    /// Errors: a server address cannot be bound (the error names it).
    pub async fn start(config: JobManagerConfig) -> Result<JobManagerHandle, JobManagerError> {
        let bind = |what: &'static str, address: String| async move {
            let l = TcpListener::bind(&address).await.map_err(|source| JobManagerError::Bind {
                what,
                address: address.clone(),
                source,
            })?;
            let port = l.local_addr().map_err(|source| JobManagerError::Bind { what, address, source })?.port();
            Ok::<_, JobManagerError>((l, port))
        };
        let (rpc_listener, rpc_port) = bind("JobManager RPC server", config.rpc_bind.clone()).await?;
        let (rest_listener, rest_port) = bind("REST server", config.rest_bind.clone()).await?;
        let cluster = Arc::new(Cluster {
            heartbeat_interval: config.conf.get(&options::HEARTBEAT_INTERVAL),
            heartbeat_timeout: config.conf.get(&options::HEARTBEAT_TIMEOUT),
            conf: config.conf,
            rm: Mutex::new(ResourceManager::default()),
            driver: config.driver,
            jobs: RwLock::new(BTreeMap::new()),
            started: Instant::now(),
            rest_operations: Default::default(),
            metrics: Default::default(),
            prometheus_port: Default::default(),
        });
        let (shutdown, stop) = watch::channel(false);
        if let Some(ports) = cluster.conf.get_optional(&options::METRICS_REPORTER_PROM_PORT) {
            let range = rfy_conf::parse_port_range(&ports, options::METRICS_REPORTER_PROM_PORT.key)
                .map_err(JobManagerError::Config)?;
            let host = config.rest_bind.rsplit_once(':').map(|h| h.0).unwrap_or("127.0.0.1").to_string();
            let port = crate::metrics::start_reporter(cluster.clone(), &host, range, stop.clone()).await?;
            let _ = cluster.prometheus_port.set(port);
            tracing::info!(port, "Prometheus reporter listening");
        }

        let mut rpc_stop = stop.clone();
        let rpc = tonic::transport::Server::builder()
            .add_service(JobManagerGatewayServer::new(Gateway(cluster.clone())))
            .serve_with_incoming_shutdown(TcpListenerStream::new(rpc_listener), async move {
                let _ = rpc_stop.wait_for(|s| *s).await;
            });
        tokio::spawn(async move {
            if let Err(e) = rpc.await {
                tracing::error!("JobManager RPC server failed: {e}");
            }
        });

        let mut rest_stop = stop.clone();
        let app = crate::rest::router(cluster.clone());
        tokio::spawn(async move {
            let served = axum::serve(rest_listener, app).with_graceful_shutdown(async move {
                let _ = rest_stop.wait_for(|s| *s).await;
            });
            if let Err(e) = served.await {
                tracing::error!("REST server failed: {e}");
            }
        });

        tokio::spawn(monitor_heartbeats(cluster.clone(), stop));
        let host = config.advertised_host;
        Ok(JobManagerHandle {
            rpc_address: format!("{host}:{rpc_port}"),
            rest_address: format!("{host}:{rest_port}"),
            cluster,
            shutdown,
        })
    }
}

/// Declares TaskManagers lost when their heartbeats stop, and tells the
/// JobMasters of the jobs that had slots on them.
async fn monitor_heartbeats(cluster: Arc<Cluster>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(cluster.heartbeat_interval.min(Duration::from_millis(500)));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let lost = lock(&cluster.rm).expire(cluster.heartbeat_timeout);
        for (resource_id, address, jobs) in lost {
            let reason = format!(
                "TaskManager {resource_id} ({address}) lost: no heartbeat for {:.1} s (heartbeat.timeout)",
                cluster.heartbeat_timeout.as_secs_f64()
            );
            cluster.announce_lost(&resource_id, &reason, jobs);
        }
    }
}

/// Tells the JobMasters of `jobs` that TaskManager `resource_id` is gone.
fn notify_lost(cluster: &Cluster, resource_id: &str, reason: &str, jobs: Vec<String>) {
    for job in jobs {
        if let Some(e) = cluster.job(&job) {
            let _ = e.tx.send(JobMasterMsg::TaskManagerLost {
                resource_id: resource_id.to_string(),
                reason: reason.to_string(),
            });
        }
    }
}
