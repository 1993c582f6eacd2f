//! Broadcast state (Flink's `BroadcastState`): named maps `K → V` that every
//! subtask of a broadcast operator holds in full. Only the broadcast side
//! writes them, so (with aligned checkpoints) every subtask's copy is the
//! same at a barrier: each subtask snapshots its copy as operator state, and
//! a restore, at any parallelism, gives each new subtask one old copy
//! ([`TaskCheckpointing::restored_operator_copy`](crate::checkpoint::TaskCheckpointing::restored_operator_copy)).

use std::any::Any;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::checkpoint::blobs::Blob;
use crate::checkpoint::CheckpointError;
use crate::error::TaskError;
use crate::record::Record;

/// Names a broadcast state and its key and value types (Flink's
/// `MapStateDescriptor`, as passed to `broadcast(...)`). A `const` fits:
///
/// ```
/// use rfy_runtime::api::MapStateDescriptor;
/// const RULES: MapStateDescriptor<String, u64> = MapStateDescriptor::new("rules");
/// assert_eq!(RULES.name(), "rules");
/// ```
pub struct MapStateDescriptor<K, V> {
    name: &'static str,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> MapStateDescriptor<K, V> {
    /// A descriptor of the broadcast state `name` (unique per operator; it
    /// names the state in checkpoints).
    pub const fn new(name: &'static str) -> Self {
        MapStateDescriptor { name, _types: PhantomData }
    }

