//! Keyed state: every registered state is a table split by key group, so a
//! snapshot writes key group by key group and a restore at another
//! parallelism takes only the key groups the subtask owns. On the heap
//! (`state.backend.type: hashmap`, Flink's `HashMapStateBackend`) a table is
//! a [`KeyGroupedMap`]; with `embedded-lsm` it is a
//! [`DiskTable`](crate::state_backend::DiskTable) on local disk. State kinds:
//! [`ValueState`], [`ListState`], [`MapState`], [`ReducingState`], each read
//! and written for the key of the record being processed.
//!
//! Reads take the context `&mut` (`value`, `get`, `entries`): on disk a read
//! loads the key's value into the store's cache and lends it from there, so
//! borrowed values (`&[V]` of a list, `&UV` of a map) stay possible without
//! a copy per read.

use std::any::Any;
use std::hash::Hash;
use std::marker::PhantomData;

use rustc_hash::FxHashMap;
use serde::{de::DeserializeOwned, Serialize};

use super::side::{OutputTag, SideOutputs};
use crate::checkpoint::blobs::Blob;
use crate::checkpoint::{CheckpointError, KeyGroupRange, KeyGroupedMap, OperatorSnapshot, TaskCheckpointing};
use crate::event::NO_TIMESTAMP;
use crate::record::Record;
use crate::state_backend::{DiskTable, LsmStore, StateBackend, StateBackendError};
use crate::time::timers::now_ms;
use crate::time::timers::{InternalTimers, EVENT_TIMERS, PROCESSING_TIMERS};
use crate::time::TimeDomain;

/// A table of one registered state, type-erased for snapshots.
trait StateTable: Any {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// The image of the key group at `index`, `None` if it is empty.
    fn snapshot_group(&self, index: usize) -> Result<Option<Vec<u8>>, CheckpointError>;
    fn restore_group(&mut self, kg: u32, bytes: &[u8], what: &str) -> Result<(), CheckpointError>;
    /// Before a snapshot: makes what [`snapshot_group`](Self::snapshot_group) reads current.
    fn flush(&mut self) -> Result<(), StateBackendError> {
        Ok(())
    }
    /// Between batches: errors met on the record path, cache write-back.
    fn maintain(&mut self) -> Result<(), StateBackendError> {
        Ok(())
    }
    /// The bytes of cache this table may hold.
    fn set_cache_budget(&mut self, _bytes: u64) {}
}

impl<K, X> StateTable for DiskTable<K, X>
where
    K: Hash + Eq + Clone + Serialize + DeserializeOwned + 'static,
    X: Serialize + DeserializeOwned + 'static,
{
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn snapshot_group(&self, index: usize) -> Result<Option<Vec<u8>>, CheckpointError> {
        Ok(DiskTable::snapshot_group(self, self.range().first + index as u32)?)
    }
    fn restore_group(&mut self, kg: u32, bytes: &[u8], what: &str) -> Result<(), CheckpointError> {
        DiskTable::restore_group(self, kg, bytes, what)
    }
    fn flush(&mut self) -> Result<(), StateBackendError> {
        self.write_back(false)
    }
    fn maintain(&mut self) -> Result<(), StateBackendError> {
        DiskTable::maintain(self)
    }
    fn set_cache_budget(&mut self, bytes: u64) {
        DiskTable::set_cache_budget(self, bytes)
    }
}

impl<K, V> StateTable for KeyGroupedMap<K, V>
where
    K: Hash + Eq + Serialize + DeserializeOwned + 'static,
    V: Serialize + DeserializeOwned + 'static,
{
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn snapshot_group(&self, index: usize) -> Result<Option<Vec<u8>>, CheckpointError> {
        let g = self.group(index);
        if g.is_empty() {
            return Ok(None);
        }
        Self::encode_group(g).map(Some)
    }
    fn restore_group(&mut self, kg: u32, bytes: &[u8], what: &str) -> Result<(), CheckpointError> {
        KeyGroupedMap::restore_group(self, kg, bytes, what)
    }
}

