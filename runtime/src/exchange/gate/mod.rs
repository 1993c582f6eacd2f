//! The input gate: reads a task's input channels, hands typed record batches
//! (from tasks of this process) to the chain as they are and decodes network
//! buffers (from other TaskManagers) into record batches. Two state machines
//! decide what else goes down the chain, each in its own file:
//! - [`watermark_valve`]: the gate's watermark and status from its channels'
//!   (Flink's `StatusWatermarkValve`);
//! - [`barrier_aligner`]: checkpoint barrier alignment (Flink's
//!   `CheckpointBarrierHandler`).

mod barrier_aligner;
#[cfg(test)]
mod tests;
mod watermark_valve;

use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use self::barrier_aligner::BarrierAligner;
use self::watermark_valve::{ValveOutput, WatermarkValve};
use super::{ChannelReceiver, NetMessage, TypedBatch};
use crate::checkpoint::TaskCheckpointing;
use crate::error::TaskError;
use crate::event::{CheckpointBarrier, Event};
use crate::record::{decode_all, decode_all_timestamped, Record, TIMESTAMPED};
use crate::task::wakeup::{self, Wakeup};
use crate::task::{usage_permille, Output, TaskControl, TaskHead, TaskMetrics};

/// The gate samples its channels' fill (`buffers.inPoolUsage`) once per this many buffers read.
const POOL_SAMPLE_EVERY: u32 = 32;

/// How long a gate whose producer went away before its end (a local channel
/// disconnected, or a remote one's bridge reported it lost) waits for its own
/// cancellation before it fails. A producer only goes away early when it
/// failed or was canceled, and then (as when a stop-with-savepoint ends the
/// job) the JobManager cancels this task too, one call per task: a task
/// canceled within this time ends as canceled, not as a failure logged as an
/// error.
const CANCEL_GRACE: Duration = Duration::from_secs(1);

/// The head of a task that reads records from other tasks.
pub(crate) struct NetworkInput<T> {
    channels: Vec<ChannelReceiver>,
    /// Per channel: delivered `EndOfInput` (its producer is done).
    ended: Vec<bool>,
    /// Per channel: delivered `EndOfData`: no more records, but barriers and
    /// its `EndOfInput` still come (final checkpoint).
    data_ended: Vec<bool>,
    valve: WatermarkValve,
    aligner: BarrierAligner,
    next: Box<dyn Output<T>>,
    batch: Vec<T>,
    timestamps: Vec<i64>,
    /// `EndOfData` went down the chain (every channel's data ended).
    data_end_sent: bool,
    checkpointing: Option<Arc<TaskCheckpointing>>,
    flush_interval: Duration,
    cursor: usize,
    name: String,
    /// The task's metrics (idle time, input watermark, pool usage); set by `run`.
    metrics: Arc<TaskMetrics>,
    /// Buffers read since the last pool-usage sample.
    since_sample: u32,
    /// Wakes the gate's wait for an operator whose work completed off the
    /// task thread (see [`crate::task::wakeup`]); installed by `run`.
    wakeup: (Wakeup, flume::Receiver<()>),
    _records: PhantomData<fn() -> T>,
}

impl<T: Record> NetworkInput<T> {
    pub(crate) fn new(
        receivers: Vec<ChannelReceiver>,
        next: Box<dyn Output<T>>,
        flush_interval: Duration,
        name: String,
    ) -> Self {
        let n = receivers.len();
        NetworkInput {
            channels: receivers,
            ended: vec![false; n],
            data_ended: vec![false; n],
            valve: WatermarkValve::new(n),
            aligner: BarrierAligner::new(n),
            next,
            batch: Vec::new(),
            timestamps: Vec::new(),
            data_end_sent: false,
            checkpointing: None,
            flush_interval,
            cursor: 0,
            name,
            metrics: Arc::default(),
            since_sample: 0,
            wakeup: Wakeup::channel(),
            _records: PhantomData,
        }
    }

