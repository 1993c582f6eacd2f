//! Issue 12: the exactly-once Kafka sink restored from an OLDER checkpoint
//! than the newest (the newest damaged, or never completed), against the real
//! broker of `scripts/kafka`. The sink writer is driven by hand through its
//! checkpoint hub (state files on disk, completions by hand), so the moment
//! of the "crash" and the checkpoint restored from are exact:
//!
//! - the newest checkpoint never completed (its `_metadata` damaged because
//!   the JobManager died writing it): restoring the one before gives every
//!   record exactly once, although the pool grew after the restored
//!   checkpoint (a later id holds an open transaction the restored state
//!   does not know: found and aborted, or `read_committed` would stall);
//! - the two newest checkpoints completed and were then damaged, restore from
//!   the third newest (`num-retained` 3): their committed records come again
//!   (unavoidable for any two-phase-commit sink, Flink's too), but the
//!   records after the last checkpoint are not committed by the restore
//!   (their producer must not be one the restored checkpoint names) and come
//!   exactly once, from the replay.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use rfy_itests::kafka::*;
use rfy_itests::local::init_logging;
use rfy_kafka::{DeliveryGuarantee, KafkaSink, Utf8, ValueOnly};
use rfy_runtime::checkpoint::metadata::METADATA_VERSION;
use rfy_runtime::checkpoint::{
    open_storage, CheckpointMetadata, CheckpointResponder, OperatorMeta, OperatorSnapshot, RestoreSource, StateHandle,
    TaskCheckpointing,
};
use rfy_runtime::event::CheckpointBarrier;
use rfy_runtime::sinks::{Sink, SinkWriter};
use rfy_runtime::{OperatorContext, RuntimeMode};

const UID: &str = "kafka-sink";

/// Keeps the acknowledged state handles per checkpoint.
#[derive(Default)]
struct Acks(Mutex<HashMap<u64, Vec<(String, StateHandle)>>>);

impl CheckpointResponder for Acks {
    fn acknowledge(&self, id: u64, handles: Vec<(String, StateHandle)>) {
        self.0.lock().unwrap().insert(id, handles);
    }
    fn decline(&self, id: u64, reason: String) {
        panic!("checkpoint {id} declined: {reason}");
    }
}

struct Harness {
    dir: String,
    acks: Arc<Acks>,
    num_retained: u32,
}

impl Harness {
    fn hub(&self, restore: Option<RestoreSource>) -> Arc<TaskCheckpointing> {
        let job_dir = format!("{}/job", self.dir);
        Arc::new(
            TaskCheckpointing::new(
                job_dir,
                open_storage(&self.dir).expect("storage"),
                0,
                true,
                self.acks.clone(),
                restore,
                "sink".into(),
            )
            .with_num_retained(self.num_retained),
        )
    }

    /// Takes checkpoint `id` of `writer` (phase one), waits until its state is
    /// on disk; returns what a restore from it gets.
    fn checkpoint(&self, hub: &TaskCheckpointing, writer: &mut dyn SinkWriter<String>, id: u64) -> RestoreSource {
        let items = writer.snapshot(id).expect("snapshot").expect("exactly-once state");
        hub.add_snapshot(UID, OperatorSnapshot { operator: items, ..Default::default() });
        hub.barrier_passed(&CheckpointBarrier { id, timestamp_ms: 0, savepoint: false });
        let t = Instant::now();
        let handles = loop {
            if let Some(h) = self.acks.0.lock().unwrap().get(&id) {
                break h.clone();
            }
            assert!(t.elapsed() < Duration::from_secs(30), "checkpoint {id} not written");
            std::thread::sleep(Duration::from_millis(10));
        };
        let subtasks = handles.into_iter().map(|(_, h)| h).collect();
        let operators = BTreeMap::from([(UID.to_string(), OperatorMeta { parallelism: 1, subtasks })]);
        RestoreSource {
            dir: hub.checkpoint_dir(id),
            metadata: CheckpointMetadata {
                version: METADATA_VERSION,
                job_id: "job".into(),
                checkpoint_id: id,
                timestamp_ms: 0,
                savepoint: false,
                savepoint_format: None,
                max_parallelism: 128,
                operators,
            },
        }
    }
}

fn ctx(hub: Arc<TaskCheckpointing>) -> OperatorContext {
    OperatorContext {
        operator_name: UID.into(),
        uid: UID.into(),
        task_name: UID.into(),
        subtask_index: 0,
        parallelism: 1,
        max_parallelism: 128,
        attempt: 0,
        runtime_mode: RuntimeMode::Streaming,
        checkpointing: Some(hub),
        metrics: Default::default(),
        state_backend: Default::default(),
    }
}

