//! The JobMaster: one per job. Gets slots, deploys every subtask (slot
//! sharing: subtask i of every vertex goes to slot i), tracks task states,
//! runs the checkpoint coordinator, and on a failure either restarts the job
//! from its last completed checkpoint (per the restart strategy) or moves it
//! to FAILED. Ends in FINISHED, FAILED or CANCELED.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rfy_conf::{Configuration, Source};
use rfy_rpc::{AcknowledgeCheckpointRequest, DeclineCheckpointRequest, ExecutionState, TaskExecutionState};
use rfy_runtime::checkpoint::{RestoreSource, StateHandle};
use tokio::sync::mpsc;

use crate::checkpoint::{
    Aborted, CheckpointSettings, CheckpointStat, CheckpointState, Completion, Coordinator, RestoredStat,
    SavepointRequest,
};
use crate::cluster::{lock, read, write, Cluster, JobEntry};
use crate::deployment::{cancel_tasks, deploy, notify_complete, probe_task_managers, trigger_sources};
use crate::resource_manager::SlotAssignment;
use crate::restart::RestartStrategy;
use crate::status::{
    execution_state_name, execution_terminal, now_ms, ExceptionEntry, JobState, JobStatus, SavepointOp,
};

/// How long a job waits for enough slots before it fails.
pub const SLOT_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// How long canceled tasks may take to confirm before they count as canceled.
pub const CANCEL_TIMEOUT: Duration = Duration::from_secs(15);

/// What a JobMaster reacts to.
pub(crate) enum JobMasterMsg {
    /// A TaskManager reported a task's state.
    TaskState(TaskExecutionState),
    /// The user asked to cancel the job.
    Cancel,
    /// A TaskManager holding slots of this job was lost.
    TaskManagerLost { resource_id: String, reason: String },
    /// A task's part of a checkpoint is durable.
    CheckpointAck(AcknowledgeCheckpointRequest),
    /// A task could not take its part of a checkpoint.
    CheckpointDecline(DeclineCheckpointRequest),
    /// A savepoint (and maybe stop) was asked for.
    TriggerSavepoint(SavepointRequest),
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

pub(crate) fn task_display(st: &JobStatus, idx: usize) -> String {
    let t = &st.tasks[idx];
    let v = &st.graph.vertices[t.vertex as usize];
    rfy_runtime::task::build::task_name(&v.name, t.subtask, v.parallelism)
}

/// How one execution attempt of the job ended.
enum AttemptEnd {
    /// The job reached a terminal state.
    Terminal,
    /// Restart after this delay.
    Restart(Duration),
}

struct Attempt<'a> {
    cluster: &'a Arc<Cluster>,
    entry: &'a Arc<JobEntry>,
    slots: Vec<SlotAssignment>,
    coord: &'a mut Coordinator,
    restart: &'a mut RestartStrategy,
    /// Canceling for a restart after this delay.
    restarting: Option<Duration>,
    /// Stop-with-savepoint completed: canceling to FINISHED.
    stopping: bool,
    cancel_deadline: Option<Instant>,
    /// A secondary failure waits until then for its primary cause.
    secondary_deadline: Option<Instant>,
    /// Index of this attempt's first entry in the exception history.
    first_exception: usize,
    /// The checkpoint this attempt restored from, if any.
    restored_dir: Option<String>,
}

fn fail_now(entry: &JobEntry, text: String) {
    let mut st = write(&entry.status);
    record_failure(&mut st, text, None, true);
    st.set_state(JobState::Failed);
}

