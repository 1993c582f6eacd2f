//! Wire schema between rfy's JobManager and TaskManagers: generated from
//! `proto/rfy.proto` (see that file for what each service does).

/// Version of the JobManager ⇄ TaskManager protocol. A TaskManager sends it at
/// registration; the JobManager refuses a TaskManager whose version differs.
pub const PROTOCOL_VERSION: u32 = 3;

/// Generated protobuf messages and tonic clients/servers (package `rfy.v1`).
#[allow(missing_docs, clippy::all)]
pub mod v1 {
    tonic::include_proto!("rfy.v1");
}

pub use v1::*;
