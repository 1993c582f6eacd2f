//! Source driver: the head of a source task. Polls the source's reader for
//! batches and pushes them down the chain; between batches it takes
//! checkpoint triggers, snapshots the reader (split and offset) and injects
//! the barrier; ends the stream with the maximum watermark and end-of-input
//! when a bounded source is done, or when a stop with drain's savepoint
//! completed (Flink's `flink stop --drain`).

use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::checkpoint::{OperatorSnapshot, SourceTrigger, TaskCheckpointing};
use crate::context::OperatorContext;
use crate::error::TaskError;
use crate::event::{Event, WatermarkStatus, MAX_WATERMARK, NO_TIMESTAMP};
use crate::graph::SourceBuilder;
use crate::record::Record;
use crate::sources::{Source, SourceOutput, SourceReader, SourceStatus};
use crate::task::output::{unerase, AnyOutput};
use crate::task::{Output, TaskControl, TaskHead, TaskMetrics};

struct SourceDriver<T> {
    reader: Box<dyn SourceReader<T>>,
    next: Box<dyn Output<T>>,
    batch: Vec<T>,
    timestamps: Vec<i64>,
    /// Highest watermark the reader emitted.
    watermark: i64,
    idle: bool,
    uid: String,
    /// Stop-with-savepoint took its savepoint: emit nothing more.
    stopped: bool,
    /// The maximum watermark and `EndOfData` went out (input ended, or a drain).
    data_ended: bool,
    /// A stop with drain injected the barrier of this savepoint: the stream
    /// ends once it completed.
    drained_at: Option<u64>,
}

impl<T: Record> SourceDriver<T> {
    fn checkpoint(&mut self, cp: &TaskCheckpointing, t: SourceTrigger) -> Result<(), TaskError> {
        if t.stop && t.drain {
            // Flink's drain: event time to its end, so that every window and
            // timer fires and operators flush, before the savepoint's barrier.
            tracing::info!(checkpoint = t.barrier.id, "source drains before the savepoint barrier");
            self.end_data()?;
        }
        match self.reader.snapshot_state_for(t.barrier.id) {
            Ok(items) => cp.add_snapshot(&self.uid, OperatorSnapshot { operator: items, ..Default::default() }),
            Err(e) => {
                cp.decline(t.barrier.id, format!("source {}: {e}", self.uid));
                return Ok(());
            }
        }
        self.next.push_event(&Event::Barrier(t.barrier))?;
        cp.barrier_passed(&t.barrier);
        if t.stop && t.drain {
            self.drained_at = Some(t.barrier.id);
        } else if t.stop {
            tracing::info!(checkpoint = t.barrier.id, "source stops after the savepoint barrier");
            self.stopped = true;
        }
        Ok(())
    }

    /// Sends the maximum watermark and `EndOfData`, once.
    fn end_data(&mut self) -> Result<(), TaskError> {
        if !self.data_ended {
            self.data_ended = true;
            self.next.push_event(&Event::Watermark(MAX_WATERMARK))?;
            self.next.push_event(&Event::EndOfData)?;
        }
        Ok(())
    }

    /// FLIP-147: after `EndOfData`, takes part in checkpoints (its reader's
    /// position is the end) until one triggered after the end of input has
    /// completed; only then may the stream end, so that every record reached
    /// the sinks' committed output through a checkpoint. A failure before
    /// that restores from an earlier checkpoint and replays.
    /// A drained source (`first_after_end`: its savepoint) waits the same way for that savepoint.
    fn await_final_checkpoint(
        &mut self,
        cp: &TaskCheckpointing,
        control: &TaskControl,
        mut first_after_end: Option<u64>,
    ) -> Result<(), TaskError> {
        loop {
            control.check()?;
            if let Some(t) = cp.wait_trigger(Duration::from_millis(10)) {
                first_after_end.get_or_insert(t.barrier.id);
                self.checkpoint(cp, t)?;
            }
            if first_after_end.is_some_and(|id| cp.last_completed() >= id) {
                tracing::debug!(checkpoint = cp.last_completed(), "final checkpoint completed: ending the stream");
                return Ok(());
            }
        }
    }
}