fn batch(tag: &str) -> Vec<String> {
    (0..20).map(|i| format!("{tag}-{i}")).collect()
}

/// How often each batch tag occurs in the committed output.
fn committed_tags(bootstrap: &str, topic: &str) -> Result<BTreeMap<String, usize>> {
    let records = read_committed(bootstrap, topic, Duration::from_secs(30))?;
    let mut per_value: BTreeMap<String, usize> = BTreeMap::new();
    for (_, v) in records {
        *per_value.entry(v).or_default() += 1;
    }
    let mut per_tag: BTreeMap<String, usize> = BTreeMap::new();
    for (v, n) in per_value {
        let tag = v.split('-').next().unwrap_or_default().to_string();
        let e = per_tag.entry(tag).or_insert(n);
        if *e != n {
            bail!("records of batch {v} committed {n} times, others of its batch {e} times");
        }
    }
    Ok(per_tag)
}

/// Batches a, b, c, d, with checkpoints 1, 2, 3 between them (completed as
/// `complete` says), then a crash (nothing aborted); restore from
/// checkpoint `restore_from` and replay the batches after it; returns how
/// often each batch is in the committed output.
async fn crash_and_restore(
    what: &str,
    num_retained: u32,
    complete: &[u64],
    restore_from: u64,
) -> Result<Option<BTreeMap<String, usize>>> {
    let Some(bootstrap) = bootstrap(what) else { return Ok(None) };
    let topic = unique_topic(what);
    create_topic(&bootstrap, &topic, 1).await?;
    let tmp = tempfile::tempdir()?;
    let h = Harness { dir: tmp.path().display().to_string(), acks: Arc::default(), num_retained };
    let sink = KafkaSink::new(&bootstrap, &topic, ValueOnly(Utf8))
        .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
        .transactional_id_prefix(&topic)
        .timeout(Duration::from_secs(20));

    let hub = h.hub(None);
    let mut writer = sink.create_writer(&ctx(hub.clone()))?;
    let mut restore = HashMap::new();
    for (id, tag) in [(1, "a"), (2, "b"), (3, "c")] {
        writer.write_batch(&mut batch(tag))?;
        restore.insert(id, h.checkpoint(&hub, writer.as_mut(), id));
        if complete.contains(&id) {
            hub.notify_complete(id);
        }
    }
    writer.write_batch(&mut batch("d"))?;
    writer.flush()?;
    std::thread::sleep(Duration::from_millis(300)); // d's records reach the broker (linger 5 ms)
                                                    // The crash: the process is gone, nothing is aborted (its producers, leaked, are fenced by the restore).
    std::mem::forget(writer);

    let hub = h.hub(restore.remove(&restore_from));
    let mut writer = sink.create_writer(&ctx(hub.clone()))?;
    for tag in ["a", "b", "c", "d"].into_iter().skip(restore_from as usize) {
        writer.write_batch(&mut batch(tag))?;
    }
    h.checkpoint(&hub, writer.as_mut(), 10);
    hub.notify_complete(10);
    drop(writer);
    Ok(Some(committed_tags(&bootstrap, &topic)?))
}

#[tokio::test(flavor = "multi_thread")]
async fn newest_checkpoint_never_completed_restore_of_the_previous_is_exactly_once() -> Result<()> {
    init_logging();
    // Checkpoint 3 was taken but never completed (its _metadata damaged): restore from 2.
    let Some(tags) = crash_and_restore("kafka_damaged_incomplete", 2, &[1, 2], 2).await? else { return Ok(()) };
    let want: BTreeMap<String, usize> = ["a", "b", "c", "d"].iter().map(|t| (t.to_string(), 1)).collect();
    assert_eq!(tags, want, "every record exactly once");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_past_two_damaged_checkpoints_commits_nothing_after_the_last() -> Result<()> {
    init_logging();
    // Checkpoints 1-3 completed and committed; 3 and 2 damaged: restore from 1 (num-retained 3).
    let Some(tags) = crash_and_restore("kafka_damaged_fallback", 3, &[1, 2, 3], 1).await? else { return Ok(()) };
    // b and c were committed by checkpoints 2 and 3 and are replayed: twice. d was
    // never committed before the crash: once (the restore must not commit it).
    let want: BTreeMap<String, usize> =
        [("a", 1), ("b", 2), ("c", 2), ("d", 1)].iter().map(|(t, n)| (t.to_string(), *n)).collect();
    assert_eq!(tags, want);
    Ok(())
}
