//! Checkpoint routes: `GET /jobs/:id/checkpoints` (Flink's
//! `CheckpointingStatistics`), `GET /jobs/:id/checkpoints/config`
//! (`CheckpointConfigInfo`), `POST /jobs/:id/checkpoints` (a manual
//! checkpoint, `CheckpointTriggerHeaders`: answers a `TriggerResponse`) and
//! `GET /jobs/:id/checkpoints/:triggerid` (`AsynchronousOperationResult<CheckpointInfo>`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{error, find_job, json_body, Shared};
use crate::checkpoint::{CheckpointSettings, CheckpointStat, CheckpointState, CheckpointStats};
use crate::job_master::{JobMasterHandle, JobMasterMsg};
use crate::status::JobStatus;

fn state_name(s: CheckpointState) -> &'static str {
    match s {
        CheckpointState::InProgress => "IN_PROGRESS",
        CheckpointState::Completed => "COMPLETED",
        CheckpointState::Failed => "FAILED",
    }
}

/// One checkpoint in Flink's `CheckpointStatistics` shape (its `className`
/// says which subclass: `completed`, `failed`, `in_progress`).
fn stat_json(s: &CheckpointStat) -> Value {
    let class = match s.state {
        CheckpointState::Completed => "completed",
        CheckpointState::Failed => "failed",
        CheckpointState::InProgress => "in_progress",
    };
    let duration = if s.end_ms > 0 { s.end_ms.saturating_sub(s.trigger_ms) as i64 } else { -1 };
    json!({
        "className": class,
        "id": s.id,
        "status": state_name(s.state),
        "is_savepoint": s.savepoint,
        "savepointFormat": if s.savepoint { Value::from("CANONICAL") } else { Value::Null },
        "checkpoint_type": if s.savepoint { "SAVEPOINT" } else { "CHECKPOINT" },
        "trigger_timestamp": s.trigger_ms,
        "latest_ack_timestamp": if s.end_ms > 0 { s.end_ms as i64 } else { -1 },
        "end_to_end_duration": duration,
        "state_size": s.state_size,
        "checkpointed_size": s.state_size,
        "alignment_buffered": 0,
        "processed_data": 0,
        "persisted_data": 0,
        "num_subtasks": s.total_tasks,
        "num_acknowledged_subtasks": s.acknowledged,
        "tasks": {},
        "external_path": s.external_path,
        "discarded": false,
        "failure_timestamp": if s.state == CheckpointState::Failed { s.end_ms } else { 0 },
        "failure_message": s.failure,
    })
}

/// Flink's `StatsSummaryDto` (min, max, avg and percentiles) of `values`.
fn summary(mut values: Vec<u64>) -> Value {
    if values.is_empty() {
        return json!({ "min": 0, "max": 0, "avg": 0, "p50": 0.0, "p90": 0.0, "p95": 0.0, "p99": 0.0, "p999": 0.0 });
    }
    values.sort_unstable();
    let n = values.len();
    let pct = |p: f64| values[((p * n as f64).ceil() as usize).clamp(1, n) - 1] as f64;
    json!({
        "min": values[0],
        "max": values[n - 1],
        "avg": values.iter().sum::<u64>() / n as u64,
        "p50": pct(0.5), "p90": pct(0.9), "p95": pct(0.95), "p99": pct(0.99), "p999": pct(0.999),
    })
}