/// Runs the job to a terminal state.
pub(crate) async fn run(
    cluster: Arc<Cluster>,
    entry: Arc<JobEntry>,
    mut rx: mpsc::UnboundedReceiver<JobMasterMsg>,
    conf_map: BTreeMap<String, String>,
) {
    let (job_id, needed, graph) = {
        let st = read(&entry.status);
        (st.job_id.clone(), st.graph.required_slots(), st.graph.clone())
    };
    let conf = match Configuration::from_map(&conf_map, Source::Dynamic) {
        Ok(c) => c,
        Err(e) => {
            fail_now(&entry, format!("job configuration: {e}"));
            return finish(&cluster, &entry, &job_id);
        }
    };
    let settings = match CheckpointSettings::from_conf(&conf) {
        Ok(s) => s,
        Err(e) => {
            fail_now(&entry, e);
            return finish(&cluster, &entry, &job_id);
        }
    };
    let mut coord = match Coordinator::new(&job_id, settings, &graph) {
        Ok(c) => c,
        Err(e) => {
            fail_now(&entry, format!("checkpoint storage: {e}"));
            return finish(&cluster, &entry, &job_id);
        }
    };
    let mut restart = RestartStrategy::from_conf(&conf, coord.settings().interval.is_some());
    let initial = match coord.settings().restore_path.clone().map(|p| coord.load_external(&p)) {
        None => None,
        Some(Ok(src)) => Some(src),
        Some(Err(e)) => {
            fail_now(&entry, format!("cannot restore from execution.savepoint.path: {e}"));
            return finish(&cluster, &entry, &job_id);
        }
    };
    if let Some(src) = &initial {
        coord.continue_after(src.metadata.checkpoint_id);
    }
    tracing::info!(job = %job_id, restart_strategy = restart.name(), interval = ?coord.settings().interval, "job master started");
    let mut attempt = 0u32;
    loop {
        let slots = match acquire_slots(&cluster, &entry, &mut rx, &job_id, needed).await {
            Some(s) => s,
            None => break,
        };
        let restore = if attempt == 0 {
            initial.clone()
        } else {
            let (src, notes) = coord.latest_restorable();
            let mut st = write(&entry.status);
            for n in notes {
                let target = match &src {
                    Some(s) => format!("falling back to checkpoint {} at {}", s.metadata.checkpoint_id, s.dir),
                    None if initial.is_some() => "falling back to the savepoint the job started from".into(),
                    None => "no older checkpoint: restarting without state".into(),
                };
                record_failure(&mut st, format!("{n}; {target}"), None, false);
            }
            src.or_else(|| initial.clone())
        };
        if let Some(src) = &restore {
            let mut st = write(&entry.status);
            tracing::info!(job = %job_id, attempt, checkpoint = src.metadata.checkpoint_id, dir = %src.dir, "restoring from checkpoint");
            st.checkpoints.restored_count += 1;
            st.checkpoints.restored = Some(RestoredStat {
                id: src.metadata.checkpoint_id,
                restore_ms: now_ms(),
                savepoint: src.metadata.savepoint,
                external_path: src.dir.to_string(),
            });
        }
        write(&entry.status).set_state(JobState::Running);
        deploy(&entry, &slots, &conf_map, attempt, &coord, restore.as_ref()).await;
        let first_exception = read(&entry.status).exceptions.len();
        let mut a = Attempt {
            cluster: &cluster,
            entry: &entry,
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
        match a.run(&mut rx).await {
            AttemptEnd::Terminal => break,
            AttemptEnd::Restart(delay) => {
                lock(&cluster.rm).release(&job_id);
                attempt += 1;
                tracing::info!(job = %job_id, attempt, delay_ms = delay.as_millis() as u64, "restarting the job");
                if !wait_restart_delay(&entry, &mut rx, delay).await {
                    break;
                }
                write(&entry.status).reset_tasks(attempt);
            }
        }
    }
    // Checkpoints still pending when the job ended will never complete.
    coord.abort_all("the job ended");
    finish(&cluster, &entry, &job_id);
}

/// Waits `delay`; false if the job was canceled meanwhile.
async fn wait_restart_delay(entry: &JobEntry, rx: &mut mpsc::UnboundedReceiver<JobMasterMsg>, delay: Duration) -> bool {
    let until = Instant::now() + delay;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        match tokio::time::timeout(left, rx.recv()).await {
            Err(_) => return true,
            Ok(None) => return false,
            Ok(Some(JobMasterMsg::Cancel)) => {
                write(&entry.status).set_state(JobState::Canceled);
                return false;
            }
            Ok(Some(JobMasterMsg::TriggerSavepoint(sp))) => {
                write(&entry.status)
                    .savepoints
                    .insert(sp.trigger_id, SavepointOp::Failed("the job is restarting".into()));
            }
            Ok(Some(_)) => {} // stale messages of the previous attempt
        }
    }
}

