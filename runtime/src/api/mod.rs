//! The DataStream API: the counterpart of Flink's `StreamExecutionEnvironment`,
//! `DataStream` and `KeyedStream`.

mod async_io;
mod broadcast;
mod broadcast_state;
mod connected;
mod count_window;
mod env;
mod functions;
mod graph_builder;
mod side;
mod state;
mod stream;
mod windowed;

pub use async_io::{AsyncDataStream, AsyncError, AsyncFunction, AsyncRetryStrategy, OutputMode};
pub use broadcast::{
    BroadcastConnectedStream, BroadcastContext, BroadcastProcessFunction, BroadcastStream,
    KeyedBroadcastConnectedStream, KeyedBroadcastProcessFunction, KeyedReadOnlyContext, ReadOnlyBroadcastContext,
};
#[cfg(test)]
pub(crate) use broadcast_state::declare as broadcast_state_declare;
pub use broadcast_state::{BroadcastState, MapStateDescriptor, ReadOnlyBroadcastState};
pub(crate) use broadcast_state::{BroadcastStateStore, Declarations};
pub use connected::{
    CoProcessContext, CoProcessFunction, ConnectWith, ConnectedStreams, IntervalJoin, JoinEqualTo, JoinWhere,
    JoinedStreams, KeyedCoProcessFunction, KeyedConnectedStreams, Tagged, WindowedJoin,
};
pub use count_window::CountWindowedStream;
pub use env::StreamExecutionEnvironment;
pub use functions::{Collector, KeyedProcessFunction};
pub use side::OutputTag;
pub(crate) use side::SideOutputs;
pub use state::{KeyedContext, KeyedStateStore, ListState, MapState, ReducingState, TimerService, ValueState};
pub use stream::{DataStream, DataStreamSink, KeyedStream};
pub use windowed::WindowedStream;
