//! Bucket assigners: which directory under the sink's base path a record
//! goes to (Flink's `BucketAssigner`). The default is
//! [`DateTimeBucketAssigner`] (`yyyy-MM-dd--HH`, UTC), as in Flink.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, ZonedDateTime as Zoned};

use crate::event::NO_TIMESTAMP;

/// What a bucket assigner sees besides the record (Flink's
/// `BucketAssigner.Context`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketContext {
    /// The record's event-time timestamp (ms since the Unix epoch), if it has one.
    pub timestamp: Option<i64>,
    /// Processing time at the subtask (ms since the Unix epoch), read once per batch.
    pub processing_time: i64,
    /// The subtask's current watermark (ms).
    pub watermark: i64,
}

/// Where a record goes, as told by [`BucketAssigner::assign`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assigned {
    /// The bucket whose id the assigner wrote; `end` is the end (ms,
    /// exclusive) of the event-time range the bucket covers, if any: once the
    /// watermark passes it the bucket is complete (`_SUCCESS`).
    Id {
        /// End of the bucket's event-time range (ms), if it has one.
        end: Option<i64>,
    },
    /// The time bucket containing this instant (ms): the sink asks
    /// [`BucketAssigner::time_bucket`] for its id once per bucket, not per
    /// record.
    Time(i64),
}

/// A time bucket: its id and the range `[start, end)` (ms) it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeBucket {
    /// Bucket id, a relative path such as `2024-01-01--13`.
    pub id: String,
    /// First instant (ms) in the bucket.
    pub start: i64,
    /// First instant (ms) after the bucket.
    pub end: i64,
    /// True if the range is in event time (the watermark completes it),
    /// false for processing time (the wall clock does).
    pub event_time: bool,
}

/// Chooses the bucket (a relative directory, may hold `/`) of each record.
/// Called once per record: keep it cheap (write into `id`, no allocation).
pub trait BucketAssigner<T>: Send + Sync + 'static {
    /// The bucket of `record`: writes its id into `id` (empty on entry) and
    /// returns [`Assigned::Id`], or returns [`Assigned::Time`] for a time
    /// bucket named by [`BucketAssigner::time_bucket`].
    fn assign(&self, record: &T, ctx: &BucketContext, id: &mut String) -> Assigned;
    /// The time bucket holding instant `at` (ms); only called for assigners
    /// that return [`Assigned::Time`].
    fn time_bucket(&self, at: i64) -> TimeBucket {
        TimeBucket { id: at.to_string(), start: at, end: at.saturating_add(1), event_time: true }
    }
    /// False if no bucket ever has a time range: the sink then keeps no
    /// partition commit progress. Default true.
    fn has_time_ranges(&self) -> bool {
        true
    }
}

/// Errors of [`DateTimeBucketAssigner`]'s settings.
#[derive(Debug, thiserror::Error)]
pub enum BucketFormatError {
    /// The date-time pattern has a letter rfy does not know.
    #[error("date-time bucket format '{format}': unsupported pattern letter '{letter}' (supported: y M d H m s, quoted text)")]
    Letter {
        /// The pattern.
        format: String,
        /// The letter.
        letter: char,
    },
    /// The pattern has no date-time field at all or an unclosed quote.
    #[error("date-time bucket format '{format}': {reason}")]
    Pattern {
        /// The pattern.
        format: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The time zone is not known.
    #[error("time zone '{zone}': {reason}")]
    Zone {
        /// The zone as given.
        zone: String,
        /// Why it was refused.
        reason: String,
    },
}

/// The finest field of a date-time pattern: a bucket spans one of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Unit {
    Second,
    Minute,
    Hour,
    Day,
    Month,
    Year,
}

/// Buckets by date and time (Flink's `DateTimeBucketAssigner`): the id is
/// the bucket's start formatted with a Java `DateTimeFormatter` pattern
/// (default `yyyy-MM-dd--HH`) in a time zone (default UTC). By default, as in
/// Flink, the processing time decides; [`DateTimeBucketAssigner::event_time`]
/// uses the record's timestamp instead (records without one go by processing
/// time), and then the watermark completes a bucket.
#[derive(Debug, Clone)]
pub struct DateTimeBucketAssigner {
    strftime: String,
    unit: Unit,
    zone: TimeZone,
    event_time: bool,
}

impl Default for DateTimeBucketAssigner {
    fn default() -> Self {
        DateTimeBucketAssigner::new("yyyy-MM-dd--HH").expect("the default pattern is valid")
    }
}

/// Appends `c` to a strftime pattern as literal text.
fn push_literal(out: &mut String, c: char) {
    if c == '%' {
        out.push_str("%%");
    } else {
        out.push(c);
    }
}

