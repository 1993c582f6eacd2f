//! Cluster-wide routes: `GET /config` ([`DashboardConfiguration`]),
//! `GET /overview` ([`ClusterOverviewWithVersion`]) and `GET /jobmanager/config`
//! (Flink's `ClusterConfigurationInfo`: a list of [`ConfigurationInfoEntry`]).

use serde::{Deserialize, Serialize};

/// Flink's `DashboardConfiguration`, plus rfy's version and heartbeat timeout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DashboardConfiguration {
    /// How often the web UI refreshes, ms.
    pub refresh_interval: u64,
    /// Time zone name.
    pub timezone_name: String,
    /// Time zone offset, ms.
    pub timezone_offset: i64,
    /// rfy's version (where Flink reports its own).
    pub flink_version: String,
    /// `rfy <version>`.
    pub flink_revision: String,
    /// What the web UI may do.
    pub features: DashboardFeatures,
    /// rfy's version.
    pub rfy_version: String,
    /// `heartbeat.timeout`, ms.
    pub heartbeat_timeout_ms: u64,
}

/// Flink's `DashboardConfiguration.Features`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DashboardFeatures {
    /// JAR upload (rfy: no).
    pub web_submit: bool,
    /// Cancel from the web UI.
    pub web_cancel: bool,
    /// Rescale from the web UI (rfy: no).
    pub web_rescale: bool,
    /// History server (rfy: no).
    pub web_history: bool,
}

/// Flink's `ClusterOverviewWithVersion`, plus rfy's version, uptime and Prometheus port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ClusterOverviewWithVersion {
    /// Registered TaskManagers.
    pub taskmanagers: u32,
    /// Blocked TaskManagers (rfy: 0).
    pub taskmanagers_blocked: u32,
    /// Slots of the registered TaskManagers.
    pub slots_total: u32,
    /// Free slots.
    pub slots_available: u32,
    /// Free slots on blocked TaskManagers (rfy: 0).
    pub slots_free_and_blocked: u32,
    /// Jobs not in a terminal state.
    pub jobs_running: u32,
    /// FINISHED jobs.
    pub jobs_finished: u32,
    /// CANCELED jobs.
    pub jobs_cancelled: u32,
    /// FAILED jobs.
    pub jobs_failed: u32,
    /// rfy's version (where Flink reports its own).
    pub flink_version: String,
    /// `rfy <version>`.
    pub flink_commit: String,
    /// rfy's version.
    pub rfy_version: String,
    /// Since the JobManager started, ms.
    pub uptime_ms: u64,
    /// The JobManager's Prometheus reporter port, if it runs.
    pub prometheus_port: Option<u16>,
}

/// Flink's `ClusterConfigurationInfoEntry`: one option of `GET /jobmanager/config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigurationInfoEntry {
    /// Option key (`taskmanager.numberOfTaskSlots`, ...).
    pub key: String,
    /// Its value as text.
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cluster_bodies_round_trip() {
        let sample = json!({"taskmanagers": 2, "taskmanagers-blocked": 0, "slots-total": 4, "slots-available": 1,
            "slots-free-and-blocked": 0, "jobs-running": 1, "jobs-finished": 2, "jobs-cancelled": 0, "jobs-failed": 1,
            "flink-version": "0.1.0", "flink-commit": "rfy 0.1.0", "rfy-version": "0.1.0", "uptime-ms": 10,
            "prometheus-port": null});
        let v: ClusterOverviewWithVersion = serde_json::from_value(sample.clone()).unwrap();
        assert_eq!((v.taskmanagers, v.slots_available, v.jobs_failed), (2, 1, 1));
        assert_eq!(serde_json::to_value(&v).unwrap(), sample);
        let sample = json!({"refresh-interval": 3000, "timezone-name": "UTC", "timezone-offset": 0,
            "flink-version": "0.1.0", "flink-revision": "rfy 0.1.0", "features": {"web-submit": false,
            "web-cancel": true, "web-rescale": false, "web-history": false}, "rfy-version": "0.1.0",
            "heartbeat-timeout-ms": 50000});
        let v: DashboardConfiguration = serde_json::from_value(sample.clone()).unwrap();
        assert!(v.features.web_cancel);
        assert_eq!(serde_json::to_value(&v).unwrap(), sample);
        let list: Vec<ConfigurationInfoEntry> = serde_json::from_value(json!([{"key": "a", "value": "1"}])).unwrap();
        assert_eq!(list[0].value, "1");
    }
}
