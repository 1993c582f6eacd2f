//! Event time: timestamps, watermark strategies and timers (Flink's
//! `WatermarkStrategy`, `WatermarkGenerator`, `TimestampAssigner` and the
//! keyed timer service).

pub(crate) mod timers;
mod watermarks;

pub use timers::TimeDomain;
pub use watermarks::{
    BoundedOutOfOrderness, NoWatermarks, RecordTimestamp, TimestampAssigner, WatermarkGenerator, WatermarkOutput,
    WatermarkStrategy,
};
