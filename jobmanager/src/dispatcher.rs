//! The Dispatcher: the job registry. Accepts JobGraphs, starts one
//! JobMaster per job, routes messages to it, and serves its snapshots to the
//! REST API and the web UI. It knows nothing of REST or metrics: the REST
//! layer's own state (`rest::RestState`) holds what only it needs. Finished jobs stay listed up to
//! `jobstore.max-capacity` and for `jobstore.expiration-time` (Flink's
//! job store options).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rfy_conf::{Configuration, Source};
use rfy_runtime::JobGraph;
use tokio::sync::watch;

use crate::error::SubmitError;
use crate::job_graph_store::{JobGraphStore, SubmittedJobGraph};
use crate::job_master::{self, JobMasterHandle, JobMasterMsg, JobMasterServices};
use crate::resource_manager::{LostTaskManager, ResourceManager};
use crate::status::{now_ms, JobSnapshot};

/// How long finished jobs stay listed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JobStoreSettings {
    /// `jobstore.max-capacity`: finished jobs kept at most.
    pub(crate) max_capacity: usize,
    /// `jobstore.expiration-time`: a finished job is forgotten this long after it ended.
    pub(crate) expiration: Duration,
}

/// The registry of jobs, and what is needed to start their JobMasters.
pub(crate) struct Dispatcher {
    /// The cluster configuration (shipped to the tasks, merged with each job's).
    pub(crate) conf: Configuration,
    /// The ResourceManager (TaskManagers for the REST API).
    pub(crate) rm: Arc<ResourceManager>,
    services: JobMasterServices,
    /// Job id → its JobMaster. Held only to look up or insert a handle.
    jobs: Mutex<BTreeMap<String, JobMasterHandle>>,
    store: JobStoreSettings,
    /// Set by `DELETE /cluster` (Flink's cluster shutdown).
    shutdown_requested: watch::Sender<bool>,
    /// Where accepted jobs are recorded before the submission is acknowledged (session AM only).
    graph_store: OnceLock<Arc<dyn JobGraphStore>>,
}

impl Dispatcher {
    pub(crate) fn new(
        conf: Configuration,
        rm: Arc<ResourceManager>,
        services: JobMasterServices,
        store: JobStoreSettings,
    ) -> Self {
        Dispatcher {
            conf,
            rm,
            services,
            jobs: Mutex::new(BTreeMap::new()),
            store,
            shutdown_requested: watch::channel(false).0,
            graph_store: OnceLock::new(),
        }
    }

    /// Installs the store every later submission is recorded in before it is
    /// acknowledged; false if one was installed already (the first stays).
    pub(crate) fn set_job_graph_store(&self, store: Arc<dyn JobGraphStore>) -> bool {
        self.graph_store.set(store).is_ok()
    }

    fn jobs(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, JobMasterHandle>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Accepts a job and starts its JobMaster; returns the job id.
    ///
    /// Errors: an invalid JobGraph or job configuration.
    pub(crate) fn submit(&self, graph: JobGraph, job_conf: BTreeMap<String, String>) -> Result<String, SubmitError> {
        self.submit_as(None, graph, job_conf, None)
    }

    /// [`Dispatcher::submit`] with a given job id (`None`: a random one);
    /// `recover` (`Some(first execution attempt number)`): the job continues
    /// from the newest intact checkpoint found in its checkpoint directory (an
    /// ApplicationMaster attempt taking over the jobs of the previous one).
    ///
    /// Errors: an invalid JobGraph, job configuration or job id, a job
    /// with this id already known, or the job graph store (if installed)
    /// cannot record the job. With a store installed this blocks on its I/O:
    /// call it from a blocking thread.
    pub(crate) fn submit_as(
        &self,
        job_id: Option<String>,
        graph: JobGraph,
        job_conf: BTreeMap<String, String>,
        recover: Option<u32>,
    ) -> Result<String, SubmitError> {
        validate(&graph)?;
        Configuration::from_map(&job_conf, Source::Dynamic)
            .map_err(|e| SubmitError::InvalidJobGraph(format!("job configuration: {e}")))?;
        let job_id = match job_id {
            None => uuid::Uuid::new_v4().simple().to_string(),
            Some(id) if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) => id.to_ascii_lowercase(),
            Some(id) => return Err(SubmitError::InvalidJobId(id)),
        };
        if self.jobs().contains_key(&job_id) {
            return Err(SubmitError::DuplicateJobId(job_id));
        }
        // Recorded before the job starts and the submission is answered, so
        // an acknowledged job survives a crash of this process; a recovered
        // job (`recover`) is in the store already.
        if let (Some(store), None) = (self.graph_store.get(), recover) {
            let name = graph.job_name.clone();
            store.put(&SubmittedJobGraph { job_id: &job_id, name: &name, graph: &graph, config: &job_conf })?;
        }
        let mut shipped = self.conf.to_map();
        shipped.extend(job_conf);
        let mut jobs = self.jobs();
        if jobs.contains_key(&job_id) {
            return Err(SubmitError::DuplicateJobId(job_id));
        }
        let handle = job_master::start(job_id.clone(), graph, shipped, self.services.clone(), recover);
        jobs.insert(job_id.clone(), handle);
        drop(jobs);
        tracing::info!(job = %job_id, "job submitted");
        self.expire_finished();
        Ok(job_id)
    }

