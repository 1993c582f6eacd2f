//! YARN's aggregated logs: where a finished application's container logs lie
//! in the remote file system, and how one node's file is laid out.
//!
//! - **Where** (`LogAggregationUtils`, `LogAggregationTFileController` of
//!   Hadoop 3.4): `<yarn.nodemanager.remote-app-log-dir>/<user>/bucket-<suffix>/<bucket>/<appId>/`,
//!   one file per NodeManager named `<host>_<port>` (its NodeId with `:` → `_`;
//!   rolling aggregation adds `_<timestamp>`; a file still being written ends in
//!   `.tmp`). `<suffix>` is `yarn.log-aggregation.TFile.remote-app-log-dir-suffix`
//!   or else `<yarn.nodemanager.remote-app-log-dir-suffix>-tfile` (default
//!   `logs-tfile`); `<bucket>` is the application id's sequence number modulo
//!   10000, four digits. Hadoop before 3.3 wrote `<dir>/<user>/<suffix>/<appId>/`.
//! - **What** (`AggregatedLogFormat.LogWriter`/`LogKey`/`LogValue`): a TFile
//!   ([`super::tfile`]) whose records are keyed by a Java `writeUTF` string:
//!   `VERSION` (value: big-endian i32), `APPLICATION_OWNER` (value: a UTF
//!   string), `APPLICATION_ACL` (UTF pairs), else a container id, whose value is
//!   a sequence of log files, each `writeUTF(file name)`, `writeUTF(decimal
//!   length)` and that many bytes.
//!
//! The IFile format (`yarn.log-aggregation.file-formats=IFile`,
//! `LogAggregationIndexedFileController`) is not read: [`AggregatedLogError::IFile`].

use super::tfile::{self, Cursor, TFileError};

/// The default `yarn.nodemanager.remote-app-log-dir`.
pub const DEFAULT_REMOTE_APP_LOG_DIR: &str = "/tmp/logs";
/// The default `yarn.nodemanager.remote-app-log-dir-suffix`.
pub const DEFAULT_REMOTE_APP_LOG_DIR_SUFFIX: &str = "logs";
/// Applications per bucket directory (`LogAggregationUtils`' bucket size).
const BUCKET_SIZE: u64 = 10000;

/// Why aggregated logs cannot be read; each names the path at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AggregatedLogError {
    /// A node's file is not a readable TFile of aggregated logs.
    #[error("aggregated log file {path}: {source}")]
    Format {
        /// The file's path.
        path: String,
        /// What is wrong with it.
        source: TFileError,
    },
    /// The application's logs are in the IFile format.
    #[error("the aggregated logs at {path} are in the IFile format (yarn.log-aggregation.file-formats=IFile); rfy reads only the TFile format")]
    IFile {
        /// The IFile directory found.
        path: String,
    },
}

/// One log file of one container, from an aggregated log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerLogFile {
    /// The container id (`container_...`).
    pub container: String,
    /// The file's name in the container's log directory (`jobmanager.log`, `stderr`...).
    pub name: String,
    /// Its bytes as aggregated.
    pub contents: Vec<u8>,
}

/// The parsed content of one node's aggregated log file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeLogs {
    /// The `VERSION` record (1 in Hadoop 3.4), if present.
    pub version: Option<i32>,
    /// The `APPLICATION_OWNER` record: the user the application ran as.
    pub owner: Option<String>,
    /// The log files, in file order.
    pub files: Vec<ContainerLogFile>,
}

/// Candidate directories of application `app_id`'s aggregated logs for
/// `user`, most likely first: Hadoop 3.4's bucketed TFile layout, then the
/// older flat one. `root` is `yarn.nodemanager.remote-app-log-dir`;
/// `suffix` is the TFile controller's suffix (see the module docs).
///
/// Returns `None` for an `app_id` that is not `application_<ts>_<seq>`.
pub fn app_log_dirs(root: &str, user: &str, suffix: &str, app_id: &str) -> Option<Vec<String>> {
    let seq: u64 = app_id.strip_prefix("application_")?.rsplit_once('_')?.1.parse().ok()?;
    let root = root.trim_end_matches('/');
    let bucket = format!("{:04}", seq % BUCKET_SIZE);
    Some(vec![format!("{root}/{user}/bucket-{suffix}/{bucket}/{app_id}"), format!("{root}/{user}/{suffix}/{app_id}")])
}

/// Whether a file in an application's log directory is a finished node file
/// (not a `.tmp` one still being written).
pub fn is_node_file(name: &str) -> bool {
    !name.ends_with(".tmp")
}

