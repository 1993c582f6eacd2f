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
    /// List the jobs of a JobManager (Flink's `flink list`).
    List(ListArgs),
    /// Cancel a job (Flink's `flink cancel`).
    Cancel(CancelArgs),
    /// Start, list or stop a YARN session cluster (Flink's `yarn-session.sh`).
    #[command(name = "yarn-session")]
    YarnSession(YarnSessionArgs),
    /// Create a new cargo project for an rfy job (Cargo.toml, src/main.rs, README).
    New(NewArgs),
    /// Print (or follow) the JobManager's or a TaskManager's log of a running
    /// YARN application or a JobManager at HOST:PORT.
    Logs(LogsArgs),
    /// Check this machine's setup for running rfy on YARN; prints a table, exits non-zero if a check failed.
    Doctor(DoctorArgs),
    /// List or clean the content-addressed bundle cache in HDFS (`/user/<user>/.rfy/cache`).
    Cache(CacheArgs),
    /// Write generated Nexmark events to a JSON-lines file (the events `rfy run nexmark` generates).
    #[cfg(feature = "builtin-jobs")]
    #[command(name = "nexmark-gen")]
    NexmarkGen(NexmarkGenArgs),
}

/// `rfy cache list|clean`.
#[derive(Debug, Args)]
pub struct CacheArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: CacheAction,
}

/// What `rfy cache` does.
#[derive(Debug, Subcommand)]
pub enum CacheAction {
    /// List the cached files, least recently used first: SHA-256, size, uploaded, last used.
    List {
        /// Configuration override, key=value (repeatable).
        #[arg(short = 'D', value_name = "KEY=VALUE")]
        dynamic: Vec<String>,
    },
    /// Apply the eviction rule now (yarn.bundle-cache.max-age, yarn.bundle-cache.max-size), or remove everything.
    Clean {
        /// Remove every entry, however recently used.
        #[arg(long)]
        all: bool,
        /// Configuration override, key=value (repeatable).
        #[arg(short = 'D', value_name = "KEY=VALUE")]
        dynamic: Vec<String>,
    },
}

/// Arguments of `rfy logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// A YARN application id (application_<ts>_<n>) or a JobManager's HOST:PORT.
    pub target: String,
    /// The JobManager's log (the default).
    #[arg(long, conflicts_with_all = ["taskmanager", "container"])]
    pub jobmanager: bool,
    /// The log of TaskManager ID (on YARN its container id; ids: `/taskmanagers`).
    #[arg(long, value_name = "ID", conflicts_with = "container")]
    pub taskmanager: Option<String>,
    /// The log of the process in YARN container ID (the ApplicationMaster's or a TaskManager's).
    #[arg(long, value_name = "ID")]
    pub container: Option<String>,
    /// Keep printing what is appended to the log.
    #[arg(short = 'f', long)]
    pub follow: bool,
}

/// Arguments of `rfy doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Configuration override, key=value (repeatable), e.g. -D taskmanager.memory.process.size=2g.
    #[arg(short = 'D', value_name = "KEY=VALUE")]
    pub dynamic: Vec<String>,
    /// The executable to check against the nodes (a job executable built with the SDK); default: this rfy.
    #[arg(long, value_name = "PATH")]
    pub executable: Option<std::path::PathBuf>,
    /// Skip the probe container that reads the nodes' glibc and architecture (it takes a few seconds).
    #[arg(long)]
    pub no_probe: bool,
}

/// Arguments of `rfy nexmark-gen`.
#[cfg(feature = "builtin-jobs")]
#[derive(Debug, Args)]
pub struct NexmarkGenArgs {
    /// Number of events.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Seed of the generator (as `rfy run nexmark --seed`).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Events per second of event time (as `rfy run nexmark --event-rate`).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub event_rate: u64,
    /// The file to write.
    #[arg(long)]
    pub output: PathBuf,
    /// Write the events out of order: each one delayed by up to this much (e.g. `2s`; seeded by --seed).
    /// Read it with `rfy run nexmark --input FILE --max-out-of-orderness` at least this.
    #[arg(long, value_parser = rfy_conf::parse_duration, default_value = "0ms")]
    pub max_delay: std::time::Duration,
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

/// Arguments of `rfy list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The JobManager.
    #[command(flatten)]
    pub target: JobManagerTarget,
    /// Every job, finished ones included.
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Running (and restarting) jobs only (the default, with --scheduled).
    #[arg(short = 'r', long = "running")]
    pub running: bool,
    /// Jobs waiting for slots only.
    #[arg(short = 's', long = "scheduled")]
    pub scheduled: bool,
}

/// Arguments of `rfy cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The JobManager.
    #[command(flatten)]
    pub target: JobManagerTarget,
    /// The job's id.
    pub job_id: String,
}

/// `rfy yarn-session start|list|stop`.
#[derive(Debug, Args)]
pub struct YarnSessionArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: YarnSessionAction,
}

