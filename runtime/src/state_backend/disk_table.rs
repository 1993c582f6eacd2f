//! One registered state of the embedded-LSM backend: `K → X` stored
//! serialized in its keyspace under `key group (BE u16) ++ postcard(K)`, with
//! a write-back cache of objects in front of it.
//!
//! The cache is what lets the state API hand out borrowed values: a read
//! loads the current key's value into the cache (so reads take the context
//! `&mut`); writes change the cached object and mark it dirty. Between
//! batches ([`DiskTable::maintain`]) a cache grown past its share of managed
//! memory is written back in one write batch and emptied; a snapshot writes
//! back first, then scans the store key group by key group.
//!
//! Engine errors met inside a record's call (which returns no `Result`) are
//! kept and returned by the next [`DiskTable::maintain`], which the operator
//! calls before it emits the batch's output: the task fails with the error
//! and restarts from its checkpoint; nothing computed from the failed read
//! leaves the operator.

use std::hash::Hash;

use fjall::{Database, Keyspace};
use rustc_hash::FxHashMap;
use serde::{de::DeserializeOwned, Serialize};

use super::lsm::{self, group_prefix, LsmStore, KEY_GROUP_PREFIX};
use super::StateBackendError;
use crate::checkpoint::{CheckpointError, KeyGroupRange};

/// Initial guess of an entry's serialized size, bytes, until a write-back measures it.
const INITIAL_ENTRY_BYTES: usize = 256;
/// The cache holds at least this many entries whatever the budget.
const MIN_CACHED: usize = 1024;

struct Slot<X> {
    /// Absolute key group of the key.
    kg: u32,
    /// `None`: the key has no value (never had, or removed: written back as a delete).
    value: Option<X>,
    dirty: bool,
}

/// `K → X` on disk behind a write-back object cache (see the module doc).
pub struct DiskTable<K, X> {
    state: String,
    dir: String,
    db: Database,
    ks: Keyspace,
    range: KeyGroupRange,
    cache: FxHashMap<K, Slot<X>>,
    cache_bytes: usize,
    cache_limit: usize,
    scratch: Vec<u8>,
    error: Option<StateBackendError>,
}

