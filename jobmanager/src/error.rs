//! Errors of the JobManager.

/// Why the JobManager could not start.
#[derive(Debug, thiserror::Error)]
pub enum JobManagerError {
    /// A server socket could not be bound.
    #[error("cannot bind the {what} on {address}: {source}")]
    Bind {
        /// Which server.
        what: &'static str,
        /// The address asked for.
        address: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The Prometheus reporter's port (range) is invalid.
    #[error("invalid configuration: {0}")]
    PortRange(#[from] rfy_conf::PortRangeError),
    /// Fewer TaskManagers than wanted registered within the time allowed.
    #[error("only {registered} of {wanted} TaskManagers registered within {:.0} s", timeout.as_secs_f64())]
    TaskManagersMissing {
        /// How many registered.
        registered: usize,
        /// How many were waited for.
        wanted: usize,
        /// How long the wait was.
        timeout: std::time::Duration,
    },
}

/// Why a job submission was refused (REST answers 400 with this text).
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The JobGraph is not valid.
    #[error("invalid JobGraph: {0}")]
    InvalidJobGraph(String),
    /// A job with this id is already known to the Dispatcher.
    #[error("job {0} already exists")]
    DuplicateJobId(String),
    /// A given job id is not 32 hexadecimal digits (Flink's `JobID`).
    #[error("invalid job id '{0}': expected 32 hexadecimal digits")]
    InvalidJobId(String),
    /// The job could not be recorded before its submission was acknowledged.
    #[error(transparent)]
    Store(#[from] crate::job_graph_store::JobGraphStoreError),
}
