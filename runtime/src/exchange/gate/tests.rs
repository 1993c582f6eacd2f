//! Tests of the input gate, its watermark valve and its barrier aligner.

use super::*;
use crate::event::WatermarkStatus;
use crate::exchange::channel;
use crate::exchange::ChannelSender;
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

/// A gate over `channels` whose chain records into `seen`.
fn recording_gate(channels: Vec<ChannelReceiver>, seen: &Arc<Mutex<Vec<Seen>>>) -> NetworkInput<u32> {
    NetworkInput::<u32>::new(channels, Box::new(Recorder(seen.clone())), Duration::from_millis(10), "t".into())
}

/// Two channels of capacity 16 into a recording gate: (sender 0, sender 1, what the chain saw, the gate).
fn two_channel_gate() -> (ChannelSender, ChannelSender, Arc<Mutex<Vec<Seen>>>, NetworkInput<u32>) {
    let (tx0, rx0) = channel(16);
    let (tx1, rx1) = channel(16);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let gate = recording_gate(vec![rx0, rx1], &seen);
    (tx0, tx1, seen, gate)
}

fn barrier(id: u64) -> Event {
    Event::Barrier(CheckpointBarrier { id, timestamp_ms: 0, savepoint: false })
}

#[test]
fn barriers_align_and_watermarks_take_the_minimum() {
    let (tx0, tx1, seen, mut gate) = two_channel_gate();
    // Channel 0 runs ahead: its records after the barrier must wait for channel 1's barrier.
    tx0.send(data(&[1])).unwrap();
    tx0.send(NetMessage::Event(Event::Watermark(10))).unwrap();
    tx0.send(NetMessage::Event(barrier(1))).unwrap();
    tx0.send(data(&[100])).unwrap();
    let recorded = seen.clone();
    let feeder = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        tx1.send(data(&[2])).unwrap();
        tx1.send(NetMessage::Event(Event::Watermark(5))).unwrap();
        tx1.send(NetMessage::Event(barrier(1))).unwrap();
        tx1.send(NetMessage::Event(Event::EndOfInput)).unwrap();
        // Channel 0 ends only once channel 1's end moved the watermark to
        // channel 0's 10 (had channel 0 ended first, 5 would stay the last).
        let start = std::time::Instant::now();
        while !recorded.lock().unwrap().contains(&Seen::E(Event::Watermark(10))) && start.elapsed().as_secs() < 10 {
            std::thread::sleep(Duration::from_millis(1));
        }
        tx0.send(NetMessage::Event(Event::EndOfInput)).unwrap();
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
    let mut gate = recording_gate(vec![rx0, rx1], &seen);
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
    let mut gate =
        NetworkInput::<u32>::new(vec![rx], Box::new(TsRecorder(got.clone())), Duration::from_millis(10), "t".into());
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
    let mut gate = recording_gate(vec![rx], &seen);
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
    tx.send(NetMessage::Records(Box::new(TypedBatch { records: vec![1u64], timestamps: vec![], timestamped: false })))
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
    let mut gate = recording_gate(vec![rx0, rx1], &seen);
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
    let (tx0, tx1, seen, mut gate) = two_channel_gate();
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
        vec![&Seen::R(1), &Seen::R(2), &Seen::E(Event::EndOfData), &Seen::E(barrier(7)), &Seen::E(Event::EndOfInput)],
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

/// The aligner on its own: a stale barrier is ignored, a newer one overtakes
/// an unfinished alignment (unblocking the channels that had delivered the
/// old one), and an ended channel is not waited for.
#[test]
fn barrier_aligner_drops_stale_and_overtaken_alignments() {
    use super::barrier_aligner::BarrierAligner;
    let b = |id| CheckpointBarrier { id, timestamp_ms: 0, savepoint: false };
    let mut ended = vec![false; 3];
    let mut a = BarrierAligner::new(3);
    assert_eq!(a.on_barrier(0, b(1), true, &ended), None);
    assert!(a.is_blocked(0) && !a.is_blocked(1));
    // Checkpoint 2 overtakes 1: channel 0 is readable again until it brings 2.
    assert_eq!(a.on_barrier(1, b(2), true, &ended), None);
    assert!(!a.is_blocked(0) && a.is_blocked(1));
    assert_eq!(a.on_barrier(0, b(1), true, &ended), None, "stale barrier 1 ignored");
    assert!(!a.is_blocked(0));
    assert_eq!(a.on_barrier(0, b(2), true, &ended), None);
    // Channel 2 ends without barrier 2: alignment completes without it.
    ended[2] = true;
    assert_eq!(a.on_channel_end(&ended), Some(b(2)));
    assert!(!a.is_blocked(0) && !a.is_blocked(1));
    // At-least-once: counted, never blocked.
    assert_eq!(a.on_barrier(0, b(3), false, &ended), None);
    assert!(!a.is_blocked(0));
    assert_eq!(a.on_barrier(1, b(3), false, &ended), Some(b(3)));
}

/// The valve on its own: an ended channel leaves the minimum.
#[test]
fn watermark_valve_ignores_ended_channels() {
    use super::watermark_valve::WatermarkValve;
    let mut v = WatermarkValve::new(2);
    assert_eq!(v.on_watermark(0, 10).watermark, None, "channel 1 has no watermark yet");
    assert_eq!(v.on_watermark(1, 4).watermark, Some(4));
    assert_eq!(v.on_watermark(1, 3).watermark, None, "a watermark never goes back");
    assert_eq!(v.on_channel_end(1).watermark, Some(10));
    assert_eq!(v.output(), 10);
}
