//! Checkpoints: the state file format, the `_metadata` document, the
//! key-group-partitioned heap state table, and each task's checkpointing hub
//! (barrier triggers at sources, snapshots collected at barriers, an
//! asynchronous writer, commit notifications, and restored state).
//!
//! Layout on storage (a local directory or HDFS, see `storage`):
//! `<state.checkpoints.dir>/<job-id>/chk-<n>/` holds one file per operator
//! subtask with state (`<uid>-<subtask>`) and `_metadata`, written last by
//! the JobMaster. A checkpoint without `_metadata` does not exist.

pub(crate) mod blobs;
pub mod format;
pub mod keyed;
pub mod metadata;
pub mod storage;
mod task;
#[cfg(test)]
pub(crate) mod test_support;

pub use keyed::{FlatKeyedMap, KeyGroupRange, KeyGroupedMap};
pub use metadata::{CheckpointMetadata, OperatorMeta, SavepointFormat, StateHandle, METADATA_FILE};
pub use storage::{join, open_storage, CheckpointStorage};
pub use task::{CheckpointResponder, OperatorSnapshot, RestoreSource, RestoredItems, SourceTrigger, TaskCheckpointing};

/// Why a snapshot could not be written or read back.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Storage I/O failed; `context` names the file or directory.
    #[error("{context}: {source}")]
    Io {
        /// What was done, naming the path.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint file is damaged or not what it should be.
    #[error("corrupt checkpoint file {path}: {reason}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A file of a checkpoint being restored could not be read (missing, or
    /// the storage refused it).
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// State could not be serialized.
    #[error("cannot serialize state: {0}")]
    Encode(String),
}

impl CheckpointError {
    /// The checkpoint file this error found missing, unreadable or damaged
    /// (`Corrupt`, `Unreadable`): a restore from its checkpoint cannot succeed.
    /// `None` for other errors (writing, encoding, storage I/O in general).
    pub fn damaged_file(&self) -> Option<&str> {
        match self {
            CheckpointError::Corrupt { path, .. } | CheckpointError::Unreadable { path, .. } => Some(path),
            CheckpointError::Io { .. } | CheckpointError::Encode(_) => None,
        }
    }
}

/// Directory of checkpoint `id` under a job's checkpoint directory.
pub fn checkpoint_dir_name(id: u64) -> String {
    format!("chk-{id}")
}

/// A file-name-safe form of an operator uid.
pub fn file_safe(uid: &str) -> String {
    uid.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' }).collect()
}
