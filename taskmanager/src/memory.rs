//! What the TaskManager enforces of its memory model
//! ([`rfy_conf::TaskExecutorMemory`]): the network pool bounds the buffers of
//! the channels its tasks open, managed memory bounds the keyed state its
//! tasks hold, and the whole resident set stays below the process size
//! (`taskmanager.memory.process.size`, the YARN container) so that the task
//! fails with a message naming the option before the NodeManager kills the
//! container without a word.

use std::collections::HashMap;
use std::sync::Mutex;

use rfy_conf::TaskExecutorMemory;

/// Fraction of a budget above which the TaskManager warns.
const WARN_AT: f64 = 0.9;

fn mib(bytes: u64) -> u64 {
    bytes >> 20
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The network pool and managed memory of one TaskManager, and what its
/// running tasks hold of them (by execution id). Off (`enforced == false`):
/// the amounts are still reported, never refused.
pub(crate) struct MemoryPools {
    /// The derived components (for the reports).
    pub(crate) model: TaskExecutorMemory,
    enforced: bool,
    /// Network buffer bytes reserved per task: channels × buffers per channel × segment size.
    network: Mutex<HashMap<String, u64>>,
    /// Keyed state bytes per task, as its last checkpoint wrote them.
    state: Mutex<HashMap<String, u64>>,
}

/// A task's network buffers do not fit the TaskManager's network memory;
/// the message names the options to raise (Flink's "Insufficient number of
/// network buffers"). Sizes in bytes, shown in KiB.
#[derive(Debug, thiserror::Error)]
#[error(
    "Insufficient network buffer memory: the task's {channels} channels need {} KiB, {} KiB of the \
     TaskManager's {} KiB network memory are free; raise taskmanager.memory.network.fraction/min/max \
     (or taskmanager.memory.process.size), or lower taskmanager.network.memory.buffers-per-channel",
    need >> 10, free >> 10, total >> 10
)]
pub struct NetworkMemoryError {
    /// The task's channels.
    pub channels: u64,
    /// Bytes the task's channels need.
    pub need: u64,
    /// Bytes free in the pool.
    pub free: u64,
    /// The pool's size (`taskmanager.memory.network.*`), bytes.
    pub total: u64,
}

impl MemoryPools {
    pub(crate) fn new(model: TaskExecutorMemory, enforced: bool) -> Self {
        MemoryPools { model, enforced, network: Mutex::default(), state: Mutex::default() }
    }

    /// Reserves `bytes` of network buffers for a task about to start.
    ///
    /// Errors: [`NetworkMemoryError`]: the pool would overflow.
    pub(crate) fn reserve_network(
        &self,
        execution_id: &str,
        channels: u64,
        bytes: u64,
    ) -> Result<(), NetworkMemoryError> {
        let mut held = lock(&self.network);
        let used: u64 = held.values().sum();
        if self.enforced && used + bytes > self.model.network {
            return Err(NetworkMemoryError {
                channels,
                need: bytes,
                free: self.model.network.saturating_sub(used),
                total: self.model.network,
            });
        }
        held.insert(execution_id.to_string(), bytes);
        Ok(())
    }

    /// Forgets what a finished task held.
    pub(crate) fn release(&self, execution_id: &str) {
        lock(&self.network).remove(execution_id);
        lock(&self.state).remove(execution_id);
    }

    /// Records a task's keyed state size (bytes its last checkpoint wrote);
    /// returns the failure message when the TaskManager's keyed state now
    /// exceeds managed memory.
    pub(crate) fn record_state(&self, resource_id: &str, execution_id: &str, bytes: u64) -> Option<String> {
        let mut state = lock(&self.state);
        state.insert(execution_id.to_string(), bytes);
        let total: u64 = state.values().sum();
        (self.enforced && total > self.model.managed).then(|| {
            format!(
                "TaskManager {resource_id} holds {} MiB of keyed state (its last checkpoints), more than its managed \
                 memory ({} MiB): raise taskmanager.memory.managed.size (or taskmanager.memory.managed.fraction, or \
                 taskmanager.memory.process.size), or raise the parallelism to spread the keys",
                mib(total),
                mib(self.model.managed)
            )
        })
    }

