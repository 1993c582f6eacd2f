//! The StreamGraph under construction, shared by the environment and every
//! `DataStream` made from it (its own module so that neither depends on the
//! other for it).

use crate::graph::{ExecutionConfig, StreamEdge, StreamNode};

/// The nodes and edges a job program declared so far, and its planning-time checks.
pub(crate) struct GraphBuilder {
    pub(crate) job_name: String,
    pub(crate) config: ExecutionConfig,
    pub(crate) nodes: Vec<StreamNode>,
    pub(crate) edges: Vec<StreamEdge>,
    /// Checks of the job's inputs and outputs run when the job is planned (a missing input, an unreachable broker).
    pub(crate) io_checks: Vec<Box<dyn Fn() -> Result<(), crate::error::IoCheckError> + Send + Sync>>,
}
