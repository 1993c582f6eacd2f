//! Metrics the JobManager keeps: task counters and their per-second rates
//! (from the TaskManagers' heartbeats), TaskManager process figures (RSS, CPU,
//! Prometheus port), and the JobManager's Prometheus reporter
//! (`metrics.reporter.prom.port`), which exports job metrics under Flink's
//! names (`flink_jobmanager_job_uptime`, `..._numRestarts`,
//! `..._numberOfCompletedCheckpoints`, ...) and cluster ones
//! (`flink_jobmanager_numRegisteredTaskManagers`, `..._taskSlotsTotal`, ...).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::routing::get;
use axum::Router;
use prometheus::{Encoder, Gauge, GaugeVec, Opts, Registry, TextEncoder};
use rfy_rpc::{HeartbeatRequest, TaskMetrics};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::checkpoint::CheckpointState;
use crate::dispatcher::Dispatcher;
use crate::error::JobManagerError;
use crate::status::{now_ms, JobState};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Counters of one task execution: records in, records out, bytes in, bytes out.
pub(crate) type Counts = [u64; 4];

/// Flink's names of [`Counts`], in order.
pub(crate) const COUNT_NAMES: [&str; 4] = ["numRecordsIn", "numRecordsOut", "numBytesIn", "numBytesOut"];

/// The last report of one task execution.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TaskSample {
    pub(crate) counts: Counts,
    /// Per second, between the last two heartbeats.
    pub(crate) rates: [f64; 4],
    /// Milliseconds per second busy, back-pressured and idle between the last
    /// two heartbeats (Flink's `busyTimeMsPerSecond`, `backPressuredTimeMsPerSecond`,
    /// `idleTimeMsPerSecond`); busy is the rest of the second, so the three add up to 1000.
    pub(crate) time: TimeSplit,
    /// Totals so far: idle ms, back-pressured ms.
    waits: (u64, u64),
    /// Watermarks, ms (`i64::MIN` = none yet).
    pub(crate) input_watermark: i64,
    pub(crate) output_watermark: i64,
    /// Buffer usage, 0.0..=1.0 (`buffers.inPoolUsage`, `buffers.outPoolUsage`).
    pub(crate) in_pool_usage: f64,
    pub(crate) out_pool_usage: f64,
    /// Records its windows dropped as late (`numLateRecordsDropped`).
    pub(crate) late_records_dropped: u64,
    at: Instant,
}

/// How a task spent each second, in ms per second (Flink's time metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct TimeSplit {
    pub(crate) busy: f64,
    pub(crate) back_pressured: f64,
    pub(crate) idle: f64,
}

impl TimeSplit {
    /// The split over `dt_s` seconds in which the task waited `idle_ms` for
    /// input and `bp_ms` for output; busy is the rest (never below zero).
    pub(crate) fn over(dt_s: f64, idle_ms: u64, bp_ms: u64) -> TimeSplit {
        let per_s = |ms: u64| (ms as f64 / dt_s).min(1000.0);
        let (idle, back_pressured) = (per_s(idle_ms), per_s(bp_ms));
        TimeSplit { busy: (1000.0 - idle - back_pressured).max(0.0), back_pressured, idle }
    }

    /// Flink's names and values, in the order Flink's web UI shows them.
    pub(crate) fn named(&self) -> [(&'static str, f64); 3] {
        [
            ("busyTimeMsPerSecond", self.busy),
            ("backPressuredTimeMsPerSecond", self.back_pressured),
            ("idleTimeMsPerSecond", self.idle),
        ]
    }
}

/// Flink's back-pressure level of a back-pressured ratio (0.0..=1.0):
/// `ok` up to 10 %, `low` up to 50 %, `high` above (Flink's `JobVertexBackPressureInfo`).
pub(crate) fn back_pressure_level(ratio: f64) -> &'static str {
    if ratio <= 0.10 {
        "ok"
    } else if ratio <= 0.5 {
        "low"
    } else {
        "high"
    }
}

