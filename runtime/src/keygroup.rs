//! Key groups: the unit in which keyed state is partitioned and redistributed
//! when parallelism changes (Flink's `KeyGroupRangeAssignment`).

use std::hash::{Hash, Hasher};
use std::ops::RangeInclusive;

/// Stable 64-bit hash of a key: FxHash of the key's `Hash` impl, then the
/// murmur3 finalizer to spread the bits. Identical across processes running
/// the same program.
#[inline]
pub fn key_hash<K: Hash + ?Sized>(key: &K) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    key.hash(&mut h);
    fmix64(h.finish())
}

#[inline]
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51afd7ed558ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ceb9fe1a85ec53);
    k ^ (k >> 33)
}

/// Key group of a key hash, in `0..max_parallelism`.
#[inline]
pub fn key_group_for_hash(hash: u64, max_parallelism: u32) -> u32 {
    (hash % max_parallelism as u64) as u32
}

/// Index of the subtask (of `parallelism`) that owns `key_group`.
#[inline]
pub fn operator_index_for_key_group(max_parallelism: u32, parallelism: u32, key_group: u32) -> u32 {
    ((key_group as u64 * parallelism as u64) / max_parallelism as u64) as u32
}

/// The key groups owned by subtask `index` of `parallelism`: the inverse of
/// [`operator_index_for_key_group`].
pub fn key_group_range(max_parallelism: u32, parallelism: u32, index: u32) -> RangeInclusive<u32> {
    let (m, p, i) = (max_parallelism as u64, parallelism as u64, index as u64);
    let start = (i * m).div_ceil(p);
    let end = ((i + 1) * m).div_ceil(p) - 1;
    (start as u32)..=(end as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_the_inverse_of_the_assignment() {
        for max in [1u32, 7, 128, 300] {
            for par in 1..=max.min(9) {
                for kg in 0..max {
                    let idx = operator_index_for_key_group(max, par, kg);
                    assert!(idx < par);
                    assert!(key_group_range(max, par, idx).contains(&kg), "max {max} par {par} kg {kg}");
                }
            }
        }
    }

    #[test]
    fn hash_is_stable_for_equal_keys() {
        assert_eq!(key_hash("word"), key_hash(&String::from("word")));
        assert_ne!(key_hash("word"), key_hash("words"));
    }
}
