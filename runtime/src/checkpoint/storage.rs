//! Checkpoint storage: where state files and `_metadata` live, addressed by
//! URI strings (a local path, a `file://` URI, `hdfs:///path` or
//! `hdfs://host:port/path`). It is a view of the [`crate::fs::FileSystem`]
//! for the URI's scheme with [`CheckpointError`]s naming the path; every
//! write is atomic (a temporary name, then a rename), so a file is complete
//! or absent.

use std::sync::Arc;

use super::CheckpointError;
use crate::fs::FileSystem;

pub use crate::fs::join;

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
    /// Names of the entries of directory `dir`; a missing directory has none.
    ///
    /// Errors: naming the directory.
    fn list(&self, dir: &str) -> Result<Vec<String>, CheckpointError>;
}

fn io(context: String, source: std::io::Error) -> CheckpointError {
    CheckpointError::Io { context, source }
}

/// Checkpoint storage over a file system.
struct FsStorage(Arc<dyn FileSystem>);

impl CheckpointStorage for FsStorage {
    fn write(&self, path: &str, bytes: &[u8]) -> Result<(), CheckpointError> {
        self.0.write_atomic(path, bytes).map_err(|e| io(format!("cannot write {path}"), e))
    }
    fn read(&self, path: &str) -> Result<Vec<u8>, CheckpointError> {
        self.0.read(path).map_err(|e| io(format!("cannot read {path}"), e))
    }
    fn len(&self, path: &str) -> Result<u64, CheckpointError> {
        match self.0.status(path) {
            Ok(Some(s)) => Ok(s.len),
            Ok(None) => Err(io(format!("cannot stat {path}"), std::io::ErrorKind::NotFound.into())),
            Err(e) => Err(io(format!("cannot stat {path}"), e)),
        }
    }
    fn mkdirs(&self, path: &str) -> Result<(), CheckpointError> {
        self.0.mkdirs(path).map_err(|e| io(format!("cannot create directory {path}"), e))
    }
    fn remove_dir(&self, path: &str) -> Result<(), CheckpointError> {
        self.0.remove_dir_all(path).map_err(|e| io(format!("cannot remove {path}"), e))
    }
    fn rename(&self, from: &str, to: &str) -> Result<(), CheckpointError> {
        if let Some((parent, _)) = to.rsplit_once('/').filter(|(p, _)| !p.is_empty()) {
            self.0.mkdirs(parent).map_err(|e| io(format!("cannot create directory {parent}"), e))?;
        }
        if self.0.rename(from, to).is_ok() {
            return Ok(());
        }
        // Across file systems (local): copy the (flat) directory, then delete it.
        self.0.mkdirs(to).map_err(|e| io(format!("cannot create directory {to}"), e))?;
        for name in self.0.list(from).map_err(|e| io(format!("cannot move {from} to {to}"), e))? {
            let (src, dst) = (join(from, &name), join(to, &name));
            let bytes = self.0.read(&src).map_err(|e| io(format!("cannot read {src}"), e))?;
            self.0.write_atomic(&dst, &bytes).map_err(|e| io(format!("cannot write {dst}"), e))?;
        }
        self.remove_dir(from)
    }
    fn exists(&self, path: &str) -> bool {
        self.0.exists(path)
    }
    fn list(&self, dir: &str) -> Result<Vec<String>, CheckpointError> {
        if !self.0.exists(dir) {
            return Ok(Vec::new());
        }
        self.0.list(dir).map_err(|e| io(format!("cannot list {dir}"), e))
    }
}

/// The storage for `uri`: the file system of its scheme (see [`crate::fs::get`]).
///
/// Errors: an unsupported scheme, or a file system that cannot be made,
/// naming the URI.
pub fn open_storage(uri: &str) -> Result<Arc<dyn CheckpointStorage>, CheckpointError> {
    let fs = crate::fs::get(uri)
        .map_err(|e| io(format!("checkpoint storage {uri}"), std::io::Error::other(e.to_string())))?;
    Ok(Arc::new(FsStorage(fs)))
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
        let e = s.len(&f).unwrap_err().to_string();
        assert!(e.contains("op-0"), "{e}");
        s.remove_dir(&join(&base, "sp")).unwrap();
        s.remove_dir(&join(&base, "sp")).unwrap();
        assert!(open_storage("s3://bucket/x").is_err());
    }
}
