//! The async I/O operator's queue of stream elements (Flink's
//! `OrderedStreamElementQueue` / `UnorderedStreamElementQueue`): records in
//! flight or completed, and the watermarks between them, in input order.
//! Pure bookkeeping, no futures polled here.
//!
//! Ordered: results leave in input order. Unordered: a completed record
//! leaves at once if no watermark that came before it is still queued (its
//! "segment" is the front one); a watermark leaves once every record before
//! it has left. Emitted records in the middle of the queue leave a tombstone
//! until the records before them are gone.

use std::collections::VecDeque;
use std::time::Instant;

use futures::future::AbortHandle;

/// Where a record's call stands.
pub(crate) enum CallState<Out> {
    /// A call is running; aborting it drops its future.
    InFlight(AbortHandle),
    /// Waiting for its retry delay to pass.
    Delayed,
    /// Completed with these results, not emitted yet.
    Done(Vec<Out>),
}

/// One queued record.
pub(crate) struct Entry<In, Out> {
    /// The input (kept to retry the call and to snapshot it).
    pub(crate) input: In,
    /// Its event-time timestamp (ms), given to each of its results.
    pub(crate) timestamp: i64,
    /// Calls made so far (1 after the first).
    pub(crate) attempts: u32,
    /// When its time is up (all attempts together).
    pub(crate) deadline: Instant,
    pub(crate) state: CallState<Out>,
    /// Watermarks enqueued before it.
    segment: u64,
}

enum Slot<In, Out> {
    Record(Entry<In, Out>),
    Watermark(i64),
    /// An unordered record emitted before the records ahead of it.
    Emitted,
}

/// The queue; see the module docs. Entries are addressed by their sequence
/// number (increasing from 0 in input order, watermarks included).
pub(crate) struct ElementQueue<In, Out> {
    ordered: bool,
    slots: VecDeque<Slot<In, Out>>,
    /// Sequence number of `slots[0]`.
    base: u64,
    /// Records queued and not emitted (what the capacity bounds).
    records: usize,
    watermarks_in: u64,
    watermarks_out: u64,
    /// Unordered: completed records of the front segment, to emit.
    ready: Vec<u64>,
}

impl<In, Out> ElementQueue<In, Out> {
    pub(crate) fn new(ordered: bool) -> Self {
        ElementQueue {
            ordered,
            slots: VecDeque::new(),
            base: 0,
            records: 0,
            watermarks_in: 0,
            watermarks_out: 0,
            ready: Vec::new(),
        }
    }

    /// Records queued and not emitted.
    pub(crate) fn records(&self) -> usize {
        self.records
    }

    /// Nothing queued: no record and no watermark.
    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Appends a record whose first call is `state`; returns its sequence number.
    pub(crate) fn push_record(&mut self, input: In, timestamp: i64, deadline: Instant, state: CallState<Out>) -> u64 {
        let seq = self.base + self.slots.len() as u64;
        let segment = self.watermarks_in;
        self.slots.push_back(Slot::Record(Entry { input, timestamp, attempts: 1, deadline, state, segment }));
        self.records += 1;
        seq
    }

    /// Appends a watermark: it leaves after every record queued before it.
    pub(crate) fn push_watermark(&mut self, watermark: i64) {
        self.slots.push_back(Slot::Watermark(watermark));
        self.watermarks_in += 1;
    }

    /// The record `seq`, if it is still queued and not emitted.
    pub(crate) fn entry_mut(&mut self, seq: u64) -> Option<&mut Entry<In, Out>> {
        let i = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        match self.slots.get_mut(i) {
            Some(Slot::Record(e)) => Some(e),
            _ => None,
        }
    }

    /// Record `seq` completed with `results`.
    pub(crate) fn complete(&mut self, seq: u64, results: Vec<Out>) {
        let front_segment = self.watermarks_out;
        let Some(e) = self.entry_mut(seq) else { return };
        e.state = CallState::Done(results);
        let emit_now = e.segment == front_segment;
        if !self.ordered && emit_now {
            self.ready.push(seq);
        }
    }

    /// Moves the results that may leave now into `out` (each with its
    /// record's timestamp in `timestamps`), stopping at a watermark that may
    /// leave: returns it (the caller passes on `out`, then the watermark, and
    /// calls again). `None` when nothing more may leave.
    pub(crate) fn pop_ready(&mut self, out: &mut Vec<Out>, timestamps: &mut Vec<i64>) -> Option<i64> {
        if !self.ordered {
            for seq in std::mem::take(&mut self.ready) {
                let i = (seq - self.base) as usize;
                if let Slot::Record(Entry { state: CallState::Done(results), timestamp, .. }) =
                    std::mem::replace(&mut self.slots[i], Slot::Emitted)
                {
                    timestamps.resize(timestamps.len() + results.len(), timestamp);
                    out.extend(results);
                    self.records -= 1;
                }
            }
        }
        loop {
            match self.slots.front() {
                Some(Slot::Emitted) => {}
                Some(Slot::Record(Entry { state: CallState::Done(_), .. })) if self.ordered => {
                    if let Some(Slot::Record(e)) = self.slots.pop_front() {
                        if let CallState::Done(results) = e.state {
                            timestamps.resize(timestamps.len() + results.len(), e.timestamp);
                            out.extend(results);
                        }
                    }
                    self.records -= 1;
                    self.base += 1;
                    continue;
                }
                Some(Slot::Watermark(w)) => {
                    let w = *w;
                    self.slots.pop_front();
                    self.base += 1;
                    self.watermarks_out += 1;
                    if !self.ordered {
                        self.collect_front_segment();
                    }
                    return Some(w);
                }
                _ => return None,
            }
            self.slots.pop_front();
            self.base += 1;
        }
    }

