//! Deploys tasks: builds each from the job program and the JobGraph, wires
//! its channels (local partitions or remote pulls), runs it on its own
//! thread, and reports its state to the JobManager.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rfy_conf::{options, Configuration, Source};
use rfy_rpc::job_manager_gateway_client::JobManagerGatewayClient;
use rfy_rpc::task_executor_gateway_server::TaskExecutorGateway;
use rfy_rpc::{Ack, CancelTaskRequest, ExecutionState, TaskDeploymentDescriptor, TaskExecutionState, TaskMetrics as WireMetrics};
use rfy_runtime::exchange::{channel, ExchangeSettings, PartitionRegistry};
use rfy_runtime::task::{build_task, TaskControl, TaskSpec};
use rfy_runtime::{JobGraph, ProgramRegistry, StreamGraph, TaskError};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::data::DataClients;

struct RunningTask {
    job_id: String,
    control: TaskControl,
}

/// The tasks of one TaskManager.
pub(crate) struct Executor {
    pub(crate) resource_id: String,
    pub(crate) registry: Arc<PartitionRegistry>,
    pub(crate) programs: Arc<dyn ProgramRegistry>,
    pub(crate) data_clients: Arc<DataClients>,
    pub(crate) jobmanager: JobManagerGatewayClient<Channel>,
    pub(crate) rt: tokio::runtime::Handle,
    graphs: Mutex<HashMap<String, (Arc<StreamGraph>, Arc<JobGraph>)>>,
    tasks: Mutex<HashMap<String, RunningTask>>,
    /// Set by a simulated crash: the TaskManager no longer talks to the JobManager.
    pub(crate) killed: std::sync::atomic::AtomicBool,
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
    let (records_in, records_out, bytes_in, bytes_out) = control.metrics.snapshot();
    WireMetrics { execution_id: execution_id.to_string(), records_in, records_out, bytes_in, bytes_out }
}

