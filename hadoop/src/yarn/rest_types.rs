//! The JSON shapes of the ResourceManager REST API (the RM's webapp DAO
//! classes: `ClusterInfo`, `NewApplication`, `ApplicationSubmissionContextInfo`,
//! `ContainerLaunchContextInfo`, `LocalResourceInfo`, `ResourceInfo`,
//! `AppInfo`, `NodeInfo`), apart from the client that sends and reads them
//! ([`super::rest`], which re-exports them).

use serde::{Deserialize, Serialize};

use super::records::{LocalResource, LocalResourceType, LocalResourceVisibility};

/// `GET /ws/v1/cluster/info` → `clusterInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterInfo {
    /// Cluster id (the RM start time).
    #[serde(default)]
    pub id: i64,
    /// RM start time, ms since the epoch.
    #[serde(default)]
    pub started_on: i64,
    /// `STARTED`, `STOPPED`, ...
    #[serde(default)]
    pub state: String,
    /// `ACTIVE`, `STANDBY`, ...
    #[serde(default)]
    pub ha_state: String,
    /// e.g. `3.4.1`.
    #[serde(default)]
    pub resource_manager_version: String,
    /// e.g. `3.4.1`.
    #[serde(default)]
    pub hadoop_version: String,
}

/// A resource in REST form (`ResourceInfo`): `{"memory": MiB, "vCores": n}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ResourceInfo {
    /// Memory, MiB.
    pub memory: i64,
    /// Virtual cores.
    #[serde(rename = "vCores")]
    pub vcores: i32,
}

/// `POST /ws/v1/cluster/apps/new-application` answer (`NewApplication`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NewApplication {
    /// e.g. `application_1700000000000_0001`.
    #[serde(rename = "application-id")]
    pub application_id: String,
    /// Largest container the scheduler grants.
    #[serde(rename = "maximum-resource-capability")]
    pub maximum_resource_capability: ResourceInfo,
}

/// One local resource in REST form (`LocalResourceInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalResourceInfo {
    /// Full URI (`hdfs://nn:9000/path`).
    pub resource: String,
    /// `FILE` or `ARCHIVE`.
    #[serde(rename = "type")]
    pub kind: LocalResourceType,
    /// `APPLICATION`, `PRIVATE` or `PUBLIC`.
    pub visibility: LocalResourceVisibility,
    /// Exact file length, bytes.
    pub size: i64,
    /// Exact modification time, ms since the epoch.
    pub timestamp: i64,
}

impl From<&LocalResource> for LocalResourceInfo {
    fn from(r: &LocalResource) -> Self {
        LocalResourceInfo {
            resource: r.uri.clone(),
            kind: r.kind,
            visibility: r.visibility,
            size: r.size,
            timestamp: r.timestamp,
        }
    }
}

/// A `{"key": K, "value": V}` map entry, the JAXB form of a Java map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry<V> {
    /// The key.
    pub key: String,
    /// The value.
    pub value: V,
}

/// `{"entry": [...]}`, the JAXB wrapper of a Java map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryList<V> {
    /// The entries.
    pub entry: Vec<Entry<V>>,
}

impl<V> Default for EntryList<V> {
    fn default() -> Self {
        EntryList { entry: Vec::new() }
    }
}

/// `{"command": "..."}` (one command) or `{"command": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commands {
    /// The command line(s).
    pub command: OneOrMany,
}

/// A JSON string or an array of strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single string.
    One(String),
    /// Several strings.
    Many(Vec<String>),
}

/// Credentials for the AM container in REST form (`CredentialsInfo`):
/// tokens as [`crate::token::Token::encode_to_url_string`], secrets as base64.
/// The RM adds them to the AM's `HADOOP_TOKEN_FILE_LOCATION` file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsInfo {
    /// Tokens by alias.
    pub tokens: EntryList<String>,
    /// Secret keys by alias.
    pub secrets: EntryList<String>,
}

