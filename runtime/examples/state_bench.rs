//! Keyed state backend micro-benchmark: the keyed reduce's per-record work
//! (`statebench`'s "latest value per key") on the heap table (`FlatKeyedMap`,
//! `state.backend.type: hashmap`) and on the on-disk table (`DiskTable`,
//! `embedded-lsm`) with a managed-memory budget that holds the state and one
//! a quarter of it; then a full snapshot of each. Payloads are pseudo-random
//! (incompressible), 1 KiB by default.
//!
//! Run: `cargo run --release -p rfy-runtime --example state_bench -- BACKEND [keys] [updates] [value bytes]`
//! with BACKEND `hashmap`, `lsm-fits` (managed memory 2× the state) or
//! `lsm-quarter` (a quarter of the state), one process each so the RSS is
//! each one's (defaults 262144 keys = 256 MiB of state, 1048576 updates, 1024 B).

use std::collections::hash_map::Entry;
use std::time::Instant;

use rfy_runtime::checkpoint::{FlatKeyedMap, KeyGroupRange};
use rfy_runtime::state_backend::{DiskTable, LsmSettings, LsmStore};

const BATCH: usize = 1024;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn payload(&mut self, bytes: usize) -> Vec<u8> {
        (0..bytes.div_ceil(8)).flat_map(|_| self.next().to_le_bytes()).take(bytes).collect()
    }
}

fn rss_mib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        / 1024
}

/// The records of the run: every key once (fill), then `updates` uniform ones.
fn batches(keys: u64, updates: u64, bytes: usize) -> impl Iterator<Item = Vec<(u64, Vec<u8>)>> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let total = keys + updates;
    let mut i = 0u64;
    std::iter::from_fn(move || {
        if i >= total {
            return None;
        }
        let n = (total - i).min(BATCH as u64);
        let b = (0..n)
            .map(|j| {
                let k = if i + j < keys { i + j } else { rng.next() % keys };
                (k, rng.payload(bytes))
            })
            .collect();
        i += n;
        Some(b)
    })
}

fn main() {
    let backend = std::env::args().nth(1).unwrap_or_default();
    let args: Vec<u64> = std::env::args().skip(2).filter_map(|a| a.parse().ok()).collect();
    let keys = args.first().copied().unwrap_or(262_144);
    let updates = args.get(1).copied().unwrap_or(1_048_576);
    let bytes = args.get(2).copied().unwrap_or(1024) as usize;
    let state_mib = (keys * (bytes as u64 + 8)) >> 20;
    let range = KeyGroupRange::of_subtask(128, 1, 0);
    let reduce = |_old: (u64, Vec<u8>), new: (u64, Vec<u8>)| new;
    eprintln!("{keys} keys x {bytes} B (~{state_mib} MiB of state), {updates} updates, batches of {BATCH}");
    // Heap: the keyed reduce's code on FlatKeyedMap.
    if backend == "hashmap" {
        let mut m: FlatKeyedMap<u64, (u64, Vec<u8>)> = FlatKeyedMap::new(range);
        let mut out = Vec::with_capacity(BATCH);
        let started = Instant::now();
        let mut n = 0u64;
        for mut batch in batches(keys, updates, bytes) {
            n += batch.len() as u64;
            let values = m.map_mut();
            for rec in batch.drain(..) {
                match values.entry(rec.0) {
                    Entry::Occupied(mut e) => {
                        let merged = reduce(e.get().clone(), rec);
                        out.push(merged.clone());
                        *e.get_mut() = merged;
                    }
                    Entry::Vacant(e) => {
                        out.push(rec.clone());
                        e.insert(rec);
                    }
                }
            }
            out.clear();
        }
        let rate = n as f64 / started.elapsed().as_secs_f64();
        let t = Instant::now();
        let snap = m.snapshot().expect("snapshot");
        let snap_s = t.elapsed().as_secs_f64();
        println!("| hashmap | (unbounded) | {rate:.0} | {snap_s:.2} | {} |", rss_mib());
        drop(snap);
    }

    let disk = match backend.as_str() {
        "lsm-fits" => Some(("fits", (2 * state_mib.max(8)) << 20)),
        "lsm-quarter" => Some(("1/4 of state", (state_mib / 4).max(8) << 20)),
        "hashmap" => None,
        other => {
            eprintln!("unknown backend '{other}': hashmap, lsm-fits or lsm-quarter");
            std::process::exit(2)
        }
    };
    if let Some((label, memory)) = disk {
        let dir = std::env::temp_dir().join(format!("rfy-state-bench-{}", std::process::id()));
        let settings = LsmSettings { dir: dir.clone(), memory_bytes: memory };
        let mut store = LsmStore::open(&settings, "bench").expect("open");
        let mut t: DiskTable<u64, (u64, Vec<u8>)> =
            DiskTable::open(&mut store, "reduce", range, settings.split().object_cache).expect("table");
        let mut out = Vec::with_capacity(BATCH);
        let started = Instant::now();
        let mut n = 0u64;
        for mut batch in batches(keys, updates, bytes) {
            n += batch.len() as u64;
            for rec in batch.drain(..) {
                let key = rec.0;
                if let Some(m) = t.fold(range.index_of(&key), &key, rec, reduce) {
                    out.push(m.clone());
                }
            }
            t.maintain().expect("maintain");
            out.clear();
        }
        let rate = n as f64 / started.elapsed().as_secs_f64();
        let s = Instant::now();
        t.write_back(false).expect("write back");
        let mut img = 0usize;
        for kg in range.first..=range.last {
            img += t.snapshot_group(kg).expect("snapshot").map_or(0, |v| v.len());
        }
        let snap_s = s.elapsed().as_secs_f64();
        let disk = store.disk_space().unwrap_or(0) >> 20;
        println!(
            "| embedded-lsm ({label}) | {} MiB | {rate:.0} | {snap_s:.2} | {} (disk {disk} MiB, image {} MiB) |",
            memory >> 20,
            rss_mib(),
            img >> 20
        );
        drop(t);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
