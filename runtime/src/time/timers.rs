//! Keyed timers (Flink's `InternalTimerService` on the heap backend): per
//! time domain, the timestamps registered for each key, split by key group
//! like all keyed state (so they are checkpointed, restored and
//! redistributed on rescale with it), and an index by time to fire them in
//! order.

use std::collections::{BTreeMap, VecDeque};
use std::hash::Hash;

use crate::checkpoint::{CheckpointError, KeyGroupRange, KeyGroupedMap};
use crate::record::Record;

/// Which clock a timer follows (Flink's `TimeDomain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeDomain {
    /// Fires when the watermark reaches the timer's time.
    EventTime,
    /// Fires when the wall clock reaches the timer's time.
    ProcessingTime,
}

/// The timers of one domain.
pub(crate) struct TimerQueue<K> {
    /// Key → its registered timestamps (ascending, no duplicates): the
    /// checkpointed part.
    pub(crate) by_key: KeyGroupedMap<K, Vec<i64>>,
    /// Timestamp → (key, key-group index) in registration order (a deque:
    /// popping the first of many keys due at one time is O(1), not a shift).
    by_time: BTreeMap<i64, VecDeque<(K, usize)>>,
}

impl<K: Hash + Eq + Record> TimerQueue<K> {
    fn new(range: KeyGroupRange) -> Self {
        TimerQueue { by_key: KeyGroupedMap::new(range), by_time: BTreeMap::new() }
    }

    fn register(&mut self, key: &K, kg: usize, ts: i64) {
        let group = self.by_key.group_mut(kg);
        let list = match group.get_mut(key) {
            Some(l) => l,
            None => group.entry(key.clone()).or_default(),
        };
        match list.binary_search(&ts) {
            Ok(_) => return,
            Err(pos) => list.insert(pos, ts),
        }
        self.by_time.entry(ts).or_default().push_back((key.clone(), kg));
    }

    fn delete(&mut self, key: &K, kg: usize, ts: i64) {
        let group = self.by_key.group_mut(kg);
        let Some(list) = group.get_mut(key) else { return };
        let Ok(pos) = list.binary_search(&ts) else { return };
        list.remove(pos);
        if list.is_empty() {
            group.remove(key);
        }
        if let Some(keys) = self.by_time.get_mut(&ts) {
            keys.retain(|(k, _)| k != key);
            if keys.is_empty() {
                self.by_time.remove(&ts);
            }
        }
    }

    /// Removes and returns the earliest timer at or before `upto`.
    fn pop_due(&mut self, upto: i64) -> Option<(i64, K, usize)> {
        let mut entry = self.by_time.first_entry()?;
        let ts = *entry.key();
        if ts > upto {
            return None;
        }
        let keys = entry.get_mut();
        let (key, kg) = keys.pop_front().expect("empty lists are removed");
        if keys.is_empty() {
            entry.remove();
        }
        let group = self.by_key.group_mut(kg);
        if let Some(list) = group.get_mut(&key) {
            list.retain(|t| *t != ts);
            if list.is_empty() {
                group.remove(&key);
            }
        }
        Some((ts, key, kg))
    }

    /// Indexes the timers of key group `kg` after it was restored.
    fn index_group(&mut self, kg: u32) {
        let range = self.by_key.range();
        if !range.contains(kg) {
            return;
        }
        let idx = (kg - range.first) as usize;
        for (key, list) in self.by_key.group(idx) {
            for ts in list {
                self.by_time.entry(*ts).or_default().push_back((key.clone(), idx));
            }
        }
    }

    fn len(&self) -> usize {
        self.by_time.values().map(|v| v.len()).sum()
    }
}

/// Event-time and processing-time timers of one keyed operator subtask, and
/// the operator's current watermark.
pub(crate) struct InternalTimers<K> {
    pub(crate) event: TimerQueue<K>,
    pub(crate) processing: TimerQueue<K>,
    /// The operator's current event time (ms): the last watermark it received.
    pub(crate) watermark: i64,
}

/// Names of the timer tables in keyed-state snapshots.
pub(crate) const EVENT_TIMERS: &str = "_timer_state/event_timers";
pub(crate) const PROCESSING_TIMERS: &str = "_timer_state/processing_timers";

impl<K: Hash + Eq + Record> InternalTimers<K> {
    pub(crate) fn new(range: KeyGroupRange) -> Self {
        InternalTimers { event: TimerQueue::new(range), processing: TimerQueue::new(range), watermark: i64::MIN }
    }

    fn queue(&mut self, domain: TimeDomain) -> &mut TimerQueue<K> {
        match domain {
            TimeDomain::EventTime => &mut self.event,
            TimeDomain::ProcessingTime => &mut self.processing,
        }
    }

    pub(crate) fn register(&mut self, domain: TimeDomain, key: &K, kg: usize, ts: i64) {
        self.queue(domain).register(key, kg, ts)
    }

    pub(crate) fn delete(&mut self, domain: TimeDomain, key: &K, kg: usize, ts: i64) {
        self.queue(domain).delete(key, kg, ts)
    }

    /// Removes and returns the earliest timer of `domain` at or before `upto`.
    pub(crate) fn pop_due(&mut self, domain: TimeDomain, upto: i64) -> Option<(i64, K, usize)> {
        self.queue(domain).pop_due(upto)
    }

    /// Number of registered timers (both domains).
    pub(crate) fn len(&self) -> usize {
        self.event.len() + self.processing.len()
    }

    /// Restores the timers of key group `kg` from a snapshot table image.
    ///
    /// Errors: undecodable bytes; `what` names the file.
    pub(crate) fn restore_table(
        &mut self,
        name: &str,
        kg: u32,
        bytes: &[u8],
        what: &str,
    ) -> Result<bool, CheckpointError> {
        let q = match name {
            EVENT_TIMERS => &mut self.event,
            PROCESSING_TIMERS => &mut self.processing,
            _ => return Ok(false),
        };
        q.by_key.restore_group(kg, bytes, what)?;
        q.index_group(kg);
        Ok(true)
    }
}

/// Wall-clock time now, ms since the Unix epoch (the processing-time clock).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_fire_in_time_order_once_and_deleted_ones_never() {
        let range = KeyGroupRange::of_subtask(128, 1, 0);
        let mut t: InternalTimers<String> = InternalTimers::new(range);
        let k = |s: &str| (s.to_string(), range.index_of(&s.to_string()));
        for (key, ts) in [("a", 30), ("b", 10), ("a", 10), ("a", 30), ("c", 20)] {
            let (key, kg) = k(key);
            t.register(TimeDomain::EventTime, &key, kg, ts);
        }
        let (c, kg) = k("c");
        t.delete(TimeDomain::EventTime, &c, kg, 20);
        assert_eq!(t.len(), 3, "duplicates are one timer");
        let mut fired = Vec::new();
        while let Some((ts, key, _)) = t.pop_due(TimeDomain::EventTime, 25) {
            fired.push((ts, key));
        }
        assert_eq!(fired, vec![(10, "b".to_string()), (10, "a".to_string())]);
        assert_eq!(t.pop_due(TimeDomain::EventTime, 29), None);
        assert_eq!(t.pop_due(TimeDomain::EventTime, 30).map(|x| x.0), Some(30));
        assert_eq!(t.len(), 0);
    }
}
