//! YARN session mode on the client side (Flink's `yarn-session.sh` and
//! `flink run -m yarn-session`):
//! - `rfy yarn-session start`: deploys an AM in session mode, writes the
//!   YARN properties file (Flink's `/tmp/.yarn-properties-<user>`, directory
//!   `yarn.properties-file.location`) naming the application, prints the
//!   application id, the web UI (RM proxy) and the JobManager's REST
//!   address; attached it shows the session live and stops it on Ctrl-C;
//! - discovery: `--yid` / `-D yarn.application.id=`, else the properties
//!   file; a file naming an application that is not running any more is
//!   reported and removed;
//! - `rfy yarn-session list`: the user's running applications of type
//!   `yarn.application.type` (rfy) from the ResourceManager;
//! - `rfy yarn-session stop`: `DELETE /cluster` at the AM's REST address
//!   (the AM cancels its jobs, removes its staging directory, unregisters
//!   SUCCEEDED; YARN then stops every container), then waits for the
//!   application to end and removes what is left;
//! - `rfy run -m yarn-session`: submits the JobGraph planned here to the
//!   session's Dispatcher, at the AM's own REST address (the RM proxy
//!   forwards GET only), and follows it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use rfy_am::bundle::ClusterMode;
use rfy_conf::{options, Configuration};
use rfy_hadoop::config::{current_user, HadoopConfig};
use rfy_hadoop::hdfs::Hdfs;
use rfy_hadoop::yarn::rest::{AppReport, RmRestClient};
use rfy_rest_api::JobDetails;
use rfy_runtime::JobGraph;

use crate::follow::{self, RestClient};
use crate::yarn::{self, Deployed};

/// How long `stop` waits for the application to end.
const STOP_WAIT: Duration = Duration::from_secs(60);

/// The YARN properties file: `<yarn.properties-file.location or /tmp>/.yarn-properties-<user>`.
pub fn properties_file(conf: &Configuration, user: &str) -> PathBuf {
    let dir = conf
        .get_optional(&options::YARN_PROPERTIES_FILE_LOCATION)
        .filter(|d| !d.trim().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    dir.join(format!(".yarn-properties-{user}"))
}

/// The application id in a properties file's text (`applicationID=...`, Java properties syntax).
pub fn parse_properties(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with('!'))
        .find_map(|l| {
            let (k, v) = l.split_once(['=', ':'])?;
            (k.trim() == "applicationID").then(|| v.trim().to_string())
        })
        .filter(|v| !v.is_empty())
}

fn rm_client() -> Result<(HadoopConfig, RmRestClient)> {
    let hconf = HadoopConfig::from_env().map_err(|e| {
        anyhow!("{e}: YARN sessions are found through the ResourceManager named by the Hadoop configuration (HADOOP_CONF_DIR)")
    })?;
    let rm = RmRestClient::from_config(&hconf, &current_user())?;
    Ok((hconf, rm))
}

/// The session application to talk to: `yarn.application.id` when set,
/// else the one in the properties file. It must be a RUNNING application
/// of type `yarn.application.type`; a properties file naming one that is not
/// is removed (and said so).
///
/// Errors: no id and no properties file; the application unknown, not
/// running, or not rfy's.
pub async fn find_session(conf: &Configuration) -> Result<(String, AppReport)> {
    let (_, rm) = rm_client()?;
    let user = current_user();
    let props = properties_file(conf, &user);
    let (app, from_file) = match conf.get_optional(&options::YARN_APPLICATION_ID).filter(|s| !s.trim().is_empty()) {
        Some(id) => (id.trim().to_string(), false),
        None => {
            let text = std::fs::read_to_string(&props).map_err(|_| {
                anyhow!(
                    "no YARN session: no properties file {} (start one with `rfy yarn-session start`, or name it with --yid / -D yarn.application.id=)",
                    props.display()
                )
            })?;
            let id = parse_properties(&text)
                .ok_or_else(|| anyhow!("the YARN properties file {} names no applicationID", props.display()))?;
            (id, true)
        }
    };
    if !app.starts_with("application_") {
        bail!("'{app}' is not a YARN application id (application_<clusterTimestamp>_<n>)");
    }
    let report = match rm.app_report(&app).await {
        Ok(r) => r,
        Err(e) => {
            if from_file {
                let _ = std::fs::remove_file(&props);
                bail!(
                    "the YARN properties file {} named application {app}, which the ResourceManager does not know ({e}): removed the file",
                    props.display()
                );
            }
            return Err(anyhow!(e).context(format!("cannot get the report of application {app}")));
        }
    };
    let rfy_type = conf.get(&options::YARN_APPLICATION_TYPE);
    if report.state != "RUNNING" {
        if from_file {
            let _ = std::fs::remove_file(&props);
            bail!(
                "the YARN properties file {} named session {app}, which is {} ({}): removed the file; start a new session with `rfy yarn-session start`",
                props.display(),
                report.state,
                report.final_status
            );
        }
        bail!("application {app} is {} ({}), not a running session", report.state, report.diagnostics.trim());
    }
    if report.application_type != rfy_type {
        bail!("application {app} is of type '{}', not an rfy session ('{rfy_type}')", report.application_type);
    }
    Ok((app, report))
}

