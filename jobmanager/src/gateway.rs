//! The JobManager's gRPC service for TaskManagers: registration and
//! heartbeats go to the ResourceManager, task states to the JobMasters.

use std::sync::Arc;

use rfy_rpc::job_manager_gateway_server::JobManagerGateway;
use rfy_rpc::{
    Ack, AcknowledgeCheckpointRequest, DeclineCheckpointRequest, HeartbeatRequest, HeartbeatResponse,
    RegisterTaskManagerRequest, RegisterTaskManagerResponse, TaskExecutionState,
};
use tonic::{Request, Response, Status};

use crate::cluster::{lock, write, Cluster};
use crate::job_master::JobMasterMsg;

/// Job id of an execution id `<job>.<vertex>.<subtask>.<attempt>`.
pub(crate) fn job_of(execution_id: &str) -> &str {
    execution_id.split('.').next().unwrap_or("")
}

pub(crate) struct Gateway(pub(crate) Arc<Cluster>);

impl Gateway {
    fn forward(&self, job_id: &str, msg: JobMasterMsg) -> Ack {
        match self.0.job(job_id) {
            Some(entry) => {
                let _ = entry.tx.send(msg);
                Ack { ok: true, message: String::new() }
            }
            None => Ack { ok: false, message: format!("unknown job {job_id}") },
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
        let result = lock(&self.0.rm).register(&req);
        Ok(Response::new(match result {
            Ok(()) => RegisterTaskManagerResponse {
                accepted: true,
                reason: String::new(),
                heartbeat_interval_ms: self.0.heartbeat_interval.as_millis() as u64,
                heartbeat_timeout_ms: self.0.heartbeat_timeout.as_millis() as u64,
            },
            Err(reason) => {
                tracing::warn!("refused TaskManager {}: {reason}", req.resource_id);
                RegisterTaskManagerResponse {
                    accepted: false,
                    reason,
                    heartbeat_interval_ms: 0,
                    heartbeat_timeout_ms: 0,
                }
            }
        }))
    }

    async fn heartbeat(&self, request: Request<HeartbeatRequest>) -> Result<Response<HeartbeatResponse>, Status> {
        let req = request.into_inner();
        let known = lock(&self.0.rm).heartbeat(&req.resource_id, &req.metrics);
        if known {
            self.0.metrics.record(&req);
            for m in &req.metrics {
                if let Some(entry) = self.0.job(job_of(&m.execution_id)) {
                    let mut st = write(&entry.status);
                    if let Some(t) = st.tasks.iter_mut().find(|t| t.execution_id == m.execution_id) {
                        t.metrics = (m.records_in, m.records_out, m.bytes_in, m.bytes_out);
                    }
                }
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

    async fn update_task_execution_state(&self, request: Request<TaskExecutionState>) -> Result<Response<Ack>, Status> {
        let update = request.into_inner();
        match self.0.job(&update.job_id) {
            Some(entry) => {
                let _ = entry.tx.send(JobMasterMsg::TaskState(update));
                Ok(Response::new(Ack { ok: true, message: String::new() }))
            }
            None => Ok(Response::new(Ack { ok: false, message: format!("unknown job {}", update.job_id) })),
        }
    }
}
