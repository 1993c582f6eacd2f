//! Kafka to Parquet: JSON events from a Kafka topic into Parquet files
//! partitioned by event time (the data lake ingestion job): a FileSink with
//! a bulk Parquet format, date-time buckets (`yyyy-MM-dd--HH` by default)
//! on each event's time field, exactly-once through checkpoints, `_SUCCESS`
//! in every partition the watermark has passed.
//!
//! `rfy run kafka-to-parquet --bootstrap-servers B --input-topic events
//!  --output hdfs:///lake/events --schema id:int64,user:string,ts:timestamp`

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use rfy_kafka::{BadRecordPolicy, Format, KafkaSource, TopicSelector, ValueOnly};
use rfy_parquet::arrow_schema::{DataType, Field, Schema, TimeUnit};
use rfy_parquet::{Compression, ParquetWriterFactory};
use rfy_runtime::sinks::file::{DateTimeBucketAssigner, FileSink};
use rfy_runtime::time::WatermarkStrategy;
use rfy_runtime::{DataStream, JobError, JobProgram, RuntimeMode, StreamExecutionEnvironment};
use sonic_rs::JsonValueTrait;

/// The built-in `kafka-to-parquet` program.
pub const PROGRAM: JobProgram = JobProgram {
    name: "kafka-to-parquet",
    description: "JSON events of a Kafka topic into Parquet files partitioned by event time (exactly-once)",
    build,
};

/// Arguments of `rfy run kafka-to-parquet`.
#[derive(Debug, Parser)]
#[command(name = "kafka-to-parquet", about = "JSON events of a Kafka topic into Parquet partitions by event time.")]
pub struct Args {
    /// Kafka's bootstrap.servers, e.g. 127.0.0.1:9092.
    #[arg(long)]
    pub bootstrap_servers: String,
    /// Topic of JSON events (one object per record).
    #[arg(long)]
    pub input_topic: String,
    /// Base directory of the partitions (local or hdfs:///dir).
    #[arg(long)]
    pub output: String,
    /// Columns as name:type, comma-separated; types: boolean, int32, int64, float32, float64, string,
    /// timestamp (ms since the epoch or RFC 3339, UTC), date.
    #[arg(long, value_parser = parse_schema)]
    pub schema: Schema,
    /// The event-time field: ms since the Unix epoch, or an RFC 3339 string.
    #[arg(long, default_value = "ts")]
    pub event_time_field: String,
    /// Partition directories: a Java date-time pattern of the event time.
    #[arg(long, default_value = "yyyy-MM-dd--HH")]
    pub bucket_format: String,
    /// Time zone of the partitions: UTC, +05:30 or an IANA name.
    #[arg(long, default_value = "UTC")]
    pub time_zone: String,
    /// Parquet compression: snappy, zstd, zstd:<level>, none.
    #[arg(long, default_value = "snappy")]
    pub compression: Compression,
    /// How late events may be (Flink's forBoundedOutOfOrderness), e.g. 5s.
    #[arg(long, value_parser = crate::args::duration, default_value = "0ms")]
    pub max_out_of_orderness: Duration,
    /// A source subtask without events for this long does not hold event time back.
    #[arg(long, value_parser = crate::args::duration)]
    pub idleness: Option<Duration>,
    /// Skip (and count) events that are not JSON with a valid time field instead of failing.
    #[arg(long)]
    pub skip_bad_records: bool,
    /// Stop at the end offsets seen at start (a bounded run).
    #[arg(long)]
    pub bounded: bool,
    /// Pace the source to this many records per second in total (demos, failure tests).
    #[arg(long, value_parser = crate::args::positive_rate)]
    pub rate: Option<f64>,
}

/// Parses `name:type,...` into an Arrow schema (all columns nullable).
///
/// Errors: a one-line message naming the column or type at fault.
pub fn parse_schema(text: &str) -> Result<Schema, String> {
    let mut fields = Vec::new();
    for col in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let Some((name, ty)) = col.split_once(':') else {
            return Err(format!("column '{col}': expected name:type"));
        };
        let dt = match ty.trim().to_ascii_lowercase().as_str() {
            "boolean" | "bool" => DataType::Boolean,
            "int32" | "int" => DataType::Int32,
            "int64" | "long" | "bigint" => DataType::Int64,
            "float32" | "float" => DataType::Float32,
            "float64" | "double" => DataType::Float64,
            "string" | "utf8" => DataType::Utf8,
            "timestamp" => DataType::Timestamp(TimeUnit::Millisecond, Some(Arc::from("+00:00"))),
            "date" => DataType::Date32,
            other => return Err(format!("column '{name}': unknown type '{other}'")),
        };
        fields.push(Field::new(name.trim(), dt, true));
    }
    if fields.is_empty() {
        return Err("no columns".into());
    }
    Ok(Schema::new(fields))
}

