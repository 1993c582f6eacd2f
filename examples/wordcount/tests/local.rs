//! The SDK word count on the embedded local cluster at parallelism 2: its
//! output equals an independent count with Flink's tokenizer (lowercase,
//! split on non-`[A-Za-z0-9_]`), and bad arguments are one-line errors.

use std::collections::BTreeMap;
use std::process::Command;

fn expected(text: &str) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for w in text.to_lowercase().split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| !w.is_empty()) {
        *m.entry(w.to_string()).or_insert(0) += 1;
    }
    m
}

#[test]
fn counts_words_like_the_built_in_wordcount() {
    let tmp = tempfile::tempdir().unwrap();
    let text =
        "To be, or not to be: that is the question.\nWhether 'tis nobler_in the mind to suffer\n\nÉTÉ été x2 X2\n"
            .repeat(40);
    std::fs::write(tmp.path().join("in.txt"), &text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rfy-example-wordcount"))
        .args(["run", "-p", "2", env!("CARGO_BIN_EXE_rfy-example-wordcount"), "--input", "in.txt", "--output", "out"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut got = BTreeMap::new();
    let mut parts = 0;
    for e in std::fs::read_dir(tmp.path().join("out")).unwrap().flatten() {
        parts += 1;
        for line in std::fs::read_to_string(e.path()).unwrap().lines() {
            let (w, n) = line.split_once('\t').unwrap();
            assert!(got.insert(w.to_string(), n.parse::<u64>().unwrap()).is_none(), "{w} twice");
        }
    }
    assert_eq!(parts, 2, "one part file per subtask");
    assert_eq!(got, expected(&text));

    let bad = Command::new(env!("CARGO_BIN_EXE_rfy-example-wordcount"))
        .args(["--output", "x"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && err.contains("--input") && err.trim().lines().count() == 1, "{err}");
}
