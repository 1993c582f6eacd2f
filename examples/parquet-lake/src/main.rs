//! A data lake writer: payment lines `ts_ms,user,amount` into Parquet files
//! partitioned by event time, Hive style (`dt=2024-01-01/hour=13`), with a
//! `_SUCCESS` file in each partition the watermark has passed.
//!
//! The record type gives its Arrow schema ([`ArrowRecord`]); the FileSink
//! with a Parquet bulk format writes one zstd-compressed Parquet file per
//! bucket, subtask and checkpoint; run with checkpointing
//! (`-D execution.checkpointing.interval=1s`) for exactly-once output.
//!
//! `rfy-example-parquet-lake --input payments.csv --output hdfs:///lake/payments`

use std::sync::Arc;
use std::time::Duration;

use rfy::parquet::arrow_schema::{DataType, Field, Schema, TimeUnit};
use rfy::parquet::{ArrowRecord, Compression, ParquetWriterFactory};
use rfy::sinks::file::DateTimeBucketAssigner;
use rfy::sinks::FileSink;
use rfy::time::WatermarkStrategy;
use rfy::{JobError, JobProgram, StreamExecutionEnvironment};

/// One payment: the Parquet columns are its fields.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Payment {
    /// Event time, ms since the Unix epoch.
    ts: i64,
    user: String,
    amount: f64,
}

impl ArrowRecord for Payment {
    fn arrow_schema() -> Schema {
        Schema::new(vec![
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, Some(Arc::from("+00:00"))), false),
            Field::new("user", DataType::Utf8, false),
            Field::new("amount", DataType::Float64, false),
        ])
    }
}

/// `ts,user,amount` → a payment; anything else is `None` (skipped).
fn parse(line: &String) -> Option<Payment> {
    let mut f = line.split(',');
    let ts = f.next()?.trim().parse().ok()?;
    let user = f.next()?.trim().to_string();
    let amount = f.next()?.trim().parse().ok()?;
    Some(Payment { ts, user, amount })
}

fn build(env: &StreamExecutionEnvironment, args: &[String]) -> Result<(), JobError> {
    let input = rfy::arg(args, "--input")?;
    let output = rfy::arg(args, "--output")?;
    env.set_job_name(format!("Parquet lake {input} -> {output}"));
    let payments = rfy::read_text_file(env, &input)
        .flat_map(|line: String, out: &mut rfy::Collector<'_, Payment>| {
            if let Some(p) = parse(&line) {
                out.collect(p)
            }
        })
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(5))
                .with_timestamp_assigner(|p: &Payment, _ts: i64| p.ts),
        );
    let parquet = ParquetWriterFactory::<Payment>::for_record()
        .with_compression(Compression::Zstd(3))
        .map_err(|e| JobError::BadArguments(e.to_string()))?;
    let partitions = DateTimeBucketAssigner::new("'dt='yyyy-MM-dd/'hour='HH")
        .map_err(|e| JobError::BadArguments(e.to_string()))?
        .event_time();
    payments.sink_to(FileSink::for_bulk_format(&output, parquet).with_bucket_assigner(partitions));
    Ok(())
}

/// The job program.
const PARQUET_LAKE: JobProgram =
    JobProgram { name: "parquet-lake", description: "payments into Parquet partitions by event time", build };

fn main() {
    rfy::run(&[PARQUET_LAKE])
}
