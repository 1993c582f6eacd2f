//! Session mode: the AM runs a JobManager with no job of its own; clients
//! submit jobs to its Dispatcher (`rfy run -m yarn-session`), which runs them
//! side by side on TaskManagers the ResourceManager requests as jobs need
//! slots and releases when idle (`resourcemanager.taskmanager-timeout`).
//!
//! The session ends when a client asks (`DELETE /cluster`: `rfy yarn-session
//! stop`, unregistered SUCCEEDED), or when YARN or a signal ends it (KILLED).
//! Either way its running jobs are canceled first; the caller then releases
//! the containers, removes the staging directory and unregisters.

use std::time::{Duration, Instant};

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use rfy_conf::Configuration;
use rfy_jobmanager::JobManagerHandle;

use crate::failover::{recover_session, spawn_session_sync, AttemptInfo, SessionGraphStore, StoredIds};
use crate::job_store::JobStore;
use crate::outcome::{JobEnd, Outcome, StopReceiver};

/// How long stopping the session waits for its canceled jobs to end.
pub const CANCEL_WAIT: Duration = Duration::from_secs(20);

/// Serves jobs until the session is asked to stop; cancels the running jobs
/// and returns the outcome to report to YARN.
///
/// With a job `store` (YARN makes more than one attempt) every job is
/// written into it before its submission is acknowledged and removed once it
/// ended; a later attempt first takes over the jobs stored by the previous
/// one (see [`crate::failover`]).
pub async fn serve(
    jm: &Arc<JobManagerHandle>,
    store: Option<&JobStore>,
    attempt: AttemptInfo,
    conf: &Configuration,
    stop: &mut StopReceiver,
) -> Outcome {
    let stored: StoredIds = Arc::new(Mutex::new(HashSet::new()));
    if let (Some(store), true) = (store, attempt.is_recovery()) {
        match recover_session(jm, store, attempt).await {
            Ok(ids) => stored.lock().unwrap_or_else(|p| p.into_inner()).extend(ids),
            Err(e) => tracing::error!("cannot take over the session's jobs: {e}"),
        }
    }
    // Every job accepted from now on is in the store before the client hears
    // of it; the sync task removes the entries of ended jobs.
    let sync = store.map(|s| {
        let graph_store = SessionGraphStore { store: s.clone(), conf: conf.clone(), attempt, stored: stored.clone() };
        jm.set_job_graph_store(Arc::new(graph_store));
        spawn_session_sync(jm.clone(), s.clone(), stored.clone())
    });
    tracing::info!(rest = %jm.rest_address, "session cluster ready: waiting for jobs");
    let mut shutdown = jm.shutdown_requests();
    let (end, why) = tokio::select! {
        _ = shutdown.wait_for(|s| *s) => (JobEnd::Finished, "stopped by a client (DELETE /cluster)".to_string()),
        _ = stop.changed() => {
            let request = stop.borrow().clone();
            request.map(|r| (r.end, r.reason)).unwrap_or((JobEnd::Canceled, "stopped".into()))
        }
    };
    tracing::info!("session stopping: {why}");
    if let Some(sync) = sync {
        sync.abort();
    }
    let canceled = jm.cancel_all();
    let deadline = Instant::now() + CANCEL_WAIT;
    while jm.jobs().iter().any(|j| !j.state.is_terminal()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let jobs = jm.jobs();
    let still = jobs.iter().filter(|j| !j.state.is_terminal()).count();
    let mut diagnostics = format!("rfy session {why}; {} job(s) ran, {canceled} canceled at the stop", jobs.len());
    if still > 0 {
        diagnostics.push_str(&format!(", {still} not yet terminal after {} s", CANCEL_WAIT.as_secs()));
    }
    Outcome::new(end, diagnostics)
}
