//! Deploys tasks: builds each from the job program and the JobGraph, wires
//! its channels (local partitions or remote pulls), runs it on its own
//! thread, and reports its state to the JobManager.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rfy_conf::{options, Configuration, Source};
use rfy_rpc::auth::{AuthChannel, ClusterSecret};
use rfy_rpc::job_manager_gateway_client::JobManagerGatewayClient;
use rfy_rpc::task_executor_gateway_server::TaskExecutorGateway;
use rfy_rpc::{
    Ack, AcknowledgeCheckpointRequest, CancelTaskRequest, DeclineCheckpointRequest, ExecutionState, FailureKind,
    ListLogsRequest, ListLogsResponse, LogFileInfo, NotifyCheckpointCompleteRequest, ReadLogRequest, ReadLogResponse,
    SourceEndOfInputRequest, StateHandle as WireHandle, TaskDeploymentDescriptor, TaskExecutionState,
    TaskMetrics as WireMetrics, TriggerCheckpointRequest,
};
use rfy_runtime::checkpoint::{
    CheckpointMetadata, CheckpointResponder, RestoreSource, SourceTrigger, StateHandle, TaskCheckpointing,
};
use rfy_runtime::event::CheckpointBarrier;
use rfy_runtime::exchange::{channel, ExchangeSettings, PartitionRegistry};
use rfy_runtime::state_backend::StateBackend;
use rfy_runtime::task::{build_task, TaskControl, TaskSpec};
use rfy_runtime::{JobGraph, ProgramRegistry, StreamGraph, TaskError};
use tonic::{Request, Response, Status};

use crate::data::DataClients;
use crate::error::DeployError;

/// A job's StreamGraph and JobGraph, by job id.
type JobGraphs = (Arc<StreamGraph>, Arc<JobGraph>);

struct RunningTask {
    job_id: String,
    attempt: u32,
    control: TaskControl,
}

/// The tasks of one TaskManager.
pub(crate) struct Executor {
    pub(crate) resource_id: String,
    pub(crate) registry: Arc<PartitionRegistry>,
    pub(crate) programs: Arc<dyn ProgramRegistry>,
    pub(crate) data_clients: Arc<DataClients>,
    pub(crate) jobmanager: JobManagerGatewayClient<AuthChannel>,
    pub(crate) rt: tokio::runtime::Handle,
    graphs: Mutex<HashMap<String, JobGraphs>>,
    tasks: Mutex<HashMap<String, RunningTask>>,
    /// Set by a simulated crash: the TaskManager reports nothing any more.
    pub(crate) killed: AtomicBool,
    /// Tasks canceled because the TaskManager outgrew its memory budget, and
    /// the message they fail with (instead of ending CANCELED).
    budget_failures: Mutex<HashMap<String, String>>,
    /// Network and managed memory, and what the running tasks hold of them.
    pub(crate) memory: crate::memory::MemoryPools,
}

/// Sends a task's checkpoint acknowledgements and declines to the JobManager.
struct GrpcResponder {
    jobmanager: JobManagerGatewayClient<AuthChannel>,
    rt: tokio::runtime::Handle,
    job_id: String,
    execution_id: String,
    executor: std::sync::Weak<Executor>,
    /// The task's keyed state is on disk: not charged against managed memory.
    state_on_disk: bool,
}

impl GrpcResponder {
    fn alive(&self) -> bool {
        self.executor.upgrade().is_some_and(|e| !e.killed.load(Ordering::Relaxed))
    }
}

impl CheckpointResponder for GrpcResponder {
    fn acknowledge(&self, checkpoint_id: u64, handles: Vec<(String, StateHandle)>) {
        if !self.alive() {
            return;
        }
        // The keyed state this task holds, as this checkpoint wrote it, against managed memory.
        let keyed: u64 = handles.iter().filter(|(_, h)| h.key_groups.is_some()).map(|(_, h)| h.size).sum();
        if let Some(executor) = self.executor.upgrade().filter(|_| !self.state_on_disk) {
            if let Some(message) = executor.memory.record_state(&executor.resource_id, &self.execution_id, keyed) {
                if executor.fail_all(&message) > 0 {
                    tracing::error!("{message}");
                }
            }
        }
        let req = AcknowledgeCheckpointRequest {
            job_id: self.job_id.clone(),
            execution_id: self.execution_id.clone(),
            checkpoint_id,
            handles: handles
                .into_iter()
                .map(|(uid, h)| WireHandle {
                    operator_uid: uid,
                    subtask: h.subtask,
                    file: h.file,
                    size: h.size,
                    crc32: h.crc32,
                    keyed: h.key_groups.is_some(),
                    key_group_first: h.key_groups.map(|k| k.0).unwrap_or(0),
                    key_group_last: h.key_groups.map(|k| k.1).unwrap_or(0),
                })
                .collect(),
        };
        let mut jm = self.jobmanager.clone();
        self.rt.spawn(async move {
            if let Err(e) = jm.acknowledge_checkpoint(req).await {
                tracing::warn!("cannot acknowledge checkpoint {checkpoint_id}: {}", e.message());
            }
        });
    }

