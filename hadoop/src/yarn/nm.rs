//! `ContainerManagementProtocol` client: the ApplicationMaster's link to a
//! NodeManager, over Hadoop IPC with SASL DIGEST-MD5 and that node's
//! `NMToken` (from the allocate response; NodeManagers always require it).
//!
//! Protocol: `org.apache.hadoop.yarn.api.ContainerManagementProtocolPB`,
//! version 1, methods `startContainers`, `stopContainers`,
//! `getContainerStatuses`.

use std::collections::HashMap;
use std::sync::Mutex;

use super::amrm::NmToken;
use super::records::{Container, ContainerId, ContainerStatus, LocalResource, NodeId};
use super::YarnError;
use crate::ipc::{Auth, ConnectOptions, IpcConnection};
use crate::proto::yarn as pb;
use crate::token::{ident, Token};

/// Protocol name of `ContainerManagementProtocolPB`.
pub const PROTOCOL: &str = "org.apache.hadoop.yarn.api.ContainerManagementProtocolPB";
/// Protocol version of `ContainerManagementProtocolPB`.
pub const PROTOCOL_VERSION: u64 = 1;

/// What a NodeManager needs to start a container (`ContainerLaunchContext`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerLaunchContext {
    /// Files to localize, by link name in the working directory.
    pub local_resources: Vec<(String, LocalResource)>,
    /// Environment variables.
    pub environment: Vec<(String, String)>,
    /// Shell command lines (joined with spaces by the NM); `<LOG_DIR>` expands
    /// to the container's log directory.
    pub commands: Vec<String>,
    /// Credentials for the container, in the credentials-file layout
    /// ([`crate::token::Credentials::encode_writable`]); the NM writes them to
    /// the container's `HADOOP_TOKEN_FILE_LOCATION`.
    pub tokens: Option<Vec<u8>>,
}

impl ContainerLaunchContext {
    /// To the `ContainerLaunchContextProto` record.
    ///
    /// Errors: [`YarnError::InvalidRequest`] for a local resource URI that does not parse.
    pub fn to_proto(&self) -> Result<pb::ContainerLaunchContextProto, YarnError> {
        let mut local = Vec::with_capacity(self.local_resources.len());
        for (name, r) in &self.local_resources {
            let value = r.to_proto().map_err(|e| YarnError::InvalidRequest(format!("local resource {name}: {e}")))?;
            local.push(pb::StringLocalResourceMapProto { key: Some(name.clone()), value: Some(value) });
        }
        Ok(pb::ContainerLaunchContextProto {
            local_resources: local,
            tokens: self.tokens.clone(),
            service_data: vec![],
            environment: self
                .environment
                .iter()
                .map(|(k, v)| pb::StringStringMapProto { key: Some(k.clone()), value: Some(v.clone()) })
                .collect(),
            command: self.commands.clone(),
        })
    }
}

/// A failure for one container in a bulk answer (`ContainerExceptionMap` entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerFailure {
    /// The container.
    pub container_id: ContainerId,
    /// Java exception class from the `SerializedException`.
    pub class_name: String,
    /// Its message.
    pub message: String,
}

fn failures(list: &[pb::ContainerExceptionMapProto]) -> Vec<ContainerFailure> {
    list.iter()
        .map(|f| ContainerFailure {
            container_id: f
                .container_id
                .as_ref()
                .map(ContainerId::from_proto)
                .unwrap_or_else(|| ContainerId::from_proto(&Default::default())),
            class_name: f.exception.as_ref().map(|e| e.class_name().to_string()).unwrap_or_default(),
            message: f.exception.as_ref().map(|e| e.message().to_string()).unwrap_or_default(),
        })
        .collect()
}

/// Per-container outcome of a bulk call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkResult {
    /// Containers for which the call succeeded.
    pub succeeded: Vec<ContainerId>,
    /// Containers for which it failed, with the NM's exception.
    pub failed: Vec<ContainerFailure>,
}

