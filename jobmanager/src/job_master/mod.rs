//! The JobMaster: one per job, a task of its own that owns the job's
//! JobGraph and state ([`JobStatus`]) and alone changes them. Readers get the
//! snapshots it publishes (a `watch` channel) before each wait for its next
//! event; everyone else talks to it by message ([`JobMasterMsg`]).
//!
//! It is a state machine, one file per phase:
//! - `scheduling.rs` (CREATED, and between attempts): take the job's slots
//!   from the ResourceManager, waiting for TaskManagers up to
//!   `slot.request.timeout`;
//! - `attempt.rs` (RUNNING, FAILING, CANCELLING, RESTARTING while tasks
//!   still run): deploy every subtask (slot sharing: subtask i of every
//!   vertex goes to slot i), track task states, run the checkpoint
//!   coordinator, react to failures per the restart strategy;
//! - `wait_restart_delay` here (RESTARTING): the restart strategy's delay.
//!
//! Ends in FINISHED, FAILED or CANCELED; its slots go back to the
//! ResourceManager; a failing job never touches another job's state.

mod attempt;
mod scheduling;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rfy_conf::{Configuration, Source};
use rfy_rpc::{
    AcknowledgeCheckpointRequest, DeclineCheckpointRequest, ExecutionState, TaskExecutionState, TaskMetrics,
};
use rfy_runtime::checkpoint::RestoreSource;
use rfy_runtime::JobGraph;
use tokio::sync::{mpsc, watch};

use crate::checkpoint::{CheckpointSettings, Coordinator, RestoredStat, SavepointRequest};
use crate::deployment::{task_deployments, AttemptSpec};
use crate::resource_manager::{ResourceManager, SlotAssignment};
use crate::restart::RestartStrategy;
use crate::status::{now_ms, ExceptionEntry, JobSnapshot, JobState, JobStatus, SavepointOp};
use crate::task_calls::submit_tasks;
use attempt::{Attempt, AttemptEnd};

/// What a JobMaster reacts to.
pub(crate) enum JobMasterMsg {
    /// A TaskManager reported a task's state.
    TaskState(TaskExecutionState),
    /// A TaskManager's heartbeat carried these tasks' metrics.
    Metrics(Vec<TaskMetrics>),
    /// The user asked to cancel the job.
    Cancel,
    /// A TaskManager holding slots of this job was lost.
    TaskManagerLost { resource_id: String, reason: String },
    /// A task's part of a checkpoint is durable.
    CheckpointAck(AcknowledgeCheckpointRequest),
    /// A task could not take its part of a checkpoint.
    CheckpointDecline(DeclineCheckpointRequest),
    /// A source task read all its input and waits for its final checkpoint.
    SourceEndOfInput {
        /// The source task's execution id.
        execution_id: String,
    },
    /// A savepoint (and maybe stop) was asked for. The JobMaster records the
    /// operation under its trigger id in its next snapshot.
    TriggerSavepoint(SavepointRequest),
    /// A checkpoint was asked for now (REST `POST /jobs/:id/checkpoints`); the
    /// outcome goes to `JobStatus::checkpoint_triggers[trigger_id]` in the next snapshot.
    TriggerCheckpoint { trigger_id: String },
}

/// What a JobMaster uses of the JobManager.
#[derive(Clone)]
pub(crate) struct JobMasterServices {
    /// Slots and TaskManagers.
    pub(crate) rm: Arc<ResourceManager>,
    /// `heartbeat.timeout`: how long a secondary failure waits for its primary cause.
    pub(crate) heartbeat_timeout: Duration,
    /// `slot.request.timeout`: how long a job waits for its slots.
    pub(crate) slot_request_timeout: Duration,
}

/// How the Dispatcher reaches a JobMaster and reads its snapshots.
#[derive(Clone)]
pub(crate) struct JobMasterHandle {
    /// Messages to the JobMaster (dropped once it ended).
    pub(crate) tx: mpsc::UnboundedSender<JobMasterMsg>,
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
    tx: mpsc::UnboundedSender<JobMasterMsg>,
    rx: mpsc::UnboundedReceiver<JobMasterMsg>,
    services: JobMasterServices,
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
    let jm = JobMaster { st, published, tx: tx.clone(), rx, services, conf_map, recover };
    tokio::spawn(jm.run());
    JobMasterHandle { tx, snapshot }
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