/// The session's REST client at the AM's own address (`amRPCAddress`).
fn session_rest(app: &str, report: &AppReport) -> Result<RestClient> {
    let url = yarn::rest_address_of(report)
        .ok_or_else(|| anyhow!("session {app} registered no JobManager REST address with YARN (amRPCAddress)"))?;
    Ok(RestClient::new(url)?)
}

/// The lock file beside the properties file: `.yarn-properties-<user>.lock`.
pub fn start_lock_file(props: &Path) -> PathBuf {
    let mut name = props.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".lock");
    props.with_file_name(name)
}

/// Takes the exclusive lock (`flock`) that one `rfy yarn-session start`
/// holds from before it looks at the properties file until it has written
/// it, so that two starts at once cannot both deploy a session. The
/// operating system releases it when the process ends, however it ends; the
/// (empty but for the holder's pid) file stays.
///
/// Errors: another process holds the lock (its pid named); the file cannot
/// be created or locked.
fn lock_start(props: &Path) -> Result<std::fs::File> {
    let path = start_lock_file(props);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening the session start lock {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0)?;
            writeln!(file, "{}", std::process::id())?;
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            bail!(
                "another `rfy yarn-session start` (pid {}) is starting a session (lock {}); wait for it and submit with -m yarn-session, or use -D yarn.properties-file.location=DIR for a second session",
                if holder.is_empty() { "unknown" } else { holder },
                path.display()
            )
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(anyhow!(e).context(format!("locking the session start lock {}", path.display())))
        }
    }
}

/// `rfy yarn-session start`; returns whether the session ended well (attached) or runs (detached).
///
/// Errors: another `yarn-session start` running at the same time (see
/// `lock_start`); a session already running per the properties file;
/// deployment errors.
pub async fn start(conf: &Configuration, detached: bool) -> Result<bool> {
    let user = current_user();
    let props = properties_file(conf, &user);
    let lock = lock_start(&props)?;
    if props.exists() {
        let mut probe = conf.clone();
        probe.remove(options::YARN_APPLICATION_ID.key);
        match find_session(&probe).await {
            Ok((app, _)) => bail!(
                "a session is already running: application {app} (named in {}); stop it with `rfy yarn-session stop`, or submit to it with -m yarn-session",
                props.display()
            ),
            Err(e) => eprintln!("note: {e:#}"),
        }
    }
    let d = yarn::deploy_cluster(conf, ClusterMode::Session, "rfy session", "", &[], None).await?;
    let Deployed { app, staging, rm, fs, report, t0, .. } = d;
    let tracking = report.tracking_url.clone().unwrap_or_default();
    let rest = match session_rest(&app, &report) {
        Ok(r) => r,
        Err(e) => {
            let _ = rm.kill(&app).await;
            yarn::remove_staging(&fs, &staging).await;
            return Err(e);
        }
    };
    // Ready: the Dispatcher answers.
    let deadline = Instant::now() + Duration::from_secs(60);
    while rest.overview().await.is_err() {
        if Instant::now() > deadline {
            let _ = rm.kill(&app).await;
            yarn::remove_staging(&fs, &staging).await;
            bail!("session {app} runs but its JobManager does not answer at {}", rest.base());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let Some(dir) = props.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(&props, format!("#rfy YARN session\napplicationID={app}\n"))
        .with_context(|| format!("writing the YARN properties file {}", props.display()))?;
    drop(lock); // the properties file now names the session: a second start finds it
    eprintln!("Session {app} is ready ({:.1} s)", t0.elapsed().as_secs_f64());
    println!("YARN application: {app}");
    println!("Web UI (RM proxy): {tracking}");
    println!("JobManager REST: {}", rest.base());
    println!("Properties file: {}", props.display());
    if detached {
        eprintln!("Detached. Submit jobs with `rfy run -m yarn-session ...`; stop it with `rfy yarn-session stop` (or yarn application -kill {app})");
        return Ok(true);
    }
    watch_session(&rm, &app, &rest, &fs, &staging, &props).await
}

/// Attached session: a live line of TaskManagers, slots and jobs; Ctrl-C stops the session.
async fn watch_session(
    rm: &RmRestClient,
    app: &str,
    rest: &RestClient,
    fs: &Hdfs,
    staging: &str,
    props: &std::path::Path,
) -> Result<bool> {
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    let mut last_report = Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = &mut ctrl_c => {
                bar.finish_and_clear();
                eprintln!("Ctrl-C: stopping session {app}");
                return stop_app(rm, app, fs, staging, props).await;
            }
        }
        match (rest.overview().await, rest.jobs_overview().await) {
            (Ok(o), Ok(jobs)) => {
                let mut line = format!(
                    "session {app}: {} TaskManagers, {}/{} slots free; jobs: {} running, {} finished, {} failed, {} canceled",
                    o.taskmanagers, o.slots_available, o.slots_total, o.jobs_running, o.jobs_finished, o.jobs_failed,
                    o.jobs_cancelled
                );
                for j in jobs.jobs.iter().take(5) {
                    line.push_str(&format!(" | {} {}", short(&j.jid), j.state));
                }
                bar.set_message(line);
            }
            (Err(e), _) | (_, Err(e)) => bar.set_message(format!("session {app}: {e}")),
        }
        bar.tick();
        if last_report.elapsed() > Duration::from_secs(1) {
            last_report = Instant::now();
            let r = rm.app_report(app).await?;
            if r.is_final() {
                bar.finish_and_clear();
                remove_properties_if(props, app);
                yarn::remove_staging(fs, staging).await;
                if r.final_status != "SUCCEEDED" {
                    bail!("session {app} ended: {}", yarn::describe_final(&r));
                }
                eprintln!("{}", yarn::describe_final(&r));
                return Ok(true);
            }
        }
    }
}

