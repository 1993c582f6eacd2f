//! The Nexmark event generator: the model of the nexmark project's and
//! Apache Beam's generator (read there, written here), deterministic for a
//! seed and parallel with disjoint event ids.
//!
//! Event `n` (0-based) is a person if `n % 50 == 0`, an auction if
//! `n % 50` is 1..=3, a bid otherwise (the 1:3:46 proportion). Every field of
//! event `n` comes from a random generator seeded by `(seed, n)` alone, so an
//! event is the same whichever subtask makes it, at any parallelism. The
//! parallel, checkpointed source over it is
//! [`NexmarkSource`](super::generator_source::NexmarkSource): subtask `i` of
//! `p` makes events `i, i + p, i + 2p, ...`.
//!
//! Event time: `base_time + n · 10⁶ / event_rate µs` (integer ms), the
//! generator's "first event rate" (events per second of event time),
//! independent of how fast events are made (`rate_limit`, events per second of
//! wall time in total).
//!
//! Ids: people and auctions are numbered from 1000 in event order. A
//! new auction's seller is a "hot" seller (one of every 4th recent person id)
//! 3 times in 4, else one of the last 1000 people; a bid's auction is a hot
//! auction (every 2nd recent id) 1 time in 2, else one of the last 100
//! auctions; a bid's bidder is a hot bidder 3 times in 4.

use fastrand::Rng;

use super::model::{Auction, Bid, Event, Person};

/// Events in one person/auction/bid cycle.
pub const PROPORTION_DENOMINATOR: u64 = 50;
const PERSON_PROPORTION: u64 = 1;
const AUCTION_PROPORTION: u64 = 3;
/// First person id.
pub const FIRST_PERSON_ID: i64 = 1000;
/// First auction id.
pub const FIRST_AUCTION_ID: i64 = 1000;
/// First category id; categories are `FIRST_CATEGORY_ID .. FIRST_CATEGORY_ID + 5`.
pub const FIRST_CATEGORY_ID: i64 = 10;
const NUM_CATEGORIES: u64 = 5;
const NUM_ACTIVE_PEOPLE: u64 = 1000;
const NUM_IN_FLIGHT_AUCTIONS: u64 = 100;
/// Ids not yet created that a random pick may still name.
const ID_LEAD: u64 = 10;
const HOT_AUCTION_RATIO: u64 = 2;
const HOT_SELLER_RATIO: u64 = 4;
const HOT_BIDDER_RATIO: u64 = 4;
const HOT_CHANNEL_RATIO: u64 = 2;
const CHANNELS: u64 = 10_000;
const AVG_PERSON_BYTES: usize = 200;
const AVG_AUCTION_BYTES: usize = 500;
const AVG_BID_BYTES: usize = 100;

const FIRST_NAMES: [&str; 11] =
    ["Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"];
const LAST_NAMES: [&str; 9] = ["Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"];
const US_STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const US_CITIES: [&str; 10] =
    ["Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"];
const HOT_CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];

/// 2015-07-15 00:00:00 UTC, Beam's Nexmark base time, in ms.
pub const DEFAULT_BASE_TIME_MS: i64 = 1_436_918_400_000;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeneratorConfig {
    /// Seed of every event's random fields.
    pub seed: u64,
    /// Number of events in total (bounded), or `None` (unbounded).
    pub events: Option<u64>,
    /// Events per second of event time (spacing of the timestamps).
    pub event_rate: u64,
    /// Time of event 0, ms since the epoch.
    pub base_time_ms: i64,
    /// Events per second of wall time over all subtasks, or `None` (as fast as possible).
    pub rate_limit: Option<f64>,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            seed: 0,
            events: Some(1_000_000),
            event_rate: 10_000,
            base_time_ms: DEFAULT_BASE_TIME_MS,
            rate_limit: None,
        }
    }
}

/// Highest person id (0-based) created at or before event `n`.
// Beam's formula, general in the proportions (with one person per cycle the `min` is 0).
#[allow(clippy::unnecessary_min_or_max)]
fn last_base0_person_id(n: u64) -> u64 {
    let (epoch, offset) = (n / PROPORTION_DENOMINATOR, n % PROPORTION_DENOMINATOR);
    epoch * PERSON_PROPORTION + offset.min(PERSON_PROPORTION - 1)
}

