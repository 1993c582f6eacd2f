//! `rfy-worker`: a TaskManager in a YARN container. Started by the
//! ApplicationMaster with the JobManager's RPC address and the slot count;
//! its resource id is the container id (`CONTAINER_ID`), its advertised host
//! the NodeManager host (`NM_HOST`), its configuration `rfy-conf.json` in the
//! working directory. It logs to stderr, which the container command
//! redirects to `<LOG_DIR>/taskmanager.log`, and exits when the JobManager is
//! gone.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;
use rfy_conf::{Configuration, Source};
use rfy_taskmanager::{TaskManager, TaskManagerConfig};

/// Name of the configuration file in the working directory (the bundle's `rfy-conf.json`).
const CONF_FILE: &str = "rfy-conf.json";

/// rfy's TaskManager for YARN containers.
#[derive(Debug, Parser)]
#[command(name = "rfy-worker", version)]
struct Args {
    /// `host:port` of the JobManager's RPC service.
    #[arg(long)]
    jobmanager: String,
    /// Task slots to offer.
    #[arg(long, default_value_t = 1)]
    slots: u32,
    /// Resource id (default: `$CONTAINER_ID`).
    #[arg(long, env = "CONTAINER_ID")]
    resource_id: String,
    /// Host to advertise (default: `$NM_HOST`).
    #[arg(long, env = "NM_HOST")]
    host: String,
    /// Configuration file (JSON map of rfy options).
    #[arg(long, default_value = CONF_FILE)]
    conf: std::path::PathBuf,
}

async fn run(args: Args) -> Result<()> {
    let conf = if args.conf.exists() {
        let text = std::fs::read_to_string(&args.conf).with_context(|| format!("reading {}", args.conf.display()))?;
        let map: BTreeMap<String, String> =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", args.conf.display()))?;
        Configuration::from_map(&map, Source::Programmatic)?
    } else {
        Configuration::new()
    };
    let log_dir = std::env::var("LOG_DIRS").ok().and_then(|d| d.split(',').next().map(str::to_string));
    let log_path = log_dir.map(|d| format!("{d}/taskmanager.log")).unwrap_or_default();
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
            conf,
        },
        Arc::new(rfy_jobs::BUILTIN),
    )
    .await?;
    tm.wait().await?;
    tracing::info!("TaskManager stopped");
    Ok(())
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false).init();
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("TaskManager failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
