//! An in-process harness for the JobMaster's state machine (as Ballista's
//! `SchedulerTest`): a real JobMaster and ResourceManager, virtual
//! TaskManagers whose answers the test scripts (run on deploy or hold the
//! deployment, acknowledge, decline or drop checkpoints, answer cancels at
//! once or when released), checkpoint storage in a temporary directory, and
//! a storage stand-in whose `_metadata` writes stall until released.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rfy_rpc::{
    AcknowledgeCheckpointRequest, ExecutionState, RegisterTaskManagerRequest, TaskDeploymentDescriptor,
    TaskExecutionState, PROTOCOL_VERSION,
};
use rfy_runtime::checkpoint::{open_storage, CheckpointError, CheckpointStorage};
use rfy_runtime::{ExecutionConfig, JobGraph};
use tokio::sync::mpsc;

use super::{start, CheckpointTrigger, JobMasterHandle, JobMasterMsg, JobMasterServices, Mailbox, TaskManagerGateway};
use crate::checkpoint::{default_opener, StorageOpener};
use crate::resource_manager::{LostTaskManager, ResourceManager, ResourceSettings, SlotAssignment, StaticDriver};
use crate::status::{JobSnapshot, JobState};

/// How long a harness wait lasts before the test fails (generous: CI is loaded).
pub(super) const WAIT: Duration = Duration::from_secs(20);

/// A call the JobMaster made to a virtual TaskManager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Call {
    /// An attempt's descriptors (execution ids).
    Submit { attempt: u32, executions: Vec<String> },
    /// Cancel these executions.
    Cancel { executions: Vec<String> },
    /// Checkpoint `id` triggered at the sources (`drain`: a stop with drain).
    Trigger { id: u64, savepoint: bool, drain: bool },
    /// Checkpoint `id` completed.
    Notify { id: u64 },
    /// A probe of these TaskManagers.
    Probe,
}

/// What the virtual TaskManagers answer to a checkpoint trigger.
#[derive(Debug, Clone)]
pub(super) enum AckAnswer {
    /// Every deployed execution acknowledges (with no state).
    All,
    /// The first source declines with this reason.
    Decline(String),
    /// Nobody answers (the checkpoint times out).
    Drop,
}

/// The script the virtual TaskManagers follow.
struct Answers {
    /// Deployed tasks report RUNNING at once; else the deployment is held
    /// (no answer, no DeploymentDone) until [`VirtualTaskManagers::release_deployment`].
    run_on_deploy: bool,
    /// Cancels are confirmed (CANCELED) at once; else when [`VirtualTaskManagers::release_cancels`] is called.
    cancel_at_once: bool,
    /// Answers to the next triggers, in order; [`AckAnswer::All`] once empty.
    acks: Vec<AckAnswer>,
}

#[derive(Default)]
struct Held {
    deployment: Option<(u32, Vec<String>)>,
    cancels: Vec<String>,
}

/// Virtual TaskManagers: the JobMaster's [`TaskManagerGateway`] in tests.
pub(super) struct VirtualTaskManagers {
    script: Mutex<Answers>,
    held: Mutex<Held>,
    calls: Mutex<Vec<Call>>,
    mailbox: Mutex<Option<Mailbox>>,
    /// Executions of the latest deployment.
    deployed: Mutex<Vec<String>>,
}

fn task_state(execution_id: &str, state: ExecutionState, failure: &str) -> JobMasterMsg {
    JobMasterMsg::TaskState(TaskExecutionState {
        job_id: execution_id.split('.').next().unwrap_or("").to_string(),
        execution_id: execution_id.to_string(),
        state: state as i32,
        failure: failure.to_string(),
        metrics: None,
        secondary: false,
        ..Default::default()
    })
}

impl VirtualTaskManagers {
    fn new() -> Self {
        VirtualTaskManagers {
            script: Mutex::new(Answers { run_on_deploy: true, cancel_at_once: true, acks: Vec::new() }),
            held: Mutex::new(Held::default()),
            calls: Mutex::new(Vec::new()),
            mailbox: Mutex::new(None),
            deployed: Mutex::new(Vec::new()),
        }
    }

    fn send(&self, msg: JobMasterMsg) {
        if let Some(m) = self.mailbox.lock().unwrap().as_ref() {
            let _ = m.send(msg);
        }
    }

    fn record(&self, call: Call) {
        self.calls.lock().unwrap().push(call);
    }

    /// Every call so far, oldest first.
    pub(super) fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Holds the next deployments (no answer) until released.
    pub(super) fn hold_deployments(&self) {
        self.script.lock().unwrap().run_on_deploy = false;
    }

