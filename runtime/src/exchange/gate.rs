//! The input gate: reads a task's input channels, hands typed record batches
//! (from tasks of this process) to the chain as they are and decodes network
//! buffers (from other TaskManagers) into record batches, combines watermarks (minimum over the active
//! channels, Flink's `StatusWatermarkValve`: an idle channel does not hold
//! event time back, and counts again once its watermark has caught up) and
//! aligns checkpoint barriers (a channel that delivered barrier n is not read
//! again until every channel has delivered it).

use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::{ChannelReceiver, NetMessage, TypedBatch};
use crate::checkpoint::TaskCheckpointing;
use crate::error::TaskError;
use crate::event::{CheckpointBarrier, Event, WatermarkStatus};
use crate::record::{decode_all, decode_all_timestamped, Record, TIMESTAMPED};
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

struct InChannel {
    rx: ChannelReceiver,
    finished: bool,
    /// Delivered the barrier being aligned; not read until alignment
    /// completes (exactly-once only).
    blocked: bool,
    /// Delivered the barrier being aligned.
    seen: bool,
    /// Delivered `EndOfData`: no more records, but barriers and its
    /// `EndOfInput` still come (final checkpoint).
    data_ended: bool,
    watermark: i64,
    /// The producer declared itself idle (see [`WatermarkStatus`]).
    idle: bool,
    /// The channel's watermark is at or above the gate's output watermark,
    /// so it takes part in the minimum (false after a resume until it catches up).
    aligned: bool,
}

/// The head of a task that reads records from other tasks.
pub(crate) struct NetworkInput<T> {
    channels: Vec<InChannel>,
    next: Box<dyn Output<T>>,
    batch: Vec<T>,
    timestamps: Vec<i64>,
    watermark: i64,
    /// The status last forwarded to the chain.
    idle: bool,
    pending_barrier: Option<CheckpointBarrier>,
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
    _records: PhantomData<fn() -> T>,
}

impl<T: Record> NetworkInput<T> {
    pub(crate) fn new(
        receivers: Vec<ChannelReceiver>,
        next: Box<dyn Output<T>>,
        flush_interval: Duration,
        name: String,
    ) -> Self {
        NetworkInput {
            channels: receivers
                .into_iter()
                .map(|rx| InChannel {
                    rx,
                    finished: false,
                    blocked: false,
                    seen: false,
                    data_ended: false,
                    watermark: i64::MIN,
                    idle: false,
                    aligned: true,
                })
                .collect(),
            next,
            batch: Vec::new(),
            timestamps: Vec::new(),
            watermark: i64::MIN,
            idle: false,
            pending_barrier: None,
            data_end_sent: false,
            checkpointing: None,
            flush_interval,
            cursor: 0,
            name,
            metrics: Arc::default(),
            since_sample: 0,
            _records: PhantomData,
        }
    }

    fn readable(&self, i: usize) -> bool {
        let c = &self.channels[i];
        !c.finished && !c.blocked
    }

