//! The YARN resource driver: the JobManager's ResourceManager tells it how
//! many TaskManagers it needs beyond the registered ones (the sum of the
//! waiting jobs' slot demand, in TaskManagers); the allocate loop
//! ([`ContainerAllocator`]) keeps YARN's outstanding ask at that number minus
//! the containers already starting, so a lower need withdraws asks (a
//! canceled job's) and a higher one asks again (a job whose TaskManagers were
//! taken). It heartbeats the YARN ResourceManager
//! (`ApplicationMasterProtocol#allocate`), starts each granted container with
//! `rfy-worker` through its NodeManager (`ContainerManagementProtocol#startContainers`,
//! authenticated with the node's NMToken), releases surplus containers and
//! the ones the JobManager releases (lost, or idle for
//! `resourcemanager.taskmanager-timeout`), and reports completed containers
//! to the JobManager as lost TaskManagers.
//!
//! A TaskManager's resource id is its container id, so the two sides agree
//! without a mapping.
//!
//! Jobs of user executables in a session (`pipeline.jars`): the need is kept
//! per executable, each executable's asks go to YARN at their own priority
//! (the cluster's own worker at [`TASK_MANAGER_PRIORITY`], user executables
//! above it, so a granted container says by its priority whose it is), and a
//! container for a user executable localizes that executable (from HDFS) as
//! `rfy-worker` and gets its SHA-256 in [`rfy_rpc::EXECUTABLE_SHA256_ENV`],
//! which its TaskManager sends when it registers.

use std::collections::{BTreeMap, BTreeSet};

use rfy_hadoop::hdfs::{Hdfs, HdfsError};
use rfy_hadoop::yarn::{LocalResource, LocalResourceType, LocalResourceVisibility};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rfy_hadoop::ipc::ConnectOptions;
use rfy_hadoop::token::{Credentials, KIND_AM_RM_TOKEN};
use rfy_hadoop::yarn::amrm::{is_not_registered, AllocateRequest, AmCommand, AmRmClient, ContainerAsk};
use rfy_hadoop::yarn::nm::{ContainerLaunchContext, NmClient, NmTokenCache};
use rfy_hadoop::yarn::{Container, ContainerId, Resource, YarnError};
use rfy_jobmanager::{JobManagerHandle, ResourceDriver};
use tokio::sync::{watch, Notify};

/// Allocate heartbeat period while containers are asked for or starting.
pub const FAST_HEARTBEAT: Duration = Duration::from_millis(250);
/// Allocate heartbeat period otherwise.
pub const SLOW_HEARTBEAT: Duration = Duration::from_secs(1);
/// With RM HA, how long allocate heartbeats may keep failing (at least 10 in a
/// row) before the AM gives up: a failover leaves no RM active for a while.
pub const RM_FAILOVER_PATIENCE: Duration = Duration::from_secs(60);
/// Priority of TaskManager container asks (`ResourceRequest.priority`).
pub const TASK_MANAGER_PRIORITY: i32 = 1;
/// TaskManager containers that may fail before they register, per
/// application, before the AM stops replacing them.
pub const MAX_FAILED_STARTS: u32 = 8;

#[derive(Default)]
struct Requests {
    /// TaskManagers the JobManager needs beyond the registered ones (all executables).
    required: u32,
    /// The same by executable URL (`""`: the cluster's own worker).
    required_by_executable: BTreeMap<String, u32>,
    /// Containers the JobManager no longer needs (lost or idle TaskManagers).
    to_release: BTreeSet<String>,
    /// For messages: containers YARN granted since the AM started.
    granted: u32,
    /// For messages: the outstanding ask last sent to YARN.
    outstanding: u32,
    /// For messages: what one container is (`1024 MiB, 1 vcore, 2 slots`).
    container: String,
}

/// A [`ResourceDriver`] for YARN: records requests; the [`ContainerAllocator`] acts on them.
#[derive(Clone, Default)]
pub struct YarnDriver {
    requests: Arc<Mutex<Requests>>,
    wake: Arc<Notify>,
}

