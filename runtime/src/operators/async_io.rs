//! The async I/O operator (Flink's `AsyncWaitOperator`): starts the user's
//! call per record, keeps up to `capacity` records queued (in flight, waiting
//! for a retry, or completed and waiting for their turn), emits results by
//! the [`ElementQueue`]'s order and snapshots the queued inputs at barriers.
//!
//! The futures are polled on the task's thread whenever the chain calls the
//! operator (a batch or an event, including the flush the input gate sends
//! when woken), and while it waits: for room when full, for the queue to
//! drain at the end of input. Their waker unparks the task's thread and
//! wakes the input gate's wait (the task's [`Wakeup`]), so a completed call
//! is taken at once, with no busy polling; timeouts and retry delays are
//! checked on each poll (waits wake up for the earliest of them).
//!
//! Per record the operator allocates the boxed future (and the call's result
//! vector): the price of a call whose future type each user function chooses.

use std::collections::VecDeque;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::future::{AbortHandle, Abortable, Aborted};
use futures::stream::{FuturesUnordered, StreamExt};
use futures::task::ArcWake;

use super::async_io_queue::{CallState, ElementQueue};
use crate::api::{AsyncError, AsyncFunction, AsyncRetryStrategy, OutputMode};
use crate::checkpoint::{OperatorSnapshot, TaskCheckpointing};
use crate::context::OperatorContext;
use crate::error::TaskError;
use crate::event::{Event, NO_TIMESTAMP};
use crate::graph::OperatorBuilder;
use crate::record::Record;
use crate::task::output::{erase, unerase, AnyOutput};
use crate::task::wakeup::{self, Wakeup};
use crate::task::Output;

/// A wait re-checks timeouts and retries at least this often.
const MAX_PARK: Duration = Duration::from_millis(50);

type CallOutcome<Out> = (u64, u32, Result<Result<Vec<Out>, AsyncError>, Aborted>);
type Call<Out> = Pin<Box<dyn Future<Output = CallOutcome<Out>> + Send>>;

/// Wakes the task's thread: unparks it when the operator waits (full, or
/// draining at the end of input) and ends the input gate's wait through the
/// task's [`Wakeup`] (both taken at the first poll, which runs on that thread).
#[derive(Default)]
struct ThreadWaker {
    thread: OnceLock<(std::thread::Thread, Option<Wakeup>)>,
}

impl ArcWake for ThreadWaker {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        if let Some((thread, wakeup)) = arc_self.thread.get() {
            thread.unpark();
            if let Some(w) = wakeup {
                w.wake();
            }
        }
    }
}

struct AsyncWaitOp<In, Out, F> {
    function: F,
    queue: ElementQueue<In, Out>,
    calls: FuturesUnordered<Call<Out>>,
    /// Records waiting for a retry: (when, sequence number), in time order.
    retries: VecDeque<(Instant, u64)>,
    waker: Arc<ThreadWaker>,
    timeout: Duration,
    capacity: usize,
    retry: AsyncRetryStrategy<Out>,
    /// The input carried timestamps: results go on with them.
    timestamped: bool,
    out: Vec<Out>,
    out_ts: Vec<i64>,
    scratch: Vec<u64>,
    next: Box<dyn Output<Out>>,
    name: String,
    uid: String,
    checkpointing: Option<Arc<TaskCheckpointing>>,
}

impl<In: Record, Out: Record, F: AsyncFunction<In, Out>> AsyncWaitOp<In, Out, F> {
    /// Starts attempt `attempt` of record `seq`'s call.
    fn call(&mut self, seq: u64, attempt: u32, input: In) -> AbortHandle {
        let (abort, registration) = AbortHandle::new_pair();
        let call = Abortable::new(self.function.invoke(input), registration);
        self.calls.push(Box::pin(async move { (seq, attempt, call.await) }));
        abort
    }

    /// Queues `input` and starts its call.
    fn start(&mut self, input: In, timestamp: i64, deadline: Instant) {
        let seq = self.queue.push_record(input.clone(), timestamp, deadline, CallState::Delayed);
        let abort = self.call(seq, 1, input);
        if let Some(e) = self.queue.entry_mut(seq) {
            e.state = CallState::InFlight(abort);
        }
    }