    /// `(network bytes reserved, keyed state bytes)` of the running tasks.
    pub(crate) fn used(&self) -> (u64, u64) {
        (lock(&self.network).values().sum(), lock(&self.state).values().sum())
    }
}

/// The guard on the whole resident set: `taskmanager.memory.process.size` (on
/// YARN its container's size), checked at every heartbeat: a warning once
/// above 90 %, and above 100 % every running task fails with a message naming
/// the option, before the NodeManager's memory monitor would kill the
/// container. In the embedded local cluster the TaskManagers share one
/// process, so the budget applies to the whole process.
pub(crate) struct MemoryBudget {
    resource_id: String,
    budget: u64,
    warned: bool,
}

impl MemoryBudget {
    /// A guard of `budget` bytes (0: none).
    pub(crate) fn new(resource_id: String, budget: u64) -> Self {
        MemoryBudget { resource_id, budget, warned: false }
    }

    /// The failure message when `rss` exceeds the budget, else `None`; logs the 90 % warning once per crossing.
    pub(crate) fn assess(&mut self, rss: u64) -> Option<String> {
        if self.budget == 0 || rss == 0 {
            return None;
        }
        let used = rss as f64 / self.budget as f64;
        if used < WARN_AT {
            self.warned = false;
            return None;
        }
        if !self.warned {
            self.warned = true;
            tracing::warn!(
                "TaskManager {} uses {} MiB resident, {:.0} % of taskmanager.memory.process.size ({} MiB)",
                self.resource_id,
                mib(rss),
                used * 100.0,
                mib(self.budget)
            );
        }
        (rss > self.budget).then(|| {
            format!(
                "TaskManager {} used {} MiB of resident memory, more than its budget taskmanager.memory.process.size = {} MiB (its container's size): its tasks were failed before YARN would kill the container; raise taskmanager.memory.process.size, or hold less state per TaskManager",
                self.resource_id,
                mib(rss),
                mib(self.budget)
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_warns_at_90_percent_and_fails_above_it() {
        let mut b = MemoryBudget::new("tm-1".into(), 100 << 20);
        assert_eq!(b.assess(50 << 20), None);
        assert_eq!(b.assess(95 << 20), None, "90 % only warns");
        let msg = b.assess(101 << 20).expect("above the budget");
        assert!(
            msg.contains("tm-1")
                && msg.contains("101 MiB")
                && msg.contains("taskmanager.memory.process.size = 100 MiB"),
            "{msg}"
        );
        assert_eq!(MemoryBudget::new("x".into(), 0).assess(u64::MAX), None, "no budget, no check");
    }

    fn pools(enforced: bool) -> MemoryPools {
        let model = TaskExecutorMemory { network: 1 << 20, managed: 10 << 20, ..Default::default() };
        MemoryPools::new(model, enforced)
    }

    #[test]
    fn the_network_pool_refuses_a_task_that_would_overflow_it_and_frees_on_release() {
        let p = pools(true);
        p.reserve_network("a", 8, 512 << 10).unwrap();
        let e = p.reserve_network("b", 16, 768 << 10).unwrap_err().to_string();
        assert!(e.contains("need 768 KiB, 512 KiB of") && e.contains("taskmanager.memory.network.fraction"), "{e}");
        p.release("a");
        p.reserve_network("b", 16, 768 << 10).unwrap();
        assert_eq!(p.used().0, 768 << 10);
        pools(false).reserve_network("c", 1, 1 << 30).expect("not enforced: reported only");
    }

    #[test]
    fn keyed_state_above_managed_memory_fails_naming_the_option() {
        let p = pools(true);
        assert_eq!(p.record_state("tm", "a", 6 << 20), None);
        assert_eq!(p.record_state("tm", "a", 7 << 20), None, "a task's newer checkpoint replaces its older");
        let m = p.record_state("tm", "b", 4 << 20).expect("11 MiB > 10 MiB");
        assert!(m.contains("11 MiB of keyed state") && m.contains("taskmanager.memory.managed.size"), "{m}");
        p.release("b");
        assert_eq!(p.used().1, 7 << 20);
    }
}
