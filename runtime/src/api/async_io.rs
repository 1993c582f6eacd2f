//! Async I/O (Flink's `AsyncDataStream`): one asynchronous call per record
//! (a lookup against a database or an HTTP service), many in flight at once,
//! their results emitted in input order ([`AsyncDataStream::ordered_wait`])
//! or as they complete ([`AsyncDataStream::unordered_wait`], which still
//! never moves a record across a watermark).
//!
//! The runtime knows no async runtime: the operator drives the user's futures
//! itself (a `futures` `FuturesUnordered` polled on the task's thread with a
//! waker that unparks that thread), so a future may come from any runtime the
//! user function brings, e.g. a tokio runtime created in
//! [`AsyncFunction::open`] that the future spawns its request onto and
//! awaits the join handle of.
//!
//! In-flight inputs are operator state: at a checkpoint barrier the inputs of
//! every record whose results were not emitted yet are saved, and re-issued
//! when the job restores from that checkpoint (as Flink's
//! `AsyncWaitOperator`), so a failure loses and duplicates nothing.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use rfy_runtime::api::{AsyncDataStream, AsyncError, AsyncRetryStrategy};
//! use rfy_runtime::sinks::CollectSink;
//! use rfy_runtime::{ExecutionConfig, StreamExecutionEnvironment};
//!
//! let env = StreamExecutionEnvironment::new(ExecutionConfig::default());
//! let ids = env.from_collection((0u64..100).collect::<Vec<_>>());
//! // The "service": any future works; a real job awaits an HTTP client here.
//! let lookup = |id: u64| async move { Ok::<_, AsyncError>(vec![(id, format!("user-{id}"))]) };
//! let retry = AsyncRetryStrategy::fixed_delay(3, Duration::from_millis(100));
//! let enriched = AsyncDataStream::unordered_wait_with_retry(&ids, lookup, Duration::from_secs(5), 100, retry);
//! let out = Arc::new(Mutex::new(Vec::new()));
//! enriched.sink_to(CollectSink::new(out.clone()));
//! rfy_runtime::task::run_local(env).unwrap();
//! let mut got = out.lock().unwrap().clone();
//! got.sort();
//! assert_eq!(got.len(), 100);
//! assert_eq!(got[7], (7, "user-7".to_string()));
//! //! ```

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use super::stream::DataStream;
use crate::context::OperatorContext;
use crate::error::TaskError;
use crate::operators::async_io::AsyncWaitBuilder;
use crate::record::Record;

/// The error an async call fails with: any error type (`?` converts it).
pub type AsyncError = Box<dyn std::error::Error + Send + Sync>;

/// An asynchronous function applied to every record (Flink's
/// `AsyncFunction` / `RichAsyncFunction`): [`invoke`](Self::invoke) starts
/// the call and returns its future, which yields the output records for
/// that input (none, one or several) or an error.
///
/// Closures `Fn(In) -> impl Future<Output = Result<Vec<Out>, AsyncError>>`
/// are async functions. Each parallel instance of the operator gets its own
/// clone of the function, [`open`](Self::open)ed once before the first call.
pub trait AsyncFunction<In, Out>: Clone + Send + Sync + 'static {
    /// Called once per parallel instance before any record (Flink's
    /// `open`): create clients or the runtime the futures run on here.
    ///
    /// Errors: fail the task (e.g. a client that cannot be created, naming its address).
    fn open(&mut self, _ctx: &OperatorContext) -> Result<(), TaskError> {
        Ok(())
    }

    /// Starts the call for `input`. The future is polled on the task's thread
    /// until it completes, so it must not block; it may be a handle to work
    /// running on another runtime. It owns what it needs (`'static`): clone
    /// the client handle into it.
    fn invoke(&self, input: In) -> impl Future<Output = Result<Vec<Out>, AsyncError>> + Send + 'static;

    /// What a call that did not complete within the operator's timeout
    /// yields (Flink's `AsyncFunction.timeout`). The default fails the task
    /// with "Async function call has timed out", as Flink does; return
    /// `Ok(records)` to emit a fallback instead.
    ///
    /// Errors: fail the task.
    fn timeout(&self, _input: &In) -> Result<Vec<Out>, AsyncError> {
        Err("Async function call has timed out".into())
    }
}

