//! The REST contract between rfy's JobManager (the Dispatcher's REST API) and
//! its clients (`rfy`, the web UI, Flink's own CLI): one serde type per
//! request and response body, named after Flink's class
//! (`org.apache.flink.runtime.rest.messages.*` in `flink-runtime` 2.3), with
//! Flink's exact JSON field names (`#[serde(rename = ...)]`: kebab-case,
//! camelCase and snake_case as each class has them).
//!
//! The JobManager serializes these types, the client deserializes them: a
//! renamed or missing field is a compile error on one side or a
//! deserialization error on the other, never a silent default. Fields that
//! are `Option` are `null` in the JSON when absent (as Flink writes them).
//!
//! Modules follow Flink's route groups: [`jobs`], [`checkpoints`],
//! [`operations`] (savepoints, stop, disposal: asynchronous operations),
//! [`cluster`], [`taskmanagers`], [`metrics`], [`logs`], [`errors`].

pub mod checkpoints;
pub mod cluster;
pub mod errors;
pub mod jobs;
pub mod logs;
pub mod metrics;
pub mod operations;
pub mod taskmanagers;

pub use checkpoints::*;
pub use cluster::*;
pub use errors::*;
pub use jobs::*;
pub use logs::*;
pub use metrics::*;
pub use operations::*;
pub use taskmanagers::*;

/// Flink's `ExecutionState` names, in Flink's enum order (the keys of every task-count map).
pub const EXECUTION_STATES: [&str; 10] = [
    "CREATED",
    "SCHEDULED",
    "DEPLOYING",
    "RUNNING",
    "FINISHED",
    "CANCELING",
    "CANCELED",
    "FAILED",
    "RECONCILING",
    "INITIALIZING",
];

/// Flink's `JobStatus` names, in Flink's enum order (the keys of `JobDetailsInfo.timestamps`).
pub const JOB_STATES: [&str; 11] = [
    "INITIALIZING",
    "CREATED",
    "RUNNING",
    "FAILING",
    "FAILED",
    "CANCELLING",
    "CANCELED",
    "FINISHED",
    "RESTARTING",
    "SUSPENDED",
    "RECONCILING",
];
