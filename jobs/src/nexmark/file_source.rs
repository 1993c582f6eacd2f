//! The event file as a source: [`TextFileSource`]'s splits and checkpointed
//! positions, each line parsed into an [`Event`] with its event time;
//! per-split bounded-out-of-orderness watermarks ([`FileWatermarks`]): with
//! the default bound of 0 the watermark trails the highest timestamp by 1 ms
//! (a file `rfy nexmark-gen` wrote without `--max-delay` is in time order);
//! an out-of-order file needs a bound at least its largest delay
//! (`--max-out-of-orderness`), else later windows count its late events in
//! `numLateRecordsDropped`.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rfy_runtime::sources::{
    FileWatermarks, Source, SourceOutput, SourceReader, SourceStatus, SplitLineReader, TextFileSource, SOURCE_BATCH,
};
use rfy_runtime::time::SplitWatermarkSettings;
use rfy_runtime::{OperatorContext, TaskError};

use super::model::Event;

/// Reads a JSON-lines event file (local path).
pub struct EventFileSource {
    path: PathBuf,
    lines: TextFileSource,
    watermarks: SplitWatermarkSettings,
}

impl EventFileSource {
    /// A source over the event file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let watermarks = SplitWatermarkSettings::new(Duration::ZERO, None);
        EventFileSource { lines: TextFileSource::new(&path), path, watermarks }
    }

    /// Watermarks trailing each split's largest timestamp by
    /// `max_out_of_orderness` (Flink's `forBoundedOutOfOrderness`), with an
    /// optional idleness timeout (`withIdleness`). Default: no bound, no idleness.
    pub fn watermarks(mut self, max_out_of_orderness: Duration, idleness: Option<Duration>) -> Self {
        self.watermarks = SplitWatermarkSettings::new(max_out_of_orderness, idleness);
        self
    }
}

struct EventFileReader {
    name: String,
    /// Lines straight from the read buffer: parsed in place, no String per line.
    lines: SplitLineReader<BufReader<File>>,
    watermarks: FileWatermarks,
}

impl SourceReader<Event> for EventFileReader {
    fn poll_next(&mut self, out: &mut Vec<Event>) -> Result<SourceStatus, TaskError> {
        let mut ts = Vec::new();
        self.poll_output(&mut SourceOutput::new(out, &mut ts))
    }

    /// Errors: a line that is not an event fails the job, naming the file and the line's start.
    fn poll_output(&mut self, out: &mut SourceOutput<'_, Event>) -> Result<SourceStatus, TaskError> {
        let (name, watermarks, now) = (&self.name, &mut self.watermarks, Instant::now());
        let status = self.lines.read_split_lines(SOURCE_BATCH, |split, line| {
            let event = Event::from_json_bytes(line).map_err(|e| {
                let start: String = String::from_utf8_lossy(&line[..line.len().min(240)]).chars().take(60).collect();
                TaskError::User(format!("{name}: bad event line '{start}': {e}"))
            })?;
            let t = event.timestamp();
            watermarks.observe(split, t, now);
            out.collect_with_timestamp(event, t);
            Ok(())
        })?;
        self.watermarks.emit(self.lines.remaining_splits(), now, out);
        Ok(status)
    }

    fn snapshot_state(&mut self) -> Result<Vec<Vec<u8>>, TaskError> {
        self.lines.snapshot_state()
    }
}

impl Source<Event> for EventFileSource {
    fn name(&self) -> String {
        self.lines.name()
    }
    fn bounded(&self) -> bool {
        true
    }
    fn check(&self) -> Result<(), rfy_runtime::IoCheckError> {
        self.lines.check()
    }
    fn create_reader(&self, ctx: &OperatorContext) -> Result<Box<dyn SourceReader<Event>>, TaskError> {
        Ok(Box::new(EventFileReader {
            name: self.path.display().to_string(),
            lines: self.lines.open_lines(ctx)?,
            watermarks: FileWatermarks::new(self.watermarks),
        }))
    }
}
