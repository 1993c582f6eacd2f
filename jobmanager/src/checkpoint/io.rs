//! The checkpoint coordinator's storage work: blocking calls on a
//! [`CheckpointStorage`] (HDFS or local), which the coordinator hands out as
//! plans and closures so that the JobMaster runs them off its own task (its
//! storage queue, `job_master/storage.rs`) and feeds their results back.

use std::sync::Arc;

use rfy_runtime::checkpoint::{
    checkpoint_dir_name, join, open_storage, CheckpointError, CheckpointMetadata, CheckpointStorage, RestoreSource,
    METADATA_FILE,
};

use super::error::{AbortReason, Damaged, RestoreError};

/// Opens the storage of a URI: [`open_storage`] in production; a stand-in
/// (e.g. a stalled storage) in unit tests.
pub(crate) type StorageOpener = Arc<dyn Fn(&str) -> Result<Arc<dyn CheckpointStorage>, CheckpointError> + Send + Sync>;

/// The production opener: the file system registered for the URI's scheme.
pub(crate) fn default_opener() -> StorageOpener {
    Arc::new(|uri: &str| open_storage(uri))
}

/// Removes directory `dir`, logging (not failing on) an error: what is left
/// behind is garbage, not a wrong result.
pub(crate) fn remove_dir(storage: &dyn CheckpointStorage, dir: &str) {
    if let Err(e) = storage.remove_dir(dir) {
        tracing::warn!("cannot remove checkpoint directory: {e}");
    }
}

/// `local`, or `hdfs://host:port`: storages with the same key can rename between them.
fn authority(uri: &str) -> String {
    match uri.strip_prefix("hdfs://") {
        Some(rest) => format!("hdfs://{}", rest.split('/').next().unwrap_or("")),
        None => "local".into(),
    }
}

/// Moves the staged checkpoint `from` (in `src`) to `to` (in `dst`): a rename
/// on the same file system, else a copy of every file `meta` references, then a delete.
fn move_checkpoint(
    src: &dyn CheckpointStorage,
    dst: &dyn CheckpointStorage,
    from: &str,
    to: &str,
    meta: &CheckpointMetadata,
) -> Result<(), CheckpointError> {
    if !src.exists(from) {
        return dst.mkdirs(to);
    }
    if authority(from) == authority(to) {
        return src.rename(from, to);
    }
    for h in meta.operators.values().flat_map(|o| o.subtasks.iter()) {
        let bytes = src.read(&join(from, &h.file))?;
        dst.write(&join(to, &h.file), &bytes)?;
    }
    remove_dir(src, from);
    Ok(())
}

/// The storage work that completes one checkpoint (see
/// `Coordinator::next_write`): copy the state files of finished tasks into
/// it, move a savepoint to its target, then write `_metadata` last and
/// atomically. A failure removes what was written.
pub(crate) struct WritePlan {
    /// The checkpoint's id.
    pub(crate) id: u64,
    pub(super) storage: Arc<dyn CheckpointStorage>,
    pub(super) opener: StorageOpener,
    /// Where tasks wrote its files (`<job dir>/chk-<id>`).
    pub(super) staged: String,
    /// Where its `_metadata` goes (`staged`, or the savepoint's directory).
    pub(super) location: String,
    /// `(from, to)` state files of finished tasks, carried forward.
    pub(super) carry: Vec<(String, String)>,
    pub(super) metadata: CheckpointMetadata,
    pub(super) savepoint: bool,
}

impl WritePlan {
    /// Runs the plan (blocking: one or more storage calls).
    ///
    /// Errors: [`AbortReason::Carry`] or [`AbortReason::Write`] with the
    /// storage's error naming the file; the checkpoint's files are removed.
    pub(crate) fn run(self) -> Result<(), AbortReason> {
        let storage = &*self.storage;
        for (from, to) in &self.carry {
            let copied = storage.read(from).and_then(|bytes| storage.write(to, &bytes));
            if let Err(e) = copied {
                remove_dir(storage, &self.staged);
                return Err(AbortReason::Carry(e));
            }
        }
        let written = (|| {
            let target = (self.opener)(&self.location)?;
            // A checkpoint's directory needs no mkdirs: the write below
            // creates it when no task had state (one NameNode call less).
            if self.savepoint {
                move_checkpoint(storage, &*target, &self.staged, &self.location, &self.metadata)?;
            }
            target.write(&join(&self.location, METADATA_FILE), &self.metadata.to_bytes())
        })();
        if let Err(e) = written {
            if let Ok(t) = (self.opener)(&self.location) {
                remove_dir(&*t, &self.location);
            }
            remove_dir(storage, &self.staged);
            return Err(AbortReason::Write(e));
        }
        Ok(())
    }
}

/// Opens the staging storage at `base` (`None`: no checkpoint storage configured).
///
/// Errors: the storage cannot be opened (e.g. an unreachable NameNode), naming the URI.
pub(crate) fn open(
    opener: &StorageOpener,
    base: Option<&str>,
) -> Result<Option<Arc<dyn CheckpointStorage>>, CheckpointError> {
    base.map(|b| opener(b)).transpose()
}

/// Reads and fully checks (checksums included) the savepoint or checkpoint
/// at `dir` for a job of max parallelism `max_parallelism`.
///
/// Errors: missing, damaged, or taken with another max parallelism.
pub(crate) fn load_external(
    opener: &StorageOpener,
    dir: &str,
    max_parallelism: u32,
) -> Result<RestoreSource, RestoreError> {
    let storage = opener(dir)?;
    let metadata = CheckpointMetadata::read(&*storage, dir)?;
    metadata.verify_files(&*storage, dir, true)?;
    if metadata.max_parallelism != max_parallelism {
        return Err(RestoreError::MaxParallelism {
            dir: dir.to_string(),
            found: metadata.max_parallelism,
            expected: max_parallelism,
        });
    }
    Ok(RestoreSource { dir: dir.to_string(), metadata })
}

/// The `chk-<n>` directories in `job_dir`, ascending, each with whether it
/// has a `_metadata` (completed).
///
/// Errors: the directory cannot be listed.
pub(crate) fn scan_job_dir(
    storage: &dyn CheckpointStorage,
    job_dir: &str,
) -> Result<Vec<(u64, bool)>, CheckpointError> {
    let mut ids: Vec<u64> =
        storage.list(job_dir)?.iter().filter_map(|n| n.strip_prefix("chk-").and_then(|i| i.parse().ok())).collect();
    ids.sort_unstable();
    Ok(ids
        .into_iter()
        .map(|id| (id, storage.exists(&join(&join(job_dir, &checkpoint_dir_name(id)), METADATA_FILE))))
        .collect())
}

/// The newest intact one of `candidates` (`(id, dir)`, oldest first): its
/// `_metadata` parses and every file it references is there with its size;
/// with the damaged ones met on the way (newest first).
pub(crate) fn find_restorable(
    storage: &dyn CheckpointStorage,
    candidates: &[(u64, String)],
) -> (Option<RestoreSource>, Vec<Damaged>) {
    let mut damaged = Vec::new();
    for (id, dir) in candidates.iter().rev() {
        let checked =
            CheckpointMetadata::read(storage, dir).and_then(|m| m.verify_files(storage, dir, false).map(|_| m));
        match checked {
            Ok(metadata) => return (Some(RestoreSource { dir: dir.clone(), metadata }), damaged),
            Err(error) => damaged.push(Damaged { id: *id, dir: dir.clone(), error }),
        }
    }
    (None, damaged)
}