impl<In, Out, F, Fut> AsyncFunction<In, Out> for F
where
    F: Fn(In) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<Out>, AsyncError>> + Send + 'static,
{
    fn invoke(&self, input: In) -> impl Future<Output = Result<Vec<Out>, AsyncError>> + Send + 'static {
        self(input)
    }
}

/// Decides from a completed call whether to retry it.
type ResultPredicate<Out> = Arc<dyn Fn(&[Out]) -> bool + Send + Sync>;
type ErrorPredicate = Arc<dyn Fn(&AsyncError) -> bool + Send + Sync>;

/// When and how often a call is retried (Flink's `AsyncRetryStrategy`, built
/// as `AsyncRetryStrategies.FixedDelayRetryStrategyBuilder`): a fixed delay
/// between attempts, at most `max_attempts` calls per record in total, a
/// retry on an error (by default every error; [`if_error`](Self::if_error)
/// narrows it) or on a result a predicate rejects ([`if_result`](Self::if_result)).
/// The operator's timeout covers all attempts of a record together.
///
/// When the attempts are used up, an error fails the task and a rejected
/// result is emitted as it is.
pub struct AsyncRetryStrategy<Out> {
    pub(crate) max_attempts: u32,
    pub(crate) delay: Duration,
    pub(crate) on_result: Option<ResultPredicate<Out>>,
    pub(crate) on_error: Option<ErrorPredicate>,
}

impl<Out> Clone for AsyncRetryStrategy<Out> {
    fn clone(&self) -> Self {
        AsyncRetryStrategy {
            max_attempts: self.max_attempts,
            delay: self.delay,
            on_result: self.on_result.clone(),
            on_error: self.on_error.clone(),
        }
    }
}

impl<Out> AsyncRetryStrategy<Out> {
    /// No retry: one attempt per record (Flink's `NO_RETRY_STRATEGY`).
    pub fn no_retry() -> Self {
        AsyncRetryStrategy { max_attempts: 1, delay: Duration::ZERO, on_result: None, on_error: None }
    }

    /// At most `max_attempts` calls per record (values below 1 count as 1),
    /// `delay` apart, retrying on every error until narrowed by [`if_error`](Self::if_error).
    pub fn fixed_delay(max_attempts: u32, delay: Duration) -> Self {
        AsyncRetryStrategy { max_attempts: max_attempts.max(1), delay, on_result: None, on_error: None }
    }

    /// Retries a call whose results make `predicate` true (e.g. an empty
    /// lookup result while the service is warming up).
    pub fn if_result(mut self, predicate: impl Fn(&[Out]) -> bool + Send + Sync + 'static) -> Self {
        self.on_result = Some(Arc::new(predicate));
        self
    }

    /// Retries only the errors `predicate` accepts; others fail the task at once.
    pub fn if_error(mut self, predicate: impl Fn(&AsyncError) -> bool + Send + Sync + 'static) -> Self {
        self.on_error = Some(Arc::new(predicate));
        self
    }

    /// After attempt number `attempt` (1 = the first call) ended with `result`:
    /// whether to call again.
    pub(crate) fn should_retry(&self, attempt: u32, result: &Result<Vec<Out>, AsyncError>) -> bool {
        if attempt >= self.max_attempts {
            return false;
        }
        match result {
            Ok(records) => self.on_result.as_ref().is_some_and(|p| p(records)),
            Err(e) => self.on_error.as_ref().is_none_or(|p| p(e)),
        }
    }
}

/// In which order the results leave the operator (Flink's `AsyncDataStream.OutputMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// In input order: a slow call holds back the results after it.
    Ordered,
    /// As calls complete, but never across a watermark: the records between
    /// two watermarks may be reordered among themselves only.
    Unordered,
}