/// The keyed state of one operator subtask.
pub struct KeyedStateStore<K> {
    range: KeyGroupRange,
    tables: Vec<(String, Box<dyn StateTable>)>,
    /// The operator's timers: keyed state too, in the same snapshots.
    pub(crate) timers: InternalTimers<K>,
    /// The operator's embedded store (`state.backend.type: embedded-lsm`);
    /// `None`: state on the heap.
    lsm: Option<LsmStore>,
    /// An error registering a state on disk, returned by [`Self::opened`].
    failed: Option<StateBackendError>,
    _key: PhantomData<fn(K)>,
}

impl<K: Hash + Eq + Record> KeyedStateStore<K> {
    pub(crate) fn new(range: KeyGroupRange) -> Self {
        KeyedStateStore {
            range,
            tables: Vec::new(),
            timers: InternalTimers::new(range),
            lsm: None,
            failed: None,
            _key: PhantomData,
        }
    }

    /// A store on `backend` for operator subtask `name` (its uid and
    /// subtask index: the on-disk store's directory name). Timers stay on the
    /// heap with either backend (as Flink's RocksDB backend with
    /// `state.backend.rocksdb.timer-service.factory: HEAP`).
    ///
    /// Errors: [`StateBackendError::Engine`] opening the on-disk store.
    pub(crate) fn with_backend(
        range: KeyGroupRange,
        backend: &StateBackend,
        name: &str,
    ) -> Result<Self, StateBackendError> {
        let mut store = Self::new(range);
        if let StateBackend::EmbeddedLsm(settings) = backend {
            store.lsm = Some(LsmStore::open(settings, name)?);
        }
        Ok(store)
    }

