//! The JobManager process role: starts its servers (gRPC for TaskManagers,
//! REST for clients), the Dispatcher, the ResourceManager and the
//! background loops, and gives the embedding process (the local cluster, the
//! ApplicationMaster) a handle.
//!
//! Who owns what: the Dispatcher owns the job registry, each JobMaster its
//! job's state, the ResourceManager the TaskManagers and slots, the REST
//! layer (`rest::RestState`) its operations and the metric store. Dependencies
//! run one way: gateway / rest → metrics → dispatcher → job_master →
//! resource_manager, checkpoint, deployment (pure); task_calls (the gRPC
//! `TaskManagerGateway`) → job_master, plugged in here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rfy_conf::{options, Configuration};
use rfy_rpc::auth::ClusterSecret;
use rfy_rpc::job_manager_gateway_server::JobManagerGatewayServer;
use rfy_runtime::JobGraph;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tonic::service::InterceptorLayer;
use tonic::transport::server::TcpIncoming;

use crate::dispatcher::{Dispatcher, JobStoreSettings};
use crate::error::{JobManagerError, SubmitError};
use crate::gateway::Gateway;
use crate::job_master::{JobMasterMsg, JobMasterServices};
use crate::metrics::MetricStore;
use crate::resource_manager::{ResourceDriver, ResourceManager, ResourceSettings, TaskManagerInfo};
use crate::rest::RestState;
use crate::status::{JobSnapshot, JobStatus};
use crate::task_calls::RpcTaskManagers;

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
    /// The application's secret: every RPC to this JobManager and from it to
    /// a TaskManager must carry it ([`rfy_rpc::auth`]).
    pub secret: ClusterSecret,
}

/// A running JobManager.
pub struct JobManagerHandle {
    /// `host:port` of the RPC server (for TaskManagers).
    pub rpc_address: String,
    /// `host:port` of the REST server.
    pub rest_address: String,
    pub(crate) dispatcher: Arc<Dispatcher>,
    /// The REST layer's state (operations not yet fetched, Prometheus port).
    pub(crate) rest: Arc<RestState>,
    shutdown: watch::Sender<bool>,
    secret: ClusterSecret,
}

impl JobManagerHandle {
    /// The application's secret this JobManager requires on every RPC (for
    /// in-process callers such as tests; it is never logged or served).
    pub fn cluster_secret(&self) -> &ClusterSecret {
        &self.secret
    }

    /// Submits a JobGraph in-process (application mode, per-job mode, local mode).
    ///
    /// Errors: [`SubmitError::InvalidJobGraph`] when the JobGraph or the job
    /// configuration is invalid.
    pub fn submit(&self, graph: JobGraph, job_conf: BTreeMap<String, String>) -> Result<String, SubmitError> {
        self.dispatcher.submit(graph, job_conf)
    }

    /// Installs the store in which the Dispatcher records every later
    /// submission before acknowledging it (Flink's `JobGraphStore`: the
    /// session ApplicationMaster's job store in HDFS); false if one was
    /// installed already (the first stays).
    pub fn set_job_graph_store(&self, store: Arc<dyn crate::job_graph_store::JobGraphStore>) -> bool {
        self.dispatcher.set_job_graph_store(store)
    }

    /// Submits a JobGraph in-process under the given job id (32 hex digits):
    /// an application- or per-job-mode job whose id is derived from the YARN
    /// application id, or a job an ApplicationMaster attempt takes over from
    /// the previous attempt. With `recover` = `Some(n)` the job starts from
    /// the newest intact checkpoint in `<state.checkpoints.dir>/<job id>/`
    /// (through the same restore path as after a TaskManager loss; else from
    /// `execution.savepoint.path` or empty state) with execution attempt
    /// number `n`, which must exceed every attempt number the job had before
    /// (sinks name their files by it).
    ///
    /// Errors: the JobGraph, configuration or id is invalid, or the id is taken.
    pub fn submit_as(
        &self,
        job_id: &str,
        graph: JobGraph,
        job_conf: BTreeMap<String, String>,
        recover: Option<u32>,
    ) -> Result<String, SubmitError> {
        self.dispatcher.submit_as(Some(job_id.to_string()), graph, job_conf, recover)
    }

