//! The heap keyed-state backend's table: one hash map per key group of the
//! subtask's key-group range, so a snapshot writes each key group on its own
//! and a restore at another parallelism takes just the key groups it owns.

use std::hash::Hash;

use rustc_hash::FxHashMap;
use serde::{de::DeserializeOwned, Serialize};

use super::CheckpointError;
use crate::keygroup::{key_group_for_hash, key_group_range, key_hash};

/// Key groups `[first, last]` a subtask owns and the total number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyGroupRange {
    /// First key group owned.
    pub first: u32,
    /// Last key group owned (inclusive).
    pub last: u32,
    /// Number of key groups of the job (`pipeline.max-parallelism`).
    pub max_parallelism: u32,
}

impl KeyGroupRange {
    /// The range of subtask `index` of `parallelism`.
    pub fn of_subtask(max_parallelism: u32, parallelism: u32, index: u32) -> Self {
        let r = key_group_range(max_parallelism, parallelism, index);
        KeyGroupRange { first: *r.start(), last: *r.end(), max_parallelism }
    }

    /// Number of key groups in the range.
    pub fn len(&self) -> usize {
        (self.last + 1).saturating_sub(self.first) as usize
    }

    /// True if the range holds no key group.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Index (0-based within the range) of the key group of `key`.
    ///
    /// A key outside the range (records partitioned with another max
    /// parallelism) is clamped into it, so state is never lost; it cannot
    /// happen when the partitioner and the state agree.
    #[inline]
    pub fn index_of<K: Hash + ?Sized>(&self, key: &K) -> usize {
        let kg = key_group_for_hash(key_hash(key), self.max_parallelism);
        (kg.clamp(self.first, self.last) - self.first) as usize
    }

    /// True if the key group `kg` is in the range.
    pub fn contains(&self, kg: u32) -> bool {
        kg >= self.first && kg <= self.last
    }
}

/// `K → V` split by key group.
pub struct KeyGroupedMap<K, V> {
    range: KeyGroupRange,
    groups: Vec<FxHashMap<K, V>>,
}

impl<K: Hash + Eq, V> KeyGroupedMap<K, V> {
    /// An empty map for `range`.
    pub fn new(range: KeyGroupRange) -> Self {
        KeyGroupedMap { range, groups: (0..range.len().max(1)).map(|_| FxHashMap::default()).collect() }
    }

    /// The range it covers.
    pub fn range(&self) -> KeyGroupRange {
        self.range
    }

    /// The map of the key group at `index` (from [`KeyGroupRange::index_of`]).
    #[inline]
    pub fn group_mut(&mut self, index: usize) -> &mut FxHashMap<K, V> {
        let last = self.groups.len() - 1;
        &mut self.groups[index.min(last)]
    }

    /// The map of the key group at `index`.
    #[inline]
    pub fn group(&self, index: usize) -> &FxHashMap<K, V> {
        &self.groups[index.min(self.groups.len() - 1)]
    }

    /// Number of entries over all key groups.
    pub fn len(&self) -> usize {
        self.groups.iter().map(|g| g.len()).sum()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.groups.iter().all(|g| g.is_empty())
    }

    /// Removes and yields every entry.
    pub fn drain(&mut self) -> impl Iterator<Item = (K, V)> + '_ {
        self.groups.iter_mut().flat_map(|g| g.drain())
    }
}

impl<K: Hash + Eq + Serialize + DeserializeOwned, V: Serialize + DeserializeOwned> KeyGroupedMap<K, V> {
    /// Serializes every non-empty key group: `(key group, postcard of its entries)`.
    ///
    /// Errors: a key or value that cannot be serialized.
    pub fn snapshot(&self) -> Result<Vec<(u32, Vec<u8>)>, CheckpointError> {
        let mut out = Vec::new();
        for (i, g) in self.groups.iter().enumerate() {
            if g.is_empty() {
                continue;
            }
            out.push((self.range.first + i as u32, Self::encode_group(g)?));
        }
        Ok(out)
    }

    /// Postcard image of one key group's entries (a length, then key/value pairs).
    pub fn encode_group(g: &FxHashMap<K, V>) -> Result<Vec<u8>, CheckpointError> {
        let entries: Vec<(&K, &V)> = g.iter().collect();
        postcard::to_allocvec(&entries).map_err(|e| CheckpointError::Encode(format!("keyed state: {e}")))
    }

    /// Adds the entries of key group `kg` from its snapshot image; key
    /// groups outside this map's range are ignored (they belong to another subtask).
    ///
    /// Errors: undecodable bytes; `what` names the file they came from.
    pub fn restore_group(&mut self, kg: u32, bytes: &[u8], what: &str) -> Result<(), CheckpointError> {
        if !self.range.contains(kg) {
            return Ok(());
        }
        let entries = decode_group::<K, V>(kg, bytes, what)?;
        let g = self.group_mut((kg - self.range.first) as usize);
        g.reserve(entries.len());
        for (k, v) in entries {
            g.insert(k, v);
        }
        Ok(())
    }
}