/// Seconds east of UTC of `+HH`, `+HH:MM` or `+HHMM` (or `-`).
fn parse_offset(text: &str) -> Option<i32> {
    let (sign, rest) = text.split_at(1);
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || !matches!(digits.len(), 2 | 4) {
        return None;
    }
    let h: i32 = digits[..2].parse().ok()?;
    let m: i32 = if digits.len() == 4 { digits[2..].parse().ok()? } else { 0 };
    if h > 18 || m > 59 {
        return None;
    }
    Some(if sign == "-" { -1 } else { 1 } * (h * 3600 + m * 60))
}

/// Translates a Java `DateTimeFormatter` pattern to a strftime one and its finest unit.
fn translate(format: &str) -> Result<(String, Unit), BucketFormatError> {
    let mut out = String::new();
    let mut unit: Option<Unit> = None;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            let mut closed = false;
            for q in chars.by_ref() {
                if q == '\'' {
                    closed = true;
                    break;
                }
                push_literal(&mut out, q);
            }
            if !closed {
                return Err(BucketFormatError::Pattern { format: format.into(), reason: "unclosed quote" });
            }
            continue;
        }
        if !c.is_ascii_alphabetic() {
            push_literal(&mut out, c);
            continue;
        }
        let mut n = 1;
        while chars.peek() == Some(&c) {
            chars.next();
            n += 1;
        }
        let (spec, u) = match (c, n) {
            ('y' | 'u', 2) => ("%y", Unit::Year),
            ('y' | 'u', _) => ("%Y", Unit::Year),
            ('M', 1 | 2) => ("%m", Unit::Month),
            ('M', 3) => ("%b", Unit::Month),
            ('M', _) => ("%B", Unit::Month),
            ('d', _) => ("%d", Unit::Day),
            ('H', _) => ("%H", Unit::Hour),
            ('m', _) => ("%M", Unit::Minute),
            ('s', _) => ("%S", Unit::Second),
            _ => return Err(BucketFormatError::Letter { format: format.into(), letter: c }),
        };
        out.push_str(spec);
        unit = Some(unit.map_or(u, |x| x.min(u)));
    }
    let unit = unit.ok_or(BucketFormatError::Pattern { format: format.into(), reason: "no date or time field" })?;
    Ok((out, unit))
}

impl DateTimeBucketAssigner {
    /// Buckets named by `format`, a Java `DateTimeFormatter` pattern of the
    /// letters `y M d H m s` and quoted text (e.g. `'dt='yyyy-MM-dd/'hour='HH`
    /// for Hive-style partitions); each bucket spans one unit of its finest
    /// field. UTC, processing time.
    ///
    /// Errors: an unsupported letter, an unclosed quote, no field.
    pub fn new(format: &str) -> Result<Self, BucketFormatError> {
        let (strftime, unit) = translate(format)?;
        Ok(DateTimeBucketAssigner { strftime, unit, zone: TimeZone::UTC, event_time: false })
    }

    /// In time zone `zone`: `UTC`, an offset such as `+05:30`, or an IANA
    /// name such as `Europe/Berlin` (from the system's time zone database).
    ///
    /// Errors: the zone is not known.
    pub fn with_zone(mut self, zone: &str) -> Result<Self, BucketFormatError> {
        let err = |reason: String| BucketFormatError::Zone { zone: zone.into(), reason };
        self.zone = if zone.eq_ignore_ascii_case("UTC") || zone == "Z" {
            TimeZone::UTC
        } else if zone.starts_with(['+', '-']) {
            let secs = parse_offset(zone).ok_or_else(|| err("not an offset [+-]HH[:MM]".into()))?;
            TimeZone::fixed(jiff::tz::Offset::from_seconds(secs).map_err(|e| err(e.to_string()))?)
        } else {
            TimeZone::get(zone).map_err(|e| err(e.to_string()))?
        };
        Ok(self)
    }

    /// Buckets by the record's event-time timestamp (records without one by
    /// processing time); the watermark completes a bucket.
    pub fn event_time(mut self) -> Self {
        self.event_time = true;
        self
    }

    fn start_of(&self, z: &Zoned) -> DateTime {
        let d = z.datetime();
        let u = self.unit;
        let pick = |keep: bool, v: i8, zero: i8| if keep { v } else { zero };
        DateTime::new(
            d.year(),
            pick(u <= Unit::Month, d.month(), 1),
            pick(u <= Unit::Day, d.day(), 1),
            pick(u <= Unit::Hour, d.hour(), 0),
            pick(u <= Unit::Minute, d.minute(), 0),
            pick(u <= Unit::Second, d.second(), 0),
            0,
        )
        .expect("a truncated valid date-time is valid")
    }

    fn span(&self) -> Span {
        match self.unit {
            Unit::Second => Span::new().seconds(1),
            Unit::Minute => Span::new().minutes(1),
            Unit::Hour => Span::new().hours(1),
            Unit::Day => Span::new().days(1),
            Unit::Month => Span::new().months(1),
            Unit::Year => Span::new().years(1),
        }
    }
}

