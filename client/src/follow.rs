//! Submits a job to a JobManager's REST API and follows it to its end, with
//! a live status line (records/s) and a summary.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use rfy_runtime::JobGraph;
use serde_json::{json, Value};

/// How often the job's status is polled (a remote JobManager).
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// How often the embedded local cluster's job status is polled: the run ends
/// this much at most after the job does (a loopback GET is cheap), which
/// counts in short bounded runs such as `scripts/bench-kafka`.
pub const LOCAL_POLL_INTERVAL: Duration = Duration::from_millis(25);

/// A REST client for one JobManager.
pub struct RestClient {
    base: String,
    http: reqwest::Client,
}

impl RestClient {
    /// A client for the REST API at `base` (e.g. `http://127.0.0.1:8081`).
    pub fn new(base: String) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the HTTP client")?;
        Ok(RestClient { base, http })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn parse(&self, what: &str, resp: reqwest::Response) -> Result<Value> {
        let status = resp.status();
        let body: Value =
            resp.json().await.with_context(|| format!("{what}: undecodable answer from {}", self.base))?;
        if !status.is_success() {
            let errs = body.get("errors").map(|e| e.to_string()).unwrap_or_else(|| body.to_string());
            bail!("{what}: {} answered {status}: {errs}", self.base);
        }
        Ok(body)
    }

    /// `POST /jobs`; returns the job id.
    pub async fn submit(
        &self,
        graph: &JobGraph,
        config: &std::collections::BTreeMap<String, String>,
    ) -> Result<String> {
        let resp = self
            .http
            .post(format!("{}/jobs", self.base))
            .json(&json!({ "jobGraph": graph, "config": config }))
            .send()
            .await
            .with_context(|| format!("cannot reach the JobManager at {}", self.base))?;
        let body = self.parse("job submission", resp).await?;
        body["jobid"].as_str().map(str::to_string).ok_or_else(|| anyhow!("job submission: no job id in {body}"))
    }

    /// `GET <path>`.
    pub async fn get(&self, path: &str) -> Result<Value> {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .with_context(|| format!("cannot reach the JobManager at {}", self.base))?;
        self.parse(path, resp).await
    }

    /// `PATCH /jobs/<id>?mode=cancel`.
    pub async fn cancel(&self, job_id: &str) -> Result<()> {
        let resp = self
            .http
            .patch(format!("{}/jobs/{job_id}?mode=cancel", self.base))
            .send()
            .await
            .with_context(|| format!("cannot reach the JobManager at {}", self.base))?;
        self.parse("cancel", resp).await.map(|_| ())
    }
}

impl RestClient {
    /// `POST /jobs/<id>/savepoints` (or `/stop` when `stop`); returns the trigger id.
    pub async fn trigger_savepoint(&self, job_id: &str, target: Option<&str>, stop: bool) -> Result<String> {
        let (path, body) = if stop {
            (format!("/jobs/{job_id}/stop"), json!({ "targetDirectory": target, "drain": false }))
        } else {
            (format!("/jobs/{job_id}/savepoints"), json!({ "target-directory": target, "cancel-job": false }))
        };
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .with_context(|| format!("cannot reach the JobManager at {}", self.base))?;
        let body = self.parse("savepoint trigger", resp).await?;
        body["request-id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("savepoint trigger: no request id in {body}"))
    }

    /// Polls `GET /jobs/<id>/savepoints/<trigger>` until the savepoint is
    /// done; returns its directory.
    ///
    /// Errors: the savepoint failed (with the JobManager's reason) or `timeout` passed.
    pub async fn wait_savepoint(&self, job_id: &str, trigger_id: &str, timeout: Duration) -> Result<String> {
        let started = Instant::now();
        loop {
            let v = self.get(&format!("/jobs/{job_id}/savepoints/{trigger_id}")).await?;
            if v["status"]["id"] == "COMPLETED" {
                if let Some(loc) = v["operation"]["location"].as_str() {
                    return Ok(loc.to_string());
                }
                bail!(
                    "savepoint failed: {}",
                    v["operation"]["failure-cause"]["stack-trace"].as_str().unwrap_or("unknown cause")
                );
            }
            if started.elapsed() > timeout {
                bail!("savepoint not done within {:.0} s", timeout.as_secs_f64());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// What a followed job ended as.
pub struct Outcome {
    /// Terminal state name (`FINISHED`, `FAILED`, `CANCELED`).
    pub state: String,
    /// Root failure text for a failed job.
    pub failure: Option<String>,
}

/// Records read by the job's sources (vertices without inputs), from `GET /jobs/<id>`.
pub(crate) fn source_records(details: &Value) -> u64 {
    let vertices = details["vertices"].as_array().cloned().unwrap_or_default();
    let consumers: Vec<String> = details["plan"]["nodes"]
        .as_array()
        .map(|n| {
            n.iter()
                .filter(|n| n["inputs"].as_array().is_some_and(|i| !i.is_empty()))
                .map(|n| n["id"].to_string())
                .collect()
        })
        .unwrap_or_default();
    vertices
        .iter()
        .filter(|v| !consumers.contains(&v["id"].to_string()))
        .map(|v| v["metrics"]["read-records"].as_u64().unwrap_or(0))
        .sum()
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
        let details = client.get(&format!("/jobs/{job_id}")).await?;
        let state = details["state"].as_str().unwrap_or("UNKNOWN").to_string();
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
            let duration = details["duration"].as_u64().unwrap_or(0) as f64 / 1000.0;
            let failure = if state == "FAILED" {
                client
                    .get(&format!("/jobs/{job_id}/exceptions"))
                    .await
                    .ok()
                    .and_then(|e| e["root-exception"].as_str().map(str::to_string))
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
