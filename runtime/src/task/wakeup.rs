//! A task's wake-up channel (the mailbox letter of Flink's `MailboxProcessor`
//! that tells the task thread "work arrived from outside"): the input gate
//! waits on its channels and on this one, so an operator whose work
//! completes on another thread (async I/O: a call's future woken by its
//! runtime) can end the gate's wait at once instead of at the next
//! buffer-timeout tick. The gate installs the sender for the thread that
//! runs the task; such operators take it at their first poll, which runs on
//! that thread. Waking sends at most one pending letter (a bounded channel of
//! one: later wakes before the task reads it cost an atomic check only).

use std::cell::RefCell;

/// Sends a wake-up to the task that installed it.
#[derive(Clone)]
pub(crate) struct Wakeup(flume::Sender<()>);

impl Wakeup {
    /// A wake-up sender and the receiver the task waits on.
    pub(crate) fn channel() -> (Wakeup, flume::Receiver<()>) {
        let (tx, rx) = flume::bounded(1);
        (Wakeup(tx), rx)
    }

    /// Wakes the task if it waits (a full channel already holds a wake-up).
    pub(crate) fn wake(&self) {
        let _ = self.0.try_send(());
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Wakeup>> = const { RefCell::new(None) };
}

/// Makes `wakeup` the current thread's until the guard drops.
pub(crate) fn install(wakeup: Wakeup) -> Installed {
    CURRENT.with(|c| *c.borrow_mut() = Some(wakeup));
    Installed(())
}

/// The wake-up of the task running on this thread, if its head installed one.
pub(crate) fn current() -> Option<Wakeup> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Removes the installed wake-up when dropped.
pub(crate) struct Installed(());

impl Drop for Installed {
    fn drop(&mut self) {
        CURRENT.with(|c| *c.borrow_mut() = None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_for_this_thread_only_and_wakes_once_per_read() {
        let (w, rx) = Wakeup::channel();
        assert!(current().is_none());
        {
            let _guard = install(w);
            let mine = current().expect("installed");
            assert!(std::thread::spawn(|| current().is_none()).join().unwrap(), "other threads see none");
            mine.wake();
            mine.wake();
            assert_eq!(rx.try_iter().count(), 1, "wakes before a read coalesce");
        }
        assert!(current().is_none(), "removed with the guard");
    }
}
