//! One subtask's [`FileSink`](super::FileSink) writer: groups each batch by
//! bucket, writes part files `<prefix>-<uid>-<subtask>-<counter><suffix>`
//! under hidden in-progress names, rolls them by policy and at every
//! checkpoint, and commits them in two phases (see `commit.rs`).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::Arc;

use super::bucket::{Assigned, BucketAssigner, BucketContext};
use super::commit::{join_rel, Committer, OpenBucket, PendingFile, Progress, UNASSIGNED};
use super::format::{BulkWriter, BulkWriterFactory, RollingPolicy, RowEncoder};
use crate::error::TaskError;
use crate::event::NO_TIMESTAMP;
use crate::fs::OutputFile;
use crate::sinks::SinkWriter;

/// Row or bulk format of a sink.
pub(crate) enum Format<T> {
    Row(Arc<RowEncoder<T>>, RollingPolicy),
    Bulk(Arc<dyn BulkWriterFactory<T>>),
}

impl<T> Clone for Format<T> {
    fn clone(&self) -> Self {
        match self {
            Format::Row(e, p) => Format::Row(e.clone(), *p),
            Format::Bulk(f) => Format::Bulk(f.clone()),
        }
    }
}

enum PartOut<T> {
    Row(Box<dyn OutputFile>),
    Bulk(Box<dyn BulkWriter<T>>),
}

struct Part<T> {
    name: String,
    out: PartOut<T>,
    size: u64,
    created: i64,
    last_write: i64,
}

struct Bucket<T> {
    id: String,
    part: Option<Part<T>>,
    /// Row formats: this batch's encoded records.
    rows: Vec<u8>,
    /// Bulk formats: this batch's records.
    staged: Vec<T>,
}

/// The writer (see the module docs).
pub(crate) struct FileSinkWriter<T> {
    pub committer: Arc<Committer>,
    pub format: Format<T>,
    pub assigner: Arc<dyn BucketAssigner<T>>,
    /// `<prefix>-<uid>-<subtask>-`.
    pub name_prefix: String,
    pub suffix: String,
    /// With checkpointing: two-phase commit; without: rolled files are final at once.
    pub exactly_once: bool,
    pub counter: u64,
    buckets: Vec<Bucket<T>>,
    index: HashMap<String, usize>,
    /// The last time bucket: `[start, end)` → index in `buckets`.
    time_cache: Option<(i64, i64, usize)>,
    /// Time buckets written and not known to be marked complete.
    pub open: BTreeMap<String, OpenBucket>,
    watermark: i64,
    id: String,
    touched: Vec<usize>,
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

impl<T: Send + 'static> FileSinkWriter<T> {
    pub fn new(
        committer: Arc<Committer>,
        format: Format<T>,
        assigner: Arc<dyn BucketAssigner<T>>,
        name_prefix: String,
        suffix: String,
        exactly_once: bool,
    ) -> Self {
        FileSinkWriter {
            committer,
            format,
            assigner,
            name_prefix,
            suffix,
            exactly_once,
            counter: 0,
            buckets: Vec::new(),
            index: HashMap::new(),
            time_cache: None,
            open: BTreeMap::new(),
            watermark: i64::MIN,
            id: String::new(),
            touched: Vec::new(),
        }
    }

    /// The bucket of the record just assigned (`self.id` or `assigned`).
    fn bucket_index(&mut self, assigned: Assigned) -> usize {
        let (id, range) = match assigned {
            Assigned::Time(t) => {
                if let Some((s, e, i)) = self.time_cache {
                    if s <= t && t < e {
                        return i;
                    }
                }
                let b = self.assigner.time_bucket(t);
                self.open.entry(b.id.clone()).or_insert(OpenBucket { end: b.end, event_time: b.event_time });
                (b.id, Some((b.start, b.end)))
            }
            Assigned::Id { end } => {
                if let Some(&i) = self.index.get(self.id.as_str()) {
                    return i;
                }
                if let Some(end) = end {
                    self.open.entry(self.id.clone()).or_insert(OpenBucket { end, event_time: true });
                }
                (self.id.clone(), None)
            }
        };
        let i = match self.index.get(&id) {
            Some(&i) => i,
            None => {
                self.buckets.push(Bucket { id: id.clone(), part: None, rows: Vec::new(), staged: Vec::new() });
                self.index.insert(id, self.buckets.len() - 1);
                self.buckets.len() - 1
            }
        };
        if let Some((s, e)) = range {
            self.time_cache = Some((s, e, i));
        }
        i
    }

