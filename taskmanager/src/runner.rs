//! The TaskManager process role: servers, registration, heartbeats.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rfy_conf::{options, Configuration, TaskExecutorMemory};
use rfy_rpc::auth::{AuthChannel, ClusterSecret};
use rfy_rpc::data_exchange_server::DataExchangeServer;
use rfy_rpc::job_manager_gateway_client::JobManagerGatewayClient;
use rfy_rpc::task_executor_gateway_server::TaskExecutorGatewayServer;
use rfy_rpc::{HeartbeatRequest, RegisterTaskManagerRequest, PROTOCOL_VERSION};
use rfy_runtime::ProgramRegistry;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::service::InterceptorLayer;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Endpoint, Server};

use crate::data::{DataService, CONNECTION_WINDOW, STREAM_WINDOW};
use crate::error::TaskManagerError;
use crate::executor::{Executor, ExecutorService};
use crate::memory::{MemoryBudget, MemoryPools};

/// How long a TaskManager keeps trying to register before it gives up.
pub const REGISTRATION_TIMEOUT: Duration = Duration::from_secs(60);

/// Where a TaskManager runs and whom it serves.
#[derive(Debug, Clone)]
pub struct TaskManagerConfig {
    /// Unique id (on YARN: the container id).
    pub resource_id: String,
    /// `host:port` of the JobManager's RPC service.
    pub jobmanager_address: String,
    /// Host to bind the TaskManager's server on.
    pub bind_host: String,
    /// Host other processes reach this TaskManager at.
    pub advertised_host: String,
    /// Port of the TaskManager's server (control and data); 0 = any free port.
    pub port: u16,
    /// Task slots offered.
    pub num_slots: u32,
    /// Where this TaskManager's log goes ("" if unknown).
    pub log_path: String,
    /// Enforce the memory model: fail the tasks when the process's resident
    /// set exceeds `taskmanager.memory.process.size`, when their keyed state
    /// exceeds managed memory, refuse a task whose channels overflow the
    /// network memory (see `crate::memory`): on for a
    /// TaskManager in its own container; in the embedded local cluster only
    /// when the option is set explicitly (the process is shared there).
    pub enforce_memory_budget: bool,
    /// The cluster configuration (heartbeat and exchange settings).
    pub conf: Configuration,
    /// The application's secret: every call this TaskManager makes carries it,
    /// every call it serves must ([`rfy_rpc::auth`]).
    pub secret: ClusterSecret,
}

/// A started TaskManager.
pub struct TaskManagerHandle {
    /// Its id.
    pub resource_id: String,
    /// `host:port` of its server.
    pub address: String,
    /// Port of its Prometheus reporter, if `metrics.reporter.prom.port` is set.
    pub prometheus_port: Option<u16>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), TaskManagerError>>,
    executor: Arc<Executor>,
}

impl TaskManagerHandle {
    /// Stops the TaskManager: cancels its tasks and closes its server.
    pub async fn shutdown(self) -> Result<(), TaskManagerError> {
        self.executor.cancel_all();
        let _ = self.shutdown.send(true);
        self.task.await.unwrap_or(Ok(()))
    }

    /// Kills the TaskManager abruptly, as a crashed process would end (for
    /// tests of failure handling): its tasks stop, its server closes and it
    /// stops heartbeating, without telling the JobManager.
    pub fn kill(&self) {
        self.executor.killed.store(true, std::sync::atomic::Ordering::Relaxed);
        self.executor.cancel_all();
        let _ = self.shutdown.send(true);
        self.task.abort();
    }

    /// Waits until the TaskManager stops by itself (JobManager lost).
    pub async fn wait(self) -> Result<(), TaskManagerError> {
        self.task.await.unwrap_or(Ok(()))
    }
}

/// The TaskManager role.
pub struct TaskManager;

