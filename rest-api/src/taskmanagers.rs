//! TaskManager routes: `GET /taskmanagers` ([`TaskManagersInfo`]) and
//! `GET /taskmanagers/:id` ([`TaskManagerDetailsInfo`]). Memory in bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Flink's `TaskManagersInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskManagersInfo {
    /// Every registered TaskManager.
    pub taskmanagers: Vec<TaskManagerInfo>,
}

/// Flink's `TaskManagerInfo`, plus rfy's process figures (`rssBytes`, `cpuLoad`, `prometheusPort`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskManagerInfo {
    /// Resource id (on YARN the container id).
    pub id: String,
    /// Its RPC address, `host:port`.
    pub path: String,
    /// Its data port.
    pub data_port: u16,
    /// JMX port (rfy: -1, none).
    pub jmx_port: i32,
    /// ms since its last heartbeat.
    pub time_since_last_heartbeat: u64,
    /// When it registered, ms since epoch.
    pub registered_at: u64,
    /// Task slots.
    pub slots_number: u32,
    /// Free task slots.
    pub free_slots: u32,
    /// Slots in use.
    pub assigned_tasks: u32,
    /// Its total resources.
    pub total_resource: ResourceProfileInfo,
    /// Its free resources.
    pub free_resource: ResourceProfileInfo,
    /// What it runs on.
    pub hardware: HardwareDescription,
    /// Flink's `TaskExecutorMemoryConfiguration`: bytes per memory component
    /// (`frameworkHeap`, `taskHeap`, ..., `totalProcessMemory`).
    pub memory_configuration: BTreeMap<String, u64>,
    /// Blocked (rfy: never).
    pub blocked: bool,
    /// Its main log file.
    pub log_path: String,
    /// Its Prometheus reporter port, if it runs one.
    pub prometheus_port: Option<u16>,
    /// Resident set size of its process, bytes.
    pub rss_bytes: u64,
    /// CPU seconds per second (1.0 = one core busy).
    pub cpu_load: f64,
}

/// Flink's `ResourceProfileInfo` (rfy budgets no CPU or memory per slot: zeros, Flink's unknown profile).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceProfileInfo {
    /// CPU cores.
    pub cpu_cores: f64,
    /// Task heap, bytes.
    pub task_heap_memory: u64,
    /// Task off-heap, bytes.
    pub task_off_heap_memory: u64,
    /// Managed memory, bytes.
    pub managed_memory: u64,
    /// Network memory, bytes.
    pub network_memory: u64,
    /// Extended resources (GPUs, ...): none.
    pub extended_resources: BTreeMap<String, f64>,
}

/// Flink's `HardwareDescription`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HardwareDescription {
    /// CPU cores the process may use.
    pub cpu_cores: u32,
    /// Physical memory of the host, bytes.
    pub physical_memory: u64,
    /// Available memory of the host, bytes.
    pub free_memory: u64,
    /// Managed memory of the TaskManager, bytes.
    pub managed_memory: u64,
}

/// Flink's `TaskManagerDetailsInfo`: a [`TaskManagerInfo`] with its allocated slots and metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskManagerDetailsInfo {
    /// The TaskManager.
    #[serde(flatten)]
    pub info: TaskManagerInfo,
    /// One entry per slot in use.
    #[serde(rename = "allocatedSlots")]
    pub allocated_slots: Vec<SlotInfo>,
    /// Its memory figures.
    pub metrics: TaskManagerMetricsInfo,
}

/// Flink's `SlotInfo`: an allocated slot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlotInfo {
    /// The slot's resources.
    pub resource: ResourceProfileInfo,
    /// The job it runs.
    #[serde(rename = "jobId")]
    pub job_id: String,
    /// Tasks in it (rfy: one slot-sharing group, 1).
    #[serde(rename = "assignedTasks")]
    pub assigned_tasks: u32,
}

