//! Flink's asynchronous operations: a trigger answers a [`TriggerResponse`]
//! (202) and the result is polled as an [`AsynchronousOperationResult`] until
//! its status is `COMPLETED`. Savepoint (`POST /jobs/:id/savepoints`,
//! [`SavepointTriggerRequestBody`]), stop-with-savepoint (`POST /jobs/:id/stop`,
//! [`StopWithSavepointRequestBody`]), both polled at `/jobs/:id/savepoints/:triggerid`
//! ([`SavepointInfo`]); savepoint disposal (`POST /savepoint-disposal`,
//! [`SavepointDisposalRequest`]) polled at `/savepoint-disposal/:triggerid`
//! ([`AsynchronousOperationInfo`]); manual checkpoints in [`crate::checkpoints`].

use serde::{Deserialize, Serialize};

/// Flink's `TriggerResponse`: the id to poll an operation by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerResponse {
    /// The trigger id, 32 hex digits.
    #[serde(rename = "request-id")]
    pub request_id: String,
}

/// Flink's `QueueStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStatus {
    /// `IN_PROGRESS` or `COMPLETED`.
    pub id: String,
}

impl QueueStatus {
    /// `IN_PROGRESS`.
    pub fn in_progress() -> Self {
        QueueStatus { id: "IN_PROGRESS".into() }
    }

    /// `COMPLETED`.
    pub fn completed() -> Self {
        QueueStatus { id: "COMPLETED".into() }
    }

    /// True for `COMPLETED`.
    pub fn is_completed(&self) -> bool {
        self.id == "COMPLETED"
    }
}

/// Flink's `AsynchronousOperationResult<T>`: the status, and the result once completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsynchronousOperationResult<T> {
    /// `IN_PROGRESS` or `COMPLETED`.
    pub status: QueueStatus,
    /// The result; null while in progress.
    pub operation: Option<T>,
}

impl<T> AsynchronousOperationResult<T> {
    /// An operation still running.
    pub fn in_progress() -> Self {
        AsynchronousOperationResult { status: QueueStatus::in_progress(), operation: None }
    }

    /// A finished operation with its result.
    pub fn completed(operation: T) -> Self {
        AsynchronousOperationResult { status: QueueStatus::completed(), operation: Some(operation) }
    }
}

/// Flink's `failure-cause` of an operation, a `SerializedThrowable` as JSON:
/// rfy's client reads `class` and `stack-trace`, Flink's reads `serialized-throwable`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureCause {
    /// The exception's class name.
    pub class: String,
    /// The failure's text.
    #[serde(rename = "stack-trace")]
    pub stack_trace: String,
    /// The Java serialization of an `org.apache.flink.util.SerializedThrowable`, base64.
    #[serde(rename = "serialized-throwable")]
    pub serialized_throwable: String,
}

/// Flink's `SavepointInfo`: where a savepoint lies, or why it failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavepointInfo {
    /// The savepoint's directory.
    pub location: Option<String>,
    /// Why it failed.
    #[serde(rename = "failure-cause")]
    pub failure_cause: Option<FailureCause>,
}

/// Flink's `AsynchronousOperationInfo`: an operation without a result (savepoint disposal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsynchronousOperationInfo {
    /// Why it failed; null on success.
    #[serde(rename = "failure-cause")]
    pub failure_cause: Option<FailureCause>,
}

/// Flink's `SavepointTriggerRequestBody` (`POST /jobs/:id/savepoints`). The
/// JobManager reads the body of `POST /jobs/:id/stop` with it too (Flink's
/// `StopWithSavepointRequestBody` spells the directory `targetDirectory`: an alias).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavepointTriggerRequestBody {
    /// Where to write the savepoint; default `state.savepoints.dir`.
    #[serde(rename = "target-directory", alias = "targetDirectory", default, skip_serializing_if = "Option::is_none")]
    pub target_directory: Option<String>,
    /// Stop the job after the savepoint.
    #[serde(rename = "cancel-job", default, skip_serializing_if = "Option::is_none")]
    pub cancel_job: Option<bool>,
    /// Stop only: drain first (Flink's `flink stop --drain`): the sources emit
    /// the maximum watermark, so every event-time window and timer fires, and
    /// end of data before the savepoint's barrier; the job then FINISHES.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain: Option<bool>,
    /// `CANONICAL` (default) or `NATIVE`. rfy has one state format: a NATIVE
    /// savepoint is written as a CANONICAL one; the type is recorded in its
    /// `_metadata` and in the checkpoint statistics' `savepointFormat`.
    #[serde(rename = "formatType", default, skip_serializing_if = "Option::is_none")]
    pub format_type: Option<String>,
    /// A client-chosen trigger id, 32 hex digits (makes retries idempotent).
    #[serde(rename = "triggerId", default, skip_serializing_if = "Option::is_none")]
    pub trigger_id: Option<String>,
}

