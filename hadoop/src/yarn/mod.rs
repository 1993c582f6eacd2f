//! YARN clients: the ApplicationMaster's IPC protocols and the RM REST API.

pub mod amrm;
pub mod nm;
pub mod records;
pub mod rest;

pub use records::{ApplicationAttemptId, ApplicationId, ContainerId, NodeId, Resource};
