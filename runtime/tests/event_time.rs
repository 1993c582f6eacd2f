//! Event time end to end on the in-process thread executor: timestamps
//! assigned by a watermark strategy cross keyed exchanges, event-time
//! timers fire in order as watermarks pass, and idle inputs stop holding
//! event time back only when the strategy says `with_idleness`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rfy_runtime::api::KeyedContext;
use rfy_runtime::context::OperatorContext;
use rfy_runtime::sinks::CollectSink;
use rfy_runtime::sources::{Source, SourceReader, SourceStatus};
use rfy_runtime::task::run_local;
use rfy_runtime::time::{WatermarkGenerator, WatermarkOutput, WatermarkStrategy};
use rfy_runtime::{Collector, ExecutionConfig, KeyedProcessFunction, StreamExecutionEnvironment, TaskError};

fn env(p: u32, watermark_interval_ms: u64) -> StreamExecutionEnvironment {
    StreamExecutionEnvironment::new(ExecutionConfig {
        parallelism: p,
        auto_watermark_interval_ms: watermark_interval_ms,
        ..Default::default()
    })
}

/// What [`EndOfSecond`] emits.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
enum Seen {
    /// A record arrived with this timestamp (`None`: it had none).
    Record { key: u32, ts: Option<i64> },
    /// The timer at `ts` fired with the operator's watermark at `watermark`.
    Timer { key: u32, ts: i64, watermark: i64 },
}

/// Per record: reports its timestamp and registers an event-time timer at
/// the end of the record's second.
#[derive(Clone)]
struct EndOfSecond;

impl KeyedProcessFunction for EndOfSecond {
    type Key = u32;
    type In = (u32, i64);
    type Out = Seen;

    fn process_element(
        &mut self,
        value: (u32, i64),
        ctx: &mut KeyedContext<'_, u32>,
        out: &mut Collector<'_, Seen>,
    ) -> Result<(), TaskError> {
        out.collect(Seen::Record { key: value.0, ts: ctx.timestamp() });
        if let Some(ts) = ctx.timestamp() {
            ctx.timer_service().register_event_time_timer(ts / 1000 * 1000 + 999);
        }
        Ok(())
    }

    fn on_timer(
        &mut self,
        ts: i64,
        ctx: &mut KeyedContext<'_, u32>,
        out: &mut Collector<'_, Seen>,
    ) -> Result<(), TaskError> {
        let watermark = ctx.timer_service().current_watermark();
        out.collect(Seen::Timer { key: *ctx.current_key(), ts, watermark });
        Ok(())
    }
}

/// Punctuated watermarks: after every record, its timestamp minus 500 ms.
#[derive(Clone)]
struct Trailing500 {
    max: i64,
}

impl<T> WatermarkGenerator<T> for Trailing500 {
    fn on_event(&mut self, _event: &T, timestamp: i64, out: &mut WatermarkOutput) {
        self.max = self.max.max(timestamp);
        out.emit_watermark(self.max - 500);
    }
    fn on_periodic_emit(&mut self, _out: &mut WatermarkOutput) {}
}