/// Parses one node's aggregated log file (`path` names it in errors).
///
/// Errors: [`AggregatedLogError::Format`] for a truncated or corrupt file, or
/// one compressed with an algorithm rfy does not read.
pub fn parse(path: &str, bytes: &[u8]) -> Result<NodeLogs, AggregatedLogError> {
    let err = |source| AggregatedLogError::Format { path: path.to_string(), source };
    let mut logs = NodeLogs::default();
    for (key, value) in tfile::records(bytes).map_err(err)? {
        let mut k = Cursor::new(&key, 0, key.len() as u64);
        let key = utf(&mut k, "a LogKey").map_err(err)?;
        let mut v = Cursor::new(&value, 0, value.len() as u64);
        match key.as_str() {
            "VERSION" => logs.version = Some(v.i32("the VERSION value").map_err(err)?),
            "APPLICATION_OWNER" => logs.owner = Some(utf(&mut v, "the APPLICATION_OWNER value").map_err(err)?),
            "APPLICATION_ACL" => {}
            container => {
                while !v.at_end() {
                    let name = utf(&mut v, "a log file name").map_err(err)?;
                    let length = utf(&mut v, "a log file length").map_err(err)?;
                    let n: usize = length.parse().map_err(|_| {
                        err(TFileError::Corrupt(format!(
                            "log file {name} of {container}: length {length:?} is not a number"
                        )))
                    })?;
                    let contents = v.take(n, "a log file's bytes").map_err(err)?.to_vec();
                    logs.files.push(ContainerLogFile { container: container.to_string(), name, contents });
                }
            }
        }
    }
    Ok(logs)
}

/// Java's `DataInput.readUTF`: a big-endian u16 length and modified UTF-8
/// (read as UTF-8, lossily: log file names and container ids are ASCII).
fn utf(c: &mut Cursor<'_>, what: &'static str) -> Result<String, TFileError> {
    let n = c.u16(what)? as usize;
    Ok(String::from_utf8_lossy(c.take(n, what)?).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucketed_then_flat_layout() {
        assert_eq!(
            app_log_dirs("/tmp/logs/", "alice", "logs-tfile", "application_1700000000000_12345").unwrap(),
            [
                "/tmp/logs/alice/bucket-logs-tfile/2345/application_1700000000000_12345",
                "/tmp/logs/alice/logs-tfile/application_1700000000000_12345"
            ]
        );
        assert_eq!(
            app_log_dirs("/l", "u", "logs-tfile", "application_1_7").unwrap()[0],
            "/l/u/bucket-logs-tfile/0007/application_1_7"
        );
        assert_eq!(app_log_dirs("/l", "u", "s", "job_1_7"), None);
        assert!(!is_node_file("host_8041.tmp") && is_node_file("host_8041"));
    }

    /// One node's file of a finished two-container rfy application, captured
    /// from Hadoop 3.4's log aggregation (TFile, compression none).
    const CAPTURED: &[u8] = include_bytes!("../../testdata/aggregated-localhost_8041");

    #[test]
    fn reads_a_file_hadoop_wrote() {
        let logs = parse("localhost_8041", CAPTURED).unwrap();
        assert_eq!((logs.version, logs.owner.as_deref()), (Some(1), Some("root")));
        let file = |c: &str, n: &str| {
            logs.files
                .iter()
                .find(|f| f.container.ends_with(c) && f.name == n)
                .map(|f| String::from_utf8_lossy(&f.contents))
        };
        let jm = file("_01_000001", "jobmanager.log").expect("the AM's jobmanager.log");
        assert!(jm.starts_with("20") && jm.trim_end().ends_with("unregistered from YARN status=Succeeded"), "{jm}");
        let tm = file("_01_000002", "taskmanager.log").expect("the TaskManager's taskmanager.log");
        assert!(tm.contains("registered at JobManager"), "{tm}");
        assert!(file("_01_000001", "launch_container.sh").unwrap().starts_with("#!/bin/bash"));
    }

    #[test]
    fn damaged_copies_are_errors_not_panics() {
        for cut in (0..CAPTURED.len()).step_by(97) {
            let e = parse("/p/n_1", &CAPTURED[..cut]).unwrap_err();
            assert!(e.to_string().starts_with("aggregated log file /p/n_1: "), "{e}");
        }
        // Damage inside the records: a corrupt length or a short read, never a panic.
        for at in (0..CAPTURED.len() - 28).step_by(101) {
            let mut bad = CAPTURED.to_vec();
            bad[at] ^= 0xa5;
            let _ = parse("/p/n_1", &bad);
        }
    }

    #[test]
    fn truncated_file_names_its_path() {
        let e = parse("/tmp/logs/u/x/host_1", b"abc").unwrap_err();
        assert!(e.to_string().starts_with("aggregated log file /tmp/logs/u/x/host_1: truncated"), "{e}");
    }
}
