//! Where keyed state lives, chosen per job with Flink's key
//! `state.backend.type`:
//!
//! - `hashmap` (default, Flink's `HashMapStateBackend`): objects on the heap,
//!   bounded by managed memory (see `api/state.rs`, `checkpoint/keyed.rs`).
//! - `embedded-lsm`: serialized on the TaskManager's local disk in an
//!   embedded log-structured merge tree ([`fjall`], pure Rust), with a small
//!   write-back cache of objects in front ([`DiskTable`]); state may outgrow
//!   memory. The name says what it is (an LSM tree embedded in the task
//!   process), as Flink's `rocksdb` names its engine; rfy has no RocksDB, and
//!   a job configured with `rocksdb` gets a clear error rather than another
//!   engine under that name.
//!
//! Both backends snapshot the same canonical per-key-group images (postcard of
//! a key group's `(key, value)` pairs), so a savepoint taken with one restores
//! with the other and at another parallelism.
//!
//! On disk every key is prefixed by its key group (big-endian `u16`; Flink's
//! `CompositeKeySerializationUtils` writes 1 or 2 bytes, rfy always 2 since
//! `pipeline.max-parallelism` ≤ 32768), so a range of key groups is one range
//! scan: found, deleted or shipped without touching the others.

mod disk_table;
mod lsm;

use std::path::PathBuf;

pub use disk_table::DiskTable;
pub use lsm::LsmStore;

/// The value of `state.backend.type` that keeps state on the heap.
pub const HASHMAP: &str = "hashmap";
/// The value of `state.backend.type` that keeps state in an embedded LSM tree on local disk.
pub const EMBEDDED_LSM: &str = "embedded-lsm";

/// The keyed state backend of a task (`state.backend.type`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StateBackend {
    /// Objects on the heap (Flink's `hashmap`).
    #[default]
    HashMap,
    /// An embedded LSM tree on local disk per keyed operator.
    EmbeddedLsm(LsmSettings),
}

/// Where and with how much memory a task's on-disk state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LsmSettings {
    /// The task's directory (a YARN container's local dir, or the temporary
    /// directory locally); each keyed operator opens its store in a
    /// subdirectory, removed when the operator is dropped.
    pub dir: PathBuf,
    /// Bytes of managed memory this task may use for the engine's block
    /// cache, write buffers and the object cache.
    pub memory_bytes: u64,
}

/// How a task's managed memory share is split between the parts of the
/// embedded store: the object cache in front, the engine's block cache and
/// its write buffers (memtables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemorySplit {
    /// Bytes of (serialized) entries the write-back cache holds before it writes back.
    pub object_cache: u64,
    /// The engine's block cache, bytes.
    pub block_cache: u64,
    /// Memtable size per keyspace, bytes.
    pub memtable: u64,
}

impl LsmSettings {
    /// Half to the object cache (the hot keys, as objects), a quarter to the
    /// block cache and a quarter to memtables, with floors so that tiny
    /// budgets still work (the engine wants ≥ 1 MiB memtables).
    pub fn split(&self) -> MemorySplit {
        let m = self.memory_bytes.max(8 << 20);
        MemorySplit { object_cache: m / 2, block_cache: m / 4, memtable: (m / 4).max(1 << 20) }
    }
}

impl StateBackend {
    /// Parses `state.backend.type` for a task whose on-disk state would live
    /// under `dir` with `memory_bytes` of managed memory.
    ///
    /// Errors: [`StateBackendError::Unknown`] for any other name (e.g.
    /// `rocksdb`, which rfy does not embed).
    pub fn from_config(name: &str, dir: PathBuf, memory_bytes: u64) -> Result<Self, StateBackendError> {
        match name.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            HASHMAP => Ok(StateBackend::HashMap),
            EMBEDDED_LSM => Ok(StateBackend::EmbeddedLsm(LsmSettings { dir, memory_bytes })),
            _ => Err(StateBackendError::Unknown(name.to_string())),
        }
    }

    /// The name under `state.backend.type`.
    pub fn name(&self) -> &'static str {
        match self {
            StateBackend::HashMap => HASHMAP,
            StateBackend::EmbeddedLsm(_) => EMBEDDED_LSM,
        }
    }

    /// True if state lives on disk (not bounded by managed memory).
    pub fn on_disk(&self) -> bool {
        matches!(self, StateBackend::EmbeddedLsm(_))
    }
}

/// An error of the on-disk state backend.
#[derive(Debug, thiserror::Error)]
pub enum StateBackendError {
    /// `state.backend.type` names no backend rfy has.
    #[error("state.backend.type: unknown state backend '{0}' (expected '{HASHMAP}' or '{EMBEDDED_LSM}')")]
    Unknown(String),
    /// The engine failed opening or using the store in `dir`.
    #[error("embedded-lsm state in {dir}: {what}: {source}")]
    Engine {
        /// The store's directory.
        dir: String,
        /// What was being done (e.g. `opening keyspace 'count'`).
        what: String,
        /// The engine's error.
        #[source]
        source: fjall::Error,
    },
    /// A stored key or value does not decode as the state's type (the
    /// function changed its state's type without a new name).
    #[error("embedded-lsm state '{state}': undecodable entry: {reason}")]
    Decode {
        /// The state's name.
        state: String,
        /// The decoder's message.
        reason: String,
    },
    /// A key or value cannot be serialized.
    #[error("embedded-lsm state '{state}': cannot serialize: {reason}")]
    Encode {
        /// The state's name.
        state: String,
        /// The encoder's message.
        reason: String,
    },
}

impl From<StateBackendError> for crate::error::TaskError {
    fn from(e: StateBackendError) -> Self {
        crate::error::TaskError::State(e.to_string())
    }
}

impl From<StateBackendError> for crate::checkpoint::CheckpointError {
    fn from(e: StateBackendError) -> Self {
        crate::checkpoint::CheckpointError::Io {
            context: "reading keyed state for a snapshot".into(),
            source: std::io::Error::other(e),
        }
    }
}

#[cfg(test)]
mod tests;
