//! Per-split watermarks with idleness, shared by the sources that read
//! several splits (Kafka partitions, file byte ranges): Flink's
//! `SourceOperator` runs one watermark generator per split and emits the
//! minimum, so a split that lags or is empty holds event time back until
//! `withIdleness` declares it idle.
//!
//! Each split a reader holds keeps a [`SplitClock`]: the largest record
//! timestamp read from it (ms) and when it last had a record.
//! [`combine_splits`] turns the clocks into the reader's output:
//! bounded-out-of-orderness watermarks (`max - bound - 1`, as
//! [`BoundedOutOfOrderness`](super::BoundedOutOfOrderness)) minimized over the
//! active splits; a split without records for the idleness timeout does not
//! count; when none counts, the reader is idle (after the watermark of the
//! splits that had records). [`SplitWatermarks`] emits the combination into
//! a [`SourceOutput`] once per poll, never backwards.

use std::time::{Duration, Instant};

use crate::event::NO_TIMESTAMP;
use crate::sources::SourceOutput;

/// Event-time progress of one split (not checkpointed: it restarts empty
/// after a restore, as Flink's generators do).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SplitClock {
    /// Largest record timestamp seen, ms.
    max_timestamp: Option<i64>,
    /// When the split last had a record (`None`: not since the reader started).
    last_record: Option<Instant>,
}

impl SplitClock {
    /// A record with timestamp `ts` (ms) was read at `now` (one clock read
    /// per poll is enough: `now` may be the poll's start).
    #[inline]
    pub fn observe(&mut self, ts: i64, now: Instant) {
        self.max_timestamp = Some(self.max_timestamp.map_or(ts, |m| m.max(ts)));
        self.last_record = Some(now);
    }

    /// The largest timestamp seen, ms (`None` before the first record).
    pub fn max_timestamp(&self) -> Option<i64> {
        self.max_timestamp
    }
}

/// The watermark settings of a source (Flink's
/// `WatermarkStrategy.forBoundedOutOfOrderness(bound).withIdleness(idleness)`,
/// applied per split).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitWatermarkSettings {
    /// Out-of-orderness bound, ms (≥ 0).
    pub bound_ms: i64,
    /// A split without records for this long is idle.
    pub idleness: Option<Duration>,
}

impl SplitWatermarkSettings {
    /// Settings tolerating records up to `max_out_of_orderness` late, with
    /// an optional idleness timeout.
    pub fn new(max_out_of_orderness: Duration, idleness: Option<Duration>) -> Self {
        let bound_ms = max_out_of_orderness.as_millis().min(i64::MAX as u128 / 2) as i64;
        SplitWatermarkSettings { bound_ms, idleness }
    }
}

/// What a reader's splits say after a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CombinedWatermark {
    /// Event time is at this watermark (ms).
    Watermark(i64),
    /// An active split has no record yet: nothing to say.
    Pending,
    /// No split is active: the reader is idle, after the watermark of the
    /// splits that had records (if any): the minimum of their own
    /// watermarks, which no record of theirs can undercut. Polls only sample
    /// idleness, so the moment when the empty ones were idle and the others
    /// not yet may fall between two polls; this keeps that watermark.
    Idle(Option<i64>),
}

/// Combines the clocks of the unfinished splits of a reader (see the module
/// docs). `started` stands in for "last record" of splits that had none.
pub fn combine_splits<'a>(
    clocks: impl Iterator<Item = &'a SplitClock>,
    settings: SplitWatermarkSettings,
    started: Instant,
    now: Instant,
) -> CombinedWatermark {
    let mut min: Option<i64> = None;
    let mut min_all: Option<i64> = None;
    let mut pending = false;
    for c in clocks {
        if let Some(m) = c.max_timestamp {
            let w = m.saturating_sub(settings.bound_ms).saturating_sub(1);
            min_all = Some(min_all.map_or(w, |x| x.min(w)));
        }
        let quiet = now.saturating_duration_since(c.last_record.unwrap_or(started));
        if settings.idleness.is_some_and(|d| quiet >= d) {
            continue;
        }
        match c.max_timestamp {
            Some(m) => {
                let w = m.saturating_sub(settings.bound_ms).saturating_sub(1);
                min = Some(min.map_or(w, |x| x.min(w)));
            }
            None => pending = true,
        }
    }
    match (pending, min) {
        (true, _) => CombinedWatermark::Pending,
        (false, Some(w)) => CombinedWatermark::Watermark(w),
        (false, None) if settings.idleness.is_some() => CombinedWatermark::Idle(min_all),
        (false, None) => CombinedWatermark::Pending,
    }
}

/// A reader's watermark emission over its splits' clocks: what it emitted
/// last and whether it is marked idle, so that watermarks never go back and
/// idleness is declared once.
#[derive(Debug, Clone)]
pub struct SplitWatermarks {
    settings: SplitWatermarkSettings,
    /// When the reader started (idleness of splits without records).
    started: Instant,
    /// The last watermark emitted, ms.
    last_watermark: i64,
    /// Whether the reader is marked idle.
    idle: bool,
}

impl SplitWatermarks {
    /// Emission with `settings`, the reader starting now.
    pub fn new(settings: SplitWatermarkSettings) -> Self {
        SplitWatermarks { settings, started: Instant::now(), last_watermark: NO_TIMESTAMP, idle: false }
    }

    /// The settings.
    pub fn settings(&self) -> SplitWatermarkSettings {
        self.settings
    }

    /// The last watermark emitted, ms ([`NO_TIMESTAMP`] before the first).
    pub fn last_watermark(&self) -> i64 {
        self.last_watermark
    }

