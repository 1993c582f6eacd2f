//! Pre-aggregation of a keyed reduce in front of its exchange (a "combiner",
//! as Flink's DataSet API runs for a combinable `groupBy().reduce()` and Flink
//! SQL's local-global aggregation): in BATCH mode the upstream task folds the
//! records of each key it sees with the reduce function and sends one partial
//! value per key, so the exchange carries one record per distinct key instead
//! of one per input record.
//!
//! Why this is valid only in BATCH mode: a BATCH reduce emits nothing but each
//! key's final value, which is the fold of all its records. The reduce function
//! is assumed associative (Flink's contract for combinable reduce): the keyed
//! reduce downstream folds the partial values as it would have folded the
//! records, and the order in which it meets records from different channels is
//! arbitrary anyway. A STREAMING reduce emits every intermediate value, which a
//! combiner would hide, so it never gets one.

use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::error::TaskError;
use crate::event::Event;
use crate::record::Record;
use crate::task::Output;

/// A combiner sends all its partial values once it holds this many keys: its
/// memory stays bounded (about this many keys and values) whatever the key
/// count of the input.
pub(crate) const COMBINER_MAX_KEYS: usize = 64 * 1024;

/// Partial values are handed to the writer in batches of this many records.
const FLUSH_BATCH: usize = 1024;

/// The combiner: an [`Output`] chained in front of the keyed writer `next`.
pub(crate) struct Combiner<T, K, KF, RF> {
    key_fn: Arc<KF>,
    reduce: Arc<RF>,
    partials: FxHashMap<K, T>,
    max_keys: usize,
    buf: Vec<T>,
    next: Box<dyn Output<T>>,
}

impl<T, K, KF, RF> Combiner<T, K, KF, RF>
where
    T: Record,
    K: Hash + Eq,
    KF: Fn(&T) -> K,
    RF: Fn(T, T) -> T,
{
    /// A combiner that holds at most `max_keys` keys (at least 1) before it
    /// sends its partial values to `next`.
    pub(crate) fn new(key_fn: Arc<KF>, reduce: Arc<RF>, max_keys: usize, next: Box<dyn Output<T>>) -> Self {
        Combiner { key_fn, reduce, partials: FxHashMap::default(), max_keys: max_keys.max(1), buf: Vec::new(), next }
    }

    /// Sends every partial value to the writer and empties the table.
    fn flush(&mut self) -> Result<(), TaskError> {
        for (_, v) in self.partials.drain() {
            self.buf.push(v);
            if self.buf.len() >= FLUSH_BATCH {
                self.next.push_batch(&mut self.buf)?;
            }
        }
        if !self.buf.is_empty() {
            self.next.push_batch(&mut self.buf)?;
        }
        Ok(())
    }
}

impl<T, K, KF, RF> Output<T> for Combiner<T, K, KF, RF>
where
    T: Record,
    K: Hash + Eq,
    KF: Fn(&T) -> K,
    RF: Fn(T, T) -> T,
{
    fn push_batch(&mut self, batch: &mut Vec<T>) -> Result<(), TaskError> {
        let (key_fn, reduce) = (&*self.key_fn, &*self.reduce);
        for rec in batch.drain(..) {
            match self.partials.entry(key_fn(&rec)) {
                Entry::Occupied(mut e) => {
                    let merged = reduce(e.get().clone(), rec);
                    *e.get_mut() = merged;
                }
                Entry::Vacant(e) => {
                    e.insert(rec);
                }
            }
        }
        if self.partials.len() >= self.max_keys {
            self.flush()?;
        }
        Ok(())
    }

    /// Timestamped records pass uncombined (after the partial values), so
    /// every timestamp reaches the reduce as it would without a combiner.
    fn push_timestamped(&mut self, batch: &mut Vec<T>, timestamps: &mut Vec<i64>) -> Result<(), TaskError> {
        self.flush()?;
        self.next.push_timestamped(batch, timestamps)
    }

    /// Every event (barrier, watermark, end of data, idle flush) first sends
    /// the partial values: what a checkpoint or the end of input sees
    /// downstream is then everything read before it.
    fn push_event(&mut self, event: &Event) -> Result<(), TaskError> {
        self.flush()?;
        self.next.push_event(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What reached the writer, in order: records as `Ok`, events as `Err`.
    type Seen = std::rc::Rc<std::cell::RefCell<Vec<Result<(String, u64), Event>>>>;

    /// Collects what reaches the writer.
    struct Collect(Seen);

    impl Output<(String, u64)> for Collect {
        fn push_batch(&mut self, batch: &mut Vec<(String, u64)>) -> Result<(), TaskError> {
            self.0.borrow_mut().extend(batch.drain(..).map(Ok));
            Ok(())
        }
        fn push_event(&mut self, event: &Event) -> Result<(), TaskError> {
            self.0.borrow_mut().push(Err(*event));
            Ok(())
        }
    }

    fn combiner(max_keys: usize) -> (Box<dyn Output<(String, u64)>>, Seen) {
        let seen = std::rc::Rc::default();
        let c = Combiner::new(
            Arc::new(|r: &(String, u64)| r.0.clone()),
            Arc::new(|a: (String, u64), b: (String, u64)| (a.0, a.1 + b.1)),
            max_keys,
            Box::new(Collect(std::rc::Rc::clone(&seen))),
        );
        (Box::new(c), seen)
    }

    fn words(text: &str) -> Vec<(String, u64)> {
        text.split(' ').map(|w| (w.to_string(), 1)).collect()
    }

    #[test]
    fn one_partial_per_key_and_all_of_them_before_the_next_event() {
        let (mut c, seen) = combiner(100);
        c.push_batch(&mut words("a b a c a b")).unwrap();
        assert!(seen.borrow().is_empty(), "partials are held until an event or the key limit");
        c.push_event(&Event::EndOfData).unwrap();
        let got = seen.borrow().clone();
        assert_eq!(got.last(), Some(&Err(Event::EndOfData)));
        let mut partials: Vec<_> = got.into_iter().filter_map(Result::ok).collect();
        partials.sort();
        assert_eq!(partials, vec![("a".into(), 3), ("b".into(), 2), ("c".into(), 1)]);
    }

    #[test]
    fn the_key_limit_bounds_the_table_and_loses_nothing() {
        let (mut c, seen) = combiner(2);
        c.push_batch(&mut words("a a b")).unwrap();
        assert_eq!(seen.borrow().len(), 2, "two keys reach the limit: both partials go out");
        c.push_batch(&mut words("a c")).unwrap();
        c.push_event(&Event::EndOfInput).unwrap();
        let mut total = std::collections::BTreeMap::new();
        for (w, n) in seen.borrow().iter().filter_map(|r| r.clone().ok()) {
            *total.entry(w).or_insert(0) += n;
        }
        assert_eq!(total, [("a".to_string(), 3), ("b".into(), 1), ("c".into(), 1)].into_iter().collect());
    }

    #[test]
    fn timestamped_records_pass_uncombined_after_the_partials() {
        let (mut c, seen) = combiner(100);
        c.push_batch(&mut words("a a")).unwrap();
        c.push_timestamped(&mut words("a a"), &mut vec![5, 6]).unwrap();
        let got: Vec<_> = seen.borrow().iter().filter_map(|r| r.clone().ok()).collect();
        assert_eq!(got, vec![("a".into(), 2), ("a".into(), 1), ("a".into(), 1)]);
    }
}
