//! The ApplicationMaster's lifecycle, as states:
//!
//! 1. [`Launch`]: read what the container holds (its environment, the
//!    bundle's manifest and configuration, the Hadoop configuration and
//!    tokens) and open the job store.
//! 2. [`Started`]: the JobManager runs (Dispatcher REST API and web UI,
//!    ResourceManager with the [`YarnDriver`]).
//! 3. [`Registered`]: registered with the YARN ResourceManager, the web UI
//!    as tracking URL and the REST port as "RPC port".
//! 4. [`Running`]: the container allocator turns the JobManager's slot
//!    requests into containers; the mode runs (application: the job's `main`
//!    plans and submits its job; per-job: the shipped JobGraph; session: jobs
//!    clients submit) until it has an [`Outcome`], a stop request (the RM's
//!    `AM_SHUTDOWN`, allocation failed) or a [`Sigterm`] ends it.
//! 5. [`Running::finish`]: release the containers, remove the staging
//!    directory and unregister with SUCCEEDED, FAILED or KILLED and a
//!    diagnostic message.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rfy_conf::{options, Configuration, Source};
use rfy_hadoop::config::{ConfigError, HadoopConfig};
use rfy_hadoop::hdfs::{Hdfs, HdfsError};
use rfy_hadoop::ipc::ConnectOptions;
use rfy_hadoop::token::Credentials;
use rfy_hadoop::yarn::amrm::{AmRmClient, RegisterResponse};
use rfy_hadoop::yarn::rest::RmRestClient;
use rfy_hadoop::yarn::{Resource, YarnError};
use rfy_jobmanager::{ClusterSecret, JobManager, JobManagerConfig, JobManagerError, JobManagerHandle};
use rfy_runtime::JobProgram;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::bundle::{self, BundleError, ClusterMode, Manifest};
use crate::driver::{AllocatorEvent, ContainerAllocator, WorkerSpec, YarnDriver};
use crate::failover::{derived_job_id, open_store, AttemptInfo, FailoverError, SingleJob};
use crate::job_store::JobStore;
use crate::outcome::{JobEnd, Outcome, StopRequest};
use crate::sigterm::{Sigterm, SigtermWatch};

pub use crate::single_job::FINAL_STATE_GRACE;

/// How long unregistering may take.
pub const UNREGISTER_TIMEOUT: Duration = Duration::from_secs(30);

