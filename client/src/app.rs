//! The `rfy` command line as a library function: [`main`] runs one
//! command with a given set of job programs (the `rfy` binary: the built-in
//! ones; a job executable: its own).

use std::process::ExitCode;

use std::ffi::OsString;

use anyhow::{bail, Result};
use clap::Parser;
use rfy_runtime::JobProgram;

use rfy_am::bundle::ClusterMode;

use crate::cli::{normalize_args, CacheAction, Cli, Command, JobArgs, RunArgs, YarnSessionAction};
use crate::rest_client::SavepointOptions;
use crate::{executable, follow, local, plan, session, yarn};

/// What the job argument of `rfy run` / `rfy info` names.
enum JobRef {
    /// A program of this process: plan and run it here.
    Program(JobArgs),
    /// Another job executable: hand the command over to it.
    Executable(String),
}

/// Resolves the job argument: a program name of `programs`; a path to this
/// very executable (a job executable run by `rfy run ./exe`) names its
/// default (first) program; another path names a job executable.
fn resolve(programs: &[JobProgram], job: &JobArgs) -> JobRef {
    let mut job = JobArgs {
        parallelism: job.parallelism,
        dynamic: job.dynamic.clone(),
        job: job.job.clone(),
        job_args: job.job_args.clone(),
    };
    if programs.iter().any(|p| p.name == job.job) || !executable::is_path(&job.job) {
        return JobRef::Program(job);
    }
    match programs.first() {
        Some(default) if executable::is_current_exe(&job.job) => {
            job.job = default.name.to_string();
            JobRef::Program(job)
        }
        _ => JobRef::Executable(job.job),
    }
}

/// Hands the command line over to job executable `path` after checking it.
fn hand_over(path: &str, raw_args: Vec<OsString>) -> anyhow::Error {
    match executable::check(path) {
        Err(e) => e.into(),
        Ok(_) => executable::exec(path, raw_args).into(),
    }
}

async fn run(cli: &Cli, args: &RunArgs, programs: &'static [JobProgram], raw_args: Vec<OsString>) -> Result<bool> {
    let job = match resolve(programs, &args.job) {
        JobRef::Program(job) => job,
        JobRef::Executable(path) => return Err(hand_over(&path, raw_args)),
    };
    let conf = plan::load_configuration(cli.conf_dir.as_deref(), &job)?;
    let (stream, graph) = plan::plan_with(programs, &job, &conf)?;
    let mut conf = conf;
    if let Some(id) = &args.yarn_application_id {
        conf.set(rfy_conf::options::YARN_APPLICATION_ID.key, id, rfy_conf::Source::Dynamic)?;
    }
    if let Some(path) = &args.from_savepoint {
        // A restored job continues its output: its sink directory is not empty.
        conf.set(rfy_conf::options::EXECUTION_SAVEPOINT_PATH.key, path, rfy_conf::Source::Dynamic)?;
    }
    match args.mode.as_deref() {
        None | Some("local") => {}
        Some("yarn-application") => {
            // Application mode: the job's main (and its planning checks) runs
            // in the AM; the configuration (execution.savepoint.path included) ships with the bundle.
            let outcome =
                yarn::run_application(&conf, &graph, &job.job, &job.job_args, args.detached, ClusterMode::Application)
                    .await?;
            return Ok(outcome.success);
        }
        Some(m @ ("yarn-per-job" | "yarn-session")) => {
            // The JobGraph planned here runs on the cluster: the planning
            // checks (input exists, output empty) run here too.
            rfy_am::plan::check_checkpoint_dir(&conf)?;
            if args.from_savepoint.is_none() {
                stream.check_io().map_err(anyhow::Error::msg)?;
            }
            if m == "yarn-session" {
                return session::run_job(&conf, &graph, args.detached).await;
            }
            let outcome =
                yarn::run_application(&conf, &graph, &job.job, &job.job_args, args.detached, ClusterMode::PerJob)
                    .await?;
            return Ok(outcome.success);
        }
        Some(other) => bail!("unknown target '-m {other}': use yarn-application, yarn-per-job or yarn-session, or omit -m for the local cluster"),
    }
    if args.detached {
        bail!("-d (detached) needs a cluster (-m yarn-...): the embedded local cluster lives in this process");
    }
    rfy_am::plan::check_checkpoint_dir(&conf)?;
    let started = std::time::Instant::now();
    if args.from_savepoint.is_none() {
        stream.check_io().map_err(anyhow::Error::msg)?;
    }
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "checked the job's inputs and outputs");
    let started = std::time::Instant::now();
    let cluster = local::LocalCluster::start_with_programs(&conf, graph.required_slots(), programs).await?;
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "local cluster started");
    let client = follow::RestClient::new(cluster.rest_url())?;
    let result = async {
        let job_id = client.submit(&graph, &Default::default()).await?;
        eprintln!("Job {job_id} submitted to the local cluster (web UI {}/)", cluster.rest_url());
        follow::follow(&client, &job_id, follow::LOCAL_POLL_INTERVAL).await
    }
    .await;
    cluster.shutdown().await;
    let outcome = result?;
    if let Some(f) = &outcome.failure {
        eprintln!("error: {f}");
    }
    Ok(outcome.state == "FINISHED")
}

