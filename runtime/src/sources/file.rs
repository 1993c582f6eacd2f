//! A bounded text file source, split for parallel reading: subtask i of n
//! reads the lines that *start* in bytes `[i·len/n, (i+1)·len/n)` of the file,
//! so every line is read exactly once whatever the parallelism.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

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
pub fn split_range(len: u64, index: u32, parallelism: u32) -> (u64, u64) {
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

/// A byte range of a file a reader still has to read: the lines that start
/// in `[start, end)`, the next one at `pos` once `aligned`. Its postcard
/// image is the source's checkpointed position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSplit {
    start: u64,
    end: u64,
    /// Offset of the next line's first byte (valid when `aligned`).
    pos: u64,
    /// False until the line straddling `start` has been skipped.
    aligned: bool,
}

impl FileSplit {
    fn new(start: u64, end: u64) -> Self {
        FileSplit { start, end, pos: start, aligned: start == 0 }
    }

    /// The split's identity within its file: its first byte's offset (splits never overlap).
    pub fn id(&self) -> u64 {
        self.start
    }
}

/// The splits subtask `ctx.subtask_index` reads of the file `name`: restored
/// from the checkpoint when the task restores one (see [`restored_splits`]),
/// else its byte range of a file of `len()` bytes.
///
/// Errors: an undecodable checkpointed position; `len`'s error.
pub fn file_splits(
    ctx: &OperatorContext,
    name: &str,
    len: impl FnOnce() -> Result<u64, TaskError>,
) -> Result<Vec<FileSplit>, TaskError> {
    if let Some(s) = restored_splits(ctx, name)? {
        tracing::info!(file = %name, subtask = ctx.subtask_index, splits = ?s, "file source restored its position");
        return Ok(s);
    }
    let (start, end) = split_range(len()?, ctx.subtask_index, ctx.parallelism);
    Ok(vec![FileSplit::new(start, end)])
}

/// Reads the lines (without line ends) that start in its splits, from any
/// seekable byte source: a local file, or a file in HDFS (rfy-connectors).
/// Invalid UTF-8 is replaced (U+FFFD), as Java's decoding in Flink's text
/// format does.
pub struct SplitLineReader<R> {
    name: String,
    reader: R,
    /// The split being read, then the ones still to read.
    splits: VecDeque<FileSplit>,
    /// The start of a line that crosses the read buffer's end, bytes.
    partial: Vec<u8>,
    pacer: Option<Pacer>,
}

impl<R: BufRead + Seek> SplitLineReader<R> {
    /// A reader of `splits` from `reader`; `name` names the file in errors;
    /// `rate` paces all `parallelism` subtasks together to that many lines/s.
    ///
    /// Errors: the first seek fails.
    pub fn new(
        name: String,
        reader: R,
        splits: Vec<FileSplit>,
        parallelism: u32,
        rate: Option<f64>,
    ) -> Result<Self, TaskError> {
        let pacer = rate.map(|r| Pacer { per_second: r / parallelism as f64, started: Instant::now(), emitted: 0 });
        let mut r = SplitLineReader { name, reader, splits: splits.into(), partial: Vec::new(), pacer };
        r.seek_current()?;
        Ok(r)
    }

    /// Positions the reader at the current split's next line.
    fn seek_current(&mut self) -> Result<(), TaskError> {
        let name = &self.name;
        let Some(split) = self.splits.front_mut() else { return Ok(()) };
        if split.aligned {
            self.reader
                .seek(SeekFrom::Start(split.pos))
                .map_err(|e| TaskError::io(format!("cannot seek in {name}"), e))?;
            return Ok(());
        }
        // The line that straddles `start` belongs to the previous split:
        // skip up to and including the first '\n' at or after start-1.
        self.reader
            .seek(SeekFrom::Start(split.start - 1))
            .map_err(|e| TaskError::io(format!("cannot seek in {name}"), e))?;
        let mut skipped = Vec::new();
        let n =
            self.reader.read_until(b'\n', &mut skipped).map_err(|e| TaskError::io(format!("cannot read {name}"), e))?;
        split.pos = split.start - 1 + n as u64;
        split.aligned = true;
        Ok(())
    }
}