    /// The next message from a readable channel, or `None` after waiting
    /// `flush_interval` with nothing to read.
    fn next_message(&mut self) -> Result<Option<(usize, NetMessage)>, TaskError> {
        let n = self.channels.len();
        // Fast path: round robin over ready channels, no allocation.
        for k in 0..n {
            let i = (self.cursor + k) % n;
            if !self.readable(i) {
                continue;
            }
            match self.channels[i].rx.try_recv() {
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
        for (i, c) in self.channels.iter().enumerate() {
            if !c.finished && !c.blocked {
                selector = selector.recv(&c.rx, move |r| (i, r));
            }
        }
        let got = selector.wait_timeout(self.flush_interval);
        TaskMetrics::add_time(&self.metrics.idle_ns, waiting);
        match got {
            Ok((i, Ok(msg))) => Ok(Some((i, msg))),
            Ok((i, Err(_))) => Err(self.closed(i)),
            Err(_) => Ok(None),
        }
    }

    /// Stores the input channels' fill against their capacity (Flink's `inPoolUsage`).
    #[cold]
    fn sample_pool_usage(&mut self) {
        self.since_sample = 0;
        let lens = self.channels.iter().map(|c| (c.rx.len(), c.rx.capacity().unwrap_or(1)));
        self.metrics.in_pool_usage_permille.store(usage_permille(lens), Ordering::Relaxed);
    }

    /// Moves the gate's watermark to `w` and sends it down the chain.
    fn emit_watermark(&mut self, w: i64) -> Result<(), TaskError> {
        self.watermark = w;
        self.metrics.input_watermark.store(w, Ordering::Relaxed);
        self.next.push_event(&Event::Watermark(w))
    }

    fn closed(&self, i: usize) -> TaskError {
        TaskError::ChannelClosed(format!("{}: producer of input channel {i} went away before its end", self.name))
    }

    fn on_event(&mut self, i: usize, event: Event) -> Result<(), TaskError> {
        match event {
            Event::Watermark(w) => {
                let c = &mut self.channels[i];
                if c.idle || w <= c.watermark {
                    return Ok(());
                }
                c.watermark = w;
                if w >= self.watermark {
                    c.aligned = true;
                }
                self.advance_watermark()
            }
            Event::Status(WatermarkStatus::Idle) => {
                let c = &mut self.channels[i];
                if c.idle {
                    return Ok(());
                }
                c.idle = true;
                c.aligned = false;
                if self.channels.iter().all(|c| c.idle || c.finished) {
                    // The last active channel went idle: event time may
                    // advance to what the idle channels had reached.
                    let max = self.channels.iter().filter(|c| !c.finished).map(|c| c.watermark).max();
                    if let Some(w) = max.filter(|w| *w > self.watermark) {
                        self.emit_watermark(w)?;
                    }
                    if !self.idle {
                        self.idle = true;
                        self.next.push_event(&Event::Status(WatermarkStatus::Idle))?;
                    }
                    Ok(())
                } else {
                    self.advance_watermark()
                }
            }
            Event::Status(WatermarkStatus::Active) => {
                let c = &mut self.channels[i];
                if !c.idle {
                    return Ok(());
                }
                c.idle = false;
                c.aligned = c.watermark >= self.watermark;
                if self.idle {
                    self.idle = false;
                    self.next.push_event(&Event::Status(WatermarkStatus::Active))?;
                }
                Ok(())
            }
            Event::Barrier(b) => {
                match self.pending_barrier {
                    Some(p) if p.id > b.id => return Ok(()), // stale barrier of an aborted checkpoint
                    Some(p) if p.id < b.id => {
                        // A newer checkpoint overtook an unfinished alignment: drop the old one.
                        for c in &mut self.channels {
                            c.blocked = false;
                            c.seen = false;
                        }
                        self.pending_barrier = Some(b);
                    }
                    Some(_) => {}
                    None => self.pending_barrier = Some(b),
                }
                // At-least-once: count the barrier but keep reading the channel.
                self.channels[i].blocked = self.checkpointing.as_ref().is_none_or(|c| c.exactly_once());
                self.channels[i].seen = true;
                self.try_complete_alignment()
            }
            Event::EndOfInput => {
                self.channels[i].finished = true;
                self.advance_watermark()?;
                self.try_complete_alignment()
            }
            Event::EndOfData => {
                // Forwarded once, when no channel can bring records any
                // more; the channels stay open for the final barrier.
                self.channels[i].data_ended = true;
                if !self.data_end_sent && self.channels.iter().all(|c| c.data_ended || c.finished) {
                    self.data_end_sent = true;
                    self.next.push_event(&Event::EndOfData)?;
                }
                Ok(())
            }
            Event::Flush => Ok(()),
        }
    }

    fn advance_watermark(&mut self) -> Result<(), TaskError> {
        let min = self.channels.iter().filter(|c| !c.finished && !c.idle && c.aligned).map(|c| c.watermark).min();
        if let Some(w) = min {
            if w > self.watermark {
                self.emit_watermark(w)?;
            }
        }
        Ok(())
    }

    fn try_complete_alignment(&mut self) -> Result<(), TaskError> {
        let Some(b) = self.pending_barrier else { return Ok(()) };
        if self.channels.iter().all(|c| c.seen || c.finished) {
            for c in &mut self.channels {
                c.blocked = false;
                c.seen = false;
            }
            self.pending_barrier = None;
            self.next.push_event(&Event::Barrier(b))?;
            if let Some(cp) = &self.checkpointing {
                cp.barrier_passed(&b);
            }
        }
        Ok(())
    }
}

impl<T: Record> TaskHead for NetworkInput<T> {
    fn run(&mut self, control: &TaskControl) -> Result<(), TaskError> {
        let metrics = control.metrics.clone();
        self.metrics = metrics.clone();
        self.checkpointing = control.checkpointing.clone();
        while self.channels.iter().any(|c| !c.finished) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::channel;
    use crate::record::encode_into;
    use std::sync::{Arc, Mutex};

    /// Records what reaches the chain: records as `R(x)`, events as is.
    #[derive(Debug, Clone, PartialEq)]
    enum Seen {
        R(u32),
        E(Event),
    }

    struct Recorder(Arc<Mutex<Vec<Seen>>>);

    impl Output<u32> for Recorder {
        fn push_batch(&mut self, batch: &mut Vec<u32>) -> Result<(), TaskError> {
            self.0.lock().unwrap().extend(batch.drain(..).map(Seen::R));
            Ok(())
        }
        fn push_event(&mut self, event: &Event) -> Result<(), TaskError> {
            if *event != Event::Flush {
                self.0.lock().unwrap().push(Seen::E(*event));
            }
            Ok(())
        }
    }

    fn data(xs: &[u32]) -> NetMessage {
        let mut bytes = Vec::new();
        for x in xs {
            encode_into(x, &mut bytes).unwrap();
        }
        NetMessage::Data { bytes, records: xs.len() as u32 }
    }

    fn barrier(id: u64) -> Event {
        Event::Barrier(CheckpointBarrier { id, timestamp_ms: 0, savepoint: false })
    }

    #[test]
    fn barriers_align_and_watermarks_take_the_minimum() {
        let (tx0, rx0) = channel(16);
        let (tx1, rx1) = channel(16);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut gate = NetworkInput::<u32>::new(
            vec![rx0, rx1],
            Box::new(Recorder(seen.clone())),
            Duration::from_millis(10),
            "t".into(),
        );
        // Channel 0 runs ahead: its records after the barrier must wait for channel 1's barrier.
        tx0.send(data(&[1])).unwrap();
        tx0.send(NetMessage::Event(Event::Watermark(10))).unwrap();
        tx0.send(NetMessage::Event(barrier(1))).unwrap();
        tx0.send(data(&[100])).unwrap();
        tx0.send(NetMessage::Event(Event::EndOfInput)).unwrap();
        let feeder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            tx1.send(data(&[2])).unwrap();
            tx1.send(NetMessage::Event(Event::Watermark(5))).unwrap();
            tx1.send(NetMessage::Event(barrier(1))).unwrap();
            tx1.send(NetMessage::Event(Event::EndOfInput)).unwrap();
        });
        let control = TaskControl::default();
        gate.run(&control).unwrap();
        feeder.join().unwrap();
        let m = control.metrics.read();
        assert!(m.idle_ms >= 40, "the gate waited about 50 ms for channel 1: idle {m:?}");
        assert_eq!(m.input_watermark, 10, "the last combined watermark: {m:?}");
        let seen = seen.lock().unwrap().clone();
        let pos = |s: &Seen| seen.iter().position(|x| x == s).unwrap_or_else(|| panic!("{s:?} missing in {seen:?}"));
        assert!(pos(&Seen::R(2)) < pos(&Seen::E(barrier(1))), "{seen:?}");
        assert!(pos(&Seen::E(barrier(1))) < pos(&Seen::R(100)), "record after the barrier overtook it: {seen:?}");
        assert_eq!(seen.iter().filter(|s| matches!(s, Seen::E(Event::Barrier(_)))).count(), 1, "one barrier forwarded");
        // The combined watermark is the minimum over unfinished channels: 5
        // while both run; 10 only once channel 1 has ended.
        let wms: Vec<i64> =
            seen.iter().filter_map(|s| if let Seen::E(Event::Watermark(w)) = s { Some(*w) } else { None }).collect();
        assert_eq!(wms.first(), Some(&5), "{seen:?}");
        assert!(wms.windows(2).all(|w| w[0] < w[1]), "watermarks must only advance: {seen:?}");
        assert_eq!(seen.last(), Some(&Seen::E(Event::EndOfInput)));
    }

    fn watermarks(seen: &[Seen]) -> Vec<i64> {
        seen.iter().filter_map(|s| if let Seen::E(Event::Watermark(w)) = s { Some(*w) } else { None }).collect()
    }

    /// An idle channel does not hold the watermark back; once active again
    /// it counts only after its watermark has caught up; when every channel
    /// is idle the gate forwards the idle status (and active on resume).
    #[test]
    fn idle_channels_leave_the_watermark_minimum() {
        let (tx0, rx0) = channel(64);
        let (tx1, rx1) = channel(64);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut gate = NetworkInput::<u32>::new(
            vec![rx0, rx1],
            Box::new(Recorder(seen.clone())),
            Duration::from_millis(10),
            "t".into(),
        );
        // Driven event by event: the order across channels matters here.
        let steps = [
            (1, Event::Watermark(5)),
            (0, Event::Watermark(100)),                  // min(100, 5) = 5
            (1, Event::Status(WatermarkStatus::Idle)),   // channel 1 leaves: 100
            (0, Event::Watermark(200)),                  // 200
            (1, Event::Status(WatermarkStatus::Active)), // back at 5 < 200: not aligned
            (0, Event::Watermark(300)),                  // channel 1 does not hold back yet: 300
            (1, Event::Watermark(250)),                  // still behind: not in the minimum
            (1, Event::Watermark(400)),                  // caught up: min(300, 400) = 300, no change
            (0, Event::Watermark(500)),                  // min(500, 400) = 400
            (0, Event::Status(WatermarkStatus::Idle)),   // channel 1 only: 400
            (1, Event::Status(WatermarkStatus::Idle)),   // all idle: max 500, then Idle
            (1, Event::Status(WatermarkStatus::Active)), // Active again
        ];
        for (i, e) in steps {
            gate.on_event(i, e).unwrap();
        }
        drop((tx0, tx1));
        let seen = seen.lock().unwrap().clone();
        assert_eq!(watermarks(&seen), vec![5, 100, 200, 300, 400, 500], "{seen:?}");
        let statuses: Vec<WatermarkStatus> =
            seen.iter().filter_map(|s| if let Seen::E(Event::Status(x)) = s { Some(*x) } else { None }).collect();
        assert_eq!(statuses, vec![WatermarkStatus::Idle, WatermarkStatus::Active], "{seen:?}");
    }

    /// Timestamped buffers reach the chain with their timestamp column.
    #[test]
    fn timestamped_buffers_keep_their_timestamps() {
        struct TsRecorder(Arc<Mutex<Vec<(u32, i64)>>>);
        impl Output<u32> for TsRecorder {
            fn push_batch(&mut self, batch: &mut Vec<u32>) -> Result<(), TaskError> {
                self.0.lock().unwrap().extend(batch.drain(..).map(|r| (r, crate::event::NO_TIMESTAMP)));
                Ok(())
            }
            fn push_timestamped(&mut self, batch: &mut Vec<u32>, ts: &mut Vec<i64>) -> Result<(), TaskError> {
                self.0.lock().unwrap().extend(batch.drain(..).zip(ts.drain(..)));
                Ok(())
            }
            fn push_event(&mut self, _event: &Event) -> Result<(), TaskError> {
                Ok(())
            }
        }
        let (tx, rx) = channel(8);
        let got = Arc::new(Mutex::new(Vec::new()));
        let mut gate = NetworkInput::<u32>::new(
            vec![rx],
            Box::new(TsRecorder(got.clone())),
            Duration::from_millis(10),
            "t".into(),
        );
        let mut bytes = Vec::new();
        for (r, t) in [(1u32, 1000i64), (2, -5)] {
            crate::record::encode_timestamped_into(t, &r, &mut bytes).unwrap();
        }
        tx.send(NetMessage::Data { bytes, records: 2 | TIMESTAMPED }).unwrap();
        tx.send(data(&[3])).unwrap();
        tx.send(NetMessage::Event(Event::EndOfInput)).unwrap();
        gate.run(&TaskControl::default()).unwrap();
        assert_eq!(*got.lock().unwrap(), vec![(1, 1000), (2, -5), (3, crate::event::NO_TIMESTAMP)]);
    }

    /// Typed batches from a local producer reach the chain as they are, in
    /// order with the events and with network buffers; a batch of another record
    /// type fails the task with a clear error instead of a panic.
    #[test]
    fn typed_batches_pass_unencoded_in_order_with_events() {
        use crate::exchange::TypedBatch;
        let typed = |records: Vec<u32>, timestamps: Vec<i64>| {
            let timestamped = !timestamps.is_empty();
            NetMessage::Records(Box::new(TypedBatch { records, timestamps, timestamped }))
        };
        let (tx, rx) = channel(8);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut gate =
            NetworkInput::<u32>::new(vec![rx], Box::new(Recorder(seen.clone())), Duration::from_millis(10), "t".into());
        tx.send(typed(vec![1, 2], vec![])).unwrap();
        tx.send(NetMessage::Event(barrier(3))).unwrap();
        tx.send(typed(vec![3], vec![77])).unwrap();
        tx.send(data(&[4])).unwrap();
        tx.send(NetMessage::Event(Event::EndOfInput)).unwrap();
        let control = TaskControl::default();
        gate.run(&control).unwrap();
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            vec![Seen::R(1), Seen::R(2), Seen::E(barrier(3)), Seen::R(3), Seen::R(4), Seen::E(Event::EndOfInput)]
        );
        assert_eq!(control.metrics.records_in.load(Ordering::Relaxed), 4);

        let (tx, rx) = channel(8);
        tx.send(NetMessage::Records(Box::new(TypedBatch {
            records: vec![1u64],
            timestamps: vec![],
            timestamped: false,
        })))
        .unwrap();
        let mut gate = NetworkInput::<u32>::new(
            vec![rx],
            Box::new(Recorder(Default::default())),
            Duration::from_millis(10),
            "t".into(),
        );
        match gate.run(&TaskControl::default()) {
            Err(TaskError::Mismatch(m)) => assert!(m.contains("input channel 0") && m.contains("u32"), "{m}"),
            other => panic!("expected a type mismatch, got {other:?}"),
        }
    }

