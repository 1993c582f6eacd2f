//! Collects records into a shared vector (for tests and small results, as
//! Flink's `executeAndCollect`). Locks once per batch.

use std::sync::{Arc, Mutex};

use super::{Sink, SinkWriter};
use crate::context::OperatorContext;
use crate::error::TaskError;

/// Appends every record to a shared `Vec`, in arrival order per subtask.
pub struct CollectSink<T> {
    target: Arc<Mutex<Vec<T>>>,
}

impl<T> CollectSink<T> {
    /// A sink appending to `target`.
    pub fn new(target: Arc<Mutex<Vec<T>>>) -> Self {
        CollectSink { target }
    }
}

struct CollectWriter<T> {
    target: Arc<Mutex<Vec<T>>>,
}

impl<T> SinkWriter<T> for CollectWriter<T> {
    fn write_batch(&mut self, batch: &mut Vec<T>) -> Result<(), TaskError> {
        self.target.lock().unwrap_or_else(|p| p.into_inner()).append(batch);
        Ok(())
    }
    fn finish(&mut self) -> Result<(), TaskError> {
        Ok(())
    }
}

impl<T: Send + 'static> Sink<T> for CollectSink<T> {
    fn name(&self) -> String {
        "Sink: Collect".into()
    }
    fn create_writer(&self, _ctx: &OperatorContext) -> Result<Box<dyn SinkWriter<T>>, TaskError> {
        Ok(Box::new(CollectWriter { target: self.target.clone() }))
    }
}
