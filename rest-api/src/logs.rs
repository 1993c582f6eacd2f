//! Log routes: `GET /jobmanager/logs` and `/taskmanagers/:id/logs` list a
//! process's log files ([`LogListInfo`]); the files themselves are `text/plain`.

use serde::{Deserialize, Serialize};

/// Flink's `LogListInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogListInfo {
    /// The log files.
    pub logs: Vec<LogInfo>,
}

/// Flink's `LogInfo`: one log file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogInfo {
    /// File name.
    pub name: String,
    /// Size, bytes.
    pub size: u64,
    /// Last modified, ms since epoch.
    pub mtime: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_list_round_trips() {
        let text = r#"{"logs":[{"name":"jobmanager.log","size":10,"mtime":5}]}"#;
        let v: LogListInfo = serde_json::from_str(text).unwrap();
        assert_eq!(v.logs[0].name, "jobmanager.log");
        assert_eq!(serde_json::to_string(&v).unwrap(), text);
    }
}
