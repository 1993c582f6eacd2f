//! Checkpoint storage: where state files and `_metadata` live, addressed by
//! URI strings: a local path (or `file://` URI), or `hdfs://host:port/path`.
//! Every write is atomic (a temporary name, then a rename), so a file is
//! complete or absent.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use super::CheckpointError;

/// File operations checkpoints need. Paths are what [`join`] builds from the
/// storage's base URI.
pub trait CheckpointStorage: Send + Sync {
    /// Writes `bytes` to `path` atomically, creating parent directories.
    ///
    /// Errors: [`CheckpointError::Io`] naming the path.
    fn write(&self, path: &str, bytes: &[u8]) -> Result<(), CheckpointError>;
    /// Reads the whole file.
    ///
    /// Errors: missing or unreadable, naming the path.
    fn read(&self, path: &str) -> Result<Vec<u8>, CheckpointError>;
    /// Length of a file in bytes.
    ///
    /// Errors: missing, naming the path.
    fn len(&self, path: &str) -> Result<u64, CheckpointError>;
    /// Creates a directory and its parents.
    ///
    /// Errors: naming the path.
    fn mkdirs(&self, path: &str) -> Result<(), CheckpointError>;
    /// Deletes a directory recursively; a missing one is fine.
    ///
    /// Errors: naming the path.
    fn remove_dir(&self, path: &str) -> Result<(), CheckpointError>;
    /// Moves directory `from` to `to` (parents of `to` created).
    ///
    /// Errors: naming both paths.
    fn rename(&self, from: &str, to: &str) -> Result<(), CheckpointError>;
    /// True if `path` exists.
    fn exists(&self, path: &str) -> bool;
}

/// `base/name`.
pub fn join(base: &str, name: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), name)
}

fn io(context: String, source: std::io::Error) -> CheckpointError {
    CheckpointError::Io { context, source }
}

/// Local file system storage.
#[derive(Debug, Default)]
pub struct LocalStorage;

fn local(path: &str) -> &Path {
    Path::new(path.strip_prefix("file://").unwrap_or(path))
}

impl CheckpointStorage for LocalStorage {
    fn write(&self, path: &str, bytes: &[u8]) -> Result<(), CheckpointError> {
        let p = local(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| io(format!("cannot create directory {}", parent.display()), e))?;
        }
        super::format::write_atomically(p, bytes)
    }
    fn read(&self, path: &str) -> Result<Vec<u8>, CheckpointError> {
        std::fs::read(local(path)).map_err(|e| io(format!("cannot read {path}"), e))
    }
    fn len(&self, path: &str) -> Result<u64, CheckpointError> {
        std::fs::metadata(local(path)).map(|m| m.len()).map_err(|e| io(format!("cannot stat {path}"), e))
    }
    fn mkdirs(&self, path: &str) -> Result<(), CheckpointError> {
        std::fs::create_dir_all(local(path)).map_err(|e| io(format!("cannot create directory {path}"), e))
    }
    fn remove_dir(&self, path: &str) -> Result<(), CheckpointError> {
        match std::fs::remove_dir_all(local(path)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(format!("cannot remove {path}"), e)),
            _ => Ok(()),
        }
    }
    fn rename(&self, from: &str, to: &str) -> Result<(), CheckpointError> {
        let (f, t) = (local(from), local(to));
        if let Some(parent) = t.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| io(format!("cannot create directory {}", parent.display()), e))?;
        }
        if std::fs::rename(f, t).is_ok() {
            return Ok(());
        }
        // Across file systems: copy the (flat) directory, then delete it.
        std::fs::create_dir_all(t).map_err(|e| io(format!("cannot create directory {to}"), e))?;
        for entry in std::fs::read_dir(f).map_err(|e| io(format!("cannot list {from}"), e))?.flatten() {
            let dest = t.join(entry.file_name());
            std::fs::copy(entry.path(), &dest)
                .map_err(|e| io(format!("cannot copy {} to {}", entry.path().display(), dest.display()), e))?;
        }
        self.remove_dir(from)
    }
    fn exists(&self, path: &str) -> bool {
        local(path).exists()
    }
}