    /// After a poll: emits into `out` the combination of `clocks` (those of
    /// the reader's unfinished splits) if it advances event time, or marks
    /// the reader idle when every split is quiet and the poll had no records.
    pub fn emit<'a, T>(
        &mut self,
        clocks: impl Iterator<Item = &'a SplitClock>,
        now: Instant,
        out: &mut SourceOutput<'_, T>,
    ) {
        match combine_splits(clocks, self.settings, self.started, now) {
            CombinedWatermark::Watermark(w) => {
                if w > self.last_watermark || self.idle {
                    self.last_watermark = self.last_watermark.max(w);
                    out.emit_watermark(self.last_watermark);
                }
                self.idle = false;
            }
            CombinedWatermark::Idle(w) => {
                if let Some(w) = w.filter(|w| *w > self.last_watermark) {
                    self.last_watermark = w;
                    out.emit_watermark(w);
                }
                if !self.idle && out.records().is_empty() {
                    out.mark_idle();
                    self.idle = true;
                }
            }
            CombinedWatermark::Pending => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::WatermarkStatus;

    const MS: Duration = Duration::from_millis(1);

    fn clock(max: Option<i64>, last: Option<Instant>) -> SplitClock {
        SplitClock { max_timestamp: max, last_record: last }
    }

    fn settings(bound_ms: i64, idleness: Option<Duration>) -> SplitWatermarkSettings {
        SplitWatermarkSettings { bound_ms, idleness }
    }

    #[test]
    fn minimum_over_splits_minus_the_bound() {
        let t0 = Instant::now();
        let cs = [clock(Some(5_000), Some(t0)), clock(Some(3_000), Some(t0))];
        assert_eq!(
            combine_splits(cs.iter(), settings(100, None), t0, t0 + 10 * MS),
            CombinedWatermark::Watermark(2_899)
        );
        assert_eq!(SplitWatermarkSettings::new(Duration::from_millis(2_002), None).bound_ms, 2_002);
    }

    #[test]
    fn an_empty_split_holds_event_time_back_until_idle() {
        let t0 = Instant::now();
        let cs = [clock(Some(5_000), Some(t0 + 900 * MS)), clock(None, None)];
        let no_idle = settings(0, None);
        assert_eq!(combine_splits(cs.iter(), no_idle, t0, t0 + 10_000 * MS), CombinedWatermark::Pending);
        let idle = settings(0, Some(500 * MS));
        assert_eq!(combine_splits(cs.iter(), idle, t0, t0 + 100 * MS), CombinedWatermark::Pending);
        assert_eq!(combine_splits(cs.iter(), idle, t0, t0 + 1_000 * MS), CombinedWatermark::Watermark(4_999));
        // Both quiet: the reader is idle.
        assert_eq!(combine_splits(cs.iter(), idle, t0, t0 + 1_400 * MS), CombinedWatermark::Idle(Some(4_999)));
    }

    #[test]
    fn a_lagging_split_is_excluded_only_while_quiet() {
        let t0 = Instant::now();
        let s = settings(0, Some(500 * MS));
        let mut slow = clock(Some(1_000), Some(t0));
        let fast = clock(Some(9_000), Some(t0 + 2_000 * MS));
        assert_eq!(combine_splits([slow, fast].iter(), s, t0, t0 + 2_100 * MS), CombinedWatermark::Watermark(8_999));
        slow.observe(1_200, t0 + 2_200 * MS);
        assert_eq!(combine_splits([slow, fast].iter(), s, t0, t0 + 2_300 * MS), CombinedWatermark::Watermark(1_199));
    }

    #[test]
    fn no_splits_is_idle_with_idleness_and_pending_without() {
        let t0 = Instant::now();
        let none: [SplitClock; 0] = [];
        assert_eq!(combine_splits(none.iter(), settings(0, Some(MS)), t0, t0), CombinedWatermark::Idle(None));
        assert_eq!(combine_splits(none.iter(), settings(0, None), t0, t0), CombinedWatermark::Pending);
    }

    #[test]
    fn emission_never_goes_back_and_marks_idle_once() {
        let mut wm = SplitWatermarks::new(settings(10, Some(100 * MS)));
        let t0 = wm.started;
        let (mut records, mut ts) = (Vec::<u8>::new(), Vec::new());
        let mut a = clock(None, None);
        a.observe(1_000, t0);
        let mut out = SourceOutput::new(&mut records, &mut ts);
        wm.emit([a].iter(), t0, &mut out);
        assert_eq!(out.watermark(), Some(989));
        // A lower combination (a new split behind) emits nothing.
        let b = clock(Some(500), Some(t0));
        let mut out = SourceOutput::new(&mut records, &mut ts);
        wm.emit([a, b].iter(), t0, &mut out);
        assert_eq!(out.watermark(), None);
        assert_eq!(wm.last_watermark(), 989);
        // All quiet: idle, once.
        let mut out = SourceOutput::new(&mut records, &mut ts);
        wm.emit([a, b].iter(), t0 + 200 * MS, &mut out);
        assert_eq!(out.status(), Some(WatermarkStatus::Idle));
        let mut out = SourceOutput::new(&mut records, &mut ts);
        wm.emit([a, b].iter(), t0 + 300 * MS, &mut out);
        assert_eq!(out.status(), None);
        // A record makes it active again, re-emitting the watermark.
        a.observe(2_000, t0 + 400 * MS);
        let mut out = SourceOutput::new(&mut records, &mut ts);
        wm.emit([a].iter(), t0 + 400 * MS, &mut out);
        assert_eq!(out.watermark(), Some(1_989));
    }
}
