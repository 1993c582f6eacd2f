//! Queries over closed auctions: q4 (average winning price per category) and
//! q9 (winning bids).

use std::io::Write;

use rfy_runtime::api::{KeyedContext, KeyedStateStore, ListState, ValueState};
use rfy_runtime::{Collector, DataStream, KeyedProcessFunction, TaskError};
use serde::{Deserialize, Serialize};

use super::model::{Auction, Bid, Event};
use super::{push_time, sink, Args};

/// Per category: the running sum and count of winning prices; emits
/// `(category, AVG)` (integer, as SQL's AVG of BIGINT) when the input ends.
#[derive(Clone, Default)]
pub struct CategoryAverage {
    sum_count: Option<ValueState<(i64, i64)>>,
}

impl KeyedProcessFunction for CategoryAverage {
    type Key = i64;
    type In = (i64, i64);
    type Out = (i64, i64);

    fn open(&mut self, state: &mut KeyedStateStore<i64>) {
        self.sum_count = Some(state.value_state("sum-count"));
    }

    fn process_element(
        &mut self,
        (_, price): (i64, i64),
        ctx: &mut KeyedContext<'_, i64>,
        _out: &mut Collector<'_, (i64, i64)>,
    ) -> Result<(), TaskError> {
        let s = self.sum_count.as_ref().expect("opened");
        let (sum, count) = s.value(ctx).unwrap_or((0, 0));
        if count == 0 {
            // Fires at the end of a bounded input (the final watermark).
            ctx.timer_service().register_event_time_timer(i64::MAX);
        }
        s.update(ctx, (sum + price, count + 1));
        Ok(())
    }

    fn on_timer(
        &mut self,
        _ts: i64,
        ctx: &mut KeyedContext<'_, i64>,
        out: &mut Collector<'_, (i64, i64)>,
    ) -> Result<(), TaskError> {
        if let Some((sum, count)) = self.sum_count.as_ref().expect("opened").value(ctx) {
            out.collect((*ctx.current_key(), sum / count));
        }
        Ok(())
    }
}

/// q4, average price per category:
/// `SELECT Q.category, AVG(Q.final) FROM (SELECT MAX(B.price) AS final, A.category FROM auction A, bid B
///  WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires GROUP BY A.id, A.category) Q
///  GROUP BY Q.category`: [`winning_bids`]' prices (the highest valid bid's price is `MAX(B.price)`), averaged
/// per category. Flink's SQL emits an update per change; this job emits each category's final
/// average when the (bounded) input ends, which equals the SQL's final result.
pub fn q4(events: &DataStream<Event>, a: &Args) {
    let winning =
        winning_bids(events).map(|(x, b): (Auction, Bid)| (x.category, b.price)).name("Category and final price");
    let averages =
        winning.key_by(|w: &(i64, i64)| w.0).process(CategoryAverage::default()).name("Average per category");
    sink(&averages, a, |r: &(i64, i64), out| {
        let _ = write!(out, "{}\t{}", r.0, r.1);
    });
}

/// Each auction with its winning bid (see [`WinningBid`]), once the
/// watermark passes its expiry: the join q4 and q9 share.
pub fn winning_bids(events: &DataStream<Event>) -> DataStream<(Auction, Bid)> {
    events
        .flat_map(|e: Event, out| match e {
            Event::Auction(a) => out.collect(FullAuctionOrBid::Auction(a)),
            Event::Bid(b) => out.collect(FullAuctionOrBid::Bid(b)),
            Event::Person(_) => {}
        })
        .name("Auctions and bids")
        .key_by(|i: &FullAuctionOrBid| match i {
            FullAuctionOrBid::Auction(a) => a.id,
            FullAuctionOrBid::Bid(b) => b.auction,
        })
        .process(WinningBid::default())
        .name("Winning bid")
}

/// An input of the winning-bid join (q4, q9), keyed by auction id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum FullAuctionOrBid {
    /// An auction.
    Auction(Auction),
    /// A bid.
    Bid(Bid),
}

