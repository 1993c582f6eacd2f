//! Keyed state on the heap: one hash table per registered state, keyed by the
//! record key. (Key-group partitioning for snapshots comes with checkpoints.)

use std::any::Any;
use std::hash::Hash;
use std::marker::PhantomData;

use rustc_hash::FxHashMap;

use super::functions::KeyedContext;

/// The keyed state of one operator subtask.
pub struct KeyedStateStore<K> {
    tables: Vec<(String, Box<dyn Any>)>,
    _key: PhantomData<fn(K)>,
}

impl<K: Hash + Eq + Clone + 'static> KeyedStateStore<K> {
    pub(crate) fn new() -> Self {
        KeyedStateStore { tables: Vec::new(), _key: PhantomData }
    }

    /// Registers (or finds) a value state named `name` holding `V` per key.
    pub fn value_state<V: 'static>(&mut self, name: &str) -> ValueState<V> {
        if let Some(i) = self.tables.iter().position(|(n, t)| n == name && t.is::<FxHashMap<K, V>>()) {
            return ValueState { table: i, _value: PhantomData };
        }
        self.tables.push((name.to_string(), Box::new(FxHashMap::<K, V>::default())));
        ValueState { table: self.tables.len() - 1, _value: PhantomData }
    }

    fn table<V: 'static>(&self, i: usize) -> Option<&FxHashMap<K, V>> {
        self.tables.get(i).and_then(|(_, t)| t.downcast_ref())
    }

    fn table_mut<V: 'static>(&mut self, i: usize) -> Option<&mut FxHashMap<K, V>> {
        self.tables.get_mut(i).and_then(|(_, t)| t.downcast_mut())
    }
}

/// A handle to one value per key (Flink's `ValueState`); read and written for
/// the key of the record being processed.
#[derive(Debug)]
pub struct ValueState<V> {
    table: usize,
    _value: PhantomData<fn() -> V>,
}

impl<V> Clone for ValueState<V> {
    fn clone(&self) -> Self {
        ValueState { table: self.table, _value: PhantomData }
    }
}

impl<V: Clone + 'static> ValueState<V> {
    /// The current key's value, if one was set.
    pub fn value<K: Hash + Eq + Clone + 'static>(&self, ctx: &KeyedContext<'_, K>) -> Option<V> {
        ctx.state.table::<V>(self.table).and_then(|t| t.get(ctx.key)).cloned()
    }

    /// Sets the current key's value.
    pub fn update<K: Hash + Eq + Clone + 'static>(&self, ctx: &mut KeyedContext<'_, K>, value: V) {
        let key = ctx.key.clone();
        if let Some(t) = ctx.state.table_mut::<V>(self.table) {
            t.insert(key, value);
        }
    }

    /// Removes the current key's value.
    pub fn clear<K: Hash + Eq + Clone + 'static>(&self, ctx: &mut KeyedContext<'_, K>) {
        let key = ctx.key;
        if let Some(t) = ctx.state.table_mut::<V>(self.table) {
            t.remove(key);
        }
    }
}
