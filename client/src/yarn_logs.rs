//! `rfy logs APPID`: a YARN application's logs without Hadoop's CLI.
//!
//! - Running: the container's node from the ResourceManager (the last
//!   attempt's containers), the file from that NodeManager's web services;
//!   `-f` polls the file's length and reads what was appended, until the
//!   application ends.
//! - Finished: the aggregated logs in HDFS (`yarn.nodemanager.remote-app-log-dir`),
//!   read with rfy's HDFS client and TFile reader (`rfy_hadoop::yarn::aggregated_log`).
//!
//! Which container: `--jobmanager` (the default) is the last attempt's
//! ApplicationMaster container; `--taskmanager ID` and `--container ID` name
//! a container (on YARN a TaskManager's id is its container id). The file is
//! the process's log (`jobmanager.log` or `taskmanager.log`).

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use rfy_hadoop::config::{current_user, HadoopConfig};
use rfy_hadoop::hdfs::Hdfs;
use rfy_hadoop::yarn::aggregated_log::{self, DEFAULT_REMOTE_APP_LOG_DIR, DEFAULT_REMOTE_APP_LOG_DIR_SUFFIX};
use rfy_hadoop::yarn::container_logs::{NmLogClient, RunningContainer};
use rfy_hadoop::yarn::rest::{AppReport, RmRestClient};

use crate::cli::LogsArgs;

/// How often `-f` asks for new bytes.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);
/// How long `-f` reads on after the application ended, at most, while its
/// container's process may still write (its last lines come after it
/// unregistered from the ResourceManager).
const FINAL_WAIT: Duration = Duration::from_secs(30);
/// How often `-f` reads once the application ended.
const FINAL_POLL: Duration = Duration::from_millis(200);
/// The ApplicationMaster's (JobManager's) log file in its container.
const JM_LOG: &str = "jobmanager.log";
/// A TaskManager's log file in its container.
const TM_LOG: &str = "taskmanager.log";

/// The container id `args` names, if any (`None`: the JobManager's).
fn named_container(args: &LogsArgs) -> Option<&str> {
    args.taskmanager.as_deref().or(args.container.as_deref())
}

/// The log file of `container`, given the ApplicationMaster's container ids.
fn log_file(container: &str, am_containers: &[String]) -> &'static str {
    if am_containers.iter().any(|c| c == container) {
        JM_LOG
    } else {
        TM_LOG
    }
}

/// Prints application `app`'s log that `args` asks for (`conf`: rfy's
/// configuration, for the Kerberos login keys); with `-f` and a
/// running application, follows it until the application ends.
///
/// Errors: no Hadoop configuration; the ResourceManager unreachable or not
/// knowing `app`; an unknown container; a NodeManager or HDFS failure; a
/// finished application whose logs are not aggregated (yet), naming the
/// status and the directories tried.
pub async fn run(conf: &rfy_conf::Configuration, app: &str, args: &LogsArgs) -> Result<bool> {
    let hconf = HadoopConfig::from_env().map_err(|e| {
        anyhow!("{e}: a YARN application's logs are found through the ResourceManager named by the Hadoop configuration (HADOOP_CONF_DIR)")
    })?;
    // Kerberized cluster: log in first, so that HDFS is read as the
    // principal (never as a proxy user of the OS user).
    crate::kerberos::login(conf, &hconf).await?;
    let rm = RmRestClient::from_config(&hconf, &current_user())?;
    let report = rm.app_report(app).await.with_context(|| {
        format!("cannot get the report of application {app} from the ResourceManager at {}", rm.base_url())
    })?;
    if matches!(report.state.as_str(), "NEW" | "NEW_SAVING" | "SUBMITTED" | "ACCEPTED") {
        bail!("application {app} is {}: it has no running container and no logs yet", report.state);
    }
    let attempts = rm.app_attempts(app).await.with_context(|| format!("cannot list the attempts of {app}"))?;
    let am_containers: Vec<String> = attempts.iter().map(|(_, c)| c.id.clone()).collect();
    let (attempt, am) = attempts.last().expect("app_attempts returns at least one");
    let wanted = named_container(args).unwrap_or(&am.id).to_string();
    let file = log_file(&wanted, &am_containers);
    if !report.is_final() {
        let containers = rm.attempt_containers(app, attempt).await?;
        let Some(c) = containers.iter().find(|c| c.id == wanted) else {
            let ids: Vec<&str> = containers.iter().map(|c| c.id.as_str()).collect();
            bail!("container {wanted} is not a running container of application {app} (running: {})", ids.join(", "));
        };
        return running(&rm, app, c, file, args.follow).await;
    }
    finished(&hconf, &report, &wanted, file).await
}