/// The last report of one TaskManager process.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ProcessSample {
    pub(crate) rss_bytes: u64,
    pub(crate) cpu_seconds: f64,
    /// CPU seconds per second between the last two heartbeats (1.0 = one core busy).
    pub(crate) cpu_load: f64,
    pub(crate) prometheus_port: u16,
    /// The host's available memory, bytes.
    pub(crate) free_memory: u64,
    /// Network buffer memory its tasks reserved, bytes.
    pub(crate) network_memory_used: u64,
    /// Keyed state its tasks hold (last checkpoints), bytes: managed memory used.
    pub(crate) managed_memory_used: u64,
}

/// Metrics reported by TaskManagers.
#[derive(Default)]
pub(crate) struct MetricStore {
    tasks: Mutex<HashMap<String, TaskSample>>,
    processes: Mutex<HashMap<String, (ProcessSample, Option<Instant>)>>,
}

impl MetricStore {
    /// Takes in a heartbeat of a known TaskManager.
    pub(crate) fn record(&self, beat: &HeartbeatRequest) {
        let now = Instant::now();
        self.record_tasks(&beat.metrics, now);
        self.record_process(beat, now);
    }

    /// Takes in the metrics a task's last state update carried (its final
    /// counts): a task that ends between two heartbeats, as a short bounded
    /// job's do, still shows what it counted (e.g. `numLateRecordsDropped`).
    pub(crate) fn record_final(&self, m: &TaskMetrics) {
        self.record_tasks(std::slice::from_ref(m), Instant::now());
    }

    fn record_tasks(&self, metrics: &[TaskMetrics], now: Instant) {
        let mut tasks = lock(&self.tasks);
        for m in metrics {
            let counts = [m.records_in, m.records_out, m.bytes_in, m.bytes_out];
            let waits = (m.idle_ms, m.back_pressured_ms);
            let (rates, time) = match tasks.get(&m.execution_id) {
                Some(prev) if now > prev.at => {
                    let dt = (now - prev.at).as_secs_f64();
                    let rates = std::array::from_fn(|i| counts[i].saturating_sub(prev.counts[i]) as f64 / dt);
                    let idle = waits.0.saturating_sub(prev.waits.0);
                    let bp = waits.1.saturating_sub(prev.waits.1);
                    (rates, TimeSplit::over(dt, idle, bp))
                }
                Some(prev) => (prev.rates, prev.time),
                None => ([0.0; 4], TimeSplit::default()),
            };
            let sample = TaskSample {
                counts,
                rates,
                time,
                waits,
                input_watermark: m.input_watermark,
                output_watermark: m.output_watermark,
                in_pool_usage: m.in_pool_usage,
                out_pool_usage: m.out_pool_usage,
                late_records_dropped: m.late_records_dropped,
                at: now,
            };
            tasks.insert(m.execution_id.clone(), sample);
        }
    }

    fn record_process(&self, beat: &HeartbeatRequest, now: Instant) {
        let mut processes = lock(&self.processes);
        let (prev, prev_at) = processes.get(&beat.resource_id).copied().unwrap_or_default();
        let cpu_load = match prev_at {
            Some(at) if now > at => (beat.cpu_seconds - prev.cpu_seconds).max(0.0) / (now - at).as_secs_f64(),
            _ => prev.cpu_load,
        };
        let sample = ProcessSample {
            rss_bytes: beat.rss_bytes,
            cpu_seconds: beat.cpu_seconds,
            cpu_load,
            prometheus_port: beat.prometheus_port as u16,
            free_memory: beat.free_memory,
            network_memory_used: beat.network_memory_used,
            managed_memory_used: beat.managed_memory_used,
        };
        processes.insert(beat.resource_id.clone(), (sample, Some(now)));
    }

    /// The last report of task execution `execution_id`.
    pub(crate) fn task(&self, execution_id: &str) -> Option<TaskSample> {
        lock(&self.tasks).get(execution_id).copied()
    }

    /// The last report of TaskManager `resource_id`.
    pub(crate) fn process(&self, resource_id: &str) -> Option<ProcessSample> {
        lock(&self.processes).get(resource_id).map(|p| p.0)
    }
}