/// Highest auction id (0-based) created at or before event `n` (wraps below 0 before the first).
fn last_base0_auction_id(n: u64) -> u64 {
    let (mut epoch, mut offset) = (n / PROPORTION_DENOMINATOR, n % PROPORTION_DENOMINATOR);
    if offset < PERSON_PROPORTION {
        // Before this epoch's auctions: the previous epoch's last one.
        if epoch == 0 {
            return 0;
        }
        epoch -= 1;
        offset = AUCTION_PROPORTION - 1;
    } else if offset >= PERSON_PROPORTION + AUCTION_PROPORTION {
        offset = AUCTION_PROPORTION - 1;
    } else {
        offset -= PERSON_PROPORTION;
    }
    epoch * AUCTION_PROPORTION + offset
}

/// A random recent person id (0-based): one of the last 1000 people, or a few not yet created.
fn next_base0_person_id(n: u64, rng: &mut Rng) -> u64 {
    let people = last_base0_person_id(n) + 1;
    let active = people.min(NUM_ACTIVE_PEOPLE);
    people - active + rng.u64(0..active + ID_LEAD)
}

/// A random in-flight auction id (0-based).
fn next_base0_auction_id(n: u64, rng: &mut Rng) -> u64 {
    let last = last_base0_auction_id(n);
    let min = last.saturating_sub(NUM_IN_FLIGHT_AUCTIONS);
    min + rng.u64(0..last - min + 1 + ID_LEAD)
}

/// A price in cents, log-uniform between 1 and 1,000,000 dollars.
fn next_price(rng: &mut Rng) -> i64 {
    (10f64.powf(rng.f64() * 6.0) * 100.0).round() as i64
}

/// A lowercase string of 3..`max_len` letters.
fn next_string(rng: &mut Rng, max_len: usize) -> String {
    let len = 3 + rng.usize(0..max_len - 2);
    exact_string(rng, len)
}

fn exact_string(rng: &mut Rng, len: usize) -> String {
    (0..len).map(|_| rng.lowercase()).collect()
}

/// Padding so the event averages `avg` bytes: ±20 % around what is missing.
fn next_extra(rng: &mut Rng, current: usize, avg: usize) -> String {
    if current >= avg {
        return String::new();
    }
    let want = avg - current;
    let delta = want / 5;
    let len = want - delta + rng.usize(0..=2 * delta);
    exact_string(rng, len)
}

impl GeneratorConfig {
    /// Event time of event `n`, ms since the epoch.
    pub fn timestamp(&self, n: u64) -> i64 {
        self.base_time_ms + (n as u128 * 1_000_000 / self.event_rate.max(1) as u128 / 1000) as i64
    }

