//! The file sink (Flink's `FileSink`): records go into buckets
//! (directories under a base path, by default one per hour:
//! [`DateTimeBucketAssigner`]), each bucket into part files named
//! `<prefix>-<uid>-<subtask>-<counter><suffix>` (default prefix `part`),
//! written under hidden names (`.<name>.inprogress`, `.<name>.pending`) so
//! readers (Hive, Spark, Trino, DuckDB, pyarrow skip names starting with `.`
//! or `_`) never see a file before it is complete and committed.
//!
//! Formats: row formats encode one record after another (text lines,
//! [`json_lines`]) and roll by a [`RollingPolicy`] (size, age, inactivity);
//! bulk formats ([`BulkWriterFactory`], Parquet in `rfy-parquet`) roll at
//! every checkpoint. Row formats roll at every checkpoint too: rfy's file
//! systems have no resumable writer to continue a part file after recovery.
//!
//! With checkpointing the sink is exactly-once by two-phase commit: at a
//! barrier every open part file is closed durably and renamed pending (the
//! pending list is the operator state); when the checkpoint completes they
//! get their final names. After a restore the recorded pending files are
//! committed and subtask 0 deletes the hidden files of other runs (written
//! after the checkpoint; the sources replay them). `<uid>` is the job id's
//! first 8 digits and the attempt (`a<n>`) with checkpointing, so runs never
//! collide, and a random id without.
//!
//! Partition commit (on by default, [`FileSink::with_success_file`]): a time
//! bucket gets an empty `_SUCCESS` file once every subtask's watermark (or
//! processing time, for processing-time buckets) passed its end and its files
//! are committed (Flink's partition commit policy `success-file`; see
//! `commit.rs`).
//!
//! ```
//! use rfy_runtime::sinks::file::{json_lines, DateTimeBucketAssigner, FileSink, RollingPolicy};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! #[derive(serde::Serialize)]
//! struct Click { user: String, url: String }
//! let sink: FileSink<Click> = FileSink::for_row_format("hdfs:///lake/clicks", json_lines())
//!     .with_bucket_assigner(DateTimeBucketAssigner::new("'dt='yyyy-MM-dd/'hour='HH")?.event_time())
//!     .with_rolling_policy(RollingPolicy { max_part_size: 64 << 20, ..Default::default() });
//! # let _ = sink; Ok(()) }
//! ```

mod bucket;
mod commit;
mod format;
#[cfg(test)]
mod tests;
mod writer;

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

pub use bucket::{
    Assigned, BasePathBucketAssigner, BucketAssigner, BucketContext, BucketFormatError, DateTimeBucketAssigner,
    FieldBucketAssigner, TimeBucket,
};
pub use commit::{PROGRESS_DIR, SUCCESS_FILE};
pub use format::{json_lines, text_lines, BulkWriter, BulkWriterFactory, OutputFileConfig, RollingPolicy, RowEncoder};

use self::commit::{CommitState, Committer, OpenBucket, PendingFile};
use self::writer::{pending_rel, FileSinkWriter, Format};
use super::{Sink, SinkWriter};
use crate::context::OperatorContext;
use crate::error::{IoCheckError, TaskError};

/// A file sink definition (see the module docs): a base path (local or any
/// registered scheme, e.g. `hdfs://`), a format, a bucket assigner.
pub struct FileSink<T> {
    base: String,
    format: Format<T>,
    assigner: Arc<dyn BucketAssigner<T>>,
    files: OutputFileConfig,
    success_file: bool,
}

/// An item of the sink's operator state.
#[derive(Debug, Serialize, Deserialize)]
enum StateItem {
    Pending(PendingFile),
    Open(BTreeMap<String, OpenBucket>),
}

fn encode_item(item: &StateItem) -> Result<Vec<u8>, TaskError> {
    postcard::to_allocvec(item).map_err(|e| TaskError::State(format!("cannot encode file sink state: {e}")))
}

