//! Windows on keyed streams (Flink's windowing API): assigners that put each
//! record into windows, window functions (incremental `reduce` and
//! `aggregate`, or `process` over all elements), and the window operator
//! that fires each window with the default trigger of its time domain.
//!
//! Triggers: the defaults only — an event-time window fires when the
//! watermark passes its end (and again for each late record within the
//! allowed lateness); a processing-time window when the wall clock does; a
//! global window at the end of input. Count windows (`KeyedStream::count_window`,
//! Flink's count trigger and evictor) are in `api/count_window.rs`. Custom
//! triggers and evictors are not there yet.

mod assigners;
mod functions;
pub(crate) mod operator;

pub use assigners::{
    EventTimeSessionWindows, GlobalWindows, ProcessingTimeSessionWindows, SlidingEventTimeWindows,
    SlidingProcessingTimeWindows, TimeWindow, TumblingEventTimeWindows, TumblingProcessingTimeWindows, WindowAssigner,
};
pub(crate) use functions::{AggregateAgg, PassResult, ProcessAgg, ReduceAgg, WindowAgg};
pub use functions::{AggregateFunction, ProcessWindowContext, ProcessWindowFunction};
