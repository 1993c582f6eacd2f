//! The one job of an application- or per-job-mode AM, from its submission to
//! its end: submit (recording it in the job store first), follow its state
//! into the AM's progress, and turn its end into the application's
//! [`Outcome`].

use std::time::Duration;

use rfy_jobmanager::JobManagerHandle;
use rfy_runtime::{JobGraph, JobProgram};

use crate::failover::SingleJob;
use crate::job_store::StoredProgram;
use crate::outcome::{JobEnd, Outcome, StopReceiver};

/// How long the AM keeps serving after the job ended, so that attached
/// clients polling through the RM proxy see the job's final state.
pub const FINAL_STATE_GRACE: Duration = Duration::from_millis(1000);
/// How long the AM waits, after its jobs ended, for clients to fetch REST
/// operation results (Flink's clients poll at least every 2 s).
pub(crate) const RESULT_FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// Waits for job `job_id` to end; returns its outcome. A [`crate::outcome::StopRequest`]
/// on `stop` cancels the job and ends the wait early with the request's end.
pub(crate) async fn wait_for_job(
    jm: &JobManagerHandle,
    job_id: &str,
    progress: &std::sync::Mutex<f32>,
    stop: &mut StopReceiver,
) -> Outcome {
    loop {
        if let Some(st) = jm.job_status(job_id) {
            let done = st.tasks.iter().filter(|t| rfy_jobmanager::execution_state_name(t.state) == "FINISHED").count();
            let total = st.tasks.len().max(1);
            *progress.lock().unwrap_or_else(|p| p.into_inner()) = done as f32 / total as f32 * 0.99;
            let name = &st.name;
            if let Some(end) = JobEnd::of_state(st.state) {
                let diagnostics = match end {
                    JobEnd::Finished => {
                        format!("job {job_id} ({name}) FINISHED in {:.2} s", st.duration_ms() as f64 / 1000.0)
                    }
                    JobEnd::Failed => {
                        let why =
                            st.root_exception().map(|e| e.stacktrace.clone()).unwrap_or_else(|| "unknown cause".into());
                        format!("job {job_id} ({name}) FAILED: {why}")
                    }
                    JobEnd::Canceled => format!("job {job_id} ({name}) CANCELED"),
                };
                return Outcome::new(end, diagnostics);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = stop.changed() => {
                let request = stop.borrow().clone();
                let (end, why) = request.map(|r| (r.end, r.reason)).unwrap_or((JobEnd::Canceled, String::new()));
                jm.cancel(job_id);
                return Outcome::new(end, format!("job {job_id} canceled: {why}"));
            }
        }
    }
}

/// Submits the one job of an application- or per-job-mode AM (see
/// [`SingleJob::submit`]), waits for it to end and records its end.
pub(crate) async fn run_single(
    jm: &JobManagerHandle,
    single: &SingleJob<'_>,
    graph: JobGraph,
    program: StoredProgram,
    progress: &std::sync::Mutex<f32>,
    stop: &mut StopReceiver,
) -> Outcome {
    let name = graph.job_name.clone();
    match single.submit(jm, graph, program).await {
        Err(e) => Outcome::failed(format!("job '{name}' was refused: {e}")),
        Ok(job_id) => {
            tracing::info!(job = %job_id, recovering = single.attempt.is_recovery(), "job submitted");
            let o = wait_for_job(jm, &job_id, progress, stop).await;
            if stop.borrow().is_none() {
                single.record_end(&o).await;
                tokio::time::sleep(FINAL_STATE_GRACE).await;
            }
            // A client polling for a stop-with-savepoint's path gets it before the AM goes.
            jm.wait_for_operation_results(RESULT_FETCH_TIMEOUT).await;
            o
        }
    }
}

/// Application mode: runs the job's `main` (plans the job named `job` with
/// `args` among `programs`, with the planning checks against HDFS, off the
/// async threads), submits it to the Dispatcher under the job id derived from
/// the application id and waits for it to end. On a later attempt the job
/// recorded in the job store is planned again (without the "output is empty"
/// check: it continues its output) and recovers from its checkpoints; one
/// that ended is not rerun.
pub(crate) async fn run_application(
    programs: &'static [JobProgram],
    jm: &JobManagerHandle,
    (job, args): (&str, &[String]),
    single: &SingleJob<'_>,
    progress: &std::sync::Mutex<f32>,
    stop: &mut StopReceiver,
) -> Outcome {
    let previous = match single.previous().await {
        Ok(p) => p,
        Err(e) => return Outcome::failed(format!("cannot take over the job: {e}")),
    };
    if let Some(o) = previous.as_ref().and_then(crate::failover::recorded_outcome) {
        return o;
    }
    let recovering = previous.is_some();
    let check_io = !recovering && !single.conf.contains(rfy_conf::options::EXECUTION_SAVEPOINT_PATH.key);
    let (job2, args2, conf) = (job.to_string(), args.to_vec(), single.conf.clone());
    let planned =
        tokio::task::spawn_blocking(move || crate::plan::plan(programs, &job2, &args2, &conf, check_io)).await;
    let graph = match planned {
        Ok(Ok((_, graph))) => graph,
        Ok(Err(e)) => return Outcome::failed(format!("job '{job}' could not start: {e}")),
        Err(e) => return Outcome::failed(format!("job '{job}' could not start: job main panicked: {e}")),
    };
    let program = StoredProgram::Program { program: job.to_string(), args: args.to_vec() };
    run_single(jm, single, graph, program, progress, stop).await
}
