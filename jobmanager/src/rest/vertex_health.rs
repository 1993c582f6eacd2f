//! Per-vertex health routes in Flink's shapes, from the TaskManagers' heartbeats:
//!
//! - `GET /jobs/:id/vertices/:vid/backpressure`: Flink's `JobVertexBackPressureInfo`,
//!   `{"status": "ok", "backpressureLevel", "end-timestamp", "subtasks": [{"subtask",
//!   "attempt-number", "backpressureLevel", "ratio", "idleRatio", "busyRatio"}]}`
//!   (each level also under Flink's deprecated `backpressure-level`).
//!   As since Flink 1.13, the ratios are the task time metrics
//!   (`backPressuredTimeMsPerSecond` / 1000, ...), not stack samples; the
//!   vertex's level is its most back-pressured subtask's.
//! - `GET /jobs/:id/vertices/:vid/watermarks`: Flink's `MetricCollectionResponseBody`,
//!   `[{"id": "<subtask>.currentInputWatermark", "value": "<ms>"}]`
//!   (`i64::MIN`, Flink's `Long.MIN_VALUE`, before the first watermark).

use axum::extract::{Path, State};
use axum::Json;
use rfy_rest_api::{JobVertexBackPressureInfo, Metric, SubtaskBackPressureInfo};

use super::error::RestResult;
use super::jobs::{no_vertex, vertex_index};
use super::{find_job, Shared};
use crate::metrics::{back_pressure_level, TimeSplit};
use crate::status::now_ms;

/// `GET /jobs/:id/vertices/:vid/backpressure`.
pub(super) async fn backpressure(
    State(c): Shared,
    Path((job_id, vid)): Path<(String, String)>,
) -> RestResult<JobVertexBackPressureInfo> {
    let st = find_job(&c.dispatcher, &job_id)?.current();
    let v = vertex_index(&st.graph, &vid).ok_or_else(|| no_vertex(&job_id, &vid))?;
    let mut worst = 0.0f64;
    let subtasks = st
        .tasks
        .iter()
        .filter(|t| t.vertex == v)
        .map(|t| {
            let time = c.metrics.task(&t.execution_id).map(|s| s.time).unwrap_or(TimeSplit::default());
            let ratio = time.back_pressured / 1000.0;
            worst = worst.max(ratio);
            SubtaskBackPressureInfo {
                subtask: t.subtask,
                attempt_number: st.attempt,
                backpressure_level: back_pressure_level(ratio).into(),
                deprecated_backpressure_level: back_pressure_level(ratio).into(),
                ratio,
                idle_ratio: time.idle / 1000.0,
                busy_ratio: time.busy / 1000.0,
            }
        })
        .collect();
    Ok(Json(JobVertexBackPressureInfo {
        status: "ok".into(),
        backpressure_level: back_pressure_level(worst).into(),
        deprecated_backpressure_level: back_pressure_level(worst).into(),
        end_timestamp: now_ms(),
        subtasks,
    }))
}

/// `GET /jobs/:id/vertices/:vid/watermarks`.
pub(super) async fn watermarks(
    State(c): Shared,
    Path((job_id, vid)): Path<(String, String)>,
) -> RestResult<Vec<Metric>> {
    let st = find_job(&c.dispatcher, &job_id)?.current();
    let v = vertex_index(&st.graph, &vid).ok_or_else(|| no_vertex(&job_id, &vid))?;
    let out = st
        .tasks
        .iter()
        .filter(|t| t.vertex == v)
        .map(|t| {
            let w = c.metrics.task(&t.execution_id).map(|s| s.input_watermark).unwrap_or(i64::MIN);
            Metric { id: format!("{}.currentInputWatermark", t.subtask), value: Some(w.to_string()) }
        })
        .collect();
    Ok(Json(out))
}
