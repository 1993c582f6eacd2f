//! The ResourceManager: registered TaskManagers and their slots (the slot
//! manager), heartbeats, the slot demand of every job waiting for slots, and
//! a driver that obtains more TaskManagers from the environment (local, YARN).
//!
//! It owns its state behind its own lock; JobMasters call it to take and
//! free slots. Lost TaskManagers are reported on a channel (to the
//! Dispatcher, which tells the affected JobMasters), so this module knows
//! nothing of JobMasters.
//!
//! Demand is declarative: each job waiting for slots has an entry (job id →
//! slots it waits for); the driver is told how many TaskManagers are needed
//! beyond the registered ones (`ceil((Σ demand − free slots) / slots per
//! TaskManager)`) after every change. A canceled job's entry goes away, so
//! its outstanding container asks are withdrawn; a job whose free slots were
//! taken by another job keeps its entry and so asks again.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rfy_rpc::auth::{AuthChannel, ClusterSecret};
use rfy_rpc::task_executor_gateway_client::TaskExecutorGatewayClient;
use rfy_rpc::{RegisterTaskManagerRequest, PROTOCOL_VERSION};
use tokio::sync::mpsc;
use tonic::transport::Endpoint;

use crate::status::now_ms;

/// Obtains and releases TaskManagers in an environment (local, YARN).
pub trait ResourceDriver: Send + Sync {
    /// The environment's name, for messages (`local`, `yarn`).
    fn name(&self) -> &'static str;
    /// True if more TaskManagers can come: the driver can start more, or is
    /// starting some now; false for a fixed set (the embedded local cluster
    /// at its size, nothing starting): a job that does not fit then fails at
    /// once instead of waiting.
    fn can_add_task_managers(&self) -> bool;
    /// The number of TaskManagers the JobManager needs now beyond the
    /// registered ones (0: none). Replaces the previous value: a lower value
    /// withdraws asks not yet granted. TaskManagers the driver is starting
    /// count towards it.
    fn set_required_task_managers(&self, count: u32);
    /// As [`ResourceDriver::set_required_task_managers`], by job executable:
    /// `need[url]` TaskManagers started from the executable at `url` (the
    /// job configuration's `pipeline.jars`; `""`: the cluster's own worker).
    /// Replaces the previous need of every executable. By default, the sum
    /// (a driver that starts only its own worker).
    fn set_required_task_managers_per_executable(&self, need: &BTreeMap<String, u32>) {
        self.set_required_task_managers(need.values().sum());
    }
    /// The TaskManager `resource_id` is no longer needed (lost or idle): stop it.
    fn release_task_manager(&self, resource_id: &str);
    /// True if idle TaskManagers are to be released after
    /// `resourcemanager.taskmanager-timeout` (YARN); false for a fixed set.
    fn releases_idle_task_managers(&self) -> bool {
        false
    }
    /// One line on what the driver asked its environment for and what it
    /// granted so far, for the message of a job that timed out waiting for
    /// slots (e.g. `asked YARN for 3 containers of 1024 MiB, 1 vcore; granted 1`).
    fn allocation_summary(&self) -> String {
        String::new()
    }
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
    fn set_required_task_managers(&self, _count: u32) {}
    fn release_task_manager(&self, _resource_id: &str) {}
}

/// Where a slot is: pure data, for building deployment descriptors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SlotLocation {
    /// The TaskManager's resource id (on YARN its container id).
    pub(crate) resource_id: String,
    /// Slot index within the TaskManager.
    pub(crate) slot_index: u32,
    /// The TaskManager's RPC (and data) address, `host:port`.
    pub(crate) address: String,
}

/// A slot given to a job, with a client for its TaskManager.
#[derive(Debug, Clone)]
pub(crate) struct SlotAssignment {
    pub(crate) location: SlotLocation,
    pub(crate) client: TaskExecutorGatewayClient<AuthChannel>,
}

/// A registered TaskManager.
struct TaskManagerEntry {
    address: String,
    log_path: String,
    hardware: Hardware,
    /// The job holding each slot.
    slots: Vec<Option<String>>,
    last_heartbeat: Instant,
    registered_ms: u64,
    /// Since when no slot is taken (`None`: some slot is).
    idle_since: Option<Instant>,
    /// SHA-256 of the executable it runs (`""`: the cluster's own worker).
    executable: String,
    client: TaskExecutorGatewayClient<AuthChannel>,
}