impl CredentialsInfo {
    /// The REST form of `creds`.
    pub fn from_credentials(creds: &crate::token::Credentials) -> Self {
        use base64::Engine;
        CredentialsInfo {
            tokens: EntryList {
                entry: creds
                    .tokens
                    .iter()
                    .map(|(a, t)| Entry { key: a.clone(), value: t.encode_to_url_string() })
                    .collect(),
            },
            secrets: EntryList {
                entry: creds
                    .secret_keys
                    .iter()
                    .map(|(a, v)| Entry { key: a.clone(), value: base64::engine::general_purpose::STANDARD.encode(v) })
                    .collect(),
            },
        }
    }
}

/// The AM's launch context in REST form (`ContainerLaunchContextInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmContainerSpec {
    /// Files to localize, by link name.
    #[serde(rename = "local-resources")]
    pub local_resources: EntryList<LocalResourceInfo>,
    /// Environment variables.
    pub environment: EntryList<String>,
    /// The command line.
    pub commands: Commands,
    /// Tokens and secrets for the AM (e.g. HDFS delegation tokens on a secure cluster).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub credentials: Option<CredentialsInfo>,
}

/// The submission context (`ApplicationSubmissionContextInfo`) posted to
/// `POST /ws/v1/cluster/apps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationSubmission {
    /// From [`RmRestClient::new_application`].
    #[serde(rename = "application-id")]
    pub application_id: String,
    /// Display name.
    #[serde(rename = "application-name")]
    pub application_name: String,
    /// Application type (rfy uses `rfy`).
    #[serde(rename = "application-type")]
    pub application_type: String,
    /// Queue; `None` lets the RM choose (`default`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// AM attempts before the application fails.
    #[serde(rename = "max-app-attempts")]
    pub max_app_attempts: i32,
    /// Keep TaskManager containers running when the AM restarts.
    #[serde(rename = "keep-containers-across-application-attempts")]
    pub keep_containers_across_application_attempts: bool,
    /// The AM container's size.
    pub resource: ResourceInfo,
    /// The AM container's launch context.
    #[serde(rename = "am-container-spec")]
    pub am_container_spec: AmContainerSpec,
}

impl ApplicationSubmission {
    /// Adds credentials for the AM container.
    pub fn with_credentials(mut self, creds: &crate::token::Credentials) -> Self {
        self.am_container_spec.credentials = Some(CredentialsInfo::from_credentials(creds));
        self
    }

    /// Builds a submission from plain parts; `commands` are sent as one
    /// string when there is exactly one.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        application_id: &str,
        application_name: &str,
        application_type: &str,
        queue: Option<&str>,
        max_app_attempts: i32,
        keep_containers: bool,
        resource: ResourceInfo,
        local_resources: &[(String, LocalResource)],
        environment: &[(String, String)],
        commands: &[String],
    ) -> Self {
        ApplicationSubmission {
            application_id: application_id.to_string(),
            application_name: application_name.to_string(),
            application_type: application_type.to_string(),
            queue: queue.map(str::to_string),
            max_app_attempts,
            keep_containers_across_application_attempts: keep_containers,
            resource,
            am_container_spec: AmContainerSpec {
                local_resources: EntryList {
                    entry: local_resources
                        .iter()
                        .map(|(k, v)| Entry { key: k.clone(), value: LocalResourceInfo::from(v) })
                        .collect(),
                },
                environment: EntryList {
                    entry: environment.iter().map(|(k, v)| Entry { key: k.clone(), value: v.clone() }).collect(),
                },
                commands: Commands {
                    command: if commands.len() == 1 {
                        OneOrMany::One(commands[0].clone())
                    } else {
                        OneOrMany::Many(commands.to_vec())
                    },
                },
                credentials: None,
            },
        }
    }
}

