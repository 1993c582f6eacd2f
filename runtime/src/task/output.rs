//! The interface between chained operators: batches of records and events.

use std::any::Any;
use std::marker::PhantomData;

use crate::error::TaskError;
use crate::event::Event;
use crate::record::Record;

/// Receives what an operator emits. Records come in batches (one dynamic call
/// per batch, never per record); events come between batches, in order.
pub trait Output<T> {
    /// Takes every record of `batch`, leaving it empty (its capacity is kept
    /// for reuse by the caller).
    fn push_batch(&mut self, batch: &mut Vec<T>) -> Result<(), TaskError>;
    /// Takes every record of `batch` with its event-time timestamp (ms,
    /// [`NO_TIMESTAMP`](crate::event::NO_TIMESTAMP) if it has none):
    /// `timestamps[i]` belongs to `batch[i]`; both are left empty. The
    /// timestamps travel as a column beside the batch (Flink's
    /// `StreamRecord` timestamp), so records without timestamps cost nothing.
    /// The default drops the timestamps, for operators that do not use them.
    fn push_timestamped(&mut self, batch: &mut Vec<T>, timestamps: &mut Vec<i64>) -> Result<(), TaskError> {
        timestamps.clear();
        self.push_batch(batch)
    }
    /// Handles an event after all records pushed before it.
    fn push_event(&mut self, event: &Event) -> Result<(), TaskError>;
}

/// A `Box<dyn Output<T>>` with `T` erased, used while a task's chain is built
/// from the graph (once per task, not per record).
pub(crate) type AnyOutput = Box<dyn Any>;

pub(crate) fn erase<T: 'static>(output: Box<dyn Output<T>>) -> AnyOutput {
    Box::new(output)
}

/// Recovers the typed output; a mismatch means the program and the JobGraph disagree.
pub(crate) fn unerase<T: 'static>(output: AnyOutput, at: &str) -> Result<Box<dyn Output<T>>, TaskError> {
    output
        .downcast::<Box<dyn Output<T>>>()
        .map(|b| *b)
        .map_err(|_| TaskError::Mismatch(format!("{at} expects records of type {}", std::any::type_name::<T>())))
}

/// Drops every record (for streams nobody consumes).
pub(crate) struct DiscardOutput<T>(PhantomData<fn(T)>);

impl<T> DiscardOutput<T> {
    pub(crate) fn new() -> Self {
        DiscardOutput(PhantomData)
    }
}

impl<T> Output<T> for DiscardOutput<T> {
    fn push_batch(&mut self, batch: &mut Vec<T>) -> Result<(), TaskError> {
        batch.clear();
        Ok(())
    }
    fn push_event(&mut self, _event: &Event) -> Result<(), TaskError> {
        Ok(())
    }
}

/// Sends every record to several outputs (clones for all but the last).
pub(crate) struct FanOut<T> {
    outputs: Vec<Box<dyn Output<T>>>,
    scratch: Vec<T>,
}

impl<T: Record> FanOut<T> {
    pub(crate) fn new(outputs: Vec<Box<dyn Output<T>>>) -> Self {
        FanOut { outputs, scratch: Vec::new() }
    }
}

impl<T: Record> Output<T> for FanOut<T> {
    fn push_batch(&mut self, batch: &mut Vec<T>) -> Result<(), TaskError> {
        let n = self.outputs.len();
        for out in &mut self.outputs[..n.saturating_sub(1)] {
            self.scratch.extend(batch.iter().cloned());
            out.push_batch(&mut self.scratch)?;
        }
        if let Some(last) = self.outputs.last_mut() {
            last.push_batch(batch)?;
        }
        batch.clear();
        Ok(())
    }
    fn push_timestamped(&mut self, batch: &mut Vec<T>, timestamps: &mut Vec<i64>) -> Result<(), TaskError> {
        let n = self.outputs.len();
        let mut ts = Vec::with_capacity(timestamps.len());
        for out in &mut self.outputs[..n.saturating_sub(1)] {
            self.scratch.extend(batch.iter().cloned());
            ts.extend_from_slice(timestamps);
            out.push_timestamped(&mut self.scratch, &mut ts)?;
        }
        if let Some(last) = self.outputs.last_mut() {
            last.push_timestamped(batch, timestamps)?;
        }
        batch.clear();
        timestamps.clear();
        Ok(())
    }
    fn push_event(&mut self, event: &Event) -> Result<(), TaskError> {
        for out in &mut self.outputs {
            out.push_event(event)?;
        }
        Ok(())
    }
}