/// What a TaskManager said of its host at registration.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hardware {
    /// CPU cores the process may use.
    pub cpu_cores: u32,
    /// Physical memory of the host, bytes.
    pub physical_memory: u64,
    /// The TaskManager's budget, `taskmanager.memory.process.size`, bytes.
    pub process_memory: u64,
}

/// A TaskManager as the REST API shows it (a copy; no lock held).
#[derive(Debug, Clone)]
pub struct TaskManagerInfo {
    /// Resource id (on YARN the container id).
    pub resource_id: String,
    /// RPC/data address, `host:port`.
    pub address: String,
    /// Its log file, if it said.
    pub log_path: String,
    /// Its host and memory budget.
    pub hardware: Hardware,
    /// Slots in total.
    pub slots: u32,
    /// Slots not held by a job.
    pub free_slots: u32,
    /// Milliseconds since its last heartbeat.
    pub since_heartbeat_ms: u64,
    /// When it registered, ms since the epoch.
    pub registered_ms: u64,
    /// The job id of each held slot (one entry per slot a job holds).
    pub slot_jobs: Vec<String>,
}

/// A TaskManager the ResourceManager declared lost, and the jobs that held its slots.
#[derive(Debug, Clone)]
pub(crate) struct LostTaskManager {
    pub(crate) resource_id: String,
    pub(crate) reason: String,
    pub(crate) jobs: Vec<String>,
}

/// How the ResourceManager is tuned.
#[derive(Debug, Clone)]
pub(crate) struct ResourceSettings {
    /// `taskmanager.numberOfTaskSlots` of the TaskManagers the driver starts.
    pub(crate) slots_per_task_manager: u32,
    /// `heartbeat.timeout`.
    pub(crate) heartbeat_timeout: Duration,
    /// `resourcemanager.taskmanager-timeout`: idle time after which a TaskManager is released.
    pub(crate) idle_timeout: Duration,
    /// The application's secret, carried by every call to a TaskManager.
    pub(crate) secret: ClusterSecret,
}

/// The SHA-256 of the job executable at `url` (`pipeline.jars`): its file
/// name (`""` for `""`, the cluster's own worker).
pub fn executable_sha256(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or_default()
}

#[derive(Default)]
struct Pool {
    task_managers: BTreeMap<String, TaskManagerEntry>,
    /// Slots each waiting job asks for (all or nothing).
    demand: BTreeMap<String, u32>,
    /// The executable (`pipeline.jars` URL, `""`: own worker) of each waiting job.
    demand_executable: BTreeMap<String, String>,
    /// TaskManagers released as idle: their processes may still heartbeat
    /// or re-register until the environment stops them; they are refused.
    released: std::collections::BTreeSet<String>,
}

impl Pool {
    fn slot_counts(&self) -> (u32, u32) {
        let total = self.task_managers.values().map(|t| t.slots.len() as u32).sum();
        let free = self.task_managers.values().map(|t| t.slots.iter().filter(|s| s.is_none()).count() as u32).sum();
        (total, free)
    }

    /// Free slots on TaskManagers of the executable with SHA-256 `sha`.
    fn free_slots_of(&self, sha: &str) -> u32 {
        self.task_managers
            .values()
            .filter(|t| t.executable == sha)
            .map(|t| t.slots.iter().filter(|s| s.is_none()).count() as u32)
            .sum()
    }

    /// TaskManagers needed beyond the registered ones, by executable URL.
    fn required_task_managers(&self, slots_per_tm: u32) -> BTreeMap<String, u32> {
        let mut wanted: BTreeMap<String, u32> = BTreeMap::new();
        for (job, n) in &self.demand {
            let exe = self.demand_executable.get(job).cloned().unwrap_or_default();
            *wanted.entry(exe).or_default() += n;
        }
        wanted
            .into_iter()
            .map(|(exe, n)| {
                let free = self.free_slots_of(executable_sha256(&exe));
                let tms = n.saturating_sub(free).div_ceil(slots_per_tm.max(1));
                (exe, tms)
            })
            .collect()
    }

    fn remove(&mut self, resource_id: &str) -> Option<(TaskManagerEntry, Vec<String>)> {
        self.task_managers.remove(resource_id).map(|tm| {
            let mut jobs: Vec<String> = tm.slots.iter().flatten().cloned().collect();
            jobs.sort();
            jobs.dedup();
            (tm, jobs)
        })
    }
}

/// The slot manager and the driver; shared by the gateway, the JobMasters and the REST API.
pub(crate) struct ResourceManager {
    pool: Mutex<Pool>,
    driver: std::sync::Arc<dyn ResourceDriver>,
    lost: mpsc::UnboundedSender<LostTaskManager>,
    settings: ResourceSettings,
}

