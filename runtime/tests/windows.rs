//! Windows end to end on the in-process thread executor: tumbling, sliding
//! and session (merging) event-time windows over out-of-order input at
//! parallelism 2, late records with and without allowed lateness, and
//! processing-time windows.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rfy_runtime::api::{KeyedContext, OutputTag};
use rfy_runtime::context::OperatorContext;
use rfy_runtime::sinks::CollectSink;
use rfy_runtime::sources::{Source, SourceReader, SourceStatus};
use rfy_runtime::task::run_local;
use rfy_runtime::time::{WatermarkGenerator, WatermarkOutput, WatermarkStrategy};
use rfy_runtime::windowing::{
    AggregateFunction, EventTimeSessionWindows, ProcessWindowContext, ProcessWindowFunction, SlidingEventTimeWindows,
    TumblingEventTimeWindows, TumblingProcessingTimeWindows,
};
use rfy_runtime::{Collector, ExecutionConfig, KeyedProcessFunction, StreamExecutionEnvironment, TaskError};

type Rec = (u32, i64); // (key, timestamp ms)

fn env(p: u32) -> StreamExecutionEnvironment {
    StreamExecutionEnvironment::new(ExecutionConfig { parallelism: p, ..Default::default() })
}

fn strategy() -> WatermarkStrategy<Rec, impl WatermarkGenerator<Rec>, impl Fn(&Rec, i64) -> i64 + Clone + Send + Sync> {
    WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(1)).with_timestamp_assigner(|r: &Rec, _| r.1)
}

/// Counts records: an incremental aggregate.
#[derive(Clone)]
struct Count;
impl AggregateFunction<Rec> for Count {
    type Acc = u64;
    type Out = u64;
    fn create_accumulator(&self) -> u64 {
        0
    }
    fn add(&self, _value: Rec, acc: &mut u64) {
        *acc += 1;
    }
    fn get_result(&self, acc: &u64) -> u64 {
        *acc
    }
    fn merge(&self, acc: &mut u64, other: u64) {
        *acc += other;
    }
}

/// Emits (key, window start, window end, records) per window; in event
/// time, records outside their window make it emit a count of 0.
#[derive(Clone)]
struct Describe;
impl ProcessWindowFunction<Rec, u32> for Describe {
    type Out = (u32, i64, i64, usize);
    fn process(
        &mut self,
        key: &u32,
        ctx: &ProcessWindowContext,
        elements: &[Rec],
        out: &mut Collector<'_, (u32, i64, i64, usize)>,
    ) -> Result<(), TaskError> {
        let w = ctx.window();
        let inside = elements.iter().all(|r| r.1 >= w.start && r.1 < w.end) || w.end - w.start == 100;
        out.collect((*key, w.start, w.end, if inside { elements.len() } else { 0 }));
        Ok(())
    }
}

/// Out of order by up to ~1 s: 4000 records, 5 keys, over 40 s.
fn records() -> Vec<Rec> {
    (0..4000i64).map(|i| ((i % 5) as u32, (i * 10 - (i * 7919) % 900).max(0))).collect()
}

#[test]
fn tumbling_and_sliding_windows_over_out_of_order_input() {
    let input = records();
    let tumbling = Arc::new(Mutex::new(Vec::new()));
    let sliding = Arc::new(Mutex::new(Vec::new()));
    let e = env(2);
    let timed =
        e.from_collection(input.clone()).rebalance().map(|r: Rec| r).assign_timestamps_and_watermarks(strategy());
    timed
        .key_by(|r: &Rec| r.0)
        .window(TumblingEventTimeWindows::of(Duration::from_secs(5)))
        .process(Describe)
        .sink_to(CollectSink::new(tumbling.clone()));
    timed
        .key_by(|r: &Rec| r.0)
        .window(SlidingEventTimeWindows::of(Duration::from_secs(10), Duration::from_secs(5)))
        .aggregate(Count)
        .map(|n: u64| n)
        .sink_to(CollectSink::new(sliding.clone()));
    run_local(e).unwrap();

    let mut want: BTreeMap<(u32, i64), usize> = BTreeMap::new();
    for r in &input {
        *want.entry((r.0, r.1 / 5000 * 5000)).or_default() += 1;
    }
    let got: BTreeMap<(u32, i64), usize> = tumbling.lock().unwrap().iter().map(|(k, s, _, n)| ((*k, *s), *n)).collect();
    assert_eq!(tumbling.lock().unwrap().len(), got.len(), "a window fired twice");
    assert_eq!(got, want);
    // Every record is in exactly two sliding windows.
    let counts = sliding.lock().unwrap().clone();
    assert_eq!(counts.iter().sum::<u64>(), 2 * input.len() as u64);
    assert_eq!(counts.len(), 5 * (want.len() / 5 + 1), "each key: one more sliding window than tumbling ones");
}

