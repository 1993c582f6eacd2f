//! The job store: what a new ApplicationMaster attempt needs to take over
//! the jobs of the previous one, kept in HDFS instead of ZooKeeper (Flink's
//! `JobGraphStore` / `ExecutionPlanStore` role without an HA service).
//!
//! One JSON file per job, `<staging dir>/jobstore/<job id>.json`, written
//! atomically (a temporary name, then a rename: see
//! [`rfy_runtime::fs::FileSystem::write_atomic`]), holding a [`StoredJob`]:
//! the job's id, name, what to run (the job's program and arguments in
//! application mode, the JobGraph and its configuration in per-job and
//! session mode), its checkpoint directory and, once it ended, its final
//! state. The staging directory outlives a failed attempt (only the last
//! attempt, or an application-final event, removes it), so the store does too.
//!
//! In application and per-job mode the job id is [`derived_job_id`] of the
//! YARN application id, so the new attempt's job writes to and restores
//! from the same `<state.checkpoints.dir>/<job id>/`.
//!
//! The file system calls block (the `hdfs://` file system of
//! `rfy_connectors`): call them off the async threads.

use std::collections::BTreeMap;
use std::sync::Arc;

use rfy_runtime::fs::{self, FileSystem};
use rfy_runtime::JobGraph;
use serde::{Deserialize, Serialize};

use crate::outcome::Outcome;

/// Sub-directory of the staging directory holding the job store.
pub const JOB_STORE_DIR: &str = "jobstore";
/// Version of the [`StoredJob`] layout (2: `final_state` is an [`Outcome`]).
pub const STORED_JOB_VERSION: u32 = 2;

/// Errors of the job store; each names the file or directory.
#[derive(Debug, thiserror::Error)]
pub enum JobStoreError {
    /// The file system of the store cannot be opened.
    #[error("job store {dir}: {source}")]
    Open {
        /// The store's directory URI.
        dir: String,
        /// Why (e.g. no file system for its scheme).
        #[source]
        source: fs::FsError,
    },
    /// Reading, writing, listing or removing failed.
    #[error("job store: cannot {what} {path}: {source}")]
    Io {
        /// `read`, `write`, `list`, `remove`.
        what: &'static str,
        /// The file or directory.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A stored file is not a [`StoredJob`] of a known version.
    #[error("job store: {path} is not a stored job: {reason}")]
    Corrupt {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// What a stored job runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum StoredProgram {
    /// Application mode: the job's main is planned again by the new attempt.
    Program {
        /// The program name (a built-in job or the job executable's).
        program: String,
        /// Its arguments.
        args: Vec<String>,
    },
    /// Per-job and session mode: the JobGraph as submitted, with the job's configuration.
    Graph {
        /// The JobGraph.
        graph: Box<JobGraph>,
        /// The configuration the job ran with (`key → value`).
        config: BTreeMap<String, String>,
    },
}

/// One job in the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredJob {
    /// [`STORED_JOB_VERSION`].
    pub version: u32,
    /// The job id (32 hex digits).
    pub job_id: String,
    /// The job's name.
    pub name: String,
    /// What to run.
    pub program: StoredProgram,
    /// `<state.checkpoints.dir>/<job id>`, where its checkpoints are; `None`
    /// without a checkpoint directory (a recovered job then starts afresh).
    pub checkpoint_dir: Option<String>,
    /// How the job ended (its terminal state and YARN's diagnostics) once
    /// it did; `None` while it runs.
    pub final_state: Option<Outcome>,
    /// The ApplicationMaster attempt that wrote this entry last.
    pub attempt: u32,
}

/// The job store of one application.
#[derive(Clone)]
pub struct JobStore {
    dir: String,
    fs: Arc<dyn FileSystem>,
}

impl std::fmt::Debug for JobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobStore").field("dir", &self.dir).finish()
    }
}

impl JobStore {
    /// The store under staging directory `staging` (an HDFS path without
    /// scheme, as in the manifest, or any URI [`rfy_runtime::fs::get`] knows).
    ///
    /// Errors: [`JobStoreError::Open`] (no file system for the scheme).
    pub fn open(staging: &str) -> Result<JobStore, JobStoreError> {
        let base = if staging.starts_with('/') { format!("hdfs://{staging}") } else { staging.to_string() };
        let dir = fs::join(&base, JOB_STORE_DIR);
        let fs = fs::get(&dir).map_err(|source| JobStoreError::Open { dir: dir.clone(), source })?;
        Ok(JobStore { dir, fs })
    }

    /// The store's directory URI.
    pub fn dir(&self) -> &str {
        &self.dir
    }

    fn path(&self, job_id: &str) -> String {
        fs::join(&self.dir, &format!("{job_id}.json"))
    }

