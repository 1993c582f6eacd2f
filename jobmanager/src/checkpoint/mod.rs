//! The JobMaster's checkpoint coordinator: triggers checkpoints at the
//! sources, collects acknowledgements, completes a checkpoint by writing
//! `_metadata` last and atomically, aborts the ones that time out or are
//! declined (removing their files), keeps `state.checkpoints.num-retained`
//! completed ones, moves savepoints to their target directory, and picks the
//! checkpoint to restore from (falling back past damaged ones).

mod coordinator;
mod settings;
mod stats;

pub(crate) use coordinator::{Aborted, Completion, Coordinator, SavepointRequest};
pub(crate) use settings::{storage_uri, CheckpointSettings};
pub use stats::{CheckpointStat, CheckpointState, CheckpointStats, RestoredStat};