/// Out-of-order records (by up to 400 ms) in 3000 records over 30 s of
/// event time: every record reaches the keyed operator at p=2 with the
/// timestamp the strategy assigned, and every timer fires once, in time
/// order per key, only when the watermark has reached it.
#[test]
fn out_of_order_records_keep_their_timestamps_and_timers_fire_in_order() {
    let records: Vec<(u32, i64)> =
        (0..3000i64).map(|i| ((i % 7) as u32, i * 10 + if i % 3 == 0 { 0 } else { -(i % 41) * 10 })).collect();
    let out = Arc::new(Mutex::new(Vec::new()));
    let e = env(2, 0);
    e.from_collection(records.clone())
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_generator(Trailing500 { max: i64::MIN / 2 })
                .with_timestamp_assigner(|r: &(u32, i64), _| r.1),
        )
        .key_by(|r: &(u32, i64)| r.0)
        .process(EndOfSecond)
        .sink_to(CollectSink::new(out.clone()));
    run_local(e).unwrap();
    let seen = out.lock().unwrap().clone();

    let mut got_ts: Vec<(u32, i64)> = seen
        .iter()
        .filter_map(|s| match s {
            Seen::Record { key, ts } => Some((*key, ts.expect("a record lost its timestamp in the exchange"))),
            _ => None,
        })
        .collect();
    got_ts.sort_unstable();
    let mut want = records.clone();
    want.sort_unstable();
    assert_eq!(got_ts, want);

    let mut timers: BTreeMap<u32, Vec<i64>> = BTreeMap::new();
    for s in &seen {
        if let Seen::Timer { key, ts, watermark } = s {
            assert!(watermark >= ts, "timer {ts} of key {key} fired at watermark {watermark}");
            timers.entry(*key).or_default().push(*ts);
        }
    }
    for (key, fired) in &timers {
        let mut expected: Vec<i64> = records.iter().filter(|r| r.0 == *key).map(|r| r.1 / 1000 * 1000 + 999).collect();
        expected.sort_unstable();
        expected.dedup();
        assert_eq!(fired, &expected, "timers of key {key}: once each, in time order");
    }
    assert_eq!(timers.len(), 7);
    // The punctuated watermarks fired most timers before the end of input
    // (the final watermark would fire them all at once, at i64::MAX).
    let early = seen.iter().filter(|s| matches!(s, Seen::Timer { watermark, .. } if *watermark < i64::MAX)).count();
    assert!(early > 100, "only {early} timers fired before the end of input");
}

/// Subtask 0 emits records, subtask 1 none; both end once the sink has a
/// result or after `deadline` (then `timed_out` is set).
struct OneSidedSource {
    fired: Arc<Mutex<Vec<Seen>>>,
    timed_out: Arc<AtomicBool>,
    deadline: Duration,
}

struct OneSidedReader {
    subtask: u32,
    sent: bool,
    started: Instant,
    fired: Arc<Mutex<Vec<Seen>>>,
    timed_out: Arc<AtomicBool>,
    deadline: Duration,
}

impl SourceReader<(u32, i64)> for OneSidedReader {
    fn poll_next(&mut self, out: &mut Vec<(u32, i64)>) -> Result<SourceStatus, TaskError> {
        if self.subtask == 0 && !self.sent {
            out.extend((0..50).map(|i| (1u32, i * 100)));
            self.sent = true;
            return Ok(SourceStatus::Available);
        }
        if self.fired.lock().unwrap().iter().any(|s| matches!(s, Seen::Timer { .. })) {
            return Ok(SourceStatus::Finished);
        }
        if self.started.elapsed() > self.deadline {
            self.timed_out.store(true, Ordering::SeqCst);
            return Ok(SourceStatus::Finished);
        }
        std::thread::sleep(Duration::from_millis(5));
        Ok(SourceStatus::Idle)
    }
}

impl Source<(u32, i64)> for OneSidedSource {
    fn name(&self) -> String {
        "Source: one-sided".into()
    }
    fn bounded(&self) -> bool {
        false
    }
    fn create_reader(&self, ctx: &OperatorContext) -> Result<Box<dyn SourceReader<(u32, i64)>>, TaskError> {
        Ok(Box::new(OneSidedReader {
            subtask: ctx.subtask_index,
            sent: false,
            started: Instant::now(),
            fired: self.fired.clone(),
            timed_out: self.timed_out.clone(),
            deadline: self.deadline,
        }))
    }
}