    /// Writes (or replaces) `job`'s entry atomically.
    ///
    /// Errors: [`JobStoreError::Io`] naming the file.
    pub fn put(&self, job: &StoredJob) -> Result<(), JobStoreError> {
        let path = self.path(&job.job_id);
        let bytes = serde_json::to_vec(job).map_err(|e| JobStoreError::Io {
            what: "write",
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        self.fs.write_atomic(&path, &bytes).map_err(|source| JobStoreError::Io { what: "write", path, source })
    }

    /// The entry of `job_id`, if stored.
    ///
    /// Errors: unreadable ([`JobStoreError::Io`]) or not a stored job ([`JobStoreError::Corrupt`]).
    pub fn get(&self, job_id: &str) -> Result<Option<StoredJob>, JobStoreError> {
        let path = self.path(job_id);
        if !self.fs.exists(&path) {
            return Ok(None);
        }
        self.read(&path).map(Some)
    }

    fn read(&self, path: &str) -> Result<StoredJob, JobStoreError> {
        let bytes =
            self.fs.read(path).map_err(|source| JobStoreError::Io { what: "read", path: path.to_string(), source })?;
        let job: StoredJob = serde_json::from_slice(&bytes)
            .map_err(|e| JobStoreError::Corrupt { path: path.to_string(), reason: e.to_string() })?;
        if job.version != STORED_JOB_VERSION {
            return Err(JobStoreError::Corrupt {
                path: path.to_string(),
                reason: format!("version {} (this rfy reads {STORED_JOB_VERSION})", job.version),
            });
        }
        Ok(job)
    }

    /// Every stored job, by job id (temporary files of an interrupted write are ignored).
    ///
    /// Errors: as [`JobStore::get`], or the directory cannot be listed.
    pub fn list(&self) -> Result<Vec<StoredJob>, JobStoreError> {
        if !self.fs.exists(&self.dir) {
            return Ok(Vec::new());
        }
        let mut names = self.fs.list(&self.dir).map_err(|source| JobStoreError::Io {
            what: "list",
            path: self.dir.clone(),
            source,
        })?;
        names.retain(|n| n.ends_with(".json"));
        names.sort();
        names.iter().map(|n| self.read(&fs::join(&self.dir, n))).collect()
    }

    /// Removes `job_id`'s entry; a missing one is fine.
    ///
    /// Errors: [`JobStoreError::Io`] naming the file.
    pub fn remove(&self, job_id: &str) -> Result<(), JobStoreError> {
        let path = self.path(job_id);
        if !self.fs.exists(&path) {
            return Ok(());
        }
        self.fs.remove_file(&path).map_err(|source| JobStoreError::Io { what: "remove", path, source })
    }
}

/// The job id of the application-mode or per-job job of YARN application
/// `application_<cluster timestamp>_<sequence>` (as Flink derives the fixed
/// job id of an application cluster from its cluster id), so every attempt
/// of the application names its job the same: 16 hex digits of a 64-bit
/// FNV-1a hash of the application id (so ids of one cluster differ in their
/// first digits, which sinks use in file names), then the sequence number
/// as 16 hex digits. `None` if `app` is not an application id.
pub fn derived_job_id(app: &str) -> Option<String> {
    let mut parts = app.strip_prefix("application_")?.split('_');
    let _ts: u64 = parts.next()?.parse().ok()?;
    let seq: u64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    let hash = app.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
    Some(format!("{hash:016x}{seq:016x}"))
}

/// The application attempt number inside a container id
/// (`container_[e<epoch>_]<cluster ts>_<app seq>_<attempt>_<container seq>`).
pub fn attempt_of_container(container_id: &str) -> Option<u32> {
    let fields: Vec<&str> = container_id.strip_prefix("container_")?.split('_').collect();
    let fields = match fields.first() {
        Some(f) if f.starts_with('e') => &fields[1..],
        _ => &fields[..],
    };
    if fields.len() != 4 {
        return None;
    }
    fields[2].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::JobEnd;

    #[test]
    fn derived_ids_are_deterministic_and_distinct() {
        let a = derived_job_id("application_1764331234567_0003").unwrap();
        assert_eq!(a.len(), 32);
        assert_eq!(a, derived_job_id("application_1764331234567_0003").unwrap());
        let b = derived_job_id("application_1764331234567_0004").unwrap();
        assert_ne!(a[..8], b[..8], "ids of one cluster differ in their first digits");
        assert_eq!(derived_job_id("application_x_1"), None);
        assert_eq!(derived_job_id("job_1_2"), None);
    }

    #[test]
    fn attempt_from_container_ids() {
        assert_eq!(attempt_of_container("container_1764331234567_0003_02_000001"), Some(2));
        assert_eq!(attempt_of_container("container_e17_1764331234567_0003_01_000001"), Some(1));
        assert_eq!(attempt_of_container("container_1_2_3"), None);
        assert_eq!(attempt_of_container("nonsense"), None);
    }

    #[test]
    fn store_round_trip_on_the_local_file_system() {
        let tmp = tempfile::tempdir().unwrap();
        let store = JobStore::open(&format!("file://{}", tmp.path().display())).unwrap();
        assert!(store.list().unwrap().is_empty());
        let job = StoredJob {
            version: STORED_JOB_VERSION,
            job_id: "00000000000000010000000000000002".into(),
            name: "wc".into(),
            program: StoredProgram::Program { program: "wordcount".into(), args: vec!["--input".into()] },
            checkpoint_dir: Some("hdfs:///ck/00000000000000010000000000000002".into()),
            final_state: None,
            attempt: 1,
        };
        store.put(&job).unwrap();
        let mut ended = job.clone();
        ended.final_state = Some(Outcome::new(JobEnd::Finished, "ok"));
        store.put(&ended).unwrap();
        assert_eq!(store.get(&job.job_id).unwrap(), Some(ended.clone()));
        assert_eq!(store.list().unwrap(), vec![ended]);
        std::fs::write(tmp.path().join("jobstore/bad.json"), b"{").unwrap();
        let e = store.list().unwrap_err().to_string();
        assert!(e.contains("bad.json"), "{e}");
        std::fs::remove_file(tmp.path().join("jobstore/bad.json")).unwrap();
        store.remove(&job.job_id).unwrap();
        store.remove(&job.job_id).unwrap();
        assert!(store.list().unwrap().is_empty());
    }
}
