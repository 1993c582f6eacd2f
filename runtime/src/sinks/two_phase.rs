//! The exactly-once text file writer (two-phase commit, as Flink's
//! `FileSink`): records go to an in-progress file
//! `.part-<subtask>-<run>-<n>.inprogress`; at a checkpoint barrier it is
//! made durable and renamed to `.part-<subtask>-<run>-<n>.pending` (phase
//! one, part of the checkpoint's state); when the JobMaster completes the
//! checkpoint the pending files are renamed to `part-<subtask>-<run>-<n>`
//! (phase two). Only committed files are named `part-*`.
//!
//! After a restore, the pending files recorded in the checkpoint are
//! committed (idempotently: a file already committed stays), and subtask 0
//! deletes every other uncommitted file of earlier runs (data after the
//! checkpoint, which the sources replay). `<run>` is the job id's first 8
//! digits and the attempt number, so files of different runs never collide.
//!
//! The file system is any [`FileSystem`] (local, or HDFS registered by
//! rfy-connectors); paths are the output directory's URI joined with `/name`.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::print::Formatter;
use super::SinkWriter;
use crate::checkpoint::TaskCheckpointing;
use crate::context::OperatorContext;
use crate::error::TaskError;
use crate::fs::{FileSystem, OutputFile};

/// `PendingFile::checkpoint_id` of a file made pending at `EndOfData`,
/// before the final checkpoint's barrier assigns it.
const UNASSIGNED: u64 = u64::MAX;

/// A file waiting for its checkpoint to complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PendingFile {
    /// The checkpoint that commits it ([`UNASSIGNED`] until its barrier).
    checkpoint_id: u64,
    /// Final name (`part-...`); the pending file is `.<name>.pending`.
    name: String,
}

struct Dir {
    fs: Arc<dyn FileSystem>,
    path: String,
}

impl Dir {
    fn file(&self, name: &str) -> String {
        format!("{}/{name}", self.path.trim_end_matches('/'))
    }
    fn pending(&self, name: &str) -> String {
        self.file(&format!(".{name}.pending"))
    }
    fn in_progress(&self, name: &str) -> String {
        self.file(&format!(".{name}.inprogress"))
    }

    /// Renames a pending file to its final name; a file already committed is fine.
    fn commit(&self, p: &PendingFile) -> Result<(), TaskError> {
        let (from, to) = (self.pending(&p.name), self.file(&p.name));
        match self.fs.rename(&from, &to) {
            Ok(()) => Ok(()),
            Err(_) if self.fs.exists(&to) => Ok(()),
            Err(e) => Err(TaskError::io(format!("cannot commit {from} to {to} (checkpoint {})", p.checkpoint_id), e)),
        }
    }

    fn commit_up_to(&self, pending: &Mutex<Vec<PendingFile>>, id: u64) {
        let mut list = pending.lock().unwrap_or_else(|p| p.into_inner());
        list.retain(|p| {
            if p.checkpoint_id > id {
                return true;
            }
            if let Err(e) = self.commit(p) {
                tracing::error!("{e}");
            }
            false
        });
    }

    /// Deletes uncommitted files of runs other than `run` that are not in `keep`.
    fn discard_uncommitted(&self, run: &str, keep: &[String]) -> Result<(), TaskError> {
        let names = self
            .fs
            .list(&self.path)
            .map_err(|e| TaskError::io(format!("cannot list output directory {}", self.path), e))?;
        for file in names {
            let Some(name) = file
                .strip_prefix('.')
                .and_then(|f| f.strip_suffix(".pending").or_else(|| f.strip_suffix(".inprogress")))
            else {
                continue;
            };
            if !name.starts_with("part-") || name.contains(&format!("-{run}-")) || keep.iter().any(|k| k == name) {
                continue;
            }
            let path = self.file(&file);
            tracing::info!(file = %path, "discarding output written after the restored checkpoint");
            self.fs.remove_file(&path).map_err(|e| TaskError::io(format!("cannot remove {path}"), e))?;
        }
        Ok(())
    }
}

/// One subtask's exactly-once text writer (see the module docs).
pub struct TwoPhaseTextWriter<T> {
    dir: Arc<Dir>,
    format: Arc<Formatter<T>>,
    /// `part-<subtask>-<run>-`; a sequence number completes a file name.
    prefix: String,
    seq: u64,
    current: Option<(String, Box<dyn OutputFile>)>,
    pending: Arc<Mutex<Vec<PendingFile>>>,
    line: Vec<u8>,
}

