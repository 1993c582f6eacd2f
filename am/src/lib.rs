//! rfy's YARN ApplicationMaster as a library: the bundle contract between
//! the client and the AM ([`bundle`]), the YARN resource driver that turns the
//! JobManager's requests for TaskManagers into container asks and container
//! launches ([`driver`]), and the application-mode AM itself ([`app`]).
//!
//! The `rfy-am` binary is a thin `main` over [`app::run`]; the client uses
//! [`bundle`] to know what to upload and how to start the AM.

#![warn(missing_docs)]

pub mod app;
pub mod bundle;
pub mod driver;
