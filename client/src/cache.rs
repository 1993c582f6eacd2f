//! The content-addressed bundle cache in HDFS: `<staging root>/cache/<sha256>`
//! (by default `/user/<user>/.rfy/cache/<sha256>`, see
//! [`crate::staging::staging_root`]).
//!
//! The files every submission of the same executable ships unchanged (the
//! AM's and the TaskManagers' binary, the Hadoop XMLs) are named by the
//! SHA-256 of their bytes and uploaded once; later submissions of the same
//! bytes upload nothing and point their YARN local resources at the cached
//! file. The per-application files (configuration, JobGraph, manifest) stay
//! in the application's 0700 staging directory, which is removed when the
//! application ends.
//!
//! - **Atomic and concurrent-safe upload**: a file is written as
//!   `cache/.<sha256>.<uuid>.tmp` and renamed to `cache/<sha256>` without
//!   overwrite. HDFS's rename is atomic, so a reader never sees a partial
//!   entry; when two submissions upload the same bytes at once, the second
//!   rename fails, that submission deletes its temporary file and uses the
//!   winner's entry (same bytes, same name).
//! - **Localization**: cached files are `PRIVATE` local resources, so a
//!   NodeManager keeps one copy per user across applications (keyed by path
//!   and modification time) and does not download it again either.
//! - **Eviction** (after each submission, and by `rfy cache clean`): the last
//!   use of an entry is its HDFS access time, which each submission using it
//!   sets to the submission's time (its modification time, which YARN checks,
//!   is left alone). Entries unused for longer than `yarn.bundle-cache.max-age`
//!   (default 7 d) are deleted; then, while the cache holds more than
//!   `yarn.bundle-cache.max-size` (default 4 gb), the least recently used
//!   entries are deleted, except those used within the last hour
//!   ([`PROTECTED`]: a submission in progress, or an application whose
//!   containers are still being localized, keeps its files). Temporary files
//!   older than an hour (an upload that died) are deleted as well.
//!   A long-running application whose entry is evicted keeps running; only a
//!   container started later on a NodeManager that has no copy would fail to
//!   localize, which is why the age limit is days.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rfy_conf::{options, Configuration};
use rfy_hadoop::hdfs::{FileEntry, Hdfs, HdfsError};
use rfy_hadoop::yarn::rest::LocalResourceInfo;
use rfy_hadoop::yarn::{LocalResourceType, LocalResourceVisibility};
use sha2::{Digest, Sha256};

/// Entries used more recently than this are never evicted by size.
pub const PROTECTED: Duration = Duration::from_secs(3600);
/// Read buffer of the hash, bytes (1 MiB).
const HASH_BUFFER: usize = 1 << 20;

/// Errors of the bundle cache; each names the local file or the HDFS path.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// Reading the local file to hash it failed.
    #[error("cannot read {path}: {source}")]
    Local {
        /// The local file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An HDFS operation failed (the error names the path and the NameNode).
    #[error(transparent)]
    Hdfs(#[from] HdfsError),
}

/// How a file got into the cache for this submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    /// The same bytes were cached already: nothing was uploaded.
    Cached,
    /// This submission uploaded the file (bytes).
    Uploaded(u64),
}

/// One file of a submission, in the cache.
#[derive(Debug, Clone)]
pub struct CachedFile {
    /// SHA-256 of its bytes, lower-case hex.
    pub sha256: String,
    /// The YARN local resource (`PRIVATE` visibility) naming the cached file.
    pub resource: LocalResourceInfo,
    /// Whether it was uploaded now.
    pub provenance: Provenance,
}

/// One entry of the cache, as `rfy cache list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    /// SHA-256 of the bytes (the file name).
    pub sha256: String,
    /// Length, bytes.
    pub size: u64,
    /// When it was uploaded, ms since the epoch.
    pub uploaded: u64,
    /// When a submission last used it, ms since the epoch.
    pub last_used: u64,
}

/// The eviction limits (`yarn.bundle-cache.max-size`, `yarn.bundle-cache.max-age`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Total bytes above which least recently used entries go.
    pub max_size: u64,
    /// Entries unused for longer than this go.
    pub max_age: Duration,
}

impl Limits {
    /// The limits of `conf`.
    pub fn from_conf(conf: &Configuration) -> Limits {
        Limits {
            max_size: conf.get(&options::YARN_BUNDLE_CACHE_MAX_SIZE).0,
            max_age: conf.get(&options::YARN_BUNDLE_CACHE_MAX_AGE),
        }
    }
}

