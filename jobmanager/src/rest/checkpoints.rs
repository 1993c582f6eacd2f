//! Checkpoint routes: `GET /jobs/:id/checkpoints` (Flink's
//! `CheckpointingStatistics`), `GET /jobs/:id/checkpoints/config`
//! (`CheckpointConfigInfo`), `POST /jobs/:id/checkpoints` (a manual
//! checkpoint, `CheckpointTriggerHeaders`: answers a `TriggerResponse`) and
//! `GET /jobs/:id/checkpoints/:triggerid` (`AsynchronousOperationResult<CheckpointInfo>`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use rfy_rest_api::{
    AsynchronousOperationResult, CheckpointConfigInfo, CheckpointCounts, CheckpointInfo, CheckpointStatistics,
    CheckpointStatisticsSummary, CheckpointTriggerRequestBody, CheckpointingStatistics, ExternalizedCheckpointInfo,
    LatestCheckpoints, RestoredCheckpointStatistics, StatsSummaryDto, TriggerResponse,
};

use super::error::{accepted, Accepted, RestError, RestResult};
use super::{find_job, json_body, Shared};
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
fn stat(s: &CheckpointStat) -> CheckpointStatistics {
    let class = match s.state {
        CheckpointState::Completed => "completed",
        CheckpointState::Failed => "failed",
        CheckpointState::InProgress => "in_progress",
    };
    let duration = if s.end_ms > 0 { s.end_ms.saturating_sub(s.trigger_ms) as i64 } else { -1 };
    CheckpointStatistics {
        class_name: class.into(),
        id: s.id,
        status: state_name(s.state).into(),
        is_savepoint: s.savepoint,
        savepoint_format: s.savepoint_format.map(|f| f.name().to_string()),
        checkpoint_type: if s.savepoint { "SAVEPOINT" } else { "CHECKPOINT" }.into(),
        trigger_timestamp: s.trigger_ms,
        latest_ack_timestamp: if s.end_ms > 0 { s.end_ms as i64 } else { -1 },
        end_to_end_duration: duration,
        state_size: s.state_size,
        checkpointed_size: s.state_size,
        alignment_buffered: 0,
        processed_data: 0,
        persisted_data: 0,
        num_subtasks: s.total_tasks,
        num_acknowledged_subtasks: s.acknowledged,
        tasks: Default::default(),
        external_path: s.external_path.clone(),
        discarded: false,
        failure_timestamp: if s.state == CheckpointState::Failed { s.end_ms } else { 0 },
        failure_message: s.failure.clone(),
    }
}

/// Flink's `StatsSummaryDto` (min, max, avg and percentiles) of `values`.
fn summary(mut values: Vec<u64>) -> StatsSummaryDto {
    if values.is_empty() {
        return StatsSummaryDto { min: 0, max: 0, avg: 0, p50: 0.0, p90: 0.0, p95: 0.0, p99: 0.0, p999: 0.0 };
    }
    values.sort_unstable();
    let n = values.len();
    let pct = |p: f64| values[((p * n as f64).ceil() as usize).clamp(1, n) - 1] as f64;
    StatsSummaryDto {
        min: values[0],
        max: values[n - 1],
        avg: values.iter().sum::<u64>() / n as u64,
        p50: pct(0.5),
        p90: pct(0.9),
        p95: pct(0.95),
        p99: pct(0.99),
        p999: pct(0.999),
    }
}

/// The `/jobs/:id/checkpoints` document. The summary covers the completed
/// checkpoints still in the history (the newest [`crate::checkpoint`] keeps).
pub(crate) fn statistics_of(stats: &CheckpointStats) -> CheckpointingStatistics {
    let in_progress = stats.history.iter().filter(|h| h.state == CheckpointState::InProgress).count() as u64;
    let last = |pred: &dyn Fn(&CheckpointStat) -> bool| stats.history.iter().rev().find(|h| pred(h)).map(stat);
    let completed: Vec<&CheckpointStat> =
        stats.history.iter().filter(|h| h.state == CheckpointState::Completed).collect();
    let sizes: Vec<u64> = completed.iter().map(|h| h.state_size).collect();
    let durations: Vec<u64> = completed.iter().map(|h| h.end_ms.saturating_sub(h.trigger_ms)).collect();
    let zeros = || summary(vec![0; completed.len()]);
    CheckpointingStatistics {
        counts: CheckpointCounts {
            restored: stats.restored_count,
            total: stats.completed + stats.failed + in_progress,
            in_progress,
            completed: stats.completed,
            failed: stats.failed,
        },
        summary: CheckpointStatisticsSummary {
            checkpointed_size: summary(sizes.clone()),
            state_size: summary(sizes),
            end_to_end_duration: summary(durations),
            alignment_buffered: zeros(),
            processed_data: zeros(),
            persisted_data: zeros(),
        },
        latest: LatestCheckpoints {
            completed: last(&|h| h.state == CheckpointState::Completed && !h.savepoint),
            savepoint: last(&|h| h.state == CheckpointState::Completed && h.savepoint),
            failed: last(&|h| h.state == CheckpointState::Failed),
            restored: stats.restored.as_ref().map(|r| RestoredCheckpointStatistics {
                id: r.id,
                restore_timestamp: r.restore_ms,
                is_savepoint: r.savepoint,
                external_path: r.external_path.clone(),
            }),
        },
        history: stats.history.iter().rev().map(stat).collect(),
    }
}

pub(super) async fn statistics(State(c): Shared, Path(job_id): Path<String>) -> RestResult<CheckpointingStatistics> {
    Ok(Json(statistics_of(&find_job(&c.dispatcher, &job_id)?.current().checkpoints)))
}

