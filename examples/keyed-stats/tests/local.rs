//! The keyed-stats example on the embedded local cluster at parallelism 2:
//! the last line of each key equals statistics computed here, and a bad
//! input line fails the job naming the line.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

#[test]
fn final_statistics_per_key_match_an_independent_computation() {
    let tmp = tempfile::tempdir().unwrap();
    let records: Vec<(String, i64)> = (0..3000i64).map(|i| (format!("k{}", i % 37), (i * 7919) % 1000 - 300)).collect();
    let text: String = records.iter().map(|(k, v)| format!("{k},{v}\n")).collect();
    std::fs::write(tmp.path().join("in.csv"), &text).unwrap();
    let exe = env!("CARGO_BIN_EXE_rfy-example-keyed-stats");
    let out = Command::new(exe)
        .args(["run", "-p", "2", exe, "--input", "in.csv", "--output", "out"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let mut want: BTreeMap<String, (u64, i64, i64, i64, BTreeSet<i64>)> = BTreeMap::new();
    for (k, v) in &records {
        let e = want.entry(k.clone()).or_insert((0, 0, i64::MAX, i64::MIN, BTreeSet::new()));
        e.0 += 1;
        e.1 += v;
        e.2 = e.2.min(*v);
        e.3 = e.3.max(*v);
        e.4.insert(*v);
    }
    // Each key's lines are in one part file, in order: the one with the highest count is final.
    let mut got: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut lines = 0;
    for e in std::fs::read_dir(tmp.path().join("out")).unwrap().flatten() {
        for line in std::fs::read_to_string(e.path()).unwrap().lines() {
            lines += 1;
            let f: Vec<&str> = line.split('\t').collect();
            let nums: Vec<i64> = f[1..].iter().map(|n| n.parse().unwrap()).collect();
            let slot = got.entry(f[0].to_string()).or_default();
            if slot.first().is_none_or(|c| nums[0] > *c) {
                *slot = nums;
            }
        }
    }
    assert_eq!(lines, records.len(), "one line per input record");
    let want: BTreeMap<String, Vec<i64>> =
        want.into_iter().map(|(k, (c, s, mn, mx, d))| (k, vec![c as i64, s, mn, mx, d.len() as i64])).collect();
    assert_eq!(got, want);

    std::fs::write(tmp.path().join("bad.csv"), "a,1\nb,notanumber\n").unwrap();
    let bad =
        Command::new(exe).args(["--input", "bad.csv", "--output", "out-bad"]).current_dir(tmp.path()).output().unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && err.contains("b,notanumber"), "{err}");
}