impl TaskManager {
    /// Binds the server, registers at the JobManager, and runs the
    /// heartbeat loop in the background.
    ///
    /// Errors: the port cannot be bound; the JobManager cannot be reached
    /// within [`REGISTRATION_TIMEOUT`] or refuses the registration.
    pub async fn start(
        config: TaskManagerConfig,
        programs: Arc<dyn ProgramRegistry>,
    ) -> Result<TaskManagerHandle, TaskManagerError> {
        let bind = format!("{}:{}", config.bind_host, config.port);
        let listener = TcpListener::bind(&bind).await.map_err(|source| TaskManagerError::Bind {
            what: "the TaskManager server",
            address: bind.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| TaskManagerError::Bind { what: "the TaskManager server", address: bind.clone(), source })?
            .port();
        let address = format!("{}:{port}", config.advertised_host);

        let jm_endpoint = Endpoint::from_shared(format!("http://{}", config.jobmanager_address))
            .map_err(|source| TaskManagerError::JobManagerAddress {
                address: config.jobmanager_address.clone(),
                source,
            })?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10));
        let jobmanager = JobManagerGatewayClient::new(config.secret.channel(jm_endpoint.connect_lazy()));
        let model = TaskExecutorMemory::derive(&config.conf)?;
        tracing::info!(resource_id = %config.resource_id, ?model, "memory model");
        let executor = Arc::new(Executor::new(
            config.resource_id.clone(),
            programs,
            jobmanager.clone(),
            tokio::runtime::Handle::current(),
            MemoryPools::new(model, config.enforce_memory_budget),
            config.secret.clone(),
        ));

        let capacity = config.conf.get(&options::TASKMANAGER_NETWORK_MEMORY_BUFFERS_PER_CHANNEL).max(1) as usize;
        let (shutdown, mut stop_rx) = watch::channel(false);
        let prometheus_port = match config.conf.get_optional(&options::METRICS_REPORTER_PROM_PORT) {
            Some(ports) => {
                let range = rfy_conf::parse_port_range(&ports, options::METRICS_REPORTER_PROM_PORT.key)?;
                let (listener, port) = crate::metrics::bind_in_range(&config.bind_host, range).await?;
                crate::metrics::serve(listener, executor.clone(), stop_rx.clone());
                tracing::info!(resource_id = %config.resource_id, port, "Prometheus reporter listening");
                Some(port)
            }
            None => None,
        };
        let mut server_stop = stop_rx.clone();
        let server = Server::builder()
            .initial_stream_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .tcp_nodelay(true)
            .layer(InterceptorLayer::new(config.secret.server("TaskManager RPC and data exchange")))
            .add_service(TaskExecutorGatewayServer::new(ExecutorService(executor.clone(), config.log_path.clone())))
            .add_service(
                DataExchangeServer::new(DataService { registry: executor.registry.clone(), capacity })
                    .max_encoding_message_size(64 << 20),
            )
            // tcp_nodelay above applies to `serve` only: set it on each accepted
            // connection, else small replies wait ~40 ms for a delayed ACK.
            .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), async move {
                let _ = server_stop.wait_for(|s| *s).await;
            });
        tokio::spawn(async move {
            if let Err(e) = server.await {
                tracing::error!("TaskManager server failed: {e}");
            }
        });

        let registration = RegisterTaskManagerRequest {
            protocol_version: PROTOCOL_VERSION,
            resource_id: config.resource_id.clone(),
            rpc_address: address.clone(),
            data_address: address.clone(),
            num_slots: config.num_slots,
            log_path: config.log_path.clone(),
            cpu_cores: std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(0),
            physical_memory: crate::metrics::host_memory().0,
            process_memory: config.conf.get(&options::TASKMANAGER_MEMORY_PROCESS_SIZE).bytes(),
            executable_sha256: std::env::var(rfy_rpc::EXECUTABLE_SHA256_ENV).unwrap_or_default(),
        };
        let mut jm = jobmanager.clone();
        let (interval, timeout) = register(&mut jm, &registration, &config.jobmanager_address).await?;
        tracing::info!(resource_id = %config.resource_id, %address, slots = config.num_slots, "registered at JobManager {}", config.jobmanager_address);

        let exec = executor.clone();
        let budget_bytes = if config.enforce_memory_budget {
            config.conf.get(&options::TASKMANAGER_MEMORY_PROCESS_SIZE).bytes()
        } else {
            0
        };
        let mut budget = MemoryBudget::new(config.resource_id.clone(), budget_bytes);
        let jm_address = config.jobmanager_address.clone();
        let resource_id = config.resource_id.clone();
        let task = tokio::spawn(async move {
            let mut last_ok = Instant::now();
            let mut ticker = tokio::time::interval(interval);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = stop_rx.wait_for(|s| *s) => return Ok(()),
                }
                let (rss_bytes, cpu_seconds) = crate::metrics::process_stats();
                check_budget(&mut budget, rss_bytes, &exec);
                let (network_memory_used, managed_memory_used) = exec.memory.used();
                let beat = HeartbeatRequest {
                    resource_id: resource_id.clone(),
                    metrics: exec.metrics(),
                    rss_bytes,
                    cpu_seconds,
                    prometheus_port: prometheus_port.unwrap_or(0) as u32,
                    free_memory: crate::metrics::host_memory().1,
                    network_memory_used,
                    managed_memory_used,
                };
                match jm.heartbeat(beat).await {
                    Ok(r) if r.get_ref().known => last_ok = Instant::now(),
                    Ok(_) => {
                        tracing::warn!(
                            "JobManager no longer knows this TaskManager: canceling tasks and registering again"
                        );
                        exec.cancel_all();
                        register(&mut jm, &registration, &jm_address).await?;
                        last_ok = Instant::now();
                    }
                    Err(e) if last_ok.elapsed() > timeout => {
                        tracing::error!("JobManager {jm_address} unreachable: {}", e.message());
                        exec.cancel_all();
                        return Err(TaskManagerError::JobManagerLost {
                            address: jm_address,
                            seconds: last_ok.elapsed().as_secs_f64(),
                        });
                    }
                    Err(e) => tracing::warn!("heartbeat to JobManager {jm_address} failed: {}", e.message()),
                }
            }
        });
        Ok(TaskManagerHandle { resource_id: config.resource_id, address, prometheus_port, shutdown, task, executor })
    }
}