/// The `/jobs/:id/checkpoints` document. The summary covers the completed
/// checkpoints still in the history (the newest [`crate::checkpoint`] keeps).
pub(crate) fn statistics_json(stats: &CheckpointStats) -> Value {
    let in_progress = stats.history.iter().filter(|h| h.state == CheckpointState::InProgress).count();
    let last = |pred: &dyn Fn(&CheckpointStat) -> bool| stats.history.iter().rev().find(|h| pred(h)).map(stat_json);
    let completed: Vec<&CheckpointStat> =
        stats.history.iter().filter(|h| h.state == CheckpointState::Completed).collect();
    let sizes: Vec<u64> = completed.iter().map(|h| h.state_size).collect();
    let durations: Vec<u64> = completed.iter().map(|h| h.end_ms.saturating_sub(h.trigger_ms)).collect();
    let zeros = || summary(vec![0; completed.len()]);
    json!({
        "counts": {
            "restored": stats.restored_count,
            "total": stats.completed + stats.failed + in_progress as u64,
            "in_progress": in_progress,
            "completed": stats.completed,
            "failed": stats.failed,
        },
        "summary": {
            "checkpointed_size": summary(sizes.clone()),
            "state_size": summary(sizes),
            "end_to_end_duration": summary(durations),
            "alignment_buffered": zeros(),
            "processed_data": zeros(),
            "persisted_data": zeros(),
        },
        "latest": {
            "completed": last(&|h| h.state == CheckpointState::Completed && !h.savepoint),
            "savepoint": last(&|h| h.state == CheckpointState::Completed && h.savepoint),
            "failed": last(&|h| h.state == CheckpointState::Failed),
            "restored": stats.restored.as_ref().map(|r| json!({
                "id": r.id, "restore_timestamp": r.restore_ms, "is_savepoint": r.savepoint, "external_path": r.external_path,
            })),
        },
        "history": stats.history.iter().rev().map(stat_json).collect::<Vec<_>>(),
    })
}

pub(super) async fn statistics(State(c): Shared, Path(job_id): Path<String>) -> Response {
    match find_job(&c, &job_id) {
        Ok(e) => Json(statistics_json(&e.current().checkpoints)).into_response(),
        Err(r) => r,
    }
}

/// The job's checkpoint settings in Flink's `CheckpointConfigInfo` shape.
fn config_json(st: &JobStatus) -> Result<Value, String> {
    let conf = rfy_conf::Configuration::from_map(&st.config, rfy_conf::Source::Dynamic).map_err(|e| e.to_string())?;
    let s = CheckpointSettings::from_conf(&conf)?;
    let storage = match s.checkpoints_dir.as_deref() {
        Some(d) if d.starts_with("hdfs://") => "FileSystemCheckpointStorage (HDFS)",
        Some(_) => "FileSystemCheckpointStorage",
        None => "JobManagerCheckpointStorage",
    };
    Ok(json!({
        "mode": if s.exactly_once { "exactly_once" } else { "at_least_once" },
        // Flink reports Long.MAX_VALUE for "no periodic checkpoints".
        "interval": s.interval.map(|d| d.as_millis() as i64).unwrap_or(i64::MAX),
        "timeout": s.timeout.as_millis() as i64,
        "min_pause": s.min_pause.as_millis() as i64,
        "max_concurrent": s.max_concurrent,
        "externalization": { "enabled": true, "delete_on_cancellation": false },
        "state_backend": "HashMapStateBackend",
        "checkpoint_storage": storage,
        "unaligned_checkpoints": false,
        "tolerable_failed_checkpoints": 0,
        "aligned_checkpoint_timeout": 0,
        "checkpoints_after_tasks_finish": false,
        "state_changelog_enabled": false,
        "changelog_periodic_materialization_interval": 0,
        "changelog_storage": "memory",
        "checkpoints-dir": s.checkpoints_dir,
        "savepoints-dir": s.savepoints_dir,
        "num-retained": s.num_retained,
    }))
}

pub(super) async fn config(State(c): Shared, Path(job_id): Path<String>) -> Response {
    let e = match find_job(&c, &job_id) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let result = config_json(&e.current());
    match result {
        Ok(v) => Json(v).into_response(),
        Err(m) => error(StatusCode::NOT_FOUND, format!("job {job_id} has no valid checkpoint configuration: {m}")),
    }
}

/// Flink's `CheckpointTriggerRequestBody`.
#[derive(Deserialize, Default)]
struct TriggerBody {
    /// `CONFIGURED`, `FULL` or `INCREMENTAL`: rfy's snapshots are always full.
    #[serde(rename = "checkpointType")]
    checkpoint_type: Option<String>,
    /// A client-chosen trigger id (makes retries idempotent).
    #[serde(rename = "triggerId")]
    trigger_id: Option<String>,
}

