//! The application-mode ApplicationMaster: starts the JobManager (Dispatcher
//! REST API and web UI, JobMaster, ResourceManager with the [`YarnDriver`]),
//! registers with the YARN ResourceManager with the web UI as tracking URL,
//! runs the job's `main` (plans the job named in the manifest and
//! submits it to its own Dispatcher), and when the job ends removes the
//! staging directory and unregisters with SUCCEEDED, FAILED or KILLED and a
//! diagnostic message.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rfy_conf::{options, Configuration, Source};
use rfy_hadoop::config::HadoopConfig;
use rfy_hadoop::hdfs::Hdfs;
use rfy_hadoop::yarn::amrm::{AmRmClient, FinalStatus};
use rfy_hadoop::yarn::rest::RmRestClient;
use rfy_hadoop::yarn::Resource;
use rfy_jobmanager::{JobManager, JobManagerConfig, JobManagerHandle, JobState};
use rfy_runtime::{JobGraph, JobProgram};
use tokio::sync::watch;

use crate::bundle::{self, ClusterMode, Manifest};
use crate::driver::{AllocatorEvent, ContainerAllocator, WorkerSpec, YarnDriver};
use crate::failover::{derived_job_id, open_store, recorded_outcome, state_of, AttemptInfo, SingleJob};
use crate::job_store::StoredProgram;

/// How long the AM keeps serving after the job ended, so that attached
/// clients polling through the RM proxy see the job's final state.
pub const FINAL_STATE_GRACE: Duration = Duration::from_millis(1000);
/// How long the AM waits, after its jobs ended, for clients to fetch REST
/// operation results (Flink's clients poll at least every 2 s).
pub(crate) const RESULT_FETCH_TIMEOUT: Duration = Duration::from_secs(30);
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
    Bundle(String),
    /// The rfy configuration is invalid.
    #[error("configuration: {0}")]
    Conf(String),
    /// The Hadoop configuration or the AMRM token could not be read.
    #[error("YARN: {0}")]
    Yarn(String),
    /// The JobManager could not start.
    #[error("JobManager: {0}")]
    JobManager(String),
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

/// How the application ended, for YARN.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The final status reported to YARN.
    pub status: FinalStatus,
    /// The diagnostic message reported to YARN.
    pub diagnostics: String,
}

/// The job's `main`: plans the job the manifest names with `programs`, after
/// the planning-time checks (input exists, output writable) unless the job
/// restores from a savepoint or checkpoint (it continues its output).
fn plan(
    programs: &[JobProgram],
    manifest: &Manifest,
    conf: &Configuration,
    recovering: bool,
) -> Result<JobGraph, String> {
    let check_io = !recovering && !conf.contains(options::EXECUTION_SAVEPOINT_PATH.key);
    crate::plan::plan(programs, &manifest.job, &manifest.args, conf, check_io)
        .map(|(_, graph)| graph)
        .map_err(|e| e.to_string())
}