/// Fails the running tasks if `rss` exceeds the budget.
fn check_budget(budget: &mut MemoryBudget, rss: u64, exec: &Executor) {
    if let Some(message) = budget.assess(rss) {
        if exec.fail_all(&message) > 0 {
            tracing::error!("{message}");
        }
    }
}

/// Registers, retrying until [`REGISTRATION_TIMEOUT`]; returns the heartbeat
/// interval and timeout the JobManager asks for.
async fn register(
    jm: &mut JobManagerGatewayClient<AuthChannel>,
    req: &RegisterTaskManagerRequest,
    address: &str,
) -> Result<(Duration, Duration), TaskManagerError> {
    let started = Instant::now();
    loop {
        match jm.register_task_manager(req.clone()).await {
            Ok(r) => {
                let r = r.into_inner();
                if !r.accepted {
                    return Err(TaskManagerError::Refused { address: address.to_string(), reason: r.reason });
                }
                return Ok((
                    Duration::from_millis(r.heartbeat_interval_ms.max(10)),
                    Duration::from_millis(r.heartbeat_timeout_ms.max(100)),
                ));
            }
            // Another application's (or no) secret: retrying cannot help.
            Err(e) if e.code() == tonic::Code::Unauthenticated => {
                return Err(TaskManagerError::Refused { address: address.to_string(), reason: e.message().to_string() })
            }
            Err(e) if started.elapsed() > REGISTRATION_TIMEOUT => {
                return Err(TaskManagerError::Unreachable { address: address.to_string(), source: e })
            }
            Err(e) => {
                tracing::debug!("registration at {address} failed, retrying: {}", e.message());
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }
}
