//! `ApplicationMasterProtocol` client: the ApplicationMaster's link to the
//! ResourceManager's scheduler port (`yarn.resourcemanager.scheduler.address`,
//! default 8030), over Hadoop IPC with SASL DIGEST-MD5 and the
//! `YARN_AM_RM_TOKEN` (the RM forces token authentication on this port even on
//! a non-secure cluster: `ApplicationMasterService` sets
//! `hadoop.security.authentication=token` for its server).
//!
//! Protocol: `org.apache.hadoop.yarn.api.ApplicationMasterProtocolPB`,
//! version 1, methods `registerApplicationMaster`, `allocate`,
//! `finishApplicationMaster` (messages from `yarn_service_protos`).

use std::sync::Arc;
use std::time::Duration;

use super::records::{Container, ContainerId, ContainerStatus, NodeId, Resource};
use super::YarnError;
use crate::config::HadoopConfig;
use crate::ipc::{Auth, ConnectOptions, IpcConnection};
use crate::proto::yarn as pb;
use crate::token::{ident, Credentials, Token, KIND_AM_RM_TOKEN};

/// Protocol name of `ApplicationMasterProtocolPB`.
pub const PROTOCOL: &str = "org.apache.hadoop.yarn.api.ApplicationMasterProtocolPB";
/// Protocol version of `ApplicationMasterProtocolPB`.
pub const PROTOCOL_VERSION: u64 = 1;
/// The resource name that matches any node (`ResourceRequest.ANY`).
pub const ANY: &str = "*";

/// The final state an ApplicationMaster reports (`FinalApplicationStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FinalStatus {
    /// Not yet known.
    Undefined,
    /// The application succeeded.
    Succeeded,
    /// The application failed.
    Failed,
    /// The application was killed.
    Killed,
}

impl FinalStatus {
    fn to_proto(self) -> pb::FinalApplicationStatusProto {
        match self {
            FinalStatus::Undefined => pb::FinalApplicationStatusProto::AppUndefined,
            FinalStatus::Succeeded => pb::FinalApplicationStatusProto::AppSucceeded,
            FinalStatus::Failed => pb::FinalApplicationStatusProto::AppFailed,
            FinalStatus::Killed => pb::FinalApplicationStatusProto::AppKilled,
        }
    }
}

/// A command from the RM in an allocate response (`AMCommand`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmCommand {
    /// The RM lost the AM's state (e.g. RM restart): re-register and resend all asks.
    Resync,
    /// The AM must shut down.
    Shutdown,
}

/// An `NMToken` for one NodeManager (`NMToken`): needed to connect to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NmToken {
    /// The NodeManager.
    pub node_id: NodeId,
    /// The token (kind `NMToken`).
    pub token: Token,
}

impl NmToken {
    fn from_proto(p: &pb::NmTokenProto) -> Option<Self> {
        Some(NmToken { node_id: NodeId::from_proto(p.node_id.as_ref()?), token: Token::from_proto(p.token.as_ref()?) })
    }
}

/// The answer to `registerApplicationMaster`.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterResponse {
    /// The largest container the scheduler will grant.
    pub maximum_capability: Option<Resource>,
    /// The queue the application runs in.
    pub queue: String,
    /// Containers still running from earlier attempts (with
    /// keep-containers-across-application-attempts).
    pub containers_from_previous_attempts: Vec<Container>,
    /// NMTokens for the nodes of those containers.
    pub nm_tokens_from_previous_attempts: Vec<NmToken>,
}

/// One resource request (`ResourceRequest`). YARN treats `num_containers`
/// as the total outstanding count for this (priority, resource name,
/// capability): a later ask for the same key replaces it, 0 cancels it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerAsk {
    /// Request priority (lower number = more important).
    pub priority: i32,
    /// `*` for any node, else a host or rack name.
    pub resource_name: String,
    /// Size of each container.
    pub capability: Resource,
    /// Outstanding containers wanted.
    pub num_containers: i32,
    /// Allow placement off the named node/rack.
    pub relax_locality: bool,
}

impl ContainerAsk {
    /// `n` containers of `capability` on any node at `priority`.
    pub fn any(priority: i32, capability: Resource, n: i32) -> Self {
        ContainerAsk { priority, resource_name: ANY.to_string(), capability, num_containers: n, relax_locality: true }
    }

    fn to_proto(&self) -> pb::ResourceRequestProto {
        pb::ResourceRequestProto {
            priority: Some(pb::PriorityProto { priority: Some(self.priority) }),
            resource_name: Some(self.resource_name.clone()),
            capability: Some(self.capability.to_proto()),
            num_containers: Some(self.num_containers),
            relax_locality: Some(self.relax_locality),
            node_label_expression: None,
            allocation_request_id: None,
        }
    }
}

