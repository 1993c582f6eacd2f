//! Unit tests of the file sink on the local file system: bucket naming,
//! rolling, two-phase commit, restore, `_SUCCESS`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::checkpoint::test_support::TestCheckpoints;
use crate::checkpoint::{OperatorSnapshot, TaskCheckpointing};
use crate::context::RuntimeMode;
use crate::event::CheckpointBarrier;

const H: i64 = 3_600_000;
/// 2024-01-01T00:00:00Z.
const T0: i64 = 1_704_067_200_000;

fn ctx(cp: Option<Arc<TaskCheckpointing>>, attempt: u32) -> OperatorContext {
    OperatorContext {
        operator_name: "Sink".into(),
        uid: "file-sink".into(),
        task_name: "Sink (1/1)".into(),
        subtask_index: 0,
        parallelism: 1,
        max_parallelism: 128,
        attempt,
        runtime_mode: RuntimeMode::Streaming,
        checkpointing: cp,
        metrics: Default::default(),
        state_backend: Default::default(),
    }
}

fn sink(dir: &Path) -> FileSink<(u32, i64)> {
    FileSink::for_row_format(&dir.display().to_string(), |r: &(u32, i64), out: &mut Vec<u8>| {
        out.extend_from_slice(format!("{},{}\n", r.0, r.1).as_bytes())
    })
    .with_bucket_assigner(DateTimeBucketAssigner::default().event_time())
}

/// Writes records `ids` at event times `T0 + id * step`.
fn write(w: &mut Box<dyn SinkWriter<(u32, i64)>>, ids: std::ops::Range<u32>, step: i64) {
    let mut batch: Vec<(u32, i64)> = ids.map(|i| (i, T0 + i as i64 * step)).collect();
    let mut ts: Vec<i64> = batch.iter().map(|r| r.1).collect();
    w.write_timestamped(&mut batch, &mut ts).unwrap();
    assert!(batch.is_empty() && ts.is_empty());
}

fn checkpoint(w: &mut Box<dyn SinkWriter<(u32, i64)>>, cp: &TaskCheckpointing, id: u64) {
    let items = w.snapshot(id).unwrap().unwrap();
    cp.add_snapshot("file-sink", OperatorSnapshot { operator: items, ..Default::default() });
    cp.barrier_passed(&CheckpointBarrier { id, timestamp_ms: 0, savepoint: false });
}

/// Every visible (committed) file under `dir`, relative, sorted, and the records in them.
fn visible(dir: &Path) -> (Vec<String>, Vec<u32>) {
    let mut files = Vec::new();
    let mut rows = Vec::new();
    for bucket in std::fs::read_dir(dir).unwrap().flatten() {
        let name = bucket.file_name().to_string_lossy().into_owned();
        if name.starts_with(['.', '_']) || !bucket.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(bucket.path()).unwrap().flatten() {
            let fname = f.file_name().to_string_lossy().into_owned();
            if fname.starts_with('.') {
                continue;
            }
            files.push(format!("{name}/{fname}"));
            if fname.starts_with("part-") {
                let text = std::fs::read_to_string(f.path()).unwrap();
                rows.extend(text.lines().map(|l| l.split(',').next().unwrap().parse::<u32>().unwrap()));
            }
        }
    }
    files.sort();
    rows.sort_unstable();
    (files, rows)
}

#[test]
fn buckets_are_hidden_until_their_checkpoint_completes_and_success_follows_the_watermark() {
    let tmp = tempfile::tempdir().unwrap();
    let checkpoints = TestCheckpoints::new();
    let cp = checkpoints.task(0, None);
    let mut w = sink(tmp.path()).create_writer(&ctx(Some(cp.clone()), 0)).unwrap();
    // 0..6 at 20 min steps: hours 00 (0, 1, 2), 01 (3, 4, 5).
    write(&mut w, 0..6, H / 3);
    assert_eq!(visible(tmp.path()).0, Vec::<String>::new(), "in-progress files are hidden");
    w.on_watermark(T0 + H).unwrap();
    checkpoint(&mut w, &cp, 1);
    assert_eq!(visible(tmp.path()).0, Vec::<String>::new(), "pending files are hidden");
    cp.notify_complete(1);
    let (files, rows) = visible(tmp.path());
    let run = format!("{}a0", cp.job_id().chars().take(8).collect::<String>());
    assert_eq!(
        files,
        vec![
            "2024-01-01--00/_SUCCESS".to_string(),
            format!("2024-01-01--00/part-{run}-0-0"),
            format!("2024-01-01--01/part-{run}-0-1"),
        ],
        "hour 00 ends at the watermark: complete; hour 01 is not"
    );
    assert_eq!(rows, (0..6).collect::<Vec<_>>());
    // Hour 01 completes with the watermark at its end, after the next checkpoint.
    w.on_watermark(T0 + 2 * H - 1).unwrap();
    checkpoint(&mut w, &cp, 2);
    cp.notify_complete(2);
    assert!(!tmp.path().join("2024-01-01--01/_SUCCESS").exists(), "watermark before the end of hour 01");
    w.on_watermark(T0 + 2 * H).unwrap();
    checkpoint(&mut w, &cp, 3);
    cp.notify_complete(3);
    assert!(tmp.path().join("2024-01-01--01/_SUCCESS").exists());
}

