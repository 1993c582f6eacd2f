//! The event file as a source: [`TextFileSource`]'s splits and checkpointed
//! positions, each line parsed into an [`Event`] with its event time; the
//! watermark trails the highest timestamp by 1 ms (each split of a file
//! `rfy nexmark-gen` wrote is in time order, so nothing is late).

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use rfy_runtime::sources::{
    Source, SourceOutput, SourceReader, SourceStatus, SplitLineReader, TextFileSource, SOURCE_BATCH,
};
use rfy_runtime::{OperatorContext, TaskError};

use super::model::Event;

/// Reads a JSON-lines event file (local path).
pub struct EventFileSource {
    path: PathBuf,
    lines: TextFileSource,
}

impl EventFileSource {
    /// A source over the event file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        EventFileSource { lines: TextFileSource::new(&path), path }
    }
}

struct EventFileReader {
    name: String,
    /// Lines straight from the read buffer: parsed in place, no String per line.
    lines: SplitLineReader<BufReader<File>>,
    max_timestamp: Option<i64>,
}

impl SourceReader<Event> for EventFileReader {
    fn poll_next(&mut self, out: &mut Vec<Event>) -> Result<SourceStatus, TaskError> {
        let mut ts = Vec::new();
        self.poll_output(&mut SourceOutput::new(out, &mut ts))
    }

    /// Errors: a line that is not an event fails the job, naming the file and the line's start.
    fn poll_output(&mut self, out: &mut SourceOutput<'_, Event>) -> Result<SourceStatus, TaskError> {
        let (name, max_timestamp) = (&self.name, &mut self.max_timestamp);
        let status = self.lines.read_lines(SOURCE_BATCH, |line| {
            let event = Event::from_json_bytes(line).map_err(|e| {
                let start: String = String::from_utf8_lossy(&line[..line.len().min(240)]).chars().take(60).collect();
                TaskError::User(format!("{name}: bad event line '{start}': {e}"))
            })?;
            let t = event.timestamp();
            *max_timestamp = Some(max_timestamp.map_or(t, |m| m.max(t)));
            out.collect_with_timestamp(event, t);
            Ok(())
        })?;
        if let Some(m) = self.max_timestamp {
            out.emit_watermark(m - 1);
        }
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
    fn check(&self) -> Result<(), String> {
        self.lines.check()
    }
    fn create_reader(&self, ctx: &OperatorContext) -> Result<Box<dyn SourceReader<Event>>, TaskError> {
        Ok(Box::new(EventFileReader {
            name: self.path.display().to_string(),
            lines: self.lines.open_lines(ctx)?,
            max_timestamp: None,
        }))
    }
}