/// An allocate heartbeat (`AllocateRequest`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AllocateRequest {
    /// The `response_id` of the last response received (0 on the first call).
    pub response_id: i32,
    /// Resource requests (absolute outstanding counts, see [`ContainerAsk`]).
    pub asks: Vec<ContainerAsk>,
    /// Containers to give back.
    pub releases: Vec<ContainerId>,
    /// Application progress, 0.0 to 1.0.
    pub progress: f32,
}

/// The answer to an allocate heartbeat (`AllocateResponse`).
#[derive(Debug, Clone, PartialEq)]
pub struct AllocateResponse {
    /// Send this back as the next request's `response_id`.
    pub response_id: i32,
    /// Newly granted containers, each with its container token.
    pub allocated: Vec<Container>,
    /// Containers that finished since the last heartbeat.
    pub completed: Vec<ContainerStatus>,
    /// NMTokens for nodes the AM has not had a token for (cache them per node).
    pub nm_tokens: Vec<NmToken>,
    /// A rolled AMRM token; the client already switched to it for new connections.
    pub am_rm_token: Option<Token>,
    /// A command from the RM.
    pub am_command: Option<AmCommand>,
    /// Resources still available to the application.
    pub limit: Option<Resource>,
    /// Nodes in the cluster.
    pub num_cluster_nodes: i32,
}

/// A client of the ResourceManager's `ApplicationMasterProtocol`. It keeps
/// one connection, reconnects when it breaks, and switches to a rolled AMRM
/// token when an allocate response carries one.
pub struct AmRmClient {
    /// Every RM's scheduler address (one without RM HA).
    addrs: Vec<String>,
    /// Index in `addrs` of the RM connected to (or to try first).
    current: std::sync::atomic::AtomicUsize,
    user: String,
    opts: ConnectOptions,
    token: std::sync::Mutex<Token>,
    conn: tokio::sync::Mutex<Option<Arc<IpcConnection>>>,
    /// The last registration sent, for [`AmRmClient::reregister`].
    registration: std::sync::Mutex<Option<pb::RegisterApplicationMasterRequestProto>>,
}

/// Whether `e` is the RM's `ApplicationMasterNotRegisteredException`: a
/// ResourceManager that restarted or took over (HA failover) does not know
/// the AM until it registers again (Hadoop's `AMRMClientImpl` then
/// re-registers and re-sends its outstanding asks: a resync).
pub fn is_not_registered(e: &YarnError) -> bool {
    matches!(e, YarnError::Ipc(i) if i.remote().is_some_and(|r| r.simple_class_name() == "ApplicationMasterNotRegisteredException"))
}

impl std::fmt::Debug for AmRmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmRmClient").field("addr", &self.addr()).finish()
    }
}

impl AmRmClient {
    /// A client for the scheduler at `addr` (`host:port`) authenticating with
    /// `token` (kind `YARN_AM_RM_TOKEN`). `user` is only used if the server
    /// falls back to SIMPLE auth. Does not connect yet.
    pub fn new(addr: impl Into<String>, token: Token, user: impl Into<String>, opts: ConnectOptions) -> Self {
        Self::with_addresses(vec![addr.into()], token, user, opts)
    }

    /// A client for the schedulers of HA ResourceManagers at `addrs` (in
    /// order): it connects to the first that accepts (a standby RM's
    /// scheduler port is closed) and, when its connection breaks, to the
    /// first that accepts again, starting with the one it had. As
    /// [`Self::new`] otherwise; `addrs` must not be empty.
    pub fn with_addresses(addrs: Vec<String>, token: Token, user: impl Into<String>, opts: ConnectOptions) -> Self {
        tracing::info!(addrs = ?addrs, token = %ident::describe(&token), "AMRM client");
        AmRmClient {
            addrs,
            current: std::sync::atomic::AtomicUsize::new(0),
            user: user.into(),
            opts,
            token: std::sync::Mutex::new(token),
            conn: tokio::sync::Mutex::new(None),
            registration: std::sync::Mutex::new(None),
        }
    }

