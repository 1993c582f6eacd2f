//! Turns a job name, its arguments and the configuration into a JobGraph.

use anyhow::Result;
use rfy_conf::{options, Configuration};
use rfy_runtime::{JobGraph, JobProgram, StreamGraph};

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

/// The StreamGraph and JobGraph of the built-in job `job.job` (see
/// [`plan_with`]).
///
/// Errors: as [`plan_with`].
#[cfg(feature = "builtin-jobs")]
pub fn plan(job: &JobArgs, conf: &Configuration) -> Result<(StreamGraph, JobGraph)> {
    plan_with(rfy_jobs::BUILTIN, job, conf)
}

/// The StreamGraph and JobGraph of job `job.job` among `programs` (planned
/// by [`rfy_am::plan::plan`], the one planning code), without the planning
/// checks (the caller runs `StreamGraph::check_io` where the job runs).
///
/// Errors: unknown job, bad job arguments or configuration, invalid
/// dataflow, each as one line.
pub fn plan_with(programs: &[JobProgram], job: &JobArgs, conf: &Configuration) -> Result<(StreamGraph, JobGraph)> {
    // Before anything is submitted or started (the JobMaster checks the same).
    rfy_jobmanager::check_checkpoint_settings(conf)?;
    Ok(rfy_am::plan::plan(programs, &job.job, &job.job_args, conf, false)?)
}
