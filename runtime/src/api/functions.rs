//! User function shapes.

use std::hash::Hash;

use super::state::KeyedStateStore;
use crate::error::TaskError;
use crate::record::Record;

/// Where a function emits its results (Flink's `Collector`). Appends to the
/// operator's output batch: no allocation or dynamic call per record.
pub struct Collector<'a, T> {
    out: &'a mut Vec<T>,
}

impl<'a, T> Collector<'a, T> {
    pub(crate) fn new(out: &'a mut Vec<T>) -> Self {
        Collector { out }
    }

    /// Emits one record.
    #[inline]
    pub fn collect(&mut self, record: T) {
        self.out.push(record);
    }
}

/// What a keyed function sees of the current record's key and the state.
pub struct KeyedContext<'a, K> {
    pub(crate) key: &'a K,
    /// Index of the key's key group within the subtask's range.
    pub(crate) kg: usize,
    pub(crate) state: &'a mut KeyedStateStore<K>,
}

impl<K> KeyedContext<'_, K> {
    /// The key of the record being processed.
    pub fn current_key(&self) -> &K {
        self.key
    }
}

/// A function over a keyed stream with keyed state (Flink's
/// `KeyedProcessFunction`). One instance per subtask: `Clone` makes them
/// from the one in the program.
pub trait KeyedProcessFunction: Clone + Send + Sync + 'static {
    /// The key type.
    type Key: Hash + Eq + Record;
    /// Input records.
    type In: Record;
    /// Output records.
    type Out: Record;

    /// Called once per subtask before any record: register state here.
    fn open(&mut self, state: &mut KeyedStateStore<Self::Key>) {
        let _ = state;
    }

    /// Handles one record of the current key.
    ///
    /// Errors: a returned error fails the task (and the job).
    fn process_element(
        &mut self,
        value: Self::In,
        ctx: &mut KeyedContext<'_, Self::Key>,
        out: &mut Collector<'_, Self::Out>,
    ) -> Result<(), TaskError>;
}