#[test]
fn session_windows_merge_when_a_record_bridges_two_sessions() {
    let out = Arc::new(Mutex::new(Vec::new()));
    let e = env(2);
    // Key 1: sessions [0, 2000) and [3000, 5000), bridged by the record at 1000
    // into [0, 5000); then a separate session at 9000. Key 2: one record.
    let input: Vec<Rec> = vec![(1, 0), (1, 3000), (2, 500), (1, 1000), (1, 9000)];
    e.from_collection(input)
        .assign_timestamps_and_watermarks(strategy())
        .key_by(|r: &Rec| r.0)
        .window(EventTimeSessionWindows::with_gap(Duration::from_secs(2)))
        .process(Describe)
        .sink_to(CollectSink::new(out.clone()));
    run_local(e).unwrap();
    let mut got = out.lock().unwrap().clone();
    got.sort_unstable();
    assert_eq!(got, vec![(1, 0, 5000, 3), (1, 9000, 11000, 1), (2, 500, 2500, 1)]);
}

/// Emits its records one per poll, so that watermarks advance between them.
struct OneByOne(Vec<Rec>);
struct OneByOneReader(Vec<Rec>, usize);
impl SourceReader<Rec> for OneByOneReader {
    fn poll_next(&mut self, out: &mut Vec<Rec>) -> Result<SourceStatus, TaskError> {
        out.push(self.0[self.1]);
        self.1 += 1;
        Ok(if self.1 == self.0.len() { SourceStatus::Finished } else { SourceStatus::Available })
    }
}
impl Source<Rec> for OneByOne {
    fn name(&self) -> String {
        "Source: one by one".into()
    }
    fn bounded(&self) -> bool {
        true
    }
    fn max_parallelism(&self) -> Option<u32> {
        Some(1)
    }
    fn create_reader(&self, _ctx: &OperatorContext) -> Result<Box<dyn SourceReader<Rec>>, TaskError> {
        Ok(Box::new(OneByOneReader(self.0.clone(), 0)))
    }
}

/// The watermark is the largest timestamp seen, right after each record.
#[derive(Clone)]
struct Punctuated(i64);
impl WatermarkGenerator<Rec> for Punctuated {
    fn on_event(&mut self, _e: &Rec, ts: i64, out: &mut WatermarkOutput) {
        self.0 = self.0.max(ts);
        out.emit_watermark(self.0);
    }
    fn on_periodic_emit(&mut self, _out: &mut WatermarkOutput) {}
}

/// Window results (key, start, end, records).
type Described = (u32, i64, i64, usize);

fn late_run(lateness: Duration) -> (Vec<Described>, Vec<Rec>) {
    let out = Arc::new(Mutex::new(Vec::new()));
    let late = Arc::new(Mutex::new(Vec::new()));
    let tag = OutputTag::<Rec>::new("late");
    let e = env(1);
    // Window [0, 10000) fires at watermark 12000; 5000 arrives late, 6000
    // after the watermark passed 20000.
    let input: Vec<Rec> = vec![(1, 1000), (1, 12000), (1, 5000), (1, 20000), (1, 6000)];
    let windows = e
        .add_source(OneByOne(input))
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_generator(Punctuated(i64::MIN)).with_timestamp_assigner(|r: &Rec, _| r.1),
        )
        .key_by(|r: &Rec| r.0)
        .window(TumblingEventTimeWindows::of(Duration::from_secs(10)))
        .allowed_lateness(lateness)
        .side_output_late_data(&tag)
        .process(Describe);
    windows.get_side_output(&tag).sink_to(CollectSink::new(late.clone()));
    windows.sink_to(CollectSink::new(out.clone()));
    run_local(e).unwrap();
    let got = (out.lock().unwrap().clone(), late.lock().unwrap().clone());
    got
}

#[test]
fn late_records_go_to_the_side_output_or_fire_the_window_again_within_the_allowed_lateness() {
    // No lateness: the late records go to the late-data side output.
    assert_eq!(
        late_run(Duration::ZERO),
        (vec![(1, 0, 10000, 1), (1, 10000, 20000, 1), (1, 20000, 30000, 1)], vec![(1, 5000), (1, 6000)])
    );
    // 9 s lateness: 5000 fires [0, 10000) again with both records; at
    // watermark 20000 the window is gone (9999 + 9000 < 20000), so 6000 is late.
    assert_eq!(
        late_run(Duration::from_secs(9)),
        (vec![(1, 0, 10000, 1), (1, 0, 10000, 2), (1, 10000, 20000, 1), (1, 20000, 30000, 1)], vec![(1, 6000)])
    );
}

