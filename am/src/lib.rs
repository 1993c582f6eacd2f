//! rfy's YARN ApplicationMaster as a library: the bundle contract between
//! the client and the AM ([`bundle`]), the YARN resource driver that turns the
//! JobManager's requests for TaskManagers into container asks and container
//! launches ([`driver`]), and the application-mode AM itself ([`app`]).
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
pub mod plan;

pub use entry::main;