/// The job's checkpoint settings in Flink's `CheckpointConfigInfo` shape.
fn config_info(st: &JobStatus) -> Result<CheckpointConfigInfo, String> {
    let conf = rfy_conf::Configuration::from_map(&st.config, rfy_conf::Source::Dynamic).map_err(|e| e.to_string())?;
    let s = CheckpointSettings::from_conf(&conf).map_err(|e| format!("{e}"))?;
    let storage = match s.checkpoints_dir.as_deref() {
        Some(d) if d.starts_with("hdfs://") => "FileSystemCheckpointStorage (HDFS)",
        Some(_) => "FileSystemCheckpointStorage",
        None => "JobManagerCheckpointStorage",
    };
    Ok(CheckpointConfigInfo {
        mode: if s.exactly_once { "exactly_once" } else { "at_least_once" }.into(),
        // Flink reports Long.MAX_VALUE for "no periodic checkpoints".
        interval: s.interval.map(|d| d.as_millis() as i64).unwrap_or(i64::MAX),
        timeout: s.timeout.as_millis() as i64,
        min_pause: s.min_pause.as_millis() as i64,
        max_concurrent: s.max_concurrent as u32,
        externalization: ExternalizedCheckpointInfo { enabled: true, delete_on_cancellation: false },
        state_backend: "HashMapStateBackend".into(),
        checkpoint_storage: storage.into(),
        unaligned_checkpoints: false,
        tolerable_failed_checkpoints: 0,
        aligned_checkpoint_timeout: 0,
        checkpoints_after_tasks_finish: false,
        state_changelog_enabled: false,
        changelog_periodic_materialization_interval: 0,
        changelog_storage: "memory".into(),
        checkpoints_dir: s.checkpoints_dir,
        savepoints_dir: s.savepoints_dir,
        num_retained: s.num_retained as u32,
    })
}

pub(super) async fn config(State(c): Shared, Path(job_id): Path<String>) -> RestResult<CheckpointConfigInfo> {
    let st = find_job(&c.dispatcher, &job_id)?.current();
    config_info(&st)
        .map(Json)
        .map_err(|m| RestError::not_found(format!("job {job_id} has no valid checkpoint configuration: {m}")))
}

/// `POST /jobs/:id/checkpoints`: starts a checkpoint now (Flink's `flink checkpoint`).
pub(super) async fn trigger(State(c): Shared, Path(job_id): Path<String>, body: Bytes) -> Accepted<TriggerResponse> {
    let mut e = find_job(&c.dispatcher, &job_id)?;
    let body: CheckpointTriggerRequestBody = json_body(&body, "checkpoint trigger")?;
    match body.checkpoint_type.as_deref() {
        None | Some("CONFIGURED" | "FULL" | "INCREMENTAL") => {}
        Some(other) => {
            return Err(RestError::bad_request(format!(
                "checkpointType '{other}': use CONFIGURED, FULL or INCREMENTAL"
            )))
        }
    }
    let trigger_id = super::check_trigger_id(body.trigger_id)?;
    let trigger_id = trigger_id.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let current = e.current();
    let answer = |id: &str| accepted(TriggerResponse { request_id: id.to_string() });
    if current.checkpoint_triggers.contains_key(&trigger_id) {
        // A retry with the same client-chosen trigger id.
        return Ok(answer(&trigger_id));
    }
    if current.state.is_terminal() {
        return Err(RestError::terminal(&job_id));
    }
    if e.tx.send(JobMasterMsg::TriggerCheckpoint { trigger_id: trigger_id.clone() }).is_err() {
        return Err(RestError::terminal(&job_id));
    }
    // Answer once the JobMaster recorded the trigger, so that polling it finds it.
    let recorded = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        e.snapshot.wait_for(|s| s.checkpoint_triggers.contains_key(&trigger_id)),
    )
    .await;
    match recorded {
        Ok(Ok(_)) => {
            c.operations.started(&format!("checkpoint/{trigger_id}"));
            Ok(answer(&trigger_id))
        }
        Ok(Err(_)) => Err(RestError::terminal(&job_id)),
        Err(_) => Err(RestError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("job {job_id} did not take the checkpoint request within 10 s"),
        )),
    }
}

/// `GET /jobs/:id/checkpoints/:triggerid`: `IN_PROGRESS`, or `COMPLETED` with
/// `checkpointId` or a `failureCause`.
pub(super) async fn trigger_status(
    State(c): Shared,
    Path((job_id, trigger_id)): Path<(String, String)>,
) -> RestResult<AsynchronousOperationResult<CheckpointInfo>> {
    let e = find_job(&c.dispatcher, &job_id)?;
    let outcome = trigger_result(&e, &trigger_id)
        .ok_or_else(|| RestError::not_found(format!("no checkpoint operation {trigger_id} for job {job_id}")))?;
    let Some(outcome) = outcome else { return Ok(Json(AsynchronousOperationResult::in_progress())) };
    c.operations.fetched(&format!("checkpoint/{trigger_id}"));
    let info = match outcome {
        Ok(id) => CheckpointInfo { checkpoint_id: Some(id), failure_cause: None },
        Err(why) => CheckpointInfo { checkpoint_id: None, failure_cause: Some(super::throwable::failure_cause(&why)) },
    };
    Ok(Json(AsynchronousOperationResult::completed(info)))
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
        assert_eq!((s.min, s.max, s.avg), (10, 40, 25));
        assert_eq!((s.p50, s.p99), (20.0, 40.0));
        assert_eq!(summary(vec![]).max, 0);
    }
}
