//! Windows on keyed streams (Flink's windowing API): assigners that put each
//! record into windows, window functions (incremental `reduce` and
//! `aggregate`, or `process` over all elements), and the window operator
//! that fires each window when its trigger says so.
//!
//! Triggers (Flink's `Trigger`, `triggers.rs`): by default an event-time
//! window fires when the watermark passes its end (and again for each late
//! record within the allowed lateness, [`EventTimeTrigger`]); a
//! processing-time window when the wall clock does ([`ProcessingTimeTrigger`]);
//! a global window at the end of input. `WindowedStream::trigger` replaces
//! the default with a built-in ([`CountTrigger`], [`ContinuousEventTimeTrigger`],
//! [`ContinuousProcessingTimeTrigger`], [`PurgingTrigger`]) or a custom
//! [`Trigger`]. Count windows (`KeyedStream::count_window`, Flink's count
//! trigger and evictor) are in `api/count_window.rs`. Evictors are not there yet.

mod assigners;
mod functions;
pub(crate) mod operator;
#[cfg(test)]
mod trigger_tests;
mod triggers;

pub use assigners::{
    EventTimeSessionWindows, GlobalWindows, ProcessingTimeSessionWindows, SlidingEventTimeWindows,
    SlidingProcessingTimeWindows, TimeWindow, TumblingEventTimeWindows, TumblingProcessingTimeWindows, WindowAssigner,
};
pub(crate) use functions::{AggregateAgg, PassResult, ProcessAgg, ReduceAgg, WindowAgg};
pub use functions::{AggregateFunction, ProcessWindowContext, ProcessWindowFunction};
pub(crate) use triggers::TimerRequest;
pub use triggers::{
    ContinuousEventTimeTrigger, ContinuousProcessingTimeTrigger, CountTrigger, DefaultTrigger, EventTimeTrigger,
    NextFire, ProcessingTimeTrigger, PurgingTrigger, Trigger, TriggerContext, TriggerResult,
};
