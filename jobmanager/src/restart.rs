//! Restart strategies (Flink's `restart-strategy.type`): whether and when a
//! failed job is restarted from its last completed checkpoint.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rfy_conf::{options, Configuration};

/// A restart strategy with its bookkeeping of past failures.
#[derive(Debug, Clone)]
pub(crate) enum RestartStrategy {
    /// Never restart: the first failure fails the job.
    None,
    /// Up to `attempts` restarts, `delay` apart.
    FixedDelay { attempts: u32, delay: Duration, used: u32 },
    /// Unlimited (or up to `attempts`) restarts; the delay grows by
    /// `multiplier` per failure up to `max`, with ± `jitter` share, and goes
    /// back to `initial` after `reset` without a failure.
    ExponentialDelay {
        initial: Duration,
        max: Duration,
        multiplier: f64,
        reset: Duration,
        jitter: f64,
        attempts: u32,
        used: u32,
        current: Duration,
        last_failure: Option<Instant>,
    },
    /// Restart unless `max_failures` failures happened within `interval`.
    FailureRate { max_failures: u32, interval: Duration, delay: Duration, failures: VecDeque<Instant> },
}

impl RestartStrategy {
    /// The strategy configured in `conf`; unset: `exponential-delay` when
    /// checkpointing is on, else `none` (Flink's defaults).
    pub(crate) fn from_conf(conf: &Configuration, checkpointing: bool) -> Self {
        let kind = conf.get_optional(&options::RESTART_STRATEGY_TYPE).unwrap_or_else(|| {
            if checkpointing {
                "exponential-delay".into()
            } else {
                "none".into()
            }
        });
        match kind.as_str() {
            "fixed-delay" => RestartStrategy::FixedDelay {
                attempts: conf.get(&options::RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS),
                delay: conf.get(&options::RESTART_STRATEGY_FIXED_DELAY_DELAY),
                used: 0,
            },
            "exponential-delay" => {
                let initial = conf.get(&options::RESTART_STRATEGY_EXPONENTIAL_DELAY_INITIAL_BACKOFF);
                RestartStrategy::ExponentialDelay {
                    initial,
                    max: conf.get(&options::RESTART_STRATEGY_EXPONENTIAL_DELAY_MAX_BACKOFF),
                    multiplier: conf.get(&options::RESTART_STRATEGY_EXPONENTIAL_DELAY_BACKOFF_MULTIPLIER).max(1.0),
                    reset: conf.get(&options::RESTART_STRATEGY_EXPONENTIAL_DELAY_RESET_BACKOFF_THRESHOLD),
                    jitter: conf.get(&options::RESTART_STRATEGY_EXPONENTIAL_DELAY_JITTER_FACTOR).clamp(0.0, 1.0),
                    attempts: conf.get(&options::RESTART_STRATEGY_EXPONENTIAL_DELAY_ATTEMPTS_BEFORE_RESET_BACKOFF),
                    used: 0,
                    current: initial,
                    last_failure: None,
                }
            }
            "failure-rate" => RestartStrategy::FailureRate {
                max_failures: conf.get(&options::RESTART_STRATEGY_FAILURE_RATE_MAX_FAILURES_PER_INTERVAL),
                interval: conf.get(&options::RESTART_STRATEGY_FAILURE_RATE_FAILURE_RATE_INTERVAL),
                delay: conf.get(&options::RESTART_STRATEGY_FAILURE_RATE_DELAY),
                failures: VecDeque::new(),
            },
            _ => RestartStrategy::None,
        }
    }