/// Runs the one-sided job; true if a timer fired before the sources gave up.
fn one_sided(idleness: Option<Duration>) -> bool {
    let fired = Arc::new(Mutex::new(Vec::new()));
    let timed_out = Arc::new(AtomicBool::new(false));
    let e = env(2, 10);
    let source =
        OneSidedSource { fired: fired.clone(), timed_out: timed_out.clone(), deadline: Duration::from_millis(1500) };
    let strategy = WatermarkStrategy::for_bounded_out_of_orderness(Duration::ZERO)
        .with_timestamp_assigner(|r: &(u32, i64), _| r.1);
    let strategy = match idleness {
        Some(d) => strategy.with_idleness(d),
        None => strategy,
    };
    e.add_source(source)
        .assign_timestamps_and_watermarks(strategy)
        .key_by(|r: &(u32, i64)| r.0)
        .process(EndOfSecond)
        .set_parallelism(1)
        .sink_to(CollectSink::new(fired.clone()));
    run_local(e).unwrap();
    assert!(fired.lock().unwrap().iter().any(|s| matches!(s, Seen::Timer { .. })), "the end of input fires timers");
    !timed_out.load(Ordering::SeqCst)
}

#[test]
fn an_idle_subtask_holds_event_time_back_unless_marked_idle() {
    assert!(one_sided(Some(Duration::from_millis(100))), "with idleness the timer must fire while the job runs");
    assert!(!one_sided(None), "without idleness the silent subtask must hold the watermark back");
}

/// Emits one record, then nothing for `quiet`, then ends.
struct OneThenQuiet(Duration);
struct OneThenQuietReader(Duration, Option<Instant>);
impl SourceReader<(u32, i64)> for OneThenQuietReader {
    fn poll_next(&mut self, out: &mut Vec<(u32, i64)>) -> Result<SourceStatus, TaskError> {
        match self.1 {
            None => {
                out.push((7, 0));
                self.1 = Some(Instant::now());
                Ok(SourceStatus::Available)
            }
            Some(t) if t.elapsed() >= self.0 => Ok(SourceStatus::Finished),
            Some(_) => {
                std::thread::sleep(Duration::from_millis(10));
                Ok(SourceStatus::Idle)
            }
        }
    }
}
impl Source<(u32, i64)> for OneThenQuiet {
    fn name(&self) -> String {
        "Source: one then quiet".into()
    }
    fn bounded(&self) -> bool {
        true
    }
    fn max_parallelism(&self) -> Option<u32> {
        Some(1)
    }
    fn create_reader(&self, _ctx: &OperatorContext) -> Result<Box<dyn SourceReader<(u32, i64)>>, TaskError> {
        Ok(Box::new(OneThenQuietReader(self.0, None)))
    }
}

/// Registers a processing-time timer 50 ms after the record; reports when
/// it fires, with the wall clock and the domain.
#[derive(Clone)]
struct Remind;
impl KeyedProcessFunction for Remind {
    type Key = u32;
    type In = (u32, i64);
    type Out = (i64, i64, bool);
    fn process_element(
        &mut self,
        _v: (u32, i64),
        ctx: &mut KeyedContext<'_, u32>,
        _out: &mut Collector<'_, (i64, i64, bool)>,
    ) -> Result<(), TaskError> {
        let at = ctx.timer_service().current_processing_time() + 50;
        ctx.timer_service().register_processing_time_timer(at);
        Ok(())
    }
    fn on_timer(
        &mut self,
        ts: i64,
        ctx: &mut KeyedContext<'_, u32>,
        out: &mut Collector<'_, (i64, i64, bool)>,
    ) -> Result<(), TaskError> {
        let now = ctx.timer_service().current_processing_time();
        out.collect((ts, now, ctx.time_domain() == Some(rfy_runtime::time::TimeDomain::ProcessingTime)));
        Ok(())
    }
}

#[test]
fn processing_time_timers_fire_by_the_wall_clock_while_input_is_quiet() {
    let out = Arc::new(Mutex::new(Vec::new()));
    let e = env(1, 200);
    e.add_source(OneThenQuiet(Duration::from_millis(400)))
        .key_by(|r: &(u32, i64)| r.0)
        .process(Remind)
        .sink_to(CollectSink::new(out.clone()));
    let started = Instant::now();
    run_local(e).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(400));
    let got = out.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    let (ts, now, processing) = got[0];
    assert!(processing, "fired as a processing-time timer");
    assert!(now >= ts, "fired at {now}, before its time {ts}");
}