    /// Answers the held deployment: DeploymentDone (tasks stay DEPLOYING).
    pub(super) fn release_deployment(&self) {
        let held = self.held.lock().unwrap().deployment.take();
        if let Some((attempt, _)) = held {
            self.send(JobMasterMsg::DeploymentDone { attempt });
        }
    }

    /// Confirms cancels only when [`VirtualTaskManagers::release_cancels`] is called.
    pub(super) fn hold_cancels(&self) {
        self.script.lock().unwrap().cancel_at_once = false;
    }

    /// Confirms the held cancels (CANCELED) and the next ones at once.
    pub(super) fn release_cancels(&self) {
        self.script.lock().unwrap().cancel_at_once = true;
        let held = std::mem::take(&mut self.held.lock().unwrap().cancels);
        for e in held {
            self.send(task_state(&e, ExecutionState::Canceled, ""));
        }
    }

    /// The answers to the next checkpoint triggers, in order.
    pub(super) fn script_acks(&self, acks: Vec<AckAnswer>) {
        self.script.lock().unwrap().acks = acks;
    }

    /// Executions of the latest deployment, in the JobMaster's task order.
    pub(super) fn deployed(&self) -> Vec<String> {
        self.deployed.lock().unwrap().clone()
    }
}

impl TaskManagerGateway for VirtualTaskManagers {
    fn submit_tasks(&self, attempt: u32, tdds: Vec<TaskDeploymentDescriptor>, _: &[SlotAssignment], mailbox: &Mailbox) {
        *self.mailbox.lock().unwrap() = Some(mailbox.clone());
        let executions: Vec<String> = tdds.iter().map(|t| t.execution_id.clone()).collect();
        *self.deployed.lock().unwrap() = executions.clone();
        self.record(Call::Submit { attempt, executions: executions.clone() });
        if self.script.lock().unwrap().run_on_deploy {
            for e in &executions {
                self.send(task_state(e, ExecutionState::Running, ""));
            }
            self.send(JobMasterMsg::DeploymentDone { attempt });
        } else {
            self.held.lock().unwrap().deployment = Some((attempt, executions));
        }
    }

    fn cancel_tasks(&self, executions: Vec<(String, u32)>, _: &[SlotAssignment]) {
        let executions: Vec<String> = executions.into_iter().map(|(e, _)| e).collect();
        self.record(Call::Cancel { executions: executions.clone() });
        if self.script.lock().unwrap().cancel_at_once {
            for e in &executions {
                self.send(task_state(e, ExecutionState::Canceled, ""));
            }
        } else {
            self.held.lock().unwrap().cancels.extend(executions);
        }
    }

    fn probe_task_managers(&self, _: &BTreeSet<String>, _: &[SlotAssignment]) {
        self.record(Call::Probe);
    }

    fn trigger_checkpoint(
        &self,
        t: &CheckpointTrigger,
        sources: Vec<(String, u32)>,
        _: &[SlotAssignment],
        _: &Mailbox,
    ) {
        self.record(Call::Trigger { id: t.id, savepoint: t.savepoint, drain: t.drain });
        let answer = {
            let mut script = self.script.lock().unwrap();
            if script.acks.is_empty() {
                AckAnswer::All
            } else {
                script.acks.remove(0)
            }
        };
        match answer {
            AckAnswer::All => {
                for e in self.deployed() {
                    self.send(JobMasterMsg::CheckpointAck(AcknowledgeCheckpointRequest {
                        job_id: t.job_id.clone(),
                        execution_id: e,
                        checkpoint_id: t.id,
                        handles: Vec::new(),
                    }));
                }
            }
            AckAnswer::Decline(reason) => {
                let execution_id = sources.first().map(|(e, _)| e.clone()).unwrap_or_default();
                self.send(JobMasterMsg::CheckpointDecline(rfy_rpc::DeclineCheckpointRequest {
                    job_id: t.job_id.clone(),
                    execution_id,
                    checkpoint_id: t.id,
                    reason,
                }));
            }
            AckAnswer::Drop => {}
        }
    }

    fn notify_checkpoint_complete(&self, _: &str, id: u64, _: &BTreeSet<String>, _: &[SlotAssignment]) {
        self.record(Call::Notify { id });
    }
}

/// A gate for storage writes of `_metadata` files: open, or closed (writes wait).
#[derive(Default)]
pub(super) struct MetadataGate {
    closed: Mutex<(bool, usize)>,
    changed: Condvar,
}

impl MetadataGate {
    /// Closes the gate: `_metadata` writes wait until [`MetadataGate::open`].
    pub(super) fn close(&self) {
        self.closed.lock().unwrap().0 = true;
    }