/// HDFS storage (through rfy-hadoop's hdfs-native wrapper). Calls run on the
/// storage's own small async runtime; callers block until they finish, from
/// plain threads or from inside another runtime alike.
pub struct HdfsStorage {
    hdfs: rfy_hadoop::hdfs::Hdfs,
    rt: tokio::runtime::Runtime,
}

impl HdfsStorage {
    fn run<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = Result<T, rfy_hadoop::hdfs::HdfsError>> + Send + 'static,
    ) -> Result<T, String> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.rt.spawn(async move {
            let _ = tx.send(f.await);
        });
        match rx.recv() {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err("the HDFS client runtime stopped".into()),
        }
    }

    /// The HDFS path (no scheme and authority) of `uri`.
    fn path(uri: &str) -> String {
        match uri.strip_prefix("hdfs://").and_then(|r| r.find('/').map(|i| r[i..].to_string())) {
            Some(p) => p,
            None => uri.to_string(),
        }
    }
}

fn hdfs_err(context: String) -> impl FnOnce(String) -> CheckpointError {
    move |e| CheckpointError::Io { context, source: std::io::Error::other(e) }
}

impl CheckpointStorage for HdfsStorage {
    fn write(&self, path: &str, bytes: &[u8]) -> Result<(), CheckpointError> {
        let (h, p, data) = (self.hdfs.clone(), Self::path(path), bytes.to_vec());
        let tmp = format!("{p}.tmp-write");
        // Three NameNode calls and a pipeline, no more: `put` does not read
        // the stamp back, and the rename overwrites an existing file.
        self.run(async move {
            h.put(&tmp, &data, 0o644, true).await?;
            h.client().rename(&tmp, &p, true).await.map_err(|source| rfy_hadoop::hdfs::HdfsError::Op {
                op: "rename",
                path: tmp.clone(),
                namenode: h.namenode().to_string(),
                source,
            })
        })
        .map_err(hdfs_err(format!("cannot write {path}")))
    }
    fn read(&self, path: &str) -> Result<Vec<u8>, CheckpointError> {
        let (h, p) = (self.hdfs.clone(), Self::path(path));
        self.run(async move { h.read(&p).await }).map_err(hdfs_err(format!("cannot read {path}")))
    }
    fn len(&self, path: &str) -> Result<u64, CheckpointError> {
        let (h, p) = (self.hdfs.clone(), Self::path(path));
        self.run(async move { h.stat(&p).await.map(|s| s.size) }).map_err(hdfs_err(format!("cannot stat {path}")))
    }
    fn mkdirs(&self, path: &str) -> Result<(), CheckpointError> {
        let (h, p) = (self.hdfs.clone(), Self::path(path));
        self.run(async move { h.mkdirs(&p, 0o755).await }).map_err(hdfs_err(format!("cannot create directory {path}")))
    }
    fn remove_dir(&self, path: &str) -> Result<(), CheckpointError> {
        let (h, p) = (self.hdfs.clone(), Self::path(path));
        self.run(async move { h.delete(&p, true).await.map(|_| ()) }).map_err(hdfs_err(format!("cannot remove {path}")))
    }
    fn rename(&self, from: &str, to: &str) -> Result<(), CheckpointError> {
        let (h, f, t) = (self.hdfs.clone(), Self::path(from), Self::path(to));
        self.run(async move {
            if let Some(parent) = t.rsplit_once('/').map(|(p, _)| p.to_string()).filter(|p| !p.is_empty()) {
                h.mkdirs(&parent, 0o755).await?;
            }
            h.client().rename(&f, &t, false).await.map_err(|source| rfy_hadoop::hdfs::HdfsError::Op {
                op: "rename",
                path: f.clone(),
                namenode: h.namenode().to_string(),
                source,
            })
        })
        .map_err(hdfs_err(format!("cannot move {from} to {to}")))
    }
    fn exists(&self, path: &str) -> bool {
        let (h, p) = (self.hdfs.clone(), Self::path(path));
        self.run(async move { h.exists(&p).await }).unwrap_or(false)
    }
}