    /// A copy of a job's status.
    pub fn job_status(&self, job_id: &str) -> Option<JobStatus> {
        self.dispatcher.snapshot(job_id).map(|s| (*s).clone())
    }

    /// The latest snapshot of a job.
    pub fn job_snapshot(&self, job_id: &str) -> Option<JobSnapshot> {
        self.dispatcher.snapshot(job_id)
    }

    /// Snapshots of every job the Dispatcher lists (finished ones until they expire), newest first.
    pub fn jobs(&self) -> Vec<JobSnapshot> {
        self.dispatcher.snapshots()
    }

    /// Asks a job to cancel; false if the job is unknown or ended.
    pub fn cancel(&self, job_id: &str) -> bool {
        self.dispatcher.send(job_id, JobMasterMsg::Cancel)
    }

    /// Asks every running job to cancel; returns how many were asked.
    pub fn cancel_all(&self) -> usize {
        self.dispatcher.cancel_all()
    }

    /// Port of the JobManager's Prometheus reporter (`metrics.reporter.prom.port`), if it runs.
    pub fn prometheus_port(&self) -> Option<u16> {
        self.rest.prometheus_port.get().copied()
    }

    /// Number of registered TaskManagers.
    pub fn task_manager_count(&self) -> usize {
        self.dispatcher.rm.task_manager_ids().len()
    }

    /// Resource ids of the registered TaskManagers.
    pub fn task_manager_ids(&self) -> Vec<String> {
        self.dispatcher.rm.task_manager_ids()
    }

    /// A copy of every registered TaskManager.
    pub fn task_managers(&self) -> Vec<TaskManagerInfo> {
        self.dispatcher.rm.task_managers()
    }

    /// Slots each job waiting for slots asks for (job id → slots).
    pub fn slot_demand(&self) -> BTreeMap<String, u32> {
        self.dispatcher.rm.demand()
    }

    /// Declares the TaskManager `resource_id` lost (e.g. its YARN container
    /// completed): removes it and its slots, and fails the tasks it ran, as
    /// the heartbeat monitor does when heartbeats stop. `reason` becomes the
    /// failure text of those tasks. Returns false if it was not registered.
    pub fn declare_task_manager_lost(&self, resource_id: &str, reason: &str) -> bool {
        let address = self
            .dispatcher
            .rm
            .task_managers()
            .into_iter()
            .find(|t| t.resource_id == resource_id)
            .map(|t| t.address)
            .unwrap_or_default();
        self.dispatcher.rm.declare_lost(resource_id, format!("TaskManager {resource_id} ({address}) lost: {reason}"))
    }

    /// A receiver that turns true when a client asked the JobManager to shut
    /// down (`DELETE /cluster`, Flink's cluster shutdown: `rfy yarn-session stop`).
    pub fn shutdown_requests(&self) -> watch::Receiver<bool> {
        self.dispatcher.shutdown_requests()
    }

