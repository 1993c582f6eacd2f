//! Per-partition watermarks with idleness for the Kafka source (Flink's
//! per-split watermarks: `SourceOperator` runs one watermark generator per
//! Kafka partition and emits the minimum, so a partition that lags or is
//! empty holds event time back until `withIdleness` declares it idle).
//!
//! Each owned partition keeps a [`PartitionClock`]: the largest record
//! timestamp read from it (the Kafka record timestamp, ms) and when it last
//! had a record. [`combine`] turns the clocks into the reader's output:
//! bounded-out-of-orderness watermarks (`max - bound - 1`, as
//! [`rfy_runtime::time::BoundedOutOfOrderness`]) minimized over the active
//! partitions; a partition without records for the idleness timeout does not
//! count; when none counts, the reader is idle (after the watermark of the
//! partitions that had records).

use std::time::{Duration, Instant};

/// Event-time progress of one partition (not checkpointed: it restarts
/// empty after a restore, as Flink's generators do).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PartitionClock {
    /// Largest record timestamp seen, ms.
    max_timestamp: Option<i64>,
    /// When the partition last had a record (`None`: not since the reader started).
    last_record: Option<Instant>,
}

impl PartitionClock {
    /// A record with timestamp `ts` (ms) was read at `now`.
    #[inline]
    pub(crate) fn observe(&mut self, ts: i64, now: Instant) {
        self.max_timestamp = Some(self.max_timestamp.map_or(ts, |m| m.max(ts)));
        self.last_record = Some(now);
    }
}

/// The watermark settings of a source (Flink's
/// `WatermarkStrategy.forBoundedOutOfOrderness(bound).withIdleness(idleness)`
/// on the Kafka record timestamps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WatermarkSettings {
    /// Out-of-orderness bound, ms.
    pub bound_ms: i64,
    /// A partition without records for this long is idle.
    pub idleness: Option<Duration>,
}

/// What the reader reports after a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Combined {
    /// Event time is at this watermark (ms).
    Watermark(i64),
    /// An active partition has no record yet: nothing to say.
    Pending,
    /// No partition is active: the reader is idle, after the watermark of
    /// the partitions that had records (if any): the minimum of their own
    /// watermarks, which no record of theirs can undercut. Polls only sample
    /// idleness, so the moment when the empty ones were idle and the others
    /// not yet may fall between two polls; this keeps that watermark.
    Idle(Option<i64>),
}

/// Combines the clocks of the unfinished owned partitions (see the module
/// docs). `started` stands in for "last record" of partitions that had none.
pub(crate) fn combine<'a>(
    clocks: impl Iterator<Item = &'a PartitionClock>,
    settings: WatermarkSettings,
    started: Instant,
    now: Instant,
) -> Combined {
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
        (true, _) => Combined::Pending,
        (false, Some(w)) => Combined::Watermark(w),
        (false, None) if settings.idleness.is_some() => Combined::Idle(min_all),
        (false, None) => Combined::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn clock(max: Option<i64>, last: Option<Instant>) -> PartitionClock {
        PartitionClock { max_timestamp: max, last_record: last }
    }

    #[test]
    fn minimum_over_partitions_minus_the_bound() {
        let t0 = Instant::now();
        let s = WatermarkSettings { bound_ms: 100, idleness: None };
        let cs = [clock(Some(5_000), Some(t0)), clock(Some(3_000), Some(t0))];
        assert_eq!(combine(cs.iter(), s, t0, t0 + 10 * MS), Combined::Watermark(2_899));
    }

    #[test]
    fn an_empty_partition_holds_event_time_back_until_idle() {
        let t0 = Instant::now();
        let cs = [clock(Some(5_000), Some(t0 + 900 * MS)), clock(None, None)];
        let no_idle = WatermarkSettings { bound_ms: 0, idleness: None };
        assert_eq!(combine(cs.iter(), no_idle, t0, t0 + 10_000 * MS), Combined::Pending);
        let idle = WatermarkSettings { bound_ms: 0, idleness: Some(500 * MS) };
        assert_eq!(combine(cs.iter(), idle, t0, t0 + 100 * MS), Combined::Pending);
        assert_eq!(combine(cs.iter(), idle, t0, t0 + 1_000 * MS), Combined::Watermark(4_999));
        // Both quiet: the reader is idle.
        assert_eq!(combine(cs.iter(), idle, t0, t0 + 1_400 * MS), Combined::Idle(Some(4_999)));
    }

    #[test]
    fn a_lagging_partition_is_excluded_only_while_quiet() {
        let t0 = Instant::now();
        let s = WatermarkSettings { bound_ms: 0, idleness: Some(500 * MS) };
        let mut slow = clock(Some(1_000), Some(t0));
        let fast = clock(Some(9_000), Some(t0 + 2_000 * MS));
        assert_eq!(combine([slow, fast].iter(), s, t0, t0 + 2_100 * MS), Combined::Watermark(8_999));
        slow.observe(1_200, t0 + 2_200 * MS);
        assert_eq!(combine([slow, fast].iter(), s, t0, t0 + 2_300 * MS), Combined::Watermark(1_199));
    }

    #[test]
    fn no_partitions_is_idle_with_idleness_and_pending_without() {
        let t0 = Instant::now();
        let none: [PartitionClock; 0] = [];
        let idle = WatermarkSettings { bound_ms: 0, idleness: Some(MS) };
        assert_eq!(combine(none.iter(), idle, t0, t0), Combined::Idle(None));
        let no_idle = WatermarkSettings { bound_ms: 0, idleness: None };
        assert_eq!(combine(none.iter(), no_idle, t0, t0), Combined::Pending);
    }
}