    fn decline(&self, checkpoint_id: u64, reason: String) {
        if !self.alive() {
            return;
        }
        tracing::warn!(execution_id = %self.execution_id, checkpoint = checkpoint_id, "declining checkpoint: {reason}");
        let req = DeclineCheckpointRequest {
            job_id: self.job_id.clone(),
            execution_id: self.execution_id.clone(),
            checkpoint_id,
            reason,
        };
        let mut jm = self.jobmanager.clone();
        self.rt.spawn(async move {
            if let Err(e) = jm.decline_checkpoint(req).await {
                tracing::warn!("cannot decline checkpoint {checkpoint_id}: {}", e.message());
            }
        });
    }

    fn source_end_of_input(&self) {
        if !self.alive() {
            return;
        }
        let req = SourceEndOfInputRequest { job_id: self.job_id.clone(), execution_id: self.execution_id.clone() };
        let mut jm = self.jobmanager.clone();
        self.rt.spawn(async move {
            // Only a hint (the next periodic checkpoint is the final one otherwise).
            if let Err(e) = jm.source_end_of_input(req).await {
                tracing::debug!("cannot report the end of input: {}", e.message());
            }
        });
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Exchange settings from a shipped configuration.
fn exchange_settings(conf: &Configuration) -> ExchangeSettings {
    ExchangeSettings {
        segment_size: conf.get(&options::TASKMANAGER_MEMORY_SEGMENT_SIZE).bytes().clamp(1024, 64 << 20) as usize,
        flush_interval: conf.get(&options::EXECUTION_BUFFER_TIMEOUT_INTERVAL),
        buffers_per_channel: conf.get(&options::TASKMANAGER_NETWORK_MEMORY_BUFFERS_PER_CHANNEL).max(1) as usize,
    }
}

fn metrics_of(execution_id: &str, control: &TaskControl) -> WireMetrics {
    let m = control.metrics.read();
    WireMetrics {
        execution_id: execution_id.to_string(),
        records_in: m.records_in,
        records_out: m.records_out,
        bytes_in: m.bytes_in,
        bytes_out: m.bytes_out,
        idle_ms: m.idle_ms,
        back_pressured_ms: m.back_pressured_ms,
        input_watermark: m.input_watermark,
        output_watermark: m.output_watermark,
        in_pool_usage: m.in_pool_usage,
        out_pool_usage: m.out_pool_usage,
        late_records_dropped: m.late_records_dropped,
    }
}

/// The full error text, causes included.
/// What a task state report says about its failure beside the text (the
/// `secondary` flag and `failure_kind` of `TaskExecutionState`).
enum FailureReport {
    /// Its own failure (or none: RUNNING, FINISHED, CANCELED).
    Primary,
    /// Failed only because a partner broke (a channel closed early).
    Secondary,
    /// A file of the restored checkpoint (this path) is missing, unreadable or damaged.
    CheckpointUnreadable(String),
}

fn error_chain(e: &TaskError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

impl Executor {
    pub(crate) fn new(
        resource_id: String,
        programs: Arc<dyn ProgramRegistry>,
        jobmanager: JobManagerGatewayClient<AuthChannel>,
        rt: tokio::runtime::Handle,
        memory: crate::memory::MemoryPools,
        secret: ClusterSecret,
    ) -> Self {
        Executor {
            resource_id,
            registry: Arc::new(PartitionRegistry::new()),
            programs,
            data_clients: Arc::new(DataClients::new(secret)),
            jobmanager,
            rt,
            graphs: Mutex::new(HashMap::new()),
            tasks: Mutex::new(HashMap::new()),
            killed: AtomicBool::new(false),
            budget_failures: Mutex::new(HashMap::new()),
            memory,
        }
    }

    /// Metrics of every running task, for the heartbeat.
    pub(crate) fn metrics(&self) -> Vec<WireMetrics> {
        lock(&self.tasks).iter().map(|(id, t)| metrics_of(id, &t.control)).collect()
    }

    /// Fails every running task with `message` (the TaskManager outgrew its
    /// memory budget); returns how many there were.
    pub(crate) fn fail_all(&self, message: &str) -> usize {
        let tasks = lock(&self.tasks);
        let mut failures = lock(&self.budget_failures);
        for (id, t) in tasks.iter() {
            failures.insert(id.clone(), message.to_string());
            t.control.cancel();
        }
        tasks.len()
    }

    /// Cancels every task (JobManager lost, or shutdown).
    pub(crate) fn cancel_all(&self) {
        for t in lock(&self.tasks).values() {
            t.control.cancel();
        }
    }

    /// The StreamGraph for a job, built once per job and checked against the JobGraph.
    fn graphs_for(&self, tdd: &TaskDeploymentDescriptor) -> Result<(Arc<StreamGraph>, Arc<JobGraph>), DeployError> {
        if let Some(g) = lock(&self.graphs).get(&tdd.job_id) {
            return Ok(g.clone());
        }
        let job: JobGraph = serde_json::from_slice(&tdd.job_graph_json).map_err(DeployError::UndecodableJobGraph)?;
        if job.version != rfy_runtime::graph::JOB_GRAPH_VERSION {
            return Err(DeployError::JobGraphVersion {
                found: job.version,
                supported: rfy_runtime::graph::JOB_GRAPH_VERSION,
            });
        }
        let program = self.programs.find(&tdd.job_program).ok_or_else(|| DeployError::UnknownProgram {
            program: tdd.job_program.clone(),
            resource_id: self.resource_id.clone(),
        })?;
        let stream = program.stream_graph(&tdd.job_args, job.config)?;
        let rebuilt = stream.job_graph()?;
        if rebuilt != job {
            return Err(DeployError::GraphMismatch(tdd.job_program.clone()));
        }
        let pair = (Arc::new(stream), Arc::new(job));
        lock(&self.graphs).insert(tdd.job_id.clone(), pair.clone());
        Ok(pair)
    }

    /// The task's state backend from the job's `state.backend.type`: on
    /// disk under the first of `io.tmp.dirs` (unset: the container's first
    /// of YARN's `LOCAL_DIRS`, else the temporary directory) in
    /// `rfy-state/<execution id>`, with managed
    /// memory per slot (`taskmanager.numberOfTaskSlots`) as its budget.
    fn state_backend(&self, conf: &Configuration, execution_id: &str) -> Result<StateBackend, DeployError> {
        let first = |dirs: String| dirs.split(',').map(str::trim).find(|d| !d.is_empty()).map(std::path::PathBuf::from);
        let local = conf
            .get_optional(&options::IO_TMP_DIRS)
            .and_then(first)
            .or_else(|| std::env::var("LOCAL_DIRS").ok().and_then(first))
            .unwrap_or_else(std::env::temp_dir);
        let slots = u64::from(conf.get(&options::TASKMANAGER_NUMBER_OF_TASK_SLOTS).max(1));
        Ok(StateBackend::from_config(
            &conf.get(&options::STATE_BACKEND_TYPE),
            local.join("rfy-state").join(execution_id),
            self.memory.model.managed / slots,
        )?)
    }

    fn submit(self: &Arc<Self>, tdd: TaskDeploymentDescriptor) -> Result<(), DeployError> {
        let (stream, job) = self.graphs_for(&tdd)?;
        let conf = Configuration::from_map(&tdd.config.clone().into_iter().collect(), Source::Programmatic)?;
        let settings = exchange_settings(&conf);
        let vertex = job.vertices.get(tdd.vertex_id as usize).ok_or(DeployError::NoVertex(tdd.vertex_id))?;
        let task_name = rfy_runtime::task::build::task_name(&vertex.name, tdd.subtask_index, vertex.parallelism);
        let cap = settings.buffers_per_channel;
        // Reserved before any channel is taken: a task that does not fit takes nothing.
        let channels = tdd.outputs.iter().map(|o| u64::from(o.num_subpartitions)).sum::<u64>()
            + tdd.inputs.iter().map(|g| g.channels.len() as u64).sum::<u64>();
        self.memory.reserve_network(&tdd.execution_id, channels, channels * (cap * settings.segment_size) as u64)?;

        let mut outputs = tdd.outputs.clone();
        outputs.sort_by_key(|o| o.edge_index);
        let mut out_channels = Vec::new();
        for o in &outputs {
            let senders = (0..o.num_subpartitions)
                .map(|s| {
                    self.registry.take_sender(&o.partition_id, s, cap).ok_or_else(|| DeployError::ChannelTaken {
                        partition: o.partition_id.clone(),
                        subpartition: s,
                        side: "produced",
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            out_channels.push(senders);
        }
        let mut inputs = tdd.inputs.clone();
        inputs.sort_by_key(|i| i.edge_index);
        let mut in_channels = Vec::new();
        for gate in &inputs {
            let mut receivers = Vec::new();
            for ch in &gate.channels {
                if ch.producer_resource_id == self.resource_id {
                    receivers.push(self.registry.take_receiver(&ch.partition_id, ch.subpartition, cap).ok_or_else(
                        || DeployError::ChannelTaken {
                            partition: ch.partition_id.clone(),
                            subpartition: ch.subpartition,
                            side: "consumed",
                        },
                    )?);
                } else {
                    let (tx, rx) = channel(cap);
                    self.data_clients.spawn_pull(
                        &self.rt,
                        ch.producer_resource_id.clone(),
                        ch.producer_data_address.clone(),
                        ch.partition_id.clone(),
                        ch.subpartition,
                        task_name.clone(),
                        tx,
                    );
                    receivers.push(rx);
                }
            }
            in_channels.push(receivers);
        }
        let spec = TaskSpec {
            vertex_id: tdd.vertex_id,
            subtask_index: tdd.subtask_index,
            attempt: tdd.attempt_number,
            inputs: in_channels,
            outputs: out_channels,
            settings,
        };
        let mut control =
            TaskControl { state_backend: self.state_backend(&conf, &tdd.execution_id)?, ..Default::default() };
        if !tdd.checkpoint_job_dir.is_empty() || !tdd.restore_dir.is_empty() {
            let restore = if tdd.restore_dir.is_empty() {
                None
            } else {
                let dir = tdd.restore_dir.clone();
                let path = rfy_runtime::checkpoint::join(&dir, rfy_runtime::checkpoint::METADATA_FILE);
                let metadata = CheckpointMetadata::from_bytes(&tdd.restore_metadata, std::path::Path::new(&path))?;
                Some(RestoreSource { dir, metadata })
            };
            let responder = Arc::new(GrpcResponder {
                jobmanager: self.jobmanager.clone(),
                rt: self.rt.clone(),
                job_id: tdd.job_id.clone(),
                execution_id: tdd.execution_id.clone(),
                executor: Arc::downgrade(self),
                state_on_disk: control.state_backend.on_disk(),
            });
            // An empty directory (no checkpointing) is the local file system.
            let storage = rfy_runtime::checkpoint::open_storage(&tdd.checkpoint_job_dir)?;
            control.checkpointing = Some(Arc::new(
                TaskCheckpointing::new(
                    tdd.checkpoint_job_dir.clone(),
                    storage,
                    tdd.subtask_index,
                    tdd.exactly_once,
                    responder,
                    restore,
                    task_name.clone(),
                )
                .with_final_checkpoint(tdd.final_checkpoint)
                .with_num_retained(conf.get(&options::STATE_CHECKPOINTS_NUM_RETAINED)),
            ));
        }
        lock(&self.tasks).insert(
            tdd.execution_id.clone(),
            RunningTask { job_id: tdd.job_id.clone(), attempt: tdd.attempt_number, control: control.clone() },
        );
        let me = self.clone();
        let (job_id, execution_id) = (tdd.job_id.clone(), tdd.execution_id.clone());
        std::thread::Builder::new()
            .name(task_name.chars().take(60).collect())
            .spawn(move || me.run_task(stream, job, spec, control, job_id, execution_id, task_name))
            .map_err(|e| {
                lock(&self.tasks).remove(&tdd.execution_id);
                DeployError::Thread(e)
            })?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn run_task(
        self: Arc<Self>,
        stream: Arc<StreamGraph>,
        job: Arc<JobGraph>,
        spec: TaskSpec,
        control: TaskControl,
        job_id: String,
        execution_id: String,
        task_name: String,
    ) {
        tracing::info!(task = %task_name, %execution_id, "task starting");
        // A panic in user code fails the task (and the job) with its message;
        // the TaskManager lives on.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            build_task(&stream, &job, spec, &control).and_then(|mut head| {
                self.report(
                    &job_id,
                    &execution_id,
                    ExecutionState::Running,
                    (String::new(), FailureReport::Primary),
                    &control,
                );
                head.run(&control)
            })
        }))
        .unwrap_or_else(|panic| Err(TaskError::User(format!("task {task_name} panicked: {}", panic_message(&panic)))));
        let budget_failure = lock(&self.budget_failures).remove(&execution_id);
        self.memory.release(&execution_id);
        // The operators (and their on-disk stores) are gone: so goes the task's state directory.
        if let StateBackend::EmbeddedLsm(s) = &control.state_backend {
            if let Err(e) = std::fs::remove_dir_all(&s.dir) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(task = %task_name, "cannot remove the state directory {}: {e}", s.dir.display());
                }
            }
        }
        let (state, failure) = match (&result, budget_failure) {
            (Ok(()), _) => (ExecutionState::Finished, String::new()),
            (Err(TaskError::Canceled), Some(message)) => (ExecutionState::Failed, message),
            (Err(TaskError::Canceled), None) => (ExecutionState::Canceled, String::new()),
            (Err(e), _) => (ExecutionState::Failed, error_chain(e)),
        };
        let kind = match &result {
            Err(TaskError::ChannelClosed(_)) => FailureReport::Secondary,
            Err(e) => match e.damaged_checkpoint_file() {
                Some(path) => FailureReport::CheckpointUnreadable(path.to_string()),
                None => FailureReport::Primary,
            },
            Ok(()) => FailureReport::Primary,
        };
        match &result {
            Err(e) if state == ExecutionState::Failed => {
                tracing::error!(task = %task_name, "task failed: {}", error_chain(e))
            }
            _ => tracing::info!(task = %task_name, ?state, "task ended"),
        }
        let (attempt_done, job_done) = {
            let mut tasks = lock(&self.tasks);
            let attempt = tasks.remove(&execution_id).map(|t| t.attempt).unwrap_or(0);
            (
                (!tasks.values().any(|t| t.job_id == job_id && t.attempt == attempt)).then_some(attempt),
                !tasks.values().any(|t| t.job_id == job_id),
            )
        };
        if let Some(attempt) = attempt_done {
            // Channel ends nobody will take any more (failed or canceled peers).
            self.registry.release(&format!("{job_id}.a{attempt}."));
        }
        if job_done {
            lock(&self.graphs).remove(&job_id);
        }
        self.report(&job_id, &execution_id, state, (failure, kind), &control);
    }

    fn report(
        &self,
        job_id: &str,
        execution_id: &str,
        state: ExecutionState,
        failure: (String, FailureReport),
        control: &TaskControl,
    ) {
        if self.killed.load(Ordering::Relaxed) {
            return; // a crashed process reports nothing
        }
        let secondary = matches!(failure.1, FailureReport::Secondary);
        let (failure_kind, failure_path) = match failure.1 {
            FailureReport::CheckpointUnreadable(path) => (FailureKind::CheckpointUnreadable, path),
            FailureReport::Primary | FailureReport::Secondary => (FailureKind::Unspecified, String::new()),
        };
        let msg = TaskExecutionState {
            job_id: job_id.to_string(),
            execution_id: execution_id.to_string(),
            state: state as i32,
            failure: failure.0,
            metrics: Some(metrics_of(execution_id, control)),
            secondary,
            failure_kind: failure_kind as i32,
            failure_path,
        };
        let mut jm = self.jobmanager.clone();
        // Blocking from the task thread keeps RUNNING before FINISHED.
        if let Err(e) = self.rt.block_on(jm.update_task_execution_state(msg)) {
            tracing::warn!(%execution_id, ?state, "cannot report task state to the JobManager: {}", e.message());
        }
    }
}

/// The `TaskExecutorGateway` service over an [`Executor`], and the
/// TaskManager's log file (its directory's files are the logs it serves; "" = none).
pub(crate) struct ExecutorService(pub(crate) Arc<Executor>, pub(crate) String);

/// Largest log read answered in one call (bytes).
const MAX_LOG_READ: u64 = 4 << 20;

impl ExecutorService {
    /// The log directory and the main log's file name.
    fn log_dir(&self) -> Result<(std::path::PathBuf, String), Status> {
        let path = std::path::Path::new(&self.1);
        match (path.parent(), path.file_name()) {
            (Some(dir), Some(name)) if !self.1.is_empty() => {
                Ok((dir.to_path_buf(), name.to_string_lossy().into_owned()))
            }
            _ => Err(Status::not_found(
                "this TaskManager has no log file: it logs to stderr only (set env.log.dir, or run on YARN)",
            )),
        }
    }
}

#[tonic::async_trait]
impl TaskExecutorGateway for ExecutorService {
    async fn submit_task(&self, request: Request<TaskDeploymentDescriptor>) -> Result<Response<Ack>, Status> {
        let tdd = request.into_inner();
        let exec = self.0.clone();
        let id = tdd.execution_id.clone();
        // Building channels may block briefly on locks: keep it off the reactor.
        let result = tokio::task::spawn_blocking(move || {
            let id = tdd.execution_id.clone();
            let result = exec.submit(tdd);
            if result.is_err() {
                exec.memory.release(&id); // what it reserved before failing
            }
            result
        })
        .await
        .map_err(|e| Status::internal(format!("deployment of {id} panicked: {e}")))?;
        Ok(Response::new(match result {
            Ok(()) => Ack { ok: true, message: String::new() },
            Err(e) => Ack { ok: false, message: e.to_string() },
        }))
    }

