//! ApplicationMaster failover without ZooKeeper: which attempt this AM is,
//! and how it records its jobs in the [`JobStore`] and takes over the jobs
//! of the previous attempt.
//!
//! - Application and per-job mode: the job id is [`derived_job_id`] of the
//!   application id. The entry is written before the job is submitted; a
//!   later attempt finds it, plans the job again (application mode: without
//!   the "output is empty" check, as the job continues its output) or reads
//!   the shipped JobGraph (per-job), and submits it under the same id with
//!   recovery: the JobMaster restores the newest intact checkpoint in
//!   `<state.checkpoints.dir>/<job id>/`. A job that already ended (the entry
//!   carries its final state) is not run again: the attempt reports that outcome.
//! - Session mode: the Dispatcher writes each job into the store (JobGraph and
//!   configuration, [`SessionGraphStore`]) before it acknowledges the
//!   submission, and a background loop removes the entries of ended jobs; a
//!   later attempt resubmits each stored job that had not ended, under its
//!   id, with recovery.
//!
//! With `yarn.application-attempts` 1 (YARN's `MAX_APP_ATTEMPTS` of 1) there
//! is no later attempt and no store is written.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rfy_conf::{options, Configuration};
use rfy_jobmanager::job_graph_store::{JobGraphStore, JobGraphStoreError, SubmittedJobGraph};
use rfy_jobmanager::{JobManagerHandle, SubmitError};
use rfy_runtime::JobGraph;

pub use crate::job_store::derived_job_id;
use crate::job_store::{attempt_of_container, JobStore, JobStoreError, StoredJob, StoredProgram, STORED_JOB_VERSION};
use crate::outcome::Outcome;

/// Why a job could not be recorded in, read from, or submitted after the job store.
#[derive(Debug, thiserror::Error)]
pub enum FailoverError {
    /// The job store could not be opened, read or written.
    #[error(transparent)]
    Store(#[from] JobStoreError),
    /// A job store call on the blocking threads panicked or was canceled.
    #[error("job store call did not complete: {0}")]
    Interrupted(#[from] tokio::task::JoinError),
    /// The Dispatcher refused the job.
    #[error("the Dispatcher refused job {job_id}: {source}")]
    Refused {
        /// The job's id.
        job_id: String,
        /// Why.
        #[source]
        source: SubmitError,
    },
}

/// Execution attempt numbers reserved per ApplicationMaster attempt (job
/// restarts within one AM attempt beyond this would reuse numbers).
pub const EXECUTION_ATTEMPTS_PER_AM_ATTEMPT: u32 = 1_000_000;

/// How often the session AM removes the entries of its ended jobs from the store.
pub const SESSION_SYNC_INTERVAL: Duration = Duration::from_millis(500);

/// This ApplicationMaster's attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptInfo {
    /// The attempt number, from 1 (from `CONTAINER_ID`).
    pub number: u32,
    /// How many attempts YARN makes: `MAX_APP_ATTEMPTS` when the
    /// ResourceManager sets it in the AM's environment (older Hadoop
    /// versions), else `yarn.application-attempts` of the shipped
    /// configuration, which the client already capped by the RM's
    /// `yarn.resourcemanager.am.max-attempts`.
    pub max: u32,
}

impl AttemptInfo {
    /// From the AM container's id, `MAX_APP_ATTEMPTS` and `conf`.
    pub fn from_env(container_id: &str, conf: &Configuration) -> AttemptInfo {
        let number = attempt_of_container(container_id).unwrap_or(1).max(1);
        let max = std::env::var("MAX_APP_ATTEMPTS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| conf.get(&options::YARN_APPLICATION_ATTEMPTS))
            .max(1);
        AttemptInfo { number, max }
    }

    /// True if YARN makes no further attempt after this one.
    pub fn is_last(&self) -> bool {
        self.number >= self.max
    }

    /// True if this attempt follows a failed one.
    pub fn is_recovery(&self) -> bool {
        self.number > 1
    }

    /// What [`JobManagerHandle::submit_as`] gets as `recover`: on a later
    /// attempt `Some` of the first execution attempt number of a job taken
    /// over, `(number − 1) ×` [`EXECUTION_ATTEMPTS_PER_AM_ATTEMPT`], so it
    /// repeats none of the previous AM's numbers (which name sink files).
    pub fn recover(&self) -> Option<u32> {
        self.is_recovery().then(|| (self.number - 1).saturating_mul(EXECUTION_ATTEMPTS_PER_AM_ATTEMPT))
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, JobStoreError> + Send + 'static,
) -> Result<T, FailoverError> {
    Ok(tokio::task::spawn_blocking(f).await??)
}

/// Opens the store under `staging` unless YARN makes a single attempt.
///
/// Errors: [`FailoverError::Store`]: the store's file system cannot be opened (named).
pub async fn open_store(staging: &str, attempt: AttemptInfo) -> Result<Option<JobStore>, FailoverError> {
    if attempt.max <= 1 {
        return Ok(None);
    }
    let staging = staging.to_string();
    blocking(move || JobStore::open(&staging)).await.map(Some)
}

/// `<state.checkpoints.dir>/<job id>`, if a checkpoint directory is set.
fn checkpoint_dir(conf: &Configuration, job_id: &str) -> Option<String> {
    conf.get_optional(&options::STATE_CHECKPOINTS_DIR)
        .filter(|d| !d.trim().is_empty())
        .map(|d| rfy_runtime::fs::join(d.trim(), job_id))
}

/// The one job of an application- or per-job-mode AM.
pub(crate) struct SingleJob<'a> {
    pub(crate) store: Option<&'a JobStore>,
    pub(crate) attempt: AttemptInfo,
    pub(crate) job_id: String,
    pub(crate) conf: &'a Configuration,
}

impl SingleJob<'_> {
    /// The stored entry of a previous attempt: `Ok(None)` on the first
    /// attempt, without a store, or when the previous attempt never submitted.
    ///
    /// Errors: the store cannot be read.
    pub(crate) async fn previous(&self) -> Result<Option<StoredJob>, FailoverError> {
        let Some(store) = self.store.filter(|_| self.attempt.is_recovery()).cloned() else { return Ok(None) };
        let id = self.job_id.clone();
        blocking(move || store.get(&id)).await
    }

