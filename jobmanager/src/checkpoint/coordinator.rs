//! The checkpoint coordinator of one job (see the module docs of `checkpoint`).
//! It does no RPC and no storage call itself: the JobMaster asks it what to
//! do and tells it what happened, and runs its storage work (`io.rs`) off
//! the JobMaster's task, so every decision here is testable without a cluster.
//!
//! Completions are written one at a time, in id order: a checkpoint whose
//! acknowledgements are all in waits (`ready`) until the write of the one
//! before it finished, and is planned only then, from the state that write
//! left (the files finished tasks carry forward, retention).

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rfy_runtime::checkpoint::{
    checkpoint_dir_name, join, CheckpointError, CheckpointMetadata, CheckpointStorage, OperatorMeta, RestoreSource,
    SavepointFormat, StateHandle,
};
use rfy_runtime::JobGraph;

use super::error::{AbortReason, Damaged, RestoreError};
use super::io::{self, StorageOpener, WritePlan};
use super::settings::CheckpointSettings;

/// A savepoint asked for through REST or the CLI.
#[derive(Debug, Clone)]
pub(crate) struct SavepointRequest {
    /// The REST trigger id.
    pub(crate) trigger_id: String,
    /// Parent directory (local path or `hdfs://` URI); the savepoint goes to
    /// `savepoint-<job6>-<id>` in it.
    pub(crate) target: String,
    /// Stop the job once it completes.
    pub(crate) stop: bool,
    /// With `stop`: drain first (Flink's `flink stop --drain`): the sources
    /// emit the maximum watermark and end of data before the barrier, and
    /// end their streams once it completed, so the tasks FINISH.
    pub(crate) drain: bool,
    /// The format asked for; recorded in `_metadata` (rfy writes both the same way).
    pub(crate) format: SavepointFormat,
}

/// One execution's part of a checkpoint: `(operator uid, state file)` per operator with state.
type TaskState = Vec<(String, StateHandle)>;

struct Pending {
    timestamp_ms: u64,
    started: Instant,
    savepoint: Option<SavepointRequest>,
    waiting: HashSet<String>,
    total: u32,
    /// Per acknowledging execution, its `(operator uid, state)` handles.
    acks: BTreeMap<String, TaskState>,
}

/// A completed checkpoint kept for recovery.
#[derive(Debug, Clone)]
struct Retained {
    id: u64,
    dir: String,
}

/// The checkpoint whose completion is being written.
struct Writing {
    id: u64,
    savepoint: Option<SavepointRequest>,
    timestamp_ms: u64,
    location: String,
    /// Every execution's state in it, acknowledged or carried forward.
    states: Vec<(String, TaskState)>,
    size: u64,
}

/// A checkpoint that was aborted.
#[derive(Debug)]
pub(crate) struct Aborted {
    pub(crate) id: u64,
    pub(crate) reason: AbortReason,
    pub(crate) savepoint: Option<SavepointRequest>,
}

/// A checkpoint that completed.
#[derive(Debug)]
pub(crate) struct Completion {
    pub(crate) id: u64,
    /// Its directory (where its `_metadata` is).
    pub(crate) location: String,
    pub(crate) savepoint: Option<SavepointRequest>,
    pub(crate) state_size: u64,
    pub(crate) trigger_ms: u64,
    /// Two-phase-commit sinks may publish (checkpoints and stop-with-savepoint;
    /// not intermediate savepoints, as in Flink ≥ 1.15).
    pub(crate) commit: bool,
}

/// The checkpoint to restore from, as a restore lookup found it.
pub(crate) struct Restorable {
    /// The newest intact retained checkpoint, if any.
    pub(crate) source: Option<RestoreSource>,
    /// The newer ones that failed their check (no longer retained once applied).
    pub(crate) damaged: Vec<Damaged>,
}

/// The coordinator.
pub(crate) struct Coordinator {
    job_id: String,
    settings: CheckpointSettings,
    next_id: u64,
    pending: BTreeMap<u64, Pending>,
    /// Every acknowledgement in, waiting for the write before it.
    ready: BTreeMap<u64, Pending>,
    writing: Option<Writing>,
    retained: VecDeque<Retained>,
    last_trigger: Option<Instant>,
    last_completion: Option<Instant>,
    parallelism_of: BTreeMap<String, u32>,
    max_parallelism: u32,
    opener: StorageOpener,
    /// Storage of the staging base (checkpoint directory), once opened.
    storage: Option<Arc<dyn CheckpointStorage>>,
    /// Directories in `storage` to remove (aborted checkpoints, retention).
    removals: Vec<String>,
    /// Per execution: the directory and state handles of the newest
    /// completed checkpoint holding its state (what a finished task carries
    /// forward). Only completed ones: an aborted checkpoint's files are gone.
    last_acks: BTreeMap<String, (String, TaskState)>,
    /// Executions that finished (final checkpoint mode): later checkpoints
    /// do not wait for them and carry their last state forward.
    finished: HashSet<String>,
    /// Source executions that reported the end of their input (final
    /// checkpoint mode): they wait for a checkpoint triggered after it.
    ended_sources: HashSet<String>,
    /// Every source has ended and no checkpoint was triggered since: the
    /// final checkpoint is due now rather than at the next interval.
    final_due: bool,
}

