//! The Parquet [`BulkWriterFactory`] and its writer.

use std::str::FromStr;
use std::sync::Arc;

use arrow_json::reader::{Decoder, ReaderBuilder};
use arrow_schema::{ArrowError, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression as Codec, ZstdLevel};
use parquet::file::properties::WriterProperties;
use rfy_runtime::fs::OutputFile;
use rfy_runtime::sinks::file::{BulkWriter, BulkWriterFactory};
use rfy_runtime::TaskError;
use serde::Serialize;

/// A record type that knows its Arrow schema; its serde form (a struct or
/// map with the schema's field names) fills the columns.
pub trait ArrowRecord: Serialize {
    /// The schema of the Parquet files (field names as serde writes them).
    fn arrow_schema() -> Schema;
}

/// Parquet page compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// None.
    Uncompressed,
    /// Snappy (the default, as Flink's and Spark's).
    Snappy,
    /// Zstandard at a level 1..=22.
    Zstd(i32),
}

/// Errors of the factory's settings.
#[derive(Debug, thiserror::Error)]
pub enum ParquetError {
    /// A compression name rfy does not know.
    #[error("compression '{0}': not one of none, snappy, zstd, zstd:<level 1-22>")]
    Codec(String),
    /// A zstd level out of range.
    #[error("zstd level {0}: not in 1..=22")]
    ZstdLevel(i32),
}

impl FromStr for Compression {
    type Err = ParquetError;
    /// `none`, `snappy`, `zstd` (level 3) or `zstd:<level>`.
    fn from_str(s: &str) -> Result<Self, ParquetError> {
        match s.to_ascii_lowercase().as_str() {
            "none" | "uncompressed" => Ok(Compression::Uncompressed),
            "snappy" => Ok(Compression::Snappy),
            "zstd" => Ok(Compression::Zstd(3)),
            other => match other.strip_prefix("zstd:").map(str::parse::<i32>) {
                Some(Ok(level)) => Ok(Compression::Zstd(level)),
                _ => Err(ParquetError::Codec(s.to_string())),
            },
        }
    }
}

type Encode<T> = dyn Fn(&mut Decoder, &[T]) -> Result<(), ArrowError> + Send + Sync;

/// Writes part files as Parquet (see the crate docs). `T` is the record type.
pub struct ParquetWriterFactory<T> {
    schema: SchemaRef,
    props: WriterProperties,
    encode: Arc<Encode<T>>,
}

fn props(codec: Codec) -> WriterProperties {
    WriterProperties::builder().set_compression(codec).build()
}

impl<T: Serialize + Send + 'static> ParquetWriterFactory<T> {
    /// Records through serde into columns of the explicit `schema`.
    pub fn for_serde(schema: Schema) -> Self {
        ParquetWriterFactory {
            schema: Arc::new(schema),
            props: props(Codec::SNAPPY),
            encode: Arc::new(|d: &mut Decoder, rows: &[T]| d.serialize(rows)),
        }
    }
}

impl<T: ArrowRecord + Send + 'static> ParquetWriterFactory<T> {
    /// Records of a type that gives its own schema ([`ArrowRecord`]).
    pub fn for_record() -> Self {
        Self::for_serde(T::arrow_schema())
    }
}

impl<T: Send + 'static> ParquetWriterFactory<T> {
    /// Records holding JSON text (an object per record, `json(record)` gives
    /// its bytes) into columns of `schema` (arrow-json's rules: numbers into
    /// numeric and timestamp columns, RFC 3339 strings into timestamps,
    /// absent fields null, unknown fields ignored).
    pub fn for_json(schema: Schema, json: impl Fn(&T) -> &[u8] + Send + Sync + 'static) -> Self {
        let encode = move |d: &mut Decoder, rows: &[T]| {
            for r in rows {
                let mut buf = json(r);
                while !buf.is_empty() {
                    let n = d.decode(buf)?;
                    if n == 0 {
                        return Err(ArrowError::JsonError("the decoder took no bytes".into()));
                    }
                    buf = &buf[n..];
                }
                d.decode(b"\n")?;
            }
            Ok(())
        };
        ParquetWriterFactory { schema: Arc::new(schema), props: props(Codec::SNAPPY), encode: Arc::new(encode) }
    }

    /// Compresses pages with `compression` (default snappy).
    ///
    /// Errors: a zstd level out of 1..=22.
    pub fn with_compression(mut self, compression: Compression) -> Result<Self, ParquetError> {
        let codec = match compression {
            Compression::Uncompressed => Codec::UNCOMPRESSED,
            Compression::Snappy => Codec::SNAPPY,
            Compression::Zstd(l) => Codec::ZSTD(ZstdLevel::try_new(l).map_err(|_| ParquetError::ZstdLevel(l))?),
        };
        self.props = props(codec);
        Ok(self)
    }

    /// The schema of the files.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }
}

/// Rows per Arrow batch handed to the Parquet writer (the JSON decoder's batch size).
const BATCH_ROWS: usize = 8192;

struct ParquetBulkWriter<T> {
    path: String,
    decoder: Decoder,
    writer: ArrowWriter<Box<dyn OutputFile>>,
    encode: Arc<Encode<T>>,
}

impl<T> ParquetBulkWriter<T> {
    fn err(&self, e: impl std::fmt::Display) -> TaskError {
        TaskError::User(format!("cannot write Parquet file {}: {e}", self.path))
    }

    fn flush_decoder(&mut self) -> Result<(), TaskError> {
        if let Some(batch) = self.decoder.flush().map_err(|e| self.err(e))? {
            self.writer.write(&batch).map_err(|e| self.err(e))?;
        }
        Ok(())
    }
}

impl<T: Send> BulkWriter<T> for ParquetBulkWriter<T> {
    fn add_batch(&mut self, batch: &mut Vec<T>) -> Result<(), TaskError> {
        for chunk in batch.chunks(BATCH_ROWS) {
            (self.encode)(&mut self.decoder, chunk).map_err(|e| self.err(e))?;
            self.flush_decoder()?;
        }
        batch.clear();
        Ok(())
    }

    fn bytes(&self) -> u64 {
        (self.writer.bytes_written() + self.writer.in_progress_size()) as u64
    }

    fn finish(mut self: Box<Self>) -> Result<(), TaskError> {
        self.flush_decoder()?;
        let path = self.path.clone();
        let out =
            self.writer.into_inner().map_err(|e| TaskError::User(format!("cannot write Parquet file {path}: {e}")))?;
        out.close().map_err(|e| TaskError::io(format!("cannot write {path}"), e))
    }
}

impl<T: Send + 'static> BulkWriterFactory<T> for ParquetWriterFactory<T> {
    fn create(&self, out: Box<dyn OutputFile>, path: &str) -> Result<Box<dyn BulkWriter<T>>, TaskError> {
        let bad = |e: &dyn std::fmt::Display| TaskError::User(format!("cannot start Parquet file {path}: {e}"));
        let decoder =
            ReaderBuilder::new(self.schema.clone()).with_batch_size(BATCH_ROWS).build_decoder().map_err(|e| bad(&e))?;
        let writer = ArrowWriter::try_new(out, self.schema.clone(), Some(self.props.clone())).map_err(|e| bad(&e))?;
        Ok(Box::new(ParquetBulkWriter { path: path.to_string(), decoder, writer, encode: self.encode.clone() }))
    }

    fn suffix(&self) -> &str {
        ".parquet"
    }
}
