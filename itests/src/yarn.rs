//! Helpers of the YARN checkpoint tests (`tests/yarn_*.rs`, issue 4):
//! word count jobs submitted with `rfy run -m yarn-application`, driven
//! through the RM's web proxy, TaskManager containers killed with YARN's own
//! container signal (what `yarn container -signal` sends, through the RM's
//! REST API), and committed output read back from HDFS.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use rfy_client::follow::RestClient;

use crate::{hadoop_cli, Cluster, RfyRun};

/// Small containers: the single NodeManager runs several tests' applications.
pub const SMALL: [&str; 6] = [
    "-D",
    "jobmanager.memory.process.size=512m",
    "-D",
    "taskmanager.memory.process.size=512m",
    "-D",
    "taskmanager.numberOfTaskSlots=1",
];

/// A job running in its own YARN application, followed by an attached `rfy run`.
pub struct YarnJob {
    /// The attached client (taken by [`YarnJob::finish`]).
    run: Option<RfyRun>,
    /// The YARN application id.
    pub app: String,
    /// The job id.
    pub job: String,
    /// REST client for the JobManager through the RM proxy (`http://<rm>/proxy/<app>`).
    pub rest: RestClient,
    /// The Hadoop configuration directory of the cluster, if not `HADOOP_CONF_DIR`.
    conf_dir: Option<String>,
}

impl YarnJob {
    /// Waits for the attached client to end (see [`RfyRun::finish`]).
    pub fn finish(&mut self, limit: Duration) -> (std::process::ExitStatus, String, Duration) {
        self.run.take().expect("finish called once").finish(limit)
    }
}

impl Drop for YarnJob {
    /// A failing test kills its application (`yarn application -kill`) so
    /// that it does not hold the NodeManager's memory for the next tests.
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut kill = std::process::Command::new("yarn");
            if let Some(d) = &self.conf_dir {
                kill.env("HADOOP_CONF_DIR", d);
            }
            let _ = kill.args(["application", "-kill", &self.app]).output();
        }
    }
}

/// Starts `rfy run -m yarn-application -p <p> <conf...> wordcount <job_args...>`
/// (small containers, `-D` pairs from `conf`) and waits until the job runs
/// (at most 180 s).
pub fn start_wordcount(
    c: &Cluster,
    p: u32,
    conf: &[(&str, String)],
    from_savepoint: Option<&str>,
    job_args: &[&str],
) -> YarnJob {
    start_job(c, p, conf, from_savepoint, "wordcount", job_args)
}

/// [`start_wordcount`] for the built-in job `job`.
pub fn start_job(
    c: &Cluster,
    p: u32,
    conf: &[(&str, String)],
    from_savepoint: Option<&str>,
    job: &str,
    job_args: &[&str],
) -> YarnJob {
    let p = p.to_string();
    let dees: Vec<String> = conf.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut a: Vec<&str> = vec!["run", "-m", "yarn-application", "-p", &p];
    if let Some(s) = from_savepoint {
        a.extend(["-s", s]);
    }
    a.extend_from_slice(&SMALL);
    for d in &dees {
        a.extend(["-D", d.as_str()]);
    }
    a.push(job);
    a.extend_from_slice(job_args);
    let env: Vec<(&str, &str)> = c.conf_dir.iter().map(|d| ("HADOOP_CONF_DIR", d.as_str())).collect();
    let mut run = RfyRun::start(&a, &env);
    run.wait_for_job_running(Duration::from_secs(180));
    let app = run.application_id().expect("application id printed");
    let out = run.output();
    let job = out
        .lines()
        .find_map(|l| {
            l.strip_prefix("Job ")
                .filter(|r| r.contains(" submitted in application "))
                .and_then(|r| r.split_whitespace().next())
        })
        .expect("job id printed")
        .to_string();
    let rest = RestClient::new(format!("{}/proxy/{app}", c.rm.base_url())).expect("REST client");
    YarnJob { run: Some(run), app, job, rest, conf_dir: c.conf_dir.clone() }
}

