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
use std::sync::Arc;

use rfy_conf::Configuration;
use rfy_hadoop::yarn::amrm::FinalStatus;
use rfy_jobmanager::JobManagerHandle;
use tokio::sync::watch;

use crate::app::Outcome;
use crate::failover::AttemptInfo;
use crate::job_store::JobStore;

/// How long stopping the session waits for its canceled jobs to end.
pub const CANCEL_WAIT: Duration = Duration::from_secs(20);

/// Serves jobs until the session is asked to stop; cancels the running jobs
/// and returns the outcome to report to YARN.
///
/// With a job `store` (YARN makes more than one attempt) the session's
/// running jobs are mirrored into it; a later attempt first takes over the
/// jobs stored by the previous one (see [`crate::failover`]).
pub async fn serve(
    jm: &Arc<JobManagerHandle>,
    store: Option<&JobStore>,
    attempt: AttemptInfo,
    conf: &Configuration,
    stop: &mut watch::Receiver<Option<(FinalStatus, String)>>,
) -> Outcome {
    let mut known = HashSet::new();
    if let (Some(store), true) = (store, attempt.is_recovery()) {
        match crate::failover::recover_session(jm, store, attempt).await {
            Ok(ids) => known.extend(ids),
            Err(e) => tracing::error!("cannot take over the session's jobs: {e}"),
        }
    }
    let sync = store.map(|s| crate::failover::spawn_session_sync(jm.clone(), s.clone(), attempt, conf.clone(), known));
    tracing::info!(rest = %jm.rest_address, "session cluster ready: waiting for jobs");
    let mut shutdown = jm.shutdown_requests();
    let (status, why) = tokio::select! {
        _ = shutdown.wait_for(|s| *s) => (FinalStatus::Succeeded, "stopped by a client (DELETE /cluster)".to_string()),
        _ = stop.changed() => stop.borrow().clone().unwrap_or((FinalStatus::Killed, "stopped".into())),
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
    Outcome { status, diagnostics }
}