/// Applies an [`AsyncFunction`] to a stream (Flink's `AsyncDataStream`).
///
/// `timeout` bounds each record's call (all its attempts); `capacity` is the
/// most records in flight (or completed and waiting to be emitted in order)
/// per parallel instance: a full operator blocks its input (backpressure).
/// A capacity of 0 counts as 1.
pub struct AsyncDataStream;

impl AsyncDataStream {
    /// Results emitted as their calls complete (watermarks keep their place).
    pub fn unordered_wait<In: Record, Out: Record, F: AsyncFunction<In, Out>>(
        stream: &DataStream<In>,
        function: F,
        timeout: Duration,
        capacity: usize,
    ) -> DataStream<Out> {
        Self::add(stream, function, timeout, capacity, OutputMode::Unordered, AsyncRetryStrategy::no_retry())
    }

    /// Results emitted in input order.
    pub fn ordered_wait<In: Record, Out: Record, F: AsyncFunction<In, Out>>(
        stream: &DataStream<In>,
        function: F,
        timeout: Duration,
        capacity: usize,
    ) -> DataStream<Out> {
        Self::add(stream, function, timeout, capacity, OutputMode::Ordered, AsyncRetryStrategy::no_retry())
    }

    /// [`unordered_wait`](Self::unordered_wait) retrying calls by `retry`.
    pub fn unordered_wait_with_retry<In: Record, Out: Record, F: AsyncFunction<In, Out>>(
        stream: &DataStream<In>,
        function: F,
        timeout: Duration,
        capacity: usize,
        retry: AsyncRetryStrategy<Out>,
    ) -> DataStream<Out> {
        Self::add(stream, function, timeout, capacity, OutputMode::Unordered, retry)
    }

    /// [`ordered_wait`](Self::ordered_wait) retrying calls by `retry`.
    pub fn ordered_wait_with_retry<In: Record, Out: Record, F: AsyncFunction<In, Out>>(
        stream: &DataStream<In>,
        function: F,
        timeout: Duration,
        capacity: usize,
        retry: AsyncRetryStrategy<Out>,
    ) -> DataStream<Out> {
        Self::add(stream, function, timeout, capacity, OutputMode::Ordered, retry)
    }

    fn add<In: Record, Out: Record, F: AsyncFunction<In, Out>>(
        stream: &DataStream<In>,
        function: F,
        timeout: Duration,
        capacity: usize,
        mode: OutputMode,
        retry: AsyncRetryStrategy<Out>,
    ) -> DataStream<Out> {
        let builder =
            AsyncWaitBuilder { function, timeout, capacity: capacity.max(1), mode, retry, _types: PhantomData };
        stream.then("Async Wait", Arc::new(builder))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_strategy_counts_attempts_and_applies_predicates() {
        let never: AsyncRetryStrategy<u32> = AsyncRetryStrategy::no_retry();
        assert!(!never.should_retry(1, &Err("boom".into())));

        let s = AsyncRetryStrategy::<u32>::fixed_delay(3, Duration::from_millis(5));
        assert!(s.should_retry(1, &Err("boom".into())));
        assert!(s.should_retry(2, &Err("boom".into())));
        assert!(!s.should_retry(3, &Err("boom".into())), "3 calls in total");
        assert!(!s.should_retry(1, &Ok(vec![])), "results are accepted without a result predicate");

        let s = s.if_result(|r: &[u32]| r.is_empty()).if_error(|e| e.to_string().contains("503"));
        assert!(s.should_retry(1, &Ok(vec![])));
        assert!(!s.should_retry(1, &Ok(vec![7])));
        assert!(s.should_retry(1, &Err("HTTP 503".into())));
        assert!(!s.should_retry(1, &Err("HTTP 404".into())), "an error the predicate rejects is final");
        assert_eq!(AsyncRetryStrategy::<u32>::fixed_delay(0, Duration::ZERO).max_attempts, 1);
    }
}
