//! Metric routes in Flink's metric query shape: `GET .../metrics` lists the
//! available metric ids (`[{"id"}]`), `GET .../metrics?get=a,b` answers their
//! values as strings (`[{"id", "value"}]`, Flink's `MetricCollectionResponseBody`),
//! and `GET /jobs/metrics?get=a` aggregates a job metric over jobs
//! (`[{"id", "min", "max", "avg", "sum"}]`, `AggregatedMetricsResponseBody`).
//!
//! Routes: `/jobs/metrics`, `/jobs/:id/metrics` (uptime, numRestarts, checkpoint
//! counts, sizes, durations), `/jobs/:id/vertices/:vid/metrics`
//! (`<subtask>.numRecordsIn`, `...PerSecond`, `numLateRecordsDropped`, ..., from TaskManager heartbeats),
//! `/taskmanagers/:id/metrics` (`Status.ProcessTree.Memory.RSS`, `...CPU.Load`).

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::Json;
use rfy_rest_api::{AggregatedMetric, Metric};
use serde::Deserialize;

use super::error::{RestError, RestResult};
use super::jobs::{no_vertex, vertex_index};
use super::{find_job, Shared};
use crate::metrics::{job_metrics, COUNT_NAMES};

/// Flink's name of a task's input buffer usage (0.0..=1.0).
pub(crate) const IN_POOL: &str = "Shuffle.Netty.Input.Buffers.inPoolUsage";
/// Flink's name of a task's output buffer usage (0.0..=1.0).
pub(crate) const OUT_POOL: &str = "Shuffle.Netty.Output.Buffers.outPoolUsage";

/// Flink's name of the count of records windows dropped as late.
pub(crate) const LATE_DROPPED: &str = "numLateRecordsDropped";

/// `?get=a,b` of a metric query.
#[derive(Deserialize, Default)]
pub(super) struct MetricQuery {
    get: Option<String>,
}

/// Flink's answer to a metric query over `available` (id → value).
fn answer(available: BTreeMap<String, f64>, q: &MetricQuery) -> Json<Vec<Metric>> {
    let fmt = |v: f64| if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") };
    match q.get.as_deref() {
        None => Json(available.into_keys().map(|id| Metric { id, value: None }).collect()),
        Some(get) => Json(
            get.split(',')
                .filter_map(|id| {
                    let id = id.trim();
                    available.get(id).map(|v| Metric { id: id.to_string(), value: Some(fmt(*v)) })
                })
                .collect(),
        ),
    }
}

/// `GET /jobs/:id/metrics`.
pub(super) async fn job(
    State(c): Shared,
    Path(job_id): Path<String>,
    Query(q): Query<MetricQuery>,
) -> RestResult<Vec<Metric>> {
    let st = find_job(&c.dispatcher, &job_id)?.current();
    let available = job_metrics(&st).into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    Ok(answer(available, &q))
}

/// `GET /jobs/metrics?get=...`: each metric aggregated over all jobs.
pub(super) async fn jobs_aggregated(State(c): Shared, Query(q): Query<MetricQuery>) -> Json<Vec<AggregatedMetric>> {
    let mut values: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    for j in c.dispatcher.snapshots() {
        for (k, v) in job_metrics(&j) {
            values.entry(k).or_default().push(v);
        }
    }
    let listed = |id: &str| AggregatedMetric { id: id.to_string(), min: None, max: None, avg: None, sum: None };
    let wanted: Vec<&str> = match q.get.as_deref() {
        Some(g) => g.split(',').map(str::trim).collect(),
        None => return Json(values.keys().map(|k| listed(k)).collect()),
    };
    let out = wanted
        .iter()
        .filter_map(|id| {
            let v = values.get(id)?;
            let sum: f64 = v.iter().sum();
            Some(AggregatedMetric {
                id: id.to_string(),
                min: Some(v.iter().copied().fold(f64::INFINITY, f64::min)),
                max: Some(v.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
                avg: Some(sum / v.len() as f64),
                sum: Some(sum),
            })
        })
        .collect();
    Json(out)
}

/// `GET /jobs/:id/vertices/:vid/metrics`: per subtask `<i>.numRecordsIn`,
/// `<i>.numRecordsInPerSecond`, ... and the vertex's sums without the prefix.
pub(super) async fn vertex(
    State(c): Shared,
    Path((job_id, vid)): Path<(String, String)>,
    Query(q): Query<MetricQuery>,
) -> RestResult<Vec<Metric>> {
    let st = find_job(&c.dispatcher, &job_id)?.current();
    let v = vertex_index(&st.graph, &vid).ok_or_else(|| no_vertex(&job_id, &vid))?;
    let mut available = BTreeMap::new();
    for t in st.tasks.iter().filter(|t| t.vertex == v) {
        let Some(sample) = c.metrics.task(&t.execution_id) else { continue };
        for (i, name) in COUNT_NAMES.iter().enumerate() {
            available.insert(format!("{}.{name}", t.subtask), sample.counts[i] as f64);
            available.insert(format!("{}.{name}PerSecond", t.subtask), sample.rates[i]);
            *available.entry(name.to_string()).or_insert(0.0) += sample.counts[i] as f64;
            *available.entry(format!("{name}PerSecond")).or_insert(0.0) += sample.rates[i];
        }
        let late = sample.late_records_dropped as f64;
        available.insert(format!("{}.{LATE_DROPPED}", t.subtask), late);
        *available.entry(LATE_DROPPED.to_string()).or_insert(0.0) += late;
        let mut gauges = sample.time.named().to_vec();
        gauges.push((IN_POOL, sample.in_pool_usage));
        gauges.push((OUT_POOL, sample.out_pool_usage));
        for (name, value) in gauges {
            available.insert(format!("{}.{name}", t.subtask), value);
            let e = available.entry(name.to_string()).or_insert(0.0);
            *e = e.max(value);
        }
        for (name, w) in
            [("currentInputWatermark", sample.input_watermark), ("currentOutputWatermark", sample.output_watermark)]
        {
            available.insert(format!("{}.{name}", t.subtask), w as f64);
            let e = available.entry(name.to_string()).or_insert(f64::INFINITY);
            *e = e.min(w as f64);
        }
    }
    Ok(answer(available, &q))
}

/// `GET /taskmanagers/:id/metrics`: the TaskManager process's figures.
pub(super) async fn taskmanager(
    State(c): Shared,
    Path(tm): Path<String>,
    Query(q): Query<MetricQuery>,
) -> RestResult<Vec<Metric>> {
    let p = c.metrics.process(&tm).ok_or_else(|| {
        RestError::not_found(format!("no metrics of TaskManager {tm} (not registered, or no heartbeat yet)"))
    })?;
    let available = BTreeMap::from([
        ("Status.ProcessTree.Memory.RSS".to_string(), p.rss_bytes as f64),
        ("Status.ProcessTree.CPU.Time".to_string(), p.cpu_seconds),
        ("Status.ProcessTree.CPU.Load".to_string(), p.cpu_load),
        ("Status.Shuffle.Netty.UsedMemory".to_string(), p.network_memory_used as f64),
        ("Status.Flink.Memory.Managed.Used".to_string(), p.managed_memory_used as f64),
    ]);
    Ok(answer(available, &q))
}
