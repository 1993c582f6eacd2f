//! Bad input gets a one-line error naming the thing at fault, a non-zero
//! exit code, no panic, and no output that looks complete.

mod common;

use common::{part_files, repo_file, rfy};

fn stderr_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_clean_failure(o: &std::process::Output, must_name: &str) {
    let err = stderr_of(o);
    assert!(!o.status.success(), "expected failure, got success: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(err.contains(must_name), "error does not name '{must_name}': {err}");
    let error_lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(error_lines.len(), 1, "want one error line: {err}");
}

#[test]
fn missing_input_names_the_file_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = rfy(&["run", "wordcount", "--input", "/no/such/kjv.txt", "--output", out.to_str().unwrap()]);
    assert_clean_failure(&o, "/no/such/kjv.txt");
    assert!(part_files(&out).is_empty());
}

#[test]
fn unwritable_or_nonempty_output_is_refused() {
    let input = repo_file("data/kjv.txt");
    let o = rfy(&["run", "wordcount", "--input", input.to_str().unwrap(), "--output", "/proc/rfy-out"]);
    assert_clean_failure(&o, "/proc/rfy-out");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("old"), "x").unwrap();
    let o = rfy(&["run", "wordcount", "--input", input.to_str().unwrap(), "--output", dir.path().to_str().unwrap()]);
    assert_clean_failure(&o, "not empty");
}

#[test]
fn unknown_job_bad_parallelism_bad_config_bad_job_args() {
    assert_clean_failure(&rfy(&["run", "wordcont"]), "wordcont");
    let o = rfy(&["run", "-p", "0", "wordcount", "--input", "x"]);
    assert!(!o.status.success() && stderr_of(&o).contains("parallelism"), "{}", stderr_of(&o));
    let o = rfy(&["run", "-p", "many", "wordcount", "--input", "x"]);
    assert!(!o.status.success() && stderr_of(&o).contains("many"), "{}", stderr_of(&o));
    assert_clean_failure(
        &rfy(&["run", "-D", "parallelism.defualt=2", "wordcount", "--input", "x"]),
        "parallelism.defualt",
    );
    assert_clean_failure(
        &rfy(&["run", "-D", "taskmanager.numberOfTaskSlots=lots", "wordcount", "--input", "x"]),
        "lots",
    );
    assert_clean_failure(&rfy(&["run", "-D", "novalue", "wordcount", "--input", "x"]), "novalue");
    assert_clean_failure(&rfy(&["run", "wordcount", "--inptu", "x"]), "--inptu");
    assert_clean_failure(&rfy(&["run", "wordcount", "--input", "x", "--rate", "-5"]), "-5");
}

#[test]
fn bad_config_file_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.yaml"), "taskmanager:\n  numberOfTaskSlots: [1, 2]\n").unwrap();
    let o = rfy(&["--conf-dir", dir.path().to_str().unwrap(), "run", "wordcount", "--input", "x"]);
    assert_clean_failure(&o, "config.yaml");
    let o = rfy(&["--conf-dir", "/no/conf/dir", "run", "wordcount", "--input", "x"]);
    assert_clean_failure(&o, "/no/conf/dir");
}
