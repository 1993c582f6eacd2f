//! Per-job mode: the client planned the JobGraph and shipped it in the
//! bundle ([`crate::bundle::JOB_GRAPH_FILE`]); the AM runs exactly that job
//! (the job's `main` does not run here) and ends with it, as application
//! mode does.

use std::path::Path;

use rfy_jobmanager::JobManagerHandle;

use crate::bundle::{read_job_graph, JOB_GRAPH_FILE};
use crate::failover::{recorded_outcome, SingleJob};
use crate::job_store::StoredProgram;
use crate::outcome::{Outcome, StopReceiver};
use crate::single_job::run_single;

/// Submits the shipped JobGraph to the Dispatcher (under the job id derived
/// from the application id; on a later attempt recovering from its
/// checkpoints, or reporting the end a previous attempt recorded) and waits
/// for the job to end.
pub(crate) async fn run(
    jm: &JobManagerHandle,
    single: &SingleJob<'_>,
    progress: &std::sync::Mutex<f32>,
    stop: &mut StopReceiver,
) -> Outcome {
    match single.previous().await {
        Err(e) => return Outcome::failed(format!("cannot take over the job: {e}")),
        Ok(Some(o)) => {
            if let Some(o) = recorded_outcome(&o) {
                return o;
            }
        }
        Ok(None) => {}
    }
    let graph = match read_job_graph(Path::new(JOB_GRAPH_FILE)) {
        Ok(g) => g,
        Err(e) => return Outcome::failed(format!("per-job cluster: {e}")),
    };
    let program = StoredProgram::Graph { graph: Box::new(graph.clone()), config: Default::default() };
    run_single(jm, single, graph, program, progress, stop).await
}
