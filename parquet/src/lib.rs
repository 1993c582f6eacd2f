//! Parquet bulk format for rfy's [`FileSink`](rfy_runtime::sinks::FileSink),
//! through the `parquet` crate of arrow-rs (kept out of the runtime: Arrow
//! and Parquet are heavy to build; a job that does not write Parquet does not
//! build them — the SDK enables this crate with its `parquet` feature).
//!
//! Records become Arrow record batches through `arrow-json`'s decoder with a
//! schema that is either explicit ([`ParquetWriterFactory::for_serde`],
//! [`ParquetWriterFactory::for_json`]) or comes from the record type
//! ([`ArrowRecord`], [`ParquetWriterFactory::for_record`]). Each part file is
//! one Parquet file (Flink's `ParquetWriterFactory` / `AvroParquetWriters`);
//! the sink rolls it at every checkpoint. Compression: snappy (default),
//! zstd or none.
//!
//! ```
//! use std::sync::Arc;
//! use arrow_schema::{DataType, Field, Schema, TimeUnit};
//! use rfy_parquet::{ArrowRecord, Compression, ParquetWriterFactory};
//! use rfy_runtime::sinks::file::{DateTimeBucketAssigner, FileSink};
//!
//! #[derive(serde::Serialize)]
//! struct Click { user: String, url: String, ts: i64 }
//!
//! impl ArrowRecord for Click {
//!     fn arrow_schema() -> Schema {
//!         Schema::new(vec![
//!             Field::new("user", DataType::Utf8, false),
//!             Field::new("url", DataType::Utf8, false),
//!             Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, Some(Arc::from("+00:00"))), false),
//!         ])
//!     }
//! }
//!
//! let parquet = ParquetWriterFactory::<Click>::for_record().with_compression(Compression::Zstd(3)).unwrap();
//! let sink = FileSink::for_bulk_format("hdfs:///lake/clicks", parquet)
//!     .with_bucket_assigner(DateTimeBucketAssigner::new("'dt='yyyy-MM-dd/'hour='HH").unwrap().event_time());
//! # let _ = sink;
//! ```

mod writer;

pub use arrow_schema;
pub use writer::{ArrowRecord, Compression, ParquetError, ParquetWriterFactory};

#[cfg(test)]
mod tests;
