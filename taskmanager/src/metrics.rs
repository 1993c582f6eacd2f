//! The TaskManager's metrics: its process's CPU time and resident set size
//! (from `/proc`), and its Prometheus reporter (`metrics.reporter.prom.port`),
//! which exports the task counters under Flink's names and scopes, e.g.
//! `flink_taskmanager_job_task_numRecordsIn{job_id, task_id, subtask_index,
//! task_attempt_num, tm_id}`. Task counters are read from the tasks' atomic
//! counters (updated per batch by the runtime) when Prometheus scrapes: the
//! record path does no metrics work. As Flink's reporter does, counters are
//! exported as gauges. The time metrics (`busyTimeMsPerSecond`,
//! `backPressuredTimeMsPerSecond`, `idleTimeMsPerSecond`) are rates between
//! two scrapes (zero busy time at the first); watermarks are ms since the
//! epoch; `Shuffle_Netty_{Input,Output}_Buffers_{in,out}PoolUsage` are 0..1.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::routing::get;
use axum::Router;
use prometheus::{Encoder, Gauge, GaugeVec, Opts, Registry, TextEncoder};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::error::TaskManagerError;
use crate::executor::Executor;

/// Linux reports CPU times in /proc in USER_HZ ticks, 100 per second on every architecture's ABI.
const USER_HZ: f64 = 100.0;

/// This process now: `(resident set size in bytes, CPU seconds used)`; zeros where `/proc` is unreadable.
pub(crate) fn process_stats() -> (u64, f64) {
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmRSS:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0);
    // Fields 14 and 15 (utime, stime) follow the command name, which is in parentheses.
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / USER_HZ)
        })
        .unwrap_or(0.0);
    (rss, cpu)
}

/// `(total, available)` physical memory of this host in bytes, from
/// `/proc/meminfo` (`MemTotal`, `MemAvailable`); zeros where unreadable.
pub(crate) fn host_memory() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or(0)
    };
    (field("MemTotal:"), field("MemAvailable:"))
}

/// Binds the first free port of `range` on `host`.
///
/// Errors: no port of the range is free (the last bind error, naming the range).
pub(crate) async fn bind_in_range(
    host: &str,
    range: std::ops::RangeInclusive<u16>,
) -> Result<(TcpListener, u16), TaskManagerError> {
    let mut last = None;
    for port in range.clone() {
        match TcpListener::bind((host, port)).await {
            Ok(l) => return Ok((l, port)),
            Err(e) => last = Some(e),
        }
    }
    Err(TaskManagerError::Bind {
        what: "the Prometheus reporter (metrics.reporter.prom.port)",
        address: format!("{host}:{}-{}", range.start(), range.end()),
        source: last.unwrap_or_else(|| std::io::Error::other("empty port range")),
    })
}

/// Per execution: `(idle ms, back-pressured ms, when)` at the last scrape.
type LastWaits = Mutex<HashMap<String, (u64, u64, Instant)>>;

