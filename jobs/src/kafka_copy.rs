//! Kafka copy: every record of one topic to another, bytes as they are
//! (key and value), for `scripts/bench-kafka` — the connectors' own cost,
//! topic to topic, with no work in between.

use clap::Parser;
use rfy_kafka::{Bytes, DeliveryGuarantee, KafkaSink, KafkaSource, KeyValue, TopicSelector};
use rfy_runtime::{JobError, JobProgram, RuntimeMode, StreamExecutionEnvironment};

use crate::kafka_wordcount::Guarantee;

/// The built-in `kafka-copy` program.
pub const PROGRAM: JobProgram =
    JobProgram { name: "kafka-copy", description: "copy the records of one Kafka topic to another", build };

/// Arguments of `rfy run kafka-copy`.
#[derive(Debug, Parser)]
#[command(name = "kafka-copy", about = "Copy the records of one Kafka topic to another.")]
pub struct Args {
    /// Kafka's bootstrap.servers, e.g. 127.0.0.1:9092.
    #[arg(long)]
    pub bootstrap_servers: String,
    /// Topic to read.
    #[arg(long)]
    pub input_topic: String,
    /// Topic to write.
    #[arg(long)]
    pub output_topic: String,
    /// Stop at the end offsets seen at start.
    #[arg(long)]
    pub bounded: bool,
    /// The sink's delivery guarantee.
    #[arg(long, value_enum, default_value = "exactly-once")]
    pub delivery_guarantee: Guarantee,
    /// Transactional id prefix of the exactly-once sink.
    #[arg(long, default_value = "rfy-kafka-copy")]
    pub transactional_id_prefix: String,
}

fn build(env: &StreamExecutionEnvironment, args: &[String]) -> Result<(), JobError> {
    let a: Args = crate::args::parse("kafka-copy", args)?;
    env.set_job_name(format!("Kafka copy {} -> {}", a.input_topic, a.output_topic));
    env.set_runtime_mode(Some(RuntimeMode::Streaming));
    let mut source = KafkaSource::new(
        &a.bootstrap_servers,
        TopicSelector::List(vec![a.input_topic.clone()]),
        KeyValue(Bytes, Bytes),
    )
    .property("isolation.level", "read_committed");
    if a.bounded {
        source = source.bounded();
    }
    let sink = KafkaSink::new(&a.bootstrap_servers, &a.output_topic, KeyValue(Bytes, Bytes))
        .delivery_guarantee(match a.delivery_guarantee {
            Guarantee::None => DeliveryGuarantee::None,
            Guarantee::AtLeastOnce => DeliveryGuarantee::AtLeastOnce,
            Guarantee::ExactlyOnce => DeliveryGuarantee::ExactlyOnce,
        })
        .transactional_id_prefix(&a.transactional_id_prefix);
    env.add_source(source).sink_to(sink);
    Ok(())
}