impl Attempt<'_> {
    async fn run(&mut self, rx: &mut mpsc::UnboundedReceiver<JobMasterMsg>) -> AttemptEnd {
        loop {
            if let Some(end) = self.settle() {
                return end;
            }
            let now = Instant::now();
            let mut wait = self.coord.next_wakeup(now);
            for d in [self.cancel_deadline, self.secondary_deadline].into_iter().flatten() {
                wait = wait.min(d.saturating_duration_since(now));
            }
            match tokio::time::timeout(wait, rx.recv()).await {
                Ok(Some(m)) => self.on_message(m),
                Ok(None) => return AttemptEnd::Terminal,
                Err(_) => {}
            }
            self.tick();
        }
    }

    /// Periodic work: cancel deadline, checkpoint timeouts, periodic triggers.
    fn tick(&mut self) {
        let now = Instant::now();
        if self.cancel_deadline.is_some_and(|d| now >= d) {
            // Tasks that never confirmed their cancellation (their TaskManager
            // may be gone): count them as canceled.
            let mut st = write(&self.entry.status);
            for t in st.tasks.iter_mut().filter(|t| !execution_terminal(t.state)) {
                t.state = ExecutionState::Canceled;
                t.end_ms = now_ms();
            }
            self.cancel_deadline = None;
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
            let st = read(&self.entry.status);
            st.state == JobState::Running
                && self.restarting.is_none()
                && !self.stopping
                && crate::checkpoint::can_trigger(&st, self.coord.settings().final_checkpoint())
        };
        if running && self.coord.periodic_due(now) {
            self.trigger(None);
        }
    }

    /// Starts a checkpoint (or savepoint) at the sources.
    fn trigger(&mut self, savepoint: Option<SavepointRequest>) {
        let (executions, sources) = {
            let st = read(&self.entry.status);
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
        let is_savepoint = savepoint.is_some();
        match self.coord.begin(Instant::now(), now_ms(), executions, savepoint) {
            Ok((id, ts)) => {
                let total = read(&self.entry.status).tasks.len() as u32;
                write(&self.entry.status).checkpoints.upsert(CheckpointStat {
                    id,
                    state: CheckpointState::InProgress,
                    savepoint: is_savepoint,
                    trigger_ms: ts,
                    end_ms: 0,
                    state_size: 0,
                    acknowledged: 0,
                    total_tasks: total,
                    external_path: None,
                    failure: None,
                });
                tracing::debug!(checkpoint = id, savepoint = is_savepoint, "triggering checkpoint");
                trigger_sources(self.entry, &self.slots, sources, id, ts, is_savepoint, stop);
            }
            Err(e) => {
                tracing::warn!("cannot trigger a checkpoint: {e}");
                if let Some(t) = trigger_id {
                    write(&self.entry.status).savepoints.insert(t, SavepointOp::Failed(e));
                }
            }
        }
    }

    fn on_message(&mut self, msg: JobMasterMsg) {
        match msg {
            JobMasterMsg::TaskState(u) => {
                if u.state == ExecutionState::Finished as i32 {
                    self.coord.task_finished(&u.execution_id);
                }
                let report = on_task_state(&mut write(&self.entry.status), u);
                match report {
                    TaskReport::Nothing => {}
                    TaskReport::Primary(text, task) => {
                        self.check_damaged_restore(&text);
                        self.on_failure(Some(text), Some(task))
                    }
                    TaskReport::Secondary(text, task) => {
                        let running = read(&self.entry.status).state == JobState::Running
                            && self.restarting.is_none()
                            && !self.stopping;
                        if running {
                            record_failure(&mut write(&self.entry.status), text, Some(task), false);
                            if self.secondary_deadline.is_none() {
                                let grace = self.cluster.heartbeat_timeout + Duration::from_millis(500);
                                self.secondary_deadline = Some(Instant::now() + grace);
                                // Find a dead TaskManager now rather than at its heartbeat timeout.
                                probe_task_managers(self.cluster, self.entry, &self.slots);
                            }
                        }
                    }
                }
            }
            JobMasterMsg::Cancel => {
                let mut st = write(&self.entry.status);
                if matches!(st.state, JobState::Running | JobState::Created | JobState::Restarting) {
                    st.set_state(JobState::Cancelling);
                    drop(st);
                    self.restarting = None;
                    self.begin_cancel("job canceled");
                }
            }
            JobMasterMsg::TaskManagerLost { resource_id, reason } => {
                let first = {
                    let mut st = write(&self.entry.status);
                    let mut first = None;
                    for (i, t) in st.tasks.iter_mut().enumerate() {
                        if t.resource_id == resource_id && !execution_terminal(t.state) {
                            t.state = ExecutionState::Failed;
                            t.failure = reason.clone();
                            t.end_ms = now_ms();
                            first.get_or_insert(i);
                        }
                    }
                    first.map(|i| (task_display(&st, i), st.tasks[i].address.clone()))
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
                let all_in = self.coord.acknowledge(&a.execution_id, a.checkpoint_id, handles);
                if let Some((acked, total, ts)) = self.coord.progress(a.checkpoint_id) {
                    let mut st = write(&self.entry.status);
                    if let Some(h) = st.checkpoints.history.iter_mut().find(|h| h.id == a.checkpoint_id) {
                        h.acknowledged = acked;
                        h.total_tasks = total;
                        h.trigger_ms = ts;
                    }
                }
                if all_in {
                    match self.coord.complete(a.checkpoint_id, Instant::now()) {
                        Ok(c) => self.on_completed(c),
                        Err(ab) => self.on_aborted(ab),
                    }
                }
            }
            JobMasterMsg::CheckpointDecline(d) => {
                if let Some(ab) =
                    self.coord.abort(d.checkpoint_id, format!("declined by task {}: {}", d.execution_id, d.reason))
                {
                    self.on_aborted(ab);
                }
            }
            JobMasterMsg::TriggerSavepoint(sp) => {
                let ready = {
                    let st = read(&self.entry.status);
                    st.state == JobState::Running
                        && !self.stopping
                        && st.tasks.iter().all(|t| t.state == ExecutionState::Running)
                };
                if ready {
                    write(&self.entry.status).savepoints.insert(sp.trigger_id.clone(), SavepointOp::InProgress);
                    self.trigger(Some(sp));
                } else {
                    let why =
                        "the job is not running with all its tasks (savepoints need every task RUNNING)".to_string();
                    write(&self.entry.status).savepoints.insert(sp.trigger_id, SavepointOp::Failed(why));
                }
            }
        }
    }

    /// A task that could not read a file of the checkpoint it restored from
    /// (missing, or its checksum wrong): that checkpoint is not used again,
    /// so the next restart falls back to the previous one.
    fn check_damaged_restore(&mut self, failure: &str) {
        let Some(dir) = &self.restored_dir else { return };
        let damaged = failure.contains(&format!("corrupt checkpoint file {dir}/"))
            || failure.contains(&format!("cannot read {dir}/"));
        if damaged && self.coord.discard_retained(dir) {
            let note = format!("checkpoint at {dir} cannot be restored (a task could not read its state); the next restart falls back to an older one");
            record_failure(&mut write(&self.entry.status), note, None, false);
        }
    }

    fn on_completed(&mut self, c: Completion) {
        tracing::info!(checkpoint = c.id, location = %c.location, bytes = c.state_size, savepoint = c.savepoint.is_some(), "checkpoint completed");
        {
            let mut st = write(&self.entry.status);
            let total = st.tasks.len() as u32;
            st.checkpoints.completed += 1;
            st.checkpoints.upsert(CheckpointStat {
                id: c.id,
                state: CheckpointState::Completed,
                savepoint: c.savepoint.is_some(),
                trigger_ms: c.trigger_ms,
                end_ms: now_ms(),
                state_size: c.state_size,
                acknowledged: total,
                total_tasks: total,
                external_path: Some(c.location.clone()),
                failure: None,
            });
            if let Some(sp) = &c.savepoint {
                st.savepoints.insert(sp.trigger_id.clone(), SavepointOp::Completed(c.location.clone()));
            }
        }
        if c.commit {
            let job_id = read(&self.entry.status).job_id.clone();
            notify_complete(self.entry, &self.slots, &job_id, c.id);
        }
        if c.savepoint.as_ref().is_some_and(|s| s.stop) {
            tracing::info!(checkpoint = c.id, "stop-with-savepoint: savepoint done, stopping the job");
            self.stopping = true;
            self.begin_cancel("stopped with a savepoint");
        }
    }

    fn on_aborted(&mut self, a: Aborted) {
        tracing::warn!(checkpoint = a.id, "checkpoint aborted: {}", a.reason);
        {
            let mut st = write(&self.entry.status);
            st.checkpoints.failed += 1;
            let mut stat = st.checkpoints.history.iter().find(|h| h.id == a.id).cloned().unwrap_or(CheckpointStat {
                id: a.id,
                state: CheckpointState::Failed,
                savepoint: a.savepoint.is_some(),
                trigger_ms: now_ms(),
                end_ms: 0,
                state_size: 0,
                acknowledged: 0,
                total_tasks: 0,
                external_path: None,
                failure: None,
            });
            stat.state = CheckpointState::Failed;
            stat.end_ms = now_ms();
            stat.failure = Some(a.reason.clone());
            st.checkpoints.upsert(stat);
            if let Some(sp) = &a.savepoint {
                st.savepoints.insert(sp.trigger_id.clone(), SavepointOp::Failed(a.reason.clone()));
            }
        }
        if a.savepoint.as_ref().is_some_and(|s| s.stop) {
            // The sources stopped at the savepoint barrier: fail over to resume them.
            self.on_failure(Some(format!("stop-with-savepoint failed: {}", a.reason)), None);
        }
    }

    /// A task or TaskManager failed (`text`; `None`: the secondary failures
    /// recorded in this attempt, no primary cause having come): restart (per
    /// the strategy) or fail the job.
    fn on_failure(&mut self, text: Option<String>, task: Option<(String, String)>) {
        let state = read(&self.entry.status).state;
        if state != JobState::Running || self.restarting.is_some() || self.stopping {
            return; // already canceling everything (tasks fail as their peers go)
        }
        self.secondary_deadline = None;
        {
            let mut st = write(&self.entry.status);
            let first = self.first_exception;
            match text {
                Some(text) => record_failure(&mut st, text, task, false),
                // The earliest secondary failure of this attempt stands for the cause.
                None if st.exceptions.len() > first => {
                    let e = st.exceptions.remove(first);
                    st.exceptions.push(e);
                }
                None => record_failure(&mut st, "a task failed".into(), None, false),
            }
            // The entry that caused this failover or failure is its root.
            if let Some(e) = st.exceptions.last_mut() {
                e.root = true;
            }
            self.first_exception = st.exceptions.len();
        }
        match self.restart.on_failure(Instant::now()) {
            Some(delay) => {
                write(&self.entry.status).set_state(JobState::Restarting);
                self.restarting = Some(delay);
                self.stopping = false;
                self.begin_cancel("failover");
            }
            None => {
                {
                    let mut st = write(&self.entry.status);
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
        cancel_tasks(self.cluster, self.entry, &self.slots);
        self.cancel_deadline = Some(Instant::now() + CANCEL_TIMEOUT);
    }

    /// Once every task is terminal: the attempt's end.
    fn settle(&mut self) -> Option<AttemptEnd> {
        let mut st = write(&self.entry.status);
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
                    record_failure(&mut st, "tasks ended without finishing".into(), None, true);
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

fn finish(cluster: &Cluster, entry: &JobEntry, job_id: &str) {
    lock(&cluster.rm).release(job_id);
    let st = read(&entry.status);
    tracing::info!(job = %job_id, state = st.state.name(), duration_ms = st.duration_ms(), "job ended");
}

async fn acquire_slots(
    cluster: &Cluster,
    entry: &JobEntry,
    rx: &mut mpsc::UnboundedReceiver<JobMasterMsg>,
    job_id: &str,
    needed: u32,
) -> Option<Vec<SlotAssignment>> {
    let started = Instant::now();
    let mut requested = false;
    loop {
        if let Some(slots) = lock(&cluster.rm).allocate(job_id, needed) {
            return Some(slots);
        }
        let (total, free) = lock(&cluster.rm).slot_counts();
        if !cluster.driver.can_add_task_managers() {
            fail_now(
                entry,
                format!(
                    "the job needs {needed} slots (its highest parallelism) but the {} cluster has {free} free of {total}: \
                     raise taskmanager.numberOfTaskSlots or the number of TaskManagers, or lower the parallelism",
                    cluster.driver.name()
                ),
            );
            return None;
        }
        if !requested {
            let slots_per_tm = cluster.conf.get(&rfy_conf::options::TASKMANAGER_NUMBER_OF_TASK_SLOTS).max(1);
            cluster.driver.request_task_managers((needed - free).div_ceil(slots_per_tm));
            requested = true;
        }
        if started.elapsed() > SLOT_REQUEST_TIMEOUT {
            fail_now(
                entry,
                format!(
                    "could not get {needed} slots within {} s ({free} free of {total})",
                    SLOT_REQUEST_TIMEOUT.as_secs()
                ),
            );
            return None;
        }
        match tokio::time::timeout(Duration::from_millis(50), rx.recv()).await {
            Ok(Some(JobMasterMsg::Cancel)) => {
                write(&entry.status).set_state(JobState::Canceled);
                return None;
            }
            Ok(Some(JobMasterMsg::TriggerSavepoint(sp))) => {
                write(&entry.status)
                    .savepoints
                    .insert(sp.trigger_id, SavepointOp::Failed("the job has no slots yet".into()));
            }
            _ => {}
        }
    }
}

/// The checkpoint restore a deployment carries: directory and `_metadata` image.
pub(crate) fn restore_fields(restore: Option<&RestoreSource>) -> (String, Vec<u8>) {
    match restore {
        Some(r) => (r.dir.clone(), r.metadata.to_bytes()),
        None => (String::new(), Vec::new()),
    }
}
