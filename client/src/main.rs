//! `rfy`: the command line. Plans jobs into JobGraphs, runs them on the
//! embedded local cluster or submits them to a cluster, and follows them.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Parser;
use rfy_client::cli::{Cli, Command, RunArgs};
use rfy_client::{follow, local, plan, yarn};

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}

async fn run(cli: &Cli, args: &RunArgs) -> Result<bool> {
    let conf = plan::load_configuration(cli.conf_dir.as_deref(), &args.job)?;
    let (stream, graph) = plan::plan(&args.job, &conf)?;
    let mut conf = conf;
    if let Some(path) = &args.from_savepoint {
        // A restored job continues its output: its sink directory is not empty.
        conf.set(rfy_conf::options::EXECUTION_SAVEPOINT_PATH.key, path, rfy_conf::Source::Dynamic)?;
    }
    match args.mode.as_deref() {
        None | Some("local") => {}
        Some("yarn-application") => {
            // Application mode: the job's main (and its planning checks) runs
            // in the AM; the configuration (execution.savepoint.path included) ships with the bundle.
            let outcome = yarn::run_application(&conf, &graph, &args.job.job, &args.job.job_args, args.detached).await?;
            return Ok(outcome.success);
        }
        Some(m @ ("yarn-per-job" | "yarn-session")) => {
            bail!("-m {m}: not available in this build yet; use -m yarn-application")
        }
        Some(other) => bail!("unknown target '-m {other}': use yarn-application, yarn-per-job or yarn-session, or omit -m for the local cluster"),
    }
    if args.detached {
        bail!("-d (detached) needs a cluster (-m yarn-...): the embedded local cluster lives in this process");
    }
    if args.from_savepoint.is_none() {
        stream.check_io().map_err(anyhow::Error::msg)?;
    }
    let cluster = local::LocalCluster::start(&conf, graph.required_slots()).await?;
    let client = follow::RestClient::new(cluster.rest_url())?;
    let result = async {
        let job_id = client.submit(&graph, &Default::default()).await?;
        eprintln!("Job {job_id} submitted to the local cluster (web UI {}/)", cluster.rest_url());
        follow::follow(&client, &job_id).await
    }
    .await;
    cluster.shutdown().await;
    let outcome = result?;
    if let Some(f) = &outcome.failure {
        eprintln!("error: {f}");
    }
    Ok(outcome.state == "FINISHED")
}

/// A REST client for the JobManager `target` names: `http://HOST:PORT`, or
/// for a job on YARN the REST address its ApplicationMaster registered with
/// the ResourceManager (see `yarn::jobmanager_url`).
async fn jobmanager_client(target: &rfy_client::cli::JobManagerTarget) -> Result<follow::RestClient> {
    match target.yarn_application().map_err(anyhow::Error::msg)? {
        Some(app) => follow::RestClient::new(yarn::jobmanager_url(&app).await?),
        None => follow::RestClient::new(format!("http://{}", target.jobmanager)),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result: Result<bool> = rt.block_on(async {
        match &cli.command {
            Command::Run(args) => run(&cli, args).await,
            Command::Info(job) => {
                let conf = plan::load_configuration(cli.conf_dir.as_deref(), job)?;
                let (_, graph) = plan::plan(job, &conf)?;
                println!("{}", serde_json::to_string_pretty(&graph)?);
                Ok(true)
            }
            Command::Savepoint(a) => {
                let client = jobmanager_client(&a.target).await?;
                let trigger = client.trigger_savepoint(&a.job_id, a.target_directory.as_deref(), false).await?;
                eprintln!("Triggered savepoint for job {} (request {trigger}); waiting", a.job_id);
                let location = client.wait_savepoint(&a.job_id, &trigger, std::time::Duration::from_secs(600)).await?;
                println!("Savepoint completed. Path: {location}");
                Ok(true)
            }
            Command::Stop(a) => {
                let client = jobmanager_client(&a.target).await?;
                let trigger = client.trigger_savepoint(&a.job_id, a.savepoint_path.as_deref(), true).await?;
                eprintln!("Suspending job {} with a savepoint (request {trigger})", a.job_id);
                let location = client.wait_savepoint(&a.job_id, &trigger, std::time::Duration::from_secs(600)).await?;
                println!("Savepoint completed. Path: {location}");
                Ok(true)
            }
            Command::Jobs => {
                for p in rfy_jobs::BUILTIN {
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

/// The error and its causes on one line, `: `-separated, skipping a cause
/// whose text the line already holds (errors that print their source).
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
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
