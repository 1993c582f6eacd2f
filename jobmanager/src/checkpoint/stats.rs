//! Checkpoint statistics of a job, shown by `GET /jobs/{jobid}/checkpoints`
//! in Flink's shape.

use rfy_runtime::checkpoint::SavepointFormat;
use serde::Serialize;
use serde_json::{json, Value};

/// Flink's checkpoint states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CheckpointState {
    /// Triggered, not all acknowledgements in yet.
    InProgress,
    /// `_metadata` written.
    Completed,
    /// Aborted (timeout, decline, failover).
    Failed,
}

/// One checkpoint or savepoint.
#[derive(Debug, Clone)]
pub struct CheckpointStat {
    /// Checkpoint id.
    pub id: u64,
    /// Current state.
    pub state: CheckpointState,
    /// True for a savepoint.
    pub savepoint: bool,
    /// A savepoint's requested format (Flink's `savepointFormat`).
    pub savepoint_format: Option<SavepointFormat>,
    /// Trigger time, ms since the Unix epoch.
    pub trigger_ms: u64,
    /// Completion or failure time, ms since the Unix epoch (0 = not yet).
    pub end_ms: u64,
    /// Bytes of state files.
    pub state_size: u64,
    /// Tasks that acknowledged / tasks asked.
    pub acknowledged: u32,
    /// Tasks asked.
    pub total_tasks: u32,
    /// Directory of a completed checkpoint or savepoint.
    pub external_path: Option<String>,
    /// Why it failed.
    pub failure: Option<String>,
}

/// What the job restored from last.
#[derive(Debug, Clone)]
pub struct RestoredStat {
    /// Checkpoint id restored.
    pub id: u64,
    /// When, ms since the Unix epoch.
    pub restore_ms: u64,
    /// True if it was a savepoint.
    pub savepoint: bool,
    /// Its directory.
    pub external_path: String,
}

/// All checkpoint statistics of a job.
#[derive(Debug, Clone, Default)]
pub struct CheckpointStats {
    /// Newest last; at most [`HISTORY`] entries.
    pub history: Vec<CheckpointStat>,
    /// Counts since the job started.
    pub completed: u64,
    /// Failed checkpoints.
    pub failed: u64,
    /// Restores.
    pub restored_count: u64,
    /// The last restore.
    pub restored: Option<RestoredStat>,
}

/// History entries kept.
pub const HISTORY: usize = 20;

impl CheckpointStats {
    /// Updates (or adds) the entry of checkpoint `stat.id`.
    pub(crate) fn upsert(&mut self, stat: CheckpointStat) {
        match self.history.iter_mut().find(|h| h.id == stat.id) {
            Some(h) => *h = stat,
            None => {
                self.history.push(stat);
                if self.history.len() > HISTORY {
                    self.history.remove(0);
                }
            }
        }
    }

    fn stat_json(s: &CheckpointStat) -> Value {
        json!({
            "className": if s.state == CheckpointState::Completed { "completed" } else if s.state == CheckpointState::Failed { "failed" } else { "in_progress" },
            "id": s.id,
            "status": s.state,
            "is_savepoint": s.savepoint,
            "checkpoint_type": if s.savepoint { "SAVEPOINT" } else { "CHECKPOINT" },
            "trigger_timestamp": s.trigger_ms,
            "latest_ack_timestamp": if s.end_ms > 0 { s.end_ms as i64 } else { -1 },
            "end_to_end_duration": if s.end_ms > 0 { s.end_ms.saturating_sub(s.trigger_ms) as i64 } else { -1 },
            "state_size": s.state_size,
            "checkpointed_size": s.state_size,
            "num_subtasks": s.total_tasks,
            "num_acknowledged_subtasks": s.acknowledged,
            "external_path": s.external_path,
            "failure_message": s.failure,
        })
    }

    /// The `/jobs/{jobid}/checkpoints` document.
    pub fn to_json(&self) -> Value {
        let in_progress = self.history.iter().filter(|h| h.state == CheckpointState::InProgress).count();
        let last =
            |pred: &dyn Fn(&CheckpointStat) -> bool| self.history.iter().rev().find(|h| pred(h)).map(Self::stat_json);
        json!({
            "counts": {
                "restored": self.restored_count,
                "total": self.completed + self.failed + in_progress as u64,
                "in_progress": in_progress,
                "completed": self.completed,
                "failed": self.failed,
            },
            "latest": {
                "completed": last(&|h| h.state == CheckpointState::Completed && !h.savepoint),
                "savepoint": last(&|h| h.state == CheckpointState::Completed && h.savepoint),
                "failed": last(&|h| h.state == CheckpointState::Failed),
                "restored": self.restored.as_ref().map(|r| json!({
                    "id": r.id, "restore_timestamp": r.restore_ms, "is_savepoint": r.savepoint, "external_path": r.external_path,
                })),
            },
            "history": self.history.iter().rev().map(Self::stat_json).collect::<Vec<_>>(),
        })
    }
}