    /// Opens the gate; waiting writes go on.
    pub(super) fn open(&self) {
        self.closed.lock().unwrap().0 = false;
        self.changed.notify_all();
    }

    /// Writes waiting at the gate now.
    pub(super) fn waiting(&self) -> usize {
        self.closed.lock().unwrap().1
    }

    /// Waits while the gate is closed, at most [`WAIT`] + 10 s: a JobMaster
    /// that (wrongly) waits for the write itself then fails its test instead of hanging it.
    fn pass(&self) {
        let deadline = Instant::now() + WAIT + Duration::from_secs(10);
        let mut g = self.closed.lock().unwrap();
        g.1 += 1;
        while g.0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            g = self.changed.wait_timeout(g, left).unwrap().0;
        }
        g.1 -= 1;
    }
}

/// Local storage whose `_metadata` writes stall at a [`MetadataGate`] (a
/// NameNode that stops answering).
struct GatedStorage {
    inner: Arc<dyn CheckpointStorage>,
    gate: Arc<MetadataGate>,
}

impl CheckpointStorage for GatedStorage {
    fn write(&self, path: &str, bytes: &[u8]) -> Result<(), CheckpointError> {
        if path.ends_with("/_metadata") {
            self.gate.pass();
        }
        self.inner.write(path, bytes)
    }
    fn read(&self, path: &str) -> Result<Vec<u8>, CheckpointError> {
        self.inner.read(path)
    }
    fn len(&self, path: &str) -> Result<u64, CheckpointError> {
        self.inner.len(path)
    }
    fn mkdirs(&self, path: &str) -> Result<(), CheckpointError> {
        self.inner.mkdirs(path)
    }
    fn remove_dir(&self, path: &str) -> Result<(), CheckpointError> {
        self.inner.remove_dir(path)
    }
    fn rename(&self, from: &str, to: &str) -> Result<(), CheckpointError> {
        self.inner.rename(from, to)
    }
    fn exists(&self, path: &str) -> bool {
        self.inner.exists(path)
    }
    fn list(&self, dir: &str) -> Result<Vec<String>, CheckpointError> {
        self.inner.list(dir)
    }
}

/// An opener of local storages gated by `gate`.
pub(super) fn gated_opener(gate: Arc<MetadataGate>) -> StorageOpener {
    Arc::new(move |uri: &str| {
        let inner = open_storage(uri)?;
        Ok(Arc::new(GatedStorage { inner, gate: gate.clone() }) as Arc<dyn CheckpointStorage>)
    })
}

/// A small keyed job: source (2) -> hash -> reduce (2): four tasks, two slots.
pub(super) fn graph() -> JobGraph {
    let env = rfy_runtime::StreamExecutionEnvironment::new(ExecutionConfig { parallelism: 2, ..Default::default() });
    // Never run: the harness only deploys descriptors.
    env.read_text_file("harness-input.txt").key_by(|x: &String| x.clone()).reduce(|a, b| a + &b).discard();
    env.into_stream_graph("harness", &[]).job_graph().unwrap()
}

/// One job on a JobMaster with three virtual one-slot TaskManagers (`tm-0`..`tm-2`).
pub(super) struct Harness {
    pub(super) job: JobMasterHandle,
    pub(super) rm: Arc<ResourceManager>,
    pub(super) tms: Arc<VirtualTaskManagers>,
    /// The checkpoint directory (`state.checkpoints.dir`).
    pub(super) dir: tempfile::TempDir,
    _lost: mpsc::UnboundedReceiver<LostTaskManager>,
}

/// Scripts the virtual TaskManagers before the job starts.
pub(super) type Script = Box<dyn FnOnce(&VirtualTaskManagers)>;

/// What a harness is started with.
#[derive(Default)]
pub(super) struct HarnessOptions {
    /// Job configuration beyond the checkpoint directory and a fixed-delay restart strategy.
    pub(super) conf: Vec<(&'static str, &'static str)>,
    /// Storage opener (default: local storage).
    pub(super) opener: Option<StorageOpener>,
    /// Script the virtual TaskManagers before the job starts.
    pub(super) before_start: Option<Script>,
}

/// The job id of every harness job.
pub(super) const JOB_ID: &str = "0123456789abcdef0123456789abcdef";