/// What `rfy yarn-session` does.
#[derive(Debug, Subcommand)]
pub enum YarnSessionAction {
    /// Start a session cluster: a JobManager in a YARN application that runs the jobs submitted to it.
    Start(SessionStartArgs),
    /// List the user's running rfy applications (sessions and jobs) from the ResourceManager.
    List(SessionListArgs),
    /// Stop a session: cancel its jobs, release its containers, remove its staging directory.
    Stop(SessionStopArgs),
}

/// Arguments of `rfy yarn-session start` (Flink's `yarn-session.sh` options).
#[derive(Debug, Args)]
pub struct SessionStartArgs {
    /// Detached: return once the session runs.
    #[arg(short = 'd', long)]
    pub detached: bool,
    /// Name of the YARN application (yarn.application.name).
    #[arg(long = "name", short = 'n', alias = "nm", value_name = "NAME")]
    pub name: Option<String>,
    /// YARN queue (yarn.application.queue).
    #[arg(short = 'q', long = "queue", value_name = "QUEUE")]
    pub queue: Option<String>,
    /// Slots per TaskManager (taskmanager.numberOfTaskSlots).
    #[arg(short = 's', long = "slots", value_name = "SLOTS", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub slots: Option<u32>,
    /// JobManager (AM) container memory, e.g. 1024m (jobmanager.memory.process.size); also `-jm`.
    #[arg(long = "jobManagerMemory", alias = "jm", value_name = "MEM")]
    pub jm_memory: Option<String>,
    /// TaskManager container memory, e.g. 1024m (taskmanager.memory.process.size); also `-tm`.
    #[arg(long = "taskManagerMemory", alias = "tm", value_name = "MEM")]
    pub tm_memory: Option<String>,
    /// Configuration override, key=value (repeatable).
    #[arg(short = 'D', value_name = "KEY=VALUE")]
    pub dynamic: Vec<String>,
}

impl SessionStartArgs {
    /// The options as `key=value` overrides, after the `-D` ones.
    pub fn overrides(&self) -> Vec<String> {
        let mut out = self.dynamic.clone();
        let mut add = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                out.push(format!("{k}={v}"));
            }
        };
        add("yarn.application.name", &self.name);
        add("yarn.application.queue", &self.queue);
        add("taskmanager.numberOfTaskSlots", &self.slots.map(|s| s.to_string()));
        add("jobmanager.memory.process.size", &self.jm_memory);
        add("taskmanager.memory.process.size", &self.tm_memory);
        out
    }
}

/// Arguments of `rfy yarn-session list`.
#[derive(Debug, Args)]
pub struct SessionListArgs {
    /// Configuration override, key=value (repeatable).
    #[arg(short = 'D', value_name = "KEY=VALUE")]
    pub dynamic: Vec<String>,
}

/// Arguments of `rfy yarn-session stop`.
#[derive(Debug, Args)]
pub struct SessionStopArgs {
    /// The session's application (default: the one in the YARN properties file).
    #[arg(long = "yid", alias = "application-id", value_name = "APPLICATION_ID")]
    pub yarn_application_id: Option<String>,
    /// Configuration override, key=value (repeatable); `yarn.application.id` names the session.
    #[arg(short = 'D', value_name = "KEY=VALUE")]
    pub dynamic: Vec<String>,
}

/// Flink's multi-letter single-dash options (`-jm`, `-tm`, `-nm`, `-yid`, `-type`)
/// as the long options clap parses.
pub fn normalize_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .map(|a| match a.as_str() {
            "-jm" => "--jobManagerMemory".to_string(),
            "-tm" => "--taskManagerMemory".to_string(),
            "-nm" => "--name".to_string(),
            "-yid" => "--yid".to_string(),
            "-type" => "--type".to_string(),
            _ => a,
        })
        .collect()
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
    /// The application id given with `--yid` or `-D yarn.application.id=`, if any.
    pub fn explicit_application_id(&self) -> Option<String> {
        let from_d = self
            .dynamic
            .iter()
            .rev()
            .find_map(|kv| kv.strip_prefix("yarn.application.id="))
            .map(|s| s.trim().to_string());
        self.yarn_application_id.clone().or(from_d).filter(|s| !s.is_empty())
    }

    /// True for `-m yarn-session` without an application id: the session is
    /// the one in the YARN properties file.
    pub fn is_session_from_properties(&self) -> bool {
        self.jobmanager == "yarn-session" && self.explicit_application_id().is_none()
    }

    /// The YARN application id, when the target is a job on YARN: `None`
    /// for a `HOST:PORT` target.
    ///
    /// Errors: a YARN target without an application id.
    pub fn yarn_application(&self) -> Result<Option<String>, String> {
        if !matches!(self.jobmanager.as_str(), "yarn-application" | "yarn-cluster" | "yarn-per-job" | "yarn-session") {
            return Ok(None);
        }
        match self.explicit_application_id() {
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
    /// The savepoint's format (Flink's `-type`); rfy writes both the same way.
    #[arg(long = "type", value_enum, value_name = "canonical|native")]
    pub format_type: Option<SavepointFormatType>,
}

/// Flink's savepoint format types. rfy has one state format: a native
/// savepoint is written as a canonical one and records that it was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SavepointFormatType {
    /// The state backend independent format (Flink's default).
    Canonical,
    /// The state backend's own format (in rfy: the same files).
    Native,
}