/// Errors that stop the AM before it can report an outcome to YARN.
#[derive(Debug, thiserror::Error)]
pub enum AmError {
    /// A variable YARN sets in every container is missing.
    #[error("environment variable {0} is not set: rfy-am must run in a YARN container")]
    MissingEnv(&'static str),
    /// The bundle files in the working directory are missing or bad.
    #[error("bundle: {0}")]
    Bundle(#[from] BundleError),
    /// The manifest's application id is not a YARN application id.
    #[error("bundle: '{0}' is not a YARN application id")]
    NotAnApplicationId(String),
    /// The rfy configuration is invalid.
    #[error("configuration: {0}")]
    Conf(#[from] rfy_conf::ConfError),
    /// The Hadoop configuration cannot be read.
    #[error("YARN: {0}")]
    HadoopConf(#[from] ConfigError),
    /// The AMRM client cannot be made (no AMRM token, no scheduler address).
    #[error("YARN: {0}")]
    Yarn(#[from] YarnError),
    /// The HDFS client cannot be made.
    #[error("YARN: {0}")]
    Hdfs(#[from] HdfsError),
    /// The job store cannot be opened.
    #[error("YARN: {0}")]
    JobStore(#[from] FailoverError),
    /// `registerApplicationMaster` failed.
    #[error("YARN: registerApplicationMaster at {rm}: {source}")]
    Register {
        /// The scheduler address of the ResourceManager.
        rm: String,
        /// The cause.
        #[source]
        source: Box<YarnError>,
    },
    /// The JobManager could not start.
    #[error("JobManager: {0}")]
    JobManager(#[from] JobManagerError),
    /// The AM's credentials file (for the TaskManagers' tokens) is unreadable or malformed.
    #[error("YARN: the AM's credentials (HADOOP_TOKEN_FILE_LOCATION): {0}")]
    Credentials(#[source] rfy_hadoop::token::TokenError),
    /// The AM's credentials hold no valid cluster secret (the client ships one
    /// with every submission).
    #[error("YARN: the AM's credentials (HADOOP_TOKEN_FILE_LOCATION) hold no valid rfy cluster secret ('{alias}'): {why}; submit with an rfy client of this version")]
    NoClusterSecret {
        /// The alias looked for.
        alias: &'static str,
        /// What was wrong.
        why: String,
    },
}

/// How the AM process ends once it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmExit {
    /// The outcome was reported to YARN (or YARN asked the AM to shut down).
    Reported(Outcome),
    /// SIGTERM on an attempt YARN may follow with another: the AM leaves
    /// without unregistering (exit code 143, as if killed by the signal).
    LeftForNextAttempt,
}

/// The container's environment, as the NodeManager sets it.
#[derive(Debug, Clone)]
pub struct ContainerEnv {
    /// `CONTAINER_ID`.
    pub container_id: String,
    /// `NM_HOST`: the host this container runs on.
    pub nm_host: String,
    /// First of `LOG_DIRS`: the container's log directory.
    pub log_dir: String,
}

impl ContainerEnv {
    /// Reads `CONTAINER_ID`, `NM_HOST`, `LOG_DIRS`.
    ///
    /// Errors: [`AmError::MissingEnv`].
    pub fn from_env() -> Result<Self, AmError> {
        let var = |k: &'static str| std::env::var(k).map_err(|_| AmError::MissingEnv(k));
        Ok(ContainerEnv {
            container_id: var("CONTAINER_ID")?,
            nm_host: var("NM_HOST")?,
            log_dir: var("LOG_DIRS")?.split(',').next().unwrap_or_default().to_string(),
        })
    }
}

/// Runs the ApplicationMaster in the current YARN container, with the bundle
/// in the working directory; the job's main is one of `programs`. Returns
/// how it ended: the outcome it reported to YARN, or that it left for a next
/// attempt on SIGTERM.
///
/// Errors: the AM could not start (no registration with YARN happened; YARN
/// then shows the container's exit code and its logs hold this error).
pub async fn run(programs: &'static [JobProgram]) -> Result<AmExit, AmError> {
    let started = Instant::now();
    let launch = Launch::from_container().await?;
    let registered = launch.start_job_manager().await?.register(started).await?;
    let running = registered.start_allocation();
    let mut sigterm = running.watch_sigterm();
    let outcome = {
        let mode = running.run_mode(programs);
        tokio::pin!(mode);
        tokio::select! {
            outcome = &mut mode => outcome?,
            term = sigterm.received() => match term {
                Sigterm::LeaveForNextAttempt => return Ok(AmExit::LeftForNextAttempt),
                Sigterm::ApplicationKilled => {
                    let _ = running.stop.send(Some(StopRequest { end: JobEnd::Canceled, reason: "SIGTERM".into() }));
                    mode.await?
                }
            },
        }
    };
    Ok(AmExit::Reported(running.finish(outcome).await))
}

/// State 1: what the container holds, read; the Hadoop clients made.
struct Launch {
    env: ContainerEnv,
    manifest: Manifest,
    conf: Configuration,
    hconf: HadoopConfig,
    amrm: Arc<AmRmClient>,
    hdfs: Hdfs,
    attempt: AttemptInfo,
    store: Option<JobStore>,
    /// The tokens TaskManager containers get: the AM's minus its AMRMToken
    /// (`None` on an open cluster).
    tm_tokens: Option<Vec<u8>>,
    /// The application's secret for internal RPC (from the AM's credentials).
    secret: ClusterSecret,
    /// How to connect to NodeManagers (`hadoop.rpc.protection`).
    nm_connect: ConnectOptions,
}

impl Launch {
    async fn from_container() -> Result<Launch, AmError> {
        let env = ContainerEnv::from_env()?;
        let manifest = Manifest::read(Path::new(bundle::MANIFEST_FILE))?;
        let conf_map = bundle::read_conf_map(Path::new(bundle::CONF_FILE))?;
        let conf = Configuration::from_map(&conf_map, Source::Programmatic)?;
        tracing::info!(app = %manifest.application_id, container = %env.container_id, host = %env.nm_host, job = %manifest.job, args = ?manifest.args, "rfy ApplicationMaster starting");
        let hconf = HadoopConfig::from_env()?;
        let amrm = Arc::new(AmRmClient::from_container_env(&hconf)?);
        let hdfs = Hdfs::from_config(&hconf, Some(&manifest.user))?;
        let attempt = AttemptInfo::from_env(&env.container_id, &conf);
        tracing::info!(attempt = attempt.number, max_attempts = attempt.max, "ApplicationMaster attempt");
        let store = open_store(&manifest.staging_dir, attempt).await?;
        let creds = Credentials::from_env().map_err(AmError::Credentials)?;
        let alias = rfy_rpc::auth::CLUSTER_SECRET_ALIAS;
        let secret = creds.secret_key(alias).ok_or(AmError::NoClusterSecret { alias, why: "missing".into() })?;
        let secret =
            ClusterSecret::from_bytes(secret).map_err(|e| AmError::NoClusterSecret { alias, why: e.to_string() })?;
        let tm_tokens = crate::driver::task_manager_tokens(&creds);
        let nm_connect = ConnectOptions::from_conf(&hconf)?;
        Ok(Launch { env, manifest, conf, hconf, amrm, hdfs, attempt, store, tm_tokens, secret, nm_connect })
    }

    /// Starts the JobManager: RPC and REST on any free port of every
    /// interface (or `rest.bind-address`/`rest.port`), advertised as the NM host.
    async fn start_job_manager(self) -> Result<Started, AmError> {
        let driver = YarnDriver::new();
        let conf = &self.conf;
        let rest_bind = if conf.contains(options::REST_BIND_ADDRESS.key) {
            conf.get(&options::REST_BIND_ADDRESS)
        } else {
            "0.0.0.0".to_string()
        };
        let rest_port = if conf.contains(options::REST_PORT.key) { conf.get(&options::REST_PORT) } else { 0 };
        let jm = JobManager::start(JobManagerConfig {
            conf: conf.clone(),
            rpc_bind: "0.0.0.0:0".into(),
            rest_bind: format!("{rest_bind}:{rest_port}"),
            advertised_host: self.env.nm_host.clone(),
            driver: Arc::new(driver.clone()),
            secret: self.secret.clone(),
        })
        .await?;
        let jm = Arc::new(jm);
        let tracking_url = format!("http://{}/", jm.rest_address);
        tracing::info!(rpc = %jm.rpc_address, web = %tracking_url, "JobManager started");
        Ok(Started { launch: self, driver, jm, tracking_url })
    }
}

/// State 2: the JobManager runs.
struct Started {
    launch: Launch,
    driver: YarnDriver,
    jm: Arc<JobManagerHandle>,
    tracking_url: String,
}

impl Started {
    /// Registers with the YARN ResourceManager. The REST port is the AM's
    /// "RPC port" (as Flink's AM does): clients find it in the application
    /// report (`amRPCAddress`) for the REST requests the RM's web proxy does
    /// not forward (POST, PATCH: savepoint, stop, cancel).
    async fn register(self, started: Instant) -> Result<Registered, AmError> {
        let rest_port: i32 = self.jm.rest_address.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let amrm = &self.launch.amrm;
        let reg = amrm
            .register_application_master(&self.launch.env.nm_host, rest_port, &self.tracking_url)
            .await
            .map_err(|e| AmError::Register { rm: amrm.addr().to_string(), source: Box::new(e) })?;
        tracing::info!(queue = %reg.queue, max = ?reg.maximum_capability, elapsed_ms = started.elapsed().as_millis() as u64, "registered with the YARN ResourceManager");
        Ok(Registered { started: self, reg })
    }
}

/// State 3: registered with the YARN ResourceManager.
struct Registered {
    started: Started,
    reg: RegisterResponse,
}

impl Registered {
    /// Starts the container allocator; its end (the RM's `AM_SHUTDOWN`,
    /// allocation failed) becomes a [`StopRequest`] to the running mode.
    fn start_allocation(self) -> Running {
        let Started { launch, driver, jm, tracking_url } = self.started;
        let conf = &launch.conf;
        let tm_mem = bundle::mebibytes(conf.get(&options::TASKMANAGER_MEMORY_PROCESS_SIZE).0);
        let tm_vcores = conf.get(&options::YARN_CONTAINERS_VCORES).max(1) as i32;
        let too_big = self.reg.maximum_capability.filter(|m| tm_mem > m.memory_mb || tm_vcores > m.vcores).map(|max| {
            format!(
                "TaskManager containers of {tm_mem} MiB and {tm_vcores} vcores (taskmanager.memory.process.size, yarn.containers.vcores) \
                 exceed what YARN grants: {} MiB, {} vcores",
                max.memory_mb, max.vcores
            )
        });
        let spec = WorkerSpec {
            resource: Resource::new(tm_mem, tm_vcores),
            slots: conf.get(&options::TASKMANAGER_NUMBER_OF_TASK_SLOTS).max(1),
            jobmanager_address: jm.rpc_address.clone(),
            local_resources: launch.manifest.worker_files(),
            environment: bundle::container_environment(&launch.manifest.user, &launch.manifest.log_filter),
            user: launch.manifest.user.clone(),
            tokens: launch.tm_tokens.clone(),
            nm_connect: launch.nm_connect.clone(),
        };
        let allocator =
            ContainerAllocator::new(driver, launch.amrm.clone(), jm.clone(), spec).with_hdfs(launch.hdfs.clone());
        let progress = allocator.progress();
        let (stop_alloc, stop_alloc_rx) = watch::channel(false);
        let (stop, stop_requests) = watch::channel::<Option<StopRequest>>(None);
        let stop_job = stop.clone();
        let allocation = tokio::spawn(async move {
            let ev = allocator.run(stop_alloc_rx).await;
            if let Some(ev) = &ev {
                let end = match ev {
                    AllocatorEvent::Shutdown => JobEnd::Canceled,
                    AllocatorEvent::Failed { .. } => JobEnd::Failed,
                };
                let _ = stop_job.send(Some(StopRequest { end, reason: ev.to_string() }));
            }
            ev
        });
        Running { launch, jm, tracking_url, too_big, progress, stop, stop_requests, stop_alloc, allocation }
    }
}

/// State 4: containers are allocated on demand; the mode runs.
struct Running {
    launch: Launch,
    jm: Arc<JobManagerHandle>,
    tracking_url: String,
    /// Why TaskManager containers cannot be granted, if they cannot.
    too_big: Option<String>,
    progress: Arc<Mutex<f32>>,
    /// Ends the running job or session early.
    stop: watch::Sender<Option<StopRequest>>,
    /// Never read itself: clones see every request sent since the channel was made.
    stop_requests: watch::Receiver<Option<StopRequest>>,
    stop_alloc: watch::Sender<bool>,
    allocation: JoinHandle<Option<AllocatorEvent>>,
}

impl Running {
    /// SIGTERM from here on: see [`SigtermWatch`].
    fn watch_sigterm(&self) -> SigtermWatch {
        let l = &self.launch;
        let rm = RmRestClient::from_config(&l.hconf, &l.manifest.user).ok();
        SigtermWatch::install(l.attempt, rm, &l.manifest.application_id, l.hdfs.clone(), &l.manifest.staging_dir)
    }

    /// Runs the manifest's mode until it has an outcome.
    ///
    /// Errors: [`AmError::NotAnApplicationId`] (application and per-job mode).
    async fn run_mode(&self, programs: &'static [JobProgram]) -> Result<Outcome, AmError> {
        let l = &self.launch;
        let mut stop = self.stop_requests.clone();
        if let Some(why) = &self.too_big {
            return Ok(Outcome::failed(why.clone()));
        }
        if l.manifest.mode == ClusterMode::Session {
            return Ok(crate::session::serve(&self.jm, l.store.as_ref(), l.attempt, &l.conf, &mut stop).await);
        }
        let app_id = &l.manifest.application_id;
        let job_id = derived_job_id(app_id).ok_or_else(|| AmError::NotAnApplicationId(app_id.clone()))?;
        let single = SingleJob { store: l.store.as_ref(), attempt: l.attempt, job_id, conf: &l.conf };
        Ok(match l.manifest.mode {
            ClusterMode::PerJob => crate::per_job::run(&self.jm, &single, &self.progress, &mut stop).await,
            _ => {
                let job = (l.manifest.job.as_str(), l.manifest.args.as_slice());
                crate::single_job::run_application(programs, &self.jm, job, &single, &self.progress, &mut stop).await
            }
        })
    }

    /// State 5: releases the containers, removes the staging directory and
    /// unregisters with `outcome` (unless the RM asked the AM to shut down:
    /// it no longer takes an unregistration). Returns `outcome`.
    async fn finish(self, outcome: Outcome) -> Outcome {
        match outcome.end {
            JobEnd::Finished => tracing::info!("{}", outcome.diagnostics),
            _ => tracing::error!("{}", outcome.diagnostics),
        }
        let _ = self.stop_alloc.send(true);
        let alloc_event = self.allocation.await.ok().flatten();
        let l = &self.launch;
        match l.hdfs.delete(&l.manifest.staging_dir, true).await {
            Ok(_) => tracing::info!(dir = %l.manifest.staging_dir, "staging directory removed"),
            Err(e) => tracing::warn!("cannot remove the staging directory: {e}"),
        }
        if !matches!(alloc_event, Some(AllocatorEvent::Shutdown)) {
            let status = outcome.status();
            match l.amrm.unregister(status, &outcome.diagnostics, &self.tracking_url, UNREGISTER_TIMEOUT).await {
                Ok(_) => tracing::info!(?status, "unregistered from YARN"),
                Err(e) => tracing::error!("unregistering from YARN failed: {e}"),
            }
        }
        self.jm.shutdown();
        outcome
    }
}
