//! Which source subtask reads which partition.

/// Java's `String.hashCode()` of `s` (UTF-16 code units, wrapping).
fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

/// The subtask of `parallelism` that reads `partition` of `topic`: Flink's
/// `KafkaSourceEnumerator.getSplitOwner` — the topic's partitions go round
/// robin from a start index derived from the topic's name, so the partitions
/// of several topics spread evenly. Every subtask computes it alone from the
/// same metadata, so no coordinator is needed.
pub fn owner_subtask(topic: &str, partition: i32, parallelism: u32) -> u32 {
    let p = parallelism as i64;
    let start = ((java_string_hash(topic) as i64 * 31) & 0x7FFF_FFFF) % p;
    ((start + partition as i64) % p) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_matches_known_values() {
        // "hello".hashCode() == 99162322, "".hashCode() == 0 in Java.
        assert_eq!(java_string_hash("hello"), 99162322);
        assert_eq!(java_string_hash(""), 0);
    }

    #[test]
    fn partitions_spread_evenly_and_each_has_one_owner() {
        for p in 1..6u32 {
            let mut per = vec![0; p as usize];
            for part in 0..(4 * p as i32) {
                let o = owner_subtask("lines", part, p);
                assert!(o < p);
                per[o as usize] += 1;
            }
            assert!(per.iter().all(|&n| n == 4), "parallelism {p}: {per:?}");
        }
    }
}
