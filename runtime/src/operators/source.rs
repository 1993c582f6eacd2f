//! Source driver: the head of a source task. Polls the source's reader for
//! batches and pushes them down the chain; ends the stream with the maximum
//! watermark and end-of-input when a bounded source is done.

use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::context::OperatorContext;
use crate::error::TaskError;
use crate::event::{Event, MAX_WATERMARK};
use crate::graph::SourceBuilder;
use crate::record::Record;
use crate::sources::{Source, SourceReader, SourceStatus};
use crate::task::output::{unerase, AnyOutput};
use crate::task::{Output, TaskControl, TaskHead};

struct SourceDriver<T> {
    reader: Box<dyn SourceReader<T>>,
    next: Box<dyn Output<T>>,
    batch: Vec<T>,
}

impl<T: Record> TaskHead for SourceDriver<T> {
    fn run(&mut self, control: &TaskControl) -> Result<(), TaskError> {
        let metrics = &control.metrics;
        loop {
            control.check()?;
            let status = self.reader.poll_next(&mut self.batch)?;
            if !self.batch.is_empty() {
                metrics.records_in.fetch_add(self.batch.len() as u64, Ordering::Relaxed);
                self.next.push_batch(&mut self.batch)?;
            }
            match status {
                SourceStatus::Available => {}
                SourceStatus::Idle => self.next.push_event(&Event::Flush)?,
                SourceStatus::Finished => {
                    self.next.push_event(&Event::Watermark(MAX_WATERMARK))?;
                    return self.next.push_event(&Event::EndOfInput);
                }
            }
        }
    }
}

/// Builds the driver of a user or built-in [`Source`].
pub(crate) struct SourceNode<T, S>(pub(crate) Arc<S>, pub(crate) PhantomData<fn() -> T>);

impl<T: Record, S: Source<T>> SourceBuilder for SourceNode<T, S> {
    fn build(&self, ctx: &OperatorContext, next: AnyOutput) -> Result<Box<dyn TaskHead>, TaskError> {
        let next = unerase::<T>(next, &ctx.operator_name)?;
        let reader = self.0.create_reader(ctx)?;
        Ok(Box::new(SourceDriver { reader, next, batch: Vec::new() }))
    }
    fn bounded(&self) -> bool {
        self.0.bounded()
    }
}
