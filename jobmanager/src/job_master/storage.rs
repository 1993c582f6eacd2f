//! A JobMaster's storage queue: the checkpoint coordinator's storage work
//! (HDFS or local calls, blocking) runs on tokio's blocking pool, at most
//! [`MAX_STORAGE_CALLS`] at once per JobMaster, never on the JobMaster's own
//! task: a slow or stalled NameNode delays checkpoints, not task states,
//! acknowledgements, snapshots or REST answers.
//!
//! Ordering: a checkpoint's completion is published when the JobMaster
//! reads [`JobMasterMsg::CheckpointWritten`], which is sent after its
//! `_metadata` write (and a savepoint's move) returned; the coordinator
//! hands out one write at a time, in id order.

use std::sync::Arc;

use tokio::sync::{oneshot, Semaphore};

use super::messages::{JobMasterMsg, Mailbox};
use crate::checkpoint::{AbortReason, WritePlan};

/// Storage calls one JobMaster runs at once (the rest wait in order).
pub(crate) const MAX_STORAGE_CALLS: usize = 4;

/// The storage queue of one JobMaster.
pub(crate) struct StorageQueue {
    permits: Arc<Semaphore>,
    mailbox: Mailbox,
}

impl StorageQueue {
    /// A queue posting write outcomes to `mailbox`.
    pub(crate) fn new(mailbox: Mailbox) -> Self {
        StorageQueue { permits: Arc::new(Semaphore::new(MAX_STORAGE_CALLS)), mailbox }
    }

    /// Runs `work` on the blocking pool once a permit is free.
    fn spawn<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> impl std::future::Future<Output = Option<T>> + Send + 'static {
        let permits = self.permits.clone();
        async move {
            let _permit = permits.acquire_owned().await.ok()?;
            match tokio::task::spawn_blocking(work).await {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::error!("a checkpoint storage call panicked: {e}");
                    None
                }
            }
        }
    }

    /// Runs `work`; its result comes on the returned channel (closed without
    /// a value if the call panicked).
    pub(crate) fn call<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> oneshot::Receiver<T> {
        let (tx, rx) = oneshot::channel();
        let run = self.spawn(work);
        tokio::spawn(async move {
            if let Some(t) = run.await {
                let _ = tx.send(t);
            }
        });
        rx
    }

    /// Runs `work` and forgets it (removals: their errors are logged).
    pub(crate) fn detached(&self, work: impl FnOnce() + Send + 'static) {
        tokio::spawn(self.spawn(work));
    }

    /// Runs the write completing a checkpoint; its outcome comes to the
    /// mailbox as [`JobMasterMsg::CheckpointWritten`].
    pub(crate) fn write(&self, plan: WritePlan) {
        let id = plan.id;
        let run = self.spawn(move || plan.run());
        let mailbox = self.mailbox.clone();
        tokio::spawn(async move {
            let result = run.await.unwrap_or(Err(AbortReason::Panicked));
            let _ = mailbox.send(JobMasterMsg::CheckpointWritten { id, result });
        });
    }
}