/// The TaskManager container ids the JobManager knows now (`GET /taskmanagers`).
pub async fn task_manager_containers(rest: &RestClient) -> Result<Vec<String>> {
    let v = rest.get("/taskmanagers").await?;
    Ok(v["taskmanagers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|t| t["id"].as_str().map(str::to_string))
        .collect())
}

/// Kills a container as `yarn container -signal <id> FORCEFUL_SHUTDOWN`
/// does, through the ResourceManager's REST API (`POST /ws/v1/cluster/
/// containers/<id>/signal/FORCEFUL_SHUTDOWN`, `RMWebServices
/// .signalToContainer`): the same signal without the CLI's JVM, whose
/// start-up took 10-15 s per kill on a loaded machine. Callable from sync and
/// async code (the request runs on a thread of its own).
///
/// Errors: `HADOOP_CONF_DIR` unreadable, the RM unreachable, or its refusal.
pub fn kill_container(id: &str) -> Result<()> {
    let conf = crate::HadoopConfig::from_env().map_err(|e| anyhow!("HADOOP_CONF_DIR: {e}"))?;
    let url = format!(
        "{}/ws/v1/cluster/containers/{id}/signal/FORCEFUL_SHUTDOWN?user.name={}",
        conf.rm_webapp_url().map_err(|e| anyhow!("{e}"))?,
        crate::current_user()
    );
    let request = url.clone();
    let answer = std::thread::spawn(move || -> Result<(u16, String)> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        rt.block_on(async {
            let r = crate::http().post(&request).timeout(Duration::from_secs(30)).send().await?;
            let status = r.status().as_u16();
            Ok((status, r.text().await.unwrap_or_default()))
        })
    })
    .join()
    .map_err(|_| anyhow!("the thread signaling {id} panicked"))??;
    if answer.0 >= 300 {
        bail!("POST {url} answered HTTP {}: {}", answer.0, answer.1);
    }
    Ok(())
}

/// Like [`crate::local::fully_running`], but a REST error (the proxy or the
/// AM briefly busy) counts as "not yet".
pub async fn fully_running_or_not(rest: &RestClient, job: &str) -> Result<bool> {
    Ok(crate::local::fully_running(rest, job).await.unwrap_or(false))
}

/// Entries in the job's exception history (`GET /jobs/<id>/exceptions`).
pub async fn failures(rest: &RestClient, job: &str) -> Result<usize> {
    let v = rest.get(&format!("/jobs/{job}/exceptions")).await?;
    Ok(v["exceptionHistory"]["entries"].as_array().map(Vec::len).unwrap_or(0))
}