impl<T> TwoPhaseTextWriter<T> {
    /// Opens the writer of subtask `ctx.subtask_index` writing into `dir` on
    /// `fs`: after a restore, commits the restored pending files and
    /// (subtask 0) discards other runs' uncommitted files; registers the
    /// commit on checkpoint completion with `cp`.
    ///
    /// Errors: the directory cannot be made or listed, a restored pending
    /// file cannot be committed, or the restored state is undecodable.
    pub fn open(
        fs: Arc<dyn FileSystem>,
        dir: &str,
        format: Arc<Formatter<T>>,
        ctx: &OperatorContext,
        cp: &Arc<TaskCheckpointing>,
    ) -> Result<Self, TaskError> {
        fs.mkdirs(dir).map_err(|e| TaskError::io(format!("cannot create output directory {dir}"), e))?;
        let dir = Arc::new(Dir { fs, path: dir.to_string() });
        let run = format!("{}a{}", cp.job_id().chars().take(8).collect::<String>(), ctx.attempt);
        let prefix = format!("part-{}-{run}-", ctx.subtask_index);
        let pending: Arc<Mutex<Vec<PendingFile>>> = Arc::default();
        if cp.restore_source().is_some() {
            let decode = |b: &Vec<u8>| {
                postcard::from_bytes::<PendingFile>(b)
                    .map_err(|e| TaskError::State(format!("undecodable pending file of sink {}: {e}", dir.path)))
            };
            let mine = cp.restored_operator(&ctx.uid, ctx.subtask_index, ctx.parallelism)?.unwrap_or_default();
            for p in mine.iter().map(decode) {
                dir.commit(&p?)?;
            }
            if ctx.subtask_index == 0 {
                let keep: Vec<String> = cp
                    .restored_operator_union(&ctx.uid)?
                    .iter()
                    .map(decode)
                    .collect::<Result<Vec<_>, _>>()?
                    .into_iter()
                    .map(|p| p.name)
                    .collect();
                dir.discard_uncommitted(&run, &keep)?;
            }
        }
        let (dir2, pending2) = (dir.clone(), pending.clone());
        cp.on_checkpoint_complete(move |id| dir2.commit_up_to(&pending2, id));
        Ok(TwoPhaseTextWriter { dir, format, prefix, seq: 0, current: None, pending, line: Vec::new() })
    }

    /// Closes the current in-progress file (durable); returns its final name.
    fn close_current(&mut self) -> Result<Option<String>, TaskError> {
        let Some((name, out)) = self.current.take() else { return Ok(None) };
        out.close().map_err(|e| TaskError::io(format!("cannot write {}", self.dir.in_progress(&name)), e))?;
        Ok(Some(name))
    }

    /// Phase one for the current file: durable, renamed to `.pending`,
    /// listed as pending for `checkpoint_id`.
    fn make_pending(&mut self, checkpoint_id: u64) -> Result<(), TaskError> {
        if let Some(name) = self.close_current()? {
            let (from, to) = (self.dir.in_progress(&name), self.dir.pending(&name));
            self.dir.fs.rename(&from, &to).map_err(|e| TaskError::io(format!("cannot rename {from} to {to}"), e))?;
            self.pending.lock().unwrap_or_else(|p| p.into_inner()).push(PendingFile { checkpoint_id, name });
        }
        Ok(())
    }
}

impl<T> SinkWriter<T> for TwoPhaseTextWriter<T> {
    fn write_batch(&mut self, batch: &mut Vec<T>) -> Result<(), TaskError> {
        if batch.is_empty() {
            return Ok(());
        }
        if self.current.is_none() {
            let name = format!("{}{}", self.prefix, self.seq);
            self.seq += 1;
            let path = self.dir.in_progress(&name);
            let f = self.dir.fs.create(&path).map_err(|e| TaskError::io(format!("cannot create {path}"), e))?;
            self.current = Some((name, f));
        }
        self.line.clear();
        for rec in batch.drain(..) {
            (self.format)(&rec, &mut self.line);
            self.line.push(b'\n');
        }
        let (name, out) = self.current.as_mut().expect("opened above");
        out.write_all(&self.line).map_err(|e| TaskError::io(format!("cannot write {}", self.dir.in_progress(name)), e))
    }

    fn snapshot(&mut self, checkpoint_id: u64) -> Result<Option<Vec<Vec<u8>>>, TaskError> {
        self.make_pending(checkpoint_id)?;
        let mut list = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        // Files made pending at EndOfData belong to this (final) checkpoint.
        for p in list.iter_mut().filter(|p| p.checkpoint_id == UNASSIGNED) {
            p.checkpoint_id = checkpoint_id;
        }
        let items = list.iter().map(|p| {
            postcard::to_allocvec(p).map_err(|e| TaskError::State(format!("cannot encode a pending file: {e}")))
        });
        items.collect::<Result<Vec<_>, _>>().map(Some)
    }

    /// End of data before a final checkpoint: the last file becomes pending
    /// and is committed only once that checkpoint completed.
    fn end_of_data(&mut self) -> Result<(), TaskError> {
        self.make_pending(UNASSIGNED)
    }

    /// The stream ended: commits everything written. Without a final
    /// checkpoint there is no later checkpoint to wait for; with one, the
    /// sources sent `EndOfInput` only after it completed, so every pending
    /// file here belongs to a completed checkpoint (its notification may
    /// not have reached this TaskManager yet).
    fn finish(&mut self) -> Result<(), TaskError> {
        if let Some(name) = self.close_current()? {
            let (from, to) = (self.dir.in_progress(&name), self.dir.file(&name));
            self.dir.fs.rename(&from, &to).map_err(|e| TaskError::io(format!("cannot rename {from} to {to}"), e))?;
        }
        self.dir.commit_up_to(&self.pending, u64::MAX);
        Ok(())
    }
}

impl<T> Drop for TwoPhaseTextWriter<T> {
    fn drop(&mut self) {
        if let Some((name, out)) = self.current.take() {
            // Failure or cancel: data after the last barrier is replayed from the checkpoint.
            let _ = out.close();
            let _ = self.dir.fs.remove_file(&self.dir.in_progress(&name));
        }
    }
}
