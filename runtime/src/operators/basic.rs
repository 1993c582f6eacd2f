//! Stateless one-input operators: map, flat_map, filter.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::api::Collector;
use crate::context::OperatorContext;
use crate::error::TaskError;
use crate::event::Event;
use crate::graph::OperatorBuilder;
use crate::record::Record;
use crate::task::output::{erase, unerase, AnyOutput};
use crate::task::Output;

struct MapOp<I, O, F> {
    f: Arc<F>,
    buf: Vec<O>,
    next: Box<dyn Output<O>>,
    _in: PhantomData<fn(I)>,
}

impl<I, O, F: Fn(I) -> O> Output<I> for MapOp<I, O, F> {
    fn push_batch(&mut self, batch: &mut Vec<I>) -> Result<(), TaskError> {
        let f = &*self.f;
        self.buf.extend(batch.drain(..).map(f));
        self.next.push_batch(&mut self.buf)
    }
    fn push_timestamped(&mut self, batch: &mut Vec<I>, timestamps: &mut Vec<i64>) -> Result<(), TaskError> {
        let f = &*self.f;
        self.buf.extend(batch.drain(..).map(f));
        self.next.push_timestamped(&mut self.buf, timestamps)
    }
    fn push_event(&mut self, event: &Event) -> Result<(), TaskError> {
        self.next.push_event(event)
    }
}

/// A flat_map passes its output on once it holds this many records.
const FLAT_MAP_CHUNK: usize = 2048;

struct FlatMapOp<I, O, F> {
    f: Arc<F>,
    buf: Vec<O>,
    ts: Vec<i64>,
    next: Box<dyn Output<O>>,
    _in: PhantomData<fn(I)>,
}

impl<I, O, F: Fn(I, &mut Collector<'_, O>)> Output<I> for FlatMapOp<I, O, F> {
    fn push_batch(&mut self, batch: &mut Vec<I>) -> Result<(), TaskError> {
        let f = &*self.f;
        for rec in batch.drain(..) {
            f(rec, &mut Collector::new(&mut self.buf));
            // Pass on cache-sized pieces: one source batch of lines can
            // yield tens of thousands of records (about 1 MB of words).
            if self.buf.len() >= FLAT_MAP_CHUNK {
                self.next.push_batch(&mut self.buf)?;
            }
        }
        self.next.push_batch(&mut self.buf)
    }
    fn push_timestamped(&mut self, batch: &mut Vec<I>, timestamps: &mut Vec<i64>) -> Result<(), TaskError> {
        let f = &*self.f;
        // Each emitted record inherits the timestamp of the record it came from.
        for (rec, t) in batch.drain(..).zip(timestamps.drain(..)) {
            f(rec, &mut Collector::new(&mut self.buf));
            self.ts.resize(self.buf.len(), t);
            if self.buf.len() >= FLAT_MAP_CHUNK {
                self.next.push_timestamped(&mut self.buf, &mut self.ts)?;
            }
        }
        self.next.push_timestamped(&mut self.buf, &mut self.ts)
    }
    fn push_event(&mut self, event: &Event) -> Result<(), TaskError> {
        self.next.push_event(event)
    }
}

struct FilterOp<T, F> {
    f: Arc<F>,
    next: Box<dyn Output<T>>,
}

impl<T, F: Fn(&T) -> bool> Output<T> for FilterOp<T, F> {
    fn push_batch(&mut self, batch: &mut Vec<T>) -> Result<(), TaskError> {
        let f = &*self.f;
        batch.retain(|r| f(r));
        self.next.push_batch(batch)
    }
    fn push_timestamped(&mut self, batch: &mut Vec<T>, timestamps: &mut Vec<i64>) -> Result<(), TaskError> {
        let f = &*self.f;
        let mut keep = 0;
        for i in 0..batch.len() {
            if f(&batch[i]) {
                batch.swap(keep, i);
                timestamps[keep] = timestamps[i];
                keep += 1;
            }
        }
        batch.truncate(keep);
        timestamps.truncate(keep);
        self.next.push_timestamped(batch, timestamps)
    }
    fn push_event(&mut self, event: &Event) -> Result<(), TaskError> {
        self.next.push_event(event)
    }
}

/// Builds a map operator.
pub(crate) struct MapBuilder<I, O, F>(pub(crate) Arc<F>, pub(crate) PhantomData<fn(I) -> O>);
/// Builds a flat_map operator.
pub(crate) struct FlatMapBuilder<I, O, F>(pub(crate) Arc<F>, pub(crate) PhantomData<fn(I) -> O>);
/// Builds a filter operator.
pub(crate) struct FilterBuilder<T, F>(pub(crate) Arc<F>, pub(crate) PhantomData<fn(T)>);

impl<I: Record, O: Record, F: Fn(I) -> O + Send + Sync + 'static> OperatorBuilder for MapBuilder<I, O, F> {
    fn build(&self, ctx: &OperatorContext, next: AnyOutput) -> Result<AnyOutput, TaskError> {
        let next = unerase::<O>(next, &ctx.operator_name)?;
        Ok(erase::<I>(Box::new(MapOp { f: self.0.clone(), buf: Vec::new(), next, _in: PhantomData })))
    }
}

impl<I: Record, O: Record, F: Fn(I, &mut Collector<'_, O>) + Send + Sync + 'static> OperatorBuilder
    for FlatMapBuilder<I, O, F>
{
    fn build(&self, ctx: &OperatorContext, next: AnyOutput) -> Result<AnyOutput, TaskError> {
        let next = unerase::<O>(next, &ctx.operator_name)?;
        Ok(erase::<I>(Box::new(FlatMapOp {
            f: self.0.clone(),
            buf: Vec::new(),
            ts: Vec::new(),
            next,
            _in: PhantomData,
        })))
    }
}

impl<T: Record, F: Fn(&T) -> bool + Send + Sync + 'static> OperatorBuilder for FilterBuilder<T, F> {
    fn build(&self, ctx: &OperatorContext, next: AnyOutput) -> Result<AnyOutput, TaskError> {
        let next = unerase::<T>(next, &ctx.operator_name)?;
        Ok(erase::<T>(Box::new(FilterOp { f: self.0.clone(), next })))
    }
}
