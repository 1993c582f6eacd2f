//! Checkpoint routes: `GET /jobs/:id/checkpoints` ([`CheckpointingStatistics`]),
//! `GET /jobs/:id/checkpoints/config` ([`CheckpointConfigInfo`]), and the manual
//! checkpoint `POST /jobs/:id/checkpoints` ([`CheckpointTriggerRequestBody`],
//! answered by a [`crate::TriggerResponse`]) polled at
//! `GET /jobs/:id/checkpoints/:triggerid`
//! (`AsynchronousOperationResult<`[`CheckpointInfo`]`>`).
//!
//! Times are epoch milliseconds, sizes bytes, durations milliseconds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::operations::FailureCause;

/// Flink's `CheckpointingStatistics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointingStatistics {
    /// How many checkpoints in each state.
    pub counts: CheckpointCounts,
    /// Statistics over the completed checkpoints of the history.
    pub summary: CheckpointStatisticsSummary,
    /// The latest checkpoint of each kind.
    pub latest: LatestCheckpoints,
    /// Recent checkpoints, newest first.
    pub history: Vec<CheckpointStatistics>,
}

/// Flink's `CheckpointingStatistics.Counts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointCounts {
    /// Restores from a checkpoint or savepoint.
    pub restored: u64,
    /// Completed + failed + in progress.
    pub total: u64,
    /// In progress now.
    pub in_progress: u64,
    /// Completed since the job started.
    pub completed: u64,
    /// Failed since the job started.
    pub failed: u64,
}

/// Flink's `CheckpointingStatistics.Summary`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointStatisticsSummary {
    /// Bytes written per checkpoint.
    pub checkpointed_size: StatsSummaryDto,
    /// Full state size, bytes.
    pub state_size: StatsSummaryDto,
    /// Trigger to completion, ms.
    pub end_to_end_duration: StatsSummaryDto,
    /// Bytes buffered while aligning (rfy: 0).
    pub alignment_buffered: StatsSummaryDto,
    /// Bytes processed while aligning (rfy: 0).
    pub processed_data: StatsSummaryDto,
    /// In-flight bytes persisted (rfy: 0, no unaligned checkpoints).
    pub persisted_data: StatsSummaryDto,
}

/// Flink's `StatsSummaryDto`: min, max, average and percentiles of a figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsSummaryDto {
    /// Smallest value.
    pub min: u64,
    /// Largest value.
    pub max: u64,
    /// Mean (integer division).
    pub avg: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
}

/// Flink's `CheckpointingStatistics.LatestCheckpoints`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatestCheckpoints {
    /// The latest completed checkpoint (not a savepoint).
    pub completed: Option<CheckpointStatistics>,
    /// The latest completed savepoint.
    pub savepoint: Option<CheckpointStatistics>,
    /// The latest failed checkpoint.
    pub failed: Option<CheckpointStatistics>,
    /// What the job restored from last.
    pub restored: Option<RestoredCheckpointStatistics>,
}

/// Flink's `CheckpointStatistics` (with its subclass in `className`:
/// `completed`, `failed` or `in_progress`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointStatistics {
    /// Jackson's type id of Flink's subclass.
    #[serde(rename = "className")]
    pub class_name: String,
    /// Checkpoint id.
    pub id: u64,
    /// `IN_PROGRESS`, `COMPLETED` or `FAILED`.
    pub status: String,
    /// True for a savepoint.
    pub is_savepoint: bool,
    /// `CANONICAL` for a savepoint, else null.
    #[serde(rename = "savepointFormat")]
    pub savepoint_format: Option<String>,
    /// `CHECKPOINT` or `SAVEPOINT`.
    pub checkpoint_type: String,
    /// When triggered, ms.
    pub trigger_timestamp: u64,
    /// Last acknowledgement, ms; -1 before.
    pub latest_ack_timestamp: i64,
    /// Trigger to completion, ms; -1 while in progress.
    pub end_to_end_duration: i64,
    /// State size, bytes.
    pub state_size: u64,
    /// Bytes written by this checkpoint.
    pub checkpointed_size: u64,
    /// Bytes buffered while aligning (rfy: 0).
    pub alignment_buffered: u64,
    /// Bytes processed while aligning (rfy: 0).
    pub processed_data: u64,
    /// In-flight bytes persisted (rfy: 0).
    pub persisted_data: u64,
    /// Subtasks that take part.
    pub num_subtasks: u32,
    /// Subtasks that acknowledged.
    pub num_acknowledged_subtasks: u32,
    /// Per-vertex statistics (rfy: none).
    pub tasks: BTreeMap<String, serde_json::Value>,
    /// Where a completed checkpoint lies.
    pub external_path: Option<String>,
    /// True once discarded (rfy: not reported).
    pub discarded: bool,
    /// When it failed, ms; 0 unless failed.
    pub failure_timestamp: u64,
    /// Why it failed.
    pub failure_message: Option<String>,
}