/// `POST /jobs/:id/checkpoints`: starts a checkpoint now (Flink's `flink checkpoint`).
pub(super) async fn trigger(State(c): Shared, Path(job_id): Path<String>, body: Bytes) -> Response {
    let mut e = match find_job(&c, &job_id) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let body: TriggerBody = match json_body(&body, "checkpoint trigger") {
        Ok(b) => b,
        Err(r) => return r,
    };
    match body.checkpoint_type.as_deref() {
        None | Some("CONFIGURED" | "FULL" | "INCREMENTAL") => {}
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("checkpointType '{other}': use CONFIGURED, FULL or INCREMENTAL"),
            )
        }
    }
    let terminal = || error(StatusCode::CONFLICT, format!("Job {job_id} already reached a terminal state"));
    let trigger_id = match super::check_trigger_id(body.trigger_id) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let trigger_id = trigger_id.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let current = e.current();
    if current.checkpoint_triggers.contains_key(&trigger_id) {
        // A retry with the same client-chosen trigger id.
        return (StatusCode::ACCEPTED, Json(json!({ "request-id": trigger_id }))).into_response();
    }
    if current.state.is_terminal() {
        return terminal();
    }
    if e.tx.send(JobMasterMsg::TriggerCheckpoint { trigger_id: trigger_id.clone() }).is_err() {
        return terminal();
    }
    // Answer once the JobMaster recorded the trigger, so that polling it finds it.
    let recorded = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        e.snapshot.wait_for(|s| s.checkpoint_triggers.contains_key(&trigger_id)),
    )
    .await;
    match recorded {
        Ok(Ok(_)) => {
            c.rest_operations.started(&format!("checkpoint/{trigger_id}"));
            (StatusCode::ACCEPTED, Json(json!({ "request-id": trigger_id }))).into_response()
        }
        Ok(Err(_)) => terminal(),
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("job {job_id} did not take the checkpoint request within 10 s"),
        ),
    }
}

/// `GET /jobs/:id/checkpoints/:triggerid`: `IN_PROGRESS`, or `COMPLETED` with
/// `checkpointId` or a `failureCause`.
pub(super) async fn trigger_status(State(c): Shared, Path((job_id, trigger_id)): Path<(String, String)>) -> Response {
    let e = match find_job(&c, &job_id) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let result = trigger_result(&e, &trigger_id);
    match result {
        None => error(StatusCode::NOT_FOUND, format!("no checkpoint operation {trigger_id} for job {job_id}")),
        Some(None) => Json(json!({ "status": { "id": "IN_PROGRESS" }, "operation": null })).into_response(),
        Some(Some(outcome)) => {
            c.rest_operations.fetched(&format!("checkpoint/{trigger_id}"));
            let operation = match outcome {
                Ok(id) => json!({ "checkpointId": id, "failureCause": null }),
                Err(why) => json!({ "checkpointId": null, "failureCause": super::throwable::failure_cause(&why) }),
            };
            Json(json!({ "status": { "id": "COMPLETED" }, "operation": operation })).into_response()
        }
    }
}

/// `None`: unknown trigger; `Some(None)`: in progress; `Some(Some(..))`: the checkpoint id or why it failed.
fn trigger_result(e: &JobMasterHandle, trigger_id: &str) -> Option<Option<Result<u64, String>>> {
    let st = e.current();
    match st.checkpoint_triggers.get(trigger_id)? {
        None => Some(None),
        Some(Err(why)) => Some(Some(Err(why.clone()))),
        Some(Ok(id)) => match st.checkpoints.history.iter().find(|h| h.id == *id) {
            Some(h) if h.state == CheckpointState::Completed => Some(Some(Ok(*id))),
            Some(h) if h.state == CheckpointState::Failed => {
                Some(Some(Err(format!("checkpoint {id} failed: {}", h.failure.as_deref().unwrap_or("unknown cause")))))
            }
            Some(_) => Some(None),
            None => Some(Some(Err(format!("checkpoint {id} is no longer in the statistics history")))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_has_min_max_avg_and_percentiles() {
        let s = summary(vec![10, 30, 20, 40]);
        assert_eq!(s["min"], 10);
        assert_eq!(s["max"], 40);
        assert_eq!(s["avg"], 25);
        assert_eq!(s["p50"], 20.0);
        assert_eq!(s["p99"], 40.0);
        assert_eq!(summary(vec![])["max"], 0);
    }
}
