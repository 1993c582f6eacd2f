//! One file-system abstraction for everything that reads or writes files:
//! checkpoint storage, text sources and sinks, the two-phase-commit writer.
//!
//! A [`FileSystem`] is chosen by the URI's scheme with [`get`]: plain paths
//! and `file://` URIs are the local file system (built in); other schemes
//! (`hdfs://`) are implemented outside the runtime and registered by the
//! process's entry point with [`register`] (rfy-connectors registers HDFS),
//! so the runtime itself knows nothing of HDFS and holds no async runtime.
//!
//! Paths given to a file system's methods are the URIs (or plain paths) the
//! user wrote, joined with `/name` (see [`join`]); each implementation strips
//! its own scheme and authority.

use std::collections::HashMap;
use std::io::{Read, Seek, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

/// An open file being written.
pub trait OutputFile: Write + Send {
    /// Flushes and makes everything written durable, then closes the file.
    ///
    /// Errors: the data could not be made durable.
    fn close(self: Box<Self>) -> std::io::Result<()>;
}

/// A file opened for reading, seekable (sources read byte ranges of it).
pub trait InputFile: Read + Seek + Send {}
impl<T: Read + Seek + Send> InputFile for T {}

/// What a file or directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStatus {
    /// True for a directory.
    pub is_dir: bool,
    /// Length in bytes (0 for directories).
    pub len: u64,
}

/// File operations, by path. Implementations are cheap to share (one per
/// scheme and authority and process, cached by [`get`]). Errors are
/// [`std::io::Error`]s; callers add the context (which path, what for).
pub trait FileSystem: Send + Sync + 'static {
    /// Status of `path`, `None` if it does not exist.
    ///
    /// Errors: the file system cannot be asked.
    fn status(&self, path: &str) -> std::io::Result<Option<FileStatus>>;
    /// Opens a file for reading; also returns its length in bytes.
    ///
    /// Errors: missing or unreadable.
    fn open(&self, path: &str) -> std::io::Result<(Box<dyn InputFile>, u64)>;
    /// Creates (or truncates) `path` for writing. Parents must exist.
    ///
    /// Errors: the file cannot be created.
    fn create(&self, path: &str) -> std::io::Result<Box<dyn OutputFile>>;
    /// Creates directory `dir` and its parents.
    ///
    /// Errors: it cannot be created.
    fn mkdirs(&self, dir: &str) -> std::io::Result<()>;
    /// Renames a file or directory; `to` must not exist, its parent must.
    ///
    /// Errors: the rename failed.
    fn rename(&self, from: &str, to: &str) -> std::io::Result<()>;
    /// Deletes a file.
    ///
    /// Errors: missing or not deletable.
    fn remove_file(&self, path: &str) -> std::io::Result<()>;
    /// Deletes a directory and everything in it; a missing one is fine.
    ///
    /// Errors: it cannot be deleted.
    fn remove_dir_all(&self, path: &str) -> std::io::Result<()>;
    /// Names (not paths) of the entries of directory `dir`.
    ///
    /// Errors: missing or not listable.
    fn list(&self, dir: &str) -> std::io::Result<Vec<String>>;

    /// Reads a whole file.
    ///
    /// Errors: missing or unreadable.
    fn read(&self, path: &str) -> std::io::Result<Vec<u8>> {
        let (mut f, len) = self.open(path)?;
        let mut v = Vec::with_capacity(len as usize);
        f.read_to_end(&mut v)?;
        Ok(v)
    }
    /// Writes `bytes` to `path` atomically (a temporary name, then a rename
    /// over any old file), creating the parent directories: the file is
    /// complete or absent.
    ///
    /// Errors: the write or the rename failed.
    fn write_atomic(&self, path: &str, bytes: &[u8]) -> std::io::Result<()> {
        if let Some((parent, _)) = path.rsplit_once('/').filter(|(p, _)| !p.is_empty()) {
            self.mkdirs(parent)?;
        }
        let tmp = format!("{path}.tmp-write");
        let mut f = self.create(&tmp)?;
        f.write_all(bytes)?;
        f.close()?;
        if self.exists(path) {
            self.remove_file(path)?;
        }
        self.rename(&tmp, path)
    }
    /// True if `path` exists (false also when the file system cannot be asked).
    fn exists(&self, path: &str) -> bool {
        matches!(self.status(path), Ok(Some(_)))
    }
}