/// Flink's `CheckpointingStatistics.RestoredCheckpointStatistics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoredCheckpointStatistics {
    /// Id of the checkpoint restored.
    pub id: u64,
    /// When restored, ms.
    pub restore_timestamp: u64,
    /// True for a savepoint.
    pub is_savepoint: bool,
    /// Its directory.
    pub external_path: String,
}

/// Flink's `CheckpointConfigInfo` (`GET /jobs/:id/checkpoints/config`), plus
/// rfy's `checkpoints-dir`, `savepoints-dir` and `num-retained`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointConfigInfo {
    /// `exactly_once` or `at_least_once`.
    pub mode: String,
    /// Periodic interval, ms; `i64::MAX` (Flink's `Long.MAX_VALUE`) for none.
    pub interval: i64,
    /// Checkpoint timeout, ms.
    pub timeout: i64,
    /// Minimum pause between checkpoints, ms.
    pub min_pause: i64,
    /// Concurrent checkpoints at most.
    pub max_concurrent: u32,
    /// Externalized checkpoint settings.
    pub externalization: ExternalizedCheckpointInfo,
    /// State backend name.
    pub state_backend: String,
    /// Checkpoint storage name.
    pub checkpoint_storage: String,
    /// Unaligned checkpoints (rfy: false).
    pub unaligned_checkpoints: bool,
    /// Tolerable failed checkpoints.
    pub tolerable_failed_checkpoints: u32,
    /// Aligned checkpoint timeout, ms.
    pub aligned_checkpoint_timeout: i64,
    /// Checkpoints after tasks finish (rfy: false).
    pub checkpoints_after_tasks_finish: bool,
    /// State changelog (rfy: false).
    pub state_changelog_enabled: bool,
    /// Changelog materialization interval, ms.
    pub changelog_periodic_materialization_interval: i64,
    /// Changelog storage.
    pub changelog_storage: String,
    /// rfy: `state.checkpoints.dir`.
    #[serde(rename = "checkpoints-dir")]
    pub checkpoints_dir: Option<String>,
    /// rfy: `state.savepoints.dir`.
    #[serde(rename = "savepoints-dir")]
    pub savepoints_dir: Option<String>,
    /// rfy: `state.checkpoints.num-retained`.
    #[serde(rename = "num-retained")]
    pub num_retained: u32,
}

/// Flink's `CheckpointConfigInfo.ExternalizedCheckpointInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalizedCheckpointInfo {
    /// Checkpoints are kept (rfy: always).
    pub enabled: bool,
    /// Deleted on cancellation (rfy: never).
    pub delete_on_cancellation: bool,
}

/// Flink's `CheckpointTriggerRequestBody` (`POST /jobs/:id/checkpoints`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointTriggerRequestBody {
    /// `CONFIGURED`, `FULL` or `INCREMENTAL` (rfy's snapshots are always full).
    #[serde(rename = "checkpointType", default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_type: Option<String>,
    /// A client-chosen trigger id, 32 hex digits (makes retries idempotent).
    #[serde(rename = "triggerId", default, skip_serializing_if = "Option::is_none")]
    pub trigger_id: Option<String>,
}