impl<R: BufRead + Seek> SplitLineReader<R> {
    /// The ids ([`FileSplit::id`]) of the splits still to read, the current one first.
    pub fn remaining_splits(&self) -> impl Iterator<Item = u64> + '_ {
        self.splits.iter().map(FileSplit::id)
    }

    /// Calls `each` with the next lines of the splits (up to `max`, fewer when
    /// paced), as bytes without the line end and without a UTF-8 check.
    /// Lines are slices of the read buffer; only a line that crosses the
    /// buffer's end is copied (once, into a scratch buffer kept for reuse).
    /// Positions advance line by line, so a snapshot between calls is exact.
    ///
    /// Errors: a read or seek fails (naming the file and byte); an error of
    /// `each` is returned as is, the line that caused it counted as read.
    pub fn read_lines(
        &mut self,
        max: usize,
        mut each: impl FnMut(&[u8]) -> Result<(), TaskError>,
    ) -> Result<SourceStatus, TaskError> {
        self.read_split_lines(max, |_split, line| each(line))
    }

    /// [`read_lines`](Self::read_lines), telling `each` the split each line
    /// belongs to (its [`FileSplit::id`]): for per-split watermarks.
    ///
    /// Errors: as `read_lines`.
    pub fn read_split_lines(
        &mut self,
        max: usize,
        mut each: impl FnMut(u64, &[u8]) -> Result<(), TaskError>,
    ) -> Result<SourceStatus, TaskError> {
        let budget = match &mut self.pacer {
            Some(p) => match p.allowance() {
                0 => return Ok(SourceStatus::Idle),
                n => n.min(max),
            },
            None => max,
        };
        let mut emitted = 0;
        let mut result = Ok(());
        while emitted < budget && result.is_ok() {
            let Some(split) = self.splits.front_mut() else { break };
            if split.pos >= split.end {
                self.splits.pop_front();
                self.seek_current()?;
                continue;
            }
            let buf = self
                .reader
                .fill_buf()
                .map_err(|e| TaskError::io(format!("cannot read {} at byte {}", self.name, split.pos), e))?;
            if buf.is_empty() {
                // End of file: a last line without '\n', then nothing more.
                if !self.partial.is_empty() {
                    split.pos += self.partial.len() as u64;
                    result = each(split.start, trim_line_end(&self.partial));
                    self.partial.clear();
                    emitted += 1;
                }
                split.pos = split.pos.max(split.end); // file shorter than when planned
                continue;
            }
            // Whole lines in the buffer, while they start in the split.
            let mut used = 0;
            for nl in memchr::memchr_iter(b'\n', buf) {
                let line_len = (nl + 1 - used) as u64;
                if self.partial.is_empty() {
                    result = each(split.start, trim_line_end(&buf[used..nl]));
                } else {
                    let carried = self.partial.len() as u64;
                    self.partial.extend_from_slice(&buf[used..nl]);
                    split.pos += carried;
                    result = each(split.start, trim_line_end(&self.partial));
                    self.partial.clear();
                }
                split.pos += line_len;
                used = nl + 1;
                emitted += 1;
                if emitted >= budget || split.pos >= split.end || result.is_err() {
                    break;
                }
            }
            if used == 0 || (used < buf.len() && emitted < budget && split.pos < split.end && result.is_ok()) {
                // The rest of the buffer is the start of a line that ends in a later read.
                self.partial.extend_from_slice(&buf[used..]);
                used = buf.len();
            }
            self.reader.consume(used);
        }
        if let Some(p) = &mut self.pacer {
            p.emitted += emitted as u64;
        }
        result?;
        Ok(if self.splits.is_empty() { SourceStatus::Finished } else { SourceStatus::Available })
    }
}

/// `line` without a final `\r` (of a `\r\n` line end).
#[inline]
fn trim_line_end(line: &[u8]) -> &[u8] {
    match line.split_last() {
        Some((b'\r', rest)) => rest,
        _ => line,
    }
}

