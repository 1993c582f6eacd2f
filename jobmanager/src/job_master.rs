//! The JobMaster: one per job. Gets slots, deploys every subtask (slot
//! sharing: subtask i of every vertex goes to slot i), tracks task states,
//! and moves the job to FINISHED, FAILED or CANCELED.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rfy_rpc::{
    CancelTaskRequest, ExecutionState, InputChannelDescriptor, InputGateDescriptor, ResultPartitionDescriptor, TaskDeploymentDescriptor,
    TaskExecutionState,
};
use tokio::sync::mpsc;

use crate::cluster::{lock, read, write, Cluster, JobEntry};
use crate::resource_manager::SlotAssignment;
use crate::status::{execution_state_name, execution_terminal, now_ms, ExceptionEntry, JobState, JobStatus};

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
}

fn partition_id(job_id: &str, vertex: u32, subtask: u32, attempt: u32, edge: u32) -> String {
    format!("{job_id}.{vertex}.{subtask}.{attempt}.e{edge}")
}

/// Records a failure; `root` marks the one that fails the job.
fn record_failure(st: &mut JobStatus, text: String, task: Option<(String, String)>, root: bool) {
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

/// Makes the earliest recorded failure the root cause and starts failing the job.
fn fail_with_earliest(st: &mut JobStatus) {
    if let Some(e) = st.exceptions.first_mut() {
        e.root = true;
    }
    st.set_state(JobState::Failing);
}

fn task_display(st: &JobStatus, idx: usize) -> String {
    let t = &st.tasks[idx];
    let v = &st.graph.vertices[t.vertex as usize];
    rfy_runtime::task::build::task_name(&v.name, t.subtask, v.parallelism)
}

/// Runs the job to a terminal state.
pub(crate) async fn run(cluster: Arc<Cluster>, entry: Arc<JobEntry>, mut rx: mpsc::UnboundedReceiver<JobMasterMsg>, conf: BTreeMap<String, String>) {
    let (job_id, needed) = {
        let st = read(&entry.status);
        (st.job_id.clone(), st.graph.required_slots())
    };
    let slots = match acquire_slots(&cluster, &entry, &mut rx, &job_id, needed).await {
        Some(s) => s,
        None => return finish(&cluster, &entry, &job_id),
    };
    write(&entry.status).set_state(JobState::Running);
    deploy(&entry, &slots, &conf).await;
    let mut cancel_deadline: Option<Instant> = None;
    // A secondary failure (a broken channel) waits this long for its primary cause.
    let grace = cluster.heartbeat_timeout + Duration::from_millis(500);
    let mut secondary_deadline: Option<Instant> = None;
    loop {
        if settle(&entry, secondary_deadline.is_some()) {
            break;
        }
        let next_deadline = match (cancel_deadline, secondary_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let wait = next_deadline.map(|d| d.saturating_duration_since(Instant::now())).unwrap_or(Duration::from_secs(3600));
        let msg = match tokio::time::timeout(wait, rx.recv()).await {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(_) if secondary_deadline.is_some_and(|d| d <= Instant::now()) => {
                secondary_deadline = None;
                let mut st = write(&entry.status);
                if st.state == JobState::Running {
                    fail_with_earliest(&mut st);
                    drop(st);
                    cancel_tasks(&entry, &slots);
                    cancel_deadline = Some(Instant::now() + CANCEL_TIMEOUT);
                }
                continue;
            }
            Err(_) => {
                // Tasks that never confirmed their cancellation (their TaskManager
                // may be gone): count them as canceled.
                let mut st = write(&entry.status);
                for t in st.tasks.iter_mut().filter(|t| !execution_terminal(t.state)) {
                    t.state = ExecutionState::Canceled;
                    t.end_ms = now_ms();
                }
                continue;
            }
        };
        let to_cancel = {
            let mut st = write(&entry.status);
            let before = st.state;
            match msg {
                JobMasterMsg::TaskState(u) => {
                    if on_task_state(&mut st, u) && secondary_deadline.is_none() {
                        secondary_deadline = Some(Instant::now() + grace);
                    }
                }
                JobMasterMsg::Cancel => {
                    if matches!(st.state, JobState::Running | JobState::Created) {
                        st.set_state(JobState::Cancelling);
                    }
                }
                JobMasterMsg::TaskManagerLost { resource_id, reason } => {
                    let mut first = None;
                    for (i, t) in st.tasks.iter_mut().enumerate() {
                        if t.resource_id == resource_id && !execution_terminal(t.state) {
                            t.state = ExecutionState::Failed;
                            t.failure = reason.clone();
                            t.end_ms = now_ms();
                            first.get_or_insert(i);
                        }
                    }
                    if let (Some(i), JobState::Running) = (first, st.state) {
                        let task = (task_display(&st, i), st.tasks[i].address.clone());
                        record_failure(&mut st, reason, Some(task), true);
                        st.set_state(JobState::Failing);
                    }
                }
            }
            before != st.state && matches!(st.state, JobState::Failing | JobState::Cancelling)
        };
        if to_cancel {
            cancel_tasks(&entry, &slots);
            cancel_deadline = Some(Instant::now() + CANCEL_TIMEOUT);
        }
    }
    finish(&cluster, &entry, &job_id);
}

/// Applies a task state report; true if it was a secondary failure of a
/// running job (whose primary cause should be waited for).
fn on_task_state(st: &mut JobStatus, u: TaskExecutionState) -> bool {
    let Some(i) = st.tasks.iter().position(|t| t.execution_id == u.execution_id) else { return false };
    let state = ExecutionState::try_from(u.state).unwrap_or(ExecutionState::Failed);
    {
        let t = &mut st.tasks[i];
        if execution_terminal(t.state) {
            return false; // already decided (e.g. its TaskManager was declared lost)
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
    if state == ExecutionState::Failed && st.state == JobState::Running {
        let task = (task_display(st, i), st.tasks[i].address.clone());
        let text = format!("{} failed on {}: {}", task.0, task.1, u.failure);
        record_failure(st, text, Some(task), !u.secondary);
        if u.secondary {
            return true;
        }
        st.set_state(JobState::Failing);
    }
    false
}

/// Moves the job to its terminal state once every task is terminal; true when
/// it is. While a secondary failure waits for its primary cause, a running
/// job does not settle.
fn settle(entry: &JobEntry, awaiting_cause: bool) -> bool {
    let mut st = write(&entry.status);
    if st.state.is_terminal() {
        return true;
    }
    if !st.tasks.iter().all(|t| execution_terminal(t.state)) || (awaiting_cause && st.state == JobState::Running) {
        return false;
    }
    let next = match st.state {
        JobState::Running if st.tasks.iter().all(|t| t.state == ExecutionState::Finished) => JobState::Finished,
        JobState::Running | JobState::Failing => {
            if st.root_exception().is_none() {
                match st.exceptions.first_mut() {
                    Some(e) => e.root = true,
                    None => record_failure(&mut st, "tasks ended without finishing".into(), None, true),
                }
            }
            JobState::Failed
        }
        JobState::Cancelling => JobState::Canceled,
        other => other,
    };
    st.set_state(next);
    next.is_terminal()
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
        let fail = |why: String| {
            let mut st = write(&entry.status);
            record_failure(&mut st, why, None, true);
            st.set_state(JobState::Failed);
        };
        if !cluster.driver.can_add_task_managers() {
            fail(format!(
                "the job needs {needed} slots (its highest parallelism) but the {} cluster has {free} free of {total}: \
                 raise taskmanager.numberOfTaskSlots or the number of TaskManagers, or lower the parallelism",
                cluster.driver.name()
            ));
            return None;
        }
        if !requested {
            let slots_per_tm = cluster.conf.get(&rfy_conf::options::TASKMANAGER_NUMBER_OF_TASK_SLOTS).max(1);
            cluster.driver.request_task_managers((needed - free).div_ceil(slots_per_tm));
            requested = true;
        }
        if started.elapsed() > SLOT_REQUEST_TIMEOUT {
            fail(format!("could not get {needed} slots within {} s ({free} free of {total})", SLOT_REQUEST_TIMEOUT.as_secs()));
            return None;
        }
        if let Ok(Some(JobMasterMsg::Cancel)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
            write(&entry.status).set_state(JobState::Canceled);
            return None;
        }
    }
}

async fn deploy(entry: &JobEntry, slots: &[SlotAssignment], conf: &BTreeMap<String, String>) {
    let (tdds, job_id) = {
        let mut st = write(&entry.status);
        let job_id = st.job_id.clone();
        let graph_json = serde_json::to_vec(&st.graph).unwrap_or_default();
        let g = st.graph.clone();
        let mut tdds = Vec::new();
        for t in st.tasks.iter_mut() {
            let v = &g.vertices[t.vertex as usize];
            let slot = &slots[t.subtask as usize];
            let outputs = g
                .outputs_of(v.id)
                .iter()
                .map(|e| ResultPartitionDescriptor {
                    edge_index: e.index,
                    partition_id: partition_id(&job_id, v.id, t.subtask, 0, e.index),
                    num_subpartitions: e.subpartitions(g.vertices[e.target as usize].parallelism),
                })
                .collect();
            let inputs = g
                .inputs_of(v.id)
                .iter()
                .map(|e| InputGateDescriptor {
                    edge_index: e.index,
                    channels: e
                        .consumer_channels(t.subtask, g.vertices[e.source as usize].parallelism)
                        .into_iter()
                        .map(|(p, s)| InputChannelDescriptor {
                            partition_id: partition_id(&job_id, e.source, p, 0, e.index),
                            subpartition: s,
                            producer_resource_id: slots[p as usize].resource_id.clone(),
                            producer_data_address: slots[p as usize].address.clone(),
                        })
                        .collect(),
                })
                .collect();
            t.state = ExecutionState::Deploying;
            t.resource_id = slot.resource_id.clone();
            t.address = slot.address.clone();
            t.start_ms = now_ms();
            tdds.push((
                t.subtask as usize,
                TaskDeploymentDescriptor {
                    job_id: job_id.clone(),
                    execution_id: t.execution_id.clone(),
                    vertex_id: v.id,
                    subtask_index: t.subtask,
                    attempt_number: 0,
                    job_program: g.program.clone(),
                    job_args: g.args.clone(),
                    job_graph_json: graph_json.clone(),
                    config: conf.clone().into_iter().collect(),
                    inputs,
                    outputs,
                    slot_index: slot.slot_index,
                },
            ));
        }
        (tdds, job_id)
    };
    let calls = tdds.into_iter().map(|(slot, tdd)| {
        let mut client = slots[slot].client.clone();
        let (id, address) = (tdd.execution_id.clone(), slots[slot].address.clone());
        async move {
            match client.submit_task(tdd).await {
                Ok(r) if r.get_ref().ok => None,
                Ok(r) => Some((id, address, r.into_inner().message)),
                Err(s) => Some((id, address.clone(), format!("TaskManager {address} unreachable: {}", s.message()))),
            }
        }
    });
    let failures: Vec<_> = futures::future::join_all(calls).await.into_iter().flatten().collect();
    for (execution_id, _address, message) in failures {
        tracing::error!(job = %job_id, task = %execution_id, "deployment failed: {message}");
        let _ = entry.tx.send(JobMasterMsg::TaskState(TaskExecutionState {
            job_id: job_id.clone(),
            execution_id,
            state: ExecutionState::Failed as i32,
            failure: format!("deployment failed: {message}"),
            metrics: None,
            secondary: false,
        }));
    }
}

fn cancel_tasks(entry: &JobEntry, slots: &[SlotAssignment]) {
    let st = read(&entry.status);
    for t in st.tasks.iter().filter(|t| !execution_terminal(t.state) && !t.resource_id.is_empty()) {
        let mut client = slots[t.subtask as usize].client.clone();
        let req = CancelTaskRequest { execution_id: t.execution_id.clone() };
        tokio::spawn(async move {
            if let Err(e) = client.cancel_task(req).await {
                tracing::warn!("cancel failed: {}", e.message());
            }
        });
    }
}
