//! The rfy client as a library: command-line shapes, job planning, the
//! embedded local cluster, and the REST client that submits and follows jobs.
//! The `rfy` binary is a thin `main` over [`main`]; job executables call it
//! with their own programs; integration tests use it too.

mod am_attempts;
mod app;
mod bundle_upload;
pub mod cache;
pub mod cli;
pub mod doctor;
mod doctor_nodes;
pub mod executable;
pub mod follow;
pub mod kerberos;
pub mod local;
pub mod logs;
pub mod new_project;
pub mod plan;
mod progress;
pub mod queue_fit;
pub mod rest_client;
pub mod session;
pub mod staging;
pub mod yarn;
pub mod yarn_logs;

pub use app::main;
