//! The rfy client as a library: command-line shapes, job planning, the
//! embedded local cluster, and the REST client that submits and follows jobs.
//! The `rfy` binary is a thin `main` over it; integration tests use it too.

pub mod cli;
pub mod follow;
pub mod local;
pub mod plan;
pub mod session;
pub mod yarn;
