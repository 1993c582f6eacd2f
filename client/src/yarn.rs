//! `rfy run -m yarn-application`: uploads the bundle to HDFS, submits the
//! ApplicationMaster over the ResourceManager's REST API, waits for it to
//! run, and (attached) follows the job through the RM's web proxy to its end.
//!
//! Steps, as Flink's `YarnClusterDescriptor#deployApplicationCluster`:
//! 1. `POST /ws/v1/cluster/apps/new-application` (an unreachable RM fails
//!    within 10 s, naming its address);
//! 2. put `rfy-am`, `rfy-worker` (found next to this executable, or the job
//!    executable as both) and the Hadoop XMLs into the content-addressed
//!    bundle cache `/user/<user>/.rfy/cache/<sha256>` (uploaded only when
//!    those bytes are not cached yet, see [`crate::cache`]), and write the rfy
//!    configuration, the JobGraph and the manifest to
//!    `/user/<user>/.rfy/<appId>/` (mode 0700), reading back each file's
//!    exact size and modification time for the local resources;
//! 3. `POST /ws/v1/cluster/apps` with the AM's size from
//!    `jobmanager.memory.process.size` and `yarn.appmaster.vcores`, type
//!    `yarn.application.type`, queue, name and attempts;
//! 4. poll the report until RUNNING and print the application id and the
//!    tracking URL (`http://<rm>/proxy/<appId>/`);
//! 5. find the job at `<tracking URL>/jobs/overview`; detached: return once
//!    it runs; attached: follow it, then wait for the application's final
//!    status. The exit code is success only for a FINISHED job in a
//!    SUCCEEDED application.
//!
//! The staging directory is removed by the AM when it ends; the attached
//! client removes it too once the application is final (covers a killed AM).

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use rfy_am::bundle::{self, ClusterMode, Manifest};
use rfy_conf::{options, Configuration};
use rfy_hadoop::config::{current_user, HadoopConfig};
use rfy_hadoop::hdfs::Hdfs;
use rfy_hadoop::token::Credentials;
use rfy_hadoop::yarn::rest::{AppReport, ApplicationSubmission, ResourceInfo, RestError, RmRestClient};
use rfy_hadoop::yarn::LocalResource;
use rfy_rpc::auth::{ClusterSecret, CLUSTER_SECRET_ALIAS};
use rfy_runtime::JobGraph;

use crate::am_attempts::application_attempts;
pub use crate::am_attempts::AmIdentity;
use crate::cache::{BundleCache, Limits};
use crate::follow::RestClient;
use rfy_rest_api::JobDetailsInfo;

/// How often the application report is polled while waiting for RUNNING.
const REPORT_POLL: Duration = Duration::from_millis(100);
/// How often the job is polled through the proxy.
const JOB_POLL: Duration = Duration::from_millis(200);
/// How long the client waits for the application to become final after the job ended.
const FINAL_WAIT: Duration = Duration::from_secs(60);
/// The longest the follow loop waits for one answer through the RM's web proxy:
/// a proxy of an RM that just became standby can hold a request for its
/// whole timeout, while the application report (through the active RM) names
/// the proxy to use now.
const PROXY_CALL_LIMIT: Duration = Duration::from_secs(5);

/// What the client saw at the end.
#[derive(Debug, Clone)]
pub struct YarnOutcome {
    /// The YARN application id.
    pub application_id: String,
    /// The job's final state (`FINISHED`, `FAILED`, `CANCELED`), if seen.
    pub job_state: Option<String>,
    /// YARN's final report, if the application ended while the client watched.
    pub report: Option<AppReport>,
    /// True when the run counts as a success.
    pub success: bool,
}

use crate::bundle_upload::upload_bundle;
pub use crate::bundle_upload::{ship_current_executable, ships_current_executable};
use crate::progress::delayed_bar;
pub use crate::staging::staging_root;

/// Where the application's logs are.
pub fn logs_hint(app: &str, report: Option<&AppReport>) -> String {
    let url = report.and_then(|r| r.am_container_logs.clone()).filter(|u| !u.is_empty());
    match url {
        Some(u) => {
            format!("ApplicationMaster logs: {u} ; all logs once the application ended: yarn logs -applicationId {app}")
        }
        None => format!("logs: yarn logs -applicationId {app}"),
    }
}

