//! Phase two of the file sink's two-phase commit and the partition commit.
//!
//! * Pending files (`.<name>.pending` in their bucket) are renamed to their
//!   final names when the checkpoint that made them pending completes, or
//!   after a restore from it (idempotently: a file already committed stays).
//! * Partition commit (Flink's `sink.partition-commit.policy.kind =
//!   success-file`): after committing, each subtask writes its progress — the
//!   watermark and processing time of that checkpoint, and the time buckets
//!   it wrote that are not marked complete yet — to
//!   `<base>/.partition-commit/<operator uid>-<subtask>.json`. A bucket whose
//!   end every subtask's progress has passed holds all its records in
//!   committed files: it gets an empty `_SUCCESS` file. Subtask 0 does this
//!   at each completed checkpoint, every subtask when its input ends.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::error::TaskError;
use crate::fs::{join, FileSystem};

/// File name that marks a complete partition (Flink's `_SUCCESS`).
pub const SUCCESS_FILE: &str = "_SUCCESS";
/// Directory under the base path holding the subtasks' progress files.
pub const PROGRESS_DIR: &str = ".partition-commit";

/// A file waiting for its checkpoint to complete (operator state item).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingFile {
    /// The checkpoint that commits it ([`UNASSIGNED`] until its barrier).
    pub checkpoint_id: u64,
    /// Bucket id (relative directory, empty for the base path).
    pub bucket: String,
    /// Final file name; the pending file is `.<name>.pending`.
    pub name: String,
}

/// `PendingFile::checkpoint_id` of a file made pending since the last
/// barrier: the next barrier assigns it.
pub(crate) const UNASSIGNED: u64 = u64::MAX;

/// A time bucket a subtask wrote, not yet known to be marked complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OpenBucket {
    /// End of its range (ms, exclusive).
    pub end: i64,
    /// Event time (the watermark completes it) or processing time.
    pub event_time: bool,
}

/// One subtask's progress as of a completed checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Progress {
    /// The subtask's watermark at the checkpoint's barrier (ms).
    pub watermark: i64,
    /// Its processing time at the barrier (ms).
    pub processing_time: i64,
    /// Time buckets it wrote that may lack `_SUCCESS`.
    pub buckets: BTreeMap<String, OpenBucket>,
}

/// The file system side of one sink subtask, shared with the checkpoint
/// completion callback.
pub(crate) struct Committer {
    pub fs: Arc<dyn FileSystem>,
    pub base: String,
    /// Progress file name prefix (`<operator uid>-`).
    pub uid: String,
    pub subtask: u32,
    pub parallelism: u32,
    pub success_file: bool,
    pub state: Mutex<CommitState>,
}

/// What the completion callback and the writer share.
#[derive(Default)]
pub(crate) struct CommitState {
    pub pending: Vec<PendingFile>,
    /// Progress at each barrier not yet completed, by checkpoint id.
    pub progress: Vec<(u64, Progress)>,
}

impl Committer {
    pub fn dir(&self, bucket: &str) -> String {
        if bucket.is_empty() {
            self.base.clone()
        } else {
            join(&self.base, bucket)
        }
    }
    pub fn path(&self, bucket: &str, name: &str) -> String {
        join(&self.dir(bucket), name)
    }

    /// Renames a pending file to its final name; a file already committed is fine.
    pub fn commit(&self, p: &PendingFile) -> Result<(), TaskError> {
        let from = self.path(&p.bucket, &format!(".{}.pending", p.name));
        let to = self.path(&p.bucket, &p.name);
        match self.fs.rename(&from, &to) {
            Ok(()) => Ok(()),
            Err(_) if self.fs.exists(&to) => Ok(()),
            Err(e) => Err(TaskError::io(format!("cannot commit {from} to {to} (checkpoint {})", p.checkpoint_id), e)),
        }
    }

    /// Checkpoint `id` completed: commits its pending files and earlier
    /// ones, then records the progress and (subtask 0) marks complete buckets.
    pub fn checkpoint_complete(&self, id: u64) {
        let progress = {
            let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            st.pending.retain(|p| {
                if p.checkpoint_id > id {
                    return true;
                }
                if let Err(e) = self.commit(p) {
                    tracing::error!("{e}");
                }
                false
            });
            let done = st.progress.iter().rposition(|(c, _)| *c <= id);
            done.map(|i| st.progress.drain(..=i).next_back().expect("non-empty drain").1)
        };
        if let (true, Some(progress)) = (self.success_file, progress) {
            if let Err(e) = self.publish(&progress, self.subtask == 0) {
                tracing::warn!("partition commit of {}: {e}", self.base);
            }
        }
    }

