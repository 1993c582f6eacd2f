//! YARN record types shared by the AMRM, NM and REST clients: application,
//! attempt and container ids with YARN's string forms, node ids, resources.
//!
//! String forms follow `org.apache.hadoop.yarn.api.records.ApplicationId`
//! (`application_<clusterTs>_<id:04>`), `ApplicationAttemptId`
//! (`appattempt_<clusterTs>_<appId:04>_<attempt:06>`) and `ContainerId`
//! (`container_[e<epoch>_]<clusterTs>_<appId:04>_<attempt:02>_<id:06>`, where
//! the epoch is the container id's bits above 40).

use std::fmt;
use std::str::FromStr;

use crate::proto::yarn as pb;

/// Error parsing a YARN id string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} id {input:?}")]
pub struct IdParseError {
    /// Which id type (`application`, `appattempt`, `container`, `node`).
    pub kind: &'static str,
    /// The rejected input.
    pub input: String,
}

/// A YARN application id (`ApplicationId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApplicationId {
    /// ResourceManager start time, ms since the epoch.
    pub cluster_timestamp: i64,
    /// Sequence number within that RM run.
    pub id: i32,
}

/// A YARN application attempt id (`ApplicationAttemptId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApplicationAttemptId {
    /// The application.
    pub application_id: ApplicationId,
    /// Attempt number, from 1.
    pub attempt_id: i32,
}

/// A YARN container id (`ContainerId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerId {
    /// The attempt that owns the container.
    pub attempt_id: ApplicationAttemptId,
    /// The 64-bit container id: RM epoch in bits 40.., sequence in bits 0..40.
    pub id: i64,
}

/// A NodeManager's id (`NodeId`): its host and IPC port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Host name as the NodeManager registered it.
    pub host: String,
    /// IPC port of the ContainerManagementProtocol server.
    pub port: i32,
}

/// A resource amount (`Resource`): memory in MiB and virtual cores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct Resource {
    /// Memory, MiB.
    pub memory_mb: i64,
    /// Virtual cores.
    pub vcores: i32,
}

fn split_nums<'a>(s: &'a str, prefix: &str) -> Option<Vec<&'a str>> {
    s.strip_prefix(prefix).map(|r| r.split('_').collect())
}

impl ApplicationId {
    /// From the protobuf record (missing fields read as 0).
    pub fn from_proto(p: &pb::ApplicationIdProto) -> Self {
        ApplicationId { cluster_timestamp: p.cluster_timestamp(), id: p.id() }
    }
    /// To the protobuf record.
    pub fn to_proto(&self) -> pb::ApplicationIdProto {
        pb::ApplicationIdProto { id: Some(self.id), cluster_timestamp: Some(self.cluster_timestamp) }
    }
}

impl fmt::Display for ApplicationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "application_{}_{:04}", self.cluster_timestamp, self.id)
    }
}

impl FromStr for ApplicationId {
    type Err = IdParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || IdParseError { kind: "application", input: s.to_string() };
        let p = split_nums(s, "application_").ok_or_else(err)?;
        if p.len() != 2 {
            return Err(err());
        }
        Ok(ApplicationId { cluster_timestamp: p[0].parse().map_err(|_| err())?, id: p[1].parse().map_err(|_| err())? })
    }
}

impl ApplicationAttemptId {
    /// From the protobuf record (missing fields read as 0).
    pub fn from_proto(p: &pb::ApplicationAttemptIdProto) -> Self {
        ApplicationAttemptId {
            application_id: p
                .application_id
                .as_ref()
                .map(ApplicationId::from_proto)
                .unwrap_or(ApplicationId { cluster_timestamp: 0, id: 0 }),
            attempt_id: p.attempt_id(),
        }
    }
    /// To the protobuf record.
    pub fn to_proto(&self) -> pb::ApplicationAttemptIdProto {
        pb::ApplicationAttemptIdProto {
            application_id: Some(self.application_id.to_proto()),
            attempt_id: Some(self.attempt_id),
        }
    }
}

