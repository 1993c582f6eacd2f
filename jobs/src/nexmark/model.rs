//! Nexmark's three event types (Person, Auction, Bid) with the nexmark
//! project's field names, and the JSON-lines event file format other systems
//! read (`{"event_type":0,"person":{...}}`, 0 = person, 1 = auction, 2 = bid,
//! as the nexmark project's `datagen` table).
//!
//! Times are ms since the epoch (UTC) in memory and SQL timestamps
//! (`2015-07-15 00:00:00.000`, UTC) in the file, which Flink's JSON format
//! reads as `TIMESTAMP(3)` with `json.timestamp-format.standard = 'SQL'`.
//!
//! Text fields are [`CompactString`]s: the short ones (channels, cities,
//! states, most bids' `extra`) live inside the struct, so parsing an event
//! allocates only for its long strings (same serde format as `String`).

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

/// A person: a seller or bidder (fields as the nexmark project's `person`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    /// Person id (≥ 1000), unique, in event order.
    pub id: i64,
    /// "First Last".
    pub name: CompactString,
    /// A made-up e-mail address.
    pub email_address: CompactString,
    /// Four groups of four digits.
    pub credit_card: CompactString,
    /// One of ten US cities.
    pub city: CompactString,
    /// One of six US state codes (AZ, CA, ID, OR, WA, WY).
    pub state: CompactString,
    /// Event time, ms since the epoch.
    #[serde(with = "sql_time")]
    pub date_time: i64,
    /// Padding up to the average person size (200 bytes).
    pub extra: CompactString,
}

/// An auction (fields as the nexmark project's `auction`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Auction {
    /// Auction id (≥ 1000), unique, in event order.
    pub id: i64,
    /// Item name.
    pub item_name: CompactString,
    /// Item description.
    pub description: CompactString,
    /// Opening price (cents).
    pub initial_bid: i64,
    /// Reserve price (cents), above the initial bid.
    pub reserve: i64,
    /// Event time, ms since the epoch.
    #[serde(with = "sql_time")]
    pub date_time: i64,
    /// When the auction closes, ms since the epoch.
    #[serde(with = "sql_time")]
    pub expires: i64,
    /// Seller's person id.
    pub seller: i64,
    /// Category id (10..15).
    pub category: i64,
    /// Padding up to the average auction size (500 bytes).
    pub extra: CompactString,
}

/// A bid (fields as the nexmark project's `bid`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bid {
    /// Auction id bid on.
    pub auction: i64,
    /// Bidder's person id.
    pub bidder: i64,
    /// Price (cents).
    pub price: i64,
    /// Channel the bid came through (e.g. "Google", "channel-42").
    pub channel: CompactString,
    /// URL of the bid.
    pub url: CompactString,
    /// Event time, ms since the epoch.
    #[serde(with = "sql_time")]
    pub date_time: i64,
    /// Padding up to the average bid size (100 bytes).
    pub extra: CompactString,
}

/// One Nexmark event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// A new person.
    Person(Person),
    /// A new auction.
    Auction(Auction),
    /// A bid.
    Bid(Bid),
}

impl Event {
    /// The event's time, ms since the epoch.
    pub fn timestamp(&self) -> i64 {
        match self {
            Event::Person(p) => p.date_time,
            Event::Auction(a) => a.date_time,
            Event::Bid(b) => b.date_time,
        }
    }

    /// One line of the event file (no line end).
    pub fn to_json(&self, out: &mut Vec<u8>) {
        let line = match self {
            Event::Person(p) => FileEvent { event_type: 0, person: Some(p), auction: None, bid: None },
            Event::Auction(a) => FileEvent { event_type: 1, person: None, auction: Some(a), bid: None },
            Event::Bid(b) => FileEvent { event_type: 2, person: None, auction: None, bid: Some(b) },
        };
        serde_json::to_writer(out, &line).expect("serializing to memory does not fail");
    }

    /// Parses one line of the event file.
    ///
    /// Errors: [`EventParseError::Json`] (not JSON, an unknown event type,
    /// the event's object missing, a bad time), shown on one line.
    pub fn from_json(line: &str) -> Result<Event, EventParseError> {
        sonic_rs::from_str::<FileLine>(line).map(|l| l.0).map_err(|source| EventParseError::Json { source })
    }

    /// Parses one line of the event file from its bytes (strict: the line
    /// must be UTF-8).
    ///
    /// Errors: as [`Event::from_json`], or [`EventParseError::NotUtf8`].
    pub fn from_json_bytes(line: &[u8]) -> Result<Event, EventParseError> {
        // One check of the whole line (ASCII runs are checked a word at a
        // time) is cheaper than serde_json's check of each string it reads
        // from a byte slice; a `&str` input is not checked again.
        Self::from_json(std::str::from_utf8(line)?)
    }
}