impl ResourceManager {
    /// A ResourceManager reporting lost TaskManagers on `lost`.
    pub(crate) fn new(
        driver: std::sync::Arc<dyn ResourceDriver>,
        settings: ResourceSettings,
        lost: mpsc::UnboundedSender<LostTaskManager>,
    ) -> Self {
        ResourceManager { pool: Mutex::new(Pool::default()), driver, lost, settings }
    }

    fn pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The driver's name (`local`, `yarn`).
    pub(crate) fn driver_name(&self) -> &'static str {
        self.driver.name()
    }

    /// The driver's account of asked and granted TaskManagers.
    pub(crate) fn allocation_summary(&self) -> String {
        self.driver.allocation_summary()
    }

    /// True if more TaskManagers can come.
    pub(crate) fn can_add_task_managers(&self) -> bool {
        self.driver.can_add_task_managers()
    }

    fn update_requirement(&self, pool: &Pool) {
        self.driver.set_required_task_managers_per_executable(
            &pool.required_task_managers(self.settings.slots_per_task_manager),
        );
    }

    /// Registers (or re-registers) a TaskManager.
    ///
    /// Errors: [`RegistrationRefused`] (its text is sent back).
    pub(crate) fn register(&self, req: &RegisterTaskManagerRequest) -> Result<(), RegistrationRefused> {
        let id = || req.resource_id.clone();
        if req.protocol_version != PROTOCOL_VERSION {
            return Err(RegistrationRefused::ProtocolVersion { resource_id: id(), version: req.protocol_version });
        }
        if req.num_slots == 0 {
            return Err(RegistrationRefused::NoSlots(id()));
        }
        if self.pool().released.contains(&req.resource_id) {
            return Err(RegistrationRefused::Released(id()));
        }
        let endpoint = Endpoint::from_shared(format!("http://{}", req.rpc_address))
            .map_err(|source| RegistrationRefused::BadAddress { address: req.rpc_address.clone(), source })?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30));
        let entry = TaskManagerEntry {
            address: req.rpc_address.clone(),
            log_path: req.log_path.clone(),
            hardware: Hardware {
                cpu_cores: req.cpu_cores,
                physical_memory: req.physical_memory,
                process_memory: req.process_memory,
            },
            slots: vec![None; req.num_slots as usize],
            last_heartbeat: Instant::now(),
            registered_ms: now_ms(),
            idle_since: Some(Instant::now()),
            executable: req.executable_sha256.clone(),
            client: TaskExecutorGatewayClient::new(self.settings.secret.channel(endpoint.connect_lazy()))
                .max_encoding_message_size(256 << 20),
        };
        tracing::info!(resource_id = %req.resource_id, address = %req.rpc_address, slots = req.num_slots, executable = %req.executable_sha256, "TaskManager registered");
        let mut pool = self.pool();
        pool.task_managers.insert(req.resource_id.clone(), entry);
        self.update_requirement(&pool);
        Ok(())
    }

    /// Records a heartbeat; false if the TaskManager is unknown.
    pub(crate) fn heartbeat(&self, resource_id: &str) -> bool {
        match self.pool().task_managers.get_mut(resource_id) {
            Some(tm) => {
                tm.last_heartbeat = Instant::now();
                true
            }
            None => false,
        }
    }

    /// `count` free slots for `job_id`, all or none, on TaskManagers of the
    /// job's executable (`executable`: its `pipeline.jars` URL, `""` for
    /// the cluster's own worker); fills one TaskManager before the next.
    /// When they are not there, records (or keeps) the job's demand so that
    /// the driver asks for TaskManagers of that executable.
    pub(crate) fn allocate(&self, job_id: &str, executable: &str, count: u32) -> Option<Vec<SlotAssignment>> {
        let mut pool = self.pool();
        let sha = executable_sha256(executable).to_string();
        let free = pool.free_slots_of(&sha);
        if free < count {
            pool.demand_executable.insert(job_id.to_string(), executable.to_string());
            if pool.demand.insert(job_id.to_string(), count) != Some(count) {
                tracing::info!(job = %job_id, slots = count, free, executable = %sha, "job waits for slots");
                self.update_requirement(&pool);
            }
            return None;
        }
        let mut out = Vec::new();
        'tms: for (id, tm) in pool.task_managers.iter_mut().filter(|(_, t)| t.executable == sha) {
            for (i, slot) in tm.slots.iter_mut().enumerate() {
                if out.len() as u32 == count {
                    break 'tms;
                }
                if slot.is_none() {
                    *slot = Some(job_id.to_string());
                    tm.idle_since = None;
                    out.push(SlotAssignment {
                        location: SlotLocation {
                            resource_id: id.clone(),
                            slot_index: i as u32,
                            address: tm.address.clone(),
                        },
                        client: tm.client.clone(),
                    });
                }
            }
        }
        pool.demand_executable.remove(job_id);
        if pool.demand.remove(job_id).is_some() {
            self.update_requirement(&pool);
        }
        Some(out)
    }

    /// The job no longer waits for slots (canceled, failed, or got them):
    /// its demand is withdrawn.
    pub(crate) fn withdraw(&self, job_id: &str) {
        let mut pool = self.pool();
        pool.demand_executable.remove(job_id);
        if pool.demand.remove(job_id).is_some() {
            tracing::info!(job = %job_id, "slot demand withdrawn");
            self.update_requirement(&pool);
        }
    }

    /// Frees every slot of `job_id` and withdraws its demand.
    pub(crate) fn release(&self, job_id: &str) {
        let mut pool = self.pool();
        pool.demand.remove(job_id);
        pool.demand_executable.remove(job_id);
        for tm in pool.task_managers.values_mut() {
            for slot in tm.slots.iter_mut() {
                if slot.as_deref() == Some(job_id) {
                    *slot = None;
                }
            }
            if tm.idle_since.is_none() && tm.slots.iter().all(Option::is_none) {
                tm.idle_since = Some(Instant::now());
            }
        }
        self.update_requirement(&pool);
    }

    /// Declares TaskManager `resource_id` lost: forgets it, tells the driver,
    /// and reports it with the jobs that had slots on it. `reason` is the
    /// whole failure text. False if it was not registered.
    pub(crate) fn declare_lost(&self, resource_id: &str, reason: String) -> bool {
        let removed = {
            let mut pool = self.pool();
            let r = pool.remove(resource_id);
            self.update_requirement(&pool);
            r
        };
        let Some((_, jobs)) = removed else { return false };
        tracing::warn!("{reason}");
        self.driver.release_task_manager(resource_id);
        let _ = self.lost.send(LostTaskManager { resource_id: resource_id.to_string(), reason, jobs });
        true
    }

    /// Declares lost every TaskManager whose last heartbeat is older than `heartbeat.timeout`.
    pub(crate) fn expire_heartbeats(&self) {
        let timeout = self.settings.heartbeat_timeout;
        let dead: Vec<(String, String)> = self
            .pool()
            .task_managers
            .iter()
            .filter(|(_, t)| t.last_heartbeat.elapsed() > timeout)
            .map(|(id, t)| (id.clone(), t.address.clone()))
            .collect();
        for (id, address) in dead {
            let reason = format!(
                "TaskManager {id} ({address}) lost: no heartbeat for {:.1} s (heartbeat.timeout)",
                timeout.as_secs_f64()
            );
            self.declare_lost(&id, reason);
        }
    }

    /// Releases TaskManagers idle for `resourcemanager.taskmanager-timeout`
    /// (only with a driver that releases idle ones, and only while no job of
    /// their executable waits for slots: it will take them). Returns their ids.
    pub(crate) fn release_idle(&self) -> Vec<String> {
        if !self.driver.releases_idle_task_managers() {
            return Vec::new();
        }
        let timeout = self.settings.idle_timeout;
        let idle: Vec<String> = {
            let mut pool = self.pool();
            let waiting: std::collections::BTreeSet<String> = pool
                .demand
                .keys()
                .map(|j| executable_sha256(pool.demand_executable.get(j).map(String::as_str).unwrap_or("")).to_string())
                .collect();
            let idle: Vec<String> = pool
                .task_managers
                .iter()
                .filter(|(_, t)| !waiting.contains(&t.executable))
                .filter(|(_, t)| t.idle_since.is_some_and(|s| s.elapsed() >= timeout))
                .map(|(id, _)| id.clone())
                .collect();
            for id in &idle {
                pool.task_managers.remove(id);
                pool.released.insert(id.clone());
            }
            idle
        };
        for id in &idle {
            tracing::info!(resource_id = %id, idle_s = timeout.as_secs_f64(), "releasing idle TaskManager (resourcemanager.taskmanager-timeout)");
            self.driver.release_task_manager(id);
        }
        idle
    }

    /// A copy of every registered TaskManager.
    pub(crate) fn task_managers(&self) -> Vec<TaskManagerInfo> {
        self.pool()
            .task_managers
            .iter()
            .map(|(id, t)| TaskManagerInfo {
                resource_id: id.clone(),
                address: t.address.clone(),
                log_path: t.log_path.clone(),
                hardware: t.hardware,
                slots: t.slots.len() as u32,
                free_slots: t.slots.iter().filter(|s| s.is_none()).count() as u32,
                since_heartbeat_ms: t.last_heartbeat.elapsed().as_millis() as u64,
                registered_ms: t.registered_ms,
                slot_jobs: t.slots.iter().flatten().cloned().collect(),
            })
            .collect()
    }

    /// An RPC client of registered TaskManager `resource_id`.
    pub(crate) fn client_of(&self, resource_id: &str) -> Option<TaskExecutorGatewayClient<AuthChannel>> {
        self.pool().task_managers.get(resource_id).map(|t| t.client.clone())
    }

    /// Resource ids of the registered TaskManagers.
    pub(crate) fn task_manager_ids(&self) -> Vec<String> {
        self.pool().task_managers.keys().cloned().collect()
    }

    /// `(total, free)` slots.
    pub(crate) fn slot_counts(&self) -> (u32, u32) {
        self.pool().slot_counts()
    }

    /// Slots each waiting job asks for.
    pub(crate) fn demand(&self) -> BTreeMap<String, u32> {
        self.pool().demand.clone()
    }
}

