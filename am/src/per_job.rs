//! Per-job mode: the client planned the JobGraph and shipped it in the
//! bundle ([`crate::bundle::JOB_GRAPH_FILE`]); the AM runs exactly that job
//! (the job's `main` does not run here) and ends with it, as application
//! mode does.

use std::path::Path;

use rfy_hadoop::yarn::amrm::FinalStatus;
use rfy_jobmanager::JobManagerHandle;
use rfy_runtime::JobGraph;
use tokio::sync::watch;

use crate::app::{run_single, Outcome};
use crate::bundle::JOB_GRAPH_FILE;
use crate::failover::{recorded_outcome, SingleJob};
use crate::job_store::StoredProgram;

/// Reads the shipped JobGraph.
///
/// Errors: the file is missing or not a JobGraph (the text names it).
pub fn read_job_graph(path: &Path) -> Result<JobGraph, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_slice(&text).map_err(|e| format!("{} is not a JobGraph: {e}", path.display()))
}

/// Submits the shipped JobGraph to the Dispatcher (under the job id derived
/// from the application id; on a later attempt recovering from its
/// checkpoints, or reporting the end a previous attempt recorded) and waits
/// for the job to end.
pub(crate) async fn run(
    jm: &JobManagerHandle,
    single: &SingleJob<'_>,
    progress: &std::sync::Mutex<f32>,
    stop: &mut watch::Receiver<Option<(FinalStatus, String)>>,
) -> Outcome {
    match single.previous().await {
        Err(e) => {
            return Outcome { status: FinalStatus::Failed, diagnostics: format!("cannot take over the job: {e}") }
        }
        Ok(Some(o)) => {
            if let Some(o) = recorded_outcome(&o) {
                return o;
            }
        }
        Ok(None) => {}
    }
    let graph = match read_job_graph(Path::new(JOB_GRAPH_FILE)) {
        Ok(g) => g,
        Err(e) => return Outcome { status: FinalStatus::Failed, diagnostics: format!("per-job cluster: {e}") },
    };
    let program = StoredProgram::Graph { graph: Box::new(graph.clone()), config: Default::default() };
    run_single(jm, single, graph, program, progress, stop).await
}