/// Why a line of the event file is not an event.
#[derive(Debug, thiserror::Error)]
pub enum EventParseError {
    /// The line is not UTF-8.
    #[error("not UTF-8: {0}")]
    NotUtf8(#[from] std::str::Utf8Error),
    /// Not JSON, or not an event (an unknown event type, its object missing,
    /// a bad time). Shown as the first line of the parser's message: sonic-rs
    /// shows the text around a syntax error on more lines, and the caller
    /// quotes the line's start.
    #[error("{}", first_line(source))]
    Json {
        /// The parser's error.
        source: sonic_rs::Error,
    },
}

fn first_line(e: &sonic_rs::Error) -> String {
    let mut message = e.to_string();
    message.truncate(message.find('\n').unwrap_or(message.len()));
    message
}

/// A text that is not a SQL timestamp `YYYY-MM-DD HH:MM:SS[.mmm]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not a timestamp YYYY-MM-DD HH:MM:SS.mmm")]
pub struct SqlTimeError {
    /// The text, as given.
    pub text: String,
}

#[derive(Serialize)]
struct FileEvent<'a> {
    event_type: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    person: Option<&'a Person>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auction: Option<&'a Auction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bid: Option<&'a Bid>,
}

/// A line of the event file read straight into an [`Event`]: the object of
/// its type is deserialized in place (no struct with room for all three
/// kinds, which parsing then copied around).
struct FileLine(Event);

/// The keys of a line's object (others are ignored).
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum FileKey {
    EventType,
    Person,
    Auction,
    Bid,
    #[serde(other)]
    Other,
}

impl<'de> Deserialize<'de> for FileLine {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(FileLineVisitor)
    }
}

struct FileLineVisitor;