    /// Starts due retries, takes the completed calls, handles timeouts.
    fn poll(&mut self) -> Result<(), TaskError> {
        self.waker.thread.get_or_init(|| (std::thread::current(), wakeup::current()));
        let now = Instant::now();
        while let Some(&(at, seq)) = self.retries.front() {
            if at > now {
                break;
            }
            self.retries.pop_front();
            let Some(e) = self.queue.entry_mut(seq) else { continue };
            if !matches!(e.state, CallState::Delayed) {
                continue;
            }
            e.attempts += 1;
            let (attempt, input) = (e.attempts, e.input.clone());
            let abort = self.call(seq, attempt, input);
            if let Some(e) = self.queue.entry_mut(seq) {
                e.state = CallState::InFlight(abort);
            }
        }
        let waker = futures::task::waker(self.waker.clone());
        let mut cx = Context::from_waker(&waker);
        while let Poll::Ready(Some((seq, attempt, outcome))) = self.calls.poll_next_unpin(&mut cx) {
            // An aborted call timed out: its record was settled then.
            if let Ok(result) = outcome {
                self.on_result(seq, attempt, result, now)?;
            }
        }
        self.scratch.clear();
        self.queue.timed_out(now, &mut self.scratch);
        for i in 0..self.scratch.len() {
            let seq = self.scratch[i];
            let Some(e) = self.queue.entry_mut(seq) else { continue };
            if let CallState::InFlight(abort) = &e.state {
                abort.abort();
            }
            match self.function.timeout(&e.input) {
                Ok(results) => self.queue.complete(seq, results),
                Err(err) => {
                    return Err(TaskError::User(format!(
                        "{}: {err} (timeout {} ms, {} attempt(s))",
                        self.name,
                        self.timeout.as_millis(),
                        e.attempts
                    )))
                }
            }
        }
        Ok(())
    }

    fn on_result(
        &mut self,
        seq: u64,
        attempt: u32,
        result: Result<Vec<Out>, AsyncError>,
        now: Instant,
    ) -> Result<(), TaskError> {
        let Some(e) = self.queue.entry_mut(seq) else { return Ok(()) };
        if e.attempts != attempt || !matches!(e.state, CallState::InFlight(_)) {
            return Ok(());
        }
        if self.retry.should_retry(attempt, &result) {
            e.state = CallState::Delayed;
            self.retries.push_back((now + self.retry.delay, seq));
            return Ok(());
        }
        match result {
            Ok(results) => {
                self.queue.complete(seq, results);
                Ok(())
            }
            Err(err) => {
                Err(TaskError::User(format!("{}: async call failed after {attempt} attempt(s): {err}", self.name)))
            }
        }
    }

    /// Passes on every result and watermark that may leave now.
    fn emit(&mut self) -> Result<(), TaskError> {
        loop {
            let watermark = self.queue.pop_ready(&mut self.out, &mut self.out_ts);
            if !self.out.is_empty() {
                if self.timestamped {
                    self.next.push_timestamped(&mut self.out, &mut self.out_ts)?;
                } else {
                    self.out_ts.clear();
                    self.next.push_batch(&mut self.out)?;
                }
            }
            self.out_ts.clear();
            match watermark {
                Some(w) => self.next.push_event(&Event::Watermark(w))?,
                None => return Ok(()),
            }
        }
    }

    /// Polls and emits until `done`, parking the thread between polls.
    fn wait_until(&mut self, done: impl Fn(&Self) -> bool) -> Result<(), TaskError> {
        loop {
            self.poll()?;
            self.emit()?;
            if done(self) {
                return Ok(());
            }
            let now = Instant::now();
            let mut until = now + MAX_PARK;
            if let Some(d) = self.queue.next_deadline() {
                until = until.min(d);
            }
            if let Some(&(at, _)) = self.retries.front() {
                until = until.min(at);
            }
            std::thread::park_timeout(until.saturating_duration_since(now));
        }
    }

    fn process(&mut self, batch: &mut Vec<In>, timestamps: Option<&mut Vec<i64>>) -> Result<(), TaskError> {
        let deadline = Instant::now() + self.timeout;
        let mut ts = timestamps.map(|t| t.drain(..));
        for rec in batch.drain(..) {
            let t = ts.as_mut().and_then(|t| t.next()).unwrap_or(NO_TIMESTAMP);
            if self.queue.records() >= self.capacity {
                self.wait_until(|s| s.queue.records() < s.capacity)?;
            }
            self.start(rec, t, deadline);
        }
        self.poll()?;
        self.emit()
    }

