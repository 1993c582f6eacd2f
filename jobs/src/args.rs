//! The built-in jobs' argument parsing, shared so that every job reads its
//! arguments the same way: clap with negative numbers accepted as values
//! (`--rate -3` reaches `--rate`'s parser, which names the flag and what it
//! must be, instead of "unexpected argument '-3'"), errors on one line.

use std::time::Duration;

use clap::{CommandFactory, FromArgMatches};
use rfy_runtime::JobError;

/// Parses `args` (without the program name) as job `name`'s arguments `A`.
///
/// Errors: [`JobError::BadArguments`] with clap's message on one line
/// (naming the flag and the value at fault).
pub fn parse<A: CommandFactory + FromArgMatches>(name: &str, args: &[String]) -> Result<A, JobError> {
    let argv = std::iter::once(name.to_string()).chain(args.iter().cloned());
    let bad = |e: clap::Error| JobError::BadArguments(one_line(&e.to_string()));
    let mut matches = A::command().allow_negative_numbers(true).try_get_matches_from(argv).map_err(bad)?;
    A::from_arg_matches_mut(&mut matches).map_err(bad)
}

/// Clap's multi-line message as one line: the error and its tip, no usage.
pub fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(|l| l.trim_start_matches("error: "))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A value parser for rates: a finite number > 0 (per second).
///
/// Errors: what the value must be.
pub fn positive_rate(text: &str) -> Result<f64, NotAPositiveRate> {
    match text.parse::<f64>() {
        Ok(r) if r > 0.0 && r.is_finite() => Ok(r),
        _ => Err(NotAPositiveRate(text.to_string())),
    }
}

/// A rate argument that is not a finite number above 0 (the text as given).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("'{0}' is not a number > 0 (per second)")]
pub struct NotAPositiveRate(pub String);

/// A value parser for durations in Flink's syntax (`2002ms`, `2 s`, `1 min`; a plain number is ms).
///
/// Errors: the accepted syntax.
pub fn duration(text: &str) -> Result<Duration, rfy_conf::ValueError> {
    rfy_conf::parse_duration(text)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Example {
        #[arg(long, value_parser = positive_rate)]
        rate: Option<f64>,
        #[arg(long, value_parser = duration)]
        delay: Option<Duration>,
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_negative_number_reaches_the_flag_parser() {
        let JobError::BadArguments(e) = parse::<Example>("example", &args(&["--rate", "-3"])).unwrap_err() else {
            panic!("not a BadArguments error")
        };
        assert!(e.contains("--rate") && e.contains("-3") && e.contains("> 0"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let ok: Example = parse("example", &args(&["--rate", "2.5", "--delay", "2002ms"])).unwrap();
        assert_eq!(ok.rate, Some(2.5));
        assert_eq!(ok.delay, Some(Duration::from_millis(2002)));
    }

    #[test]
    fn bad_durations_name_the_flag_and_the_syntax() {
        let JobError::BadArguments(e) = parse::<Example>("example", &args(&["--delay", "2 parsecs"])).unwrap_err()
        else {
            panic!("not a BadArguments error")
        };
        assert!(e.contains("--delay") && e.contains("duration"), "{e}");
    }
}
