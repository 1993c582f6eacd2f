//! The application bundle: what the client uploads to the staging directory
//! (`/user/<user>/.rfy/<appId>/`) and how the AM and the TaskManager
//! containers find it in their working directories.
//!
//! | file | in the AM | in a TaskManager |
//! |---|---|---|
//! | [`AM_BINARY`] (`rfy-am`) | yes | no |
//! | [`WORKER_BINARY`] (`rfy-worker`) | no | yes |
//! | [`CONF_FILE`] (`rfy-conf.json`, the rfy configuration as a JSON map) | yes | yes |
//! | [`MANIFEST_FILE`] (`rfy-bundle.json`, a [`Manifest`]) | yes | no |
//! | [`JOB_GRAPH_FILE`] (`rfy-jobgraph.json`, per-job mode only: the planned JobGraph) | yes | no |
//! | `core-site.xml`, `hdfs-site.xml`, `yarn-site.xml` (the client's Hadoop configuration) | yes | yes |
//!
//! Containers get `HADOOP_CONF_DIR=$PWD`, so the shipped Hadoop XMLs are
//! their Hadoop configuration (the AM is not told the scheduler address
//! otherwise).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rfy_hadoop::yarn::rest::LocalResourceInfo;
use rfy_hadoop::yarn::LocalResource;
use serde::{Deserialize, Serialize};

/// Link name of the ApplicationMaster binary.
pub const AM_BINARY: &str = "rfy-am";
/// Link name of the TaskManager binary.
pub const WORKER_BINARY: &str = "rfy-worker";
/// Link name of the rfy configuration (`Configuration::to_map` as JSON).
pub const CONF_FILE: &str = "rfy-conf.json";
/// Link name of the [`Manifest`].
pub const MANIFEST_FILE: &str = "rfy-bundle.json";
/// Link name of the JobGraph a per-job cluster runs (JSON; AM only).
pub const JOB_GRAPH_FILE: &str = "rfy-jobgraph.json";
/// Hadoop configuration files shipped when the client has them.
pub const HADOOP_XMLS: &[&str] = &["core-site.xml", "hdfs-site.xml", "yarn-site.xml"];
/// Version of the manifest layout.
pub const MANIFEST_VERSION: u32 = 1;
/// Environment variable naming the log level filter in containers (`RUST_LOG` syntax).
pub const LOG_ENV: &str = "RUST_LOG";

/// The AM's log file in the container's log directory (its stderr).
pub const AM_LOG: &str = "jobmanager.log";
/// The AM's stdout file in the container's log directory.
pub const AM_OUT: &str = "jobmanager.out";
/// A TaskManager's log file in its container's log directory (its stderr).
pub const TM_LOG: &str = "taskmanager.log";
/// A TaskManager's stdout file in its container's log directory.
pub const TM_OUT: &str = "taskmanager.out";

/// The command line that starts the AM in its container (`<LOG_DIR>` is
/// expanded by the NodeManager).
pub fn am_command() -> String {
    format!("./{AM_BINARY} 1><LOG_DIR>/{AM_OUT} 2><LOG_DIR>/{AM_LOG}")
}

/// The command line that starts a TaskManager with `slots` slots,
/// registering at the JobManager RPC address `jobmanager`.
pub fn worker_command(jobmanager: &str, slots: u32) -> String {
    format!("./{WORKER_BINARY} --jobmanager {jobmanager} --slots {slots} 1><LOG_DIR>/{TM_OUT} 2><LOG_DIR>/{TM_LOG}")
}

/// Environment shared by the AM and TaskManager containers: the shipped
/// Hadoop configuration, the Hadoop user, the log filter.
pub fn container_environment(user: &str, log_filter: &str) -> Vec<(String, String)> {
    vec![
        ("HADOOP_CONF_DIR".into(), "$PWD".into()),
        ("HADOOP_USER_NAME".into(), user.into()),
        (LOG_ENV.into(), log_filter.into()),
        ("RUST_BACKTRACE".into(), "1".into()),
    ]
}

/// One uploaded file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleFile {
    /// Link name in the container's working directory.
    pub name: String,
    /// Where it is in HDFS, with its exact size and modification time.
    pub resource: LocalResourceInfo,
}

impl BundleFile {
    /// As a YARN local resource.
    pub fn local_resource(&self) -> LocalResource {
        LocalResource {
            uri: self.resource.resource.clone(),
            size: self.resource.size,
            timestamp: self.resource.timestamp,
            kind: self.resource.kind,
            visibility: self.resource.visibility,
        }
    }
}

/// Which of Flink's deployment modes the AM runs (the manifest's `mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClusterMode {
    /// The job's `main` runs in the AM (`rfy run -m yarn-application`).
    #[default]
    Application,
    /// The AM runs the JobGraph the client planned ([`JOB_GRAPH_FILE`]), then ends (`-m yarn-per-job`).
    PerJob,
    /// The AM runs a JobManager with no job; clients submit jobs to it (`rfy yarn-session start`).
    Session,
}

