//! rfy's TaskManager worker as a library: a TaskManager in a YARN container. Started by the
//! ApplicationMaster with the JobManager's RPC address and the slot count;
//! its resource id is the container id (`CONTAINER_ID`), its advertised host
//! the NodeManager host (`NM_HOST`), its configuration `rfy-conf.json` in the
//! working directory. It logs to stderr, which the container command
//! redirects to `<LOG_DIR>/taskmanager.log`, and exits when the JobManager is
//! gone. The `rfy-worker` binary is [`run`] with the built-in programs; a
//! job executable runs it with its own.

#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use rfy_conf::{ConfError, Configuration, Source};
use rfy_hadoop::token::{Credentials, TokenError, HADOOP_TOKEN_FILE_LOCATION};
use rfy_runtime::JobProgram;
use rfy_taskmanager::{ClusterSecret, TaskManager, TaskManagerConfig, TaskManagerError};

/// Name of the configuration file in the working directory (the bundle's `rfy-conf.json`).
const CONF_FILE: &str = "rfy-conf.json";

/// Why the worker stopped with a failure.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The configuration file cannot be read.
    #[error("cannot read {path}: {source}")]
    ReadConf {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration file is not a JSON map of strings.
    #[error("cannot parse {path}: {source}")]
    ParseConf {
        /// The file.
        path: std::path::PathBuf,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// An option of the configuration file is invalid.
    #[error(transparent)]
    Conf(#[from] ConfError),
    /// The container's credentials file cannot be read.
    #[error("the container's credentials ({HADOOP_TOKEN_FILE_LOCATION}): {0}")]
    Credentials(#[source] TokenError),
    /// The container's credentials hold no valid cluster secret: the
    /// container was not started by an ApplicationMaster of this application.
    #[error("the container's credentials ({HADOOP_TOKEN_FILE_LOCATION}) hold no valid rfy cluster secret ('{alias}'): {why}; a TaskManager runs only in a container its application's ApplicationMaster started")]
    NoClusterSecret {
        /// The alias looked for.
        alias: &'static str,
        /// What was wrong.
        why: String,
    },
    /// The TaskManager failed to start or while running.
    #[error(transparent)]
    TaskManager(#[from] TaskManagerError),
}

/// rfy's TaskManager for YARN containers.
#[derive(Debug, Parser)]
#[command(name = "rfy-worker", version)]
pub struct Args {
    /// `host:port` of the JobManager's RPC service.
    #[arg(long)]
    pub jobmanager: String,
    /// Task slots to offer.
    #[arg(long, default_value_t = 1)]
    pub slots: u32,
    /// Resource id (default: `$CONTAINER_ID`).
    #[arg(long, env = "CONTAINER_ID")]
    pub resource_id: String,
    /// Host to advertise (default: `$NM_HOST`).
    #[arg(long, env = "NM_HOST")]
    pub host: String,
    /// Configuration file (JSON map of rfy options).
    #[arg(long, default_value = CONF_FILE)]
    pub conf: std::path::PathBuf,
}

async fn serve(args: Args, programs: &'static [JobProgram]) -> Result<(), WorkerError> {
    let conf = if args.conf.exists() {
        let text = std::fs::read_to_string(&args.conf)
            .map_err(|source| WorkerError::ReadConf { path: args.conf.clone(), source })?;
        let map: BTreeMap<String, String> =
            serde_json::from_str(&text).map_err(|source| WorkerError::ParseConf { path: args.conf.clone(), source })?;
        Configuration::from_map(&map, Source::Programmatic)?
    } else {
        Configuration::new()
    };
    let log_dir = std::env::var("LOG_DIRS").ok().and_then(|d| d.split(',').next().map(str::to_string));
    let log_path = log_dir.map(|d| format!("{d}/taskmanager.log")).unwrap_or_default();
    let secret = cluster_secret()?;
    tracing::info!(resource_id = %args.resource_id, host = %args.host, jobmanager = %args.jobmanager, slots = args.slots, "rfy TaskManager starting");
    let tm = TaskManager::start(
        TaskManagerConfig {
            resource_id: args.resource_id,
            jobmanager_address: args.jobmanager,
            bind_host: "0.0.0.0".into(),
            advertised_host: args.host,
            port: 0,
            num_slots: args.slots,
            log_path,
            enforce_memory_budget: true,
            conf,
            secret,
        },
        Arc::new(programs),
    )
    .await?;
    tm.wait().await?;
    tracing::info!("TaskManager stopped");
    Ok(())
}

/// The application's cluster secret from the container's credentials file
/// (the AM hands its own credentials to TaskManager containers).
///
/// Errors: [`WorkerError::Credentials`], [`WorkerError::NoClusterSecret`].
fn cluster_secret() -> Result<ClusterSecret, WorkerError> {
    let alias = rfy_rpc::auth::CLUSTER_SECRET_ALIAS;
    let creds = Credentials::from_env().map_err(WorkerError::Credentials)?;
    let bytes = creds.secret_key(alias).ok_or(WorkerError::NoClusterSecret { alias, why: "missing".into() })?;
    ClusterSecret::from_bytes(bytes).map_err(|e| WorkerError::NoClusterSecret { alias, why: e.to_string() })
}

/// Runs the TaskManager with command-line arguments `args` (without the
/// program name) until the JobManager is gone; the job programs it can run
/// are `programs`. Installs the logger and the `hdfs://` file system.
/// Returns the process's exit code.
pub fn run<I, T>(programs: &'static [JobProgram], args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    rfy_conf::logging::init(rfy_conf::logging::LogRole::TaskManager);
    rfy_connectors::register_file_system();
    let args = match Args::try_parse_from(
        std::iter::once(std::ffi::OsString::from("rfy-worker")).chain(args.into_iter().map(Into::into)),
    ) {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(serve(args, programs)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("TaskManager failed: {e}");
            ExitCode::FAILURE
        }
    }
}