    /// A client for an AM running in a YARN container: the scheduler address
    /// from `conf` (`yarn.resourcemanager.scheduler.address`; with RM HA every
    /// `yarn.resourcemanager.scheduler.address.<id>`) and the
    /// `YARN_AM_RM_TOKEN` from `HADOOP_TOKEN_FILE_LOCATION`; the user from
    /// [`crate::config::current_user`]; the SASL qops from `hadoop.rpc.protection`.
    ///
    /// Errors: [`YarnError::Config`], [`YarnError::Token`] (no file, no AMRM token).
    pub fn from_container_env(conf: &HadoopConfig) -> Result<Self, YarnError> {
        let addrs: Vec<String> = conf.rm_scheduler_addresses()?.iter().map(|a| a.to_string()).collect();
        let creds = Credentials::from_env()?;
        let token = creds.require_kind(KIND_AM_RM_TOKEN)?.clone();
        let user = crate::config::current_user();
        Ok(Self::with_addresses(addrs, token, user, ConnectOptions::from_conf(conf)?))
    }

    /// The scheduler address connected to (or to try first).
    pub fn addr(&self) -> &str {
        &self.addrs[self.current.load(std::sync::atomic::Ordering::Relaxed) % self.addrs.len()]
    }

    /// Every scheduler address the client may use (several with RM HA).
    pub fn addresses(&self) -> &[String] {
        &self.addrs
    }

