//! The one logging setup of every rfy process (the `rfy` client, the
//! ApplicationMaster, the TaskManager worker, and user job executables in
//! any of these roles): `tracing` events as text lines on stderr, filtered by
//! `RUST_LOG` (`tracing_subscriber::EnvFilter` syntax) or the role's default
//! level, colored only when stderr is a terminal. YARN container commands
//! redirect stderr to `<LOG_DIR>/jobmanager.log` or `taskmanager.log`; a
//! process without such a redirect (the embedded local cluster with
//! `env.log.dir`) also writes every line to a file with [`also_to_file`].

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The file the process also logs to, once [`also_to_file`] set one.
static LOG_FILE: OnceLock<Mutex<std::fs::File>> = OnceLock::new();

/// Writes a log line to stderr and, if set, to [`LOG_FILE`].
struct Tee;

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(f) = LOG_FILE.get() {
            let _ = f.lock().unwrap_or_else(|p| p.into_inner()).write_all(buf);
        }
        std::io::stderr().write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// From now on, also appends every log line to `path` (created, with its
/// directory). Only the first call takes effect: a process has one log file.
///
/// Errors: the directory or file cannot be created (the error names neither;
/// callers add the path).
pub fn also_to_file(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    if LOG_FILE.set(Mutex::new(f)).is_ok() {
        let _ = LOG_FILE_PATH.set(path.to_path_buf());
    }
    Ok(())
}

/// The log file set by [`also_to_file`], if any.
pub fn log_file() -> Option<PathBuf> {
    LOG_FILE_PATH.get().cloned()
}

static LOG_FILE_PATH: OnceLock<PathBuf> = OnceLock::new();

/// Which process logs; sets the default level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogRole {
    /// The command line: `warn` by default (its output is for the user).
    Client,
    /// The JobManager / ApplicationMaster: `info` by default.
    JobManager,
    /// A TaskManager: `info` by default.
    TaskManager,
}

impl LogRole {
    /// The filter used when `RUST_LOG` is not set.
    pub fn default_filter(self) -> &'static str {
        match self {
            LogRole::Client => "warn",
            LogRole::JobManager | LogRole::TaskManager => "info",
        }
    }
}

/// Installs the process's logger. Call once, first thing in `main`; a
/// second call (a logger is already installed) does nothing.
///
/// ```
/// rfy_conf::logging::init(rfy_conf::logging::LogRole::Client);
/// tracing::warn!("shown on stderr");
/// ```
pub fn init(role: LogRole) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(role.default_filter()));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| Tee)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(role != LogRole::Client)
        .try_init();
}
