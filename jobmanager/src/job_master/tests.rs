//! The JobMaster's state machine on the in-process harness
//! (`test_support.rs`): restarts, checkpoints, the final checkpoint,
//! savepoints, cancels, and a stalled checkpoint storage.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rfy_rpc::{ExecutionState, TaskMetrics};

use super::test_support::{gated_opener, AckAnswer, Call, Harness, HarnessOptions, MetadataGate, JOB_ID, WAIT};
use super::JobMasterMsg;
use rfy_runtime::checkpoint::{CheckpointMetadata, SavepointFormat, METADATA_FILE};

use crate::checkpoint::{CheckpointState, SavepointRequest};
use crate::status::{JobState, SavepointOp};

fn trigger_checkpoint(h: &Harness, trigger_id: &str) {
    h.send(JobMasterMsg::TriggerCheckpoint { trigger_id: trigger_id.to_string() });
}

fn notified(h: &Harness) -> Vec<u64> {
    h.tms
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Notify { id } => Some(id),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_failed_task_restarts_the_job_in_a_new_attempt() {
    let h = Harness::start(HarnessOptions::default());
    let first = h.running(0).await;
    h.report(0, ExecutionState::Failed, "boom: the source broke");
    let s = h.running(1).await;
    let root = s.root_exception().expect("a root exception");
    assert!(root.stacktrace.contains("boom: the source broke"), "{root:?}");
    assert!(s.timestamps.iter().any(|(st, _)| *st == JobState::Restarting), "{:?}", s.timestamps);
    // The other three executions of attempt 0 were canceled; attempt 1 has new ids.
    let canceled: Vec<String> = h
        .tms
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Cancel { executions } => Some(executions),
            _ => None,
        })
        .flatten()
        .collect();
    let expected: Vec<String> = first.tasks[1..].iter().map(|t| t.execution_id.clone()).collect();
    assert_eq!(canceled, expected);
    assert!(s.tasks.iter().all(|t| t.execution_id.ends_with(".1")), "{:?}", h.tms.deployed());
}

#[tokio::test]
async fn a_lost_task_manager_restarts_the_job_on_the_others() {
    let h = Harness::start(HarnessOptions::default());
    let first = h.running(0).await;
    assert_eq!(first.tasks[0].resource_id, "tm-0", "slots are taken in order");
    h.lose_task_manager("tm-0");
    let s = h.running(1).await;
    assert!(s.tasks.iter().all(|t| t.resource_id == "tm-1" || t.resource_id == "tm-2"), "{:?}", s.tasks);
    let root = s.root_exception().expect("a root exception");
    assert!(root.stacktrace.contains("tm-0 lost"), "{root:?}");
}

#[tokio::test]
async fn a_declined_checkpoint_fails_and_the_next_one_completes() {
    let h = Harness::start(HarnessOptions {
        before_start: Some(Box::new(|tms| tms.script_acks(vec![AckAnswer::Decline("disk full".into())]))),
        ..Default::default()
    });
    h.running(0).await;
    trigger_checkpoint(&h, "t1");
    let s = h.wait_until("checkpoint 1 failed", |s| s.checkpoints.failed == 1).await;
    assert_eq!(s.checkpoint_triggers["t1"], Some(Ok(1)));
    let failure = s.checkpoints.history[0].failure.clone().unwrap_or_default();
    assert!(failure.contains("declined by task") && failure.contains("disk full"), "{failure}");
    trigger_checkpoint(&h, "t2");
    let s = h.wait_until("checkpoint 2 completed", |s| s.checkpoints.completed == 1).await;
    let stat = s.checkpoints.history.iter().find(|c| c.id == 2).expect("checkpoint 2 listed");
    assert_eq!(stat.state, CheckpointState::Completed);
    let chk = h.dir.path().join(JOB_ID).join("chk-2");
    assert_eq!(stat.external_path.as_deref(), Some(chk.display().to_string().as_str()));
    assert!(chk.join("_metadata").exists());
    h.wait_for_call("notification of checkpoint 2", |c| *c == Call::Notify { id: 2 }).await;
    assert_eq!(notified(&h), vec![2], "a declined checkpoint is never notified");
    assert_eq!(h.snapshot().state, JobState::Running, "a declined checkpoint does not fail the job");
}

#[tokio::test]
async fn a_checkpoint_whose_acknowledgement_is_dropped_expires() {
    let h = Harness::start(HarnessOptions {
        conf: vec![("execution.checkpointing.timeout", "200 ms")],
        before_start: Some(Box::new(|tms| tms.script_acks(vec![AckAnswer::Drop]))),
        ..Default::default()
    });
    h.running(0).await;
    trigger_checkpoint(&h, "t1");
    let s = h.wait_until("checkpoint 1 expired", |s| s.checkpoints.failed == 1).await;
    let failure = s.checkpoints.history[0].failure.clone().unwrap_or_default();
    assert!(failure.contains("expired") && failure.contains("execution.checkpointing.timeout"), "{failure}");
    assert_eq!(s.state, JobState::Running);
    assert!(notified(&h).is_empty());
}

