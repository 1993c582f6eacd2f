//! Window functions: what a window computes from its records.

use std::marker::PhantomData;

use super::TimeWindow;
use crate::api::Collector;
use crate::error::TaskError;
use crate::record::Record;

/// An incremental aggregation with an accumulator (Flink's
/// `AggregateFunction`): a window keeps only the accumulator, never its records.
///
/// ```
/// use rfy_runtime::windowing::AggregateFunction;
///
/// /// Average of the second field.
/// #[derive(Clone)]
/// struct Average;
/// impl AggregateFunction<(String, f64)> for Average {
///     type Acc = (f64, u64);
///     type Out = f64;
///     fn create_accumulator(&self) -> (f64, u64) { (0.0, 0) }
///     fn add(&self, value: (String, f64), acc: &mut (f64, u64)) { acc.0 += value.1; acc.1 += 1; }
///     fn get_result(&self, acc: &(f64, u64)) -> f64 { acc.0 / acc.1 as f64 }
///     fn merge(&self, acc: &mut (f64, u64), other: (f64, u64)) { acc.0 += other.0; acc.1 += other.1; }
/// }
/// let mut acc = Average.create_accumulator();
/// Average.add(("a".into(), 1.0), &mut acc);
/// Average.add(("a".into(), 3.0), &mut acc);
/// assert_eq!(Average.get_result(&acc), 2.0);
/// ```
pub trait AggregateFunction<In>: Clone + Send + Sync + 'static {
    /// The accumulator (kept in state, so serializable).
    type Acc: Record;
    /// The result per window.
    type Out: Record;
    /// A new, empty accumulator.
    fn create_accumulator(&self) -> Self::Acc;
    /// Adds one record to the accumulator.
    fn add(&self, value: In, acc: &mut Self::Acc);
    /// The window's result from its accumulator.
    fn get_result(&self, acc: &Self::Acc) -> Self::Out;
    /// Merges `other` into `acc` (session windows merging).
    fn merge(&self, acc: &mut Self::Acc, other: Self::Acc);
}

/// What a [`ProcessWindowFunction`] knows about the window it evaluates.
#[derive(Debug, Clone, Copy)]
pub struct ProcessWindowContext {
    pub(crate) window: TimeWindow,
    pub(crate) watermark: i64,
}

impl ProcessWindowContext {
    /// The window being evaluated.
    pub fn window(&self) -> TimeWindow {
        self.window
    }
    /// The operator's current event time (ms).
    pub fn current_watermark(&self) -> i64 {
        self.watermark
    }
}

/// A function over all records of a window (Flink's `ProcessWindowFunction`):
/// the window buffers its records until it fires.
///
/// ```
/// use rfy_runtime::windowing::{ProcessWindowContext, ProcessWindowFunction};
/// use rfy_runtime::{Collector, TaskError};
///
/// /// Emits (key, window start, number of records).
/// #[derive(Clone)]
/// struct CountPerWindow;
/// impl ProcessWindowFunction<(String, i64), String> for CountPerWindow {
///     type Out = (String, i64, usize);
///     fn process(&mut self, key: &String, ctx: &ProcessWindowContext, elements: &[(String, i64)],
///                out: &mut Collector<'_, (String, i64, usize)>) -> Result<(), TaskError> {
///         out.collect((key.clone(), ctx.window().start, elements.len()));
///         Ok(())
///     }
/// }
/// # let _ = CountPerWindow;
/// ```
pub trait ProcessWindowFunction<In, K>: Clone + Send + Sync + 'static {
    /// The result records.
    type Out: Record;
    /// Evaluates one window of `key` with all its `elements` (arrival order).
    ///
    /// Errors: a returned error fails the task.
    fn process(
        &mut self,
        key: &K,
        context: &ProcessWindowContext,
        elements: &[In],
        out: &mut Collector<'_, Self::Out>,
    ) -> Result<(), TaskError>;
}

/// The operator's view of a window function: an accumulator per window.
pub(crate) trait WindowAgg<In, K>: Clone + Send + Sync + 'static {
    type Acc: Record;
    type Out: Record;
    fn create(&self) -> Self::Acc;
    fn add(&self, acc: &mut Self::Acc, value: In);
    fn merge(&self, acc: &mut Self::Acc, other: Self::Acc);
    fn emit(
        &mut self,
        key: &K,
        ctx: &ProcessWindowContext,
        acc: &Self::Acc,
        out: &mut Collector<'_, Self::Out>,
    ) -> Result<(), TaskError>;
}