/// Waits for job `job_id` to end; returns its outcome. `stop` ends the wait
/// early with KILLED (SIGTERM or an `AM_SHUTDOWN` from the RM).
pub(crate) async fn wait_for_job(
    jm: &JobManagerHandle,
    job_id: &str,
    progress: &std::sync::Mutex<f32>,
    stop: &mut watch::Receiver<Option<(FinalStatus, String)>>,
) -> Outcome {
    loop {
        if let Some(st) = jm.job_status(job_id) {
            let done = st.tasks.iter().filter(|t| rfy_jobmanager::execution_state_name(t.state) == "FINISHED").count();
            let total = st.tasks.len().max(1);
            *progress.lock().unwrap_or_else(|p| p.into_inner()) = done as f32 / total as f32 * 0.99;
            let name = &st.name;
            match st.state {
                JobState::Finished => {
                    return Outcome {
                        status: FinalStatus::Succeeded,
                        diagnostics: format!(
                            "job {job_id} ({name}) FINISHED in {:.2} s",
                            st.duration_ms() as f64 / 1000.0
                        ),
                    }
                }
                JobState::Failed => {
                    let why = st
                        .root_exception()
                        .map(|e| e.stacktrace.clone())
                        .unwrap_or_else(|| "unknown cause".to_string());
                    return Outcome {
                        status: FinalStatus::Failed,
                        diagnostics: format!("job {job_id} ({name}) FAILED: {why}"),
                    };
                }
                JobState::Canceled => {
                    return Outcome {
                        status: FinalStatus::Killed,
                        diagnostics: format!("job {job_id} ({name}) CANCELED"),
                    }
                }
                _ => {}
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = stop.changed() => {
                let (status, why) = stop.borrow().clone().unwrap_or((FinalStatus::Killed, String::new()));
                jm.cancel(job_id);
                return Outcome { status, diagnostics: format!("job {job_id} canceled: {why}") };
            }
        }
    }
}

/// Runs the ApplicationMaster in the current YARN container, with the bundle
/// in the working directory; the job's main is one of `programs`. Returns
/// the outcome it reported to YARN.
///
/// Errors: the AM could not start (no registration with YARN happened; YARN
/// then shows the container's exit code and its logs hold this error).
pub async fn run(programs: &'static [JobProgram]) -> Result<Outcome, AmError> {
    let started = Instant::now();
    let env = ContainerEnv::from_env()?;
    let manifest = Manifest::read(Path::new(bundle::MANIFEST_FILE)).map_err(AmError::Bundle)?;
    let conf_map = bundle::read_conf_map(Path::new(bundle::CONF_FILE)).map_err(AmError::Bundle)?;
    let conf = Configuration::from_map(&conf_map, Source::Programmatic).map_err(|e| AmError::Conf(e.to_string()))?;
    tracing::info!(app = %manifest.application_id, container = %env.container_id, host = %env.nm_host, job = %manifest.job, args = ?manifest.args, "rfy ApplicationMaster starting");

    let hconf = HadoopConfig::from_env().map_err(|e| AmError::Yarn(e.to_string()))?;
    let amrm = Arc::new(AmRmClient::from_container_env(&hconf).map_err(|e| AmError::Yarn(e.to_string()))?);
    let hdfs = Hdfs::from_config(&hconf, Some(&manifest.user)).map_err(|e| AmError::Yarn(e.to_string()))?;
    let attempt = AttemptInfo::from_env(&env.container_id, &conf);
    tracing::info!(attempt = attempt.number, max_attempts = attempt.max, "ApplicationMaster attempt");
    let store = open_store(&manifest.staging_dir, attempt).await.map_err(AmError::Yarn)?;

    // JobManager: RPC and REST on any free port of every interface, advertised as the NM host.
    let driver = YarnDriver::new();
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
        advertised_host: env.nm_host.clone(),
        driver: Arc::new(driver.clone()),
    })
    .await
    .map_err(|e| AmError::JobManager(e.to_string()))?;
    let jm = Arc::new(jm);
    let tracking_url = format!("http://{}/", jm.rest_address);
    tracing::info!(rpc = %jm.rpc_address, web = %tracking_url, "JobManager started");

    // The REST port as the AM's "RPC port" (as Flink's AM does): clients find
    // it in the application report (`amRPCAddress`) for the REST requests
    // the RM's web proxy does not forward (POST, PATCH: savepoint, stop, cancel).
    let rest_port_registered: i32 = jm.rest_address.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let reg = amrm
        .register_application_master(&env.nm_host, rest_port_registered, &tracking_url)
        .await
        .map_err(|e| AmError::Yarn(format!("registerApplicationMaster at {}: {e}", amrm.addr())))?;
    tracing::info!(queue = %reg.queue, max = ?reg.maximum_capability, elapsed_ms = started.elapsed().as_millis() as u64, "registered with the YARN ResourceManager");

    let tm_mem = bundle::mebibytes(conf.get(&options::TASKMANAGER_MEMORY_PROCESS_SIZE).0);
    let tm_vcores = conf.get(&options::YARN_CONTAINERS_VCORES).max(1) as i32;
    let too_big = reg.maximum_capability.filter(|m| tm_mem > m.memory_mb || tm_vcores > m.vcores);
    let spec = WorkerSpec {
        resource: Resource::new(tm_mem, tm_vcores),
        slots: conf.get(&options::TASKMANAGER_NUMBER_OF_TASK_SLOTS).max(1),
        jobmanager_address: jm.rpc_address.clone(),
        local_resources: manifest.worker_files(),
        environment: bundle::container_environment(&manifest.user, &manifest.log_filter),
        user: manifest.user.clone(),
        tokens: crate::driver::task_manager_tokens_from_env().map_err(AmError::Yarn)?,
    };
    let allocator = ContainerAllocator::new(driver, amrm.clone(), jm.clone(), spec).with_hdfs(hdfs.clone());
    let progress = allocator.progress();
    let (stop_alloc, stop_alloc_rx) = watch::channel(false);
    let (stop_job, mut stop_job_rx) = watch::channel::<Option<(FinalStatus, String)>>(None);
    let stop_job2 = stop_job.clone();
    let alloc_task = tokio::spawn(async move {
        let ev = allocator.run(stop_alloc_rx).await;
        match &ev {
            Some(AllocatorEvent::Shutdown) => {
                let _ = stop_job2
                    .send(Some((FinalStatus::Killed, "the YARN ResourceManager asked the AM to shut down".into())));
            }
            Some(AllocatorEvent::Failed(e)) => {
                let _ = stop_job2.send(Some((FinalStatus::Failed, e.clone())));
            }
            None => {}
        }
        ev
    });

    // SIGTERM (YARN kills the AM container, `yarn application -kill`): on
    // the last attempt remove the staging directory at once (SIGKILL follows
    // within yarn.nodemanager.sleep-delay-before-sigkill.ms, 250 ms by
    // default). On an earlier attempt YARN may start another one, which
    // needs the staging directory and the job store, unless the whole
    // application is being killed: the RM reports it KILLED before the
    // NodeManager signals the container (checked within 100 ms). If it is
    // not, exit at once, as if killed, without canceling the jobs or
    // unregistering (the attached client removes the staging directory once
    // the application is final).
    {
        let rm = RmRestClient::from_config(&hconf, &manifest.user).ok();
        let app_id = manifest.application_id.clone();
        let hdfs = hdfs.clone();
        let staging = manifest.staging_dir.clone();
        let stop_job = stop_job.clone();
        tokio::spawn(async move {
            let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
                return;
            };
            term.recv().await;
            let app_final = match &rm {
                Some(rm) if !attempt.is_last() => {
                    matches!(tokio::time::timeout(Duration::from_millis(100), rm.app_report(&app_id)).await,
                        Ok(Ok(r)) if r.is_final())
                }
                _ => false,
            };
            if !attempt.is_last() && !app_final {
                tracing::warn!(
                    "SIGTERM on attempt {} of {}: exiting without unregistering; YARN may start another attempt",
                    attempt.number,
                    attempt.max
                );
                std::process::exit(143);
            }
            tracing::warn!("SIGTERM: the application is being killed; removing the staging directory {staging}");
            let budget = if app_final { 120 } else { 200 };
            let _ = tokio::time::timeout(Duration::from_millis(budget), hdfs.delete(&staging, true)).await;
            let _ = stop_job.send(Some((FinalStatus::Killed, "SIGTERM".into())));
        });
    }

    let outcome = match (too_big, manifest.mode) {
        (Some(max), _) => Outcome {
            status: FinalStatus::Failed,
            diagnostics: format!(
                "TaskManager containers of {tm_mem} MiB and {tm_vcores} vcores (taskmanager.memory.process.size, yarn.containers.vcores) \
                 exceed what YARN grants: {} MiB, {} vcores",
                max.memory_mb, max.vcores
            ),
        },
        (None, ClusterMode::Session) => {
            crate::session::serve(&jm, store.as_ref(), attempt, &conf, &mut stop_job_rx).await
        }
        (None, mode) => {
            let job_id = derived_job_id(&manifest.application_id).ok_or_else(|| {
                AmError::Bundle(format!("'{}' is not a YARN application id", manifest.application_id))
            })?;
            let single = SingleJob { store: store.as_ref(), attempt, job_id, conf: &conf };
            match mode {
                ClusterMode::PerJob => crate::per_job::run(&jm, &single, &progress, &mut stop_job_rx).await,
                _ => run_main(programs, &jm, &manifest, &single, &progress, &mut stop_job_rx).await,
            }
        }
    };
    match outcome.status {
        FinalStatus::Succeeded => tracing::info!("{}", outcome.diagnostics),
        _ => tracing::error!("{}", outcome.diagnostics),
    }
    let _ = stop_alloc.send(true);
    let alloc_event = alloc_task.await.ok().flatten();

    match hdfs.delete(&manifest.staging_dir, true).await {
        Ok(_) => tracing::info!(dir = %manifest.staging_dir, "staging directory removed"),
        Err(e) => tracing::warn!("cannot remove the staging directory: {e}"),
    }
    if alloc_event != Some(AllocatorEvent::Shutdown) {
        if let Err(e) = amrm.unregister(outcome.status, &outcome.diagnostics, &tracking_url, UNREGISTER_TIMEOUT).await {
            tracing::error!("unregistering from YARN failed: {e}");
        } else {
            tracing::info!(status = ?outcome.status, "unregistered from YARN");
        }
    }
    jm.shutdown();
    Ok(outcome)
}