impl<'de> serde::de::Visitor<'de> for FileLineVisitor {
    type Value = FileLine;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(r#"an event object {"event_type":0|1|2,"person"|"auction"|"bid":{...}}"#)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<FileLine, A::Error> {
        use serde::de::Error;
        let (mut event_type, mut event) = (None::<u8>, None::<Event>);
        while let Some(key) = map.next_key::<FileKey>()? {
            match key {
                FileKey::EventType => event_type = Some(map.next_value()?),
                FileKey::Person => event = map.next_value::<Option<Person>>()?.map(Event::Person).or(event),
                FileKey::Auction => event = map.next_value::<Option<Auction>>()?.map(Event::Auction).or(event),
                FileKey::Bid => event = map.next_value::<Option<Bid>>()?.map(Event::Bid).or(event),
                FileKey::Other => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        match (event_type.ok_or_else(|| A::Error::missing_field("event_type"))?, event) {
            (0, Some(e @ Event::Person(_))) | (1, Some(e @ Event::Auction(_))) | (2, Some(e @ Event::Bid(_))) => {
                Ok(FileLine(e))
            }
            (t, _) => Err(A::Error::custom(format!("event_type {t} without its object"))),
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

/// Writes `ms` (since the epoch, UTC) as `YYYY-MM-DD HH:MM:SS.mmm`, the way
/// Flink SQL prints a `TIMESTAMP(3)` in the reference outputs.
pub fn format_sql_time(ms: i64, out: &mut String) {
    use std::fmt::Write;
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    let _ = write!(out, "{y:04}-{m:02}-{d:02} {h:02}:{min:02}:{s:02}.{milli:03}");
}

/// Parses `YYYY-MM-DD HH:MM:SS[.mmm]` (UTC) into ms since the epoch.
///
/// Errors: [`SqlTimeError`] (naming the text) when it is not of that shape.
pub fn parse_sql_time(text: &str) -> Result<i64, SqlTimeError> {
    let bad = || SqlTimeError { text: text.to_string() };
    let b = text.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || (b[10] != b' ' && b[10] != b'T') {
        return Err(bad());
    }
    // Plain ASCII digits (no sign, no space), read straight from the bytes.
    let num = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0_i64, |n, &c| c.is_ascii_digit().then(|| n * 10 + (c - b'0') as i64)).ok_or_else(bad)
    };
    let (y, mo, d, h, mi, s) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    let milli = match &b[19..] {
        [] => 0,
        [b'.', digits @ ..] if (1..=3).contains(&digits.len()) => {
            num(20..b.len())? * 10_i64.pow(3 - digits.len() as u32)
        }
        _ => return Err(bad()),
    };
    Ok(days_from_civil(y, mo, d) * 86_400_000 + h * 3_600_000 + mi * 60_000 + s * 1000 + milli)
}

/// Serde for event times: a SQL timestamp string in human-readable formats
/// (the JSON event file), plain ms in binary ones (postcard on the wire).
mod sql_time {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            let mut text = String::with_capacity(23);
            super::format_sql_time(*ms, &mut text);
            s.serialize_str(&text)
        } else {
            s.serialize_i64(*ms)
        }
    }

    /// Parses the text where it lies (a `Cow<str>` would copy it into a `String`).
    struct SqlTimeVisitor;

    impl serde::de::Visitor<'_> for SqlTimeVisitor {
        type Value = i64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a timestamp YYYY-MM-DD HH:MM:SS.mmm")
        }
        fn visit_str<E: Error>(self, text: &str) -> Result<i64, E> {
            super::parse_sql_time(text).map_err(E::custom)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        if d.is_human_readable() {
            d.deserialize_str(SqlTimeVisitor)
        } else {
            i64::deserialize(d)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_time_round_trips() {
        let base = 1_436_918_400_000; // 2015-07-15 00:00:00 UTC
        let mut s = String::new();
        format_sql_time(base + 3_723_004, &mut s);
        assert_eq!(s, "2015-07-15 01:02:03.004");
        assert_eq!(parse_sql_time(&s), Ok(base + 3_723_004));
        assert_eq!(parse_sql_time("2015-07-15 00:00:00"), Ok(base));
        assert_eq!(parse_sql_time("2015-07-15T00:00:00.5"), Ok(base + 500));
        assert!(parse_sql_time("yesterday").is_err());
        for ms in [-1, 0, 951_782_400_000, 4_102_444_800_123] {
            let mut t = String::new();
            format_sql_time(ms, &mut t);
            assert_eq!(parse_sql_time(&t), Ok(ms), "{t}");
        }
    }

    #[test]
    fn json_and_postcard_round_trip() {
        let bid = Event::Bid(Bid {
            auction: 1000,
            bidder: 1001,
            price: 42,
            channel: "Google".into(),
            url: "https://www.nexmark.com/a".into(),
            date_time: 1_436_918_400_123,
            extra: CompactString::default(),
        });
        let mut line = Vec::new();
        bid.to_json(&mut line);
        let text = String::from_utf8(line).unwrap();
        assert!(text.starts_with(r#"{"event_type":2,"bid":{"auction":1000"#), "{text}");
        assert!(text.contains(r#""dateTime":"2015-07-15 00:00:00.123""#), "{text}");
        assert_eq!(Event::from_json(&text).unwrap(), bid);
        let bytes = postcard::to_allocvec(&bid).unwrap();
        assert_eq!(postcard::from_bytes::<Event>(&bytes).unwrap(), bid);
        let err = |text: &str| Event::from_json(text).unwrap_err().to_string();
        assert!(err(r#"{"event_type":1}"#).contains("event_type 1"));
        // Strict: a type without its own object, no type, bad times and bad UTF-8 fail; unknown keys are ignored.
        let bid_json = text.strip_prefix(r#"{"event_type":2,"#).unwrap();
        assert!(err(&format!(r#"{{"event_type":0,{bid_json}"#)).contains("event_type 0"));
        assert!(err(&format!("{{{bid_json}")).contains("event_type"));
        assert_eq!(Event::from_json(&format!(r#"{{"x":[1],"event_type":2,"person":null,{bid_json}"#)).unwrap(), bid);
        let bad_time = text.replace("00:00:00.123", "00:00:0x.123");
        assert!(err(&bad_time).contains("is not a timestamp"));
        // Not JSON: trailing text, a cut line, a raw control character in a string, a fraction for an integer.
        assert!(Event::from_json(&format!("{text} x")).is_err());
        let not_json = err("not json");
        assert!(not_json.contains("line 1 column") && !not_json.contains('\n'), "{not_json}");
        assert!(Event::from_json(&text[..text.len() - 2]).is_err());
        assert!(Event::from_json(&text.replace("Google", "Goo\tgle")).is_err());
        assert!(Event::from_json(&text.replace(":42,", ":42.5,")).is_err());
        let mut raw = text.clone().into_bytes();
        let at = text.find("Google").unwrap();
        raw[at + 3] = 0xff;
        assert!(Event::from_json_bytes(&raw).unwrap_err().to_string().contains("not UTF-8"));
    }
}
