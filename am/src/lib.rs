//! rfy's YARN ApplicationMaster as a library: the bundle contract between
//! the client and the AM ([`bundle`]), the YARN resource driver that turns the
//! JobManager's requests for TaskManagers into container asks and container
//! launches ([`driver`]), and the AM itself ([`app`]) in Flink's three
//! deployment modes: application (the job's `main` in the AM), per-job
//! ([`per_job`]: a JobGraph the client planned) and session ([`session`]:
//! a JobManager with no job that clients submit jobs to).
//!
//! The `rfy-am` binary is a thin `main` over [`app::run`]; the client uses
//! [`bundle`] to know what to upload and how to start the AM.

#![warn(missing_docs)]

pub mod app;
pub mod bundle;
pub mod driver;
pub mod per_job;
pub mod session;
