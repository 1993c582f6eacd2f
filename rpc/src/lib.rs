//! Wire schema between rfy's JobManager and TaskManagers: generated from
//! `proto/rfy.proto` (see that file for what each service does) by
//! tonic-prost-build into `generated/rfy.v1.rs`, which is checked in so that
//! no build compiles the code generator; `tests/generated_code.rs` fails when
//! it differs from what the schema generates, and rewrites it with
//! `RFY_BLESS=1 cargo test -p rfy-rpc --test generated_code`.

/// Version of the JobManager ⇄ TaskManager protocol. A TaskManager sends it at
/// registration; the JobManager refuses a TaskManager whose version differs.
pub const PROTOCOL_VERSION: u32 = 5;

/// Environment variable a TaskManager started from a job executable finds
/// that executable's SHA-256 (hex) in, to send it in its registration
/// (`RegisterTaskManagerRequest.executable_sha256`); unset for the cluster's
/// own worker. Set by the YARN ApplicationMaster in the container's environment.
pub const EXECUTABLE_SHA256_ENV: &str = "RFY_EXECUTABLE_SHA256";

pub mod auth;

/// Generated protobuf messages and tonic clients/servers (package `rfy.v1`).
#[allow(missing_docs, clippy::all)]
pub mod v1 {
    include!("../generated/rfy.v1.rs");
}

pub use v1::*;
