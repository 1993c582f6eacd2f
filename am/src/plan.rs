//! Planning a job: the one place a job program, its arguments and the
//! configuration become a StreamGraph and a JobGraph. The client plans with
//! it (local mode, `rfy info`), the ApplicationMaster runs it as the job's
//! `main` in application mode.

use std::cell::{Cell, RefCell};
use std::sync::Once;

use rfy_conf::{options, Configuration};
use rfy_runtime::{ExecutionConfig, JobError, JobGraph, JobProgram, RuntimeMode, StreamGraph};

/// Why a job could not be planned; each message is one line naming the job
/// or the option at fault.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// No program of that name.
    #[error("unknown job '{job}'; jobs in this executable: {known}")]
    UnknownJob {
        /// The name asked for.
        job: String,
        /// The names there are, comma-separated.
        known: String,
    },
    /// A configuration value is invalid.
    #[error("{0}")]
    Conf(String),
    /// The program refused its arguments or declared an invalid dataflow.
    #[error("job '{job}': {error}")]
    Job {
        /// The job's name.
        job: String,
        /// What the program reported.
        error: JobError,
    },
    /// The program panicked while declaring its dataflow.
    #[error("job '{job}' panicked in its main at {location}: {message}")]
    Panic {
        /// The job's name.
        job: String,
        /// Where: `file:line:column` of the panic.
        location: String,
        /// The panic's message.
        message: String,
    },
    /// The checkpoint directory cannot be used.
    #[error("job '{job}': {source}")]
    CheckpointDir {
        /// The job's name.
        job: String,
        /// Why.
        #[source]
        source: Box<CheckpointDirError>,
    },
    /// A planning check failed (missing input, output not writable).
    #[error("job '{job}': {source}")]
    Check {
        /// The job's name.
        job: String,
        /// The check's failure, naming the file or address.
        #[source]
        source: rfy_runtime::IoCheckError,
    },
}

/// The execution settings of the configuration: `parallelism.default`,
/// `pipeline.max-parallelism`, `execution.runtime-mode`.
///
/// Errors: an unknown runtime mode or a parallelism of 0, naming the key.
pub fn execution_config(conf: &Configuration) -> Result<ExecutionConfig, PlanError> {
    let mode = RuntimeMode::parse(&conf.get(&options::EXECUTION_RUNTIME_MODE))
        .map_err(|e| PlanError::Conf(format!("{}: {e}", options::EXECUTION_RUNTIME_MODE.key)))?;
    let exec = ExecutionConfig {
        parallelism: conf.get(&options::PARALLELISM_DEFAULT),
        max_parallelism: conf.get(&options::PIPELINE_MAX_PARALLELISM),
        runtime_mode: mode,
        auto_watermark_interval_ms: conf.get(&options::PIPELINE_AUTO_WATERMARK_INTERVAL).as_millis() as u64,
    };
    if exec.parallelism == 0 {
        return Err(PlanError::Conf(format!("{} must be at least 1", options::PARALLELISM_DEFAULT.key)));
    }
    Ok(exec)
}

/// The program called `job` among `programs`.
///
/// Errors: [`PlanError::UnknownJob`] listing the names there are.
pub fn find_program(programs: &[JobProgram], job: &str) -> Result<JobProgram, PlanError> {
    programs.iter().find(|p| p.name == job).copied().ok_or_else(|| PlanError::UnknownJob {
        job: job.to_string(),
        known: programs.iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
    })
}

/// Plans job `job` of `programs` with `args`: its StreamGraph and JobGraph.
/// With `check_io` the planning checks run too (inputs exist, outputs are
/// writable); a job restored from a savepoint skips them, as it continues
/// its output.
///
/// Errors: unknown job, bad configuration, bad job arguments, an invalid
/// dataflow, or a failed planning check.
pub fn plan(
    programs: &[JobProgram],
    job: &str,
    args: &[String],
    conf: &Configuration,
    check_io: bool,
) -> Result<(StreamGraph, JobGraph), PlanError> {
    let program = find_program(programs, job)?;
    let exec = execution_config(conf)?;
    let declared = catch_quietly(|| program.stream_graph(args, exec)).map_err(|(panic, location)| {
        let message = match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
            (Some(s), _) => s.to_string(),
            (_, Some(s)) => s.clone(),
            _ => "(no message)".to_string(),
        };
        PlanError::Panic { job: job.into(), location, message }
    })?;
    let stream = declared.map_err(|error| PlanError::Job { job: job.into(), error })?;
    if check_io {
        // The checkpoint directory first: the output check may create the output directory.
        check_checkpoint_dir(conf).map_err(|e| PlanError::CheckpointDir { job: job.into(), source: Box::new(e) })?;
        stream.check_io().map_err(|source| PlanError::Check { job: job.into(), source })?;
    }
    let graph = stream.job_graph().map_err(|error| PlanError::Job { job: job.into(), error })?;
    Ok((stream, graph))
}