    fn open_part(&mut self, b: usize, now: i64) -> Result<(), TaskError> {
        let name = format!("{}{}{}", self.name_prefix, self.counter, self.suffix);
        self.counter += 1;
        let c = &self.committer;
        let bucket = &self.buckets[b].id;
        let dir = c.dir(bucket);
        c.fs.mkdirs(&dir).map_err(|e| TaskError::io(format!("cannot create bucket directory {dir}"), e))?;
        let path = c.path(bucket, &format!(".{name}.inprogress"));
        let file = c.fs.create(&path).map_err(|e| TaskError::io(format!("cannot create {path}"), e))?;
        let out = match &self.format {
            Format::Row(..) => PartOut::Row(file),
            Format::Bulk(f) => PartOut::Bulk(f.create(file, &path)?),
        };
        self.buckets[b].part = Some(Part { name, out, size: 0, created: now, last_write: now });
        Ok(())
    }

    /// Closes bucket `b`'s part file: final at once without checkpointing,
    /// else pending until the next checkpoint completes.
    fn close_part(&mut self, b: usize) -> Result<(), TaskError> {
        let Some(part) = self.buckets[b].part.take() else { return Ok(()) };
        let c = &self.committer;
        let bucket = &self.buckets[b].id;
        let from = c.path(bucket, &format!(".{}.inprogress", part.name));
        match part.out {
            PartOut::Row(f) => f.close().map_err(|e| TaskError::io(format!("cannot write {from}"), e))?,
            PartOut::Bulk(w) => w.finish()?,
        }
        let to = if self.exactly_once {
            c.path(bucket, &format!(".{}.pending", part.name))
        } else {
            c.path(bucket, &part.name)
        };
        c.fs.rename(&from, &to).map_err(|e| TaskError::io(format!("cannot rename {from} to {to}"), e))?;
        if self.exactly_once {
            let p = PendingFile { checkpoint_id: UNASSIGNED, bucket: bucket.clone(), name: part.name };
            c.state.lock().unwrap_or_else(|p| p.into_inner()).pending.push(p);
        }
        Ok(())
    }

    fn close_all(&mut self) -> Result<(), TaskError> {
        for b in 0..self.buckets.len() {
            self.close_part(b)?;
        }
        Ok(())
    }

    /// Rolls the row-format part files whose policy says so at `now`.
    fn roll_by_time(&mut self, now: i64) -> Result<(), TaskError> {
        let Format::Row(_, policy) = &self.format else { return Ok(()) };
        let policy = *policy;
        for b in 0..self.buckets.len() {
            let roll =
                self.buckets[b].part.as_ref().is_some_and(|p| policy.should_roll(p.size, p.created, p.last_write, now));
            if roll {
                self.close_part(b)?;
            }
        }
        Ok(())
    }

    /// Forgets buckets without an open part file (after a checkpoint).
    fn forget_idle_buckets(&mut self) {
        if self.buckets.iter().all(|b| b.part.is_some()) {
            return;
        }
        self.buckets.retain(|b| b.part.is_some());
        self.index = self.buckets.iter().enumerate().map(|(i, b)| (b.id.clone(), i)).collect();
        self.time_cache = None;
    }

    fn write_grouped(&mut self, now: i64) -> Result<(), TaskError> {
        let touched = std::mem::take(&mut self.touched);
        for &b in &touched {
            if self.buckets[b].part.is_none() {
                self.open_part(b, now)?;
            }
            let bucket = &mut self.buckets[b];
            let part = bucket.part.as_mut().expect("opened above");
            match &mut part.out {
                PartOut::Row(f) => {
                    f.write_all(&bucket.rows).map_err(|e| {
                        let path = self.committer.path(&bucket.id, &format!(".{}.inprogress", part.name));
                        TaskError::io(format!("cannot write {path}"), e)
                    })?;
                    part.size += bucket.rows.len() as u64;
                    bucket.rows.clear();
                }
                PartOut::Bulk(w) => {
                    w.add_batch(&mut bucket.staged)?;
                    part.size = w.bytes();
                }
            }
            part.last_write = now;
        }
        self.touched = touched;
        self.touched.clear();
        self.roll_by_time(now)
    }