    /// Event `n` (0-based): the same for a seed whoever asks.
    pub fn event(&self, n: u64) -> Event {
        let mut rng = Rng::with_seed(self.seed ^ n.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let ts = self.timestamp(n);
        let offset = n % PROPORTION_DENOMINATOR;
        if offset < PERSON_PROPORTION {
            Event::Person(self.person(n, ts, &mut rng))
        } else if offset < PERSON_PROPORTION + AUCTION_PROPORTION {
            Event::Auction(self.auction(n, ts, &mut rng))
        } else {
            Event::Bid(bid(n, ts, &mut rng))
        }
    }

    fn person(&self, n: u64, ts: i64, rng: &mut Rng) -> Person {
        let id = last_base0_person_id(n) as i64 + FIRST_PERSON_ID;
        let name =
            format!("{} {}", FIRST_NAMES[rng.usize(0..FIRST_NAMES.len())], LAST_NAMES[rng.usize(0..LAST_NAMES.len())]);
        let email_address = format!("{}@{}.com", next_string(rng, 7), next_string(rng, 5));
        let credit_card = format!(
            "{:04} {:04} {:04} {:04}",
            rng.u32(0..10_000),
            rng.u32(0..10_000),
            rng.u32(0..10_000),
            rng.u32(0..10_000)
        );
        let city = US_CITIES[rng.usize(0..US_CITIES.len())].to_string();
        let state = US_STATES[rng.usize(0..US_STATES.len())].to_string();
        let size = 8 + name.len() + email_address.len() + credit_card.len() + city.len() + state.len() + 8;
        let extra = next_extra(rng, size, AVG_PERSON_BYTES);
        Person {
            id,
            name: name.into(),
            email_address: email_address.into(),
            credit_card: credit_card.into(),
            city: city.into(),
            state: state.into(),
            date_time: ts,
            extra: extra.into(),
        }
    }

    fn auction(&self, n: u64, ts: i64, rng: &mut Rng) -> Auction {
        let id = last_base0_auction_id(n) as i64 + FIRST_AUCTION_ID;
        let seller = if rng.u64(0..HOT_SELLER_RATIO) > 0 {
            (last_base0_person_id(n) / HOT_SELLER_RATIO) * HOT_SELLER_RATIO
        } else {
            next_base0_person_id(n, rng)
        } as i64
            + FIRST_PERSON_ID;
        let category = FIRST_CATEGORY_ID + rng.u64(0..NUM_CATEGORIES) as i64;
        let initial_bid = next_price(rng);
        // Auctions stay open about as long as it takes to create the next
        // NUM_IN_FLIGHT_AUCTIONS auctions, so about that many are open at once.
        let horizon_events = NUM_IN_FLIGHT_AUCTIONS * PROPORTION_DENOMINATOR / AUCTION_PROPORTION;
        let horizon_ms = (self.timestamp(n + horizon_events) - ts).max(1) as u64;
        let expires = ts + 1 + rng.u64(0..horizon_ms * 2) as i64;
        let item_name = next_string(rng, 20);
        let description = next_string(rng, 100);
        let reserve = initial_bid + next_price(rng);
        let size = 8 + item_name.len() + description.len() + 8 + 8 + 8 + 8 + 8;
        let extra = next_extra(rng, size, AVG_AUCTION_BYTES);
        Auction {
            id,
            item_name: item_name.into(),
            description: description.into(),
            initial_bid,
            reserve,
            date_time: ts,
            expires,
            seller,
            category,
            extra: extra.into(),
        }
    }
}

fn bid(n: u64, ts: i64, rng: &mut Rng) -> Bid {
    let auction = if rng.u64(0..HOT_AUCTION_RATIO) > 0 {
        (last_base0_auction_id(n) / HOT_AUCTION_RATIO) * HOT_AUCTION_RATIO
    } else {
        next_base0_auction_id(n, rng)
    } as i64
        + FIRST_AUCTION_ID;
    let bidder = if rng.u64(0..HOT_BIDDER_RATIO) > 0 {
        (last_base0_person_id(n) / HOT_BIDDER_RATIO) * HOT_BIDDER_RATIO + 1
    } else {
        next_base0_person_id(n, rng)
    } as i64
        + FIRST_PERSON_ID;
    let price = next_price(rng);
    let (channel, url) = if rng.u64(0..HOT_CHANNEL_RATIO) > 0 {
        let c = rng.usize(0..HOT_CHANNELS.len());
        (
            HOT_CHANNELS[c].to_string(),
            format!("https://www.nexmark.com/{}/item.htm?query=1", HOT_CHANNELS[c].to_lowercase()),
        )
    } else {
        let c = rng.u64(0..CHANNELS);
        (
            format!("channel-{c}"),
            format!("https://www.nexmark.com/{}/item.htm?query=1&channel_id={c}", next_string(rng, 5)),
        )
    };
    let size = 8 + 8 + 8 + channel.len() + url.len() + 8;
    let extra = next_extra(rng, size, AVG_BID_BYTES);
    Bid { auction, bidder, price, channel: channel.into(), url: url.into(), date_time: ts, extra: extra.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proportions_ids_and_determinism() {
        let cfg = GeneratorConfig { seed: 7, ..Default::default() };
        let events: Vec<Event> = (0..5000).map(|n| cfg.event(n)).collect();
        let count = |f: fn(&Event) -> bool| events.iter().filter(|e| f(e)).count();
        assert_eq!(count(|e| matches!(e, Event::Person(_))), 100);
        assert_eq!(count(|e| matches!(e, Event::Auction(_))), 300);
        assert_eq!(count(|e| matches!(e, Event::Bid(_))), 4600);
        let people: Vec<i64> =
            events.iter().filter_map(|e| if let Event::Person(p) = e { Some(p.id) } else { None }).collect();
        assert_eq!(people, (1000..1100).collect::<Vec<_>>());
        let auctions: Vec<i64> =
            events.iter().filter_map(|e| if let Event::Auction(a) = e { Some(a.id) } else { None }).collect();
        assert_eq!(auctions, (1000..1300).collect::<Vec<_>>());
        for e in &events {
            if let Event::Bid(b) = e {
                assert!(b.auction >= 1000 && b.auction < 1300 + 10 && b.price > 0, "{b:?}");
            }
            if let Event::Auction(a) = e {
                assert!(a.expires > a.date_time && a.reserve > a.initial_bid && (10..15).contains(&a.category));
            }
        }
        assert_eq!(cfg.event(4321), events[4321]);
        assert_ne!(GeneratorConfig { seed: 8, ..cfg }.event(4321), events[4321]);
        assert_eq!(cfg.timestamp(10_000), DEFAULT_BASE_TIME_MS + 1000);
    }
}
