//! The RUNNING phase of a JobMaster: one execution attempt of the job, from
//! deployment until every task is terminal. Reacts to task states, lost
//! TaskManagers, checkpoint acknowledgements and declines, savepoint and
//! cancel requests; ends with the job terminal or with a restart delay.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use rfy_rpc::{ExecutionState, FailureKind, TaskExecutionState};
use rfy_runtime::checkpoint::{RestoreSource, StateHandle};

use super::idle::{record_aborted, record_completed};
use super::{record_failure, task_display, CheckpointTrigger, JobMaster, JobMasterMsg};
use crate::checkpoint::{
    AbortReason, Aborted, CheckpointStat, CheckpointState, Completion, Coordinator, SavepointRequest,
};
use crate::resource_manager::SlotAssignment;
use crate::restart::RestartStrategy;
use crate::status::{execution_state_name, execution_terminal, now_ms, JobState, JobStatus, SavepointOp};

/// How long canceled tasks may take to confirm before they count as canceled.
pub const CANCEL_TIMEOUT: Duration = Duration::from_secs(15);

/// What a task state report means for the job.
enum TaskReport {
    /// Nothing to react to.
    Nothing,
    /// The task itself failed.
    Primary(String, (String, String)),
    /// The task failed only because a partner broke (a channel closed early);
    /// the primary cause (a failed task or a lost TaskManager) should follow.
    Secondary(String, (String, String)),
}

/// How one execution attempt of the job ended.
pub(super) enum AttemptEnd {
    /// The job reached a terminal state.
    Terminal,
    /// Restart after this delay.
    Restart(Duration),
}

/// True if a checkpoint can be triggered now: every task RUNNING, or, with
/// a final checkpoint (`final_checkpoint`), RUNNING or FINISHED with at least
/// one source still RUNNING to inject the barrier (Flink's checkpoints after
/// tasks finish: a finished source's last state is carried forward).
fn can_trigger(st: &JobStatus, final_checkpoint: bool) -> bool {
    if !final_checkpoint {
        return st.tasks.iter().all(|t| t.state == ExecutionState::Running);
    }
    st.tasks.iter().all(|t| matches!(t.state, ExecutionState::Running | ExecutionState::Finished))
        && st.tasks.iter().any(|t| t.state == ExecutionState::Running && st.graph.inputs_of(t.vertex).is_empty())
}

/// One execution attempt: the JobMaster's state while its tasks are deployed.
pub(super) struct Attempt<'a> {
    jm: &'a mut JobMaster,
    slots: Vec<SlotAssignment>,
    coord: &'a mut Coordinator,
    restart: &'a mut RestartStrategy,
    /// Canceling for a restart after this delay.
    restarting: Option<Duration>,
    /// Stop-with-savepoint completed: canceling to FINISHED (or, after a
    /// drain, waiting for the tasks to finish by themselves).
    stopping: bool,
    /// A drained job's tasks that did not finish by then are canceled.
    drain_deadline: Option<Instant>,
    cancel_deadline: Option<Instant>,
    /// A secondary failure waits until then for its primary cause.
    secondary_deadline: Option<Instant>,
    /// Index of this attempt's first entry in the exception history.
    first_exception: usize,
    /// The checkpoint this attempt restored from, if any.
    restored_dir: Option<String>,
    /// Not every descriptor was answered yet: a cancel sent now could reach
    /// a TaskManager before its task and be lost.
    deploying: bool,
    /// A cancel waits for the end of the deployment.
    cancel_after_deployment: bool,
}

impl<'a> Attempt<'a> {
    /// The attempt just deployed (`JobMaster::deploy`) into `slots`.
    pub(super) fn new(
        jm: &'a mut JobMaster,
        slots: Vec<SlotAssignment>,
        coord: &'a mut Coordinator,
        restart: &'a mut RestartStrategy,
        first_exception: usize,
        restored: Option<&RestoreSource>,
    ) -> Self {
        Attempt {
            jm,
            slots,
            coord,
            restart,
            restarting: None,
            stopping: false,
            drain_deadline: None,
            cancel_deadline: None,
            secondary_deadline: None,
            first_exception,
            restored_dir: restored.map(|r| r.dir.clone()),
            deploying: true,
            cancel_after_deployment: false,
        }
    }
}