/// Flink's `TaskManagerMetricsInfo` (rfy has no JVM: heap, direct and mapped figures are 0).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskManagerMetricsInfo {
    /// JVM heap used (rfy: 0).
    pub heap_used: u64,
    /// JVM heap committed (rfy: 0).
    pub heap_committed: u64,
    /// JVM heap max (rfy: 0).
    pub heap_max: u64,
    /// JVM non-heap used (rfy: 0).
    pub non_heap_used: u64,
    /// JVM non-heap committed (rfy: 0).
    pub non_heap_committed: u64,
    /// JVM non-heap max (rfy: 0).
    pub non_heap_max: u64,
    /// Direct buffers (rfy: 0).
    pub direct_count: u64,
    /// Direct memory used (rfy: 0).
    pub direct_used: u64,
    /// Direct memory max (rfy: 0).
    pub direct_max: u64,
    /// Mapped buffers (rfy: 0).
    pub mapped_count: u64,
    /// Mapped memory used (rfy: 0).
    pub mapped_used: u64,
    /// Mapped memory max (rfy: 0).
    pub mapped_max: u64,
    /// Network buffers (segments) free.
    pub netty_shuffle_memory_segments_available: u64,
    /// Network buffers in use.
    pub netty_shuffle_memory_segments_used: u64,
    /// Network buffers in all.
    pub netty_shuffle_memory_segments_total: u64,
    /// Network memory free, bytes.
    pub netty_shuffle_memory_available: u64,
    /// Network memory in use, bytes.
    pub netty_shuffle_memory_used: u64,
    /// Network memory in all, bytes.
    pub netty_shuffle_memory_total: u64,
    /// rfy: managed memory used by keyed state, bytes.
    pub managed_memory_used: u64,
    /// rfy: managed memory in all, bytes.
    pub managed_memory_total: u64,
    /// Garbage collectors (rfy: none).
    pub garbage_collectors: Vec<GarbageCollectorInfo>,
}

/// Flink's `TaskManagerMetricsInfo.GarbageCollectorInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GarbageCollectorInfo {
    /// Collector name.
    pub name: String,
    /// Collections.
    pub count: u64,
    /// Time collecting, ms.
    pub time: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn profile() -> serde_json::Value {
        json!({"cpuCores": 0.0, "taskHeapMemory": 0, "taskOffHeapMemory": 0, "managedMemory": 0, "networkMemory": 0,
            "extendedResources": {}})
    }

    fn info() -> serde_json::Value {
        json!({"id": "tm-1", "path": "h:6121", "dataPort": 6121, "jmxPort": -1, "timeSinceLastHeartbeat": 12,
            "registeredAt": 1000, "slotsNumber": 2, "freeSlots": 1, "assignedTasks": 1, "totalResource": profile(),
            "freeResource": profile(), "hardware": {"cpuCores": 2, "physicalMemory": 8, "freeMemory": 4,
            "managedMemory": 1}, "memoryConfiguration": {"totalProcessMemory": 1024}, "blocked": false,
            "logPath": "/logs/taskmanager.log", "prometheusPort": null, "rssBytes": 100, "cpuLoad": 0.5})
    }

    #[test]
    fn taskmanagers_round_trip() {
        let sample = json!({"taskmanagers": [info()]});
        let v: TaskManagersInfo = serde_json::from_value(sample.clone()).unwrap();
        assert_eq!(v.taskmanagers[0].data_port, 6121);
        assert_eq!(serde_json::to_value(&v).unwrap(), sample);
    }

    #[test]
    fn taskmanager_details_flatten_the_info() {
        let mut sample = info();
        sample["allocatedSlots"] = json!([{"resource": profile(), "jobId": "a", "assignedTasks": 1}]);
        sample["metrics"] = serde_json::to_value(TaskManagerMetricsInfo::default()).unwrap();
        let v: TaskManagerDetailsInfo = serde_json::from_value(sample.clone()).unwrap();
        assert_eq!(v.info.id, "tm-1");
        assert_eq!(v.allocated_slots[0].job_id, "a");
        assert_eq!(serde_json::to_value(&v).unwrap(), sample);
        assert!(sample["metrics"].get("nettyShuffleMemorySegmentsTotal").is_some());
    }
}
