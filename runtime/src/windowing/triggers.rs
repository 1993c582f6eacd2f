//! Triggers (Flink's `Trigger`): when a window fires and when its contents
//! are purged. The window operator asks its trigger on every record, on
//! every timer and when session windows merge; the default triggers of the
//! assigners are the built-in triggers here, so custom and default triggers
//! take the same path.
//!
//! A trigger's per-window state is its [`Trigger::State`]: one value per key
//! and window, kept next to the window's contents in the operator's keyed
//! state (so checkpointed, restored and redistributed on rescale with it).
//!
//! Timers are per key, not per window: a timer fires every open window of
//! its key through [`Trigger::on_event_time`] / [`Trigger::on_processing_time`],
//! so a trigger checks `time` against its window's or its state's time
//! (all built-ins do), and a deleted timer is deleted for every window of
//! the key.

use serde::{Deserialize, Serialize};

use super::TimeWindow;
use crate::record::Record;
use crate::time::TimeDomain;

/// What a trigger decides for its window (Flink's `TriggerResult`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerResult {
    /// Nothing happens.
    Continue,
    /// The window function is evaluated on the window's contents; the contents stay.
    Fire,
    /// The window's contents are dropped without evaluation (the trigger's state stays).
    Purge,
    /// The window function is evaluated, then the contents are dropped.
    FireAndPurge,
}

impl TriggerResult {
    /// True for `Fire` and `FireAndPurge`.
    pub fn is_fire(self) -> bool {
        matches!(self, TriggerResult::Fire | TriggerResult::FireAndPurge)
    }
    /// True for `Purge` and `FireAndPurge`.
    pub fn is_purge(self) -> bool {
        matches!(self, TriggerResult::Purge | TriggerResult::FireAndPurge)
    }
}

/// A timer registration or deletion a trigger asked for, applied by the
/// operator for the current key once the trigger returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerRequest {
    pub(crate) domain: TimeDomain,
    pub(crate) time: i64,
    pub(crate) register: bool,
}

/// What a trigger sees of the operator (Flink's `Trigger.TriggerContext`):
/// its state for the current key and window, the clocks, and the timers of
/// the current key.
pub struct TriggerContext<'a, S> {
    pub(crate) state: &'a mut S,
    pub(crate) watermark: i64,
    pub(crate) processing_time: i64,
    pub(crate) timers: &'a mut Vec<TimerRequest>,
    /// At the end of input the remaining timers fire once; new ones would
    /// never end (a continuous trigger re-registers forever), so they are ignored.
    pub(crate) draining: bool,
}

impl<S> TriggerContext<'_, S> {
    /// The trigger's state for the current key and window (`S::default()`
    /// until the trigger changes it; dropped when the window is cleaned up).
    pub fn state(&mut self) -> &mut S {
        self.state
    }
    /// The operator's current watermark (event time, ms).
    pub fn current_watermark(&self) -> i64 {
        self.watermark
    }
    /// The wall-clock time of this batch or timer (processing time, ms since the epoch).
    pub fn current_processing_time(&self) -> i64 {
        self.processing_time
    }
    fn request(&mut self, domain: TimeDomain, time: i64, register: bool) {
        if register && self.draining {
            return;
        }
        let r = TimerRequest { domain, time, register };
        // The operator's cleanup timer often equals the trigger's: one request.
        if self.timers.last() != Some(&r) {
            self.timers.push(r);
        }
    }
    /// Calls the trigger's `on_event_time` when the watermark reaches `time` (ms).
    pub fn register_event_time_timer(&mut self, time: i64) {
        self.request(TimeDomain::EventTime, time, true)
    }
    /// Calls the trigger's `on_processing_time` when the wall clock reaches `time` (ms).
    pub fn register_processing_time_timer(&mut self, time: i64) {
        self.request(TimeDomain::ProcessingTime, time, true)
    }
    /// Deletes the key's event-time timer at `time` (for all its windows).
    pub fn delete_event_time_timer(&mut self, time: i64) {
        self.request(TimeDomain::EventTime, time, false)
    }
    /// Deletes the key's processing-time timer at `time` (for all its windows).
    pub fn delete_processing_time_timer(&mut self, time: i64) {
        self.request(TimeDomain::ProcessingTime, time, false)
    }
}

