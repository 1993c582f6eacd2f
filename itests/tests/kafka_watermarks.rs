//! The Kafka source's per-partition watermarks with idleness, against the
//! real broker of `scripts/kafka`: records with known Kafka timestamps go to
//! partition 0 of a 2-partition topic, partition 1 stays empty. Without
//! idleness the empty partition holds event time back (no watermark, as in
//! Flink); with 300 ms idleness the reader's watermark becomes
//! `max timestamp - bound - 1` once partition 1 has been quiet that long, and
//! the reader is marked idle once partition 0 is quiet too. Records carry
//! their Kafka timestamps.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use rfy_itests::kafka::*;
use rfy_kafka::{KafkaSource, TopicSelector, Utf8, ValueOnly};
use rfy_runtime::event::WatermarkStatus;
use rfy_runtime::sources::{Source, SourceOutput};
use rfy_runtime::{OperatorContext, RuntimeMode};

const TIMESTAMPS: [i64; 5] = [1_000, 4_000, 2_000, 5_000, 3_000];

fn ctx() -> OperatorContext {
    OperatorContext {
        operator_name: "Source: Kafka".into(),
        uid: "kafka-watermarks".into(),
        task_name: "Source: Kafka (1/1)".into(),
        subtask_index: 0,
        parallelism: 1,
        max_parallelism: 128,
        attempt: 0,
        runtime_mode: RuntimeMode::Streaming,
        checkpointing: None,
        metrics: Default::default(),
        state_backend: Default::default(),
    }
}

/// What one reader reports while polling for `secs`: the records'
/// timestamps, every watermark and status change, in order.
#[derive(Debug, Default)]
struct Seen {
    timestamps: Vec<i64>,
    watermarks: Vec<i64>,
    idle_after_watermark: bool,
}

fn run(bootstrap: &str, topic: &str, idleness: Option<Duration>, secs: f64) -> Result<Seen> {
    let source = KafkaSource::new(bootstrap, TopicSelector::List(vec![topic.to_string()]), ValueOnly(Utf8))
        .watermarks(Duration::from_millis(500), idleness);
    let mut reader = source.create_reader(&ctx()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut seen = Seen::default();
    let t = Instant::now();
    while t.elapsed().as_secs_f64() < secs {
        let (mut records, mut ts): (Vec<String>, Vec<i64>) = (Vec::new(), Vec::new());
        let mut out = SourceOutput::new(&mut records, &mut ts);
        reader.poll_output(&mut out).map_err(|e| anyhow::anyhow!("{e}"))?;
        let (w, status) = (out.watermark(), out.status());
        seen.timestamps.extend_from_slice(&ts);
        if let Some(w) = w {
            seen.watermarks.push(w);
        }
        if status == Some(WatermarkStatus::Idle) && !seen.watermarks.is_empty() {
            seen.idle_after_watermark = true;
        }
    }
    Ok(seen)
}

#[test]
fn per_partition_watermarks_wait_for_empty_partitions_until_idle() -> Result<()> {
    let Some(bootstrap) = bootstrap("kafka_watermarks") else { return Ok(()) };
    let rt = tokio::runtime::Runtime::new()?;
    let topic = unique_topic("wm");
    rt.block_on(create_topic(&bootstrap, &topic, 2))?;
    let p: BaseProducer = ClientConfig::new().set("bootstrap.servers", &bootstrap).create().context("producer")?;
    for ts in TIMESTAMPS {
        let v = format!("event-{ts}");
        p.send(BaseRecord::<(), str>::to(&topic).payload(&v).partition(0).timestamp(ts)).map_err(|(e, _)| e)?;
    }
    p.flush(Duration::from_secs(30))?;

    let held = run(&bootstrap, &topic, None, 2.0)?;
    assert_eq!(held.timestamps, TIMESTAMPS, "records carry their Kafka timestamps");
    assert!(held.watermarks.is_empty(), "the empty partition holds event time back: {:?}", held.watermarks);

    let idle = run(&bootstrap, &topic, Some(Duration::from_millis(300)), 2.0)?;
    assert_eq!(idle.timestamps, TIMESTAMPS);
    assert_eq!(idle.watermarks, vec![5_000 - 500 - 1], "one watermark: max - bound - 1");
    assert!(idle.idle_after_watermark, "the reader is marked idle once both partitions are quiet");
    Ok(())
}
