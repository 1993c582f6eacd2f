//! rfy's dataflow runtime: the DataStream API, the StreamGraph and JobGraph,
//! operators, sources and sinks, record exchange between tasks, and the
//! building of one task (a chain of operators for one subtask).
//!
//! The record path works on batches: one dynamic call per batch and operator,
//! records encoded with postcard into buffers of about
//! `taskmanager.memory.segment-size` bytes, bounded channels for backpressure.

pub mod api;
pub mod checkpoint;
pub mod context;
pub mod error;
pub mod event;
pub mod exchange;
pub mod fs;
pub mod graph;
pub mod keygroup;
mod operators;
pub mod program;
pub mod record;
pub mod sinks;
pub mod sources;
pub mod state_backend;
pub mod task;
pub mod time;
pub mod windowing;

pub use api::{Collector, DataStream, KeyedProcessFunction, KeyedStream, StreamExecutionEnvironment, ValueState};
pub use context::{OperatorContext, RuntimeMode};
pub use error::{IoCheckError, JobError, TaskError};
pub use graph::{ExecutionConfig, JobGraph, StreamGraph};
pub use program::{JobProgram, ProgramRegistry};
pub use record::Word;
