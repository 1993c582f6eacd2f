//! The exactly-once text file writer (two-phase commit, as Flink's
//! `FileSink`): records go to an in-progress file
//! `.part-<subtask>-<run>-<n>.inprogress`; at a checkpoint barrier it is
//! synced and renamed to `.part-<subtask>-<run>-<n>.pending` (phase one, part
//! of the checkpoint's state); when the JobMaster completes the checkpoint
//! the pending files are renamed to `part-<subtask>-<run>-<n>` (phase two).
//! Only committed files are named `part-*`.
//!
//! After a restore, the pending files recorded in the checkpoint are
//! committed (idempotently: a file already committed stays), and subtask 0
//! deletes every other uncommitted file of earlier runs (data after the
//! checkpoint, which the sources replay). `<run>` is the job id's first 8
//! digits and the attempt number, so files of different runs never collide.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::print::Formatter;
use super::SinkWriter;
use crate::checkpoint::TaskCheckpointing;
use crate::context::OperatorContext;
use crate::error::TaskError;

/// A file waiting for its checkpoint to complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PendingFile {
    checkpoint_id: u64,
    /// Final name (`part-...`); the pending file is `.<name>.pending`.
    name: String,
}

fn pending_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{name}.pending"))
}

fn in_progress_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{name}.inprogress"))
}

/// Renames a pending file to its final name; a file already committed is fine.
fn commit(dir: &Path, p: &PendingFile) -> Result<(), TaskError> {
    let (from, to) = (pending_path(dir, &p.name), dir.join(&p.name));
    match std::fs::rename(&from, &to) {
        Ok(()) => Ok(()),
        Err(_) if to.exists() => Ok(()),
        Err(e) => Err(TaskError::io(format!("cannot commit {} to {} (checkpoint {})", from.display(), to.display(), p.checkpoint_id), e)),
    }
}

fn commit_up_to(dir: &Path, pending: &Mutex<Vec<PendingFile>>, id: u64) {
    let mut list = pending.lock().unwrap_or_else(|p| p.into_inner());
    list.retain(|p| {
        if p.checkpoint_id > id {
            return true;
        }
        if let Err(e) = commit(dir, p) {
            tracing::error!("{e}");
        }
        false
    });
}

pub(crate) struct TwoPhaseTextWriter<T> {
    dir: PathBuf,
    format: Arc<Formatter<T>>,
    /// `part-<subtask>-<run>-`; a sequence number completes a file name.
    prefix: String,
    seq: u64,
    current: Option<(String, BufWriter<File>)>,
    pending: Arc<Mutex<Vec<PendingFile>>>,
    line: Vec<u8>,
}

impl<T> TwoPhaseTextWriter<T> {
    pub(crate) fn open(dir: &Path, format: Arc<Formatter<T>>, ctx: &OperatorContext, cp: &Arc<TaskCheckpointing>) -> Result<Self, TaskError> {
        std::fs::create_dir_all(dir).map_err(|e| TaskError::io(format!("cannot create output directory {}", dir.display()), e))?;
        let run = format!("{}a{}", cp.job_id().chars().take(8).collect::<String>(), ctx.attempt);
        let prefix = format!("part-{}-{run}-", ctx.subtask_index);
        let pending: Arc<Mutex<Vec<PendingFile>>> = Arc::default();
        if cp.restore_source().is_some() {
            let decode = |b: &Vec<u8>| {
                postcard::from_bytes::<PendingFile>(b).map_err(|e| TaskError::State(format!("undecodable pending file of sink {}: {e}", dir.display())))
            };
            let mine = cp.restored_operator(&ctx.uid, ctx.subtask_index, ctx.parallelism)?.unwrap_or_default();
            for p in mine.iter().map(decode) {
                commit(dir, &p?)?;
            }
            if ctx.subtask_index == 0 {
                let keep: Vec<String> = cp.restored_operator_union(&ctx.uid)?.iter().map(decode).collect::<Result<Vec<_>, _>>()?.into_iter().map(|p| p.name).collect();
                discard_uncommitted(dir, &run, &keep)?;
            }
        }
        let (dir2, pending2) = (dir.to_path_buf(), pending.clone());
        cp.on_checkpoint_complete(move |id| commit_up_to(&dir2, &pending2, id));
        Ok(TwoPhaseTextWriter { dir: dir.to_path_buf(), format, prefix, seq: 0, current: None, pending, line: Vec::new() })
    }