impl YarnDriver {
    /// A driver with no requests.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Requests> {
        self.requests.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ResourceDriver for YarnDriver {
    fn name(&self) -> &'static str {
        "yarn"
    }
    fn can_add_task_managers(&self) -> bool {
        true
    }
    fn set_required_task_managers(&self, count: u32) {
        self.set_required_task_managers_per_executable(&BTreeMap::from([(String::new(), count)]));
    }
    fn set_required_task_managers_per_executable(&self, need: &BTreeMap<String, u32>) {
        let need: BTreeMap<String, u32> = need.iter().filter(|(_, n)| **n > 0).map(|(e, n)| (e.clone(), *n)).collect();
        let changed = {
            let mut r = self.lock();
            r.required = need.values().sum();
            std::mem::replace(&mut r.required_by_executable, need.clone()) != need
        };
        if changed {
            tracing::info!(?need, "TaskManagers needed beyond the registered ones");
            self.wake.notify_one();
        }
    }
    fn release_task_manager(&self, resource_id: &str) {
        self.lock().to_release.insert(resource_id.to_string());
        self.wake.notify_one();
    }
    fn releases_idle_task_managers(&self) -> bool {
        true
    }
    fn allocation_summary(&self) -> String {
        let r = self.lock();
        format!(
            "YARN was asked for {} more TaskManager container(s) of {} and has granted {} since the session started",
            r.outstanding.max(r.required),
            if r.container.is_empty() { "?" } else { &r.container },
            r.granted
        )
    }
}

/// How TaskManager containers are sized and started.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    /// Container size (`taskmanager.memory.process.size`, `yarn.containers.vcores`).
    pub resource: Resource,
    /// Slots per TaskManager (`taskmanager.numberOfTaskSlots`).
    pub slots: u32,
    /// The JobManager's RPC address the workers register at.
    pub jobmanager_address: String,
    /// Files to localize (worker binary, configuration, Hadoop XMLs).
    pub local_resources: Vec<(String, rfy_hadoop::yarn::LocalResource)>,
    /// Environment of the worker containers.
    pub environment: Vec<(String, String)>,
    /// The user, for the NodeManager connection.
    pub user: String,
    /// The credentials file for the containers (`ContainerLaunchContext.tokens`),
    /// from [`task_manager_tokens`]; `None`: no tokens (an open cluster).
    pub tokens: Option<Vec<u8>>,
    /// How the AM connects to NodeManagers: the qops of the cluster's
    /// `hadoop.rpc.protection` (a NodeManager at `privacy` offers only `auth-conf`).
    pub nm_connect: ConnectOptions,
}

/// The tokens TaskManager containers get, as Flink's YARN ResourceManager
/// hands them on (`Utils#createTaskExecutorContext`): the AM's own
/// credentials (the HDFS and RM delegation tokens and any secrets the client
/// shipped) minus the `YARN_AM_RM_TOKEN`, which is the AM's alone, in the
/// credentials file's Writable layout. `None` when nothing is left (an open
/// cluster, where the AM holds only its AMRMToken).
pub fn task_manager_tokens(am: &Credentials) -> Option<Vec<u8>> {
    let mut creds = am.clone();
    creds.tokens.retain(|(_, t)| t.kind != KIND_AM_RM_TOKEN);
    if creds.tokens.is_empty() && creds.secret_keys.is_empty() {
        return None;
    }
    tracing::info!(
        tokens = ?creds.tokens.iter().map(|(alias, t)| format!("{}@{alias}", t.kind)).collect::<Vec<_>>(),
        secrets = creds.secret_keys.len(),
        "TaskManager containers get the AM's tokens minus its AMRMToken"
    );
    Some(creds.encode_writable())
}

