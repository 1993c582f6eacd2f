//! One task's checkpointing hub, shared by the task's head, its chained
//! operators and its TaskManager.
//!
//! * The TaskManager hands a trigger to a source task ([`TaskCheckpointing::trigger`]);
//!   the source driver takes it between batches and snapshots its reader.
//! * At a barrier each stateful operator serializes its state
//!   ([`TaskCheckpointing::add_snapshot`]) and forwards the barrier; when the
//!   barrier has passed the whole chain the head calls
//!   [`TaskCheckpointing::barrier_passed`], which hands the bytes to the task's
//!   writer thread: processing goes on while they are written.
//! * The writer writes one file per operator and acknowledges (or declines)
//!   the checkpoint through the [`CheckpointResponder`].
//! * When the JobMaster completes a checkpoint, registered committers run
//!   (two-phase-commit sinks publish their pending files).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::format::{decode_framed, encode_framed_sized, frame_crc};
use super::keyed::KeyGroupRange;
use super::metadata::{CheckpointMetadata, StateHandle};
use super::storage::{join, open_storage, CheckpointStorage};
use super::{checkpoint_dir_name, file_safe, CheckpointError};
use crate::event::CheckpointBarrier;

/// A checkpoint to start at a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceTrigger {
    /// The barrier to inject.
    pub barrier: CheckpointBarrier,
    /// Stop-with-savepoint: emit nothing after the barrier; the job is
    /// canceled once the savepoint completes.
    pub stop: bool,
    /// Stop with drain (Flink's `flink stop --drain`, with `stop`): before
    /// the barrier the source emits the maximum watermark (every event-time
    /// window and timer fires) and `EndOfData` (operators flush); once the
    /// savepoint completed it ends the stream, so the tasks FINISH.
    pub drain: bool,
}

/// Where a task reports the outcome of its part of a checkpoint.
pub trait CheckpointResponder: Send + Sync {
    /// The task's state for `checkpoint_id` is durable: `(operator uid, file)` per operator with state.
    fn acknowledge(&self, checkpoint_id: u64, handles: Vec<(String, StateHandle)>);
    /// The task could not take its part of `checkpoint_id`.
    fn decline(&self, checkpoint_id: u64, reason: String);
    /// The task's source read all its input and waits for its final
    /// checkpoint (see [`TaskCheckpointing::final_checkpoint`]), so the
    /// JobMaster may trigger that at once. A hint only: without it the next
    /// periodic checkpoint is the final one.
    fn source_end_of_input(&self) {}
}

/// What one operator instance saves at a barrier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorSnapshot {
    /// Key groups the operator owned, if it has keyed state.
    pub key_groups: Option<(u32, u32)>,
    /// Keyed state: `(key group, bytes)` for each non-empty key group.
    #[serde(with = "super::blobs::keyed")]
    pub keyed: Vec<(u32, Vec<u8>)>,
    /// Operator state: a list of items, redistributed round robin when the
    /// parallelism changes (Flink's `ListState` operator state), e.g. source
    /// splits with their offsets, or a sink's pending files.
    #[serde(with = "super::blobs::items")]
    pub operator: Vec<Vec<u8>>,
}

#[derive(Serialize, Deserialize)]
struct StateFile {
    uid: String,
    subtask: u32,
    checkpoint_id: u64,
    snapshot: OperatorSnapshot,
}

/// Operator state items restored from one state file: `(file path, items)`.
pub type RestoredItems = (String, Vec<Vec<u8>>);

/// A completed checkpoint (or savepoint) to restore from.
#[derive(Debug, Clone)]
pub struct RestoreSource {
    /// Its directory (a local path or an `hdfs://` URI).
    pub dir: String,
    /// Its `_metadata`.
    pub metadata: CheckpointMetadata,
}

struct WriteJob {
    checkpoint_id: u64,
    snapshots: Vec<(String, OperatorSnapshot)>,
}

type Committer = Box<dyn Fn(u64) + Send + Sync>;

/// The checkpointing hub of one task (see the module docs).
pub struct TaskCheckpointing {
    job_dir: String,
    storage: Arc<dyn CheckpointStorage>,
    subtask: u32,
    exactly_once: bool,
    triggers: (flume::Sender<SourceTrigger>, flume::Receiver<SourceTrigger>),
    pending: Mutex<Vec<(String, OperatorSnapshot)>>,
    writer: Mutex<Option<flume::Sender<WriteJob>>>,
    responder: Arc<dyn CheckpointResponder>,
    restore: Option<RestoreSource>,
    committers: Mutex<Vec<Committer>>,
    name: String,
    /// Sources whose input ended wait for a final checkpoint.
    final_checkpoint: bool,
    /// The newest checkpoint whose completion this task was told (0: none).
    completed: AtomicU64,
    /// `state.checkpoints.num-retained`: how many completed checkpoints a
    /// restore may still choose from (the newest, or an older one when the
    /// newest turns out damaged).
    num_retained: u32,
}

