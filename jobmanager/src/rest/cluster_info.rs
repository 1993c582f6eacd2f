//! Cluster-wide routes: `GET /config` (Flink's `DashboardConfiguration`),
//! `/overview` (`ClusterOverviewWithVersion`), `/jobmanager/config`
//! (`ConfigurationInfo`), `/taskmanagers` (`TaskManagersInfo`) and
//! `/taskmanagers/:id` (`TaskManagerDetailsInfo`).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::Json;
use rfy_rest_api::{
    ClusterOverviewWithVersion, ConfigurationInfoEntry, DashboardConfiguration, DashboardFeatures, HardwareDescription,
    ResourceProfileInfo, SlotInfo, TaskManagerDetailsInfo, TaskManagerInfo, TaskManagerMetricsInfo, TaskManagersInfo,
};

use super::error::{RestError, RestResult};
use super::{RestState, Shared, VERSION};
use crate::resource_manager::TaskManagerInfo as RegisteredTaskManager;
use crate::status::JobState;
use rfy_conf::{options, Configuration, MemorySize, TaskExecutorMemory};

/// `GET /config`: Flink's `DashboardConfiguration`.
pub(super) async fn config(State(c): Shared) -> Json<DashboardConfiguration> {
    Json(DashboardConfiguration {
        refresh_interval: 3000,
        timezone_name: "Coordinated Universal Time".into(),
        timezone_offset: 0,
        flink_version: VERSION.into(),
        flink_revision: format!("rfy {VERSION}"),
        // Cancel and savepoint go through the JobManager's own address (YARN's proxy forwards GET only).
        features: DashboardFeatures { web_submit: false, web_cancel: true, web_rescale: false, web_history: false },
        rfy_version: VERSION.into(),
        heartbeat_timeout_ms: c.heartbeat_timeout.as_millis() as u64,
    })
}

/// `GET /overview`: the cluster overview (Flink's `ClusterOverviewWithVersion`), also used by the web UI.
pub(super) async fn overview(State(c): Shared) -> Json<ClusterOverviewWithVersion> {
    let tm_list = c.dispatcher.rm.task_managers();
    let jobs = c.dispatcher.snapshots();
    let count = |pred: &dyn Fn(JobState) -> bool| jobs.iter().filter(|j| pred(j.state)).count() as u32;
    Json(ClusterOverviewWithVersion {
        taskmanagers: tm_list.len() as u32,
        taskmanagers_blocked: 0,
        slots_total: tm_list.iter().map(|t| t.slots).sum(),
        slots_available: tm_list.iter().map(|t| t.free_slots).sum(),
        slots_free_and_blocked: 0,
        jobs_running: count(&|s| !s.is_terminal()),
        jobs_finished: count(&|s| s == JobState::Finished),
        jobs_cancelled: count(&|s| s == JobState::Canceled),
        jobs_failed: count(&|s| s == JobState::Failed),
        flink_version: VERSION.into(),
        flink_commit: format!("rfy {VERSION}"),
        rfy_version: VERSION.into(),
        uptime_ms: c.started.elapsed().as_millis() as u64,
        prometheus_port: c.prometheus_port.get().copied(),
    })
}