    async fn list_logs(&self, _request: Request<ListLogsRequest>) -> Result<Response<ListLogsResponse>, Status> {
        let (dir, main_log) = self.log_dir()?;
        let files = rfy_conf::logfiles::list(&dir).map_err(|e| Status::not_found(e.to_string()))?;
        let files =
            files.into_iter().map(|f| LogFileInfo { name: f.name, size: f.size, mtime_ms: f.mtime_ms }).collect();
        Ok(Response::new(ListLogsResponse { files, main_log }))
    }

    async fn read_log(&self, request: Request<ReadLogRequest>) -> Result<Response<ReadLogResponse>, Status> {
        let r = request.into_inner();
        let (dir, main_log) = self.log_dir()?;
        let name = if r.name.is_empty() { main_log } else { r.name };
        let max = if r.max_bytes == 0 { MAX_LOG_READ } else { r.max_bytes.min(MAX_LOG_READ) };
        let (data, size) = rfy_conf::logfiles::read(&dir, &name, r.offset, max).map_err(|e| match e {
            rfy_conf::logfiles::LogFileError::BadName(_) => Status::invalid_argument(e.to_string()),
            _ => Status::not_found(e.to_string()),
        })?;
        Ok(Response::new(ReadLogResponse { data, size }))
    }

    async fn cancel_task(&self, request: Request<CancelTaskRequest>) -> Result<Response<Ack>, Status> {
        let id = request.into_inner().execution_id;
        let found = lock(&self.0.tasks).get(&id).map(|t| t.control.cancel()).is_some();
        Ok(Response::new(Ack {
            ok: found,
            message: if found { String::new() } else { format!("no running task {id}") },
        }))
    }