/// Prints (and with `follow`, follows) `file` of running container `c`.
async fn running(rm: &RmRestClient, app: &str, c: &RunningContainer, file: &str, follow: bool) -> Result<bool> {
    let nm = match rm.kerberos() {
        Some(k) => NmLogClient::new(rm.user())?.with_kerberos(k.clone()),
        None => NmLogClient::new(rm.user())?,
    };
    let (bytes, mut offset) = nm
        .read(c, file, None)
        .await
        .with_context(|| format!("cannot read {file} of container {} on NodeManager {}", c.id, c.node_http_address))?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&bytes).context("writing to stdout")?;
    stdout.flush().ok();
    if !follow {
        return Ok(true);
    }
    let report = loop {
        tokio::time::sleep(FOLLOW_EVERY).await;
        let report = rm.app_report(app).await?;
        if report.is_final() {
            break report;
        }
        let (bytes, next) = follow_step(&nm, c, file, offset).await?;
        stdout.write_all(&bytes).context("writing to stdout")?;
        stdout.flush().ok();
        offset = next;
    };
    // The RM reports an application FINISHED as soon as its ApplicationMaster
    // unregisters (`RMAppImpl` maps its FINISHING state to FINISHED), while
    // the process may still write its last lines: read on until the
    // NodeManager says the container exited (or forgot it), for at most
    // FINAL_WAIT.
    let deadline = Instant::now() + FINAL_WAIT;
    loop {
        // The state before the read: once exited, this read is the last one.
        let writing = matches!(nm.container_state(c).await, Ok(Some(s)) if container_may_write(&s));
        match follow_step(&nm, c, file, offset).await {
            Ok((bytes, next)) => {
                stdout.write_all(&bytes).context("writing to stdout")?;
                stdout.flush().ok();
                offset = next;
            }
            // The NodeManager forgets a finished container's files.
            Err(_) => break,
        }
        if !writing || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(FINAL_POLL).await;
    }
    eprintln!("application {app} ended: {} ({})", report.state, report.final_status);
    Ok(true)
}

/// Whether a container in NodeManager state `state` (`ContainerState` of the
/// NodeManager, not the RM's) may still have a process writing its logs.
fn container_may_write(state: &str) -> bool {
    matches!(
        state,
        "NEW"
            | "LOCALIZING"
            | "SCHEDULED"
            | "RUNNING"
            | "RELAUNCHING"
            | "REINITIALIZING"
            | "REINITIALIZING_AWAITING_KILL"
            | "KILLING"
            | "PAUSING"
            | "PAUSED"
            | "RESUMING"
    )
}

/// One `-f` poll: the bytes of `file` from `offset` on and the new offset. A
/// file shorter than `offset` (rotated, truncated) is read from its start.
async fn follow_step(nm: &NmLogClient, c: &RunningContainer, file: &str, offset: u64) -> Result<(Vec<u8>, u64)> {
    let size = nm
        .list(c)
        .await?
        .into_iter()
        .find(|f| f.name == file)
        .map(|f| f.size)
        .ok_or_else(|| anyhow!("container {} no longer lists {file}", c.id))?;
    let from = if size < offset { 0 } else { offset };
    if size == from {
        return Ok((Vec::new(), from));
    }
    // The file may grow between the listing and the read: the NM's suffix is
    // relative to the length it saw, so ask again for a longer suffix if the
    // first one starts past `from`.
    let mut want = size - from;
    for _ in 0..3 {
        let (bytes, len) = nm.read(c, file, Some(-(want as i64))).await?;
        if len < from {
            // Truncated since the listing: the next poll reads it from its start.
            return Ok((Vec::new(), 0));
        }
        let start = len - bytes.len() as u64;
        if start <= from {
            return Ok((bytes[(from - start) as usize..].to_vec(), len));
        }
        want = len - from;
    }
    bail!("{file} of container {} grows faster than it can be read", c.id)
}