    /// Saves the input (and timestamp) of every queued record as one operator state item each.
    fn snapshot(&self, cp: &TaskCheckpointing, checkpoint: u64) -> Result<(), TaskError> {
        let mut items = Vec::with_capacity(self.queue.records());
        for (_, e) in self.queue.entries() {
            match postcard::to_allocvec(&(e.timestamp, &e.input)) {
                Ok(bytes) => items.push(bytes),
                Err(err) => {
                    cp.decline(checkpoint, format!("{}: cannot serialize an in-flight record: {err}", self.name));
                    return Ok(());
                }
            }
        }
        cp.add_snapshot(&self.uid, OperatorSnapshot { operator: items, ..Default::default() });
        Ok(())
    }
}

impl<In: Record, Out: Record, F: AsyncFunction<In, Out>> Output<In> for AsyncWaitOp<In, Out, F> {
    fn push_batch(&mut self, batch: &mut Vec<In>) -> Result<(), TaskError> {
        self.process(batch, None)
    }

    fn push_timestamped(&mut self, batch: &mut Vec<In>, timestamps: &mut Vec<i64>) -> Result<(), TaskError> {
        self.timestamped = true;
        self.process(batch, Some(timestamps))
    }

    fn push_event(&mut self, event: &Event) -> Result<(), TaskError> {
        match event {
            Event::Watermark(w) => {
                self.poll()?;
                self.emit()?;
                if self.queue.is_empty() {
                    return self.next.push_event(event);
                }
                self.queue.push_watermark(*w);
                Ok(())
            }
            Event::Barrier(b) => {
                self.poll()?;
                self.emit()?;
                if let Some(cp) = &self.checkpointing {
                    self.snapshot(cp, b.id)?;
                }
                self.next.push_event(event)
            }
            Event::EndOfData | Event::EndOfInput => {
                self.wait_until(|s| s.queue.is_empty())?;
                self.next.push_event(event)
            }
            Event::Flush | Event::Status(_) => {
                self.poll()?;
                self.emit()?;
                self.next.push_event(event)
            }
        }
    }
}

/// Builds an async I/O operator.
pub(crate) struct AsyncWaitBuilder<In, Out, F> {
    pub(crate) function: F,
    pub(crate) timeout: Duration,
    pub(crate) capacity: usize,
    pub(crate) mode: OutputMode,
    pub(crate) retry: AsyncRetryStrategy<Out>,
    pub(crate) _types: PhantomData<fn(In) -> Out>,
}

impl<In: Record, Out: Record, F: AsyncFunction<In, Out>> OperatorBuilder for AsyncWaitBuilder<In, Out, F> {
    fn build(&self, ctx: &OperatorContext, next: AnyOutput) -> Result<AnyOutput, TaskError> {
        let next = unerase::<Out>(next, &ctx.operator_name)?;
        let mut function = self.function.clone();
        function.open(ctx)?;
        let mut op = AsyncWaitOp {
            function,
            queue: ElementQueue::new(self.mode == OutputMode::Ordered),
            calls: FuturesUnordered::new(),
            retries: VecDeque::new(),
            waker: Arc::default(),
            timeout: self.timeout,
            capacity: self.capacity,
            retry: self.retry.clone(),
            timestamped: false,
            out: Vec::new(),
            out_ts: Vec::new(),
            scratch: Vec::new(),
            next,
            name: ctx.task_name.clone(),
            uid: ctx.uid.clone(),
            checkpointing: ctx.checkpointing.clone(),
        };
        // Re-issue the calls of the records in flight at the checkpoint restored from.
        if let Some(cp) = &ctx.checkpointing {
            let items = cp.restored_operator(&ctx.uid, ctx.subtask_index, ctx.parallelism)?.unwrap_or_default();
            let deadline = Instant::now() + self.timeout;
            for bytes in &items {
                let (timestamp, input): (i64, In) = postcard::from_bytes(bytes).map_err(|e| {
                    TaskError::State(format!(
                        "{}: an in-flight record of operator {} cannot be read: {e}",
                        ctx.task_name, ctx.uid
                    ))
                })?;
                op.timestamped |= timestamp != NO_TIMESTAMP;
                op.start(input, timestamp, deadline);
            }
            if !items.is_empty() {
                tracing::info!(operator = %ctx.uid, subtask = ctx.subtask_index, records = items.len(), "async I/O: in-flight records re-issued");
            }
        }
        Ok(erase::<In>(Box::new(op)))
    }
}

#[cfg(test)]
#[path = "async_io_tests.rs"]
mod tests;