    /// The JobMaster of `job_id`, if known.
    pub(crate) fn handle(&self, job_id: &str) -> Option<JobMasterHandle> {
        self.jobs().get(job_id).cloned()
    }

    /// The latest snapshot of `job_id`, if known.
    pub(crate) fn snapshot(&self, job_id: &str) -> Option<JobSnapshot> {
        self.handle(job_id).map(|h| h.current())
    }

    /// Snapshots of every known job, newest first.
    pub(crate) fn snapshots(&self) -> Vec<JobSnapshot> {
        let mut jobs: Vec<JobSnapshot> = self.jobs().values().map(JobMasterHandle::current).collect();
        jobs.sort_by_key(|j| std::cmp::Reverse(j.start_ms));
        jobs
    }

    /// Sends `msg` to the JobMaster of `job_id`; false if unknown or ended.
    pub(crate) fn send(&self, job_id: &str, msg: JobMasterMsg) -> bool {
        self.handle(job_id).is_some_and(|h| h.tx.send(msg).is_ok())
    }

    /// Asks every job not yet terminal to cancel; returns how many were asked.
    pub(crate) fn cancel_all(&self) -> usize {
        let handles: Vec<JobMasterHandle> = self.jobs().values().cloned().collect();
        handles.iter().filter(|h| !h.current().state.is_terminal() && h.tx.send(JobMasterMsg::Cancel).is_ok()).count()
    }

    /// Tells the JobMasters of the jobs on a lost TaskManager.
    pub(crate) fn task_manager_lost(&self, lost: LostTaskManager) {
        for job in &lost.jobs {
            self.send(
                job,
                JobMasterMsg::TaskManagerLost { resource_id: lost.resource_id.clone(), reason: lost.reason.clone() },
            );
        }
    }

    /// Forgets finished jobs beyond the job store's capacity or age.
    pub(crate) fn expire_finished(&self) {
        let mut jobs = self.jobs();
        let finished: Vec<(String, u64)> = jobs
            .iter()
            .map(|(id, h)| (id.clone(), h.current()))
            .filter(|(_, s)| s.state.is_terminal())
            .map(|(id, s)| (id, s.end_ms))
            .collect();
        for id in jobs_to_expire(finished, now_ms(), self.store) {
            tracing::info!(job = %id, "finished job expired from the job store");
            jobs.remove(&id);
        }
    }

    /// A receiver that turns true once `DELETE /cluster` asked the JobManager to shut down.
    pub(crate) fn shutdown_requests(&self) -> watch::Receiver<bool> {
        self.shutdown_requested.subscribe()
    }

    /// `DELETE /cluster`: the embedding process (the session AM) shuts down.
    pub(crate) fn request_shutdown(&self) {
        self.shutdown_requested.send_replace(true);
    }
}

/// Which finished jobs `(id, end ms)` to forget at `now_ms`: those ended
/// more than `expiration` ago, then the oldest beyond `max_capacity`.
fn jobs_to_expire(mut finished: Vec<(String, u64)>, now_ms: u64, store: JobStoreSettings) -> Vec<String> {
    finished.sort_by_key(|(_, end)| std::cmp::Reverse(*end));
    let max_age = store.expiration.as_millis() as u64;
    finished
        .into_iter()
        .enumerate()
        .filter(|(i, (_, end))| *i >= store.max_capacity || now_ms.saturating_sub(*end) > max_age)
        .map(|(_, (id, _))| id)
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_jobs_expire_by_age_then_by_capacity() {
        let store = JobStoreSettings { max_capacity: 2, expiration: Duration::from_secs(10) };
        let jobs = vec![("old".to_string(), 1_000), ("a".into(), 95_000), ("b".into(), 96_000), ("c".into(), 97_000)];
        let mut gone = jobs_to_expire(jobs, 100_000, store);
        gone.sort();
        assert_eq!(gone, vec!["a".to_string(), "old".to_string()], "the oldest beyond 2, and the one older than 10 s");
        let store = JobStoreSettings { max_capacity: 10, expiration: Duration::from_secs(3600) };
        assert!(jobs_to_expire(vec![("x".into(), 99_000)], 100_000, store).is_empty());
    }
}