/// Emits `n` records, sleeping `pause` between them.
struct Paced(u32, Duration);
struct PacedReader(u32, u32, Duration);
impl SourceReader<Rec> for PacedReader {
    fn poll_next(&mut self, out: &mut Vec<Rec>) -> Result<SourceStatus, TaskError> {
        std::thread::sleep(self.2);
        out.push((self.1 % 2, 0));
        self.1 += 1;
        Ok(if self.1 == self.0 { SourceStatus::Finished } else { SourceStatus::Available })
    }
}
impl Source<Rec> for Paced {
    fn name(&self) -> String {
        "Source: paced".into()
    }
    fn bounded(&self) -> bool {
        true
    }
    fn max_parallelism(&self) -> Option<u32> {
        Some(1)
    }
    fn create_reader(&self, _ctx: &OperatorContext) -> Result<Box<dyn SourceReader<Rec>>, TaskError> {
        Ok(Box::new(PacedReader(self.0, 0, self.1)))
    }
}

#[test]
fn processing_time_windows_fire_by_the_wall_clock() {
    let out = Arc::new(Mutex::new(Vec::new()));
    let e = env(1);
    // No timestamps needed: processing time.
    e.add_source(Paced(30, Duration::from_millis(10)))
        .key_by(|r: &Rec| r.0)
        .window(TumblingProcessingTimeWindows::of(Duration::from_millis(100)))
        .process(Describe)
        .sink_to(CollectSink::new(out.clone()));
    run_local(e).unwrap();
    let got = out.lock().unwrap().clone();
    assert_eq!(got.iter().map(|w| w.3).sum::<usize>(), 30, "{got:?}");
    assert!(got.len() >= 4, "300 ms of records over 100 ms windows and 2 keys: {got:?}");
    assert!(got.iter().all(|w| w.2 - w.1 == 100));
}

#[test]
fn an_event_time_window_without_timestamps_is_a_clear_error() {
    let e = env(1);
    e.from_collection(vec![(1u32, 5i64)])
        .key_by(|r: &Rec| r.0)
        .window(TumblingEventTimeWindows::of(Duration::from_secs(1)))
        .aggregate(Count)
        .discard();
    let err = run_local(e).unwrap_err().to_string();
    assert!(err.contains("without a timestamp") && err.contains("assign_timestamps_and_watermarks"), "{err}");
}

/// Two timestamped inputs at different speeds of event time, unioned: the
/// windows see the records of both (the watermark is the minimum of the two,
/// so the faster input does not make the slower one's records late).
#[test]
fn union_of_two_timestamped_inputs_feeds_one_window_operator() {
    let out = Arc::new(Mutex::new(Vec::new()));
    let e = env(2);
    let fast: Vec<Rec> = (0..2000i64).map(|i| ((i % 3) as u32, i * 20)).collect();
    let slow: Vec<Rec> = (0..500i64).map(|i| ((i % 3) as u32, i * 20)).collect();
    let a = e.from_collection(fast.clone()).assign_timestamps_and_watermarks(strategy());
    let b = e.add_source(OneByOne(slow.clone())).assign_timestamps_and_watermarks(strategy());
    a.union(&[&b])
        .key_by(|r: &Rec| r.0)
        .window(TumblingEventTimeWindows::of(Duration::from_secs(1)))
        .aggregate(Count)
        .sink_to(CollectSink::new(out.clone()));
    run_local(e).unwrap();
    let got = out.lock().unwrap().clone();
    assert_eq!(got.iter().sum::<u64>(), (fast.len() + slow.len()) as u64, "records were dropped as late");
    assert_eq!(got.len(), 3 * 40, "3 keys over 40 one-second windows");
}

/// Emits each record with the event time it carries.
#[derive(Clone)]
struct WithTimestamp;
impl KeyedProcessFunction for WithTimestamp {
    type Key = u32;
    type In = (u32, i64, i64);
    type Out = (u32, i64, i64, i64);
    fn process_element(
        &mut self,
        r: (u32, i64, i64),
        ctx: &mut KeyedContext<'_, u32>,
        out: &mut Collector<'_, Self::Out>,
    ) -> Result<(), TaskError> {
        out.collect((r.0, r.1, r.2, ctx.timestamp().expect("a joined pair has a timestamp")));
        Ok(())
    }
}

