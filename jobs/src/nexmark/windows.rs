//! The window queries: q5 (sliding), q7 (tumbling), q11 (session).

use std::io::Write;
use std::time::Duration;

use rfy_runtime::api::{KeyedContext, KeyedStateStore, ListState, ValueState};
use rfy_runtime::windowing::{
    AggregateFunction, EventTimeSessionWindows, ProcessWindowContext, ProcessWindowFunction, SlidingEventTimeWindows,
    TumblingEventTimeWindows, TumblingProcessingTimeWindows,
};
use rfy_runtime::{Collector, DataStream, KeyedProcessFunction, TaskError};

use super::model::{Bid, Event};
use super::{bids, push_time, sink, Args};

/// Counts records.
#[derive(Clone)]
pub struct Count;

impl<T> AggregateFunction<T> for Count {
    type Acc = u64;
    type Out = u64;
    fn create_accumulator(&self) -> u64 {
        0
    }
    #[inline]
    fn add(&self, _value: T, acc: &mut u64) {
        *acc += 1;
    }
    fn get_result(&self, acc: &u64) -> u64 {
        *acc
    }
    fn merge(&self, acc: &mut u64, other: u64) {
        *acc += other;
    }
}

/// `(key, count, window start, window end)` of a window's count.
#[derive(Clone)]
struct WithWindow;

impl ProcessWindowFunction<u64, i64> for WithWindow {
    type Out = (i64, u64, i64, i64);
    fn process(
        &mut self,
        key: &i64,
        ctx: &ProcessWindowContext,
        elements: &[u64],
        out: &mut Collector<'_, Self::Out>,
    ) -> Result<(), TaskError> {
        let w = ctx.window();
        for &n in elements {
            out.collect((*key, n, w.start, w.end));
        }
        Ok(())
    }
}

/// Keeps the rows with the highest count of a window.
#[derive(Clone)]
struct Hottest;

impl ProcessWindowFunction<(i64, u64, i64, i64), i64> for Hottest {
    type Out = (i64, u64, i64, i64);
    fn process(
        &mut self,
        _key: &i64,
        _ctx: &ProcessWindowContext,
        elements: &[(i64, u64, i64, i64)],
        out: &mut Collector<'_, Self::Out>,
    ) -> Result<(), TaskError> {
        let max = elements.iter().map(|e| e.1).max().unwrap_or(0);
        for e in elements.iter().filter(|e| e.1 == max) {
            out.collect(*e);
        }
        Ok(())
    }
}

fn format_count_window(r: &(i64, u64, i64, i64), out: &mut Vec<u8>) {
    let _ = write!(out, "{}\t{}\t", r.0, r.1);
    push_time(r.2, out);
    out.push(b'\t');
    push_time(r.3, out);
}

/// q5, hot items: per 10 s window sliding by 2 s, the auctions with the most
/// bids. The nexmark SQL joins the per-auction counts of
/// `HOP(bid, 2 s, 10 s)` with their maximum per window on `num >= maxn`;
/// rows are `auction, num, starttime, endtime` (the nexmark SQL selects the
/// first two; the window is added so each row names its window).
///
/// Plan: counts per (auction, window), incremental; then each window's
/// counts (they carry the window's last ms as timestamp) meet in a 2 s
/// tumbling window keyed by the window's end, which keeps the maximum.
pub fn q5(events: &DataStream<Event>, a: &Args) {
    let counts = bids(events)
        .key_by(|b: &Bid| b.auction)
        .window(SlidingEventTimeWindows::of(Duration::from_secs(10), Duration::from_secs(2)))
        .aggregate_process(Count, WithWindow);
    let hottest = counts
        .key_by(|c: &(i64, u64, i64, i64)| c.3)
        .window(TumblingEventTimeWindows::of(Duration::from_secs(2)))
        .process(Hottest);
    sink(&hottest, a, format_count_window);
}

/// q7's window size, ms.
const Q7_WINDOW_MS: i64 = 10_000;

/// q7 per window (keyed by window number): the bids with the window's
/// highest price, and the bids at the window's end instant, which the
/// nexmark SQL's `BETWEEN window_end - 10 s AND window_end` also joins.
#[derive(Clone, Default)]
pub struct HighestBid {
    max: Option<ValueState<i64>>,
    best: Option<ListState<Bid>>,
    at_end: Option<ListState<Bid>>,
}

impl KeyedProcessFunction for HighestBid {
    type Key = i64;
    type In = (i64, bool, Bid);
    type Out = Bid;

    fn open(&mut self, state: &mut KeyedStateStore<i64>) {
        self.max = Some(state.value_state("max-price"));
        self.best = Some(state.list_state("best-bids"));
        self.at_end = Some(state.list_state("bids-at-end"));
    }

