//! The JobMaster between execution attempts (and before the first): no
//! task is deployed, yet the mailbox is served while it waits, for the
//! restart delay or for a storage call: a cancel ends the job, savepoint and
//! checkpoint requests are answered at once, a checkpoint write that ends
//! now is recorded.

use std::time::{Duration, Instant};

use rfy_runtime::checkpoint::RestoreSource;

use super::{record_failure, JobMaster, JobMasterMsg};
use crate::checkpoint::{Aborted, CheckpointStat, CheckpointState, Completion, Coordinator};
use crate::status::{now_ms, JobState, JobStatus, SavepointOp};

/// Records a completed checkpoint (or savepoint) in the statistics and the savepoint operations.
pub(super) fn record_completed(st: &mut JobStatus, c: &Completion) {
    tracing::info!(checkpoint = c.id, location = %c.location, bytes = c.state_size, savepoint = c.savepoint.is_some(), "checkpoint completed");
    let total = st.tasks.len() as u32;
    st.checkpoints.completed += 1;
    st.checkpoints.upsert(CheckpointStat {
        id: c.id,
        state: CheckpointState::Completed,
        savepoint: c.savepoint.is_some(),
        savepoint_format: c.savepoint.as_ref().map(|s| s.format),
        trigger_ms: c.trigger_ms,
        end_ms: now_ms(),
        state_size: c.state_size,
        acknowledged: total,
        total_tasks: total,
        external_path: Some(c.location.clone()),
        failure: None,
    });
    if let Some(sp) = &c.savepoint {
        st.savepoints.insert(sp.trigger_id.clone(), SavepointOp::Completed(c.location.clone()));
    }
}

/// Records an aborted checkpoint (or savepoint): where its reason is reported.
pub(super) fn record_aborted(st: &mut JobStatus, a: &Aborted) {
    tracing::warn!(checkpoint = a.id, "checkpoint aborted: {}", a.reason);
    let reason = a.reason.to_string();
    st.checkpoints.failed += 1;
    let mut stat = st.checkpoints.history.iter().find(|h| h.id == a.id).cloned().unwrap_or(CheckpointStat {
        id: a.id,
        state: CheckpointState::Failed,
        savepoint: a.savepoint.is_some(),
        savepoint_format: a.savepoint.as_ref().map(|s| s.format),
        trigger_ms: now_ms(),
        end_ms: 0,
        state_size: 0,
        acknowledged: 0,
        total_tasks: 0,
        external_path: None,
        failure: None,
    });
    stat.state = CheckpointState::Failed;
    stat.end_ms = now_ms();
    stat.failure = Some(reason.clone());
    st.checkpoints.upsert(stat);
    if let Some(sp) = &a.savepoint {
        st.savepoints.insert(sp.trigger_id.clone(), SavepointOp::Failed(reason));
    }
}

impl JobMaster {
    /// Starts the coordinator's next checkpoint write and its removals on
    /// the storage queue; returns the checkpoints that cannot be written (no storage).
    pub(super) fn start_storage_work(&mut self, coord: &mut Coordinator) -> Vec<Aborted> {
        let mut aborted = Vec::new();
        while let Some(next) = coord.next_write() {
            match next {
                Ok(plan) => {
                    self.storage.write(plan);
                    break;
                }
                Err(a) => aborted.push(a),
            }
        }
        if let Some(removals) = coord.removals_call() {
            self.storage.detached(removals);
        }
        aborted
    }

    /// Handles a message while no task is deployed; `why` answers savepoint
    /// and checkpoint requests. False if the job ended (canceled) or the mailbox closed.
    pub(super) fn on_idle_message(&mut self, coord: &mut Coordinator, msg: Option<JobMasterMsg>, why: &str) -> bool {
        match msg {
            None => false,
            Some(JobMasterMsg::Cancel) => {
                if !self.st.state.is_terminal() {
                    self.st.set_state(JobState::Canceled);
                }
                false
            }
            Some(JobMasterMsg::TriggerSavepoint(sp)) => {
                self.st.savepoints.insert(sp.trigger_id, SavepointOp::Failed(why.into()));
                true
            }
            Some(JobMasterMsg::TriggerCheckpoint { trigger_id }) => {
                self.st.checkpoint_triggers.insert(trigger_id, Some(Err(why.into())));
                true
            }
            Some(JobMasterMsg::CheckpointWritten { id, result }) => {
                // Written for an attempt that ended: recorded, nobody notified
                // (a new attempt restores from it or from a newer one).
                match coord.written(id, result, Instant::now()) {
                    Ok(c) => record_completed(&mut self.st, &c),
                    Err(a) => record_aborted(&mut self.st, &a),
                }
                for a in self.start_storage_work(coord) {
                    record_aborted(&mut self.st, &a);
                }
                true
            }
            Some(_) => true, // stale messages of the previous attempt
        }
    }

    /// Runs `work` on the storage queue and serves the mailbox until it
    /// returns; `None` if the job ended meanwhile (canceled, or failed because the call panicked).
    pub(super) async fn call_storage<T: Send + 'static>(
        &mut self,
        coord: &mut Coordinator,
        why: &str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let mut answer = self.storage.call(work);
        loop {
            self.publish();
            tokio::select! {
                r = &mut answer => {
                    return match r {
                        Ok(t) => Some(t),
                        Err(_) => {
                            self.fail_now("a checkpoint storage call panicked (see the JobManager log)".into());
                            None
                        }
                    };
                }
                msg = self.rx.recv() => {
                    if !self.on_idle_message(coord, msg, why) {
                        return None;
                    }
                }
            }
        }
    }

    /// Waits until no checkpoint write is under way, serving the mailbox.
    /// False if the job was canceled meanwhile.
    pub(super) async fn drain_writes(&mut self, coord: &mut Coordinator) -> bool {
        while coord.is_writing() {
            self.publish();
            let msg = self.rx.recv().await;
            if !self.on_idle_message(coord, msg, "the job is restarting") {
                return false;
            }
        }
        true
    }

    /// The checkpoint a new attempt restores from after a failover: the
    /// newest intact retained one (once the write under way, if any,
    /// ended). `has_initial`: the job started from a savepoint (the
    /// fallback named in the notes). `None`: the job was canceled meanwhile.
    pub(super) async fn restore_after_failover(
        &mut self,
        coord: &mut Coordinator,
        has_initial: bool,
    ) -> Option<Option<RestoreSource>> {
        if !self.drain_writes(coord).await {
            return None;
        }
        let found = self.call_storage(coord, "the job is restarting", coord.restorable_call()).await?;
        coord.restorable_checked(&found.damaged);
        for d in &found.damaged {
            let target = match &found.source {
                Some(s) => format!("falling back to checkpoint {} at {}", s.metadata.checkpoint_id, s.dir),
                None if has_initial => "falling back to the savepoint the job started from".into(),
                None => "no older checkpoint: restarting without state".into(),
            };
            record_failure(&mut self.st, format!("{d}; {target}"), None, false);
        }
        Some(found.source)
    }

    /// Waits `delay`; false if the job was canceled meanwhile.
    pub(super) async fn wait_restart_delay(&mut self, delay: Duration, coord: &mut Coordinator) -> bool {
        let until = Instant::now() + delay;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            match self.next(left).await {
                Err(_) => return true,
                Ok(msg) => {
                    if !self.on_idle_message(coord, msg, "the job is restarting") {
                        return false;
                    }
                }
            }
        }
    }
}