impl<T: Send + 'static> FileSink<T> {
    /// A row-format sink into `base`: `encoder` appends each record's bytes
    /// (with its line end: see [`text_lines`], [`json_lines`]). Defaults:
    /// hourly UTC buckets by processing time, Flink's default rolling policy,
    /// `part` files, `_SUCCESS` files.
    pub fn for_row_format(base: &str, encoder: impl Fn(&T, &mut Vec<u8>) + Send + Sync + 'static) -> Self {
        FileSink::with_format(base, Format::Row(Arc::new(encoder), RollingPolicy::default()))
    }

    /// A bulk-format sink into `base` (e.g. Parquet: `rfy_parquet::ParquetWriterFactory`);
    /// part files roll at every checkpoint and take the format's suffix.
    pub fn for_bulk_format(base: &str, factory: impl BulkWriterFactory<T>) -> Self {
        let files = OutputFileConfig { suffix: factory.suffix().to_string(), ..Default::default() };
        FileSink { files, ..FileSink::with_format(base, Format::Bulk(Arc::new(factory))) }
    }

    fn with_format(base: &str, format: Format<T>) -> Self {
        FileSink {
            base: base.trim_end_matches('/').to_string(),
            format,
            assigner: Arc::new(DateTimeBucketAssigner::default()),
            files: OutputFileConfig::default(),
            success_file: true,
        }
    }

    /// Chooses buckets with `assigner` (default: [`DateTimeBucketAssigner`]).
    pub fn with_bucket_assigner(mut self, assigner: impl BucketAssigner<T>) -> Self {
        self.assigner = Arc::new(assigner);
        self
    }

    /// Rolls row-format part files by `policy` (bulk formats ignore it).
    pub fn with_rolling_policy(mut self, policy: RollingPolicy) -> Self {
        if let Format::Row(_, p) = &mut self.format {
            *p = policy;
        }
        self
    }

    /// Part file prefix and suffix.
    pub fn with_output_file_config(mut self, files: OutputFileConfig) -> Self {
        self.files = files;
        self
    }

    /// Writes `_SUCCESS` into complete time buckets (default true).
    pub fn with_success_file(mut self, on: bool) -> Self {
        self.success_file = on;
        self
    }
}

fn random_id() -> String {
    let h = |salt: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(salt);
        h.finish()
    };
    format!("{:016x}", h(std::process::id() as u64) ^ h(writer::now_ms() as u64))
}

impl<T: Send + 'static> Sink<T> for FileSink<T> {
    fn name(&self) -> String {
        format!("Sink: File {}", self.base)
    }

    fn check(&self) -> Result<(), IoCheckError> {
        let fs = crate::fs::get(&self.base).map_err(IoCheckError::client)?;
        match fs.status(&self.base) {
            Ok(Some(s)) if !s.is_dir => Err(format!("output path {} exists and is not a directory", self.base).into()),
            Ok(_) => Ok(()),
            Err(e) => Err(format!("cannot read output directory {}: {e}", self.base).into()),
        }
    }

    fn create_writer(&self, ctx: &OperatorContext) -> Result<Box<dyn SinkWriter<T>>, TaskError> {
        let fs = crate::fs::get(&self.base).map_err(|e| TaskError::User(e.to_string()))?;
        fs.mkdirs(&self.base).map_err(|e| TaskError::io(format!("cannot create output directory {}", self.base), e))?;
        let cp = ctx.checkpointing.as_ref();
        let run = match cp {
            Some(cp) => format!("{}a{}", cp.job_id().chars().take(8).collect::<String>(), ctx.attempt),
            None => random_id(),
        };
        let uid: String = ctx.uid.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        let committer = Arc::new(Committer {
            fs,
            base: self.base.clone(),
            uid: format!("{uid}-"),
            subtask: ctx.subtask_index,
            parallelism: ctx.parallelism,
            success_file: self.success_file && self.assigner.has_time_ranges(),
            state: Mutex::new(CommitState::default()),
        });
        let prefix = format!("{}-{run}-{}-", self.files.prefix, ctx.subtask_index);
        let mut w = FileSinkWriter::new(
            committer.clone(),
            self.format.clone(),
            self.assigner.clone(),
            prefix,
            self.files.suffix.clone(),
            cp.is_some(),
        );
        let Some(cp) = cp else { return Ok(Box::new(w)) };
        if cp.restore_source().is_some() {
            let decode = |b: &Vec<u8>| {
                postcard::from_bytes::<StateItem>(b)
                    .map_err(|e| TaskError::State(format!("undecodable state of file sink {}: {e}", self.base)))
            };
            let mine = cp.restored_operator(&ctx.uid, ctx.subtask_index, ctx.parallelism)?.unwrap_or_default();
            for item in mine.iter().map(decode) {
                match item? {
                    StateItem::Pending(p) => committer.commit(&p)?,
                    StateItem::Open(open) => w.open.extend(open),
                }
            }
            if ctx.subtask_index == 0 {
                let mut keep = Vec::new();
                for item in cp.restored_operator_union(&ctx.uid)?.iter().map(decode) {
                    if let StateItem::Pending(p) = item? {
                        keep.push(pending_rel(&p));
                    }
                }
                committer.discard_uncommitted(&format!("{}-", self.files.prefix), &run, &keep)?;
            }
        }
        let c = committer.clone();
        cp.on_checkpoint_complete(move |id| c.checkpoint_complete(id));
        w.counter = 0;
        Ok(Box::new(w))
    }
}