/// Decides when a window fires (Flink's `Trigger`). Set one with
/// `WindowedStream::trigger`; without it a window uses its assigner's
/// default ([`EventTimeTrigger`] or [`ProcessingTimeTrigger`]).
///
/// The operator calls it per record and per timer, generically (no
/// dynamic dispatch); `&self` is shared by all keys and windows, per-window
/// memory goes in [`State`](Self::State).
///
/// ```
/// use rfy_runtime::windowing::{TimeWindow, Trigger, TriggerContext, TriggerResult};
///
/// /// Fires a window whenever a record above `limit` arrives, and at its end.
/// #[derive(Clone)]
/// struct FireOnLarge { limit: u64 }
/// impl Trigger<(String, u64)> for FireOnLarge {
///     type State = ();
///     fn on_element(&self, r: &(String, u64), _ts: i64, w: &TimeWindow, ctx: &mut TriggerContext<'_, ()>) -> TriggerResult {
///         ctx.register_event_time_timer(w.max_timestamp());
///         if r.1 > self.limit { TriggerResult::Fire } else { TriggerResult::Continue }
///     }
///     fn on_event_time(&self, time: i64, w: &TimeWindow, _ctx: &mut TriggerContext<'_, ()>) -> TriggerResult {
///         if time == w.max_timestamp() { TriggerResult::Fire } else { TriggerResult::Continue }
///     }
///     fn on_processing_time(&self, _time: i64, _w: &TimeWindow, _ctx: &mut TriggerContext<'_, ()>) -> TriggerResult {
///         TriggerResult::Continue
///     }
/// }
/// # let _ = FireOnLarge { limit: 1 };
/// ```
pub trait Trigger<T>: Clone + Send + Sync + 'static {
    /// Per key and window state (checkpointed with the window); `()` if none.
    type State: Record + Default;

    /// A record `element` with event time `timestamp` (ms; `i64::MIN` if the
    /// stream has none) was added to `window`.
    fn on_element(
        &self,
        element: &T,
        timestamp: i64,
        window: &TimeWindow,
        ctx: &mut TriggerContext<'_, Self::State>,
    ) -> TriggerResult;

    /// An event-time timer of the key fired at `time` (ms).
    fn on_event_time(&self, time: i64, window: &TimeWindow, ctx: &mut TriggerContext<'_, Self::State>)
        -> TriggerResult;

    /// A processing-time timer of the key fired at `time` (ms).
    fn on_processing_time(
        &self,
        time: i64,
        window: &TimeWindow,
        ctx: &mut TriggerContext<'_, Self::State>,
    ) -> TriggerResult;

    /// True if the trigger supports merging windows (session windows need it).
    fn can_merge(&self) -> bool {
        false
    }

    /// Session windows merged into `window`: `merged` holds the states of
    /// the merged windows, `ctx.state()` starts as `State::default()` for the
    /// result to be built from them (and timers re-registered for `window`).
    fn on_merge(&self, window: &TimeWindow, merged: &[Self::State], ctx: &mut TriggerContext<'_, Self::State>) {
        let _ = (window, merged, ctx);
    }

    /// The window is cleaned up (after its allowed lateness): the state is
    /// dropped after this returns; delete timers here if needed.
    fn clear(&self, window: &TimeWindow, ctx: &mut TriggerContext<'_, Self::State>) {
        let _ = (window, ctx);
    }
}

/// Fires once the watermark passes the window's end, and again for each
/// late record within the allowed lateness (Flink's `EventTimeTrigger`,
/// the default of event-time assigners).
#[derive(Debug, Clone, Copy, Default)]
pub struct EventTimeTrigger;

impl EventTimeTrigger {
    /// The trigger.
    pub fn create() -> Self {
        EventTimeTrigger
    }
}

impl<T> Trigger<T> for EventTimeTrigger {
    type State = ();
    #[inline]
    fn on_element(&self, _e: &T, _ts: i64, window: &TimeWindow, ctx: &mut TriggerContext<'_, ()>) -> TriggerResult {
        if window.max_timestamp() <= ctx.watermark {
            TriggerResult::Fire // late, within the allowed lateness
        } else {
            ctx.register_event_time_timer(window.max_timestamp());
            TriggerResult::Continue
        }
    }
    #[inline]
    fn on_event_time(&self, time: i64, window: &TimeWindow, _ctx: &mut TriggerContext<'_, ()>) -> TriggerResult {
        if time == window.max_timestamp() {
            TriggerResult::Fire
        } else {
            TriggerResult::Continue
        }
    }
    fn on_processing_time(&self, _time: i64, _w: &TimeWindow, _ctx: &mut TriggerContext<'_, ()>) -> TriggerResult {
        TriggerResult::Continue
    }
    fn can_merge(&self) -> bool {
        true
    }
    fn on_merge(&self, window: &TimeWindow, _merged: &[()], ctx: &mut TriggerContext<'_, ()>) {
        if window.max_timestamp() > ctx.watermark {
            ctx.register_event_time_timer(window.max_timestamp());
        }
    }
}

