//! Typed errors of the runtime.

use crate::checkpoint::CheckpointError;

/// A planning-time check of a source or sink failed ([`crate::sources::Source::check`],
/// [`crate::sinks::Sink::check`]): an input missing, an output not writable,
/// a broker unreachable. The text names the path or address at fault.
#[derive(Debug, thiserror::Error)]
pub enum IoCheckError {
    /// What is wrong, one line naming the path or address.
    #[error("{0}")]
    Failed(String),
    /// The connector's client failed (its error names the path or address).
    #[error(transparent)]
    Client(Box<dyn std::error::Error + Send + Sync>),
}

impl IoCheckError {
    /// Wraps a connector client's error, keeping it as the source.
    pub fn client(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        IoCheckError::Client(e.into())
    }
}

impl From<String> for IoCheckError {
    fn from(message: String) -> Self {
        IoCheckError::Failed(message)
    }
}

impl From<&str> for IoCheckError {
    fn from(message: &str) -> Self {
        IoCheckError::Failed(message.to_string())
    }
}

/// Why a task (or the building of one) failed.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The task was asked to stop (job canceled or failing elsewhere).
    #[error("task canceled")]
    Canceled,
    /// An I/O error; `context` names the file, directory or address at fault.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the path or address.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An error raised by user code or by a connector (text is shown as is).
    #[error("{0}")]
    User(String),
    /// A peer channel closed before it sent its end-of-partition event.
    #[error("data channel closed unexpectedly: {0}")]
    ChannelClosed(String),
    /// A network buffer could not be decoded into records or an event.
    #[error("corrupt network buffer: {0}")]
    Decode(String),
    /// Taking or restoring a snapshot of state failed (the text names the file).
    #[error("state: {0}")]
    State(String),
    /// A checkpoint file could not be written or read back; see
    /// [`CheckpointError::damaged_file`] for a restore that cannot succeed.
    #[error("state: {0}")]
    Checkpoint(#[source] CheckpointError),
    /// The operators built from the job program do not fit together: the
    /// program is not the one the JobGraph was made from.
    #[error("job program does not match its JobGraph: {0}")]
    Mismatch(String),
}

impl TaskError {
    /// An I/O error with a context naming the path or address at fault.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        TaskError::Io { context: context.into(), source }
    }

    /// The file of the restored checkpoint this task could not read (missing,
    /// unreadable or damaged), if that is why it failed.
    pub fn damaged_checkpoint_file(&self) -> Option<&str> {
        match self {
            TaskError::Checkpoint(e) => e.damaged_file(),
            _ => None,
        }
    }
}

impl From<CheckpointError> for TaskError {
    /// Storage I/O stays an I/O error; any other checkpoint error is kept
    /// whole, so a damaged restore stays recognizable ([`TaskError::damaged_checkpoint_file`]).
    fn from(e: CheckpointError) -> Self {
        match e {
            CheckpointError::Io { context, source } => TaskError::Io { context, source },
            other => TaskError::Checkpoint(other),
        }
    }
}

/// Why a job run in this process ([`crate::task::run_local`]) failed.
#[derive(Debug, thiserror::Error)]
pub enum LocalRunError {
    /// The dataflow is not valid.
    #[error(transparent)]
    Job(#[from] JobError),
    /// A task failed (the first failure; the others were canceled).
    #[error(transparent)]
    Task(#[from] TaskError),
}

/// Why a job program could not build its dataflow or JobGraph.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Bad job arguments (e.g. `--input` missing); the text says which.
    #[error("{0}")]
    BadArguments(String),
    /// The dataflow is not valid (e.g. forward edge between different parallelisms).
    #[error("invalid dataflow: {0}")]
    InvalidGraph(String),
    /// The program named in a JobGraph or on the command line is unknown.
    #[error("unknown job '{0}'")]
    UnknownJob(String),
}
