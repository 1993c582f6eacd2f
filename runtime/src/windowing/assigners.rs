//! Window assigners (Flink's `WindowAssigner` implementations).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{DefaultTrigger, EventTimeTrigger, ProcessingTimeTrigger};

/// A window of time `[start, end)` in ms (Flink's `TimeWindow`). The global
/// window is `[i64::MIN, i64::MAX)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimeWindow {
    /// First ms in the window.
    pub start: i64,
    /// First ms after the window.
    pub end: i64,
}

impl TimeWindow {
    /// The window `[start, end)`.
    pub fn new(start: i64, end: i64) -> Self {
        TimeWindow { start, end }
    }

    /// The largest timestamp in the window, `end - 1`: when it fires and
    /// the timestamp its results carry.
    pub fn max_timestamp(&self) -> i64 {
        self.end.saturating_sub(1)
    }

    /// True if the windows overlap or touch (session windows merge then).
    pub fn intersects(&self, other: &TimeWindow) -> bool {
        self.start <= other.end && self.end >= other.start
    }

    /// The smallest window covering both.
    pub fn cover(&self, other: &TimeWindow) -> TimeWindow {
        TimeWindow { start: self.start.min(other.start), end: self.end.max(other.end) }
    }
}

/// Puts each record into windows (Flink's `WindowAssigner`).
pub trait WindowAssigner: Clone + Send + Sync + 'static {
    /// Appends the windows of a record with `timestamp` (event time) that
    /// arrives at `now` (processing time, ms) to `out`.
    fn assign_windows(&self, timestamp: i64, now: i64, out: &mut Vec<TimeWindow>);
    /// True for event-time windows (fired by watermarks).
    fn is_event_time(&self) -> bool;
    /// True for session windows: overlapping windows of a key merge.
    fn is_merging(&self) -> bool {
        false
    }
    /// True if records must carry timestamps (event-time windows).
    fn requires_timestamps(&self) -> bool {
        self.is_event_time()
    }
    /// The trigger of windows without `WindowedStream::trigger`: event-time
    /// assigners fire at the watermark, processing-time ones at the wall
    /// clock (the global window's end is the end of input).
    fn default_trigger(&self) -> DefaultTrigger {
        if self.is_event_time() {
            DefaultTrigger::EventTime(EventTimeTrigger)
        } else {
            DefaultTrigger::ProcessingTime(ProcessingTimeTrigger)
        }
    }
}

fn ms(d: Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}

/// Start of the window of `size` (shifted by `offset`) that holds `ts`
/// (Flink's `TimeWindow.getWindowStartWithOffset`).
fn window_start(ts: i64, offset: i64, size: i64) -> i64 {
    let rem = (ts - offset).rem_euclid(size);
    ts - rem
}

fn tumbling(ts: i64, size: i64, offset: i64, out: &mut Vec<TimeWindow>) {
    let start = window_start(ts, offset, size);
    out.push(TimeWindow::new(start, start.saturating_add(size)));
}

fn sliding(ts: i64, size: i64, slide: i64, offset: i64, out: &mut Vec<TimeWindow>) {
    let last = window_start(ts, offset, slide);
    let mut start = last;
    while start > ts - size {
        out.push(TimeWindow::new(start, start.saturating_add(size)));
        start -= slide;
    }
}

/// Fixed-size, non-overlapping event-time windows (Flink's `TumblingEventTimeWindows`).
///
/// ```
/// use std::time::Duration;
/// use rfy_runtime::windowing::{TimeWindow, TumblingEventTimeWindows, WindowAssigner};
///
/// let mut w = Vec::new();
/// TumblingEventTimeWindows::of(Duration::from_secs(10)).assign_windows(12_345, 0, &mut w);
/// assert_eq!(w, vec![TimeWindow::new(10_000, 20_000)]);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TumblingEventTimeWindows {
    size: i64,
    offset: i64,
}

impl TumblingEventTimeWindows {
    /// Windows of `size`, aligned to the epoch.
    pub fn of(size: Duration) -> Self {
        TumblingEventTimeWindows { size: ms(size).max(1), offset: 0 }
    }
    /// Windows of `size` shifted by `offset` (e.g. for time zones).
    pub fn with_offset(size: Duration, offset: Duration) -> Self {
        TumblingEventTimeWindows { size: ms(size).max(1), offset: ms(offset) }
    }
}

impl WindowAssigner for TumblingEventTimeWindows {
    fn assign_windows(&self, timestamp: i64, _now: i64, out: &mut Vec<TimeWindow>) {
        tumbling(timestamp, self.size, self.offset, out)
    }
    fn is_event_time(&self) -> bool {
        true
    }
}

/// Fixed-size, non-overlapping processing-time windows (Flink's `TumblingProcessingTimeWindows`).
#[derive(Debug, Clone, Copy)]
pub struct TumblingProcessingTimeWindows {
    size: i64,
}

impl TumblingProcessingTimeWindows {
    /// Windows of `size` of wall-clock time.
    pub fn of(size: Duration) -> Self {
        TumblingProcessingTimeWindows { size: ms(size).max(1) }
    }
}