#[tokio::test]
async fn the_final_checkpoint_follows_the_end_of_input_and_the_job_finishes() {
    // An interval of an hour: only the first checkpoint (due at once) and
    // the final one (due once every source ended) can come within the test.
    let h = Harness::start(HarnessOptions {
        conf: vec![("execution.checkpointing.interval", "1 h")],
        ..Default::default()
    });
    let s = h.running(0).await;
    h.wait_until("the first checkpoint", |s| s.checkpoints.completed == 1).await;
    let sources: Vec<String> = s.tasks.iter().filter(|t| t.vertex == 0).map(|t| t.execution_id.clone()).collect();
    assert_eq!(sources.len(), 2);
    h.send(JobMasterMsg::SourceEndOfInput { execution_id: sources[0].clone() });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!h.tms.calls().contains(&Call::Trigger { id: 2, savepoint: false, drain: false }), "source 1 still reads");
    h.send(JobMasterMsg::SourceEndOfInput { execution_id: sources[1].clone() });
    h.wait_for_call("the final checkpoint's notification", |c| *c == Call::Notify { id: 2 }).await;
    // Told their final checkpoint completed, the tasks finish.
    h.report_all(ExecutionState::Finished);
    let s = h.wait_until("FINISHED", |s| s.state.is_terminal()).await;
    assert_eq!(s.state, JobState::Finished, "{:?}", s.exceptions);
    assert_eq!(s.checkpoints.completed, 2);
    assert!(h.dir.path().join(JOB_ID).join("chk-2/_metadata").exists());
}

#[tokio::test]
async fn a_savepoint_during_a_restart_fails_and_one_after_it_completes() {
    let h = Harness::start(HarnessOptions::default());
    h.running(0).await;
    // The canceled tasks answer late: the job stays RESTARTING until they do.
    h.tms.hold_cancels();
    h.report(2, ExecutionState::Failed, "boom");
    h.wait_until("RESTARTING", |s| s.state == JobState::Restarting).await;
    let target = h.dir.path().join("savepoints").display().to_string();
    let request = |id: &str| SavepointRequest {
        trigger_id: id.into(),
        target: target.clone(),
        stop: false,
        drain: false,
        format: SavepointFormat::Canonical,
    };
    h.send(JobMasterMsg::TriggerSavepoint(request("sp1")));
    let s = h.wait_until("savepoint sp1 answered", |s| s.savepoints.contains_key("sp1")).await;
    assert!(
        matches!(&s.savepoints["sp1"], SavepointOp::Failed(why) if why.contains("not running")),
        "{:?}",
        s.savepoints
    );
    h.tms.release_cancels();
    h.running(1).await;
    h.send(JobMasterMsg::TriggerSavepoint(request("sp2")));
    let s = h
        .wait_until("savepoint sp2 completed", |s| matches!(s.savepoints.get("sp2"), Some(SavepointOp::Completed(_))))
        .await;
    let Some(SavepointOp::Completed(dir)) = s.savepoints.get("sp2") else { unreachable!() };
    assert!(dir.starts_with(&target), "{dir}");
    assert!(std::path::Path::new(dir).join("_metadata").exists(), "{dir}");
    assert_eq!(s.state, JobState::Running, "an intermediate savepoint does not stop the job");
}