impl std::fmt::Debug for TaskCheckpointing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskCheckpointing")
            .field("job_dir", &self.job_dir)
            .field("subtask", &self.subtask)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl TaskCheckpointing {
    /// A hub for subtask `subtask` (display name `name`) writing under
    /// `job_dir` (`<state.checkpoints.dir>/<job-id>`) in `storage`, aligned
    /// barriers when `exactly_once`, restoring from `restore` if given.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        job_dir: String,
        storage: Arc<dyn CheckpointStorage>,
        subtask: u32,
        exactly_once: bool,
        responder: Arc<dyn CheckpointResponder>,
        restore: Option<RestoreSource>,
        name: String,
    ) -> Self {
        TaskCheckpointing {
            job_dir,
            storage,
            subtask,
            exactly_once,
            triggers: flume::unbounded(),
            pending: Mutex::new(Vec::new()),
            writer: Mutex::new(None),
            responder,
            restore,
            committers: Mutex::new(Vec::new()),
            name,
            final_checkpoint: false,
            completed: AtomicU64::new(0),
            num_retained: 1,
        }
    }

    /// Makes a source whose input ended wait for a final checkpoint before it
    /// ends its stream (Flink's FLIP-147); only for jobs with periodic
    /// checkpoints, else nothing would ever trigger it.
    pub fn with_final_checkpoint(mut self, on: bool) -> Self {
        self.final_checkpoint = on;
        self
    }

    /// Sets `state.checkpoints.num-retained` (default 1, at least 1): a
    /// two-phase-commit sink must not reuse a transaction a retained
    /// checkpoint names, since a restore may fall back to any of them.
    pub fn with_num_retained(mut self, n: u32) -> Self {
        self.num_retained = n.max(1);
        self
    }

    /// `state.checkpoints.num-retained` (≥ 1): how many of the newest
    /// completed checkpoints a restore may use.
    pub fn num_retained(&self) -> u32 {
        self.num_retained
    }

    /// True if tasks end their stream only through a final checkpoint: an
    /// ended source sends `EndOfData`, injects one more barrier and sends
    /// `EndOfInput` once that checkpoint (or a later one) completed.
    pub fn final_checkpoint(&self) -> bool {
        self.final_checkpoint
    }

    /// The source of this task read all its input and now waits for its
    /// final checkpoint: tells the JobMaster (see
    /// [`CheckpointResponder::source_end_of_input`]).
    pub fn source_end_of_input(&self) {
        self.responder.source_end_of_input();
    }

    /// The newest checkpoint id this task was told completed (0: none yet).
    pub fn last_completed(&self) -> u64 {
        self.completed.load(Ordering::Acquire)
    }

    /// Waits up to `timeout` for a trigger (an ended source waiting for its
    /// final checkpoint, instead of spinning).
    pub fn wait_trigger(&self, timeout: Duration) -> Option<SourceTrigger> {
        self.triggers.1.recv_timeout(timeout).ok()
    }

    /// The job id (the last component of the job's checkpoint directory).
    pub fn job_id(&self) -> String {
        self.job_dir.trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_string()
    }

    /// True for EXACTLY_ONCE (input channels are blocked during alignment).
    pub fn exactly_once(&self) -> bool {
        self.exactly_once
    }

    /// The directory of checkpoint `id`.
    pub fn checkpoint_dir(&self, id: u64) -> String {
        join(&self.job_dir, &checkpoint_dir_name(id))
    }

    /// Asks the source of this task to inject a barrier (TaskManager side).
    pub fn trigger(&self, t: SourceTrigger) {
        let _ = self.triggers.0.send(t);
    }

    /// A pending trigger, if any (source driver side, once per batch).
    #[inline]
    pub fn poll_trigger(&self) -> Option<SourceTrigger> {
        self.triggers.1.try_recv().ok()
    }

    /// Adds one operator's snapshot for the barrier passing now.
    pub fn add_snapshot(&self, uid: &str, snapshot: OperatorSnapshot) {
        lock(&self.pending).push((uid.to_string(), snapshot));
    }

    /// An operator could not snapshot: the checkpoint is declined.
    pub fn decline(&self, checkpoint_id: u64, reason: String) {
        lock(&self.pending).clear();
        self.responder.decline(checkpoint_id, reason);
    }

    /// The barrier has passed the whole chain: write the collected snapshots
    /// in the background and acknowledge when they are durable.
    pub fn barrier_passed(&self, barrier: &CheckpointBarrier) {
        let snapshots = std::mem::take(&mut *lock(&self.pending));
        let job = WriteJob { checkpoint_id: barrier.id, snapshots };
        let mut writer = lock(&self.writer);
        if writer.is_none() {
            let (tx, rx) = flume::unbounded::<WriteJob>();
            let (dir, subtask, responder, storage) =
                (self.job_dir.clone(), self.subtask, self.responder.clone(), self.storage.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("ckpt-writer {}", self.name.chars().take(40).collect::<String>()))
                .spawn(move || {
                    for job in rx.iter() {
                        let id = job.checkpoint_id;
                        let started = std::time::Instant::now();
                        match write_snapshots(&*storage, &dir, subtask, job) {
                            Ok(handles) => {
                                let bytes: u64 = handles.iter().map(|h| h.1.size).sum();
                                tracing::debug!(
                                    checkpoint = id,
                                    subtask,
                                    bytes,
                                    ms = started.elapsed().as_millis() as u64,
                                    "state written"
                                );
                                responder.acknowledge(id, handles)
                            }
                            Err(e) => responder.decline(id, e.to_string()),
                        }
                    }
                });
            match spawned {
                Ok(_) => *writer = Some(tx),
                Err(e) => {
                    self.responder.decline(barrier.id, format!("cannot start the checkpoint writer thread: {e}"));
                    return;
                }
            }
        }
        if let Some(tx) = writer.as_ref() {
            let _ = tx.send(job);
        }
    }

    /// Registers a function run with the checkpoint id when a checkpoint completes.
    pub fn on_checkpoint_complete(&self, f: impl Fn(u64) + Send + Sync + 'static) {
        lock(&self.committers).push(Box::new(f));
    }

    /// Checkpoint `id` completed (TaskManager side): runs the committers.
    pub fn notify_complete(&self, id: u64) {
        for c in lock(&self.committers).iter() {
            c(id);
        }
        self.completed.fetch_max(id, Ordering::AcqRel);
    }

    /// The checkpoint this task restores from, if any.
    pub fn restore_source(&self) -> Option<&RestoreSource> {
        self.restore.as_ref()
    }

    /// Restored keyed state of operator `uid` for the key groups in `range`:
    /// `(key group, bytes, file it came from)`. Reads every old subtask's file
    /// whose key groups overlap `range` (all of them after a rescale).
    ///
    /// Errors: a missing or damaged file, named.
    pub fn restored_keyed(
        &self,
        uid: &str,
        range: KeyGroupRange,
    ) -> Result<Vec<(u32, Vec<u8>, String)>, CheckpointError> {
        let Some(src) = &self.restore else { return Ok(Vec::new()) };
        let Some(op) = src.metadata.operators.get(uid) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for h in &op.subtasks {
            let Some((first, last)) = h.key_groups else { continue };
            if last < range.first || first > range.last {
                continue;
            }
            let (path, file) = read_state_file(&src.dir, h)?;
            for (kg, bytes) in file.snapshot.keyed {
                if range.contains(kg) {
                    out.push((kg, bytes, path.clone()));
                }
            }
        }
        Ok(out)
    }

    /// Restored operator state items of `uid` for subtask `subtask` of
    /// `parallelism`: its own items at the same parallelism, else every
    /// item `k` (over all old subtasks in order) with `k % parallelism == subtask`.
    ///
    /// Errors: a missing or damaged file, named.
    pub fn restored_operator(
        &self,
        uid: &str,
        subtask: u32,
        parallelism: u32,
    ) -> Result<Option<Vec<Vec<u8>>>, CheckpointError> {
        let Some(src) = &self.restore else { return Ok(None) };
        let Some(op) = src.metadata.operators.get(uid) else { return Ok(None) };
        if op.parallelism == parallelism {
            return match op.subtasks.iter().find(|h| h.subtask == subtask) {
                Some(h) => Ok(Some(read_state_file(&src.dir, h)?.1.snapshot.operator)),
                None => Ok(Some(Vec::new())),
            };
        }
        let mut handles: Vec<&StateHandle> = op.subtasks.iter().collect();
        handles.sort_by_key(|h| h.subtask);
        let mut all = Vec::new();
        for h in handles {
            all.extend(read_state_file(&src.dir, h)?.1.snapshot.operator);
        }
        Ok(Some(
            all.into_iter().enumerate().filter(|(k, _)| *k as u32 % parallelism == subtask).map(|(_, v)| v).collect(),
        ))
    }

    /// Restored broadcast state items of `uid` for subtask `subtask`: the
    /// items of one old subtask, `subtask % old parallelism` (Flink's
    /// `OperatorStateHandle.Mode.BROADCAST` redistribution in
    /// `RoundRobinOperatorStateRepartitioner`: every subtask snapshots an
    /// equal copy, each new subtask reads one), with the file they come
    /// from. `None` if the checkpoint holds no state of `uid`.
    ///
    /// Errors: a missing or damaged file, named.
    pub fn restored_operator_copy(&self, uid: &str, subtask: u32) -> Result<Option<RestoredItems>, CheckpointError> {
        let Some(src) = &self.restore else { return Ok(None) };
        let Some(op) = src.metadata.operators.get(uid) else { return Ok(None) };
        let mut handles: Vec<&StateHandle> = op.subtasks.iter().collect();
        handles.sort_by_key(|h| h.subtask);
        match handles.get(subtask as usize % handles.len().max(1)) {
            Some(h) => {
                let (path, file) = read_state_file(&src.dir, h)?;
                Ok(Some((path, file.snapshot.operator)))
            }
            None => Ok(None),
        }
    }

    /// Restored operator state items of `uid` from every old subtask (a
    /// union, Flink's union list state): for cleanup that needs the whole picture.
    ///
    /// Errors: a missing or damaged file, named.
    pub fn restored_operator_union(&self, uid: &str) -> Result<Vec<Vec<u8>>, CheckpointError> {
        let Some(src) = &self.restore else { return Ok(Vec::new()) };
        let Some(op) = src.metadata.operators.get(uid) else { return Ok(Vec::new()) };
        let mut all = Vec::new();
        for h in &op.subtasks {
            all.extend(read_state_file(&src.dir, h)?.1.snapshot.operator);
        }
        Ok(all)
    }
}