/// The Prometheus text exposition of this TaskManager's metrics now.
fn render(executor: &Executor, last: &LastWaits) -> String {
    let registry = Registry::new();
    let labels = ["job_id", "task_id", "subtask_index", "task_attempt_num", "tm_id"];
    let task_gauge = |name: &str, help: &str| {
        let g = GaugeVec::new(Opts::new(format!("flink_taskmanager_job_task_{name}"), help), &labels).ok()?;
        registry.register(Box::new(g.clone())).ok()?;
        Some(g)
    };
    let gauges = [
        task_gauge("numRecordsIn", "Records this task has read."),
        task_gauge("numRecordsOut", "Records this task has written."),
        task_gauge("numBytesIn", "Bytes this task has read from its input channels."),
        task_gauge("numBytesOut", "Bytes this task has written to its output channels."),
        task_gauge("busyTimeMsPerSecond", "Ms per second the task was neither idle nor back-pressured."),
        task_gauge("backPressuredTimeMsPerSecond", "Ms per second the task waited for full output channels."),
        task_gauge("idleTimeMsPerSecond", "Ms per second the task waited for input."),
        task_gauge("currentInputWatermark", "The task's combined input watermark, ms since the epoch."),
        task_gauge("currentOutputWatermark", "The last watermark the task sent, ms since the epoch."),
        task_gauge("Shuffle_Netty_Input_Buffers_inPoolUsage", "Queued input buffers against capacity, 0..1."),
        task_gauge("Shuffle_Netty_Output_Buffers_outPoolUsage", "Queued output buffers against capacity, 0..1."),
        task_gauge("numLateRecordsDropped", "Records the task's event-time windows dropped as late."),
    ];
    let now = Instant::now();
    let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
    let mut seen = HashMap::new();
    for m in executor.metrics() {
        // Execution ids are `<job>.<vertex>.<subtask>.<attempt>`.
        let parts: Vec<&str> = m.execution_id.split('.').collect();
        let [job, vertex, subtask, attempt] = parts[..] else { continue };
        let (idle, bp) = match last.get(&m.execution_id) {
            Some((i, b, at)) if now > *at => {
                let dt = (now - *at).as_secs_f64();
                let per_s = |ms: u64| (ms as f64 / dt).min(1000.0);
                (per_s(m.idle_ms.saturating_sub(*i)), per_s(m.back_pressured_ms.saturating_sub(*b)))
            }
            _ => (0.0, 0.0),
        };
        let busy = if last.contains_key(&m.execution_id) { (1000.0 - idle - bp).max(0.0) } else { 0.0 };
        seen.insert(m.execution_id.clone(), (m.idle_ms, m.back_pressured_ms, now));
        let values = [
            m.records_in as f64,
            m.records_out as f64,
            m.bytes_in as f64,
            m.bytes_out as f64,
            busy,
            bp,
            idle,
            m.input_watermark as f64,
            m.output_watermark as f64,
            m.in_pool_usage,
            m.out_pool_usage,
            m.late_records_dropped as f64,
        ];
        for (g, v) in gauges.iter().zip(values) {
            if let Some(g) = g {
                g.with_label_values(&[job, vertex, subtask, attempt, &executor.resource_id]).set(v);
            }
        }
    }
    *last = seen;
    drop(last);
    let (rss, cpu) = process_stats();
    let process_gauge = |name: &str, help: &str, v: f64| {
        let opts = Opts::new(format!("flink_taskmanager_Status_ProcessTree_{name}"), help)
            .const_label("tm_id", executor.resource_id.clone());
        if let Ok(g) = Gauge::with_opts(opts) {
            g.set(v);
            let _ = registry.register(Box::new(g));
        }
    };
    process_gauge("Memory_RSS", "Resident set size of the TaskManager process, bytes.", rss as f64);
    process_gauge("CPU_Time", "CPU time the TaskManager process used so far, seconds.", cpu);
    let mut out = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&registry.gather(), &mut out) {
        tracing::warn!("cannot encode metrics: {e}");
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Serves `GET /metrics` (Prometheus text format) on `listener` until `stop`.
pub(crate) fn serve(listener: TcpListener, executor: Arc<Executor>, mut stop: watch::Receiver<bool>) {
    let last: Arc<LastWaits> = Arc::default();
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let (executor, last) = (executor.clone(), last.clone());
            async move { render(&executor, &last) }
        }),
    );
    tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        });
        if let Err(e) = served.await {
            tracing::error!("Prometheus reporter failed: {e}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::process_stats;

    #[test]
    fn process_stats_read_this_process() {
        let (rss, cpu) = process_stats();
        assert!(rss > 1 << 20, "a test process has more than 1 MiB resident: {rss}");
        assert!(cpu >= 0.0);
        let (total, free) = super::host_memory();
        assert!(total > rss && free > 0 && free <= total, "{total} {free}");
    }
}
