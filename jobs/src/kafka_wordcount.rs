//! Kafka word count: reads lines from one Kafka topic, counts words (the
//! tokenizer of [`crate::wordcount`]) and writes a running count per input
//! word to another topic — key `word`, value `word<TAB>count` — and, if
//! asked, to a text file directory (local or `hdfs://`).
//!
//! With checkpointing on and `--delivery-guarantee exactly-once` (the
//! default) a `read_committed` reader of the output topic sees, for every
//! word, the counts 1..n exactly once, whatever failed in between.

use clap::{Parser, ValueEnum};
use rfy_kafka::{
    BadRecordPolicy, DeliveryGuarantee, FnSerializer, KafkaSink, KafkaSource, StartingOffsets, TopicSelector, Utf8,
    ValueOnly,
};
use rfy_runtime::{DataStream, JobError, JobProgram, RuntimeMode, StreamExecutionEnvironment, Word};

use crate::wordcount::{format_count, tokenize};

/// The built-in `kafka-wordcount` program.
pub const PROGRAM: JobProgram = JobProgram {
    name: "kafka-wordcount",
    description: "count words of lines read from a Kafka topic, counts to another topic (exactly-once)",
    build,
};

/// The sink's delivery guarantee (Flink's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Guarantee {
    /// No guarantee.
    None,
    /// Flush at every checkpoint.
    AtLeastOnce,
    /// Kafka transactions committed on checkpoint completion.
    ExactlyOnce,
}

/// Where the source starts when there is no checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Start {
    /// Log start.
    Earliest,
    /// Log end.
    Latest,
    /// The group's committed offsets (earliest where none).
    Committed,
}

/// Arguments of `rfy run kafka-wordcount`.
#[derive(Debug, Parser)]
#[command(name = "kafka-wordcount", about = "Count words of lines read from a Kafka topic; counts to another topic.")]
pub struct Args {
    /// Kafka's bootstrap.servers, e.g. 127.0.0.1:9092.
    #[arg(long)]
    pub bootstrap_servers: String,
    /// Topic(s) to read lines from (comma-separated).
    #[arg(long, value_delimiter = ',', required_unless_present = "input_pattern")]
    pub input_topic: Vec<String>,
    /// Read every topic whose name matches this regular expression instead.
    #[arg(long, conflicts_with = "input_topic")]
    pub input_pattern: Option<String>,
    /// Topic to write `word<TAB>count` records to (key: the word).
    #[arg(long)]
    pub output_topic: String,
    /// Also write the counts as text files into this directory (local or hdfs:///dir).
    #[arg(long)]
    pub output: Option<String>,
    /// Consumer group the source commits its offsets to on checkpoint completion.
    #[arg(long, default_value = "rfy-kafka-wordcount")]
    pub group_id: String,
    /// Where to start reading without a checkpoint.
    #[arg(long, value_enum, default_value = "earliest")]
    pub starting_offsets: Start,
    /// Stop at the end offsets seen at start (a bounded run).
    #[arg(long)]
    pub bounded: bool,
    /// Skip (and count) records that are not UTF-8 instead of failing.
    #[arg(long)]
    pub skip_bad_records: bool,
    /// The sink's delivery guarantee.
    #[arg(long, value_enum, default_value = "exactly-once")]
    pub delivery_guarantee: Guarantee,
    /// Transactional id prefix of the exactly-once sink.
    #[arg(long, default_value = "rfy-kafka-wordcount")]
    pub transactional_id_prefix: String,
    /// Pace the source to this many records per second in total (demos, failure tests).
    #[arg(long, value_parser = crate::args::positive_rate)]
    pub rate: Option<f64>,
    /// Seconds to wait for the brokers before failing.
    #[arg(long, default_value_t = 30)]
    pub timeout_secs: u64,
}

fn build(env: &StreamExecutionEnvironment, args: &[String]) -> Result<(), JobError> {
    let a: Args = crate::args::parse("kafka-wordcount", args)?;
    let topics = match &a.input_pattern {
        Some(p) => TopicSelector::Pattern(p.clone()),
        None => TopicSelector::List(a.input_topic.clone()),
    };
    env.set_job_name(format!("Kafka WordCount {} -> {}", a.input_topic.join(","), a.output_topic));
    env.set_runtime_mode(Some(RuntimeMode::Streaming));
    let timeout = std::time::Duration::from_secs(a.timeout_secs);
    let mut source = KafkaSource::new(&a.bootstrap_servers, topics, ValueOnly(Utf8))
        .group_id(&a.group_id)
        .starting_offsets(match a.starting_offsets {
            Start::Earliest => StartingOffsets::Earliest,
            Start::Latest => StartingOffsets::Latest,
            Start::Committed => StartingOffsets::Committed { reset_to_earliest: true },
        })
        .bad_records(if a.skip_bad_records { BadRecordPolicy::Skip } else { BadRecordPolicy::Fail })
        // Exactly-once downstream of an exactly-once producer: read committed data only.
        .property("isolation.level", "read_committed")
        .timeout(timeout);
    if a.bounded {
        source = source.bounded();
    }
    if let Some(r) = a.rate {
        source = source.max_records_per_second(r);
    }
    let lines: DataStream<String> = env.add_source(source);
    let counts: DataStream<(Word, u64)> = lines
        .flat_map(tokenize)
        .name("Tokenizer")
        .key_by(|rec: &(Word, u64)| rec.0.clone())
        .reduce(|a, b| (a.0, a.1 + b.1))
        .name("Sum");
    let serializer = FnSerializer(|rec: &(Word, u64), key: &mut Vec<u8>, value: &mut Vec<u8>| {
        key.extend_from_slice(rec.0.as_bytes());
        format_count(rec, value);
        true
    });
    let sink = KafkaSink::new(&a.bootstrap_servers, &a.output_topic, serializer)
        .delivery_guarantee(match a.delivery_guarantee {
            Guarantee::None => DeliveryGuarantee::None,
            Guarantee::AtLeastOnce => DeliveryGuarantee::AtLeastOnce,
            Guarantee::ExactlyOnce => DeliveryGuarantee::ExactlyOnce,
        })
        .transactional_id_prefix(&a.transactional_id_prefix)
        .timeout(timeout);
    counts.sink_to(sink);
    match a.output {
        Some(dir) if rfy_connectors::is_hdfs(&dir) => {
            counts.sink_to(rfy_connectors::HdfsTextFileSink::new(&dir, format_count));
        }
        Some(dir) => {
            counts.write_as_text(std::path::PathBuf::from(dir), format_count);
        }
        None => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_parse_and_bad_ones_are_named() {
        let a = Args::try_parse_from([
            "kafka-wordcount",
            "--bootstrap-servers",
            "127.0.0.1:9092",
            "--input-topic",
            "a,b",
            "--output-topic",
            "out",
            "--delivery-guarantee",
            "at-least-once",
        ])
        .unwrap();
        assert_eq!(a.input_topic, vec!["a", "b"]);
        assert_eq!(a.delivery_guarantee, Guarantee::AtLeastOnce);
        let e = Args::try_parse_from(["kafka-wordcount", "--bootstrap-servers", "x:1", "--output-topic", "o"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--input-topic"), "{e}");
    }
}
