//! The JobMaster: one per job, a task of its own that owns the job's
//! JobGraph and state ([`JobStatus`]) and alone changes them. Readers get the
//! snapshots it publishes (a `watch` channel) before each wait for its next
//! event; everyone else talks to it by message ([`JobMasterMsg`]).
//!
//! It never blocks: calls to TaskManagers go through a
//! [`TaskManagerGateway`] that answers by message, and the checkpoint
//! coordinator's storage work runs on the JobMaster's storage queue
//! (`storage.rs`), whose results come back as messages too (or, between
//! attempts, are awaited while the mailbox is served).
//!
//! It is a state machine, one file per phase:
//! - `scheduling.rs` (CREATED, and between attempts): take the job's slots
//!   from the ResourceManager, waiting for TaskManagers up to
//!   `slot.request.timeout`;
//! - `attempt.rs` (RUNNING, FAILING, CANCELLING, RESTARTING while tasks
//!   still run): deploy every subtask (slot sharing: subtask i of every
//!   vertex goes to slot i), track task states, run the checkpoint
//!   coordinator, react to failures per the restart strategy;
//! - `idle.rs` (between attempts): the restart delay, storage calls, and
//!   the messages that come meanwhile.
//!
//! Ends in FINISHED, FAILED or CANCELED; its slots go back to the
//! ResourceManager; a failing job never touches another job's state.

mod attempt;
mod idle;
mod messages;
mod scheduling;
mod storage;
mod tm_gateway;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rfy_conf::{Configuration, Source};
use rfy_rpc::ExecutionState;
use rfy_runtime::checkpoint::RestoreSource;
use rfy_runtime::JobGraph;
use tokio::sync::{mpsc, watch};

use crate::checkpoint::{CheckpointSettings, Coordinator, RestoredStat, StorageOpener};
use crate::deployment::{task_deployments, AttemptSpec};
use crate::resource_manager::{ResourceManager, SlotAssignment};
use crate::restart::RestartStrategy;
use crate::status::{now_ms, ExceptionEntry, JobSnapshot, JobState, JobStatus};
use attempt::{Attempt, AttemptEnd};
pub(crate) use messages::{JobMasterMsg, Mailbox};
use storage::StorageQueue;
pub(crate) use tm_gateway::{CheckpointTrigger, TaskManagerGateway};

/// What a JobMaster uses of the JobManager.
#[derive(Clone)]
pub(crate) struct JobMasterServices {
    /// Slots and TaskManagers.
    pub(crate) rm: Arc<ResourceManager>,
    /// Calls to the TaskManagers (gRPC: `task_calls::RpcTaskManagers`).
    pub(crate) task_managers: Arc<dyn TaskManagerGateway>,
    /// Opens checkpoint storages by URI (`checkpoint::default_opener`).
    pub(crate) storage_opener: StorageOpener,
    /// `heartbeat.timeout`: how long a secondary failure waits for its primary cause.
    pub(crate) heartbeat_timeout: Duration,
    /// `slot.request.timeout`: how long a job waits for its slots.
    pub(crate) slot_request_timeout: Duration,
}

/// How the Dispatcher reaches a JobMaster and reads its snapshots.
#[derive(Clone)]
pub(crate) struct JobMasterHandle {
    /// Messages to the JobMaster (dropped once it ended).
    pub(crate) tx: Mailbox,
    /// The latest published snapshot (stays readable after the JobMaster ended).
    pub(crate) snapshot: watch::Receiver<JobSnapshot>,
}

impl JobMasterHandle {
    /// The latest snapshot.
    pub(crate) fn current(&self) -> JobSnapshot {
        self.snapshot.borrow().clone()
    }
}

/// Records a failure; `root` marks the one that fails the job.
pub(crate) fn record_failure(st: &mut JobStatus, text: String, task: Option<(String, String)>, root: bool) {
    tracing::error!(job = %st.job_id, "{text}");
    let (task_name, location) = task.map(|(n, l)| (Some(n), Some(l))).unwrap_or((None, None));
    st.exceptions.push(ExceptionEntry {
        name: text.lines().next().unwrap_or("").to_string(),
        stacktrace: text,
        timestamp: now_ms(),
        task_name,
        location,
        root,
    });
}

/// `Name (i/n)` of task `idx`.
pub(crate) fn task_display(st: &JobStatus, idx: usize) -> String {
    let t = &st.tasks[idx];
    let v = &st.graph.vertices[t.vertex as usize];
    rfy_runtime::task::build::task_name(&v.name, t.subtask, v.parallelism)
}

/// One job's master.
pub(crate) struct JobMaster {
    /// The job's state; only this JobMaster changes it.
    st: JobStatus,
    published: watch::Sender<JobSnapshot>,
    /// Its own sender, for the results of background calls.
    tx: Mailbox,
    rx: mpsc::UnboundedReceiver<JobMasterMsg>,
    services: JobMasterServices,
    /// The checkpoint coordinator's storage work.
    storage: StorageQueue,
    /// The configuration shipped with every task.
    conf_map: BTreeMap<String, String>,
    /// `Some(first attempt)`: start from the newest intact checkpoint in the
    /// job's checkpoint directory, numbering execution attempts from the
    /// given one (a job taken over by a new ApplicationMaster attempt, whose
    /// attempt numbers must not repeat the previous AM's: sinks name their
    /// files by them).
    recover: Option<u32>,
}

