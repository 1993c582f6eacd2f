//! Scaffolding for operator unit tests that take a checkpoint at one
//! parallelism and restore it at another: a job directory in a temporary
//! folder, a [`TaskCheckpointing`] per subtask, the acknowledgements it
//! sends, and the checkpoint's metadata as the JobManager would write it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::storage::open_storage;
use super::{CheckpointMetadata, CheckpointResponder, OperatorMeta, RestoreSource, StateHandle, TaskCheckpointing};

/// Records each acknowledgement; a decline fails the test.
#[derive(Default)]
struct RecordedAcks(Mutex<Vec<Vec<(String, StateHandle)>>>);

impl CheckpointResponder for RecordedAcks {
    fn acknowledge(&self, _id: u64, handles: Vec<(String, StateHandle)>) {
        self.0.lock().unwrap().push(handles);
    }
    fn decline(&self, id: u64, reason: String) {
        panic!("checkpoint {id} declined: {reason}");
    }
}

/// One job directory (removed on drop) and the acknowledgements of its
/// tasks' checkpoints.
pub(crate) struct TestCheckpoints {
    _dir: tempfile::TempDir,
    job_dir: String,
    acks: Arc<RecordedAcks>,
}

impl TestCheckpoints {
    /// A fresh job directory.
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let job_dir = dir.path().join("job").display().to_string();
        TestCheckpoints { _dir: dir, job_dir, acks: Arc::default() }
    }

    /// Exactly-once checkpointing of subtask `subtask`, restoring from
    /// `restore` if given.
    pub(crate) fn task(&self, subtask: u32, restore: Option<RestoreSource>) -> Arc<TaskCheckpointing> {
        Arc::new(TaskCheckpointing::new(
            self.job_dir.clone(),
            open_storage(&self.job_dir).unwrap(),
            subtask,
            true,
            self.acks.clone(),
            restore,
            "t".into(),
        ))
    }

    /// Waits (10 s at most) for the next acknowledgement of a single
    /// subtask at parallelism 1 and returns where to restore checkpoint 1
    /// from: the metadata of a job whose only stateful operator is `uid`
    /// (max parallelism 128).
    pub(crate) fn restore_point(&self, task: &TaskCheckpointing, uid: &str) -> RestoreSource {
        self.restore_point_of(task, uid, 1)
    }

    /// As [`restore_point`](Self::restore_point), for `parallelism` subtasks
    /// that each acknowledged checkpoint 1 once.
    pub(crate) fn restore_point_of(&self, task: &TaskCheckpointing, uid: &str, parallelism: u32) -> RestoreSource {
        let start = Instant::now();
        while self.acks.0.lock().unwrap().len() < parallelism as usize {
            assert!(start.elapsed() < Duration::from_secs(10), "no acknowledgement");
            std::thread::sleep(Duration::from_millis(5));
        }
        let handles: Vec<_> = self.acks.0.lock().unwrap().drain(..parallelism as usize).flatten().collect();
        let mut operators = BTreeMap::new();
        operators.insert(
            uid.to_string(),
            OperatorMeta { parallelism, subtasks: handles.into_iter().map(|h| h.1).collect() },
        );
        let metadata = CheckpointMetadata {
            version: super::metadata::METADATA_VERSION,
            job_id: "job".into(),
            checkpoint_id: 1,
            timestamp_ms: 0,
            savepoint: false,
            savepoint_format: None,
            max_parallelism: 128,
            operators,
        };
        RestoreSource { dir: task.checkpoint_dir(1), metadata }
    }
}