/// The configuration from `--conf-dir` and `-D` overrides (no job).
fn load_conf(cli: &Cli, dynamic: &[String]) -> Result<rfy_conf::Configuration> {
    let mut conf = rfy_conf::Configuration::load(cli.conf_dir.as_deref())?;
    for kv in dynamic {
        conf.apply_dynamic(kv)?;
    }
    Ok(conf)
}

/// A REST client for the JobManager `target` names: `http://HOST:PORT`, a
/// job or session on YARN by application id (the REST address its
/// ApplicationMaster registered with the ResourceManager, see
/// `yarn::jobmanager_url`), or `-m yarn-session`: the session of the YARN
/// properties file.
async fn jobmanager_client(cli: &Cli, target: &crate::cli::JobManagerTarget) -> Result<follow::RestClient> {
    let conf = load_conf(cli, &target.dynamic)?;
    session::target_client(target, &conf).await
}

/// Runs the `rfy` command line `args` (without the program name) with the
/// job programs `programs` (a job name on the command line is one of them;
/// a path names a job executable, which the command is handed over to).
/// Installs the logger. Returns the process's exit code.
pub fn main(programs: &'static [JobProgram], args: Vec<OsString>) -> ExitCode {
    let normalized: Vec<OsString> = args
        .iter()
        .map(|a| match a.to_str() {
            Some(s) => OsString::from(normalize_args([s.to_string()]).remove(0)),
            None => a.clone(),
        })
        .collect();
    let cli = match Cli::try_parse_from(std::iter::once(OsString::from("rfy")).chain(normalized)) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    rfy_conf::logging::init(rfy_conf::logging::LogRole::Client);
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result: Result<bool> = rt.block_on(async {
        match &cli.command {
            Command::Run(run_args) => run(&cli, run_args, programs, args.clone()).await,
            Command::Info(job) => {
                let job = match resolve(programs, job) {
                    JobRef::Program(job) => job,
                    JobRef::Executable(path) => return Err(hand_over(&path, args.clone())),
                };
                let conf = plan::load_configuration(cli.conf_dir.as_deref(), &job)?;
                let (_, graph) = plan::plan_with(programs, &job, &conf)?;
                println!("{}", serde_json::to_string_pretty(&graph)?);
                Ok(true)
            }
            Command::Savepoint(a) => {
                let client = jobmanager_client(&cli, &a.target).await?;
                let options =
                    SavepointOptions { format_type: a.format_type.map(|f| f.rest_name()), ..Default::default() };
                let trigger = client.trigger_savepoint_with(&a.job_id, a.target_directory.as_deref(), options).await?;
                eprintln!("Triggered savepoint for job {} (request {trigger}); waiting", a.job_id);
                let location = client.wait_savepoint(&a.job_id, &trigger, std::time::Duration::from_secs(600)).await?;
                println!("Savepoint completed. Path: {location}");
                Ok(true)
            }
            Command::Stop(a) => {
                let client = jobmanager_client(&cli, &a.target).await?;
                let format_type = a.format_type.map(|f| f.rest_name());
                let options = SavepointOptions { stop: true, drain: a.drain, format_type };
                let trigger = client.trigger_savepoint_with(&a.job_id, a.savepoint_path.as_deref(), options).await?;
                // Flink's words: a drain terminates the job, a plain stop suspends it.
                let how = if a.drain { "Draining and terminating" } else { "Suspending" };
                eprintln!("{how} job {} with a savepoint (request {trigger})", a.job_id);
                let location = client.wait_savepoint(&a.job_id, &trigger, std::time::Duration::from_secs(600)).await?;
                println!("Savepoint completed. Path: {location}");
                Ok(true)
            }
            Command::New(a) => {
                let sdk = a.sdk_path.clone().unwrap_or_else(crate::new_project::default_sdk_path);
                crate::new_project::create(&a.path, &sdk)?;
                println!(
                    "Created rfy job project {} (build: cd {} && cargo build --release)",
                    a.path.display(),
                    a.path.display()
                );
                Ok(true)
            }
            Command::List(a) => {
                let client = jobmanager_client(&cli, &a.target).await?;
                session::list_jobs(&client, a.all, a.running, a.scheduled).await
            }
            Command::Logs(a) => crate::logs::run(&load_conf(&cli, &[])?, a).await,
            Command::Doctor(a) => {
                let options = crate::doctor::DoctorOptions { executable: a.executable.clone(), probe: !a.no_probe };
                crate::doctor::run(&load_conf(&cli, &a.dynamic)?, &options).await
            }
            Command::Cancel(a) => {
                let client = jobmanager_client(&cli, &a.target).await?;
                client.cancel(&a.job_id).await?;
                println!("Cancelled job {}.", a.job_id);
                Ok(true)
            }
            Command::YarnSession(s) => match &s.action {
                YarnSessionAction::Start(a) => session::start(&load_conf(&cli, &a.overrides())?, a.detached).await,
                YarnSessionAction::List(a) => session::list(&load_conf(&cli, &a.dynamic)?).await,
                YarnSessionAction::Stop(a) => {
                    let mut d = a.dynamic.clone();
                    if let Some(id) = &a.yarn_application_id {
                        d.push(format!("yarn.application.id={id}"));
                    }
                    session::stop(&load_conf(&cli, &d)?).await
                }
            },
            Command::Cache(c) => match &c.action {
                CacheAction::List { dynamic } => cache_list(&load_conf(&cli, dynamic)?).await,
                CacheAction::Clean { all, dynamic } => cache_clean(&load_conf(&cli, dynamic)?, *all).await,
            },
            #[cfg(feature = "builtin-jobs")]
            Command::NexmarkGen(a) => {
                let config = rfy_jobs::nexmark::generator::GeneratorConfig {
                    seed: a.seed,
                    events: Some(a.events),
                    event_rate: a.event_rate,
                    ..Default::default()
                };
                let bytes = rfy_jobs::nexmark::write_events_delayed(&config, a.events, a.max_delay, &a.output)?;
                eprintln!("Wrote {} events ({bytes} bytes) to {}", a.events, a.output.display());
                Ok(true)
            }
            Command::Jobs => {
                for p in programs {
                    println!("{:<12} {}", p.name, p.description);
                }
                Ok(true)
            }
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The user's bundle cache in the HDFS of `HADOOP_CONF_DIR`.
async fn bundle_cache(conf: &rfy_conf::Configuration) -> Result<crate::cache::BundleCache> {
    let hconf = rfy_hadoop::config::HadoopConfig::from_env().map_err(|e| {
        anyhow::anyhow!("{e}: the bundle cache is in the HDFS named by the Hadoop configuration (HADOOP_CONF_DIR)")
    })?;
    crate::kerberos::login(conf, &hconf).await?;
    let user = rfy_hadoop::config::current_user();
    let fs = rfy_hadoop::hdfs::Hdfs::from_config(&hconf, Some(&user))?;
    fs.probe().await?;
    Ok(crate::cache::BundleCache::new(fs, conf, &user))
}

fn epoch_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// `rfy cache list`: one line per entry, least recently used first.
async fn cache_list(conf: &rfy_conf::Configuration) -> Result<bool> {
    let cache = bundle_cache(conf).await?;
    let entries = cache.list().await?;
    let now = epoch_ms();
    let ago = |t: u64| crate::cache::rough_duration(now.saturating_sub(t));
    println!("{:<64}  {:>10}  {:>12}  {:>12}", "SHA-256", "SIZE", "UPLOADED", "LAST USED");
    for e in &entries {
        println!(
            "{:<64}  {:>10}  {:>12}  {:>12}",
            e.sha256,
            crate::cache::megabytes(e.size),
            format!("{} ago", ago(e.uploaded)),
            format!("{} ago", ago(e.last_used))
        );
    }
    let total: u64 = entries.iter().map(|e| e.size).sum();
    println!("{} entries, {} in {}", entries.len(), crate::cache::megabytes(total), cache.dir());
    Ok(true)
}

/// `rfy cache clean [--all]`.
async fn cache_clean(conf: &rfy_conf::Configuration, all: bool) -> Result<bool> {
    let cache = bundle_cache(conf).await?;
    let limits = (!all).then(|| crate::cache::Limits::from_conf(conf));
    let gone = cache.evict(limits, epoch_ms()).await?;
    let freed: u64 = gone.iter().map(|e| e.size).sum();
    for e in &gone {
        println!("removed {} ({})", e.sha256, crate::cache::megabytes(e.size));
    }
    println!("{} entries removed, {} freed from {}", gone.len(), crate::cache::megabytes(freed), cache.dir());
    Ok(true)
}

/// The error and its causes on one line, `: `-separated, skipping a cause
/// whose text the line already holds (errors that print their source), and
/// dropping the Java stack trace a Hadoop RemoteException's message carries
/// after its first line (`\n\tat org.apache...`).
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        let text = text.split("\n\tat ").next().unwrap_or_default().trim_end().to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace('\n', " ")
}
