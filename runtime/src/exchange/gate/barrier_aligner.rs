//! Aligns checkpoint barriers across a gate's input channels (Flink's
//! `CheckpointBarrierHandler`: aligned for exactly-once, tracking for
//! at-least-once). Exactly-once: a channel that delivered barrier n is not
//! read again until every channel has delivered it, so no record after the
//! barrier is processed before the snapshot. At-least-once: the barrier is
//! counted but the channel stays readable.

use crate::event::CheckpointBarrier;

/// The barrier alignment of one gate.
#[derive(Debug)]
pub(crate) struct BarrierAligner {
    /// The barrier being aligned, if any.
    pending: Option<CheckpointBarrier>,
    /// Per channel: delivered the pending barrier.
    seen: Vec<bool>,
    /// Per channel: delivered the pending barrier and is not read until
    /// alignment completes (exactly-once only).
    blocked: Vec<bool>,
}

impl BarrierAligner {
    /// An aligner over `channels` input channels, no barrier pending.
    pub(crate) fn new(channels: usize) -> Self {
        BarrierAligner { pending: None, seen: vec![false; channels], blocked: vec![false; channels] }
    }

    /// Whether channel `i` waits for the other channels' barriers (not to be read).
    #[inline]
    pub(crate) fn is_blocked(&self, i: usize) -> bool {
        self.blocked[i]
    }

    /// Channel `i` delivered barrier `b`; `exactly_once` blocks the channel
    /// until alignment. Returns the barrier to forward once every channel
    /// (`ended[j]` channels excepted) delivered it.
    pub(crate) fn on_barrier(
        &mut self,
        i: usize,
        b: CheckpointBarrier,
        exactly_once: bool,
        ended: &[bool],
    ) -> Option<CheckpointBarrier> {
        match self.pending {
            Some(p) if p.id > b.id => return None, // stale barrier of an aborted checkpoint
            Some(p) if p.id < b.id => {
                // A newer checkpoint overtook an unfinished alignment: drop the old one.
                self.reset();
                self.pending = Some(b);
            }
            Some(_) => {}
            None => self.pending = Some(b),
        }
        self.blocked[i] = exactly_once;
        self.seen[i] = true;
        self.try_complete(ended)
    }

    /// A channel ended: the pending barrier may now be aligned without it.
    pub(crate) fn on_channel_end(&mut self, ended: &[bool]) -> Option<CheckpointBarrier> {
        self.try_complete(ended)
    }

    fn try_complete(&mut self, ended: &[bool]) -> Option<CheckpointBarrier> {
        let b = self.pending?;
        if self.seen.iter().zip(ended).all(|(seen, ended)| *seen || *ended) {
            self.reset();
            self.pending = None;
            return Some(b);
        }
        None
    }

    fn reset(&mut self) {
        self.seen.iter_mut().for_each(|s| *s = false);
        self.blocked.iter_mut().for_each(|b| *b = false);
    }
}