    async fn trigger_checkpoint(&self, request: Request<TriggerCheckpointRequest>) -> Result<Response<Ack>, Status> {
        let r = request.into_inner();
        let cp = lock(&self.0.tasks).get(&r.execution_id).and_then(|t| t.control.checkpointing.clone());
        let Some(cp) = cp else {
            return Ok(Response::new(Ack {
                ok: false,
                message: format!("no running task {} that checkpoints", r.execution_id),
            }));
        };
        let barrier = CheckpointBarrier { id: r.checkpoint_id, timestamp_ms: r.timestamp_ms, savepoint: r.savepoint };
        cp.trigger(SourceTrigger { barrier, stop: r.stop, drain: r.drain });
        Ok(Response::new(Ack { ok: true, message: String::new() }))
    }

    async fn notify_checkpoint_complete(
        &self,
        request: Request<NotifyCheckpointCompleteRequest>,
    ) -> Result<Response<Ack>, Status> {
        let r = request.into_inner();
        let hubs: Vec<_> = lock(&self.0.tasks)
            .values()
            .filter(|t| t.job_id == r.job_id)
            .filter_map(|t| t.control.checkpointing.clone())
            .collect();
        // Committers rename files, maybe with a blocking HDFS client that
        // must not run on a thread of this runtime: a plain thread.
        let (tx, rx) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new().name("ckpt-commit".into()).spawn(move || {
            for cp in hubs {
                cp.notify_complete(r.checkpoint_id);
            }
            let _ = tx.send(());
        });
        if spawned.is_ok() {
            let _ = rx.await;
        }
        Ok(Response::new(Ack { ok: true, message: String::new() }))
    }
}

/// The message of a panic payload (`panic!("...")` carries a `&str` or a `String`).
pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(s), _) => s.to_string(),
        (_, Some(s)) => s.clone(),
        _ => "(no message)".to_string(),
    }
}
