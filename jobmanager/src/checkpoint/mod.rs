//! The JobMaster's checkpoint coordinator: triggers checkpoints at the
//! sources, collects acknowledgements, completes a checkpoint by writing
//! `_metadata` last and atomically, aborts the ones that time out or are
//! declined (removing their files), keeps `state.checkpoints.num-retained`
//! completed ones, moves savepoints to their target directory, and picks the
//! checkpoint to restore from (falling back past damaged ones).
//!
//! The coordinator decides; its storage work (`io.rs`) runs where the
//! JobMaster puts it (off its task). This module depends on no other part of
//! the JobManager.

mod coordinator;
mod error;
mod io;
mod settings;
mod stats;

pub(crate) use coordinator::{Aborted, Completion, Coordinator, SavepointRequest};
pub(crate) use error::AbortReason;
pub(crate) use io::{default_opener, StorageOpener, WritePlan};
pub use settings::CheckpointSettingsError;
pub(crate) use settings::{storage_uri, CheckpointSettings};
pub use stats::{CheckpointStat, CheckpointState, CheckpointStats, RestoredStat};

/// Checks the checkpoint options of `conf` as the JobMaster will read them,
/// so a client can reject a bad combination before it submits.
///
/// Errors: one line naming the option (an unsupported storage URI, or
/// `execution.checkpointing.interval` without `state.checkpoints.dir`).
pub fn check_settings(conf: &rfy_conf::Configuration) -> Result<(), CheckpointSettingsError> {
    CheckpointSettings::from_conf(conf).map(|_| ())
}
