//! The timestamps-and-watermarks operator (Flink's
//! `TimestampsAndWatermarksOperator`): assigns each record its timestamp,
//! feeds the watermark generator, emits watermarks periodically and marks
//! the stream idle after the strategy's idleness timeout. Watermarks from
//! upstream are dropped (this operator defines event time from here on),
//! except the final one that ends event time.

use std::marker::PhantomData;
use std::time::{Duration, Instant};

use crate::context::OperatorContext;
use crate::error::TaskError;
use crate::event::{Event, WatermarkStatus, MAX_WATERMARK, NO_TIMESTAMP};
use crate::graph::OperatorBuilder;
use crate::record::Record;
use crate::task::output::{erase, unerase, AnyOutput};
use crate::task::Output;
use crate::time::{TimestampAssigner, WatermarkGenerator, WatermarkOutput, WatermarkStrategy};

struct TimestampsOp<T, G, A> {
    generator: G,
    assigner: A,
    interval: Option<Duration>,
    idleness: Option<Duration>,
    last_periodic: Instant,
    last_record: Instant,
    watermark: i64,
    idle: bool,
    wm_out: WatermarkOutput,
    timestamps: Vec<i64>,
    next: Box<dyn Output<T>>,
}

impl<T: Record, G: WatermarkGenerator<T>, A: TimestampAssigner<T>> TimestampsOp<T, G, A> {
    fn assign(&mut self, batch: &mut Vec<T>, previous: Option<&[i64]>) -> Result<(), TaskError> {
        if batch.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        self.last_record = now;
        if self.idle {
            self.idle = false;
            self.next.push_event(&Event::Status(WatermarkStatus::Active))?;
        }
        self.timestamps.clear();
        self.timestamps.reserve(batch.len());
        for (i, rec) in batch.iter().enumerate() {
            let prev = previous.map_or(NO_TIMESTAMP, |p| p[i]);
            let t = self.assigner.extract_timestamp(rec, prev);
            self.generator.on_event(rec, t, &mut self.wm_out);
            self.timestamps.push(t);
        }
        self.next.push_timestamped(batch, &mut self.timestamps)?;
        self.on_time(now)
    }

    /// Periodic emission and idleness, then whatever the generator emitted.
    fn on_time(&mut self, now: Instant) -> Result<(), TaskError> {
        if let Some(iv) = self.interval {
            if now.duration_since(self.last_periodic) >= iv {
                self.last_periodic = now;
                self.generator.on_periodic_emit(&mut self.wm_out);
            }
        }
        let (wm, idle) = self.wm_out.take();
        let idle_by_timeout = self.idleness.is_some_and(|t| now.duration_since(self.last_record) >= t);
        if let Some(w) = wm.filter(|w| *w > self.watermark) {
            if !idle_by_timeout && self.idle {
                self.idle = false;
                self.next.push_event(&Event::Status(WatermarkStatus::Active))?;
            }
            if !self.idle {
                self.watermark = w;
                self.next.push_event(&Event::Watermark(w))?;
            }
        }
        let want_idle = match idle {
            Some(i) => i || idle_by_timeout,
            None => self.idle || idle_by_timeout,
        };
        if want_idle != self.idle {
            self.idle = want_idle;
            let status = if want_idle { WatermarkStatus::Idle } else { WatermarkStatus::Active };
            self.next.push_event(&Event::Status(status))?;
        }
        Ok(())
    }
}

impl<T: Record, G: WatermarkGenerator<T>, A: TimestampAssigner<T>> Output<T> for TimestampsOp<T, G, A> {
    fn push_batch(&mut self, batch: &mut Vec<T>) -> Result<(), TaskError> {
        self.assign(batch, None)
    }

    fn push_timestamped(&mut self, batch: &mut Vec<T>, timestamps: &mut Vec<i64>) -> Result<(), TaskError> {
        let prev = std::mem::take(timestamps);
        let r = self.assign(batch, Some(&prev));
        *timestamps = prev;
        timestamps.clear();
        r
    }

    fn push_event(&mut self, event: &Event) -> Result<(), TaskError> {
        match event {
            Event::Watermark(w) if *w == MAX_WATERMARK => {
                self.watermark = MAX_WATERMARK;
                self.next.push_event(event)
            }
            Event::Watermark(_) | Event::Status(_) => Ok(()),
            Event::Flush => {
                self.on_time(Instant::now())?;
                self.next.push_event(event)
            }
            _ => self.next.push_event(event),
        }
    }
}

/// Builds the timestamps-and-watermarks operator of a strategy.
pub(crate) struct TimestampsBuilder<T, G, A> {
    pub(crate) strategy: WatermarkStrategy<T, G, A>,
    pub(crate) interval_ms: u64,
    pub(crate) _t: PhantomData<fn(T)>,
}

impl<T, G, A> OperatorBuilder for TimestampsBuilder<T, G, A>
where
    T: Record,
    G: WatermarkGenerator<T>,
    A: TimestampAssigner<T>,
{
    fn build(&self, ctx: &OperatorContext, next: AnyOutput) -> Result<AnyOutput, TaskError> {
        let next = unerase::<T>(next, &ctx.operator_name)?;
        let now = Instant::now();
        Ok(erase::<T>(Box::new(TimestampsOp {
            generator: self.strategy.generator.clone(),
            assigner: self.strategy.assigner.clone(),
            interval: (self.interval_ms > 0).then(|| Duration::from_millis(self.interval_ms)),
            idleness: self.strategy.idleness,
            last_periodic: now,
            last_record: now,
            watermark: i64::MIN,
            idle: false,
            wm_out: WatermarkOutput::default(),
            timestamps: Vec::new(),
            next,
        })))
    }
}