impl fmt::Display for ApplicationAttemptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "appattempt_{}_{:04}_{:06}",
            self.application_id.cluster_timestamp, self.application_id.id, self.attempt_id
        )
    }
}

impl FromStr for ApplicationAttemptId {
    type Err = IdParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || IdParseError { kind: "appattempt", input: s.to_string() };
        let p = split_nums(s, "appattempt_").ok_or_else(err)?;
        if p.len() != 3 {
            return Err(err());
        }
        Ok(ApplicationAttemptId {
            application_id: ApplicationId {
                cluster_timestamp: p[0].parse().map_err(|_| err())?,
                id: p[1].parse().map_err(|_| err())?,
            },
            attempt_id: p[2].parse().map_err(|_| err())?,
        })
    }
}

const CONTAINER_ID_BITMASK: i64 = 0xff_ffff_ffff;

impl ContainerId {
    /// From the protobuf record. The attempt is taken from `app_attempt_id`.
    pub fn from_proto(p: &pb::ContainerIdProto) -> Self {
        let attempt_id = match (&p.app_attempt_id, &p.app_id) {
            (Some(a), _) => ApplicationAttemptId::from_proto(a),
            (None, Some(app)) => ApplicationAttemptId { application_id: ApplicationId::from_proto(app), attempt_id: 0 },
            (None, None) => ApplicationAttemptId::from_proto(&Default::default()),
        };
        ContainerId { attempt_id, id: p.id() }
    }
    /// To the protobuf record (both `app_id` and `app_attempt_id` set, as YARN does).
    pub fn to_proto(&self) -> pb::ContainerIdProto {
        pb::ContainerIdProto {
            app_id: Some(self.attempt_id.application_id.to_proto()),
            app_attempt_id: Some(self.attempt_id.to_proto()),
            id: Some(self.id),
        }
    }
    /// The RM epoch encoded in the id's upper bits.
    pub fn epoch(&self) -> i64 {
        self.id >> 40
    }
    /// The sequence number within the attempt (lower 40 bits).
    pub fn sequence(&self) -> i64 {
        self.id & CONTAINER_ID_BITMASK
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("container_")?;
        if self.epoch() > 0 {
            write!(f, "e{:02}_", self.epoch())?;
        }
        let app = self.attempt_id.application_id;
        write!(f, "{}_{:04}_{:02}_{:06}", app.cluster_timestamp, app.id, self.attempt_id.attempt_id, self.sequence())
    }
}

impl FromStr for ContainerId {
    type Err = IdParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || IdParseError { kind: "container", input: s.to_string() };
        let mut p = split_nums(s, "container_").ok_or_else(err)?;
        let mut epoch: i64 = 0;
        if p.first().is_some_and(|x| x.starts_with('e')) {
            epoch = p[0][1..].parse().map_err(|_| err())?;
            p.remove(0);
        }
        if p.len() != 4 || !(0..=0xff_ffff).contains(&epoch) {
            return Err(err());
        }
        let seq: i64 = p[3].parse().map_err(|_| err())?;
        if !(0..=CONTAINER_ID_BITMASK).contains(&seq) {
            return Err(err());
        }
        Ok(ContainerId {
            attempt_id: ApplicationAttemptId {
                application_id: ApplicationId {
                    cluster_timestamp: p[0].parse().map_err(|_| err())?,
                    id: p[1].parse().map_err(|_| err())?,
                },
                attempt_id: p[2].parse().map_err(|_| err())?,
            },
            id: (epoch << 40) | seq,
        })
    }
}