/// Application mode: runs the job's `main` (plans the built-in job named in
/// the manifest, with the planning checks against HDFS, off the async
/// threads), submits it to the Dispatcher under the job id derived from the
/// application id and waits for it to end. On a later attempt the job
/// recorded in the job store is planned again (without the "output is empty"
/// check) and recovers from its checkpoints; one that ended is not rerun.
async fn run_main(
    programs: &'static [JobProgram],
    jm: &JobManagerHandle,
    manifest: &Manifest,
    single: &SingleJob<'_>,
    progress: &std::sync::Mutex<f32>,
    stop_job_rx: &mut watch::Receiver<Option<(FinalStatus, String)>>,
) -> Outcome {
    let previous = match single.previous().await {
        Ok(p) => p,
        Err(e) => {
            return Outcome { status: FinalStatus::Failed, diagnostics: format!("cannot take over the job: {e}") }
        }
    };
    if let Some(o) = previous.as_ref().and_then(recorded_outcome) {
        return o;
    }
    let recovering = previous.is_some();
    // The job's main: plan (with the planning checks against HDFS) off the async threads.
    let m2 = manifest.clone();
    let c2 = single.conf.clone();
    let planned = tokio::task::spawn_blocking(move || plan(programs, &m2, &c2, recovering))
        .await
        .unwrap_or_else(|e| Err(format!("job main panicked: {e}")));
    let graph = match planned {
        Ok(g) => g,
        Err(e) => {
            return Outcome {
                status: FinalStatus::Failed,
                diagnostics: format!("job '{}' could not start: {e}", manifest.job),
            }
        }
    };
    let program = StoredProgram::Program { program: manifest.job.clone(), args: manifest.args.clone() };
    run_single(jm, single, graph, program, progress, stop_job_rx).await
}

/// Submits the one job of an application- or per-job-mode AM (see
/// [`SingleJob::submit`]), waits for it to end and records its end.
pub(crate) async fn run_single(
    jm: &JobManagerHandle,
    single: &SingleJob<'_>,
    graph: JobGraph,
    program: StoredProgram,
    progress: &std::sync::Mutex<f32>,
    stop_job_rx: &mut watch::Receiver<Option<(FinalStatus, String)>>,
) -> Outcome {
    let name = graph.job_name.clone();
    match single.submit(jm, graph, program).await {
        Err(e) => Outcome { status: FinalStatus::Failed, diagnostics: format!("job '{name}' was refused: {e}") },
        Ok(job_id) => {
            tracing::info!(job = %job_id, recovering = single.attempt.is_recovery(), "job submitted");
            let o = wait_for_job(jm, &job_id, progress, stop_job_rx).await;
            if stop_job_rx.borrow().is_none() {
                single.record_end(state_of(&o), &o).await;
                tokio::time::sleep(FINAL_STATE_GRACE).await;
            }
            // A client polling for a stop-with-savepoint's path gets it before the AM goes.
            jm.wait_for_operation_results(RESULT_FETCH_TIMEOUT).await;
            o
        }
    }
}