    fn process_element(
        &mut self,
        (_, at_end, bid): (i64, bool, Bid),
        ctx: &mut KeyedContext<'_, i64>,
        _out: &mut Collector<'_, Bid>,
    ) -> Result<(), TaskError> {
        let end = (ctx.current_key() + 1) * Q7_WINDOW_MS;
        if end <= ctx.timer_service().current_watermark() {
            // Late (an out-of-order file read with too small a bound): the
            // window's timer fired and its state is gone; Flink SQL drops it too.
            return Ok(());
        }
        if at_end {
            self.at_end.as_ref().expect("opened").add(ctx, bid);
            return Ok(());
        }
        let (max, best) = (self.max.as_ref().expect("opened"), self.best.as_ref().expect("opened"));
        match max.value(ctx) {
            None => {
                ctx.timer_service().register_event_time_timer(end);
                max.update(ctx, bid.price);
                best.add(ctx, bid);
            }
            Some(m) if bid.price > m => {
                max.update(ctx, bid.price);
                best.clear(ctx);
                best.add(ctx, bid);
            }
            Some(m) if bid.price == m => best.add(ctx, bid),
            Some(_) => {}
        }
        Ok(())
    }

    fn on_timer(
        &mut self,
        _ts: i64,
        ctx: &mut KeyedContext<'_, i64>,
        out: &mut Collector<'_, Bid>,
    ) -> Result<(), TaskError> {
        let (max, best, at_end) = (
            self.max.as_ref().expect("opened"),
            self.best.as_ref().expect("opened"),
            self.at_end.as_ref().expect("opened"),
        );
        if let Some(m) = max.value(ctx) {
            // One list at a time: a read lends from the state's cache (`&mut` context).
            for b in best.get(ctx) {
                out.collect(b.clone());
            }
            for b in at_end.get(ctx).iter().filter(|b| b.price == m) {
                out.collect(b.clone());
            }
        }
        max.clear(ctx);
        best.clear(ctx);
        at_end.clear(ctx);
        Ok(())
    }
}

/// q7, highest bid:
/// `SELECT B.auction, B.price, B.bidder, B.dateTime, B.extra FROM bid B JOIN (SELECT MAX(price) AS maxprice,
///  window_end as dateTime FROM TUMBLE(bid, 10 s) GROUP BY window_start, window_end) B1 ON B.price = B1.maxprice
///  WHERE B.dateTime BETWEEN B1.dateTime - INTERVAL '10' SECOND AND B1.dateTime`.
///
/// Keyed by window number, so windows spread over subtasks; a bid exactly at
/// a window start also goes to the previous window (the `BETWEEN` is closed).
pub fn q7(events: &DataStream<Event>, a: &Args) {
    let tagged = bids(events)
        .flat_map(|b: Bid, out| {
            let w = b.date_time.div_euclid(Q7_WINDOW_MS);
            if b.date_time.rem_euclid(Q7_WINDOW_MS) == 0 {
                out.collect((w - 1, true, b.clone()));
            }
            out.collect((w, false, b));
        })
        .name("Window number");
    let rows = tagged.key_by(|t: &(i64, bool, Bid)| t.0).process(HighestBid::default()).name("Highest bid");
    sink(&rows, a, |b: &Bid, out| {
        let _ = write!(out, "{}\t{}\t{}\t", b.auction, b.price, b.bidder);
        push_time(b.date_time, out);
        out.push(b'\t');
        out.extend_from_slice(b.extra.as_bytes());
    });
}

/// q11, user sessions:
/// `SELECT B.bidder, count(*) as bid_count, SESSION_START(B.dateTime, INTERVAL '10' SECOND) as starttime,
///  SESSION_END(B.dateTime, INTERVAL '10' SECOND) as endtime FROM bid B GROUP BY B.bidder, SESSION(B.dateTime, INTERVAL '10' SECOND)`.
pub fn q11(events: &DataStream<Event>, a: &Args) {
    let sessions = bids(events)
        .key_by(|b: &Bid| b.bidder)
        .window(EventTimeSessionWindows::with_gap(Duration::from_secs(10)))
        .aggregate_process(Count, WithWindow);
    sink(&sessions, a, format_count_window);
}

/// q12, processing-time windows: bids per bidder per 10 s tumbling window of
/// processing time (`TUMBLE(bid, PROCTIME(), 10 s) GROUP BY bidder`); rows are
/// `bidder, bid_count, window_start, window_end`. The values depend on when
/// records arrive, so only the shape is comparable with Flink's.
pub fn q12(events: &DataStream<Event>, a: &Args) {
    let counts = bids(events)
        .key_by(|b: &Bid| b.bidder)
        .window(TumblingProcessingTimeWindows::of(Duration::from_secs(10)))
        .aggregate_process(Count, WithWindow);
    sink(&counts, a, format_count_window);
}