/// Flink's `CheckpointInfo`: the result of a manual checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointInfo {
    /// The completed checkpoint's id.
    #[serde(rename = "checkpointId")]
    pub checkpoint_id: Option<u64>,
    /// Why it failed.
    #[serde(rename = "failureCause")]
    pub failure_cause: Option<FailureCause>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summary(max: u64) -> serde_json::Value {
        json!({"min": 0, "max": max, "avg": 1, "p50": 1.0, "p90": 2.0, "p95": 2.0, "p99": 2.0, "p999": 2.0})
    }

    fn stat(class: &str, status: &str) -> serde_json::Value {
        json!({"className": class, "id": 3, "status": status, "is_savepoint": false, "savepointFormat": null,
            "checkpoint_type": "CHECKPOINT", "trigger_timestamp": 100, "latest_ack_timestamp": 120,
            "end_to_end_duration": 20, "state_size": 64, "checkpointed_size": 64, "alignment_buffered": 0,
            "processed_data": 0, "persisted_data": 0, "num_subtasks": 2, "num_acknowledged_subtasks": 2, "tasks": {},
            "external_path": "/cp/chk-3", "discarded": false, "failure_timestamp": 0, "failure_message": null})
    }

    #[test]
    fn checkpointing_statistics_round_trip() {
        let sample = json!({
            "counts": {"restored": 0, "total": 1, "in_progress": 0, "completed": 1, "failed": 0},
            "summary": {"checkpointed_size": summary(64), "state_size": summary(64), "end_to_end_duration": summary(20),
                "alignment_buffered": summary(0), "processed_data": summary(0), "persisted_data": summary(0)},
            "latest": {"completed": stat("completed", "COMPLETED"), "savepoint": null, "failed": null,
                "restored": {"id": 1, "restore_timestamp": 5, "is_savepoint": true, "external_path": "/sp/1"}},
            "history": [stat("completed", "COMPLETED")]});
        let v: CheckpointingStatistics = serde_json::from_value(sample.clone()).unwrap();
        assert_eq!(serde_json::to_value(&v).unwrap(), sample);
        assert_eq!(v.latest.completed.unwrap().external_path.as_deref(), Some("/cp/chk-3"));
        assert_eq!(v.summary.state_size.max, 64);
    }

    #[test]
    fn checkpoint_config_and_trigger_bodies_round_trip() {
        let sample = json!({"mode": "exactly_once", "interval": i64::MAX, "timeout": 600000, "min_pause": 0,
            "max_concurrent": 1, "externalization": {"enabled": true, "delete_on_cancellation": false},
            "state_backend": "HashMapStateBackend", "checkpoint_storage": "FileSystemCheckpointStorage",
            "unaligned_checkpoints": false, "tolerable_failed_checkpoints": 0, "aligned_checkpoint_timeout": 0,
            "checkpoints_after_tasks_finish": false, "state_changelog_enabled": false,
            "changelog_periodic_materialization_interval": 0, "changelog_storage": "memory",
            "checkpoints-dir": "/cp", "savepoints-dir": null, "num-retained": 1});
        let v: CheckpointConfigInfo = serde_json::from_value(sample.clone()).unwrap();
        assert_eq!(serde_json::to_value(&v).unwrap(), sample);
        let t: CheckpointTriggerRequestBody = serde_json::from_value(json!({"checkpointType": "FULL"})).unwrap();
        assert_eq!(t.checkpoint_type.as_deref(), Some("FULL"));
        assert_eq!(serde_json::to_value(CheckpointTriggerRequestBody::default()).unwrap(), json!({}));
        let i: CheckpointInfo = serde_json::from_value(json!({"checkpointId": 4, "failureCause": null})).unwrap();
        assert_eq!(i.checkpoint_id, Some(4));
    }
}
