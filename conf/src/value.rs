//! [`OptionValue`]: the types an option may hold, parsed from text with
//! Flink's syntaxes, and [`MemorySize`].

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Why a text is not a value of an option's type; the message says what was
/// expected (e.g. `expected a whole number from 0 to 4294967295`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Not of the type's syntax.
    #[error("expected {expected}")]
    Syntax {
        /// The syntax, e.g. `true or false`.
        expected: Cow<'static, str>,
    },
    /// A duration or memory size with a unit the syntax does not know.
    #[error("unknown {quantity} unit '{unit}'; expected {expected}")]
    UnknownUnit {
        /// `time` or `memory`.
        quantity: &'static str,
        /// The unit as written (lower-cased).
        unit: String,
        /// The syntax.
        expected: &'static str,
    },
    /// The number does not fit the type.
    #[error("{what} too large; expected {expected}")]
    TooLarge {
        /// `number`, `duration`, `memory size`.
        what: &'static str,
        /// The syntax.
        expected: &'static str,
    },
    /// An integer below the option's lower bound.
    #[error("expected a whole number of at least {min}")]
    BelowMinimum {
        /// The smallest accepted value.
        min: i64,
    },
    /// Not one of an enum-like option's choices.
    #[error("expected one of {}", choices.join(", "))]
    NotAChoice {
        /// The allowed values.
        choices: &'static [&'static str],
    },
}

impl ValueError {
    fn syntax(expected: impl Into<Cow<'static, str>>) -> ValueError {
        ValueError::Syntax { expected: expected.into() }
    }
}

/// A type an option may hold. Values are kept as text and parsed on `get`;
/// `set` parses once to validate.
///
/// `Default` is the value `get` falls back to for an option that has no
/// default and was not set (a programming error, logged, never a panic).
pub trait OptionValue: Sized + Default {
    /// Parses `text` (already trimmed or not). Errors: a [`ValueError`]
    /// saying what was expected, e.g. `expected a whole number from 0 to 4294967295`.
    fn parse_value(text: &str) -> Result<Self, ValueError>;
    /// Short type name for messages and docs: `u32`, `Duration`, `MemorySize`, ...
    fn type_name() -> &'static str;
    /// Renders the value as text that `parse_value` reads back to the same value
    /// (durations as e.g. `10 s`, memory sizes as e.g. `32 kb`).
    fn to_text(&self) -> String;
}

macro_rules! int_value {
    ($($t:ty),*) => {$(
        impl OptionValue for $t {
            fn parse_value(text: &str) -> Result<Self, ValueError> {
                text.trim().parse::<$t>().map_err(|_| {
                    ValueError::syntax(format!("a whole number from {} to {}", <$t>::MIN, <$t>::MAX))
                })
            }
            fn type_name() -> &'static str { stringify!($t) }
            fn to_text(&self) -> String { self.to_string() }
        }
    )*};
}
int_value!(u32, u64, i64);

impl OptionValue for f64 {
    /// Any finite decimal number (`2`, `2.0`, `1.5e3`); NaN and infinities are rejected.
    fn parse_value(text: &str) -> Result<Self, ValueError> {
        match text.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(ValueError::syntax("a finite decimal number")),
        }
    }
    fn type_name() -> &'static str {
        "f64"
    }
    fn to_text(&self) -> String {
        // `{:?}` keeps a decimal point (2.0, not 2) and round-trips exactly.
        format!("{self:?}")
    }
}

impl OptionValue for bool {
    /// `true` or `false`, case-insensitive (as in Flink).
    fn parse_value(text: &str) -> Result<Self, ValueError> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("true") {
            Ok(true)
        } else if t.eq_ignore_ascii_case("false") {
            Ok(false)
        } else {
            Err(ValueError::syntax("true or false"))
        }
    }
    fn type_name() -> &'static str {
        "bool"
    }
    fn to_text(&self) -> String {
        self.to_string()
    }
}

impl OptionValue for String {
    /// Any text, with surrounding whitespace removed.
    fn parse_value(text: &str) -> Result<Self, ValueError> {
        Ok(text.trim().to_string())
    }
    fn type_name() -> &'static str {
        "String"
    }
    fn to_text(&self) -> String {
        self.clone()
    }
}

impl OptionValue for Duration {
    /// Flink's duration syntax: a whole number, optional spaces, optional unit
    /// (case-insensitive): `d|day|days`, `h|hour|hours`, `min|m|minute|minutes`,
    /// `s|sec|secs|second|seconds`, `ms|milli|millis|millisecond|milliseconds`,
    /// `us|µs|micro|micros|microsecond|microseconds`,
    /// `ns|nano|nanos|nanosecond|nanoseconds`. No unit means milliseconds.
    fn parse_value(text: &str) -> Result<Self, ValueError> {
        parse_duration(text)
    }
    fn type_name() -> &'static str {
        "Duration"
    }
    fn to_text(&self) -> String {
        format_duration(*self)
    }
}

/// Splits `text` into its leading digits and the trimmed, lower-cased rest.
fn split_number(text: &str, expected: &'static str) -> Result<(u64, String), ValueError> {
    let t = text.trim();
    let end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    if end == 0 {
        return Err(ValueError::syntax(expected));
    }
    let number = t[..end].parse::<u64>().map_err(|_| ValueError::TooLarge { what: "number", expected })?;
    Ok((number, t[end..].trim().to_lowercase()))
}

