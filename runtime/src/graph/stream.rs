//! The StreamGraph: one node per operator the program declared, with the code
//! that instantiates it.

use std::marker::PhantomData;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::api::SideOutputs;
use crate::context::{OperatorContext, RuntimeMode};
use crate::error::TaskError;
use crate::exchange::gate::NetworkInput;
use crate::exchange::{ChannelReceiver, ChannelSender, ExchangeSettings};
use crate::record::Record;
use crate::task::output::{erase, unerase, AnyOutput, DiscardOutput, FanOut};
use crate::task::{TaskControl, TaskHead};

/// Index of a node in [`StreamGraph::nodes`].
pub type NodeId = usize;

/// How records of an edge are distributed over the consumer's subtasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Partitioning {
    /// Subtask i sends to subtask i (equal parallelism; such edges chain).
    Forward,
    /// Round robin over all consumer subtasks.
    Rebalance,
    /// Every record to every consumer subtask.
    Broadcast,
    /// By key: hash → key group → the subtask owning that key group.
    Hash,
}

/// Job-wide execution settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionConfig {
    /// Parallelism of operators that set none (`-p`, `parallelism.default`).
    pub parallelism: u32,
    /// Number of key groups (`pipeline.max-parallelism`); the upper bound of
    /// any keyed operator's parallelism.
    pub max_parallelism: u32,
    /// `None` = AUTOMATIC: BATCH if every source is bounded, else STREAMING.
    pub runtime_mode: Option<RuntimeMode>,
    /// Interval of periodic watermark emission, ms
    /// (`pipeline.auto-watermark-interval`); 0 turns periodic emission off.
    #[serde(default = "default_auto_watermark_interval")]
    pub auto_watermark_interval_ms: u64,
}

fn default_auto_watermark_interval() -> u64 {
    200
}

impl Default for ExecutionConfig {
    fn default() -> Self {
        ExecutionConfig {
            parallelism: 1,
            max_parallelism: 128,
            runtime_mode: Some(RuntimeMode::Streaming),
            auto_watermark_interval_ms: default_auto_watermark_interval(),
        }
    }
}

/// Builds the operator of a node for one subtask: wraps the typed output
/// `next` and returns the typed input of the new operator.
pub(crate) trait OperatorBuilder: Send + Sync {
    fn build(&self, ctx: &OperatorContext, next: AnyOutput) -> Result<AnyOutput, TaskError>;

    /// Like `build`, with the outputs of the node's side outputs (tag id →
    /// typed output). Operators that emit side outputs override it.
    fn build_with_side_outputs(
        &self,
        ctx: &OperatorContext,
        next: AnyOutput,
        side: SideOutputs,
    ) -> Result<AnyOutput, TaskError> {
        if let Some(tag) = side.tags().next() {
            return Err(TaskError::Mismatch(format!("{}: emits no side output '{tag}'", ctx.operator_name)));
        }
        self.build(ctx, next)
    }
}

/// Builds a source's driver for one subtask, feeding `next`.
pub(crate) trait SourceBuilder: Send + Sync {
    fn build(&self, ctx: &OperatorContext, next: AnyOutput) -> Result<Box<dyn TaskHead>, TaskError>;
    fn bounded(&self) -> bool;
}

pub(crate) enum NodeBuilder {
    Source(Arc<dyn SourceBuilder>),
    Operator(Arc<dyn OperatorBuilder>),
}

/// What needs the record type of a node's output stream.
pub(crate) trait StreamType: Send + Sync {
    fn discard(&self) -> AnyOutput;
    fn fan_out(&self, outputs: Vec<AnyOutput>, at: &str) -> Result<AnyOutput, TaskError>;
    /// Adds `out` (of this type) as the side output `tag` to `outputs`.
    fn side_output(&self, tag: &str, out: AnyOutput, outputs: &mut SideOutputs) -> Result<(), TaskError>;
    fn network_input(
        &self,
        receivers: Vec<ChannelReceiver>,
        next: AnyOutput,
        settings: &ExchangeSettings,
        name: &str,
    ) -> Result<Box<dyn TaskHead>, TaskError>;
}

pub(crate) struct TypeOf<T>(PhantomData<fn() -> T>);

impl<T> TypeOf<T> {
    pub(crate) fn arc() -> Arc<dyn StreamType>
    where
        T: Record,
    {
        Arc::new(TypeOf::<T>(PhantomData))
    }
}

impl<T: Record> StreamType for TypeOf<T> {
    fn discard(&self) -> AnyOutput {
        erase::<T>(Box::new(DiscardOutput::new()))
    }
    fn fan_out(&self, outputs: Vec<AnyOutput>, at: &str) -> Result<AnyOutput, TaskError> {
        let typed = outputs.into_iter().map(|o| unerase::<T>(o, at)).collect::<Result<Vec<_>, _>>()?;
        Ok(erase::<T>(Box::new(FanOut::new(typed))))
    }
    fn side_output(&self, tag: &str, out: AnyOutput, outputs: &mut SideOutputs) -> Result<(), TaskError> {
        outputs.add::<T>(tag, out)
    }
    fn network_input(
        &self,
        receivers: Vec<ChannelReceiver>,
        next: AnyOutput,
        settings: &ExchangeSettings,
        name: &str,
    ) -> Result<Box<dyn TaskHead>, TaskError> {
        let next = unerase::<T>(next, name)?;
        Ok(Box::new(NetworkInput::new(receivers, next, settings.flush_interval, name.to_string())))
    }
}

