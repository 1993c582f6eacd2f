//! Cluster-wide routes: `GET /config` (Flink's `DashboardConfiguration`),
//! `/overview` (`ClusterOverviewWithVersion`), `/jobmanager/config`
//! (`ConfigurationInfo`), `/taskmanagers` (`TaskManagersInfo`) and
//! `/taskmanagers/:id` (`TaskManagerDetailsInfo`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{error, Shared, VERSION};
use crate::dispatcher::Dispatcher;
use crate::resource_manager::TaskManagerInfo;
use crate::status::JobState;
use rfy_conf::{options, Configuration, MemorySize, TaskExecutorMemory};

/// `GET /config`: Flink's `DashboardConfiguration`.
pub(super) async fn config(State(c): Shared) -> Json<Value> {
    Json(json!({
        "refresh-interval": 3000,
        "timezone-name": "Coordinated Universal Time",
        "timezone-offset": 0,
        "flink-version": VERSION,
        "flink-revision": format!("rfy {VERSION}"),
        // Cancel and savepoint go through the JobManager's own address (YARN's proxy forwards GET only).
        "features": { "web-submit": false, "web-cancel": true, "web-rescale": false, "web-history": false },
        "rfy-version": VERSION,
        "heartbeat-timeout-ms": c.heartbeat_timeout.as_millis() as u64,
    }))
}

/// The cluster overview (Flink's `ClusterOverviewWithVersion`), also used by the web UI.
pub(crate) fn overview_json(c: &Dispatcher) -> Value {
    let tm_list = c.rm.task_managers();
    let total: u32 = tm_list.iter().map(|t| t.slots).sum();
    let free: u32 = tm_list.iter().map(|t| t.free_slots).sum();
    let tms = tm_list.len();
    let jobs = c.snapshots();
    let count = |pred: &dyn Fn(JobState) -> bool| jobs.iter().filter(|j| pred(j.state)).count();
    json!({
        "taskmanagers": tms,
        "taskmanagers-blocked": 0,
        "slots-total": total,
        "slots-available": free,
        "slots-free-and-blocked": 0,
        "jobs-running": count(&|s| !s.is_terminal()),
        "jobs-finished": count(&|s| s == JobState::Finished),
        "jobs-cancelled": count(&|s| s == JobState::Canceled),
        "jobs-failed": count(&|s| s == JobState::Failed),
        "flink-version": VERSION,
        "flink-commit": format!("rfy {VERSION}"),
        "rfy-version": VERSION,
        "uptime-ms": c.started.elapsed().as_millis() as u64,
        "prometheus-port": c.prometheus_port.get(),
    })
}

/// `GET /overview`.
pub(super) async fn overview(State(c): Shared) -> Json<Value> {
    Json(overview_json(&c))
}

/// `GET /jobmanager/config`: the cluster configuration as Flink's list of `{"key", "value"}`.
pub(super) async fn jobmanager_config(State(c): Shared) -> Json<Value> {
    let entries: Vec<Value> = c.conf.to_map().into_iter().map(|(k, v)| json!({ "key": k, "value": v })).collect();
    Json(Value::Array(entries))
}

/// Flink's `ResourceProfileInfo` of `slots` slots. rfy does not budget CPU or
/// memory per slot (yet): the amounts are 0, as Flink reports an unknown profile.
fn resource_profile() -> Value {
    json!({ "cpuCores": 0.0, "taskHeapMemory": 0, "taskOffHeapMemory": 0, "managedMemory": 0, "networkMemory": 0, "extendedResources": {} })
}

/// The TaskManager's memory model: the cluster configuration's
/// `taskmanager.memory.*` with the process size it registered with (what it
/// derived itself; a session's `-tm` may differ from the JobManager's own
/// configuration). `None` if the options do not add up (such a TaskManager
/// fails at start).
fn memory_model(conf: &Configuration, process_memory: u64) -> Option<TaskExecutorMemory> {
    let mut conf = conf.clone();
    conf.set_value(&options::TASKMANAGER_MEMORY_PROCESS_SIZE, &MemorySize(process_memory)).ok()?;
    TaskExecutorMemory::derive(&conf).ok()
}

/// Flink's `TaskExecutorMemoryConfiguration`, bytes per component (rfy has no
/// JVM: see `rfy_conf::memory` for what each means here). Without a model
/// (options that do not add up) only the total is known.
fn memory_configuration(memory: &Option<TaskExecutorMemory>, process_memory: u64) -> Value {
    match memory {
        Some(m) => Value::Object(m.fields().iter().map(|(k, v)| (k.to_string(), json!(v))).collect()),
        None => json!({ "totalProcessMemory": process_memory }),
    }
}