/// Fires when the wall clock passes the window's end (Flink's
/// `ProcessingTimeTrigger`, the default of processing-time assigners).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessingTimeTrigger;

impl ProcessingTimeTrigger {
    /// The trigger.
    pub fn create() -> Self {
        ProcessingTimeTrigger
    }
}

impl<T> Trigger<T> for ProcessingTimeTrigger {
    type State = ();
    #[inline]
    fn on_element(&self, _e: &T, _ts: i64, window: &TimeWindow, ctx: &mut TriggerContext<'_, ()>) -> TriggerResult {
        ctx.register_processing_time_timer(window.max_timestamp());
        TriggerResult::Continue
    }
    fn on_event_time(&self, _time: i64, _w: &TimeWindow, _ctx: &mut TriggerContext<'_, ()>) -> TriggerResult {
        TriggerResult::Continue
    }
    #[inline]
    fn on_processing_time(&self, time: i64, window: &TimeWindow, _ctx: &mut TriggerContext<'_, ()>) -> TriggerResult {
        if time == window.max_timestamp() {
            TriggerResult::Fire
        } else {
            TriggerResult::Continue
        }
    }
    fn can_merge(&self) -> bool {
        true
    }
    fn on_merge(&self, window: &TimeWindow, _merged: &[()], ctx: &mut TriggerContext<'_, ()>) {
        if window.max_timestamp() > ctx.processing_time {
            ctx.register_processing_time_timer(window.max_timestamp());
        }
    }
}

/// The default trigger of an assigner: [`EventTimeTrigger`] for event-time
/// assigners, [`ProcessingTimeTrigger`] for processing-time ones (one
/// predictable branch per call, no dynamic dispatch).
#[derive(Debug, Clone, Copy)]
pub enum DefaultTrigger {
    /// Event-time windows.
    EventTime(EventTimeTrigger),
    /// Processing-time windows.
    ProcessingTime(ProcessingTimeTrigger),
}

impl<T> Trigger<T> for DefaultTrigger {
    type State = ();
    #[inline]
    fn on_element(&self, e: &T, ts: i64, window: &TimeWindow, ctx: &mut TriggerContext<'_, ()>) -> TriggerResult {
        match self {
            DefaultTrigger::EventTime(t) => t.on_element(e, ts, window, ctx),
            DefaultTrigger::ProcessingTime(t) => Trigger::<T>::on_element(t, e, ts, window, ctx),
        }
    }
    #[inline]
    fn on_event_time(&self, time: i64, window: &TimeWindow, ctx: &mut TriggerContext<'_, ()>) -> TriggerResult {
        match self {
            DefaultTrigger::EventTime(t) => Trigger::<T>::on_event_time(t, time, window, ctx),
            DefaultTrigger::ProcessingTime(t) => Trigger::<T>::on_event_time(t, time, window, ctx),
        }
    }
    #[inline]
    fn on_processing_time(&self, time: i64, window: &TimeWindow, ctx: &mut TriggerContext<'_, ()>) -> TriggerResult {
        match self {
            DefaultTrigger::EventTime(t) => Trigger::<T>::on_processing_time(t, time, window, ctx),
            DefaultTrigger::ProcessingTime(t) => Trigger::<T>::on_processing_time(t, time, window, ctx),
        }
    }
    fn can_merge(&self) -> bool {
        true
    }
    fn on_merge(&self, window: &TimeWindow, merged: &[()], ctx: &mut TriggerContext<'_, ()>) {
        match self {
            DefaultTrigger::EventTime(t) => Trigger::<T>::on_merge(t, window, merged, ctx),
            DefaultTrigger::ProcessingTime(t) => Trigger::<T>::on_merge(t, window, merged, ctx),
        }
    }
}

/// Fires every `count` records of a window, then counts again (Flink's
/// `CountTrigger`); never fires on time. Wrap it in a [`PurgingTrigger`]
/// for tumbling count windows.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use rfy_runtime::sinks::CollectSink;
/// use rfy_runtime::windowing::{CountTrigger, GlobalWindows, PurgingTrigger};
/// use rfy_runtime::{ExecutionConfig, StreamExecutionEnvironment};
///
/// let env = StreamExecutionEnvironment::new(ExecutionConfig::default());
/// let out = Arc::new(Mutex::new(Vec::new()));
/// env.from_collection(vec![(1u32, 1u64), (1, 2), (1, 3), (1, 4), (1, 5)])
///     .key_by(|r: &(u32, u64)| r.0)
///     .window(GlobalWindows::create())
///     .trigger(PurgingTrigger::of(CountTrigger::of(2)))
///     .reduce(|a, b| (a.0, a.1 + b.1))
///     .sink_to(CollectSink::new(out.clone()));
/// rfy_runtime::task::run_local(env).unwrap();
/// // 1+2, 3+4; the 5 waits for a partner that never comes.
/// assert_eq!(*out.lock().unwrap(), vec![(1, 3), (1, 7)]);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct CountTrigger {
    count: u64,
}

