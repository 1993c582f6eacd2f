//! What a [`FileSink`](super::FileSink) writes into a part file: row
//! formats encode one record after another (text, JSON lines); bulk formats
//! (Parquet, in the `rfy-parquet` crate) encode batches and finish the file
//! with a footer, so they roll on every checkpoint (Flink's `BulkFormat` with
//! `OnCheckpointRollingPolicy`).

use std::time::Duration;

use serde::Serialize;

use crate::error::TaskError;
use crate::fs::OutputFile;

/// Encodes a record as bytes appended to a part file (Flink's `Encoder`);
/// called once per record with the batch's buffer.
pub type RowEncoder<T> = dyn Fn(&T, &mut Vec<u8>) + Send + Sync;

/// A text line per record: `format` writes the record, the sink adds `\n`
/// (Flink's `SimpleStringEncoder`).
pub fn text_lines<T>(format: impl Fn(&T, &mut Vec<u8>) + Send + Sync + 'static) -> impl Fn(&T, &mut Vec<u8>) {
    move |r: &T, out: &mut Vec<u8>| {
        format(r, out);
        out.push(b'\n');
    }
}

/// A JSON object per line (JSON Lines) through serde. A record serde cannot
/// write (e.g. a map with non-string keys) is written as `null`.
pub fn json_lines<T: Serialize>() -> impl Fn(&T, &mut Vec<u8>) {
    |r: &T, out: &mut Vec<u8>| {
        let start = out.len();
        if serde_json::to_writer(&mut *out, r).is_err() {
            out.truncate(start);
            out.extend_from_slice(b"null");
        }
        out.push(b'\n');
    }
}

/// Writes one part file of a bulk format (Flink's `BulkWriter`).
pub trait BulkWriter<T>: Send {
    /// Encodes (and takes) every record of `batch`.
    ///
    /// Errors: the records cannot be encoded or written.
    fn add_batch(&mut self, batch: &mut Vec<T>) -> Result<(), TaskError>;
    /// Bytes written so far (or buffered), for logs and metrics.
    fn bytes(&self) -> u64;
    /// Writes the footer and closes the file durably.
    ///
    /// Errors: the file cannot be completed.
    fn finish(self: Box<Self>) -> Result<(), TaskError>;
}

/// Makes a [`BulkWriter`] over a freshly created part file (Flink's `BulkWriter.Factory`).
pub trait BulkWriterFactory<T>: Send + Sync + 'static {
    /// A writer over `out`; `path` names the file in errors.
    ///
    /// Errors: the format cannot start the file (e.g. a bad schema).
    fn create(&self, out: Box<dyn OutputFile>, path: &str) -> Result<Box<dyn BulkWriter<T>>, TaskError>;
    /// The part file suffix of the format, e.g. `.parquet`.
    fn suffix(&self) -> &str {
        ""
    }
}

/// When a row-format part file is closed and a new one started (Flink's
/// `DefaultRollingPolicy`): at `max_part_size` bytes, `rollover_interval`
/// after it was opened, or after `inactivity_interval` without records. rfy
/// also rolls every part file at each checkpoint (its file systems have no
/// resumable writer to continue a file after recovery), as Flink's
/// `OnCheckpointRollingPolicy` does for bulk formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollingPolicy {
    /// Part file size that closes it (bytes); Flink's default 128 MiB.
    pub max_part_size: u64,
    /// Age that closes a part file; Flink's default 60 s.
    pub rollover_interval: Duration,
    /// Time without records that closes it; Flink's default 60 s.
    pub inactivity_interval: Duration,
}

impl Default for RollingPolicy {
    fn default() -> Self {
        RollingPolicy {
            max_part_size: 128 << 20,
            rollover_interval: Duration::from_secs(60),
            inactivity_interval: Duration::from_secs(60),
        }
    }
}

impl RollingPolicy {
    /// Should a part file of `size` bytes, opened at `created` and last
    /// written at `last_write` (ms), roll at `now` (ms)?
    pub fn should_roll(&self, size: u64, created: i64, last_write: i64, now: i64) -> bool {
        size >= self.max_part_size
            || now.saturating_sub(created) >= self.rollover_interval.as_millis() as i64
            || now.saturating_sub(last_write) >= self.inactivity_interval.as_millis() as i64
    }
}

/// Part file names (Flink's `OutputFileConfig`): `<prefix>-<uid>-<subtask>-<counter><suffix>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFileConfig {
    /// Default `part`.
    pub prefix: String,
    /// Default empty (a bulk format may bring its own, e.g. `.parquet`).
    pub suffix: String,
}

impl Default for OutputFileConfig {
    fn default() -> Self {
        OutputFileConfig { prefix: "part".into(), suffix: String::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolling_on_size_age_and_inactivity() {
        let p = RollingPolicy {
            max_part_size: 100,
            rollover_interval: Duration::from_millis(1000),
            inactivity_interval: Duration::from_millis(300),
        };
        assert!(!p.should_roll(99, 0, 0, 299));
        assert!(p.should_roll(100, 0, 0, 1));
        assert!(p.should_roll(1, 0, 0, 300));
        assert!(!p.should_roll(1, 0, 800, 999));
        assert!(p.should_roll(1, 0, 800, 1000));
    }

    #[test]
    fn row_encoders() {
        #[derive(Serialize)]
        struct E {
            id: u32,
            name: &'static str,
        }
        let mut out = Vec::new();
        json_lines()(&E { id: 1, name: "a\"b" }, &mut out);
        text_lines(|x: &u32, o: &mut Vec<u8>| o.extend_from_slice(x.to_string().as_bytes()))(&7, &mut out);
        assert_eq!(out, b"{\"id\":1,\"name\":\"a\\\"b\"}\n7\n");
    }
}
