//! The generator as a parallel, checkpointed source ([`NexmarkSource`]).
//!
//! Its position is a list of [`EventSplit`]s: arithmetic progressions of
//! event numbers `next, next + stride, ...` below the configured total. A
//! fresh subtask `i` of `p` owns the one split `(i, p)`, so every subtask's
//! events advance in event time at the same pace (contiguous ranges, as
//! Flink's `NumberSequenceSource` uses, would make one subtask's events run
//! far ahead of another's and hold all of them in window state). The splits
//! are the operator state: restored as they were at the same parallelism;
//! at another parallelism each remaining split is cut into `k` progressions
//! of stride `stride · k` (`k = p / gcd(splits, p)`, so every subtask gets
//! the same number of them) and dealt round robin. No event is lost or made
//! twice, and since an event depends only on the seed and its number
//! ([`GeneratorConfig::event`]) it is the same event whoever makes it.
//!
//! Watermarks: a reader with several splits makes their events in
//! ascending event number, hence ascending time, so its watermark (last
//! timestamp − 1 ms) is correct for all of its splits.

use std::time::{Duration, Instant};

use rfy_runtime::sources::{Source, SourceOutput, SourceReader, SourceStatus, SOURCE_BATCH};
use rfy_runtime::{OperatorContext, TaskError};
use serde::{Deserialize, Serialize};

use super::generator::GeneratorConfig;
use super::model::Event;

/// The event numbers `next, next + stride, next + 2·stride, ...` (below the
/// generator's total) that a reader still has to make. Its postcard image is
/// one item of the source's operator state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EventSplit {
    /// The next event number to make.
    pub next: u64,
    /// Distance to the one after it (≥ 1).
    pub stride: u64,
}