#[test]
fn restore_commits_the_checkpoint_and_discards_what_came_after() {
    let tmp = tempfile::tempdir().unwrap();
    let checkpoints = TestCheckpoints::new();
    let cp = checkpoints.task(0, None);
    let mut w = sink(tmp.path()).create_writer(&ctx(Some(cp.clone()), 0)).unwrap();
    write(&mut w, 0..10, 60_000);
    checkpoint(&mut w, &cp, 1);
    let restore = checkpoints.restore_point(&cp, "file-sink");
    // After checkpoint 1 (never completed, never notified): pending and in-progress files.
    write(&mut w, 10..20, 60_000);
    let items = w.snapshot(2).unwrap().unwrap();
    assert!(items.len() >= 2);
    write(&mut w, 20..30, 60_000);
    std::mem::forget(w); // a killed process: nothing cleaned up
    let hidden = |dir: &Path| {
        let d = dir.join("2024-01-01--00");
        std::fs::read_dir(d).unwrap().flatten().filter(|f| f.file_name().to_string_lossy().starts_with('.')).count()
    };
    assert_eq!(hidden(tmp.path()), 3, "checkpoint 1's and 2's pending files, one in-progress file");

    let cp2 = checkpoints.task(0, Some(restore));
    let mut w = sink(tmp.path()).create_writer(&ctx(Some(cp2.clone()), 1)).unwrap();
    assert_eq!(visible(tmp.path()).1, (0..10).collect::<Vec<_>>(), "checkpoint 1's file committed on restore");
    assert_eq!(hidden(tmp.path()), 0, "files of the failed run after checkpoint 1 are gone");
    // The sources replay 10..30: each record exactly once.
    write(&mut w, 10..30, 60_000);
    w.finish().unwrap();
    assert_eq!(visible(tmp.path()).1, (0..30).collect::<Vec<_>>());
}

#[test]
fn row_files_roll_by_size_and_inactivity() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = RollingPolicy {
        max_part_size: 40,
        rollover_interval: Duration::from_secs(3600),
        inactivity_interval: Duration::from_millis(50),
    };
    let s = FileSink::for_row_format(
        &tmp.path().display().to_string(),
        text_lines(|r: &u32, o: &mut Vec<u8>| o.extend_from_slice(format!("{r:08}").as_bytes())),
    )
    .with_bucket_assigner(BasePathBucketAssigner)
    .with_output_file_config(OutputFileConfig { prefix: "data".into(), suffix: ".txt".into() })
    .with_rolling_policy(policy);
    let mut w = s.create_writer(&ctx(None, 0)).unwrap();
    // 9 bytes a record: a batch of 5 (45 bytes) fills a file.
    for i in 0..3u32 {
        w.write_batch(&mut (i * 5..i * 5 + 5).collect()).unwrap();
    }
    w.write_batch(&mut vec![15]).unwrap();
    let names = |p: &Path| {
        let mut v: Vec<String> =
            std::fs::read_dir(p).unwrap().flatten().map(|f| f.file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    };
    let files = names(tmp.path());
    assert_eq!(files.iter().filter(|f| f.starts_with("data-") && f.ends_with(".txt")).count(), 3, "{files:?}");
    assert_eq!(files.iter().filter(|f| f.ends_with(".inprogress")).count(), 1, "{files:?}");
    std::thread::sleep(Duration::from_millis(60));
    w.flush().unwrap();
    assert_eq!(names(tmp.path()).iter().filter(|f| f.ends_with(".inprogress")).count(), 0, "inactive: rolled");
    w.finish().unwrap();
    let mut all = String::new();
    for f in names(tmp.path()) {
        all.push_str(&std::fs::read_to_string(tmp.path().join(f)).unwrap());
    }
    assert_eq!(all.lines().count(), 16);
}

#[test]
fn field_buckets_have_no_success_file() {
    let tmp = tempfile::tempdir().unwrap();
    let s = FileSink::for_row_format(&tmp.path().display().to_string(), json_lines::<(String, u32)>())
        .with_bucket_assigner(FieldBucketAssigner(|r: &(String, u32), id: &mut String| {
            id.push_str("country=");
            id.push_str(&r.0)
        }));
    let mut w = s.create_writer(&ctx(None, 0)).unwrap();
    w.write_batch(&mut vec![("de".into(), 1), ("fr".into(), 2), ("de".into(), 3)]).unwrap();
    w.finish().unwrap();
    let mut dirs: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|f| f.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(dirs, vec!["country=de", "country=fr"], "no partition commit progress for field buckets");
    let de = std::fs::read_dir(tmp.path().join("country=de")).unwrap().flatten().next().unwrap().path();
    assert_eq!(std::fs::read_to_string(de).unwrap(), "[\"de\",1]\n[\"de\",3]\n");
    assert!(!tmp.path().join("country=de/_SUCCESS").exists(), "field buckets have no end");
}