impl CountTrigger {
    /// Fires every `count` records (0 counts as 1).
    pub fn of(count: u64) -> Self {
        CountTrigger { count: count.max(1) }
    }
}

impl<T> Trigger<T> for CountTrigger {
    /// Records since the last firing.
    type State = u64;
    #[inline]
    fn on_element(&self, _e: &T, _ts: i64, _w: &TimeWindow, ctx: &mut TriggerContext<'_, u64>) -> TriggerResult {
        *ctx.state += 1;
        if *ctx.state >= self.count {
            *ctx.state = 0;
            TriggerResult::Fire
        } else {
            TriggerResult::Continue
        }
    }
    fn on_event_time(&self, _time: i64, _w: &TimeWindow, _ctx: &mut TriggerContext<'_, u64>) -> TriggerResult {
        TriggerResult::Continue
    }
    fn on_processing_time(&self, _time: i64, _w: &TimeWindow, _ctx: &mut TriggerContext<'_, u64>) -> TriggerResult {
        TriggerResult::Continue
    }
    fn can_merge(&self) -> bool {
        true
    }
    /// The merged window has the records of all merged windows: counts add.
    fn on_merge(&self, _w: &TimeWindow, merged: &[u64], ctx: &mut TriggerContext<'_, u64>) {
        *ctx.state = merged.iter().sum();
    }
}

/// First firing time at or after `time` on the grid of `interval` (ms),
/// clamped to the window's end.
fn next_fire(time: i64, interval: i64, window: &TimeWindow) -> i64 {
    let start = time - time.rem_euclid(interval);
    start.saturating_add(interval).min(window.max_timestamp())
}

/// The next firing time of a continuous trigger, `None` before its first
/// record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextFire(pub Option<i64>);

/// Fires every `interval` of event time while the window is open, and at
/// its end (Flink's `ContinuousEventTimeTrigger`): early results of long windows.
#[derive(Debug, Clone, Copy)]
pub struct ContinuousEventTimeTrigger {
    interval: i64,
}

impl ContinuousEventTimeTrigger {
    /// Fires every `interval` of event time (at least 1 ms).
    pub fn of(interval: std::time::Duration) -> Self {
        ContinuousEventTimeTrigger { interval: interval.as_millis().clamp(1, i64::MAX as u128) as i64 }
    }
}

impl<T> Trigger<T> for ContinuousEventTimeTrigger {
    type State = NextFire;
    fn on_element(
        &self,
        _e: &T,
        ts: i64,
        window: &TimeWindow,
        ctx: &mut TriggerContext<'_, NextFire>,
    ) -> TriggerResult {
        if window.max_timestamp() <= ctx.watermark {
            return TriggerResult::Fire;
        }
        ctx.register_event_time_timer(window.max_timestamp());
        if ctx.state.0.is_none() {
            let next = next_fire(ts, self.interval, window);
            ctx.state.0 = Some(next);
            ctx.register_event_time_timer(next);
        }
        TriggerResult::Continue
    }
    fn on_event_time(&self, time: i64, window: &TimeWindow, ctx: &mut TriggerContext<'_, NextFire>) -> TriggerResult {
        if time == window.max_timestamp() {
            return TriggerResult::Fire;
        }
        if ctx.state.0 != Some(time) {
            return TriggerResult::Continue;
        }
        let next = time.saturating_add(self.interval).min(window.max_timestamp());
        ctx.state.0 = Some(next);
        ctx.register_event_time_timer(next);
        TriggerResult::Fire
    }
    fn on_processing_time(&self, _t: i64, _w: &TimeWindow, _ctx: &mut TriggerContext<'_, NextFire>) -> TriggerResult {
        TriggerResult::Continue
    }
    fn can_merge(&self) -> bool {
        true
    }
    /// The earliest pending firing of the merged windows.
    fn on_merge(&self, window: &TimeWindow, merged: &[NextFire], ctx: &mut TriggerContext<'_, NextFire>) {
        let next = merged.iter().filter_map(|s| s.0).min();
        ctx.state.0 = next;
        if let Some(t) = next {
            ctx.register_event_time_timer(t);
        }
        if window.max_timestamp() > ctx.watermark {
            ctx.register_event_time_timer(window.max_timestamp());
        }
    }
}

