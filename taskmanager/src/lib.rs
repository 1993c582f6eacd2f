//! rfy's TaskManager: registers its slots with the JobManager, heartbeats,
//! runs deployed tasks (one thread each), and serves its result partitions
//! to consumer tasks on other TaskManagers.
//!
//! Calls: TaskManager → JobManager (`JobManagerGateway`: register, heartbeat,
//! task state); JobManager → TaskManager (`TaskExecutorGateway`: submit,
//! cancel); TaskManager ⇄ TaskManager (`DataExchange`: a consumer pulls a
//! subpartition as a stream of buffers).

mod convert;
mod data;
mod error;
mod executor;
mod memory;
mod metrics;
mod runner;

pub use error::TaskManagerError;
pub use rfy_rpc::auth::ClusterSecret;
pub use runner::{TaskManager, TaskManagerConfig, TaskManagerHandle, REGISTRATION_TIMEOUT};