impl<R: BufRead + Seek> SourceReader<String> for SplitLineReader<R> {
    fn poll_next(&mut self, out: &mut Vec<String>) -> Result<SourceStatus, TaskError> {
        self.read_lines(SOURCE_BATCH, |line| {
            out.push(String::from_utf8_lossy(line).into_owned());
            Ok(())
        })
    }

    fn snapshot_state(&mut self) -> Result<Vec<Vec<u8>>, TaskError> {
        self.splits
            .iter()
            .map(|s| {
                postcard::to_allocvec(s)
                    .map_err(|e| TaskError::State(format!("cannot encode the position in {}: {e}", self.name)))
            })
            .collect()
    }
}

/// The splits of subtask `index` of `parallelism` when restoring: the
/// subtask's own splits at the same parallelism; after a rescale, every
/// remaining range is cut into `parallelism` pieces and the subtask takes
/// piece `index` of each.
fn restored_splits(ctx: &OperatorContext, name: &str) -> Result<Option<Vec<FileSplit>>, TaskError> {
    let Some(cp) = &ctx.checkpointing else { return Ok(None) };
    let Some(src) = cp.restore_source() else { return Ok(None) };
    let Some(op) = src.metadata.operators.get(&ctx.uid) else { return Ok(None) };
    let decode = |items: Vec<Vec<u8>>| -> Result<Vec<FileSplit>, TaskError> {
        items
            .iter()
            .map(|b| {
                postcard::from_bytes::<FileSplit>(b)
                    .map_err(|e| TaskError::State(format!("undecodable position of {name} in the checkpoint: {e}")))
            })
            .collect()
    };
    if op.parallelism == ctx.parallelism {
        return cp.restored_operator(&ctx.uid, ctx.subtask_index, ctx.parallelism)?.map(decode).transpose();
    }
    let all = decode(cp.restored_operator_union(&ctx.uid)?)?;
    Ok(Some(rescale_splits(all, ctx.subtask_index, ctx.parallelism)))
}

/// Piece `index` of `parallelism` of every remaining range of `all`.
fn rescale_splits(all: Vec<FileSplit>, index: u32, parallelism: u32) -> Vec<FileSplit> {
    let mut mine = Vec::new();
    for s in all {
        let (from, aligned) = (if s.aligned { s.pos } else { s.start }, s.aligned);
        if from >= s.end {
            continue;
        }
        let (a, b) = split_range(s.end - from, index, parallelism);
        if a == b {
            continue;
        }
        let piece = FileSplit {
            start: from + a,
            end: from + b,
            pos: from + a,
            aligned: if a == 0 { aligned || from == 0 } else { false },
        };
        mine.push(piece);
    }
    mine
}

/// Opens a local file for a [`SplitLineReader`].
fn open_local(
    path: &Path,
    splits: Vec<FileSplit>,
    parallelism: u32,
    rate: Option<f64>,
) -> Result<SplitLineReader<BufReader<File>>, TaskError> {
    let file = File::open(path).map_err(|e| TaskError::io(format!("cannot open input file {}", path.display()), e))?;
    SplitLineReader::new(
        path.display().to_string(),
        BufReader::with_capacity(256 * 1024, file),
        splits,
        parallelism,
        rate,
    )
}

