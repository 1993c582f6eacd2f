//! Event time: timestamps, watermark strategies and timers (Flink's
//! `WatermarkStrategy`, `WatermarkGenerator`, `TimestampAssigner` and the
//! keyed timer service).

mod split_watermarks;
pub(crate) mod timers;
mod watermarks;

pub use split_watermarks::{combine_splits, CombinedWatermark, SplitClock, SplitWatermarkSettings, SplitWatermarks};
pub use timers::TimeDomain;
pub use watermarks::{
    BoundedOutOfOrderness, NoWatermarks, RecordTimestamp, TimestampAssigner, WatermarkGenerator, WatermarkOutput,
    WatermarkStrategy,
};
