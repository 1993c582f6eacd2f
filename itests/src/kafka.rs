//! Helpers of the Kafka tests (`tests/kafka_*.rs`): the broker of
//! `scripts/kafka` (its address in `RFY_KAFKA_BOOTSTRAP`), topics, a plain
//! producer of test input, a `read_committed` reader of a job's output, and
//! Kafka's own `kafka-consumer-groups` CLI.
//!
//! Without `RFY_KAFKA_BOOTSTRAP` a test prints "SKIPPED" and returns, unless
//! `RFY_REQUIRE_KAFKA=1` (as `scripts/test` sets), which makes it fail.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// The broker's bootstrap address, or `None` (after printing SKIPPED) when
/// there is none and Kafka is not required.
pub fn bootstrap(test: &str) -> Option<String> {
    match std::env::var("RFY_KAFKA_BOOTSTRAP") {
        Ok(b) if !b.is_empty() => Some(b),
        _ if std::env::var("RFY_REQUIRE_KAFKA").as_deref() == Ok("1") => {
            panic!("{test}: RFY_REQUIRE_KAFKA=1 but RFY_KAFKA_BOOTSTRAP is not set (eval \"$(scripts/kafka env)\")")
        }
        _ => {
            eprintln!("SKIPPED {test}: no Kafka broker (scripts/kafka start; eval \"$(scripts/kafka env)\")");
            None
        }
    }
}

/// A topic name unique to this test run.
pub fn unique_topic(what: &str) -> String {
    format!("kafka-itest-{what}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// Creates `topic` with `partitions` partitions (replication 1).
pub async fn create_topic(bootstrap: &str, topic: &str, partitions: i32) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create().context("admin client")?;
    let res = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(20))),
        )
        .await?;
    for r in res {
        if let Err((t, e)) = r {
            bail!("cannot create topic {t}: {e}");
        }
    }
    Ok(())
}

/// Writes `values` to `topic`, record `i` to partition `i % partitions`
/// (no key, not transactional), and waits until all are acknowledged.
pub fn produce(bootstrap: &str, topic: &str, partitions: i32, values: &[&[u8]]) -> Result<()> {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "5")
        .set("acks", "all")
        .create()
        .context("producer")?;
    for (i, v) in values.iter().enumerate() {
        let mut rec = BaseRecord::<(), [u8]>::to(topic).payload(v).partition(i as i32 % partitions);
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((_, back)) => {
                    producer.poll(Duration::from_millis(10));
                    rec = back;
                }
            }
        }
    }
    producer.flush(Duration::from_secs(30)).context("flush test input")?;
    Ok(())
}

/// Every record of `topic` a `read_committed` consumer sees, as
/// `(key, value)` UTF-8 strings, reading each partition up to its end.
///
/// Errors: the end is not reached within `timeout` (e.g. a transaction left open).
pub fn read_committed(bootstrap: &str, topic: &str, timeout: Duration) -> Result<Vec<(String, String)>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "false")
        .set("enable.auto.commit", "false")
        // librdkafka wants a group for position(); nothing is committed to it.
        .set("group.id", format!("{topic}-reader"))
        .create()
        .context("consumer")?;
    let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let parts = md.topics()[0].partitions().len() as i32;
    let mut tpl = TopicPartitionList::new();
    let mut ends = BTreeMap::new();
    for p in 0..parts {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
        ends.insert(p, consumer.fetch_watermarks(topic, p, Duration::from_secs(10))?.1);
    }
    consumer.assign(&tpl)?;
    let started = Instant::now();
    let mut out = Vec::new();
    loop {
        let pos = consumer.position()?;
        let done = pos.elements().iter().all(|e| match e.offset() {
            Offset::Offset(o) => o >= ends[&e.partition()],
            _ => ends[&e.partition()] == 0,
        });
        if done {
            return Ok(out);
        }
        if started.elapsed() > timeout {
            bail!("read_committed of {topic} did not reach the end offsets {ends:?} in {timeout:?} (at {pos:?})");
        }
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m?;
            let key = m.key().map(|k| String::from_utf8_lossy(k).into_owned()).unwrap_or_default();
            let value = m.payload().map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default();
            out.push((key, value));
        }
    }
}

/// Word count output records (`word<TAB>count` values) as per-word count lists.
pub fn updates_of(records: &[(String, String)]) -> BTreeMap<String, Vec<u64>> {
    let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (key, value) in records {
        let (w, c) = value.split_once('\t').unwrap_or_else(|| panic!("bad record value {value:?}"));
        assert_eq!(w, key, "record key is the word");
        out.entry(w.to_string()).or_default().push(c.parse().unwrap_or_else(|_| panic!("bad count in {value:?}")));
    }
    out
}

/// Runs Kafka's `kafka-consumer-groups --describe --group GROUP` (from
/// `scripts/kafka env`'s PATH, or `<repo>/.kafka/bin`) and returns its output.
pub fn describe_group(bootstrap: &str, group: &str) -> Result<String> {
    let home = std::env::var("RFY_KAFKA_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| super::repo_root().join(".kafka"));
    let tool = home.join("bin/kafka-consumer-groups");
    let out = std::process::Command::new(&tool)
        .args(["--bootstrap-server", bootstrap, "--describe", "--group", group])
        .output()
        .with_context(|| format!("cannot run {}", tool.display()))?;
    if !out.status.success() {
        bail!("{} failed: {}", tool.display(), String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
