//! rfy's YARN ApplicationMaster as a library: the bundle contract between
//! the client and the AM ([`bundle`]), the YARN resource driver that turns the
//! JobManager's requests for TaskManagers into container asks and container
//! launches ([`driver`]), and the AM itself ([`app`]) in Flink's three
//! deployment modes: application (the job's `main` in the AM), per-job
//! ([`per_job`]: a JobGraph the client planned) and session ([`session`]:
//! a JobManager with no job that clients submit jobs to).
//!
//! Planning a job ([`plan`]) lives here too: the client and the AM's job
//! main share it. The `rfy-am` binary is [`main`] with the built-in
//! programs, a job executable calls it with its own; the client uses
//! [`bundle`] to know what to upload and how to start the AM.

#![warn(missing_docs)]

pub mod app;
pub mod bundle;
pub mod driver;
mod entry;
pub mod failover;
pub mod job_store;
pub mod outcome;
pub mod per_job;
pub mod plan;
pub mod session;
pub mod sigterm;
mod single_job;

pub use entry::main;
