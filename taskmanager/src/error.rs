//! Errors of the TaskManager.

/// Why a TaskManager could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum TaskManagerError {
    /// A server socket could not be bound.
    #[error("cannot bind {what} on {address}: {source}")]
    Bind {
        /// Which server.
        what: &'static str,
        /// The address asked for.
        address: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The JobManager could not be reached, or refused the registration.
    #[error("cannot register at the JobManager {address}: {reason}")]
    Registration {
        /// The JobManager's RPC address.
        address: String,
        /// Why.
        reason: String,
    },
    /// The JobManager stopped answering heartbeats.
    #[error("JobManager {address} unreachable for {seconds:.1} s")]
    JobManagerLost {
        /// The JobManager's RPC address.
        address: String,
        /// How long it did not answer, s.
        seconds: f64,
    },
}