/// `reduce`: the accumulator is the reduced record.
pub(crate) struct ReduceAgg<T, F>(pub(crate) F, pub(crate) PhantomData<fn(T)>);

impl<T, F: Clone> Clone for ReduceAgg<T, F> {
    fn clone(&self) -> Self {
        ReduceAgg(self.0.clone(), PhantomData)
    }
}

impl<T: Record, K, F: Fn(T, T) -> T + Clone + Send + Sync + 'static> WindowAgg<T, K> for ReduceAgg<T, F> {
    type Acc = Option<T>;
    type Out = T;
    fn create(&self) -> Option<T> {
        None
    }
    #[inline]
    fn add(&self, acc: &mut Option<T>, value: T) {
        *acc = Some(match acc.take() {
            Some(a) => (self.0)(a, value),
            None => value,
        });
    }
    fn merge(&self, acc: &mut Option<T>, other: Option<T>) {
        if let Some(o) = other {
            <Self as WindowAgg<T, K>>::add(self, acc, o);
        }
    }
    fn emit(
        &mut self,
        _k: &K,
        _c: &ProcessWindowContext,
        acc: &Option<T>,
        out: &mut Collector<'_, T>,
    ) -> Result<(), TaskError> {
        if let Some(a) = acc {
            out.collect(a.clone());
        }
        Ok(())
    }
}

/// `aggregate` and `aggregate_process`: the user's accumulator, its result
/// handed to a process window function with the window's metadata; plain
/// `aggregate` hands it to [`PassResult`], which emits it as it is.
#[derive(Clone)]
pub(crate) struct AggregateAgg<A, P>(pub(crate) A, pub(crate) P);

impl<In, K, A: AggregateFunction<In>, P: ProcessWindowFunction<A::Out, K>> WindowAgg<In, K> for AggregateAgg<A, P> {
    type Acc = A::Acc;
    type Out = P::Out;
    fn create(&self) -> A::Acc {
        self.0.create_accumulator()
    }
    #[inline]
    fn add(&self, acc: &mut A::Acc, value: In) {
        self.0.add(value, acc)
    }
    fn merge(&self, acc: &mut A::Acc, other: A::Acc) {
        self.0.merge(acc, other)
    }
    fn emit(
        &mut self,
        key: &K,
        ctx: &ProcessWindowContext,
        acc: &A::Acc,
        out: &mut Collector<'_, P::Out>,
    ) -> Result<(), TaskError> {
        let result = [self.0.get_result(acc)];
        self.1.process(key, ctx, &result, out)
    }
}

/// The window function of plain `aggregate`: emits the aggregate's result.
pub(crate) struct PassResult<T>(pub(crate) PhantomData<fn(T)>);

impl<T> Clone for PassResult<T> {
    fn clone(&self) -> Self {
        PassResult(PhantomData)
    }
}

impl<T: Record, K> ProcessWindowFunction<T, K> for PassResult<T> {
    type Out = T;
    fn process(
        &mut self,
        _key: &K,
        _ctx: &ProcessWindowContext,
        result: &[T],
        out: &mut Collector<'_, T>,
    ) -> Result<(), TaskError> {
        for r in result {
            out.collect(r.clone());
        }
        Ok(())
    }
}

/// `process`: the accumulator is the list of records.
#[derive(Clone)]
pub(crate) struct ProcessAgg<P>(pub(crate) P);

impl<In: Record, K, P: ProcessWindowFunction<In, K>> WindowAgg<In, K> for ProcessAgg<P> {
    type Acc = Vec<In>;
    type Out = P::Out;
    fn create(&self) -> Vec<In> {
        Vec::new()
    }
    #[inline]
    fn add(&self, acc: &mut Vec<In>, value: In) {
        acc.push(value)
    }
    fn merge(&self, acc: &mut Vec<In>, mut other: Vec<In>) {
        acc.append(&mut other)
    }
    fn emit(
        &mut self,
        key: &K,
        ctx: &ProcessWindowContext,
        acc: &Vec<In>,
        out: &mut Collector<'_, P::Out>,
    ) -> Result<(), TaskError> {
        self.0.process(key, ctx, acc, out)
    }
}
