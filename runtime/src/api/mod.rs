//! The DataStream API: the counterpart of Flink's `StreamExecutionEnvironment`,
//! `DataStream` and `KeyedStream`.

mod env;
mod functions;
mod state;
mod stream;
mod windowed;

pub use env::StreamExecutionEnvironment;
pub use functions::{Collector, KeyedContext, KeyedProcessFunction, TimerService};
pub use state::{KeyedStateStore, ListState, MapState, ReducingState, ValueState};
pub use stream::{DataStream, DataStreamSink, KeyedStream};
pub use windowed::WindowedStream;