    /// After the function's `open` registered its states: shares the object
    /// cache's memory among them, and returns an error met registering one.
    ///
    /// Errors: [`StateBackendError::Engine`] creating a state's keyspace.
    pub(crate) fn opened(&mut self) -> Result<(), StateBackendError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        if let Some(lsm) = &self.lsm {
            let share = lsm.split().object_cache / self.tables.len().max(1) as u64;
            for (_, t) in &mut self.tables {
                t.set_cache_budget(share);
            }
        }
        Ok(())
    }

    /// Between batches, before the batch's output leaves: returns an error
    /// the on-disk backend met on the record path, and writes back caches
    /// grown past their budget. Nothing to do on the heap.
    ///
    /// Errors: [`StateBackendError`].
    #[inline]
    pub(crate) fn maintain(&mut self) -> Result<(), StateBackendError> {
        if self.lsm.is_none() {
            return Ok(());
        }
        for (_, t) in &mut self.tables {
            t.maintain()?;
        }
        Ok(())
    }

    /// The key groups this subtask owns.
    pub fn key_groups(&self) -> KeyGroupRange {
        self.range
    }

    /// The table of state `name` holding `X` per key, created on first use:
    /// on the heap, or on disk with `embedded-lsm` unless `heap` (tables the
    /// operator reaches through [`group_mut`](Self::group_mut)).
    fn register_table<X: Serialize + DeserializeOwned + 'static>(&mut self, name: &str, heap: bool) -> usize {
        if let Some(i) = self.tables.iter().position(|(n, t)| {
            n == name && (t.as_any().is::<KeyGroupedMap<K, X>>() || t.as_any().is::<DiskTable<K, X>>())
        }) {
            return i;
        }
        let table: Box<dyn StateTable> = match (&mut self.lsm, heap) {
            (Some(store), false) => match DiskTable::<K, X>::open(store, name, self.range, 0) {
                Ok(t) => Box::new(t),
                Err(e) => {
                    // Reported by `opened`, before the operator runs.
                    self.failed.get_or_insert(e);
                    Box::new(KeyGroupedMap::<K, X>::new(self.range))
                }
            },
            _ => Box::new(KeyGroupedMap::<K, X>::new(self.range)),
        };
        self.tables.push((name.to_string(), table));
        self.tables.len() - 1
    }

    /// A heap table of state `name` (whatever the backend), for operators
    /// that work on the key group's map (windows).
    pub(crate) fn register<X: Serialize + DeserializeOwned + 'static>(&mut self, name: &str) -> usize {
        self.register_table::<X>(name, true)
    }

    fn register_state<X: Serialize + DeserializeOwned + 'static>(&mut self, name: &str) -> usize {
        self.register_table::<X>(name, false)
    }

    /// Registers (or finds) a value state named `name` holding one `V` per key.
    pub fn value_state<V: Record>(&mut self, name: &str) -> ValueState<V> {
        ValueState { table: self.register_state::<V>(name), _value: PhantomData }
    }

    /// Registers (or finds) a list state named `name` holding a list of `V` per key.
    pub fn list_state<V: Record>(&mut self, name: &str) -> ListState<V> {
        ListState { table: self.register_state::<Vec<V>>(name), _value: PhantomData }
    }

    /// Registers (or finds) a map state named `name` holding a map `UK → UV` per key.
    pub fn map_state<UK: Record + Hash + Eq, UV: Record>(&mut self, name: &str) -> MapState<UK, UV> {
        MapState { table: self.register_state::<FxHashMap<UK, UV>>(name), _types: PhantomData }
    }

    /// Registers (or finds) a reducing state named `name`: one `V` per key,
    /// folded with `reduce` on every add.
    pub fn reducing_state<V: Record, F: Fn(V, V) -> V>(&mut self, name: &str, reduce: F) -> ReducingState<V, F> {
        ReducingState { table: self.register_state::<V>(name), reduce, _value: PhantomData }
    }

    pub(crate) fn group_mut<X: 'static>(&mut self, table: usize, index: usize) -> Option<&mut FxHashMap<K, X>> {
        self.tables
            .get_mut(table)
            .and_then(|(_, t)| t.as_any_mut().downcast_mut::<KeyGroupedMap<K, X>>())
            .map(|m| m.group_mut(index))
    }

    /// The value of `key` (key group at `index` of the range) in `table`;
    /// on disk loaded into the cache.
    #[inline]
    pub(crate) fn get<X: Serialize + DeserializeOwned + 'static>(
        &mut self,
        table: usize,
        index: usize,
        key: &K,
    ) -> Option<&X> {
        let t = self.tables.get_mut(table)?.1.as_any_mut();
        if t.is::<KeyGroupedMap<K, X>>() {
            return t.downcast_mut::<KeyGroupedMap<K, X>>()?.group(index).get(key);
        }
        t.downcast_mut::<DiskTable<K, X>>()?.get(index, key)
    }

    /// As [`get`](Self::get), to change in place.
    #[inline]
    pub(crate) fn get_mut<X: Serialize + DeserializeOwned + 'static>(
        &mut self,
        table: usize,
        index: usize,
        key: &K,
    ) -> Option<&mut X> {
        let t = self.tables.get_mut(table)?.1.as_any_mut();
        if t.is::<KeyGroupedMap<K, X>>() {
            return t.downcast_mut::<KeyGroupedMap<K, X>>()?.group_mut(index).get_mut(key);
        }
        t.downcast_mut::<DiskTable<K, X>>()?.get_mut(index, key)
    }

    /// Sets `key`'s value in `table`.
    #[inline]
    pub(crate) fn insert<X: Serialize + DeserializeOwned + 'static>(
        &mut self,
        table: usize,
        index: usize,
        key: &K,
        value: X,
    ) {
        let Some((_, t)) = self.tables.get_mut(table) else { return };
        let t = t.as_any_mut();
        if let Some(m) = t.downcast_mut::<KeyGroupedMap<K, X>>() {
            m.group_mut(index).insert(key.clone(), value);
        } else if let Some(d) = t.downcast_mut::<DiskTable<K, X>>() {
            d.insert(index, key, value);
        }
    }

    /// Removes `key`'s value from `table`, returning it.
    #[inline]
    pub(crate) fn remove<X: Serialize + DeserializeOwned + 'static>(
        &mut self,
        table: usize,
        index: usize,
        key: &K,
    ) -> Option<X> {
        let t = self.tables.get_mut(table)?.1.as_any_mut();
        if t.is::<KeyGroupedMap<K, X>>() {
            return t.downcast_mut::<KeyGroupedMap<K, X>>()?.group_mut(index).remove(key);
        }
        t.downcast_mut::<DiskTable<K, X>>()?.remove(index, key)
    }

    /// At checkpoint barrier `checkpoint_id`: hands this store's key groups
    /// to the task's checkpoint as operator `uid`'s state, or declines the
    /// checkpoint naming the operator when a key or value cannot be
    /// serialized. The one snapshot path of every keyed operator with timers.
    pub(crate) fn snapshot_into(&mut self, cp: &TaskCheckpointing, uid: &str, checkpoint_id: u64) {
        let range = self.key_groups();
        match self.snapshot() {
            Ok(keyed) => cp.add_snapshot(
                uid,
                OperatorSnapshot { key_groups: Some((range.first, range.last)), keyed, operator: Vec::new() },
            ),
            Err(e) => cp.decline(checkpoint_id, format!("{uid}: {e}")),
        }
    }

    /// Serializes every non-empty key group: per key group, the images of
    /// every state table with entries in it, by state name.
    ///
    /// Errors: a key or value that cannot be serialized.
    pub(crate) fn snapshot(&mut self) -> Result<Vec<(u32, Vec<u8>)>, CheckpointError> {
        for (_, t) in &mut self.tables {
            t.flush()?;
        }
        let mut out = Vec::new();
        for i in 0..self.range.len() {
            let mut tables: Vec<(&str, Blob)> = Vec::new();
            for (name, t) in &self.tables {
                if let Some(img) = t.snapshot_group(i)? {
                    tables.push((name, Blob(img)));
                }
            }
            for (name, t) in
                [(EVENT_TIMERS, &self.timers.event.by_key), (PROCESSING_TIMERS, &self.timers.processing.by_key)]
            {
                if let Some(img) = t.snapshot_group(i)? {
                    tables.push((name, Blob(img)));
                }
            }
            if !tables.is_empty() {
                let img = postcard::to_allocvec(&tables).map_err(|e| CheckpointError::Encode(e.to_string()))?;
                out.push((self.range.first + i as u32, img));
            }
        }
        Ok(out)
    }

    /// Adds the state of key group `kg` from its snapshot image (states must
    /// be registered first, in `open`).
    ///
    /// Errors: undecodable bytes, or a state the function no longer
    /// registers; `what` names the file.
    pub(crate) fn restore_group(&mut self, kg: u32, bytes: &[u8], what: &str) -> Result<(), CheckpointError> {
        let tables: Vec<(String, Blob)> = postcard::from_bytes(bytes)
            .map_err(|e| CheckpointError::Corrupt { path: what.to_string(), reason: format!("key group {kg}: {e}") })?;
        for (name, img) in tables {
            if self.timers.restore_table(&name, kg, &img.0, what)? {
                continue;
            }
            let t = self.tables.iter_mut().find(|(n, _)| *n == name).ok_or_else(|| CheckpointError::Corrupt {
                path: what.to_string(),
                reason: format!("holds keyed state '{name}' that the function does not register"),
            })?;
            t.1.restore_group(kg, &img.0, what)?;
        }
        Ok(())
    }
}

