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
        ApplicationId {
            cluster_timestamp: p.cluster_timestamp(),
            id: p.id(),
        }
    }
    /// To the protobuf record.
    pub fn to_proto(&self) -> pb::ApplicationIdProto {
        pb::ApplicationIdProto {
            id: Some(self.id),
            cluster_timestamp: Some(self.cluster_timestamp),
        }
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
        let err = || IdParseError {
            kind: "application",
            input: s.to_string(),
        };
        let p = split_nums(s, "application_").ok_or_else(err)?;
        if p.len() != 2 {
            return Err(err());
        }
        Ok(ApplicationId {
            cluster_timestamp: p[0].parse().map_err(|_| err())?,
            id: p[1].parse().map_err(|_| err())?,
        })
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
                .unwrap_or(ApplicationId {
                    cluster_timestamp: 0,
                    id: 0,
                }),
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
        let err = || IdParseError {
            kind: "appattempt",
            input: s.to_string(),
        };
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
            (None, Some(app)) => ApplicationAttemptId {
                application_id: ApplicationId::from_proto(app),
                attempt_id: 0,
            },
            (None, None) => ApplicationAttemptId::from_proto(&Default::default()),
        };
        ContainerId {
            attempt_id,
            id: p.id(),
        }
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
        write!(
            f,
            "{}_{:04}_{:02}_{:06}",
            app.cluster_timestamp,
            app.id,
            self.attempt_id.attempt_id,
            self.sequence()
        )
    }
}

impl FromStr for ContainerId {
    type Err = IdParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || IdParseError {
            kind: "container",
            input: s.to_string(),
        };
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
        NodeId {
            host: p.host().to_string(),
            port: p.port(),
        }
    }
    /// To the protobuf record.
    pub fn to_proto(&self) -> pb::NodeIdProto {
        pb::NodeIdProto {
            host: Some(self.host.clone()),
            port: Some(self.port),
        }
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
        let err = || IdParseError {
            kind: "node",
            input: s.to_string(),
        };
        let (h, p) = s.rsplit_once(':').ok_or_else(err)?;
        if h.is_empty() {
            return Err(err());
        }
        Ok(NodeId {
            host: h.to_string(),
            port: p.parse().map_err(|_| err())?,
        })
    }
}

impl Resource {
    /// A resource of `memory_mb` MiB and `vcores` cores.
    pub fn new(memory_mb: i64, vcores: i32) -> Self {
        Resource { memory_mb, vcores }
    }
    /// From the protobuf record (missing fields read as 0).
    pub fn from_proto(p: &pb::ResourceProto) -> Self {
        Resource {
            memory_mb: p.memory(),
            vcores: p.virtual_cores(),
        }
    }
    /// To the protobuf record.
    pub fn to_proto(&self) -> pb::ResourceProto {
        pb::ResourceProto {
            memory: Some(self.memory_mb),
            virtual_cores: Some(self.vcores),
        }
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
        assert_eq!(
            c.attempt_id.to_string(),
            "appattempt_1700000000000_0001_000001"
        );
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
    fn bad_ids_error() {
        for s in ["", "application_", "application_x_1", "container_1_2_3", "container_e_1_2_3_4", "appattempt_1_2"] {
            assert!(s.parse::<ContainerId>().is_err(), "{s}");
            assert!(s.parse::<ApplicationAttemptId>().is_err(), "{s}");
        }
        assert!("application_1_x".parse::<ApplicationId>().is_err());
        assert!("nohost".parse::<NodeId>().is_err());
    }
}