thread_local! {
    /// Set while this thread runs a job's main under [`catch_quietly`].
    static QUIET: Cell<bool> = const { Cell::new(false) };
    /// Where the last quiet panic of this thread happened.
    static LOCATION: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Runs `f`, catching a panic: returns its payload and location instead of
/// letting Rust's default hook print `thread 'main' panicked at ...` (rfy
/// reports the panic as one line of its own). The process-wide hook is
/// wrapped once; panics on other threads, or outside `f`, reach the previous
/// hook unchanged (a panicking operator's backtrace stays in the logs).
fn catch_quietly<R>(f: impl FnOnce() -> R) -> Result<R, (Box<dyn std::any::Any + Send>, String)> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) {
                let at = info.location().map(|l| l.to_string()).unwrap_or_else(|| "an unknown place".into());
                LOCATION.with(|l| *l.borrow_mut() = at);
            } else {
                previous(info)
            }
        }));
    });
    let was = QUIET.with(|q| q.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was));
    result.map_err(|payload| (payload, LOCATION.with(|l| l.take())))
}

/// With checkpointing on, creates `state.checkpoints.dir` (if absent) before
/// the job starts, so that a directory the user may not write (HDFS
/// permission denied, a missing parent) fails the submission with one line
/// naming it, instead of declining every checkpoint of a running job.
///
/// Errors: [`CheckpointDirError`]: the directory cannot be created.
pub fn check_checkpoint_dir(conf: &Configuration) -> Result<(), CheckpointDirError> {
    if conf.get_optional(&options::EXECUTION_CHECKPOINTING_INTERVAL).is_none() {
        return Ok(());
    }
    let Some(dir) = conf.get_optional(&options::STATE_CHECKPOINTS_DIR) else {
        return Ok(()); // the JobManager's checkpoint settings report this one
    };
    let key = options::STATE_CHECKPOINTS_DIR.key;
    rfy_connectors::register_file_system();
    let fs = rfy_runtime::fs::get(&dir).map_err(|source| CheckpointDirError::FileSystem {
        dir: dir.clone(),
        key,
        source,
    })?;
    fs.mkdirs(&dir).map_err(|source| CheckpointDirError::Create { dir, key, source })
}

/// Why `state.checkpoints.dir` cannot be used; each names the directory and the option.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointDirError {
    /// No file system for the directory's URI.
    #[error("checkpoint directory {dir} ({key}): {source}")]
    FileSystem {
        /// The directory URI.
        dir: String,
        /// The option it came from.
        key: &'static str,
        /// The cause.
        #[source]
        source: rfy_runtime::fs::FsError,
    },
    /// The directory cannot be created.
    #[error("checkpoint directory {dir} ({key}) cannot be created: {source}")]
    Create {
        /// The directory URI.
        dir: String,
        /// The option it came from.
        key: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use rfy_runtime::StreamExecutionEnvironment;

    fn numbers(env: &StreamExecutionEnvironment, args: &[String]) -> Result<(), JobError> {
        if !args.is_empty() {
            return Err(JobError::BadArguments(format!("unexpected {args:?}")));
        }
        env.from_collection(vec![1u64, 2, 3]).map(|x| x * 2).discard();
        Ok(())
    }
    const NUMBERS: JobProgram = JobProgram { name: "numbers", description: "test", build: numbers };

    fn panics(_: &StreamExecutionEnvironment, _: &[String]) -> Result<(), JobError> {
        panic!("no input for you")
    }

    #[test]
    fn a_panicking_main_is_an_error() {
        let p = JobProgram { name: "panics", description: "test", build: panics };
        let e = plan(&[p], "panics", &[], &Configuration::new(), true).err().unwrap().to_string();
        assert!(e.starts_with("job 'panics' panicked in its main at am/src/plan.rs:"), "{e}");
        assert!(e.ends_with(": no input for you"), "{e}");
    }

    #[test]
    fn plans_by_name_and_errors_name_the_job() {
        let conf = Configuration::new();
        let (_, graph) = plan(&[NUMBERS], "numbers", &[], &conf, true).unwrap();
        assert!(!graph.vertices.is_empty());
        let err = |r: Result<(StreamGraph, JobGraph), PlanError>| r.err().expect("an error").to_string();
        let e = err(plan(&[NUMBERS], "nope", &[], &conf, true));
        assert_eq!(e, "unknown job 'nope'; jobs in this executable: numbers");
        let e = err(plan(&[NUMBERS], "numbers", &["x".into()], &conf, true));
        assert!(e.starts_with("job 'numbers': ") && e.contains("unexpected"), "{e}");
        // A parallelism below 1 is refused when the configuration loads, naming the key.
        let e = Configuration::new().apply_dynamic("parallelism.default=0").unwrap_err().to_string();
        assert!(e.contains("parallelism.default") && e.contains("at least 1"), "{e}");
    }
}
