//! The two graph forms of a job: the [`StreamGraph`] built by the DataStream
//! API (operators with their code), and the [`JobGraph`] (pure data: chained
//! vertices, edges, parallelism) that the JobManager schedules.

mod chaining;
mod job;
mod stream;

pub use job::{ChainedOperator, JobEdge, JobGraph, JobVertex, JOB_GRAPH_VERSION};
pub use stream::{ExecutionConfig, NodeId, Partitioning, StreamEdge, StreamGraph, StreamNode};
pub(crate) use stream::{NodeBuilder, OperatorBuilder, SourceBuilder, StreamType, TypeOf, WriterBuilder};
