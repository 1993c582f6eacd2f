//! The JobManager's gRPC service for TaskManagers: registration and
//! heartbeats go to the ResourceManager, task states, task metrics and
//! checkpoint acknowledgements to the JobMasters (through the Dispatcher).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rfy_rpc::job_manager_gateway_server::JobManagerGateway;
use rfy_rpc::{
    Ack, AcknowledgeCheckpointRequest, DeclineCheckpointRequest, HeartbeatRequest, HeartbeatResponse,
    RegisterTaskManagerRequest, RegisterTaskManagerResponse, SourceEndOfInputRequest, TaskExecutionState,
};
use tonic::{Request, Response, Status};

use crate::dispatcher::Dispatcher;
use crate::job_master::JobMasterMsg;
use crate::metrics::MetricStore;

/// Job id of an execution id `<job>.<vertex>.<subtask>.<attempt>`.
pub(crate) fn job_of(execution_id: &str) -> &str {
    execution_id.split('.').next().unwrap_or("")
}

/// The `JobManagerGateway` service.
pub(crate) struct Gateway {
    pub(crate) dispatcher: Arc<Dispatcher>,
    /// Where heartbeats' task and process metrics go (read by the REST API).
    pub(crate) metrics: Arc<MetricStore>,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) heartbeat_timeout: Duration,
}

impl Gateway {
    fn forward(&self, job_id: &str, msg: JobMasterMsg) -> Ack {
        if self.dispatcher.send(job_id, msg) {
            Ack { ok: true, message: String::new() }
        } else {
            Ack { ok: false, message: format!("unknown job {job_id}") }
        }
    }
}

#[tonic::async_trait]
impl JobManagerGateway for Gateway {
    async fn register_task_manager(
        &self,
        request: Request<RegisterTaskManagerRequest>,
    ) -> Result<Response<RegisterTaskManagerResponse>, Status> {
        let req = request.into_inner();
        let result = self.dispatcher.rm.register(&req);
        Ok(Response::new(match result {
            Ok(()) => RegisterTaskManagerResponse {
                accepted: true,
                reason: String::new(),
                heartbeat_interval_ms: self.heartbeat_interval.as_millis() as u64,
                heartbeat_timeout_ms: self.heartbeat_timeout.as_millis() as u64,
            },
            Err(refused) => {
                tracing::warn!("refused TaskManager {}: {refused}", req.resource_id);
                RegisterTaskManagerResponse {
                    accepted: false,
                    reason: refused.to_string(),
                    heartbeat_interval_ms: 0,
                    heartbeat_timeout_ms: 0,
                }
            }
        }))
    }

    async fn heartbeat(&self, request: Request<HeartbeatRequest>) -> Result<Response<HeartbeatResponse>, Status> {
        let req = request.into_inner();
        let known = self.dispatcher.rm.heartbeat(&req.resource_id);
        if known {
            self.metrics.record(&req);
            let mut by_job: BTreeMap<&str, Vec<_>> = BTreeMap::new();
            for m in &req.metrics {
                by_job.entry(job_of(&m.execution_id)).or_default().push(m.clone());
            }
            for (job, metrics) in by_job {
                self.dispatcher.send(job, JobMasterMsg::Metrics(metrics));
            }
        }
        Ok(Response::new(HeartbeatResponse { known }))
    }

    async fn acknowledge_checkpoint(
        &self,
        request: Request<AcknowledgeCheckpointRequest>,
    ) -> Result<Response<Ack>, Status> {
        let r = request.into_inner();
        Ok(Response::new(self.forward(&r.job_id.clone(), JobMasterMsg::CheckpointAck(r))))
    }

    async fn decline_checkpoint(&self, request: Request<DeclineCheckpointRequest>) -> Result<Response<Ack>, Status> {
        let r = request.into_inner();
        Ok(Response::new(self.forward(&r.job_id.clone(), JobMasterMsg::CheckpointDecline(r))))
    }

    async fn source_end_of_input(&self, request: Request<SourceEndOfInputRequest>) -> Result<Response<Ack>, Status> {
        let r = request.into_inner();
        Ok(Response::new(self.forward(&r.job_id, JobMasterMsg::SourceEndOfInput { execution_id: r.execution_id })))
    }

    async fn update_task_execution_state(&self, request: Request<TaskExecutionState>) -> Result<Response<Ack>, Status> {
        let update = request.into_inner();
        if let Some(m) = &update.metrics {
            // A final state's counts, which no later heartbeat brings.
            self.metrics.record_final(m);
        }
        Ok(Response::new(self.forward(&update.job_id.clone(), JobMasterMsg::TaskState(update))))
    }
}