/// `GET /jobmanager/config`: the cluster configuration as Flink's list of `{"key", "value"}`.
pub(super) async fn jobmanager_config(State(c): Shared) -> Json<Vec<ConfigurationInfoEntry>> {
    Json(c.dispatcher.conf.to_map().into_iter().map(|(key, value)| ConfigurationInfoEntry { key, value }).collect())
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
fn memory_configuration(memory: &Option<TaskExecutorMemory>, process_memory: u64) -> BTreeMap<String, u64> {
    match memory {
        Some(m) => m.fields().iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        None => BTreeMap::from([("totalProcessMemory".to_string(), process_memory)]),
    }
}

/// Flink's `TaskManagerInfo` of one TaskManager. rfy does not budget CPU or
/// memory per slot (yet): its resource profiles are Flink's unknown profile (zeros).
fn taskmanager_info(c: &RestState, t: &RegisteredTaskManager) -> TaskManagerInfo {
    let process = c.metrics.process(&t.resource_id).unwrap_or_default();
    let (slots, free) = (t.slots, t.free_slots);
    let hw = t.hardware;
    let memory = memory_model(&c.dispatcher.conf, hw.process_memory);
    TaskManagerInfo {
        id: t.resource_id.clone(),
        path: t.address.clone(),
        data_port: t.address.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()).unwrap_or(0),
        jmx_port: -1,
        time_since_last_heartbeat: t.since_heartbeat_ms,
        registered_at: t.registered_ms,
        slots_number: slots,
        free_slots: free,
        assigned_tasks: slots - free,
        total_resource: ResourceProfileInfo::default(),
        free_resource: ResourceProfileInfo::default(),
        // Reported by the TaskManager (registration: cores, physical memory; heartbeats: free memory).
        hardware: HardwareDescription {
            cpu_cores: hw.cpu_cores,
            physical_memory: hw.physical_memory,
            free_memory: process.free_memory,
            managed_memory: memory.as_ref().map(|m| m.managed).unwrap_or(0),
        },
        memory_configuration: memory_configuration(&memory, hw.process_memory),
        blocked: false,
        log_path: t.log_path.clone(),
        prometheus_port: (process.prometheus_port > 0).then_some(process.prometheus_port),
        rss_bytes: process.rss_bytes,
        cpu_load: process.cpu_load,
    }
}

/// `GET /taskmanagers`: Flink's `TaskManagersInfo`.
pub(super) async fn taskmanagers(State(c): Shared) -> Json<TaskManagersInfo> {
    let taskmanagers = c.dispatcher.rm.task_managers().iter().map(|t| taskmanager_info(&c, t)).collect();
    Json(TaskManagersInfo { taskmanagers })
}

/// `GET /taskmanagers/:id`: Flink's `TaskManagerDetailsInfo` (a `TaskManagerInfo`
/// with its allocated slots and metrics).
pub(super) async fn taskmanager_details(
    State(c): Shared,
    Path(tm_id): Path<String>,
) -> RestResult<TaskManagerDetailsInfo> {
    let t = c
        .dispatcher
        .rm
        .task_managers()
        .into_iter()
        .find(|t| t.resource_id == tm_id)
        .ok_or_else(|| RestError::not_found(format!("TaskManager {tm_id} not found")))?;
    let allocated_slots = t
        .slot_jobs
        .iter()
        .map(|job| SlotInfo { resource: ResourceProfileInfo::default(), job_id: job.clone(), assigned_tasks: 1 })
        .collect();
    let process = c.metrics.process(&t.resource_id).unwrap_or_default();
    let memory = memory_model(&c.dispatcher.conf, t.hardware.process_memory).unwrap_or_default();
    let (network_total, managed_total) = (memory.network, memory.managed);
    let segment = c.dispatcher.conf.get(&options::TASKMANAGER_MEMORY_SEGMENT_SIZE).bytes().max(1);
    let (segments_total, segments_used) = (network_total / segment, process.network_memory_used.div_ceil(segment));
    let metrics = TaskManagerMetricsInfo {
        netty_shuffle_memory_segments_available: segments_total.saturating_sub(segments_used),
        netty_shuffle_memory_segments_used: segments_used,
        netty_shuffle_memory_segments_total: segments_total,
        netty_shuffle_memory_available: network_total.saturating_sub(process.network_memory_used),
        netty_shuffle_memory_used: process.network_memory_used,
        netty_shuffle_memory_total: network_total,
        // rfy: managed memory used by keyed state (Flink's Status.Flink.Memory.Managed.* metrics).
        managed_memory_used: process.managed_memory_used,
        managed_memory_total: managed_total,
        // No JVM: heap, direct and mapped memory and garbage collectors stay zero / empty.
        ..TaskManagerMetricsInfo::default()
    };
    Ok(Json(TaskManagerDetailsInfo { info: taskmanager_info(&c, &t), allocated_slots, metrics }))
}