impl TextFileSource {
    /// This subtask's line reader of the file (its splits, or the restored
    /// position), concretely typed: for sources that parse the lines'
    /// bytes themselves through [`SplitLineReader::read_lines`].
    ///
    /// Errors: the file cannot be stat'ed, opened or sought; an
    /// undecodable checkpointed position.
    pub fn open_lines(&self, ctx: &OperatorContext) -> Result<SplitLineReader<BufReader<File>>, TaskError> {
        let name = self.path.display().to_string();
        let len = || {
            std::fs::metadata(&self.path).map(|m| m.len()).map_err(|e| TaskError::io(format!("cannot stat {name}"), e))
        };
        let splits = file_splits(ctx, &name, len)?;
        open_local(&self.path, splits, ctx.parallelism, self.lines_per_second)
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
    fn check(&self) -> Result<(), crate::error::IoCheckError> {
        match std::fs::metadata(&self.path) {
            Ok(m) if m.is_file() => Ok(()),
            Ok(_) => Err(format!("input path {} is not a file", self.path.display()).into()),
            Err(e) => Err(format!("input file {} cannot be read: {e}", self.path.display()).into()),
        }
    }
    fn create_reader(&self, ctx: &OperatorContext) -> Result<Box<dyn SourceReader<String>>, TaskError> {
        Ok(Box::new(self.open_lines(ctx)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::RuntimeMode;

    fn ctx(i: u32, p: u32) -> OperatorContext {
        OperatorContext {
            operator_name: "src".into(),
            uid: "src".into(),
            task_name: "src".into(),
            subtask_index: i,
            parallelism: p,
            max_parallelism: 128,
            attempt: 0,
            runtime_mode: RuntimeMode::Streaming,
            checkpointing: None,
            metrics: Default::default(),
            state_backend: Default::default(),
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

    /// Reads part of the file at parallelism 2, snapshots both readers,
    /// restores at parallelism 3 (and 1) and reads the rest: every line
    /// exactly once overall.
    #[test]
    fn positions_restore_at_another_parallelism() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        let lines: Vec<String> = (0..3000).map(|i| "y".repeat(i % 23) + &i.to_string()).collect();
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        for new_p in [1u32, 3] {
            let mut seen = Vec::new();
            let mut items = Vec::new();
            for i in 0..2 {
                let (s, e) = split_range(len, i, 2);
                let mut r = open_local(&path, vec![FileSplit::new(s, e)], 2, None).unwrap();
                for _ in 0..(i + 1) {
                    r.poll_next(&mut seen).unwrap();
                }
                items.extend(r.snapshot_state().unwrap());
            }
            let splits: Vec<FileSplit> = items.iter().map(|b| postcard::from_bytes(b).unwrap()).collect();
            for i in 0..new_p {
                let mut r = open_local(&path, rescale_splits(splits.clone(), i, new_p), new_p, None).unwrap();
                while r.poll_next(&mut seen).unwrap() != SourceStatus::Finished {}
            }
            seen.sort();
            let mut want = lines.clone();
            want.sort();
            assert_eq!(seen, want, "restored at parallelism {new_p}");
        }
    }

    /// A read buffer far shorter than the lines: lines cross its end, CRLF
    /// ends, a last line without '\n'; every split and parallelism reads
    /// every line once, as bytes and as strings.
    #[test]
    fn lines_cross_the_read_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        let lines: Vec<String> = (0..300).map(|i| "z".repeat(i % 29) + &i.to_string()).collect();
        std::fs::write(&path, lines.join("\r\n")).unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        for p in 1..=5u32 {
            for capacity in [1, 7, 64] {
                let mut all = Vec::new();
                for i in 0..p {
                    let (s, e) = split_range(len, i, p);
                    let file = BufReader::with_capacity(capacity, File::open(&path).unwrap());
                    let mut r =
                        SplitLineReader::new("in.txt".into(), file, vec![FileSplit::new(s, e)], p, None).unwrap();
                    let mut polls = 0;
                    while r
                        .read_lines(3, |l| {
                            all.push(String::from_utf8(l.to_vec()).unwrap());
                            Ok(())
                        })
                        .unwrap()
                        != SourceStatus::Finished
                    {
                        polls += 1;
                        assert!(polls < 10_000);
                    }
                }
                assert_eq!(all, lines, "parallelism {p}, buffer {capacity}");
            }
        }
    }

    #[test]
    fn splits_cover_the_file() {
        for p in 1..9 {
            let mut next = 0;
            for i in 0..p {
                let (s, e) = split_range(1001, i, p);
                assert_eq!(s, next);
                next = e;
            }
            assert_eq!(next, 1001);
        }
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = TextFileSource::new("/no/such/file.txt").check().unwrap_err().to_string();
        assert!(err.contains("/no/such/file.txt"), "{err}");
    }
}