impl NodeId {
    /// From the protobuf record.
    pub fn from_proto(p: &pb::NodeIdProto) -> Self {
        NodeId { host: p.host().to_string(), port: p.port() }
    }
    /// To the protobuf record.
    pub fn to_proto(&self) -> pb::NodeIdProto {
        pb::NodeIdProto { host: Some(self.host.clone()), port: Some(self.port) }
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl FromStr for NodeId {
    type Err = IdParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || IdParseError { kind: "node", input: s.to_string() };
        let (h, p) = s.rsplit_once(':').ok_or_else(err)?;
        if h.is_empty() {
            return Err(err());
        }
        Ok(NodeId { host: h.to_string(), port: p.parse().map_err(|_| err())? })
    }
}

impl Resource {
    /// A resource of `memory_mb` MiB and `vcores` cores.
    pub fn new(memory_mb: i64, vcores: i32) -> Self {
        Resource { memory_mb, vcores }
    }
    /// From the protobuf record (missing fields read as 0).
    pub fn from_proto(p: &pb::ResourceProto) -> Self {
        Resource { memory_mb: p.memory(), vcores: p.virtual_cores() }
    }
    /// To the protobuf record.
    pub fn to_proto(&self) -> pb::ResourceProto {
        pb::ResourceProto { memory: Some(self.memory_mb), virtual_cores: Some(self.vcores) }
    }
}

/// State of a container (`ContainerState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContainerState {
    /// `NEW`.
    New,
    /// `RUNNING`.
    Running,
    /// `COMPLETE`.
    Complete,
    /// `SCHEDULED` (queued at the NodeManager).
    Scheduled,
    /// A value this client does not know.
    Unknown(i32),
}

impl ContainerState {
    /// From the `ContainerStateProto` number.
    pub fn from_proto(v: i32) -> Self {
        match pb::ContainerStateProto::try_from(v) {
            Ok(pb::ContainerStateProto::CNew) => ContainerState::New,
            Ok(pb::ContainerStateProto::CRunning) => ContainerState::Running,
            Ok(pb::ContainerStateProto::CComplete) => ContainerState::Complete,
            Ok(pb::ContainerStateProto::CScheduled) => ContainerState::Scheduled,
            Err(_) => ContainerState::Unknown(v),
        }
    }
}

/// Well-known container exit statuses (`org.apache.hadoop.yarn.api.records.ContainerExitStatus`).
/// Positive values are the process's own exit code.
pub mod exit_status {
    /// The process exited with 0.
    pub const SUCCESS: i32 = 0;
    /// Not yet known.
    pub const INVALID: i32 = -1000;
    /// Released by the AM or lost with its node.
    pub const ABORTED: i32 = -100;
    /// The NodeManager's disks failed.
    pub const DISKS_FAILED: i32 = -101;
    /// Preempted by the scheduler.
    pub const PREEMPTED: i32 = -102;
    /// Killed for exceeding its virtual memory limit.
    pub const KILLED_EXCEEDED_VMEM: i32 = -103;
    /// Killed for exceeding its physical memory limit.
    pub const KILLED_EXCEEDED_PMEM: i32 = -104;
    /// Stopped on the AM's request.
    pub const KILLED_BY_APPMASTER: i32 = -105;
    /// Killed by the ResourceManager.
    pub const KILLED_BY_RESOURCEMANAGER: i32 = -106;
    /// Killed because the application finished.
    pub const KILLED_AFTER_APP_COMPLETION: i32 = -107;
}

/// A container granted by the ResourceManager (`Container`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// The container's id.
    pub id: ContainerId,
    /// The NodeManager that will run it.
    pub node_id: NodeId,
    /// `host:port` of that NodeManager's web server.
    pub node_http_address: String,
    /// The granted resource.
    pub resource: Resource,
    /// The request priority it satisfies.
    pub priority: i32,
    /// The container token to pass to `startContainers`.
    pub container_token: Option<crate::token::Token>,
    /// The `allocation_request_id` of the ask it satisfies (-1 if none).
    pub allocation_request_id: i64,
}