/// The storage for `uri`: HDFS for `hdfs://host:port/...` (one client per
/// NameNode and process, cached), the local file system otherwise.
///
/// Errors: another scheme, or an HDFS client that cannot be made.
pub fn open_storage(uri: &str) -> Result<Arc<dyn CheckpointStorage>, CheckpointError> {
    static HDFS: OnceLock<Mutex<HashMap<String, Arc<dyn CheckpointStorage>>>> = OnceLock::new();
    let Some(rest) = uri.strip_prefix("hdfs://") else {
        if let Some((scheme, _)) = uri.split_once("://").filter(|(s, _)| *s != "file") {
            return Err(CheckpointError::Io {
                context: format!("checkpoint storage {uri}"),
                source: std::io::Error::other(format!(
                    "the '{scheme}' scheme is not supported: use a local path, file:// or hdfs://"
                )),
            });
        }
        return Ok(Arc::new(LocalStorage));
    };
    let authority = rest.split('/').next().unwrap_or("");
    let namenode = format!("hdfs://{authority}");
    let mut cache = HDFS.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = cache.get(&namenode) {
        return Ok(s.clone());
    }
    let err = |e: String| CheckpointError::Io {
        context: format!("checkpoint storage {namenode}"),
        source: std::io::Error::other(e),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("rfy-hdfs")
        .enable_all()
        .build()
        .map_err(|e| err(e.to_string()))?;
    let hdfs = {
        let _guard = rt.enter();
        rfy_hadoop::hdfs::Hdfs::connect(&namenode, None).map_err(|e| err(e.to_string()))?
    };
    let s: Arc<dyn CheckpointStorage> = Arc::new(HdfsStorage { hdfs, rt });
    cache.insert(namenode, s.clone());
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_storage_round_trip_and_errors_name_the_path() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().display().to_string();
        let s = open_storage(&base).unwrap();
        let f = join(&join(&base, "job/chk-1"), "op-0");
        s.write(&f, b"abc").unwrap();
        assert_eq!(s.read(&f).unwrap(), b"abc");
        assert_eq!(s.len(&f).unwrap(), 3);
        s.rename(&join(&base, "job/chk-1"), &join(&base, "sp/savepoint-1")).unwrap();
        assert!(s.exists(&join(&base, "sp/savepoint-1/op-0")) && !s.exists(&f));
        let e = s.read(&f).unwrap_err().to_string();
        assert!(e.contains("op-0"), "{e}");
        s.remove_dir(&join(&base, "sp")).unwrap();
        s.remove_dir(&join(&base, "sp")).unwrap();
        assert!(open_storage("s3://bucket/x").is_err());
    }

    /// Against a live HDFS: set RFY_TEST_HDFS=hdfs://host:port (e.g. the
    /// NameNode of scripts/hadoop); skipped otherwise.
    #[test]
    fn hdfs_storage_round_trip() {
        let Ok(nn) = std::env::var("RFY_TEST_HDFS") else {
            eprintln!("skipped: RFY_TEST_HDFS is not set");
            return;
        };
        let base = format!("{nn}/tmp/rfy-storage-test-{}", std::process::id());
        let s = open_storage(&base).unwrap();
        let f = join(&join(&base, "chk-1"), "op-0");
        s.write(&f, b"hello").unwrap();
        s.write(&f, b"hello!").unwrap();
        assert_eq!(s.read(&f).unwrap(), b"hello!");
        assert_eq!(s.len(&f).unwrap(), 6);
        s.rename(&join(&base, "chk-1"), &join(&base, "sp/s-1")).unwrap();
        assert!(s.exists(&join(&base, "sp/s-1/op-0")));
        assert!(s.read(&f).is_err());
        s.remove_dir(&base).unwrap();
        assert!(!s.exists(&base));
    }
}