fn read_state_file(dir: &str, h: &StateHandle) -> Result<(String, StateFile), CheckpointError> {
    let path = join(dir, &h.file);
    let bytes = open_storage(dir)?.read(&path).map_err(|e| match e {
        CheckpointError::Io { source, .. } => CheckpointError::Unreadable { path: path.clone(), source },
        other => other,
    })?;
    if bytes.len() as u64 != h.size || frame_crc(&bytes) != h.crc32 {
        return Err(CheckpointError::Corrupt { path, reason: "size or checksum differs from _metadata".into() });
    }
    // Checks the payload against the CRC, then decodes.
    let file: StateFile = decode_framed(&bytes, Path::new(&path))?;
    Ok((path, file))
}

fn write_snapshots(
    storage: &dyn CheckpointStorage,
    job_dir: &str,
    subtask: u32,
    job: WriteJob,
) -> Result<Vec<(String, StateHandle)>, CheckpointError> {
    let dir = join(job_dir, &checkpoint_dir_name(job.checkpoint_id));
    let mut handles = Vec::new();
    for (uid, snapshot) in job.snapshots {
        let key_groups = snapshot.key_groups;
        let file_name = format!("{}-{subtask}", file_safe(&uid));
        let hint = snapshot.keyed.iter().map(|(_, b)| b.len() + 10).sum::<usize>()
            + snapshot.operator.iter().map(|b| b.len() + 5).sum::<usize>()
            + 256;
        let img = encode_framed_sized(
            &StateFile { uid: uid.clone(), subtask, checkpoint_id: job.checkpoint_id, snapshot },
            &uid,
            hint,
        )?;
        storage.write(&join(&dir, &file_name), &img)?;
        handles.push((
            uid,
            StateHandle { subtask, file: file_name, size: img.len() as u64, crc32: frame_crc(&img), key_groups },
        ));
    }
    Ok(handles)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TaskError;

    #[test]
    fn a_missing_or_damaged_state_file_fails_the_task_as_a_damaged_restore_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let chk = dir.path().display().to_string();
        let path = join(&chk, "op-0");
        let handle = StateHandle { subtask: 0, file: "op-0".into(), size: 3, crc32: 0, key_groups: None };
        let missing = read_state_file(&chk, &handle).err().expect("no file");
        assert!(matches!(missing, CheckpointError::Unreadable { .. }), "{missing}");
        assert_eq!(TaskError::from(missing).damaged_checkpoint_file(), Some(path.as_str()));

        std::fs::write(dir.path().join("op-0"), b"abcd").unwrap();
        let damaged = read_state_file(&chk, &handle).err().expect("wrong size");
        assert!(damaged.to_string().starts_with(&format!("corrupt checkpoint file {path}")), "{damaged}");
        assert_eq!(TaskError::from(damaged).damaged_checkpoint_file(), Some(path.as_str()));

        // Storage I/O in general (e.g. writing a snapshot) is not a damaged restore.
        let io =
            CheckpointError::Io { context: format!("cannot write {path}"), source: std::io::ErrorKind::Other.into() };
        assert_eq!(TaskError::from(io).damaged_checkpoint_file(), None);
    }
}
