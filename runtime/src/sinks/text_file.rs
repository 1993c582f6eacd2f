//! Writes records as text lines into part files `DIR/part-<subtask>`.
//!
//! Without checkpointing, a part file is written under a hidden in-progress
//! name (`DIR/.part-<subtask>.inprogress`) and renamed to `part-<subtask>`
//! only when its subtask's input has ended: a failed or canceled job leaves
//! no output that looks complete. With checkpointing the sink is exactly-once
//! by two-phase commit (see `two_phase.rs`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::print::Formatter;
use super::{Sink, SinkWriter};
use crate::context::OperatorContext;
use crate::error::TaskError;

/// Writes text part files into a directory.
pub struct TextFileSink<T> {
    dir: PathBuf,
    format: Arc<Formatter<T>>,
}

impl<T> TextFileSink<T> {
    /// A sink writing into directory `dir`, each record formatted by `format`.
    pub fn new(dir: impl Into<PathBuf>, format: impl Fn(&T, &mut Vec<u8>) + Send + Sync + 'static) -> Self {
        TextFileSink { dir: dir.into(), format: Arc::new(format) }
    }
}

/// Name of the final part file of `subtask`.
pub fn part_file_name(subtask: u32) -> String {
    format!("part-{subtask}")
}

struct TextFileWriter<T> {
    format: Arc<Formatter<T>>,
    out: Option<BufWriter<File>>,
    in_progress: PathBuf,
    final_path: PathBuf,
    line: Vec<u8>,
}

impl<T> SinkWriter<T> for TextFileWriter<T> {
    fn write_batch(&mut self, batch: &mut Vec<T>) -> Result<(), TaskError> {
        let Some(out) = self.out.as_mut() else {
            return Err(TaskError::User(format!("{} was already committed", self.final_path.display())));
        };
        self.line.clear();
        for rec in batch.drain(..) {
            (self.format)(&rec, &mut self.line);
            self.line.push(b'\n');
        }
        out.write_all(&self.line).map_err(|e| TaskError::io(format!("cannot write {}", self.in_progress.display()), e))
    }

    fn finish(&mut self) -> Result<(), TaskError> {
        if let Some(out) = self.out.take() {
            let file = out
                .into_inner()
                .map_err(|e| TaskError::io(format!("cannot write {}", self.in_progress.display()), e.into_error()))?;
            file.sync_all().map_err(|e| TaskError::io(format!("cannot sync {}", self.in_progress.display()), e))?;
            std::fs::rename(&self.in_progress, &self.final_path).map_err(|e| {
                TaskError::io(
                    format!("cannot rename {} to {}", self.in_progress.display(), self.final_path.display()),
                    e,
                )
            })?;
        }
        Ok(())
    }
}

impl<T> Drop for TextFileWriter<T> {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            // Not finished (failure or cancel): remove the in-progress file.
            let _ = std::fs::remove_file(&self.in_progress);
        }
    }
}

fn check_dir(dir: &Path) -> Result<(), String> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(format!("output directory {} exists and is not empty", dir.display()));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create output directory {}: {e}", dir.display()))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(format!("output path {} exists and is not a directory", dir.display()))
        }
        Err(e) => return Err(format!("cannot read output directory {}: {e}", dir.display())),
    }
    let probe = dir.join(".rfy-write-probe");
    File::create(&probe).map_err(|e| format!("output directory {} is not writable: {e}", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

impl<T: 'static> Sink<T> for TextFileSink<T> {
    fn name(&self) -> String {
        format!("Sink: Text file {}", self.dir.display())
    }
    fn check(&self) -> Result<(), crate::error::IoCheckError> {
        check_dir(&self.dir).map_err(crate::error::IoCheckError::Failed)
    }
    fn create_writer(&self, ctx: &OperatorContext) -> Result<Box<dyn SinkWriter<T>>, TaskError> {
        if let Some(cp) = &ctx.checkpointing {
            let dir = self.dir.display().to_string();
            let fs = Arc::new(crate::fs::LocalFileSystem);
            return Ok(Box::new(super::two_phase::TwoPhaseTextWriter::open(fs, &dir, self.format.clone(), ctx, cp)?));
        }
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| TaskError::io(format!("cannot create output directory {}", self.dir.display()), e))?;
        let in_progress = self.dir.join(format!(".{}.inprogress", part_file_name(ctx.subtask_index)));
        let file = File::create(&in_progress)
            .map_err(|e| TaskError::io(format!("cannot create {}", in_progress.display()), e))?;
        Ok(Box::new(TextFileWriter {
            format: self.format.clone(),
            out: Some(BufWriter::with_capacity(1 << 20, file)),
            in_progress,
            final_path: self.dir.join(part_file_name(ctx.subtask_index)),
            line: Vec::new(),
        }))
    }
}