/// `base/name`.
pub fn join(base: &str, name: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), name)
}

/// Errors of [`get`]: each names the URI.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// No file system is registered for the scheme.
    #[error("{uri}: no file system for the '{scheme}' scheme (supported: {supported})")]
    UnsupportedScheme {
        /// The URI as given.
        uri: String,
        /// Its scheme.
        scheme: String,
        /// The schemes this process knows, e.g. `file, hdfs`.
        supported: String,
    },
    /// The file system's factory failed (e.g. no HDFS configuration).
    #[error("{uri}: {source}")]
    Connect {
        /// The URI as given.
        uri: String,
        /// What went wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Makes the file system for one authority of a scheme (`None` for a URI
/// without one, as `hdfs:///path`: the implementation's default, e.g.
/// `fs.defaultFS`).
///
/// Errors: the implementation's own (e.g. no HDFS configuration), kept as the
/// source of [`FsError::Connect`].
pub type FileSystemFactory =
    fn(authority: Option<&str>) -> Result<Arc<dyn FileSystem>, Box<dyn std::error::Error + Send + Sync>>;

struct Registry {
    factories: HashMap<String, FileSystemFactory>,
    /// `scheme://authority` → its file system.
    open: HashMap<String, Arc<dyn FileSystem>>,
}

fn registry() -> &'static Mutex<Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(Registry { factories: HashMap::new(), open: HashMap::new() }))
}

/// Registers the file system for URIs `scheme://...` (registering a scheme
/// again replaces its factory; file systems already made stay).
pub fn register(scheme: &str, factory: FileSystemFactory) {
    registry().lock().unwrap_or_else(|p| p.into_inner()).factories.insert(scheme.to_string(), factory);
}

/// The scheme of `uri` (`file` for plain paths).
pub fn scheme(uri: &str) -> &str {
    match uri.split_once("://") {
        Some((s, _)) if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) => s,
        _ => "file",
    }
}

/// The file system for `uri`: local for plain paths and `file://`, else the
/// one registered for its scheme (one per authority and process).
///
/// Errors: an unregistered scheme, or the factory's error; both name the URI.
pub fn get(uri: &str) -> Result<Arc<dyn FileSystem>, FsError> {
    let scheme = scheme(uri);
    if scheme == "file" {
        return Ok(Arc::new(LocalFileSystem));
    }
    let rest = &uri[scheme.len() + 3..];
    let authority = rest.split('/').next().unwrap_or("");
    let key = format!("{scheme}://{authority}");
    let mut reg = registry().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(fs) = reg.open.get(&key) {
        return Ok(fs.clone());
    }
    let Some(factory) = reg.factories.get(scheme).copied() else {
        let mut supported: Vec<&str> = reg.factories.keys().map(String::as_str).collect();
        supported.push("file");
        supported.sort_unstable();
        return Err(FsError::UnsupportedScheme {
            uri: uri.to_string(),
            scheme: scheme.to_string(),
            supported: supported.join(", "),
        });
    };
    let fs = factory((!authority.is_empty()).then_some(authority))
        .map_err(|source| FsError::Connect { uri: uri.to_string(), source })?;
    reg.open.insert(key, fs.clone());
    Ok(fs)
}

/// The local file system; accepts plain paths and `file://` URIs.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalFileSystem;

/// The local path of a plain path or `file://` URI.
pub fn local_path(path: &str) -> &Path {
    Path::new(path.strip_prefix("file://").unwrap_or(path))
}

struct LocalOutput(std::io::BufWriter<std::fs::File>);