/// Kills the TaskManager container `victim` and waits until the job is
/// fully RUNNING again on `tms` TaskManagers that do not include the victim
/// (at most `limit`). The failure must first show in the exception history
/// (so a moment between the loss and the restart, when the job still says
/// RUNNING, does not count as recovered). Returns the recovery time: from
/// the answer to the kill request (the signal is sent by then) to every
/// subtask RUNNING.
pub async fn kill_and_wait_recovery(
    rest: &RestClient,
    job: &str,
    victim: &str,
    tms: usize,
    limit: Duration,
) -> Result<Duration> {
    let failures_before = failures(rest, job).await?;
    let blocking_victim = victim.to_string();
    tokio::task::spawn_blocking(move || kill_container(&blocking_victim)).await??;
    let killed_at = Instant::now();
    let deadline = killed_at + limit;
    loop {
        if failures(rest, job).await.unwrap_or(0) > failures_before {
            break;
        }
        if Instant::now() > deadline {
            bail!("no failure in the exception history within {limit:?} after {victim} was killed");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    loop {
        let now = task_manager_containers(rest).await.unwrap_or_default();
        if now.len() == tms && !now.iter().any(|t| t == victim) && fully_running_or_not(rest, job).await? {
            return Ok(killed_at.elapsed());
        }
        if Instant::now() > deadline {
            let ex = rest.get(&format!("/jobs/{job}/exceptions")).await.map(|v| v.to_string()).unwrap_or_default();
            bail!("the job did not run again within {limit:?} after {victim} was killed (TaskManagers {now:?}); exceptions: {ex}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Number of completed checkpoints, 0 while the proxy does not answer.
pub async fn completed(rest: &RestClient, job: &str) -> u64 {
    crate::local::completed_checkpoints(rest, job).await.unwrap_or(0)
}

/// Waits until the job has completed more than `n` checkpoints.
pub async fn wait_completed_over(rest: &RestClient, job: &str, n: u64, limit: Duration) -> Result<u64> {
    let deadline = Instant::now() + limit;
    loop {
        let now = completed(rest, job).await;
        if now > n {
            return Ok(now);
        }
        if Instant::now() > deadline {
            return Err(anyhow!("no checkpoint completed beyond {n} within {limit:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The committed output of an HDFS directory (`path` without scheme): per
/// word the counts of its `word<TAB>count` lines in `part-*` files, and the
/// names of every other file (uncommitted leftovers).
pub async fn hdfs_committed_updates(c: &Cluster, path: &str) -> Result<(BTreeMap<String, Vec<u64>>, Vec<String>)> {
    let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut others = Vec::new();
    if !c.fs.exists(path).await? {
        return Ok((out, others));
    }
    for e in c.fs.list(path).await? {
        let name = e.path.rsplit('/').next().unwrap_or_default().to_string();
        if !name.starts_with("part-") {
            others.push(name);
            continue;
        }
        let data = String::from_utf8(c.fs.read(&e.path).await?)?;
        for line in data.lines() {
            let (w, n) = line.split_once('\t').ok_or_else(|| anyhow!("bad line {line:?} in {name}"))?;
            out.entry(w.to_string())
                .or_default()
                .push(n.parse().map_err(|_| anyhow!("bad count in {line:?} of {name}"))?);
        }
    }
    Ok((out, others))
}

/// Uploads `local` to HDFS `path`; returns its `hdfs://` URI.
pub async fn upload(c: &Cluster, local: &Path, path: &str) -> String {
    c.fs.upload(local, path, 0o644, true).await.expect("upload input");
    format!("hdfs://{path}")
}

/// The median of `xs` (sorted copy; the upper one of an even count).
pub fn median(xs: &[Duration]) -> Duration {
    let mut v = xs.to_vec();
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// The path part of `hdfs://host:port/path` (a plain path as it is).
pub fn hdfs_path(uri: &str) -> String {
    match uri.strip_prefix("hdfs://") {
        Some(rest) => rest.find('/').map(|i| rest[i..].to_string()).unwrap_or_else(|| "/".into()),
        None => uri.to_string(),
    }
}

/// The local run's word count of `data/kjv.txt` (`rfy run -p 1 wordcount`
/// on the embedded cluster): every `word<TAB>count` line, sorted.
pub fn local_wordcount_lines() -> Vec<String> {
    let out = tempfile::tempdir().expect("temp dir");
    let dir = out.path().join("out");
    let kjv = crate::repo_root().join("data/kjv.txt");
    let (st, text, _) = crate::rfy(
        &["run", "-p", "1", "wordcount", "--input", kjv.to_str().unwrap(), "--output", dir.to_str().unwrap()],
        &[],
        Duration::from_secs(180),
    );
    assert!(st.success(), "local run failed:\n{text}");
    let mut lines = Vec::new();
    for e in std::fs::read_dir(&dir).expect("local output") {
        let p = e.expect("dir entry").path();
        if p.file_name().unwrap().to_string_lossy().starts_with("part-") {
            lines.extend(std::fs::read_to_string(&p).expect("part file").lines().map(str::to_string));
        }
    }
    lines.sort();
    assert!(lines.len() > 10_000, "local run wrote {} lines", lines.len());
    lines
}

/// Kills a YARN application when a test panics (so that it does not hold the
/// NodeManager's memory for the next tests).
pub struct KillOnPanic(pub String);

impl Drop for KillOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = hadoop_cli("yarn", &["application", "-kill", &self.0]);
        }
    }
}

/// The job id an `rfy run -m yarn-session` printed (`Job <id> submitted to session ...`).
pub fn session_job_id(output: &str) -> Option<String> {
    output.lines().find_map(|l| {
        l.strip_prefix("Job ")
            .filter(|r| r.contains(" submitted to session "))
            .and_then(|r| r.split_whitespace().next())
            .map(str::to_string)
    })
}

/// The TaskManagers running `job`'s subtasks, sorted and deduplicated, from
/// Flink's vertex details (`GET /jobs/:id/vertices/:vid`, `subtasks[].taskmanager-id`).
///
/// Panics (a test helper): the JobManager does not answer either route.
pub async fn job_task_managers(rest: &RestClient, job: &str) -> Vec<String> {
    let d = rest.get(&format!("/jobs/{job}")).await.expect("job details");
    let mut tms: Vec<String> = Vec::new();
    for v in d["vertices"].as_array().into_iter().flatten() {
        let vid = v["id"].as_str().expect("vertex id");
        let details = rest.get(&format!("/jobs/{job}/vertices/{vid}")).await.expect("vertex details");
        tms.extend(
            details["subtasks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["taskmanager-id"].as_str().map(str::to_string)),
        );
    }
    tms.sort();
    tms.dedup();
    tms
}

/// The pacing of a kill test in seconds: `RFY_ITEST_SECONDS`, else `default`.
pub fn itest_seconds(default: f64) -> f64 {
    std::env::var("RFY_ITEST_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// The configuration the exactly-once kill tests run a job with: a
/// checkpoint every 1 s into `<dir>/checkpoints` on the cluster's HDFS (2
/// retained) and a fixed-delay restart strategy (20 attempts, 200 ms apart),
/// plus `extra`.
pub fn checkpointed_restart_conf(
    c: &Cluster,
    dir: &str,
    extra: &[(&'static str, &str)],
) -> Vec<(&'static str, String)> {
    let ckpt = format!("{}{dir}/checkpoints", c.conf.default_fs().trim_end_matches('/'));
    let mut conf = vec![
        ("execution.checkpointing.interval", "1 s".to_string()),
        ("state.checkpoints.dir", ckpt),
        ("state.checkpoints.num-retained", "2".into()),
        ("restart-strategy.type", "fixed-delay".into()),
        ("restart-strategy.fixed-delay.attempts", "20".into()),
        ("restart-strategy.fixed-delay.delay", "200 ms".into()),
    ];
    conf.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    conf
}