/// The answer to `getContainerStatuses`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusesResult {
    /// Statuses of the known containers.
    pub statuses: Vec<ContainerStatus>,
    /// Containers the NM could not report on.
    pub failed: Vec<ContainerFailure>,
}

/// A connection to one NodeManager.
#[derive(Debug)]
pub struct NmClient {
    node: NodeId,
    conn: IpcConnection,
}

impl NmClient {
    /// Connects to `node` (its `host:port`) with its `NMToken`; `user` is only
    /// used if the NM falls back to SIMPLE auth.
    ///
    /// Errors: [`YarnError::Ipc`] naming the address (connect, SASL, `InvalidToken`).
    pub async fn connect(
        node: &NodeId,
        nm_token: &Token,
        user: &str,
        opts: &ConnectOptions,
    ) -> Result<Self, YarnError> {
        tracing::debug!(node = %node, token = %ident::describe(nm_token), "connecting to NodeManager");
        let addr = node.to_string();
        let auth = Auth::token(nm_token.clone(), user);
        let conn = IpcConnection::connect(&addr, PROTOCOL, PROTOCOL_VERSION, &auth, opts).await?;
        Ok(NmClient { node: node.clone(), conn })
    }

    /// The NodeManager.
    pub fn node(&self) -> &NodeId {
        &self.node
    }

    /// Whether the connection broke (make a new client then).
    pub fn is_closed(&self) -> bool {
        self.conn.is_closed()
    }

    /// `startContainers`: starts each allocated container with its launch context.
    /// Per-container refusals are in the result, not an error.
    ///
    /// Errors: [`YarnError::InvalidRequest`] (bad resource URI, container without token), [`YarnError::Ipc`].
    pub async fn start_containers(
        &self,
        requests: &[(&Container, &ContainerLaunchContext)],
    ) -> Result<BulkResult, YarnError> {
        let mut reqs = Vec::with_capacity(requests.len());
        for (c, ctx) in requests {
            let token = c
                .container_token
                .as_ref()
                .ok_or_else(|| YarnError::InvalidRequest(format!("container {} has no container token", c.id)))?;
            reqs.push(pb::StartContainerRequestProto {
                container_launch_context: Some(ctx.to_proto()?),
                container_token: Some(token.to_proto()),
            });
        }
        let r: pb::StartContainersResponseProto = self
            .conn
            .call("startContainers", &pb::StartContainersRequestProto { start_container_request: reqs })
            .await?;
        Ok(BulkResult {
            succeeded: r.succeeded_requests.iter().map(ContainerId::from_proto).collect(),
            failed: failures(&r.failed_requests),
        })
    }

    /// Starts one container; a refusal becomes [`YarnError::ContainerRequestFailed`].
    pub async fn start_container(&self, container: &Container, ctx: &ContainerLaunchContext) -> Result<(), YarnError> {
        let r = self.start_containers(&[(container, ctx)]).await?;
        match r.failed.into_iter().next() {
            None => Ok(()),
            Some(f) => Err(YarnError::ContainerRequestFailed {
                node: self.node.to_string(),
                container: f.container_id,
                class_name: f.class_name,
                message: f.message,
            }),
        }
    }

    /// `stopContainers`.
    pub async fn stop_containers(&self, ids: &[ContainerId]) -> Result<BulkResult, YarnError> {
        let r: pb::StopContainersResponseProto = self
            .conn
            .call(
                "stopContainers",
                &pb::StopContainersRequestProto { container_id: ids.iter().map(ContainerId::to_proto).collect() },
            )
            .await?;
        Ok(BulkResult {
            succeeded: r.succeeded_requests.iter().map(ContainerId::from_proto).collect(),
            failed: failures(&r.failed_requests),
        })
    }