/// A handle to one value per key (Flink's `ValueState`).
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

impl<V: Record> ValueState<V> {
    /// The current key's value, if one was set.
    pub fn value<K: Hash + Eq + Record>(&self, ctx: &mut KeyedContext<'_, K>) -> Option<V> {
        ctx.state.get::<V>(self.table, ctx.kg, ctx.key).cloned()
    }

    /// Sets the current key's value.
    pub fn update<K: Hash + Eq + Record>(&self, ctx: &mut KeyedContext<'_, K>, value: V) {
        ctx.state.insert(self.table, ctx.kg, ctx.key, value);
    }

    /// Removes the current key's value.
    pub fn clear<K: Hash + Eq + Record>(&self, ctx: &mut KeyedContext<'_, K>) {
        ctx.state.remove::<V>(self.table, ctx.kg, ctx.key);
    }
}

/// A handle to a list of values per key (Flink's `ListState`).
#[derive(Debug)]
pub struct ListState<V> {
    table: usize,
    _value: PhantomData<fn() -> V>,
}

impl<V> Clone for ListState<V> {
    fn clone(&self) -> Self {
        ListState { table: self.table, _value: PhantomData }
    }
}

impl<V: Record> ListState<V> {
    /// The current key's list (empty if none).
    pub fn get<'c, K: Hash + Eq + Record>(&self, ctx: &'c mut KeyedContext<'_, K>) -> &'c [V] {
        ctx.state.get::<Vec<V>>(self.table, ctx.kg, ctx.key).map(|v| v.as_slice()).unwrap_or(&[])
    }

