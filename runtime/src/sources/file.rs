//! A bounded text file source, split for parallel reading: subtask i of n
//! reads the lines that *start* in bytes `[i·len/n, (i+1)·len/n)` of the file,
//! so every line is read exactly once whatever the parallelism.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{Source, SourceReader, SourceStatus, SOURCE_BATCH};
use crate::context::OperatorContext;
use crate::error::TaskError;

/// Reads a local text file line by line (without the line end).
pub struct TextFileSource {
    path: PathBuf,
    lines_per_second: Option<f64>,
}

impl TextFileSource {
    /// A source over the file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        TextFileSource { path: path.into(), lines_per_second: None }
    }

    /// Paces the source to `lines_per_second` in total over all subtasks
    /// (for demos and failure tests).
    pub fn with_rate(mut self, lines_per_second: f64) -> Self {
        self.lines_per_second = Some(lines_per_second);
        self
    }
}

/// Byte range `[start, end)` of subtask `index` of `parallelism` in a file of `len` bytes.
pub(crate) fn split_range(len: u64, index: u32, parallelism: u32) -> (u64, u64) {
    let (i, p) = (index as u128, parallelism as u128);
    ((len as u128 * i / p) as u64, (len as u128 * (i + 1) / p) as u64)
}

struct Pacer {
    per_second: f64,
    started: Instant,
    emitted: u64,
}

impl Pacer {
    /// How many lines may be emitted now; sleeps up to 100 ms when none.
    fn allowance(&mut self) -> usize {
        let due = (self.started.elapsed().as_secs_f64() * self.per_second) as u64;
        if due > self.emitted {
            return (due - self.emitted).min(SOURCE_BATCH as u64) as usize;
        }
        let wait = (self.emitted + 1) as f64 / self.per_second - self.started.elapsed().as_secs_f64();
        std::thread::sleep(Duration::from_secs_f64(wait.clamp(0.0, 0.1)));
        0
    }
}

struct TextFileReader {
    path: PathBuf,
    reader: BufReader<File>,
    /// Offset of the next line's first byte.
    pos: u64,
    end: u64,
    pacer: Option<Pacer>,
}

impl TextFileReader {
    fn open(path: &PathBuf, index: u32, parallelism: u32, rate: Option<f64>) -> Result<Self, TaskError> {
        let file = File::open(path).map_err(|e| TaskError::io(format!("cannot open input file {}", path.display()), e))?;
        let len = file.metadata().map_err(|e| TaskError::io(format!("cannot stat {}", path.display()), e))?.len();
        let (start, end) = split_range(len, index, parallelism);
        let mut reader = BufReader::with_capacity(256 * 1024, file);
        let mut pos = start;
        if start > 0 {
            // The line that straddles `start` belongs to the previous split:
            // skip up to and including the first '\n' at or after start-1.
            reader.seek(SeekFrom::Start(start - 1)).map_err(|e| TaskError::io(format!("cannot seek in {}", path.display()), e))?;
            let mut skipped = Vec::new();
            let n = reader.read_until(b'\n', &mut skipped).map_err(|e| TaskError::io(format!("cannot read {}", path.display()), e))?;
            pos = start - 1 + n as u64;
        }
        let pacer = rate.map(|r| Pacer { per_second: r / parallelism as f64, started: Instant::now(), emitted: 0 });
        Ok(TextFileReader { path: path.clone(), reader, pos, end, pacer })
    }
}

impl SourceReader<String> for TextFileReader {
    fn poll_next(&mut self, out: &mut Vec<String>) -> Result<SourceStatus, TaskError> {
        let budget = match &mut self.pacer {
            Some(p) => match p.allowance() {
                0 => return Ok(SourceStatus::Idle),
                n => n,
            },
            None => SOURCE_BATCH,
        };
        let mut emitted = 0;
        while emitted < budget {
            if self.pos >= self.end {
                return Ok(SourceStatus::Finished);
            }
            let mut line = String::new();
            let n = self
                .reader
                .read_line(&mut line)
                .map_err(|e| TaskError::io(format!("cannot read {} at byte {}", self.path.display(), self.pos), e))?;
            if n == 0 {
                return Ok(SourceStatus::Finished);
            }
            self.pos += n as u64;
            if line.ends_with('\n') {
                line.pop();
                if line.ends_with('\r') {
                    line.pop();
                }
            }
            out.push(line);
            emitted += 1;
        }
        if let Some(p) = &mut self.pacer {
            p.emitted += emitted as u64;
        }
        Ok(SourceStatus::Available)
    }
}

impl Source<String> for TextFileSource {
    fn name(&self) -> String {
        let file = self.path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        format!("Source: {file}")
    }
    fn bounded(&self) -> bool {
        true
    }
    fn check(&self) -> Result<(), String> {
        match std::fs::metadata(&self.path) {
            Ok(m) if m.is_file() => Ok(()),
            Ok(_) => Err(format!("input path {} is not a file", self.path.display())),
            Err(e) => Err(format!("input file {} cannot be read: {e}", self.path.display())),
        }
    }
    fn create_reader(&self, ctx: &OperatorContext) -> Result<Box<dyn SourceReader<String>>, TaskError> {
        Ok(Box::new(TextFileReader::open(&self.path, ctx.subtask_index, ctx.parallelism, self.lines_per_second)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::RuntimeMode;

    fn ctx(i: u32, p: u32) -> OperatorContext {
        OperatorContext {
            operator_name: "src".into(),
            task_name: "src".into(),
            subtask_index: i,
            parallelism: p,
            max_parallelism: 128,
            attempt: 0,
            runtime_mode: RuntimeMode::Streaming,
        }
    }

    #[test]
    fn splits_read_every_line_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        let lines: Vec<String> = (0..500).map(|i| "x".repeat(i % 17) + &i.to_string()).collect();
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        for p in 1..=7 {
            let mut all = Vec::new();
            for i in 0..p {
                let mut r = TextFileSource::new(&path).create_reader(&ctx(i, p)).unwrap();
                while r.poll_next(&mut all).unwrap() != SourceStatus::Finished {}
            }
            assert_eq!(all, lines, "parallelism {p}");
        }
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = TextFileSource::new("/no/such/file.txt").check().unwrap_err();
        assert!(err.contains("/no/such/file.txt"), "{err}");
    }
}