impl Coordinator {
    /// A coordinator for job `job_id`; its storage is opened apart (a
    /// storage call, see [`Coordinator::open_call`]). `opener` opens storages by URI.
    pub(crate) fn new(job_id: &str, settings: CheckpointSettings, graph: &JobGraph, opener: StorageOpener) -> Self {
        let parallelism_of = graph
            .vertices
            .iter()
            .flat_map(|v| v.operators.iter().map(move |o| (o.uid.clone(), v.parallelism)))
            .collect();
        Coordinator {
            job_id: job_id.to_string(),
            settings,
            next_id: 1,
            pending: BTreeMap::new(),
            ready: BTreeMap::new(),
            writing: None,
            retained: VecDeque::new(),
            last_trigger: None,
            last_completion: None,
            parallelism_of,
            max_parallelism: graph.max_parallelism,
            opener,
            storage: None,
            removals: Vec::new(),
            last_acks: BTreeMap::new(),
            finished: HashSet::new(),
            ended_sources: HashSet::new(),
            final_due: false,
        }
    }

    pub(crate) fn settings(&self) -> &CheckpointSettings {
        &self.settings
    }

    /// The storage call opening the staging storage; its result goes to [`Coordinator::opened`].
    ///
    /// Errors (of the call): the storage cannot be opened (e.g. an unreachable HDFS).
    pub(crate) fn open_call(
        &self,
    ) -> impl FnOnce() -> Result<Option<Arc<dyn CheckpointStorage>>, CheckpointError> + Send + 'static {
        let (opener, base) = (self.opener.clone(), self.settings.staging_base().cloned());
        move || io::open(&opener, base.as_deref())
    }

    /// The staging storage is open (`None`: none configured).
    pub(crate) fn opened(&mut self, storage: Option<Arc<dyn CheckpointStorage>>) {
        self.storage = storage;
    }

    /// The storage call reading and fully checking (checksums included) the
    /// savepoint or checkpoint at `dir` for the first restore.
    ///
    /// Errors (of the call): missing, damaged, or taken with another max parallelism.
    pub(crate) fn load_external_call(
        &self,
        dir: &str,
    ) -> impl FnOnce() -> Result<RestoreSource, RestoreError> + Send + 'static {
        let (opener, dir, max_parallelism) = (self.opener.clone(), dir.to_string(), self.max_parallelism);
        move || io::load_external(&opener, &dir, max_parallelism)
    }

    /// `<staging base>/<job-id>`: where tasks write snapshot files; `None`
    /// when neither a checkpoint nor a savepoint directory is configured.
    pub(crate) fn job_dir(&self) -> Option<String> {
        self.settings.staging_base().map(|b| join(b, &self.job_id))
    }

    /// The storage call listing the `chk-<n>` directories a previous
    /// ApplicationMaster attempt left in the job's directory (`None`: no
    /// storage); its result goes to [`Coordinator::recovered`].
    ///
    /// Errors (of the call): the directory cannot be listed.
    pub(crate) fn scan_call(
        &self,
    ) -> Option<impl FnOnce() -> Result<Vec<(u64, bool)>, CheckpointError> + Send + 'static> {
        let (storage, dir) = (self.storage.clone()?, self.job_dir()?);
        Some(move || io::scan_job_dir(&*storage, &dir))
    }

    /// Retains the completed checkpoints a previous attempt left (`found`:
    /// `(id, completed)` of every `chk-<n>`, ascending; at most
    /// `state.checkpoints.num-retained` of the newest completed ones), and
    /// makes new ids continue after the highest one found (complete or not,
    /// so no directory is written twice). Returns how many it retained; a
    /// restore lookup ([`Coordinator::restorable_call`]) then checks them newest first.
    pub(crate) fn recovered(&mut self, found: &[(u64, bool)]) -> usize {
        let Some(dir) = self.job_dir() else { return 0 };
        if let Some((max, _)) = found.last() {
            self.continue_after(*max);
        }
        let complete: Vec<u64> = found.iter().filter(|(_, done)| *done).map(|(id, _)| *id).collect();
        let keep = self.settings.num_retained.max(1);
        for id in complete.iter().skip(complete.len().saturating_sub(keep)) {
            self.retained.push_back(Retained { id: *id, dir: join(&dir, &checkpoint_dir_name(*id)) });
        }
        self.retained.len()
    }

    /// Ids continue after a restored checkpoint's.
    pub(crate) fn continue_after(&mut self, id: u64) {
        self.next_id = self.next_id.max(id + 1);
    }

    /// Checkpoints triggered and not yet completed or aborted (pending,
    /// ready, being written).
    fn in_flight(&self) -> usize {
        self.pending.len() + self.ready.len() + usize::from(self.writing.is_some())
    }

    /// True while a completion is being written (a restore lookup waits for it).
    pub(crate) fn is_writing(&self) -> bool {
        self.writing.is_some()
    }

    /// True if a periodic checkpoint is due at `now`, or the final one
    /// (every source ended, see [`Coordinator::source_ended`]); both within
    /// `max-concurrent-checkpoints` (counting those being completed) and `min-pause`.
    pub(crate) fn periodic_due(&self, now: Instant) -> bool {
        let Some(interval) = self.settings.interval else { return false };
        if self.in_flight() >= self.settings.max_concurrent {
            return false;
        }
        if !self.final_due && self.last_trigger.is_some_and(|t| now.duration_since(t) < interval) {
            return false;
        }
        self.last_completion.is_none_or(|t| now.duration_since(t) >= self.settings.min_pause)
    }

    /// Source execution `execution_id` read all its input and waits for a
    /// checkpoint triggered after that (final checkpoint mode). Once every
    /// execution of `live_sources` (the sources not finished) has ended, the
    /// final checkpoint is due at once (Flink's checkpoints after tasks
    /// finish, without waiting out the interval): the job ends a checkpoint
    /// round trip after its input does.
    pub(crate) fn source_ended(&mut self, execution_id: &str, live_sources: &[&str]) {
        self.ended_sources.insert(execution_id.to_string());
        if live_sources.iter().all(|e| self.ended_sources.contains(*e)) {
            self.final_due = true;
        }
    }

    /// Time until the next periodic checkpoint or timeout check, for the
    /// JobMaster's wait.
    pub(crate) fn next_wakeup(&self, now: Instant) -> Duration {
        let mut wait = Duration::from_millis(500);
        if self.final_due {
            // Held back by a pending checkpoint (its completion wakes the
            // JobMaster) or by min-pause.
            let pause = self.last_completion.map(|t| (t + self.settings.min_pause).saturating_duration_since(now));
            wait = wait.min(pause.unwrap_or_default().max(Duration::from_millis(5)));
        }
        if let Some(interval) = self.settings.interval {
            let due = self.last_trigger.map(|t| (t + interval).saturating_duration_since(now)).unwrap_or_default();
            wait = wait.min(due.max(Duration::from_millis(5)));
        }
        wait
    }

    /// Registers a new checkpoint awaiting an acknowledgement from every task
    /// in `executions`; returns its id and trigger time (ms since epoch).
    ///
    /// Errors: a savepoint without any storage directory.
    pub(crate) fn begin(
        &mut self,
        now: Instant,
        now_ms: u64,
        executions: Vec<String>,
        savepoint: Option<SavepointRequest>,
    ) -> Result<(u64, u64), String> {
        if self.job_dir().is_none() {
            return Err("no checkpoint storage: set state.checkpoints.dir or state.savepoints.dir".into());
        }
        let id = self.next_id;
        self.next_id += 1;
        if savepoint.is_none() {
            self.last_trigger = Some(now);
        }
        // Every source receives this trigger after it ended: it is their final checkpoint.
        self.final_due = false;
        let total = executions.len() as u32;
        self.pending.insert(
            id,
            Pending {
                timestamp_ms: now_ms,
                started: now,
                savepoint,
                waiting: executions.into_iter().collect(),
                total,
                acks: BTreeMap::new(),
            },
        );
        Ok((id, now_ms))
    }

    /// `(acknowledged, total, trigger ms)` of checkpoint `id` while it is
    /// pending or waits for its write.
    pub(crate) fn progress(&self, id: u64) -> Option<(u32, u32, u64)> {
        self.pending
            .get(&id)
            .or_else(|| self.ready.get(&id))
            .map(|p| (p.total - p.waiting.len() as u32, p.total, p.timestamp_ms))
    }

    /// Moves pending checkpoint `id` (every acknowledgement in) to the write queue.
    fn make_ready(&mut self, id: u64) {
        if let Some(p) = self.pending.remove(&id) {
            self.ready.insert(id, p);
        }
    }

    /// Records an acknowledgement; true when checkpoint `id` has them all
    /// (it then waits for its write: [`Coordinator::next_write`]).
    pub(crate) fn acknowledge(&mut self, execution_id: &str, id: u64, handles: TaskState) -> bool {
        let Some(p) = self.pending.get_mut(&id) else { return false };
        if !p.waiting.remove(execution_id) {
            return false; // stale or duplicate (or it finished first, see `task_finished`)
        }
        p.acks.insert(execution_id.to_string(), handles);
        let all_in = p.waiting.is_empty();
        if all_in {
            self.make_ready(id);
        }
        all_in
    }

    /// Execution `execution_id` finished. Later checkpoints neither trigger
    /// nor wait for it, and hold a copy of the state it acknowledged last in
    /// a completed checkpoint, so a restore from them does not read its
    /// input again.
    ///
    /// With final checkpoints, pending checkpoints stop waiting for it too,
    /// and carry that state as well: a source may take the trigger of
    /// a checkpoint after its final one completed and then end without
    /// injecting that barrier (it no longer takes triggers), and nothing
    /// else would ever complete that checkpoint, while a source still
    /// waiting for its own final checkpoint needs it (or a later one, which
    /// max-concurrent holds back) to complete. Its state cannot have changed
    /// since: a source ends only after a completed checkpoint that follows
    /// its end of input, any other task once all its inputs did.
    /// Without final checkpoints a task's state moves on after its last
    /// checkpoint, so the pending checkpoints that still wait for it can never
    /// complete correctly: they are aborted (as when no completed checkpoint
    /// of this attempt holds its state, which final checkpoints rule out).
    ///
    /// Returns the pending checkpoints that now have every acknowledgement
    /// (moved to the write queue) and the aborted ones.
    pub(crate) fn task_finished(&mut self, execution_id: &str) -> (Vec<u64>, Vec<Aborted>) {
        self.finished.insert(execution_id.to_string());
        let waiting: Vec<u64> =
            self.pending.iter().filter(|(_, p)| p.waiting.contains(execution_id)).map(|(id, _)| *id).collect();
        if !self.settings.final_checkpoint() || !self.last_acks.contains_key(execution_id) {
            let aborted = waiting
                .into_iter()
                .filter_map(|id| self.abort(id, AbortReason::TaskFinished(execution_id.to_string())))
                .collect();
            return (Vec::new(), aborted);
        }
        let mut ready = Vec::new();
        for id in waiting {
            if let Some(p) = self.pending.get_mut(&id) {
                p.waiting.remove(execution_id);
                if p.waiting.is_empty() {
                    ready.push(id);
                }
            }
        }
        for id in &ready {
            self.make_ready(*id);
        }
        (ready, Vec::new())
    }

    /// The write of the oldest checkpoint with every acknowledgement in, if
    /// no other write is under way: its `_metadata` (and the files of
    /// finished tasks carried into it, and a savepoint's move) as a plan to
    /// run off the JobMaster; its outcome goes to [`Coordinator::written`].
    /// `Err`: it cannot be written at all (no storage) and is aborted.
    pub(crate) fn next_write(&mut self) -> Option<Result<WritePlan, Aborted>> {
        if self.writing.is_some() {
            return None;
        }
        let (id, p) = self.ready.pop_first()?;
        let (Some(job_dir), Some(storage)) = (self.job_dir(), self.storage.clone()) else {
            return Some(Err(Aborted { id, reason: AbortReason::NoStorage, savepoint: p.savepoint }));
        };
        let staged = join(&job_dir, &checkpoint_dir_name(id));
        // The state of every finished execution that did not acknowledge this
        // checkpoint, from the newest completed checkpoint that holds it.
        let mut carry = Vec::new();
        let mut carried = Vec::new();
        for exec in self.finished.iter().filter(|e| !p.acks.contains_key(*e)) {
            let Some((from, handles)) = self.last_acks.get(exec) else { continue };
            carry.extend(handles.iter().map(|(_, h)| (join(from, &h.file), join(&staged, &h.file))));
            carried.push((exec.clone(), handles.clone()));
        }
        let states: Vec<(String, TaskState)> = p.acks.into_iter().chain(carried).collect();
        let mut all_handles: BTreeMap<String, Vec<StateHandle>> = BTreeMap::new();
        for (uid, h) in states.iter().flat_map(|(_, hs)| hs.iter()) {
            all_handles.entry(uid.clone()).or_default().push(h.clone());
        }
        let mut operators = BTreeMap::new();
        let mut size = 0;
        for (uid, mut handles) in all_handles {
            handles.sort_by_key(|h| h.subtask);
            size += handles.iter().map(|h| h.size).sum::<u64>();
            let parallelism = self.parallelism_of.get(&uid).copied().unwrap_or(handles.len() as u32);
            operators.insert(uid, OperatorMeta { parallelism, subtasks: handles });
        }
        let metadata = CheckpointMetadata {
            version: rfy_runtime::checkpoint::metadata::METADATA_VERSION,
            job_id: self.job_id.clone(),
            checkpoint_id: id,
            timestamp_ms: p.timestamp_ms,
            savepoint: p.savepoint.is_some(),
            savepoint_format: p.savepoint.as_ref().map(|s| s.format),
            max_parallelism: self.max_parallelism,
            operators,
        };
        let location = match &p.savepoint {
            Some(sp) => join(&sp.target, &format!("savepoint-{}-{id}", &self.job_id[..6.min(self.job_id.len())])),
            None => staged.clone(),
        };
        self.writing = Some(Writing {
            id,
            savepoint: p.savepoint.clone(),
            timestamp_ms: p.timestamp_ms,
            location: location.clone(),
            states,
            size,
        });
        Some(Ok(WritePlan {
            id,
            storage,
            opener: self.opener.clone(),
            staged,
            location,
            carry,
            metadata,
            savepoint: p.savepoint.is_some(),
        }))
    }

    /// The write of checkpoint `id` ended with `result` at `now`: on success
    /// it is completed, retained (dropping the oldest beyond
    /// `state.checkpoints.num-retained`) and what finished tasks carry from
    /// here on; else it is aborted (its files were removed by the plan).
    pub(crate) fn written(
        &mut self,
        id: u64,
        result: Result<(), AbortReason>,
        now: Instant,
    ) -> Result<Completion, Aborted> {
        let w = match self.writing.take() {
            Some(w) if w.id == id => w,
            other => {
                self.writing = other;
                return Err(Aborted {
                    id,
                    reason: AbortReason::Discarded("not being written".into()),
                    savepoint: None,
                });
            }
        };
        if let Err(reason) = result {
            return Err(Aborted { id, reason, savepoint: w.savepoint });
        }
        self.last_completion = Some(now);
        let commit = w.savepoint.as_ref().is_none_or(|s| s.stop);
        if w.savepoint.is_none() {
            // A finished task's state is carried from here on (older
            // directories may go with retention).
            for (exec, handles) in w.states {
                self.last_acks.insert(exec, (w.location.clone(), handles));
            }
            self.retained.push_back(Retained { id, dir: w.location.clone() });
            while self.retained.len() > self.settings.num_retained {
                if let Some(old) = self.retained.pop_front() {
                    self.removals.push(old.dir);
                }
            }
        }
        Ok(Completion {
            id,
            location: w.location,
            savepoint: w.savepoint,
            state_size: w.size,
            trigger_ms: w.timestamp_ms,
            commit,
        })
    }

    /// The storage call removing the directories of aborted and no longer
    /// retained checkpoints, if there are any (errors are logged: what is
    /// left behind is garbage, not a wrong result).
    pub(crate) fn removals_call(&mut self) -> Option<impl FnOnce() + Send + 'static> {
        let storage = self.storage.clone()?;
        if self.removals.is_empty() {
            return None;
        }
        let dirs = std::mem::take(&mut self.removals);
        Some(move || {
            for d in dirs {
                io::remove_dir(&*storage, &d);
            }
        })
    }

    /// Aborts pending (or ready) checkpoint `id`; its files are removed
    /// with the next [`Coordinator::removals_call`].
    pub(crate) fn abort(&mut self, id: u64, reason: AbortReason) -> Option<Aborted> {
        let p = self.pending.remove(&id).or_else(|| self.ready.remove(&id))?;
        if let Some(dir) = self.job_dir() {
            self.removals.push(join(&dir, &checkpoint_dir_name(id)));
        }
        Some(Aborted { id, reason, savepoint: p.savepoint })
    }

    /// Aborts the checkpoints pending for longer than the timeout.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<Aborted> {
        let timeout = self.settings.timeout;
        let late: Vec<u64> =
            self.pending.iter().filter(|(_, p)| now.duration_since(p.started) > timeout).map(|(id, _)| *id).collect();
        late.into_iter().filter_map(|id| self.abort(id, AbortReason::Expired(timeout))).collect()
    }

    /// Aborts every pending checkpoint and those waiting for their write
    /// (failover, cancel); forgets which executions finished (a new attempt
    /// has new executions). One being written completes or fails on its own.
    pub(crate) fn abort_all(&mut self, reason: &str) -> Vec<Aborted> {
        self.finished.clear();
        self.ended_sources.clear();
        self.final_due = false;
        self.last_acks.clear();
        let ids: Vec<u64> = self.pending.keys().chain(self.ready.keys()).copied().collect();
        ids.into_iter().filter_map(|id| self.abort(id, AbortReason::Discarded(reason.to_string()))).collect()
    }

    /// The storage call looking for the checkpoint to restore from: the
    /// newest retained one that is intact (its `_metadata` parses and every
    /// file it references is there with its size). Its result goes to
    /// [`Coordinator::restorable_checked`]. Call it with no write under way
    /// ([`Coordinator::is_writing`]), else the one being written is not seen.
    pub(crate) fn restorable_call(&self) -> impl FnOnce() -> Restorable + Send + 'static {
        let storage = self.storage.clone();
        let candidates: Vec<(u64, String)> = self.retained.iter().map(|r| (r.id, r.dir.clone())).collect();
        move || match storage {
            Some(s) => {
                let (source, damaged) = io::find_restorable(&*s, &candidates);
                Restorable { source, damaged }
            }
            None => Restorable { source: None, damaged: Vec::new() },
        }
    }

    /// A restore lookup found `damaged` checkpoints: they are not used again.
    pub(crate) fn restorable_checked(&mut self, damaged: &[Damaged]) {
        self.retained.retain(|r| !damaged.iter().any(|d| d.id == r.id));
    }

    /// Stops using the retained checkpoint at `dir` for restores (a task found
    /// it damaged); true if it was retained.
    pub(crate) fn discard_retained(&mut self, dir: &str) -> bool {
        let before = self.retained.len();
        self.retained.retain(|r| r.dir != dir);
        before != self.retained.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rfy_runtime::ExecutionConfig;

    /// A small keyed job (the jobmanager does not depend on rfy-jobs).
    fn graph() -> JobGraph {
        let env =
            rfy_runtime::StreamExecutionEnvironment::new(ExecutionConfig { parallelism: 2, ..Default::default() });
        env.from_collection(vec![1u64, 2, 3]).key_by(|x: &u64| *x).reduce(|a, b| a + b).discard();
        env.into_stream_graph("t", &[]).job_graph().unwrap()
    }

    fn settings(dir: &std::path::Path, retained: usize) -> CheckpointSettings {
        CheckpointSettings {
            interval: Some(Duration::from_millis(10)),
            exactly_once: true,
            timeout: Duration::from_millis(50),
            max_concurrent: 1,
            min_pause: Duration::ZERO,
            checkpoints_dir: Some(dir.display().to_string()),
            savepoints_dir: None,
            num_retained: retained,
            restore_path: None,
            checkpoints_after_tasks_finish: true,
        }
    }

    /// Writes `bytes` as the state file `op-<subtask>` of checkpoint `id`,
    /// as subtask `subtask` of operator "op" would; returns its handle.
    fn state_file(c: &Coordinator, id: u64, subtask: u32, bytes: &[u8]) -> (String, StateHandle) {
        let dir = std::path::PathBuf::from(c.job_dir().unwrap()).join(checkpoint_dir_name(id));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("op-{subtask}")), bytes).unwrap();
        let h = StateHandle {
            subtask,
            file: format!("op-{subtask}"),
            size: bytes.len() as u64,
            crc32: rfy_runtime::checkpoint::format::crc32(bytes),
            key_groups: None,
        };
        ("op".into(), h)
    }

    /// A coordinator with its storage opened inline.
    fn open_coordinator(job_id: &str, s: CheckpointSettings) -> Coordinator {
        let mut c = Coordinator::new(job_id, s, &graph(), io::default_opener());
        let storage = (c.open_call())().unwrap();
        c.opened(storage);
        c
    }

    impl Coordinator {
        /// Completes checkpoint `id` inline: its write, then the removals it leaves.
        fn complete(&mut self, id: u64, now: Instant) -> Result<Completion, Aborted> {
            let plan = self.next_write().expect("a checkpoint ready to write")?;
            assert_eq!(plan.id, id, "completions are written in id order");
            let result = plan.run();
            let done = self.written(id, result, now);
            self.flush_removals();
            done
        }

        fn flush_removals(&mut self) {
            if let Some(call) = self.removals_call() {
                call();
            }
        }

        /// The restore lookup inline; the damaged checkpoints' texts.
        fn latest_restorable(&mut self) -> (Option<RestoreSource>, Vec<String>) {
            let found = (self.restorable_call())();
            self.restorable_checked(&found.damaged);
            (found.source, found.damaged.iter().map(|d| d.to_string()).collect())
        }

        /// The recovery scan inline.
        fn recover_retained(&mut self) -> usize {
            let found = (self.scan_call().unwrap())().unwrap();
            self.recovered(&found)
        }
    }

    fn run_one(c: &mut Coordinator, now: Instant) -> u64 {
        let (id, _) = c.begin(now, 1, vec!["a".into(), "b".into()], None).unwrap();
        let h = state_file(c, id, 0, b"xyz");
        assert!(!c.acknowledge("a", id, vec![h]));
        assert!(!c.acknowledge("a", id, vec![]), "duplicate ack counted");
        assert!(c.acknowledge("b", id, vec![]));
        c.complete(id, now).unwrap();
        id
    }

    #[test]
    fn a_new_coordinator_recovers_the_checkpoints_left_in_the_job_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let id = "0123456789abcdef0123456789abcdef";
        let mut first = open_coordinator(id, settings(tmp.path(), 2));
        let now = Instant::now();
        for _ in 0..3 {
            run_one(&mut first, now);
        }
        let job = std::path::PathBuf::from(first.job_dir().unwrap());
        // A checkpoint the lost attempt started but never completed.
        std::fs::create_dir_all(job.join("chk-4")).unwrap();
        // The next ApplicationMaster attempt's coordinator of the same job.
        let mut next = open_coordinator(id, settings(tmp.path(), 2));
        assert_eq!(next.recover_retained(), 2);
        let (src, notes) = next.latest_restorable();
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(src.unwrap().metadata.checkpoint_id, 3);
        assert_eq!(run_one(&mut next, now), 5, "ids continue after every chk-<n> found");
        // Nothing to recover for another job.
        let mut other = open_coordinator("fedcba9876543210fedcba9876543210", settings(tmp.path(), 2));
        assert_eq!(other.recover_retained(), 0);
        assert!(other.latest_restorable().0.is_none());
    }

    #[test]
    fn completes_retains_and_falls_back_past_damage() {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = open_coordinator("0123456789abcdef0123456789abcdef", settings(tmp.path(), 2));
        let now = Instant::now();
        let ids: Vec<u64> = (0..3).map(|_| run_one(&mut c, now)).collect();
        assert_eq!(ids, vec![1, 2, 3]);
        let job = std::path::PathBuf::from(c.job_dir().unwrap());
        assert!(!job.join("chk-1").exists(), "beyond num-retained");
        assert!(job.join("chk-2/_metadata").exists() && job.join("chk-3/_metadata").exists());
        // Damage the newest: restore falls back to chk-2 and says why.
        let meta = job.join("chk-3/_metadata");
        let mut bytes = std::fs::read(&meta).unwrap();
        let n = bytes.len() - 5;
        bytes[n] ^= 0x20;
        std::fs::write(&meta, bytes).unwrap();
        let (src, notes) = c.latest_restorable();
        assert_eq!(src.unwrap().metadata.checkpoint_id, 2);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("checkpoint 3") && notes[0].contains("_metadata"), "{notes:?}");
        // A missing state file is noticed too.
        std::fs::remove_file(job.join("chk-2/op-0")).unwrap();
        let (src, notes) = c.latest_restorable();
        assert!(src.is_none());
        assert!(notes[0].contains("op-0"), "{notes:?}");
        // A checkpoint a task found damaged is not used again.
        let mut c2 = open_coordinator("0123456789abcdef0123456789abcdef", settings(tmp.path(), 2));
        let id = run_one(&mut c2, now);
        assert!(c2.latest_restorable().0.is_some());
        assert!(c2.discard_retained(&job.join(format!("chk-{id}")).display().to_string()));
        assert!(c2.latest_restorable().0.is_none());
    }

    /// Once every live source reported the end of its input, the final
    /// checkpoint is due at once (not at the next interval), still within
    /// max-concurrent; a checkpoint begun after that clears it; a new
    /// attempt forgets the reports.
    #[test]
    fn the_final_checkpoint_is_due_once_every_source_ended() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = settings(tmp.path(), 1);
        s.interval = Some(Duration::from_secs(3600));
        let mut c = open_coordinator("0123456789abcdef0123456789abcdef", s);
        let now = Instant::now();
        run_one(&mut c, now);
        assert!(!c.periodic_due(now), "the interval has not passed");
        c.source_ended("a", &["a", "b"]);
        assert!(!c.periodic_due(now), "source b still reads");
        c.source_ended("b", &["a", "b"]);
        assert!(c.periodic_due(now), "every source ended: the final checkpoint is due now");
        assert!(c.next_wakeup(now) <= Duration::from_millis(5));
        let (id, _) = c.begin(now, 1, vec!["a".into(), "b".into()], None).unwrap();
        assert!(!c.periodic_due(now), "one was triggered after the end, and max-concurrent is 1");
        c.abort(id, AbortReason::Discarded("test".into()));
        assert!(!c.periodic_due(now), "the final checkpoint was triggered; the next one waits the interval");
        // Sources that finished earlier (not live) are not waited for; a failover forgets the reports.
        c.source_ended("b", &["b"]);
        assert!(c.periodic_due(now));
        c.abort_all("failover");
        assert!(!c.periodic_due(now));
    }

    /// Final checkpoint mode: a finished task is no longer awaited, and its
    /// last state is copied into every later checkpoint (it outlives the
    /// retention of the checkpoint it was acknowledged in).
    #[test]
    fn a_finished_task_state_is_carried_into_later_checkpoints() {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = open_coordinator("0123456789abcdef0123456789abcdef", settings(tmp.path(), 1));
        let now = Instant::now();
        run_one(&mut c, now);
        let _ = c.task_finished("a");
        let job = std::path::PathBuf::from(c.job_dir().unwrap());
        for _ in 0..2 {
            let (id, _) = c.begin(now, 1, vec!["b".into()], None).unwrap();
            assert!(c.acknowledge("b", id, vec![]), "only the running task is awaited");
            let done = c.complete(id, now).unwrap();
            assert!(!job.join(format!("chk-{}", id - 1)).exists(), "beyond num-retained");
            let (src, notes) = c.latest_restorable();
            let src = src.unwrap_or_else(|| panic!("{notes:?}"));
            assert_eq!(src.dir, done.location);
            let op = &src.metadata.operators["op"];
            assert_eq!(op.subtasks.len(), 1);
            assert_eq!(std::fs::read(job.join(format!("chk-{id}")).join(&op.subtasks[0].file)).unwrap(), b"xyz");
        }
        // A new attempt (failover) forgets the finished executions.
        c.abort_all("failover");
        let (id, _) = c.begin(now, 1, vec!["b".into()], None).unwrap();
        assert!(c.acknowledge("b", id, vec![]));
        let (src, _) = {
            c.complete(id, now).unwrap();
            c.latest_restorable()
        };
        assert!(src.unwrap().metadata.operators.is_empty());
    }

    /// The hang of `kafka_exactly_once` (1 run in ~6 under load): source
    /// "a" took its final checkpoint 1 and, once told it completed, ended;
    /// checkpoint 2 was triggered at it in between, taken by its TaskManager
    /// but never by the source, which no longer takes triggers. Source "b",
    /// still waiting for its own final checkpoint, needs checkpoint 2 (or a
    /// later one, which max-concurrent holds back) to complete: "a"
    /// finishing must complete it, with a's state carried forward.
    #[test]
    fn a_task_finishing_without_its_ack_releases_the_pending_checkpoint() {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = open_coordinator("0123456789abcdef0123456789abcdef", settings(tmp.path(), 2));
        assert!(c.settings().final_checkpoint());
        let now = Instant::now();
        run_one(&mut c, now);
        let (id, _) = c.begin(now, 1, vec!["a".into(), "b".into()], None).unwrap();
        assert!(!c.acknowledge("b", id, vec![]));
        assert!(!c.periodic_due(now + Duration::from_secs(1)), "checkpoint 2 is pending (max-concurrent 1)");
        let (ready, aborted) = c.task_finished("a");
        assert!(aborted.is_empty());
        assert_eq!(ready, vec![id], "every other task acknowledged: checkpoint 2 can complete");
        let done = c.complete(id, now).unwrap();
        let (src, notes) = c.latest_restorable();
        let src = src.unwrap_or_else(|| panic!("{notes:?}"));
        assert_eq!(src.dir, done.location);
        assert_eq!(src.metadata.operators["op"].subtasks.len(), 1, "a's state carried forward");
        assert!(!c.acknowledge("a", id, vec![]), "a late acknowledgement is ignored");
        // A task that finishes while others still owe their acknowledgement
        // releases nothing yet; its own acknowledgement is not carried twice.
        let (id, _) = c.begin(now, 1, vec!["b".into(), "s".into()], None).unwrap();
        let h = state_file(&c, id, 1, b"b's");
        assert!(!c.acknowledge("b", id, vec![h]));
        let (ready, aborted) = c.task_finished("b");
        assert!(ready.is_empty() && aborted.is_empty(), "s still owes its acknowledgement");
        assert!(c.acknowledge("s", id, vec![]));
        c.complete(id, now).unwrap();
        let (src, _) = c.latest_restorable();
        let subtasks: Vec<u32> = src.unwrap().metadata.operators["op"].subtasks.iter().map(|h| h.subtask).collect();
        assert_eq!(subtasks, vec![0, 1], "a's carried, b's acknowledged, each once");
    }

    /// A finished task's state is carried from the last *completed*
    /// checkpoint it acknowledged: an acknowledged checkpoint that was then
    /// aborted (its files removed) must not make every later one fail.
    #[test]
    fn an_aborted_acknowledgement_is_not_carried_forward() {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = open_coordinator("0123456789abcdef0123456789abcdef", settings(tmp.path(), 2));
        let now = Instant::now();
        run_one(&mut c, now);
        let (id, _) = c.begin(now, 1, vec!["a".into(), "b".into()], None).unwrap();
        let h = state_file(&c, id, 0, b"newer");
        assert!(!c.acknowledge("a", id, vec![h]));
        c.abort(id, AbortReason::Discarded("declined".into())).unwrap();
        let _ = c.task_finished("a");
        let (id, _) = c.begin(now, 1, vec!["b".into()], None).unwrap();
        assert!(c.acknowledge("b", id, vec![]));
        let done = c.complete(id, now).unwrap_or_else(|a| panic!("{}", a.reason));
        let job = std::path::PathBuf::from(c.job_dir().unwrap());
        assert_eq!(done.location, job.join(format!("chk-{id}")).display().to_string());
        assert_eq!(std::fs::read(job.join(format!("chk-{id}/op-0"))).unwrap(), b"xyz", "from checkpoint 1");
    }

    /// Without final checkpoints a finished task's state moved on since its
    /// last checkpoint, and with them a task may have no completed
    /// checkpoint yet: either way its state cannot be carried, and the
    /// pending checkpoints waiting for it are aborted.
    #[test]
    fn a_finished_task_whose_state_cannot_be_carried_aborts_what_waits_for_it() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = settings(tmp.path(), 1);
        s.checkpoints_after_tasks_finish = false;
        let mut c = open_coordinator("0123456789abcdef0123456789abcdef", s);
        let now = Instant::now();
        run_one(&mut c, now);
        let (id, _) = c.begin(now, 1, vec!["a".into(), "b".into()], None).unwrap();
        let (ready, aborted) = c.task_finished("a");
        assert!(ready.is_empty());
        assert_eq!(aborted.iter().map(|a| a.id).collect::<Vec<_>>(), vec![id]);
        assert!(aborted[0].reason.to_string().contains("finished before"), "{}", aborted[0].reason);
        assert!(c.periodic_due(now + Duration::from_millis(20)), "nothing pending any more");
        // With final checkpoints too, if no completed checkpoint holds its state.
        let mut c = open_coordinator("fedcba9876543210fedcba9876543210", settings(tmp.path(), 1));
        let (id, _) = c.begin(now, 1, vec!["a".into(), "b".into()], None).unwrap();
        let (ready, aborted) = c.task_finished("a");
        assert!(ready.is_empty());
        assert_eq!(aborted.iter().map(|a| a.id).collect::<Vec<_>>(), vec![id]);
    }

    #[test]
    fn timeouts_and_declines_abort_and_remove_files() {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = open_coordinator("0123456789abcdef0123456789abcdef", settings(tmp.path(), 1));
        let now = Instant::now();
        let (id, _) = c.begin(now, 1, vec!["a".into()], None).unwrap();
        let dir = std::path::PathBuf::from(c.job_dir().unwrap()).join(checkpoint_dir_name(id));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(!c.periodic_due(now), "max concurrent 1");
        assert!(c.expire(now).is_empty());
        let aborted = c.expire(now + Duration::from_millis(60));
        assert_eq!(aborted.len(), 1);
        c.flush_removals();
        assert!(!dir.exists());
        let (id2, _) = c.begin(now, 1, vec!["a".into()], None).unwrap();
        assert!(c.abort(id2, AbortReason::Discarded("declined".into())).is_some());
        assert!(!c.acknowledge("a", id2, vec![]));
    }
}