    /// Groups `batch` by bucket, encoding rows or staging bulk records.
    fn group(&mut self, batch: &mut Vec<T>, timestamps: &[i64], now: i64) {
        let mut ctx = BucketContext { timestamp: None, processing_time: now, watermark: self.watermark };
        for (i, rec) in batch.drain(..).enumerate() {
            ctx.timestamp = timestamps.get(i).copied().filter(|t| *t != NO_TIMESTAMP);
            self.id.clear();
            let assigned = self.assigner.assign(&rec, &ctx, &mut self.id);
            let b = self.bucket_index(assigned);
            let bucket = &mut self.buckets[b];
            if bucket.rows.is_empty() && bucket.staged.is_empty() {
                self.touched.push(b);
            }
            match &self.format {
                Format::Row(enc, _) => enc(&rec, &mut bucket.rows),
                Format::Bulk(_) => bucket.staged.push(rec),
            }
        }
    }

    fn progress(&self) -> Progress {
        Progress { watermark: self.watermark, processing_time: now_ms(), buckets: self.open.clone() }
    }

    /// Drops open buckets that have their `_SUCCESS` file and that this subtask's progress has passed.
    fn prune_marked(&mut self, progress: &Progress) {
        let c = self.committer.clone();
        self.open.retain(|id, b| {
            let passed = b.end <= if b.event_time { progress.watermark } else { progress.processing_time };
            !(passed && c.is_marked(id))
        });
    }
}

impl<T: Send + 'static> SinkWriter<T> for FileSinkWriter<T> {
    fn write_batch(&mut self, batch: &mut Vec<T>) -> Result<(), TaskError> {
        self.write_timestamped(batch, &mut Vec::new())
    }

    fn write_timestamped(&mut self, batch: &mut Vec<T>, timestamps: &mut Vec<i64>) -> Result<(), TaskError> {
        if batch.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        self.group(batch, timestamps, now);
        timestamps.clear();
        self.write_grouped(now)
    }

    fn on_watermark(&mut self, watermark: i64) -> Result<(), TaskError> {
        self.watermark = self.watermark.max(watermark);
        Ok(())
    }

    /// Processing time passed (buffer timeout, idle input): rolls by age and inactivity.
    fn flush(&mut self) -> Result<(), TaskError> {
        self.roll_by_time(now_ms())
    }

    fn end_of_data(&mut self) -> Result<(), TaskError> {
        self.close_all()
    }

    fn snapshot(&mut self, checkpoint_id: u64) -> Result<Option<Vec<Vec<u8>>>, TaskError> {
        self.close_all()?;
        self.forget_idle_buckets();
        let progress = self.progress();
        if self.committer.success_file {
            self.prune_marked(&progress);
        }
        let progress = Progress { buckets: self.open.clone(), ..progress };
        let mut st = self.committer.state.lock().unwrap_or_else(|p| p.into_inner());
        for p in st.pending.iter_mut().filter(|p| p.checkpoint_id == UNASSIGNED) {
            p.checkpoint_id = checkpoint_id;
        }
        let mut items = Vec::with_capacity(st.pending.len() + 1);
        for p in &st.pending {
            items.push(super::encode_item(&super::StateItem::Pending(p.clone()))?);
        }
        items.push(super::encode_item(&super::StateItem::Open(self.open.clone()))?);
        st.progress.push((checkpoint_id, progress));
        Ok(Some(items))
    }

    /// Input ended: closes and commits everything (see `TwoPhaseTextWriter::finish`
    /// for why every pending file is committed here), then publishes the
    /// final progress and marks the buckets it completes.
    fn finish(&mut self) -> Result<(), TaskError> {
        self.close_all()?;
        {
            let mut st = self.committer.state.lock().unwrap_or_else(|p| p.into_inner());
            for p in std::mem::take(&mut st.pending) {
                self.committer.commit(&p)?;
            }
        }
        if self.committer.success_file {
            let progress = self.progress();
            self.committer.publish(&progress, true)?;
        }
        Ok(())
    }
}

impl<T> Drop for FileSinkWriter<T> {
    fn drop(&mut self) {
        for b in &mut self.buckets {
            if let Some(part) = b.part.take() {
                // Failure or cancel: data after the last barrier is replayed from the checkpoint.
                let path = self.committer.path(&b.id, &format!(".{}.inprogress", part.name));
                match part.out {
                    PartOut::Row(f) => drop(f),
                    PartOut::Bulk(w) => drop(w),
                }
                let _ = self.committer.fs.remove_file(&path);
            }
        }
    }
}

/// `bucket/name` of a pending file (the restore's keep list).
pub(crate) fn pending_rel(p: &PendingFile) -> String {
    join_rel(&p.bucket, &p.name)
}
