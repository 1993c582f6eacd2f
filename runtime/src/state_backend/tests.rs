//! The embedded-LSM backend against the heap backend: every state kind,
//! write-back under a small budget, key-group scan and delete, and snapshots
//! that restore across backends and parallelism.

use super::*;
use crate::api::{KeyedContext, KeyedStateStore, ListState, MapState, ReducingState, ValueState};
use crate::checkpoint::KeyGroupRange;
use crate::keygroup::{key_group_for_hash, key_hash};

const MAX: u32 = 128;

fn lsm(dir: &tempfile::TempDir, memory_bytes: u64) -> StateBackend {
    StateBackend::EmbeddedLsm(LsmSettings { dir: dir.path().to_path_buf(), memory_bytes })
}

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

type Sum = fn(u64, u64) -> u64;

struct States {
    value: ValueState<u64>,
    list: ListState<String>,
    map: MapState<u32, String>,
    sum: ReducingState<u64, Sum>,
}

fn open(backend: &StateBackend, range: KeyGroupRange, name: &str) -> (KeyedStateStore<String>, States) {
    let mut s = KeyedStateStore::with_backend(range, backend, name).unwrap();
    let states = States {
        value: s.value_state("v"),
        list: s.list_state("l"),
        map: s.map_state("m"),
        sum: s.reducing_state("r", (|a, b| a + b) as Sum),
    };
    s.opened().unwrap();
    (s, states)
}

fn keys() -> Vec<String> {
    (0..400).map(|i| format!("k{i}")).collect()
}

/// Writes every state kind for every key, with updates, removals and a
/// write-back in between.
fn fill(store: &mut KeyedStateStore<String>, st: &States) {
    for (i, k) in keys().iter().enumerate() {
        with_key(store, k, |c| {
            st.value.update(c, 1000);
            st.list.add(c, format!("a{i}"));
            st.map.put(c, 100_000, "gone".into());
            st.sum.add(c, 2);
        });
    }
    store.maintain().unwrap();
    let _ = store.snapshot().unwrap(); // writes back: what follows changes stored values
    for (i, k) in keys().iter().enumerate() {
        with_key(store, k, |c| {
            st.value.update(c, i as u64);
            st.list.add(c, format!("b{i}"));
            assert_eq!(st.map.remove(c, &100_000).as_deref(), Some("gone"));
            st.map.put(c, i as u32, k.clone());
            st.sum.add(c, i as u64);
            if i % 10 == 0 {
                st.value.clear(c);
            }
        });
    }
}

/// Checks what [`fill`] wrote, for the keys the store's range owns; returns how many.
fn check(store: &mut KeyedStateStore<String>, st: &States) -> usize {
    let mut found = 0;
    for (i, k) in keys().iter().enumerate() {
        let owned = store.key_groups().contains(key_group_for_hash(key_hash(k), MAX));
        with_key(store, k, |c| {
            if !owned {
                assert_eq!(st.list.get(c), &[] as &[String], "{k} is not this subtask's");
                return;
            }
            found += 1;
            let want = if i % 10 == 0 { None } else { Some(i as u64) };
            assert_eq!(st.value.value(c), want, "{k}");
            assert_eq!(st.list.get(c), &[format!("a{i}"), format!("b{i}")], "{k}");
            assert_eq!(st.map.get(c, &(i as u32)), Some(k));
            assert_eq!(st.map.get(c, &100_000), None);
            assert_eq!(st.map.entries(c).count(), 1);
            assert_eq!(st.sum.get(c), Some(&(2 + i as u64)));
        });
    }
    found
}

#[test]
fn every_state_kind_on_disk_reads_back_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, st) = open(&lsm(&dir, 0), KeyGroupRange::of_subtask(MAX, 1, 0), "op-0");
    fill(&mut store, &st);
    assert_eq!(check(&mut store, &st), keys().len());
    // Again after everything went to disk and the cache was emptied.
    let _ = store.snapshot().unwrap();
    assert_eq!(check(&mut store, &st), keys().len());
}

