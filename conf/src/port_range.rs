//! Port ranges as Flink writes them (`metrics.reporter.prom.port: 9250-9260`).

/// Parses `PORT` or `FIRST-LAST` (inclusive) given for option `key`.
///
/// Errors: [`PortRangeError`]: not a port number, 0, or `LAST < FIRST`.
pub fn parse_port_range(value: &str, key: &str) -> Result<std::ops::RangeInclusive<u16>, PortRangeError> {
    let bad = || PortRangeError { key: key.to_string(), value: value.to_string() };
    let port = |s: &str| s.trim().parse::<u16>().ok().filter(|p| *p > 0);
    let (first, last) = match value.split_once('-') {
        Some((a, b)) => (port(a).ok_or_else(bad)?, port(b).ok_or_else(bad)?),
        None => {
            let p = port(value).ok_or_else(bad)?;
            (p, p)
        }
    };
    if last < first {
        return Err(bad());
    }
    Ok(first..=last)
}

/// A value that is not a port or a port range; names the option and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key} = {value}: expected a port (e.g. 9249) or a range (e.g. 9250-9260)")]
pub struct PortRangeError {
    /// The option's key.
    pub key: String,
    /// The value as written.
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::parse_port_range;

    #[test]
    fn ports_and_ranges() {
        assert_eq!(parse_port_range("9249", "k").unwrap(), 9249..=9249);
        assert_eq!(parse_port_range("9250-9260", "k").unwrap(), 9250..=9260);
        assert!(parse_port_range("9260-9250", "k").is_err());
        assert!(parse_port_range("0", "k").is_err());
        assert!(parse_port_range("x", "k").unwrap_err().to_string().contains("k = x"));
    }
}
