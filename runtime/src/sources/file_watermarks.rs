//! Event time for file sources that read timestamped records (e.g. an event
//! file of JSON lines): one watermark generator per file split, as Flink's
//! `FileSource` runs them through `SourceOperator`, with the Kafka source's
//! [`SplitWatermarks`] (bounded out-of-orderness, idleness).
//!
//! A split's clock exists from its first record until the split is read to
//! its end; the reader's watermark is the minimum over these, never going
//! back. A split read after another (a subtask holds several after a
//! rescale) thus cannot hold the first one back before it starts, and its
//! records older than the watermark already emitted are late, as in Flink.

use std::time::Instant;

use super::SourceOutput;
use crate::time::{SplitClock, SplitWatermarkSettings, SplitWatermarks};

/// The per-split watermarks of one file reader.
///
/// ```
/// use std::time::{Duration, Instant};
/// use rfy_runtime::sources::{FileWatermarks, SourceOutput};
/// use rfy_runtime::time::SplitWatermarkSettings;
///
/// let mut wm = FileWatermarks::new(SplitWatermarkSettings::new(Duration::from_millis(2_000), None));
/// let (mut records, mut timestamps) = (Vec::new(), Vec::new());
/// let mut out = SourceOutput::new(&mut records, &mut timestamps);
/// let now = Instant::now();
/// for (split, ts) in [(0, 10_000), (0, 9_000), (0, 12_000)] {
///     wm.observe(split, ts, now);
///     out.collect_with_timestamp("event", ts);
/// }
/// wm.emit([0u64].into_iter(), now, &mut out);
/// assert_eq!(out.watermark(), Some(9_999)); // 12 000 - 2 000 - 1
/// ```
#[derive(Debug, Clone)]
pub struct FileWatermarks {
    emission: SplitWatermarks,
    /// `(split id, clock)` of the started, unfinished splits: one or a few.
    clocks: Vec<(u64, SplitClock)>,
}

impl FileWatermarks {
    /// Watermarks with `settings` (bound and idleness).
    pub fn new(settings: SplitWatermarkSettings) -> Self {
        FileWatermarks { emission: SplitWatermarks::new(settings), clocks: Vec::new() }
    }

    /// A record of split `split` (its [`FileSplit::id`](super::FileSplit::id))
    /// with timestamp `ts` (ms) was read at `now` (the poll's start).
    #[inline]
    pub fn observe(&mut self, split: u64, ts: i64, now: Instant) {
        // The current split is almost always the last one started.
        match self.clocks.iter_mut().rev().find(|(id, _)| *id == split) {
            Some((_, c)) => c.observe(ts, now),
            None => {
                let mut c = SplitClock::default();
                c.observe(ts, now);
                self.clocks.push((split, c));
            }
        }
    }

    /// After a poll: forgets the splits not in `remaining` (read to their
    /// end; the reader's [`remaining_splits`](super::SplitLineReader::remaining_splits))
    /// and emits the minimum watermark of the others into `out` (see
    /// [`SplitWatermarks::emit`]).
    pub fn emit<T>(&mut self, remaining: impl Iterator<Item = u64>, now: Instant, out: &mut SourceOutput<'_, T>) {
        let mut live = 0;
        for id in remaining {
            if let Some(i) = self.clocks[live..].iter().position(|(c, _)| *c == id) {
                self.clocks.swap(live, live + i);
                live += 1;
            }
        }
        self.clocks.truncate(live);
        self.emission.emit(self.clocks.iter().map(|(_, c)| c), now, out);
    }

    /// The last watermark emitted, ms ([`NO_TIMESTAMP`](crate::event::NO_TIMESTAMP) before the first).
    pub fn last_watermark(&self) -> i64 {
        self.emission.last_watermark()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn emitted(wm: &mut FileWatermarks, remaining: &[u64], now: Instant) -> Option<i64> {
        let (mut records, mut ts) = (Vec::<u8>::new(), Vec::new());
        let mut out = SourceOutput::new(&mut records, &mut ts);
        wm.emit(remaining.iter().copied(), now, &mut out);
        out.watermark()
    }

    #[test]
    fn disordered_records_within_the_bound_are_never_behind_the_watermark() {
        let mut wm = FileWatermarks::new(SplitWatermarkSettings::new(Duration::from_millis(2_000), None));
        let now = Instant::now();
        // Every record at most 2 s behind the largest before it.
        let ts = [1_000, 3_000, 1_000, 4_500, 2_500, 2_600, 6_000, 4_000];
        for chunk in ts.chunks(2) {
            for &t in chunk {
                assert!(t > wm.last_watermark(), "{t} late at watermark {}", wm.last_watermark());
                wm.observe(0, t, now);
            }
            emitted(&mut wm, &[0], now);
        }
        assert_eq!(wm.last_watermark(), 3_999);
    }

    #[test]
    fn the_minimum_over_started_splits_and_finished_splits_are_forgotten() {
        let mut wm = FileWatermarks::new(SplitWatermarkSettings::new(Duration::ZERO, None));
        let now = Instant::now();
        wm.observe(0, 5_000, now);
        wm.observe(100, 3_000, now);
        // Split 200 has not started: it does not hold the others back.
        assert_eq!(emitted(&mut wm, &[0, 100, 200], now), Some(2_999));
        // Split 100 is done: the watermark follows split 0.
        assert_eq!(emitted(&mut wm, &[0, 200], now), Some(4_999));
        // A later split behind it never moves the watermark back.
        wm.observe(200, 1_000, now);
        assert_eq!(emitted(&mut wm, &[200], now), None);
        assert_eq!(wm.last_watermark(), 4_999);
    }
}