impl<T> BucketAssigner<T> for DateTimeBucketAssigner {
    fn assign(&self, _record: &T, ctx: &BucketContext, _id: &mut String) -> Assigned {
        match ctx.timestamp.filter(|t| self.event_time && *t != NO_TIMESTAMP) {
            Some(t) => Assigned::Time(t),
            None => Assigned::Time(ctx.processing_time),
        }
    }

    fn time_bucket(&self, at: i64) -> TimeBucket {
        let ts = Timestamp::from_millisecond(at).unwrap_or(if at < 0 { Timestamp::MIN } else { Timestamp::MAX });
        let z = ts.to_zoned_datetime(self.zone.clone());
        let start = self.start_of(&z);
        // A local start that falls in a DST gap resolves to the later instant (jiff's compatible mode).
        let start = start.to_zoned_datetime(self.zone.clone()).unwrap_or(z);
        let end = start.checked_add(self.span()).map(|e| e.timestamp().as_millisecond()).unwrap_or(i64::MAX);
        let id = start.strftime(&self.strftime).to_string();
        TimeBucket { id, start: start.timestamp().as_millisecond(), end, event_time: self.event_time }
    }
}

/// Every record in one bucket: the base path itself (Flink's `BasePathBucketAssigner`).
#[derive(Debug, Clone, Copy, Default)]
pub struct BasePathBucketAssigner;

impl<T> BucketAssigner<T> for BasePathBucketAssigner {
    fn assign(&self, _record: &T, _ctx: &BucketContext, _id: &mut String) -> Assigned {
        Assigned::Id { end: None }
    }
    fn has_time_ranges(&self) -> bool {
        false
    }
}

/// Buckets named by a function of the record, e.g. a field: `|e: &Event,
/// id: &mut String| id.push_str(&e.country)`. Such buckets have no time
/// range, so they never get `_SUCCESS`.
pub struct FieldBucketAssigner<F>(pub F);

impl<T, F: Fn(&T, &mut String) + Send + Sync + 'static> BucketAssigner<T> for FieldBucketAssigner<F> {
    fn assign(&self, record: &T, _ctx: &BucketContext, id: &mut String) -> Assigned {
        (self.0)(record, id);
        Assigned::Id { end: None }
    }
    fn has_time_ranges(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    // 2024-03-31T00:30:00Z
    const T0: i64 = 1_711_845_000_000;

    fn bucket(a: &DateTimeBucketAssigner, at: i64) -> TimeBucket {
        <DateTimeBucketAssigner as BucketAssigner<()>>::time_bucket(a, at)
    }

    #[test]
    fn default_is_hourly_utc_as_flink() {
        let a = DateTimeBucketAssigner::default();
        let b = bucket(&a, T0);
        assert_eq!(b.id, "2024-03-31--00");
        assert_eq!((b.start, b.end), (T0 - 30 * 60_000, T0 + 30 * 60_000));
        assert_eq!(bucket(&a, T0 + H).id, "2024-03-31--01");
        assert!(!b.event_time);
    }

    #[test]
    fn hive_style_daily_in_a_zone_with_dst() {
        let a = DateTimeBucketAssigner::new("'dt='yyyy-MM-dd").unwrap().with_zone("Europe/Berlin").unwrap();
        // 2024-03-31 is 23 hours long in Berlin (CET -> CEST at 02:00).
        let b = bucket(&a, T0);
        assert_eq!(b.id, "dt=2024-03-31");
        assert_eq!(b.end - b.start, 23 * H);
        let hourly = DateTimeBucketAssigner::new("yyyyMMdd/HH").unwrap().with_zone("+05:30").unwrap();
        assert_eq!(bucket(&hourly, T0).id, "20240331/06");
    }

    #[test]
    fn event_time_uses_the_record_timestamp() {
        let a = DateTimeBucketAssigner::default().event_time();
        let ctx = BucketContext { timestamp: Some(T0), processing_time: 0, watermark: 0 };
        assert_eq!(BucketAssigner::<()>::assign(&a, &(), &ctx, &mut String::new()), Assigned::Time(T0));
        let none = BucketContext { timestamp: None, processing_time: 7, watermark: 0 };
        assert_eq!(BucketAssigner::<()>::assign(&a, &(), &none, &mut String::new()), Assigned::Time(7));
    }

    #[test]
    fn bad_patterns_and_zones_are_named() {
        let e = DateTimeBucketAssigner::new("yyyy-ww").unwrap_err().to_string();
        assert!(e.contains("'yyyy-ww'") && e.contains("'w'"), "{e}");
        assert!(DateTimeBucketAssigner::new("'x").is_err());
        assert!(DateTimeBucketAssigner::new("--").is_err());
        let e = DateTimeBucketAssigner::default().with_zone("Mars/Olympus").unwrap_err().to_string();
        assert!(e.starts_with("time zone 'Mars/Olympus'"), "{e}");
    }
}
