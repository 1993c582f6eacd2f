//! Per-job mode: the client planned the JobGraph and shipped it in the
//! bundle ([`crate::bundle::JOB_GRAPH_FILE`]); the AM runs exactly that job
//! (the job's `main` does not run here) and ends with it, as application
//! mode does.

use std::path::Path;

use rfy_hadoop::yarn::amrm::FinalStatus;
use rfy_jobmanager::JobManagerHandle;
use rfy_runtime::JobGraph;
use tokio::sync::watch;

use crate::app::{wait_for_job, Outcome, FINAL_STATE_GRACE, RESULT_FETCH_TIMEOUT};
use crate::bundle::JOB_GRAPH_FILE;

/// Reads the shipped JobGraph.
///
/// Errors: the file is missing or not a JobGraph (the text names it).
pub fn read_job_graph(path: &Path) -> Result<JobGraph, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_slice(&text).map_err(|e| format!("{} is not a JobGraph: {e}", path.display()))
}

/// Submits the shipped JobGraph to the Dispatcher and waits for the job to end.
pub async fn run(
    jm: &JobManagerHandle,
    progress: &std::sync::Mutex<f32>,
    stop: &mut watch::Receiver<Option<(FinalStatus, String)>>,
) -> Outcome {
    let graph = match read_job_graph(Path::new(JOB_GRAPH_FILE)) {
        Ok(g) => g,
        Err(e) => return Outcome { status: FinalStatus::Failed, diagnostics: format!("per-job cluster: {e}") },
    };
    let name = graph.job_name.clone();
    match jm.submit(graph, Default::default()) {
        Err(e) => Outcome { status: FinalStatus::Failed, diagnostics: format!("job '{name}' was refused: {e}") },
        Ok(job_id) => {
            tracing::info!(job = %job_id, "job submitted (per-job cluster)");
            let o = wait_for_job(jm, &job_id, progress, stop).await;
            if stop.borrow().is_none() {
                tokio::time::sleep(FINAL_STATE_GRACE).await;
            }
            // A client polling for a stop-with-savepoint's path gets it before the AM goes.
            jm.wait_for_operation_results(RESULT_FETCH_TIMEOUT).await;
            o
        }
    }
}