/// An application report (`AppInfo`, `GET /ws/v1/cluster/apps/{id}` → `app`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppReport {
    /// Application id.
    pub id: String,
    /// Owner.
    #[serde(default)]
    pub user: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Queue.
    #[serde(default)]
    pub queue: String,
    /// `NEW`, `NEW_SAVING`, `SUBMITTED`, `ACCEPTED`, `RUNNING`, `FINISHED`, `FAILED`, `KILLED`.
    pub state: String,
    /// `UNDEFINED`, `SUCCEEDED`, `FAILED`, `KILLED`.
    #[serde(default)]
    pub final_status: String,
    /// Progress, percent (0–100).
    #[serde(default)]
    pub progress: f64,
    /// The proxied tracking URL (`http://<rm>/proxy/<id>/`).
    #[serde(default)]
    pub tracking_url: Option<String>,
    /// `ApplicationMaster` or `History`.
    #[serde(default, rename = "trackingUI")]
    pub tracking_ui: Option<String>,
    /// YARN's diagnostics.
    #[serde(default)]
    pub diagnostics: String,
    /// Application type.
    #[serde(default)]
    pub application_type: String,
    /// Log URL of the AM container.
    #[serde(default)]
    pub am_container_logs: Option<String>,
    /// `host:port` of the AM's NodeManager web server.
    #[serde(default)]
    pub am_host_http_address: Option<String>,
    /// `host:port` the AM registered (`registerApplicationMaster(host,
    /// rpc_port, ..)`); port 0 when it registered none. rfy's AM registers
    /// its REST port here, as Flink's does, so that clients can reach it for
    /// requests the RM's web proxy refuses (it forwards GET only).
    #[serde(default, rename = "amRPCAddress")]
    pub am_rpc_address: Option<String>,
    /// Start time, ms since the epoch.
    #[serde(default)]
    pub started_time: i64,
    /// Finish time, ms since the epoch (0 while running).
    #[serde(default)]
    pub finished_time: i64,
    /// Memory allocated now, MiB.
    #[serde(default, rename = "allocatedMB")]
    pub allocated_mb: i64,
    /// Vcores allocated now.
    #[serde(default, rename = "allocatedVCores")]
    pub allocated_vcores: i64,
    /// Containers running now.
    #[serde(default)]
    pub running_containers: i64,
    /// Log aggregation (`LogAggregationStatus`): `DISABLED`, `NOT_START`,
    /// `RUNNING`, `RUNNING_WITH_FAILURE`, `SUCCEEDED`, `FAILED`, `TIME_OUT`.
    #[serde(default)]
    pub log_aggregation_status: Option<String>,
}

impl AppReport {
    /// Whether the application reached a final state (`FINISHED`, `FAILED`, `KILLED`).
    pub fn is_final(&self) -> bool {
        matches!(self.state.as_str(), "FINISHED" | "FAILED" | "KILLED")
    }
}

/// A NodeManager as the RM sees it (`NodeInfo`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    /// Node id `host:port`.
    pub id: String,
    /// `RUNNING`, `UNHEALTHY`, `LOST`, ...
    #[serde(default)]
    pub state: String,
    /// Rack.
    #[serde(default)]
    pub rack: String,
    /// Host name.
    #[serde(default)]
    pub node_host_name: String,
    /// `host:port` of the NM web server.
    #[serde(default, rename = "nodeHTTPAddress")]
    pub node_http_address: String,
    /// Health report text.
    #[serde(default)]
    pub health_report: String,
    /// Containers running.
    #[serde(default)]
    pub num_containers: i64,
    /// Memory used, MiB.
    #[serde(default, rename = "usedMemoryMB")]
    pub used_memory_mb: i64,
    /// Memory available, MiB.
    #[serde(default, rename = "availMemoryMB")]
    pub avail_memory_mb: i64,
    /// Vcores used.
    #[serde(default)]
    pub used_virtual_cores: i64,
    /// Vcores available.
    #[serde(default)]
    pub available_virtual_cores: i64,
}