fn short(id: &str) -> String {
    id.chars().take(8).collect()
}

fn remove_properties_if(props: &std::path::Path, app: &str) {
    let names_app = std::fs::read_to_string(props).ok().and_then(|t| parse_properties(&t)).is_some_and(|a| a == app);
    if names_app {
        let _ = std::fs::remove_file(props);
    }
}

/// Asks the session's JobManager to shut down (`DELETE /cluster` at its REST
/// address), waits for the application to end, then removes its staging
/// directory and the properties file naming it.
async fn stop_app(rm: &RmRestClient, app: &str, fs: &Hdfs, staging: &str, props: &std::path::Path) -> Result<bool> {
    let report = rm.app_report(app).await?;
    let asked = match yarn::rest_address_of(&report) {
        Some(url) if report.state == "RUNNING" => {
            let http = rfy_hadoop::tls::http_client_builder().timeout(Duration::from_secs(10)).build()?;
            http.delete(format!("{url}/cluster")).send().await.map(|r| r.status().is_success()).unwrap_or(false)
        }
        _ => false,
    };
    if !asked && !report.is_final() {
        eprintln!("warning: the session's JobManager did not take the stop request: killing application {app}");
        rm.kill(app).await?;
    }
    let final_report = yarn::wait_final(rm, app, STOP_WAIT).await;
    yarn::remove_staging(fs, staging).await;
    remove_properties_if(props, app);
    match final_report {
        Some(r) => {
            eprintln!("Session stopped: {}", yarn::describe_final(&r));
            Ok(r.final_status == "SUCCEEDED" || (!asked && r.final_status == "KILLED"))
        }
        None => bail!("session {app} did not end within {} s after the stop request", STOP_WAIT.as_secs()),
    }
}

/// `rfy yarn-session stop`.
///
/// Errors: no session found (see [`find_session`]).
pub async fn stop(conf: &Configuration) -> Result<bool> {
    let (app, _) = find_session(conf).await?;
    let (hconf, rm) = rm_client()?;
    let user = current_user();
    let fs = Hdfs::from_config(&hconf, Some(&user))?;
    let staging = format!("{}/{app}", yarn::staging_root(conf, &user));
    eprintln!("Stopping session {app}");
    stop_app(&rm, &app, &fs, &staging, &properties_file(conf, &user)).await
}