    /// Appends `value` to the current key's list.
    pub fn add<K: Hash + Eq + Record>(&self, ctx: &mut KeyedContext<'_, K>, value: V) {
        if let Some(list) = ctx.state.get_mut::<Vec<V>>(self.table, ctx.kg, ctx.key) {
            list.push(value);
        } else {
            ctx.state.insert(self.table, ctx.kg, ctx.key, vec![value]);
        }
    }

    /// Replaces the current key's list.
    pub fn update<K: Hash + Eq + Record>(&self, ctx: &mut KeyedContext<'_, K>, values: Vec<V>) {
        ctx.state.insert(self.table, ctx.kg, ctx.key, values);
    }

    /// Removes the current key's list.
    pub fn clear<K: Hash + Eq + Record>(&self, ctx: &mut KeyedContext<'_, K>) {
        ctx.state.remove::<Vec<V>>(self.table, ctx.kg, ctx.key);
    }
}

/// A handle to a map `UK → UV` per key (Flink's `MapState`). On disk a key's
/// whole map is one stored value (read and written whole; Flink's RocksDB
/// backend stores an entry per user key).
#[derive(Debug)]
pub struct MapState<UK, UV> {
    table: usize,
    _types: PhantomData<fn() -> (UK, UV)>,
}

impl<UK, UV> Clone for MapState<UK, UV> {
    fn clone(&self) -> Self {
        MapState { table: self.table, _types: PhantomData }
    }
}

impl<UK: Record + Hash + Eq, UV: Record> MapState<UK, UV> {
    /// The value under `user_key` of the current key's map.
    pub fn get<'c, K: Hash + Eq + Record>(&self, ctx: &'c mut KeyedContext<'_, K>, user_key: &UK) -> Option<&'c UV> {
        ctx.state.get::<FxHashMap<UK, UV>>(self.table, ctx.kg, ctx.key).and_then(|m| m.get(user_key))
    }

    /// Puts `user_key → value` into the current key's map.
    pub fn put<K: Hash + Eq + Record>(&self, ctx: &mut KeyedContext<'_, K>, user_key: UK, value: UV) {
        if let Some(m) = ctx.state.get_mut::<FxHashMap<UK, UV>>(self.table, ctx.kg, ctx.key) {
            m.insert(user_key, value);
        } else {
            let mut m = FxHashMap::default();
            m.insert(user_key, value);
            ctx.state.insert(self.table, ctx.kg, ctx.key, m);
        }
    }

    /// Removes `user_key` from the current key's map.
    pub fn remove<K: Hash + Eq + Record>(&self, ctx: &mut KeyedContext<'_, K>, user_key: &UK) -> Option<UV> {
        ctx.state.get_mut::<FxHashMap<UK, UV>>(self.table, ctx.kg, ctx.key).and_then(|m| m.remove(user_key))
    }

    /// Every entry of the current key's map (unordered).
    pub fn entries<'c, K: Hash + Eq + Record>(
        &self,
        ctx: &'c mut KeyedContext<'_, K>,
    ) -> impl Iterator<Item = (&'c UK, &'c UV)> {
        ctx.state.get::<FxHashMap<UK, UV>>(self.table, ctx.kg, ctx.key).into_iter().flat_map(|m| m.iter())
    }

    /// Removes the current key's whole map.
    pub fn clear<K: Hash + Eq + Record>(&self, ctx: &mut KeyedContext<'_, K>) {
        ctx.state.remove::<FxHashMap<UK, UV>>(self.table, ctx.kg, ctx.key);
    }
}

/// A handle to one value per key folded with a reduce function on every
/// add (Flink's `ReducingState`).
pub struct ReducingState<V, F> {
    table: usize,
    reduce: F,
    _value: PhantomData<fn() -> V>,
}

impl<V, F: Clone> Clone for ReducingState<V, F> {
    fn clone(&self) -> Self {
        ReducingState { table: self.table, reduce: self.reduce.clone(), _value: PhantomData }
    }
}

impl<V: Record, F: Fn(V, V) -> V> ReducingState<V, F> {
    /// The current key's folded value, if any was added.
    pub fn get<'c, K: Hash + Eq + Record>(&self, ctx: &'c mut KeyedContext<'_, K>) -> Option<&'c V> {
        ctx.state.get::<V>(self.table, ctx.kg, ctx.key)
    }