/// SHA-256 of the file at `path`, lower-case hex (blocking; 1 MiB reads).
///
/// Errors: [`CacheError::Local`] naming the file.
pub fn sha256_file(path: &Path) -> Result<String, CacheError> {
    let err = |source| CacheError::Local { path: path.to_path_buf(), source };
    let mut f = std::fs::File::open(path).map_err(err)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; HASH_BUFFER];
    loop {
        let n = f.read(&mut buf).map_err(err)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn is_sha256(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The bundle cache directory of one user in one HDFS.
#[derive(Debug, Clone)]
pub struct BundleCache {
    fs: Hdfs,
    dir: String,
}

impl BundleCache {
    /// The cache under `<staging root>/cache` of `conf` and `user`.
    pub fn new(fs: Hdfs, conf: &Configuration, user: &str) -> BundleCache {
        BundleCache { fs, dir: format!("{}/cache", crate::staging::staging_root(conf, user)) }
    }

    /// The cache directory (path, no scheme).
    pub fn dir(&self) -> &str {
        &self.dir
    }

    /// Puts the local file `local` into the cache (uploading it only if its
    /// bytes are not there yet), marks the entry used now, and returns it as
    /// a `PRIVATE` YARN local resource with the exact size and timestamp.
    ///
    /// Errors: the file cannot be read, or an HDFS operation fails.
    pub async fn put(&self, local: &Path) -> Result<CachedFile, CacheError> {
        let owned = local.to_path_buf();
        let sha = tokio::task::spawn_blocking(move || sha256_file(&owned))
            .await
            .map_err(|e| CacheError::Local { path: local.to_path_buf(), source: std::io::Error::other(e) })??;
        let len = std::fs::metadata(local).map_err(|source| CacheError::Local { path: local.into(), source })?.len();
        let path = format!("{}/{sha}", self.dir);
        let existing = match self.fs.exists(&path).await? {
            true => Some(self.fs.stat(&path).await?),
            false => None,
        };
        let provenance = match existing {
            Some(s) if s.size == len => {
                self.fs.set_access_time(&path, now_ms()).await?;
                Provenance::Cached
            }
            other => {
                // Missing, or a damaged entry of another length: upload beside it and rename over.
                self.fs.mkdirs(&self.dir, 0o700).await?;
                let tmp = format!("{}/.{sha}.{}.tmp", self.dir, uuid::Uuid::new_v4().simple());
                self.fs.upload(local, &tmp, 0o644, false).await?;
                match self.fs.rename(&tmp, &path, other.is_some()).await {
                    Ok(()) => {}
                    Err(e) => {
                        // Lost a race with a concurrent submission of the same bytes?
                        let _ = self.fs.delete(&tmp, false).await;
                        if !self.fs.exists(&path).await? {
                            return Err(e.into());
                        }
                    }
                }
                Provenance::Uploaded(len)
            }
        };
        let stamp = self.fs.stat(&path).await?;
        Ok(CachedFile {
            sha256: sha,
            resource: LocalResourceInfo {
                resource: self.fs.qualify(&path),
                kind: LocalResourceType::File,
                visibility: LocalResourceVisibility::Private,
                size: stamp.size as i64,
                timestamp: stamp.modification_time as i64,
            },
            provenance,
        })
    }

    async fn raw_list(&self) -> Result<Vec<FileEntry>, CacheError> {
        if !self.fs.exists(&self.dir).await? {
            return Ok(Vec::new());
        }
        Ok(self.fs.list(&self.dir).await?)
    }

    /// The entries, least recently used first.
    ///
    /// Errors: listing the cache directory fails.
    pub async fn list(&self) -> Result<Vec<CacheEntry>, CacheError> {
        let mut v: Vec<CacheEntry> = self
            .raw_list()
            .await?
            .into_iter()
            .filter(|e| !e.is_dir)
            .filter_map(|e| {
                let name = e.path.rsplit('/').next().unwrap_or_default().to_string();
                is_sha256(&name).then_some(CacheEntry {
                    sha256: name,
                    size: e.size,
                    uploaded: e.modification_time,
                    // 0: access times are off on this NameNode (precision 0).
                    last_used: if e.access_time > 0 { e.access_time } else { e.modification_time },
                })
            })
            .collect();
        v.sort_by_key(|e| (e.last_used, e.sha256.clone()));
        Ok(v)
    }

    /// Applies the eviction rule (see the module docs) at time `now_ms` and
    /// returns the entries deleted. With `limits` `None` every entry and
    /// temporary file is deleted (`rfy cache clean --all`).
    ///
    /// Errors: listing or deleting fails (entries deleted before stay deleted).
    pub async fn evict(&self, limits: Option<Limits>, now_ms: u64) -> Result<Vec<CacheEntry>, CacheError> {
        let protected = PROTECTED.as_millis() as u64;
        for e in self.raw_list().await? {
            let name = e.path.rsplit('/').next().unwrap_or_default();
            let stale = now_ms.saturating_sub(e.modification_time) > protected;
            if name.starts_with('.') && name.ends_with(".tmp") && (stale || limits.is_none()) {
                self.fs.delete(&format!("{}/{name}", self.dir), false).await?;
            }
        }
        let entries = self.list().await?;
        let mut total: u64 = entries.iter().map(|e| e.size).sum();
        let mut removed = Vec::new();
        for e in entries {
            let idle = now_ms.saturating_sub(e.last_used);
            let go = match limits {
                None => true,
                Some(l) => idle > l.max_age.as_millis() as u64 || (total > l.max_size && idle > protected),
            };
            if go {
                self.fs.delete(&format!("{}/{}", self.dir, e.sha256), false).await?;
                total -= e.size;
                removed.push(e);
            }
        }
        Ok(removed)
    }
}

/// `12.3 MB` (decimal megabytes, as the client prints upload sizes).
pub fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// `ms` milliseconds rounded down to one unit: `42 s`, `17 min`, `5 h`, `3 d`.
pub fn rough_duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..120 => format!("{s} s"),
        120..7200 => format!("{} min", s / 60),
        7200..172800 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(sha256_file(&p).unwrap(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let err = sha256_file(&dir.path().join("missing")).unwrap_err().to_string();
        assert!(err.starts_with("cannot read ") && err.contains("missing"), "{err}");
        assert!(is_sha256("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        assert!(!is_sha256(".ba78.tmp"));
        assert_eq!(rough_duration(59_999), "59 s");
        assert_eq!(rough_duration(3 * 3600 * 1000), "3 h");
    }

    #[test]
    fn limits_come_from_the_configuration() {
        let mut c = Configuration::new();
        assert_eq!(Limits::from_conf(&c).max_age, Duration::from_secs(7 * 86400));
        c.set(options::YARN_BUNDLE_CACHE_MAX_SIZE.key, "1 mb", rfy_conf::Source::Dynamic).unwrap();
        assert_eq!(Limits::from_conf(&c).max_size, 1 << 20);
    }
}