/// What the client tells the AM (`rfy-bundle.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_VERSION`].
    pub version: u32,
    /// The YARN application id.
    pub application_id: String,
    /// The submitting user.
    pub user: String,
    /// The staging directory in HDFS (absolute path, no scheme); removed at the end.
    pub staging_dir: String,
    /// The built-in job's name (application mode: its `main` runs in the AM).
    pub job: String,
    /// The job's arguments.
    pub args: Vec<String>,
    /// Log filter for the TaskManagers (`RUST_LOG` syntax).
    pub log_filter: String,
    /// Every uploaded file; the AM gives TaskManagers those they need.
    pub files: Vec<BundleFile>,
    /// The deployment mode (absent in older manifests: application mode).
    #[serde(default)]
    pub mode: ClusterMode,
}

impl Manifest {
    /// The files a TaskManager container needs (worker binary, configuration, Hadoop XMLs).
    pub fn worker_files(&self) -> Vec<(String, LocalResource)> {
        self.files
            .iter()
            .filter(|f| f.name != AM_BINARY && f.name != MANIFEST_FILE && f.name != JOB_GRAPH_FILE)
            .map(|f| (f.name.clone(), f.local_resource()))
            .collect()
    }

    /// Reads a manifest file.
    ///
    /// Errors: [`BundleError::Read`], or as [`Manifest::from_bytes`].
    pub fn read(path: &Path) -> Result<Manifest, BundleError> {
        Self::from_bytes(&read_file(path)?, path)
    }

    /// Parses a manifest's bytes; `path` only names the file in errors.
    ///
    /// Errors: [`BundleError::Parse`] (not JSON or UTF-8, not a manifest) or
    /// [`BundleError::Version`] (another manifest version).
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Manifest, BundleError> {
        let m: Manifest = parse_json(bytes, path, "manifest")?;
        if m.version != MANIFEST_VERSION {
            return Err(BundleError::Version { path: path.to_path_buf(), found: m.version });
        }
        Ok(m)
    }
}

/// Why a bundle file in the AM's working directory could not be used; each
/// names the file.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not the JSON document it should be.
    #[error("bad {what} {}: {source}", path.display())]
    Parse {
        /// What it should be: `manifest`, `configuration`, `JobGraph`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The manifest is of another version than this AM reads.
    #[error("{} has manifest version {found} but this rfy-am reads {MANIFEST_VERSION}: client and AM differ", path.display())]
    Version {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
    },
}

fn read_file(path: &Path) -> Result<Vec<u8>, BundleError> {
    std::fs::read(path).map_err(|source| BundleError::Read { path: path.to_path_buf(), source })
}

/// Parses `bytes` of file `path` as JSON of `T` (`what` names it in errors).
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    path: &Path,
    what: &'static str,
) -> Result<T, BundleError> {
    serde_json::from_slice(bytes).map_err(|source| BundleError::Parse { what, path: path.to_path_buf(), source })
}

/// Reads the rfy configuration map ([`CONF_FILE`]).
///
/// Errors: [`BundleError::Read`], or [`BundleError::Parse`]: not a JSON string map.
pub fn read_conf_map(path: &Path) -> Result<BTreeMap<String, String>, BundleError> {
    parse_json(&read_file(path)?, path, "configuration")
}

/// Reads the JobGraph a per-job client shipped ([`JOB_GRAPH_FILE`]).
///
/// Errors: [`BundleError::Read`], or [`BundleError::Parse`]: not a JobGraph.
pub fn read_job_graph(path: &Path) -> Result<rfy_runtime::JobGraph, BundleError> {
    parse_json(&read_file(path)?, path, "JobGraph")
}

/// Megabytes for a YARN resource from a byte count (rounded up, at least 1).
pub fn mebibytes(bytes: u64) -> i64 {
    bytes.div_ceil(1 << 20).max(1) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rfy_hadoop::yarn::{LocalResourceType, LocalResourceVisibility};

    #[test]
    fn worker_files_leave_out_am_only_files() {
        let f = |n: &str| BundleFile {
            name: n.into(),
            resource: LocalResourceInfo {
                resource: format!("hdfs://nn:9000/s/{n}"),
                kind: LocalResourceType::File,
                visibility: LocalResourceVisibility::Application,
                size: 1,
                timestamp: 2,
            },
        };
        let m = Manifest {
            version: MANIFEST_VERSION,
            application_id: "application_1_0001".into(),
            user: "u".into(),
            staging_dir: "/user/u/.rfy/application_1_0001".into(),
            job: "wordcount".into(),
            args: vec![],
            log_filter: "info".into(),
            files: [AM_BINARY, WORKER_BINARY, CONF_FILE, MANIFEST_FILE, JOB_GRAPH_FILE, "core-site.xml"]
                .iter()
                .map(|n| f(n))
                .collect(),
            mode: ClusterMode::PerJob,
        };
        let names: Vec<String> = m.worker_files().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, vec![WORKER_BINARY, CONF_FILE, "core-site.xml"]);
        let back: Manifest = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
        let mut old = serde_json::to_value(&m).unwrap();
        old.as_object_mut().unwrap().remove("mode");
        let old: Manifest = serde_json::from_value(old).unwrap();
        assert_eq!(old.mode, ClusterMode::Application, "a manifest without mode is application mode");
        assert_eq!(mebibytes(1024 << 20), 1024);
        assert_eq!(mebibytes(1), 1);
        assert!(
            worker_command("h:1", 2).contains("--slots 2")
                && worker_command("h:1", 2).contains("2><LOG_DIR>/taskmanager.log")
        );
    }
}