/// Removes the staging directory; quiet if it is already gone.
pub async fn remove_staging(fs: &Hdfs, staging: &str) {
    match fs.delete(staging, true).await {
        Ok(true) => tracing::info!(dir = %staging, "staging directory removed"),
        Ok(false) => {}
        Err(e) => eprintln!("warning: cannot remove the staging directory {}: {e}", fs.qualify(staging)),
    }
}

/// Waits until the application is RUNNING (Ok) or final (Err with YARN's diagnostics).
async fn wait_running(rm: &RmRestClient, app: &str, bar_delay: Duration) -> Result<AppReport> {
    let mut last_state = String::new();
    let bar = delayed_bar(None, "{spinner} waiting for YARN: {msg} ({elapsed})", bar_delay);
    loop {
        let r = rm.app_report(app).await?;
        if r.state != last_state {
            tracing::info!(app, state = %r.state, "application state");
            last_state = r.state.clone();
        }
        bar.set_message(format!("application {app} {} → RUNNING", r.state));
        if r.state == "RUNNING" && r.tracking_url.as_deref().is_some_and(|u| !u.is_empty()) {
            bar.finish_and_clear();
            return Ok(r);
        }
        if r.is_final() {
            bar.finish_and_clear();
            let what = if r.state == "FINISHED" { r.final_status.clone() } else { r.state.clone() };
            bail!(
                "application {app} {what} before it ran (state {}, final status {}): {}\n{}",
                r.state,
                r.final_status,
                condense_diagnostics(&r.diagnostics),
                logs_hint(app, Some(&r))
            );
        }
        tokio::time::sleep(REPORT_POLL).await;
    }
}

/// YARN's diagnostics without Java stack frames (`\tat ...`, `... N more`)
/// and repeated lines, on one line: a failed localization's diagnostics are
/// mostly a stack trace, and its cause (`Caused by: ...`) is further down.
pub fn condense_diagnostics(diagnostics: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    for line in diagnostics.lines().map(str::trim) {
        let frame = line.starts_with("at ") || (line.starts_with("...") && line.ends_with("more"));
        if !line.is_empty() && !frame && !kept.contains(&line) {
            kept.push(line);
        }
    }
    kept.join(" ")
}