/// The full error text, causes included.
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
        jobmanager: JobManagerGatewayClient<Channel>,
        rt: tokio::runtime::Handle,
    ) -> Self {
        Executor {
            resource_id,
            registry: Arc::new(PartitionRegistry::new()),
            programs,
            data_clients: Arc::new(DataClients::default()),
            jobmanager,
            rt,
            graphs: Mutex::new(HashMap::new()),
            tasks: Mutex::new(HashMap::new()),
            killed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Metrics of every running task, for the heartbeat.
    pub(crate) fn metrics(&self) -> Vec<WireMetrics> {
        lock(&self.tasks).iter().map(|(id, t)| metrics_of(id, &t.control)).collect()
    }

    /// Cancels every task (JobManager lost, or shutdown).
    pub(crate) fn cancel_all(&self) {
        for t in lock(&self.tasks).values() {
            t.control.cancel();
        }
    }

    /// The StreamGraph for a job, built once per job and checked against the JobGraph.
    fn graphs_for(&self, tdd: &TaskDeploymentDescriptor) -> Result<(Arc<StreamGraph>, Arc<JobGraph>), String> {
        if let Some(g) = lock(&self.graphs).get(&tdd.job_id) {
            return Ok(g.clone());
        }
        let job: JobGraph = serde_json::from_slice(&tdd.job_graph_json).map_err(|e| format!("undecodable JobGraph: {e}"))?;
        if job.version != rfy_runtime::graph::JOB_GRAPH_VERSION {
            return Err(format!("JobGraph version {} is not supported (this TaskManager reads {})", job.version, rfy_runtime::graph::JOB_GRAPH_VERSION));
        }
        let program = self
            .programs
            .find(&tdd.job_program)
            .ok_or_else(|| format!("unknown job program '{}' on TaskManager {}", tdd.job_program, self.resource_id))?;
        let stream = program.stream_graph(&tdd.job_args, job.config).map_err(|e| e.to_string())?;
        let rebuilt = stream.job_graph().map_err(|e| e.to_string())?;
        if rebuilt != job {
            return Err(format!("job program '{}' built a different JobGraph on this TaskManager than on the client", tdd.job_program));
        }
        let pair = (Arc::new(stream), Arc::new(job));
        lock(&self.graphs).insert(tdd.job_id.clone(), pair.clone());
        Ok(pair)
    }

    fn submit(self: &Arc<Self>, tdd: TaskDeploymentDescriptor) -> Result<(), String> {
        let (stream, job) = self.graphs_for(&tdd)?;
        let conf = Configuration::from_map(&tdd.config.clone().into_iter().collect(), Source::Programmatic).map_err(|e| e.to_string())?;
        let settings = exchange_settings(&conf);
        let vertex = job.vertices.get(tdd.vertex_id as usize).ok_or_else(|| format!("no vertex {}", tdd.vertex_id))?;
        let task_name = rfy_runtime::task::build::task_name(&vertex.name, tdd.subtask_index, vertex.parallelism);
        let cap = settings.buffers_per_channel;

        let mut outputs = tdd.outputs.clone();
        outputs.sort_by_key(|o| o.edge_index);
        let mut out_channels = Vec::new();
        for o in &outputs {
            let senders = (0..o.num_subpartitions)
                .map(|s| self.registry.take_sender(&o.partition_id, s, cap).ok_or_else(|| format!("partition {} sub {s} produced twice", o.partition_id)))
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
                    receivers.push(
                        self.registry
                            .take_receiver(&ch.partition_id, ch.subpartition, cap)
                            .ok_or_else(|| format!("partition {} sub {} consumed twice", ch.partition_id, ch.subpartition))?,
                    );
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
        let control = TaskControl::default();
        lock(&self.tasks).insert(tdd.execution_id.clone(), RunningTask { job_id: tdd.job_id.clone(), control: control.clone() });
        let me = self.clone();
        let (job_id, execution_id) = (tdd.job_id.clone(), tdd.execution_id.clone());
        std::thread::Builder::new()
            .name(task_name.chars().take(60).collect())
            .spawn(move || me.run_task(stream, job, spec, control, job_id, execution_id, task_name))
            .map_err(|e| format!("cannot start a task thread: {e}"))?;
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
        let result = build_task(&stream, &job, spec, &control).and_then(|mut head| {
            self.report(&job_id, &execution_id, ExecutionState::Running, (String::new(), false), &control);
            head.run(&control)
        });
        let (state, failure) = match &result {
            Ok(()) => (ExecutionState::Finished, String::new()),
            Err(TaskError::Canceled) => (ExecutionState::Canceled, String::new()),
            Err(e) => (ExecutionState::Failed, error_chain(e)),
        };
        let secondary = matches!(result, Err(TaskError::ChannelClosed(_)));
        match &result {
            Err(e) if state == ExecutionState::Failed => tracing::error!(task = %task_name, "task failed: {}", error_chain(e)),
            _ => tracing::info!(task = %task_name, ?state, "task ended"),
        }
        let job_done = {
            let mut tasks = lock(&self.tasks);
            tasks.remove(&execution_id);
            !tasks.values().any(|t| t.job_id == job_id)
        };
        if job_done {
            // Channel ends nobody will take any more (failed or canceled peers).
            self.registry.release(&job_id);
            lock(&self.graphs).remove(&job_id);
        }
        self.report(&job_id, &execution_id, state, (failure, secondary), &control);
    }

    fn report(&self, job_id: &str, execution_id: &str, state: ExecutionState, failure: (String, bool), control: &TaskControl) {
        if self.killed.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let msg = TaskExecutionState {
            job_id: job_id.to_string(),
            execution_id: execution_id.to_string(),
            state: state as i32,
            failure: failure.0,
            metrics: Some(metrics_of(execution_id, control)),
            secondary: failure.1,
        };
        let mut jm = self.jobmanager.clone();
        // Blocking from the task thread keeps RUNNING before FINISHED.
        if let Err(e) = self.rt.block_on(jm.update_task_execution_state(msg)) {
            tracing::warn!(%execution_id, ?state, "cannot report task state to the JobManager: {}", e.message());
        }
    }
}

/// The `TaskExecutorGateway` service over an [`Executor`].
pub(crate) struct ExecutorService(pub(crate) Arc<Executor>);

#[tonic::async_trait]
impl TaskExecutorGateway for ExecutorService {
    async fn submit_task(&self, request: Request<TaskDeploymentDescriptor>) -> Result<Response<Ack>, Status> {
        let tdd = request.into_inner();
        let exec = self.0.clone();
        let id = tdd.execution_id.clone();
        // Building channels may block briefly on locks: keep it off the reactor.
        let result = tokio::task::spawn_blocking(move || exec.submit(tdd))
            .await
            .map_err(|e| Status::internal(format!("deployment of {id} panicked: {e}")))?;
        Ok(Response::new(match result {
            Ok(()) => Ack { ok: true, message: String::new() },
            Err(message) => Ack { ok: false, message },
        }))
    }

    async fn cancel_task(&self, request: Request<CancelTaskRequest>) -> Result<Response<Ack>, Status> {
        let id = request.into_inner().execution_id;
        let found = lock(&self.0.tasks).get(&id).map(|t| t.control.cancel()).is_some();
        Ok(Response::new(Ack { ok: found, message: if found { String::new() } else { format!("no running task {id}") } }))
    }
}