/// What the allocate loop saw that ends the application.
#[derive(Debug, thiserror::Error)]
pub enum AllocatorEvent {
    /// The RM sent `AM_SHUTDOWN` (e.g. the application was killed).
    #[error("the YARN ResourceManager asked the AM to shut down")]
    Shutdown,
    /// Allocate calls kept failing.
    #[error("allocate heartbeats to {rm} failed {failures} times: {last}")]
    Failed {
        /// The ResourceManager's scheduler address.
        rm: String,
        /// How many calls failed in a row.
        failures: u32,
        /// The last call's error.
        #[source]
        last: YarnError,
    },
}

/// Why a TaskManager container could not be started (it is released and
/// another asked for).
#[derive(Debug, thiserror::Error)]
enum ContainerStartError {
    /// A job executable's TaskManager needs HDFS to find the executable.
    #[error("this AM cannot start TaskManagers of job executables (no HDFS client)")]
    NoHdfs,
    /// The job executable is not in HDFS.
    #[error("job executable {url}: {source}")]
    Executable {
        /// Its URL.
        url: String,
        /// The cause.
        #[source]
        source: HdfsError,
    },
    /// The NodeManager could not be reached or refused the container.
    #[error(transparent)]
    NodeManager(#[from] YarnError),
}

struct Started {
    node: String,
    /// The executable URL it was started from (`""`: the cluster's own worker).
    executable: String,
}

/// The allocate loop: one per AM.
pub struct ContainerAllocator {
    driver: YarnDriver,
    amrm: Arc<AmRmClient>,
    jobmanager: Arc<JobManagerHandle>,
    spec: WorkerSpec,
    tokens: NmTokenCache,
    /// Containers allocated and started (or starting), by id.
    running: BTreeMap<String, Started>,
    /// Containers started whose TaskManager registered at least once.
    registered: BTreeSet<String>,
    failed_starts: u32,
    response_id: i32,
    /// The outstanding count last sent to the RM, by executable URL.
    asked: BTreeMap<String, i32>,
    /// The ask priority of each executable URL (the own worker's: [`TASK_MANAGER_PRIORITY`]).
    priorities: BTreeMap<String, i32>,
    /// HDFS, to stat user executables for localization ([`ContainerAllocator::with_hdfs`]).
    hdfs: Option<Hdfs>,
    progress: Arc<Mutex<f32>>,
}

impl ContainerAllocator {
    /// An allocate loop for a registered AM.
    pub fn new(driver: YarnDriver, amrm: Arc<AmRmClient>, jobmanager: Arc<JobManagerHandle>, spec: WorkerSpec) -> Self {
        driver.lock().container =
            format!("{} MiB, {} vcore(s), {} slot(s)", spec.resource.memory_mb, spec.resource.vcores, spec.slots);
        ContainerAllocator {
            driver,
            amrm,
            jobmanager,
            spec,
            tokens: NmTokenCache::new(),
            running: BTreeMap::new(),
            registered: BTreeSet::new(),
            failed_starts: 0,
            response_id: 0,
            asked: BTreeMap::new(),
            priorities: BTreeMap::from([(String::new(), TASK_MANAGER_PRIORITY)]),
            hdfs: None,
            progress: Arc::new(Mutex::new(0.0)),
        }
    }

    /// Lets the allocator start TaskManagers from user executables on HDFS
    /// (jobs with `pipeline.jars` in a session).
    pub fn with_hdfs(mut self, hdfs: Hdfs) -> Self {
        self.hdfs = Some(hdfs);
        self
    }

    /// The ask priority of `executable`, given on first sight.
    fn priority_of(&mut self, executable: &str) -> i32 {
        let next = self.priorities.values().max().copied().unwrap_or(TASK_MANAGER_PRIORITY) + 1;
        *self.priorities.entry(executable.to_string()).or_insert(next)
    }

    /// A handle to set the progress (0.0 to 1.0) reported with each heartbeat.
    pub fn progress(&self) -> Arc<Mutex<f32>> {
        self.progress.clone()
    }