    /// Writes this subtask's progress file and, if `mark`, the `_SUCCESS`
    /// files every subtask's progress allows.
    ///
    /// Errors: a progress or success file cannot be written.
    pub fn publish(&self, progress: &Progress, mark: bool) -> Result<(), TaskError> {
        let file = join(&join(&self.base, PROGRESS_DIR), &format!("{}{}.json", self.uid, self.subtask));
        let bytes = serde_json::to_vec(progress).map_err(|e| TaskError::State(format!("{file}: {e}")))?;
        self.fs.write_atomic(&file, &bytes).map_err(|e| TaskError::io(format!("cannot write {file}"), e))?;
        if mark {
            self.mark_complete()?;
        }
        Ok(())
    }

    /// Reads every subtask's progress; writes `_SUCCESS` into each bucket
    /// all of them have passed. A subtask without a progress file (yet)
    /// holds every bucket back.
    fn mark_complete(&self) -> Result<(), TaskError> {
        let dir = join(&self.base, PROGRESS_DIR);
        let mut all = Vec::with_capacity(self.parallelism as usize);
        for i in 0..self.parallelism {
            let file = join(&dir, &format!("{}{i}.json", self.uid));
            let Ok(bytes) = self.fs.read(&file) else { return Ok(()) };
            let p: Progress = serde_json::from_slice(&bytes)
                .map_err(|e| TaskError::State(format!("undecodable partition commit progress {file}: {e}")))?;
            all.push(p);
        }
        let watermark = all.iter().map(|p| p.watermark).min().unwrap_or(i64::MIN);
        let now = all.iter().map(|p| p.processing_time).min().unwrap_or(i64::MIN);
        let mut buckets: BTreeMap<&str, OpenBucket> = BTreeMap::new();
        for p in &all {
            buckets.extend(p.buckets.iter().map(|(k, v)| (k.as_str(), *v)));
        }
        for (bucket, b) in buckets {
            if b.end > if b.event_time { watermark } else { now } {
                continue;
            }
            let path = self.path(bucket, SUCCESS_FILE);
            if self.fs.exists(&path) {
                continue;
            }
            let made = self.fs.create(&path).and_then(|f| f.close());
            if let Err(e) = made {
                if !self.fs.exists(&path) {
                    return Err(TaskError::io(format!("cannot write {path}"), e));
                }
            }
            tracing::info!(partition = %self.dir(bucket), "partition complete: {SUCCESS_FILE} written");
        }
        Ok(())
    }

    /// True once `bucket` has its `_SUCCESS` file.
    pub fn is_marked(&self, bucket: &str) -> bool {
        self.fs.exists(&self.path(bucket, SUCCESS_FILE))
    }

    /// Deletes hidden part files (`.<prefix>-*.inprogress` / `.pending`) of
    /// runs other than `run` that are not in `keep` (`bucket/name`), in every
    /// bucket below the base path: data after the restored checkpoint, which
    /// the sources replay.
    ///
    /// Errors: a directory cannot be listed or a file removed.
    pub fn discard_uncommitted(&self, prefix: &str, run: &str, keep: &[String]) -> Result<(), TaskError> {
        let mut dirs = vec![String::new()];
        while let Some(bucket) = dirs.pop() {
            let dir = self.dir(&bucket);
            let names = match self.fs.list(&dir) {
                Ok(n) => n,
                Err(_) if !self.fs.exists(&dir) => continue,
                Err(e) => return Err(TaskError::io(format!("cannot list {dir}"), e)),
            };
            for file in names {
                let rel = if bucket.is_empty() { file.clone() } else { format!("{bucket}/{file}") };
                let hidden = file
                    .strip_prefix('.')
                    .and_then(|f| f.strip_suffix(".pending").or_else(|| f.strip_suffix(".inprogress")));
                match hidden {
                    Some(name) => {
                        let kept = keep.iter().any(|k| *k == join_rel(&bucket, name));
                        if !name.starts_with(prefix) || name.contains(&format!("-{run}-")) || kept {
                            continue;
                        }
                        let path = self.dir(&rel);
                        tracing::info!(file = %path, "discarding output written after the restored checkpoint");
                        self.fs.remove_file(&path).map_err(|e| TaskError::io(format!("cannot remove {path}"), e))?;
                    }
                    None if file.starts_with(['.', '_']) || file.starts_with(prefix) => {}
                    None => {
                        let path = self.dir(&rel);
                        let is_dir =
                            self.fs.status(&path).map_err(|e| TaskError::io(format!("cannot stat {path}"), e))?;
                        if is_dir.is_some_and(|s| s.is_dir) {
                            dirs.push(rel);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// `bucket/name`, or `name` in the base path.
pub(crate) fn join_rel(bucket: &str, name: &str) -> String {
    if bucket.is_empty() {
        name.to_string()
    } else {
        format!("{bucket}/{name}")
    }
}
