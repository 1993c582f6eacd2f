//! Sinks: where streams end.

mod collect;
mod discard;
pub mod file;
mod print;
mod text_file;
pub mod two_phase;

pub use collect::CollectSink;
pub use discard::DiscardingSink;
pub use file::FileSink;
pub use print::PrintSink;
pub use text_file::TextFileSink;

use crate::context::OperatorContext;
use crate::error::TaskError;

/// One subtask's writer of a sink.
pub trait SinkWriter<T> {
    /// Writes (and takes) every record of `batch`.
    fn write_batch(&mut self, batch: &mut Vec<T>) -> Result<(), TaskError>;
    /// Writes (and takes) every record of `batch` with its event-time
    /// timestamp (ms, `timestamps[i]` for `batch[i]`; both are left empty).
    /// The default drops the timestamps.
    fn write_timestamped(&mut self, batch: &mut Vec<T>, timestamps: &mut Vec<i64>) -> Result<(), TaskError> {
        timestamps.clear();
        self.write_batch(batch)
    }
    /// Event time reached `watermark` (ms) at this subtask. Default: ignored.
    fn on_watermark(&mut self, watermark: i64) -> Result<(), TaskError> {
        let _ = watermark;
        Ok(())
    }
    /// Makes buffered records visible where the sink can (buffer timeout).
    fn flush(&mut self) -> Result<(), TaskError> {
        Ok(())
    }
    /// Input ended: write out everything and publish the result.
    fn finish(&mut self) -> Result<(), TaskError>;
    /// No more records, and a final checkpoint follows before
    /// [`SinkWriter::finish`] (FLIP-147 `EndOfData`): make everything written
    /// ready for that checkpoint's snapshot; an exactly-once sink must not
    /// publish anything here. Default: [`SinkWriter::flush`].
    fn end_of_data(&mut self) -> Result<(), TaskError> {
        self.flush()
    }
    /// At checkpoint barrier `checkpoint_id`: make everything written so far
    /// durable and return the writer's state as operator state items
    /// (`None`: the sink keeps no state and gives no exactly-once guarantee).
    ///
    /// Errors: the data cannot be made durable; the task fails.
    fn snapshot(&mut self, checkpoint_id: u64) -> Result<Option<Vec<Vec<u8>>>, TaskError> {
        let _ = checkpoint_id;
        Ok(None)
    }
}

/// A sink definition, shared by all subtasks (Flink's `Sink`).
pub trait Sink<T>: Send + Sync + 'static {
    /// Operator name, e.g. `Sink: Text file /tmp/out`.
    fn name(&self) -> String;
    /// Planning-time check, run once by the client (e.g. output writable).
    ///
    /// Errors: a one-line message naming the path at fault.
    fn check(&self) -> Result<(), crate::error::IoCheckError> {
        Ok(())
    }
    /// Makes the writer of one subtask.
    fn create_writer(&self, ctx: &OperatorContext) -> Result<Box<dyn SinkWriter<T>>, TaskError>;
}
