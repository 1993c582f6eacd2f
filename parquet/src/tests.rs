//! Writes Parquet part files through the FileSink and reads them back.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMillisecondType};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression as Codec;
use rfy_runtime::context::{OperatorContext, RuntimeMode};
use rfy_runtime::sinks::file::{BasePathBucketAssigner, FileSink};
use rfy_runtime::sinks::Sink;

use super::*;

#[derive(serde::Serialize)]
struct Click {
    user: String,
    n: i64,
}

impl ArrowRecord for Click {
    fn arrow_schema() -> Schema {
        Schema::new(vec![Field::new("user", DataType::Utf8, false), Field::new("n", DataType::Int64, false)])
    }
}

fn ctx() -> OperatorContext {
    OperatorContext {
        operator_name: "Sink".into(),
        uid: "parquet-sink".into(),
        task_name: "Sink (1/1)".into(),
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

/// The one `.parquet` file in `dir`, read back: its batches and codec.
fn read_back(dir: &std::path::Path) -> (Vec<arrow_array::RecordBatch>, Codec) {
    let files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|f| f.path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("part-") && name.ends_with("-0-0.parquet"), "{name}");
    let b = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&files[0]).unwrap()).unwrap();
    let codec = b.metadata().row_group(0).column(0).compression();
    (b.build().unwrap().map(Result::unwrap).collect(), codec)
}

#[test]
fn typed_records_with_their_own_schema_and_zstd() {
    let tmp = tempfile::tempdir().unwrap();
    let factory = ParquetWriterFactory::<Click>::for_record().with_compression(Compression::Zstd(5)).unwrap();
    let sink = FileSink::for_bulk_format(&tmp.path().display().to_string(), factory)
        .with_bucket_assigner(BasePathBucketAssigner);
    let mut w = sink.create_writer(&ctx()).unwrap();
    let mut batch: Vec<Click> = (0..10_000).map(|i| Click { user: format!("u{}", i % 7), n: i }).collect();
    w.write_batch(&mut batch).unwrap();
    w.write_batch(&mut vec![Click { user: "last".into(), n: -1 }]).unwrap();
    w.finish().unwrap();
    let (batches, codec) = read_back(tmp.path());
    assert!(matches!(codec, Codec::ZSTD(_)), "{codec:?}");
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 10_001);
    let sum: i64 = batches.iter().map(|b| b.column(1).as_primitive::<Int64Type>().values().iter().sum::<i64>()).sum();
    assert_eq!(sum, (0..10_000).sum::<i64>() - 1);
}

#[test]
fn json_text_into_an_explicit_schema_with_snappy() {
    let tmp = tempfile::tempdir().unwrap();
    let schema = Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, Some(Arc::from("+00:00"))), true),
        Field::new("tag", DataType::Utf8, true),
    ]);
    let factory = ParquetWriterFactory::for_json(schema, |s: &String| s.as_bytes());
    let sink = FileSink::for_bulk_format(&tmp.path().display().to_string(), factory)
        .with_bucket_assigner(BasePathBucketAssigner);
    let mut w = sink.create_writer(&ctx()).unwrap();
    let mut batch = vec![
        r#"{"id": 1, "ts": 1704067200000, "tag": "a", "extra": [1]}"#.to_string(),
        r#"{"id": 2, "ts": 1704067200001}"#.to_string(),
    ];
    w.write_batch(&mut batch).unwrap();
    w.finish().unwrap();
    let (batches, codec) = read_back(tmp.path());
    assert_eq!(codec, Codec::SNAPPY);
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
    let ts = batches[0].column(1).as_primitive::<TimestampMillisecondType>();
    assert_eq!(ts.values().to_vec(), vec![1_704_067_200_000, 1_704_067_200_001]);
    assert!(batches[0].column(2).is_null(1));

    let mut bad = vec!["{\"id\": \"x\"}".to_string()];
    let mut w = sink.create_writer(&ctx()).unwrap();
    let e = w.write_batch(&mut bad).unwrap_err().to_string();
    assert!(e.contains("cannot write Parquet file") && e.contains(".inprogress"), "{e}");
}

#[test]
fn compression_names() {
    assert_eq!("snappy".parse::<Compression>().unwrap(), Compression::Snappy);
    assert_eq!("ZSTD:9".parse::<Compression>().unwrap(), Compression::Zstd(9));
    assert_eq!("none".parse::<Compression>().unwrap(), Compression::Uncompressed);
    assert!("lz4".parse::<Compression>().unwrap_err().to_string().starts_with("compression 'lz4'"));
    let e = ParquetWriterFactory::<Click>::for_record().with_compression(Compression::Zstd(99)).err().unwrap();
    assert_eq!(e.to_string(), "zstd level 99: not in 1..=22");
}