    #[inline]
    fn readable(&self, i: usize) -> bool {
        !self.ended[i] && !self.aligner.is_blocked(i)
    }

    /// The next message from a readable channel, or `None` after waiting
    /// `flush_interval` with nothing to read or when an operator woke the task.
    fn next_message(&mut self) -> Result<Option<(usize, NetMessage)>, TaskError> {
        let n = self.channels.len();
        // Fast path: round robin over ready channels, no allocation.
        for k in 0..n {
            let i = (self.cursor + k) % n;
            if !self.readable(i) {
                continue;
            }
            match self.channels[i].try_recv() {
                Ok(msg) => {
                    self.cursor = (i + 1) % n;
                    self.since_sample += 1;
                    if self.since_sample >= POOL_SAMPLE_EVERY {
                        self.sample_pool_usage();
                    }
                    return Ok(Some((i, msg)));
                }
                Err(flume::TryRecvError::Empty) => {}
                Err(flume::TryRecvError::Disconnected) => return Err(self.closed(i)),
            }
        }
        // Nothing ready: block on all readable channels at once; the wait is idle time.
        self.metrics.in_pool_usage_permille.store(0, Ordering::Relaxed);
        let waiting = std::time::Instant::now();
        let mut selector = flume::Selector::new();
        for (i, rx) in self.channels.iter().enumerate() {
            if self.readable(i) {
                selector = selector.recv(rx, move |r| Some((i, r)));
            }
        }
        selector = selector.recv(&self.wakeup.1, |_| None);
        let got = selector.wait_timeout(self.flush_interval);
        TaskMetrics::add_time(&self.metrics.idle_ns, waiting);
        match got {
            Ok(Some((i, Ok(msg)))) => Ok(Some((i, msg))),
            Ok(Some((i, Err(_)))) => Err(self.closed(i)),
            Ok(None) | Err(_) => Ok(None),
        }
    }

    /// Stores the input channels' fill against their capacity (Flink's `inPoolUsage`).
    #[cold]
    fn sample_pool_usage(&mut self) {
        self.since_sample = 0;
        let lens = self.channels.iter().map(|rx| (rx.len(), rx.capacity().unwrap_or(1)));
        self.metrics.in_pool_usage_permille.store(usage_permille(lens), Ordering::Relaxed);
    }

    /// Forwards what the watermark valve decided: the new watermark, then the new status.
    fn forward(&mut self, out: ValveOutput) -> Result<(), TaskError> {
        if let Some(w) = out.watermark {
            self.metrics.input_watermark.store(w, Ordering::Relaxed);
            self.next.push_event(&Event::Watermark(w))?;
        }
        if let Some(status) = out.status {
            self.next.push_event(&Event::Status(status))?;
        }
        Ok(())
    }

    /// Forwards barrier `b` once aligned, and tells the task's checkpointing it passed.
    fn forward_barrier(&mut self, b: Option<CheckpointBarrier>) -> Result<(), TaskError> {
        let Some(b) = b else { return Ok(()) };
        self.next.push_event(&Event::Barrier(b))?;
        if let Some(cp) = &self.checkpointing {
            cp.barrier_passed(&b);
        }
        Ok(())
    }

    fn closed(&self, i: usize) -> TaskError {
        TaskError::ChannelClosed(format!("{}: producer of input channel {i} went away before its end", self.name))
    }