/// True if `b` beats `best` (higher price, then earlier time: the nexmark
/// SQL's `ORDER BY B.price DESC, B.dateTime ASC`).
fn beats(b: &Bid, best: &Option<Bid>) -> bool {
    best.as_ref().is_none_or(|x| (b.price, -b.date_time) > (x.price, -x.date_time))
}

/// Per auction: its winning bid (see [`beats`]) among the bids with
/// `auction.dateTime <= bid.dateTime <= auction.expires`, emitted once when
/// the watermark passes the auction's expiry.
#[derive(Clone, Default)]
pub struct WinningBid {
    open: Option<ValueState<(Auction, Option<Bid>)>>,
    early_bids: Option<ListState<Bid>>,
    closed: Option<ValueState<bool>>,
}

impl KeyedProcessFunction for WinningBid {
    type Key = i64;
    type In = FullAuctionOrBid;
    type Out = (Auction, Bid);

    fn open(&mut self, state: &mut KeyedStateStore<i64>) {
        self.open = Some(state.value_state("auction"));
        self.early_bids = Some(state.list_state("early-bids"));
        self.closed = Some(state.value_state("closed"));
    }

    fn process_element(
        &mut self,
        value: FullAuctionOrBid,
        ctx: &mut KeyedContext<'_, i64>,
        _out: &mut Collector<'_, (Auction, Bid)>,
    ) -> Result<(), TaskError> {
        let (open, early, closed) = (
            self.open.as_ref().expect("opened"),
            self.early_bids.as_ref().expect("opened"),
            self.closed.as_ref().expect("opened"),
        );
        if closed.value(ctx).is_some() {
            return Ok(());
        }
        match value {
            FullAuctionOrBid::Auction(a) => {
                let mut best = None;
                for b in early.get(ctx).iter().filter(|b| (a.date_time..=a.expires).contains(&b.date_time)) {
                    if beats(b, &best) {
                        best = Some(b.clone());
                    }
                }
                early.clear(ctx);
                ctx.timer_service().register_event_time_timer(a.expires);
                open.update(ctx, (a, best));
            }
            FullAuctionOrBid::Bid(b) => match open.value(ctx) {
                Some((a, best)) => {
                    if (a.date_time..=a.expires).contains(&b.date_time) && beats(&b, &best) {
                        open.update(ctx, (a, Some(b)));
                    }
                }
                None => early.add(ctx, b),
            },
        }
        Ok(())
    }

    fn on_timer(
        &mut self,
        _ts: i64,
        ctx: &mut KeyedContext<'_, i64>,
        out: &mut Collector<'_, (Auction, Bid)>,
    ) -> Result<(), TaskError> {
        let open = self.open.as_ref().expect("opened");
        if let Some((a, Some(b))) = open.value(ctx) {
            out.collect((a, b));
        }
        open.clear(ctx);
        self.closed.as_ref().expect("opened").update(ctx, true);
        Ok(())
    }
}

/// q9, winning bids: each auction with its highest valid bid (the nexmark
/// SQL's `ROW_NUMBER() OVER (PARTITION BY A.id ORDER BY B.price DESC, B.dateTime ASC) <= 1` over
/// `auction A, bid B WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires`); rows are
/// `id, itemName, description, initialBid, reserve, dateTime, expires, seller, category, extra,
///  auction, bidder, price, bid_dateTime, bid_extra`. Emitted once per auction at its expiry.
pub fn q9(events: &DataStream<Event>, a: &Args) {
    let winners = winning_bids(events);
    sink(&winners, a, |(x, b): &(Auction, Bid), out| {
        let _ = write!(out, "{}\t{}\t{}\t{}\t{}\t", x.id, x.item_name, x.description, x.initial_bid, x.reserve);
        push_time(x.date_time, out);
        out.push(b'\t');
        push_time(x.expires, out);
        let _ = write!(out, "\t{}\t{}\t{}\t{}\t{}\t{}\t", x.seller, x.category, x.extra, b.auction, b.bidder, b.price);
        push_time(b.date_time, out);
        out.push(b'\t');
        out.extend_from_slice(b.extra.as_bytes());
    });
}
