//! `rfy run wordcount` on the real input, on the embedded local cluster, as a
//! user runs it: the output must equal Apache Flink's own output.

mod common;

use std::collections::BTreeMap;

use common::{flink_counts, read_parts, repo_file, rfy};

fn run_wordcount(p: u32, tms: u32, mode: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("counts");
    let input = repo_file("data/kjv.txt");
    let o = rfy(&[
        "run",
        "-p",
        &p.to_string(),
        "-D",
        &format!("local.number-taskmanager={tms}"),
        "wordcount",
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--mode",
        mode,
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "p={p} tms={tms}: rfy failed: {stderr}");
    assert!(stderr.contains("FINISHED"), "summary missing: {stderr}");
    (dir, out)
}

#[test]
fn final_counts_equal_flink_at_each_parallelism_and_taskmanager_count() {
    let flink = flink_counts();
    for (p, tms) in [(1, 1), (2, 1), (2, 2)] {
        let (_keep, out) = run_wordcount(p, tms, "final");
        let rows = read_parts(&out);
        assert_eq!(common::part_files(&out).len(), p as usize, "one part file per sink subtask");
        let got: BTreeMap<String, u64> = rows.iter().cloned().collect();
        assert_eq!(rows.len(), got.len(), "p={p} tms={tms}: a word is written twice");
        assert_eq!(got, flink, "p={p} tms={tms}");
    }
}

#[test]
fn updates_hold_each_running_count_exactly_once_across_two_taskmanagers() {
    let flink = flink_counts();
    for (p, tms) in [(1, 1), (2, 2)] {
        let (_keep, out) = run_wordcount(p, tms, "updates");
        let mut seen: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for (w, c) in read_parts(&out) {
            seen.entry(w).or_default().push(c);
        }
        assert_eq!(seen.len(), flink.len(), "p={p}: distinct words");
        for (w, mut counts) in seen {
            counts.sort_unstable();
            let n = flink[&w];
            assert!(counts.iter().copied().eq(1..=n), "p={p} tms={tms}: '{w}' does not have exactly the lines 1..={n}");
        }
    }
}

#[test]
fn info_prints_the_chained_jobgraph() {
    let input = repo_file("data/kjv.txt");
    let o = rfy(&["info", "-p", "2", "wordcount", "--input", input.to_str().unwrap(), "--discard"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let g: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let vertices = g["vertices"].as_array().unwrap();
    assert_eq!(vertices.len(), 2, "source+tokenizer chain, then sum+sink chain: {g}");
    assert_eq!(vertices[0]["name"], "Source: kjv.txt -> Tokenizer");
    assert_eq!(vertices[1]["name"], "Sum -> Sink: Discard");
    assert_eq!(g["edges"][0]["partitioning"], "HASH");
    // At parallelism 1 every edge is forward and the whole job is one chain.
    let o = rfy(&["info", "wordcount", "--input", input.to_str().unwrap(), "--discard"]);
    let g: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(g["vertices"].as_array().unwrap().len(), 1, "{g}");
}
