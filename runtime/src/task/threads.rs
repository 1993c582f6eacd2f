//! Runs a whole job in the current process, one thread per subtask, with
//! in-memory channels between them. The TaskManager runs tasks the same way
//! (plus remote channels); this entry point serves tests and tools that need
//! the dataflow without a cluster.

use std::collections::HashMap;
use std::sync::Arc;

use super::{build_task, TaskControl, TaskSpec};
use crate::error::{LocalRunError, TaskError};
use crate::exchange::{channel, ChannelReceiver, ChannelSender, ExchangeSettings};
use crate::graph::{JobGraph, StreamGraph};

/// Runs the job declared in `env` in this process, one thread per subtask,
/// until its bounded input ends (for tests and examples; clusters take the
/// JobGraph instead).
///
/// Errors: [`LocalRunError`]: an invalid dataflow, or the first task failure.
pub fn run_local(env: crate::StreamExecutionEnvironment) -> Result<(), LocalRunError> {
    let stream = env.into_stream_graph("local", &[]);
    let job = stream.job_graph()?;
    Ok(run_job_in_threads(Arc::new(stream), &job, ExchangeSettings::default())?)
}

/// Runs every subtask of `job` to its end.
///
/// Errors: the first task failure (the others are canceled).
pub fn run_job_in_threads(
    stream: Arc<StreamGraph>,
    job: &JobGraph,
    settings: ExchangeSettings,
) -> Result<(), TaskError> {
    run_job_in_threads_with_metrics(stream, job, settings).map(|_| ())
}

/// [`run_job_in_threads`], returning the job's counters summed over all its
/// tasks (records, bytes, `numLateRecordsDropped`; the watermarks are not meaningful).
///
/// Errors: as `run_job_in_threads`.
pub fn run_job_in_threads_with_metrics(
    stream: Arc<StreamGraph>,
    job: &JobGraph,
    settings: ExchangeSettings,
) -> Result<super::TaskMetricsSnapshot, TaskError> {
    // (edge, producer, subpartition) -> channel ends
    let mut senders: HashMap<(u32, u32, u32), ChannelSender> = HashMap::new();
    let mut receivers: HashMap<(u32, u32, u32), ChannelReceiver> = HashMap::new();
    for e in &job.edges {
        let ps = job.vertices[e.source as usize].parallelism;
        let pt = job.vertices[e.target as usize].parallelism;
        for p in 0..ps {
            for s in 0..e.subpartitions(pt) {
                let (tx, rx) = channel(settings.buffers_per_channel);
                senders.insert((e.index, p, s), tx);
                receivers.insert((e.index, p, s), rx);
            }
        }
    }
    let control = TaskControl::default();
    let mut handles = Vec::new();
    for v in &job.vertices {
        for i in 0..v.parallelism {
            let inputs = job
                .inputs_of(v.id)
                .iter()
                .map(|e| {
                    let ps = job.vertices[e.source as usize].parallelism;
                    e.consumer_channels(i, ps)
                        .into_iter()
                        .filter_map(|(p, s)| receivers.remove(&(e.index, p, s)))
                        .collect()
                })
                .collect();
            let outputs = job
                .outputs_of(v.id)
                .iter()
                .map(|e| {
                    let pt = job.vertices[e.target as usize].parallelism;
                    (0..e.subpartitions(pt)).filter_map(|s| senders.remove(&(e.index, i, s))).collect()
                })
                .collect();
            let spec = TaskSpec { vertex_id: v.id, subtask_index: i, attempt: 0, inputs, outputs, settings };
            let (stream, job, control) = (stream.clone(), job.clone(), control.clone());
            handles.push(std::thread::spawn(move || {
                let result = build_task(&stream, &job, spec, &control).and_then(|mut t| t.run(&control));
                if result.is_err() {
                    control.cancel();
                }
                result
            }));
        }
    }
    let mut first_error = None;
    for h in handles {
        let r = h.join().unwrap_or_else(|_| Err(TaskError::User("a task thread panicked".into())));
        match (r, &first_error) {
            (Err(TaskError::Canceled), _) => {}
            (Err(e), None) => first_error = Some(e),
            _ => {}
        }
    }
    match first_error {
        Some(e) => Err(e),
        None if control.canceled.load(std::sync::atomic::Ordering::Relaxed) => Err(TaskError::Canceled),
        None => Ok(control.metrics.read()),
    }
}