impl Harness {
    /// Starts the job (must run inside a tokio runtime).
    pub(super) fn start(options: HarnessOptions) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let (lost_tx, lost) = mpsc::unbounded_channel();
        let settings = ResourceSettings {
            slots_per_task_manager: 1,
            heartbeat_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            secret: rfy_rpc::auth::ClusterSecret::generate(),
        };
        let rm = Arc::new(ResourceManager::new(Arc::new(StaticDriver), settings, lost_tx));
        for i in 0..3 {
            rm.register(&RegisterTaskManagerRequest {
                resource_id: format!("tm-{i}"),
                rpc_address: format!("127.0.0.1:{}", 1 + i),
                num_slots: 1,
                protocol_version: PROTOCOL_VERSION,
                ..Default::default()
            })
            .unwrap();
        }
        let tms = Arc::new(VirtualTaskManagers::new());
        if let Some(f) = options.before_start {
            f(&tms);
        }
        let mut conf: BTreeMap<String, String> = [
            ("state.checkpoints.dir", dir.path().display().to_string()),
            ("restart-strategy.type", "fixed-delay".into()),
            ("restart-strategy.fixed-delay.attempts", "3".into()),
            ("restart-strategy.fixed-delay.delay", "10 ms".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (k, v) in options.conf {
            conf.insert(k.to_string(), v.to_string());
        }
        let services = JobMasterServices {
            rm: rm.clone(),
            task_managers: tms.clone(),
            storage_opener: options.opener.unwrap_or_else(default_opener),
            heartbeat_timeout: Duration::from_secs(1),
            slot_request_timeout: Duration::from_secs(30),
        };
        let job = start(JOB_ID.to_string(), graph(), conf, services, None);
        Harness { job, rm, tms, dir, _lost: lost }
    }

    /// The latest snapshot.
    pub(super) fn snapshot(&self) -> JobSnapshot {
        self.job.current()
    }

    /// Sends a message to the JobMaster.
    pub(super) fn send(&self, msg: JobMasterMsg) {
        self.job.tx.send(msg).unwrap_or_else(|_| panic!("the JobMaster ended"));
    }

    /// Waits (up to [`WAIT`]) until the published snapshot satisfies `pred`; returns it.
    pub(super) async fn wait_until(&self, what: &str, pred: impl Fn(&JobSnapshot) -> bool) -> JobSnapshot {
        let mut rx = self.job.snapshot.clone();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let s = rx.borrow_and_update().clone();
            if pred(&s) {
                return s;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                ended_or_late => {
                    let s = self.snapshot();
                    let why = if ended_or_late.is_ok() { "the JobMaster ended" } else { "timed out" };
                    assert!(
                        pred(&s),
                        "{why} waiting for {what}: state {:?}, exceptions {:?}, calls {:?}",
                        s.state,
                        s.exceptions.iter().map(|e| &e.name).collect::<Vec<_>>(),
                        self.tms.calls()
                    );
                    return s;
                }
            }
        }
    }

    /// Waits (up to [`WAIT`]) until the virtual TaskManagers saw a call matching `pred`.
    pub(super) async fn wait_for_call(&self, what: &str, pred: impl Fn(&Call) -> bool) -> Call {
        let started = Instant::now();
        loop {
            if let Some(c) = self.tms.calls().into_iter().find(|c| pred(c)) {
                return c;
            }
            assert!(started.elapsed() < WAIT, "waited {WAIT:?} for {what}: calls {:?}", self.tms.calls());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until attempt `attempt` runs with every task RUNNING.
    pub(super) async fn running(&self, attempt: u32) -> JobSnapshot {
        self.wait_until(&format!("attempt {attempt} RUNNING"), |s| {
            s.state == JobState::Running
                && s.attempt == attempt
                && s.tasks.iter().all(|t| t.state == ExecutionState::Running)
        })
        .await
    }

    /// Task `i`'s execution reports `state` (with `failure` text).
    pub(super) fn report(&self, i: usize, state: ExecutionState, failure: &str) {
        let e = self.snapshot().tasks[i].execution_id.clone();
        self.send(task_state(&e, state, failure));
    }

    /// Every task reports `state`.
    pub(super) fn report_all(&self, state: ExecutionState) {
        for t in self.snapshot().tasks.iter() {
            self.send(task_state(&t.execution_id, state, ""));
        }
    }

    /// TaskManager `id` is lost: the ResourceManager forgets it and the
    /// JobMaster is told (what the Dispatcher does on a heartbeat timeout).
    pub(super) fn lose_task_manager(&self, id: &str) {
        let reason = format!("TaskManager {id} lost: heartbeat timed out");
        assert!(self.rm.declare_lost(id, reason.clone()), "{id} was registered");
        self.send(JobMasterMsg::TaskManagerLost { resource_id: id.to_string(), reason });
    }
}