/// Job-level metrics of one job, Flink's names: `(name, value)`.
pub(crate) fn job_metrics(st: &crate::status::JobStatus) -> Vec<(&'static str, f64)> {
    let cps = &st.checkpoints;
    let last = cps.history.iter().rev().find(|h| h.state == CheckpointState::Completed);
    let uptime = if st.state == JobState::Running { now_ms().saturating_sub(st.start_ms) } else { 0 };
    vec![
        ("uptime", uptime as f64),
        ("numRestarts", st.attempt as f64),
        ("totalNumberOfCheckpoints", (cps.completed + cps.failed) as f64),
        ("numberOfCompletedCheckpoints", cps.completed as f64),
        ("numberOfFailedCheckpoints", cps.failed as f64),
        (
            "numberOfInProgressCheckpoints",
            cps.history.iter().filter(|h| h.state == CheckpointState::InProgress).count() as f64,
        ),
        ("lastCheckpointSize", last.map(|h| h.state_size).unwrap_or(0) as f64),
        ("lastCheckpointDuration", last.map(|h| h.end_ms.saturating_sub(h.trigger_ms)).unwrap_or(0) as f64),
    ]
}

/// The Prometheus text exposition of the JobManager's metrics now.
fn render(c: &Dispatcher) -> String {
    let registry = Registry::new();
    let gauge = |name: &str, help: &str, v: f64| {
        if let Ok(g) = Gauge::with_opts(Opts::new(format!("flink_jobmanager_{name}"), help)) {
            g.set(v);
            let _ = registry.register(Box::new(g));
        }
    };
    let tm_list = c.rm.task_managers();
    let tms = tm_list.len();
    let total: u32 = tm_list.iter().map(|t| t.slots).sum();
    let free: u32 = tm_list.iter().map(|t| t.free_slots).sum();
    gauge("numRegisteredTaskManagers", "TaskManagers registered.", tms as f64);
    gauge("taskSlotsTotal", "Task slots of the registered TaskManagers.", total as f64);
    gauge("taskSlotsAvailable", "Free task slots.", free as f64);
    let jobs = c.snapshots();
    gauge(
        "numRunningJobs",
        "Jobs not in a terminal state.",
        jobs.iter().filter(|j| !j.state.is_terminal()).count() as f64,
    );
    let mut families: HashMap<&'static str, GaugeVec> = HashMap::new();
    for j in &jobs {
        for (name, v) in job_metrics(j) {
            let g = families.entry(name).or_insert_with(|| {
                let g = GaugeVec::new(Opts::new(format!("flink_jobmanager_job_{name}"), name), &["job_id", "job_name"])
                    .expect("valid metric name");
                let _ = registry.register(Box::new(g.clone()));
                g
            });
            g.with_label_values(&[&j.job_id, &j.name]).set(v);
        }
    }
    let mut out = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&registry.gather(), &mut out) {
        tracing::warn!("cannot encode metrics: {e}");
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Binds the first free port of `range` on `host` and serves `GET /metrics` until `stop`.
///
/// Errors: no port of the range is free.
pub(crate) async fn start_reporter(
    dispatcher: Arc<Dispatcher>,
    host: &str,
    range: std::ops::RangeInclusive<u16>,
    mut stop: watch::Receiver<bool>,
) -> Result<u16, JobManagerError> {
    let mut bound = None;
    let mut last = None;
    for port in range.clone() {
        match TcpListener::bind((host, port)).await {
            Ok(l) => {
                bound = Some((l, port));
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let Some((listener, port)) = bound else {
        return Err(JobManagerError::Bind {
            what: "Prometheus reporter (metrics.reporter.prom.port)",
            address: format!("{host}:{}-{}", range.start(), range.end()),
            source: last.unwrap_or_else(|| std::io::Error::other("empty port range")),
        });
    };
    let app = Router::new().route("/metrics", get(move || async move { render(&dispatcher) }));
    tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        });
        if let Err(e) = served.await {
            tracing::error!("Prometheus reporter failed: {e}");
        }
    });
    Ok(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_split_adds_up_to_a_second_and_levels_follow_flink() {
        let t = TimeSplit::over(2.0, 500, 1200);
        assert_eq!(t, TimeSplit { busy: 150.0, back_pressured: 600.0, idle: 250.0 });
        assert_eq!(TimeSplit::over(1.0, 900, 900).busy, 0.0, "waits above the interval leave busy at zero");
        assert_eq!(back_pressure_level(0.05), "ok");
        assert_eq!(back_pressure_level(0.3), "low");
        assert_eq!(back_pressure_level(0.6), "high");
    }
}
