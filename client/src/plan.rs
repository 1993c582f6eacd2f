//! Turns a job name, its arguments and the configuration into a JobGraph.

use anyhow::{anyhow, bail, Context, Result};
use rfy_conf::{options, Configuration};
use rfy_runtime::{ExecutionConfig, JobGraph, RuntimeMode, StreamGraph};

use crate::cli::JobArgs;

/// Configuration from the config file, then -D overrides, then -p.
pub fn load_configuration(conf_dir: Option<&std::path::Path>, job: &JobArgs) -> Result<Configuration> {
    let mut conf = Configuration::load(conf_dir)?;
    for kv in &job.dynamic {
        conf.apply_dynamic(kv)?;
    }
    if let Some(p) = job.parallelism {
        conf.set(options::PARALLELISM_DEFAULT.key, &p.to_string(), rfy_conf::Source::Dynamic)?;
    }
    Ok(conf)
}

/// The job's StreamGraph and JobGraph.
///
/// Errors: unknown job, bad job arguments, invalid dataflow, or a failed
/// planning check (missing input, unwritable output), each as one line.
pub fn plan(job: &JobArgs, conf: &Configuration) -> Result<(StreamGraph, JobGraph)> {
    let program = rfy_jobs::find(&job.job).ok_or_else(|| {
        let names: Vec<&str> = rfy_jobs::BUILTIN.iter().map(|p| p.name).collect();
        anyhow!("unknown job '{}'; built-in jobs: {}", job.job, names.join(", "))
    })?;
    let mode = RuntimeMode::parse(&conf.get(&options::EXECUTION_RUNTIME_MODE))
        .map_err(|e| anyhow!("execution.runtime-mode: {e}"))?;
    let exec = ExecutionConfig {
        parallelism: conf.get(&options::PARALLELISM_DEFAULT),
        max_parallelism: conf.get(&options::PIPELINE_MAX_PARALLELISM),
        runtime_mode: mode,
        auto_watermark_interval_ms: conf.get(&options::PIPELINE_AUTO_WATERMARK_INTERVAL).as_millis() as u64,
    };
    if exec.parallelism == 0 {
        bail!("parallelism.default must be at least 1");
    }
    let stream = program.stream_graph(&job.job_args, exec).with_context(|| format!("job '{}'", job.job))?;
    let graph = stream.job_graph()?;
    Ok((stream, graph))
}