    /// Waits until at least `count` TaskManagers are registered.
    ///
    /// Errors: [`JobManagerError::TaskManagersMissing`]: not within `timeout`.
    pub async fn wait_for_task_managers(&self, count: usize, timeout: Duration) -> Result<(), JobManagerError> {
        let start = Instant::now();
        loop {
            let n = self.task_manager_count();
            if n >= count {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(JobManagerError::TaskManagersMissing { registered: n, wanted: count, timeout });
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
    /// Binds the RPC and REST servers and starts the Dispatcher, the
    /// ResourceManager and the monitor loop.
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
        let conf = config.conf;
        let heartbeat_interval = conf.get(&options::HEARTBEAT_INTERVAL);
        let heartbeat_timeout = conf.get(&options::HEARTBEAT_TIMEOUT);
        let (lost_tx, mut lost_rx) = mpsc::unbounded_channel();
        let rm = Arc::new(ResourceManager::new(
            config.driver,
            ResourceSettings {
                slots_per_task_manager: conf.get(&options::TASKMANAGER_NUMBER_OF_TASK_SLOTS).max(1),
                heartbeat_timeout,
                idle_timeout: conf.get(&options::RESOURCEMANAGER_TASKMANAGER_TIMEOUT),
                secret: config.secret.clone(),
            },
            lost_tx,
        ));
        let services = JobMasterServices {
            rm: rm.clone(),
            task_managers: Arc::new(RpcTaskManagers { rm: rm.clone() }),
            storage_opener: crate::checkpoint::default_opener(),
            heartbeat_timeout,
            slot_request_timeout: conf.get(&options::SLOT_REQUEST_TIMEOUT),
        };
        let store = JobStoreSettings {
            max_capacity: conf.get(&options::JOBSTORE_MAX_CAPACITY) as usize,
            expiration: conf.get(&options::JOBSTORE_EXPIRATION_TIME),
        };
        let dispatcher = Arc::new(Dispatcher::new(conf, rm.clone(), services, store));
        let metrics = Arc::new(MetricStore::default());
        let rest = Arc::new(RestState::new(dispatcher.clone(), metrics.clone()));
        let (shutdown, stop) = watch::channel(false);
        if let Some(ports) = dispatcher.conf.get_optional(&options::METRICS_REPORTER_PROM_PORT) {
            let range = rfy_conf::parse_port_range(&ports, options::METRICS_REPORTER_PROM_PORT.key)?;
            let host = config.rest_bind.rsplit_once(':').map(|h| h.0).unwrap_or("127.0.0.1").to_string();
            let port = crate::metrics::start_reporter(dispatcher.clone(), &host, range, stop.clone()).await?;
            let _ = rest.prometheus_port.set(port);
            tracing::info!(port, "Prometheus reporter listening");
        }

        let mut rpc_stop = stop.clone();
        let gateway = Gateway { dispatcher: dispatcher.clone(), metrics, heartbeat_interval, heartbeat_timeout };
        let rpc = tonic::transport::Server::builder()
            .layer(InterceptorLayer::new(config.secret.server("JobManager RPC")))
            .add_service(JobManagerGatewayServer::new(gateway))
            // TCP_NODELAY on every accepted connection (the builder's
            // tcp_nodelay is ignored with an incoming stream): without it a
            // reply written in pieces waits ~40 ms for a delayed ACK.
            .serve_with_incoming_shutdown(TcpIncoming::from(rpc_listener).with_nodelay(Some(true)), async move {
                let _ = rpc_stop.wait_for(|s| *s).await;
            });
        tokio::spawn(async move {
            if let Err(e) = rpc.await {
                tracing::error!("JobManager RPC server failed: {e}");
            }
        });

        let mut rest_stop = stop.clone();
        let app = crate::rest::router(rest.clone());
        tokio::spawn(async move {
            let served = axum::serve(rest_listener, app).with_graceful_shutdown(async move {
                let _ = rest_stop.wait_for(|s| *s).await;
            });
            if let Err(e) = served.await {
                tracing::error!("REST server failed: {e}");
            }
        });

        // Lost TaskManagers → the JobMasters of the jobs that had slots on them.
        let d = dispatcher.clone();
        tokio::spawn(async move {
            while let Some(lost) = lost_rx.recv().await {
                d.task_manager_lost(lost);
            }
        });
        tokio::spawn(monitor(dispatcher.clone(), heartbeat_interval, stop));
        let host = config.advertised_host;
        Ok(JobManagerHandle {
            rpc_address: format!("{host}:{rpc_port}"),
            rest_address: format!("{host}:{rest_port}"),
            dispatcher,
            rest,
            shutdown,
            secret: config.secret,
        })
    }
}

/// Periodic work: TaskManagers whose heartbeats stopped are declared lost,
/// idle ones released (`resourcemanager.taskmanager-timeout`), finished jobs
/// expired from the job store.
async fn monitor(d: Arc<Dispatcher>, heartbeat_interval: Duration, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(heartbeat_interval.min(Duration::from_millis(500)));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        d.rm.expire_heartbeats();
        d.rm.release_idle();
        d.expire_finished();
    }
}
