//! Sink operator: hands batches to a [`SinkWriter`] and finishes it at the
//! end of input.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::checkpoint::{OperatorSnapshot, TaskCheckpointing};
use crate::context::OperatorContext;
use crate::error::TaskError;
use crate::event::Event;
use crate::graph::OperatorBuilder;
use crate::record::Record;
use crate::sinks::{Sink, SinkWriter};
use crate::task::output::{erase, AnyOutput};
use crate::task::Output;

struct SinkOp<T> {
    writer: Box<dyn SinkWriter<T>>,
    uid: String,
    checkpointing: Option<Arc<TaskCheckpointing>>,
}

impl<T> Output<T> for SinkOp<T> {
    fn push_batch(&mut self, batch: &mut Vec<T>) -> Result<(), TaskError> {
        self.writer.write_batch(batch)?;
        batch.clear();
        Ok(())
    }
    fn push_timestamped(&mut self, batch: &mut Vec<T>, timestamps: &mut Vec<i64>) -> Result<(), TaskError> {
        self.writer.write_timestamped(batch, timestamps)?;
        batch.clear();
        timestamps.clear();
        Ok(())
    }
    fn push_event(&mut self, event: &Event) -> Result<(), TaskError> {
        match event {
            Event::EndOfInput => self.writer.finish(),
            Event::EndOfData => self.writer.end_of_data(),
            Event::Flush => self.writer.flush(),
            Event::Watermark(w) => self.writer.on_watermark(*w),
            Event::Barrier(b) => {
                if let Some(cp) = &self.checkpointing {
                    if let Some(items) = self.writer.snapshot(b.id)? {
                        cp.add_snapshot(&self.uid, OperatorSnapshot { operator: items, ..Default::default() });
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Builds a sink operator; its own output (of type `()`) is unused.
pub(crate) struct SinkNode<T, S>(pub(crate) Arc<S>, pub(crate) PhantomData<fn(T)>);

impl<T: Record, S: Sink<T>> OperatorBuilder for SinkNode<T, S> {
    fn build(&self, ctx: &OperatorContext, _next: AnyOutput) -> Result<AnyOutput, TaskError> {
        let writer = self.0.create_writer(ctx)?;
        Ok(erase::<T>(Box::new(SinkOp { writer, uid: ctx.uid.clone(), checkpointing: ctx.checkpointing.clone() })))
    }
}