impl Attempt<'_> {
    /// The TaskManagers running this attempt's tasks.
    fn resources(&self) -> BTreeSet<String> {
        self.jm.st.tasks.iter().map(|t| t.resource_id.clone()).filter(|r| !r.is_empty()).collect()
    }

    pub(super) async fn run(&mut self) -> AttemptEnd {
        loop {
            if let Some(end) = self.settle() {
                return end;
            }
            let now = Instant::now();
            let mut wait = self.coord.next_wakeup(now);
            for d in [self.cancel_deadline, self.secondary_deadline, self.drain_deadline].into_iter().flatten() {
                wait = wait.min(d.saturating_duration_since(now));
            }
            match self.jm.next(wait).await {
                Ok(Some(m)) => self.on_message(m),
                Ok(None) => return AttemptEnd::Terminal,
                Err(_) => {}
            }
            self.tick();
            for a in self.jm.start_storage_work(self.coord) {
                self.on_aborted(a);
            }
        }
    }

    /// Periodic work: cancel deadline, checkpoint timeouts, periodic triggers.
    fn tick(&mut self) {
        let now = Instant::now();
        if self.cancel_deadline.is_some_and(|d| now >= d) {
            // Tasks that never confirmed their cancellation (their TaskManager
            // may be gone): count them as canceled.
            let st = &mut self.jm.st;
            for t in st.tasks.iter_mut().filter(|t| !execution_terminal(t.state)) {
                t.state = ExecutionState::Canceled;
                t.end_ms = now_ms();
            }
            self.cancel_deadline = None;
        }
        if self.drain_deadline.is_some_and(|d| now >= d) {
            self.drain_deadline = None;
            tracing::warn!("drained tasks did not finish within {} s: canceling them", CANCEL_TIMEOUT.as_secs());
            self.begin_cancel("stopped with a savepoint (drained)");
        }
        if self.secondary_deadline.is_some_and(|d| now >= d) {
            // No primary cause came: the broken channel is the failure.
            self.secondary_deadline = None;
            self.on_failure(None, None);
        }
        for a in self.coord.expire(now) {
            self.on_aborted(a);
        }
        let running = {
            let st = &self.jm.st;
            st.state == JobState::Running
                && self.restarting.is_none()
                && !self.stopping
                && can_trigger(st, self.coord.settings().final_checkpoint())
        };
        if running && self.coord.periodic_due(now) {
            let _ = self.trigger(None);
        }
    }

    /// Starts a checkpoint (or savepoint) at the sources; returns its id, or why it could not start.
    fn trigger(&mut self, savepoint: Option<SavepointRequest>) -> Result<u64, String> {
        let (executions, sources) = {
            let st = &self.jm.st;
            // Finished tasks (final checkpoint mode) are neither triggered nor awaited.
            let execs: Vec<String> = st
                .tasks
                .iter()
                .filter(|t| t.state != ExecutionState::Finished)
                .map(|t| t.execution_id.clone())
                .collect();
            let sources: Vec<(String, u32)> = st
                .tasks
                .iter()
                .filter(|t| st.graph.inputs_of(t.vertex).is_empty() && t.state != ExecutionState::Finished)
                .map(|t| (t.execution_id.clone(), t.subtask))
                .collect();
            (execs, sources)
        };
        let trigger_id = savepoint.as_ref().map(|s| s.trigger_id.clone());
        let stop = savepoint.as_ref().is_some_and(|s| s.stop);
        let drain = savepoint.as_ref().is_some_and(|s| s.stop && s.drain);
        let format = savepoint.as_ref().map(|s| s.format);
        let is_savepoint = savepoint.is_some();
        match self.coord.begin(Instant::now(), now_ms(), executions, savepoint) {
            Ok((id, ts)) => {
                let total = self.jm.st.tasks.len() as u32;
                self.jm.st.checkpoints.upsert(CheckpointStat {
                    id,
                    state: CheckpointState::InProgress,
                    savepoint: is_savepoint,
                    savepoint_format: format,
                    trigger_ms: ts,
                    end_ms: 0,
                    state_size: 0,
                    acknowledged: 0,
                    total_tasks: total,
                    external_path: None,
                    failure: None,
                });
                tracing::debug!(checkpoint = id, savepoint = is_savepoint, "triggering checkpoint");
                let trigger = CheckpointTrigger {
                    job_id: self.jm.st.job_id.clone(),
                    id,
                    timestamp_ms: ts,
                    savepoint: is_savepoint,
                    stop,
                    drain,
                };
                self.jm.services.task_managers.trigger_checkpoint(&trigger, sources, &self.slots, &self.jm.tx);
                Ok(id)
            }
            Err(e) => {
                tracing::warn!("cannot trigger a checkpoint: {e}");
                if let Some(t) = trigger_id {
                    self.jm.st.savepoints.insert(t, SavepointOp::Failed(e.clone()));
                }
                Err(e)
            }
        }
    }

    fn on_message(&mut self, msg: JobMasterMsg) {
        match msg {
            JobMasterMsg::TaskState(u) => {
                if u.state == ExecutionState::Finished as i32 {
                    // The checkpoints it made ready are written by the storage work after this message.
                    let (_ready, aborted) = self.coord.task_finished(&u.execution_id);
                    for a in aborted {
                        self.on_aborted(a);
                    }
                }
                let unreadable = u.failure_kind == FailureKind::CheckpointUnreadable as i32;
                let damaged_file = unreadable.then(|| u.failure_path.clone());
                let report = on_task_state(&mut self.jm.st, u);
                match report {
                    TaskReport::Nothing => {}
                    TaskReport::Primary(text, task) => {
                        if let Some(file) = damaged_file {
                            self.check_damaged_restore(&file);
                        }
                        self.on_failure(Some(text), Some(task))
                    }
                    TaskReport::Secondary(text, task) => {
                        let running =
                            self.jm.st.state == JobState::Running && self.restarting.is_none() && !self.stopping;
                        if running {
                            record_failure(&mut self.jm.st, text, Some(task), false);
                            if self.secondary_deadline.is_none() {
                                let grace = self.jm.services.heartbeat_timeout + Duration::from_millis(500);
                                self.secondary_deadline = Some(Instant::now() + grace);
                                // Find a dead TaskManager now rather than at its heartbeat timeout.
                                self.jm.services.task_managers.probe_task_managers(&self.resources(), &self.slots);
                            }
                        }
                    }
                }
            }
            JobMasterMsg::Metrics(metrics) => {
                for m in metrics {
                    if let Some(t) = self.jm.st.tasks.iter_mut().find(|t| t.execution_id == m.execution_id) {
                        t.metrics = (m.records_in, m.records_out, m.bytes_in, m.bytes_out);
                    }
                }
            }
            JobMasterMsg::Cancel => {
                let st = &mut self.jm.st;
                if matches!(st.state, JobState::Running | JobState::Created | JobState::Restarting) {
                    st.set_state(JobState::Cancelling);
                    self.restarting = None;
                    self.begin_cancel("job canceled");
                }
            }
            JobMasterMsg::TaskManagerLost { resource_id, reason } => {
                let first = {
                    let st = &mut self.jm.st;
                    let mut first = None;
                    for (i, t) in st.tasks.iter_mut().enumerate() {
                        if t.resource_id == resource_id && !execution_terminal(t.state) {
                            t.state = ExecutionState::Failed;
                            t.failure = reason.clone();
                            t.end_ms = now_ms();
                            first.get_or_insert(i);
                        }
                    }
                    first.map(|i| (task_display(st, i), st.tasks[i].address.clone()))
                };
                if let Some(task) = first {
                    self.on_failure(Some(reason), Some(task));
                }
            }
            JobMasterMsg::CheckpointAck(a) => {
                let handles = a
                    .handles
                    .into_iter()
                    .map(|h| {
                        let kg = h.keyed.then_some((h.key_group_first, h.key_group_last));
                        (
                            h.operator_uid,
                            StateHandle {
                                subtask: h.subtask,
                                file: h.file,
                                size: h.size,
                                crc32: h.crc32,
                                key_groups: kg,
                            },
                        )
                    })
                    .collect();
                // Once all are in, the checkpoint is written by the storage work after this message.
                self.coord.acknowledge(&a.execution_id, a.checkpoint_id, handles);
                if let Some((acked, total, ts)) = self.coord.progress(a.checkpoint_id) {
                    let st = &mut self.jm.st;
                    if let Some(h) = st.checkpoints.history.iter_mut().find(|h| h.id == a.checkpoint_id) {
                        h.acknowledged = acked;
                        h.total_tasks = total;
                        h.trigger_ms = ts;
                    }
                }
            }
            JobMasterMsg::CheckpointDecline(d) => {
                let reason = AbortReason::Declined { execution_id: d.execution_id, reason: d.reason };
                if let Some(ab) = self.coord.abort(d.checkpoint_id, reason) {
                    self.on_aborted(ab);
                }
            }
            JobMasterMsg::SourceEndOfInput { execution_id } => {
                let st = &self.jm.st;
                let live: Vec<&str> = st
                    .tasks
                    .iter()
                    .filter(|t| st.graph.inputs_of(t.vertex).is_empty() && !execution_terminal(t.state))
                    .map(|t| t.execution_id.as_str())
                    .collect();
                // Reports of an earlier attempt's executions are not in `live`: ignored.
                if live.contains(&execution_id.as_str()) {
                    self.coord.source_ended(&execution_id, &live);
                }
            }
            JobMasterMsg::TriggerSavepoint(sp) => {
                let ready = {
                    let st = &self.jm.st;
                    st.state == JobState::Running
                        && !self.stopping
                        && st.tasks.iter().all(|t| t.state == ExecutionState::Running)
                };
                if ready {
                    self.jm.st.savepoints.insert(sp.trigger_id.clone(), SavepointOp::InProgress);
                    let _ = self.trigger(Some(sp));
                } else {
                    let why =
                        "the job is not running with all its tasks (savepoints need every task RUNNING)".to_string();
                    self.jm.st.savepoints.insert(sp.trigger_id, SavepointOp::Failed(why));
                }
            }
            JobMasterMsg::TriggerCheckpoint { trigger_id } => {
                let ready = {
                    let st = &self.jm.st;
                    st.state == JobState::Running
                        && self.restarting.is_none()
                        && !self.stopping
                        && can_trigger(st, self.coord.settings().final_checkpoint())
                };
                let result = if ready {
                    self.trigger(None)
                } else {
                    Err("the job is not running with all its tasks (checkpoints need every task RUNNING)".to_string())
                };
                self.jm.st.checkpoint_triggers.insert(trigger_id, Some(result));
            }
            JobMasterMsg::DeploymentDone { attempt } => {
                if attempt == self.jm.st.attempt && self.deploying {
                    self.deploying = false;
                    if std::mem::take(&mut self.cancel_after_deployment) {
                        self.send_cancels();
                    }
                }
            }
            JobMasterMsg::CheckpointWritten { id, result } => match self.coord.written(id, result, Instant::now()) {
                Ok(c) => self.on_completed(c),
                Err(a) => self.on_aborted(a),
            },
        }
    }

    /// A task that could not read `file` of the checkpoint it restored from
    /// (missing, or its checksum wrong: `FailureKind::CheckpointUnreadable`):
    /// that checkpoint is not used again, so the next restart falls back to
    /// the previous one.
    fn check_damaged_restore(&mut self, file: &str) {
        let Some(dir) = &self.restored_dir else { return };
        let damaged = file.strip_prefix(dir.as_str()).is_some_and(|rest| rest.starts_with('/'));
        if damaged && self.coord.discard_retained(dir) {
            let note = format!("checkpoint at {dir} cannot be restored (a task could not read its state); the next restart falls back to an older one");
            record_failure(&mut self.jm.st, note, None, false);
        }
    }

    /// Checkpoint `id`'s `_metadata` is written: publish it, let sinks commit, stop after a stop-with-savepoint.
    fn on_completed(&mut self, c: Completion) {
        record_completed(&mut self.jm.st, &c);
        if c.commit {
            let job_id = self.jm.st.job_id.clone();
            self.jm.services.task_managers.notify_checkpoint_complete(&job_id, c.id, &self.resources(), &self.slots);
        }
        match &c.savepoint {
            Some(s) if s.stop && s.drain => {
                // The sources end their streams once told of the completion
                // (sent above): the tasks FINISH; stragglers are canceled.
                tracing::info!(checkpoint = c.id, "stop-with-savepoint (drain): savepoint done, the tasks finish");
                self.stopping = true;
                self.drain_deadline = Some(Instant::now() + CANCEL_TIMEOUT);
            }
            Some(s) if s.stop => {
                tracing::info!(checkpoint = c.id, "stop-with-savepoint: savepoint done, stopping the job");
                self.stopping = true;
                self.begin_cancel("stopped with a savepoint");
            }
            _ => {}
        }
    }

    fn on_aborted(&mut self, a: Aborted) {
        record_aborted(&mut self.jm.st, &a);
        if a.savepoint.as_ref().is_some_and(|s| s.stop) {
            // The sources stopped at the savepoint barrier: fail over to resume them.
            self.on_failure(Some(format!("stop-with-savepoint failed: {}", a.reason)), None);
        }
    }

    /// A task or TaskManager failed (`text`; `None`: the secondary failures
    /// recorded in this attempt, no primary cause having come): restart (per
    /// the strategy) or fail the job.
    fn on_failure(&mut self, text: Option<String>, task: Option<(String, String)>) {
        let state = self.jm.st.state;
        if state != JobState::Running || self.restarting.is_some() || self.stopping {
            return; // already canceling everything (tasks fail as their peers go)
        }
        self.secondary_deadline = None;
        {
            let st = &mut self.jm.st;
            let first = self.first_exception;
            match text {
                Some(text) => record_failure(st, text, task, false),
                // The earliest secondary failure of this attempt stands for the cause.
                None if st.exceptions.len() > first => {
                    let e = st.exceptions.remove(first);
                    st.exceptions.push(e);
                }
                None => record_failure(st, "a task failed".into(), None, false),
            }
            // The entry that caused this failover or failure is its root.
            if let Some(e) = st.exceptions.last_mut() {
                e.root = true;
            }
            self.first_exception = st.exceptions.len();
        }
        match self.restart.on_failure(Instant::now()) {
            Some(delay) => {
                self.jm.st.set_state(JobState::Restarting);
                self.restarting = Some(delay);
                self.stopping = false;
                self.begin_cancel("failover");
            }
            None => {
                {
                    let st = &mut self.jm.st;
                    if self.restart.name() != "none" {
                        let n = st.exceptions.len();
                        let strategy = self.restart.name();
                        if let Some(e) = st.exceptions.get_mut(n - 1) {
                            e.stacktrace.push_str(&format!("\n(restart strategy {strategy} gave up)"));
                        }
                    }
                    st.set_state(JobState::Failing);
                }
                self.begin_cancel("job failing");
            }
        }
    }

    fn begin_cancel(&mut self, reason: &str) {
        for a in self.coord.abort_all(reason) {
            self.on_aborted(a);
        }
        if self.deploying {
            self.cancel_after_deployment = true;
        } else {
            self.send_cancels();
        }
    }

    /// Cancels every task not yet terminal; those that never confirm count
    /// as canceled after [`CANCEL_TIMEOUT`].
    fn send_cancels(&mut self) {
        let executions = self
            .jm
            .st
            .tasks
            .iter()
            .filter(|t| !execution_terminal(t.state) && !t.resource_id.is_empty())
            .map(|t| (t.execution_id.clone(), t.subtask))
            .collect();
        self.jm.services.task_managers.cancel_tasks(executions, &self.slots);
        self.cancel_deadline = Some(Instant::now() + CANCEL_TIMEOUT);
    }

    /// Once every task is terminal: the attempt's end.
    fn settle(&mut self) -> Option<AttemptEnd> {
        let st = &mut self.jm.st;
        if st.state.is_terminal() {
            return Some(AttemptEnd::Terminal);
        }
        if !st.tasks.iter().all(|t| execution_terminal(t.state))
            || (self.secondary_deadline.is_some() && st.state == JobState::Running)
        {
            return None;
        }
        if let Some(delay) = self.restarting {
            return Some(AttemptEnd::Restart(delay));
        }
        let next = match st.state {
            JobState::Running if self.stopping => JobState::Finished,
            JobState::Running if st.tasks.iter().all(|t| t.state == ExecutionState::Finished) => JobState::Finished,
            JobState::Running | JobState::Failing => {
                if st.root_exception().is_none() {
                    record_failure(st, "tasks ended without finishing".into(), None, true);
                }
                JobState::Failed
            }
            JobState::Cancelling => JobState::Canceled,
            other => other,
        };
        st.set_state(next);
        next.is_terminal().then_some(AttemptEnd::Terminal)
    }
}