    /// Closes the current in-progress file (synced); returns its final name.
    fn close_current(&mut self) -> Result<Option<String>, TaskError> {
        let Some((name, out)) = self.current.take() else { return Ok(None) };
        let path = in_progress_path(&self.dir, &name);
        let file = out.into_inner().map_err(|e| TaskError::io(format!("cannot write {}", path.display()), e.into_error()))?;
        file.sync_all().map_err(|e| TaskError::io(format!("cannot sync {}", path.display()), e))?;
        Ok(Some(name))
    }
}

/// Deletes uncommitted files of runs other than `run` that are not in `keep`.
fn discard_uncommitted(dir: &Path, run: &str, keep: &[String]) -> Result<(), TaskError> {
    let entries = std::fs::read_dir(dir).map_err(|e| TaskError::io(format!("cannot list output directory {}", dir.display()), e))?;
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(name) = file.strip_prefix('.').and_then(|f| f.strip_suffix(".pending").or_else(|| f.strip_suffix(".inprogress"))) else {
            continue;
        };
        if !name.starts_with("part-") || name.contains(&format!("-{run}-")) || keep.iter().any(|k| k == name) {
            continue;
        }
        tracing::info!(file = %entry.path().display(), "discarding output written after the restored checkpoint");
        std::fs::remove_file(entry.path()).map_err(|e| TaskError::io(format!("cannot remove {}", entry.path().display()), e))?;
    }
    Ok(())
}

impl<T> SinkWriter<T> for TwoPhaseTextWriter<T> {
    fn write_batch(&mut self, batch: &mut Vec<T>) -> Result<(), TaskError> {
        if batch.is_empty() {
            return Ok(());
        }
        if self.current.is_none() {
            let name = format!("{}{}", self.prefix, self.seq);
            self.seq += 1;
            let path = in_progress_path(&self.dir, &name);
            let f = File::create(&path).map_err(|e| TaskError::io(format!("cannot create {}", path.display()), e))?;
            self.current = Some((name, BufWriter::with_capacity(1 << 20, f)));
        }
        self.line.clear();
        for rec in batch.drain(..) {
            (self.format)(&rec, &mut self.line);
            self.line.push(b'\n');
        }
        let (name, out) = self.current.as_mut().expect("opened above");
        out.write_all(&self.line).map_err(|e| TaskError::io(format!("cannot write {}", in_progress_path(&self.dir, name).display()), e))
    }

    fn snapshot(&mut self, checkpoint_id: u64) -> Result<Option<Vec<Vec<u8>>>, TaskError> {
        if let Some(name) = self.close_current()? {
            let (from, to) = (in_progress_path(&self.dir, &name), pending_path(&self.dir, &name));
            std::fs::rename(&from, &to).map_err(|e| TaskError::io(format!("cannot rename {} to {}", from.display(), to.display()), e))?;
            self.pending.lock().unwrap_or_else(|p| p.into_inner()).push(PendingFile { checkpoint_id, name });
        }
        let list = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let items = list.iter().map(|p| postcard::to_allocvec(p).map_err(|e| TaskError::State(format!("cannot encode a pending file: {e}"))));
        items.collect::<Result<Vec<_>, _>>().map(Some)
    }

    /// Input ended: commits everything written (there is no later
    /// checkpoint to wait for once the sources are finished).
    fn finish(&mut self) -> Result<(), TaskError> {
        if let Some(name) = self.close_current()? {
            let (from, to) = (in_progress_path(&self.dir, &name), self.dir.join(&name));
            std::fs::rename(&from, &to).map_err(|e| TaskError::io(format!("cannot rename {} to {}", from.display(), to.display()), e))?;
        }
        commit_up_to(&self.dir, &self.pending, u64::MAX);
        Ok(())
    }
}

impl<T> Drop for TwoPhaseTextWriter<T> {
    fn drop(&mut self) {
        if let Some((name, _)) = self.current.take() {
            // Failure or cancel: data after the last barrier is replayed from the checkpoint.
            let _ = std::fs::remove_file(in_progress_path(&self.dir, &name));
        }
    }
}