    /// The AMRM token in use (the latest rolled one).
    pub fn current_token(&self) -> Token {
        self.token.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    async fn connection(&self) -> Result<Arc<IpcConnection>, YarnError> {
        let mut guard = self.conn.lock().await;
        if let Some(c) = guard.as_ref() {
            if !c.is_closed() {
                return Ok(Arc::clone(c));
            }
        }
        let auth = Auth::token(self.current_token(), self.user.clone());
        let n = self.addrs.len();
        let start = self.current.load(std::sync::atomic::Ordering::Relaxed) % n;
        let mut k = 0;
        let c = loop {
            let i = (start + k) % n;
            match IpcConnection::connect(&self.addrs[i], PROTOCOL, PROTOCOL_VERSION, &auth, &self.opts).await {
                Ok(c) => {
                    if i != start {
                        self.current.store(i, std::sync::atomic::Ordering::Relaxed);
                        tracing::info!(addr = %self.addrs[i], "AMRM client: connected to another ResourceManager (failover)");
                    }
                    break Arc::new(c);
                }
                Err(e) if k + 1 < n && e.is_connection_error() => {
                    tracing::debug!(addr = %self.addrs[i], error = %e, "AMRM: this ResourceManager does not accept; trying the next");
                    k += 1;
                }
                Err(e) => return Err(e.into()),
            }
        };
        *guard = Some(Arc::clone(&c));
        Ok(c)
    }

    async fn call<Req: prost::Message, Resp: prost::Message + Default>(
        &self,
        method: &str,
        req: &Req,
        retry_on_connection_error: bool,
    ) -> Result<Resp, YarnError> {
        let conn = self.connection().await?;
        match conn.call(method, req).await {
            Ok(r) => Ok(r),
            Err(e) if e.is_connection_error() => {
                *self.conn.lock().await = None;
                if !retry_on_connection_error {
                    return Err(e.into());
                }
                tracing::warn!(addr = %self.addr(), method, error = %e, "AMRM connection broke; reconnecting once");
                let conn = self.connection().await?;
                Ok(conn.call(method, req).await?)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `registerApplicationMaster(host, rpc_port, tracking_url)`: announces the
    /// AM. `tracking_url` is what the RM's web proxy links to
    /// (`http://<rm>/proxy/<appId>/` forwards to it); empty for none.
    ///
    /// Errors: [`YarnError::Ipc`] (e.g. `InvalidApplicationMasterRequestException` when already registered).
    pub async fn register_application_master(
        &self,
        host: &str,
        rpc_port: i32,
        tracking_url: &str,
    ) -> Result<RegisterResponse, YarnError> {
        let req = pb::RegisterApplicationMasterRequestProto {
            host: Some(host.to_string()),
            rpc_port: Some(rpc_port),
            tracking_url: Some(tracking_url.to_string()),
        };
        *self.registration.lock().unwrap_or_else(|e| e.into_inner()) = Some(req.clone());
        self.register(&req, false).await
    }

    /// Registers again with what [`Self::register_application_master`] sent
    /// last: the answer to `ApplicationMasterNotRegisteredException` ([`is_not_registered`])
    /// or an `AM_RESYNC` command after an RM restart or failover. The caller
    /// then heartbeats from `response_id` 0 and re-sends its outstanding asks.
    ///
    /// Errors: [`YarnError::InvalidRequest`] when the AM never registered; else as [`Self::register_application_master`].
    pub async fn reregister(&self) -> Result<RegisterResponse, YarnError> {
        let req = self.registration.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let req = req.ok_or_else(|| YarnError::InvalidRequest("resync before the AM ever registered".into()))?;
        tracing::info!(addr = %self.addr(), "registering the AM again with the ResourceManager (resync)");
        self.register(&req, true).await
    }

    async fn register(
        &self,
        req: &pb::RegisterApplicationMasterRequestProto,
        retry_on_connection_error: bool,
    ) -> Result<RegisterResponse, YarnError> {
        let r: pb::RegisterApplicationMasterResponseProto =
            self.call("registerApplicationMaster", req, retry_on_connection_error).await?;
        Ok(RegisterResponse {
            maximum_capability: r.maximum_capability.as_ref().map(Resource::from_proto),
            queue: r.queue().to_string(),
            containers_from_previous_attempts: r
                .containers_from_previous_attempts
                .iter()
                .map(Container::from_proto)
                .collect(),
            nm_tokens_from_previous_attempts: r
                .nm_tokens_from_previous_attempts
                .iter()
                .filter_map(NmToken::from_proto)
                .collect(),
        })
    }

    /// One `allocate` heartbeat. If the response carries a rolled
    /// `am_rm_token`, the client keeps the old token's service and uses the
    /// new token for later connections (as `AMRMClientImpl#updateAMRMToken`).
    /// Retried once on a broken connection (the RM answers a repeated
    /// `response_id` with its last response).
    ///
    /// Errors: [`YarnError::Ipc`], e.g. `ApplicationMasterNotRegisteredException`
    /// or `InvalidApplicationMasterRequestException` for a stale `response_id`.
    pub async fn allocate(&self, req: &AllocateRequest) -> Result<AllocateResponse, YarnError> {
        let p = pb::AllocateRequestProto {
            ask: req.asks.iter().map(ContainerAsk::to_proto).collect(),
            release: req.releases.iter().map(ContainerId::to_proto).collect(),
            response_id: Some(req.response_id),
            progress: Some(req.progress),
        };
        let r: pb::AllocateResponseProto = self.call("allocate", &p, true).await?;
        let resp = allocate_response_from_proto(&r);
        if let Some(new) = &resp.am_rm_token {
            let mut t = self.token.lock().unwrap_or_else(|e| e.into_inner());
            let service = t.service.clone();
            *t = Token { service, ..new.clone() };
            tracing::info!(addr = %self.addr(), token = %ident::describe(&t), "AMRM token rolled over");
        }
        Ok(resp)
    }

    /// `finishApplicationMaster(final status, diagnostics, tracking url)`.
    /// Returns `isUnregistered`; the RM may answer `false` while it persists
    /// the state, and the AM should call again (see [`Self::unregister`]).
    pub async fn finish_application_master(
        &self,
        status: FinalStatus,
        diagnostics: &str,
        tracking_url: &str,
    ) -> Result<bool, YarnError> {
        let req = pb::FinishApplicationMasterRequestProto {
            diagnostics: Some(diagnostics.to_string()),
            tracking_url: Some(tracking_url.to_string()),
            final_application_status: Some(status.to_proto() as i32),
        };
        let r: pb::FinishApplicationMasterResponseProto = self.call("finishApplicationMaster", &req, true).await?;
        Ok(r.is_unregistered())
    }

    /// Calls [`Self::finish_application_master`] every 100 ms until the RM
    /// confirms, for at most `timeout`.
    ///
    /// Errors: as `finish_application_master`, or [`YarnError::NotUnregistered`].
    pub async fn unregister(
        &self,
        status: FinalStatus,
        diagnostics: &str,
        tracking_url: &str,
        timeout: Duration,
    ) -> Result<(), YarnError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.finish_application_master(status, diagnostics, tracking_url).await? {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(YarnError::NotUnregistered { addr: self.addr().to_string(), after: timeout });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Converts an `AllocateResponseProto` (missing fields take YARN's defaults).
pub fn allocate_response_from_proto(r: &pb::AllocateResponseProto) -> AllocateResponse {
    AllocateResponse {
        response_id: r.response_id(),
        allocated: r.allocated_containers.iter().map(Container::from_proto).collect(),
        completed: r.completed_container_statuses.iter().map(ContainerStatus::from_proto).collect(),
        nm_tokens: r.nm_tokens.iter().filter_map(NmToken::from_proto).collect(),
        am_rm_token: r.am_rm_token.as_ref().map(Token::from_proto),
        am_command: r.a_m_command.and_then(|c| match pb::AmCommandProto::try_from(c) {
            Ok(pb::AmCommandProto::AmResync) => Some(AmCommand::Resync),
            Ok(pb::AmCommandProto::AmShutdown) => Some(AmCommand::Shutdown),
            Err(_) => None,
        }),
        limit: r.limit.as_ref().map(Resource::from_proto),
        num_cluster_nodes: r.num_cluster_nodes(),
    }
}