/// Starts the JobMaster of job `job_id` on its own task.
pub(crate) fn start(
    job_id: String,
    graph: JobGraph,
    conf_map: BTreeMap<String, String>,
    services: JobMasterServices,
    recover: Option<u32>,
) -> JobMasterHandle {
    let mut st = JobStatus::new(job_id, graph);
    st.config = conf_map.clone();
    let (published, snapshot) = watch::channel(Arc::new(st.clone()));
    let (tx, rx) = mpsc::unbounded_channel();
    let storage = StorageQueue::new(tx.clone());
    let jm = JobMaster { st, published, tx: tx.clone(), rx, services, storage, conf_map, recover };
    tokio::spawn(jm.run());
    JobMasterHandle { tx, snapshot }
}

/// What the JobMaster reads from the job's configuration before its first attempt.
struct JobSetup {
    settings: CheckpointSettings,
    restart: RestartStrategy,
    job_graph_json: Vec<u8>,
}

impl JobMaster {
    /// Publishes the current state.
    fn publish(&self) {
        self.published.send_replace(Arc::new(self.st.clone()));
    }

    /// Publishes, then waits up to `wait` for the next message (`Err` on timeout).
    async fn next(&mut self, wait: Duration) -> Result<Option<JobMasterMsg>, tokio::time::error::Elapsed> {
        self.publish();
        tokio::time::timeout(wait, self.rx.recv()).await
    }

    fn fail_now(&mut self, text: String) {
        record_failure(&mut self.st, text, None, true);
        self.st.set_state(JobState::Failed);
    }

    /// The checkpoint settings, restart strategy and JobGraph image of the job.
    ///
    /// Errors: the failure text (a bad configuration value, naming the key).
    fn setup(&self) -> Result<JobSetup, String> {
        let conf =
            Configuration::from_map(&self.conf_map, Source::Dynamic).map_err(|e| format!("job configuration: {e}"))?;
        let settings = CheckpointSettings::from_conf(&conf).map_err(|e| format!("{e}"))?;
        let job_graph_json = serde_json::to_vec(self.st.graph.as_ref())
            .map_err(|e| format!("cannot serialize the JobGraph for the TaskManagers: {e}"))?;
        let restart = RestartStrategy::from_conf(&conf, settings.interval.is_some());
        Ok(JobSetup { settings, restart, job_graph_json })
    }

    /// Opens the checkpoint storage and reads what the first attempt
    /// restores from: `execution.savepoint.path`, and after an
    /// ApplicationMaster failover the job's own newest intact checkpoint.
    /// `Err(())`: the job ended (failed or canceled meanwhile).
    async fn prepare_restore(&mut self, coord: &mut Coordinator) -> Result<Restores, ()> {
        const WHY: &str = "the job has no slots yet";
        match self.call_storage(coord, WHY, coord.open_call()).await.ok_or(())? {
            Ok(storage) => coord.opened(storage),
            Err(e) => {
                self.fail_now(format!("checkpoint storage: {e}"));
                return Err(());
            }
        }
        let initial = match coord.settings().restore_path.clone() {
            None => None,
            Some(dir) => match self.call_storage(coord, WHY, coord.load_external_call(&dir)).await.ok_or(())? {
                Ok(src) => Some(src),
                Err(e) => {
                    self.fail_now(format!("cannot restore from execution.savepoint.path: {e}"));
                    return Err(());
                }
            },
        };
        if let Some(src) = &initial {
            coord.continue_after(src.metadata.checkpoint_id);
        }
        // A job taken over from a previous ApplicationMaster attempt: its own
        // completed checkpoints, newest intact first (else the savepoint it
        // started from, else empty state).
        let mut recovered = None;
        if self.recover.is_some() {
            let found = match coord.scan_call() {
                None => 0,
                Some(scan) => match self.call_storage(coord, WHY, scan).await.ok_or(())? {
                    Ok(found) => coord.recovered(&found),
                    Err(e) => {
                        tracing::warn!("recovery: {e}");
                        0
                    }
                },
            };
            let found_restorable = self.call_storage(coord, WHY, coord.restorable_call()).await.ok_or(())?;
            coord.restorable_checked(&found_restorable.damaged);
            for d in &found_restorable.damaged {
                record_failure(&mut self.st, format!("recovery: {d}"), None, false);
            }
            recovered = found_restorable.source;
            tracing::info!(job = %self.st.job_id, found, checkpoint = ?recovered.as_ref().map(|s| s.metadata.checkpoint_id), "recovering the job after an ApplicationMaster failover");
        }
        Ok(Restores { initial, recovered })
    }

