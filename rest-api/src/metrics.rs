//! Metric routes in Flink's metric query shape: `GET .../metrics` lists the
//! metric ids (`[{"id"}]`), `?get=a,b` answers their values as text
//! (`[{"id", "value"}]`, Flink's `MetricCollectionResponseBody`), and
//! `GET /jobs/metrics?get=a` aggregates over jobs ([`AggregatedMetric`]).
//! Also the per-vertex health routes: back pressure
//! ([`JobVertexBackPressureInfo`]) and watermarks (a list of [`Metric`]).

use serde::{Deserialize, Serialize};

/// Flink's `Metric`: an id, with its value when asked for (`?get=`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metric {
    /// Metric id (`numRestarts`, `0.numRecordsIn`, ...).
    pub id: String,
    /// The value as text; absent in a listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Flink's `AggregatedMetric`: a metric over several jobs (the figures absent in a listing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AggregatedMetric {
    /// Metric id.
    pub id: String,
    /// Smallest value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg: Option<f64>,
    /// Sum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sum: Option<f64>,
}

/// Flink's `JobVertexBackPressureInfo` (`GET /jobs/:id/vertices/:vid/backpressure`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobVertexBackPressureInfo {
    /// `ok` (measured) or `deprecated`.
    pub status: String,
    /// `ok`, `low` or `high`: the worst subtask's.
    #[serde(rename = "backpressureLevel")]
    pub backpressure_level: String,
    /// The same level under Flink's deprecated name (`DEPRECATED_FIELD_NAME_BACKPRESSURE_LEVEL`).
    #[serde(rename = "backpressure-level")]
    pub deprecated_backpressure_level: String,
    /// When measured, ms.
    #[serde(rename = "end-timestamp")]
    pub end_timestamp: u64,
    /// One entry per subtask.
    pub subtasks: Vec<SubtaskBackPressureInfo>,
}

/// Flink's `JobVertexBackPressureInfo.SubtaskBackPressureInfo`; ratios 0.0..=1.0 of the last second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubtaskBackPressureInfo {
    /// Subtask index.
    pub subtask: u32,
    /// Execution attempt.
    #[serde(rename = "attempt-number")]
    pub attempt_number: u32,
    /// `ok`, `low` or `high`.
    #[serde(rename = "backpressureLevel")]
    pub backpressure_level: String,
    /// The same level under Flink's deprecated name.
    #[serde(rename = "backpressure-level")]
    pub deprecated_backpressure_level: String,
    /// Back-pressured share.
    pub ratio: f64,
    /// Idle share.
    #[serde(rename = "idleRatio")]
    pub idle_ratio: f64,
    /// Busy share.
    #[serde(rename = "busyRatio")]
    pub busy_ratio: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metric_listings_omit_values_and_queries_carry_them() {
        let list: Vec<Metric> = serde_json::from_value(json!([{"id": "uptime"}])).unwrap();
        assert_eq!(list[0].value, None);
        assert_eq!(serde_json::to_value(&list).unwrap(), json!([{"id": "uptime"}]));
        let got = vec![Metric { id: "numRestarts".into(), value: Some("0".into()) }];
        assert_eq!(serde_json::to_value(&got).unwrap(), json!([{"id": "numRestarts", "value": "0"}]));
        let agg: AggregatedMetric =
            serde_json::from_value(json!({"id": "uptime", "min": 1.0, "max": 3.0, "avg": 2.0, "sum": 4.0})).unwrap();
        assert_eq!(agg.sum, Some(4.0));
    }

    #[test]
    fn back_pressure_round_trips() {
        let sample = json!({"status": "ok", "backpressureLevel": "low", "backpressure-level": "low",
            "end-timestamp": 5, "subtasks": [{"subtask": 0, "attempt-number": 0, "backpressureLevel": "low",
            "backpressure-level": "low", "ratio": 0.2, "idleRatio": 0.3, "busyRatio": 0.5}]});
        let v: JobVertexBackPressureInfo = serde_json::from_value(sample.clone()).unwrap();
        assert_eq!(v.subtasks[0].idle_ratio, 0.3);
        assert_eq!(serde_json::to_value(&v).unwrap(), sample);
    }
}
