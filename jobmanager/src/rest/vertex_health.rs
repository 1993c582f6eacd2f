//! Per-vertex health routes in Flink's shapes, from the TaskManagers' heartbeats:
//!
//! - `GET /jobs/:id/vertices/:vid/backpressure`: Flink's `JobVertexBackPressureInfo`,
//!   `{"status": "ok", "backpressure-level", "end-timestamp", "subtasks": [{"subtask",
//!   "attempt-number", "backpressure-level", "ratio", "idleRatio", "busyRatio"}]}`.
//!   As since Flink 1.13, the ratios are the task time metrics
//!   (`backPressuredTimeMsPerSecond` / 1000, ...), not stack samples; the
//!   vertex's level is its most back-pressured subtask's.
//! - `GET /jobs/:id/vertices/:vid/watermarks`: Flink's `MetricCollectionResponseBody`,
//!   `[{"id": "<subtask>.currentInputWatermark", "value": "<ms>"}]`
//!   (`i64::MIN`, Flink's `Long.MIN_VALUE`, before the first watermark).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::jobs::vertex_index;
use super::{error, find_job, Shared};
use crate::metrics::{back_pressure_level, TimeSplit};
use crate::status::now_ms;

/// `GET /jobs/:id/vertices/:vid/backpressure`.
pub(super) async fn backpressure(State(c): Shared, Path((job_id, vid)): Path<(String, String)>) -> Response {
    let e = match find_job(&c, &job_id) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let st = e.current();
    let Some(v) = vertex_index(&st.graph, &vid) else {
        return error(StatusCode::NOT_FOUND, format!("job {job_id} has no vertex {vid}"));
    };
    let mut worst = 0.0f64;
    let subtasks: Vec<Value> = st
        .tasks
        .iter()
        .filter(|t| t.vertex == v)
        .map(|t| {
            let time = c.metrics.task(&t.execution_id).map(|s| s.time).unwrap_or(TimeSplit::default());
            let ratio = time.back_pressured / 1000.0;
            worst = worst.max(ratio);
            json!({
                "subtask": t.subtask,
                "attempt-number": st.attempt,
                "backpressure-level": back_pressure_level(ratio),
                "ratio": ratio,
                "idleRatio": time.idle / 1000.0,
                "busyRatio": time.busy / 1000.0,
            })
        })
        .collect();
    Json(json!({
        "status": "ok",
        "backpressure-level": back_pressure_level(worst),
        "end-timestamp": now_ms(),
        "subtasks": subtasks,
    }))
    .into_response()
}

/// `GET /jobs/:id/vertices/:vid/watermarks`.
pub(super) async fn watermarks(State(c): Shared, Path((job_id, vid)): Path<(String, String)>) -> Response {
    let e = match find_job(&c, &job_id) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let st = e.current();
    let Some(v) = vertex_index(&st.graph, &vid) else {
        return error(StatusCode::NOT_FOUND, format!("job {job_id} has no vertex {vid}"));
    };
    let out: Vec<Value> = st
        .tasks
        .iter()
        .filter(|t| t.vertex == v)
        .map(|t| {
            let w = c.metrics.task(&t.execution_id).map(|s| s.input_watermark).unwrap_or(i64::MIN);
            json!({ "id": format!("{}.currentInputWatermark", t.subtask), "value": w.to_string() })
        })
        .collect();
    Json(Value::Array(out)).into_response()
}
