//! The one logging setup of every rfy process (the `rfy` client, the
//! ApplicationMaster, the TaskManager worker, and user job executables in
//! any of these roles): `tracing` events as text lines on stderr, filtered by
//! `RUST_LOG` (`tracing_subscriber::EnvFilter` syntax) or the role's default
//! level, colored only when stderr is a terminal. YARN container commands
//! redirect stderr to `<LOG_DIR>/jobmanager.log` or `taskmanager.log`.

use std::io::IsTerminal;

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
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(role != LogRole::Client)
        .try_init();
}