/// Flink's `StopWithSavepointRequestBody` (`POST /jobs/:id/stop`), as a client sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopWithSavepointRequestBody {
    /// Where to write the savepoint; default `state.savepoints.dir`.
    #[serde(rename = "targetDirectory", default, skip_serializing_if = "Option::is_none")]
    pub target_directory: Option<String>,
    /// Drain first: every event-time window and timer fires before the
    /// savepoint (see [`SavepointTriggerRequestBody::drain`]).
    pub drain: bool,
    /// `CANONICAL` or `NATIVE` (see [`SavepointTriggerRequestBody::format_type`]).
    #[serde(rename = "formatType", default, skip_serializing_if = "Option::is_none")]
    pub format_type: Option<String>,
}

/// Flink's `SavepointDisposalRequest` (`POST /savepoint-disposal`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavepointDisposalRequest {
    /// The savepoint directory to delete.
    #[serde(rename = "savepoint-path", default)]
    pub savepoint_path: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn savepoint_results_round_trip_flinks_shape() {
        let done =
            json!({"status": {"id": "COMPLETED"}, "operation": {"location": "/sp/savepoint-1", "failure-cause": null}});
        let v: AsynchronousOperationResult<SavepointInfo> = serde_json::from_value(done.clone()).unwrap();
        assert!(v.status.is_completed());
        assert_eq!(v.operation.as_ref().unwrap().location.as_deref(), Some("/sp/savepoint-1"));
        assert_eq!(serde_json::to_value(&v).unwrap(), done);
        let failed = json!({"status": {"id": "COMPLETED"}, "operation": {"location": null, "failure-cause":
            {"class": "rfy.CheckpointException", "stack-trace": "no space", "serialized-throwable": "rO0="}}});
        let v: AsynchronousOperationResult<SavepointInfo> = serde_json::from_value(failed.clone()).unwrap();
        assert_eq!(v.operation.unwrap().failure_cause.unwrap().stack_trace, "no space");
        let running = AsynchronousOperationResult::<SavepointInfo>::in_progress();
        assert_eq!(
            serde_json::to_value(&running).unwrap(),
            json!({"status": {"id": "IN_PROGRESS"}, "operation": null})
        );
        let d: AsynchronousOperationResult<AsynchronousOperationInfo> =
            serde_json::from_value(json!({"status": {"id": "COMPLETED"}, "operation": {"failure-cause": null}}))
                .unwrap();
        assert_eq!(d.operation.unwrap().failure_cause, None);
    }

    #[test]
    fn trigger_bodies_use_flinks_names() {
        let t: TriggerResponse = serde_json::from_value(json!({"request-id": "ab"})).unwrap();
        assert_eq!(t.request_id, "ab");
        assert!(serde_json::from_value::<TriggerResponse>(json!({"requestId": "ab"})).is_err());
        let s: SavepointTriggerRequestBody =
            serde_json::from_value(json!({"targetDirectory": "/sp", "drain": false})).unwrap();
        assert_eq!(s.target_directory.as_deref(), Some("/sp"));
        let stop =
            StopWithSavepointRequestBody { target_directory: Some("/sp".into()), drain: false, format_type: None };
        assert_eq!(serde_json::to_value(stop).unwrap(), json!({"targetDirectory": "/sp", "drain": false}));
        // Flink's `flink stop --drain -type native` body, as the JobManager reads it.
        let flink_stop = json!({"targetDirectory": "/sp", "drain": true, "formatType": "NATIVE", "triggerId": "ab"});
        let s: SavepointTriggerRequestBody = serde_json::from_value(flink_stop).unwrap();
        assert_eq!((s.drain, s.format_type.as_deref()), (Some(true), Some("NATIVE")));
        let d: SavepointDisposalRequest = serde_json::from_value(json!({"savepoint-path": "/sp/1"})).unwrap();
        assert_eq!(d.savepoint_path.as_deref(), Some("/sp/1"));
    }
}