/// Flink's `TaskManagerInfo` of one TaskManager.
fn taskmanager_json(c: &Dispatcher, t: &TaskManagerInfo) -> Value {
    let process = c.metrics.process(&t.resource_id).unwrap_or_default();
    let (slots, free) = (t.slots, t.free_slots);
    let hw = t.hardware;
    let memory = memory_model(&c.conf, hw.process_memory);
    json!({
        "id": t.resource_id,
        "path": t.address,
        "dataPort": t.address.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()).unwrap_or(0),
        "jmxPort": -1,
        "timeSinceLastHeartbeat": t.since_heartbeat_ms,
        "registeredAt": t.registered_ms,
        "slotsNumber": slots,
        "freeSlots": free,
        "assignedTasks": slots - free,
        "totalResource": resource_profile(),
        "freeResource": resource_profile(),
        // Reported by the TaskManager (registration: cores, physical memory; heartbeats: free memory).
        "hardware": {
            "cpuCores": hw.cpu_cores,
            "physicalMemory": hw.physical_memory,
            "freeMemory": process.free_memory,
            "managedMemory": memory.map(|m| m.managed).unwrap_or(0),
        },
        "memoryConfiguration": memory_configuration(&memory, hw.process_memory),
        "blocked": false,
        "logPath": t.log_path,
        "prometheusPort": (process.prometheus_port > 0).then_some(process.prometheus_port),
        "rssBytes": process.rss_bytes,
        "cpuLoad": process.cpu_load,
    })
}

/// `GET /taskmanagers`: Flink's `TaskManagersInfo`.
pub(crate) fn taskmanagers_json(c: &Dispatcher) -> Value {
    let tms: Vec<Value> = c.rm.task_managers().iter().map(|t| taskmanager_json(c, t)).collect();
    json!({ "taskmanagers": tms })
}

pub(super) async fn taskmanagers(State(c): Shared) -> Json<Value> {
    Json(taskmanagers_json(&c))
}

/// `GET /taskmanagers/:id`: Flink's `TaskManagerDetailsInfo` (a `TaskManagerInfo`
/// with its allocated slots and metrics).
pub(super) async fn taskmanager_details(State(c): Shared, Path(tm_id): Path<String>) -> Response {
    let Some(t) = c.rm.task_managers().into_iter().find(|t| t.resource_id == tm_id) else {
        return error(StatusCode::NOT_FOUND, format!("TaskManager {tm_id} not found"));
    };
    let mut v = taskmanager_json(&c, &t);
    let allocated: Vec<Value> = t
        .slot_jobs
        .iter()
        .map(|job| json!({ "resource": resource_profile(), "jobId": job, "assignedTasks": 1 }))
        .collect();
    v["allocatedSlots"] = Value::Array(allocated);
    let process = c.metrics.process(&t.resource_id).unwrap_or_default();
    let memory = memory_model(&c.conf, t.hardware.process_memory).unwrap_or_default();
    let (network_total, managed_total) = (memory.network, memory.managed);
    let segment = c.conf.get(&options::TASKMANAGER_MEMORY_SEGMENT_SIZE).bytes().max(1);
    let (segments_total, segments_used) = (network_total / segment, process.network_memory_used.div_ceil(segment));
    v["metrics"] = json!({
        "heapUsed": 0, "heapCommitted": 0, "heapMax": 0, "nonHeapUsed": 0, "nonHeapCommitted": 0, "nonHeapMax": 0,
        "directCount": 0, "directUsed": 0, "directMax": 0, "mappedCount": 0, "mappedUsed": 0, "mappedMax": 0,
        "nettyShuffleMemorySegmentsAvailable": segments_total.saturating_sub(segments_used),
        "nettyShuffleMemorySegmentsUsed": segments_used, "nettyShuffleMemorySegmentsTotal": segments_total,
        "nettyShuffleMemoryAvailable": network_total.saturating_sub(process.network_memory_used),
        "nettyShuffleMemoryUsed": process.network_memory_used, "nettyShuffleMemoryTotal": network_total,
        // rfy: managed memory used by keyed state (Flink's Status.Flink.Memory.Managed.* metrics).
        "managedMemoryUsed": process.managed_memory_used, "managedMemoryTotal": managed_total,
        "garbageCollectors": [],
    });
    Json(v).into_response()
}
