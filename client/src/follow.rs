//! Submits a job to a JobManager's REST API and follows it to its end, with
//! a live status line (records/s) and a summary.

use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use rfy_rest_api::JobDetailsInfo;

/// How often the job's status is polled (a remote JobManager).
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// How often the embedded local cluster's job status is polled: the run ends
/// this much at most after the job does (a loopback GET is cheap), which
/// counts in short bounded runs such as `scripts/bench-kafka`.
pub const LOCAL_POLL_INTERVAL: Duration = Duration::from_millis(25);

pub use crate::rest_client::{RestClient, RestClientError, SavepointOptions};

/// What a followed job ended as.
pub struct Outcome {
    /// Terminal state name (`FINISHED`, `FAILED`, `CANCELED`).
    pub state: String,
    /// Root failure text for a failed job.
    pub failure: Option<String>,
}

/// Records read by the job's sources (vertices without inputs), from `GET /jobs/<id>`.
pub(crate) fn source_records(details: &JobDetailsInfo) -> u64 {
    let consumers: Vec<&str> =
        details.plan.nodes.iter().filter(|n| !n.inputs.is_empty()).map(|n| n.id.as_str()).collect();
    details.vertices.iter().filter(|v| !consumers.contains(&v.id.as_str())).map(|v| v.metrics.read_records).sum()
}

fn human(n: f64) -> String {
    match n {
        n if n >= 1e9 => format!("{:.2} G", n / 1e9),
        n if n >= 1e6 => format!("{:.2} M", n / 1e6),
        n if n >= 1e3 => format!("{:.1} k", n / 1e3),
        n => format!("{n:.0} "),
    }
}

/// Follows job `job_id` until it ends, asking for its status every `poll`
/// ([`POLL_INTERVAL`], [`LOCAL_POLL_INTERVAL`]); Ctrl-C cancels it.
pub async fn follow(client: &RestClient, job_id: &str, poll: Duration) -> Result<Outcome> {
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
    let started = Instant::now();
    let mut last = (Instant::now(), 0u64);
    let mut rate = 0.0;
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    let mut canceled = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = &mut ctrl_c, if !canceled => {
                canceled = true;
                bar.println("canceling the job (Ctrl-C)");
                client.cancel(job_id).await?;
            }
        }
        let details = client.job_details(job_id).await?;
        let state = details.state.clone();
        let read = source_records(&details);
        let now = Instant::now();
        let dt = now.duration_since(last.0).as_secs_f64();
        if dt >= 0.5 {
            rate = (read - last.1.min(read)) as f64 / dt;
            last = (now, read);
        }
        bar.set_message(format!(
            "{state}  {:.1} s  sources read {}records ({}records/s)",
            started.elapsed().as_secs_f64(),
            human(read as f64),
            human(rate)
        ));
        bar.tick();
        if matches!(state.as_str(), "FINISHED" | "FAILED" | "CANCELED") {
            bar.finish_and_clear();
            let duration = details.duration as f64 / 1000.0;
            let failure = if state == "FAILED" {
                client.job_exceptions(job_id).await.ok().and_then(|e| e.root_exception)
            } else {
                None
            };
            eprintln!(
                "Job {job_id} {state} in {duration:.2} s: sources read {read} records ({}records/s)",
                human(read as f64 / duration.max(1e-3))
            );
            return Ok(Outcome { state, failure });
        }
    }
}
