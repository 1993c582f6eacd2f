//! Checkpoint settings of one job, from its configuration.

use std::time::Duration;

use rfy_conf::{options, Configuration};

/// What the checkpoint coordinator of a job is told.
#[derive(Debug, Clone)]
pub(crate) struct CheckpointSettings {
    /// `execution.checkpointing.interval`; `None`: no periodic checkpoints.
    pub(crate) interval: Option<Duration>,
    /// `execution.checkpointing.mode` is EXACTLY_ONCE.
    pub(crate) exactly_once: bool,
    /// `execution.checkpointing.timeout`.
    pub(crate) timeout: Duration,
    /// `execution.checkpointing.max-concurrent-checkpoints` (≥ 1).
    pub(crate) max_concurrent: usize,
    /// `execution.checkpointing.min-pause`.
    pub(crate) min_pause: Duration,
    /// `state.checkpoints.dir` as a local path.
    pub(crate) checkpoints_dir: Option<String>,
    /// `state.savepoints.dir` as a local path.
    pub(crate) savepoints_dir: Option<String>,
    /// `state.checkpoints.num-retained` (≥ 1).
    pub(crate) num_retained: usize,
    /// `execution.savepoint.path`: restore the first attempt from here.
    pub(crate) restore_path: Option<String>,
    /// `execution.checkpointing.checkpoints-after-tasks-finish`: ended
    /// sources wait for a final checkpoint (only with periodic checkpoints,
    /// see [`CheckpointSettings::final_checkpoint`]).
    pub(crate) checkpoints_after_tasks_finish: bool,
}

/// A checkpoint option that cannot work, naming the option.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointSettingsError {
    /// `hdfs://` without a NameNode.
    #[error("{key} = {uri}: name the NameNode, as hdfs://host:port/path")]
    NoNameNode {
        /// The option (or REST field).
        key: String,
        /// The value as given.
        uri: String,
    },
    /// A scheme checkpoint storage does not support.
    #[error("{key} = {uri}: the '{scheme}' scheme is not supported for checkpoint storage; use a local path, file:// or hdfs://")]
    UnsupportedScheme {
        /// The option (or REST field).
        key: String,
        /// The value as given.
        uri: String,
        /// Its scheme.
        scheme: String,
    },
    /// Periodic checkpoints without a place to write them.
    #[error("execution.checkpointing.interval is set but state.checkpoints.dir is not: say where checkpoints go")]
    NoCheckpointDir,
}

/// A checkpoint storage URI, checked: a local path, a `file://` URI (made a
/// plain path), `hdfs://host:port/path` or `hdfs:///path` (the NameNode of
/// `fs.defaultFS`); no trailing slash.
///
/// Errors: another scheme, naming the option.
pub(crate) fn storage_uri(uri: &str, key: &str) -> Result<String, CheckpointSettingsError> {
    let uri = uri.trim();
    // Check the scheme before trimming slashes: "hdfs://" must not become the local path "hdfs:".
    if uri.strip_prefix("hdfs://").is_some_and(|rest| rest.trim_start_matches('/').is_empty()) {
        return Err(CheckpointSettingsError::NoNameNode { key: key.to_string(), uri: uri.to_string() });
    }
    let uri = uri.trim_end_matches('/');
    if let Some(p) = uri.strip_prefix("file://") {
        return Ok(p.to_string());
    }
    if uri.starts_with("hdfs://") {
        return Ok(uri.to_string());
    }
    if let Some((scheme, _)) = uri.split_once("://") {
        return Err(CheckpointSettingsError::UnsupportedScheme {
            key: key.to_string(),
            uri: uri.to_string(),
            scheme: scheme.to_string(),
        });
    }
    Ok(uri.to_string())
}

impl CheckpointSettings {
    /// Reads the settings.
    ///
    /// Errors: an unsupported storage URI, or checkpointing on without
    /// `state.checkpoints.dir`; the text names the option.
    pub(crate) fn from_conf(conf: &Configuration) -> Result<Self, CheckpointSettingsError> {
        let dir = |key: &'static rfy_conf::ConfigOption<String>| -> Result<Option<String>, CheckpointSettingsError> {
            conf.get_optional(key).filter(|s| !s.is_empty()).map(|s| storage_uri(&s, key.key)).transpose()
        };
        let s = CheckpointSettings {
            interval: conf.get_optional(&options::EXECUTION_CHECKPOINTING_INTERVAL).filter(|d| !d.is_zero()),
            exactly_once: !conf.get(&options::EXECUTION_CHECKPOINTING_MODE).eq_ignore_ascii_case("AT_LEAST_ONCE"),
            timeout: conf.get(&options::EXECUTION_CHECKPOINTING_TIMEOUT),
            max_concurrent: conf.get(&options::EXECUTION_CHECKPOINTING_MAX_CONCURRENT_CHECKPOINTS).max(1) as usize,
            min_pause: conf.get(&options::EXECUTION_CHECKPOINTING_MIN_PAUSE),
            checkpoints_dir: dir(&options::STATE_CHECKPOINTS_DIR)?,
            savepoints_dir: dir(&options::STATE_SAVEPOINTS_DIR)?,
            num_retained: conf.get(&options::STATE_CHECKPOINTS_NUM_RETAINED).max(1) as usize,
            restore_path: dir(&options::EXECUTION_SAVEPOINT_PATH)?,
            checkpoints_after_tasks_finish: conf.get(&options::EXECUTION_CHECKPOINTING_CHECKPOINTS_AFTER_TASKS_FINISH),
        };
        if s.interval.is_some() && s.checkpoints_dir.is_none() {
            return Err(CheckpointSettingsError::NoCheckpointDir);
        }
        Ok(s)
    }

    /// True if tasks whose input ended wait for a final checkpoint before
    /// they finish: periodic checkpoints are on (something will trigger it)
    /// and `execution.checkpointing.checkpoints-after-tasks-finish` is true.
    pub(crate) fn final_checkpoint(&self) -> bool {
        self.interval.is_some() && self.checkpoints_after_tasks_finish
    }

    /// Where tasks write snapshot files before the JobMaster completes them:
    /// the checkpoint directory, else the savepoint directory.
    pub(crate) fn staging_base(&self) -> Option<&String> {
        self.checkpoints_dir.as_ref().or(self.savepoints_dir.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::storage_uri;

    #[test]
    fn a_bare_hdfs_scheme_is_refused_not_taken_for_a_local_path() {
        assert!(storage_uri("hdfs://", "k").unwrap_err().to_string().contains("name the NameNode"));
        assert!(storage_uri("hdfs:///", "k").is_err());
        assert_eq!(storage_uri("hdfs://nn:8020/sp/", "k").unwrap(), "hdfs://nn:8020/sp");
        assert_eq!(storage_uri("file:///tmp/sp/", "k").unwrap(), "/tmp/sp");
    }
}
