//! The stateless queries q0–q2 (the nexmark project's SQL in each doc).

use std::io::Write;

use rfy_runtime::DataStream;

use super::model::{Bid, Event};
use super::{bids, push_time, sink, Args};

/// `auction, bidder, price, dateTime, extra` of a bid.
fn format_bid(b: &Bid, out: &mut Vec<u8>) {
    let _ = write!(out, "{}\t{}\t{}\t", b.auction, b.bidder, b.price);
    push_time(b.date_time, out);
    out.push(b'\t');
    out.extend_from_slice(b.extra.as_bytes());
}

/// q0, pass-through: `SELECT auction, bidder, price, dateTime, extra FROM bid`.
pub fn q0(events: &DataStream<Event>, a: &Args) {
    sink(&bids(events), a, format_bid);
}

/// A bid with its price in euros, in thousandths (`0.908 * price` exactly).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EuroBid {
    /// The bid, its `price` in thousandths of a euro cent.
    pub bid: Bid,
}

/// q1, currency conversion:
/// `SELECT auction, bidder, 0.908 * price as price, dateTime, extra FROM bid`
/// (the price printed with three decimals, as Flink's `DECIMAL(23, 3)`).
pub fn q1(events: &DataStream<Event>, a: &Args) {
    let euros = bids(events)
        .map(|mut b: Bid| {
            b.price *= 908;
            EuroBid { bid: b }
        })
        .name("Euros");
    sink(&euros, a, |e, out| {
        let b = &e.bid;
        let sign = if b.price < 0 { "-" } else { "" };
        let p = b.price.unsigned_abs();
        let _ = write!(out, "{}\t{}\t{sign}{}.{:03}\t", b.auction, b.bidder, p / 1000, p % 1000);
        push_time(b.date_time, out);
        out.push(b'\t');
        out.extend_from_slice(b.extra.as_bytes());
    });
}

/// q2, selection: `SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0`.
pub fn q2(events: &DataStream<Event>, a: &Args) {
    let rows = events
        .flat_map(|e: Event, out| {
            if let Event::Bid(b) = e {
                if b.auction % 123 == 0 {
                    out.collect((b.auction, b.price))
                }
            }
        })
        .name("Selection");
    sink(&rows, a, |r: &(i64, i64), out| {
        let _ = write!(out, "{}\t{}", r.0, r.1);
    });
}