/// The configured aggregated-log root and the TFile controller's directory suffix.
fn remote_log_layout(hconf: &HadoopConfig) -> Result<(String, String)> {
    let formats = hconf.get("yarn.log-aggregation.file-formats").unwrap_or_else(|| "TFile".into());
    let first = formats.split(',').map(str::trim).next().unwrap_or("TFile");
    if first != "TFile" {
        bail!("yarn.log-aggregation.file-formats is {formats:?}: the logs are written in the {first} format; rfy reads only the TFile format");
    }
    let root = hconf.get("yarn.nodemanager.remote-app-log-dir").unwrap_or_else(|| DEFAULT_REMOTE_APP_LOG_DIR.into());
    let suffix = hconf.get("yarn.log-aggregation.TFile.remote-app-log-dir-suffix").unwrap_or_else(|| {
        let base = hconf
            .get("yarn.nodemanager.remote-app-log-dir-suffix")
            .unwrap_or_else(|| DEFAULT_REMOTE_APP_LOG_DIR_SUFFIX.into());
        format!("{base}-tfile")
    });
    Ok((root, suffix))
}

/// Prints `file` of `container` from finished application `report`'s aggregated logs.
async fn finished(hconf: &HadoopConfig, report: &AppReport, container: &str, file: &str) -> Result<bool> {
    let app = &report.id;
    let status = report.log_aggregation_status.as_deref().unwrap_or("?");
    let (root, suffix) = remote_log_layout(hconf)?;
    let owner = if report.user.is_empty() { current_user() } else { report.user.clone() };
    let fs = Hdfs::from_config(hconf, Some(&current_user()))?;
    let dirs = aggregated_log::app_log_dirs(&root, &owner, &suffix, app)
        .ok_or_else(|| anyhow!("'{app}' is not an application id (application_<clusterTimestamp>_<n>)"))?;
    let mut dir = None;
    for d in &dirs {
        if fs.exists(d).await? {
            dir = Some(d);
            break;
        }
    }
    let Some(dir) = dir else {
        let ifile =
            dirs[0].replacen(&format!("bucket-{suffix}"), &format!("bucket-{}", suffix.replace("-tfile", "-ifile")), 1);
        if suffix.ends_with("-tfile") && fs.exists(&ifile).await? {
            return Err(aggregated_log::AggregatedLogError::IFile { path: ifile }.into());
        }
        bail!(
            "application {app} is {} and its aggregated logs are not in HDFS (log aggregation {status}; looked in {})",
            report.state,
            dirs.join(", ")
        );
    };
    let mut found = Vec::new();
    let mut containers = std::collections::BTreeSet::new();
    for entry in fs.list(dir).await? {
        let name = entry.path.rsplit('/').next().unwrap_or(&entry.path);
        if entry.is_dir || !aggregated_log::is_node_file(name) {
            continue;
        }
        let bytes = fs.read(&entry.path).await?;
        let logs = aggregated_log::parse(&entry.path, &bytes)?;
        for f in logs.files {
            containers.insert(f.container.clone());
            if f.container == container && f.name == file {
                found.push(f.contents);
            }
        }
    }
    if found.is_empty() {
        let ids: Vec<&str> = containers.iter().map(String::as_str).collect();
        bail!(
            "the aggregated logs of {app} in {dir} hold no {file} of container {container} (log aggregation {status}; containers: {})",
            ids.join(", ")
        );
    }
    let mut stdout = std::io::stdout().lock();
    for bytes in found {
        stdout.write_all(&bytes).context("writing to stdout")?;
    }
    stdout.flush().context("writing to stdout")?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn am_containers_hold_the_jobmanager_log() {
        let am = vec!["container_1_0001_01_000001".to_string(), "container_1_0001_02_000001".to_string()];
        assert_eq!(log_file("container_1_0001_02_000001", &am), JM_LOG);
        assert_eq!(log_file("container_1_0001_01_000002", &am), TM_LOG);
    }

    #[test]
    fn only_exited_containers_are_done_writing() {
        assert!(container_may_write("RUNNING") && container_may_write("KILLING"));
        for done in ["EXITED_WITH_SUCCESS", "EXITED_WITH_FAILURE", "DONE", "CONTAINER_CLEANEDUP_AFTER_KILL"] {
            assert!(!container_may_write(done), "{done}");
        }
    }
}