impl Container {
    /// From the `ContainerProto` record.
    pub fn from_proto(p: &pb::ContainerProto) -> Self {
        Container {
            id: p
                .id
                .as_ref()
                .map(ContainerId::from_proto)
                .unwrap_or_else(|| ContainerId::from_proto(&Default::default())),
            node_id: p.node_id.as_ref().map(NodeId::from_proto).unwrap_or(NodeId { host: String::new(), port: 0 }),
            node_http_address: p.node_http_address().to_string(),
            resource: p.resource.as_ref().map(Resource::from_proto).unwrap_or_default(),
            priority: p.priority.as_ref().map(|x| x.priority()).unwrap_or(0),
            container_token: p.container_token.as_ref().map(crate::token::Token::from_proto),
            allocation_request_id: p.allocation_request_id(),
        }
    }
}

/// A container's status (`ContainerStatus`): for completed containers the
/// exit status and diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerStatus {
    /// The container.
    pub container_id: ContainerId,
    /// Its state.
    pub state: ContainerState,
    /// Exit status: the process exit code, or one of [`exit_status`]'s negative values.
    pub exit_status: i32,
    /// Diagnostics text from YARN (`N/A` when none).
    pub diagnostics: String,
    /// The container's resource, when reported.
    pub capability: Option<Resource>,
}

impl ContainerStatus {
    /// From the `ContainerStatusProto` record (defaults: state `NEW`, exit -1000, diagnostics `N/A`).
    pub fn from_proto(p: &pb::ContainerStatusProto) -> Self {
        ContainerStatus {
            container_id: p
                .container_id
                .as_ref()
                .map(ContainerId::from_proto)
                .unwrap_or_else(|| ContainerId::from_proto(&Default::default())),
            state: ContainerState::from_proto(p.state.unwrap_or(pb::ContainerStateProto::CNew as i32)),
            exit_status: p.exit_status(),
            diagnostics: p.diagnostics().to_string(),
            capability: p.capability.as_ref().map(Resource::from_proto),
        }
    }
}

/// How a NodeManager unpacks a local resource (`LocalResourceType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LocalResourceType {
    /// Unpacked archive (zip, tar.gz, jar).
    Archive,
    /// A plain file.
    File,
}

/// Who may share a localized resource (`LocalResourceVisibility`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LocalResourceVisibility {
    /// All users on the node.
    Public,
    /// All applications of the same user.
    Private,
    /// This application only.
    Application,
}

/// A file a NodeManager downloads into the container's working directory
/// before starting it (`LocalResource`). `size` and `timestamp` must equal
/// the HDFS file's length and modification time, or localization fails
/// ("changed on src filesystem").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResource {
    /// Full URI, e.g. `hdfs://nn:9000/user/alice/.rfy/app/bundle.tar.gz`.
    pub uri: String,
    /// File length, bytes.
    pub size: i64,
    /// Modification time, ms since the epoch.
    pub timestamp: i64,
    /// File or archive.
    pub kind: LocalResourceType,
    /// Visibility (rfy uses `Application`).
    pub visibility: LocalResourceVisibility,
}

/// A URI split into YARN's `URL` record (`scheme`, `host`, `port`, `file`);
/// `port` is -1 when absent, as `URL.fromURI` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlParts {
    /// e.g. `hdfs`.
    pub scheme: String,
    /// Host (empty for `file:` URIs).
    pub host: String,
    /// Port or -1.
    pub port: i32,
    /// The path (with query, if any).
    pub file: String,
}

impl UrlParts {
    /// Splits `scheme://host[:port]/path` (or `scheme:/path`).
    pub fn parse(uri: &str) -> Option<UrlParts> {
        let (scheme, rest) = uri.split_once(':')?;
        if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
            return None;
        }
        let Some(after) = rest.strip_prefix("//") else {
            return Some(UrlParts { scheme: scheme.into(), host: String::new(), port: -1, file: rest.into() });
        };
        let (authority, file) = match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, ""),
        };
        let (host, port_str) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, rest) = v6.split_once(']')?;
            (h, rest.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = match port_str {
            Some(p) if !p.is_empty() => p.parse::<i32>().ok()?,
            _ => -1,
        };
        let host = host.to_string();
        Some(UrlParts { scheme: scheme.into(), host, port, file: file.into() })
    }
}

