//! The blocking side of rfy's one HDFS home, for code on plain threads (job
//! tasks, the runtime's `FileSystem` that `rfy-connectors` implements over
//! it): `hdfs://` URIs ([`HdfsUri`]), one process-wide blocking client per
//! NameNode ([`client`]), and [`off_async`] to call the blocking client from
//! a thread that drives async tasks.
//!
//! The blocking client is hdfs-native's, which owns a small tokio runtime;
//! clients are built once per NameNode and never dropped (dropping one drops
//! its runtime, which must not happen inside another runtime). Its types are
//! re-exported here so that no other rfy crate talks to hdfs-native.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

pub use hdfs_native::sync::{Client, FileReader, FileWriter};
pub use hdfs_native::{HdfsError as NativeError, WriteOptions};

use super::HdfsError;

/// An `hdfs://[authority]/path` URI split into its NameNode and its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HdfsUri {
    /// `hdfs://host:port`, or `None` for `fs.defaultFS` (`hdfs:///path`).
    pub namenode: Option<String>,
    /// Absolute path inside the file system, no trailing slash (`/` for the root).
    pub path: String,
    /// The URI as given, for messages.
    pub uri: String,
}

impl HdfsUri {
    /// Parses `hdfs://[authority]/path`.
    ///
    /// Errors: [`HdfsError::BadUrl`] when `uri` does not start with `hdfs://`.
    pub fn parse(uri: &str) -> Result<HdfsUri, HdfsError> {
        let rest = uri.strip_prefix("hdfs://").ok_or_else(|| HdfsError::BadUrl(uri.to_string()))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = path.trim_end_matches('/');
        Ok(HdfsUri {
            namenode: (!authority.is_empty()).then(|| format!("hdfs://{authority}")),
            path: if path.is_empty() { "/".to_string() } else { path.to_string() },
            uri: uri.to_string(),
        })
    }

    /// `<path>/<name>`.
    pub fn join(&self, name: &str) -> String {
        format!("{}/{name}", self.path.trim_end_matches('/'))
    }

    /// The process-wide blocking client of this URI's NameNode.
    ///
    /// Errors: as [`client`].
    pub fn client(&self) -> Result<Client, HdfsError> {
        client(self.namenode.as_deref())
    }
}

/// True if `path` names a file in HDFS (`hdfs://...`).
pub fn is_hdfs(path: &str) -> bool {
    path.starts_with("hdfs://")
}

/// The path inside the file system of an `hdfs://` URI; any other string is
/// returned as it is (an absolute path inside the file system already).
pub fn fs_path(uri: &str) -> &str {
    match uri.strip_prefix("hdfs://") {
        Some(rest) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
        None => uri,
    }
}

/// The process-wide blocking client for `namenode` (`hdfs://host:port`;
/// `None`: `fs.defaultFS` of the Hadoop configuration in `HADOOP_CONF_DIR`),
/// acting as `HADOOP_USER_NAME` or the OS user. Built on first use, then shared.
///
/// Errors: [`HdfsError::Connect`] naming the NameNode (or `fs.defaultFS`).
pub fn client(namenode: Option<&str>) -> Result<Client, HdfsError> {
    static CLIENTS: OnceLock<Mutex<HashMap<String, Client>>> = OnceLock::new();
    let key = namenode.unwrap_or("").to_string();
    let mut map = CLIENTS.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = map.get(&key) {
        return Ok(c.clone());
    }
    let mut b = hdfs_native::sync::ClientBuilder::new();
    if let Some(url) = namenode {
        b = b.with_url(url);
    }
    let c = b.build().map_err(|source| HdfsError::Connect {
        namenode: namenode.map(str::to_string).unwrap_or_else(|| "fs.defaultFS (HADOOP_CONF_DIR)".to_string()),
        source,
    })?;
    map.insert(key, c.clone());
    Ok(c)
}

/// Runs `f` on a fresh thread and returns its result: the blocking client
/// must not be used on a thread that runs async tasks. A panic in `f` is
/// resumed on the caller's thread.
pub fn off_async<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| s.spawn(f).join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
}

/// Whether `e` says the file does not exist.
pub fn is_not_found(e: &NativeError) -> bool {
    matches!(e, NativeError::FileNotFound(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_uris() {
        let p = HdfsUri::parse("hdfs:///data/kjv.txt").unwrap();
        assert_eq!((p.namenode.as_deref(), p.path.as_str()), (None, "/data/kjv.txt"));
        let p = HdfsUri::parse("hdfs://nn:9000/out/").unwrap();
        assert_eq!((p.namenode.as_deref(), p.path.as_str()), (Some("hdfs://nn:9000"), "/out"));
        assert_eq!(p.join("part-0"), "/out/part-0");
        assert_eq!(HdfsUri::parse("hdfs://nn:9000").unwrap().path, "/");
        assert!(matches!(HdfsUri::parse("/local"), Err(HdfsError::BadUrl(_))));
        assert!(is_hdfs("hdfs:///x") && !is_hdfs("/tmp/x"));
        assert_eq!(fs_path("hdfs://nn:1/a/b"), "/a/b");
        assert_eq!(fs_path("/a"), "/a");
    }
}