/// Stop-with-savepoint: without drain the job's tasks are canceled once the
/// savepoint completed; with drain the sources are asked to drain, nothing
/// is canceled, and the job FINISHES when its tasks finish by themselves.
/// The requested format is recorded in the savepoint's `_metadata`.
#[tokio::test]
async fn a_stop_cancels_the_tasks_and_a_stop_with_drain_lets_them_finish() {
    for (drain, format) in [(false, SavepointFormat::Canonical), (true, SavepointFormat::Native)] {
        let h = Harness::start(HarnessOptions {
            conf: vec![("execution.checkpointing.interval", "1 h")],
            ..Default::default()
        });
        h.running(0).await;
        h.wait_until("the first checkpoint", |s| s.checkpoints.completed == 1).await;
        let target = h.dir.path().join("savepoints").display().to_string();
        let request = SavepointRequest { trigger_id: "stop".into(), target, stop: true, drain, format };
        h.send(JobMasterMsg::TriggerSavepoint(request));
        let s = h
            .wait_until("the savepoint completed", |s| {
                matches!(s.savepoints.get("stop"), Some(SavepointOp::Completed(_)))
            })
            .await;
        assert!(h.tms.calls().contains(&Call::Trigger { id: 2, savepoint: true, drain }), "{:?}", h.tms.calls());
        let Some(SavepointOp::Completed(dir)) = s.savepoints.get("stop") else { unreachable!() };
        let meta_path = std::path::Path::new(dir).join(METADATA_FILE);
        let meta = CheckpointMetadata::from_bytes(&std::fs::read(&meta_path).unwrap(), &meta_path).unwrap();
        assert_eq!(meta.savepoint_format, Some(format));
        let stat = s.checkpoints.history.iter().find(|c| c.id == 2).expect("the savepoint listed");
        assert_eq!(stat.savepoint_format, Some(format));
        h.wait_for_call("the savepoint's notification (sinks commit)", |c| *c == Call::Notify { id: 2 }).await;
        if drain {
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert!(!h.tms.calls().iter().any(|c| matches!(c, Call::Cancel { .. })), "{:?}", h.tms.calls());
            assert_eq!(h.snapshot().state, JobState::Running, "the drained tasks did not finish yet");
            h.report_all(ExecutionState::Finished);
        } else {
            h.wait_for_call("the cancel", |c| matches!(c, Call::Cancel { .. })).await;
        }
        let s = h.wait_until("terminal", |s| s.state.is_terminal()).await;
        assert_eq!(s.state, JobState::Finished, "drain {drain}: {:?}", s.exceptions);
        if drain {
            assert!(s.tasks.iter().all(|t| t.state == ExecutionState::Finished), "{:?}", s.tasks);
        }
    }
}

#[tokio::test]
async fn a_cancel_during_deployment_waits_for_the_deployment_then_cancels_every_task() {
    let h = Harness::start(HarnessOptions {
        before_start: Some(Box::new(|tms| tms.hold_deployments())),
        ..Default::default()
    });
    h.wait_for_call("the deployment", |c| matches!(c, Call::Submit { attempt: 0, .. })).await;
    h.send(JobMasterMsg::Cancel);
    h.wait_until("CANCELLING", |s| s.state == JobState::Cancelling).await;
    // A cancel sent now could overtake the task's deployment at its
    // TaskManager and be lost: nothing is sent until the deployment is answered.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!h.tms.calls().iter().any(|c| matches!(c, Call::Cancel { .. })), "{:?}", h.tms.calls());
    h.tms.release_deployment();
    let Call::Cancel { executions } = h.wait_for_call("the cancel", |c| matches!(c, Call::Cancel { .. })).await else {
        unreachable!()
    };
    assert_eq!(executions, h.tms.deployed(), "every deployed task is canceled");
    let s = h.wait_until("CANCELED", |s| s.state.is_terminal()).await;
    assert_eq!(s.state, JobState::Canceled);
}

/// A checkpoint's `_metadata` write stalls (a NameNode that stopped
/// answering): on a single-threaded runtime, the JobMaster still answers
/// checkpoint requests and takes metrics (what REST handlers wait for) in
/// well under 100 ms; the stalled checkpoint is not published as completed
/// until its write returns; the checkpoints acknowledged meanwhile complete
/// after it, in id order.
#[tokio::test]
async fn a_stalled_storage_write_does_not_stall_the_job_master() {
    let gate = Arc::new(MetadataGate::default());
    gate.close();
    let h = Harness::start(HarnessOptions { opener: Some(gated_opener(gate.clone())), ..Default::default() });
    let s = h.running(0).await;
    trigger_checkpoint(&h, "t0");
    let started = Instant::now();
    while gate.waiting() == 0 {
        assert!(started.elapsed() < WAIT, "checkpoint 1's _metadata write never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let execution = s.tasks[0].execution_id.clone();
    let mut latencies = Vec::new();
    for i in 1..=10u64 {
        let asked = Instant::now();
        trigger_checkpoint(&h, &format!("t{i}"));
        h.send(JobMasterMsg::Metrics(vec![TaskMetrics {
            execution_id: execution.clone(),
            records_in: i,
            ..Default::default()
        }]));
        h.wait_until("the trigger and the metrics in the snapshot", |s| {
            s.checkpoint_triggers.get(&format!("t{i}")).is_some_and(|r| r.is_some()) && s.tasks[0].metrics.0 == i
        })
        .await;
        latencies.push(asked.elapsed());
    }
    assert_eq!(gate.waiting(), 1, "every answer came while the write was stalled");
    let s = h.snapshot();
    assert_eq!(s.checkpoints.completed, 0, "published only after its _metadata write");
    assert!(notified(&h).is_empty(), "nobody is told before the write returns");
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    assert!(median < Duration::from_millis(100), "answers took {latencies:?}");
    gate.open();
    h.wait_until("every checkpoint completed", |s| s.checkpoints.completed == 11).await;
    h.wait_for_call("the last notification", |c| *c == Call::Notify { id: 11 }).await;
    assert_eq!(notified(&h), (1..=11).collect::<Vec<u64>>(), "completions in id order");
}