    /// `getContainerStatuses`.
    pub async fn get_container_statuses(&self, ids: &[ContainerId]) -> Result<StatusesResult, YarnError> {
        let r: pb::GetContainerStatusesResponseProto = self
            .conn
            .call(
                "getContainerStatuses",
                &pb::GetContainerStatusesRequestProto { container_id: ids.iter().map(ContainerId::to_proto).collect() },
            )
            .await?;
        Ok(StatusesResult {
            statuses: r.status.iter().map(ContainerStatus::from_proto).collect(),
            failed: failures(&r.failed_requests),
        })
    }
}

/// The latest NMToken per NodeManager (`NMTokenCache`): feed it every
/// allocate response's `nm_tokens`; look up a node before connecting to it.
#[derive(Debug, Default)]
pub struct NmTokenCache {
    tokens: Mutex<HashMap<NodeId, Token>>,
}

impl NmTokenCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores (replacing older) tokens.
    pub fn insert_all(&self, tokens: &[NmToken]) {
        let mut m = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        for t in tokens {
            m.insert(t.node_id.clone(), t.token.clone());
        }
    }

    /// The token for `node`, if one was received.
    pub fn get(&self, node: &NodeId) -> Option<Token> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner()).get(node).cloned()
    }

    /// Number of nodes with a token.
    pub fn len(&self) -> usize {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no token is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yarn::records::{LocalResourceType, LocalResourceVisibility};

    #[test]
    fn launch_context_proto() {
        let ctx = ContainerLaunchContext {
            local_resources: vec![(
                "rfy".into(),
                LocalResource {
                    uri: "hdfs://nn.local:9000/user/a/.rfy/app/rfy.tar.gz".into(),
                    size: 10,
                    timestamp: 20,
                    kind: LocalResourceType::Archive,
                    visibility: LocalResourceVisibility::Application,
                },
            )],
            environment: vec![("K".into(), "V".into())],
            commands: vec!["./run 1><LOG_DIR>/out".into()],
            tokens: Some(b"HDTS\x00\x00\x00".to_vec()),
        };
        let p = ctx.to_proto().unwrap();
        let r = p.local_resources[0].value.as_ref().unwrap();
        let u = r.resource.as_ref().unwrap();
        assert_eq!(
            (u.scheme(), u.host(), u.port(), u.file()),
            ("hdfs", "nn.local", 9000, "/user/a/.rfy/app/rfy.tar.gz")
        );
        assert_eq!((r.size(), r.timestamp()), (10, 20));
        assert_eq!(r.r#type(), pb::LocalResourceTypeProto::Archive);
        assert_eq!(r.visibility(), pb::LocalResourceVisibilityProto::Application);
        assert_eq!(p.environment[0].key(), "K");
        assert_eq!(p.command, vec!["./run 1><LOG_DIR>/out".to_string()]);
        assert_eq!(p.tokens.as_deref(), Some(&b"HDTS\x00\x00\x00"[..]));

        let bad = ContainerLaunchContext {
            local_resources: vec![(
                "x".into(),
                LocalResource {
                    uri: "not a uri".into(),
                    size: 0,
                    timestamp: 0,
                    kind: LocalResourceType::File,
                    visibility: LocalResourceVisibility::Application,
                },
            )],
            ..Default::default()
        };
        assert!(matches!(bad.to_proto(), Err(YarnError::InvalidRequest(_))));
    }

    #[test]
    fn token_cache_keeps_latest() {
        let c = NmTokenCache::new();
        let node: NodeId = "nm:1".parse().unwrap();
        let tok =
            |p: u8| Token { identifier: vec![1], password: vec![p], kind: "NMToken".into(), service: "nm:1".into() };
        c.insert_all(&[NmToken { node_id: node.clone(), token: tok(1) }]);
        c.insert_all(&[NmToken { node_id: node.clone(), token: tok(2) }]);
        assert_eq!(c.len(), 1);
        assert_eq!(c.get(&node).unwrap().password, vec![2]);
    }
}