/// Waits for the application's final report, at most `limit`.
pub async fn wait_final(rm: &RmRestClient, app: &str, limit: Duration) -> Option<AppReport> {
    let deadline = Instant::now() + limit;
    loop {
        match rm.app_report(app).await {
            Ok(r) if r.is_final() => return Some(r),
            Ok(_) => {}
            Err(e) => tracing::warn!("application report: {e}"),
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(REPORT_POLL * 2).await;
    }
}

/// A JobManager REST client for `tracking` (the RM's web proxy), with the
/// RM client's Kerberos credentials on a Kerberized cluster: the proxy sits
/// behind the RM's SPNEGO filter (`hadoop.http.authentication.type=kerberos`).
fn proxy_client(rm: &RmRestClient, tracking: String) -> Result<RestClient> {
    let client = RestClient::new(tracking)?;
    Ok(match rm.kerberos() {
        Some(k) => client.with_kerberos(k.clone()),
        None => client,
    })
}

/// Finds the (single) job of the application through the proxy; `None` if
/// the application ended first (its report is returned then).
async fn find_job(
    rm: &RmRestClient,
    app: &str,
    jm: &RestClient,
) -> Result<std::result::Result<(String, String), AppReport>> {
    let mut last_report = Instant::now();
    loop {
        match jm.jobs_overview().await {
            Ok(v) => {
                if let Some(j) = v.jobs.into_iter().next() {
                    return Ok(Ok((j.jid, j.state)));
                }
            }
            // Not up yet, or the proxy answers for the RM: asked again below.
            Err(e) => tracing::debug!("jobs overview through the proxy: {e}"),
        }
        if last_report.elapsed() > Duration::from_millis(500) {
            last_report = Instant::now();
            let r = rm.app_report(app).await?;
            if r.is_final() {
                return Ok(Err(r));
            }
        }
        tokio::time::sleep(JOB_POLL).await;
    }
}

fn epoch_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Prints when the job became RUNNING and when it ended, by the JobManager's
/// clock (`timestamps` of `GET /jobs/<id>`), relative to the client's start
/// and as epoch milliseconds (for `scripts/bench-yarn-startup`).
fn print_timeline(job_id: &str, state: &str, details: &JobDetailsInfo, t_epoch_ms: u64) {
    // Every state is listed; 0 for one the job never entered.
    let at = |s: &str| details.timestamps.get(s).copied().filter(|t| *t > 0);
    let (Some(running), Some(end)) = (at("RUNNING"), at(state)) else { return };
    let rel = |t: u64| t.saturating_sub(t_epoch_ms) as f64 / 1000.0;
    eprintln!(
        "Job {job_id} timeline: RUNNING at +{:.2} s, {state} at +{:.2} s after submission started (epoch ms: start {t_epoch_ms} RUNNING {running} {state} {end})",
        rel(running),
        rel(end)
    );
}

/// `application <id> <state> with final status <status>: <diagnostics>`.
pub fn describe_final(r: &AppReport) -> String {
    let diag = r.diagnostics.trim();
    format!(
        "application {} {} with final status {}{}{}",
        r.id,
        r.state,
        r.final_status,
        if diag.is_empty() { "" } else { ": " },
        diag
    )
}

/// Follows job `job_id` through the proxy until it ends or the application
/// becomes final; returns the job's last state and the application's final report if seen.
async fn follow_job(
    rm: &RmRestClient,
    app: &str,
    jm: &RestClient,
    mut am: AmIdentity,
    job_id: &str,
    t0: Instant,
    t_epoch_ms: u64,
) -> Result<(Option<String>, Option<AppReport>)> {
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
    let started = Instant::now();
    // Due at once: the first bar already counts the containers granted.
    let mut last_report = Instant::now().checked_sub(Duration::from_secs(2)).unwrap_or_else(Instant::now);
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    let mut killing = false;
    let mut announced_running = false;
    let mut last_state: Option<String> = None;
    // The client for the current tracking URL, if it moved (it is the RM's
    // proxy URL, which stays the same across attempts in practice).
    let mut moved: Option<RestClient> = None;
    let mut failover_at: Option<Instant> = None;
    // YARN containers of the application (the AM's included), from its report.
    let mut containers: i64 = 0;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(JOB_POLL) => {}
            _ = &mut ctrl_c, if !killing => {
                killing = true;
                bar.suspend(|| eprintln!("Ctrl-C: killing application {app}"));
                rm.kill(app).await?;
            }
        }
        let jm = moved.as_ref().unwrap_or(jm);
        let details = match tokio::time::timeout(PROXY_CALL_LIMIT, jm.job_details(job_id)).await {
            Ok(r) => r.map_err(anyhow::Error::from),
            Err(_) => Err(anyhow!("no answer within {} s", PROXY_CALL_LIMIT.as_secs())),
        };
        match details {
            Ok(details) => {
                let state = details.state.clone();
                if state == "RUNNING" && !announced_running {
                    announced_running = true;
                    bar.suspend(|| eprintln!("Job {job_id} is RUNNING ({:.1} s)", t0.elapsed().as_secs_f64()));
                }
                if let (true, Some(at)) = (state == "RUNNING", failover_at) {
                    failover_at = None;
                    bar.suspend(|| {
                        eprintln!(
                            "Job {job_id} is RUNNING again on attempt {} ({:.1} s after the failover was seen)",
                            am.attempt.map(|a| a.to_string()).unwrap_or_else(|| "?".into()),
                            at.elapsed().as_secs_f64()
                        )
                    });
                }
                let read = crate::follow::source_records(&details);
                let subtasks: u64 = details.status_counts.values().sum();
                let running = details.status_counts.get("RUNNING").copied().unwrap_or(0);
                let deployed = subtasks > 0 && running == subtasks;
                if deployed || matches!(state.as_str(), "FINISHED" | "FAILED" | "CANCELED") {
                    bar.set_message(format!(
                        "{state}  {:.1} s  sources read {read} records",
                        started.elapsed().as_secs_f64()
                    ));
                } else {
                    // Until every subtask runs: what the job waits for (TaskManager containers, their registration).
                    let registered = match jm.taskmanagers().await {
                        Ok(t) => t.taskmanagers.len().to_string(),
                        Err(e) => {
                            tracing::debug!("TaskManagers through the proxy: {e}");
                            "?".to_string()
                        }
                    };
                    bar.set_message(format!(
                        "{state}  {:.1} s  waiting for TaskManagers: containers granted {} (+ the AM's), TaskManagers registered {registered}, subtasks running {}/{subtasks}",
                        started.elapsed().as_secs_f64(),
                        (containers - 1).max(0),
                        running
                    ));
                }
                bar.tick();
                last_state = Some(state.clone());
                if matches!(state.as_str(), "FINISHED" | "FAILED" | "CANCELED") {
                    bar.finish_and_clear();
                    let duration = details.duration as f64 / 1000.0;
                    eprintln!("Job {job_id} {state} in {duration:.2} s: sources read {read} records");
                    print_timeline(job_id, &state, &details, t_epoch_ms);
                    if state == "FAILED" {
                        match jm.job_exceptions(job_id).await {
                            Ok(e) => {
                                if let Some(root) = e.root_exception {
                                    eprintln!("error: {root}");
                                }
                            }
                            Err(e) => eprintln!("error: the job FAILED; its exceptions cannot be read: {e}"),
                        }
                    }
                    return Ok((last_state, None));
                }
            }
            Err(e) => tracing::debug!("job status through the proxy: {e:#}"),
        }
        if last_report.elapsed() > Duration::from_millis(1000) {
            last_report = Instant::now();
            let r = rm.app_report(app).await?;
            if r.is_final() {
                bar.finish_and_clear();
                return Ok((last_state, Some(r)));
            }
            containers = r.running_containers;
            let now = AmIdentity::of(&r);
            if now.container.is_some() && now.container != am.container {
                // A new ApplicationMaster attempt: YARN started it after the
                // previous AM container ended; it takes the job over from its
                // latest checkpoint. Follow it at its (possibly new) address.
                bar.suspend(|| {
                    eprintln!(
                        "ApplicationMaster failover: application {app} runs attempt {} (AM container {}, was {}); REST {}; following job {job_id}",
                        now.attempt.map(|a| a.to_string()).unwrap_or_else(|| "?".into()),
                        now.container.as_deref().unwrap_or("?"),
                        am.container.as_deref().unwrap_or("?"),
                        rest_address_of(&r).unwrap_or_else(|| "not yet registered".into())
                    )
                });
                failover_at = Some(Instant::now());
                am = now;
            }
            if let Some(t) = r.tracking_url.as_deref().map(|t| t.trim_end_matches('/')).filter(|t| !t.is_empty()) {
                if t != jm.base().trim_end_matches('/') {
                    tracing::info!(tracking = %t, "tracking URL changed");
                    moved = Some(proxy_client(rm, t.to_string())?);
                }
            }
        }
    }
}