/// An interval join at parallelism 2 over out-of-order inputs equals the
/// nested-loop join of the same records, each pair with the later of its
/// two timestamps (Flink's `IntervalJoinOperator`), whichever side came last.
#[test]
fn interval_join_matches_a_nested_loop_join() {
    let left: Vec<Rec> = records().into_iter().step_by(3).collect();
    let right: Vec<Rec> = records().into_iter().skip(1).step_by(4).collect();
    let (lower, upper) = (-200i64, 100i64);
    let out = Arc::new(Mutex::new(Vec::new()));
    let e = env(2);
    let l = e.from_collection(left.clone()).assign_timestamps_and_watermarks(strategy());
    let r = e.from_collection(right.clone()).assign_timestamps_and_watermarks(strategy());
    l.key_by(|x: &Rec| x.0)
        .interval_join(&r.key_by(|x: &Rec| x.0))
        .between(lower, upper)
        .process(|a: &Rec, b: &Rec, out: &mut Collector<'_, (u32, i64, i64)>| out.collect((a.0, a.1, b.1)))
        .key_by(|p: &(u32, i64, i64)| p.0)
        .process(WithTimestamp)
        .sink_to(CollectSink::new(out.clone()));
    run_local(e).unwrap();
    let mut got = out.lock().unwrap().clone();
    got.sort_unstable();
    let mut want = Vec::new();
    for a in &left {
        for b in &right {
            if a.0 == b.0 && b.1 >= a.1 + lower && b.1 <= a.1 + upper {
                want.push((a.0, a.1, b.1, a.1.max(b.1)));
            }
        }
    }
    want.sort_unstable();
    assert!(want.len() > 100, "the test data must join: {}", want.len());
    assert!(want.iter().any(|w| w.2 > w.1) && want.iter().any(|w| w.2 < w.1), "pairs with either side later");
    assert_eq!(got, want);
}

/// A tumbling window join at parallelism 2 equals the nested-loop join of
/// the records with equal keys in the same window.
#[test]
fn window_join_matches_a_nested_loop_join_per_window() {
    let left: Vec<Rec> = records().into_iter().step_by(5).collect();
    let right: Vec<Rec> = records().into_iter().skip(2).step_by(7).collect();
    let out = Arc::new(Mutex::new(Vec::new()));
    let e = env(2);
    let l = e.from_collection(left.clone()).assign_timestamps_and_watermarks(strategy());
    let r = e.from_collection(right.clone()).assign_timestamps_and_watermarks(strategy());
    l.join(&r)
        .where_key(|x: &Rec| x.0)
        .equal_to(|x: &Rec| x.0)
        .window(TumblingEventTimeWindows::of(Duration::from_secs(2)))
        .apply(|a: &Rec, b: &Rec| (a.0, a.1, b.1))
        .sink_to(CollectSink::new(out.clone()));
    run_local(e).unwrap();
    let mut got = out.lock().unwrap().clone();
    got.sort_unstable();
    let mut want = Vec::new();
    for a in &left {
        for b in &right {
            if a.0 == b.0 && a.1 / 2000 == b.1 / 2000 {
                want.push((a.0, a.1, b.1));
            }
        }
    }
    want.sort_unstable();
    assert!(want.len() > 100, "the test data must join: {}", want.len());
    assert_eq!(got, want);
}

/// Lists a count window's records: (key, values in arrival order).
#[derive(Clone)]
struct ListValues;
impl ProcessWindowFunction<Rec, u32> for ListValues {
    type Out = (u32, Vec<i64>);
    fn process(
        &mut self,
        key: &u32,
        _ctx: &ProcessWindowContext,
        elements: &[Rec],
        out: &mut Collector<'_, Self::Out>,
    ) -> Result<(), TaskError> {
        out.collect((*key, elements.iter().map(|r| r.1).collect()));
        Ok(())
    }
}

/// Count windows at parallelism 2, tumbling and sliding (slide below and
/// above the size): per key, every `slide` records the last `size` of them,
/// as Flink's `countWindow(size, slide)`; left-over records fire nothing.
#[test]
fn count_windows_match_a_reference_per_key() {
    let input: Vec<Rec> = (0..1000i64).map(|i| ((i * 7 % 5) as u32, i)).collect();
    for (size, slide, tumbling) in [(4u64, 4u64, true), (5, 2, false), (2, 3, false)] {
        let out = Arc::new(Mutex::new(Vec::new()));
        let e = env(2);
        let keyed = e.from_collection(input.clone()).key_by(|r: &Rec| r.0);
        let windows = if tumbling { keyed.count_window(size) } else { keyed.count_window_sliding(size, slide) };
        windows.process(ListValues).sink_to(CollectSink::new(out.clone()));
        run_local(e).unwrap();
        let mut got = out.lock().unwrap().clone();
        got.sort();
        let mut want = Vec::new();
        for k in 0..5u32 {
            let xs: Vec<i64> = input.iter().filter(|r| r.0 == k).map(|r| r.1).collect();
            for i in 0..xs.len() {
                if (i as u64 + 1).is_multiple_of(slide) {
                    want.push((k, xs[(i + 1).saturating_sub(size as usize)..=i].to_vec()));
                }
            }
        }
        want.sort();
        assert!(want.len() > 100, "size {size} slide {slide}: {} windows", want.len());
        assert_eq!(got, want, "size {size} slide {slide}");
    }
}