/// Why the ResourceManager refused a TaskManager's registration (the text
/// goes back in the response).
#[derive(Debug, thiserror::Error)]
pub(crate) enum RegistrationRefused {
    /// The TaskManager speaks another protocol version.
    #[error("TaskManager {resource_id} speaks protocol version {version}, this JobManager speaks {PROTOCOL_VERSION}: run the same rfy version on both")]
    ProtocolVersion { resource_id: String, version: u32 },
    /// The TaskManager offers no slots.
    #[error("TaskManager {0} offers no slots")]
    NoSlots(String),
    /// The TaskManager was released as idle and is being stopped.
    #[error("TaskManager {0} was released as idle: it is being stopped")]
    Released(String),
    /// Its RPC address is not a valid endpoint.
    #[error("bad TaskManager address '{address}': {source}")]
    BadAddress {
        address: String,
        #[source]
        source: tonic::transport::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex as StdMutex};

    #[derive(Default)]
    struct Recorder {
        required: StdMutex<Vec<u32>>,
        released: StdMutex<Vec<String>>,
    }
    impl ResourceDriver for Recorder {
        fn name(&self) -> &'static str {
            "test"
        }
        fn can_add_task_managers(&self) -> bool {
            true
        }
        fn set_required_task_managers(&self, count: u32) {
            self.required.lock().unwrap().push(count);
        }
        fn release_task_manager(&self, resource_id: &str) {
            self.released.lock().unwrap().push(resource_id.to_string());
        }
        fn releases_idle_task_managers(&self) -> bool {
            true
        }
    }

    fn rm(idle: Duration) -> (Arc<Recorder>, ResourceManager, mpsc::UnboundedReceiver<LostTaskManager>) {
        let d = Arc::new(Recorder::default());
        let (tx, rx) = mpsc::unbounded_channel();
        let settings = ResourceSettings {
            slots_per_task_manager: 2,
            heartbeat_timeout: Duration::from_secs(5),
            idle_timeout: idle,
            secret: ClusterSecret::generate(),
        };
        (d.clone(), ResourceManager::new(d, settings, tx), rx)
    }

    fn reg(id: &str, slots: u32) -> RegisterTaskManagerRequest {
        RegisterTaskManagerRequest {
            resource_id: id.into(),
            rpc_address: "127.0.0.1:1".into(),
            num_slots: slots,
            protocol_version: PROTOCOL_VERSION,
            ..Default::default()
        }
    }

    impl ResourceManager {
        fn allocate_own(&self, job: &str, count: u32) -> Option<Vec<SlotAssignment>> {
            self.allocate(job, "", count)
        }
    }

    fn last(d: &Recorder) -> u32 {
        *d.required.lock().unwrap().last().unwrap()
    }

    #[tokio::test]
    async fn demand_is_per_job_and_withdrawn_when_a_job_gives_up() {
        let (d, rm, _lost) = rm(Duration::from_secs(30));
        assert!(rm.allocate_own("a", 3).is_none());
        assert_eq!(last(&d), 2, "3 slots at 2 per TaskManager");
        assert!(rm.allocate_own("b", 1).is_none());
        assert_eq!(last(&d), 2, "4 slots");
        assert!(rm.allocate_own("c", 1).is_none());
        assert_eq!(last(&d), 3, "5 slots");
        rm.withdraw("c");
        assert_eq!(last(&d), 2);
        rm.register(&reg("tm1", 2)).unwrap();
        assert_eq!(last(&d), 1, "2 of 4 slots are there");
        // b takes a slot; a still waits for 3 (one free now), so it asks again.
        assert_eq!(rm.allocate_own("b", 1).unwrap().len(), 1);
        assert_eq!(rm.demand().into_iter().collect::<Vec<_>>(), vec![("a".to_string(), 3)]);
        assert_eq!(last(&d), 1);
        rm.register(&reg("tm2", 2)).unwrap();
        let slots = rm.allocate_own("a", 3).unwrap();
        assert_eq!(slots.len(), 3);
        assert_eq!(slots[0].location.resource_id, "tm1");
        assert_eq!(
            slots[2].location,
            SlotLocation { resource_id: "tm2".into(), slot_index: 1, address: "127.0.0.1:1".into() }
        );
        assert_eq!(last(&d), 0);
        assert_eq!(rm.slot_counts(), (4, 0));
    }

    #[tokio::test]
    async fn a_lost_task_manager_is_reported_with_its_jobs() {
        let (d, rm, mut lost) = rm(Duration::from_secs(30));
        rm.register(&reg("tm1", 2)).unwrap();
        rm.allocate_own("a", 1).unwrap();
        rm.allocate_own("b", 1).unwrap();
        assert!(rm.declare_lost("tm1", "gone".into()));
        assert!(!rm.declare_lost("tm1", "gone again".into()));
        let l = lost.try_recv().unwrap();
        assert_eq!((l.resource_id.as_str(), l.reason.as_str()), ("tm1", "gone"));
        assert_eq!(l.jobs, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(d.released.lock().unwrap().as_slice(), ["tm1".to_string()]);
    }

    #[tokio::test]
    async fn idle_task_managers_are_released_after_the_timeout_unless_a_job_waits() {
        let (d, rm, _lost) = rm(Duration::from_millis(50));
        rm.register(&reg("tm1", 1)).unwrap();
        rm.register(&reg("tm2", 1)).unwrap();
        rm.allocate_own("a", 1).unwrap();
        assert!(rm.allocate_own("b", 2).is_none(), "b waits");
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(rm.release_idle().is_empty(), "b waits: the idle one stays");
        rm.withdraw("b");
        assert_eq!(rm.release_idle(), vec!["tm2".to_string()]);
        assert!(rm.release_idle().is_empty(), "tm1 is busy");
        rm.release("a");
        assert!(rm.release_idle().is_empty(), "tm1 just became idle");
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(rm.release_idle(), vec!["tm1".to_string()]);
        assert_eq!(d.released.lock().unwrap().as_slice(), ["tm2".to_string(), "tm1".to_string()]);
        assert_eq!(rm.slot_counts(), (0, 0));
        let err = rm.register(&reg("tm1", 1)).unwrap_err().to_string();
        assert!(err.contains("released as idle"), "{err}");
    }

    #[tokio::test]
    async fn slots_are_taken_only_on_task_managers_of_the_jobs_executable() {
        let (d, rm, _lost) = rm(Duration::from_millis(50));
        rm.register(&reg("own", 2)).unwrap();
        let exe = "hdfs://nn:9000/user/u/.rfy/app/executables/abc123";
        assert!(rm.allocate("user", exe, 1).is_none(), "the own worker's free slots are not the user job's");
        assert_eq!(last(&d), 1, "one TaskManager of the user executable");
        assert_eq!(executable_sha256(exe), "abc123");
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(rm.release_idle(), vec!["own".to_string()], "no job of the own worker waits");
        let mut user_tm = reg("user-tm", 2);
        user_tm.executable_sha256 = "abc123".into();
        rm.register(&user_tm).unwrap();
        rm.register(&reg("own2", 2)).unwrap();
        let slots = rm.allocate("user", exe, 2).unwrap();
        assert!(slots.iter().all(|s| s.location.resource_id == "user-tm"), "{slots:?}");
        assert_eq!(rm.allocate_own("builtin", 2).unwrap()[0].location.resource_id, "own2");
        assert_eq!(last(&d), 0);
    }
}