/// A cluster (AM) running on YARN, as [`deploy_cluster`] left it.
pub struct Deployed {
    /// The application id.
    pub app: String,
    /// Its staging directory in HDFS (path, no scheme).
    pub staging: String,
    /// The RM REST client.
    pub rm: RmRestClient,
    /// The HDFS client.
    pub fs: Hdfs,
    /// The application's report once RUNNING.
    pub report: AppReport,
    /// When deployment started.
    pub t0: Instant,
    /// The same, ms since the epoch.
    pub t_epoch_ms: u64,
}

/// Creates a YARN application, uploads the bundle (with `job_graph` in
/// per-job mode), submits the AM in `mode` and waits until it runs. The
/// application is named `yarn.application.name`, else `default_name`.
///
/// Errors: no Hadoop configuration, RM or HDFS unreachable, upload or
/// submission refused, the AM ended before running (the message carries
/// YARN's diagnostics and where the AM's logs are). The staging directory is
/// removed on every error.
pub async fn deploy_cluster(
    conf: &Configuration,
    mode: ClusterMode,
    default_name: &str,
    job: &str,
    args: &[String],
    job_graph: Option<&JobGraph>,
) -> Result<Deployed> {
    let hconf = HadoopConfig::from_env()
        .map_err(|e| anyhow!("{e}: YARN deployment needs the Hadoop configuration (HADOOP_CONF_DIR), e.g. eval \"$(scripts/hadoop env)\""))?;
    // Kerberized cluster: log in first; the clients below use the login user.
    crate::kerberos::login(conf, &hconf).await?;
    let user = current_user();
    let rm = RmRestClient::from_config(&hconf, &user)?;
    // HDFS first: a NameNode that is down fails the run before YARN holds an application.
    let fs = Hdfs::from_config(&hconf, Some(&user))?;
    fs.probe().await.map_err(|e| {
        let dir = hconf.dir().map(|d| d.display().to_string()).unwrap_or_else(|| "HADOOP_CONF_DIR".into());
        anyhow!("{e} (fs.defaultFS in {dir})")
    })?;
    let t0 = Instant::now();
    let t_epoch_ms = epoch_ms();
    let new_app = rm.new_application().await.map_err(|e| match &e {
        RestError::Unreachable { source, .. } => {
            let mut root: &dyn std::error::Error = source;
            while let Some(s) = root.source() {
                root = s;
            }
            anyhow!(
                "cannot reach the YARN ResourceManager at {} (yarn.resourcemanager.webapp.address in {}): {root}",
                rm.base_url(),
                hconf.dir().map(|d| d.display().to_string()).unwrap_or_else(|| "HADOOP_CONF_DIR".into())
            )
        }
        _ => anyhow::Error::new(e).context("cannot create a YARN application"),
    })?;
    let app = new_app.application_id.clone();
    let staging = format!("{}/{app}", staging_root(conf, &user));
    fs.mkdirs(&staging, 0o700).await?;
    let log_filter = std::env::var("RFY_CONTAINER_LOG").unwrap_or_else(|_| "info".into());
    let mut manifest = Manifest {
        version: bundle::MANIFEST_VERSION,
        application_id: app.clone(),
        user: user.clone(),
        staging_dir: staging.clone(),
        job: job.to_string(),
        args: args.to_vec(),
        log_filter: log_filter.clone(),
        files: vec![],
        mode,
    };
    let submitted = async {
        let attempts = application_attempts(conf, &hconf, &rm).await?;
        // The AM learns how many attempts YARN makes from its configuration
        // (Hadoop 3.4's RM no longer sets MAX_APP_ATTEMPTS in its environment).
        let mut shipped = conf.clone();
        shipped
            .set(options::YARN_APPLICATION_ATTEMPTS.key, &attempts.to_string(), rfy_conf::Source::Programmatic)
            .map_err(|e| anyhow!("{e}"))?;
        let conf = &shipped;
        let files = upload_bundle(&fs, &staging, &hconf, conf, &mut manifest, job_graph).await?;
        tracing::info!(app = %app, ms = t0.elapsed().as_millis() as u64, "bundle uploaded");
        let am_files: Vec<(String, LocalResource)> = files
            .iter()
            .filter(|f| f.name != bundle::WORKER_BINARY)
            .map(|f| (f.name.clone(), f.local_resource()))
            .collect();
        let name = conf.get_optional(&options::YARN_APPLICATION_NAME).unwrap_or_else(|| default_name.to_string());
        let queue = conf.get(&options::YARN_APPLICATION_QUEUE);
        let memory = bundle::mebibytes(conf.get(&options::JOBMANAGER_MEMORY_PROCESS_SIZE).0);
        if memory > new_app.maximum_resource_capability.memory && new_app.maximum_resource_capability.memory > 0 {
            bail!(
                "jobmanager.memory.process.size is {memory} MiB but YARN grants at most {} MiB per container",
                new_app.maximum_resource_capability.memory
            );
        }
        let sub = ApplicationSubmission::new(
            &app,
            &name,
            &conf.get(&options::YARN_APPLICATION_TYPE),
            Some(queue.as_str()),
            attempts,
            false,
            ResourceInfo { memory, vcores: conf.get(&options::YARN_APPMASTER_VCORES).max(1) as i32 },
            &am_files,
            &bundle::container_environment(&user, &log_filter),
            &[bundle::am_command()],
        );
        let mut credentials = if rm.is_kerberos() {
            // The RM renews these at submission; a token it cannot renew fails the submission.
            crate::kerberos::delegation_tokens(&rm, &hconf).await?
        } else {
            Credentials::new()
        };
        // The application's internal secret: the AM and every TaskManager read it
        // from their credentials file and refuse calls without it (rfy_rpc::auth).
        credentials.add_secret_key(CLUSTER_SECRET_ALIAS, ClusterSecret::generate().as_bytes().to_vec());
        let sub = sub.with_credentials(&credentials);
        rm.submit(&sub).await?;
        // This submission's entries were just used: the rule never evicts them.
        let cache = BundleCache::new(fs.clone(), conf, &user);
        match cache.evict(Some(Limits::from_conf(conf)), epoch_ms()).await {
            Ok(gone) if !gone.is_empty() => {
                tracing::info!(entries = gone.len(), dir = %cache.dir(), "evicted from the bundle cache")
            }
            Ok(_) => {}
            Err(e) => eprintln!("warning: bundle cache eviction: {e}"),
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    if let Err(e) = submitted {
        remove_staging(&fs, &staging).await;
        return Err(e.context(format!("submitting application {app}")));
    }
    eprintln!("Submitted application {app} to YARN at {} ({:.1} s)", rm.base_url(), t0.elapsed().as_secs_f64());

    let report = match wait_running(&rm, &app, conf.get(&options::CLIENT_PROGRESS_BAR_DELAY)).await {
        Ok(r) => r,
        Err(e) => {
            remove_staging(&fs, &staging).await;
            return Err(e);
        }
    };
    Ok(Deployed { app, staging, rm, fs, report, t0, t_epoch_ms })
}

/// Runs `graph`'s job in YARN application mode (the job's `main` runs in
/// the AM) or per-job mode (`mode` [`ClusterMode::PerJob`]: the AM runs
/// `graph` as planned here); see the module docs.
///
/// Errors: as [`deploy_cluster`].
pub async fn run_application(
    conf: &Configuration,
    graph: &JobGraph,
    job: &str,
    args: &[String],
    detached: bool,
    mode: ClusterMode,
) -> Result<YarnOutcome> {
    crate::queue_fit::check_before_deploy(conf, graph.required_slots()).await?;
    let shipped = (mode == ClusterMode::PerJob).then_some(graph);
    let d = deploy_cluster(conf, mode, &format!("rfy: {}", graph.job_name), job, args, shipped).await?;
    let Deployed { app, staging, rm, fs, report, t0, t_epoch_ms } = d;
    let tracking = report.tracking_url.clone().unwrap_or_default();
    eprintln!("Application {app} is RUNNING ({:.1} s); tracking URL: {tracking}", t0.elapsed().as_secs_f64());
    let jm = proxy_client(&rm, tracking.trim_end_matches('/').to_string())?;

    let (job_id, state) = match find_job(&rm, &app, &jm).await? {
        Ok(j) => j,
        Err(r) => {
            remove_staging(&fs, &staging).await;
            eprintln!("error: {}", describe_final(&r));
            eprintln!("{}", logs_hint(&app, Some(&r)));
            let success = r.final_status == "SUCCEEDED";
            return Ok(YarnOutcome { application_id: app, job_state: None, report: Some(r), success });
        }
    };
    eprintln!("Job {job_id} submitted in application {app} ({:.1} s); web UI: {tracking}", t0.elapsed().as_secs_f64());

    if detached {
        // Return once the job runs (or ended already).
        let mut state = state;
        let deadline = Instant::now() + Duration::from_secs(300);
        while state == "CREATED" && Instant::now() < deadline {
            tokio::time::sleep(JOB_POLL).await;
            match jm.job_details(&job_id).await {
                Ok(d) => state = d.state,
                Err(_) => {
                    if rm.app_report(&app).await.map(|r| r.is_final()).unwrap_or(false) {
                        break;
                    }
                }
            }
        }
        eprintln!(
            "Job {job_id} is {state} ({:.1} s); detached. Stop it with: yarn application -kill {app}",
            t0.elapsed().as_secs_f64()
        );
        let success = !matches!(state.as_str(), "FAILED" | "CANCELED");
        return Ok(YarnOutcome { application_id: app, job_state: Some(state), report: None, success });
    }

    let am = AmIdentity::of(&report);
    let (job_state, report) = follow_job(&rm, &app, &jm, am, &job_id, t0, t_epoch_ms).await?;
    let report = match report {
        Some(r) => Some(r),
        None => wait_final(&rm, &app, FINAL_WAIT).await,
    };
    remove_staging(&fs, &staging).await;
    let success = match &report {
        Some(r) => {
            if r.final_status == "SUCCEEDED" {
                eprintln!("YARN: {}", describe_final(r));
            } else {
                eprintln!("error: {}", describe_final(r));
                eprintln!("{}", logs_hint(&app, Some(r)));
            }
            r.final_status == "SUCCEEDED" && job_state.as_deref() == Some("FINISHED")
        }
        None => {
            eprintln!("warning: application {app} did not end within {} s after the job", FINAL_WAIT.as_secs());
            job_state.as_deref() == Some("FINISHED")
        }
    };
    Ok(YarnOutcome { application_id: app, job_state, report, success })
}

/// The REST base URL of the JobManager of YARN application `app`, for
/// `rfy savepoint` / `rfy stop` (`-m yarn-application -D
/// yarn.application.id=<app>`), as Flink's CLI finds a job by its
/// application id: the address the AM registered with the ResourceManager
/// (`amRPCAddress` of the application report: the AM's host and REST port).
/// Not the tracking URL: the RM's web proxy forwards GET only (POST answers
/// 405), and triggering a savepoint is a POST.
///
/// Errors: no Hadoop configuration, the RM unreachable or not knowing
/// `app`, the application not RUNNING (with its state and diagnostics), or
/// its AM registered no REST port (an older rfy-am).
pub async fn jobmanager_url(app: &str) -> Result<String> {
    let hconf = HadoopConfig::from_env()
        .map_err(|e| anyhow!("{e}: a job on YARN is found through the ResourceManager named by the Hadoop configuration (HADOOP_CONF_DIR)"))?;
    let rm = RmRestClient::from_config(&hconf, &current_user())?;
    let r = rm.app_report(app).await.with_context(|| {
        format!("cannot get the report of application {app} from the ResourceManager at {}", rm.base_url())
    })?;
    if r.state != "RUNNING" {
        bail!("application {app} is {} ({}), not RUNNING: its JobManager cannot be reached", r.state, r.diagnostics);
    }
    rest_address_of(&r).ok_or_else(|| {
        anyhow!(
            "application {app} registered no JobManager REST address with YARN (amRPCAddress {:?}); its web UI is at {} (read-only through the RM proxy)",
            r.am_rpc_address,
            r.tracking_url.as_deref().unwrap_or("?")
        )
    })
}

/// `http://host:port` from the report's `amRPCAddress`, if it names a port.
pub fn rest_address_of(r: &AppReport) -> Option<String> {
    let addr = r.am_rpc_address.as_deref()?.trim();
    let (host, port) = addr.rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
    (!host.is_empty()).then(|| format!("http://{host}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_address_from_the_registered_am_address() {
        let mut r: AppReport = serde_json::from_value(
            serde_json::json!({"id": "application_1_0001", "state": "RUNNING", "amRPCAddress": "nm1:40755"}),
        )
        .unwrap();
        assert_eq!(rest_address_of(&r).as_deref(), Some("http://nm1:40755"));
        r.am_rpc_address = Some("nm1:0".into());
        assert_eq!(rest_address_of(&r), None);
        r.am_rpc_address = None;
        assert_eq!(rest_address_of(&r), None);
    }

    #[test]
    fn diagnostics_lose_their_stack_frames() {
        let d = "AM Container exited with exitCode: -1000\nFailing this attempt.Diagnostics: x\n\tat a.B(B.java:1)\n\
                 Caused by: AccessControlException: Client cannot authenticate\n\tat c.D(D.java:2)\n\t... 12 more\n\
                 Caused by: AccessControlException: Client cannot authenticate\n";
        assert_eq!(
            condense_diagnostics(d),
            "AM Container exited with exitCode: -1000 Failing this attempt.Diagnostics: x \
             Caused by: AccessControlException: Client cannot authenticate"
        );
    }

    #[test]
    fn logs_hint_names_the_command() {
        assert!(logs_hint("application_1_0001", None).contains("yarn logs -applicationId application_1_0001"));
    }
}
