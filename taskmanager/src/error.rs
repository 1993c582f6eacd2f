//! Errors of the TaskManager.

/// Why a TaskManager could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum TaskManagerError {
    /// A server socket could not be bound.
    #[error("cannot bind {what} on {address}: {source}")]
    Bind {
        /// Which server.
        what: &'static str,
        /// The address asked for.
        address: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The memory options do not add up.
    #[error("invalid configuration: {0}")]
    Memory(#[from] rfy_conf::MemoryConfigError),
    /// The Prometheus reporter's port (range) is invalid.
    #[error("invalid configuration: {0}")]
    PortRange(#[from] rfy_conf::PortRangeError),
    /// The JobManager's address is not a valid endpoint.
    #[error("cannot register at the JobManager {address}: {source}")]
    JobManagerAddress {
        /// The JobManager's RPC address.
        address: String,
        /// Why.
        #[source]
        source: tonic::transport::Error,
    },
    /// The JobManager could not be reached within the registration timeout.
    #[error("cannot register at the JobManager {address}: {}", source.message())]
    Unreachable {
        /// The JobManager's RPC address.
        address: String,
        /// The last call's status.
        #[source]
        source: tonic::Status,
    },
    /// The JobManager refused the registration (e.g. another protocol version).
    #[error("cannot register at the JobManager {address}: {reason}")]
    Refused {
        /// The JobManager's RPC address.
        address: String,
        /// The JobManager's reason, as it sent it.
        reason: String,
    },
    /// The JobManager stopped answering heartbeats.
    #[error("JobManager {address} unreachable for {seconds:.1} s")]
    JobManagerLost {
        /// The JobManager's RPC address.
        address: String,
        /// How long it did not answer, s.
        seconds: f64,
    },
}

/// Why a task could not be deployed on this TaskManager; the JobManager gets
/// the text in the `Ack` of `submitTask`.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// `state.backend.type` names no backend of this TaskManager.
    #[error("{0}")]
    StateBackend(#[from] rfy_runtime::state_backend::StateBackendError),
    /// The deployment descriptor's JobGraph is not JSON of a JobGraph.
    #[error("undecodable JobGraph: {0}")]
    UndecodableJobGraph(#[source] serde_json::Error),
    /// The JobGraph is of another layout version.
    #[error("JobGraph version {found} is not supported (this TaskManager reads {supported})")]
    JobGraphVersion {
        /// The JobGraph's version.
        found: u32,
        /// The version this TaskManager reads.
        supported: u32,
    },
    /// The job program is not in this executable.
    #[error("unknown job program '{program}' on TaskManager {resource_id}")]
    UnknownProgram {
        /// The program's name.
        program: String,
        /// This TaskManager.
        resource_id: String,
    },
    /// The job program could not build its dataflow or JobGraph here.
    #[error(transparent)]
    Job(#[from] rfy_runtime::JobError),
    /// The job program built another JobGraph here than on the client.
    #[error("job program '{0}' built a different JobGraph on this TaskManager than on the client")]
    GraphMismatch(String),
    /// The task's configuration is invalid.
    #[error(transparent)]
    Conf(#[from] rfy_conf::ConfError),
    /// The descriptor names a vertex the JobGraph does not have.
    #[error("no vertex {0}")]
    NoVertex(u32),
    /// The network buffer pool cannot hold the task's channels.
    #[error(transparent)]
    NetworkMemory(#[from] crate::memory::NetworkMemoryError),
    /// A channel end of a local result partition was taken before.
    #[error("partition {partition} sub {subpartition} {side} twice")]
    ChannelTaken {
        /// The result partition.
        partition: String,
        /// The subpartition.
        subpartition: u32,
        /// `produced` or `consumed`.
        side: &'static str,
    },
    /// The checkpoint storage or the restored checkpoint's metadata cannot be used.
    #[error(transparent)]
    Checkpoint(#[from] rfy_runtime::checkpoint::CheckpointError),
    /// No thread could be started for the task.
    #[error("cannot start a task thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// Why a buffer from another TaskManager is not a channel message.
#[derive(Debug, thiserror::Error)]
pub enum WireBufferError {
    /// Records and an event in one buffer.
    #[error("buffer holds both records and an event")]
    RecordsAndEvent,
    /// The event does not decode.
    #[error("undecodable event: {0}")]
    UndecodableEvent(#[source] postcard::Error),
    /// A flush event (local to a TaskManager) came over the network.
    #[error("a flush event must not cross the network")]
    Flush,
}