    /// Unordered: the completed records of the (new) front segment become ready.
    fn collect_front_segment(&mut self) {
        for (i, slot) in self.slots.iter().enumerate() {
            match slot {
                Slot::Watermark(_) => break,
                Slot::Record(Entry { state: CallState::Done(_), .. }) => self.ready.push(self.base + i as u64),
                _ => {}
            }
        }
    }

    /// The queued records not emitted, in input order, with their sequence numbers.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (u64, &Entry<In, Out>)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| match s {
            Slot::Record(e) => Some((self.base + i as u64, e)),
            _ => None,
        })
    }

    /// Records whose calls are unfinished and whose deadline passed at `now`
    /// (deadlines grow in input order, so the scan stops at the first one in the future).
    pub(crate) fn timed_out(&self, now: Instant, into: &mut Vec<u64>) {
        for (seq, e) in self.entries() {
            if matches!(e.state, CallState::Done(_)) {
                continue;
            }
            if e.deadline > now {
                break;
            }
            into.push(seq);
        }
    }

    /// The earliest deadline of an unfinished call.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.entries().find(|(_, e)| !matches!(e.state, CallState::Done(_))).map(|(_, e)| e.deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running() -> CallState<u32> {
        CallState::InFlight(AbortHandle::new_pair().0)
    }

    fn drain(q: &mut ElementQueue<u32, u32>) -> Vec<String> {
        let mut got = Vec::new();
        loop {
            let (mut out, mut ts) = (Vec::new(), Vec::new());
            let w = q.pop_ready(&mut out, &mut ts);
            assert_eq!(out.len(), ts.len());
            got.extend(out.iter().zip(&ts).map(|(r, t)| format!("{r}@{t}")));
            match w {
                Some(w) => got.push(format!("W{w}")),
                None => return got,
            }
        }
    }

    #[test]
    fn ordered_emits_in_input_order_with_watermarks_in_place() {
        let now = Instant::now();
        let mut q = ElementQueue::<u32, u32>::new(true);
        let a = q.push_record(1, 10, now, running());
        let b = q.push_record(2, 20, now, running());
        q.push_watermark(25);
        let c = q.push_record(3, 30, now, running());
        assert_eq!(q.records(), 3);
        q.complete(b, vec![200, 201]);
        q.complete(c, vec![300]);
        assert!(drain(&mut q).is_empty(), "the first record holds back the rest");
        q.complete(a, vec![100]);
        assert_eq!(drain(&mut q), ["100@10", "200@20", "201@20", "W25", "300@30"]);
        assert!(q.is_empty());
        assert_eq!(q.records(), 0);
    }

    #[test]
    fn unordered_reorders_only_between_watermarks() {
        let now = Instant::now();
        let mut q = ElementQueue::<u32, u32>::new(false);
        let a = q.push_record(1, 10, now, running());
        let b = q.push_record(2, 20, now, running());
        q.push_watermark(25);
        let c = q.push_record(3, 30, now, running());
        let d = q.push_record(4, 40, now, running());
        q.complete(b, vec![200]);
        q.complete(d, vec![400]);
        assert_eq!(drain(&mut q), ["200@20"], "b leaves before a; d waits behind the watermark");
        assert_eq!(q.records(), 3);
        q.complete(a, vec![]);
        assert_eq!(drain(&mut q), ["W25", "400@40"], "no output for a; the watermark leaves, then d");
        q.complete(c, vec![300]);
        assert_eq!(drain(&mut q), ["300@30"]);
        assert!(q.is_empty());
    }

    #[test]
    fn stale_completions_and_lookups_of_emitted_records_are_ignored() {
        let now = Instant::now();
        let mut q = ElementQueue::<u32, u32>::new(false);
        let a = q.push_record(1, 10, now, running());
        q.complete(a, vec![1]);
        assert_eq!(drain(&mut q), ["1@10"]);
        q.complete(a, vec![9]);
        assert!(q.entry_mut(a).is_none());
        assert!(q.entry_mut(a + 100).is_none());
        assert!(drain(&mut q).is_empty());
    }

    #[test]
    fn timeouts_are_found_in_deadline_order_skipping_completed_records() {
        let t0 = Instant::now();
        let ms = std::time::Duration::from_millis;
        let mut q = ElementQueue::<u32, u32>::new(true);
        let a = q.push_record(1, 0, t0, running());
        let b = q.push_record(2, 0, t0 + ms(10), running());
        let c = q.push_record(3, 0, t0 + ms(20), running());
        q.complete(a, vec![1]);
        let mut late = Vec::new();
        q.timed_out(t0 + ms(15), &mut late);
        assert_eq!(late, [b]);
        assert_eq!(q.next_deadline(), Some(t0 + ms(10)));
        q.complete(b, vec![2]);
        assert_eq!(q.next_deadline(), Some(t0 + ms(20)));
        let _ = c;
        let inputs: Vec<u32> = q.entries().map(|(_, e)| e.input).collect();
        assert_eq!(inputs, [1, 2, 3], "the snapshot holds completed but unemitted records too");
    }
}