/// A savepoint taken on the heap restores on disk at parallelism 3, and
/// the disk's snapshot restores on the heap at parallelism 2: the images
/// are the same canonical format, each key lands on its owner.
#[test]
fn snapshots_restore_across_backends_and_parallelism() {
    let dir = tempfile::tempdir().unwrap();
    for (from, to, p) in [(StateBackend::HashMap, lsm(&dir, 0), 3), (lsm(&dir, 0), StateBackend::HashMap, 2)] {
        let (mut store, st) = open(&from, KeyGroupRange::of_subtask(MAX, 1, 0), "src-0");
        fill(&mut store, &st);
        let snap = store.snapshot().unwrap();
        drop(store);
        let mut total = 0;
        let mut again = Vec::new();
        for sub in 0..p {
            let range = KeyGroupRange::of_subtask(MAX, p, sub);
            let (mut s, st) = open(&to, range, &format!("dst-{sub}"));
            for (kg, bytes) in snap.iter().filter(|(kg, _)| range.contains(*kg)) {
                s.restore_group(*kg, bytes, "test").unwrap();
            }
            total += check(&mut s, &st);
            again.extend(s.snapshot().unwrap());
        }
        assert_eq!(total, keys().len(), "{} -> {}", from.name(), to.name());
        // The restored subtasks snapshot the same key groups again.
        again.sort_by_key(|(kg, _)| *kg);
        assert_eq!(
            again.iter().map(|(kg, _)| *kg).collect::<Vec<_>>(),
            snap.iter().map(|(kg, _)| *kg).collect::<Vec<_>>()
        );
    }
}

#[test]
fn a_small_budget_writes_back_and_empties_the_cache_between_batches() {
    let dir = tempfile::tempdir().unwrap();
    let range = KeyGroupRange::of_subtask(MAX, 1, 0);
    let mut store = LsmStore::open(&LsmSettings { dir: dir.path().to_path_buf(), memory_bytes: 0 }, "t").unwrap();
    let mut t: DiskTable<u64, Vec<u8>> = DiskTable::open(&mut store, "t", range, 0).unwrap();
    t.set_cache_budget(64 << 10);
    for k in 0..5000u64 {
        t.insert(range.index_of(&k), &k, vec![k as u8; 100]);
    }
    assert_eq!(t.cached(), 5000);
    t.maintain().unwrap();
    assert_eq!(t.cached(), 0, "5000 entries of ~100 B are over a 64 KiB budget");
    for k in 0..5000u64 {
        t.insert(range.index_of(&k), &k, vec![k as u8; 100]);
    }
    t.maintain().unwrap();
    assert!(t.cached() <= 1024, "the measured entry size sizes the cache: {}", t.cached());
    for k in (0..5000u64).step_by(7) {
        assert_eq!(t.get(range.index_of(&k), &k), Some(&vec![k as u8; 100]));
    }
    assert!(store.disk_space().unwrap() > 0);
}

#[test]
fn a_key_group_range_is_scanned_and_deleted_without_touching_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let range = KeyGroupRange::of_subtask(MAX, 1, 0);
    let mut store = LsmStore::open(&LsmSettings { dir: dir.path().to_path_buf(), memory_bytes: 0 }, "t").unwrap();
    let mut t: DiskTable<String, u32> = DiskTable::open(&mut store, "t", range, 1 << 20).unwrap();
    let mut per_group = vec![0usize; MAX as usize];
    for i in 0..3000u32 {
        let k = format!("key{i}");
        per_group[range.index_of(&k)] += 1;
        t.insert(range.index_of(&k), &k, i);
    }
    t.write_back(false).unwrap();
    for kg in [0, 1, 64, 127] {
        assert_eq!(t.count_group(kg).unwrap(), per_group[kg as usize], "key group {kg}");
    }
    let deleted = t.delete_groups(10, 63).unwrap();
    assert_eq!(deleted, per_group[10..=63].iter().sum::<usize>());
    for i in 0..3000u32 {
        let k = format!("key{i}");
        let kg = range.index_of(&k);
        let want = if (10..=63).contains(&kg) { None } else { Some(&i) };
        assert_eq!(t.get(kg, &k), want, "{k} in key group {kg}");
    }
    assert_eq!(t.count_group(9).unwrap(), per_group[9]);
    assert_eq!(t.count_group(64).unwrap(), per_group[64]);
}

#[test]
fn the_store_directory_goes_with_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let backend = lsm(&dir, 0);
    let (mut store, st) = open(&backend, KeyGroupRange::of_subtask(MAX, 1, 0), "op/with:odd chars-0");
    fill(&mut store, &st);
    let _ = store.snapshot().unwrap();
    let entries = || std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(entries(), 1);
    drop(store);
    assert_eq!(entries(), 0, "the store's directory is removed on drop");
}

#[test]
fn an_unknown_backend_is_an_error_naming_the_key() {
    let e = StateBackend::from_config("rocksdb", "/tmp".into(), 0).unwrap_err().to_string();
    assert!(e.contains("state.backend.type") && e.contains("rocksdb") && e.contains(EMBEDDED_LSM), "{e}");
    assert_eq!(StateBackend::from_config("Embedded_LSM", "/x".into(), 1).unwrap().name(), EMBEDDED_LSM);
    assert_eq!(StateBackend::from_config("hashmap", "/x".into(), 1).unwrap(), StateBackend::HashMap);
}