/// Applies a task state update; says whether and how the task failed.
fn on_task_state(st: &mut JobStatus, u: TaskExecutionState) -> TaskReport {
    let Some(i) = st.tasks.iter().position(|t| t.execution_id == u.execution_id) else { return TaskReport::Nothing };
    let state = ExecutionState::try_from(u.state).unwrap_or(ExecutionState::Failed);
    {
        let t = &mut st.tasks[i];
        if execution_terminal(t.state) {
            return TaskReport::Nothing; // already decided (e.g. its TaskManager was declared lost)
        }
        t.state = state;
        if let Some(m) = u.metrics {
            t.metrics = (m.records_in, m.records_out, m.bytes_in, m.bytes_out);
        }
        if execution_terminal(state) {
            t.end_ms = now_ms();
        }
        if state == ExecutionState::Failed {
            t.failure = u.failure.clone();
        }
    }
    tracing::debug!(job = %st.job_id, task = %u.execution_id, state = execution_state_name(state), "task state");
    if state == ExecutionState::Failed {
        let task = (task_display(st, i), st.tasks[i].address.clone());
        let text = format!("{} failed on {}: {}", task.0, task.1, u.failure);
        return if u.secondary { TaskReport::Secondary(text, task) } else { TaskReport::Primary(text, task) };
    }
    TaskReport::Nothing
}
