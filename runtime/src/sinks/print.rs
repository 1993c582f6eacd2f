//! Prints records to standard output, one line each, prefixed with the
//! subtask number (`2> `) when the sink runs in parallel, as Flink's `print()`.

use std::io::Write;
use std::sync::Arc;

use super::{Sink, SinkWriter};
use crate::context::OperatorContext;
use crate::error::TaskError;

/// Formats one record as a line (without the line end) into a byte buffer.
pub type Formatter<T> = dyn Fn(&T, &mut Vec<u8>) + Send + Sync;

/// Prints records to stdout.
pub struct PrintSink<T> {
    format: Arc<Formatter<T>>,
}

impl<T> PrintSink<T> {
    /// A print sink writing each record with `format`.
    pub fn new(format: impl Fn(&T, &mut Vec<u8>) + Send + Sync + 'static) -> Self {
        PrintSink { format: Arc::new(format) }
    }
}

struct PrintWriter<T> {
    format: Arc<Formatter<T>>,
    prefix: String,
    buf: Vec<u8>,
}

impl<T> SinkWriter<T> for PrintWriter<T> {
    fn write_batch(&mut self, batch: &mut Vec<T>) -> Result<(), TaskError> {
        self.buf.clear();
        for rec in batch.drain(..) {
            self.buf.extend_from_slice(self.prefix.as_bytes());
            (self.format)(&rec, &mut self.buf);
            self.buf.push(b'\n');
        }
        std::io::stdout().lock().write_all(&self.buf).map_err(|e| TaskError::io("cannot write to standard output", e))
    }
    fn finish(&mut self) -> Result<(), TaskError> {
        std::io::stdout().flush().map_err(|e| TaskError::io("cannot write to standard output", e))
    }
}

impl<T: 'static> Sink<T> for PrintSink<T> {
    fn name(&self) -> String {
        "Sink: Print to Std. Out".into()
    }
    fn create_writer(&self, ctx: &OperatorContext) -> Result<Box<dyn SinkWriter<T>>, TaskError> {
        let prefix = if ctx.parallelism > 1 { format!("{}> ", ctx.subtask_index + 1) } else { String::new() };
        Ok(Box::new(PrintWriter { format: self.format.clone(), prefix, buf: Vec::new() }))
    }
}