/// Builds the writer of an edge for one producer subtask.
pub(crate) trait WriterBuilder: Send + Sync {
    fn build(
        &self,
        partitioning: Partitioning,
        senders: Vec<ChannelSender>,
        ctx: &OperatorContext,
        settings: &ExchangeSettings,
        control: &TaskControl,
    ) -> Result<AnyOutput, TaskError>;
}

/// One operator of the program.
pub struct StreamNode {
    /// Position in [`StreamGraph::nodes`]; nodes are in topological order.
    pub id: NodeId,
    /// Display name, e.g. `Flat Map`.
    pub name: String,
    /// Stable id for state (defaults to `<name>-<id>`).
    pub uid: String,
    /// Parallelism set on the operator, if any.
    pub parallelism: Option<u32>,
    /// Largest parallelism the operator supports (1 for non-parallel sources).
    pub parallelism_limit: Option<u32>,
    /// True for sinks.
    pub is_sink: bool,
    /// True if the operator keeps keyed state (its parallelism ≤ max parallelism).
    pub keyed: bool,
    pub(crate) builder: NodeBuilder,
    pub(crate) out_type: Arc<dyn StreamType>,
}

/// A connection between two nodes.
pub struct StreamEdge {
    /// Producer node.
    pub source: NodeId,
    /// Consumer node.
    pub target: NodeId,
    /// Distribution; `explicit` false means "forward if parallelisms match,
    /// else rebalance", as Flink does.
    pub partitioning: Partitioning,
    /// Set by the program (`rebalance()`, `key_by()`, ...) rather than defaulted.
    pub explicit: bool,
    /// For a side output (Flink's `OutputTag`): the tag's id, and the side
    /// stream's record type. Such edges never chain.
    pub(crate) side_output: Option<(String, Arc<dyn StreamType>)>,
    pub(crate) writer: Arc<dyn WriterBuilder>,
}

/// The program's dataflow: operators and their connections.
pub struct StreamGraph {
    /// The job's name.
    pub job_name: String,
    /// The program that built this graph (a built-in job's name).
    pub program: String,
    /// The program's arguments.
    pub args: Vec<String>,
    /// Job-wide settings.
    pub config: ExecutionConfig,
    /// Operators in topological order.
    pub nodes: Vec<StreamNode>,
    /// Connections.
    pub edges: Vec<StreamEdge>,
    pub(crate) io_checks: Vec<Box<dyn Fn() -> Result<(), crate::error::IoCheckError> + Send + Sync>>,
}

impl StreamGraph {
    /// Runs the planning-time checks that connectors registered (input exists,
    /// output writable...). Done once by the client, not by every TaskManager.
    /// One after the other, in registration order (sources before sinks),
    /// stopping at the first failure: a sink's check may create its output
    /// directory, which a job whose input is missing must not leave behind.
    ///
    /// Errors: the first failing check's message, naming the path at fault.
    pub fn check_io(&self) -> Result<(), crate::error::IoCheckError> {
        self.io_checks.iter().try_for_each(|check| check())
    }

    /// The runtime mode, with AUTOMATIC resolved from the sources' boundedness.
    pub fn runtime_mode(&self) -> RuntimeMode {
        self.config.runtime_mode.unwrap_or_else(|| {
            let all_bounded = self.nodes.iter().all(|n| match &n.builder {
                NodeBuilder::Source(s) => s.bounded(),
                NodeBuilder::Operator(_) => true,
            });
            if all_bounded {
                RuntimeMode::Batch
            } else {
                RuntimeMode::Streaming
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use super::*;

    type Check = Box<dyn Fn() -> Result<(), crate::error::IoCheckError> + Send + Sync>;

    fn graph(io_checks: Vec<Check>) -> StreamGraph {
        StreamGraph {
            job_name: "checks".into(),
            program: "checks".into(),
            args: Vec::new(),
            config: ExecutionConfig::default(),
            nodes: Vec::new(),
            edges: Vec::new(),
            io_checks,
        }
    }

    #[test]
    fn the_first_failure_is_reported_and_later_checks_do_not_run() {
        let later_ran = Arc::new(AtomicBool::new(false));
        let flag = later_ran.clone();
        let checks: Vec<Check> = vec![
            Box::new(|| Ok(())),
            Box::new(|| Err("input /a is missing".into())),
            Box::new(move || {
                flag.store(true, Ordering::SeqCst);
                Err("output /b is not empty".into())
            }),
        ];
        assert_eq!(graph(checks).check_io().unwrap_err().to_string(), "input /a is missing");
        assert!(!later_ran.load(Ordering::SeqCst), "a check after the failing one ran (it may create an output)");
        assert!(graph(Vec::new()).check_io().is_ok());
    }
}
