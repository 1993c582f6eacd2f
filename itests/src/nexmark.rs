//! Helpers of the Nexmark integration tests: the committed rows of a query's
//! output directory and their comparison with Apache Flink SQL's rows in
//! `data/nexmark/expected/` (written by `scripts/nexmark-expected`, for
//! [`EVENTS`] events of seed [`SEED`] at [`EVENT_RATE`] events/s of event time).

use std::path::Path;

use sha2::{Digest, Sha256};

/// Events the expected rows were computed over.
pub const EVENTS: u64 = 50_000;
/// The generator's seed for them.
pub const SEED: u64 = 42;
/// Their event rate, events per second of event time.
pub const EVENT_RATE: u64 = 1000;

/// The committed rows (lines of `part-*` files; hidden in-progress and
/// pending files are not output) in `dir`, sorted bytewise. Empty if `dir`
/// does not exist yet.
pub fn committed_rows(dir: &Path) -> Vec<String> {
    let mut rows = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return rows };
    for entry in entries {
        let path = entry.expect("output dir entry").path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("part-")) {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            rows.extend(text.lines().map(str::to_string));
        }
    }
    rows.sort();
    rows
}

/// Flink's rows of query `q`: `Ok(rows)` when the whole result is stored
/// (`qN.tsv`), else `Err((row count, sha256 of the sorted rows, one per line))`.
pub fn expected(q: &str) -> Result<Vec<String>, (usize, String)> {
    let dir = super::local::repo_file("data/nexmark/expected");
    let tsv = dir.join(format!("{q}.tsv"));
    if tsv.exists() {
        let text = std::fs::read_to_string(&tsv).unwrap_or_else(|e| panic!("{}: {e}", tsv.display()));
        return Ok(text.lines().map(str::to_string).collect());
    }
    let read = |ext: &str| {
        let p = dir.join(format!("{q}.{ext}"));
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).trim().to_string()
    };
    Err((read("rows").parse().expect("row count"), read("sha256")))
}

/// Number of rows Flink gives for `q`.
pub fn expected_count(q: &str) -> usize {
    match expected(q) {
        Ok(rows) => rows.len(),
        Err((count, _)) => count,
    }
}

/// Compares sorted `rows` with Flink's for `q`; `Err` says how they differ.
pub fn compare(q: &str, rows: &[String]) -> Result<(), String> {
    match expected(q) {
        Ok(want) if rows == want => Ok(()),
        Ok(want) => {
            let missing: Vec<_> = want.iter().filter(|r| rows.binary_search(r).is_err()).take(3).collect();
            let extra: Vec<_> = rows.iter().filter(|r| want.binary_search(r).is_err()).take(3).collect();
            let dups = rows.windows(2).filter(|w| w[0] == w[1]).count();
            Err(format!(
                "{q}: {} rows, Flink {}; {dups} duplicated; missing e.g. {missing:?}; extra e.g. {extra:?}",
                rows.len(),
                want.len()
            ))
        }
        Err((count, sha)) => {
            let mut text = rows.join("\n");
            text.push('\n');
            let got = format!("{:x}", Sha256::digest(text.as_bytes()));
            if rows.len() == count && got == sha {
                Ok(())
            } else {
                let dups = rows.windows(2).filter(|w| w[0] == w[1]).count();
                Err(format!("{q}: {} rows ({dups} duplicated), Flink {count}; sha256 {got}, Flink {sha}", rows.len()))
            }
        }
    }
}