impl LocalResource {
    /// To the `LocalResourceProto` record. Errors with the URI if it cannot be split.
    pub fn to_proto(&self) -> Result<pb::LocalResourceProto, IdParseError> {
        let u =
            UrlParts::parse(&self.uri).ok_or_else(|| IdParseError { kind: "resource URI", input: self.uri.clone() })?;
        Ok(pb::LocalResourceProto {
            resource: Some(pb::UrlProto {
                scheme: Some(u.scheme),
                host: (!u.host.is_empty()).then_some(u.host),
                port: (u.port >= 0).then_some(u.port),
                file: Some(u.file),
                user_info: None,
            }),
            size: Some(self.size),
            timestamp: Some(self.timestamp),
            r#type: Some(match self.kind {
                LocalResourceType::Archive => pb::LocalResourceTypeProto::Archive,
                LocalResourceType::File => pb::LocalResourceTypeProto::File,
            } as i32),
            visibility: Some(match self.visibility {
                LocalResourceVisibility::Public => pb::LocalResourceVisibilityProto::Public,
                LocalResourceVisibility::Private => pb::LocalResourceVisibilityProto::Private,
                LocalResourceVisibility::Application => pb::LocalResourceVisibilityProto::Application,
            } as i32),
            pattern: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_strings_round_trip() {
        let c: ContainerId = "container_1700000000000_0001_01_000002".parse().unwrap();
        assert_eq!(c.attempt_id.application_id.id, 1);
        assert_eq!(c.attempt_id.attempt_id, 1);
        assert_eq!(c.id, 2);
        assert_eq!(c.to_string(), "container_1700000000000_0001_01_000002");
        assert_eq!(c.attempt_id.to_string(), "appattempt_1700000000000_0001_000001");
        let e: ContainerId = "container_e17_1700000000000_0012_02_000105".parse().unwrap();
        assert_eq!(e.epoch(), 17);
        assert_eq!(e.sequence(), 105);
        assert_eq!(e.to_string(), "container_e17_1700000000000_0012_02_000105");
        let a: ApplicationId = "application_1700000000000_0003".parse().unwrap();
        assert_eq!(a.to_string(), "application_1700000000000_0003");
        let a: ApplicationAttemptId = "appattempt_1700000000000_0003_000002".parse().unwrap();
        assert_eq!(a.attempt_id, 2);
        assert_eq!(ContainerId::from_proto(&e.to_proto()), e);
        let n: NodeId = "nm.example:45454".parse().unwrap();
        assert_eq!(n.to_string(), "nm.example:45454");
    }

    #[test]
    fn url_parts() {
        let u = UrlParts::parse("hdfs://nn.local:9000/user/a/b.tgz").unwrap();
        assert_eq!(
            (u.scheme.as_str(), u.host.as_str(), u.port, u.file.as_str()),
            ("hdfs", "nn.local", 9000, "/user/a/b.tgz")
        );
        let u = UrlParts::parse("hdfs://nn/x").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("nn", -1));
        let u = UrlParts::parse("file:/tmp/x").unwrap();
        assert_eq!((u.host.as_str(), u.file.as_str()), ("", "/tmp/x"));
        assert!(UrlParts::parse("no-scheme").is_none());
        assert!(UrlParts::parse("hdfs://h:notaport/x").is_none());
    }

    #[test]
    fn bad_ids_error() {
        for s in ["", "application_", "application_x_1", "container_1_2_3", "container_e_1_2_3_4", "appattempt_1_2"] {
            assert!(s.parse::<ContainerId>().is_err(), "{s}");
            assert!(s.parse::<ApplicationAttemptId>().is_err(), "{s}");
        }
        assert!("application_1_x".parse::<ApplicationId>().is_err());
        assert!("nohost".parse::<NodeId>().is_err());
    }
}