impl WindowAssigner for TumblingProcessingTimeWindows {
    fn assign_windows(&self, _timestamp: i64, now: i64, out: &mut Vec<TimeWindow>) {
        tumbling(now, self.size, 0, out)
    }
    fn is_event_time(&self) -> bool {
        false
    }
}

/// Windows of `size` starting every `slide` (Flink's `SlidingEventTimeWindows`):
/// a record is in `size / slide` windows.
///
/// ```
/// use std::time::Duration;
/// use rfy_runtime::windowing::{SlidingEventTimeWindows, TimeWindow, WindowAssigner};
///
/// let mut w = Vec::new();
/// SlidingEventTimeWindows::of(Duration::from_secs(10), Duration::from_secs(5)).assign_windows(12_000, 0, &mut w);
/// assert_eq!(w, vec![TimeWindow::new(10_000, 20_000), TimeWindow::new(5_000, 15_000)]);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SlidingEventTimeWindows {
    size: i64,
    slide: i64,
}

impl SlidingEventTimeWindows {
    /// Windows of `size` every `slide`.
    pub fn of(size: Duration, slide: Duration) -> Self {
        SlidingEventTimeWindows { size: ms(size).max(1), slide: ms(slide).max(1) }
    }
}

impl WindowAssigner for SlidingEventTimeWindows {
    fn assign_windows(&self, timestamp: i64, _now: i64, out: &mut Vec<TimeWindow>) {
        sliding(timestamp, self.size, self.slide, 0, out)
    }
    fn is_event_time(&self) -> bool {
        true
    }
}

/// Sliding windows of wall-clock time (Flink's `SlidingProcessingTimeWindows`).
#[derive(Debug, Clone, Copy)]
pub struct SlidingProcessingTimeWindows {
    size: i64,
    slide: i64,
}

impl SlidingProcessingTimeWindows {
    /// Windows of `size` every `slide`.
    pub fn of(size: Duration, slide: Duration) -> Self {
        SlidingProcessingTimeWindows { size: ms(size).max(1), slide: ms(slide).max(1) }
    }
}

impl WindowAssigner for SlidingProcessingTimeWindows {
    fn assign_windows(&self, _timestamp: i64, now: i64, out: &mut Vec<TimeWindow>) {
        sliding(now, self.size, self.slide, 0, out)
    }
    fn is_event_time(&self) -> bool {
        false
    }
}

/// Session windows (Flink's `EventTimeSessionWindows`): a key's records
/// closer than `gap` to each other fall into one window, which merges as
/// records bridge sessions.
///
/// ```
/// use std::time::Duration;
/// use rfy_runtime::windowing::{EventTimeSessionWindows, TimeWindow, WindowAssigner};
///
/// let gap = EventTimeSessionWindows::with_gap(Duration::from_secs(5));
/// let mut w = Vec::new();
/// gap.assign_windows(1_000, 0, &mut w);
/// assert_eq!(w, vec![TimeWindow::new(1_000, 6_000)]);
/// assert!(gap.is_merging());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct EventTimeSessionWindows {
    gap: i64,
}

impl EventTimeSessionWindows {
    /// Sessions that end after `gap` without records.
    pub fn with_gap(gap: Duration) -> Self {
        EventTimeSessionWindows { gap: ms(gap).max(1) }
    }
}

impl WindowAssigner for EventTimeSessionWindows {
    fn assign_windows(&self, timestamp: i64, _now: i64, out: &mut Vec<TimeWindow>) {
        out.push(TimeWindow::new(timestamp, timestamp.saturating_add(self.gap)))
    }
    fn is_event_time(&self) -> bool {
        true
    }
    fn is_merging(&self) -> bool {
        true
    }
}

/// Session windows of wall-clock time (Flink's `ProcessingTimeSessionWindows`).
#[derive(Debug, Clone, Copy)]
pub struct ProcessingTimeSessionWindows {
    gap: i64,
}

impl ProcessingTimeSessionWindows {
    /// Sessions that end after `gap` without records.
    pub fn with_gap(gap: Duration) -> Self {
        ProcessingTimeSessionWindows { gap: ms(gap).max(1) }
    }
}

impl WindowAssigner for ProcessingTimeSessionWindows {
    fn assign_windows(&self, _timestamp: i64, now: i64, out: &mut Vec<TimeWindow>) {
        out.push(TimeWindow::new(now, now.saturating_add(self.gap)))
    }
    fn is_event_time(&self) -> bool {
        false
    }
    fn is_merging(&self) -> bool {
        true
    }
}

/// One window per key holding all its records, fired at the end of input
/// (Flink's `GlobalWindows.createWithEndOfStreamTrigger`).
#[derive(Debug, Clone, Copy, Default)]
pub struct GlobalWindows;

impl GlobalWindows {
    /// The global window assigner.
    pub fn create() -> Self {
        GlobalWindows
    }
}

impl WindowAssigner for GlobalWindows {
    fn assign_windows(&self, _timestamp: i64, _now: i64, out: &mut Vec<TimeWindow>) {
        out.push(TimeWindow::new(i64::MIN, i64::MAX))
    }
    fn is_event_time(&self) -> bool {
        true
    }
    fn requires_timestamps(&self) -> bool {
        false
    }
}