    /// The state's name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl<K, V> Clone for MapStateDescriptor<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K, V> Copy for MapStateDescriptor<K, V> {}

/// One broadcast state's map, type-erased for snapshots.
pub(crate) trait BroadcastTable: Any {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn encode(&self) -> Result<Vec<u8>, CheckpointError>;
    /// Replaces the map by the one `bytes` encode; `what` names the file.
    fn restore(&mut self, bytes: &[u8], what: &str) -> Result<(), CheckpointError>;
}

impl<K: Record + Hash + Eq, V: Record> BroadcastTable for FxHashMap<K, V> {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn encode(&self) -> Result<Vec<u8>, CheckpointError> {
        let entries: Vec<(&K, &V)> = self.iter().collect();
        postcard::to_allocvec(&entries).map_err(|e| CheckpointError::Encode(e.to_string()))
    }
    fn restore(&mut self, bytes: &[u8], what: &str) -> Result<(), CheckpointError> {
        let entries: Vec<(K, V)> = postcard::from_bytes(bytes).map_err(|e| CheckpointError::Corrupt {
            path: what.to_string(),
            reason: format!("broadcast state: {e}"),
        })?;
        self.clear();
        self.extend(entries);
        Ok(())
    }
}

/// Makes an empty table of a declared state's types.
pub(crate) type TableFactory = Arc<dyn Fn() -> Box<dyn BroadcastTable> + Send + Sync>;

/// The declared broadcast states of a broadcast stream: `(name, factory)`.
pub(crate) type Declarations = Vec<(&'static str, TableFactory)>;

/// The declaration of the state `d` describes.
pub(crate) fn declare<K: Record + Hash + Eq, V: Record>(d: &MapStateDescriptor<K, V>) -> (&'static str, TableFactory) {
    (d.name, Arc::new(|| Box::new(FxHashMap::<K, V>::default()) as Box<dyn BroadcastTable>))
}

/// The broadcast states of one operator subtask.
pub(crate) struct BroadcastStateStore {
    tables: Vec<(&'static str, Box<dyn BroadcastTable>)>,
}

impl BroadcastStateStore {
    /// Empty states, one per declaration.
    pub(crate) fn new(declared: &Declarations) -> Self {
        BroadcastStateStore { tables: declared.iter().map(|(name, make)| (*name, make())).collect() }
    }

    fn find(&self, name: &str) -> Result<usize, TaskError> {
        self.tables.iter().position(|(n, _)| *n == name).ok_or_else(|| {
            TaskError::User(format!(
                "broadcast state '{name}' is not declared on the broadcast stream (declare it with broadcast_with)"
            ))
        })
    }

    fn mismatch<K, V>(name: &str) -> TaskError {
        TaskError::User(format!(
            "broadcast state '{name}' is declared with other types than {} → {}",
            std::any::type_name::<K>(),
            std::any::type_name::<V>()
        ))
    }

    pub(crate) fn table<K: 'static, V: 'static>(
        &self,
        d: &MapStateDescriptor<K, V>,
    ) -> Result<&FxHashMap<K, V>, TaskError> {
        let i = self.find(d.name)?;
        self.tables[i].1.as_any().downcast_ref().ok_or_else(|| Self::mismatch::<K, V>(d.name))
    }

    pub(crate) fn table_mut<K: 'static, V: 'static>(
        &mut self,
        d: &MapStateDescriptor<K, V>,
    ) -> Result<&mut FxHashMap<K, V>, TaskError> {
        let i = self.find(d.name)?;
        self.tables[i].1.as_any_mut().downcast_mut().ok_or_else(|| Self::mismatch::<K, V>(d.name))
    }

    /// Operator state items: one `(name, map image)` per state.
    ///
    /// Errors: a key or value that cannot be serialized.
    pub(crate) fn snapshot(&self) -> Result<Vec<Vec<u8>>, CheckpointError> {
        self.tables
            .iter()
            .map(|(name, t)| {
                postcard::to_allocvec(&(name, Blob(t.encode()?))).map_err(|e| CheckpointError::Encode(e.to_string()))
            })
            .collect()
    }

    /// Restores the states from the items of [`snapshot`](Self::snapshot).
    ///
    /// Errors: undecodable items, or a state the stream no longer declares;
    /// `what` names the file.
    pub(crate) fn restore(&mut self, items: &[Vec<u8>], what: &str) -> Result<(), CheckpointError> {
        for item in items {
            let (name, img): (String, Blob) = postcard::from_bytes(item).map_err(|e| CheckpointError::Corrupt {
                path: what.to_string(),
                reason: format!("broadcast state item: {e}"),
            })?;
            let t = self.tables.iter_mut().find(|(n, _)| *n == name).ok_or_else(|| CheckpointError::Corrupt {
                path: what.to_string(),
                reason: format!("holds broadcast state '{name}' that the broadcast stream does not declare"),
            })?;
            t.1.restore(&img.0, what)?;
        }
        Ok(())
    }
}

/// Read access to one broadcast state (Flink's `ReadOnlyBroadcastState`),
/// as the non-broadcast side sees it.
pub struct ReadOnlyBroadcastState<'a, K, V> {
    pub(crate) map: &'a FxHashMap<K, V>,
}

impl<'a, K: Hash + Eq, V> ReadOnlyBroadcastState<'a, K, V> {
    /// The value under `key`.
    pub fn get(&self, key: &K) -> Option<&'a V> {
        self.map.get(key)
    }
    /// True if `key` has a value.
    pub fn contains(&self, key: &K) -> bool {
        self.map.contains_key(key)
    }
    /// Every entry, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = (&'a K, &'a V)> {
        self.map.iter()
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// True if the state has no entry.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Read and write access to one broadcast state (Flink's `BroadcastState`),
/// as the broadcast side sees it.
pub struct BroadcastState<'a, K, V> {
    pub(crate) map: &'a mut FxHashMap<K, V>,
}

impl<K: Hash + Eq, V> BroadcastState<'_, K, V> {
    /// The value under `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key)
    }
    /// True if `key` has a value.
    pub fn contains(&self, key: &K) -> bool {
        self.map.contains_key(key)
    }
    /// Puts `key → value`, returning the value it replaces.
    pub fn put(&mut self, key: K, value: V) -> Option<V> {
        self.map.insert(key, value)
    }
    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.map.remove(key)
    }
    /// Removes every entry.
    pub fn clear(&mut self) {
        self.map.clear()
    }
    /// Every entry, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = (&K, &V)> {
        self.map.iter()
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// True if the state has no entry.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: MapStateDescriptor<String, u64> = MapStateDescriptor::new("rules");
    const OTHER: MapStateDescriptor<u32, String> = MapStateDescriptor::new("other");

    #[test]
    fn states_survive_a_snapshot_and_unknown_or_mistyped_ones_are_errors() {
        let declared = vec![declare(&RULES), declare(&OTHER)];
        let mut store = BroadcastStateStore::new(&declared);
        store.table_mut(&RULES).unwrap().insert("hot".into(), 90);
        store.table_mut(&OTHER).unwrap().insert(7, "x".into());
        let items = store.snapshot().unwrap();
        assert_eq!(items.len(), 2);

        let mut back = BroadcastStateStore::new(&declared);
        back.restore(&items, "/ck/chk-3/rules-0").unwrap();
        assert_eq!(back.table(&RULES).unwrap().get("hot"), Some(&90));
        assert_eq!(back.table(&OTHER).unwrap().get(&7).map(String::as_str), Some("x"));

        const MISTYPED: MapStateDescriptor<String, String> = MapStateDescriptor::new("rules");
        let e = back.table(&MISTYPED).unwrap_err().to_string();
        assert!(e.contains("'rules'") && e.contains("other types"), "{e}");
        const UNDECLARED: MapStateDescriptor<String, u64> = MapStateDescriptor::new("nope");
        assert!(back.table(&UNDECLARED).unwrap_err().to_string().contains("'nope' is not declared"));

        // A checkpoint holding a state the stream no longer declares names the file and the state.
        let mut fewer = BroadcastStateStore::new(&vec![declare(&RULES)]);
        let e = fewer.restore(&items, "/ck/chk-3/rules-0").unwrap_err().to_string();
        assert!(e.contains("/ck/chk-3/rules-0") && e.contains("'other'"), "{e}");
        // Garbage is an error, never a panic.
        assert!(fewer.restore(&[vec![0xff, 0xff, 0x01]], "/f").is_err());
    }
}