    fn on_event(&mut self, i: usize, event: Event) -> Result<(), TaskError> {
        match event {
            Event::Watermark(w) => {
                let out = self.valve.on_watermark(i, w);
                self.forward(out)
            }
            Event::Status(status) => {
                let out = self.valve.on_status(i, status);
                self.forward(out)
            }
            Event::Barrier(b) => {
                // At-least-once: count the barrier but keep reading the channel.
                let exactly_once = self.checkpointing.as_ref().is_none_or(|c| c.exactly_once());
                let aligned = self.aligner.on_barrier(i, b, exactly_once, &self.ended);
                self.forward_barrier(aligned)
            }
            Event::EndOfInput => {
                self.ended[i] = true;
                let out = self.valve.on_channel_end(i);
                self.forward(out)?;
                let aligned = self.aligner.on_channel_end(&self.ended);
                self.forward_barrier(aligned)
            }
            Event::EndOfData => {
                // Forwarded once, when no channel can bring records any
                // more; the channels stay open for the final barrier.
                self.data_ended[i] = true;
                if !self.data_end_sent && self.data_ended.iter().zip(&self.ended).all(|(d, e)| *d || *e) {
                    self.data_end_sent = true;
                    self.next.push_event(&Event::EndOfData)?;
                }
                Ok(())
            }
            Event::Flush => Ok(()),
        }
    }
}

impl<T: Record> TaskHead for NetworkInput<T> {
    fn run(&mut self, control: &TaskControl) -> Result<(), TaskError> {
        let metrics = control.metrics.clone();
        self.metrics = metrics.clone();
        let _wakeup = wakeup::install(self.wakeup.0.clone());
        self.checkpointing = control.checkpointing.clone();
        while self.ended.iter().any(|e| !e) {
            control.check()?;
            let message = match self.next_message() {
                Err(closed @ TaskError::ChannelClosed(_)) => return Err(canceled_or(control, closed)),
                m => m?,
            };
            match message {
                None => self.next.push_event(&Event::Flush)?,
                Some((i, NetMessage::Records(batch))) => {
                    let bytes = batch.estimated_bytes() as u64;
                    let Ok(batch) = batch.into_any().downcast::<TypedBatch<T>>() else {
                        return Err(TaskError::Mismatch(format!(
                            "{}: input channel {i} carries records of another type than {}",
                            self.name,
                            std::any::type_name::<T>()
                        )));
                    };
                    let TypedBatch { mut records, mut timestamps, timestamped } = *batch;
                    metrics.records_in.fetch_add(records.len() as u64, Ordering::Relaxed);
                    metrics.bytes_in.fetch_add(bytes, Ordering::Relaxed);
                    if timestamped {
                        self.next.push_timestamped(&mut records, &mut timestamps)?;
                    } else {
                        self.next.push_batch(&mut records)?;
                    }
                }
                Some((_, NetMessage::Data { bytes, records })) if records & TIMESTAMPED == 0 => {
                    decode_all(&bytes, records, &mut self.batch)?;
                    metrics.records_in.fetch_add(records as u64, Ordering::Relaxed);
                    metrics.bytes_in.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    self.next.push_batch(&mut self.batch)?;
                }
                Some((_, NetMessage::Data { bytes, records })) => {
                    let count = records & !TIMESTAMPED;
                    decode_all_timestamped(&bytes, count, &mut self.batch, &mut self.timestamps)?;
                    metrics.records_in.fetch_add(count as u64, Ordering::Relaxed);
                    metrics.bytes_in.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    self.next.push_timestamped(&mut self.batch, &mut self.timestamps)?;
                }
                Some((i, NetMessage::Event(e))) => self.on_event(i, e)?,
                Some((i, NetMessage::Failed(cause))) => {
                    let closed = TaskError::ChannelClosed(format!("{}: input channel {i}: {cause}", self.name));
                    return Err(canceled_or(control, closed));
                }
            }
        }
        self.next.push_event(&Event::EndOfInput)
    }
}

/// `Canceled` if `control` is canceled within [`CANCEL_GRACE`], else `closed`.
#[cold]
fn canceled_or(control: &TaskControl, closed: TaskError) -> TaskError {
    let deadline = std::time::Instant::now() + CANCEL_GRACE;
    while control.check().is_ok() {
        if std::time::Instant::now() >= deadline {
            return closed;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    TaskError::Canceled
}
