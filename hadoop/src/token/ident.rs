//! Decoding of YARN token identifiers, for logging and for finding which
//! application attempt / node a token belongs to.
//!
//! The identifier bytes of these tokens are plain (not length-delimited)
//! protobuf messages, as written by YARN's `AMRMTokenIdentifier#write`,
//! `NMTokenIdentifier#write` and `ContainerTokenIdentifier#write`.

use prost::Message;

use super::{Token, TokenError};
use crate::proto::yarn::{AmrmTokenIdentifierProto, ContainerTokenIdentifierProto, NmTokenIdentifierProto};
use crate::yarn::records::{ApplicationAttemptId, ContainerId, NodeId};

/// The decoded identifier of a `YARN_AM_RM_TOKEN` (`AMRMTokenIdentifier`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmRmTokenIdentifier {
    /// The application attempt the token authenticates.
    pub attempt_id: Option<ApplicationAttemptId>,
    /// The RM master key id that signed it (rolls over time).
    pub key_id: i32,
}

/// The decoded identifier of an `NMToken` (`NMTokenIdentifier`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NmTokenIdentifier {
    /// The application attempt the token was issued to.
    pub attempt_id: Option<ApplicationAttemptId>,
    /// The NodeManager it is valid for.
    pub node_id: Option<NodeId>,
    /// The user who submitted the application.
    pub app_submitter: String,
    /// The master key id that signed it.
    pub key_id: i32,
}

/// The decoded identifier of a `ContainerToken` (`ContainerTokenIdentifier`), main fields only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerTokenIdentifier {
    /// The container.
    pub container_id: Option<ContainerId>,
    /// `host:port` of the NodeManager that must run it.
    pub nm_host_addr: String,
    /// The user who submitted the application.
    pub app_submitter: String,
    /// Expiry time, ms since the epoch.
    pub expiry_time_ms: i64,
}

fn decode_err(what: &'static str) -> impl FnOnce(prost::DecodeError) -> TokenError {
    move |source| TokenError::Protobuf { what, source }
}

impl AmRmTokenIdentifier {
    /// Decodes the identifier bytes of a `YARN_AM_RM_TOKEN`.
    pub fn decode(identifier: &[u8]) -> Result<Self, TokenError> {
        let p = AmrmTokenIdentifierProto::decode(identifier).map_err(decode_err("AMRMTokenIdentifierProto"))?;
        Ok(AmRmTokenIdentifier {
            attempt_id: p.app_attempt_id.as_ref().map(ApplicationAttemptId::from_proto),
            key_id: p.key_id(),
        })
    }
}

impl NmTokenIdentifier {
    /// Decodes the identifier bytes of an `NMToken`.
    pub fn decode(identifier: &[u8]) -> Result<Self, TokenError> {
        let p = NmTokenIdentifierProto::decode(identifier).map_err(decode_err("NMTokenIdentifierProto"))?;
        Ok(NmTokenIdentifier {
            attempt_id: p.app_attempt_id.as_ref().map(ApplicationAttemptId::from_proto),
            node_id: p.node_id.as_ref().map(NodeId::from_proto),
            app_submitter: p.app_submitter().to_string(),
            key_id: p.key_id(),
        })
    }
}

impl ContainerTokenIdentifier {
    /// Decodes the identifier bytes of a `ContainerToken`.
    pub fn decode(identifier: &[u8]) -> Result<Self, TokenError> {
        let p =
            ContainerTokenIdentifierProto::decode(identifier).map_err(decode_err("ContainerTokenIdentifierProto"))?;
        Ok(ContainerTokenIdentifier {
            container_id: p.container_id.as_ref().map(ContainerId::from_proto),
            nm_host_addr: p.nm_host_addr().to_string(),
            app_submitter: p.app_submitter().to_string(),
            expiry_time_ms: p.expiry_time_stamp(),
        })
    }
}

/// A one-line description of a token for logs: kind, service and, for the
/// YARN kinds, the decoded identifier. Never includes the password.
pub fn describe(token: &Token) -> String {
    let detail = match token.kind.as_str() {
        super::KIND_AM_RM_TOKEN => AmRmTokenIdentifier::decode(&token.identifier).map(|i| format!("{i:?}")).ok(),
        super::KIND_NM_TOKEN => NmTokenIdentifier::decode(&token.identifier).map(|i| format!("{i:?}")).ok(),
        super::KIND_CONTAINER_TOKEN => {
            ContainerTokenIdentifier::decode(&token.identifier).map(|i| format!("{i:?}")).ok()
        }
        _ => None,
    };
    match detail {
        Some(d) => format!("{} for {} {}", token.kind, token.service, d),
        None => format!("{} for {} ({} identifier bytes)", token.kind, token.service, token.identifier.len()),
    }
}
