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

use crate::status::JobStatus;

/// Checks the checkpoint options of `conf` as the JobMaster will read them,
/// so a client can reject a bad combination before it submits.
///
/// Errors: one line naming the option (an unsupported storage URI, or
/// `execution.checkpointing.interval` without `state.checkpoints.dir`).
pub fn check_settings(conf: &rfy_conf::Configuration) -> Result<(), String> {
    CheckpointSettings::from_conf(conf).map(|_| ())
}
use rfy_rpc::ExecutionState;

/// True if a checkpoint can be triggered now: every task RUNNING, or, with
/// a final checkpoint (`final_checkpoint`), RUNNING or FINISHED with at least
/// one source still RUNNING to inject the barrier (Flink's checkpoints after
/// tasks finish: a finished source's last state is carried forward).
pub(crate) fn can_trigger(st: &JobStatus, final_checkpoint: bool) -> bool {
    if !final_checkpoint {
        return st.tasks.iter().all(|t| t.state == ExecutionState::Running);
    }
    st.tasks.iter().all(|t| matches!(t.state, ExecutionState::Running | ExecutionState::Finished))
        && st.tasks.iter().any(|t| t.state == ExecutionState::Running && st.graph.inputs_of(t.vertex).is_empty())
}
