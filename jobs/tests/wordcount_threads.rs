//! Word count on the real input, run with the runtime's in-process thread
//! executor, against an independent reference count and Flink's own output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rfy_runtime::exchange::ExchangeSettings;
use rfy_runtime::task::run_job_in_threads;
use rfy_runtime::ExecutionConfig;

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// Independent reference: a different code path (char iteration over the
/// lowercased text, std HashMap/BTreeMap), not the job's tokenizer.
fn reference_counts(text: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        let lower = line.to_lowercase();
        let mut word = String::new();
        for c in lower.chars().chain(std::iter::once(' ')) {
            if c.is_ascii_alphanumeric() || c == '_' {
                word.push(c);
            } else if !word.is_empty() {
                *counts.entry(std::mem::take(&mut word)).or_insert(0) += 1;
            }
        }
    }
    counts
}

fn read_tsv_dir(dir: &Path) -> Vec<(String, u64)> {
    let mut rows = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("part-"), "unexpected file {name} in output");
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let (w, c) = line.split_once('\t').expect("word<TAB>count");
            rows.push((w.to_string(), c.parse().unwrap()));
        }
    }
    rows
}

fn run(p: u32, mode: &str, out: &Path) {
    let args: Vec<String> =
        ["--input", repo_file("data/kjv.txt").to_str().unwrap(), "--output", out.to_str().unwrap(), "--mode", mode]
            .iter()
            .map(|s| s.to_string())
            .collect();
    let config = ExecutionConfig { parallelism: p, ..Default::default() };
    let stream = rfy_jobs::wordcount::PROGRAM.stream_graph(&args, config).unwrap();
    stream.check_io().unwrap();
    let job = stream.job_graph().unwrap();
    run_job_in_threads(Arc::new(stream), &job, ExchangeSettings::default()).unwrap();
}

#[test]
fn final_counts_equal_reference_and_flink() {
    let text = std::fs::read_to_string(repo_file("data/kjv.txt")).unwrap();
    let reference = reference_counts(&text);
    let flink: BTreeMap<String, u64> = std::fs::read_to_string(repo_file("data/kjv.flink-counts.tsv"))
        .unwrap()
        .lines()
        .map(|l| {
            let (w, c) = l.split_once('\t').unwrap();
            (w.to_string(), c.parse().unwrap())
        })
        .collect();
    assert_eq!(reference, flink, "the reference tokenizer disagrees with Flink");
    for p in [1, 2, 3] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        run(p, "final", &out);
        let rows = read_tsv_dir(&out);
        let got: BTreeMap<String, u64> = rows.iter().cloned().collect();
        assert_eq!(rows.len(), got.len(), "p={p}: a word appears twice");
        assert_eq!(got, flink, "p={p}");
    }
}

#[test]
fn updates_hold_each_running_count_once() {
    let text = std::fs::read_to_string(repo_file("data/kjv.txt")).unwrap();
    let reference = reference_counts(&text);
    for p in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        run(p, "updates", &out);
        let mut seen: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for (w, c) in read_tsv_dir(&out) {
            seen.entry(w).or_default().push(c);
        }
        assert_eq!(seen.len(), reference.len(), "p={p}");
        for (w, mut counts) in seen {
            counts.sort_unstable();
            let n = reference[&w];
            assert!(counts.iter().copied().eq(1..=n), "p={p}: word {w} has counts not exactly 1..={n}");
        }
    }
}
