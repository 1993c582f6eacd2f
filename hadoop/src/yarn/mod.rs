//! YARN clients: the ApplicationMaster's IPC protocols and the RM REST API.
//!
//! - [`amrm`]: `ApplicationMasterProtocol` (register, allocate heartbeat, finish).
//! - [`nm`]: `ContainerManagementProtocol` (start, stop, status of containers).
//! - [`rest`]: the ResourceManager's REST API (submit, report, kill, nodes).
//! - [`records`]: ids and records shared by them.
//! - [`container_logs`]: a running application's container logs (RM and NodeManager web services).
//! - [`aggregated_log`] over [`tfile`]: a finished application's aggregated logs.

pub mod aggregated_log;
pub mod amrm;
pub mod container_logs;
pub mod nm;
pub mod records;
pub mod rest;
mod rest_types;
pub mod tfile;

pub use records::{
    ApplicationAttemptId, ApplicationId, Container, ContainerId, ContainerState, ContainerStatus, LocalResource,
    LocalResourceType, LocalResourceVisibility, NodeId, Resource,
};

use crate::config::ConfigError;
use crate::ipc::IpcError;
use crate::token::TokenError;

/// Errors of the YARN IPC clients ([`amrm`], [`nm`]).
#[derive(Debug, thiserror::Error)]
pub enum YarnError {
    /// The IPC layer failed (connection, authentication, or a Java exception from the server).
    #[error(transparent)]
    Ipc(#[from] IpcError),
    /// The credentials could not be read, or lack the needed token.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The Hadoop configuration could not be read.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A request could not be built (e.g. a local resource URI that does not parse).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A NodeManager refused one container of a bulk request.
    #[error("NodeManager {node} refused container {container}: {class_name}: {message}")]
    ContainerRequestFailed {
        /// `host:port` of the NodeManager.
        node: String,
        /// The container.
        container: ContainerId,
        /// Java exception class (from `SerializedException`).
        class_name: String,
        /// Its message.
        message: String,
    },
    /// `finishApplicationMaster` kept answering "not unregistered yet".
    #[error("ResourceManager {addr} did not confirm unregistration within {after:?}")]
    NotUnregistered {
        /// Scheduler address.
        addr: String,
        /// How long we tried.
        after: std::time::Duration,
    },
}

impl YarnError {
    /// The server's Java exception, if the error is one.
    pub fn remote(&self) -> Option<&crate::ipc::RemoteException> {
        match self {
            YarnError::Ipc(e) => e.remote(),
            _ => None,
        }
    }
}
