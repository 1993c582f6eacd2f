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
