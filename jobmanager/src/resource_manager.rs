//! The ResourceManager: registered TaskManagers, their slots (the slot
//! manager), heartbeats, and a driver that obtains more TaskManagers.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rfy_rpc::task_executor_gateway_client::TaskExecutorGatewayClient;
use rfy_rpc::{RegisterTaskManagerRequest, TaskMetrics, PROTOCOL_VERSION};
use tonic::transport::{Channel, Endpoint};

use crate::status::now_ms;

/// Obtains and releases TaskManagers in an environment (local, YARN).
pub trait ResourceDriver: Send + Sync {
    /// The environment's name, for messages (`local`, `yarn`).
    fn name(&self) -> &'static str;
    /// True if [`request_task_managers`](Self::request_task_managers) can add
    /// TaskManagers; false for a fixed set (the embedded local cluster).
    fn can_add_task_managers(&self) -> bool;
    /// Asks for `count` more TaskManagers; they register when started.
    fn request_task_managers(&self, count: u32);
    /// The TaskManager `resource_id` is no longer needed.
    fn release_task_manager(&self, resource_id: &str);
}

/// A driver for a fixed set of TaskManagers started by the embedding process
/// (the embedded local cluster, or a standalone setup).
pub struct StaticDriver;

impl ResourceDriver for StaticDriver {
    fn name(&self) -> &'static str {
        "local"
    }
    fn can_add_task_managers(&self) -> bool {
        false
    }
    fn request_task_managers(&self, _count: u32) {}
    fn release_task_manager(&self, _resource_id: &str) {}
}

/// A slot given to a job.
#[derive(Debug, Clone)]
pub(crate) struct SlotAssignment {
    pub(crate) resource_id: String,
    pub(crate) slot_index: u32,
    pub(crate) address: String,
    pub(crate) client: TaskExecutorGatewayClient<Channel>,
}

/// A registered TaskManager.
pub(crate) struct TaskManagerEntry {
    pub(crate) resource_id: String,
    pub(crate) address: String,
    pub(crate) log_path: String,
    /// The job holding each slot.
    pub(crate) slots: Vec<Option<String>>,
    pub(crate) last_heartbeat: Instant,
    pub(crate) registered_ms: u64,
    pub(crate) client: TaskExecutorGatewayClient<Channel>,
}

/// TaskManagers and slots.
#[derive(Default)]
pub(crate) struct ResourceManager {
    pub(crate) task_managers: BTreeMap<String, TaskManagerEntry>,
}

impl ResourceManager {
    /// Registers (or re-registers) a TaskManager.
    ///
    /// Errors: protocol version mismatch or a bad address (the text is sent back).
    pub(crate) fn register(&mut self, req: &RegisterTaskManagerRequest) -> Result<(), String> {
        if req.protocol_version != PROTOCOL_VERSION {
            return Err(format!(
                "TaskManager {} speaks protocol version {}, this JobManager speaks {}: run the same rfy version on both",
                req.resource_id, req.protocol_version, PROTOCOL_VERSION
            ));
        }
        if req.num_slots == 0 {
            return Err(format!("TaskManager {} offers no slots", req.resource_id));
        }
        let endpoint = Endpoint::from_shared(format!("http://{}", req.rpc_address))
            .map_err(|e| format!("bad TaskManager address '{}': {e}", req.rpc_address))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30));
        let entry = TaskManagerEntry {
            resource_id: req.resource_id.clone(),
            address: req.rpc_address.clone(),
            log_path: req.log_path.clone(),
            slots: vec![None; req.num_slots as usize],
            last_heartbeat: Instant::now(),
            registered_ms: now_ms(),
            client: TaskExecutorGatewayClient::new(endpoint.connect_lazy()).max_encoding_message_size(256 << 20),
        };
        tracing::info!(resource_id = %req.resource_id, address = %req.rpc_address, slots = req.num_slots, "TaskManager registered");
        self.task_managers.insert(req.resource_id.clone(), entry);
        Ok(())
    }

    /// Records a heartbeat; false if the TaskManager is unknown.
    pub(crate) fn heartbeat(&mut self, resource_id: &str, _metrics: &[TaskMetrics]) -> bool {
        match self.task_managers.get_mut(resource_id) {
            Some(tm) => {
                tm.last_heartbeat = Instant::now();
                true
            }
            None => false,
        }
    }

    /// `count` free slots for `job_id`, all or none; fills one TaskManager
    /// before the next.
    pub(crate) fn allocate(&mut self, job_id: &str, count: u32) -> Option<Vec<SlotAssignment>> {
        let (_, free) = self.slot_counts();
        if free < count {
            return None;
        }
        let mut out = Vec::new();
        for tm in self.task_managers.values_mut() {
            for (i, slot) in tm.slots.iter_mut().enumerate() {
                if out.len() as u32 == count {
                    return Some(out);
                }
                if slot.is_none() {
                    *slot = Some(job_id.to_string());
                    out.push(SlotAssignment {
                        resource_id: tm.resource_id.clone(),
                        slot_index: i as u32,
                        address: tm.address.clone(),
                        client: tm.client.clone(),
                    });
                }
            }
        }
        Some(out)
    }

    /// Frees every slot of `job_id`.
    pub(crate) fn release(&mut self, job_id: &str) {
        for tm in self.task_managers.values_mut() {
            for slot in tm.slots.iter_mut() {
                if slot.as_deref() == Some(job_id) {
                    *slot = None;
                }
            }
        }
    }

    /// Removes TaskManagers whose last heartbeat is older than `timeout`;
    /// returns `(resource_id, address, jobs that held its slots)` of each.
    pub(crate) fn expire(&mut self, timeout: Duration) -> Vec<(String, String, Vec<String>)> {
        let dead: Vec<String> = self
            .task_managers
            .values()
            .filter(|t| t.last_heartbeat.elapsed() > timeout)
            .map(|t| t.resource_id.clone())
            .collect();
        dead.into_iter().filter_map(|id| self.remove(&id)).collect()
    }

    /// Removes one TaskManager; returns its address and the jobs on it.
    pub(crate) fn remove(&mut self, resource_id: &str) -> Option<(String, String, Vec<String>)> {
        self.task_managers.remove(resource_id).map(|tm| {
            let mut jobs: Vec<String> = tm.slots.into_iter().flatten().collect();
            jobs.dedup();
            (tm.resource_id, tm.address, jobs)
        })
    }

    /// `(total, free)` slots.
    pub(crate) fn slot_counts(&self) -> (u32, u32) {
        let total = self.task_managers.values().map(|t| t.slots.len() as u32).sum();
        let free = self.task_managers.values().map(|t| t.slots.iter().filter(|s| s.is_none()).count() as u32).sum();
        (total, free)
    }
}