/// Fires every `interval` of wall-clock time while the window is open
/// (Flink's `ContinuousProcessingTimeTrigger`); the last firing is at the
/// window's end, clamped.
#[derive(Debug, Clone, Copy)]
pub struct ContinuousProcessingTimeTrigger {
    interval: i64,
}

impl ContinuousProcessingTimeTrigger {
    /// Fires every `interval` of processing time (at least 1 ms).
    pub fn of(interval: std::time::Duration) -> Self {
        ContinuousProcessingTimeTrigger { interval: interval.as_millis().clamp(1, i64::MAX as u128) as i64 }
    }
}

impl<T> Trigger<T> for ContinuousProcessingTimeTrigger {
    type State = NextFire;
    fn on_element(
        &self,
        _e: &T,
        _ts: i64,
        window: &TimeWindow,
        ctx: &mut TriggerContext<'_, NextFire>,
    ) -> TriggerResult {
        if ctx.state.0.is_none() {
            let next = next_fire(ctx.processing_time, self.interval, window);
            ctx.state.0 = Some(next);
            ctx.register_processing_time_timer(next);
        }
        TriggerResult::Continue
    }
    fn on_event_time(&self, _t: i64, _w: &TimeWindow, _ctx: &mut TriggerContext<'_, NextFire>) -> TriggerResult {
        TriggerResult::Continue
    }
    fn on_processing_time(
        &self,
        time: i64,
        window: &TimeWindow,
        ctx: &mut TriggerContext<'_, NextFire>,
    ) -> TriggerResult {
        if ctx.state.0 != Some(time) {
            return TriggerResult::Continue;
        }
        if time < window.max_timestamp() {
            // The next point of the grid after now: a late timer does not
            // fire once per missed interval.
            let next = next_fire(time.max(ctx.processing_time), self.interval, window);
            ctx.state.0 = Some(next);
            ctx.register_processing_time_timer(next);
        } else {
            // The window's end: a later record (event-time windows) starts over.
            ctx.state.0 = None;
        }
        TriggerResult::Fire
    }
    fn can_merge(&self) -> bool {
        true
    }
    fn on_merge(&self, _window: &TimeWindow, merged: &[NextFire], ctx: &mut TriggerContext<'_, NextFire>) {
        let next = merged.iter().filter_map(|s| s.0).min();
        ctx.state.0 = next;
        if let Some(t) = next {
            ctx.register_processing_time_timer(t);
        }
    }
}

/// Turns every firing of `inner` into fire-and-purge (Flink's
/// `PurgingTrigger`): each firing sees only the records since the last.
#[derive(Debug, Clone, Copy)]
pub struct PurgingTrigger<Tr> {
    inner: Tr,
}

impl<Tr> PurgingTrigger<Tr> {
    /// Purges after every firing of `inner`.
    pub fn of(inner: Tr) -> Self {
        PurgingTrigger { inner }
    }
}

fn purging(r: TriggerResult) -> TriggerResult {
    if r.is_fire() {
        TriggerResult::FireAndPurge
    } else {
        r
    }
}

impl<T, Tr: Trigger<T>> Trigger<T> for PurgingTrigger<Tr> {
    type State = Tr::State;
    #[inline]
    fn on_element(
        &self,
        e: &T,
        ts: i64,
        window: &TimeWindow,
        ctx: &mut TriggerContext<'_, Tr::State>,
    ) -> TriggerResult {
        purging(self.inner.on_element(e, ts, window, ctx))
    }
    fn on_event_time(&self, time: i64, window: &TimeWindow, ctx: &mut TriggerContext<'_, Tr::State>) -> TriggerResult {
        purging(self.inner.on_event_time(time, window, ctx))
    }
    fn on_processing_time(
        &self,
        time: i64,
        window: &TimeWindow,
        ctx: &mut TriggerContext<'_, Tr::State>,
    ) -> TriggerResult {
        purging(self.inner.on_processing_time(time, window, ctx))
    }
    fn can_merge(&self) -> bool {
        self.inner.can_merge()
    }
    fn on_merge(&self, window: &TimeWindow, merged: &[Tr::State], ctx: &mut TriggerContext<'_, Tr::State>) {
        self.inner.on_merge(window, merged, ctx)
    }
    fn clear(&self, window: &TimeWindow, ctx: &mut TriggerContext<'_, Tr::State>) {
        self.inner.clear(window, ctx)
    }
}
