//! rfy's JobManager: the Dispatcher (REST API and web UI; starts one
//! JobMaster per submitted job), the JobMaster (deploys a JobGraph's subtasks
//! into slots and tracks their states), and the ResourceManager (registered
//! TaskManagers, their slots, heartbeats, and a driver that obtains
//! TaskManagers from the environment: local or YARN).
//!
//! Calls: client → Dispatcher (REST); TaskManager → JobManager (gRPC
//! `JobManagerGateway`); JobMaster → TaskManager (gRPC `TaskExecutorGateway`).

mod checkpoint;
mod cluster;
mod deployment;
mod dispatcher;
mod error;
mod gateway;
pub mod job_graph_store;
mod job_master;
mod metrics;
mod resource_manager;
mod rest;
mod restart;
mod status;
mod task_calls;
mod web;

pub use checkpoint::{
    check_settings as check_checkpoint_settings, CheckpointSettingsError, CheckpointStat, CheckpointState,
    CheckpointStats, RestoredStat,
};
pub use cluster::{JobManager, JobManagerConfig, JobManagerHandle};
pub use error::{JobManagerError, SubmitError};
pub use resource_manager::{executable_sha256, ResourceDriver, StaticDriver, TaskManagerInfo};
pub use rfy_rpc::auth::ClusterSecret;
pub use status::{execution_state_name, ExceptionEntry, JobSnapshot, JobState, JobStatus, SavepointOp, TaskStatus};