impl<K, X> DiskTable<K, X>
where
    K: Hash + Eq + Clone + Serialize + DeserializeOwned,
    X: Serialize + DeserializeOwned,
{
    /// A table for state `state` in a new keyspace of `store`, for the key
    /// groups of `range`; its cache gets `cache_bytes` (serialized) bytes.
    ///
    /// Errors: [`StateBackendError::Engine`] creating the keyspace.
    pub fn open(
        store: &mut LsmStore,
        state: &str,
        range: KeyGroupRange,
        cache_bytes: u64,
    ) -> Result<Self, StateBackendError> {
        let ks = store.keyspace(state)?;
        let cache_bytes = cache_bytes as usize;
        Ok(DiskTable {
            state: state.to_string(),
            dir: store.dir().display().to_string(),
            db: store.database().clone(),
            ks,
            range,
            cache: FxHashMap::default(),
            cache_bytes,
            cache_limit: (cache_bytes / INITIAL_ENTRY_BYTES).max(MIN_CACHED),
            scratch: Vec::new(),
            error: None,
        })
    }

    fn engine(&self, what: &str, source: fjall::Error) -> StateBackendError {
        StateBackendError::Engine { dir: self.dir.clone(), what: format!("{what} of state '{}'", self.state), source }
    }

    fn decode_err(&self, e: postcard::Error) -> StateBackendError {
        StateBackendError::Decode { state: self.state.clone(), reason: e.to_string() }
    }

    fn encode_key(&mut self, kg: u32, key: &K) -> Result<(), StateBackendError> {
        self.scratch.clear();
        self.scratch.extend_from_slice(&group_prefix(kg));
        crate::record::encode_into(key, &mut self.scratch)
            .map_err(|e| StateBackendError::Encode { state: self.state.clone(), reason: e.to_string() })
    }

    /// Reads `key` of key group `kg` from the store.
    fn read(&mut self, kg: u32, key: &K) -> Result<Option<X>, StateBackendError> {
        self.encode_key(kg, key)?;
        match self.ks.get(&self.scratch) {
            Ok(None) => Ok(None),
            Ok(Some(bytes)) => postcard::from_bytes(&bytes).map(Some).map_err(|e| self.decode_err(e)),
            Err(e) => Err(self.engine("reading", e)),
        }
    }

    /// The cached slot of `key` (key group at `index` of the range), loaded
    /// from the store on a miss. A failed load keeps the error for
    /// [`maintain`](Self::maintain) and caches no value.
    fn slot(&mut self, index: usize, key: &K) -> Option<&mut Slot<X>> {
        if !self.cache.contains_key(key) {
            let kg = self.range.first + (index.min(self.range.len().saturating_sub(1))) as u32;
            let value = match self.read(kg, key) {
                Ok(v) => v,
                Err(e) => {
                    self.error.get_or_insert(e);
                    None
                }
            };
            self.cache.insert(key.clone(), Slot { kg, value, dirty: false });
        }
        self.cache.get_mut(key)
    }

    /// The value of `key` (key group at `index` of the range).
    pub fn get(&mut self, index: usize, key: &K) -> Option<&X> {
        self.slot(index, key).and_then(|s| s.value.as_ref())
    }

    /// The value of `key`, to change in place (marked for write-back).
    pub fn get_mut(&mut self, index: usize, key: &K) -> Option<&mut X> {
        let s = self.slot(index, key)?;
        s.dirty = true;
        s.value.as_mut()
    }

    /// Sets the value of `key`.
    pub fn insert(&mut self, index: usize, key: &K, value: X) {
        if let Some(s) = self.cache.get_mut(key) {
            s.value = Some(value);
            s.dirty = true;
            return;
        }
        let kg = self.range.first + (index.min(self.range.len().saturating_sub(1))) as u32;
        self.cache.insert(key.clone(), Slot { kg, value: Some(value), dirty: true });
    }

    /// Removes the value of `key`, returning it.
    pub fn remove(&mut self, index: usize, key: &K) -> Option<X> {
        let s = self.slot(index, key)?;
        let old = s.value.take();
        s.dirty |= old.is_some();
        old
    }

    /// Folds `value` into `key`'s value with `reduce` (or sets it), and
    /// returns the result (keyed reduce: one cache probe per record).
    pub fn fold(&mut self, index: usize, key: &K, value: X, reduce: impl FnOnce(X, X) -> X) -> Option<&X> {
        let s = self.slot(index, key)?;
        s.value = Some(match s.value.take() {
            Some(old) => reduce(old, value),
            None => value,
        });
        s.dirty = true;
        s.value.as_ref()
    }

    /// Between batches: returns an engine error met since the last call, and
    /// writes back and empties the cache once it outgrew its budget.
    ///
    /// Errors: [`StateBackendError`] from a read or the write-back.
    pub fn maintain(&mut self) -> Result<(), StateBackendError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if self.cache.len() > self.cache_limit {
            self.write_back(true)?;
        }
        Ok(())
    }

    /// Writes every dirty cached entry in one write batch (removed values as
    /// deletes); `evict` also empties the cache. Re-sizes the cache from the
    /// entries' measured size.
    ///
    /// Errors: [`StateBackendError`] encoding or writing.
    pub fn write_back(&mut self, evict: bool) -> Result<(), StateBackendError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let mut batch = self.db.batch();
        let (mut written, mut bytes) = (0usize, 0usize);
        let mut value_buf = Vec::new();
        let cache = std::mem::take(&mut self.cache);
        let mut kept = if evict {
            FxHashMap::default()
        } else {
            FxHashMap::with_capacity_and_hasher(cache.len(), Default::default())
        };
        for (key, mut slot) in cache {
            if slot.dirty {
                self.encode_key(slot.kg, &key)?;
                match &slot.value {
                    Some(v) => {
                        value_buf.clear();
                        crate::record::encode_into(v, &mut value_buf).map_err(|e| StateBackendError::Encode {
                            state: self.state.clone(),
                            reason: e.to_string(),
                        })?;
                        bytes += self.scratch.len() + value_buf.len();
                        written += 1;
                        batch.insert(&self.ks, self.scratch.as_slice(), value_buf.as_slice());
                    }
                    None => batch.remove(&self.ks, self.scratch.as_slice()),
                }
                slot.dirty = false;
            }
            if !evict {
                kept.insert(key, slot);
            }
        }
        self.cache = kept;
        batch.commit().map_err(|e| self.engine("writing back", e))?;
        if let Some(per_entry) = bytes.checked_div(written) {
            self.cache_limit = (self.cache_bytes / per_entry.max(16)).max(MIN_CACHED);
        }
        Ok(())
    }

    /// The canonical image of key group `kg` (postcard of its `(key,
    /// value)` pairs, as the heap backend writes it), `None` if it is empty.
    /// Write back first: the store is read as it is.
    ///
    /// Errors: [`StateBackendError::Engine`] reading.
    pub fn snapshot_group(&self, kg: u32) -> Result<Option<Vec<u8>>, StateBackendError> {
        // A sequence in postcard is a varint length and the elements; a
        // `(K, X)` tuple is K's bytes then X's: the stored bytes as they are.
        let mut body = Vec::new();
        let mut count = 0usize;
        lsm::scan_group(
            &self.ks,
            kg,
            |k, v| {
                body.extend_from_slice(k);
                body.extend_from_slice(v);
                count += 1;
                Ok(())
            },
            |e| self.engine("scanning", e),
        )?;
        if count == 0 {
            return Ok(None);
        }
        let mut img = postcard::to_allocvec(&count)
            .map_err(|e| StateBackendError::Encode { state: self.state.clone(), reason: e.to_string() })?;
        img.extend_from_slice(&body);
        Ok(Some(img))
    }

    /// Writes the entries of key group `kg` from its canonical image; key
    /// groups outside the range are ignored (another subtask owns them).
    ///
    /// Errors: undecodable bytes (naming `what`, the file) or the engine's.
    pub fn restore_group(&mut self, kg: u32, bytes: &[u8], what: &str) -> Result<(), CheckpointError> {
        if !self.range.contains(kg) {
            return Ok(());
        }
        let entries: Vec<(K, X)> = postcard::from_bytes(bytes)
            .map_err(|e| CheckpointError::Corrupt { path: what.to_string(), reason: format!("key group {kg}: {e}") })?;
        let mut batch = self.db.batch();
        let mut value_buf = Vec::new();
        for (k, v) in entries {
            self.encode_key(kg, &k)?;
            value_buf.clear();
            crate::record::encode_into(&v, &mut value_buf)
                .map_err(|e| CheckpointError::Encode(format!("state '{}': {e}", self.state)))?;
            batch.insert(&self.ks, self.scratch.as_slice(), value_buf.as_slice());
            self.cache.remove(&k);
        }
        batch.commit().map_err(|e| CheckpointError::from(self.engine("restoring", e)))
    }

    /// Calls `f` with every value, key group by key group, after writing
    /// back; then deletes them all (a BATCH reduce's final output).
    ///
    /// Errors: [`StateBackendError`] reading, decoding or deleting.
    pub fn drain_values(&mut self, mut f: impl FnMut(X)) -> Result<(), StateBackendError> {
        self.write_back(true)?;
        for kg in self.range.first..=self.range.last {
            let mut failed = None;
            lsm::scan_group(
                &self.ks,
                kg,
                |_, v| {
                    match postcard::from_bytes::<X>(v) {
                        Ok(x) => f(x),
                        Err(e) => failed = Some(e),
                    }
                    Ok(())
                },
                |e| self.engine("scanning", e),
            )?;
            if let Some(e) = failed {
                return Err(self.decode_err(e));
            }
        }
        self.delete_groups(self.range.first, self.range.last).map(|_| ())
    }

    /// Number of stored keys of key group `kg` (after a write-back).
    ///
    /// Errors: [`StateBackendError::Engine`] reading.
    pub fn count_group(&self, kg: u32) -> Result<usize, StateBackendError> {
        let mut n = 0;
        lsm::scan_group(
            &self.ks,
            kg,
            |_, _| {
                n += 1;
                Ok(())
            },
            |e| self.engine("scanning", e),
        )?;
        Ok(n)
    }

    /// Deletes the stored entries of key groups `first..=last` (and their
    /// cached ones) and returns how many stored entries went.
    ///
    /// Errors: [`StateBackendError::Engine`].
    pub fn delete_groups(&mut self, first: u32, last: u32) -> Result<usize, StateBackendError> {
        self.cache.retain(|_, s| s.kg < first || s.kg > last);
        lsm::delete_groups(&self.db, &self.ks, first, last).map_err(|e| self.engine("deleting key groups", e))
    }

    /// The key groups it covers.
    pub fn range(&self) -> KeyGroupRange {
        self.range
    }

    /// Sets the cache's budget: `bytes` of entries (as serialized).
    pub fn set_cache_budget(&mut self, bytes: u64) {
        self.cache_bytes = bytes as usize;
        self.cache_limit = (self.cache_bytes / INITIAL_ENTRY_BYTES).max(MIN_CACHED);
    }

    /// The number of cached entries (for tests and metrics).
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// The key prefix length of stored keys, bytes.
    pub const PREFIX: usize = KEY_GROUP_PREFIX;
}