/// The splits of subtask `index` of `parallelism` when restoring at another
/// parallelism, from `all` the splits of every old subtask: the ones not
/// finished before `end`, each cut into `k = parallelism / gcd(count, parallelism)`
/// progressions, dealt round robin (in ascending order, so every subtask
/// computes the same deal).
///
/// Errors: a stride overflowing `u64` (after very many rescales).
pub fn rescale_splits(
    mut all: Vec<EventSplit>,
    end: u64,
    index: u32,
    parallelism: u32,
) -> Result<Vec<EventSplit>, TaskError> {
    all.retain(|s| s.next < end && s.stride > 0);
    all.sort_unstable();
    all.dedup();
    let (m, p) = (all.len() as u64, parallelism.max(1) as u64);
    if m == 0 {
        return Ok(Vec::new());
    }
    let k = p / gcd(m, p);
    let mut mine = Vec::new();
    let mut dealt = 0u64;
    for s in all {
        let stride = s.stride.checked_mul(k).ok_or_else(|| {
            TaskError::State(format!("Nexmark generator: split stride {} × {k} overflows after rescaling", s.stride))
        })?;
        for j in 0..k {
            if dealt % p == index as u64 {
                mine.push(EventSplit { next: s.next.saturating_add(j * s.stride), stride });
            }
            dealt += 1;
        }
    }
    mine.retain(|s| s.next < end);
    Ok(mine)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The generator as a parallel source of [`Event`]s with event-time
/// timestamps and watermarks, checkpointing its position (see the module docs).
#[derive(Debug, Clone)]
pub struct NexmarkSource {
    config: GeneratorConfig,
}

impl NexmarkSource {
    /// A source generating what `config` says.
    pub fn new(config: GeneratorConfig) -> Self {
        NexmarkSource { config }
    }

    /// The splits of subtask `ctx.subtask_index`: restored from the
    /// checkpoint the task restores (if it holds this source's state), else
    /// the fresh split `(index, parallelism)`.
    fn splits(&self, ctx: &OperatorContext, end: u64) -> Result<Vec<EventSplit>, TaskError> {
        let fresh = vec![EventSplit { next: ctx.subtask_index as u64, stride: ctx.parallelism.max(1) as u64 }];
        let Some(cp) = &ctx.checkpointing else { return Ok(fresh) };
        let Some(op) = cp.restore_source().and_then(|r| r.metadata.operators.get(&ctx.uid)) else { return Ok(fresh) };
        let decode = |items: Vec<Vec<u8>>| -> Result<Vec<EventSplit>, TaskError> {
            items
                .iter()
                .map(|b| {
                    postcard::from_bytes::<EventSplit>(b).map_err(|e| {
                        TaskError::State(format!("undecodable Nexmark generator position in the checkpoint: {e}"))
                    })
                })
                .collect()
        };
        let splits = if op.parallelism == ctx.parallelism {
            let own = cp.restored_operator(&ctx.uid, ctx.subtask_index, ctx.parallelism)?.unwrap_or_default();
            let mut own = decode(own)?;
            own.retain(|s| s.next < end && s.stride > 0);
            own
        } else {
            rescale_splits(decode(cp.restored_operator_union(&ctx.uid)?)?, end, ctx.subtask_index, ctx.parallelism)?
        };
        tracing::info!(subtask = ctx.subtask_index, splits = ?splits, "Nexmark generator restored its position");
        Ok(splits)
    }
}

/// One subtask's reader: makes the events of its splits in ascending event number.
pub struct NexmarkReader {
    config: GeneratorConfig,
    /// The generator's total (`u64::MAX` when unbounded).
    end: u64,
    /// Splits with events left.
    splits: Vec<EventSplit>,
    started: Instant,
    /// Events this reader emitted (for the rate limit).
    emitted: u64,
    /// This reader's share of the rate limit, events/s.
    rate: Option<f64>,
}

impl NexmarkReader {
    /// A reader of `splits` of `config`'s events, one of `parallelism`
    /// sharing `config.rate_limit` equally.
    pub fn new(config: GeneratorConfig, splits: Vec<EventSplit>, parallelism: u32) -> Self {
        let end = config.events.unwrap_or(u64::MAX);
        let splits = splits.into_iter().filter(|s| s.next < end && s.stride > 0).collect();
        NexmarkReader {
            config,
            end,
            splits,
            started: Instant::now(),
            emitted: 0,
            rate: config.rate_limit.map(|r| r / parallelism.max(1) as f64),
        }
    }

    /// How many events may be made now; sleeps up to 100 ms when none.
    fn allowance(&mut self) -> usize {
        let Some(rate) = self.rate else { return SOURCE_BATCH };
        let due = (self.started.elapsed().as_secs_f64() * rate) as u64;
        if due > self.emitted {
            return (due - self.emitted).min(SOURCE_BATCH as u64) as usize;
        }
        let wait = (self.emitted + 1) as f64 / rate - self.started.elapsed().as_secs_f64();
        std::thread::sleep(Duration::from_secs_f64(wait.clamp(0.0, 0.1)));
        0
    }

    /// The lowest event number left in the splits, advancing its split past it.
    fn take_next(&mut self) -> Option<u64> {
        let (i, _) = self.splits.iter().enumerate().min_by_key(|(_, s)| s.next)?;
        let s = &mut self.splits[i];
        let n = s.next;
        match n.checked_add(s.stride).filter(|next| *next < self.end) {
            Some(next) => s.next = next,
            None => {
                self.splits.swap_remove(i);
            }
        }
        Some(n)
    }
}

impl SourceReader<Event> for NexmarkReader {
    fn poll_next(&mut self, out: &mut Vec<Event>) -> Result<SourceStatus, TaskError> {
        let mut ts = Vec::new();
        self.poll_output(&mut SourceOutput::new(out, &mut ts))
    }

    fn poll_output(&mut self, out: &mut SourceOutput<'_, Event>) -> Result<SourceStatus, TaskError> {
        if self.splits.is_empty() {
            return Ok(SourceStatus::Finished);
        }
        let allowed = self.allowance();
        let mut last = None;
        for _ in 0..allowed {
            let Some(n) = self.take_next() else { break };
            let e = self.config.event(n);
            let t = e.timestamp();
            out.collect_with_timestamp(e, t);
            last = Some(t);
            self.emitted += 1;
        }
        if let Some(t) = last {
            out.emit_watermark(t - 1);
        }
        Ok(if self.splits.is_empty() {
            SourceStatus::Finished
        } else if allowed == 0 {
            SourceStatus::Idle
        } else {
            SourceStatus::Available
        })
    }

    /// One item per split with events left (postcard of [`EventSplit`]).
    fn snapshot_state(&mut self) -> Result<Vec<Vec<u8>>, TaskError> {
        self.splits
            .iter()
            .map(|s| {
                postcard::to_allocvec(s)
                    .map_err(|e| TaskError::State(format!("cannot encode the Nexmark generator position: {e}")))
            })
            .collect()
    }
}

impl Source<Event> for NexmarkSource {
    fn name(&self) -> String {
        "Source: Nexmark".into()
    }
    fn bounded(&self) -> bool {
        self.config.events.is_some()
    }
    /// Errors: an undecodable or unreadable checkpointed position.
    fn create_reader(&self, ctx: &OperatorContext) -> Result<Box<dyn SourceReader<Event>>, TaskError> {
        let splits = self.splits(ctx, self.config.events.unwrap_or(u64::MAX))?;
        Ok(Box::new(NexmarkReader::new(self.config, splits, ctx.parallelism)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One ms per event, so a timestamp names its event.
    fn config(events: u64) -> GeneratorConfig {
        GeneratorConfig { seed: 3, events: Some(events), event_rate: 1000, base_time_ms: 0, rate_limit: None }
    }

    /// Polls `r` `polls` times (or to its end): the event numbers it made, in
    /// order; checks each poll's watermark is below everything after it.
    fn read(r: &mut NexmarkReader, polls: usize, seen: &mut Vec<u64>, watermark: &mut i64) {
        for _ in 0..polls {
            let (mut events, mut ts) = (Vec::new(), Vec::new());
            let mut out = SourceOutput::new(&mut events, &mut ts);
            let status = r.poll_output(&mut out).unwrap();
            let wm = out.watermark();
            for t in ts {
                assert!(t > *watermark, "event {t} after watermark {watermark}");
                seen.push(t as u64);
            }
            if let Some(w) = wm {
                *watermark = (*watermark).max(w);
            }
            if status == SourceStatus::Finished {
                return;
            }
        }
    }

    fn decode(items: Vec<Vec<u8>>) -> Vec<EventSplit> {
        items.iter().map(|b| postcard::from_bytes(b).unwrap()).collect()
    }

    #[test]
    fn fresh_readers_make_every_event_once_in_time_order() {
        for p in 1..=4u32 {
            let mut all = Vec::new();
            for i in 0..p {
                let mut r = NexmarkReader::new(config(5000), vec![EventSplit { next: i as u64, stride: p as u64 }], p);
                let (mut seen, mut watermark) = (Vec::new(), i64::MIN);
                read(&mut r, usize::MAX, &mut seen, &mut watermark);
                assert!(seen.windows(2).all(|w| w[0] < w[1]), "subtask {i} of {p} out of order");
                all.extend(seen);
            }
            all.sort_unstable();
            assert_eq!(all, (0..5000).collect::<Vec<_>>(), "parallelism {p}");
        }
    }

    #[test]
    fn rescaled_splits_are_dealt_evenly() {
        let two = vec![EventSplit { next: 10, stride: 2 }, EventSplit { next: 13, stride: 2 }];
        let three: Vec<Vec<EventSplit>> = (0..3).map(|i| rescale_splits(two.clone(), 1000, i, 3).unwrap()).collect();
        assert_eq!(three.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 2]);
        assert_eq!(three[0], vec![EventSplit { next: 10, stride: 6 }, EventSplit { next: 13, stride: 6 }]);
        let one = rescale_splits(two.clone(), 1000, 0, 1).unwrap();
        assert_eq!(one, two);
        assert_eq!(rescale_splits(two.clone(), 12, 0, 1).unwrap(), vec![two[0]], "finished splits are dropped");
        assert!(rescale_splits(two, 10, 0, 1).unwrap().is_empty());
        let huge = vec![EventSplit { next: 0, stride: u64::MAX / 2 }];
        let err = rescale_splits(huge, u64::MAX, 0, 3).unwrap_err().to_string();
        assert!(err.contains("overflows"), "{err}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Runs at `p0`, stops after a random number of polls per subtask,
        /// restores at `p1` (and again at `p2`), runs to the end: every
        /// event exactly once, each reader in time order, never below its watermark.
        #[test]
        fn restore_at_any_parallelism_loses_and_repeats_nothing(
            events in 1u64..6000,
            p0 in 1u32..5, p1 in 1u32..6, p2 in 1u32..4,
            polls in proptest::collection::vec(0usize..4, 12),
        ) {
            let cfg = config(events);
            let mut seen = Vec::new();
            // Per old subtask, the splits it snapshotted.
            let mut state: Vec<Vec<EventSplit>> =
                (0..p0).map(|i| vec![EventSplit { next: i as u64, stride: p0 as u64 }]).collect();
            for (stage, p) in [p0, p1, p2].into_iter().enumerate() {
                let all: Vec<EventSplit> = state.concat();
                let mut next_state = Vec::new();
                for i in 0..p {
                    let mine = if state.len() == p as usize {
                        state[i as usize].clone()
                    } else {
                        rescale_splits(all.clone(), events, i, p).unwrap()
                    };
                    let mut r = NexmarkReader::new(cfg, mine, p);
                    let budget = if stage == 2 { usize::MAX } else { polls[(stage * 5 + i as usize) % polls.len()] };
                    let (mut mine_seen, mut watermark) = (Vec::new(), i64::MIN);
                    read(&mut r, budget, &mut mine_seen, &mut watermark);
                    prop_assert!(mine_seen.windows(2).all(|w| w[0] < w[1]));
                    seen.extend(mine_seen);
                    next_state.push(decode(r.snapshot_state().unwrap()));
                }
                state = next_state;
            }
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..events).collect::<Vec<_>>());
        }
    }
}