const DURATION_SYNTAX: &str = "a duration such as '500 ms', '10 s', '1 min', '2 h', '1 d' (a plain number is ms)";

/// Parses Flink's duration syntax (see [`OptionValue::parse_value`] for `Duration`).
/// Errors: a [`ValueError`] naming the accepted syntax.
pub fn parse_duration(text: &str) -> Result<Duration, ValueError> {
    let (number, unit) = split_number(text, DURATION_SYNTAX)?;
    let nanos_per_unit: u128 = match unit.as_str() {
        "ns" | "nano" | "nanos" | "nanosecond" | "nanoseconds" => 1,
        "us" | "µs" | "micro" | "micros" | "microsecond" | "microseconds" => 1_000,
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1_000_000,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000_000_000,
        "m" | "min" | "minute" | "minutes" => 60_000_000_000,
        "h" | "hour" | "hours" => 3_600_000_000_000,
        "d" | "day" | "days" => 86_400_000_000_000,
        other => {
            return Err(ValueError::UnknownUnit {
                quantity: "time",
                unit: other.to_string(),
                expected: DURATION_SYNTAX,
            })
        }
    };
    let total = u128::from(number) * nanos_per_unit;
    let secs = u64::try_from(total / 1_000_000_000)
        .map_err(|_| ValueError::TooLarge { what: "duration", expected: DURATION_SYNTAX })?;
    // The remainder is below 10^9, so it fits in u32.
    let subsec = (total % 1_000_000_000) as u32;
    Ok(Duration::new(secs, subsec))
}

/// Renders a duration in the largest unit that represents it exactly:
/// `1 d`, `2 h`, `1 min`, `10 s`, `100 ms`, `5 us`, `7 ns`.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    const UNITS: [(u128, &str); 7] = [
        (86_400_000_000_000, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "min"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ];
    if nanos == 0 {
        return "0 ms".to_string();
    }
    for (size, name) in UNITS {
        if nanos % size == 0 {
            return format!("{} {name}", nanos / size);
        }
    }
    format!("{nanos} ns")
}

/// An amount of memory in bytes. Parsed with Flink's syntax: a whole number,
/// optional spaces, optional unit (case-insensitive) `b|bytes`,
/// `k|kb|kibibytes`, `m|mb|mebibytes`, `g|gb|gibibytes`, `t|tb|tebibytes`;
/// units are powers of 1024 and no unit means bytes (`1728m`, `1 gb`, `512 kb`, `1024`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MemorySize(pub u64);

impl MemorySize {
    /// Zero bytes.
    pub const ZERO: MemorySize = MemorySize(0);

    /// A size of `bytes` bytes.
    pub const fn from_bytes(bytes: u64) -> Self {
        MemorySize(bytes)
    }
    /// A size of `mib` mebibytes (saturates at `u64::MAX` bytes).
    pub const fn from_mebibytes(mib: u64) -> Self {
        MemorySize(mib.saturating_mul(1 << 20))
    }
    /// The size in bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }
    /// The size in whole kibibytes (1024 bytes), rounded down.
    pub const fn kibibytes(self) -> u64 {
        self.0 >> 10
    }
    /// The size in whole mebibytes (1024 × 1024 bytes), rounded down.
    pub const fn mebibytes(self) -> u64 {
        self.0 >> 20
    }
}

const MEMORY_SYNTAX: &str = "a memory size such as '1728m', '1 gb', '512 kb', '32k' (a plain number is bytes)";

impl FromStr for MemorySize {
    type Err = ValueError;
    /// Parses Flink's memory-size syntax. Errors: a [`ValueError`] naming the syntax.
    fn from_str(text: &str) -> Result<Self, ValueError> {
        let (number, unit) = split_number(text, MEMORY_SYNTAX)?;
        let shift = match unit.as_str() {
            "" | "b" | "bytes" => 0,
            "k" | "kb" | "kibibytes" => 10,
            "m" | "mb" | "mebibytes" => 20,
            "g" | "gb" | "gibibytes" => 30,
            "t" | "tb" | "tebibytes" => 40,
            other => {
                return Err(ValueError::UnknownUnit {
                    quantity: "memory",
                    unit: other.to_string(),
                    expected: MEMORY_SYNTAX,
                })
            }
        };
        number
            .checked_mul(1u64 << shift)
            .map(MemorySize)
            .ok_or(ValueError::TooLarge { what: "memory size", expected: MEMORY_SYNTAX })
    }
}

impl fmt::Display for MemorySize {
    /// The largest unit that represents the size exactly, as Flink prints it:
    /// `100 bytes`, `32 kb`, `1728 mb`, `1 gb`, `2 tb`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u32, &str); 4] = [(40, "tb"), (30, "gb"), (20, "mb"), (10, "kb")];
        if self.0 != 0 {
            for (shift, name) in UNITS {
                if self.0 % (1u64 << shift) == 0 {
                    return write!(f, "{} {name}", self.0 >> shift);
                }
            }
        }
        write!(f, "{} bytes", self.0)
    }
}

impl OptionValue for MemorySize {
    /// See [`MemorySize`] for the syntax.
    fn parse_value(text: &str) -> Result<Self, ValueError> {
        text.parse()
    }
    fn type_name() -> &'static str {
        "MemorySize"
    }
    fn to_text(&self) -> String {
        self.to_string()
    }
}