/// The entries of one key group's snapshot image (see [`KeyGroupedMap::encode_group`]).
///
/// Errors: undecodable bytes; `what` names the file they came from.
fn decode_group<K: DeserializeOwned, V: DeserializeOwned>(
    kg: u32,
    bytes: &[u8],
    what: &str,
) -> Result<Vec<(K, V)>, CheckpointError> {
    postcard::from_bytes(bytes)
        .map_err(|e| CheckpointError::Corrupt { path: what.to_string(), reason: format!("key group {kg}: {e}") })
}

/// One hash table for a whole key-group range, split by key group only when
/// snapshotted. For operators whose hot path is one lookup per record (keyed
/// reduce): a table per key group would cost a second hash per record and
/// scatter the entries over many small tables. Snapshots have the same
/// per-key-group images as [`KeyGroupedMap`], so either restores the other.
pub struct FlatKeyedMap<K, V> {
    range: KeyGroupRange,
    map: FxHashMap<K, V>,
}

impl<K: Hash + Eq, V> FlatKeyedMap<K, V> {
    /// An empty map for `range`.
    pub fn new(range: KeyGroupRange) -> Self {
        FlatKeyedMap { range, map: FxHashMap::default() }
    }

    /// The table of every key in the range.
    #[inline]
    pub fn map_mut(&mut self) -> &mut FxHashMap<K, V> {
        &mut self.map
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Removes and yields every entry.
    pub fn drain(&mut self) -> impl Iterator<Item = (K, V)> + '_ {
        self.map.drain()
    }
}

impl<K: Hash + Eq + Serialize + DeserializeOwned, V: Serialize + DeserializeOwned> FlatKeyedMap<K, V> {
    /// Serializes every non-empty key group: `(key group, postcard of its entries)`.
    ///
    /// Errors: a key or value that cannot be serialized.
    pub fn snapshot(&self) -> Result<Vec<(u32, Vec<u8>)>, CheckpointError> {
        let mut groups: Vec<Vec<(&K, &V)>> = (0..self.range.len().max(1)).map(|_| Vec::new()).collect();
        for (k, v) in &self.map {
            groups[self.range.index_of(k)].push((k, v));
        }
        groups
            .iter()
            .enumerate()
            .filter(|(_, g)| !g.is_empty())
            .map(|(i, g)| {
                let bytes =
                    postcard::to_allocvec(g).map_err(|e| CheckpointError::Encode(format!("keyed state: {e}")))?;
                Ok((self.range.first + i as u32, bytes))
            })
            .collect()
    }

    /// Adds the entries of key group `kg` from its snapshot image; groups
    /// outside the range are ignored.
    ///
    /// Errors: undecodable bytes; `what` names the file they came from.
    pub fn restore_group(&mut self, kg: u32, bytes: &[u8], what: &str) -> Result<(), CheckpointError> {
        if !self.range.contains(kg) {
            return Ok(());
        }
        let entries = decode_group::<K, V>(kg, bytes, what)?;
        self.map.reserve(entries.len());
        self.map.extend(entries);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescale_moves_every_key_to_the_subtask_owning_its_group() {
        let max = 128;
        let old = KeyGroupRange::of_subtask(max, 1, 0);
        let mut m: KeyGroupedMap<String, u64> = KeyGroupedMap::new(old);
        for i in 0..5000u64 {
            let k = format!("key{i}");
            let idx = old.index_of(&k);
            m.group_mut(idx).insert(k, i);
        }
        let snap = m.snapshot().unwrap();
        let mut total = 0;
        for sub in 0..3 {
            let r = KeyGroupRange::of_subtask(max, 3, sub);
            let mut n: KeyGroupedMap<String, u64> = KeyGroupedMap::new(r);
            for (kg, bytes) in &snap {
                n.restore_group(*kg, bytes, "test").unwrap();
            }
            for i in 0..n.range().len() {
                for (k, v) in n.group(i) {
                    assert_eq!(r.index_of(k), i);
                    assert_eq!(k, &format!("key{v}"));
                }
            }
            total += n.len();
        }
        assert_eq!(total, 5000);
    }

    #[test]
    fn flat_and_grouped_maps_restore_each_other_at_any_parallelism() {
        let max = 128;
        let all = KeyGroupRange::of_subtask(max, 1, 0);
        let mut flat: FlatKeyedMap<String, u64> = FlatKeyedMap::new(all);
        for i in 0..3000u64 {
            flat.map_mut().insert(format!("key{i}"), i);
        }
        let snap = flat.snapshot().unwrap();
        let mut total = 0;
        for sub in 0..2 {
            let r = KeyGroupRange::of_subtask(max, 2, sub);
            let mut grouped: KeyGroupedMap<String, u64> = KeyGroupedMap::new(r);
            let mut flat2: FlatKeyedMap<String, u64> = FlatKeyedMap::new(r);
            for (kg, bytes) in &snap {
                grouped.restore_group(*kg, bytes, "test").unwrap();
                flat2.restore_group(*kg, bytes, "test").unwrap();
            }
            assert_eq!(grouped.len(), flat2.len());
            let back = grouped.snapshot().unwrap();
            let mut again: FlatKeyedMap<String, u64> = FlatKeyedMap::new(r);
            for (kg, bytes) in &back {
                again.restore_group(*kg, bytes, "test").unwrap();
            }
            assert_eq!(again.map_mut(), flat2.map_mut());
            total += flat2.len();
        }
        assert_eq!(total, 3000);
    }
}
