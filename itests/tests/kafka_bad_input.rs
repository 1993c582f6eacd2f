//! Issue 12, bad input against the real broker of `scripts/kafka`: each a
//! clear one-line error naming what is at fault, or (bad records, when
//! asked) skipped and counted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rfy_itests::kafka::*;
use rfy_kafka::{BadRecordPolicy, DeliveryGuarantee, KafkaSink, KafkaSource, TopicSelector, Utf8, ValueOnly};
use rfy_runtime::checkpoint::{open_storage, CheckpointResponder, StateHandle, TaskCheckpointing};
use rfy_runtime::sinks::Sink;
use rfy_runtime::sources::{Source, SourceStatus};
use rfy_runtime::{OperatorContext, RuntimeMode};

fn ctx(uid: &str, checkpointing: Option<Arc<TaskCheckpointing>>) -> OperatorContext {
    OperatorContext {
        operator_name: uid.into(),
        uid: uid.into(),
        task_name: uid.into(),
        subtask_index: 0,
        parallelism: 1,
        max_parallelism: 128,
        attempt: 0,
        runtime_mode: RuntimeMode::Streaming,
        checkpointing,
        metrics: Default::default(),
        state_backend: Default::default(),
    }
}

#[test]
fn unreachable_broker_fails_within_the_timeout_naming_it() {
    // Port 1 on loopback: nothing listens there.
    let started = Instant::now();
    let err = KafkaSource::new("127.0.0.1:1", TopicSelector::List(vec!["t".into()]), ValueOnly(Utf8))
        .timeout(Duration::from_secs(2))
        .check()
        .unwrap_err()
        .to_string();
    assert!(err.contains("127.0.0.1:1") && err.contains("unreachable"), "{err}");
    let err = KafkaSink::new("127.0.0.1:1", "t", ValueOnly(Utf8))
        .timeout(Duration::from_secs(2))
        .check()
        .unwrap_err()
        .to_string();
    assert!(err.contains("127.0.0.1:1") && err.contains("unreachable"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn missing_topic_is_named() {
    let Some(bootstrap) = bootstrap("kafka_bad_input::missing_topic") else { return };
    let topic = unique_topic("missing");
    let err = KafkaSource::new(&bootstrap, TopicSelector::List(vec![topic.clone()]), ValueOnly(Utf8))
        .timeout(Duration::from_secs(10))
        .check()
        .unwrap_err()
        .to_string();
    assert!(err.contains(&topic) && err.contains("does not exist") && err.contains(&bootstrap), "{err}");
    let err = KafkaSink::new(&bootstrap, &topic, ValueOnly(Utf8))
        .timeout(Duration::from_secs(10))
        .check()
        .unwrap_err()
        .to_string();
    assert!(err.contains(&topic) && err.contains("does not exist"), "{err}");
}

#[tokio::test]
async fn undeserializable_record_fails_naming_partition_and_offset_or_is_skipped() -> anyhow::Result<()> {
    let Some(bootstrap) = bootstrap("kafka_bad_input::undeserializable") else { return Ok(()) };
    let topic = unique_topic("bad-utf8");
    create_topic(&bootstrap, &topic, 1).await?;
    produce(&bootstrap, &topic, 1, &[b"first", &[0xff, 0xfe, 0xfd], b"third"])?;
    let source = |policy| {
        KafkaSource::new(&bootstrap, TopicSelector::List(vec![topic.clone()]), ValueOnly(Utf8))
            .bounded()
            .bad_records(policy)
            .timeout(Duration::from_secs(10))
    };
    let read = |policy| -> Result<Vec<String>, String> {
        let mut reader = source(policy).create_reader(&ctx("src", None)).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while reader.poll_next(&mut out).map_err(|e| e.to_string())? != SourceStatus::Finished {
            assert!(Instant::now() < deadline, "bounded source did not finish");
        }
        Ok(out)
    };
    let err = read(BadRecordPolicy::Fail).unwrap_err();
    assert!(err.contains(&format!("{topic}-0 offset 1")) && err.contains("UTF-8"), "{err}");
    assert_eq!(read(BadRecordPolicy::Skip).unwrap(), vec!["first".to_string(), "third".to_string()]);
    Ok(())
}

struct NoResponder;
impl CheckpointResponder for NoResponder {
    fn acknowledge(&self, _: u64, _: Vec<(String, StateHandle)>) {}
    fn decline(&self, _: u64, _: String) {}
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_fenced_by_a_newer_producer_fails_clearly() -> anyhow::Result<()> {
    let Some(bootstrap) = bootstrap("kafka_bad_input::fenced") else { return Ok(()) };
    let topic = unique_topic("fenced");
    create_topic(&bootstrap, &topic, 1).await?;
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().display().to_string();
    let hub = || {
        Arc::new(TaskCheckpointing::new(
            format!("{dir}/job"),
            open_storage(&dir).expect("storage"),
            0,
            true,
            Arc::new(NoResponder),
            None,
            "sink".into(),
        ))
    };
    let sink = || {
        KafkaSink::new(&bootstrap, &topic, ValueOnly(Utf8))
            .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
            .transactional_id_prefix(&topic)
            .timeout(Duration::from_secs(10))
    };
    let mut first = sink().create_writer(&ctx("sink", Some(hub())))?;
    first.write_batch(&mut vec!["a".to_string()])?;
    // A second writer with the same transactional ids (a duplicate job, or a zombie attempt).
    let _second = sink().create_writer(&ctx("sink", Some(hub())))?;
    let err = match first.write_batch(&mut vec!["b".to_string()]).and_then(|_| first.snapshot(1)) {
        Ok(_) => panic!("the fenced producer went on"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("fenced") && err.contains(&format!("{topic}-0-0")), "{err}");
    let committed = read_committed(&bootstrap, &topic, Duration::from_secs(20))?;
    assert!(committed.is_empty(), "nothing of the fenced transaction is visible: {committed:?}");
    Ok(())
}