    struct Acks(Mutex<Vec<u64>>);
    impl crate::checkpoint::CheckpointResponder for Acks {
        fn acknowledge(&self, id: u64, _handles: Vec<(String, crate::checkpoint::StateHandle)>) {
            self.0.lock().unwrap().push(id);
        }
        fn decline(&self, id: u64, reason: String) {
            panic!("checkpoint {id} declined: {reason}");
        }
    }

    /// At-least-once: a channel that delivered the barrier keeps being read
    /// (its later records may overtake the forwarded barrier); the barrier is
    /// still forwarded once, after every channel's, and the task acknowledges.
    #[test]
    fn at_least_once_does_not_block_channels_and_acknowledges() {
        let (tx0, rx0) = channel(16);
        let (tx1, rx1) = channel(16);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let acks = Arc::new(Acks(Mutex::new(Vec::new())));
        let dir = tempfile::tempdir().unwrap();
        let cp = crate::checkpoint::TaskCheckpointing::new(
            dir.path().join("job").display().to_string(),
            crate::checkpoint::open_storage("").unwrap(),
            0,
            false,
            acks.clone(),
            None,
            "t".into(),
        );
        let control = TaskControl { checkpointing: Some(Arc::new(cp)), ..Default::default() };
        let mut gate = NetworkInput::<u32>::new(
            vec![rx0, rx1],
            Box::new(Recorder(seen.clone())),
            Duration::from_millis(10),
            "t".into(),
        );
        tx0.send(NetMessage::Event(barrier(1))).unwrap();
        tx0.send(data(&[100])).unwrap();
        let feeder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            tx1.send(NetMessage::Event(barrier(1))).unwrap();
            tx1.send(NetMessage::Event(Event::EndOfInput)).unwrap();
            tx0.send(NetMessage::Event(Event::EndOfInput)).unwrap();
        });
        gate.run(&control).unwrap();
        feeder.join().unwrap();
        let seen = seen.lock().unwrap().clone();
        let pos = |s: &Seen| seen.iter().position(|x| x == s).unwrap_or_else(|| panic!("{s:?} missing in {seen:?}"));
        assert!(pos(&Seen::R(100)) < pos(&Seen::E(barrier(1))), "channel 0 was blocked: {seen:?}");
        assert_eq!(seen.iter().filter(|s| matches!(s, Seen::E(Event::Barrier(_)))).count(), 1);
        let start = std::time::Instant::now();
        while acks.0.lock().unwrap().is_empty() && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(*acks.0.lock().unwrap(), vec![1]);
    }

    /// Final checkpoint (FLIP-147): `EndOfData` goes down the chain once,
    /// after every channel's; the channels stay open, so the final barrier
    /// is still aligned after it, and the stream ends with `EndOfInput`.
    #[test]
    fn end_of_data_is_forwarded_once_and_the_final_barrier_still_aligns() {
        let (tx0, rx0) = channel(16);
        let (tx1, rx1) = channel(16);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut gate = NetworkInput::<u32>::new(
            vec![rx0, rx1],
            Box::new(Recorder(seen.clone())),
            Duration::from_millis(10),
            "t".into(),
        );
        tx0.send(data(&[1])).unwrap();
        tx0.send(NetMessage::Event(Event::EndOfData)).unwrap();
        tx0.send(NetMessage::Event(barrier(7))).unwrap();
        tx0.send(NetMessage::Event(Event::EndOfInput)).unwrap();
        let feeder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            tx1.send(data(&[2])).unwrap();
            tx1.send(NetMessage::Event(Event::EndOfData)).unwrap();
            tx1.send(NetMessage::Event(barrier(7))).unwrap();
            tx1.send(NetMessage::Event(Event::EndOfInput)).unwrap();
        });
        gate.run(&TaskControl::default()).unwrap();
        feeder.join().unwrap();
        let seen = seen.lock().unwrap().clone();
        let events: Vec<&Seen> = seen.iter().filter(|s| !matches!(s, Seen::E(Event::Watermark(_)))).collect();
        assert_eq!(
            events,
            vec![
                &Seen::R(1),
                &Seen::R(2),
                &Seen::E(Event::EndOfData),
                &Seen::E(barrier(7)),
                &Seen::E(Event::EndOfInput)
            ],
            "{seen:?}"
        );
    }

    #[test]
    fn a_vanished_producer_or_corrupt_buffer_fails_the_task() {
        let (tx, rx) = channel(4);
        tx.send(data(&[1])).unwrap();
        drop(tx);
        let mut gate = NetworkInput::<u32>::new(
            vec![rx],
            Box::new(Recorder(Default::default())),
            Duration::from_millis(10),
            "t".into(),
        );
        assert!(matches!(gate.run(&TaskControl::default()), Err(TaskError::ChannelClosed(_))));

        // The same, but the task is canceled soon after (a stop-with-savepoint
        // ending the job): canceled, not failed.
        let (tx, rx) = channel(4);
        drop(tx);
        let mut gate = NetworkInput::<u32>::new(
            vec![rx],
            Box::new(Recorder(Default::default())),
            Duration::from_millis(10),
            "t".into(),
        );
        let control = TaskControl::default();
        let c = control.clone();
        let canceler = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            c.cancel();
        });
        assert!(matches!(gate.run(&control), Err(TaskError::Canceled)));
        canceler.join().unwrap();

        let (tx, rx) = channel(4);
        tx.send(NetMessage::Data { bytes: vec![0xff, 0xff, 0xff], records: 2 }).unwrap();
        let mut gate = NetworkInput::<u32>::new(
            vec![rx],
            Box::new(Recorder(Default::default())),
            Duration::from_millis(10),
            "t".into(),
        );
        assert!(matches!(gate.run(&TaskControl::default()), Err(TaskError::Decode(_))));
    }
}