/// The Kafka value format of the job: a JSON object with an event-time
/// field; the record is `(event time ms, JSON text)`.
struct JsonEvent {
    field: String,
}

impl Format for JsonEvent {
    type Item = (i64, String);
    fn decode(&self, bytes: &[u8]) -> Result<(i64, String), String> {
        let text = std::str::from_utf8(bytes).map_err(|e| format!("invalid UTF-8: {e}"))?;
        let v = sonic_rs::get(text, [self.field.as_str()]).map_err(|e| {
            format!("no event-time field '{}': {}", self.field, e.to_string().lines().next().unwrap_or(""))
        })?;
        let ts = match (v.as_i64(), v.as_str()) {
            (Some(ms), _) => ms,
            (None, Some(s)) => s
                .parse::<jiff::Timestamp>()
                .map_err(|e| format!("event-time field '{}': '{s}' is not RFC 3339: {e}", self.field))?
                .as_millisecond(),
            _ => return Err(format!("event-time field '{}': not a number of ms or an RFC 3339 string", self.field)),
        };
        Ok((ts, text.to_string()))
    }
    fn encode(&self, item: &(i64, String), out: &mut Vec<u8>) -> Result<(), String> {
        out.extend_from_slice(item.1.as_bytes());
        Ok(())
    }
}

fn build(env: &StreamExecutionEnvironment, args: &[String]) -> Result<(), JobError> {
    let a: Args = crate::args::parse("kafka-to-parquet", args)?;
    let bad = |e: &dyn std::fmt::Display| JobError::BadArguments(e.to_string());
    let buckets = DateTimeBucketAssigner::new(&a.bucket_format)
        .and_then(|b| b.with_zone(&a.time_zone))
        .map_err(|e| bad(&e))?
        .event_time();
    let parquet = ParquetWriterFactory::for_json(a.schema.clone(), |r: &(i64, String)| r.1.as_bytes())
        .with_compression(a.compression)
        .map_err(|e| bad(&e))?;
    env.set_job_name(format!("Kafka {} -> Parquet {}", a.input_topic, a.output));
    env.set_runtime_mode(Some(RuntimeMode::Streaming));
    let mut source = KafkaSource::new(
        &a.bootstrap_servers,
        TopicSelector::List(vec![a.input_topic.clone()]),
        ValueOnly(JsonEvent { field: a.event_time_field.clone() }),
    )
    .bad_records(if a.skip_bad_records { BadRecordPolicy::Skip } else { BadRecordPolicy::Fail })
    .property("isolation.level", "read_committed");
    if a.bounded {
        source = source.bounded();
    }
    if let Some(r) = a.rate {
        source = source.max_records_per_second(r);
    }
    let mut strategy = WatermarkStrategy::for_bounded_out_of_orderness(a.max_out_of_orderness)
        .with_timestamp_assigner(|r: &(i64, String), _ts: i64| r.0);
    if let Some(idle) = a.idleness {
        strategy = strategy.with_idleness(idle);
    }
    let events: DataStream<(i64, String)> = env.add_source(source).assign_timestamps_and_watermarks(strategy);
    events.sink_to(FileSink::for_bulk_format(&a.output, parquet).with_bucket_assigner(buckets));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_and_event_time_parsing() {
        let s = parse_schema("id:int64, user:string,ts:timestamp").unwrap();
        assert_eq!(s.fields().len(), 3);
        assert_eq!(s.field(2).data_type(), &DataType::Timestamp(TimeUnit::Millisecond, Some(Arc::from("+00:00"))));
        assert_eq!(parse_schema("id:uuid").unwrap_err(), "column 'id': unknown type 'uuid'");
        assert_eq!(parse_schema("id").unwrap_err(), "column 'id': expected name:type");
        let f = JsonEvent { field: "ts".into() };
        assert_eq!(f.decode(br#"{"id":1,"ts":1704067200000}"#).unwrap().0, 1_704_067_200_000);
        assert_eq!(f.decode(br#"{"ts":"2024-01-01T00:00:00.5Z"}"#).unwrap().0, 1_704_067_200_500);
        assert!(f.decode(br#"{"id":1}"#).unwrap_err().contains("'ts'"));
        assert!(f.decode(br#"{"ts":true}"#).is_err());
    }
}