    /// The strategy's name, as configured.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            RestartStrategy::None => "none",
            RestartStrategy::FixedDelay { .. } => "fixed-delay",
            RestartStrategy::ExponentialDelay { .. } => "exponential-delay",
            RestartStrategy::FailureRate { .. } => "failure-rate",
        }
    }

    /// Records a failure at `now`: the delay before the restart, or `None`
    /// when the strategy gives up (the job fails).
    pub(crate) fn on_failure(&mut self, now: Instant) -> Option<Duration> {
        match self {
            RestartStrategy::None => None,
            RestartStrategy::FixedDelay { attempts, delay, used } => {
                if *used >= *attempts {
                    return None;
                }
                *used += 1;
                Some(*delay)
            }
            RestartStrategy::ExponentialDelay {
                initial,
                max,
                multiplier,
                reset,
                jitter,
                attempts,
                used,
                current,
                last_failure,
            } => {
                if last_failure.is_some_and(|t| now.duration_since(t) >= *reset) {
                    *current = *initial;
                    *used = 0;
                }
                if *used >= *attempts {
                    return None;
                }
                *used += 1;
                *last_failure = Some(now);
                let base = *current;
                *current = Duration::from_secs_f64((base.as_secs_f64() * *multiplier).min(max.as_secs_f64()));
                let j = if *jitter > 0.0 { (fastrand::f64() * 2.0 - 1.0) * *jitter } else { 0.0 };
                Some(Duration::from_secs_f64((base.as_secs_f64() * (1.0 + j)).max(0.0)))
            }
            RestartStrategy::FailureRate { max_failures, interval, delay, failures } => {
                failures.push_back(now);
                while failures.front().is_some_and(|t| now.duration_since(*t) > *interval) {
                    failures.pop_front();
                }
                if failures.len() as u32 > *max_failures {
                    return None;
                }
                Some(*delay)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rfy_conf::Source;

    fn conf(pairs: &[(&str, &str)]) -> Configuration {
        let mut c = Configuration::new();
        for (k, v) in pairs {
            c.set(k, v, Source::Programmatic).unwrap();
        }
        c
    }

    #[test]
    fn defaults_follow_checkpointing() {
        assert_eq!(RestartStrategy::from_conf(&conf(&[]), false).name(), "none");
        assert_eq!(RestartStrategy::from_conf(&conf(&[]), true).name(), "exponential-delay");
    }

    #[test]
    fn fixed_delay_gives_up_after_its_attempts() {
        let mut s = RestartStrategy::from_conf(
            &conf(&[
                ("restart-strategy.type", "fixed-delay"),
                ("restart-strategy.fixed-delay.attempts", "2"),
                ("restart-strategy.fixed-delay.delay", "7 ms"),
            ]),
            false,
        );
        let now = Instant::now();
        assert_eq!(s.on_failure(now), Some(Duration::from_millis(7)));
        assert_eq!(s.on_failure(now), Some(Duration::from_millis(7)));
        assert_eq!(s.on_failure(now), None);
    }

    #[test]
    fn exponential_delay_grows_and_is_capped() {
        let mut s = RestartStrategy::from_conf(
            &conf(&[
                ("restart-strategy.type", "exponential-delay"),
                ("restart-strategy.exponential-delay.initial-backoff", "100 ms"),
                ("restart-strategy.exponential-delay.max-backoff", "300 ms"),
                ("restart-strategy.exponential-delay.backoff-multiplier", "2.0"),
                ("restart-strategy.exponential-delay.jitter-factor", "0"),
            ]),
            true,
        );
        let now = Instant::now();
        let d: Vec<u128> = (0..4).map(|_| s.on_failure(now).unwrap().as_millis()).collect();
        assert_eq!(d, vec![100, 200, 300, 300]);
    }

    #[test]
    fn failure_rate_fails_above_the_rate() {
        let mut s = RestartStrategy::from_conf(
            &conf(&[
                ("restart-strategy.type", "failure-rate"),
                ("restart-strategy.failure-rate.max-failures-per-interval", "2"),
            ]),
            false,
        );
        let now = Instant::now();
        assert!(s.on_failure(now).is_some());
        assert!(s.on_failure(now).is_some());
        assert!(s.on_failure(now).is_none());
    }
}
