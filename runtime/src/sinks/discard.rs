//! Drops every record (Flink's `DiscardingSink`), for benchmarks.

use super::{Sink, SinkWriter};
use crate::context::OperatorContext;
use crate::error::TaskError;

/// Drops every record.
#[derive(Debug, Default, Clone, Copy)]
pub struct DiscardingSink;

struct DiscardWriter;

impl<T> SinkWriter<T> for DiscardWriter {
    fn write_batch(&mut self, batch: &mut Vec<T>) -> Result<(), TaskError> {
        batch.clear();
        Ok(())
    }
    fn finish(&mut self) -> Result<(), TaskError> {
        Ok(())
    }
}

impl<T: 'static> Sink<T> for DiscardingSink {
    fn name(&self) -> String {
        "Sink: Discard".into()
    }
    fn create_writer(&self, _ctx: &OperatorContext) -> Result<Box<dyn SinkWriter<T>>, TaskError> {
        Ok(Box::new(DiscardWriter))
    }
}
