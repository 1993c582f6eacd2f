//! Helpers shared by the client's integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A file of the repository.
pub fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// Runs the `rfy` binary with `args`.
pub fn rfy(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_rfy")).args(args).output().expect("run rfy")
}

/// Apache Flink's own word count of data/kjv.txt.
pub fn flink_counts() -> BTreeMap<String, u64> {
    std::fs::read_to_string(repo_file("data/kjv.flink-counts.tsv"))
        .unwrap()
        .lines()
        .map(|l| {
            let (w, c) = l.split_once('\t').unwrap();
            (w.to_string(), c.parse().unwrap())
        })
        .collect()
}

/// Every `word<TAB>count` row of the part files in `dir`; fails on other files.
pub fn read_parts(dir: &Path) -> Vec<(String, u64)> {
    let mut rows = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("part-"), "unexpected file {name} in {}", dir.display());
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let (w, c) = line.split_once('\t').unwrap_or_else(|| panic!("bad line {line:?}"));
            rows.push((w.to_string(), c.parse().unwrap()));
        }
    }
    rows
}

/// Part files (`part-*`) in `dir`.
pub fn part_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("part-"))
                .collect()
        })
        .unwrap_or_default()
}