    /// Folds `value` into the current key's value.
    pub fn add<K: Hash + Eq + Record>(&self, ctx: &mut KeyedContext<'_, K>, value: V) {
        let folded = match ctx.state.remove::<V>(self.table, ctx.kg, ctx.key) {
            Some(old) => (self.reduce)(old, value),
            None => value,
        };
        ctx.state.insert(self.table, ctx.kg, ctx.key, folded);
    }

    /// Removes the current key's value.
    pub fn clear<K: Hash + Eq + Record>(&self, ctx: &mut KeyedContext<'_, K>) {
        ctx.state.remove::<V>(self.table, ctx.kg, ctx.key);
    }
}

/// What a keyed function sees of the current record (or firing timer): its
/// key, timestamp, the keyed state and the timer service (Flink's
/// `KeyedProcessFunction.Context` and `OnTimerContext`).
pub struct KeyedContext<'a, K> {
    pub(crate) key: &'a K,
    /// Index of the key's key group within the subtask's range.
    pub(crate) kg: usize,
    pub(crate) state: &'a mut KeyedStateStore<K>,
    timestamp: i64,
    domain: Option<TimeDomain>,
    side: Option<&'a mut SideOutputs>,
}

impl<'a, K> KeyedContext<'a, K> {
    pub(crate) fn new(
        key: &'a K,
        kg: usize,
        state: &'a mut KeyedStateStore<K>,
        timestamp: i64,
        domain: Option<TimeDomain>,
    ) -> Self {
        KeyedContext { key, kg, state, timestamp, domain, side: None }
    }

    pub(crate) fn with_side_outputs(mut self, side: &'a mut SideOutputs) -> Self {
        self.side = Some(side);
        self
    }

    /// Emits `value` to the side output `tag` (Flink's `ctx.output`), with
    /// the current record's timestamp.
    pub fn output<S: Record>(&mut self, tag: &OutputTag<S>, value: S) {
        if let Some(side) = self.side.as_deref_mut() {
            side.emit(tag, value, self.timestamp);
        }
    }

    /// The key of the record being processed (or of the firing timer).
    pub fn current_key(&self) -> &K {
        self.key
    }

    /// The event-time timestamp of the record being processed (ms), `None`
    /// if it has none; in `on_timer`, the timer's time.
    pub fn timestamp(&self) -> Option<i64> {
        (self.timestamp != NO_TIMESTAMP).then_some(self.timestamp)
    }

    /// In `on_timer`: whether an event-time or processing-time timer fired;
    /// `None` in `process_element`.
    pub fn time_domain(&self) -> Option<TimeDomain> {
        self.domain
    }
}

impl<K: Hash + Eq + Record> KeyedContext<'_, K> {
    /// The timer service for the current key (Flink's `ctx.timerService()`).
    pub fn timer_service(&mut self) -> TimerService<'_, K> {
        TimerService { key: self.key, kg: self.kg, state: &mut *self.state }
    }
}

/// Registers and deletes timers for the current key, and tells the time
/// (Flink's `TimerService`). Timers are keyed state: a checkpoint saves
/// them, and a restore (also at another parallelism) brings each back on
/// the subtask owning its key. Registering the same time twice for a key
/// makes one timer.
pub struct TimerService<'c, K> {
    key: &'c K,
    kg: usize,
    state: &'c mut KeyedStateStore<K>,
}

