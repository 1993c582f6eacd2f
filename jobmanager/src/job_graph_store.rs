//! Where the Dispatcher records a job it accepts before it acknowledges the
//! submission (Flink's `JobGraphStore`: `Dispatcher.submitJob` writes the
//! JobGraph through `JobGraphWriter.putJobGraph` before the job runs), so a
//! JobManager that takes over after a crash finds every job whose submission
//! was acknowledged. Only a JobManager that can be taken over (the YARN
//! session ApplicationMaster) installs one; the store itself lives with that
//! process (HDFS, in the AM's staging directory).

use std::collections::BTreeMap;

use rfy_runtime::JobGraph;

/// A job as the Dispatcher accepted it, to be recorded.
#[derive(Debug, Clone, Copy)]
pub struct SubmittedJobGraph<'a> {
    /// The job id the submission will be answered with (32 hex digits).
    pub job_id: &'a str,
    /// The JobGraph's name.
    pub name: &'a str,
    /// The JobGraph as submitted.
    pub graph: &'a JobGraph,
    /// The job's own configuration (`-D` keys of the submission).
    pub config: &'a BTreeMap<String, String>,
}

/// A job could not be recorded: the submission fails and the job does not run.
#[derive(Debug, thiserror::Error)]
#[error("cannot record job {job_id} in the job graph store at {location}: {source}")]
pub struct JobGraphStoreError {
    /// The job that was being submitted.
    pub job_id: String,
    /// Where the store is (a path or URI).
    pub location: String,
    /// The store's own error.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Durable storage of accepted jobs, written before a submission is acknowledged.
pub trait JobGraphStore: Send + Sync {
    /// Records `job` durably. Called on a blocking thread (it may do file
    /// system I/O) before the Dispatcher starts the job or answers the client.
    ///
    /// Errors: the store cannot be written; the submission then fails with
    /// this error and nothing runs.
    fn put(&self, job: &SubmittedJobGraph<'_>) -> Result<(), JobGraphStoreError>;
}