    /// Records the job (before it is submitted) and submits it under its
    /// derived id; on a later attempt with recovery from its checkpoints.
    ///
    /// Errors: the store cannot be written, or the Dispatcher refuses the job.
    pub(crate) async fn submit(
        &self,
        jm: &JobManagerHandle,
        graph: JobGraph,
        program: StoredProgram,
    ) -> Result<String, FailoverError> {
        if let Some(store) = self.store.cloned() {
            let entry = StoredJob {
                version: STORED_JOB_VERSION,
                job_id: self.job_id.clone(),
                name: graph.job_name.clone(),
                program,
                checkpoint_dir: checkpoint_dir(self.conf, &self.job_id),
                final_state: None,
                attempt: self.attempt.number,
            };
            blocking(move || store.put(&entry)).await?;
        }
        jm.submit_as(&self.job_id, graph, Default::default(), self.attempt.recover())
            .map_err(|source| FailoverError::Refused { job_id: self.job_id.clone(), source })
    }

    /// Records how the job ended, so a later attempt (the AM lost before it
    /// unregistered) reports it instead of running the job again. A failure
    /// to write is logged: the outcome goes to YARN anyway.
    pub(crate) async fn record_end(&self, outcome: &Outcome) {
        let Some(store) = self.store.cloned() else { return };
        let (id, outcome) = (self.job_id.clone(), outcome.clone());
        let r = blocking(move || {
            let Some(mut e) = store.get(&id)? else { return Ok(()) };
            e.final_state = Some(outcome);
            store.put(&e)
        })
        .await;
        if let Err(e) = r {
            tracing::warn!("cannot record the job's end: {e}");
        }
    }
}

/// The outcome a previous attempt recorded for a job that ended.
pub(crate) fn recorded_outcome(e: &StoredJob) -> Option<Outcome> {
    let o = e.final_state.as_ref()?;
    Some(Outcome::new(o.end, format!("{} (recorded by attempt {})", o.diagnostics, e.attempt)))
}

/// Session mode, later attempt: resubmits every stored job that had not
/// ended, under its id, recovering from its checkpoints. Returns the ids
/// taken over.
///
/// Errors: the store cannot be read.
pub(crate) async fn recover_session(
    jm: &JobManagerHandle,
    store: &JobStore,
    attempt: AttemptInfo,
) -> Result<Vec<String>, FailoverError> {
    let s = store.clone();
    let stored = blocking(move || s.list()).await?;
    let mut ids = Vec::new();
    for e in stored.into_iter().filter(|e| e.final_state.is_none()) {
        let StoredProgram::Graph { graph, config } = e.program else {
            tracing::warn!(job = %e.job_id, "stored session job without a JobGraph: not recovered");
            continue;
        };
        match jm.submit_as(&e.job_id, *graph, config, attempt.recover().or(Some(1))) {
            Ok(id) => {
                tracing::info!(job = %id, name = %e.name, "session job taken over from attempt {}", e.attempt);
                ids.push(id);
            }
            Err(err) => tracing::error!(job = %e.job_id, "cannot recover the session job: {err}"),
        }
    }
    Ok(ids)
}

/// The ids of the session's jobs that have an entry in the job store,
/// shared by [`SessionGraphStore`] (adds one before a submission is
/// acknowledged) and [`spawn_session_sync`] (removes it once the job ended).
pub(crate) type StoredIds = Arc<Mutex<HashSet<String>>>;

/// The session's job store as the Dispatcher's [`JobGraphStore`]: every job
/// is written to HDFS before its submission is acknowledged (Flink writes its
/// JobGraphStore on submit), so an AM crash right after a client was told
/// "submitted" cannot lose it.
pub(crate) struct SessionGraphStore {
    pub(crate) store: JobStore,
    pub(crate) conf: Configuration,
    pub(crate) attempt: AttemptInfo,
    pub(crate) stored: StoredIds,
}

impl JobGraphStore for SessionGraphStore {
    fn put(&self, job: &SubmittedJobGraph<'_>) -> Result<(), JobGraphStoreError> {
        let entry = StoredJob {
            version: STORED_JOB_VERSION,
            job_id: job.job_id.to_string(),
            name: job.name.to_string(),
            program: StoredProgram::Graph { graph: Box::new(job.graph.clone()), config: job.config.clone() },
            checkpoint_dir: checkpoint_dir(&self.conf, job.job_id),
            final_state: None,
            attempt: self.attempt.number,
        };
        self.store.put(&entry).map_err(|e| JobGraphStoreError {
            job_id: job.job_id.to_string(),
            location: self.store.dir().to_string(),
            source: Box::new(e),
        })?;
        self.stored.lock().unwrap_or_else(|p| p.into_inner()).insert(job.job_id.to_string());
        Ok(())
    }
}

/// Session mode: removes a job's entry from `store` once the job is
/// terminal (checked every [`SESSION_SYNC_INTERVAL`]) until the task is
/// aborted. Entries are written at submission ([`SessionGraphStore`]);
/// `stored` holds the ids that have one (the jobs taken over included).
pub(crate) fn spawn_session_sync(
    jm: Arc<JobManagerHandle>,
    store: JobStore,
    stored: StoredIds,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let ended: Vec<String> = {
                let ids = stored.lock().unwrap_or_else(|p| p.into_inner());
                jm.jobs()
                    .into_iter()
                    .filter(|j| j.state.is_terminal() && ids.contains(&j.job_id))
                    .map(|j| j.job_id.clone())
                    .collect()
            };
            for id in ended {
                let (s, job) = (store.clone(), id.clone());
                match blocking(move || s.remove(&job)).await {
                    Ok(()) => {
                        stored.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                    }
                    Err(e) => tracing::warn!(job = %id, "job store: {e}"),
                }
            }
            tokio::time::sleep(SESSION_SYNC_INTERVAL).await;
        }
    })
}