impl<T: Record> SourceDriver<T> {
    /// Forwards what the reader said about event time in its last poll.
    fn emit_watermark(&mut self, watermark: Option<i64>, status: Option<WatermarkStatus>) -> Result<(), TaskError> {
        if let Some(w) = watermark.filter(|w| *w > self.watermark) {
            if self.idle {
                self.idle = false;
                self.next.push_event(&Event::Status(WatermarkStatus::Active))?;
            }
            self.watermark = w;
            self.next.push_event(&Event::Watermark(w))?;
        }
        match status {
            Some(WatermarkStatus::Idle) if !self.idle => {
                self.idle = true;
                self.next.push_event(&Event::Status(WatermarkStatus::Idle))
            }
            Some(WatermarkStatus::Active) if self.idle => {
                self.idle = false;
                self.next.push_event(&Event::Status(WatermarkStatus::Active))
            }
            _ => Ok(()),
        }
    }
}

impl<T: Record> TaskHead for SourceDriver<T> {
    fn run(&mut self, control: &TaskControl) -> Result<(), TaskError> {
        let metrics = &control.metrics;
        loop {
            control.check()?;
            if let Some(cp) = &control.checkpointing {
                while let Some(t) = cp.poll_trigger() {
                    self.checkpoint(cp, t)?;
                }
            }
            // A drain's savepoint came through the checkpointing hub, so it is there.
            if let Some((savepoint, cp)) = self.drained_at.zip(control.checkpointing.as_ref()) {
                self.await_final_checkpoint(cp, control, Some(savepoint))?;
                tracing::info!(checkpoint = savepoint, "drained: the savepoint completed, ending the stream");
                return self.next.push_event(&Event::EndOfInput);
            }
            if self.stopped {
                let waiting = std::time::Instant::now();
                std::thread::sleep(Duration::from_millis(20));
                TaskMetrics::add_time(&metrics.idle_ns, waiting);
                continue;
            }
            let mut output = SourceOutput::new(&mut self.batch, &mut self.timestamps);
            let polled = std::time::Instant::now();
            let status = self.reader.poll_output(&mut output)?;
            let (watermark, wm_status) = (output.watermark(), output.status());
            if self.batch.is_empty() {
                // A poll that brought nothing (a reader waiting for data or
                // for its rate limit) is a source's idle time, as in Flink.
                TaskMetrics::add_time(&metrics.idle_ns, polled);
            }
            if !self.batch.is_empty() {
                metrics.records_in.fetch_add(self.batch.len() as u64, Ordering::Relaxed);
                if self.idle {
                    self.idle = false;
                    self.next.push_event(&Event::Status(WatermarkStatus::Active))?;
                }
                if self.timestamps.is_empty() {
                    self.next.push_batch(&mut self.batch)?;
                } else {
                    self.timestamps.resize(self.batch.len(), NO_TIMESTAMP);
                    self.next.push_timestamped(&mut self.batch, &mut self.timestamps)?;
                }
            }
            self.emit_watermark(watermark, wm_status)?;
            match status {
                SourceStatus::Available => {}
                SourceStatus::Idle => self.next.push_event(&Event::Flush)?,
                SourceStatus::Finished => {
                    if let Some(cp) = control.checkpointing.as_ref().filter(|cp| cp.final_checkpoint()) {
                        self.end_data()?;
                        cp.source_end_of_input();
                        self.await_final_checkpoint(cp, control, None)?;
                    } else {
                        self.next.push_event(&Event::Watermark(MAX_WATERMARK))?;
                    }
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
        Ok(Box::new(SourceDriver {
            reader,
            next,
            batch: Vec::new(),
            timestamps: Vec::new(),
            watermark: i64::MIN,
            idle: false,
            uid: ctx.uid.clone(),
            stopped: false,
            data_ended: false,
            drained_at: None,
        }))
    }
    fn bounded(&self) -> bool {
        self.0.bounded()
    }
}