    /// Runs the job to a terminal state.
    async fn run(mut self) {
        let job_id = self.st.job_id.clone();
        let needed = self.st.graph.required_slots();
        let JobSetup { settings, mut restart, job_graph_json } = match self.setup() {
            Ok(s) => s,
            Err(text) => {
                self.fail_now(text);
                return self.finish();
            }
        };
        let mut coord = Coordinator::new(&job_id, settings, &self.st.graph, self.services.storage_opener.clone());
        let Ok(Restores { initial, recovered }) = self.prepare_restore(&mut coord).await else {
            return self.finish();
        };
        tracing::info!(job = %job_id, restart_strategy = restart.name(), interval = ?coord.settings().interval, "job master started");
        let first_attempt = self.recover.unwrap_or(0);
        let mut attempt = first_attempt;
        if first_attempt > 0 {
            self.st.reset_tasks(first_attempt);
        }
        loop {
            let slots = match self.acquire_slots(needed, &mut coord).await {
                Some(s) => s,
                None => break,
            };
            let restore = if attempt == first_attempt {
                recovered.clone().or_else(|| initial.clone())
            } else {
                match self.restore_after_failover(&mut coord, initial.is_some()).await {
                    Some(src) => src.or_else(|| initial.clone()),
                    None => break,
                }
            };
            if let Some(src) = &restore {
                tracing::info!(job = %job_id, attempt, checkpoint = src.metadata.checkpoint_id, dir = %src.dir, "restoring from checkpoint");
                self.st.checkpoints.restored_count += 1;
                self.st.checkpoints.restored = Some(RestoredStat {
                    id: src.metadata.checkpoint_id,
                    restore_ms: now_ms(),
                    savepoint: src.metadata.savepoint,
                    external_path: src.dir.to_string(),
                });
            }
            self.st.set_state(JobState::Running);
            self.deploy(&slots, attempt, &coord, restore.as_ref(), &job_graph_json);
            let first_exception = self.st.exceptions.len();
            let mut a = Attempt::new(&mut self, slots, &mut coord, &mut restart, first_exception, restore.as_ref());
            match a.run().await {
                AttemptEnd::Terminal => break,
                AttemptEnd::Restart(delay) => {
                    self.services.rm.release(&job_id);
                    attempt += 1;
                    tracing::info!(job = %job_id, attempt, delay_ms = delay.as_millis() as u64, "restarting the job");
                    if !self.wait_restart_delay(delay, &mut coord).await {
                        break;
                    }
                    self.st.reset_tasks(attempt);
                }
            }
        }
        self.services.rm.release(&job_id);
        // Checkpoints still pending when the job ended will never complete;
        // one being written is waited for (its outcome goes to the statistics).
        for a in coord.abort_all("the job ended") {
            idle::record_aborted(&mut self.st, &a);
        }
        self.drain_writes(&mut coord).await;
        if let Some(removals) = coord.removals_call() {
            self.storage.detached(removals);
        }
        self.finish();
    }

    /// Gives the slots back and publishes the final state.
    fn finish(self) {
        self.services.rm.release(&self.st.job_id);
        tracing::info!(job = %self.st.job_id, state = self.st.state.name(), duration_ms = self.st.duration_ms(), "job ended");
        self.publish();
    }

    /// Marks every task DEPLOYING on its slot and submits the attempt's
    /// descriptors (the answers come as messages).
    fn deploy(
        &mut self,
        slots: &[SlotAssignment],
        attempt: u32,
        coord: &Coordinator,
        restore: Option<&RestoreSource>,
        job_graph_json: &[u8],
    ) {
        let (restore_dir, restore_metadata) = match restore {
            Some(r) => (r.dir.clone(), r.metadata.to_bytes()),
            None => (String::new(), Vec::new()),
        };
        let spec = AttemptSpec {
            job_id: self.st.job_id.clone(),
            attempt,
            conf: self.conf_map.clone(),
            job_graph_json: job_graph_json.to_vec(),
            checkpoint_job_dir: coord.job_dir().unwrap_or_default(),
            exactly_once: coord.settings().exactly_once,
            final_checkpoint: coord.settings().final_checkpoint(),
            restore_dir,
            restore_metadata,
        };
        let locations: Vec<_> = slots.iter().map(|s| s.location.clone()).collect();
        let tdds = task_deployments(&self.st.graph, &locations, &spec);
        let now = now_ms();
        for t in self.st.tasks.iter_mut() {
            let slot = &locations[t.subtask as usize];
            t.state = ExecutionState::Deploying;
            t.resource_id = slot.resource_id.clone();
            t.address = slot.address.clone();
            t.start_ms = now;
        }
        self.publish();
        self.services.task_managers.submit_tasks(attempt, tdds, slots, &self.tx);
    }
}

/// What the first attempt may restore from.
struct Restores {
    /// `execution.savepoint.path`, read and checked.
    initial: Option<RestoreSource>,
    /// After an ApplicationMaster failover: the job's newest intact checkpoint.
    recovered: Option<RestoreSource>,
}
