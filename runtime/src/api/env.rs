//! The environment a job program declares its dataflow in.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use super::graph_builder::GraphBuilder;
use super::stream::DataStream;
use crate::context::RuntimeMode;
use crate::graph::{ExecutionConfig, NodeBuilder, StreamGraph, StreamNode, TypeOf};
use crate::operators::source::SourceNode;
use crate::record::Record;
use crate::sources::{CollectionSource, SocketTextSource, Source, TextFileSource};

/// Where a job program declares sources, transformations and sinks (Flink's
/// `StreamExecutionEnvironment`). The program runs on the client (to make the
/// JobGraph) and on every TaskManager (to instantiate operators), so it must
/// build the same graph each time from the same arguments.
pub struct StreamExecutionEnvironment {
    pub(crate) graph: Rc<RefCell<GraphBuilder>>,
}

impl StreamExecutionEnvironment {
    /// An empty environment with the given settings.
    pub fn new(config: ExecutionConfig) -> Self {
        StreamExecutionEnvironment {
            graph: Rc::new(RefCell::new(GraphBuilder {
                job_name: "rfy job".into(),
                config,
                nodes: Vec::new(),
                edges: Vec::new(),
                io_checks: Vec::new(),
            })),
        }
    }

    /// Sets the default parallelism of operators that set none.
    pub fn set_parallelism(&self, parallelism: u32) {
        self.graph.borrow_mut().config.parallelism = parallelism;
    }

    /// The default parallelism.
    pub fn parallelism(&self) -> u32 {
        self.graph.borrow().config.parallelism
    }

    /// Sets STREAMING or BATCH; `None` = AUTOMATIC.
    pub fn set_runtime_mode(&self, mode: Option<RuntimeMode>) {
        self.graph.borrow_mut().config.runtime_mode = mode;
    }

    /// Names the job.
    pub fn set_job_name(&self, name: impl Into<String>) {
        self.graph.borrow_mut().job_name = name.into();
    }

    /// Adds a source.
    pub fn add_source<T: Record, S: Source<T>>(&self, source: S) -> DataStream<T> {
        let name = source.name();
        let limit = source.max_parallelism();
        let source = Arc::new(source);
        let checked = source.clone();
        let mut g = self.graph.borrow_mut();
        g.io_checks.push(Box::new(move || checked.check()));
        let id = g.nodes.len();
        g.nodes.push(StreamNode {
            id,
            uid: format!("{}-{id}", name),
            name,
            parallelism: None,
            parallelism_limit: limit,
            is_sink: false,
            keyed: false,
            builder: NodeBuilder::Source(Arc::new(SourceNode::<T, S>(source, PhantomData))),
            out_type: TypeOf::<T>::arc(),
        });
        DataStream::new(self.graph.clone(), id)
    }

    /// Lines of a text file, read in parallel splits.
    pub fn read_text_file(&self, path: impl Into<PathBuf>) -> DataStream<String> {
        self.add_source(TextFileSource::new(path))
    }

    /// The given records, in order, from one subtask.
    pub fn from_collection<T: Record + Send + Sync>(&self, items: Vec<T>) -> DataStream<T> {
        self.add_source(CollectionSource::new(items))
    }

    /// Lines read from a TCP socket (unbounded, non-parallel).
    pub fn socket_text_stream(&self, host: &str, port: u16) -> DataStream<String> {
        self.add_source(SocketTextSource::new(host, port))
    }

    /// The finished StreamGraph, for the program `program` run with `args`.
    pub fn into_stream_graph(self, program: &str, args: &[String]) -> StreamGraph {
        let g = self.graph.replace(GraphBuilder {
            job_name: String::new(),
            config: ExecutionConfig::default(),
            nodes: Vec::new(),
            edges: Vec::new(),
            io_checks: Vec::new(),
        });
        StreamGraph {
            job_name: g.job_name,
            program: program.to_string(),
            args: args.to_vec(),
            config: g.config,
            nodes: g.nodes,
            edges: g.edges,
            io_checks: g.io_checks,
        }
    }
}