    /// Runs the job to a terminal state.
    async fn run(mut self) {
        let job_id = self.st.job_id.clone();
        let needed = self.st.graph.required_slots();
        let graph = self.st.graph.clone();
        let conf = match Configuration::from_map(&self.conf_map, Source::Dynamic) {
            Ok(c) => c,
            Err(e) => {
                self.fail_now(format!("job configuration: {e}"));
                return self.finish();
            }
        };
        let settings = match CheckpointSettings::from_conf(&conf) {
            Ok(s) => s,
            Err(e) => {
                self.fail_now(e);
                return self.finish();
            }
        };
        let mut coord = match Coordinator::new(&job_id, settings, &graph) {
            Ok(c) => c,
            Err(e) => {
                self.fail_now(format!("checkpoint storage: {e}"));
                return self.finish();
            }
        };
        let job_graph_json = match serde_json::to_vec(graph.as_ref()) {
            Ok(j) => j,
            Err(e) => {
                self.fail_now(format!("cannot serialize the JobGraph for the TaskManagers: {e}"));
                return self.finish();
            }
        };
        let mut restart = RestartStrategy::from_conf(&conf, coord.settings().interval.is_some());
        let initial = match coord.settings().restore_path.clone().map(|p| coord.load_external(&p)) {
            None => None,
            Some(Ok(src)) => Some(src),
            Some(Err(e)) => {
                self.fail_now(format!("cannot restore from execution.savepoint.path: {e}"));
                return self.finish();
            }
        };
        if let Some(src) = &initial {
            coord.continue_after(src.metadata.checkpoint_id);
        }
        // A job taken over from a previous ApplicationMaster attempt: its own
        // completed checkpoints, newest intact first (else the savepoint it
        // started from, else empty state).
        let recovered = if self.recover.is_some() {
            let found = coord.recover_retained();
            let (src, notes) = coord.latest_restorable();
            for n in notes {
                record_failure(&mut self.st, format!("recovery: {n}"), None, false);
            }
            tracing::info!(job = %job_id, found, checkpoint = ?src.as_ref().map(|s| s.metadata.checkpoint_id), "recovering the job after an ApplicationMaster failover");
            src
        } else {
            None
        };
        tracing::info!(job = %job_id, restart_strategy = restart.name(), interval = ?coord.settings().interval, "job master started");
        let first_attempt = self.recover.unwrap_or(0);
        let mut attempt = first_attempt;
        if first_attempt > 0 {
            self.st.reset_tasks(first_attempt);
        }
        loop {
            let slots = match self.acquire_slots(needed).await {
                Some(s) => s,
                None => break,
            };
            let restore = if attempt == first_attempt {
                recovered.clone().or_else(|| initial.clone())
            } else {
                let (src, notes) = coord.latest_restorable();
                for n in notes {
                    let target = match &src {
                        Some(s) => format!("falling back to checkpoint {} at {}", s.metadata.checkpoint_id, s.dir),
                        None if initial.is_some() => "falling back to the savepoint the job started from".into(),
                        None => "no older checkpoint: restarting without state".into(),
                    };
                    record_failure(&mut self.st, format!("{n}; {target}"), None, false);
                }
                src.or_else(|| initial.clone())
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
            self.deploy(&slots, attempt, &coord, restore.as_ref(), &job_graph_json).await;
            let first_exception = self.st.exceptions.len();
            let mut a = Attempt {
                jm: &mut self,
                slots,
                coord: &mut coord,
                restart: &mut restart,
                restarting: None,
                stopping: false,
                cancel_deadline: None,
                secondary_deadline: None,
                first_exception,
                restored_dir: restore.as_ref().map(|r| r.dir.clone()),
            };
            match a.run().await {
                AttemptEnd::Terminal => break,
                AttemptEnd::Restart(delay) => {
                    self.services.rm.release(&job_id);
                    attempt += 1;
                    tracing::info!(job = %job_id, attempt, delay_ms = delay.as_millis() as u64, "restarting the job");
                    if !self.wait_restart_delay(delay).await {
                        break;
                    }
                    self.st.reset_tasks(attempt);
                }
            }
        }
        // Checkpoints still pending when the job ended will never complete.
        coord.abort_all("the job ended");
        self.finish();
    }

    /// Gives the slots back and publishes the final state.
    fn finish(self) {
        self.services.rm.release(&self.st.job_id);
        tracing::info!(job = %self.st.job_id, state = self.st.state.name(), duration_ms = self.st.duration_ms(), "job ended");
        self.publish();
    }

    /// Waits `delay`; false if the job was canceled meanwhile.
    async fn wait_restart_delay(&mut self, delay: Duration) -> bool {
        let until = Instant::now() + delay;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            match self.next(left).await {
                Err(_) => return true,
                Ok(None) => return false,
                Ok(Some(JobMasterMsg::Cancel)) => {
                    self.st.set_state(JobState::Canceled);
                    return false;
                }
                Ok(Some(JobMasterMsg::TriggerSavepoint(sp))) => {
                    self.st.savepoints.insert(sp.trigger_id, SavepointOp::Failed("the job is restarting".into()));
                }
                Ok(Some(JobMasterMsg::TriggerCheckpoint { trigger_id })) => {
                    self.st.checkpoint_triggers.insert(trigger_id, Some(Err("the job is restarting".into())));
                }
                Ok(Some(_)) => {} // stale messages of the previous attempt
            }
        }
    }

    /// Marks every task DEPLOYING on its slot and submits the attempt's descriptors.
    async fn deploy(
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
        submit_tasks(tdds, slots, &self.tx).await;
    }
}