/// `rfy yarn-session list`: prints the user's running rfy applications.
pub async fn list(conf: &Configuration) -> Result<bool> {
    let (_, rm) = rm_client()?;
    let user = current_user();
    let apps = rm.apps(Some(&conf.get(&options::YARN_APPLICATION_TYPE)), Some("RUNNING"), Some(&user)).await?;
    let props = std::fs::read_to_string(properties_file(conf, &user)).ok().and_then(|t| parse_properties(&t));
    if apps.is_empty() {
        println!("No running rfy application of user {user}.");
    }
    for a in &apps {
        let mark = if props.as_deref() == Some(a.id.as_str()) { " (properties file)" } else { "" };
        println!(
            "{}\t{}\t{}\tqueue {}\t{} containers\t{}{mark}",
            a.id,
            a.name,
            a.state,
            a.queue,
            a.running_containers,
            a.tracking_url.as_deref().unwrap_or("")
        );
    }
    Ok(true)
}

/// `rfy run -m yarn-session`: submits `graph` (with the configuration
/// `conf` as the job's) to the session and, attached, follows it (Ctrl-C
/// cancels the job, not the session); detached, returns once it runs.
///
/// Errors: no session (see [`find_session`]); the session's queue can never
/// give the job's slots (see [`crate::queue_fit`]); the Dispatcher refused the job.
pub async fn run_job(conf: &Configuration, graph: &JobGraph, detached: bool) -> Result<bool> {
    let t0 = Instant::now();
    let (app, report) = find_session(conf).await?;
    let rest = session_rest(&app, &report)?;
    let mut conf = conf.clone();
    if yarn::ships_current_executable() {
        // A job executable: its TaskManagers run this very file (see ARCHITECTURE.md).
        let url = ship_executable(&conf).await?;
        conf.set(options::PIPELINE_JARS.key, &url, rfy_conf::Source::Dynamic)?;
    }
    let conf = &conf;
    let tracking = report.tracking_url.clone().unwrap_or_default();
    let (_, rm) = rm_client()?;
    crate::queue_fit::check_session_job(&rm, &report.queue, &rest, graph.required_slots())
        .await
        .with_context(|| format!("session {app}"))?;
    let job_id = rest.submit(graph, &conf.to_map()).await?;
    eprintln!("Job {job_id} submitted to session {app} ({:.2} s); web UI: {tracking}", t0.elapsed().as_secs_f64());
    // Until the job has its slots (or ended): RUNNING is printed as in application mode.
    let deadline = Instant::now() + conf.get(&options::SLOT_REQUEST_TIMEOUT) + Duration::from_secs(10);
    let state = loop {
        let state = rest.job_details(&job_id).await?.state;
        if state != "CREATED" || Instant::now() > deadline {
            break state;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("Job {job_id} is {state} ({:.2} s)", t0.elapsed().as_secs_f64());
    if detached || state == "FAILED" {
        if state == "FAILED" {
            match rest.job_exceptions(&job_id).await {
                Ok(e) => eprintln!("error: {}", e.root_exception.as_deref().unwrap_or("no root exception recorded")),
                Err(e) => eprintln!("error: the job FAILED; its exceptions cannot be read: {e}"),
            }
        }
        if detached {
            eprintln!("Detached. Cancel it with: rfy cancel -m yarn-session {job_id}");
        }
        return Ok(!matches!(state.as_str(), "FAILED" | "CANCELED"));
    }
    let outcome = match follow::follow(&rest, &job_id, follow::POLL_INTERVAL).await {
        Ok(o) => o,
        Err(e) => {
            // The JobManager stopped answering: the session application ended under us?
            let ended = rm.app_report(&app).await.ok().filter(AppReport::is_final);
            if let Some(r) = ended {
                bail!("session {app} ended while job {job_id} ran: {}", yarn::describe_final(&r));
            }
            return Err(e.context(format!("following job {job_id} in session {app}")));
        }
    };
    if outcome.state != "FINISHED" {
        // Killed with the session (`yarn application -kill`): the AM cancels
        // its jobs on the way out, so the job ends CANCELED, not unreachable.
        if let Some(r) = rm.app_report(&app).await.ok().filter(AppReport::is_final) {
            bail!("session {app} ended while job {job_id} ran ({}): {}", outcome.state, yarn::describe_final(&r));
        }
    }
    if let Some(f) = &outcome.failure {
        eprintln!("error: {f}");
    }
    Ok(outcome.state == "FINISHED")
}

/// Puts this job executable into the bundle cache (`<staging root>/cache/<sha256>`,
/// see [`crate::cache`]: uploaded only if its bytes are not there yet) and
/// returns its `hdfs://` URL, the job's `pipeline.jars`; the URL's last
/// segment is the executable's SHA-256, which its TaskManagers register with.
///
/// Errors: this executable cannot be read; HDFS refuses the upload.
async fn ship_executable(conf: &Configuration) -> Result<String> {
    let exe = std::env::current_exe().context("cannot find this executable's path")?;
    let (hconf, _) = rm_client()?;
    let user = current_user();
    let fs = Hdfs::from_config(&hconf, Some(&user))?;
    let cache = crate::cache::BundleCache::new(fs.clone(), conf, &user);
    let t0 = Instant::now();
    let f = cache
        .put(&exe)
        .await
        .with_context(|| format!("putting {} into the bundle cache {}", exe.display(), fs.qualify(cache.dir())))?;
    let how = match f.provenance {
        crate::cache::Provenance::Cached => "cached".to_string(),
        crate::cache::Provenance::Uploaded(n) => format!("uploaded {}", crate::cache::megabytes(n)),
    };
    eprintln!("Shipped {} as {} ({how}, {:.1} s)", exe.display(), f.resource.resource, t0.elapsed().as_secs_f64());
    Ok(f.resource.resource)
}

/// The REST client of the JobManager a `list`/`cancel`/`savepoint`/`stop`
/// names: `HOST:PORT`, an application (`--yid`), or the session of the properties file.
///
/// Errors: as [`find_session`].
pub async fn target_client(target: &crate::cli::JobManagerTarget, conf: &Configuration) -> Result<RestClient> {
    if target.is_session_from_properties() {
        let (app, report) = find_session(conf).await?;
        return session_rest(&app, &report);
    }
    match target.yarn_application().map_err(anyhow::Error::msg)? {
        Some(app) => Ok(RestClient::new(yarn::jobmanager_url(&app).await?)?),
        None => Ok(RestClient::new(format!("http://{}", target.jobmanager))?),
    }
}

/// `rfy list`: prints jobs as Flink's `flink list` does (`start : id : name (STATE)`), by group.
pub async fn list_jobs(client: &RestClient, all: bool, running: bool, scheduled: bool) -> Result<bool> {
    let jobs = client.jobs_overview().await?.jobs;
    let (running, scheduled) =
        if !all && !running && !scheduled { (true, true) } else { (running || all, scheduled || all) };
    let line = |j: &JobDetails| format!("{} : {} : {} ({})", format_ms(j.start_time), j.jid, j.name, j.state);
    let group = |title: &str, pred: &dyn Fn(&str) -> bool| {
        let rows: Vec<String> = jobs.iter().filter(|j| pred(&j.state)).map(line).collect();
        println!("------------------ {title} ------------------");
        if rows.is_empty() {
            println!("No {} jobs.", title.to_lowercase());
        }
        for r in rows {
            println!("{r}");
        }
    };
    if running {
        group("Running/Restarting Jobs", &|s| matches!(s, "RUNNING" | "RESTARTING" | "FAILING" | "CANCELLING"));
    }
    if scheduled {
        group("Scheduled Jobs", &|s| s == "CREATED");
    }
    if all {
        group("Terminated Jobs", &|s| matches!(s, "FINISHED" | "FAILED" | "CANCELED"));
    }
    Ok(true)
}

/// `dd.MM.yyyy HH:mm:ss` (UTC) of epoch milliseconds, as `flink list` prints.
fn format_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{d:02}.{m:02}.{y} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_file_names_the_application() {
        assert_eq!(parse_properties("#x\napplicationID=application_1_0002\n").as_deref(), Some("application_1_0002"));
        assert_eq!(
            parse_properties("dynamicPropertiesString=\napplicationID : application_1_3").as_deref(),
            Some("application_1_3")
        );
        assert_eq!(parse_properties("applicationID=\n"), None);
        let mut c = Configuration::new();
        c.set(options::YARN_PROPERTIES_FILE_LOCATION.key, "/var/tmp/x", rfy_conf::Source::Dynamic).unwrap();
        assert_eq!(properties_file(&c, "bob"), PathBuf::from("/var/tmp/x/.yarn-properties-bob"));
    }

    #[test]
    fn list_times_are_flinks_format() {
        assert_eq!(format_ms(0), "01.01.1970 00:00:00");
        assert_eq!(format_ms(1_764_331_200_000), "28.11.2025 12:00:00");
    }
}
