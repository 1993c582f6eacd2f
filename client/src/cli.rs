//! Command-line shape, following Flink's CLI (`flink run`, `flink info`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// rfy: a stream processor for Hadoop YARN.
#[derive(Debug, Parser)]
#[command(name = "rfy", version, about = "rfy: a stream processor for Hadoop YARN", propagate_version = true)]
pub struct Cli {
    /// Directory holding config.yaml (default: $RFY_CONF_DIR, else built-in defaults).
    #[arg(long, global = true, value_name = "DIR")]
    pub conf_dir: Option<PathBuf>,
    /// The sub-command.
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
/// Sub-commands.
pub enum Command {
    /// Run a job: on the embedded local cluster (no -m) or a cluster (-m).
    Run(RunArgs),
    /// Print a job's JobGraph as JSON, without running it.
    Info(JobArgs),
    /// List the built-in jobs.
    Jobs,
    /// Trigger a savepoint of a running job (Flink's `flink savepoint`).
    Savepoint(SavepointArgs),
    /// Stop a running job with a final savepoint (Flink's `flink stop`).
    Stop(StopArgs),
    /// Create a new cargo project for an rfy job (Cargo.toml, src/main.rs, README).
    New(NewArgs),
}

/// Arguments of `rfy new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// Directory to create; its name is the package name.
    pub path: PathBuf,
    /// The rfy SDK (the `sdk/` directory of an rfy checkout) the project depends on.
    #[arg(long, env = "RFY_SDK_PATH", value_name = "DIR")]
    pub sdk_path: Option<PathBuf>,
}

/// Which JobManager `rfy savepoint` / `rfy stop` talk to: a REST address
/// (`-m HOST:PORT`), or a job on YARN (`-m yarn-application` with
/// `-D yarn.application.id=<appId>` or `--yid <appId>`, as Flink's
/// `-m yarn-cluster -yid`), reached at the REST address its ApplicationMaster
/// registered with YARN (the application report's `amRPCAddress`).
#[derive(Debug, Clone, Args)]
pub struct JobManagerTarget {
    /// REST address of the JobManager, host:port (the local cluster prints
    /// it), or `yarn-application` / `yarn-cluster` for a job on YARN.
    #[arg(short = 'm', long = "jobmanager", value_name = "HOST:PORT|yarn-application")]
    pub jobmanager: String,
    /// The YARN application the job runs in (same as `-D yarn.application.id=`).
    #[arg(long = "yid", alias = "application-id", value_name = "APPLICATION_ID")]
    pub yarn_application_id: Option<String>,
    /// Configuration override, key=value (repeatable); `yarn.application.id` names the application.
    #[arg(short = 'D', value_name = "KEY=VALUE")]
    pub dynamic: Vec<String>,
}

impl JobManagerTarget {
    /// The YARN application id, when the target is a job on YARN: `None`
    /// for a `HOST:PORT` target.
    ///
    /// Errors: a YARN target without an application id.
    pub fn yarn_application(&self) -> Result<Option<String>, String> {
        if !matches!(self.jobmanager.as_str(), "yarn-application" | "yarn-cluster" | "yarn-per-job" | "yarn-session") {
            return Ok(None);
        }
        let from_d = self
            .dynamic
            .iter()
            .rev()
            .find_map(|kv| kv.strip_prefix("yarn.application.id="))
            .map(|s| s.trim().to_string());
        match self.yarn_application_id.clone().or(from_d).filter(|s| !s.is_empty()) {
            Some(id) if id.starts_with("application_") => Ok(Some(id)),
            Some(id) => Err(format!("'{id}' is not a YARN application id (application_<clusterTimestamp>_<n>)")),
            None => Err(format!(
                "-m {} needs the application: -D yarn.application.id=<appId> or --yid <appId>",
                self.jobmanager
            )),
        }
    }
}

/// Arguments of `rfy savepoint`.
#[derive(Debug, Args)]
pub struct SavepointArgs {
    /// The JobManager.
    #[command(flatten)]
    pub target: JobManagerTarget,
    /// The job's id.
    pub job_id: String,
    /// Directory the savepoint goes into (default: state.savepoints.dir).
    pub target_directory: Option<String>,
}

/// Arguments of `rfy stop`.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// The JobManager.
    #[command(flatten)]
    pub target: JobManagerTarget,
    /// Directory the final savepoint goes into (default: state.savepoints.dir).
    #[arg(short = 'p', long = "savepointPath", alias = "savepoint-path", value_name = "DIR")]
    pub savepoint_path: Option<String>,
    /// The job's id.
    pub job_id: String,
}

/// Which job, how parallel, with which configuration.
#[derive(Debug, Args)]
pub struct JobArgs {
    /// Default parallelism of the job's operators (overrides parallelism.default).
    #[arg(short = 'p', long, value_parser = clap::value_parser!(u32).range(1..=32768))]
    pub parallelism: Option<u32>,
    /// Configuration override, key=value (repeatable).
    #[arg(short = 'D', value_name = "KEY=VALUE")]
    pub dynamic: Vec<String>,
    /// A built-in job's name (see `rfy jobs`).
    pub job: String,
    /// The job's own arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub job_args: Vec<String>,
}

#[derive(Debug, Args)]
/// Arguments of `rfy run`.
pub struct RunArgs {
    /// Where to run: omit for the embedded local cluster; `yarn-application`,
    /// `yarn-per-job`, `yarn-session` run on YARN.
    #[arg(short = 'm', long = "target", value_name = "MODE")]
    pub mode: Option<String>,
    /// Detached: submit, print the job id and the web UI address, and exit.
    #[arg(short = 'd', long)]
    pub detached: bool,
    /// Restore the job from this savepoint (or retained checkpoint) directory.
    #[arg(short = 's', long = "fromSavepoint", alias = "from-savepoint", value_name = "PATH")]
    pub from_savepoint: Option<String>,
    /// The job and its arguments.
    #[command(flatten)]
    pub job: JobArgs,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(args).expect("parses")
    }

    fn target(cli: &Cli) -> &JobManagerTarget {
        match &cli.command {
            Command::Savepoint(a) => &a.target,
            Command::Stop(a) => &a.target,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn savepoint_and_stop_find_a_yarn_application_by_id() {
        let c = parse(&[
            "rfy",
            "savepoint",
            "-m",
            "yarn-application",
            "-D",
            "yarn.application.id=application_1_0007",
            "abc",
        ]);
        assert_eq!(target(&c).yarn_application(), Ok(Some("application_1_0007".into())));
        let c = parse(&["rfy", "stop", "-m", "yarn-cluster", "--yid", "application_1_0008", "-p", "hdfs:///sp", "abc"]);
        assert_eq!(target(&c).yarn_application(), Ok(Some("application_1_0008".into())));
        let c = parse(&["rfy", "savepoint", "-m", "127.0.0.1:8081", "abc", "/tmp/sp"]);
        assert_eq!(target(&c).yarn_application(), Ok(None));
    }

    #[test]
    fn a_yarn_target_without_or_with_a_bad_application_id_is_an_error() {
        let c = parse(&["rfy", "savepoint", "-m", "yarn-application", "abc"]);
        assert!(target(&c).yarn_application().unwrap_err().contains("yarn.application.id"));
        let c = parse(&["rfy", "savepoint", "-m", "yarn-application", "--yid", "job_1", "abc"]);
        assert!(target(&c).yarn_application().unwrap_err().contains("not a YARN application id"));
    }
}
