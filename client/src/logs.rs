//! `rfy logs TARGET [--jobmanager | --taskmanager ID | --container ID] [-f]`.
//!
//! - A YARN application id: [`crate::yarn_logs`] reads the container's log
//!   through the NodeManager's web services while the application runs, and
//!   from HDFS's aggregated logs once it finished; no Hadoop CLI or JVM.
//! - A JobManager at `HOST:PORT` (the local cluster): through its REST API
//!   (Flink's `/jobmanager/log` and `/taskmanagers/:id/log` routes).
//!
//! `-f` follows a growing log (by byte offset) until the application or
//! JobManager ends.

use std::io::Write;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

use crate::cli::LogsArgs;

/// How often `-f` asks for new bytes.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// The REST path of the log `args` asks for. A container id ending in
/// `_000001` is an application attempt's first container, the ApplicationMaster's.
fn log_path(args: &LogsArgs) -> String {
    let tm = args.taskmanager.as_deref().or(args.container.as_deref().filter(|c| !c.ends_with("_000001")));
    match tm {
        Some(id) => format!("/taskmanagers/{id}/log"),
        None => "/jobmanager/log".to_string(),
    }
}

/// Runs `rfy logs` (`conf`: rfy's configuration, for the Kerberos login keys); returns once the log is printed (with `-f`, once the
/// YARN application ends, or never for a `HOST:PORT` JobManager unless it goes away).
///
/// Errors: the target cannot be resolved or reached; the log is not served
/// (the JobManager's `{"errors"}` text, e.g. an unknown TaskManager); see
/// [`crate::yarn_logs::run`] for an application id.
pub async fn run(conf: &rfy_conf::Configuration, args: &LogsArgs) -> Result<bool> {
    let base = if args.target.starts_with("application_") {
        return crate::yarn_logs::run(conf, &args.target, args).await;
    } else if args.target.contains(':') && !args.target.contains('/') {
        format!("http://{}", args.target)
    } else {
        bail!(
            "'{}' is neither a YARN application id (application_<clusterTimestamp>_<n>) nor a JobManager HOST:PORT",
            args.target
        );
    };
    let path = log_path(args);
    let http = rfy_hadoop::tls::http_client_builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .build()
        .context("building the HTTP client")?;
    let mut offset: Option<u64> = None;
    let mut stdout = std::io::stdout().lock();
    loop {
        let url = match offset {
            Some(o) => format!("{base}{path}?offset={o}"),
            None => format!("{base}{path}"),
        };
        let resp = http.get(&url).send().await.with_context(|| format!("cannot reach the JobManager at {base}"))?;
        let status = resp.status();
        let size = resp.headers().get("x-log-size").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let body = resp.bytes().await.with_context(|| format!("reading {url}"))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            // Flink's error body; else (a proxy's page, say) the raw text.
            let msg = match serde_json::from_slice::<rfy_rest_api::ErrorResponseBody>(&body) {
                Ok(e) => e.errors.join("; "),
                Err(_) => text.into_owned(),
            };
            bail!("{url}: {status}: {msg}");
        }
        stdout.write_all(&body).context("writing to stdout")?;
        stdout.flush().ok();
        if !args.follow {
            return Ok(true);
        }
        let size = size.ok_or_else(|| anyhow!("{url}: the JobManager sent no X-Log-Size header, cannot follow"))?;
        // A rotated or truncated file starts over.
        offset = Some(match offset {
            Some(o) if size < o => 0,
            Some(o) => o + body.len() as u64,
            None => size,
        });
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
}