impl<K: Hash + Eq + Record> TimerService<'_, K> {
    /// The operator's current event time: the last watermark it received (ms).
    pub fn current_watermark(&self) -> i64 {
        self.state.timers.watermark
    }

    /// Wall-clock time now, ms since the Unix epoch.
    pub fn current_processing_time(&self) -> i64 {
        now_ms()
    }

    /// Calls `on_timer` for the current key once the watermark reaches `time_ms`.
    pub fn register_event_time_timer(&mut self, time_ms: i64) {
        self.state.timers.register(TimeDomain::EventTime, self.key, self.kg, time_ms)
    }

    /// Calls `on_timer` for the current key once the wall clock reaches `time_ms`.
    pub fn register_processing_time_timer(&mut self, time_ms: i64) {
        self.state.timers.register(TimeDomain::ProcessingTime, self.key, self.kg, time_ms)
    }

    /// Deletes the current key's event-time timer at `time_ms`, if any.
    pub fn delete_event_time_timer(&mut self, time_ms: i64) {
        self.state.timers.delete(TimeDomain::EventTime, self.key, self.kg, time_ms)
    }

    /// Deletes the current key's processing-time timer at `time_ms`, if any.
    pub fn delete_processing_time_timer(&mut self, time_ms: i64) {
        self.state.timers.delete(TimeDomain::ProcessingTime, self.key, self.kg, time_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::KeyedContext;

    fn with_key<R>(
        store: &mut KeyedStateStore<String>,
        key: &str,
        f: impl FnOnce(&mut KeyedContext<'_, String>) -> R,
    ) -> R {
        let key = key.to_string();
        let kg = store.key_groups().index_of(&key);
        let mut ctx = KeyedContext::new(&key, kg, store, crate::event::NO_TIMESTAMP, None);
        f(&mut ctx)
    }

    /// Every state kind survives a snapshot and a restore split over three
    /// subtasks; each key's state lands in the subtask owning its key group.
    #[test]
    fn every_state_kind_restores_at_another_parallelism() {
        let max = 128;
        let mut store: KeyedStateStore<String> = KeyedStateStore::new(KeyGroupRange::of_subtask(max, 1, 0));
        let value = store.value_state::<u64>("v");
        let list = store.list_state::<String>("l");
        let map = store.map_state::<u32, String>("m");
        let sum = store.reducing_state("r", |a: u64, b: u64| a + b);
        let keys: Vec<String> = (0..300).map(|i| format!("k{i}")).collect();
        for (i, k) in keys.iter().enumerate() {
            with_key(&mut store, k, |c| {
                value.update(c, i as u64);
                list.add(c, format!("a{i}"));
                list.add(c, format!("b{i}"));
                map.put(c, i as u32, k.clone());
                sum.add(c, 2);
                sum.add(c, i as u64);
            });
        }
        let snap = store.snapshot().unwrap();
        let mut found = 0;
        for sub in 0..3 {
            let mut s: KeyedStateStore<String> = KeyedStateStore::new(KeyGroupRange::of_subtask(max, 3, sub));
            let (value, list, map) =
                (s.value_state::<u64>("v"), s.list_state::<String>("l"), s.map_state::<u32, String>("m"));
            let sum = s.reducing_state("r", |a: u64, b: u64| a + b);
            for (kg, bytes) in &snap {
                if s.key_groups().contains(*kg) {
                    s.restore_group(*kg, bytes, "test").unwrap();
                }
            }
            for (i, k) in keys.iter().enumerate() {
                let owned =
                    s.key_groups().contains(crate::keygroup::key_group_for_hash(crate::keygroup::key_hash(k), max));
                with_key(&mut s, k, |c| {
                    if !owned {
                        assert_eq!(value.value(c), None);
                        return;
                    }
                    found += 1;
                    assert_eq!(value.value(c), Some(i as u64));
                    assert_eq!(list.get(c), &[format!("a{i}"), format!("b{i}")]);
                    assert_eq!(map.get(c, &(i as u32)), Some(k));
                    assert_eq!(sum.get(c), Some(&(2 + i as u64)));
                });
            }
        }
        assert_eq!(found, keys.len());
    }

    #[test]
    fn a_state_the_function_no_longer_registers_is_an_error_naming_the_file() {
        let range = KeyGroupRange::of_subtask(128, 1, 0);
        let mut store: KeyedStateStore<String> = KeyedStateStore::new(range);
        let v = store.value_state::<u64>("old");
        with_key(&mut store, "x", |c| v.update(c, 1));
        let snap = store.snapshot().unwrap();
        let mut other: KeyedStateStore<String> = KeyedStateStore::new(range);
        let _ = other.value_state::<u64>("new");
        let e = other.restore_group(snap[0].0, &snap[0].1, "/ck/chk-1/op-0").unwrap_err().to_string();
        assert!(e.contains("/ck/chk-1/op-0") && e.contains("'old'"), "{e}");
        // Garbage is an error too, never a panic.
        assert!(other.restore_group(snap[0].0, &[0xff, 0xff, 0x01], "/f").is_err());
    }
}
