//! Parsing of option values in Flink's syntaxes.

use std::time::Duration;

use rfy_conf::{format_duration, MemorySize, OptionValue};

fn dur(text: &str) -> Duration {
    Duration::parse_value(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

#[test]
fn durations_in_flink_syntax() {
    assert_eq!(dur("500 ms"), Duration::from_millis(500));
    assert_eq!(dur("500ms"), Duration::from_millis(500));
    assert_eq!(dur("10s"), Duration::from_secs(10));
    assert_eq!(dur("10 s"), Duration::from_secs(10));
    assert_eq!(dur("10 sec"), Duration::from_secs(10));
    assert_eq!(dur("3 seconds"), Duration::from_secs(3));
    assert_eq!(dur("1 min"), Duration::from_secs(60));
    assert_eq!(dur("2m"), Duration::from_secs(120));
    assert_eq!(dur("5 minutes"), Duration::from_secs(300));
    assert_eq!(dur("2 h"), Duration::from_secs(7200));
    assert_eq!(dur("1 hour"), Duration::from_secs(3600));
    assert_eq!(dur("1 d"), Duration::from_secs(86_400));
    assert_eq!(dur("2 days"), Duration::from_secs(172_800));
    assert_eq!(dur("7 us"), Duration::from_micros(7));
    assert_eq!(dur("7 µs"), Duration::from_micros(7));
    assert_eq!(dur("9 ns"), Duration::from_nanos(9));
    assert_eq!(dur("9 NANOS"), Duration::from_nanos(9));
    assert_eq!(dur("1 S"), Duration::from_secs(1));
    // A plain number is milliseconds.
    assert_eq!(dur("1500"), Duration::from_millis(1500));
    assert_eq!(dur("  0 "), Duration::ZERO);
}

#[test]
fn bad_durations() {
    for bad in ["", "  ", "ms", "-1 s", "1.5 s", "10 parsecs", "1 s 2", "s10"] {
        let err = Duration::parse_value(bad).expect_err(bad);
        assert!(err.to_string().contains("duration"), "{bad:?}: {err}");
    }
    assert!(Duration::parse_value("99999999999999999999").is_err());
    assert!(Duration::parse_value("18446744073709551615 d").is_err());
}

#[test]
fn durations_round_trip_as_text() {
    for d in [
        Duration::ZERO,
        Duration::from_nanos(3),
        Duration::from_micros(250),
        Duration::from_millis(100),
        Duration::from_millis(1500),
        Duration::from_secs(5),
        Duration::from_secs(600),
        Duration::from_secs(7200),
        Duration::from_secs(86_400 * 3),
    ] {
        assert_eq!(dur(&d.to_text()), d, "{}", d.to_text());
    }
    assert_eq!(format_duration(Duration::from_secs(600)), "10 min");
    assert_eq!(format_duration(Duration::from_millis(1500)), "1500 ms");
}

fn mem(text: &str) -> MemorySize {
    MemorySize::parse_value(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

#[test]
fn memory_sizes_in_flink_syntax() {
    assert_eq!(mem("1024"), MemorySize(1024));
    assert_eq!(mem("100 b"), MemorySize(100));
    assert_eq!(mem("100 bytes"), MemorySize(100));
    assert_eq!(mem("512 kb"), MemorySize(512 * 1024));
    assert_eq!(mem("32k"), MemorySize(32 * 1024));
    assert_eq!(mem("32 KB"), MemorySize(32 * 1024));
    assert_eq!(mem("1728m"), MemorySize(1728 << 20));
    assert_eq!(mem("1728 mb"), MemorySize(1728 << 20));
    assert_eq!(mem("1 gb"), MemorySize(1 << 30));
    assert_eq!(mem("2g"), MemorySize(2 << 30));
    assert_eq!(mem("1 tb"), MemorySize(1 << 40));
    assert_eq!(mem("3 mebibytes"), MemorySize(3 << 20));
    assert_eq!(mem("1728m").mebibytes(), 1728);
    assert_eq!(mem("1728m").bytes(), 1728 * 1024 * 1024);
    assert_eq!(mem("3 kb").kibibytes(), 3);
    assert_eq!(MemorySize::from_mebibytes(1024), mem("1 gb"));
}

#[test]
fn bad_memory_sizes() {
    for bad in ["", "gb", "-1 mb", "1.5 gb", "12 parsecs", "1 gb 2", "99999999999 tb"] {
        let err = MemorySize::parse_value(bad).expect_err(bad);
        assert!(err.to_string().contains("memory size"), "{bad:?}: {err}");
    }
}

#[test]
fn memory_sizes_print_like_flink_and_round_trip() {
    assert_eq!(MemorySize(0).to_string(), "0 bytes");
    assert_eq!(MemorySize(100).to_string(), "100 bytes");
    assert_eq!(MemorySize(32 << 10).to_string(), "32 kb");
    assert_eq!(MemorySize(1728 << 20).to_string(), "1728 mb");
    assert_eq!(MemorySize(1 << 30).to_string(), "1 gb");
    for m in [0, 1, 1023, 1024, 1 << 20, (1 << 30) + 1, 5 << 40, u64::MAX] {
        assert_eq!(mem(&MemorySize(m).to_text()), MemorySize(m));
    }
}

#[test]
fn numbers_and_bools() {
    assert_eq!(u32::parse_value(" 42 "), Ok(42));
    assert!(u32::parse_value("-1").unwrap_err().to_string().contains("whole number"));
    assert!(u32::parse_value("4294967296").is_err());
    assert!(u32::parse_value("1.0").is_err());
    assert_eq!(u64::parse_value("18446744073709551615"), Ok(u64::MAX));
    assert_eq!(i64::parse_value("-5"), Ok(-5));
    assert_eq!(f64::parse_value("2"), Ok(2.0));
    assert_eq!(f64::parse_value("1.5"), Ok(1.5));
    assert!(f64::parse_value("NaN").is_err());
    assert!(f64::parse_value("inf").is_err());
    assert!(f64::parse_value("fast").is_err());
    assert_eq!(2.0f64.to_text(), "2.0");
    assert_eq!(bool::parse_value("TRUE"), Ok(true));
    assert_eq!(bool::parse_value("false"), Ok(false));
    assert!(bool::parse_value("yes").is_err());
    assert_eq!(String::parse_value("  hi there "), Ok("hi there".to_string()));
}