impl SavepointFormatType {
    /// The REST name: `CANONICAL` or `NATIVE`.
    pub fn rest_name(self) -> &'static str {
        match self {
            SavepointFormatType::Canonical => "CANONICAL",
            SavepointFormatType::Native => "NATIVE",
        }
    }
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
    /// Drain first (Flink's `--drain`): the sources emit the maximum
    /// watermark, so every event-time window and timer fires, and end their
    /// input before the savepoint; the job FINISHES.
    #[arg(short = 'd', long)]
    pub drain: bool,
    /// The savepoint's format (Flink's `-type`); rfy writes both the same way.
    #[arg(long = "type", value_enum, value_name = "canonical|native")]
    pub format_type: Option<SavepointFormatType>,
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
    /// The YARN application to submit to (`-m yarn-session`; same as `-D yarn.application.id=`).
    #[arg(long = "yid", alias = "application-id", value_name = "APPLICATION_ID")]
    pub yarn_application_id: Option<String>,
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
            Command::List(a) => &a.target,
            Command::Cancel(a) => &a.target,
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
    fn stop_takes_flinks_drain_and_type() {
        let argv = ["rfy", "stop", "-m", "127.0.0.1:8081", "--drain", "-type", "native", "-p", "/sp", "abc"];
        let c = Cli::try_parse_from(normalize_args(argv.iter().map(|s| s.to_string()))).expect("parses");
        let Command::Stop(a) = c.command else { panic!("not stop: {:?}", c.command) };
        assert!(a.drain);
        assert_eq!(a.format_type, Some(SavepointFormatType::Native));
        assert_eq!((a.savepoint_path.as_deref(), a.job_id.as_str()), (Some("/sp"), "abc"));
        let c = parse(&["rfy", "stop", "-m", "127.0.0.1:8081", "-d", "abc"]);
        assert!(matches!(c.command, Command::Stop(a) if a.drain && a.format_type.is_none()));
        let c = parse(&["rfy", "savepoint", "-m", "127.0.0.1:8081", "--type", "canonical", "abc"]);
        assert!(matches!(c.command, Command::Savepoint(a) if a.format_type == Some(SavepointFormatType::Canonical)));
        assert!(Cli::try_parse_from(["rfy", "savepoint", "-m", "h:1", "--type", "zip", "abc"]).is_err());
    }

    #[test]
    fn a_yarn_target_without_or_with_a_bad_application_id_is_an_error() {
        let c = parse(&["rfy", "savepoint", "-m", "yarn-application", "abc"]);
        assert!(target(&c).yarn_application().unwrap_err().contains("yarn.application.id"));
        let c = parse(&["rfy", "savepoint", "-m", "yarn-application", "--yid", "job_1", "abc"]);
        assert!(target(&c).yarn_application().unwrap_err().contains("not a YARN application id"));
    }

    #[test]
    fn yarn_session_start_takes_flinks_options() {
        let argv = [
            "rfy",
            "yarn-session",
            "start",
            "-d",
            "--name",
            "analytics",
            "-s",
            "2",
            "-jm",
            "768m",
            "-tm",
            "1024m",
            "-q",
            "q1",
            "-D",
            "heartbeat.timeout=9 s",
        ];
        let c = Cli::try_parse_from(normalize_args(argv.iter().map(|s| s.to_string()))).expect("parses");
        let Command::YarnSession(YarnSessionArgs { action: YarnSessionAction::Start(a) }) = c.command else {
            panic!("not a start")
        };
        assert!(a.detached);
        assert_eq!(
            a.overrides(),
            vec![
                "heartbeat.timeout=9 s",
                "yarn.application.name=analytics",
                "yarn.application.queue=q1",
                "taskmanager.numberOfTaskSlots=2",
                "jobmanager.memory.process.size=768m",
                "taskmanager.memory.process.size=1024m",
            ]
        );
    }

    #[test]
    fn list_and_cancel_find_the_session_or_an_application() {
        let c = parse(&["rfy", "list", "-m", "yarn-session", "-a"]);
        assert!(target(&c).is_session_from_properties());
        let c = parse(&["rfy", "cancel", "-m", "yarn-session", "--yid", "application_1_0009", "abc"]);
        assert!(!target(&c).is_session_from_properties());
        assert_eq!(target(&c).yarn_application(), Ok(Some("application_1_0009".into())));
        let c = parse(&["rfy", "list", "-m", "127.0.0.1:8081"]);
        assert_eq!(target(&c).yarn_application(), Ok(None));
    }
}
