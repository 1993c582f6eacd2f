//! Job programs: the code that declares a job's dataflow. Built-in jobs are
//! compiled into rfy's binaries; a program is looked up by name on the client
//! (to make the JobGraph) and on every TaskManager (to make the operators).

use crate::api::StreamExecutionEnvironment;
use crate::error::JobError;
use crate::graph::{ExecutionConfig, StreamGraph};

/// Declares a dataflow from arguments.
pub type BuildFn = fn(&StreamExecutionEnvironment, &[String]) -> Result<(), JobError>;

/// A named job program.
#[derive(Clone, Copy)]
pub struct JobProgram {
    /// Name used on the command line, e.g. `wordcount`.
    pub name: &'static str,
    /// One-line description for `--help`.
    pub description: &'static str,
    /// Declares the dataflow.
    pub build: BuildFn,
}

impl JobProgram {
    /// Runs the program with `args` and returns its StreamGraph.
    ///
    /// Errors: bad arguments or an invalid dataflow, as the program reports them.
    pub fn stream_graph(&self, args: &[String], config: ExecutionConfig) -> Result<StreamGraph, JobError> {
        let env = StreamExecutionEnvironment::new(config);
        env.set_job_name(self.name);
        (self.build)(&env, args)?;
        Ok(env.into_stream_graph(self.name, args))
    }
}

/// Finds job programs by name.
pub trait ProgramRegistry: Send + Sync {
    /// The program called `name`, if there is one.
    fn find(&self, name: &str) -> Option<JobProgram>;
}

impl ProgramRegistry for &'static [JobProgram] {
    fn find(&self, name: &str) -> Option<JobProgram> {
        self.iter().find(|p| p.name == name).copied()
    }
}