impl Write for LocalOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.0.write_all(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl OutputFile for LocalOutput {
    fn close(self: Box<Self>) -> std::io::Result<()> {
        let file = self.0.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    }
}

impl FileSystem for LocalFileSystem {
    fn status(&self, path: &str) -> std::io::Result<Option<FileStatus>> {
        match std::fs::metadata(local_path(path)) {
            Ok(m) => Ok(Some(FileStatus { is_dir: m.is_dir(), len: if m.is_dir() { 0 } else { m.len() } })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
    fn open(&self, path: &str) -> std::io::Result<(Box<dyn InputFile>, u64)> {
        let f = std::fs::File::open(local_path(path))?;
        let len = f.metadata()?.len();
        Ok((Box::new(f), len))
    }
    fn create(&self, path: &str) -> std::io::Result<Box<dyn OutputFile>> {
        let f = std::fs::File::create(local_path(path))?;
        Ok(Box::new(LocalOutput(std::io::BufWriter::with_capacity(1 << 20, f))))
    }
    fn mkdirs(&self, dir: &str) -> std::io::Result<()> {
        std::fs::create_dir_all(local_path(dir))
    }
    fn rename(&self, from: &str, to: &str) -> std::io::Result<()> {
        std::fs::rename(local_path(from), local_path(to))
    }
    fn remove_file(&self, path: &str) -> std::io::Result<()> {
        std::fs::remove_file(local_path(path))
    }
    fn remove_dir_all(&self, path: &str) -> std::io::Result<()> {
        match std::fs::remove_dir_all(local_path(path)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
    fn list(&self, dir: &str) -> std::io::Result<Vec<String>> {
        Ok(std::fs::read_dir(local_path(dir))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect())
    }
    fn write_atomic(&self, path: &str, bytes: &[u8]) -> std::io::Result<()> {
        let p = local_path(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut tmp = p.as_os_str().to_owned();
        tmp.push(".tmp-write");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_round_trip_and_scheme_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let base = format!("file://{}", tmp.path().display());
        let fs = get(&base).unwrap();
        let f = join(&join(&base, "a/b"), "x");
        fs.write_atomic(&f, b"abc").unwrap();
        fs.write_atomic(&f, b"abcd").unwrap();
        assert_eq!(fs.read(&f).unwrap(), b"abcd");
        assert_eq!(fs.status(&f).unwrap(), Some(FileStatus { is_dir: false, len: 4 }));
        assert_eq!(fs.list(&join(&base, "a/b")).unwrap(), vec!["x".to_string()]);
        fs.rename(&join(&base, "a/b"), &join(&base, "c")).unwrap();
        assert!(fs.exists(&join(&base, "c/x")) && !fs.exists(&f));
        fs.remove_dir_all(&join(&base, "c")).unwrap();
        fs.remove_dir_all(&join(&base, "c")).unwrap();
        assert_eq!(fs.status(&join(&base, "c")).unwrap(), None);
        let e = get("s3://bucket/x").err().unwrap().to_string();
        assert!(e.contains("s3://bucket/x") && e.contains("'s3'") && e.contains("file"), "{e}");
        assert_eq!(scheme("/tmp/a"), "file");
        assert_eq!(scheme("hdfs:///a"), "hdfs");
    }

    #[test]
    fn registered_schemes_are_made_once_per_authority() {
        fn factory(_: Option<&str>) -> Result<Arc<dyn FileSystem>, Box<dyn std::error::Error + Send + Sync>> {
            Ok(Arc::new(LocalFileSystem))
        }
        fn failing(authority: Option<&str>) -> Result<Arc<dyn FileSystem>, Box<dyn std::error::Error + Send + Sync>> {
            Err(format!("cannot reach {authority:?}").into())
        }
        register("testfs", factory);
        let a = get("testfs://h1/x").unwrap();
        let b = get("testfs://h1/y").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        register("failfs", failing);
        let e = get("failfs:///x").err().unwrap().to_string();
        assert_eq!(e, "failfs:///x: cannot reach None");
    }
}