    /// Heartbeats until `stop` turns true or the RM ends the application;
    /// returns why it stopped (`None` when stopped by `stop`).
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) -> Option<AllocatorEvent> {
        let mut errors = 0u32;
        let mut failing_since = std::time::Instant::now();
        let ha = self.amrm.addresses().len() > 1;
        loop {
            let busy = {
                let r = self.driver.lock();
                r.required > 0 || !r.to_release.is_empty()
            } || self.asked.values().any(|a| *a > 0)
                || self.running.keys().any(|c| !self.registered.contains(c));
            let period = if busy { FAST_HEARTBEAT } else { SLOW_HEARTBEAT };
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                _ = self.driver.wake.notified() => {}
                _ = stop.wait_for(|s| *s) => return None,
            }
            match self.heartbeat().await {
                Ok(Some(ev)) => return Some(ev),
                Ok(None) => errors = 0,
                Err(e) => {
                    if errors == 0 {
                        failing_since = std::time::Instant::now();
                    }
                    errors += 1;
                    tracing::warn!(errors, "allocate heartbeat failed: {e}");
                    if errors >= 10 && (!ha || failing_since.elapsed() >= RM_FAILOVER_PATIENCE) {
                        return Some(AllocatorEvent::Failed {
                            rm: self.amrm.addr().to_string(),
                            failures: errors,
                            last: e,
                        });
                    }
                }
            }
        }
    }

    async fn heartbeat(&mut self) -> Result<Option<AllocatorEvent>, YarnError> {
        // Which TaskManagers registered: a container completing before that is a failed start.
        for id in self.jobmanager.task_manager_ids() {
            if self.running.contains_key(&id) {
                self.registered.insert(id);
            }
        }
        let releases = std::mem::take(&mut self.driver.lock().to_release);
        let mut release_ids = Vec::new();
        for id in releases {
            match id.parse::<ContainerId>() {
                Ok(c) => {
                    if self.running.remove(&id).is_some() {
                        tracing::info!(container = %id, "releasing container");
                    }
                    self.registered.remove(&id);
                    release_ids.push(c);
                }
                Err(e) => tracing::warn!("cannot release {id}: {e}"),
            }
        }
        // The outstanding ask per executable: what the JobManager needs minus what is starting.
        let mut executables: BTreeSet<String> = self.driver.lock().required_by_executable.keys().cloned().collect();
        executables.extend(self.asked.keys().cloned());
        let mut asks = Vec::new();
        let mut outstanding = 0;
        for exe in executables {
            let target = if self.failed_starts > MAX_FAILED_STARTS { 0 } else { self.needed(&exe) };
            outstanding += target;
            let asked = self.asked.get(&exe).copied().unwrap_or(0);
            if target as i32 != asked {
                let priority = self.priority_of(&exe);
                tracing::info!(from = asked, to = target, executable = %exe, priority, "changing the outstanding TaskManager container ask");
                asks.push(ContainerAsk::any(priority, self.spec.resource, target as i32));
                self.asked.insert(exe, target as i32);
            }
        }
        self.driver.lock().outstanding = outstanding;
        let progress = *self.progress.lock().unwrap_or_else(|p| p.into_inner());
        let req = AllocateRequest { response_id: self.response_id, asks, releases: release_ids, progress };
        let releases_sent = req.releases.iter().map(ToString::to_string).collect::<Vec<_>>();
        let resp = match self.amrm.allocate(&req).await {
            Ok(r) => r,
            Err(e) if is_not_registered(&e) => {
                // The releases of this call were not taken: the next heartbeat sends them again.
                self.driver.lock().to_release.extend(releases_sent);
                self.resync().await?;
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        self.response_id = resp.response_id;
        self.tokens.insert_all(&resp.nm_tokens);
        if let Some(cmd) = resp.am_command {
            match cmd {
                AmCommand::Shutdown => return Ok(Some(AllocatorEvent::Shutdown)),
                AmCommand::Resync => {
                    self.resync().await?;
                    return Ok(None);
                }
            }
        }
        self.driver.lock().granted += resp.allocated.len() as u32;
        for c in resp.allocated {
            // The RM lowers its outstanding count by what it allocates; the priority says whose ask it was.
            let exe = self.priorities.iter().find(|(_, p)| **p == c.priority).map(|(e, _)| e.clone());
            let Some(exe) = exe else {
                tracing::warn!(container = %c.id, priority = c.priority, "container of an unknown ask priority: releasing it");
                self.driver.release_task_manager(&c.id.to_string());
                continue;
            };
            if let Some(a) = self.asked.get_mut(&exe) {
                *a = (*a - 1).max(0);
            }
            if self.needed(&exe) > 0 && self.failed_starts <= MAX_FAILED_STARTS {
                self.launch(c, exe);
            } else {
                tracing::info!(container = %c.id, "surplus container: releasing it");
                self.driver.release_task_manager(&c.id.to_string());
            }
        }
        for st in resp.completed {
            let id = st.container_id.to_string();
            let Some(started) = self.running.remove(&id) else { continue };
            let reason = format!(
                "its YARN container {id} on {} completed with exit status {}{}{}",
                started.node,
                st.exit_status,
                if st.diagnostics.trim().is_empty() { "" } else { ": " },
                st.diagnostics.trim()
            );
            tracing::warn!("{reason}");
            let was_registered = self.registered.remove(&id);
            let lost = self.jobmanager.declare_task_manager_lost(&id, &reason);
            if !was_registered && !lost {
                self.failed_starts += 1;
                if self.failed_starts <= MAX_FAILED_STARTS {
                    // The demand is still there: the next heartbeat asks for a replacement.
                    tracing::warn!(failed = self.failed_starts, "TaskManager container ended before registering");
                } else {
                    tracing::error!(
                        "{} TaskManager containers ended before registering: not asking for more",
                        self.failed_starts
                    );
                }
            }
        }
        Ok(None)
    }

    /// Answers a ResourceManager that does not know this AM (it restarted, or
    /// another RM took over: `ApplicationMasterNotRegisteredException` or
    /// `AM_RESYNC`) as Hadoop's `AMRMClientImpl` does: registers again,
    /// heartbeats from `response_id` 0, and re-sends every outstanding ask on
    /// the next heartbeat. Running containers stay (work-preserving recovery:
    /// their NodeManagers report them to the new RM).
    async fn resync(&mut self) -> Result<(), YarnError> {
        tracing::warn!(rm = %self.amrm.addr(), "the ResourceManager does not know this AM (restart or failover): resync");
        self.amrm.reregister().await?;
        self.response_id = 0;
        self.asked.clear();
        Ok(())
    }

    /// Containers started (or starting) from `executable` whose TaskManager has not registered yet.
    fn starting(&self, executable: &str) -> u32 {
        self.running.iter().filter(|(c, s)| s.executable == executable && !self.registered.contains(*c)).count() as u32
    }

    /// TaskManagers of `executable` still to ask YARN for: the JobManager's need minus those starting.
    fn needed(&self, executable: &str) -> u32 {
        let required = self.driver.lock().required_by_executable.get(executable).copied().unwrap_or(0);
        required.saturating_sub(self.starting(executable))
    }

    fn launch(&mut self, c: Container, executable: String) {
        let id = c.id.to_string();
        tracing::info!(container = %id, node = %c.node_id, executable = %executable, "container allocated: starting a TaskManager");
        self.running.insert(id.clone(), Started { node: c.node_id.to_string(), executable: executable.clone() });
        let Some(token) = self.tokens.get(&c.node_id) else {
            // Released; the demand stays, so the next heartbeat asks again.
            tracing::error!(container = %id, node = %c.node_id, "no NMToken for the node: releasing the container");
            self.driver.release_task_manager(&id);
            return;
        };
        let mut ctx = ContainerLaunchContext {
            local_resources: self.spec.local_resources.clone(),
            environment: self.spec.environment.clone(),
            commands: vec![crate::bundle::worker_command(&self.spec.jobmanager_address, self.spec.slots)],
            tokens: self.spec.tokens.clone(),
        };
        let user = self.spec.user.clone();
        let nm_connect = self.spec.nm_connect.clone();
        let driver = self.driver.clone();
        let hdfs = self.hdfs.clone();
        tokio::spawn(async move {
            let started = async {
                if !executable.is_empty() {
                    let hdfs = hdfs.ok_or(ContainerStartError::NoHdfs)?;
                    let worker = executable_resource(&hdfs, &executable).await?;
                    ctx.local_resources.retain(|(name, _)| name != crate::bundle::WORKER_BINARY);
                    ctx.local_resources.push((crate::bundle::WORKER_BINARY.to_string(), worker));
                    ctx.environment.push((
                        rfy_rpc::EXECUTABLE_SHA256_ENV.to_string(),
                        rfy_jobmanager::executable_sha256(&executable).to_string(),
                    ));
                }
                let nm = NmClient::connect(&c.node_id, &token, &user, &nm_connect).await?;
                nm.start_container(&c, &ctx).await?;
                Ok::<(), ContainerStartError>(())
            }
            .await;
            match started {
                Ok(_) => tracing::info!(container = %c.id, "TaskManager container started"),
                Err(e) => {
                    tracing::error!(container = %c.id, "cannot start the TaskManager container: {e}; asking for another");
                    driver.release_task_manager(&c.id.to_string());
                }
            }
        });
    }
}

/// The job executable at `url` (`hdfs://host:port/path`, from
/// `pipeline.jars`) as a YARN local resource: its size and modification
/// time from HDFS, as YARN's localizer checks them.
///
/// Errors: [`ContainerStartError::Executable`]: the file is not there.
async fn executable_resource(hdfs: &Hdfs, url: &str) -> Result<LocalResource, ContainerStartError> {
    let path = match url.strip_prefix("hdfs://") {
        Some(rest) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
        None => url,
    };
    let stamp =
        hdfs.stat(path).await.map_err(|source| ContainerStartError::Executable { url: url.to_string(), source })?;
    Ok(LocalResource {
        uri: url.to_string(),
        size: stamp.size as i64,
        timestamp: stamp.modification_time as i64,
        kind: LocalResourceType::File,
        visibility: LocalResourceVisibility::Application,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rfy_hadoop::token::Token;

    fn token(kind: &str, service: &str) -> Token {
        Token { identifier: vec![1, 2, 3], password: vec![9; 20], kind: kind.into(), service: service.into() }
    }

    #[test]
    fn task_managers_get_every_token_but_the_amrm_token() {
        let mut am = Credentials::new();
        am.add_token("127.0.0.1:8030", token(KIND_AM_RM_TOKEN, "127.0.0.1:8030"));
        am.add_token("127.0.0.1:8020", token("HDFS_DELEGATION_TOKEN", "127.0.0.1:8020"));
        am.add_token("localhost:8020", token("HDFS_DELEGATION_TOKEN", "localhost:8020"));
        am.add_token("127.0.0.1:8032", token("RM_DELEGATION_TOKEN", "127.0.0.1:8032"));
        am.add_secret_key("rfy.secret", vec![7; 32]);
        let bytes = task_manager_tokens(&am).expect("tokens for the TaskManagers");
        let tm = Credentials::decode(&bytes).unwrap();
        assert!(bytes.starts_with(b"HDTS\x00"), "the Writable layout the NodeManager reads");
        assert_eq!(tm.am_rm_token(), None);
        let aliases: Vec<&str> = tm.tokens.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(aliases, ["127.0.0.1:8020", "localhost:8020", "127.0.0.1:8032"]);
        assert_eq!(tm.tokens[0].1, am.tokens[1].1, "identifier, password, kind and service kept");
        assert_eq!(tm.secret_keys, am.secret_keys);
    }

    #[test]
    fn an_open_cluster_am_hands_on_nothing() {
        let mut am = Credentials::new();
        am.add_token("127.0.0.1:8030", token(KIND_AM_RM_TOKEN, "127.0.0.1:8030"));
        assert_eq!(task_manager_tokens(&am), None);
        assert_eq!(task_manager_tokens(&Credentials::new()), None);
    }
}
